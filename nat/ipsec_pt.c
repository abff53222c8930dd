/* IKE/ESP pass-through: several inside IPsec clients behind one PAT address,
 * while tsunagid terminates its own tunnels on that address.
 *
 * IKE (UDP 500 -> 500) keeps source port 500 on the public address, since many
 * servers insist on it, so two clients of one server share one outside 5-tuple
 * (and tsunagid's own IKE may share it too). Their flows are told apart on the
 * way back by the IKE initiator SPI, which every IKEv1 and IKEv2 header carries
 * in the clear: such a flow's k[1] is a pseudo key {0, server, fold(SPI, pub)}
 * (no real packet has source 0) and u.pt keeps the public address and the whole
 * SPI. A datagram server:500 -> pub:500 whose SPI is no client's is the
 * gateway's own (NAT_LOCAL), so tsunagid's IKE is never taken.
 *
 * Raw ESP (protocol 50) has no ports: each direction of an SA is a flow keyed by
 * its SPI (hi:lo in sport:dport, mirrored in k[0] like a port pair). The
 * outbound SPI is seen in the client's own packets. The inbound SPI is learned
 * from the server's first ESP packet to the public address with an unknown SPI:
 * it goes to the inside client that most recently did IKE with that server
 * through that address (the "anchor", a proto-0 pseudo-flow {server, pub, 0, 0}
 * / {server, pub, 0, 1}; ESP SPIs below 256 never appear on the wire).
 * Each IKE packet of the client lets the anchor learn up to ESP_LEARN_MAX SPIs
 * (a CREATE_CHILD_SA brings one or two): someone outside who spoofs the server
 * cannot fill the table with SPIs of their own choosing.
 * Limits, as with Cisco's and Juniper's ESP pass-through: two clients finishing
 * IKE with one server at the same moment may get each other's inbound SA (the
 * later IKE wins), and a new inbound SPI of tsunagid's own SA with a server that
 * a client did IKE with in the last UDP timeout is taken for that client.
 *
 * NAT-T (UDP 4500) is plain UDP on another public port: NAT-T peers accept any
 * (that is what NAT-T is for), and public:4500 stays tsunagid's alone, so its
 * own ESP in UDP never passes the NAT queue (daemon/nat_io.c) nor can be taken. */
#include <string.h>

#include "lib/buf.h"
#include "nat/nat_priv.h"

#define ESP_LEARN_MAX 4	/* inbound SPIs learned per IKE packet of the client */

/* In the registry for its ports (a datagram with both ports among them is IKE),
 * `enabled = no` (IKE then gets an ordinary PAT port and raw ESP is not learned,
 * like a PIX without ipsec-pass-thru: NAT-T clients still work) and its counters.
 * The translate step does its work: the flows are keyed by SPI, not edited. */
const struct nat_engine nat_ike_passthru = {
	.name = "ike",
	.protos = NAT_INSP_UDP,
	.ports = "500",
};

bool ipsec_ike_spi(const uint8_t *l4, size_t l4len, uint32_t spi[2])
{
	if (l4len < 8 + 8)
		return false;
	spi[0] = get_u32(l4 + 8);
	spi[1] = get_u32(l4 + 12);
	return spi[0] || spi[1];
}

struct nat_key ipsec_ike_key(const struct nat_table *t, uint32_t server, uint32_t pub,
    const uint32_t spi[2])
{
	struct nat_key h = { spi[0] ^ pub, spi[1], 0, 0 };
	uint32_t x = nat_hash(t, NAT_IKE_PORT & 0xff, &h);
	return (struct nat_key){ 0, server, (uint16_t)(x >> 16), (uint16_t)x };
}

uint32_t ipsec_ike_find(struct nat_table *t, uint32_t server, uint32_t pub,
    const uint32_t spi[2])
{
	struct nat_key k = ipsec_ike_key(t, server, pub, spi);
	int d;
	uint32_t i = flow_lookup(t, 17, &k, &d);
	if (i == NAT_NONE)
		return NAT_NONE;
	const struct flow *f = &t->flows[i];
	if (d != 1 || !(f->flags & FF_IKE) || f->u.pt.pub != pub ||
	    f->u.pt.spi[0] != spi[0] || f->u.pt.spi[1] != spi[1])
		return NAT_NONE;	/* a fold collision: not this SA */
	return i;
}

void ipsec_anchor_touch(struct nat_table *t, uint32_t server, uint32_t pub, uint32_t client,
    uint16_t rule, uint64_t now_ms)
{
	struct nat_key k0 = { server, pub, 0, 1 }, k1 = { server, pub, 0, 0 };
	uint32_t i = flow_lookup(t, 0, &k1, NULL);
	if (i == NAT_NONE && (i = flow_new(t, 0, &k0, &k1, now_ms)) == NAT_NONE)
		return;	/* table full: raw ESP will not be learned for this one */
	struct flow *f = &t->flows[i];
	f->u.pt.pub = 0;	/* aliases refs: an anchor holds nothing */
	f->u.pt.client = client;
	f->u.pt.spi[0] = ESP_LEARN_MAX;	/* an anchor's learning budget */
	f->rule = rule;
	f->gen = t->gen;
	flow_touch(t, f, now_ms);
}

uint32_t ipsec_anchor_client(struct nat_table *t, uint32_t server, uint32_t pub,
    uint64_t now_ms, uint16_t *rule)
{
	struct nat_key k1 = { server, pub, 0, 0 };
	uint32_t i = flow_lookup(t, 0, &k1, NULL);
	if (i == NAT_NONE)
		return 0;
	struct flow *f = &t->flows[i];
	if (f->gen != t->gen || now_ms >= f->last_ms + flow_timeout_ms(t, FC_UDP) ||
	    !f->u.pt.spi[0])
		return 0;	/* stale, from rules since replaced, or learned enough */
	f->u.pt.spi[0]--;
	*rule = f->rule;
	return f->u.pt.client;
}
