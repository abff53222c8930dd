/* ike/ikev2_cp.c: the configuration payload codec. A request and a reply as strongSwan
 * and Windows send them, IPv6 attributes read, unknown, repeated and malformed
 * attributes skipped and counted, a truncated attribute, and the builder's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ike/ikev2_cp.h"

static size_t attr(uint8_t *p, uint16_t type, const void *v, size_t len)
{
	p[0] = (uint8_t)(type >> 8);
	p[1] = (uint8_t)type;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	if (len)
		memcpy(p + 4, v, len);
	return 4 + len;
}

static const char *ntop(const struct addr *a)
{
	static char buf[4][64];
	static int i;
	i = (i + 1) % 4;
	return addr_ntop(a, buf[i], sizeof(buf[i]));
}

static void test_request(void **state)
{
	(void)state;
	/* strongSwan with vips = 0.0.0.0, :: plus an R bit set on one attribute, and the
	 * Windows APPLICATION_VERSION. */
	uint8_t m[128] = { CFG_REQUEST, 0, 0, 0 };
	size_t n = 4;
	n += attr(m + n, INTERNAL_IP4_ADDRESS, NULL, 0);
	n += attr(m + n, INTERNAL_IP6_ADDRESS, NULL, 0);
	n += attr(m + n, 0x8000 | INTERNAL_IP4_DNS, NULL, 0);
	n += attr(m + n, INTERNAL_IP6_DNS, NULL, 0);
	n += attr(m + n, APPLICATION_VERSION, "Windows", 7);
	n += attr(m + n, INTERNAL_IP4_SUBNET, NULL, 0);
	struct ikev2_cp cp;
	const char *err = NULL;
	assert_int_equal(ikev2_cp_parse(m, n, &cp, &err), 0);
	assert_int_equal(cp.type, CFG_REQUEST);
	assert_true(cp.want_ip4 && cp.want_ip6 && cp.want_dns4 && cp.want_dns6);
	assert_true(cp.want_subnet4);
	assert_false(cp.want_netmask);
	assert_int_equal(cp.ip4.family, 0);
	assert_int_equal(cp.n_unknown + cp.n_repeated + cp.n_malformed, 0);
	assert_null(cp.bad_why);
}

static void test_reply_round_trip(void **state)
{
	(void)state;
	struct ikev2_cp out = { .type = CFG_REPLY };
	addr_parse("10.3.0.1", &out.ip4);
	addr_parse("255.255.255.0", &out.netmask);
	addr_parse("10.1.0.53", &out.dns[0]);
	addr_parse("fd00::53", &out.dns[1]);
	out.n_dns = 2;
	addr_parse("10.1.0.10", &out.nbns[0]);
	out.n_nbns = 1;
	assert_int_equal(selector_parse("10.1.0.0/16", &out.subnets[0]), 0);
	assert_int_equal(selector_parse("fd01::/48", &out.subnets[1]), 0);
	out.n_subnets = 2;
	addr_parse("fd00:3::5", &out.ip6);
	out.ip6_prefix = 64;
	struct ikev2_builder k;
	ikb_init(&k);
	ikb_cp(&k, &out);
	assert_int_equal(k.first, PL_CP);
	/* header 4 + type 4, then: ip4 8, ip6 21, netmask 8, dns 8 + 20, nbns 8,
	 * subnet4 12, subnet6 21 */
	assert_int_equal(k.b.len, 8 + 8 + 21 + 8 + 8 + 20 + 8 + 12 + 21);
	struct ikev2_cp in;
	const char *err = NULL;
	assert_int_equal(ikev2_cp_parse(k.b.data + 4, k.b.len - 4, &in, &err), 0);
	assert_int_equal(in.type, CFG_REPLY);
	assert_string_equal(ntop(&in.ip4), "10.3.0.1");
	assert_string_equal(ntop(&in.ip6), "fd00:3::5");
	assert_int_equal(in.ip6_prefix, 64);
	assert_string_equal(ntop(&in.netmask), "255.255.255.0");
	assert_int_equal(in.n_dns, 2);
	assert_string_equal(ntop(&in.dns[1]), "fd00::53");
	assert_string_equal(ntop(&in.nbns[0]), "10.1.0.10");
	assert_int_equal(in.n_subnets, 2);
	assert_true(selector_equal(&in.subnets[0], &out.subnets[0]));
	assert_true(selector_equal(&in.subnets[1], &out.subnets[1]));
	ikb_free(&k);

	/* A request built by the client side: empty attributes, and the hint. */
	struct ikev2_cp req = { .type = CFG_REQUEST, .want_ip4 = true, .want_dns4 = true };
	addr_parse("10.3.0.9", &req.ip4);
	ikb_init(&k);
	ikb_cp(&k, &req);
	assert_int_equal(k.b.len, 4 + 4 + 8 + 4);
	assert_int_equal(ikev2_cp_parse(k.b.data + 4, k.b.len - 4, &in, &err), 0);
	assert_true(in.want_ip4 && in.want_dns4 && !in.want_ip6);
	assert_string_equal(ntop(&in.ip4), "10.3.0.9");
	ikb_free(&k);
}

static void test_bad_attributes(void **state)
{
	(void)state;
	uint8_t m[256] = { CFG_REQUEST, 0, 0, 0 };
	size_t n = 4;
	n += attr(m + n, INTERNAL_IP4_ADDRESS, "\x0a\x03", 2);	/* malformed */
	n += attr(m + n, INTERNAL_IP4_ADDRESS, NULL, 0);
	n += attr(m + n, INTERNAL_IP4_ADDRESS, "\x0a\x03\x00\x07", 4);	/* repeated */
	n += attr(m + n, 9999, "xyz", 3);				/* unknown */
	n += attr(m + n, INTERNAL_IP4_NETMASK, "\xff", 1);		/* malformed */
	n += attr(m + n, INTERNAL_IP6_SUBNET, "0123456789abcdef\xff", 17); /* prefix 255 */
	n += attr(m + n, INTERNAL_IP4_DNS, NULL, 0);
	struct ikev2_cp cp;
	const char *err = NULL;
	assert_int_equal(ikev2_cp_parse(m, n, &cp, &err), 0);
	assert_int_equal(cp.n_malformed, 3);
	assert_int_equal(cp.n_repeated, 1);
	assert_int_equal(cp.n_unknown, 1);
	assert_int_equal(cp.bad_type, INTERNAL_IP4_ADDRESS);
	assert_string_equal(cp.bad_why, "wrong length");
	assert_true(cp.want_ip4 && cp.want_dns4);
	assert_int_equal(cp.ip4.family, 0);	/* the repeated one's value is not taken */
	assert_string_equal(ikev2_cfg_attr_name(9999), "unknown");

	/* An attribute longer than the payload: counted, the rest not read. */
	n = 4;
	n += attr(m + n, INTERNAL_IP4_DNS, NULL, 0);
	memcpy(m + n, "\x00\x01\x00\x10\x0a", 5);
	assert_int_equal(ikev2_cp_parse(m, n + 5, &cp, &err), 0);
	assert_int_equal(cp.n_malformed, 1);
	assert_string_equal(cp.bad_why, "truncated");
	assert_false(cp.want_ip4);
	/* Shorter than the CP header. */
	assert_int_equal(ikev2_cp_parse(m, 3, &cp, &err), -1);
	assert_string_equal(err, "configuration payload shorter than its header");
	/* Many DNS servers: the first ones kept, no overflow. */
	n = 4;
	for (int i = 0; i < 30; i++)
		n += attr(m + n, INTERNAL_IP4_DNS, "\x0a\x00\x00\x01", 4);
	assert_int_equal(ikev2_cp_parse(m, n, &cp, &err), 0);
	assert_int_equal(cp.n_dns, CP_MAX_SERVERS * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_bad_attributes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
