/* tsunagictl --load-all --file F: what swanctl --load-all does, over the same VICI
 * commands, so the daemon cannot tell the two apart. Shared secrets go first
 * (load-shared), then pools (load-pool), then connections (load-conn); connections
 * and secrets the daemon has but the file lacks are unloaded afterwards.
 * Certificates and keys first: ctl_creds.c. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/parser.h"
#include "lib/wipe.h"
#include "tools/ctl.h"

/* Keys swanctl's load_conns.c sends as VICI lists (their value split at commas),
 * plus the credential lists it expands. */
static bool is_list_key(const char *key)
{
	static const char *const keys[] = {
		"local_addrs", "remote_addrs", "proposals", "esp_proposals", "ah_proposals",
		"local_ts", "remote_ts", "vips", "pools", "groups", "cert_policy",
		"certs", "cacerts", "pubkeys", NULL,
	};
	for (size_t i = 0; keys[i]; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static void add_items(struct vici_msg *m, const struct ctree *node)
{
	char **items;
	size_t n = ctree_items(node, &items);
	vici_begin_list(m, node->name);
	for (size_t i = 0; i < n; i++)
		vici_add_item(m, items[i]);
	vici_end_list(m);
	ctree_free_items(items, n);
}

static void add_section_body(struct vici_msg *m, const struct ctree *sec,
			     bool (*as_list)(const char *key))
{
	for (const struct ctree *c = sec->child; c; c = c->next) {
		if (ctree_is_section(c)) {
			vici_begin_section(m, c->name);
			add_section_body(m, c, as_list);
			vici_end_section(m);
		} else if (as_list == is_list_key &&	/* a connection's, not a pool's */
			   (strcmp(c->name, "certs") == 0 || strcmp(c->name, "cacerts") == 0)) {
			ctl_add_cert_items(m, c);
		} else if (c->is_list || as_list(c->name)) {
			add_items(m, c);
		} else {
			vici_add_kv(m, c->name, c->value ? c->value : "");
		}
	}
}

/* "0x..." hex and "0s..." base64 are decoded, as swanctl does before sending. */
static int decode_secret(const char *s, uint8_t **out, size_t *len)
{
	size_t max = strlen(s) + 1;
	const char *end;
	*out = malloc(max);
	if (!*out)
		return -1;
	int r;
	if (strncasecmp(s, "0x", 2) == 0)
		r = sodium_hex2bin(*out, max, s + 2, strlen(s + 2), ":", len, &end);
	else if (strncasecmp(s, "0s", 2) == 0)
		r = sodium_base642bin(*out, max, s + 2, strlen(s + 2), " \t\r\n", len, &end,
				      sodium_base64_VARIANT_ORIGINAL);
	else {
		memcpy(*out, s, max - 1);
		*len = max - 1;
		return 0;
	}
	if (r != 0 || *end) {
		wipe_free(*out, max);
		*out = NULL;
		return -1;
	}
	return 0;
}

static const char *secret_type(const char *name)
{
	static const char *const types[][2] = {
		{ "ike", "IKE" }, { "eap", "EAP" }, { "xauth", "XAUTH" }, { "ntlm", "NTLM" },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncmp(name, types[i][0], strlen(types[i][0])) == 0)
			return types[i][1];
	return NULL;
}

/* Sends one request whose answer is { success, errmsg }; prints the outcome. */
static bool simple(struct ctl *ctl, const char *cmd, struct vici_msg *m, const char *what)
{
	struct ctree *res = ctl_request(ctl, cmd, m);
	bool ok = res && ctl_check_success(res, what);
	ctree_free(res);
	return ok;
}

static int load_secret(struct ctl *ctl, const struct ctree *sec)
{
	const char *type = secret_type(sec->name);
	if (!type && ctl_is_key_secret(sec->name))
		return 0;	/* a key's passphrase: ctl_creds.c */
	if (!type) {
		fprintf(stderr, "%s: secret type '%s' is not supported, skipped\n",
			ctree_where(sec, (char[96]){ 0 }, 96), sec->name);
		return 0;
	}
	const char *secret = vici_find_str(sec, "secret", NULL);
	uint8_t *data;
	size_t len;
	if (!secret || decode_secret(secret, &data, &len) < 0) {
		fprintf(stderr, "%s: secret '%s' has no valid 'secret' value\n",
			ctree_where(sec, (char[96]){ 0 }, 96), sec->name);
		return -1;
	}
	struct vici_msg m;
	vici_msg_init(&m);
	vici_add_kv(&m, "id", sec->name);
	vici_add_kv(&m, "type", type);
	vici_add_kv_bin(&m, "data", data, len);
	wipe_free(data, len ? len : 1);
	vici_begin_list(&m, "owners");
	for (const struct ctree *c = sec->child; c; c = c->next)
		if (strncmp(c->name, "id", 2) == 0 && c->value)
			vici_add_item(&m, c->value);
	vici_end_list(&m);
	char what[300];
	snprintf(what, sizeof(what), "loading %s secret '%s'", type, sec->name);
	bool ok = simple(ctl, "load-shared", &m, what);
	vici_msg_wipe_free(&m);
	if (ok)
		printf("loaded %s secret '%s'\n", type, sec->name);
	return ok ? 1 : -1;
}

/* Names in a reply list ("conns" of get-conns, "keys" of get-shared); NULL if the
 * daemon does not know the command. */
static struct ctree *get_names(struct ctl *ctl, const char *cmd, const char *key,
			       const struct ctree **list)
{
	char err[256];
	struct ctree *res = vici_client_request(ctl->cl, cmd, NULL, err, sizeof(err));
	*list = res ? ctree_find(res, key) : NULL;
	return res;
}

static bool in_section(const struct ctree *sec, const char *name)
{
	return sec && ctree_find(sec, name) != NULL;
}

/* Unloads what the daemon has (list) but the file does not (keep). */
static int unload_missing(struct ctl *ctl, const struct ctree *list, const struct ctree *keep,
			  const char *cmd, const char *key, const char *kind)
{
	int n = 0;
	for (size_t i = 0; list && list->is_list && i < list->n_list; i++) {
		if (in_section(keep, list->list[i]))
			continue;
		struct vici_msg m;
		vici_msg_init(&m);
		vici_add_kv(&m, key, list->list[i]);
		char what[300];
		snprintf(what, sizeof(what), "unloading %s '%s'", kind, list->list[i]);
		if (simple(ctl, cmd, &m, what))
			n++;
		vici_msg_free(&m);
	}
	return n;
}

static int load_secrets(struct ctl *ctl, const struct ctree *secrets)
{
	const struct ctree *had;
	struct ctree *res = get_names(ctl, "get-shared", "keys", &had);
	int loaded = 0, failed = 0;
	for (const struct ctree *s = secrets ? secrets->child : NULL; s; s = s->next) {
		if (!ctree_is_section(s))
			continue;
		int r = load_secret(ctl, s);
		loaded += r > 0;
		failed += r < 0;
	}
	unload_missing(ctl, had, secrets, "unload-shared", "id", "secret");
	ctree_free(res);
	return failed ? -1 : loaded;
}

static bool pool_list_key(const char *key)
{
	return strcmp(key, "addrs") != 0;	/* attributes (dns, ...) are lists */
}

static int load_pools(struct ctl *ctl, const struct ctree *pools)
{
	int failed = 0, n = 0;
	for (const struct ctree *p = pools ? pools->child : NULL; p; p = p->next) {
		if (!ctree_is_section(p))
			continue;
		struct vici_msg m;
		vici_msg_init(&m);
		vici_begin_section(&m, p->name);
		add_section_body(&m, p, pool_list_key);
		vici_end_section(&m);
		char what[300];
		snprintf(what, sizeof(what), "loading pool '%s'", p->name);
		if (simple(ctl, "load-pool", &m, what)) {
			printf("loaded pool '%s'\n", p->name);
			n++;
		} else {
			failed++;
		}
		vici_msg_free(&m);
	}
	if (n || failed)
		printf("successfully loaded %d pools, %d unloaded\n", n, 0);
	return failed ? -1 : n;
}

static int load_conns(struct ctl *ctl, const struct ctree *conns)
{
	const struct ctree *had;
	struct ctree *res = get_names(ctl, "get-conns", "conns", &had);
	int failed = 0, n = 0;
	for (const struct ctree *c = conns ? conns->child : NULL; c; c = c->next) {
		if (!ctree_is_section(c))
			continue;
		struct vici_msg m;
		vici_msg_init(&m);
		vici_begin_section(&m, c->name);
		add_section_body(&m, c, is_list_key);
		vici_end_section(&m);
		char what[300];
		snprintf(what, sizeof(what), "loading connection '%s'", c->name);
		if (simple(ctl, "load-conn", &m, what)) {
			printf("loaded connection '%s'\n", c->name);
			n++;
		} else {
			failed++;
		}
		vici_msg_free(&m);
	}
	int unloaded = unload_missing(ctl, had, conns, "unload-conn", "name", "connection");
	ctree_free(res);
	printf("successfully loaded %d connections, %d unloaded\n", n, unloaded);
	return failed ? -1 : n;
}

int ctl_load_all(struct ctl *ctl, const char *file)
{
	char err[512];
	struct ctree *cfg = conf_parse_file(file, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	int r0 = ctl_load_creds(ctl, file, ctree_find(cfg, "secrets"));
	int r1 = load_secrets(ctl, ctree_find(cfg, "secrets"));
	int r2 = load_pools(ctl, ctree_find(cfg, "pools"));
	int r3 = load_conns(ctl, ctree_find(cfg, "connections"));
	ctree_free(cfg);
	return r0 < 0 || r1 < 0 || r2 < 0 || r3 < 0 ? 1 : 0;
}
