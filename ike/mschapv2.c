/* MS-CHAPv2 (RFC 2759 section 8) and MPPE keys (RFC 3079).
 *
 * MD4 and single DES are here because OpenSSL 3 keeps them in its legacy provider
 * only. Loading that provider (even into a private OSSL_LIB_CTX) makes tsunagid
 * depend at run time on ossl-modules/legacy.so, which minimal containers and FIPS
 * configurations leave out, and the failure would only show at the first EAP login.
 * So: MD4 is the 50 lines of RFC 1320 below (checked against its appendix A.5
 * vectors), and single DES is OpenSSL's default-provider 3DES-EDE with K1 = K2 = K3,
 * which is the same cipher (checked against RFC 2759's vectors). */
#include "ike/mschapv2.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/wipe.h"

/* ---- MD4 (RFC 1320) ---- */

static uint32_t rol32(uint32_t x, int s)
{
	return x << s | x >> (32 - s);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void md4_block(uint32_t st[4], const uint8_t blk[64])
{
	static const uint8_t order[3][16] = {
		{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
		{ 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 },
		{ 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15 },
	};
	static const uint8_t shift[3][4] = { { 3, 7, 11, 19 }, { 3, 5, 9, 13 }, { 3, 9, 11, 15 } };
	static const uint32_t add[3] = { 0, 0x5a827999, 0x6ed9eba1 };
	uint32_t x[16], v[4];
	for (int i = 0; i < 16; i++)
		x[i] = le32(blk + 4 * i);
	memcpy(v, st, sizeof(v));
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < 16; i++) {
			/* [abcd k s], [dabc k s], [cdab k s], [bcda k s] */
			int t = (4 - i % 4) % 4;
			uint32_t b = v[(t + 1) % 4], c = v[(t + 2) % 4], d = v[(t + 3) % 4], f;
			if (r == 0)
				f = (b & c) | (~b & d);
			else if (r == 1)
				f = (b & c) | (b & d) | (c & d);
			else
				f = b ^ c ^ d;
			v[t] = rol32(v[t] + f + x[order[r][i]] + add[r], shift[r][i % 4]);
		}
	}
	for (int i = 0; i < 4; i++)
		st[i] += v[i];
	wipe(x, sizeof(x));
	wipe(v, sizeof(v));
}

void md4(const uint8_t *p, size_t len, uint8_t out[16])
{
	uint32_t st[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
	uint8_t tail[128] = { 0 };
	size_t full = len / 64 * 64, rest = len - full;
	for (size_t off = 0; off < full; off += 64)
		md4_block(st, p + off);
	memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	size_t tlen = rest < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	for (int i = 0; i < 8; i++)
		tail[tlen - 8 + i] = (uint8_t)(bits >> (8 * i));
	md4_block(st, tail);
	if (tlen == 128)
		md4_block(st, tail + 64);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(st[i] >> (8 * j));
	wipe(tail, sizeof(tail));
	wipe(st, sizeof(st));
}

/* ---- DES ---- */

/* 56 key bits in 7 bytes -> 8 bytes with (ignored) parity bits (RFC 2759 8.6). */
static void des_key_expand(const uint8_t in[7], uint8_t out[8])
{
	uint8_t next = 0;
	for (int i = 0; i < 7; i++) {
		out[i] = (uint8_t)((in[i] >> i) | next | 1);
		next = (uint8_t)(in[i] << (7 - i));
	}
	out[7] = next | 1;
}

int des_encrypt_block(const uint8_t key7[7], const uint8_t in[8], uint8_t out[8])
{
	uint8_t k[24];
	int n = 0, rc = -1;
	des_key_expand(key7, k);
	memcpy(k + 8, k, 8);
	memcpy(k + 16, k, 8);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx && EVP_EncryptInit_ex(ctx, EVP_des_ede3_ecb(), NULL, k, NULL) == 1 &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 && EVP_EncryptUpdate(ctx, out, &n, in, 8) == 1 &&
	    n == 8)
		rc = 0;
	EVP_CIPHER_CTX_free(ctx);
	wipe(k, sizeof(k));
	return rc;
}

/* ---- SHA-1 over several parts ---- */

struct part {
	const void *p;
	size_t len;
};

static void sha1_parts(const struct part *parts, size_t n, uint8_t out[20])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1;
	for (size_t i = 0; i < n && ok; i++)
		ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) == 1;
	if (!ok || EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		memset(out, 0, 20);	/* only on out of memory; the peer then fails to verify */
	EVP_MD_CTX_free(ctx);
}

/* ---- RFC 2759 ---- */

/* UTF-8 -> UTF-16LE; returns the byte count or -1. */
static int utf16le(const uint8_t *s, size_t len, uint8_t *out, size_t cap)
{
	size_t o = 0, chars = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n;
		if (s[i] < 0x80) {
			cp = s[i];
			n = 1;
		} else if ((s[i] & 0xe0) == 0xc0) {
			cp = s[i] & 0x1f;
			n = 2;
		} else if ((s[i] & 0xf0) == 0xe0) {
			cp = s[i] & 0x0f;
			n = 3;
		} else if ((s[i] & 0xf8) == 0xf0) {
			cp = s[i] & 0x07;
			n = 4;
		} else {
			return -1;
		}
		if (i + n > len)
			return -1;
		for (size_t j = 1; j < n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		i += n;
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		uint16_t u[2];
		size_t nu = 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			u[0] = (uint16_t)(0xd800 | cp >> 10);
			u[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
			nu = 2;
		} else {
			u[0] = (uint16_t)cp;
		}
		if (++chars > MSCHAPV2_MAX_PASSWORD || o + 2 * nu > cap)
			return -1;
		for (size_t j = 0; j < nu; j++) {
			out[o++] = (uint8_t)u[j];
			out[o++] = (uint8_t)(u[j] >> 8);
		}
	}
	return (int)o;
}

int mschapv2_nt_hash(const uint8_t *pw, size_t pw_len, uint8_t out[16])
{
	uint8_t u[4 * MSCHAPV2_MAX_PASSWORD];
	int n = utf16le(pw, pw_len, u, sizeof(u));
	if (n >= 0)
		md4(u, (size_t)n, out);
	wipe(u, sizeof(u));
	return n < 0 ? -1 : 0;
}

void mschapv2_strip_domain(const uint8_t **user, size_t *user_len)
{
	for (size_t i = *user_len; i > 0; i--) {
		if ((*user)[i - 1] == '\\') {
			*user += i;
			*user_len -= i;
			return;
		}
	}
}

void mschapv2_challenge_hash(const uint8_t peer_chal[16], const uint8_t auth_chal[16],
			     const uint8_t *user, size_t user_len, uint8_t out[8])
{
	uint8_t d[20];
	struct part p[] = { { peer_chal, 16 }, { auth_chal, 16 }, { user, user_len } };
	sha1_parts(p, 3, d);
	memcpy(out, d, 8);
}

int mschapv2_nt_response(const uint8_t auth_chal[16], const uint8_t peer_chal[16],
			 const uint8_t *user, size_t user_len, const uint8_t pw_hash[16],
			 uint8_t out[24])
{
	uint8_t chal[8], z[21] = { 0 };
	int rc = 0;
	mschapv2_challenge_hash(peer_chal, auth_chal, user, user_len, chal);
	memcpy(z, pw_hash, 16);
	for (int i = 0; i < 3; i++)
		rc |= des_encrypt_block(z + 7 * i, chal, out + 8 * i);
	wipe(z, sizeof(z));
	return rc;
}

void mschapv2_auth_response(const uint8_t pw_hash[16], const uint8_t nt_resp[24],
			    const uint8_t peer_chal[16], const uint8_t auth_chal[16],
			    const uint8_t *user, size_t user_len, char out[MSCHAPV2_AUTH_RESP_LEN + 1])
{
	static const char magic1[] = "Magic server to client signing constant";
	static const char magic2[] = "Pad to make it do more than one iteration";
	static const char hexd[] = "0123456789ABCDEF";
	uint8_t hh[16], d[20], chal[8];
	md4(pw_hash, 16, hh);
	struct part p1[] = { { hh, 16 }, { nt_resp, 24 }, { magic1, sizeof(magic1) - 1 } };
	sha1_parts(p1, 3, d);
	mschapv2_challenge_hash(peer_chal, auth_chal, user, user_len, chal);
	struct part p2[] = { { d, 20 }, { chal, 8 }, { magic2, sizeof(magic2) - 1 } };
	sha1_parts(p2, 3, d);
	out[0] = 'S';
	out[1] = '=';
	for (int i = 0; i < 20; i++) {
		out[2 + 2 * i] = hexd[d[i] >> 4];
		out[3 + 2 * i] = hexd[d[i] & 15];
	}
	out[MSCHAPV2_AUTH_RESP_LEN] = 0;
	wipe(hh, sizeof(hh));
	wipe(d, sizeof(d));
}

/* ---- RFC 3079 ---- */

void mschapv2_master_key(const uint8_t pw_hash_hash[16], const uint8_t nt_resp[24],
			 uint8_t out[16])
{
	static const char magic1[] = "This is the MPPE Master Key";
	uint8_t d[20];
	struct part p[] = { { pw_hash_hash, 16 }, { nt_resp, 24 }, { magic1, sizeof(magic1) - 1 } };
	sha1_parts(p, 3, d);
	memcpy(out, d, 16);
	wipe(d, sizeof(d));
}

/* GetAsymmetricStartKey (3.4) for 128-bit keys. */
static void start_key(const uint8_t master[16], const char *magic, uint8_t out[16])
{
	uint8_t pad1[40], pad2[40], d[20];
	memset(pad1, 0, sizeof(pad1));
	memset(pad2, 0xf2, sizeof(pad2));
	struct part p[] = { { master, 16 }, { pad1, 40 }, { magic, 84 }, { pad2, 40 } };
	sha1_parts(p, 4, d);
	memcpy(out, d, 16);
	wipe(d, sizeof(d));
}

void mschapv2_msk(const uint8_t pw_hash[16], const uint8_t nt_resp[24],
		  uint8_t out[MSCHAPV2_MSK_LEN])
{
	/* RFC 3079 3.4: Magic2 makes the server's receive key, Magic3 its send key. */
	static const char magic2[] = "On the client side, this is the send key; "
				     "on the server side, it is the receive key.";
	static const char magic3[] = "On the client side, this is the receive key; "
				     "on the server side, it is the send key.";
	uint8_t hh[16], master[16];
	_Static_assert(sizeof(magic2) - 1 == 84 && sizeof(magic3) - 1 == 84, "RFC 3079 magics");
	md4(pw_hash, 16, hh);
	mschapv2_master_key(hh, nt_resp, master);
	memset(out, 0, MSCHAPV2_MSK_LEN);
	start_key(master, magic2, out);
	start_key(master, magic3, out + 16);
	wipe(hh, sizeof(hh));
	wipe(master, sizeof(master));
}
