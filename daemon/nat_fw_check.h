/* "Would anything besides tsunagid's own rules see a forwarded IPv4 packet in this
 * network namespace?" The NAT fast path may forward established flows itself
 * (bpf_redirect from tc ingress) only while the answer is no: a redirected packet
 * skips every netfilter hook of the forward path (PREROUTING, FORWARD,
 * POSTROUTING, netdev ingress) and the kernel's xfrm policy lookups.
 *
 * The decision (fw_verdict) is a pure function over what the kernel was asked
 * (struct fw_view), tested without netlink; nat_fw_check is the thin shell that
 * asks it (daemon/nat_fw_check.c), whose readers of kernel messages are fuzzed
 * (tests/fuzz/fuzz_nat_fw.c). */
#ifndef TSUNAGI_DAEMON_NAT_FW_CHECK_H
#define TSUNAGI_DAEMON_NAT_FW_CHECK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nat_fw_verdict {
	bool quiet;		/* nothing else would see a forwarded packet */
	char why[128];		/* when not quiet: the first thing found, for a log line */
};

/* Asks the kernel (nftables chains, legacy iptables tables, xfrm policies) about
 * the current network namespace. 0 with *v filled in, or -errno when it cannot
 * be asked (then v->quiet is false and why says so). Costs one dump of nftables
 * chains, plus one of rules per base chain whose rules decide. */
int nat_fw_check(struct nat_fw_verdict *v);

/* --- the pure decision ---------------------------------------------------------- */

#define FW_NAME_LEN 256		/* NFT_NAME_MAXLEN, with the NUL */

/* One nftables rule, by its expressions. */
struct fw_rule {
	unsigned n_expr;	/* expressions in all */
	unsigned n_counter;	/* of them "counter" */
	unsigned n_verdict;	/* of them "immediate" of a verdict */
	int32_t code;		/* the last such verdict (NF_ACCEPT, NFT_JUMP, ...) */
	char target[FW_NAME_LEN];	/* its chain, for a jump or goto */
};

/* One nftables base chain (chains without a hook are not listed). */
struct fw_chain {
	uint8_t family;		/* NFPROTO_IPV4, NFPROTO_INET, NFPROTO_NETDEV, ... */
	char table[FW_NAME_LEN];
	char name[FW_NAME_LEN];
	uint32_t hook;		/* NFTA_HOOK_HOOKNUM */
	bool drop;		/* policy drop */
	/* Filled in only where fw_chain_needs_rules says: rules read, and of them
	 * tsunagid's own. The reader may stop at the first foreign rule. */
	unsigned n_rules, n_ours;
};

/* What the kernel said. */
struct fw_view {
	const struct fw_chain *chains;
	size_t n_chains;
	const char *legacy;		/* /proc/net/ip_tables_names, one per line; NULL: none */
	uint32_t xfrm_in, xfrm_out, xfrm_fwd;	/* kernel IPsec policies (XFRM_MSG_GETSPDINFO) */
};

/* The rule tsunagid installs in ip raw PREROUTING: iptables-nft's
 * "-j TSUNAGI-NAT", a counter and a jump. */
bool fw_rule_is_ours(const struct fw_rule *r);
/* Whether c's rules decide (a base chain on the forward path, policy accept). */
bool fw_chain_needs_rules(const struct fw_chain *c);
void fw_verdict(const struct fw_view *w, struct nat_fw_verdict *v);

/* --- the shell's readers of kernel messages (tested with crafted ones) -------------- */

struct nlmsghdr;
/* An NFT_MSG_NEWCHAIN: 1 with *c filled in (n_rules 0) for a base chain, 0 for a
 * regular chain, -1 when malformed. */
int fw_parse_chain(const struct nlmsghdr *nlh, struct fw_chain *c);
/* An NFT_MSG_NEWRULE into *r: 0, or -1 when malformed. */
int fw_parse_rule(const struct nlmsghdr *nlh, struct fw_rule *r);
/* An XFRM_MSG_NEWSPDINFO into w's xfrm counts: 0, or -1 when malformed. */
int fw_parse_spdinfo(const struct nlmsghdr *nlh, struct fw_view *w);

#endif
