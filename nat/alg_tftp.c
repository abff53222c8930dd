/* TFTP inspection (RFC 1350): the server answers a read or write request from
 * a new port of its own (its transfer ID), which no flow knows: an inside
 * client's request opens one pinhole from the server's address, any port, to
 * the request's public port, translated to the client. A retransmitted
 * request replaces it. An outside client of an inside server needs nothing:
 * the server's reply leaves through PAT like any first packet. */
#include <string.h>

#include "lib/buf.h"
#include "nat/inspect.h"

#define TFTP_PINHOLE_MS 30000	/* the server answers at once or not at all */
#define OP_RRQ 1
#define OP_WRQ 2

/* A request: opcode, file name and mode, each string NUL-terminated. */
static bool request_ok(const uint8_t *p, size_t n)
{
	const uint8_t *name = p + 2, *end = p + n;
	const uint8_t *z1 = n > 2 ? memchr(name, 0, (size_t)(end - name)) : NULL;
	if (!z1 || z1 == name)
		return false;
	const uint8_t *mode = z1 + 1;
	const uint8_t *z2 = mode < end ? memchr(mode, 0, (size_t)(end - mode)) : NULL;
	return z2 && z2 != mode;
}

static enum nat_insp_verdict tftp_inspect(struct nat_insp *c)
{
	if (c->dir != 0 || c->dir != c->opener)
		return NAT_INSP_PASS;	/* the server's answers, or an outside client */
	uint16_t op = c->len >= 2 ? get_u16(c->payload) : 0;
	if (op != OP_RRQ && op != OP_WRQ)
		return NAT_INSP_PASS;	/* acks and data on the request's own ports */
	if (!request_ok(c->payload, c->len)) {
		if (c->conf->strict) {
			c->c->bad_dropped++;
			return NAT_INSP_DROP;
		}
		c->c->bad_passed++;
		return NAT_INSP_PASS;
	}
	struct nat_expect e = {
		.proto = 17, .side = NAT_FROM_OUTSIDE,
		.match_src = c->k[1].src, .match_dst = c->k[1].dst, .match_dport = c->k[1].dport,
		.to_dst = c->k[0].src, .to_dport = c->k[0].sport,
		.timeout_ms = TFTP_PINHOLE_MS, .engine = NAT_ENGINE_NONE, .replace = true,
	};
	nat_insp_expect(c, &e);
	return NAT_INSP_PASS;
}

const struct nat_engine nat_alg_tftp = {
	.name = "tftp",
	.protos = NAT_INSP_UDP,
	.ports = "69",
	.inspect = tftp_inspect,
};
