/* The NAT core's flow table shared by several queue threads (nat { queues = N }).
 * The core stays single-threaded and pure (nat/nat.h); this is the shell's lock
 * around it. One mutex for the whole table: both directions of a translated flow
 * hash to different queues (their addresses differ before translation), so the
 * table cannot be split by queue. Everything that touches the table while the
 * threads run (translate, expiry, counters, walk, flush, reload) goes through it. */
#ifndef TSUNAGI_DAEMON_NAT_SHARED_H
#define TSUNAGI_DAEMON_NAT_SHARED_H
#include <pthread.h>
#include <stdint.h>

#include "nat/nat.h"

struct nat_shared {
	pthread_mutex_t mu;
	struct nat_table *t;
};

int nat_shared_init(struct nat_shared *s, struct nat_table *t);
void nat_shared_destroy(struct nat_shared *s);
void nat_shared_lock(struct nat_shared *s);
void nat_shared_unlock(struct nat_shared *s);
/* nat_translate under the lock. */
enum nat_verdict nat_shared_translate(struct nat_shared *s, struct nat_packet *p,
				      enum nat_side side, uint64_t now_ms);
#endif
