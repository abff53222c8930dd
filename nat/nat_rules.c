/* The NAT rule set: construction and the checks that make a rule usable, so the
 * translate step never meets a rule it cannot apply. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/inspect.h"
#include "nat/nat_rules.h"

struct nat_rules *nat_rules_new(void)
{
	struct nat_rules *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->hairpin = true;
	r->fastpath = true;
	r->max_flows = 65536;
	r->queues = 2;
	r->timeouts = (struct nat_timeouts){
		.xlate = 3 * 3600, .tcp = 3600, .tcp_half_closed = 600, .tcp_syn = 30,
		.tcp_closed = 10, .udp = 120, .icmp = 2, .sip = 1800, .sip_media = 120,
		.h225 = 3600, .mgcp = 300,
	};
	nat_inspect_defaults(r);
	return r;
}

void nat_rules_free(struct nat_rules *r)
{
	if (!r)
		return;
	free(r->rule);
	free(r);
}

static int iface_index(const char (*names)[NAT_IFNAMSIZ], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

int nat_rules_outside_index(const struct nat_rules *r, const char *name)
{
	return iface_index(r->outside, r->n_outside, name);
}

int nat_rules_add_iface(struct nat_rules *r, bool outside, const char *name)
{
	size_t *n = outside ? &r->n_outside : &r->n_inside;
	char (*names)[NAT_IFNAMSIZ] = outside ? r->outside : r->inside;
	if (!*name || strlen(name) >= NAT_IFNAMSIZ || *n >= NAT_MAX_IFACES)
		return -1;
	if (iface_index(r->inside, r->n_inside, name) >= 0 ||
	    iface_index(r->outside, r->n_outside, name) >= 0)
		return -1;
	snprintf(names[(*n)++], NAT_IFNAMSIZ, "%s", name);
	return 0;
}

int nat_rules_set_iface_addr(struct nat_rules *r, const char *ifname, uint32_t addr)
{
	int i = iface_index(r->outside, r->n_outside, ifname);
	if (i >= 0) {
		r->outside_addr[i] = addr;
		return 0;
	}
	if ((i = iface_index(r->inside, r->n_inside, ifname)) < 0)
		return -1;
	r->inside_addr[i] = addr;
	return 0;
}

bool nat_rules_is_local(const struct nat_rules *r, uint32_t addr)
{
	for (size_t i = 0; i < r->n_outside; i++)
		if (r->outside_addr[i] && r->outside_addr[i] == addr)
			return true;
	for (size_t i = 0; i < r->n_inside; i++)
		if (r->inside_addr[i] && r->inside_addr[i] == addr)
			return true;
	return false;
}

static uint32_t mask_of(uint8_t plen)
{
	return plen ? 0xffffffffu << (32 - plen) : 0;
}

bool nat_net_contains(const struct nat_net *nets, size_t n, uint32_t addr)
{
	for (size_t i = 0; i < n; i++)
		if ((addr & mask_of(nets[i].plen)) == nets[i].addr)
			return true;
	return false;
}

int nat_net_parse(const char *s, struct nat_net *out)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr in;
	long plen = 32;
	if (alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, &in) != 1)
		return -1;
	if (slash) {
		char *end;
		plen = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || plen < 0 || plen > 32)
			return -1;
	}
	out->addr = ntohl(in.s_addr);
	out->plen = (uint8_t)plen;
	return (out->addr & ~mask_of(out->plen)) ? -1 : 0;
}

const char *nat_rule_kind_name(enum nat_rule_kind k)
{
	static const char *const names[] = { "exempt", "forward", "static", "dynamic", "pat" };
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static bool has_public(const struct nat_rule *x)
{
	return x->pub_if >= 0 || x->pub_lo;
}

/* What each kind needs and refuses; the messages name the configuration keys. */
static const char *check_rule(const struct nat_rules *r, const struct nat_rule *x)
{
	bool ports = x->proto || x->priv_port || x->pub_port;
	if (x->pub_if >= (int)r->n_outside)
		return "'public' names no outside interface";
	if (x->pub_lo > x->pub_hi)
		return "'public' range ends before it starts";
	if (!x->n_priv)
		return "'private' is missing";
	switch (x->kind) {
	case NAT_RULE_EXEMPT:
		if (ports)
			return "an exemption is by address only: 'proto' and ports are not allowed";
		if (has_public(x))
			return "an exemption translates nothing: 'public' is not allowed";
		return NULL;
	case NAT_RULE_FORWARD:
		if (x->proto != 6 && x->proto != 17)
			return "a forward needs 'proto' = tcp or udp";
		if (!x->priv_port || !x->pub_port)
			return "a forward needs 'private_port' and 'public_port'";
		if (x->n_priv != 1 || x->priv[0].plen != 32)
			return "a forward's 'private' is one address";
		if (!has_public(x) || (x->pub_if < 0 && x->pub_lo != x->pub_hi))
			return "a forward's 'public' is one address or an outside interface";
		if (x->proto == 17 && (x->pub_port == 500 || x->pub_port == 4500))
			return "UDP 500 and 4500 are tsunagid's own IKE ports: not forwardable";
		return NULL;
	default:
		break;
	}
	if (ports)
		return "'proto' and ports belong to forward rules only";
	if (!has_public(x))
		return "'public' is missing";
	if (x->kind == NAT_RULE_STATIC) {
		if (x->n_priv != 1 || x->pub_if >= 0)
			return "a static rule maps one 'private' network to one 'public' network";
		if (x->pub_hi - x->pub_lo != ~mask_of(x->priv[0].plen))
			return "a static rule's 'public' network must be the size of 'private'";
		return NULL;
	}
	if (x->kind == NAT_RULE_DYNAMIC) {
		if (x->pub_if >= 0)
			return "a dynamic pool is addresses, not an interface (use pat)";
		if (x->pub_hi - x->pub_lo >= NAT_MAX_POOL)
			return "a dynamic pool holds at most 4096 addresses";
	}
	return NULL;
}

int nat_rules_add(struct nat_rules *r, const struct nat_rule *rule, char *err, size_t errlen)
{
	const char *why = check_rule(r, rule);
	if (why) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	struct nat_rule *n = realloc(r->rule, (r->n_rules + 1) * sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->rule = n;
	/* Insert after the last rule of the same or an earlier kind: stable by kind. */
	size_t at = r->n_rules;
	while (at > 0 && n[at - 1].kind > rule->kind)
		at--;
	memmove(&n[at + 1], &n[at], (r->n_rules - at) * sizeof(*n));
	n[at] = *rule;
	r->n_rules++;
	return 0;
}
