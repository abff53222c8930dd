/* ctree -> struct config. Top level: "connections", "secrets" and tsunagi's own
 * "tsunagi" section. A connection is built by config_build_conn() whether it came from
 * a file or a VICI load-conn message, so both paths check the same keys the same way.
 *
 * "pools" is in conf/config_pool.c.
 *
 * Connection defaults are strongSwan's (swanctl.conf(5), 5.9.8, and its vici plugin):
 * version 0, local_addrs/remote_addrs %any, ports 500, proposals default, encap no,
 * mobike yes, dpd_delay/dpd_timeout 0, rekey_time 4h, reauth_time 0, over_time 10% of
 * max(rekey_time, reauth_time), rand_time min(over_time, that max / 2), keyingtries 1,
 * unique no, aggressive no.
 *
 * Authentication: auth = psk, pubkey (certificates: conf/config_cred.c) or eap-*
 * (conf/config_eap.c). A local section without auth is pubkey, strongSwan's default,
 * and then needs certs. A missing remote auth means "any method" in strongSwan: pubkey
 * when the remote section names cacerts, else psk. One round each side (local/local-N,
 * remote/remote-N), and an IKEv1 XAuth round besides (auth = xauth:
 * conf/config_xauth.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/build.h"
#include "conf/parser.h"
#include "ike/proposal.h"
#include "lib/wipe.h"

static const char *const conn_unsupported[] = {
	"dscp", "childless", "ppk_id", "ppk_required", "if_id_in", "if_id_out",
	"mediation",
	"mediated_by", "mediation_peer", NULL,
};

static const char *const auth_unsupported[] = {
	"pubkeys", "groups", "cert_policy", "aaa_id",
	"xauth_id", "revocation", "round", NULL,
};

/* Which IKE lifetimes were given: their defaults depend on each other. */
struct ike_times {
	bool rekey, over, rand;
};

static int set_list(struct bctx *b, const struct ctree *k, char ***list, size_t *n)
{
	ctree_free_items(*list, *n);
	*list = NULL;
	*n = 0;
	if (bitems(b, k, list, n) < 0)
		return -1;
	if (*n == 0)
		return berr(b, k, "'%s' is empty", k->name);
	return 0;
}

static int get_version(struct bctx *b, const struct ctree *k, int *version)
{
	uint32_t v;
	if (bget_u32(b, k, &v) < 0)
		return -1;
	if (v > 2)
		return berr_value(b, k, bscalar(b, k));
	*version = (int)v;
	return 0;
}

static int get_unique(struct bctx *b, const struct ctree *k, enum unique_policy *u)
{
	static const struct { const char *name; enum unique_policy u; } map[] = {
		{ "no", UNIQUE_NO }, { "never", UNIQUE_NEVER },
		{ "replace", UNIQUE_REPLACE }, { "keep", UNIQUE_KEEP },
	};
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(s, map[i].name) == 0) {
			*u = map[i].u;
			return 0;
		}
	}
	return berr_value(b, k, s);
}

static int get_fragmentation(struct bctx *b, const struct ctree *k, enum frag_policy *f)
{
	static const char *const names[] = { "yes", "accept", "force", "no" };
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*f = (enum frag_policy)i;
			return 0;
		}
	}
	return berr_value(b, k, s);
}

static int get_reauth_time(struct bctx *b, const struct ctree *k, uint64_t *out)
{
	if (bget_time(b, k, out) < 0)
		return -1;
	if (*out != 0)
		return berr(b, k, "'reauth_time' other than 0 is not supported by tsunagi "
			    "(use rekey_time)");
	return 0;
}

/* vips = 0.0.0.0 (any IPv4 address), ::, or the address to ask for; one per family. */
static int get_vips(struct bctx *b, const struct ctree *k, struct conn_cfg *c)
{
	char **items;
	size_t n;
	if (bitems(b, k, &items, &n) < 0)
		return -1;
	int rc = 0;
	c->n_vips = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct addr a;
		if (addr_parse(items[i], &a) < 0)
			rc = berr_value(b, k, items[i]);
		for (size_t j = 0; rc == 0 && j < c->n_vips; j++)
			if (c->vips[j].family == a.family)
				rc = berr(b, k, "'vips' asks for two addresses of one family");
		if (rc == 0)
			c->vips[c->n_vips++] = a;
	}
	ctree_free_items(items, n);
	return rc;
}

/* psk, pubkey, and xauth for a second IKEv1 round (eap-*: conf_eap_auth); the
 * others get a message that says so. */
static int get_auth(struct bctx *b, const struct ctree *k, enum auth_method *m)
{
	static const char *const other_prefixes[] = {
		"pubkey", "rsa", "ecdsa", "bliss", "ike:", "eap", "xauth", NULL,
	};
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	if (strcasecmp(s, "psk") == 0) {
		*m = AUTH_PSK;
		return 0;
	}
	if (strcasecmp(s, "pubkey") == 0) {
		*m = AUTH_PUBKEY;
		return 0;
	}
	if (xauth_auth_value(s)) {
		*m = AUTH_XAUTH;
		return 0;
	}
	for (size_t i = 0; other_prefixes[i]; i++)
		if (strncasecmp(s, other_prefixes[i], strlen(other_prefixes[i])) == 0)
			return berr(b, k, "auth = %s is not supported by tsunagi (only psk, pubkey, "
				    "eap-mschapv2, eap-md5, eap, and xauth in a second IKEv1 round)",
				    s);
	return berr_value(b, k, s);
}

/* "local", "local-1", "local1": the round is the numeric suffix, else 0. */
static int round_of(const char *name, size_t prefix_len)
{
	const char *p = name + prefix_len;
	if (*p == '-')
		p++;
	return atoi(p);
}

static int build_auth(struct bctx *b, const struct ctree *sec, struct auth_cfg *a, bool local,
		      bool *seen, struct auth_cfg *xauth)
{
	struct auth_cfg r = { 0 };
	if (!ctree_is_section(sec))
		return berr(b, sec, "'%s' must be a section", sec->name);
	r.round = round_of(sec->name, local ? 5 : 6);
	for (const struct ctree *k = sec->child; k; k = k->next) {
		int rc;
		if (ctree_is_section(k))
			rc = (key_has_prefix(k->name, "cert") || key_has_prefix(k->name, "cacert"))
				? berr_unsupported(b, k) : berr_unknown(b, k);
		else if (strcmp(k->name, "auth") == 0 && conf_is_eap_auth(k->value))
			rc = conf_eap_auth(b, k, &r);
		else if (strcmp(k->name, "eap_id") == 0)
			rc = conf_eap_id(b, k, &r);
		else if ((rc = build_auth_cred(b, k, &r)) <= 0)
			;
		else if (strcmp(k->name, "auth") == 0)
			rc = get_auth(b, k, &r.auth);
		else if (strcmp(k->name, "id") == 0 || strcmp(k->name, "xauth_id") == 0) {
			char **dst = k->name[0] == 'x' ? &r.xauth_id : &r.id;
			const char *s = bscalar(b, k);
			free(*dst);
			*dst = s ? strdup(s) : NULL;
			rc = s ? 0 : -1;
		} else if (strcmp(k->name, "round") == 0) {
			uint32_t v;
			rc = bget_u32(b, k, &v);
			r.round = (int)v;
		} else if (name_in(k->name, auth_unsupported))
			rc = berr_unsupported(b, k);
		else
			rc = berr_unknown(b, k);
		if (rc < 0) {
			auth_cfg_clear(&r);
			return -1;
		}
	}
	if (r.auth == AUTH_XAUTH || r.xauth_id)
		return take_xauth_round(b, sec, &r, xauth);
	if (*seen) {
		auth_cfg_clear(&r);
		return berr(b, sec, "a second authentication round ('%s') other than auth = xauth "
			    "is not supported by tsunagi", sec->name);
	}
	*seen = true;
	if (r.auth == 0)
		r.auth = local || r.n_cacerts ? AUTH_PUBKEY : AUTH_PSK;
	if (local && r.auth == AUTH_PUBKEY && r.n_certs == 0) {
		auth_cfg_clear(&r);
		return berr(b, sec, "'%s' authenticates by public key (auth = pubkey, strongSwan's "
			    "default) but names no 'certs'", sec->name);
	}
	auth_cfg_clear(a);
	*a = r;
	return 0;
}

static int build_children(struct bctx *b, const struct ctree *sec, struct conn_cfg *c)
{
	struct child_cfg **tail = &c->children;
	if (!ctree_is_section(sec))
		return berr(b, sec, "'children' must be a section");
	for (const struct ctree *s = sec->child; s; s = s->next) {
		if (!ctree_is_section(s))
			return berr(b, s, "child '%s' must be a section", s->name);
		for (struct child_cfg *o = c->children; o; o = o->next)
			if (strcmp(o->name, s->name) == 0)
				return berr(b, s, "child '%s' defined twice", s->name);
		struct child_cfg *child = build_child(b, s, c->name);
		if (!child)
			return -1;
		*tail = child;
		tail = &child->next;
	}
	snprintf(b->what, sizeof(b->what), "connection '%s'", c->name);
	return 0;
}

static int conn_key(struct bctx *b, const struct ctree *k, struct conn_cfg *c,
		    struct ike_times *t, bool *local_seen, bool *remote_seen)
{
	const char *n = k->name;
	if (strcmp(n, "children") == 0)
		return build_children(b, k, c);
	if (key_has_prefix(n, "local") && !strchr(n, '_'))
		return build_auth(b, k, &c->local, true, local_seen, &c->local_xauth);
	if (key_has_prefix(n, "remote") && !strchr(n, '_'))
		return build_auth(b, k, &c->remote, false, remote_seen, &c->remote_xauth);
	if (ctree_is_section(k))
		return berr_unknown(b, k);
	if (strcmp(n, "version") == 0)
		return get_version(b, k, &c->version);
	if (strcmp(n, "local_addrs") == 0)
		return set_list(b, k, &c->local_addrs, &c->n_local_addrs);
	if (strcmp(n, "remote_addrs") == 0)
		return set_list(b, k, &c->remote_addrs, &c->n_remote_addrs);
	if (strcmp(n, "local_port") == 0)
		return bget_port(b, k, &c->local_port);
	if (strcmp(n, "remote_port") == 0)
		return bget_port(b, k, &c->remote_port);
	if (strcmp(n, "proposals") == 0) {
		ctree_free_items(c->proposals, c->n_proposals);
		c->proposals = NULL;
		c->n_proposals = 0;
		return build_proposals(b, k, PROTO_IKE, &c->proposals, &c->n_proposals);
	}
	if (strcmp(n, "encap") == 0)
		return bget_bool(b, k, &c->encap);
	if (strcmp(n, "mobike") == 0)	/* accepted; tsunagi does not move SAs */
		return bget_bool(b, k, &c->mobike);
	if (strcmp(n, "aggressive") == 0)
		return bget_bool(b, k, &c->aggressive);
	if (strcmp(n, "dpd_delay") == 0)
		return bget_time32(b, k, &c->dpd_delay);
	if (strcmp(n, "dpd_timeout") == 0)
		return bget_time32(b, k, &c->dpd_timeout);
	if (strcmp(n, "rekey_time") == 0) {
		t->rekey = true;
		return bget_time(b, k, &c->rekey_time);
	}
	if (strcmp(n, "reauth_time") == 0)
		return get_reauth_time(b, k, &c->reauth_time);
	if (strcmp(n, "over_time") == 0) {
		t->over = true;
		return bget_time(b, k, &c->over_time);
	}
	if (strcmp(n, "rand_time") == 0) {
		t->rand = true;
		return bget_time(b, k, &c->rand_time);
	}
	if (strcmp(n, "keyingtries") == 0)
		return bget_u32(b, k, &c->keyingtries);
	if (strcmp(n, "unique") == 0)
		return get_unique(b, k, &c->unique);
	if (strcmp(n, "pull") == 0)
		return bget_bool(b, k, &c->pull);
	int rc = build_conn_cred(b, k, c);
	if (rc <= 0)
		return rc;
	if (strcmp(n, "pools") == 0)
		return set_list(b, k, &c->pools, &c->n_pools);
	if (strcmp(n, "vips") == 0)
		return get_vips(b, k, c);
	if (strcmp(n, "fragmentation") == 0)
		return get_fragmentation(b, k, &c->fragmentation);
	if (name_in(n, conn_unsupported))
		return berr_unsupported(b, k);
	return berr_unknown(b, k);
}

static void conn_defaults(struct conn_cfg *c)
{
	c->version = 0;
	c->local_port = c->remote_port = 500;
	c->send_certreq = true;
	c->mobike = true;
	c->keyingtries = 1;
	c->unique = UNIQUE_NO;
	c->pull = true;
}

/* strongSwan's peer defaults (vici_config.c): reauth is always 0 here. */
static void apply_ike_times(struct conn_cfg *c, const struct ike_times *t)
{
	if (!t->rekey)
		c->rekey_time = 14400;
	uint64_t longest = c->rekey_time > c->reauth_time ? c->rekey_time : c->reauth_time;
	if (!t->over)
		c->over_time = longest / 10;
	if (!t->rand) {
		uint64_t half = longest / 2;
		c->rand_time = c->over_time < half ? c->over_time : half;
	}
}

static int fill_defaults(struct conn_cfg *c)
{
	static const struct { size_t off_list, off_n; const char *item; } lists[] = {
		{ offsetof(struct conn_cfg, local_addrs), offsetof(struct conn_cfg, n_local_addrs),
		  "%any" },
		{ offsetof(struct conn_cfg, remote_addrs), offsetof(struct conn_cfg, n_remote_addrs),
		  "%any" },
		{ offsetof(struct conn_cfg, proposals), offsetof(struct conn_cfg, n_proposals),
		  "default" },
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		char ***list = (char ***)((char *)c + lists[i].off_list);
		size_t *n = (size_t *)((char *)c + lists[i].off_n);
		if (*list)
			continue;
		*list = calloc(1, sizeof(char *));
		if (!*list || !((*list)[0] = strdup(lists[i].item)))
			return -1;
		*n = 1;
	}
	if (c->remote.auth == 0)
		c->remote.auth = AUTH_PSK;
	return 0;
}

static struct conn_cfg *build_conn(struct bctx *b, const struct ctree *sec)
{
	struct ike_times t = { 0 };
	bool local_seen = false, remote_seen = false;
	if (!ctree_is_section(sec)) {
		berr(b, sec, "connection '%s' must be a section", sec->name);
		return NULL;
	}
	struct conn_cfg *c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(sec->name ? sec->name : "")) ||
	    !(c->file = strdup(sec->file ? sec->file : "vici"))) {
		conn_cfg_free(c);
		berr(b, sec, "out of memory");
		return NULL;
	}
	c->line = sec->line;
	snprintf(b->what, sizeof(b->what), "connection '%s'", c->name);
	conn_defaults(c);
	for (const struct ctree *k = sec->child; k; k = k->next) {
		if (conn_key(b, k, c, &t, &local_seen, &remote_seen) < 0) {
			conn_cfg_free(c);
			return NULL;
		}
	}
	if (!local_seen) {
		berr(b, sec, "no 'local' section: strongSwan's default auth (pubkey) needs a "
		     "certificate; add local { certs = ... } or local { auth = psk }");
		conn_cfg_free(c);
		return NULL;
	}
	if (check_xauth_conn(b, sec, c) < 0) {
		conn_cfg_free(c);
		return NULL;
	}
	apply_ike_times(c, &t);
	if (c->version != 2 && c->aggressive &&
	    (c->local.auth == AUTH_PUBKEY || c->remote.auth == AUTH_PUBKEY)) {
		berr(b, sec, "auth = pubkey in IKEv1 is supported by tsunagi in Main Mode only "
		     "(aggressive = no)");
		conn_cfg_free(c);
		return NULL;
	}
	if (conf_eap_check_version(b, sec, c) < 0) {
		conn_cfg_free(c);
		return NULL;
	}
	if (fill_defaults(c) < 0) {
		berr(b, sec, "out of memory");
		conn_cfg_free(c);
		return NULL;
	}
	return c;
}

struct conn_cfg *config_build_conn(const struct ctree *conn, char *err, size_t errlen)
{
	struct bctx b = { .err = err, .errlen = errlen };
	return build_conn(&b, conn);
}

void conn_cfg_free(struct conn_cfg *c)
{
	while (c) {
		struct conn_cfg *next = c->next;
		free(c->name);
		ctree_free_items(c->local_addrs, c->n_local_addrs);
		ctree_free_items(c->remote_addrs, c->n_remote_addrs);
		ctree_free_items(c->proposals, c->n_proposals);
		ctree_free_items(c->pools, c->n_pools);
		auth_cfg_clear(&c->local);
		auth_cfg_clear(&c->remote);
		auth_cfg_clear(&c->local_xauth);
		auth_cfg_clear(&c->remote_xauth);
		child_cfg_free(c->children);
		free(c->file);
		free(c);
		c = next;
	}
}

static int build_connections(struct bctx *b, const struct ctree *sec, struct config *cfg)
{
	struct conn_cfg **tail = &cfg->conns;
	if (!ctree_is_section(sec))
		return berr(b, sec, "'connections' must be a section");
	for (const struct ctree *s = sec->child; s; s = s->next) {
		if (config_find_conn(cfg, s->name))
			return berr(b, s, "connection '%s' defined twice", s->name);
		struct conn_cfg *c = build_conn(b, s);
		if (!c)
			return -1;
		*tail = c;
		tail = &c->next;
	}
	b->what[0] = '\0';
	return 0;
}

static int build_secrets(struct bctx *b, const struct ctree *sec, struct config *cfg)
{
	struct secret_cfg **tail = &cfg->secrets;
	if (!ctree_is_section(sec))
		return berr(b, sec, "'secrets' must be a section");
	for (const struct ctree *s = sec->child; s; s = s->next) {
		if (is_key_secret(s->name)) {
			snprintf(b->what, sizeof(b->what), "secret '%s'", s->name);
			if (build_key_secret(b, s, cfg) < 0)
				return -1;
			continue;
		}
		if (check_secret_type(b, s) < 0)
			return -1;
		struct secret_cfg *x = config_build_secret(s, b->err, b->errlen);
		if (!x)
			return -1;
		*tail = x;
		tail = &x->next;
	}
	return 0;
}

static int build_top(struct bctx *b, const struct ctree *root, struct config *cfg)
{
	static const char *const unsupported[] = { "authorities", NULL };
	for (const struct ctree *s = root->child; s; s = s->next) {
		b->what[0] = '\0';
		int rc;
		if (strcmp(s->name, "connections") == 0)
			rc = build_connections(b, s, cfg);
		else if (strcmp(s->name, "secrets") == 0)
			rc = build_secrets(b, s, cfg);
		else if (strcmp(s->name, "tsunagi") == 0)
			rc = build_daemon(b, s, &cfg->daemon);
		else if (strcmp(s->name, "pools") == 0)
			rc = build_pools(b, s, cfg);
		else if (name_in(s->name, unsupported))
			rc = berr_unsupported(b, s);
		else
			rc = berr_unknown(b, s);
		if (rc < 0)
			return -1;
	}
	return config_check_pools(b, cfg);
}

struct config *config_build(const struct ctree *root, char *err, size_t errlen)
{
	struct bctx b = { .err = err, .errlen = errlen };
	struct config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	daemon_cfg_defaults(&cfg->daemon);
	cfg->cred_dir = root ? cred_dir_of(root->file) : NULL;
	b.dir = cfg->cred_dir;
	if (root && build_top(&b, root, cfg) < 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *config_load_file(const char *path, char *err, size_t errlen)
{
	struct ctree *root = conf_parse_file(path, err, errlen);
	if (!root)
		return NULL;
	struct config *cfg = config_build(root, err, errlen);
	ctree_free(root);
	return cfg;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	conn_cfg_free(c->conns);
	pool_cfg_free(c->pools);
	secret_cfg_free(c->secrets);
	key_cfg_free(c->keys);
	free(c->cred_dir);
	daemon_cfg_clear(&c->daemon);
	free(c);
}

struct conn_cfg *config_find_conn(const struct config *c, const char *name)
{
	for (struct conn_cfg *x = c ? c->conns : NULL; x; x = x->next)
		if (strcmp(x->name, name) == 0)
			return x;
	return NULL;
}
