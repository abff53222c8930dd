/* The DNS and TFTP engines on hand-built datagrams. DNS: A records of a static
 * mapping's public addresses doctored to the inside address for an inside
 * client, other A records and PTR untouched, the response's ID checked, the
 * flow ended by the response, answers over 512 bytes (EDNS0) whole, a
 * compression loop or a truncated answer passed untouched (dropped when
 * strict) and counted. TFTP: the server's answer from its new port reaches
 * the client through exactly one pinhole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "nat/inspect.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"
#define C "10.1.0.10"
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE

static struct nat_rules *rules(const char *inspect)
{
	char text[2048], err[256];
	snprintf(text, sizeof(text),
		 "tsunagi { nat { inside = lan0\n outside = wan0\n inspect { %s }\n rules {\n"
		 " dmz { type = static\n private = 10.1.9.0/24\n public = 198.51.100.0/24 }\n"
		 " lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n", inspect);
	struct nat_rules *r = nat_test_rules(text, err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	return r;
}

static struct nat_insp_counters counters(struct nat_table *t, const char *engine)
{
	struct nat_insp_counters ic;
	assert_int_equal(nat_table_insp_counters(t, (size_t)nat_engine_find(engine), &ic), 0);
	return ic;
}

static uint64_t active(struct nat_table *t)
{
	struct nat_counters c;
	nat_table_counters(t, &c);
	return c.flows_active;
}

/* A UDP datagram with payload msg (m bytes). */
static size_t udp(uint8_t *b, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    const uint8_t *msg, size_t m)
{
	size_t n = mk_udp(b, src, sp, dst, dp, m);
	memcpy(b + 28, msg, m);
	fix_l4_csum(b);
	return n;
}

/* DNS ------------------------------------------------------------------------ */

static const uint8_t qname[] = "\3www\7example\3com";	/* + the NUL: 17 bytes */

static size_t dns_header(uint8_t *m, uint16_t id, bool response, uint16_t an)
{
	memset(m, 0, 12);
	put_u16(m, id);
	m[2] = response ? 0x81 : 0x01;
	m[3] = response ? 0x80 : 0;
	put_u16(m + 4, 1);
	put_u16(m + 6, an);
	memcpy(m + 12, qname, sizeof(qname));
	size_t o = 12 + sizeof(qname);
	put_u16(m + o, 1);
	put_u16(m + o + 2, 1);
	return o + 4;
}

/* An answer for the question's name (pointer to 12). */
static size_t rr(uint8_t *m, size_t o, uint16_t type, const uint8_t *rdata, uint16_t rdlen)
{
	put_u16(m + o, 0xc00c);
	put_u16(m + o + 2, type);
	put_u16(m + o + 4, 1);
	put_u32(m + o + 6, 60);
	put_u16(m + o + 10, rdlen);
	memcpy(m + o + 12, rdata, rdlen);
	return o + 12 + rdlen;
}

static size_t rr_a(uint8_t *m, size_t o, const char *addr)
{
	uint8_t a[4];
	put_u32(a, A(addr));
	return rr(m, o, 1, a, 4);
}

/* The query from C:4000; gives the public port. */
static uint16_t ask(struct nat_table *t, uint16_t id)
{
	uint8_t b[2048], m[64];
	size_t n = udp(b, C, 4000, R, 53, m, dns_header(m, id, false, 0));
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	return pkt_sport(b);
}

static void test_dns_doctoring(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub = ask(t, 0x1234);
	uint8_t b[2048], m[512];
	size_t o = dns_header(m, 0x1234, true, 3);
	size_t a1 = o + 12;
	o = rr_a(m, o, "198.51.100.5");			/* static: doctored */
	size_t a2 = o + 12;
	o = rr_a(m, o, "192.0.2.1");			/* no mapping: stays */
	const uint8_t ptr[] = "\1x\300\14";		/* a PTR naming 198.51.100.5's name */
	size_t p3 = o + 12;
	o = rr(m, o, 12, ptr, sizeof(ptr) - 1);
	size_t n = udp(b, R, 53, GW_OUT, pub, m, o);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A(C));
	assert_int_equal(get_u32(b + 28 + a1), A("10.1.9.5"));
	assert_int_equal(get_u32(b + 28 + a2), A("192.0.2.1"));
	assert_memory_equal(b + 28 + p3, ptr, sizeof(ptr) - 1);
	assert_true(l4_csum_ok(b, 0));
	/* The response ended the flow. */
	assert_int_equal(active(t), 0);
	assert_int_equal(counters(t, "dns").rewritten, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

static void test_dns_id_mismatch(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub = ask(t, 0x1234);
	uint8_t b[2048], m[512];
	size_t o = rr_a(m, dns_header(m, 0x4321, true, 1), "198.51.100.5");
	size_t n = udp(b, R, 53, GW_OUT, pub, m, o);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_DROP);
	assert_int_equal(counters(t, "dns").bad_dropped, 1);
	assert_int_equal(active(t), 1);
	/* The real answer still comes through. */
	o = rr_a(m, dns_header(m, 0x1234, true, 1), "198.51.100.5");
	n = udp(b, R, 53, GW_OUT, pub, m, o);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* 40 A records: 700 bytes, past the old 512-byte limit; all doctored. */
static void test_dns_large(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub = ask(t, 7);
	uint8_t b[2048], m[1024];
	size_t o = dns_header(m, 7, true, 40);
	size_t first = o + 12;
	for (int i = 0; i < 40; i++)
		o = rr_a(m, o, "198.51.100.9");
	assert_true(o > 512);
	size_t n = udp(b, R, 53, GW_OUT, pub, m, o);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(n, 28 + o);
	for (int i = 0; i < 40; i++)
		assert_int_equal(get_u32(b + 28 + first + 16 * (size_t)i), A("10.1.9.9"));
	assert_true(l4_csum_ok(b, 0));
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* A compression loop and a truncated answer: untouched, counted; strict drops. */
static void test_dns_malformed(void **state)
{
	for (int strict = 0; strict < 2; strict++) {
		for (int k = 0; k < 2; k++) {
			struct nat_rules *r = rules(strict ? "dns { strict = yes }" : "");
			struct nat_table *t = nat_table_new(r, 64);
			uint16_t pub = ask(t, 9);
			uint8_t b[2048], m[512];
			size_t o = dns_header(m, 9, true, 2);
			size_t a1 = o + 12;
			o = rr_a(m, o, "198.51.100.5");
			if (k == 0) {
				/* The second answer's name points at itself. */
				o = rr_a(m, o, "198.51.100.6");
				put_u16(m + o - 16, (uint16_t)(0xc000 | (o - 16)));
			} else {
				o = rr_a(m, o, "198.51.100.6") - 3;	/* cut short */
			}
			size_t n = udp(b, R, 53, GW_OUT, pub, m, o);
			enum nat_verdict v = xl(t, b, &n, OUT, 0);
			struct nat_insp_counters ic = counters(t, "dns");
			if (strict) {
				assert_int_equal(v, NAT_DROP);
				assert_int_equal(ic.bad_dropped, 1);
			} else {
				assert_int_equal(v, NAT_FORWARD);
				assert_int_equal(get_u32(b + 28 + a1), A("198.51.100.5"));
				assert_int_equal(ic.bad_passed, 1);
				assert_int_equal(active(t), 0);
			}
			nat_table_free(t);
			nat_rules_free(r);
		}
	}
	(void)state;
}

/* TFTP ----------------------------------------------------------------------- */

static void test_tftp_pinhole(void **state)
{
	struct nat_rules *r = rules("");
	struct nat_table *t = nat_table_new(r, 64);
	uint8_t b[2048];
	static const uint8_t rrq[] = "\0\1file.bin\0octet";	/* + NUL */
	size_t n = udp(b, C, 3000, R, 69, rrq, sizeof(rrq));
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(b);
	static const uint8_t data1[] = "\0\3\0\1hello";
	n = udp(b, R, 40000, GW_OUT, pub, data1, sizeof(data1));
	assert_int_equal(xl(t, b, &n, OUT, 10), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A(C));
	assert_int_equal(pkt_dport(b), 3000);
	/* The client's ack goes back to the server's new port from pub. */
	static const uint8_t ack1[] = "\0\4\0\1";
	n = udp(b, C, 3000, R, 40000, ack1, 4);
	assert_int_equal(xl(t, b, &n, IN, 20), NAT_FORWARD);
	assert_int_equal(pkt_sport(b), pub);
	/* Exactly one: another port of the server finds nothing. */
	n = udp(b, R, 40001, GW_OUT, pub, data1, sizeof(data1));
	assert_int_not_equal(xl(t, b, &n, OUT, 30), NAT_FORWARD);
	struct nat_insp_counters ic = counters(t, "tftp");
	assert_int_equal(ic.pinholes, 1);
	assert_int_equal(ic.pinhole_hits, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

static void test_tftp_malformed(void **state)
{
	for (int strict = 0; strict < 2; strict++) {
		struct nat_rules *r = rules(strict ? "tftp { strict = yes }" : "");
		struct nat_table *t = nat_table_new(r, 64);
		uint8_t b[2048];
		static const uint8_t rrq[] = "\0\1file.bin";	/* no mode */
		size_t n = udp(b, C, 3000, R, 69, rrq, sizeof(rrq) - 1);
		assert_int_equal(xl(t, b, &n, IN, 0), strict ? NAT_DROP : NAT_FORWARD);
		struct nat_insp_counters ic = counters(t, "tftp");
		assert_int_equal(ic.pinholes, 0);
		assert_int_equal(strict ? ic.bad_dropped : ic.bad_passed, 1);
		nat_table_free(t);
		nat_rules_free(r);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_doctoring),
		cmocka_unit_test(test_dns_id_mismatch),
		cmocka_unit_test(test_dns_large),
		cmocka_unit_test(test_dns_malformed),
		cmocka_unit_test(test_tftp_pinhole),
		cmocka_unit_test(test_tftp_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
