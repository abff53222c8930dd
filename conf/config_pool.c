/* pools { NAME { addrs = ..., dns = ..., ... } }: virtual IP pools as in swanctl.conf.
 * addrs is a CIDR or a range "first-last". The attributes tsunagi sends are dns, nbns,
 * netmask, subnet and split_include (the last two as INTERNAL_IP4/6_SUBNET), and numbered
 * custom attributes as strings (IKEv1 Mode Config sends them: 28674 is Cisco Unity's
 * default domain); strongSwan's others (dhcp, server, split_exclude) are refused by name.
 * A pool may not overlap a protected local network (a child's local_ts) nor another
 * pool: both would hand a client an address that is someone else's. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/build.h"

static const char *const pool_unsupported[] = {
	"dhcp", "server", "split_exclude", NULL,
};

/* Host bits set ("10.3.0.5/24") start the pool at that address, as strongSwan does. */
static int parse_cidr(char *s, char *slash, struct addr *first, struct addr *last)
{
	char *end;
	*slash = '\0';
	long plen = strtol(slash + 1, &end, 10);
	if (addr_parse(s, first) < 0 || end == slash + 1 || *end)
		return -1;
	int bits = first->family == AF_INET ? 32 : 128;
	if (plen < 0 || plen > bits)
		return -1;
	struct addr net = *first;
	*last = *first;
	for (int i = 0; i < bits / 8; i++) {
		int b = (int)plen - i * 8;
		uint8_t mask = b >= 8 ? 0xff : b <= 0 ? 0 : (uint8_t)(0xff << (8 - b));
		net.u.b[i] &= mask;
		last->u.b[i] = net.u.b[i] | (uint8_t)~mask;
	}
	if (bits - plen < 2)	/* a /31 or /32 (/127, /128) has no such addresses */
		return 0;
	/* Leave out the network address (when the pool starts there) and broadcast. */
	if (memcmp(first->u.b, net.u.b, (size_t)bits / 8) == 0)
		for (int i = bits / 8 - 1; i >= 0 && ++first->u.b[i] == 0; i--)
			;
	for (int i = bits / 8 - 1; i >= 0 && last->u.b[i]-- == 0; i--)
		;
	return 0;
}

int config_pool_range(const char *s, struct addr *first, struct addr *last)
{
	char buf[128];
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	char *slash = strchr(buf, '/'), *dash = strchr(buf, '-');
	if (slash && !dash)
		return parse_cidr(buf, slash, first, last);
	if (dash && !slash) {
		*dash = '\0';
		if (addr_parse(buf, first) < 0 || addr_parse(dash + 1, last) < 0 ||
		    first->family != last->family ||
		    memcmp(first->u.b, last->u.b, addr_len(first)) > 0)
			return -1;
		return 0;
	}
	return -1;
}

static int get_addrs(struct bctx *b, const struct ctree *k, struct pool_cfg *p)
{
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	if (config_pool_range(s, &p->first, &p->last) < 0)
		return berr(b, k, "invalid pool '%s' for 'addrs' (a CIDR such as 10.3.0.0/24 "
			    "or a range such as 10.3.0.10-10.3.0.99)", s);
	free(p->addrs);
	p->addrs = strdup(s);
	return p->addrs ? 0 : berr(b, k, "out of memory");
}

static int get_addr_list(struct bctx *b, const struct ctree *k, struct addr **out, size_t *n)
{
	char **items;
	size_t ni;
	if (bitems(b, k, &items, &ni) < 0)
		return -1;
	int rc = 0;
	struct addr *v = ni ? calloc(ni, sizeof(*v)) : NULL;
	if (ni && !v)
		rc = berr(b, k, "out of memory");
	for (size_t i = 0; rc == 0 && i < ni; i++)
		if (addr_parse(items[i], &v[i]) < 0)
			rc = berr_value(b, k, items[i]);
	ctree_free_items(items, ni);
	if (rc < 0) {
		free(v);
		return -1;
	}
	free(*out);
	*out = v;
	*n = ni;
	return 0;
}

/* subnet and split_include both add to the subnets sent. */
static int add_subnets(struct bctx *b, const struct ctree *k, struct pool_cfg *p)
{
	char **items;
	size_t ni;
	if (bitems(b, k, &items, &ni) < 0)
		return -1;
	int rc = 0;
	struct selector *v = realloc(p->subnets, (p->n_subnets + ni + 1) * sizeof(*v));
	if (!v)
		rc = berr(b, k, "out of memory");
	else
		p->subnets = v;
	for (size_t i = 0; rc == 0 && i < ni; i++) {
		struct selector *sel = &p->subnets[p->n_subnets];
		if (selector_parse(items[i], sel) < 0 || sel->proto || sel->port_lo ||
		    sel->port_hi != 65535 || selector_prefixlen(sel) < 0)
			rc = berr(b, k, "invalid subnet '%s' in '%s'", items[i], k->name);
		else
			p->n_subnets++;
	}
	ctree_free_items(items, ni);
	return rc;
}

static bool all_digits(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* "28674 = example.org": a numbered attribute, its values sent as they are written. */
static int add_custom(struct bctx *b, const struct ctree *k, struct pool_cfg *p)
{
	unsigned long type = strtoul(k->name, NULL, 10);
	char **items = NULL;
	size_t ni = 0;
	int rc = 0;
	if (type == 0 || type > 32767)
		return berr(b, k, "attribute type %s outside 1..32767", k->name);
	if (bitems(b, k, &items, &ni) < 0)
		return -1;
	struct pool_attr *grown = realloc(p->custom, (p->n_custom + ni) * sizeof(*grown));
	if (ni && !grown)
		rc = berr(b, k, "out of memory");
	else if (ni)
		p->custom = grown;
	for (size_t i = 0; rc == 0 && i < ni; i++) {
		if (strlen(items[i]) > 255)
			rc = berr(b, k, "value of attribute %s longer than 255 bytes", k->name);
		else if (!(p->custom[p->n_custom].value = strdup(items[i])))
			rc = berr(b, k, "out of memory");
		else
			p->custom[p->n_custom++].type = (uint16_t)type;
	}
	ctree_free_items(items, ni);
	return rc;
}

static int pool_key(struct bctx *b, const struct ctree *k, struct pool_cfg *p)
{
	const char *n = k->name;
	if (ctree_is_section(k))
		return berr_unknown(b, k);
	if (strcmp(n, "addrs") == 0)
		return get_addrs(b, k, p);
	if (strcmp(n, "dns") == 0)
		return get_addr_list(b, k, &p->dns, &p->n_dns);
	if (strcmp(n, "nbns") == 0)
		return get_addr_list(b, k, &p->nbns, &p->n_nbns);
	if (strcmp(n, "netmask") == 0)
		return get_addr_list(b, k, &p->netmask, &p->n_netmask);
	if (strcmp(n, "subnet") == 0 || strcmp(n, "split_include") == 0)
		return add_subnets(b, k, p);
	if (all_digits(n) && *n)
		return add_custom(b, k, p);
	if (name_in(n, pool_unsupported))
		return berr_unsupported(b, k);
	return berr_unknown(b, k);
}

static struct pool_cfg *build_pool(struct bctx *b, const struct ctree *sec)
{
	if (!ctree_is_section(sec)) {
		berr(b, sec, "pool '%s' must be a section", sec->name);
		return NULL;
	}
	snprintf(b->what, sizeof(b->what), "pool '%s'", sec->name ? sec->name : "");
	struct pool_cfg *p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(sec->name ? sec->name : "")) ||
	    !(p->file = strdup(sec->file ? sec->file : "vici"))) {
		pool_cfg_free(p);
		berr(b, sec, "out of memory");
		return NULL;
	}
	p->line = sec->line;
	for (const struct ctree *k = sec->child; k; k = k->next) {
		if (pool_key(b, k, p) < 0) {
			pool_cfg_free(p);
			return NULL;
		}
	}
	if (!p->addrs) {
		berr(b, sec, "'addrs' missing");
		pool_cfg_free(p);
		return NULL;
	}
	return p;
}

struct pool_cfg *config_build_pool(const struct ctree *sec, char *err, size_t errlen)
{
	struct bctx b = { .err = err, .errlen = errlen };
	return build_pool(&b, sec);
}

void pool_cfg_free(struct pool_cfg *p)
{
	while (p) {
		struct pool_cfg *next = p->next;
		free(p->name);
		free(p->addrs);
		free(p->dns);
		free(p->nbns);
		free(p->netmask);
		free(p->subnets);
		for (size_t i = 0; i < p->n_custom; i++)
			free(p->custom[i].value);
		free(p->custom);
		free(p->file);
		free(p);
		p = next;
	}
}

static void pool_selector(const struct pool_cfg *p, struct selector *s)
{
	memset(s, 0, sizeof(*s));
	s->family = p->first.family;
	s->port_hi = 65535;
	memcpy(s->lo, p->first.u.b, addr_len(&p->first));
	memcpy(s->hi, p->last.u.b, addr_len(&p->last));
}

/* A default route (0.0.0.0/0, ::/0) is the full-tunnel case, not a local network. */
static int check_conns(const struct pool_cfg *p, const struct selector *ps,
		       const struct conn_cfg *conns, char *err, size_t errlen)
{
	char a[SELECTOR_STRLEN];
	for (const struct conn_cfg *c = conns; c; c = c->next) {
		for (const struct child_cfg *cc = c->children; cc; cc = cc->next) {
			for (size_t i = 0; i < cc->n_local_ts; i++) {
				const struct selector *ts = &cc->local_ts[i].sel;
				struct selector common;
				if (cc->local_ts[i].dynamic || selector_prefixlen(ts) == 0 ||
				    !selector_intersect(ps, ts, &common))
					continue;
				snprintf(err, errlen, "%s:%d: pool '%s': addresses %s overlap the "
					 "protected local network %s of '%s/%s' (%s:%d)", p->file,
					 p->line, p->name, p->addrs, selector_fmt(ts, a, sizeof(a)),
					 c->name, cc->name, c->file ? c->file : "?", c->line);
				return -1;
			}
		}
	}
	return 0;
}

int config_check_pool(const struct pool_cfg *p, const struct pool_cfg *others,
		      const struct conn_cfg *conns, char *err, size_t errlen)
{
	struct selector ps, os, common;
	pool_selector(p, &ps);
	for (const struct pool_cfg *o = others; o; o = o->next) {
		if (o == p || strcmp(o->name, p->name) == 0)
			continue;
		pool_selector(o, &os);
		if (selector_intersect(&ps, &os, &common)) {
			snprintf(err, errlen, "%s:%d: pool '%s': addresses %s overlap pool '%s' "
				 "(%s:%d)", p->file, p->line, p->name, p->addrs, o->name, o->file,
				 o->line);
			return -1;
		}
	}
	return check_conns(p, &ps, conns, err, errlen);
}

/* After the whole file is read: pools against connections and each other, and every
 * pool a connection names is defined. */
int config_check_pools(struct bctx *b, const struct config *cfg)
{
	for (const struct pool_cfg *p = cfg->pools; p; p = p->next)
		if (config_check_pool(p, p->next, cfg->conns, b->err, b->errlen) < 0)
			return -1;
	for (const struct conn_cfg *c = cfg->conns; c; c = c->next) {
		for (size_t i = 0; i < c->n_pools; i++) {
			const struct pool_cfg *p = cfg->pools;
			while (p && strcmp(p->name, c->pools[i]) != 0)
				p = p->next;
			if (!p) {
				snprintf(b->err, b->errlen, "%s:%d: connection '%s': pool '%s' is "
					 "not defined in 'pools'", c->file ? c->file : "?", c->line,
					 c->name, c->pools[i]);
				return -1;
			}
		}
	}
	return 0;
}

int build_pools(struct bctx *b, const struct ctree *sec, struct config *cfg)
{
	struct pool_cfg **tail = &cfg->pools;
	while (*tail)
		tail = &(*tail)->next;
	if (!ctree_is_section(sec))
		return berr(b, sec, "'pools' must be a section");
	for (const struct ctree *s = sec->child; s; s = s->next) {
		b->what[0] = '\0';
		for (const struct pool_cfg *o = cfg->pools; o; o = o->next)
			if (strcmp(o->name, s->name) == 0)
				return berr(b, s, "pool '%s' defined twice", s->name);
		struct pool_cfg *p = build_pool(b, s);
		if (!p)
			return -1;
		*tail = p;
		tail = &p->next;
	}
	b->what[0] = '\0';
	return 0;
}
