/* Main Mode with signatures (RFC 2409 5.1, auth method 3, XAUTHInitRSA, and ECDSA of
 * RFC 4754, methods 9/10/11): CERTREQ in MM3/MM4, CERT and SIG in MM5/MM6. An RSA SIG
 * is PKCS#1 v1.5 over HASH_I/HASH_R itself, without a DigestInfo, as strongSwan (and
 * RFC 2409's "signature of the hash") does; an ECDSA one is r | s with HASH_I/HASH_R
 * itself as the digest (strongSwan's ECDSA_WITH_NULL), the method naming the curve.
 * The peer's chain and identity are checked as in IKEv2 (ike_peer_cert_check). */
#include <stdio.h>
#include <string.h>

#include <openssl/rsa.h>

#include "ike/v1/ikev1.h"
#include "lib/wipe.h"

#define CERTREQ_MAX_DN 1024

bool ikev1_sa_sig(const struct ike_sa *sa)
{
	return sa->v1 && ISAKMP_AUTH_IS_SIG(sa->v1->params.auth_method);
}

/* One CERTREQ per trusted CA, naming its subject (RFC 2408 3.10). */
void ikev1_add_certreq(struct ike_sa *sa, struct isakmp_builder *k)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	const struct conn_creds *cc = sa->conn->creds;
	if (cfg->remote.auth != AUTH_PUBKEY || !cfg->send_certreq)
		return;
	STACK_OF(X509) *cas = cc && cc->cacerts && sk_X509_num(cc->cacerts) > 0
				      ? cc->cacerts : cred_store_cas(sa->core->creds);
	for (int i = 0; cas && i < sk_X509_num(cas) && i < CERTREQ_MAX_CAS; i++) {
		uint8_t dn[CERTREQ_MAX_DN];
		size_t n;
		if (cert_subject_der(sk_X509_value(cas, i), dn, sizeof(dn), &n) == 0)
			isb_cert(k, ISAKMP_PL_CR, CERT_X509_SIGNATURE, dn, n);
	}
}

static void put_v1(void *k, const uint8_t *der, size_t len)
{
	isb_cert(k, ISAKMP_PL_CERT, CERT_X509_SIGNATURE, der, len);
}

/* PKCS#1 v1.5 without DigestInfo: the padding over the raw hash. */
static EVP_PKEY_CTX *raw_ctx(EVP_PKEY *k, bool sign)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	if (!ctx || (sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int ikev1_add_cert_sig(struct ike_sa *sa, struct isakmp_builder *k, const uint8_t *hash,
		       size_t hlen)
{
	char tag[128], name[256];
	ike_sa_tag(sa, tag, sizeof(tag));
	X509 *c = ike_my_cert(sa);
	EVP_PKEY *key = c ? cred_store_key_for(sa->core->creds, c) : NULL;
	if (!key) {
		log_err(LOG_CFG, "%s: connection '%s' authenticates by certificate but has %s",
			tag, sa->conn->cfg->name, c ? "no private key for it" : "none loaded");
		return -1;
	}
	uint8_t sig[1024];
	size_t slen = sizeof(sig);
	bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
	int ok;
	if (rsa) {
		EVP_PKEY_CTX *ctx = raw_ctx(key, true);
		ok = ctx && EVP_PKEY_sign(ctx, NULL, &slen, hash, hlen) > 0 &&
		     slen <= sizeof(sig) && EVP_PKEY_sign(ctx, sig, &slen, hash, hlen) > 0;
		EVP_PKEY_CTX_free(ctx);
	} else {
		struct buf b;
		buf_init(&b);
		ok = sig_ecdsa_raw_sign(key, hash, hlen, &b) == 0 && b.len <= sizeof(sig);
		if (ok)
			memcpy(sig, b.data, slen = b.len);
		buf_free(&b);
	}
	if (!ok) {
		log_err(LOG_IKE, "%s: signing %s with the %s key failed (IKEv1 signs with RSA or "
			"ECDSA keys of the negotiated method %u)", tag,
			sa->initiator ? "HASH_I" : "HASH_R", EVP_PKEY_get0_type_name(key),
			sa->v1->params.auth_method);
		return -1;
	}
	ike_put_certs(sa, put_v1, k);
	isb_sig(k, sig, slen);
	log_info(LOG_IKE, "authentication of '%s' (myself) with %s",
		 identity_fmt(sa->my_id, name, sizeof(name)),
		 rsa ? "RSA signature" : "ECDSA signature");
	return 0;
}

bool ikev1_check_cert_sig(struct ike_sa *sa, const struct v1_msg *m, const uint8_t *hash,
			  size_t hlen)
{
	static const char consequence[] = "; authentication failed";
	char tag[128], who[128];
	struct cred_stats *st = cred_store_stats(sa->core->creds);
	struct ikev2_cert certs[ISAKMP_MAX_CERTS];
	ike_sa_tag(sa, tag, sizeof(tag));
	identity_fmt(sa->peer_id, who, sizeof(who));
	if (!m->pl.sig.p) {
		log_err(LOG_IKE, "%s: peer '%s' sent no SIG payload%s", tag, who, consequence);
		st->cert_auth_failures++;
		return false;
	}
	for (size_t i = 0; i < m->pl.n_cert; i++)
		certs[i] = (struct ikev2_cert){ m->pl.certs[i].encoding, m->pl.certs[i].data,
						m->pl.certs[i].len };
	STACK_OF(X509) *chain = ike_peer_cert_check(sa, certs, m->pl.n_cert, m->pl.n_cert_over,
						    consequence);
	if (!chain)
		return false;
	EVP_PKEY *pub = X509_get0_pubkey(sk_X509_value(chain, 0));
	uint16_t method = sa->v1->params.auth_method;
	bool rsa = method == ISAKMP_AUTH_RSA_SIG || method == ISAKMP_AUTH_XAUTH_INIT_RSA;
	const char *why = "the certificate's key is not of the negotiated method";
	bool ok = false;
	if (rsa && pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		EVP_PKEY_CTX *ctx = raw_ctx(pub, false);
		ok = ctx && EVP_PKEY_verify(ctx, m->pl.sig.p, m->pl.sig.len, hash, hlen) == 1;
		EVP_PKEY_CTX_free(ctx);
		why = "RSA signature invalid";
	} else if (!rsa && pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		ok = sig_ecdsa_raw_verify(pub, m->pl.sig.p, m->pl.sig.len, hash, hlen) == 0;
		why = "ECDSA signature invalid";
	}
	sk_X509_pop_free(chain, X509_free);
	const char *scheme = rsa ? "RSA signature" : "ECDSA signature";
	if (!ok) {
		log_err(LOG_IKE, "%s: SIG payload of '%s' does not verify (%s over %s: %s)%s", tag,
			who, scheme, sa->initiator ? "HASH_R" : "HASH_I", why, consequence);
		st->cert_auth_failures++;
		return false;
	}
	log_info(LOG_IKE, "authentication of '%s' with %s successful", who, scheme);
	return true;
}
