/* daemon/nat_fw_verdict.c: whether anything besides tsunagid's own rules would
 * see a forwarded IPv4 packet, decided from a parsed view of the kernel's state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>

#include "daemon/nat_fw_check.h"

/* A base chain with n_rules rules, n_ours of them tsunagid's jump. */
static struct fw_chain chain(uint8_t family, const char *table, const char *name, uint32_t hook,
			     bool drop, unsigned n_rules, unsigned n_ours)
{
	struct fw_chain c = { .family = family, .hook = hook, .drop = drop, .n_rules = n_rules,
			      .n_ours = n_ours };
	snprintf(c.table, sizeof(c.table), "%s", table);
	snprintf(c.name, sizeof(c.name), "%s", name);
	return c;
}

static struct fw_chain raw_pre(unsigned n_rules, unsigned n_ours)
{
	return chain(NFPROTO_IPV4, "raw", "PREROUTING", NF_INET_PRE_ROUTING, false, n_rules, n_ours);
}

static struct nat_fw_verdict judge(const struct fw_chain *c, size_t n)
{
	struct fw_view w = { .chains = c, .n_chains = n };
	struct nat_fw_verdict v;
	memset(&v, 0xa5, sizeof(v));
	fw_verdict(&w, &v);
	return v;
}

static void assert_not_quiet(struct nat_fw_verdict v, const char *why)
{
	assert_false(v.quiet);
	assert_string_equal(v.why, why);
}

static void test_empty_is_quiet(void **state)
{
	struct nat_fw_verdict v = judge(NULL, 0);
	assert_true(v.quiet);
	assert_string_equal(v.why, "");
}

static void test_only_our_jump_is_quiet(void **state)
{
	struct fw_chain c[] = {
		raw_pre(1, 1),
		/* iptables-nft's raw OUTPUT with our ICMP jump: not the forward path */
		chain(NFPROTO_IPV4, "raw", "OUTPUT", NF_INET_LOCAL_OUT, false, 1, 0),
	};
	assert_true(judge(c, 2).quiet);
}

static void test_operator_rule_in_raw_prerouting(void **state)
{
	struct fw_chain c[] = { raw_pre(2, 1) };
	assert_not_quiet(judge(c, 1), "rule in ip raw PREROUTING");
}

static void test_raw_prerouting_policy_drop(void **state)
{
	struct fw_chain c[] = { chain(NFPROTO_IPV4, "raw", "PREROUTING", NF_INET_PRE_ROUTING, true, 1, 1) };
	assert_not_quiet(judge(c, 1), "nft chain ip raw PREROUTING (policy drop)");
}

/* Our jump's name in a chain of another table or family is someone else's rule. */
static void test_our_jump_elsewhere_is_not_ours(void **state)
{
	struct fw_chain c[] = {
		chain(NFPROTO_INET, "raw", "PREROUTING", NF_INET_PRE_ROUTING, false, 1, 1),
	};
	assert_not_quiet(judge(c, 1), "nft chain inet raw PREROUTING");
	struct fw_chain d[] = {
		chain(NFPROTO_IPV4, "mangle", "PREROUTING", NF_INET_PRE_ROUTING, false, 1, 1),
	};
	assert_not_quiet(judge(d, 1), "nft chain ip mangle PREROUTING");
}

static void test_inet_forward_with_rule(void **state)
{
	struct fw_chain c[] = {
		raw_pre(1, 1),
		chain(NFPROTO_INET, "filter", "forward", NF_INET_FORWARD, false, 1, 0),
	};
	assert_not_quiet(judge(c, 2), "nft chain inet filter forward");
}

static void test_forward_policy_drop_no_rules(void **state)
{
	struct fw_chain c[] = { chain(NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, true, 0, 0) };
	assert_not_quiet(judge(c, 1), "nft chain ip filter FORWARD (policy drop)");
}

static void test_nat_postrouting(void **state)
{
	struct fw_chain c[] = { chain(NFPROTO_IPV4, "nat", "POSTROUTING", NF_INET_POST_ROUTING, false, 1, 0) };
	assert_not_quiet(judge(c, 1), "nft chain ip nat POSTROUTING");
}

static void test_netdev_ingress(void **state)
{
	struct fw_chain c[] = { chain(NFPROTO_NETDEV, "t", "in", NF_NETDEV_INGRESS, false, 1, 0) };
	assert_not_quiet(judge(c, 1), "nft chain netdev t in");
	/* inet's own ingress hook too */
	struct fw_chain d[] = { chain(NFPROTO_INET, "t", "in", NF_INET_INGRESS, false, 1, 0) };
	assert_not_quiet(judge(d, 1), "nft chain inet t in");
}

/* The redirected packet still leaves through netdev egress: a chain there sees it. */
static void test_netdev_egress_is_quiet(void **state)
{
	struct fw_chain c[] = { chain(NFPROTO_NETDEV, "t", "out", NF_NETDEV_EGRESS, true, 1, 0) };
	assert_true(judge(c, 1).quiet);
}

static void test_output_and_input_hooks_only(void **state)
{
	struct fw_chain c[] = {
		chain(NFPROTO_IPV4, "filter", "OUTPUT", NF_INET_LOCAL_OUT, true, 3, 0),
		chain(NFPROTO_INET, "filter", "input", NF_INET_LOCAL_IN, true, 3, 0),
		/* IPv6 chains never see an IPv4 packet */
		chain(NFPROTO_IPV6, "filter", "forward", NF_INET_FORWARD, true, 3, 0),
	};
	assert_true(judge(c, 3).quiet);
}

/* An empty base chain with policy accept changes nothing for a packet: allowed. */
static void test_empty_accept_forward_is_quiet(void **state)
{
	struct fw_chain c[] = { chain(NFPROTO_INET, "filter", "forward", NF_INET_FORWARD, false, 0, 0) };
	assert_true(judge(c, 1).quiet);
}

static void test_first_thing_found_is_named(void **state)
{
	struct fw_chain c[] = {
		chain(NFPROTO_IPV4, "filter", "OUTPUT", NF_INET_LOCAL_OUT, true, 0, 0),
		chain(NFPROTO_IPV4, "nat", "POSTROUTING", NF_INET_POST_ROUTING, false, 1, 0),
		chain(NFPROTO_INET, "filter", "forward", NF_INET_FORWARD, true, 0, 0),
	};
	assert_not_quiet(judge(c, 3), "nft chain ip nat POSTROUTING");
}

static void test_legacy_tables(void **state)
{
	struct fw_view w = { .legacy = "raw\nfilter\n" };
	struct nat_fw_verdict v;
	fw_verdict(&w, &v);
	assert_not_quiet(v, "iptables-legacy tables in use (raw, filter)");
	w.legacy = "\n";
	fw_verdict(&w, &v);
	assert_true(v.quiet);
	w.legacy = "";
	fw_verdict(&w, &v);
	assert_true(v.quiet);
	/* many long names: cut, never past why */
	char many[1024];
	size_t n = 0;
	while (n + 40 < sizeof(many))
		n += (size_t)snprintf(many + n, sizeof(many) - n, "a_table_with_a_rather_long_name_%zu\n", n);
	w.legacy = many;
	fw_verdict(&w, &v);
	assert_false(v.quiet);
	assert_true(strlen(v.why) < sizeof(v.why));
	assert_memory_equal(v.why, "iptables-legacy tables in use (a_table", 38);
}

static void test_xfrm_policies(void **state)
{
	struct fw_view w = { 0 };
	struct nat_fw_verdict v;
	w.xfrm_fwd = 1;
	fw_verdict(&w, &v);
	assert_not_quiet(v, "xfrm policies (in 0, out 0, fwd 1)");
	w.xfrm_fwd = 0;
	w.xfrm_out = 2;
	fw_verdict(&w, &v);
	assert_false(v.quiet);
}

/* iptables-nft's "-j TSUNAGI-NAT": [ counter ] [ immediate jump TSUNAGI-NAT ]. */
static struct fw_rule jump_rule(unsigned n_counter, unsigned n_other, int32_t code, const char *to)
{
	struct fw_rule r = { .n_expr = n_counter + n_other + 1, .n_counter = n_counter,
			     .n_verdict = 1, .code = code };
	snprintf(r.target, sizeof(r.target), "%s", to);
	return r;
}

static void test_rule_is_ours(void **state)
{
	struct fw_rule r = jump_rule(1, 0, NFT_JUMP, "TSUNAGI-NAT");
	assert_true(fw_rule_is_ours(&r));
	r = jump_rule(0, 0, NFT_JUMP, "TSUNAGI-NAT");
	assert_true(fw_rule_is_ours(&r));
	/* a match before the jump: an operator's rule */
	r = jump_rule(1, 1, NFT_JUMP, "TSUNAGI-NAT");
	assert_false(fw_rule_is_ours(&r));
	r = jump_rule(1, 0, NFT_GOTO, "TSUNAGI-NAT");
	assert_false(fw_rule_is_ours(&r));
	r = jump_rule(1, 0, NFT_JUMP, "TSUNAGI-NAT-ICMP");
	assert_false(fw_rule_is_ours(&r));
	r = jump_rule(1, 0, NF_DROP, "");
	assert_false(fw_rule_is_ours(&r));
	struct fw_rule none = { 0 };
	assert_false(fw_rule_is_ours(&none));
	/* two verdicts */
	r = jump_rule(1, 0, NFT_JUMP, "TSUNAGI-NAT");
	r.n_verdict = 2;
	r.n_expr++;
	assert_false(fw_rule_is_ours(&r));
}

static void test_needs_rules(void **state)
{
	struct fw_chain c = raw_pre(0, 0);
	assert_true(fw_chain_needs_rules(&c));
	c.drop = true;
	assert_false(fw_chain_needs_rules(&c));
	c = chain(NFPROTO_IPV4, "filter", "OUTPUT", NF_INET_LOCAL_OUT, false, 0, 0);
	assert_false(fw_chain_needs_rules(&c));
	c = chain(NFPROTO_NETDEV, "t", "in", NF_NETDEV_INGRESS, false, 0, 0);
	assert_true(fw_chain_needs_rules(&c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_is_quiet),
		cmocka_unit_test(test_only_our_jump_is_quiet),
		cmocka_unit_test(test_operator_rule_in_raw_prerouting),
		cmocka_unit_test(test_raw_prerouting_policy_drop),
		cmocka_unit_test(test_our_jump_elsewhere_is_not_ours),
		cmocka_unit_test(test_inet_forward_with_rule),
		cmocka_unit_test(test_forward_policy_drop_no_rules),
		cmocka_unit_test(test_nat_postrouting),
		cmocka_unit_test(test_netdev_ingress),
		cmocka_unit_test(test_netdev_egress_is_quiet),
		cmocka_unit_test(test_output_and_input_hooks_only),
		cmocka_unit_test(test_empty_accept_forward_is_quiet),
		cmocka_unit_test(test_first_thing_found_is_named),
		cmocka_unit_test(test_legacy_tables),
		cmocka_unit_test(test_xfrm_policies),
		cmocka_unit_test(test_rule_is_ours),
		cmocka_unit_test(test_needs_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
