/* tsunagi's NAT fast path: a tc ingress program on the NAT interfaces that
 * rewrites packets of the established TCP and UDP flows tsunagid put in its map
 * (daemon/nat_fast.c), before routing, exactly as the NAT core would: source or
 * destination address and port, IP and L4 checksums by difference. The kernel
 * then routes and forwards it (TTL, fragmentation, neighbours) and the mark
 * lets it skip the NFQUEUE rule. Everything else passes untouched to the queue:
 * not IPv4 over Ethernet, IP options, fragments, the SYNs of the core's flows
 * (it tracks the handshake), other protocols, and every packet not in the map.
 * A FIN or RST of a flow in the map is forwarded here too and told to tsunagid
 * through a ring buffer (no verdict, no reinjection); when the ring is full it
 * is queued.
 *
 * It also makes plain outbound TCP flows itself (new_flow): a SYN from inside
 * whose source the plan (nat/fast_plan.c, in the maps below) gives to plain PAT
 * to one address, to a port no inspection engine owns, routed out of an outside
 * interface, gets a public port of the program's own range (the core's PAT
 * keeps out of it), both entries of its flow, and leaves at once; tsunagid is
 * told through the ring and the core adopts the flow (nat_flow_adopt). The SYN-ACK
 * and a SYN retransmitted or reusing the tuple go fast too, told the same way. */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "nat_fast_map.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NAT_FAST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory for the flows there are */
	__type(key, struct nat_fast_key);
	__type(value, struct nat_fast_val);
} nat_fast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NAT_FAST_RING);
} nat_fast_ev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_fast_cfg);
} nat_fast_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nat_fast_lpm);
	__type(value, struct nat_fast_src);
} nat_fast_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nat_fast_lpm);
	__type(value, __u32);
} nat_fast_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct nat_fast_ports);
} nat_fast_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NAT_FAST_ST_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} nat_fast_stats SEC(".maps");

#define IP_OFF ETH_HLEN
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10
#define AF_INET 2
#define EEXIST 17
#define CSUM_OFF(proto) (IP_OFF + 20 + ((proto) == IPPROTO_TCP ? 16 : 6))

static __always_inline void set_addr(struct __sk_buff *skb, __u32 off, __u32 from, __u32 to,
				     __u8 proto, int l4_csum)
{
	__u64 f = BPF_F_PSEUDO_HDR | 4 | (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
	if (l4_csum)
		bpf_l4_csum_replace(skb, CSUM_OFF(proto), from, to, f);
	bpf_l3_csum_replace(skb, IP_OFF + offsetof(struct iphdr, check), from, to, 4);
	bpf_skb_store_bytes(skb, off, &to, 4, 0);
}

static __always_inline void set_port(struct __sk_buff *skb, __u32 off, __u16 from, __u16 to,
				     __u8 proto, int l4_csum)
{
	__u64 f = 2 | (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
	if (l4_csum)
		bpf_l4_csum_replace(skb, CSUM_OFF(proto), from, to, f);
	bpf_skb_store_bytes(skb, off, &to, 2, 0);
}

static __always_inline int stat(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&nat_fast_stats, &what);
	if (n)
		*n += 1;
	return TC_ACT_OK;
}

/* The TCP header (options included) into an event. */
static __always_inline void put_header(struct __sk_buff *skb, struct nat_fast_ev *e, __u32 doff)
{
	__u32 hl = doff * 4;
	e->hlen = 20;
	if (hl > 20 && hl <= 60 && bpf_skb_load_bytes(skb, IP_OFF + 20, e->th, hl) == 0) {
		e->hlen = (__u8)hl;
		return;
	}
	if (bpf_skb_load_bytes(skb, IP_OFF + 20, e->th, 20) != 0)
		__builtin_memset(e->th, 0, 20);
}

/* Submits an event: tsunagid is woken only when the ring fills up; else it
 * reads it within NAT_FAST_POLL_MS (one wake-up a connection would cost it
 * more than the rest of the connection). */
static __always_inline void submit(struct nat_fast_ev *e)
{
	__u32 zero = 0;
	struct nat_fast_cfg *cfg = bpf_map_lookup_elem(&nat_fast_cfg, &zero);
	__u64 wake = cfg ? cfg->wake_bytes : 0;
	__u64 flags = bpf_ringbuf_query(&nat_fast_ev, BPF_RB_AVAIL_DATA) >= wake ?
		      BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __always_inline bool bit(__u32 port, int resv)
{
	__u32 i = port >> 6;
	struct nat_fast_ports *p = bpf_map_lookup_elem(&nat_fast_ports, &i);
	if (!p)
		return true;
	return ((resv ? p->resv : p->punt_dport) >> (port & 63)) & 1;
}

/* Leaves by an outside interface (not to a local address, not into a tunnel). */
static __always_inline bool routed_out(struct __sk_buff *skb, struct iphdr *ip, struct tcphdr *th,
				       const struct nat_fast_cfg *cfg)
{
	struct bpf_fib_lookup fib = {};
	fib.family = AF_INET;
	fib.l4_protocol = IPPROTO_TCP;
	fib.sport = th->source;
	fib.dport = th->dest;
	fib.tot_len = bpf_ntohs(ip->tot_len);
	fib.tos = ip->tos;
	fib.ipv4_src = ip->saddr;
	fib.ipv4_dst = ip->daddr;
	fib.ifindex = skb->ingress_ifindex;
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return false;
	for (int i = 0; i < NAT_FAST_OUT_IFS; i++)
		if (cfg->out_if[i] && cfg->out_if[i] == fib.ifindex)
			return true;
	return false;
}

static __always_inline bool nat_if(const __u32 *ifs, __u32 ifindex)
{
	for (int i = 0; i < NAT_FAST_OUT_IFS; i++)
		if (ifs[i] && ifs[i] == ifindex)
			return true;
	return false;
}

#ifndef BPF_FIB_LOOKUP_MARK
#define BPF_FIB_LOOKUP_MARK (1U << 5)	/* Linux 6.10: the mark in (what becomes) smac */
#endif

/* Forwarding here (cfg->redirect, nat { fastpath }): a rewritten packet leaves
 * by its route's interface at once, as the kernel's own flowtable forwards: TTL
 * decremented, next hop and MTU from the FIB (with the packet's mark, as the
 * stack's policy routing would see it), skipping the IP stack's forward path
 * (netfilter, ip_forward, a second walk of the routing rules). tsunagid has it
 * forward every packet it rewrites (NAT_FAST_FWD_ALL) only while no netfilter
 * rule but its own would see a forwarded packet (daemon/nat_fw_check.c); with
 * nat { fastpath = redirect } and a firewall there, only established flows'
 * (NAT_FAST_FWD_EST, fast()). The stack still gets: TTL 1 (time exceeded), too
 * big for the route (fragmentation, or fragmentation needed), no neighbour yet,
 * and any route but out of a NAT interface (a tunnel's TUN, the gateway
 * itself). Returns the verdict, or -1: the stack's. */
static __always_inline int forward(struct __sk_buff *skb, const struct nat_fast_cfg *cfg,
				   __u32 l4_len)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data + IP_OFF;
	if (data + IP_OFF + 20 > end || ip->ttl <= 1)
		return -1;
	struct bpf_fib_lookup fib = {};
	fib.family = AF_INET;
	fib.l4_protocol = ip->protocol;
	fib.tos = ip->tos;
	fib.ipv4_src = ip->saddr;
	fib.ipv4_dst = ip->daddr;
	fib.ifindex = skb->ingress_ifindex;
	/* One segment's length, which the route's MTU must take (GSO: each one). */
	fib.tot_len = skb->gso_size ? (__u16)(20 + l4_len + skb->gso_size) : bpf_ntohs(ip->tot_len);
	__u32 flags = 0, mark = skb->mark & ~(__u32)NAT_FAST_MARK;
	if (mark) {
		__u32 m = skb->mark;
		__builtin_memcpy(fib.smac, &m, sizeof(m));
		flags = BPF_FIB_LOOKUP_MARK;	/* older kernels refuse it: the stack's */
	}
	__u8 ttl = ip->ttl;
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), flags) != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	if (!nat_if(cfg->out_if, fib.ifindex) && !nat_if(cfg->in_if, fib.ifindex))
		return -1;
	__u16 old = bpf_htons((__u16)ttl << 8), new = bpf_htons((__u16)(ttl - 1) << 8);
	__u8 nttl = ttl - 1;
	if (bpf_l3_csum_replace(skb, IP_OFF + offsetof(struct iphdr, check), old, new, 2) < 0 ||
	    bpf_skb_store_bytes(skb, IP_OFF + offsetof(struct iphdr, ttl), &nttl, 1, 0) < 0 ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), fib.dmac, ETH_ALEN, 0) < 0 ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), fib.smac, ETH_ALEN, 0) < 0)
		return TC_ACT_SHOT;	/* half rewritten: never sent on like that */
	stat(NAT_FAST_ST_REDIRECTED);
	return bpf_redirect(fib.ifindex, 0);
}

/* A SYN from inside that no entry knows: the flow made here if the plan allows. */
static __always_inline int new_flow(struct __sk_buff *skb, struct nat_fast_key *k,
				    struct iphdr *ip, struct tcphdr *th)
{
	__u32 zero = 0;
	struct nat_fast_cfg *cfg = bpf_map_lookup_elem(&nat_fast_cfg, &zero);
	if (!cfg || !cfg->on || cfg->lo < 1024 || cfg->hi < cfg->lo)
		return stat(NAT_FAST_ST_OFF);
	__u16 sport = bpf_ntohs(k->sport), dport = bpf_ntohs(k->dport);
	__u32 th_len = th->doff * 4;	/* th is gone after the rewrite */
	if (sport < 1024 || bit(dport, 0))
		return stat(NAT_FAST_ST_PORT);
	struct nat_fast_lpm a = { 32, k->src };
	struct nat_fast_src *s = bpf_map_lookup_elem(&nat_fast_src, &a);
	if (!s || !s->pub)
		return stat(NAT_FAST_ST_RULE);
	a.addr = k->dst;
	if (bpf_map_lookup_elem(&nat_fast_dst, &a))
		return stat(NAT_FAST_ST_DST);
	if (!routed_out(skb, ip, th, cfg))
		return stat(NAT_FAST_ST_ROUTE);
	struct nat_fast_ev *e = bpf_ringbuf_reserve(&nat_fast_ev, sizeof(*e), 0);
	if (!e)
		return stat(NAT_FAST_ST_RING);
	__builtin_memset(e, 0, sizeof(*e));
	__u32 pub = s->pub, n = (__u32)cfg->hi - cfg->lo + 1;
	__u64 now = bpf_ktime_get_ns();
	/* murmur3's finalizer over the 5-tuple: every bit of the ports reaches the
	 * low bits that pick the port. */
	__u32 h = k->src ^ cfg->seed;
	h = (h ^ (h >> 16)) * 0x85ebca6bu ^ k->dst;
	h = (h ^ (h >> 13)) * 0xc2b2ae35u ^ ((__u32)k->sport << 16 | k->dport);
	h = (h ^ (h >> 16)) * 0x85ebca6bu;
	h = (h ^ (h >> 13)) * 0xc2b2ae35u;
	h ^= h >> 16;
	struct nat_fast_key out = { .src = k->dst, .dst = pub, .sport = k->sport,
				    .proto = IPPROTO_TCP, .side = 1 };
	struct nat_fast_val vo = { .to_src = k->dst, .to_dst = k->src, .to_sport = k->dport,
				   .to_dport = k->sport, .flags = NAT_FAST_NEW, .last_ns = now };
	/* The inside port first, where free, as the core and the kernel's NAT keep
	 * it: the server sees the client's own port (a reused one comes back with
	 * the ISN and timestamps of its 4-tuple, which the server's TIME_WAIT of the
	 * last connection on it expects); else ports hashed from the 5-tuple. */
	__u16 port = 0;
	for (int i = 0; i < 9; i++) {
		__u16 p = (__u16)(cfg->lo + (h + (__u32)i * 0x9e3779b1u) % n);
		if (i == 0) {
			if (sport < cfg->lo || sport > cfg->hi)
				continue;
			p = sport;
		}
		if (bit(p, 1))
			continue;
		out.dport = bpf_htons(p);
		out.sport = k->dport;
		long rc = bpf_map_update_elem(&nat_fast, &out, &vo, BPF_NOEXIST);
		if (rc == 0) {
			port = p;
			break;
		}
		if (rc != -EEXIST) {
			/* The map full, or no memory for an entry at this moment. */
			bpf_ringbuf_discard(e, 0);
			return stat(NAT_FAST_ST_NOMEM);
		}
	}
	if (!port) {
		bpf_ringbuf_discard(e, 0);
		return stat(NAT_FAST_ST_FULL);
	}
	struct nat_fast_val vi = { .to_src = pub, .to_dst = k->dst, .to_sport = bpf_htons(port),
				   .to_dport = k->dport, .flags = NAT_FAST_NEW, .last_ns = now,
				   .pkts = 1, .bytes = skb->len - IP_OFF };
	long rc = bpf_map_update_elem(&nat_fast, k, &vi, BPF_NOEXIST);
	if (rc != 0) {
		bpf_map_delete_elem(&nat_fast, &out);
		bpf_ringbuf_discard(e, 0);
		/* Taken meanwhile (the same SYN on another CPU), or no memory. */
		return stat(rc == -EEXIST ? NAT_FAST_ST_FULL : NAT_FAST_ST_NOMEM);
	}
	e->key = *k;
	e->pub = pub;
	e->pport = bpf_htons(port);
	e->rule = s->rule;
	e->gen = cfg->gen;
	e->type = NAT_FAST_EV_NEW;
	put_header(skb, e, th->doff);
	submit(e);
	/* Rewritten as an established packet would be: source address and port. */
	set_addr(skb, IP_OFF + offsetof(struct iphdr, saddr), k->src, pub, IPPROTO_TCP, 1);
	set_port(skb, IP_OFF + 20, k->sport, bpf_htons(port), IPPROTO_TCP, 1);
	skb->mark |= NAT_FAST_MARK;
	stat(NAT_FAST_ST_CREATED);
	if (cfg->redirect == NAT_FAST_FWD_ALL) {
		int rc = forward(skb, cfg, th_len);
		if (rc >= 0)
			return rc;
	}
	return TC_ACT_OK;
}

/* The first packet of an entry: its mirror (the other direction's entry) may
 * forward from now on. */
static __always_inline void answer(const struct nat_fast_key *k, const struct nat_fast_val *v)
{
	struct nat_fast_key m = { .src = v->to_dst, .dst = v->to_src, .sport = v->to_dport,
				  .dport = v->to_sport, .proto = k->proto, .side = !k->side };
	struct nat_fast_val *mv = bpf_map_lookup_elem(&nat_fast, &m);
	if (!mv && k->side == 0) {	/* hairpin: both directions arrive inside */
		m.side = 0;
		mv = bpf_map_lookup_elem(&nat_fast, &m);
	}
	if (mv && !mv->answered)
		mv->answered = 1;	/* a word of its own: flags may be written meanwhile */
}

static __always_inline int fast(struct __sk_buff *skb, __u8 side)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	/* Headers the driver left outside the linear part are pulled in (a
	 * packet too short for them is left alone). */
	__u32 need = IP_OFF + 20 + (skb->protocol == bpf_htons(ETH_P_IP) &&
				    skb->len >= IP_OFF + 20 + 20 ? 20 : 8);
	if (data + need > end) {
		if (skb->len < need || bpf_skb_pull_data(skb, need) < 0)
			return TC_ACT_OK;
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}
	if (data + IP_OFF + 20 > end)
		return TC_ACT_OK;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + IP_OFF;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || ip->version != 4 || ip->ihl != 5 ||
	    (ip->frag_off & bpf_htons(0x3fff)))
		return TC_ACT_OK;
	__u8 proto = ip->protocol;
	struct nat_fast_key k = { .src = ip->saddr, .dst = ip->daddr, .proto = proto,
				  .side = side };
	__u32 seq = 0, len = 0, doff = 5;
	__u8 tflags = 0;
	struct tcphdr *th = (void *)(ip + 1);
	if (proto == IPPROTO_TCP) {
		if ((void *)(th + 1) > end)
			return TC_ACT_OK;
		doff = th->doff;
		k.sport = th->source;
		k.dport = th->dest;
		seq = bpf_ntohl(th->seq);
		len = bpf_ntohs(ip->tot_len) - 20 - th->doff * 4;
		tflags = ((__u8 *)th)[13];
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = (void *)(ip + 1);
		if ((void *)(uh + 1) > end)
			return TC_ACT_OK;
		k.sport = uh->source;
		k.dport = uh->dest;
	} else {
		return TC_ACT_OK;
	}
	struct nat_fast_val *v = bpf_map_lookup_elem(&nat_fast, &k);
	if (!v) {
		if (proto == IPPROTO_TCP && side == 0 && (tflags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN)
			return new_flow(skb, &k, ip, th);
		return TC_ACT_OK;
	}
	/* The SYNs of the core's flows are the core's: it tracks the handshake. */
	if ((tflags & TH_SYN) && !(v->flags & NAT_FAST_NEW))
		return TC_ACT_OK;
	if (tflags & (TH_FIN | TH_RST | TH_SYN)) {
		struct nat_fast_ev *e = bpf_ringbuf_reserve(&nat_fast_ev, sizeof(*e), 0);
		if (!e)
			return TC_ACT_OK;	/* tsunagid behind: the queue tells it */
		__builtin_memset(e, 0, sizeof(*e));
		e->key = k;
		e->len = (__u16)len;
		e->type = NAT_FAST_EV_TCP;
		put_header(skb, e, doff);
		submit(e);
	}
	v->last_ns = bpf_ktime_get_ns();
	__u64 before = __sync_fetch_and_add(&v->pkts, 1);
	__sync_fetch_and_add(&v->bytes, skb->len - IP_OFF);
	/* Where this side's data got to (a RST's seq is what the core checks). */
	__u32 seq_end = seq + len;
	if (proto == IPPROTO_TCP && !(tflags & TH_RST) &&
	    (!(v->flags & NAT_FAST_SEQ) || (__s32)(seq_end - v->seq_end) > 0)) {
		v->seq_end = seq_end;
		v->flags |= NAT_FAST_SEQ;
	}
	/* A UDP checksum of 0 means none (BPF_F_MARK_MANGLED_0 keeps it so). */
	int l4_csum = 1;
	__u32 to_src = v->to_src, to_dst = v->to_dst;
	__u16 to_sport = v->to_sport, to_dport = v->to_dport;
	if (to_src != k.src)
		set_addr(skb, IP_OFF + offsetof(struct iphdr, saddr), k.src, to_src, proto, l4_csum);
	if (to_dst != k.dst)
		set_addr(skb, IP_OFF + offsetof(struct iphdr, daddr), k.dst, to_dst, proto, l4_csum);
	if (to_sport != k.sport)
		set_port(skb, IP_OFF + 20, k.sport, to_sport, proto, l4_csum);
	if (to_dport != k.dport)
		set_port(skb, IP_OFF + 22, k.dport, to_dport, proto, l4_csum);
	skb->mark |= NAT_FAST_MARK;
	if (!before)
		answer(&k, v);
	__u32 zero = 0;
	struct nat_fast_cfg *cfg = bpf_map_lookup_elem(&nat_fast_cfg, &zero);
	if (!cfg || !(cfg->redirect == NAT_FAST_FWD_ALL ||
		      (cfg->redirect == NAT_FAST_FWD_EST && before && v->answered &&
		       !(tflags & (TH_FIN | TH_RST | TH_SYN)))))
		return TC_ACT_OK;
	int rc = forward(skb, cfg, proto == IPPROTO_TCP ? doff * 4 : 8);
	return rc >= 0 ? rc : TC_ACT_OK;
}

SEC("tc")
int nat_fast_inside(struct __sk_buff *skb)
{
	return fast(skb, 0);
}

SEC("tc")
int nat_fast_outside(struct __sk_buff *skb)
{
	return fast(skb, 1);
}

char LICENSE[] SEC("license") = "GPL";
