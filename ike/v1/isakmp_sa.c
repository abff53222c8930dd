/* IKEv1 SA payloads <-> proposals. See isakmp_sa.h. A peer's transform is turned into
 * a one-transform-per-type tsunagi proposal and handed to proposal_select(), so IKEv1
 * and IKEv2 agree on what "acceptable" means (PFS strictness, key lengths, ESN). */
#include "ike/v1/isakmp_sa.h"

#include <stdio.h>
#include <string.h>

/* --- algorithm numbers --------------------------------------------------------------- */

static uint16_t p1_hash_from_integ(uint16_t integ)
{
	switch (integ) {
	case INTEG_HMAC_MD5_96: return P1_HASH_MD5;
	case INTEG_HMAC_SHA1_96: return P1_HASH_SHA1;
	case INTEG_HMAC_SHA2_256_128: return P1_HASH_SHA2_256;
	case INTEG_HMAC_SHA2_384_192: return P1_HASH_SHA2_384;
	case INTEG_HMAC_SHA2_512_256: return P1_HASH_SHA2_512;
	}
	return 0;
}

/* A Phase 1 hash as tsunagi's PRF and integrity IDs. */
static bool p1_hash_to_ids(uint16_t hash, uint16_t *prf, uint16_t *integ)
{
	static const uint16_t map[][3] = {
		{ P1_HASH_MD5, PRF_HMAC_MD5, INTEG_HMAC_MD5_96 },
		{ P1_HASH_SHA1, PRF_HMAC_SHA1, INTEG_HMAC_SHA1_96 },
		{ P1_HASH_SHA2_256, PRF_HMAC_SHA2_256, INTEG_HMAC_SHA2_256_128 },
		{ P1_HASH_SHA2_384, PRF_HMAC_SHA2_384, INTEG_HMAC_SHA2_384_192 },
		{ P1_HASH_SHA2_512, PRF_HMAC_SHA2_512, INTEG_HMAC_SHA2_512_256 },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i][0] == hash) {
			*prf = map[i][1];
			*integ = map[i][2];
			return true;
		}
	return false;
}

static uint16_t p2_auth_from_integ(uint16_t integ)
{
	switch (integ) {
	case INTEG_HMAC_MD5_96: return P2_AUTH_HMAC_MD5;
	case INTEG_HMAC_SHA1_96: return P2_AUTH_HMAC_SHA1;
	case INTEG_HMAC_SHA2_256_128: return P2_AUTH_HMAC_SHA2_256;
	case INTEG_HMAC_SHA2_384_192: return P2_AUTH_HMAC_SHA2_384;
	case INTEG_HMAC_SHA2_512_256: return P2_AUTH_HMAC_SHA2_512;
	}
	return 0;
}

static uint16_t p2_auth_to_integ(uint16_t auth)
{
	switch (auth) {
	case P2_AUTH_HMAC_MD5: return INTEG_HMAC_MD5_96;
	case P2_AUTH_HMAC_SHA1: return INTEG_HMAC_SHA1_96;
	case P2_AUTH_HMAC_SHA2_256: return INTEG_HMAC_SHA2_256_128;
	case P2_AUTH_HMAC_SHA2_384: return INTEG_HMAC_SHA2_384_192;
	case P2_AUTH_HMAC_SHA2_512: return INTEG_HMAC_SHA2_512_256;
	}
	return 0;
}

static bool p2_cipher_ok(uint16_t id)
{
	return id == ENCR_3DES || id == ENCR_AES_CBC || id == ENCR_AES_GCM_8 ||
	       id == ENCR_AES_GCM_12 || id == ENCR_AES_GCM_16;
}

bool isakmp_encap_is_udp(uint16_t encap)
{
	return encap == ISAKMP_ENCAP_UDP_TUNNEL || encap == ISAKMP_ENCAP_UDP_TRANSPORT ||
	       encap == ISAKMP_ENCAP_UDP_TUNNEL_DRAFT ||
	       encap == ISAKMP_ENCAP_UDP_TRANSPORT_DRAFT;
}

bool isakmp_encap_is_tunnel(uint16_t encap)
{
	return encap == ISAKMP_ENCAP_TUNNEL || encap == ISAKMP_ENCAP_UDP_TUNNEL ||
	       encap == ISAKMP_ENCAP_UDP_TUNNEL_DRAFT;
}

/* --- building ------------------------------------------------------------------------- */

static void put_lifetimes(struct buf *b, const struct isakmp_sa_params *par, uint16_t type_attr,
			  uint16_t dur_attr)
{
	if (par->life_seconds) {
		isb_attr_basic(b, type_attr, ISAKMP_LIFE_SECONDS);
		isb_attr_u32(b, dur_attr, par->life_seconds);
	}
	if (par->life_kbytes) {
		isb_attr_basic(b, type_attr, ISAKMP_LIFE_KILOBYTES);
		isb_attr_u32(b, dur_attr, par->life_kbytes);
	}
}

/* Calls fn for every combination of one transform of each of the types a, b, c
 * (a type the proposal lacks contributes one "absent" transform, id 0xffff). */
typedef void (*combo_fn)(void *ctx, const struct xform *x[4]);

static size_t combos(const struct proposal *p, const uint8_t types[4], combo_fn fn, void *ctx)
{
	const struct xform absent = { .id = 0xffff };
	const struct xform *list[4][PROPOSAL_MAX_XFORMS];
	size_t n[4], total = 1;

	for (int t = 0; t < 4; t++) {
		n[t] = 0;
		for (size_t i = 0; i < p->n_xf; i++)
			if (p->xf[i].type == types[t])
				list[t][n[t]++] = &p->xf[i];
		if (n[t] == 0)
			list[t][n[t]++] = &absent;
		total *= n[t];
	}
	if (fn)
		for (size_t i0 = 0; i0 < n[0]; i0++)
			for (size_t i1 = 0; i1 < n[1]; i1++)
				for (size_t i2 = 0; i2 < n[2]; i2++)
					for (size_t i3 = 0; i3 < n[3]; i3++) {
						const struct xform *x[4] = { list[0][i0],
							list[1][i1], list[2][i2], list[3][i3] };
						fn(ctx, x);
					}
	return total;
}

struct emit {
	struct buf *b;
	const struct isakmp_sa_params *par;
	size_t count, total;	/* transforms written / to write (0: counting pass) */
	bool counting;
};

static bool p1_expressible(const struct xform *x[4])
{
	/* encr, integ, dh */
	return (x[0]->id == ENCR_AES_CBC || x[0]->id == ENCR_3DES) &&
	       p1_hash_from_integ(x[1]->id) && x[2]->id != 0xffff && x[2]->id != DH_NONE;
}

static void p1_transform(void *ctx, const struct xform *x[4])
{
	struct emit *e = ctx;
	if (!p1_expressible(x))
		return;
	e->count++;
	if (e->counting)
		return;
	size_t off = isb_transform_begin(e->b, e->count == e->total, (uint8_t)e->count,
					 ISAKMP_KEY_IKE);
	isb_attr_basic(e->b, P1_ENCR, x[0]->id == ENCR_3DES ? P1_ENCR_3DES : P1_ENCR_AES_CBC);
	if (x[0]->id == ENCR_AES_CBC)
		isb_attr_basic(e->b, P1_KEY_LENGTH, x[0]->keylen ? x[0]->keylen : 128);
	isb_attr_basic(e->b, P1_HASH, p1_hash_from_integ(x[1]->id));
	isb_attr_basic(e->b, P1_AUTH, e->par->auth_method ? e->par->auth_method : ISAKMP_AUTH_PSK);
	isb_attr_basic(e->b, P1_GROUP, x[2]->id);
	put_lifetimes(e->b, e->par, P1_LIFE_TYPE, P1_LIFE_DURATION);
	isb_sub_end(e->b, off);
}

int isakmp_sa_build_p1(struct isakmp_builder *k, const struct proposal *props, size_t n,
		       const struct isakmp_sa_params *par)
{
	static const uint8_t types[4] = { XF_ENCR, XF_INTEG, XF_DH, XF_ESN };
	struct emit e = { .b = &k->b, .par = par, .counting = true };

	for (size_t i = 0; i < n; i++)
		if (props[i].protocol == PROTO_IKE)
			combos(&props[i], types, p1_transform, &e);
	if (e.count == 0 || e.count > 255)
		return -1;
	e.total = e.count;
	e.count = 0;
	e.counting = false;
	size_t sa = isb_sa_begin(k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
	size_t p = isb_proposal_begin(&k->b, true, 1, ISAKMP_PROTO_ISAKMP, NULL, 0,
				      (uint8_t)e.total);
	for (size_t i = 0; i < n; i++)
		if (props[i].protocol == PROTO_IKE)
			combos(&props[i], types, p1_transform, &e);
	isb_sub_end(&k->b, p);
	isb_end(k, sa);
	return 0;
}

static bool p2_expressible(const struct xform *x[4])
{
	/* encr, integ, dh, esn: AEAD without integrity, the others with */
	if (!p2_cipher_ok(x[0]->id))
		return false;
	if (encr_is_aead(x[0]->id))
		return x[1]->id == 0xffff || x[1]->id == INTEG_NONE;
	return p2_auth_from_integ(x[1]->id) != 0;
}

static void p2_transform(void *ctx, const struct xform *x[4])
{
	struct emit *e = ctx;
	if (!p2_expressible(x))
		return;
	e->count++;
	if (e->counting)
		return;
	size_t off = isb_transform_begin(e->b, e->count == e->total, (uint8_t)e->count,
					 (uint8_t)x[0]->id);
	put_lifetimes(e->b, e->par, P2_LIFE_TYPE, P2_LIFE_DURATION);
	if (e->par->encap)
		isb_attr_basic(e->b, P2_ENCAP, e->par->encap);
	if (!encr_is_aead(x[0]->id))
		isb_attr_basic(e->b, P2_AUTH, p2_auth_from_integ(x[1]->id));
	if (x[0]->keylen)
		isb_attr_basic(e->b, P2_KEY_LENGTH, x[0]->keylen);
	if (x[2]->id != 0xffff && x[2]->id != DH_NONE)
		isb_attr_basic(e->b, P2_GROUP, x[2]->id);
	if (x[3]->id == ESN_YES)
		isb_attr_basic(e->b, P2_ESN, 1);
	isb_sub_end(e->b, off);
}

int isakmp_sa_build_p2(struct isakmp_builder *k, const struct proposal *props, size_t n,
		       const struct isakmp_sa_params *par)
{
	static const uint8_t types[4] = { XF_ENCR, XF_INTEG, XF_DH, XF_ESN };
	struct emit e[ISAKMP_MAX_PROPOSALS];
	size_t used = 0;

	for (size_t i = 0; i < n && used < ISAKMP_MAX_PROPOSALS; i++) {
		if (props[i].protocol != PROTO_ESP || props[i].spi_len != 4)
			continue;
		e[used] = (struct emit){ .b = &k->b, .par = par, .counting = true };
		combos(&props[i], types, p2_transform, &e[used]);
		if (e[used].count > 255)
			return -1;
		if (e[used].count)
			used++;
	}
	if (used == 0)
		return -1;
	size_t sa = isb_sa_begin(k, ISAKMP_DOI_IPSEC, ISAKMP_SIT_IDENTITY_ONLY);
	size_t j = 0;
	for (size_t i = 0; i < n && j < used; i++) {
		if (props[i].protocol != PROTO_ESP || props[i].spi_len != 4)
			continue;
		struct emit *x = &e[j];
		if (x->count == 0)
			continue;
		x->total = x->count;
		x->count = 0;
		x->counting = false;
		j++;
		size_t p = isb_proposal_begin(&k->b, j == used, (uint8_t)j, ISAKMP_PROTO_ESP,
					      props[i].spi, 4, (uint8_t)x->total);
		combos(&props[i], types, p2_transform, x);
		isb_sub_end(&k->b, p);
	}
	isb_end(k, sa);
	return 0;
}

/* --- a peer's transform as a proposal --------------------------------------------------- */

static void add_xf(struct proposal *p, uint8_t type, uint16_t id, uint16_t keylen)
{
	if (p->n_xf < PROPOSAL_MAX_XFORMS)
		p->xf[p->n_xf++] = (struct xform){ .type = type, .id = id, .keylen = keylen };
}

/* Reads the lifetime pair (type, then duration) into par. -1 if a duration has no type
 * before it or is not a number. */
static int life_attr(const struct isakmp_attr *a, bool is_type, uint16_t *life_type,
		     struct isakmp_sa_params *par)
{
	uint32_t v;
	if (is_type) {
		*life_type = a->basic ? a->value : 0;
		return *life_type == ISAKMP_LIFE_SECONDS || *life_type == ISAKMP_LIFE_KILOBYTES ?
			0 : -1;
	}
	if (!*life_type || isakmp_attr_u32(a, &v) < 0)
		return -1;
	*(*life_type == ISAKMP_LIFE_SECONDS ? &par->life_seconds : &par->life_kbytes) = v;
	*life_type = 0;
	return 0;
}

static int p1_from_transform(const struct isakmp_transform *t, struct proposal *p,
			     struct isakmp_sa_params *par, char *why, size_t n)
{
	struct rd r;
	struct isakmp_attr a;
	uint16_t encr = 0, keylen = 0, hash = 0, group = 0, life_type = 0;

	if (t->id != ISAKMP_KEY_IKE) {
		snprintf(why, n, "transform ID %u is not KEY_IKE", t->id);
		return -1;
	}
	rd_init(&r, t->attrs, t->attrs_len);
	while (isakmp_next_attr(&r, &a)) {
		bool num = a.basic;
		switch (a.type) {
		case P1_ENCR: encr = a.value; break;
		case P1_KEY_LENGTH: keylen = a.value; break;
		case P1_HASH: hash = a.value; break;
		case P1_AUTH: par->auth_method = a.value; break;
		case P1_GROUP: group = a.value; break;
		case P1_LIFE_TYPE:
		case P1_LIFE_DURATION:
			num = true;
			if (life_attr(&a, a.type == P1_LIFE_TYPE, &life_type, par) < 0) {
				snprintf(why, n, "malformed lifetime attributes");
				return -1;
			}
			break;
		default:
			snprintf(why, n, "attribute %u not supported", a.type);
			return -1;
		}
		if (!num) {
			snprintf(why, n, "attribute %u is not a basic attribute", a.type);
			return -1;
		}
	}
	if (encr != P1_ENCR_AES_CBC && encr != P1_ENCR_3DES) {
		snprintf(why, n, "encryption algorithm %u not supported", encr);
		return -1;
	}
	uint16_t prf, integ;
	if (!p1_hash_to_ids(hash, &prf, &integ)) {
		snprintf(why, n, "hash algorithm %u not supported", hash);
		return -1;
	}
	if (par->auth_method != ISAKMP_AUTH_PSK && !ISAKMP_AUTH_IS_XAUTH(par->auth_method) &&
	    !ISAKMP_AUTH_IS_SIG(par->auth_method)) {
		snprintf(why, n, "authentication method %u not supported (pre-shared keys or RSA "
			 "signatures, with or without XAuth, or ECDSA signatures only)",
			 par->auth_method);
		return -1;
	}
	if (!group) {
		snprintf(why, n, "no group description");
		return -1;
	}
	p->protocol = PROTO_IKE;
	if (encr == P1_ENCR_AES_CBC)
		add_xf(p, XF_ENCR, ENCR_AES_CBC, keylen ? keylen : 128);
	else
		add_xf(p, XF_ENCR, ENCR_3DES, 0);
	add_xf(p, XF_PRF, prf, 0);
	add_xf(p, XF_INTEG, integ, 0);
	add_xf(p, XF_DH, group, 0);
	return 0;
}

static int p2_from_transform(const struct isakmp_transform *t, struct proposal *p,
			     struct isakmp_sa_params *par, char *why, size_t n)
{
	struct rd r;
	struct isakmp_attr a;
	uint16_t auth = 0, keylen = 0, group = 0, esn = 0, life_type = 0;

	rd_init(&r, t->attrs, t->attrs_len);
	while (isakmp_next_attr(&r, &a)) {
		bool num = a.basic;
		switch (a.type) {
		case P2_ENCAP: par->encap = a.value; break;
		case P2_AUTH: auth = a.value; break;
		case P2_KEY_LENGTH: keylen = a.value; break;
		case P2_GROUP: group = a.value; break;
		case P2_ESN: esn = a.value; break;
		case P2_LIFE_TYPE:
		case P2_LIFE_DURATION:
			num = true;
			if (life_attr(&a, a.type == P2_LIFE_TYPE, &life_type, par) < 0) {
				snprintf(why, n, "malformed lifetime attributes");
				return -1;
			}
			break;
		default:
			snprintf(why, n, "attribute %u not supported", a.type);
			return -1;
		}
		if (!num) {
			snprintf(why, n, "attribute %u is not a basic attribute", a.type);
			return -1;
		}
	}
	if (!p2_cipher_ok(t->id)) {
		snprintf(why, n, "ESP transform %u not supported", t->id);
		return -1;
	}
	bool aead = encr_is_aead(t->id);
	if (aead ? auth != 0 : !p2_auth_to_integ(auth)) {
		snprintf(why, n, aead ? "authentication algorithm %u with an AEAD cipher" :
			 "authentication algorithm %u not supported", auth);
		return -1;
	}
	if (par->encap && par->encap != ISAKMP_ENCAP_TRANSPORT &&
	    !isakmp_encap_is_tunnel(par->encap) && !isakmp_encap_is_udp(par->encap)) {
		snprintf(why, n, "encapsulation mode %u not supported", par->encap);
		return -1;
	}
	p->protocol = PROTO_ESP;
	add_xf(p, XF_ENCR, t->id, t->id == ENCR_3DES ? 0 : keylen ? keylen : 128);
	if (!aead)
		add_xf(p, XF_INTEG, p2_auth_to_integ(auth), 0);
	if (group)
		add_xf(p, XF_DH, group, 0);
	add_xf(p, XF_ESN, esn == 1 ? ESN_YES : ESN_NO, 0);
	return 0;
}

/* --- selection ------------------------------------------------------------------------ */

static bool offers(const struct proposal *mine, size_t n_mine, const struct xform *x)
{
	for (size_t i = 0; i < n_mine; i++)
		for (size_t j = 0; j < mine[i].n_xf; j++) {
			const struct xform *m = &mine[i].xf[j];
			if (m->type == x->type && m->id == x->id && m->keylen == x->keylen)
				return true;
		}
	return false;
}

/* Why a converted transform matches none of ours: the first algorithm we lack. */
static void mismatch(const struct proposal *mine, size_t n_mine, const struct proposal *t,
		     char *why, size_t n)
{
	for (size_t i = 0; i < t->n_xf; i++) {
		const struct xform *x = &t->xf[i];
		if (x->type == XF_PRF || offers(mine, n_mine, x))
			continue;
		switch (x->type) {
		case XF_ENCR:
			snprintf(why, n, "encryption %s/%u not configured", encr_name(x->id),
				 x->keylen);
			return;
		case XF_INTEG:
			snprintf(why, n, "integrity %s not configured", integ_name(x->id));
			return;
		case XF_DH:
			snprintf(why, n, "DH group %s not configured", dh_name(x->id));
			return;
		case XF_ESN:
			snprintf(why, n, "%s not configured", x->id ? "ESN" : "no ESN");
			return;
		}
	}
	snprintf(why, n, proposal_has_dh(t) || t->protocol == PROTO_IKE ?
		 "no configured proposal has this combination" :
		 "no PFS group proposed, PFS configured (or the combination differs)");
}

/* Appends "; " and s to why (truncation is safe). */
static void append(char *why, size_t whylen, const char *s)
{
	size_t used = strlen(why);
	if (used + 1 < whylen)
		snprintf(why + used, whylen - used, "%s%s", used ? "; " : "", s);
}

static bool bundled(const struct isakmp_payloads *pl, size_t i)
{
	return (i > 0 && pl->props[i - 1].num == pl->props[i].num) ||
	       (i + 1 < pl->n_props && pl->props[i + 1].num == pl->props[i].num);
}

bool isakmp_sa_select(const struct isakmp_payloads *pl, const struct proposal *mine,
		      size_t n_mine, struct isakmp_choice *c, char *why, size_t whylen)
{
	char one[160], line[200];

	if (whylen)
		why[0] = 0;
	for (size_t i = 0; i < pl->n_props; i++) {
		const struct isakmp_proposal *ip = &pl->props[i];
		struct rd r;
		struct isakmp_transform t;

		if (bundled(pl, i)) {
			snprintf(line, sizeof(line), "proposal %u: protocol bundles (ESP+AH, "
				 "IPCOMP) not supported", ip->num);
			append(why, whylen, line);
			continue;
		}
		if ((ip->protocol == ISAKMP_PROTO_ESP && ip->spi_len != 4) ||
		    (ip->protocol == ISAKMP_PROTO_ISAKMP && ip->spi_len != 0 &&
		     ip->spi_len != 16)) {
			snprintf(line, sizeof(line), "proposal %u: SPI size %u invalid", ip->num,
				 ip->spi_len);
			append(why, whylen, line);
			continue;
		}
		if (ip->protocol != ISAKMP_PROTO_ISAKMP && ip->protocol != ISAKMP_PROTO_ESP) {
			snprintf(line, sizeof(line), "proposal %u: protocol %u not supported",
				 ip->num, ip->protocol);
			append(why, whylen, line);
			continue;
		}
		rd_init(&r, ip->xforms, ip->xforms_len);
		while (isakmp_next_transform(&r, &t)) {
			struct proposal theirs = { .num = ip->num };
			struct isakmp_sa_params par = { 0 };
			int rc = ip->protocol == ISAKMP_PROTO_ISAKMP ?
				p1_from_transform(&t, &theirs, &par, one, sizeof(one)) :
				p2_from_transform(&t, &theirs, &par, one, sizeof(one));
			if (rc == 0 && ip->protocol == ISAKMP_PROTO_ESP) {
				theirs.spi_len = 4;
				memcpy(theirs.spi, ip->spi, 4);
			}
			if (rc == 0 && proposal_select(mine, n_mine, &theirs, 1, &c->prop)) {
				c->params = par;
				c->their_prop = ip;
				c->xf = t;
				return true;
			}
			if (rc == 0)
				mismatch(mine, n_mine, &theirs, one, sizeof(one));
			snprintf(line, sizeof(line), "proposal %u transform %u: %s", ip->num,
				 t.num, one);
			append(why, whylen, line);
		}
	}
	if (whylen && !why[0])
		snprintf(why, whylen, "no proposal");
	return false;
}

void isakmp_sa_build_reply(struct isakmp_builder *k, const struct isakmp_payloads *pl,
			   const struct isakmp_choice *c, const uint8_t *our_spi,
			   uint8_t spi_len)
{
	const struct isakmp_proposal *p = c->their_prop;
	size_t sa = isb_sa_begin(k, pl->sa_doi, pl->sa_situation);
	size_t po = isb_proposal_begin(&k->b, true, p->num, p->protocol, our_spi, spi_len, 1);
	size_t to = isb_transform_begin(&k->b, true, c->xf.num, c->xf.id);
	buf_put(&k->b, c->xf.attrs, c->xf.attrs_len);
	isb_sub_end(&k->b, to);
	isb_sub_end(&k->b, po);
	isb_end(k, sa);
}
