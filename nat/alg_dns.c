/* DNS inspection (UDP 53), "DNS doctoring": an outside server that answers an
 * inside client with the public address of a statically mapped inside host
 * gets that host's inside address written in its place, so that inside
 * clients reach it directly. Only A records of class IN are touched (PTR and
 * the rest stay as they are). The response must carry the query's ID (else
 * it is dropped and counted), and it ends the flow: a DNS exchange is one
 * query and one answer. No size limit (EDNS0 answers pass whole).
 *
 * Names are skipped, never followed: a compression pointer ends a name where
 * it stands, and one that does not point backwards (a loop or a forward
 * reference) makes the message malformed. A malformed or truncated message
 * is passed untouched and counted (dropped when strict). */
#include <string.h>

#include "lib/buf.h"
#include "nat/inspect.h"

struct dns_state {
	uint16_t id;
	bool asked;
};

/* Skips the name at *off; -1 when it runs past n or a pointer is bad. */
static int skip_name(const uint8_t *m, size_t n, size_t *off)
{
	size_t i = *off;
	for (int labels = 0; labels < 128; labels++) {
		if (i >= n)
			return -1;
		uint8_t l = m[i];
		if ((l & 0xc0) == 0xc0) {
			if (i + 2 > n)
				return -1;
			size_t to = (size_t)(get_u16(m + i) & 0x3fff);
			if (to < 12 || to >= i)
				return -1;	/* a loop or a forward reference */
			*off = i + 2;
			return 0;
		}
		if (l & 0xc0)
			return -1;	/* the extended label types are obsolete */
		i += 1 + (size_t)l;
		if (l == 0) {
			*off = i;
			return 0;
		}
	}
	return -1;
}

/* The inside address of public address a under a static rule, or 0. */
static uint32_t doctored(const struct nat_rules *r, uint32_t a)
{
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct nat_rule *x = &r->rule[i];
		if (x->kind == NAT_RULE_STATIC && a >= x->pub_lo && a <= x->pub_hi &&
		    !nat_rules_is_local(r, a))
			return x->priv[0].addr + (a - x->pub_lo);
	}
	return 0;
}

/* Rewrites the answer section's A records (with write; without, only checks
 * that the message is whole); -1 when malformed. */
static int doctor(struct nat_insp *c, bool write)
{
	const uint8_t *m = c->payload;
	size_t n = c->len, off = 12;
	uint16_t qd = get_u16(m + 4), an = get_u16(m + 6);
	for (uint16_t i = 0; i < qd; i++) {
		if (skip_name(m, n, &off) < 0 || off + 4 > n)
			return -1;
		off += 4;
	}
	for (uint16_t i = 0; i < an; i++) {
		if (skip_name(m, n, &off) < 0 || off + 10 > n)
			return -1;
		uint16_t type = get_u16(m + off), class = get_u16(m + off + 2);
		size_t rdlen = get_u16(m + off + 8);
		off += 10;
		if (off + rdlen > n)
			return -1;
		if (type == 1 && class == 1 && rdlen == 4) {
			uint32_t in = doctored(nat_insp_rules(c), get_u32(m + off));
			if (in && write) {
				put_u32(c->payload + off, in);
				nat_insp_touch(c);
			}
		}
		off += rdlen;
	}
	return 0;
}

static enum nat_insp_verdict bad(struct nat_insp *c)
{
	if (c->conf->strict) {
		c->c->bad_dropped++;
		return NAT_INSP_DROP;
	}
	c->c->bad_passed++;
	return NAT_INSP_PASS;
}

static enum nat_insp_verdict dns_inspect(struct nat_insp *c)
{
	struct dns_state *s = c->state;
	if (c->len < 12)
		return bad(c);
	bool response = c->payload[2] & 0x80;
	uint16_t id = get_u16(c->payload);
	if (c->dir == c->opener) {
		if (response)
			return bad(c);
		s->id = id;	/* a retry may carry a new ID: the latest counts */
		s->asked = true;
		return NAT_INSP_PASS;
	}
	if (!response)
		return bad(c);
	if (!s->asked || id != s->id) {
		c->c->bad_dropped++;	/* a spoofed or stale answer */
		return NAT_INSP_DROP;
	}
	/* Doctoring is for inside clients asking an outside server. */
	if (c->opener == 0 && doctor(c, false) < 0) {
		enum nat_insp_verdict v = bad(c);
		return v == NAT_INSP_DROP ? v : NAT_INSP_END;
	}
	if (c->opener == 0)
		doctor(c, true);
	return NAT_INSP_END;
}

const struct nat_engine nat_alg_dns = {
	.name = "dns",
	.protos = NAT_INSP_UDP,
	.ports = "53",
	.state_size = sizeof(struct dns_state),
	.inspect = dns_inspect,
};
