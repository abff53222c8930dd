/* IKEv1 XAuth between two tsunagi IKE cores (tests/unit/ike_harness.c): a is the client
 * (local-2 { auth = xauth }), b the server (remote-2 { auth = xauth }), PSK in Phase 1
 * (XAUTHInitPreShared). A right password brings the SA and the Quick Mode up; a wrong
 * one ends with STATUS=FAIL, the ISAKMP SA deleted on both sides, logged and counted; a
 * site-to-site connection from the same address is never asked for XAuth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "ike/v1/ikev1.h"
#include "ike/v1/isakmp_attr.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

static char conf_a[4096], conf_b[4096];

#define CHILD(l, r) \
	"    children {\n      net {\n        local_ts = " l "\n        remote_ts = " r "\n" \
	"        esp_proposals = aes128-sha1\n      }\n    }\n"

/* a: the XAuth client "rw" and a site-to-site "site" to the same gateway. */
static void make_confs(const char *client_pw, const char *server_extra, bool aggressive)
{
	const char *aggr = aggressive ? "    aggressive = yes\n" : "";
	snprintf(conf_a, sizeof(conf_a),
		 "connections {\n"
		 "  rw {\n    version = 1\n%s"
		 "    local_addrs = 192.0.2.1\n    remote_addrs = 198.51.100.2\n"
		 "    proposals = aes128-sha256-modp2048\n"
		 "    local { auth = psk\n id = 192.0.2.1\n }\n"
		 "    local-2 { auth = xauth\n xauth_id = alice\n }\n"
		 "    remote { auth = psk\n id = 198.51.100.2\n }\n"
		 CHILD("10.1.0.0/24", "10.2.0.0/24")
		 "  }\n"
		 "  site {\n    version = 1\n"
		 "    local_addrs = 192.0.2.1\n    remote_addrs = 198.51.100.2\n"
		 "    proposals = aes128-sha256-modp2048\n"
		 "    local { auth = psk\n id = 192.0.2.1\n }\n"
		 "    remote { auth = psk\n id = 198.51.100.2\n }\n"
		 CHILD("10.1.0.0/24", "10.2.0.0/24")
		 "  }\n}\n"
		 "secrets {\n  ike-1 {\n    id-a = 192.0.2.1\n    id-b = 198.51.100.2\n"
		 "    secret = s3cret-key\n  }\n"
		 "  xauth-alice {\n    id = alice\n    secret = %s\n  }\n}\n",
		 aggr, client_pw);
	/* b: the XAuth server "rw" first, for any address, then "site" for a's. */
	snprintf(conf_b, sizeof(conf_b),
		 "connections {\n"
		 "  rw {\n    version = 1\n%s"
		 "    local_addrs = 198.51.100.2\n"
		 "    proposals = aes128-sha256-modp2048\n"
		 "    local { auth = psk\n id = 198.51.100.2\n }\n"
		 "    remote { auth = psk\n }\n"
		 "    remote-2 { auth = xauth\n%s }\n"
		 CHILD("10.2.0.0/24", "10.1.0.0/24")
		 "  }\n"
		 "  site {\n    version = 1\n"
		 "    local_addrs = 198.51.100.2\n    remote_addrs = 192.0.2.1\n"
		 "    proposals = aes128-sha256-modp2048\n"
		 "    local { auth = psk\n id = 198.51.100.2\n }\n"
		 "    remote { auth = psk\n id = 192.0.2.1\n }\n"
		 CHILD("10.2.0.0/24", "10.1.0.0/24")
		 "  }\n}\n"
		 "secrets {\n  ike-1 {\n    id-a = 192.0.2.1\n    id-b = 198.51.100.2\n"
		 "    secret = s3cret-key\n  }\n"
		 "  xauth-alice {\n    id = alice\n    secret = alice-pw\n  }\n"
		 "  xauth-bob {\n    id = bob\n    secret = bob-pw\n  }\n}\n",
		 aggr, server_extra);
}

static void initiate(struct harness *h, const char *conn)
{
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, conn, "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
}

static void assert_child_up(struct harness *h)
{
	assert_int_equal(h_count_sas(&h->a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h->b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_first_sa(&h->a)->v1->state, QM_IDLE);
	assert_int_equal(h_first_sa(&h->b)->v1->state, QM_IDLE);
	assert_int_equal(h_count_children(&h->a), 1);
	assert_int_equal(h_count_children(&h->b), 1);
	assert_int_equal(h_first_sa(&h->a)->children->spi_out,
			 h_first_sa(&h->b)->children->spi_in);
}

static void test_xauth_ok(void **state)
{
	for (int aggr = 0; aggr < 2; aggr++) {
		struct harness h;
		struct ike_stats st;
		make_confs("alice-pw", "", aggr);
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		initiate(&h, "rw");
		assert_child_up(&h);
		assert_string_equal(h_first_sa(&h.b)->conn->cfg->name, "rw");
		assert_string_equal(h_first_sa(&h.b)->v1->xauth_user, "alice");
		/* Main Mode: MM1 MM3 MM5 REPLY ACK QM1 QM3 from a; MM2 MM4 MM6 REQUEST SET
		 * QM2 from b. Aggressive: AM1 AM3 REPLY ACK QM1 QM3; AM2 REQUEST SET QM2. */
		assert_int_equal(h.a.sent, aggr ? 6 : 7);
		assert_int_equal(h.b.sent, aggr ? 4 : 6);
		ike_get_stats(h.b.core, &st);
		assert_int_equal(st.xauth_failures, 0);
		assert_int_equal(st.auth_failures, 0);
		assert_int_equal(st.rx_invalid, 0);
		/* Nothing outstanding later. */
		h_advance(&h, 60000);
		assert_int_equal(h.a.sent, aggr ? 6 : 7);
		assert_child_up(&h);
		h_free(&h);
	}
}

/* xauth_id on the server pins the user: alice is refused when bob is expected. */
static void expect_refused(const char *client_pw, const char *server_extra, const char *why)
{
	struct harness h;
	struct ike_stats st;
	struct h_log_count lc;
	make_confs(client_pw, server_extra, false);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, why);
	initiate(&h, "rw");
	h_log_capture_stop(&lc);
	if (lc.matches != 1)
		fail_msg("want one \"%s\", first line: %s", why, lc.first);
	assert_non_null(strstr(lc.first, "XAuth authentication failed for 192.0.2.1"));
	assert_non_null(strstr(lc.first, "sending STATUS=FAIL and deleting the ISAKMP SA"));
	/* The server deleted its SA after the client's ACK; the client left on STATUS=FAIL. */
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED) + h_count_sas(&h.b, IKE_CONNECTING), 0);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED) + h_count_sas(&h.a, IKE_CONNECTING), 0);
	assert_int_equal(h_count_children(&h.a) + h_count_children(&h.b), 0);
	assert_int_equal(h.a.n_sas + h.b.n_sas, 0);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.xauth_failures, 1);
	assert_int_equal(st.auth_failures, 1);
	ike_get_stats(h.a.core, &st);
	assert_int_equal(st.xauth_failures, 1);
	/* The password never reaches the log. */
	h_log_capture_start(&lc, "alice-pw");
	h_log_capture_stop(&lc);
	h_free(&h);
}

static void test_xauth_wrong_password(void **state)
{
	expect_refused("wrong-pw", "", "wrong password for user 'alice'");
}

static void test_xauth_unknown_user_or_xauth_id(void **state)
{
	expect_refused("alice-pw", " xauth_id = bob\n",
		       "user 'alice' is not the connection's xauth_id 'bob'");
}

/* The passwords are not in the log lines of a whole run at the default level. */
static void test_xauth_password_not_logged(void **state)
{
	struct harness h;
	struct h_log_count lc;
	make_confs("alice-pw", "", false);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "alice-pw");
	initiate(&h, "rw");
	h_log_capture_stop(&lc);
	assert_child_up(&h);
	assert_true(lc.lines > 0);
	assert_int_equal(lc.matches, 0);
	h_free(&h);
}

/* A site-to-site peer on the same address proposes plain PSK: b takes "site" although
 * "rw" (with the XAuth round, any address) comes first, and asks for nothing. */
static void test_site_to_site_not_asked(void **state)
{
	struct harness h;
	struct ike_stats st;
	make_confs("alice-pw", "", false);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h, "site");
	assert_child_up(&h);
	assert_string_equal(h_first_sa(&h.b)->conn->cfg->name, "site");
	/* No Transaction message: MM1 MM3 MM5 QM1 QM3; MM2 MM4 MM6 QM2. */
	assert_int_equal(h.a.sent, 5);
	assert_int_equal(h.b.sent, 4);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.xauth_failures, 0);
	/* And the XAuth client's SA to the same gateway alongside it. */
	initiate(&h, "rw");
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 2);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 2);
	assert_int_equal(h_count_children(&h.b), 2);
	h_free(&h);
}

/* The XAuth secret is no PSK: with only an xauth secret for a's address, Main Mode
 * finds no key. */
static void test_xauth_secret_not_a_psk(void **state)
{
	struct harness h;
	make_confs("alice-pw", "", false);
	char *p = strstr(conf_b, "  ike-1 {");
	assert_non_null(p);
	memcpy(p, "  xauth-", 8);	/* "ike-1" becomes an XAuth user's secret */
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h, "site");
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_children(&h.a), 0);
	h_free(&h);
}

/* The REQUEST lost twice: the server retransmits it; the client's answer comes once. */
static void test_xauth_request_retransmitted(void **state)
{
	struct harness h;
	make_confs("alice-pw", "", false);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.b.drop_at = 4;	/* b's 4th message: the REQUEST */
	initiate(&h, "rw");
	assert_int_equal(h_first_sa(&h.a)->v1->state, XAUTH_WAIT_REQUEST);
	assert_string_equal(ikev1_sa_state_name(h_first_sa(&h.b)), "XAUTH_WAIT_REPLY");
	h_advance(&h, 10000);
	assert_child_up(&h);
	h_free(&h);
}

/* A client whose server never asks gives up in time, naming the state. */
static void test_xauth_client_gives_up(void **state)
{
	struct harness h;
	struct h_log_count lc;
	make_confs("alice-pw", "", false);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.b.drop_at = 4;
	initiate(&h, "rw");
	h.b.drop_out = true;	/* no retransmission either */
	h_log_capture_start(&lc, "the XAuth server asked for no credentials in XAUTH_WAIT_REQUEST");
	h_advance(&h, 120000);
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	assert_null(h_first_sa(&h.a));
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xauth_ok),
		cmocka_unit_test(test_xauth_wrong_password),
		cmocka_unit_test(test_xauth_unknown_user_or_xauth_id),
		cmocka_unit_test(test_xauth_password_not_logged),
		cmocka_unit_test(test_site_to_site_not_asked),
		cmocka_unit_test(test_xauth_secret_not_a_psk),
		cmocka_unit_test(test_xauth_request_retransmitted),
		cmocka_unit_test(test_xauth_client_gives_up),
	};
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
