/* The SIP engine (nat/alg_sip.c) through the translate step, on hand-built
 * packets: SIP over UDP and TCP rewritten (checksums verified by a full
 * computation, tests/unit/nat_pkt.c), RTP and RTCP pinholes, the provisional
 * and media timers on a mock clock, teardown on BYE, bad input counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "nat/nat_priv.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"		/* the far UA, outside */
#define H1 "10.1.0.10"
#define H2 "10.1.0.11"
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE
#define SYN 0x02
#define ACK 0x10

struct fx {
	struct nat_rules *rules;
	struct nat_table *t;
	uint8_t b[2048];
	size_t n;
};

static struct fx *fx_new(const char *conf)
{
	static struct fx f;
	char err[256] = "";
	memset(&f, 0, sizeof(f));
	f.rules = nat_test_rules(conf ? conf : NAT_CONF_DEFAULT, err, sizeof(err));
	if (!f.rules)
		fail_msg("%s", err);
	f.t = nat_table_new(f.rules, 1024);
	assert_non_null(f.t);
	return &f;
}

static int setup(void **state)
{
	*state = fx_new(NULL);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	assert_int_equal(nat_table_check(f->t), 0);
	nat_table_free(f->t);
	nat_rules_free(f->rules);
	return 0;
}

static struct nat_insp_counters sipc(struct fx *f)
{
	struct nat_insp_counters c;
	assert_int_equal(nat_table_insp_counters(f->t, (size_t)nat_engine_find("sip"), &c), 0);
	return c;
}

static struct nat_counters counters(struct fx *f)
{
	struct nat_counters c;
	nat_table_counters(f->t, &c);
	return c;
}

/* A UDP datagram carrying text; checksums right. */
static size_t udp(uint8_t *b, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    const char *text)
{
	size_t tl = strlen(text);
	size_t n = mk_udp(b, src, sp, dst, dp, tl);
	memcpy(b + 28, text, tl);
	fix_l4_csum(b);
	return n;
}

static size_t tcp(uint8_t *b, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    uint8_t flags, uint32_t seq, uint32_t ack, const char *text)
{
	size_t tl = text ? strlen(text) : 0;
	size_t n = mk_tcp(b, src, sp, dst, dp, flags, seq, ack, 1000, NULL, 0, tl);
	if (tl)
		memcpy(b + n - tl, text, tl);
	fix_l4_csum(b);
	return n;
}

/* The payload of a translated packet as a string (a copy). */
static const char *payload(const uint8_t *b, size_t n)
{
	static char s[2048];
	size_t hl = (size_t)(b[0] & 15) * 4;
	size_t l4 = b[9] == 6 ? (size_t)(b[hl + 12] >> 4) * 4 : 8;
	size_t len = n - hl - l4;
	assert_true(len < sizeof(s));
	memcpy(s, b + hl + l4, len);
	s[len] = 0;
	return s;
}

static void assert_ok(const uint8_t *b, size_t n)
{
	assert_int_equal(get_u16(b + 2), n);
	assert_true(ip_csum_ok(b));
	assert_true(l4_csum_ok(b, 0));
	if (b[9] == 17)
		assert_int_equal(get_u16(b + 24), n - 20);
}

/* Content-Length tells the body's true length. */
static void assert_clen(const char *msg)
{
	const char *body = strstr(msg, "\r\n\r\n");
	const char *cl = strstr(msg, "Content-Length: ");
	assert_non_null(body);
	assert_non_null(cl);
	assert_int_equal(strtol(cl + 16, NULL, 10), (long)strlen(body + 4));
}

static char *sdp(char *buf, size_t cap, const char *addr, unsigned port)
{
	snprintf(buf, cap, "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP 0\r\n", addr, addr, port);
	return buf;
}

/* A request or response with the given first line, from host:port, with body. */
static const char *sipmsg(const char *first, const char *via, const char *contact,
    const char *callid, const char *cseq, const char *body)
{
	static char m[1500];
	snprintf(m, sizeof(m), "%s\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-1\r\n"
		 "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: %s\r\nCSeq: %s\r\n"
		 "Contact: <sip:a@%s>\r\n%sContent-Length: %zu\r\n\r\n%s",
		 first, via, callid, cseq, contact,
		 body && *body ? "Content-Type: application/sdp\r\n" : "",
		 body ? strlen(body) : 0, body ? body : "");
	return m;
}

/* H (port 5060, media 6000) invites R; R answers with media on 7000. Returns
 * the public media port the INVITE's SDP was given. */
static uint16_t call_up(struct fx *f, const char *h, const char *callid, uint64_t now)
{
	char body[512], via[64];
	snprintf(via, sizeof(via), "%s:5060", h);
	f->n = udp(f->b, h, 5060, R, 5060, sipmsg("INVITE sip:b@" R " SIP/2.0", via, via, callid,
	    "1 INVITE", sdp(body, sizeof(body), h, 6000)));
	assert_int_equal(xl(f->t, f->b, &f->n, IN, now), NAT_FORWARD);
	assert_ok(f->b, f->n);
	const char *o = payload(f->b, f->n);
	assert_non_null(strstr(o, "c=IN IP4 " GW_OUT "\r\n"));
	assert_null(strstr(o, h));
	assert_clen(o);
	const char *m = strstr(o, "m=audio ");
	assert_non_null(m);
	uint16_t pub = (uint16_t)atoi(m + 8);
	uint16_t sig = pkt_sport(f->b);
	char pubvia[64];
	snprintf(pubvia, sizeof(pubvia), GW_OUT ":%u", sig);
	f->n = udp(f->b, R, 5060, GW_OUT, sig, sipmsg("SIP/2.0 200 OK", pubvia, R ":5060", callid,
	    "1 INVITE", sdp(body, sizeof(body), R, 7000)));
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, now), NAT_FORWARD);
	assert_ok(f->b, f->n);
	assert_int_equal(pkt_dst(f->b), A(h));
	o = payload(f->b, f->n);
	assert_non_null(strstr(o, via));	/* the Via back to the inside */
	assert_non_null(strstr(o, "m=audio 7000 "));	/* the far end's SDP stays */
	return pub;
}

/* RTP from R:sport to the public port: where it goes (0 when dropped). */
static uint32_t rtp_in(struct fx *f, uint16_t sport, uint16_t pub, uint64_t now, uint16_t *dport)
{
	f->n = udp(f->b, R, sport, GW_OUT, pub, "rtp");
	if (xl(f->t, f->b, &f->n, OUT, now) != NAT_FORWARD)
		return 0;
	assert_ok(f->b, f->n);
	*dport = pkt_dport(f->b);
	return pkt_dst(f->b);
}

/* The inside speaks first: its RTP leaves from the SDP's public port. */
static void test_call_media_both_ways(void **state)
{
	struct fx *f = *state;
	uint16_t pub = call_up(f, H1, "c1@h1", 0), dport;
	assert_int_equal(pub % 2, 0);
	f->n = udp(f->b, H1, 6000, R, 7000, "rtp");
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 10), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_int_equal(pkt_sport(f->b), pub);
	assert_int_equal(rtp_in(f, 7000, pub, 20, &dport), A(H1));
	assert_int_equal(dport, 6000);
	/* RTCP: the far end's 7001 to pub+1 reaches 6001 */
	assert_int_equal(rtp_in(f, 7001, (uint16_t)(pub + 1), 30, &dport), A(H1));
	assert_int_equal(dport, 6001);
	struct nat_insp_counters c = sipc(f);
	assert_true(c.pinhole_hits >= 2);
	assert_int_equal(c.bad_dropped + c.bad_passed, 0);
}

/* The far end speaks first: only the pinhole lets it in. Without the engine
 * (inspect { sip { enabled = no } }) the same packet is denied. */
static void test_pinhole_far_end_first(void **state)
{
	struct fx *f = *state;
	uint16_t pub = call_up(f, H1, "c2@h1", 0), dport;
	assert_int_equal(rtp_in(f, 7000, pub, 5, &dport), A(H1));
	assert_int_equal(dport, 6000);
	/* and the reply goes back from the same public port */
	f->n = udp(f->b, H1, 6000, R, 7000, "rtp");
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 10), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), pub);
	/* a stranger port on the public address is still closed */
	assert_int_equal(rtp_in(f, 7000, (uint16_t)(pub + 2), 20, &dport), 0);
}

static void test_without_engine_no_pinhole(void **state)
{
	(void)state;
	static const char conf[] =
		"tsunagi {\n nat {\n  inside = lan0\n  outside = wan0\n"
		"  inspect { sip { enabled = no } }\n"
		"  rules { lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } }\n }\n}\n";
	struct fx *f = fx_new(conf);
	char body[512];
	f->n = udp(f->b, H1, 5060, R, 5060, sipmsg("INVITE sip:b@" R " SIP/2.0", H1 ":5060",
	    H1 ":5060", "c3", "1 INVITE", sdp(body, sizeof(body), H1, 6000)));
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_non_null(strstr(payload(f->b, f->n), "c=IN IP4 " H1));	/* leaked */
	uint16_t dport;
	assert_int_equal(rtp_in(f, 7000, 6000, 5, &dport), 0);
	nat_table_free(f->t);
	nat_rules_free(f->rules);
}

/* Two inside hosts, both with media on 6000: two public port pairs, each
 * pinhole to its own host. */
static void test_two_hosts_same_media_port(void **state)
{
	struct fx *f = *state;
	uint16_t p1 = call_up(f, H1, "a@h1", 0);
	uint16_t p2 = call_up(f, H2, "b@h2", 0), dport;
	assert_int_not_equal(p1, p2);
	assert_int_equal(p2 % 2, 0);
	assert_int_equal(rtp_in(f, 7000, p2, 5, &dport), A(H2));
	assert_int_equal(rtp_in(f, 7000, p1, 5, &dport), A(H1));
	assert_int_equal(dport, 6000);
}

static int count_flows(const struct nat_flow_view *v, void *arg)
{
	(void)v;
	(*(int *)arg)++;
	return 0;
}

static int walk_n(struct fx *f, uint64_t now)
{
	int n = 0;
	nat_table_walk(f->t, now, count_flows, &n);
	return n;
}

static const char *media_engine;
static int find_media(const struct nat_flow_view *v, void *arg)
{
	if (v->in_sport == 6000 && v->proto == 17) {
		media_engine = v->engine;
		*(int *)arg = 1;
	}
	return 0;
}

/* BYE: the media flows and the unused pinholes go; the signalling stays. */
static void test_bye_tears_down(void **state)
{
	struct fx *f = *state;
	uint16_t pub = call_up(f, H1, "bye@h1", 0), dport;
	assert_int_equal(rtp_in(f, 7000, pub, 5, &dport), A(H1));
	int seen = 0;
	media_engine = NULL;
	nat_table_walk(f->t, 5, find_media, &seen);
	assert_int_equal(seen, 1);
	assert_string_equal(media_engine, "sip");
	f->n = udp(f->b, H1, 5060, R, 5060, sipmsg("BYE sip:b@" R " SIP/2.0", H1 ":5060",
	    H1 ":5060", "bye@h1", "2 BYE", NULL));
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 6), NAT_FORWARD);
	assert_ok(f->b, f->n);
	seen = 0;
	nat_table_walk(f->t, 6, find_media, &seen);
	assert_int_equal(seen, 0);
	assert_int_equal(walk_n(f, 6), 1);
	assert_int_equal(counters(f).pinholes_active, 0);
	assert_int_equal(rtp_in(f, 7000, pub, 7, &dport), 0);
}

/* No final answer within a minute: the call's pinholes go (on the next
 * signalling packet, whatever the timer did). */
static void test_provisional_timeout(void **state)
{
	struct fx *f = *state;
	char body[512];
	f->n = udp(f->b, H1, 5060, R, 5060, sipmsg("INVITE sip:b@" R " SIP/2.0", H1 ":5060",
	    H1 ":5060", "prov", "1 INVITE", sdp(body, sizeof(body), H1, 6000)));
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_true(counters(f).pinholes_active > 0);
	f->n = udp(f->b, R, 5060, GW_OUT, 5060, sipmsg("SIP/2.0 180 Ringing", GW_OUT ":5060",
	    R, "prov", "1 INVITE", NULL));
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 59999), NAT_FORWARD);
	assert_true(counters(f).pinholes_active > 0);
	f->n = udp(f->b, R, 5060, GW_OUT, 5060, sipmsg("SIP/2.0 180 Ringing", GW_OUT ":5060",
	    R, "prov", "1 INVITE", NULL));
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 60000), NAT_FORWARD);
	assert_int_equal(counters(f).pinholes_active, 0);
}

/* Media idle: sip_media (2 min); UDP signalling: sip (30 min), not udp's 2. */
static void test_timeouts(void **state)
{
	struct fx *f = *state;
	uint16_t pub = call_up(f, H1, "idle", 0), dport;
	assert_int_equal(rtp_in(f, 7000, pub, 1000, &dport), A(H1));
	nat_expire(f->t, 1000 + 119999);
	assert_int_equal(walk_n(f, 1000 + 119999), 2);
	nat_expire(f->t, 1000 + 120000);
	assert_int_equal(walk_n(f, 1000 + 120000), 1);	/* the media flow went */
	nat_expire(f->t, 29 * 60000);
	assert_int_equal(walk_n(f, 29 * 60000), 1);	/* signalling still there */
	nat_expire(f->t, 30 * 60000 + 1);
	assert_int_equal(walk_n(f, 30 * 60000 + 1), 0);
}

/* A datagram whose Content-Length lies is dropped and counted; a keepalive
 * passes uncounted; a non-SIP datagram passes, counted. */
static void test_bad_udp(void **state)
{
	struct fx *f = *state;
	static const char lie[] = "OPTIONS sip:b@" R " SIP/2.0\r\nVia: SIP/2.0/UDP " H1
				  ":5060\r\nContent-Length: 500\r\n\r\nshort";
	f->n = udp(f->b, H1, 5060, R, 5060, lie);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_DROP);
	assert_int_equal(sipc(f).bad_dropped, 1);
	assert_int_equal(counters(f).drop_inspect, 1);
	f->n = udp(f->b, H1, 5060, R, 5060, "\r\n\r\n");
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 1), NAT_FORWARD);
	assert_ok(f->b, f->n);
	f->n = udp(f->b, H1, 5060, R, 5060, "\x01\x02 not sip");
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 2), NAT_FORWARD);
	assert_int_equal(sipc(f).bad_passed, 1);
	assert_int_equal(sipc(f).bad_dropped, 1);
}

/* The first fragment of a big INVITE: the message goes on in the next
 * fragment, so it passes as it is (counted partial), never dropped as a lie. */
static void test_udp_first_fragment(void **state)
{
	struct fx *f = *state;
	char body[512];
	f->n = udp(f->b, H1, 5060, R, 5060, sipmsg("INVITE sip:b@" R " SIP/2.0", H1 ":5060",
	    H1 ":5060", "frag", "1 INVITE", sdp(body, sizeof(body), H1, 6000)));
	size_t cut = 20 + 8 + 200;	/* a first fragment: MF, 208 bytes of UDP (8-aligned) */
	put_u16(f->b + 2, (uint16_t)cut);
	put_u16(f->b + 6, 0x2000);
	fix_ip_csum(f->b);
	f->n = cut;
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(f->n, cut);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_non_null(strstr(payload(f->b, f->n), H1 ":5060"));
	assert_int_equal(sipc(f).partial, 1);
	assert_int_equal(sipc(f).bad_dropped, 0);
}

/* TCP: the INVITE grows by 2 bytes (two addresses one longer): later seqs and
 * the far end's acks are shifted; a segment holding half a message passes as
 * it is, counted. */
static void test_tcp(void **state)
{
	struct fx *f = *state;
	char body[512];
	f->n = tcp(f->b, H1, 5062, R, 5060, SYN, 100, 0, NULL);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t pub = pkt_sport(f->b);
	f->n = tcp(f->b, R, 5060, GW_OUT, pub, SYN | ACK, 900, 101, NULL);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_FORWARD);
	char via[32];
	snprintf(via, sizeof(via), H1 ":5062");
	char msg[1500];
	snprintf(msg, sizeof(msg), "%s", sipmsg("INVITE sip:b@" R " SIP/2.0", via, via, "tcp1",
	    "1 INVITE", sdp(body, sizeof(body), H1, 6000)));
	size_t ml = strlen(msg);
	f->n = tcp(f->b, H1, 5062, R, 5060, ACK, 101, 901, msg);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 1), NAT_FORWARD);
	assert_ok(f->b, f->n);
	const char *o = payload(f->b, f->n);
	assert_clen(o);
	char pubvia[48];
	snprintf(pubvia, sizeof(pubvia), "UDP " GW_OUT ":%u;", pub);
	assert_non_null(strstr(o, pubvia));
	long delta = (long)strlen(o) - (long)ml;
	assert_true(delta > 0);
	/* The next segment: seq shifted by delta. */
	f->n = tcp(f->b, H1, 5062, R, 5060, ACK, (uint32_t)(101 + ml), 901, "\r\n\r\n");
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 2), NAT_FORWARD);
	assert_int_equal(get_u32(f->b + 24), 101 + ml + (uint32_t)delta);
	assert_ok(f->b, f->n);
	/* The far end acks what it got: brought back to the inside's numbers. */
	f->n = tcp(f->b, R, 5060, GW_OUT, pub, ACK, 901, (uint32_t)(101 + ml + delta + 4), NULL);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 3), NAT_FORWARD);
	assert_int_equal(get_u32(f->b + 28), 101 + ml + 4);
	assert_ok(f->b, f->n);
	/* Half a message: passed as it is, counted. */
	uint64_t before = sipc(f).partial;
	char half[200];
	memcpy(half, msg, 120);
	half[120] = 0;
	f->n = tcp(f->b, H1, 5062, R, 5060, ACK, (uint32_t)(101 + ml + 4), 901, half);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 4), NAT_FORWARD);
	assert_non_null(strstr(payload(f->b, f->n), H1 ":5062"));
	assert_int_equal(sipc(f).partial, before + 1);
	assert_ok(f->b, f->n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_media_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pinhole_far_end_first, setup, teardown),
		cmocka_unit_test(test_without_engine_no_pinhole),
		cmocka_unit_test_setup_teardown(test_two_hosts_same_media_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bye_tears_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provisional_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_first_fragment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
