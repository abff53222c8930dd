/* IKEv1 key derivation, hashes, IVs and message encryption for PSK authentication
 * (RFC 2409). See isakmp_crypto.h. The PRF is ike/crypto_prf.c's HMAC; only the
 * plain hash for the IVs and the CBC cipher are done here. */
#include "ike/v1/isakmp_crypto.h"

#include <string.h>

#include <openssl/evp.h>

#include "ike/proposal.h"
#include "ike/v1/isakmp_msg.h"
#include "lib/wipe.h"

#define ISAKMP_HDR 28
#define MAX_SEED 2048		/* g^xy (1024) + nonces (2 * 256) + SPI + protocol */

static const EVP_MD *prf_md(uint16_t prf)
{
	switch (prf) {
	case PRF_HMAC_MD5: return EVP_md5();
	case PRF_HMAC_SHA1: return EVP_sha1();
	case PRF_HMAC_SHA2_256: return EVP_sha256();
	case PRF_HMAC_SHA2_384: return EVP_sha384();
	case PRF_HMAC_SHA2_512: return EVP_sha512();
	}
	return NULL;
}

static const EVP_CIPHER *cbc_cipher(uint16_t encr, uint16_t keylen)
{
	if (encr == ENCR_3DES)
		return EVP_des_ede3_cbc();
	if (encr != ENCR_AES_CBC)
		return NULL;
	switch (keylen) {
	case 128: return EVP_aes_128_cbc();
	case 192: return EVP_aes_192_cbc();
	case 256: return EVP_aes_256_cbc();
	}
	return NULL;
}

size_t isakmp_cipher_block(uint16_t encr, uint16_t keylen)
{
	const EVP_CIPHER *c = cbc_cipher(encr, keylen);
	return c ? (size_t)EVP_CIPHER_get_block_size(c) : 0;
}

void isakmp_keys_wipe(struct isakmp_keys *k)
{
	wipe(k, sizeof(*k));
}

int isakmp_expand_key(uint16_t prf, const uint8_t *skeyid_e, size_t e_len, uint8_t *out,
		      size_t key_len)
{
	uint8_t kn[IKE_MAX_PRF_OUT];
	size_t blk = prf_out_len(prf), done = 0;
	static const uint8_t zero;

	if (!blk || e_len != blk)
		return -1;
	if (key_len <= e_len) {
		memcpy(out, skeyid_e, key_len);
		return 0;
	}
	/* K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1) */
	const uint8_t *in = &zero;
	size_t in_len = 1;
	while (done < key_len) {
		if (prf_compute(prf, skeyid_e, e_len, in, in_len, kn) < 0) {
			wipe(kn, sizeof(kn));
			return -1;
		}
		size_t n = key_len - done < blk ? key_len - done : blk;
		memcpy(out + done, kn, n);
		done += n;
		in = out + done - blk;	/* Kn, whole: n < blk only for the last one */
		in_len = blk;
	}
	wipe(kn, sizeof(kn));
	return 0;
}

/* SKEYID = prf(key, pieces): the keys' parameters set, the rest to come. */
static int derive_skeyid(struct isakmp_keys *k, uint16_t prf, uint16_t encr, uint16_t keylen,
			 const uint8_t *key, size_t key_len, const struct prf_piece *in,
			 size_t n_in)
{
	const EVP_CIPHER *c = cbc_cipher(encr, keylen);

	memset(k, 0, sizeof(*k));
	k->prf = prf;
	k->encr = encr;
	k->encr_keylen = keylen;
	k->prf_len = prf_out_len(prf);
	if (!k->prf_len || !c || !prf_md(prf))
		goto fail;
	k->ek_len = (size_t)EVP_CIPHER_get_key_length(c);
	k->block = (size_t)EVP_CIPHER_get_block_size(c);
	if (prf_compute_pieces(prf, key, key_len, in, n_in, k->skeyid) < 0)
		goto fail;
	return 0;
fail:
	isakmp_keys_wipe(k);
	return -1;
}

int isakmp_derive_skeyid_psk(struct isakmp_keys *k, uint16_t prf, uint16_t encr,
			     uint16_t keylen, const uint8_t *psk, size_t psk_len,
			     const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len)
{
	/* SKEYID = prf(pre-shared-key, Ni_b | Nr_b) */
	struct prf_piece nonces[2] = { { ni, ni_len }, { nr, nr_len } };
	return derive_skeyid(k, prf, encr, keylen, psk, psk_len, nonces, 2);
}

int isakmp_derive_skeyid_sig(struct isakmp_keys *k, uint16_t prf, uint16_t encr,
			     uint16_t keylen, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
			     size_t nr_len, const uint8_t *gxy, size_t gxy_len)
{
	/* SKEYID = prf(Ni_b | Nr_b, g^xy) */
	uint8_t nonces[2 * 256];
	struct prf_piece g = { gxy, gxy_len };
	if (ni_len > 256 || nr_len > 256)
		return -1;
	memcpy(nonces, ni, ni_len);
	memcpy(nonces + ni_len, nr, nr_len);
	return derive_skeyid(k, prf, encr, keylen, nonces, ni_len + nr_len, &g, 1);
}

int isakmp_derive_skeyid_dae(struct isakmp_keys *k, const uint8_t *gxy, size_t gxy_len,
			     const uint8_t cky_i[8], const uint8_t cky_r[8])
{
	static const uint8_t n0 = 0, n1 = 1, n2 = 2;
	uint16_t prf = k->prf;

	if (!k->prf_len)
		goto fail;
	/* SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0) */
	struct prf_piece d[4] = { { gxy, gxy_len }, { cky_i, 8 }, { cky_r, 8 }, { &n0, 1 } };
	if (prf_compute_pieces(prf, k->skeyid, k->prf_len, d, 4, k->skeyid_d) < 0)
		goto fail;
	/* SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1) */
	struct prf_piece a[5] = { { k->skeyid_d, k->prf_len }, { gxy, gxy_len }, { cky_i, 8 },
				  { cky_r, 8 }, { &n1, 1 } };
	if (prf_compute_pieces(prf, k->skeyid, k->prf_len, a, 5, k->skeyid_a) < 0)
		goto fail;
	/* SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2) */
	struct prf_piece e[5] = { { k->skeyid_a, k->prf_len }, { gxy, gxy_len }, { cky_i, 8 },
				  { cky_r, 8 }, { &n2, 1 } };
	if (prf_compute_pieces(prf, k->skeyid, k->prf_len, e, 5, k->skeyid_e) < 0)
		goto fail;
	if (k->ek_len > sizeof(k->ek) ||
	    isakmp_expand_key(prf, k->skeyid_e, k->prf_len, k->ek, k->ek_len) < 0)
		goto fail;
	return 0;
fail:
	isakmp_keys_wipe(k);
	return -1;
}

int isakmp_derive_psk(struct isakmp_keys *k, uint16_t prf, uint16_t encr, uint16_t keylen,
		      const uint8_t *psk, size_t psk_len,
		      const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		      const uint8_t *gxy, size_t gxy_len,
		      const uint8_t cky_i[8], const uint8_t cky_r[8])
{
	if (isakmp_derive_skeyid_psk(k, prf, encr, keylen, psk, psk_len, ni, ni_len, nr,
				     nr_len) < 0)
		return -1;
	return isakmp_derive_skeyid_dae(k, gxy, gxy_len, cky_i, cky_r);
}

int isakmp_hash_auth(const struct isakmp_keys *k, bool initiator,
		     const uint8_t *gxi, size_t gxi_len, const uint8_t *gxr, size_t gxr_len,
		     const uint8_t cky_i[8], const uint8_t cky_r[8],
		     const uint8_t *sa_b, size_t sa_len, const uint8_t *id_b, size_t id_len,
		     uint8_t *out)
{
	/* the sender's values come first */
	struct prf_piece in[6] = {
		{ initiator ? gxi : gxr, initiator ? gxi_len : gxr_len },
		{ initiator ? gxr : gxi, initiator ? gxr_len : gxi_len },
		{ initiator ? cky_i : cky_r, 8 },
		{ initiator ? cky_r : cky_i, 8 },
		{ sa_b, sa_len },
		{ id_b, id_len },
	};
	return prf_compute_pieces(k->auth_prf ? k->auth_prf : k->prf, k->skeyid, k->prf_len, in, 6,
				  out);
}

size_t isakmp_hash_auth_len(const struct isakmp_keys *k)
{
	return k->auth_prf ? prf_out_len(k->auth_prf) : k->prf_len;
}

/* hash(a | b) truncated to the block size. */
static int iv_hash(const struct isakmp_keys *k, const uint8_t *a, size_t a_len,
		   const uint8_t *b, size_t b_len, struct isakmp_iv *iv)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx && prf_md(k->prf) && k->block <= sizeof(iv->b) &&
	    EVP_DigestInit_ex(ctx, prf_md(k->prf), NULL) &&
	    EVP_DigestUpdate(ctx, a, a_len) && EVP_DigestUpdate(ctx, b, b_len) &&
	    EVP_DigestFinal_ex(ctx, md, &md_len) && md_len >= k->block) {
		memcpy(iv->b, md, k->block);
		iv->len = k->block;
		rc = 0;
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

size_t isakmp_natd_hash(uint16_t prf, const uint8_t cky_i[8], const uint8_t cky_r[8],
			const struct addr *a, uint8_t *out)
{
	uint8_t in[8 + 8 + 16 + 2];
	size_t alen = addr_len(a);
	unsigned int len = 0;
	const EVP_MD *md = prf_md(prf);
	memcpy(in, cky_i, 8);
	memcpy(in + 8, cky_r, 8);
	memcpy(in + 16, a->u.b, alen);
	put_u16(in + 16 + alen, a->port);
	if (!md || !EVP_Digest(in, 16 + alen + 2, out, &len, md, NULL))
		return 0;
	return len;
}

int isakmp_iv_phase1(const struct isakmp_keys *k, const uint8_t *gxi, size_t gxi_len,
		     const uint8_t *gxr, size_t gxr_len, struct isakmp_iv *iv)
{
	return iv_hash(k, gxi, gxi_len, gxr, gxr_len, iv);
}

int isakmp_iv_phase2(const struct isakmp_keys *k, const struct isakmp_iv *p1_last,
		     uint32_t msgid, struct isakmp_iv *iv)
{
	uint8_t mid[4];
	put_u32(mid, msgid);
	if (p1_last->len != k->block)
		return -1;
	return iv_hash(k, p1_last->b, p1_last->len, mid, 4, iv);
}

int isakmp_hash_qm1(const struct isakmp_keys *k, uint32_t msgid, const uint8_t *rest,
		    size_t rest_len, uint8_t *out)
{
	uint8_t mid[4];
	put_u32(mid, msgid);
	struct prf_piece in[2] = { { mid, 4 }, { rest, rest_len } };
	return prf_compute_pieces(k->prf, k->skeyid_a, k->prf_len, in, 2, out);
}

int isakmp_hash_qm2(const struct isakmp_keys *k, uint32_t msgid, const uint8_t *ni,
		    size_t ni_len, const uint8_t *rest, size_t rest_len, uint8_t *out)
{
	uint8_t mid[4];
	put_u32(mid, msgid);
	struct prf_piece in[3] = { { mid, 4 }, { ni, ni_len }, { rest, rest_len } };
	return prf_compute_pieces(k->prf, k->skeyid_a, k->prf_len, in, 3, out);
}

int isakmp_hash_qm3(const struct isakmp_keys *k, uint32_t msgid, const uint8_t *ni,
		    size_t ni_len, const uint8_t *nr, size_t nr_len, uint8_t *out)
{
	static const uint8_t zero;
	uint8_t mid[4];
	put_u32(mid, msgid);
	struct prf_piece in[4] = { { &zero, 1 }, { mid, 4 }, { ni, ni_len }, { nr, nr_len } };
	return prf_compute_pieces(k->prf, k->skeyid_a, k->prf_len, in, 4, out);
}

int isakmp_keymat(const struct isakmp_keys *k, const uint8_t *gxy, size_t gxy_len,
		  uint8_t protocol, const uint8_t *spi, size_t spi_len,
		  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		  uint8_t *out, size_t out_len)
{
	uint8_t kn[IKE_MAX_PRF_OUT];
	size_t blk = k->prf_len, done = 0;
	int rc = -1;

	if (!blk)
		return -1;
	while (done < out_len) {
		/* K1 has no previous block; Kn starts with Kn-1 */
		struct prf_piece in[6] = {
			{ kn, done ? blk : 0 }, { gxy, gxy ? gxy_len : 0 }, { &protocol, 1 },
			{ spi, spi_len }, { ni, ni_len }, { nr, nr_len },
		};
		if (prf_compute_pieces(k->prf, k->skeyid_d, blk, in, 6, kn) < 0)
			goto out;
		size_t n = out_len - done < blk ? out_len - done : blk;
		memcpy(out + done, kn, n);
		done += n;
	}
	rc = 0;
out:
	wipe(kn, sizeof(kn));
	return rc;
}

/* CBC without OpenSSL's padding (ours is RFC 2409's), over whole blocks in place. */
static int cbc(const struct isakmp_keys *k, const struct isakmp_iv *iv, uint8_t *p, size_t n,
	       bool enc)
{
	const EVP_CIPHER *c = cbc_cipher(k->encr, k->encr_keylen);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl = 0, rc = -1;

	if (ctx && c && iv->len == k->block && n % k->block == 0 && n <= INT32_MAX &&
	    EVP_CipherInit_ex(ctx, c, NULL, k->ek, iv->b, enc) &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) &&
	    EVP_CipherUpdate(ctx, p, &outl, p, (int)n) && (size_t)outl == n)
		rc = 0;
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int isakmp_encrypt(const struct isakmp_keys *k, const struct isakmp_iv *iv, struct buf *msg,
		   struct isakmp_iv *next)
{
	if (msg->oom || msg->len < ISAKMP_HDR || !k->block)
		return -1;
	/* 1..block bytes of padding: zeros, then the count of those zeros */
	size_t plain = msg->len - ISAKMP_HDR;
	size_t pad = k->block - plain % k->block;
	buf_put_zero(msg, pad - 1);
	buf_put_u8(msg, (uint8_t)(pad - 1));
	if (msg->oom)
		return -1;
	size_t body = msg->len - ISAKMP_HDR;
	if (cbc(k, iv, msg->data + ISAKMP_HDR, body, true) < 0)
		return -1;
	isakmp_set_length(msg);
	memcpy(next->b, msg->data + msg->len - k->block, k->block);
	next->len = k->block;
	return 0;
}

int isakmp_decrypt(const struct isakmp_keys *k, const struct isakmp_iv *iv,
		   const uint8_t *msg, size_t len, struct buf *plain, struct isakmp_iv *next)
{
	if (!k->block || len <= ISAKMP_HDR || (len - ISAKMP_HDR) % k->block != 0)
		return -1;
	size_t body = len - ISAKMP_HDR;
	uint8_t *out = buf_append(plain, body);
	if (!out)
		return -1;
	memcpy(out, msg + ISAKMP_HDR, body);
	if (cbc(k, iv, out, body, false) < 0) {
		wipe(out, body);
		plain->len -= body;
		return -1;
	}
	memcpy(next->b, msg + len - k->block, k->block);
	next->len = k->block;
	return 0;
}
