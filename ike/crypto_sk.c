/* The Encrypted (SK) payload, RFC 7296 3.14, and the Encrypted Fragment (SKF) payload,
 * RFC 7383 2.5, which is the same with a 4-byte longer header (fragment number, total
 * fragments; for AEAD they are part of the AAD as the rest of the header is):
 *   classic ciphers: IV | E(inner | padding | pad length) | ICV, where the ICV is the
 *     truncated HMAC over the whole message from the IKE header up to the ICV;
 *   AEAD (RFC 5282, RFC 7634): 8-byte IV | E(inner | pad length) | tag, with
 *     nonce = salt (last 4 key bytes) | IV and AAD = IKE header .. SK payload header.
 * All lengths come from the untrusted message and are checked before use. */
#include "ike/ike_crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ike/proposal.h"
#include "lib/wipe.h"

#define IKE_HDR_LEN 28
#define SK_HDR_LEN 4
#define SKF_HDR_LEN 8	/* SKF (RFC 7383 2.5): also fragment number and total */
#define SALT_LEN 4
#define AEAD_IV_LEN 8

struct cipher {
	const char *name;	/* OpenSSL cipher name */
	size_t block;		/* padding unit */
	size_t iv;		/* IV bytes on the wire */
	size_t icv;		/* AEAD tag bytes (0 for classic) */
};

static bool cipher_for(uint16_t encr, uint16_t keylen, struct cipher *c)
{
	static const char *cbc[] = { "AES-128-CBC", "AES-192-CBC", "AES-256-CBC" };
	static const char *gcm[] = { "AES-128-GCM", "AES-192-GCM", "AES-256-GCM" };
	int size = keylen == 128 ? 0 : keylen == 192 ? 1 : keylen == 256 ? 2 : -1;

	switch (encr) {
	case ENCR_AES_CBC:
		if (size < 0)
			return false;
		*c = (struct cipher){ cbc[size], 16, 16, 0 };
		return true;
	case ENCR_3DES:
		*c = (struct cipher){ "DES-EDE3-CBC", 8, 8, 0 };
		return true;
	case ENCR_AES_GCM_8:
	case ENCR_AES_GCM_12:
	case ENCR_AES_GCM_16:
		if (size < 0)
			return false;
		*c = (struct cipher){ gcm[size], 1, AEAD_IV_LEN,
			encr == ENCR_AES_GCM_8 ? 8 : encr == ENCR_AES_GCM_12 ? 12 : 16 };
		return true;
	case ENCR_CHACHA20_POLY1305:
		if (keylen != 0 && keylen != 256)
			return false;
		*c = (struct cipher){ "ChaCha20-Poly1305", 1, AEAD_IV_LEN, 16 };
		return true;
	}
	return false;
}

static const EVP_MD *integ_md(uint16_t integ)
{
	switch (integ) {
	case INTEG_HMAC_MD5_96: return EVP_md5();
	case INTEG_HMAC_SHA1_96: return EVP_sha1();
	case INTEG_HMAC_SHA2_256_128: return EVP_sha256();
	case INTEG_HMAC_SHA2_384_192: return EVP_sha384();
	case INTEG_HMAC_SHA2_512_256: return EVP_sha512();
	}
	return NULL;
}

/* Bytes of padding so that inner + padding + pad length fills whole blocks. */
static size_t pad_len(const struct cipher *c, size_t plain_len)
{
	return (c->block - (plain_len + 1) % c->block) % c->block;
}

size_t sk_overhead(const struct ike_keys *k, size_t plain_len)
{
	struct cipher c;
	if (!cipher_for(k->encr, k->encr_keylen, &c))
		return 0;
	size_t icv = c.icv ? c.icv : integ_icv_len(k->integ);
	return c.iv + pad_len(&c, plain_len) + 1 + icv;
}

/* --- One pass of a cipher ---------------------------------------------------------- */

/* Runs the cipher over in[0..len) into out (same length, no OpenSSL padding). For
 * AEAD, aad is authenticated and tag is written (encrypt) or checked (decrypt). */
static int run_cipher(const struct cipher *c, bool enc, const uint8_t *key,
		      const uint8_t *iv, size_t iv_len, const uint8_t *aad, size_t aad_len,
		      const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, c->name, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, rc = -1;

	if (!cipher || !ctx || len > INT_MAX)
		goto out;
	if (!EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, enc, NULL))
		goto out;
	if (c->icv && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)iv_len, NULL))
		goto out;
	if (!EVP_CipherInit_ex2(ctx, NULL, key, iv, enc, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 0))
		goto out;
	if (c->icv) {
		if (aad_len && !EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len))
			goto out;
		if (!enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)c->icv, tag))
			goto out;
	}
	if (!EVP_CipherUpdate(ctx, out, &n, in, (int)len) ||
	    !EVP_CipherFinal_ex(ctx, out + n, &fin) || (size_t)(n + fin) != len)
		goto out;
	if (c->icv && enc &&
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)c->icv, tag))
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return rc;
}

static int hmac_icv(uint16_t integ, const uint8_t *key, size_t key_len,
		    const uint8_t *data, size_t len, uint8_t *icv)
{
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;
	const EVP_MD *md = integ_md(integ);

	if (!md || !HMAC(md, key, (int)key_len, data, len, full, &full_len) ||
	    full_len < integ_icv_len(integ))
		return -1;
	memcpy(icv, full, integ_icv_len(integ));
	wipe(full, sizeof(full));
	return 0;
}

/* --- Encrypt ----------------------------------------------------------------------- */

size_t sk_max_plain(const struct ike_keys *k, size_t room)
{
	struct cipher c;
	if (!cipher_for(k->encr, k->encr_keylen, &c))
		return 0;
	/* the overhead is at most IV + a block of padding + ICV: a few steps down */
	for (size_t n = room; n > 0; n--)
		if (n + sk_overhead(k, n) <= room)
			return n;
	return 0;
}

int sk_encrypt(const struct ike_keys *k, bool initiator, struct buf *msg,
	       const uint8_t *plain, size_t plain_len)
{
	return sk_encrypt_hdr(k, initiator, msg, SK_HDR_LEN, plain, plain_len);
}

int sk_encrypt_hdr(const struct ike_keys *k, bool initiator, struct buf *msg, size_t hdr_len,
		   const uint8_t *plain, size_t plain_len)
{
	const uint8_t *ek = initiator ? k->sk_ei : k->sk_er;
	const uint8_t *ak = initiator ? k->sk_ai : k->sk_ar;
	struct cipher c;
	int rc = -1;

	if (!cipher_for(k->encr, k->encr_keylen, &c) || msg->oom ||
	    (hdr_len != SK_HDR_LEN && hdr_len != SKF_HDR_LEN) ||
	    msg->len < IKE_HDR_LEN + hdr_len)
		return -1;
	/* the caller wrote the final lengths: check them against what we will append */
	size_t overhead = sk_overhead(k, plain_len);
	size_t total = msg->len + plain_len + overhead;
	if (get_u32(msg->data + 24) != total ||
	    get_u16(msg->data + msg->len - hdr_len + 2) != hdr_len + plain_len + overhead)
		return -1;

	size_t pad = pad_len(&c, plain_len), ct_len = plain_len + pad + 1;
	size_t icv_len = c.icv ? c.icv : integ_icv_len(k->integ);
	size_t aad_len = msg->len;
	uint8_t *inner = malloc(ct_len);
	if (!inner || !buf_reserve(msg, overhead + plain_len))
		goto out;
	if (plain_len)		/* an empty INFORMATIONAL has no payloads at all */
		memcpy(inner, plain, plain_len);
	memset(inner + plain_len, 0, pad);
	inner[ct_len - 1] = (uint8_t)pad;

	uint8_t *iv = buf_append(msg, c.iv);
	uint8_t *ct = buf_append(msg, ct_len);
	uint8_t *icv = buf_append(msg, icv_len);
	if (!iv || !ct || !icv)
		goto out;
	crypto_random(iv, c.iv);
	if (c.icv) {
		uint8_t nonce[SALT_LEN + AEAD_IV_LEN];
		memcpy(nonce, ek + k->ek_len - SALT_LEN, SALT_LEN);
		memcpy(nonce + SALT_LEN, iv, AEAD_IV_LEN);
		rc = run_cipher(&c, true, ek, nonce, sizeof(nonce), msg->data, aad_len,
				inner, ct_len, ct, icv);
	} else {
		rc = run_cipher(&c, true, ek, iv, c.iv, NULL, 0, inner, ct_len, ct, NULL);
		if (rc == 0)
			rc = hmac_icv(k->integ, ak, k->ak_len, msg->data, msg->len - icv_len,
				      icv);
	}
out:
	if (inner)
		wipe_free(inner, ct_len);
	return rc;
}

/* --- Decrypt ----------------------------------------------------------------------- */

int sk_decrypt(const struct ike_keys *k, bool initiator, const uint8_t *msg, size_t msglen,
	       size_t sk_off, struct buf *plain)
{
	return sk_decrypt_hdr(k, initiator, msg, msglen, sk_off, SK_HDR_LEN, plain);
}

int sk_decrypt_hdr(const struct ike_keys *k, bool initiator, const uint8_t *msg,
		   size_t msglen, size_t sk_off, size_t hdr_len, struct buf *plain)
{
	const uint8_t *ek = initiator ? k->sk_ei : k->sk_er;
	const uint8_t *ak = initiator ? k->sk_ai : k->sk_ar;
	struct cipher c;
	struct rd r;
	int rc = -1;

	if (!cipher_for(k->encr, k->encr_keylen, &c) || sk_off < IKE_HDR_LEN ||
	    sk_off > msglen || (hdr_len != SK_HDR_LEN && hdr_len != SKF_HDR_LEN))
		return -1;
	/* the SK payload is the last one: its length must end the message exactly */
	rd_init(&r, msg + sk_off, msglen - sk_off);
	rd_skip(&r, 2);
	size_t sk_len = rd_u16(&r);
	rd_skip(&r, hdr_len - SK_HDR_LEN);	/* SKF: fragment number and total */
	if (r.err || sk_len != msglen - sk_off)
		return -1;
	size_t icv_len = c.icv ? c.icv : integ_icv_len(k->integ);
	const uint8_t *iv = rd_bytes(&r, c.iv);
	if (!iv || rd_left(&r) < icv_len + 1)
		return -1;
	size_t ct_len = rd_left(&r) - icv_len;
	const uint8_t *ct = rd_bytes(&r, ct_len);
	const uint8_t *icv = rd_bytes(&r, icv_len);
	if (!ct || !icv || r.err || ct_len % c.block)
		return -1;

	uint8_t *inner = malloc(ct_len);
	if (!inner)
		return -1;
	if (c.icv) {
		uint8_t nonce[SALT_LEN + AEAD_IV_LEN];
		uint8_t tag[16];
		memcpy(nonce, ek + k->ek_len - SALT_LEN, SALT_LEN);
		memcpy(nonce + SALT_LEN, iv, AEAD_IV_LEN);
		memcpy(tag, icv, icv_len);
		if (run_cipher(&c, false, ek, nonce, sizeof(nonce), msg, sk_off + hdr_len,
			       ct, ct_len, inner, tag) < 0)
			goto out;
	} else {
		uint8_t want[64];
		if (hmac_icv(k->integ, ak, k->ak_len, msg, msglen - icv_len, want) < 0 ||
		    CRYPTO_memcmp(want, icv, icv_len) != 0)
			goto out;
		if (run_cipher(&c, false, ek, iv, c.iv, NULL, 0, ct, ct_len, inner, NULL) < 0)
			goto out;
	}
	size_t pad = inner[ct_len - 1];
	if (pad + 1 > ct_len)
		goto out;
	buf_put(plain, inner, ct_len - pad - 1);
	rc = plain->oom ? -1 : 0;
out:
	wipe_free(inner, ct_len);
	return rc;
}
