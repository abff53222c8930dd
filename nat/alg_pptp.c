/* PPTP inspection (TCP 1723, RFC 2637) and its enhanced GRE (RFC 2637 4.1).
 *
 * Several inside hosts may use the same call ID towards one server (every
 * Windows client starts somewhere), and one control connection may carry
 * several calls. The inside end's call ID is therefore translated, per call:
 * in the control messages the inside end sends, its own Call ID field goes
 * from the original to the mapped value; in those the outside end sends, the
 * Peer's Call ID field goes back. The outside end's call IDs are never
 * touched. Each call gets a GRE flow (see nat_priv.h):
 *   k[0] = {inside host, remote, 0, outside end's call ID}  (GRE from inside)
 *   k[1] = {remote, public address, 0, mapped call ID}      (GRE from outside)
 * and GRE from outside has its key rewritten to the original call ID (kept in
 * the flow). Unlike netfilter's PPTP NAT, which derives the call ID from the
 * control connection's port and so has one call per control connection, the
 * mapped ID is chosen per call like a PAT port.
 *
 * Which field is whose does not depend on who is the client (PNS) or the
 * server (PAC): every message names the sender's own call ID or the
 * receiver's (Peer's), so the same rules serve a client inside (PAT) and a
 * server inside (port forwarding).
 *
 * Only protocol version 1 is translated: a control connection whose
 * Start-Control-Connection-Request or -Reply names another version is passed
 * untranslated from then on (counted in bad_passed and reported as an event).
 * Every length is checked: a message whose Length is below the header or below
 * the fields its type needs is dropped (bad_dropped); a message cut at the end
 * of a segment is left as it is (partial), the rest of it skipped in the next. */
#include <string.h>

#include "lib/buf.h"
#include "nat/nat_priv.h"

#define PPTP_HDR 12
#define PPTP_MAGIC 0x1a2b3c4du
#define PPTP_CONTROL 1
#define PPTP_VERSION 0x0100
#define PPTP_CALLS 16		/* calls per control connection */
#define GRE_PROTO 47

enum {
	SCCRQ = 1, SCCRP, STOPCCRQ, STOPCCRP, ECHORQ, ECHORP, OCRQ, OCRP, ICRQ, ICRP, ICCN,
	CCRQ, CDN, WEN, SLI, PPTP_TYPES
};

/* Per message type: its length (RFC 2637 section 2), and where the sender's own
 * call ID and the receiver's (Peer's Call ID) are (0: none). */
static const struct {
	uint16_t len;
	uint8_t own, peer;
	bool opens;		/* the sender's call ID starts a call */
	bool closes;		/* the call of the sender's call ID ends */
	uint8_t result;		/* a reply's Result Code: the call ends unless it is 1 */
} msg[PPTP_TYPES] = {
	[SCCRQ] = { 156, 0, 0, false, false },
	[SCCRP] = { 156, 0, 0, false, false },
	[STOPCCRQ] = { 16, 0, 0, false, false },
	[STOPCCRP] = { 16, 0, 0, false, false },
	[ECHORQ] = { 16, 0, 0, false, false },
	[ECHORP] = { 20, 0, 0, false, false },
	[OCRQ] = { 168, 12, 0, true, false },
	[OCRP] = { 32, 12, 14, true, false, 16 },
	[ICRQ] = { 220, 12, 0, true, false },
	[ICRP] = { 24, 12, 14, true, false, 16 },
	[ICCN] = { 28, 0, 12, false, false },
	[CCRQ] = { 16, 12, 0, false, true },
	[CDN] = { 148, 12, 0, false, true },
	[WEN] = { 40, 0, 12, false, false },
	[SLI] = { 24, 0, 12, false, false },
};

struct pptp_call {
	uint16_t orig, mapped;	/* the inside end's call ID, as sent and as translated */
	uint16_t remote;	/* the outside end's call ID, once known */
	uint8_t used, remote_known;
	uint32_t gre;		/* its GRE flow (checked by key before use) */
};

struct pptp_state {
	uint8_t passthru;	/* not version 1: nothing translated */
	uint32_t skip_seq[2];	/* [d]: a segment from d at this seq ... */
	uint16_t skip[2];	/* ... starts with this many bytes of a cut message */
	struct pptp_call call[PPTP_CALLS];
};

/* The GRE keys of a call; k0.sport != 0 until the remote call ID is known, so
 * that no packet matches the placeholder. */
static void gre_keys(const struct nat_key *ctl, const struct pptp_call *c, struct nat_key *k0,
    struct nat_key *k1)
{
	*k0 = (struct nat_key){ ctl[0].src, ctl[0].dst, c->remote_known ? 0 : c->mapped,
				c->remote_known ? c->remote : 0 };
	*k1 = (struct nat_key){ ctl[1].src, ctl[1].dst, 0, c->mapped };
}

/* The call's GRE flow, if it is still the one made for it. */
static struct flow *gre_flow(struct nat_insp *c, const struct pptp_call *call)
{
	struct nat_table *t = c->t;
	struct nat_key k0, k1;
	if (call->gre >= t->high)
		return NULL;
	struct flow *f = &t->flows[call->gre];
	gre_keys(c->k, call, &k0, &k1);
	if (!(f->flags & FF_USED) || f->proto != GRE_PROTO || f->k[1].src != k1.src ||
	    f->k[1].dst != k1.dst || f->k[1].dport != k1.dport || f->k[0].src != k0.src)
		return NULL;
	return f;
}

static void call_end(struct nat_insp *c, struct pptp_call *call, const char *why)
{
	struct flow *f = gre_flow(c, call);
	if (f)
		flow_end(c->t, (uint32_t)(f - c->t->flows), why, c->now_ms);
	memset(call, 0, sizeof(*call));
}

static struct pptp_call *call_by(struct pptp_state *s, int which, uint16_t id)
{
	for (size_t i = 0; i < PPTP_CALLS; i++) {
		struct pptp_call *call = &s->call[i];
		if (!call->used)
			continue;
		if ((which == 0 && call->orig == id) || (which == 1 && call->mapped == id) ||
		    (which == 2 && call->remote_known && call->remote == id))
			return call;
	}
	return NULL;
}

/* A new call for the inside end's call ID orig: a mapped ID (orig itself when
 * free, else one chosen like a PAT port) and its GRE flow, on the control
 * flow's rule. NULL when there is no room. */
static struct pptp_call *call_new(struct nat_insp *c, struct pptp_state *s, uint16_t orig)
{
	struct nat_table *t = c->t;
	struct pptp_call *call = NULL;
	for (size_t i = 0; i < PPTP_CALLS && !call; i++)
		if (!s->call[i].used)
			call = &s->call[i];
	if (!call)
		return NULL;
	struct nat_key k0 = { c->k[0].src, c->k[0].dst, 0, orig };
	struct nat_key k1 = { c->k[1].src, c->k[1].dst, 0, orig ? orig : 1 };
	if (!nat_pat_port(t, GRE_PROTO, &k0, &k1) || k1.dport == 0)
		return NULL;
	*call = (struct pptp_call){ .orig = orig, .mapped = k1.dport, .used = 1 };
	gre_keys(c->k, call, &k0, &k1);
	struct flow *ctl = &t->flows[c->flow_];
	uint32_t i = flow_key_free(t, GRE_PROTO, &k0) ?
		flow_new(t, GRE_PROTO, &k0, &k1, c->now_ms) : NAT_NONE;
	if (i == NAT_NONE) {
		memset(call, 0, sizeof(*call));
		return NULL;
	}
	struct flow *f = &t->flows[i];
	f->rule = ctl->rule;
	f->gen = ctl->gen;
	f->u.gre_cid = orig;
	if (f->gen == t->gen && f->rule < t->n_rc) {
		t->rc[f->rule].flows++;
		t->rc[f->rule].active++;
	}
	/* A call lives as long as its control connection, not as idle UDP. */
	flow_set_class(t, f, FC_TCP);
	call->gre = i;
	flow_event(t, NAT_EV_BUILT, f, NULL, c->dir ? NAT_FROM_OUTSIDE : NAT_FROM_INSIDE,
		   c->now_ms);
	return call;
}

/* The outside end's call ID is known: the GRE flow's inside key becomes final
 * (a stale GRE flow of an earlier call on the same key gives way). */
static void call_remote(struct nat_insp *c, struct pptp_call *call, uint16_t remote)
{
	if (call->remote_known)
		return;
	struct flow *f = gre_flow(c, call);
	call->remote = remote;
	call->remote_known = 1;
	if (!f)
		return;
	struct nat_key k0, k1;
	gre_keys(c->k, call, &k0, &k1);
	uint32_t old = flow_lookup(c->t, GRE_PROTO, &k0, NULL);
	if (old != NAT_NONE)
		flow_end(c->t, old, "replaced", c->now_ms);
	/* k0 is free now; final, it lets ICMP errors about the call's GRE find it. */
	if (flow_rekey(c->t, (uint32_t)(f - c->t->flows), 0, &k0))
		gre_quote_add(c->t, (uint32_t)(f - c->t->flows));
}

/* Writes a call ID field; the checksum is redone only when something changed. */
static void put_id(struct nat_insp *c, uint8_t *at, uint16_t id)
{
	if (get_u16(at) == id)
		return;
	put_u16(at, id);
	nat_insp_touch(c);
}

/* One message from c->dir at m (len bytes, all of it in this segment). Returns
 * false when the packet is to be dropped. */
static bool message(struct nat_insp *c, struct pptp_state *s, uint8_t *m, size_t len)
{
	uint16_t type = get_u16(m + 8);
	if (get_u16(m + 2) != PPTP_CONTROL || type == 0 || type >= PPTP_TYPES)
		return true;	/* management messages, unknown types: as they are */
	if (len < msg[type].len)
		return false;	/* its fields would lie past its end */
	if (type == SCCRQ || type == SCCRP) {
		if (get_u16(m + 12) != PPTP_VERSION && !s->passthru) {
			s->passthru = 1;
			c->c->bad_passed++;
			nat_insp_note(c, "PPTP version is not 1: control connection passed "
					 "untranslated, no GRE mapping");
		}
		return true;
	}
	if (s->passthru)
		return true;
	uint8_t *own = msg[type].own ? m + msg[type].own : NULL;
	uint8_t *peer = msg[type].peer ? m + msg[type].peer : NULL;
	struct pptp_call *call = NULL;
	if (c->dir == 0 && own) {
		/* The inside end names its own call: original -> mapped. */
		uint16_t id = get_u16(own);
		call = call_by(s, 0, id);
		if (!call && msg[type].opens)
			call = call_new(c, s, id);
		if (!call)
			return true;	/* a call we do not know (or no room): untouched */
		put_id(c, own, call->mapped);
		if (peer)
			call_remote(c, call, get_u16(peer));
	} else if (c->dir == 1) {
		/* The outside end names ours (mapped -> original) and its own. */
		if (peer && (call = call_by(s, 1, get_u16(peer)))) {
			put_id(c, peer, call->orig);
			if (own)
				call_remote(c, call, get_u16(own));
		} else if (own && msg[type].closes) {
			call = call_by(s, 2, get_u16(own));
		}
	}
	if (call && msg[type].closes)
		call_end(c, call, type == CCRQ ? "PPTP Call-Clear-Request" :
			 "PPTP Call-Disconnect-Notify");
	else if (call && msg[type].result && m[msg[type].result] != 1)
		call_end(c, call, "PPTP call refused");
	return true;
}

static enum nat_insp_verdict pptp_inspect(struct nat_insp *c)
{
	struct pptp_state *s = c->state;
	int d = c->dir;
	size_t off = 0;
	if (s->skip[d] && c->seq == s->skip_seq[d])
		off = s->skip[d] < c->len ? s->skip[d] : c->len;	/* the rest of a cut message */
	s->skip[d] = 0;
	while (off < c->len) {
		uint8_t *m = c->payload + off;
		size_t left = c->len - off;
		if (left < PPTP_HDR) {
			c->c->partial++;	/* the header continues in the next segment */
			break;
		}
		uint16_t mlen = get_u16(m);
		if (get_u32(m + 4) != PPTP_MAGIC) {
			c->c->bad_passed++;	/* not a message boundary: we lost the framing */
			break;
		}
		if (mlen < PPTP_HDR || (mlen & 1)) {
			c->c->bad_dropped++;
			return NAT_INSP_DROP;
		}
		if (mlen > left) {
			c->c->partial++;
			s->skip[d] = (uint16_t)(mlen - left);
			s->skip_seq[d] = c->seq + (uint32_t)c->len;
			break;
		}
		if (!message(c, s, m, mlen)) {
			c->c->bad_dropped++;
			return NAT_INSP_DROP;
		}
		off += mlen;
	}
	return NAT_INSP_PASS;
}

/* The control connection is gone: so are its calls (TCP close, eviction, flush). */
static void pptp_end(struct nat_insp *c)
{
	struct pptp_state *s = c->state;
	for (size_t i = 0; i < PPTP_CALLS; i++)
		if (s->call[i].used)
			call_end(c, &s->call[i], "PPTP control connection closed");
}

const struct nat_engine nat_alg_pptp = {
	.name = "pptp",
	.protos = NAT_INSP_TCP,
	.ports = "1723",
	.state_size = sizeof(struct pptp_state),
	.inspect = pptp_inspect,
	.closed = pptp_end,
};
