/* Fuzzes the DNS and TFTP engines through the translate step. The first byte
 * picks lenient or strict mode; then a sequence of
 *   [op: 1 byte] [length: 2] [payload]
 * op bit 0: from the outside server (else from the inside client C:4000);
 * bit 1: TFTP (port 69) rather than DNS (53); bit 2: the outside datagram
 * comes from port 40000 instead (a TFTP data pinhole); bit 3: nat_expire
 * after it. The buffer is exactly sized with room to grow that the engines
 * must not use past the cap. Whatever comes in: a forwarded datagram's
 * checksums are right, its length unchanged, the table's invariants hold. */
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
	" inspect { dns { strict = " strict " }\n tftp { strict = " strict " } }\n rules {\n" \
	" dmz { type = static\n private = 10.1.9.0/24\n public = 198.51.100.0/24 }\n" \
	" lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n"

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
	uint16_t pub[2] = { 4000, 4000 };
	uint64_t now = 0;
	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = get_u16(data + 1);
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > 1400)
			len = 1400;
		int tftp = (op >> 1) & 1;
		uint16_t server_port = tftp ? 69 : 53;
		size_t n = 28 + len, cap = n + 32;
		uint8_t *p = malloc(cap);
		if (op & 1)
			mk_udp(p, "198.18.0.7", op & 4 ? 40000 : server_port, GW_OUT, pub[tftp], len);
		else
			mk_udp(p, "10.1.0.10", 4000, "198.18.0.7", server_port, len);
		memcpy(p + 28, data, len);
		fix_l4_csum(p);
		struct nat_packet np = { p, n, cap, false };
		enum nat_verdict v = nat_translate(t, &np, op & 1 ? NAT_FROM_OUTSIDE :
						   NAT_FROM_INSIDE, now);
		if (np.len != n)
			abort();
		if (v == NAT_FORWARD && (!ip_csum_ok(p) || !l4_csum_ok(p, 0)))
			abort();
		if (v == NAT_FORWARD && !(op & 1))
			pub[tftp] = pkt_sport(p);
		free(p);
		data += len;
		size -= len;
		now += 100;
		if (op & 8)
			nat_expire(t, now);
		if (nat_table_check(t) < 0)
			abort();
	}
	nat_table_free(t);
	return 0;
}
