/* daemon/nat_fw_check.c's readers of kernel messages, with crafted ones: what
 * they take from well-formed chains, rules and xfrm counts, and that each
 * malformed message (short attribute, unterminated name, attribute past the end)
 * is refused whole rather than read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/xfrm.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "daemon/nat_fw_check.h"

static uint64_t buf[1024];	/* aligned for struct nlmsghdr */

static struct nlmsghdr *nft_msg(uint16_t msg, uint8_t family)
{
	memset(buf, 0, sizeof(buf));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	return nlh;
}

/* A chain; hook < 0: a regular chain. */
static struct nlmsghdr *chain_msg(uint8_t family, const char *table, const char *name, int hook,
				  int policy)
{
	struct nlmsghdr *nlh = nft_msg(NFT_MSG_NEWCHAIN, family);
	if (table)
		mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
	if (name)
		mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
	if (hook >= 0) {
		struct nlattr *n = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
		mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl((uint32_t)hook));
		mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(0));
		mnl_attr_nest_end(nlh, n);
		mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl((uint32_t)policy));
	}
	return nlh;
}

static struct nlmsghdr *rule_msg(bool counter, uint32_t dreg, int32_t code, const char *to);

static void test_chain(void **state)
{
	struct fw_chain c;
	struct nlmsghdr *nlh = chain_msg(NFPROTO_INET, "filter", "forward", NF_INET_FORWARD, NF_DROP);
	assert_int_equal(fw_parse_chain(nlh, &c), 1);
	assert_int_equal(c.family, NFPROTO_INET);
	assert_string_equal(c.table, "filter");
	assert_string_equal(c.name, "forward");
	assert_int_equal(c.hook, NF_INET_FORWARD);
	assert_true(c.drop);
	assert_int_equal(c.n_rules, 0);
	nlh = chain_msg(NFPROTO_IPV4, "raw", "PREROUTING", NF_INET_PRE_ROUTING, NF_ACCEPT);
	assert_int_equal(fw_parse_chain(nlh, &c), 1);
	assert_false(c.drop);
	/* a regular chain: not listed */
	nlh = chain_msg(NFPROTO_IPV4, "raw", "TSUNAGI-NAT", -1, 0);
	assert_int_equal(fw_parse_chain(nlh, &c), 0);
}

/* Names as long as the kernel allows are kept whole (the rules are asked for by
 * name); longer ones refuse the message. */
static void test_chain_long_names(void **state)
{
	char name[FW_NAME_LEN + 1];
	memset(name, 'x', sizeof(name));
	name[FW_NAME_LEN - 1] = '\0';
	struct fw_chain c;
	assert_int_equal(fw_parse_chain(chain_msg(NFPROTO_IPV4, name, name, 0, NF_ACCEPT), &c), 1);
	assert_string_equal(c.table, name);
	assert_string_equal(c.name, name);
	name[FW_NAME_LEN - 1] = 'x';
	name[FW_NAME_LEN] = '\0';
	assert_int_equal(fw_parse_chain(chain_msg(NFPROTO_IPV4, "filter", name, 0, NF_ACCEPT), &c), -1);
	assert_int_equal(fw_parse_chain(chain_msg(NFPROTO_IPV4, name, "FORWARD", 0, NF_ACCEPT), &c), -1);
	struct fw_rule r;
	assert_int_equal(fw_parse_rule(rule_msg(true, NFT_REG_VERDICT, NFT_JUMP, name), &r), -1);
}

static void test_chain_malformed(void **state)
{
	struct fw_chain c;
	struct nlmsghdr *nlh;
	/* the hook number 2 bytes long */
	nlh = nft_msg(NFT_MSG_NEWCHAIN, NFPROTO_IPV4);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, "filter");
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "FORWARD");
	struct nlattr *n = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
	mnl_attr_put_u16(nlh, NFTA_HOOK_HOOKNUM, 2);
	mnl_attr_nest_end(nlh, n);
	assert_int_equal(fw_parse_chain(nlh, &c), -1);
	/* the policy 1 byte long */
	nlh = chain_msg(NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_ACCEPT);
	mnl_attr_put_u8(nlh, NFTA_CHAIN_POLICY, 0);
	assert_int_equal(fw_parse_chain(nlh, &c), -1);
	/* a table name without its NUL */
	nlh = nft_msg(NFT_MSG_NEWCHAIN, NFPROTO_IPV4);
	mnl_attr_put(nlh, NFTA_CHAIN_TABLE, 6, "filter");
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "FORWARD");
	n = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
	mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(NF_INET_FORWARD));
	mnl_attr_nest_end(nlh, n);
	assert_int_equal(fw_parse_chain(nlh, &c), -1);
	/* a base chain without a name, or without its hook number */
	assert_int_equal(fw_parse_chain(chain_msg(NFPROTO_IPV4, "filter", NULL, 2, 1), &c), -1);
	nlh = chain_msg(NFPROTO_IPV4, "filter", "FORWARD", -1, 0);
	n = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
	mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, 0);
	mnl_attr_nest_end(nlh, n);
	assert_int_equal(fw_parse_chain(nlh, &c), -1);
	/* the last attribute (the policy, drop) said longer than the message: the
	 * message is refused, not read as a chain without policy (accept) */
	nlh = chain_msg(NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
	struct nlattr *last = (struct nlattr *)((char *)nlh + nlh->nlmsg_len - MNL_ATTR_HDRLEN - 4);
	assert_int_equal(mnl_attr_get_type(last), NFTA_CHAIN_POLICY);
	last->nla_len += 4;
	assert_int_equal(fw_parse_chain(nlh, &c), -1);
	/* bytes left over after the last attribute, too few for one */
	nlh = chain_msg(NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
	nlh->nlmsg_len += 2;
	assert_int_equal(fw_parse_chain(nlh, &c), -1);
	/* shorter than its nfgenmsg */
	nlh = chain_msg(NFPROTO_IPV4, "filter", "FORWARD", NF_INET_FORWARD, NF_DROP);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	assert_int_equal(fw_parse_chain(nlh, &c), -1);
}

/* A rule: counter (with counts, as the kernel dumps it) and an immediate. */
static struct nlmsghdr *rule_msg(bool counter, uint32_t dreg, int32_t code, const char *to)
{
	struct nlmsghdr *nlh = nft_msg(NFT_MSG_NEWRULE, NFPROTO_IPV4);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "raw");
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "PREROUTING");
	mnl_attr_put_u64(nlh, NFTA_RULE_HANDLE, 4);
	struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	struct nlattr *e, *d, *dd, *v;
	if (counter) {
		e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
		d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
		mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, 0);
		mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, 0);
		mnl_attr_nest_end(nlh, d);
		mnl_attr_nest_end(nlh, e);
	}
	e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "immediate");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(dreg));
	dd = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
	if (dreg == NFT_REG_VERDICT) {
		v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
		mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)code));
		if (to)
			mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, to);
		mnl_attr_nest_end(nlh, v);
	} else {
		mnl_attr_put_u32(nlh, NFTA_DATA_VALUE, 7);
	}
	mnl_attr_nest_end(nlh, dd);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);
	mnl_attr_nest_end(nlh, list);
	return nlh;
}

static void test_rule(void **state)
{
	struct fw_rule r;
	assert_int_equal(fw_parse_rule(rule_msg(true, NFT_REG_VERDICT, NFT_JUMP, "TSUNAGI-NAT"), &r), 0);
	assert_int_equal(r.n_expr, 2);
	assert_int_equal(r.n_counter, 1);
	assert_int_equal(r.n_verdict, 1);
	assert_int_equal(r.code, NFT_JUMP);
	assert_string_equal(r.target, "TSUNAGI-NAT");
	assert_true(fw_rule_is_ours(&r));
	assert_int_equal(fw_parse_rule(rule_msg(true, NFT_REG_VERDICT, NF_DROP, NULL), &r), 0);
	assert_int_equal(r.code, NF_DROP);
	assert_string_equal(r.target, "");
	assert_false(fw_rule_is_ours(&r));
	/* an immediate into a data register is no verdict */
	assert_int_equal(fw_parse_rule(rule_msg(false, NFT_REG_1, 0, NULL), &r), 0);
	assert_int_equal(r.n_expr, 1);
	assert_int_equal(r.n_verdict, 0);
	assert_false(fw_rule_is_ours(&r));
	/* no expressions */
	assert_int_equal(fw_parse_rule(nft_msg(NFT_MSG_NEWRULE, NFPROTO_IPV4), &r), 0);
	assert_int_equal(r.n_expr, 0);
	assert_false(fw_rule_is_ours(&r));
}

/* The attribute whose payload starts with the len bytes at pat. */
static struct nlattr *find_attr_bytes(struct nlmsghdr *nlh, const void *pat, size_t len)
{
	for (char *p = (char *)nlh; p + len <= (char *)nlh + nlh->nlmsg_len; p++)
		if (memcmp(p, pat, len) == 0)
			return (struct nlattr *)(p - MNL_ATTR_HDRLEN);
	return NULL;
}

static void test_rule_malformed(void **state)
{
	struct fw_rule r;
	struct nlmsghdr *nlh;
	/* the verdict code cut to 2 bytes (the rest of the nest kept as it was) */
	nlh = rule_msg(true, NFT_REG_VERDICT, NFT_JUMP, "TSUNAGI-NAT");
	uint32_t code = htonl((uint32_t)NFT_JUMP);
	struct nlattr *a = find_attr_bytes(nlh, &code, sizeof(code));
	assert_non_null(a);
	assert_int_equal(mnl_attr_get_type(a), NFTA_VERDICT_CODE);
	a->nla_len = MNL_ATTR_HDRLEN + 2;
	assert_int_equal(fw_parse_rule(nlh, &r), -1);
	/* the jump target without its NUL */
	nlh = rule_msg(true, NFT_REG_VERDICT, NFT_JUMP, "TSUNAGI-NAT");
	a = find_attr_bytes(nlh, "TSUNAGI-NAT", 12);
	assert_non_null(a);
	a->nla_len--;
	assert_int_equal(fw_parse_rule(nlh, &r), -1);
	/* an expression's name said longer than its element */
	nlh = rule_msg(true, NFT_REG_VERDICT, NFT_JUMP, "TSUNAGI-NAT");
	a = find_attr_bytes(nlh, "counter", 8);
	assert_non_null(a);
	a->nla_len = 200;
	assert_int_equal(fw_parse_rule(nlh, &r), -1);
	/* an element of the expression list that is not NFTA_LIST_ELEM */
	nlh = rule_msg(true, NFT_REG_VERDICT, NFT_JUMP, "TSUNAGI-NAT");
	a = find_attr_bytes(nlh, "counter", 8);
	struct nlattr *elem = (struct nlattr *)((char *)a - MNL_ATTR_HDRLEN);
	assert_int_equal(mnl_attr_get_type(elem), NFTA_LIST_ELEM);
	elem->nla_type = NFTA_LIST_ELEM + 1;
	assert_int_equal(fw_parse_rule(nlh, &r), -1);
	/* an expression without a name */
	nlh = nft_msg(NFT_MSG_NEWRULE, NFPROTO_IPV4);
	struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	struct nlattr *e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_u32(nlh, NFTA_EXPR_DATA, 0);
	mnl_attr_nest_end(nlh, e);
	mnl_attr_nest_end(nlh, list);
	assert_int_equal(fw_parse_rule(nlh, &r), -1);
}

static struct nlmsghdr *spd_msg(uint16_t type, size_t info_len)
{
	memset(buf, 0, sizeof(buf));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	uint32_t *flags = mnl_nlmsg_put_extra_header(nlh, sizeof(uint32_t));
	*flags = 0xffffffff;
	struct xfrmu_spdinfo si = { .incnt = 1, .outcnt = 2, .fwdcnt = 3, .inscnt = 9 };
	uint8_t info[64] = { 0 };
	memcpy(info, &si, sizeof(si));
	mnl_attr_put(nlh, XFRMA_SPD_INFO, info_len, info);
	return nlh;
}

static void test_spdinfo(void **state)
{
	struct fw_view w = { 0 };
	assert_int_equal(fw_parse_spdinfo(spd_msg(XFRM_MSG_NEWSPDINFO, sizeof(struct xfrmu_spdinfo)), &w), 0);
	assert_int_equal(w.xfrm_in, 1);
	assert_int_equal(w.xfrm_out, 2);
	assert_int_equal(w.xfrm_fwd, 3);
	/* longer (a later kernel's larger struct): the start is read */
	memset(&w, 0, sizeof(w));
	assert_int_equal(fw_parse_spdinfo(spd_msg(XFRM_MSG_NEWSPDINFO, 40), &w), 0);
	assert_int_equal(w.xfrm_fwd, 3);
	/* shorter: refused, nothing read */
	memset(&w, 0, sizeof(w));
	assert_int_equal(fw_parse_spdinfo(spd_msg(XFRM_MSG_NEWSPDINFO, 8), &w), -1);
	assert_int_equal(w.xfrm_in, 0);
	assert_int_equal(fw_parse_spdinfo(spd_msg(XFRM_MSG_NEWPOLICY, sizeof(struct xfrmu_spdinfo)), &w), -1);
	struct nlmsghdr *nlh = spd_msg(XFRM_MSG_NEWSPDINFO, sizeof(struct xfrmu_spdinfo));
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	assert_int_equal(fw_parse_spdinfo(nlh, &w), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_chain_long_names),
		cmocka_unit_test(test_chain_malformed),
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_rule_malformed),
		cmocka_unit_test(test_spdinfo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
