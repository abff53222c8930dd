/* Load-time warnings: overlapping selectors between tunnels, with both file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "conf/parser.h"
#include "lib/log.h"

static char last[1024];
static int lines;

static void sink(void *arg, enum log_subsys s, int level, const char *line)
{
	snprintf(last, sizeof(last), "%s", line);
	lines++;
}

static struct config *load(const char *text)
{
	char err[512];
	struct ctree *t = conf_parse_string(text, "t.conf", err, sizeof(err));
	assert_non_null(t);
	struct config *c = config_build(t, err, sizeof(err));
	ctree_free(t);
	if (!c)
		fail_msg("%s", err);
	return c;
}

#define CONN(name, l, r) \
	"  " name " {\n" \
	"    remote_addrs = 198.51.100.2\n" \
	"    local { auth = psk }\n" \
	"    children { net { local_ts = " l "\n remote_ts = " r " } }\n" \
	"  }\n"

static void test_overlap_warned_with_both_places(void **state)
{
	struct config *c = load("connections {\n"
				CONN("a", "10.1.0.0/24", "10.2.0.0/16")
				CONN("b", "10.1.0.0/16", "10.2.5.0/24")
				"}\n");
	lines = 0;
	assert_int_equal(config_warn_overlaps(c->conns), 1);
	assert_int_equal(lines, 1);
	assert_non_null(strstr(last, "t.conf:2: warning"));
	assert_non_null(strstr(last, "'a/net' overlap with 'b/net' (t.conf:8)"));
	assert_non_null(strstr(last, "10.1.0.0/24 === 10.2.5.0/24"));
	config_free(c);
}

static void test_disjoint_not_warned(void **state)
{
	struct config *c = load("connections {\n"
				CONN("a", "10.1.0.0/24", "10.2.0.0/24")
				CONN("b", "10.1.0.0/24", "10.3.0.0/24")
				"}\n");
	lines = 0;
	assert_int_equal(config_warn_overlaps(c->conns), 0);
	assert_int_equal(lines, 0);
	config_free(c);
}

static void test_replay_window_limit(void **state)
{
	char err[512];
#define REPLAY_CONF "connections {\n" \
			    "  a {\n" \
			    "    local { auth = psk }\n" \
			    "    children {\n" \
			    "      net {\n" \
			    "        replay_window = %u\n" \
			    "      }\n" \
			    "    }\n" \
			    "  }\n" \
			    "}\n"
	char conf[512];
	snprintf(conf, sizeof(conf), REPLAY_CONF, 8192u);
	struct ctree *t = conf_parse_string(conf, "r.conf", err, sizeof(err));
	struct config *c = config_build(t, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->conns->children->replay_window, 8192);
	config_free(c);
	ctree_free(t);
	snprintf(conf, sizeof(conf), REPLAY_CONF, 8193u);
	t = conf_parse_string(conf, "r.conf", err, sizeof(err));
	assert_null(config_build(t, err, sizeof(err)));
	assert_non_null(strstr(err, "r.conf:6:"));
	assert_non_null(strstr(err, "replay_window 8193 is larger than tsunagi's maximum of 8192"));
	ctree_free(t);
}

#define V1CONN(name, extra) \
	"  " name " {\n" \
	"    version = 1\n" \
	extra \
	"    local { auth = psk\n id = gw.example.net }\n" \
	"    children { net { local_ts = 10.1.0.0/24 } }\n" \
	"  }\n"
#define PSK(name, ids) "  ike-" name " {\n" ids "    secret = k-" name "\n  }\n"

/* Main Mode from any address without a remote id, two keys that could apply (one
 * without owners, one for an address): warned once, with the connection's place. */
static void test_mm_dynamic_psk_warned(void **state)
{
	struct config *c = load("connections {\n"
				V1CONN("roam", "    remote_addrs = %any\n")
				V1CONN("fixed", "    remote_addrs = 198.51.100.2\n")
				V1CONN("aggr", "    remote_addrs = %any\n    aggressive = yes\n")
				V1CONN("byid", "    remote_addrs = 10.9.0.0/16\n"
				       "    remote { auth = psk\n id = peer.example.net }\n")
				"}\n"
				"secrets {\n"
				PSK("any", "")
				PSK("addr", "    id = 198.51.100.2\n")
				PSK("other", "    id = other.example.net\n")
				"}\n");
	lines = 0;
	assert_int_equal(config_warn_mm_psk(c), 1);
	assert_int_equal(lines, 1);
	assert_non_null(strstr(last, "t.conf:2: warning: connection 'roam' answers IKEv1 Main "
				"Mode from dynamic peers without a remote id, and 2 pre-shared keys"));
	config_free(c);
}

/* One key that could apply (the other belongs to other identities), or IKEv2: quiet. */
static void test_mm_dynamic_single_psk_quiet(void **state)
{
	struct config *c = load("connections {\n"
				V1CONN("roam", "    remote_addrs = %any\n")
				"}\n"
				"secrets {\n"
				PSK("mine", "    id = gw.example.net\n")
				PSK("other", "    id = other.example.net\n")
				"}\n");
	lines = 0;
	assert_int_equal(config_warn_mm_psk(c), 0);
	assert_int_equal(lines, 0);
	config_free(c);
	c = load("connections {\n"
		 "  v2 {\n    version = 2\n    local { auth = psk }\n  }\n"
		 "}\n"
		 "secrets {\n" PSK("a", "") PSK("b", "") "}\n");
	assert_int_equal(config_warn_mm_psk(c), 0);
	config_free(c);
}

int main(void)
{
	log_use_stderr(false);
	log_add_sink(sink, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap_warned_with_both_places),
		cmocka_unit_test(test_disjoint_not_warned),
		cmocka_unit_test(test_mm_dynamic_psk_warned),
		cmocka_unit_test(test_mm_dynamic_single_psk_quiet),
		cmocka_unit_test(test_replay_window_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
