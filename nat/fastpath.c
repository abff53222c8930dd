/* The core's side of the fast path (nat_fast_ops in nat.h): which flows a
 * rewriter outside the core may hold, the entries it gets, and what the core
 * learns back from it. The rewriter only replays the core's decision on packets
 * that change no state the core keeps: established TCP without SYN, FIN or RST,
 * and UDP, of flows whose payload nobody reads. */
#include "nat/nat_priv.h"

/* UDP ports whose flows the core tells apart by payload (IKE by SPI, L2TP by
 * tunnel ID; the pass-through engines' ports, 500 and 1701 by default, and IKE's
 * own): a plain flow on them would take its neighbours' packets. */
static bool payload_demux_port(const struct nat_table *t, uint16_t port)
{
	return port == NAT_IKE_PORT || nat_inspect_port_in(&t->rules->inspect[NAT_ENGINE_IKE], port) ||
	       nat_inspect_port_in(&t->rules->inspect[NAT_ENGINE_L2TP], port);
}

static bool demux_ports(const struct nat_table *t, const struct flow *f)
{
	for (int d = 0; d < 2; d++)
		if (payload_demux_port(t, f->k[d].sport) || payload_demux_port(t, f->k[d].dport))
			return true;
	return false;
}

bool fast_qualifies(const struct nat_table *t, const struct flow *f)
{
	if (!(f->flags & FF_USED) || (f->flags & (FF_PSEUDO | FF_NOFAST)) || f->insp)
		return false;
	/* TCP from the SYN-ACK (so that the third ACK is fast too) until the flow
	 * goes: after a FIN or RST the core would translate what follows the same
	 * way, and the FINs and RSTs themselves still come to it. */
	if (f->proto == 6)
		return f->state != TS_SYN_SENT || (f->tflags & TF_ADOPTED);
	if (f->proto == 17)
		return !demux_ports(t, f);
	return false;
}

void fast_entries(const struct flow *f, struct nat_fast_entry e[2])
{
	for (int d = 0; d < 2; d++)
		e[d] = (struct nat_fast_entry){
			.proto = f->proto,
			.side = d == 0 || (f->flags & FF_HAIRPIN) ? NAT_FROM_INSIDE : NAT_FROM_OUTSIDE,
			.key = f->k[d],
			.to = nat_key_mirror(&f->k[!d]),
		};
}

/* What the fast path saw of f, into s. */
static void seen(struct nat_table *t, const struct flow *f, struct nat_fast_seen s[2])
{
	struct nat_fast_entry e[2];
	fast_entries(f, e);
	s[0] = s[1] = (struct nat_fast_seen){ 0 };
	t->fast->seen(t->fast_arg, e, s);
}

static void take_seen(struct nat_table *t, struct flow *f, const struct nat_fast_seen s[2])
{
	uint64_t last = s[0].last_ms > s[1].last_ms ? s[0].last_ms : s[1].last_ms;
	for (int d = 0; d < 2 && f->proto == 6; d++)
		if (s[d].packets)
			tcp_track_fast(t, f, d, s[d].seq_end, s[d].seq_known);
	if (last > f->last_ms)
		flow_touch(t, f, last);
}

void fast_sync(struct nat_table *t, struct flow *f)
{
	if (!(f->flags & FF_FAST) || !t->fast)
		return;
	struct nat_fast_seen s[2];
	seen(t, f, s);
	take_seen(t, f, s);
}

/* The entries go; their packets count in the flow (s: what seen said last). */
static void drop_entries(struct nat_table *t, struct flow *f, const struct nat_fast_seen s[2])
{
	struct nat_fast_entry e[2];
	fast_entries(f, e);
	t->fast->del(t->fast_arg, e);
	f->flags &= (uint8_t)~FF_FAST;
	for (int d = 0; d < 2; d++) {
		f->pkts[d] += (uint32_t)s[d].packets;
		f->bytes[d] += s[d].bytes;
	}
	t->c.fast_removed++;
}

void fast_remove(struct nat_table *t, struct flow *f)
{
	if (!(f->flags & FF_FAST))
		return;
	if (!t->fast) {
		f->flags &= (uint8_t)~FF_FAST;
		return;
	}
	struct nat_fast_seen s[2];
	seen(t, f, s);
	take_seen(t, f, s);
	drop_entries(t, f, s);
}

void fast_update(struct nat_table *t, struct flow *f)
{
	if (!t->fast)
		return;
	bool q = fast_qualifies(t, f);
	if (q == !!(f->flags & FF_FAST))
		return;
	if (!q) {
		fast_remove(t, f);
		return;
	}
	struct nat_fast_entry e[2];
	fast_entries(f, e);
	if (t->fast->add(t->fast_arg, e) < 0) {
		f->flags |= FF_NOFAST;
		t->c.fast_failed++;
		return;
	}
	f->flags |= FF_FAST;
	t->c.fast_added++;
}

bool fast_expired(struct nat_table *t, struct flow *f, uint64_t now_ms)
{
	if (!flow_expired(t, f, now_ms))
		return false;
	if (!(f->flags & FF_FAST) || !t->fast)
		return true;
	struct nat_fast_seen s[2];
	seen(t, f, s);
	take_seen(t, f, s);
	if (flow_expired(t, f, now_ms)) {
		drop_entries(t, f, s);	/* the caller ends it: asked once, not twice */
		return true;
	}
	t->c.fast_kept++;
	return false;
}

void nat_fast_tcp_hdr(struct nat_table *t, enum nat_side side, const struct nat_key *k,
    const uint8_t *tcp, size_t tcplen, size_t seglen, uint64_t now_ms)
{
	int dir;
	if (tcplen < 20)
		return;
	uint32_t i = flow_lookup(t, 6, k, &dir);
	if (i == NAT_NONE)
		return;
	struct flow *f = &t->flows[i];
	bool side_ok = dir == 0 ? side == NAT_FROM_INSIDE :
				  side == NAT_FROM_OUTSIDE || (f->flags & FF_HAIRPIN);
	uint8_t flags = tcp[13];
	/* A SYN goes fast only in a flow the fast path made (its SYN-ACK, or a
	 * SYN that reuses the tuple): the core's own flows queue theirs. */
	if (!(f->flags & FF_FAST) || !side_ok || ((flags & 0x02) && !(f->tflags & TF_ADOPTED)))
		return;
	if (flags & 0x04)
		fast_sync(t, f);	/* the window check: where the fast path got to */
	if (!tcp_track(t, f, dir, tcp, tcplen, seglen))
		t->c.tcp_rst_ignored++;
	if (now_ms > f->last_ms)
		flow_touch(t, f, now_ms);
}

void nat_fast_tcp(struct nat_table *t, enum nat_side side, const struct nat_key *k,
    uint32_t seq, uint16_t len, uint8_t flags, uint64_t now_ms)
{
	/* The segment's header as tcp_track reads it: seq, offset, flags (no window). */
	uint8_t th[20] = { 0 };
	th[4] = (uint8_t)(seq >> 24);
	th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8);
	th[7] = (uint8_t)seq;
	th[12] = 5 << 4;
	th[13] = flags;
	nat_fast_tcp_hdr(t, side, k, th, sizeof(th), len, now_ms);
}

bool nat_fast_known(struct nat_table *t, const struct nat_fast_entry *e)
{
	int dir;
	uint32_t i = flow_lookup(t, e->proto, &e->key, &dir);
	return i != NAT_NONE && (t->flows[i].flags & FF_FAST);
}

void nat_table_set_fast_ports(struct nat_table *t, uint16_t lo, uint16_t hi)
{
	bool ok = lo > 1024 && hi == 65535;
	t->fast_lo = ok ? lo : 0;
	t->fast_hi = ok ? hi : 0;
}

static int refuse(struct nat_table *t)
{
	t->c.fast_refused++;
	return -1;
}

int nat_flow_adopt(struct nat_table *t, const struct nat_fast_new *n, uint64_t now_ms)
{
	const struct nat_key *k0 = &n->k0;
	struct nat_key k1 = { k0->dst, n->pub, k0->dport, n->pport };
	if (!t->fast || !t->fast_lo || n->pport < t->fast_lo || n->pport > t->fast_hi ||
	    k0->sport < 1024 || !n->pub || n->tcplen < 20 || !n->tcp ||
	    (n->tcp[13] & 0x12) != 0x02 || nat_port_reserved(t, 6, n->pub, n->pport) ||
	    insp_engine_by_port(t, 6, k0->dport) >= 0 || !flow_key_free(t, 6, k0) ||
	    !flow_key_free(t, 6, &k1) || insp_expect_holds(t, 6, &k1))
		return refuse(t);
	uint32_t i = flow_new(t, 6, k0, &k1, now_ms);
	if (i == NAT_NONE) {
		t->c.drop_table_full++;
		return refuse(t);
	}
	struct flow *f = &t->flows[i];
	/* A rule of the rules now (the fast path read them before a reload: none). */
	bool rule = n->rule < t->rules->n_rules && t->rules->rule[n->rule].kind == NAT_RULE_PAT;
	f->rule = rule ? n->rule : UINT16_MAX;
	if (rule && n->rule < t->n_rc) {
		t->rc[n->rule].flows++;
		t->rc[n->rule].active++;
	}
	size_t th = (size_t)(n->tcp[12] >> 4) * 4;
	tcp_track_new(t, f, 0, n->tcp, th >= 20 && th <= n->tcplen ? th : 20, 0);
	f->flags |= FF_FAST;
	f->tflags |= TF_ADOPTED;
	t->c.fast_created++;
	flow_event(t, NAT_EV_BUILT, f, NULL, NAT_FROM_INSIDE, now_ms);
	return 0;
}

void nat_table_set_fast(struct nat_table *t, const struct nat_fast_ops *ops, void *arg)
{
	t->fast = ops;
	t->fast_arg = arg;
}
