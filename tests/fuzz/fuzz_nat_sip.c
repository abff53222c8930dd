/* Fuzzes the SIP engine's text handling (nat/sip_parse.c). An input is
 *   [mode: 1 byte] [a SIP message, or anything]
 * mode bit 0: a stream (TCP) rather than a datagram; bit 1: translate as from
 * outside (public -> inside, Request-URI too) rather than from inside (inside
 * -> public, SDP and media ports too); bit 2: the media port allocator fails.
 * Whatever comes in: no read outside the input, no write outside the output;
 * a message that parses and translates parses again, with as many places to
 * rewrite, and its Content-Length (when it has one) tells its body's length;
 * a translation into too small a buffer fails cleanly.
 * mode bit 3: the engine instead (nat/alg_sip.c through nat_translate): the
 * message goes from an inside UA to a far one (UDP, or TCP after a handshake
 * with bit 0), then back from the far one to the public end, then RTP from
 * the far end to every port 6000..6003 of the public address; the table's
 * invariants hold after each packet and every forwarded packet's IP and L4
 * checksums are right. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/parser.h"
#include "lib/buf.h"
#include "nat/nat_priv.h"
#include "nat/sip_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t media_ok(void *arg, uint32_t addr, uint16_t port)
{
	(void)arg;
	(void)addr;
	return (uint16_t)(port < 1024 ? 40000 : port ^ 0x5a5a) | 1;
}

static uint16_t media_fail(void *arg, uint32_t addr, uint16_t port)
{
	(void)arg;
	(void)addr;
	(void)port;
	return 0;
}

static struct nat_rules *rules(void)
{
	static const char conf[] = "tsunagi { nat { inside = lan0\n outside = wan0\n rules {\n"
		" lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n";
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

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t sum(const uint8_t *d, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += i & 1 ? d[i] : (uint32_t)d[i] << 8;
	return s;
}

/* An IPv4 TCP or UDP packet with payload, checksums right; its length. */
static size_t mk(uint8_t *b, uint8_t proto, uint32_t src, uint16_t sp, uint32_t dst,
    uint16_t dp, uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *pl, size_t n)
{
	size_t l4 = proto == 6 ? 20 : 8, tot = 20 + l4 + n;
	memset(b, 0, 20 + l4);
	b[0] = 0x45;
	put_u16(b + 2, (uint16_t)tot);
	b[8] = 64;
	b[9] = proto;
	put_u32(b + 12, src);
	put_u32(b + 16, dst);
	put_u16(b + 10, fold(sum(b, 20, 0)));
	uint8_t *t = b + 20;
	put_u16(t, sp);
	put_u16(t + 2, dp);
	if (proto == 6) {
		put_u32(t + 4, seq);
		put_u32(t + 8, ack);
		t[12] = 5 << 4;
		t[13] = flags;
		put_u16(t + 14, 65535);
	} else {
		put_u16(t + 4, (uint16_t)(8 + n));
	}
	if (n)
		memcpy(t + l4, pl, n);
	uint16_t c = fold(sum(t, l4 + n, sum(b + 12, 8, 0) + proto + (uint32_t)(l4 + n)));
	put_u16(t + (proto == 6 ? 16 : 6), proto == 17 && c == 0 ? 0xffff : c);
	return tot;
}

static void check(struct nat_table *t, uint8_t *b, size_t len, size_t cap, enum nat_side side,
    uint64_t now)
{
	struct nat_packet p = { b, len, cap, false };
	enum nat_verdict v = nat_translate(t, &p, side, now);
	if (nat_table_check(t) != 0 || p.len > cap)
		abort();
	if (v != NAT_FORWARD)
		return;
	size_t l4 = p.len - 20;
	if (fold(sum(b, 20, 0)) != 0 ||
	    fold(sum(b + 20, l4, sum(b + 12, 8, 0) + b[9] + (uint32_t)l4)) != 0)
		abort();
}

static void engine(const uint8_t *pl, size_t n, bool tcp)
{
	static struct nat_rules *r;
	if (!r)
		r = rules();
	struct nat_table *t = nat_table_new(r, 64);
	size_t cap = n + 20 + 20 + 4096;
	uint8_t *b = malloc(cap);
	if (!t || !b)
		abort();
	const uint32_t ua = 0x0a01000a, far = 0xc6120007, pub = 0xcb007101;
	uint8_t proto = tcp ? 6 : 17;
	size_t len;
	if (tcp) {
		len = mk(b, 6, ua, 5060, far, 5060, 0x02, 100, 0, NULL, 0);
		check(t, b, len, cap, NAT_FROM_INSIDE, 0);
		len = mk(b, 6, far, 5060, pub, 5060, 0x12, 900, 101, NULL, 0);
		check(t, b, len, cap, NAT_FROM_OUTSIDE, 0);
	}
	len = mk(b, proto, ua, 5060, far, 5060, 0x18, 101, 901, pl, n);
	check(t, b, len, cap, NAT_FROM_INSIDE, 1);
	len = mk(b, proto, far, 5060, pub, 5060, 0x18, 901, 101, pl, n);
	check(t, b, len, cap, NAT_FROM_OUTSIDE, 2);
	for (uint16_t port = 6000; port < 6004; port++) {
		len = mk(b, 17, far, 7000, pub, port, 0, 0, 0, (const uint8_t *)"rtp", 3);
		check(t, b, len, cap, NAT_FROM_OUTSIDE, 3);
	}
	len = mk(b, proto, ua, 5060, far, 5060, 0x18, 101, 901, pl, n);
	check(t, b, len, cap, NAT_FROM_INSIDE, 61000);	/* past the provisional minute */
	nat_table_free(t);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	uint8_t mode = data[0];
	bool stream = mode & 1;
	if (mode & 8) {
		if (size - 1 <= 8000)
			engine(data + 1, size - 1, stream);
		return 0;
	}
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	/* A copy of exactly len bytes, so that a read past it is caught. */
	uint8_t *msg = malloc(len ? len : 1);
	if (!msg)
		return 0;
	memcpy(msg, in, len);
	struct sip_msg m;
	if (sip_parse(msg, len, stream, &m) < 0) {
		free(msg);
		return 0;
	}
	if (m.len > len || m.body_off + m.body_len != m.len || m.n_site > SIP_MAX_SITES)
		abort();
	struct sip_map x;
	if (mode & 2)
		x = (struct sip_map){ .from_addr = 0xcb007101, .from_port = 5060,
				      .to_addr = 0x0a090a0a, .to_port = 5061, .uri = true };
	else
		x = (struct sip_map){ .from_addr = 0x0a090a0a, .from_port = 5060,
				      .to_addr = 0xcb007101, .to_port = 1030, .sdp = true };
	x.media = mode & 4 ? media_fail : media_ok;
	size_t cap = m.len + (SIP_MAX_SITES + 1) * 24;
	uint8_t *out = malloc(cap);
	if (!out)
		abort();
	long n = sip_translate(msg, &m, &x, out, cap);
	if (n == SIP_NO_MEDIA && (mode & 4)) {
		free(out);
		free(msg);
		return 0;
	}
	if (n < 0 || (size_t)n > cap)
		abort();	/* room enough for every edit: it must fit */
	/* Too small by one: fails, never writes past. */
	if (n > 0) {
		uint8_t *tight = malloc((size_t)n - 1 ? (size_t)n - 1 : 1);
		if (!tight || sip_translate(msg, &m, &x, tight, (size_t)n - 1) != SIP_NO_ROOM)
			abort();
		free(tight);
	}
	struct sip_msg m2;
	uint8_t *again = malloc(n ? (size_t)n : 1);
	if (!again)
		abort();
	memcpy(again, out, (size_t)n);
	if (sip_parse(again, (size_t)n, stream, &m2) != 0 || m2.n_site != m.n_site ||
	    m2.len != (size_t)n)
		abort();
	free(again);
	free(out);
	free(msg);
	return 0;
}
