/* Fuzzes the SIP engine's text handling (nat/sip_parse.c). An input is
 *   [mode: 1 byte] [a SIP message, or anything]
 * mode bit 0: a stream (TCP) rather than a datagram; bit 1: translate as from
 * outside (public -> inside, Request-URI too) rather than from inside (inside
 * -> public, SDP and media ports too); bit 2: the media port allocator fails.
 * Whatever comes in: no read outside the input, no write outside the output;
 * a message that parses and translates parses again, with as many places to
 * rewrite, and its Content-Length (when it has one) tells its body's length;
 * a translation into too small a buffer fails cleanly. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/sip_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t media_ok(void *arg, uint32_t addr, uint16_t port)
{
	(void)arg;
	(void)addr;
	return (uint16_t)(port < 1024 ? 40000 : port ^ 0x5a5a) | 1;
}

static uint16_t media_fail(void *arg, uint32_t addr, uint16_t port)
{
	(void)arg;
	(void)addr;
	(void)port;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	uint8_t mode = data[0];
	bool stream = mode & 1;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	/* A copy of exactly len bytes, so that a read past it is caught. */
	uint8_t *msg = malloc(len ? len : 1);
	if (!msg)
		return 0;
	memcpy(msg, in, len);
	struct sip_msg m;
	if (sip_parse(msg, len, stream, &m) < 0) {
		free(msg);
		return 0;
	}
	if (m.len > len || m.body_off + m.body_len != m.len || m.n_site > SIP_MAX_SITES)
		abort();
	struct sip_map x;
	if (mode & 2)
		x = (struct sip_map){ .from_addr = 0xcb007101, .from_port = 5060,
				      .to_addr = 0x0a090a0a, .to_port = 5061, .uri = true };
	else
		x = (struct sip_map){ .from_addr = 0x0a090a0a, .from_port = 5060,
				      .to_addr = 0xcb007101, .to_port = 1030, .sdp = true };
	x.media = mode & 4 ? media_fail : media_ok;
	size_t cap = m.len + (SIP_MAX_SITES + 1) * 24;
	uint8_t *out = malloc(cap);
	if (!out)
		abort();
	long n = sip_translate(msg, &m, &x, out, cap);
	if (n == SIP_NO_MEDIA && (mode & 4)) {
		free(out);
		free(msg);
		return 0;
	}
	if (n < 0 || (size_t)n > cap)
		abort();	/* room enough for every edit: it must fit */
	/* Too small by one: fails, never writes past. */
	if (n > 0) {
		uint8_t *tight = malloc((size_t)n - 1 ? (size_t)n - 1 : 1);
		if (!tight || sip_translate(msg, &m, &x, tight, (size_t)n - 1) != SIP_NO_ROOM)
			abort();
		free(tight);
	}
	struct sip_msg m2;
	uint8_t *again = malloc(n ? (size_t)n : 1);
	if (!again)
		abort();
	memcpy(again, out, (size_t)n);
	if (sip_parse(again, (size_t)n, stream, &m2) != 0 || m2.n_site != m.n_site ||
	    m2.len != (size_t)n)
		abort();
	free(again);
	free(out);
	free(msg);
	return 0;
}
