/* IKE/ESP, NAT-T and L2TP pass-through through PAT (nat/ipsec_pt.c) on
 * hand-built packets: several clients behind the one public address, towards
 * one server and towards several, beside tsunagid's own IKE and ESP on that
 * address. Checksums are verified by a full computation (tests/unit/nat_pkt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "nat/nat_priv.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"		/* an IPsec server outside */
#define R2 "198.18.0.8"		/* another */
#define C1 "10.1.0.10"		/* inside clients */
#define C2 "10.1.0.11"
#define IN NAT_FROM_INSIDE
#define OUT NAT_FROM_OUTSIDE
#define UDP_MS (120 * 1000)	/* the default UDP timeout: ESP and IKE flows idle out after it */

/* An IKE header (28 bytes, then payload) in UDP; spi_i's two halves repeated. */
static size_t mk_ike(uint8_t *p, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    uint32_t spi_i, uint32_t spi_r)
{
	size_t n = mk_udp(p, src, sp, dst, dp, 28 + 40);
	put_u32(p + 28, spi_i);
	put_u32(p + 32, ~spi_i);
	put_u32(p + 36, spi_r);
	put_u32(p + 40, ~spi_r);
	fix_l4_csum(p);
	return n;
}

/* One raw ESP packet with SPI spi (the rest: 0x5a). */
static size_t mk_esp(uint8_t *p, const char *src, const char *dst, uint32_t spi)
{
	size_t n = mk_ip(p, src, dst, NAT_ESP, 7, 0, 64);
	put_u32(p + 20, spi);
	return n;
}

static uint32_t esp_spi(const uint8_t *p)
{
	return get_u32(p + 20);
}

/* c does IKE (500 -> 500) with server srv through PAT; checks that port 500 was kept. */
static void ike_out(struct nat_fx *f, const char *c, const char *srv, uint32_t spi, uint64_t now)
{
	f->n = mk_ike(f->b, c, 500, srv, 500, spi, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, now), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_int_equal(pkt_sport(f->b), 500);
	assert_int_equal(pkt_dst(f->b), A(srv));
	assert_csums(f->b);
}

/* The server answers on the IKE SA spi: to client c (NULL: the gateway's own). */
static void ike_in(struct nat_fx *f, const char *srv, uint32_t spi, const char *c, uint64_t now)
{
	f->n = mk_ike(f->b, srv, 500, GW_OUT, 500, spi, 0x1234);
	if (!c) {
		assert_int_equal(xl(f->t, f->b, &f->n, OUT, now), NAT_LOCAL);
		return;
	}
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, now), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(srv));
	assert_int_equal(pkt_dst(f->b), A(c));
	assert_int_equal(pkt_dport(f->b), 500);
	assert_csums(f->b);
}

static void esp_out(struct nat_fx *f, const char *c, const char *srv, uint32_t spi, uint64_t now)
{
	f->n = mk_esp(f->b, c, srv, spi);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, now), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_int_equal(pkt_dst(f->b), A(srv));
	assert_int_equal(esp_spi(f->b), spi);
	assert_true(ip_csum_ok(f->b));
}

/* The server's ESP with spi: to client c (NULL: the gateway's own). */
static void esp_in(struct nat_fx *f, const char *srv, uint32_t spi, const char *c, uint64_t now)
{
	f->n = mk_esp(f->b, srv, GW_OUT, spi);
	if (!c) {
		assert_int_equal(xl(f->t, f->b, &f->n, OUT, now), NAT_LOCAL);
		return;
	}
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, now), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(srv));
	assert_int_equal(pkt_dst(f->b), A(c));
	assert_int_equal(esp_spi(f->b), spi);
	assert_true(ip_csum_ok(f->b));
}

static int view_ike(const struct nat_flow_view *v, void *arg)
{
	if (v->proto == 17 && v->in_sport == 500)
		*(struct nat_flow_view *)arg = *v;
	return 0;
}

/* Two clients, one server, both from port 500: the server sees one address and
 * port 500 for both; its answers go back by initiator SPI. Unknown SPIs are
 * tsunagid's own IKE. */
static void test_ike_two_clients_same_server(void **state)
{
	struct nat_fx *f = *state;
	ike_out(f, C1, R, 0x11111111, 0);
	ike_out(f, C2, R, 0x22222222, 1);
	ike_in(f, R, 0x22222222, C2, 2);
	ike_in(f, R, 0x11111111, C1, 3);
	ike_in(f, R, 0x33333333, NULL, 4);	/* the gateway's own IKE SA */
	/* Not hijacked by a new client's IKE from port 500 either way round. */
	ike_in(f, R2, 0x11111111, NULL, 5);
	/* The operator sees the real outside end, not the pseudo key. */
	struct nat_flow_view v = { 0 };
	nat_table_walk(f->t, 6, view_ike, &v);
	assert_int_equal(v.out_src, A(R));
	assert_int_equal(v.out_dst, A(GW_OUT));
	assert_int_equal(v.out_sport, 500);
	assert_int_equal(v.out_dport, 500);
	assert_string_equal(v.engine, "ike");
	assert_int_equal(nat_fx_counters(f).ike_passthrough, 2);
	struct nat_insp_counters ic;
	assert_int_equal(nat_table_insp_counters(f->t, NAT_ENGINE_IKE, &ic), 0);
	assert_int_equal(ic.flows, 2);
	assert_int_equal(ic.packets, 4);	/* 2 out, 2 answered; not the gateway's own */
}

static void test_ike_two_clients_two_servers_same_spi(void **state)
{
	struct nat_fx *f = *state;
	ike_out(f, C1, R, 0x11111111, 0);
	ike_out(f, C2, R2, 0x11111111, 1);
	ike_in(f, R2, 0x11111111, C2, 2);
	ike_in(f, R, 0x11111111, C1, 3);
}

/* Identical initiator SPIs to one server cannot be told apart: the second
 * client leaves by another port (and its NAT-T then floats to 4500). */
static void test_ike_same_spi_same_server(void **state)
{
	struct nat_fx *f = *state;
	ike_out(f, C1, R, 0x11111111, 0);
	f->n = mk_ike(f->b, C2, 500, R, 500, 0x11111111, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 1), NAT_FORWARD);
	uint16_t port = pkt_sport(f->b);
	assert_int_not_equal(port, 500);
	assert_csums(f->b);
	ike_in(f, R, 0x11111111, C1, 2);
	assert_int_equal(nat_fx_counters(f).ike_spi_taken, 1);
	f->n = mk_ike(f->b, R, 500, GW_OUT, port, 0x11111111, 0x1234);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 3), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C2));
	assert_int_equal(pkt_dport(f->b), 500);
	assert_csums(f->b);
}

/* A new IKE SA (rekey) from the client: its new SPI is followed; the old one
 * is no longer the client's. */
static void test_ike_rekey_new_spi(void **state)
{
	struct nat_fx *f = *state;
	ike_out(f, C1, R, 0x11111111, 0);
	ike_out(f, C2, R, 0x22222222, 0);
	ike_out(f, C1, R, 0x11112222, 10);
	ike_in(f, R, 0x11112222, C1, 11);
	ike_in(f, R, 0x11111111, NULL, 12);
	ike_in(f, R, 0x22222222, C2, 13);
	/* A new SPI that another client already holds: not taken from it. */
	ike_out(f, C1, R, 0x22222222, 14);
	ike_in(f, R, 0x22222222, C2, 15);
	/* Idle past the UDP timeout: the flow is gone, the SPI is the gateway's. */
	ike_in(f, R, 0x11112222, C1, 13 + UDP_MS);
	ike_in(f, R, 0x11112222, NULL, 13 + 2 * UDP_MS);
}

/* An ICMP error about an IKE datagram quotes its SPI: it reaches the client. */
static void test_ike_icmp_error(void **state)
{
	struct nat_fx *f = *state;
	uint8_t sent[256];
	ike_out(f, C2, R, 0x22222222, 0);
	size_t n = mk_ike(sent, C1, 500, R, 500, 0x11111111, 0);
	assert_int_equal(xl(f->t, sent, &n, IN, 0), NAT_FORWARD);
	f->n = mk_icmp_error(f->b, "192.0.2.99", GW_OUT, 3, 4, sent, 20 + 8 + 16);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 5), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
	assert_int_equal(pkt_src(f->b), A("192.0.2.99"));
	assert_true(ip_csum_ok(f->b));
	assert_true(l4_csum_ok(f->b, 0));
	assert_true(ip_csum_ok(f->b + 28));
	assert_int_equal(pkt_src(f->b + 28), A(C1));
	assert_int_equal(nat_fx_counters(f).icmp_errors, 1);
}

/* Raw ESP: outbound SPIs from the clients' packets, inbound ones learned from
 * the server's first packet for the client that did IKE with it last. */
static void test_esp_two_clients_same_server(void **state)
{
	struct nat_fx *f = *state;
	ike_out(f, C1, R, 0x11111111, 0);
	esp_out(f, C1, R, 0xc0000001, 1);
	esp_in(f, R, 0xa0000001, C1, 2);
	ike_out(f, C2, R, 0x22222222, 3);
	esp_in(f, R, 0xa0000002, C2, 4);	/* the server may send first */
	esp_out(f, C2, R, 0xc0000002, 5);
	/* Both tunnels at once, each to its own client. */
	esp_in(f, R, 0xa0000001, C1, 6);
	esp_in(f, R, 0xa0000002, C2, 7);
	esp_out(f, C1, R, 0xc0000001, 8);
	assert_int_equal(nat_fx_counters(f).drop_proto, 0);
	assert_int_equal(nat_fx_counters(f).esp_spi_learned, 2);
}

/* Identical SPIs towards different servers: told apart by the server. */
static void test_esp_same_spis_two_servers(void **state)
{
	struct nat_fx *f = *state;
	ike_out(f, C1, R, 0x11111111, 0);
	ike_out(f, C2, R2, 0x22222222, 0);
	esp_out(f, C1, R, 0xc0000001, 1);
	esp_out(f, C2, R2, 0xc0000001, 1);
	esp_in(f, R, 0xa0000001, C1, 2);
	esp_in(f, R2, 0xa0000001, C2, 2);
	esp_in(f, R, 0xa0000001, C1, 3);
}

/* ESP with no client's IKE behind it is tsunagid's own tunnel; so is ESP from
 * a server after the client's IKE went quiet for the UDP timeout. */
static void test_esp_own_tunnel_not_taken(void **state)
{
	struct nat_fx *f = *state;
	esp_in(f, R, 0xb0000001, NULL, 0);
	ike_out(f, C1, R, 0x11111111, 0);
	esp_in(f, R2, 0xb0000002, NULL, 1);
	esp_in(f, R, 0xb0000003, NULL, 1 + UDP_MS);
	assert_int_equal(nat_fx_counters(f).drop_no_flow, 0);
}

/* Someone spoofing the server cannot make the table learn SPI after SPI: four
 * per IKE packet of the client, then they are the gateway's. */
static void test_esp_learning_bounded(void **state)
{
	struct nat_fx *f = *state;
	ike_out(f, C1, R, 0x11111111, 0);
	for (uint32_t i = 0; i < 4; i++)
		esp_in(f, R, 0xd0000000 + i, C1, 1);
	esp_in(f, R, 0xd0000004, NULL, 2);
	assert_int_equal(nat_fx_counters(f).esp_spi_learned, 4);
	ike_out(f, C1, R, 0x11111111, 3);	/* the client's next IKE packet */
	esp_in(f, R, 0xd0000004, C1, 4);
	esp_in(f, R, 0xd0000000, C1, 4);	/* known ones stay known */
}

/* Rekey: new SPIs are learned beside the old; unused ones expire. */
static void test_esp_rekey_and_expiry(void **state)
{
	struct nat_fx *f = *state;
	uint64_t t0 = 0, t1 = UDP_MS / 2;
	ike_out(f, C1, R, 0x11111111, t0);
	esp_out(f, C1, R, 0xc0000001, t0);
	esp_in(f, R, 0xa0000001, C1, t0);
	ike_out(f, C1, R, 0x11111111, t1);	/* CREATE_CHILD_SA */
	esp_out(f, C1, R, 0xc0000011, t1);
	esp_in(f, R, 0xa0000011, C1, t1);
	/* The old SA goes quiet; the new one carries on. */
	for (uint64_t now = t1; now <= t0 + UDP_MS + 1000; now += 10000) {
		esp_out(f, C1, R, 0xc0000011, now);
		esp_in(f, R, 0xa0000011, C1, now);
		ike_out(f, C1, R, 0x11111111, now);	/* DPD */
	}
	uint64_t later = t0 + UDP_MS + 2000;
	nat_expire(f->t, later);
	assert_int_equal(nat_fx_counters(f).flows_expired, 2);	/* both old SAs, nothing else */
	esp_in(f, R, 0xa0000011, C1, later);
	/* The old inbound SPI is the gateway's once no client did IKE lately. */
	f->n = mk_esp(f->b, R, GW_OUT, 0xa0000001);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, later + UDP_MS), NAT_LOCAL);
}

/* ICMP errors about ESP: from an outside router about the client's packet, and
 * from the client about the server's. */
static void test_esp_icmp_errors(void **state)
{
	struct nat_fx *f = *state;
	uint8_t sent[256];
	ike_out(f, C1, R, 0x11111111, 0);
	ike_out(f, C2, R, 0x22222222, 0);
	esp_out(f, C2, R, 0xc0000002, 0);
	size_t n = mk_esp(sent, C1, R, 0xc0000001);
	assert_int_equal(xl(f->t, sent, &n, IN, 0), NAT_FORWARD);
	f->n = mk_icmp_error(f->b, "192.0.2.99", GW_OUT, 3, 4, sent, 20 + 8);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
	assert_true(ip_csum_ok(f->b));
	assert_true(l4_csum_ok(f->b, 0));
	assert_true(ip_csum_ok(f->b + 28));
	assert_int_equal(pkt_src(f->b + 28), A(C1));
	assert_int_equal(get_u32(f->b + 48), 0xc0000001);
	/* From the client, about the server's ESP to it. */
	n = mk_esp(sent, R, GW_OUT, 0xa0000001);
	assert_int_equal(xl(f->t, sent, &n, OUT, 2), NAT_FORWARD);
	assert_int_equal(pkt_dst(sent), A(C2));	/* C2 did IKE last */
	f->n = mk_icmp_error(f->b, C2, R, 3, 2, sent, 20 + 8);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 3), NAT_FORWARD);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_int_equal(pkt_dst(f->b), A(R));
	assert_true(ip_csum_ok(f->b));
	assert_true(l4_csum_ok(f->b, 0));
	assert_int_equal(pkt_dst(f->b + 28), A(GW_OUT));
	assert_int_equal(nat_fx_counters(f).icmp_errors, 2);
}

/* SPIs 0-255 never appear on the wire (RFC 4303 2.1), nor does ESP without a
 * whole SPI and sequence number. */
static void test_esp_malformed(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_esp(f->b, C1, R, 5);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_DROP);
	f->n = mk_ip(f->b, R, GW_OUT, NAT_ESP, 7, 0, 6);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 0), NAT_DROP);
	assert_int_equal(nat_fx_counters(f).drop_malformed, 2);
}

/* NAT-T: plain UDP on another public port (NAT-T peers accept any), so that
 * public:4500 stays tsunagid's own; two clients of one server each get theirs. */
static void test_natt_plain_udp(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_udp(f->b, C1, 4500, R, 4500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t p1 = pkt_sport(f->b);
	assert_csums(f->b);
	f->n = mk_udp(f->b, C2, 4500, R, 4500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t p2 = pkt_sport(f->b);
	assert_csums(f->b);
	assert_int_not_equal(p1, 4500);
	assert_int_not_equal(p2, 4500);
	assert_int_not_equal(p1, p2);
	f->n = mk_udp(f->b, R, 4500, GW_OUT, p1, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
	assert_int_equal(pkt_dport(f->b), 4500);
	assert_csums(f->b);
	f->n = mk_udp(f->b, R, 4500, GW_OUT, p2, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C2));
	assert_int_equal(pkt_dport(f->b), 4500);
	assert_csums(f->b);
	/* tsunagid's own NAT-T, with that server or another, stays the gateway's. */
	f->n = mk_udp(f->b, R, 4500, GW_OUT, 4500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_LOCAL);
	f->n = mk_udp(f->b, "198.18.0.9", 4500, GW_OUT, 4500, 100);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_LOCAL);
}

/* UDP 1701 whose SCCRQ was not seen (here: no L2TP at all) is plain UDP: the
 * port is kept where free, a second client of the same LNS gets another port. */
static void test_l2tp_keeps_1701(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_udp(f->b, C1, 1701, R, 1701, 60);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 1701);
	f->n = mk_udp(f->b, C2, 1701, R, 1701, 60);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t p2 = pkt_sport(f->b);
	assert_int_not_equal(p2, 1701);
	f->n = mk_udp(f->b, R, 1701, GW_OUT, 1701, 60);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
	assert_csums(f->b);
	f->n = mk_udp(f->b, R, 1701, GW_OUT, p2, 60);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C2));
	assert_int_equal(pkt_dport(f->b), 1701);
	assert_csums(f->b);
}

/* L2TPv2 control message (T, L, S; ver 2) to tunnel tunnel: an SCCRQ assigning
 * tid when sccrq, else an SCCRP (message type 2) assigning tid. */
static size_t mk_l2tp_ctl(uint8_t *p, const char *src, uint16_t sp, const char *dst,
    uint16_t dp, uint16_t tunnel, bool sccrq, uint16_t tid)
{
	size_t n = mk_udp(p, src, sp, dst, dp, 12 + 8 + 8 + 10);
	uint8_t *m = p + 28;
	put_u16(m, 0xc802);
	put_u16(m + 2, 12 + 8 + 8 + 10);
	put_u16(m + 4, tunnel);
	put_u16(m + 6, 0);
	put_u32(m + 8, 0);
	put_u16(m + 12, 0x8008);	/* M, length 8: Message Type */
	put_u16(m + 14, 0);
	put_u16(m + 16, 0);
	put_u16(m + 18, sccrq ? 1 : 2);
	put_u16(m + 20, 0x8008);	/* Assigned Tunnel ID */
	put_u16(m + 22, 0);
	put_u16(m + 24, 9);
	put_u16(m + 26, tid);
	put_u16(m + 28, 0x000a);	/* Protocol Version (type 2), length 8+2 */
	put_u16(m + 30, 0);
	put_u16(m + 32, 2);
	put_u32(m + 34, 0x0100);
	fix_l4_csum(p);
	return n;
}

/* An L2TPv2 data message (no L, no S) to tunnel tunnel. */
static size_t mk_l2tp_data(uint8_t *p, const char *src, const char *dst, uint16_t dp,
    uint16_t tunnel)
{
	size_t n = mk_udp(p, src, 1701, dst, dp, 6 + 20);
	put_u16(p + 28, 0x0002);
	put_u16(p + 30, tunnel);
	put_u16(p + 32, 7);
	fix_l4_csum(p);
	return n;
}

/* Two clients of one LNS: both keep 1701, the LNS's packets go by tunnel ID. */
static void test_l2tp_tunnel_id_demux(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_l2tp_ctl(f->b, C1, 1701, R, 1701, 0, true, 0x1111);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 1701);
	assert_csums(f->b);
	f->n = mk_l2tp_ctl(f->b, C2, 1701, R, 1701, 0, true, 0x2222);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 1701);
	assert_int_equal(pkt_src(f->b), A(GW_OUT));
	assert_csums(f->b);
	f->n = mk_l2tp_ctl(f->b, R, 1701, GW_OUT, 1701, 0x2222, false, 0x0a0a);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C2));
	assert_int_equal(pkt_dport(f->b), 1701);
	assert_csums(f->b);
	f->n = mk_l2tp_ctl(f->b, R, 1701, GW_OUT, 1701, 0x1111, false, 0x0b0b);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
	assert_csums(f->b);
	/* Data both ways: the clients send to the LNS's tunnel IDs. */
	f->n = mk_l2tp_data(f->b, C1, R, 1701, 0x0b0b);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 2), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 1701);
	assert_csums(f->b);
	f->n = mk_l2tp_data(f->b, R, GW_OUT, 1701, 0x1111);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 3), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
	assert_csums(f->b);
	f->n = mk_l2tp_data(f->b, R, GW_OUT, 1701, 0x2222);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 3), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C2));
	/* A tunnel ID of nobody's is not handed to anybody. */
	f->n = mk_l2tp_data(f->b, R, GW_OUT, 1701, 0x3333);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 3), NAT_LOCAL);
	assert_int_equal(nat_fx_counters(f).drop_no_flow, 0);
	assert_int_equal(nat_fx_counters(f).l2tp_passthrough, 2);
}

/* Both clients assign the same tunnel ID: the second leaves by another port. */
static void test_l2tp_same_tunnel_id(void **state)
{
	struct nat_fx *f = *state;
	f->n = mk_l2tp_ctl(f->b, C1, 1701, R, 1701, 0, true, 0x1111);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 1701);
	f->n = mk_l2tp_ctl(f->b, C2, 1701, R, 1701, 0, true, 0x1111);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t p2 = pkt_sport(f->b);
	assert_int_not_equal(p2, 1701);
	assert_csums(f->b);
	f->n = mk_l2tp_data(f->b, R, GW_OUT, p2, 0x1111);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C2));
	assert_int_equal(pkt_dport(f->b), 1701);
	assert_csums(f->b);
	f->n = mk_l2tp_data(f->b, R, GW_OUT, 1701, 0x1111);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
}

/* The rules in force: the default ones with inspect { text }. */
static void use_inspect(struct nat_fx *f, const char *text)
{
	char conf[2048], err[256] = "";
	snprintf(conf, sizeof(conf),
		 "tsunagi { nat { inside = lan0\n outside = wan0\n inspect { %s }\n"
		 " rules { lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n",
		 text);
	struct nat_rules *r = nat_test_rules(conf, err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	nat_table_set_rules(f->t, r);
	nat_rules_free(f->rules);
	f->rules = r;
}

/* ike { enabled = no }: IKE gets an ordinary PAT port, one per client, and no
 * pass-through flow (a PIX without ipsec-pass-thru); replies still find it. */
static void test_ike_passthru_disabled(void **state)
{
	struct nat_fx *f = *state;
	use_inspect(f, "ike { enabled = no }");
	f->n = mk_ike(f->b, C1, 500, R, 500, 0x11111111, 0);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	uint16_t port = pkt_sport(f->b);
	assert_int_not_equal(port, 500);	/* tsunagid's own IKE port stays its own */
	assert_csums(f->b);
	f->n = mk_ike(f->b, R, 500, GW_OUT, port, 0x11111111, 0x1234);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
	assert_int_equal(pkt_dport(f->b), 500);
	ike_in(f, R, 0x11111111, NULL, 2);	/* to port 500: the gateway's */
	esp_out(f, C1, R, 0x5001, 3);
	esp_in(f, R, 0x6001, NULL, 4);		/* no raw ESP learned without IKE seen */
	struct nat_insp_counters ic;
	assert_int_equal(nat_table_insp_counters(f->t, NAT_ENGINE_IKE, &ic), 0);
	assert_int_equal(ic.flows, 0);
	assert_int_equal(nat_fx_counters(f).ike_passthrough, 0);
}

/* l2tp { ports = 1702 }: tunnels on 1702 are told apart by tunnel ID and keep
 * their port; 1701 is plain UDP then. */
static void test_l2tp_ports_configured(void **state)
{
	struct nat_fx *f = *state;
	use_inspect(f, "l2tp { ports = 1702 }");
	f->n = mk_l2tp_ctl(f->b, C1, 1702, R, 1702, 0, true, 0x1111);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 1702);
	f->n = mk_l2tp_ctl(f->b, C2, 1702, R, 1702, 0, true, 0x2222);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 0), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 1702);
	f->n = mk_l2tp_ctl(f->b, R, 1702, GW_OUT, 1702, 0x2222, false, 0x77);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C2));
	f->n = mk_l2tp_ctl(f->b, R, 1702, GW_OUT, 1702, 0x1111, false, 0x78);
	assert_int_equal(xl(f->t, f->b, &f->n, OUT, 1), NAT_FORWARD);
	assert_int_equal(pkt_dst(f->b), A(C1));
	assert_csums(f->b);
	struct nat_insp_counters ic;
	assert_int_equal(nat_table_insp_counters(f->t, NAT_ENGINE_L2TP, &ic), 0);
	assert_int_equal(ic.flows, 2);
	/* 1701 is no longer L2TP's: a second client of the LNS gets another port. */
	f->n = mk_l2tp_ctl(f->b, C1, 1701, R, 1701, 0, true, 0x3333);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 2), NAT_FORWARD);
	assert_int_equal(pkt_sport(f->b), 1701);
	f->n = mk_l2tp_ctl(f->b, C2, 1701, R, 1701, 0, true, 0x4444);
	assert_int_equal(xl(f->t, f->b, &f->n, IN, 2), NAT_FORWARD);
	assert_int_not_equal(pkt_sport(f->b), 1701);
	assert_int_equal(nat_table_insp_counters(f->t, NAT_ENGINE_L2TP, &ic), 0);
	assert_int_equal(ic.flows, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, nat_fx_setup, nat_fx_teardown)
		T(test_ike_two_clients_same_server),
		T(test_ike_two_clients_two_servers_same_spi),
		T(test_ike_same_spi_same_server),
		T(test_ike_rekey_new_spi),
		T(test_ike_icmp_error),
		T(test_esp_two_clients_same_server),
		T(test_esp_same_spis_two_servers),
		T(test_esp_own_tunnel_not_taken),
		T(test_esp_learning_bounded),
		T(test_esp_rekey_and_expiry),
		T(test_esp_icmp_errors),
		T(test_esp_malformed),
		T(test_natt_plain_udp),
		T(test_l2tp_keeps_1701),
		T(test_l2tp_tunnel_id_demux),
		T(test_l2tp_same_tunnel_id),
		T(test_ike_passthru_disabled),
		T(test_l2tp_ports_configured),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
