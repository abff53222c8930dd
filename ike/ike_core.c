/* The IKE core: its state (ike_new/ike_free), the SA table, the queue of exchanges
 * each SA starts one at a time, and encoding and sending messages with their
 * retransmission state. Input is ike_input.c, timers ike_timers.c, configuration
 * ike_conns.c, control commands ike_control.c; the exchanges live in ikev2_*.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ike/ike_private.h"
#include "ike/ikev2_frag.h"
#include "lib/wipe.h"

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

struct cred_store *ike_creds(struct ike *core)
{
	return core->creds;
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
	if (!(core->creds = cred_store_new()) || !(core->pools = pools_new())) {
		cred_store_free(core->creds);
		free(core);
		return NULL;
	}
	return core;
}

/* ---- the SA table ---- */

#define HALF_OPEN_MAX 1000		/* in all */
#define HALF_OPEN_PER_PEER 10		/* from one address */

/* COOKIEs (IKEv2) stop spoofed floods; a host that answers them, or any IKEv1 peer
 * (no cookies there), still costs a DH per SA: half-open SAs are limited in all and
 * per peer address. `what` names the request in the log. */
bool ike_half_open_ok(struct ike *core, const struct addr *remote, const char *what)
{
	unsigned from_peer = 0;
	char a[ADDR_STRLEN];
	if (core->st.half_open >= HALF_OPEN_MAX) {
		core->st.half_open_refused++;
		if (ike_log_allowed(core, DROP_INIT_REFUSED))
			log_ctl(LOG_IKE, "%llu half-open IKE SAs: ignoring %s from %s",
				(unsigned long long)core->st.half_open, what,
				addr_ntop(remote, a, sizeof(a)));
		return false;
	}
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next)
		if ((sa->state == IKE_CREATED || sa->state == IKE_CONNECTING) && !sa->initiator &&
		    addr_equal_ip(&sa->remote, remote))
			from_peer++;
	if (from_peer >= HALF_OPEN_PER_PEER) {
		core->st.half_open_refused++;
		if (ike_log_allowed(core, DROP_INIT_REFUSED))
			log_ctl(LOG_IKE, "%s has %u half-open IKE SAs: ignoring its %s",
				addr_ntop(remote, a, sizeof(a)), from_peer, what);
		return false;
	}
	return true;
}

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
	sa->my_id = sa->peer_id = &ike_no_id;
	sa->prop = &proposal_none;
	sa->state = IKE_CREATED;
	sa->open_until = core->now + (ms_t)core->t.half_open_timeout_s * 1000;
	sa->rekey_at = sa->expire_at = sa->dpd_at = sa->keepalive_at = MS_NEVER;
	do
		crypto_random(initiator ? sa->spi_i : sa->spi_r, 8);
	while (ike_sa_find(core, sa->spi_i, sa->spi_r, false));
	buf_init(&sa->last_response);
	buf_init(&sa->req.packet);
	sa->next = core->sas;
	core->sas = sa;
	core->st.half_open++;
	ike_sa_touch(sa);
	return sa;
}

const struct identity ike_no_id;

struct ike_init *ike_sa_init(struct ike_sa *sa)
{
	if (!sa->init)
		sa->init = calloc(1, sizeof(*sa->init));	/* zeroed: empty bufs */
	return sa->init;
}

void ike_sa_init_free(struct ike_sa *sa)
{
	struct ike_init *in = sa->init;
	if (!in)
		return;
	buf_free(&in->init_i);
	buf_free(&in->init_r);
	buf_free(&in->cookie);
	free(in->init_error);
	free(in);
	sa->init = NULL;
}

const struct buf *ike_sa_init_msg(const struct ike_sa *sa, bool request)
{
	static const struct buf none;
	if (!sa->init)
		return &none;
	return request ? &sa->init->init_i : &sa->init->init_r;
}

int ike_sa_set_id(struct ike_sa *sa, bool mine, const struct identity *id)
{
	const struct identity **p = mine ? &sa->my_id : &sa->peer_id;
	size_t n = offsetof(struct identity, data) + id->len;
	struct identity *c = malloc(n);
	if (!c)
		return -1;
	memcpy(c, id, n);
	if (*p && *p != &ike_no_id)
		free((void *)*p);
	*p = c;
	return 0;
}

void ike_sa_free_ids(struct ike_sa *sa)
{
	if (sa->my_id && sa->my_id != &ike_no_id)
		free((void *)sa->my_id);
	if (sa->peer_id && sa->peer_id != &ike_no_id)
		free((void *)sa->peer_id);
	sa->my_id = sa->peer_id = &ike_no_id;
}

int ike_sa_set_nonce(struct ike_sa *sa, bool ni, const uint8_t *data, size_t len)
{
	uint8_t **p = ni ? &sa->ni : &sa->nr;
	uint16_t *plen = ni ? &sa->ni_len : &sa->nr_len;
	if (len > UINT16_MAX)	/* the payload's own length is 16 bits */
		return -1;
	uint8_t *n = malloc(len ? len : 1);
	if (!n)
		return -1;
	if (data)
		memcpy(n, data, len);
	else
		crypto_random(n, len);
	if (*p)
		wipe_free(*p, *plen);
	*p = n;
	*plen = (uint16_t)len;
	return 0;
}

void ike_sa_drop_nonces(struct ike_sa *sa)
{
	if (sa->ni)
		wipe_free(sa->ni, sa->ni_len);
	if (sa->nr)
		wipe_free(sa->nr, sa->nr_len);
	sa->ni = sa->nr = NULL;
	sa->ni_len = sa->nr_len = 0;
}

static void request_clear(struct request *r)
{
	free(r->offered);
	buf_free(&r->packet);
	ikev2_frags_free(&r->frags);
	dh_free(r->dh);
	if (r->child)
		child_sa_free(r->child);
	wipe(r, sizeof(*r));
	buf_init(&r->packet);
	r->kind = TASK_NONE;
}

struct proposal *ike_request_offer(struct request *r)
{
	if (!r->offered)
		r->offered = calloc(IKEV2_MAX_PROPOSALS, sizeof(*r->offered));
	return r->offered;
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

/* Marks for destruction; ike_sa_reap() frees it after the current input. */
void ike_sa_destroy(struct ike_sa *sa)
{
	if (sa->state == IKE_DESTROYING)
		return;
	bool was_up = (sa->state == IKE_ESTABLISHED || sa->state == IKE_REKEYING ||
		       sa->state == IKE_DELETING) && !sa->superseded;
	while (sa->children)
		child_detach_and_free(sa, sa->children, false);
	ike_vip_release_all(sa);
	if (was_up && sa->core->env.updown)
		sa->core->env.updown(sa->core->env.arg, sa, NULL, false);
	ike_sa_set_state(sa, IKE_DESTROYING);
	sa->core->reap_pending = true;
}

static void ike_sa_free(struct ike_sa *sa)
{
	ike_sa_untouch(sa);
	request_clear(&sa->req);
	while (sa->tasks) {
		struct task *t = sa->tasks;
		sa->tasks = t->next;
		free(t);
	}
	dh_free(sa->dh);
	ike_keys_wipe(&sa->keys);
	ike_sa_drop_nonces(sa);
	ike_sa_free_ids(sa);
	proposal_release(&sa->prop);
	ike_sa_init_free(sa);
	buf_free(&sa->last_response);
	ikev2_frags_free(&sa->resp_frags);
	ikev2_frag_free(sa);
	ikev1_sa_free(sa->v1);
	ikev2_eap_free(sa->eap);
	free(sa->eap_peer);
	free(sa->vip_reqids);
	free(sa->collision_nonce);
	if (sa->conn)
		conn_put(sa->core, sa->conn);
	wipe(sa, sizeof(*sa));
	free(sa);
}

void ike_sa_reap(struct ike *core)
{
	/* Runs after every input and tick: with thousands of SAs, walking them all each
	 * time is what a busy gateway would spend its time on. */
	if (!core->reap_pending)
		return;
	core->reap_pending = false;
	for (struct ike_sa **pp = &core->sas; *pp;) {
		struct ike_sa *sa = *pp;
		for (struct child_sa *c = sa->children, *cn; c; c = cn) {
			cn = c->next;
			if (c->reap)
				child_detach_and_free(sa, c, false);
		}
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
	ike_sa_touch(sa);
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
		/* An SA found is one an input is for: its deadlines may change. */
		if (by_initiator_spi_only || memcmp(sa->spi_r, spi_r, 8) == 0 ||
		    /* Our own SA as initiator before the responder's SPI is known. */
		    (sa->initiator && memcmp(sa->spi_r, zero, 8) == 0 && sa->state == IKE_CONNECTING)) {
			ike_sa_touch(sa);
			return sa;
		}
	}
	return NULL;
}

void ike_report_rekey(struct ike_sa *old_ike, struct ike_sa *new_ike, struct child_sa *old_child,
		      struct child_sa *new_child)
{
	struct ike *core = old_ike->core;
	if (core->env.rekeyed)
		core->env.rekeyed(core->env.arg, old_ike, new_ike, old_child, new_child);
}

struct ike_sa *ike_sa_by_id(struct ike *core, uint32_t uniqueid)
{
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next)
		if (sa->uniqueid == uniqueid && sa->state != IKE_DESTROYING)
			return sa;
	return NULL;
}

bool ike_sa_is_v1(const struct ike_sa *sa)
{
	return sa->v1 || (sa->conn && sa->conn->cfg->version == 1);
}

/* Tasks about CHILD_SAs travel with them (a rekeyed IKE SA runs no more tasks). */
static void adopt_child_tasks(struct ike_sa *to, struct ike_sa *from)
{
	struct task **tail = &to->tasks;
	while (*tail)
		tail = &(*tail)->next;
	for (struct task **pp = &from->tasks; *pp;) {
		struct task *t = *pp;
		if (t->kind == TASK_CHILD_CREATE || t->kind == TASK_CHILD_REKEY ||
		    t->kind == TASK_CHILD_DELETE) {
			*pp = t->next;
			t->next = NULL;
			*tail = t;
			tail = &t->next;
		} else {
			pp = &t->next;
		}
	}
}

void ike_sa_adopt_children(struct ike_sa *to, struct ike_sa *from)
{
	ike_sa_touch(to);	/* the children's deadlines are its now */
	struct child_sa **tail = &to->children;
	while (*tail)
		tail = &(*tail)->next;
	*tail = from->children;
	from->children = NULL;
	ike_vip_move(to, from);
	adopt_child_tasks(to, from);
	/* A child whose rekey or expiry was due while the IKE SA was busy gets its
	 * timer back if the task went nowhere. */
	ike_sa_run_tasks(to);
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
	*cred_store_stats(core->creds) = (struct cred_stats){ 0 };
}

/* ---- tasks ---- */

void ike_sa_queue(struct ike_sa *sa, enum task_kind kind, struct child_cfg *cc, uint32_t child_id)
{
	ike_sa_touch(sa);
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
		if (ike_sa_is_v1(sa)) {
			ikev1_run_task(sa, t);
			free(t);
			continue;
		}
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

void ike_fill_header(const struct ike_sa *sa, uint8_t exchange, uint32_t msgid, bool response,
		     struct ikev2_hdr *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->spi_i, sa->spi_i, 8);
	memcpy(h->spi_r, sa->spi_r, 8);
	h->exchange = exchange;
	h->flags = (sa->initiator ? IKEV2_FLAG_INITIATOR : 0) | (response ? IKEV2_FLAG_RESPONSE : 0);
	h->msgid = msgid;
}

int ike_encode(struct ike_sa *sa, uint8_t exchange, uint32_t msgid, bool response,
	       struct ikev2_builder *inner, struct buf *out)
{
	struct ikev2_hdr h;
	ike_fill_header(sa, exchange, msgid, response, &h);
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

void ike_transmit(struct ike_sa *sa, const struct buf *pkt)
{
	struct ike *core = sa->core;
	ike_sa_touch(sa);
	core->st.tx_messages++;
	core->env.send(core->env.arg, &sa->local, &sa->remote, pkt->data, pkt->len);
}

ms_t ike_retransmit_delay(const struct ike *core, unsigned tries)
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
	ikev2_frag_build(sa, exchange, sa->req.msgid, false, inner, &sa->req.packet, &sa->req.frags);
	ikb_free(inner);
	sa->req.tries = 0;
	sa->req.retransmit_at = core->now + ike_retransmit_delay(core, 0);
	if (log_enabled(LOG_ENC, 1)) {
		char d[64], a[ADDR_STRLEN], b[ADDR_STRLEN];
		snprintf(d, sizeof(d), "%s request %u", ikev2_exchange_name(exchange), sa->req.msgid);
		log_info(LOG_ENC, "generating %s, sending packet: %s to %s (%zu bytes)", d,
			 addr_fmt(&sa->local, a, sizeof(a)), addr_fmt(&sa->remote, b, sizeof(b)),
			 sa->req.packet.len);
	}
	ike_transmit_msg(sa, &sa->req.packet, sa->req.frags);
}

void ike_send_response(struct ike_sa *sa, const struct msg_in *m, struct ikev2_builder *inner)
{
	if (ike_encode(sa, m->hdr.exchange, m->hdr.msgid, true, inner, &sa->last_response) < 0) {
		log_err(LOG_IKE, "encoding %s response failed", ikev2_exchange_name(m->hdr.exchange));
		ikb_free(inner);
		return;
	}
	ikev2_frag_build(sa, m->hdr.exchange, m->hdr.msgid, true, inner, &sa->last_response,
			 &sa->resp_frags);
	ikb_free(inner);
	/* Kept until the next request (RFC 7296 2.1): a thousand of them on a
	 * concentrator, so without the encoder's spare room. */
	buf_fit(&sa->last_response);
	sa->have_last_response = true;
	if (log_enabled(LOG_ENC, 1)) {
		char a[ADDR_STRLEN], b[ADDR_STRLEN];
		log_info(LOG_ENC, "generating %s response %u, sending packet: %s to %s (%zu bytes)",
			 ikev2_exchange_name(m->hdr.exchange), m->hdr.msgid,
			 addr_fmt(&sa->local, a, sizeof(a)), addr_fmt(&sa->remote, b, sizeof(b)),
			 sa->last_response.len);
	}
	ike_transmit_msg(sa, &sa->last_response, sa->resp_frags);
}

void ike_free(struct ike *core, ms_t now)
{
	if (!core)
		return;
	core->now = now;
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->v1 && sa->state == IKE_ESTABLISHED) {
			ikev1_delete_all(sa);
			continue;
		}
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
	ike_sa_reap(core);
	for (struct conn *c = core->conns, *next; c; c = next) {
		next = c->next;
		trap_install(core, c, false);
		conn_creds_free(c->creds);
		conn_cfg_free(c->cfg);
		free(c);
	}
	while (core->secrets)
		ike_unload_secret(core, core->secrets->name);
	cred_store_free(core->creds);
	pools_free(core->pools);
	wipe(core, sizeof(*core));
	free(core);
}
