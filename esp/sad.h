/* The security association database. Inbound SAs are found by SPI (a hash on the
 * SPI, then the destination address); outbound SAs by reqid (a second hash), the
 * newest live one winning, so that a rekeyed SA carries traffic the moment it is
 * installed while the old inbound SA keeps decrypting until IKE deletes it.
 *
 * Locking is the engine's: one rwlock over SAD and SPD, taken for reading once per
 * batch by the data-plane threads and for writing by the control thread. Inside a
 * read-locked section a thread may use an SA's counters (atomics) and, holding
 * sa->lock, its transform state; the SA cannot be freed until the read lock is gone. */
#ifndef TSUNAGI_ESP_SAD_H
#define TSUNAGI_ESP_SAD_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "esp/esp_transform.h"
#include "lib/clock.h"
#include "pfkey/pfkey.h"

/* Counters of one SA; the data plane increments them without locks. */
struct sa_counters {
	atomic_uint_fast64_t packets, bytes;	/* processed successfully (lifetime "current") */
	atomic_uint_fast64_t replay;		/* duplicates and too old */
	atomic_uint_fast64_t integrity;		/* ICV mismatches */
	atomic_uint_fast64_t padding;		/* bad padding after a valid ICV */
	atomic_uint_fast64_t selector;		/* inner packet outside the SA's selectors */
	atomic_uint_fast64_t other;		/* short, bad next header, seq exhausted, ... */
};

/* Expiry notification progress, so an event that could not be queued is retried. */
enum sa_expiry { SA_EXP_NONE, SA_EXP_QUEUED, SA_EXP_SENT };

/* A lifetime limit as the engine keeps it: packets are 32 bits on the wire
 * (sadb_lifetime_allocations), and times of more than 2^32 seconds (136 years) are
 * kept as that; 0 = no limit, as in struct pfkey_lifetime. */
struct sa_life {
	uint64_t bytes;
	uint32_t packets;
	uint32_t addtime, usetime;	/* seconds after add / after first use */
};

/* Selectors an SA keeps in itself rather than in a block of their own: a
 * remote-access client's SAs have one a side. */
#define SA_SEL_INLINE 2

/* What the engine keeps of IKE's struct pfkey_sa: the fields the data path and
 * sa_describe use. Keys are not kept here: the transform (sa->crypto) holds them raw,
 * its cipher contexts are the threads' (esp/ctx_cache.h), and all are wiped when the
 * SA is freed. The selectors are in sel_inline when there are at most SA_SEL_INLINE,
 * else one allocation sized to their count (a struct pfkey_sa has room for
 * PFKEY_MAX_SEL per side, 1.2 KB, on every SA). */
struct sa_cfg {
	/* grouped by size: no holes (two of these a remote-access client) */
	struct selector *sel_src, *sel_dst;	/* sel_dst points into sel_src's block */
	struct sa_life hard, soft;
	struct addr src, dst;
	struct addr natt_oa;
	uint32_t spi;
	uint32_t reqid;
	uint32_t replay_window;
	uint16_t natt_type, natt_sport, natt_dport;
	uint8_t satype, mode;
	uint8_t ealg, aalg;
	bool esn;
	uint8_t state;
	bool has_hard, has_soft;
	uint8_t n_sel_src, n_sel_dst;
	bool has_sel;
	struct selector sel_inline[SA_SEL_INLINE];
};

struct sa {
	struct sa *spi_next, *reqid_next, *all_next;
	struct sa_cfg cfg;	/* as IKE installed it */
	uint64_t gen;		/* install order; the newest outbound SA wins */
	ms_t add_ms;		/* monotonic time of GETSPI/ADD/UPDATE */
	atomic_uint_fast64_t use_ms;	/* first use; 0 = unused */
	uint32_t getspi_seq;	/* seq of the GETSPI that created a larval SA */
	atomic_uchar soft_state, hard_state;	/* enum sa_expiry */
	bool larval;
	atomic_bool dead;	/* hard-expired: no longer used, deletion pending */
	/* When the last NEW_MAPPING for this inbound SA was queued (esp_engine.c), the
	 * low 32 bits of the ms clock (it only rate-limits); 0 = never. An UPDATE (IKE
	 * followed the peer) makes a new struct sa: it starts over. */
	_Atomic uint32_t mapping_ms;
	struct sa_counters ctr;

	pthread_mutex_t lock;	/* serialises the transform state below */
	struct esp_crypto *crypto;
	struct esp_out_sa out;
	struct esp_in_sa in;
};

struct sad {
	unsigned nbuckets;	/* power of two */
	struct sa **by_spi, **by_reqid;
	struct sa *all;		/* newest first */
	unsigned count;
	uint64_t next_gen;
};

int sad_init(struct sad *d, unsigned nbuckets);
/* Frees every SA (keys wiped). */
void sad_destroy(struct sad *d);

/* A new SA from IKE's description: builds the transform (keys copied into its
 * contexts). larval: a GETSPI placeholder with no transform. Returns NULL with a
 * message in err if the algorithms or keys are not acceptable. The SA is not yet
 * in the database. */
struct sa *sa_new(const struct pfkey_sa *p, bool larval, ms_t now, char *err, size_t errlen);
/* Gives a larval (or live) SA the transform and settings of p, keeping its SPI. */
int sa_install(struct sa *sa, const struct pfkey_sa *p, ms_t now, char *err, size_t errlen);
void sa_free(struct sa *sa);

void sad_insert(struct sad *d, struct sa *sa);
void sad_remove(struct sad *d, struct sa *sa);

/* Inbound: by SPI and local address (dst family 0 = any address). */
struct sa *sad_find(const struct sad *d, uint32_t spi, const struct addr *dst);
/* Any SA with this SPI (for GETSPI's uniqueness). */
bool sad_spi_used(const struct sad *d, uint32_t spi);
/* Outbound: the newest usable SA with this reqid towards dst. */
struct sa *sad_out(const struct sad *d, uint32_t reqid, const struct addr *dst);

/* Fills p with the SA's settings, current lifetime (packets, bytes, absolute times
 * as wall-clock seconds) and no keys. */
void sa_describe(const struct sa *sa, ms_t now, struct pfkey_sa *p);

/* Counts one processed packet of len bytes against the lifetime at time now.
 * Returns what the caller must report: 0 nothing, 1 soft limit crossed, 2 hard. */
int sa_account(struct sa *sa, size_t len, ms_t now);
/* Time lifetimes: the same for the time at `now`. */
int sa_check_time(struct sa *sa, ms_t now);
#endif
