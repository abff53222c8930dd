/* journald's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): one datagram per
 * entry, "FIELD=value\n" lines, or "FIELD\n" + 64-bit little-endian length + value +
 * "\n" for values that may hold newlines. */
#include "lib/log_journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

struct entry {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

static void put(struct entry *e, const void *s, size_t n)
{
	if (e->full || n > e->cap - e->len) {
		e->full = true;
		return;
	}
	memcpy(e->p + e->len, s, n);
	e->len += n;
}

static void field(struct entry *e, const char *name, const char *value)
{
	put(e, name, strlen(name));
	put(e, "=", 1);
	put(e, value, strlen(value));
	put(e, "\n", 1);
}

size_t log_journal_entry(uint8_t *out, size_t outlen, const char *subsys, int level,
			 const char *msg)
{
	struct entry e = { out, 0, outlen, false };
	char num[16];
	uint8_t le[8];
	uint64_t n = strlen(msg);
	snprintf(num, sizeof(num), "%d", level <= 0 ? LOG_ERR : LOG_INFO);
	field(&e, "PRIORITY", num);
	field(&e, "SYSLOG_IDENTIFIER", "tsunagid");
	field(&e, "TSUNAGI_SUBSYSTEM", subsys);
	snprintf(num, sizeof(num), "%d", level);
	field(&e, "TSUNAGI_LEVEL", num);
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(n >> (8 * i));
	put(&e, "MESSAGE\n", 8);
	put(&e, le, sizeof(le));
	put(&e, msg, (size_t)n);
	put(&e, "\n", 1);
	return e.full ? 0 : e.len;
}

bool log_journal_stream_is_stderr(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int log_journal_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int log_journal_send(int fd, const char *subsys, int level, const char *msg)
{
	uint8_t entry[LOG_JOURNAL_ENTRY_MAX];
	size_t n = log_journal_entry(entry, sizeof(entry), subsys, level, msg);
	if (n == 0)
		return -1;
	return send(fd, entry, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n ? 0 : -1;
}
