/* IPv4/IPv6 addresses with an optional port, as the IKE and ESP layers pass them
 * around. The port is in host byte order; 0 means "none". */
#ifndef TSUNAGI_ADDR_H
#define TSUNAGI_ADDR_H
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct addr {
	uint8_t family;		/* AF_INET, AF_INET6, or 0 for "none/any" */
	uint16_t port;
	union {
		uint8_t b[16];
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

#define ADDR_STRLEN 64	/* "[ffff:...:ffff]:65535" fits */

/* Parses "192.0.2.1", "2001:db8::1"; no port. Returns 0 or -1. */
int addr_parse(const char *s, struct addr *a);
/* Formats the address only ("192.0.2.1"). */
const char *addr_ntop(const struct addr *a, char *out, size_t outlen);
/* Formats with port as strongSwan does: "192.0.2.1[4500]". */
const char *addr_fmt(const struct addr *a, char *out, size_t outlen);
size_t addr_len(const struct addr *a);	/* 4, 16, or 0 */
bool addr_equal(const struct addr *a, const struct addr *b);	/* address and port */
bool addr_equal_ip(const struct addr *a, const struct addr *b);	/* address only */
bool addr_is_any(const struct addr *a);
void addr_from_sockaddr(struct addr *a, const struct sockaddr *sa);
socklen_t addr_to_sockaddr(const struct addr *a, struct sockaddr_storage *ss);
#endif
