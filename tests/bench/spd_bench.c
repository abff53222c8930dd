/* Micro-benchmark of the data path's outbound policy lookup (esp/spd.c) on a
 * remote-access concentrator's SPD: N clients' host policies (0.0.0.0/0 ->
 * virtual IP) plus a few site-to-site subnet policies and a bypass, looked up
 * for packets to random clients; against the plain walk of the direction's list
 * in lookup order (what spd_lookup did before its host index), same SPD, same
 * packets. Prints lookups per second of each and checks they agree. Not a test.
 * Usage: spd_bench [clients, default 1000] [lookups, default 2000000] */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "esp/spd.h"
#include "lib/selector.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add(struct spd *s, const char *src, const char *dst, uint32_t prio)
{
	struct pfkey_policy p;
	memset(&p, 0, sizeof(p));
	p.dir = IPSEC_DIR_OUTBOUND;
	p.type = IPSEC_POLICY_IPSEC;
	p.has_sel = true;
	p.priority = prio;
	int err = 0;
	if (selector_parse(src, &p.src) < 0 || selector_parse(dst, &p.dst) < 0 ||
	    !spd_add(s, &p, &err)) {
		fprintf(stderr, "spd_bench: cannot add %s -> %s (%d)\n", src, dst, err);
		return -1;
	}
	return 0;
}

static struct sp *walk(const struct spd *s, const struct pkt_tuple *t)
{
	for (struct sp *sp = s->list[IPSEC_DIR_OUTBOUND]; sp; sp = sp->next)
		if (pkt_match(t, &sp->p.src, &sp->p.dst))
			return sp;
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	long lookups = argc > 2 ? atol(argv[2]) : 2000000;
	if (n < 1 || n > 60000 || lookups < 1)
		return 2;
	struct spd s;
	spd_init(&s);
	char dst[64];
	/* Site-to-site subnets and a bypass for the gateway's own LAN. */
	if (add(&s, "10.99.0.0/16", "10.20.0.0/16", 2000) < 0 ||
	    add(&s, "10.99.0.0/16", "10.21.0.0/16", 2000) < 0 ||
	    add(&s, "10.99.0.0/24", "10.99.0.0/24", 1000) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		snprintf(dst, sizeof(dst), "10.98.%d.%d", i / 250, 1 + i % 250);
		if (add(&s, "0.0.0.0/0", dst, 2000) < 0)
			return 1;
	}
	struct pkt_tuple *t = calloc(4096, sizeof(*t));
	if (!t)
		return 1;
	srand(1);
	for (int i = 0; i < 4096; i++) {
		int c = rand() % n;
		uint8_t a[4] = { 10, 99, 0, 5 }, b[4] = { 10, 98, (uint8_t)(c / 250),
							   (uint8_t)(1 + c % 250) };
		t[i].family = AF_INET;
		t[i].proto = 6;
		t[i].sport = 443;
		t[i].dport = (uint16_t)(1024 + i);
		memcpy(t[i].src, a, 4);
		memcpy(t[i].dst, b, 4);
		if (spd_lookup(&s, IPSEC_DIR_OUTBOUND, &t[i]) != walk(&s, &t[i])) {
			fprintf(stderr, "spd_bench: lookup and walk disagree\n");
			return 1;
		}
	}
	unsigned long sink = 0;
	double t0 = now_s();
	for (long i = 0; i < lookups; i++)
		sink += (uintptr_t)spd_lookup(&s, IPSEC_DIR_OUTBOUND, &t[i & 4095]) & 1;
	double t1 = now_s();
	long wl = lookups / 50 + 1;	/* the walk is slow: fewer */
	for (long i = 0; i < wl; i++)
		sink += (uintptr_t)walk(&s, &t[i & 4095]) & 1;
	double t2 = now_s();
	printf("spd_bench: %d clients: indexed lookup %.0f/s, list walk %.0f/s (%.0fx)%s\n", n,
	       (double)lookups / (t1 - t0), (double)wl / (t2 - t1),
	       ((double)lookups / (t1 - t0)) / ((double)wl / (t2 - t1)), sink == 1 ? " " : "");
	spd_destroy(&s);
	free(t);
	return 0;
}
