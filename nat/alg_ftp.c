/* FTP inspection (RFC 959 PORT and 227, RFC 2428 EPRT and EPSV/229).
 *
 * Only the inside end's messages carry an address that needs translating: an
 * inside client's PORT/EPRT (active mode) or an inside server's 227/229
 * (passive mode behind a forward or static NAT). Each such line gets the public
 * address and port (the length may change: the core keeps the TCP deltas) and
 * opens exactly one pinhole from the outside end to that port; a newer one
 * from the same control connection replaces it. The outside end's messages
 * name outside addresses, which need nothing: the data connection leaves
 * through PAT like any other.
 *
 * Strict mode (requirements.md): PORT/227 must have exactly 5 commas and end
 * in CRLF, a port below 1024 is refused, PORT from the server or 227 from the
 * client is refused: such a message is dropped instead of passed untouched.
 * A 227 inside an error text opens nothing in either mode: only a line that
 * starts with the reply code counts. Hostile or malformed lines (4 commas, a
 * number above 255, an address that is not the sender's) open nothing and are
 * counted. A command cut across segments is passed (dropped when strict) and
 * counted as partial: reassembling would cost memory per connection. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nat/inspect.h"

#define FTP_PINHOLE_MS 120000	/* the data connection follows the command at once */

enum ftp_kind { FTP_NONE, FTP_PORT, FTP_EPRT, FTP_227, FTP_229 };

/* What a line announces: address and port, and the span of text that says it. */
struct ftp_addr {
	enum ftp_kind kind;
	uint32_t addr;		/* 0 for 229 (the control connection's address) */
	uint16_t port;
	size_t off, len;	/* the span to rewrite, from the line's start */
	uint8_t delim;		/* EPRT's delimiter */
	bool strict_ok;		/* exactly 5 commas, nothing odd */
};

static enum ftp_kind line_kind(const uint8_t *l, size_t n)
{
	if (n >= 5 && strncasecmp((const char *)l, "PORT ", 5) == 0)
		return FTP_PORT;
	if (n >= 5 && strncasecmp((const char *)l, "EPRT ", 5) == 0)
		return FTP_EPRT;
	if (n >= 4 && memcmp(l, "227 ", 4) == 0)
		return FTP_227;
	if (n >= 4 && memcmp(l, "229 ", 4) == 0)
		return FTP_229;
	return FTP_NONE;
}

/* A line without its end that is, or may become, one of ours. */
static bool maybe_ours(const uint8_t *l, size_t n)
{
	static const char *const words[] = { "PORT ", "EPRT ", "227 ", "229 " };
	if (line_kind(l, n) != FTP_NONE)
		return true;
	for (size_t w = 0; w < 4; w++)
		if (n < strlen(words[w]) && strncasecmp((const char *)l, words[w], n) == 0)
			return true;
	return false;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number of up to 5 digits at l[*i]; -1 when none. */
static long number(const uint8_t *l, size_t n, size_t *i)
{
	long v = 0;
	size_t start = *i;
	while (*i < n && is_digit(l[*i]) && *i - start < 5)
		v = v * 10 + (l[(*i)++] - '0');
	return *i == start || (*i < n && is_digit(l[*i])) ? -1 : v;
}

/* h1,h2,h3,h4,p1,p2 from l[at]: -1 unless six numbers of 0..255. */
static int six_numbers(const uint8_t *l, size_t n, size_t at, struct ftp_addr *a)
{
	long v[6];
	size_t i = at;
	for (int k = 0; k < 6; k++) {
		if (k && (i >= n || l[i++] != ','))
			return -1;
		while (i < n && l[i] == ' ')
			i++;	/* lenient: "h1, h2" */
		if ((v[k] = number(l, n, &i)) < 0 || v[k] > 255)
			return -1;
	}
	a->strict_ok = i >= n || l[i] != ',';
	a->addr = (uint32_t)(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]);
	a->port = (uint16_t)(v[4] << 8 | v[5]);
	a->off = at;
	a->len = i - at;
	return 0;
}

static int parse_v4(const uint8_t *l, size_t n, size_t *i, uint32_t *out)
{
	uint32_t a = 0;
	for (int k = 0; k < 4; k++) {
		if (k && (*i >= n || l[(*i)++] != '.'))
			return -1;
		long v = number(l, n, i);
		if (v < 0 || v > 255)
			return -1;
		a = a << 8 | (uint32_t)v;
	}
	*out = a;
	return 0;
}

/* EPRT |1|a.b.c.d|port| (any delimiter in 33..126); IPv6 (2) is not ours. */
static int parse_eprt(const uint8_t *l, size_t n, struct ftp_addr *a)
{
	size_t i = 5;
	if (i + 3 > n || l[i] < 33 || l[i] > 126)
		return -1;
	uint8_t d = a->delim = l[i++];
	if (l[i++] != '1' || i >= n || l[i++] != d)
		return -1;
	a->off = i;
	if (parse_v4(l, n, &i, &a->addr) < 0 || i >= n || l[i++] != d)
		return -1;
	long p = number(l, n, &i);
	if (p < 1 || p > 65535 || i >= n || l[i] != d)
		return -1;
	a->port = (uint16_t)p;
	a->len = i - a->off;
	a->strict_ok = true;
	return 0;
}

/* 229 Entering Extended Passive Mode (|||port|) */
static int parse_229(const uint8_t *l, size_t n, struct ftp_addr *a)
{
	const uint8_t *p = memchr(l, '(', n);
	if (!p)
		return -1;
	size_t i = (size_t)(p - l) + 1;
	if (i + 3 > n || l[i] != l[i + 1] || l[i] != l[i + 2])
		return -1;
	uint8_t d = l[i];
	i += 3;
	a->off = i;
	long port = number(l, n, &i);
	if (port < 1 || port > 65535 || i >= n || l[i] != d)
		return -1;
	a->port = (uint16_t)port;
	a->len = i - a->off;
	a->strict_ok = true;
	return 0;
}

static int parse_line(const uint8_t *l, size_t n, struct ftp_addr *a)
{
	size_t i;
	switch (a->kind) {
	case FTP_PORT:
		for (i = 5; i < n && l[i] == ' '; i++)
			;
		return six_numbers(l, n, i, a);
	case FTP_227:
		/* The numbers follow the text, in parentheses or not (RFC 1123 4.1.2.6). */
		for (i = 4; i < n && !is_digit(l[i]); i++)
			;
		return six_numbers(l, n, i, a);
	case FTP_EPRT:
		return parse_eprt(l, n, a);
	case FTP_229:
		return parse_229(l, n, a);
	default:
		return -1;
	}
}

/* The text that replaces the span: the public address and port. */
static size_t format(const struct ftp_addr *a, uint32_t pub, uint16_t port, char *out,
    size_t cap)
{
	int n;
	switch (a->kind) {
	case FTP_PORT:
	case FTP_227:
		n = snprintf(out, cap, "%u,%u,%u,%u,%u,%u", pub >> 24, pub >> 16 & 255,
			     pub >> 8 & 255, pub & 255, port >> 8, port & 255);
		break;
	case FTP_EPRT:
		n = snprintf(out, cap, "%u.%u.%u.%u%c%u", pub >> 24, pub >> 16 & 255,
			     pub >> 8 & 255, pub & 255, a->delim, port);
		break;
	default:
		n = snprintf(out, cap, "%u", port);
		break;
	}
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* Bad line: counted; strict mode drops the segment. */
static enum nat_insp_verdict bad(struct nat_insp *c)
{
	if (c->conf->strict) {
		c->c->bad_dropped++;
		return NAT_INSP_DROP;
	}
	c->c->bad_passed++;
	return NAT_INSP_PASS;
}

/* One complete line at payload offset off (n bytes, CRLF excluded). */
static enum nat_insp_verdict ftp_line(struct nat_insp *c, size_t off, size_t n, bool crlf,
    long *grown)
{
	struct ftp_addr a = { .kind = line_kind(c->payload + off, n) };
	*grown = 0;
	if (a.kind == FTP_NONE)
		return NAT_INSP_PASS;
	bool command = a.kind == FTP_PORT || a.kind == FTP_EPRT;
	/* A command from the server or a reply from the client: out of place. */
	if (command != (c->dir == c->opener))
		return bad(c);
	if (parse_line(c->payload + off, n, &a) < 0)
		return bad(c);
	if (c->conf->strict && (!crlf || !a.strict_ok || a.port < 1024))
		return bad(c);
	if (c->dir != 0)
		return NAT_INSP_PASS;	/* an outside address: nothing to translate */
	uint32_t inside = nat_insp_inside_addr(c);
	if (a.kind == FTP_229)
		a.addr = inside;
	if (a.addr != inside)
		return bad(c);	/* a third party (FXP, bounce): no pinhole for it */
	uint32_t remote = c->k[1].src, pub = nat_insp_public_addr(c);
	uint16_t port = nat_insp_public_port(c, 6, remote, inside, a.port);
	if (!port)
		return bad(c);
	char text[40];
	size_t tl = format(&a, pub, port, text, sizeof(text));
	size_t before = c->len;
	if (!tl || nat_insp_replace(c, off + a.off, a.len, text, tl) < 0)
		return NAT_INSP_PASS;	/* counted as no_room */
	*grown = (long)c->len - (long)before;
	struct nat_expect e = {
		.proto = 6, .side = NAT_FROM_OUTSIDE,
		.match_src = remote, .match_dst = pub, .match_dport = port,
		.to_dst = inside, .to_dport = a.port,
		.timeout_ms = FTP_PINHOLE_MS, .engine = NAT_ENGINE_NONE, .replace = true,
	};
	nat_insp_expect(c, &e);
	return NAT_INSP_PASS;
}

static enum nat_insp_verdict ftp_inspect(struct nat_insp *c)
{
	size_t off = 0;
	while (off < c->len) {
		const uint8_t *l = c->payload + off;
		size_t rest = c->len - off;
		const uint8_t *nl = memchr(l, '\n', rest);
		size_t n = nl ? (size_t)(nl - l) : rest;
		bool crlf = nl && n > 0 && l[n - 1] == '\r';
		size_t body = crlf ? n - 1 : n;
		if (!nl) {
			/* Cut short: a command we would act on gets no half-made pinhole. */
			if (!maybe_ours(l, body))
				return NAT_INSP_PASS;
			c->c->partial++;
			if (c->conf->strict) {
				c->c->bad_dropped++;
				return NAT_INSP_DROP;
			}
			return NAT_INSP_PASS;
		}
		long grown = 0;
		enum nat_insp_verdict v = ftp_line(c, off, body, crlf, &grown);
		if (v != NAT_INSP_PASS)
			return v;
		off = (size_t)((long)(off + n + 1) + grown);
	}
	return NAT_INSP_PASS;
}

const struct nat_engine nat_alg_ftp = {
	.name = "ftp",
	.protos = NAT_INSP_TCP,
	.ports = "21",
	.state_size = 0,
	.inspect = ftp_inspect,
};
