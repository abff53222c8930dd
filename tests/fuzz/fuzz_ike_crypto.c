/* Fuzzes the IKE SA cryptography on untrusted input (ike/crypto_sk.c, crypto_dh.c,
 * crypto_prf.c) with fixed keys. The first byte picks the operation (high 3 bits) and
 * the cipher suite or DH group (low 5 bits):
 *   0, 1  sk_decrypt of the rest as a whole message (after a 2-byte SK offset), sender
 *         initiator (1) or responder (0); also at the offset the payload chain gives;
 *   2, 3  round trip: the rest (after one byte) is an inner payload chain, encrypted
 *         with sk_encrypt and decrypted again: it must come back exactly; decrypting
 *         as the other direction, or after flipping one byte (chosen by that byte),
 *         must fail;
 *   4     dh_shared of a fixed private key with the rest as the peer's KE data;
 *   5     the rest is a private value for the peer: both sides must agree;
 *   6     prf / prf+ / ike_derive_keys with the rest as g^ir | Ni | Nr (split by the
 *         first bytes): no failure on valid lengths, same output twice. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_crypto.h"
#include "ike/ikev2_msg.h"
#include "ike/proposal.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_ike_crypto: %s:%d: check failed: %s\n",      \
				__FILE__, __LINE__, #cond);                                     \
			abort();                                                        \
		}                                                                       \
	} while (0)

#define MAX_PLAIN 4096

static const struct suite {
	uint16_t encr, keylen, integ;
} suites[] = {
	{ ENCR_AES_CBC, 128, INTEG_HMAC_SHA1_96 },
	{ ENCR_AES_CBC, 256, INTEG_HMAC_SHA2_256_128 },
	{ ENCR_AES_CBC, 192, INTEG_HMAC_SHA2_384_192 },
	{ ENCR_AES_CBC, 256, INTEG_HMAC_SHA2_512_256 },
	{ ENCR_AES_CBC, 128, INTEG_HMAC_MD5_96 },
	{ ENCR_3DES, 0, INTEG_HMAC_SHA2_256_128 },
	{ ENCR_AES_GCM_16, 128, INTEG_NONE },
	{ ENCR_AES_GCM_16, 256, INTEG_NONE },
	{ ENCR_AES_GCM_12, 192, INTEG_NONE },
	{ ENCR_AES_GCM_8, 256, INTEG_NONE },
	{ ENCR_CHACHA20_POLY1305, 256, INTEG_NONE },
	{ ENCR_CHACHA20_POLY1305, 0, INTEG_NONE },
};
#define NSUITES (sizeof(suites) / sizeof(suites[0]))

static const uint16_t groups[] = {
	DH_CURVE25519, DH_ECP256, DH_ECP384, DH_ECP521, DH_MODP1024, DH_MODP1536,
	DH_MODP2048, DH_MODP3072, DH_MODP4096, DH_MODP6144, DH_MODP8192,
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

static const uint16_t prfs[] = {
	PRF_HMAC_SHA1, PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512, PRF_HMAC_MD5,
};
#define NPRFS (sizeof(prfs) / sizeof(prfs[0]))

static struct ike_keys keys[NSUITES];
static uint8_t key_store[NSUITES][4][IKE_MAX_KEY + 4];	/* keys[i]'s SK_e and SK_a */
static struct dh *mine[NGROUPS];

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

static void setup(void)
{
	static int done;
	uint8_t priv[64];

	if (done)
		return;
	done = 1;
	for (size_t i = 0; i < NSUITES; i++) {
		struct ike_keys *k = &keys[i];
		memset(k, 0, sizeof(*k));
		k->encr = suites[i].encr;
		k->encr_keylen = suites[i].keylen;
		k->integ = suites[i].integ;
		k->prf = PRF_HMAC_SHA2_256;
		k->ek_len = encr_key_len(k->encr, k->encr_keylen);
		k->ak_len = integ_key_len(k->integ);
		CHECK(k->ek_len > 0);
		k->sk_ei = key_store[i][0];
		k->sk_er = key_store[i][1];
		k->sk_ai = key_store[i][2];
		k->sk_ar = key_store[i][3];
		fill(k->sk_ei, IKE_MAX_KEY + 4, 0x10);
		fill(k->sk_er, IKE_MAX_KEY + 4, 0x20);
		fill(k->sk_ai, IKE_MAX_KEY + 4, 0x30);
		fill(k->sk_ar, IKE_MAX_KEY + 4, 0x40);
	}
	fill(priv, sizeof(priv), 0x5a);
	for (size_t i = 0; i < NGROUPS; i++) {
		/* a 32-byte scalar is valid in every group (X25519 takes exactly 32) */
		mine[i] = dh_new_from_private(groups[i], priv, 32);
		CHECK(mine[i] != NULL);
	}
}

/* --- SK payload ----------------------------------------------------------------- */

static void decrypt_arbitrary(const struct ike_keys *k, bool initiator, const uint8_t *data,
			      size_t size)
{
	struct buf plain;
	struct ikev2_hdr h;
	struct ikev2_payloads *pl;
	const char *err;
	uint8_t unsupported;

	if (size < 2)
		return;
	size_t sk_off = get_u16(data);
	data += 2;
	size -= 2;
	buf_init(&plain);
	if (sk_decrypt(k, initiator, data, size, sk_off, &plain) == 0)
		CHECK(plain.len < size);
	buf_wipe_free(&plain);

	/* where the core would look: the SK payload the outer chain ends with */
	pl = calloc(1, sizeof(*pl));
	CHECK(pl != NULL);
	if (ikev2_parse_header(data, size, &h, &err) == 0 &&
	    ikev2_parse_payloads(h.next_payload, data + IKEV2_HDR_LEN, size - IKEV2_HDR_LEN,
				 IKEV2_HDR_LEN, pl, &unsupported, &err) == 0 && pl->has_sk) {
		buf_init(&plain);
		if (sk_decrypt(k, initiator, data, size, pl->sk_off, &plain) == 0)
			CHECK(plain.len < size);
		buf_wipe_free(&plain);
	}
	free(pl);
}

/* header | SK header, with the final lengths, as ike_encode writes them */
static void start_message(struct buf *msg, const struct ike_keys *k, bool initiator,
			  uint8_t first, size_t plain_len)
{
	size_t sk_len = 4 + plain_len + sk_overhead(k, plain_len);
	struct ikev2_hdr h = {
		.spi_i = { 1, 2, 3, 4, 5, 6, 7, 8 },
		.spi_r = { 9, 10, 11, 12, 13, 14, 15, 16 },
		.next_payload = PL_SK,
		.exchange = IKE_AUTH,
		.flags = initiator ? IKEV2_FLAG_INITIATOR : IKEV2_FLAG_RESPONSE,
		.msgid = 1,
		.length = (uint32_t)(IKEV2_HDR_LEN + sk_len),
	};
	ikev2_put_header(msg, &h);
	buf_put_u8(msg, first);
	buf_put_u8(msg, 0);
	buf_put_u16(msg, (uint16_t)sk_len);
}

static void round_trip(const struct ike_keys *k, bool initiator, const uint8_t *data,
		       size_t size)
{
	struct buf msg, plain;

	if (size < 2 || size - 2 > MAX_PLAIN)
		return;
	uint8_t flip = data[0], first = data[1];
	const uint8_t *inner = data + 2;
	size_t inner_len = size - 2;

	CHECK(sk_overhead(k, inner_len) > 0);
	buf_init(&msg);
	start_message(&msg, k, initiator, first, inner_len);
	CHECK(sk_encrypt(k, initiator, &msg, inner, inner_len) == 0);
	CHECK(!msg.oom && get_u32(msg.data + 24) == msg.len);

	buf_init(&plain);
	CHECK(sk_decrypt(k, initiator, msg.data, msg.len, IKEV2_HDR_LEN, &plain) == 0);
	CHECK(plain.len == inner_len);
	CHECK(inner_len == 0 || memcmp(plain.data, inner, inner_len) == 0);
	buf_reset(&plain);

	/* the other direction's keys must not open it */
	CHECK(sk_decrypt(k, !initiator, msg.data, msg.len, IKEV2_HDR_LEN, &plain) < 0);
	CHECK(plain.len == 0);

	/* every byte is authenticated: header, SK header, IV, ciphertext, ICV */
	size_t pos = ((size_t)flip * 131 + inner_len) % msg.len;
	msg.data[pos] ^= (uint8_t)(flip | 1);
	CHECK(sk_decrypt(k, initiator, msg.data, msg.len, IKEV2_HDR_LEN, &plain) < 0);
	CHECK(plain.len == 0);

	/* a message cut short or with the SK payload elsewhere is refused */
	msg.data[pos] ^= (uint8_t)(flip | 1);
	CHECK(sk_decrypt(k, initiator, msg.data, msg.len - 1, IKEV2_HDR_LEN, &plain) < 0);
	CHECK(sk_decrypt(k, initiator, msg.data, msg.len, IKEV2_HDR_LEN + 1, &plain) < 0);
	CHECK(sk_decrypt(k, initiator, msg.data, msg.len, msg.len, &plain) < 0);
	buf_wipe_free(&plain);
	buf_free(&msg);
}

/* --- Diffie-Hellman --------------------------------------------------------------- */

static size_t secret_len(uint16_t group)
{
	size_t pub = dh_public_len(group);
	/* ECP: KE data is x | y, the secret is x */
	return group == DH_ECP256 || group == DH_ECP384 || group == DH_ECP521 ? pub / 2 : pub;
}

static void dh_peer_value(size_t gi, const uint8_t *data, size_t size)
{
	struct buf out;
	buf_init(&out);
	if (dh_shared(mine[gi], data, size, &out) == 0) {
		CHECK(size == dh_public_len(groups[gi]));
		CHECK(out.len == secret_len(groups[gi]));
	} else {
		CHECK(out.len == 0);
	}
	buf_wipe_free(&out);
}

static void dh_agree(size_t gi, const uint8_t *data, size_t size)
{
	uint16_t g = groups[gi];
	struct buf pub_mine, pub_peer, s1, s2;

	if (size == 0 || size > 128)
		return;
	struct dh *peer = dh_new_from_private(g, data, size);
	if (!peer)
		return;
	buf_init(&pub_mine);
	buf_init(&pub_peer);
	buf_init(&s1);
	buf_init(&s2);
	CHECK(dh_group(peer) == g);
	CHECK(dh_public(mine[gi], &pub_mine) == 0 && pub_mine.len == dh_public_len(g));
	CHECK(dh_public(peer, &pub_peer) == 0 && pub_peer.len == dh_public_len(g));
	int r1 = dh_shared(mine[gi], pub_peer.data, pub_peer.len, &s1);
	int r2 = dh_shared(peer, pub_mine.data, pub_mine.len, &s2);
	/* a degenerate private value (0, 1, a multiple of the order) may be refused, but
	 * then by both sides; when accepted, both computed the same secret */
	if (r1 == 0 && r2 == 0) {
		CHECK(s1.len == secret_len(g) && s1.len == s2.len);
		CHECK(memcmp(s1.data, s2.data, s1.len) == 0);
	}
	buf_wipe_free(&s1);
	buf_wipe_free(&s2);
	buf_free(&pub_mine);
	buf_free(&pub_peer);
	dh_free(peer);
}

/* --- PRF and key derivation ---------------------------------------------------------- */

static void derive(uint8_t sel, const uint8_t *data, size_t size)
{
	uint16_t prf = prfs[sel % NPRFS];
	const struct suite *s = &suites[(sel / NPRFS) % NSUITES];
	static const uint8_t spi_i[8] = { 1 }, spi_r[8] = { 2 };
	uint8_t out1[IKE_MAX_PRF_OUT], out2[IKE_MAX_PRF_OUT], plus[200];

	if (size < 2)
		return;
	size_t ni_len = data[0], nr_len = data[1];
	data += 2;
	size -= 2;
	if (ni_len + nr_len > size)
		return;
	const uint8_t *ni = data, *nr = data + ni_len, *gir = data + ni_len + nr_len;
	size_t gir_len = size - ni_len - nr_len;

	size_t olen = prf_out_len(prf);
	CHECK(olen > 0 && olen <= IKE_MAX_PRF_OUT);
	CHECK(prf_compute(prf, ni, ni_len, gir, gir_len, out1) == 0);
	CHECK(prf_compute(prf, ni, ni_len, gir, gir_len, out2) == 0);
	CHECK(memcmp(out1, out2, olen) == 0);
	size_t plen = 1 + (gir_len % sizeof(plus));
	CHECK(prf_plus(prf, ni, ni_len, nr, nr_len, plus, plen) == 0);
	/* prf+ starts with T1 = prf(K, S | 0x01) */
	uint8_t seed[300];
	if (nr_len + 1 <= sizeof(seed)) {
		memcpy(seed, nr, nr_len);
		seed[nr_len] = 1;
		CHECK(prf_compute(prf, ni, ni_len, seed, nr_len + 1, out1) == 0);
		CHECK(memcmp(out1, plus, plen < olen ? plen : olen) == 0);
	}

	struct ike_keys *k1 = calloc(1, sizeof(*k1)), *k2 = calloc(1, sizeof(*k2));
	CHECK(k1 && k2);
	int r1 = ike_derive_keys(k1, s->encr, s->keylen, s->integ, prf, gir, gir_len, ni, ni_len,
				 nr, nr_len, spi_i, spi_r, NULL, 0);
	int r2 = ike_derive_keys(k2, s->encr, s->keylen, s->integ, prf, gir, gir_len, ni, ni_len,
				 nr, nr_len, spi_i, spi_r, NULL, 0);
	CHECK(r1 == r2);
	if (r1 == 0) {
		CHECK(k1->ek_len == encr_key_len(s->encr, s->keylen));
		CHECK(k1->ak_len == integ_key_len(s->integ));
		CHECK(k1->km_len == k2->km_len && memcmp(k1->km, k2->km, k1->km_len) == 0);
	}
	ike_keys_wipe(k1);
	ike_keys_wipe(k2);
	free(k1);
	free(k2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	setup();
	uint8_t op = data[0] >> 5, sel = data[0] & 0x1f;
	data++;
	size--;
	switch (op) {
	case 0:
	case 1:
		decrypt_arbitrary(&keys[sel % NSUITES], op & 1, data, size);
		break;
	case 2:
	case 3:
		round_trip(&keys[sel % NSUITES], op & 1, data, size);
		break;
	case 4:
		dh_peer_value(sel % NGROUPS, data, size);
		break;
	case 5:
		dh_agree(sel % NGROUPS, data, size);
		break;
	case 6:
		derive(sel, data, size);
		break;
	default:
		break;
	}
	return 0;
}
