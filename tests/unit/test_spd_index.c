/* The SPD's indexes (esp/spd.c: hash tables by selectors and id, runs of equal
 * priority and specificity) against the plain linear list they replaced: random
 * policies added and deleted, and after each step the same order, the same exact and
 * id lookups and the same first match for random packets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/spd.h"
#include "lib/selector.h"

/* The reference: the old linear list, with its insertion and search walks. */
#define REF_MAX 600
static struct sp *ref[IPSEC_DIR_MAX][REF_MAX];
static size_t nref[IPSEC_DIR_MAX];

static bool ref_before(const struct sp *a, const struct sp *b)
{
	if (a->p.priority != b->p.priority)
		return a->p.priority < b->p.priority;
	return a->score > b->score;
}

static void ref_add(struct sp *sp)
{
	uint8_t d = sp->p.dir;
	size_t i = 0;
	while (i < nref[d] && !ref_before(sp, ref[d][i]))
		i++;
	memmove(&ref[d][i + 1], &ref[d][i], (nref[d] - i) * sizeof(ref[d][0]));
	ref[d][i] = sp;
	nref[d]++;
}

static void ref_del(struct sp *sp)
{
	uint8_t d = sp->p.dir;
	for (size_t i = 0; i < nref[d]; i++)
		if (ref[d][i] == sp) {
			memmove(&ref[d][i], &ref[d][i + 1], (nref[d] - i - 1) * sizeof(ref[d][0]));
			nref[d]--;
			return;
		}
	fail_msg("deleted policy not in the reference");
}

static struct sp *ref_exact(uint8_t d, const struct selector *src, const struct selector *dst)
{
	for (size_t i = 0; i < nref[d]; i++)
		if (selector_equal(&ref[d][i]->p.src, src) && selector_equal(&ref[d][i]->p.dst, dst))
			return ref[d][i];
	return NULL;
}

static struct sp *ref_lookup(uint8_t d, const struct pkt_tuple *t)
{
	for (size_t i = 0; i < nref[d]; i++)
		if (pkt_match(t, &ref[d][i]->p.src, &ref[d][i]->p.dst))
			return ref[d][i];
	return NULL;
}

/* Selectors from a small space, so that duplicates, nesting and equal keys occur. */
static struct selector rand_sel(void)
{
	static const char *const nets[] = { "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3",
					    "10.1.2.4", "0.0.0.0/0", "10.2.0.0/16", "10.1.0.0/16[udp]",
					    "10.1.0.0/16[tcp/80]", "10.1.2.0/24[udp/53-60]" };
	struct selector s;
	char buf[64];
	if (rand() % 3 == 0) {	/* many host addresses, as remote-access clients */
		snprintf(buf, sizeof(buf), "10.98.%d.%d", rand() % 4, rand() % 256);
		assert_int_equal(selector_parse(buf, &s), 0);
	} else {
		assert_int_equal(selector_parse(nets[rand() % 10], &s), 0);
	}
	return s;
}

static struct pfkey_policy rand_policy(void)
{
	struct pfkey_policy p;
	memset(&p, 0, sizeof(p));
	p.dir = (uint8_t)(1 + rand() % 3);
	p.type = IPSEC_POLICY_IPSEC;
	p.has_sel = true;
	p.src = rand_sel();
	p.dst = rand_sel();
	p.priority = (uint32_t)(rand() % 3) * 1000;
	if (rand() % 8 == 0)
		p.id = (uint32_t)(rand() % 64) << 3 | p.dir;	/* a caller's own id */
	return p;
}

static void rand_tuple(struct pkt_tuple *t)
{
	static const uint8_t protos[] = { 6, 17, 1 };
	memset(t, 0, sizeof(*t));
	t->family = AF_INET;
	t->proto = protos[rand() % 3];
	uint8_t a[4] = { 10, (uint8_t)(rand() % 3), (uint8_t)(rand() % 4), (uint8_t)(rand() % 6) };
	uint8_t b[4] = { 10, (uint8_t)(rand() % 3) == 2 ? 98 : 1, (uint8_t)(rand() % 4),
			 (uint8_t)(rand() % 256) };
	memcpy(t->src, rand() % 2 ? a : b, 4);
	memcpy(t->dst, rand() % 2 ? a : b, 4);
	t->sport = (uint16_t)(rand() % 100);
	t->dport = (uint16_t)(rand() % 100);
}

static void check_same(const struct spd *s)
{
	unsigned total = 0;
	for (uint8_t d = 1; d < IPSEC_DIR_MAX; d++) {
		size_t i = 0;
		const struct sp *prev = NULL;
		for (const struct sp *sp = s->list[d]; sp; sp = sp->next, i++) {
			assert_true(i < nref[d]);
			assert_ptr_equal(sp, ref[d][i]);
			assert_ptr_equal(sp->prev, prev);
			assert_ptr_equal(spd_find_id(s, sp->p.id), sp);
			assert_ptr_equal(spd_find_exact(s, d, &sp->p.src, &sp->p.dst), sp);
			prev = sp;
		}
		assert_int_equal(i, nref[d]);
		total += (unsigned)i;
	}
	assert_int_equal(s->count, total);
	for (int k = 0; k < 20; k++) {
		struct pkt_tuple t;
		rand_tuple(&t);
		uint8_t d = (uint8_t)(1 + rand() % 3);
		assert_ptr_equal(spd_lookup(s, d, &t), ref_lookup(d, &t));
		struct selector a = rand_sel(), b = rand_sel();
		assert_ptr_equal(spd_find_exact(s, d, &a, &b), ref_exact(d, &a, &b));
	}
}

static struct sp *random_member(void)
{
	size_t n = nref[1] + nref[2] + nref[3];
	if (!n)
		return NULL;
	size_t k = (size_t)rand() % n;
	for (uint8_t d = 1; d < IPSEC_DIR_MAX; d++) {
		if (k < nref[d])
			return ref[d][k];
		k -= nref[d];
	}
	return NULL;
}

/* A remote-access client has two policies: the trap state's held packets (times and
 * lengths included) are allocated only when a trap policy holds one (issue 8). */
static void test_policy_size(void **state)
{
	(void)state;
	assert_true(sizeof(struct sp) <= sizeof(struct pfkey_policy) + 64);
}

static void test_index_matches_linear_list(void **state)
{
	(void)state;
	srand(8);
	struct spd s;
	spd_init(&s);
	memset(nref, 0, sizeof(nref));
	int added = 0, refused = 0, deleted = 0;
	for (int step = 0; step < 3000; step++) {
		/* Grow to a few hundred (the hash tables grow), then churn and shrink. */
		bool grow = step < 1500 ? rand() % 4 != 0 : rand() % 3 == 0;
		struct sp *victim = grow ? NULL : random_member();
		if (victim) {
			ref_del(victim);
			spd_remove(&s, victim);
			sp_free(victim);
			deleted++;
		} else {
			struct pfkey_policy p = rand_policy();
			bool dup = ref_exact(p.dir, &p.src, &p.dst) != NULL;
			int err = 0;
			struct sp *sp = spd_add(&s, &p, &err);
			if (dup || !sp) {
				assert_null(sp);
				assert_int_equal(err, EEXIST);
				refused++;
			} else {
				assert_true(nref[p.dir] < REF_MAX);
				ref_add(sp);
				added++;
			}
		}
		if (step % 10 == 0 || step > 2900)
			check_same(&s);
	}
	check_same(&s);
	assert_true(added > 500 && refused > 50 && deleted > 300);
	spd_destroy(&s);
	assert_null(s.list[1]);
	assert_int_equal(s.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_matches_linear_list),
		cmocka_unit_test(test_policy_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
