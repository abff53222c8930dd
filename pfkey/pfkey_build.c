/* PF_KEYv2 builders: each appends one complete message to a struct buf.
 *
 * Fields are in host order as Linux has them, except the SPI, NAT-T ports and sockaddr
 * ports (network order). Every extension is padded to 8 bytes and the header's length
 * is patched in at the end. Messages that carry keys reserve their whole size first,
 * so the buffer is not reallocated (leaving a copy of the keys behind) mid-build. */
#include "pfkey/pfkey.h"

#include <arpa/inet.h>
#include <string.h>

#include "pfkey/pfkey_priv.h"

/* Enough for the largest message we build (SA with every extension, IPv6). */
#define PFKEY_MSG_RESERVE 1024

static size_t msg_begin(struct buf *out, uint8_t type, uint8_t satype, uint32_t seq)
{
	struct sadb_msg h = {
		.sadb_msg_version = PF_KEY_V2,
		.sadb_msg_type = type,
		.sadb_msg_satype = satype,
		.sadb_msg_seq = seq,
	};
	size_t start = out->len;
	buf_reserve(out, PFKEY_MSG_RESERVE);
	buf_put(out, &h, sizeof(h));
	return start;
}

static void msg_end(struct buf *out, size_t start)
{
	if (out->oom)
		return;
	size_t units = (out->len - start) / 8;
	if (units > UINT16_MAX) {
		out->oom = true;
		return;
	}
	uint16_t len = (uint16_t)units;
	memcpy(out->data + start + offsetof(struct sadb_msg, sadb_msg_len), &len, sizeof(len));
}

/* Appends an extension: hdr (its first 4 bytes are overwritten with len/type), then
 * tail, zero-padded to 8 bytes. */
static void put_ext(struct buf *out, uint16_t type, const void *hdr, size_t hlen,
		    const void *tail, size_t tlen)
{
	size_t total = PFKEY_ALIGN8(hlen + tlen);
	uint8_t *p = buf_append(out, total);
	if (!p)
		return;
	memset(p, 0, total);
	memcpy(p, hdr, hlen);
	if (tlen)
		memcpy(p + hlen, tail, tlen);
	struct sadb_ext e = { .sadb_ext_len = (uint16_t)(total / 8), .sadb_ext_type = type };
	memcpy(p, &e, sizeof(e));
}

static size_t to_sockaddr(const struct addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	struct addr tmp = *a;
	tmp.port = port;
	return addr_to_sockaddr(&tmp, ss);
}

static void put_address(struct buf *out, uint16_t type, const struct addr *a, uint8_t proto,
			uint8_t prefixlen, uint16_t port)
{
	struct sadb_address h = {
		.sadb_address_proto = proto,
		.sadb_address_prefixlen = prefixlen,
	};
	struct sockaddr_storage ss;
	size_t sl = to_sockaddr(a, port, &ss);
	put_ext(out, type, &h, sizeof(h), &ss, sl);
}

/* Outer addresses of an SA: full-length prefix, any protocol, no port. */
static void put_sa_addresses(struct buf *out, const struct addr *src, const struct addr *dst)
{
	put_address(out, SADB_EXT_ADDRESS_SRC, src, IPSEC_ULPROTO_ANY,
		    (uint8_t)(addr_len(src) * 8), 0);
	put_address(out, SADB_EXT_ADDRESS_DST, dst, IPSEC_ULPROTO_ANY,
		    (uint8_t)(addr_len(dst) * 8), 0);
}

/* The shortest prefix covering a selector's range (exact when it is a prefix). */
static uint8_t covering_prefix(const struct selector *s)
{
	size_t n = s->family == AF_INET ? 4 : 16;
	uint8_t plen = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t diff = s->lo[i] ^ s->hi[i];
		if (!diff) {
			plen += 8;
			continue;
		}
		while (!(diff & 0x80)) {
			plen++;
			diff <<= 1;
		}
		break;
	}
	return plen;
}

/* A selector as Linux's address extension (prefix, protocol, one port or any). */
static void put_selector_address(struct buf *out, uint16_t type, const struct selector *s)
{
	struct addr a = { .family = s->family };
	memcpy(a.u.b, s->lo, s->family == AF_INET ? 4 : 16);
	uint16_t port = s->port_lo == s->port_hi ? s->port_lo : 0;
	put_address(out, type, &a, s->proto ? s->proto : IPSEC_ULPROTO_ANY,
		    covering_prefix(s), port);
}

static void put_private_selector(struct buf *out, uint16_t type, const struct selector *src,
				 const struct selector *dst)
{
	struct sadb_x_tsunagi_sel w;
	pfkey_sel_to_wire(src, dst, &w);
	put_ext(out, type, &w, sizeof(w), NULL, 0);
}

static void sel_more(const struct selector *s, uint8_t side, struct sadb_x_tsunagi_sel_more *w)
{
	memset(w, 0, sizeof(*w));
	w->sadb_x_sel_more_side = side;
	w->sadb_x_sel_more_family = s->family;
	w->sadb_x_sel_more_proto = s->proto;
	w->sadb_x_sel_more_port_lo = s->port_lo;
	w->sadb_x_sel_more_port_hi = s->port_hi;
	memcpy(w->sadb_x_sel_more_lo, s->lo, 16);
	memcpy(w->sadb_x_sel_more_hi, s->hi, 16);
}

/* An SA's selector lists: a same-family pair first (the extension's fixed part has
 * one family), then every other selector of either side. */
static void put_sa_selectors(struct buf *out, const struct pfkey_sa *sa)
{
	size_t ns = sa->n_sel_src < PFKEY_MAX_SEL ? sa->n_sel_src : PFKEY_MAX_SEL;
	size_t nd = sa->n_sel_dst < PFKEY_MAX_SEL ? sa->n_sel_dst : PFKEY_MAX_SEL;
	size_t fs = ns, fd = nd;
	for (size_t i = 0; i < ns && fs == ns; i++)
		for (size_t j = 0; j < nd && fs == ns; j++)
			if (sa->sel_src[i].family == sa->sel_dst[j].family)
				fs = i, fd = j;
	if (fs == ns)
		return;
	struct sadb_x_tsunagi_sel w;
	struct sadb_x_tsunagi_sel_more more[2 * PFKEY_MAX_SEL];
	size_t n = 0;
	pfkey_sel_to_wire(&sa->sel_src[fs], &sa->sel_dst[fd], &w);
	for (size_t i = 0; i < ns; i++)
		if (i != fs)
			sel_more(&sa->sel_src[i], PFKEY_SEL_SRC, &more[n++]);
	for (size_t j = 0; j < nd; j++)
		if (j != fd)
			sel_more(&sa->sel_dst[j], PFKEY_SEL_DST, &more[n++]);
	put_ext(out, PFKEY_X_EXT_SELECTOR, &w, sizeof(w), more, n * sizeof(more[0]));
}

static void put_sa(struct buf *out, const struct pfkey_sa *sa)
{
	struct sadb_sa w = {
		.sadb_sa_spi = htonl(sa->spi),
		.sadb_sa_replay = sa->replay_window > UINT8_MAX ? UINT8_MAX
								 : (uint8_t)sa->replay_window,
		.sadb_sa_state = sa->state,
		.sadb_sa_auth = sa->aalg,
		.sadb_sa_encrypt = sa->ealg,
		.sadb_sa_flags = sa->esn ? SADB_X_SAFLAGS_ESN : 0,
	};
	put_ext(out, SADB_EXT_SA, &w, sizeof(w), NULL, 0);
	if (sa->replay_window > UINT8_MAX) {
		struct sadb_x_sa_replay rp = { .sadb_x_sa_replay_replay = sa->replay_window };
		put_ext(out, SADB_X_EXT_SA_REPLAY, &rp, sizeof(rp), NULL, 0);
	}
}

static void put_sa2(struct buf *out, uint8_t mode, uint32_t reqid)
{
	struct sadb_x_sa2 w = { .sadb_x_sa2_mode = mode, .sadb_x_sa2_reqid = reqid };
	put_ext(out, SADB_X_EXT_SA2, &w, sizeof(w), NULL, 0);
}

static void put_lifetime(struct buf *out, uint16_t type, const struct pfkey_lifetime *lt)
{
	struct sadb_lifetime w = {
		.sadb_lifetime_allocations =
			lt->packets > UINT32_MAX ? UINT32_MAX : (uint32_t)lt->packets,
		.sadb_lifetime_bytes = lt->bytes,
		.sadb_lifetime_addtime = lt->addtime,
		.sadb_lifetime_usetime = lt->usetime,
	};
	put_ext(out, type, &w, sizeof(w), NULL, 0);
}

static void put_key(struct buf *out, uint16_t type, const uint8_t *key, uint16_t len)
{
	struct sadb_key h = { .sadb_key_bits = (uint16_t)(len * 8) };
	put_ext(out, type, &h, sizeof(h), key, len);
}

static void put_natt(struct buf *out, const struct pfkey_sa *sa)
{
	if (!sa->natt_type)
		return;
	struct sadb_x_nat_t_type t = { .sadb_x_nat_t_type_type = (uint8_t)sa->natt_type };
	struct sadb_x_nat_t_port sp = { .sadb_x_nat_t_port_port = htons(sa->natt_sport) };
	struct sadb_x_nat_t_port dp = { .sadb_x_nat_t_port_port = htons(sa->natt_dport) };
	put_ext(out, SADB_X_EXT_NAT_T_TYPE, &t, sizeof(t), NULL, 0);
	put_ext(out, SADB_X_EXT_NAT_T_SPORT, &sp, sizeof(sp), NULL, 0);
	put_ext(out, SADB_X_EXT_NAT_T_DPORT, &dp, sizeof(dp), NULL, 0);
	if (sa->natt_oa.family)
		put_address(out, SADB_X_EXT_NAT_T_OA, &sa->natt_oa, IPSEC_ULPROTO_ANY,
			    (uint8_t)(addr_len(&sa->natt_oa) * 8), sa->natt_oa.port);
}

static bool type_carries_keys(uint8_t type)
{
	return type == SADB_ADD || type == SADB_UPDATE || type == SADB_GET || type == SADB_DUMP;
}

void pfkey_build_getspi(struct buf *out, uint32_t seq, const struct addr *src,
			const struct addr *dst, uint32_t min, uint32_t max, uint32_t reqid)
{
	size_t start = msg_begin(out, SADB_GETSPI, SADB_SATYPE_ESP, seq);
	put_sa2(out, IPSEC_MODE_ANY, reqid);
	put_sa_addresses(out, src, dst);
	struct sadb_spirange r = { .sadb_spirange_min = min, .sadb_spirange_max = max };
	put_ext(out, SADB_EXT_SPIRANGE, &r, sizeof(r), NULL, 0);
	msg_end(out, start);
}

void pfkey_build_sa(struct buf *out, uint8_t type, uint32_t seq, const struct pfkey_sa *sa)
{
	size_t start = msg_begin(out, type, sa->satype, seq);
	put_sa(out, sa);
	put_sa2(out, sa->mode, sa->reqid);
	put_sa_addresses(out, &sa->src, &sa->dst);
	if (type != SADB_DELETE && type != SADB_GETSPI) {
		if (sa->has_current)
			put_lifetime(out, SADB_EXT_LIFETIME_CURRENT, &sa->current);
		if (sa->has_hard)
			put_lifetime(out, SADB_EXT_LIFETIME_HARD, &sa->hard);
		if (sa->has_soft)
			put_lifetime(out, SADB_EXT_LIFETIME_SOFT, &sa->soft);
		put_natt(out, sa);
		if (sa->has_sel)
			put_sa_selectors(out, sa);
	}
	if (type_carries_keys(type)) {
		if (sa->akey_len)
			put_key(out, SADB_EXT_KEY_AUTH, sa->akey, sa->akey_len);
		if (sa->ekey_len)
			put_key(out, SADB_EXT_KEY_ENCRYPT, sa->ekey, sa->ekey_len);
	}
	msg_end(out, start);
}

void pfkey_build_expire(struct buf *out, const struct pfkey_sa *sa, bool hard)
{
	size_t start = msg_begin(out, SADB_EXPIRE, sa->satype, 0);
	put_sa(out, sa);
	put_sa2(out, sa->mode, sa->reqid);
	put_sa_addresses(out, &sa->src, &sa->dst);
	put_lifetime(out, SADB_EXT_LIFETIME_CURRENT, &sa->current);
	if (hard)
		put_lifetime(out, SADB_EXT_LIFETIME_HARD, &sa->hard);
	else
		put_lifetime(out, SADB_EXT_LIFETIME_SOFT, &sa->soft);
	msg_end(out, start);
}

void pfkey_build_new_mapping(struct buf *out, const struct pfkey_mapping *mp)
{
	struct pfkey_sa sa = { .spi = mp->spi };
	size_t start = msg_begin(out, SADB_X_NAT_T_NEW_MAPPING, SADB_SATYPE_ESP, 0);
	put_sa(out, &sa);
	put_sa2(out, IPSEC_MODE_ANY, mp->reqid);
	put_sa_addresses(out, &mp->old_peer, &mp->new_peer);
	struct sadb_x_nat_t_port sp = { .sadb_x_nat_t_port_port = htons(mp->old_peer.port) };
	struct sadb_x_nat_t_port dp = { .sadb_x_nat_t_port_port = htons(mp->new_peer.port) };
	put_ext(out, SADB_X_EXT_NAT_T_SPORT, &sp, sizeof(sp), NULL, 0);
	put_ext(out, SADB_X_EXT_NAT_T_DPORT, &dp, sizeof(dp), NULL, 0);
	msg_end(out, start);
}

/* X_POLICY with its one ipsecrequest (IPSEC policies) and tunnel endpoints. */
static void put_policy(struct buf *out, const struct pfkey_policy *p)
{
	struct sadb_x_policy xp = {
		.sadb_x_policy_type = p->type,
		.sadb_x_policy_dir = p->dir,
		.sadb_x_policy_id = p->id,
		.sadb_x_policy_priority = p->priority,
	};
	uint8_t req[sizeof(struct sadb_x_ipsecrequest) + 2 * sizeof(struct sockaddr_in6)];
	size_t rlen = 0;
	if (p->type == IPSEC_POLICY_IPSEC) {
		struct sadb_x_ipsecrequest rq = {
			.sadb_x_ipsecrequest_proto = IPPROTO_ESP,
			.sadb_x_ipsecrequest_mode = p->mode,
			.sadb_x_ipsecrequest_level = p->reqid ? IPSEC_LEVEL_UNIQUE
							      : IPSEC_LEVEL_REQUIRE,
			.sadb_x_ipsecrequest_reqid = p->reqid,
		};
		rlen = sizeof(rq);
		if (p->tunnel_src.family && p->tunnel_dst.family) {
			struct sockaddr_storage s, d;
			size_t sl = to_sockaddr(&p->tunnel_src, 0, &s);
			size_t dl = to_sockaddr(&p->tunnel_dst, 0, &d);
			memcpy(req + rlen, &s, sl);
			memcpy(req + rlen + sl, &d, dl);
			rlen += sl + dl;
		}
		rq.sadb_x_ipsecrequest_len = (uint16_t)rlen;
		memcpy(req, &rq, sizeof(rq));
	}
	/* The request must end the extension exactly (decoders walk to its end), so
	 * pad the request itself to 8 bytes. */
	size_t padded = PFKEY_ALIGN8(rlen);
	uint8_t tail[PFKEY_ALIGN8(sizeof(req))];
	memset(tail, 0, sizeof(tail));
	memcpy(tail, req, rlen);
	if (padded != rlen) {
		uint16_t l = (uint16_t)padded;
		memcpy(tail + offsetof(struct sadb_x_ipsecrequest, sadb_x_ipsecrequest_len), &l,
		       sizeof(l));
	}
	put_ext(out, SADB_X_EXT_POLICY, &xp, sizeof(xp), tail, padded);
}

static void put_policy_selectors(struct buf *out, const struct pfkey_policy *p)
{
	if (!p->src.family || p->src.family != p->dst.family)
		return;
	put_selector_address(out, SADB_EXT_ADDRESS_SRC, &p->src);
	put_selector_address(out, SADB_EXT_ADDRESS_DST, &p->dst);
	put_private_selector(out, PFKEY_X_EXT_SELECTOR, &p->src, &p->dst);
}

void pfkey_build_acquire(struct buf *out, uint32_t seq, const struct pfkey_policy *p,
			 const struct addr *src, const struct addr *dst,
			 const struct selector *pkt_src, const struct selector *pkt_dst)
{
	size_t start = msg_begin(out, SADB_ACQUIRE, SADB_SATYPE_ESP, seq);
	put_sa_addresses(out, src, dst);
	put_policy(out, p);
	if (p->src.family && p->src.family == p->dst.family)
		put_private_selector(out, PFKEY_X_EXT_SELECTOR, &p->src, &p->dst);
	if (pkt_src && pkt_dst)
		put_private_selector(out, PFKEY_X_EXT_PACKET, pkt_src, pkt_dst);
	msg_end(out, start);
}

void pfkey_build_policy(struct buf *out, uint8_t type, uint32_t seq,
			const struct pfkey_policy *p)
{
	size_t start = msg_begin(out, type, SADB_SATYPE_UNSPEC, seq);
	put_policy(out, p);
	put_policy_selectors(out, p);
	msg_end(out, start);
}

void pfkey_build_simple(struct buf *out, uint8_t type, uint8_t satype, uint32_t seq)
{
	size_t start = msg_begin(out, type, satype, seq);
	msg_end(out, start);
}

void pfkey_build_reply(struct buf *out, const struct sadb_msg *req, int errno_value)
{
	struct sadb_msg h;
	memcpy(&h, req, sizeof(h));
	h.sadb_msg_version = PF_KEY_V2;
	h.sadb_msg_errno = (uint8_t)(errno_value < 0 ? -errno_value : errno_value);
	h.sadb_msg_len = sizeof(h) / 8;
	h.sadb_msg_reserved = 0;
	buf_put(out, &h, sizeof(h));
}

void pfkey_sel_to_wire(const struct selector *src, const struct selector *dst,
		       struct sadb_x_tsunagi_sel *w)
{
	memset(w, 0, sizeof(*w));
	w->sadb_x_sel_family = src->family;
	w->sadb_x_sel_src_proto = src->proto;
	w->sadb_x_sel_dst_proto = dst->proto;
	w->sadb_x_sel_src_port_lo = src->port_lo;
	w->sadb_x_sel_src_port_hi = src->port_hi;
	w->sadb_x_sel_dst_port_lo = dst->port_lo;
	w->sadb_x_sel_dst_port_hi = dst->port_hi;
	memcpy(w->sadb_x_sel_src_lo, src->lo, 16);
	memcpy(w->sadb_x_sel_src_hi, src->hi, 16);
	memcpy(w->sadb_x_sel_dst_lo, dst->lo, 16);
	memcpy(w->sadb_x_sel_dst_hi, dst->hi, 16);
}

void pfkey_sel_from_wire(const struct sadb_x_tsunagi_sel *w, struct selector *src,
			 struct selector *dst)
{
	size_t n = w->sadb_x_sel_family == AF_INET ? 4 : 16;
	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	src->family = dst->family = w->sadb_x_sel_family;
	src->proto = w->sadb_x_sel_src_proto;
	dst->proto = w->sadb_x_sel_dst_proto;
	src->port_lo = w->sadb_x_sel_src_port_lo;
	src->port_hi = w->sadb_x_sel_src_port_hi;
	dst->port_lo = w->sadb_x_sel_dst_port_lo;
	dst->port_hi = w->sadb_x_sel_dst_port_hi;
	memcpy(src->lo, w->sadb_x_sel_src_lo, n);
	memcpy(src->hi, w->sadb_x_sel_src_hi, n);
	memcpy(dst->lo, w->sadb_x_sel_dst_lo, n);
	memcpy(dst->hi, w->sadb_x_sel_dst_hi, n);
}
