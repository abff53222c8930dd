/* Byte buffers. `struct buf` is a growing writer for building messages (network byte
 * order helpers, length back-patching). `struct rd` is a bounds-checked reader for
 * parsing untrusted input: every read checks the remaining length first; an overrun
 * returns zero/NULL and sets r->err, so a parser checks err once at the end. */
#ifndef TSUNAGI_BUF_H
#define TSUNAGI_BUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool oom;		/* an allocation failed; contents are incomplete */
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Wipes the contents before freeing (for buffers that held secrets). */
void buf_wipe_free(struct buf *b);
void buf_reset(struct buf *b);
bool buf_reserve(struct buf *b, size_t extra);
/* Gives back the room after len (a copy sized to it; the old block wiped): for what is
 * kept long, such as the last response an SA keeps for retransmission. */
void buf_fit(struct buf *b);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u16(struct buf *b, uint16_t v);
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_zero(struct buf *b, size_t n);
/* Appends n bytes and returns a pointer to them (NULL on oom). */
uint8_t *buf_append(struct buf *b, size_t n);
/* Back-patch a field written earlier at offset off. */
void buf_set_u16(struct buf *b, size_t off, uint16_t v);
void buf_set_u32(struct buf *b, size_t off, uint32_t v);

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

static inline void rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = false;
}

static inline size_t rd_left(const struct rd *r)
{
	return r->err ? 0 : r->len - r->off;
}

uint8_t rd_u8(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
/* Returns a pointer to the next n bytes and advances, or NULL (and err) if short. */
const uint8_t *rd_bytes(struct rd *r, size_t n);
bool rd_copy(struct rd *r, void *dst, size_t n);
bool rd_skip(struct rd *r, size_t n);
/* Splits off the next n bytes as their own reader (err in r if short). */
struct rd rd_sub(struct rd *r, size_t n);

/* Helpers for fixed-size fields in already-checked memory. */
static inline uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put_u16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Hex formatting for logs of non-secret data; out must hold 2*n+1. */
void hex_format(const uint8_t *p, size_t n, char *out);
#endif
