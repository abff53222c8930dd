/* IKEv2 cryptography (RFC 7296 2.13-2.17, RFC 5282 for AEAD, RFC 7634/7539 for
 * ChaCha20-Poly1305): PRF, prf+, Diffie-Hellman, key derivation for IKE and child SAs,
 * the SK payload's encryption and integrity, and NAT-D hashes. Built on OpenSSL 3
 * (EVP) and libsodium. Everything that holds key material is wiped when freed. */
#ifndef TSUNAGI_IKE_CRYPTO_H
#define TSUNAGI_IKE_CRYPTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/buf.h"

#define IKE_MAX_KEY 64		/* bytes: longest key any transform needs */
#define IKE_MAX_PRF_OUT 64

/* --- PRF ----------------------------------------------------------------------- */
size_t prf_out_len(uint16_t prf_id);		/* 0 if unsupported */
/* out must hold prf_out_len(). Returns 0 or -1. */
int prf_compute(uint16_t prf_id, const uint8_t *key, size_t keylen,
		const uint8_t *data, size_t datalen, uint8_t *out);
/* The PRF over the concatenation of several pieces, without copying them together
 * (IKEv1's hashes, ike/v1/isakmp_crypto.c, take up to six fields). */
struct prf_piece {
	const uint8_t *p;
	size_t n;
};
int prf_compute_pieces(uint16_t prf_id, const uint8_t *key, size_t keylen,
		       const struct prf_piece *in, size_t n_in, uint8_t *out);
/* prf+ (RFC 7296 2.13): T1 | T2 | ... truncated to outlen. */
int prf_plus(uint16_t prf_id, const uint8_t *key, size_t keylen,
	     const uint8_t *seed, size_t seedlen, uint8_t *out, size_t outlen);

/* --- Diffie-Hellman ------------------------------------------------------------ */
struct dh;
struct dh *dh_new(uint16_t group);		/* generates a key pair; NULL if unsupported */
void dh_free(struct dh *dh);
uint16_t dh_group(const struct dh *dh);
/* The public value as the KE payload carries it (MODP: padded to the prime size;
 * ECP: x|y without the 0x04 prefix; Curve25519: 32 bytes). */
int dh_public(const struct dh *dh, struct buf *out);
size_t dh_public_len(uint16_t group);		/* expected KE data length; 0 unknown */
/* Computes the shared secret g^ir into out (wipe it with buf_wipe_free). -1 on an
 * invalid peer value (wrong length, point not on the curve, 0/1/p-1). */
int dh_shared(struct dh *dh, const uint8_t *peer, size_t peerlen, struct buf *out);
/* For known-answer tests only: a key pair from a fixed private value (big endian
 * scalar/exponent; 32 raw bytes for Curve25519). Never use it for real exchanges. */
struct dh *dh_new_from_private(uint16_t group, const uint8_t *priv, size_t priv_len);

/* --- Key lengths ----------------------------------------------------------------- */
/* Encryption key bytes including salt for AEAD (AES-GCM 16/32 + 4 salt; ChaCha20-
 * Poly1305 32 + 4 salt; AES-CBC keylen/8). 0 if unsupported. */
size_t encr_key_len(uint16_t encr_id, uint16_t keylen_bits);
size_t integ_key_len(uint16_t integ_id);	/* SHA1 20, SHA2-256 32, -384 48, -512 64 */
size_t integ_icv_len(uint16_t integ_id);	/* 12, 16, 24, 32 */

/* --- IKE SA keys ----------------------------------------------------------------- */
/* The keys point into one block sized to the transforms (km, wiped and freed by
 * ike_keys_wipe): room for the longest of each would be 450 bytes in every IKE SA. */
struct ike_keys {
	uint16_t encr, encr_keylen, integ, prf;	/* the chosen transforms */
	size_t prf_len, ek_len, ak_len;
	uint8_t *sk_d, *sk_ai, *sk_ar, *sk_ei, *sk_er, *sk_pi, *sk_pr;
	uint8_t *km;
	size_t km_len;
};

/* k must hold no keys (zeroed, or after ike_keys_wipe): they are allocated.
 * SKEYSEED = prf(Ni | Nr, g^ir); {SK_d..SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
 * For an IKE SA rekey (2.18) pass old_sk_d: SKEYSEED = prf(SK_d(old), g^ir | Ni | Nr),
 * with the new SA's transforms. For PRFs with fixed key sizes the nonce concatenation
 * is the key as RFC 7296 says (HMAC PRFs take it as is). Returns 0 or -1. */
int ike_derive_keys(struct ike_keys *k, uint16_t encr, uint16_t encr_keylen, uint16_t integ,
		    uint16_t prf, const uint8_t *gir, size_t gir_len,
		    const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		    const uint8_t spi_i[8], const uint8_t spi_r[8],
		    const uint8_t *old_sk_d, size_t old_sk_d_len);
/* The same for an IKE SA rekey where the old SA negotiated a different PRF: RFC 7296
 * 2.18 computes SKEYSEED with the OLD SA's PRF (old_prf) and the rest with the new
 * one. ike_derive_keys() with old_sk_d is this with old_prf == prf. */
int ike_derive_rekey_keys(struct ike_keys *k, uint16_t encr, uint16_t encr_keylen,
			  uint16_t integ, uint16_t prf, uint16_t old_prf,
			  const uint8_t *gir, size_t gir_len,
			  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
			  const uint8_t spi_i[8], const uint8_t spi_r[8],
			  const uint8_t *old_sk_d, size_t old_sk_d_len);
void ike_keys_wipe(struct ike_keys *k);

/* KEYMAT = prf+(SK_d, [g^ir (new)] | Ni | Nr), split as: initiator->responder
 * encryption key, integ key, then responder->initiator encryption, integ (2.17). */
int child_derive_keys(uint16_t prf, const uint8_t *sk_d, size_t sk_d_len,
		      const uint8_t *gir, size_t gir_len,
		      const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len,
		      size_t enc_len, size_t auth_len,
		      uint8_t *enc_i, uint8_t *auth_i, uint8_t *enc_r, uint8_t *auth_r);

/* --- SK payload (2.14, RFC 5282) ----------------------------------------------------
 * `initiator` is whether the message's SENDER is the original initiator, for both
 * functions (selects SK_ei/SK_ai vs SK_er/SK_ar): decrypt passes the peer's role.
 * The SK payload must be the last payload (its length ends the message). Classic
 * ciphers pad with zeros to the block size; AEAD adds no padding (pad length 0);
 * IVs are random.
 * Encrypt: `msg` holds the IKE header and the SK payload header already, with the
 * header lengths set to their final values (use sk_overhead()); appends IV, the
 * encrypted `plain` with padding and pad length, and the ICV, computed over msg.
 * Decrypt: `msg`/`msglen` is the whole message, `sk_off` where the SK payload's
 * header starts; writes the inner payloads to `plain`. -1 on an integrity failure
 * or malformed length (nothing is written then). */
size_t sk_overhead(const struct ike_keys *k, size_t plain_len);	/* IV+pad+padlen+ICV */
int sk_encrypt(const struct ike_keys *k, bool initiator, struct buf *msg,
	       const uint8_t *plain, size_t plain_len);
int sk_decrypt(const struct ike_keys *k, bool initiator, const uint8_t *msg, size_t msglen,
	       size_t sk_off, struct buf *plain);
/* The same for a payload header of hdr_len bytes: 4 (SK) or 8 (SKF, RFC 7383 2.5,
 * whose fragment number and total fields are authenticated with the header). */
int sk_encrypt_hdr(const struct ike_keys *k, bool initiator, struct buf *msg, size_t hdr_len,
		   const uint8_t *plain, size_t plain_len);
int sk_decrypt_hdr(const struct ike_keys *k, bool initiator, const uint8_t *msg,
		   size_t msglen, size_t sk_off, size_t hdr_len, struct buf *plain);
/* The most plaintext whose IV, padding, pad length and ICV fit in room bytes. */
size_t sk_max_plain(const struct ike_keys *k, size_t room);

/* --- AUTH (2.15) and NAT-D (2.23) ---------------------------------------------------- */
/* AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>), where
 * SignedOctets = RealMessage | Nonce(peer) | prf(SK_p, IDType|RESERVED|IDdata). */
int ike_psk_auth(uint16_t prf, const uint8_t *psk, size_t psk_len,
		 const uint8_t *real_msg, size_t real_len,
		 const uint8_t *peer_nonce, size_t nonce_len,
		 const uint8_t *sk_p, size_t sk_p_len,
		 const uint8_t *id_body, size_t id_len, uint8_t *out, size_t *outlen);
/* SHA1(SPIi | SPIr | IP | Port), 20 bytes. */
void natd_hash(const uint8_t spi_i[8], const uint8_t spi_r[8], const struct addr *a,
	       uint8_t out[20]);

/* Random bytes for nonces and SPIs. */
void crypto_random(void *p, size_t n);
#endif
