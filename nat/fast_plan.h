/* What the fast path may decide by itself about a new outbound TCP flow, from
 * the rules (nat/fast_plan.c): the shell writes it into the tc program's maps
 * (daemon/nat_fast.c) at start, on reload and when an interface address
 * changes. Anything the plan does not clearly allow goes to the core. */
#ifndef TSUNAGI_NAT_FAST_PLAN_H
#define TSUNAGI_NAT_FAST_PLAN_H
#include <stdbool.h>
#include <stdint.h>

#include "nat/nat_rules.h"

#define NAT_PLAN_NETS 256	/* source networks; more: the fast path makes no flow */
#define NAT_FAST_PORT_LO 32768	/* the fast path's public TCP ports: 32768-65535 */

/* A source network: its flows are the fast path's to make (plain PAT to one
 * address: pub, rule) or the core's (punt). Looked up longest prefix first. */
struct nat_plan_src {
	struct nat_net net;
	bool punt;
	uint16_t rule;		/* index in the rules */
	uint32_t pub;		/* host order */
};

struct nat_fast_plan {
	struct nat_plan_src src[NAT_PLAN_NETS];
	size_t n_src;
	struct nat_net dst[NAT_PLAN_NETS];	/* destinations left to the core */
	size_t n_dst;
	uint64_t punt_dport[1024];	/* bit per TCP destination port: an engine's */
	uint64_t resv_port[1024];	/* bit per public TCP port the fast path must not use */
	uint16_t lo, hi;		/* its public TCP ports */
};

/* Fills p from r (0), or -1 when r has more networks than fit: then p allows
 * nothing (every SYN to the core). */
int nat_fast_plan(const struct nat_rules *r, struct nat_fast_plan *p);
/* Lookups as the program does them (tests). */
const struct nat_plan_src *nat_plan_src_find(const struct nat_fast_plan *p, uint32_t addr);
bool nat_plan_bit(const uint64_t *bits, uint16_t port);
#endif
