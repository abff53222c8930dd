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

/* Two clients with one identity behind one address (here: two connections of a, the
 * same identity and endpoint): two leases, and on the gateway two CHILD_SAs with their
 * own reqids. With one reqid, the ESP engine picks the outbound SA by reqid and outer
 * destination, which is the same NAT address for both: one client's traffic went
 * through the other's SA (seen with five strongSwan clients behind one NAT). */
static void test_two_clients_one_nat_own_reqids(void **state)
{
	(void)state;
	struct harness h;
	char two[4096];
	make_gw("10.3.0.0/29");
	const char *second = strstr(client_conf, " rw {");
	const char *end = strstr(client_conf, "secrets");
	snprintf(two, sizeof(two), "%.*s rw2 {%.*s%s", (int)(end - client_conf - 2),
		 client_conf, (int)(end - second - 5 - 2), second + 5, end - 2);
	assert_int_equal(h_init(&h, two, gw_conf), 0);
	char err[256];
	assert_int_equal(ike_initiate(h.a.core, "rw", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(ike_initiate(h.a.core, "rw2", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 2);
	const struct ike_sa *b1 = h_first_sa(&h.b), *b2 = ike_sa_next(b1);
	assert_non_null(b2);
	assert_non_null(b1->children);
	assert_non_null(b2->children);
	assert_false(addr_equal_ip(&b1->vips[0].addr, &b2->vips[0].addr));
	assert_int_not_equal(b1->children->reqid, b2->children->reqid);
	lease_counts(&h, "small", 2, 0);
	h_free(&h);
}

/* The gateway reads a CFG_REQUEST with unknown, repeated and malformed attributes
 * (and two CP payloads): it answers with the lease, logs one line and counts each bad
 * attribute (ike-cp-bad-attributes). */
static void test_cp_bad_attributes_counted(void **state)
{
	(void)state;
	struct harness h;
	struct h_log_count lc;
	make_gw("10.3.0.0/30");
	assert_int_equal(h_init(&h, client_conf, gw_conf), 0);
	initiate(&h);
	struct ike_sa *b = (struct ike_sa *)h_first_sa(&h.b);
	assert_non_null(b);
	static const uint8_t cp[] = {
		CFG_REQUEST, 0, 0, 0,
		0, INTERNAL_IP4_ADDRESS, 0, 0,
		0, INTERNAL_IP4_ADDRESS, 0, 0,			/* repeated */
		0x27, 0x0f, 0, 2, 'h', 'i',			/* unknown (9999) */
		0, INTERNAL_IP4_DNS, 0, 1, 7,			/* malformed */
		0, INTERNAL_IP4_SUBNET, 0, 0,
	};
	struct msg_in m;
	memset(&m, 0, sizeof(m));
	m.pl.has_cp = true;
	m.pl.cp = cp;
	m.pl.cp_len = sizeof(cp);
	m.pl.n_cp = 2;
	struct ikev2_builder k;
	ikb_init(&k);
	h_log_capture_start(&lc, "configuration payload");
	assert_true(ikev2_cp_respond(b, &m, &k));
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 2);
	assert_non_null(strstr(lc.first, "2 configuration payloads in one message"));
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.cp_bad_attrs, 4);	/* the second CP, and three attributes */
	/* The reply holds the SA's lease (the same one: one per family) and the subnet. */
	struct ikev2_cp rep;
	const char *err;
	assert_int_equal(k.first, PL_CP);
	assert_int_equal(ikev2_cp_parse(k.b.data + 4, k.b.len - 4, &rep, &err), 0);
	assert_int_equal(rep.type, CFG_REPLY);
	assert_string_equal(ntop(&rep.ip4), "10.3.0.1");
	assert_int_equal(rep.n_subnets, 1);
	assert_int_equal(rep.n_dns, 1);
	ikb_free(&k);
	/* A CP shorter than its header: ignored, counted, no reply. */
	m.pl.cp_len = 2;
	m.pl.n_cp = 1;
	ikb_init(&k);
	assert_true(ikev2_cp_respond(b, &m, &k));
	assert_int_equal(k.b.len, 0);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.cp_bad_attrs, 5);
	ikb_free(&k);
	h_free(&h);
}

/* IKE rekeys, started by either side, move the leases and the client's address to the
 * new IKE SA: nothing is released while the tunnel lives, and the end of the last SA
 * releases it once. */
static void test_ike_rekey_keeps_lease(void **state)
{
	(void)state;
	struct harness h;
	char err[256];
	make_gw("10.3.0.0/30");
	assert_int_equal(h_init(&h, client_conf, gw_conf), 0);
	initiate(&h);
	assert_int_equal(ike_rekey(h.b.core, "rw", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 2000);
	assert_int_equal(ike_rekey(h.a.core, "rw", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 2000);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h.b.ike_rekeys, 2);
	const struct ike_sa *b = h_first_sa(&h.b), *a = h_first_sa(&h.a);
	assert_int_equal(b->n_vips, 1);
	assert_string_equal(ntop(&b->vips[0].addr), "10.3.0.1");
	assert_int_equal(a->n_vips, 1);
	lease_counts(&h, "small", 1, 0);
	assert_int_equal(h.a.vips_down, 0);
	/* A new CHILD_SA on the rekeyed SA still uses the address. */
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 2000);
	assert_int_equal(h_count_children(&h.b), 1);
	char sbuf[SELECTOR_STRLEN];
	assert_string_equal(selector_fmt(&h_first_sa(&h.b)->children->remote_ts[0], sbuf,
					 sizeof(sbuf)), "10.3.0.1/32");
	assert_int_equal(ike_terminate(h.a.core, "rw", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 2000);
	lease_counts(&h, "small", 0, 1);
	assert_int_equal(h.a.vips_down, 1);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vip_assigned_and_kept),
		cmocka_unit_test(test_pool_exhausted),
		cmocka_unit_test(test_dual_family_and_hint),
		cmocka_unit_test(test_two_clients_one_nat_own_reqids),
		cmocka_unit_test(test_cp_bad_attributes_counted),
		cmocka_unit_test(test_ike_rekey_keeps_lease),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
