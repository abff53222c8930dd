/* The NFQUEUE shell of the NAT core: the kernel queues every forwarded IPv4 packet
 * (iptables raw PREROUTING: CT --notrack, then NFQUEUE --queue-bypass), we hand each
 * one to a translate function with the side its in-interface says, and send the
 * verdicts back, rewritten packets included. Reads and verdicts go in batches (one
 * recvmmsg, one sendmsg of all the verdicts); F_GSO keeps super-packets whole; the
 * queue is fail-open (packets pass when it is full). No NAT logic lives here: the
 * translate function is the pure core (nat/nat.h) or, in the placement benchmark,
 * the identity. */
#ifndef TSUNAGI_DAEMON_NAT_QUEUE_H
#define TSUNAGI_DAEMON_NAT_QUEUE_H
#include <stdbool.h>
#include <stdint.h>

#include "nat/nat.h"

#define NAT_QUEUE_BATCH 64	/* packets per read and verdict batch */
#define NAT_QUEUE_MAX_IFS 16	/* outside interfaces known by name */

typedef enum nat_verdict (*nat_queue_fn)(void *arg, struct nat_packet *p, enum nat_side side);

struct nat_queue_stats {
	uint64_t packets, rewritten, dropped, local, bad, csum_fixed, send_errors, recv_errors;
};

struct nat_queue;

/* Binds queue `num`. A packet whose in-interface is one of `outside` (names, NULL
 * terminated; looked up again when an index is unknown) is NAT_FROM_OUTSIDE, any
 * other is NAT_FROM_INSIDE. NULL with errno set on failure. */
struct nat_queue *nat_queue_open(uint16_t num, const char *const *outside,
				 nat_queue_fn fn, void *arg);
void nat_queue_close(struct nat_queue *q);
/* Replaces the outside interface list (reload). */
int nat_queue_set_outside(struct nat_queue *q, const char *const *outside);
int nat_queue_fd(const struct nat_queue *q);
/* Reads what is queued (non-blocking, at most `rounds` batches), translates and
 * sends the verdicts. Returns the packets handled, or -1 on a socket error. */
int nat_queue_run(struct nat_queue *q, int rounds);
const struct nat_queue_stats *nat_queue_stats(const struct nat_queue *q);
#endif
