/* The core's side of the fast path (nat/fastpath.c) against a mock fast path:
 * which flows are handed over and when, the entries they get, what the core
 * takes back (last use, TCP ends, handshake done, packets) before it judges a
 * flow idle or tracks a FIN or RST, and that every way a flow ends takes its
 * entries away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "nat/nat_priv.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE
#define S 1000ull

struct mock {
	int adds, dels, seens, fail;
	bool any;			/* del and seen may name flows other than the last */
	uint16_t busy;			/* any: the inside port whose flow seen reports */
	struct nat_key gone;		/* any: the inside key of the last del */
	struct nat_fast_entry e[2];	/* the last added */
	struct nat_fast_seen s[2];	/* what seen reports */
};

static void same(const struct nat_fast_entry *a, const struct nat_fast_entry *b)
{
	for (int d = 0; d < 2; d++) {
		assert_int_equal(a[d].proto, b[d].proto);
		assert_int_equal(a[d].side, b[d].side);
		assert_memory_equal(&a[d].key, &b[d].key, sizeof(a[d].key));
		assert_memory_equal(&a[d].to, &b[d].to, sizeof(a[d].to));
	}
}

static int m_add(void *arg, const struct nat_fast_entry e[2])
{
	struct mock *m = arg;
	m->adds++;
	if (m->fail)
		return -1;
	m->e[0] = e[0];
	m->e[1] = e[1];
	return 0;
}

static void m_del(void *arg, const struct nat_fast_entry e[2])
{
	struct mock *m = arg;
	if (!m->any)
		same(e, m->e);
	m->gone = e[0].key;
	m->dels++;
}

static void m_seen(void *arg, const struct nat_fast_entry e[2], struct nat_fast_seen s[2])
{
	struct mock *m = arg;
	if (!m->any)
		same(e, m->e);
	m->seens++;
	bool mine = !m->any || e[0].key.sport == m->busy;
	s[0] = mine ? m->s[0] : (struct nat_fast_seen){ 0 };
	s[1] = mine ? m->s[1] : (struct nat_fast_seen){ 0 };
}

static const struct nat_fast_ops ops = { m_add, m_del, m_seen };

struct fx {
	struct nat_rules *r;
	struct nat_table *t;
	struct mock m;
};

static int setup(void **state)
{
	static struct fx f;
	char err[256];
	memset(&f, 0, sizeof(f));
	f.r = nat_test_rules(NAT_CONF_DEFAULT, err, sizeof(err));
	assert_non_null(f.r);
	f.t = nat_table_new(f.r, 64);
	nat_table_set_fast(f.t, &ops, &f.m);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	assert_int_equal(nat_table_check(f->t), 0);
	nat_table_free(f->t);
	nat_rules_free(f->r);
	return 0;
}

static struct nat_counters counters(struct fx *f)
{
	struct nat_counters c;
	nat_table_counters(f->t, &c);
	return c;
}

/* A TCP segment of 10.1.0.10:40000 <-> R:80 (public port pub from outside). */
static enum nat_verdict tcp(struct fx *f, enum nat_side side, uint8_t flags, uint32_t seq,
    uint16_t pub, uint64_t now)
{
	uint8_t b[256];
	size_t n = side == IN ?
		mk_tcp(b, "10.1.0.10", 40000, R, 80, flags, seq, 1, 1000, NULL, 0, 0) :
		mk_tcp(b, R, 80, GW_OUT, pub, flags, seq, 2, 1000, NULL, 0, 0);
	return xl(f->t, b, &n, side, now);
}

/* The handshake up to the SYN-ACK; returns the public port. */
static uint16_t syn_synack(struct fx *f, uint64_t now)
{
	uint8_t b[256];
	size_t n = mk_tcp(b, "10.1.0.10", 40000, R, 80, 0x02, 100, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, b, &n, IN, now), NAT_FORWARD);
	uint16_t pub = pkt_sport(b);
	assert_int_equal(f->m.adds, 0);	/* a SYN alone is not enough */
	assert_int_equal(tcp(f, OUT, 0x12, 5000, pub, now), NAT_FORWARD);
	return pub;
}

struct one { const char *state; uint64_t pkts[2], fast[2], idle; bool is_fast; };

static int grab(const struct nat_flow_view *v, void *arg)
{
	struct one *o = arg;
	*o = (struct one){ v->state, { v->packets[0], v->packets[1] },
			   { v->fast_packets[0], v->fast_packets[1] }, v->idle_ms, v->fast };
	return 1;
}

static struct one view(struct fx *f, uint64_t now)
{
	struct one o = { 0 };
	nat_table_walk(f->t, now, grab, &o);
	return o;
}

/* The SYN-ACK hands the flow over (so that the third ACK and the data are fast),
 * with one entry per direction: the packet as it arrives there, and what it
 * becomes. */
static void test_tcp_entries_at_synack(void **state)
{
	struct fx *f = *state;
	uint16_t pub = syn_synack(f, 0);
	assert_int_equal(f->m.adds, 1);
	assert_int_equal(counters(f).fast_added, 1);
	struct nat_fast_entry *e = f->m.e;
	assert_int_equal(e[0].proto, 6);
	assert_int_equal(e[0].side, IN);
	assert_int_equal(e[0].key.src, A("10.1.0.10"));
	assert_int_equal(e[0].key.dst, A(R));
	assert_int_equal(e[0].key.sport, 40000);
	assert_int_equal(e[0].key.dport, 80);
	assert_int_equal(e[0].to.src, A(GW_OUT));
	assert_int_equal(e[0].to.dst, A(R));
	assert_int_equal(e[0].to.sport, pub);
	assert_int_equal(e[0].to.dport, 80);
	assert_int_equal(e[1].side, OUT);
	assert_int_equal(e[1].key.src, A(R));
	assert_int_equal(e[1].key.dst, A(GW_OUT));
	assert_int_equal(e[1].key.sport, 80);
	assert_int_equal(e[1].key.dport, pub);
	assert_int_equal(e[1].to.src, A(R));
	assert_int_equal(e[1].to.dst, A("10.1.0.10"));
	assert_int_equal(e[1].to.sport, 80);
	assert_int_equal(e[1].to.dport, 40000);
	/* A packet the fast path left to the core changes nothing. */
	assert_int_equal(tcp(f, IN, 0x10, 101, 0, 1), NAT_FORWARD);
	assert_int_equal(f->m.adds, 1);
	assert_int_equal(f->m.dels, 0);
}

/* FINs still come to the core, which tracks them; the flow stays in the fast
 * path (the last ACK is fast too) until it goes, its fast packets then counted
 * in the flow. */
static void test_fin_keeps_until_gone(void **state)
{
	struct fx *f = *state;
	uint16_t pub = syn_synack(f, 0);
	f->m.s[0] = (struct nat_fast_seen){ 5 * S, 7, 700, 101 + 600, true };
	f->m.s[1] = (struct nat_fast_seen){ 6 * S, 9, 9000, 5001 + 8000, true };
	struct one o = view(f, 10 * S);
	assert_true(o.is_fast);
	assert_string_equal(o.state, "ESTABLISHED");	/* the third ACK went fast */
	assert_int_equal(o.pkts[0], 1 + 7);
	assert_int_equal(o.pkts[1], 1 + 9);
	assert_int_equal(o.fast[1], 9);
	assert_int_equal(o.idle, 4 * S);
	assert_int_equal(tcp(f, IN, 0x11, 701, 0, 10 * S), NAT_FORWARD);
	assert_string_equal(view(f, 10 * S).state, "FIN_WAIT");
	assert_int_equal(tcp(f, OUT, 0x11, 13001, pub, 11 * S), NAT_FORWARD);
	o = view(f, 11 * S);
	assert_string_equal(o.state, "CLOSED");
	assert_true(o.is_fast);
	assert_int_equal(o.pkts[0], 1 + 7 + 1);
	assert_int_equal(o.pkts[1], 1 + 9 + 1);
	assert_int_equal(f->m.adds, 1);
	assert_int_equal(f->m.dels, 0);
	/* tcp_closed = 10 s after the last FIN: gone, and its entries with it. */
	nat_expire(f->t, 21 * S - 1);
	assert_int_equal(f->m.dels, 0);
	nat_expire(f->t, 21 * S);
	assert_int_equal(counters(f).flows_active, 0);
	assert_int_equal(f->m.dels, 1);
	assert_int_equal(counters(f).fast_removed, 1);
}

/* FINs and RSTs the fast path forwarded itself and told the core about after. */
static void test_fin_rst_told_after(void **state)
{
	struct fx *f = *state;
	uint16_t pub = syn_synack(f, 0);
	struct nat_key in = { A("10.1.0.10"), A(R), 40000, 80 };
	struct nat_key out = { A(R), A(GW_OUT), 80, pub };
	/* Wrong side, a SYN, an unknown key: nothing. */
	nat_fast_tcp(f->t, OUT, &in, 101, 0, 0x11, 1 * S);
	nat_fast_tcp(f->t, IN, &in, 101, 0, 0x02, 1 * S);
	struct nat_key other = { A("10.1.0.11"), A(R), 40000, 80 };
	nat_fast_tcp(f->t, IN, &other, 101, 0, 0x11, 1 * S);
	assert_string_equal(view(f, 1 * S).state, "SYN_RECV");
	nat_fast_tcp(f->t, IN, &in, 101, 0, 0x11, 2 * S);
	assert_string_equal(view(f, 2 * S).state, "FIN_WAIT");
	nat_fast_tcp(f->t, OUT, &out, 5001, 0, 0x11, 3 * S);
	assert_string_equal(view(f, 3 * S).state, "CLOSED");
	nat_expire(f->t, 13 * S);	/* tcp_closed = 10 s */
	assert_int_equal(counters(f).flows_active, 0);
	assert_int_equal(f->m.dels, 1);
}

/* A blind RST the fast path forwarded does not end the flow; one in the window does. */
static void test_rst_told_after(void **state)
{
	struct fx *f = *state;
	uint16_t pub = syn_synack(f, 0);
	struct nat_key out = { A(R), A(GW_OUT), 80, pub };
	f->m.s[1] = (struct nat_fast_seen){ 1 * S, 10, 10000, 5001 + 10000, true };
	nat_fast_tcp(f->t, OUT, &out, 5001 + 10000 + 3000000, 0, 0x04, 2 * S);
	assert_int_equal(counters(f).tcp_rst_ignored, 1);
	assert_string_equal(view(f, 2 * S).state, "ESTABLISHED");
	nat_fast_tcp(f->t, OUT, &out, 5001 + 10000, 0, 0x04, 3 * S);
	assert_string_equal(view(f, 3 * S).state, "CLOSED");
}

/* A RST whose seq only the fast path saw (the core's view of the window ended at
 * the handshake) still ends the flow: the core asks first. */
static void test_rst_window_from_fast_path(void **state)
{
	struct fx *f = *state;
	uint16_t pub = syn_synack(f, 0);
	f->m.s[1] = (struct nat_fast_seen){ 1 * S, 100, 10000000, 5001 + 10000000, true };
	assert_int_equal(tcp(f, OUT, 0x04, 5001 + 10000000, pub, 2 * S), NAT_FORWARD);
	assert_int_equal(counters(f).tcp_rst_ignored, 0);
	assert_string_equal(view(f, 2 * S).state, "CLOSED");
	nat_expire(f->t, 12 * S);
	assert_int_equal(counters(f).flows_active, 0);
	assert_int_equal(f->m.dels, 1);
}

/* Established flows the fast path keeps busy are never expired as idle; the
 * core asks before it ends one, and ends it once the fast path saw nothing
 * for the timeout. Its entries go with it. */
static void test_active_fast_flow_not_expired(void **state)
{
	struct fx *f = *state;
	syn_synack(f, 0);
	/* Still SYN_RECV for the core (30 s), but the third ACK went fast. */
	f->m.s[0] = (struct nat_fast_seen){ 20 * S, 1, 40, 101, true };
	nat_expire(f->t, 31 * S);
	assert_int_equal(counters(f).flows_active, 1);
	assert_int_equal(counters(f).fast_kept, 1);
	assert_string_equal(view(f, 31 * S).state, "ESTABLISHED");
	/* Busy for three hours through the fast path alone (tcp = 1 h). */
	for (uint64_t h = 1; h <= 3; h++) {
		f->m.s[1] = (struct nat_fast_seen){ h * 3600 * S, h * 1000, h * 100000, 0, false };
		nat_expire(f->t, h * 3600 * S + 1800 * S);
		assert_int_equal(counters(f).flows_active, 1);
	}
	assert_int_equal(f->m.dels, 0);
	/* Then silence: an hour after its last packet it goes, entries and all. */
	nat_expire(f->t, 4 * 3600 * S - 1);
	assert_int_equal(counters(f).flows_active, 1);
	nat_expire(f->t, 4 * 3600 * S);
	assert_int_equal(counters(f).flows_active, 0);
	assert_int_equal(counters(f).flows_expired, 1);
	assert_int_equal(f->m.dels, 1);
}

/* An idle fast flow found by a packet past its timeout is over, as without. */
static void test_idle_fast_flow_found_late(void **state)
{
	struct fx *f = *state;
	uint8_t b[256];
	size_t n = mk_udp(b, "10.1.0.10", 5000, R, 9999, 10);
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(f->m.adds, 1);		/* UDP: at once */
	uint16_t pub = pkt_sport(b);
	n = mk_udp(b, R, 9999, GW_OUT, pub, 10);
	assert_int_equal(xl(f->t, b, &n, OUT, 121 * S), NAT_LOCAL);
	assert_int_equal(f->m.dels, 1);
	/* Kept alive by the fast path: the same packet is translated. */
	n = mk_udp(b, "10.1.0.10", 5000, R, 9999, 10);
	assert_int_equal(xl(f->t, b, &n, IN, 200 * S), NAT_FORWARD);
	pub = pkt_sport(b);
	f->m.s[0] = (struct nat_fast_seen){ 300 * S, 3, 30, 0, false };
	n = mk_udp(b, R, 9999, GW_OUT, pub, 10);
	assert_int_equal(xl(f->t, b, &n, OUT, 321 * S), NAT_FORWARD);
	assert_int_equal(f->m.dels, 1);
}

/* Flows whose packets the core must read stay with it. */
static void test_not_handed_over(void **state)
{
	struct fx *f = *state;
	uint8_t b[256];
	size_t n = mk_udp(b, "10.1.0.10", 5000, R, 53, 40);	/* dns engine */
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	n = mk_udp(b, "10.1.0.10", 1701, R, 1701, 40);		/* L2TP port */
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	n = mk_icmp_echo(b, "10.1.0.10", R, 8, 77, 1);
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	n = mk_tcp(b, "10.1.0.10", 40001, R, 21, 0x02, 1, 0, 1000, NULL, 0, 0);	/* ftp */
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(b);
	n = mk_tcp(b, R, 21, GW_OUT, pub, 0x12, 1, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(f->m.adds, 0);
}

/* The pass-through engines' ports as configured: UDP on l2tp's 1702 stays with
 * the core (it tells tunnels apart by payload there), 1701 is then plain UDP. */
static void test_passthru_ports_configured(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct nat_rules *r = nat_test_rules(
	    "tsunagi { nat { inside = lan0\n outside = wan0\n inspect { l2tp { ports = 1702 } }\n"
	    " rules { lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n",
	    err, sizeof(err));
	assert_non_null(r);
	nat_table_set_rules(f->t, r);
	nat_rules_free(f->r);
	f->r = r;
	uint8_t b[256];
	size_t n = mk_udp(b, "10.1.0.10", 1702, R, 1702, 40);
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(f->m.adds, 0);
	n = mk_udp(b, "10.1.0.10", 1701, R, 1701, 40);
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(f->m.adds, 1);
}

/* A hairpinned flow's reply key arrives from inside too. */
static void test_hairpin_sides(void **state)
{
	struct fx *f = *state;
	uint8_t b[256];
	size_t n = mk_tcp(b, "10.1.0.10", 40000, GW_OUT, 8080, 0x02, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(b);
	n = mk_tcp(b, "10.1.0.5", 80, GW_OUT, pub, 0x12, 1, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(f->m.adds, 1);
	assert_int_equal(f->m.e[0].side, IN);
	assert_int_equal(f->m.e[1].side, IN);
	assert_int_equal(f->m.e[0].to.dst, A("10.1.0.5"));
	assert_int_equal(f->m.e[1].to.dst, A("10.1.0.10"));
}

/* Refused (the map full): counted, not asked again for that flow. */
static void test_refused_once(void **state)
{
	struct fx *f = *state;
	f->m.fail = 1;
	uint16_t pub = syn_synack(f, 0);
	assert_int_equal(tcp(f, IN, 0x10, 101, 0, 1), NAT_FORWARD);
	assert_int_equal(tcp(f, OUT, 0x10, 5001, pub, 1), NAT_FORWARD);
	assert_int_equal(f->m.adds, 1);
	assert_int_equal(counters(f).fast_failed, 1);
	assert_int_equal(counters(f).fast_added, 0);
}

/* Flush and eviction take the entries away. */
static void test_flush_and_evict(void **state)
{
	struct fx *f = *state;
	syn_synack(f, 0);
	nat_table_flush(f->t);
	assert_int_equal(f->m.dels, 1);
	assert_int_equal(counters(f).fast_removed, 1);
	/* A table of 16: the 17th flow evicts the oldest, a fast one. */
	struct nat_table *small = nat_table_new(f->r, 16);
	struct mock m = { .any = true, .busy = 6000 };
	nat_table_set_fast(small, &ops, &m);
	uint8_t b[256];
	for (int i = 0; i < 17; i++) {
		/* The first flow is busy in the fast path: the second is evicted. */
		m.s[0] = (struct nat_fast_seen){ 100 + (uint64_t)i, 1, 10, 0, false };
		size_t n = mk_udp(b, "10.1.0.10", (uint16_t)(6000 + i), R, 9999, 10);
		assert_int_equal(xl(small, b, &n, IN, (uint64_t)i), NAT_FORWARD);
	}
	assert_int_equal(m.adds, 17);
	assert_int_equal(m.dels, 1);
	assert_int_equal(m.gone.sport, 6001);
	assert_int_equal(nat_table_check(small), 0);
	nat_table_free(small);
}

/* Flows the fast path made from their SYN (nat_flow_adopt) ---------------- */

#define FLO 32768

/* A SYN of 10.1.0.10:sport -> R:dport, as the fast path tells it: public port pport. */
static int adopt(struct fx *f, uint16_t sport, uint16_t dport, uint16_t pport, uint64_t now)
{
	uint8_t b[256];
	static const uint8_t ws[] = { 3, 3, 7, 0 };	/* window scale 7 */
	mk_tcp(b, "10.1.0.10", sport, R, dport, 0x02, 100, 0, 1000, ws, sizeof(ws), 0);
	struct nat_fast_new n = { { A("10.1.0.10"), A(R), sport, dport }, A(GW_OUT), pport, 4,
				  b + 20, 24 };
	return nat_flow_adopt(f->t, &n, now);
}

/* Valid: the flow is the core's as if it had translated the SYN (SYN_SENT, in
 * the fast path, Built, rule counted), its entries the ones the fast path
 * made; a SYN-ACK the fast path told moves it on; the flow ends and its
 * entries go as any fast flow's. */
static void test_adopt_valid(void **state)
{
	struct fx *f = *state;
	f->m.any = true;	/* entries made by the fast path, not by add */
	f->m.busy = 1;
	nat_table_set_fast_ports(f->t, FLO, 65535);
	assert_int_equal(adopt(f, 40000, 80, 40001, 1 * S), 0);
	struct nat_counters c = counters(f);
	assert_int_equal(c.fast_created, 1);
	assert_int_equal(c.flows_created, 1);
	assert_int_equal(c.fast_added, 0);	/* not handed over: made there */
	struct one o = view(f, 1 * S);
	assert_true(o.is_fast);
	assert_string_equal(o.state, "SYN_SENT");
	struct nat_rule_counters rc[8];
	assert_true(nat_table_rule_counters(f->t, rc, 8) == 5);
	assert_int_equal(rc[4].flows, 1);
	/* A queued packet of it (the core learns nothing new) keeps it fast. */
	assert_int_equal(tcp(f, OUT, 0x10, 5000, 40001, 1 * S), NAT_FORWARD);
	assert_int_equal(f->m.dels, 0);
	/* Its SYN-ACK went fast and was told: SYN_RECV (with window scaling). */
	uint8_t b[256];
	static const uint8_t ws[] = { 3, 3, 5, 0 };
	mk_tcp(b, R, 80, GW_OUT, 40001, 0x12, 5000, 101, 1000, ws, sizeof(ws), 0);
	struct nat_key out = { A(R), A(GW_OUT), 80, 40001 };
	nat_fast_tcp_hdr(f->t, OUT, &out, b + 20, 24, 0, 2 * S);
	assert_string_equal(view(f, 2 * S).state, "SYN_RECV");
	/* The entries the core removes are those of the flow as made. */
	nat_table_flush(f->t);
	assert_int_equal(f->m.dels, 1);
	assert_int_equal(f->m.gone.sport, 40000);
	assert_int_equal(counters(f).fast_removed, 1);
}

/* Refused, and counted: no range set, a port outside it, a duplicate (either
 * key), a SYN-ACK header, an engine's port, a forward's public port, a
 * privileged source port. */
static void test_adopt_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(adopt(f, 40000, 80, 40001, 0), -1);	/* no range */
	nat_table_set_fast_ports(f->t, FLO, 65535);
	assert_int_equal(adopt(f, 40000, 80, 30000, 0), -1);	/* outside it */
	assert_int_equal(adopt(f, 40000, 80, 40001, 0), 0);
	assert_int_equal(adopt(f, 40000, 80, 40002, 0), -1);	/* the inside key again */
	assert_int_equal(adopt(f, 40005, 80, 40001, 0), -1);	/* the outside key again */
	assert_int_equal(adopt(f, 40006, 21, 40006, 0), -1);	/* FTP's port: its engine */
	assert_int_equal(adopt(f, 1000, 80, 40007, 0), -1);	/* below 1024 */
	uint8_t b[256];
	mk_tcp(b, "10.1.0.10", 40008, R, 80, 0x12, 100, 0, 1000, NULL, 0, 0);
	struct nat_fast_new n = { { A("10.1.0.10"), A(R), 40008, 80 }, A(GW_OUT), 40008, 4,
				  b + 20, 20 };
	assert_int_equal(nat_flow_adopt(f->t, &n, 0), -1);	/* no SYN */
	n.tcp = NULL;
	assert_int_equal(nat_flow_adopt(f->t, &n, 0), -1);
	struct nat_counters c = counters(f);
	assert_int_equal(c.fast_created, 1);
	assert_int_equal(c.fast_refused, 8);
	assert_int_equal(c.flows_active, 1);
}

/* A forward's public port inside the range is never the fast path's. */
static void test_adopt_forward_port(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct nat_rules *r = nat_test_rules(
	    "tsunagi {\n nat {\n inside = lan0\n outside = wan0\n rules {\n"
	    " web { type = forward\n proto = tcp\n public = wan0\n public_port = 40000\n"
	    " private = 10.1.0.5\n private_port = 80 }\n"
	    " lan { type = pat\n private = 10.1.0.0/16\n public = wan0 }\n }\n }\n}\n",
	    err, sizeof(err));
	assert_non_null(r);
	nat_table_set_rules(f->t, r);
	nat_rules_free(f->r);
	f->r = r;
	nat_table_set_fast_ports(f->t, FLO, 65535);
	assert_int_equal(adopt(f, 40000, 80, 40000, 0), -1);
	assert_int_equal(adopt(f, 40000, 80, 40001, 0), 0);
	/* Made under rules now gone (index past them): no rule, still a flow. */
	assert_int_equal(adopt(f, 40002, 80, 40002, 0), 0);
}

/* Table full: the flow idle longest is evicted for it (entries and all), as
 * for a flow the core makes. */
static void test_adopt_table_full(void **state)
{
	struct fx *f = *state;
	struct nat_table *small = nat_table_new(f->r, 16);
	struct mock m = { .any = true };
	nat_table_set_fast(small, &ops, &m);
	nat_table_set_fast_ports(small, FLO, 65535);
	uint8_t b[256];
	for (int i = 0; i < 16; i++) {
		mk_tcp(b, "10.1.0.10", (uint16_t)(41000 + i), R, 80, 0x02, 1, 0, 1000, NULL, 0, 0);
		struct nat_fast_new n = { { A("10.1.0.10"), A(R), (uint16_t)(41000 + i), 80 },
					  A(GW_OUT), (uint16_t)(41000 + i), 4, b + 20, 20 };
		assert_int_equal(nat_flow_adopt(small, &n, (uint64_t)i), 0);
	}
	struct nat_counters c;
	nat_table_counters(small, &c);
	assert_int_equal(c.flows_active, 16);
	assert_int_equal(c.flows_evicted, 0);
	mk_tcp(b, "10.1.0.10", 42000, R, 80, 0x02, 1, 0, 1000, NULL, 0, 0);
	struct nat_fast_new n = { { A("10.1.0.10"), A(R), 42000, 80 }, A(GW_OUT), 42000, 4,
				  b + 20, 20 };
	assert_int_equal(nat_flow_adopt(small, &n, 100), 0);
	nat_table_counters(small, &c);
	assert_int_equal(c.flows_evicted, 1);
	assert_int_equal(m.dels, 1);		/* the evicted one's entries */
	assert_int_equal(m.gone.sport, 41000);
	assert_int_equal(nat_table_check(small), 0);
	nat_table_free(small);
}

/* With the range set, PAT never hands out a TCP port of it: not the inside
 * port, even when free, nor a random one; UDP keeps the whole space. */
static void test_pat_avoids_fast_ports(void **state)
{
	struct fx *f = *state;
	nat_table_set_fast_ports(f->t, FLO, 65535);
	uint8_t b[256];
	for (int i = 0; i < 200; i++) {
		size_t n = mk_tcp(b, "10.1.0.10", (uint16_t)(50000 + i), R, 80, 0x02, 1, 0, 1000,
				  NULL, 0, 0);
		assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
		assert_true(pkt_sport(b) >= 1024 && pkt_sport(b) < FLO);
	}
	size_t n = mk_udp(b, "10.1.0.10", 50000, R, 53, 10);
	assert_int_equal(xl(f->t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_sport(b), 50000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tcp_entries_at_synack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin_keeps_until_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_window_from_fast_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fin_rst_told_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_told_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_fast_flow_not_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_fast_flow_found_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_handed_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passthru_ports_configured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hairpin_sides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_and_evict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_forward_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_table_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pat_avoids_fast_ports, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
