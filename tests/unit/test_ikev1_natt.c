/* IKEv1 vendor IDs and NAT traversal (RFC 3947 and draft-ietf-ipsec-nat-t-ike-02/03):
 * the vendor ID codec, then in-process exchanges between two tsunagi cores (through
 * tests/unit/ike_harness.c) where the wire is rewritten to play peers that speak only
 * a draft. */
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

static const uint8_t vid_rfc[16] = { 0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45,
				     0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f };
static const uint8_t vid_d03[16] = { 0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f,
				     0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d, 0x56 };
static const uint8_t vid_d02n[16] = { 0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e,
				      0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f };
static const uint8_t vid_d02[16] = { 0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8,
				     0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4, 0x48 };
static const uint8_t vid_dpd[16] = { 0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9,
				     0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00 };
/* Cisco's form: MD5("FRAGMENTATION") and 4 bytes of flags. */
static const uint8_t vid_frag[20] = { 0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85,
				      0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3,
				      0x80, 0x00, 0x00, 0x00 };
static const uint8_t vid_xauth[8] = { 0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12 };
static const uint8_t vid_other[12] = { 0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9,
				       0x70, 0x2d, 0x9f, 0xe2 };

static char conf_a[2048], conf_b[2048];

static void confs(const char *extra_a, const char *mode)
{
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), extra_a, "", mode);
}

/* Overwrites a vendor ID in the message with bytes nobody knows. */
static void spoil(struct h_wire_msg *w, const uint8_t *vid)
{
	uint8_t *at = memmem(w->data, w->len, vid, 16);
	assert_non_null(at);
	memset(at, 0xee, 16);
	at[0] = (uint8_t)(vid[0] ^ 0x55);	/* distinct from each other */
}

/* A peer that speaks only draft-02 (as old Cisco and Windows releases): its MM1 has
 * that vendor ID and none of the others. */
static void only_draft02(struct h_wire_msg *w)
{
	spoil(w, vid_rfc);
	spoil(w, vid_d03);
	spoil(w, vid_d02n);
}

static void only_draft03(struct h_wire_msg *w)
{
	spoil(w, vid_rfc);
}

/* Payloads of an unencrypted message. */
static void parse_plain(const struct h_wire_msg *w, struct isakmp_payloads *pl)
{
	const char *err;
	int rc = isakmp_parse_payloads(w->data[16], w->data + ISAKMP_HDR_LEN,
				       w->len - ISAKMP_HDR_LEN, 0, pl, &err);
	if (rc < 0)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
}

/* Payloads of an encrypted Quick Mode message, with the receiver's keys; *iv is the
 * exchange's CBC chain (len 0 before its first message). */
static void parse_qm(struct h_peer *to, const struct h_wire_msg *w, struct isakmp_iv *iv,
		     struct buf *plain, struct isakmp_payloads *pl)
{
	const struct ike_sa *sa = h_first_sa(to);
	struct isakmp_iv next;
	const char *err;
	if (iv->len == 0)
		assert_int_equal(isakmp_iv_phase2(&sa->v1->keys, &sa->v1->iv,
						  get_u32(w->data + 20), iv), 0);
	assert_int_equal(isakmp_decrypt(&sa->v1->keys, iv, w->data, w->len, plain, &next), 0);
	*iv = next;
	assert_int_equal(isakmp_parse_payloads(w->data[16], plain->data, plain->len,
					       sa->v1->keys.block, pl, &err), 0);
}

/* Does the payload chain (first payload `type`) hold a payload of type want? */
static bool chain_has(const uint8_t *p, size_t len, uint8_t type, uint8_t want)
{
	size_t off = 0;
	while (type != ISAKMP_PL_NONE && off + 4 <= len) {
		if (type == want)
			return true;
		type = p[off];
		off += get_u16(p + off + 2);
	}
	return false;
}

static uint16_t encap_of(const struct isakmp_payloads *pl)
{
	struct rd r, ra;
	struct isakmp_transform t;
	struct isakmp_attr a;
	rd_init(&r, pl->props[0].xforms, pl->props[0].xforms_len);
	assert_true(isakmp_next_transform(&r, &t));
	rd_init(&ra, t.attrs, t.attrs_len);
	while (isakmp_next_attr(&ra, &a))
		if (a.type == P2_ENCAP)
			return a.value;
	return 0;
}

/* ---- codec ---- */

static void put_vids(struct isakmp_builder *k)
{
	isb_vendor(k, vid_xauth, sizeof(vid_xauth));
	isb_vendor(k, vid_d02, sizeof(vid_d02));
	isb_vendor(k, vid_other, sizeof(vid_other));
	isb_vendor(k, vid_dpd, sizeof(vid_dpd));
	isb_vendor(k, vid_frag, sizeof(vid_frag));
	isb_vendor(k, vid_d03, sizeof(vid_d03));
}

static void test_vids_read(void **state)
{
	struct harness h;
	struct isakmp_builder k;
	struct isakmp_payloads pl;
	struct ikev1_vids v;
	struct h_log_count lc;
	const char *err;
	confs("", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	isb_init(&k);
	put_vids(&k);
	assert_int_equal(isakmp_parse_payloads(k.first, k.b.data, k.b.len, 0, &pl, &err), 0);
	h_log_capture_start(&lc, "unknown vendor ID");
	ikev1_vids_read(h.a.core, &pl, "test", &v);
	h_log_capture_stop(&lc);
	assert_int_equal(v.natt, NATT_DRAFT_03);	/* the best of 02 and 03 */
	assert_true(v.dpd);
	assert_true(v.frag);
	assert_true(v.xauth);
	assert_non_null(strstr(lc.first, "unknown vendor ID 12f5f28c457168a9702d9fe2 (12 bytes)"));
	/* Known ones are named in one line; the unknown one is the other line. */
	assert_int_equal(lc.lines, 2);

	/* Only a prefix of a known ID, or a known one with bytes after it (other than
	 * the fragmentation ID's flags), is unknown. */
	isb_free(&k);
	isb_init(&k);
	isb_vendor(&k, vid_rfc, 15);
	uint8_t longer[17];
	memcpy(longer, vid_dpd, 16);
	longer[16] = 1;
	isb_vendor(&k, longer, sizeof(longer));
	assert_int_equal(isakmp_parse_payloads(k.first, k.b.data, k.b.len, 0, &pl, &err), 0);
	ikev1_vids_read(h.a.core, &pl, "test", &v);
	assert_int_equal(v.natt, NATT_NONE);
	assert_false(v.dpd);
	isb_free(&k);
	h_free(&h);
}

/* A flood of unknown vendor IDs is logged at a bounded rate. */
static void test_unknown_vids_rate_limited(void **state)
{
	struct harness h;
	struct isakmp_builder k;
	struct isakmp_payloads pl;
	struct ikev1_vids v;
	struct h_log_count lc;
	const char *err;
	confs("", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	isb_init(&k);
	for (int i = 0; i < ISAKMP_MAX_VENDOR; i++) {
		uint8_t id[8] = { 0xa0, (uint8_t)i };
		isb_vendor(&k, id, sizeof(id));
	}
	assert_int_equal(isakmp_parse_payloads(k.first, k.b.data, k.b.len, 0, &pl, &err), 0);
	h_log_capture_start(&lc, "unknown vendor ID");
	for (int i = 0; i < 10; i++)
		ikev1_vids_read(h.a.core, &pl, "test", &v);
	h_log_capture_stop(&lc);
	assert_true(lc.lines >= 1);
	assert_true(lc.lines <= 20);
	isb_free(&k);
	h_free(&h);
}

static void test_natt_numbers(void **state)
{
	assert_int_equal(ikev1_natd_type(NATT_RFC3947), 20);
	assert_int_equal(ikev1_natd_type(NATT_DRAFT_02), 130);
	assert_int_equal(ikev1_natd_type(NATT_DRAFT_03), 130);
	assert_int_equal(ikev1_natt_encap(NATT_RFC3947, false), 3);
	assert_int_equal(ikev1_natt_encap(NATT_RFC3947, true), 4);
	assert_int_equal(ikev1_natt_encap(NATT_DRAFT_02N, false), 61443);
	assert_int_equal(ikev1_natt_encap(NATT_DRAFT_02, true), 61444);
	assert_string_equal(ikev1_natt_name(NATT_DRAFT_02N), "draft-ietf-ipsec-nat-t-ike-02\\n");
}

/* ---- exchanges ---- */

/* Runs Main Mode to its end, each message through fix_mm1 (the first) and checks. */
struct run {
	struct h_wire_msg raw[4];	/* MM1..MM4 as sent (the payloads point here) */
	struct isakmp_payloads mm[4];
	struct isakmp_payloads qm1, qm2;
	struct buf p1, p2;
};

static void run_exchange(struct harness *h, void (*fix_mm1)(struct h_wire_msg *w),
			 struct run *r)
{
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
	for (int i = 0; i < 6; i++) {
		assert_true(h->n_wire >= 1);
		if (i < 4) {
			r->raw[i] = h->wire[0];
			if (i == 0 && fix_mm1)
				fix_mm1(&r->raw[i]);
			parse_plain(&r->raw[i], &r->mm[i]);
		}
		h_deliver_first(h, i == 0 ? fix_mm1 : NULL);
	}
	/* QM1 a -> b, QM2 b -> a: decrypted with the receiver's keys. */
	buf_init(&r->p1);
	buf_init(&r->p2);
	struct isakmp_iv iv = { .len = 0 };
	struct h_wire_msg w1 = h->wire[0];
	parse_qm(&h->b, &w1, &iv, &r->p1, &r->qm1);
	h_deliver_first(h, NULL);
	struct h_wire_msg w2 = h->wire[0];
	parse_qm(&h->a, &w2, &iv, &r->p2, &r->qm2);
	h_deliver_first(h, NULL);
	h_pump(h);
}

static void run_free(struct run *r)
{
	buf_free(&r->p1);
	buf_free(&r->p2);
}

/* By default both speak RFC 3947: MM1 offers it and the drafts, MM2 echoes only it,
 * NAT-D payloads have the RFC's number; without a NAT nobody floats. */
static void test_rfc3947_preferred(void **state)
{
	struct harness h;
	static struct run r;
	confs("", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	run_exchange(&h, NULL, &r);
	/* Four NAT-T versions, then DPD's; the echo, then DPD's. */
	assert_int_equal(r.mm[0].n_vendor, 5);
	assert_int_equal(r.mm[1].n_vendor, 2);
	assert_memory_equal(r.mm[1].vendor[0].p, vid_rfc, 16);
	assert_int_equal(r.mm[2].natd_type, ISAKMP_PL_NAT_D);
	assert_int_equal(r.mm[2].n_natd, 2);
	assert_int_equal(r.mm[3].natd_type, ISAKMP_PL_NAT_D);
	assert_int_equal(h_first_sa(&h.a)->v1->natt_ver, NATT_RFC3947);
	assert_int_equal(h_first_sa(&h.b)->v1->natt_ver, NATT_RFC3947);
	assert_false(h_first_sa(&h.a)->natt);
	assert_int_equal(encap_of(&r.qm1), ISAKMP_ENCAP_TUNNEL);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	run_free(&r);
	h_free(&h);
}

/* A draft-02 peer over a NAT (forced here with encap = yes): the responder echoes
 * draft-02, NAT-D payloads are type 130, Quick Mode proposes UDP-Encapsulated-Tunnel
 * as 61443, and the SAs come up UDP-encapsulated on 4500. */
static void test_draft02_peer(void **state)
{
	struct harness h;
	static struct run r;
	confs("    encap = yes\n", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	run_exchange(&h, only_draft02, &r);
	assert_int_equal(r.mm[1].n_vendor, 2);	/* the echo and DPD's */
	assert_memory_equal(r.mm[1].vendor[0].p, vid_d02, 16);
	assert_int_equal(h_first_sa(&h.a)->v1->natt_ver, NATT_DRAFT_02);
	assert_int_equal(h_first_sa(&h.b)->v1->natt_ver, NATT_DRAFT_02);
	assert_int_equal(r.mm[2].natd_type, ISAKMP_PL_NAT_D_DRAFT);
	assert_int_equal(r.mm[3].natd_type, ISAKMP_PL_NAT_D_DRAFT);
	assert_int_equal(r.mm[3].n_natd, 2);
	assert_int_equal(encap_of(&r.qm1), ISAKMP_ENCAP_UDP_TUNNEL_DRAFT);
	assert_int_equal(encap_of(&r.qm2), ISAKMP_ENCAP_UDP_TUNNEL_DRAFT);
	assert_int_equal(r.qm1.n_natoa, 0);	/* tunnel mode: no NAT-OA */
	const struct ike_sa *sb = h_first_sa(&h.b);
	assert_true(sb->natt);
	assert_int_equal(sb->remote.port, 4500);
	assert_non_null(sb->children);
	assert_true(sb->children->encap);
	const struct pfkey_sa *p = h_find_sa(&h.b, sb->children->spi_in);
	assert_non_null(p);
	assert_int_equal(p->natt_type, UDP_ENCAP_ESPINUDP);
	run_free(&r);
	h_free(&h);
}

/* A draft-03 peer (RFC 3947's vendor ID spoiled, draft-03 and 02 left): 03 is echoed. */
static void test_draft03_best(void **state)
{
	struct harness h;
	static struct run r;
	confs("    encap = yes\n", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	run_exchange(&h, only_draft03, &r);
	assert_int_equal(r.mm[1].n_vendor, 2);	/* the echo and DPD's */
	assert_memory_equal(r.mm[1].vendor[0].p, vid_d03, 16);
	assert_int_equal(h_first_sa(&h.b)->v1->natt_ver, NATT_DRAFT_03);
	assert_int_equal(encap_of(&r.qm1), ISAKMP_ENCAP_UDP_TUNNEL_DRAFT);
	assert_int_equal(h_count_children(&h.b), 1);
	run_free(&r);
	h_free(&h);
}

/* Transport mode over a NAT: both Quick Mode messages carry NAT-OAi and NAT-OAr, the
 * original addresses (RFC numbers; draft numbers with a draft peer). */
static void test_natoa_transport(void **state)
{
	for (int drafted = 0; drafted < 2; drafted++) {
		struct harness h;
		static struct run r;
		struct h_log_count lc;
		confs("    encap = yes\n", "transport");
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		h_log_capture_start(&lc, "NAT-OA");
		run_exchange(&h, drafted ? only_draft02 : NULL, &r);
		h_log_capture_stop(&lc);
		assert_int_equal(encap_of(&r.qm1), drafted ? ISAKMP_ENCAP_UDP_TRANSPORT_DRAFT :
							     ISAKMP_ENCAP_UDP_TRANSPORT);
		for (int i = 0; i < 2; i++) {
			const struct isakmp_payloads *pl = i ? &r.qm2 : &r.qm1;
			char s[ADDR_STRLEN];
			assert_int_equal(pl->n_natoa, 2);
			assert_string_equal(addr_ntop(&pl->natoa[0].addr, s, sizeof(s)), "192.0.2.1");
			assert_string_equal(addr_ntop(&pl->natoa[1].addr, s, sizeof(s)),
					    "198.51.100.2");
		}
		/* The payload type itself, in the decrypted QM1's chain. */
		assert_true(chain_has(r.p1.data, r.p1.len, ISAKMP_PL_HASH,
				      drafted ? ISAKMP_PL_NAT_OA_DRAFT : ISAKMP_PL_NAT_OA));
		assert_non_null(strstr(lc.first, "NAT-OA: initiator 192.0.2.1, responder 198.51.100.2"));
		assert_int_equal(h_count_children(&h.a), 1);
		assert_int_equal(h_count_children(&h.b), 1);
		assert_int_equal(h_first_sa(&h.b)->children->mode, MODE_TRANSPORT);
		run_free(&r);
		h_free(&h);
	}
}

/* NAT-T keepalives: the side behind the NAT (forced: encap = yes) sends them every
 * natt_keepalive seconds (20 in the harness); the other side sends none. */
static void test_keepalives(void **state)
{
	struct harness h;
	char err[256];
	confs("    encap = yes\n", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 1);
	h_advance(&h, 65000);
	assert_true(h.a.keepalives >= 3);
	assert_true(h.a.keepalives <= 4);
	assert_int_equal(h.b.keepalives, 0);
	h_free(&h);
}

/* A peer without NAT-T vendor IDs: none echoed, no NAT-D, nothing floats. */
static void no_natt(struct h_wire_msg *w)
{
	spoil(w, vid_rfc);
	spoil(w, vid_d03);
	spoil(w, vid_d02n);
	spoil(w, vid_d02);
}

static void test_no_natt_peer(void **state)
{
	struct harness h;
	static struct run r;
	confs("    encap = yes\n", "tunnel");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	run_exchange(&h, no_natt, &r);
	assert_int_equal(r.mm[1].n_vendor, 1);	/* DPD's only */
	assert_int_equal(r.mm[2].n_natd, 0);
	assert_int_equal(r.mm[3].n_natd, 0);
	assert_false(h_first_sa(&h.a)->natt);
	assert_int_equal(encap_of(&r.qm1), ISAKMP_ENCAP_TUNNEL);
	assert_int_equal(h_count_children(&h.b), 1);
	run_free(&r);
	h_free(&h);
}

int main(void)
{
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vids_read),
		cmocka_unit_test(test_unknown_vids_rate_limited),
		cmocka_unit_test(test_natt_numbers),
		cmocka_unit_test(test_rfc3947_preferred),
		cmocka_unit_test(test_draft02_peer),
		cmocka_unit_test(test_draft03_best),
		cmocka_unit_test(test_natoa_transport),
		cmocka_unit_test(test_keepalives),
		cmocka_unit_test(test_no_natt_peer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
