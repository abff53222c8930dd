/* IKEv1 XAuth (draft-ietf-ipsec-isakmp-xauth-06), generic type: user name and password,
 * as strongSwan's xauth-generic plugin does it. After Phase 1 (PSK, auth method
 * XAUTHInitPreShared) the server asks, the client answers, the server says whether it
 * took them and the client acknowledges:
 *   server REQUEST(USER_NAME, USER_PASSWORD)  ->  client REPLY(USER_NAME=u, USER_PASSWORD=p)
 *   server SET(STATUS=1|0)                    ->  client ACK(STATUS)
 * Each pair is a Transaction exchange of its own (ikev1_txn.c). Only then is the ISAKMP
 * SA up: Quick Mode waits. A refused user gets STATUS=0 and, once the client has
 * acknowledged it (or not), the ISAKMP SA is deleted.
 * The server is a connection with remote-N { auth = xauth }, the client one with
 * local-N { auth = xauth, xauth_id = user }; users are secrets of type XAUTH. A peer
 * that proposes plain PSK gets a connection without the round (select_conn checks the
 * method): a site-to-site peer is never asked. Passwords are never logged; the message
 * that carried one is wiped with its plaintext (ikev1_input). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ike/v1/ikev1.h"
#include "ike/v1/isakmp_attr.h"

/* With certificates the method names our key's type: ECDSA by its curve (RFC 4754). */
static uint16_t sig_method(const struct conn *c, bool xauth)
{
	X509 *x = c->creds && c->creds->certs && sk_X509_num(c->creds->certs) > 0
			  ? sk_X509_value(c->creds->certs, 0) : NULL;
	EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
	if (xauth || !k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
		return xauth ? ISAKMP_AUTH_XAUTH_INIT_RSA : ISAKMP_AUTH_RSA_SIG;
	int bits = EVP_PKEY_get_bits(k);
	return bits > 384 ? ISAKMP_AUTH_ECDSA_521 : bits > 256 ? ISAKMP_AUTH_ECDSA_384
							     : ISAKMP_AUTH_ECDSA_256;
}

uint16_t ikev1_p1_auth_method(const struct conn *c)
{
	const struct conn_cfg *cfg = c->cfg;
	bool xauth = cfg->local_xauth.auth == AUTH_XAUTH || cfg->remote_xauth.auth == AUTH_XAUTH;
	if (ikev2_conn_pubkey(cfg))
		return sig_method(c, xauth);
	return xauth ? ISAKMP_AUTH_XAUTH_INIT_PSK : ISAKMP_AUTH_PSK;
}

void ikev1_ready(struct ike_sa *sa)
{
	ikev1_established(sa);
	ike_sa_run_tasks(sa);	/* the initiator's first Quick Mode waited */
}

/* A user name as it may be logged: printable, bounded. */
static const char *user_fmt(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < outlen; i++)
		out[n++] = isprint(p[i]) ? (char)p[i] : '?';
	out[n] = '\0';
	return out;
}

/* The XAuth secret whose ids hold this user name; NULL when none. */
static const struct secret_cfg *find_user(const struct ike *core, const uint8_t *name,
					  size_t len)
{
	for (const struct secret_cfg *s = ike_secret_first(core); s; s = s->next) {
		if (s->type != SECRET_XAUTH)
			continue;
		for (size_t i = 0; i < s->n_ids; i++)
			if (strlen(s->ids[i]) == len && memcmp(s->ids[i], name, len) == 0)
				return s;
	}
	return NULL;
}

const char *ikev1_xauth_user(const struct ike_sa *sa)
{
	return sa->v1 && sa->v1->xauth_ok && sa->v1->xauth_user[0] ? sa->v1->xauth_user : NULL;
}

void ikev1_xauth_inherit(struct ike_sa *n, const struct ike_sa *old)
{
	n->v1->xauth_ok = old->v1->xauth_ok;
	memcpy(n->v1->xauth_user, old->v1->xauth_user, sizeof(n->v1->xauth_user));
}

/* ---- server ---- */

static void server_request(struct ike_sa *sa)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_builder k;
	size_t h = ikev1_txn_begin(sa, &k);
	crypto_random(&v->txn.id, sizeof(v->txn.id));
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_REQUEST, v->txn.id);
	isb_attr_var(&k.b, XAUTH_USER_NAME, NULL, 0);
	isb_attr_var(&k.b, XAUTH_USER_PASSWORD, NULL, 0);
	isb_end(&k, off);
	v->state = XAUTH_WAIT_REPLY;
	ike_sa_login_begins(sa);	/* Phase 1 authenticated: the user may take a while */
	log_info(LOG_IKE, "%s: asking the XAuth client for its user name and password",
		 ike_sa_name(sa));
	ikev1_txn_send(sa, &k, h, NULL);
}

static void server_status(struct ike_sa *sa, bool ok)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_builder k;
	size_t h = ikev1_txn_begin(sa, &k);
	crypto_random(&v->txn.id, sizeof(v->txn.id));
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_SET, v->txn.id);
	isb_attr_basic(&k.b, XAUTH_STATUS, ok ? 1 : 0);
	isb_end(&k, off);
	v->xauth_ok = ok;
	v->state = XAUTH_WAIT_ACK;
	ikev1_txn_send(sa, &k, h, NULL);
}

/* Checks the REPLY's user and password; why says what failed. */
static bool check_user(struct ike_sa *sa, const struct isakmp_cfg *c, char *why, size_t n)
{
	const struct isakmp_attr *u = isakmp_cfg_find(c, XAUTH_USER_NAME);
	const struct isakmp_attr *p = isakmp_cfg_find(c, XAUTH_USER_PASSWORD);
	const char *want = sa->conn->cfg->remote_xauth.xauth_id;
	char user[sizeof(sa->v1->xauth_user)];
	if (!u || !p || u->basic || p->basic || u->len == 0) {
		snprintf(why, n, "the reply holds no user name and password");
		return false;
	}
	user_fmt(u->data, u->len, user, sizeof(user));
	snprintf(sa->v1->xauth_user, sizeof(sa->v1->xauth_user), "%s", user);
	if (u->len >= sizeof(user)) {
		snprintf(why, n, "user name too long");
		return false;
	}
	if (want && (strlen(want) != u->len || memcmp(want, u->data, u->len) != 0)) {
		snprintf(why, n, "user '%s' is not the connection's xauth_id '%s'", user, want);
		return false;
	}
	const struct secret_cfg *s = find_user(sa->core, u->data, u->len);
	if (!s) {
		snprintf(why, n, "unknown user '%s' (no xauth secret)", user);
		return false;
	}
	if (s->secret_len != p->len || sodium_memcmp(s->secret, p->data, p->len) != 0) {
		snprintf(why, n, "wrong password for user '%s'", user);
		return false;
	}
	return true;
}

static void server_reply_in(struct ike_sa *sa, const struct isakmp_cfg *c)
{
	char why[256], peer[ADDR_STRLEN];
	bool ok = check_user(sa, c, why, sizeof(why));
	if (ok) {
		log_info(LOG_IKE, "%s: XAuth user '%s' authenticated, sending STATUS=OK",
			 ike_sa_name(sa), sa->v1->xauth_user);
	} else {
		sa->core->st.xauth_failures++;
		sa->core->st.auth_failures++;
		log_err(LOG_IKE, "%s: XAuth authentication failed for %s: %s; sending STATUS=FAIL "
			"and deleting the ISAKMP SA", ike_sa_name(sa),
			addr_ntop(&sa->remote, peer, sizeof(peer)), why);
	}
	server_status(sa, ok);
}

static void server_ack_in(struct ike_sa *sa)
{
	if (!sa->v1->xauth_ok) {
		ikev1_delete_all(sa);
		return;
	}
	if (sa->v1->initial_contact)
		ikev1_initial_contact_apply(sa);
	ikev1_modecfg_start(sa);
}

/* ---- client ---- */

/* Our user name: the round's xauth_id, else our IKE identity as written. */
static const char *client_user(const struct ike_sa *sa)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	return cfg->local_xauth.xauth_id ? cfg->local_xauth.xauth_id : cfg->local.id;
}

static bool client_request_in(struct ike_sa *sa, const struct v1_msg *m,
			      const struct isakmp_cfg *c)
{
	struct ikev1_sa *v = sa->v1;
	const char *user = client_user(sa);
	const struct isakmp_attr *t = isakmp_cfg_find(c, XAUTH_TYPE);
	if (!isakmp_cfg_find(c, XAUTH_USER_NAME) && !isakmp_cfg_find(c, XAUTH_USER_PASSWORD))
		return false;
	if (t && (!t->basic || t->value != XAUTH_TYPE_GENERIC)) {
		log_err(LOG_IKE, "%s: the XAuth server asks for type %u; only generic (user name "
			"and password) is supported", ike_sa_name(sa), t->basic ? t->value : 0xffff);
		ikev1_delete_all(sa);
		return true;
	}
	const struct secret_cfg *s = user ? find_user(sa->core, (const uint8_t *)user,
						       strlen(user)) : NULL;
	if (!s || s->secret_len > 0xffff || strlen(user) > 0xffff) {
		log_err(LOG_IKE, "%s: the XAuth server asks for a password, but there is no xauth "
			"secret for user '%s'", ike_sa_name(sa), user ? user : "(no xauth_id)");
		ikev1_delete_all(sa);
		return true;
	}
	struct isakmp_builder k;
	size_t h = ikev1_txn_begin(sa, &k);
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_REPLY, c->id);
	isb_attr_var(&k.b, XAUTH_USER_NAME, (const uint8_t *)user, (uint16_t)strlen(user));
	isb_attr_var(&k.b, XAUTH_USER_PASSWORD, s->secret, (uint16_t)s->secret_len);
	isb_end(&k, off);
	v->state = XAUTH_WAIT_STATUS;
	log_info(LOG_IKE, "%s: sending XAuth user name '%s' and its password", ike_sa_name(sa),
		 user);
	ikev1_txn_send(sa, &k, h, m);	/* wipes what held the password */
	return true;
}

static bool client_status_in(struct ike_sa *sa, const struct v1_msg *m,
			     const struct isakmp_cfg *c)
{
	const struct isakmp_attr *st = isakmp_cfg_find(c, XAUTH_STATUS);
	uint32_t ok = 0;
	if (!st || isakmp_attr_u32(st, &ok) < 0)
		return false;
	struct isakmp_builder k;
	size_t h = ikev1_txn_begin(sa, &k);
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_ACK, c->id);
	isb_attr_basic(&k.b, XAUTH_STATUS, ok ? 1 : 0);
	isb_end(&k, off);
	ikev1_txn_send(sa, &k, h, m);
	if (ok != 1) {
		sa->core->st.xauth_failures++;
		sa->core->st.auth_failures++;
		log_err(LOG_IKE, "%s: the XAuth server refused user '%s' (STATUS=FAIL)",
			ike_sa_name(sa), client_user(sa) ? client_user(sa) : "?");
		ike_sa_destroy(sa);
		return true;
	}
	log_info(LOG_IKE, "%s: XAuth user '%s' accepted by the server", ike_sa_name(sa),
		 client_user(sa));
	ikev1_modecfg_start(sa);
	return true;
}

/* ---- the hooks ---- */

void ikev1_phase1_authenticated(struct ike_sa *sa)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	if (!sa->initiator && cfg->remote_xauth.auth == AUTH_XAUTH) {
		server_request(sa);
		return;
	}
	if (sa->initiator && cfg->remote_xauth.auth == AUTH_XAUTH && !sa->v1->xauth_ok) {
		/* XAuth runs when the client initiates; an SA the server starts would skip
		 * it. Only a renewal (the user authenticated on the SA it renews) may. */
		log_err(LOG_IKE, "%s: connection '%s' has an auth = xauth round: its clients "
			"initiate; deleting the ISAKMP SA we initiated", ike_sa_name(sa), cfg->name);
		ikev1_delete_all(sa);
		return;
	}
	if (sa->initiator && cfg->local_xauth.auth == AUTH_XAUTH) {
		sa->v1->state = XAUTH_WAIT_REQUEST;
		sa->v1->xauth_deadline = sa->core->now +
					 (ms_t)(sa->core->t.half_open_timeout_s ?: 30) * 1000;
		log_info(LOG_IKE, "%s: Phase 1 done, waiting for the XAuth server's request",
			 ike_sa_name(sa));
		return;
	}
	ikev1_modecfg_start(sa);
}

bool ikev1_xauth_answer(struct ike_sa *sa, const struct isakmp_cfg *c)
{
	switch (sa->v1->state) {
	case XAUTH_WAIT_REPLY:
		if (c->type != ISAKMP_CFG_REPLY)
			return false;
		server_reply_in(sa, c);
		return true;
	case XAUTH_WAIT_ACK:
		if (c->type != ISAKMP_CFG_ACK)
			return false;
		server_ack_in(sa);
		return true;
	default:
		return false;
	}
}

bool ikev1_xauth_request(struct ike_sa *sa, const struct v1_msg *m, const struct isakmp_cfg *c)
{
	if (sa->conn->cfg->local_xauth.auth != AUTH_XAUTH)
		return false;
	if (sa->v1->state == XAUTH_WAIT_REQUEST && c->type == ISAKMP_CFG_REQUEST)
		return client_request_in(sa, m, c);
	if (sa->v1->state == XAUTH_WAIT_STATUS && c->type == ISAKMP_CFG_SET)
		return client_status_in(sa, m, c);
	return false;
}

/* The client waits for the server's REQUEST and STATUS, but not for ever. */
ms_t ikev1_xauth_tick(struct ike_sa *sa, ms_t now)
{
	struct ikev1_sa *v = sa->v1;
	if (v->state != XAUTH_WAIT_REQUEST && v->state != XAUTH_WAIT_STATUS &&
	    v->state != MODECFG_WAIT_SET)
		return MS_NEVER;
	if (now < v->xauth_deadline)
		return v->xauth_deadline;
	ikev1_gave_up(sa);
	ike_sa_destroy(sa);
	return MS_NEVER;
}

bool ikev1_auth_method_fits(const struct conn *c, const struct isakmp_choice *ch, char *why,
			    size_t n)
{
	const struct conn_cfg *cfg = c->cfg;
	uint16_t want = ikev1_p1_auth_method(c);
	if (ch->params.auth_method == want)
		return true;
	snprintf(why, n, "the peer proposes authentication method %u, connection '%s' wants %u "
		 "(%s%s)", ch->params.auth_method, cfg->name, want,
		 ISAKMP_AUTH_IS_SIG(want) ? "signatures of our key's type, auth = pubkey"
					  : "pre-shared key",
		 ISAKMP_AUTH_IS_XAUTH(want) ? ", with an auth = xauth round" : "");
	return false;
}
