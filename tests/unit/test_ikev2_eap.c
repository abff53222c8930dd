/* EAP in IKEv2 (RFC 7296 2.16) between two tsunagi cores: a is the EAP client, b the
 * server authenticated by PSK. EAP-MSCHAPv2 and EAP-MD5 logins with the CHILD_SA made
 * in the last exchange, a wrong password (EAP-Failure, AUTHENTICATION_FAILED, the log
 * line and the counters), and EAP messages that do not fit the conversation. */
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
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

static char conf_a[2048], conf_b[2048];

#define CONN_FMT \
	"connections {\n" \
	"  ra {\n" \
	"    local_addrs = %s\n" \
	"    remote_addrs = %s\n" \
	"    local {\n%s    }\n" \
	"    remote {\n%s    }\n" \
	"    children {\n" \
	"      net {\n        local_ts = %s\n        remote_ts = %s\n      }\n" \
	"    }\n" \
	"  }\n" \
	"}\n" \
	"secrets {\n" \
	"  ike-1 {\n    secret = s3cret-key\n  }\n" \
	"  eap-alice {\n    id = alice\n    secret = %s\n  }\n" \
	"}\n"

/* method: "eap-mschapv2" or "eap-md5"; server_eap_id: a line for the server's remote
 * section ("" for none). */
static void confs(const char *method, const char *client_pw, const char *server_eap_id,
		  const char *client_eap_id)
{
	char a_local[256], b_remote[256];
	snprintf(a_local, sizeof(a_local), "      auth = %s\n%s", method, client_eap_id);
	snprintf(b_remote, sizeof(b_remote), "      auth = %s\n%s", method, server_eap_id);
	snprintf(conf_a, sizeof(conf_a), CONN_FMT, "192.0.2.1", "198.51.100.2", a_local,
		 "      auth = psk\n", "10.1.0.0/24", "10.2.0.0/24", client_pw);
	snprintf(conf_b, sizeof(conf_b), CONN_FMT, "198.51.100.2", "%any", "      auth = psk\n",
		 b_remote, "10.2.0.0/24", "10.1.0.0/24", "secret-pw");
}

static void initiate(struct harness *h)
{
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, "ra", "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
}

static void assert_up(struct harness *h)
{
	assert_int_equal(h_count_sas(&h->a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h->b, IKE_ESTABLISHED), 1);
	const struct child_sa *ca = h_first_sa(&h->a)->children, *cb = h_first_sa(&h->b)->children;
	assert_non_null(ca);
	assert_non_null(cb);
	assert_int_equal(ca->spi_out, cb->spi_in);
	assert_int_equal(ca->spi_in, cb->spi_out);
	const struct pfkey_sa *a_out = h_find_sa(&h->a, ca->spi_out), *b_in = h_find_sa(&h->b, cb->spi_in);
	assert_non_null(a_out);
	assert_non_null(b_in);
	assert_memory_equal(a_out->ekey, b_in->ekey, a_out->ekey_len);
	assert_null(h_first_sa(&h->a)->eap);
	assert_null(h_first_sa(&h->b)->eap);
}

static void test_mschapv2_identity_asked(void **state)
{
	struct harness h;
	struct h_log_count lc;
	(void)state;
	confs("eap-mschapv2", "secret-pw", "      eap_id = %any\n", "      eap_id = alice\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "EAP-MSCHAPv2 authentication of 'alice' successful");
	initiate(&h);
	h_log_capture_stop(&lc);
	assert_up(&h);
	assert_int_equal(lc.matches, 1);
	/* The nonces went into the last AUTH payloads; neither end keeps them. */
	assert_null(h_first_sa(&h.a)->ni);
	assert_null(h_first_sa(&h.b)->nr);
	h_free(&h);
}

/* Without eap_id the server takes the IKE identity as the EAP identity. */
static void test_mschapv2_ike_identity(void **state)
{
	struct harness h;
	(void)state;
	confs("eap-mschapv2", "secret-pw", "", "      id = alice\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h);
	assert_up(&h);
	h_free(&h);
}

static void test_md5(void **state)
{
	struct harness h;
	(void)state;
	confs("eap-md5", "secret-pw", "      eap_id = %any\n", "      eap_id = alice\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h);
	assert_up(&h);
	h_free(&h);
}

static void test_wrong_password(void **state)
{
	struct harness h;
	struct h_log_count lc;
	struct ike_stats st;
	(void)state;
	confs("eap-mschapv2", "guess", "      eap_id = %any\n", "      eap_id = alice\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "EAP-MSCHAPv2 authentication of 'alice' failed: wrong password");
	initiate(&h);
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.eap_failures, 1);
	assert_int_equal(st.auth_failures, 1);
	ike_get_stats(h.a.core, &st);
	assert_int_equal(st.auth_failures, 1);
	assert_int_equal(h.a.n_sas, 0);
	assert_int_equal(h.b.n_sas, 0);
	h_free(&h);
}

/* b's answer with the MSCHAPv2 Challenge is lost, and meanwhile EAP packets that do not fit
 * reach b: each is dropped, counted and answered with the outstanding request; the
 * client's retransmission then gets that same request and the login completes. Past
 * the limit of drops, the SA fails. */
static void feed(struct ike_sa *sa, const uint8_t *eap, size_t len, bool with_eap)
{
	struct msg_in m;
	memset(&m, 0, sizeof(m));
	m.hdr.exchange = IKE_AUTH;
	m.hdr.msgid = sa->peer_msgid - 1;
	m.local = sa->local;
	m.remote = sa->remote;
	m.pl.has_eap = with_eap;
	m.pl.eap = eap;
	m.pl.eap_len = len;
	ikev2_eap_server_in(sa, &m);
}

static void test_out_of_sequence_dropped(void **state)
{
	struct harness h;
	struct ike_stats st;
	(void)state;
	confs("eap-mschapv2", "secret-pw", "      eap_id = %any\n", "      eap_id = alice\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.b.drop_at = 3;	/* IKE_SA_INIT, IKE_AUTH with EAP-Identity, this one */
	initiate(&h);
	struct ike_sa *sb = (struct ike_sa *)h_first_sa(&h.b);
	assert_non_null(sb);
	assert_non_null(sb->eap);
	/* the identity again (answered already), a truncated packet, a request */
	static const uint8_t wrong_id[] = { 2, 0x99, 0, 10, 1, 'a', 'l', 'i', 'c', 'e' };
	static const uint8_t truncated[] = { 2, 1, 0 };
	static const uint8_t request[] = { 1, 1, 0, 5, 1 };
	int sent = h.b.sent;
	feed(sb, wrong_id, sizeof(wrong_id), true);
	feed(sb, truncated, sizeof(truncated), true);
	feed(sb, request, sizeof(request), true);
	assert_int_equal(h.b.sent, sent + 3);
	h.n_wire = 0;		/* those answers carry a stale message ID for a anyway */
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.eap_dropped, 3);
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 1);
	/* a retransmits its IKE_AUTH request: b's cached answer is the Challenge again */
	h_advance(&h, 10000);
	assert_up(&h);
	h_free(&h);

	/* the fourth drop ends it */
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.b.drop_at = 3;
	initiate(&h);
	sb = (struct ike_sa *)h_first_sa(&h.b);
	for (int i = 0; i < 3; i++)
		feed(sb, NULL, 0, false);
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 1);
	feed(sb, truncated, sizeof(truncated), true);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.eap_dropped, 4);
	assert_int_equal(st.auth_failures, 1);
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 0);
	h_free(&h);
}

/* strongSwan answers an MSCHAPv2 Failure request not with the Failure response but by
 * ending the SA (INFORMATIONAL with AUTHENTICATION_FAILED): the wrong password must be
 * logged and counted when the Failure request goes out, and the SA end once the client
 * gives up, counted once. Here b's answer with the Failure request is lost. */
static void test_wrong_password_client_gives_up(void **state)
{
	struct harness h;
	struct h_log_count lc;
	struct ike_stats st;
	(void)state;
	confs("eap-mschapv2", "guess", "      eap_id = %any\n", "      eap_id = alice\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.b.drop_at = 4;	/* IKE_SA_INIT, EAP-Identity, Challenge, this Failure */
	h_log_capture_start(&lc, "EAP-MSCHAPv2 authentication of 'alice' failed: wrong password");
	initiate(&h);
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.eap_failures, 1);
	assert_int_equal(st.auth_failures, 1);
	struct ike_sa *sb = (struct ike_sa *)h_first_sa(&h.b);
	assert_non_null(sb);
	struct msg_in m;
	memset(&m, 0, sizeof(m));
	m.hdr.exchange = INFORMATIONAL;
	m.hdr.msgid = sb->peer_msgid;
	m.pl.n_notify = 1;
	m.pl.notify[0].type = N_AUTHENTICATION_FAILED;
	ikev2_info_request_in(sb, &m);
	ike_sa_reap(h.b.core);
	assert_null(h_first_sa(&h.b));
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.eap_failures, 1);
	assert_int_equal(st.auth_failures, 1);
	h_free(&h);
}

/* Virtual IPs with EAP: the CFG_REQUEST of the first IKE_AUTH is answered in the last
 * one, and the lease is kept by the EAP identity, as strongSwan keeps it (EAP clients
 * often share one IKE identity): after alice, bob with the same IKE identity gets
 * another address, and alice's stays hers. */
static char vip_client[2048], vip_gw[2048];

static void vip_confs(const char *user, const char *pw)
{
	snprintf(vip_client, sizeof(vip_client),
		 "connections {\n rw {\n  local_addrs = 192.0.2.1\n  remote_addrs = 198.51.100.2\n"
		 "  vips = 0.0.0.0\n"
		 "  local { auth = eap-mschapv2\n id = client.example.net\n eap_id = %s\n }\n"
		 "  remote { auth = psk\n id = gw.example.org\n }\n"
		 "  children { net {\n remote_ts = 10.1.0.0/16\n } }\n }\n}\n"
		 "secrets {\n ike { secret = s3cret-key\n }\n eap-u { id = %s\n secret = %s\n }\n}\n",
		 user, user, pw);
	snprintf(vip_gw, sizeof(vip_gw),
		 "connections {\n rw {\n  local_addrs = 198.51.100.2\n  pools = p\n"
		 "  local { auth = psk\n id = gw.example.org\n }\n"
		 "  remote { auth = eap-mschapv2\n eap_id = %%any\n }\n"
		 "  children { net {\n local_ts = 10.1.0.0/16\n remote_ts = dynamic\n } }\n }\n}\n"
		 "pools {\n p {\n  addrs = 10.3.0.0/29\n  dns = 10.1.0.53\n }\n}\n"
		 "secrets {\n ike { secret = s3cret-key\n }\n"
		 " eap-alice { id = alice\n secret = alice-pw\n }\n"
		 " eap-bob { id = bob\n secret = bob-pw\n }\n}\n");
}

static void test_vip_by_eap_identity(void **state)
{
	struct harness h;
	struct h_log_count lc;
	char err[256], a[ADDR_STRLEN];
	(void)state;
	vip_confs("alice", "alice-pw");
	assert_int_equal(h_init(&h, vip_client, vip_gw), 0);
	h_log_capture_start(&lc, "assigned virtual IP 10.3.0.1 to 'alice'");
	char e2[256];
	assert_int_equal(ike_initiate(h.a.core, "rw", "net", h.now, e2, sizeof(e2)), 0);
	h_pump(&h);
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	assert_up(&h);
	const struct ike_sa *sa = h_first_sa(&h.a);
	assert_int_equal(sa->n_vips, 1);
	assert_string_equal(addr_ntop(&sa->vips[0].addr, a, sizeof(a)), "10.3.0.1");
	assert_string_equal(h_first_sa(&h.b)->eap_peer, "alice");
	assert_int_equal(ike_terminate(h.a.core, "rw", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 1000);
	assert_null(h_first_sa(&h.b));

	/* bob, same IKE identity */
	vip_confs("bob", "bob-pw");
	struct ctree *t = conf_parse_string(vip_client, "a.conf", err, sizeof(err));
	struct config *cfg = config_build(t, err, sizeof(err));
	ctree_free(t);
	assert_non_null(cfg);
	ike_load_config(h.a.core, cfg, h.now);
	assert_int_equal(ike_initiate(h.a.core, "rw", "net", h.now, e2, sizeof(e2)), 0);
	h_pump(&h);
	sa = h_first_sa(&h.a);
	assert_non_null(sa);
	assert_int_equal(sa->n_vips, 1);
	assert_string_equal(addr_ntop(&sa->vips[0].addr, a, sizeof(a)), "10.3.0.2");
	h_free(&h);
}

/* EAP is IKEv2's: a version = 0 connection that wants EAP from its peers must not
 * be answered in IKEv1, where a client with the (often widely known) PSK that
 * authenticates the server would get in without any EAP login. */
static void test_ikev1_client_not_admitted(void **state)
{
	struct harness h;
	char a[4096], b[4096];
	(void)state;
	h_v1_confs(a, b, sizeof(a), "", "", "tunnel");
	char *v = strstr(b, "version = 1");
	assert_non_null(v);
	v[10] = '0';
	char *r = strstr(b, "remote {\n      auth = psk");
	assert_non_null(r);
	memcpy(strstr(r, "psk"), "eap", 3);
	assert_int_equal(h_init(&h, a, b), 0);
	char err[256];
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 30000);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	assert_int_equal(h.b.n_sas, 0);
	h_free(&h);
}

/* An EAP-MSCHAPv2 login up to the client's answer to the Challenge (the password a
 * user types), held back: returned, the SA of each end still connecting. */
static struct h_wire_msg login_until_password(struct harness *h)
{
	confs("eap-mschapv2", "secret-pw", "      eap_id = %any\n", "      eap_id = alice\n");
	assert_int_equal(h_init(h, conf_a, conf_b), 0);
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, "ra", "net", h->now, err, sizeof(err)), 0);
	/* IKE_SA_INIT, IKE_AUTH (EAP), the EAP identity, then the Challenge's answer */
	while (h->a.sent < 4 && h->n_wire)
		h_deliver_first(h, NULL);
	assert_int_equal(h->a.sent, 4);
	assert_int_equal(h->n_wire, 1);
	struct h_wire_msg w = h->wire[0];
	h->n_wire = 0;
	assert_int_equal(h_count_sas(&h->b, IKE_CONNECTING), 1);
	h->a.drop_out = true;	/* the user is typing: no retransmission arrives */
	return w;
}

/* The half-open timeout (30 s from IKE_SA_INIT) does not cut off a login: once
 * the client's first IKE_AUTH passed, the login timeout applies. A user's
 * password that comes at 45 s completes the login. */
static void test_login_answer_at_45s(void **state)
{
	struct harness h;
	(void)state;
	struct h_wire_msg w = login_until_password(&h);
	h_advance(&h, 45000);
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 1);
	h.a.drop_out = false;
	ike_input(h.b.core, &w.local, &w.remote, w.data, w.len, h.now);
	h_pump(&h);
	assert_up(&h);
	h_free(&h);
}

/* A login that never gets its answer goes at the login timeout (from its start). */
static void test_login_never_answered(void **state)
{
	struct harness h;
	struct h_log_count lc;
	struct ike_stats st;
	(void)state;
	ms_t start = 0;
	struct h_wire_msg w = login_until_password(&h);
	(void)w;
	start = h.now;
	h_log_capture_start(&lc, "login not finished within 120 s");
	h_advance(&h, IKE_LOGIN_TIMEOUT_MS - 500);
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 1);
	h_advance(&h, 500);
	h_log_capture_stop(&lc);
	assert_int_equal(h.now, start + IKE_LOGIN_TIMEOUT_MS);
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 0);
	assert_null(h_first_sa(&h.b));
	assert_int_equal(lc.matches, 1);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.half_open, 0);
	h_free(&h);
}

/* An SA whose peer never sends IKE_AUTH is half-open, and goes at 30 s. */
static void test_half_open_still_30s(void **state)
{
	struct harness h;
	(void)state;
	confs("eap-mschapv2", "secret-pw", "      eap_id = %any\n", "      eap_id = alice\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	char err[256];
	assert_int_equal(ike_initiate(h.a.core, "ra", "net", h.now, err, sizeof(err)), 0);
	h.a.drop_at = 2;	/* its IKE_AUTH */
	h_pump(&h);
	h.a.drop_out = true;
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 1);
	h_advance(&h, 29500);
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 1);
	h_advance(&h, 500);
	assert_null(h_first_sa(&h.b));
	h_free(&h);
}

/* A client that sends AUTH to a connection that wants EAP is refused. */
static void test_psk_client_to_eap_server(void **state)
{
	struct harness h;
	(void)state;
	confs("eap-mschapv2", "secret-pw", "      eap_id = %any\n", "      eap_id = alice\n");
	char *p = strstr(conf_a, "auth = eap-mschapv2");
	assert_non_null(p);
	memcpy(p, "auth = psk         ", strlen("auth = eap-mschapv2"));
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	initiate(&h);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mschapv2_identity_asked),
		cmocka_unit_test(test_mschapv2_ike_identity),
		cmocka_unit_test(test_md5),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_out_of_sequence_dropped),
		cmocka_unit_test(test_wrong_password_client_gives_up),
		cmocka_unit_test(test_psk_client_to_eap_server),
		cmocka_unit_test(test_vip_by_eap_identity),
		cmocka_unit_test(test_ikev1_client_not_admitted),
		cmocka_unit_test(test_login_answer_at_45s),
		cmocka_unit_test(test_login_never_answered),
		cmocka_unit_test(test_half_open_still_30s),
	};
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
