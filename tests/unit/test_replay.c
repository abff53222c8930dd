/* esp/replay: anti-replay window with ESN inference (RFC 4303 3.4.3, Appendix A). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "esp/replay.h"

/* check + update as decap does when the ICV is fine; returns the check result. */
static enum replay_result recv_seq(struct replay_window *w, uint32_t lo, uint64_t *s64)
{
	uint64_t s;
	enum replay_result r = replay_check(w, lo, &s);

	if (r == REPLAY_OK)
		replay_update(w, s);
	if (s64)
		*s64 = s;
	return r;
}

static void test_init_limits(void **state)
{
	struct replay_window w;

	assert_int_equal(replay_init(&w, REPLAY_WINDOW_MAX, false), 0);
	assert_int_equal(w.size, REPLAY_WINDOW_MAX);
	replay_free(&w);
	assert_int_equal(replay_init(&w, REPLAY_WINDOW_MAX + 1, false), -1);
	assert_int_equal(w.size, 0);
	replay_free(&w);
	assert_int_equal(replay_init(&w, 0, true), 0);
	assert_true(w.esn);
	replay_free(&w);
}

static void test_seq_zero_rejected(void **state)
{
	struct replay_window w;
	uint64_t s;

	replay_init(&w, 64, false);
	assert_int_equal(replay_check(&w, 0, &s), REPLAY_TOO_OLD);
	replay_free(&w);
	replay_init(&w, 0, false);
	assert_int_equal(replay_check(&w, 0, &s), REPLAY_TOO_OLD);
	replay_free(&w);
}

static void test_reordering_in_window_accepted(void **state)
{
	struct replay_window w;
	uint32_t order[128];

	replay_init(&w, 128, false);
	for (uint32_t i = 0; i < 128; i++)
		order[i] = i + 1;
	srand(7);
	for (int i = 127; i > 0; i--) {	/* shuffle: QoS reordering */
		int j = rand() % (i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < 128; i++)
		assert_int_equal(recv_seq(&w, order[i], NULL), REPLAY_OK);
	for (int i = 0; i < 128; i++)
		assert_int_equal(recv_seq(&w, order[i], NULL), REPLAY_DUPLICATE);
	assert_int_equal(w.top, 128);
	replay_free(&w);
}

static void test_duplicate_and_too_old(void **state)
{
	struct replay_window w;

	replay_init(&w, 64, false);
	assert_int_equal(recv_seq(&w, 100, NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, 100, NULL), REPLAY_DUPLICATE);
	assert_int_equal(recv_seq(&w, 37, NULL), REPLAY_OK);	/* 100 - 63: last slot */
	assert_int_equal(recv_seq(&w, 36, NULL), REPLAY_TOO_OLD);
	assert_int_equal(recv_seq(&w, 1, NULL), REPLAY_TOO_OLD);
	/* A check alone does not mark: only update after the ICV does. */
	uint64_t s;
	assert_int_equal(replay_check(&w, 50, &s), REPLAY_OK);
	assert_int_equal(replay_check(&w, 50, &s), REPLAY_OK);
	replay_free(&w);
}

static void test_window_off(void **state)
{
	struct replay_window w;

	replay_init(&w, 0, false);
	assert_int_equal(recv_seq(&w, 5, NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, 5, NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, 100000, NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, 1, NULL), REPLAY_OK);
	assert_int_equal(w.top, 100000);
	replay_free(&w);
}

static void test_window_4096_edges(void **state)
{
	struct replay_window w;
	uint64_t top = 10000;

	replay_init(&w, 4096, false);
	assert_int_equal(recv_seq(&w, (uint32_t)top, NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, (uint32_t)(top - 4095), NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, (uint32_t)(top - 4096), NULL), REPLAY_TOO_OLD);
	assert_int_equal(recv_seq(&w, (uint32_t)(top - 4095), NULL), REPLAY_DUPLICATE);
	/* Advancing by one pushes the old edge out. */
	assert_int_equal(recv_seq(&w, (uint32_t)(top + 1), NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, (uint32_t)(top - 4095), NULL), REPLAY_TOO_OLD);
	assert_int_equal(recv_seq(&w, (uint32_t)(top - 4094), NULL), REPLAY_OK);
	replay_free(&w);
}

static void test_window_max_edges(void **state)
{
	struct replay_window w;
	uint64_t top = 3 * REPLAY_WINDOW_MAX + 17;

	replay_init(&w, REPLAY_WINDOW_MAX, false);
	for (uint64_t s = top - REPLAY_WINDOW_MAX + 1; s <= top; s++)
		assert_int_equal(recv_seq(&w, (uint32_t)s, NULL), REPLAY_OK);
	for (uint64_t s = top - REPLAY_WINDOW_MAX + 1; s <= top; s++)
		assert_int_equal(recv_seq(&w, (uint32_t)s, NULL), REPLAY_DUPLICATE);
	assert_int_equal(recv_seq(&w, (uint32_t)(top - REPLAY_WINDOW_MAX), NULL),
			 REPLAY_TOO_OLD);
	replay_free(&w);
}

/* The ring is sized to the window, and a window that is off (every outbound SA, and
 * inbound ones with replay_window = 0) has none: it was a fixed 1 KiB per SA. */
static void test_ring_sized_to_window(void **state)
{
	struct replay_window w;

	assert_int_equal(replay_init(&w, 0, false), 0);
	assert_null(w.ring);
	assert_int_equal(w.words, 0);
	replay_free(&w);
	assert_int_equal(replay_init(&w, 32, false), 0);
	assert_non_null(w.ring);
	assert_int_equal(w.words, 2);	/* 32 numbers can straddle two words */
	replay_free(&w);
	assert_int_equal(replay_init(&w, REPLAY_WINDOW_MAX, false), 0);
	assert_int_equal(w.words, REPLAY_RING_WORDS);
	replay_free(&w);
	assert_null(w.ring);
}

/* After a jump, stale bits from the ring's previous round must not reject new numbers. */
static void test_large_jumps_clear_stale_bits(void **state)
{
	struct replay_window w;
	uint64_t base;

	replay_init(&w, 1024, false);
	for (uint32_t s = 1; s <= 1024; s++)
		recv_seq(&w, s, NULL);
	/* Jump by exactly one ring turn plus a little: every slot maps onto old bits. */
	base = 1024 + w.words * 64 + 5;
	assert_int_equal(recv_seq(&w, (uint32_t)base, NULL), REPLAY_OK);
	for (uint64_t s = base - 1023; s < base; s++)
		assert_int_equal(recv_seq(&w, (uint32_t)s, NULL), REPLAY_OK);
	/* A huge jump. */
	assert_int_equal(recv_seq(&w, 0x7fffffff, NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, 0x7fffffff - 1023, NULL), REPLAY_OK);
	assert_int_equal(recv_seq(&w, 0x7fffffff - 1024, NULL), REPLAY_TOO_OLD);
	assert_int_equal(recv_seq(&w, (uint32_t)base, NULL), REPLAY_TOO_OLD);
	replay_free(&w);
}

/* Random traffic against a naive model (a bit per sequence number ever received). */
static void run_model(uint32_t size)
{
	enum { RANGE = 1 << 18 };
	struct replay_window w;
	uint8_t *seen = calloc(RANGE, 1);
	uint64_t top = 0;

	assert_non_null(seen);
	replay_init(&w, size, false);
	srand(size + 1);
	for (int i = 0; i < 20000; i++) {
		int64_t delta;
		uint64_t s, got;
		enum replay_result want, r;

		switch (rand() % 8) {
		case 0: delta = rand() % 3000; break;		/* jump ahead */
		case 1: delta = -(int64_t)(rand() % (size + 200) + 1); break;
		default: delta = (rand() % 64) - 48; break;	/* jitter around top */
		}
		s = (int64_t)top + delta < 0 ? 0 : (uint64_t)((int64_t)top + delta);
		if (s >= RANGE - 4000)
			break;
		if (s == 0)
			want = REPLAY_TOO_OLD;
		else if (size == 0 || s > top)
			want = REPLAY_OK;
		else if (top - s >= size)
			want = REPLAY_TOO_OLD;
		else
			want = seen[s] ? REPLAY_DUPLICATE : REPLAY_OK;
		r = recv_seq(&w, (uint32_t)s, &got);
		assert_int_equal(r, want);
		assert_int_equal(got, s);
		if (r == REPLAY_OK) {
			seen[s] = 1;
			if (s > top)
				top = s;
		}
	}
	assert_int_equal(w.top, top);
	free(seen);
	replay_free(&w);
}

static void test_against_model(void **state)
{
	const uint32_t sizes[] = { 0, 1, 32, 63, 64, 65, 128, 1000, 1024, 4096, 8192 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		run_model(sizes[i]);
}

/* ESN: the low half wraps; the window infers the high half (RFC 4303 A.2). */
static void test_esn_wrap(void **state)
{
	struct replay_window w;
	uint64_t s;

	replay_init(&w, 64, true);
	assert_int_equal(recv_seq(&w, 0xfffffff0u, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0xfffffff0));
	/* Case A (window inside one subspace): a small number is the next subspace. */
	assert_int_equal(recv_seq(&w, 5, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0x100000005));
	/* Case B (window spans the wrap): a large number belongs to the previous one. */
	assert_int_equal(recv_seq(&w, 0xfffffff8u, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0xfffffff8));
	assert_int_equal(recv_seq(&w, 0xfffffff0u, &s), REPLAY_DUPLICATE);
	assert_int_equal(recv_seq(&w, 0xffffffc6u, &s), REPLAY_OK);	/* top - 63 */
	assert_int_equal(s, UINT64_C(0xffffffc6));
	/* Just below the window: RFC 4303 A.2 reads it as far ahead in the current
	 * subspace; only the ICV (computed with that high half) can reject it. */
	assert_int_equal(replay_check(&w, 0xffffffc5u, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0x1ffffffc5));
	/* seq-lo 0 in subspace 1 is a valid number (2^32), not the forbidden 0. */
	assert_int_equal(recv_seq(&w, 0, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0x100000000));
	assert_int_equal(recv_seq(&w, 5, &s), REPLAY_DUPLICATE);
	replay_free(&w);
}

static void test_esn_case_a_below_window_is_next_subspace(void **state)
{
	struct replay_window w;
	uint64_t s;

	replay_init(&w, 64, true);
	replay_update(&w, UINT64_C(0x500001000));
	assert_int_equal(replay_check(&w, 0x00000fd0, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0x500000fd0));
	/* Below the window: assumed to be the next subspace (the ICV then decides). */
	assert_int_equal(replay_check(&w, 0x00000010, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0x600000010));
	/* Non-ESN windows never infer. */
	replay_free(&w);
	replay_init(&w, 64, false);
	replay_update(&w, 0x1000);
	assert_int_equal(replay_check(&w, 0x10, &s), REPLAY_TOO_OLD);
	assert_int_equal(s, 0x10);
	replay_free(&w);
}

static void test_esn_window_off_picks_nearest(void **state)
{
	struct replay_window w;
	uint64_t s;

	replay_init(&w, 0, true);
	replay_update(&w, UINT64_C(0x2fffffff0));
	assert_int_equal(replay_check(&w, 0x10, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0x300000010));
	assert_int_equal(replay_check(&w, 0xffffff00u, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0x2ffffff00));
	replay_update(&w, UINT64_C(0x300000010));
	assert_int_equal(replay_check(&w, 0xfffffff0u, &s), REPLAY_OK);
	assert_int_equal(s, UINT64_C(0x2fffffff0));
	replay_free(&w);
}

static void test_esn_large_window_across_wrap(void **state)
{
	struct replay_window w;
	uint64_t s;

	replay_init(&w, 4096, true);
	for (uint64_t q = 0xfffff000u; q <= UINT64_C(0x100000800); q += 7) {
		assert_int_equal(recv_seq(&w, (uint32_t)q, &s), REPLAY_OK);
		assert_int_equal(s, q);
	}
	/* Everything in the last 4096 either seen (multiple of 7 apart) or new. */
	for (uint64_t q = UINT64_C(0x100000800) - 4095; q <= UINT64_C(0x100000800); q++) {
		enum replay_result r = replay_check(&w, (uint32_t)q, &s);
		assert_int_equal(s, q);
		assert_int_equal(r, (q - 0xfffff000u) % 7 == 0 ? REPLAY_DUPLICATE : REPLAY_OK);
	}
	replay_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_limits),
		cmocka_unit_test(test_seq_zero_rejected),
		cmocka_unit_test(test_reordering_in_window_accepted),
		cmocka_unit_test(test_duplicate_and_too_old),
		cmocka_unit_test(test_window_off),
		cmocka_unit_test(test_window_4096_edges),
		cmocka_unit_test(test_window_max_edges),
		cmocka_unit_test(test_ring_sized_to_window),
		cmocka_unit_test(test_large_jumps_clear_stale_bits),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_esn_wrap),
		cmocka_unit_test(test_esn_case_a_below_window_is_next_subspace),
		cmocka_unit_test(test_esn_window_off_picks_nearest),
		cmocka_unit_test(test_esn_large_window_across_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
