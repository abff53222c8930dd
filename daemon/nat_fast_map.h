/* The NAT fast path's map, shared by tsunagid (daemon/nat_fast.c) and its tc
 * program (daemon/nat_fast.bpf.c): one entry per direction of an established
 * flow, keyed by the packet as it arrives on the wire, holding where it is
 * rewritten to. tsunagid writes the rewrite; the program writes the use.
 * Addresses and ports in network byte order, as on the wire. */
#ifndef TSUNAGI_DAEMON_NAT_FAST_MAP_H
#define TSUNAGI_DAEMON_NAT_FAST_MAP_H
#include <linux/types.h>

#define NAT_FAST_MARK 0x40000000	/* skb->mark bit: rewritten, skip the queue */
#define NAT_FAST_MAX 131072		/* map entries (two per flow), allocated as used */
#define NAT_FAST_SEQ 1			/* nat_fast_val.flags: seq_end is set */

struct nat_fast_key {
	__u32 src, dst;
	__u16 sport, dport;
	__u8 proto;
	__u8 side;	/* interface it arrives on: 0 inside, 1 outside */
	__u8 pad[2];
};

struct nat_fast_val {
	__u32 to_src, to_dst;	/* the rewrite (tsunagid) */
	__u16 to_sport, to_dport;
	__u32 flags;		/* NAT_FAST_SEQ (program) */
	__u64 last_ns;		/* CLOCK_MONOTONIC of the last packet (program) */
	__u64 pkts, bytes;	/* since the entry was made (program) */
	__u32 seq_end;		/* TCP: highest seq + payload length sent (host order) */
	__u32 pad;
};
/* A FIN or RST the program forwarded, for tsunagid to track (ring buffer
 * nat_fast_ev): the key it arrived with, its seq (host order), payload length
 * and TCP flags. When the ring is full the segment goes to the queue instead. */
struct nat_fast_ev {
	struct nat_fast_key key;
	__u32 seq;
	__u16 len;
	__u8 flags;
	__u8 pad;
};
#define NAT_FAST_RING (256 * 1024)	/* bytes: 10,000 events */
#endif
