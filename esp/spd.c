/* Security policy database (see spd.h). */
#include "esp/spd.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

/* --- packets ------------------------------------------------------------------- */

static void tuple_ports(struct pkt_tuple *t, const uint8_t *l4, size_t left)
{
	switch (t->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
	case IPPROTO_UDPLITE:
		if (left >= 4) {
			t->sport = get_u16(l4);
			t->dport = get_u16(l4 + 2);
		}
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (left >= 2)
			t->sport = t->dport = get_u16(l4);
		break;
	}
}

static int parse_v4(const uint8_t *pkt, size_t len, struct pkt_tuple *t)
{
	if (len < 20)
		return -1;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	size_t total = get_u16(pkt + 2);
	if (ihl < 20 || ihl > len || total < ihl || total > len)
		return -1;
	t->family = AF_INET;
	t->proto = pkt[9];
	memcpy(t->src, pkt + 12, 4);
	memcpy(t->dst, pkt + 16, 4);
	t->hdrlen = ihl;
	t->total = total;
	t->later_fragment = (get_u16(pkt + 6) & 0x1fff) != 0;
	if (!t->later_fragment)
		tuple_ports(t, pkt + ihl, total - ihl);
	return 0;
}

static int parse_v6(const uint8_t *pkt, size_t len, struct pkt_tuple *t)
{
	if (len < 40)
		return -1;
	size_t total = 40 + (size_t)get_u16(pkt + 4);
	if (total > len)
		return -1;
	len = total;
	t->total = total;
	t->family = AF_INET6;
	memcpy(t->src, pkt + 8, 16);
	memcpy(t->dst, pkt + 24, 16);
	uint8_t nh = pkt[6];
	size_t off = 40;
	bool first_fragment = true;
	/* Walk the extension headers to the upper-layer protocol (RFC 4301 4.4.1.1). */
	for (int hops = 0; hops < 8; hops++) {
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			if (off + 8 > len)
				return -1;
			size_t hl = ((size_t)pkt[off + 1] + 1) * 8;
			nh = pkt[off];
			off += hl;
		} else if (nh == IPPROTO_FRAGMENT) {
			if (off + 8 > len)
				return -1;
			first_fragment = (get_u16(pkt + off + 2) & 0xfff8) == 0;
			nh = pkt[off];
			off += 8;
		} else {
			break;
		}
		if (off > len)
			return -1;
	}
	t->proto = nh;
	t->hdrlen = off;
	t->later_fragment = !first_fragment;
	if (first_fragment)
		tuple_ports(t, pkt + off, len - off);
	return 0;
}

int pkt_parse(const uint8_t *pkt, size_t len, struct pkt_tuple *t)
{
	memset(t, 0, sizeof(*t));
	if (len < 1)
		return -1;
	switch (pkt[0] >> 4) {
	case 4:
		return parse_v4(pkt, len, t);
	case 6:
		return parse_v6(pkt, len, t);
	}
	return -1;
}

bool pkt_match(const struct pkt_tuple *t, const struct selector *src,
	       const struct selector *dst)
{
	return selector_match(src, t->family, t->src, t->proto, t->sport) &&
	       selector_match(dst, t->family, t->dst, t->proto, t->dport);
}

/* --- policies ------------------------------------------------------------------ */


static unsigned specificity(const struct pfkey_policy *p)
{
	/* Addresses dominate; a protocol and then narrowed ports break ties. */
	unsigned s = (selector_common_prefix(&p->dst) + selector_common_prefix(&p->src)) * 4;
	if (p->src.proto || p->dst.proto)
		s += 2;
	if (p->src.port_hi - p->src.port_lo < 65535 || p->dst.port_hi - p->dst.port_lo < 65535)
		s += 1;
	return s;
}

static bool before(const struct sp *a, const struct sp *b)
{
	if (a->p.priority != b->p.priority)
		return a->p.priority < b->p.priority;
	return a->score > b->score;
}

void spd_init(struct spd *s)
{
	memset(s, 0, sizeof(*s));
	s->next_index = 1;
}

void sp_free(struct sp *sp)
{
	if (!sp)
		return;
	free(sp->held);
	free(sp);
}

void spd_destroy(struct spd *s)
{
	for (int d = 0; d < IPSEC_DIR_MAX; d++) {
		while (s->list[d]) {
			struct sp *sp = s->list[d];
			s->list[d] = sp->next;
			sp_free(sp);
		}
	}
	s->count = 0;
}

struct sp *spd_find_exact(const struct spd *s, uint8_t dir, const struct selector *src,
			  const struct selector *dst)
{
	if (dir == 0 || dir >= IPSEC_DIR_MAX)
		return NULL;
	for (struct sp *sp = s->list[dir]; sp; sp = sp->next)
		if (selector_equal(&sp->p.src, src) && selector_equal(&sp->p.dst, dst))
			return sp;
	return NULL;
}

struct sp *spd_find_id(const struct spd *s, uint32_t id)
{
	for (int d = 1; d < IPSEC_DIR_MAX; d++)
		for (struct sp *sp = s->list[d]; sp; sp = sp->next)
			if (sp->p.id == id)
				return sp;
	return NULL;
}

struct sp *spd_add(struct spd *s, struct pfkey_policy *p, int *err)
{
	if (p->dir == 0 || p->dir >= IPSEC_DIR_MAX || p->src.family != p->dst.family) {
		*err = EINVAL;
		return NULL;
	}
	if (spd_find_exact(s, p->dir, &p->src, &p->dst)) {
		*err = EEXIST;
		return NULL;
	}
	if (p->id && spd_find_id(s, p->id)) {
		*err = EEXIST;
		return NULL;
	}
	struct sp *sp = calloc(1, sizeof(*sp));
	if (!sp) {
		*err = ENOMEM;
		return NULL;
	}
	if (!p->id) {
		/* Linux's layout: index << 3 | direction, skipping ids in use. */
		do
			p->id = s->next_index++ << 3 | p->dir;
		while (spd_find_id(s, p->id));
	}
	sp->p = *p;
	sp->score = specificity(p);
	struct sp **pp = &s->list[p->dir];
	while (*pp && !before(sp, *pp))
		pp = &(*pp)->next;
	sp->next = *pp;
	*pp = sp;
	s->count++;
	return sp;
}

void spd_remove(struct spd *s, struct sp *sp)
{
	for (struct sp **pp = &s->list[sp->p.dir]; *pp; pp = &(*pp)->next) {
		if (*pp == sp) {
			*pp = sp->next;
			s->count--;
			return;
		}
	}
}

struct sp *spd_lookup(const struct spd *s, uint8_t dir, const struct pkt_tuple *t)
{
	if (dir == 0 || dir >= IPSEC_DIR_MAX)
		return NULL;
	for (struct sp *sp = s->list[dir]; sp; sp = sp->next)
		if (pkt_match(t, &sp->p.src, &sp->p.dst))
			return sp;
	return NULL;
}
