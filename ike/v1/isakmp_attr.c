/* The ISAKMP Attribute payload (see isakmp_attr.h). Every length is checked against
 * its container by the rd_ reader before anything is read. */
#include <string.h>

#include "ike/v1/isakmp_attr.h"

struct attr_info {
	uint16_t type;
	const char *name;
	bool multi;	/* may appear more than once */
};

static const struct attr_info attr_table[] = {
	{ CFG_INTERNAL_IP4_ADDRESS, "INTERNAL_IP4_ADDRESS", false },
	{ CFG_INTERNAL_IP4_NETMASK, "INTERNAL_IP4_NETMASK", false },
	{ CFG_INTERNAL_IP4_DNS, "INTERNAL_IP4_DNS", true },
	{ CFG_INTERNAL_IP4_NBNS, "INTERNAL_IP4_NBNS", true },
	{ CFG_INTERNAL_ADDRESS_EXPIRY, "INTERNAL_ADDRESS_EXPIRY", false },
	{ CFG_INTERNAL_IP4_DHCP, "INTERNAL_IP4_DHCP", true },
	{ CFG_APPLICATION_VERSION, "APPLICATION_VERSION", false },
	{ CFG_INTERNAL_IP6_ADDRESS, "INTERNAL_IP6_ADDRESS", false },
	{ CFG_INTERNAL_IP6_NETMASK, "INTERNAL_IP6_NETMASK", false },
	{ CFG_INTERNAL_IP6_DNS, "INTERNAL_IP6_DNS", true },
	{ CFG_INTERNAL_IP6_NBNS, "INTERNAL_IP6_NBNS", true },
	{ CFG_INTERNAL_IP6_DHCP, "INTERNAL_IP6_DHCP", true },
	{ CFG_INTERNAL_IP4_SUBNET, "INTERNAL_IP4_SUBNET", true },
	{ CFG_SUPPORTED_ATTRIBUTES, "SUPPORTED_ATTRIBUTES", false },
	{ CFG_INTERNAL_IP6_SUBNET, "INTERNAL_IP6_SUBNET", true },
	{ XAUTH_TYPE, "XAUTH_TYPE", false },
	{ XAUTH_USER_NAME, "XAUTH_USER_NAME", false },
	{ XAUTH_USER_PASSWORD, "XAUTH_USER_PASSWORD", false },
	{ XAUTH_PASSCODE, "XAUTH_PASSCODE", false },
	{ XAUTH_MESSAGE, "XAUTH_MESSAGE", false },
	{ XAUTH_CHALLENGE, "XAUTH_CHALLENGE", false },
	{ XAUTH_DOMAIN, "XAUTH_DOMAIN", false },
	{ XAUTH_STATUS, "XAUTH_STATUS", false },
	{ XAUTH_NEXT_PIN, "XAUTH_NEXT_PIN", false },
	{ XAUTH_ANSWER, "XAUTH_ANSWER", false },
	{ UNITY_BANNER, "UNITY_BANNER", false },
	{ UNITY_SAVE_PASSWD, "UNITY_SAVE_PASSWD", false },
	{ UNITY_DEF_DOMAIN, "UNITY_DEF_DOMAIN", false },
	{ UNITY_SPLITDNS_NAME, "UNITY_SPLITDNS_NAME", true },
	{ UNITY_SPLIT_INCLUDE, "UNITY_SPLIT_INCLUDE", true },
	{ UNITY_NATT_PORT, "UNITY_NATT_PORT", false },
	{ UNITY_LOCAL_LAN, "UNITY_LOCAL_LAN", true },
	{ UNITY_PFS, "UNITY_PFS", false },
	{ UNITY_FW_TYPE, "UNITY_FW_TYPE", false },
	{ UNITY_BACKUP_SERVERS, "UNITY_BACKUP_SERVERS", false },
	{ UNITY_DDNS_HOSTNAME, "UNITY_DDNS_HOSTNAME", false },
};

static const struct attr_info *info_of(uint16_t type)
{
	for (size_t i = 0; i < sizeof(attr_table) / sizeof(attr_table[0]); i++)
		if (attr_table[i].type == type)
			return &attr_table[i];
	return NULL;
}

bool isakmp_cfg_attr_known(uint16_t type)
{
	return info_of(type) != NULL;
}

bool isakmp_cfg_attr_multi(uint16_t type)
{
	const struct attr_info *i = info_of(type);
	return i && i->multi;
}

const char *isakmp_cfg_attr_name(uint16_t type)
{
	const struct attr_info *i = info_of(type);
	return i ? i->name : "UNKNOWN_ATTRIBUTE";
}

const char *isakmp_cfg_type_name(uint8_t type)
{
	switch (type) {
	case ISAKMP_CFG_REQUEST: return "CFG_REQUEST";
	case ISAKMP_CFG_REPLY: return "CFG_REPLY";
	case ISAKMP_CFG_SET: return "CFG_SET";
	case ISAKMP_CFG_ACK: return "CFG_ACK";
	}
	return "CFG_UNKNOWN";
}

/* Counts an unknown attribute or a second one of a single-valued type. */
static void note(struct isakmp_cfg *c, const struct isakmp_attr *a)
{
	if (!isakmp_cfg_attr_known(a->type)) {
		if (c->n_unknown++ == 0)
			c->first_unknown = a->type;
		return;
	}
	if (isakmp_cfg_attr_multi(a->type) || !isakmp_cfg_find(c, a->type))
		return;
	if (c->n_repeated++ == 0)
		c->first_repeated = a->type;
}

int isakmp_cfg_parse(const uint8_t *body, size_t len, struct isakmp_cfg *c, const char **err)
{
	struct rd r;
	struct isakmp_attr a;
	memset(c, 0, sizeof(*c));
	*err = NULL;
	rd_init(&r, body, len);
	c->type = rd_u8(&r);
	(void)rd_u8(&r);
	c->id = rd_u16(&r);
	if (r.err) {
		*err = "attribute payload shorter than its 4-byte header";
		return -1;
	}
	if (c->type < ISAKMP_CFG_REQUEST || c->type > ISAKMP_CFG_ACK) {
		*err = "unknown attribute payload type";
		return -1;
	}
	while (isakmp_next_attr(&r, &a)) {
		if (c->n_attrs == ISAKMP_CFG_MAX_ATTRS) {
			*err = "too many attributes";
			return -1;
		}
		if (!a.basic && a.len > ISAKMP_CFG_MAX_ATTR_LEN) {
			*err = "attribute too long";
			return -1;
		}
		note(c, &a);
		c->attrs[c->n_attrs++] = a;
	}
	if (r.err) {
		*err = "truncated attribute";
		return -1;
	}
	return 0;
}

const struct isakmp_attr *isakmp_cfg_find(const struct isakmp_cfg *c, uint16_t type)
{
	for (size_t i = 0; i < c->n_attrs; i++)
		if (c->attrs[i].type == type)
			return &c->attrs[i];
	return NULL;
}

size_t isb_cfg_begin(struct isakmp_builder *k, uint8_t type, uint16_t id)
{
	size_t off = isb_begin(k, ISAKMP_PL_ATTR);
	buf_put_u8(&k->b, type);
	buf_put_u8(&k->b, 0);
	buf_put_u16(&k->b, id);
	return off;
}
