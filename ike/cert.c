/* X.509 with OpenSSL: loading certificates, keys and CRLs, chain validation, and
 * matching an IKE identity against a certificate. Nothing here logs key material:
 * a key that does not load is reported by file name only. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ike/cert.h"
#include "ike/ikev2_msg.h"

static void ossl_reason(char *out, size_t outlen)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, out, outlen);
	else
		snprintf(out, outlen, "not PEM or DER");
	ERR_clear_error();
}

static BIO *open_file(const char *path, char *err, size_t errlen)
{
	BIO *b = BIO_new_file(path, "rb");
	if (!b) {
		snprintf(err, errlen, "cannot open '%s'", path);
		ERR_clear_error();
	}
	return b;
}

X509 *cert_from_der(const uint8_t *data, size_t len)
{
	const unsigned char *p = data;
	if (len == 0 || len > CERT_MAX_BYTES)
		return NULL;
	X509 *c = d2i_X509(NULL, &p, (long)len);
	if (c && p != data + len) {	/* trailing bytes: not one certificate */
		X509_free(c);
		c = NULL;
	}
	ERR_clear_error();
	return c;
}

X509 *cert_from_blob(const uint8_t *data, size_t len)
{
	X509 *c = NULL;
	if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		BIO *b = BIO_new_mem_buf(data, (int)len);
		if (b)
			c = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
		ERR_clear_error();
		return c;
	}
	return cert_from_der(data, len);
}

X509_CRL *crl_from_blob(const uint8_t *data, size_t len)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	X509_CRL *c = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
	if (b && !c) {
		ERR_clear_error();
		(void)BIO_reset(b);
		c = d2i_X509_CRL_bio(b, NULL);
	}
	ERR_clear_error();
	BIO_free(b);
	return c;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

uint8_t *vici_value_bytes(const char *v, size_t *len)
{
	size_t n = strlen(v);
	bool hex = n > 2 && n % 2 == 0 && v[0] == '0' && v[1] == 'x';
	for (size_t i = 2; hex && i < n; i++)
		hex = hexval(v[i]) >= 0;
	uint8_t *out = malloc(hex ? (n - 2) / 2 : n ? n : 1);
	if (!out)
		return NULL;
	if (!hex) {
		memcpy(out, v, n);
		*len = n;
		return out;
	}
	for (size_t i = 2; i < n; i += 2)
		out[(i - 2) / 2] = (uint8_t)(hexval(v[i]) << 4 | hexval(v[i + 1]));
	*len = (n - 2) / 2;
	return out;
}

X509 *cert_load_entry(const char *entry, char *err, size_t errlen)
{
	/* A DER blob without a NUL byte reaches us as its bytes: it starts with a
	 * SEQUENCE (0x30, '0') and is no file. */
	if (strncmp(entry, "-----BEGIN", 10) != 0 && strncmp(entry, "0x", 2) != 0 &&
	    (entry[0] != 0x30 || access(entry, F_OK) == 0))
		return cert_load_file(entry, err, errlen);
	size_t len;
	uint8_t *data = vici_value_bytes(entry, &len);
	X509 *c = data ? cert_from_blob(data, len) : NULL;
	free(data);
	if (!c)	/* never echo the blob */
		snprintf(err, errlen, "certificate data sent by VICI (%zu characters) is not "
			 "a certificate", strlen(entry));
	return c;
}

int key_id_hex(EVP_PKEY *k, char out[41])
{
	unsigned char *p = NULL, md[SHA_DIGEST_LENGTH];
	int n = i2d_PUBKEY(k, &p);
	if (n <= 0)
		return -1;
	SHA1(p, (size_t)n, md);
	OPENSSL_free(p);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

X509 *cert_load_file(const char *path, char *err, size_t errlen)
{
	BIO *b = open_file(path, err, errlen);
	if (!b)
		return NULL;
	X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!c) {
		ERR_clear_error();
		(void)BIO_reset(b);
		c = d2i_X509_bio(b, NULL);
	}
	if (!c) {
		char why[160];
		ossl_reason(why, sizeof(why));
		snprintf(err, errlen, "'%s' is not a certificate (%s)", path, why);
	}
	BIO_free(b);
	return c;
}

/* The passphrase callback: the secret goes to OpenSSL only. */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	const char *pass = u;
	if (!pass)
		return -1;
	size_t n = strlen(pass);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pass, n);
	return (int)n;
}

static EVP_PKEY *key_from_bio(BIO *b, const char *pass)
{
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, pass_cb, (void *)pass);
	if (!k) {
		ERR_clear_error();
		(void)BIO_reset(b);
		k = d2i_PrivateKey_bio(b, NULL);
	}
	return k;
}

EVP_PKEY *key_load_file(const char *path, const char *passphrase, char *err, size_t errlen)
{
	BIO *b = open_file(path, err, errlen);
	if (!b)
		return NULL;
	EVP_PKEY *k = key_from_bio(b, passphrase);
	if (!k)
		snprintf(err, errlen, "'%s' is not a private key%s", path,
			 passphrase ? " (or the passphrase is wrong)" : " (encrypted? give its "
			 "passphrase in secrets { private-NAME { file, secret } })");
	ERR_clear_error();
	BIO_free(b);
	return k;
}

EVP_PKEY *key_from_blob(const uint8_t *data, size_t len)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	EVP_PKEY *k = b ? key_from_bio(b, NULL) : NULL;
	ERR_clear_error();
	BIO_free(b);
	return k;
}

X509_CRL *crl_load_file(const char *path, char *err, size_t errlen)
{
	BIO *b = open_file(path, err, errlen);
	if (!b)
		return NULL;
	X509_CRL *c = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	if (!c) {
		ERR_clear_error();
		(void)BIO_reset(b);
		c = d2i_X509_CRL_bio(b, NULL);
	}
	if (!c) {
		char why[160];
		ossl_reason(why, sizeof(why));
		snprintf(err, errlen, "'%s' is not a CRL (%s)", path, why);
	}
	BIO_free(b);
	return c;
}

const char *cert_verdict_name(enum cert_verdict v)
{
	switch (v) {
	case CERT_OK: return "valid";
	case CERT_UNKNOWN_CA: return "issued by an unknown CA";
	case CERT_EXPIRED: return "expired";
	case CERT_NOT_YET_VALID: return "not yet valid";
	case CERT_REVOKED: return "revoked";
	case CERT_INVALID: return "invalid";
	}
	return "invalid";
}

static enum cert_verdict verdict_of(int err)
{
	switch (err) {
	case X509_V_OK:
		return CERT_OK;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return CERT_UNKNOWN_CA;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return CERT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return CERT_NOT_YET_VALID;
	case X509_V_ERR_CERT_REVOKED:
		return CERT_REVOKED;
	}
	return CERT_INVALID;
}

/* Is there a CRL from the leaf's issuer? Only then is revocation checked. */
static bool have_crl_for(X509 *leaf, STACK_OF(X509_CRL) *crls)
{
	for (int i = 0; crls && i < sk_X509_CRL_num(crls); i++)
		if (X509_NAME_cmp(X509_CRL_get_issuer(sk_X509_CRL_value(crls, i)),
				  X509_get_issuer_name(leaf)) == 0)
			return true;
	return false;
}

/* A CRL past its nextUpdate still says what it revoked: used, not fatal (strongSwan's
 * default treats a stale CRL the same way). */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	int e = X509_STORE_CTX_get_error(ctx);
	if (!ok && (e == X509_V_ERR_CRL_HAS_EXPIRED || e == X509_V_ERR_CRL_NOT_YET_VALID))
		return 1;
	return ok;
}

enum cert_verdict cert_verify_chain(X509 *leaf, STACK_OF(X509) *intermediates,
				    STACK_OF(X509) *cas, STACK_OF(X509_CRL) *crls, time_t at,
				    char *detail, size_t detail_len)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	enum cert_verdict v = CERT_INVALID;
	snprintf(detail, detail_len, "out of memory");
	if (!store || !ctx)
		goto out;
	for (int i = 0; cas && i < sk_X509_num(cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(cas, i));
	X509_STORE_set_verify_cb(store, verify_cb);
	if (!X509_STORE_CTX_init(ctx, store, leaf, intermediates))
		goto out;
	if (crls && have_crl_for(leaf, crls)) {
		X509_STORE_CTX_set0_crls(ctx, crls);
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK);
	}
	/* Every configured CA is a trust anchor, an intermediate one too (as in
	 * strongSwan): the chain need not reach a self-signed root. */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_time(ctx, 0, at);
	int ok = X509_verify_cert(ctx);
	int e = X509_STORE_CTX_get_error(ctx);
	v = ok == 1 ? CERT_OK : verdict_of(e == X509_V_OK ? -1 : e);
	snprintf(detail, detail_len, "%s", X509_verify_cert_error_string(e));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return v;
}

static bool san_matches(const GENERAL_NAME *g, uint8_t id_type, const uint8_t *data, size_t len)
{
	const ASN1_STRING *s;
	switch (id_type) {
	case ID_FQDN:
		if (g->type != GEN_DNS)
			return false;
		s = g->d.dNSName;
		return (size_t)ASN1_STRING_length(s) == len &&
		       strncasecmp((const char *)ASN1_STRING_get0_data(s), (const char *)data, len) == 0;
	case ID_RFC822_ADDR:
		if (g->type != GEN_EMAIL)
			return false;
		s = g->d.rfc822Name;
		return (size_t)ASN1_STRING_length(s) == len &&
		       strncasecmp((const char *)ASN1_STRING_get0_data(s), (const char *)data, len) == 0;
	case ID_IPV4_ADDR:
	case ID_IPV6_ADDR:
		if (g->type != GEN_IPADD)
			return false;
		s = g->d.iPAddress;
		return (size_t)ASN1_STRING_length(s) == len &&
		       memcmp(ASN1_STRING_get0_data(s), data, len) == 0;
	}
	return false;
}

bool cert_matches_id(X509 *c, uint8_t id_type, const uint8_t *data, size_t len)
{
	if (id_type == ID_DER_ASN1_DN) {
		uint8_t der[1024];
		size_t n;
		return cert_subject_der(c, der, sizeof(der), &n) == 0 && dn_equal(der, n, data, len);
	}
	GENERAL_NAMES *names = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
	bool found = false;
	for (int i = 0; names && !found && i < sk_GENERAL_NAME_num(names); i++)
		found = san_matches(sk_GENERAL_NAME_value(names, i), id_type, data, len);
	GENERAL_NAMES_free(names);
	ERR_clear_error();
	return found;
}

int cert_subject_der(X509 *c, uint8_t *out, size_t max, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509_NAME(X509_get_subject_name(c), &p);
	if (n <= 0 || (size_t)n > max) {
		OPENSSL_free(p);
		return -1;
	}
	memcpy(out, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(p);
	return 0;
}

/* One "type=value" of a DN string into name. */
static int dn_add_rdn(X509_NAME *name, char *rdn)
{
	while (*rdn == ' ')
		rdn++;
	char *eq = strchr(rdn, '=');
	if (!eq || eq == rdn)
		return -1;
	*eq = '\0';
	char *end = eq;
	while (end > rdn && end[-1] == ' ')
		*--end = '\0';
	const char *val = eq + 1;
	while (*val == ' ')
		val++;
	/* Attribute names in any case, as strongSwan takes them; "E" is its email. */
	static const char *const names[] = { "C", "ST", "L", "O", "OU", "CN", "DC", "SN", "UID",
					     "GN", "emailAddress", "serialNumber", "title", NULL };
	if (strcasecmp(rdn, "E") == 0)
		rdn = "emailAddress";
	for (size_t i = 0; names[i]; i++)
		if (strcasecmp(rdn, names[i]) == 0)
			rdn = (char *)names[i];
	return X509_NAME_add_entry_by_txt(name, rdn, MBSTRING_UTF8, (const unsigned char *)val,
					  -1, -1, 0) == 1 ? 0 : -1;
}

int dn_from_string(const char *s, uint8_t *out, size_t max, size_t *len)
{
	char copy[1024];
	if (strlen(s) >= sizeof(copy) || !strchr(s, '='))
		return -1;
	snprintf(copy, sizeof(copy), "%s", s);
	X509_NAME *name = X509_NAME_new();
	int rc = name ? 0 : -1;
	char *save = NULL;
	for (char *rdn = strtok_r(copy, ",/", &save); rc == 0 && rdn; rdn = strtok_r(NULL, ",/", &save))
		rc = dn_add_rdn(name, rdn);
	unsigned char *p = NULL;
	int n = rc == 0 ? i2d_X509_NAME(name, &p) : -1;
	if (n <= 0 || (size_t)n > max)
		rc = -1;
	else {
		memcpy(out, p, (size_t)n);
		*len = (size_t)n;
	}
	OPENSSL_free(p);
	X509_NAME_free(name);
	ERR_clear_error();
	return rc;
}

static X509_NAME *dn_parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)len);
	if (n && p != der + len) {
		X509_NAME_free(n);
		n = NULL;
	}
	ERR_clear_error();
	return n;
}

/* OpenSSL compares the canonical forms: string types and case do not matter. */
bool dn_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	X509_NAME *x = dn_parse(a, alen), *y = dn_parse(b, blen);
	bool eq = x && y && X509_NAME_cmp(x, y) == 0;
	X509_NAME_free(x);
	X509_NAME_free(y);
	return eq;
}

bool dn_matches(const uint8_t *pattern, size_t plen, const uint8_t *der, size_t len)
{
	X509_NAME *p = dn_parse(pattern, plen), *n = dn_parse(der, len);
	bool ok = p && n && X509_NAME_entry_count(p) == X509_NAME_entry_count(n);
	for (int i = 0; ok && i < X509_NAME_entry_count(p); i++) {
		X509_NAME_ENTRY *pe = X509_NAME_get_entry(p, i), *ne = X509_NAME_get_entry(n, i);
		const ASN1_STRING *pv = X509_NAME_ENTRY_get_data(pe);
		bool any = ASN1_STRING_length(pv) == 1 && ASN1_STRING_get0_data(pv)[0] == '*';
		ok = OBJ_cmp(X509_NAME_ENTRY_get_object(pe), X509_NAME_ENTRY_get_object(ne)) == 0;
		if (ok && !any) {
			/* One attribute compared the way X509_NAME_cmp does (canonical form). */
			X509_NAME *a = X509_NAME_new(), *b = X509_NAME_new();
			ok = a && b && X509_NAME_add_entry(a, pe, -1, 0) && X509_NAME_add_entry(b, ne, -1, 0) &&
			     X509_NAME_cmp(a, b) == 0;
			X509_NAME_free(a);
			X509_NAME_free(b);
		}
	}
	X509_NAME_free(p);
	X509_NAME_free(n);
	ERR_clear_error();
	return ok;
}

static const char *name_fmt(const X509_NAME *n, char *out, size_t outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	out[0] = '\0';
	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		int got = BIO_read(b, out, (int)outlen - 1);
		out[got > 0 ? got : 0] = '\0';
	}
	BIO_free(b);
	ERR_clear_error();
	/* Peers send anything: keep the line printable. */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return out;
}

const char *dn_fmt(const uint8_t *der, size_t len, char *out, size_t outlen)
{
	X509_NAME *n = dn_parse(der, len);
	if (!n) {
		snprintf(out, outlen, "(malformed DN, %zu bytes)", len);
		return out;
	}
	name_fmt(n, out, outlen);
	X509_NAME_free(n);
	return out;
}

const char *cert_name_fmt(X509 *c, bool issuer, char *out, size_t outlen)
{
	return name_fmt(issuer ? X509_get_issuer_name(c) : X509_get_subject_name(c), out, outlen);
}

int cert_keyid(X509 *c, uint8_t out[20])
{
	unsigned char *p = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c), &p);
	if (n <= 0)
		return -1;
	SHA1(p, (size_t)n, out);
	OPENSSL_free(p);
	return 0;
}
