/* Views of a decoded message: struct pfkey_sa, pfkey_policy, pfkey_acquire,
 * pfkey_getspi. pfkey_decode() has checked every length, so these only check what the
 * message kind requires (which extensions, which values fit our structs). */
#include "pfkey/pfkey.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/wipe.h"
#include "pfkey/pfkey_priv.h"

#define fail(...) (pfkey_seterr(err, errlen, __VA_ARGS__), -1)

/* Copies the fixed part of extension t (length checked by the decoder). */
static bool get_ext(const struct pfkey_msg *m, int t, void *dst, size_t n)
{
	if (!m->ext[t])
		return false;
	memcpy(dst, m->ext[t], n);
	return true;
}

static void read_sockaddr(const uint8_t *p, struct addr *a)
{
	struct sockaddr_storage ss;
	uint16_t fam;
	memcpy(&fam, p, sizeof(fam));
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, p, pfkey_sockaddr_len(fam));
	addr_from_sockaddr(a, (const struct sockaddr *)&ss);
}

/* An address extension's sockaddr, port cleared (outer addresses carry none). */
static bool get_addr(const struct pfkey_msg *m, int t, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (!m->ext[t])
		return false;
	read_sockaddr((const uint8_t *)m->ext[t] + sizeof(struct sadb_address), a);
	a->port = 0;
	return true;
}

/* A selector from a Linux-style address extension: prefix, protocol, one port. */
static bool get_addr_selector(const struct pfkey_msg *m, int t, struct selector *sel)
{
	struct sadb_address ah;
	struct addr a;
	if (!get_ext(m, t, &ah, sizeof(ah)))
		return false;
	read_sockaddr((const uint8_t *)m->ext[t] + sizeof(ah), &a);
	memset(sel, 0, sizeof(*sel));
	sel->family = a.family;
	sel->proto = ah.sadb_address_proto == IPSEC_ULPROTO_ANY ? 0 : ah.sadb_address_proto;
	sel->port_lo = a.port;
	sel->port_hi = a.port ? a.port : 65535;
	size_t n = addr_len(&a);
	for (size_t i = 0; i < n; i++) {
		int bits = (int)ah.sadb_address_prefixlen - (int)i * 8;
		uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		sel->lo[i] = a.u.b[i] & mask;
		sel->hi[i] = a.u.b[i] | (uint8_t)~mask;
	}
	return true;
}

static bool get_private_selector(const struct pfkey_msg *m, int t, struct selector *src,
				 struct selector *dst)
{
	struct sadb_x_tsunagi_sel w;
	if (!get_ext(m, t, &w, sizeof(w)))
		return false;
	pfkey_sel_from_wire(&w, src, dst);
	return true;
}

/* An SA's selector lists: the first pair, then the extra ones (lengths, sides and
 * counts were checked by the decoder; the counts are checked again here). */
static bool get_sa_selectors(const struct pfkey_msg *m, struct pfkey_sa *sa)
{
	struct sadb_x_tsunagi_sel w;
	struct sadb_ext e;
	if (!get_ext(m, PFKEY_X_EXT_SELECTOR, &w, sizeof(w)))
		return false;
	memcpy(&e, m->ext[PFKEY_X_EXT_SELECTOR], sizeof(e));
	pfkey_sel_from_wire(&w, &sa->sel_src[0], &sa->sel_dst[0]);
	sa->n_sel_src = sa->n_sel_dst = 1;
	const uint8_t *p = (const uint8_t *)m->ext[PFKEY_X_EXT_SELECTOR] + sizeof(w);
	size_t n = ((size_t)e.sadb_ext_len * 8 - sizeof(w)) / sizeof(struct sadb_x_tsunagi_sel_more);
	for (size_t i = 0; i < n; i++) {
		struct sadb_x_tsunagi_sel_more x;
		memcpy(&x, p + i * sizeof(x), sizeof(x));
		bool src = x.sadb_x_sel_more_side == PFKEY_SEL_SRC;
		uint8_t *cnt = src ? &sa->n_sel_src : &sa->n_sel_dst;
		if (*cnt >= PFKEY_MAX_SEL)
			break;
		struct selector *s = src ? &sa->sel_src[*cnt] : &sa->sel_dst[*cnt];
		size_t alen = x.sadb_x_sel_more_family == AF_INET ? 4 : 16;
		memset(s, 0, sizeof(*s));
		s->family = x.sadb_x_sel_more_family;
		s->proto = x.sadb_x_sel_more_proto;
		s->port_lo = x.sadb_x_sel_more_port_lo;
		s->port_hi = x.sadb_x_sel_more_port_hi;
		memcpy(s->lo, x.sadb_x_sel_more_lo, alen);
		memcpy(s->hi, x.sadb_x_sel_more_hi, alen);
		(*cnt)++;
	}
	return true;
}

static int get_key(const struct pfkey_msg *m, int t, uint8_t *key, uint16_t *len,
		   char *err, size_t errlen)
{
	struct sadb_key k;
	*len = 0;
	if (!get_ext(m, t, &k, sizeof(k)))
		return 0;
	if (k.sadb_key_bits % 8)
		return fail("%s key of %u bits is not whole bytes",
			    t == SADB_EXT_KEY_AUTH ? "auth" : "encryption", k.sadb_key_bits);
	if (k.sadb_key_bits / 8 > PFKEY_KEY_MAX)
		return fail("%s key of %u bits exceeds %u bytes",
			    t == SADB_EXT_KEY_AUTH ? "auth" : "encryption", k.sadb_key_bits,
			    PFKEY_KEY_MAX);
	*len = k.sadb_key_bits / 8;
	memcpy(key, (const uint8_t *)m->ext[t] + sizeof(k), *len);
	return 0;
}

static bool get_lifetime(const struct pfkey_msg *m, int t, struct pfkey_lifetime *lt)
{
	struct sadb_lifetime w;
	memset(lt, 0, sizeof(*lt));
	if (!get_ext(m, t, &w, sizeof(w)))
		return false;
	lt->packets = w.sadb_lifetime_allocations;
	lt->bytes = w.sadb_lifetime_bytes;
	lt->addtime = w.sadb_lifetime_addtime;
	lt->usetime = w.sadb_lifetime_usetime;
	return true;
}

static void get_natt(const struct pfkey_msg *m, struct pfkey_sa *sa)
{
	struct sadb_x_nat_t_type nt;
	struct sadb_x_nat_t_port np;
	if (get_ext(m, SADB_X_EXT_NAT_T_TYPE, &nt, sizeof(nt)))
		sa->natt_type = nt.sadb_x_nat_t_type_type;
	if (get_ext(m, SADB_X_EXT_NAT_T_SPORT, &np, sizeof(np)))
		sa->natt_sport = ntohs(np.sadb_x_nat_t_port_port);
	if (get_ext(m, SADB_X_EXT_NAT_T_DPORT, &np, sizeof(np)))
		sa->natt_dport = ntohs(np.sadb_x_nat_t_port_port);
	if (get_addr(m, SADB_X_EXT_NAT_T_OA, &sa->natt_oa))	/* with its port */
		read_sockaddr((const uint8_t *)m->ext[SADB_X_EXT_NAT_T_OA] +
				      sizeof(struct sadb_address), &sa->natt_oa);
}

static int need_addresses(const struct pfkey_msg *m, struct addr *src, struct addr *dst,
			  char *err, size_t errlen)
{
	if (!get_addr(m, SADB_EXT_ADDRESS_SRC, src))
		return fail("%s without source address", pfkey_type_name(m->hdr->sadb_msg_type));
	if (!get_addr(m, SADB_EXT_ADDRESS_DST, dst))
		return fail("%s without destination address",
			    pfkey_type_name(m->hdr->sadb_msg_type));
	if (src->family != dst->family)
		return fail("source and destination address families differ");
	return 0;
}

static int sa_fill(const struct pfkey_msg *m, struct pfkey_sa *sa, char *err, size_t errlen)
{
	struct sadb_sa w;
	struct sadb_x_sa2 sa2;
	struct sadb_x_sa_replay rp;
	if (!get_ext(m, SADB_EXT_SA, &w, sizeof(w)))
		return fail("%s without SA extension", pfkey_type_name(m->hdr->sadb_msg_type));
	if (need_addresses(m, &sa->src, &sa->dst, err, errlen) < 0)
		return -1;
	sa->satype = m->hdr->sadb_msg_satype;
	sa->spi = ntohl(w.sadb_sa_spi);
	sa->state = w.sadb_sa_state;
	sa->ealg = w.sadb_sa_encrypt;
	sa->aalg = w.sadb_sa_auth;
	sa->esn = (w.sadb_sa_flags & SADB_X_SAFLAGS_ESN) != 0;
	/* The 32-bit window wins over the u8 one, which is min(window, 255). */
	sa->replay_window = w.sadb_sa_replay;
	if (get_ext(m, SADB_X_EXT_SA_REPLAY, &rp, sizeof(rp)))
		sa->replay_window = rp.sadb_x_sa_replay_replay;
	if (get_ext(m, SADB_X_EXT_SA2, &sa2, sizeof(sa2))) {
		sa->mode = sa2.sadb_x_sa2_mode;
		sa->reqid = sa2.sadb_x_sa2_reqid;
	}
	if (get_key(m, SADB_EXT_KEY_ENCRYPT, sa->ekey, &sa->ekey_len, err, errlen) < 0 ||
	    get_key(m, SADB_EXT_KEY_AUTH, sa->akey, &sa->akey_len, err, errlen) < 0)
		return -1;
	sa->has_hard = get_lifetime(m, SADB_EXT_LIFETIME_HARD, &sa->hard);
	sa->has_soft = get_lifetime(m, SADB_EXT_LIFETIME_SOFT, &sa->soft);
	sa->has_current = get_lifetime(m, SADB_EXT_LIFETIME_CURRENT, &sa->current);
	get_natt(m, sa);
	sa->has_sel = get_sa_selectors(m, sa);
	return 0;
}

int pfkey_msg_sa(const struct pfkey_msg *m, struct pfkey_sa *sa, char *err, size_t errlen)
{
	memset(sa, 0, sizeof(*sa));
	if (!m->hdr)
		return fail("no message");
	if (sa_fill(m, sa, err, errlen) < 0) {
		wipe(sa, sizeof(*sa));
		return -1;
	}
	return 0;
}

/* The first (and only supported) ipsecrequest of a policy extension. */
static int policy_request(const struct pfkey_msg *m, struct pfkey_policy *p, char *err,
			  size_t errlen)
{
	struct sadb_x_policy xp;
	struct sadb_x_ipsecrequest rq;
	get_ext(m, SADB_X_EXT_POLICY, &xp, sizeof(xp));
	size_t total = (size_t)xp.sadb_x_policy_len * 8;
	const uint8_t *q = (const uint8_t *)m->ext[SADB_X_EXT_POLICY] + sizeof(xp);
	if (total == sizeof(xp)) {
		if (p->type == IPSEC_POLICY_IPSEC)
			return fail("IPsec policy without an ipsecrequest");
		return 0;
	}
	memcpy(&rq, q, sizeof(rq));
	if (rq.sadb_x_ipsecrequest_len != total - sizeof(xp))
		return fail("policy with more than one ipsecrequest (bundles unsupported)");
	if (rq.sadb_x_ipsecrequest_proto != IPPROTO_ESP &&
	    rq.sadb_x_ipsecrequest_proto != IPPROTO_AH)
		return fail("ipsecrequest protocol %u is neither ESP nor AH",
			    rq.sadb_x_ipsecrequest_proto);
	p->mode = rq.sadb_x_ipsecrequest_mode;
	p->reqid = rq.sadb_x_ipsecrequest_reqid;
	if (rq.sadb_x_ipsecrequest_len > sizeof(rq)) {
		const uint8_t *sa = q + sizeof(rq);
		uint16_t fam;
		memcpy(&fam, sa, sizeof(fam));
		read_sockaddr(sa, &p->tunnel_src);
		read_sockaddr(sa + pfkey_sockaddr_len(fam), &p->tunnel_dst);
		p->tunnel_src.port = p->tunnel_dst.port = 0;
	}
	if (p->mode == IPSEC_MODE_TUNNEL && p->tunnel_src.family == 0)
		return fail("tunnel-mode ipsecrequest without tunnel addresses");
	return 0;
}

static int policy_fill(const struct pfkey_msg *m, struct pfkey_policy *p, char *err,
		       size_t errlen)
{
	struct sadb_x_policy xp;
	if (!get_ext(m, SADB_X_EXT_POLICY, &xp, sizeof(xp)))
		return fail("%s without policy extension",
			    pfkey_type_name(m->hdr->sadb_msg_type));
	p->id = xp.sadb_x_policy_id;
	p->dir = xp.sadb_x_policy_dir;
	p->type = xp.sadb_x_policy_type;
	p->priority = xp.sadb_x_policy_priority;
	if (p->dir > IPSEC_DIR_FWD)
		return fail("unknown policy direction %u", p->dir);
	if (p->type > IPSEC_POLICY_BYPASS)
		return fail("unknown policy type %u", p->type);
	if (policy_request(m, p, err, errlen) < 0)
		return -1;
	/* Exact ranges when we sent them, else what Linux's address extensions say. */
	p->has_sel = get_private_selector(m, PFKEY_X_EXT_SELECTOR, &p->src, &p->dst);
	if (!p->has_sel && get_addr_selector(m, SADB_EXT_ADDRESS_SRC, &p->src) &&
	    get_addr_selector(m, SADB_EXT_ADDRESS_DST, &p->dst))
		p->has_sel = true;
	if (p->has_sel && p->src.family != p->dst.family)
		return fail("policy selector families differ");
	return 0;
}

int pfkey_msg_policy(const struct pfkey_msg *m, struct pfkey_policy *p, char *err,
		     size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (!m->hdr)
		return fail("no message");
	if (policy_fill(m, p, err, errlen) < 0) {
		memset(p, 0, sizeof(*p));
		return -1;
	}
	return 0;
}

int pfkey_msg_acquire(const struct pfkey_msg *m, struct pfkey_acquire *a, char *err,
		      size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (!m->hdr)
		return fail("no message");
	if (m->hdr->sadb_msg_type != SADB_ACQUIRE)
		return fail("%s is not ACQUIRE", pfkey_type_name(m->hdr->sadb_msg_type));
	a->seq = m->hdr->sadb_msg_seq;
	if (need_addresses(m, &a->src, &a->dst, err, errlen) < 0 ||
	    policy_fill(m, &a->policy, err, errlen) < 0) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	a->has_pkt = get_private_selector(m, PFKEY_X_EXT_PACKET, &a->pkt_src, &a->pkt_dst);
	return 0;
}

int pfkey_msg_getspi(const struct pfkey_msg *m, struct pfkey_getspi *g, char *err,
		     size_t errlen)
{
	struct sadb_spirange sr;
	struct sadb_x_sa2 sa2;
	memset(g, 0, sizeof(*g));
	if (!m->hdr)
		return fail("no message");
	if (m->hdr->sadb_msg_type != SADB_GETSPI)
		return fail("%s is not GETSPI", pfkey_type_name(m->hdr->sadb_msg_type));
	if (need_addresses(m, &g->src, &g->dst, err, errlen) < 0)
		return -1;
	g->seq = m->hdr->sadb_msg_seq;
	g->satype = m->hdr->sadb_msg_satype;
	/* RFC 2367: without a range the kernel picks any SPI; 0..255 are reserved. */
	g->min = 0x100;
	g->max = 0xffffffff;
	if (get_ext(m, SADB_EXT_SPIRANGE, &sr, sizeof(sr))) {
		g->min = sr.sadb_spirange_min;
		g->max = sr.sadb_spirange_max;
		if (g->min > g->max)
			return fail("SPI range %u-%u is empty", g->min, g->max);
	}
	if (get_ext(m, SADB_X_EXT_SA2, &sa2, sizeof(sa2))) {
		g->mode = sa2.sadb_x_sa2_mode;
		g->reqid = sa2.sadb_x_sa2_reqid;
	}
	return 0;
}

int pfkey_msg_new_mapping(const struct pfkey_msg *m, struct pfkey_mapping *mp, char *err,
			  size_t errlen)
{
	struct sadb_sa w;
	struct sadb_x_sa2 sa2;
	struct sadb_x_nat_t_port sp, dp;
	memset(mp, 0, sizeof(*mp));
	if (!m->hdr)
		return fail("no message");
	if (m->hdr->sadb_msg_type != SADB_X_NAT_T_NEW_MAPPING)
		return fail("%s is not X_NAT_T_NEW_MAPPING", pfkey_type_name(m->hdr->sadb_msg_type));
	if (!get_ext(m, SADB_EXT_SA, &w, sizeof(w)))
		return fail("X_NAT_T_NEW_MAPPING without SA extension");
	if (!get_ext(m, SADB_X_EXT_NAT_T_SPORT, &sp, sizeof(sp)) ||
	    !get_ext(m, SADB_X_EXT_NAT_T_DPORT, &dp, sizeof(dp)))
		return fail("X_NAT_T_NEW_MAPPING without NAT-T ports");
	if (need_addresses(m, &mp->old_peer, &mp->new_peer, err, errlen) < 0)
		return -1;
	mp->spi = ntohl(w.sadb_sa_spi);
	if (get_ext(m, SADB_X_EXT_SA2, &sa2, sizeof(sa2)))
		mp->reqid = sa2.sadb_x_sa2_reqid;
	mp->old_peer.port = ntohs(sp.sadb_x_nat_t_port_port);
	mp->new_peer.port = ntohs(dp.sadb_x_nat_t_port_port);
	return 0;
}

bool pfkey_msg_expire_is_hard(const struct pfkey_msg *m)
{
	return m->ext[SADB_EXT_LIFETIME_HARD] != NULL;
}
