/* Fuzzes the ISAKMP message codec (ike/v1/isakmp_msg.c).
 *
 * The input is a whole IKEv1 message: isakmp_parse_header, then (unless the E flag
 * says the body is encrypted) the payload chain. If the header does not parse, the
 * input is tried as a decrypted body whose first payload type is the first byte, with
 * up to 16 bytes of padding allowed (what an exchange parses after isakmp_decrypt).
 *
 * Whenever a chain parses, every pointer of the view must lie inside the input, the
 * limits must hold, and the SA payload is rebuilt transform by transform, attribute by
 * attribute with the isb_* builders: the rebuilt SA body must be the same bytes (up to
 * the reserved fields, which the builder writes as zero). ID payloads with addresses are
 * turned into selectors, numeric attributes into numbers. An Attribute payload (XAuth,
 * Mode Config) is parsed with isakmp_cfg_parse and rebuilt: the same bytes. Seeds: tests/fuzz/
 * gen_isakmp_seeds.py (hand-laid messages as strongSwan sends them). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/v1/isakmp_attr.h"
#include "ike/v1/isakmp_msg.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_isakmp: %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                                               \
			abort();                                                        \
		}                                                                       \
	} while (0)

static void check_inside(const uint8_t *base, size_t len, const void *vp, size_t n)
{
	const uint8_t *p = vp;
	if (n == 0)
		return;
	CHECK(p != NULL);
	CHECK(p >= base && p <= base + len && n <= (size_t)(base + len - p));
}

static void check_blob(const uint8_t *base, size_t len, const struct isakmp_blob *b)
{
	check_inside(base, len, b->p, b->len);
}

/* Rebuilds one proposal from its parsed transforms and attributes. */
static void rebuild_proposal(struct buf *b, bool last, const struct isakmp_proposal *p)
{
	struct rd r, ra;
	struct isakmp_transform t;
	struct isakmp_attr a;
	uint8_t n = 0;

	size_t off = isb_proposal_begin(b, last, p->num, p->protocol, p->spi, p->spi_len,
					p->n_xf);
	rd_init(&r, p->xforms, p->xforms_len);
	while (isakmp_next_transform(&r, &t)) {
		n++;
		size_t toff = isb_transform_begin(b, n == p->n_xf, t.num, t.id);
		rd_init(&ra, t.attrs, t.attrs_len);
		while (isakmp_next_attr(&ra, &a)) {
			uint32_t v;
			if (a.basic)
				isb_attr_basic(b, a.type, a.value);
			else
				isb_attr_var(b, a.type, a.data, (uint16_t)a.len);
			if (isakmp_attr_u32(&a, &v) == 0 && a.basic)
				CHECK(v == a.value);
		}
		CHECK(!ra.err);
		isb_sub_end(b, toff);
	}
	CHECK(!r.err && n == p->n_xf);
	isb_sub_end(b, off);
}

/* The parsed SA body with its reserved bytes cleared, to compare with a rebuild. */
static void check_sa_round_trip(const struct isakmp_payloads *pl)
{
	struct isakmp_builder k;
	struct isakmp_payloads *again = calloc(1, sizeof(*again));
	const char *err;

	CHECK(again != NULL);
	isb_init(&k);
	size_t sa = isb_sa_begin(&k, pl->sa_doi, pl->sa_situation);
	for (size_t i = 0; i < pl->n_props; i++)
		rebuild_proposal(&k.b, i + 1 == pl->n_props, &pl->props[i]);
	isb_end(&k, sa);
	CHECK(!k.b.oom);
	CHECK(k.b.len == pl->sa_body.len + 4);
	int rc = isakmp_parse_payloads(ISAKMP_PL_SA, k.b.data, k.b.len, 0, again, &err);
	if (rc < 0)
		fprintf(stderr, "fuzz_isakmp: rebuilt SA does not parse: %s\n", err);
	CHECK(rc == 0 && again->n_props == pl->n_props);
	for (size_t i = 0; i < pl->n_props; i++) {
		const struct isakmp_proposal *x = &pl->props[i], *y = &again->props[i];
		CHECK(x->num == y->num && x->protocol == y->protocol && x->n_xf == y->n_xf);
		CHECK(x->spi_len == y->spi_len && memcmp(x->spi, y->spi, x->spi_len) == 0);
		CHECK(x->xforms_len == y->xforms_len);
	}
	isb_free(&k);
	free(again);
}

/* The Attribute payload: parsed, every attribute inside, rebuilt byte for byte. */
static void check_cfg(const struct isakmp_blob *attr)
{
	struct isakmp_cfg c;
	struct isakmp_builder k;
	const char *err = NULL;
	if (isakmp_cfg_parse(attr->p, attr->len, &c, &err) < 0) {
		CHECK(err != NULL);
		return;
	}
	CHECK(c.n_attrs <= ISAKMP_CFG_MAX_ATTRS);
	CHECK(c.n_unknown + c.n_repeated <= c.n_attrs);
	isb_init(&k);
	size_t off = isb_cfg_begin(&k, c.type, c.id);
	for (size_t i = 0; i < c.n_attrs; i++) {
		const struct isakmp_attr *a = &c.attrs[i];
		check_inside(attr->p, attr->len, a->data, a->len);
		CHECK(a->basic || a->len <= ISAKMP_CFG_MAX_ATTR_LEN);
		if (a->basic)
			isb_attr_basic(&k.b, a->type, a->value);
		else
			isb_attr_var(&k.b, a->type, a->data, (uint16_t)a->len);
		(void)isakmp_cfg_attr_name(a->type);
	}
	isb_end(&k, off);
	CHECK(!k.b.oom && k.b.len == attr->len + 4);
	CHECK(memcmp(k.b.data + 4, attr->p, 1) == 0 && memcmp(k.b.data + 6, attr->p + 2,
							      attr->len - 2) == 0);
	(void)isakmp_cfg_type_name(c.type);
	isb_free(&k);
}

static void check_view(const struct isakmp_payloads *pl, const uint8_t *base, size_t len)
{
	struct selector sel;

	CHECK(pl->n_payloads <= ISAKMP_MAX_PAYLOADS);
	CHECK(pl->chain_end <= len);
	if (pl->has_sa) {
		CHECK(pl->n_props >= 1 && pl->n_props <= ISAKMP_MAX_PROPOSALS);
		check_blob(base, len, &pl->sa_body);
		for (size_t i = 0; i < pl->n_props; i++) {
			CHECK(pl->props[i].spi_len <= ISAKMP_MAX_SPI && pl->props[i].n_xf >= 1);
			check_inside(base, len, pl->props[i].xforms, pl->props[i].xforms_len);
		}
		check_sa_round_trip(pl);
	}
	check_blob(base, len, &pl->ke);
	check_blob(base, len, &pl->nonce);
	if (pl->nonce.p)
		CHECK(pl->nonce.len >= ISAKMP_MIN_NONCE && pl->nonce.len <= ISAKMP_MAX_NONCE);
	CHECK(pl->n_id <= 2);
	for (size_t i = 0; i < pl->n_id; i++) {
		check_inside(base, len, pl->id[i].data, pl->id[i].len);
		check_inside(base, len, pl->id[i].body, pl->id[i].body_len);
		CHECK(pl->id[i].body_len == pl->id[i].len + 4 && pl->id[i].len > 0);
		if (isakmp_id_to_selector(&pl->id[i], &sel) == 0)
			CHECK(memcmp(sel.lo, sel.hi, 16) <= 0 && sel.port_lo <= sel.port_hi);
	}
	if (pl->has_hash) {
		check_blob(base, len, &pl->hash);
		CHECK(pl->hash_end <= pl->chain_end && pl->hash_index < pl->n_payloads);
	}
	check_blob(base, len, &pl->sig);
	check_blob(base, len, &pl->attr);
	if (pl->attr.p)
		check_cfg(&pl->attr);
	CHECK(pl->n_notify <= ISAKMP_MAX_NOTIFY && pl->n_del <= ISAKMP_MAX_DELETE);
	for (size_t i = 0; i < pl->n_notify; i++) {
		CHECK(pl->notify[i].spi_len <= ISAKMP_MAX_SPI);
		check_inside(base, len, pl->notify[i].data, pl->notify[i].len);
	}
	for (size_t i = 0; i < pl->n_del; i++) {
		const struct isakmp_delete *d = &pl->del[i];
		CHECK(d->n_spi > 0 && d->spi_len > 0 && d->spi_len <= ISAKMP_MAX_SPI);
		check_inside(base, len, d->spis, (size_t)d->spi_len * d->n_spi);
	}
	CHECK(pl->n_vendor <= ISAKMP_MAX_VENDOR && pl->n_natd <= ISAKMP_MAX_NATD);
	for (size_t i = 0; i < pl->n_vendor; i++)
		check_blob(base, len, &pl->vendor[i]);
	for (size_t i = 0; i < pl->n_natd; i++)
		check_blob(base, len, &pl->natd[i]);
	CHECK(pl->n_natoa <= 2);
}

static void fuzz_chain(uint8_t first, const uint8_t *data, size_t size, size_t max_pad)
{
	struct isakmp_payloads *pl = calloc(1, sizeof(*pl));
	const char *err = NULL;

	CHECK(pl != NULL);
	if (isakmp_parse_payloads(first, data, size, max_pad, pl, &err) == 0) {
		CHECK(size - pl->chain_end <= max_pad);
		check_view(pl, data, size);
	} else {
		CHECK(err != NULL);
	}
	free(pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isakmp_hdr h;
	const char *err = NULL;

	if (size > ISAKMP_MAX_MSG)
		return 0;
	if (isakmp_parse_header(data, size, &h, &err) == 0) {
		struct buf b;
		CHECK(h.length == size);
		buf_init(&b);
		isakmp_put_header(&b, &h);
		CHECK(!b.oom && b.len == ISAKMP_HDR_LEN);
		CHECK(memcmp(b.data, data, 17) == 0 && memcmp(b.data + 18, data + 18, 10) == 0);
		buf_free(&b);
		(void)isakmp_exchange_name(h.exchange);
		(void)isakmp_payload_name(h.next_payload);
		if (!(h.flags & ISAKMP_FLAG_E))
			fuzz_chain(h.next_payload, data + ISAKMP_HDR_LEN, size - ISAKMP_HDR_LEN, 0);
	} else {
		CHECK(err != NULL);
		if (size >= 1)
			fuzz_chain(data[0], data + 1, size - 1, 16);
	}
	return 0;
}
