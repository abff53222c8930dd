/* daemon/nat_log.c: the NAT events of a real table, as the lines operators know
 * from PIX/ASA syslog (word for word), and the rate limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "daemon/nat_log.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"
#define POOL "192.0.2.10"	/* the dynamic pool: ours, but no interface's */
#define S 1000ull

struct lines {
	char l[8][256];
	int n;
};

static void collect(const struct nat_event_info *e, void *arg)
{
	struct lines *ls = arg;
	if (ls->n < 8 && nat_log_format(e, ls->l[ls->n], sizeof(ls->l[0])))
		ls->n++;
}

static struct nat_table *table(struct nat_rules **r, struct lines *ls)
{
	char err[256];
	*r = nat_test_rules(NAT_CONF_DEFAULT, err, sizeof(err));
	if (!*r)
		fail_msg("%s", err);
	struct nat_table *t = nat_table_new(*r, 64);
	assert_non_null(t);
	memset(ls, 0, sizeof(*ls));
	nat_table_set_events(t, collect, ls);
	return t;
}

static void test_tcp_built_teardown(void **state)
{
	struct nat_rules *r;
	struct lines ls;
	struct nat_table *t = table(&r, &ls);
	uint8_t b[256];
	size_t n = mk_tcp(b, "10.1.0.7", 40000, R, 80, 0x02, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 5 * S), NAT_FORWARD);
	assert_int_equal(ls.n, 1);
	assert_string_equal(ls.l[0], "Built outbound TCP connection 0 for outside:198.18.0.7/80 "
			    "(198.18.0.7/80) to inside:10.1.0.7/40000 (203.0.113.1/40000)");
	n = mk_tcp(b, R, 80, GW_OUT, 40000, 0x12, 9, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_OUTSIDE, 6 * S), NAT_FORWARD);
	nat_table_flush(t);
	assert_int_equal(ls.n, 2);
	/* Closed by FINs: ended by the closed timeout. */
	n = mk_tcp(b, "10.1.0.7", 40001, R, 80, 0x02, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 7 * S), NAT_FORWARD);
	n = mk_tcp(b, R, 80, GW_OUT, 40001, 0x12, 9, 2, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_OUTSIDE, 7 * S), NAT_FORWARD);
	n = mk_tcp(b, "10.1.0.7", 40001, R, 80, 0x11, 2, 10, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 7 * S), NAT_FORWARD);
	n = mk_tcp(b, R, 80, GW_OUT, 40001, 0x11, 10, 3, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_OUTSIDE, 7 * S), NAT_FORWARD);
	nat_expire(t, 60 * S);
	assert_int_equal(ls.n, 4);
	assert_string_equal(ls.l[3], "Teardown TCP connection 0 for outside:198.18.0.7/80 to "
			    "inside:10.1.0.7/40001 bytes 160 TCP FINs");
	/* 40 + 40 bytes. */
	assert_string_equal(ls.l[1], "Teardown TCP connection 0 for outside:198.18.0.7/80 to "
			    "inside:10.1.0.7/40000 bytes 80 Xlate Clear");
	nat_table_free(t);
	nat_rules_free(r);
}

static void test_udp_idle_and_syn_timeout(void **state)
{
	struct nat_rules *r;
	struct lines ls;
	struct nat_table *t = table(&r, &ls);
	uint8_t b[256];
	size_t n = mk_udp(b, "10.1.0.7", 5353, R, 53, 4);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 0), NAT_FORWARD);
	n = mk_tcp(b, "10.1.0.8", 1025, R, 22, 0x02, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 0), NAT_FORWARD);
	assert_string_equal(ls.l[0], "Built outbound UDP connection 0 for outside:198.18.0.7/53 "
			    "(198.18.0.7/53) to inside:10.1.0.7/5353 (203.0.113.1/5353)");
	nat_expire(t, 3661 * S);
	assert_int_equal(ls.n, 4);
	assert_string_equal(ls.l[2], "Teardown TCP connection 1 for outside:198.18.0.7/22 to "
			    "inside:10.1.0.8/1025 bytes 40 SYN Timeout");
	assert_string_equal(ls.l[3], "Teardown UDP connection 0 for outside:198.18.0.7/53 to "
			    "inside:10.1.0.7/5353 bytes 32");
	nat_table_free(t);
	nat_rules_free(r);
}

static void test_icmp_built(void **state)
{
	struct nat_rules *r;
	struct lines ls;
	struct nat_table *t = table(&r, &ls);
	uint8_t b[256];
	size_t n = mk_icmp_echo(b, "10.1.0.7", R, 8, 512, 1);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 0), NAT_FORWARD);
	assert_string_equal(ls.l[0], "Built outbound ICMP connection for faddr 198.18.0.7/0 "
			    "gaddr 203.0.113.1/512 laddr 10.1.0.7/512");
	nat_table_free(t);
	nat_rules_free(r);
}

/* The requirement's own example, and GRE through PAT without PPTP inspection
 * (PIX's words for it). */
static void test_denies(void **state)
{
	struct nat_rules *r;
	struct lines ls;
	struct nat_table *t = table(&r, &ls);
	uint8_t b[256];
	size_t n = mk_ip(b, R, POOL, 47, 1, 0, 16);
	assert_int_equal(xl(t, b, &n, NAT_FROM_OUTSIDE, 0), NAT_DROP);
	n = mk_tcp(b, R, 5555, POOL, 23, 0x02, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_OUTSIDE, 0), NAT_DROP);
	n = mk_udp(b, R, 5555, POOL, 161, 4);
	assert_int_equal(xl(t, b, &n, NAT_FROM_OUTSIDE, 0), NAT_DROP);
	n = mk_ip(b, "10.1.0.7", R, 47, 1, 0, 16);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 0), NAT_DROP);
	n = mk_tcp(b, "10.1.0.7", 40000, R, 80, 0x10, 1, 0, 1000, NULL, 0, 0);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 0), NAT_DROP);
	n = mk_udp(b, "10.2.0.7", 53, R, 53, 4);
	assert_int_equal(xl(t, b, &n, NAT_FROM_INSIDE, 0), NAT_DROP);
	assert_int_equal(ls.n, 6);
	assert_string_equal(ls.l[0], "Deny inbound protocol 47 src outside:198.18.0.7 "
			    "dst inside:192.0.2.10");
	assert_string_equal(ls.l[1], "Inbound TCP connection denied from 198.18.0.7/5555 to "
			    "192.0.2.10/23 on interface outside");
	assert_string_equal(ls.l[2], "Deny inbound UDP from 198.18.0.7/5555 to "
			    "192.0.2.10/161 on interface outside");
	assert_string_equal(ls.l[3], "portmap translation creation failed for protocol 47 "
			    "src inside:10.1.0.7 dst outside:198.18.0.7");
	assert_string_equal(ls.l[4], "Deny TCP (no connection) from 10.1.0.7/40000 to "
			    "198.18.0.7/80 on interface inside");
	assert_string_equal(ls.l[5], "No translation group found for udp src inside:10.2.0.7/53 "
			    "dst outside:198.18.0.7/53");
	nat_table_free(t);
	nat_rules_free(r);
}

/* PPTP's GRE: the inside call ID as chosen and as mapped, the remote's; an
 * engine's note names its connection. */
static void test_gre_and_note(void **state)
{
	struct nat_flow_view v = {
		.id = 3, .proto = 47, .in_src = A("10.1.0.7"), .in_dst = A(R), .in_sport = 1,
		.in_dport = 100, .out_src = A(R), .out_dst = A(GW_OUT), .out_sport = 100,
		.out_dport = 2, .state = "GRE", .bytes = { 10, 20 },
	};
	struct nat_event_info e = { .event = NAT_EV_BUILT, .flow = &v, .side = NAT_FROM_INSIDE };
	char line[256];
	assert_true(nat_log_format(&e, line, sizeof(line)) > 0);
	assert_string_equal(line, "Built outbound GRE connection 3 from inside:10.1.0.7/1 "
			    "(203.0.113.1/2) to outside:198.18.0.7/100");
	e.event = NAT_EV_TEARDOWN;
	e.reason = "PPTP Call-Clear-Request";
	assert_true(nat_log_format(&e, line, sizeof(line)) > 0);
	assert_string_equal(line, "Teardown GRE connection 3 from inside:10.1.0.7/1 "
			    "(203.0.113.1/2) to outside:198.18.0.7/100 bytes 30 "
			    "PPTP Call-Clear-Request");
	v = (struct nat_flow_view){ .id = 4, .proto = 6, .in_src = A("10.1.0.7"), .in_sport = 1025,
				    .out_src = A(R), .out_sport = 1723, .engine = "pptp" };
	e = (struct nat_event_info){ .event = NAT_EV_NOTE, .flow = &v, .reason = "version 2" };
	assert_true(nat_log_format(&e, line, sizeof(line)) > 0);
	assert_string_equal(line, "pptp inspection: TCP connection 4 for outside:198.18.0.7/1723 "
			    "to inside:10.1.0.7/1025: version 2");
	assert_int_equal(nat_log_level(&e), 1);
}

/* NAT_LOG_PER_SEC a second; what is held back is reported by the next line. */
static void test_rate_limit(void **state)
{
	struct nat_log_limit l = { .limit = NAT_LOG_PER_SEC };
	uint64_t held;
	for (unsigned i = 0; i < NAT_LOG_PER_SEC; i++) {
		assert_int_equal(nat_log_allow(&l, 7 * S + i, &held), 1);
		assert_int_equal(held, 0);
	}
	for (unsigned i = 0; i < 500; i++)
		assert_int_equal(nat_log_allow(&l, 7 * S + 999, &held), 0);
	assert_int_equal(nat_log_allow(&l, 8 * S, &held), 1);
	assert_int_equal(held, 500);
	assert_int_equal(nat_log_allow(&l, 8 * S + 1, &held), 1);
	assert_int_equal(held, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_built_teardown),
		cmocka_unit_test(test_udp_idle_and_syn_timeout),
		cmocka_unit_test(test_icmp_built),
		cmocka_unit_test(test_denies),
		cmocka_unit_test(test_gre_and_note),
		cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
