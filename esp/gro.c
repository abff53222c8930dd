/* Coalescing decrypted TCP segments and UDP datagrams into super-packets for the
 * TUN device (gro.h). */
#include "esp/gro.h"

#include <stdbool.h>
#include <string.h>

#include "lib/buf.h"

#define TCP_ACK 0x10
#define TCP_PSH 0x08

struct seg {
	bool v6;
	size_t l3, hl, payload;
	uint32_t seq;
	uint8_t flags;
};

/* An IP packet of protocol proto without IP options, extension headers or
 * fragmentation, its length exactly len. */
static bool ip_parse(const uint8_t *p, size_t len, uint8_t proto, struct seg *s)
{
	if (len >= 20 && p[0] == 0x45) {
		if (get_u16(p + 2) != len || p[9] != proto || (get_u16(p + 6) & 0x3fff))
			return false;
		s->v6 = false;
		s->l3 = 20;
		return true;
	}
	if (len >= 40 && p[0] >> 4 == 6) {
		if (40 + (size_t)get_u16(p + 4) != len || p[6] != proto)
			return false;
		s->v6 = true;
		s->l3 = 40;
		return true;
	}
	return false;
}

/* A TCP segment carrying only ACK (and PSH). */
static bool seg_parse(const uint8_t *p, size_t len, struct seg *s)
{
	if (!ip_parse(p, len, 6, s) || len < s->l3 + 20)
		return false;
	const uint8_t *t = p + s->l3;
	size_t th = (size_t)(t[12] >> 4) * 4;
	if (th < 20 || s->l3 + th > len)
		return false;
	s->hl = s->l3 + th;
	s->payload = len - s->hl;
	s->seq = get_u32(t + 4);
	s->flags = t[13];
	return (s->flags & (uint8_t)~TCP_PSH) == TCP_ACK;
}

/* A UDP datagram with a payload and a checksum (an IPv4 one without gets none from
 * the kernel's segmentation either way, but is left alone: it was sent so). */
static bool dgram_parse(const uint8_t *p, size_t len, struct seg *s)
{
	if (!ip_parse(p, len, 17, s) || len <= s->l3 + 8)
		return false;
	const uint8_t *u = p + s->l3;
	if (get_u16(u + 4) != len - s->l3 || get_u16(u + 6) == 0)
		return false;
	s->hl = s->l3 + 8;
	s->payload = len - s->hl;
	s->seq = 0;
	s->flags = 0;
	return true;
}

static bool csum_ok(const uint8_t *p, const struct seg *s, size_t len, uint8_t proto)
{
	size_t l4len = len - s->l3;
	return gso_csum(p + s->l3, l4len, gso_pseudo_sum(p, s->v6, proto, l4len)) == 0;
}

/* Same IP header fields: version, TOS/traffic class, flow label, DF, TTL/hop
 * limit, addresses. */
static bool same_ip(const uint8_t *a, const uint8_t *b, const struct seg *s)
{
	if (s->v6)
		return memcmp(a, b, 4) == 0 && a[7] == b[7] && memcmp(a + 8, b + 8, 32) == 0;
	return a[1] == b[1] && memcmp(a + 6, b + 6, 3) == 0 && memcmp(a + 12, b + 12, 8) == 0;
}

/* Same stream and same header fields: same_ip; ports, ack, data offset, window and
 * options. */
static bool same_stream(const uint8_t *a, const uint8_t *b, const struct seg *s)
{
	if (!same_ip(a, b, s))
		return false;
	const uint8_t *ta = a + s->l3, *tb = b + s->l3;
	return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 5) == 0 &&
	       memcmp(ta + 14, tb + 14, 2) == 0 &&
	       memcmp(ta + 20, tb + 20, s->hl - s->l3 - 20) == 0;
}

/* Rewrites the first packet's headers for the run of `total` bytes. */
static void make_super(uint8_t *p, const struct seg *s, size_t total, bool psh)
{
	if (s->v6) {
		put_u16(p + 4, (uint16_t)(total - 40));
	} else {
		put_u16(p + 2, (uint16_t)total);
		put_u16(p + 10, 0);
		put_u16(p + 10, gso_csum(p, 20, 0));
	}
	uint8_t *t = p + s->l3;
	if (psh)
		t[13] |= TCP_PSH;
	/* A partial checksum: the folded pseudo-header sum, not complemented. */
	put_u16(t + 16, (uint16_t)~gso_csum(NULL, 0, gso_pseudo_sum(p, s->v6, 6, total - s->l3)));
}

static void put_h16(uint8_t *at, size_t v)
{
	uint16_t h = (uint16_t)v;
	memcpy(at, &h, sizeof(h));
}

/* The first packet's headers for a run of UDP datagrams of `total` bytes. */
static void make_super_udp(uint8_t *p, const struct seg *s, size_t total)
{
	if (s->v6) {
		put_u16(p + 4, (uint16_t)(total - 40));
	} else {
		put_u16(p + 2, (uint16_t)total);
		put_u16(p + 10, 0);
		put_u16(p + 10, gso_csum(p, 20, 0));
	}
	uint8_t *u = p + s->l3;
	put_u16(u + 4, (uint16_t)(total - s->l3));
	put_u16(u + 6, (uint16_t)~gso_csum(NULL, 0, gso_pseudo_sum(p, s->v6, 17, total - s->l3)));
}

/* UDP datagrams of one flow, all of the first one's size but the last (not larger),
 * with valid checksums: written as one USO super-packet, which the kernel splits
 * into the same datagrams (IPv4 ids counting up from the first one's). */
static void udp_run(uint8_t *const *pkt, const size_t *len, unsigned n, struct gro_run *r)
{
	struct seg first, s;
	if (!dgram_parse(pkt[0], len[0], &first) || !csum_ok(pkt[0], &first, len[0], 17))
		return;
	size_t total = len[0];
	unsigned k = 1;
	while (k < n && k < GRO_MAX_SEGS) {
		if (!dgram_parse(pkt[k], len[k], &s) || s.v6 != first.v6 ||
		    s.payload > first.payload || total + s.payload > 65535 ||
		    !same_ip(pkt[0], pkt[k], &first) || memcmp(pkt[0] + first.l3,
		    pkt[k] + first.l3, 4) != 0 || !csum_ok(pkt[k], &s, len[k], 17))
			break;
		total += s.payload;
		k++;
		if (s.payload < first.payload)
			break;
	}
	if (k == 1)
		return;
	make_super_udp(pkt[0], &first, total);
	r->count = k;
	r->hlen = first.hl;
	r->vnet[0] = GSO_F_NEEDS_CSUM;
	r->vnet[1] = GSO_TYPE_UDP_L4;
	put_h16(r->vnet + 2, first.hl);
	put_h16(r->vnet + 4, first.payload);
	put_h16(r->vnet + 6, first.l3);
	put_h16(r->vnet + 8, 6);
}

void gro_run(uint8_t *const *pkt, const size_t *len, unsigned n, bool udp, struct gro_run *r)
{
	memset(r, 0, sizeof(*r));
	r->count = 1;
	struct seg first, s;
	if (n < 2)
		return;
	if (udp && len[0] >= 20 && pkt[0][(pkt[0][0] >> 4) == 6 ? 6 : 9] == 17) {
		udp_run(pkt, len, n, r);
		return;
	}
	if (!seg_parse(pkt[0], len[0], &first) || first.payload == 0 ||
	    (first.flags & TCP_PSH) || !csum_ok(pkt[0], &first, len[0], 6))
		return;
	size_t total = len[0];
	bool psh = false;
	unsigned k = 1;
	while (k < n && k < GRO_MAX_SEGS) {
		if (!seg_parse(pkt[k], len[k], &s) || s.v6 != first.v6 || s.hl != first.hl ||
		    s.payload == 0 || s.payload > first.payload ||
		    s.seq != first.seq + (uint32_t)(total - first.hl) ||
		    total + s.payload > 65535 || !same_stream(pkt[0], pkt[k], &first) ||
		    !csum_ok(pkt[k], &s, len[k], 6))
			break;
		total += s.payload;
		k++;
		if (s.flags & TCP_PSH) {
			psh = true;
			break;
		}
		if (s.payload < first.payload)
			break;
	}
	if (k == 1)
		return;
	make_super(pkt[0], &first, total, psh);
	r->count = k;
	r->hlen = first.hl;
	r->vnet[0] = GSO_F_NEEDS_CSUM;
	r->vnet[1] = first.v6 ? GSO_TYPE_TCPV6 : GSO_TYPE_TCPV4;
	put_h16(r->vnet + 2, first.hl);
	put_h16(r->vnet + 4, first.payload);
	put_h16(r->vnet + 6, first.l3);
	put_h16(r->vnet + 8, 16);
}
