/* The SIP engine's text handling (nat/sip_parse.c) on hand-written messages:
 * what is found, what is replaced, Content-Length, and every kind of bad or
 * unusual message (lying lengths, folding, compact forms, several Vias,
 * streams with two messages or half of one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/sip_parse.h"

#define IN_ADDR 0x0a090a0a	/* 10.9.10.10 */
#define PUB_ADDR 0xcb007101	/* 203.0.113.1 */

static const char invite_sdp[] =
	"v=0\r\n"
	"o=user1 53655765 2353687637 IN IP4 10.9.10.10\r\n"
	"s=-\r\n"
	"c=IN IP4 10.9.10.10\r\n"
	"t=0 0\r\n"
	"m=audio 6000 RTP/AVP 0\r\n"
	"a=rtpmap:0 PCMU/8000\r\n";

/* An INVITE from 10.9.10.10:5061 with invite_sdp (or body) and its length. */
static size_t mk_invite(char *buf, size_t cap, const char *body, long clen)
{
	if (!body)
		body = invite_sdp;
	if (clen < 0)
		clen = (long)strlen(body);
	int n = snprintf(buf, cap,
		"INVITE sip:service@198.51.100.10:5060 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.9.10.10:5061;branch=z9hG4bK-1-0\r\n"
		"From: sipp <sip:sipp@10.9.10.10:5061>;tag=1\r\n"
		"To: sut <sip:service@198.51.100.10:5060>\r\n"
		"Call-ID: 1-42@10.9.10.10\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: sip:sipp@10.9.10.10:5061\r\n"
		"Max-Forwards: 70\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: %ld\r\n"
		"\r\n%s", clen, body);
	return (size_t)n;
}

static uint16_t media_port = 40000;
static unsigned media_calls;

static uint16_t media(void *arg, uint32_t addr, uint16_t port)
{
	(void)arg;
	assert_int_equal(addr, IN_ADDR);
	assert_int_equal(port, 6000);
	media_calls++;
	return media_port;
}

static const struct sip_map outbound = {
	.from_addr = IN_ADDR, .from_port = 5061, .to_addr = PUB_ADDR, .to_port = 1030,
	.sdp = true, .media = media,
};

/* Translates s, returns it as a string (static buffer). */
static const char *xlate(const char *s, size_t len, bool stream, const struct sip_map *x,
    long *out_len)
{
	static uint8_t out[4096];
	struct sip_msg m;
	assert_int_equal(sip_parse((const uint8_t *)s, len, stream, &m), 0);
	*out_len = sip_translate((const uint8_t *)s, &m, x, out, sizeof(out) - 1);
	if (*out_len >= 0)
		out[*out_len] = 0;
	return (const char *)out;
}

/* The body after the empty line, and Content-Length says its true length. */
static void assert_clen_true(const char *msg)
{
	const char *body = strstr(msg, "\r\n\r\n");
	const char *cl = strstr(msg, "Content-Length: ");
	assert_non_null(body);
	assert_non_null(cl);
	assert_int_equal(strtol(cl + 16, NULL, 10), (long)strlen(body + 4));
}

static void test_invite_outbound(void **state)
{
	(void)state;
	char buf[2048];
	long n;
	media_calls = 0;
	size_t len = mk_invite(buf, sizeof(buf), NULL, -1);
	const char *o = xlate(buf, len, false, &outbound, &n);
	assert_true(n > 0);
	assert_non_null(strstr(o, "Via: SIP/2.0/UDP 203.0.113.1:1030;branch=z9hG4bK-1-0\r\n"));
	assert_non_null(strstr(o, "Contact: sip:sipp@203.0.113.1:1030\r\n"));
	assert_non_null(strstr(o, "o=user1 53655765 2353687637 IN IP4 203.0.113.1\r\n"));
	assert_non_null(strstr(o, "c=IN IP4 203.0.113.1\r\n"));
	assert_non_null(strstr(o, "m=audio 40000 RTP/AVP 0\r\n"));
	/* The Request-URI, To and From are not ours to change. */
	assert_non_null(strstr(o, "INVITE sip:service@198.51.100.10:5060 SIP/2.0\r\n"));
	assert_non_null(strstr(o, "From: sipp <sip:sipp@10.9.10.10:5061>;tag=1"));
	assert_clen_true(o);
	assert_int_equal(media_calls, 1);
	assert_null(strstr(o, "10.9.10.10:5061;branch"));
}

/* The body grows and shrinks by the address's length: Content-Length follows,
 * even when it goes from 3 digits to 2. */
static void test_content_length_follows(void **state)
{
	(void)state;
	char body[256], buf[2048];
	long n;
	/* 10.9.10.10 (10 chars) -> 1.2.3.4 (7): two sites, 6 bytes shorter */
	snprintf(body, sizeof(body), "v=0\r\no=- 1 1 IN IP4 10.9.10.10\r\nc=IN IP4 10.9.10.10\r\n"
		 "m=audio 0 RTP/AVP 0\r\n%-27s\r\n", "a=x");
	assert_int_equal(strlen(body), 103);
	size_t len = mk_invite(buf, sizeof(buf), body, -1);
	struct sip_map x = outbound;
	x.to_addr = 0x01020304;
	const char *o = xlate(buf, len, false, &x, &n);
	assert_true(n > 0);
	assert_non_null(strstr(o, "Content-Length: 97\r\n"));
	assert_non_null(strstr(o, "m=audio 0 RTP/AVP 0\r\n"));	/* port 0: off, kept */
	assert_clen_true(o);
	assert_int_equal((size_t)n, len - 3 - 3 - 1 - 6);	/* Via, Contact, a CL digit, body */
}

/* A Content-Length longer than the datagram: dropped as a lie (RFC 3261
 * 18.3); on a stream it is the rest still to come. Shorter: the bytes past it
 * are not the message's. */
static void test_lying_content_length(void **state)
{
	(void)state;
	char buf[2048];
	struct sip_msg m;
	size_t len = mk_invite(buf, sizeof(buf), NULL, (long)strlen(invite_sdp) + 1);
	assert_int_equal(sip_parse((uint8_t *)buf, len, false, &m), SIP_BAD_LENGTH);
	assert_int_equal(sip_parse((uint8_t *)buf, len, true, &m), SIP_PARTIAL);
	len = mk_invite(buf, sizeof(buf), NULL, 60000);
	assert_int_equal(sip_parse((uint8_t *)buf, len, false, &m), SIP_BAD_LENGTH);
	len = mk_invite(buf, sizeof(buf), NULL, 1234567);
	assert_int_equal(sip_parse((uint8_t *)buf, len, false, &m), SIP_MALFORMED);
	/* 20 bytes: "v=0\r\no=user1 536557" -- the o= line is cut, no address. */
	len = mk_invite(buf, sizeof(buf), NULL, 20);
	assert_int_equal(sip_parse((uint8_t *)buf, len, false, &m), 0);
	assert_int_equal(m.len, m.body_off + 20);
	long n;
	const char *o = xlate(buf, len, false, &outbound, &n);
	assert_int_equal(n, (long)m.len + 2);	/* Via and Contact: +1 each */
	assert_null(strstr(o, "c=IN"));		/* left out */
	assert_non_null(strstr(o, "Content-Length: 20\r\n"));
	/* Two Content-Lengths, or one that is not a number. */
	const char *two = "OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(sip_parse((const uint8_t *)two, strlen(two), false, &m), SIP_MALFORMED);
	const char *nan = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1x\r\n\r\n";
	assert_int_equal(sip_parse((const uint8_t *)nan, strlen(nan), false, &m), SIP_MALFORMED);
}

/* Compact names, folded values, bare LF, several Vias (one header, two values
 * and a second header): each Via of ours found, the others left. */
static void test_compact_folded_multi_via(void **state)
{
	(void)state;
	static const char msg[] =
		"SIP/2.0 200 OK\n"
		"v: SIP/2.0/UDP 10.9.10.10:5061;branch=a,\n"
		"  SIP / 2.0 / TCP proxy.example.com;branch=b\n"
		"Via: SIP/2.0/UDP\r\n\t10.9.10.10:5061 ;branch=c\n"
		"i: xyz@host\n"
		"CSeq: 2 BYE\n"
		"m: \"Bob, <the> builder\" <sip:bob@10.9.10.10:5061;transport=udp>;expires=60,\n"
		" <sip:10.9.10.10>\n"
		"c: application/sdp\n"
		"l: 73\n"
		"\n"
		"v=0\n"
		"o=- 1 1 IN IP4 10.9.10.10\n"
		"c=IN IP4 10.9.10.10\n"
		"m=audio 6000 RTP/AVP 0\n";
	struct sip_msg m;
	assert_int_equal(sip_parse((const uint8_t *)msg, sizeof(msg) - 1, false, &m), 0);
	assert_false(m.request);
	assert_int_equal(m.status, 200);
	assert_int_equal(m.cseq_method, SIP_BYE);
	assert_true(m.folded);
	assert_true(m.compact);
	assert_true(m.sdp);
	assert_int_equal(m.body_len, 73);
	assert_int_equal(m.call_id_len, 8);
	unsigned via = 0, contact = 0;
	for (unsigned k = 0; k < m.n_site; k++) {
		via += m.site[k].kind == SITE_VIA;
		contact += m.site[k].kind == SITE_CONTACT;
	}
	assert_int_equal(via, 3);
	assert_int_equal(contact, 2);
	long n;
	media_calls = 0;
	const char *o = xlate(msg, sizeof(msg) - 1, false, &outbound, &n);
	assert_true(n > 0);
	assert_non_null(strstr(o, "v: SIP/2.0/UDP 203.0.113.1:1030;branch=a,\n"));
	assert_non_null(strstr(o, "TCP proxy.example.com;branch=b\n"));
	assert_non_null(strstr(o, "\t203.0.113.1:1030 ;branch=c\n"));
	assert_non_null(strstr(o, "<sip:bob@203.0.113.1:1030;transport=udp>"));
	/* No port means 5060, not the flow's 5061: the address alone. */
	assert_non_null(strstr(o, " <sip:203.0.113.1>\n"));
	assert_non_null(strstr(o, "l: 76\n"));	/* o=, c= and 6000 -> 40000: +1 each */
	assert_non_null(strstr(o, "m=audio 40000 RTP/AVP 0\n"));
	assert_int_equal(media_calls, 1);
}

/* From outside: our public address in the Request-URI and a Via goes back to
 * the inside one; an SDP from outside is the far end's and stays. */
static void test_inbound(void **state)
{
	(void)state;
	static const char msg[] =
		"BYE sip:sipp@203.0.113.1:1030 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-2\r\n"
		"Via: SIP/2.0/UDP 203.0.113.1:1030;branch=z9hG4bK-1;rport\r\n"
		"Call-ID: 1-42@10.9.10.10\r\n"
		"CSeq: 2 BYE\r\n"
		"Contact: <sip:198.51.100.10:5060>\r\n"
		"Content-Length: 0\r\n\r\n";
	struct sip_map in = { .from_addr = PUB_ADDR, .from_port = 1030, .to_addr = IN_ADDR,
			      .to_port = 5061, .uri = true };
	long n;
	const char *o = xlate(msg, sizeof(msg) - 1, false, &in, &n);
	assert_true(n > 0);
	assert_non_null(strstr(o, "BYE sip:sipp@10.9.10.10:5061 SIP/2.0\r\n"));
	assert_non_null(strstr(o, "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK-2\r\n"));
	assert_non_null(strstr(o, "Via: SIP/2.0/UDP 10.9.10.10:5061;branch=z9hG4bK-1;rport\r\n"));
	assert_non_null(strstr(o, "Contact: <sip:198.51.100.10:5060>\r\n"));
	assert_non_null(strstr(o, "Content-Length: 0\r\n"));
	struct sip_msg m;
	assert_int_equal(sip_parse((const uint8_t *)msg, sizeof(msg) - 1, false, &m), 0);
	assert_true(m.request);
	assert_int_equal(m.method, SIP_BYE);
}

/* A stream: two messages in one segment, then half of one. */
static void test_stream(void **state)
{
	(void)state;
	char buf[4096];
	size_t a = mk_invite(buf, sizeof(buf), NULL, -1);
	static const char ack[] = "ACK sip:x@198.51.100.10 SIP/2.0\r\nl: 0\r\n\r\n";
	memcpy(buf + a, ack, sizeof(ack));
	size_t len = a + sizeof(ack) - 1;
	struct sip_msg m;
	assert_int_equal(sip_parse((uint8_t *)buf, len, true, &m), 0);
	assert_int_equal(m.len, a);
	assert_int_equal(m.method, SIP_INVITE);
	assert_int_equal(sip_parse((uint8_t *)buf + a, len - a, true, &m), 0);
	assert_int_equal(m.method, SIP_ACK);
	assert_int_equal(m.len, sizeof(ack) - 1);
	/* Cut anywhere in the headers or body: partial on a stream. */
	for (size_t cut = 10; cut < a; cut += 7) {
		int r = sip_parse((uint8_t *)buf, cut, true, &m);
		assert_int_equal(r, SIP_PARTIAL);
	}
	/* The rest of a message (its body) is no message. */
	assert_int_equal(sip_parse((uint8_t *)buf + a - 20, 20, true, &m), SIP_NOT_SIP);
	/* A stream message needs its Content-Length. */
	static const char nolen[] = "ACK sip:x@198.51.100.10 SIP/2.0\r\nCSeq: 1 ACK\r\n\r\n";
	assert_int_equal(sip_parse((const uint8_t *)nolen, sizeof(nolen) - 1, true, &m),
	    SIP_MALFORMED);
	assert_int_equal(sip_parse((const uint8_t *)nolen, sizeof(nolen) - 1, false, &m), 0);
}

static void test_not_sip_and_malformed(void **state)
{
	(void)state;
	struct sip_msg m;
	static const struct { const char *s; int want; } cases[] = {
		{ "\r\n\r\n", SIP_NOT_SIP },			/* keepalive */
		{ "GET / HTTP/1.1\r\n\r\n", SIP_NOT_SIP },
		{ "SIP/2.0 99 Low\r\n\r\n", SIP_MALFORMED },
		{ "SIP/2.0 2000 OK\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a b SIP/2.0\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a@b SIP/2.0\r\n folded-first: x\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:99999\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP [::1\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a@b SIP/2.0\r\nm: <sip:a@b\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a@b SIP/2.0\r\nCSeq: 1\r\n\r\n", SIP_MALFORMED },
		{ "INVITE sip:a@b SIP/2.0\r\nTo: x\r\n", SIP_MALFORMED },	/* no end */
		{ "INVITE sip:a@[::1]:5060 SIP/2.0\r\nm: *\r\nl:0\r\n\r\n", 0 },
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		int r = sip_parse((const uint8_t *)cases[k].s, strlen(cases[k].s), false, &m);
		if (r != cases[k].want)
			fail_msg("case %zu: got %d, want %d", k, r, cases[k].want);
	}
}

static void test_limits(void **state)
{
	(void)state;
	char buf[8192];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "SIP/2.0 200 OK\r\n");
	for (int k = 0; k <= SIP_MAX_SITES; k++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Via: SIP/2.0/UDP 10.9.10.10:5061\r\n");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	struct sip_msg m;
	assert_int_equal(sip_parse((uint8_t *)buf, n, false, &m), SIP_TOO_MANY);
	/* The result must fit where it goes. */
	size_t len = mk_invite(buf, sizeof(buf), NULL, -1);
	assert_int_equal(sip_parse((uint8_t *)buf, len, false, &m), 0);
	uint8_t out[2048];
	assert_int_equal(sip_translate((uint8_t *)buf, &m, &outbound, out, len), SIP_NO_ROOM);
	assert_true(sip_translate((uint8_t *)buf, &m, &outbound, out, len + 7) > 0);
	/* No public port for the stream: the message cannot go as it is. */
	media_port = 0;
	assert_int_equal(sip_translate((uint8_t *)buf, &m, &outbound, out, sizeof(out)),
	    SIP_NO_MEDIA);
	media_port = 40000;
}

static void test_ipv4(void **state)
{
	(void)state;
	uint32_t a;
	assert_int_equal(sip_ipv4((const uint8_t *)"10.9.10.10", 10, &a), 0);
	assert_int_equal(a, IN_ADDR);
	assert_int_equal(sip_ipv4((const uint8_t *)"10.9.10.256", 11, &a), -1);
	assert_int_equal(sip_ipv4((const uint8_t *)"10.9.10", 7, &a), -1);
	assert_int_equal(sip_ipv4((const uint8_t *)"10.9.10.10.", 11, &a), -1);
	assert_int_equal(sip_ipv4((const uint8_t *)"host.example", 12, &a), -1);
	assert_int_equal(sip_ipv4((const uint8_t *)"1111.1.1.1", 10, &a), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invite_outbound),
		cmocka_unit_test(test_content_length_follows),
		cmocka_unit_test(test_lying_content_length),
		cmocka_unit_test(test_compact_folded_multi_via),
		cmocka_unit_test(test_inbound),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_not_sip_and_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_ipv4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
