/* vici/: server and client in one process over a unix socket in a temporary
 * directory. The server's event loop runs in a second thread; the blocking client
 * (and raw sockets for misbehaving clients) in the test thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "vici/vici_client.h"
#include "vici/vici_server.h"

struct fixture {
	char dir[64];
	char path[128];
	char uri[160];
	struct event_base *base;
	struct vici_server *srv;
	pthread_t thread;
	struct vici_server_stats st;	/* read after the loop stopped */
	atomic_int slow_responses;	/* deferred replies completed (loop thread) */
	struct slow_job *job;		/* the deferred command in progress */
	atomic_int slow_started;	/* deferred commands begun (loop thread) */
	atomic_int slow_ms;		/* how long "slow" defers (0: 100 ms) */
};

/* ---- commands the test server offers ---- */

static enum vici_reply cmd_quit(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	struct fixture *fx = arg;
	struct timeval tv = { 0, 50000 };	/* let the reply flush first */
	event_base_loopexit(fx->base, &tv);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_echo(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	vici_add_kv(resp, "echo", vici_find_str(req, "text", "(none)"));
	return VICI_REPLY_DONE;
}

/* Streams three "list-thing" events, then responds (like list-sas). */
static enum vici_reply cmd_list(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	for (int i = 1; i <= 3; i++) {
		struct vici_msg ev;
		vici_msg_init(&ev);
		vici_begin_section(&ev, "thing");
		vici_add_kvf(&ev, "n", "%d", i);
		vici_end_section(&ev);
		vici_conn_event(c, "list-thing", &ev);
		vici_msg_free(&ev);
	}
	vici_add_kv(resp, "count", "3");
	return VICI_REPLY_DONE;
}

struct slow_job;
struct slow_job {
	struct fixture *fx;
	struct vici_conn *c;
	struct event *timer;
};

static void slow_done(evutil_socket_t fd, short what, void *arg)
{
	struct slow_job *job = arg;
	struct vici_msg m;
	vici_msg_init(&m);
	for (int i = 0; i < 2; i++) {
		vici_msg_reset(&m);
		vici_add_kv(&m, "group", "IKE");
		vici_add_kv(&m, "level", "1");
		vici_add_kvf(&m, "msg", "step %d", i);
		vici_conn_event(job->c, "control-log", &m);
	}
	vici_msg_reset(&m);
	vici_add_kv(&m, "success", "yes");
	vici_conn_respond(job->c, &m);
	vici_msg_free(&m);
	job->fx->slow_responses++;
	job->fx->job = NULL;
	event_free(job->timer);
	free(job);
}

/* Answers 100 ms later, streaming control-log events first (like initiate). */
static enum vici_reply cmd_slow(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	struct fixture *fx = arg;
	struct slow_job *job = calloc(1, sizeof(*job));
	job->fx = fx;
	job->c = c;
	job->timer = event_new(fx->base, -1, 0, slow_done, job);
	fx->job = job;
	int ms = atomic_load(&fx->slow_ms) ? atomic_load(&fx->slow_ms) : 100;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(job->timer, &tv);
	atomic_fetch_add(&fx->slow_started, 1);
	return VICI_REPLY_PENDING;
}

/* Emits ike-updown to every registered client. */
static enum vici_reply cmd_fire(void *arg, struct vici_conn *c, const struct ctree *req,
				struct vici_msg *resp)
{
	struct fixture *fx = arg;
	struct vici_msg ev;
	vici_msg_init(&ev);
	vici_add_kv(&ev, "up", "yes");
	unsigned n = vici_server_emit(fx->srv, "ike-updown", &ev);
	vici_msg_free(&ev);
	vici_add_kvf(resp, "reached", "%u", n);
	return VICI_REPLY_DONE;
}

/* Streams 64 KiB of events: more than a small max_out allows. */
static enum vici_reply cmd_flood(void *arg, struct vici_conn *c, const struct ctree *req,
				 struct vici_msg *resp)
{
	char blob[1024];
	memset(blob, 'x', sizeof(blob) - 1);
	blob[sizeof(blob) - 1] = '\0';
	struct vici_msg ev;
	vici_msg_init(&ev);
	vici_add_kv(&ev, "blob", blob);
	for (int i = 0; i < 64; i++)
		vici_conn_event(c, "list-thing", &ev);
	vici_msg_free(&ev);
	return VICI_REPLY_DONE;
}

static void *loop_thread(void *arg)
{
	struct fixture *fx = arg;
	event_base_dispatch(fx->base);
	return NULL;
}

static struct fixture *start(const struct vici_server_limits *lim)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256];
	strcpy(fx->dir, "/tmp/vici-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/s.vici", fx->dir);
	snprintf(fx->uri, sizeof(fx->uri), "unix://%s", fx->path);
	fx->base = event_base_new();
	fx->srv = vici_server_new(fx->base, fx->uri, lim, err, sizeof(err));
	if (!fx->srv)
		fail_msg("server: %s", err);
	vici_server_register(fx->srv, "quit", cmd_quit, fx);
	vici_server_register(fx->srv, "echo", cmd_echo, fx);
	vici_server_register(fx->srv, "list", cmd_list, fx);
	vici_server_register(fx->srv, "slow", cmd_slow, fx);
	vici_server_register(fx->srv, "fire", cmd_fire, fx);
	vici_server_register(fx->srv, "flood", cmd_flood, fx);
	vici_server_add_event(fx->srv, "list-thing");
	vici_server_add_event(fx->srv, "control-log");
	vici_server_add_event(fx->srv, "ike-updown");
	assert_int_equal(pthread_create(&fx->thread, NULL, loop_thread, fx), 0);
	return fx;
}

static struct vici_client *connect_ok(struct fixture *fx)
{
	char err[256];
	struct vici_client *cl = vici_client_connect(fx->uri, err, sizeof(err));
	if (!cl)
		fail_msg("connect: %s", err);
	vici_client_set_timeout(cl, 5000);
	return cl;
}

/* Stops the loop (through a "quit" command) and collects the stats. */
static void stop(struct fixture *fx)
{
	char err[256];
	struct vici_client *cl = connect_ok(fx);
	struct ctree *r = vici_client_request(cl, "quit", NULL, err, sizeof(err));
	if (!r)
		fail_msg("quit: %s", err);
	ctree_free(r);
	vici_client_close(cl);
	pthread_join(fx->thread, NULL);
	vici_server_get_stats(fx->srv, &fx->st);
}

static void destroy(struct fixture *fx)
{
	struct stat sb;
	if (fx->job) {		/* stopped before it completed */
		event_free(fx->job->timer);
		free(fx->job);
	}
	vici_server_free(fx->srv);
	assert_int_equal(stat(fx->path, &sb), -1);	/* socket file removed */
	event_base_free(fx->base);
	rmdir(fx->dir);
	free(fx);
}

/* Raw socket helpers for clients that misbehave. */
static int raw_connect(struct fixture *fx)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, fx->path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Reads one packet payload into p (at most cap); returns its length, 0 on EOF,
 * -1 on timeout. */
static ssize_t raw_read_packet(int fd, uint8_t *p, size_t cap)
{
	uint8_t hdr[4];
	size_t got = 0, want = 4;
	uint8_t *dst = hdr;
	for (int phase = 0; phase < 2; phase++) {
		while (got < want) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			if (poll(&pfd, 1, 5000) <= 0)
				return -1;
			ssize_t r = recv(fd, dst + got, want - got, 0);
			if (r <= 0)
				return 0;
			got += (size_t)r;
		}
		if (phase == 0) {
			want = get_u32(hdr);
			assert_true(want <= cap);
			dst = p;
			got = 0;
		}
	}
	return (ssize_t)want;
}

static void raw_send_request(int fd, const char *cmd, const struct vici_msg *m)
{
	struct buf b;
	struct vici_msg empty;
	buf_init(&b);
	vici_msg_init(&empty);
	assert_int_equal(vici_packet_encode(&b, VICI_CMD_REQUEST, cmd, m ? m : &empty), 0);
	assert_int_equal(send(fd, b.data, b.len, MSG_NOSIGNAL), (ssize_t)b.len);
	buf_free(&b);
}

static void raw_send_register(int fd, const char *event)
{
	struct buf b;
	buf_init(&b);
	assert_int_equal(vici_packet_encode(&b, VICI_EVENT_REGISTER, event, NULL), 0);
	assert_int_equal(send(fd, b.data, b.len, MSG_NOSIGNAL), (ssize_t)b.len);
	buf_free(&b);
	uint8_t p[16];
	assert_int_equal(raw_read_packet(fd, p, sizeof(p)), 1);
	assert_int_equal(p[0], VICI_EVENT_CONFIRM);
}

/* ---- tests ---- */

struct seen {
	int n;
	char names[8][32];
	char values[8][32];
};

static void on_event(void *arg, const char *event, const struct ctree *msg)
{
	struct seen *s = arg;
	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", event);
		snprintf(s->values[s->n], sizeof(s->values[0]), "%s",
			 vici_find_str(msg, "thing.n", vici_find_str(msg, "msg", "")));
	}
	s->n++;
}

static void test_request_response(void **state)
{
	struct fixture *fx = start(NULL);
	struct vici_client *cl = connect_ok(fx);
	char err[256];
	struct vici_msg req;
	vici_msg_init(&req);
	vici_add_kv(&req, "text", "hello");
	struct ctree *r = vici_client_request(cl, "echo", &req, err, sizeof(err));
	assert_non_null(r);
	assert_string_equal(vici_find_str(r, "echo", ""), "hello");
	ctree_free(r);
	vici_msg_free(&req);
	vici_client_close(cl);
	stop(fx);
	assert_int_equal(fx->st.requests, 2);	/* echo + quit */
	destroy(fx);
}

static void test_streamed_events_only_when_registered(void **state)
{
	struct fixture *fx = start(NULL);
	struct vici_client *cl = connect_ok(fx);
	struct seen seen = { 0 };
	char err[256];
	vici_client_on_event(cl, on_event, &seen);

	/* Not registered: only the response. */
	struct ctree *r = vici_client_request(cl, "list", NULL, err, sizeof(err));
	assert_non_null(r);
	ctree_free(r);
	assert_int_equal(seen.n, 0);

	assert_int_equal(vici_client_register(cl, "list-thing", err, sizeof(err)), 0);
	r = vici_client_request(cl, "list", NULL, err, sizeof(err));
	assert_non_null(r);
	assert_string_equal(vici_find_str(r, "count", ""), "3");
	ctree_free(r);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.names[0], "list-thing");
	assert_string_equal(seen.values[0], "1");
	assert_string_equal(seen.values[2], "3");

	assert_int_equal(vici_client_unregister(cl, "list-thing", err, sizeof(err)), 0);
	r = vici_client_request(cl, "list", NULL, err, sizeof(err));
	assert_non_null(r);
	ctree_free(r);
	assert_int_equal(seen.n, 3);
	vici_client_close(cl);
	stop(fx);
	destroy(fx);
}

static void test_unknown_command_and_event(void **state)
{
	struct fixture *fx = start(NULL);
	struct vici_client *cl = connect_ok(fx);
	char err[256];
	struct ctree *r = vici_client_request(cl, "no-such-cmd", NULL, err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "does not know the command 'no-such-cmd'"));
	assert_int_equal(vici_client_register(cl, "no-such-event", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no event 'no-such-event'"));
	/* The connection is still usable. */
	r = vici_client_request(cl, "echo", NULL, err, sizeof(err));
	assert_non_null(r);
	ctree_free(r);
	vici_client_close(cl);
	stop(fx);
	assert_int_equal(fx->st.unknown_cmds, 1);
	assert_int_equal(fx->st.malformed, 0);
	destroy(fx);
}

static void test_deferred_response(void **state)
{
	struct fixture *fx = start(NULL);
	struct vici_client *cl = connect_ok(fx);
	struct seen seen = { 0 };
	char err[256];
	vici_client_on_event(cl, on_event, &seen);
	assert_int_equal(vici_client_register(cl, "control-log", err, sizeof(err)), 0);
	struct ctree *r = vici_client_request(cl, "slow", NULL, err, sizeof(err));
	if (!r)
		fail_msg("slow: %s", err);
	assert_string_equal(vici_find_str(r, "success", ""), "yes");
	ctree_free(r);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "control-log");
	assert_string_equal(seen.values[0], "step 0");
	assert_string_equal(seen.values[1], "step 1");
	vici_client_close(cl);
	stop(fx);
	assert_int_equal(fx->slow_responses, 1);
	destroy(fx);
}

/* While one client waits for a deferred reply, others are served; the waiting
 * client's next (pipelined) request is answered after the deferred one. */
static void test_pending_does_not_stall(void **state)
{
	struct fixture *fx = start(NULL);
	char err[256];
	uint8_t p[256];
	int fd = raw_connect(fx);
	raw_send_request(fd, "slow", NULL);
	struct vici_msg req;
	vici_msg_init(&req);
	vici_add_kv(&req, "text", "second");
	raw_send_request(fd, "echo", &req);
	vici_msg_free(&req);

	struct vici_client *other = connect_ok(fx);
	struct ctree *r = vici_client_request(other, "echo", NULL, err, sizeof(err));
	assert_non_null(r);
	ctree_free(r);
	assert_int_equal(fx->slow_responses, 0);	/* served before slow finished */
	vici_client_close(other);

	/* First the slow reply, then the echo; no control-log (not registered). */
	ssize_t n = raw_read_packet(fd, p, sizeof(p));
	assert_true(n >= 1);
	assert_int_equal(p[0], VICI_CMD_RESPONSE);
	struct ctree *t = vici_parse_message(p + 1, (size_t)n - 1, err, sizeof(err));
	assert_string_equal(vici_find_str(t, "success", ""), "yes");
	ctree_free(t);
	n = raw_read_packet(fd, p, sizeof(p));
	assert_true(n >= 1);
	assert_int_equal(p[0], VICI_CMD_RESPONSE);
	t = vici_parse_message(p + 1, (size_t)n - 1, err, sizeof(err));
	assert_string_equal(vici_find_str(t, "echo", ""), "second");
	ctree_free(t);
	close(fd);
	stop(fx);
	destroy(fx);
}

/* A client that leaves while its command is pending: the daemon's later reply must
 * neither crash nor leak (run under ASan). */
static void test_disconnect_while_pending(void **state)
{
	struct fixture *fx = start(NULL);
	int fd = raw_connect(fx);
	raw_send_register(fd, "control-log");
	raw_send_request(fd, "slow", NULL);
	usleep(20000);
	close(fd);
	usleep(200000);		/* the deferred reply fires after the client left */
	stop(fx);
	assert_int_equal(fx->slow_responses, 1);
	assert_int_equal(fx->st.clients, 0);
	destroy(fx);
}

/* The server stops holding the pending connection when freed, too. */
static void test_free_with_pending(void **state)
{
	struct fixture *fx = start(NULL);
	atomic_store(&fx->slow_ms, 10000);	/* far beyond this test: never fires */
	int fd = raw_connect(fx);
	raw_send_request(fd, "slow", NULL);
	for (int i = 0; i < 500 && !atomic_load(&fx->slow_started); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&fx->slow_started), 1);
	/* Stop the loop before the slow timer fires; free with the command pending. */
	stop(fx);
	close(fd);
	assert_int_equal(fx->slow_responses, 0);
	/* The job's timer still holds a pointer; free it the way the daemon would. */
	destroy(fx);
}

static void expect_dropped(struct fixture *fx, const uint8_t *bytes, size_t n)
{
	uint8_t p[64];
	int fd = raw_connect(fx);
	assert_int_equal(send(fd, bytes, n, MSG_NOSIGNAL), (ssize_t)n);
	assert_int_equal(raw_read_packet(fd, p, sizeof(p)), 0);	/* EOF: dropped */
	close(fd);
}

static void test_garbage_disconnects(void **state)
{
	struct fixture *fx = start(NULL);
	struct vici_client *good = connect_ok(fx);
	char err[256];

	static const uint8_t bad_type[] = { 0, 0, 0, 2, 9, 0 };
	expect_dropped(fx, bad_type, sizeof(bad_type));
	static const uint8_t bad_msg[] = { 0, 0, 0, 7, VICI_CMD_REQUEST, 4, 'e', 'c', 'h', 'o', 9 };
	expect_dropped(fx, bad_msg, sizeof(bad_msg));
	static const uint8_t response_from_client[] = { 0, 0, 0, 1, VICI_CMD_RESPONSE };
	expect_dropped(fx, response_from_client, sizeof(response_from_client));
	static const uint8_t empty[] = { 0, 0, 0, 0 };
	expect_dropped(fx, empty, sizeof(empty));
	static const uint8_t oversize[] = { 0, 0x08, 0, 1, VICI_CMD_REQUEST };
	expect_dropped(fx, oversize, sizeof(oversize));

	/* The well-behaved client is unaffected. */
	struct ctree *r = vici_client_request(good, "echo", NULL, err, sizeof(err));
	assert_non_null(r);
	ctree_free(r);
	vici_client_close(good);
	stop(fx);
	assert_int_equal(fx->st.malformed, 4);
	assert_int_equal(fx->st.oversize, 1);
	destroy(fx);
}

/* 512 KiB is accepted, one byte more is not. */
static void test_packet_size_limit(void **state)
{
	struct fixture *fx = start(NULL);
	uint8_t p[64];
	size_t len = VICI_MAX_PACKET;
	uint8_t *big = calloc(1, 4 + len);
	put_u32(big, (uint32_t)len);
	big[4] = VICI_CMD_REQUEST;
	big[5] = 4;
	memcpy(big + 6, "echo", 4);
	/* Fill the message with key/values "k" = "vvv..." that add up exactly. */
	size_t off = 10;
	while (off < 4 + len) {
		size_t left = 4 + len - off;
		size_t vlen = left <= 5 + 65535 ? left - 5 : 60000;
		big[off] = VICI_KEY_VALUE;
		big[off + 1] = 1;
		big[off + 2] = 'k';
		put_u16(big + off + 3, (uint16_t)vlen);
		memset(big + off + 5, 'v', vlen);
		off += 5 + vlen;
	}
	assert_int_equal(off, 4 + len);
	int fd = raw_connect(fx);
	size_t sent = 0;
	while (sent < 4 + len) {
		ssize_t w = send(fd, big + sent, 4 + len - sent, MSG_NOSIGNAL);
		assert_true(w > 0);
		sent += (size_t)w;
	}
	ssize_t n = raw_read_packet(fd, p, sizeof(p));
	assert_true(n >= 1);
	assert_int_equal(p[0], VICI_CMD_RESPONSE);
	close(fd);

	put_u32(big, (uint32_t)len + 1);
	expect_dropped(fx, big, 8);
	free(big);
	stop(fx);
	assert_int_equal(fx->st.oversize, 1);
	assert_int_equal(fx->st.malformed, 0);
	destroy(fx);
}

/* A request over VICI_MAX_ELEMENTS (131k empty key/values in 512 KiB) is refused with
 * an error to that client, quickly; the client and the daemon go on. */
static void test_element_cap_refused(void **state)
{
	struct fixture *fx = start(NULL);
	size_t len = VICI_MAX_PACKET - 2;	/* 6 bytes of header, 131068 elements */
	uint8_t *big = calloc(1, 4 + len);
	put_u32(big, (uint32_t)len);
	big[4] = VICI_CMD_REQUEST;
	big[5] = 4;
	memcpy(big + 6, "echo", 4);
	for (size_t off = 10; off + 4 <= 4 + len; off += 4)
		big[off] = VICI_KEY_VALUE;	/* empty name, empty value */
	assert_int_equal((4 + len - 10) % 4, 0);
	int fd = raw_connect(fx);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t sent = 0;
	while (sent < 4 + len) {
		ssize_t w = send(fd, big + sent, 4 + len - sent, MSG_NOSIGNAL);
		assert_true(w > 0);
		sent += (size_t)w;
	}
	free(big);
	uint8_t p[256];
	char err[128];
	ssize_t n = raw_read_packet(fd, p, sizeof(p));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(n >= 1);
	assert_int_equal(p[0], VICI_CMD_RESPONSE);
	struct ctree *t = vici_parse_message(p + 1, (size_t)n - 1, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(vici_find_str(t, "success", ""), "no");
	assert_non_null(strstr(vici_find_str(t, "errmsg", ""), "more than 10000 elements"));
	ctree_free(t);
	assert_true(t1.tv_sec - t0.tv_sec < 3);

	/* The same connection is still served. */
	struct vici_msg m;
	vici_msg_init(&m);
	vici_add_kv(&m, "text", "after");
	raw_send_request(fd, "echo", &m);
	vici_msg_free(&m);
	n = raw_read_packet(fd, p, sizeof(p));
	assert_true(n >= 1);
	t = vici_parse_message(p + 1, (size_t)n - 1, err, sizeof(err));
	assert_string_equal(vici_find_str(t, "echo", ""), "after");
	ctree_free(t);
	close(fd);
	stop(fx);
	assert_int_equal(fx->st.too_many_elements, 1);
	assert_int_equal(fx->st.malformed, 0);
	destroy(fx);
}

static void test_emit_reaches_registered(void **state)
{
	struct fixture *fx = start(NULL);
	struct vici_client *mon = connect_ok(fx);
	struct vici_client *ctl = connect_ok(fx);
	struct seen seen = { 0 };
	char err[256];
	vici_client_on_event(mon, on_event, &seen);
	assert_int_equal(vici_client_register(mon, "ike-updown", err, sizeof(err)), 0);
	struct ctree *r = vici_client_request(ctl, "fire", NULL, err, sizeof(err));
	assert_non_null(r);
	assert_string_equal(vici_find_str(r, "reached", ""), "1");
	ctree_free(r);
	assert_int_equal(vici_client_wait(mon, 5000, err, sizeof(err)), 1);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.names[0], "ike-updown");
	/* Nothing else pending. */
	assert_int_equal(vici_client_wait(mon, 50, err, sizeof(err)), 0);
	vici_client_close(mon);
	vici_client_close(ctl);
	stop(fx);
	destroy(fx);
}

static void test_output_bound_drops_slow_reader(void **state)
{
	struct vici_server_limits lim = { .max_out = 16 * 1024 };
	struct fixture *fx = start(&lim);
	struct vici_client *cl = connect_ok(fx);
	char err[256];
	assert_int_equal(vici_client_register(cl, "list-thing", err, sizeof(err)), 0);
	struct ctree *r = vici_client_request(cl, "flood", NULL, err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, "lost"));
	vici_client_close(cl);
	stop(fx);
	assert_int_equal(fx->st.overflow, 1);
	destroy(fx);
}

static void test_max_clients(void **state)
{
	struct vici_server_limits lim = { .max_clients = 2 };
	struct fixture *fx = start(&lim);
	struct vici_client *a = connect_ok(fx), *b = connect_ok(fx);
	char err[256];
	/* Make sure both are accepted before the third arrives. */
	ctree_free(vici_client_request(a, "echo", NULL, err, sizeof(err)));
	ctree_free(vici_client_request(b, "echo", NULL, err, sizeof(err)));
	uint8_t p[8];
	int fd = raw_connect(fx);
	assert_int_equal(raw_read_packet(fd, p, sizeof(p)), 0);	/* closed at once */
	close(fd);
	vici_client_close(a);
	usleep(50000);		/* let the server see a's EOF before "quit" connects */
	stop(fx);
	vici_client_close(b);
	assert_int_equal(fx->st.refused, 1);
	destroy(fx);
}

static void test_stale_and_live_socket(void **state)
{
	char dir[] = "/tmp/vici-test-XXXXXX", path[128], uri[160], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.vici", dir);
	snprintf(uri, sizeof(uri), "unix://%s", path);

	/* A socket file left behind by a dead daemon. */
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);

	struct event_base *base = event_base_new();
	struct vici_server *srv = vici_server_new(base, uri, NULL, err, sizeof(err));
	if (!srv)
		fail_msg("stale socket not replaced: %s", err);
	/* A second daemon on the same live socket is refused. */
	struct vici_server *srv2 = vici_server_new(base, uri, NULL, err, sizeof(err));
	assert_null(srv2);
	assert_non_null(strstr(err, "in use"));
	vici_server_free(srv);

	/* A regular file is never removed. */
	FILE *f = fopen(path, "w");
	fclose(f);
	assert_null(vici_server_new(base, uri, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "not a socket"));
	unlink(path);

	assert_null(vici_server_new(base, "tcp://127.0.0.1:4502", NULL, err, sizeof(err)));
	assert_null(vici_client_connect("unix:///nonexistent/x.vici", err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	event_base_free(base);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_response),
		cmocka_unit_test(test_streamed_events_only_when_registered),
		cmocka_unit_test(test_unknown_command_and_event),
		cmocka_unit_test(test_deferred_response),
		cmocka_unit_test(test_pending_does_not_stall),
		cmocka_unit_test(test_disconnect_while_pending),
		cmocka_unit_test(test_free_with_pending),
		cmocka_unit_test(test_garbage_disconnects),
		cmocka_unit_test(test_packet_size_limit),
		cmocka_unit_test(test_element_cap_refused),
		cmocka_unit_test(test_emit_reaches_registered),
		cmocka_unit_test(test_output_bound_drops_slow_reader),
		cmocka_unit_test(test_max_clients),
		cmocka_unit_test(test_stale_and_live_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
