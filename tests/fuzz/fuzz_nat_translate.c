/* Fuzzes the NAT translate step. An input is a sequence of packets, each
 *   [side: 1 byte, bit 0 = from outside] [time step in 10 ms: 1] [length: 2] [packet]
 * run through a fresh table (64 flows, so floods evict) with every kind of rule.
 * Whatever comes in: no read or write outside the packet, the length unchanged,
 * the table's invariants hold after every packet (nat_table_check), and a
 * forwarded packet whose IP header (and, when whole, whose TCP, UDP or
 * ICMP) checksum was right still has a right one. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/parser.h"
#include "lib/buf.h"
#include "nat/nat.h"
#include "nat/nat_priv.h"
#include "nat/nat_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char conf[] =
	"tsunagi { nat { inside = lan0\n outside = wan0\n rules {\n"
	" vpn { type = exempt\n private = 10.1.0.0/16\n remote = 10.99.0.0/16 }\n"
	" web { type = forward\n proto = tcp\n public = wan0\n public_port = 8080\n"
	"  private = 10.1.0.5\n private_port = 80 }\n"
	" dmz { type = static\n private = 10.1.9.0/24\n public = 198.51.100.0/24 }\n"
	" dyn { type = dynamic\n private = 10.1.3.0/24\n public = 192.0.2.10-192.0.2.11 }\n"
	" lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n";

static struct nat_rules *load(void)
{
	char err[256];
	struct ctree *t = conf_parse_string(conf, "fuzz.conf", err, sizeof(err));
	struct config *cfg = t ? config_build(t, err, sizeof(err)) : NULL;
	ctree_free(t);
	if (!cfg || !cfg->daemon.nat)
		abort();
	struct nat_rules *r = cfg->daemon.nat;
	cfg->daemon.nat = NULL;
	config_free(cfg);
	nat_rules_set_iface_addr(r, "lan0", 0x0a010001);	/* 10.1.0.1 */
	nat_rules_set_iface_addr(r, "wan0", 0xcb007101);	/* 203.0.113.1 */
	return r;
}

static uint16_t sum(const uint8_t *d, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += i & 1 ? d[i] : (uint32_t)d[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* 1 = right, 0 = wrong, -1 = not checkable (not IPv4, cut, a fragment). */
static int ip_ok(const uint8_t *p, size_t len)
{
	if (len < 20 || p[0] >> 4 != 4 || (size_t)(p[0] & 15) * 4 > len || (p[0] & 15) < 5)
		return -1;
	return sum(p, (size_t)(p[0] & 15) * 4, 0) == 0;
}

static int l4_ok(const uint8_t *p, size_t len)
{
	if (ip_ok(p, len) < 0)
		return -1;
	size_t hl = (size_t)(p[0] & 15) * 4, tot = get_u16(p + 2);
	if (tot != len || tot < hl + 8 || (get_u16(p + 6) & 0x3fff))
		return -1;
	const uint8_t *l4 = p + hl;
	size_t n = tot - hl;
	uint32_t pseudo = get_u16(p + 12) + get_u16(p + 14) + get_u16(p + 16) + get_u16(p + 18) +
			  p[9] + (uint32_t)n;
	switch (p[9]) {
	case 1: return sum(l4, n, 0) == 0;
	case 6: return n >= 20 ? sum(l4, n, pseudo) == 0 : -1;
	case 17: return get_u16(l4 + 6) == 0 || sum(l4, n, pseudo) == 0;
	default: return -1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nat_rules *rules;
	if (!rules)
		rules = load();
	struct nat_table *t = nat_table_new(rules, 64);
	uint64_t now = 0;
	while (size >= 4) {
		enum nat_side side = data[0] & 1 ? NAT_FROM_OUTSIDE : NAT_FROM_INSIDE;
		now += (uint64_t)data[1] * 10;
		size_t len = get_u16(data + 2);
		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		/* An exactly sized heap copy, so that ASan sees any overrun. */
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, data, len);
		data += len;
		size -= len;
		int ip_before = ip_ok(p, len), l4_before = l4_ok(p, len);
		struct nat_packet np = { p, len, len, false };
		enum nat_verdict v = nat_translate(t, &np, side, now);
		/* Only an inspection engine changes the length: never past the cap. */
		if (np.len > len || (np.len != len && !np.changed))
			abort();
		if (v == NAT_FORWARD && ip_before == 1 && ip_ok(p, np.len) != 1)
			abort();
		if (v == NAT_FORWARD && l4_before == 1 && l4_ok(p, np.len) != 1)
			abort();
		free(p);
		if (data[-1] == 0xee)
			nat_expire(t, now);
		if (nat_table_check(t) < 0)
			abort();
	}
	nat_table_free(t);
	return 0;
}
