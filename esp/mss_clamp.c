#include "esp/mss_clamp.h"

#include "lib/buf.h"
#include "lib/csum.h"

#define TCP_SYN 0x02
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2

bool mss_clamp(uint8_t *pkt, const struct pkt_tuple *t, uint16_t mss)
{
	/* Only the first fragment has a TCP header, and only what lies in it counts:
	 * the options must end within this fragment (checked against doff below). */
	if (t->proto != 6 || t->later_fragment || t->total < t->hdrlen + 20)
		return false;
	uint8_t *tcp = pkt + t->hdrlen;
	size_t tcplen = t->total - t->hdrlen;
	if (!(tcp[13] & TCP_SYN))
		return false;
	size_t doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || doff > tcplen)
		return false;
	for (size_t o = 20; o < doff;) {
		uint8_t kind = tcp[o];
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			o++;
			continue;
		}
		if (o + 1 >= doff || tcp[o + 1] < 2 || o + tcp[o + 1] > doff)
			return false;
		/* The value sits on a 16-bit boundary of the segment in every stack we know;
		 * an odd placement is left alone rather than patched across two words. */
		if (kind == TCPOPT_MSS && tcp[o + 1] == 4 && (o & 1) == 0) {
			uint16_t cur = get_u16(tcp + o + 2);
			if (cur <= mss)
				return false;
			put_u16(tcp + o + 2, mss);
			put_u16(tcp + 16, csum_update(get_u16(tcp + 16), cur, mss));
			return true;
		}
		o += tcp[o + 1];
	}
	return false;
}
