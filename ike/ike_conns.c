/* Connections and shared secrets the core holds: loading and unloading (a reload
 * keeps running SAs on the configuration they were made with), start and trap
 * actions, and the pre-shared key lookup by identities. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ike/ike_private.h"
#include "lib/wipe.h"

static void conn_retire(struct ike *core, struct conn *c)
{
	c->retired = true;
	conn_put(core, c);
}

void conn_put(struct ike *core, struct conn *c)
{
	if (--c->refs > 0)
		return;
	for (struct conn **pp = &core->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	conn_creds_free(c->creds);
	conn_cfg_free(c->cfg);
	free(c);
}

struct conn *conn_find(struct ike *core, const char *name)
{
	for (struct conn *c = core->conns; c; c = c->next)
		if (!c->retired && strcmp(c->cfg->name, name) == 0)
			return c;
	return NULL;
}

static bool cfg_named(const struct child_cfg *cc, const char *name)
{
	return cc && strcmp(cc->name, name) == 0;
}

/* Is a CHILD_SA of this name up, being negotiated or queued for the connection name
 * (by any generation of the connection: a reload replaces the conn, not its SAs)?
 * An IKE SA still connecting counts only for the child it was started for (or one
 * queued on it), so a connection's other start children get started too. */
static bool child_exists(struct ike *core, const char *conn, const char *child)
{
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state == IKE_DESTROYING || !sa->conn || strcmp(sa->conn->cfg->name, conn) != 0)
			continue;
		if ((sa->state == IKE_CREATED || sa->state == IKE_CONNECTING) &&
		    cfg_named(sa->initial_child ? sa->initial_child : sa->conn->cfg->children, child))
			return true;
		for (struct child_sa *c = sa->children; c; c = c->next)
			if (strcmp(c->cfg->name, child) == 0)
				return true;
		if (sa->req.child && strcmp(sa->req.child->cfg->name, child) == 0)
			return true;
		for (struct task *t = sa->tasks; t; t = t->next)
			if ((t->kind == TASK_IKE_INIT || t->kind == TASK_CHILD_CREATE) &&
			    cfg_named(t->child_cfg, child))
				return true;
	}
	return false;
}

static void conn_start(struct ike *core, struct conn *c)
{
	for (struct child_cfg *cc = c->cfg->children; cc; cc = cc->next) {
		/* A reload must not start a second copy of what is already up. */
		if (cc->start_action == START_START && !child_exists(core, c->cfg->name, cc->name)) {
			char err[256];
			if (ike_initiate(core, c->cfg->name, cc->name, core->now, err, sizeof(err)) < 0)
				log_err(LOG_CFG, "starting '%s' failed: %s", c->cfg->name, err);
		}
	}
	trap_install(core, c, true);
}

int ike_load_conn(struct ike *core, struct conn_cfg *cfg, ms_t now)
{
	core->now = now;
	struct conn *old = conn_find(core, cfg->name);
	if (old) {
		trap_install(core, old, false);
		conn_retire(core, old);
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		conn_cfg_free(cfg);
		return -1;
	}
	c->cfg = cfg;
	c->refs = 1;
	c->creds = conn_creds_load(core->creds, cfg);
	/* Keep the configured order: append. */
	struct conn **pp = &core->conns;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	log_info(LOG_CFG, "loaded connection '%s'", cfg->name);
	conn_start(core, c);
	return 0;
}

int ike_unload_conn(struct ike *core, const char *name, ms_t now)
{
	core->now = now;
	struct conn *c = conn_find(core, name);
	if (!c)
		return -1;
	trap_install(core, c, false);
	conn_retire(core, c);
	log_info(LOG_CFG, "unloaded connection '%s'", name);
	return 0;
}

void ike_load_secret(struct ike *core, struct secret_cfg *s)
{
	ike_unload_secret(core, s->name);
	struct secret_cfg **pp = &core->secrets;
	while (*pp)
		pp = &(*pp)->next;
	s->next = NULL;
	*pp = s;
}

int ike_unload_secret(struct ike *core, const char *name)
{
	for (struct secret_cfg **pp = &core->secrets; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, name) == 0) {
			struct secret_cfg *s = *pp;
			*pp = s->next;
			s->next = NULL;
			secret_cfg_free(s);
			return 0;
		}
	}
	return -1;
}

void ike_load_config(struct ike *core, struct config *cfg, ms_t now)
{
	core->now = now;
	/* Replace every connection: SAs keep their old conn (reference) until they end. */
	for (struct conn *c = core->conns, *next; c; c = next) {
		next = c->next;
		if (!c->retired) {
			trap_install(core, c, false);
			conn_retire(core, c);
		}
	}
	while (core->secrets)
		ike_unload_secret(core, core->secrets->name);
	cred_store_load_config(core->creds, cfg);
	struct secret_cfg *s = cfg->secrets;
	cfg->secrets = NULL;
	while (s) {
		struct secret_cfg *next = s->next;
		ike_load_secret(core, s);
		s = next;
	}
	pools_load(core->pools, cfg->pools);	/* leases of pools that stay are kept */
	cfg->pools = NULL;
	struct conn_cfg *cc = cfg->conns;
	cfg->conns = NULL;
	while (cc) {
		struct conn_cfg *next = cc->next;
		cc->next = NULL;
		ike_load_conn(core, cc, now);
		cc = next;
	}
	config_free(cfg);
}

const struct conn_cfg *ike_conn_first(const struct ike *core)
{
	for (struct conn *c = core->conns; c; c = c->next)
		if (!c->retired)
			return c->cfg;
	return NULL;
}

const struct conn_cfg *ike_conn_next(const struct ike *core, const struct conn_cfg *cfg)
{
	bool seen = false;
	for (struct conn *c = core->conns; c; c = c->next) {
		if (c->retired)
			continue;
		if (seen)
			return c->cfg;
		seen = c->cfg == cfg;
	}
	return NULL;
}

struct pools *ike_pools(struct ike *core)
{
	return core->pools;
}

const struct secret_cfg *ike_secret_first(const struct ike *core)
{
	return core->secrets;
}

/* strongSwan's rule: a key whose owners match both identities beats one that matches
 * one of them, which beats a key without owners. */
struct secret_cfg *ike_find_psk(struct ike *core, const struct identity *me,
				const struct identity *peer)
{
	struct secret_cfg *best = NULL;
	int best_score = -1;
	for (struct secret_cfg *s = core->secrets; s; s = s->next) {
		int score = 0;
		bool mine = false, theirs = false;
		if (s->type != SECRET_IKE)	/* an XAuth password is no PSK */
			continue;
		for (size_t i = 0; i < s->n_ids; i++) {
			struct identity id;
			if (identity_from_string(s->ids[i], &id) < 0)
				continue;
			mine |= identity_equal(&id, me);
			theirs |= identity_equal(&id, peer);
		}
		if (s->n_ids == 0)
			score = 1;
		else if (mine && theirs)
			score = 3;
		else if (mine || theirs)
			score = 2;
		else
			continue;
		if (score > best_score) {
			best = s;
			best_score = score;
		}
	}
	return best;
}

uint32_t ike_alloc_reqid(struct ike *core, const struct child_cfg *cc)
{
	if (cc->reqid)
		return cc->reqid;
	return core->next_reqid++;
}
