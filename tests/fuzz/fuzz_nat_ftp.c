/* Fuzzes the FTP engine through the translate step. The first byte picks
 * lenient or strict mode; then a sequence of
 *   [op: 1 byte] [length: 1] [payload]
 * op bit 0: the outside end speaks (else the inside end); bit 1: the control
 * connection is the inbound one (outside client, inside server behind the
 * forward on 21), else the outbound one (inside client, outside server); bit
 * 2: instead of a segment, a SYN from outside to the public port in the
 * payload's first two bytes (a pinhole's data connection); bit 3: nat_expire
 * after it; bits 4-7: time step in seconds. Segments carry running sequence
 * numbers, so deltas pile up. Whatever comes in: no access outside the buffer
 * (exactly sized: the packet may grow only up to its cap), a forwarded
 * segment's checksums are right, the table's invariants hold. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "nat/nat.h"
#include "nat/nat_priv.h"
#include "tests/unit/nat_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONF(strict) \
	"tsunagi { nat { inside = lan0\n outside = wan0\n" \
	" inspect { ftp { ports = 21\n strict = " strict " } }\n rules {\n" \
	" ftp { type = forward\n proto = tcp\n public = wan0\n public_port = 21\n" \
	"  private = 10.1.0.5\n private_port = 21 }\n" \
	" lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n"

#define ROOM 64	/* bytes a packet may grow */

struct conn {
	const char *src, *dst;	/* as the inside end sends */
	uint16_t sport, dport;
	uint16_t pub;		/* the public port the outside end sees */
	uint32_t seq[2];	/* next seq of each end, as it sends */
};

static enum nat_verdict send(struct nat_table *t, uint8_t *b, size_t n, size_t cap,
    enum nat_side side, uint64_t now)
{
	uint8_t *p = malloc(cap);
	memcpy(p, b, n);
	bool ok = ip_csum_ok(p) && l4_csum_ok(p, 0);
	struct nat_packet np = { p, n, cap, false };
	enum nat_verdict v = nat_translate(t, &np, side, now);
	if (np.len > cap || np.len < 20)
		abort();
	if (v == NAT_FORWARD && ok && (get_u16(p + 2) != np.len || !ip_csum_ok(p) ||
	    !l4_csum_ok(p, 0)))
		abort();
	memcpy(b, p, np.len);
	free(p);
	return v;
}

static void segment(struct nat_table *t, struct conn *c, int from_out, const uint8_t *pl,
    size_t len, uint64_t now)
{
	uint8_t b[20 + 20 + 255 + ROOM];
	size_t n;
	if (from_out)
		n = mk_tcp(b, c->dst, c->dport, GW_OUT, c->pub, 0x18,
			   c->seq[1], c->seq[0], 1000, NULL, 0, len);
	else
		n = mk_tcp(b, c->src, c->sport, c->dst, c->dport, 0x18, c->seq[0], c->seq[1],
			   1000, NULL, 0, len);
	memcpy(b + 40, pl, len);
	fix_l4_csum(b);
	send(t, b, n, n + ROOM, from_out ? NAT_FROM_OUTSIDE : NAT_FROM_INSIDE, now);
	c->seq[from_out] += (uint32_t)len;
}

static void open_conn(struct nat_table *t, struct conn *c, bool inbound)
{
	uint8_t b[128];
	size_t n;
	if (inbound) {
		/* Outside client 198.18.0.7:40000 to the forward; the inside end is the server. */
		*c = (struct conn){ "10.1.0.5", "198.18.0.7", 21, 40000, 21, { 100, 7000 } };
		n = mk_tcp(b, "198.18.0.7", 40000, GW_OUT, 21, 0x02, 6999, 0, 1000, NULL, 0, 0);
		send(t, b, n, n, NAT_FROM_OUTSIDE, 0);
		n = mk_tcp(b, "10.1.0.5", 21, "198.18.0.7", 40000, 0x12, 99, 7000, 1000, NULL, 0, 0);
		send(t, b, n, n, NAT_FROM_INSIDE, 0);
	} else {
		*c = (struct conn){ "10.1.0.10", "198.18.0.7", 5000, 21, 0, { 1000, 5000 } };
		n = mk_tcp(b, "10.1.0.10", 5000, "198.18.0.7", 21, 0x02, 999, 0, 1000, NULL, 0, 0);
		send(t, b, n, n, NAT_FROM_INSIDE, 0);
		c->pub = pkt_sport(b);
		n = mk_tcp(b, "198.18.0.7", 21, GW_OUT, c->pub, 0x12, 4999, 1000, 1000, NULL, 0, 0);
		send(t, b, n, n, NAT_FROM_OUTSIDE, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nat_rules *rules[2];
	char err[256];
	if (!rules[0]) {
		rules[0] = nat_test_rules(CONF("no"), err, sizeof(err));
		rules[1] = nat_test_rules(CONF("yes"), err, sizeof(err));
		if (!rules[0] || !rules[1])
			abort();
	}
	if (size < 1)
		return 0;
	struct nat_table *t = nat_table_new(rules[data[0] & 1], 64);
	data++;
	size--;
	struct conn c[2];
	open_conn(t, &c[0], false);
	open_conn(t, &c[1], true);
	uint64_t now = 0;
	while (size >= 2) {
		uint8_t op = data[0];
		size_t len = data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		now += (uint64_t)(op >> 4) * 1000;
		struct conn *k = &c[(op >> 1) & 1];
		if (op & 4) {
			uint8_t b[64];
			uint16_t port = len >= 2 ? get_u16(data) : 20;
			size_t n = mk_tcp(b, "198.18.0.7", 20, GW_OUT, port, 0x02, 1, 0, 1000, NULL,
					  0, 0);
			send(t, b, n, n, NAT_FROM_OUTSIDE, now);
		} else {
			segment(t, k, op & 1, data, len, now);
		}
		data += len;
		size -= len;
		if (op & 8)
			nat_expire(t, now);
		if (nat_table_check(t) < 0)
			abort();
	}
	nat_table_free(t);
	return 0;
}
