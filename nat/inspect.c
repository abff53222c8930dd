/* The inspection registry and the services the translate step gives engines:
 * engine choice by port, per-flow state kept beside the flow table (only for
 * inspected flows), payload replacement with TCP sequence deltas (netfilter's
 * seqadj: one correction point per direction), and pinholes. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "nat/nat_priv.h"

/* The registry: an engine's index is its id and its rank when two claim a port. */
extern const struct nat_engine nat_alg_ftp, nat_alg_tftp, nat_alg_dns, nat_alg_sip,
	nat_alg_pptp, nat_ike_passthru, nat_l2tp_passthru;

static const struct nat_engine *engines[] = {
	&nat_alg_ftp,
	&nat_alg_tftp,
	&nat_alg_dns,
	&nat_alg_sip,
	&nat_alg_pptp,
	[NAT_ENGINE_IKE] = &nat_ike_passthru,
	[NAT_ENGINE_L2TP] = &nat_l2tp_passthru,
	NULL,	/* the last slot: an engine that tests plug in (nat_engine_set_test) */
};

#define N_ENGINES (sizeof(engines) / sizeof(engines[0]))
_Static_assert(N_ENGINES <= NAT_MAX_ENGINES, "raise NAT_MAX_ENGINES");

void nat_engine_set_test(const struct nat_engine *e)
{
	engines[N_ENGINES - 1] = e;
}

size_t nat_engine_count(void)
{
	return N_ENGINES;
}

const struct nat_engine *nat_engine_get(size_t id)
{
	return id < N_ENGINES ? engines[id] : NULL;
}

const char *nat_engine_name(size_t id)
{
	const struct nat_engine *e = nat_engine_get(id);
	return e ? e->name : NULL;
}

int nat_engine_find(const char *name)
{
	for (size_t i = 0; i < N_ENGINES; i++)
		if (engines[i] && strcmp(engines[i]->name, name) == 0)
			return (int)i;
	return -1;
}

static int parse_port(const char *s, char **end, uint16_t *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long v = strtoul(s, end, 10);
	if (v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int nat_inspect_parse_ports(const char *s, struct nat_inspect_conf *conf, char *why,
    size_t whylen)
{
	struct nat_inspect_conf c = *conf;
	c.n_ports = 0;
	while (*s) {
		char *end;
		struct nat_port_range r;
		if (parse_port(s, &end, &r.lo) < 0)
			goto bad;
		r.hi = r.lo;
		if (*end == '-' && (parse_port(end + 1, &end, &r.hi) < 0 || r.hi < r.lo))
			goto bad;
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end && *end != ',')
			goto bad;
		if (c.n_ports == NAT_INSPECT_RANGES) {
			snprintf(why, whylen, "at most %d ports or ranges", NAT_INSPECT_RANGES);
			return -1;
		}
		c.ports[c.n_ports++] = r;
		s = *end ? end + 1 : end;
	}
	if (!c.n_ports)
		goto bad;
	*conf = c;
	return 0;
bad:
	snprintf(why, whylen, "invalid ports '%s' (want 21, 2121 or 6000-6010; 1..65535)", s);
	return -1;
}

void nat_inspect_defaults(struct nat_rules *r)
{
	char why[96];
	for (size_t i = 0; i < N_ENGINES; i++) {
		struct nat_inspect_conf *c = &r->inspect[i];
		*c = (struct nat_inspect_conf){ .enabled = engines[i] != NULL };
		if (engines[i] && engines[i]->ports)
			nat_inspect_parse_ports(engines[i]->ports, c, why, sizeof(why));
	}
}

bool nat_inspect_port_in(const struct nat_inspect_conf *conf, uint16_t port)
{
	for (size_t i = 0; i < conf->n_ports; i++)
		if (port >= conf->ports[i].lo && port <= conf->ports[i].hi)
			return true;
	return false;
}

int nat_table_insp_counters(const struct nat_table *t, size_t id, struct nat_insp_counters *out)
{
	if (id >= N_ENGINES)
		return -1;
	*out = t->ic[id];
	return 0;
}

/* Per-flow state ------------------------------------------------------------ */

static struct insp_flow *state_of(const struct nat_table *t, const struct flow *f)
{
	return f->insp ? t->insp[f->insp - 1] : NULL;
}

const char *insp_engine_name(const struct nat_table *t, const struct flow *f)
{
	const struct insp_flow *s = state_of(t, f);
	return s ? nat_engine_name(s->engine) : NULL;
}

static uint32_t slot_new(struct nat_table *t)
{
	if (t->n_insp_free)
		return t->insp_free[--t->n_insp_free];
	if (t->n_insp == t->cap_insp) {
		uint32_t cap = t->cap_insp ? t->cap_insp * 2 : 64;
		struct insp_flow **v = realloc(t->insp, cap * sizeof(*v));
		uint32_t *fr = realloc(t->insp_free, cap * sizeof(*fr));
		if (v)
			t->insp = v;
		if (fr)
			t->insp_free = fr;
		if (!v || !fr)
			return NAT_NONE;
		t->cap_insp = cap;
	}
	return t->n_insp++;
}

static int engine_by_port(const struct nat_table *t, uint8_t proto, uint16_t a, uint16_t b)
{
	unsigned want = proto == 6 ? NAT_INSP_TCP : proto == 17 ? NAT_INSP_UDP : 0;
	for (size_t i = 0; i < N_ENGINES && want; i++) {
		const struct nat_inspect_conf *c = &t->rules->inspect[i];
		if (engines[i] && engines[i]->inspect && (engines[i]->protos & want) && c->enabled &&
		    (nat_inspect_port_in(c, a) || nat_inspect_port_in(c, b)))
			return (int)i;
	}
	return INSP_NONE;
}

int insp_engine_by_port(const struct nat_table *t, uint8_t proto, uint16_t port)
{
	return engine_by_port(t, proto, port, port);
}

void insp_flow_start(struct nat_table *t, struct flow *f, int dir, int engine)
{
	if (engine == INSP_BY_PORT) {
		/* The server's port, before and after translation. */
		uint16_t a = dir == 0 ? f->k[0].dport : f->k[0].sport;
		uint16_t b = dir == 0 ? f->k[1].sport : f->k[1].dport;
		engine = engine_by_port(t, f->proto, a, b);
	}
	if (engine < 0 || (size_t)engine >= N_ENGINES || !engines[engine] ||
	    !engines[engine]->inspect)
		return;
	const struct nat_engine *e = engines[engine];
	uint32_t i = slot_new(t);
	struct insp_flow *s = i == NAT_NONE ? NULL : calloc(1, sizeof(*s) + e->state_size);
	if (!s) {
		if (i != NAT_NONE)
			t->insp_free[t->n_insp_free++] = i;
		return;	/* out of memory: the flow goes uninspected */
	}
	s->engine = (uint8_t)engine;
	s->opener = (uint8_t)dir;
	t->insp[i] = s;
	f->insp = i + 1;
	t->ic[engine].flows++;
}

static uint16_t *exp_chain(const struct nat_table *t, uint8_t proto, uint32_t dst,
    uint16_t dport)
{
	uint32_t h = (dst ^ (uint32_t)t->seed) * 0x9e3779b1u ^ ((uint32_t)dport << 8 | proto);
	h *= 0x85ebca6bu;
	return &t->exp_head[(h >> 16) % NAT_EXP_BUCKETS];
}

static uint16_t *exp_chain_of(const struct nat_table *t, const struct expect_slot *x)
{
	return exp_chain(t, x->proto, x->match.dst, x->match.dport);
}

static void exp_link(struct nat_table *t, uint32_t j)
{
	uint16_t *h = exp_chain_of(t, &t->exp[j]);
	t->exp[j].next = *h;
	*h = (uint16_t)(j + 1);
}

static void exp_unlink(struct nat_table *t, uint32_t j)
{
	uint16_t *pp = exp_chain_of(t, &t->exp[j]);
	while (*pp && *pp != j + 1)
		pp = &t->exp[*pp - 1].next;
	if (*pp)
		*pp = t->exp[j].next;
}

/* The last slot fills the hole, so that the slots stay dense for the walks. */
static void expect_remove(struct nat_table *t, uint32_t j)
{
	uint32_t last = t->n_exp - 1;
	exp_unlink(t, j);
	if (j != last) {
		exp_unlink(t, last);
		t->exp[j] = t->exp[last];
		exp_link(t, j);
	}
	t->n_exp = last;
	t->c.pinholes_active = t->n_exp;
}

int insp_expect_check(const struct nat_table *t)
{
	uint32_t linked = 0;
	if (!t->exp)
		return t->n_exp ? -1 : 0;
	for (uint32_t b = 0; b < NAT_EXP_BUCKETS; b++)
		for (uint16_t i = t->exp_head[b]; i; i = t->exp[i - 1].next) {
			const struct expect_slot *x = &t->exp[i - 1];
			if (i > t->n_exp || exp_chain_of(t, x) != &t->exp_head[b] ||
			    ++linked > t->n_exp)
				return -1;
		}
	return linked == t->n_exp ? 0 : -1;
}

void insp_flow_free(struct nat_table *t, struct flow *f)
{
	uint32_t fi = (uint32_t)(f - t->flows);
	for (uint32_t j = 0; j < t->n_exp;) {
		if (t->exp[j].parent == fi) {
			t->ic[t->exp[j].owner].pinhole_replaced++;
			expect_remove(t, j);
		} else {
			j++;
		}
	}
	struct insp_flow *s = state_of(t, f);
	if (!s)
		return;
	const struct nat_engine *e = engines[s->engine];
	if (e->closed) {
		struct nat_insp c = {
			.t = t, .engine = e, .conf = &t->rules->inspect[s->engine],
			.c = &t->ic[s->engine], .state = s->state, .opener = s->opener, .k = f->k,
			.proto = f->proto, .now_ms = f->last_ms, .flow_ = fi,
		};
		e->closed(&c);
	}
	if (e->end)
		e->end(s->state);
	free(s);
	t->insp[f->insp - 1] = NULL;
	t->insp_free[t->n_insp_free++] = f->insp - 1;
	f->insp = 0;
}

void insp_table_free(struct nat_table *t)
{
	for (uint32_t i = 0; i < t->n_insp; i++) {
		struct insp_flow *s = t->insp[i];
		if (s && engines[s->engine]->end)
			engines[s->engine]->end(s->state);
		free(s);
	}
	free(t->insp);
	free(t->insp_free);
	free(t->exp);
	free(t->exp_head);
}

/* Payload rewriting ---------------------------------------------------------- */

static struct pkt *pkt_of(struct nat_insp *c)
{
	return c->priv_;
}

uint32_t nat_insp_inside_addr(const struct nat_insp *c)
{
	return c->k[0].src;
}

uint32_t nat_insp_public_addr(const struct nat_insp *c)
{
	return c->k[1].dst;
}

void nat_insp_note(struct nat_insp *c, const char *text)
{
	flow_event(c->t, NAT_EV_NOTE, &c->t->flows[c->flow_], text,
		   c->dir ? NAT_FROM_OUTSIDE : NAT_FROM_INSIDE, c->now_ms);
}

const struct nat_rules *nat_insp_rules(const struct nat_insp *c)
{
	return c->t->rules;
}

void nat_insp_touch(struct nat_insp *c)
{
	pkt_of(c)->recsum = true;
	pkt_of(c)->changed = true;
}

int nat_insp_replace(struct nat_insp *c, size_t off, size_t len, const void *repl,
    size_t nlen)
{
	struct pkt *p = pkt_of(c);
	if (off > c->len || len > c->len - off)
		return -1;
	size_t tot = p->tot - len + nlen;
	if (tot > p->cap || tot > 0xffff) {
		c->c->no_room++;
		return -1;
	}
	uint8_t *at = c->payload + off;
	memmove(at + nlen, at + len, c->len - off - len);
	memcpy(at, repl, nlen);
	int32_t d = (int32_t)nlen - (int32_t)len;
	p->tot = tot;
	p->l4len = (size_t)((int64_t)p->l4len + d);
	c->len = (size_t)((int64_t)c->len + d);
	p->delta += d;
	put_u16(p->ip + 2, (uint16_t)tot);
	if (p->proto == 17)
		put_u16(p->l4 + 4, (uint16_t)p->l4len);
	nat_insp_touch(c);
	return 0;
}

/* TCP sequence deltas ------------------------------------------------------- */

static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* The packet from d at seq changed length by delta: later bytes of d shift
 * (once: a retransmission of the same segment is rewritten the same way). */
static void adj_record(struct seqadj *a, uint32_t seq, int32_t delta)
{
	if (a->before == a->after || seq_after(seq, a->pos)) {
		a->pos = seq;
		a->before = a->after;
		a->after += delta;
	}
}

static uint32_t adj_seq(const struct seqadj *a, uint32_t seq)
{
	return seq + (uint32_t)(seq_after(seq, a->pos) ? a->after : a->before);
}

/* An ack (or SACK edge) for bytes the other end sent, as the receiver saw them. */
static uint32_t adj_ack(const struct seqadj *a, uint32_t ack)
{
	return ack - (uint32_t)(seq_after(ack - (uint32_t)a->after, a->pos) ? a->after : a->before);
}

/* SACK blocks (option 5) acknowledge the other end's bytes, like the ack. */
static bool adj_sack(uint8_t *tcp, size_t th, const struct seqadj *a)
{
	bool any = false;
	for (size_t i = 20; i < th;) {
		uint8_t kind = tcp[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= th || tcp[i + 1] < 2 || i + tcp[i + 1] > th)
			break;
		size_t ol = tcp[i + 1];
		if (kind == 5 && ol >= 10 && (ol - 2) % 8 == 0)
			for (size_t b = i + 2; b + 4 <= i + ol; b += 4) {
				put_u32(tcp + b, adj_ack(a, get_u32(tcp + b)));
				any = true;
			}
		i += ol;
	}
	return any;
}

static void adjust_tcp(struct nat_table *t, struct pkt *p, struct insp_flow *s, int dir)
{
	struct seqadj *me = &s->adj[dir], *other = &s->adj[!dir];
	uint8_t *tcp = p->l4;
	if (me->before == 0 && me->after == 0 && other->before == 0 && other->after == 0)
		return;
	uint32_t seq = get_u32(tcp + 4), ack = get_u32(tcp + 8);
	put_u32(tcp + 4, adj_seq(me, seq));
	if (tcp[13] & 0x10)
		put_u32(tcp + 8, adj_ack(other, ack));
	bool sack = adj_sack(tcp, (size_t)(tcp[12] >> 4) * 4, other);
	if (get_u32(tcp + 4) != seq || get_u32(tcp + 8) != ack || sack) {
		t->ic[s->engine].seq_adjusted++;
		p->recsum = p->changed = true;
	}
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t sum_bytes(const uint8_t *d, size_t n, uint32_t sum)
{
	for (; n > 1; d += 2, n -= 2)
		sum += (uint32_t)(d[0] << 8 | d[1]);
	if (n)
		sum += (uint32_t)d[0] << 8;
	return sum;
}

void insp_fix_csum(struct pkt *p)
{
	put_u16(p->ip + 10, 0);
	put_u16(p->ip + 10, fold(sum_bytes(p->ip, p->hl, 0)));
	size_t co = p->proto == 6 ? 16 : 6;
	if (p->proto == 17 && get_u16(p->l4 + 6) == 0)
		return;	/* no UDP checksum: keep none */
	uint32_t sum = sum_bytes(p->ip + 12, 8, 0) + p->proto + (uint32_t)p->l4len;
	put_u16(p->l4 + co, 0);
	uint16_t c = fold(sum_bytes(p->l4, p->l4len, sum));
	put_u16(p->l4 + co, p->proto == 17 && c == 0 ? 0xffff : c);
}

enum nat_insp_verdict insp_packet(struct nat_table *t, struct pkt *p, struct flow *f,
    int dir, uint64_t now_ms)
{
	struct insp_flow *s = state_of(t, f);
	const struct nat_engine *e = engines[s->engine];
	size_t hl = p->proto == 6 ? (size_t)(p->l4[12] >> 4) * 4 : 8;
	enum nat_insp_verdict v = NAT_INSP_PASS;
	if (p->l4len > hl || p->proto == 17) {
		struct nat_insp c = {
			.t = t, .engine = e, .conf = &t->rules->inspect[s->engine],
			.c = &t->ic[s->engine], .state = s->state, .dir = dir, .opener = s->opener,
			.k = f->k,
			.proto = p->proto, .payload = p->l4 + hl, .len = p->l4len - hl,
			.seq = p->proto == 6 ? get_u32(p->l4 + 4) : 0, .now_ms = now_ms,
			.priv_ = p, .flow_ = (uint32_t)(f - t->flows),
		};
		c.c->packets++;
		p->delta = 0;
		v = e->inspect(&c);
		if (p->changed)
			c.c->rewritten++;
		if (p->delta)
			c.c->resized++;
		if (p->delta && p->proto == 6)
			adj_record(&s->adj[dir], c.seq, p->delta);
	}
	if (p->proto == 6)
		adjust_tcp(t, p, s, dir);
	return v;
}

/* Pinholes ------------------------------------------------------------------ */

static bool key_match(const struct expect_slot *x, uint8_t proto, const struct nat_key *k)
{
	return x->proto == proto && x->match.src == k->src && x->match.dst == k->dst &&
	       x->match.dport == k->dport && (!x->match.sport || x->match.sport == k->sport);
}

int nat_insp_expect(struct nat_insp *c, const struct nat_expect *e)
{
	struct nat_table *t = c->t;
	uint32_t fi = c->flow_;
	const struct flow *f = &t->flows[fi];
	uint8_t owner = (uint8_t)(c->c - t->ic);
	if (e->replace)
		for (uint32_t j = 0; j < t->n_exp;) {
			if (t->exp[j].parent == fi && t->exp[j].owner == owner) {
				c->c->pinhole_replaced++;
				expect_remove(t, j);
			} else {
				j++;
			}
		}
	if (!t->exp_head && !(t->exp_head = calloc(NAT_EXP_BUCKETS, sizeof(*t->exp_head)))) {
		c->c->pinhole_full++;
		return -1;
	}
	if (!t->exp && !(t->exp = calloc(NAT_MAX_EXPECT, sizeof(*t->exp)))) {
		c->c->pinhole_full++;
		return -1;
	}
	if (t->n_exp == NAT_MAX_EXPECT) {
		c->c->pinhole_full++;
		return -1;
	}
	t->exp[t->n_exp++] = (struct expect_slot){
		.deadline = c->now_ms + e->timeout_ms, .parent = fi, .rule = f->rule,
		.gen = f->gen, .owner = owner, .proto = e->proto, .side = (uint8_t)e->side,
		.engine = e->engine,
		.match = { e->match_src, e->match_dst, e->match_sport, e->match_dport },
		.to = { e->to_src, e->to_dst, e->to_sport, e->to_dport },
	};
	exp_link(t, t->n_exp - 1);
	t->c.pinholes_active = t->n_exp;
	c->c->pinholes++;
	return 0;
}

unsigned nat_insp_unexpect(struct nat_insp *c, uint8_t proto, uint32_t addr, uint16_t port)
{
	struct nat_table *t = c->t;
	uint32_t fi = c->flow_;
	unsigned n = 0;
	for (uint32_t j = 0; j < t->n_exp;) {
		const struct expect_slot *x = &t->exp[j];
		bool hit = x->parent == fi && x->proto == proto &&
			   (x->side == NAT_FROM_OUTSIDE ? x->match.dst == addr && x->match.dport == port
							: x->match.src == addr && x->match.sport == port);
		if (hit) {
			expect_remove(t, j);
			n++;
		} else {
			j++;
		}
	}
	return n;
}

bool insp_expect_take(struct nat_table *t, const struct pkt *p, enum nat_side side,
    uint64_t now_ms, struct nat_key *k0, struct nat_key *k1, int *dir, int *engine,
    uint16_t *rule)
{
	if (!t->n_exp)
		return false;
	for (uint16_t i = *exp_chain(t, p->proto, p->key.dst, p->key.dport); i;
	     i = t->exp[i - 1].next) {
		uint32_t j = i - 1u;
		struct expect_slot *x = &t->exp[j];
		if (x->side != side || !key_match(x, p->proto, &p->key))
			continue;
		if (now_ms >= x->deadline)
			continue;	/* insp_expire counts it */
		struct nat_key to = x->to;
		if (!to.src)
			to.src = p->key.src;
		if (!to.sport)
			to.sport = p->key.sport;
		*dir = side == NAT_FROM_INSIDE ? 0 : 1;
		*k0 = *dir == 0 ? p->key : nat_key_mirror(&to);
		*k1 = *dir == 0 ? nat_key_mirror(&to) : p->key;
		*engine = x->engine == NAT_ENGINE_NONE ? INSP_NONE : x->engine;
		*rule = x->gen == t->gen ? x->rule : UINT16_MAX;
		t->ic[x->owner].pinhole_hits++;
		expect_remove(t, j);
		return true;
	}
	return false;
}

/* Is the public end k1 (a reply key) promised to a pinhole? */
bool insp_expect_holds(const struct nat_table *t, uint8_t proto, const struct nat_key *k1)
{
	if (!t->n_exp)
		return false;
	for (uint16_t i = *exp_chain(t, proto, k1->dst, k1->dport); i; i = t->exp[i - 1].next) {
		const struct expect_slot *x = &t->exp[i - 1];
		if (x->proto == proto && x->side == NAT_FROM_OUTSIDE &&
		    x->match.dst == k1->dst && x->match.dport == k1->dport)
			return true;
	}
	return false;
}

void insp_expire(struct nat_table *t, uint64_t now_ms)
{
	for (uint32_t j = 0; j < t->n_exp;) {
		if (now_ms >= t->exp[j].deadline) {
			t->ic[t->exp[j].owner].pinhole_expired++;
			expect_remove(t, j);
		} else {
			j++;
		}
	}
}

uint16_t nat_insp_public_port(struct nat_insp *c, uint8_t proto, uint32_t remote,
    uint32_t inside, uint16_t inside_port)
{
	struct nat_key k0 = { inside, remote, inside_port, 0 };
	struct nat_key k1 = { remote, nat_insp_public_addr(c), 0, inside_port };
	return nat_pat_port(c->t, proto, &k0, &k1) ? k1.dport : 0;
}
