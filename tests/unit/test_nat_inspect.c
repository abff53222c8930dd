/* The inspection registry with a test engine: engine choice by configured
 * ports, payload growth with TCP seq/ack/SACK deltas for the rest of the
 * connection, pinholes (exactly one flow, timeout, ended with their flow),
 * drop and end verdicts, the configuration keys and their file:line errors. */
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

#define R "198.18.0.7"
#define C "10.1.0.10"
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE
#define ACK 0x10
#define SYN 0x02

struct tstate {
	int packets;
};

/* Payload commands: GROW (becomes GROWN!), SHRINK (becomes SH), OPEN (a
 * pinhole from the remote end to the inside end's port 9000), DROP, END. */
static enum nat_insp_verdict test_inspect(struct nat_insp *c)
{
	struct tstate *s = c->state;
	s->packets++;
	if (c->len >= 4 && memcmp(c->payload, "GROW", 4) == 0) {
		nat_insp_replace(c, 0, 4, "GROWN!", 6);
	} else if (c->len >= 6 && memcmp(c->payload, "SHRINK", 6) == 0) {
		nat_insp_replace(c, 0, 6, "SH", 2);
	} else if (c->len >= 4 && memcmp(c->payload, "OPEN", 4) == 0) {
		uint16_t pub = nat_insp_public_port(c, 6, c->k[1].src, c->k[0].src, 9000);
		struct nat_expect e = {
			.proto = 6, .side = NAT_FROM_OUTSIDE,
			.match_src = c->k[1].src, .match_dst = c->k[1].dst, .match_dport = pub,
			.to_src = 0, .to_dst = c->k[0].src, .to_dport = 9000,
			.timeout_ms = 5000, .engine = NAT_ENGINE_NONE, .replace = true,
		};
		assert_int_not_equal(pub, 0);
		put_u16(c->payload + 4, pub);
		nat_insp_touch(c);
		nat_insp_expect(c, &e);
	} else if (c->len >= 4 && memcmp(c->payload, "DROP", 4) == 0) {
		c->c->bad_dropped++;
		return NAT_INSP_DROP;
	} else if (c->len >= 3 && memcmp(c->payload, "END", 3) == 0) {
		return NAT_INSP_END;
	}
	return NAT_INSP_PASS;
}

static const struct nat_engine test_engine = {
	.name = "test", .protos = NAT_INSP_TCP | NAT_INSP_UDP, .ports = "7000, 7100-7101",
	.state_size = sizeof(struct tstate), .inspect = test_inspect,
};

static size_t test_id(void)
{
	return nat_engine_count() - 1;
}

static struct nat_rules *rules(const char *extra)
{
	char text[2048], err[256];
	nat_engine_set_test(&test_engine);
	snprintf(text, sizeof(text),
		 "tsunagi { nat { inside = lan0\n outside = wan0\n %s\n rules {\n"
		 " lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n", extra);
	struct nat_rules *r = nat_test_rules(text, err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	return r;
}

/* A TCP segment with payload text (checksums right). */
static size_t seg(uint8_t *b, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    uint8_t flags, uint32_t seq, uint32_t ack, const char *text, const uint8_t *opts,
    size_t optlen)
{
	size_t tl = text ? strlen(text) : 0;
	size_t n = mk_tcp(b, src, sp, dst, dp, flags, seq, ack, 1000, opts, optlen, tl);
	if (tl)
		memcpy(b + n - tl, text, tl);
	fix_l4_csum(b);
	return n;
}

static uint32_t seq_of(const uint8_t *b)
{
	return get_u32(b + 20 + 4);
}

static uint32_t ack_of(const uint8_t *b)
{
	return get_u32(b + 20 + 8);
}

static const char *engine_seen;
static int view_engine(const struct nat_flow_view *v, void *arg)
{
	engine_seen = v->engine;
	(void)arg;
	return 1;
}

/* Client C:5000 to R:dport, handshake done; gives the public port. */
static uint16_t handshake(struct nat_table *t, uint16_t dport)
{
	uint8_t b[2048];
	size_t n = seg(b, C, 5000, R, dport, SYN, 1000, 0, NULL, NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(b);
	n = seg(b, R, dport, GW_OUT, pub, SYN | ACK, 5000, 1001, NULL, NULL, 0);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	n = seg(b, C, 5000, R, dport, ACK, 1001, 5001, NULL, NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	return pub;
}

static void test_engine_by_port(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	handshake(t, 7101);
	nat_table_walk(t, 0, view_engine, NULL);
	assert_string_equal(engine_seen, "test");
	nat_table_flush(t);
	handshake(t, 80);
	nat_table_walk(t, 0, view_engine, NULL);
	assert_null(engine_seen);
	struct nat_insp_counters ic;
	assert_int_equal(nat_table_insp_counters(t, test_id(), &ic), 0);
	assert_int_equal(ic.flows, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* Configured ports replace the defaults; enabled = no turns it off. */
static void test_configured_ports(void **state)
{
	struct nat_rules *r = rules("inspect { test { ports = 80, 8000-8001 } }");
	struct nat_table *t = nat_table_new(r, 64);
	handshake(t, 8001);
	nat_table_walk(t, 0, view_engine, NULL);
	assert_string_equal(engine_seen, "test");
	nat_table_flush(t);
	handshake(t, 7000);
	nat_table_walk(t, 0, view_engine, NULL);
	assert_null(engine_seen);
	nat_table_free(t);
	nat_rules_free(r);
	r = rules("inspect { test { enabled = no } }");
	t = nat_table_new(r, 64);
	handshake(t, 7000);
	nat_table_walk(t, 0, view_engine, NULL);
	assert_null(engine_seen);
	nat_table_free(t);
	nat_rules_free(r);
	r = rules("queue = 7\n firewall = manual");
	assert_int_equal(r->queue, 7);
	assert_true(r->firewall_manual);
	nat_rules_free(r);
	(void)state;
}

static void expect_error(const char *extra, const char *want)
{
	char text[2048], err[256];
	nat_engine_set_test(&test_engine);
	snprintf(text, sizeof(text), "tsunagi {\n nat {\n  inside = lan0\n  outside = wan0\n%s\n }\n}\n",
		 extra);
	struct nat_rules *r = nat_test_rules(text, err, sizeof(err));
	assert_null(r);
	if (!strstr(err, want))
		fail_msg("got '%s', want '%s'", err, want);
}

static void test_config_errors(void **state)
{
	expect_error("  inspect {\n   nope { ports = 21 }\n  }",
		     "nat.conf:6: tsunagi nat: unknown inspection engine 'nope'");
	expect_error("  inspect {\n   test {\n    ports = 70000\n   }\n  }",
		     "nat.conf:7: tsunagi nat: invalid ports");
	expect_error("  inspect {\n   test {\n    ports = 30-20\n   }\n  }", "nat.conf:7:");
	expect_error("  inspect {\n   test {\n    ports = 1,2,3,4,5,6,7,8,9\n   }\n  }",
		     "nat.conf:7: tsunagi nat: at most 8 ports");
	expect_error("  inspect {\n   test {\n    colour = red\n   }\n  }", "nat.conf:7:");
	expect_error("  firewall = sometimes", "nat.conf:5: tsunagi nat: invalid firewall");
	expect_error("  queue = 65536", "nat.conf:5:");
	(void)state;
}

/* GROW adds 2 bytes: later segments from the client shift by 2, the server's
 * acks (and SACK blocks) back by 2; a retransmission is rewritten the same. */
static void test_grow_seq_ack_sack(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub = handshake(t, 7000);
	uint8_t b[2048];
	size_t n = seg(b, C, 5000, R, 7000, ACK, 1001, 5001, "GROW....\r\n", NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(n, 40 + 12);
	assert_int_equal(get_u16(b + 2), 52);
	assert_memory_equal(b + 40, "GROWN!....\r\n", 12);
	assert_int_equal(seq_of(b), 1001);
	assert_true(ip_csum_ok(b));
	assert_true(l4_csum_ok(b, 0));
	/* The next segment: seq + 2. */
	n = seg(b, C, 5000, R, 7000, ACK, 1011, 5001, "abc", NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(seq_of(b), 1013);
	assert_true(l4_csum_ok(b, 0));
	/* The server acks 1016 (all of it) with a SACK block 1013-1016: 1014, 1011-1014. */
	const uint8_t sack[12] = { 1, 1, 5, 10, 0, 0, 0x03, 0xf5, 0, 0, 0x03, 0xf8 };
	n = seg(b, R, 7000, GW_OUT, pub, ACK, 5001, 1016, NULL, sack, sizeof(sack));
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(ack_of(b), 1014);
	assert_int_equal(get_u32(b + 20 + 24), 1011);
	assert_int_equal(get_u32(b + 20 + 28), 1014);
	assert_true(l4_csum_ok(b, 0));
	/* An ack of the bytes before the grown segment's end is moved back too: but
	 * an ack at the grown segment's start is not. */
	n = seg(b, R, 7000, GW_OUT, pub, ACK, 5001, 1001, NULL, NULL, 0);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(ack_of(b), 1001);
	/* A retransmission of the GROW segment: same rewrite, no second delta. */
	n = seg(b, C, 5000, R, 7000, ACK, 1001, 5001, "GROW....\r\n", NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(seq_of(b), 1001);
	assert_int_equal(n, 52);
	n = seg(b, C, 5000, R, 7000, ACK, 1014, 5001, "x", NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(seq_of(b), 1016);
	/* A second change later on: SHRINK (-4) at 1015: after it, -2 in all. */
	n = seg(b, C, 5000, R, 7000, ACK, 1015, 5001, "SHRINK", NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(seq_of(b), 1017);
	assert_int_equal(n, 42);
	n = seg(b, C, 5000, R, 7000, ACK, 1021, 5001, "y", NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(seq_of(b), 1019);
	n = seg(b, R, 7000, GW_OUT, pub, ACK, 5001, 1020, NULL, NULL, 0);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(ack_of(b), 1022);
	struct nat_insp_counters ic;
	nat_table_insp_counters(t, test_id(), &ic);
	assert_int_equal(ic.resized, 3);
	assert_true(ic.seq_adjusted >= 5);
	assert_int_equal(nat_table_check(t), 0);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* The packet may not outgrow its buffer: untouched and counted. */
static void test_no_room(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	handshake(t, 7000);
	uint8_t b[2048];
	size_t n = seg(b, C, 5000, R, 7000, ACK, 1001, 5001, "GROW", NULL, 0);
	struct nat_packet p = { b, n, n + 1, false };
	assert_int_equal(nat_translate(t, &p, IN, 0), NAT_FORWARD);
	assert_int_equal(p.len, n);
	assert_memory_equal(b + 40, "GROW", 4);
	assert_true(p.changed);
	assert_true(l4_csum_ok(b, 0));
	struct nat_insp_counters ic;
	nat_table_insp_counters(t, test_id(), &ic);
	assert_int_equal(ic.no_room, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* OPEN: one pinhole from the remote end to C:9000, used once. */
static void test_pinhole_once(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	handshake(t, 7000);
	uint8_t b[2048];
	size_t n = seg(b, C, 5000, R, 7000, ACK, 1001, 5001, "OPEN..", NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	uint16_t pin = get_u16(b + 44);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.pinholes_active, 1);
	/* Not for another remote address. */
	n = seg(b, "198.18.0.8", 20, GW_OUT, pin, SYN, 1, 0, NULL, NULL, 0);
	assert_int_not_equal(xl(t, b, &n, OUT, 10), NAT_FORWARD);
	n = seg(b, R, 20, GW_OUT, pin, SYN, 1, 0, NULL, NULL, 0);
	assert_int_equal(xl(t, b, &n, OUT, 10), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A(C));
	assert_int_equal(pkt_dport(b), 9000);
	assert_true(l4_csum_ok(b, 0));
	/* The reply goes out from the pinhole's public port. */
	n = seg(b, C, 9000, R, 20, SYN | ACK, 7, 2, NULL, NULL, 0);
	assert_int_equal(xl(t, b, &n, IN, 10), NAT_FORWARD);
	assert_int_equal(pkt_src(b), A(GW_OUT));
	assert_int_equal(pkt_sport(b), pin);
	/* Exactly one: another connection to the same port is not let in. */
	n = seg(b, R, 21, GW_OUT, pin, SYN, 1, 0, NULL, NULL, 0);
	assert_int_not_equal(xl(t, b, &n, OUT, 10), NAT_FORWARD);
	struct nat_insp_counters ic;
	nat_table_insp_counters(t, test_id(), &ic);
	assert_int_equal(ic.pinholes, 1);
	assert_int_equal(ic.pinhole_hits, 1);
	nat_table_counters(t, &c);
	assert_int_equal(c.pinholes_active, 0);
	assert_int_equal(nat_table_check(t), 0);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* A pinhole not used expires; one whose flow ends goes with it; a new OPEN
 * replaces the flow's earlier one. */
static void test_pinhole_expiry_and_end(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	handshake(t, 7000);
	uint8_t b[2048];
	size_t n = seg(b, C, 5000, R, 7000, ACK, 1001, 5001, "OPEN..", NULL, 0);
	xl(t, b, &n, IN, 0);
	uint16_t pin = get_u16(b + 44);
	n = seg(b, C, 5000, R, 7000, ACK, 1007, 5001, "OPEN..", NULL, 0);
	xl(t, b, &n, IN, 0);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.pinholes_active, 1);
	nat_expire(t, 5000);
	n = seg(b, R, 20, GW_OUT, pin, SYN, 1, 0, NULL, NULL, 0);
	assert_int_not_equal(xl(t, b, &n, OUT, 5001), NAT_FORWARD);
	struct nat_insp_counters ic;
	nat_table_insp_counters(t, test_id(), &ic);
	assert_int_equal(ic.pinhole_replaced, 1);
	assert_int_equal(ic.pinhole_expired, 1);
	n = seg(b, C, 5000, R, 7000, ACK, 1013, 5001, "OPEN..", NULL, 0);
	xl(t, b, &n, IN, 5001);
	nat_table_flush(t);
	nat_table_counters(t, &c);
	assert_int_equal(c.pinholes_active, 0);
	nat_table_insp_counters(t, test_id(), &ic);
	assert_int_equal(ic.pinhole_replaced, 2);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* Many pinholes at once (their hash chains share buckets): each is found by
 * its own connection only, used ones and expired ones leave the index
 * consistent (nat_table_check) whatever order they go in. */
static void test_many_pinholes(void **state)
{
	enum { N = 600 };
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 4096);
	uint8_t b[2048];
	static uint16_t pin[N];
	for (uint16_t i = 0; i < N; i++) {
		uint16_t sp = (uint16_t)(10000 + i);
		size_t n = seg(b, C, sp, R, 7000, SYN, 1000, 0, NULL, NULL, 0);
		assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
		uint16_t pub = pkt_sport(b);
		n = seg(b, R, 7000, GW_OUT, pub, SYN | ACK, 5000, 1001, NULL, NULL, 0);
		assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
		n = seg(b, C, sp, R, 7000, ACK, 1001, 5001, "OPEN..", NULL, 0);
		assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
		pin[i] = get_u16(b + 44);
	}
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.pinholes_active, N);
	assert_int_equal(nat_table_check(t), 0);
	/* Two thirds used, in a scattered order (7 is prime to N). */
	unsigned used = 0;
	for (unsigned k = 0; k < N; k++) {
		unsigned i = (k * 7) % N;
		if (i % 3 == 2)
			continue;
		/* each from its own port: they all go to C:9000 */
		size_t n = seg(b, R, (uint16_t)(20000 + i), GW_OUT, pin[i], SYN, 1, 0, NULL, NULL, 0);
		assert_int_equal(xl(t, b, &n, OUT, 10), NAT_FORWARD);
		assert_int_equal(pkt_dst(b), A(C));
		assert_int_equal(pkt_dport(b), 9000);
		used++;
		if (used % 50 == 0)
			assert_int_equal(nat_table_check(t), 0);
	}
	nat_table_counters(t, &c);
	assert_int_equal(c.pinholes_active, N - used);
	/* The rest: still there until their deadline, then gone. */
	size_t n = seg(b, R, 20002, GW_OUT, pin[2], SYN, 1, 0, NULL, NULL, 0);
	assert_int_equal(xl(t, b, &n, OUT, 20), NAT_FORWARD);
	nat_expire(t, 5000);
	nat_table_counters(t, &c);
	assert_int_equal(c.pinholes_active, 0);
	assert_int_equal(nat_table_check(t), 0);
	n = seg(b, R, 20005, GW_OUT, pin[5], SYN, 1, 0, NULL, NULL, 0);
	assert_int_not_equal(xl(t, b, &n, OUT, 5001), NAT_FORWARD);
	struct nat_insp_counters ic;
	nat_table_insp_counters(t, test_id(), &ic);
	assert_int_equal(ic.pinholes, N);
	assert_int_equal(ic.pinhole_hits, used + 1);
	assert_int_equal(ic.pinhole_expired, N - used - 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* DROP is dropped and counted; END (UDP) ends the flow after forwarding. */
static void test_drop_and_end(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	uint8_t b[2048];
	size_t n = mk_udp(b, C, 4000, R, 7000, 4);
	memcpy(b + 28, "ASK?", 4);
	fix_l4_csum(b);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(b);
	n = mk_udp(b, R, 7000, GW_OUT, pub, 4);
	memcpy(b + 28, "DROP", 4);
	fix_l4_csum(b);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_DROP);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.drop_inspect, 1);
	n = mk_udp(b, R, 7000, GW_OUT, pub, 4);
	memcpy(b + 28, "END.", 4);
	fix_l4_csum(b);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A(C));
	nat_table_counters(t, &c);
	assert_int_equal(c.flows_active, 0);
	/* A second answer finds no flow. */
	n = mk_udp(b, R, 7000, GW_OUT, pub, 4);
	assert_int_not_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* struct flow did not grow for the registry: inspected flows keep their state
 * beside the table. */
static void test_flow_size(void **state)
{
	assert_true(sizeof(struct flow) <= 104);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_by_port),
		cmocka_unit_test(test_configured_ports),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_grow_seq_ack_sack),
		cmocka_unit_test(test_no_room),
		cmocka_unit_test(test_pinhole_once),
		cmocka_unit_test(test_pinhole_expiry_and_end),
		cmocka_unit_test(test_many_pinholes),
		cmocka_unit_test(test_drop_and_end),
		cmocka_unit_test(test_flow_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
