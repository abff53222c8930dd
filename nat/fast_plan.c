/* Rules -> what the fast path may do alone (fast_plan.h). The core tries rules
 * by kind (exempt, forward, static, dynamic, PAT) and in file order; the
 * program looks a source up longest prefix first. The plan gives the program a
 * source only where both agree for every destination: a PAT rule to one
 * address with no remote restriction, whose networks no earlier rule's network
 * contains. Every other source network is a punt entry (so that a longer
 * prefix of a later rule cannot take its sources), and destinations the core
 * treats apart (exempt remotes, published addresses) are punted whatever the
 * source. Local addresses and tunnel routes are the program's own check (the
 * route must leave by an outside interface). */
#include <string.h>

#include "nat/fast_plan.h"
#include "nat/inspect.h"

static bool net_in(const struct nat_net *outer, const struct nat_net *inner)
{
	return outer->plen <= inner->plen && nat_net_contains(outer, 1, inner->addr);
}

static void set_bit(uint64_t *bits, uint32_t port)
{
	bits[port >> 6] |= 1ull << (port & 63);
}

bool nat_plan_bit(const uint64_t *bits, uint16_t port)
{
	return bits[port >> 6] >> (port & 63) & 1;
}

/* One address per translation, whatever the destination. */
static uint32_t plain_pat(const struct nat_rules *r, const struct nat_rule *rule)
{
	if (rule->kind != NAT_RULE_PAT || rule->n_remote)
		return 0;
	if (rule->pub_if >= 0)
		return (size_t)rule->pub_if < r->n_outside ? r->outside_addr[rule->pub_if] : 0;
	return rule->pub_lo == rule->pub_hi ? rule->pub_lo : 0;
}

/* Is net (of rule i) covered by an earlier rule's network? Then that rule, or
 * its punt entry, decides for its sources. */
static bool shadowed(const struct nat_rules *r, size_t i, const struct nat_net *net)
{
	for (size_t j = 0; j < i; j++) {
		const struct nat_rule *o = &r->rule[j];
		if (o->kind == NAT_RULE_FORWARD || (o->kind == NAT_RULE_EXEMPT && o->n_remote))
			continue;	/* by destination (destinations() punts them) */
		for (size_t k = 0; k < o->n_priv; k++)
			if (net_in(&o->priv[k], net))
				return true;
	}
	return false;
}

static int add_dst(struct nat_fast_plan *p, uint32_t addr, uint8_t plen)
{
	if (p->n_dst == NAT_PLAN_NETS)
		return -1;
	p->dst[p->n_dst++] = (struct nat_net){ addr, plen };
	return 0;
}

static int sources(const struct nat_rules *r, struct nat_fast_plan *p)
{
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct nat_rule *rule = &r->rule[i];
		if (rule->kind == NAT_RULE_FORWARD)
			continue;	/* by destination: below */
		/* An exemption with remotes decides by destination: below too. */
		if (rule->kind == NAT_RULE_EXEMPT && rule->n_remote)
			continue;
		uint32_t pub = plain_pat(r, rule);
		for (size_t k = 0; k < rule->n_priv; k++) {
			if (shadowed(r, i, &rule->priv[k]))
				continue;
			if (p->n_src == NAT_PLAN_NETS)
				return -1;
			p->src[p->n_src++] = (struct nat_plan_src){ rule->priv[k], !pub,
								    (uint16_t)i, pub };
		}
	}
	return 0;
}

static int destinations(const struct nat_rules *r, struct nat_fast_plan *p)
{
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct nat_rule *rule = &r->rule[i];
		int rc = 0;
		if (rule->kind == NAT_RULE_EXEMPT)
			for (size_t k = 0; k < rule->n_remote && !rc; k++)
				rc = add_dst(p, rule->remote[k].addr, rule->remote[k].plen);
		else if (rule->kind == NAT_RULE_STATIC)
			rc = add_dst(p, rule->pub_lo, rule->priv[0].plen);	/* hairpin */
		else if (rule->kind == NAT_RULE_FORWARD && rule->pub_if < 0)
			rc = add_dst(p, rule->pub_lo, 32);
		if (rc)
			return -1;
	}
	return 0;
}

/* Engines' TCP ports (their flows are inspected); public ports PAT never
 * hands out (forwards'). */
static void ports(const struct nat_rules *r, struct nat_fast_plan *p)
{
	for (size_t id = 0; id < nat_engine_count() && id < NAT_MAX_ENGINES; id++) {
		const struct nat_engine *e = nat_engine_get(id);
		const struct nat_inspect_conf *c = &r->inspect[id];
		if (!e || !e->inspect || !(e->protos & NAT_INSP_TCP) || !c->enabled)
			continue;
		for (size_t k = 0; k < c->n_ports; k++)
			for (uint32_t port = c->ports[k].lo; port <= c->ports[k].hi; port++)
				set_bit(p->punt_dport, port);
	}
	for (size_t i = 0; i < r->n_rules; i++)
		if (r->rule[i].kind == NAT_RULE_FORWARD && r->rule[i].proto == 6)
			set_bit(p->resv_port, r->rule[i].pub_port);
}

int nat_fast_plan(const struct nat_rules *r, struct nat_fast_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->lo = NAT_FAST_PORT_LO;
	p->hi = 65535;
	ports(r, p);
	if (sources(r, p) < 0 || destinations(r, p) < 0) {
		p->n_src = p->n_dst = 0;
		return -1;
	}
	return 0;
}

const struct nat_plan_src *nat_plan_src_find(const struct nat_fast_plan *p, uint32_t addr)
{
	const struct nat_plan_src *best = NULL;
	struct nat_net host = { addr, 32 };
	for (size_t i = 0; i < p->n_src; i++)
		if (net_in(&p->src[i].net, &host) && (!best || p->src[i].net.plen > best->net.plen))
			best = &p->src[i];
	return best;
}
