/* PF_KEYv2 decoder: validates a whole message before anyone reads a field of it.
 *
 * Order, as OpenBSD iked's parsers: header, declared length against the buffer,
 * version, then per extension its header, declared length (>= the type's struct, <=
 * what is left), type (known, not repeated) and inner structure (sockaddrs, key bits,
 * ipsecrequests, bitmaps). Only then are pointers handed out in struct pfkey_msg, and
 * the pfkey_msg_* views copy fields out with memcpy (no alignment assumptions). */
#include "pfkey/pfkey.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pfkey/pfkey_priv.h"

void pfkey_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
#define fail(...) (pfkey_seterr(err, errlen, __VA_ARGS__), -1)

/* Minimum length in bytes of each known extension type; 0 = unknown type. */
static const uint16_t ext_min[PFKEY_EXT_MAX + 1] = {
	[SADB_EXT_SA] = sizeof(struct sadb_sa),
	[SADB_EXT_LIFETIME_CURRENT] = sizeof(struct sadb_lifetime),
	[SADB_EXT_LIFETIME_HARD] = sizeof(struct sadb_lifetime),
	[SADB_EXT_LIFETIME_SOFT] = sizeof(struct sadb_lifetime),
	[SADB_EXT_ADDRESS_SRC] = sizeof(struct sadb_address),
	[SADB_EXT_ADDRESS_DST] = sizeof(struct sadb_address),
	[SADB_EXT_ADDRESS_PROXY] = sizeof(struct sadb_address),
	[SADB_EXT_KEY_AUTH] = sizeof(struct sadb_key),
	[SADB_EXT_KEY_ENCRYPT] = sizeof(struct sadb_key),
	[SADB_EXT_IDENTITY_SRC] = sizeof(struct sadb_ident),
	[SADB_EXT_IDENTITY_DST] = sizeof(struct sadb_ident),
	[SADB_EXT_SENSITIVITY] = sizeof(struct sadb_sens),
	[SADB_EXT_PROPOSAL] = sizeof(struct sadb_prop),
	[SADB_EXT_SUPPORTED_AUTH] = sizeof(struct sadb_supported),
	[SADB_EXT_SUPPORTED_ENCRYPT] = sizeof(struct sadb_supported),
	[SADB_EXT_SPIRANGE] = sizeof(struct sadb_spirange),
	[SADB_X_EXT_KMPRIVATE] = sizeof(struct sadb_x_kmprivate),
	[SADB_X_EXT_POLICY] = sizeof(struct sadb_x_policy),
	[SADB_X_EXT_SA2] = sizeof(struct sadb_x_sa2),
	[SADB_X_EXT_NAT_T_TYPE] = sizeof(struct sadb_x_nat_t_type),
	[SADB_X_EXT_NAT_T_SPORT] = sizeof(struct sadb_x_nat_t_port),
	[SADB_X_EXT_NAT_T_DPORT] = sizeof(struct sadb_x_nat_t_port),
	[SADB_X_EXT_NAT_T_OA] = sizeof(struct sadb_address),
	[SADB_X_EXT_SEC_CTX] = sizeof(struct sadb_x_sec_ctx),
	[SADB_X_EXT_KMADDRESS] = sizeof(struct sadb_x_kmaddress),
	[SADB_X_EXT_FILTER] = sizeof(struct sadb_x_filter),
	[SADB_X_EXT_SA_REPLAY] = sizeof(struct sadb_x_sa_replay),
	[PFKEY_X_EXT_SELECTOR] = sizeof(struct sadb_x_tsunagi_sel),
	[PFKEY_X_EXT_PACKET] = sizeof(struct sadb_x_tsunagi_sel),
};

size_t pfkey_sockaddr_len(uint16_t family)
{
	if (family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

/* A sockaddr at p with `avail` bytes: family known and the whole struct inside. */
static int check_sockaddr(const uint8_t *p, size_t avail, uint16_t *family, size_t *used,
			  const char *what, char *err, size_t errlen)
{
	uint16_t fam;
	if (avail < sizeof(fam))
		return fail("%s: no room for a sockaddr", what);
	memcpy(&fam, p, sizeof(fam));
	size_t need = pfkey_sockaddr_len(fam);
	if (!need)
		return fail("%s: unknown address family %u", what, fam);
	if (need > avail)
		return fail("%s: sockaddr of family %u needs %zu bytes, %zu left", what, fam,
			    need, avail);
	*family = fam;
	*used = need;
	return 0;
}

static int check_address(uint16_t type, const uint8_t *p, size_t len, char *err,
			 size_t errlen)
{
	struct sadb_address a;
	char what[32];
	uint16_t fam;
	size_t used;
	memcpy(&a, p, sizeof(a));
	snprintf(what, sizeof(what), "extension %u", type);
	if (check_sockaddr(p + sizeof(a), len - sizeof(a), &fam, &used, what, err, errlen) < 0)
		return -1;
	unsigned maxplen = fam == AF_INET ? 32 : 128;
	if (a.sadb_address_prefixlen > maxplen)
		return fail("extension %u prefix length %u exceeds %u", type,
			    a.sadb_address_prefixlen, maxplen);
	return 0;
}

static int check_key(uint16_t type, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct sadb_key k;
	memcpy(&k, p, sizeof(k));
	size_t bytes = ((size_t)k.sadb_key_bits + 7) / 8;
	if (bytes > len - sizeof(k))
		return fail("extension %u key of %u bits does not fit in %zu bytes", type,
			    k.sadb_key_bits, len - sizeof(k));
	return 0;
}

static int check_sens(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct sadb_sens s;
	memcpy(&s, p, sizeof(s));
	size_t bitmaps = ((size_t)s.sadb_sens_sens_len + s.sadb_sens_integ_len) * 8;
	if (bitmaps > len - sizeof(s))
		return fail("sensitivity bitmaps of %zu bytes do not fit in %zu", bitmaps,
			    len - sizeof(s));
	return 0;
}

static int check_array(uint16_t type, size_t len, size_t head, size_t elem, char *err,
		       size_t errlen)
{
	if ((len - head) % elem)
		return fail("extension %u length %zu is not %zu plus whole %zu-byte entries",
			    type, len, head, elem);
	return 0;
}

/* An ipsecrequest: fixed part, then optionally tunnel src and dst sockaddrs. */
static int check_ipsecrequest(const uint8_t *p, size_t avail, size_t *used, char *err,
			      size_t errlen)
{
	struct sadb_x_ipsecrequest rq;
	if (avail < sizeof(rq))
		return fail("policy: %zu trailing bytes shorter than an ipsecrequest", avail);
	memcpy(&rq, p, sizeof(rq));
	size_t rlen = rq.sadb_x_ipsecrequest_len;
	if (rlen < sizeof(rq))
		return fail("policy: ipsecrequest length %zu shorter than %zu", rlen, sizeof(rq));
	if (rlen > avail)
		return fail("policy: ipsecrequest length %zu exceeds the %zu bytes left", rlen,
			    avail);
	if (rlen > sizeof(rq)) {
		uint16_t f1, f2;
		size_t u1, u2;
		const uint8_t *sa = p + sizeof(rq);
		size_t left = rlen - sizeof(rq);
		if (check_sockaddr(sa, left, &f1, &u1, "ipsecrequest src", err, errlen) < 0 ||
		    check_sockaddr(sa + u1, left - u1, &f2, &u2, "ipsecrequest dst", err,
				   errlen) < 0)
			return -1;
		if (f1 != f2)
			return fail("ipsecrequest tunnel families differ (%u, %u)", f1, f2);
	}
	*used = rlen;
	return 0;
}

static int check_policy(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	size_t off = sizeof(struct sadb_x_policy);
	while (off < len) {
		size_t used;
		if (check_ipsecrequest(p + off, len - off, &used, err, errlen) < 0)
			return -1;
		off += used;
	}
	return 0;
}

static int check_sec_ctx(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct sadb_x_sec_ctx c;
	memcpy(&c, p, sizeof(c));
	if (c.sadb_x_ctx_len > len - sizeof(c))
		return fail("security context of %u bytes does not fit in %zu", c.sadb_x_ctx_len,
			    len - sizeof(c));
	return 0;
}

static int check_kmaddress(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	uint16_t f;
	size_t u1, u2;
	size_t off = sizeof(struct sadb_x_kmaddress);
	if (check_sockaddr(p + off, len - off, &f, &u1, "kmaddress src", err, errlen) < 0 ||
	    check_sockaddr(p + off + u1, len - off - u1, &f, &u2, "kmaddress dst", err,
			   errlen) < 0)
		return -1;
	return 0;
}

static int check_sel_more(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct sadb_x_tsunagi_sel_more x;
	size_t n = len / sizeof(x), count[3] = { 0, 1, 1 };
	if (len % sizeof(x))
		return fail("selector extension: %zu bytes after the first pair, not a multiple "
			    "of %zu", len, sizeof(x));
	for (size_t i = 0; i < n; i++) {
		memcpy(&x, p + i * sizeof(x), sizeof(x));
		uint8_t side = x.sadb_x_sel_more_side, fam = x.sadb_x_sel_more_family;
		size_t alen = fam == AF_INET ? 4 : 16;
		if (side != PFKEY_SEL_SRC && side != PFKEY_SEL_DST)
			return fail("selector extension: entry %zu has unknown side %u", i, side);
		if (++count[side] > PFKEY_MAX_SEL)
			return fail("selector extension: more than %u selectors on one side",
				    PFKEY_MAX_SEL);
		if (fam != AF_INET && fam != AF_INET6)
			return fail("selector extension: entry %zu has unknown family %u", i, fam);
		if (memcmp(x.sadb_x_sel_more_lo, x.sadb_x_sel_more_hi, alen) > 0 ||
		    x.sadb_x_sel_more_port_lo > x.sadb_x_sel_more_port_hi)
			return fail("selector extension: entry %zu has a reversed range", i);
	}
	return 0;
}

static int check_selector(uint16_t type, const uint8_t *p, size_t len, char *err,
			  size_t errlen)
{
	struct sadb_x_tsunagi_sel s;
	memcpy(&s, p, sizeof(s));
	size_t n = s.sadb_x_sel_family == AF_INET ? 4 : 16;
	if (s.sadb_x_sel_family != AF_INET && s.sadb_x_sel_family != AF_INET6)
		return fail("extension %u: unknown selector family %u", type,
			    s.sadb_x_sel_family);
	if (memcmp(s.sadb_x_sel_src_lo, s.sadb_x_sel_src_hi, n) > 0 ||
	    memcmp(s.sadb_x_sel_dst_lo, s.sadb_x_sel_dst_hi, n) > 0)
		return fail("extension %u: selector address range is reversed", type);
	if (s.sadb_x_sel_src_port_lo > s.sadb_x_sel_src_port_hi ||
	    s.sadb_x_sel_dst_port_lo > s.sadb_x_sel_dst_port_hi)
		return fail("extension %u: selector port range is reversed", type);
	if (type == PFKEY_X_EXT_PACKET && len != sizeof(s))
		return fail("extension %u: length %zu, not %zu", type, len, sizeof(s));
	return check_sel_more(p + sizeof(s), len - sizeof(s), err, errlen);
}

/* The inner structure of one extension whose length is already known to be within
 * the message and at least ext_min[type]. */
static int check_ext_body(uint16_t type, const uint8_t *p, size_t len, char *err,
			  size_t errlen)
{
	switch (type) {
	case SADB_EXT_ADDRESS_SRC:
	case SADB_EXT_ADDRESS_DST:
	case SADB_EXT_ADDRESS_PROXY:
	case SADB_X_EXT_NAT_T_OA:
		return check_address(type, p, len, err, errlen);
	case SADB_EXT_KEY_AUTH:
	case SADB_EXT_KEY_ENCRYPT:
		return check_key(type, p, len, err, errlen);
	case SADB_EXT_SENSITIVITY:
		return check_sens(p, len, err, errlen);
	case SADB_EXT_PROPOSAL:
		return check_array(type, len, sizeof(struct sadb_prop), sizeof(struct sadb_comb),
				   err, errlen);
	case SADB_EXT_SUPPORTED_AUTH:
	case SADB_EXT_SUPPORTED_ENCRYPT:
		return check_array(type, len, sizeof(struct sadb_supported),
				   sizeof(struct sadb_alg), err, errlen);
	case SADB_X_EXT_POLICY:
		return check_policy(p, len, err, errlen);
	case SADB_X_EXT_SEC_CTX:
		return check_sec_ctx(p, len, err, errlen);
	case SADB_X_EXT_KMADDRESS:
		return check_kmaddress(p, len, err, errlen);
	case PFKEY_X_EXT_SELECTOR:
	case PFKEY_X_EXT_PACKET:
		return check_selector(type, p, len, err, errlen);
	default:
		return 0;
	}
}

static int decode_header(struct rd *r, size_t len, struct pfkey_msg *m, char *err,
			 size_t errlen)
{
	struct sadb_msg h;
	const uint8_t *p = rd_bytes(r, sizeof(h));
	if (!p)
		return fail("message of %zu bytes shorter than the %zu-byte header", len,
			    sizeof(h));
	memcpy(&h, p, sizeof(h));
	if ((size_t)h.sadb_msg_len * 8 != len)
		return fail("header length %u (x8 = %zu bytes) differs from the %zu received",
			    h.sadb_msg_len, (size_t)h.sadb_msg_len * 8, len);
	if (h.sadb_msg_version != PF_KEY_V2)
		return fail("version %u is not PF_KEY_V2", h.sadb_msg_version);
	if (h.sadb_msg_type == SADB_RESERVED || h.sadb_msg_type > SADB_MAX)
		return fail("unknown message type %u", h.sadb_msg_type);
	if (h.sadb_msg_satype > SADB_SATYPE_MAX)
		return fail("unknown SA type %u", h.sadb_msg_satype);
	m->hdr = (const struct sadb_msg *)p;
	return 0;
}

static int decode_ext(struct rd *r, struct pfkey_msg *m, char *err, size_t errlen)
{
	struct sadb_ext e;
	size_t at = r->off;
	if (rd_left(r) < sizeof(e))
		return fail("%zu trailing bytes at offset %zu, shorter than an extension header",
			    rd_left(r), at);
	memcpy(&e, r->p + r->off, sizeof(e));
	size_t elen = (size_t)e.sadb_ext_len * 8;
	if (e.sadb_ext_type == 0 || e.sadb_ext_type > PFKEY_EXT_MAX || !ext_min[e.sadb_ext_type])
		return fail("unknown extension type %u at offset %zu", e.sadb_ext_type, at);
	if (elen < ext_min[e.sadb_ext_type])
		return fail("extension %u length %zu shorter than %u", e.sadb_ext_type, elen,
			    ext_min[e.sadb_ext_type]);
	if (elen > rd_left(r))
		return fail("extension %u length %zu exceeds the %zu bytes left",
			    e.sadb_ext_type, elen, rd_left(r));
	if (m->ext[e.sadb_ext_type])
		return fail("duplicate extension %u", e.sadb_ext_type);
	const uint8_t *p = rd_bytes(r, elen);
	if (!p || check_ext_body(e.sadb_ext_type, p, elen, err, errlen) < 0)
		return -1;
	m->ext[e.sadb_ext_type] = (const struct sadb_ext *)p;
	return 0;
}

int pfkey_decode(const uint8_t *buf, size_t len, struct pfkey_msg *m, char *err,
		 size_t errlen)
{
	struct rd r;
	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, len);
	if (decode_header(&r, len, m, err, errlen) < 0)
		goto bad;
	while (rd_left(&r) > 0) {
		if (decode_ext(&r, m, err, errlen) < 0)
			goto bad;
	}
	return 0;
bad:
	memset(m, 0, sizeof(*m));
	return -1;
}

size_t pfkey_first_len(const uint8_t *buf, size_t len)
{
	struct sadb_msg h;
	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	size_t n = (size_t)h.sadb_msg_len * 8;
	return n >= sizeof(h) && n <= len ? n : 0;
}
