/* The IKE core: configuration it holds, the SA table, message dispatch with message-ID
 * and retransmission rules (RFC 7296 2.1-2.2), and timers. The exchanges themselves
 * live in ikev2_*.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "lib/wipe.h"
#include <sodium.h>

static const char *const ike_state_names[] = {
	"CREATED", "CONNECTING", "ESTABLISHED", "PASSIVE", "REKEYING", "REKEYED",
	"DELETING", "DESTROYING",
};
static const char *const child_state_names[] = {
	"CREATED", "ROUTED", "INSTALLING", "INSTALLED", "UPDATING", "REKEYING", "REKEYED",
	"RETRYING", "DELETING", "DESTROYING",
};

const char *ike_state_name(enum ike_state s)
{
	return (unsigned)s < sizeof(ike_state_names) / sizeof(ike_state_names[0]) ?
		       ike_state_names[s] : "?";
}

const char *child_state_name(enum child_state s)
{
	return (unsigned)s < sizeof(child_state_names) / sizeof(child_state_names[0]) ?
		       child_state_names[s] : "?";
}

struct ike *ike_new(const struct ike_env *env, const struct ike_timing *t)
{
	struct ike *core = calloc(1, sizeof(*core));
	if (!core)
		return NULL;
	core->env = *env;
	core->t = *t;
	core->next_ike_id = 1;
	core->next_child_id = 1;
	core->next_reqid = 1;
	crypto_random(core->cookie_secret, sizeof(core->cookie_secret));
	return core;
}

/* ---- connections and secrets ---- */

static void conn_retire(struct ike *core, struct conn *c)
{
	c->retired = true;
	conn_put(core, c);
}

void conn_put(struct ike *core, struct conn *c)
{
	if (--c->refs > 0)
		return;
	for (struct conn **pp = &core->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	conn_cfg_free(c->cfg);
	free(c);
}

static struct conn *conn_find(struct ike *core, const char *name)
{
	for (struct conn *c = core->conns; c; c = c->next)
		if (!c->retired && strcmp(c->cfg->name, name) == 0)
			return c;
	return NULL;
}

/* Is a CHILD_SA of this name up or being negotiated for the connection name (by any
 * generation of the connection: a reload replaces the conn, not its SAs)? */
static bool child_exists(struct ike *core, const char *conn, const char *child)
{
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state == IKE_DESTROYING || !sa->conn || strcmp(sa->conn->cfg->name, conn) != 0)
			continue;
		if (sa->state == IKE_CREATED || sa->state == IKE_CONNECTING)
			return true;
		for (struct child_sa *c = sa->children; c; c = c->next)
			if (strcmp(c->cfg->name, child) == 0)
				return true;
		if (sa->req.child && strcmp(sa->req.child->cfg->name, child) == 0)
			return true;
	}
	return false;
}

static void conn_start(struct ike *core, struct conn *c)
{
	for (struct child_cfg *cc = c->cfg->children; cc; cc = cc->next) {
		/* A reload must not start a second copy of what is already up. */
		if (cc->start_action == START_START && !child_exists(core, c->cfg->name, cc->name)) {
			char err[256];
			if (ike_initiate(core, c->cfg->name, cc->name, core->now, err, sizeof(err)) < 0)
				log_err(LOG_CFG, "starting '%s' failed: %s", c->cfg->name, err);
		}
	}
	trap_install(core, c, true);
}

int ike_load_conn(struct ike *core, struct conn_cfg *cfg, ms_t now)
{
	core->now = now;
	struct conn *old = conn_find(core, cfg->name);
	if (old) {
		trap_install(core, old, false);
		conn_retire(core, old);
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		conn_cfg_free(cfg);
		return -1;
	}
	c->cfg = cfg;
	c->refs = 1;
	/* Keep the configured order: append. */
	struct conn **pp = &core->conns;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	log_info(LOG_CFG, "loaded connection '%s'", cfg->name);
	conn_start(core, c);
	return 0;
}

int ike_unload_conn(struct ike *core, const char *name, ms_t now)
{
	core->now = now;
	struct conn *c = conn_find(core, name);
	if (!c)
		return -1;
	trap_install(core, c, false);
	conn_retire(core, c);
	log_info(LOG_CFG, "unloaded connection '%s'", name);
	return 0;
}

void ike_load_secret(struct ike *core, struct secret_cfg *s)
{
	ike_unload_secret(core, s->name);
	struct secret_cfg **pp = &core->secrets;
	while (*pp)
		pp = &(*pp)->next;
	s->next = NULL;
	*pp = s;
}

int ike_unload_secret(struct ike *core, const char *name)
{
	for (struct secret_cfg **pp = &core->secrets; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct secret_cfg *s = *pp;
			*pp = s->next;
			s->next = NULL;
			secret_cfg_free(s);
			return 0;
		}
	}
	return -1;
}

void ike_load_config(struct ike *core, struct config *cfg, ms_t now)
{
	core->now = now;
	/* Replace every connection: SAs keep their old conn (reference) until they end. */
	for (struct conn *c = core->conns, *next; c; c = next) {
		next = c->next;
		if (!c->retired) {
			trap_install(core, c, false);
			conn_retire(core, c);
		}
	}
	while (core->secrets)
		ike_unload_secret(core, core->secrets->name);
	struct secret_cfg *s = cfg->secrets;
	cfg->secrets = NULL;
	while (s) {
		struct secret_cfg *next = s->next;
		ike_load_secret(core, s);
		s = next;
	}
	struct conn_cfg *cc = cfg->conns;
	cfg->conns = NULL;
	while (cc) {
		struct conn_cfg *next = cc->next;
		cc->next = NULL;
		ike_load_conn(core, cc, now);
		cc = next;
	}
	config_free(cfg);
}

const struct conn_cfg *ike_conn_first(const struct ike *core)
{
	for (struct conn *c = core->conns; c; c = c->next)
		if (!c->retired)
			return c->cfg;
	return NULL;
}

const struct conn_cfg *ike_conn_next(const struct ike *core, const struct conn_cfg *cfg)
{
	bool seen = false;
	for (struct conn *c = core->conns; c; c = c->next) {
		if (c->retired)
			continue;
		if (seen)
			return c->cfg;
		seen = c->cfg == cfg;
	}
	return NULL;
}

const struct secret_cfg *ike_secret_first(const struct ike *core)
{
	return core->secrets;
}

/* strongSwan's rule: a key whose owners match both identities beats one that matches
 * one of them, which beats a key without owners. */
struct secret_cfg *ike_find_psk(struct ike *core, const struct identity *me,
				const struct identity *peer)
{
	struct secret_cfg *best = NULL;
	int best_score = -1;
	for (struct secret_cfg *s = core->secrets; s; s = s->next) {
		int score = 0;
		bool mine = false, theirs = false;
		for (size_t i = 0; i < s->n_ids; i++) {
			struct identity id;
			if (identity_from_string(s->ids[i], &id) < 0)
				continue;
			mine |= identity_equal(&id, me);
			theirs |= identity_equal(&id, peer);
		}
		if (s->n_ids == 0)
			score = 1;
		else if (mine && theirs)
			score = 3;
		else if (mine || theirs)
			score = 2;
		else
			continue;
		if (score > best_score) {
			best = s;
			best_score = score;
		}
	}
	return best;
}

uint32_t ike_alloc_reqid(struct ike *core, const struct child_cfg *cc)
{
	if (cc->reqid)
		return cc->reqid;
	return core->next_reqid++;
}

/* ---- the SA table ---- */

struct ike_sa *ike_sa_new(struct ike *core, struct conn *conn, bool initiator)
{
	struct ike_sa *sa = calloc(1, sizeof(*sa));
	if (!sa)
		return NULL;
	sa->core = core;
	sa->conn = conn;
	if (conn)
		conn->refs++;
	sa->uniqueid = core->next_ike_id++;
	sa->initiator = initiator;
	sa->state = IKE_CREATED;
	sa->created_at = core->now;
	sa->rekey_at = sa->expire_at = sa->dpd_at = sa->keepalive_at = MS_NEVER;
	do
		crypto_random(initiator ? sa->spi_i : sa->spi_r, 8);
	while (ike_sa_find(core, sa->spi_i, sa->spi_r, false));
	buf_init(&sa->init_i);
	buf_init(&sa->init_r);
	buf_init(&sa->cookie);
	buf_init(&sa->last_response);
	buf_init(&sa->req.packet);
	sa->next = core->sas;
	core->sas = sa;
	core->st.half_open++;
	return sa;
}

static void request_clear(struct request *r)
{
	buf_free(&r->packet);
	dh_free(r->dh);
	if (r->child)
		child_sa_free(r->child);
	wipe(r, sizeof(*r));
	buf_init(&r->packet);
	r->kind = TASK_NONE;
}

void ike_request_clear(struct ike_sa *sa)
{
	request_clear(&sa->req);
}

void ike_request_done(struct ike_sa *sa)
{
	request_clear(&sa->req);
	ike_sa_run_tasks(sa);
}

/* Marks for destruction; ike_reap() frees it after the current input. */
void ike_sa_destroy(struct ike_sa *sa)
{
	if (sa->state == IKE_DESTROYING)
		return;
	bool was_up = sa->state == IKE_ESTABLISHED || sa->state == IKE_REKEYING ||
		      sa->state == IKE_DELETING;
	while (sa->children)
		child_detach_and_free(sa, sa->children, false);
	if (was_up && sa->core->env.updown)
		sa->core->env.updown(sa->core->env.arg, sa, NULL, false);
	ike_sa_set_state(sa, IKE_DESTROYING);
}

static void ike_sa_free(struct ike_sa *sa)
{
	request_clear(&sa->req);
	while (sa->tasks) {
		struct task *t = sa->tasks;
		sa->tasks = t->next;
		free(t);
	}
	dh_free(sa->dh);
	ike_keys_wipe(&sa->keys);
	buf_free(&sa->init_i);
	buf_free(&sa->init_r);
	buf_free(&sa->cookie);
	buf_free(&sa->last_response);
	if (sa->conn)
		conn_put(sa->core, sa->conn);
	wipe(sa, sizeof(*sa));
	free(sa);
}

static void ike_reap(struct ike *core)
{
	for (struct ike_sa **pp = &core->sas; *pp;) {
		struct ike_sa *sa = *pp;
		if (sa->state == IKE_DESTROYING) {
			*pp = sa->next;
			ike_sa_free(sa);
		} else {
			pp = &sa->next;
		}
	}
}

void ike_sa_set_state(struct ike_sa *sa, enum ike_state st)
{
	struct ike *core = sa->core;
	bool was_half = sa->state == IKE_CREATED || sa->state == IKE_CONNECTING;
	bool was_up = sa->state != IKE_CREATED && sa->state != IKE_CONNECTING &&
		      sa->state != IKE_DESTROYING;
	bool half = st == IKE_CREATED || st == IKE_CONNECTING;
	bool up = st != IKE_CREATED && st != IKE_CONNECTING && st != IKE_DESTROYING;
	if (was_half && !half)
		core->st.half_open--;
	if (!was_up && up)
		core->st.ike_sas++;
	if (was_up && !up)
		core->st.ike_sas--;
	sa->state = st;
}

struct ike_sa *ike_sa_find(struct ike *core, const uint8_t spi_i[8], const uint8_t spi_r[8],
			   bool by_initiator_spi_only)
{
	static const uint8_t zero[8];
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state == IKE_DESTROYING)
			continue;
		if (memcmp(sa->spi_i, spi_i, 8) != 0)
			continue;
		if (by_initiator_spi_only || memcmp(sa->spi_r, spi_r, 8) == 0)
			return sa;
		/* Our own SA as initiator before the responder's SPI is known. */
		if (sa->initiator && memcmp(sa->spi_r, zero, 8) == 0 && sa->state == IKE_CONNECTING)
			return sa;
	}
	return NULL;
}

struct ike_sa *ike_sa_by_id(struct ike *core, uint32_t uniqueid)
{
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next)
		if (sa->uniqueid == uniqueid && sa->state != IKE_DESTROYING)
			return sa;
	return NULL;
}

void ike_sa_adopt_children(struct ike_sa *to, struct ike_sa *from)
{
	struct child_sa **tail = &to->children;
	while (*tail)
		tail = &(*tail)->next;
	*tail = from->children;
	from->children = NULL;
}

struct child_sa *child_sa_find_by_spi(struct ike_sa *sa, uint32_t spi, bool inbound)
{
	for (struct child_sa *c = sa->children; c; c = c->next)
		if ((inbound ? c->spi_in : c->spi_out) == spi)
			return c;
	return NULL;
}

struct child_sa *child_sa_find_by_id(struct ike_sa *sa, uint32_t uniqueid)
{
	for (struct child_sa *c = sa->children; c; c = c->next)
		if (c->uniqueid == uniqueid)
			return c;
	return NULL;
}

const char *ike_sa_name(const struct ike_sa *sa)
{
	return sa->conn ? sa->conn->cfg->name : "(none)";
}

const char *ike_sa_tag(const struct ike_sa *sa, char *out, size_t outlen)
{
	char peer[ADDR_STRLEN];
	snprintf(out, outlen, "%s[%u] %s", ike_sa_name(sa), sa->uniqueid,
		 addr_ntop(&sa->remote, peer, sizeof(peer)));
	return out;
}

const struct ike_sa *ike_sa_first(const struct ike *core)
{
	const struct ike_sa *sa = core->sas;
	while (sa && sa->state == IKE_DESTROYING)
		sa = sa->next;
	return sa;
}

const struct ike_sa *ike_sa_next(const struct ike_sa *sa)
{
	sa = sa->next;
	while (sa && sa->state == IKE_DESTROYING)
		sa = sa->next;
	return sa;
}

void ike_get_stats(const struct ike *core, struct ike_stats *st)
{
	*st = core->st;
	st->child_sas = 0;
	for (const struct ike_sa *sa = ike_sa_first(core); sa; sa = ike_sa_next(sa))
		for (const struct child_sa *c = sa->children; c; c = c->next)
			st->child_sas++;
}

void ike_reset_stats(struct ike *core)
{
	struct ike_stats keep = { .ike_sas = core->st.ike_sas, .half_open = core->st.half_open };
	core->st = keep;
}

/* ---- tasks ---- */

void ike_sa_queue(struct ike_sa *sa, enum task_kind kind, struct child_cfg *cc, uint32_t child_id)
{
	struct task *t = calloc(1, sizeof(*t));
	if (!t)
		return;
	t->kind = kind;
	t->child_cfg = cc;
	t->child_id = child_id;
	struct task **pp = &sa->tasks;
	while (*pp)
		pp = &(*pp)->next;
	*pp = t;
	ike_sa_run_tasks(sa);
}

void ike_sa_run_tasks(struct ike_sa *sa)
{
	while (sa->req.kind == TASK_NONE && sa->tasks && sa->state != IKE_DESTROYING) {
		/* Nothing but the handshake runs before the SA is up. */
		if (sa->state != IKE_ESTABLISHED && sa->tasks->kind != TASK_IKE_INIT &&
		    sa->tasks->kind != TASK_IKE_AUTH && sa->tasks->kind != TASK_IKE_DELETE)
			return;
		struct task *t = sa->tasks;
		sa->tasks = t->next;
		switch (t->kind) {
		case TASK_IKE_INIT:
			sa->initial_child = t->child_cfg;
			ikev2_init_start(sa);
			break;
		case TASK_IKE_AUTH:
			ikev2_auth_start(sa);
			break;
		case TASK_CHILD_CREATE:
		case TASK_CHILD_REKEY:
		case TASK_IKE_REKEY:
			ikev2_create_start(sa, t->kind, t->child_cfg, t->child_id);
			break;
		case TASK_CHILD_DELETE:
		case TASK_IKE_DELETE:
		case TASK_DPD:
			ikev2_info_start(sa, t->kind, t->child_id);
			break;
		case TASK_NONE:
			break;
		}
		free(t);
	}
}

/* ---- encoding and sending ---- */

int ike_encode(struct ike_sa *sa, uint8_t exchange, uint32_t msgid, bool response,
	       struct ikev2_builder *inner, struct buf *out)
{
	struct ikev2_hdr h = { 0 };
	memcpy(h.spi_i, sa->spi_i, 8);
	memcpy(h.spi_r, sa->spi_r, 8);
	h.exchange = exchange;
	h.flags = (sa->initiator ? IKEV2_FLAG_INITIATOR : 0) | (response ? IKEV2_FLAG_RESPONSE : 0);
	h.msgid = msgid;
	buf_reset(out);
	if (exchange == IKE_SA_INIT || !sa->have_keys) {
		h.next_payload = inner->first;
		h.length = (uint32_t)(IKEV2_HDR_LEN + inner->b.len);
		ikev2_put_header(out, &h);
		buf_put(out, inner->b.data, inner->b.len);
		return out->oom ? -1 : 0;
	}
	size_t sk_len = 4 + sk_overhead(&sa->keys, inner->b.len) + inner->b.len;
	h.next_payload = PL_SK;
	h.length = (uint32_t)(IKEV2_HDR_LEN + sk_len);
	if (h.length > IKEV2_MAX_MSG)
		return -1;
	ikev2_put_header(out, &h);
	buf_put_u8(out, inner->first);
	buf_put_u8(out, 0);
	buf_put_u16(out, (uint16_t)sk_len);
	if (sk_encrypt(&sa->keys, sa->initiator, out, inner->b.data, inner->b.len) < 0)
		return -1;
	return out->oom || out->len != h.length ? -1 : 0;
}

static void log_message(const char *dir, const struct ike_sa *sa, const struct ikev2_hdr *h,
			const struct ikev2_payloads *pl, const struct addr *from,
			const struct addr *to, size_t len)
{
	char desc[512], a[ADDR_STRLEN], b[ADDR_STRLEN];
	if (!log_enabled(LOG_ENC, 1))
		return;
	ikev2_describe(h, pl, desc, sizeof(desc));
	log_info(LOG_ENC, "%s %s (%zu bytes) from %s to %s", dir, desc, len,
		 addr_fmt(from, a, sizeof(a)), addr_fmt(to, b, sizeof(b)));
	(void)sa;
}

static void transmit(struct ike_sa *sa, const struct buf *pkt)
{
	struct ike *core = sa->core;
	core->st.tx_messages++;
	core->env.send(core->env.arg, &sa->local, &sa->remote, pkt->data, pkt->len);
}

static ms_t retransmit_delay(const struct ike *core, unsigned tries)
{
	double d = core->t.retransmit_timeout_ms;
	for (unsigned i = 0; i < tries; i++)
		d *= core->t.retransmit_base;
	return (ms_t)d;
}

void ike_send_request(struct ike_sa *sa, uint8_t exchange, struct ikev2_builder *inner)
{
	struct ike *core = sa->core;
	sa->req.msgid = sa->next_msgid;
	sa->req.exchange = exchange;
	if (ike_encode(sa, exchange, sa->req.msgid, false, inner, &sa->req.packet) < 0) {
		log_err(LOG_IKE, "encoding %s request failed", ikev2_exchange_name(exchange));
		ikb_free(inner);
		return;
	}
	ikb_free(inner);
	sa->req.tries = 0;
	sa->req.retransmit_at = core->now + retransmit_delay(core, 0);
	if (log_enabled(LOG_ENC, 1)) {
		char d[64], a[ADDR_STRLEN], b[ADDR_STRLEN];
		snprintf(d, sizeof(d), "%s request %u", ikev2_exchange_name(exchange), sa->req.msgid);
		log_info(LOG_ENC, "generating %s, sending packet: %s to %s (%zu bytes)", d,
			 addr_fmt(&sa->local, a, sizeof(a)), addr_fmt(&sa->remote, b, sizeof(b)),
			 sa->req.packet.len);
	}
	transmit(sa, &sa->req.packet);
}

void ike_send_response(struct ike_sa *sa, const struct msg_in *m, struct ikev2_builder *inner)
{
	if (ike_encode(sa, m->hdr.exchange, m->hdr.msgid, true, inner, &sa->last_response) < 0) {
		log_err(LOG_IKE, "encoding %s response failed", ikev2_exchange_name(m->hdr.exchange));
		ikb_free(inner);
		return;
	}
	ikb_free(inner);
	sa->have_last_response = true;
	if (log_enabled(LOG_ENC, 1)) {
		char a[ADDR_STRLEN], b[ADDR_STRLEN];
		log_info(LOG_ENC, "generating %s response %u, sending packet: %s to %s (%zu bytes)",
			 ikev2_exchange_name(m->hdr.exchange), m->hdr.msgid,
			 addr_fmt(&sa->local, a, sizeof(a)), addr_fmt(&sa->remote, b, sizeof(b)),
			 sa->last_response.len);
	}
	transmit(sa, &sa->last_response);
}

/* ---- input ---- */

#define DROP_LOG_BURST 20
#define DROP_LOG_WINDOW_MS 10000

/* Counts a dropped message and logs why, at most DROP_LOG_BURST lines of each kind
 * per window: garbage is cheap to send and must not flood the log, nor hide the
 * integrity failures on an established SA behind it. */
static void __attribute__((format(printf, 5, 6)))
drop(struct ike *core, enum drop_kind kind, uint64_t *counter, int level, const char *fmt, ...)
{
	struct drop_limit *l = &core->drop_limits[kind];
	(*counter)++;
	if (core->now >= l->window + DROP_LOG_WINDOW_MS) {
		if (l->suppressed)
			log_info(LOG_NET, "%llu more dropped IKE messages of this kind were not logged",
				 (unsigned long long)l->suppressed);
		l->window = core->now;
		l->logged = 0;
		l->suppressed = 0;
	}
	if (l->logged >= DROP_LOG_BURST) {
		l->suppressed++;
		return;
	}
	l->logged++;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_NET, level, fmt, ap);
	va_end(ap);
}


static int decrypt_in(struct ike_sa *sa, struct msg_in *m)
{
	/* Only IKE_SA_INIT travels in the clear; everything after it must be protected
	 * (RFC 7296 1.2): an unprotected message must not move message IDs, peers or SAs. */
	if (!m->pl.has_sk)
		return m->hdr.exchange == IKE_SA_INIT ? 0 : -1;
	if (!sa->have_keys || m->hdr.exchange == IKE_SA_INIT)
		return -1;
	bool from_initiator = m->hdr.flags & IKEV2_FLAG_INITIATOR;
	if (sk_decrypt(&sa->keys, from_initiator, m->raw, m->raw_len, m->pl.sk_off, &m->plain) < 0)
		return -1;
	uint8_t unsupported;
	const char *err = NULL;
	if (ikev2_parse_payloads(m->pl.sk_first, m->plain.data, m->plain.len, 0, &m->pl,
				 &unsupported, &err) < 0) {
		log_err(LOG_ENC, "invalid encrypted payloads from %s: %s", ike_sa_name(sa), err);
		return -1;
	}
	return 0;
}

/* Follows a NAT that changed the peer's port or address (authenticated only). */
static void follow_peer(struct ike_sa *sa, const struct msg_in *m)
{
	if (sa->state == IKE_CREATED || addr_equal(&sa->remote, &m->remote))
		return;
	if (!sa->natt && m->local.port == sa->core->t.port_natt) {
		/* The peer floated to the NAT-T port (RFC 7296 2.23). */
		sa->natt = true;
		sa->local = m->local;
		sa->remote = m->remote;
		return;
	}
	if (!sa->natt)
		return;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	log_info(LOG_IKE, "%s: peer moved from %s to %s, following it", ike_sa_name(sa),
		 addr_fmt(&sa->remote, a, sizeof(a)), addr_fmt(&m->remote, b, sizeof(b)));
	sa->remote = m->remote;
	/* Child SAs carry the encapsulation ports; refresh them. */
	for (struct child_sa *c = sa->children; c; c = c->next)
		if (c->state == CHILD_INSTALLED && c->encap)
			child_install(sa, c, NULL, 0, NULL, 0, NULL, 0);
}

static void request_hash(const struct msg_in *m, uint8_t out[16])
{
	crypto_generichash(out, 16, m->raw, m->raw_len, NULL, 0);
}

static void handle_request(struct ike_sa *sa, struct msg_in *m)
{
	uint8_t hash[16];
	if (m->hdr.exchange == IKE_SA_INIT) {
		/* A new IKE_SA_INIT carries a zero SPIr; one with ours is not for us. */
		drop(sa->core, DROP_WINDOW, &sa->core->st.rx_invalid, 1,
		     "%s: IKE_SA_INIT request with our SPIs, dropped", ike_sa_name(sa));
		return;
	}
	request_hash(m, hash);
	/* Only a byte-identical retransmit gets the cached answer: a forged message with
	 * the old message ID must not make us send anything. */
	if (m->hdr.msgid + 1 == sa->peer_msgid && sa->have_last_response &&
	    sodium_memcmp(hash, sa->last_request_hash, 16) == 0) {
		log_ctl(LOG_IKE, "received retransmit of request %u, retransmitting response",
			m->hdr.msgid);
		sa->core->st.retransmits++;
		transmit(sa, &sa->last_response);
		return;
	}
	if (m->hdr.msgid != sa->peer_msgid) {
		drop(sa->core, DROP_WINDOW, &sa->core->st.rx_invalid, 2,
		     "%s: request %u out of window (expected %u), dropped", ike_sa_name(sa),
		     m->hdr.msgid, sa->peer_msgid);
		return;
	}
	if (decrypt_in(sa, m) < 0) {
		drop(sa->core, DROP_INTEGRITY, &sa->core->st.rx_invalid, 0,
		     "%s: %s request %u failed the integrity check or is unprotected, dropped",
		     ike_sa_name(sa), ikev2_exchange_name(m->hdr.exchange), m->hdr.msgid);
		return;
	}
	sa->peer_msgid++;
	memcpy(sa->last_request_hash, hash, 16);
	sa->last_rx = sa->core->now;
	log_message("parsed", sa, &m->hdr, &m->pl, &m->remote, &m->local, m->raw_len);
	switch (m->hdr.exchange) {
	case IKE_AUTH:
		follow_peer(sa, m);
		ikev2_auth_request_in(sa, m);
		break;
	case CREATE_CHILD_SA:
		follow_peer(sa, m);
		ikev2_create_request_in(sa, m);
		break;
	case INFORMATIONAL:
		follow_peer(sa, m);
		ikev2_info_request_in(sa, m);
		break;
	default:
		log_err(LOG_IKE, "unexpected %s request, ignored", ikev2_exchange_name(m->hdr.exchange));
	}
}

static void handle_response(struct ike_sa *sa, struct msg_in *m)
{
	if (sa->req.kind == TASK_NONE || m->hdr.msgid != sa->req.msgid ||
	    m->hdr.exchange != sa->req.exchange) {
		drop(sa->core, DROP_WINDOW, &sa->core->st.rx_invalid, 2,
		     "%s: %s response %u does not match an outstanding request, dropped",
		     ike_sa_name(sa), ikev2_exchange_name(m->hdr.exchange), m->hdr.msgid);
		return;
	}
	if (decrypt_in(sa, m) < 0) {
		drop(sa->core, DROP_INTEGRITY, &sa->core->st.rx_invalid, 0,
		     "%s: %s response %u failed the integrity check or is unprotected, dropped",
		     ike_sa_name(sa), ikev2_exchange_name(m->hdr.exchange), m->hdr.msgid);
		return;
	}
	sa->next_msgid++;
	sa->last_rx = sa->core->now;
	log_message("parsed", sa, &m->hdr, &m->pl, &m->remote, &m->local, m->raw_len);
	if (m->hdr.exchange != IKE_SA_INIT)
		follow_peer(sa, m);
	switch (m->hdr.exchange) {
	case IKE_SA_INIT:
		ikev2_init_response_in(sa, m);
		break;
	case IKE_AUTH:
		ikev2_auth_response_in(sa, m);
		break;
	case CREATE_CHILD_SA:
		ikev2_create_response_in(sa, m);
		break;
	case INFORMATIONAL:
		ikev2_info_response_in(sa, m);
		break;
	}
}

void ike_input(struct ike *core, const struct addr *local, const struct addr *remote,
	       const uint8_t *msg, size_t len, ms_t now)
{
	struct msg_in m;
	const char *err = NULL;
	uint8_t unsupported;
	char from[ADDR_STRLEN];

	core->now = now;
	core->st.rx_messages++;
	memset(&m, 0, sizeof(m));
	buf_init(&m.plain);
	m.raw = msg;
	m.raw_len = len;
	m.local = *local;
	m.remote = *remote;
	if (ikev2_parse_header(msg, len, &m.hdr, &err) < 0 ||
	    ikev2_parse_payloads(m.hdr.next_payload, msg + IKEV2_HDR_LEN, len - IKEV2_HDR_LEN,
				 IKEV2_HDR_LEN, &m.pl, &unsupported, &err) < 0) {
		drop(core, DROP_MALFORMED, &core->st.rx_invalid, 1, "invalid IKE message from %s dropped: %s",
		     addr_fmt(remote, from, sizeof(from)), err ? err : "?");
		goto out;
	}
	bool response = m.hdr.flags & IKEV2_FLAG_RESPONSE;
	static const uint8_t zero[8];
	if (m.hdr.exchange == IKE_SA_INIT && !response && memcmp(m.hdr.spi_r, zero, 8) == 0) {
		/* A retransmitted IKE_SA_INIT must not create a second SA. */
		struct ike_sa *sa = ike_sa_find(core, m.hdr.spi_i, zero, true);
		if (sa && !sa->initiator && addr_equal(&sa->remote, remote)) {
			if (sa->have_last_response && m.hdr.msgid == 0 && sa->init_i.len == len &&
			    memcmp(sa->init_i.data, msg, len) == 0)
				transmit(sa, &sa->last_response);
			goto out;
		}
		log_message("parsed", NULL, &m.hdr, &m.pl, remote, local, len);
		ikev2_init_request_in(core, &m);
		goto out;
	}
	struct ike_sa *sa = ike_sa_find(core, m.hdr.spi_i, m.hdr.spi_r, false);
	if (!sa) {
		drop(core, DROP_NO_SA, &core->st.rx_no_sa, 1, "IKE message from %s has no SA (%s %s %u), "
		     "dropped", addr_fmt(remote, from, sizeof(from)),
		     ikev2_exchange_name(m.hdr.exchange), response ? "response" : "request",
		     m.hdr.msgid);
		goto out;
	}
	if (response)
		handle_response(sa, &m);
	else
		handle_request(sa, &m);
out:
	buf_wipe_free(&m.plain);
	ike_reap(core);
}

/* ---- timers ---- */

/* A fresh attempt for a connection whose IKE SA failed to come up. */
static void reinitiate(struct ike *core, struct conn *conn, struct child_cfg *cc,
		       uint16_t remote_index, uint32_t keyingtry)
{
	struct ike_sa *n = ike_sa_new(core, conn, true);
	if (!n)
		return;
	n->remote_index = remote_index;
	n->keyingtry = keyingtry;
	ike_sa_queue(n, TASK_IKE_INIT, cc, 0);
}

static void peer_gave_up(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	struct conn *conn = sa->conn;
	char tag[128];
	log_err(LOG_IKE, "%s: peer not responding: giving up after %u retransmits of %s",
		ike_sa_tag(sa, tag, sizeof(tag)), sa->req.tries,
		sa->req.kind == TASK_DPD ? "a liveness check" : "a request");
	bool up = sa->state == IKE_ESTABLISHED;
	enum sa_action act = up && conn && conn->cfg->children ? conn->cfg->children->dpd_action :
								  ACTION_NONE;
	bool connecting = !up && conn && sa->initiator && !conn->retired;
	const struct conn_cfg *cfg = conn ? conn->cfg : NULL;
	uint16_t idx = sa->remote_index;
	uint32_t tries = sa->keyingtry;
	struct child_cfg *cc = sa->initial_child;
	if (conn)
		conn->refs++;	/* outlives the SA for the retry below */
	ike_sa_destroy(sa);
	if (act == ACTION_RESTART && !conn->retired) {
		log_info(LOG_IKE, "dpd_action=restart: re-initiating '%s'", cfg->name);
		for (struct child_cfg *c = cfg->children; c; c = c->next)
			ike_initiate(core, cfg->name, c->name, core->now, NULL, 0);
	} else if (connecting && idx + 1u < cfg->n_remote_addrs) {
		/* Backup peers are tried in the configured order. */
		log_info(LOG_IKE, "'%s': trying backup peer %s", cfg->name, cfg->remote_addrs[idx + 1]);
		reinitiate(core, conn, cc, (uint16_t)(idx + 1), tries);
	} else if (connecting && (cfg->keyingtries == 0 || tries + 1 < cfg->keyingtries)) {
		log_info(LOG_IKE, "keying try %u of %u for '%s'", tries + 2, cfg->keyingtries,
			 cfg->name);
		reinitiate(core, conn, cc, 0, tries + 1);
	}
	if (conn)
		conn_put(core, conn);
}

static void retransmit_due(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	if (sa->req.tries >= core->t.retransmit_tries) {
		peer_gave_up(sa);
		return;
	}
	sa->req.tries++;
	core->st.retransmits++;
	sa->req.retransmit_at = core->now + retransmit_delay(core, sa->req.tries);
	log_info(LOG_IKE, "retransmit %u of request with message ID %u", sa->req.tries,
		 sa->req.msgid);
	transmit(sa, &sa->req.packet);
}

#define OUT_PENDING_MAX_MS 5000

static ms_t min_ms(ms_t a, ms_t b)
{
	return a < b ? a : b;
}

static ms_t tick_sa(struct ike_sa *sa, ms_t now)
{
	struct ike *core = sa->core;
	ms_t next = MS_NEVER;

	if (sa->req.kind != TASK_NONE && now >= sa->req.retransmit_at)
		retransmit_due(sa);
	if (sa->state == IKE_DESTROYING)
		return MS_NEVER;
	if (sa->req.kind != TASK_NONE)
		next = min_ms(next, sa->req.retransmit_at);

	if ((sa->state == IKE_CREATED || sa->state == IKE_CONNECTING) && !sa->initiator) {
		ms_t limit = sa->created_at + (ms_t)core->t.half_open_timeout_s * 1000;
		if (now >= limit) {
			log_info(LOG_IKE, "half-open IKE SA from %s timed out", ike_sa_name(sa));
			ike_sa_destroy(sa);
			return MS_NEVER;
		}
		next = min_ms(next, limit);
	}
	if (sa->state != IKE_ESTABLISHED)
		return next;

	if (now >= sa->expire_at) {
		log_info(LOG_IKE, "%s: IKE SA lifetime expired, deleting", ike_sa_name(sa));
		ike_sa_queue(sa, TASK_IKE_DELETE, NULL, 0);
		sa->expire_at = MS_NEVER;
	}
	if (now >= sa->rekey_at) {
		sa->rekey_at = MS_NEVER;
		ike_sa_queue(sa, TASK_IKE_REKEY, NULL, 0);
	}
	for (struct child_sa *c = sa->children, *cn; c; c = cn) {
		cn = c->next;
		/* If the old SA's DELETE never comes, use the new one anyway. */
		if (c->out_pending) {
			if (now >= c->installed_at + OUT_PENDING_MAX_MS)
				child_install_pending_out(sa, c);
			else
				next = min_ms(next, c->installed_at + OUT_PENDING_MAX_MS);
		}
		if (c->state != CHILD_INSTALLED && c->state != CHILD_REKEYED)
			continue;
		if (now >= c->expire_at) {
			c->expire_at = MS_NEVER;
			log_info(LOG_IKE, "%s: CHILD_SA %s{%u} hard lifetime reached, deleting",
				 ike_sa_name(sa), c->cfg->name, c->uniqueid);
			ike_sa_queue(sa, TASK_CHILD_DELETE, NULL, c->uniqueid);
		} else if (now >= c->rekey_at && c->state == CHILD_INSTALLED) {
			c->rekey_at = MS_NEVER;
			ike_sa_queue(sa, TASK_CHILD_REKEY, NULL, c->uniqueid);
		}
		next = min_ms(next, min_ms(c->rekey_at, c->expire_at));
	}
	uint32_t dpd = sa->conn ? sa->conn->cfg->dpd_delay : 0;
	if (dpd && sa->req.kind == TASK_NONE) {
		ms_t due = (sa->last_rx > sa->dpd_at || sa->dpd_at == MS_NEVER ? sa->last_rx : sa->dpd_at) +
			   (ms_t)dpd * 1000;
		if (now >= due) {
			sa->dpd_at = now;
			ike_sa_queue(sa, TASK_DPD, NULL, 0);
		} else {
			next = min_ms(next, due);
		}
	}
	if (sa->nat_here && sa->natt && core->t.natt_keepalive_s) {
		if (sa->keepalive_at == MS_NEVER)
			sa->keepalive_at = now + (ms_t)core->t.natt_keepalive_s * 1000;
		if (now >= sa->keepalive_at) {
			if (core->env.keepalive)
				core->env.keepalive(core->env.arg, &sa->local, &sa->remote);
			sa->keepalive_at = now + (ms_t)core->t.natt_keepalive_s * 1000;
		}
		next = min_ms(next, sa->keepalive_at);
	}
	next = min_ms(next, min_ms(sa->rekey_at, sa->expire_at));
	if (sa->req.kind != TASK_NONE)
		next = min_ms(next, sa->req.retransmit_at);
	return next;
}

ms_t ike_tick(struct ike *core, ms_t now)
{
	ms_t next = MS_NEVER;
	core->now = now;
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next)
		if (sa->state != IKE_DESTROYING)
			next = min_ms(next, tick_sa(sa, now));
	ike_reap(core);
	return next;
}

void ike_sa_schedule_rekey(struct ike_sa *sa)
{
	const struct conn_cfg *cfg = sa->conn ? sa->conn->cfg : NULL;
	if (!cfg || !cfg->rekey_time) {
		sa->rekey_at = sa->expire_at = MS_NEVER;
		return;
	}
	uint32_t r = 0;
	crypto_random(&r, sizeof(r));
	uint64_t jitter = cfg->rand_time ? r % (cfg->rand_time * 1000) : 0;
	sa->rekey_at = sa->core->now + cfg->rekey_time * 1000 - jitter;
	uint64_t over = cfg->over_time ? cfg->over_time : cfg->rekey_time / 10;
	sa->expire_at = sa->core->now + (cfg->rekey_time + over) * 1000;
}

/* ---- control ---- */

static struct child_cfg *child_cfg_find(struct conn *c, const char *name)
{
	for (struct child_cfg *cc = c->cfg->children; cc; cc = cc->next)
		if (!name || strcmp(cc->name, name) == 0)
			return cc;
	return NULL;
}

static struct ike_sa *established_for(struct ike *core, struct conn *c)
{
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next)
		if (sa->conn == c && (sa->state == IKE_ESTABLISHED || sa->state == IKE_CONNECTING))
			return sa;
	return NULL;
}

static void __attribute__((format(printf, 3, 4))) set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int ike_initiate(struct ike *core, const char *conn_name, const char *child, ms_t now,
		 char *err, size_t errlen)
{
	core->now = now;
	struct conn *c = NULL;
	struct child_cfg *cc = NULL;
	if (conn_name) {
		c = conn_find(core, conn_name);
	} else if (child) {
		for (struct conn *x = core->conns; x && !c; x = x->next)
			if (!x->retired && child_cfg_find(x, child))
				c = x;
	}
	if (!c) {
		set_err(err, errlen, "no connection named '%s'", conn_name ? conn_name : child);
		return -1;
	}
	if (child && !(cc = child_cfg_find(c, child))) {
		set_err(err, errlen, "no child config named '%s'", child);
		return -1;
	}
	if (!cc)
		cc = c->cfg->children;
	struct ike_sa *sa = established_for(core, c);
	if (sa) {
		if (cc)
			ike_sa_queue(sa, TASK_CHILD_CREATE, cc, 0);
		return 0;
	}
	if (c->cfg->n_remote_addrs == 0 || strcmp(c->cfg->remote_addrs[0], "%any") == 0) {
		set_err(err, errlen, "connection '%s' has no remote address to initiate to",
			c->cfg->name);
		return -1;
	}
	sa = ike_sa_new(core, c, true);
	if (!sa)
		return -1;
	ike_sa_queue(sa, TASK_IKE_INIT, cc, 0);
	return 0;
}

static bool sa_matches(const struct ike_sa *sa, const char *name, uint32_t id)
{
	if (id && sa->uniqueid != id)
		return false;
	return !name || strcmp(ike_sa_name(sa), name) == 0;
}

int ike_terminate(struct ike *core, const char *ike_name, uint32_t ike_id, const char *child,
		  uint32_t child_id, ms_t now, char *err, size_t errlen)
{
	int n = 0;
	core->now = now;
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state == IKE_DESTROYING)
			continue;
		if (child || child_id) {
			for (struct child_sa *c = sa->children; c; c = c->next) {
				if ((child_id && c->uniqueid != child_id) ||
				    (child && strcmp(c->cfg->name, child) != 0))
					continue;
				ike_sa_queue(sa, TASK_CHILD_DELETE, NULL, c->uniqueid);
				n++;
			}
			continue;
		}
		if (!sa_matches(sa, ike_name, ike_id))
			continue;
		if (sa->state == IKE_ESTABLISHED)
			ike_sa_queue(sa, TASK_IKE_DELETE, NULL, 0);
		else
			ike_sa_destroy(sa);
		n++;
	}
	ike_reap(core);
	if (n == 0) {
		set_err(err, errlen, "no matching SA found");
		return -1;
	}
	return 0;
}

int ike_rekey(struct ike *core, const char *ike_name, uint32_t ike_id, const char *child,
	      uint32_t child_id, ms_t now, char *err, size_t errlen)
{
	int n = 0;
	core->now = now;
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state != IKE_ESTABLISHED)
			continue;
		if (child || child_id) {
			for (struct child_sa *c = sa->children; c; c = c->next) {
				if ((child_id && c->uniqueid != child_id) ||
				    (child && strcmp(c->cfg->name, child) != 0) ||
				    c->state != CHILD_INSTALLED)
					continue;
				ike_sa_queue(sa, TASK_CHILD_REKEY, NULL, c->uniqueid);
				n++;
			}
		} else if (sa_matches(sa, ike_name, ike_id)) {
			ike_sa_queue(sa, TASK_IKE_REKEY, NULL, 0);
			n++;
		}
	}
	if (n == 0) {
		set_err(err, errlen, "no matching SA found");
		return -1;
	}
	return 0;
}

void ike_free(struct ike *core, ms_t now)
{
	if (!core)
		return;
	core->now = now;
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state == IKE_ESTABLISHED && sa->req.kind == TASK_NONE) {
			/* Best effort: tell the peer, don't wait for the answer. */
			struct ikev2_builder k;
			ikb_init(&k);
			ikb_delete(&k, PROTO_IKE, NULL, 0, 0);
			ike_send_request(sa, INFORMATIONAL, &k);
			log_info(LOG_IKE, "%s: sent DELETE for the IKE SA on shutdown", ike_sa_name(sa));
		}
		ike_sa_destroy(sa);
	}
	ike_reap(core);
	for (struct conn *c = core->conns, *next; c; c = next) {
		next = c->next;
		trap_install(core, c, false);
		conn_cfg_free(c->cfg);
		free(c);
	}
	while (core->secrets)
		ike_unload_secret(core, core->secrets->name);
	wipe(core, sizeof(*core));
	free(core);
}
