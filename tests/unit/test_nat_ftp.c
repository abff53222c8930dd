/* The FTP engine on hand-built segments: PORT, EPRT (inside client), 227 and
 * 229 (inside server behind a forward), the length change and its seq/ack
 * deltas, exactly one pinhole per data connection, strict mode and hostile
 * lines (4 commas, a port above 65535, a third party's address, a command cut
 * across segments), passed or dropped and counted. */
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
#define SRV "10.1.0.5"
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE
#define ACK 0x10
#define SYN 0x02

static struct nat_rules *rules(bool strict)
{
	char text[2048], err[256];
	snprintf(text, sizeof(text),
		 "tsunagi { nat { inside = lan0\n outside = wan0\n"
		 " inspect { ftp { strict = %s } }\n rules {\n"
		 " ftp { type = forward\n proto = tcp\n public = wan0\n public_port = 21\n"
		 "       private = " SRV "\n private_port = 21 }\n"
		 " lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n",
		 strict ? "yes" : "no");
	struct nat_rules *r = nat_test_rules(text, err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	return r;
}

static size_t seg(uint8_t *b, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    uint8_t flags, uint32_t seq, uint32_t ack, const char *text)
{
	size_t tl = text ? strlen(text) : 0;
	size_t n = mk_tcp(b, src, sp, dst, dp, flags, seq, ack, 1000, NULL, 0, tl);
	memcpy(b + n - tl, text, tl);
	fix_l4_csum(b);
	return n;
}

static struct nat_insp_counters ftp_counters(struct nat_table *t)
{
	struct nat_insp_counters ic;
	assert_int_equal(nat_table_insp_counters(t, (size_t)nat_engine_find("ftp"), &ic), 0);
	return ic;
}

/* Inside client C:5000 to R:21; gives the public port. */
static uint16_t client_conn(struct nat_table *t)
{
	uint8_t b[2048];
	size_t n = seg(b, C, 5000, R, 21, SYN, 1000, 0, NULL);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(b);
	n = seg(b, R, 21, GW_OUT, pub, SYN | ACK, 5000, 1001, NULL);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	return pub;
}

/* Sends text from the inside client at seq; the payload as it left in out. */
static enum nat_verdict client_says(struct nat_table *t, uint32_t seq, const char *text,
    char *out, size_t cap)
{
	uint8_t b[2048];
	size_t n = seg(b, C, 5000, R, 21, ACK, seq, 5001, text);
	enum nat_verdict v = xl(t, b, &n, IN, 0);
	if (v == NAT_FORWARD) {
		assert_true(ip_csum_ok(b));
		assert_true(l4_csum_ok(b, 0));
		size_t pl = n - 40 < cap - 1 ? n - 40 : cap - 1;
		memcpy(out, b + 40, pl);
		out[pl] = '\0';
	}
	return v;
}

static void test_port_rewritten_and_pinhole(void **state)
{
	struct nat_rules *r = rules(false);
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub = client_conn(t);
	char out[256];
	assert_int_equal(client_says(t, 1001, "PORT 10,1,0,10,19,136\r\n", out, sizeof(out)),
			 NAT_FORWARD);
	assert_string_equal(out, "PORT 203,0,113,1,19,136\r\n");
	/* The next command's seq moves by 2, the server's ack back by 2. */
	uint8_t b[2048];
	size_t n = seg(b, C, 5000, R, 21, ACK, 1024, 5001, "LIST\r\n");
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(get_u32(b + 24), 1026);
	n = seg(b, R, 21, GW_OUT, pub, ACK, 5001, 1032, "200 PORT command successful\r\n");
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(get_u32(b + 28), 1030);
	assert_true(l4_csum_ok(b, 0));
	/* The data connection from the server's port 20 comes in, once. */
	n = seg(b, R, 20, GW_OUT, 5000, SYN, 1, 0, NULL);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A(C));
	assert_int_equal(pkt_dport(b), 5000);
	n = seg(b, R, 20, GW_OUT, 5000, SYN, 1, 0, NULL);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);	/* retransmission: its flow */
	n = seg(b, R, 2000, GW_OUT, 5000, SYN, 1, 0, NULL);
	assert_int_not_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	struct nat_insp_counters ic = ftp_counters(t);
	assert_int_equal(ic.pinholes, 1);
	assert_int_equal(ic.pinhole_hits, 1);
	assert_int_equal(ic.resized, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

static void test_eprt(void **state)
{
	struct nat_rules *r = rules(false);
	struct nat_table *t = nat_table_new(r, 64);
	client_conn(t);
	char out[256];
	assert_int_equal(client_says(t, 1001, "EPRT |1|10.1.0.10|5001|\r\n", out, sizeof(out)),
			 NAT_FORWARD);
	assert_string_equal(out, "EPRT |1|203.0.113.1|5001|\r\n");
	/* IPv6 is not ours: untouched. */
	assert_int_equal(client_says(t, 1026, "EPRT |2|::1|5002|\r\n", out, sizeof(out)),
			 NAT_FORWARD);
	assert_string_equal(out, "EPRT |2|::1|5002|\r\n");
	uint8_t b[2048];
	size_t n = seg(b, R, 20, GW_OUT, 5001, SYN, 1, 0, NULL);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dport(b), 5001);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* An outside client of the inside server (forward on port 21): 227 and 229. */
static void test_pasv_inside_server(void **state)
{
	struct nat_rules *r = rules(false);
	struct nat_table *t = nat_table_new(r, 64);
	uint8_t b[2048];
	size_t n = seg(b, R, 40000, GW_OUT, 21, SYN, 7000, 0, NULL);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A(SRV));
	n = seg(b, SRV, 21, R, 40000, SYN | ACK, 100, 7001, NULL);
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	n = seg(b, SRV, 21, R, 40000, ACK, 101, 7001,
		"227 Entering Passive Mode (10,1,0,5,195,80).\r\n");
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(n, 40 + 49);
	assert_memory_equal(b + 40, "227 Entering Passive Mode (203,0,113,1,195,80).\r\n", 49);
	assert_true(l4_csum_ok(b, 0));
	n = seg(b, R, 40001, GW_OUT, 50000, SYN, 1, 0, NULL);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dst(b), A(SRV));
	assert_int_equal(pkt_dport(b), 50000);
	/* 229: the port only; a pinhole all the same. */
	n = seg(b, SRV, 21, R, 40000, ACK, 147, 7001,
		"229 Entering Extended Passive Mode (|||50001|)\r\n");
	assert_int_equal(xl(t, b, &n, IN, 0), NAT_FORWARD);
	assert_int_equal(get_u32(b + 24), 150);	/* after the 227's +3 */
	n = seg(b, R, 40002, GW_OUT, 50001, SYN, 1, 0, NULL);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_int_equal(pkt_dport(b), 50001);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* An outside server's 227 names an outside address: nothing to do. */
static void test_pasv_outside_server(void **state)
{
	struct nat_rules *r = rules(false);
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub = client_conn(t);
	uint8_t b[2048];
	const char *msg = "227 Entering Passive Mode (198,18,0,7,195,80).\r\n";
	size_t n = seg(b, R, 21, GW_OUT, pub, ACK, 5001, 1001, msg);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	assert_memory_equal(b + 40, msg, strlen(msg));
	struct nat_insp_counters ic = ftp_counters(t);
	assert_int_equal(ic.pinholes, 0);
	assert_int_equal(ic.bad_passed, 0);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* Hostile lines open nothing: passed untouched (counted), or dropped when strict. */
static void hostile(bool strict)
{
	static const char *const lines[] = {
		"PORT 10,1,0,10,19\r\n",		/* 4 commas */
		"PORT 10,1,0,10,256,1\r\n",		/* port above 65535 */
		"PORT 10,1,0,10,19,136,7\r\n",		/* 6 commas (strict only) */
		"PORT 192,0,2,9,19,136\r\n",		/* a third party (bounce) */
		"EPRT |1|10.1.0.10|70000|\r\n",
		"PORT 99999999999999999999,1,0,10,19,136\r\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct nat_rules *r = rules(strict);
		struct nat_table *t = nat_table_new(r, 64);
		client_conn(t);
		char out[256];
		enum nat_verdict v = client_says(t, 1001, lines[i], out, sizeof(out));
		struct nat_insp_counters ic = ftp_counters(t);
		assert_int_equal(ic.pinholes, i == 2 && !strict);
		if (i == 2 && !strict) {
			/* Lenient: six numbers read, the rest ignored. */
			assert_int_equal(v, NAT_FORWARD);
		} else if (strict) {
			assert_int_equal(v, NAT_DROP);
			assert_int_equal(ic.bad_dropped, 1);
		} else {
			assert_int_equal(v, NAT_FORWARD);
			assert_string_equal(out, lines[i]);
			assert_int_equal(ic.bad_passed, 1);
		}
		nat_table_free(t);
		nat_rules_free(r);
	}
}

static void test_hostile_lenient(void **state)
{
	hostile(false);
	(void)state;
}

static void test_hostile_strict(void **state)
{
	hostile(true);
	(void)state;
}

/* A command cut across segments: no pinhole; partial counted; strict drops. */
static void test_split_command(void **state)
{
	for (int strict = 0; strict < 2; strict++) {
		struct nat_rules *r = rules(strict);
		struct nat_table *t = nat_table_new(r, 64);
		client_conn(t);
		char out[256];
		enum nat_verdict v = client_says(t, 1001, "PORT 10,1,0", out, sizeof(out));
		assert_int_equal(v, strict ? NAT_DROP : NAT_FORWARD);
		if (!strict)
			assert_int_equal(client_says(t, 1012, ",10,19,136\r\n", out, sizeof(out)),
					 NAT_FORWARD);
		struct nat_insp_counters ic = ftp_counters(t);
		assert_int_equal(ic.partial, 1);
		assert_int_equal(ic.pinholes, 0);
		nat_table_free(t);
		nat_rules_free(r);
	}
	(void)state;
}

/* Strict: a port below 1024, PORT from the server, a 227 from the client, no
 * CRLF; and in both modes a 227 inside an error text opens nothing. */
static void test_strict_rules(void **state)
{
	struct nat_rules *r = rules(true);
	struct nat_table *t = nat_table_new(r, 64);
	uint16_t pub = client_conn(t);
	char out[256];
	assert_int_equal(client_says(t, 1001, "PORT 10,1,0,10,0,80\r\n", out, sizeof(out)),
			 NAT_DROP);
	assert_int_equal(client_says(t, 1001, "227 Entering Passive Mode (10,1,0,10,19,136)\r\n",
				     out, sizeof(out)), NAT_DROP);
	assert_int_equal(client_says(t, 1001, "PORT 10,1,0,10,19,136\n", out, sizeof(out)),
			 NAT_DROP);
	uint8_t b[2048];
	size_t n = seg(b, R, 21, GW_OUT, pub, ACK, 5001, 1001, "PORT 198,18,0,7,19,136\r\n");
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_DROP);
	n = seg(b, R, 21, GW_OUT, pub, ACK, 5001, 1001,
		"500 Bad: 227 Entering Passive Mode (10,1,0,5,195,80)\r\n");
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	/* And a good one still works. */
	assert_int_equal(client_says(t, 1001, "PORT 10,1,0,10,19,136\r\n", out, sizeof(out)),
			 NAT_FORWARD);
	assert_string_equal(out, "PORT 203,0,113,1,19,136\r\n");
	struct nat_insp_counters ic = ftp_counters(t);
	assert_int_equal(ic.bad_dropped, 4);
	assert_int_equal(ic.pinholes, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

/* A second PORT replaces the first pinhole: exactly one per data connection. */
static void test_port_replaces(void **state)
{
	struct nat_rules *r = rules(false);
	struct nat_table *t = nat_table_new(r, 64);
	client_conn(t);
	char out[256];
	client_says(t, 1001, "PORT 10,1,0,10,19,136\r\n", out, sizeof(out));
	client_says(t, 1024, "PORT 10,1,0,10,19,137\r\n", out, sizeof(out));
	uint8_t b[2048];
	size_t n = seg(b, R, 20, GW_OUT, 5000, SYN, 1, 0, NULL);
	assert_int_not_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	n = seg(b, R, 20, GW_OUT, 5001, SYN, 1, 0, NULL);
	assert_int_equal(xl(t, b, &n, OUT, 0), NAT_FORWARD);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.pinholes_active, 0);
	assert_int_equal(ftp_counters(t).pinhole_replaced, 1);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_rewritten_and_pinhole),
		cmocka_unit_test(test_eprt),
		cmocka_unit_test(test_pasv_inside_server),
		cmocka_unit_test(test_pasv_outside_server),
		cmocka_unit_test(test_hostile_lenient),
		cmocka_unit_test(test_hostile_strict),
		cmocka_unit_test(test_split_command),
		cmocka_unit_test(test_strict_rules),
		cmocka_unit_test(test_port_replaces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
