#include "lib/selector.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t fam_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static void prefix_range(uint8_t family, const uint8_t *net, int plen, uint8_t *lo, uint8_t *hi)
{
	size_t n = fam_len(family);
	for (size_t i = 0; i < n; i++) {
		int bits = plen - (int)i * 8;
		uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		lo[i] = net[i] & mask;
		hi[i] = net[i] | (uint8_t)~mask;
	}
}

/* Protocol names as /etc/protocols has them (the first name of a number is the one
 * printed). Built in: the output must not depend on the machine having netbase. */
static const struct { const char *name; uint8_t num; } proto_names[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "gre", 47 }, { "esp", 50 },
	{ "ipv6-icmp", 58 }, { "icmpv6", 58 }, { "sctp", 132 },
};

static const char *proto_name(uint8_t num)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (proto_names[i].num == num)
			return proto_names[i].name;
	return NULL;
}

static int parse_proto(const char *s, uint8_t *proto)
{
	char *end;
	if (!*s || strcmp(s, "%any") == 0) {
		*proto = 0;
		return 0;
	}
	long v = strtol(s, &end, 10);
	if (*end == '\0' && v >= 0 && v <= 255) {
		*proto = (uint8_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++) {
		if (strcmp(s, proto_names[i].name) == 0) {
			*proto = proto_names[i].num;
			return 0;
		}
	}
	return -1;
}

static int parse_port(const char *s, uint16_t *v)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (end == s || *end || n < 0 || n > 65535)
		return -1;
	*v = (uint16_t)n;
	return 0;
}

static int parse_ports(const char *s, struct selector *sel)
{
	char buf[32];
	if (!*s || strcmp(s, "%any") == 0)
		return 0;
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_port(buf, &sel->port_lo) < 0)
		return -1;
	sel->port_hi = sel->port_lo;
	if (dash && parse_port(dash + 1, &sel->port_hi) < 0)
		return -1;
	return sel->port_lo <= sel->port_hi ? 0 : -1;
}

static int parse_addr_part(char *s, struct selector *sel)
{
	struct addr a, b;
	char *slash = strchr(s, '/');
	char *dash = strchr(s, '-');
	if (slash) {
		*slash = '\0';
		char *end;
		long plen = strtol(slash + 1, &end, 10);
		if (addr_parse(s, &a) < 0 || *end || end == slash + 1 || plen < 0 ||
		    plen > (long)fam_len(a.family) * 8)
			return -1;
		sel->family = a.family;
		prefix_range(a.family, a.u.b, (int)plen, sel->lo, sel->hi);
		return 0;
	}
	if (dash) {
		*dash = '\0';
		if (addr_parse(s, &a) < 0 || addr_parse(dash + 1, &b) < 0 || a.family != b.family)
			return -1;
		if (memcmp(a.u.b, b.u.b, fam_len(a.family)) > 0)
			return -1;
		sel->family = a.family;
		memcpy(sel->lo, a.u.b, 16);
		memcpy(sel->hi, b.u.b, 16);
		return 0;
	}
	if (addr_parse(s, &a) < 0)
		return -1;
	/* Not selector_from_addr: it would wipe the protocol and ports parsed before. */
	sel->family = a.family;
	memcpy(sel->lo, a.u.b, 16);
	memcpy(sel->hi, a.u.b, 16);
	return 0;
}

int selector_parse(const char *s, struct selector *sel)
{
	char buf[SELECTOR_STRLEN];
	memset(sel, 0, sizeof(*sel));
	sel->port_hi = 65535;
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	char *br = strchr(buf, '[');
	if (br) {
		char *close = strchr(br, ']');
		if (!close || close[1] != '\0')
			return -1;
		*close = '\0';
		*br = '\0';
		char *proto = br + 1;
		char *port = strchr(proto, '/');
		if (port)
			*port++ = '\0';
		if (parse_proto(proto, &sel->proto) < 0)
			return -1;
		if (port && parse_ports(port, sel) < 0)
			return -1;
	}
	return parse_addr_part(buf, sel);
}

void selector_from_addr(struct selector *sel, const struct addr *a)
{
	memset(sel, 0, sizeof(*sel));
	sel->family = a->family;
	sel->port_hi = 65535;
	memcpy(sel->lo, a->u.b, fam_len(a->family));
	memcpy(sel->hi, a->u.b, fam_len(a->family));
}

unsigned selector_common_prefix(const struct selector *sel)
{
	size_t n = fam_len(sel->family);
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t diff = sel->lo[i] ^ sel->hi[i];
		if (!diff) {
			bits += 8;
			continue;
		}
		while (!(diff & 0x80)) {
			bits++;
			diff = (uint8_t)(diff << 1);
		}
		break;
	}
	return bits;
}

int selector_prefixlen(const struct selector *sel)
{
	size_t n = fam_len(sel->family);
	int plen = 0;
	bool in_host = false;
	for (size_t i = 0; i < n; i++) {
		for (int bit = 7; bit >= 0; bit--) {
			int l = sel->lo[i] >> bit & 1, h = sel->hi[i] >> bit & 1;
			if (!in_host && l == h) {
				plen++;
				continue;
			}
			in_host = true;
			if (l != 0 || h != 1)
				return -1;
		}
	}
	return plen;
}

const char *selector_fmt(const struct selector *sel, char *out, size_t outlen)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN], addr[2 * INET6_ADDRSTRLEN + 8];
	int af = sel->family == AF_INET6 ? AF_INET6 : AF_INET;
	inet_ntop(af, sel->lo, lo, sizeof(lo));
	int plen = selector_prefixlen(sel);
	if (plen >= 0) {
		snprintf(addr, sizeof(addr), "%s/%d", lo, plen);
	} else {
		inet_ntop(af, sel->hi, hi, sizeof(hi));
		snprintf(addr, sizeof(addr), "%s..%s", lo, hi);
	}
	bool any_port = sel->port_lo == 0 && sel->port_hi == 65535;
	if (sel->proto == 0 && any_port) {
		snprintf(out, outlen, "%s", addr);
		return out;
	}
	char proto[16], ports[16] = "";
	const char *name = proto_name(sel->proto);
	if (name)
		snprintf(proto, sizeof(proto), "%s", name);
	else
		snprintf(proto, sizeof(proto), "%u", sel->proto);
	if (!any_port) {
		if (sel->port_lo == sel->port_hi)
			snprintf(ports, sizeof(ports), "/%u", sel->port_lo);
		else
			snprintf(ports, sizeof(ports), "/%u-%u", sel->port_lo, sel->port_hi);
	}
	snprintf(out, outlen, "%s[%s%s]", addr, sel->proto ? proto : "", ports);
	return out;
}

bool selector_intersect(const struct selector *a, const struct selector *b,
			struct selector *out)
{
	size_t n = fam_len(a->family);
	if (a->family != b->family)
		return false;
	if (a->proto && b->proto && a->proto != b->proto)
		return false;
	memset(out, 0, sizeof(*out));
	out->family = a->family;
	out->proto = a->proto ? a->proto : b->proto;
	out->port_lo = a->port_lo > b->port_lo ? a->port_lo : b->port_lo;
	out->port_hi = a->port_hi < b->port_hi ? a->port_hi : b->port_hi;
	if (out->port_lo > out->port_hi)
		return false;
	memcpy(out->lo, memcmp(a->lo, b->lo, n) > 0 ? a->lo : b->lo, n);
	memcpy(out->hi, memcmp(a->hi, b->hi, n) < 0 ? a->hi : b->hi, n);
	return memcmp(out->lo, out->hi, n) <= 0;
}

bool selector_within(const struct selector *a, const struct selector *b)
{
	size_t n = fam_len(a->family);
	return a->family == b->family && (b->proto == 0 || a->proto == b->proto) &&
	       a->port_lo >= b->port_lo && a->port_hi <= b->port_hi &&
	       memcmp(a->lo, b->lo, n) >= 0 && memcmp(a->hi, b->hi, n) <= 0;
}

bool selector_equal(const struct selector *a, const struct selector *b)
{
	return selector_within(a, b) && selector_within(b, a) && a->proto == b->proto;
}

bool selector_match(const struct selector *sel, uint8_t family, const uint8_t *addr,
		    uint8_t proto, uint16_t port)
{
	size_t n = fam_len(family);
	if (sel->family != family)
		return false;
	if (sel->proto && sel->proto != proto)
		return false;
	if (port < sel->port_lo || port > sel->port_hi)
		return false;
	return memcmp(addr, sel->lo, n) >= 0 && memcmp(addr, sel->hi, n) <= 0;
}
