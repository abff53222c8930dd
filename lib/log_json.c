/* Log lines as JSON objects for log collectors (tsunagid --log-format json). */
#include "lib/log_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static log_json_state_fn state_fn;
static void *state_arg;

void log_json_set_state_fn(log_json_state_fn fn, void *arg)
{
	state_fn = fn;
	state_arg = arg;
}

/* A bounded writer: stops at the end of the buffer, never writes past it. */
struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap)
		n = o->len < o->cap ? o->cap - 1 - o->len : 0;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), 0 if the bytes there are not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* also stops at the terminating NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Room kept for closing the string and the object, so that a message too long for
 * the buffer is cut but the line stays one whole JSON object. */
#define CLOSING 16

/* s as a JSON string: quotes, backslashes and control characters escaped, bytes that
 * are not UTF-8 replaced by U+FFFD, so any message makes valid JSON. */
static void put_string(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	puts_(o, "\"");
	while (*p && o->cap - o->len > CLOSING) {
		size_t n = utf8_len(p);
		if (n == 0) {
			puts_(o, "\\ufffd");
			p++;
		} else if (*p == '"' || *p == '\\') {
			esc[0] = '\\', esc[1] = (char)*p;
			put(o, esc, 2);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			const char *named = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : *p == '\r' ? "\\r" : NULL;
			if (!named)
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
			puts_(o, named ? named : esc);
			p++;
		} else {
			put(o, (const char *)p, n);
			p += n;
		}
	}
	puts_(o, "\"");
}

static void put_field(struct out *o, const char *key, const char *value)
{
	puts_(o, ",");
	put_string(o, key);
	puts_(o, ":");
	put_string(o, value);
}

/* "state" / "child_state" from the hook, when it knows the SA. */
static void put_state(struct out *o, bool child, const char *name, const char *id)
{
	const char *st = state_fn ? state_fn(state_arg, child, name, strtoul(id, NULL, 10)) : NULL;
	if (st)
		put_field(o, child ? "child_state" : "state", st);
}

/* "name[12]" (IKE SA) or "name{12}" (CHILD SA), strongSwan's notation that the IKE
 * log lines use: the name and the number, or false. */
static bool sa_ref(const char *p, char open, char *name, size_t namelen, char *id, size_t idlen)
{
	size_t n = strcspn(p, " []{}:,'");
	if (n == 0 || n >= namelen || p[n] != open)
		return false;
	const char *num = p + n + 1;
	size_t d = strspn(num, "0123456789");
	if (d == 0 || d >= idlen || num[d] != (open == '[' ? ']' : '}'))
		return false;
	memcpy(name, p, n);
	name[n] = '\0';
	memcpy(id, num, d);
	id[d] = '\0';
	return true;
}

/* The SAs a line names: a leading "conn[N] peer: " tag, "IKE_SA conn[N]",
 * "CHILD_SA child{N}". */
static void put_sa_fields(struct out *o, const char *msg)
{
	char name[128], id[16], peer[64];
	const char *ike = strstr(msg, "IKE_SA ");
	if (sa_ref(msg, '[', name, sizeof(name), id, sizeof(id))) {
		const char *after = strchr(msg, ']') + 1;
		size_t n = after[0] == ' ' ? strcspn(after + 1, " ") : 0;
		put_field(o, "connection", name);
		put_field(o, "ike_sa", id);
		if (n > 1 && n < sizeof(peer) && after[n] == ':') {
			memcpy(peer, after + 1, n - 1);
			peer[n - 1] = '\0';
			put_field(o, "peer", peer);
		}
		put_state(o, false, name, id);
	} else if (ike && sa_ref(ike + 7, '[', name, sizeof(name), id, sizeof(id))) {
		put_field(o, "connection", name);
		put_field(o, "ike_sa", id);
		put_state(o, false, name, id);
	}
	const char *child = strstr(msg, "CHILD_SA ");
	if (child && sa_ref(child + 9, '{', name, sizeof(name), id, sizeof(id))) {
		put_field(o, "child", name);
		put_field(o, "child_sa", id);
		put_state(o, true, name, id);
	}
}

size_t log_json_format(char *out, size_t outlen, const struct timespec *when,
		       const char *subsys, int level, const char *msg)
{
	struct out o = { out, 0, outlen };
	char stamp[48], lvl[16];
	struct tm tm;
	if (outlen < LOG_JSON_MIN)
		return 0;
	out[0] = '\0';
	gmtime_r(&when->tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03ldZ",
		 when->tv_nsec / 1000000);
	snprintf(lvl, sizeof(lvl), "%d", level);
	puts_(&o, "{\"time\":");
	put_string(&o, stamp);
	puts_(&o, ",\"level\":");
	puts_(&o, lvl);
	put_field(&o, "subsystem", subsys);
	put_field(&o, "message", msg);
	if (o.cap - o.len > 2200)	/* the SA fields are at most about 2.1 KB */
		put_sa_fields(&o, msg);
	puts_(&o, "}");
	return o.len;
}
