/* The GRE flows of PPTP calls, found by what an ICMP error quotes of their
 * packets.
 *
 * A call's GRE flow (alg_pptp.c) has keys that are not mirrors of each other:
 *   k[0] = {inside end, remote, 0, remote's call ID}   (GRE from inside)
 *   k[1] = {remote, public address, 0, mapped call ID} (GRE from outside)
 * so the mirror of a quoted GRE packet is no flow's key:
 *   - an error from outside quotes GRE the inside end sent, as it left:
 *     {public address, remote, remote's call ID} (d = 1);
 *   - an error from inside quotes GRE the remote sent, as it was delivered:
 *     {remote, inside end, inside end's own call ID} (d = 0).
 * Both are derived from the flow, so this index keeps only chain links (in the
 * flow's union) and a fixed bucket array in the table. A call is indexed once
 * its remote call ID is known (its k[0] final) and leaves in flow_free. */
#include "nat/nat_priv.h"

#define GRE_PROTO 47

/* The quote that finds flow f by an error arriving from side d's end. */
static struct nat_key quote_key(const struct flow *f, int d)
{
	if (d == 1)
		return (struct nat_key){ f->k[1].dst, f->k[1].src, 0, f->k[0].dport };
	return (struct nat_key){ f->k[0].dst, f->k[0].src, 0, f->u.gre_cid };
}

static uint32_t *bucket(struct nat_table *t, const struct nat_key *q)
{
	return &t->gre_bucket[nat_hash(t, GRE_PROTO, q) % NAT_GRE_BUCKETS];
}

/* Chain references, as in the flow hash: (flow << 1 | d) + 1; 0 = end. */
#define QREF(i, d) ((((i) << 1) | (uint32_t)(d)) + 1)
#define QREF_FLOW(r) (((r) - 1) >> 1)
#define QREF_DIR(r) ((int)(((r) - 1) & 1))

void gre_quote_add(struct nat_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	if (f->flags & FF_GRE_QUOTE)
		return;
	for (int d = 0; d < 2; d++) {
		struct nat_key q = quote_key(f, d);
		uint32_t *b = bucket(t, &q);
		f->u.gre_qnext[d] = *b;
		*b = QREF(i, d);
	}
	f->flags |= FF_GRE_QUOTE;
}

void gre_quote_remove(struct nat_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	if (!(f->flags & FF_GRE_QUOTE))
		return;
	for (int d = 0; d < 2; d++) {
		struct nat_key q = quote_key(f, d);
		uint32_t *p = bucket(t, &q);
		while (*p && *p != QREF(i, d))
			p = &t->flows[QREF_FLOW(*p)].u.gre_qnext[QREF_DIR(*p)];
		if (*p)
			*p = f->u.gre_qnext[d];
	}
	f->flags &= (uint8_t)~FF_GRE_QUOTE;
}

static bool key_eq(const struct nat_key *a, const struct nat_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport &&
	       a->dport == b->dport;
}

/* Two calls that match one quote (a server that gave two clients' calls the
 * same call ID) cannot be told apart: NAT_NONE and *twice rather than the
 * wrong one. */
uint32_t gre_quote_find(struct nat_table *t, const struct nat_key *q, int d, bool *twice)
{
	uint32_t found = NAT_NONE;
	*twice = false;
	for (uint32_t r = *bucket(t, q); r; r = t->flows[QREF_FLOW(r)].u.gre_qnext[QREF_DIR(r)]) {
		const struct flow *f = &t->flows[QREF_FLOW(r)];
		if (QREF_DIR(r) != d)
			continue;
		struct nat_key k = quote_key(f, d);
		if (!key_eq(&k, q))
			continue;
		if (found != NAT_NONE) {
			*twice = true;
			return NAT_NONE;
		}
		found = QREF_FLOW(r);
	}
	return found;
}

int gre_quote_check(struct nat_table *t)
{
	uint32_t chained = 0, flagged = 0;
	for (size_t b = 0; b < NAT_GRE_BUCKETS; b++)
		for (uint32_t r = t->gre_bucket[b]; r;) {
			uint32_t i = QREF_FLOW(r);
			if (i >= t->high || !(t->flows[i].flags & FF_GRE_QUOTE) ||
			    t->flows[i].proto != GRE_PROTO || ++chained > 2 * t->high)
				return -1;
			r = t->flows[i].u.gre_qnext[QREF_DIR(r)];
		}
	for (uint32_t i = 0; i < t->high; i++)
		if ((t->flows[i].flags & (FF_USED | FF_GRE_QUOTE)) == (FF_USED | FF_GRE_QUOTE))
			flagged++;
	return chained == 2 * flagged ? 0 : -1;
}
