/* AUTH payload signatures (RFC 7296 2.15, 3.8; RFC 7427): RSA with PKCS#1 v1.5
 * (method 1, SHA-1) or RSASSA-PSS / PKCS#1 v1.5 under RFC 7427 (method 14), ECDSA
 * (methods 9, 10, 11: r|s over SHA-256/384/512 by curve; or RFC 7427 with a DER
 * signature), and Ed25519 (RFC 7427 only). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ike/cert.h"

enum { AUTH_RSA = 1, AUTH_ECDSA_256 = 9, AUTH_ECDSA_384 = 10, AUTH_ECDSA_521 = 11,
       AUTH_DS = 14 };

/* The AlgorithmIdentifiers we send (DER, RFC 7427 appendix A). */
static const uint8_t aid_ecdsa_sha256[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t aid_ecdsa_sha384[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t aid_ecdsa_sha512[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 };
static const uint8_t aid_ed25519[] = { 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* RSASSA-PSS, SHA-256, MGF1 with SHA-256, salt 32 bytes */
static const uint8_t aid_pss_sha256[] = {
	0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
	0x30, 0x34,
	0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	0x01, 0x05, 0x00,
	0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
	0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00,
	0xa2, 0x03, 0x02, 0x01, 0x20 };

/* How to sign or verify: the digest (NULL for Ed25519), PSS or not and its
 * parameters. */
struct scheme {
	const EVP_MD *md;
	bool pss;
	const EVP_MD *mgf1;
	int salt;
};

static int set_padding(EVP_PKEY_CTX *pctx, const struct scheme *s)
{
	if (!s->pss)
		return 1;
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, s->salt) > 0 &&
	       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, s->mgf1) > 0;
}

static int do_sign(EVP_PKEY *key, const struct scheme *s, const uint8_t *in, size_t len,
		   struct buf *out)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t n = 0;
	int rc = -1;
	if (m && EVP_DigestSignInit(m, &pctx, s->md, NULL, key) == 1 && set_padding(pctx, s) &&
	    EVP_DigestSign(m, NULL, &n, in, len) == 1) {
		size_t off = out->len;
		uint8_t *p = buf_append(out, n);
		if (p && EVP_DigestSign(m, p, &n, in, len) == 1) {
			out->len = off + n;	/* ECDSA's DER may be shorter than announced */
			rc = 0;
		}
	}
	EVP_MD_CTX_free(m);
	ERR_clear_error();
	return rc;
}

static int do_verify(EVP_PKEY *pub, const struct scheme *s, const uint8_t *sig, size_t siglen,
		     const uint8_t *in, size_t len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = m && EVP_DigestVerifyInit(m, &pctx, s->md, NULL, pub) == 1 &&
		 set_padding(pctx, s) && EVP_DigestVerify(m, sig, siglen, in, len) == 1;
	EVP_MD_CTX_free(m);
	ERR_clear_error();
	return ok ? 0 : -1;
}

/* ECDSA DER signature <-> r|s of the curve's size (methods 9-11). */
static int der_to_rs(const uint8_t *der, size_t len, size_t half, uint8_t *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	int rc = -1;
	if (sig && BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, (int)half) == (int)half &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + half, (int)half) == (int)half)
		rc = 0;
	ECDSA_SIG_free(sig);
	return rc;
}

static int rs_to_der(const uint8_t *rs, size_t len, struct buf *out)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)(len / 2), NULL), *s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL);
	unsigned char *der = NULL;
	int n = -1;
	if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(sig, &der);
	}
	if (n > 0)
		buf_put(out, der, (size_t)n);
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return n > 0 ? 0 : -1;
}

int sig_ecdsa_raw_sign(EVP_PKEY *key, const uint8_t *digest, size_t len, struct buf *out)
{
	size_t half = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8, n = 0;
	uint8_t der[160];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	int rc = -1;
	if (ctx && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_sign_init(ctx) > 0 &&
	    EVP_PKEY_sign(ctx, NULL, &n, digest, len) > 0 && n <= sizeof(der) &&
	    EVP_PKEY_sign(ctx, der, &n, digest, len) > 0) {
		uint8_t *rs = buf_append(out, 2 * half);
		rc = rs ? der_to_rs(der, n, half, rs) : -1;
	}
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int sig_ecdsa_raw_verify(EVP_PKEY *pub, const uint8_t *rs, size_t rs_len, const uint8_t *digest,
			 size_t len)
{
	size_t half = (size_t)(EVP_PKEY_get_bits(pub) + 7) / 8;
	struct buf der;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	buf_init(&der);
	int ok = ctx && EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC && rs_len == 2 * half &&
		 rs_to_der(rs, rs_len, &der) == 0 && EVP_PKEY_verify_init(ctx) > 0 &&
		 EVP_PKEY_verify(ctx, der.data, der.len, digest, len) == 1;
	buf_free(&der);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -1;
}

static const EVP_MD *md_of_hash(int h)
{
	switch (h) {
	case SIGH_SHA1: return EVP_sha1();
	case SIGH_SHA256: return EVP_sha256();
	case SIGH_SHA384: return EVP_sha384();
	case SIGH_SHA512: return EVP_sha512();
	}
	return NULL;
}

/* RFC 7427: one length byte, the AlgorithmIdentifier, then the signature. */
static int sign_ds(EVP_PKEY *key, const struct scheme *s, const uint8_t *aid, size_t aid_len,
		   const uint8_t *in, size_t len, struct buf *out)
{
	buf_put_u8(out, (uint8_t)aid_len);
	buf_put(out, aid, aid_len);
	return do_sign(key, s, in, len, out);
}

static int sign_ec(EVP_PKEY *key, unsigned peer_hashes, const uint8_t *in, size_t len,
		   uint8_t *method, struct buf *out)
{
	int bits = EVP_PKEY_get_bits(key);
	int h = bits <= 256 ? SIGH_SHA256 : bits <= 384 ? SIGH_SHA384 : SIGH_SHA512;
	struct scheme s = { .md = md_of_hash(h) };
	if (peer_hashes & (1u << h)) {
		const uint8_t *aid = h == SIGH_SHA256 ? aid_ecdsa_sha256 :
				     h == SIGH_SHA384 ? aid_ecdsa_sha384 : aid_ecdsa_sha512;
		*method = AUTH_DS;
		return sign_ds(key, &s, aid, sizeof(aid_ecdsa_sha256), in, len, out);
	}
	size_t half = (size_t)(bits + 7) / 8;
	struct buf der;
	buf_init(&der);
	int rc = do_sign(key, &s, in, len, &der);
	uint8_t *rs = rc == 0 ? buf_append(out, 2 * half) : NULL;
	rc = rs ? der_to_rs(der.data, der.len, half, rs) : -1;
	buf_free(&der);
	*method = h == SIGH_SHA256 ? AUTH_ECDSA_256 : h == SIGH_SHA384 ? AUTH_ECDSA_384 : AUTH_ECDSA_521;
	return rc;
}

int sig_sign(EVP_PKEY *key, unsigned peer_hashes, const uint8_t *octets, size_t len,
	     uint8_t *method, struct buf *out)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519: {
		struct scheme s = { 0 };
		if (!(peer_hashes & (1u << SIGH_IDENTITY)))
			return -1;	/* Ed25519 exists only under RFC 7427 */
		*method = AUTH_DS;
		return sign_ds(key, &s, aid_ed25519, sizeof(aid_ed25519), octets, len, out);
	}
	case EVP_PKEY_EC:
		return sign_ec(key, peer_hashes, octets, len, method, out);
	case EVP_PKEY_RSA:
		if (peer_hashes & (1u << SIGH_SHA256)) {
			struct scheme s = { .md = EVP_sha256(), .pss = true, .mgf1 = EVP_sha256(),
					    .salt = 32 };
			*method = AUTH_DS;
			return sign_ds(key, &s, aid_pss_sha256, sizeof(aid_pss_sha256), octets, len,
				       out);
		} else {
			struct scheme s = { .md = EVP_sha1() };
			*method = AUTH_RSA;
			return do_sign(key, &s, octets, len, out);
		}
	}
	return -1;
}

/* The PSS parameters of an AlgorithmIdentifier (RFC 4055 defaults: SHA-1, salt 20). */
static int pss_params(const X509_ALGOR *a, struct scheme *s, const char **why)
{
	const ASN1_OBJECT *obj;
	int ptype;
	const void *pval;
	X509_ALGOR_get0(&obj, &ptype, &pval, a);
	if (ptype != V_ASN1_SEQUENCE) {
		*why = "RSASSA-PSS without parameters";
		return -1;
	}
	RSA_PSS_PARAMS *p = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), a->parameter);
	if (!p) {
		*why = "malformed RSASSA-PSS parameters";
		return -1;
	}
	int hash = p->hashAlgorithm ? OBJ_obj2nid(p->hashAlgorithm->algorithm) : NID_sha1;
	int mgf = NID_sha1;
	if (p->maskGenAlgorithm) {
		/* MGF1's own parameter is the AlgorithmIdentifier of its hash. */
		X509_ALGOR *mh = NULL;
		if (OBJ_obj2nid(p->maskGenAlgorithm->algorithm) == NID_mgf1 &&
		    p->maskGenAlgorithm->parameter &&
		    p->maskGenAlgorithm->parameter->type == V_ASN1_SEQUENCE)
			mh = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
						       p->maskGenAlgorithm->parameter);
		mgf = mh ? OBJ_obj2nid(mh->algorithm) : NID_undef;
		X509_ALGOR_free(mh);
	}
	long salt = p->saltLength ? ASN1_INTEGER_get(p->saltLength) : 20;
	RSA_PSS_PARAMS_free(p);
	s->pss = true;
	s->md = EVP_get_digestbynid(hash);
	s->mgf1 = EVP_get_digestbynid(mgf);
	s->salt = (int)salt;
	if (!s->md || !s->mgf1 || salt < 0 || salt > 512) {
		*why = "unsupported RSASSA-PSS parameters";
		return -1;
	}
	return 0;
}

/* The scheme an RFC 7427 AlgorithmIdentifier names, and the key type it needs. */
static int scheme_of(const X509_ALGOR *a, struct scheme *s, int *key_type, const char **why)
{
	int nid = OBJ_obj2nid(a->algorithm);
	memset(s, 0, sizeof(*s));
	*key_type = EVP_PKEY_RSA;
	switch (nid) {
	case NID_sha1WithRSAEncryption: s->md = EVP_sha1(); return 0;
	case NID_sha256WithRSAEncryption: s->md = EVP_sha256(); return 0;
	case NID_sha384WithRSAEncryption: s->md = EVP_sha384(); return 0;
	case NID_sha512WithRSAEncryption: s->md = EVP_sha512(); return 0;
	case NID_rsassaPss: return pss_params(a, s, why);
	}
	*key_type = EVP_PKEY_EC;
	switch (nid) {
	case NID_ecdsa_with_SHA256: s->md = EVP_sha256(); return 0;
	case NID_ecdsa_with_SHA384: s->md = EVP_sha384(); return 0;
	case NID_ecdsa_with_SHA512: s->md = EVP_sha512(); return 0;
	}
	*key_type = EVP_PKEY_ED25519;
	if (nid == NID_ED25519)
		return 0;
	*why = "unsupported signature algorithm in RFC 7427 AUTH";
	return -1;
}

static int verify_ds(EVP_PKEY *pub, const uint8_t *auth, size_t auth_len, const uint8_t *in,
		     size_t len, const char **why)
{
	size_t alen = auth_len ? auth[0] : 0;
	if (auth_len < 2 || 1 + alen >= auth_len) {
		*why = "malformed RFC 7427 AUTH data";
		return -1;
	}
	const unsigned char *p = auth + 1;
	X509_ALGOR *a = d2i_X509_ALGOR(NULL, &p, (long)alen);
	struct scheme s;
	int key_type, rc = -1;
	if (!a || p != auth + 1 + alen)
		*why = "malformed AlgorithmIdentifier in AUTH";
	else if (scheme_of(a, &s, &key_type, why) < 0)
		;
	else if (EVP_PKEY_get_base_id(pub) != key_type)
		*why = "signature algorithm does not fit the certificate's key";
	else if ((rc = do_verify(pub, &s, auth + 1 + alen, auth_len - 1 - alen, in, len)) < 0)
		*why = "signature does not verify";
	X509_ALGOR_free(a);
	ERR_clear_error();
	return rc;
}

static int verify_ecdsa(EVP_PKEY *pub, int bits, int h, const uint8_t *auth, size_t auth_len,
			const uint8_t *in, size_t len, const char **why)
{
	size_t half = (size_t)(bits + 7) / 8;
	struct scheme s = { .md = md_of_hash(h) };
	if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC || EVP_PKEY_get_bits(pub) != bits) {
		*why = "ECDSA method does not fit the certificate's key";
		return -1;
	}
	if (auth_len != 2 * half) {
		*why = "ECDSA signature of the wrong length";
		return -1;
	}
	struct buf der;
	buf_init(&der);
	int rc = rs_to_der(auth, auth_len, &der) == 0 ? do_verify(pub, &s, der.data, der.len, in, len) : -1;
	buf_free(&der);
	if (rc < 0)
		*why = "signature does not verify";
	return rc;
}

int sig_verify(EVP_PKEY *pub, uint8_t method, const uint8_t *auth, size_t auth_len,
	       const uint8_t *octets, size_t len, const char **why)
{
	switch (method) {
	case AUTH_DS:
		return verify_ds(pub, auth, auth_len, octets, len, why);
	case AUTH_RSA: {
		struct scheme s = { .md = EVP_sha1() };
		if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
			*why = "RSA method, but the certificate's key is not RSA";
			return -1;
		}
		if (do_verify(pub, &s, auth, auth_len, octets, len) < 0) {
			*why = "signature does not verify";
			return -1;
		}
		return 0;
	}
	case AUTH_ECDSA_256:
		return verify_ecdsa(pub, 256, SIGH_SHA256, auth, auth_len, octets, len, why);
	case AUTH_ECDSA_384:
		return verify_ecdsa(pub, 384, SIGH_SHA384, auth, auth_len, octets, len, why);
	case AUTH_ECDSA_521:
		return verify_ecdsa(pub, 521, SIGH_SHA512, auth, auth_len, octets, len, why);
	}
	*why = "unsupported AUTH method";
	return -1;
}

/* The name of an RFC 7427 AlgorithmIdentifier's scheme. */
static const char *ds_name(const uint8_t *auth, size_t auth_len)
{
	size_t alen = auth_len ? auth[0] : 0;
	const unsigned char *p = auth + 1;
	X509_ALGOR *a = auth_len >= 2 && 1 + alen < auth_len ? d2i_X509_ALGOR(NULL, &p, (long)alen) : NULL;
	int nid = a ? OBJ_obj2nid(a->algorithm) : NID_undef;
	X509_ALGOR_free(a);
	ERR_clear_error();
	switch (nid) {
	case NID_sha1WithRSAEncryption: return "RSA PKCS#1 v1.5 SHA-1 (RFC 7427)";
	case NID_sha256WithRSAEncryption: return "RSA PKCS#1 v1.5 SHA-256 (RFC 7427)";
	case NID_sha384WithRSAEncryption: return "RSA PKCS#1 v1.5 SHA-384 (RFC 7427)";
	case NID_sha512WithRSAEncryption: return "RSA PKCS#1 v1.5 SHA-512 (RFC 7427)";
	case NID_rsassaPss: return "RSASSA-PSS (RFC 7427)";
	case NID_ecdsa_with_SHA256: return "ECDSA SHA-256 (RFC 7427)";
	case NID_ecdsa_with_SHA384: return "ECDSA SHA-384 (RFC 7427)";
	case NID_ecdsa_with_SHA512: return "ECDSA SHA-512 (RFC 7427)";
	case NID_ED25519: return "Ed25519 (RFC 7427)";
	}
	return "an unknown RFC 7427 signature";
}

const char *sig_method_name(uint8_t method, const uint8_t *auth, size_t auth_len)
{
	switch (method) {
	case AUTH_RSA: return "RSA PKCS#1 v1.5 SHA-1 (auth method 1)";
	case AUTH_ECDSA_256: return "ECDSA-256 SHA-256 (auth method 9)";
	case AUTH_ECDSA_384: return "ECDSA-384 SHA-384 (auth method 10)";
	case AUTH_ECDSA_521: return "ECDSA-521 SHA-512 (auth method 11)";
	case AUTH_DS: return ds_name(auth, auth_len);
	}
	return "an unsupported auth method";
}
