/* TCP MSS clamping: the option is lowered, the checksum stays right, and nothing
 * else is touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <arpa/inet.h>

#include "esp/mss_clamp.h"
#include "lib/buf.h"

/* A full TCP checksum over the IPv4 pseudo-header, computed independently. */
static uint16_t tcp_checksum_v4(const uint8_t *ip, size_t total)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4, len = total - ihl;
	uint32_t sum = 0;
	for (int i = 12; i < 20; i += 2)
		sum += get_u16(ip + i);
	sum += 6 + (uint32_t)len;
	for (size_t i = 0; i < len; i += 2)
		sum += i + 1 < len ? get_u16(ip + ihl + i) : (uint32_t)ip[ihl + i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IPv4 SYN 10.1.0.10:40000 -> 10.2.0.10:5201 with options: opts (len bytes). */
static size_t syn(uint8_t *p, uint8_t flags, const uint8_t *opts, size_t optlen)
{
	size_t total = 20 + 20 + optlen;
	memset(p, 0, total);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)total);
	p[8] = 64;
	p[9] = 6;
	inet_pton(AF_INET, "10.1.0.10", p + 12);
	inet_pton(AF_INET, "10.2.0.10", p + 16);
	uint8_t *t = p + 20;
	put_u16(t, 40000);
	put_u16(t + 2, 5201);
	t[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	t[13] = flags;
	put_u16(t + 14, 64240);
	memcpy(t + 20, opts, optlen);
	put_u16(t + 16, tcp_checksum_v4(p, total));
	return total;
}

static void parse(const uint8_t *p, size_t len, struct pkt_tuple *t)
{
	assert_int_equal(pkt_parse(p, len, t), 0);
}

static void test_clamps_and_keeps_checksum(void **state)
{
	/* Linux's usual SYN options: MSS 1460, SACK_PERM, TS, NOP, WS. */
	const uint8_t opts[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7 };
	uint8_t p[128], before[128];
	struct pkt_tuple t;
	size_t n = syn(p, 0x02, opts, sizeof(opts));
	memcpy(before, p, n);
	parse(p, n, &t);
	assert_true(mss_clamp(p, &t, 1360));
	assert_int_equal(get_u16(p + 40 + 2), 1360);
	/* The checksum still verifies: over the whole segment it sums to zero. */
	assert_int_equal(tcp_checksum_v4(p, n), 0);
	assert_int_not_equal(get_u16(p + 36), get_u16(before + 36));
	/* Only the MSS value and the checksum changed. */
	for (size_t i = 0; i < n; i++)
		if (i != 36 && i != 37 && i != 42 && i != 43)
			assert_int_equal(p[i], before[i]);
}

static void test_leaves_small_mss_and_non_syn(void **state)
{
	const uint8_t small[] = { 2, 4, 0x04, 0x00 };	/* 1024 */
	const uint8_t big[] = { 2, 4, 0x05, 0xb4 };
	uint8_t p[128];
	struct pkt_tuple t;
	size_t n = syn(p, 0x02, small, sizeof(small));
	parse(p, n, &t);
	assert_false(mss_clamp(p, &t, 1360));
	assert_int_equal(get_u16(p + 42), 1024);
	n = syn(p, 0x10, big, sizeof(big));	/* ACK, not SYN */
	parse(p, n, &t);
	assert_false(mss_clamp(p, &t, 1360));
	assert_int_equal(get_u16(p + 42), 1460);
	n = syn(p, 0x12, big, sizeof(big));	/* SYN-ACK is clamped too */
	parse(p, n, &t);
	assert_true(mss_clamp(p, &t, 1300));
	assert_int_equal(get_u16(p + 42), 1300);
}

static void test_malformed_options_untouched(void **state)
{
	const uint8_t bad_len[] = { 1, 1, 8, 40, 0, 0, 0, 0 };	/* option runs past the header */
	const uint8_t zero_len[] = { 3, 0, 0, 0 };
	const uint8_t odd[] = { 1, 2, 4, 5, 0xb4, 1, 1, 1 };	/* MSS at an odd offset */
	uint8_t p[128], before[128];
	struct pkt_tuple t;
	const uint8_t *cases[] = { bad_len, zero_len, odd };
	size_t lens[] = { sizeof(bad_len), sizeof(zero_len), sizeof(odd) };
	for (int i = 0; i < 3; i++) {
		size_t n = syn(p, 0x02, cases[i], lens[i]);
		memcpy(before, p, n);
		parse(p, n, &t);
		assert_false(mss_clamp(p, &t, 1360));
		assert_memory_equal(p, before, n);
	}
	/* Data offset beyond the segment. */
	size_t n = syn(p, 0x02, zero_len, sizeof(zero_len));
	p[20 + 12] = 0xf0;
	parse(p, n, &t);
	assert_false(mss_clamp(p, &t, 1360));
}

/* Recomputes the IPv4 header checksum after a test changed the header. */
static void ip_checksum(uint8_t *p)
{
	uint32_t sum = 0;
	put_u16(p + 10, 0);
	for (int i = 0; i < 20; i += 2)
		sum += get_u16(p + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_u16(p + 10, (uint16_t)~sum);
}

/* A non-first fragment carries no TCP header: bytes that happen to look like a SYN
 * with an MSS option are payload and must not be changed. */
static void test_later_fragments_untouched(void **state)
{
	const uint8_t opts[] = { 2, 4, 0x05, 0xb4 };
	uint8_t p[128], before[128];
	struct pkt_tuple t;
	size_t n = syn(p, 0x02, opts, sizeof(opts));
	put_u16(p + 6, 0x2000 | 185);	/* MF, offset 1480 */
	ip_checksum(p);
	memcpy(before, p, n);
	parse(p, n, &t);
	assert_false(mss_clamp(p, &t, 1360));
	assert_memory_equal(p, before, n);
	put_u16(p + 6, 1);		/* the last fragment, offset 8 */
	ip_checksum(p);
	memcpy(before, p, n);
	parse(p, n, &t);
	assert_false(mss_clamp(p, &t, 1360));
	assert_memory_equal(p, before, n);

	/* IPv6: the same segment behind a fragment header with a non-zero offset. */
	uint8_t v6[160];
	size_t seg = n - 20;
	memset(v6, 0, 48);
	v6[0] = 0x60;
	put_u16(v6 + 4, (uint16_t)(8 + seg));
	v6[6] = 44;			/* fragment header */
	v6[7] = 64;
	inet_pton(AF_INET6, "2001:db8:1::10", v6 + 8);
	inet_pton(AF_INET6, "2001:db8:2::10", v6 + 24);
	v6[40] = 6;			/* then TCP */
	put_u16(v6 + 42, (uint16_t)(1448 << 3));	/* offset 1448 * 8, last */
	put_u32(v6 + 44, 0x12345678);
	memcpy(v6 + 48, p + 20, seg);
	uint8_t v6_before[160];
	memcpy(v6_before, v6, 48 + seg);
	parse(v6, 48 + seg, &t);
	assert_int_equal(t.proto, 6);
	assert_false(mss_clamp(v6, &t, 1220));
	assert_memory_equal(v6, v6_before, 48 + seg);
	/* Offset 0 with more fragments to come: this one has the TCP header. */
	put_u16(v6 + 42, 1);		/* M */
	parse(v6, 48 + seg, &t);
	assert_true(mss_clamp(v6, &t, 1220));
	assert_int_equal(get_u16(v6 + 48 + 22), 1220);
}

/* A first fragment (MF, offset 0) is clamped only when the TCP header with its
 * options lies in it. */
static void test_first_fragment(void **state)
{
	const uint8_t opts[] = { 1, 1, 4, 2, 2, 4, 0x05, 0xb4 };	/* MSS at offset 24 */
	uint8_t p[128], before[128];
	struct pkt_tuple t;
	size_t n = syn(p, 0x02, opts, sizeof(opts));
	put_u16(p + 6, 0x2000);		/* MF, offset 0 */
	ip_checksum(p);
	parse(p, n, &t);
	assert_true(mss_clamp(p, &t, 1360));
	assert_int_equal(get_u16(p + 46), 1360);
	/* The same first fragment cut inside the options (a 24-byte fragment payload is
	 * not legal, but a sender may try): left alone. */
	n = syn(p, 0x02, opts, sizeof(opts));
	put_u16(p + 6, 0x2000);
	put_u16(p + 2, 20 + 24);
	ip_checksum(p);
	memcpy(before, p, sizeof(p));
	parse(p, 20 + 24, &t);
	assert_false(mss_clamp(p, &t, 1360));
	assert_memory_equal(p, before, sizeof(p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clamps_and_keeps_checksum),
		cmocka_unit_test(test_leaves_small_mss_and_non_syn),
		cmocka_unit_test(test_malformed_options_untouched),
		cmocka_unit_test(test_later_fragments_untouched),
		cmocka_unit_test(test_first_fragment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
