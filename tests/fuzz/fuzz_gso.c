/* Fuzzes the TUN super-packet parser and splitter (esp/gso.c) with what a TUN device
 * with IFF_VNET_HDR could hand the engine: a virtio_net_hdr and a packet. Whatever
 * gso_init accepts: every segment fits its buffer, carries the whole header and at
 * most gso_size payload bytes, and the payloads put together are the packet's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esp/gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t seg[65536], whole[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gso_pkt g;
	if (gso_init(&g, data, size) < 0)
		return 0;
	if (g.len > size - GSO_VNET_HDR_LEN)
		abort();
	size_t n, got = 0, count = 0;
	while ((n = gso_next(&g, seg, sizeof(seg))) > 0) {
		if (n > g.len || ++count > 65536)
			abort();
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
	return 0;
}
