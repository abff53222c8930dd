/* IKEv2 fragmentation (RFC 7383), see ikev2_frag.h.
 *
 * Sending: a message whose datagram would exceed fragment_size (the whole IP
 * datagram, as charon.fragment_size) is cut into pieces of its inner payloads; each
 * goes out as IKE header | SKF header (fragment number, total) | IV | encrypted piece
 * | ICV, with the message's ID. The fragments are kept for retransmission, which
 * resends them all (2.6.1).
 *
 * Receiving: a fragment is checked against the message IDs we expect and its ICV
 * before anything is kept, so only the peer (who holds the keys) can make us hold
 * memory; that memory is bounded per message, per SA (one request, one response)
 * and in all: at the bound in all, the oldest reassemblies (of any SA) are given up
 * to make room (frag_evicted); a partial one is given up FRAG_RX_TIMEOUT_MS after
 * its first fragment (frag_expired), by the SA's timer or by its next fragment,
 * whichever comes first. The rules of 2.6: a fragment with a larger Total Fragments than those
 * held restarts the reassembly, one with a smaller total is dropped; duplicates are
 * dropped; missing fragments are waited for (the peer retransmits them all). A
 * retransmitted first fragment of the request we last answered gets our answer
 * again (2.6.1). Every drop is counted (frag_dropped; an integrity failure in
 * rx_invalid too) and logged within the DROP_FRAG budget. */
#include "ike/ikev2_frag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/wipe.h"

#define SKF_HDR_LEN 8
#define NON_ESP_MARKER 4

static enum frag_policy policy(const struct ike_sa *sa)
{
	return sa->conn ? sa->conn->cfg->fragmentation : FRAG_NO;
}

void ikev2_frag_notify(struct ike_sa *sa, struct ikev2_builder *k)
{
	bool send = sa->initiator ? policy(sa) != FRAG_NO : sa->frag_peer;
	if (send)
		ikb_notify(k, 0, NULL, 0, N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
}

void ikev2_frag_peer(struct ike_sa *sa, const struct ikev2_payloads *pl)
{
	sa->frag_peer = policy(sa) != FRAG_NO &&
			ikev2_find_notify(pl, N_IKEV2_FRAGMENTATION_SUPPORTED) != NULL;
}

/* ---- sending ---- */

/* The largest IKE message (UDP payload without the non-ESP marker) a fragment may be. */
static size_t frag_limit(const struct ike_sa *sa)
{
	bool v6 = sa->remote.family == AF_INET6;
	size_t size = sa->core->t.fragment_size ? sa->core->t.fragment_size : v6 ? 1280 : 576;
	size_t over = (v6 ? 40 : 20) + 8;
	if (sa->local.port == sa->core->t.port_natt)
		over += NON_ESP_MARKER;
	return size > over ? size - over : 0;
}

static bool want_frags(const struct ike_sa *sa, uint8_t exchange, size_t len)
{
	if (exchange == IKE_SA_INIT || !sa->have_keys || len <= frag_limit(sa))
		return false;
	return policy(sa) == FRAG_FORCE || (policy(sa) == FRAG_YES && sa->frag_peer);
}

/* Appends one fragment, as [u16 length | datagram], to frags. */
static int put_fragment(struct ike_sa *sa, const struct ikev2_hdr *tmpl, uint8_t first,
			uint16_t num, uint16_t total, const uint8_t *piece, size_t len,
			struct buf *frags)
{
	struct ikev2_hdr h = *tmpl;
	size_t skf_len = SKF_HDR_LEN + sk_overhead(&sa->keys, len) + len;
	struct buf out;
	int rc = -1;

	h.next_payload = PL_SKF;
	h.length = (uint32_t)(IKEV2_HDR_LEN + skf_len);
	if (h.length > UINT16_MAX)
		return -1;
	buf_init(&out);
	ikev2_put_header(&out, &h);
	buf_put_u8(&out, num == 1 ? first : PL_NONE);
	buf_put_u8(&out, 0);
	buf_put_u16(&out, (uint16_t)skf_len);
	buf_put_u16(&out, num);
	buf_put_u16(&out, total);
	if (sk_encrypt_hdr(&sa->keys, sa->initiator, &out, SKF_HDR_LEN, piece, len) == 0 &&
	    !out.oom && out.len == h.length) {
		buf_put_u16(frags, (uint16_t)out.len);
		buf_put(frags, out.data, out.len);
		rc = frags->oom ? -1 : 0;
	}
	buf_free(&out);
	return rc;
}

void ikev2_frags_free(struct buf **frags)
{
	if (!*frags)
		return;
	buf_free(*frags);
	free(*frags);
	*frags = NULL;
}

void ikev2_frag_build(struct ike_sa *sa, uint8_t exchange, uint32_t msgid, bool response,
		      const struct ikev2_builder *inner, const struct buf *whole,
		      struct buf **frags)
{
	ikev2_frags_free(frags);
	if (!want_frags(sa, exchange, whole->len))
		return;
	size_t limit = frag_limit(sa);
	size_t piece = limit > IKEV2_HDR_LEN + SKF_HDR_LEN ?
		sk_max_plain(&sa->keys, limit - IKEV2_HDR_LEN - SKF_HDR_LEN) : 0;
	size_t len = inner->b.len;
	size_t total = piece ? (len + piece - 1) / piece : 0;
	if (total == 0 || total > UINT16_MAX) {
		log_err(LOG_ENC, "%s: fragment_size %u leaves no room for data, sending %s "
			"unfragmented", ike_sa_name(sa), sa->core->t.fragment_size,
			ikev2_exchange_name(exchange));
		return;
	}
	struct ikev2_hdr h;
	ike_fill_header(sa, exchange, msgid, response, &h);
	struct buf *f = calloc(1, sizeof(*f));
	for (size_t i = 0; i < total; i++) {
		size_t off = i * piece, n = len - off < piece ? len - off : piece;
		if (!f || put_fragment(sa, &h, inner->first, (uint16_t)(i + 1), (uint16_t)total,
				       inner->b.data + off, n, f) < 0) {
			log_err(LOG_ENC, "%s: encoding fragment %zu of %s failed, sending it "
				"unfragmented", ike_sa_name(sa), i + 1, ikev2_exchange_name(exchange));
			ikev2_frags_free(&f);
			return;
		}
	}
	*frags = f;
	log_info(LOG_ENC, "%s: splitting %s %s %u (%zu bytes) into %zu fragments",
		 ike_sa_name(sa), ikev2_exchange_name(exchange), response ? "response" : "request",
		 msgid, whole->len, total);
}

void ike_transmit_msg(struct ike_sa *sa, const struct buf *whole, const struct buf *frags)
{
	if (!frags || frags->len == 0) {
		ike_transmit(sa, whole);
		return;
	}
	struct rd r;
	rd_init(&r, frags->data, frags->len);
	while (rd_left(&r) >= 2) {
		uint16_t n = rd_u16(&r);
		const uint8_t *p = rd_bytes(&r, n);
		if (!p)
			break;
		struct buf one = { .data = (uint8_t *)p, .len = n };
		sa->core->st.frag_tx++;
		ike_transmit(sa, &one);
	}
}

/* ---- receiving ---- */

static void rx_free(struct ike *core, struct frag_rx **pp)
{
	struct frag_rx *f = *pp;
	if (!f)
		return;
	for (uint16_t i = 0; i < f->total; i++)
		if (f->part[i].data)
			wipe_free(f->part[i].data, f->part[i].len);
	core->frag_held -= f->bytes;
	*(f->older ? &f->older->newer : &core->frag_oldest) = f->newer;
	*(f->newer ? &f->newer->older : &core->frag_newest) = f->older;
	free(f);
	*pp = NULL;
}

void ikev2_frag_free(struct ike_sa *sa)
{
	rx_free(sa->core, &sa->frag_rx[0]);
	rx_free(sa->core, &sa->frag_rx[1]);
}

/* Gives up a partial reassembly, why: "timed out" or "evicted" (counted in *n). */
static void rx_give_up(struct frag_rx *f, const char *why, uint64_t *n)
{
	struct ike_sa *sa = f->sa;
	(*n)++;
	log_ctl(LOG_ENC, "%s: reassembly of %s %s %u %s with %u of %u fragments, discarded",
		ike_sa_name(sa), ikev2_exchange_name(f->exchange),
		f->response ? "response" : "request", f->msgid, why, f->have, f->total);
	rx_free(sa->core, &sa->frag_rx[f->response]);
}

static ms_t rx_deadline(const struct frag_rx *f)
{
	return f->started + FRAG_RX_TIMEOUT_MS;
}

ms_t ikev2_frag_tick(struct ike_sa *sa, ms_t now)
{
	ms_t next = MS_NEVER;
	for (int i = 0; i < 2; i++) {
		struct frag_rx *f = sa->frag_rx[i];
		if (f && now >= rx_deadline(f))
			rx_give_up(f, "timed out", &sa->core->st.frag_expired);
		else if (f && rx_deadline(f) < next)
			next = rx_deadline(f);
	}
	return next;
}

/* Room for len more bytes in all: the oldest reassemblies other than keep go. */
static bool rx_room(struct ike *core, const struct frag_rx *keep, size_t len)
{
	size_t max = core->frag_held_max ? core->frag_held_max : FRAG_MAX_HELD;
	while (core->frag_held + len > max) {
		struct frag_rx *old = core->frag_oldest;
		if (old == keep)
			old = old->newer;
		if (!old)
			return false;
		rx_give_up(old, "evicted (fragments held in all at the bound)",
			   &core->st.frag_evicted);
	}
	return true;
}

static void __attribute__((format(printf, 4, 5)))
frag_drop(struct ike_sa *sa, const struct msg_in *m, int level, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ike_drop(sa->core, DROP_FRAG, &sa->core->st.frag_dropped, level,
		 "%s: fragment of %s %s %u %s, dropped", ike_sa_name(sa),
		 ikev2_exchange_name(m->hdr.exchange),
		 m->hdr.flags & IKEV2_FLAG_RESPONSE ? "response" : "request", m->hdr.msgid, why);
}

/* The SKF header: fragment number, total, and the first inner payload's type. */
struct skf {
	uint8_t next;
	uint16_t num, total;
};

static int parse_skf(const struct msg_in *m, struct skf *f)
{
	struct rd r;
	if (m->pl.sk_off > m->raw_len)
		return -1;
	rd_init(&r, m->raw + m->pl.sk_off, m->raw_len - m->pl.sk_off);
	f->next = rd_u8(&r);
	rd_skip(&r, 3);
	f->num = rd_u16(&r);
	f->total = rd_u16(&r);
	return r.err ? -1 : 0;
}

/* Is this fragment's message one we take now? 1: yes; 0: the first fragment of the
 * request we answered last (answer again); -1: no (dropped here). */
static int expected(struct ike_sa *sa, const struct msg_in *m, const struct skf *f)
{
	bool response = m->hdr.flags & IKEV2_FLAG_RESPONSE;
	bool from_peer = !(m->hdr.flags & IKEV2_FLAG_INITIATOR) == sa->initiator;
	if (!from_peer || !sa->have_keys) {
		frag_drop(sa, m, 1, "%s", from_peer ? "before the IKE SA has keys" :
			  "carrying our own role");
		return -1;
	}
	if (policy(sa) == FRAG_NO) {
		frag_drop(sa, m, 1, "while fragmentation = no");
		return -1;
	}
	if (response) {
		if (sa->req.kind != TASK_NONE && m->hdr.msgid == sa->req.msgid &&
		    m->hdr.exchange == sa->req.exchange)
			return 1;
		frag_drop(sa, m, 2, "matching no outstanding request");
		return -1;
	}
	if (m->hdr.msgid == sa->peer_msgid)
		return 1;
	if (m->hdr.msgid + 1 == sa->peer_msgid && sa->have_last_response && f->num == 1)
		return 0;
	frag_drop(sa, m, 2, "out of window (expected %u)", sa->peer_msgid);
	return -1;
}

/* Finds or makes the reassembly for this fragment's message, by the 2.6 rules. */
static struct frag_rx *rx_slot(struct ike_sa *sa, const struct msg_in *m, const struct skf *f)
{
	bool response = m->hdr.flags & IKEV2_FLAG_RESPONSE;
	struct frag_rx **pp = &sa->frag_rx[response];
	struct frag_rx *cur = *pp;
	if (cur && sa->core->now >= rx_deadline(cur)) {
		rx_give_up(cur, "timed out", &sa->core->st.frag_expired);	/* before the timer */
		cur = NULL;
	}
	if (cur && (cur->msgid != m->hdr.msgid || cur->exchange != m->hdr.exchange))
		rx_free(sa->core, pp);		/* an older message, given up */
	else if (cur && f->total < cur->total) {
		frag_drop(sa, m, 1, "with %u fragments in all, fewer than the %u before",
			  f->total, cur->total);
		return NULL;
	} else if (cur && f->total > cur->total) {
		log_ctl(LOG_ENC, "%s: peer now sends %u fragments instead of %u, restarting "
			"reassembly", ike_sa_name(sa), f->total, cur->total);
		rx_free(sa->core, pp);
	}
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp) + f->total * sizeof((*pp)->part[0]));
		if (!*pp) {
			frag_drop(sa, m, 0, "(out of memory)");
			return NULL;
		}
		struct frag_rx *rx = *pp, **tail = &sa->core->frag_newest;
		rx->sa = sa;
		rx->started = sa->core->now;
		rx->response = response;
		rx->msgid = m->hdr.msgid;
		rx->exchange = m->hdr.exchange;
		rx->total = f->total;
		rx->older = *tail;
		*(*tail ? &(*tail)->newer : &sa->core->frag_oldest) = rx;
		*tail = rx;
		ike_sa_touch(sa);	/* its timer: rx_deadline */
	}
	return *pp;
}

/* Keeps a decrypted fragment; false when it was not kept (already dropped). */
static bool rx_keep(struct ike_sa *sa, const struct msg_in *m, const struct skf *f,
		    struct buf *plain)
{
	bool response = m->hdr.flags & IKEV2_FLAG_RESPONSE;
	struct frag_rx *rx = rx_slot(sa, m, f);
	if (!rx)
		return false;
	struct frag_part *p = &rx->part[f->num - 1];
	if (p->data) {
		frag_drop(sa, m, 2, "%u of %u: a duplicate", f->num, f->total);
		return false;
	}
	if (rx->bytes + plain->len > FRAG_MAX_MESSAGE) {
		frag_drop(sa, m, 1, "%u of %u: reassembled message over %u bytes, discarding it",
			  f->num, f->total, FRAG_MAX_MESSAGE);
		rx_free(sa->core, &sa->frag_rx[response]);
		return false;
	}
	if (!rx_room(sa->core, rx, plain->len)) {
		frag_drop(sa, m, 1, "%u of %u: %zu bytes of fragments held in all already",
			  f->num, f->total, sa->core->frag_held);
		return false;
	}
	/* An empty fragment is legal: mark it with a 1-byte buffer so it counts as held. */
	p->len = plain->len;
	p->data = malloc(plain->len ? plain->len : 1);
	if (!p->data) {
		p->len = 0;
		frag_drop(sa, m, 0, "(out of memory)");
		return false;
	}
	if (plain->len)
		memcpy(p->data, plain->data, plain->len);
	if (f->num == 1)
		rx->first = f->next;
	rx->have++;
	rx->bytes += plain->len;
	sa->core->frag_held += plain->len;
	return true;
}

/* All fragments are in: the message's inner payloads go into m, as if it had come
 * in one SK payload. */
static int rx_complete(struct ike_sa *sa, struct msg_in *m)
{
	bool response = m->hdr.flags & IKEV2_FLAG_RESPONSE;
	struct frag_rx *rx = sa->frag_rx[response];
	uint8_t unsupported;
	const char *err = NULL;

	buf_reset(&m->plain);
	for (uint16_t i = 0; i < rx->total; i++)
		buf_put(&m->plain, rx->part[i].data, rx->part[i].len);
	uint8_t first = rx->first;
	uint16_t total = rx->total;
	rx_free(sa->core, &sa->frag_rx[response]);
	if (m->plain.oom)
		return -1;
	m->pl.has_sk = true;
	m->pl.has_skf = false;
	m->pl.sk_first = first;
	if (ikev2_parse_payloads(first, m->plain.data, m->plain.len, 0, &m->pl, &unsupported,
				 &err) < 0) {
		log_err(LOG_ENC, "invalid payloads in a message reassembled from %u fragments "
			"from %s: %s", total, ike_sa_name(sa), err);
		return -1;
	}
	sa->core->st.frag_reassembled++;
	log_ctl(LOG_ENC, "%s: %s %s %u reassembled from %u fragments (%zu bytes)",
		ike_sa_name(sa), ikev2_exchange_name(m->hdr.exchange),
		response ? "response" : "request", m->hdr.msgid, total, m->plain.len);
	return 0;
}

void ikev2_frag_input(struct ike_sa *sa, struct msg_in *m)
{
	struct ike *core = sa->core;
	bool response = m->hdr.flags & IKEV2_FLAG_RESPONSE;
	bool from_initiator = m->hdr.flags & IKEV2_FLAG_INITIATOR;
	struct skf f;
	struct buf plain;

	core->st.frag_rx++;
	if (parse_skf(m, &f) < 0 || f.num == 0 || f.num > f.total) {
		frag_drop(sa, m, 1, "with an invalid fragment number");
		return;
	}
	if (f.total > FRAG_MAX_FRAGMENTS) {
		frag_drop(sa, m, 1, "announcing %u fragments (at most %u)", f.total,
			  FRAG_MAX_FRAGMENTS);
		return;
	}
	int want = expected(sa, m, &f);
	if (want < 0)
		return;
	buf_init(&plain);
	if (sk_decrypt_hdr(&sa->keys, from_initiator, m->raw, m->raw_len, m->pl.sk_off,
			   SKF_HDR_LEN, &plain) < 0) {
		frag_drop(sa, m, 0, "%u of %u: failed the integrity check", f.num, f.total);
		core->st.rx_invalid++;		/* as any message that fails it */
		goto out;
	}
	if (want == 0) {
		/* 2.6.1: only the first fragment of a retransmitted request is answered. */
		log_ctl(LOG_IKE, "received retransmit of request %u, retransmitting response",
			m->hdr.msgid);
		core->st.retransmits++;
		ike_transmit_msg(sa, &sa->last_response, sa->resp_frags);
		goto out;
	}
	if (!rx_keep(sa, m, &f, &plain) || sa->frag_rx[response]->have < sa->frag_rx[response]->total)
		goto out;
	if (rx_complete(sa, m) < 0) {
		core->st.rx_invalid++;
		goto out;
	}
	if (response) {
		ike_dispatch_response(sa, m);
	} else {
		uint8_t hash[16];
		crypto_generichash(hash, sizeof(hash), m->plain.data, m->plain.len, NULL, 0);
		ike_dispatch_request(sa, m, hash);
	}
out:
	buf_wipe_free(&plain);
}
