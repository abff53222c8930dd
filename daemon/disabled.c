/* Disabled connections (tsunagictl --disable / --enable). A disabled connection is
 * taken out of the IKE core (so it is neither initiated, trapped nor chosen as
 * responder: a peer is refused as for any connection we do not have) and its SAs are
 * deleted with the peer; the daemon keeps its configuration here until it is enabled.
 * The mark survives a reload: the reloaded version of the connection replaces the kept
 * one and stays out of the core. A connection that a reload no longer has is
 * forgotten. A restart of the daemon starts every connection as configured. */
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "lib/log.h"
#include "lib/selector.h"

#define REFUSAL_LOG_INTERVAL_MS 10000

struct disabled {
	struct conn_cfg *cfg;
	ms_t last_log;		/* the last "refused: disabled" line, rate-limited */
	struct disabled *next;
};

static struct disabled **find(struct daemon *d, const char *name)
{
	struct disabled **pp = &d->disabled;
	while (*pp && strcmp((*pp)->cfg->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

bool conn_is_disabled(struct daemon *d, const char *name)
{
	return *find(d, name) != NULL;
}

const struct conn_cfg *conn_disabled_first(const struct daemon *d)
{
	return d->disabled ? d->disabled->cfg : NULL;
}

const struct conn_cfg *conn_disabled_next(const struct daemon *d, const struct conn_cfg *cfg)
{
	for (const struct disabled *x = d->disabled; x; x = x->next)
		if (x->cfg == cfg)
			return x->next ? x->next->cfg : NULL;
	return NULL;
}

static const struct conn_cfg *loaded(struct daemon *d, const char *name)
{
	for (const struct conn_cfg *c = ike_conn_first(d->ike); c; c = ike_conn_next(d->ike, c))
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int conn_disable(struct daemon *d, const char *name, char *err, size_t errlen)
{
	ms_t now = clock_now_ms();
	if (conn_is_disabled(d, name))
		return 0;
	const struct conn_cfg *cfg = loaded(d, name);
	if (!cfg) {
		snprintf(err, errlen, "no connection named '%s'", name);
		return -1;
	}
	struct disabled *x = calloc(1, sizeof(*x));
	if (!x || !(x->cfg = conn_cfg_dup(cfg))) {
		free(x);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	x->next = d->disabled;
	d->disabled = x;
	/* Out of the core first (traps go, nothing restarts it), then its SAs. */
	ike_unload_conn(d->ike, name, now);
	ike_terminate(d->ike, name, 0, NULL, 0, now, NULL, 0);
	log_info(LOG_CFG, "connection '%s' disabled: its SAs are deleted, its traps removed; "
		 "it is neither initiated nor answered until enabled", name);
	daemon_schedule(d, ike_tick(d->ike, now));
	return 0;
}

int conn_enable(struct daemon *d, const char *name, char *err, size_t errlen)
{
	struct disabled **pp = find(d, name), *x = *pp;
	if (!x) {
		if (loaded(d, name))
			return 0;	/* enabled already */
		snprintf(err, errlen, "no connection named '%s'", name);
		return -1;
	}
	*pp = x->next;
	log_info(LOG_CFG, "connection '%s' enabled", name);
	ike_load_conn(d->ike, x->cfg, clock_now_ms());	/* starts and traps as configured */
	free(x);
	daemon_schedule(d, ike_tick(d->ike, clock_now_ms()));
	return 0;
}

/* A connection loaded while disabled (VICI load-conn) replaces the kept version and
 * stays disabled. Takes cfg; false when cfg's name is not disabled (cfg untouched). */
bool conn_disabled_update(struct daemon *d, struct conn_cfg *cfg)
{
	struct disabled *x = *find(d, cfg->name);
	if (!x)
		return false;
	conn_cfg_free(x->cfg);
	x->cfg = cfg;
	log_info(LOG_CFG, "connection '%s' updated; it stays disabled", cfg->name);
	return true;
}

void conn_disabled_forget(struct daemon *d, const char *name)
{
	struct disabled **pp = find(d, name), *x = *pp;
	if (!x)
		return;
	*pp = x->next;
	conn_cfg_free(x->cfg);
	free(x);
}

/* Before a reload: the new versions of disabled connections move out of cfg into the
 * kept list; disabled connections cfg no longer has are forgotten. */
void conn_disabled_reload(struct daemon *d, struct config *cfg)
{
	for (struct disabled **pp = &d->disabled; *pp;) {
		struct disabled *x = *pp;
		struct conn_cfg **cp = &cfg->conns;
		while (*cp && strcmp((*cp)->name, x->cfg->name) != 0)
			cp = &(*cp)->next;
		if (!*cp) {
			log_info(LOG_CFG, "disabled connection '%s' is no longer configured; "
				 "forgotten", x->cfg->name);
			*pp = x->next;
			conn_cfg_free(x->cfg);
			free(x);
			continue;
		}
		struct conn_cfg *fresh = *cp;
		*cp = fresh->next;
		fresh->next = NULL;
		conn_cfg_free(x->cfg);
		x->cfg = fresh;
		log_info(LOG_CFG, "connection '%s' stays disabled", fresh->name);
		pp = &x->next;
	}
}

void conn_disabled_free(struct daemon *d)
{
	while (d->disabled)
		conn_disabled_forget(d, d->disabled->cfg->name);
}

/* As the IKE core matches local_addrs/remote_addrs (an empty list admits any). */
static bool addrs_admit(char **list, size_t n, const struct addr *a)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		struct addr want;
		struct selector sel;
		if (strncmp(list[i], "%any", 4) == 0)
			return true;
		if (addr_parse(list[i], &want) == 0 && addr_equal_ip(&want, a))
			return true;
		if (strchr(list[i], '/') && selector_parse(list[i], &sel) == 0 &&
		    selector_match(&sel, a->family, a->u.b, 0, 0))
			return true;
	}
	return false;
}

static bool admits(const struct conn_cfg *c, const struct addr *local, const struct addr *remote)
{
	return addrs_admit(c->local_addrs, c->n_local_addrs, local) &&
	       addrs_admit(c->remote_addrs, c->n_remote_addrs, remote);
}

/* The first message of a new IKE SA: IKEv2 IKE_SA_INIT request, or IKEv1 Main or
 * Aggressive Mode's first message (the responder's SPI still zero). */
static bool opens_sa(const uint8_t *pkt, size_t len)
{
	static const uint8_t zero[8];
	if (len < 28 || memcmp(pkt + 8, zero, 8) != 0)
		return false;
	uint8_t version = pkt[17] >> 4, exch = pkt[18], flags = pkt[19];
	if (version == 2)
		return exch == 34 && (flags & 0x08) && !(flags & 0x20);
	return version == 1 && (exch == 2 || exch == 4);
}

/* Says, at most every 10 s per connection, that a peer's new IKE SA is refused because
 * the only connection for its addresses is disabled. The core then refuses it as it
 * refuses any request no connection admits (NO_PROPOSAL_CHOSEN). */
void conn_disabled_note_input(struct daemon *d, const struct addr *local,
			      const struct addr *remote, const uint8_t *pkt, size_t len)
{
	if (!d->disabled || !opens_sa(pkt, len))
		return;
	for (const struct conn_cfg *c = ike_conn_first(d->ike); c; c = ike_conn_next(d->ike, c))
		if (admits(c, local, remote))
			return;	/* an enabled connection may take it */
	ms_t now = clock_now_ms();
	for (struct disabled *x = d->disabled; x; x = x->next) {
		if (!admits(x->cfg, local, remote))
			continue;
		if (x->last_log && now - x->last_log < REFUSAL_LOG_INTERVAL_MS)
			return;
		x->last_log = now;
		char a[ADDR_STRLEN];
		log_info(LOG_CFG, "new IKE SA from %s refused: connection '%s' is disabled "
			 "(tsunagictl --enable %s)", addr_fmt(remote, a, sizeof(a)), x->cfg->name,
			 x->cfg->name);
		return;
	}
}
