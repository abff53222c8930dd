/* Splitting TUN super-packets (esp/gso.c) on hand-built packets: every segment is
 * checked here independently (IP lengths and ids, TCP sequence numbers and flags, IP
 * and TCP/UDP checksums computed with a plain byte loop), the payloads put together
 * give the original back, and vnet headers that lie about the packet are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "esp/gro.h"
#include "esp/gso.h"
#include "lib/buf.h"

/* One's-complement sum of data, as the receiver checks it: 0xffff when valid. */
static uint16_t ones_sum(const uint8_t *d, size_t len, uint32_t sum)
{
	for (size_t i = 0; i < len; i++)
		sum += (i & 1) ? d[i] : (uint32_t)d[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t pseudo(const uint8_t *ip, bool v6, uint8_t proto, size_t l4len)
{
	uint32_t s = proto + (uint32_t)l4len;
	for (size_t i = v6 ? 8 : 12; i < (v6 ? 40u : 20u); i += 2)
		s += get_u16(ip + i);
	return s;
}

static void vnet(uint8_t *b, uint8_t flags, uint8_t type, uint16_t hdr_len, uint16_t gso_size,
		 uint16_t csum_start, uint16_t csum_offset)
{
	b[0] = flags;
	b[1] = type;
	memcpy(b + 2, &hdr_len, 2);
	memcpy(b + 4, &gso_size, 2);
	memcpy(b + 6, &csum_start, 2);
	memcpy(b + 8, &csum_offset, 2);
}

#define TCP_FLAGS_ALL	0x80 | 0x10 | 0x08 | 0x01	/* CWR ACK PSH FIN */

/* An IP packet (IPv4 with l3 = 20 or 24, IPv6 with 40) at p, TCP (th = header
 * length) or UDP (th = 8), then payload bytes. The TCP/UDP checksum field holds the
 * pseudo-header sum, as the kernel leaves it for a partial checksum. */
static size_t build(uint8_t *p, bool v6, size_t l3, bool tcp, size_t th, size_t payload)
{
	size_t total = l3 + th + payload;
	memset(p, 0, l3 + th);
	if (v6) {
		p[0] = 0x60;
		put_u16(p + 4, (uint16_t)(total - 40));
		p[6] = tcp ? 6 : 17;
		p[7] = 64;
		inet_pton(AF_INET6, "2001:db8:1::10", p + 8);
		inet_pton(AF_INET6, "2001:db8:2::10", p + 24);
	} else {
		p[0] = (uint8_t)(0x40 | l3 / 4);
		put_u16(p + 2, (uint16_t)total);
		put_u16(p + 4, 0xfffe);	/* ids wrap */
		put_u16(p + 6, 0x4000);
		p[8] = 64;
		p[9] = tcp ? 6 : 17;
		inet_pton(AF_INET, "10.1.0.10", p + 12);
		inet_pton(AF_INET, "10.2.0.10", p + 16);
		if (l3 > 20)
			memset(p + 20, 1, l3 - 20);	/* NOP options */
		put_u16(p + 10, (uint16_t)~ones_sum(p, l3, 0));
	}
	uint8_t *l4 = p + l3;
	put_u16(l4, 40000);
	put_u16(l4 + 2, 5201);
	if (tcp) {
		put_u32(l4 + 4, 0xfffffff0);	/* sequence numbers wrap */
		put_u32(l4 + 8, 77);
		l4[12] = (uint8_t)(th / 4 << 4);
		l4[13] = TCP_FLAGS_ALL;
		put_u16(l4 + 14, 65535);
		for (size_t i = 20; i < th; i++)
			l4[i] = 1;
	} else {
		put_u16(l4 + 4, (uint16_t)(th + payload));
	}
	for (size_t i = 0; i < payload; i++)
		l4[th + i] = (uint8_t)(i * 7 + 3);
	uint16_t ps = ones_sum(NULL, 0, pseudo(p, v6, tcp ? 6 : 17, th + payload));
	put_u16(l4 + (tcp ? 16 : 6), ps);
	return total;
}

static uint8_t in[GSO_VNET_HDR_LEN + 65536], out[65536], joined[65536];

/* Splits in (len bytes) and checks every segment; returns how many there were. */
static unsigned split_check(size_t len, bool v6, size_t l3, bool tcp, size_t th, size_t mss)
{
	const uint8_t *orig = in + GSO_VNET_HDR_LEN;
	size_t total = len - GSO_VNET_HDR_LEN, payload = total - l3 - th, got = 0;
	struct gso_pkt g;
	assert_int_equal(gso_init(&g, in, len), 0);
	unsigned i = 0;
	size_t n;
	while ((n = gso_next(&g, out, sizeof(out))) > 0) {
		size_t chunk = n - l3 - th;
		bool last = got + chunk == payload;
		assert_true(chunk == mss || (last && chunk > 0 && chunk <= mss));
		if (v6) {
			assert_int_equal(get_u16(out + 4), n - 40);
		} else {
			assert_int_equal(get_u16(out + 2), n);
			assert_int_equal(get_u16(out + 4), (uint16_t)(0xfffe + i));
			assert_int_equal(ones_sum(out, l3, 0), 0xffff);
		}
		const uint8_t *l4 = out + l3;
		if (tcp) {
			assert_int_equal(get_u32(l4 + 4), (uint32_t)(0xfffffff0u + got));
			uint8_t want = 0x10 | (i == 0 ? 0x80 : 0) | (last ? 0x09 : 0);
			assert_int_equal(l4[13], want);
			assert_memory_equal(l4 + 20, orig + l3 + 20, th - 20);
		} else {
			assert_int_equal(get_u16(l4 + 4), th + chunk);
			assert_int_not_equal(get_u16(l4 + 6), 0);
		}
		assert_int_equal(ones_sum(l4, n - l3, pseudo(out, v6, tcp ? 6 : 17, n - l3)), 0xffff);
		memcpy(joined + got, l4 + th, chunk);
		got += chunk;
		i++;
	}
	assert_int_equal(got, payload);
	assert_memory_equal(joined, orig + l3 + th, payload);
	return i;
}

static void test_tcp4_odd_tail(void **state)
{
	(void)state;
	size_t n = build(in + GSO_VNET_HDR_LEN, false, 20, true, 20, 3 * 1000 + 7);
	vnet(in, GSO_F_NEEDS_CSUM, GSO_TYPE_TCPV4, 40, 1000, 20, 16);
	assert_int_equal(split_check(GSO_VNET_HDR_LEN + n, false, 20, true, 20, 1000), 4);
}

static void test_tcp4_options_ecn(void **state)
{
	(void)state;
	size_t n = build(in + GSO_VNET_HDR_LEN, false, 24, true, 32, 64000);
	vnet(in, GSO_F_NEEDS_CSUM, GSO_TYPE_TCPV4 | GSO_TYPE_ECN, 56, 1448, 24, 16);
	assert_int_equal(split_check(GSO_VNET_HDR_LEN + n, false, 24, true, 32, 1448), 45);
}

static void test_tcp6(void **state)
{
	(void)state;
	size_t n = build(in + GSO_VNET_HDR_LEN, true, 40, true, 32, 5000);
	vnet(in, GSO_F_NEEDS_CSUM, GSO_TYPE_TCPV6, 72, 1428, 40, 16);
	assert_int_equal(split_check(GSO_VNET_HDR_LEN + n, true, 40, true, 32, 1428), 4);
}

static void test_udp4_udp6(void **state)
{
	(void)state;
	size_t n = build(in + GSO_VNET_HDR_LEN, false, 20, false, 8, 2 * 1200 + 1);
	vnet(in, GSO_F_NEEDS_CSUM, GSO_TYPE_UDP_L4, 28, 1200, 20, 6);
	assert_int_equal(split_check(GSO_VNET_HDR_LEN + n, false, 20, false, 8, 1200), 3);
	n = build(in + GSO_VNET_HDR_LEN, true, 40, false, 8, 3 * 999);
	vnet(in, GSO_F_NEEDS_CSUM, GSO_TYPE_UDP_L4, 48, 999, 40, 6);
	assert_int_equal(split_check(GSO_VNET_HDR_LEN + n, true, 40, false, 8, 999), 3);
}

/* One segment: a payload no larger than gso_size. */
static void test_single_segment(void **state)
{
	(void)state;
	size_t n = build(in + GSO_VNET_HDR_LEN, false, 20, true, 20, 100);
	vnet(in, GSO_F_NEEDS_CSUM, GSO_TYPE_TCPV4, 40, 1448, 20, 16);
	assert_int_equal(split_check(GSO_VNET_HDR_LEN + n, false, 20, true, 20, 100), 1);
}

/* No segmentation, checksum partial: completed; odd lengths too. */
static void test_partial_csum(void **state)
{
	(void)state;
	static const struct {
		bool v6, tcp;
		size_t payload;
	} c[] = { { false, true, 1 }, { false, false, 1001 }, { true, true, 0 }, { true, false, 77 } };
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		size_t l3 = c[k].v6 ? 40 : 20, th = c[k].tcp ? 20 : 8;
		size_t n = build(in + GSO_VNET_HDR_LEN, c[k].v6, l3, c[k].tcp, th, c[k].payload);
		vnet(in, GSO_F_NEEDS_CSUM, GSO_TYPE_NONE, 0, 0, (uint16_t)l3, c[k].tcp ? 16 : 6);
		struct gso_pkt g;
		assert_int_equal(gso_init(&g, in, GSO_VNET_HDR_LEN + n), 0);
		assert_int_equal(gso_next(&g, out, sizeof(out)), n);
		assert_int_equal(ones_sum(out + l3, n - l3,
					  pseudo(out, c[k].v6, c[k].tcp ? 6 : 17, n - l3)), 0xffff);
		assert_memory_equal(out + l3 + th, in + GSO_VNET_HDR_LEN + l3 + th, c[k].payload);
		assert_int_equal(gso_next(&g, out, sizeof(out)), 0);
	}
}

/* No offload at all: the packet as it is; and a buffer too small gets nothing. */
static void test_plain_and_small_cap(void **state)
{
	(void)state;
	size_t n = build(in + GSO_VNET_HDR_LEN, false, 20, false, 8, 50);
	vnet(in, 0, GSO_TYPE_NONE, 0, 0, 0, 0);
	struct gso_pkt g;
	assert_int_equal(gso_init(&g, in, GSO_VNET_HDR_LEN + n), 0);
	assert_int_equal(gso_next(&g, out, n - 1), 0);
	assert_int_equal(gso_next(&g, out, sizeof(out)), n);
	assert_memory_equal(out, in + GSO_VNET_HDR_LEN, n);
	n = build(in + GSO_VNET_HDR_LEN, false, 20, true, 20, 3000);
	vnet(in, GSO_F_NEEDS_CSUM, GSO_TYPE_TCPV4, 40, 1000, 20, 16);
	assert_int_equal(gso_init(&g, in, GSO_VNET_HDR_LEN + n), 0);
	assert_int_equal(gso_next(&g, out, 1039), 0);
}

/* Headers that lie: each refused. */
static void test_lies(void **state)
{
	(void)state;
	struct gso_pkt g;
	size_t n = build(in + GSO_VNET_HDR_LEN, false, 20, true, 20, 3000), len = GSO_VNET_HDR_LEN + n;
	const struct {
		uint8_t flags, type;
		uint16_t hdr_len, gso_size, cs, co;
	} bad[] = {
		{ 1, GSO_TYPE_TCPV4, 40, 0, 20, 16 },		/* gso_size 0 */
		{ 1, GSO_TYPE_TCPV4, 4000, 1000, 20, 16 },	/* hdr_len past the packet */
		{ 1, GSO_TYPE_TCPV4, 40, 1000, 60000, 16 },	/* csum_start past it */
		{ 1, GSO_TYPE_NONE, 0, 0, 20, 65000 },		/* csum_offset past it */
		{ 1, GSO_TYPE_NONE, 0, 0, 10, 0 },		/* csum_start in the IP header */
		{ 1, GSO_TYPE_TCPV4, 40, 1000, 24, 16 },	/* csum_start not the TCP header */
		{ 1, GSO_TYPE_TCPV4, 40, 1000, 20, 6 },		/* csum_offset not TCP's */
		{ 1, GSO_TYPE_TCPV6, 40, 1000, 20, 16 },	/* IPv6 type on IPv4 */
		{ 1, GSO_TYPE_UDP, 40, 1000, 20, 16 },		/* UFO */
		{ 1, GSO_TYPE_UDP_L4, 40, 1000, 20, 6 },	/* UDP type on TCP */
		{ 1, 9, 40, 1000, 20, 16 },			/* unknown type */
		{ 0, GSO_TYPE_TCPV4, 40, 1000, 20, 16 },	/* GSO without partial checksum */
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		vnet(in, bad[k].flags, bad[k].type, bad[k].hdr_len, bad[k].gso_size, bad[k].cs,
		     bad[k].co);
		assert_int_equal(gso_init(&g, in, len), -1);
	}
	/* Good header, bad packet: lengths past the buffer, TCP header too short or past
	 * the end, no IP at all, shorter than a vnet header. */
	vnet(in, 1, GSO_TYPE_TCPV4, 40, 1000, 20, 16);
	assert_int_equal(gso_init(&g, in, len), 0);
	assert_int_equal(gso_init(&g, in, len - 1), -1);
	in[GSO_VNET_HDR_LEN + 32] = 0x40;	/* doff 4 */
	assert_int_equal(gso_init(&g, in, len), -1);
	in[GSO_VNET_HDR_LEN + 32] = 0xf0;	/* doff 15: 60 bytes, past a 50-byte packet */
	put_u16(in + GSO_VNET_HDR_LEN + 2, 50);
	assert_int_equal(gso_init(&g, in, len), -1);
	in[GSO_VNET_HDR_LEN] = 0x55;
	assert_int_equal(gso_init(&g, in, len), -1);
	assert_int_equal(gso_init(&g, in, 9), -1);
	/* IPv6 with an extension header in a GSO packet. */
	n = build(in + GSO_VNET_HDR_LEN, true, 40, true, 20, 3000);
	in[GSO_VNET_HDR_LEN + 6] = 0;	/* hop-by-hop */
	vnet(in, 1, GSO_TYPE_TCPV6, 60, 1000, 40, 16);
	assert_int_equal(gso_init(&g, in, GSO_VNET_HDR_LEN + n), -1);
}

static void test_csum(void **state)
{
	(void)state;
	uint8_t d[301];
	for (size_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 31 + 7);
	for (size_t len = 0; len <= sizeof(d); len++)
		for (uint32_t sum = 0; sum < 0x30000; sum += 0xffff)
			assert_int_equal(gso_csum(d, len, sum), (uint16_t)~ones_sum(d, len, sum));
}

/* Long runs (the vector loop where the CPU has one) at every alignment, with all
 * bytes 0xff for the most carries and with a pattern, against the plain sum. */
static void test_csum_long(void **state)
{
	(void)state;
	static uint8_t d[65536 + 64];
	static const size_t lens[] = { 63, 64, 65, 95, 96, 127, 128, 129, 1379, 1400, 1448,
				       9000, 65535 };
	for (int fill = 0; fill < 2; fill++) {
		for (size_t i = 0; i < sizeof(d); i++)
			d[i] = fill ? 0xff : (uint8_t)(i * 131 + (i >> 8));
		for (size_t off = 0; off < 33; off += 1 + off / 4)
			for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
				assert_int_equal(gso_csum(d + off, lens[k], 0x1fffe),
						 (uint16_t)~ones_sum(d + off, lens[k], 0x1fffe));
	}
}

/* --- GRO: coalescing, checked by splitting the result again ---------------------- */

#define NSEG 6
static uint8_t segs[NSEG][2048], orig[NSEG][2048], super[GSO_VNET_HDR_LEN + 65536];
static size_t seglen[NSEG];

/* Segment i of a stream with mss-byte segments: as the kernel's GSO makes them
 * (ids and sequence numbers counting up, the payload continuing), complete checksums. */
static size_t segment(uint8_t *p, bool v6, size_t th, size_t i, size_t mss, size_t payload,
		      uint8_t flags)
{
	size_t l3 = v6 ? 40 : 20, n = build(p, v6, l3, true, th, payload);
	if (!v6) {
		put_u16(p + 4, (uint16_t)(0xfffe + i));
		put_u16(p + 10, 0);
		put_u16(p + 10, (uint16_t)~ones_sum(p, 20, 0));
	}
	uint8_t *l4 = p + l3;
	put_u32(l4 + 4, (uint32_t)(0xfffffff0u + i * mss));
	l4[13] = flags;
	for (size_t j = 0; j < payload; j++)
		l4[th + j] = (uint8_t)((i * mss + j) * 7 + 3);
	put_u16(l4 + 16, 0);
	put_u16(l4 + 16, (uint16_t)~ones_sum(l4, n - l3, pseudo(p, v6, 6, n - l3)));
	return n;
}

static void stream(bool v6, size_t th, size_t mss, size_t tail)
{
	for (size_t i = 0; i < NSEG; i++) {
		bool last = i == NSEG - 1;
		seglen[i] = segment(segs[i], v6, th, i, mss, last ? tail : mss,
				    last ? 0x18 : 0x10);
		memcpy(orig[i], segs[i], seglen[i]);
	}
}

static unsigned run(unsigned n, struct gro_run *r)
{
	uint8_t *p[NSEG];
	for (unsigned i = 0; i < NSEG; i++)
		p[i] = segs[i];
	gro_run(p, seglen, n, false, r);
	return r->count;
}

/* The super-packet, split again, gives back exactly the segments it was made of. */
static void round_trip(bool v6, size_t th, size_t mss, size_t tail)
{
	stream(v6, th, mss, tail);
	struct gro_run r;
	assert_int_equal(run(NSEG, &r), NSEG);
	memcpy(super, r.vnet, GSO_VNET_HDR_LEN);
	size_t n = GSO_VNET_HDR_LEN;
	memcpy(super + n, segs[0], seglen[0]);
	n += seglen[0];
	for (unsigned k = 1; k < r.count; k++) {
		memcpy(super + n, segs[k] + r.hlen, seglen[k] - r.hlen);
		n += seglen[k] - r.hlen;
	}
	/* As the kernel takes it: IP lengths and header checksum right, the TCP checksum
	 * field the pseudo-header sum (a partial checksum). */
	const uint8_t *ip = super + GSO_VNET_HDR_LEN;
	size_t l3 = v6 ? 40 : 20, total = n - GSO_VNET_HDR_LEN;
	if (v6) {
		assert_int_equal(get_u16(ip + 4), total - 40);
	} else {
		assert_int_equal(get_u16(ip + 2), total);
		assert_int_equal(ones_sum(ip, 20, 0), 0xffff);
	}
	assert_int_equal(get_u16(ip + l3 + 16), ones_sum(NULL, 0, pseudo(ip, v6, 6, total - l3)));
	struct gso_pkt g;
	assert_int_equal(gso_init(&g, super, n), 0);
	for (unsigned k = 0; k < NSEG; k++) {
		assert_int_equal(gso_next(&g, out, sizeof(out)), seglen[k]);
		assert_memory_equal(out, orig[k], seglen[k]);
	}
	assert_int_equal(gso_next(&g, out, sizeof(out)), 0);
}

static void test_gro_round_trip(void **state)
{
	(void)state;
	round_trip(false, 20, 1400, 1400);
	round_trip(false, 32, 1388, 17);
	round_trip(true, 32, 1368, 1);
	round_trip(true, 20, 1000, 999);
}

/* Runs end where the stream does; what cannot be coalesced goes alone, untouched. */
static void test_gro_breaks(void **state)
{
	(void)state;
	struct gro_run r;
	stream(false, 32, 1000, 1000);
	assert_int_equal(run(1, &r), 1);
	static const uint8_t zero[GSO_VNET_HDR_LEN];
	assert_memory_equal(r.vnet, zero, sizeof(zero));
	assert_memory_equal(segs[0], orig[0], seglen[0]);
	/* Another stream (port) in third place: the run is two. */
	put_u16(segs[2] + 20, 40001);
	assert_int_equal(run(NSEG, &r), 2);
	/* Another TOS, TTL, destination port, sequence number (gap), ack, window or
	 * option (checksums made right again), a bad checksum: the run ends before. */
	static const size_t off[] = { 1, 8, 22, 24, 28, 34, 40 };
	for (size_t k = 0; k < sizeof(off) / sizeof(off[0]); k++) {
		stream(false, 32, 1000, 1000);
		segs[3][off[k]] ^= 1;
		put_u16(segs[3] + 10, 0);
		put_u16(segs[3] + 10, (uint16_t)~ones_sum(segs[3], 20, 0));
		put_u16(segs[3] + 36, 0);
		put_u16(segs[3] + 36, (uint16_t)~ones_sum(segs[3] + 20, seglen[3] - 20,
						     pseudo(segs[3], false, 6, seglen[3] - 20)));
		assert_int_equal(run(NSEG, &r), 3);
	}
	stream(false, 32, 1000, 1000);
	segs[3][60] ^= 1;
	assert_int_equal(run(NSEG, &r), 3);
	/* A shorter segment ends the run (and is in it); a SYN, a fragment go alone. */
	stream(false, 32, 1000, 1000);
	seglen[2] = segment(segs[2], false, 32, 2, 1000, 500, 0x10);
	assert_int_equal(run(NSEG, &r), 3);
	stream(false, 32, 1000, 1000);
	segs[0][33] = 0x12;
	assert_int_equal(run(NSEG, &r), 1);
	stream(false, 32, 1000, 1000);
	put_u16(segs[0] + 6, 0x2000);
	assert_int_equal(run(NSEG, &r), 1);
	/* No payload: nothing to coalesce. */
	seglen[0] = segment(segs[0], false, 20, 0, 1000, 0, 0x10);
	assert_int_equal(run(NSEG, &r), 1);
}

/* --- GRO of UDP datagrams (USO) ------------------------------------------------------- */

/* Datagrams as the kernel's USO makes them: split from a super-packet of payload
 * bytes in mss-byte pieces (IPv4 ids counting up, complete checksums). */
static unsigned datagrams(bool v6, size_t mss, size_t payload)
{
	size_t l3 = v6 ? 40 : 20, n = build(in + GSO_VNET_HDR_LEN, v6, l3, false, 8, payload);
	vnet(in, 1, GSO_TYPE_UDP_L4, (uint16_t)(l3 + 8), (uint16_t)mss, (uint16_t)l3, 6);
	struct gso_pkt g;
	assert_int_equal(gso_init(&g, in, GSO_VNET_HDR_LEN + n), 0);
	unsigned k = 0;
	size_t len;
	while ((len = gso_next(&g, segs[k], sizeof(segs[0]))) > 0) {
		seglen[k] = len;
		memcpy(orig[k], segs[k], len);
		assert_true(++k <= NSEG);
	}
	return k;
}

static unsigned udp_run(unsigned n, bool udp, struct gro_run *r)
{
	uint8_t *p[NSEG];
	for (unsigned i = 0; i < NSEG; i++)
		p[i] = segs[i];
	gro_run(p, seglen, n, udp, r);
	return r->count;
}

/* Datagram k's checksums made right after a change. */
static void fix_udp(unsigned k, bool v6)
{
	size_t l3 = v6 ? 40 : 20;
	uint8_t *p = segs[k];
	if (!v6) {
		put_u16(p + 10, 0);
		put_u16(p + 10, (uint16_t)~ones_sum(p, 20, 0));
	}
	put_u16(p + l3 + 6, 0);
	put_u16(p + l3 + 6, (uint16_t)~ones_sum(p + l3, seglen[k] - l3,
					       pseudo(p, v6, 17, seglen[k] - l3)));
}

static void udp_round_trip(bool v6, size_t mss, size_t payload)
{
	unsigned n = datagrams(v6, mss, payload);
	struct gro_run r;
	assert_int_equal(udp_run(n, false, &r), 1);	/* without USO: one by one */
	assert_memory_equal(segs[0], orig[0], seglen[0]);
	assert_int_equal(udp_run(n, true, &r), n);
	assert_int_equal(r.vnet[1], GSO_TYPE_UDP_L4);
	memcpy(super, r.vnet, GSO_VNET_HDR_LEN);
	size_t len = GSO_VNET_HDR_LEN;
	memcpy(super + len, segs[0], seglen[0]);
	len += seglen[0];
	for (unsigned k = 1; k < n; k++) {
		memcpy(super + len, segs[k] + r.hlen, seglen[k] - r.hlen);
		len += seglen[k] - r.hlen;
	}
	/* UDP length the whole, checksum field the pseudo-header sum. */
	size_t l3 = v6 ? 40 : 20, total = len - GSO_VNET_HDR_LEN;
	const uint8_t *ip = super + GSO_VNET_HDR_LEN;
	assert_int_equal(get_u16(ip + l3 + 4), total - l3);
	assert_int_equal(get_u16(ip + l3 + 6), ones_sum(NULL, 0, pseudo(ip, v6, 17, total - l3)));
	if (!v6)
		assert_int_equal(ones_sum(ip, 20, 0), 0xffff);
	struct gso_pkt g;
	assert_int_equal(gso_init(&g, super, len), 0);
	for (unsigned k = 0; k < n; k++) {
		assert_int_equal(gso_next(&g, out, sizeof(out)), seglen[k]);
		assert_memory_equal(out, orig[k], seglen[k]);
	}
	assert_int_equal(gso_next(&g, out, sizeof(out)), 0);
}

static void test_gro_udp(void **state)
{
	(void)state;
	udp_round_trip(false, 18, 18 * 6);	/* 64-byte datagrams */
	udp_round_trip(false, 1400, 1400 * 5 + 3);
	udp_round_trip(true, 1000, 1000 * 2);
	udp_round_trip(true, 1, 5);
	struct gro_run r;
	/* Another port, TTL, address in third place, a larger third datagram, a bad
	 * checksum: the run is two. */
	static const size_t off[] = { 20, 22, 8, 19 };
	for (size_t k = 0; k < sizeof(off) / sizeof(off[0]); k++) {
		assert_int_equal(datagrams(false, 100, 600), 6);
		segs[2][off[k]] ^= 1;
		fix_udp(2, false);
		assert_int_equal(udp_run(6, true, &r), 2);
	}
	assert_int_equal(datagrams(false, 100, 600), 6);
	seglen[2] = build(segs[2], false, 20, false, 8, 101);
	assert_int_equal(udp_run(6, true, &r), 2);
	assert_int_equal(datagrams(false, 100, 600), 6);
	segs[2][40] ^= 1;
	assert_int_equal(udp_run(6, true, &r), 2);
	/* A shorter one ends the run and is in it. */
	assert_int_equal(datagrams(false, 100, 600), 6);
	seglen[2] -= 10;
	put_u16(segs[2] + 2, (uint16_t)seglen[2]);
	put_u16(segs[2] + 24, (uint16_t)(seglen[2] - 20));
	fix_udp(2, false);
	assert_int_equal(udp_run(6, true, &r), 3);
	/* No checksum (IPv4), a fragment, a lying UDP length: alone, untouched. */
	assert_int_equal(datagrams(false, 100, 600), 6);
	put_u16(segs[0] + 26, 0);
	assert_int_equal(udp_run(6, true, &r), 1);
	assert_int_equal(get_u16(segs[0] + 2), seglen[0]);
	assert_int_equal(datagrams(false, 100, 600), 6);
	put_u16(segs[0] + 6, 0x2000);
	fix_udp(0, false);
	assert_int_equal(udp_run(6, true, &r), 1);
	assert_int_equal(datagrams(false, 100, 600), 6);
	put_u16(segs[0] + 24, 50);
	fix_udp(0, false);
	assert_int_equal(udp_run(6, true, &r), 1);
	/* TCP is coalesced as before with udp set. */
	stream(false, 32, 1000, 1000);
	assert_int_equal(udp_run(NSEG, true, &r), NSEG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4_odd_tail),
		cmocka_unit_test(test_tcp4_options_ecn),
		cmocka_unit_test(test_tcp6),
		cmocka_unit_test(test_udp4_udp6),
		cmocka_unit_test(test_single_segment),
		cmocka_unit_test(test_partial_csum),
		cmocka_unit_test(test_plain_and_small_cap),
		cmocka_unit_test(test_lies),
		cmocka_unit_test(test_csum),
		cmocka_unit_test(test_csum_long),
		cmocka_unit_test(test_gro_round_trip),
		cmocka_unit_test(test_gro_breaks),
		cmocka_unit_test(test_gro_udp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
