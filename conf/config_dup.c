/* Deep copies of a connection: the daemon keeps a disabled connection's configuration
 * while the IKE core (which owns and frees what it is given) no longer has it. */
#include <stdlib.h>
#include <string.h>

#include "conf/build.h"
#include "conf/config.h"

static bool dup_str(char **to, const char *from)
{
	*to = from ? strdup(from) : NULL;
	return !from || *to;
}

static bool dup_strs(char ***to, const char *const *from, size_t n)
{
	*to = NULL;
	if (!from || n == 0)
		return true;
	char **v = calloc(n, sizeof(*v));
	if (!v)
		return false;
	*to = v;
	for (size_t i = 0; i < n; i++)
		if (!dup_str(&v[i], from[i]))
			return false;	/* the caller's free sees the NULLs */
	return true;
}

static struct child_cfg *child_dup(const struct child_cfg *from)
{
	struct child_cfg *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	*c = *from;
	c->next = NULL;
	c->esp_proposals = NULL;
	if (!dup_str(&c->name, from->name) ||
	    !dup_strs(&c->esp_proposals, (const char *const *)from->esp_proposals,
		      from->n_esp_proposals)) {
		child_cfg_free(c);
		return NULL;
	}
	return c;
}

struct conn_cfg *conn_cfg_dup(const struct conn_cfg *from)
{
	struct conn_cfg *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	*c = *from;
	c->next = NULL;
	c->name = c->file = c->local.id = c->remote.id = NULL;
	c->local.eap_id = c->remote.eap_id = NULL;
	c->local.xauth_id = c->remote.xauth_id = NULL;
	c->local_xauth.id = c->local_xauth.xauth_id = NULL;
	c->remote_xauth.id = c->remote_xauth.xauth_id = NULL;
	c->local_addrs = c->remote_addrs = c->proposals = c->pools = NULL;
	c->children = NULL;
	c->local.certs = c->local.cacerts = c->remote.certs = c->remote.cacerts = NULL;
	bool ok = dup_strs(&c->local.certs, (const char *const *)from->local.certs,
			   from->local.n_certs) &&
		  dup_strs(&c->local.cacerts, (const char *const *)from->local.cacerts,
			   from->local.n_cacerts) &&
		  dup_strs(&c->remote.certs, (const char *const *)from->remote.certs,
			   from->remote.n_certs) &&
		  dup_strs(&c->remote.cacerts, (const char *const *)from->remote.cacerts,
			   from->remote.n_cacerts) &&
		  dup_str(&c->name, from->name) && dup_str(&c->file, from->file) &&
		  dup_str(&c->local.id, from->local.id) && dup_str(&c->remote.id, from->remote.id) &&
		  dup_str(&c->local.eap_id, from->local.eap_id) &&
		  dup_str(&c->remote.eap_id, from->remote.eap_id) &&
		  dup_str(&c->local_xauth.xauth_id, from->local_xauth.xauth_id) &&
		  dup_str(&c->remote_xauth.xauth_id, from->remote_xauth.xauth_id) &&
		  dup_str(&c->local_xauth.id, from->local_xauth.id) &&
		  dup_str(&c->remote_xauth.id, from->remote_xauth.id) &&
		  dup_strs(&c->local_addrs, (const char *const *)from->local_addrs, from->n_local_addrs) &&
		  dup_strs(&c->remote_addrs, (const char *const *)from->remote_addrs, from->n_remote_addrs) &&
		  dup_strs(&c->proposals, (const char *const *)from->proposals, from->n_proposals) &&
		  dup_strs(&c->pools, (const char *const *)from->pools, from->n_pools);
	struct child_cfg **tail = &c->children;
	for (const struct child_cfg *cc = from->children; ok && cc; cc = cc->next) {
		*tail = child_dup(cc);
		ok = *tail != NULL;
		if (ok)
			tail = &(*tail)->next;
	}
	if (!ok) {
		conn_cfg_free(c);
		return NULL;
	}
	return c;
}
