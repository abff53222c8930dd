/* tsunagi's NAT fast path: a tc ingress program on the NAT interfaces that
 * rewrites packets of the established TCP and UDP flows tsunagid put in its map
 * (daemon/nat_fast.c), before routing, exactly as the NAT core would: source or
 * destination address and port, IP and L4 checksums by difference. The kernel
 * then routes and forwards it (TTL, fragmentation, neighbours) and the mark
 * lets it skip the NFQUEUE rule. Everything else passes untouched to the queue:
 * not IPv4 over Ethernet, IP options, fragments, SYN (the core tracks the
 * handshake), other protocols, and every packet not in the map. A FIN or RST
 * of a flow in the map is forwarded here too and told to tsunagid through a ring
 * buffer (no verdict, no reinjection); when the ring is full it is queued. */
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

#define IP_OFF ETH_HLEN
#define TH_FIN 0x01
#define TH_RST 0x04
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
	__u32 seq = 0, len = 0;
	__u8 tflags = 0;
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)(ip + 1);
		if ((void *)(th + 1) > end || th->syn)
			return TC_ACT_OK;
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
	if (!v)
		return TC_ACT_OK;
	if (tflags & (TH_FIN | TH_RST)) {
		struct nat_fast_ev *e = bpf_ringbuf_reserve(&nat_fast_ev, sizeof(*e), 0);
		if (!e)
			return TC_ACT_OK;	/* tsunagid behind: the queue tells it */
		e->key = k;
		e->seq = seq;
		e->len = (__u16)len;
		e->flags = tflags;
		e->pad = 0;
		bpf_ringbuf_submit(e, 0);
	}
	v->last_ns = bpf_ktime_get_ns();
	__sync_fetch_and_add(&v->pkts, 1);
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
	return TC_ACT_OK;
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
