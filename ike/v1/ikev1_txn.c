/* The ISAKMP Transaction exchange (6) that XAuth and Mode Config run after Phase 1
 * (draft-dukes-ike-mode-cfg-02 3.3): encrypted, each exchange with its own message ID
 * and an IV derived from it as Quick Mode's, HASH(1) first, then one Attribute payload.
 *   REQUEST -> REPLY, SET -> ACK
 * Our REQUEST/SET is retransmitted until the answer comes; our answer to the peer's is
 * cached, so a retransmitted REQUEST/SET gets it again (ikev1_sa.c). Malformed or
 * unauthenticated messages are dropped and counted; unknown and repeated attributes
 * are logged and counted, and the message is taken. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ike/v1/ikev1.h"
#include "ike/v1/isakmp_attr.h"

size_t ikev1_txn_begin(struct ike_sa *sa, struct isakmp_builder *k)
{
	isb_init(k);
	return isb_hash(k, NULL, sa->v1->keys.prf_len);
}

int ikev1_txn_send(struct ike_sa *sa, struct isakmp_builder *k, size_t hoff,
		   const struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_iv iv;
	struct buf out;
	uint32_t msgid = 0;
	size_t rest = hoff + v->keys.prf_len;
	int rc = -1;
	buf_init(&out);
	if (m) {
		msgid = m->hdr.msgid;
		iv = m->next_iv;
	} else {
		while (!msgid)
			crypto_random(&msgid, sizeof(msgid));
		if (isakmp_iv_phase2(&v->keys, &v->iv, msgid, &iv) < 0)
			goto out;
	}
	if (k->b.oom || isakmp_hash_qm1(&v->keys, msgid, k->b.data + rest, k->b.len - rest,
					k->b.data + hoff) < 0 ||
	    ikev1_encode(sa, ISAKMP_XCHG_TRANSACTION, msgid, k, &iv, &out) < 0)
		goto out;
	if (m) {
		ikev1_send_response(sa, m, &out);
	} else {
		v->txn.active = true;
		v->txn.msgid = msgid;
		v->txn.iv = iv;
		ikev1_send_request(sa, TASK_IKE_AUTH, msgid, &out);
	}
	rc = 0;
out:
	if (rc < 0)
		log_err(LOG_IKE, "%s: encoding a Transaction message failed", ike_sa_name(sa));
	/* An XAuth REPLY holds a password in the clear until encrypted. */
	buf_wipe_free(&out);
	buf_wipe_free(&k->b);
	return rc;
}

/* Decrypts m (an answer to ours, or the peer's own exchange) and checks its HASH. */
static bool authentic(struct ike_sa *sa, struct v1_msg *m, bool answer)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_iv iv;
	uint8_t h[IKE_MAX_PRF_OUT];
	if (answer)
		iv = v->txn.iv;
	else if (m->hdr.msgid == 0 || isakmp_iv_phase2(&v->keys, &v->iv, m->hdr.msgid, &iv) < 0)
		return false;
	if (ikev1_decrypt(sa, m, &iv) < 0)
		return false;
	if (m->pl.has_hash && m->pl.hash_index == 0 && m->pl.hash.len == v->keys.prf_len &&
	    isakmp_hash_qm1(&v->keys, m->hdr.msgid, m->plain.data + m->pl.hash_end,
			    m->pl.chain_end - m->pl.hash_end, h) == 0 &&
	    sodium_memcmp(h, m->pl.hash.p, v->keys.prf_len) == 0)
		return true;
	sa->core->st.rx_invalid++;
	if (ike_log_allowed(sa->core, DROP_INTEGRITY))
		log_err(LOG_IKE, "%s: Transaction message %08x with invalid HASH dropped",
			ike_sa_name(sa), m->hdr.msgid);
	return false;
}

/* The Attribute payload; unknown and repeated attributes are said and counted. */
static bool parse_cfg(struct ike_sa *sa, const struct v1_msg *m, struct isakmp_cfg *c)
{
	const char *err = NULL;
	if (!m->pl.attr.p || isakmp_cfg_parse(m->pl.attr.p, m->pl.attr.len, c, &err) < 0) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_MALFORMED))
			log_err(LOG_IKE, "%s: Transaction message %08x dropped: %s", ike_sa_name(sa),
				m->hdr.msgid, err ? err : "no attribute payload");
		return false;
	}
	if (c->n_unknown || c->n_repeated) {
		char first[64];
		sa->core->st.cp_bad_attrs += c->n_unknown + c->n_repeated;
		if (c->n_unknown)
			snprintf(first, sizeof(first), "first unknown type %u", c->first_unknown);
		else
			snprintf(first, sizeof(first), "first repeated %s",
				 isakmp_cfg_attr_name(c->first_repeated));
		if (ike_log_allowed(sa->core, DROP_MALFORMED))
			log_info(LOG_IKE, "%s: %s: %u unknown and %u repeated attribute(s) ignored "
				 "(%s)", ike_sa_name(sa), isakmp_cfg_type_name(c->type), c->n_unknown,
				 c->n_repeated, first);
	}
	return true;
}

bool ikev1_txn_answers(const struct ikev1_txn *t, const struct isakmp_cfg *c)
{
	/* The Identifier must be our request's; strongSwan's XAuth client answers with
	 * 0, which is taken too (the message ID and HASH tie it to ours). */
	return (c->id == t->id || c->id == 0) &&
	       (c->type == ISAKMP_CFG_REPLY || c->type == ISAKMP_CFG_ACK);
}

void ikev1_txn_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_cfg c;
	bool answer = v->txn.active && m->hdr.msgid == v->txn.msgid;
	bool after_p1 = v->state == QM_IDLE || v->state >= XAUTH_WAIT_REPLY;
	if (!v->have_keys || !(m->hdr.flags & ISAKMP_FLAG_E) || !after_p1) {
		/* Before Phase 1 authenticated the peer, or in the clear. (An initiator
		 * whose MM6 was lost may see the server's first REQUEST first: the
		 * retransmission comes after MM6.) */
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_WINDOW))
			log_info(LOG_IKE, "%s: Transaction message in %s dropped", ike_sa_name(sa),
				 ikev1_state_name(v->state));
		return;
	}
	if (!authentic(sa, m, answer) || !parse_cfg(sa, m, &c))
		return;
	if (answer) {
		if (!ikev1_txn_answers(&v->txn, &c)) {
			sa->core->st.rx_invalid++;
			if (ike_log_allowed(sa->core, DROP_WINDOW))
				log_err(LOG_IKE, "%s: %s with identifier %u does not answer our request %u, "
					"dropped", ike_sa_name(sa), isakmp_cfg_type_name(c.type), c.id,
					v->txn.id);
			return;
		}
		v->txn.active = false;
		ike_request_clear(sa);
		if (!ikev1_xauth_answer(sa, &c) && !ikev1_modecfg_answer(sa, &c)) {
			sa->core->st.rx_invalid++;
			if (ike_log_allowed(sa->core, DROP_WINDOW))
				log_err(LOG_IKE, "%s: unexpected %s in %s, dropped", ike_sa_name(sa),
					isakmp_cfg_type_name(c.type), ikev1_state_name(v->state));
		}
		return;
	}
	if (c.type != ISAKMP_CFG_REQUEST && c.type != ISAKMP_CFG_SET) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_WINDOW))
			log_err(LOG_IKE, "%s: %s %08x answers nothing we sent, dropped", ike_sa_name(sa),
				isakmp_cfg_type_name(c.type), m->hdr.msgid);
		return;
	}
	if (!ikev1_xauth_request(sa, m, &c) && !ikev1_modecfg_request(sa, m, &c)) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_WINDOW))
			log_err(LOG_IKE, "%s: unexpected %s in %s, dropped", ike_sa_name(sa),
				isakmp_cfg_type_name(c.type), ikev1_state_name(v->state));
	}
}
