#include <arpa/inet.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/nat_pkt.h"

uint32_t A(const char *dotted)
{
	struct in_addr in;
	inet_pton(AF_INET, dotted, &in);
	return ntohl(in.s_addr);
}

uint16_t full_csum(const uint8_t *d, size_t n, uint32_t sum)
{
	for (size_t i = 0; i < n; i += 2)
		sum += i + 1 < n ? (uint32_t)(d[i] << 8 | d[i + 1]) : (uint32_t)d[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t hl(const uint8_t *p)
{
	return (size_t)(p[0] & 15) * 4;
}

void fix_ip_csum(uint8_t *p)
{
	put_u16(p + 10, 0);
	put_u16(p + 10, full_csum(p, hl(p), 0));
}

bool ip_csum_ok(const uint8_t *p)
{
	return full_csum(p, hl(p), 0) == 0;
}

static uint32_t pseudo(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (int i = 12; i < 20; i += 2)
		sum += get_u16(p + i);
	return sum + p[9] + (uint32_t)len;
}

static void fill_l4_csum(uint8_t *p)
{
	size_t h = hl(p), len = get_u16(p + 2) - h;
	uint8_t *l4 = p + h;
	size_t off = p[9] == 6 ? 16 : p[9] == 17 ? 6 : 2;
	put_u16(l4 + off, 0);
	uint16_t c = full_csum(l4, len, p[9] == 1 ? 0 : pseudo(p, len));
	if (p[9] == 17 && c == 0)
		c = 0xffff;
	put_u16(l4 + off, c);
}

void fix_l4_csum(uint8_t *p)
{
	fill_l4_csum(p);
}

bool l4_csum_ok(const uint8_t *p, size_t len)
{
	size_t h = hl(p);
	if (!len)
		len = get_u16(p + 2) - h;
	/* The pseudo header carries the segment's full length, from the header. */
	size_t full = get_u16(p + 2) - h;
	return full_csum(p + h, len, p[9] == 1 ? 0 : pseudo(p, full)) == 0;
}

static void ip_hdr(uint8_t *p, const char *src, const char *dst, uint8_t proto, size_t total)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)total);
	put_u16(p + 4, 0x1234);
	p[8] = 64;
	p[9] = proto;
	put_u32(p + 12, A(src));
	put_u32(p + 16, A(dst));
	fix_ip_csum(p);
}

size_t mk_tcp(uint8_t *p, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const uint8_t *opts,
    size_t optlen, size_t payload)
{
	size_t th = 20 + optlen, total = 20 + th + payload;
	ip_hdr(p, src, dst, 6, total);
	uint8_t *t = p + 20;
	memset(t, 0, th);
	put_u16(t, sp);
	put_u16(t + 2, dp);
	put_u32(t + 4, seq);
	put_u32(t + 8, ack);
	t[12] = (uint8_t)((th / 4) << 4);
	t[13] = flags;
	put_u16(t + 14, win);
	if (optlen)
		memcpy(t + 20, opts, optlen);
	memset(t + th, 0x5a, payload);
	fill_l4_csum(p);
	return total;
}

size_t mk_udp(uint8_t *p, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    size_t payload)
{
	size_t total = 28 + payload;
	ip_hdr(p, src, dst, 17, total);
	put_u16(p + 20, sp);
	put_u16(p + 22, dp);
	put_u16(p + 24, (uint16_t)(8 + payload));
	memset(p + 28, 0x5a, payload);
	fill_l4_csum(p);
	return total;
}

size_t mk_icmp_echo(uint8_t *p, const char *src, const char *dst, uint8_t type, uint16_t id,
    uint16_t seq)
{
	size_t total = 20 + 8 + 32;
	ip_hdr(p, src, dst, 1, total);
	uint8_t *m = p + 20;
	memset(m, 0, 8);
	m[0] = type;
	put_u16(m + 4, id);
	put_u16(m + 6, seq);
	memset(m + 8, 0x5a, 32);
	fill_l4_csum(p);
	return total;
}

size_t mk_icmp_error(uint8_t *p, const char *src, const char *dst, uint8_t type, uint8_t code,
    const uint8_t *quoted, size_t qlen)
{
	size_t total = 28 + qlen;
	ip_hdr(p, src, dst, 1, total);
	uint8_t *m = p + 20;
	memset(m, 0, 8);
	m[0] = type;
	m[1] = code;
	if (type == 3 && code == 4)
		put_u16(m + 6, 1400);	/* next-hop MTU */
	memcpy(m + 8, quoted, qlen);
	fill_l4_csum(p);
	return total;
}

size_t mk_ip(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t id,
    uint16_t frag, size_t payload)
{
	size_t total = 20 + payload;
	ip_hdr(p, src, dst, proto, total);
	put_u16(p + 4, id);
	put_u16(p + 6, frag);
	memset(p + 20, 0x5a, payload);
	fix_ip_csum(p);
	return total;
}

uint32_t pkt_src(const uint8_t *p) { return get_u32(p + 12); }
uint32_t pkt_dst(const uint8_t *p) { return get_u32(p + 16); }

uint16_t pkt_sport(const uint8_t *p)
{
	return p[9] == 1 ? get_u16(p + hl(p) + 4) : get_u16(p + hl(p));
}

uint16_t pkt_dport(const uint8_t *p)
{
	return p[9] == 1 ? get_u16(p + hl(p) + 4) : get_u16(p + hl(p) + 2);
}
