/* The translate step: parse one IPv4 packet (every length checked before it is
 * read), find or make its flow, and rewrite addresses, ports and every checksum
 * incrementally (RFC 1624). ICMP errors have their quoted packet rewritten too,
 * for every kind of translation.
 *
 * Fragments: a first fragment is translated like a whole packet and remembered
 * (addresses, IP ID, protocol) for NAT_FRAG_MS; later fragments carry no ports,
 * so they get the addresses of the first fragment's flow. A later fragment that
 * arrives before its first one, or of no known flow, is dropped and counted. */
#include <string.h>

#include "lib/buf.h"
#include "lib/csum.h"
#include "nat/nat_priv.h"

#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_GRE_ 47
#define TH_SYN 0x02
#define TH_ACK 0x10
#define MF 0x2000
#define OFFMASK 0x1fff

static enum icmp_kind icmp_kind(uint8_t type)
{
	switch (type) {
	case 8: return IK_REQUEST;
	case 0: return IK_REPLY;
	case 3: case 4: case 5: case 11: case 12: return IK_ERROR;
	default: return IK_OTHER;
	}
}

/* The L4 part of a parse: ports (or the echo identifier) and length checks. */
static int parse_l4(struct pkt *p)
{
	const uint8_t *l4 = p->l4;
	switch (p->proto) {
	case IPPROTO_TCP_:
		if (p->quoted && p->l4len >= 8)
			break;	/* an ICMP error quotes only 8 bytes for sure */
		if (p->l4len < 20 || (size_t)(l4[12] >> 4) * 4 < 20 ||
		    (size_t)(l4[12] >> 4) * 4 > p->l4len)
			return -1;
		break;
	case IPPROTO_UDP_:
		if (p->l4len < 8 || get_u16(l4 + 4) < 8 ||
		    (!p->more_frags && !p->quoted && get_u16(l4 + 4) > p->l4len))
			return -1;
		break;
	case IPPROTO_ICMP_:
		if (p->l4len < 8)
			return -1;
		p->icmp = icmp_kind(l4[0]);
		if (p->icmp == IK_REQUEST)
			p->key.sport = get_u16(l4 + 4);
		else if (p->icmp == IK_REPLY)
			p->key.dport = get_u16(l4 + 4);
		return 0;
	case NAT_ESP:
		if (p->l4len < 8 || (!p->quoted && get_u32(l4) < 256))
			return -1;	/* SPIs below 256 never appear on the wire */
		/* The SPI is the port pair: flows per SA, found by PAT from outside. */
		p->key.sport = get_u16(l4);
		p->key.dport = get_u16(l4 + 2);
		return 0;
	default:
		return 0;
	}
	p->key.sport = get_u16(l4);
	p->key.dport = get_u16(l4 + 2);
	return 0;
}

/* An IPv4 packet of at most len bytes; quoted = inside an ICMP error, where the
 * total length may promise more than was quoted. */
static int parse(uint8_t *ip, size_t len, bool quoted, struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (len < 20 || ip[0] >> 4 != 4 || (ip[0] & 15) < 5)
		return -1;
	p->ip = ip;
	p->hl = (size_t)(ip[0] & 15) * 4;
	p->tot = get_u16(ip + 2);
	if (p->hl > len || p->tot < p->hl || (!quoted && p->tot > len))
		return -1;
	if (quoted && p->tot > len)
		p->tot = len;
	uint16_t frag = get_u16(ip + 6);
	p->proto = ip[9];
	p->later_frag = (frag & OFFMASK) != 0;
	p->quoted = quoted;
	p->more_frags = !quoted && (frag & MF);
	p->key.src = get_u32(ip + 12);
	p->key.dst = get_u32(ip + 16);
	if (!p->key.src || !p->key.dst)
		return -1;
	if (p->later_frag)
		return 0;
	p->l4 = ip + p->hl;
	p->l4len = p->tot - p->hl;
	return parse_l4(p);
}

/* Offset of the L4 checksum, or 0 where there is none (or not in this packet). */
static size_t l4_csum_off(const struct pkt *p)
{
	if (!p->l4)
		return 0;
	if (p->proto == IPPROTO_TCP_ && p->l4len >= 18)
		return 16;
	if (p->proto == IPPROTO_UDP_ && p->l4len >= 8 && get_u16(p->l4 + 6) != 0)
		return 6;
	if (p->proto == IPPROTO_ICMP_ && p->l4len >= 4)
		return 2;
	return 0;
}

/* Writes a 16-bit field; the enclosing checksum (the outer ICMP one when this
 * is a quoted packet) follows the change. */
static void put16_fix(uint8_t *at, uint16_t v, uint8_t *outer)
{
	uint16_t old = get_u16(at);
	if (old == v)
		return;
	put_u16(at, v);
	if (outer)
		put_u16(outer, csum_update(get_u16(outer), old, v));
}

static void put32_fix(uint8_t *at, uint32_t v, uint8_t *outer)
{
	put16_fix(at, (uint16_t)(v >> 16), outer);
	put16_fix(at + 2, (uint16_t)v, outer);
}

/* Rewrites p to carry key k: addresses, ports or echo identifier, the IP header
 * checksum and the L4 checksum (pseudo header included). */
static void rewrite(struct pkt *p, const struct nat_key *k, uint8_t *outer)
{
	uint16_t ipsum = get_u16(p->ip + 10);
	size_t co = l4_csum_off(p);
	uint16_t l4sum = co ? get_u16(p->l4 + co) : 0;
	bool pseudo = p->proto == IPPROTO_TCP_ || p->proto == IPPROTO_UDP_;
	const uint32_t addr[2] = { k->src, k->dst };
	for (int i = 0; i < 2; i++) {
		uint32_t old = get_u32(p->ip + 12 + 4 * i);
		ipsum = csum_update32(ipsum, old, addr[i]);
		if (co && pseudo)
			l4sum = csum_update32(l4sum, old, addr[i]);
		put32_fix(p->ip + 12 + 4 * i, addr[i], outer);
	}
	if (p->l4 && pseudo) {
		const uint16_t port[2] = { k->sport, k->dport };
		for (int i = 0; i < 2; i++) {
			if (co)
				l4sum = csum_update(l4sum, get_u16(p->l4 + 2 * i), port[i]);
			put16_fix(p->l4 + 2 * i, port[i], outer);
		}
	} else if (p->l4 && p->proto == IPPROTO_ICMP_ && p->l4len >= 6 &&
		   (p->icmp == IK_REQUEST || p->icmp == IK_REPLY)) {
		uint16_t id = p->icmp == IK_REQUEST ? k->sport : k->dport;
		if (co)
			l4sum = csum_update(l4sum, get_u16(p->l4 + 4), id);
		put16_fix(p->l4 + 4, id, outer);
	}
	if (p->key.src != k->src || p->key.dst != k->dst || p->key.sport != k->sport ||
	    p->key.dport != k->dport)
		p->changed = true;
	put16_fix(p->ip + 10, ipsum, outer);
	if (co) {
		if (p->proto == IPPROTO_UDP_ && l4sum == 0)
			l4sum = 0xffff;	/* 0 would mean "no checksum" */
		put16_fix(p->l4 + co, l4sum, outer);
	}
	p->key = *k;
}

/* Where a packet that matched f->k[dir] is rewritten to: the mirror of the
 * other key, except that an IKE pass-through flow's k[1] is a pseudo key. */
static struct nat_key flow_to(const struct flow *f, int dir)
{
	if (dir == 0 && (f->flags & FF_PSEUDO))
		return (struct nat_key){ f->u.pt.pub, f->k[0].dst, f->k[0].sport, f->k[0].dport };
	return nat_key_mirror(&f->k[!dir]);
}

/* Counts a drop and notes why, for the deny event. */
static enum nat_verdict deny(struct nat_table *t, uint64_t *counter, const char *why)
{
	(*counter)++;
	t->deny = why;
	return NAT_DROP;
}

static const struct nat_rule *exempted(const struct nat_table *t, uint32_t inside,
    uint32_t remote);

/* Is a packet from src to dst, arriving on side, between exempt networks? */
static bool exempt_pair(const struct nat_table *t, enum nat_side side, uint32_t src,
    uint32_t dst)
{
	return side == NAT_FROM_INSIDE ? exempted(t, src, dst) != NULL :
					 exempted(t, dst, src) != NULL;
}

static bool side_ok(const struct flow *f, int dir, enum nat_side side)
{
	if (dir == 0)
		return side == NAT_FROM_INSIDE;
	return side == NAT_FROM_OUTSIDE || (f->flags & FF_HAIRPIN);
}

/* The flow of key k arriving on side, if it exists, matches the side and has
 * not timed out (a flow past its timeout is ended here, whatever the timer). */
static struct flow *live(struct nat_table *t, uint32_t i, int dir, enum nat_side side,
    uint64_t now)
{
	if (i == NAT_NONE)
		return NULL;
	struct flow *f = &t->flows[i];
	if (fast_expired(t, f, now)) {
		t->c.flows_expired++;
		flow_end(t, i, "idle", now);
		return NULL;
	}
	return side_ok(f, dir, side) ? f : NULL;
}

static struct flow *find(struct nat_table *t, uint8_t proto, const struct nat_key *k,
    enum nat_side side, uint64_t now, int *dir)
{
	uint32_t i = flow_lookup(t, proto, k, dir);
	return live(t, i, *dir, side, now);
}

/* A datagram between two ports of a pass-through engine (IKE: 500 -> 500 by
 * default; L2TP: 1701 -> 1701), when that engine is enabled. */
static bool passthru_ports(const struct nat_table *t, const struct pkt *p, int engine)
{
	const struct nat_inspect_conf *c = &t->rules->inspect[engine];
	return p->proto == IPPROTO_UDP_ && c->enabled && nat_inspect_port_in(c, p->key.sport) &&
	       nat_inspect_port_in(c, p->key.dport);
}

static bool ike_ports(const struct nat_table *t, const struct pkt *p)
{
	return passthru_ports(t, p, NAT_ENGINE_IKE);
}

/* From outside, server:500 -> pub:500: the pass-through flow of its initiator
 * SPI, if any (else the datagram is tsunagid's own, or a forward's). */
static struct flow *find_ike(struct nat_table *t, struct pkt *p, enum nat_side side,
    uint64_t now, int *dir)
{
	uint32_t spi[2];
	if (side != NAT_FROM_OUTSIDE || !ike_ports(t, p) || !ipsec_ike_spi(p->l4, p->l4len, spi))
		return NULL;
	*dir = 1;
	return live(t, ipsec_ike_find(t, p->key.src, p->key.dst, spi), 1, side, now);
}

static bool l2tp_ports(const struct nat_table *t, const struct pkt *p)
{
	return passthru_ports(t, p, NAT_ENGINE_L2TP);
}

/* From outside, lns:1701 -> pub:1701: the pass-through flow of its tunnel ID, if
 * any (else a plain flow on 1701, if one holds it). */
static struct flow *find_l2tp(struct nat_table *t, struct pkt *p, enum nat_side side,
    uint64_t now, int *dir)
{
	uint16_t tid;
	if (side != NAT_FROM_OUTSIDE || !l2tp_ports(t, p) || !l2tp_tunnel(p->l4, p->l4len, &tid))
		return NULL;
	*dir = 1;
	return live(t, l2tp_find(t, p->key.src, p->key.dst, tid), 1, side, now);
}

/* An L2TP pass-through client's new SCCRQ (a new tunnel) moves its flow to the
 * new tunnel ID, unless another client's tunnel has it. */
static void l2tp_sent(struct nat_table *t, const struct pkt *p, struct flow *f)
{
	uint16_t tid;
	if (!l2tp_sccrq_tunnel(p->l4, p->l4len, &tid) || tid == f->u.pt.spi[0])
		return;
	struct nat_key kp = l2tp_key(f->k[0].dst, tid);
	if (flow_rekey(t, (uint32_t)(f - t->flows), 1, &kp))
		f->u.pt.spi[0] = tid;
}

/* An IKE pass-through client sent again: a new initiator SPI (a new IKE SA, or
 * a rekeyed one) moves the flow to it; the server now belongs to this client
 * for raw ESP learning. */
static void ike_sent(struct nat_table *t, const struct pkt *p, struct flow *f, uint64_t now)
{
	uint32_t spi[2];
	if (ipsec_ike_spi(p->l4, p->l4len, spi) &&
	    (spi[0] != f->u.pt.spi[0] || spi[1] != f->u.pt.spi[1])) {
		struct nat_key kp = ipsec_ike_key(t, f->k[0].dst, f->u.pt.pub, spi);
		/* (Taken by another client's SA: replies on this one stay the gateway's.) */
		if (flow_rekey(t, (uint32_t)(f - t->flows), 1, &kp)) {
			f->u.pt.spi[0] = spi[0];
			f->u.pt.spi[1] = spi[1];
		}
	}
	ipsec_anchor_touch(t, f->k[0].dst, f->u.pt.pub, f->k[0].src, f->rule, now);
}

static void count(struct nat_table *t, struct flow *f, int dir, size_t len,
    enum nat_side side)
{
	f->pkts[dir]++;
	f->bytes[dir] += len;
	if (f->gen == t->gen && f->rule < t->n_rc) {
		t->rc[f->rule].packets++;
		t->rc[f->rule].bytes += len;
	}
	if ((f->flags & FF_HAIRPIN) && side == NAT_FROM_INSIDE)
		t->c.hairpin++;
	else if (side == NAT_FROM_INSIDE)
		t->c.in2out++;
	else
		t->c.out2in++;
	if (f->flags & (FF_IKE | FF_L2TP))
		t->ic[f->flags & FF_IKE ? NAT_ENGINE_IKE : NAT_ENGINE_L2TP].packets++;
}

static void frag_remember(struct nat_table *t, const struct pkt *p, struct flow *f, int dir,
    uint64_t now)
{
	struct nat_key k = { p->key.src, p->key.dst, get_u16(p->ip + 4), p->proto };
	struct frag_slot *s = &t->frag[nat_hash(t, 255, &k) % NAT_FRAG_SLOTS];
	*s = (struct frag_slot){ p->key.src, p->key.dst, get_u16(p->ip + 4), p->proto,
				 (uint8_t)dir, (uint32_t)(f - t->flows), now };
}

static enum nat_verdict later_fragment(struct nat_table *t, struct pkt *p,
    enum nat_side side, uint64_t now)
{
	uint16_t id = get_u16(p->ip + 4);
	struct nat_key k = { p->key.src, p->key.dst, id, p->proto };
	struct frag_slot *s = &t->frag[nat_hash(t, 255, &k) % NAT_FRAG_SLOTS];
	struct flow *f = s->flow < t->high ? &t->flows[s->flow] : NULL;
	if (!f || s->src != k.src || s->dst != k.dst || s->id != id || s->proto != p->proto ||
	    now >= s->ms + NAT_FRAG_MS || !(f->flags & FF_USED) || f->proto != p->proto ||
	    f->k[s->dir].src != k.src || f->k[s->dir].dst != k.dst ||
	    !side_ok(f, s->dir, side)) {
		return deny(t, &t->c.drop_fragment, "fragment");
	}
	struct nat_key to = flow_to(f, s->dir);
	rewrite(p, &to, NULL);
	count(t, f, s->dir, p->tot, side);
	t->c.fragments++;
	return NAT_FORWARD;
}

/* The rest of a packet of flow f (new or known): its engine, the rewrite to
 * the mirror of the other key, the counters. An engine may drop the packet or
 * end the flow after it. */
static enum nat_verdict finish(struct nat_table *t, struct pkt *p, struct flow *f, int dir,
    enum nat_side side, uint64_t now)
{
	enum nat_insp_verdict iv = NAT_INSP_PASS;
	if (f->insp && p->l4) {
		iv = insp_packet(t, p, f, dir, now);
		if (iv == NAT_INSP_DROP)
			return deny(t, &t->c.drop_inspect, "inspect");
	}
	if (p->more_frags)
		frag_remember(t, p, f, dir, now);	/* by the addresses it came with */
	struct nat_key to = flow_to(f, dir);
	rewrite(p, &to, NULL);
	if (p->recsum)
		insp_fix_csum(p);
	count(t, f, dir, p->tot, side);
	if (iv == NAT_INSP_END)
		flow_end(t, (uint32_t)(f - t->flows), "inspect", now);
	else
		fast_update(t, f);
	return NAT_FORWARD;
}

/* A packet of a known flow: track, then the rest. */
static enum nat_verdict apply(struct nat_table *t, struct pkt *p, struct flow *f, int dir,
    enum nat_side side, uint64_t now)
{
	if (p->proto == IPPROTO_TCP_) {
		size_t th = (size_t)(p->l4[12] >> 4) * 4;
		if (p->l4[13] & 0x04)
			fast_sync(t, f);	/* its window check: where the fast path got to */
		if (!tcp_track(t, f, dir, p->l4, th, p->l4len - th))
			t->c.tcp_rst_ignored++;
	}
	flow_touch(t, f, now);
	if ((f->flags & FF_IKE) && dir == 0)
		ike_sent(t, p, f, now);
	if ((f->flags & FF_L2TP) && dir == 0)
		l2tp_sent(t, p, f);
	return finish(t, p, f, dir, side, now);
}

/* Enhanced GRE (RFC 2637 4.1: version 1, key present, no checksum or routing):
 * the call ID of its key, which names the receiver's end of a PPTP call. */
static bool gre_call_id(const struct pkt *p, uint16_t *cid)
{
	if (!p->l4 || p->proto != IPPROTO_GRE_ || p->l4len < 8 || (p->l4[1] & 7) != 1 ||
	    (p->l4[0] & 0xe0) != 0x20 || get_u16(p->l4 + 2) != 0x880b)
		return false;
	*cid = get_u16(p->l4 + 6);
	return true;
}

/* GRE of a PPTP call (alg_pptp.c made its flow): its keys are not mirrors of
 * each other, since each direction carries the receiver's call ID. From inside
 * only the source address changes; from outside the destination address and
 * the call ID, back to the one the inside end chose. */
static enum nat_verdict gre_apply(struct nat_table *t, struct pkt *p, struct flow *f, int dir,
    enum nat_side side, uint64_t now)
{
	flow_touch(t, f, now);
	if (p->more_frags)
		frag_remember(t, p, f, dir, now);
	struct nat_key to = { f->k[!dir].dst, f->k[!dir].src, 0, 0 };
	rewrite(p, &to, NULL);
	if (dir == 1 && get_u16(p->l4 + 6) != f->u.gre_cid) {
		put_u16(p->l4 + 6, f->u.gre_cid);	/* no checksum in GRE version 1 */
		p->changed = true;
	}
	count(t, f, dir, p->tot, side);
	return NAT_FORWARD;
}

/* The flow of an ICMP error's quoted packet q, and the key d the error matched
 * (1: from outside); *ko is the quoted packet as its sender sent it. GRE of a
 * PPTP call has no mirrored keys: its quote is found in gre_quote.c's index
 * (*twice: two calls match it). */
static struct flow *quoted_flow(struct nat_table *t, struct pkt *q, enum nat_side side,
    uint64_t now, int *d, struct nat_key *ko, bool *twice)
{
	uint16_t cid;
	*twice = false;
	if (gre_call_id(q, &cid)) {
		struct nat_key gk = { q->key.src, q->key.dst, 0, cid };
		*d = side == NAT_FROM_OUTSIDE;
		struct flow *f = live(t, gre_quote_find(t, &gk, *d, twice), *d, side, now);
		if (f) {
			*ko = f->k[!*d];	/* {src, dst, 0, the call ID it sent} */
			return f;
		}
		if (*twice)
			return NULL;
	}
	struct nat_key qk = nat_key_mirror(&q->key);
	struct flow *f = find(t, q->proto, &qk, side, now, d);
	uint32_t spi[2];
	if (!f && side == NAT_FROM_OUTSIDE && ike_ports(t, q) && ipsec_ike_spi(q->l4, q->l4len, spi)) {
		*d = 1;	/* about IKE pass-through: the quote has its SPI */
		f = live(t, ipsec_ike_find(t, q->key.dst, q->key.src, spi), 1, side, now);
	}
	if (f) {
		struct nat_key to = flow_to(f, *d);
		*ko = nat_key_mirror(&to);	/* = k[!d], for real */
	}
	return f;
}

/* An ICMP error: the quoted packet is one this flow sent the other way, so its
 * mirrored key finds the flow; it is rewritten to what that side sent (k[!d])
 * and the outer header to the mirror of the same, except that a router's own
 * address outside stays (a router's address inside is replaced by ours). */
static enum nat_verdict icmp_error(struct nat_table *t, struct pkt *p, enum nat_side side,
    uint64_t now)
{
	struct pkt q;
	if (p->l4len < 8 + 20 || parse(p->l4 + 8, p->l4len - 8, true, &q) < 0 ||
	    q.later_frag || q.l4len < 8 || (q.proto == IPPROTO_ICMP_ &&
	    q.icmp != IK_REQUEST && q.icmp != IK_REPLY)) {
		return deny(t, &t->c.drop_icmp, "icmp");
	}
	int d;
	bool twice;
	struct nat_key kov, *ko = &kov;
	struct flow *f = quoted_flow(t, &q, side, now, &d, ko, &twice);
	if (twice)
		return deny(t, &t->c.drop_icmp, "icmp");
	if (!f) {
		/* Quoted: a packet that went the other way (to the sender of the error). */
		if (exempt_pair(t, side, q.key.dst, q.key.src)) {
			t->c.exempt++;
			return NAT_FORWARD;	/* about tunnel traffic: path MTU */
		}
		if (nat_rules_is_local(t->rules, p->key.dst)) {
			t->c.local++;
			return NAT_LOCAL;	/* about the gateway's own traffic */
		}
		return deny(t, &t->c.drop_icmp, "icmp");
	}
	struct nat_key outer = { p->key.src, ko->src, 0, 0 };
	if (p->key.src == f->k[d].src || d == 0)
		outer.src = ko->dst;
	rewrite(&q, ko, p->l4 + 2);
	uint16_t cid;
	if ((f->flags & FF_GRE_QUOTE) && gre_call_id(&q, &cid))
		put16_fix(q.l4 + 6, ko->dport, p->l4 + 2);	/* the call ID, as sent */
	rewrite(p, &outer, NULL);
	p->changed |= q.changed;
	flow_touch(t, f, now);
	count(t, f, d, p->tot, side);
	t->c.icmp_errors++;
	return NAT_FORWARD;
}

/* New flows ----------------------------------------------------------------- */

static uint32_t public_addr(const struct nat_table *t, const struct nat_rule *r)
{
	return r->pub_if >= 0 ? t->rules->outside_addr[r->pub_if] : r->pub_lo;
}

bool nat_port_reserved(const struct nat_table *t, uint8_t proto, uint32_t pub, uint16_t port)
{
	if (proto == IPPROTO_UDP_ && (port == NAT_IKE_PORT || port == NAT_NATT_PORT))
		return true;	/* tsunagid's IKE listens there */
	for (size_t i = 0; i < t->rules->n_rules; i++) {
		const struct nat_rule *r = &t->rules->rule[i];
		if (r->kind == NAT_RULE_FORWARD && r->proto == proto && r->pub_port == port &&
		    public_addr(t, r) == pub)
			return true;
	}
	return false;
}

static bool port_ok(struct nat_table *t, uint8_t proto, const struct nat_key *k1)
{
	t->c.pat_probes++;
	return !nat_port_reserved(t, proto, k1->dst, k1->dport) && flow_key_free(t, proto, k1) &&
	       !insp_expect_holds(t, proto, k1);
}

/* PAT: a public port (echo identifier) for reply key k1, whose dport is the one
 * wanted, for inside key k0: that one if free, else random probes (no clustering, so a busy
 * address costs about 1/free tries), and last a sweep that finds any free
 * port. Ports below 1024 stay below 1024, as on a PIX. keep = false: not the
 * wanted one. */
static bool pat_port(struct nat_table *t, uint8_t proto, const struct nat_key *k0,
    struct nat_key *k1, bool keep)
{
	uint16_t want = k1->dport;
	uint32_t lo = 1024, hi = 65535;
	if (proto == IPPROTO_ICMP_)
		lo = 1;
	else if (want < 1024)
		lo = 1, hi = 1023;
	else if (proto == IPPROTO_TCP_ && t->fast_lo > lo)
		hi = t->fast_lo - 1u;	/* the fast path's own ports (fastpath.c) */
	if (keep && want >= lo && want <= hi && port_ok(t, proto, k1))
		return true;
	/* Probes depend on the inside end: every flow to one server has the same k1. */
	uint32_t n = hi - lo + 1, h = nat_hash(t, proto, k0);
	for (uint32_t j = 0; j < 64; j++) {
		struct nat_key probe = { h, j, 0, 0 };
		k1->dport = (uint16_t)(lo + nat_hash(t, proto, &probe) % n);
		if (port_ok(t, proto, k1))
			return true;
	}
	for (uint32_t j = 0; j < n; j++) {
		k1->dport = (uint16_t)(lo + (h + j) % n);
		if (port_ok(t, proto, k1))
			return true;
	}
	return false;
}

bool nat_pat_port(struct nat_table *t, uint8_t proto, const struct nat_key *k0,
    struct nat_key *k1)
{
	return pat_port(t, proto, k0, k1, true);
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_ || proto == IPPROTO_ICMP_;
}

/* Makes the flow (k0, k1) for a packet, with its first packet applied. */
static enum nat_verdict start_flow(struct nat_table *t, struct pkt *p, size_t rule,
    const struct nat_key *k0, const struct nat_key *k1, int dir, unsigned flags,
    enum nat_side side, uint64_t now, int engine)
{
	if (!flow_key_free(t, p->proto, k0) || !flow_key_free(t, p->proto, k1))
		return deny(t, &t->c.drop_collision, "collision");
	uint32_t i = flow_new(t, p->proto, k0, k1, now);
	if (i == NAT_NONE)
		return deny(t, &t->c.drop_table_full, "table_full");
	struct flow *f = &t->flows[i];
	f->flags |= (uint8_t)flags;
	f->rule = (uint16_t)rule;
	if (rule < t->n_rc) {
		t->rc[rule].flows++;
		t->rc[rule].active++;
	}
	if (p->proto == IPPROTO_TCP_) {
		size_t th = (size_t)(p->l4[12] >> 4) * 4;
		tcp_track_new(t, f, dir, p->l4, th, p->l4len - th);
	}
	if (flags & FF_PSEUDO) {
		f->u.pt.pub = p->pub;
		f->u.pt.spi[0] = p->spi[0];
		f->u.pt.spi[1] = p->spi[1];
	}
	if (flags & FF_IKE)
		ipsec_anchor_touch(t, k0->dst, p->pub, k0->src, (uint16_t)rule, now);
	insp_flow_start(t, f, dir, engine);
	flow_event(t, NAT_EV_BUILT, f, NULL, side, now);
	return finish(t, p, f, dir, side, now);
}

static bool remote_ok(const struct nat_rule *r, uint32_t addr)
{
	return r->n_remote == 0 || nat_net_contains(r->remote, r->n_remote, addr);
}

/* Does a forward or static rule publish dst (and this port)? Gives the private
 * end as the flow's k[0] would see it. */
static const struct nat_rule *published(const struct nat_table *t, const struct pkt *p,
    size_t *idx, uint32_t *priv, uint16_t *priv_port)
{
	for (size_t i = 0; i < t->rules->n_rules; i++) {
		const struct nat_rule *r = &t->rules->rule[i];
		if (r->kind == NAT_RULE_FORWARD && r->proto == p->proto &&
		    r->pub_port == p->key.dport && public_addr(t, r) == p->key.dst) {
			*priv = r->priv[0].addr;
			*priv_port = r->priv_port;
		} else if (r->kind == NAT_RULE_STATIC && p->key.dst >= r->pub_lo &&
			   p->key.dst <= r->pub_hi && !nat_rules_is_local(t->rules, p->key.dst)) {
			/* (A static network over our own address would take tsunagid's
			 * IKE: the gateway's addresses stay the gateway's.) */
			*priv = r->priv[0].addr + (p->key.dst - r->pub_lo);
			*priv_port = p->key.dport;
		} else {
			continue;
		}
		*idx = i;
		return r;
	}
	return NULL;
}

static const struct nat_rule *exempted(const struct nat_table *t, uint32_t inside,
    uint32_t remote)
{
	for (size_t i = 0; i < t->rules->n_rules; i++) {
		const struct nat_rule *r = &t->rules->rule[i];
		if (r->kind != NAT_RULE_EXEMPT)
			break;	/* exemptions come first */
		if (nat_net_contains(r->priv, r->n_priv, inside) && remote_ok(r, remote))
			return r;
	}
	return NULL;
}

/* Only a SYN (TCP) or an echo request (ICMP) starts a flow. */
static bool can_start(struct nat_table *t, const struct pkt *p)
{
	if (p->proto == IPPROTO_TCP_ && (p->l4[13] & (TH_SYN | TH_ACK)) != TH_SYN)
		return deny(t, &t->c.drop_tcp_no_syn, "tcp_no_syn") != NAT_DROP;
	if (p->proto == IPPROTO_ICMP_ && p->icmp != IK_REQUEST)
		return deny(t, &t->c.drop_icmp, "icmp") != NAT_DROP;
	return true;
}

static enum nat_verdict from_outside(struct nat_table *t, struct pkt *p, uint64_t now)
{
	size_t idx;
	uint32_t priv;
	uint16_t pport;
	const struct nat_rule *r;
	if (exempted(t, p->key.dst, p->key.src)) {
		t->c.exempt++;
		return NAT_FORWARD;
	}
	uint16_t rule;
	uint32_t client;
	if ((r = published(t, p, &idx, &priv, &pport)) && remote_ok(r, p->key.src)) {
		if (!can_start(t, p))
			return NAT_DROP;
		/* (For an echo request, pport is its dport 0: k0 is the reply's key.) */
		struct nat_key k0 = { priv, p->key.src, pport, p->key.sport };
		return start_flow(t, p, idx, &k0, &p->key, 1, 0, NAT_FROM_OUTSIDE, now,
		    INSP_BY_PORT);
	}
	if (p->proto == NAT_ESP &&
	    (client = ipsec_anchor_client(t, p->key.src, p->key.dst, now, &rule))) {
		/* A new inbound SA: for the client that did IKE with its sender last. */
		struct nat_key to = { p->key.src, client, p->key.sport, p->key.dport };
		struct nat_key k0 = nat_key_mirror(&to);
		t->c.esp_spi_learned++;
		return start_flow(t, p, rule, &k0, &p->key, 1, 0, NAT_FROM_OUTSIDE, now,
		    INSP_NONE);
	}
	if (nat_rules_is_local(t->rules, p->key.dst)) {
		t->c.local++;
		return NAT_LOCAL;
	}
	return deny(t, &t->c.drop_no_flow, "no_flow");
}

/* Inside to a published address: to the private end, from the public address
 * the client used, so that the reply comes back through us. */
static enum nat_verdict hairpin(struct nat_table *t, struct pkt *p, size_t idx, uint32_t priv,
    uint16_t pport, uint64_t now)
{
	if (!t->rules->hairpin) {
		return deny(t, &t->c.drop_hairpin, "hairpin");
	}
	if (!can_start(t, p))
		return NAT_DROP;
	struct nat_key k1 = { priv, p->key.dst, pport, p->key.sport };
	if (!nat_pat_port(t, p->proto, &p->key, &k1)) {
		return deny(t, &t->c.drop_ports, "ports");
	}
	return start_flow(t, p, idx, &p->key, &k1, 0, FF_HAIRPIN, NAT_FROM_INSIDE, now,
	    INSP_BY_PORT);
}

/* The public address a source rule gives this packet (0: none), and whether
 * ports are translated. */
static uint32_t source_addr(struct nat_table *t, const struct nat_rule *r, const struct pkt *p,
    uint64_t now, bool *pat)
{
	*pat = false;
	switch (r->kind) {
	case NAT_RULE_STATIC:
		return r->pub_lo + (p->key.src - r->priv[0].addr);
	case NAT_RULE_DYNAMIC:
		return binding_get(t, p->key.src, r->pub_lo, r->pub_hi, now);
	case NAT_RULE_PAT:
		*pat = true;
		if (r->pub_if >= 0)
			return public_addr(t, r);
		/* A pool: one address per inside host, chosen by hashing it. */
		struct nat_key kh = { p->key.src, 0, 0, 0 };
		return r->pub_lo + nat_hash(t, 0, &kh) % (r->pub_hi - r->pub_lo + 1);
	default:
		return 0;
	}
}

static enum nat_verdict outbound(struct nat_table *t, struct pkt *p, size_t idx,
    uint64_t now)
{
	const struct nat_rule *r = &t->rules->rule[idx];
	bool pat;
	if (r->kind == NAT_RULE_PAT && !has_ports(p->proto) && p->proto != NAT_ESP) {
		return deny(t, &t->c.drop_proto, "proto");
	}
	if (!can_start(t, p))
		return NAT_DROP;
	uint32_t pub = source_addr(t, r, p, now, &pat);
	if (!pub && r->kind == NAT_RULE_DYNAMIC)
		return deny(t, &t->c.drop_pool, "pool");
	if (!pub)
		return deny(t, &t->c.drop_no_address, "no_address");
	struct nat_key k1 = nat_key_mirror(&p->key);
	k1.dst = pub;
	if (pat && ike_ports(t, p) && ipsec_ike_spi(p->l4, p->l4len, p->spi)) {
		/* Keeps port 500; told apart from outside by its initiator SPI. */
		struct nat_key kp = ipsec_ike_key(t, p->key.dst, pub, p->spi);
		p->pub = pub;
		if (flow_key_free(t, p->proto, &kp)) {
			t->c.ike_passthrough++;
			t->ic[NAT_ENGINE_IKE].flows++;
			return start_flow(t, p, idx, &p->key, &kp, 0, FF_IKE, NAT_FROM_INSIDE, now,
			    INSP_NONE);
		}
		/* Another client's SA has this SPI: another port (NAT-T will follow). */
		t->c.ike_spi_taken++;
	}
	uint16_t tid;
	bool keep = true;
	if (pat && l2tp_ports(t, p) && l2tp_sccrq_tunnel(p->l4, p->l4len, &tid)) {
		/* Keeps port 1701; told apart from outside by its tunnel ID. */
		struct nat_key kp = l2tp_key(p->key.dst, tid);
		p->pub = pub;
		p->spi[0] = tid;
		p->spi[1] = 0;
		if (flow_key_free(t, p->proto, &kp)) {
			t->c.l2tp_passthrough++;
			t->ic[NAT_ENGINE_L2TP].flows++;
			return start_flow(t, p, idx, &p->key, &kp, 0, FF_L2TP, NAT_FROM_INSIDE, now,
			    INSP_NONE);
		}
		keep = false;	/* another client's tunnel ID: 1701 would mix them up */
	}
	if (pat && p->proto != NAT_ESP && !pat_port(t, p->proto, &p->key, &k1, keep)) {
		return deny(t, &t->c.drop_ports, "ports");
	}
	unsigned flags = r->kind == NAT_RULE_DYNAMIC ? FF_DYNAMIC : 0;
	enum nat_verdict v = start_flow(t, p, idx, &p->key, &k1, 0, flags, NAT_FROM_INSIDE,
	    now, INSP_BY_PORT);
	if (v == NAT_DROP && flags)
		binding_put(t, p->key.src, 0);
	return v;
}

static enum nat_verdict from_inside(struct nat_table *t, struct pkt *p, uint64_t now)
{
	size_t idx;
	uint32_t priv;
	uint16_t pport;
	if (exempted(t, p->key.src, p->key.dst)) {
		t->c.exempt++;
		return NAT_FORWARD;
	}
	if (published(t, p, &idx, &priv, &pport))
		return hairpin(t, p, idx, priv, pport, now);
	if (nat_rules_is_local(t->rules, p->key.dst)) {
		t->c.local++;
		return NAT_LOCAL;
	}
	for (size_t i = 0; i < t->rules->n_rules; i++) {
		const struct nat_rule *r = &t->rules->rule[i];
		if (r->kind == NAT_RULE_EXEMPT || r->kind == NAT_RULE_FORWARD)
			continue;
		if (nat_net_contains(r->priv, r->n_priv, p->key.src) && remote_ok(r, p->key.dst))
			return outbound(t, p, i, now);
	}
	return deny(t, &t->c.drop_no_rule, "no_rule");
}

static enum nat_verdict new_flow(struct nat_table *t, struct pkt *p, enum nat_side side,
    uint64_t now_ms)
{
	if (p->icmp == IK_OTHER) {
		if (exempt_pair(t, side, p->key.src, p->key.dst)) {
			t->c.exempt++;
			return NAT_FORWARD;
		}
		if (nat_rules_is_local(t->rules, p->key.dst)) {
			t->c.local++;
			return NAT_LOCAL;
		}
		return deny(t, &t->c.drop_icmp, "icmp");
	}
	return side == NAT_FROM_INSIDE ? from_inside(t, p, now_ms) : from_outside(t, p, now_ms);
}

/* No flow yet: a pinhole an engine opened for this packet, else the rules. */
static enum nat_verdict pinhole_or_rule(struct nat_table *t, struct pkt *p,
    enum nat_side side, uint64_t now_ms)
{
	struct nat_key k0, k1;
	int dir, engine;
	uint16_t rule;
	if (!insp_expect_take(t, p, side, now_ms, &k0, &k1, &dir, &engine, &rule))
		return new_flow(t, p, side, now_ms);
	if (p->proto == IPPROTO_TCP_ && !can_start(t, p))
		return NAT_DROP;
	return start_flow(t, p, rule, &k0, &k1, dir, 0, side, now_ms, engine);
}

static enum nat_verdict translate(struct nat_table *t, struct pkt *p, enum nat_side side,
    uint64_t now_ms)
{
	int dir;
	if (p->later_frag)
		return later_fragment(t, p, side, now_ms);
	if (p->icmp == IK_ERROR)
		return icmp_error(t, p, side, now_ms);
	uint16_t cid;
	if (gre_call_id(p, &cid)) {
		struct nat_key gk = { p->key.src, p->key.dst, 0, cid };
		struct flow *g = find(t, IPPROTO_GRE_, &gk, side, now_ms, &dir);
		if (g)
			return gre_apply(t, p, g, dir, side, now_ms);
	}
	/* L2TP first: a plain flow may hold lns:1701 -> pub:1701 beside them. */
	struct flow *f = find_l2tp(t, p, side, now_ms, &dir);
	if (!f)
		f = find(t, p->proto, &p->key, side, now_ms, &dir);
	if (!f)
		f = find_ike(t, p, side, now_ms, &dir);
	if (f)
		return apply(t, p, f, dir, side, now_ms);
	if (t->n_exp)
		return pinhole_or_rule(t, p, side, now_ms);
	return new_flow(t, p, side, now_ms);
}

static void deny_event(struct nat_table *t, const struct pkt *p, const struct nat_packet *np,
    enum nat_side side)
{
	struct nat_event_info e = { .event = NAT_EV_DENY, .reason = t->deny, .side = side };
	if (p) {
		e.proto = p->proto;
		e.src = p->key.src;
		e.dst = p->key.dst;
		if (p->l4 && (p->proto == IPPROTO_TCP_ || p->proto == IPPROTO_UDP_)) {
			e.sport = p->key.sport;
			e.dport = p->key.dport;
		}
	} else if (np->data && np->len >= 20) {
		e.proto = np->data[9];
		e.src = get_u32(np->data + 12);
		e.dst = get_u32(np->data + 16);
	}
	t->ev(&e, t->ev_arg);
}

enum nat_verdict nat_translate(struct nat_table *t, struct nat_packet *np,
    enum nat_side side, uint64_t now_ms)
{
	struct pkt p;
	t->deny = NULL;
	np->changed = false;
	if (!np->data || parse(np->data, np->len, false, &p) < 0) {
		deny(t, &t->c.drop_malformed, "malformed");
		if (t->ev)
			deny_event(t, NULL, np, side);
		return NAT_DROP;
	}
	size_t tot0 = p.tot;
	p.cap = np->cap < np->len ? np->len : np->cap;
	enum nat_verdict v = translate(t, &p, side, now_ms);
	np->changed = v == NAT_FORWARD && p.changed;
	if (np->changed && p.tot != tot0)
		np->len = p.tot;	/* an engine changed the length */
	if (v == NAT_DROP && t->ev && t->deny)
		deny_event(t, &p, np, side);
	return v;
}
