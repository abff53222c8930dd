/* ESP cryptographic transforms for one SA in one direction: the raw keys, and the
 * MAC context of CBC suites. The cipher contexts with the expanded keys are the
 * calling thread's, from its cache (ctx_cache.h): re-keyed when another SA took the
 * slot, reused for every packet otherwise (no per-packet allocation). One esp_crypto
 * is used by one thread at a time; different SAs run in parallel on different
 * threads, each with its own cache.
 *
 * Supported: AES-GCM with a 16-byte ICV (RFC 4106), ChaCha20-Poly1305 (RFC 7634),
 * AES-CBC (RFC 3602) and, only when configured explicitly, 3DES-CBC, each CBC cipher
 * with HMAC-SHA1-96, HMAC-SHA2-256/384/512 (RFC 4868) or HMAC-MD5-96. A cipher without
 * integrity (no AEAD and no HMAC) is refused: unauthenticated packets would reach
 * decryption, and ESP "NULL" encryption is not offered. */
#ifndef TSUNAGI_ESP_CRYPTO_H
#define TSUNAGI_ESP_CRYPTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum esp_cipher {
	ESP_ENCR_AES_GCM_16,		/* key 16/24/32 + 4-byte salt */
	ESP_ENCR_CHACHA20_POLY1305,	/* key 32 + 4-byte salt */
	ESP_ENCR_AES_CBC,		/* key 16/24/32 */
	ESP_ENCR_3DES_CBC,		/* key 24; legacy */
};

enum esp_integ {
	ESP_INTEG_NONE,			/* only with an AEAD cipher */
	ESP_INTEG_HMAC_SHA1_96,		/* key 20 */
	ESP_INTEG_HMAC_SHA2_256_128,	/* key 32 */
	ESP_INTEG_HMAC_SHA2_384_192,	/* key 48 */
	ESP_INTEG_HMAC_SHA2_512_256,	/* key 64 */
	ESP_INTEG_HMAC_MD5_96,		/* key 16; legacy */
};

/* Largest values over all transforms, for callers that size buffers. */
#define ESP_MAX_IV_LEN		16
#define ESP_MAX_ICV_LEN		32
#define ESP_MAX_BLOCK_LEN	16

/* PF_KEY has no standard number for ChaCha20-Poly1305 (Linux defines none); tsunagi
 * uses its IKEv2 transform ID. pfkey/pfkey.h should use the same value. */
#ifndef ESP_SADB_X_EALG_CHACHA20_POLY1305
#define ESP_SADB_X_EALG_CHACHA20_POLY1305 28
#endif

struct esp_crypto;

/* ekey: encryption key material, for AEAD ciphers including the 4-byte salt at the end
 * (RFC 4106 section 8.1, RFC 7634 section 2). akey: HMAC key, NULL/0 with ESP_INTEG_NONE.
 * Returns NULL with a message in err (never containing key bytes) on a bad combination
 * or key length. */
struct esp_crypto *esp_crypto_new(enum esp_cipher c, const uint8_t *ekey, size_t ekey_len,
				  enum esp_integ i, const uint8_t *akey, size_t akey_len,
				  char *err, size_t errlen);
/* Wipes the keys, in every thread's cache too (ctx_cache_forget), and frees the
 * SA's own contexts; NULL is fine. Nobody may use ec any more. */
void esp_crypto_free(struct esp_crypto *ec);
/* Tests: whether the calling thread's cache holds ec's context of one direction (made
 * by the first packet), and the id it is found by (ctx_cache.h). */
bool esp_crypto_has_ctx(const struct esp_crypto *ec, bool enc);
uint64_t esp_crypto_id(const struct esp_crypto *ec);

bool esp_crypto_is_aead(const struct esp_crypto *ec);
size_t esp_crypto_iv_len(const struct esp_crypto *ec);	/* explicit IV in the packet */
size_t esp_crypto_icv_len(const struct esp_crypto *ec);
/* Alignment of the ciphertext (payload|padding|padlen|nexthdr): the cipher block
 * size, at least 4 (RFC 4303 section 2.4). */
size_t esp_crypto_block(const struct esp_crypto *ec);

/* AES-GCM packets (every key length) are sealed and opened with libgcrypt when the
 * CPU has AES-NI and PCLMUL: OpenSSL 3 spends about 250 ns a packet on parameter
 * handling (OSSL_PARAM lookups for the IV length and the tag), and libgcrypt 1.10's
 * bulk AES-GCM (VAES/VPCLMUL where the CPU has them) is faster too: a 1424-byte packet
 * takes about 450 ns against OpenSSL's 700 here, a 64-byte one 125 against 300
 * (libsodium 1.0.18: 1040 and 180). Both give the same bytes
 * (tests/unit/test_esp_transform.c checks). Tests: off for one SA (OpenSSL only); no
 * effect where libgcrypt is not used; esp_crypto_uses_gcrypt tells. */
void esp_crypto_set_gcrypt(struct esp_crypto *ec, bool on);
bool esp_crypto_uses_gcrypt(const struct esp_crypto *ec);
/* Tests: AES-GCM packets that OpenSSL opens go through its fixed-salt way (one
 * parameter call a packet, esp_crypto.c) unless turned off here; both give the same. */
void esp_crypto_set_open_fixed(struct esp_crypto *ec, bool on);
const char *esp_cipher_name(enum esp_cipher c);
const char *esp_integ_name(enum esp_integ i);

/* PF_KEY algorithm numbers (SADB_EALG_*, SADB_X_EALG_*, SADB_AALG_*) to the enums.
 * Return false for algorithms the data plane does not implement. */
bool esp_cipher_from_sadb(int sadb_ealg, enum esp_cipher *out);
bool esp_integ_from_sadb(int sadb_aalg, enum esp_integ *out);

/* --- Primitives used by esp_transform.c; each returns 0 on success, -1 on failure. --- */

/* Fills iv (esp_crypto_iv_len bytes) for the packet with sequence number seq. AEAD:
 * the 64-bit sequence number itself (unique per key, as Linux and strongSwan do).
 * CBC: an unpredictable IV, the SA's secret IV key applied to seq (a PRP of a counter). */
int esp_crypto_make_iv(struct esp_crypto *ec, uint64_t seq, uint8_t *iv);

/* AEAD in place: the nonce is salt|iv. seal writes the ICV to icv; open verifies it
 * (constant time) before returning 0, and leaves buf undefined on failure. */
int esp_crypto_aead_seal(struct esp_crypto *ec, const uint8_t *iv, const uint8_t *aad,
			 size_t aad_len, uint8_t *buf, size_t len, uint8_t *icv);
int esp_crypto_aead_open(struct esp_crypto *ec, const uint8_t *iv, const uint8_t *aad,
			 size_t aad_len, uint8_t *buf, size_t len, const uint8_t *icv);

/* CBC in place; len is a multiple of the block size. */
int esp_crypto_cbc_encrypt(struct esp_crypto *ec, const uint8_t *iv, uint8_t *buf, size_t len);
int esp_crypto_cbc_decrypt(struct esp_crypto *ec, const uint8_t *iv, uint8_t *buf, size_t len);

/* HMAC over data|extra (extra: the ESN high bits, 4 bytes, or NULL), truncated to the
 * ICV length. verify compares in constant time and returns 0 only on a match. */
int esp_crypto_mac(struct esp_crypto *ec, const uint8_t *data, size_t len,
		   const uint8_t *extra, size_t extra_len, uint8_t *icv);
int esp_crypto_mac_verify(struct esp_crypto *ec, const uint8_t *data, size_t len,
			  const uint8_t *extra, size_t extra_len, const uint8_t *icv);
#endif
