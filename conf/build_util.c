/* Messages and typed key access for the builder: each error names file:line, the
 * object and the key, so a user can go straight to the line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf/build.h"

int berr(struct bctx *b, const struct ctree *at, const char *fmt, ...)
{
	char where[300];
	ctree_where(at, where, sizeof(where));
	int n = snprintf(b->err, b->errlen, "%s: %s%s", where, b->what, b->what[0] ? ": " : "");
	if (n >= 0 && (size_t)n < b->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int berr_unsupported(struct bctx *b, const struct ctree *at)
{
	return berr(b, at, "'%s' is not supported by tsunagi", at->name);
}

int berr_unknown(struct bctx *b, const struct ctree *at)
{
	return berr(b, at, "unknown %s '%s'", ctree_is_section(at) ? "section" : "key",
		    at->name);
}

int berr_value(struct bctx *b, const struct ctree *at, const char *value)
{
	return berr(b, at, "invalid value '%s' for '%s'", value, at->name);
}

const char *bscalar(struct bctx *b, const struct ctree *node)
{
	if (node->is_list) {
		if (node->n_list == 1)
			return node->list[0];
		berr(b, node, "'%s' takes one value, not a list", node->name);
		return NULL;
	}
	if (!node->value) {
		berr(b, node, "'%s' must be a value, not a section", node->name);
		return NULL;
	}
	return node->value;
}

int bitems(struct bctx *b, const struct ctree *node, char ***out, size_t *n)
{
	if (ctree_is_section(node))
		return berr(b, node, "'%s' must be a value, not a section", node->name);
	*n = ctree_items(node, out);
	return 0;
}

/* One typed getter per value kind, all alike: scalar, parse, or name the bad value. */
#define GETTER(fn, type, parse)						\
	int fn(struct bctx *b, const struct ctree *node, type *out)	\
	{								\
		const char *s = bscalar(b, node);			\
		if (!s)							\
			return -1;					\
		if (parse(s, out) < 0)					\
			return berr_value(b, node, s);			\
		return 0;						\
	}

GETTER(bget_bool, bool, conf_parse_bool)
GETTER(bget_time, uint64_t, conf_parse_time)
GETTER(bget_bytes, uint64_t, conf_parse_bytes)
GETTER(bget_u64, uint64_t, conf_parse_u64)

static int parse_time32(const char *s, uint32_t *out)
{
	uint64_t v;
	if (conf_parse_time(s, &v) < 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	if (conf_parse_u64(s, &v) < 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
	uint64_t v;
	if (conf_parse_u64(s, &v) < 0 || v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

GETTER(bget_time32, uint32_t, parse_time32)
GETTER(bget_u32, uint32_t, parse_u32)
GETTER(bget_port, uint16_t, parse_port)
