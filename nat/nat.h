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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nat_rules;	/* from tsunagi { nat { ... } }; see nat_rules.h */
struct nat_table;	/* flows and their translations */

/* A 5-tuple without its protocol, host byte order. ICMP echo: the identifier is
 * sport of a request and dport of a reply, so that a request and its reply give
 * mirrored keys like TCP and UDP. Enhanced GRE (alg_pptp.c) puts the call ID
 * of its key in dport, sport 0, and is not mirrored (each direction carries the
 * receiver's call ID); ESP the SPI in sport:dport. A dynamic NAT address
 * binding (proto 0) is the pseudo-flow {inside host, 0, 0, 0} / {0, public address, 0, 0}. */
struct nat_key {
	uint32_t src, dst;
	uint16_t sport, dport;
};

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
	bool changed;	/* out: the packet was rewritten (the shell sends it back) */
};

/* A table with room for max_flows flows (rules->max_flows from the
 * configuration; a reload cannot resize it); rules are borrowed until replaced
 * and may be freed after nat_table_set_rules, since flows keep no pointer into
 * them. The table has no lock: one per thread, or serialise the calls. */
struct nat_table *nat_table_new(const struct nat_rules *rules, size_t max_flows);
void nat_table_free(struct nat_table *t);

/* Reload: new rules apply to new flows; existing flows keep their translation. */
void nat_table_set_rules(struct nat_table *t, const struct nat_rules *rules);

enum nat_verdict nat_translate(struct nat_table *t, struct nat_packet *p,
    enum nat_side side, uint64_t now_ms);

/* Ends flows idle past their timeout; the shell calls it from a timer. */
void nat_expire(struct nat_table *t, uint64_t now_ms);

/* Removes every flow (tsunagictl --flush-nat); dynamic NAT addresses are freed too. */
void nat_table_flush(struct nat_table *t);

/* Global counters: every drop has its own reason, so none goes unexplained. */
struct nat_counters {
	uint64_t in2out, out2in;	/* packets translated, by direction of arrival */
	uint64_t hairpin;		/* packets translated from inside to inside */
	uint64_t exempt;		/* forwarded untouched by an exemption rule */
	uint64_t local;			/* NAT_LOCAL verdicts */
	uint64_t flows_created, flows_expired, flows_evicted, flows_flushed;
	uint64_t flows_active;
	uint64_t icmp_errors;		/* ICMP errors translated (embedded header too) */
	uint64_t fragments;		/* non-first fragments translated by address */
	uint64_t pat_probes;		/* public ports tried by PAT: port pressure */
	uint64_t tcp_rst_ignored;	/* RST outside the window: forwarded, state kept */
	uint64_t drop_malformed;	/* bad IHL, truncated, lying lengths */
	uint64_t drop_no_rule;		/* from inside, no rule applies */
	uint64_t drop_no_flow;		/* from outside, no flow or rule ("Deny inbound") */
	uint64_t drop_tcp_no_syn;	/* a new TCP flow must start with a SYN */
	uint64_t drop_ports;		/* PAT: no free port on the public address */
	uint64_t drop_pool;		/* dynamic NAT: every pool address taken */
	uint64_t drop_no_address;	/* the rule's interface has no address yet */
	uint64_t drop_proto;		/* protocol that this kind of rule cannot translate */
	uint64_t drop_fragment;		/* non-first fragment of no known flow */
	uint64_t drop_icmp;		/* ICMP error quoting no known flow, or other ICMP */
	uint64_t drop_collision;	/* the translated 5-tuple is already in use */
	uint64_t drop_hairpin;		/* inside to a public address with hairpin = no */
	uint64_t drop_table_full;	/* no flow could be evicted for a new one */
	uint64_t drop_inspect;		/* an inspection engine refused the packet */
	uint64_t pinholes_active;	/* inspection pinholes waiting for their flow */
	uint64_t ike_passthrough;	/* inside IKE flows kept on port 500, told apart by SPI */
	uint64_t ike_spi_taken;		/* ... not: another client had the SPI (another port) */
	uint64_t esp_spi_learned;	/* server's ESP SPIs learned for an inside client */
	uint64_t l2tp_passthrough;	/* inside L2TP flows kept on 1701, told apart by tunnel ID */
	uint64_t fast_added;		/* flows handed to the fast path (nat_fast_ops.add) */
	uint64_t fast_removed;		/* flows taken back from it */
	uint64_t fast_failed;		/* flows it refused (its map full): they stay queued */
	uint64_t fast_kept;		/* idle timeouts postponed: the fast path had used the flow */
	uint64_t fast_created;		/* TCP flows the fast path made from a SYN (nat_flow_adopt) */
	uint64_t fast_refused;		/* ... that the core refused (the shell removes them) */
};

/* Per inspection engine (nat/inspect.h), by engine id. */
struct nat_insp_counters {
	uint64_t flows;			/* flows it owned */
	uint64_t packets;		/* payloads handed to it */
	uint64_t rewritten;		/* payloads it changed */
	uint64_t resized;		/* of them, with a length change (seq/ack deltas follow) */
	uint64_t seq_adjusted;		/* segments whose seq, ack or SACK were shifted */
	uint64_t pinholes;		/* pinholes opened */
	uint64_t pinhole_hits;		/* pinholes that became a flow */
	uint64_t pinhole_expired;	/* pinholes never used */
	uint64_t pinhole_replaced;	/* superseded, or their flow ended first */
	uint64_t pinhole_full;		/* refused: the pinhole table was full */
	uint64_t bad_passed;		/* malformed or hostile payloads forwarded as they were */
	uint64_t bad_dropped;		/* malformed or hostile payloads dropped */
	uint64_t partial;		/* messages cut across segments */
	uint64_t no_room;		/* rewrites that did not fit the packet buffer */
};

/* Copies the counters of engine id (see nat_engine_count()); -1 past the end. */
int nat_table_insp_counters(const struct nat_table *t, size_t id, struct nat_insp_counters *out);
const char *nat_engine_name(size_t id);	/* NULL past the end */

/* Per rule of the current rule set (index as in nat_rules.rule[]); they start
 * at zero on each nat_table_set_rules. */
struct nat_rule_counters {
	uint64_t flows;		/* flows created by this rule */
	uint64_t active;	/* of them, still in the table */
	uint64_t packets, bytes;	/* translated in either direction */
};

void nat_table_counters(const struct nat_table *t, struct nat_counters *out);
/* Copies up to max rule counters; returns the number of rules. */
size_t nat_table_rule_counters(const struct nat_table *t, struct nat_rule_counters *out,
    size_t max);

/* One flow as the operator sees it ("show xlate detail"). Host byte order. */
struct nat_flow_view {
	uint32_t id;			/* unique among live flows: "connection 17" */
	uint8_t proto;
	uint32_t in_src, in_dst;	/* as seen on the inside */
	uint16_t in_sport, in_dport;
	uint32_t out_src, out_dst;	/* as seen on the outside (out_dst is ours) */
	uint16_t out_sport, out_dport;
	const char *rule;		/* its rule's name, NULL after a reload */
	const char *state;		/* "SYN", "ESTABLISHED", ..., "UDP", "ICMP" */
	const char *engine;		/* inspection engine that owns it, or NULL */
	uint64_t idle_ms;
	uint64_t packets[2], bytes[2];	/* [0] from inside, [1] from outside */
	bool fast;			/* in the fast path now */
	uint64_t fast_packets[2];	/* of packets[], those the fast path rewrote while it holds the flow */
};

/* Calls fn for each flow until it returns nonzero; returns the number visited. */
size_t nat_table_walk(const struct nat_table *t, uint64_t now_ms,
    int (*fn)(const struct nat_flow_view *v, void *arg), void *arg);

/* Events for the operator's log ("Built outbound TCP connection ...", "Teardown
 * ...", "Deny inbound protocol 47 ..."): the shell formats and rate-limits
 * them. Called from inside nat_translate, nat_expire and nat_table_flush. */
enum nat_event {
	NAT_EV_BUILT,		/* a flow was made; side: where its first packet came from */
	NAT_EV_TEARDOWN,	/* a flow ended; reason "idle", "evicted" or "flush" */
	NAT_EV_DENY,		/* a packet was dropped; reason: the counter, e.g. "no_flow" */
	NAT_EV_NOTE,		/* an inspection engine's remark on a flow; reason: the text */
};

struct nat_event_info {
	enum nat_event event;
	const char *reason;
	const struct nat_flow_view *flow;	/* BUILT, TEARDOWN and NOTE */
	enum nat_side side;			/* BUILT and DENY */
	uint8_t proto;				/* DENY: the packet as it came, */
	uint32_t src, dst;			/*   host order; ports 0 where */
	uint16_t sport, dport;			/*   there are none */
};

void nat_table_set_events(struct nat_table *t,
    void (*fn)(const struct nat_event_info *e, void *arg), void *arg);

/* The fast path: a rewriter outside the core (tsunagid's tc program,
 * daemon/nat_fast.c) that applies the core's translation to the packets of
 * established plain TCP flows (from the SYN-ACK on) and UDP flows (from the first
 * packet) that no inspection engine owns and that are no IKE/L2TP pass-through,
 * so that those packets never reach nat_translate. The core still decides: it
 * hands a flow over with add (one entry per direction), takes it back with del
 * when the flow leaves that state or ends (TCP SYN/FIN/RST still come to the
 * core), and asks seen what the fast path did before it judges the flow idle,
 * before tracking a TCP flag on it, and for the operator's view. */
struct nat_fast_entry {
	uint8_t proto;
	enum nat_side side;		/* where packets with this key arrive */
	struct nat_key key;		/* the packet as it arrives (host order) */
	struct nat_key to;		/* what it becomes */
};

struct nat_fast_seen {
	uint64_t last_ms;		/* its last packet (the core's clock), 0 = none */
	uint64_t packets, bytes;	/* since add */
	uint32_t seq_end;		/* TCP: highest seq + payload length, if seq_known */
	bool seq_known;
};

struct nat_fast_ops {
	/* 0, or -1: refused (e.g. full); the flow stays with the core for good. */
	int (*add)(void *arg, const struct nat_fast_entry e[2]);
	void (*del)(void *arg, const struct nat_fast_entry e[2]);
	/* What the fast path did with e[d] since add; zeroes for nothing. */
	void (*seen)(void *arg, const struct nat_fast_entry e[2], struct nat_fast_seen s[2]);
};

/* The fast path forwarded a TCP segment with FIN or RST (never SYN) of a flow it
 * holds, the packet as it arrived (side, key in host order, its seq, payload
 * length and TCP flags), and tells the core afterwards: tracked as if it had been
 * queued (a RST outside the window does not end the flow). Unknown keys are
 * ignored. */
void nat_fast_tcp(struct nat_table *t, enum nat_side side, const struct nat_key *k,
    uint32_t seq, uint16_t len, uint8_t flags, uint64_t now_ms);
/* The same with the segment's TCP header (tcplen bytes, options included) and
 * payload length: for flows the fast path made itself, also their SYN-ACK and
 * a SYN that reuses a closed flow's tuple. */
void nat_fast_tcp_hdr(struct nat_table *t, enum nat_side side, const struct nat_key *k,
    const uint8_t *tcp, size_t tcplen, size_t seglen, uint64_t now_ms);

/* The fast path may also make plain outbound TCP flows itself, from their SYN
 * (daemon/nat_fast.bpf.c: a source address whose rule is plain PAT to one
 * address, a destination port no engine owns, a destination routed out of an
 * outside interface), with public ports from [lo, hi] only: from then on PAT
 * never hands out TCP ports of that range (lo > 1024, hi = 65535; 0, 0: none,
 * the default). */
void nat_table_set_fast_ports(struct nat_table *t, uint16_t lo, uint16_t hi);

/* Such a flow, as the fast path made it: the SYN as it arrived from inside (k0,
 * and its TCP header for the window scale option), the public address and port
 * it left with (both its entries are in the fast path already), the rule the
 * fast path applied (an index in the current rules, or UINT16_MAX when it was
 * made under other rules). */
struct nat_fast_new {
	struct nat_key k0;
	uint32_t pub;
	uint16_t pport;
	uint16_t rule;
	const uint8_t *tcp;
	size_t tcplen;
};

/* Takes the flow into the table as if the core had translated its SYN (state
 * SYN_SENT, no engine, a BUILT event, in the fast path from now on). -1 when it
 * refuses (counted in fast_refused): a port outside the range or reserved (a
 * forward's), a key the table already holds, an engine's port, a header that is
 * no SYN, the table full; the shell then removes the entries. */
int nat_flow_adopt(struct nat_table *t, const struct nat_fast_new *n, uint64_t now_ms);

/* Does a flow in the fast path have entry e (the shell's check for entries
 * that no flow owns)? */
bool nat_fast_known(struct nat_table *t, const struct nat_fast_entry *e);

/* ops NULL: no fast path (the default). Flows handed over earlier are not
 * taken back: call it before the first packet. */
void nat_table_set_fast(struct nat_table *t, const struct nat_fast_ops *ops, void *arg);

#endif
