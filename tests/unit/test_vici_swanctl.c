/* vici/ against strongSwan's own client: a fake daemon serves the commands swanctl
 * 5.9.8 sends, and the real /usr/sbin/swanctl (--uri unix://...) must accept our
 * answers and print what it prints for charon. The same fake daemon also checks
 * tsunagictl's requests when the tsunagictl binary is next to this test. Skipped
 * when swanctl is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "vici/vici_client.h"
#include "vici/vici_server.h"
#include "vici/vici_views.h"

#define SWANCTL "/usr/sbin/swanctl"

struct fake {
	char dir[64], uri[160];
	struct event_base *base;
	struct vici_server *srv;
	pthread_t thread;
	char conns[8][64];
	int n_conns;
	char last_load_conn[2048];	/* JSON of the last load-conn request */
	char last_shared[512];		/* JSON of the last load-shared request */
	int unloaded;
};

static void to_json(const struct ctree *t, char *out, size_t outlen)
{
	FILE *f = fmemopen(out, outlen, "w");
	vici_print_json(f, t, false);
	fclose(f);
}

static enum vici_reply ok(void *arg, struct vici_conn *c, const struct ctree *req,
			  struct vici_msg *resp)
{
	vici_build_result(resp, true, NULL);
	return VICI_REPLY_DONE;
}

static enum vici_reply empty(void *arg, struct vici_conn *c, const struct ctree *req,
			     struct vici_msg *resp)
{
	return VICI_REPLY_DONE;
}

static enum vici_reply empty_list(struct vici_msg *resp, const char *key)
{
	vici_begin_list(resp, key);
	vici_end_list(resp);
	return VICI_REPLY_DONE;
}

static enum vici_reply get_keys(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	return empty_list(resp, "keys");
}

static enum vici_reply get_authorities(void *arg, struct vici_conn *c,
				       const struct ctree *req, struct vici_msg *resp)
{
	return empty_list(resp, "authorities");
}

static enum vici_reply version(void *arg, struct vici_conn *c, const struct ctree *req,
			       struct vici_msg *resp)
{
	struct utsname u;
	uname(&u);
	vici_add_kv(resp, "daemon", "tsunagid");
	vici_add_kv(resp, "version", "0.1");
	vici_add_kv(resp, "sysname", u.sysname);
	vici_add_kv(resp, "release", u.release);
	vici_add_kv(resp, "machine", u.machine);
	return VICI_REPLY_DONE;
}

static enum vici_reply stats(void *arg, struct vici_conn *c, const struct ctree *req,
			     struct vici_msg *resp)
{
	static const char *const prio[] = { "critical", "high", "medium", "low" };
	vici_begin_section(resp, "uptime");
	vici_add_kv(resp, "running", "5 minutes");
	vici_add_kv(resp, "since", "Jan 01 00:00:00 2025");
	vici_end_section(resp);
	vici_begin_section(resp, "workers");
	vici_add_kv(resp, "total", "1");
	vici_add_kv(resp, "idle", "1");
	vici_begin_section(resp, "active");
	for (int i = 0; i < 4; i++)
		vici_add_kv(resp, prio[i], "0");
	vici_end_section(resp);
	vici_end_section(resp);
	vici_begin_section(resp, "queues");
	for (int i = 0; i < 4; i++)
		vici_add_kv(resp, prio[i], "0");
	vici_end_section(resp);
	vici_add_kv(resp, "scheduled", "0");
	vici_begin_section(resp, "ikesas");
	vici_add_kv(resp, "total", "1");
	vici_add_kv(resp, "half-open", "0");
	vici_end_section(resp);
	vici_begin_list(resp, "plugins");
	vici_end_list(resp);
	return VICI_REPLY_DONE;
}

static void build_list_sa(struct vici_msg *ev)
{
	struct selector ts[2];
	selector_parse("10.1.0.0/24", &ts[0]);
	selector_parse("10.2.0.0/24", &ts[1]);
	struct vici_child_view child = {
		.name = "net-net", .uniqueid = 7, .reqid = 1, .state = "INSTALLED",
		.mode = "TUNNEL", .encap = true, .spi_in = 0xc1a2b3c4, .spi_out = 0xabcd,
		.encr_alg = "AES_GCM_16", .encr_keysize = 256, .bytes_in = 1234,
		.packets_in = 10, .bytes_out = 5678, .packets_out = 20, .use_in = 3,
		.use_out = -1, .rekey_time = 3000, .life_time = 3500, .install_time = 100,
		.local_ts = &ts[0], .n_local_ts = 1, .remote_ts = &ts[1], .n_remote_ts = 1,
	};
	struct vici_ike_view ike = {
		.name = "site-b", .uniqueid = 3, .version = 2, .state = "ESTABLISHED",
		.local_id = "gw-a.example.net", .remote_id = "gw-b.example.net",
		.initiator = true, .spi_i = 0x0123456789abcdefULL, .spi_r = 0xfedcba9876543210ULL,
		.encr_alg = "AES_GCM_16", .encr_keysize = 256, .prf_alg = "PRF_HMAC_SHA2_256",
		.dh_group = "CURVE_25519", .established = 42, .rekey_time = 13000,
		.children = &child, .n_children = 1,
	};
	addr_parse("192.0.2.1", &ike.local);
	ike.local.port = 4500;
	addr_parse("203.0.113.1", &ike.remote);
	ike.remote.port = 4500;
	vici_build_list_sa(ev, &ike);
}

static enum vici_reply list_sas(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	struct vici_msg ev;
	vici_msg_init(&ev);
	build_list_sa(&ev);
	vici_conn_event(c, "list-sa", &ev);
	vici_msg_free(&ev);
	return VICI_REPLY_DONE;
}

/* The list-sa event as vici_print_raw prints it. */
static void print_list_sa(FILE *out, bool pretty)
{
	struct vici_msg ev;
	char err[128];
	vici_msg_init(&ev);
	build_list_sa(&ev);
	struct ctree *t = vici_parse_message(ev.b.data, ev.b.len, err, sizeof(err));
	vici_print_raw(out, "list-sa event", t, pretty);
	ctree_free(t);
	vici_msg_free(&ev);
}

static enum vici_reply list_conns(void *arg, struct vici_conn *c, const struct ctree *req,
				  struct vici_msg *resp)
{
	const char *laddrs[] = { "192.0.2.1" }, *raddrs[] = { "203.0.113.1" };
	const char *lts[] = { "10.1.0.0/24" }, *rts[] = { "10.2.0.0/24" };
	struct vici_auth_view local = { "pre-shared key", "gw-a.example.net", NULL };
	struct vici_auth_view remote = { "pre-shared key", "gw-b.example.net", NULL };
	struct vici_child_cfg_view child = {
		.name = "net-net", .mode = "TUNNEL", .rekey_time = 3600, .dpd_action = "restart",
		.local_ts = lts, .n_local_ts = 1, .remote_ts = rts, .n_remote_ts = 1,
	};
	struct vici_conn_view conn = {
		.name = "site-b", .local_addrs = laddrs, .n_local_addrs = 1,
		.remote_addrs = raddrs, .n_remote_addrs = 1, .version = 2,
		.rekey_time = 14400, .dpd_delay = 30, .local = &local, .n_local = 1,
		.remote = &remote, .n_remote = 1, .children = &child, .n_children = 1,
	};
	struct vici_msg ev;
	vici_msg_init(&ev);
	vici_build_list_conn(&ev, &conn);
	vici_conn_event(c, "list-conn", &ev);
	vici_msg_free(&ev);
	return VICI_REPLY_DONE;
}

static enum vici_reply get_conns(void *arg, struct vici_conn *c, const struct ctree *req,
				 struct vici_msg *resp)
{
	struct fake *f = arg;
	vici_begin_list(resp, "conns");
	for (int i = 0; i < f->n_conns; i++)
		vici_add_item(resp, f->conns[i]);
	vici_end_list(resp);
	return VICI_REPLY_DONE;
}

static enum vici_reply load_conn(void *arg, struct vici_conn *c, const struct ctree *req,
				 struct vici_msg *resp)
{
	struct fake *f = arg;
	to_json(req, f->last_load_conn, sizeof(f->last_load_conn));
	if (!req->child || !ctree_is_section(req->child)) {
		vici_build_result(resp, false, "missing connection section");
		return VICI_REPLY_DONE;
	}
	if (f->n_conns < 8)
		snprintf(f->conns[f->n_conns++], sizeof(f->conns[0]), "%s", req->child->name);
	vici_build_result(resp, true, NULL);
	return VICI_REPLY_DONE;
}

static enum vici_reply unload_conn(void *arg, struct vici_conn *c, const struct ctree *req,
				   struct vici_msg *resp)
{
	struct fake *f = arg;
	f->unloaded++;
	vici_build_result(resp, true, NULL);
	return VICI_REPLY_DONE;
}

static enum vici_reply load_shared(void *arg, struct vici_conn *c, const struct ctree *req,
				   struct vici_msg *resp)
{
	struct fake *f = arg;
	to_json(req, f->last_shared, sizeof(f->last_shared));
	vici_build_result(resp, true, NULL);
	return VICI_REPLY_DONE;
}

static void send_log(struct vici_conn *c, const char *text)
{
	struct vici_msg ev;
	vici_msg_init(&ev);
	vici_build_log(&ev, "IKE", 1, "site-b", 3, text);
	vici_conn_event(c, "control-log", &ev);
	vici_msg_free(&ev);
}

static void initiate_done(evutil_socket_t fd, short what, void *arg)
{
	struct vici_conn *c = arg;
	struct vici_msg m;
	send_log(c, "IKE_SA site-b[3] established between 192.0.2.1...203.0.113.1");
	vici_msg_init(&m);
	vici_build_result(&m, true, NULL);
	vici_conn_respond(c, &m);
	vici_msg_free(&m);
}

/* Deferred like the real one: a log line now, the result 50 ms later. */
static enum vici_reply initiate(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	struct fake *f = arg;
	if (strcmp(vici_find_str(req, "child", ""), "net-net") != 0) {
		vici_build_result(resp, false, "CHILD_SA config 'nope' not found");
		return VICI_REPLY_DONE;
	}
	send_log(c, "initiating IKE_SA site-b[3] to 203.0.113.1");
	struct timeval tv = { 0, 50000 };
	event_base_once(f->base, -1, EV_TIMEOUT, initiate_done, c, &tv);
	return VICI_REPLY_PENDING;
}

static enum vici_reply counters(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	vici_build_result(resp, true, NULL);
	vici_begin_section(resp, "counters");
	vici_begin_section(resp, "");
	vici_add_kv(resp, "ike-rekey-init", "2");
	vici_add_kv(resp, "invalid", "5");
	vici_end_section(resp);
	vici_end_section(resp);
	return VICI_REPLY_DONE;
}

static enum vici_reply quit(void *arg, struct vici_conn *c, const struct ctree *req,
			    struct vici_msg *resp)
{
	struct fake *f = arg;
	struct timeval tv = { 0, 50000 };
	event_base_loopexit(f->base, &tv);
	return VICI_REPLY_DONE;
}

static void *loop(void *arg)
{
	struct fake *f = arg;
	event_base_dispatch(f->base);
	return NULL;
}

static int setup(void **state)
{
	if (access(SWANCTL, X_OK) != 0)
		return 0;	/* the tests skip */
	struct fake *f = calloc(1, sizeof(*f));
	char err[256];
	strcpy(f->dir, "/tmp/vici-swanctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uri, sizeof(f->uri), "unix://%s/s.vici", f->dir);
	f->base = event_base_new();
	f->srv = vici_server_new(f->base, f->uri, NULL, err, sizeof(err));
	assert_non_null(f->srv);
	static const struct { const char *name; vici_cmd_fn fn; } cmds[] = {
		{ "version", version }, { "stats", stats }, { "list-sas", list_sas },
		{ "list-conns", list_conns }, { "get-conns", get_conns },
		{ "load-conn", load_conn }, { "unload-conn", unload_conn },
		{ "load-shared", load_shared }, { "get-shared", get_keys },
		{ "unload-shared", ok }, { "clear-creds", ok }, { "get-keys", get_keys },
		{ "unload-key", ok }, { "load-key", ok }, { "load-cert", ok },
		{ "flush-certs", ok }, { "load-token", ok },
		{ "get-pools", empty }, { "load-pool", ok }, { "unload-pool", ok },
		{ "get-authorities", get_authorities }, { "load-authority", ok },
		{ "unload-authority", ok }, { "initiate", initiate }, { "terminate", ok },
		{ "get-counters", counters }, { "reset-counters", ok }, { "quit", quit },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		vici_server_register(f->srv, cmds[i].name, cmds[i].fn, f);
	static const char *const events[] = { "list-sa", "list-conn", "control-log",
					      "ike-updown", "child-updown", "log" };
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		vici_server_add_event(f->srv, events[i]);
	assert_int_equal(pthread_create(&f->thread, NULL, loop, f), 0);
	*state = f;
	return 0;
}

/* Runs a command line, returns its stdout+stderr (static buffer) and exit status. */
static const char *run(const char *cmd, int *status)
{
	static char out[16384];
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

static const char *swanctl(struct fake *f, const char *args, int *status)
{
	char cmd[1024];
	/* swanctl wants its verb first. */
	snprintf(cmd, sizeof(cmd), "timeout 20 " SWANCTL " %s --uri %s 2>&1", args, f->uri);
	return run(cmd, status);
}

static void expect_in(const char *out, const char *want)
{
	if (!strstr(out, want))
		fail_msg("output lacks '%s':\n%s", want, out);
}

static void fake_free(struct fake *f)
{
	char err[256];
	struct vici_client *cl = vici_client_connect(f->uri, err, sizeof(err));
	assert_non_null(cl);
	ctree_free(vici_client_request(cl, "quit", NULL, err, sizeof(err)));
	vici_client_close(cl);
	pthread_join(f->thread, NULL);
	vici_server_free(f->srv);
	event_base_free(f->base);
	char conf[256];
	snprintf(conf, sizeof(conf), "%s/swanctl.conf", f->dir);
	unlink(conf);
	rmdir(f->dir);
	free(f);
}

static int teardown(void **state)
{
	if (*state)
		fake_free(*state);
	return 0;
}

static void test_swanctl(void **state)
{
	struct fake *f = *state;
	int st;
	const char *out;
	if (!f)
		skip();

	out = swanctl(f, "--version --daemon", &st);
	assert_int_equal(st, 0);
	expect_in(out, "strongSwan 0.1 tsunagid (Linux, ");
	out = swanctl(f, "--version --daemon --raw", &st);
	expect_in(out, "version reply {daemon=tsunagid version=0.1 sysname=Linux ");

	out = swanctl(f, "--stats", &st);
	assert_int_equal(st, 0);
	expect_in(out, "uptime: 5 minutes, since Jan 01 00:00:00 2025");
	expect_in(out, "IKE_SAs: 1 total, 0 half-open");

	out = swanctl(f, "--list-sas", &st);
	assert_int_equal(st, 0);
	expect_in(out, "site-b: #3, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r");
	expect_in(out, "local  'gw-a.example.net' @ 192.0.2.1[4500]");
	expect_in(out, "remote 'gw-b.example.net' @ 203.0.113.1[4500]");
	expect_in(out, "AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519");
	expect_in(out, "established 42s ago, rekeying in 13000s");
	expect_in(out, "net-net: #7, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256");
	expect_in(out, "installed 100s ago, rekeying in 3000s, expires in 3500s");
	expect_in(out, "in  c1a2b3c4,   1234 bytes,    10 packets,     3s ago");
	expect_in(out, "out 0000abcd,   5678 bytes,    20 packets");
	expect_in(out, "local  10.1.0.0/24");
	expect_in(out, "remote 10.2.0.0/24");

	out = swanctl(f, "--list-sas --raw", &st);
	assert_int_equal(st, 0);
	expect_in(out, "list-sa event {site-b {uniqueid=3 version=2 state=ESTABLISHED ");
	expect_in(out, "local-ts=[10.1.0.0/24] remote-ts=[10.2.0.0/24]}}}}");
	expect_in(out, "list-sas reply {}");

	/* Our printer must match swanctl's byte for byte, raw and pretty. */
	for (int pretty = 0; pretty < 2; pretty++) {
		out = swanctl(f, pretty ? "--list-sas --pretty" : "--list-sas --raw", &st);
		char mine[8192];
		FILE *m = fmemopen(mine, sizeof(mine), "w");
		print_list_sa(m, pretty);
		fclose(m);
		if (strncmp(out, mine, strlen(mine)) != 0)
			fail_msg("swanctl:\n%s\nours:\n%s", out, mine);
	}

	out = swanctl(f, "--list-conns", &st);
	assert_int_equal(st, 0);
	expect_in(out, "site-b: IKEv2, no reauthentication, rekeying every 14400s, dpd delay 30s");
	expect_in(out, "local:  192.0.2.1");
	expect_in(out, "remote: 203.0.113.1");
	expect_in(out, "local pre-shared key authentication:");
	expect_in(out, "id: gw-a.example.net");
	expect_in(out, "net-net: TUNNEL, rekeying every 3600s, dpd action is restart");
	expect_in(out, "local:  10.1.0.0/24");

	out = swanctl(f, "--initiate --child net-net", &st);
	assert_int_equal(st, 0);
	expect_in(out, "[IKE] initiating IKE_SA site-b[3] to 203.0.113.1");
	expect_in(out, "[IKE] IKE_SA site-b[3] established");
	expect_in(out, "initiate completed successfully");

	out = swanctl(f, "--initiate --child nope", &st);
	assert_int_not_equal(st, 0);
	expect_in(out, "CHILD_SA config 'nope' not found");

	out = swanctl(f, "--terminate --ike site-b", &st);
	assert_int_equal(st, 0);
	expect_in(out, "terminate completed successfully");

	out = swanctl(f, "--counters", &st);
	assert_int_equal(st, 0);
	expect_in(out, "global:");
	expect_in(out, "ike-rekey-init        : 2");

	/* --load-all with a file: the secret and the connection arrive as swanctl
	 * encodes them (lists for proposals and selectors, binary secret). */
	char conf[256];
	snprintf(conf, sizeof(conf), "%s/swanctl.conf", f->dir);
	FILE *c = fopen(conf, "w");
	fputs("connections {\n site-b {\n  version = 2\n  remote_addrs = 203.0.113.1\n"
	      "  proposals = aes256gcm16-prfsha256-x25519, aes128-sha256-modp2048\n"
	      "  local {\n auth = psk\n id = gw-a\n }\n remote {\n auth = psk\n }\n"
	      "  children {\n net {\n local_ts = 10.1.0.0/24\n remote_ts = 10.2.0.0/24\n"
	      "  }\n }\n"
	      " }\n}\nsecrets {\n ike-b {\n  id = gw-b\n  secret = 0x00010203\n }\n}\n", c);
	fclose(c);
	char args[512];
	snprintf(args, sizeof(args), "--load-all --file %s", conf);
	out = swanctl(f, args, &st);
	if (st != 0)
		fail_msg("swanctl --load-all failed:\n%s", out);
	expect_in(out, "loaded ike secret 'ike-b'");
	expect_in(out, "loaded connection 'site-b'");
	expect_in(out, "successfully loaded 1 connections, 0 unloaded");
	expect_in(f->last_load_conn, "\"proposals\":[\"aes256gcm16-prfsha256-x25519\","
				     "\"aes128-sha256-modp2048\"]");
	expect_in(f->last_load_conn, "\"local_ts\":[\"10.1.0.0/24\"]");
	expect_in(f->last_load_conn, "\"version\":\"2\"");
	expect_in(f->last_shared, "\"data\":\"0x00010203\"");
	expect_in(f->last_shared, "\"owners\":[\"gw-b\"]");

	/* tsunagictl, if built next to the tests (make check builds it first). */
	if (access("./tsunagictl", X_OK) == 0) {
		char cmd[1024];
		f->last_load_conn[0] = '\0';
		snprintf(cmd, sizeof(cmd), "./tsunagictl --uri %s --load-all --file %s 2>&1",
			 f->uri, conf);
		out = run(cmd, &st);
		if (st != 0)
			fail_msg("tsunagictl --load-all failed:\n%s", out);
		expect_in(out, "loaded IKE secret 'ike-b'");
		expect_in(out, "loaded connection 'site-b'");
		expect_in(f->last_load_conn, "\"proposals\":[\"aes256gcm16-prfsha256-x25519\","
					     "\"aes128-sha256-modp2048\"]");
		expect_in(f->last_shared, "\"data\":\"0x00010203\"");
		snprintf(cmd, sizeof(cmd), "./tsunagictl --uri %s --list-sas 2>&1", f->uri);
		out = run(cmd, &st);
		assert_int_equal(st, 0);
		expect_in(out, "site-b");
		expect_in(out, "203.0.113.1[4500]");
		expect_in(out, "c1a2b3c4_i 0000abcd_o");
		expect_in(out, "10.1.0.0/24 === 10.2.0.0/24");
		snprintf(cmd, sizeof(cmd), "./tsunagictl --uri %s --initiate --child nope 2>&1",
			 f->uri);
		out = run(cmd, &st);
		assert_int_equal(st, 1);
		expect_in(out, "initiate failed: CHILD_SA config 'nope' not found");
		snprintf(cmd, sizeof(cmd), "./tsunagictl --uri %s --list-sas --json 2>&1", f->uri);
		out = run(cmd, &st);
		assert_int_equal(st, 0);
		expect_in(out, "\"spi-in\": \"c1a2b3c4\"");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_swanctl, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
