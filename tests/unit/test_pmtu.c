/* Path MTU helpers: the inner MTU matches what esp_encap really produces, the ICMP
 * answers and the fragments are well-formed (checksums computed here, independently),
 * quote what they must, and reassemble to the original. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "esp/esp_crypto.h"
#include "esp/esp_transform.h"
#include "esp/pmtu.h"
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

static void parse(const uint8_t *p, size_t len, struct pkt_tuple *t)
{
	assert_int_equal(pkt_parse(p, len, t), 0);
}

/* IPv4 UDP 10.1.0.10 -> 10.2.0.10 with `opts` (optlen bytes, a multiple of 4) and
 * payload bytes after the UDP header; flags is the flags/offset word. */
static size_t v4(uint8_t *p, uint16_t flags, const uint8_t *opts, size_t optlen, size_t payload)
{
	size_t hl = 20 + optlen, total = hl + 8 + payload;
	memset(p, 0, total);
	p[0] = (uint8_t)(0x40 | hl / 4);
	put_u16(p + 2, (uint16_t)total);
	put_u16(p + 4, 0x1234);
	put_u16(p + 6, flags);
	p[8] = 63;
	p[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "10.1.0.10", p + 12);
	inet_pton(AF_INET, "10.2.0.10", p + 16);
	if (optlen)
		memcpy(p + 20, opts, optlen);
	put_u16(p + 10, (uint16_t)~ones_sum(p, hl, 0));
	put_u16(p + hl, 40000);
	put_u16(p + hl + 2, 5001);
	put_u16(p + hl + 4, (uint16_t)(8 + payload));
	for (size_t i = 0; i < payload; i++)
		p[hl + 8 + i] = (uint8_t)(i * 13 + 1);
	return total;
}

static size_t v6(uint8_t *p, uint8_t nh, size_t payload)
{
	memset(p, 0, 40 + payload);
	p[0] = 0x60;
	put_u16(p + 4, (uint16_t)payload);
	p[6] = nh;
	p[7] = 64;
	inet_pton(AF_INET6, "fd01::10", p + 8);
	inet_pton(AF_INET6, "fd02::10", p + 24);
	for (size_t i = 0; i < payload; i++)
		p[40 + i] = (uint8_t)(i * 13 + 1);
	if (nh == IPPROTO_UDP) {
		put_u16(p + 40, 40000);
		put_u16(p + 42, 5001);
	}
	return 40 + payload;
}

/* --- inner MTU ------------------------------------------------------------------------ */

static void test_inner_mtu_matches_encap(void **state)
{
	static const uint8_t key[36] = { 1, 2, 3 };
	struct { enum esp_cipher c; size_t klen; enum esp_integ i; size_t alen; } xf[] = {
		{ ESP_ENCR_AES_GCM_16, 36, ESP_INTEG_NONE, 0 },
		{ ESP_ENCR_CHACHA20_POLY1305, 36, ESP_INTEG_NONE, 0 },
		{ ESP_ENCR_AES_CBC, 16, ESP_INTEG_HMAC_SHA2_256_128, 32 },
		{ ESP_ENCR_AES_CBC, 32, ESP_INTEG_HMAC_SHA1_96, 20 },
	};
	static const size_t outer[] = { 20, 28, 40, 48 };
	char err[128];
	for (size_t x = 0; x < sizeof(xf) / sizeof(xf[0]); x++) {
		struct esp_crypto *c = esp_crypto_new(xf[x].c, key, xf[x].klen, xf[x].i, key,
						      xf[x].alen, err, sizeof(err));
		assert_non_null(c);
		for (size_t o = 0; o < 4; o++) {
			for (size_t path = 576; path <= 1500; path += 7) {
				size_t m = pmtu_inner_mtu(path, outer[o], esp_crypto_iv_len(c),
							  esp_crypto_icv_len(c), esp_crypto_block(c));
				assert_true(outer[o] + esp_encap_len(c, m) <= path);
				assert_true(outer[o] + esp_encap_len(c, m + 1) > path);
			}
		}
		esp_crypto_free(c);
	}
	/* AES-GCM over UDP 4500 and IPv4, path 1500: the figure t-pmtu.sh expects. */
	assert_int_equal(pmtu_inner_mtu(1500, 28, 8, 16, 4), 1438);
	assert_int_equal(pmtu_inner_mtu(1500, 20, 8, 16, 4), 1446);
	assert_int_equal(pmtu_inner_mtu(40, 20, 8, 16, 4), 0);
}

/* --- ICMP ------------------------------------------------------------------------------- */

static void check_icmp4(const uint8_t *m, size_t n, const uint8_t *orig, size_t quote,
			uint16_t mtu)
{
	assert_int_equal(n, 28 + quote);
	assert_int_equal(m[0], 0x45);
	assert_int_equal(get_u16(m + 2), n);
	assert_int_equal(m[9], IPPROTO_ICMP);
	assert_int_equal(get_u16(m + 6) & 0x4000, 0);
	assert_int_equal(ones_sum(m, 20, 0), 0xffff);		/* IP header */
	assert_int_equal(ones_sum(m + 20, n - 20, 0), 0xffff);	/* ICMP */
	assert_memory_equal(m + 12, orig + 16, 4);		/* from the destination */
	assert_memory_equal(m + 16, orig + 12, 4);		/* to the sender */
	assert_int_equal(m[20], 3);
	assert_int_equal(m[21], 4);
	assert_int_equal(get_u16(m + 24), 0);
	assert_int_equal(get_u16(m + 26), mtu);
	assert_memory_equal(m + 28, orig, quote);
}

static void test_icmp4_frag_needed(void **state)
{
	uint8_t p[1600], m[PMTU_ICMP_MAX];
	struct pkt_tuple t;
	size_t len = v4(p, 0x4000, NULL, 0, 1450);
	parse(p, len, &t);
	check_icmp4(m, pmtu_icmp_build(p, &t, 1438, m, sizeof(m)), p, 28, 1438);

	/* Options: the whole header is quoted, then 8 bytes. */
	static const uint8_t opts[8] = { 0x94, 4, 0, 0, 1, 1, 1, 0 };
	len = v4(p, 0x4000, opts, 8, 1450);
	parse(p, len, &t);
	check_icmp4(m, pmtu_icmp_build(p, &t, 1400, m, sizeof(m)), p, 36, 1400);

	/* Fewer than 8 payload bytes (an odd length): all of them. */
	len = v4(p, 0x4000, NULL, 0, 0) - 5;
	put_u16(p + 2, (uint16_t)len);
	put_u16(p + 10, 0);
	put_u16(p + 10, (uint16_t)~ones_sum(p, 20, 0));
	parse(p, len, &t);
	check_icmp4(m, pmtu_icmp_build(p, &t, 576, m, sizeof(m)), p, 23, 576);
	assert_int_equal(pmtu_icmp_build(p, &t, 576, m, 50), 0);	/* no room */
}

static void test_icmp4_not_answered(void **state)
{
	uint8_t p[1600], m[PMTU_ICMP_MAX];
	struct pkt_tuple t;
	size_t len = v4(p, 0x4000, NULL, 0, 100);
	p[9] = IPPROTO_ICMP;
	p[20] = 8;			/* echo request: answered */
	parse(p, len, &t);
	assert_int_not_equal(pmtu_icmp_build(p, &t, 1000, m, sizeof(m)), 0);
	p[20] = 3;			/* an ICMP error: never */
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1000, m, sizeof(m)), 0);
	p[20] = 11;
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1000, m, sizeof(m)), 0);

	len = v4(p, 0x2000 | 100, NULL, 0, 100);	/* a later fragment */
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1000, m, sizeof(m)), 0);
	len = v4(p, 0x4000, NULL, 0, 100);
	p[16] = 224;				/* multicast destination */
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1000, m, sizeof(m)), 0);
	len = v4(p, 0x4000, NULL, 0, 100);
	memset(p + 12, 0, 4);			/* unspecified source */
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1000, m, sizeof(m)), 0);
	len = v4(p, 0x4000, NULL, 0, 100);
	memset(p + 12, 255, 4);			/* broadcast source */
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1000, m, sizeof(m)), 0);
}

static void check_icmp6(const uint8_t *m, size_t n, const uint8_t *orig, size_t quote,
			uint32_t mtu)
{
	assert_int_equal(n, 48 + quote);
	assert_true(n <= 1280);
	assert_int_equal(m[0] >> 4, 6);
	assert_int_equal(get_u16(m + 4), n - 40);
	assert_int_equal(m[6], IPPROTO_ICMPV6);
	assert_memory_equal(m + 8, orig + 24, 16);
	assert_memory_equal(m + 24, orig + 8, 16);
	/* Pseudo-header: addresses, length, next header; then the message. */
	uint32_t sum = ones_sum(m + 8, 32, 0) + (uint32_t)(n - 40) + IPPROTO_ICMPV6;
	assert_int_equal(ones_sum(m + 40, n - 40, sum), 0xffff);
	assert_int_equal(m[40], 2);
	assert_int_equal(m[41], 0);
	assert_int_equal(get_u32(m + 44), mtu);
	assert_memory_equal(m + 48, orig, quote);
}

static void test_icmp6_packet_too_big(void **state)
{
	uint8_t p[1600], m[PMTU_ICMP_MAX];
	struct pkt_tuple t;
	size_t len = v6(p, IPPROTO_UDP, 1450);
	parse(p, len, &t);
	check_icmp6(m, pmtu_icmp_build(p, &t, 1422, m, sizeof(m)), p, 1280 - 48, 1422);
	/* A short packet (odd length) is quoted whole. */
	len = v6(p, IPPROTO_UDP, 101);
	parse(p, len, &t);
	check_icmp6(m, pmtu_icmp_build(p, &t, 1280, m, sizeof(m)), p, len, 1280);

	len = v6(p, IPPROTO_ICMPV6, 1400);
	p[40] = 128;				/* echo request: answered */
	parse(p, len, &t);
	check_icmp6(m, pmtu_icmp_build(p, &t, 1300, m, sizeof(m)), p, 1232, 1300);
	p[40] = 1;				/* an ICMPv6 error: never */
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1300, m, sizeof(m)), 0);
	len = v6(p, IPPROTO_UDP, 1400);
	p[24] = 0xff;				/* multicast destination */
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1300, m, sizeof(m)), 0);
	len = v6(p, IPPROTO_UDP, 1400);
	memset(p + 8, 0, 16);			/* unspecified source */
	parse(p, len, &t);
	assert_int_equal(pmtu_icmp_build(p, &t, 1300, m, sizeof(m)), 0);
}

/* --- fragments -------------------------------------------------------------------------- */

/* Fragments pkt to mtu, checks each and reassembles the payload into out; returns how
 * many fragments there were. first_hl/later_hl: the header lengths expected. */
static size_t fragment(const uint8_t *p, size_t len, size_t mtu, size_t later_hl, uint8_t *out)
{
	struct pkt_tuple t;
	struct pmtu_frag f;
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, mtu), 0);
	size_t count = pmtu_frag_count(&f), n = 0, hl = t.hdrlen, got = 0;
	uint16_t off0 = get_u16(p + 6) & 0x1fff;
	bool mf0 = get_u16(p + 6) & 0x2000;
	uint8_t frag[70000];
	size_t fl;
	while ((fl = pmtu_frag_next(&f, frag, sizeof(frag))) > 0) {
		struct pkt_tuple ft;
		size_t fhl = n == 0 ? hl : later_hl;
		parse(frag, fl, &ft);
		assert_true(fl <= mtu);
		assert_int_equal(ft.hdrlen, fhl);
		assert_int_equal(get_u16(frag + 2), fl);
		assert_int_equal(ones_sum(frag, fhl, 0), 0xffff);
		assert_memory_equal(frag + 4, p + 4, 2);	/* identification */
		assert_memory_equal(frag + 8, p + 8, 2);	/* TTL, protocol */
		assert_memory_equal(frag + 12, p + 12, 8);	/* addresses */
		uint16_t fw = get_u16(frag + 6);
		assert_int_equal(fw & 0x4000, 0);
		assert_int_equal((size_t)((fw & 0x1fff) - off0) * 8, got);
		bool last = got + fl - fhl == len - hl;
		assert_int_equal((fw & 0x2000) != 0, !last || mf0);
		if (!last)
			assert_int_equal((fl - fhl) % 8, 0);
		memcpy(out + got, frag + fhl, fl - fhl);
		got += fl - fhl;
		n++;
	}
	assert_int_equal(n, count);
	assert_int_equal(got, len - hl);
	assert_memory_equal(out, p + hl, got);
	return n;
}

static void test_fragments(void **state)
{
	static uint8_t p[70000], out[70000];
	size_t len = v4(p, 0, NULL, 0, 1450);		/* 1478 bytes */
	assert_int_equal(fragment(p, len, 1438, 20, out), 2);
	len = v4(p, 0, NULL, 0, 1001);			/* odd tail */
	assert_int_equal(fragment(p, len, 576, 20, out), 2);
	len = v4(p, 0, NULL, 0, 65535 - 28);		/* the largest */
	assert_int_equal(fragment(p, len, 1438, 20, out), 47);	/* 65515 / 1416 */
	/* Exactly at the limit: one fragment, the packet itself. */
	len = v4(p, 0, NULL, 0, 1410);
	uint8_t one[1500];
	struct pkt_tuple t;
	struct pmtu_frag f;
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, 1438), 0);
	assert_int_equal(pmtu_frag_count(&f), 1);
	assert_int_equal(pmtu_frag_next(&f, one, sizeof(one)), 1438);
	assert_memory_equal(one, p, 1438);
	assert_int_equal(pmtu_frag_next(&f, one, sizeof(one)), 0);
	/* The last fragment may carry up to mtu - header bytes, not only a multiple of 8:
	 * 708 bytes at 378 are 352 + 356, two fragments (found by fuzz_pmtu). */
	len = v4(p, 0, NULL, 0, 700);
	assert_int_equal(fragment(p, len, 378, 20, out), 2);
	/* One byte over: two. */
	len = v4(p, 0, NULL, 0, 1411);
	assert_int_equal(fragment(p, len, 1438, 20, out), 2);
}

static void test_fragment_of_fragment(void **state)
{
	static uint8_t p[4000], out[4000];
	/* A middle fragment (MF set, offset 100): every piece keeps MF. */
	size_t len = v4(p, 0x2000 | 100, NULL, 0, 1200);
	assert_int_equal(fragment(p, len, 600, 20, out), 3);
	/* The last fragment of a packet (offset 100, no MF): only its last piece ends. */
	len = v4(p, 100, NULL, 0, 1200);
	assert_int_equal(fragment(p, len, 600, 20, out), 3);
	/* The reserved flag is kept. */
	len = v4(p, 0x8000, NULL, 0, 1200);
	assert_int_equal(fragment(p, len, 600, 20, out), 3);
}

static void test_fragment_options(void **state)
{
	static uint8_t p[4000], out[4000];
	/* Router alert (copied), NOP, record route (not copied), end: 16 bytes. */
	static const uint8_t opts[16] = { 0x94, 4, 0, 0, 1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0, 0 };
	size_t len = v4(p, 0, opts, 16, 1999);
	assert_int_equal(fragment(p, len, 1000, 24, out), 3);
	uint8_t frag[1100];
	struct pkt_tuple t;
	struct pmtu_frag f;
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, 1000), 0);
	assert_true(pmtu_frag_next(&f, frag, sizeof(frag)) > 0);
	assert_memory_equal(frag + 20, opts, 16);		/* first: all options */
	assert_true(pmtu_frag_next(&f, frag, sizeof(frag)) > 0);
	assert_int_equal(frag[0], 0x46);
	assert_memory_equal(frag + 20, opts, 4);		/* later: router alert only */
	/* Security (130, copied, 11 bytes) needs padding to 32 bits. */
	static const uint8_t sec[12] = { 130, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0 };
	len = v4(p, 0, sec, 12, 1999);
	assert_int_equal(fragment(p, len, 1000, 32, out), 3);
}

static void test_fragment_refused(void **state)
{
	static uint8_t p[70000];
	struct pkt_tuple t;
	struct pmtu_frag f;
	size_t len = v4(p, 0x4000, NULL, 0, 1450);	/* DF */
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, 1438), -1);
	assert_int_equal(pmtu_frag_next(&f, p + 2000, 2000), 0);
	len = v4(p, 0, NULL, 0, 1450);
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, 27), -1);	/* no room for 8 bytes */
	static const uint8_t bad[8] = { 0x94, 9, 0, 0, 1, 1, 1, 1 };	/* overruns */
	len = v4(p, 0, bad, 8, 1450);
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, 1000), -1);
	static const uint8_t zero[4] = { 0x94, 0, 0, 0 };	/* length 0 */
	len = v4(p, 0, zero, 4, 1450);
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, 1000), -1);
	/* Offset + length past 65535. */
	len = v4(p, 0x1fff, NULL, 0, 1450);
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, 1000), -1);
	len = v6(p, IPPROTO_UDP, 1450);
	parse(p, len, &t);
	assert_int_equal(pmtu_frag_init(&f, p, &t, 1000), -1);
}

static void test_csum(void **state)
{
	/* RFC 1071 section 3's example words. */
	static const uint8_t d[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	assert_int_equal(pmtu_csum(d, sizeof(d), 0), (uint16_t)~0xddf2);
	static const uint8_t odd[] = { 0x12, 0x34, 0x56 };
	assert_int_equal(pmtu_csum(odd, 3, 0), (uint16_t)~(0x1234 + 0x5600));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inner_mtu_matches_encap),
		cmocka_unit_test(test_icmp4_frag_needed),
		cmocka_unit_test(test_icmp4_not_answered),
		cmocka_unit_test(test_icmp6_packet_too_big),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_fragment_of_fragment),
		cmocka_unit_test(test_fragment_options),
		cmocka_unit_test(test_fragment_refused),
		cmocka_unit_test(test_csum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
