/* lib/log_journal.c: entries in journald's native protocol, with the subsystem as a
 * field, sent to a socket of the test's own; the JOURNAL_STREAM check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/log_journal.h"

/* The value of FIELD in an entry: "FIELD=value\n", or the binary form. NULL if absent. */
static const char *value_of(const uint8_t *e, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < len;) {
		const uint8_t *eol = memchr(e + i, '\n', len - i);
		if (!eol)
			return NULL;
		size_t line = (size_t)(eol - (e + i));
		if (line == nl && memcmp(e + i, name, nl) == 0) {	/* binary form */
			uint64_t n = 0;
			assert_true(i + nl + 1 + 8 <= len);
			for (int k = 7; k >= 0; k--)
				n = n << 8 | e[i + nl + 1 + k];
			assert_true(i + nl + 9 + n + 1 <= len && n < outlen);
			memcpy(out, e + i + nl + 9, n);
			out[n] = '\0';
			assert_int_equal(e[i + nl + 9 + n], '\n');
			return out;
		}
		if (line > nl && memcmp(e + i, name, nl) == 0 && e[i + nl] == '=') {
			assert_true(line - nl - 1 < outlen);
			memcpy(out, e + i + nl + 1, line - nl - 1);
			out[line - nl - 1] = '\0';
			return out;
		}
		i += line + 1;
	}
	return NULL;
}

static void test_entry_fields(void **state)
{
	uint8_t e[LOG_JOURNAL_ENTRY_MAX];
	char v[1100];
	size_t n = log_journal_entry(e, sizeof(e), "ike", 1, "two\nlines = \"x\"");
	assert_true(n > 0);
	assert_string_equal(value_of(e, n, "TSUNAGI_SUBSYSTEM", v, sizeof(v)), "ike");
	assert_string_equal(value_of(e, n, "TSUNAGI_LEVEL", v, sizeof(v)), "1");
	assert_string_equal(value_of(e, n, "PRIORITY", v, sizeof(v)), "6");
	assert_string_equal(value_of(e, n, "SYSLOG_IDENTIFIER", v, sizeof(v)), "tsunagid");
	assert_string_equal(value_of(e, n, "MESSAGE", v, sizeof(v)), "two\nlines = \"x\"");
	n = log_journal_entry(e, sizeof(e), "cfg", 0, "bad");
	assert_string_equal(value_of(e, n, "PRIORITY", v, sizeof(v)), "3");
	/* A 1 KB message fits; a buffer too small gives nothing, not half an entry. */
	char big[1024];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(log_journal_entry(e, sizeof(e), "esp", 1, big) > 1023);
	assert_int_equal(log_journal_entry(e, 100, "esp", 1, big), 0);
}

/* log_msg with log_use_journal: one datagram per line, nothing on stderr. */
static void test_lines_to_socket(void **state)
{
	char dir[] = "/tmp/tsunagi-journal-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/socket", dir);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, path);
	int srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(srv >= 0);
	assert_int_equal(bind(srv, (struct sockaddr *)&sun, sizeof(sun)), 0);

	FILE *tmp = tmpfile();
	fflush(stderr);
	int saved = dup(2);
	dup2(fileno(tmp), 2);
	log_use_stderr(true);
	assert_int_equal(log_use_journal(path), 0);
	log_info(LOG_ESP, "engine line %d", 7);
	log_err(LOG_CFG, "config\nerror");
	log_use_journal(NULL);
	log_info(LOG_DMN, "back on stderr");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	uint8_t e[LOG_JOURNAL_ENTRY_MAX];
	char v[256];
	ssize_t n = recv(srv, e, sizeof(e), MSG_DONTWAIT);
	assert_true(n > 0);
	assert_string_equal(value_of(e, (size_t)n, "TSUNAGI_SUBSYSTEM", v, sizeof(v)), "esp");
	assert_string_equal(value_of(e, (size_t)n, "MESSAGE", v, sizeof(v)), "engine line 7");
	n = recv(srv, e, sizeof(e), MSG_DONTWAIT);
	assert_true(n > 0);
	assert_string_equal(value_of(e, (size_t)n, "TSUNAGI_SUBSYSTEM", v, sizeof(v)), "cfg");
	assert_string_equal(value_of(e, (size_t)n, "MESSAGE", v, sizeof(v)), "config\nerror");
	assert_true(recv(srv, e, sizeof(e), MSG_DONTWAIT) < 0);	/* no third entry */

	char line[256] = "";
	rewind(tmp);
	assert_non_null(fgets(line, sizeof(line), tmp));
	assert_non_null(strstr(line, "[dmn] back on stderr"));
	assert_null(fgets(line, sizeof(line), tmp));	/* the journaled lines are not here */
	fclose(tmp);
	close(srv);
	unlink(path);
	rmdir(dir);
	assert_int_equal(log_use_journal("/nonexistent/journal/socket"), -1);
}

static void test_journal_stream(void **state)
{
	struct stat st;
	char v[64];
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	unsetenv("JOURNAL_STREAM");
	assert_false(log_journal_stream_is_stderr());
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_true(log_journal_stream_is_stderr());
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	assert_false(log_journal_stream_is_stderr());
	setenv("JOURNAL_STREAM", "garbage", 1);
	assert_false(log_journal_stream_is_stderr());
	unsetenv("JOURNAL_STREAM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_fields),
		cmocka_unit_test(test_lines_to_socket),
		cmocka_unit_test(test_journal_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
