/* Load-time warnings about a configuration that loads but will not behave as meant
 * (requirements 1 and 4): selectors of two tunnels that overlap, so which one carries
 * a packet depends on policy order. Each names both places as file:line. */
#include <stdio.h>

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
