/* Path MTU helpers of the outbound path (see pmtu.h). */
#include "esp/pmtu.h"

#include <netinet/in.h>
#include <string.h>

#include "lib/buf.h"
#include "esp/esp_transform.h"

#define IP_RF	0x8000
#define IP_DF	0x4000
#define IP_MF	0x2000
#define IP_OFFMASK 0x1fff

uint16_t pmtu_csum(const uint8_t *data, size_t len, uint32_t sum)
{
	size_t i;
	for (i = 0; i + 1 < len; i += 2)
		sum += get_u16(data + i);
	if (i < len)
		sum += (uint32_t)data[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t pmtu_inner_mtu(size_t path_mtu, size_t outer_hdr, size_t iv, size_t icv, size_t block)
{
	size_t fixed = outer_hdr + ESP_HDR_LEN + iv + icv;
	if (block == 0 || path_mtu < fixed + block)
		return 0;
	/* The ciphertext (payload | padding | pad length | next header) is a multiple of
	 * the block: the largest multiple that fits, less the 2-byte trailer. */
	size_t ct = (path_mtu - fixed) / block * block;
	return ct > ESP_TRAILER_LEN ? ct - ESP_TRAILER_LEN : 0;
}

/* --- ICMP answers ------------------------------------------------------------------ */

/* ICMP queries (RFC 792, 950): everything else is, or may be, an error message. */
static bool icmp4_is_query(uint8_t type)
{
	return type == 0 || type == 8 || (type >= 13 && type <= 18);
}

static bool v4_unicast(const uint8_t *a)
{
	return a[0] != 0 && a[0] < 224;	/* not 0/8, multicast, class E, broadcast */
}

static size_t icmp4_build(const uint8_t *pkt, const struct pkt_tuple *t, uint32_t mtu,
			  uint8_t *out, size_t cap)
{
	if (t->later_fragment || !v4_unicast(t->src) || !v4_unicast(t->dst))
		return 0;
	if (t->proto == IPPROTO_ICMP &&
	    (t->total < t->hdrlen + 2 || !icmp4_is_query((uint8_t)(t->sport >> 8))))
		return 0;
	size_t quote = t->hdrlen + (t->total - t->hdrlen < 8 ? t->total - t->hdrlen : 8);
	size_t n = 20 + 8 + quote;
	if (cap < n)
		return 0;
	memset(out, 0, 28);
	out[0] = 0x45;
	out[1] = 0xc0;			/* precedence "internetwork control", as routers */
	put_u16(out + 2, (uint16_t)n);
	out[8] = 64;
	out[9] = IPPROTO_ICMP;
	memcpy(out + 12, t->dst, 4);
	memcpy(out + 16, t->src, 4);
	put_u16(out + 10, pmtu_csum(out, 20, 0));
	uint8_t *icmp = out + 20;
	icmp[0] = 3;			/* destination unreachable */
	icmp[1] = 4;			/* fragmentation needed and DF set */
	put_u16(icmp + 6, (uint16_t)(mtu > 0xffff ? 0xffff : mtu));	/* RFC 1191 */
	memcpy(icmp + 8, pkt, quote);
	put_u16(icmp + 2, pmtu_csum(icmp, 8 + quote, 0));
	return n;
}

static size_t icmp6_build(const uint8_t *pkt, const struct pkt_tuple *t, uint32_t mtu,
			  uint8_t *out, size_t cap)
{
	static const uint8_t zero[16];
	/* A multicast destination cannot be the answer's source; we have no other. */
	if (memcmp(t->src, zero, 16) == 0 || t->src[0] == 0xff || t->dst[0] == 0xff)
		return 0;
	if (t->proto == IPPROTO_ICMPV6 && !t->later_fragment &&
	    (t->total < t->hdrlen + 2 || (t->sport >> 8) < 128))
		return 0;
	size_t quote = t->total < PMTU_ICMP_MAX - 48 ? t->total : PMTU_ICMP_MAX - 48;
	size_t plen = 8 + quote, n = 40 + plen;
	if (cap < n)
		return 0;
	memset(out, 0, 48);
	out[0] = 0x60;
	put_u16(out + 4, (uint16_t)plen);
	out[6] = IPPROTO_ICMPV6;
	out[7] = 64;
	memcpy(out + 8, t->dst, 16);
	memcpy(out + 24, t->src, 16);
	uint8_t *icmp = out + 40;
	icmp[0] = 2;			/* packet too big */
	put_u32(icmp + 4, mtu);
	memcpy(icmp + 8, pkt, quote);
	/* Pseudo-header (RFC 8200 8.1): addresses, upper-layer length, next header. */
	uint32_t sum = (uint32_t)plen + IPPROTO_ICMPV6;
	for (int i = 8; i < 40; i += 2)
		sum += get_u16(out + i);
	put_u16(icmp + 2, pmtu_csum(icmp, plen, sum));
	return n;
}

size_t pmtu_icmp_build(const uint8_t *pkt, const struct pkt_tuple *t, uint32_t mtu,
		       uint8_t *out, size_t cap)
{
	if (t->family == AF_INET)
		return icmp4_build(pkt, t, mtu, out, cap);
	if (t->family == AF_INET6)
		return icmp6_build(pkt, t, mtu, out, cap);
	return 0;
}

/* --- IPv4 fragmentation ------------------------------------------------------------- */

/* Header of later fragments: the fixed part and the options whose copy flag is set
 * (RFC 791 3.1), padded with end-of-options to a multiple of 4. -1 on bad options. */
static int later_header(struct pmtu_frag *f)
{
	const uint8_t *h = f->pkt;
	size_t n = 20;
	memcpy(f->hdr2, h, 20);
	for (size_t o = 20; o < f->hl;) {
		uint8_t type = h[o];
		if (type == 0)		/* end of options */
			break;
		if (type == 1) {	/* no-operation, not copied */
			o++;
			continue;
		}
		if (o + 1 >= f->hl || h[o + 1] < 2 || o + h[o + 1] > f->hl)
			return -1;
		if (type & 0x80) {
			memcpy(f->hdr2 + n, h + o, h[o + 1]);
			n += h[o + 1];
		}
		o += h[o + 1];
	}
	while (n & 3)
		f->hdr2[n++] = 0;
	f->hl2 = n;
	f->hdr2[0] = (uint8_t)(0x40 | (n / 4));
	return 0;
}

int pmtu_frag_init(struct pmtu_frag *f, const uint8_t *pkt, const struct pkt_tuple *t,
		   size_t mtu)
{
	memset(f, 0, sizeof(*f));
	if (t->family != AF_INET || t->hdrlen < 20 || t->hdrlen > 60 || t->total < t->hdrlen)
		return -1;
	uint16_t fl = get_u16(pkt + 6);
	if (fl & IP_DF)
		return -1;
	f->pkt = pkt;
	f->hl = t->hdrlen;
	f->len = t->total - t->hdrlen;
	f->mtu = mtu > 0xffff ? 0xffff : mtu;
	f->off8 = fl & IP_OFFMASK;
	f->mf = (fl & IP_MF) != 0;
	if (f->mtu < f->hl + 8 || (size_t)f->off8 * 8 + f->hl + f->len > 0xffff)
		return -1;
	return later_header(f);
}

/* Payload bytes a fragment with a header of hl bytes may carry if it is not the last. */
static size_t chunk(const struct pmtu_frag *f, size_t hl)
{
	return (f->mtu - hl) & ~(size_t)7;
}

size_t pmtu_frag_count(const struct pmtu_frag *f)
{
	if (f->len <= f->mtu - f->hl)
		return 1;
	/* After the first, full pieces of chunk(hl2) until the rest fits in one last
	 * fragment, which may carry up to mtu - hl2 bytes (no multiple of 8 needed). */
	size_t rest = f->len - chunk(f, f->hl), last = f->mtu - f->hl2, later = chunk(f, f->hl2);
	if (rest <= last)
		return 2;
	return 2 + (rest - last + later - 1) / later;
}

size_t pmtu_frag_next(struct pmtu_frag *f, uint8_t *out, size_t cap)
{
	bool first = f->pos == 0;
	if (!first && f->pos >= f->len)
		return 0;
	if (first && f->hl2 == 0)	/* init failed, or the last fragment went out */
		return 0;
	size_t hl = first ? f->hl : f->hl2;
	size_t left = f->len - f->pos;
	bool last = left <= f->mtu - hl;
	size_t n = last ? left : chunk(f, hl);
	if (cap < hl + n)
		return 0;
	memcpy(out, first ? f->pkt : f->hdr2, hl);
	memcpy(out + hl, f->pkt + f->hl + f->pos, n);
	uint16_t fl = get_u16(f->pkt + 6) & IP_RF;
	fl |= (uint16_t)(f->off8 + f->pos / 8);
	if (!last || f->mf)
		fl |= IP_MF;
	put_u16(out + 2, (uint16_t)(hl + n));
	put_u16(out + 6, fl);
	put_u16(out + 10, 0);
	put_u16(out + 10, pmtu_csum(out, hl, 0));
	f->pos += n;
	if (last)
		f->hl2 = 0;	/* also ends a packet with an empty payload */
	return hl + n;
}
