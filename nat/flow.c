/* The flow table: a fixed array of flows (sized at creation, touched only as it
 * fills), one hash over both keys of every flow, and one list per timeout class
 * in order of last use, so expiry and eviction take the oldest in O(1). */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "nat/nat_priv.h"

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint32_t nat_hash(const struct nat_table *t, uint8_t proto, const struct nat_key *k)
{
	uint64_t a = (uint64_t)k->src << 32 | k->dst;
	uint64_t b = (uint64_t)k->sport << 32 | (uint64_t)k->dport << 16 | proto;
	return (uint32_t)mix64(mix64(a ^ t->seed) ^ b);
}

static bool key_eq(const struct nat_key *a, const struct nat_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport &&
	       a->dport == b->dport;
}

/* A flow's index and key from a chain reference. */
#define REF(i, d) ((((i) << 1) | (uint32_t)(d)) + 1)
#define REF_FLOW(r) (((r) - 1) >> 1)
#define REF_DIR(r) ((int)(((r) - 1) & 1))

uint32_t flow_lookup(struct nat_table *t, uint8_t proto, const struct nat_key *k, int *dir)
{
	uint32_t r = t->bucket[nat_hash(t, proto, k) & t->mask];
	while (r) {
		struct flow *f = &t->flows[REF_FLOW(r)];
		int d = REF_DIR(r);
		if (f->proto == proto && key_eq(&f->k[d], k)) {
			if (dir)
				*dir = d;
			return REF_FLOW(r);
		}
		r = f->hnext[d];
	}
	return NAT_NONE;
}

bool flow_key_free(struct nat_table *t, uint8_t proto, const struct nat_key *k)
{
	return flow_lookup(t, proto, k, NULL) == NAT_NONE;
}

static void hash_insert(struct nat_table *t, uint32_t i, int d)
{
	struct flow *f = &t->flows[i];
	uint32_t *b = &t->bucket[nat_hash(t, f->proto, &f->k[d]) & t->mask];
	f->hnext[d] = *b;
	*b = REF(i, d);
}

static void hash_remove(struct nat_table *t, uint32_t i, int d)
{
	struct flow *f = &t->flows[i];
	uint32_t *p = &t->bucket[nat_hash(t, f->proto, &f->k[d]) & t->mask];
	while (*p && *p != REF(i, d))
		p = &t->flows[REF_FLOW(*p)].hnext[REF_DIR(*p)];
	if (*p)
		*p = f->hnext[d];
}

bool flow_rekey(struct nat_table *t, uint32_t i, int d, const struct nat_key *k)
{
	struct flow *f = &t->flows[i];
	if (key_eq(&f->k[d], k))
		return true;
	if (!flow_key_free(t, f->proto, k))
		return false;
	bool quoted = f->flags & FF_GRE_QUOTE;
	gre_quote_remove(t, i);		/* its quotes derive from its keys */
	hash_remove(t, i, d);
	f->k[d] = *k;
	hash_insert(t, i, d);
	if (quoted)
		gre_quote_add(t, i);
	return true;
}

static void list_unlink(struct nat_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	if (f->prev != NAT_NONE)
		t->flows[f->prev].next = f->next;
	else
		t->head[f->cls] = f->next;
	if (f->next != NAT_NONE)
		t->flows[f->next].prev = f->prev;
	else
		t->tail[f->cls] = f->prev;
}

static void list_append(struct nat_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	f->next = NAT_NONE;
	f->prev = t->tail[f->cls];
	if (f->prev != NAT_NONE)
		t->flows[f->prev].next = i;
	else
		t->head[f->cls] = i;
	t->tail[f->cls] = i;
}

void flow_touch(struct nat_table *t, struct flow *f, uint64_t now_ms)
{
	uint32_t i = (uint32_t)(f - t->flows);
	f->last_ms = now_ms;
	if (t->tail[f->cls] != i) {
		list_unlink(t, i);
		list_append(t, i);
	}
}

void flow_set_class(struct nat_table *t, struct flow *f, enum flow_class c)
{
	uint32_t i = (uint32_t)(f - t->flows);
	if (f->cls == c)
		return;
	list_unlink(t, i);
	f->cls = (uint8_t)c;
	list_append(t, i);
}

uint64_t flow_timeout_ms(const struct nat_table *t, enum flow_class c)
{
	const struct nat_timeouts *to = &t->rules->timeouts;
	uint32_t s;
	switch (c) {
	case FC_TCP_SYN: s = to->tcp_syn; break;
	case FC_TCP: s = to->tcp; break;
	case FC_TCP_HALF: s = to->tcp_half_closed; break;
	case FC_TCP_CLOSED: s = to->tcp_closed; break;
	case FC_ICMP: s = to->icmp; break;
	case FC_XLATE: s = to->xlate; break;
	case FC_SIP: s = to->sip; break;
	case FC_SIP_MEDIA: s = to->sip_media; break;
	default: s = to->udp; break;
	}
	return (uint64_t)s * 1000;
}

bool flow_expired(const struct nat_table *t, const struct flow *f, uint64_t now_ms)
{
	return now_ms >= f->last_ms + flow_timeout_ms(t, f->cls);
}

/* xlate runs from the last use: the binding is as recent as its last flow. */
void binding_put(struct nat_table *t, uint32_t priv, uint64_t last_ms)
{
	struct nat_key k = { priv, 0, 0, 0 };
	uint32_t b = flow_lookup(t, 0, &k, NULL);
	if (b == NAT_NONE || !t->flows[b].u.refs)
		return;
	struct flow *f = &t->flows[b];
	f->u.refs--;
	if (last_ms > f->last_ms)
		flow_touch(t, f, last_ms);
}

void flow_free(struct nat_table *t, uint32_t i)
{
	struct flow *f = &t->flows[i];
	if (!(f->flags & FF_USED))
		return;
	fast_remove(t, f);
	hash_remove(t, i, 0);
	hash_remove(t, i, 1);
	gre_quote_remove(t, i);
	list_unlink(t, i);
	if (f->flags & FF_DYNAMIC)
		binding_put(t, f->k[0].src, f->last_ms);
	insp_flow_free(t, f);
	if (f->gen == t->gen && f->rule < t->n_rc && t->rc[f->rule].active)
		t->rc[f->rule].active--;
	f->flags = 0;
	f->next = t->free_head;
	t->free_head = i;
	t->n_used--;
	t->c.flows_active = t->n_used;
}

/* The oldest flow of any class (bindings in use excepted): the eviction victim. */
static uint32_t oldest(const struct nat_table *t)
{
	uint32_t best = NAT_NONE;
	for (int c = 0; c < FC_COUNT; c++) {
		uint32_t i = t->head[c];
		while (c == FC_XLATE && i != NAT_NONE && t->flows[i].u.refs)
			i = t->flows[i].next;
		if (i != NAT_NONE && (best == NAT_NONE || t->flows[i].last_ms < t->flows[best].last_ms))
			best = i;
	}
	return best;
}

static uint32_t flow_alloc(struct nat_table *t, uint64_t now_ms)
{
	if (t->free_head != NAT_NONE) {
		uint32_t i = t->free_head;
		t->free_head = t->flows[i].next;
		return i;
	}
	if (t->high < t->max)
		return t->high++;
	uint32_t victim = oldest(t);
	/* A fast path flow looks as old as its last queued packet: asked first
	 * (a few times at most), a busy one moves to the back. */
	for (int tries = 0; tries < 8 && victim != NAT_NONE &&
	     (t->flows[victim].flags & FF_FAST); tries++) {
		uint64_t before = t->flows[victim].last_ms;
		fast_sync(t, &t->flows[victim]);
		if (t->flows[victim].last_ms == before)
			break;
		victim = oldest(t);
	}
	if (victim == NAT_NONE)
		return NAT_NONE;
	flow_end(t, victim, "evicted", now_ms);
	t->c.flows_evicted++;
	return flow_alloc(t, now_ms);
}

uint32_t flow_new(struct nat_table *t, uint8_t proto, const struct nat_key *k0,
    const struct nat_key *k1, uint64_t now_ms)
{
	uint32_t i = flow_alloc(t, now_ms);
	if (i == NAT_NONE)
		return NAT_NONE;
	struct flow *f = &t->flows[i];
	memset(f, 0, sizeof(*f));
	f->k[0] = *k0;
	f->k[1] = *k1;
	f->proto = proto;
	f->flags = FF_USED;
	f->gen = t->gen;
	f->last_ms = now_ms;
	f->cls = proto == 6 ? FC_TCP_SYN : proto == 17 ? FC_UDP : proto == 1 ? FC_ICMP
		: proto == 0 ? FC_XLATE : FC_OTHER;
	hash_insert(t, i, 0);
	hash_insert(t, i, 1);
	list_append(t, i);
	t->n_used++;
	t->c.flows_active = t->n_used;
	if (proto)
		t->c.flows_created++;
	return i;
}

/* A pool address for priv: its own binding if it has one (address persistence:
 * every flow of one host, IKE on 500 and 4500 alike, leaves by one address),
 * else the first free one from a start that depends on the host. */
uint32_t binding_get(struct nat_table *t, uint32_t priv, uint32_t lo, uint32_t hi,
    uint64_t now_ms)
{
	struct nat_key kp = { priv, 0, 0, 0 };
	uint32_t b = flow_lookup(t, 0, &kp, NULL);
	if (b != NAT_NONE) {
		struct flow *f = &t->flows[b];
		if (f->k[1].dst >= lo && f->k[1].dst <= hi) {
			f->u.refs++;
			flow_touch(t, f, now_ms);
			return f->k[1].dst;
		}
		if (f->u.refs)
			return 0;	/* bound by another rule's pool and in use */
		flow_free(t, b);
	}
	uint64_t n = (uint64_t)hi - lo + 1;
	uint32_t start = (uint32_t)(nat_hash(t, 0, &kp) % n);
	for (uint64_t j = 0; j < n; j++) {
		uint32_t pub = lo + (uint32_t)((start + j) % n);
		struct nat_key kb = { 0, pub, 0, 0 };
		uint32_t o = flow_lookup(t, 0, &kb, NULL);
		if (o != NAT_NONE && (t->flows[o].u.refs || !flow_expired(t, &t->flows[o], now_ms)))
			continue;
		if (o != NAT_NONE)
			flow_free(t, o);
		if ((b = flow_new(t, 0, &kp, &kb, now_ms)) == NAT_NONE)
			return 0;
		t->flows[b].u.refs = 1;
		return pub;
	}
	return 0;
}

static uint32_t pow2_at_least(size_t n)
{
	uint32_t p = 16;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

struct nat_table *nat_table_new(const struct nat_rules *rules, size_t max_flows)
{
	if (!rules || max_flows == 0 || max_flows >= NAT_NONE / 2)
		return NULL;
	struct nat_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = (uint32_t)max_flows;
	t->mask = pow2_at_least(max_flows) - 1;
	/* calloc: pages are only touched as flows are used. */
	t->flows = calloc(max_flows, sizeof(*t->flows));
	t->bucket = calloc((size_t)t->mask + 1, sizeof(*t->bucket));
	if (!t->flows || !t->bucket) {
		nat_table_free(t);
		return NULL;
	}
	t->free_head = NAT_NONE;
	for (int c = 0; c < FC_COUNT; c++)
		t->head[c] = t->tail[c] = NAT_NONE;
	/* A secret hash seed, so that nobody outside can aim flows at one chain. */
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < NAT_FRAG_SLOTS; i++)
		t->frag[i].flow = NAT_NONE;
	nat_table_set_rules(t, rules);
	if (!t->rc && rules->n_rules) {
		nat_table_free(t);
		return NULL;
	}
	return t;
}

void nat_table_free(struct nat_table *t)
{
	if (!t)
		return;
	insp_table_free(t);
	free(t->flows);
	free(t->bucket);
	free(t->rc);
	free(t);
}

void nat_table_set_rules(struct nat_table *t, const struct nat_rules *rules)
{
	struct nat_rule_counters *rc = calloc(rules->n_rules ? rules->n_rules : 1, sizeof(*rc));
	t->rules = rules;
	t->gen++;
	free(t->rc);
	t->rc = rc;
	t->n_rc = rc ? rules->n_rules : 0;
}

void nat_expire(struct nat_table *t, uint64_t now_ms)
{
	insp_expire(t, now_ms);
	for (int c = 0; c < FC_COUNT; c++) {
		uint64_t to = flow_timeout_ms(t, (enum flow_class)c);
		uint32_t i;
		while ((i = t->head[c]) != NAT_NONE && now_ms >= t->flows[i].last_ms + to) {
			if (c == FC_XLATE && t->flows[i].u.refs) {
				flow_touch(t, &t->flows[i], now_ms);	/* in use: held */
				continue;
			}
			if (!fast_expired(t, &t->flows[i], now_ms))
				continue;	/* the fast path used it: moved on */
			if (c != FC_XLATE)
				t->c.flows_expired++;
			flow_end(t, i, "idle", now_ms);
		}
	}
}

void nat_table_flush(struct nat_table *t)
{
	/* Flows first, so that their bindings are free when their turn comes. */
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < t->high; i++) {
			struct flow *f = &t->flows[i];
			if (!(f->flags & FF_USED) || (pass == 0) != (f->proto != 0))
				continue;
			if (f->proto)
				t->c.flows_flushed++;
			flow_end(t, i, "flush", f->last_ms);
		}
}

void nat_table_counters(const struct nat_table *t, struct nat_counters *out)
{
	*out = t->c;
}

size_t nat_table_rule_counters(const struct nat_table *t, struct nat_rule_counters *out,
    size_t max)
{
	for (size_t i = 0; i < t->n_rc && i < max; i++)
		out[i] = t->rc[i];
	return t->n_rc;
}

static void flow_view(const struct nat_table *t, const struct flow *f, uint64_t now_ms,
    struct nat_flow_view *v)
{
	/* PPTP's GRE: the inside call ID as chosen and the remote one, as ports. */
	bool gre = f->proto == 47;
	*v = (struct nat_flow_view){
		.id = (uint32_t)(f - t->flows),
		.proto = f->proto,
		.in_src = f->k[0].src, .in_dst = f->k[0].dst,
		.in_sport = gre ? f->u.gre_cid : f->k[0].sport, .in_dport = f->k[0].dport,
		.out_src = f->k[1].src, .out_dst = f->k[1].dst,
		.out_sport = gre ? f->k[0].dport : f->k[1].sport, .out_dport = f->k[1].dport,
		.rule = f->gen == t->gen && f->rule < t->rules->n_rules ?
			t->rules->rule[f->rule].name : NULL,
		.state = f->proto == 6 ? tcp_state_name(f->state) :
			 f->proto == 17 ? "UDP" : f->proto == 1 ? "ICMP" : gre ? "GRE" : "OTHER",
		.engine = f->flags & FF_IKE ? "ike" : f->flags & FF_L2TP ? "l2tp" :
			  f->proto == NAT_ESP ? "esp" : insp_engine_name(t, f),
		.idle_ms = now_ms > f->last_ms ? now_ms - f->last_ms : 0,
		.packets = { f->pkts[0], f->pkts[1] },
		.bytes = { f->bytes[0], f->bytes[1] },
		.fast = f->flags & FF_FAST,
	};
	if ((f->flags & FF_FAST) && t->fast) {
		struct nat_fast_entry e[2];
		struct nat_fast_seen s[2] = { 0 };
		fast_entries(f, e);
		t->fast->seen(t->fast_arg, e, s);
		for (int d = 0; d < 2; d++) {
			v->packets[d] += s[d].packets;
			v->bytes[d] += s[d].bytes;
			v->fast_packets[d] = s[d].packets;
			if (s[d].last_ms > f->last_ms)
				v->idle_ms = now_ms > s[d].last_ms ? now_ms - s[d].last_ms : 0;
		}
		/* Its third ACK went fast: established, though the core learns it later. */
		if (f->proto == 6 && f->state == TS_SYN_RECV && (s[0].packets || s[1].packets))
			v->state = tcp_state_name(TS_ESTABLISHED);
	}
	if (f->flags & FF_PSEUDO) {	/* k[1] is a pseudo key: show the real one */
		v->out_src = f->k[0].dst;
		v->out_dst = f->u.pt.pub;
		v->out_sport = f->k[0].dport;
		v->out_dport = f->k[0].sport;
	}
}

void flow_event(struct nat_table *t, enum nat_event ev, const struct flow *f,
    const char *reason, enum nat_side side, uint64_t now_ms)
{
	struct nat_flow_view v;
	if (!t->ev || !f->proto)
		return;	/* no listener; bindings are no connections */
	flow_view(t, f, now_ms, &v);
	struct nat_event_info e = { .event = ev, .reason = reason, .flow = &v, .side = side,
				    .proto = f->proto };
	t->ev(&e, t->ev_arg);
}

void flow_end(struct nat_table *t, uint32_t i, const char *reason, uint64_t now_ms)
{
	fast_remove(t, &t->flows[i]);	/* first: its packets count in the teardown */
	flow_event(t, NAT_EV_TEARDOWN, &t->flows[i], reason, NAT_FROM_INSIDE, now_ms);
	flow_free(t, i);
}

void nat_table_set_events(struct nat_table *t,
    void (*fn)(const struct nat_event_info *e, void *arg), void *arg)
{
	t->ev = fn;
	t->ev_arg = arg;
}

size_t nat_table_walk(const struct nat_table *t, uint64_t now_ms,
    int (*fn)(const struct nat_flow_view *v, void *arg), void *arg)
{
	size_t n = 0;
	for (uint32_t i = 0; i < t->high; i++) {
		const struct flow *f = &t->flows[i];
		struct nat_flow_view v;
		if (!(f->flags & FF_USED) || f->proto == 0)
			continue;
		flow_view(t, f, now_ms, &v);
		n++;
		if (fn(&v, arg))
			break;
	}
	return n;
}

/* Every invariant of the table, for tests and the fuzzer: each used flow is on
 * the list of its class (links both ways) and found by both of its keys, the
 * free list holds the rest, and the counts agree. */
int nat_table_check(struct nat_table *t)
{
	uint32_t listed = 0, used = 0, free_n = 0;
	for (int c = 0; c < FC_COUNT; c++) {
		uint32_t prev = NAT_NONE;
		for (uint32_t i = t->head[c]; i != NAT_NONE; i = t->flows[i].next) {
			const struct flow *f = &t->flows[i];
			if (i >= t->high || !(f->flags & FF_USED) || f->cls != c || f->prev != prev ||
			    ++listed > t->high)
				return -1;
			prev = i;
		}
		if (t->tail[c] != prev)
			return -1;
	}
	for (uint32_t i = 0; i < t->high; i++) {
		struct flow *f = &t->flows[i];
		if (!(f->flags & FF_USED))
			continue;
		used++;
		for (int d = 0; d < 2; d++) {
			int got;
			if (flow_lookup(t, f->proto, &f->k[d], &got) != i || got != d)
				return -1;
		}
	}
	for (uint32_t i = t->free_head; i != NAT_NONE; i = t->flows[i].next)
		if (i >= t->high || (t->flows[i].flags & FF_USED) || ++free_n > t->high)
			return -1;
	if (insp_expect_check(t) < 0 || gre_quote_check(t) < 0)
		return -1;
	return used == listed && used == t->n_used && used + free_n == t->high ? 0 : -1;
}
