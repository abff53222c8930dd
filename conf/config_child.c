/* connections.<conn>.children.<child>: one CHILD_SA configuration, with strongSwan's
 * keys and defaults (swanctl.conf(5), 5.9.8): rekey_time 1h, life_time 110% of
 * rekey_time, rand_time life_time - rekey_time (likewise for bytes and packets, whose
 * rekey default is 0 = off), mode tunnel, start_action none, dpd_action clear,
 * close_action none, replay_window 32, local_ts/remote_ts dynamic, esp_proposals
 * default. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/build.h"
#include "ike/proposal.h"

/* strongSwan child keys tsunagi does not implement: an error, never ignored. */
static const char *const child_unsupported[] = {
	"ah_proposals", "sha256_96", "updown", "hostaccess", "policies", "policies_fwd_out",
	"ipcomp", "inactivity", "priority", "interface", "mark_in", "mark_in_sa", "mark_out",
	"set_mark_in", "set_mark_out", "if_id_in", "if_id_out", "label", "label_mode",
	"tfc_padding", "hw_offload", "copy_df", "copy_ecn", "copy_dscp", NULL,
};

/* Lifetime keys are applied after all keys are read: their defaults depend on each
 * other. */
struct lifetimes {
	uint64_t rekey[3], life[3], rand[3];	/* [0] time, [1] bytes, [2] packets */
	bool life_set[3], rand_set[3];
};

/* "dynamic" or "dynamic[proto/port]" (L2TP/IPsec: dynamic[udp/1701]): the SA's own
 * address, with the protocol and ports kept in sel. */
static int parse_dynamic(struct bctx *b, const struct ctree *node, const char *item,
			 struct ts_cfg *ts)
{
	char any[SELECTOR_STRLEN];
	ts->dynamic = true;
	selector_parse("0.0.0.0/0", &ts->sel);
	if (item[7] == '\0')
		return 0;
	snprintf(any, sizeof(any), "0.0.0.0/0%s", item + 7);
	if (item[7] != '[' || strlen(item) >= sizeof(any) - 9 || selector_parse(any, &ts->sel) < 0)
		return berr(b, node, "invalid traffic selector '%s' in '%s'", item, node->name);
	return 0;
}

const char *ts_cfg_fmt(const struct ts_cfg *ts, char *out, size_t outlen)
{
	if (!ts->dynamic)
		return selector_fmt(&ts->sel, out, outlen);
	char s[SELECTOR_STRLEN];
	const char *br = ts_cfg_has_ports(ts) ? strchr(selector_fmt(&ts->sel, s, sizeof(s)), '[')
					      : NULL;
	snprintf(out, outlen, "dynamic%s", br ? br : "");
	return out;
}

static int parse_ts_list(struct bctx *b, const struct ctree *node, struct ts_cfg *ts,
			 size_t *n_ts)
{
	char **items;
	size_t n;
	if (bitems(b, node, &items, &n) < 0)
		return -1;
	int rc = 0;
	if (n == 0)
		rc = berr(b, node, "'%s' is empty", node->name);
	else if (n > CONF_MAX_TS)
		rc = berr(b, node, "'%s' has more than %d traffic selectors", node->name,
			  CONF_MAX_TS);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		memset(&ts[i], 0, sizeof(ts[i]));
		if (strncmp(items[i], "dynamic", 7) == 0)
			rc = parse_dynamic(b, node, items[i], &ts[i]);
		else if (selector_parse(items[i], &ts[i].sel) < 0)
			rc = berr(b, node, "invalid traffic selector '%s' in '%s'", items[i],
				  node->name);
	}
	if (rc == 0)
		*n_ts = n;
	ctree_free_items(items, n);
	return rc;
}

static int parse_mode(struct bctx *b, const struct ctree *node, enum child_mode *mode)
{
	static const char *const unsupported[] = {
		"transport_proxy", "beet", "pass", "drop", NULL,
	};
	const char *s = bscalar(b, node);
	if (!s)
		return -1;
	if (strcasecmp(s, "tunnel") == 0)
		*mode = MODE_TUNNEL;
	else if (strcasecmp(s, "transport") == 0)
		*mode = MODE_TRANSPORT;
	else if (name_in(s, unsupported))
		return berr(b, node, "mode '%s' is not supported by tsunagi", s);
	else
		return berr_value(b, node, s);
	return 0;
}

/* strongSwan's action names, aliases included (start = restart, route = trap). */
static int parse_action(const char *s, enum sa_action *out)
{
	static const struct { const char *name; enum sa_action a; } map[] = {
		{ "none", ACTION_NONE }, { "clear", ACTION_CLEAR }, { "trap", ACTION_TRAP },
		{ "route", ACTION_TRAP }, { "restart", ACTION_RESTART },
		{ "start", ACTION_RESTART },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(s, map[i].name) == 0) {
			*out = map[i].a;
			return 0;
		}
	}
	return -1;
}

static int get_action(struct bctx *b, const struct ctree *node, enum sa_action *out)
{
	const char *s = bscalar(b, node);
	if (!s)
		return -1;
	return parse_action(s, out) < 0 ? berr_value(b, node, s) : 0;
}

static int get_start_action(struct bctx *b, const struct ctree *node, enum start_action *out)
{
	enum sa_action a;
	if (get_action(b, node, &a) < 0)
		return -1;
	*out = a == ACTION_TRAP ? START_TRAP : a == ACTION_RESTART ? START_START : START_NONE;
	return 0;
}

/* Index 0..2 into struct lifetimes for "rekey_time", "life_bytes", ...; -1 if not one. */
static int lifetime_key(const char *key, const char **kind)
{
	static const char *const units[] = { "_time", "_bytes", "_packets" };
	static const char *const kinds[] = { "rekey", "life", "rand" };
	for (int u = 0; u < 3; u++) {
		for (int k = 0; k < 3; k++) {
			size_t kl = strlen(kinds[k]);
			if (strncmp(key, kinds[k], kl) == 0 && strcmp(key + kl, units[u]) == 0) {
				*kind = kinds[k];
				return u;
			}
		}
	}
	return -1;
}

static int parse_lifetime(struct bctx *b, const struct ctree *node, struct lifetimes *lt)
{
	const char *kind;
	int u = lifetime_key(node->name, &kind);
	uint64_t v;
	int rc = u == 0 ? bget_time(b, node, &v) : u == 1 ? bget_bytes(b, node, &v)
						     : bget_u64(b, node, &v);
	if (rc < 0)
		return -1;
	if (kind[0] == 'r' && kind[2] == 'k') {
		lt->rekey[u] = v;
	} else if (kind[0] == 'l') {
		lt->life[u] = v;
		lt->life_set[u] = true;
	} else {
		lt->rand[u] = v;
		lt->rand_set[u] = true;
	}
	return 0;
}

/* strongSwan's check_lifetimes(): hard = soft + 10%, jitter = hard - soft. */
static void apply_lifetimes(struct lifetimes *lt, struct child_cfg *c)
{
	for (int u = 0; u < 3; u++) {
		if (!lt->life_set[u])
			lt->life[u] = lt->rekey[u] * 110 / 100;
		if (!lt->rand_set[u])
			lt->rand[u] = lt->life[u] - (lt->life[u] < lt->rekey[u] ? lt->life[u]
										  : lt->rekey[u]);
	}
	c->rekey_time = lt->rekey[0], c->life_time = lt->life[0], c->rand_time = lt->rand[0];
	c->rekey_bytes = lt->rekey[1], c->life_bytes = lt->life[1], c->rand_bytes = lt->rand[1];
	c->rekey_packets = lt->rekey[2], c->life_packets = lt->life[2];
	c->rand_packets = lt->rand[2];
}

static int child_key(struct bctx *b, const struct ctree *k, struct child_cfg *c,
		     struct lifetimes *lt)
{
	const char *kind;
	if (ctree_is_section(k))
		return berr_unknown(b, k);
	if (strcmp(k->name, "local_ts") == 0)
		return parse_ts_list(b, k, c->local_ts, &c->n_local_ts);
	if (strcmp(k->name, "remote_ts") == 0)
		return parse_ts_list(b, k, c->remote_ts, &c->n_remote_ts);
	if (strcmp(k->name, "esp_proposals") == 0) {
		ctree_free_items(c->esp_proposals, c->n_esp_proposals);
		c->esp_proposals = NULL;
		c->n_esp_proposals = 0;
		return build_proposals(b, k, PROTO_ESP, &c->esp_proposals, &c->n_esp_proposals);
	}
	if (strcmp(k->name, "mode") == 0)
		return parse_mode(b, k, &c->mode);
	if (strcmp(k->name, "start_action") == 0)
		return get_start_action(b, k, &c->start_action);
	if (strcmp(k->name, "dpd_action") == 0)
		return get_action(b, k, &c->dpd_action);
	if (strcmp(k->name, "close_action") == 0)
		return get_action(b, k, &c->close_action);
	if (strcmp(k->name, "replay_window") == 0) {
		if (bget_u32(b, k, &c->replay_window) < 0)
			return -1;
		if (c->replay_window > CONF_MAX_REPLAY_WINDOW)
			return berr(b, k, "replay_window %u is larger than tsunagi's maximum of %u",
				    c->replay_window, CONF_MAX_REPLAY_WINDOW);
		return 0;
	}
	if (strcmp(k->name, "reqid") == 0)
		return bget_u32(b, k, &c->reqid);
	if (lifetime_key(k->name, &kind) >= 0)
		return parse_lifetime(b, k, lt);
	if (name_in(k->name, child_unsupported))
		return berr_unsupported(b, k);
	return berr_unknown(b, k);
}

static void child_defaults(struct child_cfg *c, struct lifetimes *lt)
{
	memset(lt, 0, sizeof(*lt));
	lt->rekey[0] = 3600;
	c->n_local_ts = c->n_remote_ts = 1;
	c->local_ts[0].dynamic = c->remote_ts[0].dynamic = true;
	c->mode = MODE_TUNNEL;
	c->start_action = START_NONE;
	c->dpd_action = ACTION_CLEAR;
	c->close_action = ACTION_NONE;
	c->replay_window = 32;
}

static int default_list(char ***out, size_t *n, const char *item)
{
	*out = calloc(1, sizeof(char *));
	if (!*out || !((*out)[0] = strdup(item))) {
		free(*out);
		*out = NULL;
		return -1;
	}
	*n = 1;
	return 0;
}

struct child_cfg *build_child(struct bctx *b, const struct ctree *sec, const char *conn_name)
{
	struct child_cfg *c = calloc(1, sizeof(*c));
	struct lifetimes lt;
	if (!c || !(c->name = strdup(sec->name))) {
		free(c);
		berr(b, sec, "out of memory");
		return NULL;
	}
	snprintf(b->what, sizeof(b->what), "connection '%s', child '%s'", conn_name, sec->name);
	child_defaults(c, &lt);
	for (const struct ctree *k = sec->child; k; k = k->next) {
		if (child_key(b, k, c, &lt) < 0) {
			child_cfg_free(c);
			return NULL;
		}
	}
	apply_lifetimes(&lt, c);
	if (!c->esp_proposals && default_list(&c->esp_proposals, &c->n_esp_proposals,
					      "default") < 0) {
		child_cfg_free(c);
		berr(b, sec, "out of memory");
		return NULL;
	}
	return c;
}

void child_cfg_free(struct child_cfg *c)
{
	while (c) {
		struct child_cfg *next = c->next;
		free(c->name);
		ctree_free_items(c->esp_proposals, c->n_esp_proposals);
		free(c);
		c = next;
	}
}

/* Each item must parse with proposal_parse(); the text is kept as written. */
int build_proposals(struct bctx *b, const struct ctree *node, int proto, char ***out,
		    size_t *n)
{
	struct proposal props[4];
	char perr[200];
	if (bitems(b, node, out, n) < 0)
		return -1;
	if (*n == 0)
		return berr(b, node, "'%s' is empty", node->name);
	for (size_t i = 0; i < *n; i++) {
		perr[0] = '\0';
		if (proposal_parse((*out)[i], (enum proto_id)proto, props, 4, perr,
				   sizeof(perr)) < 0)
		{
			/* proposal_parse's message names the keyword and the proposal. */
			if (perr[0])
				return berr(b, node, "'%s': %s", node->name, perr);
			return berr(b, node, "invalid proposal '%s' in '%s'", (*out)[i],
				    node->name);
		}
	}
	return 0;
}
