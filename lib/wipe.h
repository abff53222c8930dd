/* Key material is wiped when freed; the compiler may not elide sodium_memzero. */
#ifndef TSUNAGI_WIPE_H
#define TSUNAGI_WIPE_H
#include <sodium.h>
#include <stdlib.h>

static inline void wipe(void *p, size_t n)
{
	if (p && n)
		sodium_memzero(p, n);
}

static inline void wipe_free(void *p, size_t n)
{
	wipe(p, n);
	free(p);
}
#endif
