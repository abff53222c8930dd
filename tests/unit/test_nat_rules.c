/* Loading tsunagi { nat { } }: what each rule becomes, and every refusal with
 * the file:line of the key or rule at fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/nat_test.h"

static void test_defaults_and_order(void **state)
{
	char err[256] = "";
	struct nat_rules *r = nat_test_rules(NAT_CONF_DEFAULT, err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	assert_int_equal(r->n_rules, 5);
	/* Tried by kind: exempt, forward, static, dynamic, pat. */
	assert_string_equal(r->rule[0].name, "vpn");
	assert_int_equal(r->rule[0].kind, NAT_RULE_EXEMPT);
	assert_int_equal(r->rule[1].kind, NAT_RULE_FORWARD);
	assert_int_equal(r->rule[1].proto, 6);
	assert_int_equal(r->rule[1].pub_port, 8080);
	assert_int_equal(r->rule[1].priv_port, 80);
	assert_int_equal(r->rule[1].pub_if, 0);
	assert_int_equal(r->rule[2].kind, NAT_RULE_STATIC);
	assert_int_equal(r->rule[2].pub_lo, A("198.51.100.0"));
	assert_int_equal(r->rule[2].pub_hi, A("198.51.100.255"));
	assert_int_equal(r->rule[3].kind, NAT_RULE_DYNAMIC);
	assert_int_equal(r->rule[3].pub_hi, A("192.0.2.11"));
	assert_int_equal(r->rule[4].kind, NAT_RULE_PAT);
	assert_string_equal(r->rule[4].file, "nat.conf");
	assert_int_equal(r->rule[4].line, 21);
	assert_true(r->hairpin);
	assert_true(r->fastpath);
	assert_int_equal(r->fastpath_forward, NAT_FWD_AUTO);
	assert_int_equal(r->max_flows, 65536);
	assert_int_equal(r->queues, 2);
	/* PIX timeouts. */
	assert_int_equal(r->timeouts.xlate, 3 * 3600);
	assert_int_equal(r->timeouts.tcp, 3600);
	assert_int_equal(r->timeouts.tcp_half_closed, 600);
	assert_int_equal(r->timeouts.udp, 120);
	assert_int_equal(r->timeouts.sip, 1800);
	assert_int_equal(r->timeouts.sip_media, 120);
	assert_int_equal(r->timeouts.h225, 3600);
	assert_int_equal(r->timeouts.mgcp, 300);
	assert_true(nat_rules_is_local(r, A(GW_OUT)));
	assert_true(nat_rules_is_local(r, A(GW_IN)));
	assert_false(nat_rules_is_local(r, A("192.0.2.10")));
	nat_rules_free(r);
	(void)state;
}

static void test_settings(void **state)
{
	char err[256] = "";
	struct nat_rules *r = nat_test_rules(
		"tsunagi {\n nat {\n  inside = lan0, lan1\n  outside = wan0\n  hairpin = no\n"
		"  max_flows = 1000000\n  timeouts {\n   udp = 30s\n   tcp = 2h\n   icmp = 5s\n  }\n"
		" }\n}\n", err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	assert_int_equal(r->n_inside, 2);
	assert_string_equal(r->inside[1], "lan1");
	assert_false(r->hairpin);
	assert_int_equal(r->max_flows, 1000000);
	assert_int_equal(r->timeouts.udp, 30);
	assert_int_equal(r->timeouts.tcp, 7200);
	assert_int_equal(r->timeouts.icmp, 5);
	assert_int_equal(r->n_rules, 0);
	assert_int_equal(nat_rules_set_iface_addr(r, "eth9", 1), -1);
	nat_rules_free(r);
	(void)state;
}

/* A configuration whose rule section is body, on line 4 onwards. */
static void expect_error(const char *body, const char *want)
{
	char text[2048], err[256] = "";
	snprintf(text, sizeof(text),
		 "tsunagi {\n nat {\n  inside = lan0\n  outside = wan0\n  rules {\n%s  }\n }\n}\n",
		 body);
	struct nat_rules *r = nat_test_rules(text, err, sizeof(err));
	if (r)
		fail_msg("accepted: %s", body);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_rule_errors(void **state)
{
	/* Exemption with ports: refused at load time, at the rule's line. */
	expect_error("   x {\n    type = exempt\n    private = 10.0.0.0/8\n    proto = tcp\n   }\n",
		     "nat.conf:6: tsunagi nat rule 'x': an exemption is by address only");
	expect_error("   x {\n    type = exempt\n    private = 10.0.0.0/8\n    private_port = 80\n"
		     "   }\n", "nat.conf:6: tsunagi nat rule 'x': an exemption is by address only");
	/* A port written into an address: at the key's line. */
	expect_error("   x {\n    type = exempt\n    private = 10.0.0.0/8:80\n   }\n",
		     "nat.conf:8: tsunagi nat rule 'x': '10.0.0.0/8:80': networks only");
	expect_error("   x {\n    private = 10.0.0.0/8\n   }\n", "nat.conf:6: tsunagi nat rule 'x': "
		     "'type' is missing");
	expect_error("   x {\n    type = masquerade\n   }\n",
		     "nat.conf:7: tsunagi nat rule 'x': invalid type 'masquerade'");
	expect_error("   x {\n    type = pat\n    private = 10.0.0.0/8\n    public = eth7\n   }\n",
		     "nat.conf:9: tsunagi nat rule 'x': invalid public 'eth7'");
	expect_error("   x {\n    type = pat\n    private = 10.0.0.1/8\n    public = wan0\n   }\n",
		     "nat.conf:8: tsunagi nat rule 'x': invalid IPv4 network '10.0.0.1/8'");
	expect_error("   x {\n    type = pat\n    private = 10.0.0.0/8\n   }\n",
		     "nat.conf:6: tsunagi nat rule 'x': 'public' is missing");
	expect_error("   x {\n    type = pat\n    private = 10.0.0.0/8\n    public = wan0\n"
		     "    color = red\n   }\n", "nat.conf:10: tsunagi nat rule 'x': unknown key 'color'");
	expect_error("   x {\n    type = static\n    private = 10.0.0.0/24\n"
		     "    public = 198.51.100.0/25\n   }\n", "must be the size of 'private'");
	expect_error("   x {\n    type = forward\n    proto = udp\n    private = 10.0.0.5\n"
		     "    private_port = 500\n    public = wan0\n    public_port = 500\n   }\n",
		     "nat.conf:6: tsunagi nat rule 'x': UDP 500 and 4500 are tsunagid's own IKE ports");
	expect_error("   x {\n    type = forward\n    proto = sctp\n   }\n", "invalid proto 'sctp'");
	expect_error("   x {\n    type = forward\n    proto = tcp\n    private = 10.0.0.0/24\n"
		     "    private_port = 80\n    public = wan0\n    public_port = 80\n   }\n",
		     "a forward's 'private' is one address");
	expect_error("   x {\n    type = dynamic\n    private = 10.0.0.0/8\n"
		     "    public = 198.51.0.0/16\n   }\n", "at most 4096 addresses");
	expect_error("   x {\n    type = pat\n    private = 10.0.0.0/8\n    public = wan0\n"
		     "    public_port = 99999\n   }\n", "nat.conf:10:");
	(void)state;
}

static void test_section_errors(void **state)
{
	char err[256] = "";
	assert_null(nat_test_rules("tsunagi {\n nat {\n  inside = lan0\n }\n}\n", err, sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:2: tsunagi nat: 'inside' and 'outside'"));
	assert_null(nat_test_rules("tsunagi {\n nat {\n  inside = lan0\n  outside = lan0\n }\n}\n",
				   err, sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:4: tsunagi nat: invalid, repeated"));
	assert_null(nat_test_rules("tsunagi {\n nat {\n  timeouts {\n   udp = 0\n  }\n }\n}\n",
				   err, sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:4: tsunagi nat: a timeout of 0"));
	assert_null(nat_test_rules("tsunagi {\n nat {\n  timeouts {\n   gre = 1m\n  }\n }\n}\n",
				   err, sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:4: tsunagi nat: unknown key 'gre'"));
	assert_null(nat_test_rules("tsunagi {\n nat {\n  max_flows = 3\n }\n}\n", err, sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:3: tsunagi nat: max_flows must be"));
	assert_null(nat_test_rules("tsunagi {\n nat {\n  queues = 0\n }\n}\n", err, sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:3: tsunagi nat: queues must be 1..8"));
	assert_null(nat_test_rules("tsunagi {\n nat {\n  queues = 9\n }\n}\n", err, sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:3: tsunagi nat: queues must be 1..8"));
	assert_null(nat_test_rules("tsunagi {\n nat = yes\n}\n", err, sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:2: tsunagi: 'nat' must be a section"));
	/* No nat section: no rules at all. */
	assert_null(nat_test_rules("tsunagi {\n port = 500\n}\n", err, sizeof(err)));
	(void)state;
}

/* fastpath = yes | redirect | rewrite | no: the fast path on or off, and who
 * forwards what it rewrites. */
static void test_fastpath_modes(void **state)
{
	static const struct { const char *v; bool on; int fwd; } modes[] = {
		{ "yes", true, NAT_FWD_AUTO }, { "redirect", true, NAT_FWD_ALWAYS },
		{ "rewrite", true, NAT_FWD_NEVER }, { "no", false, NAT_FWD_AUTO },
	};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char text[256], err[256] = "";
		snprintf(text, sizeof(text), "tsunagi {\n nat {\n  inside = lan0\n  outside = wan0\n  fastpath = %s\n }\n}\n", modes[i].v);
		struct nat_rules *r = nat_test_rules(text, err, sizeof(err));
		if (!r)
			fail_msg("fastpath = %s: %s", modes[i].v, err);
		assert_int_equal(r->fastpath, modes[i].on);
		assert_int_equal(r->fastpath_forward, modes[i].fwd);
		nat_rules_free(r);
	}
	char err[256] = "";
	assert_null(nat_test_rules("tsunagi {\n nat {\n  inside = lan0\n  outside = wan0\n  fastpath = always\n }\n}\n", err,
				   sizeof(err)));
	assert_non_null(strstr(err, "nat.conf:5: tsunagi nat: invalid fastpath 'always' "
				    "(yes, redirect, rewrite or no)"));
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_order),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_fastpath_modes),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_section_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
