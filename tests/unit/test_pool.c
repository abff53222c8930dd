/* ike/pool.c, ike/pools.c and conf/config_pool.c: allocation order, leases kept by
 * identity (a reconnect gets its address back, two clients of one identity get two),
 * exhaustion, release, the network and broadcast addresses never handed out, overlap
 * with protected networks refused with file:line, and reload keeping leases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/parser.h"
#include "ike/pool.h"

static char err[512];

static struct addr A(const char *s)
{
	struct addr a;
	if (addr_parse(s, &a) < 0)
		fail_msg("bad address %s", s);
	return a;
}

static struct addr peer_at(const char *ip, uint16_t port)
{
	struct addr a = A(ip);
	a.port = port;
	return a;
}

static const char *ntop(const struct addr *a)
{
	static char buf[4][64];
	static int i;
	i = (i + 1) % 4;
	return addr_ntop(a, buf[i], sizeof(buf[i]));
}

/* A pool from the configuration syntax, as the daemon makes one. */
static struct pool *pool_of(const char *addrs)
{
	struct addr first, last;
	if (config_pool_range(addrs, &first, &last) < 0)
		fail_msg("bad pool %s", addrs);
	struct pool *p = pool_new("p", &first, &last);
	assert_non_null(p);
	return p;
}

static const char *get(struct pool *p, const char *id, const struct addr *peer)
{
	struct addr out;
	int rc = pool_acquire(p, id, peer, NULL, &out);
	if (rc != POOL_OK)
		return pool_status_str(rc);
	return ntop(&out);
}

static void test_cidr_skips_network_and_broadcast(void **state)
{
	(void)state;
	struct addr f, l;
	assert_int_equal(config_pool_range("10.3.0.0/29", &f, &l), 0);
	assert_string_equal(ntop(&f), "10.3.0.1");
	assert_string_equal(ntop(&l), "10.3.0.6");
	/* Host bits set: from that address on, still without the broadcast address. */
	assert_int_equal(config_pool_range("10.3.0.4/29", &f, &l), 0);
	assert_string_equal(ntop(&f), "10.3.0.4");
	assert_string_equal(ntop(&l), "10.3.0.6");
	assert_int_equal(config_pool_range("10.3.0.8/31", &f, &l), 0);
	assert_string_equal(ntop(&f), "10.3.0.8");
	assert_string_equal(ntop(&l), "10.3.0.9");
	assert_int_equal(config_pool_range("fd00::/126", &f, &l), 0);
	assert_string_equal(ntop(&f), "fd00::1");
	assert_string_equal(ntop(&l), "fd00::2");
	/* A range is served as written. */
	assert_int_equal(config_pool_range("10.3.0.250-10.3.1.2", &f, &l), 0);
	assert_string_equal(ntop(&f), "10.3.0.250");
	assert_string_equal(ntop(&l), "10.3.1.2");
	assert_int_equal(config_pool_range("10.3.0.9-10.3.0.1", &f, &l), -1);
	assert_int_equal(config_pool_range("10.3.0.1-fd00::1", &f, &l), -1);
	assert_int_equal(config_pool_range("10.3.0.0/33", &f, &l), -1);
	assert_int_equal(config_pool_range("10.3.0.0", &f, &l), -1);
	assert_int_equal(config_pool_range("10.3.0.0/24[tcp]", &f, &l), -1);

	/* Every address of a /29 handed out: never .0 nor .7. */
	struct pool *p = pool_of("10.3.0.0/29");
	const char *want[] = { "10.3.0.1", "10.3.0.2", "10.3.0.3", "10.3.0.4", "10.3.0.5",
			       "10.3.0.6" };
	for (int i = 0; i < 6; i++) {
		char id[16];
		snprintf(id, sizeof(id), "c%d", i);
		assert_string_equal(get(p, id, NULL), want[i]);
	}
	assert_string_equal(get(p, "c6", NULL), "pool exhausted");
	pool_free(p);
}

static void test_order_and_reconnect(void **state)
{
	(void)state;
	struct pool *p = pool_of("10.3.0.0/24");
	struct addr pa = peer_at("192.0.2.1", 500), pb = peer_at("192.0.2.2", 500);
	assert_string_equal(get(p, "alice", &pa), "10.3.0.1");
	assert_string_equal(get(p, "bob", &pb), "10.3.0.2");
	struct addr a = A("10.3.0.1");
	assert_true(pool_release(p, &a, "alice"));
	assert_false(pool_release(p, &a, "alice"));	/* already offline */
	/* carol gets a new one, not alice's offline lease. */
	assert_string_equal(get(p, "carol", NULL), "10.3.0.3");
	/* alice reconnects (from another address): her address back. */
	assert_string_equal(get(p, "alice", &pb), "10.3.0.1");
	struct pool_counts c;
	pool_get_counts(p, &c);
	assert_int_equal(c.size, 254);
	assert_int_equal(c.online, 3);
	assert_int_equal(c.offline, 0);
	pool_free(p);
}

/* Two clients behind one NAT with one identity: two addresses; each release keeps the
 * lease for that identity, so both come back to the two addresses. */
static void test_same_identity_twice(void **state)
{
	(void)state;
	struct pool *p = pool_of("10.3.0.0/24");
	struct addr n1 = peer_at("198.51.100.1", 4500), n2 = peer_at("198.51.100.1", 1024);
	assert_string_equal(get(p, "road", &n1), "10.3.0.1");
	assert_string_equal(get(p, "road", &n2), "10.3.0.2");
	/* Asking for 10.3.0.1 from the other port does not share it. */
	struct addr req = A("10.3.0.1"), out;
	struct addr n3 = peer_at("198.51.100.1", 1025);
	assert_int_equal(pool_acquire(p, "road", &n3, &req, &out), POOL_OK);
	assert_string_equal(ntop(&out), "10.3.0.3");
	/* The same peer asking for its own address again (re-authentication) gets it. */
	assert_int_equal(pool_acquire(p, "road", &n1, &req, &out), POOL_OK);
	assert_string_equal(ntop(&out), "10.3.0.1");
	/* held twice: the first release leaves it online */
	assert_true(pool_release(p, &req, "road"));
	struct pool_counts c;
	pool_get_counts(p, &c);
	assert_int_equal(c.online, 3);
	assert_true(pool_release(p, &req, "road"));
	struct addr a2 = A("10.3.0.2");
	assert_true(pool_release(p, &a2, "road"));
	pool_get_counts(p, &c);
	assert_int_equal(c.online, 1);
	assert_int_equal(c.offline, 2);
	/* Back again: the offline leases, the requested one first. */
	assert_int_equal(pool_acquire(p, "road", &n1, &a2, &out), POOL_OK);
	assert_string_equal(ntop(&out), "10.3.0.2");
	assert_string_equal(get(p, "road", &n2), "10.3.0.1");
	assert_string_equal(get(p, "road", &n2), "10.3.0.4");
	pool_free(p);
}

static void test_exhaustion_and_reuse(void **state)
{
	(void)state;
	struct pool *p = pool_of("10.3.0.1-10.3.0.3");
	assert_string_equal(get(p, "a", NULL), "10.3.0.1");
	assert_string_equal(get(p, "b", NULL), "10.3.0.2");
	assert_string_equal(get(p, "c", NULL), "10.3.0.3");
	assert_string_equal(get(p, "d", NULL), "pool exhausted");
	/* Offline leases go to others when nothing else is left, the oldest first. */
	struct addr b = A("10.3.0.2"), a = A("10.3.0.1");
	assert_true(pool_release(p, &b, "b"));
	assert_true(pool_release(p, &a, "a"));
	assert_false(pool_release(p, &b, "a"));		/* not a's */
	assert_string_equal(get(p, "d", NULL), "10.3.0.2");
	assert_string_equal(get(p, "e", NULL), "10.3.0.1");
	assert_string_equal(get(p, "f", NULL), "pool exhausted");
	/* a lost its lease to e: a gets nothing now. */
	assert_string_equal(get(p, "a", NULL), "pool exhausted");
	/* The other family is a different answer. */
	struct addr v6 = A("::"), out;
	assert_int_equal(pool_acquire(p, "a", NULL, &v6, &out), POOL_OTHER_FAMILY);
	pool_free(p);
}

static void test_ipv6_and_large(void **state)
{
	(void)state;
	struct pool *p = pool_of("fd00:1::/64");
	struct addr any6 = A("::"), out;
	assert_int_equal(pool_acquire(p, "x", NULL, &any6, &out), POOL_OK);
	assert_string_equal(ntop(&out), "fd00:1::1");
	struct pool_counts c;
	pool_get_counts(p, &c);
	assert_int_equal(c.size, POOL_MAX_SIZE);
	assert_true(pool_contains(p, &out));
	struct addr far = A("fd00:1::1:0:0");
	assert_false(pool_contains(p, &far));
	pool_free(p);
	/* A range across a 32-bit edge of an IPv6 address. */
	p = pool_of("fd00::ffff:fffe-fd00::1:0:1");
	pool_get_counts(p, &c);
	assert_int_equal(c.size, 4);
	assert_string_equal(get(p, "a", NULL), "fd00::ffff:fffe");
	assert_string_equal(get(p, "b", NULL), "fd00::ffff:ffff");
	assert_string_equal(get(p, "c", NULL), "fd00::1:0:0");
	struct addr x = A("fd00::1:0:0");
	assert_true(pool_release(p, &x, "c"));
	pool_free(p);
}

/* Many clients: the tables grow, every address once, leases listed in order. */
struct listing {
	unsigned n, online;
	struct addr last;
	bool ordered;
};

static void list_cb(void *arg, const struct addr *a, const char *id, bool online)
{
	struct listing *l = arg;
	(void)id;
	if (l->n && memcmp(a->u.b, l->last.u.b, 4) <= 0)
		l->ordered = false;
	l->last = *a;
	l->n++;
	l->online += online;
}

static void test_many(void **state)
{
	(void)state;
	struct pool *p = pool_of("10.8.0.0/16");
	for (unsigned i = 0; i < 3000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "user%u@example.org", i);
		struct addr out;
		assert_int_equal(pool_acquire(p, id, NULL, NULL, &out), POOL_OK);
		if (i % 2) {
			assert_true(pool_release(p, &out, id));
		}
	}
	struct listing l = { .ordered = true };
	pool_foreach_lease(p, list_cb, &l);
	assert_int_equal(l.n, 3000);
	assert_int_equal(l.online, 1500);
	assert_true(l.ordered);
	/* user1 (offline) comes back to 10.8.0.2 */
	assert_string_equal(get(p, "user1@example.org", NULL), "10.8.0.2");
	pool_free(p);
}

/* --- configuration --- */

static struct config *build(const char *text)
{
	err[0] = '\0';
	struct ctree *t = conf_parse_string(text, "ra.conf", err, sizeof(err));
	if (!t)
		fail_msg("parse: %s", err);
	struct config *c = config_build(t, err, sizeof(err));
	ctree_free(t);
	return c;
}

static void expect_error(const char *text, const char *message)
{
	struct config *c = build(text);
	if (c) {
		config_free(c);
		fail_msg("built, expected \"%s\"", message);
	}
	assert_string_equal(err, message);
}

#define RW_CONN(pools, local_ts) \
	"connections {\n" \
	" rw {\n" \
	"  local { auth = psk\n }\n" \
	"  pools = " pools "\n" \
	"  children { net { local_ts = " local_ts "\n } }\n" \
	" }\n" \
	"}\n"

static void test_config(void **state)
{
	(void)state;
	struct config *c = build(RW_CONN("a, b", "10.1.0.0/16, 0.0.0.0/0")
				 "pools {\n"
				 " a {\n"
				 "  addrs = 10.3.0.0/24\n"
				 "  dns = 10.1.0.53, 10.1.0.54\n"
				 "  split_include = 10.1.0.0/16\n"
				 "  subnet = 10.2.0.0/16\n"
				 "  netmask = 255.255.255.0\n"
				 "  28674 = example.org\n"
				 " }\n"
				 " b { addrs = 10.4.0.10-10.4.0.20\n }\n"
				 "}\n");
	if (!c)
		fail_msg("%s", err);
	assert_int_equal(c->conns->n_pools, 2);
	assert_string_equal(c->conns->pools[1], "b");
	struct pool_cfg *a = c->pools, *b = a->next;
	assert_string_equal(a->name, "a");
	assert_string_equal(a->addrs, "10.3.0.0/24");
	assert_string_equal(ntop(&a->first), "10.3.0.1");
	assert_string_equal(ntop(&a->last), "10.3.0.254");
	assert_int_equal(a->n_dns, 2);
	assert_string_equal(ntop(&a->dns[1]), "10.1.0.54");
	assert_int_equal(a->n_subnets, 2);
	assert_int_equal(a->n_netmask, 1);
	/* A numbered attribute (Cisco Unity's default domain), kept as written. */
	assert_int_equal(a->n_custom, 1);
	assert_int_equal(a->custom[0].type, 28674);
	assert_string_equal(a->custom[0].value, "example.org");
	assert_string_equal(a->file, "ra.conf");
	assert_int_equal(a->line, 11);
	assert_string_equal(ntop(&b->first), "10.4.0.10");
	/* The copy of a connection keeps its pools. */
	struct conn_cfg *dup = conn_cfg_dup(c->conns);
	assert_string_equal(dup->pools[0], "a");
	conn_cfg_free(dup);
	config_free(c);

	c = build("connections {\n rw {\n  local { auth = psk\n }\n  vips = 0.0.0.0, ::\n }\n}\n");
	if (!c)
		fail_msg("%s", err);
	assert_int_equal(c->conns->n_vips, 2);
	assert_int_equal(c->conns->vips[1].family, AF_INET6);
	assert_true(addr_is_any(&c->conns->vips[0]));
	config_free(c);
}

static void test_config_errors(void **state)
{
	(void)state;
	expect_error(RW_CONN("a", "10.1.0.0/16") "pools {\n a { addrs = 10.1.200.0/24\n }\n}\n",
		     "ra.conf:11: pool 'a': addresses 10.1.200.0/24 overlap the protected local "
		     "network 10.1.0.0/16 of 'rw/net' (ra.conf:2)");
	/* The network and broadcast addresses are not served, so they do not overlap. */
	struct config *c = build(RW_CONN("a", "10.1.0.0/32, 10.1.1.255") "pools {\n a { addrs = "
				 "10.1.0.0/23\n }\n}\n");
	if (!c)
		fail_msg("%s", err);
	config_free(c);
	expect_error(RW_CONN("a", "10.1.0.0/16") "pools {\n a { addrs = 10.3.0.0/24\n }\n"
		     " b { addrs = 10.3.0.200-10.3.1.5\n }\n}\n",
		     "ra.conf:11: pool 'a': addresses 10.3.0.0/24 overlap pool 'b' (ra.conf:13)");
	expect_error(RW_CONN("a, c", "10.1.0.0/16") "pools {\n a { addrs = 10.3.0.0/24\n }\n}\n",
		     "ra.conf:2: connection 'rw': pool 'c' is not defined in 'pools'");
	expect_error("pools {\n a { dns = 10.1.0.53\n }\n}\n", "ra.conf:2: pool 'a': 'addrs' "
		     "missing");
	expect_error("pools {\n a {\n  addrs = 10.3.0.0/24\n  dhcp = 10.1.0.1\n }\n}\n",
		     "ra.conf:4: pool 'a': 'dhcp' is not supported by tsunagi");
	expect_error("pools {\n a {\n  addrs = 10.3.0.0/24\n  0 = x\n }\n}\n",
		     "ra.conf:4: pool 'a': attribute type 0 outside 1..32767");
	expect_error("pools {\n a {\n  addrs = 10.3.0.0/24\n  40000 = x\n }\n}\n",
		     "ra.conf:4: pool 'a': attribute type 40000 outside 1..32767");
	expect_error("pools {\n a {\n  addrs = 10.3.0.0/24\n  color = red\n }\n}\n",
		     "ra.conf:4: pool 'a': unknown key 'color'");
	expect_error("pools {\n a {\n  addrs = 10.3.0.0/40\n }\n}\n",
		     "ra.conf:3: pool 'a': invalid pool '10.3.0.0/40' for 'addrs' (a CIDR such "
		     "as 10.3.0.0/24 or a range such as 10.3.0.10-10.3.0.99)");
	expect_error("pools {\n a {\n  addrs = 10.3.0.0/24\n  dns = x\n }\n}\n",
		     "ra.conf:4: pool 'a': invalid value 'x' for 'dns'");
	expect_error("connections {\n rw {\n  local { auth = psk\n }\n  vips = 0.0.0.0, 1.2.3.4\n"
		     " }\n}\n", "ra.conf:5: connection 'rw': 'vips' asks for two addresses of "
		     "one family");
}

/* --- the named pools: reload keeps leases, load-pool/unload-pool rules --- */

static struct pool_cfg *cfgs(const char *text)
{
	struct config *c = build(text);
	if (!c)
		fail_msg("%s", err);
	struct pool_cfg *p = c->pools;
	c->pools = NULL;
	config_free(c);
	return p;
}

static void test_reload_keeps_leases(void **state)
{
	(void)state;
	struct pools *ps = pools_new();
	pools_load(ps, cfgs("pools {\n a { addrs = 10.3.0.0/29\n }\n b { addrs = 10.4.0.0/29\n }\n}\n"));
	char *names[] = { "a", "b" };
	struct addr out;
	struct pool *from;
	/* Listed order: a until it is full, then b. */
	for (int i = 0; i < 6; i++) {
		char id[8];
		snprintf(id, sizeof(id), "u%d", i);
		assert_int_equal(pools_acquire(ps, names, 2, id, NULL, NULL, &out, &from), POOL_OK);
		assert_string_equal(pool_name(from), "a");
	}
	assert_int_equal(pools_acquire(ps, names, 2, "u6", NULL, NULL, &out, &from), POOL_OK);
	assert_string_equal(pool_name(from), "b");
	assert_string_equal(ntop(&out), "10.4.0.1");
	struct addr u1 = A("10.3.0.2");
	assert_true(pools_release(ps, "a", &u1, "u1"));

	/* Reload: a grows, b goes away, c is new; a's leases stay. */
	pools_load(ps, cfgs("pools {\n a {\n  addrs = 10.3.0.0/28\n  dns = 10.1.0.53\n }\n"
			    " c { addrs = 10.5.0.0/29\n }\n}\n"));
	assert_null(pools_find(ps, "b"));
	struct pool *a = pools_find(ps, "a");
	assert_int_equal(pools_cfg(ps, a)->n_dns, 1);
	struct pool_counts c;
	pool_get_counts(a, &c);
	assert_int_equal(c.size, 14);
	assert_int_equal(c.online, 5);
	assert_int_equal(c.offline, 1);
	/* u1 gets its address back, a newcomer the next free one. */
	assert_int_equal(pools_acquire(ps, names, 1, "u1", NULL, NULL, &out, &from), POOL_OK);
	assert_string_equal(ntop(&out), "10.3.0.2");
	assert_int_equal(pools_acquire(ps, names, 1, "new", NULL, NULL, &out, &from), POOL_OK);
	assert_string_equal(ntop(&out), "10.3.0.7");
	/* Unknown names only: a clear status. */
	char *unknown[] = { "zz" };
	assert_int_equal(pools_acquire(ps, unknown, 1, "x", NULL, NULL, &out, &from),
			 POOL_UNKNOWN);
	/* b went with its online lease: releasing it later is a no-op. */
	struct addr b1 = A("10.4.0.1");
	assert_false(pools_release(ps, "b", &b1, "u6"));

	/* load-pool: a changed range with online leases is refused; the same range is not. */
	assert_int_equal(pools_add(ps, cfgs("pools {\n a { addrs = 10.3.0.0/24\n }\n}\n"), err,
				   sizeof(err)), -1);
	assert_string_equal(err, "pool 'a' has 7 online lease(s), unable to change its addresses");
	assert_int_equal(pools_add(ps, cfgs("pools {\n a { addrs = 10.3.0.0/28\n }\n}\n"), err,
				   sizeof(err)), 0);
	pool_get_counts(pools_find(ps, "a"), &c);
	assert_int_equal(c.online, 7);
	assert_string_equal(pool_name(pools_first(ps)), "a");	/* order kept */
	assert_string_equal(pool_name(pools_next(ps, pools_first(ps))), "c");
	/* unload-pool: refused while online, fine when all are offline */
	assert_int_equal(pools_remove(ps, "a", err, sizeof(err)), -1);
	assert_string_equal(err, "pool 'a' has 7 online lease(s), unable to unload");
	assert_int_equal(pools_remove(ps, "c", err, sizeof(err)), 0);
	assert_int_equal(pools_remove(ps, "c", err, sizeof(err)), -1);
	assert_string_equal(err, "pool 'c' not found");
	/* Exhaustion across the listed pools. */
	char *both[] = { "a" };
	int got = 0;
	while (pools_acquire(ps, both, 1, "flood", NULL, NULL, &out, &from) == POOL_OK)
		got++;
	assert_int_equal(got, 14 - 7);
	assert_int_equal(pools_acquire(ps, both, 1, "flood", NULL, NULL, &out, &from),
			 POOL_EXHAUSTED);
	pools_free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_skips_network_and_broadcast),
		cmocka_unit_test(test_order_and_reconnect),
		cmocka_unit_test(test_same_identity_twice),
		cmocka_unit_test(test_exhaustion_and_reuse),
		cmocka_unit_test(test_ipv6_and_large),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_reload_keeps_leases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
