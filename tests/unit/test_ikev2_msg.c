/* The IKEv2 message codec: round trips of every payload tsunagi writes, and malformed
 * input rejected with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ike/ikev2_msg.h"

/* A whole message: header + the builder's chain. */
static void wrap(struct buf *out, struct ikev2_builder *k, uint8_t exchange)
{
	struct ikev2_hdr h = { 0 };
	memset(h.spi_i, 0x11, 8);
	h.next_payload = k->first;
	h.exchange = exchange;
	h.flags = IKEV2_FLAG_INITIATOR;
	h.msgid = 7;
	h.length = (uint32_t)(IKEV2_HDR_LEN + k->b.len);
	buf_init(out);
	ikev2_put_header(out, &h);
	buf_put(out, k->b.data, k->b.len);
}

static int parse(const struct buf *b, struct ikev2_hdr *h, struct ikev2_payloads *pl,
		 const char **err)
{
	uint8_t unsupported;
	memset(pl, 0, sizeof(*pl));
	*err = NULL;
	if (ikev2_parse_header(b->data, b->len, h, err) < 0)
		return -1;
	return ikev2_parse_payloads(h->next_payload, b->data + IKEV2_HDR_LEN,
				    b->len - IKEV2_HDR_LEN, IKEV2_HDR_LEN, pl, &unsupported, err);
}

static void test_round_trip_init(void **state)
{
	struct ikev2_builder k;
	struct proposal p[2] = { 0 };
	uint8_t ke[32], nonce[32], natd[20];
	memset(ke, 0xab, sizeof(ke));
	memset(nonce, 0xcd, sizeof(nonce));
	memset(natd, 0xee, sizeof(natd));
	p[0].protocol = PROTO_IKE;
	p[0].xf[p[0].n_xf++] = (struct xform){ XF_ENCR, ENCR_AES_GCM_16, 256 };
	p[0].xf[p[0].n_xf++] = (struct xform){ XF_PRF, PRF_HMAC_SHA2_256, 0 };
	p[0].xf[p[0].n_xf++] = (struct xform){ XF_DH, DH_CURVE25519, 0 };
	p[1].protocol = PROTO_IKE;
	p[1].xf[p[1].n_xf++] = (struct xform){ XF_ENCR, ENCR_AES_CBC, 128 };
	p[1].xf[p[1].n_xf++] = (struct xform){ XF_INTEG, INTEG_HMAC_SHA2_256_128, 0 };
	p[1].xf[p[1].n_xf++] = (struct xform){ XF_PRF, PRF_HMAC_SHA2_256, 0 };
	p[1].xf[p[1].n_xf++] = (struct xform){ XF_DH, DH_MODP2048, 0 };
	ikb_init(&k);
	ikb_sa(&k, p, 2);
	ikb_ke(&k, DH_CURVE25519, ke, sizeof(ke));
	ikb_nonce(&k, nonce, sizeof(nonce));
	ikb_notify(&k, 0, NULL, 0, N_NAT_DETECTION_SOURCE_IP, natd, sizeof(natd));
	ikb_notify(&k, 0, NULL, 0, N_NAT_DETECTION_DESTINATION_IP, natd, sizeof(natd));
	struct buf msg;
	wrap(&msg, &k, IKE_SA_INIT);

	struct ikev2_hdr h;
	struct ikev2_payloads pl;
	const char *err;
	assert_int_equal(parse(&msg, &h, &pl, &err), 0);
	assert_int_equal(h.exchange, IKE_SA_INIT);
	assert_int_equal(h.msgid, 7);
	assert_true(pl.has_sa);
	assert_int_equal(pl.n_props, 2);
	assert_int_equal(pl.props[0].num, 1);
	assert_int_equal(pl.props[1].num, 2);
	assert_int_equal(pl.props[0].n_xf, 3);
	assert_int_equal(pl.props[0].xf[0].id, ENCR_AES_GCM_16);
	assert_int_equal(pl.props[0].xf[0].keylen, 256);
	assert_int_equal(pl.props[1].xf[3].id, DH_MODP2048);
	assert_int_equal(pl.ke_group, DH_CURVE25519);
	assert_int_equal(pl.ke_len, 32);
	assert_memory_equal(pl.ke, ke, 32);
	assert_int_equal(pl.nonce_len, 32);
	assert_int_equal(pl.n_notify, 2);
	assert_non_null(ikev2_find_notify(&pl, N_NAT_DETECTION_DESTINATION_IP));
	assert_null(ikev2_error_notify(&pl));
	char desc[256];
	ikev2_describe(&h, &pl, desc, sizeof(desc));
	assert_string_equal(desc, "IKE_SA_INIT request 7 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]");
	buf_free(&msg);
	ikb_free(&k);
}

static void test_round_trip_auth_payloads(void **state)
{
	struct ikev2_builder k;
	struct selector ts[2];
	uint8_t spi[4] = { 0xc0, 1, 2, 3 }, auth[32];
	memset(auth, 0x5a, sizeof(auth));
	selector_parse("10.1.0.0/24", &ts[0]);
	selector_parse("2001:db8::/64[tcp/443]", &ts[1]);
	ikb_init(&k);
	ikb_id(&k, PL_IDI, ID_FQDN, (const uint8_t *)"site-a.example", 14);
	ikb_auth(&k, AUTH_METHOD_PSK, auth, sizeof(auth));
	ikb_ts(&k, PL_TSI, ts, 2);
	ikb_ts(&k, PL_TSR, ts, 1);
	ikb_delete(&k, PROTO_ESP, spi, 4, 1);
	ikb_notify(&k, PROTO_ESP, spi, 4, N_REKEY_SA, NULL, 0);
	struct buf msg;
	wrap(&msg, &k, IKE_AUTH);
	struct ikev2_hdr h;
	struct ikev2_payloads pl;
	const char *err;
	assert_int_equal(parse(&msg, &h, &pl, &err), 0);
	assert_true(pl.has_idi);
	assert_int_equal(pl.idi.type, ID_FQDN);
	assert_int_equal(pl.idi.len, 14);
	assert_memory_equal(pl.idi.data, "site-a.example", 14);
	/* What AUTH signs: type | 3 reserved | data. */
	assert_int_equal(pl.idi.body_len, 18);
	assert_int_equal(pl.idi.body[0], ID_FQDN);
	assert_int_equal(pl.auth_method, AUTH_METHOD_PSK);
	assert_int_equal(pl.auth_len, 32);
	assert_int_equal(pl.n_tsi, 2);
	assert_int_equal(pl.n_tsr, 1);
	assert_true(selector_equal(&pl.tsi[0], &ts[0]));
	assert_true(selector_equal(&pl.tsi[1], &ts[1]));
	assert_int_equal(pl.tsi[1].proto, 6);
	assert_int_equal(pl.tsi[1].port_lo, 443);
	assert_int_equal(pl.n_del, 1);
	assert_int_equal(pl.del[0].proto, PROTO_ESP);
	assert_int_equal(get_u32(pl.del[0].spis), 0xc0010203);
	const struct ikev2_notify *n = ikev2_find_notify(&pl, N_REKEY_SA);
	assert_non_null(n);
	assert_int_equal(n->spi_len, 4);
	assert_memory_equal(n->spi, spi, 4);
	buf_free(&msg);
	ikb_free(&k);
}

/* Each case: a valid message with one field broken. */
static void expect_reject(struct buf *msg, const char *why)
{
	struct ikev2_hdr h;
	struct ikev2_payloads pl;
	const char *err;
	assert_int_equal(parse(msg, &h, &pl, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, why));
}

static void base(struct buf *msg)
{
	struct ikev2_builder k;
	uint8_t nonce[32] = { 1 };
	ikb_init(&k);
	ikb_nonce(&k, nonce, sizeof(nonce));
	ikb_notify(&k, 0, NULL, 0, N_INITIAL_CONTACT, NULL, 0);
	wrap(msg, &k, INFORMATIONAL);
	ikb_free(&k);
}

static void test_malformed_header(void **state)
{
	struct buf msg;
	const char *err;
	struct ikev2_hdr h;
	base(&msg);
	assert_int_equal(ikev2_parse_header(msg.data, 27, &h, &err), -1);
	assert_non_null(strstr(err, "shorter"));
	put_u32(msg.data + 24, (uint32_t)msg.len + 1);
	expect_reject(&msg, "length does not match");
	put_u32(msg.data + 24, (uint32_t)msg.len);
	msg.data[17] = 0x10;	/* IKEv1 */
	expect_reject(&msg, "major version");
	buf_free(&msg);
}

static void test_malformed_payloads(void **state)
{
	struct buf msg;
	base(&msg);
	/* First payload (nonce) claims more than the message has. */
	put_u16(msg.data + 30, 200);
	expect_reject(&msg, "exceeds");
	put_u16(msg.data + 30, 3);
	expect_reject(&msg, "truncated generic payload header");
	put_u16(msg.data + 30, 36);
	/* Nonce of 8 bytes. */
	struct ikev2_builder k;
	uint8_t small[8] = { 0 };
	buf_free(&msg);
	ikb_init(&k);
	ikb_nonce(&k, small, sizeof(small));
	wrap(&msg, &k, INFORMATIONAL);
	ikb_free(&k);
	expect_reject(&msg, "nonce length");
	buf_free(&msg);
	/* Trailing garbage after the last payload. */
	base(&msg);
	buf_put_u8(&msg, 0);
	put_u32(msg.data + 24, (uint32_t)msg.len);
	expect_reject(&msg, "trailing data");
	buf_free(&msg);
}

static void test_unknown_critical_payload(void **state)
{
	struct ikev2_builder k;
	struct buf msg;
	ikb_init(&k);
	size_t off = ikb_begin(&k, 99, true);
	buf_put_u32(&k.b, 0);
	ikb_end(&k, off);
	wrap(&msg, &k, INFORMATIONAL);
	struct ikev2_hdr h;
	struct ikev2_payloads pl;
	const char *err;
	uint8_t unsupported;
	memset(&pl, 0, sizeof(pl));
	ikev2_parse_header(msg.data, msg.len, &h, &err);
	assert_int_equal(ikev2_parse_payloads(h.next_payload, msg.data + 28, msg.len - 28, 28, &pl,
					      &unsupported, &err), -1);
	assert_int_equal(unsupported, 99);
	/* Not critical: skipped. */
	msg.data[28 + 1] = 0;
	assert_int_equal(parse(&msg, &h, &pl, &err), 0);
	buf_free(&msg);
	ikb_free(&k);
}

static void test_malformed_substructures(void **state)
{
	struct ikev2_builder k;
	struct buf msg;
	struct proposal p = { 0 };
	p.protocol = PROTO_ESP;
	p.spi_len = 4;
	p.xf[p.n_xf++] = (struct xform){ XF_ENCR, ENCR_AES_GCM_16, 128 };
	ikb_init(&k);
	ikb_sa(&k, &p, 1);
	wrap(&msg, &k, CREATE_CHILD_SA);
	ikb_free(&k);
	/* Transform count says 2, only one follows. */
	msg.data[28 + 4 + 7] = 2;
	expect_reject(&msg, "last-transform");
	msg.data[28 + 4 + 7] = 1;
	/* SPI size 9. */
	msg.data[28 + 4 + 6] = 9;
	expect_reject(&msg, "SPI size");
	buf_free(&msg);

	struct selector ts;
	selector_parse("10.0.0.0/8", &ts);
	ikb_init(&k);
	ikb_ts(&k, PL_TSI, &ts, 1);
	wrap(&msg, &k, CREATE_CHILD_SA);
	ikb_free(&k);
	msg.data[28 + 8] = 9;	/* unknown TS type */
	expect_reject(&msg, "traffic selector");
	msg.data[28 + 8] = TS_IPV4_ADDR_RANGE;
	put_u16(msg.data + 28 + 12, 80);	/* ports 80..65535, fine */
	struct ikev2_hdr h;
	struct ikev2_payloads pl;
	const char *err;
	assert_int_equal(parse(&msg, &h, &pl, &err), 0);
	put_u16(msg.data + 28 + 14, 79);	/* 80..79: reversed */
	expect_reject(&msg, "reversed");
	put_u16(msg.data + 28 + 14, 65535);
	msg.data[28 + 16] = 11;	/* start 11.0.0.0 > end 10.255.255.255 */
	expect_reject(&msg, "reversed");
	buf_free(&msg);

	/* A transform with a truncated attribute fails the whole message. */
	p.xf[0].keylen = 128;
	ikb_init(&k);
	ikb_sa(&k, &p, 1);
	wrap(&msg, &k, CREATE_CHILD_SA);
	ikb_free(&k);
	size_t xf = 28 + 4 + 8 + 4;	/* transform header after the SPI */
	put_u16(msg.data + xf + 2, 10);	/* 8 + half an attribute */
	expect_reject(&msg, "");
	buf_free(&msg);

	uint8_t spis[8] = { 0 };
	ikb_init(&k);
	ikb_delete(&k, PROTO_ESP, spis, 4, 2);
	wrap(&msg, &k, INFORMATIONAL);
	ikb_free(&k);
	put_u16(msg.data + 28 + 6, 3);	/* three SPIs announced, two present */
	expect_reject(&msg, "delete");
	buf_free(&msg);
}

static void test_sk_must_be_last(void **state)
{
	struct ikev2_builder k;
	struct buf msg;
	uint8_t nonce[32] = { 0 };
	ikb_init(&k);
	size_t off = ikb_begin(&k, PL_SK, false);
	buf_put_zero(&k.b, 16);
	ikb_end(&k, off);
	wrap(&msg, &k, INFORMATIONAL);
	struct ikev2_hdr h;
	struct ikev2_payloads pl;
	const char *err;
	assert_int_equal(parse(&msg, &h, &pl, &err), 0);
	assert_true(pl.has_sk);
	assert_int_equal(pl.sk_off, 28);
	buf_free(&msg);
	ikb_nonce(&k, nonce, sizeof(nonce));	/* now something follows SK */
	wrap(&msg, &k, INFORMATIONAL);
	expect_reject(&msg, "after the encrypted payload");
	buf_free(&msg);
	ikb_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_init),
		cmocka_unit_test(test_round_trip_auth_payloads),
		cmocka_unit_test(test_malformed_header),
		cmocka_unit_test(test_malformed_payloads),
		cmocka_unit_test(test_unknown_critical_payload),
		cmocka_unit_test(test_malformed_substructures),
		cmocka_unit_test(test_sk_must_be_last),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
