/* NAT rebinding under a running SA (the peer's NAT gives it another public port, or
 * address): IKEv1 follows an authenticated and fresh message (DPD, Quick Mode) from the
 * new mapping as IKEv2 does; the ESP engine's NEW_MAPPING (an authenticated ESP-in-UDP
 * packet from there) moves the IKE SA that owns the SA, under RFC 7296 2.23's rule;
 * and transport-mode policies that name the peer's NAT-T port (L2TP/IPsec servers)
 * are replaced, once per reqid. In-process, through tests/unit/ike_harness.c, where
 * peer a sits behind a NAT whose mapping of its port 4500 the tests change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "ike/v1/ikev1.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

#define A_NAT "203.0.113.7"	/* what b sees of a */

static char conf_a[2048], conf_b[2048];

static void subst(char *conf, size_t len, const char *from, const char *to)
{
	char *p = strstr(conf, from);
	assert_non_null(p);
	char tail[2048];
	snprintf(tail, sizeof(tail), "%s", p + strlen(from));
	snprintf(p, len - (size_t)(p - conf), "%s%s", to, tail);
}

static struct ike_stats stats(struct h_peer *p)
{
	struct ike_stats st;
	ike_get_stats(p->core, &st);
	return st;
}

static struct ike_sa *first(struct h_peer *p)
{
	return (struct ike_sa *)h_first_sa(p);
}

/* IKEv1 site to site (tunnel mode), a behind a masquerading NAT: b takes it from any
 * address, and sees a NAT in front of a only. */
static void v1_up(struct harness *h)
{
	char err[128];
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "    dpd_delay = 30s\n", "", "tunnel");
	subst(conf_b, sizeof(conf_b), "remote_addrs = 192.0.2.1", "remote_addrs = %any");
	assert_int_equal(h_init(h, conf_a, conf_b), 0);
	assert_int_equal(addr_parse(A_NAT, &h->a.seen), 0);
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
	assert_int_equal(h_count_sas(&h->b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h->b), 1);
	const struct ike_sa *sb = h_first_sa(&h->b);
	assert_true(sb->natt && sb->nat_there && !sb->nat_here);
	assert_int_equal(sb->remote.port, 4500);
}

/* b's SAs of every child go to (come from) a's NAT at `port`. */
static void assert_sas_at(struct harness *h, uint16_t port)
{
	for (const struct child_sa *c = h_first_sa(&h->b)->children; c; c = c->next) {
		const struct pfkey_sa *in = h_find_sa(&h->b, c->spi_in);
		const struct pfkey_sa *out = h_find_sa(&h->b, c->spi_out);
		assert_non_null(in);
		assert_non_null(out);
		assert_int_equal(in->natt_sport, port);
		assert_int_equal(out->natt_dport, port);
	}
}

/* a's NAT moves it to port 31000; a's next R-U-THERE (HASH(1) verified, a new number)
 * reaches b from there: b follows, its SAs are UPDATEd with the port, and its ACK goes
 * to the new mapping (the old one is gone: a would otherwise never hear it). */
static void test_v1_dpd_new_port(void **state)
{
	(void)state;
	struct harness h;
	v1_up(&h);
	struct ike_sa *sa = first(&h.a);
	h.a.seen_natt_port = 31000;

	/* A tampered R-U-THERE from the new port moves nothing. */
	ike_sa_queue(sa, TASK_DPD, NULL, 0);
	assert_int_equal(h.n_wire, 1);
	h.wire[0].data[h.wire[0].len - 1] ^= 1;
	h_pump(&h);
	assert_int_equal(h_first_sa(&h.b)->remote.port, 4500);

	ike_sa_queue(sa, TASK_DPD, NULL, 0);
	assert_int_equal(h.n_wire, 1);
	struct h_wire_msg rut = h.wire[0];
	h_pump(&h);
	assert_int_equal(h_first_sa(&h.b)->remote.port, 31000);
	assert_sas_at(&h, 31000);
	assert_int_equal(sa->v1->dpd_wait_since, MS_NEVER);	/* the ACK came back */

	/* The same R-U-THERE replayed from elsewhere: not fresh, not followed. */
	rut.remote.port = 32000;
	h.wire[h.n_wire++] = rut;
	h_pump(&h);
	assert_int_equal(h_first_sa(&h.b)->remote.port, 31000);
	assert_sas_at(&h, 31000);
	h_free(&h);
}

/* The same with a Quick Mode (a renewal of the CHILD_SA) as the first message from
 * the new mapping: QM1's HASH(1) with a new message ID moves b, which answers there,
 * and the new CHILD_SA is installed towards the new port as well. */
static void test_v1_quick_mode_new_port(void **state)
{
	(void)state;
	struct harness h;
	v1_up(&h);
	struct ike_sa *sa = first(&h.a);
	h.a.seen_natt_port = 31001;
	ike_sa_queue(sa, TASK_CHILD_REKEY, NULL, sa->children->uniqueid);
	h_pump(&h);
	assert_int_equal(h_first_sa(&h.b)->remote.port, 31001);
	assert_int_equal(h_count_children(&h.b), 2);
	assert_int_equal(h_count_children(&h.a), 2);
	assert_sas_at(&h, 31001);
	h_free(&h);
}

/* Before the fix an IKEv1 SA dropped everything from the new mapping; without a
 * NAT-T SA it still does (no NAT to follow). */
static void test_v1_no_natt_not_followed(void **state)
{
	(void)state;
	struct harness h;
	char err[128];
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "", "", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_false(h_first_sa(&h.b)->natt);
	ike_sa_queue(first(&h.a), TASK_DPD, NULL, 0);
	assert_int_equal(h.n_wire, 1);
	h.wire[0].remote.port = 31000;
	uint64_t bad = stats(&h.b).rx_invalid;
	h_pump(&h);
	assert_int_equal(h_first_sa(&h.b)->remote.port, 500);
	assert_int_equal(stats(&h.b).rx_invalid, bad + 1);
	h_free(&h);
}

/* --- NEW_MAPPING from the ESP engine ------------------------------------------------ */

/* a's NAT moves it; nothing but ESP comes from the new mapping. b's engine checks the
 * first packet's ICV, says NEW_MAPPING, and b's IKE SA (the peer behind a NAT, b not)
 * follows: IKE and ESP go to the new port, counted. */
static void test_new_mapping_moves_sa(void **state)
{
	(void)state;
	struct harness h;
	struct h_sent sa_out = { 0 }, sb_out = { 0 };
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "", "", "tunnel");
	subst(conf_b, sizeof(conf_b), "remote_addrs = 192.0.2.1", "remote_addrs = %any");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(addr_parse(A_NAT, &h.a.seen), 0);
	assert_int_equal(h_use_engine(&h.a, h_record_sent, &sa_out), 0);
	assert_int_equal(h_use_engine(&h.b, h_record_sent, &sb_out), 0);
	char err[128];
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 1);

	uint8_t pkt[64];
	size_t len = h_udp4(pkt, "10.1.0.5", "10.2.0.5");
	assert_int_equal(esp_engine_output_packet(h.a.engine, pkt, len), ESP_V_SENT);
	struct addr from, to = h.b.addr;
	assert_int_equal(addr_parse(A_NAT, &from), 0);
	from.port = 31000;
	to.port = 4500;
	assert_int_equal(esp_engine_input_packet(h.b.engine, &from, &to, true, sa_out.pkt,
						 sa_out.len), ESP_V_DELIVERED);
	h_engine_drain(&h, &h.b);
	assert_true(addr_equal(&h_first_sa(&h.b)->remote, &from));
	assert_sas_at(&h, 31000);
	assert_int_equal(stats(&h.b).nat_mappings, 1);
	assert_int_equal(stats(&h.b).nat_mappings_ignored, 0);
	/* b's ESP now goes there, its sequence number going on. */
	len = h_udp4(pkt, "10.2.0.5", "10.1.0.5");
	assert_int_equal(esp_engine_output_packet(h.b.engine, pkt, len), ESP_V_SENT);
	assert_true(addr_equal(&sb_out.dst, &from));
	/* Later packets from there say nothing more. */
	len = h_udp4(pkt, "10.1.0.5", "10.2.0.5");
	assert_int_equal(esp_engine_output_packet(h.a.engine, pkt, len), ESP_V_SENT);
	h.now += 5000;
	esp_engine_tick(h.b.engine, h.now);
	assert_int_equal(esp_engine_input_packet(h.b.engine, &from, &to, true, sa_out.pkt,
						 sa_out.len), ESP_V_DELIVERED);
	h_engine_drain(&h, &h.b);
	assert_int_equal(stats(&h.b).nat_mappings, 1);
	h_free(&h);
}

static void send_mapping(struct harness *h, struct h_peer *p, uint32_t spi, const char *to,
			 uint16_t port)
{
	struct pfkey_mapping mp = { .spi = spi };
	struct buf b;
	mp.old_peer = first(p)->remote;
	assert_int_equal(addr_parse(to, &mp.new_peer), 0);
	mp.new_peer.port = port;
	buf_init(&b);
	pfkey_build_new_mapping(&b, &mp);
	assert_false(b.oom);
	ike_pfkey_input(p->core, b.data, b.len, h->now);
	buf_free(&b);
}

/* A NEW_MAPPING that names no inbound SA of ours (an unknown SPI, or our outbound one,
 * whose packets are never the peer's), or one for a peer we must not follow (we are
 * behind the NAT: RFC 7296 2.23), changes nothing and is counted. */
static void test_new_mapping_ignored(void **state)
{
	(void)state;
	struct harness h;
	v1_up(&h);
	const struct child_sa *cb = h_first_sa(&h.b)->children;
	const struct child_sa *ca = h_first_sa(&h.a)->children;
	send_mapping(&h, &h.b, 0x12345678, A_NAT, 31000);
	send_mapping(&h, &h.b, cb->spi_out, A_NAT, 31000);
	assert_int_equal(h_first_sa(&h.b)->remote.port, 4500);
	assert_sas_at(&h, 4500);
	assert_int_equal(stats(&h.b).nat_mappings_ignored, 2);
	assert_int_equal(stats(&h.b).nat_mappings, 0);
	/* a is the one behind the NAT: it does not follow b. */
	send_mapping(&h, &h.a, ca->spi_in, "198.51.100.2", 31000);
	assert_int_equal(h_first_sa(&h.a)->remote.port, 4500);
	assert_int_equal(stats(&h.a).nat_mappings_ignored, 1);
	/* A malformed one is counted too. */
	uint8_t junk[16] = { 2, SADB_X_NAT_T_NEW_MAPPING, 0, 3, 2, 0 };
	ike_pfkey_input(h.b.core, junk, sizeof(junk), h.now);
	assert_int_equal(stats(&h.b).nat_mappings_ignored, 3);
	/* The inbound SA's own: followed. */
	send_mapping(&h, &h.b, cb->spi_in, A_NAT, 31000);
	assert_int_equal(h_first_sa(&h.b)->remote.port, 31000);
	assert_sas_at(&h, 31000);
	assert_int_equal(stats(&h.b).nat_mappings, 1);
	h_free(&h);
}

/* --- transport mode across the peer's NAT (L2TP/IPsec server) ------------------------ */

static void l2tp_confs(void)
{
	snprintf(conf_a, sizeof(conf_a),
		 "connections {\n  l2tp {\n    version = 1\n"
		 "    local_addrs = 192.0.2.1\n    remote_addrs = 198.51.100.2\n"
		 "    proposals = aes128-sha1-modp2048\n"
		 "    local {\n      auth = psk\n      id = 192.0.2.1\n    }\n"
		 "    remote {\n      auth = psk\n    }\n"
		 "    children {\n      l2tp {\n        mode = transport\n"
		 "        local_ts = dynamic[udp/1701]\n        remote_ts = dynamic[udp/1701]\n"
		 "        esp_proposals = aes128-sha1\n      }\n    }\n  }\n}\n"
		 "secrets {\n  ike-l2tp {\n    secret = l2tp-s3cret\n  }\n}\n");
	snprintf(conf_b, sizeof(conf_b),
		 "connections {\n  l2tp {\n    version = 1\n"
		 "    remote_addrs = %%any\n"
		 "    proposals = aes128-sha1-modp2048\n"
		 "    local {\n      auth = psk\n    }\n"
		 "    remote {\n      auth = psk\n    }\n"
		 "    children {\n      l2tp {\n        mode = transport\n"
		 "        local_ts = dynamic[udp/1701]\n        remote_ts = dynamic[udp/1701]\n"
		 "        esp_proposals = aes128-sha1\n"
		 "      }\n    }\n  }\n}\n"
		 "secrets {\n  ike-l2tp {\n    secret = l2tp-s3cret\n  }\n}\n");
}

/* b's policies whose remote side is A_NAT[udp/port], either direction. */
static int policies_to(struct harness *h, uint16_t port)
{
	char want[64], s[SELECTOR_STRLEN];
	int n = 0;
	snprintf(want, sizeof(want), A_NAT "/32[udp/%u]", port);
	for (int i = 0; i < h->b.n_policies; i++) {
		const struct pfkey_policy *p = &h->b.pols[i];
		const struct selector *r = p->dir == IPSEC_DIR_OUTBOUND ? &p->dst : &p->src;
		n += strcmp(selector_fmt(r, s, sizeof(s)), want) == 0;
	}
	return n;
}

/* The server's transport-mode policies name the client's NAT-T port in place of its
 * 1701. The client's NAT moves that port: the old policies (port 4500) go, new ones
 * (the new port) come, once for the reqid the CHILD_SA shares with its renewal; the
 * SAs map 1701 to the new port. Before the fix only tunnel-mode policies followed, and
 * only an address move. */
static void test_l2tp_rebind_replaces_policies(void **state)
{
	(void)state;
	struct harness h;
	char err[128];
	l2tp_confs();
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(addr_parse(A_NAT, &h.a.seen), 0);
	assert_int_equal(ike_initiate(h.a.core, "l2tp", "l2tp", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 1);
	/* a renewal: two CHILD_SAs of one reqid on b */
	struct ike_sa *sa = first(&h.a);
	ike_sa_queue(sa, TASK_CHILD_REKEY, NULL, sa->children->uniqueid);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 2);
	const struct ike_sa *sb = h_first_sa(&h.b);
	assert_int_equal(sb->children->reqid, sb->children->next->reqid);
	assert_int_equal(policies_to(&h, 4500), 2);
	int pols = h.b.n_policies, adds = h.b.spd_adds, dels = h.b.spd_deletes;

	h.a.seen_natt_port = 31000;
	ike_sa_queue(sa, TASK_DPD, NULL, 0);
	h_pump(&h);
	assert_int_equal(sb->remote.port, 31000);
	assert_int_equal(policies_to(&h, 4500), 0);
	assert_int_equal(policies_to(&h, 31000), 2);
	assert_int_equal(h.b.n_policies, pols);
	assert_int_equal(h.b.spd_deletes - dels, 2);	/* in and out, once */
	assert_int_equal(h.b.spd_adds - adds, 2);
	for (const struct child_sa *c = sb->children; c; c = c->next) {
		for (int i = 0; i < 2; i++) {
			const struct pfkey_sa *p = h_find_sa(&h.b, i ? c->spi_out : c->spi_in);
			assert_non_null(p);
			assert_int_equal(p->natt_oa.port, 1701);
			assert_int_equal((i ? &p->sel_dst[0] : &p->sel_src[0])->port_lo, 31000);
		}
	}
	h_free(&h);
}

/* Transport mode with the peer's own address as its selector: when the address moves,
 * the selectors, the policies and the SAs' selectors move with it. */
static void test_transport_address_move(void **state)
{
	(void)state;
	struct harness h;
	char err[128], s[SELECTOR_STRLEN];
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "", "", "transport");
	subst(conf_b, sizeof(conf_b), "remote_addrs = 192.0.2.1", "remote_addrs = %any");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(addr_parse(A_NAT, &h.a.seen), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	const struct ike_sa *sb = h_first_sa(&h.b);
	assert_non_null(sb);
	assert_int_equal(h_count_children(&h.b), 1);
	const struct child_sa *cb = sb->children;
	assert_string_equal(selector_fmt(&cb->remote_ts[0], s, sizeof(s)), A_NAT "/32");
	assert_int_equal(addr_parse("203.0.113.9", &h.a.seen), 0);
	ike_sa_queue(first(&h.a), TASK_DPD, NULL, 0);
	h_pump(&h);
	assert_string_equal(addr_ntop(&sb->remote, s, sizeof(s)), "203.0.113.9");
	assert_string_equal(selector_fmt(&cb->remote_ts[0], s, sizeof(s)), "203.0.113.9/32");
	for (int i = 0; i < h.b.n_policies; i++) {
		const struct pfkey_policy *p = &h.b.pols[i];
		const struct selector *r = p->dir == IPSEC_DIR_OUTBOUND ? &p->dst : &p->src;
		assert_string_equal(selector_fmt(r, s, sizeof(s)), "203.0.113.9/32");
	}
	const struct pfkey_sa *in = h_find_sa(&h.b, cb->spi_in);
	assert_string_equal(selector_fmt(&in->sel_src[0], s, sizeof(s)), "203.0.113.9/32");
	h_free(&h);
}

int main(void)
{
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_dpd_new_port),
		cmocka_unit_test(test_v1_quick_mode_new_port),
		cmocka_unit_test(test_v1_no_natt_not_followed),
		cmocka_unit_test(test_new_mapping_moves_sa),
		cmocka_unit_test(test_new_mapping_ignored),
		cmocka_unit_test(test_l2tp_rebind_replaces_policies),
		cmocka_unit_test(test_transport_address_move),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
