/* strongSwan's value syntax for swanctl.conf keys, as its vici plugin parses them:
 * numbers in C notation (strtoul base 0), durations with s/m/h/d, byte counts with
 * k/M/G (powers of 1024), booleans yes/no/true/false/enabled/disabled/1/0 (any case). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/build.h"
#include "lib/wipe.h"

int conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "enabled", "1", NULL };
	static const char *const no[] = { "no", "false", "disabled", "0", NULL };
	for (size_t i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Leading number; *end after it. Refuses signs, blanks and overflow. */
static int parse_number(const char *s, uint64_t *out, const char **end)
{
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	char *e;
	unsigned long long v = strtoull(s, &e, 0);
	if (errno == ERANGE)
		return -1;
	*out = v;
	*end = e;
	return 0;
}

int conf_parse_u64(const char *s, uint64_t *out)
{
	const char *end;
	if (parse_number(s, out, &end) < 0 || *end)
		return -1;
	return 0;
}

static int scale(uint64_t *v, uint64_t factor)
{
	if (*v > UINT64_MAX / factor)
		return -1;
	*v *= factor;
	return 0;
}

static int parse_suffixed(const char *s, uint64_t *out, const char *suffixes,
			  const uint64_t *factors)
{
	const char *end;
	uint64_t v;
	if (parse_number(s, &v, &end) < 0)
		return -1;
	while (*end == ' ')
		end++;
	if (*end) {
		const char *p = strchr(suffixes, tolower((unsigned char)*end));
		if (!p || end[1] || scale(&v, factors[p - suffixes]) < 0)
			return -1;
	}
	*out = v;
	return 0;
}

int conf_parse_time(const char *s, uint64_t *out)
{
	static const uint64_t f[] = { 1, 60, 3600, 86400 };
	return parse_suffixed(s, out, "smhd", f);
}

int conf_parse_bytes(const char *s, uint64_t *out)
{
	static const uint64_t f[] = { 1024, 1024 * 1024, 1024 * 1024 * 1024 };
	return parse_suffixed(s, out, "kmg", f);
}

static int decode_hex(const char *s, uint8_t **out, size_t *len)
{
	size_t max = strlen(s) / 2 + 1;
	uint8_t *buf = malloc(max);
	const char *end;
	if (!buf)
		return -1;
	/* strongSwan's hex decoding skips ':' separators ("0x01:02:03"). */
	if (sodium_hex2bin(buf, max, s, strlen(s), ":", len, &end) != 0 || *end || *len == 0) {
		wipe_free(buf, max);
		return -1;
	}
	*out = buf;
	return 0;
}

static int decode_base64(const char *s, uint8_t **out, size_t *len)
{
	size_t max = strlen(s) / 4 * 3 + 3;
	uint8_t *buf = malloc(max);
	const char *end;
	if (!buf)
		return -1;
	if (sodium_base642bin(buf, max, s, strlen(s), " \t\r\n", len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || *end || *len == 0) {
		wipe_free(buf, max);
		return -1;
	}
	*out = buf;
	return 0;
}

int conf_decode_secret(const char *s, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (strncasecmp(s, "0x", 2) == 0)
		return decode_hex(s + 2, out, len);
	if (strncasecmp(s, "0s", 2) == 0)
		return decode_base64(s + 2, out, len);
	size_t n = strlen(s);
	if (n == 0)
		return -1;
	*out = malloc(n);
	if (!*out)
		return -1;
	memcpy(*out, s, n);
	*len = n;
	return 0;
}

bool key_has_prefix(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0;
}

bool name_in(const char *name, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}
