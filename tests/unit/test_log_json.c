/* lib/log_json.c: every log line is one valid JSON object (RFC 8259), whatever bytes
 * the message holds, checked by a strict parser of the test's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/log_json.h"

/* ---- a strict parser for flat objects of strings and integers ---- */

#define MAX_FIELDS 16
struct field {
	char key[64];
	char value[8192];	/* strings decoded to UTF-8; numbers as written */
	bool number;
};
struct object {
	struct field f[MAX_FIELDS];
	size_t n;
};

/* Valid UTF-8 sequence length at p (RFC 3629), 0 if not. */
static size_t utf8_ok(const unsigned char *p, size_t left)
{
	uint32_t cp;
	size_t n;
	if (p[0] < 0x80)
		return 1;
	else if ((p[0] & 0xe0) == 0xc0)
		n = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	out[0] = (char)(0xe0 | cp >> 12);
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/* A JSON string at *pp into out; false if it is not one. */
static bool parse_string(const char **pp, const char *end, char *out, size_t outlen)
{
	const char *p = *pp;
	size_t n = 0;
	if (p >= end || *p++ != '"')
		return false;
	while (p < end && *p != '"') {
		unsigned char c = (unsigned char)*p;
		char tmp[4];
		size_t k;
		if (c < 0x20)
			return false;	/* raw control characters are not allowed */
		if (c == '\\') {
			if (++p >= end)
				return false;
			switch (*p) {
			case '"': case '\\': case '/': tmp[0] = *p; k = 1; break;
			case 'b': tmp[0] = '\b'; k = 1; break;
			case 'f': tmp[0] = '\f'; k = 1; break;
			case 'n': tmp[0] = '\n'; k = 1; break;
			case 'r': tmp[0] = '\r'; k = 1; break;
			case 't': tmp[0] = '\t'; k = 1; break;
			case 'u': {
				char hex[5] = { 0 };
				if (end - p < 5)
					return false;
				memcpy(hex, p + 1, 4);
				if (strspn(hex, "0123456789abcdefABCDEF") != 4)
					return false;
				uint32_t cp = (uint32_t)strtoul(hex, NULL, 16);
				if (cp >= 0xd800 && cp <= 0xdfff)
					return false;	/* we never need surrogate pairs */
				k = put_utf8(tmp, cp);
				p += 4;
				break;
			}
			default:
				return false;
			}
			p++;
		} else {
			k = utf8_ok((const unsigned char *)p, (size_t)(end - p));
			if (k == 0)
				return false;
			memcpy(tmp, p, k);
			p += k;
		}
		if (n + k >= outlen)
			return false;
		memcpy(out + n, tmp, k);
		n += k;
	}
	if (p >= end)
		return false;
	out[n] = '\0';
	*pp = p + 1;
	return true;
}

static bool parse_object(const char *s, size_t len, struct object *o)
{
	const char *p = s, *end = s + len;
	memset(o, 0, sizeof(*o));
	if (p >= end || *p++ != '{')
		return false;
	for (;;) {
		struct field *f = &o->f[o->n];
		if (o->n == MAX_FIELDS || !parse_string(&p, end, f->key, sizeof(f->key)))
			return false;
		if (p >= end || *p++ != ':')
			return false;
		if (p < end && *p == '"') {
			if (!parse_string(&p, end, f->value, sizeof(f->value)))
				return false;
		} else {
			size_t d = strspn(p, "-0123456789");
			if (d == 0 || d >= sizeof(f->value) || p + d > end)
				return false;
			memcpy(f->value, p, d);
			f->number = true;
			p += d;
		}
		o->n++;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		return p + 1 == end && *p == '}';
	}
}

static const char *get(const struct object *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->f[i].key, key) == 0)
			return o->f[i].value;
	return NULL;
}

/* ---- tests ---- */

static const struct timespec when = { 1795945451, 340123456 };	/* 2026-11-29 09:44:11.340 */

static void format_parse(const char *msg, struct object *o)
{
	static char line[LOG_JSON_MAX];
	size_t n = log_json_format(line, sizeof(line), &when, "ike", 1, msg);
	assert_int_equal(n, strlen(line));
	if (!parse_object(line, n, o))
		fail_msg("not a JSON object: %s", line);
}

static void test_fields(void **state)
{
	struct object o;
	format_parse("hello", &o);
	assert_string_equal(get(&o, "time"), "2026-11-29T09:44:11.340Z");
	assert_string_equal(get(&o, "level"), "1");
	assert_true(o.f[1].number);
	assert_string_equal(get(&o, "subsystem"), "ike");
	assert_string_equal(get(&o, "message"), "hello");
	assert_null(get(&o, "connection"));
	assert_int_equal(o.n, 4);
}

static void test_escapes_round_trip(void **state)
{
	char msg[256];
	size_t n = 0;
	struct object o;
	/* every control character, quotes, backslashes, DEL, a slash */
	for (int c = 1; c < 0x20; c++)
		msg[n++] = (char)c;
	snprintf(msg + n, sizeof(msg) - n, "\"q\" \\b\\ / \x7f end");
	format_parse(msg, &o);
	assert_string_equal(get(&o, "message"), msg);
}

static void test_invalid_utf8_replaced(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "a\x80z", "a\xef\xbf\xbdz" },				/* lone continuation */
		{ "a\xc0\xafz", "a\xef\xbf\xbd\xef\xbf\xbdz" },		/* overlong '/' */
		{ "a\xed\xa0\x80z", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz" },	/* surrogate */
		{ "a\xf5\x80\x80\x80z", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz" },
		{ "a\xe2\x82", "a\xef\xbf\xbd\xef\xbf\xbd" },		/* cut at the end */
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct object o;
		format_parse(cases[i].in, &o);
		assert_string_equal(get(&o, "message"), cases[i].want);
	}
}

static void test_sa_fields(void **state)
{
	struct object o;
	format_parse("s2s[1] 198.51.100.2: selected proposal: IKE:AES_GCM_16_256", &o);
	assert_string_equal(get(&o, "connection"), "s2s");
	assert_string_equal(get(&o, "ike_sa"), "1");
	assert_string_equal(get(&o, "peer"), "198.51.100.2");
	format_parse("CHILD_SA net{12} established with SPIs c46f859c_i 0d00cb83_o", &o);
	assert_string_equal(get(&o, "child"), "net");
	assert_string_equal(get(&o, "child_sa"), "12");
	assert_null(get(&o, "connection"));
	format_parse("IKE_SA gw-2[7] established between 100.64.0.2[a]...198.51.100.2[b]", &o);
	assert_string_equal(get(&o, "connection"), "gw-2");
	assert_string_equal(get(&o, "ike_sa"), "7");
	assert_null(get(&o, "peer"));
	format_parse("x[ IKE_SA [1] CHILD_SA a{} [", &o);	/* no SA named: no fields */
	assert_int_equal(o.n, 4);
	format_parse("\"q\"[3] a\\b: x", &o);	/* names are escaped too */
	assert_string_equal(get(&o, "connection"), "\"q\"");
	assert_string_equal(get(&o, "peer"), "a\\b");
}

/* The state hook: what the daemon answers from the IKE core. */
static int hook_calls;
static const char *fake_state(void *arg, bool child, const char *name, unsigned long id)
{
	hook_calls++;
	assert_ptr_equal(arg, &hook_calls);
	if (!child && strcmp(name, "s2s") == 0 && id == 1)
		return "ESTABLISHED";
	if (child && strcmp(name, "net") == 0 && id == 12)
		return "REKEY\"ING";	/* escaped like any value */
	return NULL;
}

static void test_state_fields(void **state)
{
	struct object o;
	format_parse("s2s[1] 198.51.100.2: sending DPD request", &o);
	assert_null(get(&o, "state"));		/* no hook, no state */
	log_json_set_state_fn(fake_state, &hook_calls);
	format_parse("s2s[1] 198.51.100.2: sending DPD request", &o);
	assert_string_equal(get(&o, "state"), "ESTABLISHED");
	assert_null(get(&o, "child_state"));
	format_parse("IKE_SA s2s[1] rekeying CHILD_SA net{12}", &o);
	assert_string_equal(get(&o, "state"), "ESTABLISHED");
	assert_string_equal(get(&o, "child_state"), "REKEY\"ING");
	format_parse("CHILD_SA net{12} expired", &o);
	assert_null(get(&o, "state"));
	assert_string_equal(get(&o, "child_state"), "REKEY\"ING");
	format_parse("s2s[2] 198.51.100.2: gone", &o);	/* an SA the hook does not know */
	assert_string_equal(get(&o, "ike_sa"), "2");
	assert_null(get(&o, "state"));
	hook_calls = 0;
	format_parse("no SA named here [1] {2}", &o);
	assert_int_equal(hook_calls, 0);
	assert_int_equal(o.n, 4);
	log_json_set_state_fn(NULL, NULL);
	format_parse("s2s[1] 198.51.100.2: x", &o);
	assert_null(get(&o, "state"));
}

/* A message of 1023 quotes (6 KB escaped) fits LOG_JSON_MAX; a small buffer cuts
 * the message, never the object. */
static void test_long_message(void **state)
{
	char msg[1024], small[300];
	struct object o;
	memset(msg, '"', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	format_parse(msg, &o);
	assert_string_equal(get(&o, "message"), msg);
	memset(msg, '\x01', sizeof(msg) - 1);
	size_t n = log_json_format(small, sizeof(small), &when, "ike", 1, msg);
	assert_true(n > 0 && n < sizeof(small));
	assert_true(parse_object(small, n, &o));
	assert_true(strlen(get(&o, "message")) > 10);
	assert_memory_equal(get(&o, "message"), msg, strlen(get(&o, "message")));
	assert_int_equal(log_json_format(small, LOG_JSON_MIN - 1, &when, "ike", 1, "x"), 0);
}

/* Random bytes: every line parses, and valid text comes back unchanged. */
static void test_random_bytes(void **state)
{
	srand(4711);
	for (int i = 0; i < 3000; i++) {
		char msg[200];
		size_t n = (size_t)(rand() % 199);
		for (size_t k = 0; k < n; k++)
			msg[k] = (char)(1 + rand() % 255);
		msg[n] = '\0';
		struct object o;
		format_parse(msg, &o);
		size_t k = 0;
		while (k < n && utf8_ok((const unsigned char *)msg + k, n - k))
			k += utf8_ok((const unsigned char *)msg + k, n - k);
		if (k == n)
			assert_string_equal(get(&o, "message"), msg);
	}
}

/* Through log_msg with log_use_json: every line written to stderr is an object. */
static void test_log_lines_to_stderr(void **state)
{
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	log_use_stderr(true);
	log_use_json(true);
	log_info(LOG_IKE, "s2s[1] 198.51.100.2: a \"quoted\" \\ line\nwith a newline");
	log_err(LOG_CFG, "bad byte \xff and tab\t");
	log_info(LOG_ESP, "%s", "plain");
	log_raw(LOG_IKE, "not shown at level 1");
	log_use_json(false);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	char line[LOG_JSON_MAX + 2];
	int lines = 0;
	while (fgets(line, sizeof(line), tmp)) {
		size_t n = strlen(line);
		assert_true(n > 0 && line[n - 1] == '\n');
		struct object o;
		if (!parse_object(line, n - 1, &o))
			fail_msg("stderr line is not a JSON object: %s", line);
		if (lines == 0) {
			assert_string_equal(get(&o, "connection"), "s2s");
			assert_string_equal(get(&o, "level"), "1");
		}
		if (lines == 1) {
			assert_string_equal(get(&o, "subsystem"), "cfg");
			assert_string_equal(get(&o, "level"), "0");
		}
		lines++;
	}
	fclose(tmp);
	assert_int_equal(lines, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_escapes_round_trip),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_sa_fields),
		cmocka_unit_test(test_state_fields),
		cmocka_unit_test(test_long_message),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_log_lines_to_stderr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
