/* The TUN device and its routes. The engine reads clear packets that the kernel
 * routes into the TUN device and writes decapsulated ones back. Routes for the
 * remote selectors point into the device; they live in their own routing table
 * (strongSwan uses 220) selected by an ip rule that skips packets carrying our
 * firewall mark, so that ESP and IKE packets to a peer whose address lies inside a
 * remote selector never loop back into the tunnel. All set-up goes through rtnetlink;
 * nothing is shelled out. */
#ifndef TSUNAGI_ESP_TUN_H
#define TSUNAGI_ESP_TUN_H
#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"

#define TUN_MAX_QUEUES 8

struct tun {
	char name[16];		/* IFNAMSIZ */
	int ifindex;
	int nqueues;
	int fd[TUN_MAX_QUEUES];	/* one per queue (IFF_MULTI_QUEUE when more than one) */
};

/* Creates (or attaches to) the device `name` ("" = kernel picks tunN) with
 * IFF_TUN|IFF_NO_PI, sets the MTU and brings it up. The fds are non-blocking.
 * Returns 0 or -errno. */
int tun_open(struct tun *t, const char *name, unsigned mtu, int nqueues);
void tun_close(struct tun *t);

/* Routes to dst/plen through the device, in `table` (254 = main). -errno on error;
 * adding an existing route or deleting a missing one is not an error. */
int tun_route_add(const struct tun *t, uint32_t table, const struct addr *dst, int plen);
int tun_route_del(const struct tun *t, uint32_t table, const struct addr *dst, int plen);

/* ip rule: "not fwmark MARK lookup TABLE" with the given priority, for one family.
 * Packets from our own sockets carry MARK (SO_MARK) and so bypass the table. */
int tun_rule_add(int family, uint32_t table, uint32_t fwmark, uint32_t priority);
int tun_rule_del(int family, uint32_t table, uint32_t fwmark, uint32_t priority);
#endif
