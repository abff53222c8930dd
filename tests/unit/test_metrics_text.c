/* daemon/metrics_text.c: the Prometheus text exposition format (0.0.4) of the daemon's
 * counters and SAs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/metrics_text.h"

static char *render(const struct metrics_state *st)
{
	struct buf b;
	buf_init(&b);
	metrics_text(st, &b);
	buf_put_u8(&b, 0);
	assert_false(b.oom);
	return (char *)b.data;
}

static void assert_has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return;
	fail_msg("no line \"%s\" in:\n%s", line, text);
}

static const struct metric_counter counters[] = {
	{ "ike-established", "IKE SAs established.", 3 },
	{ "esp-no-sa", "Inbound ESP packets for an unknown SA.", 17 },
	{ "esp-mss-clamped", "With a \\ backslash\nand a newline.", 0 },
};

/* One IKE SA "s2s" with two CHILD SAs, the second one of an odd name. */
static struct vici_child_view children[2];
static struct vici_ike_view ike;
static const struct vici_ike_view *ikes[] = { &ike };

static struct metrics_state example(void)
{
	memset(children, 0, sizeof(children));
	memset(&ike, 0, sizeof(ike));
	ike.name = "s2s";
	ike.uniqueid = 4;
	ike.state = "ESTABLISHED";
	ike.initiator = true;
	addr_parse("192.0.2.1", &ike.local);
	addr_parse("2001:db8::2", &ike.remote);
	ike.remote.port = 4500;
	ike.local_id = "gw-a";
	ike.remote_id = "CN=\"b\"";
	ike.established = 42;
	children[0] = (struct vici_child_view){
		.name = "net", .uniqueid = 7, .state = "INSTALLED", .mode = "TUNNEL",
		.spi_in = 0xc1a2b3d4, .spi_out = 0x0000abcd, .encap = true,
		.encr_alg = "AES_GCM_16",
		.bytes_in = 1000, .packets_in = 10, .bytes_out = 2000, .packets_out = 20,
		.drops_integrity = 1, .drops_replay = 2, .drops_padding = 3,
		.drops_selector = 4, .drops_other = 5,
	};
	children[1] = children[0];
	children[1].name = "we\"ird\\name\nx";
	children[1].uniqueid = 8;
	ike.children = children;
	ike.n_children = 2;
	return (struct metrics_state){
		.version = "0.1", .ike_sas = 1, .half_open = 2, .child_sas = 2,
		.counters = counters, .n_counters = 3, .ikes = ikes, .n_ikes = 1,
	};
}

static void test_counter_names(void **state)
{
	char n[64];
	assert_string_equal(metrics_counter_name("esp-no-sa", n, sizeof(n)), "tsunagi_esp_no_sa_total");
	assert_string_equal(metrics_counter_name("ike-established", n, sizeof(n)),
			    "tsunagi_ike_established_total");
	/* Anything outside [a-zA-Z0-9_:] becomes '_'; a name that does not fit is not cut. */
	assert_string_equal(metrics_counter_name("a.b c/é", n, sizeof(n)), "tsunagi_a_b_c____total");	/* é is two bytes */
	assert_string_equal(metrics_counter_name("a-very-long-counter-name", n, 24),
			    "tsunagi_invalid_total");
}

static void test_globals(void **state)
{
	struct metrics_state st = example();
	char *t = render(&st);
	assert_has_line(t, "# HELP tsunagi_ike_sas IKE SAs, half-open ones excluded.");
	assert_has_line(t, "# TYPE tsunagi_ike_sas gauge");
	assert_has_line(t, "tsunagi_ike_sas 1");
	assert_has_line(t, "tsunagi_ike_half_open_sas 2");
	assert_has_line(t, "tsunagi_child_sas 2");
	assert_has_line(t, "tsunagi_build_info{version=\"0.1\"} 1");
	assert_has_line(t, "# TYPE tsunagi_ike_established_total counter");
	assert_has_line(t, "tsunagi_ike_established_total 3");
	assert_has_line(t, "tsunagi_esp_no_sa_total 17");
	/* HELP escapes backslash and newline only. */
	assert_has_line(t, "# HELP tsunagi_esp_mss_clamped_total With a \\\\ backslash\\nand a newline.");
	assert_has_line(t, "tsunagi_esp_mss_clamped_total 0");
	free(t);
}

static void test_sa_samples(void **state)
{
	struct metrics_state st = example();
	char *t = render(&st);
	assert_has_line(t, "tsunagi_ike_sa_info{conn=\"s2s\",ike_id=\"4\",state=\"ESTABLISHED\","
			"role=\"initiator\",local=\"192.0.2.1\",remote=\"2001:db8::2\","
			"remote_port=\"4500\",local_id=\"gw-a\",remote_id=\"CN=\\\"b\\\"\"} 1");
	assert_has_line(t, "tsunagi_ike_sa_established_seconds{conn=\"s2s\",ike_id=\"4\"} 42");
	assert_has_line(t, "tsunagi_child_sa_info{conn=\"s2s\",ike_id=\"4\",child=\"net\",child_id=\"7\","
			"state=\"INSTALLED\",mode=\"TUNNEL\",spi_in=\"c1a2b3d4\",spi_out=\"0000abcd\","
			"encap=\"yes\",encr=\"AES_GCM_16\"} 1");
	const char *l = "{conn=\"s2s\",ike_id=\"4\",child=\"net\",child_id=\"7\",";
	char line[256];
	static const struct { const char *fam, *label; int v; } want[] = {
		{ "bytes", "dir=\"in\"", 1000 }, { "bytes", "dir=\"out\"", 2000 },
		{ "packets", "dir=\"in\"", 10 }, { "packets", "dir=\"out\"", 20 },
		{ "drops", "cause=\"integrity\"", 1 }, { "drops", "cause=\"replay\"", 2 },
		{ "drops", "cause=\"padding\"", 3 }, { "drops", "cause=\"selector\"", 4 },
		{ "drops", "cause=\"other\"", 5 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(line, sizeof(line), "tsunagi_child_sa_%s_total%s%s} %d", want[i].fam, l,
			 want[i].label, want[i].v);
		assert_has_line(t, line);
	}
	/* An IKE SA not established has no established_seconds. */
	ike.state = "CONNECTING";
	free(t);
	t = render(&st);
	assert_null(strstr(t, "tsunagi_ike_sa_established_seconds{"));
	free(t);
}

/* Label values escape \ " and newline; bytes that are not UTF-8 become U+FFFD, well
 * formed UTF-8 stays. */
static void test_label_escaping(void **state)
{
	struct metrics_state st = example();
	char *t = render(&st);
	assert_has_line(t, "tsunagi_child_sa_bytes_total{conn=\"s2s\",ike_id=\"4\","
			"child=\"we\\\"ird\\\\name\\nx\",child_id=\"8\",dir=\"in\"} 1000");
	free(t);
	static const struct { const char *in, *out; } cases[] = {
		{ "plain", "plain" },
		{ "a\"b", "a\\\"b" },
		{ "a\\b", "a\\\\b" },
		{ "a\nb", "a\\nb" },
		{ "\\\"\n", "\\\\\\\"\\n" },
		{ "tab\there", "tab\there" },			/* allowed as is */
		{ "東京", "東京" },
		{ "\xf0\x9f\x94\x92", "\xf0\x9f\x94\x92" },	/* 4 bytes: U+1F512 */
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },		/* never valid */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },	/* overlong '/' */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },	/* surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "x\xe6\x9d", "x\xef\xbf\xbd\xef\xbf\xbd" },	/* cut short at the end */
		{ "\xe6\x9d\"", "\xef\xbf\xbd\xef\xbf\xbd\\\"" },	/* cut short by a quote */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b);
		metrics_put_label_value(&b, cases[i].in);
		buf_put_u8(&b, 0);
		assert_string_equal((const char *)b.data, cases[i].out);
		buf_free(&b);
	}
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* The structure a scraper insists on: every sample's family has one HELP and one TYPE
 * line before its samples, a family's samples are together, counters end in _total,
 * label values are quoted with only \\ \" \n escapes, and each line ends in a number. */
static void check_well_formed(const char *text)
{
	char seen[64][96], family[96] = "", type[16] = "";
	size_t n_seen = 0;
	const char *p = text;
	while (*p) {
		const char *end = strchr(p, '\n');
		assert_non_null(end);	/* the last line ends in \n too */
		char line[1024];
		size_t len = (size_t)(end - p);
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = end + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			char name[96];
			assert_int_equal(sscanf(line + 7, "%95s", name), 1);
			for (size_t i = 0; i < n_seen; i++)
				if (strcmp(seen[i], name) == 0)
					fail_msg("family %s twice", name);
			assert_true(n_seen < 64);
			strcpy(seen[n_seen++], name);
			strcpy(family, name);
			type[0] = '\0';
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[96];
			assert_int_equal(sscanf(line + 7, "%95s %15s", name, type), 2);
			assert_string_equal(name, family);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
			if (strcmp(type, "counter") == 0)
				assert_string_equal(name + strlen(name) - 6, "_total");
			continue;
		}
		assert_true(type[0]);	/* a sample only after its TYPE */
		const char *s = line;
		assert_true(name_char(*s, true));
		while (name_char(*s, false))
			s++;
		assert_int_equal((size_t)(s - line), strlen(family));
		assert_memory_equal(line, family, strlen(family));
		if (*s == '{') {
			s++;
			for (;;) {
				assert_true(name_char(*s, true));
				while (name_char(*s, false))
					s++;
				assert_int_equal(*s++, '=');
				assert_int_equal(*s++, '"');
				while (*s != '"') {
					assert_true(*s != '\0' && *s != '\n');
					if (*s == '\\') {
						s++;
						assert_non_null(strchr("\\\"n", *s));
					}
					s++;
				}
				s++;
				if (*s == '}')
					break;
				assert_int_equal(*s++, ',');
			}
			s++;
		}
		assert_int_equal(*s++, ' ');
		char *num_end;
		strtoull(s, &num_end, 10);
		assert_true(num_end > s && *num_end == '\0');
	}
}

static void test_well_formed(void **state)
{
	struct metrics_state st = example();
	char *t = render(&st);
	check_well_formed(t);
	free(t);
	/* No SAs and no counters: the families are still declared. */
	struct metrics_state empty = { 0 };
	t = render(&empty);
	check_well_formed(t);
	assert_has_line(t, "# TYPE tsunagi_child_sa_bytes_total counter");
	assert_has_line(t, "tsunagi_ike_sas 0");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_names),
		cmocka_unit_test(test_globals),
		cmocka_unit_test(test_sa_samples),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_well_formed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
