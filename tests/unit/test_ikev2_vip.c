/* Virtual IPs over IKEv2 between two in-process cores: a (192.0.2.1) is the client with
 * vips = 0.0.0.0, b (198.51.100.2) the gateway with pools. The address, DNS and the
 * dynamic selector; the lease kept for the identity after the SA goes; a reload that
 * keeps it; an exhausted pool refused with FAILED_CP_REQUIRED; two families asked
 * for with one pool family. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/parser.h"
#include "ike/ike_private.h"
#include "ike/ikev2_cp.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

static const char client_conf[] =
	"connections {\n"
	" rw {\n"
	"  local_addrs = 192.0.2.1\n"
	"  remote_addrs = 198.51.100.2\n"
	"  vips = 0.0.0.0\n"
	"  local { auth = psk\n id = alice@example.org\n }\n"
	"  remote { auth = psk\n id = gw.example.org\n }\n"
	"  children { net {\n remote_ts = 10.1.0.0/16\n } }\n"
	" }\n"
	"}\n"
	"secrets { ike { secret = s3cret-key-for-rw\n } }\n";

static char gw_conf[2048];

static void make_gw(const char *addrs)
{
	snprintf(gw_conf, sizeof(gw_conf),
		 "connections {\n"
		 " rw {\n"
		 "  local_addrs = 198.51.100.2\n"
		 "  pools = small, big\n"
		 "  local { auth = psk\n id = gw.example.org\n }\n"
		 "  remote { auth = psk\n }\n"
		 "  children { net {\n local_ts = 10.1.0.0/16\n remote_ts = dynamic\n } }\n"
		 " }\n"
		 "}\n"
		 "pools {\n"
		 " small {\n  addrs = %s\n  dns = 10.1.0.53\n  subnet = 10.1.0.0/16\n }\n"
		 " big { addrs = 10.4.0.0/24\n }\n"
		 "}\n"
		 "secrets { ike { secret = s3cret-key-for-rw\n } }\n", addrs);
}

static void initiate(struct harness *h)
{
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, "rw", "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
}

static const char *ntop(const struct addr *a)
{
	static char buf[4][64];
	static int i;
	i = (i + 1) % 4;
	return addr_ntop(a, buf[i], sizeof(buf[i]));
}

static const char *sel(const struct selector *s)
{
	static char buf[4][SELECTOR_STRLEN];
	static int i;
	i = (i + 1) % 4;
	return selector_fmt(s, buf[i], sizeof(buf[i]));
}

static void lease_counts(struct harness *h, const char *pool, uint32_t online, uint32_t offline)
{
	struct pool_counts c;
	pool_get_counts(pools_find(ike_pools(h->b.core), pool), &c);
	assert_int_equal(c.online, online);
	assert_int_equal(c.offline, offline);
}

static void test_vip_assigned_and_kept(void **state)
{
	(void)state;
	struct harness h;
	make_gw("10.3.0.0/30");
	assert_int_equal(h_init(&h, client_conf, gw_conf), 0);
	initiate(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	/* The client got the first address of the first pool, and installed it. */
	const struct ike_sa *a = h_first_sa(&h.a), *b = h_first_sa(&h.b);
	assert_int_equal(a->n_vips, 1);
	assert_string_equal(ntop(&a->vips[0].addr), "10.3.0.1");
	assert_int_equal(h.a.vips_up, 1);
	assert_string_equal(ntop(&h.a.vip), "10.3.0.1");
	/* Both sides' selectors use it: dynamic became the virtual IP. */
	assert_string_equal(sel(&a->children->local_ts[0]), "10.3.0.1/32");
	assert_string_equal(sel(&a->children->remote_ts[0]), "10.1.0.0/16");
	assert_string_equal(sel(&b->children->remote_ts[0]), "10.3.0.1/32");
	assert_string_equal(b->vips[0].pool, "small");
	lease_counts(&h, "small", 1, 0);

	/* The SA goes: the lease stays offline for alice, the client's address goes. */
	char err[256];
	assert_int_equal(ike_terminate(h.a.core, "rw", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 1000);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h.a.vips_down, 1);
	lease_counts(&h, "small", 0, 1);

	/* A reload keeps the lease; alice comes back and gets 10.3.0.1 again. */
	struct ctree *t = conf_parse_string(gw_conf, "b.conf", err, sizeof(err));
	struct config *cfg = config_build(t, err, sizeof(err));
	ctree_free(t);
	assert_non_null(cfg);
	ike_load_config(h.b.core, cfg, h.now);
	lease_counts(&h, "small", 0, 1);
	initiate(&h);
	a = h_first_sa(&h.a);
	assert_non_null(a);
	assert_int_equal(a->n_vips, 1);
	assert_string_equal(ntop(&a->vips[0].addr), "10.3.0.1");
	lease_counts(&h, "small", 1, 0);
	h_free(&h);
}

static void test_pool_exhausted(void **state)
{
	(void)state;
	struct harness h;
	struct h_log_count lc;
	make_gw("10.3.0.1-10.3.0.1");
	assert_int_equal(h_init(&h, client_conf, gw_conf), 0);
	/* Both pools full (others online): alice cannot have an address. */
	struct addr out;
	assert_int_equal(pool_acquire(pools_find(ike_pools(h.b.core), "small"), "bob", NULL,
				      NULL, &out), POOL_OK);
	for (int i = 0; i < 254; i++) {
		char id[16];
		snprintf(id, sizeof(id), "u%d", i);
		assert_int_equal(pool_acquire(pools_find(ike_pools(h.b.core), "big"), id, NULL,
					      NULL, &out), POOL_OK);
	}
	h_log_capture_start(&lc, "FAILED_CP_REQUIRED");
	initiate(&h);
	h_advance(&h, 2000);
	h_log_capture_stop(&lc);
	assert_true(lc.matches >= 2);	/* the gateway's and the client's lines */
	assert_non_null(strstr(lc.first, "no virtual IP for 'alice@example.org'"));
	/* No CHILD_SA anywhere, the IKE SAs gone on both sides, nothing installed. */
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(h_count_children(&h.b), 0);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h.a.vips_up, 0);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.vip_failures, 1);
	lease_counts(&h, "small", 1, 0);	/* bob's lease untouched */
	h_free(&h);
}

/* vips = 10.9.9.9, :: : the hint is outside every pool (a new address is given), and
 * IPv6 has no pool (that family gets nothing, the request still succeeds). */
static void test_dual_family_and_hint(void **state)
{
	(void)state;
	struct harness h;
	make_gw("10.3.0.0/30");
	assert_int_equal(h_init(&h, client_conf, gw_conf), 0);
	struct conn_cfg *cc = (struct conn_cfg *)ike_conn_first(h.a.core);
	addr_parse("10.9.9.9", &cc->vips[0]);
	addr_parse("::", &cc->vips[1]);
	cc->n_vips = 2;
	initiate(&h);
	const struct ike_sa *a = h_first_sa(&h.a);
	assert_non_null(a);
	assert_int_equal(a->n_vips, 1);
	assert_string_equal(ntop(&a->vips[0].addr), "10.3.0.1");
	assert_int_equal(h_count_children(&h.a), 1);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.vip_failures, 0);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vip_assigned_and_kept),
		cmocka_unit_test(test_pool_exhausted),
		cmocka_unit_test(test_dual_family_and_hint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
