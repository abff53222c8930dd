/* tsunagictl's readable tables: one line per IKE SA, an indented line per CHILD SA,
 * in the spirit of `show crypto isakmp sa` / `show crypto ipsec sa`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl.h"

static const char *s(const struct ctree *t, const char *key)
{
	return vici_find_str(t, key, "");
}

static bool has(const struct ctree *t, const char *key)
{
	return vici_find_str(t, key, NULL) != NULL;
}

/* "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048", skipping absent parts. */
const char *ctl_ike_state(const struct ctree *ike)
{
	return has(ike, "ikev1-state") ? s(ike, "ikev1-state") : s(ike, "state");
}

const char *ctl_algs(const struct ctree *t, char *out, size_t outlen)
{
	static const char *const keys[][2] = {
		{ "encr-alg", "encr-keysize" }, { "integ-alg", "integ-keysize" },
		{ "prf-alg", NULL }, { "dh-group", NULL },
	};
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && n < outlen; i++) {
		const char *alg = vici_find_str(t, keys[i][0], NULL);
		if (!alg)
			continue;
		const char *ks = keys[i][1] ? vici_find_str(t, keys[i][1], NULL) : NULL;
		n += (size_t)snprintf(out + n, outlen - n, "%s%s%s%s", n ? "/" : "", alg,
				      ks ? "-" : "", ks ? ks : "");
	}
	if (has(t, "esn") && n < outlen)
		snprintf(out + n, outlen - n, "/ESN");
	if (!out[0])
		snprintf(out, outlen, "-");
	return out;
}

/* List items joined by ", " ("10.1.0.0/24, 10.3.0.0/24"). */
const char *ctl_join_list(const struct ctree *t, const char *key, char *out, size_t outlen)
{
	const struct ctree *l = ctree_find(t, key);
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; l && l->is_list && i < l->n_list && n < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? ", " : "", l->list[i]);
	if (l && l->value)
		snprintf(out, outlen, "%s", l->value);
	return out;
}

/* Inbound drops by cause, only when there are any (like "show crypto ipsec sa"). */
static void print_drops(const struct ctree *c)
{
	static const char *const keys[] = {
		"drops-integrity", "drops-replay", "drops-padding", "drops-selector", "drops-other",
	};
	bool any = false;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = vici_find_str(c, keys[i], "0");
		if (strcmp(v, "0") == 0)
			continue;
		printf("%s %s %s", any ? "," : "                 dropped in:", v, keys[i] + 6);
		any = true;
	}
	if (any)
		printf("\n");
}

static void print_child(const struct ctree *c)
{
	char a[160], lts[256], rts[256], mode[48];
	snprintf(mode, sizeof(mode), "%s%s", s(c, "mode"), has(c, "encap") ? "-in-UDP" : "");
	printf("  %-14s #%-4s %-10s %-16s", s(c, "name"), s(c, "uniqueid"), s(c, "state"), mode);
	if (has(c, "spi-in"))
		printf(" %s_i %s_o", s(c, "spi-in"), s(c, "spi-out"));
	printf(" %s", ctl_algs(c, a, sizeof(a)));
	if (has(c, "bytes-in"))
		printf(" in %sB/%sp out %sB/%sp", s(c, "bytes-in"), s(c, "packets-in"),
		       s(c, "bytes-out"), s(c, "packets-out"));
	if (has(c, "rekey-time"))
		printf(" rekey in %ss", s(c, "rekey-time"));
	printf(" %s === %s\n", ctl_join_list(c, "local-ts", lts, sizeof(lts)),
	       ctl_join_list(c, "remote-ts", rts, sizeof(rts)));
	print_drops(c);
}

void ctl_print_sa_table(const struct ctree *event)
{
	for (const struct ctree *ike = event->child; ike; ike = ike->next) {
		if (!ctree_is_section(ike))
			continue;
		char peer[96], a[160];
		snprintf(peer, sizeof(peer), "%s[%s]", s(ike, "remote-host"), s(ike, "remote-port"));
		printf("%-16s #%-4s %-12s IKEv%s %-24s %-9s %s", ike->name, s(ike, "uniqueid"),
		       ctl_ike_state(ike), s(ike, "version"), peer,
		       has(ike, "initiator") ? "initiator" : "responder", ctl_algs(ike, a, sizeof(a)));
		if (has(ike, "established"))
			printf(" established %ss", s(ike, "established"));
		if (has(ike, "rekey-time"))
			printf(" rekey in %ss", s(ike, "rekey-time"));
		if (has(ike, "reauth-time"))
			printf(" reauth in %ss", s(ike, "reauth-time"));
		printf("\n");
		printf("  local '%s' @ %s[%s]  remote '%s'", s(ike, "local-id"),
		       s(ike, "local-host"), s(ike, "local-port"), s(ike, "remote-id"));
		if (has(ike, "remote-xauth-id"))	/* as swanctl shows it */
			printf(" XAuth: '%s'", s(ike, "remote-xauth-id"));
		printf("%s\n", has(ike, "nat-any") ? "  NAT detected" : "");
		const struct ctree *children = ctree_find(ike, "child-sas");
		for (const struct ctree *c = children ? children->child : NULL; c; c = c->next)
			if (ctree_is_section(c))
				print_child(c);
	}
}

static void print_auth(const struct ctree *auth, const char *side)
{
	printf("  %s %s", side, s(auth, "class")[0] ? s(auth, "class") : "unspecified");
	if (has(auth, "id"))
		printf(" '%s'", s(auth, "id"));
	printf("\n");
}

void ctl_print_conn_table(const struct ctree *event)
{
	for (const struct ctree *conn = event->child; conn; conn = conn->next) {
		if (!ctree_is_section(conn))
			continue;
		char la[256], ra[256];
		printf("%s: %s, %s -> %s, rekey %ss, reauth %ss", conn->name, s(conn, "version"),
		       ctl_join_list(conn, "local_addrs", la, sizeof(la)),
		       ctl_join_list(conn, "remote_addrs", ra, sizeof(ra)),
		       vici_find_str(conn, "rekey_time", "0"),
		       vici_find_str(conn, "reauth_time", "0"));
		if (strcmp(vici_find_str(conn, "dpd_delay", "0"), "0") != 0)
			printf(", dpd %ss", s(conn, "dpd_delay"));
		if (strcmp(vici_find_str(conn, "tsunagi-disabled", "no"), "yes") == 0)
			printf(", DISABLED");
		printf("\n");
		for (const struct ctree *c = conn->child; c; c = c->next) {
			if (!ctree_is_section(c))
				continue;
			if (strncmp(c->name, "local", 5) == 0)
				print_auth(c, "local ");
			else if (strncmp(c->name, "remote", 6) == 0)
				print_auth(c, "remote");
		}
		const struct ctree *children = ctree_find(conn, "children");
		for (const struct ctree *c = children ? children->child : NULL; c; c = c->next) {
			if (!ctree_is_section(c))
				continue;
			char lts[256], rts[256];
			printf("  %s: %s, rekey %ss, start %s, dpd %s, close %s\n", c->name,
			       s(c, "mode"), vici_find_str(c, "rekey_time", "0"),
			       vici_find_str(c, "start_action", "none"),
			       vici_find_str(c, "dpd_action", "clear"),
			       vici_find_str(c, "close_action", "none"));
			printf("    %s === %s\n", ctl_join_list(c, "local-ts", lts, sizeof(lts)),
			       ctl_join_list(c, "remote-ts", rts, sizeof(rts)));
		}
	}
}

/* Everything in a reply as "key: value", sections as indented headings. */
static void print_generic(const struct ctree *t, int indent)
{
	for (const struct ctree *c = t->child; c; c = c->next) {
		if (c->is_list) {
			char items[1024];
			printf("%*s%s: %s\n", indent, "", c->name,
			       ctl_join_list(t, c->name, items, sizeof(items)));
		} else if (c->value) {
			printf("%*s%s: %s\n", indent, "", c->name, c->value);
		} else {
			printf("%*s%s:\n", indent, "", c->name[0] ? c->name : "global");
			print_generic(c, indent + 2);
		}
	}
}

void ctl_print_stats(const struct ctree *res)
{
	if (has(res, "uptime.running"))
		printf("uptime: %s, since %s\n", s(res, "uptime.running"), s(res, "uptime.since"));
	if (has(res, "ikesas.total"))
		printf("IKE_SAs: %s total, %s half-open\n", s(res, "ikesas.total"),
		       s(res, "ikesas.half-open"));
	for (const struct ctree *c = res->child; c; c = c->next) {
		if (strcmp(c->name, "uptime") == 0 || strcmp(c->name, "ikesas") == 0 ||
		    strcmp(c->name, "workers") == 0 || strcmp(c->name, "queues") == 0 ||
		    strcmp(c->name, "scheduled") == 0)
			continue;	/* charon's thread pool: meaningless for tsunagid */
		struct ctree one = *c;
		one.next = NULL;
		struct ctree wrap = { .child = &one };
		print_generic(&wrap, 0);
	}
}

void ctl_print_counters(const struct ctree *res)
{
	const struct ctree *counters = ctree_find(res, "counters");
	if (counters)
		print_generic(counters, 0);
}

/* Like Cisco's "show xlate detail": protocol, the inside and outside endpoints, the
 * remote one, the rule and inspection engine that own it, its state and idle time. */
void ctl_print_nat_row(const struct ctree *event, bool header)
{
	if (header)
		printf("%-5s %-21s %-21s %-21s %-12s %-7s %-12s %s\n", "Proto", "Inside", "Outside",
		       "Remote", "Rule", "Engine", "State", "Idle");
	unsigned long long idle = strtoull(s(event, "idle-ms"), NULL, 10) / 1000;
	const char *rule = s(event, "rule"), *engine = s(event, "engine");
	printf("%-5s %-21s %-21s %-21s %-12s %-7s %-12s %llu:%02llu:%02llu\n", s(event, "proto"),
	       s(event, "inside"), s(event, "outside"), s(event, "remote"), *rule ? rule : "-",
	       *engine ? engine : "-", s(event, "state"), idle / 3600, idle / 60 % 60, idle % 60);
	if (*s(event, "inside-dst"))
		printf("      (inside host sent it to %s)\n", s(event, "inside-dst"));
	if (*s(event, "fast"))
		printf("      fast path: %s/%s packets out/in of %s/%s, %s/%s bytes\n",
		       s(event, "fast-packets-out"), s(event, "fast-packets-in"),
		       s(event, "packets-out"), s(event, "packets-in"), s(event, "bytes-out"),
		       s(event, "bytes-in"));
}

void ctl_print_log_line(const struct ctree *event)
{
	printf("[%s] %s\n", s(event, "group"), s(event, "msg"));
}

void ctl_print_pools(const struct ctree *res)
{
	bool header = false;
	for (const struct ctree *p = res->child; p; p = p->next) {
		if (!ctree_is_section(p))
			continue;
		if (!header)
			printf("%-16s %-39s %8s %8s %8s\n", "Pool", "Base", "Size", "Online", "Offline");
		header = true;
		printf("%-16s %-39s %8s %8s %8s\n", p->name, s(p, "base"), s(p, "size"),
		       s(p, "online"), s(p, "offline"));
		const struct ctree *leases = ctree_find(p, "leases");
		for (const struct ctree *l = leases ? leases->child : NULL; l; l = l->next)
			printf("  %-39s %-7s %s\n", s(l, "address"), s(l, "status"), s(l, "identity"));
	}
	if (!header)
		printf("no pools loaded\n");
}

void ctl_print_cert(const struct ctree *event)
{
	printf("%s\n  %s, %s, valid %s .. %s\n", vici_find_str(event, "subject", "?"),
	       strcmp(vici_find_str(event, "flag", "NONE"), "CA") == 0 ? "CA" : "end entity",
	       strcmp(vici_find_str(event, "has_privkey", "no"), "yes") == 0 ? "has private key"
									      : "no private key",
	       vici_find_str(event, "not-before", "?"), vici_find_str(event, "not-after", "?"));
}
