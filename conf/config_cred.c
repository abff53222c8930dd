/* Certificates and private keys in the configuration, as swanctl.conf has them:
 * local/remote `certs` and `cacerts` name files in the x509/ and x509ca/ directories
 * beside the configuration file (or give an absolute path), `send_cert` and
 * `send_certreq` on the connection, and secrets.private<suffix> { file, secret } for
 * keys in private/ with a passphrase. Only paths are kept here; ike/cred_store.c reads
 * the files. A file that is not there is an error with file:line. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/build.h"
#include "lib/wipe.h"

/* strongSwan's private key secret types; all take file and secret. */
static const char *const key_types[] = { "private", "rsa", "ecdsa", "pkcs8", NULL };

char *cred_dir_of(const char *file)
{
	if (!file)
		return NULL;
	char *copy = strdup(file);
	if (!copy)
		return NULL;
	char *dir = strdup(dirname(copy));
	free(copy);
	return dir;
}

/* NAME in DIR/SUB/, or an absolute path as it is. Without a directory (VICI), the
 * name is kept as given. */
static char *resolve(const struct bctx *b, const char *sub, const char *name)
{
	if (name[0] == '/' || !b->dir)
		return strdup(name);
	size_t n = strlen(b->dir) + strlen(sub) + strlen(name) + 3;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s/%s", b->dir, sub, name);
	return p;
}

static int add_paths(struct bctx *b, const struct ctree *k, const char *sub, char ***list,
		     size_t *n)
{
	char **items;
	size_t count;
	if (bitems(b, k, &items, &count) < 0)
		return -1;
	char **grown = realloc(*list, (*n + count + 1) * sizeof(*grown));
	if (!grown) {
		ctree_free_items(items, count);
		return berr(b, k, "out of memory");
	}
	*list = grown;
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		char *p = resolve(b, sub, items[i]);
		if (!p)
			rc = berr(b, k, "out of memory");
		else if (b->dir && access(p, R_OK) != 0) {
			rc = berr(b, k, "%s file '%s' cannot be read (%s)", k->name, items[i], p);
			free(p);
		} else
			grown[(*n)++] = p;
	}
	ctree_free_items(items, count);
	return rc;
}

int build_auth_cred(struct bctx *b, const struct ctree *k, struct auth_cfg *a)
{
	if (strcmp(k->name, "certs") == 0)
		return add_paths(b, k, "x509", &a->certs, &a->n_certs);
	if (strcmp(k->name, "cacerts") == 0)
		return add_paths(b, k, "x509ca", &a->cacerts, &a->n_cacerts);
	return 1;
}

int build_conn_cred(struct bctx *b, const struct ctree *k, struct conn_cfg *c)
{
	if (strcmp(k->name, "send_certreq") == 0)
		return bget_bool(b, k, &c->send_certreq);
	if (strcmp(k->name, "send_cert") != 0)
		return 1;
	static const struct { const char *name; enum send_cert v; } map[] = {
		{ "ifasked", SEND_CERT_IFASKED }, { "always", SEND_CERT_ALWAYS },
		{ "never", SEND_CERT_NEVER },
	};
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(s, map[i].name) == 0) {
			c->send_cert = map[i].v;
			return 0;
		}
	}
	return berr_value(b, k, s);
}

bool is_key_secret(const char *name)
{
	for (size_t i = 0; key_types[i]; i++)
		if (key_has_prefix(name, key_types[i]))
			return true;
	return false;
}

static int key_item(struct bctx *b, const struct ctree *k, struct key_cfg *key)
{
	const char *v = ctree_is_section(k) ? NULL : bscalar(b, k);
	if (!v)
		return ctree_is_section(k) ? berr_unknown(b, k) : -1;
	if (strcmp(k->name, "file") == 0) {
		free(key->file);
		if (!(key->file = resolve(b, "private", v)))
			return berr(b, k, "out of memory");
		if (b->dir && access(key->file, R_OK) != 0)
			return berr(b, k, "key file '%s' cannot be read (%s)", v, key->file);
		return 0;
	}
	if (strcmp(k->name, "secret") == 0) {
		/* A passphrase: never echoed. */
		if (key->secret)
			wipe_free(key->secret, strlen(key->secret));
		return (key->secret = strdup(v)) ? 0 : berr(b, k, "out of memory");
	}
	return berr_unknown(b, k);
}

int build_key_secret(struct bctx *b, const struct ctree *sec, struct config *cfg)
{
	if (!ctree_is_section(sec))
		return berr(b, sec, "secret '%s' must be a section", sec->name);
	struct key_cfg *key = calloc(1, sizeof(*key));
	if (!key || !(key->name = strdup(sec->name))) {
		free(key);
		return berr(b, sec, "out of memory");
	}
	key->next = cfg->keys;
	cfg->keys = key;
	for (const struct ctree *k = sec->child; k; k = k->next)
		if (key_item(b, k, key) < 0)
			return -1;
	if (!key->file)
		return berr(b, sec, "secret '%s': 'file' missing", sec->name);
	return 0;
}

void key_cfg_free(struct key_cfg *k)
{
	while (k) {
		struct key_cfg *next = k->next;
		free(k->name);
		free(k->file);
		if (k->secret)
			wipe_free(k->secret, strlen(k->secret));
		free(k);
		k = next;
	}
}

void auth_cfg_creds_free(struct auth_cfg *a)
{
	ctree_free_items(a->certs, a->n_certs);
	ctree_free_items(a->cacerts, a->n_cacerts);
	a->certs = a->cacerts = NULL;
	a->n_certs = a->n_cacerts = 0;
}
