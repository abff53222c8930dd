/* IKE_AUTH (RFC 7296 1.2, 2.15) with pre-shared keys or certificates (signatures:
 * ikev2_pubkey.c), and the first CHILD_SA. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ike/ike_private.h"
#include "lib/wipe.h"

static void id_body(const struct identity *id, uint8_t *out, size_t *len)
{
	out[0] = id->type;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, id->data, id->len);
	*len = 4 + (size_t)id->len;
}

/* -1: out of memory. */
static int my_identity(struct ike_sa *sa)
{
	const char *cfg_id = sa->conn->cfg->local.id;
	struct identity id;
	/* strongSwan's default: the certificate's subject */
	if ((cfg_id || ikev2_cert_identity(sa, &id) < 0) &&
	    (!cfg_id || identity_from_string(cfg_id, &id) < 0))
		identity_from_addr(&sa->local, &id);
	return ike_sa_set_id(sa, true, &id);
}

/* AUTH for the given signer: `msg` is the signer's IKE_SA_INIT message, `nonce` the
 * other side's nonce, sk_p the signer's SK_p. */
static int compute_auth(struct ike_sa *sa, const struct secret_cfg *psk, const struct buf *msg,
			const uint8_t *nonce, size_t nonce_len, bool signer_is_initiator,
			const struct identity *signer, uint8_t *out, size_t *outlen)
{
	uint8_t body[4 + IKE_MAX_ID];
	size_t body_len;
	const struct xform *p = proposal_get(sa->prop, XF_PRF);
	id_body(signer, body, &body_len);
	return ike_psk_auth(p->id, psk->secret, psk->secret_len, msg->data, msg->len, nonce,
			    nonce_len, signer_is_initiator ? sa->keys.sk_pi : sa->keys.sk_pr,
			    sa->keys.prf_len, body, body_len, out, outlen);
}

static void established(struct ike_sa *sa)
{
	char me[128], peer[128], a[ADDR_STRLEN], b[ADDR_STRLEN];
	ike_sa_set_state(sa, IKE_ESTABLISHED);
	/* Both AUTH payloads are computed and checked: the IKE_SA_INIT messages are
	 * needed no more (a replay of the request is dropped, see init_retransmit). */
	buf_free(&sa->init_i);
	buf_free(&sa->init_r);
	sa->established_at = sa->core->now;
	sa->last_rx = sa->core->now;
	sa->core->st.established_total++;
	ike_sa_schedule_rekey(sa);
	log_info(LOG_IKE, "IKE_SA %s[%u] established between %s[%s]...%s[%s]", ike_sa_name(sa),
		 sa->uniqueid, addr_ntop(&sa->local, a, sizeof(a)),
		 identity_fmt(sa->my_id, me, sizeof(me)), addr_ntop(&sa->remote, b, sizeof(b)),
		 identity_fmt(sa->peer_id, peer, sizeof(peer)));
	if (sa->core->env.updown)
		sa->core->env.updown(sa->core->env.arg, sa, NULL, true);
}

void child_established(struct ike_sa *sa, struct child_sa *c)
{
	char l[512] = "", r[512] = "";
	for (size_t i = 0; i < c->n_local_ts; i++) {
		char s[SELECTOR_STRLEN];
		size_t n = strlen(l);
		snprintf(l + n, sizeof(l) - n, "%s%s", i ? " " : "", selector_fmt(&c->local_ts[i], s, sizeof(s)));
	}
	for (size_t i = 0; i < c->n_remote_ts; i++) {
		char s[SELECTOR_STRLEN];
		size_t n = strlen(r);
		snprintf(r + n, sizeof(r) - n, "%s%s", i ? " " : "", selector_fmt(&c->remote_ts[i], s, sizeof(s)));
	}
	child_attach(sa, c);
	child_schedule(sa, c);
	log_info(LOG_IKE, "CHILD_SA %s{%u} established with SPIs %08x_i %08x_o and TS %s === %s%s",
		 c->cfg->name, c->uniqueid, c->spi_in, c->spi_out, l, r,
		 c->encap ? " (UDP-encapsulated)" : "");
	if (sa->core->env.updown)
		sa->core->env.updown(sa->core->env.arg, sa, c, true);
}

static struct secret_cfg *find_psk_or_log(struct ike_sa *sa)
{
	char me[128], peer[128];
	struct secret_cfg *psk = ike_find_psk(sa->core, sa->my_id, sa->peer_id);
	if (!psk)
		log_err(LOG_CFG, "no shared key found for '%s' - '%s'",
			identity_fmt(sa->my_id, me, sizeof(me)),
			identity_fmt(sa->peer_id, peer, sizeof(peer)));
	return psk;
}

/* Our AUTH data: a signature (local auth = pubkey) or the PSK's MAC. 0 or -1 (logged). */
static int my_auth(struct ike_sa *sa, bool initiator, uint8_t *method, struct buf *out)
{
	if (sa->conn->cfg->local.auth == AUTH_PUBKEY)
		return ikev2_pubkey_sign(sa, initiator, method, out);
	uint8_t auth[IKE_MAX_PRF_OUT];
	size_t auth_len = sizeof(auth);
	struct secret_cfg *psk = find_psk_or_log(sa);
	if (!psk || compute_auth(sa, psk, initiator ? &sa->init_i : &sa->init_r,
				 initiator ? sa->nr : sa->ni, initiator ? sa->nr_len : sa->ni_len,
				 initiator, sa->my_id, auth, &auth_len) < 0)
		return -1;
	*method = AUTH_METHOD_PSK;
	buf_put(out, auth, auth_len);
	wipe(auth, sizeof(auth));
	log_info(LOG_IKE, "authentication of '%s' (myself) with pre-shared key",
		 identity_fmt(sa->my_id, (char[128]){ 0 }, 128));
	return 0;
}

/* An established IKE SA of the same connection with the same peer identity. */
static struct ike_sa *duplicate_of(struct ike_sa *sa, struct ike_sa *after)
{
	for (struct ike_sa *o = after ? after->next : sa->core->sas; o; o = o->next)
		if (o != sa && o->state == IKE_ESTABLISHED && o->conn && sa->conn &&
		    strcmp(o->conn->cfg->name, sa->conn->cfg->name) == 0 &&
		    identity_equal(o->peer_id, sa->peer_id))
			return o;
	return NULL;
}

/* Other IKE SAs with the same peer identity on this connection (INITIAL_CONTACT,
 * unique=replace): the peer has restarted, they are stale. */
static void drop_duplicates(struct ike_sa *sa)
{
	for (struct ike_sa *o = duplicate_of(sa, NULL); o; o = duplicate_of(sa, o)) {
		log_info(LOG_IKE, "destroying duplicate IKE_SA %s[%u] of peer that sent "
			 "INITIAL_CONTACT", ike_sa_name(o), o->uniqueid);
		ike_sa_destroy(o);
	}
}

void ikev2_auth_start(struct ike_sa *sa)
{
	struct request *r = &sa->req;
	const struct conn_cfg *cfg = sa->conn->cfg;
	struct ikev2_builder k;
	struct buf auth;
	uint8_t method;

	r->kind = TASK_IKE_AUTH;
	struct identity peer;
	if (!cfg->remote.id || identity_from_string(cfg->remote.id, &peer) < 0 ||
	    strcmp(cfg->remote.id, "%any") == 0)
		identity_from_addr(&sa->remote, &peer);
	if (my_identity(sa) < 0 || ike_sa_set_id(sa, false, &peer) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	bool eap = cfg->local.auth == AUTH_EAP;	/* no AUTH: EAP follows (RFC 7296 2.16) */
	buf_init(&auth);
	if (eap ? ikev2_eap_client_begin(sa) < 0 : my_auth(sa, true, &method, &auth) < 0) {
		buf_wipe_free(&auth);
		ike_sa_destroy(sa);
		return;
	}
	ikb_init(&k);
	ikb_id(&k, PL_IDI, sa->my_id->type, sa->my_id->data, sa->my_id->len);
	ikev2_add_certs(sa, &k);
	bool other = false;
	for (struct ike_sa *o = sa->core->sas; o; o = o->next)
		other |= o != sa && o->state == IKE_ESTABLISHED && addr_equal_ip(&o->remote, &sa->remote);
	if (!other && cfg->unique != UNIQUE_NEVER)
		ikb_notify(&k, 0, NULL, 0, N_INITIAL_CONTACT, NULL, 0);
	ikev2_add_certreq(sa, &k);
	if (cfg->remote.id && strcmp(cfg->remote.id, "%any") != 0 &&
	    !identity_has_wildcard(cfg->remote.id))
		ikb_id(&k, PL_IDR, sa->peer_id->type, sa->peer_id->data, sa->peer_id->len);
	if (!eap)
		ikb_auth(&k, method, auth.data, auth.len);
	buf_wipe_free(&auth);
	ikev2_cp_request(sa, &k);

	struct child_cfg *cc = sa->initial_child ? sa->initial_child : cfg->children;
	if (cc) {
		struct child_sa *c = child_sa_new(sa, cc, true);
		if (c) {
			c->spi_in = child_alloc_spi(sa, c);
			struct proposal *offer = ike_request_offer(r);
			int n = offer ? child_offer(sa, c, offer, IKEV2_MAX_PROPOSALS, false) : -1;
			r->n_offered = (size_t)(n > 0 ? n : 0);
			struct selector l[IKEV2_MAX_TS], rt[IKEV2_MAX_TS];
			size_t nl, nr;
			child_local_ts(sa, cc, l, &nl);
			child_remote_ts(sa, cc, rt, &nr);
			child_set_ts(c, l, nl, rt, nr);	/* out of memory: none offered */
			if (cc->mode == MODE_TRANSPORT)
				ikb_notify(&k, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
			ikb_sa(&k, r->offered, r->n_offered);
			ikb_ts(&k, PL_TSI, c->local_ts, c->n_local_ts);
			ikb_ts(&k, PL_TSR, c->remote_ts, c->n_remote_ts);
			r->child = c;
		}
	}
	if (eap)
		log_info(LOG_IKE, "authentication of '%s' (myself) with EAP",
			 identity_fmt(sa->my_id, (char[128]){ 0 }, 128));
	ike_send_request(sa, IKE_AUTH, &k);
}

/* Responder: the connection that fits the peer's identity (it may differ from the one
 * IKE_SA_INIT picked by address). Another connection must also admit the SA's
 * addresses and chosen IKE proposal: IKE_SA_INIT checked those only for the first.
 * The first connection that accepts the identity but not the rest is reported. */
static struct conn *conn_for_identity(struct ike_sa *sa, const struct conn **unfit,
				      const char **why)
{
	*unfit = NULL;
	if (sa->conn && identity_matches_cfg(sa->conn->cfg->remote.id, sa->peer_id))
		return sa->conn;
	for (struct conn *c = sa->core->conns; c; c = c->next) {
		if (c->retired || c == sa->conn || c->cfg->version == 1 ||
		    !identity_matches_cfg(c->cfg->remote.id, sa->peer_id))
			continue;
		const char *reason = ikev2_conn_unfit(c, sa);
		if (!reason)
			return c;
		if (!*unfit) {
			*unfit = c;
			*why = reason;
		}
	}
	return NULL;
}

static void auth_failed(struct ike_sa *sa, const struct msg_in *m)
{
	struct ikev2_builder k;
	ikb_init(&k);
	ikb_notify(&k, 0, NULL, 0, N_AUTHENTICATION_FAILED, NULL, 0);
	ike_send_response(sa, m, &k);
	sa->core->st.auth_failures++;
	ike_sa_destroy(sa);
}

static void responder_child(struct ike_sa *sa, const struct ikev2_payloads *pl,
			    struct ikev2_builder *k)
{
	char tag[128];
	uint16_t error;
	if (!pl->has_sa || !pl->has_tsi || !pl->has_tsr)
		return;
	struct child_sa *c = child_choose(sa, pl, NULL, false, &error);
	if (!c) {
		ikb_notify(k, 0, NULL, 0, error, NULL, 0);
		return;
	}
	c->spi_in = child_alloc_spi(sa, c);
	if (!c->spi_in || child_install(sa, c, NULL, 0, sa->ni, sa->ni_len, sa->nr, sa->nr_len) < 0) {
		log_err(LOG_IKE, "%s: unable to install CHILD_SA '%s'", ike_sa_tag(sa, tag, sizeof(tag)),
			c->cfg->name);
		child_sa_free(c);
		ikb_notify(k, 0, NULL, 0, N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	struct proposal p;
	proposal_copy(&p, c->prop);
	p.spi_len = 4;
	put_u32(p.spi, c->spi_in);
	if (c->mode == MODE_TRANSPORT)
		ikb_notify(k, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ikb_sa(k, &p, 1);
	ikb_ts(k, PL_TSI, c->remote_ts, c->n_remote_ts);
	ikb_ts(k, PL_TSR, c->local_ts, c->n_local_ts);
	child_established(sa, c);
}

/* The peer's AUTH by pre-shared key: the initiator's when we respond (request), else
 * the responder's. 0 or -1 (logged). */
static int verify_psk(struct ike_sa *sa, const struct msg_in *m, const char *tag, bool request)
{
	char peer[128], a[ADDR_STRLEN];
	uint8_t expect[IKE_MAX_PRF_OUT];
	size_t expect_len = sizeof(expect);
	const char *answer = request ? "; sending AUTHENTICATION_FAILED" : "";
	const struct buf *msg = request ? &sa->init_i : &sa->init_r;
	struct secret_cfg *psk = find_psk_or_log(sa);
	if (!psk || m->pl.auth_method != AUTH_METHOD_PSK ||
	    compute_auth(sa, psk, msg, request ? sa->nr : sa->ni, request ? sa->nr_len : sa->ni_len,
			 request, sa->peer_id, expect, &expect_len) < 0 ||
	    expect_len != m->pl.auth_len || sodium_memcmp(expect, m->pl.auth, expect_len) != 0) {
		if (psk && m->pl.auth_method != AUTH_METHOD_PSK)
			log_err(LOG_IKE, "%s: peer '%s' uses auth method %u, we expect a pre-shared key%s",
				tag, identity_fmt(sa->peer_id, peer, sizeof(peer)), m->pl.auth_method,
				answer);
		else if (psk)
			log_err(LOG_IKE, "%s: AUTH payload of '%s' does not verify: probable pre-shared "
				"key mismatch with %s%s", tag,
				identity_fmt(sa->peer_id, peer, sizeof(peer)),
				addr_ntop(&sa->remote, a, sizeof(a)), answer);
		wipe(expect, sizeof(expect));
		return -1;
	}
	wipe(expect, sizeof(expect));
	log_info(LOG_IKE, "authentication of '%s' with pre-shared key successful",
		 identity_fmt(sa->peer_id, peer, sizeof(peer)));
	return 0;
}

void ikev2_auth_request_in(struct ike_sa *sa, struct msg_in *m)
{
	char tag[128], peer[128], want[128], a[ADDR_STRLEN];

	/* Only reached as responder in CONNECTING: ike_input.c answers the rest. */
	if (sa->eap) {
		ikev2_eap_server_in(sa, m);
		return;
	}
	if (!m->pl.has_idi) {
		log_err(LOG_IKE, "IKE_AUTH request without IDi from %s",
			addr_ntop(&sa->remote, a, sizeof(a)));
		auth_failed(sa, m);
		return;
	}
	struct identity idi;
	identity_from_payload(&m->pl.idi, &idi);
	if (ike_sa_set_id(sa, false, &idi) < 0) {
		auth_failed(sa, m);
		return;
	}
	ike_sa_tag(sa, tag, sizeof(tag));
	const struct conn *unfit;
	const char *why;
	struct conn *conn = conn_for_identity(sa, &unfit, &why);
	if (!conn) {
		const char *cfg_id = sa->conn ? sa->conn->cfg->remote.id : NULL;
		identity_fmt(sa->peer_id, peer, sizeof(peer));
		if (unfit)
			log_err(LOG_CFG, "%s: identity mismatch: peer identifies as '%s', but "
				"connection '%s' expects '%s'; connection '%s' accepts that identity, "
				"but %s; sending AUTHENTICATION_FAILED", tag, peer, ike_sa_name(sa),
				cfg_id ? cfg_id : "%any", unfit->cfg->name, why);
		else
			log_err(LOG_CFG, "%s: identity mismatch: peer identifies as '%s', but "
				"connection '%s' expects '%s' and no other connection accepts it; "
				"sending AUTHENTICATION_FAILED", tag, peer, ike_sa_name(sa),
				cfg_id ? cfg_id : "%any");
		auth_failed(sa, m);
		return;
	}
	if (conn != sa->conn) {
		log_info(LOG_CFG, "switching to connection '%s' for peer '%s'", conn->cfg->name,
			 identity_fmt(sa->peer_id, peer, sizeof(peer)));
		conn->refs++;
		if (sa->conn)
			conn_put(sa->core, sa->conn);
		sa->conn = conn;
	}
	if (my_identity(sa) < 0) {
		auth_failed(sa, m);
		return;
	}
	if (m->pl.has_idr) {
		struct identity asked;
		identity_from_payload(&m->pl.idr, &asked);
		if (!identity_equal(&asked, sa->my_id)) {
			log_err(LOG_CFG, "%s: identity mismatch: peer wants to talk to '%s', we are '%s'; "
				"sending AUTHENTICATION_FAILED", tag,
				identity_fmt(&asked, want, sizeof(want)),
				identity_fmt(sa->my_id, peer, sizeof(peer)));
			auth_failed(sa, m);
			return;
		}
	}
	sa->peer_certreq |= m->pl.has_certreq;
	bool eap = sa->conn->cfg->remote.auth == AUTH_EAP;
	if (!m->pl.has_auth && eap) {
		ikev2_eap_server_begin(sa, m);
		return;
	}
	if (!m->pl.has_auth || eap) {
		log_err(LOG_IKE, "%s: IKE_AUTH request of '%s' %s; sending AUTHENTICATION_FAILED",
			tag, identity_fmt(sa->peer_id, peer, sizeof(peer)),
			eap ? "carries AUTH, but connection wants EAP" : "without AUTH");
		auth_failed(sa, m);
		return;
	}
	if (sa->conn->cfg->remote.auth == AUTH_PUBKEY) {
		if (ikev2_pubkey_verify(sa, m, true, "; sending AUTHENTICATION_FAILED") < 0) {
			auth_failed(sa, m);
			return;
		}
	} else if (verify_psk(sa, m, tag, true) < 0) {
		auth_failed(sa, m);
		return;
	}
	struct ikev2_builder k;
	ikb_init(&k);
	if (ikev2_auth_add_own(sa, &k) < 0) {
		ikb_free(&k);
		auth_failed(sa, m);
		return;
	}
	ikev2_auth_responder_finish(sa, m, &k);
}

/* IDr, our certificates and AUTH as responder (signature or pre-shared key). */
int ikev2_auth_add_own(struct ike_sa *sa, struct ikev2_builder *k)
{
	struct buf auth;
	uint8_t method;
	buf_init(&auth);
	if (my_auth(sa, false, &method, &auth) < 0) {
		buf_wipe_free(&auth);
		return -1;
	}
	ikb_id(k, PL_IDR, sa->my_id->type, sa->my_id->data, sa->my_id->len);
	ikev2_add_certs(sa, k);
	ikb_auth(k, method, auth.data, auth.len);
	buf_wipe_free(&auth);
	return 0;
}

void ikev2_auth_responder_finish(struct ike_sa *sa, const struct msg_in *m,
				 struct ikev2_builder *k)
{
	char tag[128], peer[128];
	ike_sa_tag(sa, tag, sizeof(tag));
	enum unique_policy unique = sa->conn->cfg->unique;
	if (unique == UNIQUE_KEEP && duplicate_of(sa, NULL)) {
		log_err(LOG_IKE, "%s: unique=keep: an IKE_SA with '%s' exists already, rejecting the "
			"new one", tag, identity_fmt(sa->peer_id, peer, sizeof(peer)));
		ikb_free(k);
		auth_failed(sa, m);
		return;
	}
	/* unique=never: several SAs per peer are wanted, INITIAL_CONTACT is ignored. */
	if ((ikev2_find_notify(&m->pl, N_INITIAL_CONTACT) && unique != UNIQUE_NEVER) ||
	    unique == UNIQUE_REPLACE)
		drop_duplicates(sa);
	bool cp_ok = ikev2_cp_respond(sa, m, k);
	established(sa);
	if (cp_ok)
		responder_child(sa, &m->pl, k);
	ike_sa_drop_nonces(sa);
	ike_send_response(sa, m, k);
	if (!cp_ok)
		ike_sa_queue(sa, TASK_IKE_DELETE, NULL, 0);
}

static bool ts_within_any(const struct selector *ts, size_t n, const struct selector *ours,
			  size_t n_ours)
{
	for (size_t i = 0; i < n; i++) {
		bool ok = false;
		for (size_t j = 0; j < n_ours && !ok; j++)
			ok = selector_within(&ts[i], &ours[j]);
		if (!ok)
			return false;
	}
	return n > 0;
}

/* Initiator: adopt the responder's choice for a child we proposed. Shared with
 * CREATE_CHILD_SA. Returns 0 or -1 (logged). */
int child_accept_response(struct ike_sa *sa, struct child_sa *c, const struct msg_in *m,
			  const struct proposal *offered, size_t n_offered)
{
	char tag[128];
	ike_sa_tag(sa, tag, sizeof(tag));
	const struct ikev2_notify *n = ikev2_error_notify(&m->pl);
	if (n) {
		const char *name = ikev2_notify_name(n->type);
		if (n->type == N_TS_UNACCEPTABLE) {
			char l[SELECTOR_STRLEN], r[SELECTOR_STRLEN];
			log_err(LOG_IKE, "%s: CHILD_SA '%s' failed: peer answered TS_UNACCEPTABLE to "
				"our traffic selectors %s === %s", tag, c->cfg->name,
				selector_fmt(&c->local_ts[0], l, sizeof(l)),
				selector_fmt(&c->remote_ts[0], r, sizeof(r)));
		} else if (n->type == N_NO_PROPOSAL_CHOSEN) {
			char ours[1024];
			proposal_list_fmt(offered, n_offered, ours, sizeof(ours));
			log_err(LOG_IKE, "%s: CHILD_SA '%s' failed: peer answered NO_PROPOSAL_CHOSEN to "
				"our ESP proposals %s", tag, c->cfg->name, ours);
		} else {
			log_err(LOG_IKE, "%s: CHILD_SA '%s' failed: peer answered %s", tag, c->cfg->name,
				name ? name : "an error");
		}
		return -1;
	}
	struct proposal chosen;
	if (!m->pl.has_sa || m->pl.n_props != 1 || !m->pl.has_tsi || !m->pl.has_tsr ||
	    !proposal_select(offered, n_offered, m->pl.props, 1, &chosen) ||
	    chosen.spi_len != 4 || proposal_keep(&c->prop, &chosen) < 0) {
		log_err(LOG_IKE, "%s: CHILD_SA '%s': response without an acceptable SA or TS", tag,
			c->cfg->name);
		return -1;
	}
	c->spi_out = get_u32(c->prop->spi);
	struct selector cl[IKEV2_MAX_TS], cr[IKEV2_MAX_TS];
	size_t ncl, ncr;
	child_local_ts(sa, c->cfg, cl, &ncl);
	child_remote_ts(sa, c->cfg, cr, &ncr);
	if (!ts_within_any(m->pl.tsi, m->pl.n_tsi, cl, ncl) ||
	    !ts_within_any(m->pl.tsr, m->pl.n_tsr, cr, ncr)) {
		log_err(LOG_IKE, "%s: CHILD_SA '%s': responder's traffic selectors are not within "
			"what we proposed", tag, c->cfg->name);
		return -1;
	}
	if (child_set_ts(c, m->pl.tsi, m->pl.n_tsi, m->pl.tsr, m->pl.n_tsr) < 0) {
		log_err(LOG_IKE, "%s: CHILD_SA '%s': out of memory", tag, c->cfg->name);
		return -1;
	}
	bool transport = ikev2_find_notify(&m->pl, N_USE_TRANSPORT_MODE) != NULL;
	c->mode = transport ? MODE_TRANSPORT : MODE_TUNNEL;
	const struct xform *dh = proposal_get(c->prop, XF_DH);
	c->pfs_group = dh ? dh->id : DH_NONE;
	return 0;
}

void ikev2_auth_response_in(struct ike_sa *sa, struct msg_in *m)
{
	char tag[128], me[128], peer[128], a[ADDR_STRLEN];

	ike_sa_tag(sa, tag, sizeof(tag));
	if (sa->eap && ikev2_eap_client_in(sa, m))
		return;
	if (ikev2_find_notify(&m->pl, N_AUTHENTICATION_FAILED)) {
		log_err(LOG_IKE, "%s: peer %s answered AUTHENTICATION_FAILED: it rejected our identity "
			"'%s' or our %s (check both on the peer)", tag,
			addr_ntop(&sa->remote, a, sizeof(a)), identity_fmt(sa->my_id, me, sizeof(me)),
			sa->conn->cfg->local.auth == AUTH_PUBKEY ? "certificate" : "pre-shared key");
		sa->core->st.auth_failures++;
		ike_sa_destroy(sa);
		return;
	}
	if (!m->pl.has_idr || !m->pl.has_auth) {
		const struct ikev2_notify *n = ikev2_error_notify(&m->pl);
		const char *name = n ? ikev2_notify_name(n->type) : NULL;
		log_err(LOG_IKE, "%s: IKE_AUTH failed: %s", tag,
			name ? name : "response without IDr or AUTH");
		ike_sa_destroy(sa);
		return;
	}
	struct identity got;
	identity_from_payload(&m->pl.idr, &got);
	const char *cfg_id = sa->conn->cfg->remote.id;
	if (!identity_matches_cfg(cfg_id, &got)) {
		log_err(LOG_IKE, "%s: identity mismatch: peer identifies as '%s', expected '%s'", tag,
			identity_fmt(&got, peer, sizeof(peer)), cfg_id);
		sa->core->st.auth_failures++;
		ike_sa_destroy(sa);
		return;
	}
	if (ike_sa_set_id(sa, false, &got) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	if (sa->conn->cfg->remote.auth == AUTH_PUBKEY) {
		if (ikev2_pubkey_verify(sa, m, false, "") < 0) {
			sa->core->st.auth_failures++;
			ike_sa_destroy(sa);
			return;
		}
	} else if (verify_psk(sa, m, tag, false) < 0) {
		sa->core->st.auth_failures++;
		ike_sa_destroy(sa);
		return;
	}
	if (sa->eap) {
		ikev2_eap_client_authenticated(sa, m);
		return;
	}
	ikev2_auth_initiator_finish(sa, m);
}

void ikev2_auth_initiator_finish(struct ike_sa *sa, const struct msg_in *m)
{
	struct request *r = &sa->req;
	established(sa);
	struct child_sa *c = r->child;
	r->child = NULL;
	bool vip_ok = ikev2_cp_reply_in(sa, m) == 0;
	if (c) {
		if (vip_ok && child_accept_response(sa, c, m, r->offered, r->n_offered) == 0 &&
		    child_install(sa, c, NULL, 0, sa->ni, sa->ni_len, sa->nr, sa->nr_len) == 0)
			child_established(sa, c);
		else
			child_sa_free(c);
	}
	ike_sa_drop_nonces(sa);
	ike_request_done(sa);
	if (!vip_ok)
		ike_sa_queue(sa, TASK_IKE_DELETE, NULL, 0);
}
