/* ike/v1/isakmp_msg.c: every payload built and parsed back (round trips), the header,
 * ID payloads as selectors, and malformed input: each length and structure check of
 * the parser is hit at least once, and the test asserts which check refused it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ike/v1/isakmp_msg.h"
#include "lib/buf.h"

static struct isakmp_payloads *pl;

static int setup(void **state)
{
	pl = calloc(1, sizeof(*pl));
	return pl ? 0 : -1;
}

static int teardown(void **state)
{
	free(pl);
	return 0;
}

static const uint8_t spi4[4] = { 0xde, 0xad, 0xbe, 0xef };
static const uint8_t cookies[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* An SA payload with two proposals: ISAKMP (one transform, basic and variable
 * attributes) and ESP (SPI, two transforms). */
static void put_sa(struct isakmp_builder *k)
{
	static const uint8_t life[4] = { 0x00, 0x01, 0x51, 0x80 };	/* 86400 */
	size_t sa = isb_sa_begin(k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
	size_t p = isb_proposal_begin(&k->b, false, 1, ISAKMP_PROTO_ISAKMP, NULL, 0, 1);
	size_t t = isb_transform_begin(&k->b, true, 1, 1);
	isb_attr_basic(&k->b, 1, 7);
	isb_attr_basic(&k->b, 14, 256);
	isb_attr_var(&k->b, 12, life, 4);
	isb_attr_u32(&k->b, 13, 70000);
	isb_sub_end(&k->b, t);
	isb_sub_end(&k->b, p);
	p = isb_proposal_begin(&k->b, true, 2, ISAKMP_PROTO_ESP, spi4, 4, 2);
	t = isb_transform_begin(&k->b, false, 1, 12);
	isb_attr_basic(&k->b, 4, 1);
	isb_sub_end(&k->b, t);
	t = isb_transform_begin(&k->b, true, 2, 3);
	isb_sub_end(&k->b, t);
	isb_sub_end(&k->b, p);
	isb_end(k, sa);
}

static void check_sa(void)
{
	struct rd r, ra;
	struct isakmp_transform t;
	struct isakmp_attr a;
	uint32_t v;

	assert_true(pl->has_sa);
	assert_int_equal(pl->sa_doi, ISAKMP_DOI_IPSEC);
	assert_int_equal(pl->n_props, 2);
	assert_int_equal(pl->props[0].protocol, ISAKMP_PROTO_ISAKMP);
	assert_int_equal(pl->props[0].spi_len, 0);
	assert_int_equal(pl->props[1].num, 2);
	assert_int_equal(pl->props[1].spi_len, 4);
	assert_memory_equal(pl->props[1].spi, spi4, 4);
	rd_init(&r, pl->props[0].xforms, pl->props[0].xforms_len);
	assert_true(isakmp_next_transform(&r, &t));
	assert_int_equal(t.num, 1);
	assert_int_equal(t.id, 1);
	rd_init(&ra, t.attrs, t.attrs_len);
	uint16_t want_type[4] = { 1, 14, 12, 13 };
	uint32_t want_val[4] = { 7, 256, 86400, 70000 };
	for (int i = 0; i < 4; i++) {
		assert_true(isakmp_next_attr(&ra, &a));
		assert_int_equal(a.type, want_type[i]);
		assert_int_equal(a.basic, i < 2);
		assert_int_equal(isakmp_attr_u32(&a, &v), 0);
		assert_int_equal(v, want_val[i]);
	}
	assert_false(isakmp_next_attr(&ra, &a));
	assert_false(ra.err);
	assert_false(isakmp_next_transform(&r, &t));
	rd_init(&r, pl->props[1].xforms, pl->props[1].xforms_len);
	assert_true(isakmp_next_transform(&r, &t));
	assert_int_equal(t.id, 12);
	assert_true(isakmp_next_transform(&r, &t));
	assert_int_equal(t.id, 3);
	assert_int_equal(t.attrs_len, 0);
	assert_false(isakmp_next_transform(&r, &t));
}

static void test_round_trip_all(void **state)
{
	struct isakmp_builder k;
	struct isakmp_hdr h = { .exchange = ISAKMP_XCHG_MM, .flags = ISAKMP_FLAG_C,
				.msgid = 0xa1b2c3d4 };
	uint8_t ke[96], nonce[32], hash[20], sig[40], natd[20], vid[16];
	const uint8_t fqdn[] = "gw.example.org";
	const uint8_t v4[4] = { 192, 0, 2, 1 };
	struct addr oa4 = { .family = AF_INET }, oa6 = { .family = AF_INET6 };
	uint8_t dels[3 * 4];
	const char *err = NULL;

	for (size_t i = 0; i < sizeof(ke); i++)
		ke[i] = (uint8_t)i;
	memset(nonce, 0x4e, sizeof(nonce));
	memset(hash, 0x48, sizeof(hash));
	memset(sig, 0x53, sizeof(sig));
	memset(natd, 0xd0, sizeof(natd));
	memset(vid, 0x56, sizeof(vid));
	memset(dels, 0x11, sizeof(dels));
	inet_pton(AF_INET, "198.51.100.7", oa4.u.b);
	inet_pton(AF_INET6, "2001:db8::7", oa6.u.b);
	memcpy(h.cky_i, cookies, 8);
	memcpy(h.cky_r, cookies + 8, 8);

	isb_init(&k);
	size_t hash_at = isb_hash(&k, NULL, sizeof(hash));
	put_sa(&k);
	isb_ke(&k, ke, sizeof(ke));
	isb_nonce(&k, nonce, sizeof(nonce));
	isb_id(&k, ISAKMP_ID_FQDN, 0, 0, fqdn, sizeof(fqdn) - 1);
	isb_id(&k, ISAKMP_ID_IPV4_ADDR, 17, 500, v4, 4);
	isb_sig(&k, sig, sizeof(sig));
	isb_notify(&k, ISAKMP_DOI_IPSEC, ISAKMP_PROTO_ISAKMP, cookies, 16,
		   ISAKMP_N_R_U_THERE, (const uint8_t *)"\0\0\0\7", 4);
	isb_notify(&k, ISAKMP_DOI_IPSEC, ISAKMP_PROTO_ESP, spi4, 4, ISAKMP_N_INITIAL_CONTACT,
		   NULL, 0);
	isb_delete(&k, ISAKMP_DOI_IPSEC, ISAKMP_PROTO_ESP, dels, 4, 3);
	isb_delete(&k, ISAKMP_DOI_IPSEC, ISAKMP_PROTO_ISAKMP, cookies, 16, 1);
	isb_vendor(&k, vid, sizeof(vid));
	isb_natd(&k, ISAKMP_PL_NAT_D, natd, sizeof(natd));
	isb_natd(&k, ISAKMP_PL_NAT_D_DRAFT, natd, 16);
	isb_natoa(&k, ISAKMP_PL_NAT_OA, &oa4);
	isb_natoa(&k, ISAKMP_PL_NAT_OA_DRAFT, &oa6);
	memcpy(k.b.data + hash_at, hash, sizeof(hash));	/* the hash comes last */
	assert_false(k.b.oom);

	struct buf msg;
	buf_init(&msg);
	h.next_payload = k.first;
	isakmp_put_header(&msg, &h);
	buf_put(&msg, k.b.data, k.b.len);
	isakmp_set_length(&msg);

	struct isakmp_hdr g;
	assert_int_equal(isakmp_parse_header(msg.data, msg.len, &g, &err), 0);
	assert_memory_equal(g.cky_i, cookies, 8);
	assert_memory_equal(g.cky_r, cookies + 8, 8);
	assert_int_equal(g.next_payload, ISAKMP_PL_HASH);
	assert_int_equal(g.version, ISAKMP_VERSION);
	assert_int_equal(g.exchange, ISAKMP_XCHG_MM);
	assert_int_equal(g.flags, ISAKMP_FLAG_C);
	assert_int_equal(g.msgid, 0xa1b2c3d4);
	assert_int_equal(g.length, msg.len);
	const uint8_t *body = msg.data + ISAKMP_HDR_LEN;
	size_t len = msg.len - ISAKMP_HDR_LEN;
	assert_int_equal(isakmp_parse_payloads(g.next_payload, body, len, 0, pl, &err), 0);

	assert_int_equal(pl->n_payloads, 16);
	assert_true(pl->has_hash);
	assert_int_equal(pl->hash_index, 0);
	assert_memory_equal(pl->hash.p, hash, sizeof(hash));
	assert_int_equal(pl->hash_end, 4 + sizeof(hash));
	assert_int_equal(pl->chain_end, len);
	check_sa();
	/* SAi_b is the SA payload without its generic header */
	assert_ptr_equal(pl->sa_body.p, body + pl->hash_end + 4);
	assert_int_equal(get_u16(body + pl->hash_end + 2), pl->sa_body.len + 4);
	assert_int_equal(pl->ke.len, sizeof(ke));
	assert_memory_equal(pl->ke.p, ke, sizeof(ke));
	assert_memory_equal(pl->nonce.p, nonce, sizeof(nonce));
	assert_int_equal(pl->n_id, 2);
	assert_int_equal(pl->id[0].type, ISAKMP_ID_FQDN);
	assert_int_equal(pl->id[0].len, sizeof(fqdn) - 1);
	assert_memory_equal(pl->id[0].data, fqdn, sizeof(fqdn) - 1);
	assert_int_equal(pl->id[1].proto, 17);
	assert_int_equal(pl->id[1].port, 500);
	assert_int_equal(pl->id[1].body_len, 8);
	assert_memory_equal(pl->id[1].body + 4, v4, 4);
	assert_int_equal(pl->sig.len, sizeof(sig));
	assert_int_equal(pl->n_notify, 2);
	assert_int_equal(pl->notify[0].spi_len, 16);
	assert_memory_equal(pl->notify[0].spi, cookies, 16);
	assert_int_equal(pl->notify[0].len, 4);
	assert_ptr_equal(isakmp_find_notify(pl, ISAKMP_N_INITIAL_CONTACT), &pl->notify[1]);
	assert_null(isakmp_find_notify(pl, ISAKMP_N_R_U_THERE_ACK));
	assert_int_equal(pl->notify[1].proto, ISAKMP_PROTO_ESP);
	assert_int_equal(pl->notify[1].len, 0);
	assert_int_equal(pl->n_del, 2);
	assert_int_equal(pl->del[0].n_spi, 3);
	assert_int_equal(pl->del[0].spi_len, 4);
	assert_memory_equal(pl->del[0].spis, dels, 12);
	assert_int_equal(pl->del[1].spi_len, 16);
	assert_int_equal(pl->n_vendor, 1);
	assert_memory_equal(pl->vendor[0].p, vid, sizeof(vid));
	assert_int_equal(pl->n_natd, 2);
	assert_int_equal(pl->natd_type, ISAKMP_PL_NAT_D);
	assert_int_equal(pl->natd[1].len, 16);
	assert_int_equal(pl->n_natoa, 2);
	assert_true(addr_equal(&pl->natoa[0].addr, &oa4));
	assert_int_equal(pl->natoa[1].type, ISAKMP_ID_IPV6_ADDR);
	assert_true(addr_equal(&pl->natoa[1].addr, &oa6));

	/* the proposals copy back byte for byte */
	struct isakmp_builder c;
	isb_init(&c);
	size_t sa = isb_sa_begin(&c, pl->sa_doi, pl->sa_situation);
	for (size_t i = 0; i < pl->n_props; i++)
		isb_proposal_copy(&c.b, i + 1 == pl->n_props, &pl->props[i]);
	isb_end(&c, sa);
	assert_int_equal(c.b.len, pl->sa_body.len + 4);
	assert_memory_equal(c.b.data + 4, pl->sa_body.p, pl->sa_body.len);
	isb_free(&c);

	/* the header writes back the same bytes */
	struct buf hb;
	buf_init(&hb);
	isakmp_put_header(&hb, &g);
	assert_memory_equal(hb.data, msg.data, ISAKMP_HDR_LEN);
	buf_free(&hb);
	buf_free(&msg);
	isb_free(&k);
}

static void test_header_errors(void **state)
{
	struct isakmp_hdr h = { .exchange = ISAKMP_XCHG_AM }, g;
	struct buf b;
	const char *err;
	buf_init(&b);
	isakmp_put_header(&b, &h);
	isakmp_set_length(&b);
	assert_int_equal(isakmp_parse_header(b.data, b.len, &g, &err), 0);
	assert_int_equal(isakmp_parse_header(b.data, 27, &g, &err), -1);
	assert_non_null(strstr(err, "shorter"));
	b.data[17] = 0x20;	/* IKEv2 */
	assert_int_equal(isakmp_parse_header(b.data, b.len, &g, &err), -1);
	assert_non_null(strstr(err, "major version"));
	b.data[17] = 0x11;	/* minor versions are not refused */
	assert_int_equal(isakmp_parse_header(b.data, b.len, &g, &err), 0);
	buf_put_u8(&b, 0);	/* one byte more than the header says */
	assert_int_equal(isakmp_parse_header(b.data, b.len, &g, &err), -1);
	assert_non_null(strstr(err, "length does not match"));
	buf_free(&b);
}

/* --- malformed chains ------------------------------------------------------------- */

static void raw(struct buf *b, uint8_t next, const void *body, size_t len)
{
	buf_put_u8(b, next);
	buf_put_u8(b, 0);
	buf_put_u16(b, (uint16_t)(len + 4));
	buf_put(b, body, len);
}

static void expect_fail(uint8_t first, const struct buf *b, size_t max_pad, const char *why)
{
	const char *err = NULL;
	assert_int_equal(isakmp_parse_payloads(first, b->data, b->len, max_pad, pl, &err), -1);
	assert_non_null(err);
	if (!strstr(err, why))
		fail_msg("expected '%s', got '%s'", why, err);
}

static void expect_ok_pad(uint8_t first, const struct buf *b, size_t max_pad)
{
	const char *err = NULL;
	int rc = isakmp_parse_payloads(first, b->data, b->len, max_pad, pl, &err);
	if (rc != 0)
		fail_msg("unexpected error: %s", err);
}

static void expect_ok(uint8_t first, const struct buf *b)
{
	expect_ok_pad(first, b, 0);
}

static void test_chain_errors(void **state)
{
	struct buf b;
	buf_init(&b);
	buf_put(&b, "\0\0\0", 3);
	expect_fail(ISAKMP_PL_VID, &b, 0, "truncated generic payload header");
	buf_reset(&b);
	buf_put(&b, "\0\0\0\3", 4);	/* length 3 < 4 */
	expect_fail(ISAKMP_PL_VID, &b, 0, "truncated generic payload header");
	buf_reset(&b);
	buf_put(&b, "\0\0\0\11", 4);	/* length 9, 4 bytes there */
	buf_put(&b, "abcd", 4);
	expect_fail(ISAKMP_PL_VID, &b, 0, "exceeds the message");
	buf_reset(&b);
	raw(&b, 0, "vid", 3);
	expect_ok(ISAKMP_PL_VID, &b);
	expect_fail(99, &b, 0, "unknown payload type");
	expect_fail(ISAKMP_PL_P, &b, 0, "unknown payload type");
	expect_fail(ISAKMP_PL_T, &b, 0, "unknown payload type");
	buf_put_u8(&b, 0);
	expect_fail(ISAKMP_PL_VID, &b, 0, "trailing data");
	expect_ok_pad(ISAKMP_PL_VID, &b, 1);	/* as padding of a decrypted body */
	buf_reset(&b);
	for (int i = 0; i < ISAKMP_MAX_PAYLOADS + 1; i++)
		raw(&b, i == ISAKMP_MAX_PAYLOADS ? 0 : ISAKMP_PL_CERT, "\x04" "c", 2);
	expect_fail(ISAKMP_PL_CERT, &b, 0, "too many payloads");
	/* CERT and CERTREQ: an encoding byte, and for CERT a certificate after it. */
	buf_reset(&b);
	raw(&b, 0, "\x04", 1);
	expect_fail(ISAKMP_PL_CERT, &b, 0, "CERT payload without encoding or certificate");
	buf_reset(&b);
	raw(&b, 0, "", 0);
	expect_fail(ISAKMP_PL_CERT, &b, 0, "CERT payload without encoding or certificate");
	expect_fail(ISAKMP_PL_CR, &b, 0, "CERTREQ payload without an encoding");
	buf_reset(&b);
	for (int i = 0; i < ISAKMP_MAX_CERTS + 2; i++)
		raw(&b, i == ISAKMP_MAX_CERTS + 1 ? ISAKMP_PL_CR : ISAKMP_PL_CERT, "\x04" "der", 4);
	raw(&b, 0, "\x04", 1);
	expect_ok(ISAKMP_PL_CERT, &b);
	assert_int_equal(pl->n_cert, ISAKMP_MAX_CERTS);
	assert_int_equal(pl->n_cert_over, 2);
	assert_int_equal(pl->n_cr, 1);
	assert_int_equal(pl->certs[0].encoding, 4);
	assert_int_equal(pl->certs[0].len, 3);
	assert_memory_equal(pl->certs[0].data, "der", 3);
	buf_free(&b);
}

/* One payload of `type` with `body`, expected to fail with `why`. */
static void one_fails(uint8_t type, const void *body, size_t len, const char *why)
{
	struct buf b;
	buf_init(&b);
	raw(&b, 0, body, len);
	expect_fail(type, &b, 0, why);
	buf_free(&b);
}

static void one_ok(uint8_t type, const void *body, size_t len)
{
	struct buf b;
	buf_init(&b);
	raw(&b, 0, body, len);
	expect_ok(type, &b);
	buf_free(&b);
}

/* n payloads of `type` with the same body, expected to fail with `why`. */
static void n_fail(uint8_t type, const void *body, size_t len, size_t n, const char *why)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		raw(&b, i + 1 == n ? 0 : type, body, len);
	expect_fail(type, &b, 0, why);
	buf_free(&b);
}

static void test_payload_errors(void **state)
{
	static const uint8_t z[1100];

	/* KE, nonce, HASH, SIG: sizes and repeats */
	one_fails(ISAKMP_PL_KE, z, 0, "KE payload");
	one_fails(ISAKMP_PL_KE, z, 1025, "KE payload");
	n_fail(ISAKMP_PL_KE, z, 8, 2, "KE payload");
	one_ok(ISAKMP_PL_NONCE, z, 8);
	one_ok(ISAKMP_PL_NONCE, z, 256);
	one_fails(ISAKMP_PL_NONCE, z, 7, "nonce length");
	one_fails(ISAKMP_PL_NONCE, z, 257, "nonce length");
	n_fail(ISAKMP_PL_NONCE, z, 16, 2, "nonce");
	one_fails(ISAKMP_PL_HASH, z, 0, "HASH payload");
	one_fails(ISAKMP_PL_HASH, z, 65, "HASH payload");
	n_fail(ISAKMP_PL_HASH, z, 20, 2, "HASH payload");
	one_fails(ISAKMP_PL_SIG, z, 0, "SIG payload");
	n_fail(ISAKMP_PL_SIG, z, 20, 2, "SIG payload");
	n_fail(ISAKMP_PL_ATTR, z, 4, 2, "attribute payload");

	/* ID: header, type, data length per type, count */
	one_fails(ISAKMP_PL_ID, "\1\0\0", 3, "truncated ID");
	one_fails(ISAKMP_PL_ID, "\x63\0\0\0abc", 7, "unknown ID type");
	one_fails(ISAKMP_PL_ID, "\1\0\0\0\1\2\3\4\5", 9, "ID data length");
	one_fails(ISAKMP_PL_ID, "\5\0\0\0\1\2\3\4", 8, "ID data length");
	one_fails(ISAKMP_PL_ID, "\4\0\0\0\1\2\3\4", 8, "ID data length");
	one_fails(ISAKMP_PL_ID, "\2\0\0\0", 4, "ID data length");
	one_ok(ISAKMP_PL_ID, "\3\0\0\0a@b", 7);
	n_fail(ISAKMP_PL_ID, "\13\0\0\0k", 5, 3, "more than two ID");

	/* Notification: header, SPI size, SPI, count */
	one_fails(ISAKMP_PL_N, "\0\0\0\1\3\4\0", 7, "truncated notification");
	one_fails(ISAKMP_PL_N, "\0\0\0\1\3\21\0\16", 8, "SPI size too large");
	one_fails(ISAKMP_PL_N, "\0\0\0\1\3\4\0\16\1\2", 10, "SPI past");
	one_ok(ISAKMP_PL_N, "\0\0\0\1\3\4\0\16\1\2\3\4", 12);
	n_fail(ISAKMP_PL_N, "\0\0\0\1\3\0\0\16", 8, ISAKMP_MAX_NOTIFY + 1, "too many notif");

	/* Delete: header, SPI size, count, count x size against the length */
	one_fails(ISAKMP_PL_D, "\0\0\0\1\3\4\0", 7, "truncated delete");
	one_fails(ISAKMP_PL_D, "\0\0\0\1\3\0\0\1", 8, "SPI size or count");
	one_fails(ISAKMP_PL_D, "\0\0\0\1\3\4\0\0", 8, "SPI size or count");
	one_fails(ISAKMP_PL_D, "\0\0\0\1\1\21\0\1", 8, "SPI size or count");
	one_fails(ISAKMP_PL_D, "\0\0\0\1\3\4\0\2\1\2\3\4", 12, "count x size");
	one_fails(ISAKMP_PL_D, "\0\0\0\1\3\4\0\1\1\2\3\4\5", 13, "count x size");
	one_fails(ISAKMP_PL_D, "\0\0\0\1\3\4\xff\xff\1\2\3\4", 12, "count x size");
	one_ok(ISAKMP_PL_D, "\0\0\0\1\3\4\0\2\1\2\3\4\5\6\7\10", 16);
	n_fail(ISAKMP_PL_D, "\0\0\0\1\3\4\0\1\1\2\3\4", 12, ISAKMP_MAX_DELETE + 1,
	       "too many delete");

	/* Vendor ID, NAT-D, NAT-OA */
	one_fails(ISAKMP_PL_VID, z, 0, "vendor ID");
	n_fail(ISAKMP_PL_VID, z, 16, ISAKMP_MAX_VENDOR + 1, "vendor ID");
	one_fails(ISAKMP_PL_NAT_D, z, 0, "NAT-D");
	one_fails(ISAKMP_PL_NAT_D_DRAFT, z, 65, "NAT-D");
	n_fail(ISAKMP_PL_NAT_D, z, 20, ISAKMP_MAX_NATD + 1, "NAT-D");
	one_fails(ISAKMP_PL_NAT_OA, "\2\0\0\0\1\2\3\4", 8, "NAT-OA");
	one_fails(ISAKMP_PL_NAT_OA, "\1\0\0\0\1\2\3", 7, "NAT-OA");
	one_fails(ISAKMP_PL_NAT_OA_DRAFT, "\5\0\0\0\1\2\3\4", 8, "NAT-OA");
	one_fails(ISAKMP_PL_NAT_OA, "\1\0", 2, "NAT-OA");
	n_fail(ISAKMP_PL_NAT_OA, "\1\0\0\0\1\2\3\4", 8, 3, "more than two NAT-OA");
}

/* A valid SA body of 40 bytes, fixed offsets patched by the tests below:
 *  0 DOI, 4 situation | 8 proposal: next 8, len 10, num 12, proto 13, spi size 14,
 *  #transforms 15, SPI 16..19 | 20 transform: next 20, len 22, num 24, id 25 |
 *  28 basic attribute (type 28, value 30) | 32 variable attribute: type 32, len 34,
 *  data 36..39. */
static void sa_body(struct buf *b)
{
	struct isakmp_builder k;
	isb_init(&k);
	size_t sa = isb_sa_begin(&k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
	size_t p = isb_proposal_begin(&k.b, true, 1, ISAKMP_PROTO_ESP, spi4, 4, 1);
	size_t t = isb_transform_begin(&k.b, true, 1, 12);
	isb_attr_basic(&k.b, 4, 1);
	isb_attr_var(&k.b, 2, (const uint8_t *)"\0\0\16\20", 4);
	isb_sub_end(&k.b, t);
	isb_sub_end(&k.b, p);
	isb_end(&k, sa);
	buf_reset(b);
	buf_put(b, k.b.data + 4, k.b.len - 4);
	assert_int_equal(b->len, 40);
	isb_free(&k);
}

static void sa_fails(const struct buf *body, const char *why)
{
	one_fails(ISAKMP_PL_SA, body->data, body->len, why);
}

static void test_sa_errors(void **state)
{
	struct buf b;
	buf_init(&b);
	sa_body(&b);
	one_ok(ISAKMP_PL_SA, b.data, b.len);
	n_fail(ISAKMP_PL_SA, b.data, b.len, 2, "more than one SA");
	one_fails(ISAKMP_PL_SA, b.data, 6, "truncated SA");
	b.data[3] = 2;
	sa_fails(&b, "DOI");
	sa_body(&b);
	b.data[7] = 3;
	sa_fails(&b, "situation");

	/* proposal header: next, length below 8, length past the SA */
	sa_body(&b);
	b.data[8] = ISAKMP_PL_T;
	sa_fails(&b, "malformed proposal payload header");
	sa_body(&b);
	put_u16(b.data + 10, 7);
	sa_fails(&b, "malformed proposal payload header");
	sa_body(&b);
	put_u16(b.data + 10, 33);
	sa_fails(&b, "malformed proposal payload header");
	sa_body(&b);
	put_u16(b.data + 10, 31);	/* one byte of the proposal left in the SA */
	sa_fails(&b, "");
	sa_body(&b);
	buf_put_u8(&b, 0);
	sa_fails(&b, "data after the last proposal");
	/* proposal body: SPI size, SPI past the proposal, no transforms */
	sa_body(&b);
	b.data[14] = 17;
	sa_fails(&b, "SPI size too large");
	sa_body(&b);
	b.data[14] = 16;
	put_u16(b.data + 10, 20);
	b.len = 28;
	sa_fails(&b, "SPI past the proposal");
	sa_body(&b);
	b.data[15] = 0;
	sa_fails(&b, "proposal without transforms");

	/* transforms: header, chain against the count, leftovers */
	sa_body(&b);
	put_u16(b.data + 22, 7);
	sa_fails(&b, "malformed transform payload header");
	sa_body(&b);
	b.data[20] = ISAKMP_PL_P;
	sa_fails(&b, "malformed transform payload header");
	sa_body(&b);
	b.data[15] = 2;		/* two announced, the chain ends after one */
	sa_fails(&b, "transform count");
	sa_body(&b);
	b.data[20] = ISAKMP_PL_T;	/* the chain goes on, one announced */
	sa_fails(&b, "transform count");
	sa_body(&b);
	put_u16(b.data + 22, 12);	/* the variable attribute left outside */
	sa_fails(&b, "data after the last transform");

	/* attributes: truncated, too long, too many */
	sa_body(&b);
	put_u16(b.data + 34, 5);
	sa_fails(&b, "truncated data attribute");
	sa_body(&b);
	put_u16(b.data + 22, 10);	/* transform ends inside the basic attribute */
	put_u16(b.data + 10, 22);
	b.len = 30;
	sa_fails(&b, "truncated data attribute");

	struct isakmp_builder k;
	uint8_t big[300] = { 0 };
	for (int round = 0; round < 2; round++) {
		isb_init(&k);
		size_t sa = isb_sa_begin(&k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
		size_t p = isb_proposal_begin(&k.b, true, 1, ISAKMP_PROTO_ISAKMP, NULL, 0, 1);
		size_t t = isb_transform_begin(&k.b, true, 1, 1);
		if (round == 0)
			isb_attr_var(&k.b, 16, big, 257);
		else
			for (int i = 0; i < ISAKMP_MAX_ATTRS + 1; i++)
				isb_attr_basic(&k.b, 1, 7);
		isb_sub_end(&k.b, t);
		isb_sub_end(&k.b, p);
		isb_end(&k, sa);
		buf_reset(&b);
		buf_put(&b, k.b.data, k.b.len);
		expect_fail(ISAKMP_PL_SA, &b, 0,
			    round == 0 ? "variable attribute too long" : "too many attributes");
		isb_free(&k);
	}

	/* proposals: too many, decreasing numbers */
	for (int round = 0; round < 2; round++) {
		size_t n = round == 0 ? ISAKMP_MAX_PROPOSALS + 1 : 2;
		isb_init(&k);
		size_t sa = isb_sa_begin(&k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
		for (size_t i = 0; i < n; i++) {
			uint8_t num = round == 0 ? (uint8_t)(i + 1) : (uint8_t)(2 - i);
			size_t p = isb_proposal_begin(&k.b, i + 1 == n, num, ISAKMP_PROTO_ESP,
						      spi4, 4, 1);
			isb_sub_end(&k.b, isb_transform_begin(&k.b, true, 1, 12));
			isb_sub_end(&k.b, p);
		}
		isb_end(&k, sa);
		buf_reset(&b);
		buf_put(&b, k.b.data, k.b.len);
		expect_fail(ISAKMP_PL_SA, &b, 0,
			    round == 0 ? "too many proposals" : "proposal numbers decrease");
		isb_free(&k);
	}
	buf_free(&b);
}

static void test_attr_u32(void **state)
{
	struct isakmp_attr a = { .basic = true, .value = 28800 };
	uint32_t v;
	assert_int_equal(isakmp_attr_u32(&a, &v), 0);
	assert_int_equal(v, 28800);
	const uint8_t eight[8] = { 0, 0, 0, 1, 0, 0, 0, 0 }, two[2] = { 1, 2 };
	a = (struct isakmp_attr){ .data = eight, .len = 8 };
	assert_int_equal(isakmp_attr_u32(&a, &v), 0);
	assert_int_equal(v, UINT32_MAX);	/* saturates */
	a.data = two;
	a.len = 2;
	assert_int_equal(isakmp_attr_u32(&a, &v), 0);
	assert_int_equal(v, 0x102);
	a.len = 0;
	assert_int_equal(isakmp_attr_u32(&a, &v), -1);
	a.len = 9;
	assert_int_equal(isakmp_attr_u32(&a, &v), -1);
}

static void id_sel(uint8_t type, const char *data_hex, int want_rc, const char *want)
{
	uint8_t d[32];
	size_t n = 0;
	for (const char *s = data_hex; s[0] && s[1]; s += 2) {
		unsigned int x;
		sscanf(s, "%2x", &x);
		d[n++] = (uint8_t)x;
	}
	struct isakmp_id id = { .type = type, .proto = 6, .port = 80, .data = d, .len = n };
	struct selector sel;
	char buf[SELECTOR_STRLEN];
	assert_int_equal(isakmp_id_to_selector(&id, &sel), want_rc);
	if (want_rc == 0) {
		selector_fmt(&sel, buf, sizeof(buf));
		if (strcmp(buf, want) != 0)
			fail_msg("got %s, want %s", buf, want);
		assert_int_equal(sel.port_lo, 80);
		assert_int_equal(sel.port_hi, 80);
	}
}

static void test_id_selectors(void **state)
{
	id_sel(ISAKMP_ID_IPV4_ADDR, "c0000201", 0, "192.0.2.1/32[tcp/80]");
	id_sel(ISAKMP_ID_IPV4_ADDR_SUBNET, "0a010203ffff0000", 0, "10.1.0.0/16[tcp/80]");
	id_sel(ISAKMP_ID_IPV4_ADDR_SUBNET, "0a010203ff00ff00", -1, "");	/* holes */
	id_sel(ISAKMP_ID_IPV4_ADDR_RANGE, "0a0000010a000009", 0, "10.0.0.1..10.0.0.9[tcp/80]");
	id_sel(ISAKMP_ID_IPV4_ADDR_RANGE, "0a0000090a000001", -1, "");	/* reversed */
	id_sel(ISAKMP_ID_IPV6_ADDR_SUBNET,
	       "20010db8000000000000000000000001ffffffffffffffff0000000000000000", 0,
	       "2001:db8::/64[tcp/80]");
	id_sel(ISAKMP_ID_IPV4_ADDR, "c00002", -1, "");
	id_sel(ISAKMP_ID_FQDN, "6161", -1, "");
	/* port 0 is any port */
	struct isakmp_id id = { .type = ISAKMP_ID_IPV4_ADDR, .data = (const uint8_t *)"\1\2\3\4",
				.len = 4 };
	struct selector sel;
	assert_int_equal(isakmp_id_to_selector(&id, &sel), 0);
	assert_int_equal(sel.port_lo, 0);
	assert_int_equal(sel.port_hi, 65535);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_all),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_chain_errors),
		cmocka_unit_test(test_payload_errors),
		cmocka_unit_test(test_sa_errors),
		cmocka_unit_test(test_attr_u32),
		cmocka_unit_test(test_id_selectors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
