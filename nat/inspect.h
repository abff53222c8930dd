/*
 * inspect.h - the registry of inspection engines (application-level gateways)
 * and what the translate step offers them.
 *
 * An engine owns the flows that start on one of its ports (configurable:
 * tsunagi { nat { inspect { ftp { ports = 21, 2121 } } } }). For each packet
 * of such a flow the translate step calls its hook with the L4 payload as it
 * arrived (before addresses are rewritten). The hook may
 *  - edit bytes in place (nat_insp_touch) or replace a span, changing the
 *    length (nat_insp_replace): the packet may grow up to nat_packet.cap; for
 *    TCP the sequence delta is kept per direction and applied to every later
 *    segment (seq, ack and SACK blocks), like netfilter's seqadj;
 *  - open a pinhole (nat_insp_expect): a future flow that the first packet
 *    matching it turns into a real flow with the translation given, once;
 *  - pick a public port for such a pinhole (nat_insp_public_port);
 *  - pass, drop, or end the flow after this packet (DNS: the response).
 * Per-flow engine state (state_size bytes) is allocated for inspected flows
 * only, so struct flow stays the same size for all the others.
 *
 * Engines are pure like the translate step: no clock, no log, no socket.
 * Counters: struct nat_insp_counters, one per engine, in nat.h.
 *
 * Adding an engine: write nat/alg_X.c defining `const struct nat_engine
 * nat_alg_X`, add it to the list in inspect.c (its index is its id and the
 * order in which engines claim a port), and describe its keys in
 * tsunagi.conf(5).
 */
#ifndef TSUNAGI_NAT_INSPECT_H
#define TSUNAGI_NAT_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nat.h"
#include "nat/nat_rules.h"

#define NAT_ENGINE_NONE 0xff
#define NAT_INSP_TCP 1		/* nat_engine.protos */
#define NAT_INSP_UDP 2

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


enum nat_insp_verdict {
	NAT_INSP_PASS,		/* forward (rewritten or not) */
	NAT_INSP_DROP,		/* drop this packet; counted by the engine */
	NAT_INSP_END,		/* forward, then end the flow (DNS response) */
};

struct nat_insp;

struct nat_engine {
	const char *name;		/* as in the configuration and --list-nat */
	unsigned protos;		/* NAT_INSP_TCP | NAT_INSP_UDP */
	const char *ports;		/* default ports: "21", "5060", "1024-1030, 2000" */
	size_t state_size;		/* per-flow state, zeroed when the flow starts */
	/* Every packet of an owned flow that carries payload (UDP: every packet).
	 * NULL for the pass-through engines (IKE/ESP, L2TP), whose flows the
	 * translate step keys by SPI or tunnel ID itself: they are in the registry
	 * for their ports, enabled switch and counters. */
	enum nat_insp_verdict (*inspect)(struct nat_insp *c);
	/* Optional: the flow ends; release what the state holds. */
	void (*end)(void *state);
	/* Optional: the flow ends (closed, idle, evicted, flushed) while the table
	 * lives: end what the engine made in it for this flow (PPTP: the GRE flows
	 * of its calls). c->payload is NULL; called before end. */
	void (*closed)(struct nat_insp *c);
};

/* One packet handed to an engine. */
struct nat_insp {
	struct nat_table *t;
	const struct nat_engine *engine;
	const struct nat_inspect_conf *conf;	/* this engine's settings */
	struct nat_insp_counters *c;		/* this engine's counters */
	void *state;			/* state_size bytes, kept with the flow */
	int dir;			/* 0: sent by the flow's inside end, 1: by the outside end */
	int opener;			/* the dir of the flow's first packet: its client */
	const struct nat_key *k;	/* the flow's keys k[0], k[1] (see nat_priv.h) */
	uint8_t proto;
	uint8_t *payload;		/* L4 payload as it arrived */
	size_t len;
	uint32_t seq;			/* TCP: this segment's sequence number as sent */
	uint64_t now_ms;
	void *priv_;			/* the translate step's packet */
	uint32_t flow_;			/* and flow */
};

/* The engine's own flow keys, host order: k[0] as the inside sees a packet
 * from the inside end; k[1] the reply as the outside sees it (k[1].dst is the
 * public address, k[1].dport the public port). */
uint32_t nat_insp_inside_addr(const struct nat_insp *c);	/* k[0].src */
uint32_t nat_insp_public_addr(const struct nat_insp *c);	/* k[1].dst */

/* The rule set in force (DNS doctoring reads the static mappings). */
const struct nat_rules *nat_insp_rules(const struct nat_insp *c);

/* Tells the operator something about this flow (an event NAT_EV_NOTE with
 * text as its reason, e.g. a protocol version passed untranslated). */
void nat_insp_note(struct nat_insp *c, const char *text);

/* Marks the payload as changed in place (the checksum is then computed anew). */
void nat_insp_touch(struct nat_insp *c);

/* Replaces len bytes at off of the payload by nlen bytes of repl. c->payload
 * and c->len follow; the IP (and UDP) lengths and checksums are fixed, and for
 * TCP the delta is recorded for the rest of the connection. -1 (packet
 * untouched, counted as no_room) when the packet would outgrow its buffer. */
int nat_insp_replace(struct nat_insp *c, size_t off, size_t len, const void *repl,
    size_t nlen);

/* A pinhole: the first packet arriving on side with key match (match.sport 0:
 * any source port) becomes a flow and is rewritten to `to` (to_src, to_sport
 * 0: keep the packet's); its reply is translated back. Exactly one flow:
 * the pinhole is gone once used, after timeout_ms, or when the flow that
 * opened it ends. */
struct nat_expect {
	uint8_t proto;
	enum nat_side side;
	uint32_t match_src, match_dst;
	uint16_t match_sport, match_dport;
	uint32_t to_src, to_dst;
	uint16_t to_sport, to_dport;
	uint32_t timeout_ms;
	uint8_t engine;		/* engine of the new flow, NAT_ENGINE_NONE for none */
	bool replace;		/* drop this flow's earlier pinholes first */
};
/* 0, or -1 when the pinhole table is full (counted as pinhole_full). */
int nat_insp_expect(struct nat_insp *c, const struct nat_expect *e);

/* Removes the pinholes this flow opened whose match is (addr, port) as the
 * destination (outside side) or as the source (inside side), e.g. when the
 * SIP call that wanted them ends. Returns how many. */
unsigned nat_insp_unexpect(struct nat_insp *c, uint8_t proto, uint32_t addr, uint16_t port);

/* A public port on the flow's public address for a connection of proto with
 * remote (0: any) to inside:port: inside_port itself when it is free (and
 * the flow keeps ports, e.g. static NAT), else one PAT would hand out. 0 when
 * none is free. */
uint16_t nat_insp_public_port(struct nat_insp *c, uint8_t proto, uint32_t remote,
    uint32_t inside, uint16_t inside_port);

/* The registry. The pass-through engines have fixed ids. */
#define NAT_ENGINE_IKE 5
#define NAT_ENGINE_L2TP 6
/* Unit tests and fuzzers: e takes the registry's last slot (id
 * nat_engine_count() - 1); rules made afterwards give it its default ports. */
void nat_engine_set_test(const struct nat_engine *e);
size_t nat_engine_count(void);
const struct nat_engine *nat_engine_get(size_t id);
int nat_engine_find(const char *name);		/* id, or -1 */
/* Parses "21, 2121, 6000-6010" into conf->ports; -1 with why on error. */
int nat_inspect_parse_ports(const char *s, struct nat_inspect_conf *conf, char *why,
    size_t whylen);
/* Every engine enabled with its default ports (nat_rules_new calls it). */
void nat_inspect_defaults(struct nat_rules *r);
bool nat_inspect_port_in(const struct nat_inspect_conf *conf, uint16_t port);

#endif
