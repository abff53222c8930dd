/* lib/: buffers, addresses, selectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <arpa/inet.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/selector.h"

static void test_reader_overrun_sets_err(void **state)
{
	const uint8_t data[3] = { 1, 2, 3 };
	struct rd r;
	rd_init(&r, data, sizeof(data));
	assert_int_equal(rd_u16(&r), 0x0102);
	assert_false(r.err);
	assert_int_equal(rd_u16(&r), 0);
	assert_true(r.err);
	assert_int_equal(rd_left(&r), 0);
	assert_null(rd_bytes(&r, 0 + 1));
}

static void test_reader_sub(void **state)
{
	const uint8_t data[6] = { 0, 4, 9, 9, 9, 9 };
	struct rd r, s;
	rd_init(&r, data, sizeof(data));
	uint16_t n = rd_u16(&r);
	s = rd_sub(&r, n);
	assert_false(s.err);
	assert_int_equal(rd_u32(&s), 0x09090909);
	assert_int_equal(rd_left(&r), 0);
	rd_init(&r, data, 3);
	rd_u16(&r);
	s = rd_sub(&r, 4);
	assert_true(s.err);
	assert_true(r.err);
}

static void test_buf_roundtrip_and_patch(void **state)
{
	struct buf b;
	buf_init(&b);
	buf_put_u8(&b, 0xaa);
	size_t off = b.len;
	buf_put_u16(&b, 0);
	buf_put_u32(&b, 0x01020304);
	buf_put_u64(&b, 0x1122334455667788ull);
	buf_set_u16(&b, off, (uint16_t)b.len);
	struct rd r;
	rd_init(&r, b.data, b.len);
	assert_int_equal(rd_u8(&r), 0xaa);
	assert_int_equal(rd_u16(&r), 15);
	assert_int_equal(rd_u32(&r), 0x01020304);
	assert_true(rd_u64(&r) == 0x1122334455667788ull);
	assert_false(r.err);
	buf_free(&b);
}

static void test_addr_fmt(void **state)
{
	struct addr a;
	char s[ADDR_STRLEN];
	assert_int_equal(addr_parse("192.0.2.1", &a), 0);
	a.port = 4500;
	assert_string_equal(addr_fmt(&a, s, sizeof(s)), "192.0.2.1[4500]");
	assert_int_equal(addr_parse("2001:db8::1", &a), 0);
	assert_string_equal(addr_ntop(&a, s, sizeof(s)), "2001:db8::1");
	assert_int_equal(addr_parse("300.1.1.1", &a), -1);
}

static void test_selector_parse_fmt(void **state)
{
	struct selector s;
	char out[SELECTOR_STRLEN];
	assert_int_equal(selector_parse("10.1.0.0/16", &s), 0);
	assert_string_equal(selector_fmt(&s, out, sizeof(out)), "10.1.0.0/16");
	assert_int_equal(selector_parse("10.1.2.3/16", &s), 0);
	assert_string_equal(selector_fmt(&s, out, sizeof(out)), "10.1.0.0/16");
	assert_int_equal(selector_parse("10.0.0.0/8[tcp/80]", &s), 0);
	assert_string_equal(selector_fmt(&s, out, sizeof(out)), "10.0.0.0/8[tcp/80]");
	assert_int_equal(selector_parse("10.0.0.1-10.0.0.9", &s), 0);
	assert_string_equal(selector_fmt(&s, out, sizeof(out)), "10.0.0.1..10.0.0.9");
	assert_int_equal(selector_parse("::/0[udp/500-510]", &s), 0);
	assert_int_equal(s.port_lo, 500);
	assert_int_equal(s.port_hi, 510);
	/* One address with a protocol and ports keeps them (a host selector was built
	 * over them, wiping both: "10.1.0.5[tcp/80]" became all of 10.1.0.5). */
	assert_int_equal(selector_parse("10.1.0.5[tcp/80]", &s), 0);
	assert_string_equal(selector_fmt(&s, out, sizeof(out)), "10.1.0.5/32[tcp/80]");
	assert_int_equal(s.proto, IPPROTO_TCP);
	assert_int_equal(s.port_lo, 80);
	assert_int_equal(s.port_hi, 80);
	assert_int_equal(selector_parse("2001:db8::1[udp]", &s), 0);
	assert_int_equal(s.proto, IPPROTO_UDP);
	assert_int_equal(s.port_lo, 0);
	assert_int_equal(s.port_hi, 65535);
	assert_int_equal(selector_parse("10.0.0.0/33", &s), -1);
	assert_int_equal(selector_parse("10.0.0.0/8[tcp/80", &s), -1);
	assert_int_equal(selector_parse("10.0.0.9-10.0.0.1", &s), -1);
	assert_int_equal(selector_parse("10.0.0.0/8[bogus]", &s), -1);
}

static void test_selector_narrowing(void **state)
{
	struct selector a, b, c;
	char out[SELECTOR_STRLEN];
	selector_parse("10.0.0.0/8", &a);
	selector_parse("10.1.0.0/16[tcp]", &b);
	assert_true(selector_intersect(&a, &b, &c));
	assert_string_equal(selector_fmt(&c, out, sizeof(out)), "10.1.0.0/16[tcp]");
	assert_true(selector_within(&c, &a));
	assert_false(selector_within(&a, &c));
	selector_parse("192.0.2.0/24", &b);
	assert_false(selector_intersect(&a, &b, &c));
	selector_parse("10.0.0.0/8[udp]", &b);
	selector_parse("10.0.0.0/8[tcp]", &c);
	assert_false(selector_intersect(&b, &c, &a));
}

static void test_selector_common_prefix(void **state)
{
	struct selector s;
	selector_parse("10.1.0.0/16", &s);
	assert_int_equal(selector_common_prefix(&s), 16);
	selector_parse("10.0.0.1-10.0.0.9", &s);	/* ...0001 to ...1001: 28 bits */
	assert_int_equal(selector_common_prefix(&s), 28);
	assert_int_equal(selector_prefixlen(&s), -1);
	selector_parse("0.0.0.0/0", &s);
	assert_int_equal(selector_common_prefix(&s), 0);
	selector_parse("2001:db8::1", &s);
	assert_int_equal(selector_common_prefix(&s), 128);
}

static void test_selector_match(void **state)
{
	struct selector s;
	uint8_t in[4], out[4];
	inet_pton(AF_INET, "10.1.200.7", in);
	inet_pton(AF_INET, "10.2.0.1", out);
	selector_parse("10.1.0.0/16[tcp/22]", &s);
	assert_true(selector_match(&s, AF_INET, in, 6, 22));
	assert_false(selector_match(&s, AF_INET, in, 6, 23));
	assert_false(selector_match(&s, AF_INET, in, 17, 22));
	assert_false(selector_match(&s, AF_INET, out, 6, 22));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_overrun_sets_err),
		cmocka_unit_test(test_reader_sub),
		cmocka_unit_test(test_buf_roundtrip_and_patch),
		cmocka_unit_test(test_addr_fmt),
		cmocka_unit_test(test_selector_parse_fmt),
		cmocka_unit_test(test_selector_narrowing),
		cmocka_unit_test(test_selector_common_prefix),
		cmocka_unit_test(test_selector_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
