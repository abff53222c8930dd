#include "lib/log.h"
#include "lib/log_json.h"
#include "lib/log_journal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *const subsys_names[LOG_SUBSYS_COUNT] = {
	"dmn", "ike", "cfg", "net", "enc", "esp", "knl", "nat", "vci",
};

static int levels[LOG_SUBSYS_COUNT] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
static bool to_stderr = true;
static bool to_syslog;
static bool as_json;
static int journal_fd = -1;

struct sink { log_sink_fn fn; void *arg; };
#define MAX_SINKS 4
static struct sink sinks[MAX_SINKS];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

bool log_enabled(enum log_subsys s, int level)
{
	return (unsigned)s < LOG_SUBSYS_COUNT && level <= levels[s];
}

void log_set_level(enum log_subsys s, int level)
{
	if ((unsigned)s < LOG_SUBSYS_COUNT)
		levels[s] = level;
}

void log_set_all_levels(int level)
{
	for (int i = 0; i < LOG_SUBSYS_COUNT; i++)
		levels[i] = level;
}

int log_get_level(enum log_subsys s)
{
	return (unsigned)s < LOG_SUBSYS_COUNT ? levels[s] : -1;
}

int log_subsys_parse(const char *name)
{
	if (strcasecmp(name, "vici") == 0)
		return LOG_VICI;
	for (int i = 0; i < LOG_SUBSYS_COUNT; i++)
		if (strcasecmp(name, subsys_names[i]) == 0)
			return i;
	return -1;
}

const char *log_subsys_name(enum log_subsys s)
{
	return (unsigned)s < LOG_SUBSYS_COUNT ? subsys_names[s] : "???";
}

void log_use_syslog(bool on, const char *ident)
{
	if (on && !to_syslog)
		openlog(ident ? ident : "tsunagid", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = on;
}

void log_use_stderr(bool on)
{
	to_stderr = on;
}

void log_use_json(bool on)
{
	as_json = on;
}

int log_use_journal(const char *path)
{
	if (journal_fd >= 0)
		close(journal_fd);
	journal_fd = path ? log_journal_open(path) : -1;
	return path && journal_fd < 0 ? -1 : 0;
}

static void emit_text(enum log_subsys s, int level, const char *line)
{
	/* To the journal with the subsystem as a field; stderr (which the journal
	 * reads too) when that fails. */
	bool journaled = journal_fd >= 0 &&
			 log_journal_send(journal_fd, subsys_names[s], level, line) == 0;
	if (to_stderr && !journaled) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %02d[%s] %s\n", stamp, ts.tv_nsec / 1000000, level,
			subsys_names[s], line);
	}
	if (to_syslog)
		syslog(level <= 0 ? LOG_ERR : LOG_INFO, "[%s] %s", subsys_names[s], line);
}

/* One JSON object per line, to stderr and syslog alike. */
static void emit_json(enum log_subsys s, int level, const char *line)
{
	static __thread char obj[LOG_JSON_MAX];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	log_json_format(obj, sizeof(obj), &ts, subsys_names[s], level, line);
	if (to_stderr)
		fprintf(stderr, "%s\n", obj);
	if (to_syslog)
		syslog(level <= 0 ? LOG_ERR : LOG_INFO, "%s", obj);
}

int log_add_sink(log_sink_fn fn, void *arg)
{
	int rc = -1;
	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < MAX_SINKS; i++) {
		if (!sinks[i].fn) {
			sinks[i] = (struct sink){ fn, arg };
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&log_lock);
	return rc;
}

void log_remove_sink(log_sink_fn fn, void *arg)
{
	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < MAX_SINKS; i++)
		if (sinks[i].fn == fn && sinks[i].arg == arg)
			sinks[i] = (struct sink){ 0 };
	pthread_mutex_unlock(&log_lock);
}

void log_vmsg(enum log_subsys s, int level, const char *fmt, va_list ap)
{
	char line[1024];
	struct sink copy[MAX_SINKS];

	if (!log_enabled(s, level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (as_json)
		emit_json(s, level, line);
	else
		emit_text(s, level, line);
	pthread_mutex_lock(&log_lock);
	memcpy(copy, sinks, sizeof(copy));
	pthread_mutex_unlock(&log_lock);
	for (int i = 0; i < MAX_SINKS; i++)
		if (copy[i].fn)
			copy[i].fn(copy[i].arg, s, level, line);
}

void log_msg(enum log_subsys s, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(s, level, fmt, ap);
	va_end(ap);
}
