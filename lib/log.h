/* Logging with per-subsystem levels, as strongSwan's charon does (dmn, ike, cfg, net,
 * enc, esp, knl, nat, vici). Levels: -1 silent, 0 basic, 1 audit (default), 2 control,
 * 3 raw data (never key material), 4 private. Secrets are never passed to these calls. */
#ifndef TSUNAGI_LOG_H
#define TSUNAGI_LOG_H
#include <stdarg.h>
#include <stdbool.h>

enum log_subsys {
	LOG_DMN, LOG_IKE, LOG_CFG, LOG_NET, LOG_ENC, LOG_ESP, LOG_KNL, LOG_NAT, LOG_VICI,
	LOG_SUBSYS_COUNT
};

/* A sink sees every line that passes the level filter (VICI "log" events, tests). */
typedef void (*log_sink_fn)(void *arg, enum log_subsys s, int level, const char *line);

void log_msg(enum log_subsys s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_subsys s, int level, const char *fmt, va_list ap);
bool log_enabled(enum log_subsys s, int level);
void log_set_level(enum log_subsys s, int level);
void log_set_all_levels(int level);
int log_get_level(enum log_subsys s);
/* "ike" -> LOG_IKE; -1 if unknown. */
int log_subsys_parse(const char *name);
const char *log_subsys_name(enum log_subsys s);
void log_use_syslog(bool on, const char *ident);
void log_use_stderr(bool on);
/* Every line as one JSON object (lib/log_json.h) instead of text, to stderr and syslog. */
void log_use_json(bool on);
/* Text lines go to the systemd journal's socket at path (lib/log_journal.h) with the
 * subsystem as a field, instead of stderr; NULL stops. 0, or -1 if it cannot connect. */
int log_use_journal(const char *path);
/* Up to 4 extra sinks; returns 0 or -1. */
int log_add_sink(log_sink_fn fn, void *arg);
void log_remove_sink(log_sink_fn fn, void *arg);

#define log_err(s, ...)  log_msg((s), 0, __VA_ARGS__)
#define log_info(s, ...) log_msg((s), 1, __VA_ARGS__)
#define log_ctl(s, ...)  log_msg((s), 2, __VA_ARGS__)
#define log_raw(s, ...)  log_msg((s), 3, __VA_ARGS__)

#endif
