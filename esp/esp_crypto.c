/* ESP ciphers and MACs on OpenSSL 3 EVP. An SA keeps its raw keys; the cipher
 * contexts with the expanded keys live in the calling thread's cache (ctx_cache.h),
 * re-keyed from those raw keys when the SA is not in it. Per packet only the IV
 * changes (EVP_CipherInit_ex with NULL cipher and key keeps the key schedule), so the
 * data path never allocates once a thread's slots exist.
 * AES-GCM packets go through libgcrypt instead where the CPU has AES-NI and PCLMUL
 * (see esp_crypto.h).
 * Encryption and decryption get separate slots: AES-CBC has different key schedules
 * for the two directions. */
#include "esp/esp_crypto.h"
#include "esp/ctx_cache.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <gcrypt.h>
#include <pthread.h>
#include <sodium.h>

#include "lib/buf.h"
#include "lib/wipe.h"

#define AEAD_SALT_LEN	4
#define AEAD_NONCE_LEN	12
#define AEAD_TAG_LEN	16
#define IVGEN_KEY_LEN	16

struct esp_crypto {
	uint64_t id;			/* this SA's slots in the caches (ctx_cache.h) */
	enum esp_cipher cipher;
	enum esp_integ integ;
	uint8_t iv_len;
	uint8_t icv_len;
	uint8_t block;
	uint8_t salt[AEAD_SALT_LEN];		/* AEAD nonce prefix */
	/* The cipher and its raw key, from which a thread's cache slot is (re-)keyed:
	 * an expanded OpenSSL GCM context is about 1.1 KB, and a concentrator's SAs are
	 * mostly idle. Wiped with the rest. */
	const EVP_CIPHER *evp;
	uint8_t key[32];
	/* CBC IVs: AES-ECB under a random per-SA key over iv_prefix|seq. */
	EVP_CIPHER_CTX *ivgen;
	uint8_t iv_prefix[8];
	EVP_MAC_CTX *mac;
	/* AES-GCM through libgcrypt (esp_crypto.h): gcry_algo, its cipher (0: OpenSSL
	 * only), and whether it is on for this SA (tests turn it off). */
	int gcry_algo;
	bool gcry_on;
	/* AES-GCM opening with one parameter call a packet (open_fixed) unless turned
	 * off for tests. */
	bool open_fixed_off;
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

/* The CBC IV generator's AES-ECB context: the SA's own, made when it is installed
 * (CBC suites only), since its key is random and kept nowhere else. */
static EVP_CIPHER_CTX *ecb_ctx_new(const uint8_t *key)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	if (EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL, 1) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
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

/* libgcrypt, set up once for the process: no secure memory of its own (the keys it
 * holds are wiped by gcry_cipher_close, and tsunagid's mlockall keeps them out of
 * swap like everything else), used only where the CPU has AES-NI and PCLMUL (what
 * libsodium checks for its own AES-GCM): elsewhere libgcrypt's table-based AES is
 * not constant-time, and OpenSSL's is. */
static bool gcry_usable;
static pthread_once_t gcry_once = PTHREAD_ONCE_INIT;

/* One packet sealed with a throw-away key: libgcrypt may refuse what the data path
 * does (in FIPS mode it refuses a caller's nonce for encryption), and then every
 * packet would be dropped; OpenSSL does the work instead. */
static bool gcry_probe(void)
{
	static const uint8_t key[32], nonce[AEAD_NONCE_LEN], aad[8];
	uint8_t buf[16] = { 0 }, tag[AEAD_TAG_LEN];
	gcry_cipher_hd_t h;

	if (gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) != 0)
		return false;
	bool ok = gcry_cipher_setkey(h, key, sizeof(key)) == 0 &&
		  gcry_cipher_setiv(h, nonce, sizeof(nonce)) == 0 &&
		  gcry_cipher_authenticate(h, aad, sizeof(aad)) == 0 &&
		  gcry_cipher_final(h) == 0 &&
		  gcry_cipher_encrypt(h, buf, sizeof(buf), NULL, 0) == 0 &&
		  gcry_cipher_gettag(h, tag, sizeof(tag)) == 0;
	gcry_cipher_close(h);
	return ok;
}

static void gcry_setup(void)
{
	if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available() ||
	    !gcry_check_version(GCRYPT_VERSION))
		return;
	gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	gcry_usable = gcry_probe();
}

/* The libgcrypt cipher for AES-GCM with this key length, or 0 (OpenSSL then). */
static int gcry_algo_for(enum esp_cipher c, size_t key_len)
{
	if (c != ESP_ENCR_AES_GCM_16)
		return 0;
	pthread_once(&gcry_once, gcry_setup);
	if (!gcry_usable)
		return 0;
	return key_len == 16 ? GCRY_CIPHER_AES128 : key_len == 24 ? GCRY_CIPHER_AES192 :
	       key_len == 32 ? GCRY_CIPHER_AES256 : 0;
}

static bool ivgen_init(struct esp_crypto *ec)
{
	uint8_t key[IVGEN_KEY_LEN];
	bool ok;

	if (RAND_bytes(key, sizeof(key)) != 1 ||
	    RAND_bytes(ec->iv_prefix, sizeof(ec->iv_prefix)) != 1)
		return false;
	ec->ivgen = ecb_ctx_new(key);
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
	ec->id = ctx_cache_new_id();
	ec->cipher = c;
	ec->integ = i;
	int block = EVP_CIPHER_block_size(cipher);
	ec->block = (uint8_t)(block < 4 ? 4 : block);
	if (aead) {
		ec->iv_len = 8;
		ec->icv_len = AEAD_TAG_LEN;
		memcpy(ec->salt, ekey + key_len, AEAD_SALT_LEN);
		ec->gcry_algo = gcry_algo_for(c, key_len);
		ec->gcry_on = ec->gcry_algo != 0;
	} else {
		ec->iv_len = (uint8_t)EVP_CIPHER_iv_length(cipher);
		ec->icv_len = (uint8_t)icv_len;
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

/* Gives slot s the contexts of ec in direction enc. Another cipher or direction than
 * the slot had means a fresh EVP initialisation (OpenSSL cleanses and frees the old
 * key schedule); the same ones only a new key, which overwrites the whole schedule
 * (and, for GCM, the hash key and state). An AES-GCM decryption context gets the salt
 * as the fixed part of its nonces, for open_fixed; where OpenSSL refuses that,
 * packets are opened the ordinary way. Padding is turned off for CBC only, which
 * gets whole blocks: AEAD ciphers are stream modes, and OpenSSL 3.0 passes a
 * context's padding setting to the provider again on every EVP_CipherInit_ex. */
static bool slot_rekey(struct ctx_slot *s, const struct esp_crypto *ec, int enc)
{
	bool aead = cipher_is_aead(ec->cipher);

	if (!s->ctx && !(s->ctx = EVP_CIPHER_CTX_new()))
		return false;
	if (s->evp != ec->evp || s->enc != enc) {
		s->evp = NULL;
		if (EVP_CipherInit_ex(s->ctx, ec->evp, NULL, NULL, NULL, enc) != 1 ||
		    (aead && EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_SET_IVLEN, AEAD_NONCE_LEN,
						 NULL) != 1))
			return false;
		s->evp = ec->evp;
		s->enc = enc;
	}
	if (EVP_CipherInit_ex(s->ctx, NULL, NULL, ec->key, NULL, enc) != 1 ||
	    (!aead && EVP_CIPHER_CTX_set_padding(s->ctx, 0) != 1))
		return false;
	s->open_fixed = !enc && ec->cipher == ESP_ENCR_AES_GCM_16 &&
			EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_IV_FIXED, AEAD_SALT_LEN,
					    (void *)ec->salt) == 1;
	return true;
}

/* This thread's slot for one direction of ec: a hit is one compare; a miss re-keys
 * the slot it takes over. NULL when that fails. */
static struct ctx_slot *slot_get(const struct esp_crypto *ec, int enc)
{
	uint64_t key = ctx_cache_key(ec->id, enc);
	struct ctx_slot *s = ctx_cache_find(key);

	if (s)
		return s;
	s = ctx_cache_claim(key);
	if (!s)
		return NULL;
	bool ok = slot_rekey(s, ec, enc);
	ctx_cache_fill_done(s, key, ok);
	return ok ? s : NULL;
}

/* libgcrypt's handle in slot s with ec's key, opened on the first packet. */
static gcry_cipher_hd_t slot_gcry(struct ctx_slot *s, const struct esp_crypto *ec)
{
	if (s->gcry)
		return s->gcry;
	gcry_cipher_hd_t h;
	if (gcry_cipher_open(&h, ec->gcry_algo, GCRY_CIPHER_MODE_GCM, 0) != 0)
		return NULL;
	if (gcry_cipher_setkey(h, ec->key, gcry_cipher_get_algo_keylen(ec->gcry_algo)) != 0) {
		gcry_cipher_close(h);
		return NULL;
	}
	ctx_cache_lock();
	s->gcry = h;
	ctx_cache_unlock();
	return h;
}

bool esp_crypto_has_ctx(const struct esp_crypto *ec, bool enc)
{
	return ctx_cache_find(ctx_cache_key(ec->id, enc)) != NULL;
}

uint64_t esp_crypto_id(const struct esp_crypto *ec)
{
	return ec->id;
}

void esp_crypto_free(struct esp_crypto *ec)
{
	if (!ec)
		return;
	ctx_cache_forget(ec->id);
	/* OpenSSL cleanses key schedules when freeing its contexts. */
	EVP_CIPHER_CTX_free(ec->ivgen);
	EVP_MAC_CTX_free(ec->mac);
	wipe_free(ec, sizeof(*ec));
}

bool esp_crypto_is_aead(const struct esp_crypto *ec) { return cipher_is_aead(ec->cipher); }
size_t esp_crypto_iv_len(const struct esp_crypto *ec) { return ec->iv_len; }
size_t esp_crypto_icv_len(const struct esp_crypto *ec) { return ec->icv_len; }
size_t esp_crypto_block(const struct esp_crypto *ec) { return ec->block; }

void esp_crypto_set_gcrypt(struct esp_crypto *ec, bool on)
{
	ec->gcry_on = on && ec->gcry_algo != 0;
}

bool esp_crypto_uses_gcrypt(const struct esp_crypto *ec) { return ec->gcry_on; }

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

static void make_nonce(const struct esp_crypto *ec, const uint8_t *iv,
		       uint8_t nonce[AEAD_NONCE_LEN])
{
	memcpy(nonce, ec->salt, AEAD_SALT_LEN);
	memcpy(nonce + AEAD_SALT_LEN, iv, 8);
}

/* Starts AES-GCM with libgcrypt: nonce salt|iv, then the AAD; the next encrypt or
 * decrypt call is the last (gcry_cipher_final). NULL on failure. */
static gcry_cipher_hd_t gcry_start(struct esp_crypto *ec, struct ctx_slot *s, const uint8_t *iv,
				   const uint8_t *aad, size_t aad_len)
{
	uint8_t nonce[AEAD_NONCE_LEN];
	gcry_cipher_hd_t h = slot_gcry(s, ec);

	make_nonce(ec, iv, nonce);
	if (!h || gcry_cipher_setiv(h, nonce, sizeof(nonce)) != 0 ||
	    gcry_cipher_authenticate(h, aad, aad_len) != 0 || gcry_cipher_final(h) != 0)
		return NULL;
	return h;
}

static int gcry_seal(struct esp_crypto *ec, struct ctx_slot *s, const uint8_t *iv,
		     const uint8_t *aad, size_t aad_len, uint8_t *buf, size_t len, uint8_t *icv)
{
	gcry_cipher_hd_t h = gcry_start(ec, s, iv, aad, aad_len);

	if (!h || gcry_cipher_encrypt(h, buf, len, NULL, 0) != 0 ||
	    gcry_cipher_gettag(h, icv, AEAD_TAG_LEN) != 0)
		return -1;
	return 0;
}

/* gcry_cipher_checktag compares in constant time. A refused packet's decrypted bytes
 * are wiped: nothing may use them. */
static int gcry_open(struct esp_crypto *ec, struct ctx_slot *s, const uint8_t *iv,
		     const uint8_t *aad, size_t aad_len, uint8_t *buf, size_t len,
		     const uint8_t *icv)
{
	gcry_cipher_hd_t h = gcry_start(ec, s, iv, aad, aad_len);

	if (!h || gcry_cipher_decrypt(h, buf, len, NULL, 0) != 0)
		return -1;
	if (gcry_cipher_checktag(h, icv, AEAD_TAG_LEN) != 0) {
		wipe(buf, len);
		return -1;
	}
	return 0;
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
static int open_fixed(EVP_CIPHER_CTX *ctx, const uint8_t *iv, const uint8_t *aad,
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

	if (EVP_CIPHER_CTX_set_params(ctx, params) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1 ||
	    EVP_CipherUpdate(ctx, buf, &outl, buf, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ctx, buf + outl, &finl) != 1)
		return -1;
	return 0;
}

int esp_crypto_aead_seal(struct esp_crypto *ec, const uint8_t *iv, const uint8_t *aad,
			 size_t aad_len, uint8_t *buf, size_t len, uint8_t *icv)
{
	int outl, finl;

	struct ctx_slot *s = slot_get(ec, 1);
	if (!s)
		return -1;
	if (ec->gcry_on)
		return gcry_seal(ec, s, iv, aad, aad_len, buf, len, icv);
	/* The tag as a parameter: EVP_CIPHER_CTX_ctrl would build this same request. */
	OSSL_PARAM tag[] = {
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, icv, AEAD_TAG_LEN),
		OSSL_PARAM_construct_end(),
	};
	EVP_CIPHER_CTX *ctx = s->ctx;
	if (!cipher_is_aead(ec->cipher) || len > INT_MAX || aad_len > INT_MAX ||
	    aead_start(ec, ctx, 1, iv, aad, aad_len) != 0 ||
	    EVP_CipherUpdate(ctx, buf, &outl, buf, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ctx, buf + outl, &finl) != 1 ||
	    EVP_CIPHER_CTX_get_params(ctx, tag) != 1)
		return -1;
	return 0;
}

int esp_crypto_aead_open(struct esp_crypto *ec, const uint8_t *iv, const uint8_t *aad,
			 size_t aad_len, uint8_t *buf, size_t len, const uint8_t *icv)
{
	int outl, finl;

	struct ctx_slot *s = slot_get(ec, 0);
	if (!s)
		return -1;
	if (ec->gcry_on)
		return gcry_open(ec, s, iv, aad, aad_len, buf, len, icv);
	/* OpenSSL compares the tag in constant time in EVP_CipherFinal_ex. */
	EVP_CIPHER_CTX *ctx = s->ctx;
	if (!cipher_is_aead(ec->cipher) || len > INT_MAX || aad_len > INT_MAX)
		return -1;
	if (s->open_fixed && !ec->open_fixed_off)
		return open_fixed(ctx, iv, aad, aad_len, buf, len, icv);
	if (aead_start(ec, ctx, 0, iv, aad, aad_len) != 0 ||
	    EVP_CipherUpdate(ctx, buf, &outl, buf, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN,
				(void *)icv) != 1 ||
	    EVP_CipherFinal_ex(ctx, buf + outl, &finl) != 1)
		return -1;
	return 0;
}

static int cbc_run(struct esp_crypto *ec, int enc, const uint8_t *iv, uint8_t *buf, size_t len)
{
	int outl, finl;
	struct ctx_slot *s = slot_get(ec, enc);
	EVP_CIPHER_CTX *ctx = s ? s->ctx : NULL;

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
