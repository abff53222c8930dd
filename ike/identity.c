/* IKE identities (RFC 7296 3.5) from strongSwan's string notation:
 * "198.51.100.2" -> IPv4, "2001:db8::1" -> IPv6, "@site-a.example" or "site-a.example" ->
 * FQDN, "user@example.net" -> RFC822 (USER_FQDN), "@#0a0b" -> KEY_ID (hex),
 * "C=CH, O=Example, CN=moon" -> DER_ASN1_DN. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ike/ike_private.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

static int set_data(struct identity *id, uint8_t type, const void *data, size_t len)
{
	if (len > IKE_MAX_ID)
		return -1;
	id->type = type;
	id->len = (uint16_t)len;
	memcpy(id->data, data, len);
	return 0;
}

int identity_from_string(const char *s, struct identity *id)
{
	struct addr a;
	memset(id, 0, sizeof(*id));
	if (addr_parse(s, &a) == 0) {
		identity_from_addr(&a, id);
		return 0;
	}
	if (s[0] == '@' && s[1] == '#') {
		size_t n = strlen(s + 2);
		if (n % 2 || n / 2 > IKE_MAX_ID)
			return -1;
		id->type = ID_KEY_ID;
		id->len = (uint16_t)(n / 2);
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
			if (hi < 0 || lo < 0)
				return -1;
			id->data[i] = (uint8_t)(hi << 4 | lo);
		}
		return 0;
	}
	if (s[0] == '@')
		return set_data(id, ID_FQDN, s + 1, strlen(s + 1));
	if (strchr(s, '=')) {
		size_t n;
		if (dn_from_string(s, id->data, IKE_MAX_ID, &n) < 0)
			return -1;
		id->type = ID_DER_ASN1_DN;
		id->len = (uint16_t)n;
		return 0;
	}
	if (strchr(s, '@'))
		return set_data(id, ID_RFC822_ADDR, s, strlen(s));
	return set_data(id, ID_FQDN, s, strlen(s));
}

void identity_from_addr(const struct addr *a, struct identity *id)
{
	memset(id, 0, sizeof(*id));
	set_data(id, a->family == AF_INET ? ID_IPV4_ADDR : ID_IPV6_ADDR, a->u.b, addr_len(a));
}

void identity_from_payload(const struct ikev2_id *p, struct identity *id)
{
	memset(id, 0, sizeof(*id));
	/* A longer identity than we keep would be cut and could then equal another:
	 * it becomes no identity at all (type 0), which no configured id matches. */
	if (p->len > IKE_MAX_ID)
		return;
	set_data(id, p->type, p->data, p->len);
}

bool identity_equal(const struct identity *a, const struct identity *b)
{
	if (a->type == ID_DER_ASN1_DN && b->type == ID_DER_ASN1_DN)
		return dn_equal(a->data, a->len, b->data, b->len);
	return a->type == b->type && a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* strongSwan's wildcards: "*.example.net" or "*@example.net" (any prefix of an FQDN
 * or email of the same type) and "C=CH, O=Example, CN=*" (any value of an RDN). */
static bool matches_wildcard(const struct identity *want, const struct identity *id)
{
	if (want->type != id->type)
		return false;
	if (want->type == ID_DER_ASN1_DN)
		return dn_matches(want->data, want->len, id->data, id->len);
	if ((want->type != ID_FQDN && want->type != ID_RFC822_ADDR) || want->len == 0 ||
	    want->data[0] != '*' || memchr(want->data + 1, '*', want->len - 1))
		return false;
	size_t tail = want->len - 1u;
	return id->len >= tail &&
	       strncasecmp((const char *)id->data + id->len - tail, (const char *)want->data + 1,
			   tail) == 0;
}

bool identity_has_wildcard(const char *cfg_id)
{
	return cfg_id && strchr(cfg_id, '*') != NULL;
}

bool identity_matches_cfg(const char *cfg_id, const struct identity *id)
{
	struct identity want;
	if (!cfg_id || strcmp(cfg_id, "%any") == 0)
		return true;
	if (identity_from_string(cfg_id, &want) < 0)
		return false;
	if (identity_has_wildcard(cfg_id))
		return matches_wildcard(&want, id);
	return identity_equal(&want, id);
}

const char *identity_fmt(const struct identity *id, char *out, size_t outlen)
{
	struct addr a = { 0 };
	switch (id->type) {
	case ID_IPV4_ADDR:
	case ID_IPV6_ADDR:
		if (id->len != (id->type == ID_IPV4_ADDR ? 4 : 16))
			break;
		a.family = id->type == ID_IPV4_ADDR ? AF_INET : AF_INET6;
		memcpy(a.u.b, id->data, id->len);
		return addr_ntop(&a, out, outlen);
	case ID_FQDN:
	case ID_RFC822_ADDR: {
		/* Print only what is printable: peers send anything. */
		size_t n = 0;
		for (size_t i = 0; i < id->len && n + 1 < outlen; i++)
			out[n++] = isprint(id->data[i]) ? (char)id->data[i] : '?';
		out[n < outlen ? n : outlen - 1] = '\0';
		return out;
	}
	case ID_DER_ASN1_DN:
		return dn_fmt(id->data, id->len, out, outlen);
	case ID_KEY_ID: {
		size_t n = snprintf(out, outlen, "@#");
		for (size_t i = 0; i < id->len && n + 3 <= outlen; i++)
			n += (size_t)snprintf(out + n, outlen - n, "%02x", id->data[i]);
		return out;
	}
	}
	snprintf(out, outlen, "(id type %u, %u bytes)", id->type, id->len);
	return out;
}
