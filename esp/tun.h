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

#include <linux/if_tun.h>
#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20	/* Linux 6.2 */
#define TUN_F_USO6	0x40
#endif

struct tun {
	char name[16];		/* IFNAMSIZ */
	int ifindex;
	int nqueues;
	int fd[TUN_MAX_QUEUES];	/* one per queue (IFF_MULTI_QUEUE when more than one) */
	bool vnet;		/* IFF_VNET_HDR: every read and write starts with a
				 * virtio_net_hdr (esp/gso.h) */
	unsigned offload;	/* TUN_F_* the kernel accepted (TUNSETOFFLOAD) */
};

/* Creates (or attaches to) the device `name` ("" = kernel picks tunN) with
 * IFF_TUN|IFF_NO_PI, sets the MTU and brings it up. The fds are non-blocking.
 * With offload, it asks for IFF_VNET_HDR and checksum, TCP and UDP segmentation
 * offload (reads then give super-packets of up to 64 KiB), taking what the kernel
 * grants; without the vnet header where the kernel refuses it. Returns 0 or -errno. */
int tun_open(struct tun *t, const char *name, unsigned mtu, int nqueues, bool offload);
void tun_close(struct tun *t);

/* Routes to dst/plen through the device, in `table` (254 = main). -errno on error;
 * adding an existing route or deleting a missing one is not an error. */
int tun_route_add(const struct tun *t, uint32_t table, const struct addr *dst, int plen);
int tun_route_del(const struct tun *t, uint32_t table, const struct addr *dst, int plen);

/* A virtual IP (host address) on the device, or off it again. 0 or -errno; removing
 * an address that is not there is not an error. */
int tun_addr_add(const struct tun *t, const struct addr *a);
int tun_addr_del(const struct tun *t, const struct addr *a);

/* ip rule: "not fwmark MARK lookup TABLE" with the given priority, for one family.
 * Packets from our own sockets carry MARK (SO_MARK) and so bypass the table. */
int tun_rule_add(int family, uint32_t table, uint32_t fwmark, uint32_t priority);
int tun_rule_del(int family, uint32_t table, uint32_t fwmark, uint32_t priority);
#endif
