/* ike/v1/isakmp_sa.c: SA payloads built from proposals, parsed back and selected as
 * responder (Phase 1 and Phase 2, PFS, AEAD, lifetimes, encapsulation modes), the
 * responder's echo, and the reasons given when nothing fits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/proposal.h"
#include "ike/v1/isakmp_msg.h"
#include "ike/v1/isakmp_sa.h"

static struct isakmp_payloads *pl;
static struct isakmp_builder k;

static int setup(void **state)
{
	pl = calloc(1, sizeof(*pl));
	isb_init(&k);
	return pl ? 0 : -1;
}

static int teardown(void **state)
{
	isb_free(&k);
	free(pl);
	return 0;
}

static size_t props(const char *text, enum proto_id proto, struct proposal *out)
{
	char err[128];
	int n = proposal_parse(text, proto, out, 8, err, sizeof(err));
	if (n <= 0)
		fail_msg("%s: %s", text, err);
	for (int i = 0; i < n; i++)
		if (proto == PROTO_ESP)
			memcpy(out[i].spi, "\xc1\x00\x00\x01", 4);
	return (size_t)n;
}

static void parse_built(void)
{
	const char *err;
	assert_false(k.b.oom);
	if (isakmp_parse_payloads(k.first, k.b.data, k.b.len, 0, pl, &err) < 0)
		fail_msg("built SA does not parse: %s", err);
	assert_true(pl->has_sa);
}

static void test_phase1(void **state)
{
	struct proposal init[8], mine[8];
	struct isakmp_sa_params par = { .life_seconds = 10800, .life_kbytes = 100000 };
	struct isakmp_choice c;
	char why[512];

	size_t ni = props("aes256-sha256-modp2048,aes128-sha1-modp1536", PROTO_IKE, init);
	assert_int_equal(isakmp_sa_build_p1(&k, init, ni, &par), 0);
	parse_built();
	assert_int_equal(pl->n_props, 1);
	assert_int_equal(pl->props[0].protocol, ISAKMP_PROTO_ISAKMP);
	assert_int_equal(pl->props[0].n_xf, 2);

	size_t nm = props("aes128-sha1-modp1536", PROTO_IKE, mine);
	assert_true(isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why)));
	assert_int_equal(c.xf.num, 2);
	assert_int_equal(proposal_get(&c.prop, XF_ENCR)->id, ENCR_AES_CBC);
	assert_int_equal(proposal_get(&c.prop, XF_ENCR)->keylen, 128);
	assert_int_equal(proposal_get(&c.prop, XF_PRF)->id, PRF_HMAC_SHA1);
	assert_int_equal(proposal_get(&c.prop, XF_INTEG)->id, INTEG_HMAC_SHA1_96);
	assert_int_equal(proposal_get(&c.prop, XF_DH)->id, DH_MODP1536);
	assert_int_equal(c.params.auth_method, ISAKMP_AUTH_PSK);
	assert_int_equal(c.params.life_seconds, 10800);
	assert_int_equal(c.params.life_kbytes, 100000);	/* variable-length attribute */

	/* the reply carries the chosen transform as it came */
	struct isakmp_builder r;
	struct isakmp_payloads *again = calloc(1, sizeof(*again));
	const char *err;
	struct rd rd;
	struct isakmp_transform t;
	isb_init(&r);
	isakmp_sa_build_reply(&r, pl, &c, NULL, 0);
	assert_int_equal(isakmp_parse_payloads(r.first, r.b.data, r.b.len, 0, again, &err), 0);
	assert_int_equal(again->n_props, 1);
	assert_int_equal(again->props[0].n_xf, 1);
	rd_init(&rd, again->props[0].xforms, again->props[0].xforms_len);
	assert_true(isakmp_next_transform(&rd, &t));
	assert_int_equal(t.num, 2);
	assert_int_equal(t.attrs_len, c.xf.attrs_len);
	assert_memory_equal(t.attrs, c.xf.attrs, t.attrs_len);
	isb_free(&r);
	free(again);
}

static void test_phase1_mismatch(void **state)
{
	struct proposal init[8], mine[8];
	struct isakmp_sa_params par = { .life_seconds = 3600 };
	struct isakmp_choice c;
	char why[512];

	size_t ni = props("3des-md5-modp1024", PROTO_IKE, init);
	assert_int_equal(isakmp_sa_build_p1(&k, init, ni, &par), 0);
	parse_built();
	size_t nm = props("aes128-sha256-modp2048,3des-md5-modp2048", PROTO_IKE, mine);
	assert_false(isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why)));
	if (!strstr(why, "proposal 1 transform 1: DH group MODP_1024 not configured"))
		fail_msg("why: %s", why);
	/* AEAD-only IKE proposals have no IKEv1 form */
	isb_free(&k);
	isb_init(&k);
	ni = props("aes128gcm16-prfsha256-modp2048", PROTO_IKE, init);
	assert_int_equal(isakmp_sa_build_p1(&k, init, ni, &par), -1);
}

/* A hand-made Phase 1 transform with one odd attribute. */
static void p1_odd(uint16_t auth, uint16_t extra_attr, const char *want)
{
	struct proposal mine[8];
	struct isakmp_choice c;
	char why[512];
	isb_free(&k);
	isb_init(&k);
	size_t sa = isb_sa_begin(&k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
	size_t p = isb_proposal_begin(&k.b, true, 1, ISAKMP_PROTO_ISAKMP, NULL, 0, 1);
	size_t t = isb_transform_begin(&k.b, true, 1, ISAKMP_KEY_IKE);
	isb_attr_basic(&k.b, P1_ENCR, P1_ENCR_AES_CBC);
	isb_attr_basic(&k.b, P1_KEY_LENGTH, 128);
	isb_attr_basic(&k.b, P1_HASH, P1_HASH_SHA1);
	isb_attr_basic(&k.b, P1_AUTH, auth);
	isb_attr_basic(&k.b, P1_GROUP, 14);
	if (extra_attr == P1_LIFE_DURATION)
		isb_attr_basic(&k.b, P1_LIFE_DURATION, 60);	/* no life type before */
	else if (extra_attr)
		isb_attr_basic(&k.b, extra_attr, 1);
	isb_sub_end(&k.b, t);
	isb_sub_end(&k.b, p);
	isb_end(&k, sa);
	parse_built();
	size_t nm = props("aes128-sha1-modp2048", PROTO_IKE, mine);
	bool ok = isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why));
	if (!want) {
		assert_true(ok);
		return;
	}
	assert_false(ok);
	if (!strstr(why, want))
		fail_msg("why: %s (want %s)", why, want);
}

static void test_phase1_attributes(void **state)
{
	p1_odd(ISAKMP_AUTH_PSK, 0, NULL);
	p1_odd(8, 0, "authentication method 8 not supported");
	p1_odd(12, 0, "authentication method 12 not supported");
	p1_odd(9, 0, NULL);		/* ECDSA (RFC 4754) */
	p1_odd(11, 0, NULL);
	p1_odd(3, 0, NULL);		/* RSA signatures */
	p1_odd(65005, 0, NULL);		/* XAUTHInitRSA */
	p1_odd(65003, 0, "authentication method 65003 not supported");	/* XAUTHInitDSS */
	p1_odd(ISAKMP_AUTH_PSK, 13, "attribute 13 not supported");	/* PRF */
	p1_odd(ISAKMP_AUTH_PSK, P1_LIFE_DURATION, "malformed lifetime");
}

static void test_phase2_pfs(void **state)
{
	struct proposal init[8], mine[8];
	struct isakmp_sa_params par = { .encap = ISAKMP_ENCAP_UDP_TUNNEL, .life_seconds = 3600 };
	struct isakmp_choice c;
	char why[512];

	size_t ni = props("aes128-sha256-modp2048,aes256gcm16-modp2048", PROTO_ESP, init);
	assert_int_equal(isakmp_sa_build_p2(&k, init, ni, &par), 0);
	parse_built();
	assert_int_equal(pl->n_props, 2);
	assert_int_equal(pl->props[0].protocol, ISAKMP_PROTO_ESP);
	assert_memory_equal(pl->props[0].spi, "\xc1\x00\x00\x01", 4);

	size_t nm = props("aes256gcm16-modp2048", PROTO_ESP, mine);
	assert_true(isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why)));
	assert_int_equal(c.their_prop->num, 2);
	assert_int_equal(proposal_get(&c.prop, XF_ENCR)->id, ENCR_AES_GCM_16);
	assert_int_equal(proposal_get(&c.prop, XF_ENCR)->keylen, 256);
	assert_null(proposal_get(&c.prop, XF_INTEG));
	assert_int_equal(proposal_get(&c.prop, XF_DH)->id, DH_MODP2048);
	assert_int_equal(c.prop.spi_len, 4);
	assert_memory_equal(c.prop.spi, "\xc1\x00\x00\x01", 4);
	assert_int_equal(c.params.encap, ISAKMP_ENCAP_UDP_TUNNEL);
	assert_true(isakmp_encap_is_udp(c.params.encap) && isakmp_encap_is_tunnel(c.params.encap));
	assert_int_equal(c.params.life_seconds, 3600);

	/* we want no PFS: a proposal with a group does not fit */
	nm = props("aes128-sha256", PROTO_ESP, mine);
	assert_false(isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why)));
	if (!strstr(why, "DH group MODP_2048 not configured"))
		fail_msg("why: %s", why);
}

static void test_phase2_no_pfs_and_bundles(void **state)
{
	struct proposal init[8], mine[8];
	struct isakmp_sa_params par = { .encap = ISAKMP_ENCAP_UDP_TRANSPORT_DRAFT };
	struct isakmp_choice c;
	char why[512];

	size_t ni = props("aes128-sha1", PROTO_ESP, init);
	assert_int_equal(isakmp_sa_build_p2(&k, init, ni, &par), 0);
	parse_built();
	size_t nm = props("aes128-sha1-modp2048", PROTO_ESP, mine);
	assert_false(isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why)));
	if (!strstr(why, "no PFS group proposed"))
		fail_msg("why: %s", why);
	nm = props("aes128-sha1", PROTO_ESP, mine);
	assert_true(isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why)));
	assert_false(isakmp_encap_is_tunnel(c.params.encap));
	assert_true(isakmp_encap_is_udp(c.params.encap));

	/* ESP + IPCOMP under one proposal number: skipped, with a reason */
	isb_free(&k);
	isb_init(&k);
	size_t sa = isb_sa_begin(&k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
	size_t p = isb_proposal_begin(&k.b, false, 1, ISAKMP_PROTO_ESP,
				      (const uint8_t *)"\1\2\3\4", 4, 1);
	size_t t = isb_transform_begin(&k.b, true, 1, ENCR_AES_CBC);
	isb_attr_basic(&k.b, P2_AUTH, P2_AUTH_HMAC_SHA1);
	isb_sub_end(&k.b, t);
	isb_sub_end(&k.b, p);
	p = isb_proposal_begin(&k.b, true, 1, ISAKMP_PROTO_IPCOMP, (const uint8_t *)"\0\1", 2, 1);
	isb_sub_end(&k.b, isb_transform_begin(&k.b, true, 1, 2));
	isb_sub_end(&k.b, p);
	isb_end(&k, sa);
	parse_built();
	assert_false(isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why)));
	if (!strstr(why, "protocol bundles"))
		fail_msg("why: %s", why);
}

/* Legacy algorithms (3DES, MD5 / HMAC-MD5-96, MODP 1024 and 1536) are chosen only
 * when the connection names them: the default proposals refuse a peer that offers
 * only those, in Phase 1 and Phase 2; named, they are selected. */
static void select_one(const char *offer, enum proto_id proto, const char *mine_text, bool want)
{
	struct proposal init[8], mine[8];
	struct isakmp_sa_params par = { .life_seconds = 3600 };
	struct isakmp_choice c;
	char why[512];
	isb_free(&k);
	isb_init(&k);
	size_t ni = props(offer, proto, init);
	if (proto == PROTO_IKE)
		assert_int_equal(isakmp_sa_build_p1(&k, init, ni, &par), 0);
	else
		assert_int_equal(isakmp_sa_build_p2(&k, init, ni, &par), 0);
	parse_built();
	size_t nm = props(mine_text, proto, mine);
	bool ok = isakmp_sa_select(pl, mine, nm, &c, why, sizeof(why));
	if (ok != want)
		fail_msg("%s offered, %s configured: %s (%s)", offer, mine_text,
			 ok ? "selected" : "refused", why);
}

static void test_legacy_only_when_named(void **state)
{
	static const char *const ike[] = { "3des-md5-modp1024", "3des-sha1-modp2048",
					   "aes128-md5-modp2048", "aes128-sha1-modp1024",
					   "aes128-sha1-modp1536" };
	static const char *const esp[] = { "3des-sha1", "aes128-md5", "aes128-sha1-modp1024",
					   "aes128-sha1-modp1536" };
	for (size_t i = 0; i < sizeof(ike) / sizeof(ike[0]); i++) {
		select_one(ike[i], PROTO_IKE, "default", false);
		select_one(ike[i], PROTO_IKE, ike[i], true);
	}
	for (size_t i = 0; i < sizeof(esp) / sizeof(esp[0]); i++) {
		select_one(esp[i], PROTO_ESP, "default", false);
		select_one(esp[i], PROTO_ESP, esp[i], true);
	}
	/* and the defaults themselves offer none of them */
	struct proposal def[8];
	size_t n = props("default", PROTO_IKE, def);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < def[i].n_xf; j++) {
			const struct xform *x = &def[i].xf[j];
			assert_false(x->type == XF_ENCR && x->id == ENCR_3DES);
			assert_false(x->type == XF_INTEG && x->id == INTEG_HMAC_MD5_96);
			assert_false(x->type == XF_PRF && x->id == PRF_HMAC_MD5);
			assert_false(x->type == XF_DH && (x->id == DH_MODP1024 || x->id == DH_MODP1536));
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_phase1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phase1_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phase1_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phase2_pfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phase2_no_pfs_and_bundles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_only_when_named, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
