/* esp/esp_crypto + esp/esp_transform: known-answer ESP packets (draft-mcgrew-gcm-test-01,
 * RFC 7634 Appendix A, RFC 3602 section 4), HMAC vectors (RFC 2202, RFC 4868), round
 * trips for every cipher/integrity combination, and rejection of tampered, badly
 * padded, truncated and replayed packets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "esp/esp_crypto.h"
#include "esp/esp_transform.h"
#include "lib/buf.h"

/* Hex string (whitespace ignored) to bytes; returns the length. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		assert_true(n < cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	assert_int_equal(hi, -1);
	return n;
}

static struct esp_crypto *crypto(enum esp_cipher c, const char *ekey_hex, enum esp_integ i,
				 const char *akey_hex)
{
	uint8_t ek[64], ak[64];
	size_t ekl = unhex(ekey_hex, ek, sizeof(ek));
	size_t akl = akey_hex ? unhex(akey_hex, ak, sizeof(ak)) : 0;
	char err[128] = "";
	struct esp_crypto *ec = esp_crypto_new(c, ek, ekl, i, ak, akl, err, sizeof(err));

	if (!ec)
		fprintf(stderr, "esp_crypto_new: %s\n", err);
	assert_non_null(ec);
	return ec;
}

/* --- Known-answer ESP packets ------------------------------------------------- */

struct aead_kat {
	const char *name;
	enum esp_cipher cipher;
	const char *key;	/* key | salt */
	uint32_t spi;
	uint64_t seq;		/* full sequence number */
	bool esn;
	const char *iv;
	const char *plain;	/* payload | padding | pad length | next header */
	const char *ct_tag;
	size_t payload_len;
	uint8_t nh;
};

/* draft-mcgrew-gcm-test-01 section 4 and RFC 7634 Appendix A. */
static const struct aead_kat aead_kats[] = {
	{ "gcm-test-01 case 1 (AES-128, ESN)", ESP_ENCR_AES_GCM_16,
	  "4c80cdefbb5d10da906ac73c3613a634" "2e443b68", 0x00004321,
	  UINT64_C(0x8765432100000000), true, "4956ed7e3b244cfe",
	  "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
	  "00000000045f736970045f756470037369700963796265726369747902646b00"
	  "0021000101020201",
	  "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34"
	  "cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce"
	  "61bc17d768fd9732" "459018148f6cbe722fd04796562dfdb4", 68, 1 },
	{ "gcm-test-01 case 2 (AES-192)", ESP_ENCR_AES_GCM_16,
	  "feffe9928665731c6d6a8f9467308308feffe9928665731c" "cafebabe", 0x0000a5f8,
	  0x0a, false, "facedbaddecaf888",
	  "45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e"
	  "501016d075680001",
	  "a5b1f8066029aea40e598b8122de02420938b3ab33f828e687b8858b5bfbdbd0"
	  "315b27452144cc77" "95457b9652037f5318027b5b4cd7a636", 38, 1 },
	{ "gcm-test-01 case 3 (AES-256)", ESP_ENCR_AES_GCM_16,
	  "abbccddef00112233445566778899aababbccddef00112233445566778899aab" "11223344",
	  0x4a2cbfe3, 2, false, "0102030405060708",
	  "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
	  "7002400020bf0000020405b40101040201020201",
	  "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763"
	  "748a637985771d347f0545659f14e99def842d8e"
	  "b335f4eecfdbf831824b4c4915956c96", 48, 1 },
	{ "gcm-test-01 case 5 (empty payload)", ESP_ENCR_AES_GCM_16,
	  "7d773d00c144c525ac619d18c84a3f47" "d9664267", 0x335467ae, 0xffffffff, false,
	  "43457e9182443bc6", "01020201",
	  "437f866b" "cb3f699fe9b0822bac961c4504bef270", 0, 1 },
	{ "RFC 7634 A (ChaCha20-Poly1305, tunnel)", ESP_ENCR_CHACHA20_POLY1305,
	  "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f" "a0a1a2a3",
	  0x01020304, 5, false, "1011121314151617",
	  "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec10"
	  "0007362708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
	  "2425262728292a2b2c2d2e2f303132333435363701020204",
	  "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c6"
	  "14ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3"
	  "cbec163fac469b502773f6fb94e664da9165b82829f641e0"
	  "76aaa8266b7fb0f7b11b369907e1ad43", 84, 4 },
};

/* Builds SPI | seq-lo | IV | ciphertext | tag from a vector. */
static size_t kat_packet(const struct aead_kat *k, uint8_t *pkt, size_t cap)
{
	size_t n;

	put_u32(pkt, k->spi);
	put_u32(pkt + 4, (uint32_t)k->seq);
	n = ESP_HDR_LEN;
	n += unhex(k->iv, pkt + n, cap - n);
	n += unhex(k->ct_tag, pkt + n, cap - n);
	return n;
}

static void test_aead_kat_decap(void **state)
{
	for (size_t v = 0; v < sizeof(aead_kats) / sizeof(aead_kats[0]); v++) {
		const struct aead_kat *k = &aead_kats[v];
		struct esp_in_sa in = { .spi = k->spi, .tunnel = k->nh == 4 };
		uint8_t pkt[256], plain[256], *inner, nh;
		size_t len = kat_packet(k, pkt, sizeof(pkt)), inner_len;

		unhex(k->plain, plain, sizeof(plain));
		in.c = crypto(k->cipher, k->key, ESP_INTEG_NONE, NULL);
		replay_init(&in.rw, 64, k->esn);
		if (k->esn)	/* make the window infer the vector's high half across a wrap */
			replay_update(&in.rw, k->seq - 1);
		assert_int_equal(esp_decap(&in, pkt, len, &inner, &inner_len, &nh), ESP_OK);
		assert_int_equal(inner_len, k->payload_len);
		assert_int_equal(nh, k->nh);
		assert_memory_equal(inner, plain, k->payload_len);
		assert_int_equal(in.last_seq, k->seq);
		assert_int_equal(in.rw.top, k->seq);
		/* The same packet again is a replay. */
		len = kat_packet(k, pkt, sizeof(pkt));
		assert_int_equal(esp_decap(&in, pkt, len, &inner, &inner_len, &nh),
				 ESP_ERR_REPLAY);
		esp_crypto_free(in.c);
		replay_free(&in.rw);
	}
}

/* The known answers with libgcrypt on or off (see esp_crypto.h). */
static void aead_kat_seal(bool gcrypt)
{
	for (size_t v = 0; v < sizeof(aead_kats) / sizeof(aead_kats[0]); v++) {
		const struct aead_kat *k = &aead_kats[v];
		struct esp_crypto *c = crypto(k->cipher, k->key, ESP_INTEG_NONE, NULL);
		uint8_t iv[8], buf[256], want[256], aad[12];
		size_t len = unhex(k->plain, buf, sizeof(buf)), aad_len = 8;

		esp_crypto_set_gcrypt(c, gcrypt);
		unhex(k->iv, iv, sizeof(iv));
		assert_int_equal(unhex(k->ct_tag, want, sizeof(want)), len + 16);
		put_u32(aad, k->spi);
		if (k->esn) {
			put_u32(aad + 4, (uint32_t)(k->seq >> 32));
			aad_len = 12;
		}
		put_u32(aad + aad_len - 4, (uint32_t)k->seq);
		assert_int_equal(esp_crypto_aead_seal(c, iv, aad, aad_len, buf, len, buf + len), 0);
		assert_memory_equal(buf, want, len + 16);
		assert_int_equal(esp_crypto_aead_open(c, iv, aad, aad_len, buf, len, buf + len), 0);
		unhex(k->plain, want, sizeof(want));
		assert_memory_equal(buf, want, len);
		esp_crypto_free(c);
	}
}

static void test_aead_kat_seal(void **state)
{
	aead_kat_seal(true);	/* the default: libgcrypt for AES-GCM where the CPU has AES-NI */
}

static void test_aead_kat_seal_openssl_only(void **state)
{
	aead_kat_seal(false);
}

/* AES-GCM through OpenSSL and through libgcrypt: the same ciphertext and tag for the
 * same key, nonce, AAD and packet, for 128-, 192- and 256-bit keys, at lengths around
 * the block size, packet sizes and odd tails, with random bytes; each opens the
 * other's packets, and both refuse a flipped bit in the tag, the ciphertext or the
 * AAD (libgcrypt wipes what it decrypted then). */
/* One length and AAD length: o (OpenSSL) and g (libgcrypt) seal alike, open each
 * other's packets, and refuse a tampered one. */
static void backends_agree_once(struct esp_crypto *o, struct esp_crypto *g, const uint8_t *plain,
				size_t len, const uint8_t *iv, uint8_t *aad, size_t aad_len,
				size_t flip)
{
	static uint8_t a[4000 + 16], b[4000 + 16];

	memcpy(a, plain, len);
	memcpy(b, plain, len);
	assert_int_equal(esp_crypto_aead_seal(o, iv, aad, aad_len, a, len, a + len), 0);
	assert_int_equal(esp_crypto_aead_seal(g, iv, aad, aad_len, b, len, b + len), 0);
	assert_memory_equal(a, b, len + 16);
	assert_int_equal(esp_crypto_aead_open(g, iv, aad, aad_len, a, len, a + len), 0);
	assert_int_equal(esp_crypto_aead_open(o, iv, aad, aad_len, b, len, b + len), 0);
	if (len) {
		assert_memory_equal(a, plain, len);
		assert_memory_equal(b, plain, len);
	}
	/* Sealed again, then one bit flipped in the tag or ciphertext (flip < len + 16),
	 * or in the AAD: both refuse, and libgcrypt leaves no plaintext behind. */
	assert_int_equal(esp_crypto_aead_seal(o, iv, aad, aad_len, a, len, a + len), 0);
	memcpy(b, a, len + 16);
	if (flip < len + 16) {
		a[flip] ^= 0x10;
		b[flip] ^= 0x10;
	} else {
		aad[flip % aad_len] ^= 0x10;
	}
	assert_int_equal(esp_crypto_aead_open(o, iv, aad, aad_len, a, len, a + len), -1);
	assert_int_equal(esp_crypto_aead_open(g, iv, aad, aad_len, b, len, b + len), -1);
	if (esp_crypto_uses_gcrypt(g))
		for (size_t i = 0; i < len; i++)
			assert_int_equal(b[i], 0);
	if (flip >= len + 16)
		aad[flip % aad_len] ^= 0x10;
}

static void test_aead_backends_agree(void **state)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 52, 63, 64, 65, 511, 512, 513,
				       1379, 1400, 1418, 1424, 1500, 4000 };
	static const size_t key_lens[] = { 20, 28, 36 };
	uint8_t key[36], plain[4000], iv[8], aad[12];
	char err[128];
	unsigned x = 2024;

	for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
		for (int round = 0; round < 4; round++) {
			for (size_t i = 0; i < sizeof(key); i++)
				key[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
			for (size_t i = 0; i < sizeof(plain); i++)
				plain[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
			for (size_t i = 0; i < sizeof(iv); i++)
				iv[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
			for (size_t i = 0; i < sizeof(aad); i++)
				aad[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
			struct esp_crypto *o = esp_crypto_new(ESP_ENCR_AES_GCM_16, key, key_lens[k],
							      ESP_INTEG_NONE, NULL, 0, err,
							      sizeof(err));
			struct esp_crypto *g = esp_crypto_new(ESP_ENCR_AES_GCM_16, key, key_lens[k],
							      ESP_INTEG_NONE, NULL, 0, err,
							      sizeof(err));
			assert_non_null(o);
			assert_non_null(g);
			esp_crypto_set_gcrypt(o, false);
			assert_false(esp_crypto_uses_gcrypt(o));
			for (size_t n = 0; n < sizeof(lens) / sizeof(lens[0]); n++) {
				size_t len = lens[n];
				for (size_t aad_len = 8; aad_len <= 12; aad_len += 4) {
					x = x * 1103515245u + 12345u;
					backends_agree_once(o, g, plain, len, iv, aad, aad_len,
							    (x >> 8) % (len + 16 + aad_len));
				}
			}
			esp_crypto_free(o);
			esp_crypto_free(g);
		}
	}
}

/* Where the CPU has AES-NI and PCLMUL (libsodium's check), AES-GCM goes through
 * libgcrypt by default, every key length; ChaCha20-Poly1305 never does. */
static void test_aead_gcrypt_default(void **state)
{
	uint8_t key[36] = { 1 };
	char err[128];
	bool want = sodium_init() >= 0 && crypto_aead_aes256gcm_is_available();
	static const size_t key_lens[] = { 20, 28, 36 };

	for (size_t k = 0; k < 3; k++) {
		struct esp_crypto *c = esp_crypto_new(ESP_ENCR_AES_GCM_16, key, key_lens[k],
						      ESP_INTEG_NONE, NULL, 0, err, sizeof(err));
		assert_non_null(c);
		assert_true(esp_crypto_uses_gcrypt(c) == want);
		esp_crypto_free(c);
	}
	struct esp_crypto *c = esp_crypto_new(ESP_ENCR_CHACHA20_POLY1305, key, 36, ESP_INTEG_NONE,
					      NULL, 0, err, sizeof(err));
	assert_non_null(c);
	assert_false(esp_crypto_uses_gcrypt(c));
	esp_crypto_free(c);
}

/* AES-GCM opened by OpenSSL with the fixed salt and one parameter call a packet, and
 * the ordinary way: the same plaintext for every length around the block size, IPv4
 * and IPv6 header sizes and odd tails, for 128- and 256-bit keys and both AAD
 * lengths; both refuse a flipped bit in the ciphertext, tag or IV, and a refused
 * packet leaves the context fit for the next one. */
static void test_aead_open_fixed_agrees(void **state)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 20, 40, 52, 63, 64, 65, 511, 513,
				       1379, 1400, 1418, 1500, 4000 };
	static const size_t key_lens[] = { 20, 36 };
	uint8_t key[36], a[4000 + 16], b[4000 + 16], plain[4000], iv[8], aad[12];
	char err[128];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 11 + 5);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 29 + 7);
	memcpy(aad, "\x01\x02\x03\x04\x00\x00\x00\x00\x00\x00\x00\x09", 12);
	for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
		struct esp_crypto *c[3];
		for (int j = 0; j < 3; j++) {
			c[j] = esp_crypto_new(ESP_ENCR_AES_GCM_16, key, key_lens[k],
					      ESP_INTEG_NONE, NULL, 0, err, sizeof(err));
			assert_non_null(c[j]);
			esp_crypto_set_gcrypt(c[j], false);
		}
		esp_crypto_set_open_fixed(c[2], false);	/* c[1] fixed, c[2] ordinary */
		for (size_t n = 0; n < sizeof(lens) / sizeof(lens[0]); n++) {
			size_t len = lens[n];
			for (size_t aad_len = 8; aad_len <= 12; aad_len += 4) {
				put_u32(iv, (uint32_t)n);
				put_u32(iv + 4, (uint32_t)(len * 3 + aad_len));
				memcpy(a, plain, len);
				assert_int_equal(esp_crypto_aead_seal(c[0], iv, aad, aad_len, a,
								      len, a + len), 0);
				for (size_t flip = 0; flip < len + 16 + 8; flip += 1 + len / 3) {
					/* flip < len + 16: a ciphertext or tag bit; else an IV bit. */
					uint8_t bad_iv[8];
					memcpy(bad_iv, iv, 8);
					memcpy(b, a, len + 16);
					if (flip < len + 16)
						b[flip] ^= 0x04;
					else
						bad_iv[flip - len - 16] ^= 0x80;
					for (int j = 1; j < 3; j++) {
						uint8_t t[4000 + 16];
						memcpy(t, b, len + 16);
						assert_int_equal(esp_crypto_aead_open(c[j], bad_iv, aad,
							aad_len, t, len, t + len), -1);
					}
				}
				for (int j = 1; j < 3; j++) {
					memcpy(b, a, len + 16);
					assert_int_equal(esp_crypto_aead_open(c[j], iv, aad, aad_len, b,
									      len, b + len), 0);
					if (len)
						assert_memory_equal(b, plain, len);
				}
			}
		}
		for (int j = 0; j < 3; j++)
			esp_crypto_free(c[j]);
	}
}

/* RFC 3602 section 4 case 5: an ESP packet with AES-128-CBC and the ICV omitted. */
static const char rfc3602_key[] = "90d382b410eeba7ad938c46cec1a82bf";
static const char rfc3602_iv[] = "e96e8c08ab465763fd098d45dd3ff893";
static const char rfc3602_plain[] =
	"08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f1011121314151617"
	"18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637"
	"0102030405060708090a0b0c0d0e0e01";
static const char rfc3602_packet[] =
	"0000432100000001e96e8c08ab465763fd098d45dd3ff893"
	"f663c25d325c18c6a9453e194e120849a4870b66cc6b9965330013b4898dc856"
	"a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874a"
	"a269add047ad2d5913ac19b7cfbad4a6";

static void test_cbc_kat_encrypt(void **state)
{
	struct esp_crypto *c = crypto(ESP_ENCR_AES_CBC, rfc3602_key, ESP_INTEG_HMAC_SHA1_96,
				      "0000000000000000000000000000000000000000");
	uint8_t iv[16], buf[128], pkt[160];
	size_t len = unhex(rfc3602_plain, buf, sizeof(buf));

	assert_int_equal(len, 80);
	unhex(rfc3602_iv, iv, sizeof(iv));
	assert_int_equal(unhex(rfc3602_packet, pkt, sizeof(pkt)), 8 + 16 + 80);
	assert_int_equal(esp_crypto_cbc_encrypt(c, iv, buf, len), 0);
	assert_memory_equal(buf, pkt + 24, 80);
	assert_int_equal(esp_crypto_cbc_decrypt(c, iv, buf, len), 0);
	unhex(rfc3602_plain, pkt, sizeof(pkt));
	assert_memory_equal(buf, pkt, 80);
	assert_int_equal(esp_crypto_cbc_encrypt(c, iv, buf, 79), -1);	/* not whole blocks */
	esp_crypto_free(c);
}

/* The RFC 3602 packet with an HMAC-SHA2-256-128 ICV (computed here with OpenSSL's
 * one-shot HMAC, a path independent of esp_crypto) decapsulates to the ICMP message. */
static void test_cbc_kat_decap(void **state)
{
	uint8_t akey[32], pkt[200], plain[128], md[32], *inner, nh;
	unsigned int mdlen = 0;
	size_t len = unhex(rfc3602_packet, pkt, sizeof(pkt)), inner_len;
	struct esp_in_sa in = { .spi = 0x4321 };

	memset(akey, 0x5a, sizeof(akey));
	in.c = crypto(ESP_ENCR_AES_CBC, rfc3602_key, ESP_INTEG_HMAC_SHA2_256_128,
		      "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
	replay_init(&in.rw, 32, false);
	assert_non_null(HMAC(EVP_sha256(), akey, sizeof(akey), pkt, len, md, &mdlen));
	memcpy(pkt + len, md, 16);
	len += 16;
	assert_int_equal(esp_decap(&in, pkt, len, &inner, &inner_len, &nh), ESP_OK);
	assert_int_equal(nh, 1);
	assert_int_equal(inner_len, 64);
	unhex(rfc3602_plain, plain, sizeof(plain));
	assert_memory_equal(inner, plain, 64);
	esp_crypto_free(in.c);
	replay_free(&in.rw);
}

/* RFC 2202 / RFC 4868 test case 1 ("Hi There", key 0x0b...), truncated per RFC 4868. */
static void test_hmac_kats(void **state)
{
	static const struct {
		enum esp_integ integ;
		size_t key_len;
		const char *icv;
	} v[] = {
		{ ESP_INTEG_HMAC_SHA1_96, 20, "b617318655057264e28bc0b6" },
		{ ESP_INTEG_HMAC_SHA2_256_128, 32, "198a607eb44bfbc69903a0f1cf2bbdc5" },
		{ ESP_INTEG_HMAC_SHA2_384_192, 48,
		  "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973" },
		{ ESP_INTEG_HMAC_SHA2_512_256, 64,
		  "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8" },
		{ ESP_INTEG_HMAC_MD5_96, 16, "9294727a3638bb1c13f48ef8" },
	};
	const uint8_t ek[16] = { 0 };
	uint8_t ak[64], want[32], icv[32];
	char err[128];

	memset(ak, 0x0b, sizeof(ak));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct esp_crypto *c = esp_crypto_new(ESP_ENCR_AES_CBC, ek, 16, v[i].integ, ak,
						      v[i].key_len, err, sizeof(err));
		size_t n = unhex(v[i].icv, want, sizeof(want));

		assert_non_null(c);
		assert_int_equal(esp_crypto_icv_len(c), n);
		/* Twice, and split: the context is reused per packet. */
		for (int round = 0; round < 2; round++) {
			assert_int_equal(esp_crypto_mac(c, (const uint8_t *)"Hi ", 3,
							(const uint8_t *)"There", 5, icv), 0);
			assert_memory_equal(icv, want, n);
		}
		assert_int_equal(esp_crypto_mac_verify(c, (const uint8_t *)"Hi There", 8, NULL, 0,
						       want), 0);
		want[n - 1] ^= 1;
		assert_int_equal(esp_crypto_mac_verify(c, (const uint8_t *)"Hi There", 8, NULL, 0,
						       want), -1);
		esp_crypto_free(c);
	}
}

/* --- Round trips over every combination ------------------------------------------ */

struct combo {
	enum esp_cipher cipher;
	size_t ekey_len;
	enum esp_integ integ;
	size_t akey_len;
};

static const struct combo combos[] = {
	{ ESP_ENCR_AES_GCM_16, 20, ESP_INTEG_NONE, 0 },
	{ ESP_ENCR_AES_GCM_16, 28, ESP_INTEG_NONE, 0 },
	{ ESP_ENCR_AES_GCM_16, 36, ESP_INTEG_NONE, 0 },
	{ ESP_ENCR_CHACHA20_POLY1305, 36, ESP_INTEG_NONE, 0 },
	{ ESP_ENCR_AES_CBC, 16, ESP_INTEG_HMAC_SHA1_96, 20 },
	{ ESP_ENCR_AES_CBC, 16, ESP_INTEG_HMAC_SHA2_256_128, 32 },
	{ ESP_ENCR_AES_CBC, 24, ESP_INTEG_HMAC_SHA2_384_192, 48 },
	{ ESP_ENCR_AES_CBC, 32, ESP_INTEG_HMAC_SHA2_512_256, 64 },
	{ ESP_ENCR_AES_CBC, 32, ESP_INTEG_HMAC_SHA2_256_128, 32 },
	{ ESP_ENCR_3DES_CBC, 24, ESP_INTEG_HMAC_SHA1_96, 20 },
	{ ESP_ENCR_3DES_CBC, 24, ESP_INTEG_HMAC_MD5_96, 16 },
};
#define NCOMBOS (sizeof(combos) / sizeof(combos[0]))

struct pair {
	struct esp_out_sa out;
	struct esp_in_sa in;
};

static void pair_init(struct pair *p, const struct combo *co, bool esn, bool tunnel)
{
	uint8_t ek[64], ak[64];
	char err[128];

	for (size_t i = 0; i < sizeof(ek); i++) {
		ek[i] = (uint8_t)(i * 7 + co->ekey_len);
		ak[i] = (uint8_t)(i * 13 + 1);
	}
	memset(p, 0, sizeof(*p));
	p->out.spi = p->in.spi = 0xc0ffee01;
	p->out.esn = esn;
	p->in.tunnel = tunnel;
	/* Separate objects per direction, as the engine keeps them. */
	p->out.c = esp_crypto_new(co->cipher, ek, co->ekey_len, co->integ, ak, co->akey_len,
				  err, sizeof(err));
	p->in.c = esp_crypto_new(co->cipher, ek, co->ekey_len, co->integ, ak, co->akey_len,
				 err, sizeof(err));
	assert_non_null(p->out.c);
	assert_non_null(p->in.c);
	assert_int_equal(replay_init(&p->in.rw, 64, esn), 0);
}

static void pair_free(struct pair *p)
{
	esp_crypto_free(p->out.c);
	esp_crypto_free(p->in.c);
	replay_free(&p->in.rw);
}

/* A payload of len bytes that looks like an IPv4 (tunnel) packet. */
static void fill_payload(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 31);
	if (len)
		p[0] = 0x45;
}

static void test_round_trip_all_combinations(void **state)
{
	static const size_t lens[] = { 0, 1, 2, 13, 14, 15, 16, 17, 40, 64, 100, 1400 };
	uint8_t payload[1500], pkt[1600], *inner, nh;
	size_t inner_len;

	for (size_t ci = 0; ci < NCOMBOS; ci++) {
		for (int mode = 0; mode < 4; mode++) {
			bool esn = mode & 1, tunnel = mode & 2;
			struct pair p;

			pair_init(&p, &combos[ci], esn, tunnel);
			for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
				size_t len = lens[li];
				uint8_t want_nh = tunnel ? ESP_NH_IPV4 : 17;
				ssize_t n;

				if (tunnel && len == 0)
					continue;
				fill_payload(payload, len, (unsigned)(ci * 4 + li));
				n = esp_encap(&p.out, payload, len, want_nh, pkt, sizeof(pkt));
				assert_int_equal(n, esp_encap_len(p.out.c, len));
				assert_int_equal(p.out.seq, li + 1 - (tunnel ? 1 : 0));
				assert_int_equal(get_u32(pkt), 0xc0ffee01);
				assert_int_equal(get_u32(pkt + 4), (uint32_t)p.out.seq);
				assert_int_equal((n - ESP_HDR_LEN - esp_crypto_iv_len(p.out.c) -
						  esp_crypto_icv_len(p.out.c)) %
						 esp_crypto_block(p.out.c), 0);
				assert_int_equal(esp_decap(&p.in, pkt, (size_t)n, &inner, &inner_len,
							   &nh), ESP_OK);
				assert_int_equal(inner_len, len);
				assert_int_equal(nh, want_nh);
				assert_memory_equal(inner, payload, len);
				assert_int_equal(p.in.last_seq, p.out.seq);
			}
			pair_free(&p);
		}
	}
}

/* The payload may already sit where the ciphertext goes, or overlap out. */
static void test_encap_in_place(void **state)
{
	uint8_t buf[1600], want[1400], *inner, nh;
	size_t inner_len;

	for (size_t ci = 0; ci < NCOMBOS; ci++) {
		struct pair p;
		size_t off;
		ssize_t n;

		pair_init(&p, &combos[ci], false, true);
		fill_payload(want, sizeof(want), 3);
		off = ESP_HDR_LEN + esp_crypto_iv_len(p.out.c);
		memcpy(buf + off, want, sizeof(want));
		n = esp_encap(&p.out, buf + off, sizeof(want), ESP_NH_IPV4, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(esp_decap(&p.in, buf, (size_t)n, &inner, &inner_len, &nh), ESP_OK);
		assert_memory_equal(inner, want, sizeof(want));
		memcpy(buf, want, sizeof(want));	/* in == out */
		n = esp_encap(&p.out, buf, sizeof(want), ESP_NH_IPV4, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(esp_decap(&p.in, buf, (size_t)n, &inner, &inner_len, &nh), ESP_OK);
		assert_memory_equal(inner, want, sizeof(want));
		pair_free(&p);
	}
}

static void test_encap_capacity_and_overflow(void **state)
{
	uint8_t payload[100], pkt[300], *inner, nh;
	size_t need, inner_len;
	struct pair p;

	fill_payload(payload, sizeof(payload), 1);
	pair_init(&p, &combos[0], false, false);
	need = esp_encap_len(p.out.c, sizeof(payload));
	assert_int_equal(esp_encap(&p.out, payload, sizeof(payload), 6, pkt, need - 1), -1);
	assert_int_equal(p.out.seq, 0);
	assert_int_equal(esp_encap(&p.out, payload, sizeof(payload), 6, pkt, need), need);
	/* Without ESN the last number is 2^32-1; then the SA is exhausted. */
	p.out.seq = UINT32_MAX - 1;
	replay_update(&p.in.rw, UINT32_MAX - 2);
	assert_false(esp_out_sa_exhausted(&p.out));
	assert_int_equal(esp_encap(&p.out, payload, sizeof(payload), 6, pkt, sizeof(pkt)), need);
	assert_int_equal(esp_decap(&p.in, pkt, need, &inner, &inner_len, &nh), ESP_OK);
	assert_true(esp_out_sa_exhausted(&p.out));
	assert_int_equal(esp_encap(&p.out, payload, sizeof(payload), 6, pkt, sizeof(pkt)), -1);
	assert_int_equal(p.out.seq, UINT32_MAX);
	pair_free(&p);
}

/* With ESN, traffic continues across 2^32 and the receiver infers the high half. */
static void test_esn_wrap_through_decap(void **state)
{
	uint8_t payload[60], pkt[200], *inner, nh;
	size_t inner_len;

	for (size_t ci = 0; ci < NCOMBOS; ci++) {
		struct pair p;

		pair_init(&p, &combos[ci], true, false);
		p.out.seq = UINT32_MAX - 3;
		replay_update(&p.in.rw, UINT32_MAX - 3);
		for (int i = 0; i < 8; i++) {
			ssize_t n;
			fill_payload(payload, sizeof(payload), (unsigned)i);
			n = esp_encap(&p.out, payload, sizeof(payload), 6, pkt, sizeof(pkt));
			assert_true(n > 0);
			assert_int_equal(esp_decap(&p.in, pkt, (size_t)n, &inner, &inner_len, &nh),
					 ESP_OK);
			assert_int_equal(p.in.last_seq, p.out.seq);
		}
		assert_true(p.out.seq > UINT32_MAX);
		pair_free(&p);
	}
}

/* An ESN sender and a receiver that disagree on the high half: the ICV catches it. */
static void test_esn_high_bits_authenticated(void **state)
{
	uint8_t payload[60], pkt[200], *inner, nh;
	size_t inner_len;

	for (size_t ci = 0; ci < NCOMBOS; ci++) {
		struct pair p;
		ssize_t n;

		pair_init(&p, &combos[ci], true, false);
		p.out.seq = UINT64_C(0x300000010);
		fill_payload(payload, sizeof(payload), 9);
		n = esp_encap(&p.out, payload, sizeof(payload), 6, pkt, sizeof(pkt));
		replay_update(&p.in.rw, UINT64_C(0x200000000));	/* infers high half 2 */
		assert_int_equal(esp_decap(&p.in, pkt, (size_t)n, &inner, &inner_len, &nh),
				 ESP_ERR_INTEGRITY);
		pair_free(&p);
	}
}

static void test_tamper_every_byte_rejected(void **state)
{
	uint8_t payload[40], pkt[200], copy[200], *inner, nh;
	size_t inner_len;

	for (size_t ci = 0; ci < NCOMBOS; ci++) {
		struct pair p;
		ssize_t n;

		pair_init(&p, &combos[ci], ci % 2 == 0, false);
		fill_payload(payload, sizeof(payload), 5);
		n = esp_encap(&p.out, payload, sizeof(payload), 6, pkt, sizeof(pkt));
		assert_true(n > 0);
		for (ssize_t i = 0; i < n; i++) {
			enum esp_result r;
			memcpy(copy, pkt, (size_t)n);
			copy[i] ^= (uint8_t)(1u << (i % 8));
			r = esp_decap(&p.in, copy, (size_t)n, &inner, &inner_len, &nh);
			if (i < 4)
				assert_int_equal(r, ESP_ERR_PROTO);	/* another SA's SPI */
			else
				assert_int_equal(r, ESP_ERR_INTEGRITY);
		}
		/* Nothing was accepted, so the genuine packet still is. */
		assert_int_equal(p.in.rw.top, 0);
		assert_int_equal(esp_decap(&p.in, pkt, (size_t)n, &inner, &inner_len, &nh), ESP_OK);
		pair_free(&p);
	}
}

/* Seals an arbitrary ESP plaintext (payload|pad|padlen|nh) with a valid ICV. */
static size_t seal_raw(struct esp_crypto *c, uint32_t spi, uint64_t seq, const uint8_t *plain,
		       size_t len, uint8_t *pkt)
{
	size_t iv_len = esp_crypto_iv_len(c);
	uint8_t *ct = pkt + ESP_HDR_LEN + iv_len, aad[8];

	put_u32(pkt, spi);
	put_u32(pkt + 4, (uint32_t)seq);
	assert_int_equal(esp_crypto_make_iv(c, seq, pkt + ESP_HDR_LEN), 0);
	memcpy(ct, plain, len);
	if (esp_crypto_is_aead(c)) {
		memcpy(aad, pkt, 8);
		assert_int_equal(esp_crypto_aead_seal(c, pkt + ESP_HDR_LEN, aad, 8, ct, len,
						      ct + len), 0);
	} else {
		assert_int_equal(esp_crypto_cbc_encrypt(c, pkt + ESP_HDR_LEN, ct, len), 0);
		assert_int_equal(esp_crypto_mac(c, pkt, ESP_HDR_LEN + iv_len + len, NULL, 0,
						ct + len), 0);
	}
	return ESP_HDR_LEN + iv_len + len + esp_crypto_icv_len(c);
}

static void test_bad_padding_rejected(void **state)
{
	uint8_t plain[64], pkt[200], *inner, nh;
	size_t inner_len, len;

	for (size_t ci = 0; ci < NCOMBOS; ci++) {
		struct pair p;
		uint64_t seq = 1;

		pair_init(&p, &combos[ci], false, false);
		/* 16 bytes: payload 10, padding 1..4, padlen 4, nh 6 -- valid. */
		fill_payload(plain, 10, 1);
		for (int i = 0; i < 4; i++)
			plain[10 + i] = (uint8_t)(i + 1);
		plain[14] = 4;
		plain[15] = 6;
		len = seal_raw(p.out.c, p.out.spi, seq++, plain, 16, pkt);
		assert_int_equal(esp_decap(&p.in, pkt, len, &inner, &inner_len, &nh), ESP_OK);
		assert_int_equal(inner_len, 10);
		/* Wrong pad byte. */
		plain[12] = 0;
		len = seal_raw(p.out.c, p.out.spi, seq++, plain, 16, pkt);
		assert_int_equal(esp_decap(&p.in, pkt, len, &inner, &inner_len, &nh),
				 ESP_ERR_PADDING);
		plain[12] = 3;
		/* Pad length beyond the ciphertext. */
		plain[14] = 15;
		len = seal_raw(p.out.c, p.out.spi, seq++, plain, 16, pkt);
		assert_int_equal(esp_decap(&p.in, pkt, len, &inner, &inner_len, &nh),
				 ESP_ERR_PADDING);
		plain[14] = 14;	/* exactly the whole rest: only valid if bytes are 1..14 */
		len = seal_raw(p.out.c, p.out.spi, seq++, plain, 16, pkt);
		assert_int_equal(esp_decap(&p.in, pkt, len, &inner, &inner_len, &nh),
				 ESP_ERR_PADDING);
		/* The authentic packet moved the window even though its padding was bad. */
		assert_int_equal(p.in.rw.top, seq - 1);
		pair_free(&p);
	}
}

static void test_next_header_checks(void **state)
{
	uint8_t payload[40], pkt[200], *inner, nh;
	size_t inner_len;

	for (size_t ci = 0; ci < NCOMBOS; ci++) {
		struct pair p;
		ssize_t n;

		pair_init(&p, &combos[ci], false, true);
		fill_payload(payload, sizeof(payload), 2);	/* looks like IPv4 */
		n = esp_encap(&p.out, payload, sizeof(payload), ESP_NH_IPV6, pkt, sizeof(pkt));
		assert_int_equal(esp_decap(&p.in, pkt, (size_t)n, &inner, &inner_len, &nh),
				 ESP_ERR_PROTO);
		n = esp_encap(&p.out, payload, sizeof(payload), 6, pkt, sizeof(pkt));
		assert_int_equal(esp_decap(&p.in, pkt, (size_t)n, &inner, &inner_len, &nh),
				 ESP_ERR_PROTO);
		payload[0] = 0x60;
		n = esp_encap(&p.out, payload, sizeof(payload), ESP_NH_IPV6, pkt, sizeof(pkt));
		assert_int_equal(esp_decap(&p.in, pkt, (size_t)n, &inner, &inner_len, &nh), ESP_OK);
		assert_int_equal(nh, ESP_NH_IPV6);
		n = esp_encap(&p.out, payload, 0, ESP_NH_DUMMY, pkt, sizeof(pkt));
		assert_int_equal(esp_decap(&p.in, pkt, (size_t)n, &inner, &inner_len, &nh),
				 ESP_DUMMY);
		assert_null(inner);
		pair_free(&p);
	}
}

static void test_truncated_rejected(void **state)
{
	uint8_t payload[64], pkt[300], copy[300], *inner, nh;
	size_t inner_len;

	for (size_t ci = 0; ci < NCOMBOS; ci++) {
		struct pair p;
		size_t min, block;
		ssize_t n;

		pair_init(&p, &combos[ci], false, false);
		fill_payload(payload, sizeof(payload), 4);
		n = esp_encap(&p.out, payload, sizeof(payload), 6, pkt, sizeof(pkt));
		min = ESP_HDR_LEN + esp_crypto_iv_len(p.in.c) + esp_crypto_icv_len(p.in.c) + 2;
		block = esp_crypto_block(p.in.c);
		for (size_t len = 0; len < (size_t)n; len++) {
			enum esp_result r;
			memcpy(copy, pkt, len);
			r = esp_decap(&p.in, copy, len, &inner, &inner_len, &nh);
			if (len < min)
				assert_int_equal(r, ESP_ERR_SHORT);
			else if (!esp_crypto_is_aead(p.in.c) &&
				 (len - min + 2) % block != 0)
				assert_int_equal(r, ESP_ERR_SHORT);
			else
				assert_int_equal(r, ESP_ERR_INTEGRITY);
		}
		pair_free(&p);
	}
}

static void test_replay_through_decap(void **state)
{
	uint8_t payload[40], pkts[5][200], copy[200], *inner, nh;
	ssize_t lens[5];
	size_t inner_len;
	struct pair p;

	pair_init(&p, &combos[0], false, false);
	for (int i = 0; i < 5; i++) {
		fill_payload(payload, sizeof(payload), (unsigned)i);
		lens[i] = esp_encap(&p.out, payload, sizeof(payload), 6, pkts[i], sizeof(pkts[i]));
	}
	/* Reordered: 3, 1, 5, 2, 4 all accepted; then each is a duplicate. */
	static const int order[5] = { 2, 0, 4, 1, 3 };
	for (int i = 0; i < 5; i++) {
		memcpy(copy, pkts[order[i]], (size_t)lens[order[i]]);
		assert_int_equal(esp_decap(&p.in, copy, (size_t)lens[order[i]], &inner, &inner_len,
					   &nh), ESP_OK);
	}
	for (int i = 0; i < 5; i++) {
		memcpy(copy, pkts[i], (size_t)lens[i]);
		assert_int_equal(esp_decap(&p.in, copy, (size_t)lens[i], &inner, &inner_len, &nh),
				 ESP_ERR_REPLAY);
		assert_int_equal(p.in.last_seq, (uint64_t)i + 1);
	}
	pair_free(&p);
}

static void test_ivs(void **state)
{
	uint8_t iv1[16], iv2[16], iv3[16];
	struct pair a, b;

	/* AEAD: the explicit IV is the 64-bit sequence number. */
	pair_init(&a, &combos[0], false, false);
	assert_int_equal(esp_crypto_make_iv(a.out.c, UINT64_C(0x0102030405060708), iv1), 0);
	assert_memory_equal(iv1, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	pair_free(&a);
	/* CBC: different per packet and per SA even with the same keys. */
	pair_init(&a, &combos[5], false, false);
	pair_init(&b, &combos[5], false, false);
	assert_int_equal(esp_crypto_make_iv(a.out.c, 1, iv1), 0);
	assert_int_equal(esp_crypto_make_iv(a.out.c, 2, iv2), 0);
	assert_int_equal(esp_crypto_make_iv(b.out.c, 1, iv3), 0);
	assert_memory_not_equal(iv1, iv2, 16);
	assert_memory_not_equal(iv1, iv3, 16);
	pair_free(&a);
	pair_free(&b);
}

static void test_refused_transforms(void **state)
{
	uint8_t k[64] = { 0 };
	char err[128];

	assert_null(esp_crypto_new(ESP_ENCR_AES_CBC, k, 16, ESP_INTEG_NONE, NULL, 0, err,
				   sizeof(err)));
	assert_non_null(strstr(err, "without integrity"));
	assert_null(esp_crypto_new(ESP_ENCR_AES_GCM_16, k, 20, ESP_INTEG_HMAC_SHA1_96, k, 20,
				   err, sizeof(err)));
	assert_null(esp_crypto_new(ESP_ENCR_AES_GCM_16, k, 16, ESP_INTEG_NONE, NULL, 0, err,
				   sizeof(err)));	/* no salt */
	assert_null(esp_crypto_new(ESP_ENCR_AES_GCM_16, k, 3, ESP_INTEG_NONE, NULL, 0, err,
				   sizeof(err)));
	assert_null(esp_crypto_new(ESP_ENCR_CHACHA20_POLY1305, k, 32, ESP_INTEG_NONE, NULL, 0,
				   err, sizeof(err)));
	assert_null(esp_crypto_new(ESP_ENCR_AES_CBC, k, 17, ESP_INTEG_HMAC_SHA1_96, k, 20, err,
				   sizeof(err)));
	assert_null(esp_crypto_new(ESP_ENCR_AES_CBC, k, 16, ESP_INTEG_HMAC_SHA2_256_128, k, 20,
				   err, sizeof(err)));
	assert_null(esp_crypto_new(ESP_ENCR_3DES_CBC, k, 16, ESP_INTEG_HMAC_SHA1_96, k, 20, err,
				   sizeof(err)));
}

static void test_sadb_mapping(void **state)
{
	enum esp_cipher c;
	enum esp_integ i;

	assert_true(esp_cipher_from_sadb(20, &c));
	assert_int_equal(c, ESP_ENCR_AES_GCM_16);
	assert_true(esp_cipher_from_sadb(12, &c));
	assert_int_equal(c, ESP_ENCR_AES_CBC);
	assert_true(esp_cipher_from_sadb(ESP_SADB_X_EALG_CHACHA20_POLY1305, &c));
	assert_int_equal(c, ESP_ENCR_CHACHA20_POLY1305);
	assert_false(esp_cipher_from_sadb(11, &c));	/* NULL encryption */
	assert_false(esp_cipher_from_sadb(18, &c));	/* GCM with an 8-byte ICV */
	assert_true(esp_integ_from_sadb(3, &i));
	assert_int_equal(i, ESP_INTEG_HMAC_SHA1_96);
	assert_true(esp_integ_from_sadb(5, &i));
	assert_int_equal(i, ESP_INTEG_HMAC_SHA2_256_128);
	assert_true(esp_integ_from_sadb(6, &i));
	assert_int_equal(i, ESP_INTEG_HMAC_SHA2_384_192);
	assert_true(esp_integ_from_sadb(7, &i));
	assert_int_equal(i, ESP_INTEG_HMAC_SHA2_512_256);
	assert_false(esp_integ_from_sadb(9, &i));	/* AES-XCBC */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aead_kat_decap),
		cmocka_unit_test(test_aead_kat_seal),
		cmocka_unit_test(test_aead_kat_seal_openssl_only),
		cmocka_unit_test(test_aead_gcrypt_default),
		cmocka_unit_test(test_aead_backends_agree),
		cmocka_unit_test(test_aead_open_fixed_agrees),
		cmocka_unit_test(test_cbc_kat_encrypt),
		cmocka_unit_test(test_cbc_kat_decap),
		cmocka_unit_test(test_hmac_kats),
		cmocka_unit_test(test_round_trip_all_combinations),
		cmocka_unit_test(test_encap_in_place),
		cmocka_unit_test(test_encap_capacity_and_overflow),
		cmocka_unit_test(test_esn_wrap_through_decap),
		cmocka_unit_test(test_esn_high_bits_authenticated),
		cmocka_unit_test(test_tamper_every_byte_rejected),
		cmocka_unit_test(test_bad_padding_rejected),
		cmocka_unit_test(test_next_header_checks),
		cmocka_unit_test(test_truncated_rejected),
		cmocka_unit_test(test_replay_through_decap),
		cmocka_unit_test(test_ivs),
		cmocka_unit_test(test_refused_transforms),
		cmocka_unit_test(test_sadb_mapping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
