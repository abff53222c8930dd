/* Main Mode with pre-shared keys (RFC 2409 5, 5.4): six messages.
 *   MM1 I->R  SA                 MM2 R->I  SA (the chosen transform)
 *   MM3 I->R  KE, Ni             MM4 R->I  KE, Nr
 *   MM5 I->R  *IDii, HASH_I      MM6 R->I  *IDir, HASH_R      (* encrypted)
 * The PSK is found by the peer's address: its identity arrives only encrypted with
 * keys that already depend on the PSK. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ike/v1/ikev1.h"
#include "lib/wipe.h"

static const char *tag_of(const struct ike_sa *sa)
{
	static char tag[128];
	return ike_sa_tag(sa, tag, sizeof(tag));
}

/* The peer's vendor IDs (MM1, MM2): NAT-T is on if it sent one of the versions
 * (the responder echoes the best, the initiator takes the one echoed). */
void ikev1_take_vids(struct ike_sa *sa, const struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	ikev1_vids_read(sa->core, &m->pl, tag_of(sa), &v->vids);
	v->natt_ver = v->vids.natt;
	v->natt_peer = v->natt_ver != NATT_NONE;
}

void ikev1_p1_params(const struct conn *c, struct isakmp_sa_params *par)
{
	memset(par, 0, sizeof(*par));
	par->auth_method = ikev1_p1_auth_method(c);
	ikev1_life_p1_offer(c->cfg, par);
}

int ikev1_offer_p1(struct ike_sa *sa, struct isakmp_builder *k)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_sa_params par;
	ikev1_p1_params(sa->conn, &par);
	isb_init(k);
	if (v->n_offered == 0 || isakmp_sa_build_p1(k, v->offered, v->n_offered, &par) < 0) {
		log_err(LOG_IKE, "%s: no IKE proposal expressible in IKEv1 configured", tag_of(sa));
		isb_free(k);
		return -1;
	}
	/* SAi_b: the SA payload without its generic header, for HASH_I/HASH_R. */
	buf_reset(&v->sai_b);
	buf_put(&v->sai_b, k->b.data + 4, k->b.len - 4);
	ikev1_vid_natt(k, NATT_NONE);
	ikev1_vid_dpd(k);
	return 0;
}

/* Sends a built Main Mode message: as a request (initiator) or as the cached answer
 * to m (responder). */
static void mm_send(struct ike_sa *sa, struct isakmp_builder *k, bool encrypt,
		    const struct v1_msg *m)
{
	struct buf out;
	buf_init(&out);
	if (ikev1_encode(sa, ISAKMP_XCHG_MM, 0, k, encrypt ? &sa->v1->iv : NULL, &out) < 0)
		log_err(LOG_IKE, "%s: encoding a Main Mode message failed", tag_of(sa));
	else if (m)
		ikev1_send_response(sa, m, &out);
	else
		ikev1_send_request(sa, TASK_IKE_INIT, 0, &out);
	buf_free(&out);
	isb_free(k);
}

void ikev1_main_start(struct ike_sa *sa)
{
	struct ikev1_sa *v = sa->v1 ? sa->v1 : ikev1_sa_new(sa);
	struct isakmp_builder k;
	if (!v || (sa->local.family == 0 && resolve_endpoints(sa) < 0)) {
		ike_sa_destroy(sa);
		return;
	}
	v->n_offered = conn_proposals(sa->conn->cfg, v->offered, V1_MAX_OFFERED);
	if (ikev1_offer_p1(sa, &k) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	v->state = MM_WAIT_MSG2;
	ike_sa_set_state(sa, IKE_CONNECTING);
	log_info(LOG_IKE, "initiating IKEv1 Main Mode %s", tag_of(sa));
	mm_send(sa, &k, false, NULL);
}

/* ---- responder: MM1 ---- */

bool ikev1_conn_admits(const struct conn *c, const struct v1_msg *m)
{
	const struct conn_cfg *cfg = c->cfg;
	/* EAP is IKEv2's: a version = 0 connection with it is not answered in IKEv1 (the
	 * PSK that authenticates an EAP server would let any client in without EAP). */
	return !c->retired && cfg->version != 2 && !ikev2_conn_eap(cfg) &&
	       addr_cfg_matches(cfg->local_addrs, cfg->n_local_addrs, &m->local) &&
	       addr_cfg_matches(cfg->remote_addrs, cfg->n_remote_addrs, &m->remote);
}

static struct conn *select_conn(struct ike *core, const struct v1_msg *m,
				struct isakmp_choice *ch, char *why, size_t whylen)
{
	snprintf(why, whylen, "no IKEv1 connection admits these addresses");
	for (struct conn *c = core->conns; c; c = c->next) {
		struct proposal mine[V1_MAX_OFFERED];
		if (!ikev1_conn_admits(c, m))
			continue;
		size_t n = conn_proposals(c->cfg, mine, V1_MAX_OFFERED);
		if (isakmp_sa_select(&m->pl, mine, n, ch, why, whylen) &&
		    ikev1_auth_method_fits(c, ch, why, whylen))
			return c;
	}
	return NULL;
}

void ikev1_main_request_in(struct ike *core, struct v1_msg *m)
{
	const char *err = NULL;
	char from[ADDR_STRLEN], why[512];
	struct isakmp_choice ch;
	addr_fmt(&m->remote, from, sizeof(from));
	if (isakmp_parse_payloads(m->hdr.next_payload, m->raw + ISAKMP_HDR_LEN,
				  m->raw_len - ISAKMP_HDR_LEN, 0, &m->pl, &err) < 0 ||
	    !m->pl.has_sa) {
		core->st.rx_invalid++;
		if (ike_log_allowed(core, DROP_MALFORMED))
			log_info(LOG_NET, "invalid Main Mode request from %s dropped: %s", from,
				 err ? err : "no SA payload");
		return;
	}
	struct conn *c = select_conn(core, m, &ch, why, sizeof(why));
	if (!c) {
		core->st.init_refused++;
		if (ike_log_allowed(core, DROP_INIT_REFUSED))
			log_err(LOG_IKE, "IKEv1 Main Mode from %s: no acceptable proposal (%s); "
				"sending NO_PROPOSAL_CHOSEN", from, why);
		static const uint8_t zero[8];
		ikev1_notify_plain(core, m, zero, ISAKMP_N_NO_PROPOSAL_CHOSEN);
		return;
	}
	if (!ike_half_open_ok(core, &m->remote, "Main Mode"))
		return;
	struct ike_sa *sa = ike_sa_new(core, c, false);
	if (!sa)
		return;
	struct ikev1_sa *v = ikev1_sa_new(sa);
	if (!v) {
		ike_sa_destroy(sa);
		return;
	}
	memcpy(sa->spi_i, m->hdr.cky_i, 8);
	sa->local = m->local;
	sa->remote = m->remote;
	sa->natt = sa->local.port == core->t.port_natt;
	if (proposal_keep(&sa->prop, &ch.prop) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	v->params = ch.params;
	ikev1_life_p1_agree(sa, &ch.params);
	buf_put(&v->sai_b, m->pl.sa_body.p, m->pl.sa_body.len);
	ike_sa_set_state(sa, IKE_CONNECTING);
	struct isakmp_builder k;
	isb_init(&k);
	isakmp_sa_build_reply(&k, &m->pl, &ch, NULL, 0);
	ikev1_take_vids(sa, m);
	if (v->natt_peer)
		ikev1_vid_natt(&k, v->natt_ver);
	ikev1_vid_dpd(&k);
	v->state = MM_WAIT_MSG3;
	char p[256];
	if (ike_log_allowed(core, DROP_INIT_IN))
		log_info(LOG_IKE, "%s: IKEv1 Main Mode from %s, selected %s", tag_of(sa), from,
			 proposal_fmt(sa->prop, p, sizeof(p)));
	mm_send(sa, &k, false, m);
	memcpy(v->last_rx_hash, sa->last_request_hash, 16);
}

/* ---- key exchange: MM3/MM4 ---- */

int ikev1_add_ke_nonce(struct ike_sa *sa, struct isakmp_builder *k, struct buf *mine)
{
	const struct xform *g = proposal_get(sa->prop, XF_DH);
	if (!g || !(sa->dh = dh_new(g->id))) {
		log_err(LOG_IKE, "%s: DH group %s not supported", tag_of(sa), g ? dh_name(g->id) : "-");
		return -1;
	}
	dh_public(sa->dh, mine);
	if (ike_sa_set_nonce(sa, sa->initiator, NULL, V1_NONCE_LEN) < 0)
		return -1;
	isb_ke(k, mine->data, mine->len);
	isb_nonce(k, sa->initiator ? sa->ni : sa->nr, V1_NONCE_LEN);
	if (sa->v1->natt_peer)
		ikev1_add_natd(sa, k);
	return 0;
}

void ikev1_my_identity(struct ike_sa *sa)
{
	const char *cfg_id = sa->conn->cfg->local.id;
	struct identity id;
	/* no id: a certificate's subject, else our address */
	if ((!cfg_id || identity_from_string(cfg_id, &id) < 0) &&
	    ikev2_cert_identity(sa, &id) < 0)
		identity_from_addr(&sa->local, &id);
	if (ike_sa_set_id(sa, true, &id) < 0)
		log_err(LOG_IKE, "%s: out of memory for our identity", tag_of(sa));
}

/* The peer's identity from its ID payload; false when out of memory. */
static bool take_peer_id(struct ike_sa *sa, const struct isakmp_id *pid)
{
	struct identity id;
	id.type = pid->type;
	id.len = (uint16_t)pid->len;
	memcpy(id.data, pid->data, pid->len);
	return ike_sa_set_id(sa, false, &id) == 0;
}

/* Main Mode needs the PSK before the peer's ID arrives: the connection (chosen by
 * address) says whom we expect, its remote id or else the peer's address. */
static struct secret_cfg *find_psk(struct ike_sa *sa, struct identity *peer)
{
	const char *rid = sa->conn->cfg->remote.id;
	struct secret_cfg *psk = NULL;
	ikev1_my_identity(sa);
	if (rid && identity_from_string(rid, peer) == 0)
		psk = ike_find_psk(sa->core, sa->my_id, peer);
	if (!psk) {
		identity_from_addr(&sa->remote, peer);
		psk = ike_find_psk(sa->core, sa->my_id, peer);
	}
	return psk;
}

/* MM3/MM4 are unauthenticated: one without a usable KE and nonce is dropped and the
 * SA waits for the real one. */
bool ikev1_ke_nonce_ok(struct ike_sa *sa, const struct v1_msg *m)
{
	const struct xform *g = proposal_get(sa->prop, XF_DH);
	if (m->pl.ke.p && g && m->pl.ke.len == dh_public_len(g->id) && m->pl.nonce.p &&
	    m->pl.nonce.len >= ISAKMP_MIN_NONCE && m->pl.nonce.len <= ISAKMP_MAX_NONCE)
		return true;
	sa->core->st.rx_invalid++;
	if (ike_log_allowed(sa->core, DROP_MALFORMED))
		log_info(LOG_IKE, "%s: %s message without a valid KE and nonce in %s, dropped",
			 tag_of(sa), isakmp_exchange_name(m->hdr.exchange),
			 ikev1_state_name(sa->v1->state));
	return false;
}

/* Takes the peer's KE and nonce and derives SKEYID with psk, or when psk is NULL with
 * the PSK for the connection's remote id or the peer's address (Main Mode). The keys
 * that need g^xy come from ikev1_finish_keys(). */
int ikev1_take_ke_nonce(struct ike_sa *sa, const struct v1_msg *m,
			const struct secret_cfg *psk)
{
	struct ikev1_sa *v = sa->v1;
	const struct xform *e = proposal_get(sa->prop, XF_ENCR);
	const struct xform *p = proposal_get(sa->prop, XF_PRF);
	if (!e || !p)
		return -1;
	struct buf *theirs = sa->initiator ? &v->gxr : &v->gxi;
	buf_reset(theirs);
	buf_put(theirs, m->pl.ke.p, m->pl.ke.len);
	if (ike_sa_set_nonce(sa, !sa->initiator, m->pl.nonce.p, m->pl.nonce.len) < 0)
		return -1;

	if (ikev1_sa_sig(sa))
		return 0;	/* SKEYID needs g^xy: ikev1_finish_keys() */
	struct identity peer;
	if (!psk)
		psk = find_psk(sa, &peer);
	if (!psk) {
		log_err(LOG_IKE, "%s: no pre-shared key found for peer %s", tag_of(sa),
			identity_fmt(&peer, (char[128]){ 0 }, 128));
		return -1;
	}
	if (!sa->dh || isakmp_derive_skeyid_psk(&v->keys, p->id, e->id, e->keylen, psk->secret,
						psk->secret_len, sa->ni, sa->ni_len, sa->nr,
						sa->nr_len) < 0) {
		log_err(LOG_IKE, "%s: key derivation failed", tag_of(sa));
		return -1;
	}
	return 0;
}

/* RFC 4754 ties ECDSA to a hash: HASH_I/HASH_R are made with its HMAC whatever the
 * negotiated PRF (strongSwan's keymat_v1 does so too). */
static uint16_t ikev1_auth_prf(uint16_t method)
{
	switch (method) {
	case ISAKMP_AUTH_ECDSA_256: return PRF_HMAC_SHA2_256;
	case ISAKMP_AUTH_ECDSA_384: return PRF_HMAC_SHA2_384;
	case ISAKMP_AUTH_ECDSA_521: return PRF_HMAC_SHA2_512;
	}
	return 0;
}

int ikev1_finish_keys(struct ike_sa *sa)
{
	struct ikev1_sa *v = sa->v1;
	const struct buf *theirs = sa->initiator ? &v->gxr : &v->gxi;
	struct buf gxy;
	buf_init(&gxy);
	int rc = sa->dh ? dh_shared(sa->dh, theirs->data, theirs->len, &gxy) : -1;
	if (rc == 0 && ikev1_sa_sig(sa)) {
		const struct xform *e = proposal_get(sa->prop, XF_ENCR);
		const struct xform *p = proposal_get(sa->prop, XF_PRF);
		rc = e && p ? isakmp_derive_skeyid_sig(&v->keys, p->id, e->id, e->keylen, sa->ni,
						       sa->ni_len, sa->nr, sa->nr_len, gxy.data,
						       gxy.len)
			    : -1;
	}
	if (rc == 0)
		v->keys.auth_prf = ikev1_auth_prf(v->params.auth_method);
	if (rc == 0)
		rc = isakmp_derive_skeyid_dae(&v->keys, gxy.data, gxy.len, sa->spi_i, sa->spi_r);
	if (rc == 0)
		rc = isakmp_iv_phase1(&v->keys, v->gxi.data, v->gxi.len, v->gxr.data, v->gxr.len,
				      &v->iv);
	buf_wipe_free(&gxy);
	dh_free(sa->dh);
	sa->dh = NULL;
	if (rc < 0) {
		log_err(LOG_IKE, "%s: invalid KE payload or key derivation failed", tag_of(sa));
		return -1;
	}
	v->have_keys = true;
	return 0;
}

/* ---- authentication: MM5/MM6 ---- */

/* The ID payload body (type | protocol | port | data) as HASH_I/R cover it. */
size_t ikev1_id_body(const struct identity *id, uint8_t *out)
{
	out[0] = id->type;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, id->data, id->len);
	return 4 + (size_t)id->len;
}

int ikev1_hash_auth(struct ike_sa *sa, bool of_initiator, const uint8_t *idb, size_t idlen,
		     uint8_t *out)
{
	struct ikev1_sa *v = sa->v1;
	return isakmp_hash_auth(&v->keys, of_initiator, v->gxi.data, v->gxi.len, v->gxr.data,
				v->gxr.len, sa->spi_i, sa->spi_r, v->sai_b.data, v->sai_b.len,
				idb, idlen, out);
}

/* MM5/MM6: our ID with HASH, or with CERT and SIG. 0 or -1. */
static int send_id_hash(struct ike_sa *sa, const struct v1_msg *m)
{
	uint8_t idb[4 + IKE_MAX_ID], h[IKE_MAX_PRF_OUT];
	struct isakmp_builder k;
	ikev1_my_identity(sa);
	size_t n = ikev1_id_body(sa->my_id, idb);
	if (ikev1_hash_auth(sa, sa->initiator, idb, n, h) < 0)
		return -1;
	isb_init(&k);
	isb_id(&k, sa->my_id->type, 0, 0, sa->my_id->data, sa->my_id->len);
	if (!ikev1_sa_sig(sa))
		isb_hash(&k, h, sa->v1->keys.prf_len);
	else if (ikev1_add_cert_sig(sa, &k, h, isakmp_hash_auth_len(&sa->v1->keys)) < 0) {
		isb_free(&k);
		wipe(h, sizeof(h));
		return -1;
	}
	if (sa->initiator)	/* MM5 */
		ikev1_add_initial_contact(sa, &k);
	mm_send(sa, &k, true, m);
	wipe(h, sizeof(h));
	return 0;
}

bool ikev1_check_hash(struct ike_sa *sa, const uint8_t *idb, size_t idlen,
		      const struct isakmp_blob *hash)
{
	uint8_t h[IKE_MAX_PRF_OUT];
	char peer[ADDR_STRLEN];
	size_t n = sa->v1->keys.prf_len;
	if (hash->len == n && ikev1_hash_auth(sa, !sa->initiator, idb, idlen, h) == 0 &&
	    sodium_memcmp(h, hash->p, n) == 0)
		return true;
	sa->core->st.auth_failures++;
	log_err(LOG_IKE, "%s: %s invalid: probable pre-shared key mismatch with %s", tag_of(sa),
		sa->initiator ? "HASH_R" : "HASH_I", addr_ntop(&sa->remote, peer, sizeof(peer)));
	return false;
}

static bool remote_id_ok(struct ike_sa *sa)
{
	char id[IKE_MAX_ID * 2];
	if (identity_matches_cfg(sa->conn->cfg->remote.id, sa->peer_id))
		return true;
	sa->core->st.auth_failures++;
	log_err(LOG_IKE, "%s: peer identity %s does not match the configured '%s'", tag_of(sa),
		identity_fmt(sa->peer_id, id, sizeof(id)), sa->conn->cfg->remote.id);
	return false;
}

/* Signatures: the identity first (the certificate must name it), then the chain and
 * the SIG over the HASH_I/HASH_R we compute ourselves. */
static bool check_id_sig(struct ike_sa *sa, const struct v1_msg *m, const struct isakmp_id *pid)
{
	uint8_t h[IKE_MAX_PRF_OUT];
	if (!take_peer_id(sa, pid) || !remote_id_ok(sa))
		return false;
	bool ok = ikev1_hash_auth(sa, !sa->initiator, pid->body, pid->body_len, h) == 0 &&
		  ikev1_check_cert_sig(sa, m, h, isakmp_hash_auth_len(&sa->v1->keys));
	wipe(h, sizeof(h));
	if (!ok)
		sa->core->st.auth_failures++;
	return ok;
}

/* Checks the peer's ID and HASH_I/HASH_R; false (logged) if they do not fit. */
bool ikev1_check_id_hash(struct ike_sa *sa, const struct v1_msg *m)
{
	bool sig = ikev1_sa_sig(sa);
	if (m->pl.n_id != 1 || (!sig && !m->pl.has_hash) || m->pl.id[0].len > IKE_MAX_ID) {
		log_err(LOG_IKE, "%s: %s message without ID and HASH", tag_of(sa),
			isakmp_exchange_name(m->hdr.exchange));
		return false;
	}
	const struct isakmp_id *pid = &m->pl.id[0];
	if (sig)
		return check_id_sig(sa, m, pid);
	if (!ikev1_check_hash(sa, pid->body, pid->body_len, &m->pl.hash))
		return false;
	return take_peer_id(sa, pid) && remote_id_ok(sa);
}

/* MM5 and MM6 are encrypted with keys derived from the PSK: with another PSK they
 * decrypt to garbage, which fails parsing before HASH_I/R can even be compared. Said
 * once per SA; the SA waits on (a forged message must not end it). With signatures
 * the keys need no secret: a failure is a malformed message (logged, counted). */
static int decrypt_auth(struct ike_sa *sa, struct v1_msg *m)
{
	char peer[ADDR_STRLEN];
	if (ikev1_decrypt(sa, m, &sa->v1->iv) == 0)
		return 0;
	if (!ikev1_sa_sig(sa) && !sa->v1->psk_warned && (m->hdr.flags & ISAKMP_FLAG_E)) {
		sa->v1->psk_warned = true;
		sa->core->st.auth_failures++;
		log_err(LOG_IKE, "%s: %s undecryptable, %s unverifiable: probable pre-shared key "
			"mismatch with %s", tag_of(sa), sa->initiator ? "MM6" : "MM5",
			sa->initiator ? "HASH_R" : "HASH_I", addr_ntop(&sa->remote, peer, sizeof(peer)));
	}
	return -1;
}

/* ---- the state machine ---- */

static void initiator_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_builder k;
	const char *err = NULL;
	char why[512];
	if (v->state == MM_WAIT_MSG2 || v->state == MM_WAIT_MSG4) {
		if (isakmp_parse_payloads(m->hdr.next_payload, m->raw + ISAKMP_HDR_LEN,
					  m->raw_len - ISAKMP_HDR_LEN, 0, &m->pl, &err) < 0) {
			sa->core->st.rx_invalid++;
			return;
		}
	}
	switch (v->state) {
	case MM_WAIT_MSG2: {
		struct isakmp_choice ch;
		if (!m->pl.has_sa || m->pl.n_props != 1 || m->pl.props[0].n_xf != 1 ||
		    !isakmp_sa_select(&m->pl, v->offered, v->n_offered, &ch, why, sizeof(why))) {
			sa->core->st.rx_invalid++;
			if (ike_log_allowed(sa->core, DROP_MALFORMED))
				log_err(LOG_IKE, "%s: responder chose no transform we offered, ignored",
					tag_of(sa));
			return;
		}
		if (proposal_keep(&sa->prop, &ch.prop) < 0)
			return;
		memcpy(sa->spi_r, m->hdr.cky_r, 8);
		v->params = ch.params;
		ikev1_life_p1_agree(sa, &ch.params);
		ikev1_take_vids(sa, m);
		ike_request_clear(sa);
		isb_init(&k);
		if (ikev1_add_ke_nonce(sa, &k, &v->gxi) < 0) {
			isb_free(&k);
			ike_sa_destroy(sa);
			return;
		}
		if (ikev1_sa_sig(sa))
			ikev1_add_certreq(sa, &k);
		v->state = MM_WAIT_MSG4;
		mm_send(sa, &k, false, NULL);
		break;
	}
	case MM_WAIT_MSG4:
		if (!ikev1_ke_nonce_ok(sa, m))
			return;
		if (ikev1_take_ke_nonce(sa, m, NULL) < 0 || ikev1_finish_keys(sa) < 0) {
			ike_sa_destroy(sa);
			return;
		}
		if (v->natt_peer)
			ikev1_check_natd(sa, m);
		sa->peer_certreq |= m->pl.n_cr > 0;
		if (v->natt_peer && (sa->nat_here || sa->nat_there || sa->conn->cfg->encap)) {
			/* RFC 3947 4: move to the NAT-T port from MM5 on. */
			sa->natt = true;
			sa->local.port = sa->core->t.port_natt;
			sa->remote.port = sa->core->t.port_natt;
		}
		ike_request_clear(sa);
		v->state = MM_WAIT_MSG6;
		if (send_id_hash(sa, NULL) < 0)
			ike_sa_destroy(sa);
		break;
	case MM_WAIT_MSG6:
		if (decrypt_auth(sa, m) < 0)
			return;
		if (!ikev1_check_id_hash(sa, m)) {
			/* MM6 decrypted, so the keys agree: the responder, established
			 * by now, learns it with a protected DELETE (as strongSwan does;
			 * it ignores error notifies once established). */
			v->iv = m->next_iv;
			ike_request_clear(sa);
			ikev1_delete_all(sa);
			return;
		}
		v->iv = m->next_iv;
		ike_request_clear(sa);
		ikev1_phase1_authenticated(sa);
		if (sa->initial_child)
			ike_sa_queue(sa, TASK_CHILD_CREATE, sa->initial_child, 0);
		else
			ike_sa_run_tasks(sa);
		break;
	default:
		sa->core->st.rx_invalid++;
	}
}

static void responder_in(struct ike_sa *sa, struct v1_msg *m)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_builder k;
	const char *err = NULL;
	switch (v->state) {
	case MM_WAIT_MSG3:
		if (isakmp_parse_payloads(m->hdr.next_payload, m->raw + ISAKMP_HDR_LEN,
					  m->raw_len - ISAKMP_HDR_LEN, 0, &m->pl, &err) < 0) {
			sa->core->st.rx_invalid++;
			return;
		}
		if (!ikev1_ke_nonce_ok(sa, m))
			return;
		isb_init(&k);
		if (ikev1_add_ke_nonce(sa, &k, &v->gxr) < 0 || ikev1_take_ke_nonce(sa, m, NULL) < 0 ||
		    ikev1_finish_keys(sa) < 0) {
			isb_free(&k);
			ike_sa_destroy(sa);
			return;
		}
		if (v->natt_peer)
			ikev1_check_natd(sa, m);
		sa->peer_certreq |= m->pl.n_cr > 0;
		if (ikev1_sa_sig(sa))
			ikev1_add_certreq(sa, &k);
		v->state = MM_WAIT_MSG5;
		mm_send(sa, &k, false, m);
		break;
	case MM_WAIT_MSG5:
		if (decrypt_auth(sa, m) < 0)
			return;
		if (!ikev1_check_id_hash(sa, m)) {
			/* MM5 decrypted, so the keys agree: the notify goes protected, as
			 * the initiator expects once keys exist (the IV follows MM5). */
			uint8_t cookies[16];
			memcpy(cookies, sa->spi_i, 8);
			memcpy(cookies + 8, sa->spi_r, 8);
			v->iv = m->next_iv;
			ikev1_notify_protected(sa, ISAKMP_N_AUTHENTICATION_FAILED, ISAKMP_PROTO_ISAKMP,
					       cookies, 16);
			ike_sa_destroy(sa);
			return;
		}
		v->iv = m->next_iv;
		ikev1_initial_contact_in(sa, m);
		sa->peer_certreq |= m->pl.n_cr > 0;
		if (send_id_hash(sa, m) < 0) {
			ike_sa_destroy(sa);
			return;
		}
		ikev1_phase1_authenticated(sa);
		break;
	default:
		sa->core->st.rx_invalid++;
	}
}

void ikev1_main_in(struct ike_sa *sa, struct v1_msg *m)
{
	if (m->hdr.msgid != 0) {
		sa->core->st.rx_invalid++;
		return;
	}
	if (sa->initiator)
		initiator_in(sa, m);
	else
		responder_in(sa, m);
}
