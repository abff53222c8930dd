/* Fuzzes the TUN super-packet parser and splitter (esp/gso.c) with what a TUN device
 * with IFF_VNET_HDR could hand the engine: a virtio_net_hdr and a packet. Whatever
 * gso_init accepts: every segment fits its buffer, carries the whole header and at
 * most gso_size payload bytes, and the payloads put together are the packet's.
 * The segments then go through the coalescer (esp/gro.c), which must give a run
 * within them; split again, a TCP run gives back its segments' payloads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esp/gro.h"
#include "esp/gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t seg[65536], whole[65536];
#define KEEP 64
static uint8_t kept[KEEP][2048], super[GSO_VNET_HDR_LEN + 65536];
static size_t kept_len[KEEP];

/* Coalesces the kept segments from the first and checks the run. */
static void coalesce(unsigned n)
{
	uint8_t *p[KEEP];
	for (unsigned i = 0; i < n; i++)
		p[i] = kept[i];
	struct gro_run r;
	gro_run(p, kept_len, n, true, &r);
	if (r.count < 1 || r.count > (n ? n : 1))
		abort();
	if (r.count == 1)
		return;
	size_t len = GSO_VNET_HDR_LEN + kept_len[0];
	memcpy(super, r.vnet, GSO_VNET_HDR_LEN);
	memcpy(super + GSO_VNET_HDR_LEN, kept[0], kept_len[0]);
	for (unsigned k = 1; k < r.count; k++) {
		if (kept_len[k] < r.hlen)
			abort();
		memcpy(super + len, kept[k] + r.hlen, kept_len[k] - r.hlen);
		len += kept_len[k] - r.hlen;
	}
	struct gso_pkt g;
	if (gso_init(&g, super, len) < 0)
		abort();
	unsigned k = 0;
	size_t n2;
	while ((n2 = gso_next(&g, seg, sizeof(seg))) > 0) {
		if (k >= r.count || n2 != kept_len[k] ||
		    memcmp(seg + r.hlen, kept[k] + r.hlen, n2 - r.hlen) != 0)
			abort();
		k++;
	}
	if (k != r.count)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gso_pkt g;
	if (gso_init(&g, data, size) < 0)
		return 0;
	if (g.len > size - GSO_VNET_HDR_LEN)
		abort();
	size_t n, got = 0, count = 0;
	unsigned nkept = 0;
	while ((n = gso_next(&g, seg, sizeof(seg))) > 0) {
		if (n > g.len || ++count > 65536)
			abort();
		if (nkept < KEEP && n <= sizeof(kept[0])) {
			memcpy(kept[nkept], seg, n);
			kept_len[nkept++] = n;
		}
		if (g.type == GSO_TYPE_NONE) {
			got = n;
			continue;
		}
		if (n < g.hlen || n - g.hlen > g.mss)
			abort();
		memcpy(whole + got, seg + g.hlen, n - g.hlen);
		got += n - g.hlen;
	}
	if (g.type == GSO_TYPE_NONE ? got != g.len :
	    got != g.len - g.hlen || memcmp(whole, g.pkt + g.hlen, got) != 0)
		abort();
	coalesce(nkept);
	return 0;
}
