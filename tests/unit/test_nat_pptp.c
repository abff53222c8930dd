/* nat/alg_pptp.c: PPTP control messages and their enhanced GRE through PAT, on
 * hand-built packets: two inside clients with the same call ID to one server,
 * two calls in one control connection, teardown by Call-Clear-Request,
 * Call-Disconnect-Notify and TCP close, other versions, malformed and cut
 * messages. Checksums are verified by an independent computation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "nat/inspect.h"
#include "nat/nat_priv.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"		/* the PPTP server (PAC) */
#define A_ "10.1.0.7"		/* two clients (PNS) */
#define B_ "10.1.0.8"
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE
#define S 1000ull

enum { SCCRQ = 1, SCCRP, OCRQ = 7, OCRP, ICRQ, ICRP, ICCN, CCRQ, CDN, WEN, SLI };
static const uint16_t len_of[] = { 0, 156, 156, 16, 16, 16, 20, 168, 32, 220, 24, 28, 16,
				   148, 40, 24 };

struct ctl {
	const char *host;
	uint16_t port, pub;	/* the client's port and its public one */
	uint32_t seq[2];	/* next seq from the client [0] and the server [1] */
};

static struct nat_rules *rules;
static struct nat_table *t;
static uint64_t now;

static int setup(void **state)
{
	char err[256];
	rules = nat_test_rules(NAT_CONF_DEFAULT, err, sizeof(err));
	if (!rules)
		fail_msg("%s", err);
	t = nat_table_new(rules, 256);
	assert_non_null(t);
	now = 10 * S;
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(nat_table_check(t), 0);
	nat_table_free(t);
	nat_rules_free(rules);
	return 0;
}

static struct nat_insp_counters pptp_counters(void)
{
	struct nat_insp_counters c;
	int id = nat_engine_find("pptp");
	assert_true(id >= 0);
	assert_int_equal(nat_table_insp_counters(t, (size_t)id, &c), 0);
	return c;
}

/* A control message: header, type, then the call IDs given (0: leave zero). */
static size_t msg(uint8_t *m, uint16_t type, uint16_t f12, uint16_t f14)
{
	size_t n = len_of[type];
	memset(m, 0, n);
	put_u16(m, (uint16_t)n);
	put_u16(m + 2, 1);
	put_u32(m + 4, 0x1a2b3c4d);
	put_u16(m + 8, type);
	put_u16(m + 12, f12);
	put_u16(m + 14, f14);
	return n;
}

/* A data segment of the control connection from the client (dir 0) or the
 * server (dir 1) carrying pay; the packet after translation is left in out. */
static enum nat_verdict send_seg(struct ctl *c, int dir, const uint8_t *pay, size_t n,
    uint8_t *out)
{
	size_t len = dir == 0 ?
		mk_tcp(out, c->host, c->port, R, 1723, 0x18, c->seq[0], c->seq[1], 8192, NULL, 0, n) :
		mk_tcp(out, R, 1723, GW_OUT, c->pub, 0x18, c->seq[1], c->seq[0], 8192, NULL, 0, n);
	memcpy(out + 40, pay, n);
	fix_l4_csum(out);
	c->seq[dir] += (uint32_t)n;
	enum nat_verdict v = xl(t, out, &len, dir ? OUT : IN, now);
	if (v == NAT_FORWARD) {
		assert_true(ip_csum_ok(out));
		assert_true(l4_csum_ok(out, 0));
	}
	return v;
}

static void open_ctl(struct ctl *c, const char *host, uint16_t port)
{
	uint8_t b[512], m[256];
	*c = (struct ctl){ host, port, 0, { 1000, 5000 } };
	size_t n = mk_tcp(b, host, port, R, 1723, 0x02, c->seq[0]++, 0, 8192, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, IN, now), NAT_FORWARD);
	c->pub = pkt_sport(b);
	n = mk_tcp(b, R, 1723, GW_OUT, c->pub, 0x12, c->seq[1]++, c->seq[0], 8192, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, OUT, now), NAT_FORWARD);
	n = msg(m, SCCRQ, 0x0100, 0);
	assert_int_equal(send_seg(c, 0, m, n, b), NAT_FORWARD);
	n = msg(m, SCCRP, 0x0100, 0);
	assert_int_equal(send_seg(c, 1, m, n, b), NAT_FORWARD);
}

/* The call ID field at off of the first message in a translated segment. */
static uint16_t field(const uint8_t *b, size_t off)
{
	return get_u16(b + 40 + off);
}

/* Outgoing-Call-Request with call ID cid: the call ID the server sees. */
static uint16_t call_out(struct ctl *c, uint16_t cid)
{
	uint8_t b[512], m[256];
	size_t n = msg(m, OCRQ, cid, 0);
	assert_int_equal(send_seg(c, 0, m, n, b), NAT_FORWARD);
	return field(b, 12);
}

/* Outgoing-Call-Reply from the server (its call ID pac, to the mapped ID):
 * the Peer's Call ID the client sees. */
static uint16_t reply(struct ctl *c, uint16_t pac, uint16_t mapped)
{
	uint8_t b[512], m[256];
	size_t n = msg(m, OCRP, pac, mapped);
	m[16] = 1;	/* result: connected */
	assert_int_equal(send_seg(c, 1, m, n, b), NAT_FORWARD);
	assert_int_equal(field(b, 12), pac);
	return field(b, 14);
}

/* Enhanced GRE with key cid (and a sequence number) from src to dst. */
static size_t gre(uint8_t *b, const char *src, const char *dst, uint16_t cid)
{
	size_t n = mk_ip(b, src, dst, 47, 7, 0, 12 + 20);
	b[20] = 0x30;		/* K, S */
	b[21] = 0x01;		/* version 1 */
	put_u16(b + 22, 0x880b);
	put_u16(b + 24, 20);
	put_u16(b + 26, cid);
	put_u32(b + 28, 1);
	return n;
}

/* GRE from the client host with the server's call ID: leaves from us. */
static void gre_out(const char *host, uint16_t pac)
{
	uint8_t b[256];
	size_t n = gre(b, host, R, pac);
	assert_int_equal(xl(t, b, &n, IN, now), NAT_FORWARD);
	assert_int_equal(pkt_src(b), A(GW_OUT));
	assert_int_equal(pkt_dst(b), A(R));
	assert_int_equal(get_u16(b + 26), pac);
	assert_true(ip_csum_ok(b));
}

/* GRE from the server with key mapped: to host, with the client's own ID. */
static void gre_in(uint16_t mapped, const char *host, uint16_t cid)
{
	uint8_t b[256];
	size_t n = gre(b, R, GW_OUT, mapped);
	assert_int_equal(xl(t, b, &n, OUT, now), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A(host));
	assert_int_equal(pkt_src(b), A(R));
	assert_int_equal(get_u16(b + 26), cid);
	assert_true(ip_csum_ok(b));
}

static enum nat_verdict gre_in_verdict(uint16_t mapped)
{
	uint8_t b[256];
	size_t n = gre(b, R, GW_OUT, mapped);
	return xl(t, b, &n, OUT, now);
}

static int count_gre(const struct nat_flow_view *v, void *arg)
{
	if (v->proto == 47)
		++*(int *)arg;
	return 0;
}

static int gre_flows(void)
{
	int n = 0;
	nat_table_walk(t, now, count_gre, &n);
	return n;
}

/* Two clients, both with call ID 1, to one server: the second one's is
 * translated, and GRE finds each client in both directions. */
static void test_identical_call_ids(void **state)
{
	struct ctl a, b;
	open_ctl(&a, A_, 1025);
	open_ctl(&b, B_, 1025);
	uint16_t ma = call_out(&a, 1), mb = call_out(&b, 1);
	assert_int_equal(ma, 1);	/* kept while free, like a PAT port */
	assert_int_not_equal(mb, 1);
	assert_int_not_equal(mb, 0);
	assert_int_equal(reply(&a, 100, ma), 1);
	assert_int_equal(reply(&b, 100, mb), 1);	/* the server may reuse its IDs too */
	gre_out(A_, 100);
	gre_out(B_, 100);
	gre_in(ma, A_, 1);
	gre_in(mb, B_, 1);
	gre_in(ma, A_, 1);
	assert_int_equal(gre_flows(), 2);
	struct nat_insp_counters c = pptp_counters();
	assert_int_equal(c.bad_dropped, 0);
	assert_true(c.rewritten >= 2);
}

/* Two calls in one control connection (netfilter's PPTP NAT keys the call ID
 * on the control connection's port and so cannot), then each ends its own
 * way: Call-Clear-Request from the client, Call-Disconnect-Notify from the
 * server, and the last by TCP close. */
static void test_calls_and_teardown(void **state)
{
	struct ctl a, b;
	uint8_t buf[512], m[256];
	open_ctl(&a, A_, 1025);
	open_ctl(&b, B_, 1025);
	uint16_t m1 = call_out(&a, 1), m2 = call_out(&a, 2), mb = call_out(&b, 1);
	assert_int_not_equal(m1, m2);
	assert_int_equal(call_out(&a, 1), m1);	/* a retransmission: the same mapping */
	assert_int_equal(reply(&a, 100, m1), 1);
	assert_int_equal(reply(&a, 101, m2), 2);
	assert_int_equal(reply(&b, 102, mb), 1);
	gre_out(A_, 100);
	gre_out(A_, 101);
	gre_in(m1, A_, 1);
	gre_in(m2, A_, 2);
	gre_in(mb, B_, 1);
	assert_int_equal(gre_flows(), 3);

	/* Set-Link-Info (the server's ID) and WAN-Error-Notify (ours) in one segment. */
	size_t n = msg(m, SLI, 100, 0);
	assert_int_equal(send_seg(&a, 0, m, n, buf), NAT_FORWARD);
	assert_int_equal(field(buf, 12), 100);
	n = msg(m, WEN, m2, 0);
	n += msg(m + n, ICCN, m1, 0);
	assert_int_equal(send_seg(&a, 1, m, n, buf), NAT_FORWARD);
	assert_int_equal(field(buf, 12), 2);
	assert_int_equal(field(buf, len_of[WEN] + 12), 1);

	n = msg(m, CCRQ, 1, 0);	/* the client clears its call 1 */
	assert_int_equal(send_seg(&a, 0, m, n, buf), NAT_FORWARD);
	assert_int_equal(field(buf, 12), m1);
	assert_int_equal(gre_flows(), 2);
	assert_int_not_equal(gre_in_verdict(m1), NAT_FORWARD);
	gre_in(m2, A_, 2);

	n = msg(m, CDN, 101, 0);	/* the server ends call 2 (its own ID) */
	assert_int_equal(send_seg(&a, 1, m, n, buf), NAT_FORWARD);
	assert_int_equal(field(buf, 12), 101);
	assert_int_equal(gre_flows(), 1);
	assert_int_not_equal(gre_in_verdict(m2), NAT_FORWARD);
	gre_in(mb, B_, 1);

	/* b's control connection closes: its call goes with it. */
	n = mk_tcp(buf, B_, 1025, R, 1723, 0x11, b.seq[0]++, b.seq[1], 8192, NULL, 0, 0);
	assert_int_equal(xl(t, buf, &n, IN, now), NAT_FORWARD);
	n = mk_tcp(buf, R, 1723, GW_OUT, b.pub, 0x11, b.seq[1]++, b.seq[0], 8192, NULL, 0, 0);
	assert_int_equal(xl(t, buf, &n, OUT, now), NAT_FORWARD);
	now += (rules->timeouts.tcp_closed + 1) * S;
	nat_expire(t, now);
	assert_int_equal(gre_flows(), 0);
}

struct evs {
	int built_gre, teardown_gre, notes;
	char last_teardown[64], note[128];
};

static void on_event(const struct nat_event_info *e, void *arg)
{
	struct evs *v = arg;
	if (e->event == NAT_EV_NOTE) {
		v->notes++;
		snprintf(v->note, sizeof(v->note), "%s", e->reason);
	} else if (e->flow && e->flow->proto == 47 && e->event == NAT_EV_BUILT) {
		v->built_gre++;
	} else if (e->flow && e->flow->proto == 47 && e->event == NAT_EV_TEARDOWN) {
		v->teardown_gre++;
		snprintf(v->last_teardown, sizeof(v->last_teardown), "%s", e->reason);
	}
}

/* The operator hears of each call's GRE (Built, Teardown with its cause). */
static void test_events(void **state)
{
	struct ctl a;
	struct evs ev = { 0 };
	uint8_t buf[512], m[256];
	nat_table_set_events(t, on_event, &ev);
	open_ctl(&a, A_, 1025);
	uint16_t m1 = call_out(&a, 1);
	assert_int_equal(ev.built_gre, 1);
	reply(&a, 100, m1);
	size_t n = msg(m, CCRQ, 1, 0);
	assert_int_equal(send_seg(&a, 0, m, n, buf), NAT_FORWARD);
	assert_int_equal(ev.teardown_gre, 1);
	assert_string_equal(ev.last_teardown, "PPTP Call-Clear-Request");
	nat_table_set_events(t, NULL, NULL);
}

/* A refused call (Result Code not 1) leaves no mapping behind. */
static void test_refused_call(void **state)
{
	struct ctl a;
	uint8_t buf[512], m[256];
	open_ctl(&a, A_, 1025);
	uint16_t m1 = call_out(&a, 1);
	assert_int_equal(gre_flows(), 1);
	size_t n = msg(m, OCRP, 100, m1);
	m[16] = 3;	/* busy */
	assert_int_equal(send_seg(&a, 1, m, n, buf), NAT_FORWARD);
	assert_int_equal(field(buf, 14), 1);
	assert_int_equal(gre_flows(), 0);
	assert_int_equal(call_out(&a, 1), m1);	/* tried again: a new call */
	assert_int_equal(gre_flows(), 1);
}

/* A server that speaks another protocol version: passed untranslated, no GRE
 * mapping, counted. */
static void test_other_version_passes(void **state)
{
	struct ctl a, b;
	uint8_t buf[512], m[256];
	open_ctl(&a, A_, 1025);
	assert_int_equal(call_out(&a, 1), 1);
	struct evs ev = { 0 };
	nat_table_set_events(t, on_event, &ev);
	b = (struct ctl){ B_, 1025, 0, { 1000, 5000 } };
	size_t n = mk_tcp(buf, B_, 1025, R, 1723, 0x02, b.seq[0]++, 0, 8192, NULL, 0, 0);
	assert_int_equal(xl(t, buf, &n, IN, now), NAT_FORWARD);
	b.pub = pkt_sport(buf);
	n = msg(m, SCCRQ, 0x0200, 0);
	assert_int_equal(send_seg(&b, 0, m, n, buf), NAT_FORWARD);
	assert_int_equal(field(buf, 12), 0x0200);
	assert_int_equal(call_out(&b, 1), 1);	/* untranslated, though a's call has 1 */
	assert_int_equal(pptp_counters().bad_passed, 1);
	assert_int_equal(gre_flows(), 1);	/* a's only */
	assert_int_equal(ev.notes, 1);
	assert_non_null(strstr(ev.note, "version is not 1"));
	nat_table_set_events(t, NULL, NULL);
}

/* Lengths: shorter than the header, shorter than the type's fields, odd; a
 * message cut across two segments. */
static void test_malformed_and_cut(void **state)
{
	struct ctl a;
	uint8_t buf[512], m[512];
	open_ctl(&a, A_, 1025);
	uint64_t dropped = pptp_counters().bad_dropped;
	size_t n = msg(m, OCRQ, 1, 0);
	put_u16(m, 8);
	assert_int_equal(send_seg(&a, 0, m, n, buf), NAT_DROP);
	a.seq[0] -= (uint32_t)n;	/* dropped: the client sends again */
	put_u16(m, 14);
	assert_int_equal(send_seg(&a, 0, m, 14, buf), NAT_DROP);
	a.seq[0] -= 14;
	put_u16(m, 169);
	assert_int_equal(send_seg(&a, 0, m, n, buf), NAT_DROP);
	a.seq[0] -= (uint32_t)n;
	assert_int_equal(pptp_counters().bad_dropped, dropped + 3);
	assert_int_equal(gre_flows(), 0);

	/* An Outgoing-Call-Request cut after 100 bytes, and an Echo-Request after
	 * its end in the second segment: the cut one is left alone, the second
	 * segment parsed from the message after it. */
	n = msg(m, OCRQ, 1, 0);
	n += msg(m + n, 5, 0, 0);
	uint64_t partial = pptp_counters().partial;
	assert_int_equal(send_seg(&a, 0, m, 100, buf), NAT_FORWARD);
	assert_int_equal(send_seg(&a, 0, m + 100, n - 100, buf), NAT_FORWARD);
	assert_int_equal(pptp_counters().partial, partial + 1);
	assert_int_equal(pptp_counters().bad_passed, 0);
}

/* GRE version 0 (and enhanced GRE of no known call) is not PATed. */
static void test_gre_without_call(void **state)
{
	uint8_t b[256];
	size_t n = gre(b, A_, R, 5);
	assert_int_equal(xl(t, b, &n, IN, now), NAT_DROP);
	n = gre(b, A_, R, 5);
	b[21] = 0;
	assert_int_equal(xl(t, b, &n, IN, now), NAT_DROP);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.drop_proto, 2);
}

/* The server inside behind a port forward, the client outside: the same rules
 * by field ownership translate the server's call ID (kept, being free) and make
 * its GRE flow. */
static void test_server_inside(void **state)
{
	char err[256];
	nat_table_free(t);
	nat_rules_free(rules);
	rules = nat_test_rules("tsunagi { nat { inside = lan0\n outside = wan0\n rules {\n"
			       " pptp { type = forward\n proto = tcp\n public = wan0\n"
			       " public_port = 1723\n private = 10.1.0.5\n private_port = 1723 }\n"
			       " lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n",
			       err, sizeof(err));
	if (!rules)
		fail_msg("%s", err);
	t = nat_table_new(rules, 256);
	uint8_t b[512], m[256];
	uint32_t cs = 100, ss = 900;	/* client's and server's seq */
	size_t n = mk_tcp(b, R, 4000, GW_OUT, 1723, 0x02, cs++, 0, 8192, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, OUT, now), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A("10.1.0.5"));
	n = mk_tcp(b, "10.1.0.5", 1723, R, 4000, 0x12, ss++, cs, 8192, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, IN, now), NAT_FORWARD);
	size_t ml = msg(m, OCRQ, 7, 0);	/* the client's call 7 */
	n = mk_tcp(b, R, 4000, GW_OUT, 1723, 0x18, cs, ss, 8192, NULL, 0, ml);
	memcpy(b + 40, m, ml);
	fix_l4_csum(b);
	cs += (uint32_t)ml;
	assert_int_equal(xl(t, b, &n, OUT, now), NAT_FORWARD);
	assert_int_equal(field(b, 12), 7);
	ml = msg(m, OCRP, 50, 7);	/* the server's call 50 */
	m[16] = 1;
	n = mk_tcp(b, "10.1.0.5", 1723, R, 4000, 0x18, ss, cs, 8192, NULL, 0, ml);
	memcpy(b + 40, m, ml);
	fix_l4_csum(b);
	assert_int_equal(xl(t, b, &n, IN, now), NAT_FORWARD);
	assert_true(l4_csum_ok(b, 0));
	assert_int_equal(field(b, 12), 50);
	assert_int_equal(field(b, 14), 7);
	assert_int_equal(gre_flows(), 1);
	/* GRE from the client with the server's ID reaches the server ... */
	n = gre(b, R, GW_OUT, 50);
	assert_int_equal(xl(t, b, &n, OUT, now), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A("10.1.0.5"));
	assert_int_equal(get_u16(b + 26), 50);
	/* ... and the server's with the client's ID leaves from the public address. */
	n = gre(b, "10.1.0.5", R, 7);
	assert_int_equal(xl(t, b, &n, IN, now), NAT_FORWARD);
	assert_int_equal(pkt_src(b), A(GW_OUT));
	assert_int_equal(get_u16(b + 26), 7);
}

/* An ICMP error about a GRE packet. Its quote is checked against the packet
 * that was sent, with checksums computed from scratch: the outer IP and ICMP
 * ones, the quoted IP header. */
static void check_gre_quote(const uint8_t *e, const char *src, const char *dst, uint16_t cid)
{
	const uint8_t *q = e + 28;
	assert_true(ip_csum_ok(e));
	assert_true(l4_csum_ok(e, 0));
	assert_true(ip_csum_ok(q));
	assert_int_equal(pkt_src(q), A(src));
	assert_int_equal(pkt_dst(q), A(dst));
	assert_int_equal(get_u16(q + 26), cid);
}

/* An error from outside about the call's GRE that a client sent through PAT
 * (the quote has the public address and the server's call ID, which is no
 * flow's key) reaches that client, quoting what it sent; one from the client
 * about GRE it received reaches the server, quoting what the server sent
 * (its call ID back to the mapped one). Counted as ICMP errors. */
static void test_icmp_error_quoting_gre(void **state)
{
	struct ctl a, b;
	uint8_t sent[256], e[512];
	open_ctl(&a, A_, 1025);
	open_ctl(&b, B_, 1025);
	uint16_t ma = call_out(&a, 1), mb = call_out(&b, 1);
	assert_int_not_equal(mb, 1);
	reply(&a, 100, ma);
	reply(&b, 200, mb);

	/* Fragmentation needed, from a router, about B's GRE. */
	size_t n = gre(sent, B_, R, 200);
	assert_int_equal(xl(t, sent, &n, IN, now), NAT_FORWARD);
	size_t en = mk_icmp_error(e, "192.0.2.99", GW_OUT, 3, 4, sent, n);
	assert_int_equal(xl(t, e, &en, OUT, now), NAT_FORWARD);
	assert_int_equal(pkt_src(e), A("192.0.2.99"));	/* the router stays */
	assert_int_equal(pkt_dst(e), A(B_));
	check_gre_quote(e, B_, R, 200);

	/* Host unreachable from the server about A's, quoting only 8 bytes of GRE. */
	n = gre(sent, A_, R, 100);
	assert_int_equal(xl(t, sent, &n, IN, now), NAT_FORWARD);
	en = mk_icmp_error(e, R, GW_OUT, 3, 1, sent, 28);
	assert_int_equal(xl(t, e, &en, OUT, now), NAT_FORWARD);
	assert_int_equal(pkt_src(e), A(R));
	assert_int_equal(pkt_dst(e), A(A_));
	check_gre_quote(e, A_, R, 100);

	/* Inbound: B gets the server's GRE with its own call ID 1, and answers
	 * protocol unreachable. */
	n = gre(sent, R, GW_OUT, mb);
	assert_int_equal(xl(t, sent, &n, OUT, now), NAT_FORWARD);
	assert_int_equal(get_u16(sent + 26), 1);
	en = mk_icmp_error(e, B_, R, 3, 2, sent, n);
	assert_int_equal(xl(t, e, &en, IN, now), NAT_FORWARD);
	assert_int_equal(pkt_src(e), A(GW_OUT));
	assert_int_equal(pkt_dst(e), A(R));
	check_gre_quote(e, R, GW_OUT, mb);

	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.icmp_errors, 3);
	assert_int_equal(c.drop_icmp, 0);

	/* B clears its call: an error about its GRE finds nobody any more. */
	n = msg(sent, CCRQ, 1, 0);
	assert_int_equal(send_seg(&b, 0, sent, n, e), NAT_FORWARD);
	n = gre(sent, GW_OUT, R, 200);
	fix_ip_csum(sent);
	en = mk_icmp_error(e, "192.0.2.99", GW_OUT, 3, 4, sent, n);
	assert_int_not_equal(xl(t, e, &en, OUT, now), NAT_FORWARD);
	nat_table_counters(t, &c);
	assert_int_equal(c.icmp_errors, 3);
}

/* A server that gave two clients' calls the same call ID: an error about
 * either call's GRE cannot be told apart, and is dropped rather than sent to
 * the wrong client. */
static void test_icmp_error_quoting_gre_ambiguous(void **state)
{
	struct ctl a, b;
	uint8_t sent[256], e[512];
	open_ctl(&a, A_, 1025);
	open_ctl(&b, B_, 1025);
	reply(&a, 100, call_out(&a, 1));
	reply(&b, 100, call_out(&b, 1));
	size_t n = gre(sent, B_, R, 100);
	assert_int_equal(xl(t, sent, &n, IN, now), NAT_FORWARD);
	size_t en = mk_icmp_error(e, R, GW_OUT, 3, 4, sent, n);
	assert_int_equal(xl(t, e, &en, OUT, now), NAT_DROP);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.drop_icmp, 1);
	assert_int_equal(c.icmp_errors, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identical_call_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calls_and_teardown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_version_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gre_without_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_error_quoting_gre, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_error_quoting_gre_ambiguous, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
