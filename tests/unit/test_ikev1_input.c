/* IKEv1 bad input against an established ISAKMP SA (two tsunagi cores through
 * tests/unit/ike_harness.c): truncated and inconsistent messages, encrypted ones whose
 * padding or IV is wrong, payloads that do not nest, each dropped and counted without
 * touching the SA (state, children, CBC chain, liveness) and logged at a bounded rate;
 * and a message for an SA that no longer exists, after which traffic recovers. */
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
#include "pfkey/pfkey.h"
#include "tests/unit/ike_harness.h"

static char conf_a[2048], conf_b[2048];

static void up(struct harness *h)
{
	char err[256];
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "", "", "tunnel");
	assert_int_equal(h_init(h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
	assert_int_equal(h_count_children(&h->a), 1);
	assert_int_equal(h_count_children(&h->b), 1);
	h_advance(h, 2000);	/* so that b's last_rx lies in the past */
}

/* What of b's state a dropped message must leave alone. */
struct snap {
	enum ikev1_state st;
	uint32_t spi_in, spi_out;
	ms_t last_rx;
	struct isakmp_iv iv;
	size_t n_sas;
	int sent;
	uint64_t rx_invalid;
};

static void take(struct harness *h, struct snap *s)
{
	const struct ike_sa *sb = h_first_sa(&h->b);
	struct ike_stats st;
	assert_non_null(sb);
	assert_non_null(sb->children);
	ike_get_stats(h->b.core, &st);
	s->st = sb->v1->state;
	s->spi_in = sb->children->spi_in;
	s->spi_out = sb->children->spi_out;
	s->last_rx = sb->last_rx;
	s->iv = sb->v1->iv;
	s->n_sas = h->b.n_sas;
	s->sent = h->b.sent;
	s->rx_invalid = st.rx_invalid;
}

static void assert_untouched(struct harness *h, const struct snap *before, const char *what)
{
	struct snap now;
	take(h, &now);
	if (now.rx_invalid != before->rx_invalid + 1)
		fail_msg("%s: rx_invalid %llu -> %llu", what, (unsigned long long)before->rx_invalid,
			 (unsigned long long)now.rx_invalid);
	assert_int_equal(now.st, QM_IDLE);
	assert_int_equal(now.spi_in, before->spi_in);
	assert_int_equal(now.spi_out, before->spi_out);
	if (now.last_rx != before->last_rx)
		fail_msg("%s: counted as a sign of life", what);
	assert_memory_equal(now.iv.b, before->iv.b, before->iv.len);
	assert_int_equal(now.n_sas, before->n_sas);
	if (now.sent != before->sent)
		fail_msg("%s: b answered", what);
	assert_int_equal(h_count_children(&h->b), 1);
}

/* ---- messages on a's side of the SA ---- */

static void header(const struct ike_sa *sa, struct buf *out, uint8_t exchange, uint32_t msgid,
		   uint8_t first, bool encrypted)
{
	struct isakmp_hdr hd = { .next_payload = first, .exchange = exchange, .msgid = msgid,
				 .flags = encrypted ? ISAKMP_FLAG_E : 0 };
	memcpy(hd.cky_i, sa->spi_i, 8);
	memcpy(hd.cky_r, sa->spi_r, 8);
	buf_reset(out);
	isakmp_put_header(out, &hd);
}

/* A QM1 body as a would send it, its HASH(1) right, with the offsets of the parts a
 * test spoils. */
struct qm1 {
	struct isakmp_builder k;
	size_t hash_at, sa_off, prop_off, xf_off, attr_off, nonce_off;
};

static void build_qm1(const struct ike_sa *sa, uint32_t msgid, struct qm1 *q)
{
	const struct isakmp_keys *keys = &sa->v1->keys;
	uint8_t nonce[16] = { 1, 2, 3 }, spi[4] = { 0xc1, 0, 0, 9 };
	uint8_t l[8] = { 10, 1, 0, 0, 255, 255, 255, 0 }, r[8] = { 10, 2, 0, 0, 255, 255, 255, 0 };
	struct isakmp_builder *k = &q->k;
	isb_init(k);
	q->hash_at = isb_hash(k, NULL, keys->prf_len);
	size_t rest = q->hash_at + keys->prf_len;
	q->sa_off = isb_sa_begin(k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
	q->prop_off = isb_proposal_begin(&k->b, true, 1, ISAKMP_PROTO_ESP, spi, 4, 1);
	q->xf_off = isb_transform_begin(&k->b, true, 1, ENCR_AES_CBC);
	q->attr_off = k->b.len;
	isb_attr_basic(&k->b, P2_ENCAP, ISAKMP_ENCAP_TUNNEL);
	isb_attr_basic(&k->b, P2_AUTH, P2_AUTH_HMAC_SHA1);
	isb_attr_basic(&k->b, P2_KEY_LENGTH, 128);
	isb_sub_end(&k->b, q->xf_off);
	isb_sub_end(&k->b, q->prop_off);
	isb_end(k, q->sa_off);
	q->nonce_off = k->b.len;
	isb_nonce(k, nonce, sizeof(nonce));
	isb_id(k, ISAKMP_ID_IPV4_ADDR_SUBNET, 0, 0, l, 8);
	isb_id(k, ISAKMP_ID_IPV4_ADDR_SUBNET, 0, 0, r, 8);
	assert_false(k->b.oom);
	assert_int_equal(isakmp_hash_qm1(keys, msgid, k->b.data + rest, k->b.len - rest,
					 k->b.data + q->hash_at), 0);
}

/* Ways to spoil the encryption. */
enum enc { ENC_RIGHT, ENC_WRONG_IV, ENC_EXTRA_PADDING, ENC_NOT_BLOCKS, ENC_CLEAR };

static void encrypt_to(const struct ike_sa *sa, uint32_t msgid, const struct buf *body,
		       uint8_t first, enum enc how, struct buf *out)
{
	struct isakmp_iv iv, next;
	header(sa, out, ISAKMP_XCHG_QM, msgid, first, how != ENC_CLEAR);
	buf_put(out, body->data, body->len);
	if (how == ENC_EXTRA_PADDING)
		buf_put_zero(out, sa->v1->keys.block);	/* more padding than a block */
	if (how == ENC_CLEAR) {
		isakmp_set_length(out);
		return;
	}
	assert_int_equal(isakmp_iv_phase2(&sa->v1->keys, &sa->v1->iv, msgid, &iv), 0);
	if (how == ENC_WRONG_IV)
		iv.b[3] ^= 0x80;
	assert_int_equal(isakmp_encrypt(&sa->v1->keys, &iv, out, &next), 0);
	if (how == ENC_NOT_BLOCKS) {
		out->len -= 3;
		isakmp_set_length(out);
	}
}

/* To b as from a: the addresses and ports of b's ISAKMP SA (any SA's, once b lost
 * its own). */
static struct addr b_local, b_remote;

static void inject_len(struct harness *h, const uint8_t *msg, size_t len)
{
	const struct ike_sa *sb = h_first_sa(&h->b);
	if (sb) {
		b_local = sb->local;
		b_remote = sb->remote;
	}
	ike_input(h->b.core, &b_local, &b_remote, msg, len, h->now);
}

static void inject(struct harness *h, const struct buf *msg)
{
	inject_len(h, msg->data, msg->len);
}

/* Each case: a QM1 (HASH(1) right) spoiled one way, sent to b. */
static void qm1_case(struct harness *h, int c, const char **what)
{
	const struct ike_sa *sa = h_first_sa(&h->a);
	uint32_t msgid = 0x7000 + (uint32_t)c;
	struct qm1 q;
	struct buf out;
	enum enc how = ENC_RIGHT;
	buf_init(&out);
	build_qm1(sa, msgid, &q);
	uint8_t *p = q.k.b.data;
	switch (c) {
	case 0: *what = "wrong IV"; how = ENC_WRONG_IV; break;
	case 1: *what = "more padding than a block"; how = ENC_EXTRA_PADDING; break;
	case 2: *what = "body not whole blocks"; how = ENC_NOT_BLOCKS; break;
	case 3: *what = "Quick Mode in the clear"; how = ENC_CLEAR; break;
	case 4: *what = "proposal counts 2 transforms, has 1"; p[q.prop_off + 7] = 2; break;
	case 5: *what = "transform says more follow"; p[q.xf_off] = ISAKMP_PL_T; break;
	case 6: *what = "proposal longer than its SA";
		put_u16(p + q.prop_off + 2, get_u16(p + q.prop_off + 2) + 4); break;
	case 7: *what = "transform longer than its proposal";
		put_u16(p + q.xf_off + 2, get_u16(p + q.xf_off + 2) + 4); break;
	case 8: *what = "variable attribute past its transform";
		put_u16(p + q.attr_off, P2_LIFE_DURATION);	/* AF bit clear: TLV */
		put_u16(p + q.attr_off + 2, 200); break;
	case 9: *what = "payload length past the message";
		put_u16(p + q.nonce_off + 2, 2000); break;
	case 10: *what = "payload length below its header";
		put_u16(p + q.nonce_off + 2, 3); break;
	case 11: *what = "SA payload shorter than DOI and situation";
		put_u16(p + q.sa_off + 2, 6); break;
	case 12: *what = "unknown payload type next";
		p[q.nonce_off] = 99; break;
	case 13: *what = "HASH(1) wrong"; p[q.hash_at] ^= 1; break;
	}
	encrypt_to(sa, msgid, &q.k.b, q.k.first, how, &out);
	inject(h, &out);
	isb_free(&q.k);
	buf_free(&out);
}

#define N_QM1_CASES 14

static void test_spoiled_quick_mode(void **state)
{
	struct harness h;
	up(&h);
	for (int c = 0; c < N_QM1_CASES; c++) {
		struct snap s;
		const char *what = "?";
		take(&h, &s);
		qm1_case(&h, c, &what);
		print_message("%s\n", what);
		assert_untouched(&h, &s, what);
	}
	/* The CBC chain and the message IDs are intact: a's next Quick Mode works. */
	char err[256];
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 2);
	assert_int_equal(h_count_children(&h.b), 2);
	h_free(&h);
}

/* The unspoiled QM1 of the cases above is taken: the cases fail for what they spoil. */
static void test_unspoiled_quick_mode_taken(void **state)
{
	struct harness h;
	struct qm1 q;
	struct buf out;
	up(&h);
	const struct ike_sa *sa = h_first_sa(&h.a);
	buf_init(&out);
	build_qm1(sa, 0x7100, &q);
	encrypt_to(sa, 0x7100, &q.k.b, q.k.first, ENC_RIGHT, &out);
	int sent = h.b.sent;
	inject(&h, &out);
	assert_int_equal(h.b.sent, sent + 1);	/* QM2 */
	assert_true(h_first_sa(&h.b)->v1->qm_r.active);	/* the peer's Quick Mode */
	isb_free(&q.k);
	buf_free(&out);
	h_free(&h);
}

/* Truncated messages with the SA's cookies: shorter than the header, header length
 * not the datagram's, an encrypted Informational cut inside its body. */
static void test_truncated(void **state)
{
	struct harness h;
	struct qm1 q;
	struct buf out;
	up(&h);
	const struct ike_sa *sa = h_first_sa(&h.a);
	buf_init(&out);
	build_qm1(sa, 0x7200, &q);
	encrypt_to(sa, 0x7200, &q.k.b, q.k.first, ENC_RIGHT, &out);
	size_t lens[] = { 0, 1, 16, 27, 28, 29, 40, out.len - 1 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct snap s;
		take(&h, &s);
		inject_len(&h, out.data, lens[i]);
		char what[64];
		snprintf(what, sizeof(what), "QM1 cut to %zu bytes", lens[i]);
		assert_untouched(&h, &s, what);
	}
	/* the header's length says more (or less) than came */
	struct snap s;
	take(&h, &s);
	put_u32(out.data + 24, (uint32_t)out.len + 8);
	inject(&h, &out);
	assert_untouched(&h, &s, "header length past the datagram");
	isb_free(&q.k);
	buf_free(&out);
	h_free(&h);
}

/* Garbage is logged at a bounded rate: 420 spoiled messages (30 of each case), every
 * one counted, at most the burst (20 per 10 s) of each of the two kinds logged (that
 * will not decrypt or authenticate; Quick Mode in the wrong state). */
static void test_logs_bounded(void **state)
{
	struct harness h;
	struct h_log_count lc;
	struct ike_stats before, after;
	up(&h);
	ike_get_stats(h.b.core, &before);
	h_log_capture_start(&lc, "dropped");
	for (int i = 0; i < 30 * N_QM1_CASES; i++) {
		const char *what;
		qm1_case(&h, i % N_QM1_CASES, &what);
	}
	h_log_capture_stop(&lc);
	ike_get_stats(h.b.core, &after);
	assert_int_equal(after.rx_invalid, before.rx_invalid + 30 * N_QM1_CASES);
	print_message("%d of %d log lines say dropped\n", lc.matches, lc.lines);
	assert_true(lc.lines <= 2 * 20);
	assert_int_equal(h_count_children(&h.b), 1);
	h_free(&h);
}

/* b lost the ISAKMP SA (its DELETE got lost): a's next Quick Mode is "IKE message
 * from 192.0.2.1 has no SA", logged at a bounded rate; a gives up, and when traffic
 * resumes (an ACQUIRE for the child's policy) a new Main Mode brings it back. */
static void test_no_sa_then_recovers(void **state)
{
	struct harness h;
	struct h_log_count lc;
	char err[256];
	up(&h);
	uint32_t reqid = h_first_sa(&h.a)->children->reqid;
	h.b.drop_out = true;
	assert_int_equal(ike_terminate(h.b.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h.b.drop_out = false;
	assert_null(h_first_sa(&h.b));
	assert_non_null(h_first_sa(&h.a));
	h_log_capture_start(&lc, "IKE message from 192.0.2.1[500] has no SA");
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 120000);
	h_log_capture_stop(&lc);
	assert_true(lc.matches >= 1);
	assert_true(lc.matches <= 20);
	assert_non_null(strstr(lc.first, "(IKEv1 QUICK_MODE)"));
	assert_null(h_first_sa(&h.a));		/* a gave up on the dead SA */
	assert_null(h_first_sa(&h.b));
	/* Traffic resumes: the engine asks for the child again. */
	struct pfkey_policy pol = { .reqid = reqid, .dir = IPSEC_DIR_OUTBOUND,
				    .type = IPSEC_POLICY_IPSEC, .mode = IPSEC_MODE_TUNNEL,
				    .tunnel_src = h.a.addr, .tunnel_dst = h.b.addr };
	struct buf acq;
	buf_init(&acq);
	selector_parse("10.1.0.0/24", &pol.src);
	selector_parse("10.2.0.0/24", &pol.dst);
	pfkey_build_acquire(&acq, 1, &pol, &h.a.addr, &h.b.addr, NULL, NULL);
	ike_pfkey_input(h.a.core, acq.data, acq.len, h.now);
	buf_free(&acq);
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	h_free(&h);
}

/* ---- Main Mode failures after the keys exist ---- */

/* b expects another identity than a's: b answers MM5 with a protected
 * AUTHENTICATION_FAILED (strongSwan ignores a clear one once keys exist) and a ends at
 * once, naming the notify, instead of retransmitting MM5 into the void. */
static void test_id_mismatch_responder_notifies(void **state)
{
	struct harness h;
	struct h_log_count lc;
	char err[256];
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "", "", "tunnel");
	char *at = strstr(conf_b, "      id = 192.0.2.1");
	assert_non_null(at);
	memcpy(at, "      id = 192.0.2.9", 20);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "received AUTHENTICATION_FAILED (24) notify in MM_WAIT_MSG6");
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	assert_int_equal(h.a.sent, 3);		/* MM1 MM3 MM5, no retransmission */
	h_free(&h);
}

/* a expects another identity than b's: b is established after MM6, so a deletes the
 * ISAKMP SA with a protected DELETE and b removes it too. */
static void test_id_mismatch_initiator_deletes(void **state)
{
	struct harness h;
	struct h_log_count lc;
	char err[256];
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "", "", "tunnel");
	char *at = strstr(conf_a, "      id = 198.51.100.2");
	assert_non_null(at);
	memcpy(at, "      id = 198.51.100.9", 23);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "does not match the configured");
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_log_capture_stop(&lc);
	assert_int_equal(lc.matches, 1);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	assert_int_equal(h_count_children(&h.b), 0);
	h_free(&h);
}

/* A PSK mismatch seen from the initiator: the responder drops the MM5 it cannot
 * decrypt (as strongSwan does), and giving up names the probable cause and the peer. */
static void test_psk_mismatch_initiator_log(void **state)
{
	struct harness h;
	struct h_log_count lc;
	char err[256];
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "", "", "tunnel");
	char *at = strstr(conf_b, "secret = s3cret-key");
	assert_non_null(at);
	memcpy(at, "secret = other-key", 18);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "giving up");
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 120000);
	h_log_capture_stop(&lc);
	assert_null(h_first_sa(&h.a));
	assert_non_null(strstr(lc.first, "no answer to MM5: probable pre-shared key mismatch with "
				"198.51.100.2"));
	h_free(&h);
}

/* A flood of Main Mode requests from one address, each with new cookies: as for
 * IKE_SA_INIT, at most 10 half-open SAs per peer address (IKEv1 has no cookies to
 * ask for first), the others refused and counted; what is logged stays bounded. */
static void test_mm1_flood_logs_bounded(void **state)
{
	struct harness h;
	struct h_log_count lc;
	char err[256];
	uint8_t mm1[4096];
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), "", "", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	size_t len = h.wire[0].len;
	struct addr at_b = h.wire[0].local, from_a = h.wire[0].remote;
	memcpy(mm1, h.wire[0].data, len);
	h.n_wire = 0;
	int sent = h.b.sent;
	h_log_capture_start(&lc, NULL);
	for (int i = 0; i < 200; i++) {
		mm1[0] = (uint8_t)i;
		mm1[1] = (uint8_t)(i >> 8) ^ 0x5a;
		ike_input(h.b.core, &at_b, &from_a, mm1, len, h.now);
		h.n_wire = 0;
	}
	h_log_capture_stop(&lc);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(h.b.sent, sent + 10);
	assert_int_equal(st.half_open, 10);
	assert_int_equal(st.half_open_refused, 190);
	print_message("%d log lines for 200 MM1\n", lc.lines);
	assert_true(lc.lines <= 2 * 20 + 2);
	h_free(&h);
}

int main(void)
{
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unspoiled_quick_mode_taken),
		cmocka_unit_test(test_spoiled_quick_mode),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_logs_bounded),
		cmocka_unit_test(test_no_sa_then_recovers),
		cmocka_unit_test(test_id_mismatch_responder_notifies),
		cmocka_unit_test(test_id_mismatch_initiator_deletes),
		cmocka_unit_test(test_psk_mismatch_initiator_log),
		cmocka_unit_test(test_mm1_flood_logs_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
