/* ISAKMP message codec (RFC 2408 3, RFC 2407 4.5-4.6, RFC 3947 3). See isakmp_msg.h.
 * Every structure is read through a bounds-checked struct rd: a payload's declared
 * length is checked against what is left, then its minimum size, then it is read. */
#include "ike/v1/isakmp_msg.h"

#include <string.h>
#include <sys/socket.h>

#define ISAKMP_MAX_ATTR_LEN 256	/* no attribute we know is longer; bounds the rest */
#define ISAKMP_MAX_KE 1024		/* MODP 8192 */
#define ISAKMP_MAX_HASH 64		/* SHA-512 */

int isakmp_parse_header(const uint8_t *msg, size_t len, struct isakmp_hdr *h,
			const char **err)
{
	struct rd r;
	rd_init(&r, msg, len);
	rd_copy(&r, h->cky_i, 8);
	rd_copy(&r, h->cky_r, 8);
	h->next_payload = rd_u8(&r);
	h->version = rd_u8(&r);
	h->exchange = rd_u8(&r);
	h->flags = rd_u8(&r);
	h->msgid = rd_u32(&r);
	h->length = rd_u32(&r);
	if (r.err) {
		*err = "message shorter than the ISAKMP header";
		return -1;
	}
	/* RFC 2408 3.1: reject a major version we do not speak; minor versions are
	 * not checked (a 1.x peer is still ISAKMP 1 to us). */
	if (h->version >> 4 != 1) {
		*err = "not an IKEv1 message (major version)";
		return -1;
	}
	if (h->length != len) {
		*err = "ISAKMP header length does not match the datagram";
		return -1;
	}
	return 0;
}

/* --- data attributes ------------------------------------------------------------------ */

bool isakmp_next_attr(struct rd *r, struct isakmp_attr *a)
{
	if (rd_left(r) == 0)
		return false;
	uint16_t t = rd_u16(r);
	memset(a, 0, sizeof(*a));
	a->type = t & 0x7fff;
	if (t & 0x8000) {
		a->basic = true;
		a->data = rd_bytes(r, 2);
		a->len = 2;
		a->value = a->data ? get_u16(a->data) : 0;
	} else {
		a->len = rd_u16(r);
		a->data = rd_bytes(r, a->len);
	}
	return !r->err;
}

int isakmp_attr_u32(const struct isakmp_attr *a, uint32_t *v)
{
	uint64_t x = 0;
	if (a->basic) {
		*v = a->value;
		return 0;
	}
	if (a->len < 1 || a->len > 8)
		return -1;
	for (size_t i = 0; i < a->len; i++)
		x = x << 8 | a->data[i];
	*v = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
	return 0;
}

static int check_attrs(const uint8_t *p, size_t len, const char **err)
{
	struct rd r;
	struct isakmp_attr a;
	size_t n = 0;

	rd_init(&r, p, len);
	while (isakmp_next_attr(&r, &a)) {
		if (++n > ISAKMP_MAX_ATTRS) {
			*err = "too many attributes in a transform";
			return -1;
		}
		if (!a.basic && a.len > ISAKMP_MAX_ATTR_LEN) {
			*err = "variable attribute too long";
			return -1;
		}
	}
	if (r.err) {
		*err = "truncated data attribute";
		return -1;
	}
	return 0;
}

/* --- SA > Proposal > Transform ---------------------------------------------------------- */

/* One substructure's generic header: next (must be `more` or 0), reserved, length
 * (at least min, within r). The body is returned as its own reader. */
static int sub_header(struct rd *r, uint8_t more, size_t min, bool *last, struct rd *body,
		      const char *what, const char **err)
{
	uint8_t next = rd_u8(r);
	rd_u8(r);
	uint16_t len = rd_u16(r);
	if (r->err || len < min) {
		*err = what;
		return -1;
	}
	*body = rd_sub(r, len - 4);
	if (r->err || (next != 0 && next != more)) {
		*err = what;
		return -1;
	}
	*last = next == 0;
	return 0;
}

bool isakmp_next_transform(struct rd *r, struct isakmp_transform *t)
{
	struct rd body;
	bool last;
	const char *err;

	if (rd_left(r) == 0 || sub_header(r, ISAKMP_PL_T, 8, &last, &body, "", &err) < 0)
		return false;
	t->num = rd_u8(&body);
	t->id = rd_u8(&body);
	rd_skip(&body, 2);
	t->attrs_len = rd_left(&body);
	t->attrs = rd_bytes(&body, t->attrs_len);
	return !body.err;
}

static int parse_transforms(struct rd *r, uint8_t n_xf, const char **err)
{
	for (unsigned i = 0; i < n_xf; i++) {
		struct rd body;
		bool last;
		if (sub_header(r, ISAKMP_PL_T, 8, &last, &body,
			       "malformed transform payload header", err) < 0)
			return -1;
		if (last != (i + 1 == n_xf)) {
			*err = "transform count does not match the transform chain";
			return -1;
		}
		rd_skip(&body, 4);	/* number, ID, reserved */
		if (check_attrs(body.p + body.off, rd_left(&body), err) < 0)
			return -1;
	}
	if (rd_left(r) != 0) {
		*err = "data after the last transform";
		return -1;
	}
	return 0;
}

static int parse_proposal(struct rd *r, struct isakmp_proposal *p, const char **err)
{
	memset(p, 0, sizeof(*p));
	p->num = rd_u8(r);
	p->protocol = rd_u8(r);
	p->spi_len = rd_u8(r);
	p->n_xf = rd_u8(r);
	if (r->err) {
		*err = "truncated proposal payload";
		return -1;
	}
	if (p->spi_len > ISAKMP_MAX_SPI) {
		*err = "proposal SPI size too large";
		return -1;
	}
	if (!rd_copy(r, p->spi, p->spi_len)) {
		*err = "proposal SPI past the proposal";
		return -1;
	}
	if (p->n_xf == 0) {
		*err = "proposal without transforms";
		return -1;
	}
	p->xforms_len = rd_left(r);
	p->xforms = r->p + r->off;
	return parse_transforms(r, p->n_xf, err);
}

static int parse_sa(struct rd *r, struct isakmp_payloads *pl, const char **err)
{
	bool last = false;

	pl->sa_body.p = r->p + r->off;
	pl->sa_body.len = rd_left(r);
	pl->sa_doi = rd_u32(r);
	pl->sa_situation = rd_u32(r);
	if (r->err) {
		*err = "truncated SA payload";
		return -1;
	}
	/* Other DOIs, and IPsec situations with labels, have fields we cannot size. */
	if (pl->sa_doi != ISAKMP_DOI_IPSEC) {
		*err = "SA payload DOI is not IPsec";
		return -1;
	}
	if (pl->sa_situation != ISAKMP_SIT_IDENTITY_ONLY) {
		*err = "SA payload situation not supported";
		return -1;
	}
	pl->has_sa = true;
	pl->n_props = 0;
	while (!last) {
		struct rd body;
		if (sub_header(r, ISAKMP_PL_P, 8, &last, &body,
			       "malformed proposal payload header", err) < 0)
			return -1;
		if (pl->n_props == ISAKMP_MAX_PROPOSALS) {
			*err = "too many proposals";
			return -1;
		}
		struct isakmp_proposal *p = &pl->props[pl->n_props];
		if (parse_proposal(&body, p, err) < 0)
			return -1;
		/* RFC 2408 4.2: numbers increase; equal numbers are one AND-ed proposal */
		if (pl->n_props > 0 && p->num < pl->props[pl->n_props - 1].num) {
			*err = "proposal numbers decrease";
			return -1;
		}
		pl->n_props++;
	}
	if (rd_left(r) != 0) {
		*err = "data after the last proposal";
		return -1;
	}
	return 0;
}

/* --- other payloads ---------------------------------------------------------------------- */

/* The identification data length each type needs: exact for addresses, 0 for "any
 * non-empty", -1 for types we do not know. */
static int id_data_len(uint8_t type)
{
	switch (type) {
	case ISAKMP_ID_IPV4_ADDR: return 4;
	case ISAKMP_ID_IPV4_ADDR_SUBNET:
	case ISAKMP_ID_IPV4_ADDR_RANGE: return 8;
	case ISAKMP_ID_IPV6_ADDR: return 16;
	case ISAKMP_ID_IPV6_ADDR_SUBNET:
	case ISAKMP_ID_IPV6_ADDR_RANGE: return 32;
	case ISAKMP_ID_FQDN:
	case ISAKMP_ID_USER_FQDN:
	case ISAKMP_ID_DER_ASN1_DN:
	case ISAKMP_ID_DER_ASN1_GN:
	case ISAKMP_ID_KEY_ID: return 0;
	}
	return -1;
}

static int parse_id(struct rd *r, struct isakmp_payloads *pl, const char **err)
{
	if (pl->n_id == 2) {
		*err = "more than two ID payloads";
		return -1;
	}
	struct isakmp_id *id = &pl->id[pl->n_id];
	id->body = r->p + r->off;
	id->body_len = rd_left(r);
	id->type = rd_u8(r);
	id->proto = rd_u8(r);
	id->port = rd_u16(r);
	id->len = rd_left(r);
	id->data = rd_bytes(r, id->len);
	if (r->err) {
		*err = "truncated ID payload";
		return -1;
	}
	int want = id_data_len(id->type);
	if (want < 0) {
		*err = "unknown ID type";
		return -1;
	}
	if ((want > 0 && id->len != (size_t)want) || id->len == 0) {
		*err = "ID data length does not fit its type";
		return -1;
	}
	pl->n_id++;
	return 0;
}

static int parse_notify(struct rd *r, struct isakmp_payloads *pl, const char **err)
{
	struct isakmp_notify n = { 0 };
	n.doi = rd_u32(r);
	n.proto = rd_u8(r);
	n.spi_len = rd_u8(r);
	n.type = rd_u16(r);
	if (r->err) {
		*err = "truncated notification payload";
		return -1;
	}
	if (n.spi_len > ISAKMP_MAX_SPI) {
		*err = "notification SPI size too large";
		return -1;
	}
	if (!rd_copy(r, n.spi, n.spi_len)) {
		*err = "notification SPI past the payload";
		return -1;
	}
	n.len = rd_left(r);
	n.data = rd_bytes(r, n.len);
	if (pl->n_notify == ISAKMP_MAX_NOTIFY) {
		*err = "too many notification payloads";
		return -1;
	}
	pl->notify[pl->n_notify++] = n;
	return 0;
}

static int parse_delete(struct rd *r, struct isakmp_payloads *pl, const char **err)
{
	struct isakmp_delete d;
	d.doi = rd_u32(r);
	d.proto = rd_u8(r);
	d.spi_len = rd_u8(r);
	d.n_spi = rd_u16(r);
	if (r->err) {
		*err = "truncated delete payload";
		return -1;
	}
	if (d.spi_len == 0 || d.spi_len > ISAKMP_MAX_SPI || d.n_spi == 0) {
		*err = "delete payload SPI size or count is 0 or too large";
		return -1;
	}
	if ((size_t)d.spi_len * d.n_spi != rd_left(r)) {
		*err = "delete payload SPI count x size does not match its length";
		return -1;
	}
	d.spis = rd_bytes(r, rd_left(r));
	if (pl->n_del == ISAKMP_MAX_DELETE) {
		*err = "too many delete payloads";
		return -1;
	}
	pl->del[pl->n_del++] = d;
	return 0;
}

static int parse_natoa(struct rd *r, struct isakmp_payloads *pl, const char **err)
{
	struct isakmp_natoa o = { 0 };
	o.type = rd_u8(r);
	rd_skip(r, 3);
	size_t alen = o.type == ISAKMP_ID_IPV4_ADDR ? 4 : o.type == ISAKMP_ID_IPV6_ADDR ? 16 : 0;
	if (r->err || alen == 0 || rd_left(r) != alen) {
		*err = "malformed NAT-OA payload";
		return -1;
	}
	o.addr.family = alen == 4 ? AF_INET : AF_INET6;
	rd_copy(r, o.addr.u.b, alen);
	if (pl->n_natoa == 2) {
		*err = "more than two NAT-OA payloads";
		return -1;
	}
	pl->natoa[pl->n_natoa++] = o;
	return 0;
}

/* Takes the whole body as one blob of min..max bytes, once per message. */
static int take_blob(struct rd *r, struct isakmp_blob *b, size_t min, size_t max,
		     const char *what, const char **err)
{
	if (b->p) {
		*err = what;	/* a second one */
		return -1;
	}
	b->len = rd_left(r);
	if (b->len < min || b->len > max) {
		*err = what;
		return -1;
	}
	b->p = rd_bytes(r, b->len);
	return 0;
}

static int append_blob(struct rd *r, struct isakmp_blob *arr, size_t *n, size_t max,
		       size_t maxlen, const char *what, const char **err)
{
	size_t len = rd_left(r);
	if (*n == max || len == 0 || len > maxlen) {
		*err = what;
		return -1;
	}
	arr[*n].len = len;
	arr[(*n)++].p = rd_bytes(r, len);
	return 0;
}

/* CERT: encoding (1 byte) and a certificate of at least one byte. Those beyond
 * ISAKMP_MAX_CERTS are counted, not kept (the chain check refuses them). */
static int parse_cert(struct rd *r, struct isakmp_payloads *pl, const char **err)
{
	if (rd_left(r) < 2) {
		*err = "CERT payload without encoding or certificate";
		return -1;
	}
	uint8_t enc = rd_u8(r);
	size_t len = rd_left(r);
	const uint8_t *p = rd_bytes(r, len);
	if (pl->n_cert == ISAKMP_MAX_CERTS) {
		pl->n_cert_over++;
		return 0;
	}
	pl->certs[pl->n_cert++] = (struct isakmp_cert){ enc, p, len };
	return 0;
}

static int parse_one(uint8_t type, struct rd *r, struct isakmp_payloads *pl, const char **err)
{
	switch (type) {
	case ISAKMP_PL_SA:
		if (pl->has_sa) {
			*err = "more than one SA payload";
			return -1;
		}
		return parse_sa(r, pl, err);
	case ISAKMP_PL_KE:
		return take_blob(r, &pl->ke, 1, ISAKMP_MAX_KE, "KE payload empty, too long or repeated",
				 err);
	case ISAKMP_PL_NONCE:
		return take_blob(r, &pl->nonce, ISAKMP_MIN_NONCE, ISAKMP_MAX_NONCE,
				 "nonce length outside 8..256 or nonce repeated", err);
	case ISAKMP_PL_ID:
		return parse_id(r, pl, err);
	case ISAKMP_PL_HASH:
		pl->has_hash = true;
		return take_blob(r, &pl->hash, 1, ISAKMP_MAX_HASH,
				 "HASH payload empty, too long or repeated", err);
	case ISAKMP_PL_SIG:
		return take_blob(r, &pl->sig, 1, SIZE_MAX, "SIG payload empty or repeated", err);
	case ISAKMP_PL_N:
		return parse_notify(r, pl, err);
	case ISAKMP_PL_D:
		return parse_delete(r, pl, err);
	case ISAKMP_PL_VID:
		return append_blob(r, pl->vendor, &pl->n_vendor, ISAKMP_MAX_VENDOR, SIZE_MAX,
				   "vendor ID payload empty or too many", err);
	case ISAKMP_PL_NAT_D:
	case ISAKMP_PL_NAT_D_DRAFT:
		if (pl->n_natd == 0)
			pl->natd_type = type;
		return append_blob(r, pl->natd, &pl->n_natd, ISAKMP_MAX_NATD, ISAKMP_MAX_HASH,
				   "NAT-D payload empty, too long or too many", err);
	case ISAKMP_PL_NAT_OA:
	case ISAKMP_PL_NAT_OA_DRAFT:
		return parse_natoa(r, pl, err);
	case ISAKMP_PL_CERT:
		return parse_cert(r, pl, err);
	case ISAKMP_PL_CR:
		/* counted only: we answer any CERTREQ with our chain (send_cert) */
		if (rd_left(r) < 1) {
			*err = "CERTREQ payload without an encoding";
			return -1;
		}
		pl->n_cr++;
		rd_skip(r, rd_left(r));
		return 0;
	case ISAKMP_PL_ATTR:
		return take_blob(r, &pl->attr, 0, SIZE_MAX, "more than one attribute payload", err);
	}
	/* RFC 2408 5.1: no critical bit in ISAKMP, an unknown type fails the message
	 * (Proposal and Transform are only valid inside an SA). */
	*err = "unknown payload type (INVALID-PAYLOAD-TYPE)";
	return -1;
}

int isakmp_parse_payloads(uint8_t first, const uint8_t *data, size_t len, size_t max_pad,
			  struct isakmp_payloads *pl, const char **err)
{
	struct rd r;
	uint8_t type = first;

	rd_init(&r, data, len);
	memset(pl, 0, sizeof(*pl));
	*err = NULL;
	while (type != ISAKMP_PL_NONE) {
		if (++pl->n_payloads > ISAKMP_MAX_PAYLOADS) {
			*err = "too many payloads";
			return -1;
		}
		uint8_t next = rd_u8(&r);
		rd_u8(&r);	/* RESERVED: ignored, as RFC 2408 3.2 allows */
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
		if (parse_one(type, &body, pl, err) < 0)
			return -1;
		if (body.err || rd_left(&body) != 0) {
			*err = "malformed payload body";	/* a parser left bytes unread */
			return -1;
		}
		if (type == ISAKMP_PL_HASH) {
			pl->hash_index = pl->n_payloads - 1;
			pl->hash_end = r.off;
		}
		type = next;
	}
	pl->chain_end = r.off;
	if (rd_left(&r) > max_pad) {
		*err = "trailing data after the last payload";
		return -1;
	}
	return 0;
}

const struct isakmp_notify *isakmp_find_notify(const struct isakmp_payloads *pl,
					       uint16_t type)
{
	for (size_t i = 0; i < pl->n_notify; i++)
		if (pl->notify[i].type == type)
			return &pl->notify[i];
	return NULL;
}

/* --- ID payloads as selectors ----------------------------------------------------------- */

static bool mask_contiguous(const uint8_t *m, size_t n)
{
	bool zero_seen = false;
	for (size_t i = 0; i < n; i++)
		for (int bit = 7; bit >= 0; bit--) {
			bool one = m[i] >> bit & 1;
			if (one && zero_seen)
				return false;
			zero_seen |= !one;
		}
	return true;
}

int isakmp_id_to_selector(const struct isakmp_id *id, struct selector *sel)
{
	size_t alen;
	memset(sel, 0, sizeof(*sel));
	switch (id->type) {
	case ISAKMP_ID_IPV4_ADDR:
	case ISAKMP_ID_IPV4_ADDR_SUBNET:
	case ISAKMP_ID_IPV4_ADDR_RANGE:
		alen = 4;
		sel->family = AF_INET;
		break;
	case ISAKMP_ID_IPV6_ADDR:
	case ISAKMP_ID_IPV6_ADDR_SUBNET:
	case ISAKMP_ID_IPV6_ADDR_RANGE:
		alen = 16;
		sel->family = AF_INET6;
		break;
	default:
		return -1;
	}
	if (id->len != (id->type == ISAKMP_ID_IPV4_ADDR || id->type == ISAKMP_ID_IPV6_ADDR ?
			alen : 2 * alen))
		return -1;
	const uint8_t *a = id->data, *b = id->data + alen;
	switch (id->type) {
	case ISAKMP_ID_IPV4_ADDR:
	case ISAKMP_ID_IPV6_ADDR:
		memcpy(sel->lo, a, alen);
		memcpy(sel->hi, a, alen);
		break;
	case ISAKMP_ID_IPV4_ADDR_SUBNET:
	case ISAKMP_ID_IPV6_ADDR_SUBNET:
		if (!mask_contiguous(b, alen))
			return -1;
		for (size_t i = 0; i < alen; i++) {
			sel->lo[i] = a[i] & b[i];
			sel->hi[i] = a[i] | (uint8_t)~b[i];
		}
		break;
	default:	/* range */
		if (memcmp(a, b, alen) > 0)
			return -1;
		memcpy(sel->lo, a, alen);
		memcpy(sel->hi, b, alen);
	}
	sel->proto = id->proto;
	sel->port_lo = id->port;
	sel->port_hi = id->port ? id->port : 65535;
	return 0;
}

/* --- building ----------------------------------------------------------------------------- */

void isb_init(struct isakmp_builder *k)
{
	buf_init(&k->b);
	k->np_off = SIZE_MAX;
	k->first = ISAKMP_PL_NONE;
}

void isb_free(struct isakmp_builder *k)
{
	buf_wipe_free(&k->b);
}

size_t isb_begin(struct isakmp_builder *k, uint8_t type)
{
	if (k->np_off == SIZE_MAX)
		k->first = type;
	else if (k->np_off < k->b.len)
		k->b.data[k->np_off] = type;
	size_t off = k->b.len;
	k->np_off = off;
	buf_put_u8(&k->b, ISAKMP_PL_NONE);
	buf_put_u8(&k->b, 0);
	buf_put_u16(&k->b, 0);
	return off;
}

void isb_end(struct isakmp_builder *k, size_t off)
{
	isb_sub_end(&k->b, off);
}

void isb_sub_end(struct buf *b, size_t off)
{
	buf_set_u16(b, off + 2, (uint16_t)(b->len - off));
}

size_t isb_sa_begin(struct isakmp_builder *k, uint32_t doi, uint32_t situation)
{
	size_t off = isb_begin(k, ISAKMP_PL_SA);
	buf_put_u32(&k->b, doi);
	buf_put_u32(&k->b, situation);
	return off;
}

size_t isb_proposal_begin(struct buf *b, bool last, uint8_t num, uint8_t proto,
			  const uint8_t *spi, uint8_t spi_len, uint8_t n_xf)
{
	size_t off = b->len;
	buf_put_u8(b, last ? 0 : ISAKMP_PL_P);
	buf_put_u8(b, 0);
	buf_put_u16(b, 0);
	buf_put_u8(b, num);
	buf_put_u8(b, proto);
	buf_put_u8(b, spi_len);
	buf_put_u8(b, n_xf);
	buf_put(b, spi, spi_len);
	return off;
}

size_t isb_transform_begin(struct buf *b, bool last, uint8_t num, uint8_t id)
{
	size_t off = b->len;
	buf_put_u8(b, last ? 0 : ISAKMP_PL_T);
	buf_put_u8(b, 0);
	buf_put_u16(b, 0);
	buf_put_u8(b, num);
	buf_put_u8(b, id);
	buf_put_u16(b, 0);
	return off;
}

void isb_attr_basic(struct buf *b, uint16_t type, uint16_t value)
{
	buf_put_u16(b, 0x8000 | type);
	buf_put_u16(b, value);
}

void isb_attr_var(struct buf *b, uint16_t type, const uint8_t *data, uint16_t len)
{
	buf_put_u16(b, type & 0x7fff);
	buf_put_u16(b, len);
	buf_put(b, data, len);
}

void isb_attr_u32(struct buf *b, uint16_t type, uint32_t value)
{
	if (value <= 0xffff) {
		isb_attr_basic(b, type, (uint16_t)value);
		return;
	}
	uint8_t v[4];
	put_u32(v, value);
	isb_attr_var(b, type, v, 4);
}

void isb_proposal_copy(struct buf *b, bool last, const struct isakmp_proposal *p)
{
	size_t off = isb_proposal_begin(b, last, p->num, p->protocol, p->spi, p->spi_len,
					p->n_xf);
	buf_put(b, p->xforms, p->xforms_len);
	isb_sub_end(b, off);
}

static void put_blob(struct isakmp_builder *k, uint8_t type, const uint8_t *p, size_t len)
{
	size_t off = isb_begin(k, type);
	buf_put(&k->b, p, len);
	isb_end(k, off);
}

void isb_ke(struct isakmp_builder *k, const uint8_t *data, size_t len)
{
	put_blob(k, ISAKMP_PL_KE, data, len);
}

void isb_nonce(struct isakmp_builder *k, const uint8_t *n, size_t len)
{
	put_blob(k, ISAKMP_PL_NONCE, n, len);
}

void isb_id(struct isakmp_builder *k, uint8_t type, uint8_t proto, uint16_t port,
	    const uint8_t *data, size_t len)
{
	size_t off = isb_begin(k, ISAKMP_PL_ID);
	buf_put_u8(&k->b, type);
	buf_put_u8(&k->b, proto);
	buf_put_u16(&k->b, port);
	buf_put(&k->b, data, len);
	isb_end(k, off);
}

size_t isb_hash(struct isakmp_builder *k, const uint8_t *data, size_t len)
{
	size_t off = isb_begin(k, ISAKMP_PL_HASH);
	size_t at = k->b.len;
	if (data)
		buf_put(&k->b, data, len);
	else
		buf_put_zero(&k->b, len);
	isb_end(k, off);
	return at;
}

void isb_sig(struct isakmp_builder *k, const uint8_t *data, size_t len)
{
	put_blob(k, ISAKMP_PL_SIG, data, len);
}

void isb_cert(struct isakmp_builder *k, uint8_t pl_type, uint8_t encoding, const uint8_t *data,
	      size_t len)
{
	size_t off = isb_begin(k, pl_type);
	buf_put_u8(&k->b, encoding);
	buf_put(&k->b, data, len);
	isb_end(k, off);
}

void isb_notify(struct isakmp_builder *k, uint32_t doi, uint8_t proto, const uint8_t *spi,
		uint8_t spi_len, uint16_t type, const uint8_t *data, size_t len)
{
	size_t off = isb_begin(k, ISAKMP_PL_N);
	buf_put_u32(&k->b, doi);
	buf_put_u8(&k->b, proto);
	buf_put_u8(&k->b, spi_len);
	buf_put_u16(&k->b, type);
	buf_put(&k->b, spi, spi_len);
	buf_put(&k->b, data, len);
	isb_end(k, off);
}

void isb_delete(struct isakmp_builder *k, uint32_t doi, uint8_t proto, const uint8_t *spis,
		uint8_t spi_len, uint16_t n)
{
	size_t off = isb_begin(k, ISAKMP_PL_D);
	buf_put_u32(&k->b, doi);
	buf_put_u8(&k->b, proto);
	buf_put_u8(&k->b, spi_len);
	buf_put_u16(&k->b, n);
	buf_put(&k->b, spis, (size_t)spi_len * n);
	isb_end(k, off);
}

void isb_vendor(struct isakmp_builder *k, const uint8_t *vid, size_t len)
{
	put_blob(k, ISAKMP_PL_VID, vid, len);
}

void isb_natd(struct isakmp_builder *k, uint8_t pl_type, const uint8_t *hash, size_t len)
{
	put_blob(k, pl_type, hash, len);
}

void isb_natoa(struct isakmp_builder *k, uint8_t pl_type, const struct addr *a)
{
	size_t off = isb_begin(k, pl_type);
	bool v4 = a->family == AF_INET;
	buf_put_u8(&k->b, v4 ? ISAKMP_ID_IPV4_ADDR : ISAKMP_ID_IPV6_ADDR);
	buf_put_zero(&k->b, 3);
	buf_put(&k->b, a->u.b, v4 ? 4 : 16);
	isb_end(k, off);
}

void isakmp_put_header(struct buf *out, const struct isakmp_hdr *h)
{
	buf_put(out, h->cky_i, 8);
	buf_put(out, h->cky_r, 8);
	buf_put_u8(out, h->next_payload);
	buf_put_u8(out, ISAKMP_VERSION);
	buf_put_u8(out, h->exchange);
	buf_put_u8(out, h->flags);
	buf_put_u32(out, h->msgid);
	buf_put_u32(out, h->length);
}

void isakmp_set_length(struct buf *msg)
{
	if (msg->len >= ISAKMP_HDR_LEN)
		buf_set_u32(msg, 24, (uint32_t)msg->len);
}

/* Names as strongSwan logs them ("ID_PROT request 0 [ SA V V V ]"). */
const char *isakmp_exchange_name(uint8_t x)
{
	switch (x) {
	case ISAKMP_XCHG_MM: return "ID_PROT";
	case ISAKMP_XCHG_AM: return "AGGRESSIVE";
	case ISAKMP_XCHG_INFO: return "INFORMATIONAL_V1";
	case ISAKMP_XCHG_TRANSACTION: return "TRANSACTION";
	case ISAKMP_XCHG_QM: return "QUICK_MODE";
	}
	return "UNKNOWN_EXCHANGE";
}

const char *isakmp_payload_name(uint8_t type)
{
	switch (type) {
	case ISAKMP_PL_SA: return "SA";
	case ISAKMP_PL_P: return "P";
	case ISAKMP_PL_T: return "T";
	case ISAKMP_PL_KE: return "KE";
	case ISAKMP_PL_ID: return "ID";
	case ISAKMP_PL_CERT: return "CERT";
	case ISAKMP_PL_CR: return "CERTREQ";
	case ISAKMP_PL_HASH: return "HASH";
	case ISAKMP_PL_SIG: return "SIG";
	case ISAKMP_PL_NONCE: return "No";
	case ISAKMP_PL_N: return "N";
	case ISAKMP_PL_D: return "D";
	case ISAKMP_PL_VID: return "V";
	case ISAKMP_PL_ATTR: return "CPV1";
	case ISAKMP_PL_NAT_D: return "NAT-D";
	case ISAKMP_PL_NAT_OA: return "NAT-OA";
	case ISAKMP_PL_NAT_D_DRAFT: return "NAT-D (draft)";
	case ISAKMP_PL_NAT_OA_DRAFT: return "NAT-OA (draft)";
	}
	return "UNKNOWN";
}
