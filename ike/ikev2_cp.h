/* The IKEv2 configuration payload (RFC 7296 3.15): CFG_REQUEST / CFG_REPLY with the
 * attributes a remote-access client and gateway exchange. Parsing is lenient by
 * attribute: an unknown, repeated or malformed attribute is skipped and counted (the
 * caller logs and counts it), never fatal; only a payload too short for its header
 * fails. IPv6 attributes are read (address, DNS, subnet) so that a dual-stack client
 * is answered cleanly. */
#ifndef TSUNAGI_IKEV2_CP_H
#define TSUNAGI_IKEV2_CP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/ikev2_msg.h"
#include "lib/addr.h"
#include "lib/selector.h"

enum cfg_type { CFG_REQUEST = 1, CFG_REPLY = 2, CFG_SET = 3, CFG_ACK = 4 };

enum cfg_attr {
	INTERNAL_IP4_ADDRESS = 1, INTERNAL_IP4_NETMASK = 2, INTERNAL_IP4_DNS = 3,
	INTERNAL_IP4_NBNS = 4, INTERNAL_IP4_DHCP = 6, APPLICATION_VERSION = 7,
	INTERNAL_IP6_ADDRESS = 8, INTERNAL_IP6_DNS = 10, INTERNAL_IP6_DHCP = 12,
	INTERNAL_IP4_SUBNET = 13, SUPPORTED_ATTRIBUTES = 14, INTERNAL_IP6_SUBNET = 15,
};

#define CP_MAX_SERVERS 4	/* DNS and NBNS addresses kept per family */
#define CP_MAX_SUBNETS 16

/* What one configuration payload says. In a request an attribute's presence is the
 * question ("want_*") and its value, if any, a hint (the address the client had). */
struct ikev2_cp {
	uint8_t type;			/* enum cfg_type */
	bool want_ip4, want_ip6, want_netmask, want_dns4, want_dns6, want_nbns;
	bool want_subnet4, want_subnet6;
	struct addr ip4, ip6;		/* family 0 when absent or empty */
	uint8_t ip6_prefix;
	struct addr netmask;
	struct addr dns[CP_MAX_SERVERS * 2];	/* both families, in order */
	size_t n_dns;
	struct addr nbns[CP_MAX_SERVERS];
	size_t n_nbns;
	struct selector subnets[CP_MAX_SUBNETS];
	size_t n_subnets;
	/* Skipped attributes, with the first one's type and why for the log line. */
	unsigned n_unknown, n_repeated, n_malformed;
	uint16_t bad_type;
	const char *bad_why;
};

/* Parses the body of a CP payload (after the generic header). -1 with err when it is
 * shorter than its 4-byte header; otherwise 0 and bad attributes counted in cp. */
int ikev2_cp_parse(const uint8_t *data, size_t len, struct ikev2_cp *cp, const char **err);
/* Appends a CP payload with what cp holds: for a CFG_REQUEST the wanted attributes
 * (empty, or with the hint address); for a CFG_REPLY the values. */
void ikb_cp(struct ikev2_builder *k, const struct ikev2_cp *cp);
const char *ikev2_cfg_attr_name(uint16_t type);
#endif
