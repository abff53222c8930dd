/* vici/: message codec, printers and the strongSwan-compatible view builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vici/vici_msg.h"
#include "vici/vici_views.h"

/* The encoding example of strongSwan's vici README. */
static const uint8_t readme_example[] = {
	3, 4, 'k', 'e', 'y', '1', 0, 6, 'v', 'a', 'l', 'u', 'e', '1',
	1, 8, 's', 'e', 'c', 't', 'i', 'o', 'n', '1',
	1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',
	3, 4, 'k', 'e', 'y', '2', 0, 6, 'v', 'a', 'l', 'u', 'e', '2',
	2,
	4, 5, 'l', 'i', 's', 't', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '2',
	6,
	2,
};

static void build_readme_example(struct vici_msg *m)
{
	vici_add_kv(m, "key1", "value1");
	vici_begin_section(m, "section1");
	vici_begin_section(m, "sub-section");
	vici_add_kv(m, "key2", "value2");
	vici_end_section(m);
	vici_begin_list(m, "list1");
	vici_add_item(m, "item1");
	vici_add_item(m, "item2");
	vici_end_list(m);
	vici_end_section(m);
}

static void test_builder_matches_readme(void **state)
{
	struct vici_msg m;
	vici_msg_init(&m);
	build_readme_example(&m);
	assert_true(vici_msg_ok(&m));
	assert_int_equal(m.b.len, sizeof(readme_example));
	assert_memory_equal(m.b.data, readme_example, sizeof(readme_example));
	vici_msg_free(&m);
}

static void test_parse_readme(void **state)
{
	char err[128];
	struct ctree *t = vici_parse_message(readme_example, sizeof(readme_example), err,
					     sizeof(err));
	assert_non_null(t);
	assert_null(t->name);
	assert_string_equal(vici_find_str(t, "key1", ""), "value1");
	assert_string_equal(vici_find_str(t, "section1.sub-section.key2", ""), "value2");
	struct ctree *l = ctree_find(ctree_find(t, "section1"), "list1");
	assert_non_null(l);
	assert_true(l->is_list);
	assert_int_equal(l->n_list, 2);
	assert_string_equal(l->list[0], "item1");
	assert_string_equal(l->list[1], "item2");
	assert_string_equal(l->file, "vici");
	assert_int_equal(l->line, 0);
	assert_string_equal(vici_find_str(t, "section1.nope", "dflt"), "dflt");
	ctree_free(t);
}

/* tree -> message -> tree -> message gives the same bytes. */
static void test_tree_round_trip(void **state)
{
	char err[128];
	struct ctree *t = vici_parse_message(readme_example, sizeof(readme_example), err,
					     sizeof(err));
	assert_non_null(t);
	struct vici_msg m;
	vici_msg_init(&m);
	vici_add_tree(&m, t);
	assert_true(vici_msg_ok(&m));
	assert_int_equal(m.b.len, sizeof(readme_example));
	assert_memory_equal(m.b.data, readme_example, sizeof(readme_example));
	vici_msg_free(&m);
	ctree_free(t);
}

static void test_empty_list_and_empty_value(void **state)
{
	struct vici_msg m;
	char err[128];
	vici_msg_init(&m);
	vici_begin_list(&m, "groups");
	vici_end_list(&m);
	vici_add_kv(&m, "empty", "");
	struct ctree *t = vici_parse_message(m.b.data, m.b.len, err, sizeof(err));
	assert_non_null(t);
	struct ctree *g = ctree_find(t, "groups");
	assert_true(g->is_list);
	assert_int_equal(g->n_list, 0);
	assert_string_equal(vici_find_str(t, "empty", "x"), "");
	ctree_free(t);
	vici_msg_free(&m);
}

/* strongSwan's get-counters names the global set "". */
static void test_empty_section_name(void **state)
{
	struct vici_msg m;
	char err[128];
	vici_msg_init(&m);
	vici_begin_section(&m, "counters");
	vici_begin_section(&m, "");
	vici_add_kv(&m, "ike-rekey-init", "0");
	vici_end_section(&m);
	vici_end_section(&m);
	assert_true(vici_msg_ok(&m));
	struct ctree *t = vici_parse_message(m.b.data, m.b.len, err, sizeof(err));
	assert_non_null(t);
	struct ctree *g = ctree_find(t, "counters")->child;
	assert_string_equal(g->name, "");
	assert_string_equal(vici_find_str(g, "ike-rekey-init", ""), "0");
	ctree_free(t);
	vici_msg_free(&m);
}

static void test_binary_value_becomes_hex(void **state)
{
	const uint8_t secret[] = { 0x00, 0x01, 0xab, 0xff };
	struct vici_msg m;
	char err[128];
	vici_msg_init(&m);
	vici_add_kv_bin(&m, "data", secret, sizeof(secret));
	struct ctree *t = vici_parse_message(m.b.data, m.b.len, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(vici_find_str(t, "data", ""), "0x0001abff");
	ctree_free(t);
	vici_msg_wipe_free(&m);
}

static void test_builder_errors(void **state)
{
	struct vici_msg m;
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';

	vici_msg_init(&m);
	vici_begin_section(&m, "open");
	assert_false(vici_msg_ok(&m));		/* unbalanced */
	vici_end_section(&m);
	assert_true(vici_msg_ok(&m));
	vici_end_section(&m);
	assert_false(vici_msg_ok(&m));		/* one end too many */
	vici_msg_reset(&m);

	vici_add_item(&m, "x");			/* item outside list */
	assert_false(vici_msg_ok(&m));
	vici_msg_reset(&m);

	vici_begin_list(&m, "l");
	vici_add_kv(&m, "k", "v");		/* key/value inside list */
	vici_end_list(&m);
	assert_false(vici_msg_ok(&m));
	vici_msg_reset(&m);

	vici_add_kv(&m, longname, "v");		/* name over 255 bytes */
	assert_false(vici_msg_ok(&m));
	vici_msg_reset(&m);

	char *big = malloc(70000);
	memset(big, 'v', 69999);
	big[69999] = '\0';
	vici_add_kv(&m, "k", big);		/* value over 64 KiB */
	assert_false(vici_msg_ok(&m));
	free(big);
	vici_msg_free(&m);
}

static void expect_malformed(const uint8_t *p, size_t n, const char *reason)
{
	char err[128] = "";
	struct ctree *t = vici_parse_message(p, n, err, sizeof(err));
	assert_null(t);
	if (!strstr(err, reason))
		fail_msg("error '%s' does not mention '%s'", err, reason);
}

static void test_parse_malformed(void **state)
{
	/* Every strict prefix of a valid message is rejected (truncated element or
	 * unterminated section), except the one that ends after "key1 = value1". */
	for (size_t n = 1; n < sizeof(readme_example); n++) {
		if (n == 14)
			continue;
		char err[128];
		struct ctree *t = vici_parse_message(readme_example, n, err, sizeof(err));
		if (t)
			fail_msg("prefix of %zu bytes accepted", n);
	}
	static const uint8_t unknown[] = { 9 };
	expect_malformed(unknown, sizeof(unknown), "unknown element");
	static const uint8_t end_only[] = { 2 };
	expect_malformed(end_only, sizeof(end_only), "section end without start");
	static const uint8_t item_outside[] = { 5, 0, 1, 'x' };
	expect_malformed(item_outside, sizeof(item_outside), "outside a list");
	static const uint8_t list_end_only[] = { 6 };
	expect_malformed(list_end_only, sizeof(list_end_only), "list end without start");
	static const uint8_t kv_in_list[] = { 4, 1, 'l', 3, 1, 'k', 0, 1, 'v', 6 };
	expect_malformed(kv_in_list, sizeof(kv_in_list), "inside a list");
	static const uint8_t section_in_list[] = { 4, 1, 'l', 1, 1, 's', 2, 6 };
	expect_malformed(section_in_list, sizeof(section_in_list), "inside a list");
	static const uint8_t open_list[] = { 4, 1, 'l', 5, 0, 1, 'x' };
	expect_malformed(open_list, sizeof(open_list), "unterminated list");
	static const uint8_t nul_key[] = { 3, 2, 'k', 0, 0, 1, 'v' };
	expect_malformed(nul_key, sizeof(nul_key), "bad key name");
	static const uint8_t nul_name[] = { 1, 2, 'a', 0, 2 };
	expect_malformed(nul_name, sizeof(nul_name), "bad section name");
	static const uint8_t long_value[] = { 3, 1, 'k', 0xff, 0xff, 'v' };
	expect_malformed(long_value, sizeof(long_value), "truncated value");
}

static void test_parse_depth_limit(void **state)
{
	uint8_t deep[2 * (VICI_MAX_DEPTH + 1) * 3];
	size_t n = 0;
	for (int i = 0; i < VICI_MAX_DEPTH + 1; i++) {
		deep[n++] = VICI_SECTION_START;
		deep[n++] = 1;
		deep[n++] = 's';
	}
	for (int i = 0; i < VICI_MAX_DEPTH + 1; i++)
		deep[n++] = VICI_SECTION_END;
	expect_malformed(deep, n, "nested too deeply");

	/* Exactly the limit is fine. */
	n = 0;
	for (int i = 0; i < VICI_MAX_DEPTH; i++) {
		deep[n++] = VICI_SECTION_START;
		deep[n++] = 1;
		deep[n++] = 's';
	}
	for (int i = 0; i < VICI_MAX_DEPTH; i++)
		deep[n++] = VICI_SECTION_END;
	char err[128];
	struct ctree *t = vici_parse_message(deep, n, err, sizeof(err));
	assert_non_null(t);
	ctree_free(t);
}

static void test_packet_encode_decode(void **state)
{
	struct vici_msg m;
	struct buf out;
	struct vici_packet pkt;
	char err[128];
	vici_msg_init(&m);
	buf_init(&out);
	vici_add_kv(&m, "ike", "site-a");
	assert_int_equal(vici_packet_encode(&out, VICI_CMD_REQUEST, "list-sas", &m), 0);
	assert_int_equal(get_u32(out.data), out.len - 4);
	assert_int_equal(out.data[4], VICI_CMD_REQUEST);
	assert_int_equal(out.data[5], 8);
	assert_memory_equal(out.data + 6, "list-sas", 8);
	assert_int_equal(vici_packet_decode(out.data + 4, out.len - 4, &pkt, err, sizeof(err)), 0);
	assert_int_equal(pkt.type, VICI_CMD_REQUEST);
	assert_string_equal(pkt.name, "list-sas");
	assert_int_equal(pkt.msg_len, m.b.len);
	assert_memory_equal(pkt.msg, m.b.data, m.b.len);

	/* Unnamed, message-less types are one byte. */
	buf_reset(&out);
	assert_int_equal(vici_packet_encode(&out, VICI_EVENT_CONFIRM, NULL, NULL), 0);
	assert_int_equal(out.len, 5);
	assert_int_equal(get_u32(out.data), 1);

	/* Bad packets. */
	static const uint8_t bad_type[] = { 8 };
	assert_int_equal(vici_packet_decode(bad_type, 1, &pkt, err, sizeof(err)), -1);
	static const uint8_t short_name[] = { 0, 5, 'a' };
	assert_int_equal(vici_packet_decode(short_name, 3, &pkt, err, sizeof(err)), -1);
	static const uint8_t trailing[] = { VICI_EVENT_CONFIRM, 1 };
	assert_int_equal(vici_packet_decode(trailing, 2, &pkt, err, sizeof(err)), -1);
	assert_int_equal(vici_packet_decode(trailing, 0, &pkt, err, sizeof(err)), -1);

	/* Over 512 KiB refused at encode time. */
	vici_msg_reset(&m);
	char *v = malloc(60000);
	memset(v, 'x', 59999);
	v[59999] = '\0';
	for (int i = 0; i < 10; i++)
		vici_add_kv(&m, "k", v);
	free(v);
	buf_reset(&out);
	assert_int_equal(vici_packet_encode(&out, VICI_CMD_RESPONSE, NULL, &m), -1);
	buf_free(&out);
	vici_msg_free(&m);
}

static char *print_to_string(const struct ctree *t, const char *label, int mode)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (mode == 2)
		vici_print_json(f, t, false);
	else
		vici_print_raw(f, label, t, mode == 1);
	fclose(f);
	return s;
}

static void test_print_raw_pretty_json(void **state)
{
	char err[128];
	struct ctree *t = vici_parse_message(readme_example, sizeof(readme_example), err,
					     sizeof(err));
	assert_non_null(t);
	char *raw = print_to_string(t, "x reply", 0);
	assert_string_equal(raw, "x reply {key1=value1 section1 {sub-section {key2=value2} "
				 "list1=[item1 item2]}}\n");
	char *pretty = print_to_string(t, "x reply", 1);
	assert_string_equal(pretty, "x reply {\n"
				    "  key1 = value1\n"
				    "  section1 {\n"
				    "    sub-section {\n"
				    "      key2 = value2\n"
				    "    }\n"
				    "    list1 = [\n"
				    "      item1\n"
				    "      item2\n"
				    "    ]\n"
				    "  }\n"
				    "}\n");
	char *json = print_to_string(t, NULL, 2);
	assert_string_equal(json, "{\"key1\":\"value1\",\"section1\":{\"sub-section\":"
				  "{\"key2\":\"value2\"},\"list1\":[\"item1\",\"item2\"]}}\n");
	free(raw);
	free(pretty);
	free(json);
	ctree_free(t);
}

/* ---- views ---- */

static struct selector sel(const char *s)
{
	struct selector x;
	assert_int_equal(selector_parse(s, &x), 0);
	return x;
}

static void fill_views(struct vici_ike_view *ike, struct vici_child_view *child,
		       struct selector ts[2])
{
	ts[0] = sel("10.1.0.0/16");
	ts[1] = sel("10.2.0.0/16");
	*child = (struct vici_child_view){
		.name = "net", .uniqueid = 7, .reqid = 1, .state = "INSTALLED",
		.mode = "TUNNEL", .encap = true, .spi_in = 0xc1a2b3c4, .spi_out = 0x0000abcd,
		.encr_alg = "AES_GCM_16", .encr_keysize = 256, .dh_group = "CURVE_25519",
		.bytes_in = 1234, .packets_in = 10, .bytes_out = 5678, .packets_out = 20,
		.use_in = 3, .use_out = -1, .rekey_time = 3000, .life_time = 3500,
		.install_time = 100,
		.local_ts = &ts[0], .n_local_ts = 1, .remote_ts = &ts[1], .n_remote_ts = 1,
	};
	*ike = (struct vici_ike_view){
		.name = "site-a", .uniqueid = 3, .version = 2, .state = "ESTABLISHED",
		.local_id = "gw-a.example.net", .remote_id = "198.51.100.2",
		.initiator = true, .spi_i = 0x0123456789abcdefULL, .spi_r = 0xfedcba9876543210ULL,
		.nat_remote = true, .nat_any = true,
		.encr_alg = "AES_CBC", .encr_keysize = 256, .integ_alg = "HMAC_SHA2_256_128",
		.prf_alg = "PRF_HMAC_SHA2_256", .dh_group = "MODP_2048",
		.established = 42, .rekey_time = 13000,
		.children = child, .n_children = 1,
	};
	assert_int_equal(addr_parse("192.0.2.1", &ike->local), 0);
	ike->local.port = 4500;
	assert_int_equal(addr_parse("198.51.100.2", &ike->remote), 0);
	ike->remote.port = 4500;
}

static struct ctree *round_trip(const struct vici_msg *m)
{
	char err[128];
	assert_true(vici_msg_ok(m));
	struct ctree *t = vici_parse_message(m->b.data, m->b.len, err, sizeof(err));
	assert_non_null(t);
	return t;
}

/* The keys swanctl's list_sas.c reads, with the values it would print. */
static void test_list_sa_has_swanctl_keys(void **state)
{
	struct vici_ike_view ike;
	struct vici_child_view child;
	struct selector ts[2];
	struct vici_msg m;
	fill_views(&ike, &child, ts);
	vici_msg_init(&m);
	vici_build_list_sa(&m, &ike);
	struct ctree *t = round_trip(&m);

	assert_non_null(t->child);
	assert_string_equal(t->child->name, "site-a");
	assert_null(t->child->next);	/* exactly one section per event */
	static const struct { const char *path, *value; } want[] = {
		{ "site-a.uniqueid", "3" },
		{ "site-a.version", "2" },
		{ "site-a.state", "ESTABLISHED" },
		{ "site-a.local-host", "192.0.2.1" },
		{ "site-a.local-port", "4500" },
		{ "site-a.local-id", "gw-a.example.net" },
		{ "site-a.remote-host", "198.51.100.2" },
		{ "site-a.remote-port", "4500" },
		{ "site-a.remote-id", "198.51.100.2" },
		{ "site-a.initiator", "yes" },
		{ "site-a.initiator-spi", "0123456789abcdef" },
		{ "site-a.responder-spi", "fedcba9876543210" },
		{ "site-a.nat-remote", "yes" },
		{ "site-a.nat-any", "yes" },
		{ "site-a.encr-alg", "AES_CBC" },
		{ "site-a.encr-keysize", "256" },
		{ "site-a.integ-alg", "HMAC_SHA2_256_128" },
		{ "site-a.prf-alg", "PRF_HMAC_SHA2_256" },
		{ "site-a.dh-group", "MODP_2048" },
		{ "site-a.established", "42" },
		{ "site-a.rekey-time", "13000" },
		{ "site-a.child-sas.net-7.name", "net" },
		{ "site-a.child-sas.net-7.uniqueid", "7" },
		{ "site-a.child-sas.net-7.reqid", "1" },
		{ "site-a.child-sas.net-7.state", "INSTALLED" },
		{ "site-a.child-sas.net-7.mode", "TUNNEL" },
		{ "site-a.child-sas.net-7.protocol", "ESP" },
		{ "site-a.child-sas.net-7.encap", "yes" },
		{ "site-a.child-sas.net-7.spi-in", "c1a2b3c4" },
		{ "site-a.child-sas.net-7.spi-out", "0000abcd" },
		{ "site-a.child-sas.net-7.encr-alg", "AES_GCM_16" },
		{ "site-a.child-sas.net-7.encr-keysize", "256" },
		{ "site-a.child-sas.net-7.dh-group", "CURVE_25519" },
		{ "site-a.child-sas.net-7.bytes-in", "1234" },
		{ "site-a.child-sas.net-7.packets-in", "10" },
		{ "site-a.child-sas.net-7.use-in", "3" },
		{ "site-a.child-sas.net-7.bytes-out", "5678" },
		{ "site-a.child-sas.net-7.packets-out", "20" },
		{ "site-a.child-sas.net-7.rekey-time", "3000" },
		{ "site-a.child-sas.net-7.life-time", "3500" },
		{ "site-a.child-sas.net-7.install-time", "100" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *got = vici_find_str(t, want[i].path, NULL);
		if (!got || strcmp(got, want[i].value) != 0)
			fail_msg("%s: got '%s', want '%s'", want[i].path, got ? got : "(none)",
				 want[i].value);
	}
	/* Absent: no integrity for AEAD, no use-out without traffic, no reauth. */
	assert_null(vici_find_str(t, "site-a.child-sas.net-7.integ-alg", NULL));
	assert_null(vici_find_str(t, "site-a.child-sas.net-7.use-out", NULL));
	assert_null(vici_find_str(t, "site-a.reauth-time", NULL));
	assert_null(vici_find_str(t, "site-a.nat-local", NULL));
	struct ctree *lts = ctree_lookup(t, "site-a.child-sas.net-7.local-ts");
	assert_non_null(lts);
	assert_true(lts->is_list);
	assert_int_equal(lts->n_list, 1);
	assert_string_equal(lts->list[0], "10.1.0.0/16");
	struct ctree *rts = ctree_lookup(t, "site-a.child-sas.net-7.remote-ts");
	assert_non_null(rts);
	assert_string_equal(rts->list[0], "10.2.0.0/16");
	/* The order strongSwan uses: uniqueid first, child-sas last. */
	struct ctree *sa = t->child;
	assert_string_equal(sa->child->name, "uniqueid");
	struct ctree *last = sa->child;
	while (last->next)
		last = last->next;
	assert_string_equal(last->name, "child-sas");
	ctree_free(t);
	vici_msg_free(&m);
}

static void test_child_not_installed_omits_counters(void **state)
{
	struct vici_ike_view ike;
	struct vici_child_view child;
	struct selector ts[2];
	struct vici_msg m;
	fill_views(&ike, &child, ts);
	child.state = "CREATED";
	ike.state = "CONNECTING";
	vici_msg_init(&m);
	vici_build_list_sa(&m, &ike);
	struct ctree *t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "site-a.child-sas.net-7.state", ""), "CREATED");
	assert_null(vici_find_str(t, "site-a.child-sas.net-7.spi-in", NULL));
	assert_null(vici_find_str(t, "site-a.child-sas.net-7.bytes-in", NULL));
	assert_null(vici_find_str(t, "site-a.established", NULL));
	assert_non_null(ctree_lookup(t, "site-a.child-sas.net-7.local-ts"));
	ctree_free(t);
	vici_msg_free(&m);
}

/* tsunagi's own keys for tsunagictl's operator views: sent only when known. */
static void test_list_sa_operator_keys(void **state)
{
	struct vici_ike_view ike;
	struct vici_child_view child;
	struct selector ts[2];
	struct vici_msg m;
	fill_views(&ike, &child, ts);
	vici_msg_init(&m);
	vici_build_list_sa(&m, &ike);
	struct ctree *t = round_trip(&m);
	assert_null(vici_find_str(t, "site-a.last-rx", NULL));
	assert_null(vici_find_str(t, "site-a.dpd-last", NULL));
	assert_null(vici_find_str(t, "site-a.child-sas.net-7.life-bytes-left", NULL));
	ctree_free(t);
	vici_msg_free(&m);

	ike.heard = true, ike.last_rx = 0;
	ike.dpd_sent = true, ike.dpd_last = 12;
	child.life_bytes_limited = true, child.life_bytes_left = 60000000;
	vici_msg_init(&m);
	vici_build_list_sa(&m, &ike);
	t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "site-a.last-rx", ""), "0");
	assert_string_equal(vici_find_str(t, "site-a.dpd-last", ""), "12");
	assert_string_equal(vici_find_str(t, "site-a.child-sas.net-7.life-bytes-left", ""), "60000000");
	ctree_free(t);
	vici_msg_free(&m);
}

static void test_updown_and_rekey_events(void **state)
{
	struct vici_ike_view ike;
	struct vici_child_view child, child2;
	struct selector ts[2];
	struct vici_msg m;
	fill_views(&ike, &child, ts);

	vici_msg_init(&m);
	vici_build_ike_updown(&m, &ike, true);
	struct ctree *t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "up", ""), "yes");
	assert_string_equal(vici_find_str(t, "site-a.state", ""), "ESTABLISHED");
	assert_null(ctree_lookup(t, "site-a.child-sas"));
	ctree_free(t);

	vici_msg_reset(&m);
	vici_build_ike_updown(&m, &ike, false);
	t = round_trip(&m);
	assert_null(vici_find_str(t, "up", NULL));	/* down: no "up" key at all */
	ctree_free(t);

	vici_msg_reset(&m);
	vici_build_child_updown(&m, &ike, &child, true);
	t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "site-a.child-sas.net-7.spi-in", ""), "c1a2b3c4");
	ctree_free(t);

	child2 = child;
	child2.uniqueid = 8;
	child2.spi_in = 0x11111111;
	vici_msg_reset(&m);
	vici_build_child_rekey(&m, &ike, &child, &child2);
	t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "site-a.child-sas.net-7.old.uniqueid", ""), "7");
	assert_string_equal(vici_find_str(t, "site-a.child-sas.net-7.new.spi-in", ""), "11111111");
	ctree_free(t);

	vici_msg_reset(&m);
	vici_build_ike_rekey(&m, &ike, &ike);
	t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "site-a.old.uniqueid", ""), "3");
	assert_string_equal(vici_find_str(t, "site-a.new.remote-port", ""), "4500");
	ctree_free(t);
	vici_msg_free(&m);
}

/* The keys swanctl's list_conns.c reads. */
static void test_list_conn_has_swanctl_keys(void **state)
{
	const char *laddrs[] = { "192.0.2.1" };
	const char *raddrs[] = { "198.51.100.2", "198.51.100.3" };
	const char *lts[] = { "10.1.0.0/16" };
	const char *rts[] = { "10.2.0.0/16" };
	struct vici_auth_view local = { "pre-shared key", "gw-a", NULL };
	struct vici_auth_view remote = { "pre-shared key", "gw-b", NULL };
	struct vici_child_cfg_view child = {
		.name = "net", .mode = "TUNNEL", .rekey_time = 3600, .dpd_action = "restart",
		.start_action = "start", .local_ts = lts, .n_local_ts = 1,
		.remote_ts = rts, .n_remote_ts = 1,
	};
	struct vici_conn_view conn = {
		.name = "site-a", .local_addrs = laddrs, .n_local_addrs = 1,
		.remote_addrs = raddrs, .n_remote_addrs = 2, .version = 2,
		.rekey_time = 14400, .dpd_delay = 30,
		.local = &local, .n_local = 1, .remote = &remote, .n_remote = 1,
		.children = &child, .n_children = 1,
	};
	struct vici_msg m;
	vici_msg_init(&m);
	vici_build_list_conn(&m, &conn);
	struct ctree *t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "site-a.version", ""), "IKEv2");
	assert_string_equal(vici_find_str(t, "site-a.reauth_time", ""), "0");
	assert_string_equal(vici_find_str(t, "site-a.rekey_time", ""), "14400");
	assert_string_equal(vici_find_str(t, "site-a.dpd_delay", ""), "30");
	assert_string_equal(vici_find_str(t, "site-a.local-1.class", ""), "pre-shared key");
	assert_string_equal(vici_find_str(t, "site-a.local-1.id", ""), "gw-a");
	assert_string_equal(vici_find_str(t, "site-a.remote-1.id", ""), "gw-b");
	assert_string_equal(vici_find_str(t, "site-a.children.net.mode", ""), "TUNNEL");
	assert_string_equal(vici_find_str(t, "site-a.children.net.rekey_time", ""), "3600");
	assert_string_equal(vici_find_str(t, "site-a.children.net.rekey_bytes", ""), "0");
	assert_string_equal(vici_find_str(t, "site-a.children.net.rekey_packets", ""), "0");
	assert_string_equal(vici_find_str(t, "site-a.children.net.dpd_action", ""), "restart");
	assert_string_equal(vici_find_str(t, "site-a.children.net.start_action", ""), "start");
	struct ctree *ra = ctree_lookup(t, "site-a.remote_addrs");
	assert_non_null(ra);
	assert_true(ra->is_list);
	assert_int_equal(ra->n_list, 2);
	assert_string_equal(ra->list[1], "198.51.100.3");
	assert_string_equal(ctree_lookup(t, "site-a.children.net.local-ts")->list[0],
			    "10.1.0.0/16");
	ctree_free(t);
	vici_msg_free(&m);
}

static void test_log_and_result(void **state)
{
	struct vici_msg m;
	vici_msg_init(&m);
	vici_build_log(&m, "IKE", 1, "site-a", 3, "initiating IKE_SA site-a[3]");
	struct ctree *t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "group", ""), "IKE");
	assert_string_equal(vici_find_str(t, "level", ""), "1");
	assert_string_equal(vici_find_str(t, "ikesa-name", ""), "site-a");
	assert_string_equal(vici_find_str(t, "ikesa-uniqueid", ""), "3");
	assert_string_equal(vici_find_str(t, "msg", ""), "initiating IKE_SA site-a[3]");
	ctree_free(t);
	vici_msg_reset(&m);
	vici_build_result(&m, false, "no such connection");
	t = round_trip(&m);
	assert_string_equal(vici_find_str(t, "success", ""), "no");
	assert_string_equal(vici_find_str(t, "errmsg", ""), "no such connection");
	ctree_free(t);
	vici_msg_free(&m);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n empty key/values (empty name, empty value: 4 bytes each). */
static uint8_t *empty_kvs(size_t n)
{
	uint8_t *p = calloc(n, 4);
	for (size_t i = 0; i < n; i++)
		p[4 * i] = VICI_KEY_VALUE;
	return p;
}

/* The attack that held the event loop for 104 s: a 512 KiB request of 131k empty
 * key/values. The server's parse refuses it at the element cap, early. */
static void test_parse_element_cap(void **state)
{
	size_t n = (VICI_MAX_PACKET - 6) / 4;	/* "echo" request in one packet */
	uint8_t *p = empty_kvs(n);
	char err[128] = "";
	bool over = false;
	double t0 = now_s();
	struct ctree *t = vici_parse_message_max(p, 4 * n, VICI_MAX_ELEMENTS, &over, err,
						 sizeof(err));
	assert_null(t);
	assert_true(over);
	assert_non_null(strstr(err, "more than 10000 elements"));
	assert_true(now_s() - t0 < 1.0);

	/* Exactly the cap is accepted; malformed input is not reported as over it. */
	t = vici_parse_message_max(p, 4 * VICI_MAX_ELEMENTS, VICI_MAX_ELEMENTS, &over, err,
				   sizeof(err));
	assert_non_null(t);
	assert_false(over);
	ctree_free(t);
	t = vici_parse_message_max(p, 4 * 10 + 1, VICI_MAX_ELEMENTS, &over, err, sizeof(err));
	assert_null(t);
	assert_false(over);
	free(p);
}

/* Seconds to parse n empty key/values without a cap: the best of three runs. */
static double parse_seconds(size_t n)
{
	uint8_t *p = empty_kvs(n);
	char err[128];
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		double t0 = now_s();
		struct ctree *t = vici_parse_message(p, 4 * n, err, sizeof(err));
		double took = now_s() - t0;
		assert_non_null(t);
		size_t count = 0;
		for (struct ctree *c = t->child; c; c = c->next)
			count++;
		assert_int_equal(count, n);
		ctree_free(t);
		best = took < best ? took : best;
	}
	free(p);
	return best;
}

/* Seconds to append n items to a list: the best of three runs. */
static double append_seconds(size_t n)
{
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		struct ctree *root = ctree_new(NULL, "x", 0);
		struct ctree *list = ctree_add_list(root, "l", "x", 0);
		double t0 = now_s();
		for (size_t i = 0; i < n; i++)
			ctree_list_append(list, "");
		double took = now_s() - t0;
		assert_int_equal(list->n_list, n);
		ctree_free(root);
		best = took < best ? took : best;
	}
	return best;
}

/* Building a tree is linear (the sibling walk per append took 104 s for 131k
 * elements), and so is a long list (its items grow by doubling, not one at a time):
 * four times the elements take about four times as long, not sixteen. A ratio, so that
 * slow builds (sanitizers) and a busy machine do not matter. */
static void test_parse_many_elements_linear(void **state)
{
	size_t n = (VICI_MAX_PACKET - 6) / 4;
	double small = 0, large = 0;
	/* A load spike on a shared machine can spoil one comparison; quadratic
	 * growth spoils every one, so only three failures in a row count. */
	for (int attempt = 0; attempt < 3; attempt++) {
		small = parse_seconds(n / 4);
		large = parse_seconds(n);
		if (large <= 8 * small + 0.05)
			break;
	}
	if (large > 8 * small + 0.05)
		fail_msg("%zu elements took %.3f s, %zu took %.3f s: not linear", n / 4, small, n,
			 large);
	for (int attempt = 0; attempt < 3; attempt++) {
		small = append_seconds(50000);
		large = append_seconds(200000);
		if (large <= 8 * small + 0.05)
			break;
	}
	if (large > 8 * small + 0.05)
		fail_msg("50k list items took %.3f s, 200k took %.3f s: not linear", small, large);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builder_matches_readme),
		cmocka_unit_test(test_parse_readme),
		cmocka_unit_test(test_tree_round_trip),
		cmocka_unit_test(test_empty_list_and_empty_value),
		cmocka_unit_test(test_empty_section_name),
		cmocka_unit_test(test_binary_value_becomes_hex),
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_depth_limit),
		cmocka_unit_test(test_parse_element_cap),
		cmocka_unit_test(test_parse_many_elements_linear),
		cmocka_unit_test(test_packet_encode_decode),
		cmocka_unit_test(test_print_raw_pretty_json),
		cmocka_unit_test(test_list_sa_has_swanctl_keys),
		cmocka_unit_test(test_child_not_installed_omits_counters),
		cmocka_unit_test(test_list_sa_operator_keys),
		cmocka_unit_test(test_updown_and_rekey_events),
		cmocka_unit_test(test_list_conn_has_swanctl_keys),
		cmocka_unit_test(test_log_and_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
