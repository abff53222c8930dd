/* X.509 certificates for IKEv2 (RFC 7296 3.6, 3.7, 3.8; RFC 7427) with OpenSSL:
 * loading certificates, keys and CRLs (cert.c), the credential store the core keeps
 * (cred_store.c), chain validation and identity matching (cert.c), and AUTH
 * signatures (ikev2_sig.c). */
#ifndef TSUNAGI_IKE_CERT_H
#define TSUNAGI_IKE_CERT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/buf.h"

struct ike;
struct conn;
struct conn_cfg;
struct config;

/* CERT / CERTREQ encodings (RFC 7296 3.6) */
#define CERT_X509_SIGNATURE 4
/* Limits on what a peer's CERT payloads may bring: certificates and bytes per message. */
#define CERT_MAX_CHAIN 4
#define CERT_MAX_BYTES 16384
#define CERTREQ_MAX_CAS 16

/* RFC 7427 hash algorithm identifiers (SIGNATURE_HASH_ALGORITHMS), as bits 1 << id. */
enum sig_hash { SIGH_SHA1 = 1, SIGH_SHA256 = 2, SIGH_SHA384 = 3, SIGH_SHA512 = 4,
		SIGH_IDENTITY = 5 };

/* Loading: PEM or DER. err gets a line for the log (never key material). */
X509 *cert_load_file(const char *path, char *err, size_t errlen);
EVP_PKEY *key_load_file(const char *path, const char *passphrase, char *err, size_t errlen);
X509_CRL *crl_load_file(const char *path, char *err, size_t errlen);
/* Exactly one DER certificate in data[0..len), or NULL. */
X509 *cert_from_der(const uint8_t *data, size_t len);
/* Also accepts PEM text (VICI load-cert sends either). */
X509 *cert_from_blob(const uint8_t *data, size_t len);
EVP_PKEY *key_from_blob(const uint8_t *data, size_t len);
X509_CRL *crl_from_blob(const uint8_t *data, size_t len);
/* A VICI value as the parser keeps it: binary data as "0x" + hex, text as it is.
 * Malloc'd bytes (wiped by the caller when they are a key), or NULL. */
uint8_t *vici_value_bytes(const char *v, size_t *len);
/* A connection's certs/cacerts entry: a file path, or (VICI load-conn, as swanctl
 * sends the files' contents) the certificate itself. */
X509 *cert_load_entry(const char *entry, char *err, size_t errlen);
/* Hex SHA-1 of the public key (SubjectPublicKeyInfo), the id VICI's load-key answers. */
int key_id_hex(EVP_PKEY *k, char out[41]);

/* Why a chain did not validate. */
enum cert_verdict {
	CERT_OK, CERT_UNKNOWN_CA, CERT_EXPIRED, CERT_NOT_YET_VALID, CERT_REVOKED,
	CERT_INVALID,
};
const char *cert_verdict_name(enum cert_verdict v);
/* Validates leaf (with intermediates, may be NULL) against the trust anchors cas at
 * time `at`; a CRL in crls from the issuer is checked (none: not revoked, as
 * strongSwan's relaxed default). detail gets OpenSSL's reason. */
enum cert_verdict cert_verify_chain(X509 *leaf, STACK_OF(X509) *intermediates,
				    STACK_OF(X509) *cas, STACK_OF(X509_CRL) *crls, time_t at,
				    char *detail, size_t detail_len);
/* Does the certificate carry this IKE identity: a subjectAltName of the same kind
 * (dNSName for ID_FQDN, rfc822Name, iPAddress) or, for ID_DER_ASN1_DN, its subject? */
bool cert_matches_id(X509 *c, uint8_t id_type, const uint8_t *data, size_t len);
/* The subject as DER (ID_DER_ASN1_DN). 0 or -1 (too long). */
int cert_subject_der(X509 *c, uint8_t *out, size_t max, size_t *len);
/* "C=CH, O=strongSwan, CN=moon" -> DER. 0 or -1. */
int dn_from_string(const char *s, uint8_t *out, size_t max, size_t *len);
bool dn_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* Does the DN match a pattern DN whose RDN values may be "*" (any value), as
 * strongSwan's "C=CH, O=Example, CN=*"? Same attributes in the same order. */
bool dn_matches(const uint8_t *pattern, size_t plen, const uint8_t *der, size_t len);
const char *dn_fmt(const uint8_t *der, size_t len, char *out, size_t outlen);
/* "CN=moon, O=..." of a certificate's subject or issuer for log lines. */
const char *cert_name_fmt(X509 *c, bool issuer, char *out, size_t outlen);
/* SHA-1 of the certificate's SubjectPublicKeyInfo (the CERTREQ key id). 0 or -1. */
int cert_keyid(X509 *c, uint8_t out[20]);

/* AUTH signatures (ikev2_sig.c). The signer picks RFC 7427 (method 14) when the peer
 * announced a hash it can use (peer_hashes: bits 1 << enum sig_hash), else the classic
 * method of its key type. out gets the AUTH data. 0 or -1. */
int sig_sign(EVP_PKEY *key, unsigned peer_hashes, const uint8_t *octets, size_t len,
	     uint8_t *method, struct buf *out);
/* 0 when the AUTH data verifies with pub; else -1 with why set. */
int sig_verify(EVP_PKEY *pub, uint8_t method, const uint8_t *auth, size_t auth_len,
	       const uint8_t *octets, size_t len, const char **why);
/* IKEv1's ECDSA (as strongSwan signs it): the input itself is the digest, the
 * signature r | s of the curve's size. 0 or -1. */
int sig_ecdsa_raw_sign(EVP_PKEY *key, const uint8_t *digest, size_t len, struct buf *out);
int sig_ecdsa_raw_verify(EVP_PKEY *pub, const uint8_t *rs, size_t rs_len, const uint8_t *digest,
			 size_t len);
/* "ECDSA SHA-256 (RFC 7427)": the scheme of AUTH data, for log lines. */
const char *sig_method_name(uint8_t method, const uint8_t *auth, size_t auth_len);

/* Credential store (cred_store.c): keys, CA certificates and CRLs the core holds. */
struct cred_store;
struct cred_stats {
	uint64_t certs_rejected;	/* malformed or unsupported CERT payloads */
	uint64_t chains_truncated;	/* CERT payloads beyond CERT_MAX_CHAIN/BYTES */
	uint64_t cert_auth_failures;	/* chain, identity or signature failed */
};
struct cred_store *cred_store_new(void);
void cred_store_free(struct cred_store *cs);
/* A configuration (re)load: keys from private/ (rsa/, ecdsa/, pkcs8/) and the private
 * secrets, CA certificates from x509ca/, CRLs from x509crl/. What was loaded from the
 * previous configuration goes; what VICI loaded stays. Errors are logged. */
void cred_store_load_config(struct cred_store *cs, const struct config *cfg);
/* VICI: add one. name identifies it for replacement. 0 or -1. */
int cred_store_add_key(struct cred_store *cs, EVP_PKEY *key, bool from_vici);
int cred_store_add_ca(struct cred_store *cs, X509 *ca, bool from_vici);
int cred_store_add_crl(struct cred_store *cs, X509_CRL *crl, bool from_vici);
int cred_store_add_cert(struct cred_store *cs, X509 *c, bool from_vici);
/* The private key whose public half is the certificate's, or NULL. */
EVP_PKEY *cred_store_key_for(const struct cred_store *cs, X509 *c);
STACK_OF(X509) *cred_store_cas(const struct cred_store *cs);
STACK_OF(X509_CRL) *cred_store_crls(const struct cred_store *cs);
STACK_OF(X509) *cred_store_certs(const struct cred_store *cs);
/* Every key / certificate (CAs with ca true), for get-keys and list-certs. */
void cred_store_each_key(const struct cred_store *cs, void (*fn)(void *arg, EVP_PKEY *k),
			 void *arg);
void cred_store_each_cert(const struct cred_store *cs, void (*fn)(void *arg, X509 *c, bool ca),
			  void *arg);
int cred_store_unload_key(struct cred_store *cs, const char *id_hex);
/* VICI clear-creds: what VICI loaded goes. */
void cred_store_clear_vici(struct cred_store *cs);
struct cred_stats *cred_store_stats(struct cred_store *cs);
size_t cred_store_n_keys(const struct cred_store *cs);

/* A connection's credentials, read from its configured files when it is loaded. */
struct conn_creds {
	STACK_OF(X509) *certs;		/* local certs: [0] ours, the rest its chain */
	STACK_OF(X509) *cacerts;	/* remote cacerts; empty: every CA in the store */
};
struct conn_creds *conn_creds_load(struct cred_store *cs, const struct conn_cfg *cfg);
void conn_creds_free(struct conn_creds *cc);
#endif
