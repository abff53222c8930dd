/* Log lines as JSON objects, one per line, for log collectors (tsunagid --log-format
 * json):
 *   {"time":"2026-11-29T09:44:11.340Z","level":1,"subsystem":"ike",
 *    "message":"...","connection":"s2s","ike_sa":"1","peer":"198.51.100.2",
 *    "child":"net","child_sa":"1"}
 * time is UTC. connection, ike_sa, peer, child and child_sa are present when the
 * message names the SA in strongSwan's notation, as the IKE core's lines do: a leading
 * "conn[N] peer: " tag, "IKE_SA conn[N]", "CHILD_SA child{N}"; state (the IKE SA's,
 * "ESTABLISHED") and child_state (the CHILD SA's, "INSTALLED") when the state hook
 * knows the SA. Any bytes make valid
 * JSON: quotes, backslashes and control characters are escaped, bytes that are not
 * UTF-8 become U+FFFD, and a message too long for the buffer is cut, never the line. */
#ifndef TSUNAGI_LOG_JSON_H
#define TSUNAGI_LOG_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define LOG_JSON_MIN 256	/* smaller buffers get nothing */
#define LOG_JSON_MAX 16384	/* enough for every field of a 1 KB message */

/* The current state of the SA a line names (child: a CHILD SA "name{id}", else an IKE
 * SA "name[id]"), or NULL when unknown (gone, or not answerable from this thread). */
typedef const char *(*log_json_state_fn)(void *arg, bool child, const char *name,
					 unsigned long id);
/* Set before any other thread logs; NULL removes it. */
void log_json_set_state_fn(log_json_state_fn fn, void *arg);

/* Writes the object (no newline) and returns its length; 0 if outlen < LOG_JSON_MIN. */
size_t log_json_format(char *out, size_t outlen, const struct timespec *when,
		       const char *subsys, int level, const char *msg);
#endif
