/* The NFQUEUE shell's blocking read (daemon/nat_queue.c, nat_queue_wait), which
 * each queue thread sleeps in: one system call per wake-up. In a network namespace
 * of its own (skipped when the test may not make one, i.e. without root): an idle
 * queue returns 0 after about NAT_QUEUE_WAIT_MS (so a thread sees "stop" in time),
 * and a queued packet wakes it at once, goes to the translate function once and
 * leaves with its verdict. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "daemon/nat_queue.h"

#define QNUM 5
#define PORT 9

static bool have_ns;
static int calls;
static enum nat_side last_side;

static enum nat_verdict count(void *arg, struct nat_packet *p, enum nat_side side)
{
	(void)arg;
	(void)p;
	calls++;
	last_side = side;
	return NAT_FORWARD;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return 0;	/* the tests skip */
	if (system("ip link set lo up") != 0)
		fail_msg("ip link failed (package iproute2)");
	/* Our own datagrams to 127.0.0.1:PORT go to the queue (OUTPUT: no in-interface). */
	if (system("iptables -t raw -A OUTPUT -o lo -p udp --dport 9 -j NFQUEUE "
		   "--queue-num 5 2>/dev/null") != 0)
		fail_msg("iptables failed (package iptables)");
	have_ns = true;
	return 0;
}

static struct nat_queue *open_q(void)
{
	const char *const outside[] = { "lo", NULL };
	struct nat_queue *q = nat_queue_open(QNUM, outside, count, NULL);
	assert_non_null(q);
	calls = 0;
	return q;
}

static void test_wait_idle_returns(void **state)
{
	(void)state;
	if (!have_ns)
		skip();
	struct nat_queue *q = open_q();
	int64_t t0 = now_ms();
	assert_int_equal(nat_queue_wait(q, 16), 0);
	int64_t took = now_ms() - t0;
	assert_true(took >= NAT_QUEUE_WAIT_MS / 2);
	assert_true(took < 10 * NAT_QUEUE_WAIT_MS);
	assert_int_equal(calls, 0);
	nat_queue_close(q);
}

static void test_wait_takes_packet(void **state)
{
	(void)state;
	if (!have_ns)
		skip();
	struct nat_queue *q = open_q();
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(rx, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tmo = { 2, 0 };
	setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	/* Sent before the wait: the datagram sits in the queue; the wait takes it. */
	assert_int_equal(sendto(tx, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)), 1);
	int64_t t0 = now_ms();
	assert_int_equal(nat_queue_wait(q, 16), 1);
	assert_true(now_ms() - t0 < NAT_QUEUE_WAIT_MS);
	assert_int_equal(calls, 1);
	assert_int_equal(last_side, NAT_FROM_OUTSIDE);
	assert_int_equal(nat_queue_stats(q)->packets, 1);
	char c = 0;
	assert_int_equal(recv(rx, &c, 1, 0), 1);	/* the verdict let it through */
	assert_int_equal(c, 'x');
	/* And nothing more: the next wait times out. */
	assert_int_equal(nat_queue_wait(q, 16), 0);
	close(rx);
	close(tx);
	nat_queue_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_idle_returns),
		cmocka_unit_test(test_wait_takes_packet),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
