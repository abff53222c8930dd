/* ike/ crypto: PRF known answers, prf+ and key derivation against an independent
 * HMAC loop, DH known answers and peer validation, SK payload round trips, tamper
 * detection and the RFC 7634 IKEv2 example, PSK AUTH and NAT-D. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ike/ike_crypto.h"
#include "ike/proposal.h"
#include "lib/addr.h"
#include "lib/buf.h"

/* --- helpers ------------------------------------------------------------------------ */

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (s[0] && s[1]) {
		unsigned int v;
		if (sscanf(s, "%2x", &v) != 1)
			fail_msg("bad hex");
		if (n >= max)
			fail_msg("hex too long");
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

#define HEX(name, str) uint8_t name[1024]; size_t name##_len = unhex((str), name, sizeof(name))

static void assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	HEX(want, want_hex);
	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, len);
}

/* The reference: OpenSSL's one-shot HMAC, independent of ike/'s EVP_MAC code. */
static const EVP_MD *md_for_prf(uint16_t prf)
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

static size_t ref_hmac(uint16_t prf, const uint8_t *key, size_t keylen, const uint8_t *d,
		       size_t dlen, uint8_t *out)
{
	unsigned int len = 0;
	static const uint8_t zero;
	assert_non_null(HMAC(md_for_prf(prf), keylen ? key : &zero, (int)keylen, d, dlen,
			     out, &len));
	return len;
}

/* prf+ written the obvious way: T1 = prf(K, S|1), Tn = prf(K, Tn-1|S|n). */
static void ref_prf_plus(uint16_t prf, const uint8_t *key, size_t keylen, const uint8_t *s,
			 size_t slen, uint8_t *out, size_t outlen)
{
	uint8_t t[64], in[64 + 2048 + 1];
	size_t tlen = 0, done = 0;
	for (unsigned int n = 1; done < outlen; n++) {
		size_t inlen = 0;
		memcpy(in, t, tlen);
		inlen += tlen;
		memcpy(in + inlen, s, slen);
		inlen += slen;
		in[inlen++] = (uint8_t)n;
		tlen = ref_hmac(prf, key, keylen, in, inlen, t);
		size_t take = outlen - done < tlen ? outlen - done : tlen;
		memcpy(out + done, t, take);
		done += take;
	}
}

/* --- PRF ------------------------------------------------------------------------------ */

static void test_prf_known_answers(void **state)
{
	uint8_t out[64], key20[20], key131[131], data50[50];
	memset(key20, 0x0b, sizeof(key20));
	const uint8_t *hi = (const uint8_t *)"Hi There";
	const uint8_t *jefe = (const uint8_t *)"Jefe";
	const uint8_t *what = (const uint8_t *)"what do ya want for nothing?";

	/* RFC 2202 */
	assert_int_equal(prf_compute(PRF_HMAC_SHA1, key20, 20, hi, 8, out), 0);
	assert_hex(out, 20, "b617318655057264e28bc0b6fb378c8ef146be00");
	assert_int_equal(prf_compute(PRF_HMAC_SHA1, jefe, 4, what, 28, out), 0);
	assert_hex(out, 20, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	assert_int_equal(prf_compute(PRF_HMAC_MD5, jefe, 4, what, 28, out), 0);
	assert_hex(out, 16, "750c783e6ab0b503eaa86e310a5db738");
	/* RFC 4231 test cases 1 and 2 */
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_256, key20, 20, hi, 8, out), 0);
	assert_hex(out, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_384, key20, 20, hi, 8, out), 0);
	assert_hex(out, 48, "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
			    "faea9ea9076ede7f4af152e8b2fa9cb6");
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_512, key20, 20, hi, 8, out), 0);
	assert_hex(out, 64, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
			    "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_256, jefe, 4, what, 28, out), 0);
	assert_hex(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* RFC 4231 test case 6: a key longer than the block size is hashed first */
	memset(key131, 0xaa, sizeof(key131));
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_256, key131, 131, (const uint8_t *)
				     "Test Using Larger Than Block-Size Key - Hash Key First",
				     54, out), 0);
	assert_hex(out, 32, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	/* RFC 4231 test case 3 */
	memset(key20, 0xaa, sizeof(key20));
	memset(data50, 0xdd, sizeof(data50));
	assert_int_equal(prf_compute(PRF_HMAC_SHA2_256, key20, 20, data50, 50, out), 0);
	assert_hex(out, 32, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

	assert_int_equal(prf_out_len(PRF_HMAC_SHA1), 20);
	assert_int_equal(prf_out_len(PRF_HMAC_SHA2_384), 48);
	assert_int_equal(prf_out_len(99), 0);
	assert_int_equal(prf_compute(99, key20, 20, hi, 8, out), -1);
}

static void test_prf_plus(void **state)
{
	uint8_t key[32], seed[40], got[200], want[200];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(0xa0 + i);

	/* a short case by hand: 80 bytes of SHA-256 prf+ = T1 | T2 | T3[0..16) */
	uint8_t t1[32], t2[32], t3[32], in[32 + 40 + 1];
	memcpy(in, seed, 40);
	in[40] = 1;
	ref_hmac(PRF_HMAC_SHA2_256, key, 32, in, 41, t1);
	memcpy(in, t1, 32);
	memcpy(in + 32, seed, 40);
	in[72] = 2;
	ref_hmac(PRF_HMAC_SHA2_256, key, 32, in, 73, t2);
	memcpy(in, t2, 32);
	in[72] = 3;
	ref_hmac(PRF_HMAC_SHA2_256, key, 32, in, 73, t3);
	assert_int_equal(prf_plus(PRF_HMAC_SHA2_256, key, 32, seed, 40, got, 80), 0);
	assert_memory_equal(got, t1, 32);
	assert_memory_equal(got + 32, t2, 32);
	assert_memory_equal(got + 64, t3, 16);

	/* the other PRFs against the reference loop */
	uint16_t prfs[] = { PRF_HMAC_MD5, PRF_HMAC_SHA1, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512 };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(prf_plus(prfs[i], key, 20, seed, 40, got, 200), 0);
		ref_prf_plus(prfs[i], key, 20, seed, 40, want, 200);
		assert_memory_equal(got, want, 200);
	}
	/* the one-octet counter limits the output to 255 blocks */
	uint8_t *big = malloc(256 * 20);
	assert_int_equal(prf_plus(PRF_HMAC_SHA1, key, 20, seed, 40, big, 255 * 20), 0);
	assert_int_equal(prf_plus(PRF_HMAC_SHA1, key, 20, seed, 40, big, 255 * 20 + 1), -1);
	free(big);
}

/* --- IKE and child SA keys ---------------------------------------------------------- */

static const uint8_t spi_i[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t spi_r[8] = { 9, 10, 11, 12, 13, 14, 15, 16 };

static void fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + 7 * i);
}

/* Derives with ike_derive_keys and checks every key against the reference. */
static void check_ike_keys(uint16_t encr, uint16_t keylen, uint16_t integ, uint16_t prf,
			   size_t ek, size_t ak)
{
	uint8_t gir[256], ni[32], nr[48], skeyseed[64], nonces[80], seed[96], km[1024];
	struct ike_keys k;
	fill(gir, sizeof(gir), 3);
	fill(ni, sizeof(ni), 100);
	fill(nr, sizeof(nr), 200);
	assert_int_equal(ike_derive_keys(&k, encr, keylen, integ, prf, gir, sizeof(gir),
					 ni, sizeof(ni), nr, sizeof(nr), spi_i, spi_r, NULL, 0), 0);
	size_t p = prf_out_len(prf);
	assert_int_equal(k.prf_len, p);
	assert_int_equal(k.ek_len, ek);
	assert_int_equal(k.ak_len, ak);

	memcpy(nonces, ni, 32);
	memcpy(nonces + 32, nr, 48);
	ref_hmac(prf, nonces, 80, gir, sizeof(gir), skeyseed);
	memcpy(seed, nonces, 80);
	memcpy(seed + 80, spi_i, 8);
	memcpy(seed + 88, spi_r, 8);
	ref_prf_plus(prf, skeyseed, p, seed, 96, km, 3 * p + 2 * ak + 2 * ek);
	size_t off = 0;
	assert_memory_equal(k.sk_d, km + off, p); off += p;
	if (ak) {
		assert_memory_equal(k.sk_ai, km + off, ak); off += ak;
		assert_memory_equal(k.sk_ar, km + off, ak); off += ak;
	}
	assert_memory_equal(k.sk_ei, km + off, ek); off += ek;
	assert_memory_equal(k.sk_er, km + off, ek); off += ek;
	assert_memory_equal(k.sk_pi, km + off, p); off += p;
	assert_memory_equal(k.sk_pr, km + off, p);
	ike_keys_wipe(&k);
	uint8_t zero[sizeof(k)];
	memset(zero, 0, sizeof(zero));
	assert_memory_equal(&k, zero, sizeof(k));
}

static void test_ike_derive_keys(void **state)
{
	check_ike_keys(ENCR_AES_CBC, 256, INTEG_HMAC_SHA2_256_128, PRF_HMAC_SHA2_256, 32, 32);
	check_ike_keys(ENCR_AES_CBC, 128, INTEG_HMAC_SHA1_96, PRF_HMAC_SHA1, 16, 20);
	check_ike_keys(ENCR_AES_CBC, 192, INTEG_HMAC_SHA2_512_256, PRF_HMAC_SHA2_512, 24, 64);
	check_ike_keys(ENCR_3DES, 0, INTEG_HMAC_MD5_96, PRF_HMAC_MD5, 24, 16);
	/* AEAD: key + 4-byte salt, no integrity keys */
	check_ike_keys(ENCR_AES_GCM_16, 256, INTEG_NONE, PRF_HMAC_SHA2_384, 36, 0);
	check_ike_keys(ENCR_AES_GCM_16, 128, INTEG_NONE, PRF_HMAC_SHA2_256, 20, 0);
	check_ike_keys(ENCR_CHACHA20_POLY1305, 0, INTEG_NONE, PRF_HMAC_SHA2_256, 36, 0);

	/* unsupported or inconsistent transforms fail */
	struct ike_keys k;
	uint8_t g[32] = { 1 }, n[16] = { 2 };
	assert_int_equal(ike_derive_keys(&k, ENCR_AES_CBC, 100, INTEG_HMAC_SHA1_96,
					 PRF_HMAC_SHA1, g, 32, n, 16, n, 16, spi_i, spi_r,
					 NULL, 0), -1);
	assert_int_equal(ike_derive_keys(&k, ENCR_AES_CBC, 128, INTEG_NONE, PRF_HMAC_SHA1,
					 g, 32, n, 16, n, 16, spi_i, spi_r, NULL, 0), -1);
	assert_int_equal(ike_derive_keys(&k, ENCR_AES_CBC, 128, INTEG_HMAC_SHA1_96, 99,
					 g, 32, n, 16, n, 16, spi_i, spi_r, NULL, 0), -1);
}

static void test_ike_rekey_keys(void **state)
{
	uint8_t gir[32], ni[32], nr[32], old_sk_d[20], in[96], skeyseed[32];
	uint8_t seed[80], km[512];
	struct ike_keys k;
	fill(gir, 32, 1);
	fill(ni, 32, 2);
	fill(nr, 32, 3);
	fill(old_sk_d, 20, 4);
	/* old SA: PRF-HMAC-SHA1; new SA: PRF-HMAC-SHA2-256 (RFC 7296 2.18) */
	assert_int_equal(ike_derive_rekey_keys(&k, ENCR_AES_GCM_16, 128, 0, PRF_HMAC_SHA2_256,
					       PRF_HMAC_SHA1, gir, 32, ni, 32, nr, 32,
					       spi_i, spi_r, old_sk_d, 20), 0);
	memcpy(in, gir, 32);
	memcpy(in + 32, ni, 32);
	memcpy(in + 64, nr, 32);
	uint8_t sha1_seed[20];
	ref_hmac(PRF_HMAC_SHA1, old_sk_d, 20, in, 96, sha1_seed);
	memcpy(seed, ni, 32);
	memcpy(seed + 32, nr, 32);
	memcpy(seed + 64, spi_i, 8);
	memcpy(seed + 72, spi_r, 8);
	ref_prf_plus(PRF_HMAC_SHA2_256, sha1_seed, 20, seed, 80, km, 3 * 32 + 2 * 20);
	assert_memory_equal(k.sk_d, km, 32);
	assert_memory_equal(k.sk_ei, km + 32, 20);
	assert_memory_equal(k.sk_pr, km + 32 + 40 + 32, 32);
	ike_keys_wipe(&k);

	/* the header's ike_derive_keys(old_sk_d) uses the same PRF for both */
	assert_int_equal(ike_derive_keys(&k, ENCR_AES_GCM_16, 128, 0, PRF_HMAC_SHA2_256,
					 gir, 32, ni, 32, nr, 32, spi_i, spi_r, old_sk_d, 20), 0);
	ref_hmac(PRF_HMAC_SHA2_256, old_sk_d, 20, in, 96, skeyseed);
	ref_prf_plus(PRF_HMAC_SHA2_256, skeyseed, 32, seed, 80, km, 32);
	assert_memory_equal(k.sk_d, km, 32);
	ike_keys_wipe(&k);
}

static void test_child_keys(void **state)
{
	uint8_t sk_d[32], gir[128], ni[32], nr[32], seed[192], km[256];
	uint8_t ei[36], ai[32], er[36], ar[32];
	fill(sk_d, 32, 9);
	fill(gir, 128, 8);
	fill(ni, 32, 7);
	fill(nr, 32, 6);

	/* no PFS: KEYMAT = prf+(SK_d, Ni | Nr); AES-CBC-128 + SHA2-256 */
	assert_int_equal(child_derive_keys(PRF_HMAC_SHA2_256, sk_d, 32, NULL, 0, ni, 32, nr, 32,
					   16, 32, ei, ai, er, ar), 0);
	memcpy(seed, ni, 32);
	memcpy(seed + 32, nr, 32);
	ref_prf_plus(PRF_HMAC_SHA2_256, sk_d, 32, seed, 64, km, 96);
	assert_memory_equal(ei, km, 16);
	assert_memory_equal(ai, km + 16, 32);
	assert_memory_equal(er, km + 48, 16);
	assert_memory_equal(ar, km + 64, 32);

	/* PFS: KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr); AES-GCM-256 (36 bytes, no integ) */
	assert_int_equal(child_derive_keys(PRF_HMAC_SHA2_256, sk_d, 32, gir, 128, ni, 32, nr,
					   32, 36, 0, ei, NULL, er, NULL), 0);
	memcpy(seed, gir, 128);
	memcpy(seed + 128, ni, 32);
	memcpy(seed + 160, nr, 32);
	ref_prf_plus(PRF_HMAC_SHA2_256, sk_d, 32, seed, 192, km, 72);
	assert_memory_equal(ei, km, 36);
	assert_memory_equal(er, km + 36, 36);
}

/* --- Diffie-Hellman ----------------------------------------------------------------- */

/* Vectors from strongSwan's test_vectors plugin: the ECP ones are RFC 5114's (P-256,
 * P-384), the MODP 1024 one was generated there; X25519 is RFC 7748 section 6.1. */
static const char ecp256_priv_i[] =
	"814264145f2f56f2e96a8e337a1284993faf432a5abce59e867b7291d507a3af"
	;
static const char ecp256_priv_r[] =
	"2ce1788ec197e096db95a200cc0ab26a19ce6bccad562b8eee1b593761cf7f41"
	;
static const char ecp256_pub_i[] =
	"2af502f3be8952f2c9b5a8d4160d09e97165be50bc42ae4a5e8d3b4ba83aeb15"
	"eb0faf4ca986c4d38681a0f9872d79d56795bd4bff6e6de3c0f5015ece5efd85"
	;
static const char ecp256_pub_r[] =
	"b120de4aa36492795346e8de6c2c8646ae06aaea279fa775b3ab0715f6ce51b0"
	"9f1b7eece20d7b5ed8ec685fa3f071d83727027092a8411385c34dde5708b2b6"
	;
static const char ecp256_shared[] =
	"dd0f5396219d1ea393310412d19a08f1f5811e9dc8ec8eea7f80d21c820c2788"
	;
static const char ecp384_priv_i[] =
	"d27335ea71664af244dd14e9fd1260715dfd8a7965571c48d709ee7a7962a156"
	"d706a90cbcb5df2986f05feadb9376f1"
	;
static const char ecp384_priv_r[] =
	"52d1791fdb4b70f89c0f00d456c2f7023b6125262c36a7df1f80231121cce3d3"
	"9be52e00c194a4132c4a6c768bcd94d2"
	;
static const char ecp384_pub_i[] =
	"793148f1787634d5da4c6d9074417d05e057ab62f82054d10ee6b0403d627954"
	"7e6a8ea9d1fd77427d016fe27a8b8c66c6c41294331d23e6f480f4fb4cd40504"
	"c947392e94f4c3f06b8f398bb29e42368f7a685923de3b67baced214a1a1d128"
	;
static const char ecp384_pub_r[] =
	"5cd42ab9c41b5347f74b8d4efb708b3d5b36db65915359b44abc17647b6b9999"
	"789d72a84865ae2f223f12b5a1abc120e171458feaa939aaa3a8bfac46b404bd"
	"8f6d5b348c0fa4d80ceca16356ca933240bde8723415a8ece035b0edf36755de"
	;
static const char ecp384_shared[] =
	"5ea1fc4af7256d2055981b110575e0a8cae53160137d904c59d926eb1b8456e4"
	"27aa8a4540884c37de159a58028abc0e"
	;
static const char modp1024_priv_i[] =
	"e53c205da0d8e4bfb4174944320fc6e4ea66fe44e3c931ac5da1450aea47ebcf"
	;
static const char modp1024_priv_r[] =
	"7f9af721eb7cd2a900a36e399ebc5c65eecce6629c8e1c5a7ff33293645fd3e3"
	;
static const char modp1024_pub_i[] =
	"66617c9bbe91ee9900d806415b7384ecb0b6b80a39bd5b070396ee32375a8f68"
	"376b352b97baf32f95c4d18c06ab96bfe3f3752df1e3c55741b6f4244117eebd"
	"a1015983c6ba008fe89fe51cf4c9692592ebf742436c393df61a60ccc64fd790"
	"7a6d26267c0f1556230c3e332b2e11d118a6982589793a2f6d66b86676bae47a"
	;
static const char modp1024_pub_r[] =
	"7b9010609ebf2c497017458afaab4202885d25de7b5e5ce9b05bd442a3e97b52"
	"cea760d7dbcb21dd71d80cd4347caa9edfbc2df4c1cdc1669b8ad244eb345b33"
	"1d875492883df04a3d0b1a8b8927d50991fe03e7357eb6bdfce3d8c684c9861b"
	"c5ce03962ffb87bf05dabd5a3727994ddee5d3c6ecc589859991b93255761fd5"
	;
static const char modp1024_shared[] =
	"95790f5c46ae7ca1a471dd786aa8e444073ecec9695d004620cd7c9d3609a697"
	"3c89a230750935638b86d1e65b27b7848881f9013abd036280d1862bb03ca60b"
	"a90b70f9ae7edf71ff80f5a7eefbe26729b5bbb1bb1feb0d240e53c9d74b4fe9"
	"d262b53bd5d8a7383f90f01e359647d04802d74a4f753b294a96503f2605d3f1"
	;
/* MODP 1536 (RFC 3526 group 5, legacy: only when configured): privates from SHA-256 of
 * fixed strings, the rest by Python's pow() over the RFC's prime. */
static const char modp1536_priv_i[] =
	"33834b73d6e32f8aebd5d95e8c4949a0f293f6d72f48f1079e93904c7281220b"
	;
static const char modp1536_priv_r[] =
	"78ca7979f9c49ce1faa0146e2f2f8fe333bcf549e7b211edbc89f7529c36ced2"
	;
static const char modp1536_pub_i[] =
	"a0f8660ad86eba2b25cd7a285d87be3c30e0b42ec32b835ae3801379276412a2"
	"f0f875e96cdae37439830e8917680e739b40a9cc7ea86b517985f8af7b4c1dac"
	"a8376711995498ca3172a841f8ee9bc4c3f3a8d2cfd308c37351aead31a53c91"
	"c656e3dffb1a380d681f07b0a9247c3b85aa436da1ed184561ef97d260a7d739"
	"72ee76146df85eddb72d595b780656cbf9fe22f13cf2dfd46a24031dd58248ac"
	"187d470e65ce1ce8686e5c105389599c9d4dbed9bf77b6402bd888c722b4d53b"
	;
static const char modp1536_pub_r[] =
	"396a288347bae37db31e64c2e5664973c1143f8bedcf98f8ec95d9c81686741c"
	"3fd1999014ce3a0526bdbb2c8d2103c7fc24b8c51417f6fead004fb4214158e9"
	"b0c35559cb1b345c02cde5044010035e9baa262167e62338080d6bc9ddc080f8"
	"30965a76997ec56090d673deeec0237c4df8ee9fdcf58651db7f76cb4b2a2ac1"
	"a82686f5383d9c91b3209db3900d131b033a3d9232d7993062423db5860d4c4b"
	"ee2050f3c779e1bd595315032f246f87a6e5cc838f8611e27499f29bfad8ca95"
	;
static const char modp1536_shared[] =
	"c347c74b5e0de6b5fdddb23a302722d3c01b8d3a393e83f795cdc6d639f9c989"
	"7310531368746e3c6fa9cb5d622a15d8d6e22badffecbfedad7e23058513250e"
	"b51fa1d88db85774ce22939f0cce1f22ce9eed40e6a7c39210e0165cadcb47d8"
	"ea23f5d2c2cdacf45f5d2ed64a8032cb68ec1d430242a9703a33e95bddbf8dbd"
	"31a24c6b4cd60e40fdf4a7c9689d9feb08787a9480fcb67cc9c35250590da310"
	"0419c53abeaf4a4e6d25752afe03900e02beaab3a13b26f1b5333b06837f58b2"
	;
static const char x25519_priv_i[] =
	"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char x25519_priv_r[] =
	"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char x25519_pub_i[] =
	"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char x25519_pub_r[] =
	"de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char x25519_shared[] =
	"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

static void dh_kat(uint16_t group, const char *priv_i_hex, const char *priv_r_hex,
		   const char *pub_i_hex, const char *pub_r_hex, const char *shared_hex)
{
	HEX(priv_i, priv_i_hex);
	HEX(priv_r, priv_r_hex);
	HEX(pub_r, pub_r_hex);
	struct dh *a = dh_new_from_private(group, priv_i, priv_i_len);
	struct dh *b = dh_new_from_private(group, priv_r, priv_r_len);
	struct buf pa, pb, sa, sb;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(dh_group(a), group);
	buf_init(&pa); buf_init(&pb); buf_init(&sa); buf_init(&sb);
	assert_int_equal(dh_public(a, &pa), 0);
	assert_int_equal(dh_public(b, &pb), 0);
	assert_int_equal(pa.len, dh_public_len(group));
	assert_hex(pa.data, pa.len, pub_i_hex);
	assert_hex(pb.data, pb.len, pub_r_hex);
	assert_int_equal(dh_shared(a, pub_r, pub_r_len, &sa), 0);
	assert_hex(sa.data, sa.len, shared_hex);
	assert_int_equal(dh_shared(b, pa.data, pa.len, &sb), 0);
	assert_hex(sb.data, sb.len, shared_hex);
	buf_free(&pa); buf_free(&pb); buf_wipe_free(&sa); buf_wipe_free(&sb);
	dh_free(a);
	dh_free(b);
}

static void test_dh_known_answers(void **state)
{
	dh_kat(DH_ECP256, ecp256_priv_i, ecp256_priv_r, ecp256_pub_i, ecp256_pub_r,
	       ecp256_shared);
	dh_kat(DH_ECP384, ecp384_priv_i, ecp384_priv_r, ecp384_pub_i, ecp384_pub_r,
	       ecp384_shared);
	dh_kat(DH_MODP1024, modp1024_priv_i, modp1024_priv_r, modp1024_pub_i, modp1024_pub_r,
	       modp1024_shared);
	dh_kat(DH_MODP1536, modp1536_priv_i, modp1536_priv_r, modp1536_pub_i, modp1536_pub_r,
	       modp1536_shared);
	dh_kat(DH_CURVE25519, x25519_priv_i, x25519_priv_r, x25519_pub_i, x25519_pub_r,
	       x25519_shared);
}

static void test_dh_agreement(void **state)
{
	static const uint16_t groups[] = {
		DH_MODP1024, DH_MODP1536, DH_MODP2048, DH_MODP3072, DH_MODP4096, DH_MODP6144,
		DH_MODP8192, DH_ECP256, DH_ECP384, DH_ECP521, DH_CURVE25519,
	};
	static const size_t lens[] = { 128, 192, 256, 384, 512, 768, 1024, 64, 96, 132, 32 };
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		struct dh *a = dh_new(groups[i]), *b = dh_new(groups[i]);
		struct buf pa, pb, sa, sb;
		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(dh_public_len(groups[i]), lens[i]);
		buf_init(&pa); buf_init(&pb); buf_init(&sa); buf_init(&sb);
		assert_int_equal(dh_public(a, &pa), 0);
		assert_int_equal(dh_public(b, &pb), 0);
		assert_int_equal(pa.len, lens[i]);
		assert_int_equal(pb.len, lens[i]);
		assert_int_equal(dh_shared(a, pb.data, pb.len, &sa), 0);
		assert_int_equal(dh_shared(b, pa.data, pa.len, &sb), 0);
		assert_int_equal(sa.len, sb.len);
		assert_memory_equal(sa.data, sb.data, sa.len);
		/* the shared secret is as long as the modulus / the field (x only) */
		assert_int_equal(sa.len, groups[i] >= DH_ECP256 && groups[i] <= DH_ECP521 ?
				 lens[i] / 2 : lens[i]);
		buf_free(&pa); buf_free(&pb); buf_wipe_free(&sa); buf_wipe_free(&sb);
		dh_free(a);
		dh_free(b);
	}
	assert_null(dh_new(DH_NONE));
	assert_null(dh_new(22));
	assert_int_equal(dh_public_len(22), 0);
}

static void expect_rejected(struct dh *dh, const uint8_t *peer, size_t len)
{
	struct buf s;
	buf_init(&s);
	assert_int_equal(dh_shared(dh, peer, len, &s), -1);
	assert_int_equal(s.len, 0);
	buf_free(&s);
}

static void test_dh_invalid_peers(void **state)
{
	uint8_t v[1024];

	/* MODP 2048: 0, 1, p-1, p, 2^2048-1, and wrong lengths */
	struct dh *m = dh_new(DH_MODP2048);
	struct buf p;
	buf_init(&p);
	assert_non_null(m);
	memset(v, 0, 256);
	expect_rejected(m, v, 256);
	v[255] = 1;
	expect_rejected(m, v, 256);
	memset(v, 0xff, 256);		/* 2^2048-1 > p */
	expect_rejected(m, v, 256);
	/* a valid value of the wrong length */
	struct dh *other = dh_new(DH_MODP2048);
	assert_int_equal(dh_public(other, &p), 0);
	dh_free(other);
	expect_rejected(m, p.data, 255);
	expect_rejected(m, p.data, 257);
	expect_rejected(m, NULL, 0);
	buf_free(&p);
	dh_free(m);

	/* MODP 1024 with its prime spelled out: p and p-1 exactly */
	static const char p1024[] =
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";
	m = dh_new(DH_MODP1024);
	size_t n = unhex(p1024, v, sizeof(v));
	assert_int_equal(n, 128);
	expect_rejected(m, v, n);	/* p */
	v[127] = 0xfe;
	expect_rejected(m, v, n);	/* p-1 */
	v[127] = 0xfd;			/* p-2 is a valid (if silly) value */
	struct buf s;
	buf_init(&s);
	assert_int_equal(dh_shared(m, v, n, &s), 0);
	buf_wipe_free(&s);
	dh_free(m);

	/* ECP 256: a point off the curve, zeros, short */
	struct dh *e = dh_new(DH_ECP256), *e2 = dh_new(DH_ECP256);
	buf_init(&p);
	assert_int_equal(dh_public(e2, &p), 0);
	memcpy(v, p.data, 64);
	v[63] ^= 1;
	expect_rejected(e, v, 64);
	memset(v, 0, 64);
	expect_rejected(e, v, 64);
	expect_rejected(e, p.data, 63);
	expect_rejected(e, p.data, 65);
	buf_init(&s);
	assert_int_equal(dh_shared(e, p.data, 64, &s), 0);	/* the untouched one works */
	buf_wipe_free(&s);
	buf_free(&p);
	dh_free(e);
	dh_free(e2);

	/* X25519: low-order points give an all-zero secret; wrong length */
	struct dh *x = dh_new(DH_CURVE25519);
	memset(v, 0, 32);
	expect_rejected(x, v, 32);
	v[0] = 1;
	expect_rejected(x, v, 32);
	HEX(order8, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
	expect_rejected(x, order8, order8_len);
	expect_rejected(x, v, 31);
	dh_free(x);
}

/* --- SK payload -------------------------------------------------------------------- */

struct suite {
	uint16_t encr, keylen, integ;
};

static const struct suite suites[] = {
	{ ENCR_AES_CBC, 128, INTEG_HMAC_SHA1_96 },
	{ ENCR_AES_CBC, 256, INTEG_HMAC_SHA2_256_128 },
	{ ENCR_AES_CBC, 192, INTEG_HMAC_SHA2_384_192 },
	{ ENCR_AES_CBC, 256, INTEG_HMAC_SHA2_512_256 },
	{ ENCR_3DES, 0, INTEG_HMAC_MD5_96 },
	{ ENCR_AES_GCM_16, 128, 0 },
	{ ENCR_AES_GCM_16, 256, 0 },
	{ ENCR_AES_GCM_12, 192, 0 },
	{ ENCR_AES_GCM_8, 256, 0 },
	{ ENCR_CHACHA20_POLY1305, 0, 0 },
};

static void make_keys(struct ike_keys *k, const struct suite *s)
{
	uint8_t g[64], n[32];
	fill(g, 64, 0x11);
	fill(n, 32, 0x22);
	assert_int_equal(ike_derive_keys(k, s->encr, s->keylen, s->integ, PRF_HMAC_SHA2_256,
					 g, 64, n, 32, n, 32, spi_i, spi_r, NULL, 0), 0);
}

/* IKE header + SK header with the final lengths, as the message layer writes them. */
static void start_msg(struct buf *m, const struct ike_keys *k, size_t plain_len)
{
	size_t total = 28 + 4 + plain_len + sk_overhead(k, plain_len);
	buf_init(m);
	buf_put(m, spi_i, 8);
	buf_put(m, spi_r, 8);
	buf_put_u8(m, 46);		/* next payload: SK */
	buf_put_u8(m, 0x20);		/* version 2.0 */
	buf_put_u8(m, 35);		/* IKE_AUTH */
	buf_put_u8(m, 0x08);		/* initiator */
	buf_put_u32(m, 1);
	buf_put_u32(m, (uint32_t)total);
	buf_put_u8(m, 35);		/* first inner payload: IDi */
	buf_put_u8(m, 0);
	buf_put_u16(m, (uint16_t)(total - 28));
}

static void test_sk_round_trips(void **state)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 100, 1000 };
	uint8_t plain[1000];
	fill(plain, sizeof(plain), 0x5a);

	for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
		struct ike_keys k;
		make_keys(&k, &suites[si]);
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			size_t len = lens[li];
			struct buf m, out;
			start_msg(&m, &k, len);
			assert_int_equal(sk_encrypt(&k, true, &m, plain, len), 0);
			assert_int_equal(m.len, get_u32(m.data + 24));
			/* plaintext does not appear in the message */
			if (len >= 16)
				assert_null(memmem(m.data, m.len, plain, 16));
			buf_init(&out);
			assert_int_equal(sk_decrypt(&k, true, m.data, m.len, 28, &out), 0);
			assert_int_equal(out.len, len);
			if (len)
				assert_memory_equal(out.data, plain, len);
			buf_reset(&out);
			/* the other direction's keys do not open it */
			assert_int_equal(sk_decrypt(&k, false, m.data, m.len, 28, &out), -1);
			assert_int_equal(out.len, 0);
			buf_free(&out);
			buf_free(&m);
		}
		ike_keys_wipe(&k);
	}
}

static void test_sk_tampering(void **state)
{
	uint8_t plain[40];
	fill(plain, sizeof(plain), 1);
	for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
		struct ike_keys k;
		struct buf m, out;
		make_keys(&k, &suites[si]);
		start_msg(&m, &k, sizeof(plain));
		assert_int_equal(sk_encrypt(&k, false, &m, plain, sizeof(plain)), 0);
		buf_init(&out);
		/* every single flipped bit, in header, IV, ciphertext or ICV, is caught */
		for (size_t i = 0; i < m.len; i++) {
			if (i == 30 || i == 31 || (i >= 24 && i < 28))
				continue;	/* lengths: checked separately below */
			m.data[i] ^= 0x10;
			assert_int_equal(sk_decrypt(&k, false, m.data, m.len, 28, &out), -1);
			m.data[i] ^= 0x10;
		}
		assert_int_equal(out.len, 0);
		/* truncated: a message shorter than the SK length says */
		assert_int_equal(sk_decrypt(&k, false, m.data, m.len - 1, 28, &out), -1);
		/* truncated consistently (SK length adjusted): the ICV no longer fits */
		put_u16(m.data + 30, (uint16_t)(get_u16(m.data + 30) - 1));
		assert_int_equal(sk_decrypt(&k, false, m.data, m.len - 1, 28, &out), -1);
		put_u16(m.data + 30, (uint16_t)(get_u16(m.data + 30) + 1));
		/* SK payload too short for IV and ICV, or beyond the message */
		assert_int_equal(sk_decrypt(&k, false, m.data, 40, 28, &out), -1);
		assert_int_equal(sk_decrypt(&k, false, m.data, m.len, m.len - 2, &out), -1);
		assert_int_equal(sk_decrypt(&k, false, m.data, m.len, m.len + 1, &out), -1);
		assert_int_equal(sk_decrypt(&k, false, m.data, m.len, 10, &out), -1);
		assert_int_equal(out.len, 0);
		/* the untouched message still opens */
		assert_int_equal(sk_decrypt(&k, false, m.data, m.len, 28, &out), 0);
		assert_int_equal(out.len, sizeof(plain));
		buf_free(&out);
		buf_free(&m);

		/* sk_encrypt refuses headers whose lengths do not match */
		start_msg(&m, &k, sizeof(plain));
		put_u32(m.data + 24, get_u32(m.data + 24) + 1);
		assert_int_equal(sk_encrypt(&k, true, &m, plain, sizeof(plain)), -1);
		buf_free(&m);
		start_msg(&m, &k, sizeof(plain));
		put_u16(m.data + 30, 4);
		assert_int_equal(sk_encrypt(&k, true, &m, plain, sizeof(plain)), -1);
		buf_free(&m);
		ike_keys_wipe(&k);
	}
}

/* RFC 7634 Appendix B: an IKEv2 INFORMATIONAL message with ChaCha20-Poly1305. */
static void test_sk_rfc7634_example(void **state)
{
	HEX(key, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		 "a0a1a2a3");
	HEX(msg, "c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d72e20250000000009000000452900002"
		 "9" "1011121314151617"
		 "610394701f8d017f7c129248896b71bfe25236efd7cdc670669063"
		 "15b2");
	struct ike_keys k;
	uint8_t sk_er[IKE_MAX_KEY + 4];
	struct buf out;
	memset(&k, 0, sizeof(k));
	k.encr = ENCR_CHACHA20_POLY1305;
	k.ek_len = key_len;
	k.sk_er = sk_er;
	memcpy(k.sk_er, key, key_len);
	assert_int_equal(msg_len, 69);
	buf_init(&out);
	/* the I flag is clear: the responder sent it */
	assert_int_equal(sk_decrypt(&k, false, msg, msg_len, 28, &out), 0);
	assert_hex(out.data, out.len, "0000000c000040010000000a");
	buf_reset(&out);
	msg[20] ^= 1;	/* the AAD covers the IKE header */
	assert_int_equal(sk_decrypt(&k, false, msg, msg_len, 28, &out), -1);
	buf_free(&out);
}

static void test_key_sizes(void **state)
{
	assert_int_equal(encr_key_len(ENCR_AES_CBC, 128), 16);
	assert_int_equal(encr_key_len(ENCR_AES_CBC, 256), 32);
	assert_int_equal(encr_key_len(ENCR_AES_CBC, 0), 0);
	assert_int_equal(encr_key_len(ENCR_3DES, 0), 24);
	assert_int_equal(encr_key_len(ENCR_AES_GCM_16, 128), 20);
	assert_int_equal(encr_key_len(ENCR_AES_GCM_8, 256), 36);
	assert_int_equal(encr_key_len(ENCR_CHACHA20_POLY1305, 0), 36);
	assert_int_equal(encr_key_len(ENCR_CHACHA20_POLY1305, 128), 0);
	assert_int_equal(integ_key_len(INTEG_HMAC_SHA1_96), 20);
	assert_int_equal(integ_key_len(INTEG_HMAC_SHA2_384_192), 48);
	assert_int_equal(integ_icv_len(INTEG_HMAC_SHA1_96), 12);
	assert_int_equal(integ_icv_len(INTEG_HMAC_SHA2_256_128), 16);
	assert_int_equal(integ_icv_len(INTEG_HMAC_SHA2_512_256), 32);

	struct ike_keys k;
	const struct suite cbc = { ENCR_AES_CBC, 128, INTEG_HMAC_SHA2_256_128 };
	make_keys(&k, &cbc);
	/* IV 16 + padding to 16 + pad length + ICV 16 */
	assert_int_equal(sk_overhead(&k, 0), 16 + 15 + 1 + 16);
	assert_int_equal(sk_overhead(&k, 15), 16 + 0 + 1 + 16);
	assert_int_equal(sk_overhead(&k, 16), 16 + 15 + 1 + 16);
	ike_keys_wipe(&k);
	const struct suite gcm = { ENCR_AES_GCM_16, 256, 0 };
	make_keys(&k, &gcm);
	assert_int_equal(sk_overhead(&k, 100), 8 + 1 + 16);
	ike_keys_wipe(&k);
}

/* --- AUTH, NAT-D, random ------------------------------------------------------------ */

static void test_psk_auth(void **state)
{
	const uint8_t psk[] = "secret";
	uint8_t msg[300], nonce[32], sk_p[32], id[12], out[64], want[64], inner[32], key[32];
	size_t len = 0;
	fill(msg, sizeof(msg), 1);
	fill(nonce, sizeof(nonce), 2);
	fill(sk_p, sizeof(sk_p), 3);
	memcpy(id, "\x01\x00\x00\x00\xc6\x33\x64\x05", 8);	/* ID_IPV4_ADDR 198.51.100.5 */
	assert_int_equal(ike_psk_auth(PRF_HMAC_SHA2_256, psk, 6, msg, sizeof(msg), nonce, 32,
				      sk_p, 32, id, 8, out, &len), 0);
	assert_int_equal(len, 32);

	/* AUTH = prf(prf(PSK, "Key Pad for IKEv2"), msg | nonce | prf(SK_p, ID)) */
	uint8_t signed_octets[300 + 32 + 32];
	ref_hmac(PRF_HMAC_SHA2_256, sk_p, 32, id, 8, inner);
	ref_hmac(PRF_HMAC_SHA2_256, psk, 6, (const uint8_t *)"Key Pad for IKEv2", 17, key);
	memcpy(signed_octets, msg, 300);
	memcpy(signed_octets + 300, nonce, 32);
	memcpy(signed_octets + 332, inner, 32);
	ref_hmac(PRF_HMAC_SHA2_256, key, 32, signed_octets, sizeof(signed_octets), want);
	assert_memory_equal(out, want, 32);

	/* a different PSK gives a different AUTH */
	assert_int_equal(ike_psk_auth(PRF_HMAC_SHA2_256, (const uint8_t *)"secreT", 6, msg,
				      sizeof(msg), nonce, 32, sk_p, 32, id, 8, out, &len), 0);
	assert_memory_not_equal(out, want, 32);
	assert_int_equal(ike_psk_auth(99, psk, 6, msg, 1, nonce, 1, sk_p, 1, id, 1, out, &len),
			 -1);
}

static void test_natd(void **state)
{
	struct addr a;
	uint8_t got[20], want[20], in[34];
	unsigned int len;

	assert_int_equal(addr_parse("192.0.2.1", &a), 0);
	a.port = 500;
	natd_hash(spi_i, spi_r, &a, got);
	memcpy(in, spi_i, 8);
	memcpy(in + 8, spi_r, 8);
	memcpy(in + 16, "\xc0\x00\x02\x01\x01\xf4", 6);
	EVP_Digest(in, 22, want, &len, EVP_sha1(), NULL);
	assert_memory_equal(got, want, 20);

	assert_int_equal(addr_parse("2001:db8::1", &a), 0);
	a.port = 4500;
	natd_hash(spi_i, spi_r, &a, got);
	memcpy(in + 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x11\x94", 18);
	EVP_Digest(in, 34, want, &len, EVP_sha1(), NULL);
	assert_memory_equal(got, want, 20);
	/* the port is part of it */
	a.port = 4501;
	natd_hash(spi_i, spi_r, &a, got);
	assert_memory_not_equal(got, want, 20);
}

static void test_random(void **state)
{
	uint8_t a[32], b[32], zero[32] = { 0 };
	crypto_random(a, sizeof(a));
	crypto_random(b, sizeof(b));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prf_known_answers),
		cmocka_unit_test(test_prf_plus),
		cmocka_unit_test(test_ike_derive_keys),
		cmocka_unit_test(test_ike_rekey_keys),
		cmocka_unit_test(test_child_keys),
		cmocka_unit_test(test_dh_known_answers),
		cmocka_unit_test(test_dh_agreement),
		cmocka_unit_test(test_dh_invalid_peers),
		cmocka_unit_test(test_sk_round_trips),
		cmocka_unit_test(test_sk_tampering),
		cmocka_unit_test(test_sk_rfc7634_example),
		cmocka_unit_test(test_key_sizes),
		cmocka_unit_test(test_psk_auth),
		cmocka_unit_test(test_natd),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
