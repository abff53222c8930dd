/* Helpers shared by the pfkey/ files; not part of the ike/ <-> esp/ contract. */
#ifndef TSUNAGI_PFKEY_PRIV_H
#define TSUNAGI_PFKEY_PRIV_H
#include "pfkey/pfkey.h"

#define PFKEY_ALIGN8(n) (((n) + 7) & ~(size_t)7)

void pfkey_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* sizeof(struct sockaddr_in/in6) for a family, 0 for others. */
size_t pfkey_sockaddr_len(uint16_t family);
/* Selectors <-> the private selector extension body. */
void pfkey_sel_to_wire(const struct selector *src, const struct selector *dst,
		       struct sadb_x_tsunagi_sel *w);
void pfkey_sel_from_wire(const struct sadb_x_tsunagi_sel *w, struct selector *src,
			 struct selector *dst);
#endif
