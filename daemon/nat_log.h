/* daemon/nat_log.c: the NAT core's events as the log lines operators know from
 * PIX/ASA syslog (302013 "Built outbound TCP connection ...", 302014 "Teardown
 * ...", 106010 "Deny inbound protocol 47 ...", 305006 "... translation creation
 * failed ..."), rate-limited. Formatting and the limiter are pure, for the tests. */
#ifndef TSUNAGI_NAT_LOG_H
#define TSUNAGI_NAT_LOG_H
#include <stddef.h>
#include <stdint.h>

#include "nat/nat.h"

#define NAT_LOG_PER_SEC 100	/* lines per second and level, as ASA's logging rate-limit */

/* The line for an event (no trailing newline); 0 when there is none to say. */
size_t nat_log_format(const struct nat_event_info *e, char *buf, size_t len);
/* Its log level: denies at 1 (audit, on by default), built/teardown at 2. */
int nat_log_level(const struct nat_event_info *e);

/* At most limit lines per second; the lines held back are counted and reported
 * by the first line of the next second. */
struct nat_log_limit {
	unsigned limit;
	uint64_t sec;		/* the second being counted */
	unsigned n;		/* lines let through in it */
	uint64_t held;		/* lines held back since the last report */
};

/* 1: log it (*held: lines held back before it, to report first); 0: hold it back. */
int nat_log_allow(struct nat_log_limit *l, uint64_t now_ms, uint64_t *held);

#endif
