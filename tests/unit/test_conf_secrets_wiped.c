/* Secrets are wiped before their memory is freed, wherever they pass on the way in:
 * the configuration file's text (read by conf/parser.c) and a VICI load-shared
 * request (libevent's input buffer and the server's copy). The test looks for a
 * marker secret in every block freed or moved by realloc, from our code, libc and
 * libevent alike: it replaces the allocator's free and realloc (glibc lets a program
 * do so and calls the replacement from inside libc too), or in a sanitizer build,
 * whose allocator is the sanitizer's (ASan, TSan), it installs that allocator's free hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/parser.h"
#include "lib/wipe.h"
#include "vici/vici_msg.h"
#include "vici/vici_server.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define INTERPOSED 0
/* From sanitizer/allocator_interface.h (not installed everywhere). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *,
								  size_t),
					      void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);
#else
#define INTERPOSED 1
#endif

#define MARK "wipe-me-PSK-3f9c1a7e5b"

static atomic_int armed;
static atomic_int hits;

#if !INTERPOSED
static void asan_malloc_hook(const volatile void *p, size_t n)
{
	/* both hooks are required */
}

/* AddressSanitizer calls this before it frees a block (realloc frees the old one). */
static void asan_free_hook(const volatile void *p)
{
	if (p && atomic_load(&armed) &&
	    memmem((const void *)p, __sanitizer_get_allocated_size(p), MARK, strlen(MARK)))
		atomic_fetch_add(&hits, 1);
}
#else
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static void look(void *p)
{
	if (p && atomic_load(&armed) && memmem(p, malloc_usable_size(p), MARK, strlen(MARK)))
		atomic_fetch_add(&hits, 1);
}

void *malloc(size_t n)
{
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	return __libc_calloc(n, size);
}

/* A block that moves leaves its old copy behind unwiped. */
void *realloc(void *p, size_t n)
{
	look(p);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	look(p);
	__libc_free(p);
}

void *memalign(size_t align, size_t n)
{
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	*out = __libc_memalign(align, n);
	return *out ? 0 : ENOMEM;
}
#endif

static void start_watching(void)
{
	atomic_store(&hits, 0);
	atomic_store(&armed, 1);
}

static int stop_watching(void)
{
	atomic_store(&armed, 0);
	return atomic_load(&hits);
}

/* Writes a file (with write(2): stdio's buffer would hold the marker) of about
 * `size` bytes: a secrets section holding the marker, then padding comments. */
static void write_conf(const char *path, size_t size)
{
	char head[] = "secrets {\n  ike-a {\n    id-a = a@example\n    secret = " MARK "\n"
		      "  }\n}\n";
	char pad[1024];
	memset(pad, '#', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
	for (size_t n = strlen(head); n < size; n += sizeof(pad))
		assert_int_equal(write(fd, pad, sizeof(pad)), (ssize_t)sizeof(pad));
	close(fd);
	wipe(head, sizeof(head));
}

/* The watcher itself: it sees a block freed with the marker in it, and not one wiped
 * first (else the tests below could not fail, in any of the builds). */
static void test_watcher_sees_unwiped_free(void **state)
{
	char *volatile p = malloc(64);
	assert_non_null(p);
	memcpy(p, MARK, sizeof(MARK));
	start_watching();
	free(p);
	assert_int_equal(stop_watching(), 1);
	p = malloc(64);
	assert_non_null(p);
	memcpy(p, MARK, sizeof(MARK));
	start_watching();
	wipe_free(p, 64);
	assert_int_equal(stop_watching(), 0);
}

static void test_conf_file_buffer_wiped(void **state)
{
	char dir[] = "/tmp/conf-wipe-XXXXXX", path[64], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.conf", dir);

	/* Grown several times while read. */
	write_conf(path, 64 * 1024);
	start_watching();
	struct ctree *t = conf_parse_file(path, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(ctree_lookup(t, "secrets.ike-a.secret")->value, MARK);
	ctree_free(t);
	assert_int_equal(stop_watching(), 0);

	/* Refused as too large: the error path wipes too. */
	write_conf(path, CONF_MAX_FILE_SIZE + 4096);
	start_watching();
	assert_null(conf_parse_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, "larger than"));
	assert_int_equal(stop_watching(), 0);
	unlink(path);
	rmdir(dir);
}

static enum vici_reply cmd_load_shared(void *arg, struct vici_conn *c, const struct ctree *req,
				       struct vici_msg *resp)
{
	int *seen = arg;
	*seen = strcmp(vici_find_str(req, "data", ""), MARK) == 0;
	vici_add_kv(resp, "success", "yes");
	return VICI_REPLY_DONE;
}

/* Runs the server's loop until fd is readable (bounded). */
static void run_until_readable(struct event_base *base, int fd)
{
	for (int i = 0; i < 500; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 10) > 0)
			return;
	}
	fail_msg("no answer from the server");
}

static void test_vici_load_shared_wiped(void **state)
{
	char dir[] = "/tmp/vici-wipe-XXXXXX", uri[128], err[256];
	int seen = 0;
	assert_non_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "unix://%s/s.vici", dir);
	struct event_base *base = event_base_new();
	struct vici_server *srv = vici_server_new(base, uri, NULL, err, sizeof(err));
	assert_non_null(srv);
	vici_server_register(srv, "load-shared", cmd_load_shared, &seen);

	start_watching();
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s.vici", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	struct vici_msg m;
	struct buf pkt;
	vici_msg_init(&m);
	buf_init(&pkt);
	vici_add_kv(&m, "type", "IKE");
	vici_add_kv(&m, "data", MARK);
	assert_int_equal(vici_packet_encode(&pkt, VICI_CMD_REQUEST, "load-shared", &m), 0);
	vici_msg_wipe_free(&m);
	assert_int_equal(send(fd, pkt.data, pkt.len, 0), (ssize_t)pkt.len);
	buf_wipe_free(&pkt);
	run_until_readable(base, fd);
	uint8_t resp[256];
	assert_true(recv(fd, resp, sizeof(resp), 0) > 0);
	assert_int_equal(seen, 1);
	close(fd);
	for (int i = 0; i < 20; i++)	/* the server sees the client leave */
		event_base_loop(base, EVLOOP_NONBLOCK);
	vici_server_free(srv);
	event_base_free(base);
	assert_int_equal(stop_watching(), 0);
	rmdir(dir);
}

int main(void)
{
#if !INTERPOSED
	if (__sanitizer_install_malloc_and_free_hooks(asan_malloc_hook, asan_free_hook) == 0) {
		fprintf(stderr, "cannot install the allocator's free hook\n");
		return 1;
	}
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watcher_sees_unwiped_free),
		cmocka_unit_test(test_conf_file_buffer_wiped),
		cmocka_unit_test(test_vici_load_shared_wiped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
