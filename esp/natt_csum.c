#include "esp/natt_csum.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "lib/buf.h"

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get_u16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static void tcp_csum(const uint8_t *ip, uint8_t *tcp, size_t len)
{
	uint32_t sum = sum16(ip + 12, 8, 0) + IPPROTO_TCP + (uint32_t)len;
	put_u16(tcp + 16, 0);
	sum = sum16(tcp, len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_u16(tcp + 16, (uint16_t)~sum);
}

bool natt_transport_port(uint8_t *pkt, struct pkt_tuple *t, bool inbound, uint16_t from,
			 uint16_t to)
{
	if (t->family != AF_INET || t->later_fragment || t->total < t->hdrlen + 8 ||
	    (t->proto != IPPROTO_UDP && t->proto != IPPROTO_TCP))
		return false;
	uint16_t *port = inbound ? &t->sport : &t->dport;
	if (from == 0 || *port != from || from == to)
		return false;
	put_u16(pkt + t->hdrlen + (inbound ? 0 : 2), to);
	*port = to;
	natt_transport_csum(pkt, t);
	return true;
}

void natt_transport_csum(uint8_t *pkt, const struct pkt_tuple *t)
{
	if (t->family != AF_INET || t->later_fragment || t->total < t->hdrlen)
		return;
	uint8_t *l4 = pkt + t->hdrlen;
	size_t len = t->total - t->hdrlen;
	bool more_fragments = pkt[6] & 0x20;
	if (t->proto == IPPROTO_UDP && len >= 8)
		put_u16(l4 + 6, 0);
	else if (t->proto == IPPROTO_TCP && len >= 20 && !more_fragments)
		tcp_csum(pkt, l4, len);
}
