/* Traffic selectors: an address range, an IP protocol and a port range, as IKEv2's
 * TS payload carries them and as the SPD matches packets. Shared by conf/ (local_ts,
 * remote_ts), ike/ (TS payloads, narrowing) and esp/ (policy lookup, inner checks). */
#ifndef TSUNAGI_SELECTOR_H
#define TSUNAGI_SELECTOR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

struct selector {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t proto;		/* 0 = any */
	uint16_t port_lo, port_hi;	/* 0..65535 = any */
	uint8_t lo[16], hi[16];	/* inclusive address range, network order */
};

#define SELECTOR_STRLEN 128

/* Parses strongSwan's notation: "10.1.0.0/16", "10.1.0.5", "0.0.0.0/0",
 * "10.1.0.0/16[tcp/80]", "10.1.0.1-10.1.0.9", "::/0[udp]", "10.0.0.0/8[17/500-510]".
 * Returns 0 or -1. ("dynamic" is resolved by the caller.) */
int selector_parse(const char *s, struct selector *sel);
/* Host selector for one address (a /32 or /128). */
void selector_from_addr(struct selector *sel, const struct addr *a);
/* Formats as strongSwan prints: "10.1.0.0/16", "10.1.0.0/16[tcp/80]",
 * ranges that are not a prefix as "a..b". */
const char *selector_fmt(const struct selector *sel, char *out, size_t outlen);
/* The intersection of a and b (for narrowing); false if empty. */
bool selector_intersect(const struct selector *a, const struct selector *b,
			struct selector *out);
/* Is a contained in b? */
bool selector_within(const struct selector *a, const struct selector *b);
bool selector_equal(const struct selector *a, const struct selector *b);
/* Does the packet (addresses in network order, ports host order) match? */
bool selector_match(const struct selector *sel, uint8_t family, const uint8_t *addr,
		    uint8_t proto, uint16_t port);
/* Bits of the address that are the same over the whole range: the length of the
 * smallest prefix covering it. */
unsigned selector_common_prefix(const struct selector *sel);
/* If the range is a prefix, its length; else -1. */
int selector_prefixlen(const struct selector *sel);
#endif
