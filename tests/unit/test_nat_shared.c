/* The shell's lock around the NAT core (daemon/nat_shared.c): two queue threads
 * translate at once, both directions, while a third (the timer's) expires and
 * reads counters. Every flow is built and every reply finds its inside host; under
 * TSan (tools/run-tests.sh) a path that skips the lock is a reported race. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "daemon/nat_shared.h"
#include "tests/unit/nat_pkt.h"
#include "tests/unit/nat_test.h"

#define R "198.18.0.7"
#define PER_THREAD 400

struct job {
	struct nat_shared *sh;
	int id;
	int ok;
};

static atomic_bool done;

static void *queue_thread(void *arg)
{
	struct job *j = arg;
	char src[32];
	for (int i = 0; i < PER_THREAD; i++) {
		uint8_t b[256];
		snprintf(src, sizeof(src), "10.1.%d.%d", j->id + 1, i % 250 + 1);
		uint16_t sp = (uint16_t)(10000 + i);
		struct nat_packet p = { b, mk_udp(b, src, sp, R, 53, 10), sizeof(b), false };
		if (nat_shared_translate(j->sh, &p, NAT_FROM_INSIDE, 1000) != NAT_FORWARD)
			continue;
		uint16_t pub = pkt_sport(b);
		struct nat_packet q = { b, mk_udp(b, R, 53, GW_OUT, pub, 10), sizeof(b), false };
		if (nat_shared_translate(j->sh, &q, NAT_FROM_OUTSIDE, 1000) == NAT_FORWARD &&
		    pkt_dst(b) == A(src) && pkt_dport(b) == sp)
			j->ok++;
	}
	return NULL;
}

static void *timer_thread(void *arg)
{
	struct nat_shared *sh = arg;
	while (!atomic_load(&done)) {
		struct nat_counters c;
		nat_shared_lock(sh);
		nat_expire(sh->t, 1000);
		nat_table_counters(sh->t, &c);
		nat_shared_unlock(sh);
	}
	return NULL;
}

static void test_two_queue_threads(void **state)
{
	char err[256];
	struct nat_rules *r = nat_test_rules(
		"tsunagi { nat { inside = lan0\n outside = wan0\n rules {\n"
		" lan { type = pat\n private = 10.1.0.0/16\n public = wan0 } } } }\n",
		err, sizeof(err));
	if (!r)
		fail_msg("%s", err);
	struct nat_table *t = nat_table_new(r, 4096);
	struct nat_shared sh;
	assert_int_equal(nat_shared_init(&sh, t), 0);
	struct job j[2] = { { &sh, 0, 0 }, { &sh, 1, 0 } };
	pthread_t th[2], tm;
	atomic_store(&done, false);
	assert_int_equal(pthread_create(&tm, NULL, timer_thread, &sh), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, queue_thread, &j[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	atomic_store(&done, true);
	pthread_join(tm, NULL);
	assert_int_equal(j[0].ok, PER_THREAD);
	assert_int_equal(j[1].ok, PER_THREAD);
	struct nat_counters c;
	nat_table_counters(t, &c);
	assert_int_equal(c.flows_active, 2 * PER_THREAD);
	assert_int_equal(c.flows_created, 2 * PER_THREAD);
	nat_shared_destroy(&sh);
	nat_table_free(t);
	nat_rules_free(r);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_queue_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
