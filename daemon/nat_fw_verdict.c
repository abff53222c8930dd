/* The pure half of nat_fw_check (see nat_fw_check.h): from what the kernel said,
 * whether a forwarded IPv4 packet would meet anything but tsunagid's own rules.
 * The fast path's redirect skips the hooks of the forward path, so a chain there
 * is "something that sees it"; a netdev egress chain still sees the redirected
 * packet, and output/input hooks never see a forwarded one. */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>

#include "daemon/nat_fw_check.h"

bool fw_rule_is_ours(const struct fw_rule *r)
{
	/* iptables-nft writes "-j TSUNAGI-NAT" as [ counter ] [ immediate jump ]:
	 * nothing else is allowed beside the jump (a match would make it an
	 * operator's rule that only looks like ours). */
	return r->n_verdict == 1 && r->n_expr == r->n_counter + 1 && r->code == NFT_JUMP &&
	       strcmp(r->target, "TSUNAGI-NAT") == 0;
}

/* A base chain a forwarded IPv4 packet passes (NF_INET_INGRESS: inet's ingress). */
static bool on_forward_path(const struct fw_chain *c)
{
	switch (c->family) {
	case NFPROTO_IPV4:
	case NFPROTO_INET:
		return c->hook == NF_INET_PRE_ROUTING || c->hook == NF_INET_FORWARD ||
		       c->hook == NF_INET_POST_ROUTING || c->hook == NF_INET_INGRESS;
	case NFPROTO_NETDEV:
		return c->hook == NF_NETDEV_INGRESS;
	default:
		return false;	/* ip6, arp, bridge: not an IPv4 packet's routing path */
	}
}

/* In why, each name is cut to 40 characters so that the line fits. */
static const char *family_name(uint8_t f)
{
	switch (f) {
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_INET: return "inet";
	case NFPROTO_NETDEV: return "netdev";
	default: return "?";
	}
}

/* ip raw PREROUTING: where tsunagid's jump lives (iptables-nft's raw table). */
static bool is_our_chain(const struct fw_chain *c)
{
	return c->family == NFPROTO_IPV4 && strcmp(c->table, "raw") == 0 &&
	       strcmp(c->name, "PREROUTING") == 0;
}

bool fw_chain_needs_rules(const struct fw_chain *c)
{
	return on_forward_path(c) && !c->drop;
}

/* An empty base chain with policy accept is allowed: it changes nothing for the
 * packet (no rule, accept), so skipping it changes nothing either. */
static bool chain_quiet(const struct fw_chain *c, struct nat_fw_verdict *v)
{
	if (!on_forward_path(c))
		return true;
	if (c->drop) {
		snprintf(v->why, sizeof(v->why), "nft chain %s %.40s %.40s (policy drop)",
			 family_name(c->family), c->table, c->name);
		return false;
	}
	if (is_our_chain(c) && c->n_rules == c->n_ours)
		return true;
	if (c->n_rules == 0)
		return true;
	if (is_our_chain(c))
		snprintf(v->why, sizeof(v->why), "rule in ip raw PREROUTING");
	else
		snprintf(v->why, sizeof(v->why), "nft chain %s %.40s %.40s", family_name(c->family),
			 c->table, c->name);
	return false;
}

/* "iptables-legacy tables in use (raw, filter)" from the lines of ip_tables_names. */
static void legacy_why(const char *names, struct nat_fw_verdict *v)
{
	size_t n = (size_t)snprintf(v->why, sizeof(v->why), "iptables-legacy tables in use (");
	const char *sep = "";
	for (const char *p = names; *p && n < sizeof(v->why);) {
		size_t len = strcspn(p, "\n");
		if (len > 0) {
			n += (size_t)snprintf(v->why + n, sizeof(v->why) - n, "%s%.*s", sep,
					      (int)len, p);
			sep = ", ";
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	if (n < sizeof(v->why))
		snprintf(v->why + n, sizeof(v->why) - n, ")");
}

void fw_verdict(const struct fw_view *w, struct nat_fw_verdict *v)
{
	v->quiet = false;
	v->why[0] = '\0';
	/* Legacy tables cannot be read cheaply (a getsockopt blob per table): any
	 * at all means someone else filters. */
	if (w->legacy && w->legacy[strspn(w->legacy, "\n")] != '\0') {
		legacy_why(w->legacy, v);
		return;
	}
	for (size_t i = 0; i < w->n_chains; i++)
		if (!chain_quiet(&w->chains[i], v))
			return;
	if (w->xfrm_in || w->xfrm_out || w->xfrm_fwd) {
		snprintf(v->why, sizeof(v->why), "xfrm policies (in %u, out %u, fwd %u)",
			 w->xfrm_in, w->xfrm_out, w->xfrm_fwd);
		return;
	}
	v->quiet = true;
}
