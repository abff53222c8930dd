/* Per-thread cipher contexts (see ctx_cache.h). */
#include "esp/ctx_cache.h"

#include <stdlib.h>


_Thread_local struct ctx_cache *ctx_cache_mine;

static atomic_uint_fast64_t next_id = 1;
static atomic_bool wipe_on = true;

/* Every thread's cache, so that a freed SA's slots are wiped in all of them. */
static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctx_cache *caches;
/* Frees a thread's cache when the thread ends. */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

uint64_t ctx_cache_new_id(void)
{
	return atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
}

/* Leaves the slot empty with nothing of its last key in memory: OpenSSL cleanses and
 * frees the context's key schedule on reset (the EVP_CIPHER_CTX shell stays for the
 * next fill), libgcrypt's handle is closed (gcry_cipher_close wipes it). The cache is
 * locked. */
static void slot_wipe(struct ctx_slot *s)
{
	atomic_store_explicit(&s->key, 0, memory_order_relaxed);
	if (s->ctx)
		EVP_CIPHER_CTX_reset(s->ctx);
	s->evp = NULL;
	s->open_fixed = false;
	gcry_cipher_close(s->gcry);
	s->gcry = NULL;
}

static void cache_free(void *arg)
{
	struct ctx_cache *c = arg;
	pthread_mutex_lock(&caches_lock);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	pthread_mutex_unlock(&caches_lock);
	for (unsigned i = 0; i < CTX_CACHE_SETS; i++) {
		for (unsigned w = 0; w < CTX_CACHE_WAYS; w++) {
			struct ctx_slot *s = &c->set[i].way[w];
			EVP_CIPHER_CTX_free(s->ctx);	/* cleanses the key schedule */
			gcry_cipher_close(s->gcry);	/* wipes it */
		}
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
	if (ctx_cache_mine == c)
		ctx_cache_mine = NULL;
}

static void exit_key_make(void)
{
	pthread_key_create(&exit_key, cache_free);
}

static struct ctx_cache *cache_mine(void)
{
	struct ctx_cache *c = ctx_cache_mine;
	if (c)
		return c;
	pthread_once(&exit_once, exit_key_make);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_lock(&caches_lock);
	c->next = caches;
	if (caches)
		caches->pprev = &c->next;
	c->pprev = &caches;
	caches = c;
	pthread_mutex_unlock(&caches_lock);
	pthread_setspecific(exit_key, c);
	ctx_cache_mine = c;
	return c;
}

struct ctx_slot *ctx_cache_claim(uint64_t key)
{
	struct ctx_cache *c = cache_mine();
	if (!c)
		return NULL;
	struct ctx_set *set = ctx_cache_set_of(c, key);
	unsigned w = set->victim;
	set->victim = (uint8_t)!w;
	pthread_mutex_lock(&c->lock);
	struct ctx_slot *s = &set->way[w];
	atomic_store_explicit(&s->key, 0, memory_order_relaxed);
	/* The next key overwrites the EVP key schedule; libgcrypt's handle is only
	 * opened again on need, so the old one goes now. */
	gcry_cipher_close(s->gcry);
	s->gcry = NULL;
	return s;
}

void ctx_cache_fill_done(struct ctx_slot *s, uint64_t key, bool ok)
{
	if (ok)
		atomic_store_explicit(&s->key, key, memory_order_relaxed);
	else
		slot_wipe(s);
	pthread_mutex_unlock(&ctx_cache_mine->lock);
}

void ctx_cache_lock(void)
{
	pthread_mutex_lock(&ctx_cache_mine->lock);
}

void ctx_cache_unlock(void)
{
	pthread_mutex_unlock(&ctx_cache_mine->lock);
}

void ctx_cache_forget(uint64_t id)
{
	if (!atomic_load(&wipe_on))
		return;
	pthread_mutex_lock(&caches_lock);
	for (struct ctx_cache *c = caches; c; c = c->next) {
		pthread_mutex_lock(&c->lock);
		for (int enc = 0; enc < 2; enc++) {
			uint64_t key = ctx_cache_key(id, enc);
			struct ctx_set *set = ctx_cache_set_of(c, key);
			for (unsigned w = 0; w < CTX_CACHE_WAYS; w++)
				if (atomic_load_explicit(&set->way[w].key,
							 memory_order_relaxed) == key)
					slot_wipe(&set->way[w]);
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&caches_lock);
}

void ctx_cache_set_wipe(bool on)
{
	atomic_store(&wipe_on, on);
}
