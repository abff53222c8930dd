/* The NAT fast path's shell: loads tsunagi's tc program (daemon/nat_fast.bpf.c)
 * with libbpf, attaches it at ingress of the NAT interfaces and keeps its map
 * as the core says (nat_fast_ops in nat/nat.h). */
#ifndef TSUNAGI_DAEMON_NAT_FAST_H
#define TSUNAGI_DAEMON_NAT_FAST_H
#include "daemon/nat_fast_map.h"
#include "nat/nat.h"
#include "nat/nat_rules.h"

struct nat_fast;

/* Loads the program and attaches it to r's interfaces; NULL, after one log line
 * that says why (no BPF, no libbpf, no program file, old kernel), when it cannot:
 * everything is then queued as without it. */
struct nat_fast *nat_fast_open(const struct nat_rules *r);
/* Reload: attached to r's interfaces (and no others) from now on. */
int nat_fast_attach(struct nat_fast *nf, const struct nat_rules *r);
/* Detaches the program; its map goes with it. Attached through tcx links where
 * the kernel has them (6.6 on), the program also goes when tsunagid dies. */
void nat_fast_close(struct nat_fast *nf);
/* What the program did itself, for the core: TCP segments with SYN, FIN or RST
 * it forwarded (tcp: its header and payload length) and flows it made from a
 * SYN (adopt, with rule UINT16_MAX when the program read older rules; -1: the
 * core refused it, and its entries are removed). */
struct nat_fast_handlers {
	void (*tcp)(void *arg, enum nat_side side, const struct nat_key *k, const uint8_t *th,
		    size_t thlen, size_t seglen);
	int (*adopt)(void *arg, const struct nat_fast_new *n);
	void *arg;
};
/* A descriptor that becomes readable when the ring fills up (-1: none), and the
 * reading (also every NAT_FAST_POLL_MS from a timer). */
int nat_fast_event_fd(const struct nat_fast *nf);
void nat_fast_read_events(struct nat_fast *nf, const struct nat_fast_handlers *h);
/* The plan (nat/fast_plan.h) into the program's maps: from then on it makes the
 * flows the plan allows (none while plan is NULL). r names the interfaces;
 * redirect: NAT_FAST_FWD_*, what the program forwards itself. Rewritten only when
 * it changed. */
struct nat_fast_plan;
int nat_fast_set_plan(struct nat_fast *nf, const struct nat_fast_plan *p, const struct nat_rules *r,
		      uint32_t redirect);
/* What the program did with SYNs from inside (NAT_FAST_ST_*, summed over CPUs). */
#define NAT_FAST_STATS NAT_FAST_ST_COUNT
void nat_fast_stats(const struct nat_fast *nf, uint64_t out[NAT_FAST_STATS]);
/* Removes entries the program made whose flow the core does not know
 * (known(arg, e) false) and that were idle for idle_ms: none should exist (events
 * are reserved before entries are made), but a flow must never outlive tsunagid's
 * knowledge of it. Returns the number removed. */
size_t nat_fast_sweep(struct nat_fast *nf, bool (*known)(void *arg, const struct nat_fast_entry *e),
    void *arg, uint64_t now_ms, uint64_t idle_ms);
/* The ops for nat_table_set_fast, with nf as their argument. */
extern const struct nat_fast_ops nat_fast_ops;
#endif
