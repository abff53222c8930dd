/* Diffie-Hellman for IKEv2: MODP groups (RFC 2409 group 2, RFC 3526), NIST ECP
 * groups (RFC 5903: KE data is x | y, the shared secret is x), Curve25519 (RFC 8031).
 * Every peer value is checked before use: exact length, 1 < y < p-1 for MODP, on the
 * curve for ECP, and a non-zero result for X25519. */
#include "ike/ike_crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <sodium.h>

#include "ike/proposal.h"
#include "lib/log.h"
#include "lib/wipe.h"

/* X25519 is libsodium's: no OpenSSL key objects, context or provider look-ups for
 * the group most clients offer (a concentrator sets up a thousand at a time; an
 * OpenSSL X25519 exchange allocated some 30 blocks). The others are OpenSSL's. */
struct dh {
	uint16_t group;
	EVP_PKEY *key;		/* MODP, ECP */
	uint8_t x25519[32];	/* X25519: the private scalar (wiped with the struct) */
};

enum dh_kind { KIND_NONE, KIND_MODP, KIND_ECP, KIND_X25519 };

struct group_info {
	uint16_t id;
	enum dh_kind kind;
	const char *name;	/* OpenSSL group or curve name */
	int nid;		/* ECP only */
	size_t len;		/* prime / field size in bytes */
};

static const struct group_info groups[] = {
	{ DH_MODP1024, KIND_MODP, NULL, 0, 128 },
	{ DH_MODP1536, KIND_MODP, "modp_1536", 0, 192 },
	{ DH_MODP2048, KIND_MODP, "modp_2048", 0, 256 },
	{ DH_MODP3072, KIND_MODP, "modp_3072", 0, 384 },
	{ DH_MODP4096, KIND_MODP, "modp_4096", 0, 512 },
	{ DH_MODP6144, KIND_MODP, "modp_6144", 0, 768 },
	{ DH_MODP8192, KIND_MODP, "modp_8192", 0, 1024 },
	{ DH_ECP256, KIND_ECP, "prime256v1", NID_X9_62_prime256v1, 32 },
	{ DH_ECP384, KIND_ECP, "secp384r1", NID_secp384r1, 48 },
	{ DH_ECP521, KIND_ECP, "secp521r1", NID_secp521r1, 66 },
	{ DH_CURVE25519, KIND_X25519, "X25519", 0, 32 },
};

/* RFC 2409 6.2, the second Oakley group: OpenSSL has no name for it. */
static const char modp1024_hex[] =
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"
	"FFFFFFFFFFFFFFFF";

static const struct group_info *group_find(uint16_t id)
{
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (groups[i].id == id)
			return &groups[i];
	return NULL;
}

size_t dh_public_len(uint16_t group)
{
	const struct group_info *g = group_find(group);
	if (!g)
		return 0;
	return g->kind == KIND_ECP ? 2 * g->len : g->len;
}

uint16_t dh_group(const struct dh *dh)
{
	return dh->group;
}

void dh_free(struct dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->key);	/* OpenSSL clears private key material on free */
	wipe_free(dh, sizeof(*dh));
}

/* --- Parameters and key generation ---------------------------------------------- */

static BIGNUM *modp_prime(const struct group_info *g)
{
	BIGNUM *p = NULL;
	if (g->id == DH_MODP1024) {
		if (!BN_hex2bn(&p, modp1024_hex))
			return NULL;
		return p;
	}
	/* the named groups: read the prime back from a parameter-only key */
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *params = NULL;
	OSSL_PARAM in[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)g->name, 0),
		OSSL_PARAM_construct_end(),
	};
	if (ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
	    EVP_PKEY_fromdata(ctx, &params, EVP_PKEY_KEY_PARAMETERS, in) > 0)
		EVP_PKEY_get_bn_param(params, OSSL_PKEY_PARAM_FFC_P, &p);
	EVP_PKEY_free(params);
	EVP_PKEY_CTX_free(ctx);
	return p;
}

/* Builds a DH or EC key from OSSL_PARAMs (private and/or public parts). */
static EVP_PKEY *key_fromdata(const char *type, OSSL_PARAM *params, int selection)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, selection, params) <= 0)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* MODP domain parameters as OSSL_PARAMs: by name, or p and g=2 for group 2. */
static OSSL_PARAM_BLD *modp_params(const struct group_info *g, BIGNUM **p_out, BIGNUM **g_out)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	*p_out = *g_out = NULL;
	if (!bld)
		return NULL;
	if (g->name) {
		if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, g->name, 0))
			return bld;
	} else {
		*p_out = modp_prime(g);
		*g_out = BN_new();
		if (*p_out && *g_out && BN_set_word(*g_out, 2) &&
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, *p_out) &&
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, *g_out))
			return bld;
	}
	OSSL_PARAM_BLD_free(bld);
	BN_free(*p_out);
	BN_free(*g_out);
	*p_out = *g_out = NULL;
	return NULL;
}

static EVP_PKEY *generate(const struct group_info *g)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL, *dom = NULL;

	switch (g->kind) {
	case KIND_ECP:
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (ctx && EVP_PKEY_keygen_init(ctx) > 0 &&
		    EVP_PKEY_CTX_set_group_name(ctx, g->name) > 0)
			EVP_PKEY_generate(ctx, &key);
		break;
	case KIND_MODP: {
		BIGNUM *p, *gen;
		OSSL_PARAM_BLD *bld = modp_params(g, &p, &gen);
		OSSL_PARAM *params = bld ? OSSL_PARAM_BLD_to_param(bld) : NULL;
		if (params)
			dom = key_fromdata("DH", params, EVP_PKEY_KEY_PARAMETERS);
		OSSL_PARAM_free(params);
		OSSL_PARAM_BLD_free(bld);
		BN_free(p);
		BN_free(gen);
		if (!dom)
			break;
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dom, NULL);
		if (ctx && EVP_PKEY_keygen_init(ctx) > 0)
			EVP_PKEY_generate(ctx, &key);
		break;
	}
	default:
		break;
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(dom);
	return key;
}

struct dh *dh_new(uint16_t group)
{
	const struct group_info *g = group_find(group);
	if (!g)
		return NULL;
	struct dh *dh = calloc(1, sizeof(*dh));
	if (!dh)
		return NULL;
	dh->group = group;
	if (g->kind == KIND_X25519) {
		crypto_random(dh->x25519, sizeof(dh->x25519));
		return dh;
	}
	dh->key = generate(g);
	if (!dh->key) {
		log_err(LOG_ENC, "generating a %s key failed", dh_name(group));
		dh_free(dh);
		return NULL;
	}
	return dh;
}

/* --- Public values ------------------------------------------------------------------ */

/* A big number as exactly len bytes, big endian, zero-padded on the left. */
static int bn_put_padded(const BIGNUM *bn, size_t len, struct buf *out)
{
	uint8_t *dst = buf_append(out, len);
	if (!dst || BN_bn2binpad(bn, dst, (int)len) < 0)
		return -1;
	return 0;
}

int dh_public(const struct dh *dh, struct buf *out)
{
	const struct group_info *g = group_find(dh->group);
	uint8_t enc[1 + 2 * 66];
	size_t n = 0;

	switch (g->kind) {
	case KIND_MODP: {
		BIGNUM *pub = NULL;
		int r = -1;
		if (EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &pub))
			r = bn_put_padded(pub, g->len, out);
		BN_free(pub);
		return r;
	}
	case KIND_ECP:
		/* uncompressed point 0x04 | x | y; the KE payload omits the 0x04 */
		if (!EVP_PKEY_get_octet_string_param(dh->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
						     enc, sizeof(enc), &n) ||
		    n != 1 + 2 * g->len || enc[0] != 0x04)
			return -1;
		buf_put(out, enc + 1, n - 1);
		return out->oom ? -1 : 0;
	case KIND_X25519: {
		uint8_t *dst = buf_append(out, g->len);
		if (!dst || crypto_scalarmult_curve25519_base(dst, dh->x25519) != 0)
			return -1;
		return 0;
	}
	default:
		return -1;
	}
}

/* --- Peer values ---------------------------------------------------------------------- */

/* 1 < y < p-1 (RFC 7296 and NIST SP 800-56A: rejects 0, 1, p-1 and y >= p). */
static EVP_PKEY *modp_peer(const struct group_info *g, const uint8_t *peer)
{
	BIGNUM *y = BN_bin2bn(peer, (int)g->len, NULL);
	BIGNUM *p = modp_prime(g), *pm1 = p ? BN_dup(p) : NULL, *p2 = NULL, *gen = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;

	if (!y || !pm1 || !BN_sub_word(pm1, 1))
		goto out;
	if (BN_cmp(y, BN_value_one()) <= 0 || BN_cmp(y, pm1) >= 0)
		goto out;
	bld = modp_params(g, &p2, &gen);
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		key = key_fromdata("DH", params, EVP_PKEY_PUBLIC_KEY);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(y);
	BN_free(p);
	BN_free(pm1);
	BN_free(p2);
	BN_free(gen);
	return key;
}

/* The point must decode and lie on the curve (OpenSSL's EC_POINT_oct2point checks
 * that; EVP_PKEY_public_check repeats it and rejects the point at infinity). */
static EVP_PKEY *ecp_peer(const struct group_info *g, const uint8_t *peer)
{
	uint8_t enc[1 + 2 * 66];
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *check = NULL;

	enc[0] = 0x04;
	memcpy(enc + 1, peer, 2 * g->len);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)g->name, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, enc, 1 + 2 * g->len),
		OSSL_PARAM_construct_end(),
	};
	key = key_fromdata("EC", params, EVP_PKEY_PUBLIC_KEY);
	if (!key)
		return NULL;
	check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	EVP_PKEY_CTX_free(check);
	return key;
}

static EVP_PKEY *peer_key(const struct group_info *g, const uint8_t *peer)
{
	switch (g->kind) {
	case KIND_MODP: return modp_peer(g, peer);
	case KIND_ECP: return ecp_peer(g, peer);
	default: return NULL;
	}
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int dh_shared(struct dh *dh, const uint8_t *peer, size_t peerlen, struct buf *out)
{
	const struct group_info *g = group_find(dh->group);
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t secret[1024];
	size_t len = sizeof(secret);
	int rc = -1;

	if (!g || !peer || peerlen != dh_public_len(dh->group))
		return -1;
	if (g->kind == KIND_X25519) {
		/* -1 for a result of all zeros (a low-order point), as RFC 8031 asks */
		if (crypto_scalarmult_curve25519(secret, dh->x25519, peer) != 0)
			goto out;
		len = g->len;
		goto have_secret;
	}
	pk = peer_key(g, peer);
	if (!pk)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0)
		goto out;
	/* g^ir keeps its leading zeros: it is as long as the modulus (2.14) */
	if (g->kind == KIND_MODP && EVP_PKEY_CTX_set_dh_pad(ctx, 1) <= 0)
		goto out;
	if (EVP_PKEY_derive_set_peer_ex(ctx, pk, 1) <= 0 ||
	    EVP_PKEY_derive(ctx, secret, &len) <= 0)
		goto out;
have_secret:
	/* MODP: padded to p; ECP: the x coordinate; X25519: 32 bytes, never all zero */
	if (len != g->len || all_zero(secret, len))
		goto out;
	buf_put(out, secret, len);
	rc = out->oom ? -1 : 0;
out:
	wipe(secret, sizeof(secret));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return rc;
}

/* --- Fixed private keys, for known-answer tests ---------------------------------- */

static EVP_PKEY *ecp_from_private(const struct group_info *g, const uint8_t *priv, size_t len)
{
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(g->nid);
	EC_POINT *pub = grp ? EC_POINT_new(grp) : NULL;
	BIGNUM *d = BN_bin2bn(priv, (int)len, NULL);
	uint8_t enc[1 + 2 * 66];
	EVP_PKEY *key = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;

	if (!pub || !d || !EC_POINT_mul(grp, pub, d, NULL, NULL, NULL) ||
	    EC_POINT_point2oct(grp, pub, POINT_CONVERSION_UNCOMPRESSED, enc, sizeof(enc),
			       NULL) != 1 + 2 * g->len)
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, g->name, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, enc, 1 + 2 * g->len))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		key = key_fromdata("EC", params, EVP_PKEY_KEYPAIR);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	EC_POINT_free(pub);
	EC_GROUP_free(grp);
	return key;
}

static EVP_PKEY *modp_from_private(const struct group_info *g, const uint8_t *priv, size_t len)
{
	BIGNUM *x = BN_bin2bn(priv, (int)len, NULL), *y = BN_new();
	BIGNUM *p = NULL, *gen = NULL;
	BN_CTX *bnctx = BN_CTX_new();
	OSSL_PARAM_BLD *bld = modp_params(g, &p, &gen);
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;
	BIGNUM *prime = modp_prime(g), *two = BN_new();

	if (!x || !y || !bnctx || !bld || !prime || !two || !BN_set_word(two, 2) ||
	    !BN_mod_exp(y, two, x, prime, bnctx) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, x) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		key = key_fromdata("DH", params, EVP_PKEY_KEYPAIR);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(x);
	BN_free(y);
	BN_free(p);
	BN_free(gen);
	BN_free(prime);
	BN_free(two);
	BN_CTX_free(bnctx);
	return key;
}

struct dh *dh_new_from_private(uint16_t group, const uint8_t *priv, size_t priv_len)
{
	const struct group_info *g = group_find(group);
	if (!g || !priv || !priv_len)
		return NULL;
	struct dh *dh = calloc(1, sizeof(*dh));
	if (!dh)
		return NULL;
	dh->group = group;
	switch (g->kind) {
	case KIND_X25519:
		if (priv_len != 32)
			break;
		memcpy(dh->x25519, priv, 32);
		return dh;
	case KIND_ECP:
		dh->key = ecp_from_private(g, priv, priv_len);
		break;
	case KIND_MODP:
		dh->key = modp_from_private(g, priv, priv_len);
		break;
	default:
		break;
	}
	if (!dh->key) {
		dh_free(dh);
		return NULL;
	}
	return dh;
}
