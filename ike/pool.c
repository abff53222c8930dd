/* One virtual IP pool: leases by identity (the rules are in pool.h). Addresses are
 * offsets from the first one; only leases take memory (two hash tables: by offset and
 * by identity), so a /8 costs nothing until it is used. Offline leases are also in a
 * list, oldest first, from which another identity takes one when nothing is left. */
#include <stdlib.h>
#include <string.h>

#include "ike/pool.h"

struct owner;

struct lease {
	uint32_t off;
	uint16_t online;		/* SAs holding it (2: a re-authentication overlap) */
	bool fresh;			/* just made: in no list yet */
	struct addr peer;		/* the last peer it was given to */
	struct owner *owner;
	struct lease *hnext;		/* in the offset hash */
	struct lease *onext;		/* in the owner's list */
	struct lease *fprev, *fnext;	/* in the offline list while offline */
};

struct owner {
	char *id;
	struct owner *hnext;
	struct lease *leases;
};

struct pool {
	char *name;
	struct addr first;
	uint32_t size;
	uint32_t unused;		/* offsets below this have been handed out once */
	uint32_t n_leases, n_online, n_owners;
	struct lease **lh;		/* by offset */
	struct owner **oh;		/* by identity */
	uint32_t nb;			/* buckets of each table (a power of two) */
	struct lease *off_head, *off_tail;	/* offline, oldest first */
};

const char *pool_status_str(int status)
{
	switch (status) {
	case POOL_OK: return "ok";
	case POOL_EXHAUSTED: return "pool exhausted";
	case POOL_OTHER_FAMILY: return "no pool of the requested address family";
	case POOL_NOMEM: return "out of memory";
	case POOL_UNKNOWN: return "no such pool loaded";
	}
	return "?";
}

/* --- address arithmetic (network order, big-endian) --- */

/* last - first + 1, or 0 when last < first; "huge" (above 2^40) is UINT64_MAX. */
static uint64_t range_count(const struct addr *first, const struct addr *last)
{
	size_t n = addr_len(first), low = n < 5 ? n : 5;
	if (memcmp(first->u.b, last->u.b, n) > 0)
		return 0;
	for (size_t i = 0; i < n - low; i++)
		if (first->u.b[i] != last->u.b[i])
			return UINT64_MAX;
	uint64_t f = 0, l = 0;
	for (size_t i = n - low; i < n; i++) {
		f = f << 8 | first->u.b[i];
		l = l << 8 | last->u.b[i];
	}
	return l - f + 1;
}

static void addr_add(const struct addr *base, uint32_t off, struct addr *out)
{
	*out = *base;
	out->port = 0;
	uint64_t carry = off;
	for (size_t i = addr_len(base); i-- > 0 && carry;) {
		carry += out->u.b[i];
		out->u.b[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

/* a's offset in the pool, or -1 when the pool does not serve it. */
static int64_t offset_of(const struct pool *p, const struct addr *a)
{
	if (a->family != p->first.family)
		return -1;
	uint64_t c = range_count(&p->first, a);
	return c == 0 || c > p->size ? -1 : (int64_t)(c - 1);
}

/* --- hashing --- */

static uint32_t hash_off(uint32_t off)
{
	off ^= off >> 16;
	off *= 0x45d9f3bu;
	off ^= off >> 16;
	return off;
}

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static struct lease *lease_at(const struct pool *p, uint32_t off)
{
	for (struct lease *l = p->lh[hash_off(off) & (p->nb - 1)]; l; l = l->hnext)
		if (l->off == off)
			return l;
	return NULL;
}

static struct owner *owner_find(const struct pool *p, const char *id)
{
	for (struct owner *o = p->oh[hash_id(id) & (p->nb - 1)]; o; o = o->hnext)
		if (strcmp(o->id, id) == 0)
			return o;
	return NULL;
}

/* Doubles both tables when they hold twice as many entries as buckets. */
static int grow(struct pool *p)
{
	if (p->n_leases < p->nb * 2 && p->n_owners < p->nb * 2)
		return 0;
	uint32_t nb = p->nb * 2;
	struct lease **lh = calloc(nb, sizeof(*lh));
	struct owner **oh = calloc(nb, sizeof(*oh));
	if (!lh || !oh) {
		free(lh);
		free(oh);
		return -1;
	}
	for (uint32_t i = 0; i < p->nb; i++) {
		for (struct lease *l = p->lh[i], *next; l; l = next) {
			next = l->hnext;
			l->hnext = lh[hash_off(l->off) & (nb - 1)];
			lh[hash_off(l->off) & (nb - 1)] = l;
		}
		for (struct owner *o = p->oh[i], *next; o; o = next) {
			next = o->hnext;
			o->hnext = oh[hash_id(o->id) & (nb - 1)];
			oh[hash_id(o->id) & (nb - 1)] = o;
		}
	}
	free(p->lh);
	free(p->oh);
	p->lh = lh;
	p->oh = oh;
	p->nb = nb;
	return 0;
}

static struct owner *owner_get(struct pool *p, const char *id)
{
	struct owner *o = owner_find(p, id);
	if (o)
		return o;
	if (grow(p) < 0 || !(o = calloc(1, sizeof(*o))) || !(o->id = strdup(id))) {
		free(o);
		return NULL;
	}
	uint32_t b = hash_id(id) & (p->nb - 1);
	o->hnext = p->oh[b];
	p->oh[b] = o;
	p->n_owners++;
	return o;
}

static void owner_drop_if_empty(struct pool *p, struct owner *o)
{
	if (o->leases)
		return;
	for (struct owner **pp = &p->oh[hash_id(o->id) & (p->nb - 1)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == o) {
			*pp = o->hnext;
			break;
		}
	}
	p->n_owners--;
	free(o->id);
	free(o);
}

/* --- the offline list --- */

static void offline_push(struct pool *p, struct lease *l)
{
	l->fnext = NULL;
	l->fprev = p->off_tail;
	if (p->off_tail)
		p->off_tail->fnext = l;
	else
		p->off_head = l;
	p->off_tail = l;
}

static void offline_unlink(struct pool *p, struct lease *l)
{
	if (l->fprev)
		l->fprev->fnext = l->fnext;
	else
		p->off_head = l->fnext;
	if (l->fnext)
		l->fnext->fprev = l->fprev;
	else
		p->off_tail = l->fprev;
	l->fprev = l->fnext = NULL;
}

/* --- leases --- */

static struct lease *lease_new(struct pool *p, struct owner *o, uint32_t off)
{
	if (grow(p) < 0)
		return NULL;
	struct lease *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->off = off;
	l->fresh = true;
	l->owner = o;
	l->onext = o->leases;
	o->leases = l;
	uint32_t b = hash_off(off) & (p->nb - 1);
	l->hnext = p->lh[b];
	p->lh[b] = l;
	p->n_leases++;
	return l;
}

static void lease_unlink_owner(struct lease *l)
{
	for (struct lease **pp = &l->owner->leases; *pp; pp = &(*pp)->onext) {
		if (*pp == l) {
			*pp = l->onext;
			break;
		}
	}
}

static void lease_set_online(struct pool *p, struct lease *l, const struct addr *peer)
{
	if (l->online == 0) {
		if (!l->fresh)
			offline_unlink(p, l);
		p->n_online++;
	}
	l->fresh = false;
	l->online++;
	if (peer)
		l->peer = *peer;
	else
		memset(&l->peer, 0, sizeof(l->peer));
}

/* Rule 1: an offline lease of o, the requested one first. */
static struct lease *existing_offline(struct owner *o, int64_t req)
{
	struct lease *any = NULL;
	for (struct lease *l = o->leases; l; l = l->onext) {
		if (l->online)
			continue;
		if ((int64_t)l->off == req)
			return l;
		if (!any)
			any = l;
	}
	return any;
}

/* Rule 2: the requested address, online for o from the same peer. */
static struct lease *existing_online(struct owner *o, int64_t req, const struct addr *peer)
{
	if (req < 0 || !peer)
		return NULL;
	for (struct lease *l = o->leases; l; l = l->onext)
		if (l->online && (int64_t)l->off == req && addr_equal(&l->peer, peer))
			return l;
	return NULL;
}

/* Rule 3: the next offset never handed out (leases adopted on a reload may sit there). */
static int64_t next_unused(struct pool *p)
{
	while (p->unused < p->size) {
		uint32_t off = p->unused++;
		if (!lease_at(p, off))
			return off;
	}
	return -1;
}

/* Rule 4: the oldest offline lease changes hands. */
static struct lease *reassign(struct pool *p, struct owner *o)
{
	struct lease *l = p->off_head;
	if (!l)
		return NULL;
	struct owner *prev = l->owner;
	lease_unlink_owner(l);
	l->owner = o;
	l->onext = o->leases;
	o->leases = l;
	owner_drop_if_empty(p, prev);
	return l;
}

int pool_acquire(struct pool *p, const char *id, const struct addr *peer,
		 const struct addr *requested, struct addr *out)
{
	if (requested && requested->family && requested->family != p->first.family)
		return POOL_OTHER_FAMILY;
	int64_t req = requested && !addr_is_any(requested) ? offset_of(p, requested) : -1;
	struct owner *o = owner_get(p, id);
	if (!o)
		return POOL_NOMEM;
	struct lease *l = existing_offline(o, req);
	if (!l)
		l = existing_online(o, req, peer);
	if (!l) {
		int64_t off = next_unused(p);
		if (off >= 0 && !(l = lease_new(p, o, (uint32_t)off))) {
			p->unused--;
			owner_drop_if_empty(p, o);
			return POOL_NOMEM;
		}
	}
	if (!l)
		l = reassign(p, o);
	if (!l) {
		owner_drop_if_empty(p, o);
		return POOL_EXHAUSTED;
	}
	lease_set_online(p, l, peer);
	addr_add(&p->first, l->off, out);
	return POOL_OK;
}

bool pool_release(struct pool *p, const struct addr *a, const char *id)
{
	int64_t off = offset_of(p, a);
	struct lease *l = off >= 0 ? lease_at(p, (uint32_t)off) : NULL;
	if (!l || !l->online || strcmp(l->owner->id, id) != 0)
		return false;
	if (--l->online == 0) {
		p->n_online--;
		offline_push(p, l);
	}
	return true;
}

/* --- the pool itself --- */

struct pool *pool_new(const char *name, const struct addr *first, const struct addr *last)
{
	if ((first->family != AF_INET && first->family != AF_INET6) ||
	    first->family != last->family)
		return NULL;
	uint64_t count = range_count(first, last);
	if (count == 0)
		return NULL;
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->first = *first;
	p->first.port = 0;
	p->size = count > POOL_MAX_SIZE ? POOL_MAX_SIZE : (uint32_t)count;
	p->nb = 16;
	p->lh = calloc(p->nb, sizeof(*p->lh));
	p->oh = calloc(p->nb, sizeof(*p->oh));
	p->name = strdup(name ? name : "");
	if (!p->lh || !p->oh || !p->name) {
		pool_free(p);
		return NULL;
	}
	return p;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; p->lh && i < p->nb; i++) {
		for (struct lease *l = p->lh[i], *next; l; l = next) {
			next = l->hnext;
			free(l);
		}
	}
	for (uint32_t i = 0; p->oh && i < p->nb; i++) {
		for (struct owner *o = p->oh[i], *next; o; o = next) {
			next = o->hnext;
			free(o->id);
			free(o);
		}
	}
	free(p->lh);
	free(p->oh);
	free(p->name);
	free(p);
}

const char *pool_name(const struct pool *p)
{
	return p->name;
}

uint8_t pool_family(const struct pool *p)
{
	return p->first.family;
}

void pool_range(const struct pool *p, struct addr *first, struct addr *last)
{
	*first = p->first;
	addr_add(&p->first, p->size - 1, last);
}

bool pool_contains(const struct pool *p, const struct addr *a)
{
	return offset_of(p, a) >= 0;
}

void pool_get_counts(const struct pool *p, struct pool_counts *c)
{
	c->size = p->size;
	c->online = p->n_online;
	c->offline = p->n_leases - p->n_online;
}

static int cmp_lease(const void *a, const void *b)
{
	uint32_t x = (*(struct lease *const *)a)->off, y = (*(struct lease *const *)b)->off;
	return x < y ? -1 : x > y;
}

void pool_foreach_lease(const struct pool *p, pool_lease_fn fn, void *arg)
{
	if (p->n_leases == 0)
		return;
	struct lease **v = malloc(p->n_leases * sizeof(*v));
	size_t n = 0;
	if (!v)
		return;
	for (uint32_t i = 0; i < p->nb; i++)
		for (struct lease *l = p->lh[i]; l; l = l->hnext)
			v[n++] = l;
	qsort(v, n, sizeof(*v), cmp_lease);
	for (size_t i = 0; i < n; i++) {
		struct addr a;
		addr_add(&p->first, v[i]->off, &a);
		fn(arg, &a, v[i]->owner->id, v[i]->online > 0);
	}
	free(v);
}

/* Offline leases keep their age order: adopt them oldest first. */
static bool adopt_one(struct pool *p, const struct pool *old, const struct lease *ol)
{
	struct addr a;
	addr_add(&old->first, ol->off, &a);
	int64_t off = offset_of(p, &a);
	if (off < 0 || lease_at(p, (uint32_t)off))
		return false;
	struct owner *o = owner_get(p, ol->owner->id);
	struct lease *l = o ? lease_new(p, o, (uint32_t)off) : NULL;
	if (!l) {
		if (o)
			owner_drop_if_empty(p, o);
		return false;
	}
	l->peer = ol->peer;
	l->fresh = false;
	l->online = ol->online;
	if (l->online)
		p->n_online++;
	else
		offline_push(p, l);
	return true;
}

uint32_t pool_adopt_leases(struct pool *p, const struct pool *old)
{
	uint32_t dropped = 0;
	for (uint32_t i = 0; i < old->nb; i++)
		for (const struct lease *l = old->lh[i]; l; l = l->hnext)
			if (l->online && !adopt_one(p, old, l))
				dropped++;
	for (const struct lease *l = old->off_head; l; l = l->fnext)
		if (!adopt_one(p, old, l))
			dropped++;
	return dropped;
}
