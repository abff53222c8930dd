/* Memory per NAT flow: fills a table of a million flows (UDP, PAT from 62500
 * inside hosts to 16 servers, each flow a real nat_translate call) and reports
 * the resident memory it took, per flow, next to sizeof(struct flow); then
 * the rate of new flows and of packets of known flows, translate step alone.
 *   tests/bench/nat/nat_mem [flows]
 * Linux conntrack's figure for comparison: /proc/slabinfo, nf_conntrack
 * objsize (256 bytes on this kernel, before extensions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "nat/nat.h"
#include "nat/nat_priv.h"
#include "nat/nat_rules.h"

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	if (f)
		fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static size_t udp(uint8_t *p, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp)
{
	memset(p, 0, 36);
	p[0] = 0x45;
	put_u16(p + 2, 36);
	p[8] = 64;
	p[9] = 17;
	put_u32(p + 12, src);
	put_u32(p + 16, dst);
	put_u16(p + 20, sp);
	put_u16(p + 22, dp);
	put_u16(p + 24, 16);
	return 36;
}

int main(int argc, char **argv)
{
	size_t flows = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	struct nat_rules *r = nat_rules_new();
	struct nat_rule lan = { .kind = NAT_RULE_PAT, .n_priv = 1, .pub_if = 0 };
	char err[128];
	snprintf(lan.name, sizeof(lan.name), "lan");
	lan.priv[0] = (struct nat_net){ 0x0a000000, 8 };	/* 10/8 */
	if (!r || nat_rules_add_iface(r, false, "lan0") < 0 ||
	    nat_rules_add_iface(r, true, "wan0") < 0 || nat_rules_add(r, &lan, err, sizeof(err)) < 0) {
		fprintf(stderr, "rules: %s\n", err);
		return 1;
	}
	nat_rules_set_iface_addr(r, "wan0", 0xcb007101);
	long before = rss_kb();
	struct nat_table *t = nat_table_new(r, flows);
	if (!t)
		return 1;
	uint8_t b[64];
	size_t ok = 0;
	clock_t c0 = clock();
	for (size_t i = 0; i < flows; i++) {
		/* 62500 hosts x 16 ports, each to one of 16 servers. */
		uint32_t host = 0x0a000000 + 1 + (uint32_t)(i / 16);
		struct nat_packet np = { b, udp(b, host, (uint16_t)(10000 + i % 16), 0xc6120000 +
						 (uint32_t)(i % 16), 443), sizeof(b), false };
		ok += nat_translate(t, &np, NAT_FROM_INSIDE, 1000) == NAT_FORWARD;
	}
	double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	long after = rss_kb();
	/* Again: every packet now belongs to a known flow (the steady state). */
	clock_t c1 = clock();
	size_t hits = 0;
	for (size_t i = 0; i < flows; i++) {
		uint32_t host = 0x0a000000 + 1 + (uint32_t)(i / 16);
		struct nat_packet np = { b, udp(b, host, (uint16_t)(10000 + i % 16), 0xc6120000 +
						 (uint32_t)(i % 16), 443), sizeof(b), false };
		hits += nat_translate(t, &np, NAT_FROM_INSIDE, 2000) == NAT_FORWARD;
	}
	double secs2 = (double)(clock() - c1) / CLOCKS_PER_SEC;
	struct nat_counters c;
	nat_table_counters(t, &c);
	printf("flows: %zu translated, %llu active, %llu evicted\n", ok,
	       (unsigned long long)c.flows_active, (unsigned long long)c.flows_evicted);
	printf("sizeof(struct flow): %zu bytes; hash: %zu bytes per flow\n", sizeof(struct flow),
	       (size_t)(t->mask + 1) * sizeof(uint32_t) / flows);
	printf("resident memory: %ld KiB for the table = %.1f bytes per flow\n", after - before,
	       (double)(after - before) * 1024 / (double)flows);
	printf("new flows: %.0f per second (one core, translate step only)\n", flows / secs);
	printf("packets of known flows: %.0f per second (%zu hits; table of %zu, cache-cold)\n",
	       flows / secs2, hits, flows);
	nat_table_free(t);
	nat_rules_free(r);
	return 0;
}
