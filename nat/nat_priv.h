/* Internal to nat/: the flow table that flow.c keeps and translate.c uses. */
#ifndef TSUNAGI_NAT_PRIV_H
#define TSUNAGI_NAT_PRIV_H
#include <stdbool.h>
#include <stdint.h>

#include "nat/inspect.h"
#include "nat/nat.h"
#include "nat/nat_rules.h"

#define NAT_NONE UINT32_MAX
#define NAT_FRAG_SLOTS 256	/* first fragments remembered for their followers */
#define NAT_FRAG_MS 30000	/* how long: the usual reassembly timeout */
#define NAT_GRE_BUCKETS 1024	/* the quote index of PPTP calls' GRE (gre_quote.c) */

/* struct nat_key: see inspect.h. */

/* Idle-timeout classes: one list each, oldest first, so expiry and eviction
 * look only at list heads. */
enum flow_class {
	FC_TCP_SYN, FC_TCP, FC_TCP_HALF, FC_TCP_CLOSED, FC_UDP, FC_ICMP, FC_OTHER,
	FC_SIP, FC_SIP_MEDIA,	/* UDP signalling and media of the SIP engine */
	FC_XLATE,	/* dynamic NAT bindings: never evicted while flows use them */
	FC_COUNT
};

enum tcp_state { TS_SYN_SENT, TS_SYN_RECV, TS_ESTABLISHED, TS_FIN, TS_CLOSED };

enum flow_flag {
	FF_USED = 1,
	FF_HAIRPIN = 2,		/* both ends inside: k[1] packets come from inside */
	FF_DYNAMIC = 4,		/* holds a reference on its dynamic NAT binding */
	FF_IKE = 8,		/* IKE pass-through: k[1] is the pseudo key of ipsec_pt.c,
				 * u.pt holds the public address and initiator SPI */
	FF_L2TP = 16,		/* L2TP pass-through: k[1] is the pseudo key of l2tp_pt.c,
				 * u.pt holds the public address, spi[0] the tunnel ID */
};
#define FF_PSEUDO (FF_IKE | FF_L2TP)	/* k[1] is no packet's key */
#define FF_FAST 32		/* in the fast path (fastpath.c) */
#define FF_NOFAST 64		/* the fast path refused it: not asked again */
#define FF_GRE_QUOTE 128	/* PPTP GRE: in the ICMP quote index (gre_quote.c) */

/* TCP flags per direction d (bit d of each). */
#define TF_FIN(d) (1u << (d))
#define TF_WS(d) (4u << (d))		/* window scale option in its SYN */
#define TF_SEEN(d) (16u << (d))		/* td_end[d] is known */
#define TF_ADOPTED 64u			/* made by the fast path from its SYN (nat_flow_adopt);
					 * kept when the tuple is reused */

/* One flow: k[0] is a packet as the inside sees it, k[1] its reply as the
 * outside sees it (k[1].dst is ours). A packet matching k[d] is rewritten to
 * the mirror of k[!d]. Kept small: the table is sized for a million of them. */
struct flow {
	struct nat_key k[2];
	uint32_t hnext[2];		/* hash chains, one per key */
	uint32_t prev, next;		/* class list (oldest first), or the free list */
	uint64_t last_ms;
	uint64_t bytes[2];		/* [d]: packets that matched k[d] */
	uint32_t pkts[2];
	union {
		struct {
			uint32_t td_end[2];	/* highest seq + len sent from d */
			uint32_t td_maxwin[2];	/* largest window d advertised, scaled */
		} tcp;
		uint32_t refs;			/* binding: flows that use it */
		struct {
			uint16_t gre_cid;	/* PPTP GRE: the inside end's own call ID */
			uint32_t gre_qnext[2];	/* its chains in the quote index */
		};
		struct {
			uint32_t pub;		/* 0 in an ESP anchor (refs aliases it) */
			uint32_t spi[2];	/* IKE: the initiator SPI */
			uint32_t client;	/* ESP anchor: the inside client */
		} pt;
	} u;
	uint16_t rule;			/* index in the rules of generation gen */
	uint8_t proto, cls, state, flags, tflags, gen;
	uint8_t wscale[2];
	uint32_t insp;			/* inspected: index + 1 in nat_table.insp, else 0 */
};

/* A parsed packet (translate.c), also what an inspection engine edits. */
enum icmp_kind { IK_NONE, IK_REQUEST, IK_REPLY, IK_ERROR, IK_OTHER };

struct pkt {
	uint8_t *ip;
	size_t hl, tot;		/* header length, total length (both checked) */
	size_t cap;		/* bytes writable at ip */
	uint8_t proto;
	bool later_frag;	/* fragment offset > 0: no L4 header */
	bool more_frags;
	bool quoted;		/* inside an ICMP error: may be cut short */
	bool changed;		/* something was rewritten */
	bool recsum;		/* payload or seq changed: checksums computed anew */
	int32_t delta;		/* payload length change by the engine */
	uint8_t *l4;		/* NULL for a later fragment */
	size_t l4len;		/* bytes of L4 in this packet */
	enum icmp_kind icmp;
	struct nat_key key;
	uint32_t pub, spi[2];	/* a new IKE or L2TP pass-through flow's (ipsec_pt.c) */
};

/* Inspection (inspect.c): what an inspected flow keeps besides struct flow. */
struct seqadj {
	uint32_t pos;		/* seq (as sent) of the last segment that changed length */
	int32_t before, after;	/* delta for segments up to pos, and after it */
};

struct insp_flow {
	uint8_t engine;
	uint8_t opener;		/* dir of the flow's first packet (the client) */
	struct seqadj adj[2];	/* [d]: bytes sent from k[d]'s end */
	_Alignas(8) uint8_t state[];
};

struct expect_slot {
	uint64_t deadline;
	uint32_t parent;	/* flow that opened it */
	uint16_t rule;
	uint16_t next;		/* next slot + 1 in its hash chain; 0 = end */
	uint8_t gen, owner;
	uint8_t proto, side, engine;
	struct nat_key match, to;
};

#define NAT_MAX_EXPECT 1024
/* Pinholes are hashed by (proto, match.dst, match.dport): always exact (only
 * the source port may be a wildcard), and all that PAT's port probe knows. */
#define NAT_EXP_BUCKETS 1024

struct frag_slot {
	uint32_t src, dst;	/* before translation */
	uint16_t id;
	uint8_t proto, dir;
	uint32_t flow;
	uint64_t ms;
};

struct nat_table {
	const struct nat_rules *rules;
	struct flow *flows;
	uint32_t max, high, free_head, n_used;
	uint32_t *bucket;		/* (flow << 1 | key) + 1; 0 = empty */
	uint32_t mask;
	uint32_t head[FC_COUNT], tail[FC_COUNT];
	uint64_t seed;
	uint8_t gen;			/* bumped by each set_rules */
	struct nat_counters c;
	struct nat_rule_counters *rc;
	size_t n_rc;
	struct frag_slot frag[NAT_FRAG_SLOTS];
	uint32_t gre_bucket[NAT_GRE_BUCKETS];	/* gre_quote.c's chains; 0 = empty */
	void (*ev)(const struct nat_event_info *e, void *arg);
	void *ev_arg;
	const char *deny;		/* why the packet in hand is dropped */
	struct insp_flow **insp;	/* state of inspected flows, by flow.insp - 1 */
	uint32_t n_insp, cap_insp;
	uint32_t *insp_free;		/* free insp indexes (a stack) */
	uint32_t n_insp_free;
	struct expect_slot *exp;	/* pinholes, n_exp of NAT_MAX_EXPECT (lazily allocated) */
	uint32_t n_exp;
	uint16_t *exp_head;		/* NAT_EXP_BUCKETS chains: first slot + 1; 0 = empty */
	struct nat_insp_counters ic[NAT_MAX_ENGINES];
	const struct nat_fast_ops *fast;	/* NULL: no fast path */
	void *fast_arg;
	uint16_t fast_lo, fast_hi;	/* TCP public ports the fast path hands out itself */
};

/* flow.c */
uint32_t flow_lookup(struct nat_table *t, uint8_t proto, const struct nat_key *k, int *dir);
bool flow_key_free(struct nat_table *t, uint8_t proto, const struct nat_key *k);
/* A new flow with both keys hashed in and touched at now; NAT_NONE when full
 * and nothing can be evicted. */
uint32_t flow_new(struct nat_table *t, uint8_t proto, const struct nat_key *k0,
    const struct nat_key *k1, uint64_t now_ms);
void flow_free(struct nat_table *t, uint32_t i);
/* Ends a flow with a teardown event (reason "idle", "evicted", "flush"). */
void flow_end(struct nat_table *t, uint32_t i, const char *reason, uint64_t now_ms);
void flow_event(struct nat_table *t, enum nat_event ev, const struct flow *f,
    const char *reason, enum nat_side side, uint64_t now_ms);
void flow_touch(struct nat_table *t, struct flow *f, uint64_t now_ms);
void flow_set_class(struct nat_table *t, struct flow *f, enum flow_class c);
bool flow_expired(const struct nat_table *t, const struct flow *f, uint64_t now_ms);
uint64_t flow_timeout_ms(const struct nat_table *t, enum flow_class c);
/* 0 when every invariant holds (tests, fuzzer); O(table). */
int nat_table_check(struct nat_table *t);
uint32_t nat_hash(const struct nat_table *t, uint8_t proto, const struct nat_key *k);
/* Dynamic NAT: the pool address bound to inside host priv (bound now if it has
 * none), 0 when the pool is full. Takes a reference for the caller's flow. */
uint32_t binding_get(struct nat_table *t, uint32_t priv, uint32_t lo, uint32_t hi,
    uint64_t now_ms);
/* Gives back a flow's reference; last_ms: the flow's last use. */
void binding_put(struct nat_table *t, uint32_t priv, uint64_t last_ms);

/* translate.c: a public port PAT never hands out for proto (IKE's, a forward's). */
bool nat_port_reserved(const struct nat_table *t, uint8_t proto, uint32_t pub, uint16_t port);
/* translate.c: PAT's port choice for reply key k1 of inside key k0 (k1->dport
 * is the one wanted); false when none is free. */
bool nat_pat_port(struct nat_table *t, uint8_t proto, const struct nat_key *k0,
    struct nat_key *k1);

/* inspect.c */
#define INSP_BY_PORT -1		/* start_flow: the engine whose port it is */
#define INSP_NONE -2		/* no engine */
/* Gives a new flow its engine (by port, or the one given) and its state. */
void insp_flow_start(struct nat_table *t, struct flow *f, int dir, int engine);
/* The engine that would own a new flow to server port port, or INSP_NONE. */
int insp_engine_by_port(const struct nat_table *t, uint8_t proto, uint16_t port);
/* Hands a packet of an inspected flow to its engine and shifts TCP seq/ack. */
enum nat_insp_verdict insp_packet(struct nat_table *t, struct pkt *p, struct flow *f,
    int dir, uint64_t now_ms);
/* Checksums computed anew after a payload or seq change. */
void insp_fix_csum(struct pkt *p);
void insp_flow_free(struct nat_table *t, struct flow *f);
const char *insp_engine_name(const struct nat_table *t, const struct flow *f);
/* A pinhole that the packet (no flow yet) matches: the keys of its flow. Consumed. */
bool insp_expect_take(struct nat_table *t, const struct pkt *p, enum nat_side side,
    uint64_t now_ms, struct nat_key *k0, struct nat_key *k1, int *dir, int *engine,
    uint16_t *rule);
bool insp_expect_holds(const struct nat_table *t, uint8_t proto, const struct nat_key *k1);
void insp_expire(struct nat_table *t, uint64_t now_ms);
void insp_table_free(struct nat_table *t);
/* The pinhole index agrees with the pinholes (nat_table_check): 0, else -1. */
int insp_expect_check(const struct nat_table *t);

/* tcp_track.c: updates TCP state from a segment that matched k[dir]; false for a
 * RST outside the window (forwarded, but it does not end the flow). */
bool tcp_track(struct nat_table *t, struct flow *f, int dir, const uint8_t *tcp,
    size_t tcplen, size_t seglen);
/* Starts tracking on the SYN that creates a flow (dir 0 or 1). */
void tcp_track_new(struct nat_table *t, struct flow *f, int dir, const uint8_t *tcp,
    size_t tcplen, size_t seglen);
const char *tcp_state_name(uint8_t state);
/* What the fast path carried from dir: the handshake done, data up to seq_end. */
void tcp_track_fast(struct nat_table *t, struct flow *f, int dir, uint32_t seq_end,
    bool seq_known);

/* ipsec_pt.c: IKE/ESP pass-through through PAT (see nat/README.md). */
#define NAT_IKE_PORT 500
#define NAT_NATT_PORT 4500
#define NAT_ESP 50
/* The IKE initiator SPI of a UDP datagram 500 -> 500 (l4: the UDP header), false
 * when it is too short to be IKE or the SPI is zero. */
bool ipsec_ike_spi(const uint8_t *l4, size_t l4len, uint32_t spi[2]);
/* The pseudo key under which an IKE pass-through flow is found from outside:
 * {0, server, fold(spi, pub)}; no real packet has source 0. */
struct nat_key ipsec_ike_key(const struct nat_table *t, uint32_t server, uint32_t pub,
    const uint32_t spi[2]);
/* The IKE pass-through flow of a datagram server:500 -> pub:500 (dir 1), or NAT_NONE. */
uint32_t ipsec_ike_find(struct nat_table *t, uint32_t server, uint32_t pub,
    const uint32_t spi[2]);
/* The client did IKE with server through pub just now (rule: its PAT rule). */
void ipsec_anchor_touch(struct nat_table *t, uint32_t server, uint32_t pub, uint32_t client,
    uint16_t rule, uint64_t now_ms);
/* The inside client that most recently did IKE with server through pub, if that
 * was within the UDP timeout and it may learn one more SPI (taken); 0 when none. */
uint32_t ipsec_anchor_client(struct nat_table *t, uint32_t server, uint32_t pub,
    uint64_t now_ms, uint16_t *rule);
/* l2tp_pt.c */
#define NAT_L2TP_PORT 1701
/* The tunnel ID in the L2TPv2 header of a UDP datagram (l4: the UDP header);
 * false when it is no L2TPv2 or the ID is 0. */
bool l2tp_tunnel(const uint8_t *l4, size_t l4len, uint16_t *tid);
/* An SCCRQ and the tunnel ID it assigns (the one the LNS will send to). */
bool l2tp_sccrq_tunnel(const uint8_t *l4, size_t l4len, uint16_t *tid);
struct nat_key l2tp_key(uint32_t lns, uint16_t tid);
/* The L2TP pass-through flow of a datagram lns:1701 -> pub:1701 for tid, or NAT_NONE. */
uint32_t l2tp_find(struct nat_table *t, uint32_t lns, uint32_t pub, uint16_t tid);
/* flow.c: moves key d of flow i to k (false, nothing changed, when k is taken). */
bool flow_rekey(struct nat_table *t, uint32_t i, int d, const struct nat_key *k);

/* gre_quote.c: PPTP calls' GRE flows found by what an ICMP error quotes. */
/* Indexes GRE flow i (its k[0] final: the remote call ID known). */
void gre_quote_add(struct nat_table *t, uint32_t i);
void gre_quote_remove(struct nat_table *t, uint32_t i);
/* The flow of quoted GRE q ({src, dst, 0, call ID} as quoted) in an error from
 * side d's end (1: outside), or NAT_NONE: none, or two calls match (*twice). */
uint32_t gre_quote_find(struct nat_table *t, const struct nat_key *q, int d, bool *twice);
/* 0 when the index agrees with the flags (nat_table_check). */
int gre_quote_check(struct nat_table *t);

/* fastpath.c (see nat_fast_ops in nat.h) */
/* May the fast path hold f now? */
bool fast_qualifies(const struct nat_table *t, const struct flow *f);
/* Its two entries: e[d] for packets that match k[d]. */
void fast_entries(const struct flow *f, struct nat_fast_entry e[2]);
/* After a packet of f: hands it to the fast path or takes it back. */
void fast_update(struct nat_table *t, struct flow *f);
/* Takes what the fast path saw of f: last use, TCP ends, handshake done. */
void fast_sync(struct nat_table *t, struct flow *f);
/* Takes f back from the fast path, its packets counted. */
void fast_remove(struct nat_table *t, struct flow *f);
/* flow_expired, once the fast path's use of f is known. */
bool fast_expired(struct nat_table *t, struct flow *f, uint64_t now_ms);

static inline struct nat_key nat_key_mirror(const struct nat_key *k)
{
	return (struct nat_key){ k->dst, k->src, k->dport, k->sport };
}
#endif
