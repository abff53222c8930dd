/* Virtual IP address pools (swanctl.conf "pools", RFC 7296 3.15, IKEv1 Mode Config).
 *
 * struct pool is a pure allocator over one range of addresses: no clock, no I/O, no
 * configuration. It hands addresses to identities and keeps each lease for its
 * identity when released ("offline"), so a client that reconnects gets its address
 * back. Its rules are strongSwan's (mem_pool.c), in this order:
 *   1. an offline lease of the identity (the requested address's, if it has several);
 *   2. the requested address if it is an online lease of the identity from the same
 *      peer (IKE endpoint): a client re-authenticating before its old SA is gone;
 *   3. the next address never handed out, in address order;
 *   4. the offline lease of another identity that has been offline the longest.
 * Two clients online at once with one identity (behind one NAT, different ports) get
 * two addresses. Exhaustion is POOL_EXHAUSTED, never a shared address.
 *
 * struct pools is the daemon's set of named pools with their configuration (dns,
 * subnets, ...): loaded from the configuration and by VICI load-pool; a reload keeps
 * the leases of pools that stay. pools_acquire() tries a connection's pools in the
 * listed order. Identities are strings (as identity_fmt() prints them), so IKEv1,
 * IKEv2 and tools share one key. */
#ifndef TSUNAGI_IKE_POOL_H
#define TSUNAGI_IKE_POOL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "lib/addr.h"

struct pool;
struct pools;

/* Largest number of addresses one pool serves (strongSwan's limit, 2^31). */
#define POOL_MAX_SIZE 0x80000000u

enum pool_status {
	POOL_OK = 0,
	POOL_EXHAUSTED = -1,	/* every address is online */
	POOL_OTHER_FAMILY = -2,	/* the pool is IPv4 and IPv6 was requested, or back */
	POOL_NOMEM = -3,
	POOL_UNKNOWN = -4,	/* pools_acquire(): none of the names is loaded */
};
const char *pool_status_str(int status);

/* --- one pool ---------------------------------------------------------------- */

/* A pool serving first..last inclusive (same family, first <= last; a range larger
 * than POOL_MAX_SIZE serves its first POOL_MAX_SIZE addresses). NULL on a bad range or
 * out of memory. */
struct pool *pool_new(const char *name, const struct addr *first, const struct addr *last);
void pool_free(struct pool *p);
const char *pool_name(const struct pool *p);
uint8_t pool_family(const struct pool *p);
void pool_range(const struct pool *p, struct addr *first, struct addr *last);
bool pool_contains(const struct pool *p, const struct addr *a);

/* An address for identity id (rules above). requested: the address the client asked
 * for (NULL or 0.0.0.0/:: for any); its family must be the pool's. peer: the client's
 * IKE endpoint (may be NULL). POOL_OK with *out set, or a negative enum pool_status. */
int pool_acquire(struct pool *p, const char *id, const struct addr *peer,
		 const struct addr *requested, struct addr *out);
/* Takes a's lease offline (kept for id). false when a is not online for id. */
bool pool_release(struct pool *p, const struct addr *a, const char *id);

struct pool_counts {
	uint32_t size;		/* addresses served */
	uint32_t online;	/* leases in use (an address held twice counts once) */
	uint32_t offline;	/* leases kept for their identity */
};
void pool_get_counts(const struct pool *p, struct pool_counts *c);

/* Calls fn for each lease in address order. */
typedef void (*pool_lease_fn)(void *arg, const struct addr *a, const char *id, bool online);
void pool_foreach_lease(const struct pool *p, pool_lease_fn fn, void *arg);

/* Copies to p the leases of old whose address p serves (a reload that changed the
 * range). Returns how many leases of old were dropped. */
uint32_t pool_adopt_leases(struct pool *p, const struct pool *old);

/* --- the daemon's named pools ------------------------------------------------ */

struct pools *pools_new(void);
void pools_free(struct pools *ps);
/* Replaces the whole set by cfgs (a list it takes ownership of; NULL empties it). A
 * pool whose name stays keeps its leases (those its new range still serves). */
void pools_load(struct pools *ps, struct pool_cfg *cfgs);
/* Adds or replaces one pool (VICI load-pool), taking cfg. Replacing a pool keeps its
 * leases; changing the range of a pool with online leases is refused (strongSwan's
 * rule). -1 with a message in err (cfg freed). */
int pools_add(struct pools *ps, struct pool_cfg *cfg, char *err, size_t errlen);
/* Removes a pool (VICI unload-pool); refused while it has online leases. */
int pools_remove(struct pools *ps, const char *name, char *err, size_t errlen);
struct pool *pools_find(const struct pools *ps, const char *name);
const struct pool_cfg *pools_cfg(const struct pools *ps, const struct pool *p);
/* The pools in load order (for get-pools): first, then next; NULL at the end. */
struct pool *pools_first(const struct pools *ps);
struct pool *pools_next(const struct pools *ps, const struct pool *p);

/* Acquires from the first of names[0..n) that serves requested's family and has an
 * address; *from is that pool. POOL_UNKNOWN if no name is loaded, POOL_EXHAUSTED if
 * all of the family are full, POOL_OTHER_FAMILY if none is of that family. */
int pools_acquire(struct pools *ps, char *const *names, size_t n, const char *id,
		  const struct addr *peer, const struct addr *requested, struct addr *out,
		  struct pool **from);
/* Releases a lease in the named pool; false if the pool or lease is gone (a pool
 * removed while the SA was up). */
bool pools_release(struct pools *ps, const char *name, const struct addr *a, const char *id);
#endif
