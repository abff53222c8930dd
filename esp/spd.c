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


static uint16_t specificity(const struct pfkey_policy *p)
{
	/* Addresses dominate; a protocol and then narrowed ports break ties. */
	unsigned s = (selector_common_prefix(&p->dst) + selector_common_prefix(&p->src)) * 4;
	if (p->src.proto || p->dst.proto)
		s += 2;
	if (p->src.port_hi - p->src.port_lo < 65535 || p->dst.port_hi - p->dst.port_lo < 65535)
		s += 1;
	return (uint16_t)s;	/* at most (128 + 128) * 4 + 3 */
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
		free(s->runs[d]);
	}
	free(s->by_exact);
	free(s->by_id);
	free(s->by_host);
	uint32_t next_index = s->next_index;
	spd_init(s);
	s->next_index = next_index;
}

/* --- indexes ------------------------------------------------------------------- */

/* FNV-1a over what selector_equal() compares. */
static uint32_t hash_bytes(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t hash_selector(uint32_t h, const struct selector *sel)
{
	size_t n = sel->family == AF_INET ? 4 : 16;	/* as selector.c compares */
	uint8_t head[6] = { sel->family, sel->proto, (uint8_t)(sel->port_lo >> 8),
			    (uint8_t)sel->port_lo, (uint8_t)(sel->port_hi >> 8), (uint8_t)sel->port_hi };
	h = hash_bytes(h, head, sizeof(head));
	h = hash_bytes(h, sel->lo, n);
	return hash_bytes(h, sel->hi, n);
}

static size_t exact_slot(const struct spd *s, uint8_t dir, const struct selector *src,
			 const struct selector *dst)
{
	uint32_t h = hash_bytes(2166136261u, &dir, 1);
	return hash_selector(hash_selector(h, src), dst) & (s->nbuckets - 1);
}

static size_t id_slot(const struct spd *s, uint32_t id)
{
	return (id * 2654435761u >> 7) & (s->nbuckets - 1);
}

/* Is the policy's destination one address (a remote-access client's, a host)? */
static bool dst_is_host(const struct sp *sp)
{
	return memcmp(sp->p.dst.lo, sp->p.dst.hi, sp->p.dst.family == AF_INET ? 4 : 16) == 0;
}

static size_t host_slot(const struct spd *s, uint8_t dir, uint8_t family, const uint8_t *addr)
{
	uint8_t head[2] = { dir, family };
	uint32_t h = hash_bytes(2166136261u, head, sizeof(head));
	return hash_bytes(h, addr, family == AF_INET ? 4 : 16) & (s->nbuckets - 1);
}

static struct sp **host_chain(const struct spd *s, const struct sp *sp)
{
	return &s->by_host[host_slot(s, sp->p.dir, sp->p.dst.family, sp->p.dst.lo)];
}

static void index_link(struct spd *s, struct sp *sp)
{
	size_t e = exact_slot(s, sp->p.dir, &sp->p.src, &sp->p.dst), i = id_slot(s, sp->p.id);
	sp->next_exact = s->by_exact[e];
	s->by_exact[e] = sp;
	sp->next_id = s->by_id[i];
	s->by_id[i] = sp;
	if (dst_is_host(sp)) {
		struct sp **h = host_chain(s, sp);
		sp->next_host_or_net = *h;
		*h = sp;
	}
}

static void index_unlink(struct spd *s, struct sp *sp)
{
	struct sp **pp = &s->by_exact[exact_slot(s, sp->p.dir, &sp->p.src, &sp->p.dst)];
	while (*pp != sp)
		pp = &(*pp)->next_exact;
	*pp = sp->next_exact;
	for (pp = &s->by_id[id_slot(s, sp->p.id)]; *pp != sp; pp = &(*pp)->next_id)
		;
	*pp = sp->next_id;
	if (dst_is_host(sp)) {
		for (pp = host_chain(s, sp); *pp != sp; pp = &(*pp)->next_host_or_net)
			;
		*pp = sp->next_host_or_net;
	}
}

/* Room for one more policy: at most two per bucket on average. */
static int index_reserve(struct spd *s)
{
	if (s->nbuckets && s->count + 1 <= s->nbuckets * 2)
		return 0;
	size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
	struct sp **ex = calloc(n, sizeof(*ex)), **id = calloc(n, sizeof(*id));
	struct sp **host = calloc(n, sizeof(*host));
	if (!ex || !id || !host) {
		free(ex);
		free(id);
		free(host);
		return -1;
	}
	free(s->by_exact);
	free(s->by_id);
	free(s->by_host);
	s->by_exact = ex;
	s->by_id = id;
	s->by_host = host;
	s->nbuckets = n;
	for (int d = 1; d < IPSEC_DIR_MAX; d++)
		for (struct sp *sp = s->list[d]; sp; sp = sp->next)
			index_link(s, sp);
	return 0;
}

/* Is a run of key (priority, score) before sp in lookup order, or of sp's own key? */
static bool run_not_after(const struct sp_run *r, const struct sp *sp)
{
	if (r->priority != sp->p.priority)
		return r->priority < sp->p.priority;
	return r->score >= sp->score;
}

/* The number of runs of dir that come before sp or share its key (binary search). */
static size_t runs_upto(const struct spd *s, uint8_t dir, const struct sp *sp)
{
	size_t lo = 0, hi = s->nruns[dir];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (run_not_after(&s->runs[dir][mid], sp))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool same_key(const struct sp_run *r, const struct sp *sp)
{
	return r->priority == sp->p.priority && r->score == sp->score;
}

static int runs_reserve(struct spd *s, uint8_t dir)
{
	if (s->nruns[dir] < s->runs_cap[dir])
		return 0;
	size_t cap = s->runs_cap[dir] ? s->runs_cap[dir] * 2 : 8;
	struct sp_run *r = realloc(s->runs[dir], cap * sizeof(*r));
	if (!r)
		return -1;
	s->runs[dir] = r;
	s->runs_cap[dir] = cap;
	return 0;
}

/* The link to sp in its direction's net list: that of the nearest policy before sp
 * in the list that is not a host's (they are few; hosts may be thousands, but this
 * is the control path). */
static struct sp **net_link_to(struct spd *s, struct sp *sp)
{
	struct sp *p = sp->prev;
	while (p && dst_is_host(p))
		p = p->prev;
	return p ? &p->next_host_or_net : &s->net[sp->p.dir];
}

/* Links sp into its direction's list: after every policy that comes before it or
 * shares its key, as the list walk did. */
static void list_link(struct spd *s, struct sp *sp)
{
	uint8_t dir = sp->p.dir;
	size_t k = runs_upto(s, dir, sp);
	struct sp_run *runs = s->runs[dir];
	struct sp *after = k ? runs[k - 1].last : NULL;
	if (k && same_key(&runs[k - 1], sp)) {
		runs[k - 1].last = sp;
		runs[k - 1].n++;
	} else {
		memmove(runs + k + 1, runs + k, (s->nruns[dir] - k) * sizeof(*runs));
		runs[k] = (struct sp_run){ sp->p.priority, sp->score, 1, sp };
		s->nruns[dir]++;
	}
	sp->prev = after;
	sp->next = after ? after->next : s->list[dir];
	if (sp->next)
		sp->next->prev = sp;
	if (after)
		after->next = sp;
	else
		s->list[dir] = sp;
	if (!dst_is_host(sp)) {
		struct sp **l = net_link_to(s, sp);
		sp->next_host_or_net = *l;
		*l = sp;
	}
}

static void list_unlink(struct spd *s, struct sp *sp)
{
	uint8_t dir = sp->p.dir;
	size_t k = runs_upto(s, dir, sp) - 1;	/* its own run */
	struct sp_run *r = &s->runs[dir][k];
	if (--r->n == 0) {
		memmove(r, r + 1, (s->nruns[dir] - k - 1) * sizeof(*r));
		s->nruns[dir]--;
	} else if (r->last == sp) {
		r->last = sp->prev;
	}
	if (!dst_is_host(sp))
		*net_link_to(s, sp) = sp->next_host_or_net;
	if (sp->prev)
		sp->prev->next = sp->next;
	else
		s->list[dir] = sp->next;
	if (sp->next)
		sp->next->prev = sp->prev;
	sp->next = sp->prev = NULL;
}

/* --- the database -------------------------------------------------------------- */

struct sp *spd_find_exact(const struct spd *s, uint8_t dir, const struct selector *src,
			  const struct selector *dst)
{
	if (dir == 0 || dir >= IPSEC_DIR_MAX || !s->nbuckets)
		return NULL;
	for (struct sp *sp = s->by_exact[exact_slot(s, dir, src, dst)]; sp; sp = sp->next_exact)
		if (sp->p.dir == dir && selector_equal(&sp->p.src, src) &&
		    selector_equal(&sp->p.dst, dst))
			return sp;
	return NULL;
}

struct sp *spd_find_id(const struct spd *s, uint32_t id)
{
	if (!s->nbuckets)
		return NULL;
	for (struct sp *sp = s->by_id[id_slot(s, id)]; sp; sp = sp->next_id)
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
	if (!sp || index_reserve(s) < 0 || runs_reserve(s, p->dir) < 0) {
		free(sp);
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
	sp->seq = s->next_seq++;
	list_link(s, sp);
	index_link(s, sp);
	s->nhost[p->dir] += dst_is_host(sp);
	s->count++;
	return sp;
}

void spd_remove(struct spd *s, struct sp *sp)
{
	index_unlink(s, sp);
	list_unlink(s, sp);
	s->nhost[sp->p.dir] -= dst_is_host(sp);
	s->count--;
}

/* Does a come before b in lookup order (the order of the direction's list)? */
static bool sp_before(const struct sp *a, const struct sp *b)
{
	if (a->p.priority != b->p.priority)
		return a->p.priority < b->p.priority;
	if (a->score != b->score)
		return a->score > b->score;
	return a->seq < b->seq;
}

/* The first match in list order: the best of the host policies for the packet's
 * destination, unless a net policy before it matches. */
struct sp *spd_lookup(const struct spd *s, uint8_t dir, const struct pkt_tuple *t)
{
	if (dir == 0 || dir >= IPSEC_DIR_MAX)
		return NULL;
	struct sp *best = NULL;
	if (s->nhost[dir])
		for (struct sp *sp = s->by_host[host_slot(s, dir, t->family, t->dst)]; sp;
		     sp = sp->next_host_or_net)
			if (sp->p.dir == dir && pkt_match(t, &sp->p.src, &sp->p.dst) &&
			    (!best || sp_before(sp, best)))
				best = sp;
	for (struct sp *sp = s->net[dir]; sp && (!best || sp_before(sp, best));
	     sp = sp->next_host_or_net)
		if (pkt_match(t, &sp->p.src, &sp->p.dst))
			return sp;
	return best;
}
