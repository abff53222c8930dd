/* Security association database (see sad.h). */
#include "esp/sad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/wipe.h"

static unsigned spi_bucket(const struct sad *d, uint32_t spi)
{
	/* SPIs are random (ours) or chosen by the peer; mix anyway so a peer's
	 * sequential SPIs do not line up in one bucket. */
	uint32_t h = spi * 0x9e3779b1u;
	return (h ^ (h >> 16)) & (d->nbuckets - 1);
}

static unsigned reqid_bucket(const struct sad *d, uint32_t reqid)
{
	return (reqid * 0x9e3779b1u >> 8) & (d->nbuckets - 1);
}

int sad_init(struct sad *d, unsigned nbuckets)
{
	memset(d, 0, sizeof(*d));
	unsigned n = 16;
	while (n < nbuckets && n < (1u << 20))
		n <<= 1;
	d->nbuckets = n;
	d->by_spi = calloc(n, sizeof(*d->by_spi));
	d->by_reqid = calloc(n, sizeof(*d->by_reqid));
	if (!d->by_spi || !d->by_reqid) {
		free(d->by_spi);
		free(d->by_reqid);
		return -1;
	}
	d->next_gen = 1;
	return 0;
}

void sad_destroy(struct sad *d)
{
	struct sa *sa = d->all;
	while (sa) {
		struct sa *next = sa->all_next;
		sa_free(sa);
		sa = next;
	}
	free(d->by_spi);
	free(d->by_reqid);
	memset(d, 0, sizeof(*d));
}

/* --- one SA ---------------------------------------------------------------------- */

static int sa_make_transform(struct sa *sa, const struct pfkey_sa *p, char *err, size_t errlen)
{
	enum esp_cipher c;
	enum esp_integ i;
	if (!esp_cipher_from_sadb(p->ealg, &c)) {
		snprintf(err, errlen, "unsupported encryption algorithm %u", p->ealg);
		return -1;
	}
	if (!esp_integ_from_sadb(p->aalg, &i)) {
		snprintf(err, errlen, "unsupported integrity algorithm %u", p->aalg);
		return -1;
	}
	if (p->mode != IPSEC_MODE_TUNNEL && p->mode != IPSEC_MODE_TRANSPORT) {
		snprintf(err, errlen, "unsupported mode %u", p->mode);
		return -1;
	}
	struct esp_crypto *ec = esp_crypto_new(c, p->ekey, p->ekey_len, i,
					       p->akey_len ? p->akey : NULL, p->akey_len,
					       err, errlen);
	if (!ec)
		return -1;
	struct replay_window rw;
	if (replay_init(&rw, p->replay_window, p->esn) < 0) {
		snprintf(err, errlen, "replay window %u too large (max %u) or out of memory",
			 p->replay_window, REPLAY_WINDOW_MAX);
		esp_crypto_free(ec);
		return -1;
	}
	esp_crypto_free(sa->crypto);
	sa->crypto = ec;
	sa->out = (struct esp_out_sa){ .spi = p->spi, .seq = 0, .esn = p->esn, .c = ec };
	sa->in.spi = p->spi;
	sa->in.tunnel = p->mode == IPSEC_MODE_TUNNEL;
	sa->in.c = ec;
	replay_free(&sa->in.rw);
	sa->in.rw = rw;
	sa->in.last_seq = 0;
	return 0;
}

/* p's selectors in one block sized to their count; *out NULL when they fit in the
 * SA itself (sa_set_cfg puts them in sel_inline). */
static int sel_dup(const struct pfkey_sa *p, struct selector **out)
{
	size_t ns = p->n_sel_src < PFKEY_MAX_SEL ? p->n_sel_src : PFKEY_MAX_SEL;
	size_t nd = p->n_sel_dst < PFKEY_MAX_SEL ? p->n_sel_dst : PFKEY_MAX_SEL;
	*out = NULL;
	if (ns + nd <= SA_SEL_INLINE)
		return 0;
	*out = malloc((ns + nd) * sizeof(**out));
	if (!*out)
		return -1;
	memcpy(*out, p->sel_src, ns * sizeof(**out));
	memcpy(*out + ns, p->sel_dst, nd * sizeof(**out));
	return 0;
}

static void sel_free(struct sa *sa)
{
	if (sa->cfg.sel_src != sa->cfg.sel_inline)
		free(sa->cfg.sel_src);
	sa->cfg.sel_src = sa->cfg.sel_dst = NULL;
}

static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static struct sa_life life_keep(const struct pfkey_lifetime *l)
{
	return (struct sa_life){ .bytes = l->bytes, .packets = sat32(l->packets),
				 .addtime = sat32(l->addtime), .usetime = sat32(l->usetime) };
}

static struct pfkey_lifetime life_give(const struct sa_life *l)
{
	return (struct pfkey_lifetime){ .bytes = l->bytes, .packets = l->packets,
					.addtime = l->addtime, .usetime = l->usetime };
}

/* Copies p's settings (not its keys) into the SA, taking sel from sel_dup. */
static void sa_set_cfg(struct sa *sa, const struct pfkey_sa *p, struct selector *sel)
{
	sel_free(sa);
	uint8_t ns = p->n_sel_src < PFKEY_MAX_SEL ? p->n_sel_src : PFKEY_MAX_SEL;
	uint8_t nd = p->n_sel_dst < PFKEY_MAX_SEL ? p->n_sel_dst : PFKEY_MAX_SEL;
	sa->cfg = (struct sa_cfg){
		.spi = p->spi, .satype = p->satype, .mode = p->mode, .reqid = p->reqid,
		.src = p->src, .dst = p->dst, .ealg = p->ealg, .aalg = p->aalg,
		.replay_window = p->replay_window, .esn = p->esn, .state = p->state,
		.has_hard = p->has_hard, .has_soft = p->has_soft,
		.hard = life_keep(&p->hard), .soft = life_keep(&p->soft),
		.natt_type = p->natt_type, .natt_sport = p->natt_sport,
		.natt_dport = p->natt_dport, .natt_oa = p->natt_oa,
		.n_sel_src = ns, .n_sel_dst = nd, .has_sel = p->has_sel,
	};
	if (!sel) {
		sel = sa->cfg.sel_inline;
		memcpy(sel, p->sel_src, ns * sizeof(*sel));
		memcpy(sel + ns, p->sel_dst, nd * sizeof(*sel));
	}
	sa->cfg.sel_src = sel;
	sa->cfg.sel_dst = sel + ns;
}

struct sa *sa_new(const struct pfkey_sa *p, bool larval, ms_t now, char *err, size_t errlen)
{
	struct sa *sa = calloc(1, sizeof(*sa));
	if (!sa) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&sa->lock, NULL);
	sa->larval = larval;
	sa->add_ms = now;
	struct selector *sel;
	if (sel_dup(p, &sel) < 0) {
		snprintf(err, errlen, "out of memory");
		sa_free(sa);
		return NULL;
	}
	sa_set_cfg(sa, p, sel);
	if (!larval && sa_make_transform(sa, p, err, errlen) < 0) {
		sa_free(sa);
		return NULL;
	}
	sa->cfg.state = larval ? SADB_SASTATE_LARVAL : SADB_SASTATE_MATURE;
	return sa;
}

int sa_install(struct sa *sa, const struct pfkey_sa *p, ms_t now, char *err, size_t errlen)
{
	struct selector *sel;
	if (sel_dup(p, &sel) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sa_make_transform(sa, p, err, errlen) < 0) {
		free(sel);
		return -1;
	}
	sa_set_cfg(sa, p, sel);
	sa->cfg.state = SADB_SASTATE_MATURE;
	sa->larval = false;
	sa->add_ms = now;
	atomic_store(&sa->use_ms, 0);
	atomic_store(&sa->dead, false);
	atomic_store(&sa->soft_state, SA_EXP_NONE);
	atomic_store(&sa->hard_state, SA_EXP_NONE);
	return 0;
}

void sa_free(struct sa *sa)
{
	if (!sa)
		return;
	esp_crypto_free(sa->crypto);
	replay_free(&sa->in.rw);
	sel_free(sa);
	pthread_mutex_destroy(&sa->lock);
	wipe_free(sa, sizeof(*sa));	/* also the replay window and settings */
}

/* --- the tables ---------------------------------------------------------------------- */

void sad_insert(struct sad *d, struct sa *sa)
{
	unsigned b = spi_bucket(d, sa->cfg.spi);
	sa->spi_next = d->by_spi[b];
	d->by_spi[b] = sa;
	b = reqid_bucket(d, sa->cfg.reqid);
	sa->reqid_next = d->by_reqid[b];
	d->by_reqid[b] = sa;
	sa->all_next = d->all;
	d->all = sa;
	sa->gen = d->next_gen++;
	d->count++;
}

static void unlink_from(struct sa **head, struct sa *sa, size_t next_off)
{
	for (struct sa **pp = head; *pp; pp = (struct sa **)((char *)*pp + next_off)) {
		if (*pp == sa) {
			*pp = *(struct sa **)((char *)sa + next_off);
			return;
		}
	}
}

void sad_remove(struct sad *d, struct sa *sa)
{
	unlink_from(&d->by_spi[spi_bucket(d, sa->cfg.spi)], sa, offsetof(struct sa, spi_next));
	unlink_from(&d->by_reqid[reqid_bucket(d, sa->cfg.reqid)], sa,
		    offsetof(struct sa, reqid_next));
	unlink_from(&d->all, sa, offsetof(struct sa, all_next));
	d->count--;
}

struct sa *sad_find(const struct sad *d, uint32_t spi, const struct addr *dst)
{
	for (struct sa *sa = d->by_spi[spi_bucket(d, spi)]; sa; sa = sa->spi_next) {
		if (sa->cfg.spi != spi)
			continue;
		if (!dst || !dst->family || addr_equal_ip(&sa->cfg.dst, dst))
			return sa;
	}
	return NULL;
}

bool sad_spi_used(const struct sad *d, uint32_t spi)
{
	return sad_find(d, spi, NULL) != NULL;
}

struct sa *sad_out(const struct sad *d, uint32_t reqid, const struct addr *dst)
{
	struct sa *best = NULL;
	for (struct sa *sa = d->by_reqid[reqid_bucket(d, reqid)]; sa; sa = sa->reqid_next) {
		if (sa->cfg.reqid != reqid || sa->larval || atomic_load(&sa->dead))
			continue;
		if (!addr_equal_ip(&sa->cfg.dst, dst))
			continue;
		if (!best || sa->gen > best->gen)
			best = sa;
	}
	return best;
}

/* --- lifetimes ------------------------------------------------------------------------- */

static int64_t wall_of(ms_t t, ms_t now)
{
	return clock_wall_s() - (int64_t)((now - t) / 1000);
}

void sa_describe(const struct sa *sa, ms_t now, struct pfkey_sa *p)
{
	const struct sa_cfg *c = &sa->cfg;
	/* keys never leave the engine: their lengths stay 0 */
	*p = (struct pfkey_sa){
		.spi = c->spi, .satype = c->satype, .mode = c->mode, .reqid = c->reqid,
		.src = c->src, .dst = c->dst, .ealg = c->ealg, .aalg = c->aalg,
		.replay_window = c->replay_window, .esn = c->esn,
		.has_hard = c->has_hard, .has_soft = c->has_soft,
		.hard = life_give(&c->hard), .soft = life_give(&c->soft),
		.natt_type = c->natt_type, .natt_sport = c->natt_sport,
		.natt_dport = c->natt_dport, .natt_oa = c->natt_oa,
		.n_sel_src = c->n_sel_src, .n_sel_dst = c->n_sel_dst, .has_sel = c->has_sel,
	};
	if (c->n_sel_src)
		memcpy(p->sel_src, c->sel_src, c->n_sel_src * sizeof(*c->sel_src));
	if (c->n_sel_dst)
		memcpy(p->sel_dst, c->sel_dst, c->n_sel_dst * sizeof(*c->sel_dst));
	p->state = sa->larval ? SADB_SASTATE_LARVAL
		 : atomic_load(&sa->dead) ? SADB_SASTATE_DEAD
		 : atomic_load(&sa->soft_state) != SA_EXP_NONE ? SADB_SASTATE_DYING
		 : SADB_SASTATE_MATURE;
	p->has_current = true;
	p->current.packets = atomic_load(&sa->ctr.packets);
	p->current.bytes = atomic_load(&sa->ctr.bytes);
	p->current.addtime = (uint64_t)wall_of(sa->add_ms, now);
	ms_t used = atomic_load(&sa->use_ms);
	p->current.usetime = used ? (uint64_t)wall_of(used, now) : 0;
}

static bool over(uint64_t limit, uint64_t value)
{
	return limit && value >= limit;
}

static bool time_over(uint64_t limit_s, ms_t since, ms_t now)
{
	return limit_s && now >= since && now - since >= limit_s * 1000;
}

int sa_account(struct sa *sa, size_t len, ms_t now)
{
	uint64_t packets = atomic_fetch_add_explicit(&sa->ctr.packets, 1, memory_order_relaxed) + 1;
	uint64_t bytes = atomic_fetch_add_explicit(&sa->ctr.bytes, len, memory_order_relaxed) + len;
	if (atomic_load_explicit(&sa->use_ms, memory_order_relaxed) == 0) {
		uint_fast64_t zero = 0;
		atomic_compare_exchange_strong(&sa->use_ms, &zero, now ? now : 1);
	}
	const struct sa_cfg *c = &sa->cfg;
	if (over(c->hard.packets, packets) || over(c->hard.bytes, bytes))
		return 2;
	if (over(c->soft.packets, packets) || over(c->soft.bytes, bytes))
		return 1;
	return 0;
}

int sa_check_time(struct sa *sa, ms_t now)
{
	const struct sa_cfg *c = &sa->cfg;
	ms_t used = atomic_load(&sa->use_ms);
	if (time_over(c->hard.addtime, sa->add_ms, now) ||
	    (used && time_over(c->hard.usetime, used, now)))
		return 2;
	if (time_over(c->soft.addtime, sa->add_ms, now) ||
	    (used && time_over(c->soft.usetime, used, now)))
		return 1;
	return 0;
}
