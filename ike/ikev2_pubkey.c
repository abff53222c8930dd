/* Authentication by certificate in IKEv2 (auth = pubkey): SIGNATURE_HASH_ALGORITHMS
 * (RFC 7427) and CERTREQ in IKE_SA_INIT; CERT, CERTREQ and a signed AUTH in IKE_AUTH;
 * and the checks on the peer's side: its chain to our CAs (and CRLs), its identity in
 * the certificate, its signature. Each failure says which check failed. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ike/ike_private.h"

/* The hashes we accept in RFC 7427 signatures: SHA-256/384/512 and Ed25519's
 * "identity", as strongSwan announces. */
static const uint16_t our_hashes[] = { SIGH_SHA256, SIGH_SHA384, SIGH_SHA512, SIGH_IDENTITY };

bool ikev2_conn_pubkey(const struct conn_cfg *c)
{
	return c && (c->local.auth == AUTH_PUBKEY || c->remote.auth == AUTH_PUBKEY);
}

static bool any_conn_pubkey(struct ike *core)
{
	for (struct conn *c = core->conns; c; c = c->next)
		if (!c->retired && ikev2_conn_pubkey(c->cfg))
			return true;
	return false;
}

/* Trust anchors for this connection: its remote cacerts, else every CA loaded. */
static STACK_OF(X509) *cas_for(struct ike_sa *sa)
{
	const struct conn_creds *cc = sa->conn ? sa->conn->creds : NULL;
	if (cc && cc->cacerts && sk_X509_num(cc->cacerts) > 0)
		return cc->cacerts;
	return cred_store_cas(sa->core->creds);
}

void ikev2_add_certreq(struct ike_sa *sa, struct ikev2_builder *k)
{
	const struct conn_cfg *cfg = sa->conn ? sa->conn->cfg : NULL;
	if (!cfg || cfg->remote.auth != AUTH_PUBKEY || !cfg->send_certreq)
		return;
	STACK_OF(X509) *cas = cas_for(sa);
	uint8_t ids[CERTREQ_MAX_CAS * 20];
	size_t n = 0;
	for (int i = 0; cas && i < sk_X509_num(cas) && n < CERTREQ_MAX_CAS; i++)
		if (cert_keyid(sk_X509_value(cas, i), ids + 20 * n) == 0)
			n++;
	if (n)
		ikb_cert(k, PL_CERTREQ, CERT_X509_SIGNATURE, ids, 20 * n);
}

/* The initiator announces our hashes when its connection uses certificates; the
 * responder answers an announcement when any connection does (IKE_AUTH may switch to
 * it), and asks for certificates whether or not the peer does RFC 7427. */
void ikev2_cert_init_out(struct ike_sa *sa, struct ikev2_builder *k, bool response)
{
	bool announce = response ? sa->peer_sig_hashes && any_conn_pubkey(sa->core)
				 : ikev2_conn_pubkey(sa->conn->cfg);
	if (announce) {
		uint8_t d[sizeof(our_hashes)];
		for (size_t i = 0; i < sizeof(our_hashes) / sizeof(our_hashes[0]); i++)
			put_u16(d + 2 * i, our_hashes[i]);
		ikb_notify(k, 0, NULL, 0, N_SIGNATURE_HASH_ALGORITHMS, d, sizeof(d));
	}
	if (response)
		ikev2_add_certreq(sa, k);
}

void ikev2_cert_init_in(struct ike_sa *sa, const struct ikev2_payloads *pl)
{
	const struct ikev2_notify *n = ikev2_find_notify(pl, N_SIGNATURE_HASH_ALGORITHMS);
	sa->peer_sig_hashes = 0;
	for (size_t i = 0; n && i + 1 < n->len; i += 2) {
		uint16_t h = get_u16(n->data + i);
		if (h >= SIGH_SHA1 && h <= SIGH_IDENTITY)
			sa->peer_sig_hashes |= 1u << h;
	}
	sa->peer_certreq |= pl->has_certreq;
}

X509 *ike_my_cert(struct ike_sa *sa)
{
	const struct conn_creds *cc = sa->conn->creds;
	return cc && cc->certs && sk_X509_num(cc->certs) > 0 ? sk_X509_value(cc->certs, 0) : NULL;
}

int ikev2_cert_identity(struct ike_sa *sa, struct identity *id)
{
	X509 *c = sa->conn->cfg->local.auth == AUTH_PUBKEY ? ike_my_cert(sa) : NULL;
	size_t n;
	if (!c || cert_subject_der(c, id->data, IKE_MAX_ID, &n) < 0)
		return -1;
	id->type = ID_DER_ASN1_DN;
	id->len = (uint16_t)n;
	return 0;
}

void ike_put_certs(struct ike_sa *sa, void (*put)(void *k, const uint8_t *der, size_t len),
		   void *k)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	const struct conn_creds *cc = sa->conn->creds;
	if (!cc || !cc->certs || cfg->send_cert == SEND_CERT_NEVER ||
	    (cfg->send_cert == SEND_CERT_IFASKED && !sa->peer_certreq))
		return;
	for (int i = 0; i < sk_X509_num(cc->certs); i++) {
		unsigned char *der = NULL;
		int n = i2d_X509(sk_X509_value(cc->certs, i), &der);
		if (n > 0)
			put(k, der, (size_t)n);
		OPENSSL_free(der);
	}
}

static void put_v2(void *k, const uint8_t *der, size_t len)
{
	ikb_cert(k, PL_CERT, CERT_X509_SIGNATURE, der, len);
}

void ikev2_add_certs(struct ike_sa *sa, struct ikev2_builder *k)
{
	if (sa->conn->cfg->local.auth == AUTH_PUBKEY)
		ike_put_certs(sa, put_v2, k);
}

/* InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, IDi'), and the
 * responder's the other way round (RFC 7296 2.15). */
static int signed_octets(struct ike_sa *sa, bool initiator, const struct identity *signer,
			 struct buf *out)
{
	const struct xform *p = proposal_get(sa->prop, XF_PRF);
	uint8_t body[4 + IKE_MAX_ID], maced[IKE_MAX_PRF_OUT];
	size_t plen = prf_out_len(p->id);
	body[0] = signer->type;
	body[1] = body[2] = body[3] = 0;
	memcpy(body + 4, signer->data, signer->len);
	if (!plen || prf_compute(p->id, initiator ? sa->keys.sk_pi : sa->keys.sk_pr,
				 sa->keys.prf_len, body, 4 + (size_t)signer->len, maced) < 0)
		return -1;
	const struct buf *msg = ike_sa_init_msg(sa, initiator);
	buf_put(out, msg->data, msg->len);
	if (initiator)
		buf_put(out, sa->nr, sa->nr_len);
	else
		buf_put(out, sa->ni, sa->ni_len);
	buf_put(out, maced, plen);
	return out->oom ? -1 : 0;
}

int ikev2_pubkey_sign(struct ike_sa *sa, bool initiator, uint8_t *method, struct buf *out)
{
	char tag[128], name[256];
	ike_sa_tag(sa, tag, sizeof(tag));
	X509 *c = ike_my_cert(sa);
	if (!c) {
		log_err(LOG_CFG, "%s: connection '%s' authenticates by certificate but has none "
			"loaded (local certs)", tag, sa->conn->cfg->name);
		return -1;
	}
	EVP_PKEY *key = cred_store_key_for(sa->core->creds, c);
	if (!key) {
		log_err(LOG_CFG, "%s: no private key found for certificate \"%s\" (put it in "
			"private/ or secrets { private-NAME { file = ... } })", tag,
			cert_name_fmt(c, false, name, sizeof(name)));
		return -1;
	}
	struct buf octets;
	buf_init(&octets);
	int rc = signed_octets(sa, initiator, sa->my_id, &octets);
	if (rc == 0)
		rc = sig_sign(key, sa->peer_sig_hashes, octets.data, octets.len, method, out);
	buf_free(&octets);
	if (rc < 0)
		log_err(LOG_IKE, "%s: signing AUTH with the %s key failed%s", tag,
			EVP_PKEY_get0_type_name(key),
			EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519
				? " (Ed25519 needs the peer's RFC 7427 SIGNATURE_HASH_ALGORITHMS)" : "");
	else
		log_info(LOG_IKE, "authentication of '%s' (myself) with %s",
			 identity_fmt(sa->my_id, name, sizeof(name)),
			 sig_method_name(*method, out->data, out->len));
	return rc;
}

/* The peer's certificates as OpenSSL objects: [0] the end entity. Malformed or
 * unsupported ones are counted and make the whole fail. */
static STACK_OF(X509) *peer_chain(struct ike_sa *sa, const struct ikev2_cert *certs,
				  size_t n, size_t n_over, const char *tag, const char *consequence)
{
	struct cred_stats *st = cred_store_stats(sa->core->creds);
	STACK_OF(X509) *sk = sk_X509_new_null();
	if (n_over) {
		st->chains_truncated++;
		log_err(LOG_IKE, "%s: peer sent %zu CERT payloads, only the first %zu are used", tag,
			n + n_over, n);
	}
	for (size_t i = 0; sk && i < n; i++) {
		const struct ikev2_cert *c = &certs[i];
		X509 *x = NULL;
		if (c->encoding != CERT_X509_SIGNATURE)
			log_err(LOG_IKE, "%s: peer's CERT payload %zu has unsupported encoding %u "
				"(only X.509 signature, 4)%s", tag, i, c->encoding, consequence);
		else if (c->len > CERT_MAX_BYTES)
			log_err(LOG_IKE, "%s: peer's certificate %zu is %zu bytes, over the limit "
				"of %d%s", tag, i, c->len, CERT_MAX_BYTES, consequence);
		else if (!(x = cert_from_der(c->data, c->len)))
			log_err(LOG_IKE, "%s: peer's certificate %zu is malformed (%zu bytes of "
				"invalid DER)%s", tag, i, c->len, consequence);
		if (!x || sk_X509_push(sk, x) <= 0) {
			X509_free(x);
			st->certs_rejected++;
			sk_X509_pop_free(sk, X509_free);
			return NULL;
		}
	}
	return sk;
}

static int check_cert(struct ike_sa *sa, STACK_OF(X509) *chain, const char *tag,
		      const char *consequence)
{
	char subject[256], issuer[256], detail[128], who[128];
	X509 *leaf = sk_X509_value(chain, 0);
	STACK_OF(X509) *cas = cas_for(sa);
	cert_name_fmt(leaf, false, subject, sizeof(subject));
	identity_fmt(sa->peer_id, who, sizeof(who));
	if (!cas || sk_X509_num(cas) == 0) {
		log_err(LOG_CFG, "%s: no CA certificate to validate \"%s\" of '%s' (set remote "
			"cacerts, or put CAs in x509ca/)%s", tag, subject, who, consequence);
		return -1;
	}
	STACK_OF(X509) *inter = sk_X509_new_null();
	for (int i = 1; inter && i < sk_X509_num(chain); i++)
		sk_X509_push(inter, sk_X509_value(chain, i));
	enum cert_verdict v = cert_verify_chain(leaf, inter, cas, cred_store_crls(sa->core->creds),
						time(NULL), detail, sizeof(detail));
	sk_X509_free(inter);
	if (v != CERT_OK) {
		log_err(LOG_IKE, "%s: certificate \"%s\" (issuer \"%s\") of '%s' is %s: %s%s", tag,
			subject, cert_name_fmt(leaf, true, issuer, sizeof(issuer)), who,
			cert_verdict_name(v), detail, consequence);
		return -1;
	}
	if (!cert_matches_id(leaf, sa->peer_id->type, sa->peer_id->data, sa->peer_id->len)) {
		log_err(LOG_IKE, "%s: identity mismatch: peer identifies as '%s', but its "
			"certificate \"%s\" names neither it as subjectAltName nor as subject%s",
			tag, who, subject, consequence);
		return -1;
	}
	return 0;
}

STACK_OF(X509) *ike_peer_cert_check(struct ike_sa *sa, const struct ikev2_cert *certs, size_t n,
				    size_t n_over, const char *consequence)
{
	char tag[128], who[128];
	struct cred_stats *st = cred_store_stats(sa->core->creds);
	ike_sa_tag(sa, tag, sizeof(tag));
	if (n == 0) {
		log_err(LOG_IKE, "%s: peer '%s' sent no certificate (CERT payload)%s", tag,
			identity_fmt(sa->peer_id, who, sizeof(who)), consequence);
		st->cert_auth_failures++;
		return NULL;
	}
	STACK_OF(X509) *chain = peer_chain(sa, certs, n, n_over, tag, consequence);
	if (!chain || check_cert(sa, chain, tag, consequence) < 0) {
		sk_X509_pop_free(chain, X509_free);
		st->cert_auth_failures++;
		return NULL;
	}
	return chain;
}

int ikev2_pubkey_verify(struct ike_sa *sa, const struct msg_in *m, bool peer_is_initiator,
			const char *consequence)
{
	char tag[128], who[128];
	struct cred_stats *st = cred_store_stats(sa->core->creds);
	ike_sa_tag(sa, tag, sizeof(tag));
	identity_fmt(sa->peer_id, who, sizeof(who));
	if (m->pl.auth_method == AUTH_METHOD_PSK) {
		log_err(LOG_IKE, "%s: peer '%s' authenticates with a pre-shared key, we expect a "
			"certificate (remote auth = pubkey)%s", tag, who, consequence);
		st->cert_auth_failures++;
		return -1;
	}
	STACK_OF(X509) *chain = ike_peer_cert_check(sa, m->pl.certs, m->pl.n_certs,
						    m->pl.n_certs_over, consequence);
	if (!chain)
		return -1;
	struct buf octets;
	const char *why = "out of memory";
	buf_init(&octets);
	int rc = signed_octets(sa, peer_is_initiator, sa->peer_id, &octets);
	if (rc == 0)
		rc = sig_verify(X509_get0_pubkey(sk_X509_value(chain, 0)), m->pl.auth_method,
				m->pl.auth, m->pl.auth_len, octets.data, octets.len, &why);
	buf_free(&octets);
	sk_X509_pop_free(chain, X509_free);
	if (rc < 0) {
		log_err(LOG_IKE, "%s: AUTH payload of '%s' (%s) does not verify: %s%s", tag, who,
			sig_method_name(m->pl.auth_method, m->pl.auth, m->pl.auth_len), why,
			consequence);
		st->cert_auth_failures++;
		return -1;
	}
	log_info(LOG_IKE, "authentication of '%s' with %s successful", who,
		 sig_method_name(m->pl.auth_method, m->pl.auth, m->pl.auth_len));
	return 0;
}
