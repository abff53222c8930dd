/* Fuzzes the path MTU helpers on whatever a TUN device could hand the engine. The
 * first two input bytes are the inner MTU (clamped to 68..65535), the rest an IP
 * packet. Whatever pkt_parse accepts: the ICMP answer stays within its buffer and
 * quotes the packet's start; if the packet can be fragmented, every fragment fits the
 * MTU, parses as IPv4 and the pieces give back the payload exactly. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esp/pmtu.h"
#include "esp/spd.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t frag[65536 + 64], whole[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t mtu = get_u16(data);
	if (mtu < PMTU_IPV4_MIN_MTU)
		mtu = PMTU_IPV4_MIN_MTU;
	const uint8_t *pkt = data + 2;
	struct pkt_tuple t;
	if (pkt_parse(pkt, size - 2, &t) < 0)
		return 0;
	uint8_t icmp[PMTU_ICMP_MAX];
	size_t n = pmtu_icmp_build(pkt, &t, (uint32_t)mtu, icmp, sizeof(icmp));
	size_t hdr = t.family == AF_INET ? 28 : 48;
	if (n > sizeof(icmp) || (n && (n < hdr || memcmp(icmp + hdr, pkt, n - hdr) != 0)))
		abort();
	struct pmtu_frag f;
	if (pmtu_frag_init(&f, pkt, &t, mtu) < 0)
		return 0;
	size_t count = pmtu_frag_count(&f), got = 0, k = 0, fl;
	while ((fl = pmtu_frag_next(&f, frag, sizeof(frag))) > 0) {
		struct pkt_tuple ft;
		if (fl > mtu || pkt_parse(frag, fl, &ft) < 0 || ft.total != fl)
			abort();
		memcpy(whole + got, frag + ft.hdrlen, fl - ft.hdrlen);
		got += fl - ft.hdrlen;
		k++;
	}
	if (k != count || got != t.total - t.hdrlen || memcmp(whole, pkt + t.hdrlen, got) != 0)
		abort();
	return 0;
}
