/* The rules as the fast path reads them (nat/fast_plan.c): which sources it may
 * translate alone and to what, which destinations and ports stay the core's,
 * checked against what the core itself does with the same rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/fast_plan.h"
#include "nat/inspect.h"
#include "tests/unit/nat_test.h"

static struct nat_fast_plan plan;

static struct nat_rules *rules(const char *body)
{
	char text[4096], err[256];
	snprintf(text, sizeof(text),
		 "tsunagi {\n nat {\n inside = lan0\n outside = wan0\n rules {\n%s }\n }\n}\n", body);
	struct nat_rules *r = nat_test_rules(text, err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	return r;
}

/* May the fast path make the flow of a SYN from src? Its public address, or 0. */
static uint32_t pub_of(const char *src)
{
	const struct nat_plan_src *s = nat_plan_src_find(&plan, A(src));
	return s && !s->punt ? s->pub : 0;
}

static bool dst_punted(const char *dst)
{
	for (size_t i = 0; i < plan.n_dst; i++) {
		uint32_t mask = plan.dst[i].plen ? ~0u << (32 - plan.dst[i].plen) : 0;
		if ((A(dst) & mask) == plan.dst[i].addr)
			return true;
	}
	return false;
}

/* The test configuration of every NAT test: exempt, forward, static, dynamic, PAT. */
static void test_default_rules(void **state)
{
	(void)state;
	char err[256];
	struct nat_rules *r = nat_test_rules(NAT_CONF_DEFAULT, err, sizeof(err));
	assert_int_equal(nat_fast_plan(r, &plan), 0);
	/* lan (PAT to wan0) takes 10.1.0.0/16 but for what static and dynamic hold. */
	assert_int_equal(pub_of("10.1.0.10"), A(GW_OUT));
	assert_int_equal(pub_of("10.1.9.5"), 0);	/* static */
	assert_int_equal(pub_of("10.1.3.5"), 0);	/* dynamic pool */
	assert_int_equal(pub_of("10.2.0.1"), 0);	/* no rule */
	assert_int_equal(nat_plan_src_find(&plan, A("10.1.0.10"))->rule, 4);
	/* Exempt remotes and the static rule's published network stay the core's. */
	assert_true(dst_punted("10.99.1.1"));
	assert_true(dst_punted("198.51.100.7"));
	assert_false(dst_punted("198.18.0.7"));
	/* FTP, SIP and PPTP's ports, not HTTP's; the forward's public port. */
	assert_true(nat_plan_bit(plan.punt_dport, 21));
	assert_true(nat_plan_bit(plan.punt_dport, 5060));
	assert_true(nat_plan_bit(plan.punt_dport, 1723));
	assert_false(nat_plan_bit(plan.punt_dport, 80));
	assert_false(nat_plan_bit(plan.punt_dport, 53));	/* DNS: UDP only */
	assert_true(nat_plan_bit(plan.resv_port, 8080));
	assert_false(nat_plan_bit(plan.resv_port, 8081));
	assert_int_equal(plan.lo, NAT_FAST_PORT_LO);
	assert_int_equal(plan.hi, 65535);
	nat_rules_free(r);
}

/* First match, as the core: a later rule's longer prefix does not take the
 * sources of an earlier rule; pools, remotes and a missing address punt. */
static void test_order_and_kinds(void **state)
{
	(void)state;
	struct nat_rules *r = rules(
	    " a { type = pat\n private = 10.0.0.0/8\n public = wan0 }\n"
	    " b { type = pat\n private = 10.5.0.0/16\n public = 192.0.2.1 }\n"
	    " c { type = pat\n private = 172.16.0.0/12\n public = 192.0.2.1-192.0.2.4 }\n"
	    " d { type = pat\n private = 192.168.0.0/16\n remote = 198.18.0.0/15\n public = wan0 }\n"
	    " e { type = pat\n private = 192.168.0.0/16\n public = wan0 }\n"
	    " f { type = pat\n private = 100.64.0.0/10\n public = 192.0.2.9 }\n");
	assert_int_equal(nat_fast_plan(r, &plan), 0);
	assert_int_equal(pub_of("10.5.1.1"), A(GW_OUT));	/* a, not b */
	assert_int_equal(pub_of("172.16.1.1"), 0);	/* a pool */
	assert_int_equal(pub_of("192.168.1.1"), 0);	/* d first, by destination */
	assert_int_equal(pub_of("100.64.0.1"), A("192.0.2.9"));
	/* The outside interface without an address yet: the core's. */
	nat_rules_set_iface_addr(r, "wan0", 0);
	assert_int_equal(nat_fast_plan(r, &plan), 0);
	assert_int_equal(pub_of("10.1.1.1"), 0);
	nat_rules_free(r);
}

/* An exemption without remotes takes its sources whatever the destination;
 * a disabled engine's port is plain; too many networks: nothing fast. */
static void test_exempt_engines_overflow(void **state)
{
	(void)state;
	struct nat_rules *r = rules(
	    " x { type = exempt\n private = 10.1.2.0/24 }\n"
	    " a { type = pat\n private = 10.1.0.0/16\n public = wan0 }\n");
	r->inspect[nat_engine_find("ftp")].enabled = false;
	assert_int_equal(nat_fast_plan(r, &plan), 0);
	assert_int_equal(pub_of("10.1.2.3"), 0);
	assert_int_equal(pub_of("10.1.3.3"), A(GW_OUT));
	assert_false(nat_plan_bit(plan.punt_dport, 21));
	nat_rules_free(r);

	char *body = malloc(64 * 1024);
	size_t off = 0;
	for (int i = 0; i < 20; i++) {
		off += (size_t)sprintf(body + off, " r%d { type = pat\n private = ", i);
		for (int k = 0; k < 16; k++)
			off += (size_t)sprintf(body + off, "%s10.%d.%d.0/24", k ? ", " : "", i, k);
		off += (size_t)sprintf(body + off, "\n public = wan0 }\n");
	}
	char text[70 * 1024], err[256];
	snprintf(text, sizeof(text),
		 "tsunagi {\n nat {\n inside = lan0\n outside = wan0\n rules {\n%s }\n }\n}\n", body);
	free(body);
	r = nat_test_rules(text, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(nat_fast_plan(r, &plan), -1);
	assert_int_equal(plan.n_src, 0);
	assert_null(nat_plan_src_find(&plan, A("10.0.0.1")));
	nat_rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_rules),
		cmocka_unit_test(test_order_and_kinds),
		cmocka_unit_test(test_exempt_engines_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
