/* EAP in IKE_AUTH (RFC 7296 2.16). The initiator leaves AUTH out of its first IKE_AUTH
 * request; the responder answers with its own IDr and AUTH and the first EAP request;
 * EAP packets then travel in further IKE_AUTH exchanges until EAP-Success. Both sides
 * finish with AUTH payloads computed like a pre-shared key's, with the MSK as the key
 * (or, when the method makes none, with the signer's SK_p). The CHILD_SA asked for in
 * the first request is created in the last response.
 *
 * A responder drops an EAP message that does not fit (malformed, out of sequence) and
 * resends its last request; after MAX_DROPS of them the SA fails. A failed login is
 * answered with EAP-Failure and AUTHENTICATION_FAILED and logged with the EAP identity
 * (never the password). Nothing here touches another SA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ike/eap.h"
#include "ike/ike_private.h"
#include "lib/wipe.h"

#define MAX_DROPS 3

struct ikev2_eap {
	struct eap_server *server;
	struct eap_peer *peer;
	struct buf first;		/* responder: the first request's inner payloads */
	uint8_t first_type;		/* and the type of the first of them */
	unsigned drops;
	bool refusal_logged;		/* responder: the wrong password is logged and counted */
	bool server_authenticated;	/* initiator: the responder's AUTH verified */
	bool succeeded;			/* EAP-Success sent or received: AUTH next */
};

void ikev2_eap_free(struct ikev2_eap *e)
{
	if (!e)
		return;
	eap_server_free(e->server);
	eap_peer_free(e->peer);
	buf_wipe_free(&e->first);
	free(e);
}

bool ikev2_conn_eap(const struct conn_cfg *c)
{
	return c->local.auth == AUTH_EAP || c->remote.auth == AUTH_EAP;
}

static void ikb_eap(struct ikev2_builder *k, const struct buf *pkt)
{
	size_t off = ikb_begin(k, PL_EAP, false);
	buf_put(&k->b, pkt->data, pkt->len);
	ikb_end(k, off);
}

/* The AUTH that closes EAP: prf(prf(MSK or SK_p, "Key Pad for IKEv2"), <signed octets>). */
static int eap_auth_value(struct ike_sa *sa, const uint8_t *msk, size_t msk_len,
			  bool signer_is_initiator, uint8_t *out, size_t *outlen)
{
	const struct identity *id = signer_is_initiator == sa->initiator ? sa->my_id : sa->peer_id;
	const uint8_t *sk_p = signer_is_initiator ? sa->keys.sk_pi : sa->keys.sk_pr;
	uint8_t body[4 + IKE_MAX_ID] = { id->type };
	memcpy(body + 4, id->data, id->len);
	if (!msk) {
		msk = sk_p;
		msk_len = sa->keys.prf_len;
	}
	const struct buf *msg = ike_sa_init_msg(sa, signer_is_initiator);
	const uint8_t *nonce = signer_is_initiator ? sa->nr : sa->ni;
	size_t nonce_len = signer_is_initiator ? sa->nr_len : sa->ni_len;
	return ike_psk_auth(proposal_get(sa->prop, XF_PRF)->id, msk, msk_len, msg->data,
			    msg->len, nonce, nonce_len, sk_p, sa->keys.prf_len, body,
			    4 + (size_t)id->len, out, outlen);
}

static bool auth_matches(struct ike_sa *sa, const struct msg_in *m, const uint8_t *msk,
			 size_t msk_len, bool signer_is_initiator)
{
	uint8_t expect[IKE_MAX_PRF_OUT];
	size_t len = sizeof(expect);
	bool ok = m->pl.has_auth && m->pl.auth_method == AUTH_METHOD_PSK &&
		  eap_auth_value(sa, msk, msk_len, signer_is_initiator, expect, &len) == 0 &&
		  len == m->pl.auth_len && sodium_memcmp(expect, m->pl.auth, len) == 0;
	wipe(expect, sizeof(expect));
	return ok;
}

static const char *user_of(const struct ike_sa *sa, char *out, size_t outlen)
{
	size_t n;
	const uint8_t *id = eap_server_identity(sa->eap->server, &n);
	return eap_printable(id, n, out, outlen);
}

/* ---- responder: the authenticator ---- */

static void server_fail(struct ike_sa *sa, const struct msg_in *m, const struct buf *eap_pkt)
{
	struct ikev2_builder k;
	ikb_init(&k);
	ikb_notify(&k, 0, NULL, 0, N_AUTHENTICATION_FAILED, NULL, 0);
	if (eap_pkt && eap_pkt->len)
		ikb_eap(&k, eap_pkt);
	ike_send_response(sa, m, &k);
	if (!sa->eap || !sa->eap->refusal_logged)
		sa->core->st.auth_failures++;
	ike_sa_destroy(sa);
}

/* The method refused the credentials: logged and counted once, when it happens (an
 * MSCHAPv2 client may answer the Failure request by ending the SA instead). */
static void server_refused(struct ike_sa *sa, const char *why)
{
	char tag[128], user[128];
	struct ikev2_eap *e = sa->eap;
	if (e->refusal_logged)
		return;
	e->refusal_logged = true;
	log_err(LOG_IKE, "%s: %s authentication of '%s' failed: %s; sending EAP-Failure and "
		"AUTHENTICATION_FAILED", ike_sa_tag(sa, tag, sizeof(tag)),
		eap_type_name(eap_server_method(e->server)), user_of(sa, user, sizeof(user)),
		why && why[0] ? why : "refused");
	sa->core->st.eap_failures++;
	sa->core->st.auth_failures++;
}

void ikev2_eap_peer_gave_up(struct ike_sa *sa)
{
	char tag[128];
	log_info(LOG_IKE, "%s: peer ended EAP with AUTHENTICATION_FAILED",
		 ike_sa_tag(sa, tag, sizeof(tag)));
	if (sa->eap->server && eap_server_refused(sa->eap->server))
		server_refused(sa, eap_server_refused(sa->eap->server));
	else if (sa->eap->server)
		sa->core->st.auth_failures++;
	ike_sa_destroy(sa);
}

/* The EAP identity to run the method for: eap_id, else the IKE identity; NULL asks
 * the peer (eap_id = %any). */
static const char *server_identity(struct ike_sa *sa, char *buf, size_t len)
{
	const char *eap_id = sa->conn->cfg->remote.eap_id;
	if (eap_id && strcmp(eap_id, "%any") == 0)
		return NULL;
	return eap_id ? eap_id : identity_fmt(sa->peer_id, buf, len);
}

void ikev2_eap_server_begin(struct ike_sa *sa, struct msg_in *m)
{
	char tag[128], idbuf[300];
	const struct auth_cfg *remote = &sa->conn->cfg->remote;
	const char *id = server_identity(sa, idbuf, sizeof(idbuf));
	struct ikev2_builder k;
	struct buf pkt;
	ike_sa_tag(sa, tag, sizeof(tag));
	if (!(sa->eap = calloc(1, sizeof(*sa->eap))) ||
	    !(sa->eap->server = eap_server_new(remote->eap_method, (const uint8_t *)id,
					       id ? strlen(id) : 0))) {
		log_err(LOG_IKE, "%s: out of memory starting EAP", tag);
		server_fail(sa, m, NULL);
		return;
	}
	/* The CHILD_SA's SA and TS (and INITIAL_CONTACT) are answered in the last response. */
	buf_init(&sa->eap->first);
	buf_put(&sa->eap->first, m->plain.data, m->plain.len);
	sa->eap->first_type = m->pl.sk_first;
	ikb_init(&k);
	if (ikev2_auth_add_own(sa, &k) < 0) {
		ikb_free(&k);
		server_fail(sa, m, NULL);
		return;
	}
	ike_sa_login_begins(sa);	/* its first IKE_AUTH passed: no longer anonymous */
	buf_init(&pkt);
	eap_server_start(sa->eap->server, &pkt);
	ikb_eap(&k, &pkt);
	buf_free(&pkt);
	log_info(LOG_IKE, "%s: peer requested EAP, %s %s", tag,
		 id ? "starting" : "asking for the EAP identity before",
		 remote->eap_method ? eap_type_name(remote->eap_method) : "EAP-MSCHAPv2 (or EAP-MD5)");
	ike_send_response(sa, m, &k);
}

/* The client's AUTH after EAP-Success: the last exchange. Its answer carries what the
 * first request asked for (CHILD_SA, configuration payload), so it is built from that
 * request's payloads under this message's header. */
static void server_final(struct ike_sa *sa, struct msg_in *m)
{
	char tag[128], user[128];
	size_t msk_len;
	const uint8_t *msk = eap_server_msk(sa->eap->server, &msk_len);
	ike_sa_tag(sa, tag, sizeof(tag));
	if (!auth_matches(sa, m, msk, msk_len, true)) {
		log_err(LOG_IKE, "%s: AUTH of '%s' after EAP does not verify (%s); sending "
			"AUTHENTICATION_FAILED", tag, user_of(sa, user, sizeof(user)),
			msk ? "MSK" : "no MSK, SK_p");
		server_fail(sa, m, NULL);
		return;
	}
	uint8_t auth[IKE_MAX_PRF_OUT];
	size_t auth_len = sizeof(auth);
	struct msg_in *first = malloc(sizeof(*first));
	uint8_t unsupported;
	const char *err = NULL;
	if (first) {
		*first = *m;	/* header and addresses; its plain buffer stays m's */
		memset(&first->pl, 0, sizeof(first->pl));
	}
	if (!first || eap_auth_value(sa, msk, msk_len, false, auth, &auth_len) < 0 ||
	    ikev2_parse_payloads(sa->eap->first_type, sa->eap->first.data, sa->eap->first.len, 0,
				 &first->pl, &unsupported, &err) < 0) {
		log_err(LOG_IKE, "%s: finishing EAP failed", tag);
		free(first);
		server_fail(sa, m, NULL);
		return;
	}
	log_info(LOG_IKE, "authentication of '%s' with EAP successful",
		 user_of(sa, user, sizeof(user)));
	free(sa->eap_peer);
	sa->eap_peer = strdup(user);	/* NULL (out of memory): leases by the IKE identity */
	struct ikev2_builder k;
	ikb_init(&k);
	ikb_auth(&k, AUTH_METHOD_PSK, auth, auth_len);
	wipe(auth, sizeof(auth));
	ikev2_auth_responder_finish(sa, first, &k);
	free(first);
	ikev2_eap_free(sa->eap);
	sa->eap = NULL;
}

/* A message that does not fit: counted, logged within the drop budget, and answered
 * with our last request again, at most MAX_DROPS times. */
static void server_drop(struct ike_sa *sa, const struct msg_in *m, const char *why,
			const struct buf *again)
{
	char tag[128];
	sa->core->st.eap_dropped++;
	if (ike_log_allowed(sa->core, DROP_MALFORMED))
		log_err(LOG_IKE, "%s: EAP message dropped: %s", ike_sa_tag(sa, tag, sizeof(tag)), why);
	if (++sa->eap->drops > MAX_DROPS) {
		log_err(LOG_IKE, "%s: %u EAP messages dropped, giving up; sending "
			"AUTHENTICATION_FAILED", tag, sa->eap->drops);
		server_fail(sa, m, NULL);
		return;
	}
	struct ikev2_builder k;
	ikb_init(&k);
	if (again->len)
		ikb_eap(&k, again);
	ike_send_response(sa, m, &k);
}

void ikev2_eap_server_in(struct ike_sa *sa, struct msg_in *m)
{
	char tag[128], user[128], why[256];
	struct ikev2_eap *e = sa->eap;
	struct buf out;
	if (e->succeeded) {
		server_final(sa, m);
		return;
	}
	buf_init(&out);
	enum eap_status st;
	if (!m->pl.has_eap) {
		st = EAP_DROPPED;
		snprintf(why, sizeof(why), "IKE_AUTH request without an EAP payload");
		/* eap_server_process resends its last request on a drop; so do we. */
		eap_server_process(e->server, NULL, 0, sa->core->secrets, &out, (char[8]){ 0 }, 8);
	} else {
		st = eap_server_process(e->server, m->pl.eap, m->pl.eap_len, sa->core->secrets, &out,
					why, sizeof(why));
	}
	ike_sa_tag(sa, tag, sizeof(tag));
	const char *method = eap_type_name(eap_server_method(e->server));
	if (eap_server_refused(e->server))
		server_refused(sa, eap_server_refused(e->server));
	switch (st) {
	case EAP_DROPPED:
		server_drop(sa, m, why, &out);
		break;
	case EAP_FAILED:
		server_refused(sa, why);
		server_fail(sa, m, &out);
		break;
	case EAP_SUCCEEDED:
	case EAP_CONTINUE: {
		if (st == EAP_SUCCEEDED) {	/* the EAP-Success goes out; AUTH comes next */
			log_info(LOG_IKE, "%s: %s authentication of '%s' successful", tag, method,
				 user_of(sa, user, sizeof(user)));
			e->succeeded = true;
		}
		struct ikev2_builder k;
		ikb_init(&k);
		ikb_eap(&k, &out);
		ike_send_response(sa, m, &k);
		break;
	}
	}
	buf_free(&out);
}

/* ---- initiator: the peer ---- */

int ikev2_eap_client_begin(struct ike_sa *sa)
{
	char idbuf[300], tag[128], me[300];
	const struct auth_cfg *local = &sa->conn->cfg->local;
	const char *id = local->eap_id ? local->eap_id : identity_fmt(sa->my_id, idbuf, sizeof(idbuf));
	const struct secret_cfg *sec = eap_find_secret(sa->core->secrets, (const uint8_t *)id,
						       strlen(id));
	ike_sa_tag(sa, tag, sizeof(tag));
	if (!sec) {
		log_err(LOG_CFG, "%s: no EAP secret found for '%s' (secrets { eap-* { id = %s } })",
			tag, eap_printable((const uint8_t *)id, strlen(id), me, sizeof(me)),
			eap_printable((const uint8_t *)id, strlen(id), idbuf, sizeof(idbuf)));
		return -1;
	}
	ikev2_eap_free(sa->eap);
	if (!(sa->eap = calloc(1, sizeof(*sa->eap))) ||
	    !(sa->eap->peer = eap_peer_new(local->eap_method, (const uint8_t *)id, strlen(id),
					   sec->secret, sec->secret_len))) {
		log_err(LOG_IKE, "%s: out of memory starting EAP", tag);
		return -1;
	}
	buf_init(&sa->eap->first);
	return 0;
}

static void client_fail(struct ike_sa *sa, const char *what, const char *why)
{
	char tag[128];
	log_err(LOG_IKE, "%s: %s%s", ike_sa_tag(sa, tag, sizeof(tag)), what, why);
	sa->core->st.auth_failures++;
	ike_sa_destroy(sa);
}

/* Our AUTH once EAP succeeded. */
static void client_send_auth(struct ike_sa *sa)
{
	uint8_t auth[IKE_MAX_PRF_OUT];
	size_t auth_len = sizeof(auth), msk_len;
	const uint8_t *msk = eap_peer_msk(sa->eap->peer, &msk_len);
	if (eap_auth_value(sa, msk, msk_len, true, auth, &auth_len) < 0) {
		client_fail(sa, "computing AUTH after EAP failed", "");
		return;
	}
	struct ikev2_builder k;
	ikb_init(&k);
	ikb_auth(&k, AUTH_METHOD_PSK, auth, auth_len);
	wipe(auth, sizeof(auth));
	sa->eap->succeeded = true;
	ike_send_request(sa, IKE_AUTH, &k);
}

static void client_eap(struct ike_sa *sa, const struct msg_in *m)
{
	char why[256], tag[128];
	struct buf out;
	if (!m->pl.has_eap) {
		client_fail(sa, "IKE_AUTH response without an EAP payload", "");
		return;
	}
	buf_init(&out);
	enum eap_status st = eap_peer_process(sa->eap->peer, m->pl.eap, m->pl.eap_len, &out, why,
					      sizeof(why));
	if (why[0] && st == EAP_CONTINUE)
		log_info(LOG_IKE, "%s: %s", ike_sa_tag(sa, tag, sizeof(tag)), why);
	switch (st) {
	case EAP_CONTINUE: {
		struct ikev2_builder k;
		ikb_init(&k);
		ikb_eap(&k, &out);
		ike_send_request(sa, IKE_AUTH, &k);
		break;
	}
	case EAP_SUCCEEDED:
		log_info(LOG_IKE, "%s: %s authentication successful", ike_sa_tag(sa, tag, sizeof(tag)),
			 eap_type_name(eap_peer_method(sa->eap->peer)));
		client_send_auth(sa);
		break;
	case EAP_FAILED:
		client_fail(sa, "EAP authentication failed: ", why);
		break;
	case EAP_DROPPED:
		sa->core->st.eap_dropped++;
		client_fail(sa, "EAP message from the server dropped, giving up: ", why);
		break;
	}
	buf_wipe_free(&out);
}

void ikev2_eap_client_authenticated(struct ike_sa *sa, struct msg_in *m)
{
	sa->eap->server_authenticated = true;
	client_eap(sa, m);
}

bool ikev2_eap_client_in(struct ike_sa *sa, struct msg_in *m)
{
	struct ikev2_eap *e = sa->eap;
	if (!e->server_authenticated)
		return false;
	if (ikev2_find_notify(&m->pl, N_AUTHENTICATION_FAILED)) {
		client_fail(sa, "peer answered AUTHENTICATION_FAILED",
			    e->succeeded ? " to our AUTH after EAP" : " during EAP");
		return true;
	}
	if (!e->succeeded) {
		client_eap(sa, m);
		return true;
	}
	size_t msk_len;
	const uint8_t *msk = eap_peer_msk(e->peer, &msk_len);
	if (!auth_matches(sa, m, msk, msk_len, false)) {
		client_fail(sa, "the responder's AUTH after EAP does not verify", "");
		return true;
	}
	char tag[128], peer[128];
	log_info(LOG_IKE, "%s: authentication of '%s' with EAP MSK successful",
		 ike_sa_tag(sa, tag, sizeof(tag)), identity_fmt(sa->peer_id, peer, sizeof(peer)));
	ikev2_eap_free(sa->eap);
	sa->eap = NULL;
	ikev2_auth_initiator_finish(sa, m);
	return true;
}
