/* L2TP/IPsec as the Windows and macOS built-in clients do it: IKEv1 Main Mode with a
 * PSK, NAT-T, and a Quick Mode for a transport-mode SA carrying UDP 1701, whose
 * selectors are the client's private address and the server's public one. Here
 * tsunagi plays both: a is the client behind a masquerading NAT, b the server
 * (remote_addrs = %any, dynamic[udp/1701] both sides) behind a static NAT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

#define CLIENT_NAT "203.0.113.7"	/* what b sees of a */
#define SERVER_PUB "198.18.0.2"		/* what a dials; b is 198.51.100.2 behind it */

static char conf_a[2048], conf_b[2048];

static void l2tp_confs(const char *esp)
{
	snprintf(conf_a, sizeof(conf_a),
		 "connections {\n  l2tp {\n    version = 1\n"
		 "    local_addrs = 192.0.2.1\n    remote_addrs = " SERVER_PUB "\n"
		 "    proposals = aes128-sha1-modp2048\n"
		 "    local {\n      auth = psk\n      id = 192.0.2.1\n    }\n"
		 "    remote {\n      auth = psk\n    }\n"
		 "    children {\n      l2tp {\n        mode = transport\n"
		 "        local_ts = dynamic[udp/1701]\n        remote_ts = dynamic[udp/1701]\n"
		 "        esp_proposals = %s\n      }\n    }\n  }\n}\n"
		 "secrets {\n  ike-l2tp {\n    secret = l2tp-s3cret\n  }\n}\n", esp);
	snprintf(conf_b, sizeof(conf_b),
		 "connections {\n  l2tp {\n    version = 1\n"
		 "    remote_addrs = %%any\n"
		 "    proposals = aes128-sha1-modp2048, aes256-sha1-modp1024, 3des-sha1-modp1024\n"
		 "    local {\n      auth = psk\n    }\n"
		 "    remote {\n      auth = psk\n    }\n"
		 "    children {\n      l2tp {\n        mode = transport\n"
		 "        local_ts = dynamic[udp/1701]\n        remote_ts = dynamic[udp/1701]\n"
		 "        esp_proposals = aes128-sha1, aes256-sha1, 3des-sha1\n"
		 "      }\n    }\n  }\n}\n"
		 "secrets {\n  ike-l2tp {\n    secret = l2tp-s3cret\n  }\n}\n");
}

static void behind_nats(struct harness *h)
{
	assert_int_equal(addr_parse(CLIENT_NAT, &h->a.seen), 0);
	assert_int_equal(addr_parse(SERVER_PUB, &h->b.seen), 0);
}

static const char *sel(const struct selector *s, char *out)
{
	return selector_fmt(s, out, SELECTOR_STRLEN);
}

/* The server takes the client's private selector and installs the SA for the
 * addresses it sees; both ends have a transport-mode SA in UDP. */
static void test_l2tp_behind_nats(void **state)
{
	(void)state;
	struct harness h;
	char s[SELECTOR_STRLEN], err[256];
	l2tp_confs("aes128-sha1");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	behind_nats(&h);
	assert_int_equal(ike_initiate(h.a.core, "l2tp", "l2tp", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	const struct ike_sa *sa = h_first_sa(&h.a), *sb = h_first_sa(&h.b);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_true(sa->nat_here);
	assert_true(sb->nat_here && sb->nat_there);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	const struct child_sa *ca = sa->children, *cb = sb->children;
	assert_int_equal(ca->mode, MODE_TRANSPORT);
	assert_int_equal(cb->mode, MODE_TRANSPORT);
	assert_true(ca->encap && cb->encap);
	/* the client's view: its own address and the server's public one */
	assert_string_equal(sel(&ca->local_ts[0], s), "192.0.2.1/32[udp/1701]");
	assert_string_equal(sel(&ca->remote_ts[0], s), SERVER_PUB "/32[udp/1701]");
	/* the server's: its own address and the client's NAT */
	assert_string_equal(sel(&cb->local_ts[0], s), "198.51.100.2/32[udp/1701]");
	assert_string_equal(sel(&cb->remote_ts[0], s), CLIENT_NAT "/32[udp/1701]");
	/* The policies name the client's NAT-T port in place of its 1701, which its SAs
	 * carry (NAT-T OA port), so that clients behind one NAT stay apart; and the
	 * child has a reqid of its own, not the config's. */
	bool out = false, in = false;
	for (int i = 0; i < h.b.n_policies; i++) {
		const struct pfkey_policy *p = &h.b.pols[i];
		char a[SELECTOR_STRLEN], b[SELECTOR_STRLEN];
		sel(&p->src, a);
		sel(&p->dst, b);
		out |= strcmp(a, "198.51.100.2/32[udp/1701]") == 0 &&
		       strcmp(b, CLIENT_NAT "/32[udp/4500]") == 0 && p->reqid == cb->reqid;
		in |= strcmp(b, "198.51.100.2/32[udp/1701]") == 0 &&
		      strcmp(a, CLIENT_NAT "/32[udp/4500]") == 0 && p->reqid == cb->reqid;
	}
	assert_true(out && in);
	assert_true(cb->nat_reqid);
	assert_int_not_equal(cb->reqid, cb->cfg->reqid);
	for (int i = 0; i < 2; i++) {
		const struct pfkey_sa *p = h_find_sa(&h.b, i ? cb->spi_out : cb->spi_in);
		assert_non_null(p);
		assert_int_equal(p->mode, IPSEC_MODE_TRANSPORT);
		assert_int_equal(p->natt_type, UDP_ENCAP_ESPINUDP);
		assert_int_equal(p->natt_oa.port, 1701);
		assert_int_equal(p->reqid, cb->reqid);
		/* the SA's own selectors name the NAT-T port for the client too */
		const struct selector *peer = i ? &p->sel_dst[0] : &p->sel_src[0];
		assert_int_equal(peer->port_lo, 4500);
	}
	/* the client is not behind the server's NAT: nothing mapped on its side */
	assert_int_equal(h_find_sa(&h.a, ca->spi_out)->natt_oa.port, 0);
	assert_false(ca->nat_reqid);
	h_free(&h);
}

/* A client asking for selectors that are neither its own address nor one a NAT
 * changed still gets INVALID-ID-INFORMATION: the NAT rule only maps host selectors
 * for addresses we see through a NAT. */
static void test_l2tp_other_port_refused(void **state)
{
	(void)state;
	struct harness h;
	char err[256];
	l2tp_confs("aes128-sha1");
	/* the client asks for UDP 1702 */
	char *p = strstr(conf_a, "local_ts = dynamic[udp/1701]");
	assert_non_null(p);
	memcpy(p + strlen("local_ts = dynamic[udp/170"), "2", 1);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	behind_nats(&h);
	assert_int_equal(ike_initiate(h.a.core, "l2tp", "l2tp", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 0);
	h_free(&h);
}

/* Without NATs the selectors are the addresses themselves, as before. */
static void test_l2tp_no_nat(void **state)
{
	(void)state;
	struct harness h;
	char s[SELECTOR_STRLEN], err[256];
	l2tp_confs("aes128-sha1");
	char *p = strstr(conf_a, SERVER_PUB);
	assert_non_null(p);
	memcpy(p, "198.51.100.2", strlen("198.51.100.2"));	/* same length */
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "l2tp", "l2tp", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 1);
	const struct child_sa *cb = h_first_sa(&h.b)->children;
	assert_false(cb->encap);
	assert_string_equal(sel(&cb->remote_ts[0], s), "192.0.2.1/32[udp/1701]");
	h_free(&h);
}

/* 3DES, the old clients' fallback, where both name it. */
static void test_l2tp_3des(void **state)
{
	(void)state;
	struct harness h;
	char err[256];
	l2tp_confs("3des-sha1");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	behind_nats(&h);
	assert_int_equal(ike_initiate(h.a.core, "l2tp", "l2tp", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_int_equal(proposal_get(h_first_sa(&h.b)->children->prop, XF_ENCR)->id, ENCR_3DES);
	h_free(&h);
}

int main(void)
{
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_l2tp_behind_nats),
		cmocka_unit_test(test_l2tp_other_port_refused),
		cmocka_unit_test(test_l2tp_no_nat),
		cmocka_unit_test(test_l2tp_3des),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
