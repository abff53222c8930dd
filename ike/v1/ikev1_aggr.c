/* Aggressive Mode with pre-shared keys (RFC 2409 5.4): three messages.
 *   AM1 I->R  SA, KE, Ni, IDii
 *   AM2 R->I  SA, KE, Nr, IDir, HASH_R, NAT-D, NAT-D
 *   AM3 I->R  HASH_I, NAT-D, NAT-D        (encrypted, as strongSwan sends it, or not)
 * The identities travel in the clear with the keys, so the responder finds the
 * connection and the PSK by the initiator's identity: dynamic peers are told apart by
 * it. NAT-D comes in AM2 and AM3 (RFC 3947 3.2); the initiator floats to 4500 for AM3
 * when it sees a NAT. AM2 is the responder's request for AM3: it is retransmitted
 * until AM3 comes, and a retransmitted AM2 gets the cached AM3. The responder computes
 * g^xy only when AM3 comes: HASH_R needs SKEYID alone. */
#include <stdio.h>
#include <string.h>

#include "ike/v1/ikev1.h"
#include "lib/wipe.h"

static const char *tag_of(const struct ike_sa *sa)
{
	static char tag[128];
	return ike_sa_tag(sa, tag, sizeof(tag));
}

/* AM1 carries the KE, so every transform offered must have its group (RFC 2409 5.4):
 * keeps the proposals that allow the first group offered, with only that group. */
static size_t one_group(struct proposal *p, size_t n)
{
	uint16_t g = proposal_first_dh(p, n);
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		struct proposal q = p[i];
		size_t m = 0;
		bool has = false;
		for (size_t j = 0; j < q.n_xf; j++) {
			if (q.xf[j].type == XF_DH && q.xf[j].id != g)
				continue;
			has |= q.xf[j].type == XF_DH;
			q.xf[m++] = q.xf[j];
		}
		q.n_xf = m;
		if (has)
			p[out++] = q;
	}
	return out;
}

/* Encodes k (freed) into out: encrypted with the Phase 1 IV when encrypt is set. */
static int am_encode(struct ike_sa *sa, struct isakmp_builder *k, bool encrypt, struct buf *out)
{
	int rc = ikev1_encode(sa, ISAKMP_XCHG_AM, 0, k, encrypt ? &sa->v1->iv : NULL, out);
	if (rc < 0)
		log_err(LOG_IKE, "%s: encoding an Aggressive Mode message failed", tag_of(sa));
	isb_free(k);
	return rc;
}

static void add_id(struct ike_sa *sa, struct isakmp_builder *k)
{
	ikev1_my_identity(sa);
	isb_id(k, sa->my_id->type, 0, 0, sa->my_id->data, sa->my_id->len);
}

/* HASH_I or HASH_R over our own ID payload body. */
static int add_hash(struct ike_sa *sa, struct isakmp_builder *k)
{
	uint8_t idb[4 + IKE_MAX_ID], h[IKE_MAX_PRF_OUT];
	size_t n = ikev1_id_body(sa->my_id, idb);
	if (ikev1_hash_auth(sa, sa->initiator, idb, n, h) < 0)
		return -1;
	isb_hash(k, h, sa->v1->keys.prf_len);
	wipe(h, sizeof(h));
	return 0;
}

void ikev1_aggr_start(struct ike_sa *sa)
{
	struct ikev1_sa *v = sa->v1 ? sa->v1 : ikev1_sa_new(sa);
	struct isakmp_builder k;
	struct buf out;
	if (!v || (sa->local.family == 0 && resolve_endpoints(sa) < 0)) {
		ike_sa_destroy(sa);
		return;
	}
	v->aggressive = true;
	v->n_offered = one_group(v->offered, conn_proposals(sa->conn->cfg, v->offered,
							    V1_MAX_OFFERED));
	if (ikev1_offer_p1(sa, &k) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	/* its first group is the one of the KE */
	if (proposal_keep(&sa->prop, &v->offered[0]) < 0 ||
	    ikev1_add_ke_nonce(sa, &k, &v->gxi) < 0) {
		isb_free(&k);
		ike_sa_destroy(sa);
		return;
	}
	add_id(sa, &k);
	v->state = AG_WAIT_MSG2;
	ike_sa_set_state(sa, IKE_CONNECTING);
	log_info(LOG_IKE, "initiating IKEv1 Aggressive Mode %s", tag_of(sa));
	buf_init(&out);
	if (am_encode(sa, &k, false, &out) == 0)
		ikev1_send_request(sa, TASK_IKE_INIT, 0, &out);
	buf_free(&out);
}

/* ---- responder: AM1 ---- */

/* The first connection that admits the addresses, allows Aggressive Mode, expects this
 * identity and accepts a transform. *notify says what failed last. */
static struct conn *select_conn(struct ike *core, const struct v1_msg *m,
				const struct identity *peer, struct isakmp_choice *ch,
				uint16_t *notify, char *why, size_t whylen)
{
	char id[IKE_MAX_ID * 2];
	snprintf(why, whylen, "no IKEv1 connection admits these addresses");
	*notify = ISAKMP_N_NO_PROPOSAL_CHOSEN;
	for (struct conn *c = core->conns; c; c = c->next) {
		struct proposal mine[V1_MAX_OFFERED];
		if (!ikev1_conn_admits(c, m))
			continue;
		if (!c->cfg->aggressive) {
			snprintf(why, whylen, "connection '%s' does not allow it (aggressive = no)",
				 c->cfg->name);
			continue;
		}
		if (!identity_matches_cfg(c->cfg->remote.id, peer)) {
			snprintf(why, whylen, "peer identity %s not expected by any connection",
				 identity_fmt(peer, id, sizeof(id)));
			*notify = ISAKMP_N_INVALID_ID_INFORMATION;
			continue;
		}
		size_t n = conn_proposals(c->cfg, mine, V1_MAX_OFFERED);
		*notify = ISAKMP_N_NO_PROPOSAL_CHOSEN;
		if (isakmp_sa_select(&m->pl, mine, n, ch, why, whylen) &&
		    ikev1_auth_method_fits(c, ch, why, whylen))
			return c;
	}
	return NULL;
}

static bool am1_valid(struct ike *core, struct v1_msg *m, const char *from)
{
	const char *err = NULL;
	if (isakmp_parse_payloads(m->hdr.next_payload, m->raw + ISAKMP_HDR_LEN,
				  m->raw_len - ISAKMP_HDR_LEN, 0, &m->pl, &err) < 0)
		;
	else if (!m->pl.has_sa)
		err = "no SA payload";
	else if (m->pl.n_id != 1 || m->pl.id[0].len > IKE_MAX_ID)
		err = "no single ID payload";
	else
		return true;
	core->st.rx_invalid++;
	if (ike_log_allowed(core, DROP_MALFORMED))
		log_info(LOG_NET, "invalid Aggressive Mode request from %s dropped: %s", from, err);
	return false;
}

/* AM2 for the SA just made from AM1: derives the keys with the PSK of the peer's
 * identity on the way. -1 (logged) if that fails. */
static int send_am2(struct ike_sa *sa, struct v1_msg *m, const struct isakmp_choice *ch)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_builder k;
	struct buf out;
	char id[IKE_MAX_ID * 2];
	ikev1_my_identity(sa);
	struct secret_cfg *psk = ike_find_psk(sa->core, sa->my_id, sa->peer_id);
	if (!psk) {
		log_err(LOG_IKE, "%s: no pre-shared key found for peer %s", tag_of(sa),
			identity_fmt(sa->peer_id, id, sizeof(id)));
		return -1;
	}
	isb_init(&k);
	isakmp_sa_build_reply(&k, &m->pl, ch, NULL, 0);
	if (v->natt_peer)
		ikev1_vid_natt(&k, v->natt_ver);
	ikev1_vid_dpd(&k);
	if (ikev1_add_ke_nonce(sa, &k, &v->gxr) < 0 || ikev1_take_ke_nonce(sa, m, psk) < 0) {
		isb_free(&k);
		return -1;
	}
	add_id(sa, &k);
	if (add_hash(sa, &k) < 0) {
		isb_free(&k);
		return -1;
	}
	buf_init(&out);
	int rc = am_encode(sa, &k, false, &out);
	if (rc == 0) {
		/* The answer to AM1 (a retransmitted AM1 gets it again), and our request
		 * for AM3 (retransmitted until AM3 comes). */
		ikev1_send_response(sa, m, &out);
		ikev1_arm_retransmit(sa, TASK_IKE_INIT, 0, &out);
	}
	buf_free(&out);
	return rc;
}

void ikev1_aggr_request_in(struct ike *core, struct v1_msg *m)
{
	char from[ADDR_STRLEN], why[512], p[256];
	struct isakmp_choice ch;
	struct identity peer;
	uint16_t notify;
	static const uint8_t zero[8];
	addr_fmt(&m->remote, from, sizeof(from));
	if (!am1_valid(core, m, from))
		return;
	const struct isakmp_id *pid = &m->pl.id[0];
	memset(&peer, 0, sizeof(peer));
	peer.type = pid->type;
	peer.len = (uint16_t)pid->len;
	memcpy(peer.data, pid->data, pid->len);
	struct conn *c = select_conn(core, m, &peer, &ch, &notify, why, sizeof(why));
	if (!c) {
		core->st.init_refused++;
		if (ike_log_allowed(core, DROP_INIT_REFUSED))
			log_err(LOG_IKE, "IKEv1 Aggressive Mode from %s refused: %s; sending %s", from,
				why, ikev1_notify_name(notify));
		ikev1_notify_plain(core, m, zero, notify);
		return;
	}
	if (!ike_half_open_ok(core, &m->remote, "Aggressive Mode"))
		return;
	struct ike_sa *sa = ike_sa_new(core, c, false);
	struct ikev1_sa *v = sa ? ikev1_sa_new(sa) : NULL;
	if (!v) {
		if (sa)
			ike_sa_destroy(sa);
		return;
	}
	v->aggressive = true;
	memcpy(sa->spi_i, m->hdr.cky_i, 8);
	sa->local = m->local;
	sa->remote = m->remote;
	sa->natt = sa->local.port == core->t.port_natt;
	if (proposal_keep(&sa->prop, &ch.prop) < 0 || ike_sa_set_id(sa, false, &peer) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	v->params = ch.params;
	ikev1_life_p1_agree(sa, &ch.params);
	ikev1_take_vids(sa, m);
	buf_put(&v->sai_b, m->pl.sa_body.p, m->pl.sa_body.len);
	buf_put(&v->peer_idb, pid->body, pid->body_len);
	ike_sa_set_state(sa, IKE_CONNECTING);
	log_info(LOG_IKE, "%s: IKEv1 Aggressive Mode from %s (%s), selected %s", tag_of(sa), from,
		 identity_fmt(&peer, why, sizeof(why)), proposal_fmt(sa->prop, p, sizeof(p)));
	v->state = AG_INIT_EXCH;
	if (!ikev1_ke_nonce_ok(sa, m) || send_am2(sa, m, &ch) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	memcpy(v->last_rx_hash, sa->last_request_hash, 16);
}

/* ---- AM2 (initiator), AM3 (responder) ---- */

static void float_if_nat(struct ike_sa *sa)
{
	if (!sa->v1->natt_peer || !(sa->nat_here || sa->nat_there || sa->conn->cfg->encap))
		return;
	/* RFC 3947 4: from AM3 on, the NAT-T port. */
	sa->natt = true;
	sa->local.port = sa->core->t.port_natt;
	sa->remote.port = sa->core->t.port_natt;
}

static void send_am3(struct ike_sa *sa, const struct v1_msg *m)
{
	struct isakmp_builder k;
	struct buf out;
	isb_init(&k);
	if (add_hash(sa, &k) < 0) {
		isb_free(&k);
		return;
	}
	if (sa->v1->natt_peer)
		ikev1_add_natd(sa, &k);
	ikev1_add_initial_contact(sa, &k);
	buf_init(&out);
	/* Encrypted, as strongSwan sends it (RFC 2409 5.4 leaves it open). */
	if (am_encode(sa, &k, true, &out) == 0)
		ikev1_send_response(sa, m, &out);
	buf_free(&out);
}

static void am2_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_choice ch;
	const char *err = NULL;
	char why[512];
	const struct xform *ours = proposal_get(sa->prop, XF_DH);
	if (isakmp_parse_payloads(m->hdr.next_payload, m->raw + ISAKMP_HDR_LEN,
				  m->raw_len - ISAKMP_HDR_LEN, 0, &m->pl, &err) < 0) {
		sa->core->st.rx_invalid++;
		return;
	}
	const struct xform *theirs = NULL;
	if (m->pl.has_sa && m->pl.n_props == 1 && m->pl.props[0].n_xf == 1 &&
	    isakmp_sa_select(&m->pl, v->offered, v->n_offered, &ch, why, sizeof(why)))
		theirs = proposal_get(&ch.prop, XF_DH);
	/* The group must be the one of our KE in AM1. */
	if (!theirs || !ours || theirs->id != ours->id) {
		log_err(LOG_IKE, "%s: responder chose no transform we offered, ignored", tag_of(sa));
		return;
	}
	const struct proposal *before = sa->prop;
	sa->prop = &proposal_none;
	if (proposal_keep(&sa->prop, &ch.prop) < 0 || !ikev1_ke_nonce_ok(sa, m)) {
		proposal_release(&sa->prop);
		sa->prop = before;
		return;
	}
	proposal_release(&before);
	memcpy(sa->spi_r, m->hdr.cky_r, 8);
	v->params = ch.params;
	ikev1_life_p1_agree(sa, &ch.params);
	ikev1_take_vids(sa, m);
	ike_request_clear(sa);
	if (ikev1_take_ke_nonce(sa, m, NULL) < 0 || ikev1_finish_keys(sa) < 0 ||
	    !ikev1_check_id_hash(sa, m)) {
		ike_sa_destroy(sa);
		return;
	}
	if (v->natt_peer)
		ikev1_check_natd(sa, m);
	float_if_nat(sa);
	send_am3(sa, m);
	ikev1_phase1_authenticated(sa);
	if (sa->initial_child)
		ike_sa_queue(sa, TASK_CHILD_CREATE, sa->initial_child, 0);
	else
		ike_sa_run_tasks(sa);
}

/* AM3 is encrypted with keys from the PSK: with another PSK it decrypts to garbage.
 * Said once per SA; the SA waits on (a forged message must not end it). */
static int am3_payloads(struct ike_sa *sa, struct v1_msg *m)
{
	const char *err = NULL;
	char peer[ADDR_STRLEN];
	if (!(m->hdr.flags & ISAKMP_FLAG_E)) {
		if (isakmp_parse_payloads(m->hdr.next_payload, m->raw + ISAKMP_HDR_LEN,
					  m->raw_len - ISAKMP_HDR_LEN, 0, &m->pl, &err) == 0)
			return 0;
		sa->core->st.rx_invalid++;
		return -1;
	}
	if (ikev1_decrypt(sa, m, &sa->v1->iv) == 0)
		return 0;
	if (!sa->v1->psk_warned) {
		sa->v1->psk_warned = true;
		sa->core->st.auth_failures++;
		log_err(LOG_IKE, "%s: AM3 undecryptable, HASH_I unverifiable: probable pre-shared "
			"key mismatch with %s", tag_of(sa), addr_ntop(&sa->remote, peer, sizeof(peer)));
	}
	return -1;
}

static void am3_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	/* g^xy only now: AM2 needed SKEYID alone, and an AM1 whose KE is no valid
	 * public value (ike-scan sends random bytes) still got its answer. */
	if (!v->have_keys && ikev1_finish_keys(sa) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	if (am3_payloads(sa, m) < 0)
		return;
	if (!m->pl.has_hash) {
		sa->core->st.rx_invalid++;
		return;
	}
	if (!ikev1_check_hash(sa, v->peer_idb.data, v->peer_idb.len, &m->pl.hash)) {
		ikev1_notify_plain(sa->core, m, sa->spi_r, ISAKMP_N_AUTHENTICATION_FAILED);
		ike_sa_destroy(sa);
		return;
	}
	if (m->hdr.flags & ISAKMP_FLAG_E) {
		v->iv = m->next_iv;
		/* Only under encryption: HASH_I does not cover a notify, so in a plain
		 * AM3 anyone on the path could have added it. */
		ikev1_initial_contact_in(sa, m);
	}
	if (v->natt_peer)
		ikev1_check_natd(sa, m);
	ike_request_clear(sa);
	ikev1_phase1_authenticated(sa);
}

void ikev1_aggr_in(struct ike_sa *sa, struct v1_msg *m)
{
	enum ikev1_state st = sa->v1->state;
	if (m->hdr.msgid != 0 || !sa->v1->aggressive) {
		sa->core->st.rx_invalid++;
		return;
	}
	if (sa->initiator && st == AG_WAIT_MSG2 && !(m->hdr.flags & ISAKMP_FLAG_E))
		am2_in(sa, m);
	else if (!sa->initiator && st == AG_INIT_EXCH)
		am3_in(sa, m);
	else
		sa->core->st.rx_invalid++;
}
