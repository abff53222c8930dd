/* The core's side of the fast path (nat_fast_ops in nat.h): which flows a
 * rewriter outside the core may hold, the entries it gets, and what the core
 * learns back from it. The rewriter only replays the core's decision on packets
 * that change no state the core keeps: established TCP without SYN, FIN or RST,
 * and UDP, of flows whose payload nobody reads. */
#include "nat/nat_priv.h"

/* UDP ports whose flows the core tells apart by payload (IKE by SPI, L2TP by
 * tunnel ID): a plain flow on them would take its neighbours' packets. */
static bool payload_demux_port(uint16_t port)
{
	return port == NAT_IKE_PORT || port == NAT_L2TP_PORT;
}

bool fast_qualifies(const struct flow *f)
{
	if (!(f->flags & FF_USED) || (f->flags & (FF_PSEUDO | FF_NOFAST)) || f->insp)
		return false;
	if (f->proto == 6)	/* from the SYN-ACK: the third ACK is fast too */
		return f->state == TS_SYN_RECV || f->state == TS_ESTABLISHED;
	if (f->proto == 17)
		return !payload_demux_port(f->k[0].sport) && !payload_demux_port(f->k[0].dport) &&
		       !payload_demux_port(f->k[1].sport) && !payload_demux_port(f->k[1].dport);
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

void fast_sync(struct nat_table *t, struct flow *f)
{
	if (!(f->flags & FF_FAST) || !t->fast)
		return;
	struct nat_fast_entry e[2];
	struct nat_fast_seen s[2] = { 0 };
	fast_entries(f, e);
	t->fast->seen(t->fast_arg, e, s);
	uint64_t last = s[0].last_ms > s[1].last_ms ? s[0].last_ms : s[1].last_ms;
	for (int d = 0; d < 2 && f->proto == 6; d++)
		if (s[d].packets)
			tcp_track_fast(t, f, d, s[d].seq_end, s[d].seq_known);
	if (last > f->last_ms)
		flow_touch(t, f, last);
}

void fast_remove(struct nat_table *t, struct flow *f)
{
	if (!(f->flags & FF_FAST))
		return;
	f->flags &= (uint8_t)~FF_FAST;
	if (!t->fast)
		return;
	struct nat_fast_entry e[2];
	struct nat_fast_seen s[2] = { 0 };
	fast_entries(f, e);
	t->fast->seen(t->fast_arg, e, s);
	t->fast->del(t->fast_arg, e);
	for (int d = 0; d < 2; d++) {
		f->pkts[d] += (uint32_t)s[d].packets;
		f->bytes[d] += s[d].bytes;
		if (s[d].last_ms > f->last_ms)
			flow_touch(t, f, s[d].last_ms);
	}
	t->c.fast_removed++;
}

void fast_update(struct nat_table *t, struct flow *f)
{
	if (!t->fast)
		return;
	bool q = fast_qualifies(f);
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
	if (!(f->flags & FF_FAST))
		return true;
	fast_sync(t, f);
	if (flow_expired(t, f, now_ms))
		return true;
	t->c.fast_kept++;
	return false;
}

void nat_table_set_fast(struct nat_table *t, const struct nat_fast_ops *ops, void *arg)
{
	t->fast = ops;
	t->fast_arg = arg;
}
