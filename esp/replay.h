/* ESP anti-replay window (RFC 4303 section 3.4.3) with extended sequence numbers
 * (RFC 4303 Appendix A). The window is a ring of bits indexed by the 64-bit sequence
 * number, slid word by word (RFC 6479), so advancing costs at most one pass over the
 * ring and checking is O(1). Size 0 turns replay checking off (sequence numbers are
 * still tracked, so ESN high bits can be inferred).
 *
 * Use: replay_check() before the ICV check, which gives the full 64-bit number to
 * authenticate with; replay_update() only after the ICV verified. */
#ifndef TSUNAGI_ESP_REPLAY_H
#define TSUNAGI_ESP_REPLAY_H
#include <stdbool.h>
#include <stdint.h>

#define REPLAY_WINDOW_MAX	8192	/* conf/config.h CONF_MAX_REPLAY_WINDOW says the same */
/* The ring of the largest window (see replay.c). */
#define REPLAY_RING_WORDS	(REPLAY_WINDOW_MAX / 64 + 1)

struct replay_window {
	uint32_t size;		/* packets; 0 = off */
	uint32_t words;		/* of ring: sized to the window (replay_init) */
	bool esn;		/* 64-bit sequence numbers, high half inferred */
	uint64_t top;		/* highest authenticated sequence number; 0 = none yet */
	uint64_t *ring;		/* NULL when off: an outbound SA has none */
};

enum replay_result {
	REPLAY_OK,		/* new: authenticate it, then replay_update() */
	REPLAY_DUPLICATE,	/* seen before, inside the window */
	REPLAY_TOO_OLD,		/* left of the window (or sequence number 0) */
};

/* Returns 0, or -1 if size > REPLAY_WINDOW_MAX (the window is then left off). */
/* Returns 0, or -1 when size is over REPLAY_WINDOW_MAX or the ring cannot be
 * allocated. w is overwritten: free a window in use first. */
int replay_init(struct replay_window *w, uint32_t size, bool esn);
void replay_free(struct replay_window *w);
/* seq_lo: the 32-bit number from the ESP header. *seq64 receives the full number
 * (with ESN, the high half inferred from the window) on every result. */
enum replay_result replay_check(const struct replay_window *w, uint32_t seq_lo,
				uint64_t *seq64);
/* Marks seq64 as received and slides the window if it is new on the right. */
void replay_update(struct replay_window *w, uint64_t seq64);
const char *replay_result_name(enum replay_result r);
#endif
