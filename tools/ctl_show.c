/* The operator views: `show ike sa [detail]` and `show ipsec sa [detail]`, in the shape
 * of Cisco's show crypto isakmp|ipsec sa and Juniper's show security ike|ipsec
 * security-associations, from the list-sa events (sections as vici_views.c builds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl.h"

static const char *s(const struct ctree *t, const char *key)
{
	return vici_find_str(t, key, "");
}

static const char *opt(const struct ctree *t, const char *key, const char *def)
{
	return vici_find_str(t, key, def);
}

/* "198.51.100.2[4500]" */
static const char *peer(const struct ctree *ike, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s[%s]", s(ike, "remote-host"), s(ike, "remote-port"));
	return out;
}

/* "12s ago", or "never" when the key is absent. */
static const char *ago(const struct ctree *t, const char *key, char *out, size_t outlen)
{
	const char *v = vici_find_str(t, key, NULL);
	if (v)
		snprintf(out, outlen, "%ss ago", v);
	else
		snprintf(out, outlen, "never");
	return out;
}

/* Remaining lifetime and lifesize as "seconds/kilobytes": "3390/unlim". */
static const char *life(const struct ctree *c, char *out, size_t outlen)
{
	const char *t = vici_find_str(c, "life-time", NULL);
	const char *b = vici_find_str(c, "life-bytes-left", NULL);
	char kb[32] = "unlim";
	const char *state = vici_find_str(c, "state", "");
	if (strcmp(state, "INSTALLED") != 0 && strcmp(state, "REKEYING") != 0)
		return "-";	/* not up yet, or on its way out: no lifetime to count */
	if (b)
		snprintf(kb, sizeof(kb), "%llu", strtoull(b, NULL, 10) / 1024);
	snprintf(out, outlen, "%s/%s", t ? t : "unlim", kb);
	return out;
}

/* "3390s", or "-" when the key is absent. */
static const char *in_secs(const struct ctree *t, const char *key, char *out, size_t outlen)
{
	const char *v = vici_find_str(t, key, NULL);
	snprintf(out, outlen, "%s%s", v ? v : "-", v ? "s" : "");
	return out;
}

static const char *role(const struct ctree *ike)
{
	return vici_find_str(ike, "initiator", NULL) ? "initiator" : "responder";
}

static const char *nat(const struct ctree *ike)
{
	bool here = vici_find_str(ike, "nat-local", NULL), there = vici_find_str(ike, "nat-remote", NULL);
	if (here && there)
		return "both sides";
	if (here)
		return "in front of us";
	if (there)
		return "in front of the peer";
	return vici_find_str(ike, "nat-fake", NULL) ? "none (UDP encapsulation forced)" : "none";
}

static const struct ctree *children(const struct ctree *ike)
{
	const struct ctree *c = ctree_find(ike, "child-sas");
	return c ? c->child : NULL;
}

void ctl_show_ike_header(void)
{
	printf("%-16s %-5s %-24s %-9s %-12s %-16s %-16s %-7s %s\n", "Connection", "Id", "Peer",
	       "Role", "State", "Initiator SPI", "Responder SPI", "Rekey", "Remote ID");
}

void ctl_show_ike(const struct ctree *ike, bool detail)
{
	char p[96], a[160], t1[32], t2[32];
	if (!detail) {
		printf("%-16s %-5s %-24s %-9s %-12s %-16s %-16s %-7s %s\n", ike->name,
		       s(ike, "uniqueid"), peer(ike, p, sizeof(p)), role(ike), ctl_ike_state(ike),
		       s(ike, "initiator-spi"), s(ike, "responder-spi"), opt(ike, "rekey-time", "-"),
		       s(ike, "remote-id"));
		return;
	}
	printf("IKE SA %s #%s: %s, IKEv%s, %s\n", ike->name, s(ike, "uniqueid"), ctl_ike_state(ike),
	       s(ike, "version"), role(ike));
	printf("  Local: %s[%s], id '%s'\n", s(ike, "local-host"), s(ike, "local-port"),
	       s(ike, "local-id"));
	printf("  Peer: %s, id '%s'\n", peer(ike, p, sizeof(p)), s(ike, "remote-id"));
	printf("  NAT: %s\n", nat(ike));
	printf("  SPIs: initiator %s, responder %s\n", s(ike, "initiator-spi"),
	       s(ike, "responder-spi"));
	printf("  Algorithms: %s\n", ctl_algs(ike, a, sizeof(a)));
	if (vici_find_str(ike, "established", NULL))
		printf("  Established: %ss ago\n", s(ike, "established"));
	printf("  Lifetime: rekey in %s, reauth in %s\n", in_secs(ike, "rekey-time", t1, sizeof(t1)),
	       in_secs(ike, "reauth-time", t2, sizeof(t2)));
	printf("  Last message from peer: %s\n", ago(ike, "last-rx", t1, sizeof(t1)));
	printf("  Last DPD: %s\n", ago(ike, "dpd-last", t2, sizeof(t2)));
	printf("  CHILD SAs:");
	int n = 0;
	for (const struct ctree *c = children(ike); c; c = c->next)
		if (ctree_is_section(c))
			printf("%s %s #%s", n++ ? "," : "", s(c, "name"), s(c, "uniqueid"));
	printf("%s\n\n", n ? "" : " none");
}

void ctl_show_ipsec_header(void)
{
	printf("%-22s %-5s %-24s %-10s %-8s %-8s %-12s %-12s %-10s %-10s %s\n", "Connection", "Id",
	       "Peer", "State", "SPI in", "SPI out", "Mode", "Life s/KB", "Pkts in", "Pkts out",
	       "Drops");
}

static unsigned long long drops(const struct ctree *c)
{
	static const char *const keys[] = {
		"drops-integrity", "drops-replay", "drops-padding", "drops-selector", "drops-other",
	};
	unsigned long long n = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		n += strtoull(opt(c, keys[i], "0"), NULL, 10);
	return n;
}

static void show_child(const struct ctree *ike, const struct ctree *c, bool detail)
{
	char name[160], p[96], l[64], r[32], mode[48], a[160], lts[512], rts[512];
	bool encap = vici_find_str(c, "encap", NULL);
	snprintf(mode, sizeof(mode), "%s%s", s(c, "mode"), encap ? "-UDP" : "");
	if (!detail) {
		snprintf(name, sizeof(name), "%s/%s", ike->name, s(c, "name"));
		printf("%-22s %-5s %-24s %-10s %-8s %-8s %-12s %-12s %-10s %-10s %llu\n", name,
		       s(c, "uniqueid"), peer(ike, p, sizeof(p)), s(c, "state"),
		       opt(c, "spi-in", "-"), opt(c, "spi-out", "-"), mode, life(c, l, sizeof(l)),
		       opt(c, "packets-in", "0"), opt(c, "packets-out", "0"), drops(c));
		return;
	}
	printf("CHILD SA %s #%s of IKE SA %s #%s, peer %s\n", s(c, "name"), s(c, "uniqueid"),
	       ike->name, s(ike, "uniqueid"), peer(ike, p, sizeof(p)));
	printf("  State: %s, mode %s%s, reqid %s\n", s(c, "state"), s(c, "mode"),
	       encap ? ", UDP-encapsulated" : "", s(c, "reqid"));
	printf("  Local selectors: %s\n", ctl_join_list(c, "local-ts", lts, sizeof(lts)));
	printf("  Remote selectors: %s\n", ctl_join_list(c, "remote-ts", rts, sizeof(rts)));
	printf("  SPI in: %s, SPI out: %s\n", opt(c, "spi-in", "-"), opt(c, "spi-out", "-"));
	printf("  Algorithms: %s\n", ctl_algs(c, a, sizeof(a)));
	printf("  Remaining lifetime (s/KB): %s, rekey in %s\n", life(c, l, sizeof(l)),
	       in_secs(c, "rekey-time", r, sizeof(r)));
	if (vici_find_str(c, "install-time", NULL))
		printf("  Installed: %ss ago\n", s(c, "install-time"));
	printf("  Packets in: %s, bytes in: %s\n", opt(c, "packets-in", "0"),
	       opt(c, "bytes-in", "0"));
	printf("  Packets out: %s, bytes out: %s\n", opt(c, "packets-out", "0"),
	       opt(c, "bytes-out", "0"));
	printf("  Drops replay: %s, integrity: %s, padding: %s, selector: %s, other: %s\n\n",
	       opt(c, "drops-replay", "0"), opt(c, "drops-integrity", "0"),
	       opt(c, "drops-padding", "0"), opt(c, "drops-selector", "0"),
	       opt(c, "drops-other", "0"));
}

/* Every CHILD SA of the IKE SA, or only those named child (NULL: all). Returns how
 * many it printed. */
int ctl_show_ipsec(const struct ctree *ike, const char *child, bool detail)
{
	int n = 0;
	for (const struct ctree *c = children(ike); c; c = c->next) {
		if (!ctree_is_section(c) || (child && strcmp(child, s(c, "name")) != 0))
			continue;
		show_child(ike, c, detail);
		n++;
	}
	return n;
}
