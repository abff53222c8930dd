/* Test PKI made with OpenSSL at test time (see cert_fx.h). */
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tests/unit/cert_fx.h"

EVP_PKEY *fx_key(enum fx_key type)
{
	switch (type) {
	case FX_RSA: return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case FX_P256: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case FX_P384: return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	case FX_ED25519: return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	}
	return NULL;
}

static void add_ext(X509 *c, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (e) {
		X509_add_ext(c, e, -1);
		X509_EXTENSION_free(e);
	}
}

X509 *fx_cert(const char *cn, const char *san, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
	      bool ca, long from_s, long to_s, long serial)
{
	X509 *c = X509_new();
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
	X509_gmtime_adj(X509_getm_notBefore(c), from_s);
	X509_gmtime_adj(X509_getm_notAfter(c), to_s);
	X509_NAME *n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"CH", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"tsunagi test", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, n);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_set_pubkey(c, key);
	X509 *iss = issuer ? issuer : c;
	add_ext(c, iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(c, iss, NID_subject_key_identifier, "hash");
	if (san)
		add_ext(c, iss, NID_subject_alt_name, san);
	EVP_PKEY *sk = issuer_key ? issuer_key : key;
	int id = EVP_PKEY_get_base_id(sk);
	const EVP_MD *md = id == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	if (!X509_sign(c, sk, md)) {
		X509_free(c);
		return NULL;
	}
	return c;
}

X509_CRL *fx_crl(X509 *issuer, EVP_PKEY *issuer_key, X509 **revoked, int n)
{
	return fx_crl_at(issuer, issuer_key, revoked, n, -60, 86400);
}

X509_CRL *fx_crl_at(X509 *issuer, EVP_PKEY *issuer_key, X509 **revoked, int n, long last_s,
		    long next_s)
{
	X509_CRL *crl = X509_CRL_new();
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), 0, last_s);
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_adj(t, time(NULL), 0, next_s);
	X509_CRL_set1_nextUpdate(crl, t);
	for (int i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked[i]));
		ASN1_TIME_adj(t, time(NULL), 0, -30);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
	}
	ASN1_TIME_free(t);
	X509_CRL_sort(crl);
	X509_CRL_sign(crl, issuer_key, EVP_sha256());
	return crl;
}

int fx_write_cert(const char *path, X509 *c)
{
	FILE *f = fopen(path, "w");
	int ok = f && PEM_write_X509(f, c);
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

int fx_write_key(const char *path, EVP_PKEY *k, const char *passphrase)
{
	FILE *f = fopen(path, "w");
	int ok = f && PEM_write_PrivateKey(f, k, passphrase ? EVP_aes_128_cbc() : NULL,
					   (const unsigned char *)passphrase,
					   passphrase ? (int)strlen(passphrase) : 0, NULL, NULL);
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

int fx_write_crl(const char *path, X509_CRL *c)
{
	FILE *f = fopen(path, "w");
	int ok = f && PEM_write_X509_CRL(f, c);
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}
