/* conf/: the configuration tree and the swanctl.conf syntax reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/parser.h"
#include "conf/tree.h"

static char err[512];

static struct ctree *parse(const char *text)
{
	err[0] = '\0';
	return conf_parse_string(text, "site-a.conf", err, sizeof(err));
}

static void expect_error(const char *text, const char *message)
{
	struct ctree *t = parse(text);
	if (t)
		fail_msg("parsed, expected \"%s\"", message);
	assert_string_equal(err, message);
}

static void test_sections_values_lines(void **state)
{
	struct ctree *t = parse("# comment\n"
				"connections {\n"
				"  site {\n"
				"    remote_addrs = 203.0.113.1   # trailing comment\n"
				"    proposals=aes128-sha256 , aes256gcm16\n"
				"    empty =\n"
				"  }\n"
				"}\n");
	assert_non_null(t);
	struct ctree *site = ctree_lookup(t, "connections.site");
	assert_non_null(site);
	assert_true(ctree_is_section(site));
	assert_int_equal(site->line, 3);
	assert_string_equal(site->file, "site-a.conf");
	struct ctree *ra = ctree_find(site, "remote_addrs");
	assert_string_equal(ra->value, "203.0.113.1");
	assert_int_equal(ra->line, 4);
	assert_false(ctree_is_section(ra));
	assert_string_equal(ctree_lookup(t, "connections.site.proposals")->value,
			    "aes128-sha256 , aes256gcm16");
	assert_string_equal(ctree_lookup(t, "connections.site.empty")->value, "");
	char where[64];
	assert_string_equal(ctree_where(ra, where, sizeof(where)), "site-a.conf:4");
	assert_null(ctree_lookup(t, "connections.nope"));
	assert_null(ctree_lookup(t, "connections..site"));
	ctree_free(t);
}

static void test_brace_on_next_line_and_one_line_section(void **state)
{
	struct ctree *t = parse("a\n{\n b = 1\n}\nc {}\n");
	assert_non_null(t);
	assert_string_equal(ctree_lookup(t, "a.b")->value, "1");
	assert_true(ctree_is_section(ctree_find(t, "c")));
	assert_null(ctree_find(t, "c")->child);
	ctree_free(t);
}

/* strongSwan ends a value at '}' too, and joins its words with single spaces. */
static void test_value_words_and_one_line_sections(void **state)
{
	struct ctree *t = parse("conn { local { auth = psk } remote { id = a   b\t c }}\n"
				"x = \"quoted  part\"  plain \"\" end # c\n"
				"y = a=b{c\n");
	assert_non_null(t);
	assert_string_equal(ctree_lookup(t, "conn.local.auth")->value, "psk");
	assert_string_equal(ctree_lookup(t, "conn.remote.id")->value, "a b c");
	assert_string_equal(ctree_find(t, "x")->value, "quoted  part plain  end");
	assert_string_equal(ctree_find(t, "y")->value, "a=b{c");
	ctree_free(t);
}

static void test_quoted_values(void **state)
{
	struct ctree *t = parse("s {\n"
				"  id = \"C=CH, O=strong Swan, CN=gw\"  # dn\n"
				"  esc = \"a\\\"b\\\\c\\nd\\te\"\n"
				"  hash = \"x # not a comment\"\n"
				"  multi = \"one\n"
				"two\"\n"
				"  after = 1\n"
				"}\n");
	assert_non_null(t);
	assert_string_equal(ctree_lookup(t, "s.id")->value, "C=CH, O=strong Swan, CN=gw");
	assert_string_equal(ctree_lookup(t, "s.esc")->value, "a\"b\\c\nd\te");
	assert_string_equal(ctree_lookup(t, "s.hash")->value, "x # not a comment");
	assert_string_equal(ctree_lookup(t, "s.multi")->value, "one\ntwo");
	assert_int_equal(ctree_lookup(t, "s.after")->line, 7);
	ctree_free(t);
}

static void test_reopen_merges_and_later_key_wins(void **state)
{
	struct ctree *t = parse("connections {\n"
				"  a {\n"
				"    version = 1\n"
				"  }\n"
				"}\n"
				"connections {\n"
				"  b { }\n"
				"  a {\n"
				"    version = 2\n"
				"  }\n"
				"}\n");
	assert_non_null(t);
	struct ctree *conns = ctree_find(t, "connections");
	assert_null(conns->next);	/* one section, not two */
	assert_string_equal(conns->child->name, "a");
	assert_string_equal(conns->child->next->name, "b");
	assert_null(conns->child->next->next);
	struct ctree *v = ctree_lookup(t, "connections.a.version");
	assert_string_equal(v->value, "2");
	assert_int_equal(v->line, 9);
	assert_null(v->next);
	ctree_free(t);
}

static void test_errors_name_file_and_line(void **state)
{
	expect_error("connections {\n  site {\n    foo\n  }\n}\n",
		     "site-a.conf:3: expected '=' or '{' after 'foo'");
	expect_error("# x\n\nconnections {\n  site {\n  }\n",
		     "site-a.conf:6: unterminated section 'connections' opened at site-a.conf:3");
	expect_error("a = 1\n}\n", "site-a.conf:2: unexpected '}'");
	expect_error("a {\n b = \"open\n\n", "site-a.conf:2: unterminated quoted string");
	expect_error("= 3\n", "site-a.conf:1: unexpected '='");
	expect_error("foo", "site-a.conf:1: expected '=' or '{' after 'foo'");
}

static void test_nesting_limit(void **state)
{
	char text[2 * (CONF_MAX_SECTION_DEPTH + 2) + 1];
	size_t n = 0;
	for (int i = 0; i < CONF_MAX_SECTION_DEPTH + 1; i++) {
		text[n++] = 'a';
		text[n++] = '{';
	}
	text[n] = '\0';
	assert_null(parse(text));
	assert_non_null(strstr(err, "nested more than"));
}

static void test_items(void **state)
{
	struct ctree *t = parse("k = aes128-sha256, aes256gcm16  chacha20poly1305,\n");
	char **items;
	size_t n = ctree_items(ctree_find(t, "k"), &items);
	assert_int_equal(n, 3);
	assert_string_equal(items[0], "aes128-sha256");
	assert_string_equal(items[1], "aes256gcm16");
	assert_string_equal(items[2], "chacha20poly1305");
	ctree_free_items(items, n);
	ctree_free(t);

	/* A VICI list keeps its items as they are, even with commas. */
	struct ctree *root = ctree_new(NULL, "vici", 0);
	struct ctree *l = ctree_add_list(root, "ids", "vici", 0);
	ctree_list_append(l, "C=CH, CN=a");
	ctree_list_append(l, "b");
	assert_false(ctree_is_section(l));
	n = ctree_items(l, &items);
	assert_int_equal(n, 2);
	assert_string_equal(items[0], "C=CH, CN=a");
	ctree_free_items(items, n);
	struct ctree *empty = ctree_add_list(root, "none", "vici", 0);
	assert_int_equal(ctree_items(empty, &items), 0);
	assert_null(items);
	char where[32];
	assert_string_equal(ctree_where(l, where, sizeof(where)), "vici");
	ctree_free(root);
}

/* Include tests work in a fresh directory under /tmp. */
static char dir[64];

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int make_dir(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_conf_XXXXXX");
	assert_non_null(mkdtemp(dir));
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/conf.d", dir);
	return mkdir(sub, 0700);
}

static int remove_dir(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void test_include_relative_nested_sorted(void **state)
{
	write_file("main.conf", "connections {\n"
				"  include conf.d/*.conf\n"
				"}\n"
				"include \"none/*.conf\"\n");
	write_file("conf.d/b.conf", "b { version = 2\n}\n");
	write_file("conf.d/a.conf", "a {\n  include ../leaf.inc\n}\n");
	write_file("leaf.inc", "\n\nversion = 1\n");
	char path[256];
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	struct ctree *t = conf_parse_file(path, err, sizeof(err));
	if (!t)
		fail_msg("%s", err);
	struct ctree *conns = ctree_find(t, "connections");
	assert_string_equal(conns->child->name, "a");	/* glob order */
	assert_string_equal(conns->child->next->name, "b");
	struct ctree *v = ctree_lookup(t, "connections.a.version");
	assert_string_equal(v->value, "1");
	assert_int_equal(v->line, 3);
	assert_non_null(strstr(v->file, "conf.d/../leaf.inc"));
	assert_non_null(strstr(ctree_lookup(t, "connections.b")->file, "conf.d/b.conf"));
	ctree_free(t);
}

static void test_include_errors(void **state)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/loop.conf", dir);
	write_file("loop.conf", "x = 1\ninclude loop.conf\n");
	assert_null(conf_parse_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, "loop.conf:2: include nested more than 10 deep"));

	write_file("missing.conf", "\ninclude nothere.conf\n");
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_null(conf_parse_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, "missing.conf:2: cannot open include"));

	/* An error inside an included file names that file and line. */
	write_file("conf.d/bad.conf", "ok = 1\nbad\n");
	write_file("outer.conf", "include conf.d/bad.conf\n");
	snprintf(path, sizeof(path), "%s/outer.conf", dir);
	assert_null(conf_parse_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, "conf.d/bad.conf:2: expected '=' or '{' after 'bad'"));

	assert_null(conf_parse_file("/nonexistent/x.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/x.conf: cannot open"));

	assert_null(conf_parse_string_flags("include x.conf\n", "f", CONF_NO_INCLUDE, err,
					    sizeof(err)));
	assert_string_equal(err, "f:1: include is not allowed here");
}

static void test_include_as_key_name(void **state)
{
	/* "include = x" is a key, as in strongSwan. */
	struct ctree *t = parse("include = x\n");
	assert_non_null(t);
	assert_string_equal(ctree_find(t, "include")->value, "x");
	ctree_free(t);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds to parse n overrides of one key: the best of three runs. */
static double parse_seconds(size_t n)
{
	char *text = malloc(4 * n + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(text + 4 * i, "k=v\n", 4);
	text[4 * n] = '\0';
	char e[256];
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		double t0 = now_s();
		struct ctree *t = conf_parse_string(text, "big.conf", e, sizeof(e));
		double took = now_s() - t0;
		assert_non_null(t);
		assert_string_equal(ctree_find(t, "k")->value, "v");
		ctree_free(t);
		best = took < best ? took : best;
	}
	free(text);
	return best;
}

/* Each value was read into a buffer as large as the rest of the text: quadratic
 * (500k overrides of one key took 8.8 s). Four times the input must take about four
 * times as long, not sixteen: a ratio, so that slow builds (sanitizers) and a busy
 * machine do not matter. */
static void test_many_values_linear(void **state)
{
	double small = 0, large = 0;
	/* A load spike can spoil one comparison; quadratic growth spoils all three. */
	for (int attempt = 0; attempt < 3; attempt++) {
		small = parse_seconds(125000);
		large = parse_seconds(500000);
		if (large <= 8 * small + 0.05)
			break;
	}
	if (large > 8 * small + 0.05)
		fail_msg("125k values took %.3f s, 500k took %.3f s: not linear", small, large);
}

/* Entries per section and in all are capped, with a message naming file:line. */
static void test_element_caps(void **state)
{
	char *text = malloc(16 * (CONF_MAX_ELEMENTS + 100));
	char *p = text;
	char e[256] = "";
	p += sprintf(p, "s {\n");
	for (int i = 0; i < CONF_MAX_SECTION_ENTRIES; i++)
		p += sprintf(p, "k%d=\n", i);
	strcpy(p, "}\n");
	struct ctree *t = conf_parse_string(text, "cap.conf", e, sizeof(e));
	assert_non_null(t);	/* exactly the cap */
	ctree_free(t);
	sprintf(p, "x {\n}\n}\n");	/* one more, a section this time */
	t = conf_parse_string(text, "cap.conf", e, sizeof(e));
	assert_null(t);
	assert_string_equal(e, "cap.conf:10002: more than 10000 entries in section 's'");

	/* In all: sections of 1000 keys each. */
	p = text;
	for (int s = 0; s <= CONF_MAX_ELEMENTS / 1000; s++) {
		p += sprintf(p, "s%d {\n", s);
		for (int i = 0; i < 999; i++)
			p += sprintf(p, "k%d=\n", i);
		p += sprintf(p, "}\n");
	}
	t = conf_parse_string(text, "all.conf", e, sizeof(e));
	assert_null(t);
	assert_non_null(strstr(e, "more than 100000 settings and sections"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_values_lines),
		cmocka_unit_test(test_brace_on_next_line_and_one_line_section),
		cmocka_unit_test(test_value_words_and_one_line_sections),
		cmocka_unit_test(test_quoted_values),
		cmocka_unit_test(test_reopen_merges_and_later_key_wins),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_include_relative_nested_sorted),
		cmocka_unit_test(test_include_errors),
		cmocka_unit_test(test_include_as_key_name),
		cmocka_unit_test(test_many_values_linear),
		cmocka_unit_test(test_element_caps),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
