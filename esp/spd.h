/* The security policy database: which packets are protected, by which reqid, in
 * which mode and between which tunnel endpoints. One list per direction, kept in
 * lookup order: lower priority value first (as Linux), then the most specific
 * selectors first, so a /32 policy wins over the /16 it lies in.
 *
 * Locking is the engine's (see sad.h); the trap state of a policy (held packets,
 * last ACQUIRE) is guarded by the engine's hold mutex because data-plane threads
 * change it under the read lock. */
#ifndef TSUNAGI_ESP_SPD_H
#define TSUNAGI_ESP_SPD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/clock.h"
#include "pfkey/pfkey.h"

/* The fields of an IP packet that selectors look at. Ports are host order; for
 * ICMP both carry type << 8 | code (as IKEv2 traffic selectors do); for non-first
 * fragments and protocols without ports both are 0. */
struct pkt_tuple {
	uint8_t family;		/* AF_INET / AF_INET6 */
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
	size_t hdrlen;		/* IP header length including IPv6 extension headers */
	size_t total;		/* the packet's length from its header (<= buffer length) */
	bool later_fragment;	/* a fragment other than the first: no transport header */
};

/* Parses the IP header of pkt. Returns 0, or -1 if it is not a well-formed IPv4/IPv6
 * packet (the TUN device gives whole packets, so short ones are garbage). */
int pkt_parse(const uint8_t *pkt, size_t len, struct pkt_tuple *t);
/* Does the packet match the pair of selectors? */
bool pkt_match(const struct pkt_tuple *t, const struct selector *src,
	       const struct selector *dst);

#define SP_HOLD_MAX 8

/* The packets a trap policy holds until its SA is up, allocated on its first one (in
 * every policy they were 80 bytes of a remote-access client's memory). */
struct sp_held {
	unsigned n;		/* packets held */
	ms_t ms[SP_HOLD_MAX];
	uint16_t len[SP_HOLD_MAX];
	uint8_t pkt[];		/* SP_HOLD_MAX slots of the engine's packet size */
};

struct sp {
	struct sp *next, *prev;		/* the direction's list, in lookup order */
	struct sp *next_exact, *next_id;	/* hash chains of struct spd */
	/* The data path's lookup (spd_lookup): a policy whose destination is one
	 * address is in the chain of that address (by_host), the others in their
	 * direction's list of such (net, in lookup order). */
	struct sp *next_host_or_net;
	struct pfkey_policy p;
	uint16_t score;		/* specificity, higher first (at most 1027) */
	bool route;		/* a route for p.dst through the TUN device is ours */
	bool port_rule;		/* or a rule for its protocol and ports (io_port_rule_add) */
	uint32_t seq;		/* when it was linked: the order within its run */
	/* Trap state: guarded by the engine's hold mutex. */
	ms_t acquire_ms;	/* last ACQUIRE queued; 0 = none */
	struct sp_held *held;	/* NULL until a packet is held */
};

/* The policies of one direction with one (priority, specificity): a new one goes
 * after the last of its run, so adding does not walk the list. */
struct sp_run {
	uint32_t priority;
	unsigned score;
	unsigned n;
	struct sp *last;
};

struct spd {
	struct sp *list[IPSEC_DIR_MAX];	/* by direction: 1 in, 2 out, 3 fwd */
	uint32_t next_index;
	unsigned count;
	/* Indexes for the control path (add, delete, find), so that they cost the same
	 * with thousands of policies: hash tables by selectors and by id (nbuckets a
	 * power of two, grown with count), and the runs of each direction in order. */
	struct sp **by_exact, **by_id, **by_host;
	size_t nbuckets;
	/* The data path's view: per direction the policies whose destination is not
	 * one address, in lookup order; the others are found by address (by_host),
	 * so a concentrator's thousand clients cost one hash chain, not a walk. */
	struct sp *net[IPSEC_DIR_MAX];
	unsigned nhost[IPSEC_DIR_MAX];	/* host policies: none, no hashing per packet */
	uint32_t next_seq;
	struct sp_run *runs[IPSEC_DIR_MAX];
	size_t nruns[IPSEC_DIR_MAX], runs_cap[IPSEC_DIR_MAX];
};

void spd_init(struct spd *s);	/* an empty SPD; its indexes are allocated on first add */
void spd_destroy(struct spd *s);

/* Adds a copy of p (assigning p->id when 0). Returns the new entry, or NULL with
 * *err = EEXIST (same direction, selectors and priority), EINVAL, ENOMEM. */
struct sp *spd_add(struct spd *s, struct pfkey_policy *p, int *err);
/* Unlinks and returns the entry; the caller frees it with sp_free. */
void spd_remove(struct spd *s, struct sp *sp);
void sp_free(struct sp *sp);

struct sp *spd_find_exact(const struct spd *s, uint8_t dir, const struct selector *src,
			  const struct selector *dst);
struct sp *spd_find_id(const struct spd *s, uint32_t id);
/* The first (most important) policy of direction dir matching the packet. */
struct sp *spd_lookup(const struct spd *s, uint8_t dir, const struct pkt_tuple *t);
#endif
