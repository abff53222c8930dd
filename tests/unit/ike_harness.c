#include "tests/unit/ike_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/parser.h"
#include "lib/buf.h"
#include "lib/log.h"

#define H_NATT_PORT 4500	/* the cores' NAT-T port (peer_init's timing) */

static struct harness *current;
uint32_t h_cookie_threshold = 30;
uint32_t h_fragment_size;

static void h_send(void *arg, const struct addr *local, const struct addr *remote,
		   const uint8_t *msg, size_t len)
{
	struct h_peer *p = arg;
	p->sent++;
	if (p->drop_out || (p->drop_at && p->sent == p->drop_at))
		return;
	if (p->drop_next > 0) {
		p->drop_next--;
		return;
	}
	if (current->n_wire >= H_MAX_WIRE || len > sizeof(current->wire[0].data))
		return;
	const struct h_peer *o = p->other;
	if (!addr_equal_ip(remote, &o->addr) && !(o->seen.family && addr_equal_ip(remote, &o->seen)))
		return;		/* nobody there */
	uint16_t to_port = remote->port;
	if (o->seen.family && o->seen_natt_port && addr_equal_ip(remote, &o->seen)) {
		if (remote->port == H_NATT_PORT)
			return;		/* a mapping its NAT forgot */
		if (remote->port == o->seen_natt_port)
			to_port = H_NATT_PORT;
	}
	struct h_wire_msg *w = &current->wire[current->n_wire++];
	w->to = p->other;
	w->local = *remote;
	w->remote = *local;
	if (o->seen.family) {	/* its NAT forwards to its own address */
		w->local = o->addr;
		w->local.port = to_port;
	}
	if (p->seen.family) {	/* our NAT changes the source */
		w->remote = p->seen;
		w->remote.port = local->port;
		if (p->seen_natt_port && local->port == H_NATT_PORT)
			w->remote.port = p->seen_natt_port;
	}
	memcpy(w->data, msg, len);
	w->len = len;
}

static const struct pfkey_sa *find(struct h_peer *p, uint32_t spi)
{
	for (size_t i = 0; i < p->n_sas; i++)
		if (p->sas[i].spi == spi)
			return &p->sas[i];
	return NULL;
}

const struct pfkey_sa *h_find_sa(struct h_peer *p, uint32_t spi)
{
	return find(p, spi);
}

static int engine_pfkey(struct h_peer *p, const uint8_t *req, size_t len, struct buf *reply);

static int h_pfkey(void *arg, const uint8_t *req, size_t len, struct buf *reply)
{
	struct h_peer *p = arg;
	struct pfkey_msg m;
	struct pfkey_sa sa;
	char err[256];
	if (pfkey_decode(req, len, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "harness: bad PF_KEY message from core: %s\n", err);
		return EINVAL;
	}
	if (p->engine) {
		int rc = engine_pfkey(p, req, len, reply);
		if (rc || m.hdr->sadb_msg_type == SADB_GETSPI)
			return rc;
		buf_wipe_free(reply);
		buf_init(reply);
	}
	switch (m.hdr->sadb_msg_type) {
	case SADB_GETSPI: {
		struct pfkey_sa r = { 0 };
		r.spi = p->next_spi++;
		r.satype = SADB_SATYPE_ESP;
		r.state = SADB_SASTATE_LARVAL;
		struct pfkey_getspi g;
		pfkey_msg_getspi(&m, &g, err, sizeof(err));
		r.src = g.src;
		r.dst = g.dst;
		pfkey_build_sa(reply, SADB_GETSPI, m.hdr->sadb_msg_seq, &r);
		return 0;
	}
	case SADB_ADD:
	case SADB_UPDATE:
		if (pfkey_msg_sa(&m, &sa, err, sizeof(err)) < 0 || p->n_sas >= H_MAX_SAS)
			return EINVAL;
		for (size_t i = 0; i < p->n_sas; i++) {
			if (p->sas[i].spi == sa.spi) {
				p->sas[i] = sa;
				return 0;
			}
		}
		p->sas[p->n_sas++] = sa;
		return 0;
	case SADB_DELETE:
		if (pfkey_msg_sa(&m, &sa, err, sizeof(err)) < 0)
			return EINVAL;
		for (size_t i = 0; i < p->n_sas; i++)
			if (p->sas[i].spi == sa.spi)
				p->sas[i].spi = 0;
		return 0;
	case SADB_X_SPDADD:
	case SADB_X_SPDUPDATE:
	case SADB_X_SPDDELETE: {
		p->spd_adds += m.hdr->sadb_msg_type == SADB_X_SPDADD;
		p->spd_deletes += m.hdr->sadb_msg_type == SADB_X_SPDDELETE;
		/* As the engine: one policy per direction and selector pair. */
		struct pfkey_policy pol;
		if (pfkey_msg_policy(&m, &pol, err, sizeof(err)) < 0)
			return EINVAL;
		for (int i = 0; i < p->n_policies; i++) {
			if (p->pols[i].dir == pol.dir && selector_equal(&p->pols[i].src, &pol.src) &&
			    selector_equal(&p->pols[i].dst, &pol.dst)) {
				if (m.hdr->sadb_msg_type == SADB_X_SPDADD)
					return EEXIST;
				if (m.hdr->sadb_msg_type == SADB_X_SPDUPDATE) {
					p->pols[i] = pol;
					return 0;
				}
				p->pols[i] = p->pols[--p->n_policies];
				return 0;
			}
		}
		if (m.hdr->sadb_msg_type == SADB_X_SPDDELETE)
			return ENOENT;
		if (p->n_policies < H_MAX_SAS)
			p->pols[p->n_policies++] = pol;
		return 0;
	}
	}
	return 0;
}

static void h_rekeyed(void *arg, const struct ike_sa *oi, const struct ike_sa *ni,
		      const struct child_sa *oc, const struct child_sa *nc)
{
	struct h_peer *p = arg;
	if (oc)
		p->child_rekeys++;
	else
		p->ike_rekeys++;
}

static void h_keepalive(void *arg, const struct addr *local, const struct addr *remote)
{
	struct h_peer *p = arg;
	p->keepalives++;
}

static int h_route(void *arg, const struct addr *remote, struct addr *local)
{
	struct h_peer *p = arg;
	*local = p->addr;
	return 0;
}

static void h_updown(void *arg, const struct ike_sa *sa, const struct child_sa *c, bool up)
{
	struct h_peer *p = arg;
	if (up)
		p->updown_up++;
	else
		p->updown_down++;
}

/* Virtual IPs the peer assigned us: the last one, and how many came and went. */
static void h_vip(void *arg, const struct ike_sa *sa, const struct addr *vip, bool up)
{
	struct h_peer *p = arg;
	(void)sa;
	p->vip = *vip;
	if (up)
		p->vips_up++;
	else
		p->vips_down++;
}

static int peer_init(struct harness *h, struct h_peer *p, const char *name, const char *ip,
		     const char *conf, uint32_t spi_base)
{
	char err[512];
	struct ike_env env = { p, h_send, h_keepalive, h_pfkey, h_route, h_updown, h_rekeyed,
			       h_vip };
	struct ike_timing t = { 4000, 1.8, 3, 20, 500, 4500, 30, h_cookie_threshold,
				 h_fragment_size };
	p->name = name;
	addr_parse(ip, &p->addr);
	p->next_spi = spi_base;
	p->core = ike_new(&env, &t);
	struct ctree *tree = conf_parse_string(conf, name, err, sizeof(err));
	struct config *cfg = tree ? config_build(tree, err, sizeof(err)) : NULL;
	ctree_free(tree);
	if (!cfg) {
		fprintf(stderr, "harness config %s: %s\n", name, err);
		return -1;
	}
	ike_load_config(p->core, cfg, h->now);
	return 0;
}

int h_init(struct harness *h, const char *conf_a, const char *conf_b)
{
	memset(h, 0, sizeof(*h));
	current = h;
	h->now = 1000000;
	h->a.other = &h->b;
	h->b.other = &h->a;
	if (peer_init(h, &h->a, "a.conf", "192.0.2.1", conf_a, 0xa0000001) < 0 ||
	    peer_init(h, &h->b, "b.conf", "198.51.100.2", conf_b, 0xb0000001) < 0)
		return -1;
	return 0;
}

void h_free(struct harness *h)
{
	current = h;
	ike_free(h->a.core, h->now);
	ike_free(h->b.core, h->now);
	if (h->a.engine)
		esp_engine_free(h->a.engine);
	if (h->b.engine)
		esp_engine_free(h->b.engine);
}

/* As the daemon after each input: only the SAs the input touched are ticked. The
 * deadline that gives must never be later than a full pass's (which would miss a
 * retransmission or a timeout), and the full pass after it must find nothing due. */
static void h_check_tick_input(struct ike *core, ms_t now)
{
	ms_t fast = ike_tick_input(core, now);
	ms_t full = ike_tick(core, now);
	if (fast > full) {
		fprintf(stderr, "ike_tick_input: next %llu, a full ike_tick: %llu\n",
			(unsigned long long)fast, (unsigned long long)full);
		abort();
	}
}

void h_pump(struct harness *h)
{
	current = h;
	for (int rounds = 0; rounds < 200 && h->n_wire; rounds++) {
		struct h_wire_msg w = h->wire[0];
		memmove(h->wire, h->wire + 1, (h->n_wire - 1) * sizeof(h->wire[0]));
		h->n_wire--;
		ike_input(w.to->core, &w.local, &w.remote, w.data, w.len, h->now);
		h_check_tick_input(w.to->core, h->now);
	}
}

void h_advance(struct harness *h, ms_t ms)
{
	current = h;
	ms_t end = h->now + ms;
	while (h->now < end) {
		h->now += 500;
		ike_tick(h->a.core, h->now);
		ike_tick(h->b.core, h->now);
		h_pump(h);
	}
}

const struct ike_sa *h_first_sa(struct h_peer *p)
{
	return ike_sa_first(p->core);
}

int h_count_sas(struct h_peer *p, enum ike_state st)
{
	int n = 0;
	for (const struct ike_sa *sa = ike_sa_first(p->core); sa; sa = ike_sa_next(sa))
		n += sa->state == st;
	return n;
}

int h_count_children(struct h_peer *p)
{
	int n = 0;
	for (const struct ike_sa *sa = ike_sa_first(p->core); sa; sa = ike_sa_next(sa))
		for (const struct child_sa *c = sa->children; c; c = c->next)
			n++;
	return n;
}

/* --- a real ESP engine behind a peer -------------------------------------------------- */

/* As the daemon's io_pfkey(): the engine's errno, its GETSPI reply in reply. */
static int engine_pfkey(struct h_peer *p, const uint8_t *req, size_t len, struct buf *reply)
{
	return esp_engine_pfkey_call(p->engine, req, len, reply);
}

int h_use_engine(struct h_peer *p,
		 void (*hook)(void *arg, const struct addr *src, const struct addr *dst,
			      bool udp_encap, const uint8_t *pkt, size_t len),
		 void *hook_arg)
{
	struct esp_engine_cfg cfg = { .no_io = true, .net_send = hook, .hook_arg = hook_arg };
	p->engine = esp_engine_new(&cfg);
	if (!p->engine)
		return -1;
	esp_engine_tick(p->engine, current ? current->now : 1000000);
	return 0;
}

static void to_core(void *arg, const uint8_t *msg, size_t len)
{
	struct h_peer *p = arg;
	ike_pfkey_input(p->core, msg, len, current->now);
}

void h_engine_drain(struct harness *h, struct h_peer *p)
{
	current = h;
	struct pfkey_endpoint to = { to_core, p };
	esp_engine_tick(p->engine, h->now);
	esp_engine_drain(p->engine, &to);
	h_check_tick_input(p->core, h->now);
	h_pump(h);
}

/* --- log capture ------------------------------------------------------------------------ */

static void count_line(void *arg, enum log_subsys s, int level, const char *line)
{
	struct h_log_count *lc = arg;
	lc->lines++;
	if (!lc->want || !strstr(line, lc->want))
		return;
	if (!lc->matches++)
		snprintf(lc->first, sizeof(lc->first), "%s", line);
}

void h_log_capture_start(struct h_log_count *lc, const char *want)
{
	memset(lc, 0, sizeof(*lc));
	lc->want = want;
	log_use_stderr(false);
	log_set_all_levels(1);
	if (log_add_sink(count_line, lc) != 0)
		abort();
}

void h_log_capture_stop(struct h_log_count *lc)
{
	log_remove_sink(count_line, lc);
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	log_use_stderr(true);
}

/* --- IKEv1 ------------------------------------------------------------------------------ */

static void v1_conf(char *out, size_t len, const char *local, const char *remote,
		    const char *lnet, const char *rnet, const char *extra, const char *mode)
{
	char ts[256];
	if (strcmp(mode, "transport") == 0)
		snprintf(ts, sizeof(ts), "        mode = transport\n");
	else
		snprintf(ts, sizeof(ts), "        local_ts = %s\n        remote_ts = %s\n", lnet,
			 rnet);
	snprintf(out, len,
		 "connections {\n  site {\n    version = 1\n%s"
		 "    local_addrs = %s\n    remote_addrs = %s\n"
		 "    proposals = aes128-sha256-modp2048\n"
		 "    local {\n      auth = psk\n      id = %s\n    }\n"
		 "    remote {\n      auth = psk\n      id = %s\n    }\n"
		 "    children {\n      net {\n%s        esp_proposals = aes128-sha1\n      }\n"
		 "    }\n  }\n}\n"
		 "secrets {\n  ike-site {\n    id-a = 192.0.2.1\n    id-b = 198.51.100.2\n"
		 "    secret = s3cret-key\n  }\n}\n",
		 extra, local, remote, local, remote, ts);
}

void h_v1_confs(char *a, char *b, size_t len, const char *extra_a, const char *extra_b,
		const char *mode)
{
	v1_conf(a, len, "192.0.2.1", "198.51.100.2", "10.1.0.0/24", "10.2.0.0/24", extra_a, mode);
	v1_conf(b, len, "198.51.100.2", "192.0.2.1", "10.2.0.0/24", "10.1.0.0/24", extra_b, mode);
}

void h_deliver_first(struct harness *h, void (*fix)(struct h_wire_msg *w))
{
	current = h;
	if (h->n_wire == 0)
		return;
	struct h_wire_msg w = h->wire[0];
	memmove(h->wire, h->wire + 1, (h->n_wire - 1) * sizeof(h->wire[0]));
	h->n_wire--;
	if (fix)
		fix(&w);
	ike_input(w.to->core, &w.local, &w.remote, w.data, w.len, h->now);
	h_check_tick_input(w.to->core, h->now);
}

void h_record_sent(void *arg, const struct addr *src, const struct addr *dst, bool udp,
		   const uint8_t *pkt, size_t len)
{
	struct h_sent *s = arg;
	(void)src;
	(void)udp;
	s->n++;
	s->dst = *dst;
	s->len = len < sizeof(s->pkt) ? len : sizeof(s->pkt);
	memcpy(s->pkt, pkt, s->len);
}

size_t h_udp4(uint8_t *p, const char *src, const char *dst)
{
	struct addr s, d;
	if (addr_parse(src, &s) < 0 || addr_parse(dst, &d) < 0)
		abort();
	memset(p, 0, 48);
	p[0] = 0x45;
	put_u16(p + 2, 48);
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, s.u.b, 4);
	memcpy(p + 16, d.u.b, 4);
	put_u16(p + 20, 1000);
	put_u16(p + 22, 2000);
	put_u16(p + 24, 28);
	return 48;
}
