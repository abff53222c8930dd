/* Cipher contexts of ESP SAs, kept per thread rather than per SA (issue 8): an
 * OpenSSL AES-GCM context with its key schedule is about 1.1 KB, and a concentrator
 * with thousands of mostly idle clients should not pay that for every SA that once
 * carried a packet. Each thread that runs ESP crypto (data-plane workers, the control
 * thread, tests) has CTX_CACHE_SETS x CTX_CACHE_WAYS slots; a slot holds the contexts
 * of one SA direction and is re-keyed from the SA's raw key (esp_crypto.c) when
 * another SA needs it. Re-keying costs about 0.4-0.5 us, and for AES-GCM (sealed and
 * opened by libgcrypt, esp_crypto.h) about 0.6 us more for libgcrypt's handle on the
 * first packet, against 0.5-0.7 us to seal a 1400-byte packet; a batch (a GSO
 * super-packet's ~45 segments) is one SA, so a miss is paid once a batch at most.
 *
 * Slots are found by a key, (id << 1 | enc), where id is unique per esp_crypto for
 * the life of the process (a 64-bit counter, never reused): an SA freed and another
 * allocated at the same address never finds the old one's slot. A slot never holds a
 * pointer to its SA.
 *
 * Secrets: esp_crypto_free calls ctx_cache_forget, which wipes the slots of that id in
 * every thread's cache before it returns (the contexts reset, which cleanses OpenSSL's
 * key schedule, and the libgcrypt handle closed, which wipes it): no expanded key of a freed SA stays
 * in any slot, whatever the owning threads are doing (a worker blocked in poll for
 * hours included), so the bound is zero, not a timer.
 *
 * Locking: the owner thread finds a hit without a lock (one compare of the key, an
 * atomic load). Filling a slot (a miss) and wiping it take the cache's mutex. The
 * wipe only touches slots holding the freed id, which no thread can be using any more
 * (the caller of esp_crypto_free guarantees nobody uses that esp_crypto), so a hit on
 * a live slot never races with it. */
#ifndef TSUNAGI_ESP_CTX_CACHE_H
#define TSUNAGI_ESP_CTX_CACHE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <gcrypt.h>
#include <openssl/evp.h>

/* 32 contexts a thread: with the default two data-plane threads that is about 75 KB
 * for the whole daemon once traffic has flowed (the ra bench's 1000 tunnels: about
 * 75 bytes per IKE SA instead of 2.2 KB). Two ways so that two busy SAs whose ids
 * fall in one set do not evict each other on every packet. */
#define CTX_CACHE_SETS	16
#define CTX_CACHE_WAYS	2	/* ctx_cache_find knows there are two */

struct ctx_slot {
	_Atomic uint64_t key;		/* id << 1 | enc; 0: empty */
	/* The EVP context and what it was initialised for (cipher and direction): a key
	 * change with the same cipher and direction keeps OpenSSL's allocation. */
	EVP_CIPHER_CTX *ctx;
	const EVP_CIPHER *evp;
	int enc;
	bool open_fixed;		/* AES-GCM decryption: the salt fixed in ctx */
	/* libgcrypt's AES-GCM handle with the key set (esp_crypto.h), opened on the
	 * first packet that uses it; closed (and so wiped) when the slot changes SA. */
	gcry_cipher_hd_t gcry;
};

struct ctx_set {
	struct ctx_slot way[CTX_CACHE_WAYS];
	uint8_t victim;			/* the way a miss replaces (the one used least
					 * recently); written by the owner only */
};

struct ctx_cache {
	pthread_mutex_t lock;
	struct ctx_cache *next, **pprev;	/* every thread's cache, for the wipe */
	struct ctx_set set[CTX_CACHE_SETS];
};

/* This thread's cache; NULL until its first miss. */
extern _Thread_local struct ctx_cache *ctx_cache_mine;

/* A new id for an esp_crypto: never 0, never the same twice. */
uint64_t ctx_cache_new_id(void);

static inline uint64_t ctx_cache_key(uint64_t id, int enc)
{
	return id << 1 | (enc ? 1 : 0);
}

/* Consecutive ids of one direction fall in consecutive sets; the two directions of
 * an id in sets half the table apart. */
static inline struct ctx_set *ctx_cache_set_of(struct ctx_cache *c, uint64_t key)
{
	uint64_t id = key >> 1;
	return &c->set[(id + (key & 1) * (CTX_CACHE_SETS / 2)) & (CTX_CACHE_SETS - 1)];
}

/* The slot holding key in this thread's cache, or NULL: the per-packet path. A hit
 * on way 0 is a compare; on way 1 the set's victim turns to way 0 when it was 1. */
static inline struct ctx_slot *ctx_cache_find(uint64_t key)
{
	struct ctx_cache *c = ctx_cache_mine;
	if (__builtin_expect(!c, 0))
		return NULL;
	struct ctx_set *s = ctx_cache_set_of(c, key);
	if (atomic_load_explicit(&s->way[0].key, memory_order_relaxed) == key) {
		s->victim = 1;
		return &s->way[0];
	}
	if (atomic_load_explicit(&s->way[1].key, memory_order_relaxed) == key) {
		s->victim = 0;
		return &s->way[1];
	}
	return NULL;
}

/* A miss: the slot to re-key for key, emptied, with this thread's cache locked (made
 * on the first call). The caller initialises the contexts and then calls
 * ctx_cache_fill_done. NULL (nothing locked) when the cache cannot be allocated. */
struct ctx_slot *ctx_cache_claim(uint64_t key);
/* Ends a claim: the slot holds key from now on (ok), or stays empty. */
void ctx_cache_fill_done(struct ctx_slot *s, uint64_t key, bool ok);

/* This thread's cache locked, for changes to one of its slots after the claim (the
 * libgcrypt handle, opened on first need). */
void ctx_cache_lock(void);
void ctx_cache_unlock(void);

/* Wipes the slots of id (both directions) in every thread's cache. */
void ctx_cache_forget(uint64_t id);

/* Tests: whether ctx_cache_forget wipes anything (default true), so that a test can
 * show the id alone keeps a reused address from finding an old key. */
void ctx_cache_set_wipe(bool on);
#endif
