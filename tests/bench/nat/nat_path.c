/* nat_path: the placement benchmark's forwarding shells, for tests/bench/nat/run.
 *
 *   nat_path nfqueue NUM OUTSIDE_IF [identity|rewrite|nat CONFIG]
 *   nat_path tun NAME [identity|rewrite]
 *
 * nfqueue: the daemon's own NFQUEUE shell (daemon/nat_queue.c) on queue NUM.
 * tun: a TUN device (with offloads, vnet headers) that policy routing sends every
 * forwarded packet through; the packet is written back and routed again.
 * identity leaves packets as they are (the shell's floor: unchanged packets get one
 * batch verdict); rewrite decrements the TTL of every packet (so every one is a
 * changed packet sent back whole, as under NAT); nat runs the NAT core (nat/nat.h)
 * with the rules of CONFIG's tsunagi { nat { } } section.
 * Runs until SIGINT/SIGTERM, then prints its counters on stdout. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/nat_queue.h"
#include "esp/gso.h"
#include "esp/tun.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static enum nat_verdict identity(void *arg, struct nat_packet *p, enum nat_side side)
{
	return NAT_FORWARD;
}

/* TTL - 1 with the header checksum updated incrementally (RFC 1624). */
static void ttl_down(uint8_t *ip)
{
	if (ip[8] <= 1)
		return;
	ip[8]--;
	uint32_t sum = (uint32_t)((ip[10] << 8) | ip[11]) + 0x0100;
	sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
}

static enum nat_verdict rewrite(void *arg, struct nat_packet *p, enum nat_side side)
{
	if (p->len >= 20)
		ttl_down(p->data);
	p->changed = p->len >= 20;
	return NAT_FORWARD;
}

static int run_nfqueue(int num, const char *outside, nat_queue_fn fn, void *arg)
{
	const char *ifs[] = { outside, NULL };
	struct nat_queue *q = nat_queue_open((uint16_t)num, ifs, fn, arg);
	if (!q) {
		perror("nat_queue_open");
		return 1;
	}
	struct pollfd pfd = { .fd = nat_queue_fd(q), .events = POLLIN };
	while (!stop) {
		if (poll(&pfd, 1, 200) > 0 && nat_queue_run(q, 16) < 0)
			break;
	}
	const struct nat_queue_stats *s = nat_queue_stats(q);
	printf("packets %llu rewritten %llu dropped %llu local %llu bad %llu csum_fixed %llu "
	       "send_errors %llu recv_errors %llu\n",
	       (unsigned long long)s->packets, (unsigned long long)s->rewritten,
	       (unsigned long long)s->dropped, (unsigned long long)s->local,
	       (unsigned long long)s->bad, (unsigned long long)s->csum_fixed,
	       (unsigned long long)s->send_errors, (unsigned long long)s->recv_errors);
	nat_queue_close(q);
	return 0;
}

static int run_tun(const char *name, bool rw)
{
	struct tun t;
	int err = tun_open(&t, name, 1500, 1, true);
	if (err < 0) {
		fprintf(stderr, "tun_open: %s\n", strerror(-err));
		return 1;
	}
	size_t hl = t.vnet ? GSO_VNET_HDR_LEN : 0;
	static uint8_t buf[65536 + 64];
	unsigned long long packets = 0, errors = 0;
	struct pollfd pfd = { .fd = t.fd[0], .events = POLLIN };
	while (!stop) {
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		for (int i = 0; i < 64; i++) {
			ssize_t n = read(t.fd[0], buf, sizeof(buf));
			if (n <= 0)
				break;
			packets++;
			if (rw && (size_t)n >= hl + 20)
				ttl_down(buf + hl);
			if (write(t.fd[0], buf, (size_t)n) != n)
				errors++;
		}
	}
	printf("packets %llu write_errors %llu vnet %d\n", packets, errors, t.vnet);
	tun_close(&t);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *how = "identity";
	if (argc >= 4 && !strcmp(argv[1], "nfqueue")) {
		how = argc >= 5 ? argv[4] : how;
		nat_queue_fn fn = !strcmp(how, "rewrite") ? rewrite : identity;
		return run_nfqueue(atoi(argv[2]), argv[3], fn, NULL);
	}
	if (argc >= 3 && !strcmp(argv[1], "tun")) {
		how = argc >= 4 ? argv[3] : how;
		return run_tun(argv[2], !strcmp(how, "rewrite"));
	}
	fprintf(stderr, "usage: nat_path nfqueue NUM OUTSIDE_IF [identity|rewrite]\n"
			"       nat_path tun NAME [identity|rewrite]\n");
	return 2;
}
