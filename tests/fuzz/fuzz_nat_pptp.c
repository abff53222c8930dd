/* Fuzzes the PPTP engine (nat/alg_pptp.c) and its GRE. Two inside clients open
 * a control connection each to one server through PAT (handshakes made here);
 * then an input is a sequence of records
 *   [what: 1 byte] [length: 1 byte] [payload]
 * what bit 0: from the server (else the client), bit 1: client B (else A),
 * bit 2: GRE (the payload is the GRE header and data) instead of a control
 * segment (the payload is its TCP data, seq and ack kept right here), bit 3:
 * expire flows after it, bits 2 and 3: an ICMP error (fragmentation needed)
 * from that end quoting such GRE as that end got it, bits 4-7: time step in
 * seconds. Whatever comes in: no
 * read or write outside the packet, lengths kept, checksums right after
 * forwarding, the table's invariants after every packet. */
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

#define GW 0xcb007101u		/* 203.0.113.1 */
#define SRV 0xc6120007u		/* 198.18.0.7 */

static const char conf[] =
	"tsunagi { nat { inside = lan0\n outside = wan0\n rules {\n"
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
	nat_rules_set_iface_addr(r, "lan0", 0x0a010001);
	nat_rules_set_iface_addr(r, "wan0", GW);
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

static void ip_hdr(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, size_t tot)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)tot);
	p[8] = 64;
	p[9] = proto;
	put_u32(p + 12, src);
	put_u32(p + 16, dst);
	put_u16(p + 10, sum(p, 20, 0));
}

static uint16_t tcp_sum(const uint8_t *p, size_t tot)
{
	uint32_t ps = get_u16(p + 12) + get_u16(p + 14) + get_u16(p + 16) + get_u16(p + 18) + 6 +
		      (uint32_t)(tot - 20);
	return sum(p + 20, tot - 20, ps);
}

struct conn {
	uint32_t host;
	uint16_t port, pub;
	uint32_t seq[2];
};

static size_t segment(uint8_t *p, struct conn *c, int dir, uint8_t flags, const uint8_t *pay,
    size_t n)
{
	size_t tot = 40 + n;
	ip_hdr(p, dir ? SRV : c->host, dir ? GW : SRV, 6, tot);
	uint8_t *t = p + 20;
	memset(t, 0, 20);
	put_u16(t, dir ? 1723 : c->port);
	put_u16(t + 2, dir ? c->pub : 1723);
	put_u32(t + 4, c->seq[dir]);
	put_u32(t + 8, c->seq[!dir]);
	t[12] = 5 << 4;
	t[13] = flags;
	put_u16(t + 14, 65535);
	if (n)
		memcpy(t + 20, pay, n);
	put_u16(t + 16, tcp_sum(p, tot));
	c->seq[dir] += (uint32_t)n + ((flags & 0x03) ? 1 : 0);
	return tot;
}

static enum nat_verdict run(struct nat_table *t, uint8_t *buf, size_t len, int dir,
    uint64_t now)
{
	/* An exactly sized heap copy, so that ASan sees any overrun. */
	uint8_t *p = malloc(len);
	memcpy(p, buf, len);
	bool tcp_ok = p[9] == 6 && tcp_sum(p, len) == 0;
	bool icmp_ok = p[9] == 1 && sum(p + 20, len - 20, 0) == 0;
	struct nat_packet np = { p, len, len, false };
	enum nat_verdict v = nat_translate(t, &np, dir ? NAT_FROM_OUTSIDE : NAT_FROM_INSIDE, now);
	if (np.len != len)
		abort();
	if (v == NAT_FORWARD && (sum(p, 20, 0) != 0 || (tcp_ok && tcp_sum(p, len) != 0) ||
	    (icmp_ok && sum(p + 20, len - 20, 0) != 0)))
		abort();
	memcpy(buf, p, len);
	free(p);
	if (nat_table_check(t) < 0)
		abort();
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nat_rules *rules;
	uint8_t buf[48 + 20 + 256];
	if (!rules)
		rules = load();
	struct nat_table *t = nat_table_new(rules, 64);
	struct conn c[2] = { { 0x0a010007, 1025, 0, { 1000, 5000 } },
			     { 0x0a010008, 1025, 0, { 1000, 5000 } } };
	uint64_t now = 1000;
	for (int i = 0; i < 2; i++) {
		size_t n = segment(buf, &c[i], 0, 0x02, NULL, 0);
		run(t, buf, n, 0, now);
		c[i].pub = get_u16(buf + 20);
		n = segment(buf, &c[i], 1, 0x12, NULL, 0);
		run(t, buf, n, 1, now);
	}
	while (size >= 2) {
		uint8_t what = data[0];
		size_t n = data[1] < size - 2 ? data[1] : size - 2;
		const uint8_t *pay = data + 2;
		data += 2 + n;
		size -= 2 + n;
		int dir = what & 1;
		struct conn *cn = &c[(what >> 1) & 1];
		now += (uint64_t)(what >> 4) * 1000;
		size_t len;
		if ((what & 12) == 12) {
			/* The quote: GRE as this end got it (from the other end, translated). */
			len = 48 + n;
			ip_hdr(buf, dir ? SRV : cn->host, dir ? GW : SRV, 1, len);
			ip_hdr(buf + 28, dir ? GW : SRV, dir ? SRV : cn->host, 47, 20 + n);
			memset(buf + 20, 0, 8);
			buf[20] = 3;
			buf[21] = 4;
			memcpy(buf + 48, pay, n);
			put_u16(buf + 22, sum(buf + 20, len - 20, 0));
			run(t, buf, len, dir, now);
			continue;
		}
		if (what & 4) {
			len = 20 + n;
			ip_hdr(buf, dir ? SRV : cn->host, dir ? GW : SRV, 47, len);
			memcpy(buf + 20, pay, n);
		} else {
			len = segment(buf, cn, dir, 0x18, pay, n);
		}
		run(t, buf, len, dir, now);
		if (what & 8)
			nat_expire(t, now);
	}
	nat_table_free(t);
	return 0;
}
