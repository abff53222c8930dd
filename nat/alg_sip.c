/* The SIP engine (UDP and TCP 5060 by default): addresses in Via, Contact, the
 * Request-URI and the SDP (o=, c=, m=) translated, Content-Length fixed, RTP
 * and RTCP pinholes for the media, calls timed and torn down.
 *
 * A signalling flow keeps up to SIP_CALLS calls (by Call-ID hash); a call, up
 * to SIP_STREAMS media streams: the inside end (address, port), the public port
 * given to it, and the far end from the other side's SDP.
 *  - An SDP from inside: each m= of the inside host gets a public port P (RTP,
 *    even, with P+1 free for RTCP; the same again for a retransmission), and at
 *    once pinholes from the signalling peer to P and P+1, which also keep PAT
 *    from handing those ports out.
 *  - When both ends of a stream are known (the answer, in either direction):
 *    pinholes from the far media address (any port) to P and P+1, and from
 *    the inside media port to the far one, so that the inside's RTP leaves from
 *    P (symmetric RTP) whichever end speaks first.
 *  - Media flows belong to this engine (--list-nat) and time out after
 *    sip_media; UDP signalling after sip.
 *  - A call not answered within SIP_PROVISIONAL_MS (checked on its signalling
 *    flow's packets), a final error response, BYE or CANCEL end the call: its
 *    pinholes go, and its media flows (those keyed by the far end's SDP port).
 *
 * Over TCP a segment may hold several messages (each translated) or part of
 * one: a segment that does not start with a whole message passes untranslated
 * and is counted as partial (no reassembly: a SIP UA writes each message at
 * once, and a message cut across segments is rare). The first fragment of a
 * fragmented datagram passes the same way (the rest of the message, and of
 * what the UDP checksum covers, is in the later fragments). Bad input: a datagram that
 * starts like SIP and then breaks the rules, or lies in its Content-Length, is
 * dropped; on TCP it passes (dropping a segment would only stall the
 * connection); both are counted. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "nat/nat_priv.h"
#include "nat/sip_parse.h"

#define SIP_CALLS 4
#define SIP_STREAMS 2
#define SIP_PROVISIONAL_MS 60000	/* requirements.md: provisional call timeout 1 min */

struct sip_stream {
	uint32_t in_addr, far_addr;
	uint16_t in_port, pub_port, far_port;
	bool offered, answered, opened;
};

struct sip_call {
	uint64_t id;		/* Call-ID hash; 0: free */
	uint64_t deadline;	/* provisional: its end; 0 once answered */
	struct sip_stream s[SIP_STREAMS];
};

struct sip_state {
	uint8_t role;		/* 0 not yet known, 1 signalling, 2 media */
	uint8_t victim;		/* next call slot to reuse when all are taken */
	struct sip_call call[SIP_CALLS];
};

enum { ROLE_SIGNALLING = 1, ROLE_MEDIA = 2 };

static struct flow *flow_of(const struct nat_insp *c)
{
	return &c->t->flows[c->flow_];
}

static uint64_t hash_id(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h ? h : 1;
}

static uint8_t engine_id(const struct nat_insp *c)
{
	return (uint8_t)(c->c - c->t->ic);
}

/* The remote end of the signalling (as the inside sees it). */
static uint32_t peer(const struct nat_insp *c)
{
	return c->k[0].dst;
}

static void pinhole(struct nat_insp *c, const struct nat_expect *e)
{
	struct nat_expect x = *e;
	x.proto = 17;
	x.engine = engine_id(c);
	x.timeout_ms = c->t->rules->timeouts.sip_media * 1000u;
	nat_insp_expect(c, &x);
}

/* From far (any port) to pub:P (and P+1) towards the inside end. */
static void pinholes_from(struct nat_insp *c, const struct sip_stream *s, uint32_t far)
{
	for (uint16_t k = 0; k < 2; k++)
		pinhole(c, &(struct nat_expect){ .side = NAT_FROM_OUTSIDE, .match_src = far,
			.match_dst = nat_insp_public_addr(c), .match_dport = (uint16_t)(s->pub_port + k),
			.to_dst = s->in_addr, .to_dport = (uint16_t)(s->in_port + k) });
}

/* Both ends known: the far media address may differ from the signalling peer,
 * and the inside end's RTP to the far end leaves from P. */
static void pinholes_answered(struct nat_insp *c, struct sip_stream *s)
{
	if (!s->offered || !s->answered || s->opened || !s->far_addr || !s->far_port)
		return;
	s->opened = true;
	if (s->far_addr != peer(c))
		pinholes_from(c, s, s->far_addr);
	for (uint16_t k = 0; k < 2; k++)
		pinhole(c, &(struct nat_expect){ .side = NAT_FROM_INSIDE, .match_src = s->in_addr,
			.match_dst = s->far_addr, .match_sport = (uint16_t)(s->in_port + k),
			.match_dport = (uint16_t)(s->far_port + k), .to_src = nat_insp_public_addr(c),
			.to_dst = s->far_addr, .to_sport = (uint16_t)(s->pub_port + k),
			.to_dport = (uint16_t)(s->far_port + k) });
}

/* A call's end: its pinholes and the media flows keyed by the far end's port. */
static void call_end(struct nat_insp *c, struct sip_call *call)
{
	struct flow *self = flow_of(c);
	for (int i = 0; i < SIP_STREAMS; i++) {
		struct sip_stream *s = &call->s[i];
		if (!s->offered)
			continue;
		for (uint16_t k = 0; k < 2; k++) {
			nat_insp_unexpect(c, 17, nat_insp_public_addr(c), (uint16_t)(s->pub_port + k));
			nat_insp_unexpect(c, 17, s->in_addr, (uint16_t)(s->in_port + k));
			if (!s->far_port)
				continue;
			struct nat_key k0 = { s->in_addr, s->far_addr, (uint16_t)(s->in_port + k),
					      (uint16_t)(s->far_port + k) };
			uint32_t fi = flow_lookup(c->t, 17, &k0, NULL);
			if (fi != NAT_NONE && &c->t->flows[fi] != self &&
			    c->t->flows[fi].k[1].dport == (uint16_t)(s->pub_port + k))
				flow_end(c->t, fi, "sip", c->now_ms);
		}
	}
	memset(call, 0, sizeof(*call));
}

static struct sip_call *call_find(struct sip_state *st, uint64_t id)
{
	for (int i = 0; i < SIP_CALLS; i++)
		if (st->call[i].id == id)
			return &st->call[i];
	return NULL;
}

static struct sip_call *call_new(struct nat_insp *c, struct sip_state *st, uint64_t id)
{
	struct sip_call *call = call_find(st, 0);
	if (!call) {
		call = &st->call[st->victim++ % SIP_CALLS];
		call_end(c, call);	/* the oldest slot makes room */
	}
	call->id = id;
	call->deadline = c->now_ms + SIP_PROVISIONAL_MS;
	return call;
}

/* Provisional calls past their time end, whatever the timer did. */
static void expire_calls(struct nat_insp *c, struct sip_state *st)
{
	for (int i = 0; i < SIP_CALLS; i++)
		if (st->call[i].id && st->call[i].deadline && c->now_ms >= st->call[i].deadline)
			call_end(c, &st->call[i]);
}

struct media_ctx {
	struct nat_insp *c;
	struct sip_call *call;
	int next;		/* m= lines seen */
};

/* A public port pair P (even), P+1 for an inside stream; 0 when none. */
static uint16_t public_pair(struct nat_insp *c, uint32_t addr, uint16_t port)
{
	uint16_t want = (uint16_t)(port & ~1u);
	for (int tries = 0; tries < 16; tries++) {
		uint16_t p = nat_insp_public_port(c, 17, 0, addr, want);
		if (!p)
			return 0;
		if (!(p & 1) && p < 65534 && nat_insp_public_port(c, 17, 0, addr, (uint16_t)(p + 1)) == p + 1)
			return p;
		want = (uint16_t)((p + 2) & ~1u);
		if (want < 1024)
			want = 1024;
	}
	return 0;
}

/* sip_map's media(): the public port of an inside stream (the same one again
 * for a retransmission), with its pinholes from the signalling peer. */
static uint16_t media_port(void *arg, uint32_t addr, uint16_t port)
{
	struct media_ctx *m = arg;
	if (!m->call || m->next >= SIP_STREAMS) {
		m->next++;
		return port;	/* no room to track it: unchanged */
	}
	struct sip_stream *s = &m->call->s[m->next++];
	if (s->offered && s->in_addr == addr && s->in_port == port)
		return s->pub_port;
	if (s->offered) {
		/* A new offer for this stream: the old one's pinholes go. */
		for (uint16_t k = 0; k < 2; k++) {
			nat_insp_unexpect(m->c, 17, nat_insp_public_addr(m->c), (uint16_t)(s->pub_port + k));
			nat_insp_unexpect(m->c, 17, s->in_addr, (uint16_t)(s->in_port + k));
		}
		s->opened = false;
	}
	uint16_t pub = public_pair(m->c, addr, port);
	if (!pub)
		return 0;
	s->in_addr = addr;
	s->in_port = port;
	s->pub_port = pub;
	s->offered = true;
	pinholes_from(m->c, s, peer(m->c));
	pinholes_answered(m->c, s);
	return pub;
}

/* An SDP from outside: the far end of each stream. */
static void far_media(struct nat_insp *c, struct sip_call *call, const struct sip_msg *m)
{
	int i = 0;
	for (unsigned k = 0; k < m->n_site && i < SIP_STREAMS; k++) {
		const struct sip_site *site = &m->site[k];
		if (site->kind != SITE_SDP_M)
			continue;
		struct sip_stream *s = &call->s[i++];
		if (s->answered && (s->far_addr != site->addr || s->far_port != site->port))
			s->opened = false;	/* moved: pinholes for the new place too */
		s->far_addr = site->addr;
		s->far_port = site->port;
		s->answered = site->port != 0 && site->addr != 0;
		pinholes_answered(c, s);
	}
}

/* The call state a message changes, before it is translated. */
static struct sip_call *call_before(struct nat_insp *c, struct sip_state *st,
    const uint8_t *msg, const struct sip_msg *m)
{
	if (!m->call_id_len)
		return NULL;
	uint64_t id = hash_id(msg + m->call_id_off, m->call_id_len);
	struct sip_call *call = call_find(st, id);
	if (!call && ((m->request && m->method == SIP_INVITE) || m->sdp))
		call = call_new(c, st, id);
	return call;
}

static void call_after(struct nat_insp *c, struct sip_call *call, const struct sip_msg *m)
{
	if (!call)
		return;
	if (m->request && (m->method == SIP_BYE || m->method == SIP_CANCEL)) {
		call_end(c, call);
	} else if (!m->request && m->cseq_method == SIP_INVITE && m->status >= 200) {
		if (m->status >= 300)
			call_end(c, call);
		else
			call->deadline = 0;	/* answered: no longer provisional */
	}
}

/* One message at off: translated in place. Its new length, or an sip_err. */
static long message(struct nat_insp *c, struct sip_state *st, size_t off)
{
	bool stream = c->proto == 6;
	struct sip_msg m;
	const uint8_t *msg = c->payload + off;
	int r = sip_parse(msg, c->len - off, stream, &m);
	if (r < 0)
		return r;
	struct sip_call *call = call_before(c, st, msg, &m);
	struct media_ctx mc = { c, call, 0 };
	struct sip_map x;
	if (c->dir == 0)
		x = (struct sip_map){ .from_addr = c->k[0].src, .from_port = c->k[0].sport,
				      .to_addr = c->k[1].dst, .to_port = c->k[1].dport, .sdp = true,
				      .media = media_port, .arg = &mc };
	else
		x = (struct sip_map){ .from_addr = c->k[1].dst, .from_port = c->k[1].dport,
				      .to_addr = c->k[0].src, .to_port = c->k[0].sport, .uri = true };
	if (c->dir == 1 && call && m.sdp)
		far_media(c, call, &m);
	size_t cap = m.len + (SIP_MAX_SITES + 1) * 24;
	uint8_t *out = malloc(cap);
	if (!out)
		return SIP_NO_ROOM;
	long n = sip_translate(msg, &m, &x, out, cap);
	/* A datagram's bytes past Content-Length are not the message's: left out. */
	size_t span = stream ? m.len : c->len - off;
	if (n >= 0 && ((size_t)n != span || memcmp(out, msg, span) != 0) &&
	    nat_insp_replace(c, off, span, out, (size_t)n) < 0)
		n = SIP_NO_ROOM;
	free(out);
	if (n >= 0)
		call_after(c, call, &m);
	return n;
}

static bool blank(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

static bool signalling(const struct nat_insp *c)
{
	const struct nat_inspect_conf *conf = c->conf;
	return nat_inspect_port_in(conf, c->k[0].sport) || nat_inspect_port_in(conf, c->k[0].dport) ||
	       nat_inspect_port_in(conf, c->k[1].sport) || nat_inspect_port_in(conf, c->k[1].dport);
}

static enum nat_insp_verdict sip_inspect(struct nat_insp *c)
{
	struct sip_state *st = c->state;
	struct flow *f = flow_of(c);
	if (!st->role)
		st->role = signalling(c) ? ROLE_SIGNALLING : ROLE_MEDIA;
	if (c->proto == 17) {
		enum flow_class cls = st->role == ROLE_MEDIA ? FC_SIP_MEDIA : FC_SIP;
		if (f->cls != cls)
			flow_set_class(c->t, f, cls);
	}
	if (st->role == ROLE_MEDIA)
		return NAT_INSP_PASS;
	expire_calls(c, st);
	if (c->proto == 17 && get_u16(c->payload - 4) > c->len + 8) {
		/* The first fragment of a datagram: the rest of the message (and of
		 * the UDP checksum's reach) is not here. Passed as it is. */
		c->c->partial++;
		return NAT_INSP_PASS;
	}
	for (size_t off = 0; off < c->len;) {
		long n = message(c, st, off);
		if (n == SIP_NOT_SIP) {
			if (!blank(c->payload + off, c->len - off))
				c->c->bad_passed++;
			return NAT_INSP_PASS;
		}
		if (n == SIP_PARTIAL) {
			c->c->partial++;
			return NAT_INSP_PASS;
		}
		if (n == SIP_NO_ROOM)
			return NAT_INSP_PASS;	/* counted as no_room; sent as it was */
		if (n < 0) {
			if (c->proto == 6) {
				c->c->bad_passed++;
				return NAT_INSP_PASS;
			}
			c->c->bad_dropped++;
			return NAT_INSP_DROP;
		}
		if (c->proto == 17)
			break;
		off += (size_t)n;
	}
	return NAT_INSP_PASS;
}

const struct nat_engine nat_alg_sip = {
	.name = "sip",
	.protos = NAT_INSP_TCP | NAT_INSP_UDP,
	.ports = "5060",
	.state_size = sizeof(struct sip_state),
	.inspect = sip_inspect,
};
