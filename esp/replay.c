/* Anti-replay window: a ring of `words` 64-bit words; sequence number s lives in word
 * (s / 64) % words, bit s % 64. The window holds the numbers top - size + 1 .. top.
 * Sliding right to a new top clears the words after the old top's up to the new
 * top's; the first of them aliases the word `words` before it, which must lie left of
 * the new window: words > ceil((size - 1) / 64), so sliding only ever clears words
 * that have left the window (REPLAY_RING_WORDS for the largest window). */
#include "esp/replay.h"

#include <stdlib.h>
#include <string.h>

int replay_init(struct replay_window *w, uint32_t size, bool esn)
{
	memset(w, 0, sizeof(*w));
	w->esn = esn;
	if (size > REPLAY_WINDOW_MAX)
		return -1;
	if (size) {
		uint32_t words = (size + 62) / 64 + 1;
		w->ring = calloc(words, sizeof(*w->ring));
		if (!w->ring)
			return -1;
		w->words = words;
	}
	w->size = size;
	return 0;
}

void replay_free(struct replay_window *w)
{
	free(w->ring);
	w->ring = NULL;
	w->words = 0;
}

/* RFC 4303 Appendix A.2: the high half of the sequence number is the one that puts
 * seq_lo inside or right of the window. With the window off, a half-space window is
 * used for the inference, which picks the candidate nearest to top. */
static uint64_t infer_seq64(const struct replay_window *w, uint32_t seq_lo)
{
	uint32_t tl = (uint32_t)w->top, th = (uint32_t)(w->top >> 32);
	uint32_t win = w->size ? w->size : 0x80000000u;
	uint32_t bottom = tl - win + 1;		/* modulo 2^32 */
	uint32_t hi;

	if (tl >= win - 1)	/* Case A: the window lies within one subspace */
		hi = seq_lo >= bottom ? th : th + 1;
	else			/* Case B: the window spans two subspaces */
		hi = seq_lo >= bottom ? (th ? th - 1 : th) : th;
	return (uint64_t)hi << 32 | seq_lo;
}

static uint64_t *word_of(struct replay_window *w, uint64_t seq)
{
	return &w->ring[(seq / 64) % w->words];
}

enum replay_result replay_check(const struct replay_window *w, uint32_t seq_lo,
				uint64_t *seq64)
{
	uint64_t s = w->esn ? infer_seq64(w, seq_lo) : seq_lo;

	*seq64 = s;
	if (s == 0)		/* never sent: the counter starts at 1 */
		return REPLAY_TOO_OLD;
	if (w->size == 0 || s > w->top)
		return REPLAY_OK;
	if (w->top - s >= w->size)
		return REPLAY_TOO_OLD;
	if (w->ring[(s / 64) % w->words] & (UINT64_C(1) << (s % 64)))
		return REPLAY_DUPLICATE;
	return REPLAY_OK;
}

void replay_update(struct replay_window *w, uint64_t seq64)
{
	if (seq64 == 0)
		return;
	if (seq64 > w->top) {
		if (w->size) {
			uint64_t from = w->top / 64, to = seq64 / 64;
			uint64_t n = to - from;

			if (n > w->words)
				n = w->words;
			for (uint64_t i = 1; i <= n; i++)
				*word_of(w, (from + i) * 64) = 0;
		}
		w->top = seq64;
	}
	if (w->size)
		*word_of(w, seq64) |= UINT64_C(1) << (seq64 % 64);
}

const char *replay_result_name(enum replay_result r)
{
	switch (r) {
	case REPLAY_OK: return "ok";
	case REPLAY_DUPLICATE: return "duplicate";
	case REPLAY_TOO_OLD: return "too old";
	}
	return "?";
}
