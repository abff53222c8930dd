/*
 * nat.h - the NAT/PAT core's contract with the shells around it.
 *
 * The core is a pure function of (rules, flow table, packet, time): it never
 * reads a clock, opens a socket or logs by itself, so every rule is unit
 * testable and every parser fuzzable.  A shell (NFQUEUE today, perhaps
 * AF_PACKET or a TUN later) hands it each forwarded IPv4 packet with the side
 * it arrived on and the current time, and applies the verdict.
 *
 * Translation happens at one point, before the kernel routes the packet
 * (VPP's in2out/out2in model): a packet from the inside gets its source
 * translated (and its destination too when it hairpins to a public address
 * of ours); a packet from the outside to a public address gets its
 * destination translated, so the kernel then routes it to the inside.
 * Packets the gateway sends itself never pass through here, which keeps
 * tsunagid's own IKE and ESP on the public address untouched.
 */
#ifndef TSUNAGI_NAT_H
#define TSUNAGI_NAT_H

#include <stddef.h>
#include <stdint.h>

struct nat_rules;	/* from tsunagi { nat { ... } }; see nat_rules.h */
struct nat_table;	/* flows and their translations */

enum nat_side {
	NAT_FROM_INSIDE,	/* arrived on an inside interface */
	NAT_FROM_OUTSIDE,	/* arrived on an outside interface */
};

enum nat_verdict {
	NAT_FORWARD,	/* forward as it is now (rewritten or exempt) */
	NAT_LOCAL,	/* for the gateway itself: leave it to the kernel, untouched */
	NAT_DROP,	/* drop (no translation, denied, malformed); counted */
};

struct nat_packet {
	uint8_t *data;	/* IPv4 header first */
	size_t len;	/* in: packet length; out: length after rewriting */
	size_t cap;	/* bytes writable at data (an inspection engine may grow it) */
};

/* A table with room for max_flows flows; rules are borrowed until replaced. */
struct nat_table *nat_table_new(const struct nat_rules *rules, size_t max_flows);
void nat_table_free(struct nat_table *t);

/* Reload: new rules apply to new flows; existing flows keep their translation. */
void nat_table_set_rules(struct nat_table *t, const struct nat_rules *rules);

enum nat_verdict nat_translate(struct nat_table *t, struct nat_packet *p,
    enum nat_side side, uint64_t now_ms);

/* Ends flows idle past their timeout; the shell calls it from a timer. */
void nat_expire(struct nat_table *t, uint64_t now_ms);

#endif
