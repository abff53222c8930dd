/* Log lines as systemd journal entries, so that journald gets the subsystem as a
 * field (TSUNAGI_SUBSYSTEM=ike, TSUNAGI_LEVEL=1, PRIORITY, SYSLOG_IDENTIFIER=tsunagid,
 * MESSAGE): journald's native protocol on its datagram socket, without libsystemd.
 * Used when tsunagid's stderr is the journal's stream (systemd sets JOURNAL_STREAM). */
#ifndef TSUNAGI_LOG_JOURNAL_H
#define TSUNAGI_LOG_JOURNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"
#define LOG_JOURNAL_ENTRY_MAX 2048	/* enough for a 1 KB message and the fields */

/* The entry as journald's native protocol wants it; MESSAGE in the binary form, so
 * newlines in it stay. Returns its length, 0 if it does not fit. */
size_t log_journal_entry(uint8_t *out, size_t outlen, const char *subsys, int level,
			 const char *msg);
/* JOURNAL_STREAM ("device:inode") names the file that stderr is. */
bool log_journal_stream_is_stderr(void);
/* Connects to the journal's socket. Returns the descriptor, or -1. */
int log_journal_open(const char *path);
/* Sends one entry on fd. 0, or -1 (then the caller writes the line elsewhere). */
int log_journal_send(int fd, const char *subsys, int level, const char *msg);
#endif
