#include "lib/clock.h"

#include <time.h>

ms_t clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ms_t)ts.tv_sec * 1000 + (ms_t)ts.tv_nsec / 1000000;
}

int64_t clock_wall_s(void)
{
	return (int64_t)time(NULL);
}
