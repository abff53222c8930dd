/* tsunagi { nat { ... } }: the NAT rules, built into nat/nat_rules.h's plain data.
 *
 *   tsunagi {
 *       nat {
 *           inside = eth1           # interfaces by name (lists allowed)
 *           outside = eth0
 *           hairpin = yes           # inside hosts reach forwards by the public address
 *           max_flows = 65536       # flow table size; oldest idle evicted when full
 *           queue = 0               # NFQUEUE number (tsunagid --nat-queue overrides)
 *           queues = 2              # queues from 'queue' on, one thread each
 *           firewall = auto         # manual: the operator installs the queue rules
 *           fastpath = yes          # established flows rewritten by tsunagi's tc program,
 *                                   # and forwarded by it while no other netfilter rule
 *                                   # would see them; redirect: forwarded by it always;
 *                                   # rewrite: forwarded by the kernel; no: all queued
 *           inspect {               # application inspection engines (nat/inspect.h)
 *               ftp { ports = 21, 2121  strict = no  enabled = yes }
 *           }
 *           timeouts {              # PIX defaults
 *               xlate = 3h  tcp = 1h  tcp_half_closed = 10m  tcp_syn = 30s
 *               tcp_closed = 10s  udp = 2m  icmp = 2s  sip = 30m  sip_media = 2m
 *               h225 = 1h  mgcp = 5m
 *           }
 *           rules {
 *               vpn { type = exempt   private = 10.1.0.0/16  remote = 10.2.0.0/16 }
 *               web { type = forward  proto = tcp  public = eth0  public_port = 8080
 *                     private = 10.1.0.5  private_port = 80 }
 *               dmz { type = static   private = 10.1.9.0/24  public = 198.51.100.0/24 }
 *               dyn { type = dynamic  private = 10.1.3.0/24
 *                     public = 198.51.100.10-198.51.100.19 }
 *               lan { type = pat      private = 10.1.0.0/16  public = eth0 }
 *           }
 *       }
 *   }
 *
 * Rules are tried by kind (exempt, forward, static, dynamic, pat), in file order
 * within a kind, whatever their order in the file. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/build.h"
#include "nat/inspect.h"
#include "nat/nat_rules.h"

static int get_fastpath(struct bctx *b, const struct ctree *k, struct nat_rules *r)
{
	static const struct { const char *name; bool on; uint8_t fwd; } modes[] = {
		{ "yes", true, NAT_FWD_AUTO }, { "redirect", true, NAT_FWD_ALWAYS },
		{ "rewrite", true, NAT_FWD_NEVER }, { "no", false, NAT_FWD_AUTO },
	};
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i].name) == 0) {
			r->fastpath = modes[i].on;
			r->fastpath_forward = modes[i].fwd;
			return 0;
		}
	return berr(b, k, "invalid fastpath '%s' (yes, redirect, rewrite or no)", s);
}

static int get_ifaces(struct bctx *b, const struct ctree *k, struct nat_rules *r, bool outside)
{
	char **items;
	size_t n;
	if (bitems(b, k, &items, &n) < 0)
		return -1;
	int rc = n ? 0 : berr(b, k, "'%s' needs an interface name", k->name);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (nat_rules_add_iface(r, outside, items[i]) < 0)
			rc = berr(b, k, "invalid, repeated or too many interfaces: '%s'", items[i]);
	ctree_free_items(items, n);
	return rc;
}

static int get_timeouts(struct bctx *b, const struct ctree *sec, struct nat_timeouts *t)
{
	if (!ctree_is_section(sec))
		return berr(b, sec, "'timeouts' must be a section");
	for (const struct ctree *k = sec->child; k; k = k->next) {
		uint32_t *v = NULL;
		if (strcmp(k->name, "xlate") == 0)
			v = &t->xlate;
		else if (strcmp(k->name, "tcp") == 0)
			v = &t->tcp;
		else if (strcmp(k->name, "tcp_half_closed") == 0)
			v = &t->tcp_half_closed;
		else if (strcmp(k->name, "tcp_syn") == 0)
			v = &t->tcp_syn;
		else if (strcmp(k->name, "tcp_closed") == 0)
			v = &t->tcp_closed;
		else if (strcmp(k->name, "udp") == 0)
			v = &t->udp;
		else if (strcmp(k->name, "icmp") == 0)
			v = &t->icmp;
		else if (strcmp(k->name, "sip") == 0)
			v = &t->sip;
		else if (strcmp(k->name, "sip_media") == 0)
			v = &t->sip_media;
		else if (strcmp(k->name, "h225") == 0)
			v = &t->h225;
		else if (strcmp(k->name, "mgcp") == 0)
			v = &t->mgcp;
		if (!v || ctree_is_section(k))
			return berr_unknown(b, k);
		if (bget_time32(b, k, v) < 0)
			return -1;
		if (*v == 0)
			return berr(b, k, "a timeout of 0 would end every flow at once");
	}
	return 0;
}

static int get_nets(struct bctx *b, const struct ctree *k, struct nat_net *nets, size_t *n)
{
	char **items;
	size_t cnt;
	if (bitems(b, k, &items, &cnt) < 0)
		return -1;
	int rc = 0;
	if (cnt == 0 || cnt > NAT_MAX_NETS)
		rc = berr(b, k, "'%s' needs 1 to %d networks", k->name, NAT_MAX_NETS);
	for (size_t i = 0; i < cnt && rc == 0; i++) {
		if (strchr(items[i], ':') || strchr(items[i], '['))
			rc = berr(b, k, "'%s': networks only, no ports (see 'private_port')", items[i]);
		else if (nat_net_parse(items[i], &nets[i]) < 0)
			rc = berr(b, k, "invalid IPv4 network '%s' (want 10.0.0.0/8 or an address)",
				  items[i]);
	}
	if (rc == 0)
		*n = cnt;
	ctree_free_items(items, cnt);
	return rc;
}

static int parse_v4(const char *s, uint32_t *out)
{
	struct in_addr in;
	if (inet_pton(AF_INET, s, &in) != 1)
		return -1;
	*out = ntohl(in.s_addr);
	return 0;
}

/* public = eth0 | 198.51.100.1 | 198.51.100.10-198.51.100.19 | 198.51.100.0/24 */
static int get_public(struct bctx *b, const struct ctree *k, const struct nat_rules *r,
		      struct nat_rule *x)
{
	const char *s = bscalar(b, k);
	char lo[32];
	const char *dash;
	struct nat_net net;
	if (!s)
		return -1;
	if ((x->pub_if = nat_rules_outside_index(r, s)) >= 0)
		return 0;
	if (strchr(s, '/') && nat_net_parse(s, &net) == 0) {
		x->pub_lo = net.addr;
		x->pub_hi = net.addr | (net.plen ? ~(0xffffffffu << (32 - net.plen)) : 0xffffffffu);
		if (net.plen == 0)
			x->pub_hi = 0xffffffffu;
		return 0;
	}
	if ((dash = strchr(s, '-')) && (size_t)(dash - s) < sizeof(lo)) {
		memcpy(lo, s, (size_t)(dash - s));
		lo[dash - s] = '\0';
		if (parse_v4(lo, &x->pub_lo) == 0 && parse_v4(dash + 1, &x->pub_hi) == 0)
			return 0;
	} else if (parse_v4(s, &x->pub_lo) == 0) {
		x->pub_hi = x->pub_lo;
		return 0;
	}
	return berr(b, k, "invalid public '%s' (an outside interface, an address, "
		    "a range A-B or a network)", s);
}

static int get_kind(struct bctx *b, const struct ctree *k, enum nat_rule_kind *out)
{
	static const char *const kinds[] = { "exempt", "forward", "static", "dynamic", "pat" };
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(s, kinds[i]) == 0) {
			*out = (enum nat_rule_kind)i;
			return 0;
		}
	return berr(b, k, "invalid type '%s' (exempt, forward, static, dynamic or pat)", s);
}

static int get_proto(struct bctx *b, const struct ctree *k, uint8_t *out)
{
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	if (strcmp(s, "tcp") == 0)
		*out = 6;
	else if (strcmp(s, "udp") == 0)
		*out = 17;
	else
		return berr(b, k, "invalid proto '%s' (tcp or udp)", s);
	return 0;
}

static int rule_key(struct bctx *b, const struct ctree *k, const struct nat_rules *r,
		    struct nat_rule *x, bool *typed)
{
	if (ctree_is_section(k))
		return berr_unknown(b, k);
	if (strcmp(k->name, "type") == 0) {
		*typed = true;
		return get_kind(b, k, &x->kind);
	}
	if (strcmp(k->name, "private") == 0)
		return get_nets(b, k, x->priv, &x->n_priv);
	if (strcmp(k->name, "remote") == 0)
		return get_nets(b, k, x->remote, &x->n_remote);
	if (strcmp(k->name, "public") == 0)
		return get_public(b, k, r, x);
	if (strcmp(k->name, "proto") == 0)
		return get_proto(b, k, &x->proto);
	if (strcmp(k->name, "private_port") == 0)
		return bget_port(b, k, &x->priv_port);
	if (strcmp(k->name, "public_port") == 0)
		return bget_port(b, k, &x->pub_port);
	return berr_unknown(b, k);
}

static int build_rule(struct bctx *b, const struct ctree *sec, struct nat_rules *r)
{
	struct nat_rule x = { .pub_if = -1 };
	bool typed = false;
	char why[160];
	if (!ctree_is_section(sec))
		return berr(b, sec, "rule '%s' must be a section", sec->name);
	snprintf(b->what, sizeof(b->what), "tsunagi nat rule '%s'", sec->name);
	snprintf(x.name, sizeof(x.name), "%s", sec->name);
	snprintf(x.file, sizeof(x.file), "%s", sec->file ? sec->file : "");
	x.line = sec->line;
	for (const struct ctree *k = sec->child; k; k = k->next)
		if (rule_key(b, k, r, &x, &typed) < 0)
			return -1;
	if (!typed)
		return berr(b, sec, "'type' is missing (exempt, forward, static, dynamic or pat)");
	if (nat_rules_add(r, &x, why, sizeof(why)) < 0)
		return berr(b, sec, "%s", why);
	return 0;
}

static int build_rules(struct bctx *b, const struct ctree *sec, struct nat_rules *r)
{
	if (!ctree_is_section(sec))
		return berr(b, sec, "'rules' must be a section");
	for (const struct ctree *s = sec->child; s; s = s->next)
		if (build_rule(b, s, r) < 0)
			return -1;
	snprintf(b->what, sizeof(b->what), "tsunagi nat");
	return 0;
}

/* inspect { ftp { ports = 21, 2121  strict = yes  enabled = no } ... } */
static int get_engine(struct bctx *b, const struct ctree *sec, struct nat_rules *r)
{
	int id = nat_engine_find(sec->name);
	if (id < 0)
		return berr(b, sec, "unknown inspection engine '%s'", sec->name);
	if (!ctree_is_section(sec))
		return berr(b, sec, "'%s' must be a section", sec->name);
	struct nat_inspect_conf *c = &r->inspect[id];
	for (const struct ctree *k = sec->child; k; k = k->next) {
		char why[128];
		char **items;
		size_t n;
		if (ctree_is_section(k))
			return berr_unknown(b, k);
		if (strcmp(k->name, "enabled") == 0) {
			if (bget_bool(b, k, &c->enabled) < 0)
				return -1;
			continue;
		}
		if (strcmp(k->name, "strict") == 0) {
			if (bget_bool(b, k, &c->strict) < 0)
				return -1;
			continue;
		}
		if (strcmp(k->name, "ports") != 0)
			return berr_unknown(b, k);
		if (bitems(b, k, &items, &n) < 0)
			return -1;
		/* "21, 2121" may come as one item or as a list: join them. */
		char joined[256] = "";
		for (size_t i = 0; i < n; i++)
			if (strlen(joined) + strlen(items[i]) + 2 < sizeof(joined)) {
				strcat(joined, i ? "," : "");
				strcat(joined, items[i]);
			}
		ctree_free_items(items, n);
		if (nat_inspect_parse_ports(joined, c, why, sizeof(why)) < 0)
			return berr(b, k, "%s", why);
	}
	return 0;
}

static int get_inspect(struct bctx *b, const struct ctree *sec, struct nat_rules *r)
{
	if (!ctree_is_section(sec))
		return berr(b, sec, "'inspect' must be a section");
	for (const struct ctree *s = sec->child; s; s = s->next)
		if (get_engine(b, s, r) < 0)
			return -1;
	return 0;
}

static int nat_key(struct bctx *b, const struct ctree *k, struct nat_rules *r,
		   const struct ctree **rules)
{
	uint64_t v;
	if (strcmp(k->name, "timeouts") == 0)
		return get_timeouts(b, k, &r->timeouts);
	if (strcmp(k->name, "inspect") == 0)
		return get_inspect(b, k, r);
	if (strcmp(k->name, "rules") == 0) {
		*rules = k;	/* after the interfaces, which 'public' may name */
		return 0;
	}
	if (ctree_is_section(k))
		return berr_unknown(b, k);
	if (strcmp(k->name, "inside") == 0)
		return get_ifaces(b, k, r, false);
	if (strcmp(k->name, "outside") == 0)
		return get_ifaces(b, k, r, true);
	if (strcmp(k->name, "hairpin") == 0)
		return bget_bool(b, k, &r->hairpin);
	if (strcmp(k->name, "fastpath") == 0)
		return get_fastpath(b, k, r);
	if (strcmp(k->name, "queue") == 0) {
		if (bget_u64(b, k, &v) < 0)
			return -1;
		if (v > 65535)
			return berr(b, k, "queue must be an NFQUEUE number 0..65535");
		r->queue = (uint16_t)v;
		return 0;
	}
	if (strcmp(k->name, "queues") == 0) {
		if (bget_u64(b, k, &v) < 0)
			return -1;
		if (v < 1 || v > NAT_MAX_QUEUES)
			return berr(b, k, "queues must be 1..%d", NAT_MAX_QUEUES);
		r->queues = (uint16_t)v;
		return 0;
	}
	if (strcmp(k->name, "firewall") == 0) {
		const char *s = bscalar(b, k);
		if (!s)
			return -1;
		if (strcmp(s, "auto") != 0 && strcmp(s, "manual") != 0)
			return berr(b, k, "invalid firewall '%s' (auto or manual)", s);
		r->firewall_manual = strcmp(s, "manual") == 0;
		return 0;
	}
	if (strcmp(k->name, "max_flows") == 0) {
		if (bget_u64(b, k, &v) < 0)
			return -1;
		if (v < 16 || v > (1u << 26))
			return berr(b, k, "max_flows must be 16..67108864");
		r->max_flows = (size_t)v;
		return 0;
	}
	return berr_unknown(b, k);
}

int build_nat(struct bctx *b, const struct ctree *sec, struct daemon_cfg *d)
{
	const struct ctree *rules = NULL;
	if (!ctree_is_section(sec))
		return berr(b, sec, "'nat' must be a section");
	if (d->nat)
		return berr(b, sec, "'nat' is defined twice");
	struct nat_rules *r = nat_rules_new();
	if (!r)
		return berr(b, sec, "out of memory");
	snprintf(b->what, sizeof(b->what), "tsunagi nat");
	for (const struct ctree *k = sec->child; k; k = k->next)
		if (nat_key(b, k, r, &rules) < 0)
			goto fail;
	if (!r->n_inside || !r->n_outside) {
		berr(b, sec, "'inside' and 'outside' interfaces are required");
		goto fail;
	}
	if (rules && build_rules(b, rules, r) < 0)
		goto fail;
	snprintf(b->what, sizeof(b->what), "tsunagi");
	d->nat = r;
	return 0;
fail:
	nat_rules_free(r);
	return -1;
}
