/* Control commands (VICI initiate, terminate, rekey): find the connection or SAs
 * they name and queue the exchanges. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ike/ike_private.h"
#include "lib/wipe.h"

static struct child_cfg *child_cfg_find(struct conn *c, const char *name)
{
	for (struct child_cfg *cc = c->cfg->children; cc; cc = cc->next)
		if (!name || strcmp(cc->name, name) == 0)
			return cc;
	return NULL;
}

/* The IKE SA to start a child of connection c on, if one is up or coming up. After a
 * reload, the SA still runs on the connection's previous generation: the child is then
 * made from that generation's config of the same name (*cc), which lives as long as
 * the SA does, rather than from the new one. */
static struct ike_sa *established_for(struct ike *core, struct conn *c, struct child_cfg **cc)
{
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (!sa->conn || (sa->state != IKE_ESTABLISHED && sa->state != IKE_CONNECTING &&
				  sa->state != IKE_CREATED))
			continue;
		if (sa->conn == c)
			return sa;
		if (sa->conn->retired && *cc && strcmp(sa->conn->cfg->name, c->cfg->name) == 0) {
			struct child_cfg *old = child_cfg_find(sa->conn, (*cc)->name);
			if (old) {
				*cc = old;
				return sa;
			}
		}
	}
	return NULL;
}

static void __attribute__((format(printf, 3, 4))) set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int ike_initiate(struct ike *core, const char *conn_name, const char *child, ms_t now,
		 char *err, size_t errlen)
{
	core->now = now;
	struct conn *c = NULL;
	struct child_cfg *cc = NULL;
	if (conn_name) {
		c = conn_find(core, conn_name);
	} else if (child) {
		for (struct conn *x = core->conns; x && !c; x = x->next)
			if (!x->retired && child_cfg_find(x, child))
				c = x;
	}
	if (!c) {
		set_err(err, errlen, "no connection named '%s'", conn_name ? conn_name : child);
		return -1;
	}
	if (child && !(cc = child_cfg_find(c, child))) {
		set_err(err, errlen, "no child config named '%s'", child);
		return -1;
	}
	if (!cc)
		cc = c->cfg->children;
	struct ike_sa *sa = established_for(core, c, &cc);
	if (sa) {
		if (cc)
			ike_sa_queue(sa, TASK_CHILD_CREATE, cc, 0);
		return 0;
	}
	if (c->cfg->n_remote_addrs == 0 || strcmp(c->cfg->remote_addrs[0], "%any") == 0) {
		set_err(err, errlen, "connection '%s' has no remote address to initiate to",
			c->cfg->name);
		return -1;
	}
	sa = ike_sa_new(core, c, true);
	if (!sa)
		return -1;
	ike_sa_queue(sa, TASK_IKE_INIT, cc, 0);
	return 0;
}

static bool sa_matches(const struct ike_sa *sa, const char *name, uint32_t id)
{
	if (id && sa->uniqueid != id)
		return false;
	return !name || strcmp(ike_sa_name(sa), name) == 0;
}

int ike_terminate(struct ike *core, const char *ike_name, uint32_t ike_id, const char *child,
		  uint32_t child_id, ms_t now, char *err, size_t errlen)
{
	int n = 0;
	core->now = now;
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state == IKE_DESTROYING)
			continue;
		if (child || child_id) {
			if ((ike_name || ike_id) && !sa_matches(sa, ike_name, ike_id))
				continue;
			for (struct child_sa *c = sa->children; c; c = c->next) {
				if ((child_id && c->uniqueid != child_id) ||
				    (child && strcmp(c->cfg->name, child) != 0))
					continue;
				ike_sa_queue(sa, TASK_CHILD_DELETE, NULL, c->uniqueid);
				n++;
			}
			continue;
		}
		if (!sa_matches(sa, ike_name, ike_id))
			continue;
		if (sa->state == IKE_ESTABLISHED)
			ike_sa_queue(sa, TASK_IKE_DELETE, NULL, 0);
		else
			ike_sa_destroy(sa);
		n++;
	}
	ike_sa_reap(core);
	if (n == 0) {
		set_err(err, errlen, "no matching SA found");
		return -1;
	}
	return 0;
}

int ike_rekey(struct ike *core, const char *ike_name, uint32_t ike_id, const char *child,
	      uint32_t child_id, ms_t now, char *err, size_t errlen)
{
	int n = 0;
	core->now = now;
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		/* During an IKE rekey the CHILD_SA rekey is queued; it moves to the new SA. */
		bool usable = sa->state == IKE_ESTABLISHED ||
			      (sa->state == IKE_REKEYING && (child || child_id));
		if (!usable)
			continue;
		if (child || child_id) {
			for (struct child_sa *c = sa->children; c; c = c->next) {
				if ((child_id && c->uniqueid != child_id) ||
				    (child && strcmp(c->cfg->name, child) != 0) ||
				    c->state != CHILD_INSTALLED)
					continue;
				ike_sa_queue(sa, TASK_CHILD_REKEY, NULL, c->uniqueid);
				n++;
			}
		} else if (sa_matches(sa, ike_name, ike_id)) {
			ike_sa_queue(sa, TASK_IKE_REKEY, NULL, 0);
			n++;
		}
	}
	if (n == 0) {
		set_err(err, errlen, "no matching SA found");
		return -1;
	}
	return 0;
}
