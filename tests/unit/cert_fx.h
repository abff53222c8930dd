/* Test certificates made at test time with OpenSSL: keys, CAs, end entities with a
 * subjectAltName, validity relative to now, CRLs. For test_cert.c and the pubkey
 * exchange tests. */
#ifndef TSUNAGI_TEST_CERT_FX_H
#define TSUNAGI_TEST_CERT_FX_H
#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum fx_key { FX_RSA, FX_P256, FX_P384, FX_ED25519 };

EVP_PKEY *fx_key(enum fx_key type);
/* A certificate for "C=CH, O=tsunagi test, CN=<cn>" with key's public half, signed by
 * issuer/issuer_key (NULL: self-signed with key), valid from now+from_s to now+to_s;
 * san like "DNS:a.example.net,email:a@example.net,IP:192.0.2.1" or NULL. */
X509 *fx_cert(const char *cn, const char *san, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
	      bool ca, long from_s, long to_s, long serial);
/* A CRL of issuer listing the given certificates as revoked (issued a minute ago,
 * next update in a day). */
X509_CRL *fx_crl(X509 *issuer, EVP_PKEY *issuer_key, X509 **revoked, int n);
/* The same with lastUpdate/nextUpdate at now + the given seconds. */
X509_CRL *fx_crl_at(X509 *issuer, EVP_PKEY *issuer_key, X509 **revoked, int n, long last_s,
		    long next_s);
/* Writes PEM files; 0 or -1. */
int fx_write_cert(const char *path, X509 *c);
int fx_write_key(const char *path, EVP_PKEY *k, const char *passphrase);
int fx_write_crl(const char *path, X509_CRL *c);
#endif
