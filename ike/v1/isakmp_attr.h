/* The ISAKMP Attribute payload (14) of the Transaction exchange (6), which XAuth
 * (draft-ietf-ipsec-isakmp-xauth-06) and Mode Config (draft-dukes-ike-mode-cfg-02)
 * share:
 *   Type (1: REQUEST, 2: REPLY, 3: SET, 4: ACK) | RESERVED | Identifier (2) | attributes
 * The attributes are ISAKMP data attributes (basic TV or variable TLV); in a REQUEST
 * or an ACK the variable ones are empty. Parsing fills a flat view whose pointers point
 * into the caller's buffer; unknown attributes and repeats of single-valued ones are
 * counted, not fatal: the caller logs them (their first type is kept for the line). */
#ifndef TSUNAGI_ISAKMP_ATTR_H
#define TSUNAGI_ISAKMP_ATTR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/v1/isakmp_msg.h"

enum isakmp_cfg_type {
	ISAKMP_CFG_REQUEST = 1, ISAKMP_CFG_REPLY = 2, ISAKMP_CFG_SET = 3, ISAKMP_CFG_ACK = 4,
};

/* Mode Config (draft-dukes-ike-mode-cfg-02 3.2), XAuth (xauth-06 6.1) and the Cisco
 * Unity attributes strongSwan's unity plugin knows. */
enum isakmp_cfg_attr {
	CFG_INTERNAL_IP4_ADDRESS = 1, CFG_INTERNAL_IP4_NETMASK = 2, CFG_INTERNAL_IP4_DNS = 3,
	CFG_INTERNAL_IP4_NBNS = 4, CFG_INTERNAL_ADDRESS_EXPIRY = 5, CFG_INTERNAL_IP4_DHCP = 6,
	CFG_APPLICATION_VERSION = 7, CFG_INTERNAL_IP6_ADDRESS = 8, CFG_INTERNAL_IP6_NETMASK = 9,
	CFG_INTERNAL_IP6_DNS = 10, CFG_INTERNAL_IP6_NBNS = 11, CFG_INTERNAL_IP6_DHCP = 12,
	CFG_INTERNAL_IP4_SUBNET = 13, CFG_SUPPORTED_ATTRIBUTES = 14, CFG_INTERNAL_IP6_SUBNET = 15,
	XAUTH_TYPE = 16520, XAUTH_USER_NAME = 16521, XAUTH_USER_PASSWORD = 16522,
	XAUTH_PASSCODE = 16523, XAUTH_MESSAGE = 16524, XAUTH_CHALLENGE = 16525,
	XAUTH_DOMAIN = 16526, XAUTH_STATUS = 16527, XAUTH_NEXT_PIN = 16528, XAUTH_ANSWER = 16529,
	UNITY_BANNER = 28672, UNITY_SAVE_PASSWD = 28673, UNITY_DEF_DOMAIN = 28674,
	UNITY_SPLITDNS_NAME = 28675, UNITY_SPLIT_INCLUDE = 28676, UNITY_NATT_PORT = 28677,
	UNITY_LOCAL_LAN = 28678, UNITY_PFS = 28679, UNITY_FW_TYPE = 28680,
	UNITY_BACKUP_SERVERS = 28681, UNITY_DDNS_HOSTNAME = 28682,
};

#define XAUTH_TYPE_GENERIC 0	/* XAUTH_TYPE value: user name and password */
#define ISAKMP_CFG_MAX_ATTRS 32
/* The longest variable attribute taken (a banner, a split-include list of 73 nets). */
#define ISAKMP_CFG_MAX_ATTR_LEN 1024

struct isakmp_cfg {
	uint8_t type;		/* enum isakmp_cfg_type */
	uint16_t id;		/* Identifier: a REPLY/ACK echoes its REQUEST/SET's */
	struct isakmp_attr attrs[ISAKMP_CFG_MAX_ATTRS];
	size_t n_attrs;
	unsigned n_unknown, n_repeated;		/* kept in attrs all the same */
	uint16_t first_unknown, first_repeated;
};

/* Parses an Attribute payload body (struct isakmp_payloads.attr). -1 (err set) if it
 * is truncated, of an unknown type, has more than ISAKMP_CFG_MAX_ATTRS attributes or
 * one longer than ISAKMP_CFG_MAX_ATTR_LEN. */
int isakmp_cfg_parse(const uint8_t *body, size_t len, struct isakmp_cfg *c, const char **err);
/* The first attribute of that type, or NULL. */
const struct isakmp_attr *isakmp_cfg_find(const struct isakmp_cfg *c, uint16_t type);
/* Is it a type we know, and may it appear more than once (DNS servers, subnets)? */
bool isakmp_cfg_attr_known(uint16_t type);
bool isakmp_cfg_attr_multi(uint16_t type);
const char *isakmp_cfg_attr_name(uint16_t type);
const char *isakmp_cfg_type_name(uint8_t type);

/* Starts an Attribute payload; add attributes with isb_attr_basic/var(&k->b, ...),
 * then isb_end(k, off). */
size_t isb_cfg_begin(struct isakmp_builder *k, uint8_t type, uint16_t id);
#endif
