/* Fuzzes the IKEv2 message codec (ike/ikev2_msg.c, ikev2_describe).
 *
 * The input is a whole IKE message: ikev2_parse_header, then the outer payload chain,
 * then ikev2_describe. If the header does not parse, the input is also tried as a bare
 * payload chain whose first payload type is the first byte (what the core parses
 * after decrypting an SK payload).
 *
 * Whenever a chain parses, its view is checked and then rebuilt with the ikb_*
 * builders (SA, KE, Nonce, IDi, IDr, AUTH, notifies, deletes, TSi, TSr) and parsed
 * again: the second view must equal the first. That round trip catches builders and
 * parsers that disagree on a layout, and pointers in the view that leave the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ikev2_msg.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_ikev2: %s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                                               \
			abort();                                                        \
		}                                                                       \
	} while (0)

/* A (pointer, length) pair from the view must lie inside [base, base + len). */
static void check_inside(const uint8_t *base, size_t len, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	CHECK(p != NULL);
	CHECK(p >= base && p <= base + len && n <= (size_t)(base + len - p));
}

static void check_view(const struct ikev2_payloads *pl, const uint8_t *base, size_t len)
{
	CHECK(pl->n_props <= IKEV2_MAX_PROPOSALS);
	CHECK(pl->n_notify <= IKEV2_MAX_NOTIFY);
	CHECK(pl->n_del <= IKEV2_MAX_DELETE);
	CHECK(pl->n_tsi <= IKEV2_MAX_TS && pl->n_tsr <= IKEV2_MAX_TS);
	if (pl->has_sa)
		CHECK(pl->n_props >= 1);
	for (size_t i = 0; i < pl->n_props; i++) {
		CHECK(pl->props[i].spi_len <= 8);
		CHECK(pl->props[i].n_xf <= PROPOSAL_MAX_XFORMS);
	}
	if (pl->has_ke)
		check_inside(base, len, pl->ke, pl->ke_len);
	if (pl->nonce) {
		CHECK(pl->nonce_len >= 16 && pl->nonce_len <= 256);
		check_inside(base, len, pl->nonce, pl->nonce_len);
	}
	if (pl->has_idi) {
		check_inside(base, len, pl->idi.data, pl->idi.len);
		check_inside(base, len, pl->idi.body, pl->idi.body_len);
		CHECK(pl->idi.body_len == pl->idi.len + 4);
	}
	if (pl->has_idr) {
		check_inside(base, len, pl->idr.data, pl->idr.len);
		check_inside(base, len, pl->idr.body, pl->idr.body_len);
		CHECK(pl->idr.body_len == pl->idr.len + 4);
	}
	if (pl->has_auth)
		check_inside(base, len, pl->auth, pl->auth_len);
	for (size_t i = 0; i < pl->n_notify; i++) {
		CHECK(pl->notify[i].spi_len <= 8);
		check_inside(base, len, pl->notify[i].data, pl->notify[i].len);
	}
	for (size_t i = 0; i < pl->n_del; i++)
		check_inside(base, len, pl->del[i].spis,
			     (size_t)pl->del[i].spi_len * pl->del[i].n_spi);
	for (size_t i = 0; i < pl->n_tsi + pl->n_tsr; i++) {
		const struct selector *s = i < pl->n_tsi ? &pl->tsi[i] : &pl->tsr[i - pl->n_tsi];
		CHECK(s->family == AF_INET || s->family == AF_INET6);
	}
}

/* Rebuilds what the view holds, one payload of each kind (the parser keeps the last
 * one of a kind that appears twice), notifies and deletes in order. */
static void rebuild(const struct ikev2_payloads *pl, struct ikev2_builder *k)
{
	if (pl->has_sa)
		ikb_sa(k, pl->props, pl->n_props);
	if (pl->has_ke)
		ikb_ke(k, pl->ke_group, pl->ke, pl->ke_len);
	if (pl->nonce)
		ikb_nonce(k, pl->nonce, pl->nonce_len);
	if (pl->has_idi)
		ikb_id(k, PL_IDI, pl->idi.type, pl->idi.data, pl->idi.len);
	if (pl->has_idr)
		ikb_id(k, PL_IDR, pl->idr.type, pl->idr.data, pl->idr.len);
	if (pl->has_auth)
		ikb_auth(k, pl->auth_method, pl->auth, pl->auth_len);
	for (size_t i = 0; i < pl->n_notify; i++) {
		const struct ikev2_notify *n = &pl->notify[i];
		ikb_notify(k, n->proto, n->spi, n->spi_len, n->type, n->data, n->len);
	}
	for (size_t i = 0; i < pl->n_del; i++) {
		const struct ikev2_delete *d = &pl->del[i];
		ikb_delete(k, d->proto, d->spis, d->spi_len, d->n_spi);
	}
	if (pl->has_tsi)
		ikb_ts(k, PL_TSI, pl->tsi, pl->n_tsi);
	if (pl->has_tsr)
		ikb_ts(k, PL_TSR, pl->tsr, pl->n_tsr);
}

static void same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	CHECK(alen == blen);
	CHECK(alen == 0 || memcmp(a, b, alen) == 0);
}

static void same_proposal(const struct proposal *a, const struct proposal *b, size_t index)
{
	/* ikb_sa numbers a proposal numbered 0 by its position */
	CHECK(b->num == (a->num ? a->num : (uint8_t)(index + 1)));
	CHECK(a->protocol == b->protocol);
	same_bytes(a->spi, a->spi_len, b->spi, b->spi_len);
	CHECK(a->n_xf == b->n_xf);
	for (size_t i = 0; i < a->n_xf; i++) {
		CHECK(a->xf[i].type == b->xf[i].type);
		CHECK(a->xf[i].id == b->xf[i].id);
		CHECK(a->xf[i].keylen == b->xf[i].keylen);
	}
}

static void same_ts(const struct selector *a, size_t na, const struct selector *b, size_t nb)
{
	CHECK(na == nb);
	for (size_t i = 0; i < na; i++)
		CHECK(selector_equal(&a[i], &b[i]) && a[i].proto == b[i].proto);
}

static void same_view(const struct ikev2_payloads *a, const struct ikev2_payloads *b)
{
	CHECK(a->has_sa == b->has_sa);
	if (a->has_sa) {
		CHECK(a->n_props == b->n_props);
		for (size_t i = 0; i < a->n_props; i++)
			same_proposal(&a->props[i], &b->props[i], i);
	}
	CHECK(a->has_ke == b->has_ke);
	if (a->has_ke) {
		CHECK(a->ke_group == b->ke_group);
		same_bytes(a->ke, a->ke_len, b->ke, b->ke_len);
	}
	CHECK(!a->nonce == !b->nonce);
	if (a->nonce)
		same_bytes(a->nonce, a->nonce_len, b->nonce, b->nonce_len);
	CHECK(a->has_idi == b->has_idi && a->has_idr == b->has_idr);
	if (a->has_idi) {
		CHECK(a->idi.type == b->idi.type);
		same_bytes(a->idi.data, a->idi.len, b->idi.data, b->idi.len);
	}
	if (a->has_idr) {
		CHECK(a->idr.type == b->idr.type);
		same_bytes(a->idr.data, a->idr.len, b->idr.data, b->idr.len);
	}
	CHECK(a->has_auth == b->has_auth);
	if (a->has_auth) {
		CHECK(a->auth_method == b->auth_method);
		same_bytes(a->auth, a->auth_len, b->auth, b->auth_len);
	}
	CHECK(a->n_notify == b->n_notify);
	for (size_t i = 0; i < a->n_notify; i++) {
		const struct ikev2_notify *x = &a->notify[i], *y = &b->notify[i];
		CHECK(x->proto == y->proto && x->type == y->type);
		same_bytes(x->spi, x->spi_len, y->spi, y->spi_len);
		same_bytes(x->data, x->len, y->data, y->len);
	}
	CHECK(a->n_del == b->n_del);
	for (size_t i = 0; i < a->n_del; i++) {
		const struct ikev2_delete *x = &a->del[i], *y = &b->del[i];
		CHECK(x->proto == y->proto && x->spi_len == y->spi_len && x->n_spi == y->n_spi);
		same_bytes(x->spis, (size_t)x->spi_len * x->n_spi, y->spis,
			   (size_t)y->spi_len * y->n_spi);
	}
	CHECK(a->has_tsi == b->has_tsi && a->has_tsr == b->has_tsr);
	same_ts(a->tsi, a->n_tsi, b->tsi, b->n_tsi);
	same_ts(a->tsr, a->n_tsr, b->tsr, b->n_tsr);
	/* SK, vendor IDs, CERTREQ, CP and EAP are not rebuilt */
	CHECK(!b->has_sk && !b->has_skf && b->n_vendor == 0);
}

static void round_trip(const struct ikev2_payloads *pl)
{
	struct ikev2_builder k;
	struct ikev2_payloads *again = calloc(1, sizeof(*again));
	uint8_t unsupported;
	const char *err = NULL;

	CHECK(again != NULL);
	ikb_init(&k);
	rebuild(pl, &k);
	CHECK(!k.b.oom);
	if (k.b.len > 0) {
		/* each rebuilt payload is no larger than the one it came from */
		CHECK(k.b.len <= IKEV2_MAX_MSG);
		int rc = ikev2_parse_payloads(k.first, k.b.data, k.b.len, 0, again, &unsupported,
					      &err);
		if (rc < 0)
			fprintf(stderr, "fuzz_ikev2: rebuilt chain does not parse: %s\n", err);
		CHECK(rc == 0);
		check_view(again, k.b.data, k.b.len);
		same_view(pl, again);
	}
	ikb_free(&k);
	free(again);
}

static void describe(const struct ikev2_hdr *h, const struct ikev2_payloads *pl)
{
	char small[16], big[1024];

	ikev2_describe(h, pl, big, sizeof(big));
	CHECK(memchr(big, 0, sizeof(big)) != NULL);
	ikev2_describe(h, pl, small, sizeof(small));	/* truncation must be safe */
	CHECK(memchr(small, 0, sizeof(small)) != NULL);
	const struct ikev2_notify *n = ikev2_error_notify(pl);
	if (n)
		CHECK(n->type < 16384 && ikev2_find_notify(pl, n->type) != NULL);
	(void)ikev2_payload_name(h->next_payload);
}

static void header_round_trip(const uint8_t *data, const struct ikev2_hdr *h)
{
	struct buf b;
	buf_init(&b);
	ikev2_put_header(&b, h);
	CHECK(!b.oom && b.len == IKEV2_HDR_LEN);
	/* the builder always writes version 2.0; the rest must be the same bytes */
	CHECK(memcmp(b.data, data, 17) == 0);
	CHECK(b.data[17] == IKEV2_VERSION);
	CHECK(memcmp(b.data + 18, data + 18, IKEV2_HDR_LEN - 18) == 0);
	buf_free(&b);
}

static void fuzz_message(const uint8_t *data, size_t size)
{
	struct ikev2_hdr h;
	struct ikev2_payloads *pl = calloc(1, sizeof(*pl));
	const char *err = NULL;
	uint8_t unsupported = 0;

	CHECK(pl != NULL);
	if (ikev2_parse_header(data, size, &h, &err) < 0) {
		CHECK(err != NULL);
		goto out;
	}
	CHECK(size >= IKEV2_HDR_LEN && h.length == size);
	header_round_trip(data, &h);
	int rc = ikev2_parse_payloads(h.next_payload, data + IKEV2_HDR_LEN, size - IKEV2_HDR_LEN,
				      IKEV2_HDR_LEN, pl, &unsupported, &err);
	if (rc < 0) {
		CHECK(err != NULL);
		goto out;
	}
	CHECK(unsupported == 0);
	check_view(pl, data, size);
	if (pl->has_sk || pl->has_skf) {
		/* the encrypted payload is the last one: its header is inside the message */
		CHECK(pl->sk_off >= IKEV2_HDR_LEN && pl->sk_off + 4 <= size);
		CHECK(get_u16(data + pl->sk_off + 2) == size - pl->sk_off);
	}
	describe(&h, pl);
	round_trip(pl);
out:
	free(pl);
}

static void fuzz_chain(uint8_t first, const uint8_t *data, size_t size)
{
	struct ikev2_payloads *pl = calloc(1, sizeof(*pl));
	const char *err = NULL;
	uint8_t unsupported = 0;
	struct ikev2_hdr h = { .exchange = IKE_AUTH };

	CHECK(pl != NULL);
	if (ikev2_parse_payloads(first, data, size, 0, pl, &unsupported, &err) == 0) {
		check_view(pl, data, size);
		if (pl->has_sk || pl->has_skf)
			CHECK(pl->sk_off + 4 <= size);
		describe(&h, pl);
		round_trip(pl);
	} else {
		CHECK(err != NULL);
	}
	free(pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ikev2_hdr h;
	const char *err;

	if (size > IKEV2_MAX_MSG)
		return 0;
	fuzz_message(data, size);
	/* Not a message: a decrypted inner chain, the first byte its first payload type. */
	if (size >= 1 && ikev2_parse_header(data, size, &h, &err) < 0)
		fuzz_chain(data[0], data + 1, size - 1);
	return 0;
}
