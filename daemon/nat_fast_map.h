/* The NAT fast path's maps, shared by tsunagid (daemon/nat_fast.c) and its tc
 * program (daemon/nat_fast.bpf.c). nat_fast: one entry per direction of a flow,
 * keyed by the packet as it arrives on the wire, holding where it is rewritten
 * to; tsunagid writes the rewrite of the flows the core hands over, the program
 * writes the use, and both entries of the plain outbound TCP flows it makes
 * itself from their SYN (NAT_FAST_NEW), as the plan maps (nat/fast_plan.h) allow.
 * Addresses and ports in network byte order, as on the wire. */
#ifndef TSUNAGI_DAEMON_NAT_FAST_MAP_H
#define TSUNAGI_DAEMON_NAT_FAST_MAP_H
#include <linux/types.h>

#define NAT_FAST_MARK 0x40000000	/* skb->mark bit: rewritten, skip the queue */
#define NAT_FAST_MAX 131072		/* map entries (two per flow), allocated as used */
#define NAT_FAST_SEQ 1			/* nat_fast_val.flags: seq_end is set */
#define NAT_FAST_NEW 2			/* ... made by the program from a SYN */

struct nat_fast_key {
	__u32 src, dst;
	__u16 sport, dport;
	__u8 proto;
	__u8 side;	/* interface it arrives on: 0 inside, 1 outside */
	__u8 pad[2];
};

struct nat_fast_val {
	__u32 to_src, to_dst;	/* the rewrite */
	__u16 to_sport, to_dport;
	__u32 flags;		/* NAT_FAST_SEQ (program), NAT_FAST_NEW */
	__u64 last_ns;		/* CLOCK_MONOTONIC of the last packet (program) */
	__u64 pkts, bytes;	/* since the entry was made (program) */
	__u32 seq_end;		/* TCP: highest seq + payload length sent (host order) */
	__u32 answered;		/* the other direction's entry had a packet (program) */
};

/* Ring buffer nat_fast_ev: a TCP segment with SYN, FIN or RST the program
 * forwarded (NAT_FAST_EV_TCP), or a flow it made from a SYN (NAT_FAST_EV_NEW:
 * key is the SYN from inside, pub:pport where it left), for tsunagid to track.
 * When the ring is full the segment goes to the queue instead (and no flow is
 * made). The program wakes tsunagid only when a quarter of the ring is used;
 * tsunagid also reads it every NAT_FAST_POLL_MS. */
#define NAT_FAST_EV_TCP 0
#define NAT_FAST_EV_NEW 1
struct nat_fast_ev {
	struct nat_fast_key key;
	__u32 pub;		/* NEW */
	__u16 pport;		/* NEW */
	__u16 rule;		/* NEW: index in the rules of generation gen */
	__u32 gen;		/* NEW */
	__u16 len;		/* TCP payload length */
	__u8 type;
	__u8 hlen;		/* bytes of th: the TCP header, options included */
	__u8 th[60];
};
#define NAT_FAST_RING (1024 * 1024)	/* bytes: 10,000 events */
#define NAT_FAST_POLL_MS 20

/* nat_fast_cfg[0]: the plan's scalars. */
#define NAT_FAST_OUT_IFS 8	/* of each side */
struct nat_fast_cfg {
	__u32 on;		/* 0: every SYN to the queue (also while tsunagid rewrites the maps) */
	__u32 gen;
	__u16 lo, hi;		/* public TCP ports the program hands out (host order) */
	__u32 seed;
	__u32 wake_bytes;	/* ring data that wakes tsunagid */
	__u32 out_if[NAT_FAST_OUT_IFS];	/* outside interfaces (ifindex), 0 = none */
	__u32 in_if[NAT_FAST_OUT_IFS];	/* inside interfaces (ifindex), 0 = none */
	__u32 redirect;		/* NAT_FAST_FWD_*: which packets the program forwards itself */
};

/* nat_fast_cfg.redirect (the program's forward()). */
#define NAT_FAST_FWD_NONE 0	/* the kernel forwards every packet */
#define NAT_FAST_FWD_ALL 1	/* every packet it rewrites: no other netfilter rule would see it */
#define NAT_FAST_FWD_EST 2	/* established flows' packets, SYN, FIN and RST excepted, as the
				 * kernel's flowtable does: the firewall saw the flow start */

/* nat_fast_src and nat_fast_dst: LPM tries of addresses. */
struct nat_fast_lpm {
	__u32 plen;
	__u32 addr;
};
struct nat_fast_src {
	__u32 pub;		/* 0: the core's */
	__u16 rule;
	__u16 pad;
};

/* nat_fast_ports[port / 64]: bit port % 64. */
struct nat_fast_ports {
	__u64 punt_dport;	/* an inspection engine's destination port */
	__u64 resv;		/* a public port the program must not hand out */
};

/* nat_fast_stats (per CPU): what the program did with a SYN from inside; and
 * the packets it forwarded itself. */
enum {
	NAT_FAST_ST_CREATED,	/* made the flow */
	NAT_FAST_ST_OFF,	/* no plan (yet) */
	NAT_FAST_ST_PORT,	/* an engine's port, or a source port below 1024 */
	NAT_FAST_ST_RULE,	/* source not plain PAT to one address */
	NAT_FAST_ST_DST,	/* destination exempt or published */
	NAT_FAST_ST_ROUTE,	/* not routed out of an outside interface */
	NAT_FAST_ST_FULL,	/* no free public port in a few tries */
	NAT_FAST_ST_RING,	/* the ring full */
	NAT_FAST_ST_NOMEM,	/* the map refused an entry: full, or no memory at that moment */
	NAT_FAST_ST_REDIRECTED,	/* a packet of any flow the program forwarded itself */
	NAT_FAST_ST_COUNT
};
#endif
