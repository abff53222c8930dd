/* IKEv1 XAuth and Mode Config between two tsunagi IKE cores (tests/unit/ike_harness.c): a is the client
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
#include "ike/pool.h"
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

/* The server's ISAKMP SA is half-open until Phase 1 is authenticated; the XAuth
 * login after it (a user typing the password) has the login timeout, not the 30 s
 * half-open one: a REPLY that comes at 45 s is taken; without one the SA goes at
 * the login timeout from the REQUEST. (The client here answers from its secrets:
 * its REPLY is held back on the wire to stand for the user.) */
static void test_xauth_login_timeout(void **state)
{
	for (int answer = 1; answer >= 0; answer--) {
		struct harness h;
		struct ike_stats st;
		make_confs("alice-pw", "", false);
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		/* The default retransmissions (5: 165 s) outlast the login, which the
		 * harness's 3 (47.5 s) would not: b's REQUEST is resent unanswered. */
		h.b.core->t.retransmit_tries = 5;
		char err[256];
		assert_int_equal(ike_initiate(h.a.core, "rw", "net", h.now, err, sizeof(err)), 0);
		/* MM1 MM3 MM5, then the REPLY to b's REQUEST */
		while (h.a.sent < 4 && h.n_wire)
			h_deliver_first(&h, NULL);
		assert_int_equal(h.a.sent, 4);
		assert_int_equal(h.n_wire, 1);
		struct h_wire_msg w = h.wire[0];
		h.n_wire = 0;
		ms_t start = h.now;
		h.a.drop_out = true;
		h_advance(&h, 45000);
		assert_non_null(h_first_sa(&h.b));
		assert_string_equal(ikev1_sa_state_name(h_first_sa(&h.b)), "XAUTH_WAIT_REPLY");
		if (answer) {
			ike_input(h.b.core, &w.local, &w.remote, w.data, w.len, h.now);
			assert_non_null(h_first_sa(&h.b));
			assert_string_equal(h_first_sa(&h.b)->v1->xauth_user, "alice");
			assert_string_not_equal(ikev1_sa_state_name(h_first_sa(&h.b)),
						"XAUTH_WAIT_REPLY");
			ike_get_stats(h.b.core, &st);
			assert_int_equal(st.xauth_failures, 0);
		} else {
			struct h_log_count lc;
			h_advance(&h, start + IKE_LOGIN_TIMEOUT_MS - 500 - h.now);
			assert_non_null(h_first_sa(&h.b));
			h_log_capture_start(&lc, "no XAuth user name and password came in "
					    "XAUTH_WAIT_REPLY: login not finished within 120 s");
			h_advance(&h, 500);
			h_log_capture_stop(&lc);
			assert_int_equal(lc.matches, 1);
			assert_null(h_first_sa(&h.b));
		}
		h_free(&h);
	}
}

/* An answer to our exchange echoes its Identifier, or (strongSwan's XAuth client) says
 * 0; a REQUEST or SET in its message ID, or another Identifier, is none. */
static void test_txn_answer_identifier(void **state)
{
	struct ikev1_txn t = { .active = true, .msgid = 7, .id = 0x4e2b };
	struct isakmp_cfg c = { .type = ISAKMP_CFG_REPLY, .id = 0x4e2b };
	assert_true(ikev1_txn_answers(&t, &c));
	c.id = 0;
	assert_true(ikev1_txn_answers(&t, &c));
	c.type = ISAKMP_CFG_ACK;
	assert_true(ikev1_txn_answers(&t, &c));
	c.id = 0x4e2c;
	assert_false(ikev1_txn_answers(&t, &c));
	c.id = 0x4e2b;
	c.type = ISAKMP_CFG_REQUEST;
	assert_false(ikev1_txn_answers(&t, &c));
	c.type = ISAKMP_CFG_SET;
	assert_false(ikev1_txn_answers(&t, &c));
}

/* The XAuth server does not initiate: an ISAKMP SA it started would skip XAuth. */
static void test_xauth_server_does_not_initiate(void **state)
{
	struct harness h;
	struct h_log_count lc;
	char err[256];
	make_confs("alice-pw", "", false);
	char *p = strstr(conf_b, "    local_addrs = 198.51.100.2\n");	/* b's rw */
	char tmp[8192];
	snprintf(tmp, sizeof(tmp), "%.*s    remote_addrs = 192.0.2.1\n%s", (int)(p - conf_b),
		 conf_b, p);
	strcpy(conf_b, tmp);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "connection 'rw' has an auth = xauth round: its clients "
			    "initiate; deleting the ISAKMP SA we initiated");
	assert_int_equal(ike_initiate(h.b.core, "rw", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_children(&h.a) + h_count_children(&h.b), 0);
	h_free(&h);
}

/* ---- Mode Config ---- */

/* The same pair with Mode Config: b's "rw" hands out 10.3.0.0/30 (two addresses) with
 * DNS and a split-include network; a's "rw" asks for one (vips = 0.0.0.0). */
static void mc_confs(const char *pull, const char *client_pw)
{
	char extra[256];
	make_confs(client_pw, "", false);
	snprintf(extra, sizeof(extra), "version = 1\n    pools = p1\n    pull = %s\n", pull);
	char *p = strstr(conf_b, "version = 1\n");	/* b's rw */
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(p - conf_b), conf_b, extra,
		 p + strlen("version = 1\n"));
	strcpy(conf_b, tmp);
	p = strstr(conf_b, "remote_ts = 10.1.0.0/24");	/* b's rw: the client's VIP */
	memcpy(p, "remote_ts = dynamic    ", 23);
	strcat(conf_b, "pools {\n  p1 {\n    addrs = 10.3.0.0/30\n    dns = 10.2.0.53, 10.2.0.54\n"
		       "    split_include = 10.2.0.0/24\n    28674 = example.org\n  }\n}\n");
	snprintf(extra, sizeof(extra), "version = 1\n    vips = 0.0.0.0\n    pull = %s\n", pull);
	p = strstr(conf_a, "version = 1\n");	/* a's rw */
	snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(p - conf_a), conf_a, extra,
		 p + strlen("version = 1\n"));
	strcpy(conf_a, tmp);
	p = strstr(conf_a, "local_ts = 10.1.0.0/24");
	memcpy(p, "local_ts = dynamic    ", 22);
}

static void assert_vip(struct harness *h, const char *vip)
{
	char s[SELECTOR_STRLEN], x[ADDR_STRLEN];
	const struct ike_sa *sa = h_first_sa(&h->a), *sb = h_first_sa(&h->b);
	assert_int_equal(sa->n_vips, 1);
	assert_null(sa->vips[0].pool);
	assert_string_equal(addr_ntop(&sa->vips[0].addr, x, sizeof(x)), vip);
	assert_int_equal(sb->n_vips, 1);
	assert_string_equal(sb->vips[0].pool, "p1");
	assert_string_equal(addr_ntop(&sb->vips[0].addr, x, sizeof(x)), vip);
	/* The Quick Mode's selectors: the client's VIP === the protected network. */
	snprintf(x, sizeof(x), "%s/32", vip);
	assert_string_equal(selector_fmt(&sa->children->local_ts[0], s, sizeof(s)), x);
	assert_string_equal(selector_fmt(&sb->children->remote_ts[0], s, sizeof(s)), x);
	assert_string_equal(selector_fmt(&sb->children->local_ts[0], s, sizeof(s)), "10.2.0.0/24");
	/* And the DNS servers came with it. */
	assert_int_equal(sa->v1->n_dns, 2);
	assert_string_equal(addr_ntop(&sa->v1->dns[1], x, sizeof(x)), "10.2.0.54");
}

static void test_modecfg_pull_and_push(void **state)
{
	for (int push = 0; push < 2; push++) {
		struct harness h;
		struct h_log_count lc;
		mc_confs(push ? "no" : "yes", "alice-pw");
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		/* The pool's numbered attribute 28674: Cisco Unity's default domain. */
		h_log_capture_start(&lc, "Mode Config: default domain example.org");
		initiate(&h, "rw");
		h_log_capture_stop(&lc);
		assert_int_equal(lc.matches, 1);
		assert_child_up(&h);
		assert_vip(&h, "10.3.0.1");
		/* XAuth, then REQUEST/REPLY (pull: a asks) or SET/ACK (push: b sets):
		 * MM1 MM3 MM5 REPLY ACK (REQUEST|ACK) QM1 QM3 from a, MM2 MM4 MM6 REQUEST SET
		 * (REPLY|SET) QM2 from b. */
		assert_int_equal(h.a.sent, 8);
		assert_int_equal(h.b.sent, 7);
		h_free(&h);
	}
}

/* Adds to a a second XAuth client connection "rwbob", user bob, same IKE identity. */
static void add_bob(void)
{
	char *from = strstr(conf_a, "  rw {"), *to = strstr(conf_a, "  site {");
	char block[2048], tmp[8192];
	snprintf(block, sizeof(block), "  rwbob {%.*s", (int)(to - from - 6), from + 6);
	char *u = strstr(block, "xauth_id = alice");
	memmove(u + 14, u + 16, strlen(u + 16) + 1);
	memcpy(u, "xauth_id = bob", 14);
	snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(to - conf_a), conf_a, block, to);
	strcpy(conf_a, tmp);
	char *sec = strstr(conf_a, "  xauth-alice {");
	snprintf(tmp, sizeof(tmp), "%.*s  xauth-bob {\n    id = bob\n    secret = bob-pw\n  }\n%s",
		 (int)(sec - conf_a), conf_a, sec);
	strcpy(conf_a, tmp);
}

static void up_down(struct harness *h, const char *conn, const char *want_vip)
{
	char err[256], x[ADDR_STRLEN];
	initiate(h, conn);
	assert_child_up(h);
	assert_string_equal(addr_ntop(&h_first_sa(&h->a)->vips[0].addr, x, sizeof(x)), want_vip);
	assert_int_equal(ike_terminate(h->a.core, conn, 0, NULL, 0, h->now, err, sizeof(err)), 0);
	h_pump(h);
	assert_int_equal(h_count_sas(&h->b, IKE_ESTABLISHED), 0);
}

/* The client asks (pull = yes) but the server pushes (pull = no): the client takes
 * the SET instead of a REPLY that will not come. */
static void test_modecfg_client_pulls_server_pushes(void **state)
{
	struct harness h;
	mc_confs("no", "alice-pw");
	char *p = strstr(conf_a, "pull = no");	/* a's rw */
	assert_non_null(p);
	memcpy(p, "pull = 1 ", 9);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h, "rw");
	assert_child_up(&h);
	assert_vip(&h, "10.3.0.1");
	/* Nothing outstanding afterwards (the REQUEST is not retransmitted). */
	int sent = h.a.sent;
	h_advance(&h, 30000);
	assert_int_equal(h.a.sent, sent);
	h_free(&h);
}

/* The lease is kept for the XAuth user when the ISAKMP SA goes (all users share the
 * group PSK's IKE identity): alice gets her address back, and bob, from the same IKE
 * identity while she is away, gets another one. */
static void test_modecfg_lease_by_user(void **state)
{
	struct harness h;
	struct pool_counts pc;
	mc_confs("yes", "alice-pw");
	add_bob();
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	up_down(&h, "rw", "10.3.0.1");
	pool_get_counts(pools_find(ike_pools(h.b.core), "p1"), &pc);
	assert_int_equal(pc.online, 0);
	assert_int_equal(pc.offline, 1);
	up_down(&h, "rwbob", "10.3.0.2");
	up_down(&h, "rw", "10.3.0.1");
	up_down(&h, "rwbob", "10.3.0.2");
	pool_get_counts(pools_find(ike_pools(h.b.core), "p1"), &pc);
	assert_int_equal(pc.offline, 2);
	h_free(&h);
}

/* Two users on one address with one IKE identity (the group's): each keeps its own
 * ISAKMP SA, CHILD_SA and address; the second is no renewal of the first. */
static void test_two_users_one_address(void **state)
{
	struct harness h;
	mc_confs("yes", "alice-pw");
	add_bob();
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h, "rw");
	initiate(&h, "rwbob");
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 2);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 2);
	for (const struct ike_sa *sa = ike_sa_first(h.b.core); sa; sa = ike_sa_next(sa)) {
		assert_non_null(sa->children);
		assert_null(sa->children->next);
		assert_int_equal(sa->n_vips, 1);
		assert_false(sa->superseded);
	}
	assert_int_equal(h.b.updown_down, 0);
	h_free(&h);
}

/* Makes a's SAs invisible to a (another device behind the same NAT, or the same one
 * restarted): its next Main Mode then carries INITIAL_CONTACT. */
static void hide_a_sas(struct harness *h, bool hide)
{
	for (const struct ike_sa *sa = ike_sa_first(h->a.core); sa; sa = ike_sa_next(sa))
		((struct ike_sa *)sa)->state = hide ? IKE_PASSIVE : IKE_ESTABLISHED;
}

static int b_sas_of(struct harness *h, const char *user)
{
	int n = 0;
	for (const struct ike_sa *sa = ike_sa_first(h->b.core); sa; sa = ike_sa_next(sa))
		n += sa->state == IKE_ESTABLISHED && strcmp(sa->v1->xauth_user, user) == 0;
	return n;
}

/* INITIAL_CONTACT from a remote-access user ends that user's stale SAs only: bob's
 * device behind alice's NAT (same address, same group identity) leaves hers alone;
 * alice's restarted device replaces her old SA and gets her address back. */
static void test_initial_contact_per_user(void **state)
{
	struct harness h;
	char x[ADDR_STRLEN];
	mc_confs("yes", "alice-pw");
	add_bob();
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h, "rw");
	hide_a_sas(&h, true);
	initiate(&h, "rwbob");
	hide_a_sas(&h, false);
	assert_int_equal(b_sas_of(&h, "alice"), 1);
	assert_int_equal(b_sas_of(&h, "bob"), 1);
	hide_a_sas(&h, true);
	initiate(&h, "rw");
	hide_a_sas(&h, false);
	assert_int_equal(b_sas_of(&h, "alice"), 1);
	assert_int_equal(b_sas_of(&h, "bob"), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 2);
	for (const struct ike_sa *sa = ike_sa_first(h.b.core); sa; sa = ike_sa_next(sa))
		if (strcmp(sa->v1->xauth_user, "alice") == 0)
			assert_string_equal(addr_ntop(&sa->vips[0].addr, x, sizeof(x)), "10.3.0.1");
	h_free(&h);
}

/* Sends b, as a would, a Transaction message of a new exchange: HASH(1) and the
 * Attribute payload body `cfg`. */
static void send_cfg_to_b(struct harness *h, uint32_t msgid, const uint8_t *cfg, size_t len)
{
	struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h->b);
	const struct isakmp_keys *k = &sa->v1->keys;
	struct isakmp_builder kb;
	struct isakmp_iv iv, next;
	struct buf msg;
	struct isakmp_hdr hd = { .exchange = ISAKMP_XCHG_TRANSACTION, .flags = ISAKMP_FLAG_E,
				 .msgid = msgid };
	isb_init(&kb);
	size_t hoff = isb_hash(&kb, NULL, k->prf_len);
	size_t off = isb_begin(&kb, ISAKMP_PL_ATTR);
	buf_put(&kb.b, cfg, len);
	isb_end(&kb, off);
	size_t rest = hoff + k->prf_len;
	assert_int_equal(isakmp_hash_qm1(k, msgid, kb.b.data + rest, kb.b.len - rest,
					 kb.b.data + hoff), 0);
	memcpy(hd.cky_i, sa->spi_i, 8);
	memcpy(hd.cky_r, sa->spi_r, 8);
	hd.next_payload = kb.first;
	buf_init(&msg);
	isakmp_put_header(&msg, &hd);
	buf_put(&msg, kb.b.data, kb.b.len);
	assert_int_equal(isakmp_iv_phase2(k, &sa->v1->iv, msgid, &iv), 0);
	assert_int_equal(isakmp_encrypt(k, &iv, &msg, &next), 0);
	ike_input(h->b.core, &sa->local, &sa->remote, msg.data, msg.len, h->now);
	buf_free(&msg);
	isb_free(&kb);
}

/* A Mode Config REQUEST with an unknown attribute and a repeated address: both
 * counted (ike-cp-bad-attributes) and logged, the request answered, nothing else
 * changed; a truncated one is dropped and counted. */
static void test_modecfg_bad_attributes(void **state)
{
	static const uint8_t req[] = {
		0x01, 0x00, 0x00, 0x09,
		0x00, 0x01, 0x00, 0x00,			/* INTERNAL_IP4_ADDRESS */
		0x00, 0x01, 0x00, 0x00,			/* ... again */
		0x3f, 0x00, 0x00, 0x01, 0x55,		/* 16128: unknown */
	};
	static const uint8_t truncated[] = { 0x01, 0x00, 0x00, 0x09, 0x00, 0x01, 0x00, 0x08 };
	struct harness h;
	struct ike_stats st0, st;
	struct h_log_count lc;
	mc_confs("yes", "alice-pw");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h, "rw");
	assert_vip(&h, "10.3.0.1");
	ike_get_stats(h.b.core, &st0);
	int sent = h.b.sent;
	h_log_capture_start(&lc, "CFG_REQUEST: 1 unknown and 1 repeated attribute(s) ignored "
			    "(first unknown type 16128)");
	send_cfg_to_b(&h, 0x5a5a0001, req, sizeof(req));
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.cp_bad_attrs - st0.cp_bad_attrs, 2);
	assert_int_equal(h.b.sent, sent + 1);	/* the REPLY */
	h.n_wire = 0;
	send_cfg_to_b(&h, 0x5a5a0002, truncated, sizeof(truncated));
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.rx_invalid - st0.rx_invalid, 1);
	assert_int_equal(h.b.sent, sent + 1);
	assert_child_up(&h);
	assert_int_equal(h_first_sa(&h.b)->n_vips, 1);
	h_free(&h);
}

/* An exhausted pool: the client learns it has no address (logged on both sides) and
 * gives up; no CHILD_SA. */
static void test_modecfg_pool_exhausted(void **state)
{
	struct harness h;
	struct h_log_count lc;
	mc_confs("yes", "alice-pw");
	char *p = strstr(conf_b, "addrs = 10.3.0.0/30");
	memcpy(p, "addrs = 10.3.0.1/32", 19);	/* one address */
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	struct addr x, peer;
	addr_parse("203.0.113.9", &peer);
	assert_int_equal(pool_acquire(pools_find(ike_pools(h.b.core), "p1"), "someone", &peer,
				      NULL, &x), POOL_OK);
	h_log_capture_start(&lc, "Mode Config: the server assigned no virtual IP");
	initiate(&h, "rw");
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	assert_int_equal(h_count_children(&h.a) + h_count_children(&h.b), 0);
	assert_null(h_first_sa(&h.a));
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.vip_failures, 1);
	h_free(&h);
}

/* Adds a line to the "rw" connection of conf (after its "version = 1"). */
static void rw_add(char *conf, const char *line)
{
	char tmp[8192];
	char *p = strstr(conf, "  rw {\n    version = 1\n");
	assert_non_null(p);
	p += strlen("  rw {\n    version = 1\n");
	snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(p - conf), conf, line, p);
	strcpy(conf, tmp);
}

/* Phase 1 renewed by the client (a) and by the server (b), pull and push: the CHILD_SA
 * moves to the new ISAKMP SA with its SPIs, the client keeps its virtual IP (it is not
 * taken off its TUN), the lease stays online for alice alone, and is offline for her
 * once the SA goes. */
static void test_modecfg_phase1_renewal(void **state)
{
	for (int i = 0; i < 4; i++) {
		bool by_server = i & 1, push = i & 2;
		struct harness h;
		struct pool_counts pc;
		char x[ADDR_STRLEN], err[256];
		mc_confs(push ? "no" : "yes", "alice-pw");
		rw_add(by_server ? conf_b : conf_a,
		       "    rekey_time = 100s\n    over_time = 20s\n    rand_time = 0\n");
		rw_add(by_server ? conf_a : conf_b, "    over_time = 5s\n");
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		initiate(&h, "rw");
		assert_vip(&h, "10.3.0.1");
		uint32_t in = h_first_sa(&h.a)->children->spi_in;
		uint32_t id_a = h_first_sa(&h.a)->uniqueid;
		uint32_t reqid_b = h_first_sa(&h.b)->children->reqid;
		h_advance(&h, 101000);
		h_advance(&h, 3000);
		assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
		assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
		assert_int_not_equal(h_first_sa(&h.a)->uniqueid, id_a);
		assert_int_equal(h_count_children(&h.a), 1);
		assert_int_equal(h_count_children(&h.b), 1);
		assert_int_equal(h_first_sa(&h.a)->children->spi_in, in);
		assert_string_equal(addr_ntop(&h_first_sa(&h.a)->vips[0].addr, x, sizeof(x)),
				    "10.3.0.1");
		assert_int_equal(h_first_sa(&h.a)->n_vips, 1);
		assert_int_equal(h_first_sa(&h.b)->n_vips, 1);
		if (h.a.vips_down)
			fail_msg("case %d: the client's virtual IP went down", i);
		assert_string_equal(addr_ntop(&h.a.vip, x, sizeof(x)), "10.3.0.1");
		pool_get_counts(pools_find(ike_pools(h.b.core), "p1"), &pc);
		assert_int_equal(pc.online, 1);
		assert_int_equal(pc.offline, 0);
		/* The gateway's per-lease reqid moved with the CHILD_SA: a new Quick Mode for
		 * it on the new ISAKMP SA keeps it. */
		uint32_t cid = h_first_sa(&h.b)->children->uniqueid;
		assert_int_equal(ike_rekey(h.b.core, NULL, 0, NULL, cid, h.now, NULL, 0), 0);
		h_pump(&h);
		assert_int_equal(h_count_children(&h.b), 2);
		for (const struct child_sa *c = h_first_sa(&h.b)->children; c; c = c->next)
			assert_int_equal(c->reqid, reqid_b);
		assert_int_equal(ike_terminate(h.a.core, "rw", 0, NULL, 0, h.now, err, sizeof(err)), 0);
		h_pump(&h);
		pool_get_counts(pools_find(ike_pools(h.b.core), "p1"), &pc);
		assert_int_equal(pc.online, 0);
		assert_int_equal(pc.offline, 1);
		assert_int_equal(h.a.vips_down, 1);
		h_free(&h);
	}
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
		cmocka_unit_test(test_xauth_login_timeout),
		cmocka_unit_test(test_txn_answer_identifier),
		cmocka_unit_test(test_xauth_server_does_not_initiate),
		cmocka_unit_test(test_modecfg_pull_and_push),
		cmocka_unit_test(test_modecfg_client_pulls_server_pushes),
		cmocka_unit_test(test_modecfg_lease_by_user),
		cmocka_unit_test(test_modecfg_pool_exhausted),
		cmocka_unit_test(test_modecfg_bad_attributes),
		cmocka_unit_test(test_modecfg_phase1_renewal),
		cmocka_unit_test(test_two_users_one_address),
		cmocka_unit_test(test_initial_contact_per_user),
	};
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
