/* The lock around the NAT core's table (see nat_shared.h). */
#include "daemon/nat_shared.h"

int nat_shared_init(struct nat_shared *s, struct nat_table *t)
{
	s->t = t;
	return pthread_mutex_init(&s->mu, NULL) == 0 ? 0 : -1;
}

void nat_shared_destroy(struct nat_shared *s) { pthread_mutex_destroy(&s->mu); }
void nat_shared_lock(struct nat_shared *s) { pthread_mutex_lock(&s->mu); }
void nat_shared_unlock(struct nat_shared *s) { pthread_mutex_unlock(&s->mu); }

enum nat_verdict nat_shared_translate(struct nat_shared *s, struct nat_packet *p,
				      enum nat_side side, uint64_t now_ms)
{
	pthread_mutex_lock(&s->mu);
	enum nat_verdict v = nat_translate(s->t, p, side, now_ms);
	pthread_mutex_unlock(&s->mu);
	return v;
}
