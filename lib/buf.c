#include "lib/buf.h"

#include <stdlib.h>
#include <string.h>

#include "lib/wipe.h"

void buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void buf_wipe_free(struct buf *b)
{
	wipe(b->data, b->cap);
	buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->oom = false;
}

bool buf_reserve(struct buf *b, size_t extra)
{
	if (b->oom)
		return false;
	if (extra > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return false;
	}
	if (b->len + extra <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	/* Not realloc: the old block may hold key material, so copy and wipe it. */
	uint8_t *p = malloc(cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	if (b->data) {
		memcpy(p, b->data, b->len);
		wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void buf_fit(struct buf *b)
{
	if (b->oom || !b->data || b->cap == b->len || b->len == 0)
		return;
	uint8_t *p = malloc(b->len);
	if (!p)
		return;		/* kept as it is: only memory is lost */
	memcpy(p, b->data, b->len);
	wipe(b->data, b->cap);
	free(b->data);
	b->data = p;
	b->cap = b->len;
}

uint8_t *buf_append(struct buf *b, size_t n)
{
	if (n == 0 && !b->data && !buf_reserve(b, 1))
		return NULL;	/* a valid pointer even for nothing, never NULL + 0 */
	if (!buf_reserve(b, n))
		return NULL;
	uint8_t *p = b->data + b->len;
	b->len += n;
	return p;
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t *d = buf_append(b, n);
	if (d && n)
		memcpy(d, p, n);
}

void buf_put_zero(struct buf *b, size_t n)
{
	uint8_t *d = buf_append(b, n);
	if (d && n)
		memset(d, 0, n);
}

void buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t t[2];
	put_u16(t, v);
	buf_put(b, t, 2);
}

void buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t t[4];
	put_u32(t, v);
	buf_put(b, t, 4);
}

void buf_put_u64(struct buf *b, uint64_t v)
{
	buf_put_u32(b, (uint32_t)(v >> 32));
	buf_put_u32(b, (uint32_t)v);
}

void buf_set_u16(struct buf *b, size_t off, uint16_t v)
{
	if (!b->oom && off + 2 <= b->len)
		put_u16(b->data + off, v);
}

void buf_set_u32(struct buf *b, size_t off, uint32_t v)
{
	if (!b->oom && off + 4 <= b->len)
		put_u32(b->data + off, v);
}

const uint8_t *rd_bytes(struct rd *r, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

bool rd_skip(struct rd *r, size_t n)
{
	return rd_bytes(r, n) != NULL || n == 0;
}

bool rd_copy(struct rd *r, void *dst, size_t n)
{
	const uint8_t *p = rd_bytes(r, n);
	if (!p)
		return false;
	memcpy(dst, p, n);
	return true;
}

uint8_t rd_u8(struct rd *r)
{
	const uint8_t *p = rd_bytes(r, 1);
	return p ? p[0] : 0;
}

uint16_t rd_u16(struct rd *r)
{
	const uint8_t *p = rd_bytes(r, 2);
	return p ? get_u16(p) : 0;
}

uint32_t rd_u32(struct rd *r)
{
	const uint8_t *p = rd_bytes(r, 4);
	return p ? get_u32(p) : 0;
}

uint64_t rd_u64(struct rd *r)
{
	uint64_t hi = rd_u32(r);
	return hi << 32 | rd_u32(r);
}

struct rd rd_sub(struct rd *r, size_t n)
{
	struct rd sub;
	const uint8_t *p = rd_bytes(r, n);
	rd_init(&sub, p, p ? n : 0);
	sub.err = p == NULL;
	return sub;
}

void hex_format(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}
