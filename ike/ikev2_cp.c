/* Configuration payload codec (RFC 7296 3.15.1): CFG type, 3 reserved bytes, then
 * attributes of R bit + 15-bit type, 16-bit length and value. Every length is checked
 * before its value is read; a bad attribute is skipped and counted. */
#include <string.h>

#include "ike/ikev2_cp.h"

const char *ikev2_cfg_attr_name(uint16_t type)
{
	switch (type) {
	case INTERNAL_IP4_ADDRESS: return "INTERNAL_IP4_ADDRESS";
	case INTERNAL_IP4_NETMASK: return "INTERNAL_IP4_NETMASK";
	case INTERNAL_IP4_DNS: return "INTERNAL_IP4_DNS";
	case INTERNAL_IP4_NBNS: return "INTERNAL_IP4_NBNS";
	case INTERNAL_IP4_DHCP: return "INTERNAL_IP4_DHCP";
	case APPLICATION_VERSION: return "APPLICATION_VERSION";
	case INTERNAL_IP6_ADDRESS: return "INTERNAL_IP6_ADDRESS";
	case INTERNAL_IP6_DNS: return "INTERNAL_IP6_DNS";
	case INTERNAL_IP6_DHCP: return "INTERNAL_IP6_DHCP";
	case INTERNAL_IP4_SUBNET: return "INTERNAL_IP4_SUBNET";
	case SUPPORTED_ATTRIBUTES: return "SUPPORTED_ATTRIBUTES";
	case INTERNAL_IP6_SUBNET: return "INTERNAL_IP6_SUBNET";
	}
	return "unknown";
}

/* Counts a skipped attribute; returns 0 so that attr() can "return bad(...)". */
static int bad(struct ikev2_cp *cp, unsigned *counter, uint16_t type, const char *why)
{
	(*counter)++;
	if (!cp->bad_why) {
		cp->bad_type = type;
		cp->bad_why = why;
	}
	return 0;
}

static void set_addr(struct addr *a, uint8_t family, const uint8_t *v)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->u.b, v, family == AF_INET ? 4 : 16);
}

/* A DNS or NBNS server: appended while there is room (more are legal, and ignored). */
static void add_server(struct addr *list, size_t *n, size_t max, uint8_t family,
		       const uint8_t *v)
{
	if (*n < max)
		set_addr(&list[(*n)++], family, v);
}

/* An address attribute: empty (a question) or len bytes (a value or hint). */
static bool addr_len_ok(size_t got, size_t want)
{
	return got == 0 || got == want;
}

static void subnet4(struct ikev2_cp *cp, const uint8_t *v)
{
	struct selector *s = &cp->subnets[cp->n_subnets++];
	memset(s, 0, sizeof(*s));
	s->family = AF_INET;
	s->port_hi = 65535;
	for (int i = 0; i < 4; i++) {
		s->lo[i] = v[i] & v[4 + i];
		s->hi[i] = v[i] | (uint8_t)~v[4 + i];
	}
}

static void subnet6(struct ikev2_cp *cp, const uint8_t *v)
{
	struct selector *s = &cp->subnets[cp->n_subnets++];
	memset(s, 0, sizeof(*s));
	s->family = AF_INET6;
	s->port_hi = 65535;
	for (int i = 0; i < 16; i++) {
		int b = v[16] - i * 8;
		uint8_t mask = b >= 8 ? 0xff : b <= 0 ? 0 : (uint8_t)(0xff << (8 - b));
		s->lo[i] = v[i] & mask;
		s->hi[i] = v[i] | (uint8_t)~mask;
	}
}

/* One attribute whose value length is known to fit. */
static int attr(struct ikev2_cp *cp, uint16_t type, const uint8_t *v, size_t len)
{
	switch (type) {
	case INTERNAL_IP4_ADDRESS:
	case INTERNAL_IP6_ADDRESS: {
		bool v4 = type == INTERNAL_IP4_ADDRESS;
		bool *want = v4 ? &cp->want_ip4 : &cp->want_ip6;
		if (!addr_len_ok(len, v4 ? 4 : 17))
			return bad(cp, &cp->n_malformed, type, "wrong length");
		if (*want)
			return bad(cp, &cp->n_repeated, type, "repeated");
		*want = true;
		if (len && v4)
			set_addr(&cp->ip4, AF_INET, v);
		if (len && !v4) {
			set_addr(&cp->ip6, AF_INET6, v);
			cp->ip6_prefix = v[16];
		}
		return 0;
	}
	case INTERNAL_IP4_NETMASK:
		if (!addr_len_ok(len, 4))
			return bad(cp, &cp->n_malformed, type, "wrong length");
		if (cp->want_netmask)
			return bad(cp, &cp->n_repeated, type, "repeated");
		cp->want_netmask = true;
		if (len)
			set_addr(&cp->netmask, AF_INET, v);
		return 0;
	case INTERNAL_IP4_DNS:
	case INTERNAL_IP6_DNS: {
		bool v4 = type == INTERNAL_IP4_DNS;
		if (!addr_len_ok(len, v4 ? 4 : 16))
			return bad(cp, &cp->n_malformed, type, "wrong length");
		*(v4 ? &cp->want_dns4 : &cp->want_dns6) = true;
		if (len)
			add_server(cp->dns, &cp->n_dns, CP_MAX_SERVERS * 2, v4 ? AF_INET : AF_INET6, v);
		return 0;
	}
	case INTERNAL_IP4_NBNS:
		if (!addr_len_ok(len, 4))
			return bad(cp, &cp->n_malformed, type, "wrong length");
		cp->want_nbns = true;
		if (len)
			add_server(cp->nbns, &cp->n_nbns, CP_MAX_SERVERS, AF_INET, v);
		return 0;
	case INTERNAL_IP4_SUBNET:
	case INTERNAL_IP6_SUBNET: {
		bool v4 = type == INTERNAL_IP4_SUBNET;
		if (!addr_len_ok(len, v4 ? 8 : 17) || (!v4 && len && v[16] > 128))
			return bad(cp, &cp->n_malformed, type, "wrong length or prefix");
		*(v4 ? &cp->want_subnet4 : &cp->want_subnet6) = true;
		if (len && cp->n_subnets < CP_MAX_SUBNETS) {
			if (v4)
				subnet4(cp, v);
			else
				subnet6(cp, v);
		}
		return 0;
	}
	case INTERNAL_IP4_DHCP:
	case INTERNAL_IP6_DHCP:
	case APPLICATION_VERSION:
	case SUPPORTED_ATTRIBUTES:
		return 0;		/* known; tsunagi has nothing to say to them */
	}
	return bad(cp, &cp->n_unknown, type, "unknown");
}

int ikev2_cp_parse(const uint8_t *data, size_t len, struct ikev2_cp *cp, const char **err)
{
	memset(cp, 0, sizeof(*cp));
	struct rd r;
	rd_init(&r, data, len);
	cp->type = rd_u8(&r);
	rd_skip(&r, 3);
	if (r.err) {
		*err = "configuration payload shorter than its header";
		return -1;
	}
	while (rd_left(&r) > 0) {
		uint16_t type = rd_u16(&r) & 0x7fff;
		uint16_t alen = rd_u16(&r);
		const uint8_t *v = rd_bytes(&r, alen);
		if (r.err) {
			/* The rest cannot be framed: one malformed attribute, and stop. */
			bad(cp, &cp->n_malformed, type, "truncated");
			break;
		}
		attr(cp, type, v, alen);
	}
	return 0;
}

static void put_attr(struct ikev2_builder *k, uint16_t type, const void *v, size_t len)
{
	buf_put_u16(&k->b, type);
	buf_put_u16(&k->b, (uint16_t)len);
	buf_put(&k->b, v, len);
}

/* In a request: empty, or the hint; in a reply: the value (skipped when absent). */
static void put_addr_attr(struct ikev2_builder *k, uint16_t type, bool want,
			  const struct addr *a, bool reply)
{
	if (a->family)
		put_attr(k, type, a->u.b, addr_len(a));
	else if (want && !reply)
		put_attr(k, type, NULL, 0);
}

static void put_subnet(struct ikev2_builder *k, const struct selector *s)
{
	uint8_t v[17];
	int plen = selector_prefixlen(s);
	if (plen < 0)
		plen = (int)selector_common_prefix(s);
	if (s->family == AF_INET) {
		memcpy(v, s->lo, 4);
		for (int i = 0; i < 4; i++) {
			int b = plen - i * 8;
			v[4 + i] = b >= 8 ? 0xff : b <= 0 ? 0 : (uint8_t)(0xff << (8 - b));
		}
		put_attr(k, INTERNAL_IP4_SUBNET, v, 8);
	} else {
		memcpy(v, s->lo, 16);
		v[16] = (uint8_t)plen;
		put_attr(k, INTERNAL_IP6_SUBNET, v, 17);
	}
}

void ikb_cp(struct ikev2_builder *k, const struct ikev2_cp *cp)
{
	bool reply = cp->type != CFG_REQUEST;
	size_t off = ikb_begin(k, PL_CP, false);
	buf_put_u8(&k->b, cp->type);
	buf_put_zero(&k->b, 3);
	put_addr_attr(k, INTERNAL_IP4_ADDRESS, cp->want_ip4, &cp->ip4, reply);
	if (cp->ip6.family) {
		uint8_t v[17];
		memcpy(v, cp->ip6.u.b, 16);
		v[16] = cp->ip6_prefix;
		put_attr(k, INTERNAL_IP6_ADDRESS, v, 17);
	} else if (cp->want_ip6 && !reply) {
		put_attr(k, INTERNAL_IP6_ADDRESS, NULL, 0);
	}
	put_addr_attr(k, INTERNAL_IP4_NETMASK, cp->want_netmask, &cp->netmask, reply);
	for (size_t i = 0; i < cp->n_dns; i++)
		put_attr(k, cp->dns[i].family == AF_INET ? INTERNAL_IP4_DNS : INTERNAL_IP6_DNS,
			 cp->dns[i].u.b, addr_len(&cp->dns[i]));
	if (!reply && cp->want_dns4 && cp->n_dns == 0)
		put_attr(k, INTERNAL_IP4_DNS, NULL, 0);
	if (!reply && cp->want_dns6 && cp->n_dns == 0)
		put_attr(k, INTERNAL_IP6_DNS, NULL, 0);
	for (size_t i = 0; i < cp->n_nbns; i++)
		put_attr(k, INTERNAL_IP4_NBNS, cp->nbns[i].u.b, 4);
	for (size_t i = 0; i < cp->n_subnets; i++)
		put_subnet(k, &cp->subnets[i]);
	if (!reply && cp->want_subnet4 && cp->n_subnets == 0)
		put_attr(k, INTERNAL_IP4_SUBNET, NULL, 0);
	ikb_end(k, off);
}
