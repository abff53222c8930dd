/* ike/v1/isakmp_attr.c: the Attribute payload of XAuth and Mode Config built and parsed
 * back inside a whole payload chain, the bytes strongSwan sends, and malformed input:
 * each check of the parser is hit, and unknown or repeated attributes are counted (and
 * kept) rather than refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/v1/isakmp_attr.h"
#include "lib/buf.h"

static struct isakmp_payloads pl;
static struct isakmp_cfg cfg;

/* Builds HASH + one Attribute payload and parses the chain, then the attributes. */
static int round_trip(struct isakmp_builder *k, const char **err)
{
	if (isakmp_parse_payloads(k->first, k->b.data, k->b.len, 0, &pl, err) < 0)
		return -1;
	return isakmp_cfg_parse(pl.attr.p, pl.attr.len, &cfg, err);
}

static void test_xauth_request_round_trip(void **state)
{
	struct isakmp_builder k;
	const char *err = NULL;
	isb_init(&k);
	isb_hash(&k, NULL, 32);
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_REQUEST, 0x1234);
	isb_attr_basic(&k.b, XAUTH_TYPE, XAUTH_TYPE_GENERIC);
	isb_attr_var(&k.b, XAUTH_USER_NAME, NULL, 0);
	isb_attr_var(&k.b, XAUTH_USER_PASSWORD, NULL, 0);
	isb_end(&k, off);
	assert_int_equal(round_trip(&k, &err), 0);
	assert_true(pl.has_hash);
	assert_int_equal(cfg.type, ISAKMP_CFG_REQUEST);
	assert_int_equal(cfg.id, 0x1234);
	assert_int_equal(cfg.n_attrs, 3);
	assert_int_equal(cfg.n_unknown + cfg.n_repeated, 0);
	const struct isakmp_attr *t = isakmp_cfg_find(&cfg, XAUTH_TYPE);
	assert_non_null(t);
	assert_true(t->basic);
	assert_int_equal(t->value, XAUTH_TYPE_GENERIC);
	const struct isakmp_attr *u = isakmp_cfg_find(&cfg, XAUTH_USER_NAME);
	assert_non_null(u);
	assert_false(u->basic);
	assert_int_equal(u->len, 0);
	assert_null(isakmp_cfg_find(&cfg, XAUTH_STATUS));
	isb_free(&k);
}

static void test_modecfg_reply_round_trip(void **state)
{
	static const uint8_t ip[4] = { 10, 3, 0, 1 }, mask[4] = { 255, 255, 255, 0 };
	static const uint8_t dns1[4] = { 10, 2, 0, 53 }, dns2[4] = { 10, 2, 0, 54 };
	static const uint8_t split[28] = { 10, 2, 0, 0, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0,
					    10, 9, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct isakmp_builder k;
	const char *err = NULL;
	isb_init(&k);
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_REPLY, 7);
	isb_attr_var(&k.b, CFG_INTERNAL_IP4_ADDRESS, ip, 4);
	isb_attr_var(&k.b, CFG_INTERNAL_IP4_NETMASK, mask, 4);
	isb_attr_var(&k.b, CFG_INTERNAL_IP4_DNS, dns1, 4);
	isb_attr_var(&k.b, CFG_INTERNAL_IP4_DNS, dns2, 4);	/* two DNS: not a repeat */
	isb_attr_var(&k.b, UNITY_DEF_DOMAIN, (const uint8_t *)"example.org", 11);
	isb_attr_var(&k.b, UNITY_SPLIT_INCLUDE, split, sizeof(split));
	isb_end(&k, off);
	assert_int_equal(round_trip(&k, &err), 0);
	assert_int_equal(cfg.type, ISAKMP_CFG_REPLY);
	assert_int_equal(cfg.id, 7);
	assert_int_equal(cfg.n_attrs, 6);
	assert_int_equal(cfg.n_repeated, 0);
	assert_int_equal(cfg.n_unknown, 0);
	assert_memory_equal(isakmp_cfg_find(&cfg, CFG_INTERNAL_IP4_ADDRESS)->data, ip, 4);
	assert_memory_equal(cfg.attrs[3].data, dns2, 4);
	const struct isakmp_attr *d = isakmp_cfg_find(&cfg, UNITY_DEF_DOMAIN);
	assert_int_equal(d->len, 11);
	assert_memory_equal(d->data, "example.org", 11);
	assert_int_equal(isakmp_cfg_find(&cfg, UNITY_SPLIT_INCLUDE)->len, 28);
	isb_free(&k);
}

/* strongSwan 5.9's XAuth reply as it leaves xauth_generic (Attribute payload body). */
static void test_strongswan_reply_bytes(void **state)
{
	static const uint8_t body[] = {
		0x02, 0x00, 0xab, 0xcd,
		0x40, 0x89, 0x00, 0x05, 'a', 'l', 'i', 'c', 'e',		/* USER_NAME */
		0x40, 0x8a, 0x00, 0x04, 'p', 'w', 'd', '1',			/* USER_PASSWORD */
	};
	const char *err = NULL;
	assert_int_equal(isakmp_cfg_parse(body, sizeof(body), &cfg, &err), 0);
	assert_int_equal(cfg.type, ISAKMP_CFG_REPLY);
	assert_int_equal(cfg.id, 0xabcd);
	assert_int_equal(cfg.n_attrs, 2);
	const struct isakmp_attr *u = isakmp_cfg_find(&cfg, XAUTH_USER_NAME);
	assert_int_equal(u->len, 5);
	assert_memory_equal(u->data, "alice", 5);
	assert_int_equal(isakmp_cfg_find(&cfg, XAUTH_USER_PASSWORD)->len, 4);
	/* STATUS as a basic attribute (SET), and the ACK that echoes it. */
	static const uint8_t set[] = { 0x03, 0x00, 0x00, 0x01, 0xc0, 0x8f, 0x00, 0x01 };
	assert_int_equal(isakmp_cfg_parse(set, sizeof(set), &cfg, &err), 0);
	assert_int_equal(cfg.type, ISAKMP_CFG_SET);
	assert_true(isakmp_cfg_find(&cfg, XAUTH_STATUS)->basic);
	assert_int_equal(isakmp_cfg_find(&cfg, XAUTH_STATUS)->value, 1);
}

static void test_unknown_and_repeated_counted(void **state)
{
	static const uint8_t body[] = {
		0x02, 0x00, 0x00, 0x01,
		0x00, 0x01, 0x00, 0x04, 10, 3, 0, 1,		/* INTERNAL_IP4_ADDRESS */
		0x00, 0x01, 0x00, 0x04, 10, 3, 0, 2,		/* ... again: a repeat */
		0x3f, 0x00, 0x00, 0x00,				/* 16128: unknown, empty */
		0xbf, 0x01, 0x00, 0x07,				/* 16129: unknown, basic */
		0x00, 0x03, 0x00, 0x04, 10, 2, 0, 53,		/* DNS */
		0x00, 0x03, 0x00, 0x04, 10, 2, 0, 54,		/* DNS: allowed twice */
	};
	const char *err = NULL;
	assert_int_equal(isakmp_cfg_parse(body, sizeof(body), &cfg, &err), 0);
	assert_int_equal(cfg.n_attrs, 6);
	assert_int_equal(cfg.n_unknown, 2);
	assert_int_equal(cfg.first_unknown, 0x3f00);
	assert_int_equal(cfg.n_repeated, 1);
	assert_int_equal(cfg.first_repeated, CFG_INTERNAL_IP4_ADDRESS);
	/* The first one counts. */
	assert_int_equal(isakmp_cfg_find(&cfg, CFG_INTERNAL_IP4_ADDRESS)->data[3], 1);
	assert_string_equal(isakmp_cfg_attr_name(0x3f00), "UNKNOWN_ATTRIBUTE");
	assert_string_equal(isakmp_cfg_attr_name(XAUTH_STATUS), "XAUTH_STATUS");
	assert_string_equal(isakmp_cfg_type_name(ISAKMP_CFG_ACK), "CFG_ACK");
}

static void expect_refused(const uint8_t *body, size_t len, const char *why)
{
	const char *err = NULL;
	assert_int_equal(isakmp_cfg_parse(body, len, &cfg, &err), -1);
	assert_non_null(err);
	assert_string_equal(err, why);
}

static void test_malformed(void **state)
{
	static const uint8_t short_hdr[] = { 0x01, 0x00, 0x00 };
	expect_refused(short_hdr, sizeof(short_hdr),
		       "attribute payload shorter than its 4-byte header");
	static const uint8_t bad_type[] = { 0x05, 0x00, 0x00, 0x00 };
	expect_refused(bad_type, sizeof(bad_type), "unknown attribute payload type");
	static const uint8_t zero_type[] = { 0x00, 0x00, 0x00, 0x00 };
	expect_refused(zero_type, sizeof(zero_type), "unknown attribute payload type");
	static const uint8_t trunc_len[] = { 0x01, 0x00, 0x00, 0x00, 0x40, 0x89, 0x00 };
	expect_refused(trunc_len, sizeof(trunc_len), "truncated attribute");
	static const uint8_t trunc_val[] = { 0x01, 0x00, 0x00, 0x00, 0x40, 0x89, 0x00, 0x08, 'a' };
	expect_refused(trunc_val, sizeof(trunc_val), "truncated attribute");
	static const uint8_t trunc_basic[] = { 0x01, 0x00, 0x00, 0x00, 0xc0, 0x88, 0x00 };
	expect_refused(trunc_basic, sizeof(trunc_basic), "truncated attribute");
	static const uint8_t odd_byte[] = { 0x01, 0x00, 0x00, 0x00, 0xc0 };
	expect_refused(odd_byte, sizeof(odd_byte), "truncated attribute");

	uint8_t big[4 + 4 + ISAKMP_CFG_MAX_ATTR_LEN + 1] = { 0x02, 0, 0, 0, 0x70, 0x00 };
	big[6] = (ISAKMP_CFG_MAX_ATTR_LEN + 1) >> 8;
	big[7] = (ISAKMP_CFG_MAX_ATTR_LEN + 1) & 0xff;
	expect_refused(big, sizeof(big), "attribute too long");

	uint8_t many[4 + 4 * (ISAKMP_CFG_MAX_ATTRS + 1)] = { 0x01, 0, 0, 0 };
	for (size_t i = 0; i <= ISAKMP_CFG_MAX_ATTRS; i++) {
		many[4 + 4 * i] = 0x00;
		many[5 + 4 * i] = 0x03;		/* empty INTERNAL_IP4_DNS */
	}
	expect_refused(many, sizeof(many), "too many attributes");
	/* Exactly the limit is fine. */
	const char *err = NULL;
	assert_int_equal(isakmp_cfg_parse(many, sizeof(many) - 4, &cfg, &err), 0);
	assert_int_equal(cfg.n_attrs, ISAKMP_CFG_MAX_ATTRS);
	/* An empty one (header only) is a valid ACK. */
	static const uint8_t ack[] = { 0x04, 0x00, 0x00, 0x09 };
	assert_int_equal(isakmp_cfg_parse(ack, sizeof(ack), &cfg, &err), 0);
	assert_int_equal(cfg.n_attrs, 0);
}

/* A second Attribute payload in one message is refused by the chain parser. */
static void test_two_payloads_refused(void **state)
{
	struct isakmp_builder k;
	const char *err = NULL;
	isb_init(&k);
	isb_end(&k, isb_cfg_begin(&k, ISAKMP_CFG_ACK, 1));
	isb_end(&k, isb_cfg_begin(&k, ISAKMP_CFG_ACK, 2));
	assert_int_equal(isakmp_parse_payloads(k.first, k.b.data, k.b.len, 0, &pl, &err), -1);
	assert_string_equal(err, "more than one attribute payload");
	isb_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xauth_request_round_trip),
		cmocka_unit_test(test_modecfg_reply_round_trip),
		cmocka_unit_test(test_strongswan_reply_bytes),
		cmocka_unit_test(test_unknown_and_repeated_counted),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_two_payloads_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
