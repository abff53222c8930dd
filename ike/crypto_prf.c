/* PRFs (HMAC, RFC 2104/4868), prf+ (RFC 7296 2.13), the IKE and child SA key
 * derivation (2.14, 2.17, 2.18) and the PSK AUTH value (2.15). */
#include "ike/ike_crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "ike/proposal.h"
#include "lib/wipe.h"

static const char *prf_digest(uint16_t prf_id)
{
	switch (prf_id) {
	case PRF_HMAC_MD5: return "MD5";
	case PRF_HMAC_SHA1: return "SHA1";
	case PRF_HMAC_SHA2_256: return "SHA256";
	case PRF_HMAC_SHA2_384: return "SHA384";
	case PRF_HMAC_SHA2_512: return "SHA512";
	}
	return NULL;
}

size_t prf_out_len(uint16_t prf_id)
{
	switch (prf_id) {
	case PRF_HMAC_MD5: return 16;
	case PRF_HMAC_SHA1: return 20;
	case PRF_HMAC_SHA2_256: return 32;
	case PRF_HMAC_SHA2_384: return 48;
	case PRF_HMAC_SHA2_512: return 64;
	}
	return 0;
}

/* HMAC over several pieces. An empty key is legal for HMAC; OpenSSL reads a NULL key
 * as "keep the previous one", so an empty key is passed as a pointer to a zero byte. */
int prf_compute_pieces(uint16_t prf_id, const uint8_t *key, size_t keylen,
		       const struct prf_piece *in, size_t n_in, uint8_t *out)
{
	static const uint8_t empty_key[1];
	const char *digest = prf_digest(prf_id);
	size_t outlen = prf_out_len(prf_id), got = 0;
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	int rc = -1;

	if (!digest)
		return -1;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
		OSSL_PARAM_construct_end(),
	};
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	if (!ctx || !EVP_MAC_init(ctx, keylen ? key : empty_key, keylen, params))
		goto out;
	for (size_t i = 0; i < n_in; i++)
		if (in[i].n && !EVP_MAC_update(ctx, in[i].p, in[i].n))
			goto out;
	if (!EVP_MAC_final(ctx, out, &got, outlen) || got != outlen)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int prf_compute(uint16_t prf_id, const uint8_t *key, size_t keylen,
		const uint8_t *data, size_t datalen, uint8_t *out)
{
	struct prf_piece in = { data, datalen };
	return prf_compute_pieces(prf_id, key, keylen, &in, 1, out);
}

/* prf+ (K,S) = T1 | T2 | ..., T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n).
 * The counter is one octet, so at most 255 blocks. */
int prf_plus(uint16_t prf_id, const uint8_t *key, size_t keylen,
	     const uint8_t *seed, size_t seedlen, uint8_t *out, size_t outlen)
{
	size_t blk = prf_out_len(prf_id), done = 0;
	uint8_t t[IKE_MAX_PRF_OUT];
	uint8_t counter = 1;

	if (!blk || outlen > 255 * blk)
		return -1;
	while (done < outlen) {
		struct prf_piece in[3] = {
			{ t, counter == 1 ? 0 : blk },
			{ seed, seedlen },
			{ &counter, 1 },
		};
		if (prf_compute_pieces(prf_id, key, keylen, in, 3, t) < 0) {
			wipe(t, sizeof(t));
			return -1;
		}
		size_t n = outlen - done < blk ? outlen - done : blk;
		memcpy(out + done, t, n);
		done += n;
		counter++;
	}
	wipe(t, sizeof(t));
	return 0;
}

/* --- IKE SA keys ----------------------------------------------------------------- */

void ike_keys_wipe(struct ike_keys *k)
{
	if (k->km)
		wipe_free(k->km, k->km_len);
	wipe(k, sizeof(*k));
}

/* Keeps the prf+ stream SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr (total
 * bytes) in a block of its own and points the keys into it. -1: out of memory. */
static int split_ike_keys(struct ike_keys *k, const uint8_t *km, size_t total)
{
	uint8_t *p = malloc(total);
	if (!p)
		return -1;
	memcpy(p, km, total);
	k->km = p;
	k->km_len = total;
	k->sk_d = p; p += k->prf_len;
	k->sk_ai = p; p += k->ak_len;
	k->sk_ar = p; p += k->ak_len;
	k->sk_ei = p; p += k->ek_len;
	k->sk_er = p; p += k->ek_len;
	k->sk_pi = p; p += k->prf_len;
	k->sk_pr = p;
	return 0;
}

static int set_ike_transforms(struct ike_keys *k, uint16_t encr, uint16_t encr_keylen,
			      uint16_t integ, uint16_t prf)
{
	memset(k, 0, sizeof(*k));
	k->encr = encr;
	k->encr_keylen = encr_keylen;
	k->integ = encr_is_aead(encr) ? INTEG_NONE : integ;
	k->prf = prf;
	k->prf_len = prf_out_len(prf);
	k->ek_len = encr_key_len(encr, encr_keylen);
	k->ak_len = encr_is_aead(encr) ? 0 : integ_key_len(integ);
	if (!k->prf_len || !k->ek_len || (!encr_is_aead(encr) && !k->ak_len))
		return -1;
	if (k->ek_len > IKE_MAX_KEY + 4 || k->ak_len > IKE_MAX_KEY || k->prf_len > IKE_MAX_PRF_OUT)
		return -1;
	return 0;
}

int ike_derive_rekey_keys(struct ike_keys *k, uint16_t encr, uint16_t encr_keylen,
			  uint16_t integ, uint16_t prf, uint16_t old_prf,
			  const uint8_t *gir, size_t gir_len,
			  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
			  const uint8_t spi_i[8], const uint8_t spi_r[8],
			  const uint8_t *old_sk_d, size_t old_sk_d_len)
{
	uint8_t skeyseed[IKE_MAX_PRF_OUT];
	uint8_t km[7 * IKE_MAX_PRF_OUT + 4 * (IKE_MAX_KEY + 4)];
	size_t seed_len = old_sk_d ? prf_out_len(old_prf) : prf_out_len(prf);
	int rc = -1;

	if (set_ike_transforms(k, encr, encr_keylen, integ, prf) < 0 || !seed_len)
		goto out;
	if (old_sk_d) {
		/* SKEYSEED = prf_old(SK_d (old), g^ir (new) | Ni | Nr) */
		struct prf_piece in[3] = { { gir, gir_len }, { ni, ni_len }, { nr, nr_len } };
		if (prf_compute_pieces(old_prf, old_sk_d, old_sk_d_len, in, 3, skeyseed) < 0)
			goto out;
	} else {
		/* SKEYSEED = prf(Ni | Nr, g^ir); HMAC takes the nonces as the key as is */
		uint8_t nonces[512];
		if (ni_len + nr_len > sizeof(nonces))
			goto out;
		memcpy(nonces, ni, ni_len);
		memcpy(nonces + ni_len, nr, nr_len);
		int r = prf_compute(prf, nonces, ni_len + nr_len, gir, gir_len, skeyseed);
		wipe(nonces, sizeof(nonces));
		if (r < 0)
			goto out;
	}

	/* {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
	 *	= prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr) */
	size_t total = 3 * k->prf_len + 2 * k->ak_len + 2 * k->ek_len;
	uint8_t seed[512 + 16];
	if (ni_len + nr_len > 512)
		goto out;
	memcpy(seed, ni, ni_len);
	memcpy(seed + ni_len, nr, nr_len);
	memcpy(seed + ni_len + nr_len, spi_i, 8);
	memcpy(seed + ni_len + nr_len + 8, spi_r, 8);
	if (prf_plus(prf, skeyseed, seed_len, seed, ni_len + nr_len + 16, km, total) < 0)
		goto out;
	if (split_ike_keys(k, km, total) < 0)
		goto out;
	rc = 0;
out:
	wipe(skeyseed, sizeof(skeyseed));
	wipe(km, sizeof(km));
	if (rc < 0)
		ike_keys_wipe(k);
	return rc;
}

int ike_derive_keys(struct ike_keys *k, uint16_t encr, uint16_t encr_keylen, uint16_t integ,
		    uint16_t prf, const uint8_t *gir, size_t gir_len,
		    const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		    const uint8_t spi_i[8], const uint8_t spi_r[8],
		    const uint8_t *old_sk_d, size_t old_sk_d_len)
{
	return ike_derive_rekey_keys(k, encr, encr_keylen, integ, prf, prf, gir, gir_len,
				     ni, ni_len, nr, nr_len, spi_i, spi_r,
				     old_sk_d, old_sk_d_len);
}

/* --- Child SA keys ----------------------------------------------------------------- */

int child_derive_keys(uint16_t prf, const uint8_t *sk_d, size_t sk_d_len,
		      const uint8_t *gir, size_t gir_len,
		      const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		      size_t enc_len, size_t auth_len,
		      uint8_t *enc_i, uint8_t *auth_i, uint8_t *enc_r, uint8_t *auth_r)
{
	size_t total = 2 * (enc_len + auth_len);
	uint8_t km[4 * (IKE_MAX_KEY + 4)];
	uint8_t seed[1024 + 512];
	size_t seed_len = 0;
	int rc = -1;

	if (total > sizeof(km) || gir_len > 1024 || ni_len + nr_len > 512)
		return -1;
	/* KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) */
	if (gir && gir_len) {
		memcpy(seed, gir, gir_len);
		seed_len = gir_len;
	}
	memcpy(seed + seed_len, ni, ni_len);
	seed_len += ni_len;
	memcpy(seed + seed_len, nr, nr_len);
	seed_len += nr_len;
	if (prf_plus(prf, sk_d, sk_d_len, seed, seed_len, km, total) < 0)
		goto out;
	/* initiator->responder first: encryption, then integrity; then the reverse */
	memcpy(enc_i, km, enc_len);
	if (auth_len)
		memcpy(auth_i, km + enc_len, auth_len);
	memcpy(enc_r, km + enc_len + auth_len, enc_len);
	if (auth_len)
		memcpy(auth_r, km + 2 * enc_len + auth_len, auth_len);
	rc = 0;
out:
	wipe(km, sizeof(km));
	wipe(seed, sizeof(seed));
	return rc;
}

/* --- AUTH with a pre-shared key (2.15) --------------------------------------------- */

int ike_psk_auth(uint16_t prf, const uint8_t *psk, size_t psk_len,
		 const uint8_t *real_msg, size_t real_len,
		 const uint8_t *peer_nonce, size_t nonce_len,
		 const uint8_t *sk_p, size_t sk_p_len,
		 const uint8_t *id_body, size_t id_len, uint8_t *out, size_t *outlen)
{
	static const char pad[] = "Key Pad for IKEv2";
	uint8_t maced_id[IKE_MAX_PRF_OUT], padded_key[IKE_MAX_PRF_OUT];
	size_t len = prf_out_len(prf);
	int rc = -1;

	if (!len)
		return -1;
	/* MACedIDFor{I,R} = prf(SK_p{i,r}, IDType | RESERVED | IDData) */
	if (prf_compute(prf, sk_p, sk_p_len, id_body, id_len, maced_id) < 0)
		goto out;
	/* prf(Shared Secret, "Key Pad for IKEv2"), the pad without a terminator */
	if (prf_compute(prf, psk, psk_len, (const uint8_t *)pad, sizeof(pad) - 1,
			padded_key) < 0)
		goto out;
	struct prf_piece in[3] = {
		{ real_msg, real_len }, { peer_nonce, nonce_len }, { maced_id, len },
	};
	if (prf_compute_pieces(prf, padded_key, len, in, 3, out) < 0)
		goto out;
	*outlen = len;
	rc = 0;
out:
	wipe(maced_id, sizeof(maced_id));
	wipe(padded_key, sizeof(padded_key));
	return rc;
}
