/* Time is injected: the pure cores (IKE state machine, ESP lifetimes, NAT timeouts)
 * take "now" as an argument in milliseconds of a monotonic clock. Only the I/O shells
 * call clock_now_ms(). */
#ifndef TSUNAGI_CLOCK_H
#define TSUNAGI_CLOCK_H
#include <stdint.h>

typedef uint64_t ms_t;
#define MS_NEVER UINT64_MAX

ms_t clock_now_ms(void);
/* Wall-clock seconds since the epoch, only for display. */
int64_t clock_wall_s(void);
#endif
