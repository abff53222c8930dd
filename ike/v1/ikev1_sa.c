/* IKEv1 input (finding the ISAKMP SA by its cookies, answering retransmissions from the
 * cached response, dispatching by exchange), sending with retransmission, the ISAKMP
 * SA's own state, and Informational exchanges (notifies). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ike/v1/ikev1.h"
#include "lib/wipe.h"

static const char *const state_names[] = {
	"MM_START", "MM_WAIT_MSG2", "MM_WAIT_MSG3", "MM_WAIT_MSG4", "MM_WAIT_MSG5",
	"MM_WAIT_MSG6", "QM_IDLE", "AG_WAIT_MSG2", "AG_INIT_EXCH",
	"XAUTH_WAIT_REPLY", "XAUTH_WAIT_ACK", "XAUTH_WAIT_REQUEST", "XAUTH_WAIT_STATUS",
	"MODECFG_WAIT_REQUEST", "MODECFG_WAIT_REPLY", "MODECFG_WAIT_SET", "MODECFG_WAIT_ACK",
};

const char *ikev1_state_name(enum ikev1_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

const char *ikev1_sa_state_name(const struct ike_sa *sa)
{
	const struct ikev1_sa *v = sa->v1;
	if (!v)
		return NULL;
	if (v->state != QM_IDLE || sa->children)
		return ikev1_state_name(v->state);
	return v->aggressive ? "AM_ACTIVE" : "MM_ACTIVE";
}

const char *ikev1_notify_name(uint16_t type)
{
	switch (type) {
	case ISAKMP_N_NO_PROPOSAL_CHOSEN: return "NO_PROPOSAL_CHOSEN";
	case ISAKMP_N_PAYLOAD_MALFORMED: return "PAYLOAD_MALFORMED";
	case ISAKMP_N_INVALID_KEY_INFORMATION: return "INVALID_KEY_INFORMATION";
	case ISAKMP_N_INVALID_ID_INFORMATION: return "INVALID_ID_INFORMATION";
	case ISAKMP_N_INVALID_HASH_INFORMATION: return "INVALID_HASH_INFORMATION";
	case ISAKMP_N_AUTHENTICATION_FAILED: return "AUTHENTICATION_FAILED";
	case ISAKMP_N_INITIAL_CONTACT: return "INITIAL_CONTACT";
	default: return "notify";
	}
}

struct ikev1_sa *ikev1_sa_new(struct ike_sa *sa)
{
	struct ikev1_sa *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	buf_init(&v->sai_b);
	buf_init(&v->gxi);
	buf_init(&v->gxr);
	buf_init(&v->peer_idb);
	buf_init(&v->qm.gxy);
	buf_init(&v->qm_r.gxy);
	v->dpd_wait_since = MS_NEVER;
	sa->v1 = v;
	return v;
}

void ikev1_qm_clear(struct ikev1_qm *q)
{
	dh_free(q->dh);
	buf_wipe_free(&q->gxy);
	if (q->child)
		child_sa_free(q->child);
	wipe(q, sizeof(*q));
	buf_init(&q->gxy);
}

void ikev1_sa_free(struct ikev1_sa *v)
{
	if (!v)
		return;
	ikev1_qm_clear(&v->qm);
	ikev1_qm_clear(&v->qm_r);
	isakmp_keys_wipe(&v->keys);
	buf_free(&v->sai_b);
	buf_free(&v->gxi);
	buf_free(&v->gxr);
	buf_free(&v->peer_idb);
	wipe(v, sizeof(*v));
	free(v);
}

static void delete_child(struct ike_sa *sa, struct child_sa *c);

void ikev1_run_task(struct ike_sa *sa, const struct task *t)
{
	switch (t->kind) {
	case TASK_IKE_INIT:
		sa->initial_child = t->child_cfg;
		if (sa->conn->cfg->aggressive)
			ikev1_aggr_start(sa);
		else
			ikev1_main_start(sa);
		break;
	case TASK_CHILD_CREATE:
		ikev1_quick_start(sa, t->child_cfg);
		break;
	case TASK_CHILD_REKEY: {
		/* A new Quick Mode for the same config; the old SA runs out on its own. */
		struct child_sa *c = child_sa_find_by_id(sa, t->child_id);
		if (c)
			ikev1_quick_start(sa, c->cfg);
		break;
	}
	case TASK_CHILD_DELETE: {
		struct child_sa *c = child_sa_find_by_id(sa, t->child_id);
		if (c && !c->reap)
			delete_child(sa, c);
		break;
	}
	case TASK_IKE_DELETE:
		ikev1_delete_all(sa);
		break;
	case TASK_IKE_REKEY:
		ikev1_renew(sa);
		break;
	case TASK_DPD:
		ikev1_dpd_send(sa);
		break;
	default:
		log_info(LOG_IKE, "%s: %d not yet supported for IKEv1 SAs, skipped", ike_sa_name(sa),
			 (int)t->kind);
	}
}

/* ---- sending ---- */

int ikev1_encode(struct ike_sa *sa, uint8_t exchange, uint32_t msgid,
		 struct isakmp_builder *k, struct isakmp_iv *iv, struct buf *out)
{
	struct isakmp_hdr h = { 0 };
	memcpy(h.cky_i, sa->spi_i, 8);
	memcpy(h.cky_r, sa->spi_r, 8);
	h.next_payload = k->first;
	h.exchange = exchange;
	h.flags = iv ? ISAKMP_FLAG_E : 0;
	h.msgid = msgid;
	buf_reset(out);
	isakmp_put_header(out, &h);
	buf_put(out, k->b.data, k->b.len);
	isakmp_set_length(out);
	if (out->oom || k->b.oom)
		return -1;
	if (!iv)
		return 0;
	struct isakmp_iv next;
	if (isakmp_encrypt(&sa->v1->keys, iv, out, &next) < 0)
		return -1;
	*iv = next;
	return 0;
}

void ikev1_arm_retransmit(struct ike_sa *sa, enum task_kind kind, uint32_t msgid,
			  const struct buf *pkt)
{
	struct ike *core = sa->core;
	buf_reset(&sa->req.packet);
	buf_put(&sa->req.packet, pkt->data, pkt->len);
	sa->req.kind = kind;
	sa->req.msgid = msgid;
	sa->req.tries = 0;
	sa->req.retransmit_at = core->now + ike_retransmit_delay(core, 0);
}

void ikev1_send_request(struct ike_sa *sa, enum task_kind kind, uint32_t msgid,
			const struct buf *pkt)
{
	ikev1_arm_retransmit(sa, kind, msgid, pkt);
	ike_transmit(sa, &sa->req.packet);
}

static void raw_hash(const uint8_t *raw, size_t len, uint8_t out[16])
{
	crypto_generichash(out, 16, raw, len, NULL, 0);
}

void ikev1_send_response(struct ike_sa *sa, const struct v1_msg *m, const struct buf *pkt)
{
	buf_reset(&sa->last_response);
	buf_put(&sa->last_response, pkt->data, pkt->len);
	buf_fit(&sa->last_response);
	raw_hash(m->raw, m->raw_len, sa->last_request_hash);
	sa->have_last_response = true;
	ike_transmit(sa, &sa->last_response);
}

void ikev1_notify_plain(struct ike *core, const struct v1_msg *m, const uint8_t cky_r[8],
			uint16_t type)
{
	struct isakmp_builder k;
	struct isakmp_hdr h = { 0 };
	struct buf out;
	memcpy(h.cky_i, m->hdr.cky_i, 8);
	memcpy(h.cky_r, cky_r, 8);
	h.exchange = ISAKMP_XCHG_INFO;
	isb_init(&k);
	buf_init(&out);
	isb_notify(&k, ISAKMP_DOI_IPSEC, ISAKMP_PROTO_ISAKMP, NULL, 0, type, NULL, 0);
	h.next_payload = k.first;
	isakmp_put_header(&out, &h);
	buf_put(&out, k.b.data, k.b.len);
	isakmp_set_length(&out);
	if (!out.oom) {
		core->st.tx_messages++;
		core->env.send(core->env.arg, &m->local, &m->remote, out.data, out.len);
	}
	buf_free(&out);
	isb_free(&k);
}

/* An Informational exchange (RFC 2409 5.7): HASH(1), then one notify or delete. It
 * has no answer and is not retransmitted. */
static void info_send(struct ike_sa *sa, uint16_t type, uint8_t proto, const uint8_t *spi,
		      uint8_t spi_len, bool delete, const uint8_t *data, size_t len)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_builder k;
	struct isakmp_iv iv;
	struct buf out;
	uint32_t msgid = 0;
	/* Protected as soon as keys exist (RFC 2409 5.7): a Main Mode that fails after
	 * MM4 says so encrypted, as strongSwan expects (it ignores a clear one then). */
	if (!v->have_keys)
		return;
	while (!msgid)
		crypto_random(&msgid, sizeof(msgid));
	if (isakmp_iv_phase2(&v->keys, &v->iv, msgid, &iv) < 0)
		return;
	isb_init(&k);
	buf_init(&out);
	size_t hoff = isb_hash(&k, NULL, v->keys.prf_len);
	size_t rest = hoff + v->keys.prf_len;
	if (delete)
		isb_delete(&k, ISAKMP_DOI_IPSEC, proto, spi, spi_len, 1);
	else
		isb_notify(&k, ISAKMP_DOI_IPSEC, proto, spi, spi_len, type, data, len);
	if (!k.b.oom && isakmp_hash_qm1(&v->keys, msgid, k.b.data + rest, k.b.len - rest,
					k.b.data + hoff) == 0 &&
	    ikev1_encode(sa, ISAKMP_XCHG_INFO, msgid, &k, &iv, &out) == 0)
		ike_transmit(sa, &out);
	buf_free(&out);
	isb_free(&k);
}

void ikev1_notify_protected(struct ike_sa *sa, uint16_t type, uint8_t proto,
			    const uint8_t *spi, uint8_t spi_len)
{
	info_send(sa, type, proto, spi, spi_len, false, NULL, 0);
}

void ikev1_info_notify(struct ike_sa *sa, uint16_t type, uint8_t proto, const uint8_t *spi,
		       uint8_t spi_len, const uint8_t *data, size_t len)
{
	info_send(sa, type, proto, spi, spi_len, false, data, len);
}

void ikev1_info_delete_isakmp(struct ike_sa *sa)
{
	uint8_t cookies[16];
	memcpy(cookies, sa->spi_i, 8);
	memcpy(cookies + 8, sa->spi_r, 8);
	info_send(sa, 0, ISAKMP_PROTO_ISAKMP, cookies, 16, true, NULL, 0);
	log_info(LOG_IKE, "%s: sent DELETE for the ISAKMP SA", ike_sa_name(sa));
}

/* DELETE for one CHILD_SA (our inbound SPI). */
static void send_child_delete(struct ike_sa *sa, struct child_sa *c)
{
	uint8_t spi[4];
	put_u32(spi, c->spi_in);
	info_send(sa, 0, ISAKMP_PROTO_ESP, spi, 4, true, NULL, 0);
	log_info(LOG_IKE, "%s: sent DELETE for CHILD_SA %s{%u} (SPI %08x)", ike_sa_name(sa),
		 c->cfg->name, c->uniqueid, c->spi_in);
}

/* IKEv1 deletes without an exchange: the child goes at the next reap, since the task
 * may run while a caller walks the children. */
static void delete_child(struct ike_sa *sa, struct child_sa *c)
{
	send_child_delete(sa, c);
	c->reap = true;
	sa->core->reap_pending = true;
}

void ikev1_delete_all(struct ike_sa *sa)
{
	for (struct child_sa *c = sa->children; c; c = c->next)
		if (!c->reap)
			send_child_delete(sa, c);
	ikev1_info_delete_isakmp(sa);
	ike_sa_destroy(sa);
}

void ikev1_gave_up(const struct ike_sa *sa)
{
	char tag[128], peer[ADDR_STRLEN];
	enum ikev1_state st = sa->v1->state;
	if (sa->v1->dpd_dead)	/* ikev1_dpd.c said why */
		return;
	ike_sa_tag(sa, tag, sizeof(tag));
	addr_ntop(&sa->remote, peer, sizeof(peer));
	char after[64];
	if (!sa->initiator && st == XAUTH_WAIT_REPLY && sa->core->now >= sa->open_until)
		snprintf(after, sizeof(after), "login not finished within %u s",
			 IKE_LOGIN_TIMEOUT_MS / 1000);
	else if (sa->req.tries || sa->initiator)
		snprintf(after, sizeof(after), "giving up after %u retransmits", sa->req.tries);
	else
		snprintf(after, sizeof(after), "half-open SA timed out");
	/* A peer that cannot decrypt MM5 (another PSK) drops it without a word, as
	 * strongSwan does: after a good MM4, silence means that most of the time. */
	if (st == MM_WAIT_MSG6) {
		log_err(LOG_IKE, "%s: no answer to MM5: probable pre-shared key mismatch with %s "
			"(or peer not responding) in %s: %s", tag, peer, ikev1_state_name(st), after);
		return;
	}
	/* A responder that rejects our proposals may stay silent (or its notify got
	 * lost): in MM_WAIT_MSG2 both look the same. */
	log_err(LOG_IKE, "%s: %s in %s: %s", tag,
		st == XAUTH_WAIT_REPLY ? "no XAuth user name and password came" :
		st == XAUTH_WAIT_REQUEST ? "the XAuth server asked for no credentials" :
		st == MM_WAIT_MSG2 ? "peer not responding or proposal rejected" :
		st == AG_WAIT_MSG2 ? "peer not responding, policy mismatch or UDP 500 blocked" :
		st == AG_INIT_EXCH ? "no valid AM3 (PSK or policy mismatch at the initiator)" :
				     "peer not responding", ikev1_state_name(st), after);
}

void ikev1_established(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	char tag[128], id[IKE_MAX_ID * 2];
	sa->v1->state = QM_IDLE;
	ike_sa_set_state(sa, IKE_ESTABLISHED);
	ike_sa_drop_nonces(sa);	/* SKEYID is made; Quick Modes bring their own */
	sa->established_at = core->now;
	core->st.established_total++;
	log_ctl(LOG_IKE, "ISAKMP SA %s established with %s (IKEv1 %s Mode, %s)",
		ike_sa_tag(sa, tag, sizeof(tag)), identity_fmt(sa->peer_id, id, sizeof(id)),
		sa->v1->aggressive ? "Aggressive" : "Main", ikev1_state_name(sa->v1->state));
	if (core->env.updown)
		core->env.updown(core->env.arg, sa, NULL, true);
	ikev1_life_p1_schedule(sa);
	ikev1_life_adopt(sa);
}

/* ---- input ---- */

/* DELETE payloads of an authenticated Informational: our CHILD_SAs whose outbound SPI
 * the peer names, or the ISAKMP SA itself (true then: the SA is gone). */
static bool deletes_in(struct ike_sa *sa, const struct v1_msg *m)
{
	for (size_t i = 0; i < m->pl.n_del; i++) {
		const struct isakmp_delete *d = &m->pl.del[i];
		if (d->proto == ISAKMP_PROTO_ISAKMP && d->spi_len == 16) {
			for (size_t j = 0; j < d->n_spi; j++) {
				const uint8_t *c = d->spis + j * 16;
				if (memcmp(c, sa->spi_i, 8) || memcmp(c + 8, sa->spi_r, 8))
					continue;
				log_info(LOG_IKE, "%s: received DELETE for the ISAKMP SA", ike_sa_name(sa));
				ikev1_phase1_end(sa, false);
				return true;
			}
		} else if (d->proto == ISAKMP_PROTO_ESP && d->spi_len == 4) {
			for (size_t j = 0; j < d->n_spi; j++) {
				struct child_sa *c = child_sa_find_by_spi(sa, get_u32(d->spis + 4 * j), false);
				if (!c)
					continue;
				log_info(LOG_IKE, "%s: received DELETE for CHILD_SA %s{%u} (SPI %08x)",
					 ike_sa_name(sa), c->cfg->name, c->uniqueid, c->spi_out);
				child_detach_and_free(sa, c, false);
			}
		}
	}
	return false;
}

/* Informational (RFC 2408 4.8): notifies are logged; before Phase 1 completes they
 * come unprotected and may end a Main Mode we started (a peer that found no
 * acceptable proposal says so this way). */
static void info_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	char tag[128];
	ike_sa_tag(sa, tag, sizeof(tag));
	if (m->hdr.flags & ISAKMP_FLAG_E) {
		struct isakmp_iv iv;
		uint8_t h[IKE_MAX_PRF_OUT];
		if (!v->have_keys ||
		    isakmp_iv_phase2(&v->keys, &v->iv, m->hdr.msgid, &iv) < 0 ||
		    ikev1_decrypt(sa, m, &iv) < 0)
			return;
		if (!m->pl.has_hash || m->pl.hash_index != 0 || m->pl.hash.len != v->keys.prf_len ||
		    isakmp_hash_qm1(&v->keys, m->hdr.msgid, m->plain.data + m->pl.hash_end,
				    m->pl.chain_end - m->pl.hash_end, h) < 0 ||
		    sodium_memcmp(h, m->pl.hash.p, v->keys.prf_len) != 0) {
			sa->core->st.rx_invalid++;
			if (ike_log_allowed(sa->core, DROP_INTEGRITY))
				log_err(LOG_IKE, "%s: Informational with invalid HASH dropped", tag);
			return;
		}
	} else {
		const char *err = NULL;
		if (v->state == QM_IDLE || !sa->initiator ||
		    isakmp_parse_payloads(m->hdr.next_payload, m->raw + ISAKMP_HDR_LEN,
					  m->raw_len - ISAKMP_HDR_LEN, 0, &m->pl, &err) < 0) {
			sa->core->st.rx_invalid++;
			return;
		}
	}
	if ((m->hdr.flags & ISAKMP_FLAG_E) && deletes_in(sa, m))
		return;
	for (size_t i = 0; i < m->pl.n_notify; i++) {
		uint16_t type = m->pl.notify[i].type;
		if ((m->hdr.flags & ISAKMP_FLAG_E) && (ikev1_life_notify_in(sa, &m->pl.notify[i]) ||
							ikev1_dpd_notify_in(sa, m, &m->pl.notify[i])))
			continue;
		log_err(LOG_IKE, "%s: received %s (%u) notify in %s", tag, ikev1_notify_name(type),
			type, ikev1_state_name(v->state));
		if (type < 16384 && v->state != QM_IDLE) {
			/* An error notify in Phase 1 ends it: a protected one (HASH(1)
			 * checked) in any state, a clear one only in the state that waits
			 * for the peer's first answer. */
			if (v->state == MM_WAIT_MSG2 || v->state == AG_WAIT_MSG2 ||
			    (m->hdr.flags & ISAKMP_FLAG_E)) {
				ike_sa_destroy(sa);
				return;
			}
		} else if (type < 16384 && v->qm.active && v->qm.initiator) {
			log_err(LOG_IKE, "%s: Quick Mode for '%s' failed: peer sent %s", tag,
				v->qm.child ? v->qm.child->cfg->name : "?", ikev1_notify_name(type));
			ikev1_qm_clear(&v->qm);
			ike_request_done(sa);
		}
	}
}

int ikev1_decrypt(struct ike_sa *sa, struct v1_msg *m, const struct isakmp_iv *iv)
{
	struct ikev1_sa *v = sa->v1;
	const char *err = NULL;
	if (!(m->hdr.flags & ISAKMP_FLAG_E) || !v->have_keys ||
	    isakmp_decrypt(&v->keys, iv, m->raw, m->raw_len, &m->plain, &m->next_iv) < 0 ||
	    isakmp_parse_payloads(m->hdr.next_payload, m->plain.data, m->plain.len,
				  v->keys.block, &m->pl, &err) < 0) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_INTEGRITY))
			log_err(LOG_IKE, "%s: %s message %08x does not decrypt to valid payloads "
				"(%s), dropped", ike_sa_name(sa), isakmp_exchange_name(m->hdr.exchange),
				m->hdr.msgid, err ? err : "not encrypted or bad length");
		return -1;
	}
	return 0;
}

/* A protected Quick Mode or Informational from another address or port than the
 * peer's, with NAT-T in use: its NAT may have moved. It goes to its exchange, which
 * follows the peer only once the message proved authentic and fresh (ikev1_follow);
 * until then it changes nothing a message from the old address could not. */
static bool may_have_moved(const struct ike_sa *sa, const struct v1_msg *m)
{
	const struct ikev1_sa *v = sa->v1;
	return sa->natt && v->have_keys && v->state == QM_IDLE && (m->hdr.flags & ISAKMP_FLAG_E) &&
	       (m->hdr.exchange == ISAKMP_XCHG_QM || m->hdr.exchange == ISAKMP_XCHG_INFO);
}

/* IKEv1 has no message IDs to stop a replay, so only what the exchange shows to be
 * fresh as well as authentic moves the SA: a Quick Mode message (HASH(1) with an
 * unseen message ID, HASH(2)/(3) bound to our nonces) and DPD (a new R-U-THERE number,
 * the ACK of ours). A replayed DELETE from elsewhere must not redirect our traffic.
 * As IKEv2 (RFC 7296 2.23), when a NAT is in the way: ike_follow_peer(). */
void ikev1_follow(struct ike_sa *sa, const struct v1_msg *m)
{
	ike_follow_peer(sa, &m->local, &m->remote);
}

static void sa_input(struct ike_sa *sa, struct v1_msg *m)
{
	uint8_t h[16];
	raw_hash(m->raw, m->raw_len, h);
	/* A retransmission of what we last answered gets the same answer (whatever
	 * came in between); a repeat of the last message processed is dropped. */
	if (sa->have_last_response && sodium_memcmp(h, sa->last_request_hash, 16) == 0) {
		log_ctl(LOG_IKE, "%s: received retransmit of %s message, retransmitting response",
			ike_sa_name(sa), isakmp_exchange_name(m->hdr.exchange));
		sa->core->st.retransmits++;
		ike_transmit(sa, &sa->last_response);
		return;
	}
	if (sodium_memcmp(h, sa->v1->last_rx_hash, 16) == 0)
		return;
	if (sa->v1->natt_peer && !sa->natt && m->local.port == sa->core->t.port_natt &&
	    addr_equal_ip(&m->remote, &sa->remote)) {
		/* The initiator floated to the NAT-T port (RFC 3947 4). */
		sa->natt = true;
		sa->local = m->local;
		sa->remote = m->remote;
	}
	if (!addr_equal(&m->remote, &sa->remote) && !may_have_moved(sa, m)) {
		sa->core->st.rx_invalid++;
		return;
	}
	memcpy(sa->v1->last_rx_hash, h, 16);
	uint64_t bad = sa->core->st.rx_invalid + sa->core->st.auth_failures;
	switch (m->hdr.exchange) {
	case ISAKMP_XCHG_MM:
		ikev1_main_in(sa, m);
		break;
	case ISAKMP_XCHG_AM:
		ikev1_aggr_in(sa, m);
		break;
	case ISAKMP_XCHG_QM:
		ikev1_quick_in(sa, m);
		break;
	case ISAKMP_XCHG_INFO:
		info_in(sa, m);
		break;
	case ISAKMP_XCHG_TRANSACTION:
		ikev1_txn_in(sa, m);
		break;
	default:
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_MALFORMED))
			log_info(LOG_IKE, "%s: %s exchange not supported, dropped", ike_sa_name(sa),
				 isakmp_exchange_name(m->hdr.exchange));
	}
	/* Only a message taken shows the peer alive: garbage with its cookies (dropped
	 * and counted) must not, or it would hide a dead peer from DPD. */
	if (sa->state != IKE_DESTROYING &&
	    sa->core->st.rx_invalid + sa->core->st.auth_failures == bad)
		sa->last_rx = sa->core->now;
}

void ikev1_input(struct ike *core, const struct addr *local, const struct addr *remote,
		 const uint8_t *msg, size_t len)
{
	static const uint8_t zero[8];
	struct v1_msg *m = calloc(1, sizeof(*m));
	const char *err = NULL;
	char from[ADDR_STRLEN];
	if (!m)
		return;
	buf_init(&m->plain);
	m->raw = msg;
	m->raw_len = len;
	m->local = *local;
	m->remote = *remote;
	if (isakmp_parse_header(msg, len, &m->hdr, &err) < 0) {
		core->st.rx_invalid++;
		if (ike_log_allowed(core, DROP_MALFORMED))
			log_info(LOG_NET, "invalid IKEv1 message from %s dropped: %s",
				 addr_fmt(remote, from, sizeof(from)), err);
		goto out;
	}
	bool first = (m->hdr.exchange == ISAKMP_XCHG_MM || m->hdr.exchange == ISAKMP_XCHG_AM) &&
		     memcmp(m->hdr.cky_r, zero, 8) == 0;
	struct ike_sa *sa = ike_sa_find(core, m->hdr.cky_i, m->hdr.cky_r, first);
	if (sa && !sa->v1)
		sa = NULL;
	if (first && !sa) {
		if ((m->hdr.flags & ISAKMP_FLAG_E) || m->hdr.msgid != 0)
			core->st.rx_invalid++;
		else if (m->hdr.exchange == ISAKMP_XCHG_AM)
			ikev1_aggr_request_in(core, m);
		else
			ikev1_main_request_in(core, m);
		goto out;
	}
	if (!sa) {
		core->st.rx_no_sa++;
		if (ike_log_allowed(core, DROP_NO_SA))
			log_info(LOG_NET, "IKE message from %s has no SA (IKEv1 %s), dropped",
				 addr_fmt(remote, from, sizeof(from)),
				 isakmp_exchange_name(m->hdr.exchange));
		goto out;
	}
	sa_input(sa, m);
out:
	buf_wipe_free(&m->plain);
	free(m);
}
