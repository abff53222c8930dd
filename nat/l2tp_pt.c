/* L2TP (UDP 1701, RFC 2661) pass-through through PAT. The public port stays 1701
 * for every client of one LNS (some LNSs and their firewalls expect it), and the
 * LNS's packets are told apart by the tunnel ID in their header: the client's own,
 * announced in the Assigned Tunnel ID AVP of its SCCRQ. A client whose SCCRQ was
 * not seen (its tunnel began before the gateway did) gets a plain UDP flow, on
 * 1701 if free, else another port. As for IKE (ipsec_pt.c), such a flow's k[1] is
 * a pseudo key {0, LNS, tunnel ID, 1701} and u.pt keeps the public address and the
 * tunnel ID. L2TP/IPsec is ESP or NAT-T and never gets here. */
#include "lib/buf.h"
#include "nat/nat_priv.h"

#define L2TP_T 0x8000	/* control message */
#define L2TP_L 0x4000	/* length field present */
#define L2TP_S 0x0800	/* Ns, Nr present */
#define L2TP_O 0x0200	/* offset size present */
#define AVP_MSG_TYPE 0
#define AVP_ASSIGNED_TUNNEL 9
#define MSG_SCCRQ 1

/* In the registry for its ports, `enabled = no` (L2TP then gets ordinary PAT
 * ports) and its counters; the translate step does its work (ipsec_pt.c). */
const struct nat_engine nat_l2tp_passthru = {
	.name = "l2tp",
	.protos = NAT_INSP_UDP,
	.ports = "1701",
};

/* Offset of the tunnel ID in an L2TPv2 header (l2tp: the UDP payload), 0 when
 * it is no L2TPv2 header. */
static size_t tunnel_off(const uint8_t *l2tp, size_t len)
{
	if (len < 6)
		return 0;
	uint16_t fl = get_u16(l2tp);
	if ((fl & 0x0f) != 2)
		return 0;
	size_t off = (fl & L2TP_L) ? 4 : 2;
	return off + 4 <= len ? off : 0;
}

bool l2tp_tunnel(const uint8_t *l4, size_t l4len, uint16_t *tid)
{
	if (l4len < 8)
		return false;
	size_t off = tunnel_off(l4 + 8, l4len - 8);
	if (!off)
		return false;
	*tid = get_u16(l4 + 8 + off);
	return *tid != 0;
}

bool l2tp_sccrq_tunnel(const uint8_t *l4, size_t l4len, uint16_t *tid)
{
	if (l4len < 8)
		return false;
	const uint8_t *m = l4 + 8;
	size_t len = l4len - 8;
	size_t off = tunnel_off(m, len);
	uint16_t fl = off ? get_u16(m) : 0;
	/* A control message: T, L and S set, no offset (RFC 2661 3.1). */
	if (!off || (fl & (L2TP_T | L2TP_L | L2TP_S | L2TP_O)) != (L2TP_T | L2TP_L | L2TP_S))
		return false;
	if (get_u16(m + 2) < len)
		len = get_u16(m + 2);
	bool sccrq = false;
	*tid = 0;
	for (size_t a = 12; a + 6 <= len;) {
		size_t alen = get_u16(m + a) & 0x3ff;
		bool hidden = get_u16(m + a) & 0x4000;
		if (alen < 6 || a + alen > len)
			return false;
		uint16_t vendor = get_u16(m + a + 2), type = get_u16(m + a + 4);
		if (vendor == 0 && !hidden && alen == 8) {
			if (type == AVP_MSG_TYPE)
				sccrq = get_u16(m + a + 6) == MSG_SCCRQ;
			else if (type == AVP_ASSIGNED_TUNNEL)
				*tid = get_u16(m + a + 6);
		}
		a += alen;
	}
	return sccrq && *tid;
}

struct nat_key l2tp_key(uint32_t lns, uint16_t tid)
{
	return (struct nat_key){ 0, lns, tid, NAT_L2TP_PORT };
}

uint32_t l2tp_find(struct nat_table *t, uint32_t lns, uint32_t pub, uint16_t tid)
{
	struct nat_key k = l2tp_key(lns, tid);
	int d;
	uint32_t i = flow_lookup(t, 17, &k, &d);
	if (i == NAT_NONE)
		return NAT_NONE;
	const struct flow *f = &t->flows[i];
	if (d != 1 || !(f->flags & FF_L2TP) || f->u.pt.pub != pub)
		return NAT_NONE;
	return i;
}
