/* The engine's policy-routing rule ("not fwmark MARK lookup 220") is in place only
 * while its table holds a route: the routes and rules go to mocks (-Wl,--wrap) that
 * keep the netlink calls in order, so the tests see both the state and the order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "esp/engine_priv.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/selector.h"
#include "pfkey/pfkey.h"

/* --- the kernel, as far as the engine changes it ------------------------------------ */

#define OPS_MAX 32

static struct {
	char ops[OPS_MAX][64];	/* "rule+ 220", "route+ 10.1.0.0/16 220", ... */
	unsigned n;
	int rules;		/* rules of table 220 in place */
	int routes;		/* routes in table 220 */
	int port_rules;
	int rule_fail;		/* the next rule adds that fail */
	unsigned errors;	/* log lines at level 0 */
} k;

static void op(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void op(const char *fmt, ...)
{
	assert_true(k.n < OPS_MAX);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k.ops[k.n++], sizeof(k.ops[0]), fmt, ap);
	va_end(ap);
}

int __wrap_tun_rule_add(int family, uint32_t table, uint32_t fwmark, uint32_t priority);
int __wrap_tun_rule_add(int family, uint32_t table, uint32_t fwmark, uint32_t priority)
{
	assert_int_equal(family, AF_INET);
	assert_int_equal(fwmark, ESP_ENGINE_FWMARK);
	assert_int_equal(priority, ESP_ENGINE_RULE_PRIO);
	if (k.rule_fail) {
		k.rule_fail--;
		op("rule+ %u failed", table);
		return -EPERM;
	}
	op("rule+ %u", table);
	k.rules = 1;	/* adding one that is there is not an error (tun.c) */
	return 0;
}

int __wrap_tun_rule_del(int family, uint32_t table, uint32_t fwmark, uint32_t priority);
int __wrap_tun_rule_del(int family, uint32_t table, uint32_t fwmark, uint32_t priority)
{
	assert_int_equal(family, AF_INET);
	assert_int_equal(fwmark, ESP_ENGINE_FWMARK);
	assert_int_equal(priority, ESP_ENGINE_RULE_PRIO);
	op("rule- %u", table);
	k.rules = 0;
	return 0;
}

int __wrap_tun_route_add(const struct tun *t, uint32_t table, const struct addr *dst, int plen);
int __wrap_tun_route_add(const struct tun *t, uint32_t table, const struct addr *dst, int plen)
{
	(void)t;
	char a[ADDR_STRLEN];
	op("route+ %s/%d %u", addr_ntop(dst, a, sizeof(a)), plen, table);
	if (table == ESP_ENGINE_ROUTE_TABLE)
		k.routes++;
	return 0;
}

int __wrap_tun_route_del(const struct tun *t, uint32_t table, const struct addr *dst, int plen);
int __wrap_tun_route_del(const struct tun *t, uint32_t table, const struct addr *dst, int plen)
{
	(void)t;
	char a[ADDR_STRLEN];
	op("route- %s/%d %u", addr_ntop(dst, a, sizeof(a)), plen, table);
	if (table == ESP_ENGINE_ROUTE_TABLE)
		k.routes--;
	return 0;
}

int __wrap_tun_port_rule(bool add, const struct tun_port_rule *pr, uint32_t table,
			 uint32_t fwmark, uint32_t priority);
int __wrap_tun_port_rule(bool add, const struct tun_port_rule *pr, uint32_t table,
			 uint32_t fwmark, uint32_t priority)
{
	(void)priority;
	assert_int_equal(fwmark, ESP_ENGINE_FWMARK);
	op("port%c %u %u", add ? '+' : '-', pr->proto, table);
	k.port_rules += add ? 1 : -1;
	return 0;
}

static void count_errors(void *arg, enum log_subsys s, int level, const char *line)
{
	(void)arg;
	(void)s;
	(void)line;
	if (level == 0)
		k.errors++;
}

/* The ops since mark, one string: "rule+ 220, route+ 10.1.0.0/16 220". */
static const char *ops_since(unsigned mark)
{
	static char s[OPS_MAX * 64];
	s[0] = 0;
	for (unsigned i = mark; i < k.n; i++)
		snprintf(s + strlen(s), sizeof(s) - strlen(s), "%s%s", i > mark ? ", " : "",
			 k.ops[i]);
	return s;
}

/* --- fixture: an engine whose routes are made by esp_io.c, the rest without I/O ---- */

static int setup(void **state)
{
	memset(&k, 0, sizeof(k));
	struct esp_engine_cfg cfg = { .no_io = true };
	struct esp_engine *e = esp_engine_new(&cfg);
	assert_non_null(e);
	assert_int_equal(log_add_sink(count_errors, NULL), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct esp_engine *e = *state;
	io_close(e);	/* as esp_engine_free with I/O */
	assert_int_equal(k.rules, 0);
	assert_int_equal(k.routes, 0);
	assert_int_equal(k.port_rules, 0);
	esp_engine_free(e);
	log_remove_sink(count_errors, NULL);
	return 0;
}

static struct selector S(const char *s)
{
	struct selector sel;
	assert_int_equal(selector_parse(s, &sel), 0);
	return sel;
}

/* --- tests ------------------------------------------------------------------------- */

/* No rule until a route needs it; the rule before the first route, out after the last;
 * a second route keeps it when the first goes; back with the next route. */
static void test_rule_follows_routes(void **state)
{
	struct esp_engine *e = *state;
	struct selector a = S("10.1.0.0/16"), b = S("10.2.0.0/16");
	assert_int_equal(k.rules, 0);
	assert_int_equal(k.n, 0);

	io_route_add(e, &a);
	assert_string_equal(ops_since(0), "rule+ 220, route+ 10.1.0.0/16 220");
	io_route_add(e, &b);
	assert_string_equal(ops_since(2), "route+ 10.2.0.0/16 220");
	io_route_del(e, &a);
	assert_string_equal(ops_since(3), "route- 10.1.0.0/16 220");
	assert_int_equal(k.rules, 1);
	io_route_del(e, &b);
	assert_string_equal(ops_since(4), "route- 10.2.0.0/16 220, rule- 220");
	assert_int_equal(k.rules, 0);

	io_route_add(e, &b);	/* the tunnel again: the rule comes back */
	assert_string_equal(ops_since(6), "rule+ 220, route+ 10.2.0.0/16 220");
	assert_int_equal(k.rules, 1);
	assert_int_equal(k.routes, 1);
	assert_int_equal(k.errors, 0);
}

/* Two policies to one destination share one route (a rekeyed child and its
 * successor): the rule stays while either is there. */
static void test_rule_shared_route(void **state)
{
	struct esp_engine *e = *state;
	struct selector a = S("10.1.0.0/16");
	io_route_add(e, &a);
	io_route_add(e, &a);
	io_route_del(e, &a);
	assert_int_equal(k.rules, 1);
	assert_int_equal(k.routes, 1);
	io_route_del(e, &a);
	assert_string_equal(ops_since(0), "rule+ 220, route+ 10.1.0.0/16 220, "
			    "route- 10.1.0.0/16 220, rule- 220");
}

/* A rule that cannot be added: said once, the route added all the same, tried again
 * with each route add until it is in place. */
static void test_rule_retry(void **state)
{
	struct esp_engine *e = *state;
	struct selector a = S("10.1.0.0/16"), b = S("10.2.0.0/16"), c = S("10.3.0.0/16");
	k.rule_fail = 2;
	io_route_add(e, &a);
	assert_string_equal(ops_since(0), "rule+ 220 failed, route+ 10.1.0.0/16 220");
	assert_int_equal(k.errors, 1);
	io_route_add(e, &b);
	assert_string_equal(ops_since(2), "rule+ 220 failed, route+ 10.2.0.0/16 220");
	assert_int_equal(k.errors, 1);	/* not said again */
	io_route_add(e, &c);
	assert_string_equal(ops_since(4), "rule+ 220, route+ 10.3.0.0/16 220");
	assert_int_equal(k.rules, 1);
	io_route_del(e, &a);
	io_route_del(e, &b);
	io_route_del(e, &c);
	assert_int_equal(k.rules, 0);
	k.rule_fail = 1;	/* a failure after a success is said again */
	io_route_add(e, &a);
	assert_int_equal(k.errors, 2);
	io_route_add(e, &a);	/* the same route again: the rule tried again too */
	assert_int_equal(k.rules, 1);
	io_route_del(e, &a);
	io_route_del(e, &a);
	assert_int_equal(k.rules, 0);
}

/* The engine's and tsunagid's sockets carry the mark from the start (they are opened
 * before any tunnel), whether or not the rule is in place. */
static void test_mark_without_rule(void **state)
{
	struct esp_engine *e = *state;
	assert_int_equal(k.rules, 0);
	assert_int_equal(esp_engine_fwmark(e), ESP_ENGINE_FWMARK);
	struct selector a = S("10.1.0.0/16");
	io_route_add(e, &a);
	assert_int_equal(esp_engine_fwmark(e), ESP_ENGINE_FWMARK);
	io_route_del(e, &a);
	assert_int_equal(esp_engine_fwmark(e), ESP_ENGINE_FWMARK);
}

/* The rule is IPv4's: an IPv6 route neither brings it nor keeps it. */
static void test_rule_ipv4_only(void **state)
{
	struct esp_engine *e = *state;
	struct selector a = S("10.1.0.0/16"), v6 = S("2001:db8:1::/48");
	io_route_add(e, &v6);
	assert_string_equal(ops_since(0), "route+ 2001:db8:1::/48 220");
	io_route_add(e, &a);
	assert_int_equal(k.rules, 1);
	io_route_del(e, &a);
	assert_string_equal(ops_since(1), "rule+ 220, route+ 10.1.0.0/16 220, "
			    "route- 10.1.0.0/16 220, rule- 220");
	io_route_del(e, &v6);
	assert_int_equal(k.rules, 0);
}

/* Routes in the main table (route_table 254) need no rule and no mark. */
static void test_main_table_no_rule(void **state)
{
	struct esp_engine *e = *state;
	e->cfg.route_table = 254;
	struct selector a = S("10.1.0.0/16");
	io_route_add(e, &a);
	assert_string_equal(ops_since(0), "route+ 10.1.0.0/16 254");
	assert_int_equal(esp_engine_fwmark(e), 0);
	io_route_del(e, &a);
	assert_string_equal(ops_since(1), "route- 10.1.0.0/16 254");
	assert_int_equal(k.rules, 0);
}

/* A transport-mode port rule (L2TP/IPsec) has its own rule and table: it needs the
 * mark, never the table's rule, and is made with or without it. */
static void test_port_rule_needs_no_table_rule(void **state)
{
	struct esp_engine *e = *state;
	struct pfkey_policy p = { .dir = IPSEC_DIR_OUTBOUND, .type = IPSEC_POLICY_IPSEC,
				  .mode = IPSEC_MODE_TRANSPORT };
	p.src = S("192.0.2.1/32[udp/1701]");
	p.dst = S("198.51.100.7/32[udp/1701]");
	assert_int_equal(io_port_rule_add(e, &p), 0);
	assert_int_equal(k.port_rules, 1);
	assert_int_equal(k.rules, 0);
	io_port_rule_del(e, &p);
	assert_int_equal(k.port_rules, 0);
	assert_int_equal(k.rules, 0);
}

/* One PF_KEY request through the engine, as ike/ makes it: its errno. */
static int spd_msg(struct esp_engine *e, uint8_t type, const struct pfkey_policy *p)
{
	struct buf req, reply;
	buf_init(&req);
	buf_init(&reply);
	pfkey_build_policy(&req, type, 1, p);
	assert_false(req.oom);
	int err = esp_engine_pfkey_call(e, req.data, req.len, &reply);
	buf_wipe_free(&req);
	buf_wipe_free(&reply);
	return err;
}

/* SPDUPDATE (ike/ moving a tunnel's policies to new addresses) replaces a policy by
 * one with the same selectors: its route and the rule stay in place throughout, so no
 * packet to the destination takes the main table, in the clear, in between. */
static void test_spdupdate_keeps_route(void **state)
{
	struct esp_engine *e = *state;
	e->cfg.no_io = false;	/* routes from policies, to the mocks; no packet is sent */
	struct pfkey_policy p = { .dir = IPSEC_DIR_OUTBOUND, .type = IPSEC_POLICY_IPSEC,
				  .has_sel = true, .mode = IPSEC_MODE_TUNNEL, .reqid = 1 };
	p.src = S("10.1.0.0/16");
	p.dst = S("10.2.0.0/16");
	assert_int_equal(addr_parse("192.0.2.1", &p.tunnel_src), 0);
	assert_int_equal(addr_parse("198.51.100.1", &p.tunnel_dst), 0);
	assert_int_equal(spd_msg(e, SADB_X_SPDADD, &p), 0);
	assert_string_equal(ops_since(0), "rule+ 220, route+ 10.2.0.0/16 220");

	assert_int_equal(addr_parse("198.51.100.2", &p.tunnel_dst), 0);
	assert_int_equal(spd_msg(e, SADB_X_SPDUPDATE, &p), 0);
	assert_string_equal(ops_since(2), "");
	assert_int_equal(k.rules, 1);
	assert_int_equal(k.routes, 1);

	assert_int_equal(spd_msg(e, SADB_X_SPDDELETE, &p), 0);
	assert_string_equal(ops_since(2), "route- 10.2.0.0/16 220, rule- 220");
}

/* The same for a transport-mode port rule (an L2TP/IPsec client whose NAT moved it). */
static void test_spdupdate_keeps_port_rule(void **state)
{
	struct esp_engine *e = *state;
	e->cfg.no_io = false;
	struct pfkey_policy p = { .dir = IPSEC_DIR_OUTBOUND, .type = IPSEC_POLICY_IPSEC,
				  .has_sel = true, .mode = IPSEC_MODE_TRANSPORT, .reqid = 1 };
	p.src = S("192.0.2.1/32[udp/1701]");
	p.dst = S("198.51.100.7/32[udp/1701]");
	assert_int_equal(spd_msg(e, SADB_X_SPDADD, &p), 0);
	assert_string_equal(ops_since(0), "route+ 0.0.0.0/0 221, port+ 17 221");
	assert_int_equal(spd_msg(e, SADB_X_SPDUPDATE, &p), 0);
	assert_string_equal(ops_since(2), "");
	assert_int_equal(spd_msg(e, SADB_X_SPDDELETE, &p), 0);
	assert_string_equal(ops_since(2), "port- 17 221");
	assert_int_equal(k.rules, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rule_follows_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_shared_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mark_without_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_ipv4_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_table_no_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_rule_needs_no_table_rule, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_spdupdate_keeps_route, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spdupdate_keeps_port_rule, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
