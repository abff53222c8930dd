#include "ike/ikev2_msg.h"

#include <stdio.h>
#include <string.h>


int ikev2_parse_header(const uint8_t *msg, size_t len, struct ikev2_hdr *h, const char **err)
{
	struct rd r;
	rd_init(&r, msg, len);
	rd_copy(&r, h->spi_i, 8);
	rd_copy(&r, h->spi_r, 8);
	h->next_payload = rd_u8(&r);
	h->version = rd_u8(&r);
	h->exchange = rd_u8(&r);
	h->flags = rd_u8(&r);
	h->msgid = rd_u32(&r);
	h->length = rd_u32(&r);
	if (r.err) {
		*err = "message shorter than the IKE header";
		return -1;
	}
	if (h->version >> 4 != 2) {
		*err = "not an IKEv2 message (major version)";
		return -1;
	}
	if (h->length != len) {
		*err = "IKE header length does not match the datagram";
		return -1;
	}
	return 0;
}

static int parse_transform(struct rd *r, struct proposal *p, const char **err)
{
	struct xform x = { 0 };
	x.type = rd_u8(r);
	rd_u8(r);
	x.id = rd_u16(r);
	while (rd_left(r) > 0 && !r->err) {
		uint16_t af_type = rd_u16(r);
		if (af_type & 0x8000) {
			uint16_t v = rd_u16(r);
			if ((af_type & 0x7fff) == 14)
				x.keylen = v;
		} else {
			/* Variable-length attributes are not defined for IKEv2 transforms we
			 * know; skip them so the transform simply won't match. */
			uint16_t alen = rd_u16(r);
			rd_skip(r, alen);
			x.id = 0xffff;
		}
	}
	if (r->err) {
		*err = "truncated transform attribute";
		return -1;
	}
	if (p->n_xf < PROPOSAL_MAX_XFORMS)
		p->xf[p->n_xf++] = x;
	return 0;
}

static int parse_proposal(struct rd *r, struct proposal *p, const char **err)
{
	memset(p, 0, sizeof(*p));
	p->num = rd_u8(r);
	p->protocol = rd_u8(r);
	p->spi_len = rd_u8(r);
	uint8_t n_xf = rd_u8(r);
	if (p->spi_len > 8) {
		*err = "proposal SPI size too large";
		return -1;
	}
	rd_copy(r, p->spi, p->spi_len);
	for (unsigned i = 0; i < n_xf && !r->err; i++) {
		uint8_t last = rd_u8(r);
		rd_u8(r);
		uint16_t tlen = rd_u16(r);
		if (tlen < 8) {
			*err = "transform length below 8";
			return -1;
		}
		struct rd tr = rd_sub(r, tlen - 4);
		if (r->err)
			break;
		if (parse_transform(&tr, p, err) < 0)
			return -1;
		if ((last == 0) != (i + 1 == n_xf)) {
			*err = "transform count does not match the last-transform flags";
			return -1;
		}
	}
	if (r->err) {
		*err = *err ? *err : "truncated proposal";
		return -1;
	}
	if (rd_left(r) != 0) {
		*err = "data after the last transform";
		return -1;
	}
	return 0;
}

static int parse_sa(struct rd *r, struct ikev2_payloads *pl, const char **err)
{
	pl->has_sa = true;
	pl->n_props = 0;
	uint8_t last = 3;
	while (last == 2 || last == 3) {
		last = rd_u8(r);
		rd_u8(r);
		uint16_t plen = rd_u16(r);
		if (r->err || plen < 8 || (last != 0 && last != 2)) {
			*err = "malformed proposal substructure";
			return -1;
		}
		struct rd pr = rd_sub(r, plen - 4);
		struct proposal tmp, *p = pl->n_props < IKEV2_MAX_PROPOSALS ? &pl->props[pl->n_props] : &tmp;
		if (r->err || parse_proposal(&pr, p, err) < 0) {
			*err = *err ? *err : "truncated proposal";
			return -1;
		}
		if (p != &tmp)
			pl->n_props++;
	}
	if (rd_left(r) != 0) {
		*err = "data after the last proposal";
		return -1;
	}
	return 0;
}

static int parse_ts(struct rd *r, struct selector *out, size_t *n_out, const char **err)
{
	uint8_t n = rd_u8(r);
	rd_skip(r, 3);
	*n_out = 0;
	for (unsigned i = 0; i < n && !r->err; i++) {
		uint8_t type = rd_u8(r);
		uint8_t proto = rd_u8(r);
		uint16_t len = rd_u16(r);
		size_t alen = type == TS_IPV4_ADDR_RANGE ? 4 : type == TS_IPV6_ADDR_RANGE ? 16 : 0;
		if (r->err || len < 8) {
			*err = "malformed traffic selector";
			return -1;
		}
		struct rd tr = rd_sub(r, len - 4);
		if (alen == 0 || tr.len != 4 + 2 * alen) {
			*err = "unsupported or malformed traffic selector type";
			return -1;
		}
		struct selector s = { 0 };
		s.family = alen == 4 ? AF_INET : AF_INET6;
		s.proto = proto;
		s.port_lo = rd_u16(&tr);
		s.port_hi = rd_u16(&tr);
		rd_copy(&tr, s.lo, alen);
		rd_copy(&tr, s.hi, alen);
		if (s.port_lo > s.port_hi || memcmp(s.lo, s.hi, alen) > 0) {
			*err = "traffic selector range is reversed";
			return -1;
		}
		if (*n_out < IKEV2_MAX_TS)
			out[(*n_out)++] = s;
	}
	if (r->err) {
		*err = "truncated traffic selectors";
		return -1;
	}
	return 0;
}

static int parse_notify(struct rd *r, struct ikev2_payloads *pl, const char **err)
{
	struct ikev2_notify n = { 0 };
	n.proto = rd_u8(r);
	n.spi_len = rd_u8(r);
	n.type = rd_u16(r);
	if (n.spi_len > 8) {
		*err = "notify SPI size too large";
		return -1;
	}
	rd_copy(r, n.spi, n.spi_len);
	n.len = rd_left(r);
	n.data = rd_bytes(r, n.len);
	if (r->err) {
		*err = "truncated notify";
		return -1;
	}
	if (pl->n_notify < IKEV2_MAX_NOTIFY)
		pl->notify[pl->n_notify++] = n;
	return 0;
}

static int parse_delete(struct rd *r, struct ikev2_payloads *pl, const char **err)
{
	struct ikev2_delete d;
	d.proto = rd_u8(r);
	d.spi_len = rd_u8(r);
	d.n_spi = rd_u16(r);
	d.spis = rd_bytes(r, (size_t)d.spi_len * d.n_spi);
	if (r->err || (d.proto == PROTO_IKE && d.spi_len != 0) ||
	    (d.proto != PROTO_IKE && d.spi_len != 4)) {
		*err = "malformed delete payload";
		return -1;
	}
	if (pl->n_del < IKEV2_MAX_DELETE)
		pl->del[pl->n_del++] = d;
	return 0;
}

static int parse_id(struct rd *r, struct ikev2_id *id, const char **err)
{
	id->body = r->p + r->off;
	id->body_len = rd_left(r);
	id->type = rd_u8(r);
	rd_skip(r, 3);
	id->len = rd_left(r);
	id->data = rd_bytes(r, id->len);
	if (r->err) {
		*err = "truncated identification payload";
		return -1;
	}
	return 0;
}

static int parse_one(uint8_t type, struct rd *r, struct ikev2_payloads *pl, const char **err)
{
	switch (type) {
	case PL_SA:
		return parse_sa(r, pl, err);
	case PL_KE:
		pl->ke_group = rd_u16(r);
		rd_skip(r, 2);
		pl->ke_len = rd_left(r);
		pl->ke = rd_bytes(r, pl->ke_len);
		pl->has_ke = !r->err;
		break;
	case PL_NONCE:
		pl->nonce_len = rd_left(r);
		pl->nonce = rd_bytes(r, pl->nonce_len);
		if (pl->nonce_len < 16 || pl->nonce_len > 256) {
			*err = "nonce length outside 16..256";
			return -1;
		}
		break;
	case PL_IDI:
		pl->has_idi = true;
		return parse_id(r, &pl->idi, err);
	case PL_IDR:
		pl->has_idr = true;
		return parse_id(r, &pl->idr, err);
	case PL_AUTH:
		pl->auth_method = rd_u8(r);
		rd_skip(r, 3);
		pl->auth_len = rd_left(r);
		pl->auth = rd_bytes(r, pl->auth_len);
		pl->has_auth = !r->err;
		break;
	case PL_NOTIFY:
		return parse_notify(r, pl, err);
	case PL_DELETE:
		return parse_delete(r, pl, err);
	case PL_TSI:
		pl->has_tsi = true;
		return parse_ts(r, pl->tsi, &pl->n_tsi, err);
	case PL_TSR:
		pl->has_tsr = true;
		return parse_ts(r, pl->tsr, &pl->n_tsr, err);
	case PL_VENDOR:
		pl->n_vendor++;
		break;
	case PL_CERTREQ:
		pl->has_certreq = true;
		break;
	case PL_CP:
		if (!pl->has_cp) {
			pl->cp_len = rd_left(r);
			pl->cp = rd_bytes(r, pl->cp_len);
		}
		pl->has_cp = true;
		pl->n_cp += pl->n_cp < 255;
		break;
	case PL_EAP:
		pl->has_eap = true;
		break;
	}
	if (r->err) {
		*err = "truncated payload";
		return -1;
	}
	return 0;
}

static bool known_payload(uint8_t type)
{
	return (type >= PL_SA && type <= PL_EAP) || type == PL_SKF;
}

int ikev2_parse_payloads(uint8_t first, const uint8_t *data, size_t len, size_t base_off,
			 struct ikev2_payloads *pl, uint8_t *unsupported, const char **err)
{
	struct rd r;
	uint8_t type = first;
	rd_init(&r, data, len);
	*unsupported = 0;
	while (type != PL_NONE) {
		size_t off = r.off;
		uint8_t next = rd_u8(&r);
		uint8_t crit = rd_u8(&r);
		uint16_t plen = rd_u16(&r);
		if (r.err || plen < 4) {
			*err = "truncated generic payload header";
			return -1;
		}
		struct rd body = rd_sub(&r, plen - 4);
		if (r.err) {
			*err = "payload length exceeds the message";
			return -1;
		}
		if (type == PL_SK || type == PL_SKF) {
			/* Encrypted payload: its inner chain is parsed after decryption; it must
			 * be the last payload (RFC 7296 3.14). */
			pl->has_sk = type == PL_SK;
			pl->has_skf = type == PL_SKF;
			pl->sk_off = base_off + off;
			pl->sk_first = next;
			if (rd_left(&r) != 0) {
				*err = "payloads after the encrypted payload";
				return -1;
			}
			return 0;
		}
		if (!known_payload(type)) {
			if (crit & 0x80) {
				*unsupported = type;
				*err = "unsupported critical payload";
				return -1;
			}
		} else if (parse_one(type, &body, pl, err) < 0) {
			return -1;
		}
		type = next;
	}
	if (rd_left(&r) != 0) {
		*err = "trailing data after the last payload";
		return -1;
	}
	return 0;
}

const struct ikev2_notify *ikev2_find_notify(const struct ikev2_payloads *pl, uint16_t type)
{
	for (size_t i = 0; i < pl->n_notify; i++)
		if (pl->notify[i].type == type)
			return &pl->notify[i];
	return NULL;
}

const struct ikev2_notify *ikev2_error_notify(const struct ikev2_payloads *pl)
{
	for (size_t i = 0; i < pl->n_notify; i++)
		if (pl->notify[i].type < 16384)
			return &pl->notify[i];
	return NULL;
}

/* ---- building ---- */

void ikb_init(struct ikev2_builder *k)
{
	buf_init(&k->b);
	k->np_off = SIZE_MAX;
	k->first = PL_NONE;
}

void ikb_free(struct ikev2_builder *k)
{
	buf_wipe_free(&k->b);
}

size_t ikb_begin(struct ikev2_builder *k, uint8_t type, bool critical)
{
	if (k->np_off == SIZE_MAX)
		k->first = type;
	else if (k->np_off < k->b.len)
		k->b.data[k->np_off] = type;
	size_t off = k->b.len;
	k->np_off = off;
	buf_put_u8(&k->b, PL_NONE);
	buf_put_u8(&k->b, critical ? 0x80 : 0);
	buf_put_u16(&k->b, 0);
	return off;
}

void ikb_end(struct ikev2_builder *k, size_t off)
{
	buf_set_u16(&k->b, off + 2, (uint16_t)(k->b.len - off));
}

static void put_transform(struct buf *b, const struct xform *x, bool last)
{
	buf_put_u8(b, last ? 0 : 3);
	buf_put_u8(b, 0);
	buf_put_u16(b, x->keylen ? 12 : 8);
	buf_put_u8(b, x->type);
	buf_put_u8(b, 0);
	buf_put_u16(b, x->id);
	if (x->keylen) {
		buf_put_u16(b, 0x8000 | 14);
		buf_put_u16(b, x->keylen);
	}
}

void ikb_sa(struct ikev2_builder *k, const struct proposal *props, size_t n)
{
	size_t off = ikb_begin(k, PL_SA, false);
	for (size_t i = 0; i < n; i++) {
		const struct proposal *p = &props[i];
		size_t poff = k->b.len;
		buf_put_u8(&k->b, i + 1 == n ? 0 : 2);
		buf_put_u8(&k->b, 0);
		buf_put_u16(&k->b, 0);
		buf_put_u8(&k->b, p->num ? p->num : (uint8_t)(i + 1));
		buf_put_u8(&k->b, p->protocol);
		buf_put_u8(&k->b, p->spi_len);
		buf_put_u8(&k->b, (uint8_t)p->n_xf);
		buf_put(&k->b, p->spi, p->spi_len);
		for (size_t j = 0; j < p->n_xf; j++)
			put_transform(&k->b, &p->xf[j], j + 1 == p->n_xf);
		buf_set_u16(&k->b, poff + 2, (uint16_t)(k->b.len - poff));
	}
	ikb_end(k, off);
}

void ikb_ke(struct ikev2_builder *k, uint16_t group, const uint8_t *data, size_t len)
{
	size_t off = ikb_begin(k, PL_KE, false);
	buf_put_u16(&k->b, group);
	buf_put_u16(&k->b, 0);
	buf_put(&k->b, data, len);
	ikb_end(k, off);
}

void ikb_nonce(struct ikev2_builder *k, const uint8_t *n, size_t len)
{
	size_t off = ikb_begin(k, PL_NONCE, false);
	buf_put(&k->b, n, len);
	ikb_end(k, off);
}

void ikb_id(struct ikev2_builder *k, uint8_t pl_type, uint8_t id_type, const uint8_t *data,
	    size_t len)
{
	size_t off = ikb_begin(k, pl_type, false);
	buf_put_u8(&k->b, id_type);
	buf_put_zero(&k->b, 3);
	buf_put(&k->b, data, len);
	ikb_end(k, off);
}

void ikb_auth(struct ikev2_builder *k, uint8_t method, const uint8_t *data, size_t len)
{
	size_t off = ikb_begin(k, PL_AUTH, false);
	buf_put_u8(&k->b, method);
	buf_put_zero(&k->b, 3);
	buf_put(&k->b, data, len);
	ikb_end(k, off);
}

void ikb_notify(struct ikev2_builder *k, uint8_t proto, const uint8_t *spi, uint8_t spi_len,
		uint16_t type, const uint8_t *data, size_t len)
{
	size_t off = ikb_begin(k, PL_NOTIFY, false);
	buf_put_u8(&k->b, proto);
	buf_put_u8(&k->b, spi_len);
	buf_put_u16(&k->b, type);
	buf_put(&k->b, spi, spi_len);
	buf_put(&k->b, data, len);
	ikb_end(k, off);
}

void ikb_delete(struct ikev2_builder *k, uint8_t proto, const uint8_t *spis, uint8_t spi_len,
		uint16_t n)
{
	size_t off = ikb_begin(k, PL_DELETE, false);
	buf_put_u8(&k->b, proto);
	buf_put_u8(&k->b, spi_len);
	buf_put_u16(&k->b, n);
	buf_put(&k->b, spis, (size_t)spi_len * n);
	ikb_end(k, off);
}

void ikb_ts(struct ikev2_builder *k, uint8_t pl_type, const struct selector *ts, size_t n)
{
	size_t off = ikb_begin(k, pl_type, false);
	buf_put_u8(&k->b, (uint8_t)n);
	buf_put_zero(&k->b, 3);
	for (size_t i = 0; i < n; i++) {
		size_t alen = ts[i].family == AF_INET ? 4 : 16;
		buf_put_u8(&k->b, alen == 4 ? TS_IPV4_ADDR_RANGE : TS_IPV6_ADDR_RANGE);
		buf_put_u8(&k->b, ts[i].proto);
		buf_put_u16(&k->b, (uint16_t)(8 + 2 * alen));
		buf_put_u16(&k->b, ts[i].port_lo);
		buf_put_u16(&k->b, ts[i].port_hi);
		buf_put(&k->b, ts[i].lo, alen);
		buf_put(&k->b, ts[i].hi, alen);
	}
	ikb_end(k, off);
}

void ikb_vendor(struct ikev2_builder *k, const uint8_t *vid, size_t len)
{
	size_t off = ikb_begin(k, PL_VENDOR, false);
	buf_put(&k->b, vid, len);
	ikb_end(k, off);
}

void ikev2_put_header(struct buf *out, const struct ikev2_hdr *h)
{
	buf_put(out, h->spi_i, 8);
	buf_put(out, h->spi_r, 8);
	buf_put_u8(out, h->next_payload);
	buf_put_u8(out, IKEV2_VERSION);
	buf_put_u8(out, h->exchange);
	buf_put_u8(out, h->flags);
	buf_put_u32(out, h->msgid);
	buf_put_u32(out, h->length);
}
