/* The NAT fast path's shell: loads tsunagi's tc program (daemon/nat_fast.bpf.c)
 * with libbpf, attaches it at ingress of the NAT interfaces and keeps its map
 * as the core says (nat_fast_ops in nat/nat.h). */
#ifndef TSUNAGI_DAEMON_NAT_FAST_H
#define TSUNAGI_DAEMON_NAT_FAST_H
#include "nat/nat.h"
#include "nat/nat_rules.h"

struct nat_fast;

/* Loads the program and attaches it to r's interfaces; NULL, after one log line
 * that says why (no BPF, no libbpf, no program file, old kernel), when it cannot:
 * everything is then queued as without it. */
struct nat_fast *nat_fast_open(const struct nat_rules *r);
/* Reload: attached to r's interfaces (and no others) from now on. */
int nat_fast_attach(struct nat_fast *nf, const struct nat_rules *r);
/* Detaches the program; its map goes with it. */
void nat_fast_close(struct nat_fast *nf);
/* FINs and RSTs the program forwarded itself: a descriptor that becomes readable
 * when there are some (-1: none come), and the reading, each handed to fn. */
typedef void (*nat_fast_tcp_fn)(void *arg, enum nat_side side, const struct nat_key *k,
    uint32_t seq, uint16_t len, uint8_t flags);
int nat_fast_event_fd(const struct nat_fast *nf);
void nat_fast_read_events(struct nat_fast *nf, nat_fast_tcp_fn fn, void *arg);
/* The ops for nat_table_set_fast, with nf as their argument. */
extern const struct nat_fast_ops nat_fast_ops;
#endif
