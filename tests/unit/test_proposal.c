/* ike/proposal.c: strongSwan keywords, defaults, error messages, selection, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ike/proposal.h"

static char err[256];
static char text[2048];

static struct proposal parse1(const char *s, enum proto_id proto)
{
	struct proposal p[2];
	int n = proposal_parse(s, proto, p, 2, err, sizeof(err));
	if (n != 1)
		fail_msg("parsing '%s': %d: %s", s, n, err);
	return p[0];
}

static const char *fmt1(const char *s, enum proto_id proto)
{
	struct proposal p = parse1(s, proto);
	return proposal_fmt(&p, text, sizeof(text));
}

static void expect_error(const char *s, enum proto_id proto, const char *msg)
{
	struct proposal p[4];
	assert_int_equal(proposal_parse(s, proto, p, 4, err, sizeof(err)), -1);
	assert_string_equal(err, msg);
}

static void test_ike_keywords(void **state)
{
	assert_string_equal(fmt1("aes256-sha256-modp2048", PROTO_IKE),
			    "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048");
	assert_string_equal(fmt1("aes128-aes192-sha1-sha384-sha512-md5-modp1024-modp1536",
				 PROTO_IKE),
			    "IKE:AES_CBC_128/AES_CBC_192/HMAC_SHA1_96/HMAC_SHA2_384_192/"
			    "HMAC_SHA2_512_256/HMAC_MD5_96/PRF_HMAC_SHA1/PRF_HMAC_SHA2_384/"
			    "PRF_HMAC_SHA2_512/PRF_HMAC_MD5/MODP_1024/MODP_1536");
	assert_string_equal(fmt1("3des-sha-prfmd5-modp3072-modp4096-modp6144-modp8192",
				 PROTO_IKE),
			    "IKE:3DES_CBC/HMAC_SHA1_96/PRF_HMAC_MD5/MODP_3072/MODP_4096/"
			    "MODP_6144/MODP_8192");
	assert_string_equal(fmt1("aes-sha2_256-prfsha1-prfsha384-ecp256-ecp384-ecp521-x25519"
				 "-curve25519", PROTO_IKE),
			    "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA1/PRF_HMAC_SHA2_384/"
			    "ECP_256/ECP_384/ECP_521/CURVE_25519");
	/* order of kinds does not matter; explicit PRF suppresses derivation */
	assert_string_equal(fmt1("modp2048-prfsha512-sha256-aes256", PROTO_IKE),
			    "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_512/MODP_2048");
	/* keywords are case-insensitive, blanks around are ignored */
	assert_string_equal(fmt1(" AES256-SHA256-MODP2048 ", PROTO_IKE),
			    "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048");
}

static void test_aead_keywords(void **state)
{
	assert_string_equal(fmt1("aes256gcm16-prfsha256-x25519", PROTO_IKE),
			    "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519");
	assert_string_equal(fmt1("aes128gcm-aes128gcm16-aes128gcm128-prfsha256-ecp256",
				 PROTO_IKE),
			    "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256");
	assert_string_equal(fmt1("aes128gcm8-aes192gcm12-aes256gcm64-aes128gcm96-"
				 "aes192gcm16-aes256gcm-prfsha384-modp2048", PROTO_IKE),
			    "IKE:AES_GCM_8_128/AES_GCM_12_192/AES_GCM_8_256/AES_GCM_12_128/"
			    "AES_GCM_16_192/AES_GCM_16_256/PRF_HMAC_SHA2_384/MODP_2048");
	assert_string_equal(fmt1("chacha20poly1305-prfsha256-x25519", PROTO_IKE),
			    "IKE:CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519");
	/* integrity with AEAD: gives the PRF, then is dropped (MUST NOT be proposed) */
	assert_string_equal(fmt1("aes128gcm16-sha256-ecp256", PROTO_IKE),
			    "IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256");
}

static void test_esp_keywords(void **state)
{
	assert_string_equal(fmt1("aes128-sha256", PROTO_ESP),
			    "ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ");
	assert_string_equal(fmt1("aes256gcm16-modp2048-esn", PROTO_ESP),
			    "ESP:AES_GCM_16_256/MODP_2048/EXT_SEQ");
	assert_string_equal(fmt1("aes256gcm16-esn-noesn", PROTO_ESP),
			    "ESP:AES_GCM_16_256/EXT_SEQ/NO_EXT_SEQ");
	/* PRFs mean nothing for ESP and are dropped */
	assert_string_equal(fmt1("aes128-sha1-prfsha256-ecp256", PROTO_ESP),
			    "ESP:AES_CBC_128/HMAC_SHA1_96/ECP_256/NO_EXT_SEQ");
	assert_string_equal(fmt1("aes128-sha256-modp2048-none", PROTO_ESP),
			    "ESP:AES_CBC_128/HMAC_SHA2_256_128/MODP_2048/MODP_NONE/NO_EXT_SEQ");
	struct proposal p = parse1("aes128-sha256", PROTO_ESP);
	assert_int_equal(p.spi_len, 4);
	assert_false(proposal_has_dh(&p));
	p = parse1("aes128-sha256-ecp256", PROTO_ESP);
	assert_true(proposal_has_dh(&p));
}

static void test_defaults(void **state)
{
	struct proposal p[4];
	assert_int_equal(proposal_parse("default", PROTO_IKE, p, 4, err, sizeof(err)), 2);
	assert_int_equal(p[0].num, 1);
	assert_int_equal(p[1].num, 2);
	proposal_list_fmt(p, 2, text, sizeof(text));
	assert_string_equal(text,
		"IKE:AES_CBC_128/AES_CBC_192/AES_CBC_256/HMAC_SHA2_256_128/HMAC_SHA2_384_192/"
		"HMAC_SHA2_512_256/HMAC_SHA1_96/PRF_HMAC_SHA2_256/PRF_HMAC_SHA2_384/"
		"PRF_HMAC_SHA2_512/PRF_HMAC_SHA1/ECP_256/ECP_384/ECP_521/CURVE_25519/"
		"MODP_3072/MODP_4096/MODP_6144/MODP_8192/MODP_2048, "
		"IKE:AES_GCM_16_128/AES_GCM_16_192/AES_GCM_16_256/CHACHA20_POLY1305/"
		"AES_GCM_12_128/AES_GCM_12_192/AES_GCM_12_256/AES_GCM_8_128/AES_GCM_8_192/"
		"AES_GCM_8_256/PRF_HMAC_SHA2_256/PRF_HMAC_SHA2_384/PRF_HMAC_SHA2_512/"
		"PRF_HMAC_SHA1/ECP_256/ECP_384/ECP_521/CURVE_25519/MODP_3072/MODP_4096/"
		"MODP_6144/MODP_8192/MODP_2048");
	assert_int_equal(proposal_first_dh(p, 2), DH_ECP256);
	assert_false(proposal_allows_dh(p, 2, DH_MODP1024));
	assert_false(proposal_allows_dh(p, 2, DH_MODP1536));

	assert_int_equal(proposal_parse("default", PROTO_ESP, p, 4, err, sizeof(err)), 2);
	proposal_list_fmt(p, 2, text, sizeof(text));
	assert_string_equal(text,
		"ESP:AES_GCM_16_128/AES_GCM_16_192/AES_GCM_16_256/NO_EXT_SEQ, "
		"ESP:AES_CBC_128/AES_CBC_192/AES_CBC_256/HMAC_SHA2_256_128/HMAC_SHA2_384_192/"
		"HMAC_SHA2_512_256/HMAC_SHA1_96/NO_EXT_SEQ");
	assert_false(proposal_has_dh(&p[0]));

	/* a list: numbering continues */
	assert_int_equal(proposal_parse("aes128-sha256-ecp256, default", PROTO_IKE, p, 4,
					err, sizeof(err)), 3);
	assert_int_equal(p[2].num, 3);
	assert_int_equal(proposal_parse("default", PROTO_IKE, p, 1, err, sizeof(err)), -1);
}

static void test_errors(void **state)
{
	expect_error("aes257-sha256-modp2048", PROTO_IKE,
		     "unknown algorithm 'aes257' in proposal 'aes257-sha256-modp2048'");
	expect_error("aes128-modp2048", PROTO_IKE, "transform without integrity: 'aes128-modp2048'");
	expect_error("aes128", PROTO_ESP, "transform without integrity: 'aes128'");
	expect_error("aes128-aes128gcm16-sha256-modp2048", PROTO_IKE,
		     "AEAD and non-AEAD ciphers mixed in proposal "
		     "'aes128-aes128gcm16-sha256-modp2048'");
	expect_error("aes128gcm16-modp2048", PROTO_IKE,
		     "no PRF in IKE proposal 'aes128gcm16-modp2048' (add e.g. prfsha256)");
	expect_error("aes128-sha256", PROTO_IKE, "no DH group in IKE proposal 'aes128-sha256'");
	expect_error("aes128-sha256-none", PROTO_IKE,
		     "no DH group in IKE proposal 'aes128-sha256-none'");
	expect_error("sha256-modp2048", PROTO_IKE,
		     "no encryption algorithm in proposal 'sha256-modp2048'");
	expect_error("aes128--sha256", PROTO_ESP,
		     "unknown algorithm '' in proposal 'aes128--sha256'");
	expect_error("camellia128-sha256", PROTO_ESP,
		     "unknown algorithm 'camellia128' in proposal 'camellia128-sha256'");
	expect_error("aes128-sha256,", PROTO_ESP, "empty proposal in 'aes128-sha256,'");
	struct proposal p[1];
	assert_int_equal(proposal_parse("aes128-sha256", PROTO_AH, p, 1, err, sizeof(err)), -1);
}

/* Builds "their" proposal from keywords, with a number and SPI as on the wire. */
static struct proposal theirs(const char *s, enum proto_id proto, uint8_t num)
{
	struct proposal p = parse1(s, proto);
	p.num = num;
	p.spi_len = proto == PROTO_IKE ? 0 : 4;
	memcpy(p.spi, "\x11\x22\x33\x44", 4);
	return p;
}

static const char *select_fmt(const char *mine_s, const char **theirs_s, size_t n_theirs,
			      enum proto_id proto)
{
	struct proposal mine[4], their[4], chosen;
	int n = proposal_parse(mine_s, proto, mine, 4, err, sizeof(err));
	assert_true(n > 0);
	for (size_t i = 0; i < n_theirs; i++)
		their[i] = theirs(theirs_s[i], proto, (uint8_t)(i + 1));
	if (!proposal_select(mine, (size_t)n, their, n_theirs, &chosen))
		return NULL;
	return proposal_fmt(&chosen, text, sizeof(text));
}

static void test_select_ours_first(void **state)
{
	/* our first proposal wins even though the peer prefers the other one */
	const char *t[] = { "aes128-sha256-modp2048", "aes256gcm16-prfsha384-ecp384" };
	assert_string_equal(select_fmt("aes256gcm16-prfsha384-ecp384,aes128-sha256-modp2048",
				       t, 2, PROTO_IKE),
			    "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384");
	/* within a proposal our transform order wins too */
	const char *t2[] = { "aes128-aes256-sha1-sha256-modp2048-ecp256" };
	assert_string_equal(select_fmt("aes256-aes128-sha256-sha1-ecp256-modp2048", t2, 1,
				       PROTO_IKE),
			    "IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256");
	/* chosen carries their number and SPI */
	struct proposal mine[2], their[2], chosen;
	assert_int_equal(proposal_parse("aes128-sha256-ecp256", PROTO_ESP, mine, 2, err,
					sizeof(err)), 1);
	their[0] = theirs("aes256-sha256", PROTO_ESP, 1);
	their[1] = theirs("aes128-sha256-ecp256", PROTO_ESP, 7);
	assert_true(proposal_select(mine, 1, their, 2, &chosen));
	assert_int_equal(chosen.num, 7);
	assert_int_equal(chosen.spi_len, 4);
	assert_memory_equal(chosen.spi, "\x11\x22\x33\x44", 4);
	assert_int_equal(chosen.n_xf, 4);
	assert_int_equal(proposal_get(&chosen, XF_ENCR)->keylen, 128);
	assert_int_equal(proposal_get(&chosen, XF_DH)->id, DH_ECP256);
	assert_int_equal(proposal_get(&chosen, XF_ESN)->id, ESN_NO);
	assert_null(proposal_get(&chosen, XF_PRF));
}

static void test_select_aead_and_classic(void **state)
{
	/* default against an AEAD-only peer picks from our AEAD proposal */
	const char *t[] = { "chacha20poly1305-prfsha256-x25519" };
	assert_string_equal(select_fmt("default", t, 1, PROTO_IKE),
			    "IKE:CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519");
	const char *t2[] = { "aes256-sha1-modp2048" };
	assert_string_equal(select_fmt("default", t2, 1, PROTO_IKE),
			    "IKE:AES_CBC_256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048");
	/* AEAD vs classic never matches */
	const char *t3[] = { "aes128-sha256-modp2048" };
	assert_null(select_fmt("aes128gcm16-prfsha256-modp2048", t3, 1, PROTO_IKE));
}

static void test_select_mismatches(void **state)
{
	/* DH mismatch */
	const char *t[] = { "aes128-sha256-modp2048" };
	assert_null(select_fmt("aes128-sha256-ecp256", t, 1, PROTO_IKE));
	/* key lengths must match */
	const char *t2[] = { "aes128-sha256-modp2048" };
	assert_null(select_fmt("aes256-sha256-modp2048", t2, 1, PROTO_IKE));
	const char *t3[] = { "aes128gcm16-prfsha256-modp2048" };
	assert_null(select_fmt("aes256gcm16-prfsha256-modp2048", t3, 1, PROTO_IKE));
	/* integrity mismatch, PRF mismatch */
	const char *t4[] = { "aes128-sha1-modp2048" };
	assert_null(select_fmt("aes128-sha256-modp2048", t4, 1, PROTO_IKE));
	const char *t5[] = { "aes128-sha256-prfsha384-modp2048" };
	assert_null(select_fmt("aes128-sha256-modp2048", t5, 1, PROTO_IKE));
	/* 3DES/MD5/MODP1024 only when configured */
	const char *t6[] = { "3des-md5-modp1024" };
	assert_null(select_fmt("default", t6, 1, PROTO_IKE));
	assert_non_null(select_fmt("3des-md5-modp1024", t6, 1, PROTO_IKE));
	/* protocol mismatch */
	struct proposal mine[1], their[1], chosen;
	assert_int_equal(proposal_parse("aes128-sha256", PROTO_ESP, mine, 1, err,
					sizeof(err)), 1);
	their[0] = theirs("aes128-sha256-modp2048", PROTO_IKE, 1);
	assert_false(proposal_select(mine, 1, their, 1, &chosen));
}

static void test_select_esp_pfs(void **state)
{
	/* no PFS on both sides */
	const char *t[] = { "aes256gcm16" };
	assert_string_equal(select_fmt("default", t, 1, PROTO_ESP),
			    "ESP:AES_GCM_16_256/NO_EXT_SEQ");
	/* we want PFS, they don't: refused; they want it, we don't: refused */
	assert_null(select_fmt("aes256gcm16-ecp256", t, 1, PROTO_ESP));
	const char *t2[] = { "aes256gcm16-ecp256" };
	assert_null(select_fmt("aes256gcm16", t2, 1, PROTO_ESP));
	/* both PFS, same group */
	assert_string_equal(select_fmt("aes256gcm16-modp2048-ecp256", t2, 1, PROTO_ESP),
			    "ESP:AES_GCM_16_256/ECP_256/NO_EXT_SEQ");
	/* "none" on our side accepts a peer without PFS */
	assert_string_equal(select_fmt("aes256gcm16-ecp256-none", t, 1, PROTO_ESP),
			    "ESP:AES_GCM_16_256/NO_EXT_SEQ");
	/* ESN must agree */
	const char *t3[] = { "aes256gcm16-esn" };
	assert_null(select_fmt("aes256gcm16", t3, 1, PROTO_ESP));
	assert_string_equal(select_fmt("aes256gcm16-noesn-esn", t3, 1, PROTO_ESP),
			    "ESP:AES_GCM_16_256/EXT_SEQ");
	/* the IKE_AUTH child is selected without DH */
	struct proposal mine[1], their[1], chosen;
	assert_int_equal(proposal_parse("aes128-sha256-ecp256", PROTO_ESP, mine, 1, err,
					sizeof(err)), 1);
	their[0] = theirs("aes128-sha256", PROTO_ESP, 1);
	assert_false(proposal_select(mine, 1, their, 1, &chosen));
	proposal_remove_dh(&mine[0]);
	assert_true(proposal_select(mine, 1, their, 1, &chosen));
}

static void test_promote_dh(void **state)
{
	struct proposal p[4];
	assert_int_equal(proposal_parse("default", PROTO_IKE, p, 4, err, sizeof(err)), 2);
	assert_int_equal(proposal_first_dh(p, 2), DH_ECP256);
	proposal_promote_dh(p, 2, DH_MODP2048);
	assert_int_equal(proposal_first_dh(p, 2), DH_MODP2048);
	assert_int_equal(proposal_first_dh(&p[1], 1), DH_MODP2048);
	assert_true(proposal_allows_dh(p, 2, DH_ECP256));
	/* other transforms keep their places */
	assert_int_equal(p[0].xf[0].type, XF_ENCR);
	proposal_fmt(&p[0], text, sizeof(text));
	assert_non_null(strstr(text, "PRF_HMAC_SHA1/MODP_2048/ECP_256/ECP_384/ECP_521/"
				     "CURVE_25519/MODP_3072/MODP_4096/MODP_6144/MODP_8192"));
}

static void test_names_and_truncation(void **state)
{
	assert_string_equal(encr_name(ENCR_AES_GCM_16), "AES_GCM_16");
	assert_string_equal(integ_name(INTEG_HMAC_SHA2_256_128), "HMAC_SHA2_256_128");
	assert_string_equal(prf_name(PRF_HMAC_SHA2_256), "PRF_HMAC_SHA2_256");
	assert_string_equal(dh_name(DH_CURVE25519), "CURVE_25519");
	assert_string_equal(dh_name(DH_MODP2048), "MODP_2048");
	assert_string_equal(encr_name(999), "UNKNOWN");
	assert_true(encr_is_aead(ENCR_CHACHA20_POLY1305));
	assert_false(encr_is_aead(ENCR_AES_CBC));

	struct proposal p = parse1("aes256-sha256-modp2048", PROTO_IKE);
	p.xf[0].id = 1024;	/* a private-use cipher from a peer */
	assert_string_equal(proposal_fmt(&p, text, sizeof(text)),
			    "IKE:UNKNOWN_1_1024_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048");
	char small[10];
	memset(small, 'x', sizeof(small));
	proposal_fmt(&p, small, sizeof(small));
	assert_int_equal(strlen(small), 9);
	assert_string_equal(small, "IKE:UNKNO");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ike_keywords),
		cmocka_unit_test(test_aead_keywords),
		cmocka_unit_test(test_esp_keywords),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_select_ours_first),
		cmocka_unit_test(test_select_aead_and_classic),
		cmocka_unit_test(test_select_mismatches),
		cmocka_unit_test(test_select_esp_pfs),
		cmocka_unit_test(test_promote_dh),
		cmocka_unit_test(test_names_and_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
