/* The engine's control side: PF_KEY requests, the notification queue (ACQUIRE,
 * EXPIRE), the IKE packet queue, lifetimes on a timer, held packets. */
#include "esp/esp_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "esp/engine_priv.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/wipe.h"

/* --- queues ---------------------------------------------------------------------- */

static void fd_signal(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader will wake up anyway. */
	}
}

static void fd_reset(int fd)
{
	uint64_t v;
	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing was pending. */
	}
}

static int evq_init(struct evq *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return q->fd < 0 ? -1 : 0;
}

static void evq_destroy(struct evq *q)
{
	if (q->fd >= 0)
		close(q->fd);
	pthread_mutex_destroy(&q->lock);
}

int evq_push(struct evq *q, const struct esp_event *ev)
{
	pthread_mutex_lock(&q->lock);
	if (q->len == EVQ_SIZE) {
		pthread_mutex_unlock(&q->lock);
		return -1;
	}
	q->ev[(q->head + q->len) % EVQ_SIZE] = *ev;
	q->len++;
	pthread_mutex_unlock(&q->lock);
	fd_signal(q->fd);
	return 0;
}

static bool evq_pop(struct evq *q, struct esp_event *ev)
{
	pthread_mutex_lock(&q->lock);
	bool some = q->len > 0;
	if (some) {
		*ev = q->ev[q->head];
		q->head = (q->head + 1) % EVQ_SIZE;
		q->len--;
	}
	pthread_mutex_unlock(&q->lock);
	return some;
}

static int ikeq_init(struct ikeq *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	q->tail = &q->head;
	q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return q->fd < 0 ? -1 : 0;
}

static void ikeq_destroy(struct ikeq *q)
{
	while (q->head) {
		struct ike_pkt *p = q->head;
		q->head = p->next;
		free(p);
	}
	if (q->fd >= 0)
		close(q->fd);
	pthread_mutex_destroy(&q->lock);
}

/* IKE packets are control traffic, not the data path: one allocation each, with
 * the queue bounded so a flood cannot exhaust memory. */
int ikeq_push(struct ikeq *q, const struct addr *local, const struct addr *remote,
	      const uint8_t *data, size_t len)
{
	struct ike_pkt *p = malloc(sizeof(*p) + len);
	if (!p)
		return -1;
	p->next = NULL;
	p->local = *local;
	p->remote = *remote;
	p->len = len;
	memcpy(p->data, data, len);
	pthread_mutex_lock(&q->lock);
	if (q->len >= IKEQ_MAX) {
		pthread_mutex_unlock(&q->lock);
		free(p);
		return -1;
	}
	*q->tail = p;
	q->tail = &p->next;
	q->len++;
	pthread_mutex_unlock(&q->lock);
	fd_signal(q->fd);
	return 0;
}

ssize_t esp_engine_ike_recv(struct esp_engine *e, uint8_t *buf, size_t cap,
			    struct addr *local, struct addr *remote)
{
	struct ikeq *q = &e->ikeq;
	pthread_mutex_lock(&q->lock);
	struct ike_pkt *p = q->head;
	if (p) {
		q->head = p->next;
		if (!q->head)
			q->tail = &q->head;
		q->len--;
	}
	bool empty = q->head == NULL;
	pthread_mutex_unlock(&q->lock);
	if (empty)
		fd_reset(q->fd);
	if (!p)
		return 0;
	ssize_t ret = -1;
	if (p->len <= cap) {
		memcpy(buf, p->data, p->len);
		*local = p->local;
		*remote = p->remote;
		ret = (ssize_t)p->len;
	}
	free(p);
	return ret;
}

/* --- expiry ------------------------------------------------------------------------- */

void engine_report_expiry(struct esp_engine *e, struct sa *sa, int level)
{
	struct esp_event ev = { .spi = sa->cfg.spi, .dst = sa->cfg.dst, .gen = sa->gen };
	atomic_uchar *state = level == 2 ? &sa->hard_state : &sa->soft_state;
	if (level == 2)
		atomic_store(&sa->dead, true);
	else if (atomic_load(&sa->hard_state) != SA_EXP_NONE)
		return;		/* a hard expiry says it all */
	unsigned char expect = SA_EXP_NONE;
	if (!atomic_compare_exchange_strong(state, &expect, SA_EXP_QUEUED))
		return;		/* reported before */
	ev.type = level == 2 ? EV_EXPIRE_HARD : EV_EXPIRE_SOFT;
	if (evq_push(&e->evq, &ev) < 0)
		atomic_store(state, SA_EXP_NONE);	/* the next packet or tick retries */
}

void engine_report_mapping(struct esp_engine *e, struct sa *sa, const struct addr *from)
{
	uint32_t now = (uint32_t)engine_now(e);
	now = now ? now : 1;
	uint32_t last = atomic_load_explicit(&sa->mapping_ms, memory_order_relaxed);
	if (last && (uint32_t)(now - last) < ESP_ENGINE_MAPPING_INTERVAL_MS)
		return;		/* (unsigned: right across the 49-day wrap) */
	if (!atomic_compare_exchange_strong(&sa->mapping_ms, &last, now))
		return;		/* another thread reported it just now */
	struct esp_event ev = { .type = EV_NEW_MAPPING, .spi = sa->cfg.spi, .dst = sa->cfg.dst,
				.gen = sa->gen, .from = *from };
	if (evq_push(&e->evq, &ev) < 0)
		atomic_store(&sa->mapping_ms, last);	/* the next packet retries */
}

/* --- PF_KEY replies ------------------------------------------------------------------- */

static void send_msg(const struct pfkey_endpoint *to, struct buf *b, const struct sadb_msg *req)
{
	if (!b->oom && b->len >= sizeof(struct sadb_msg) && req) {
		struct sadb_msg *h = (struct sadb_msg *)b->data;
		h->sadb_msg_pid = req->sadb_msg_pid;
	}
	pfkey_send(to, b);
	buf_reset(b);
}

static void reply_sa(struct esp_engine *e, const struct pfkey_endpoint *to,
		     const struct sadb_msg *req, uint8_t type, uint32_t seq, const struct sa *sa)
{
	struct pfkey_sa d;
	sa_describe(sa, engine_now(e), &d);
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, type, seq, &d);
	send_msg(to, &b, req);
	buf_free(&b);
}

static void reply_policy(const struct pfkey_endpoint *to, const struct sadb_msg *req,
			 uint8_t type, uint32_t seq, const struct pfkey_policy *p)
{
	struct buf b;
	buf_init(&b);
	pfkey_build_policy(&b, type, seq, p);
	send_msg(to, &b, req);
	buf_free(&b);
}

static void reply_ok(const struct pfkey_endpoint *to, const struct sadb_msg *req)
{
	struct buf b;
	buf_init(&b);
	pfkey_build_reply(&b, req, 0);
	send_msg(to, &b, req);
	buf_free(&b);
}

static const char *sa_str(const struct pfkey_sa *p, char *out, size_t len)
{
	char s[ADDR_STRLEN], d[ADDR_STRLEN];
	snprintf(out, len, "SPI %08x reqid %u %s -> %s", p->spi, p->reqid,
		 addr_ntop(&p->src, s, sizeof(s)), addr_ntop(&p->dst, d, sizeof(d)));
	return out;
}

/* --- SA messages ------------------------------------------------------------------- */

static uint32_t pick_spi(const struct sad *d, uint32_t min, uint32_t max)
{
	if (min < 0x100 && max >= 0x100)
		min = 0x100;	/* 1..255 are reserved by IANA, 0 means none */
	if (min == max)
		return min && !sad_spi_used(d, min) ? min : 0;
	uint64_t span = (uint64_t)max - min + 1;
	for (int tries = 0; tries < 64; tries++) {
		uint32_t r = span > UINT32_MAX ? randombytes_random()
					       : min + randombytes_uniform((uint32_t)span);
		if (r >= 0x100 && !sad_spi_used(d, r))
			return r;
	}
	return 0;
}

static int h_getspi(struct esp_engine *e, const struct pfkey_msg *m,
		    const struct pfkey_endpoint *to)
{
	struct pfkey_getspi g;
	char err[128];
	if (pfkey_msg_getspi(m, &g, err, sizeof(err)) < 0) {
		log_err(LOG_ESP, "PF_KEY GETSPI refused: %s", err);
		return EINVAL;
	}
	if (g.satype != SADB_SATYPE_ESP)
		return EPROTONOSUPPORT;
	uint32_t spi = pick_spi(&e->sad, g.min, g.max);
	if (!spi)
		return EAGAIN;
	struct pfkey_sa p = {
		.spi = spi, .satype = g.satype, .mode = g.mode, .reqid = g.reqid,
		.src = g.src, .dst = g.dst,
	};
	struct sa *sa = sa_new(&p, true, engine_now(e), err, sizeof(err));
	if (!sa)
		return ENOMEM;
	sa->getspi_seq = g.seq;
	pthread_rwlock_wrlock(&e->db_lock);
	sad_insert(&e->sad, sa);
	pthread_rwlock_unlock(&e->db_lock);
	reply_sa(e, to, m->hdr, SADB_GETSPI, g.seq, sa);
	return 0;
}

/* Sends what trap policies of this reqid held while IKE negotiated. */
static void release_held(struct esp_engine *e, uint32_t reqid)
{
	size_t slot = e->cfg.mtu;
	/* A gateway with thousands of policies and no trap would walk them all for every
	 * SA installed. */
	pthread_mutex_lock(&e->hold_lock);
	bool any = e->held_any;
	pthread_mutex_unlock(&e->hold_lock);
	if (!any)
		return;
	for (struct sp *sp = e->spd.list[IPSEC_DIR_OUTBOUND]; sp; sp = sp->next) {
		if (sp->p.reqid != reqid)
			continue;
		unsigned n = 0;
		uint16_t lens[SP_HOLD_MAX];
		/* Data-plane threads hold packets under this lock: held is theirs too. */
		pthread_mutex_lock(&e->hold_lock);
		for (unsigned i = 0; sp->held && i < sp->held->n && i < ESP_BATCH; i++, n++) {
			memcpy(e->ctl.bufs + i * e->ctl.slot + ESP_HEADROOM, sp->held->pkt + i * slot,
			       sp->held->len[i]);
			lens[i] = sp->held->len[i];
		}
		if (n) {
			sp->held->n = 0;
			sp->acquire_ms = 0;
		}
		pthread_mutex_unlock(&e->hold_lock);
		for (unsigned i = 0; i < n; i++)
			path_output(&e->ctl, e->ctl.bufs + i * e->ctl.slot + ESP_HEADROOM, lens[i]);
	}
}

/* Marks the whole window as received: only numbers above top get through. */
static void window_full(struct replay_window *w, uint64_t top)
{
	w->top = top;
	if (w->ring)
		memset(w->ring, 0xff, w->words * sizeof(*w->ring));
}

/* UPDATE of a live SA: same keys, new settings (endpoints after a NAT change). To
 * the peer and to IKE it is the same SA, so all its state goes on: the sequence
 * number (AEAD nonces are built from it: restarting would reuse them), the replay
 * window (a window of another size keeps its top and drops what is below), the
 * counters, the expiry progress (or a second soft EXPIRE starts a second rekey) and
 * the install order (an UPDATE of the old SA after a rekey must not make it win
 * outbound). Called under the write lock after the swap: no data-plane thread is
 * inside either SA, and none sees the new one before it has everything. */
static void carry_over(struct sa *sa, struct sa *old)
{
	sa->gen = old->gen;
	sa->ctr = old->ctr;
	sa->add_ms = old->add_ms;
	atomic_store(&sa->use_ms, atomic_load(&old->use_ms));
	atomic_store(&sa->dead, atomic_load(&old->dead));
	atomic_store(&sa->soft_state, atomic_load(&old->soft_state));
	atomic_store(&sa->hard_state, atomic_load(&old->hard_state));
	sa->out.seq = old->out.seq;
	if (old->in.rw.size == sa->in.rw.size && old->in.rw.esn == sa->in.rw.esn) {
		/* A swap: old, freed next, takes the new SA's ring with it. */
		struct replay_window w = sa->in.rw;
		sa->in.rw = old->in.rw;
		old->in.rw = w;
	} else
		window_full(&sa->in.rw, old->in.rw.top);
	sa->in.last_seq = old->in.last_seq;
}

/* An UPDATE whose destination moved (the peer's NAT mapping changed its
 * address): the one live SA with the same SPI, reqid and source. It must be updated
 * in place, keeping its sequence number; an ADD would restart it under the same key.
 * Two candidates (another peer chose the same SPI) are ambiguous: none is taken. */
static struct sa *moved_sa(const struct sad *d, const struct pfkey_sa *p)
{
	struct sa *found = NULL;
	for (struct sa *sa = d->all; sa; sa = sa->all_next) {
		if (sa->cfg.spi != p->spi || sa->larval || sa->cfg.reqid != p->reqid ||
		    !addr_equal_ip(&sa->cfg.src, &p->src))
			continue;
		if (found)
			return NULL;
		found = sa;
	}
	return found;
}

static int h_add_update(struct esp_engine *e, const struct pfkey_msg *m,
			const struct pfkey_endpoint *to)
{
	uint8_t type = m->hdr->sadb_msg_type;
	struct pfkey_sa p;
	char err[160], desc[160];
	if (pfkey_msg_sa(m, &p, err, sizeof(err)) < 0) {
		log_err(LOG_ESP, "PF_KEY %s refused: %s", pfkey_type_name(type), err);
		return EINVAL;
	}
	int ret = 0;
	struct sa *old = sad_find(&e->sad, p.spi, &p.dst);
	if (!old && type == SADB_UPDATE)
		old = moved_sa(&e->sad, &p);	/* new destination */
	if (p.satype != SADB_SATYPE_ESP) {
		ret = EPROTONOSUPPORT;
	} else if (type == SADB_ADD && old) {
		ret = EEXIST;
	} else if (type == SADB_UPDATE && !old) {
		ret = ESRCH;
	}
	if (ret) {
		wipe(&p, sizeof(p));
		return ret;
	}
	/* The transform is built outside the lock; the swap inside is short. */
	struct sa *sa = sa_new(&p, false, engine_now(e), err, sizeof(err));
	sa_str(&p, desc, sizeof(desc));
	wipe(&p, sizeof(p));
	if (!sa) {
		log_err(LOG_ESP, "cannot install %s: %s", desc, err);
		return EINVAL;
	}
	pthread_rwlock_wrlock(&e->db_lock);
	if (old)
		sad_remove(&e->sad, old);
	sad_insert(&e->sad, sa);
	/* An UPDATE of a larval SA just fills it in. */
	if (old && !old->larval)
		carry_over(sa, old);
	pthread_rwlock_unlock(&e->db_lock);
	sa_free(old);
	log_ctl(LOG_ESP, "installed %s (%s, %s)", desc,
		pfkey_ealg_name(sa->cfg.ealg), sa->cfg.mode == IPSEC_MODE_TUNNEL ? "tunnel"
										 : "transport");
	reply_sa(e, to, m->hdr, type, m->hdr->sadb_msg_seq, sa);
	release_held(e, sa->cfg.reqid);
	return 0;
}

static struct sa *find_sa_of(struct esp_engine *e, const struct pfkey_msg *m, int *ret)
{
	struct pfkey_sa p;
	char err[128];
	if (pfkey_msg_sa(m, &p, err, sizeof(err)) < 0) {
		log_err(LOG_ESP, "PF_KEY %s refused: %s", pfkey_type_name(m->hdr->sadb_msg_type),
			err);
		*ret = EINVAL;
		return NULL;
	}
	struct sa *sa = sad_find(&e->sad, p.spi, &p.dst);
	wipe(&p, sizeof(p));
	*ret = sa ? 0 : ESRCH;
	return sa;
}

static int h_delete(struct esp_engine *e, const struct pfkey_msg *m,
		    const struct pfkey_endpoint *to)
{
	int ret;
	struct sa *sa = find_sa_of(e, m, &ret);
	if (!sa)
		return ret;
	pthread_rwlock_wrlock(&e->db_lock);
	sad_remove(&e->sad, sa);
	pthread_rwlock_unlock(&e->db_lock);
	reply_sa(e, to, m->hdr, SADB_DELETE, m->hdr->sadb_msg_seq, sa);
	sa_free(sa);
	return 0;
}

static int h_get(struct esp_engine *e, const struct pfkey_msg *m,
		 const struct pfkey_endpoint *to)
{
	int ret;
	struct sa *sa = find_sa_of(e, m, &ret);
	if (sa)
		reply_sa(e, to, m->hdr, SADB_GET, m->hdr->sadb_msg_seq, sa);
	return ret;
}

static bool satype_ok(uint8_t satype)
{
	return satype == SADB_SATYPE_UNSPEC || satype == SADB_SATYPE_ESP;
}

static int h_flush(struct esp_engine *e, const struct pfkey_msg *m,
		   const struct pfkey_endpoint *to)
{
	if (!satype_ok(m->hdr->sadb_msg_satype))
		return EINVAL;
	pthread_rwlock_wrlock(&e->db_lock);
	struct sa *all = e->sad.all;
	while (e->sad.all)
		sad_remove(&e->sad, e->sad.all);
	pthread_rwlock_unlock(&e->db_lock);
	while (all) {
		struct sa *next = all->all_next;
		sa_free(all);
		all = next;
	}
	reply_ok(to, m->hdr);
	return 0;
}

static int h_dump(struct esp_engine *e, const struct pfkey_msg *m,
		  const struct pfkey_endpoint *to)
{
	if (!satype_ok(m->hdr->sadb_msg_satype))
		return EINVAL;
	if (!e->sad.count)
		return ENOENT;
	/* As Linux: one message per SA, the last one with seq 0. */
	uint32_t seq = e->sad.count;
	for (struct sa *sa = e->sad.all; sa; sa = sa->all_next)
		reply_sa(e, to, m->hdr, SADB_DUMP, --seq, sa);
	return 0;
}

/* --- SPD messages ------------------------------------------------------------------- */

static bool wants_route(const struct pfkey_policy *p)
{
	return p->dir == IPSEC_DIR_OUTBOUND && p->type == IPSEC_POLICY_IPSEC;
}

static void policy_unlink(struct esp_engine *e, struct sp *sp)
{
	pthread_rwlock_wrlock(&e->db_lock);
	spd_remove(&e->spd, sp);
	pthread_rwlock_unlock(&e->db_lock);
	if (sp->port_rule)
		io_port_rule_del(e, &sp->p);
	else if (sp->route)
		io_route_del(e, &sp->p.dst);
	sp_free(sp);
}

/* A reference on a policy's route or port rule, held while SPDUPDATE replaces the
 * policy by one with the same selectors: the route (and the rule to its table) stays
 * in place throughout, where dropping the last reference would leave packets to its
 * destination to the main table, in the clear, until the new policy's route is in. */
struct route_hold {
	struct pfkey_policy p;
	bool route, port_rule;
};

static void route_hold(struct esp_engine *e, const struct sp *sp, struct route_hold *h)
{
	h->p = sp->p;
	h->port_rule = sp->port_rule && io_port_rule_add(e, &sp->p) == 0;
	h->route = sp->route;
	if (h->route)
		io_route_add(e, &sp->p.dst);
}

static void route_release(struct esp_engine *e, const struct route_hold *h)
{
	if (h->port_rule)
		io_port_rule_del(e, &h->p);
	else if (h->route)
		io_route_del(e, &h->p.dst);
}

static struct sp *policy_link(struct esp_engine *e, struct pfkey_policy *p, int *ret)
{
	pthread_rwlock_wrlock(&e->db_lock);
	struct sp *sp = spd_add(&e->spd, p, ret);
	pthread_rwlock_unlock(&e->db_lock);
	if (!sp || !wants_route(p) || e->cfg.no_io)
		return sp;
	if (io_port_rule_add(e, p) == 0) {
		sp->port_rule = true;
	} else {
		io_route_add(e, &p->dst);
		sp->route = true;
	}
	return sp;
}

static int h_spdadd(struct esp_engine *e, const struct pfkey_msg *m,
		    const struct pfkey_endpoint *to)
{
	uint8_t type = m->hdr->sadb_msg_type;
	struct pfkey_policy p;
	char err[128];
	if (pfkey_msg_policy(m, &p, err, sizeof(err)) < 0) {
		log_err(LOG_ESP, "PF_KEY %s refused: %s", pfkey_type_name(type), err);
		return EINVAL;
	}
	if (!p.has_sel || p.dir == IPSEC_DIR_ANY)
		return EINVAL;
	struct route_hold hold = { 0 };
	if (type == SADB_X_SPDUPDATE) {
		struct sp *old = spd_find_exact(&e->spd, p.dir, &p.src, &p.dst);
		if (old) {
			if (!p.id)
				p.id = old->p.id;
			route_hold(e, old, &hold);
			policy_unlink(e, old);
		}
	}
	int ret = 0;
	struct sp *sp = policy_link(e, &p, &ret);
	route_release(e, &hold);
	if (!sp)
		return ret;
	reply_policy(to, m->hdr, type, m->hdr->sadb_msg_seq, &sp->p);
	return 0;
}

static struct sp *find_policy_of(struct esp_engine *e, const struct pfkey_msg *m, int *ret)
{
	uint8_t type = m->hdr->sadb_msg_type;
	struct pfkey_policy p;
	char err[128];
	if (pfkey_msg_policy(m, &p, err, sizeof(err)) < 0) {
		log_err(LOG_ESP, "PF_KEY %s refused: %s", pfkey_type_name(type), err);
		*ret = EINVAL;
		return NULL;
	}
	struct sp *sp;
	if (type == SADB_X_SPDDELETE2 || type == SADB_X_SPDGET || !p.has_sel)
		sp = spd_find_id(&e->spd, p.id);
	else
		sp = spd_find_exact(&e->spd, p.dir, &p.src, &p.dst);
	*ret = sp ? 0 : ENOENT;
	return sp;
}

static int h_spddelete(struct esp_engine *e, const struct pfkey_msg *m,
		       const struct pfkey_endpoint *to)
{
	int ret;
	struct sp *sp = find_policy_of(e, m, &ret);
	if (!sp)
		return ret;
	reply_policy(to, m->hdr, m->hdr->sadb_msg_type, m->hdr->sadb_msg_seq, &sp->p);
	policy_unlink(e, sp);
	return 0;
}

static int h_spdget(struct esp_engine *e, const struct pfkey_msg *m,
		    const struct pfkey_endpoint *to)
{
	int ret;
	struct sp *sp = find_policy_of(e, m, &ret);
	if (sp)
		reply_policy(to, m->hdr, SADB_X_SPDGET, m->hdr->sadb_msg_seq, &sp->p);
	return ret;
}

static int h_spddump(struct esp_engine *e, const struct pfkey_msg *m,
		     const struct pfkey_endpoint *to)
{
	if (!e->spd.count)
		return ENOENT;
	uint32_t seq = e->spd.count;
	for (int d = 1; d < IPSEC_DIR_MAX; d++)
		for (struct sp *sp = e->spd.list[d]; sp; sp = sp->next)
			reply_policy(to, m->hdr, SADB_X_SPDDUMP, --seq, &sp->p);
	return 0;
}

static int h_spdflush(struct esp_engine *e, const struct pfkey_msg *m,
		      const struct pfkey_endpoint *to)
{
	for (int d = 1; d < IPSEC_DIR_MAX; d++)
		while (e->spd.list[d])
			policy_unlink(e, e->spd.list[d]);
	reply_ok(to, m->hdr);
	return 0;
}

typedef int (*pfkey_handler)(struct esp_engine *, const struct pfkey_msg *,
			     const struct pfkey_endpoint *);

static pfkey_handler handler_for(uint8_t type)
{
	switch (type) {
	case SADB_GETSPI:	return h_getspi;
	case SADB_UPDATE:
	case SADB_ADD:		return h_add_update;
	case SADB_DELETE:	return h_delete;
	case SADB_GET:		return h_get;
	case SADB_FLUSH:	return h_flush;
	case SADB_DUMP:		return h_dump;
	case SADB_X_SPDADD:
	case SADB_X_SPDUPDATE:	return h_spdadd;
	case SADB_X_SPDDELETE:
	case SADB_X_SPDDELETE2:	return h_spddelete;
	case SADB_X_SPDGET:	return h_spdget;
	case SADB_X_SPDDUMP:	return h_spddump;
	case SADB_X_SPDFLUSH:	return h_spdflush;
	}
	return NULL;
}

static void reply_into(void *arg, const uint8_t *msg, size_t len)
{
	buf_put(arg, msg, len);
}

int esp_engine_pfkey_call(struct esp_engine *e, const uint8_t *req, size_t len,
			  struct buf *reply)
{
	struct pfkey_endpoint to = { reply_into, reply };
	struct pfkey_msg m;
	char err[128];
	esp_engine_pfkey_input(e, req, len, &to);
	if (reply->len == 0)
		return 0;
	if (pfkey_decode(reply->data, pfkey_first_len(reply->data, reply->len), &m, err,
			 sizeof(err)) < 0)
		return EINVAL;
	return m.hdr->sadb_msg_errno;
}

void esp_engine_pfkey_input(struct esp_engine *e, const uint8_t *msg, size_t len,
			    const struct pfkey_endpoint *reply_to)
{
	struct pfkey_msg m;
	char err[128];
	int ret;
	struct sadb_msg hdr;
	if (pfkey_decode(msg, len, &m, err, sizeof(err)) < 0) {
		log_err(LOG_ESP, "malformed PF_KEY message: %s", err);
		if (len < sizeof(hdr))
			return;
		memcpy(&hdr, msg, sizeof(hdr));
		ret = EINVAL;
	} else {
		memcpy(&hdr, m.hdr, sizeof(hdr));
		pfkey_handler h = handler_for(hdr.sadb_msg_type);
		ret = h ? h(e, &m, reply_to) : EOPNOTSUPP;
		if (ret)
			log_ctl(LOG_ESP, "PF_KEY %s failed: %s", pfkey_type_name(hdr.sadb_msg_type),
				strerror(ret));
	}
	if (ret) {
		struct buf b;
		buf_init(&b);
		pfkey_build_reply(&b, &hdr, ret);
		pfkey_send(reply_to, &b);
		buf_free(&b);
	}
}

/* --- notifications ----------------------------------------------------------------- */

static void tuple_selector(struct selector *sel, uint8_t family, const uint8_t *a, uint8_t proto,
			   uint16_t port, bool has_ports)
{
	struct addr ad = { .family = family };
	memcpy(ad.u.b, a, family == AF_INET ? 4 : 16);
	selector_from_addr(sel, &ad);
	sel->proto = proto;
	if (has_ports)
		sel->port_lo = sel->port_hi = port;
}

static void send_acquire(struct esp_engine *e, const struct esp_event *ev,
			 const struct pfkey_endpoint *to)
{
	struct sp *sp = spd_find_id(&e->spd, ev->policy_id);
	if (!sp)
		return;
	const struct pkt_tuple *t = &ev->pkt;
	struct addr src = { .family = t->family }, dst = { .family = t->family };
	memcpy(src.u.b, t->src, 16);
	memcpy(dst.u.b, t->dst, 16);
	if (sp->p.mode == IPSEC_MODE_TUNNEL && sp->p.tunnel_dst.family) {
		src = sp->p.tunnel_src;
		dst = sp->p.tunnel_dst;
	}
	bool ports = t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP ||
		     t->proto == IPPROTO_SCTP;
	struct selector ps, pd;
	tuple_selector(&ps, t->family, t->src, t->proto, t->sport, ports);
	tuple_selector(&pd, t->family, t->dst, t->proto, t->dport, ports);
	struct buf b;
	buf_init(&b);
	pfkey_build_acquire(&b, ++e->acquire_seq, &sp->p, &src, &dst, &ps, &pd);
	pfkey_send(to, &b);
	buf_free(&b);
}

static void send_expire(struct esp_engine *e, const struct esp_event *ev,
			const struct pfkey_endpoint *to)
{
	struct sa *sa = sad_find(&e->sad, ev->spi, &ev->dst);
	if (!sa || sa->gen != ev->gen)
		return;		/* deleted meanwhile */
	bool hard = ev->type == EV_EXPIRE_HARD;
	struct pfkey_sa d;
	sa_describe(sa, engine_now(e), &d);
	atomic_store(hard ? &sa->hard_state : &sa->soft_state, SA_EXP_SENT);
	if (hard) {
		pthread_rwlock_wrlock(&e->db_lock);
		sad_remove(&e->sad, sa);
		pthread_rwlock_unlock(&e->db_lock);
		sa_free(sa);
	}
	/* Sent last, the SA not touched after it: an in-process IKE may answer at once
	 * (a DELETE or UPDATE of this SA) before pfkey_send returns. */
	struct buf b;
	buf_init(&b);
	pfkey_build_expire(&b, &d, hard);
	char desc[160];
	log_ctl(LOG_ESP, "%s expiry of %s", hard ? "hard" : "soft", sa_str(&d, desc, sizeof(desc)));
	pfkey_send(to, &b);
	buf_free(&b);
}

/* NEW_MAPPING as Linux's XFRM sends it (km_new_mapping): the old peer and port, the
 * new ones. */
static void send_new_mapping(struct esp_engine *e, const struct esp_event *ev,
			     const struct pfkey_endpoint *to)
{
	struct sa *sa = sad_find(&e->sad, ev->spi, &ev->dst);
	if (!sa || sa->gen != ev->gen || !engine_mapping_moved(sa, &ev->from))
		return;		/* deleted, or IKE followed the peer meanwhile */
	struct pfkey_mapping mp = { .spi = sa->cfg.spi, .reqid = sa->cfg.reqid,
				    .old_peer = sa->cfg.src, .new_peer = ev->from };
	mp.old_peer.port = sa->cfg.natt_sport;
	char o[ADDR_STRLEN], n[ADDR_STRLEN];
	log_ctl(LOG_ESP, "SA %08x: authenticated packet from %s, not %s: NAT mapping changed",
		mp.spi, addr_fmt(&ev->from, n, sizeof(n)), addr_fmt(&mp.old_peer, o, sizeof(o)));
	STAT_INC(e, new_mappings);
	/* IKE answers at once with an UPDATE, which replaces sa: not used after this. */
	struct buf b;
	buf_init(&b);
	pfkey_build_new_mapping(&b, &mp);
	pfkey_send(to, &b);
	buf_free(&b);
}

int esp_engine_notify_fd(const struct esp_engine *e)
{
	return e->evq.fd;
}

void esp_engine_drain(struct esp_engine *e, const struct pfkey_endpoint *to)
{
	fd_reset(e->evq.fd);	/* before popping: a push after this signals again */
	struct esp_event ev;
	while (evq_pop(&e->evq, &ev)) {
		if (ev.type == EV_ACQUIRE)
			send_acquire(e, &ev, to);
		else if (ev.type == EV_NEW_MAPPING)
			send_new_mapping(e, &ev, to);
		else
			send_expire(e, &ev, to);
	}
}

/* --- timer ------------------------------------------------------------------------------ */

static void expire_held(struct esp_engine *e, ms_t now)
{
	size_t slot = e->cfg.mtu;
	pthread_mutex_lock(&e->hold_lock);
	for (struct sp *sp = e->held_any ? e->spd.list[IPSEC_DIR_OUTBOUND] : NULL; sp;
	     sp = sp->next) {
		unsigned keep = 0;
		if (!sp->held)
			continue;
		for (unsigned i = 0; i < sp->held->n; i++) {
			if (now - sp->held->ms[i] >= e->cfg.hold_ms) {
				atomic_fetch_add(&e->st.hold_dropped, 1);
				continue;
			}
			if (keep != i) {
				memmove(sp->held->pkt + keep * slot, sp->held->pkt + i * slot,
					sp->held->len[i]);
				sp->held->len[keep] = sp->held->len[i];
				sp->held->ms[keep] = sp->held->ms[i];
			}
			keep++;
		}
		sp->held->n = keep;
	}
	pthread_mutex_unlock(&e->hold_lock);
}

static bool larval_stale(const struct esp_engine *e, const struct sa *sa, ms_t now)
{
	return sa->larval && now - sa->add_ms >= e->cfg.larval_ms;
}

/* Takes the unused SPIs out of the tables under the write lock. Returns them as a
 * list through spi_next: only once an SA is out of its hash chain may that link be
 * reused (data-plane threads walk the chains under the read lock). */
static struct sa *remove_stale(struct esp_engine *e, ms_t now)
{
	struct sa *stale = NULL, *next;
	pthread_rwlock_wrlock(&e->db_lock);
	for (struct sa *sa = e->sad.all; sa; sa = next) {
		next = sa->all_next;
		if (!larval_stale(e, sa, now))
			continue;
		sad_remove(&e->sad, sa);
		sa->spi_next = stale;
		stale = sa;
	}
	pthread_rwlock_unlock(&e->db_lock);
	return stale;
}

/* Runs on the control thread, the only one that changes the SAD: walking it here
 * needs no lock. */
void esp_engine_tick(struct esp_engine *e, ms_t now)
{
	atomic_store(&e->now_ms, now);
	bool any_stale = false;
	for (struct sa *sa = e->sad.all; sa; sa = sa->all_next) {
		if (sa->larval) {
			any_stale |= larval_stale(e, sa, now);
			continue;
		}
		int level = atomic_load(&sa->dead) ? 2 : sa_check_time(sa, now);
		if (level)
			engine_report_expiry(e, sa, level);
	}
	struct sa *stale = any_stale ? remove_stale(e, now) : NULL;
	while (stale) {
		struct sa *next = stale->spi_next;
		log_ctl(LOG_ESP, "SPI %08x allocated but never installed, freed", stale->cfg.spi);
		sa_free(stale);
		stale = next;
	}
	expire_held(e, now);
}

/* --- the rest of the API ----------------------------------------------------------------- */

int esp_engine_ike_fd(const struct esp_engine *e)
{
	return e->ikeq.fd;
}

int esp_engine_natt_fd(const struct esp_engine *e)
{
	return e->udp_fd;
}

uint32_t esp_engine_fwmark(const struct esp_engine *e)
{
	return io_fwmark(e);
}

int esp_engine_vip(struct esp_engine *e, const struct addr *a, bool add)
{
	char s[ADDR_STRLEN];
	if (e->cfg.no_io)
		return 0;
	int err = add ? tun_addr_add(&e->tun, a) : tun_addr_del(&e->tun, a);
	if (err < 0)
		log_err(LOG_ESP, "cannot %s virtual IP %s %s %s: %s", add ? "add" : "remove",
			addr_ntop(a, s, sizeof(s)), add ? "to" : "from", e->tun.name,
			strerror(-err));
	else
		log_ctl(LOG_ESP, "virtual IP %s %s %s", addr_ntop(a, s, sizeof(s)),
			add ? "added to" : "removed from", e->tun.name);
	return err;
}

const char *esp_engine_tun_name(const struct esp_engine *e)
{
	return e->tun.name;
}

int esp_engine_sa_stats(struct esp_engine *e, uint32_t spi, const struct addr *dst,
			struct esp_sa_stats *out)
{
	const struct sa *sa = sad_find(&e->sad, spi, dst);
	if (!sa)
		return -1;
	out->packets = atomic_load(&sa->ctr.packets);
	out->bytes = atomic_load(&sa->ctr.bytes);
	out->replay = atomic_load(&sa->ctr.replay);
	out->integrity = atomic_load(&sa->ctr.integrity);
	out->padding = atomic_load(&sa->ctr.padding);
	out->selector = atomic_load(&sa->ctr.selector);
	out->other = atomic_load(&sa->ctr.other);
	return 0;
}

void esp_engine_stats(struct esp_engine *e, struct esp_engine_stats *o)
{
	o->no_policy = atomic_load(&e->st.no_policy);
	o->discarded = atomic_load(&e->st.discarded);
	o->held = atomic_load(&e->st.held);
	o->hold_dropped = atomic_load(&e->st.hold_dropped);
	o->acquires = atomic_load(&e->st.acquires);
	o->no_sa = atomic_load(&e->st.no_sa);
	o->bad_packet = atomic_load(&e->st.bad_packet);
	o->ike_in = atomic_load(&e->st.ike_in);
	o->keepalives = atomic_load(&e->st.keepalives);
	o->send_errors = atomic_load(&e->st.send_errors);
	o->tun_errors = atomic_load(&e->st.tun_errors);
	o->mss_clamped = atomic_load(&e->st.mss_clamped);
	o->pmtu_sent = atomic_load(&e->st.pmtu_sent);
	o->pmtu_suppressed = atomic_load(&e->st.pmtu_suppressed);
	o->prefrag_ok = atomic_load(&e->st.prefrag_ok);
	o->prefrag_failed = atomic_load(&e->st.prefrag_failed);
	o->fragments = atomic_load(&e->st.fragments);
	o->gso_fallbacks = atomic_load(&e->st.gso_fallbacks);
	o->bad_super = atomic_load(&e->st.bad_super);
	o->new_mappings = atomic_load(&e->st.new_mappings);
}

void esp_engine_reset_stats(struct esp_engine *e)
{
	atomic_uint_fast64_t *all[] = {
		&e->st.no_policy, &e->st.discarded, &e->st.held, &e->st.hold_dropped,
		&e->st.acquires, &e->st.no_sa, &e->st.bad_packet, &e->st.ike_in,
		&e->st.keepalives, &e->st.send_errors, &e->st.tun_errors, &e->st.mss_clamped,
		&e->st.pmtu_sent, &e->st.pmtu_suppressed, &e->st.prefrag_ok,
		&e->st.prefrag_failed, &e->st.fragments, &e->st.gso_fallbacks,
		&e->st.bad_super, &e->st.new_mappings,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		atomic_store(all[i], 0);
}

enum esp_verdict esp_engine_output_packet(struct esp_engine *e, const uint8_t *pkt, size_t len)
{
	if (len > e->ctl.slot - ESP_HEADROOM - ESP_TAILROOM)
		return ESP_V_DROPPED;
	uint8_t *p = e->ctl.bufs + ESP_HEADROOM;
	memcpy(p, pkt, len);
	return path_output(&e->ctl, p, len);
}

enum esp_verdict esp_engine_input_packet(struct esp_engine *e, const struct addr *src,
					 const struct addr *dst, bool udp_encap,
					 const uint8_t *pkt, size_t len)
{
	if (len > e->ctl.slot - ESP_HEADROOM - ESP_TAILROOM)
		return ESP_V_DROPPED;
	uint8_t *p = e->ctl.bufs + ESP_HEADROOM;
	memcpy(p, pkt, len);
	return path_input(&e->ctl, src, dst, udp_encap, p, len);
}

/* --- life cycle ---------------------------------------------------------------------------- */

static void apply_defaults(struct esp_engine_cfg *c)
{
	if (!c->tun_name)
		c->tun_name = ESP_ENGINE_TUN_NAME;
	if (!c->mtu)
		c->mtu = ESP_ENGINE_MTU;
	if (!c->natt_port)
		c->natt_port = ESP_ENGINE_NATT_PORT;
	if (c->threads < 2)
		c->threads = 2;
	if (!c->route_table)
		c->route_table = ESP_ENGINE_ROUTE_TABLE;
	if (!c->fwmark)
		c->fwmark = ESP_ENGINE_FWMARK;
	if (!c->hold_packets)
		c->hold_packets = 4;
	if (c->hold_packets > SP_HOLD_MAX)
		c->hold_packets = SP_HOLD_MAX;
	if (!c->hold_ms)
		c->hold_ms = 3000;
	if (!c->acquire_retry_ms)
		c->acquire_retry_ms = 10000;
	if (!c->larval_ms)
		c->larval_ms = 180000;
}

struct esp_engine *esp_engine_new(const struct esp_engine_cfg *cfg)
{
	struct esp_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->cfg = *cfg;
	apply_defaults(&e->cfg);
	snprintf(e->tun_name_buf, sizeof(e->tun_name_buf), "%s", e->cfg.tun_name);
	e->cfg.tun_name = e->tun_name_buf;
	e->raw_fd = e->udp_fd = e->stop_fd = -1;
	e->evq.fd = e->ikeq.fd = -1;
	for (int i = 0; i < TUN_MAX_QUEUES; i++)
		e->tun.fd[i] = -1;
	/* Writers (IKE installing SAs) must not starve behind a stream of readers. */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&e->db_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&e->hold_lock, NULL);
	atomic_store(&e->now_ms, clock_now_ms());
	spd_init(&e->spd);
	if (sodium_init() < 0 || sad_init(&e->sad, 1024) < 0 || evq_init(&e->evq) < 0 ||
	    ikeq_init(&e->ikeq) < 0 || ctx_init(&e->ctl, e, false) < 0)
		goto fail;
	if (!e->cfg.no_io && io_start(e) < 0)
		goto fail;
	return e;
fail:
	log_err(LOG_ESP, "ESP engine failed to start");
	esp_engine_free(e);
	return NULL;
}

void esp_engine_free(struct esp_engine *e)
{
	if (!e)
		return;
	if (!e->cfg.no_io)
		io_stop(e);	/* joins the threads first */
	for (int d = 1; d < IPSEC_DIR_MAX; d++)
		while (e->spd.list[d])
			policy_unlink(e, e->spd.list[d]);
	if (!e->cfg.no_io)
		io_close(e);
	if (e->sad.by_spi)
		sad_destroy(&e->sad);
	spd_destroy(&e->spd);
	evq_destroy(&e->evq);
	ikeq_destroy(&e->ikeq);
	ctx_free(&e->ctl);
	pthread_mutex_destroy(&e->hold_lock);
	pthread_rwlock_destroy(&e->db_lock);
	wipe_free(e, sizeof(*e));
}
