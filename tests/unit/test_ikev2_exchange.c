/* In-process IKEv2 exchanges: two tsunagi IKE cores talk to each other through a mock
 * wire, with a mock clock and a PF_KEY recorder in place of the ESP engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/parser.h"
#include "ike/ike_private.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

static char conf_a[2048], conf_b[2048];

static void make_conf(char *out, size_t len, const char *local, const char *remote,
		      const char *lnet, const char *rnet, const char *ike, const char *esp,
		      const char *psk, const char *extra, const char *child_extra)
{
	snprintf(out, len,
		 "connections {\n"
		 "  site {\n"
		 "    local_addrs = %s\n"
		 "    remote_addrs = %s\n"
		 "    proposals = %s\n"
		 "%s"
		 "    local {\n      auth = psk\n      id = %s\n    }\n"
		 "    remote {\n      auth = psk\n      id = %s\n    }\n"
		 "    children {\n"
		 "      net {\n"
		 "        local_ts = %s\n"
		 "        remote_ts = %s\n"
		 "        esp_proposals = %s\n"
		 "%s"
		 "      }\n"
		 "    }\n"
		 "  }\n"
		 "}\n"
		 "secrets {\n"
		 "  ike-site {\n    id-a = 192.0.2.1\n    id-b = 198.51.100.2\n    secret = %s\n  }\n"
		 "}\n",
		 local, remote, ike, extra, local, remote, lnet, rnet, esp, child_extra, psk);
}

static void confs(const char *ike_a, const char *ike_b, const char *esp_a, const char *esp_b,
		  const char *psk_b, const char *extra, const char *child_extra)
{
	make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", "10.1.0.0/24",
		  "10.2.0.0/24", ike_a, esp_a, "s3cret-key", extra, child_extra);
	make_conf(conf_b, sizeof(conf_b), "198.51.100.2", "192.0.2.1", "10.2.0.0/24",
		  "10.1.0.0/24", ike_b, esp_b, psk_b, extra, child_extra);
}

static void establish(struct harness *h)
{
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
}

/* The two ends installed mirrored SAs with the same keys. */
static void assert_child_pair(struct harness *h)
{
	const struct ike_sa *sa = h_first_sa(&h->a), *sb = h_first_sa(&h->b);
	assert_non_null(sa);
	assert_non_null(sb);
	const struct child_sa *ca = sa->children, *cb = sb->children;
	assert_non_null(ca);
	assert_non_null(cb);
	assert_int_equal(ca->spi_out, cb->spi_in);
	assert_int_equal(ca->spi_in, cb->spi_out);
	const struct pfkey_sa *a_out = h_find_sa(&h->a, ca->spi_out);
	const struct pfkey_sa *b_in = h_find_sa(&h->b, cb->spi_in);
	assert_non_null(a_out);
	assert_non_null(b_in);
	assert_int_equal(a_out->ekey_len, b_in->ekey_len);
	assert_memory_equal(a_out->ekey, b_in->ekey, a_out->ekey_len);
	assert_int_equal(a_out->akey_len, b_in->akey_len);
	assert_memory_equal(a_out->akey, b_in->akey, a_out->akey_len);
	const struct pfkey_sa *a_in = h_find_sa(&h->a, ca->spi_in);
	assert_non_null(a_in);
	/* Each direction has its own keys. */
	assert_memory_not_equal(a_in->ekey, a_out->ekey, a_out->ekey_len);
}

/* The default pair (AES-GCM, Curve25519, one child), established. */
static void up_default(struct harness *h)
{
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(h, conf_a, conf_b), 0);
	establish(h);
}

static void test_establish_aead(void **state)
{
	struct harness h;
	up_default(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_child_pair(&h);
	const struct child_sa *c = h_first_sa(&h.b)->children;
	char s[SELECTOR_STRLEN];
	assert_string_equal(selector_fmt(&c->local_ts[0], s, sizeof(s)), "10.2.0.0/24");
	assert_string_equal(selector_fmt(&c->remote_ts[0], s, sizeof(s)), "10.1.0.0/24");
	assert_int_equal(h.a.n_policies, 2);
	/* No NAT between them: neither side may think so (NAT-D of the request is
	 * hashed with a zero responder SPI). */
	assert_false(h_first_sa(&h.a)->nat_here);
	assert_false(h_first_sa(&h.a)->nat_there);
	assert_false(h_first_sa(&h.b)->nat_here);
	assert_false(h_first_sa(&h.b)->nat_there);
	assert_false(h_first_sa(&h.b)->natt);
	h_free(&h);
}

/* What an established SA keeps is sized to what was negotiated (memory per IKE SA,
 * issue 8): a CHILD_SA's selectors are a block of their count, and a rekey carries
 * them over. */
static void test_established_sa_is_trimmed(void **state)
{
	struct harness h;
	char err[128], s[SELECTOR_STRLEN];
	/* no room for IKEV2_MAX_TS selectors a side nor a 256-byte collision nonce in a
	 * child, nor for a collision nonce, an error text, 256-byte nonces or 256-byte
	 * identities in an IKE SA, nor for 48 transforms in the chosen proposal of
	 * either: they are allocated to their length when there is something to keep */
	assert_true(sizeof(struct child_sa) < 300);
	assert_true(sizeof(struct ike_sa) < 1024);
	up_default(&h);
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	for (int side = 0; side < 2; side++) {
		const struct child_sa *c = h_first_sa(side ? &h.b : &h.a)->children;
		assert_non_null(c);
		assert_int_equal(c->n_local_ts, 1);
		assert_int_equal(c->n_remote_ts, 1);
		assert_string_equal(selector_fmt(&c->local_ts[0], s, sizeof(s)),
				    side ? "10.2.0.0/24" : "10.1.0.0/24");
		assert_string_equal(selector_fmt(&c->remote_ts[0], s, sizeof(s)),
				    side ? "10.1.0.0/24" : "10.2.0.0/24");
	}
	h_free(&h);
}

/* b's answer to a's DPD is lost: a retransmits and b answers from its cache. */
static void assert_lost_dpd_answer_resent(struct harness *h)
{
	h->b.drop_next = 1;
	struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h->a);
	ike_sa_queue(sa, TASK_DPD, NULL, 0);
	h_pump(h);
	assert_int_equal(sa->req.kind, TASK_DPD);
	h_advance(h, 5000);
	assert_int_equal(sa->req.kind, TASK_NONE);
	assert_int_equal(h_count_sas(&h->a, IKE_ESTABLISHED), 1);
}

/* An authenticated SA keeps neither nonce nor IKE_SA_INIT message (memory per IKE SA,
 * issue 8); a rekey of either kind, started by either end, brings its own nonces, and a
 * lost answer is still resent from the cache. */
static void assert_no_negotiation_left(struct harness *h)
{
	for (int side = 0; side < 2; side++) {
		const struct ike_sa *sa = h_first_sa(side ? &h->b : &h->a);
		assert_non_null(sa);
		assert_null(sa->ni);
		assert_null(sa->nr);
		assert_int_equal(sa->ni_len + sa->nr_len, 0);
		assert_null(sa->init);
	}
}

static void test_established_sa_drops_negotiation(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	assert_no_negotiation_left(&h);
	/* CHILD_SA rekeys: a, then b (the responder of IKE_AUTH) starts one. */
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_child_pair(&h);
	assert_int_equal(ike_rekey(h.b.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_child_pair(&h);
	assert_int_equal(h.a.child_rekeys, 2);
	/* IKE SA rekeys started by b, then by a: the new SAs work and keep no nonces. */
	assert_int_equal(ike_rekey(h.b.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(ike_rekey(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h.a.ike_rekeys, 2);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_no_negotiation_left(&h);
	assert_int_equal(ike_rekey(h.b.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_child_pair(&h);
	/* b's answer to a DPD is lost: a retransmits, b answers from its cache. */
	assert_lost_dpd_answer_resent(&h);
	h_free(&h);
}

static void test_reset_stats_keeps_gauges(void **state)
{
	struct harness h;
	struct ike_stats st;
	up_default(&h);
	ike_get_stats(h.a.core, &st);
	assert_true(st.tx_messages >= 2);
	assert_int_equal(st.ike_sas, 1);
	ike_reset_stats(h.a.core);
	ike_get_stats(h.a.core, &st);
	assert_int_equal(st.tx_messages, 0);
	assert_int_equal(st.rx_messages, 0);
	assert_int_equal(st.established_total, 0);
	assert_int_equal(st.ike_sas, 1);
	assert_int_equal(st.child_sas, 1);
	h_free(&h);
}

/* encap = yes: fake NAT-D makes the peer see a NAT, the SA floats to 4500, ESP is
 * UDP-encapsulated, and the side that forced it sends keepalives every 20 s. */
static void test_encap_forces_natt(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "    encap = yes\n", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	const struct ike_sa *sa = h_first_sa(&h.a), *sb = h_first_sa(&h.b);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_true(sa->natt);
	assert_true(sb->natt);
	assert_int_equal(sa->local.port, 4500);
	assert_int_equal(sa->remote.port, 4500);
	assert_true(sa->children->encap);
	const struct pfkey_sa *out = h_find_sa(&h.a, sa->children->spi_out);
	assert_int_equal(out->natt_type, UDP_ENCAP_ESPINUDP);
	assert_int_equal(out->natt_sport, 4500);
	assert_int_equal(out->natt_dport, 4500);
	assert_child_pair(&h);
	h_advance(&h, 21000);
	assert_true(h.a.keepalives >= 1);
	assert_true(h.a.keepalives <= 2);
	h_free(&h);
}

/* The ESP engine's EXPIRE: soft asks for a rekey, hard means the SA is gone. */
static void send_expire(struct harness *h, struct h_peer *p, uint32_t spi, bool hard)
{
	struct pfkey_sa psa = *h_find_sa(p, spi);
	struct buf msg;
	buf_init(&msg);
	psa.has_current = true;
	psa.current.bytes = 1000;
	psa.has_hard = psa.has_soft = true;
	pfkey_build_expire(&msg, &psa, hard);
	ike_pfkey_input(p->core, msg.data, msg.len, h->now);
	buf_wipe_free(&msg);
	h_pump(h);
}

static void test_expire_soft_rekeys_hard_deletes(void **state)
{
	struct harness h;
	up_default(&h);
	uint32_t spi = h_first_sa(&h.a)->children->spi_in;
	send_expire(&h, &h.a, spi, false);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_not_equal(h_first_sa(&h.a)->children->spi_in, spi);
	assert_child_pair(&h);
	spi = h_first_sa(&h.a)->children->spi_out;
	send_expire(&h, &h.a, spi, true);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(h_count_children(&h.b), 0);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	h_free(&h);
}

/* A second IKE SA from the same peer identity, per unique policy at the responder. */
static int second_sa(const char *unique)
{
	struct harness h;
	char extra[64], err[128];
	snprintf(extra, sizeof(extra), "    unique = %s\n", unique);
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", extra, "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	/* a starts another IKE SA as if it had forgotten the first (new SA object). */
	struct ike_sa *first = (struct ike_sa *)h_first_sa(&h.a);
	ike_sa_set_state(first, IKE_PASSIVE);	/* not "established", so a starts anew */
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	ike_sa_set_state(first, IKE_ESTABLISHED);
	h_pump(&h);
	int n = h_count_sas(&h.b, IKE_ESTABLISHED);
	h_free(&h);
	return n;
}

static void test_unique_policies(void **state)
{
	/* INITIAL_CONTACT is sent only when a has no other SA with b: here it has one,
	 * so "no" keeps both, "replace" drops the old, "keep" rejects the new. */
	assert_int_equal(second_sa("no"), 2);
	assert_int_equal(second_sa("never"), 2);
	assert_int_equal(second_sa("replace"), 1);
	assert_int_equal(second_sa("keep"), 1);
}

static void test_establish_cbc_modp(void **state)
{
	struct harness h;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha256",
	      "aes128-sha256", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_child_pair(&h);
	const struct pfkey_sa *p = h_find_sa(&h.a, h_first_sa(&h.a)->children->spi_out);
	assert_int_equal(p->ekey_len, 16);
	assert_int_equal(p->akey_len, 32);
	h_free(&h);
}

static void test_wrong_psk(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "another-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.auth_failures, 1);
	ike_get_stats(h.a.core, &st);
	assert_int_equal(st.auth_failures, 1);
	assert_int_equal(h.a.n_sas, 0);
	h_free(&h);
}

static void test_ike_proposal_mismatch(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes128-sha1-modp2048", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	/* The unauthenticated NO_PROPOSAL_CHOSEN ends a's SA at its retransmission
	 * timeout (RFC 7296 2.21), see test_init_error_notify_keeps_waiting. */
	h_advance(&h, 60000);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	h_free(&h);
}

static void test_child_proposal_mismatch_keeps_ike(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes128-sha1", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	/* RFC 7296 1.2: the IKE SA stands, no CHILD_SA is created. */
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(h_count_children(&h.b), 0);
	h_free(&h);
}

static void test_invalid_ke_retry(void **state)
{
	struct harness h;
	/* a sends MODP 2048 first; b only takes Curve25519 and asks for it. */
	confs("aes256gcm16-prfsha256-modp2048-x25519", "aes256gcm16-prfsha256-x25519",
	      "aes256gcm16", "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	const struct xform *dh = proposal_get(h_first_sa(&h.a)->prop, XF_DH);
	assert_non_null(dh);
	assert_int_equal(dh->id, DH_CURVE25519);
	assert_child_pair(&h);
	h_free(&h);
}

static void test_retransmit_lost_init(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.a.drop_next = 1;
	establish(&h);
	assert_null(h_first_sa(&h.b));
	h_advance(&h, 5000);	/* first retransmit after 4 s */
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	struct ike_stats st;
	ike_get_stats(h.a.core, &st);
	assert_true(st.retransmits >= 1);
	h_free(&h);
}

static void test_lost_response_answered_from_cache(void **state)
{
	struct harness h;
	up_default(&h);
	assert_child_pair(&h);
	/* Lose b's answer to a's liveness check: a retransmits, b answers from its cache
	 * without processing the request twice. */
	assert_lost_dpd_answer_resent(&h);
	h_free(&h);
}

static void test_child_rekey(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	uint32_t old_in = h_first_sa(&h.a)->children->spi_in;
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_int_not_equal(h_first_sa(&h.a)->children->spi_in, old_in);
	assert_null(h_find_sa(&h.a, old_in));	/* deleted from the engine */
	assert_child_pair(&h);
	/* Policies stay in place across the rekey (make-before-break). */
	assert_int_equal(h.a.n_policies, 2);
	assert_int_equal(h.b.n_policies, 2);
	/* Both ends report it as a rekey (VICI child-rekey). */
	assert_int_equal(h.a.child_rekeys, 1);
	assert_int_equal(h.b.child_rekeys, 1);
	h_free(&h);
}

/* b answers a's rekey: b keeps sending on the old SA until a's DELETE for it arrives
 * (a installs the new SAs only when b's answer reaches it). */
static void test_rekey_responder_defers_outbound(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	uint32_t old_out = h_first_sa(&h.b)->children->spi_out;
	h.a.drop_next = 0;
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	/* Deliver only a's request: b answers, a has not seen the answer yet. */
	struct h_wire_msg w = h.wire[0];
	h.n_wire = 0;
	ike_input(h.b.core, &w.local, &w.remote, w.data, w.len, h.now);
	const struct child_sa *c;
	uint32_t new_out = 0;
	for (c = h_first_sa(&h.b)->children; c; c = c->next)
		if (c->spi_out != old_out)
			new_out = c->spi_out;
	assert_int_not_equal(new_out, 0);
	assert_null(h_find_sa(&h.b, new_out));		/* not in the engine yet */
	assert_non_null(h_find_sa(&h.b, old_out));
	h_pump(&h);					/* answer, then a's DELETE */
	assert_non_null(h_find_sa(&h.b, new_out));
	assert_null(h_find_sa(&h.b, old_out));
	assert_child_pair(&h);
	h_free(&h);
}

static void test_child_rekey_pfs(void **state)
{
	struct harness h;
	char err[128];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519",
	      "aes256gcm16-ecp256", "aes256gcm16-ecp256", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	const struct child_sa *c = h_first_sa(&h.a)->children;
	assert_non_null(c);
	assert_null(c->next);
	assert_int_equal(c->pfs_group, DH_ECP256);
	assert_child_pair(&h);
	h_free(&h);
}

/* PFS as configured in the chosen proposal, not anywhere in the list: with
 * "aes256gcm16, aes128gcm16-ecp256" the first proposal wins and needs no KE. */
static void test_child_rekey_mixed_pfs_list(void **state)
{
	struct harness h;
	char err[128];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519",
	      "aes256gcm16, aes128gcm16-ecp256", "aes256gcm16, aes128gcm16-ecp256", "s3cret-key",
	      "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_int_equal(h_first_sa(&h.a)->children->pfs_group, DH_NONE);
	assert_child_pair(&h);
	h_free(&h);
}

/* PFS required on one side only: the rekey fails, the old CHILD_SA stays. */
static void test_pfs_mismatch_keeps_old_child(void **state)
{
	struct harness h;
	char err[128];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16-ecp256", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	/* IKE_AUTH's child has no DH either way, so it is up. */
	assert_int_equal(h_count_children(&h.a), 1);
	uint32_t spi = h_first_sa(&h.a)->children->spi_in;
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_first_sa(&h.a)->children->spi_in, spi);
	assert_int_equal(h_first_sa(&h.a)->children->state, CHILD_INSTALLED);
	assert_child_pair(&h);
	h_free(&h);
}

static void test_ike_rekey_keeps_children(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	uint32_t old_id = h_first_sa(&h.a)->uniqueid;
	uint32_t spi_in = h_first_sa(&h.a)->children->spi_in;
	assert_int_equal(ike_rekey(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_null(ike_sa_next(h_first_sa(&h.a)));
	assert_int_not_equal(h_first_sa(&h.a)->uniqueid, old_id);
	assert_int_equal(h_first_sa(&h.a)->children->spi_in, spi_in);
	assert_non_null(h_find_sa(&h.a, spi_in));
	assert_int_equal(h.a.ike_rekeys, 1);
	assert_int_equal(h.b.ike_rekeys, 1);
	/* The new SA works: a child rekey over it succeeds. */
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_child_pair(&h);
	h_free(&h);
}

/* A reload must not start a second copy of a start_action=start child. */
static void test_reload_does_not_duplicate(void **state)
{
	struct harness h;
	char err[512];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "        start_action = start\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);	/* a starts it on load */
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	for (int i = 0; i < 2; i++) {
		struct ctree *t = conf_parse_string(conf_a, "a.conf", err, sizeof(err));
		struct config *cfg = config_build(t, err, sizeof(err));
		ctree_free(t);
		assert_non_null(cfg);
		ike_load_config(h.a.core, cfg, h.now);
		h_pump(&h);
	}
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	h_free(&h);
}

/* Both ends rekey the same CHILD_SA at once: one new SA survives on both sides, the
 * redundant one and the old one are deleted, no SA is lost (RFC 7296 2.8.1). */
static void test_child_rekey_collision(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	uint32_t old_a = h_first_sa(&h.a)->children->spi_in;
	for (int round = 0; round < 4; round++) {
		assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
		assert_int_equal(ike_rekey(h.b.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
		h_pump(&h);
		h_advance(&h, 2000);
		assert_int_equal(h_count_children(&h.a), 1);
		assert_int_equal(h_count_children(&h.b), 1);
		assert_child_pair(&h);
		assert_int_equal(h_first_sa(&h.a)->children->state, CHILD_INSTALLED);
		assert_int_equal(h_first_sa(&h.b)->children->state, CHILD_INSTALLED);
		assert_int_not_equal(h_first_sa(&h.a)->children->spi_in, old_a);
		assert_null(h_find_sa(&h.a, old_a));
		old_a = h_first_sa(&h.a)->children->spi_in;
		assert_int_equal(h.a.n_policies, 2);
	}
	h_free(&h);
}

/* Both ends rekey the IKE SA at once: exactly one IKE SA survives, with the child. */
static void test_ike_rekey_collision(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	/* Nonces are random: several rounds let either side win. */
	for (int round = 0; round < 6; round++) {
		assert_int_equal(ike_rekey(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
		assert_int_equal(ike_rekey(h.b.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
		h_pump(&h);
		/* RFC 7296 2.8.2: both rekeys complete, one new SA is deleted as redundant,
		 * the old one by the winner: one IKE SA left at once, with the CHILD_SA. */
		assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
		assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
		assert_null(ike_sa_next(h_first_sa(&h.a)));
		assert_null(ike_sa_next(h_first_sa(&h.b)));
		assert_int_equal(h_count_children(&h.a), 1);
		assert_int_equal(h_count_children(&h.b), 1);
		assert_child_pair(&h);
		/* Both ended on the same new SA. */
		assert_memory_equal(h_first_sa(&h.a)->spi_i, h_first_sa(&h.b)->spi_i, 8);
		assert_memory_equal(h_first_sa(&h.a)->spi_r, h_first_sa(&h.b)->spi_r, 8);
	}
	h_free(&h);
}

/* remote_addrs lists a dead peer first: after its retransmits, the backup answers. */
static void test_backup_peer(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	char *p = strstr(conf_a, "remote_addrs = 198.51.100.2");
	assert_non_null(p);
	char tail[2048];
	snprintf(tail, sizeof(tail), "remote_addrs = 203.0.113.77, 198.51.100.2%s",
		 p + strlen("remote_addrs = 198.51.100.2"));
	strcpy(p, tail);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_null(h_first_sa(&h.b));
	/* 3 retransmits: 4 + 7.2 + 13 s, then a last wait of 23.3 s. */
	h_advance(&h, 4000 + 7200 + 12960 + 23328 + 1000);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	char s[ADDR_STRLEN];
	assert_string_equal(addr_ntop(&h_first_sa(&h.a)->remote, s, sizeof(s)), "198.51.100.2");
	assert_child_pair(&h);
	h_free(&h);
}

/* Under half-open load the responder answers COOKIE and keeps no state; the
 * initiator retries with the cookie and gets through. */
static void test_cookie_under_load(void **state)
{
	struct harness h;
	h_cookie_threshold = 0;
	up_default(&h);
	h_cookie_threshold = 30;
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.cookies_sent, 1);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_child_pair(&h);
	/* A request with a wrong cookie creates nothing. */
	const struct ike_sa *sa = h_first_sa(&h.b);
	assert_null(ike_sa_next(sa));
	h_free(&h);
}

/* a rekeys the CHILD_SA while b rekeys the IKE SA: b's IKE rekey waits (TEMPORARY_FAILURE,
 * RFC 7296 2.25.2), no child is stranded, policies stay, and b's retry succeeds. */
static void test_child_rekey_crossing_ike_rekey(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	uint32_t old_id = h_first_sa(&h.b)->uniqueid;
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	assert_int_equal(ike_rekey(h.b.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_int_equal(h_first_sa(&h.a)->children->state, CHILD_INSTALLED);
	assert_child_pair(&h);
	assert_int_equal(h.a.n_policies, 2);
	assert_int_equal(h.b.n_policies, 2);
	h_advance(&h, 31000);	/* b retries its IKE rekey */
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_null(ike_sa_next(h_first_sa(&h.b)));
	assert_int_not_equal(h_first_sa(&h.b)->uniqueid, old_id);
	assert_child_pair(&h);
	assert_int_equal(h.a.n_policies, 2);
	h_free(&h);
}

/* A CHILD_SA rekey that falls due while the IKE SA is being rekeyed happens on the
 * new IKE SA: the task is not lost with the old one. */
static void test_child_task_survives_ike_rekey(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h.a);
	uint32_t spi = sa->children->spi_in;
	assert_int_equal(ike_rekey(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	/* queued behind the outstanding IKE rekey */
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 1000);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_not_equal(h_first_sa(&h.a)->children->spi_in, spi);
	assert_child_pair(&h);
	h_free(&h);
}

/* Our own request reflected back to us is not taken as the peer's. */
static void test_reflected_request_dropped(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	struct h_wire_msg w = h.wire[0];
	uint32_t peer_msgid = h_first_sa(&h.a)->peer_msgid;
	ike_input(h.a.core, &w.remote, &w.local, w.data, w.len, h.now);	/* back to a */
	assert_int_equal(h_first_sa(&h.a)->peer_msgid, peer_msgid);
	h_pump(&h);
	assert_child_pair(&h);
	/* b's next request is still in window at a. */
	assert_int_equal(ike_rekey(h.b.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_child_pair(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	h_free(&h);
}

/* close_action=start acts when the peer closes, not when it deletes a rekeyed SA; and
 * a rekey is no "down" event. */
static void test_ike_rekey_is_no_close(void **state)
{
	struct harness h;
	char err[128];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "        close_action = start\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	int down_a = h.a.updown_down, down_b = h.b.updown_down;
	assert_int_equal(ike_rekey(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_int_equal(h.a.updown_down, down_a);
	assert_int_equal(h.b.updown_down, down_b);
	h_free(&h);
}

/* A rekeyed IKE SA whose DELETE never comes is dropped after a grace period. */
static void test_superseded_sa_dropped(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	assert_int_equal(ike_rekey(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	/* Deliver a's request and b's answer; lose a's DELETE of the old SA. */
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_null(ike_sa_next(h_first_sa(&h.b)));
	h_free(&h);
	up_default(&h);
	assert_int_equal(ike_rekey(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	struct h_wire_msg w = h.wire[0];
	h.n_wire = 0;
	ike_input(h.b.core, &w.local, &w.remote, w.data, w.len, h.now);	/* b answers */
	h.n_wire = 0;		/* the answer is lost: a never deletes the old SA */
	int n = 0;
	for (const struct ike_sa *sa = ike_sa_first(h.b.core); sa; sa = ike_sa_next(sa))
		n++;
	assert_int_equal(n, 2);
	h.a.drop_out = true;
	h_advance(&h, 31000);
	n = 0;
	for (const struct ike_sa *sa = ike_sa_first(h.b.core); sa; sa = ike_sa_next(sa))
		n++;
	assert_int_equal(n, 1);
	assert_int_equal(h_count_children(&h.b), 1);
	h_free(&h);
}

/* One address cannot hold more than 10 half-open SAs (each costs us a DH). */
static void test_half_open_per_peer_cap(void **state)
{
	struct harness h;
	char err[128];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	/* a's IKE_AUTH never reaches b: every attempt stays half-open there. */
	for (int i = 0; i < 15; i++) {
		assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
		struct h_wire_msg w = h.wire[0];
		h.n_wire = 0;
		ike_input(h.b.core, &w.local, &w.remote, w.data, w.len, h.now);
		h.n_wire = 0;
		struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h.a);
		ike_sa_destroy(sa);	/* a forgets it and tries anew */
		ike_tick(h.a.core, h.now);
	}
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.half_open, 10);
	assert_int_equal(st.half_open_refused, 5);
	h_free(&h);
}

static void test_dpd_detects_dead_peer(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "    dpd_delay = 10s\n", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	h.b.drop_out = true;	/* b dies */
	/* dpd_delay 10 s, then retransmits at 4, 7.2, 13 s and a last wait of 23 s. */
	h_advance(&h, 9000);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	h_advance(&h, 10000 + 4000 + 7200 + 13000 + 23400 + 2000);
	assert_null(h_first_sa(&h.a));
	assert_int_equal(h_count_children(&h.a), 0);
	h_free(&h);
}

/* dpd_action=restart: the SA made by the give-up must have its IKE_SA_INIT
 * retransmitted. The daemon sleeps until the time ike_tick() returns, so that time must
 * be finite (it was "never": the new SA was made during the pass and not visited). */
static void test_dpd_restart_schedules_retransmit(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "    dpd_delay = 10s\n    keyingtries = 0\n",
	      "        dpd_action = restart\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	h.b.drop_out = true;	/* b stops answering */
	/* Step exactly to each wake-up ike_tick() asks for, as the daemon does. */
	int restarted = 0;
	for (int i = 0; i < 20 && !restarted; i++) {
		ms_t next = ike_tick(h.a.core, h.now);
		h.n_wire = 0;
		restarted = h_count_sas(&h.a, IKE_CONNECTING) + h_count_sas(&h.a, IKE_CREATED);
		/* Never "never": first DPD and its retransmits, then the new SA's. */
		assert_true(next != MS_NEVER);
		if (restarted)
			assert_true(next <= h.now + 5000);
		h.now = next;
	}
	assert_true(restarted);
	h_free(&h);
}

static void test_terminate_deletes_both_sides(void **state)
{
	struct harness h;
	char err[128];
	up_default(&h);
	assert_int_equal(ike_terminate(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	assert_int_equal(h.a.n_policies, 0);
	assert_int_equal(h.b.n_policies, 0);
	h_free(&h);
}

static void test_ts_mismatch(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	/* b expects a different remote network. */
	char *p = strstr(conf_b, "remote_ts = 10.1.0.0/24");
	assert_non_null(p);
	memcpy(p, "remote_ts = 10.9.0.0/24", strlen("remote_ts = 10.9.0.0/24"));
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(h_count_children(&h.b), 0);
	h_free(&h);
}

/* After IKE_SA_INIT nothing is accepted unprotected: a plain DELETE or an empty
 * request with the SA's SPIs and the next message ID changes nothing. */
static void test_unprotected_messages_rejected(void **state)
{
	struct harness h;
	up_default(&h);
	const struct ike_sa *sa = h_first_sa(&h.b);
	uint32_t msgid = sa->peer_msgid;
	static const uint8_t exchanges[] = { INFORMATIONAL, CREATE_CHILD_SA, IKE_AUTH, IKE_SA_INIT };
	for (size_t x = 0; x < sizeof(exchanges); x++) {
		struct ikev2_builder k;
		struct buf msg;
		struct ikev2_hdr hdr = { 0 };
		ikb_init(&k);
		ikb_delete(&k, PROTO_IKE, NULL, 0, 0);
		memcpy(hdr.spi_i, sa->spi_i, 8);
		memcpy(hdr.spi_r, sa->spi_r, 8);
		hdr.next_payload = k.first;
		hdr.exchange = exchanges[x];
		hdr.flags = IKEV2_FLAG_INITIATOR;
		hdr.msgid = msgid;
		hdr.length = (uint32_t)(IKEV2_HDR_LEN + k.b.len);
		buf_init(&msg);
		ikev2_put_header(&msg, &hdr);
		buf_put(&msg, k.b.data, k.b.len);
		struct addr from = h.a.addr;
		from.port = 41012;	/* and from elsewhere */
		struct addr to = h.b.addr;
		to.port = 500;
		ike_input(h.b.core, &to, &from, msg.data, msg.len, h.now);
		buf_free(&msg);
		ikb_free(&k);
	}
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	sa = h_first_sa(&h.b);
	assert_int_equal(sa->peer_msgid, msgid);
	assert_int_equal(sa->remote.port, 500);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.rx_invalid, 4);
	/* The real peer still gets through. */
	char err[64];
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_child_pair(&h);
	h_free(&h);
}

static void test_garbage_does_not_disturb(void **state)
{
	struct harness h;
	up_default(&h);
	const struct ike_sa *sa = h_first_sa(&h.b);
	uint8_t junk[200];
	memset(junk, 0x41, sizeof(junk));
	/* A message with the SA's SPIs but a bad ICV. */
	memcpy(junk, sa->spi_i, 8);
	memcpy(junk + 8, sa->spi_r, 8);
	junk[16] = PL_SK;
	junk[17] = 0x20;
	junk[18] = INFORMATIONAL;
	junk[19] = IKEV2_FLAG_INITIATOR;
	put_u32(junk + 20, 1);
	put_u32(junk + 24, sizeof(junk));
	junk[28] = 0;
	junk[29] = 0;
	put_u16(junk + 30, sizeof(junk) - 28);
	ike_input(h.b.core, &h.b.addr, &h.a.addr, junk, sizeof(junk), h.now);
	ike_input(h.b.core, &h.b.addr, &h.a.addr, junk, 27, h.now);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.rx_invalid, 2);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	/* The SA still answers real requests with the right message ID. */
	char err[64];
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_child_pair(&h);
	h_free(&h);
}

/* ---- CHILD_SA installation (NAT rebinding, selectors, SPIs, start children) ---- */

/* Two children: "net" (10.1/24 === 10.2/24) and "net2" (10.1.1/24... as given). */
static void confs_two(const char *extra, const char *child1_extra, const char *net2_a,
		      const char *net2_b)
{
	char ca[1024], cb[1024];
	snprintf(ca, sizeof(ca), "%s      }\n      net2 {\n%s        esp_proposals = aes256gcm16\n",
		 child1_extra, net2_a);
	snprintf(cb, sizeof(cb), "%s      }\n      net2 {\n%s        esp_proposals = aes256gcm16\n",
		 child1_extra, net2_b);
	make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", "10.1.0.0/24",
		  "10.2.0.0/24", "aes256gcm16-prfsha256-x25519", "aes256gcm16", "s3cret-key",
		  extra, ca);
	make_conf(conf_b, sizeof(conf_b), "198.51.100.2", "192.0.2.1", "10.2.0.0/24",
		  "10.1.0.0/24", "aes256gcm16-prfsha256-x25519", "aes256gcm16", "s3cret-key",
		  extra, cb);
}

#define NET2_A "        local_ts = 10.1.1.0/24\n        remote_ts = 10.2.1.0/24\n"
#define NET2_B "        local_ts = 10.2.1.0/24\n        remote_ts = 10.1.1.0/24\n"

/* Both children up over one NAT-T IKE SA. */
static void up_two_natt(struct harness *h)
{
	confs_two("    encap = yes\n", "", NET2_A, NET2_B);
	assert_int_equal(h_init(h, conf_a, conf_b), 0);
}

static void establish_two(struct harness *h)
{
	char err[128];
	establish(h);
	assert_int_equal(ike_initiate(h->a.core, "site", "net2", h->now, err, sizeof(err)), 0);
	h_pump(h);
	assert_int_equal(h_count_children(&h->a), 2);
	assert_int_equal(h_count_children(&h->b), 2);
	assert_true(h_first_sa(&h->b)->natt);
}

/* a sends an authenticated request (a liveness check) that reaches b from `from`. */
static void dpd_from(struct harness *h, const struct addr *from)
{
	struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h->a);
	ike_sa_queue(sa, TASK_DPD, NULL, 0);
	ike_sa_run_tasks(sa);
	assert_int_equal(h->n_wire, 1);
	h->wire[0].remote = *from;
	h_pump(h);
}

struct sa_keys {
	uint32_t spi;
	uint8_t ekey[PFKEY_KEY_MAX];
	uint16_t len;
};

static void save_keys(struct h_peer *p, uint32_t spi, struct sa_keys *k)
{
	const struct pfkey_sa *s = h_find_sa(p, spi);
	assert_non_null(s);
	k->spi = spi;
	k->len = s->ekey_len;
	memcpy(k->ekey, s->ekey, s->ekey_len);
	assert_memory_not_equal(k->ekey, (uint8_t[PFKEY_KEY_MAX]){ 0 }, k->len);
}

static void assert_keys(struct h_peer *p, const struct sa_keys *k)
{
	const struct pfkey_sa *s = h_find_sa(p, k->spi);
	assert_non_null(s);
	assert_int_equal(s->ekey_len, k->len);
	assert_memory_equal(s->ekey, k->ekey, k->len);
}

/* The peer's NAT mapping moves to another port: every child's SAs are re-installed
 * with the new port and the same keys (they were once re-installed all-zero). */
static void test_nat_rebind_port_keeps_keys(void **state)
{
	struct harness h;
	up_two_natt(&h);
	establish_two(&h);
	struct sa_keys k[4];
	int n = 0;
	for (const struct child_sa *c = h_first_sa(&h.b)->children; c; c = c->next) {
		save_keys(&h.b, c->spi_in, &k[n++]);
		save_keys(&h.b, c->spi_out, &k[n++]);
	}
	struct addr from = h.a.addr;
	from.port = 4501;
	dpd_from(&h, &from);
	assert_int_equal(h_first_sa(&h.b)->remote.port, 4501);
	for (int i = 0; i < 4; i++)
		assert_keys(&h.b, &k[i]);
	for (const struct child_sa *c = h_first_sa(&h.b)->children; c; c = c->next) {
		assert_int_equal(h_find_sa(&h.b, c->spi_out)->natt_dport, 4501);
		assert_int_equal(h_find_sa(&h.b, c->spi_in)->natt_sport, 4501);
		/* Still the peer's keys. */
		const struct pfkey_sa *peer_in = h_find_sa(&h.a, c->spi_out);
		assert_memory_equal(peer_in->ekey, h_find_sa(&h.b, c->spi_out)->ekey,
				    peer_in->ekey_len);
	}
	h_free(&h);
}

static void h_collect(void *arg, const uint8_t *msg, size_t len)
{
	buf_put(arg, msg, len);
}

/* What b's engine sends. */
/* The peer's NAT mapping moves to another address: the outbound SAs (keyed by SPI and
 * destination in the engine) and the policies' tunnel endpoints follow it, and the
 * sequence number goes on under the same key. */
static void test_nat_rebind_address_moves_sas(void **state)
{
	struct harness h;
	struct h_sent sent = { 0 };
	up_two_natt(&h);
	assert_int_equal(h_use_engine(&h.b, h_record_sent, &sent), 0);
	establish_two(&h);
	uint8_t pkt[64];
	size_t len = h_udp4(pkt, "10.2.0.5", "10.1.0.5");
	assert_int_equal(esp_engine_output_packet(h.b.engine, pkt, len), ESP_V_SENT);
	assert_int_equal(get_u32(sent.pkt + 4), 1);
	struct sa_keys k[4];
	int n = 0;
	for (const struct child_sa *c = h_first_sa(&h.b)->children; c; c = c->next) {
		save_keys(&h.b, c->spi_in, &k[n++]);
		save_keys(&h.b, c->spi_out, &k[n++]);
	}
	struct addr from, old = h.a.addr;
	assert_int_equal(addr_parse("203.0.113.7", &from), 0);
	from.port = 4500;
	dpd_from(&h, &from);
	assert_true(addr_equal(&h_first_sa(&h.b)->remote, &from));
	for (int i = 0; i < 4; i++)
		assert_keys(&h.b, &k[i]);
	struct esp_sa_stats st;
	for (const struct child_sa *c = h_first_sa(&h.b)->children; c; c = c->next) {
		assert_int_equal(esp_engine_sa_stats(h.b.engine, c->spi_out, &from, &st), 0);
		assert_int_equal(esp_engine_sa_stats(h.b.engine, c->spi_out, &old, &st), -1);
		assert_true(addr_equal_ip(&h_find_sa(&h.b, c->spi_out)->dst, &from));
		assert_true(addr_equal_ip(&h_find_sa(&h.b, c->spi_in)->src, &from));
	}
	for (int i = 0; i < h.b.n_policies; i++) {
		const struct pfkey_policy *p = &h.b.pols[i];
		assert_true(addr_equal_ip(p->dir == IPSEC_DIR_OUTBOUND ? &p->tunnel_dst
								   : &p->tunnel_src, &from));
	}
	/* ESP goes to the new address and its sequence number did not restart. */
	assert_int_equal(esp_engine_output_packet(h.b.engine, pkt, len), ESP_V_SENT);
	assert_true(addr_equal_ip(&sent.dst, &from));
	assert_int_equal(sent.dst.port, 4500);
	assert_int_equal(get_u32(sent.pkt + 4), 2);
	len = h_udp4(pkt, "10.2.1.5", "10.1.1.5");
	assert_int_equal(esp_engine_output_packet(h.b.engine, pkt, len), ESP_V_SENT);
	assert_true(addr_equal_ip(&sent.dst, &from));
	h_free(&h);
}

/* The SA carries every selector of a child, as installed and as rekeyed. */
static void assert_sa_sels(struct h_peer *p, uint32_t spi, const char *src0, const char *src1,
			   const char *dst0, const char *dst1)
{
	const struct pfkey_sa *s = h_find_sa(p, spi);
	char x[SELECTOR_STRLEN];
	assert_non_null(s);
	assert_true(s->has_sel);
	assert_int_equal(s->n_sel_src, 2);
	assert_int_equal(s->n_sel_dst, 2);
	assert_string_equal(selector_fmt(&s->sel_src[0], x, sizeof(x)), src0);
	assert_string_equal(selector_fmt(&s->sel_src[1], x, sizeof(x)), src1);
	assert_string_equal(selector_fmt(&s->sel_dst[0], x, sizeof(x)), dst0);
	assert_string_equal(selector_fmt(&s->sel_dst[1], x, sizeof(x)), dst1);
}

static void assert_four_sels(struct harness *h)
{
	const struct child_sa *ca = h_first_sa(&h->a)->children;
	const struct child_sa *cb = h_first_sa(&h->b)->children;
	assert_sa_sels(&h->a, ca->spi_in, "10.2.0.0/24", "10.4.0.0/24", "10.1.0.0/24",
		       "10.3.0.0/24");
	assert_sa_sels(&h->a, ca->spi_out, "10.1.0.0/24", "10.3.0.0/24", "10.2.0.0/24",
		       "10.4.0.0/24");
	assert_sa_sels(&h->b, cb->spi_in, "10.1.0.0/24", "10.3.0.0/24", "10.2.0.0/24",
		       "10.4.0.0/24");
}

/* Two local and two remote TS: four policies per direction pair, and inbound ESP from
 * the second pair is delivered (it was once a selector drop: the SA had only the
 * first pair). */
static void test_child_several_ts(void **state)
{
	struct harness h;
	struct h_sent sa_sent = { 0 }, sb_sent = { 0 };
	char err[64];
	make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", "10.1.0.0/24,10.3.0.0/24",
		  "10.2.0.0/24,10.4.0.0/24", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
		  "s3cret-key", "", "");
	make_conf(conf_b, sizeof(conf_b), "198.51.100.2", "192.0.2.1", "10.2.0.0/24,10.4.0.0/24",
		  "10.1.0.0/24,10.3.0.0/24", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
		  "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(h_use_engine(&h.a, h_record_sent, &sa_sent), 0);
	assert_int_equal(h_use_engine(&h.b, h_record_sent, &sb_sent), 0);
	establish(&h);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_int_equal(h.a.n_policies, 8);
	assert_four_sels(&h);
	uint8_t pkt[64];
	size_t len = h_udp4(pkt, "10.3.0.5", "10.4.0.9");
	assert_int_equal(esp_engine_output_packet(h.a.engine, pkt, len), ESP_V_SENT);
	struct addr from = h.a.addr, to = h.b.addr;
	assert_int_equal(esp_engine_input_packet(h.b.engine, &from, &to, false, sa_sent.pkt,
						 sa_sent.len), ESP_V_DELIVERED);
	/* The rekeyed child carries them all too. */
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h.a.child_rekeys, 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_four_sels(&h);
	assert_int_equal(esp_engine_output_packet(h.a.engine, pkt, len), ESP_V_SENT);
	assert_int_equal(esp_engine_input_packet(h.b.engine, &from, &to, false, sa_sent.pkt,
						 sa_sent.len), ESP_V_DELIVERED);
	h_free(&h);
}

/* SAs (larval or not) the engine behind a peer holds. */
static int engine_sa_count(struct h_peer *p)
{
	struct buf req, reply;
	struct pfkey_endpoint to = { h_collect, &reply };
	buf_init(&req);
	buf_init(&reply);
	pfkey_build_simple(&req, SADB_DUMP, SADB_SATYPE_ESP, 1);
	esp_engine_pfkey_input(p->engine, req.data, req.len, &to);
	int n = 0;
	for (size_t off = 0, len; (len = pfkey_first_len(reply.data + off, reply.len - off));
	     off += len) {
		struct sadb_msg hdr;
		memcpy(&hdr, reply.data + off, sizeof(hdr));
		n += hdr.sadb_msg_errno == 0;
	}
	buf_free(&req);
	buf_wipe_free(&reply);
	return n;
}

static void engines_both(struct harness *h, struct h_sent *sa, struct h_sent *sb)
{
	assert_int_equal(h_use_engine(&h->a, h_record_sent, sa), 0);
	assert_int_equal(h_use_engine(&h->b, h_record_sent, sb), 0);
}

/* A negotiation that fails leaves no larval SA (reserved SPI) in the engine: neither
 * in IKE_AUTH (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE, failed authentication) nor in
 * CREATE_CHILD_SA. They used to stay for the engine's 180 s. */
static void test_failed_child_releases_spi(void **state)
{
	struct harness h;
	struct h_sent s1 = { 0 }, s2 = { 0 };
	char err[128];
	/* NO_PROPOSAL_CHOSEN in IKE_AUTH, then in CREATE_CHILD_SA. */
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes128-sha1", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	engines_both(&h, &s1, &s2);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(engine_sa_count(&h.a), 0);
	assert_int_equal(engine_sa_count(&h.b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(engine_sa_count(&h.a), 0);
	assert_int_equal(engine_sa_count(&h.b), 0);
	h_free(&h);

	/* TS_UNACCEPTABLE. */
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	char *p = strstr(conf_b, "remote_ts = 10.1.0.0/24");
	memcpy(p, "remote_ts = 10.9.0.0/24", strlen("remote_ts = 10.9.0.0/24"));
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	engines_both(&h, &s1, &s2);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(engine_sa_count(&h.a), 0);
	assert_int_equal(engine_sa_count(&h.b), 0);
	h_free(&h);

	/* Authentication failure. */
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "another-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	engines_both(&h, &s1, &s2);
	establish(&h);
	h_advance(&h, 2000);
	assert_null(h_first_sa(&h.a));
	assert_int_equal(engine_sa_count(&h.a), 0);
	assert_int_equal(engine_sa_count(&h.b), 0);
	h_free(&h);

	/* An established child and its deletion: its SAs go, no larval one stays. */
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	engines_both(&h, &s1, &s2);
	establish(&h);
	assert_int_equal(engine_sa_count(&h.a), 2);
	assert_int_equal(engine_sa_count(&h.b), 2);
	assert_int_equal(ike_terminate(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(engine_sa_count(&h.a), 0);
	assert_int_equal(engine_sa_count(&h.b), 0);
	h_free(&h);
}

static void reload_a(struct harness *h)
{
	char err[512];
	struct ctree *t = conf_parse_string(conf_a, "a.conf", err, sizeof(err));
	struct config *cfg = config_build(t, err, sizeof(err));
	ctree_free(t);
	assert_non_null(cfg);
	ike_load_config(h->a.core, cfg, h->now);
	h_pump(h);
}

static void assert_two_installed(struct harness *h)
{
	assert_int_equal(h_count_sas(&h->a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h->b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h->a), 2);
	assert_int_equal(h_count_children(&h->b), 2);
	for (const struct child_sa *c = h_first_sa(&h->a)->children; c; c = c->next)
		assert_int_equal(c->state, CHILD_INSTALLED);
	for (const struct child_sa *c = h_first_sa(&h->b)->children; c; c = c->next)
		assert_int_equal(c->state, CHILD_INSTALLED);
	assert_string_not_equal(h_first_sa(&h->a)->children->cfg->name,
				h_first_sa(&h->a)->children->next->cfg->name);
}

/* Every start_action=start child of a connection comes up (the first in IKE_AUTH, the
 * other by CREATE_CHILD_SA; the second was once never tried), a reload starts no
 * copies, and close_action=restart brings both back. */
static void test_two_start_children(void **state)
{
	struct harness h;
	char err[64];
	confs_two("", "        start_action = start\n        close_action = restart\n",
		  NET2_A "        start_action = start\n        close_action = restart\n", NET2_B);
	/* Only a starts (b ignores them). */
	for (char *p; (p = strstr(conf_b, "start_action = start"));)
		memcpy(p, "start_action = none ", 20);
	for (char *p; (p = strstr(conf_b, "close_action = restart"));)
		memcpy(p, "close_action = none   ", 22);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);	/* a starts them on load */
	h_advance(&h, 5000);	/* b was not there yet: a retransmits */
	assert_two_installed(&h);
	reload_a(&h);
	reload_a(&h);
	assert_two_installed(&h);
	/* After the reload, a child deleted and started again by hand goes on the running
	 * IKE SA (it once made a second IKE SA: the SA's conn is the old generation). */
	assert_int_equal(ike_terminate(h.a.core, NULL, 0, "net2", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(ike_initiate(h.a.core, NULL, "net2", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_two_installed(&h);
	/* b closes the IKE SA: a restarts both children. */
	assert_int_equal(ike_terminate(h.b.core, NULL, 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 2000);
	assert_two_installed(&h);
	h_free(&h);
}

/* ---- unauthenticated input: IKE_SA_INIT floods, replays, COOKIE, IKE_AUTH switch ---- */

/* a's IKE_SA_INIT request, taken off the wire (a forgets its SA). */
static struct h_wire_msg take_init(struct harness *h)
{
	char err[128];
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
	assert_true(h->n_wire >= 1);
	struct h_wire_msg w = h->wire[0];
	h->n_wire = 0;
	ike_sa_destroy((struct ike_sa *)h_first_sa(&h->a));
	ike_tick(h->a.core, h->now);
	return w;
}

/* The request with another SPIi, as from another (spoofed) address. */
static void send_variant(struct harness *h, const struct h_wire_msg *w, uint32_t i,
			 const char *from_ip)
{
	uint8_t pkt[sizeof(w->data)];
	struct addr from;
	memcpy(pkt, w->data, w->len);
	put_u32(pkt, i + 1);
	assert_int_equal(addr_parse(from_ip, &from), 0);
	from.port = (uint16_t)(1024 + i % 50000);
	ike_input(h->b.core, &w->local, &from, pkt, w->len, h->now);
	h->n_wire = 0;
}

/* 1000 IKE_SA_INITs that match no proposal: counted, each answered, no state, and a
 * bounded number of log lines, the first naming the peer and both proposal lists. */
static void test_init_mismatch_flood_log_bounded(void **state)
{
	struct harness h;
	struct h_log_count lc;
	h_cookie_threshold = 1000000;	/* no COOKIEs: every request reaches selection */
	confs("aes256gcm16-prfsha256-x25519", "aes128-sha1-modp2048", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_cookie_threshold = 30;
	struct h_wire_msg w = take_init(&h);
	h_log_capture_start(&lc, "proposal mismatch");
	for (uint32_t i = 0; i < 1000; i++)
		send_variant(&h, &w, i, "192.0.2.1");
	int lines = lc.lines;
	h_log_capture_stop(&lc);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.init_refused, 1000);
	assert_int_equal(st.half_open, 0);
	assert_null(h_first_sa(&h.b));
	/* A burst of "parsed" lines and one of mismatches (20 each per 10 s). */
	if (lines > 50)
		fail_msg("%d log lines for 1000 refused IKE_SA_INITs", lines);
	assert_non_null(strstr(lc.first, "proposal mismatch: peer 192.0.2.1 offered"));
	assert_non_null(strstr(lc.first, "AES_GCM_16_256"));
	assert_non_null(strstr(lc.first, "site: IKE:AES_CBC_128"));
	h_free(&h);
}

/* Refused IKE_SA_INITs (here: from addresses no connection admits) count toward the
 * COOKIE threshold: under such a flood the responder demands COOKIEs, a real peer
 * still gets through with one, and once the flood is over COOKIEs stop. */
static void test_init_refused_flood_starts_cookies(void **state)
{
	struct harness h;
	char ip[32];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	struct h_wire_msg w = take_init(&h);
	for (uint32_t i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%u", 1 + i % 200);
		send_variant(&h, &w, i, ip);
	}
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.init_refused, 30);	/* the threshold */
	assert_int_equal(st.cookies_sent, 70);
	assert_int_equal(st.half_open, 0);
	establish(&h);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.cookies_sent, 71);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	/* Two half-open timeouts later the refusals have aged out. */
	h_advance(&h, 61000);
	send_variant(&h, &w, 500, "203.0.113.7");
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.init_refused, 31);
	assert_int_equal(st.cookies_sent, 71);
	h_free(&h);
}


/* A byte-identical IKE_SA_INIT request is answered with the IKE_SA_INIT response
 * while the SA is half-open; once IKE_AUTH happened, replays are dropped and counted
 * (the cached response then belonged to a later exchange, for the SA's whole life). */
static void test_init_replay_after_established_dropped(void **state)
{
	struct harness h;
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	char err[128];
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	struct h_wire_msg init = h.wire[0];
	h.n_wire = 0;
	/* Half-open: the retransmit gets the IKE_SA_INIT response, byte for byte. */
	ike_input(h.b.core, &init.local, &init.remote, init.data, init.len, h.now);
	assert_int_equal(h.n_wire, 1);
	struct h_wire_msg resp = h.wire[0];
	h.n_wire = 0;
	ike_input(h.b.core, &init.local, &init.remote, init.data, init.len, h.now);
	assert_int_equal(h.n_wire, 1);
	assert_int_equal(h.wire[0].len, resp.len);
	assert_memory_equal(h.wire[0].data, resp.data, resp.len);
	/* Deliver the response to a and finish. */
	ike_input(h.a.core, &resp.local, &resp.remote, resp.data, resp.len, h.now);
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	/* Established: replays are dropped and counted, and b sends nothing. */
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	uint64_t invalid = st.rx_invalid;
	for (int i = 0; i < 3; i++) {
		ike_input(h.b.core, &init.local, &init.remote, init.data, init.len, h.now);
		assert_int_equal(h.n_wire, 0);
	}
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.rx_invalid, invalid + 3);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_null(ike_sa_next(h_first_sa(&h.b)));
	h_free(&h);
}

/* Forges an unprotected IKE_SA_INIT response to a's pending request: one notify. */
static void forge_init_answer(struct harness *h, uint16_t type, const uint8_t *data,
			      size_t len)
{
	const struct ike_sa *sa = h_first_sa(&h->a);
	struct ikev2_builder k;
	struct ikev2_hdr hdr = { 0 };
	struct buf msg;
	assert_non_null(sa);	/* still waiting */
	ikb_init(&k);
	ikb_notify(&k, 0, NULL, 0, type, data, len);
	memcpy(hdr.spi_i, sa->spi_i, 8);
	hdr.next_payload = k.first;
	hdr.exchange = IKE_SA_INIT;
	hdr.flags = IKEV2_FLAG_RESPONSE;
	hdr.length = (uint32_t)(IKEV2_HDR_LEN + k.b.len);
	buf_init(&msg);
	ikev2_put_header(&msg, &hdr);
	buf_put(&msg, k.b.data, k.b.len);
	struct addr to = h->a.addr, from = h->b.addr;
	to.port = from.port = 500;
	ike_input(h->a.core, &to, &from, msg.data, msg.len, h->now);
	buf_free(&msg);
	ikb_free(&k);
}

/* An error notify in the IKE_SA_INIT response is unauthenticated: the initiator notes
 * it and keeps waiting (RFC 7296 2.21). A valid answer after a forged error still
 * establishes the SA; a real refusal ends it at the retransmission timeout. */
static void test_init_error_notify_keeps_waiting(void **state)
{
	struct harness h;
	char err[128];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	forge_init_answer(&h, N_NO_PROPOSAL_CHOSEN, NULL, 0);
	forge_init_answer(&h, N_INVALID_SYNTAX, NULL, 0);
	assert_non_null(h_first_sa(&h.a));
	h_pump(&h);		/* the real request and answer */
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_child_pair(&h);
	h_free(&h);

	/* A real NO_PROPOSAL_CHOSEN: a keeps retransmitting, then gives up. */
	confs("aes256gcm16-prfsha256-x25519", "aes128-sha1-modp2048", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	const struct ike_sa *sa = h_first_sa(&h.a);
	assert_non_null(sa);
	assert_int_equal(sa->state, IKE_CONNECTING);
	assert_int_equal(sa->next_msgid, 0);
	h_advance(&h, 20000);
	assert_non_null(h_first_sa(&h.a));
	struct ike_stats st;
	ike_get_stats(h.a.core, &st);
	assert_true(st.retransmits >= 2);
	/* At the end the log names the peer's error as the reason, not a silent peer. */
	struct h_log_count lc;
	h_log_capture_start(&lc, "IKE_SA_INIT failed");
	h_advance(&h, 40000);
	h_log_capture_stop(&lc);
	assert_non_null(strstr(lc.first, "NO_PROPOSAL_CHOSEN"));
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	h_free(&h);
}

/* A second COOKIE is taken (the responder may have changed its secret, RFC 7296
 * 2.6), up to a bound; past it COOKIEs are noted and the initiator keeps waiting. */
static void test_init_cookie_retried_bounded(void **state)
{
	struct harness h;
	char err[128];
	uint8_t cookie[16];
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		h.n_wire = 0;
		memset(cookie, 'a' + i, sizeof(cookie));
		forge_init_answer(&h, N_COOKIE, cookie, sizeof(cookie));
		assert_int_equal(h.n_wire, 1);	/* retried with the cookie */
		assert_non_null(memmem(h.wire[0].data, h.wire[0].len, cookie, sizeof(cookie)));
	}
	h.n_wire = 0;
	memset(cookie, 'z', sizeof(cookie));
	forge_init_answer(&h, N_COOKIE, cookie, sizeof(cookie));
	assert_int_equal(h.n_wire, 0);		/* the fourth is not followed */
	const struct ike_sa *sa = h_first_sa(&h.a);
	assert_non_null(sa);
	assert_int_equal(sa->state, IKE_CONNECTING);
	/* The retransmitted request (with the third cookie) still gets through. */
	h_advance(&h, 5000);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	h_free(&h);
}

/* b knows a second connection "other" for the identity a presents (a's own
 * connection in b's config expects a's address as identity). */
static void confs_switch(const char *other_remote_addrs, const char *other_ike)
{
	confs("aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16",
	      "aes256gcm16", "s3cret-key", "", "");
	/* a presents itself as carol@example.org. */
	char *p = strstr(conf_a, "id = 192.0.2.1");
	assert_non_null(p);
	char rest[2048];
	snprintf(rest, sizeof(rest), "%s", p + strlen("id = 192.0.2.1"));
	snprintf(p, sizeof(conf_a) - (size_t)(p - conf_a), "id = carol@example.org%s", rest);
	p = strstr(conf_a, "id-a = 192.0.2.1");
	assert_non_null(p);
	snprintf(rest, sizeof(rest), "%s", p + strlen("id-a = 192.0.2.1"));
	snprintf(p, sizeof(conf_a) - (size_t)(p - conf_a), "id-a = carol@example.org%s", rest);
	/* b: "site" as before, then "other" for carol. */
	p = strstr(conf_b, "secrets {");
	assert_non_null(p);
	snprintf(rest, sizeof(rest), "%s", p);
	*p = '\0';
	p = strrchr(conf_b, '}');	/* the end of "connections" */
	assert_non_null(p);
	snprintf(p, sizeof(conf_b) - (size_t)(p - conf_b),
		 "  other {\n"
		 "    remote_addrs = %s\n"
		 "    proposals = %s\n"
		 "    local {\n      auth = psk\n      id = 198.51.100.2\n    }\n"
		 "    remote {\n      auth = psk\n      id = carol@example.org\n    }\n"
		 "    children {\n      net {\n        local_ts = 10.2.0.0/24\n"
		 "        remote_ts = 10.1.0.0/24\n        esp_proposals = aes256gcm16\n"
		 "      }\n    }\n  }\n}\n%s"
		 "secrets {\n  ike-carol {\n    id-a = carol@example.org\n"
		 "    id-b = 198.51.100.2\n    secret = s3cret-key\n  }\n}\n",
		 other_remote_addrs, other_ike, rest);
}

/* Switching connections by identity in IKE_AUTH only goes to a connection whose
 * remote_addrs admit the peer and whose IKE proposals include the SA's; otherwise
 * AUTHENTICATION_FAILED, with a log line naming the connection and the reason. */
static void test_auth_switch_checks_addrs_and_proposal(void **state)
{
	struct harness h;
	struct h_log_count lc;
	/* The control: "other" admits a from anywhere with the same proposal. */
	confs_switch("%any", "aes256gcm16-prfsha256-x25519");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_string_equal(h_first_sa(&h.b)->conn->cfg->name, "other");
	h_free(&h);

	/* "other" does not admit a's address. */
	confs_switch("203.0.113.9", "aes256gcm16-prfsha256-x25519");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "identity mismatch");
	establish(&h);
	h_log_capture_stop(&lc);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.auth_failures, 1);
	assert_non_null(strstr(lc.first, "connection 'other' accepts that identity, but its "
			       "local_addrs/remote_addrs do not admit"));
	h_free(&h);

	/* "other" admits the address but not the IKE proposal chosen in IKE_SA_INIT. */
	confs_switch("%any", "aes128-sha256-x25519");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "identity mismatch");
	establish(&h);
	h_log_capture_stop(&lc);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.auth_failures, 1);
	assert_non_null(strstr(lc.first, "its IKE proposals do not include"));
	h_free(&h);
}

int main(void)
{
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_establish_aead),
		cmocka_unit_test(test_established_sa_is_trimmed),
		cmocka_unit_test(test_established_sa_drops_negotiation),
		cmocka_unit_test(test_reset_stats_keeps_gauges),
		cmocka_unit_test(test_encap_forces_natt),
		cmocka_unit_test(test_expire_soft_rekeys_hard_deletes),
		cmocka_unit_test(test_unique_policies),
		cmocka_unit_test(test_establish_cbc_modp),
		cmocka_unit_test(test_wrong_psk),
		cmocka_unit_test(test_ike_proposal_mismatch),
		cmocka_unit_test(test_child_proposal_mismatch_keeps_ike),
		cmocka_unit_test(test_invalid_ke_retry),
		cmocka_unit_test(test_retransmit_lost_init),
		cmocka_unit_test(test_lost_response_answered_from_cache),
		cmocka_unit_test(test_child_rekey),
		cmocka_unit_test(test_rekey_responder_defers_outbound),
		cmocka_unit_test(test_child_rekey_pfs),
		cmocka_unit_test(test_child_rekey_mixed_pfs_list),
		cmocka_unit_test(test_pfs_mismatch_keeps_old_child),
		cmocka_unit_test(test_ike_rekey_keeps_children),
		cmocka_unit_test(test_reload_does_not_duplicate),
		cmocka_unit_test(test_child_rekey_collision),
		cmocka_unit_test(test_ike_rekey_collision),
		cmocka_unit_test(test_backup_peer),
		cmocka_unit_test(test_cookie_under_load),
		cmocka_unit_test(test_child_rekey_crossing_ike_rekey),
		cmocka_unit_test(test_child_task_survives_ike_rekey),
		cmocka_unit_test(test_reflected_request_dropped),
		cmocka_unit_test(test_ike_rekey_is_no_close),
		cmocka_unit_test(test_superseded_sa_dropped),
		cmocka_unit_test(test_half_open_per_peer_cap),
		cmocka_unit_test(test_dpd_detects_dead_peer),
		cmocka_unit_test(test_dpd_restart_schedules_retransmit),
		cmocka_unit_test(test_terminate_deletes_both_sides),
		cmocka_unit_test(test_ts_mismatch),
		cmocka_unit_test(test_unprotected_messages_rejected),
		cmocka_unit_test(test_garbage_does_not_disturb),
		cmocka_unit_test(test_nat_rebind_port_keeps_keys),
		cmocka_unit_test(test_nat_rebind_address_moves_sas),
		cmocka_unit_test(test_child_several_ts),
		cmocka_unit_test(test_failed_child_releases_spi),
		cmocka_unit_test(test_two_start_children),
		cmocka_unit_test(test_init_mismatch_flood_log_bounded),
		cmocka_unit_test(test_init_refused_flood_starts_cookies),
		cmocka_unit_test(test_init_replay_after_established_dropped),
		cmocka_unit_test(test_init_error_notify_keeps_waiting),
		cmocka_unit_test(test_init_cookie_retried_bounded),
		cmocka_unit_test(test_auth_switch_checks_addrs_and_proposal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
