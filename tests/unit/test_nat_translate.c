/* The translate step, protocol by protocol and rule by rule: every rewritten
 * packet's checksums are verified by a full computation (tests/unit/nat_pkt.c),
 * not by the incremental code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/buf.h"
#include "nat/nat_priv.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"		/* a server outside */
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE

#define SYN 0x02
#define ACK 0x10
#define RST 0x04
#define FIN 0x01

static void test_tcp_pat_roundtrip(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_tcp(f->b, "10.1.0.10", 40000, R, 443, SYN, 1000, 0, 65535, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 1000), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_int_equal(pkt_sport(f->b), 40000);	/* kept: it was free */
	assert_int_equal(pkt_dst(f->b), A(R));
	assert_int_equal(pkt_dport(f->b), 443);
	assert_csums(f->b);

	f->n = mk_tcp(f->b, R, 443, GW_OUT, 40000, SYN | ACK, 5000, 1001, 65535, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1010), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.10"));
	assert_int_equal(pkt_dport(f->b), 40000);
	assert_int_equal(pkt_src(f->b), A(R));
	assert_csums(f->b);

	/* Data, with a payload of odd length, both ways. */
	f->n = mk_tcp(f->b, "10.1.0.10", 40000, R, 443, ACK, 1001, 5001, 65535, NULL, 0, 333);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 1020), NAT_FORWARD);
	assert_csums(f->b);
	assert_int_equal(nat_fx_counters(f).in2out, 2);
	assert_int_equal(nat_fx_counters(f).out2in, 1);
	assert_int_equal(nat_fx_counters(f).flows_created, 1);
}

static void test_tcp_pat_same_port_two_hosts(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_tcp(f->b, "10.1.0.10", 40000, R, 443, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	f->n = mk_tcp(f->b, "10.1.0.11", 40000, R, 443, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t second = pkt_sport(f->b);
	assert_int_not_equal(second, 40000);
	assert_true(second >= 1024);
	assert_csums(f->b);
	/* The reply to the second port reaches the second host. */
	f->n = mk_tcp(f->b, R, 443, GW_OUT, second, SYN | ACK, 9, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.11"));
	assert_int_equal(pkt_dport(f->b), 40000);
	assert_csums(f->b);
}

static void test_tcp_needs_syn(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_tcp(f->b, "10.1.0.10", 40000, R, 443, ACK, 1, 1, 1000, NULL, 0, 10);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_tcp_no_syn, 1);
}

static void test_udp_pat_and_ike_ports(void **state)
{
	struct nat_fx *f = *state;
	/* Too short to be IKE (no initiator SPI): plain UDP, never port 500. (IKE
	 * pass-through keeps 500: test_nat_ipsec.c.) */
	f->n = mk_udp(f->b, "10.1.0.10", 500, R, 500, 4);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t p500 = pkt_sport(f->b);
	assert_int_not_equal(p500, 500);
	assert_true(p500 > 0 && p500 < 1024);
	assert_csums(f->b);
	/* 4500 is kept only for NAT-T (4500 -> 4500). */
	f->n = mk_udp(f->b, "10.1.0.10", 4500, R, 53, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_not_equal(pkt_sport(f->b), 4500);
	assert_int_not_equal(pkt_sport(f->b), 500);
	assert_csums(f->b);
	/* A packet to the gateway's own IKE port is the gateway's. */
	f->n = mk_udp(f->b, R, 500, GW_OUT, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_LOCAL);
	/* The mapped port goes back in. */
	f->n = mk_udp(f->b, R, 500, GW_OUT, p500, 4);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.10"));
	assert_int_equal(pkt_dport(f->b), 500);
	assert_csums(f->b);
}

static void test_udp_zero_checksum_stays_zero(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_udp(f->b, "10.1.0.10", 5353, R, 53, 20);
	put_u16(f->b + 26, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(get_u16(f->b + 26), 0);
	assert_true(ip_csum_ok(f->b));
}

static void test_icmp_echo_pat(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_icmp_echo(f->b, "10.1.0.10", R, 8, 77, 1);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 77);
	assert_csums(f->b);
	f->n = mk_icmp_echo(f->b, "10.1.0.11", R, 8, 77, 1);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t id2 = pkt_sport(f->b);
	assert_int_not_equal(id2, 77);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_csums(f->b);
	f->n = mk_icmp_echo(f->b, R, GW_OUT, 0, id2, 1);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.11"));
	assert_int_equal(pkt_sport(f->b), 77);
	assert_csums(f->b);
	f->n = mk_icmp_echo(f->b, R, GW_OUT, 0, 77, 1);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.10"));
	assert_csums(f->b);
	/* An echo request to the gateway itself is the gateway's. */
	f->n = mk_icmp_echo(f->b, R, GW_OUT, 8, 5, 1);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_LOCAL);
}

static void test_port_forward(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_tcp(f->b, R, 5555, GW_OUT, 8080, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.5"));
	assert_int_equal(pkt_dport(f->b), 80);
	assert_int_equal(pkt_src(f->b), A(R));
	assert_csums(f->b);
	f->n = mk_tcp(f->b, "10.1.0.5", 80, R, 5555, SYN | ACK, 7, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_int_equal(pkt_sport(f->b), 8080);
	assert_csums(f->b);
	/* Not forwarded: the gateway's own; mid-stream: refused. */
	f->n = mk_tcp(f->b, R, 5555, GW_OUT, 8081, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_LOCAL);
	f->n = mk_tcp(f->b, R, 5556, GW_OUT, 8080, ACK, 1, 1, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_DROP);
	/* PAT never hands out the forwarded port on that address. */
	f->n = mk_tcp(f->b, "10.1.0.10", 8080, R, 5555, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_not_equal(pkt_sport(f->b), 8080);
}

static void test_static_netmask(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_udp(f->b, R, 4000, "198.51.100.7", 69, 10);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.9.7"));
	assert_int_equal(pkt_dport(f->b), 69);
	assert_csums(f->b);
	f->n = mk_udp(f->b, "10.1.9.7", 69, R, 4000, 10);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A("198.51.100.7"));
	assert_csums(f->b);
	/* Outbound from another host of the network: its own address, port kept. */
	f->n = mk_tcp(f->b, "10.1.9.200", 33333, R, 22, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A("198.51.100.200"));
	assert_int_equal(pkt_sport(f->b), 33333);
	assert_csums(f->b);
	/* Any protocol: GRE (47) through a static mapping, addresses only. */
	f->n = mk_ip(f->b, "10.1.9.8", R, 47, 1, 0, 40);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A("198.51.100.8"));
	assert_true(ip_csum_ok(f->b));
}

/* A static network that covers the gateway's own address leaves that address
 * (and tsunagid's IKE on it) alone. */
static void test_static_never_takes_own_address(void **state)
{
	char err[256];
	struct nat_rules *r = nat_test_rules(
		"tsunagi { nat { inside = lan0\n outside = wan0\n rules {\n"
		" all { type = static\n private = 10.1.0.0/24\n public = 203.0.113.0/24 } } } }\n",
		err, sizeof(err));
	assert_non_null(r);
	struct nat_table *t = nat_table_new(r, 64);
	uint8_t b[256];
	size_t n = mk_udp(b, R, 500, GW_OUT, 500, 10);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_LOCAL);
	n = mk_udp(b, R, 500, "203.0.113.2", 500, 10);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A("10.1.0.2"));
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

static void test_dynamic_persistence(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_udp(f->b, "10.1.3.5", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint32_t pub = pkt_src(f->b);
	assert_true(pub == A("192.0.2.10") || pub == A("192.0.2.11"));
	assert_int_equal(pkt_sport(f->b), 500);		/* 1:1: ports untouched */
	assert_csums(f->b);
	f->n = mk_udp(f->b, "10.1.3.5", 4500, R, 4500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 10), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), pub);
	assert_int_equal(pkt_sport(f->b), 4500);
	/* The second host gets the other address, the third none. */
	f->n = mk_udp(f->b, "10.1.3.6", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 20), NAT_FORWARD);
	assert_int_not_equal(pkt_src(f->b), pub);
	f->n = mk_udp(f->b, "10.1.3.7", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 30), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_pool, 1);
	/* Replies. */
	f->n = mk_udp(f->b, R, 4500, "192.0.2.10", 4500, 100);
	put_u32(f->b + 16, pub);
	fix_ip_csum(f->b);
	f->n = mk_udp(f->b, R, 4500, pub == A("192.0.2.10") ? "192.0.2.10" : "192.0.2.11",
		      4500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 40), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.3.5"));
	assert_csums(f->b);
}

static void test_dynamic_address_freed_after_xlate(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_udp(f->b, "10.1.3.5", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	f->n = mk_udp(f->b, "10.1.3.6", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	/* UDP flows end after 2 min; the addresses stay bound for xlate (3 h). */
	uint64_t t1 = 121 * 1000;
	nat_expire(f->t, t1);
	f->n = mk_udp(f->b, "10.1.3.7", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, t1), NAT_DROP);
	uint64_t t2 = 3 * 3600 * 1000 + 2000;
	nat_expire(f->t, t2);
	f->n = mk_udp(f->b, "10.1.3.7", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, t2), NAT_FORWARD);
}

/* xlate counts from the address's last use, not from when it was bound: a host
 * busy for an hour keeps its address until 3 h after that. */
static void test_dynamic_xlate_from_last_use(void **state)
{
	struct nat_fx *f = *state;
	uint64_t h = 3600 * 1000;
	for (uint64_t now = 0; now <= h; now += 60 * 1000) {
		f->n = mk_udp(f->b, "10.1.3.5", 500, R, 500, 100);
		assert_int_equal(xl(f->t, f->b, &f->n, IN, now), NAT_FORWARD);
		nat_expire(f->t, now);
	}
	f->n = mk_udp(f->b, "10.1.3.6", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, h), NAT_FORWARD);
	/* Both flows end at 1 h 2 min; at 3 h 5 min both addresses are still held. */
	nat_expire(f->t, 3 * h + 5 * 60 * 1000);
	f->n = mk_udp(f->b, "10.1.3.7", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 3 * h + 5 * 60 * 1000), NAT_DROP);
	nat_expire(f->t, 4 * h + 1000);
	f->n = mk_udp(f->b, "10.1.3.7", 500, R, 500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 4 * h + 1000), NAT_FORWARD);
}

static void test_exemption_before_pat(void **state)
{
	struct nat_fx *f = *state;
	uint8_t orig[2048];
	f->n = mk_tcp(f->b, "10.1.0.10", 40000, "10.99.1.1", 22, SYN, 1, 0, 1000, NULL, 0, 0);
	memcpy(orig, f->b, f->n);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_memory_equal(f->b, orig, f->n);
	f->n = mk_tcp(f->b, "10.99.1.1", 22, "10.1.0.10", 40000, SYN | ACK, 1, 2, 1000, NULL, 0, 0);
	memcpy(orig, f->b, f->n);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_memory_equal(f->b, orig, f->n);
	assert_int_equal(nat_fx_counters(f).exempt, 2);
	assert_int_equal(nat_fx_counters(f).flows_created, 0);
}

static void test_hairpin(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_tcp(f->b, "10.1.0.20", 33000, GW_OUT, 8080, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.5"));
	assert_int_equal(pkt_dport(f->b), 80);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	uint16_t x = pkt_sport(f->b);
	assert_csums(f->b);
	/* The server's reply arrives from inside too. */
	f->n = mk_tcp(f->b, "10.1.0.5", 80, GW_OUT, x, SYN | ACK, 5, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_int_equal(pkt_sport(f->b), 8080);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.20"));
	assert_int_equal(pkt_dport(f->b), 33000);
	assert_csums(f->b);
	assert_int_equal(nat_fx_counters(f).hairpin, 2);
	/* To a static mapping's public address as well. */
	f->n = mk_udp(f->b, "10.1.0.20", 5000, "198.51.100.9", 53, 10);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.9.9"));
	assert_int_equal(pkt_src(f->b), A("198.51.100.9"));
	assert_csums(f->b);
}

static void test_hairpin_off(void **state)
{
	char err[256];
	struct nat_rules *r = nat_test_rules(
		"tsunagi { nat { inside = lan0\n outside = wan0\n hairpin = no\n rules {\n"
		" web { type = forward\n proto = tcp\n public = wan0\n public_port = 8080\n"
		" private = 10.1.0.5\n private_port = 80 }\n"
		" lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n",
		err, sizeof(err));
	assert_non_null(r);
	struct nat_table *t = nat_table_new(r, 64);
	uint8_t b[256];
	size_t n = mk_tcp(b, "10.1.0.20", 33000, GW_OUT, 8080, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_DROP);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.drop_hairpin, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

static void test_local_and_no_rule(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_udp(f->b, "10.1.0.10", 5000, GW_IN, 53, 10);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_LOCAL);
	f->n = mk_udp(f->b, "172.16.0.1", 5000, R, 53, 10);	/* no rule covers it */
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_no_rule, 1);
	f->n = mk_udp(f->b, R, 5000, "203.0.113.77", 53, 10);	/* not ours */
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_no_flow, 1);
	/* PAT cannot translate GRE without its engine. */
	f->n = mk_ip(f->b, "10.1.0.10", R, 47, 1, 0, 40);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_proto, 1);
}

/* ICMP errors ---------------------------------------------------------------- */

/* The translated form of an inside TCP SYN, and the frag-needed a router sends
 * back about it quoting the whole packet (qlen 0) or its first qlen bytes. */
static void check_quoted(const uint8_t *p, size_t qlen_l4, const char *src, uint16_t sp,
    const char *dst, uint16_t dp)
{
	const uint8_t *q = p + 28;
	assert_true(ip_csum_ok(p));
	assert_true(l4_csum_ok(p, 0));			/* outer ICMP */
	assert_true(ip_csum_ok(q));			/* quoted IP header */
	assert_int_equal(pkt_src(q), A(src));
	assert_int_equal(pkt_dst(q), A(dst));
	assert_int_equal(pkt_sport(q), sp);
	assert_int_equal(pkt_dport(q), dp);
	if (qlen_l4)
		assert_true(l4_csum_ok(q, qlen_l4));	/* quoted L4, where all of it is */
}

static void icmp_error_tcp(struct nat_fx *f, size_t qlen)
{
	uint8_t sent[256];
	size_t n = mk_tcp(sent, "10.1.0.10", 40000, R, 443, SYN, 1, 0, 1000, NULL, 0, 100);
	assert_int_equal(xl(f->t, sent, &n, IN, 0), NAT_FORWARD);
	size_t ql = qlen ? qlen : n;
	f->n = mk_icmp_error(f->b, "192.0.2.99", GW_OUT, 3, 4, sent, ql);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 5), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.10"));
	assert_int_equal(pkt_src(f->b), A("192.0.2.99"));	/* the router stays */
	check_quoted(f->b, qlen ? 0 : n - 20, "10.1.0.10", 40000, R, 443);
	assert_int_equal(nat_fx_counters(f).icmp_errors, 1);
}

static void test_icmp_error_tcp_full_quote(void **state)
{
	icmp_error_tcp(*state, 0);
}

static void test_icmp_error_tcp_8_bytes(void **state)
{
	struct nat_fx *f = *state;
	/* Make the public port differ from the private one, so the quote changes. */
	f->n = mk_tcp(f->b, "10.1.0.11", 40000, R, 443, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	icmp_error_tcp(f, 28);
}

static void test_icmp_error_udp_from_server(void **state)
{
	struct nat_fx *f = *state;
	uint8_t sent[256];
	size_t n = mk_udp(sent, "10.1.0.10", 500, R, 500, 4);	/* not IKE: port changes */
	assert_int_equal(xl(f->t, sent, &n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(sent);
	f->n = mk_icmp_error(f->b, R, GW_OUT, 3, 3, sent, n);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 5), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(R));
	assert_int_equal(pkt_dst(f->b), A("10.1.0.10"));
	check_quoted(f->b, n - 20, "10.1.0.10", 500, R, 500);
	assert_int_not_equal(pub, 500);
}

static void test_icmp_error_echo_time_exceeded(void **state)
{
	struct nat_fx *f = *state;
	uint8_t sent[256];
	size_t n = mk_icmp_echo(sent, "10.1.0.10", R, 8, 900, 3);
	assert_int_equal(xl(f->t, sent, &n, IN, 0), NAT_FORWARD);
	n = mk_icmp_echo(sent, "10.1.0.11", R, 8, 900, 3);	/* id taken: a new one */
	assert_int_equal(xl(f->t, sent, &n, IN, 0), NAT_FORWARD);
	assert_int_not_equal(pkt_sport(sent), 900);
	f->n = mk_icmp_error(f->b, "192.0.2.1", GW_OUT, 11, 0, sent, n);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A("10.1.0.11"));
	check_quoted(f->b, n - 20, "10.1.0.11", 900, R, 900);
}

static void test_icmp_error_from_inside(void **state)
{
	struct nat_fx *f = *state;
	/* Through the forward: the inside server answers unreachable. */
	uint8_t in[256];
	size_t n = mk_udp(in, R, 7000, "198.51.100.7", 161, 30);
	assert_int_equal(xl(f->t, in, &n, OUT, 0), NAT_FORWARD);
	f->n = mk_icmp_error(f->b, "10.1.9.7", R, 3, 3, in, n);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 1), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A("198.51.100.7"));
	assert_int_equal(pkt_dst(f->b), A(R));
	check_quoted(f->b, n - 20, R, 7000, "198.51.100.7", 161);
	/* An inside router's own address is replaced by the public one. */
	n = mk_tcp(in, "10.1.0.10", 41000, R, 80, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, in, &n, IN, 0), NAT_FORWARD);
	n = mk_tcp(in, R, 80, GW_OUT, pkt_sport(in), SYN | ACK, 1, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, in, &n, OUT, 0), NAT_FORWARD);
	f->n = mk_icmp_error(f->b, "10.1.0.254", R, 11, 0, in, n);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 1), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	check_quoted(f->b, n - 20, R, 80, GW_OUT, 41000);
}

static void test_icmp_error_unknown_or_short(void **state)
{
	struct nat_fx *f = *state;
	uint8_t sent[256];
	size_t n = mk_udp(sent, GW_OUT, 1234, R, 53, 10);	/* no flow: the gateway's */
	f->n = mk_icmp_error(f->b, R, GW_OUT, 3, 3, sent, n);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_LOCAL);
	n = mk_udp(sent, "10.1.0.10", 1234, R, 53, 10);
	assert_int_equal(xl(f->t, sent, &n, IN, 0), NAT_FORWARD);
	/* Quoting a truncated header: 20 + 4 bytes. */
	f->n = mk_icmp_error(f->b, R, GW_OUT, 3, 3, sent, 24);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_DROP);
	/* Quoting an IP header whose IHL runs past the quote. */
	sent[0] = 0x4f;
	f->n = mk_icmp_error(f->b, R, GW_OUT, 3, 3, sent, 40);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_icmp, 2);
}

/* Path MTU discovery through a tunnel: an ICMP error about exempt traffic is
 * exempt too, and goes through untouched. */
static void test_icmp_error_exempt(void **state)
{
	struct nat_fx *f = *state;
	uint8_t sent[256], orig[256];
	size_t n = mk_tcp(sent, "10.1.0.10", 40000, "10.99.1.1", 22, SYN, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(f->t, sent, &n, IN, 0), NAT_FORWARD);
	f->n = mk_icmp_error(f->b, "10.99.0.254", "10.1.0.10", 3, 4, sent, n);
	memcpy(orig, f->b, f->n);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_memory_equal(f->b, orig, f->n);
	/* And the other way, from an inside host about a packet from the remote. */
	n = mk_udp(sent, "10.99.1.1", 53, "10.1.0.10", 4000, 10);
	f->n = mk_icmp_error(f->b, "10.1.0.10", "10.99.1.1", 3, 3, sent, n);
	memcpy(orig, f->b, f->n);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_memory_equal(f->b, orig, f->n);
	/* Other ICMP between exempt networks passes too. */
	f->n = mk_icmp_echo(f->b, "10.1.0.10", "10.99.1.1", 13, 1, 1);	/* timestamp */
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(nat_fx_counters(f).drop_icmp, 0);
}

/* Fragments and malformed packets -------------------------------------------- */

static void test_fragments(void **state)
{
	struct nat_fx *f = *state;
	/* First fragment: UDP header, MF set, IP ID 0x4242. */
	f->n = mk_udp(f->b, "10.1.0.10", 7777, R, 9999, 1472);
	put_u16(f->b + 4, 0x4242);
	put_u16(f->b + 6, 0x2000);
	fix_ip_csum(f->b);
	f->n = 20 + 1480;
	put_u16(f->b + 2, (uint16_t)f->n);
	fix_ip_csum(f->b);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_true(ip_csum_ok(f->b));
	/* The rest: addresses of the first fragment's flow. */
	f->n = mk_ip(f->b, "10.1.0.10", R, 17, 0x4242, 185, 600);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 10), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_int_equal(pkt_dst(f->b), A(R));
	assert_true(ip_csum_ok(f->b));
	assert_int_equal(nat_fx_counters(f).fragments, 1);
	/* Another datagram's later fragment, and one after 30 s: dropped. */
	f->n = mk_ip(f->b, "10.1.0.10", R, 17, 0x4243, 185, 600);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 10), NAT_DROP);
	f->n = mk_ip(f->b, "10.1.0.10", R, 17, 0x4242, 185, 600);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 31000), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_fragment, 2);
}

static void test_malformed(void **state)
{
	struct nat_fx *f = *state;
	uint8_t good[256];
	size_t gn = mk_tcp(good, "10.1.0.10", 40000, R, 443, SYN, 1, 0, 1000, NULL, 0, 0);
	struct {
		size_t off;	/* byte to change, or SIZE_MAX */
		uint8_t val;
		size_t len;	/* length handed in */
	} cases[] = {
		{ SIZE_MAX, 0, 19 },		/* shorter than an IP header */
		{ 0, 0x65, 0 },			/* version 6 */
		{ 0, 0x44, 0 },			/* IHL 4 */
		{ 0, 0x4f, 0 },			/* IHL 15: options past the end */
		{ 2, 0xff, 0 },			/* total length past the buffer */
		{ 3, 0x10, 0 },			/* total length 16 < header */
		{ 32, 0xf0, 0 },		/* TCP data offset 60 > segment */
		{ 32, 0x40, 0 },		/* TCP data offset 16 < 20 */
		{ SIZE_MAX, 0, 30 },		/* TCP header cut (total still 40) */
		{ 12, 0, 0 },			/* source 0.x: with the rest zero below */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(f->b, good, gn);
		f->n = cases[i].len ? cases[i].len : gn;
		if (cases[i].off != SIZE_MAX)
			f->b[cases[i].off] = cases[i].val;
		if (cases[i].off == 12)
			memset(f->b + 12, 0, 4);
		if (cases[i].off == 3)
			f->b[2] = 0;
		assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_DROP);
	}
	/* UDP whose length field lies. */
	f->n = mk_udp(f->b, "10.1.0.10", 1, R, 2, 10);
	put_u16(f->b + 24, 200);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_DROP);
	/* ICMP shorter than its header. */
	f->n = mk_ip(f->b, "10.1.0.10", R, 1, 1, 0, 4);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_malformed, 12);
	assert_int_equal(nat_fx_counters(f).flows_created, 0);
}

/* TCP tracking --------------------------------------------------------------- */

static const uint8_t ws7[] = { 1, 3, 3, 7 };	/* NOP, window scale 7 */

/* Handshake 10.1.0.10:40000 <-> R:443; scaling on both sides when opts. */
static uint16_t handshake(struct nat_fx *f, bool scale)
{
	f->n = mk_tcp(f->b, "10.1.0.10", 40000, R, 443, SYN, 1000, 0, 512, scale ? ws7 : NULL,
		      scale ? 4 : 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(f->b);
	f->n = mk_tcp(f->b, R, 443, GW_OUT, pub, SYN | ACK, 5000, 1001, 512, scale ? ws7 : NULL,
		      scale ? 4 : 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	f->n = mk_tcp(f->b, "10.1.0.10", 40000, R, 443, ACK, 1001, 5001, 512, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	f->n = mk_tcp(f->b, R, 443, GW_OUT, pub, ACK, 5001, 1001, 512, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	return pub;
}

static int get_state(const struct nat_flow_view *v, void *arg)
{
	*(const char **)arg = v->state;
	return 1;
}

static const char *flow_state(struct nat_fx *f)
{
	const char *s = NULL;
	nat_table_walk(f->t, 0, get_state, &s);
	return s;
}

/* A RST 40000 bytes ahead: within a 512 << 7 window, far outside 512. */
static void test_tcp_rst_window_scaled(void **state)
{
	struct nat_fx *f = *state;
	uint16_t pub = handshake(f, true);
	assert_string_equal(flow_state(f), "ESTABLISHED");
	f->n = mk_tcp(f->b, R, 443, GW_OUT, pub, RST, 5001 + 40000, 0, 0, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_string_equal(flow_state(f), "CLOSED");
	assert_int_equal(nat_fx_counters(f).tcp_rst_ignored, 0);
}

static void test_tcp_rst_out_of_window(void **state)
{
	struct nat_fx *f = *state;
	uint16_t pub = handshake(f, false);
	f->n = mk_tcp(f->b, R, 443, GW_OUT, pub, RST, 5001 + 40000, 0, 0, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_string_equal(flow_state(f), "ESTABLISHED");
	assert_int_equal(nat_fx_counters(f).tcp_rst_ignored, 1);
	f->n = mk_tcp(f->b, R, 443, GW_OUT, pub, RST, 5001 + 100, 0, 0, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_string_equal(flow_state(f), "CLOSED");
}

static void test_tcp_fin_states(void **state)
{
	struct nat_fx *f = *state;
	uint16_t pub = handshake(f, true);
	f->n = mk_tcp(f->b, "10.1.0.10", 40000, R, 443, FIN | ACK, 1001, 5001, 512, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_string_equal(flow_state(f), "FIN_WAIT");
	f->n = mk_tcp(f->b, R, 443, GW_OUT, pub, FIN | ACK, 5001, 1002, 512, NULL, 0, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	assert_string_equal(flow_state(f), "CLOSED");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, nat_fx_setup, nat_fx_teardown)
		T(test_tcp_pat_roundtrip),
		T(test_tcp_pat_same_port_two_hosts),
		T(test_tcp_needs_syn),
		T(test_udp_pat_and_ike_ports),
		T(test_udp_zero_checksum_stays_zero),
		T(test_icmp_echo_pat),
		T(test_port_forward),
		T(test_static_netmask),
		cmocka_unit_test(test_static_never_takes_own_address),
		T(test_dynamic_persistence),
		T(test_dynamic_address_freed_after_xlate),
		T(test_dynamic_xlate_from_last_use),
		T(test_exemption_before_pat),
		T(test_hairpin),
		cmocka_unit_test(test_hairpin_off),
		T(test_local_and_no_rule),
		T(test_icmp_error_tcp_full_quote),
		T(test_icmp_error_tcp_8_bytes),
		T(test_icmp_error_udp_from_server),
		T(test_icmp_error_echo_time_exceeded),
		T(test_icmp_error_from_inside),
		T(test_icmp_error_unknown_or_short),
		T(test_icmp_error_exempt),
		T(test_fragments),
		T(test_malformed),
		T(test_tcp_rst_window_scaled),
		T(test_tcp_rst_out_of_window),
		T(test_tcp_fin_states),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
