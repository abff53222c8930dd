/* IKEv1 cryptography for pre-shared keys (RFC 2409 5, 5.5, 5.7, Appendix B):
 * SKEYID and SKEYID_d/a/e, the encryption key, HASH_I/HASH_R, the Phase 1 and Phase 2
 * IVs and their CBC chaining, Quick Mode HASH(1..3) and KEYMAT, Informational HASH(1),
 * and the encryption of a message body (AES-CBC, 3DES-CBC).
 * Algorithms are tsunagi's IDs: the negotiated hash as its HMAC PRF (PRF_HMAC_SHA1..),
 * the cipher as ENCR_AES_CBC (with its key length) or ENCR_3DES. Everything that holds
 * key material is wiped when freed. */
#ifndef TSUNAGI_ISAKMP_CRYPTO_H
#define TSUNAGI_ISAKMP_CRYPTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/ike_crypto.h"
#include "lib/addr.h"
#include "lib/buf.h"

#define ISAKMP_MAX_BLOCK 16

struct isakmp_keys {
	uint16_t prf;			/* PRF_HMAC_*: the hash algorithm of Phase 1 */
	uint16_t auth_prf;		/* HASH_I/HASH_R's PRF when not prf (ECDSA: 0 = prf) */
	uint16_t encr, encr_keylen;	/* ENCR_AES_CBC + bits, or ENCR_3DES */
	size_t prf_len, ek_len, block;
	uint8_t skeyid[IKE_MAX_PRF_OUT];
	uint8_t skeyid_d[IKE_MAX_PRF_OUT];
	uint8_t skeyid_a[IKE_MAX_PRF_OUT];
	uint8_t skeyid_e[IKE_MAX_PRF_OUT];
	uint8_t ek[IKE_MAX_KEY];	/* the cipher key, from SKEYID_e (Appendix B) */
};

/* A CBC IV: the next message of an exchange is encrypted with it. */
struct isakmp_iv {
	uint8_t b[ISAKMP_MAX_BLOCK];
	size_t len;
};

/* Is this cipher usable for ISAKMP (CBC with a known key length)? Block size or 0. */
size_t isakmp_cipher_block(uint16_t encr, uint16_t keylen);

/* PSK authentication (RFC 2409 5.4):
 *   SKEYID   = prf(pre-shared-key, Ni_b | Nr_b)
 *   SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
 *   SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
 *   SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
 * and the cipher key from SKEYID_e (Appendix B). 0 or -1 (k wiped then). */
int isakmp_derive_psk(struct isakmp_keys *k, uint16_t prf, uint16_t encr, uint16_t keylen,
		      const uint8_t *psk, size_t psk_len,
		      const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		      const uint8_t *gxy, size_t gxy_len,
		      const uint8_t cky_i[8], const uint8_t cky_r[8]);
/* The same in two steps: SKEYID (all HASH_I/HASH_R need), then SKEYID_d/a/e and the
 * cipher key, which need g^xy (an Aggressive Mode responder answers before it has
 * it). 0 or -1 (k wiped then). */
int isakmp_derive_skeyid_psk(struct isakmp_keys *k, uint16_t prf, uint16_t encr,
			     uint16_t keylen, const uint8_t *psk, size_t psk_len,
			     const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len);
/* Signature authentication (RFC 2409 5.1): SKEYID = prf(Ni_b | Nr_b, g^xy). */
int isakmp_derive_skeyid_sig(struct isakmp_keys *k, uint16_t prf, uint16_t encr,
			     uint16_t keylen, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
			     size_t nr_len, const uint8_t *gxy, size_t gxy_len);
int isakmp_derive_skeyid_dae(struct isakmp_keys *k, const uint8_t *gxy, size_t gxy_len,
			     const uint8_t cky_i[8], const uint8_t cky_r[8]);
void isakmp_keys_wipe(struct isakmp_keys *k);

/* Appendix B: the key from SKEYID_e when the cipher needs more than the PRF gives:
 * Ka = K1 | K2 | ..., K1 = prf(SKEYID_e, 0) (one zero octet), Kn = prf(SKEYID_e, Kn-1);
 * otherwise the first key_len bytes of SKEYID_e. */
int isakmp_expand_key(uint16_t prf, const uint8_t *skeyid_e, size_t e_len, uint8_t *out,
		      size_t key_len);

/* HASH_I/HASH_R's length: the output of auth_prf, else of prf. */
size_t isakmp_hash_auth_len(const struct isakmp_keys *k);
/* HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
 * HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
 * `initiator` says which one; the arguments are always given as the initiator's and
 * the responder's (gxi, gxr, cky_i, cky_r); sa_b is SAi_b (the initiator's SA payload
 * body) in both; id_b the body of the sender's ID payload. out holds prf_len. */
int isakmp_hash_auth(const struct isakmp_keys *k, bool initiator,
		     const uint8_t *gxi, size_t gxi_len, const uint8_t *gxr, size_t gxr_len,
		     const uint8_t cky_i[8], const uint8_t cky_r[8],
		     const uint8_t *sa_b, size_t sa_len, const uint8_t *id_b, size_t id_len,
		     uint8_t *out);

/* NAT-D (RFC 3947 3.2): HASH(CKY-I | CKY-R | IP | Port) with the Phase 1 hash (not
 * HMAC). out holds EVP_MAX_MD_SIZE (64); returns the length, 0 on failure. */
size_t isakmp_natd_hash(uint16_t prf, const uint8_t cky_i[8], const uint8_t cky_r[8],
			const struct addr *a, uint8_t *out);

/* Phase 1 IV = hash(g^xi | g^xr), truncated to the block size (hash, not HMAC). */
int isakmp_iv_phase1(const struct isakmp_keys *k, const uint8_t *gxi, size_t gxi_len,
		     const uint8_t *gxr, size_t gxr_len, struct isakmp_iv *iv);
/* IV of a Quick Mode or Informational exchange: hash(last Phase 1 CBC block | M-ID),
 * truncated; p1_last is the IV Phase 1 ended with (its last ciphertext block). */
int isakmp_iv_phase2(const struct isakmp_keys *k, const struct isakmp_iv *p1_last,
		     uint32_t msgid, struct isakmp_iv *iv);

/* Quick Mode (RFC 2409 5.5), m_id the message ID, `rest` the payloads after HASH:
 *   HASH(1) = prf(SKEYID_a, M-ID | rest)            (also Informational HASH(1), 5.7)
 *   HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest)
 *   HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b) */
int isakmp_hash_qm1(const struct isakmp_keys *k, uint32_t msgid, const uint8_t *rest,
		    size_t rest_len, uint8_t *out);
int isakmp_hash_qm2(const struct isakmp_keys *k, uint32_t msgid, const uint8_t *ni,
		    size_t ni_len, const uint8_t *rest, size_t rest_len, uint8_t *out);
int isakmp_hash_qm3(const struct isakmp_keys *k, uint32_t msgid, const uint8_t *ni,
		    size_t ni_len, const uint8_t *nr, size_t nr_len, uint8_t *out);

/* KEYMAT for one SA (one direction; spi is the receiver's SPI as on the wire):
 *   K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
 *   Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
 * gxy NULL without PFS. out gets KEYMAT = K1 | K2 | ... truncated to out_len: the
 * encryption key first, then the integrity key. */
int isakmp_keymat(const struct isakmp_keys *k, const uint8_t *gxy, size_t gxy_len,
		  uint8_t protocol, const uint8_t *spi, size_t spi_len,
		  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		  uint8_t *out, size_t out_len);

/* Encrypts msg in place: msg holds the ISAKMP header (28 bytes) and the clear payload
 * chain; the chain is padded to the block size (RFC 2409 Appendix B: zero bytes, the
 * last one the number of padding bytes before it; there is always padding), encrypted
 * with iv, and the header's length field updated. *next gets the IV of the next message
 * (the last ciphertext block); the caller keeps it once the message is sent. 0 or -1. */
int isakmp_encrypt(const struct isakmp_keys *k, const struct isakmp_iv *iv, struct buf *msg,
		   struct isakmp_iv *next);
/* Decrypts the body of msg[0..len) (after the 28-byte header) into plain, padding
 * included: parse it with isakmp_parse_payloads(..., max_pad = k->block), which is
 * liberal about the padding's contents (strongSwan pads with zeros to the block
 * size). *next gets the last ciphertext block; the caller keeps it only once the
 * message proves authentic (its HASH), so a forged message does not desynchronise
 * the chain. -1 if the body is empty or not whole blocks (nothing written). */
int isakmp_decrypt(const struct isakmp_keys *k, const struct isakmp_iv *iv,
		   const uint8_t *msg, size_t len, struct buf *plain, struct isakmp_iv *next);
#endif
