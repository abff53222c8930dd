/* conf/: ctree -> struct config: strongSwan's defaults, value syntax, every refusal
 * with its file:line, secrets, VICI-shaped trees, and the example configs in etc/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/parser.h"
#include "lib/log.h"

static char err[512];

static struct config *build(const char *text)
{
	err[0] = '\0';
	struct ctree *t = conf_parse_string(text, "site-a.conf", err, sizeof(err));
	if (!t)
		fail_msg("parse: %s", err);
	struct config *c = config_build(t, err, sizeof(err));
	ctree_free(t);
	return c;
}

static struct config *build_ok(const char *text)
{
	struct config *c = build(text);
	if (!c)
		fail_msg("build: %s", err);
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

/* A minimal connection with `extra` lines inside it (starting at line 4). */
static struct config *conn_with(const char *extra, char *buf, size_t len, bool ok)
{
	snprintf(buf, len, "connections {\n"
			   " site {\n"
			   "  local { auth = psk\n }\n"
			   "%s\n"
			   " }\n"
			   "}\n", extra);
	return ok ? build_ok(buf) : build(buf);
}

static void expect_conn_error(const char *extra, const char *message)
{
	char buf[2048];
	struct config *c = conn_with(extra, buf, sizeof(buf), false);
	if (c) {
		config_free(c);
		fail_msg("built, expected \"%s\"", message);
	}
	assert_string_equal(err, message);
}

static void test_connection_defaults(void **state)
{
	struct config *cfg = build_ok("connections {\n"
				      "  site {\n"
				      "    local { auth = psk\n }\n"
				      "    children { net { } }\n"
				      "  }\n"
				      "}\n");
	struct conn_cfg *c = config_find_conn(cfg, "site");
	assert_non_null(c);
	assert_null(config_find_conn(cfg, "other"));
	assert_int_equal(c->line, 2);
	assert_string_equal(c->file, "site-a.conf");
	assert_int_equal(c->version, 0);
	assert_int_equal(c->n_local_addrs, 1);
	assert_string_equal(c->local_addrs[0], "%any");
	assert_int_equal(c->n_remote_addrs, 1);
	assert_string_equal(c->remote_addrs[0], "%any");
	assert_int_equal(c->local_port, 500);
	assert_int_equal(c->remote_port, 500);
	assert_int_equal(c->n_proposals, 1);
	assert_string_equal(c->proposals[0], "default");
	assert_false(c->encap);
	assert_true(c->mobike);
	assert_false(c->aggressive);
	assert_int_equal(c->dpd_delay, 0);
	assert_int_equal(c->dpd_timeout, 0);
	assert_int_equal(c->rekey_time, 14400);
	assert_int_equal(c->reauth_time, 0);
	assert_int_equal(c->over_time, 1440);
	assert_int_equal(c->rand_time, 1440);
	assert_int_equal(c->keyingtries, 1);
	assert_int_equal(c->unique, UNIQUE_NO);
	assert_int_equal(c->local.auth, AUTH_PSK);
	assert_null(c->local.id);
	assert_int_equal(c->remote.auth, AUTH_PSK);	/* strongSwan: any method */

	struct child_cfg *ch = c->children;
	assert_non_null(ch);
	assert_null(ch->next);
	assert_string_equal(ch->name, "net");
	assert_int_equal(ch->n_local_ts, 1);
	assert_true(ch->local_ts[0].dynamic);
	assert_int_equal(ch->n_remote_ts, 1);
	assert_true(ch->remote_ts[0].dynamic);
	assert_int_equal(ch->n_esp_proposals, 1);
	assert_string_equal(ch->esp_proposals[0], "default");
	assert_int_equal(ch->mode, MODE_TUNNEL);
	assert_int_equal(ch->start_action, START_NONE);
	assert_int_equal(ch->dpd_action, ACTION_CLEAR);
	assert_int_equal(ch->close_action, ACTION_NONE);
	assert_int_equal(ch->rekey_time, 3600);
	assert_int_equal(ch->life_time, 3960);
	assert_int_equal(ch->rand_time, 360);
	assert_int_equal(ch->rekey_bytes, 0);
	assert_int_equal(ch->life_bytes, 0);
	assert_int_equal(ch->rand_bytes, 0);
	assert_int_equal(ch->rekey_packets, 0);
	assert_int_equal(ch->life_packets, 0);
	assert_int_equal(ch->replay_window, 32);
	assert_int_equal(ch->reqid, 0);

	assert_int_equal(cfg->daemon.ike_port, 500);
	assert_int_equal(cfg->daemon.ike_port_natt, 4500);
	assert_int_equal(cfg->daemon.natt_keepalive, 20);
	assert_string_equal(cfg->daemon.tun_name, "tsunagi0");
	assert_int_equal(cfg->daemon.log_level[LOG_IKE], -2);
	config_free(cfg);
}

static void test_explicit_values(void **state)
{
	char buf[2048];
	struct config *cfg = conn_with(
		"  version = 2\n"
		"  local_addrs = 192.0.2.1, 192.0.2.2\n"
		"  remote_addrs = 203.0.113.1\n"
		"  local_port = 4500\n"
		"  remote_port = 0x1194\n"
		"  proposals = aes128-sha256-modp2048, aes256gcm16-prfsha256-x25519\n"
		"  encap = yes\n"
		"  mobike = no\n"
		"  aggressive = TRUE\n"
		"  dpd_delay = 30s\n"
		"  dpd_timeout = 2m\n"
		"  rekey_time = 1h\n"
		"  keyingtries = 0\n"
		"  unique = replace\n"
		"  reauth_time = 0\n"
		"  remote-1 { id = gw-b.example.net\n auth = psk\n }\n"
		"  children {\n"
		"   a {\n"
		"    local_ts = 10.1.0.0/24, 10.1.1.0/24[tcp/80]\n"
		"    remote_ts = 10.2.0.0/24\n"
		"    esp_proposals = aes256gcm16-x25519\n"
		"    mode = transport\n"
		"    start_action = trap\n"
		"    dpd_action = restart\n"
		"    close_action = start\n"
		"    rekey_time = 10m\n"
		"    life_time = 1d\n"
		"    rekey_bytes = 1M\n"
		"    rekey_packets = 1000\n"
		"    rand_packets = 5\n"
		"    replay_window = 1024\n"
		"    reqid = 7\n"
		"   }\n"
		"   b { start_action = start\n dpd_action = none\n}\n"
		"  }",
		buf, sizeof(buf), true);
	struct conn_cfg *c = cfg->conns;
	assert_int_equal(c->version, 2);
	assert_int_equal(c->n_local_addrs, 2);
	assert_string_equal(c->local_addrs[1], "192.0.2.2");
	assert_string_equal(c->remote_addrs[0], "203.0.113.1");
	assert_int_equal(c->local_port, 4500);
	assert_int_equal(c->remote_port, 0x1194);
	assert_int_equal(c->n_proposals, 2);
	assert_string_equal(c->proposals[1], "aes256gcm16-prfsha256-x25519");
	assert_true(c->encap);
	assert_false(c->mobike);
	assert_true(c->aggressive);
	assert_int_equal(c->dpd_delay, 30);
	assert_int_equal(c->dpd_timeout, 120);
	assert_int_equal(c->rekey_time, 3600);
	assert_int_equal(c->over_time, 360);
	assert_int_equal(c->rand_time, 360);
	assert_int_equal(c->keyingtries, 0);
	assert_int_equal(c->unique, UNIQUE_REPLACE);
	assert_string_equal(c->remote.id, "gw-b.example.net");
	assert_int_equal(c->remote.round, 1);

	struct child_cfg *a = c->children, *b = a->next;
	assert_int_equal(a->n_local_ts, 2);
	assert_false(a->local_ts[0].dynamic);
	char s[SELECTOR_STRLEN];
	assert_string_equal(selector_fmt(&a->local_ts[1].sel, s, sizeof(s)), "10.1.1.0/24[tcp/80]");
	assert_string_equal(selector_fmt(&a->remote_ts[0].sel, s, sizeof(s)), "10.2.0.0/24");
	assert_string_equal(a->esp_proposals[0], "aes256gcm16-x25519");
	assert_int_equal(a->mode, MODE_TRANSPORT);
	assert_int_equal(a->start_action, START_TRAP);
	assert_int_equal(a->dpd_action, ACTION_RESTART);
	assert_int_equal(a->close_action, ACTION_RESTART);
	assert_int_equal(a->rekey_time, 600);
	assert_int_equal(a->life_time, 86400);
	assert_int_equal(a->rand_time, 86400 - 600);
	assert_int_equal(a->rekey_bytes, 1 << 20);
	assert_int_equal(a->life_bytes, (1 << 20) * 110 / 100);
	assert_int_equal(a->rand_bytes, (1 << 20) * 110 / 100 - (1 << 20));
	assert_int_equal(a->rekey_packets, 1000);
	assert_int_equal(a->life_packets, 1100);
	assert_int_equal(a->rand_packets, 5);
	assert_int_equal(a->replay_window, 1024);
	assert_int_equal(a->reqid, 7);
	assert_int_equal(b->start_action, START_START);
	assert_int_equal(b->dpd_action, ACTION_NONE);

	/* A disabled connection's kept copy (conn_cfg_dup) outlives the original. */
	struct conn_cfg *d = conn_cfg_dup(c);
	assert_non_null(d);
	config_free(cfg);
	assert_null(d->next);
	assert_int_equal(d->n_local_addrs, 2);
	assert_string_equal(d->local_addrs[1], "192.0.2.2");
	assert_string_equal(d->remote_addrs[0], "203.0.113.1");
	assert_string_equal(d->proposals[1], "aes256gcm16-prfsha256-x25519");
	assert_string_equal(d->remote.id, "gw-b.example.net");
	assert_null(d->local.id);
	assert_int_equal(d->remote_port, 0x1194);
	assert_int_equal(d->unique, UNIQUE_REPLACE);
	a = d->children;
	b = a->next;
	assert_non_null(b);
	assert_null(b->next);
	assert_string_equal(a->esp_proposals[0], "aes256gcm16-x25519");
	assert_string_equal(selector_fmt(&a->local_ts[1].sel, s, sizeof(s)), "10.1.1.0/24[tcp/80]");
	assert_int_equal(a->reqid, 7);
	assert_int_equal(b->start_action, START_START);
	conn_cfg_free(d);
}

static void test_ike_time_defaults_follow_strongswan(void **state)
{
	char buf[1024];
	/* over_time given: rand_time = min(over_time, rekey_time / 2). */
	struct config *cfg = conn_with("  rekey_time = 100\n  over_time = 90", buf, sizeof(buf),
				       true);
	assert_int_equal(cfg->conns->over_time, 90);
	assert_int_equal(cfg->conns->rand_time, 50);
	config_free(cfg);
	cfg = conn_with("  rand_time = 1\n  rekey_time = 2h", buf, sizeof(buf), true);
	assert_int_equal(cfg->conns->over_time, 720);
	assert_int_equal(cfg->conns->rand_time, 1);
	config_free(cfg);
}

static void test_unsupported_and_unknown_keys(void **state)
{
	expect_conn_error("  dscp = 000000", "site-a.conf:5: connection 'site': 'dscp' is not "
			  "supported by tsunagi");
	expect_conn_error("\n  send_cert = sometimes", "site-a.conf:6: connection 'site': "
			  "invalid value 'sometimes' for 'send_cert'");
	expect_conn_error("  reauth_time = 1h", "site-a.conf:5: connection 'site': "
			  "'reauth_time' other than 0 is not supported by tsunagi (use rekey_time)");
	expect_conn_error("  foo = 1", "site-a.conf:5: connection 'site': unknown key 'foo'");
	expect_conn_error("  foo { }", "site-a.conf:5: connection 'site': unknown section 'foo'");
	expect_conn_error("  remote {\n   auth = bliss\n  }", "site-a.conf:6: connection "
			  "'site': auth = bliss is not supported by tsunagi (only psk, pubkey, "
			  "eap-mschapv2, eap-md5, eap, and xauth in a second IKEv1 round)");
	expect_conn_error("  remote {\n   certs = a.pem\n  }", "site-a.conf:6: connection "
			  "'site': certs file 'a.pem' cannot be read (./x509/a.pem)");
	expect_conn_error("  version = 1\n  aggressive = yes\n  remote {\n   auth = pubkey\n  }",
			  "site-a.conf:2: connection 'site': auth = pubkey in IKEv1 is supported by "
			  "tsunagi in Main Mode only (aggressive = no)");
	expect_conn_error("  remote {\n   auth = magic\n  }", "site-a.conf:6: connection "
			  "'site': invalid value 'magic' for 'auth'");
	expect_conn_error("  local-2 { auth = psk\n }", "site-a.conf:5: connection 'site': a "
			  "second authentication round ('local-2') other than auth = xauth is not "
			  "supported by tsunagi");
	expect_conn_error("  children {\n   net {\n    updown = /bin/true\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'net': 'updown' is not "
			  "supported by tsunagi");
	expect_conn_error("  children {\n   net {\n    bar = 1\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'net': unknown key 'bar'");
	expect_error("x = 1\n", "site-a.conf:1: unknown key 'x'");
	expect_error("authorities {\n}\n", "site-a.conf:1: 'authorities' is not supported by "
		     "tsunagi");
}

/* EAP as swanctl.conf writes it (ike/eap.h): the methods, eap_id, eap-* secrets that
 * are never taken for a PSK. */
static void test_eap_auth(void **state)
{
	char buf[1024];
	struct config *cfg = conn_with("  remote {\n   auth = eap-mschapv2\n   eap_id = %any\n  }",
				       buf, sizeof(buf), true);
	assert_int_equal(cfg->conns->remote.auth, AUTH_EAP);
	assert_int_equal(cfg->conns->remote.eap_method, 26);
	assert_string_equal(cfg->conns->remote.eap_id, "%any");
	struct conn_cfg *dup = conn_cfg_dup(cfg->conns);
	assert_string_equal(dup->remote.eap_id, "%any");
	conn_cfg_free(dup);
	config_free(cfg);
	cfg = conn_with("  remote {\n   auth = eap-md5\n  }", buf, sizeof(buf), true);
	assert_int_equal(cfg->conns->remote.eap_method, 4);
	assert_null(cfg->conns->remote.eap_id);
	config_free(cfg);
	cfg = conn_with("  remote {\n   auth = eap\n  }", buf, sizeof(buf), true);
	assert_int_equal(cfg->conns->remote.auth, AUTH_EAP);
	assert_int_equal(cfg->conns->remote.eap_method, 0);
	config_free(cfg);
	expect_conn_error("  version = 1\n  remote {\n   auth = eap-md5\n  }", "site-a.conf:2: "
			  "connection 'site': auth = eap-* is supported by tsunagi for IKEv2 only "
			  "(version = 2; IKEv1 has XAuth)");
	expect_conn_error("  remote {\n   auth = eap-tls\n  }", "site-a.conf:6: connection "
			  "'site': auth = eap-tls is not supported by tsunagi (only psk, pubkey, "
			  "eap-mschapv2, eap-md5, eap, and xauth in a second IKEv1 round)");
	cfg = build_ok("secrets {\n eap-alice {\n  id = alice\n  secret = pw\n }\n"
		       " ike-1 {\n  secret = psk\n }\n}\n");
	assert_int_equal(cfg->secrets->type, SECRET_EAP);
	assert_int_equal(cfg->secrets->next->type, SECRET_IKE);
	config_free(cfg);
}

static void test_mobike_default_accepted(void **state)
{
	char buf[512];
	struct config *cfg = conn_with("  mobike = yes", buf, sizeof(buf), true);
	assert_true(cfg->conns->mobike);
	config_free(cfg);
}

/* L2TP/IPsec selectors: dynamic with a protocol and port, as strongSwan takes them. */
static void test_dynamic_with_port(void **state)
{
	char buf[512], s[SELECTOR_STRLEN];
	struct config *cfg = conn_with("  children {\n   l2tp {\n    mode = transport\n"
				       "    local_ts = dynamic[udp/1701]\n"
				       "    remote_ts = dynamic[udp],10.0.0.0/8\n   }\n  }",
				       buf, sizeof(buf), true);
	const struct child_cfg *ch = cfg->conns->children;
	assert_true(ch->local_ts[0].dynamic);
	assert_int_equal(ch->local_ts[0].sel.proto, 17);
	assert_int_equal(ch->local_ts[0].sel.port_lo, 1701);
	assert_int_equal(ch->local_ts[0].sel.port_hi, 1701);
	assert_string_equal(ts_cfg_fmt(&ch->local_ts[0], s, sizeof(s)), "dynamic[udp/1701]");
	assert_string_equal(ts_cfg_fmt(&ch->remote_ts[0], s, sizeof(s)), "dynamic[udp]");
	assert_string_equal(ts_cfg_fmt(&ch->remote_ts[1], s, sizeof(s)), "10.0.0.0/8");
	config_free(cfg);
	cfg = conn_with("  children {\n   n {\n    local_ts = dynamic\n   }\n  }", buf,
			sizeof(buf), true);
	assert_string_equal(ts_cfg_fmt(&cfg->conns->children->local_ts[0], s, sizeof(s)),
			    "dynamic");
	config_free(cfg);
	expect_conn_error("  children {\n   n {\n    local_ts = dynamic[udp/99999]\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'n': invalid traffic selector "
			  "'dynamic[udp/99999]' in 'local_ts'");
	expect_conn_error("  children {\n   n {\n    local_ts = dynamicx\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'n': invalid traffic selector "
			  "'dynamicx' in 'local_ts'");
}

/* fragmentation as strongSwan (default yes) and tsunagi { fragment_size }. */
static void test_fragmentation_keys(void **state)
{
	static const char *const v[] = { "yes", "accept", "force", "no" };
	char buf[512];
	struct config *cfg = conn_with("", buf, sizeof(buf), true);
	assert_int_equal(cfg->conns->fragmentation, FRAG_YES);
	assert_int_equal(cfg->daemon.fragment_size, 1280);
	config_free(cfg);
	for (int i = 0; i < 4; i++) {
		char line[64];
		snprintf(line, sizeof(line), "  fragmentation = %s", v[i]);
		cfg = conn_with(line, buf, sizeof(buf), true);
		assert_int_equal(cfg->conns->fragmentation, (enum frag_policy)i);
		config_free(cfg);
	}
	expect_conn_error("  fragmentation = maybe", "site-a.conf:5: connection 'site': invalid "
			  "value 'maybe' for 'fragmentation'");
	cfg = build_ok("tsunagi {\n fragment_size = 0\n}\n");
	assert_int_equal(cfg->daemon.fragment_size, 0);
	config_free(cfg);
	cfg = build_ok("tsunagi {\n fragment_size = 576\n}\n");
	assert_int_equal(cfg->daemon.fragment_size, 576);
	config_free(cfg);
	expect_error("tsunagi {\n fragment_size = 100\n}\n",
		     "site-a.conf:2: tsunagi: 'fragment_size' must be 0 or 256..65535");
}

static void test_bad_values(void **state)
{
	expect_conn_error("  version = 3", "site-a.conf:5: connection 'site': invalid value '3' "
			  "for 'version'");
	expect_conn_error("  encap = maybe", "site-a.conf:5: connection 'site': invalid value "
			  "'maybe' for 'encap'");
	expect_conn_error("  dpd_delay = 5x", "site-a.conf:5: connection 'site': invalid value "
			  "'5x' for 'dpd_delay'");
	expect_conn_error("  dpd_delay = -5", "site-a.conf:5: connection 'site': invalid value "
			  "'-5' for 'dpd_delay'");
	expect_conn_error("  local_port = 70000", "site-a.conf:5: connection 'site': invalid "
			  "value '70000' for 'local_port'");
	expect_conn_error("  rekey_time = 99999999999999999999", "site-a.conf:5: connection "
			  "'site': invalid value '99999999999999999999' for 'rekey_time'");
	expect_conn_error("  unique = sometimes", "site-a.conf:5: connection 'site': invalid "
			  "value 'sometimes' for 'unique'");
	expect_conn_error("  remote_addrs = ,", "site-a.conf:5: connection 'site': "
			  "'remote_addrs' is empty");
	expect_conn_error("  children {\n   net {\n    mode = beet\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'net': mode 'beet' is not "
			  "supported by tsunagi");
	expect_conn_error("  children {\n   net {\n    mode = tunnels\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'net': invalid value 'tunnels' "
			  "for 'mode'");
	expect_conn_error("  children {\n   net {\n    local_ts = 10.1.0.0/33\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'net': invalid traffic "
			  "selector '10.1.0.0/33' in 'local_ts'");
	expect_conn_error("  children {\n   net {\n    start_action = go\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'net': invalid value 'go' for "
			  "'start_action'");
	expect_conn_error("  children {\n   net {\n    rekey_bytes = 5T\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'net': invalid value '5T' for "
			  "'rekey_bytes'");
	expect_conn_error("  children {\n   net {\n    rekey_packets = 5k\n   }\n  }",
			  "site-a.conf:7: connection 'site', child 'net': invalid value '5k' for "
			  "'rekey_packets'");
	expect_conn_error("  children {\n   net = 1\n  }", "site-a.conf:6: connection 'site': "
			  "child 'net' must be a section");
}

static void test_missing_local_auth(void **state)
{
	expect_error("connections {\n site {\n  remote_addrs = 203.0.113.1\n }\n}\n",
		     "site-a.conf:2: connection 'site': no 'local' section: strongSwan's default "
		     "auth (pubkey) needs a certificate; add local { certs = ... } or local "
		     "{ auth = psk }");
	expect_error("connections {\n site {\n  local {\n   id = a\n  }\n }\n}\n",
		     "site-a.conf:3: connection 'site': 'local' authenticates by public key "
		     "(auth = pubkey, strongSwan's default) but names no 'certs'");
}

static void test_proposals_validated(void **state)
{
	char buf[512];
	/* The wording after the key is proposal_parse()'s (ike/proposal.c). */
	assert_null(conn_with("  proposals = aes128-sha256-modp2048, aes257-sha256-modp2048",
			      buf, sizeof(buf), false));
	assert_non_null(strstr(err, "site-a.conf:5: connection 'site': 'proposals': "));
	assert_non_null(strstr(err, "aes257"));
	struct config *cfg = conn_with("  children {\n   n {\n    esp_proposals = aes128\n"
				       "   }\n  }", buf, sizeof(buf), false);
	assert_null(cfg);
	assert_non_null(strstr(err, "site-a.conf:7: connection 'site', child 'n': "
			       "'esp_proposals': "));
	/* An ESP proposal is not an IKE proposal: no PRF in ESP. */
	assert_null(conn_with("  children {\n   n {\n    esp_proposals = aes128-prfsha256\n"
			      "   }\n  }", buf, sizeof(buf), false));
	assert_non_null(strstr(err, "site-a.conf:7: connection 'site', child 'n': "));
}

/* secret_cfg_free must wipe the key before giving the memory back: the test binary is
 * linked with --wrap=free, so it sees the bytes at the moment they are freed. */
void __real_free(void *p);
void __wrap_free(void *p);
static const void *watched;
static size_t watched_len;
static int watched_state;	/* 0 not seen, 1 freed wiped, 2 freed with data */

void __wrap_free(void *p)
{
	if (p && p == watched) {
		const uint8_t *b = p;
		watched_state = 1;
		for (size_t i = 0; i < watched_len; i++)
			if (b[i])
				watched_state = 2;
	}
	__real_free(p);
}

static void test_secrets_decoding_and_wipe(void **state)
{
	struct config *cfg = build_ok("secrets {\n"
				      " ike-hex {\n  secret = 0x01:02ff\n  id = a.example\n"
				      "  id-2 = \"C=CH, CN=b\"\n }\n"
				      " ike-b64 { secret = 0sAAEC/w==\n}\n"
				      " ike { secret = \"plain text\"\n}\n"
				      "}\n");
	struct secret_cfg *s = cfg->secrets;
	assert_string_equal(s->name, "ike-hex");
	assert_int_equal(s->secret_len, 3);
	assert_memory_equal(s->secret, "\x01\x02\xff", 3);
	assert_int_equal(s->n_ids, 2);
	assert_string_equal(s->ids[0], "a.example");
	assert_string_equal(s->ids[1], "C=CH, CN=b");
	s = s->next;
	assert_int_equal(s->secret_len, 4);
	assert_memory_equal(s->secret, "\x00\x01\x02\xff", 4);
	assert_int_equal(s->n_ids, 0);
	s = s->next;
	assert_int_equal(s->secret_len, 10);
	assert_memory_equal(s->secret, "plain text", 10);

	watched = s->secret;
	watched_len = s->secret_len;
	watched_state = 0;
	config_free(cfg);
	assert_int_equal(watched_state, 1);
	watched = NULL;
}

static void test_secret_errors(void **state)
{
	expect_error("secrets {\n ike-x {\n  id = a\n }\n}\n",
		     "site-a.conf:2: secret 'ike-x': 'secret' missing");
	expect_error("secrets {\n ike-x {\n  secret = 0xabc\n }\n}\n",
		     "site-a.conf:3: secret 'ike-x': invalid 'secret' (empty, or bad 0x hex / "
		     "0s base64)");
	expect_error("secrets {\n ike-x {\n  secret = 0s!!!\n }\n}\n",
		     "site-a.conf:3: secret 'ike-x': invalid 'secret' (empty, or bad 0x hex / "
		     "0s base64)");
	expect_error("secrets {\n ike-x {\n  secret = s\n  user = u\n }\n}\n",
		     "site-a.conf:4: secret 'ike-x': unknown key 'user'");
	expect_error("secrets {\n ntlm-x {\n  secret = s\n }\n}\n",
		     "site-a.conf:2: secret 'ntlm-x': only ike (PSK), eap and xauth secrets are "
		     "supported by tsunagi");
	expect_error("secrets {\n foo {\n }\n}\n", "site-a.conf:2: unknown secret type 'foo'");

	/* VICI load-shared names its key freely: the builder takes any name. */
	struct ctree *sec = ctree_new("my key", "vici", 0);
	ctree_add_value(sec, "secret", "0x00ff", "vici", 0);
	ctree_add_value(sec, "id-0", "peer", "vici", 0);
	struct secret_cfg *x = config_build_secret(sec, err, sizeof(err));
	if (!x)
		fail_msg("%s", err);
	assert_int_equal(x->secret_len, 2);
	assert_string_equal(x->ids[0], "peer");
	secret_cfg_free(x);
	ctree_free(sec);
}

/* IKEv1 XAuth: remote-2 { auth = xauth } (server), local-2 { auth = xauth, xauth_id }
 * (client), xauth-* secrets kept apart from the PSKs, pull, and the errors. */
static void test_xauth_rounds(void **state)
{
	struct config *cfg = build_ok(
		"connections {\n"
		" rw {\n  version = 1\n  pull = no\n"
		"  local { auth = psk\n }\n  remote { auth = psk\n }\n"
		"  remote-2 { auth = xauth\n  xauth_id = alice\n }\n }\n"
		" cl {\n  version = 1\n"
		"  local-1 { auth = psk\n  round = 1\n }\n"
		"  local-2 { auth = xauth-generic\n  xauth_id = bob\n }\n }\n"
		" site {\n  local { auth = psk\n }\n }\n"
		"}\n"
		"secrets {\n ike-1 {\n  secret = psk\n }\n"
		" xauth-alice {\n  id = alice\n  secret = pw\n }\n}\n");
	const struct conn_cfg *rw = config_find_conn(cfg, "rw");
	const struct conn_cfg *cl = config_find_conn(cfg, "cl");
	const struct conn_cfg *site = config_find_conn(cfg, "site");
	assert_int_equal(rw->remote.auth, AUTH_PSK);
	assert_int_equal(rw->remote_xauth.auth, AUTH_XAUTH);
	assert_int_equal(rw->remote_xauth.round, 2);
	assert_string_equal(rw->remote_xauth.xauth_id, "alice");
	assert_int_equal(rw->local_xauth.auth, 0);
	assert_false(rw->pull);
	assert_int_equal(cl->local.auth, AUTH_PSK);
	assert_int_equal(cl->local_xauth.auth, AUTH_XAUTH);
	assert_string_equal(cl->local_xauth.xauth_id, "bob");
	assert_true(cl->pull);	/* strongSwan's default */
	assert_int_equal(site->remote_xauth.auth + site->local_xauth.auth, 0);
	assert_int_equal(cfg->secrets->type, SECRET_IKE);
	assert_int_equal(cfg->secrets->next->type, SECRET_XAUTH);
	assert_string_equal(cfg->secrets->next->ids[0], "alice");
	/* A copy (a disabled connection) keeps the round. */
	struct conn_cfg *dup = conn_cfg_dup(rw);
	assert_non_null(dup);
	assert_string_equal(dup->remote_xauth.xauth_id, "alice");
	assert_ptr_not_equal(dup->remote_xauth.xauth_id, rw->remote_xauth.xauth_id);
	conn_cfg_free(dup);
	config_free(cfg);

	expect_conn_error("  version = 2\n  remote-2 { auth = xauth\n }",
			  "site-a.conf:2: connection 'site': auth = xauth is IKEv1 only (this "
			  "connection has version = 2)");
	expect_conn_error("  remote-2 { auth = xauth\n }\n  remote-3 { auth = xauth\n }",
			  "site-a.conf:7: connection 'site': a second auth = xauth round "
			  "('remote-3') on the same side");
	expect_conn_error("  remote { auth = psk\n  xauth_id = x\n }",
			  "site-a.conf:5: connection 'site': 'xauth_id' belongs in an auth = xauth "
			  "round");
	expect_conn_error("  local-2 { auth = xauth\n }\n  remote-2 { auth = xauth\n }",
			  "site-a.conf:2: connection 'site': auth = xauth on both sides: tsunagi is "
			  "either the XAuth server (remote-N) or the client (local-N)");
}

static void test_daemon_section(void **state)
{
	struct config *cfg = build_ok("tsunagi {\n"
				      " log {\n  default = 0\n  ike = 2\n  knl = -1\n }\n"
				      " esp { threads = 2\n}\n"
				      " tun = tsn1\n port = 1500\n port_nat_t = 14500\n"
				      " keep_alive = 1m\n retransmit_timeout = 0.5\n"
				      " retransmit_base = 2\n retransmit_tries = 3\n"
				      "}\n");
	struct daemon_cfg *d = &cfg->daemon;
	assert_int_equal(d->log_level[LOG_IKE], 2);
	assert_int_equal(d->log_level[0], 0);
	assert_int_equal(d->log_level[6], -1);	/* knl */
	assert_int_equal(d->esp_threads, 2);
	assert_string_equal(d->tun_name, "tsn1");
	assert_int_equal(d->ike_port, 1500);
	assert_int_equal(d->ike_port_natt, 14500);
	assert_int_equal(d->natt_keepalive, 60);
	assert_int_equal(d->retransmit_timeout_ms, 500);
	assert_true(d->retransmit_base == 2.0);
	assert_int_equal(d->retransmit_tries, 3);
	config_free(cfg);
	expect_error("tsunagi {\n log {\n  ikee = 1\n }\n}\n",
		     "site-a.conf:3: tsunagi: unknown log subsystem 'ikee'");
	expect_error("tsunagi {\n log {\n  ike = 9\n }\n}\n",
		     "site-a.conf:3: tsunagi: invalid log level '9' (-1..4)");
	expect_error("tsunagi {\n tun = a/b\n}\n",
		     "site-a.conf:2: tsunagi: invalid value 'a/b' for 'tun'");
	expect_error("tsunagi {\n threads = 1\n}\n",
		     "site-a.conf:2: tsunagi: unknown key 'threads'");
}

/* tsunagi { metrics { listen = ... } }: off by default, an address with its port, and
 * every mistake named with file:line. */
static void test_daemon_metrics(void **state)
{
	struct config *cfg = build_ok("tsunagi {\n}\n");
	assert_int_equal(cfg->daemon.metrics_listen.family, 0);
	config_free(cfg);
	cfg = build_ok("tsunagi {\n metrics {\n  listen = 127.0.0.1:9903\n }\n}\n");
	assert_int_equal(cfg->daemon.metrics_listen.family, AF_INET);
	assert_int_equal(cfg->daemon.metrics_listen.port, 9903);
	assert_int_equal(ntohl(cfg->daemon.metrics_listen.u.v4.s_addr), 0x7f000001);
	config_free(cfg);
	cfg = build_ok("tsunagi {\n metrics {\n  listen = [::1]:80\n }\n}\n");
	assert_int_equal(cfg->daemon.metrics_listen.family, AF_INET6);
	assert_int_equal(cfg->daemon.metrics_listen.port, 80);
	config_free(cfg);
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:99x",
		"::1:9903", "[::1]", "[::1]9903", "[127.0.0.1]:9903", "localhost:9903", ":9903",
		"[::1:9903", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128], want[192];
		snprintf(text, sizeof(text), "tsunagi {\n metrics {\n  listen = \"%s\"\n }\n}\n", bad[i]);
		snprintf(want, sizeof(want), "site-a.conf:3: tsunagi: invalid metrics listen address "
			 "'%s' (want ADDRESS:PORT, e.g. 127.0.0.1:9903 or [::1]:9903)", bad[i]);
		expect_error(text, want);
	}
	expect_error("tsunagi {\n metrics {\n  port = 9903\n }\n}\n",
		     "site-a.conf:3: tsunagi: unknown key 'port'");
	expect_error("tsunagi {\n metrics = 127.0.0.1:9903\n}\n",
		     "site-a.conf:2: tsunagi: 'metrics' must be a section");
}

/* A load-conn message arrives as a tree with VICI lists; the same builder reads it. */
static void test_vici_shaped_tree(void **state)
{
	struct ctree *conn = ctree_new("vpn", "vici", 0);
	struct ctree *l = ctree_add_list(conn, "remote_addrs", "vici", 0);
	ctree_list_append(l, "203.0.113.1");
	ctree_list_append(l, "203.0.113.2");
	l = ctree_add_list(conn, "proposals", "vici", 0);
	ctree_list_append(l, "aes128-sha256-modp2048");
	ctree_add_value(conn, "version", "2", "vici", 0);
	struct ctree *local = ctree_add_section(conn, "local", "vici", 0);
	ctree_add_value(local, "auth", "psk", "vici", 0);
	struct ctree *child = ctree_add_section(ctree_add_section(conn, "children", "vici", 0),
						"net", "vici", 0);
	l = ctree_add_list(child, "local_ts", "vici", 0);
	ctree_list_append(l, "10.1.0.0/24");
	l = ctree_add_list(child, "remote_ts", "vici", 0);
	ctree_list_append(l, "10.2.0.0/24");

	struct conn_cfg *c = config_build_conn(conn, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	assert_string_equal(c->name, "vpn");
	assert_string_equal(c->file, "vici");
	assert_int_equal(c->n_remote_addrs, 2);
	assert_string_equal(c->remote_addrs[1], "203.0.113.2");
	assert_int_equal(c->version, 2);
	assert_int_equal(c->children->n_local_ts, 1);
	char s[SELECTOR_STRLEN];
	assert_string_equal(selector_fmt(&c->children->remote_ts[0].sel, s, sizeof(s)),
			    "10.2.0.0/24");
	conn_cfg_free(c);

	ctree_add_list(conn, "dscp", "vici", 0);
	assert_null(config_build_conn(conn, err, sizeof(err)));
	assert_string_equal(err, "vici: connection 'vpn': 'dscp' is not supported by tsunagi");
	ctree_free(conn);
}

/* etc/ holds configs users copy: each must load, with the fields it shows. */
static void etc_path(char *out, size_t len, const char *name)
{
	const char *srcdir = getenv("srcdir");
	if (srcdir) {
		snprintf(out, len, "%s/etc/%s", srcdir, name);
	} else {
		char file[512];
		snprintf(file, sizeof(file), "%s", __FILE__);
		snprintf(out, len, "%s/../../etc/%s", dirname(file), name);
	}
}

static void test_example_site_a(void **state)
{
	char path[600];
	etc_path(path, sizeof(path), "site-a.conf");
	struct config *cfg = config_load_file(path, err, sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	struct conn_cfg *c = config_find_conn(cfg, "site-b");
	assert_non_null(c);
	assert_int_equal(c->version, 2);
	assert_string_equal(c->local_addrs[0], "192.0.2.1");
	assert_string_equal(c->remote_addrs[0], "203.0.113.1");
	assert_string_equal(c->local.id, "gw-a.example.net");
	assert_string_equal(c->remote.id, "gw-b.example.net");
	char s[SELECTOR_STRLEN];
	assert_string_equal(selector_fmt(&c->children->local_ts[0].sel, s, sizeof(s)),
			    "10.1.0.0/24");
	assert_string_equal(selector_fmt(&c->children->remote_ts[0].sel, s, sizeof(s)),
			    "10.2.0.0/24");
	assert_int_equal(c->children->start_action, START_TRAP);
	assert_non_null(cfg->secrets);
	assert_int_equal(cfg->secrets->n_ids, 2);
	assert_memory_equal(cfg->secrets->secret, "tsunagi example key", 19);
	assert_string_equal(cfg->daemon.tun_name, "tsunagi0");
	config_free(cfg);
}

/* etc/tsunagi.conf, what `make install` puts in /etc/tsunagi: it loads with no
 * connection (its conf.d/ is empty or absent) and the daemon's defaults. */
static void test_example_installed_conf(void **state)
{
	char path[600];
	etc_path(path, sizeof(path), "tsunagi.conf");
	struct config *cfg = config_load_file(path, err, sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	assert_null(cfg->conns);
	assert_null(cfg->secrets);
	assert_string_equal(cfg->daemon.tun_name, "tsunagi0");
	assert_int_equal(cfg->daemon.ike_port, 500);
	config_free(cfg);
}

static void test_example_strongswan_site_b(void **state)
{
	char path[600];
	etc_path(path, sizeof(path), "strongswan-site-b.conf");
	struct config *cfg = config_load_file(path, err, sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	struct conn_cfg *c = config_find_conn(cfg, "site-a");
	assert_non_null(c);
	assert_string_equal(c->local_addrs[0], "203.0.113.1");
	assert_string_equal(c->remote_addrs[0], "192.0.2.1");
	char s[SELECTOR_STRLEN];
	assert_string_equal(selector_fmt(&c->children->local_ts[0].sel, s, sizeof(s)),
			    "10.2.0.0/24");
	config_free(cfg);
}

static void test_load_file_error_returns_null(void **state)
{
	assert_null(config_load_file("/nonexistent/swanctl.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/swanctl.conf: cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_defaults),
		cmocka_unit_test(test_explicit_values),
		cmocka_unit_test(test_ike_time_defaults_follow_strongswan),
		cmocka_unit_test(test_unsupported_and_unknown_keys),
		cmocka_unit_test(test_mobike_default_accepted),
		cmocka_unit_test(test_fragmentation_keys),
		cmocka_unit_test(test_dynamic_with_port),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_missing_local_auth),
		cmocka_unit_test(test_proposals_validated),
		cmocka_unit_test(test_secrets_decoding_and_wipe),
		cmocka_unit_test(test_secret_errors),
		cmocka_unit_test(test_eap_auth),
		cmocka_unit_test(test_xauth_rounds),
		cmocka_unit_test(test_daemon_section),
		cmocka_unit_test(test_daemon_metrics),
		cmocka_unit_test(test_vici_shaped_tree),
		cmocka_unit_test(test_example_site_a),
		cmocka_unit_test(test_example_strongswan_site_b),
		cmocka_unit_test(test_example_installed_conf),
		cmocka_unit_test(test_load_file_error_returns_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
