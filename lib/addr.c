#include "lib/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

int addr_parse(const char *s, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->u.v4) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a->u.v6) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -1;
}

const char *addr_ntop(const struct addr *a, char *out, size_t outlen)
{
	if (a->family != AF_INET && a->family != AF_INET6)
		snprintf(out, outlen, "%%any");
	else if (!inet_ntop(a->family, a->u.b, out, (socklen_t)outlen))
		snprintf(out, outlen, "?");
	return out;
}

const char *addr_fmt(const struct addr *a, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN + 8];
	addr_ntop(a, ip, sizeof(ip));
	snprintf(out, outlen, "%s[%u]", ip, a->port);
	return out;
}

size_t addr_len(const struct addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
}

bool addr_equal_ip(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && memcmp(a->u.b, b->u.b, addr_len(a)) == 0;
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	return addr_equal_ip(a, b) && a->port == b->port;
}

bool addr_is_any(const struct addr *a)
{
	static const uint8_t zero[16];
	return a->family == 0 || memcmp(a->u.b, zero, addr_len(a)) == 0;
}

void addr_from_sockaddr(struct addr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		a->u.v4 = s4->sin_addr;
		a->port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		a->family = AF_INET6;
		a->u.v6 = s6->sin6_addr;
		a->port = ntohs(s6->sin6_port);
	}
}

socklen_t addr_to_sockaddr(const struct addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_addr = a->u.v4;
		s4->sin_port = htons(a->port);
		return sizeof(*s4);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a->u.v6;
		s6->sin6_port = htons(a->port);
		return sizeof(*s6);
	}
	return 0;
}
