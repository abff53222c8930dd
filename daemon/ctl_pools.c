/* The pools' VICI commands, with strongSwan's layouts so that swanctl --load-pools,
 * --unload-pool and --list-pools [--leases] work against tsunagid:
 *   load-pool   { NAME { addrs = ..., dns = [...], ... } } -> success/errmsg
 *   unload-pool { name = NAME }                            -> success/errmsg
 *   get-pools   { leases = yes?, name = NAME? }            -> { NAME { base, size,
 *               online, offline, leases { N { address, identity, status } } } } */
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "ike/pool.h"
#include "lib/log.h"

static enum vici_reply done(struct vici_msg *resp, int rc, const char *err)
{
	vici_build_result(resp, rc == 0, rc == 0 ? NULL : err);
	return VICI_REPLY_DONE;
}

/* The new pool may overlap neither another pool nor a loaded connection's protected
 * network. */
static int check_overlaps(struct daemon *d, const struct pool_cfg *p, char *err, size_t len)
{
	struct pools *ps = ike_pools(d->ike);
	for (struct pool *o = pools_first(ps); o; o = pools_next(ps, o))
		if (config_check_pool(p, pools_cfg(ps, o), NULL, err, len) < 0)
			return -1;
	for (const struct conn_cfg *c = ike_conn_first(d->ike); c; c = ike_conn_next(d->ike, c)) {
		struct conn_cfg one = *c;
		one.next = NULL;
		if (config_check_pool(p, NULL, &one, err, len) < 0)
			return -1;
	}
	return 0;
}

int ctl_pools_check_conn(struct daemon *d, const struct conn_cfg *c, char *err, size_t len)
{
	struct pools *ps = ike_pools(d->ike);
	struct conn_cfg one = *c;
	one.next = NULL;
	for (struct pool *p = pools_first(ps); p; p = pools_next(ps, p))
		if (config_check_pool(pools_cfg(ps, p), NULL, &one, err, len) < 0)
			return -1;
	return 0;
}

static enum vici_reply cmd_load_pool(void *arg, struct vici_conn *c, const struct ctree *req,
				     struct vici_msg *resp)
{
	struct daemon *d = arg;
	char err[512];
	const struct ctree *sec = req->child;
	while (sec && !ctree_is_section(sec))
		sec = sec->next;
	if (!sec)
		return done(resp, -1, "load-pool without a pool section");
	struct pool_cfg *p = config_build_pool(sec, err, sizeof(err));
	if (!p)
		return done(resp, -1, err);
	if (check_overlaps(d, p, err, sizeof(err)) < 0) {
		pool_cfg_free(p);
		return done(resp, -1, err);
	}
	char name[256];
	snprintf(name, sizeof(name), "%s", p->name);
	if (pools_add(ike_pools(d->ike), p, err, sizeof(err)) < 0)
		return done(resp, -1, err);
	log_info(LOG_CFG, "loaded pool '%s'", name);
	return done(resp, 0, NULL);
}

static enum vici_reply cmd_unload_pool(void *arg, struct vici_conn *c, const struct ctree *req,
				       struct vici_msg *resp)
{
	struct daemon *d = arg;
	char err[512];
	const char *name = vici_find_str(req, "name", NULL);
	if (!name)
		return done(resp, -1, "unload-pool without a name");
	int rc = pools_remove(ike_pools(d->ike), name, err, sizeof(err));
	if (rc == 0)
		log_info(LOG_CFG, "unloaded pool '%s'", name);
	return done(resp, rc, err);
}

struct lease_ctx {
	struct vici_msg *m;
	unsigned n;
};

static void lease_section(void *arg, const struct addr *a, const char *id, bool online)
{
	struct lease_ctx *l = arg;
	char key[16], s[ADDR_STRLEN];
	snprintf(key, sizeof(key), "%u", l->n++);
	vici_begin_section(l->m, key);
	vici_add_kv(l->m, "address", addr_ntop(a, s, sizeof(s)));
	vici_add_kv(l->m, "identity", id);
	vici_add_kv(l->m, "status", online ? "online" : "offline");
	vici_end_section(l->m);
}

static enum vici_reply cmd_get_pools(void *arg, struct vici_conn *c, const struct ctree *req,
				     struct vici_msg *resp)
{
	struct daemon *d = arg;
	struct pools *ps = ike_pools(d->ike);
	const char *only = vici_find_str(req, "name", NULL);
	bool leases = strcmp(vici_find_str(req, "leases", "no"), "yes") == 0;
	for (struct pool *p = pools_first(ps); p; p = pools_next(ps, p)) {
		if (only && strcmp(only, pool_name(p)) != 0)
			continue;
		struct pool_counts n;
		struct addr first, last;
		char s[ADDR_STRLEN];
		pool_get_counts(p, &n);
		pool_range(p, &first, &last);
		vici_begin_section(resp, pool_name(p));
		vici_add_kv(resp, "base", addr_ntop(&first, s, sizeof(s)));
		vici_add_kvf(resp, "size", "%u", n.size);
		vici_add_kvf(resp, "online", "%u", n.online);
		vici_add_kvf(resp, "offline", "%u", n.offline);
		if (leases) {
			struct lease_ctx l = { resp, 0 };
			vici_begin_section(resp, "leases");
			pool_foreach_lease(p, lease_section, &l);
			vici_end_section(resp);
		}
		vici_end_section(resp);
	}
	return VICI_REPLY_DONE;
}

int ctl_pools_register(struct daemon *d)
{
	if (vici_server_register(d->vici, "load-pool", cmd_load_pool, d) < 0 ||
	    vici_server_register(d->vici, "unload-pool", cmd_unload_pool, d) < 0 ||
	    vici_server_register(d->vici, "get-pools", cmd_get_pools, d) < 0)
		return -1;
	return 0;
}
