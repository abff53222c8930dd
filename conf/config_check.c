/* Load-time warnings about a configuration that loads but will not behave as meant
 * (requirements 1 and 4): selectors of two tunnels that overlap, so which one carries
 * a packet depends on policy order (each names both places as file:line); an IKEv1
 * Main Mode connection for dynamic peers that cannot know which PSK to use. */
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "lib/log.h"

static bool ts_overlap(const struct ts_cfg *a, size_t na, const struct ts_cfg *b, size_t nb,
		       struct selector *common)
{
	for (size_t i = 0; i < na; i++) {
		for (size_t j = 0; j < nb; j++) {
			if (a[i].dynamic || b[j].dynamic)
				continue;
			if (selector_intersect(&a[i].sel, &b[j].sel, common))
				return true;
		}
	}
	return false;
}

static void check_pair(const struct conn_cfg *ca, const struct child_cfg *a,
		       const struct conn_cfg *cb, const struct child_cfg *b, unsigned *n)
{
	struct selector l, r;
	char ls[SELECTOR_STRLEN], rs[SELECTOR_STRLEN];
	if (!ts_overlap(a->local_ts, a->n_local_ts, b->local_ts, b->n_local_ts, &l) ||
	    !ts_overlap(a->remote_ts, a->n_remote_ts, b->remote_ts, b->n_remote_ts, &r))
		return;
	log_err(LOG_CFG, "%s:%d: warning: traffic selectors of '%s/%s' overlap with '%s/%s' "
		"(%s:%d) in %s === %s; which tunnel carries such packets depends on policy order",
		ca->file ? ca->file : "?", ca->line, ca->name, a->name, cb->name, b->name,
		cb->file ? cb->file : "?", cb->line, selector_fmt(&l, ls, sizeof(ls)),
		selector_fmt(&r, rs, sizeof(rs)));
	(*n)++;
}

unsigned config_warn_overlaps(const struct conn_cfg *conns)
{
	unsigned n = 0;
	for (const struct conn_cfg *ca = conns; ca; ca = ca->next)
		for (const struct conn_cfg *cb = ca->next; cb; cb = cb->next)
			for (const struct child_cfg *a = ca->children; a; a = a->next)
				for (const struct child_cfg *b = cb->children; b; b = b->next)
					check_pair(ca, a, cb, b, &n);
	return n;
}

static bool dynamic_peer(const struct conn_cfg *c)
{
	for (size_t i = 0; i < c->n_remote_addrs; i++) {
		const char *a = c->remote_addrs[i];
		if (strncmp(a, "%any", 4) == 0 || strchr(a, '/') || strchr(a, '-'))
			return true;
	}
	return c->n_remote_addrs == 0;
}

/* Could Main Mode pick this PSK for some peer of c? Main Mode looks it up by our
 * identity and the peer's address: a key without owners, or one owned by our own
 * identity or by any address, could be the one. */
static bool psk_could_apply(const struct secret_cfg *s, const struct conn_cfg *c)
{
	struct addr a;
	if (s->type != SECRET_IKE)
		return false;
	if (s->n_ids == 0)
		return true;
	for (size_t i = 0; i < s->n_ids; i++)
		if ((c->local.id && strcmp(s->ids[i], c->local.id) == 0) ||
		    addr_parse(s->ids[i], &a) == 0)
			return true;
	return false;
}

unsigned config_warn_mm_psk(const struct config *cfg)
{
	unsigned warned = 0;
	for (const struct conn_cfg *c = cfg->conns; c; c = c->next) {
		unsigned n = 0;
		if (c->version == 2 || c->aggressive || !dynamic_peer(c) ||
		    (c->remote.id && strcmp(c->remote.id, "%any") != 0))
			continue;
		for (const struct secret_cfg *s = cfg->secrets; s; s = s->next)
			n += psk_could_apply(s, c);
		if (n < 2)
			continue;
		log_err(LOG_CFG, "%s:%d: warning: connection '%s' answers IKEv1 Main Mode from "
			"dynamic peers without a remote id, and %u pre-shared keys could apply: Main "
			"Mode must choose the PSK by the peer's address before its identity is known; "
			"set remote { id = ... } or use IKEv2", c->file ? c->file : "?", c->line,
			c->name, n);
		warned++;
	}
	return warned;
}
