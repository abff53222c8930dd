/* The daemon's named pools: each a struct pool (the allocator) with the configuration
 * it was loaded with. A reload or load-pool replaces the configuration and carries the
 * leases over, so clients keep their addresses across a reload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/pool.h"
#include "lib/log.h"

struct entry {
	struct pool *pool;
	struct pool_cfg *cfg;
	struct entry *next;
};

struct pools {
	struct entry *list;	/* in load order */
};

struct pools *pools_new(void)
{
	return calloc(1, sizeof(struct pools));
}

static void entry_free(struct entry *e)
{
	pool_free(e->pool);
	e->cfg->next = NULL;
	pool_cfg_free(e->cfg);
	free(e);
}

void pools_free(struct pools *ps)
{
	if (!ps)
		return;
	for (struct entry *e = ps->list, *next; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	free(ps);
}

static struct entry *entry_find(const struct pools *ps, const char *name)
{
	for (struct entry *e = ps->list; e; e = e->next)
		if (strcmp(pool_name(e->pool), name) == 0)
			return e;
	return NULL;
}

/* Compares what is served (a range over POOL_MAX_SIZE is cut short). */
static bool same_range(const struct pool *p, const struct pool_cfg *cfg)
{
	struct pool *probe = pool_new("", &cfg->first, &cfg->last);
	if (!probe)
		return false;
	struct addr f1, l1, f2, l2;
	pool_range(p, &f1, &l1);
	pool_range(probe, &f2, &l2);
	pool_free(probe);
	return addr_equal_ip(&f1, &f2) && addr_equal_ip(&l1, &l2);
}

/* A new entry for cfg, with the leases of old (if any) carried over. */
static struct entry *entry_new(struct pool_cfg *cfg, const struct entry *old)
{
	struct entry *e = calloc(1, sizeof(*e));
	if (!e || !(e->pool = pool_new(cfg->name, &cfg->first, &cfg->last))) {
		free(e);
		return NULL;
	}
	e->cfg = cfg;
	cfg->next = NULL;
	if (old) {
		uint32_t lost = pool_adopt_leases(e->pool, old->pool);
		if (lost)
			log_err(LOG_CFG, "pool '%s': %u lease(s) outside the new addresses %s dropped",
				cfg->name, lost, cfg->addrs);
	}
	return e;
}

void pools_load(struct pools *ps, struct pool_cfg *cfgs)
{
	struct entry *list = NULL, **tail = &list;
	while (cfgs) {
		struct pool_cfg *next = cfgs->next;
		struct entry *old = entry_find(ps, cfgs->name);
		struct entry *e = entry_new(cfgs, old);
		if (!e) {
			log_err(LOG_CFG, "pool '%s': out of memory, not loaded", cfgs->name);
			cfgs->next = NULL;
			pool_cfg_free(cfgs);
		} else {
			*tail = e;
			tail = &e->next;
		}
		cfgs = next;
	}
	for (struct entry *e = ps->list, *next; e; e = next) {
		next = e->next;
		struct pool_counts c;
		pool_get_counts(e->pool, &c);
		if (c.online && !entry_find(&(struct pools){ list }, pool_name(e->pool)))
			log_err(LOG_CFG, "pool '%s' removed with %u online lease(s); they stay with "
				"their SAs until these end", pool_name(e->pool), c.online);
		entry_free(e);
	}
	ps->list = list;
}

int pools_add(struct pools *ps, struct pool_cfg *cfg, char *err, size_t errlen)
{
	struct entry *old = entry_find(ps, cfg->name);
	if (old) {
		struct pool_counts c;
		pool_get_counts(old->pool, &c);
		if (c.online && !same_range(old->pool, cfg)) {
			snprintf(err, errlen, "pool '%s' has %u online lease(s), unable to change "
				 "its addresses", cfg->name, c.online);
			pool_cfg_free(cfg);
			return -1;
		}
	}
	struct entry *e = entry_new(cfg, old);
	if (!e) {
		snprintf(err, errlen, "pool '%s': out of memory", cfg->name);
		pool_cfg_free(cfg);
		return -1;
	}
	struct entry **pp = &ps->list;
	while (*pp && *pp != old)
		pp = &(*pp)->next;
	e->next = old ? old->next : NULL;
	*pp = e;
	if (old)
		entry_free(old);
	return 0;
}

int pools_remove(struct pools *ps, const char *name, char *err, size_t errlen)
{
	for (struct entry **pp = &ps->list; *pp; pp = &(*pp)->next) {
		struct entry *e = *pp;
		if (strcmp(pool_name(e->pool), name) != 0)
			continue;
		struct pool_counts c;
		pool_get_counts(e->pool, &c);
		if (c.online) {
			snprintf(err, errlen, "pool '%s' has %u online lease(s), unable to unload",
				 name, c.online);
			return -1;
		}
		*pp = e->next;
		entry_free(e);
		return 0;
	}
	snprintf(err, errlen, "pool '%s' not found", name);
	return -1;
}

struct pool *pools_find(const struct pools *ps, const char *name)
{
	struct entry *e = entry_find(ps, name);
	return e ? e->pool : NULL;
}

const struct pool_cfg *pools_cfg(const struct pools *ps, const struct pool *p)
{
	for (struct entry *e = ps->list; e; e = e->next)
		if (e->pool == p)
			return e->cfg;
	return NULL;
}

struct pool *pools_first(const struct pools *ps)
{
	return ps->list ? ps->list->pool : NULL;
}

struct pool *pools_next(const struct pools *ps, const struct pool *p)
{
	for (struct entry *e = ps->list; e; e = e->next)
		if (e->pool == p)
			return e->next ? e->next->pool : NULL;
	return NULL;
}

int pools_acquire(struct pools *ps, char *const *names, size_t n, const char *id,
		  const struct addr *peer, const struct addr *requested, struct addr *out,
		  struct pool **from)
{
	int worst = POOL_UNKNOWN;
	for (size_t i = 0; i < n; i++) {
		struct pool *p = pools_find(ps, names[i]);
		if (!p)
			continue;
		int rc = pool_acquire(p, id, peer, requested, out);
		if (rc == POOL_OK) {
			*from = p;
			return POOL_OK;
		}
		/* Exhausted says more than another family, which says more than unknown. */
		if (rc == POOL_EXHAUSTED || rc == POOL_NOMEM || worst == POOL_UNKNOWN)
			worst = worst == POOL_EXHAUSTED ? worst : rc;
	}
	*from = NULL;
	return worst;
}

bool pools_release(struct pools *ps, const char *name, const struct addr *a, const char *id)
{
	struct pool *p = pools_find(ps, name);
	return p && pool_release(p, a, id);
}
