/* ESP ciphers and MACs on OpenSSL 3 EVP. Every context is created with its key when
 * the SA is installed; per packet only the IV changes (EVP_CipherInit_ex with NULL
 * cipher and key keeps the key schedule), so the data path never allocates.
 * Short AES-256-GCM packets go through libsodium instead (see esp_crypto.h). 
 * Encryption and decryption get separate contexts: AES-CBC has different key
 * schedules for the two directions, and keeping both costs little. */
#include "esp/esp_crypto.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "lib/buf.h"
#include "lib/wipe.h"

#define AEAD_SALT_LEN	4
#define AEAD_NONCE_LEN	12
#define AEAD_TAG_LEN	16
#define IVGEN_KEY_LEN	16

struct esp_crypto {
	enum esp_cipher cipher;
	enum esp_integ integ;
	size_t iv_len;
	size_t icv_len;
	size_t block;
	uint8_t salt[AEAD_SALT_LEN];		/* AEAD nonce prefix */
	/* An SA carries traffic one way only, so each context is made on first use
	 * (ctx_get; the caller holds the SA's lock): an OpenSSL GCM context is about
	 * 1.1 KB, and two unused ones per SA were a fifth of an IKE SA's memory. The
	 * key stays here for that, wiped with the rest. */
	const EVP_CIPHER *evp;
	uint8_t key[32];
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	/* CBC IVs: AES-ECB under a random per-SA key over iv_prefix|seq. */
	EVP_CIPHER_CTX *ivgen;
	uint8_t iv_prefix[8];
	EVP_MAC_CTX *mac;
	/* libsodium's AES-256-GCM with the key expanded once (NULL: not available); read
	 * only after setup. Used for ciphertexts of at most sodium_max bytes. */
	crypto_aead_aes256gcm_state *gcm;
	size_t sodium_max;
	/* AES-GCM opening with one parameter call a packet (open_fixed): the decryption
	 * context holds the salt as the nonce's fixed part. */
	bool open_fixed, open_fixed_off;
};

const char *esp_cipher_name(enum esp_cipher c)
{
	switch (c) {
	case ESP_ENCR_AES_GCM_16: return "AES-GCM-16";
	case ESP_ENCR_CHACHA20_POLY1305: return "CHACHA20-POLY1305";
	case ESP_ENCR_AES_CBC: return "AES-CBC";
	case ESP_ENCR_3DES_CBC: return "3DES-CBC";
	}
	return "?";
}

const char *esp_integ_name(enum esp_integ i)
{
	switch (i) {
	case ESP_INTEG_NONE: return "NONE";
	case ESP_INTEG_HMAC_SHA1_96: return "HMAC-SHA1-96";
	case ESP_INTEG_HMAC_SHA2_256_128: return "HMAC-SHA2-256-128";
	case ESP_INTEG_HMAC_SHA2_384_192: return "HMAC-SHA2-384-192";
	case ESP_INTEG_HMAC_SHA2_512_256: return "HMAC-SHA2-512-256";
	case ESP_INTEG_HMAC_MD5_96: return "HMAC-MD5-96";
	}
	return "?";
}

bool esp_cipher_from_sadb(int sadb_ealg, enum esp_cipher *out)
{
	switch (sadb_ealg) {
	case 3: *out = ESP_ENCR_3DES_CBC; return true;		/* SADB_EALG_3DESCBC */
	case 12: *out = ESP_ENCR_AES_CBC; return true;		/* SADB_X_EALG_AESCBC */
	case 20: *out = ESP_ENCR_AES_GCM_16; return true;	/* SADB_X_EALG_AES_GCM_ICV16 */
	case ESP_SADB_X_EALG_CHACHA20_POLY1305:
		*out = ESP_ENCR_CHACHA20_POLY1305;
		return true;
	}
	return false;
}

bool esp_integ_from_sadb(int sadb_aalg, enum esp_integ *out)
{
	switch (sadb_aalg) {
	case 0: *out = ESP_INTEG_NONE; return true;		/* SADB_AALG_NONE */
	case 2: *out = ESP_INTEG_HMAC_MD5_96; return true;	/* SADB_AALG_MD5HMAC */
	case 3: *out = ESP_INTEG_HMAC_SHA1_96; return true;	/* SADB_AALG_SHA1HMAC */
	case 5: *out = ESP_INTEG_HMAC_SHA2_256_128; return true; /* SADB_X_AALG_SHA2_256HMAC */
	case 6: *out = ESP_INTEG_HMAC_SHA2_384_192; return true; /* SADB_X_AALG_SHA2_384HMAC */
	case 7: *out = ESP_INTEG_HMAC_SHA2_512_256; return true; /* SADB_X_AALG_SHA2_512HMAC */
	}
	return false;
}

/* The EVP cipher for a cipher and its key length (without salt), or NULL. */
static const EVP_CIPHER *evp_cipher_for(enum esp_cipher c, size_t key_len)
{
	switch (c) {
	case ESP_ENCR_AES_GCM_16:
		return key_len == 16 ? EVP_aes_128_gcm() : key_len == 24 ? EVP_aes_192_gcm() :
		       key_len == 32 ? EVP_aes_256_gcm() : NULL;
	case ESP_ENCR_CHACHA20_POLY1305:
		return key_len == 32 ? EVP_chacha20_poly1305() : NULL;
	case ESP_ENCR_AES_CBC:
		return key_len == 16 ? EVP_aes_128_cbc() : key_len == 24 ? EVP_aes_192_cbc() :
		       key_len == 32 ? EVP_aes_256_cbc() : NULL;
	case ESP_ENCR_3DES_CBC:
		return key_len == 24 ? EVP_des_ede3_cbc() : NULL;
	}
	return NULL;
}

static bool cipher_is_aead(enum esp_cipher c)
{
	return c == ESP_ENCR_AES_GCM_16 || c == ESP_ENCR_CHACHA20_POLY1305;
}

/* Digest name, key length and truncated ICV length of an HMAC (RFC 2404, 4868, 2403). */
static const char *integ_digest(enum esp_integ i, size_t *key_len, size_t *icv_len)
{
	switch (i) {
	case ESP_INTEG_HMAC_SHA1_96: *key_len = 20; *icv_len = 12; return "SHA1";
	case ESP_INTEG_HMAC_SHA2_256_128: *key_len = 32; *icv_len = 16; return "SHA2-256";
	case ESP_INTEG_HMAC_SHA2_384_192: *key_len = 48; *icv_len = 24; return "SHA2-384";
	case ESP_INTEG_HMAC_SHA2_512_256: *key_len = 64; *icv_len = 32; return "SHA2-512";
	case ESP_INTEG_HMAC_MD5_96: *key_len = 16; *icv_len = 12; return "MD5";
	case ESP_INTEG_NONE: break;
	}
	return NULL;
}

static EVP_CIPHER_CTX *cipher_ctx_new(const EVP_CIPHER *cipher, const uint8_t *key, int enc,
				      bool aead)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	/* Padding off for CBC only, which gets whole blocks: AEAD ciphers are stream
	 * modes, and OpenSSL 3.0 passes a context's padding setting to the provider again
	 * on every EVP_CipherInit_ex (a parameter call a packet, for nothing). */
	if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
	    (aead && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, AEAD_NONCE_LEN,
					 NULL) != 1) ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, enc) != 1 ||
	    (!aead && EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static EVP_MAC_CTX *hmac_ctx_new(const char *digest, const uint8_t *key, size_t key_len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
		OSSL_PARAM_construct_end(),
	};

	EVP_MAC_free(mac);	/* the context keeps its own reference */
	if (ctx && EVP_MAC_init(ctx, key, key_len, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The precomputed libsodium AES-256-GCM state, when the CPU has AES-NI and PCLMUL
 * (libsodium's only AES-GCM) and libsodium initialises; NULL otherwise, and OpenSSL
 * does everything. */
static crypto_aead_aes256gcm_state *sodium_gcm_new(const uint8_t *key)
{
	crypto_aead_aes256gcm_state *st;

	if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available())
		return NULL;
	st = aligned_alloc(16, sizeof(*st));
	if (st && crypto_aead_aes256gcm_beforenm(st, key) != 0) {
		wipe_free(st, sizeof(*st));
		return NULL;
	}
	return st;
}

static bool ivgen_init(struct esp_crypto *ec)
{
	uint8_t key[IVGEN_KEY_LEN];
	bool ok;

	if (RAND_bytes(key, sizeof(key)) != 1 ||
	    RAND_bytes(ec->iv_prefix, sizeof(ec->iv_prefix)) != 1)
		return false;
	ec->ivgen = cipher_ctx_new(EVP_aes_128_ecb(), key, 1, false);
	ok = ec->ivgen != NULL;
	wipe(key, sizeof(key));
	return ok;
}

struct esp_crypto *esp_crypto_new(enum esp_cipher c, const uint8_t *ekey, size_t ekey_len,
				  enum esp_integ i, const uint8_t *akey, size_t akey_len,
				  char *err, size_t errlen)
{
	bool aead = cipher_is_aead(c);
	size_t key_len = aead ? ekey_len - AEAD_SALT_LEN : ekey_len;
	size_t mac_key_len = 0, icv_len = 0;
	const char *digest = integ_digest(i, &mac_key_len, &icv_len);
	const EVP_CIPHER *cipher;
	struct esp_crypto *ec;

	if (aead && ekey_len < AEAD_SALT_LEN)
		key_len = 0;
	cipher = evp_cipher_for(c, key_len);
	if (!cipher) {
		snprintf(err, errlen, "%s: unsupported key length %zu", esp_cipher_name(c),
			 ekey_len);
		return NULL;
	}
	if (aead && i != ESP_INTEG_NONE) {
		snprintf(err, errlen, "%s is combined mode; integrity %s not allowed",
			 esp_cipher_name(c), esp_integ_name(i));
		return NULL;
	}
	if (!aead && !digest) {
		snprintf(err, errlen, "%s without integrity refused", esp_cipher_name(c));
		return NULL;
	}
	if (!aead && akey_len != mac_key_len) {
		snprintf(err, errlen, "%s: key length %zu, expected %zu", esp_integ_name(i),
			 akey_len, mac_key_len);
		return NULL;
	}

	ec = calloc(1, sizeof(*ec));
	if (!ec) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ec->cipher = c;
	ec->integ = i;
	ec->block = (size_t)EVP_CIPHER_block_size(cipher);
	if (ec->block < 4)
		ec->block = 4;
	if (aead) {
		ec->iv_len = 8;
		ec->icv_len = AEAD_TAG_LEN;
		memcpy(ec->salt, ekey + key_len, AEAD_SALT_LEN);
		if (c == ESP_ENCR_AES_GCM_16 && key_len == crypto_aead_aes256gcm_KEYBYTES &&
		    (ec->gcm = sodium_gcm_new(ekey)))
			ec->sodium_max = ESP_SODIUM_MAX_LEN;
	} else {
		ec->iv_len = (size_t)EVP_CIPHER_iv_length(cipher);
		ec->icv_len = icv_len;
	}
	ec->evp = cipher;
	if (key_len > sizeof(ec->key)) {
		snprintf(err, errlen, "%s: key length %zu too long", esp_cipher_name(c), key_len);
		esp_crypto_free(ec);
		return NULL;
	}
	memcpy(ec->key, ekey, key_len);
	if ((!aead && !ivgen_init(ec)) ||
	    (!aead && !(ec->mac = hmac_ctx_new(digest, akey, akey_len)))) {
		snprintf(err, errlen, "%s/%s: crypto library setup failed", esp_cipher_name(c),
			 esp_integ_name(i));
		esp_crypto_free(ec);
		return NULL;
	}
	return ec;
}

/* The context for one direction, made on first use; NULL when that fails. An AES-GCM
 * decryption context gets the salt as the fixed part of its nonces, for open_fixed;
 * where OpenSSL refuses that, packets are opened the ordinary way. */
static EVP_CIPHER_CTX *ctx_get(struct esp_crypto *ec, int enc)
{
	EVP_CIPHER_CTX **p = enc ? &ec->enc : &ec->dec;
	if (!*p) {
		*p = cipher_ctx_new(ec->evp, ec->key, enc, cipher_is_aead(ec->cipher));
		if (*p && !enc && ec->cipher == ESP_ENCR_AES_GCM_16)
			ec->open_fixed = EVP_CIPHER_CTX_ctrl(*p, EVP_CTRL_GCM_SET_IV_FIXED,
							     AEAD_SALT_LEN, ec->salt) == 1;
	}
	return *p;
}

bool esp_crypto_has_ctx(const struct esp_crypto *ec, bool enc)
{
	return (enc ? ec->enc : ec->dec) != NULL;
}

void esp_crypto_free(struct esp_crypto *ec)
{
	if (!ec)
		return;
	/* OpenSSL cleanses key schedules when freeing its contexts. */
	EVP_CIPHER_CTX_free(ec->enc);
	EVP_CIPHER_CTX_free(ec->dec);
	EVP_CIPHER_CTX_free(ec->ivgen);
	EVP_MAC_CTX_free(ec->mac);
	if (ec->gcm)
		wipe_free(ec->gcm, sizeof(*ec->gcm));
	wipe_free(ec, sizeof(*ec));
}

bool esp_crypto_is_aead(const struct esp_crypto *ec) { return cipher_is_aead(ec->cipher); }
size_t esp_crypto_iv_len(const struct esp_crypto *ec) { return ec->iv_len; }
size_t esp_crypto_icv_len(const struct esp_crypto *ec) { return ec->icv_len; }
size_t esp_crypto_block(const struct esp_crypto *ec) { return ec->block; }

void esp_crypto_set_sodium_max(struct esp_crypto *ec, size_t max)
{
	ec->sodium_max = ec->gcm ? max : 0;
}

size_t esp_crypto_sodium_max(const struct esp_crypto *ec) { return ec->sodium_max; }

void esp_crypto_set_open_fixed(struct esp_crypto *ec, bool on)
{
	ec->open_fixed_off = !on;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

int esp_crypto_make_iv(struct esp_crypto *ec, uint64_t seq, uint8_t *iv)
{
	uint8_t in[16], out[16];
	int outl;

	if (cipher_is_aead(ec->cipher)) {
		store_be64(iv, seq);
		return 0;
	}
	memcpy(in, ec->iv_prefix, 8);
	store_be64(in + 8, seq);
	if (EVP_EncryptUpdate(ec->ivgen, out, &outl, in, sizeof(in)) != 1 || outl != 16)
		return -1;
	memcpy(iv, out, ec->iv_len);
	return 0;
}

static bool use_sodium(const struct esp_crypto *ec, size_t len)
{
	return ec->gcm && len <= ec->sodium_max;
}

static void make_nonce(const struct esp_crypto *ec, const uint8_t *iv,
		       uint8_t nonce[AEAD_NONCE_LEN])
{
	memcpy(nonce, ec->salt, AEAD_SALT_LEN);
	memcpy(nonce + AEAD_SALT_LEN, iv, 8);
}

/* Starts an AEAD operation: nonce salt|iv, then the AAD. */
static int aead_start(struct esp_crypto *ec, EVP_CIPHER_CTX *ctx, int enc, const uint8_t *iv,
		      const uint8_t *aad, size_t aad_len)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	int outl;

	make_nonce(ec, iv, nonce);
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1)
		return -1;
	return 0;
}

/* Opens with the IV's 8 bytes and the tag given in one parameter call (OpenSSL's
 * "tlsivinv", which sets the nonce's invocation field after the fixed salt, and
 * "tag"): EVP_CipherInit_ex with a nonce costs OpenSSL 3.0 a parameter lookup of the
 * IV length every time, and setting the tag another, together about a third of a
 * 1400-byte packet's whole decryption. The same nonce, AAD and tag check (constant
 * time, in EVP_CipherFinal_ex) as aead_start's way. */
static int open_fixed(struct esp_crypto *ec, const uint8_t *iv, const uint8_t *aad,
		      size_t aad_len, uint8_t *buf, size_t len, const uint8_t *icv)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV,
						  (void *)iv, AEAD_NONCE_LEN - AEAD_SALT_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, (void *)icv,
						  AEAD_TAG_LEN),
		OSSL_PARAM_construct_end(),
	};
	int outl, finl;

	if (EVP_CIPHER_CTX_set_params(ec->dec, params) != 1 ||
	    EVP_CipherUpdate(ec->dec, NULL, &outl, aad, (int)aad_len) != 1 ||
	    EVP_CipherUpdate(ec->dec, buf, &outl, buf, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ec->dec, buf + outl, &finl) != 1)
		return -1;
	return 0;
}

int esp_crypto_aead_seal(struct esp_crypto *ec, const uint8_t *iv, const uint8_t *aad,
			 size_t aad_len, uint8_t *buf, size_t len, uint8_t *icv)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	int outl, finl;
	/* The tag as a parameter: EVP_CIPHER_CTX_ctrl would build this same request. */
	OSSL_PARAM tag[] = {
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, icv, AEAD_TAG_LEN),
		OSSL_PARAM_construct_end(),
	};

	if (use_sodium(ec, len)) {
		make_nonce(ec, iv, nonce);
		return crypto_aead_aes256gcm_encrypt_detached_afternm(buf, icv, NULL, buf, len,
								      aad, aad_len, NULL,
								      nonce, ec->gcm);
	}
	EVP_CIPHER_CTX *ctx = ctx_get(ec, 1);
	if (!ctx || !cipher_is_aead(ec->cipher) || len > INT_MAX || aad_len > INT_MAX ||
	    aead_start(ec, ec->enc, 1, iv, aad, aad_len) != 0 ||
	    EVP_CipherUpdate(ec->enc, buf, &outl, buf, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ec->enc, buf + outl, &finl) != 1 ||
	    EVP_CIPHER_CTX_get_params(ec->enc, tag) != 1)
		return -1;
	return 0;
}

int esp_crypto_aead_open(struct esp_crypto *ec, const uint8_t *iv, const uint8_t *aad,
			 size_t aad_len, uint8_t *buf, size_t len, const uint8_t *icv)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	int outl, finl;

	/* libsodium checks the tag in constant time and wipes buf when it does not match. */
	if (use_sodium(ec, len)) {
		make_nonce(ec, iv, nonce);
		return crypto_aead_aes256gcm_decrypt_detached_afternm(buf, NULL, buf, len, icv,
								      aad, aad_len, nonce,
								      ec->gcm);
	}
	/* OpenSSL compares the tag in constant time in EVP_CipherFinal_ex. */
	EVP_CIPHER_CTX *ctx = ctx_get(ec, 0);
	if (!ctx || !cipher_is_aead(ec->cipher) || len > INT_MAX || aad_len > INT_MAX)
		return -1;
	if (ec->open_fixed && !ec->open_fixed_off)
		return open_fixed(ec, iv, aad, aad_len, buf, len, icv);
	if (aead_start(ec, ec->dec, 0, iv, aad, aad_len) != 0 ||
	    EVP_CipherUpdate(ec->dec, buf, &outl, buf, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ec->dec, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN,
				(void *)icv) != 1 ||
	    EVP_CipherFinal_ex(ec->dec, buf + outl, &finl) != 1)
		return -1;
	return 0;
}

static int cbc_run(struct esp_crypto *ec, int enc, const uint8_t *iv, uint8_t *buf, size_t len)
{
	int outl, finl;
	EVP_CIPHER_CTX *ctx = ctx_get(ec, enc);

	if (!ctx || cipher_is_aead(ec->cipher) || len > INT_MAX || len % ec->block != 0 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc) != 1 ||
	    EVP_CipherUpdate(ctx, buf, &outl, buf, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ctx, buf + outl, &finl) != 1 ||
	    (size_t)(outl + finl) != len)
		return -1;
	return 0;
}

int esp_crypto_cbc_encrypt(struct esp_crypto *ec, const uint8_t *iv, uint8_t *buf, size_t len)
{
	return cbc_run(ec, 1, iv, buf, len);
}

int esp_crypto_cbc_decrypt(struct esp_crypto *ec, const uint8_t *iv, uint8_t *buf, size_t len)
{
	return cbc_run(ec, 0, iv, buf, len);
}

int esp_crypto_mac(struct esp_crypto *ec, const uint8_t *data, size_t len,
		   const uint8_t *extra, size_t extra_len, uint8_t *icv)
{
	uint8_t full[EVP_MAX_MD_SIZE];
	size_t outl;

	/* A NULL key keeps the key (and its precomputed pads) from esp_crypto_new. */
	if (!ec->mac || EVP_MAC_init(ec->mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(ec->mac, data, len) != 1 ||
	    (extra_len && EVP_MAC_update(ec->mac, extra, extra_len) != 1) ||
	    EVP_MAC_final(ec->mac, full, &outl, sizeof(full)) != 1 || outl < ec->icv_len)
		return -1;
	memcpy(icv, full, ec->icv_len);
	return 0;
}

int esp_crypto_mac_verify(struct esp_crypto *ec, const uint8_t *data, size_t len,
			  const uint8_t *extra, size_t extra_len, const uint8_t *icv)
{
	uint8_t want[ESP_MAX_ICV_LEN];

	if (esp_crypto_mac(ec, data, len, extra, extra_len, want) != 0)
		return -1;
	return CRYPTO_memcmp(want, icv, ec->icv_len) == 0 ? 0 : -1;
}
