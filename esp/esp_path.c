/* One packet in each direction: TUN -> policy -> SA -> ESP -> network, and
 * network -> SA -> ESP -> selector check -> TUN. No allocation, no locks but the
 * SA's own (the caller holds the database read lock for the whole batch). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>

#include "esp/engine_priv.h"
#include "esp/gso.h"
#include "esp/mss_clamp.h"
#include "esp/natt_csum.h"
#include "esp/pmtu.h"
#include "lib/buf.h"
#include "lib/log.h"

#define SLOT_PAYLOAD 65535

int ctx_init(struct esp_ctx *c, struct esp_engine *e, bool batching)
{
	memset(c, 0, sizeof(*c));
	c->e = e;
	c->batching = batching;
	c->tun_fd = -1;
	c->slot = (ESP_HEADROOM + SLOT_PAYLOAD + ESP_TAILROOM + 63) & ~(size_t)63;
	c->bufs = aligned_alloc(64, ESP_BATCH * c->slot);
	c->frag = aligned_alloc(64, ESP_FRAG_AREA);
	c->super = malloc(GSO_VNET_HDR_LEN + SLOT_PAYLOAD);
	return c->bufs && c->frag && c->super ? 0 : -1;
}

void ctx_free(struct esp_ctx *c)
{
	free(c->bufs);
	free(c->frag);
	free(c->super);
	c->bufs = c->frag = c->super = NULL;
}

/* --- sending ---------------------------------------------------------------------- */

/* UDP GSO: pkt (already in iov[niov - 1]) joins the batch's last message when the
 * kernel can send both as one: same addresses, all earlier packets of the same size
 * and pkt not longer (a shorter one ends the message), within the kernel's limits. */
static bool gso_join(struct esp_engine *e, struct mmsg_batch *b, const struct msghdr *m,
		     size_t len)
{
	if (!b->n || !atomic_load_explicit(&e->udp_gso, memory_order_relaxed))
		return false;
	unsigned i = b->n - 1;
	struct msghdr *last = &b->msg[i].msg_hdr;
	size_t seg = last->msg_iov[0].iov_len;
	if (last->msg_iovlen >= ESP_GSO_MAX_SEGS || len > seg ||
	    last->msg_iov[last->msg_iovlen - 1].iov_len != seg ||
	    b->bytes[i] + len > ESP_GSO_MAX_BYTES || last->msg_namelen != m->msg_namelen ||
	    memcmp(last->msg_name, m->msg_name, m->msg_namelen) != 0 ||
	    last->msg_controllen != m->msg_controllen ||
	    (m->msg_controllen &&
	     memcmp(last->msg_control, m->msg_control, m->msg_controllen) != 0))
		return false;
	last->msg_iovlen++;
	b->gso[i] = (uint16_t)seg;
	b->bytes[i] += len;
	return true;
}

static void batch_add(struct esp_ctx *c, const struct sa *sa, const uint8_t *pkt, size_t len)
{
	bool udp = sa->cfg.natt_type != 0;
	struct mmsg_batch *b = udp ? &c->udp : &c->raw;
	if (b->niov == ESP_TX_PKTS || b->n == ESP_BATCH)
		path_flush(c);
	struct iovec *iov = &b->iov[b->niov++];
	iov->iov_base = (void *)pkt;
	iov->iov_len = len;
	/* The message is built in the next free place; it is kept, or joins the last. */
	unsigned i = b->n;
	struct addr dst = sa->cfg.dst;
	dst.port = udp ? sa->cfg.natt_dport : 0;
	struct msghdr *m = &b->msg[i].msg_hdr;
	memset(m, 0, sizeof(*m));
	m->msg_iov = iov;
	m->msg_iovlen = 1;
	m->msg_name = &b->name[i];
	m->msg_namelen = addr_to_sockaddr(&dst, &b->name[i]);
	/* Choose the SA's source address unless the socket is bound to one. */
	if (!c->e->cfg.bind_addr.family && sa->cfg.src.family == AF_INET) {
		m->msg_control = b->ctl[i].buf;
		m->msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
		struct cmsghdr *cm = CMSG_FIRSTHDR(m);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
		struct in_pktinfo pi = { .ipi_spec_dst = sa->cfg.src.u.v4 };
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	if (udp && gso_join(c->e, b, m, len))
		return;
	b->gso[i] = 0;
	b->bytes[i] = len;
	b->n++;
}

static void emit_net(struct esp_ctx *c, const struct sa *sa, const uint8_t *pkt, size_t len)
{
	struct esp_engine *e = c->e;
	if (e->cfg.no_io) {
		if (e->cfg.net_send) {
			bool udp = sa->cfg.natt_type != 0;
			struct addr src = sa->cfg.src, dst = sa->cfg.dst;
			src.port = udp ? sa->cfg.natt_sport : 0;
			dst.port = udp ? sa->cfg.natt_dport : 0;
			e->cfg.net_send(e->cfg.hook_arg, &src, &dst, udp, pkt, len);
		}
	} else {
		batch_add(c, sa, pkt, len);
		if (!c->batching)
			path_flush(c);
	}
}

/* Adds the UDP_SEGMENT control message to message i, after its IP_PKTINFO if any. */
static void gso_cmsg(struct mmsg_batch *b, unsigned i)
{
	struct msghdr *m = &b->msg[i].msg_hdr;
	size_t off = m->msg_control ? m->msg_controllen : 0;
	m->msg_control = b->ctl[i].buf;
	struct cmsghdr *cm = (struct cmsghdr *)(b->ctl[i].buf + off);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(cm), &b->gso[i], sizeof(uint16_t));
	m->msg_controllen = off + CMSG_SPACE(sizeof(uint16_t));
}

/* The kernel refused UDP GSO (EIO: no checksum offload on the way out; EINVAL: it
 * does not support it for this route): turn it off for good, count that, and send
 * the message's packets one by one. */
static void gso_refused(struct esp_engine *e, int fd, struct mmsg_batch *b, unsigned i)
{
	atomic_store(&e->udp_gso, false);
	STAT_INC(e, gso_fallbacks);
	log_err(LOG_ESP, "UDP GSO refused by the kernel (%s): sending without it",
		strerror(errno));
	struct msghdr m = b->msg[i].msg_hdr;
	m.msg_controllen -= CMSG_SPACE(sizeof(uint16_t));
	if (!m.msg_controllen)
		m.msg_control = NULL;
	for (size_t k = 0; k < b->msg[i].msg_hdr.msg_iovlen; k++) {
		m.msg_iov = &b->msg[i].msg_hdr.msg_iov[k];
		m.msg_iovlen = 1;
		if (sendmsg(fd, &m, 0) < 0)
			STAT_INC(e, send_errors);
	}
}

static void flush_one(struct esp_engine *e, int fd, struct mmsg_batch *b)
{
	for (unsigned i = 0; i < b->n; i++)
		if (b->gso[i])
			gso_cmsg(b, i);
	unsigned done = 0;
	while (done < b->n) {
		int n = sendmmsg(fd, b->msg + done, b->n - done, 0);
		if (n <= 0) {
			/* Skip the message that failed (unreachable, buffer full) and go on. */
			if (b->gso[done] && (errno == EIO || errno == EINVAL))
				gso_refused(e, fd, b, done);
			else
				STAT_INC(e, send_errors);
			done++;
			continue;
		}
		done += (unsigned)n;
	}
	b->n = b->niov = 0;
}

void path_flush(struct esp_ctx *c)
{
	if (c->raw.n)
		flush_one(c->e, c->e->raw_fd, &c->raw);
	if (c->udp.n)
		flush_one(c->e, c->e->udp_fd, &c->udp);
}

/* pkt must stay where it is until the batch ends when it may wait (c->tun_defer). */
static void emit_tun(struct esp_ctx *c, uint8_t *pkt, size_t len, bool may_wait)
{
	struct esp_engine *e = c->e;
	if (e->cfg.no_io) {
		if (e->cfg.tun_write)
			e->cfg.tun_write(e->cfg.hook_arg, pkt, len);
	} else if (may_wait && c->tun_defer) {
		if (c->tq_n == ESP_TUNQ)
			io_tun_flush(c);
		c->tq_pkt[c->tq_n] = pkt;
		c->tq_len[c->tq_n++] = len;
	} else {
		io_tun_write(e, c->tun_fd >= 0 ? c->tun_fd : e->tun.fd[0], pkt, len);
	}
}

/* The largest inner packet whose ESP packet fits the path MTU, for this SA's outer
 * header (IPv4/IPv6, NAT-T) and transform. */
static size_t inner_mtu(const struct esp_engine *e, const struct sa *sa)
{
	size_t outer = (sa->cfg.dst.family == AF_INET6 ? 40 : 20) + (sa->cfg.natt_type ? 8 : 0);
	return pmtu_inner_mtu(e->cfg.mtu, outer, esp_crypto_iv_len(sa->crypto),
			      esp_crypto_icv_len(sa->crypto), esp_crypto_block(sa->crypto));
}

/* TCP SYNs in tunnel traffic get an MSS that fits the SA's inner MTU (both
 * directions), so TCP does not depend on the ICMP answers below. */
static void clamp(struct esp_engine *e, const struct sa *sa, uint8_t *pkt,
		  const struct pkt_tuple *t)
{
	if (t->proto != 6 || e->cfg.mss < 0 || t->later_fragment ||
	    t->total < t->hdrlen + 14 || !(pkt[t->hdrlen + 13] & 0x02))
		return;
	size_t ip_tcp = t->family == AF_INET ? 40 : 60, mtu = inner_mtu(e, sa);
	uint16_t limit = (uint16_t)(mtu > ip_tcp + 536 ? mtu - ip_tcp : 536);
	uint16_t mss = e->cfg.mss > 0 && e->cfg.mss < limit ? (uint16_t)e->cfg.mss : limit;
	if (mss_clamp(pkt, t, mss))
		STAT_INC(e, mss_clamped);
}

/* --- outbound ----------------------------------------------------------------------- */

static enum esp_verdict hold(struct esp_ctx *c, struct sp *sp, const struct pkt_tuple *t,
			     const uint8_t *pkt, size_t len)
{
	struct esp_engine *e = c->e;
	ms_t now = engine_now(e);
	size_t hold_slot = e->cfg.mtu;
	enum esp_verdict v = ESP_V_HELD;
	pthread_mutex_lock(&e->hold_lock);
	/* One allocation per trap policy, on its first packet, not per packet. */
	if (!sp->held && (sp->held = malloc(sizeof(*sp->held) + SP_HOLD_MAX * hold_slot)))
		sp->held->n = 0;
	e->held_any |= sp->held != NULL;
	struct sp_held *h = sp->held;
	if (h && len <= hold_slot && h->n < e->cfg.hold_packets) {
		memcpy(h->pkt + h->n * hold_slot, pkt, len);
		h->len[h->n] = (uint16_t)len;
		h->ms[h->n] = now;
		h->n++;
		STAT_INC(e, held);
	} else {
		STAT_INC(e, hold_dropped);
		v = ESP_V_DROPPED;
	}
	if (!sp->acquire_ms || now - sp->acquire_ms >= e->cfg.acquire_retry_ms) {
		struct esp_event ev = { .type = EV_ACQUIRE, .policy_id = sp->p.id, .pkt = *t };
		if (evq_push(&e->evq, &ev) == 0) {
			sp->acquire_ms = now ? now : 1;
			STAT_INC(e, acquires);
		}
	}
	pthread_mutex_unlock(&e->hold_lock);
	return v;
}

static enum esp_verdict encap_send(struct esp_ctx *c, struct sa *sa, const struct pkt_tuple *t,
				   uint8_t *pkt, size_t len)
{
	struct esp_engine *e = c->e;
	uint8_t nh;
	uint8_t *payload = pkt;
	size_t plen = len;
	if (sa->cfg.mode == IPSEC_MODE_TUNNEL) {
		nh = t->family == AF_INET ? ESP_NH_IPV4 : ESP_NH_IPV6;
	} else {
		if (sa->cfg.natt_type && sa->cfg.natt_oa.port) {
			struct pkt_tuple mapped = *t;	/* the peer's own port again */
			natt_transport_port(pkt, &mapped, false, sa->cfg.natt_dport,
					    sa->cfg.natt_oa.port);
		}
		nh = t->proto;
		payload = pkt + t->hdrlen;
		plen = t->total - t->hdrlen;
	}
	uint8_t *out = payload - ESP_HDR_LEN - esp_crypto_iv_len(sa->crypto);
	size_t cap = (size_t)(payload + plen + ESP_TAILROOM - out);
	pthread_mutex_lock(&sa->lock);
	ssize_t n = esp_encap(&sa->out, payload, plen, nh, out, cap);
	bool exhausted = n < 0 && esp_out_sa_exhausted(&sa->out);
	pthread_mutex_unlock(&sa->lock);
	if (n < 0) {
		atomic_fetch_add_explicit(&sa->ctr.other, 1, memory_order_relaxed);
		if (exhausted)
			engine_report_expiry(e, sa, 2);
		return ESP_V_DROPPED;
	}
	int level = sa_account(sa, len, engine_now(e));
	if (level)
		engine_report_expiry(e, sa, level);
	emit_net(c, sa, out, (size_t)n);
	return ESP_V_SENT;
}

/* --- packets over the tunnel's inner MTU ----------------------------------------------- */

/* Answers the sender with ICMP frag needed / Packet Too Big through the TUN device,
 * at most ESP_ICMP_PER_SEC a second per thread. The packet is dropped either way. */
static enum esp_verdict answer_too_big(struct esp_ctx *c, const struct pkt_tuple *t,
				       const uint8_t *pkt, size_t limit)
{
	struct esp_engine *e = c->e;
	ms_t now = engine_now(e);
	if (now - c->icmp_ms >= 1000 || now < c->icmp_ms) {
		c->icmp_ms = now;
		c->icmp_n = 0;
	}
	uint8_t msg[PMTU_ICMP_MAX];
	size_t n = 0;
	if (c->icmp_n < ESP_ICMP_PER_SEC)
		n = pmtu_icmp_build(pkt, t, (uint32_t)limit, msg, sizeof(msg));
	if (!n) {
		STAT_INC(e, pmtu_suppressed);
		return ESP_V_DROPPED;
	}
	c->icmp_n++;
	emit_tun(c, msg, n, false);
	STAT_INC(e, pmtu_sent);
	return ESP_V_DROPPED;
}

/* RFC 4459 section 5: IPv4 without DF is fragmented before encryption, so that the
 * peer gets whole ESP packets and the inner destination reassembles. The fragments
 * are built in the context's fragment area; each is sent like any packet. */
static enum esp_verdict prefragment(struct esp_ctx *c, struct sa *sa, const struct pkt_tuple *t,
				    const uint8_t *pkt, size_t limit)
{
	struct esp_engine *e = c->e;
	struct pmtu_frag f;
	size_t step = (ESP_HEADROOM + limit + ESP_TAILROOM + 63) & ~(size_t)63;
	if (pmtu_frag_init(&f, pkt, t, limit) < 0 || pmtu_frag_count(&f) * step > ESP_FRAG_AREA) {
		STAT_INC(e, prefrag_failed);
		return ESP_V_DROPPED;
	}
	size_t count = pmtu_frag_count(&f);
	/* Queued packets may point into the area: send them before reusing it. */
	if (c->frag_used + count * step > ESP_FRAG_AREA)
		path_flush(c);
	if (!c->raw.n && !c->udp.n)
		c->frag_used = 0;
	for (size_t i = 0; i < count; i++) {
		uint8_t *p = c->frag + c->frag_used + ESP_HEADROOM;
		size_t n = pmtu_frag_next(&f, p, step - ESP_HEADROOM - ESP_TAILROOM);
		struct pkt_tuple ft = *t;
		ft.total = n;
		c->frag_used += step;
		if (!n || encap_send(c, sa, &ft, p, n) != ESP_V_SENT) {
			STAT_INC(e, prefrag_failed);
			return ESP_V_DROPPED;
		}
		STAT_INC(e, fragments);
	}
	STAT_INC(e, prefrag_ok);
	return ESP_V_SENT;
}

static enum esp_verdict too_big(struct esp_ctx *c, struct sa *sa, const struct pkt_tuple *t,
				const uint8_t *pkt, size_t limit)
{
	if (t->family == AF_INET && !(get_u16(pkt + 6) & 0x4000))
		return prefragment(c, sa, t, pkt, limit);
	return answer_too_big(c, t, pkt, limit);
}

enum esp_verdict path_output(struct esp_ctx *c, uint8_t *pkt, size_t len)
{
	struct esp_engine *e = c->e;
	struct pkt_tuple t;
	if (pkt_parse(pkt, len, &t) < 0) {
		STAT_INC(e, bad_packet);
		return ESP_V_DROPPED;
	}
	struct sp *sp = spd_lookup(&e->spd, IPSEC_DIR_OUTBOUND, &t);
	if (!sp) {
		STAT_INC(e, no_policy);
		return ESP_V_DROPPED;
	}
	if (sp->p.type != IPSEC_POLICY_IPSEC) {
		STAT_INC(e, discarded);
		return ESP_V_DROPPED;
	}
	struct addr peer;
	if (sp->p.mode == IPSEC_MODE_TUNNEL && sp->p.tunnel_dst.family) {
		peer = sp->p.tunnel_dst;
	} else {
		memset(&peer, 0, sizeof(peer));
		peer.family = t.family;
		memcpy(peer.u.b, t.dst, t.family == AF_INET ? 4 : 16);
	}
	struct sa *sa = sad_out(&e->sad, sp->p.reqid, &peer);
	if (!sa)
		return hold(c, sp, &t, pkt, t.total);	/* clamped when released */
	if (sp->p.mode != IPSEC_MODE_TUNNEL)
		return encap_send(c, sa, &t, pkt, t.total);
	clamp(e, sa, pkt, &t);
	/* Cheap test first: no transform adds more than this. */
	if (t.total + PMTU_MAX_OVERHEAD > e->cfg.mtu) {
		size_t limit = inner_mtu(e, sa);
		if (t.family == AF_INET6 && limit < PMTU_IPV6_MIN_MTU)
			limit = PMTU_IPV6_MIN_MTU;	/* the outer packet is fragmented */
		if (t.total > limit)
			return too_big(c, sa, &t, pkt, limit);
	}
	return encap_send(c, sa, &t, pkt, t.total);
}

/* --- inbound ------------------------------------------------------------------------- */

/* After decapsulation the inner packet must lie within the SA's selectors (RFC 4301
 * 5.2): the SA's own, or else those of the inbound policies with its reqid. */
static bool any_match(const struct selector *s, size_t n, const struct pkt_tuple *t,
		      const uint8_t *a, uint16_t port)
{
	for (size_t i = 0; i < n && i < PFKEY_MAX_SEL; i++)
		if (selector_match(&s[i], t->family, a, t->proto, port))
			return true;
	return false;
}

/* An SA with several selectors on a side (a CHILD_SA with several TS) admits a
 * packet from any of its sources to any of its destinations. */
static bool inner_allowed(const struct esp_engine *e, const struct sa *sa,
			  const struct pkt_tuple *t)
{
	if (sa->cfg.has_sel)
		return any_match(sa->cfg.sel_src, sa->cfg.n_sel_src, t, t->src, t->sport) &&
		       any_match(sa->cfg.sel_dst, sa->cfg.n_sel_dst, t, t->dst, t->dport);
	bool constrained = false;
	static const uint8_t dirs[] = { IPSEC_DIR_INBOUND, IPSEC_DIR_FWD };
	for (size_t d = 0; d < sizeof(dirs); d++) {
		for (const struct sp *sp = e->spd.list[dirs[d]]; sp; sp = sp->next) {
			if (sp->p.type != IPSEC_POLICY_IPSEC || sp->p.reqid != sa->cfg.reqid)
				continue;
			constrained = true;
			if (pkt_match(t, &sp->p.src, &sp->p.dst))
				return true;
		}
	}
	return !constrained;
}

static void log_selector_drop(const struct sa *sa, const struct pkt_tuple *t)
{
	if (!log_enabled(LOG_ESP, 1))
		return;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	inet_ntop(t->family, t->src, s, sizeof(s));
	inet_ntop(t->family, t->dst, d, sizeof(d));
	log_info(LOG_ESP, "SA %08x: inner packet %s[%u] -> %s[%u] proto %u outside the SA's "
		 "selectors, dropped", sa->cfg.spi, s, t->sport, d, t->dport, t->proto);
}

/* Transport mode: puts an IP header from the outer addresses in front of the payload
 * (there is room: the ESP header and IV were there). Returns the new start. */
static uint8_t *rebuild_ip(const struct addr *src, const struct addr *dst, uint8_t nh,
			   uint8_t *payload, size_t *len)
{
	if (src->family == AF_INET) {
		uint8_t *h = payload - 20;
		memset(h, 0, 20);
		h[0] = 0x45;
		put_u16(h + 2, (uint16_t)(*len + 20));
		h[8] = 64;
		h[9] = nh;
		memcpy(h + 12, src->u.b, 4);
		memcpy(h + 16, dst->u.b, 4);
		uint32_t sum = 0;
		for (int i = 0; i < 20; i += 2)
			sum += get_u16(h + i);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		put_u16(h + 10, (uint16_t)~sum);
		*len += 20;
		return h;
	}
	uint8_t *h = payload - 40;
	memset(h, 0, 40);
	h[0] = 0x60;
	put_u16(h + 4, (uint16_t)*len);
	h[6] = nh;
	h[7] = 64;
	memcpy(h + 8, src->u.b, 16);
	memcpy(h + 24, dst->u.b, 16);
	*len += 40;
	return h;
}

static void count_error(struct sa *sa, enum esp_result r, uint64_t seq)
{
	switch (r) {
	case ESP_ERR_REPLAY:
		atomic_fetch_add_explicit(&sa->ctr.replay, 1, memory_order_relaxed);
		log_ctl(LOG_ESP, "SA %08x: replayed packet, seq %llu, dropped", sa->cfg.spi,
			(unsigned long long)seq);
		break;
	case ESP_ERR_INTEGRITY:
		atomic_fetch_add_explicit(&sa->ctr.integrity, 1, memory_order_relaxed);
		break;
	case ESP_ERR_PADDING:
		atomic_fetch_add_explicit(&sa->ctr.padding, 1, memory_order_relaxed);
		break;
	default:
		atomic_fetch_add_explicit(&sa->ctr.other, 1, memory_order_relaxed);
		break;
	}
}

static enum esp_verdict input_esp(struct esp_ctx *c, const struct addr *src,
				  const struct addr *dst, uint8_t *pkt, size_t len)
{
	struct esp_engine *e = c->e;
	if (len < ESP_HDR_LEN) {
		STAT_INC(e, bad_packet);
		return ESP_V_DROPPED;
	}
	struct sa *sa = sad_find(&e->sad, get_u32(pkt), dst);
	if (!sa || sa->larval || atomic_load_explicit(&sa->dead, memory_order_relaxed)) {
		STAT_INC(e, no_sa);
		return ESP_V_DROPPED;
	}
	uint8_t *inner;
	size_t ilen;
	uint8_t nh;
	pthread_mutex_lock(&sa->lock);
	enum esp_result r = esp_decap(&sa->in, pkt, len, &inner, &ilen, &nh);
	uint64_t seq = sa->in.last_seq;
	pthread_mutex_unlock(&sa->lock);
	if (r == ESP_DUMMY)
		return ESP_V_DROPPED;
	if (r != ESP_OK) {
		count_error(sa, r, seq);
		return ESP_V_DROPPED;
	}
	if (sa->cfg.mode != IPSEC_MODE_TUNNEL)
		inner = rebuild_ip(src, dst, nh, inner, &ilen);
	struct pkt_tuple t;
	if (pkt_parse(inner, ilen, &t) < 0) {
		atomic_fetch_add_explicit(&sa->ctr.other, 1, memory_order_relaxed);
		return ESP_V_DROPPED;
	}
	if (sa->cfg.mode != IPSEC_MODE_TUNNEL && sa->cfg.natt_type &&
	    !natt_transport_port(inner, &t, true, sa->cfg.natt_oa.port, sa->cfg.natt_sport))
		natt_transport_csum(inner, &t);
	if (!inner_allowed(e, sa, &t)) {
		atomic_fetch_add_explicit(&sa->ctr.selector, 1, memory_order_relaxed);
		log_selector_drop(sa, &t);
		return ESP_V_DROPPED;
	}
	if (sa->cfg.mode == IPSEC_MODE_TUNNEL)
		clamp(e, sa, inner, &t);
	int level = sa_account(sa, t.total, engine_now(e));
	if (level)
		engine_report_expiry(e, sa, level);
	emit_tun(c, inner, t.total, true);
	return ESP_V_DELIVERED;
}

enum esp_verdict path_input(struct esp_ctx *c, const struct addr *src, const struct addr *dst,
			    bool udp_encap, uint8_t *pkt, size_t len)
{
	struct esp_engine *e = c->e;
	if (udp_encap) {
		/* RFC 3948 2.2/2.3: a single 0xFF is a keepalive, a zero SPI field is the
		 * non-ESP marker in front of an IKE message. */
		if (len == 1 && pkt[0] == 0xff) {
			STAT_INC(e, keepalives);
			return ESP_V_KEEPALIVE;
		}
		if (len >= 4 && get_u32(pkt) == 0) {
			if (ikeq_push(&e->ikeq, dst, src, pkt + 4, len - 4) < 0)
				return ESP_V_DROPPED;
			STAT_INC(e, ike_in);
			return ESP_V_IKE;
		}
	}
	return input_esp(c, src, dst, pkt, len);
}
