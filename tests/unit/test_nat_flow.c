/* The flow table over time: timeouts with a mock clock (the now passed in),
 * eviction when full, reload keeping old flows, counters and the flush. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE
#define S 1000ull	/* ms per second */

static struct nat_rules *rules(const char *extra)
{
	char text[2048], err[256];
	snprintf(text, sizeof(text),
		 "tsunagi { nat { inside = lan0\n outside = wan0\n %s\n rules {\n"
		 " lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n", extra);
	struct nat_rules *r = nat_test_rules(text, err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	return r;
}

static enum nat_verdict udp_out(struct nat_table *t, const char *src, uint16_t sp,
    uint64_t now, uint16_t *pub)
{
	uint8_t b[256];
	size_t n = mk_udp(b, src, sp, R, 53, 10);
	enum nat_verdict v = xl(t, b, &n, IN, now);
	if (pub)
		*pub = pkt_sport(b);
	return v;
}

static enum nat_verdict udp_back(struct nat_table *t, uint16_t pub, uint64_t now)
{
	uint8_t b[256];
	size_t n = mk_udp(b, R, 53, GW_OUT, pub, 10);
	return xl(t, b, &n, OUT, now);
}

static uint64_t active(struct nat_table *t)
{
	struct nat_counters c;
	nat_table_counters(t, &c);
	return c.flows_active;
}

static void test_udp_timeout_default(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub;
	assert_int_equal(udp_out(t, "10.1.0.10", 5000, 0, &pub), NAT_FORWARD);
	/* Each packet restarts the 2 min. */
	assert_int_equal(udp_back(t, pub, 119 * S), NAT_FORWARD);
	assert_int_equal(udp_back(t, pub, 238 * S), NAT_FORWARD);
	nat_expire(t, 357 * S);
	assert_int_equal(active(t), 1);
	nat_expire(t, 358 * S);
	assert_int_equal(active(t), 0);
	/* Gone: the reply is now for the gateway itself. */
	assert_int_equal(udp_back(t, pub, 359 * S), NAT_LOCAL);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.flows_expired, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* Without the timer: a flow found past its timeout is over all the same. */
static void test_timeout_without_timer(void **state)
{
	struct nat_rules *r = rules("timeouts { udp = 5s }");
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub;
	assert_int_equal(udp_out(t, "10.1.0.10", 5000, 0, &pub), NAT_FORWARD);
	assert_int_equal(udp_back(t, pub, 4999), NAT_FORWARD);
	assert_int_equal(udp_back(t, pub, 4999 + 5 * S), NAT_LOCAL);
	assert_int_equal(active(t), 0);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

static void tcp(struct nat_table *t, enum nat_side side, uint8_t flags, uint16_t pub,
    uint64_t now)
{
	uint8_t b[256];
	size_t n = side == IN ?
		mk_tcp(b, "10.1.0.10", 40000, R, 80, flags, 1, 1, 1000, NULL, 0, 0) :
		mk_tcp(b, R, 80, GW_OUT, pub, flags, 1, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, side, now), NAT_FORWARD);
}

static void test_tcp_timeouts(void **state)
{
	struct nat_rules *r = rules("timeouts { tcp_syn = 30s\n tcp = 1h\n tcp_half_closed = 10m\n"
				    " tcp_closed = 10s }");
	struct nat_table *t = nat_table_new(r, 64);
	/* Embryonic: 30 s. */
	tcp(t, IN, 0x02, 0, 0);
	nat_expire(t, 30 * S);
	assert_int_equal(active(t), 0);
	/* Established: 1 h. */
	uint64_t now = 100 * S;
	tcp(t, IN, 0x02, 0, now);
	tcp(t, OUT, 0x12, 40000, now);
	tcp(t, IN, 0x10, 0, now);
	nat_expire(t, now + 3599 * S);
	assert_int_equal(active(t), 1);
	/* One FIN: 10 min from then. */
	now += 3599 * S;
	tcp(t, IN, 0x11, 0, now);
	nat_expire(t, now + 599 * S);
	assert_int_equal(active(t), 1);
	/* The other FIN: 10 s. */
	now += 599 * S;
	tcp(t, OUT, 0x11, 40000, now);
	nat_expire(t, now + 9 * S);
	assert_int_equal(active(t), 1);
	nat_expire(t, now + 10 * S);
	assert_int_equal(active(t), 0);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

static void test_icmp_timeout(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	uint8_t b[256];
	size_t n = mk_icmp_echo(b, "10.1.0.10", R, 8, 1, 1);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	nat_expire(t, 1999);
	assert_int_equal(active(t), 1);
	nat_expire(t, 2000);
	assert_int_equal(active(t), 0);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* 16 flows fit; each new one evicts the one idle longest, never a crash. */
static void test_full_table_evicts_oldest(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 16);
	uint16_t pub[20];
	for (int i = 0; i < 16; i++)
		assert_int_equal(udp_out(t, "10.1.0.10", (uint16_t)(5000 + i), (uint64_t)i, &pub[i]),
				 NAT_FORWARD);
	/* Flow 0 is used again: flow 1 is now the oldest idle. */
	assert_int_equal(udp_back(t, pub[0], 100), NAT_FORWARD);
	for (int i = 16; i < 20; i++)
		assert_int_equal(udp_out(t, "10.1.0.10", (uint16_t)(5000 + i), 200 + (uint64_t)i,
					 &pub[i]), NAT_FORWARD);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.flows_evicted, 4);
	assert_int_equal(c.flows_active, 16);
	assert_int_equal(udp_back(t, pub[0], 300), NAT_FORWARD);
	for (int i = 1; i <= 4; i++)
		assert_int_equal(udp_back(t, pub[i], 300), NAT_LOCAL);
	for (int i = 5; i < 20; i++)
		assert_int_equal(udp_back(t, pub[i], 300), NAT_FORWARD);
	/* A flood of 10000 more keeps the table at its size. */
	for (int i = 0; i < 10000; i++)
		udp_out(t, "10.1.7.1", (uint16_t)(1024 + i), 400 + (uint64_t)i, NULL);
	nat_table_counters(t, &c);
	assert_int_equal(c.flows_active, 16);
	assert_int_equal(c.flows_evicted, 4 + 10000);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* Reload: old flows keep their translation (and outlive the old rules); new
 * flows get the new rules. */
static void test_reload_keeps_old_flows(void **state)
{
	struct nat_rules *r1 = rules("");
	struct nat_table *t = nat_table_new(r1, 64);
	uint16_t pub;
	assert_int_equal(udp_out(t, "10.1.0.10", 5000, 0, &pub), NAT_FORWARD);
	char err[256];
	struct nat_rules *r2 = nat_test_rules(
		"tsunagi { nat { inside = lan0\n outside = wan0\n rules {\n"
		" lan { type = pat\n private = 10.1.0.0/16\n public = 192.0.2.50 } } } }\n",
		err, sizeof(err));
	assert_non_null(r2);
	nat_table_set_rules(t, r2);
	nat_rules_free(r1);	/* flows hold nothing of the old rules */
	assert_int_equal(udp_back(t, pub, 10), NAT_FORWARD);
	uint8_t b[256];
	size_t n = mk_udp(b, "10.1.0.10", 5000, R, 53, 10);
	assert_int_equal(xl(t, b, &n, IN, 20), NAT_FORWARD);
	assert_int_equal(pkt_src(b), A(GW_OUT));	/* old flow: old address */
	n = mk_udp(b, "10.1.0.10", 5001, R, 53, 10);
	assert_int_equal(xl(t, b, &n, IN, 20), NAT_FORWARD);
	assert_int_equal(pkt_src(b), A("192.0.2.50"));	/* new flow: new rule */
	struct nat_rule_counters rc[4];
	assert_int_equal(nat_table_rule_counters(t, rc, 4), 1);
	assert_int_equal(rc[0].flows, 1);
	assert_int_equal(rc[0].active, 1);
	assert_int_equal(rc[0].packets, 1);
	nat_table_free(t);
	nat_rules_free(r2);
	(void)state;
}

static int count_flow(const struct nat_flow_view *v, void *arg)
{
	int *n = arg;
	if (v->proto == 17) {
		assert_int_equal(v->in_src, A("10.1.0.10"));
		assert_int_equal(v->out_dst, A(GW_OUT));
		assert_string_equal(v->rule, "lan");
		assert_string_equal(v->state, "UDP");
		assert_int_equal(v->packets[0], 1);
	}
	(*n)++;
	return 0;
}

static void test_walk_and_flush(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	assert_int_equal(udp_out(t, "10.1.0.10", 5000, 0, NULL), NAT_FORWARD);
	assert_int_equal(udp_out(t, "10.1.0.10", 5001, 0, NULL), NAT_FORWARD);
	int n = 0;
	assert_int_equal(nat_table_walk(t, 5, count_flow, &n), 2);
	assert_int_equal(n, 2);
	nat_table_flush(t);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.flows_active, 0);
	assert_int_equal(c.flows_flushed, 2);
	struct nat_rule_counters rc;
	nat_table_rule_counters(t, &rc, 1);
	assert_int_equal(rc.active, 0);
	assert_int_equal(rc.flows, 2);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* PAT runs out of ports towards one server port, and says so. */
static void test_ports_exhausted(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 70000);
	int fwd = 0;
	struct nat_counters c;
	for (uint32_t i = 0; i < 64600; i++) {
		if (i == 48000) {
			/* Three quarters full, a free port still takes a few tries, not
			 * a walk along the ports the others took. */
			nat_table_counters(t, &c);
			assert_true(c.pat_probes < 3 * 48000);
		}
		char src[32];
		snprintf(src, sizeof(src), "10.1.%u.%u", (i + 256) >> 8, (i + 256) & 255);
		if (udp_out(t, src, 40000, 0, NULL) == NAT_FORWARD)
			fwd++;
	}
	/* 1024..65535 less 4500. */
	assert_int_equal(fwd, 64511);
	nat_table_counters(t, &c);
	assert_int_equal(c.drop_ports, 64600 - 64511);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_timeout_default),
		cmocka_unit_test(test_timeout_without_timer),
		cmocka_unit_test(test_tcp_timeouts),
		cmocka_unit_test(test_icmp_timeout),
		cmocka_unit_test(test_full_table_evicts_oldest),
		cmocka_unit_test(test_reload_keeps_old_flows),
		cmocka_unit_test(test_walk_and_flush),
		cmocka_unit_test(test_ports_exhausted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
