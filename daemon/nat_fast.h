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
/* The ops for nat_table_set_fast, with nf as their argument. */
extern const struct nat_fast_ops nat_fast_ops;
#endif
