/* A hand-written recursive-descent reader for strongSwan's settings syntax (see
 * parser.h). It works on one file's text at a time; "include" reads each matched file
 * into the section where the include stands, one level deeper. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/parser.h"
#include "lib/wipe.h"

struct pstate {
	const char *text;	/* NUL-terminated */
	size_t pos;
	int line;
	const char *file;	/* for messages and nodes */
	const char *dir;	/* base for relative includes */
	int include_depth;
	int flags;
	size_t *elements;	/* nodes added so far, over all included files */
	char *err;
	size_t errlen;
	bool failed;
};

static int parse_file_into(struct ctree *parent, const char *path, int include_depth,
			   int flags, size_t *elements, char *err, size_t errlen);

__attribute__((format(printf, 3, 4)))
static int fail(struct pstate *ps, int line, const char *fmt, ...)
{
	if (ps->failed)
		return -1;
	ps->failed = true;
	int n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->file, line);
	if (n < 0 || (size_t)n >= ps->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static char peek(const struct pstate *ps)
{
	return ps->text[ps->pos];
}

static void advance(struct pstate *ps)
{
	if (ps->text[ps->pos] == '\n')
		ps->line++;
	if (ps->text[ps->pos])
		ps->pos++;
}

static void skip_comment(struct pstate *ps)
{
	while (peek(ps) && peek(ps) != '\n')
		advance(ps);
}

static void skip_blanks(struct pstate *ps)
{
	while (peek(ps) == ' ' || peek(ps) == '\t' || peek(ps) == '\r')
		advance(ps);
}

/* White space, newlines and comments. */
static void skip_space(struct pstate *ps)
{
	for (;;) {
		char c = peek(ps);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			advance(ps);
		else if (c == '#')
			skip_comment(ps);
		else
			return;
	}
}

static bool is_name_char(char c)
{
	return c && !strchr(" \t\r\n{}=#\"", c);
}

static char *read_name(struct pstate *ps)
{
	size_t start = ps->pos;
	while (is_name_char(peek(ps)))
		advance(ps);
	return strndup(ps->text + start, ps->pos - start);
}

static char unescape(char c)
{
	switch (c) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	default: return c;	/* \" \\ and anything else stand for themselves */
	}
}

/* A growing string for values; values may be PSKs, so every copy left behind by
 * growing is wiped. Doubling keeps reading a value linear in its length. */
struct text {
	char *p;
	size_t n, cap;
};

static bool text_put(struct text *t, char c)
{
	if (t->n + 2 > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char *grown = malloc(cap);
		if (!grown)
			return false;
		if (t->p) {
			memcpy(grown, t->p, t->n);
			wipe_free(t->p, t->cap);
		}
		t->p = grown;
		t->cap = cap;
	}
	t->p[t->n++] = c;
	t->p[t->n] = '\0';
	return true;
}

static void text_wipe(struct text *t)
{
	if (t->p)
		wipe_free(t->p, t->cap);
	t->p = NULL;
	t->n = t->cap = 0;
}

/* The string, "" when nothing was put; NULL when out of memory. */
static char *text_take(struct text *t)
{
	return t->p ? t->p : strdup("");
}

/* A "quoted value" with escapes, appended to out; backslash-newline continues the
 * line. */
static int read_quoted_into(struct pstate *ps, struct text *out)
{
	int open_line = ps->line;
	advance(ps);	/* the opening quote */
	for (;;) {
		char c = peek(ps);
		if (!c)
			return fail(ps, open_line, "unterminated quoted string");
		advance(ps);
		if (c == '"')
			return 0;
		if (c == '\\') {
			char e = peek(ps);
			if (!e)
				continue;
			advance(ps);
			if (e == '\n')
				continue;
			c = unescape(e);
		}
		if (!text_put(out, c))
			return fail(ps, open_line, "out of memory");
	}
}

static char *read_quoted_value(struct pstate *ps)
{
	struct text t = { 0 };
	if (read_quoted_into(ps, &t) < 0) {
		text_wipe(&t);
		return NULL;
	}
	return text_take(&t);
}

static struct ctree *find_typed(struct ctree *parent, const char *name, bool section)
{
	for (struct ctree *c = parent->child; c; c = c->next)
		if (c->name && strcmp(c->name, name) == 0 && ctree_is_section(c) == section)
			return c;
	return NULL;
}

/* Every new node passes here. Finding a key before adding it walks the section, so
 * entries per section are capped to keep that walk short; the total bounds the work
 * for a file with its includes. */
static int count_new_node(struct pstate *ps, const struct ctree *parent, int line)
{
	if (parent->n_child >= CONF_MAX_SECTION_ENTRIES)
		return fail(ps, line, "more than %d entries in section '%s'",
			    CONF_MAX_SECTION_ENTRIES, parent->name ? parent->name : "(top)");
	if (++*ps->elements > CONF_MAX_ELEMENTS)
		return fail(ps, line, "more than %d settings and sections", CONF_MAX_ELEMENTS);
	return 0;
}

/* A later "key = value" replaces an earlier one in the same section, and takes its
 * place of definition, as strongSwan's settings do. */
static int set_value(struct pstate *ps, struct ctree *parent, const char *name, char *value,
		     int line)
{
	struct ctree *old = find_typed(parent, name, false);
	if (!old && count_new_node(ps, parent, line) < 0)
		return -1;
	if (!old)
		return ctree_add_value(parent, name, value, ps->file, line) ? 0 :
		       fail(ps, line, "out of memory");
	char *file = strdup(ps->file);
	if (!file)
		return fail(ps, line, "out of memory");
	wipe_free(old->value, strlen(old->value));
	old->value = strdup(value);
	free(old->file);
	old->file = file;
	old->line = line;
	return old->value ? 0 : fail(ps, line, "out of memory");
}

static bool has_glob_magic(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int do_include(struct pstate *ps, struct ctree *parent, const char *pattern, int line)
{
	if (ps->flags & CONF_NO_INCLUDE)
		return fail(ps, line, "include is not allowed here");
	if (!*pattern)
		return fail(ps, line, "include without a file name");
	if (ps->include_depth + 1 > CONF_MAX_INCLUDE_DEPTH)
		return fail(ps, line, "include nested more than %d deep (include loop?)",
			    CONF_MAX_INCLUDE_DEPTH);
	char full[4096];
	if (pattern[0] == '/')
		snprintf(full, sizeof(full), "%s", pattern);
	else if ((size_t)snprintf(full, sizeof(full), "%s/%s", ps->dir, pattern) >= sizeof(full))
		return fail(ps, line, "include path too long");
	glob_t g;
	int rc = glob(full, 0, NULL, &g);
	if (rc == GLOB_NOMATCH) {
		globfree(&g);
		if (has_glob_magic(pattern))
			return 0;	/* like strongSwan: an empty wildcard match is fine */
		return fail(ps, line, "cannot open include '%s': %s", full, strerror(ENOENT));
	}
	if (rc != 0) {
		globfree(&g);
		return fail(ps, line, "cannot read include '%s'", full);
	}
	char sub_err[512];
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (parse_file_into(parent, g.gl_pathv[i], ps->include_depth + 1, ps->flags,
				    ps->elements, sub_err, sizeof(sub_err)) < 0) {
			globfree(&g);
			/* The included file's message already names its own file:line. */
			snprintf(ps->err, ps->errlen, "%s", sub_err);
			ps->failed = true;
			return -1;
		}
	}
	globfree(&g);
	return 0;
}

/* After "include": a quoted pattern, or one up to white space, '#' or '}' in which
 * "\\ ", "\\#", "\\}" and "\\\"" stand for themselves, as strongSwan reads it. */
static char *read_include_pattern(struct pstate *ps)
{
	if (peek(ps) == '"')
		return read_quoted_value(ps);
	struct text t = { 0 };
	while (peek(ps) && !strchr(" \t\r\n#}", peek(ps))) {
		char c = peek(ps);
		advance(ps);
		if (c == '\\' && peek(ps) && strchr("\"#} ", peek(ps))) {
			c = peek(ps);
			advance(ps);
		}
		if (!text_put(&t, c)) {
			text_wipe(&t);
			return NULL;
		}
	}
	return text_take(&t);
}

static int parse_include(struct pstate *ps, struct ctree *parent, int line)
{
	skip_blanks(ps);
	char *pattern = read_include_pattern(ps);
	if (!pattern)
		return ps->failed ? -1 : fail(ps, line, "out of memory");
	int rc = do_include(ps, parent, pattern, line);
	free(pattern);
	return rc;
}

static int parse_block(struct pstate *ps, struct ctree *parent, const char *section,
		       int open_line, int depth);

static bool ends_value(char c)
{
	return !c || c == '\n' || c == '#' || c == '}';
}

/* A value, as strongSwan's settings parser reads it: parts (plain words or "quoted
 * strings") up to the end of the line, '#' or '}', joined by single spaces. */
static char *read_value(struct pstate *ps, int line)
{
	struct text t = { 0 };
	for (;;) {
		skip_blanks(ps);
		if (ends_value(peek(ps)))
			break;
		if (t.n && !text_put(&t, ' '))
			goto oom;
		if (peek(ps) == '"') {
			if (read_quoted_into(ps, &t) < 0)
				goto fail;
			continue;
		}
		while (!ends_value(peek(ps)) && !strchr(" \t\r\"", peek(ps))) {
			if (!text_put(&t, peek(ps)))
				goto oom;
			advance(ps);
		}
	}
	char *out = text_take(&t);
	if (out)
		return out;
oom:
	fail(ps, line, "out of memory");
fail:
	text_wipe(&t);
	return NULL;
}

static int parse_assignment(struct pstate *ps, struct ctree *parent, const char *name, int line)
{
	advance(ps);	/* '=' */
	char *value = read_value(ps, line);
	if (!value)
		return -1;
	int rc = set_value(ps, parent, name, value, line);
	wipe_free(value, strlen(value));
	return rc;
}

static int parse_section(struct pstate *ps, struct ctree *parent, const char *name, int line,
			 int depth)
{
	advance(ps);	/* '{' */
	if (depth + 1 > CONF_MAX_SECTION_DEPTH)
		return fail(ps, line, "sections nested more than %d deep",
			    CONF_MAX_SECTION_DEPTH);
	struct ctree *sec = find_typed(parent, name, true);
	if (!sec && count_new_node(ps, parent, line) < 0)
		return -1;
	if (!sec)
		sec = ctree_add_section(parent, name, ps->file, line);
	if (!sec)
		return fail(ps, line, "out of memory");
	return parse_block(ps, sec, name, line, depth + 1);
}

/* One statement: include, "name = value" or "name { ... }". */
static int parse_statement(struct pstate *ps, struct ctree *parent, int depth)
{
	int line = ps->line;
	char *name = read_name(ps);
	if (!name)
		return fail(ps, line, "out of memory");
	if (!*name) {
		char c = peek(ps);
		free(name);
		return fail(ps, line, "unexpected '%c'", c);
	}
	int rc;
	if (strcmp(name, "include") == 0 && (peek(ps) == ' ' || peek(ps) == '\t')) {
		skip_blanks(ps);
		if (peek(ps) != '=' && peek(ps) != '{') {
			rc = parse_include(ps, parent, line);
			free(name);
			return rc;
		}
	}
	skip_space(ps);
	if (peek(ps) == '=')
		rc = parse_assignment(ps, parent, name, line);
	else if (peek(ps) == '{')
		rc = parse_section(ps, parent, name, line, depth);
	else
		rc = fail(ps, line, "expected '=' or '{' after '%s'", name);
	free(name);
	return rc;
}

/* Statements until '}' (inside a section) or the end of the text (at top level). */
static int parse_block(struct pstate *ps, struct ctree *parent, const char *section,
		       int open_line, int depth)
{
	for (;;) {
		skip_space(ps);
		char c = peek(ps);
		if (!c) {
			if (!section)
				return 0;
			return fail(ps, ps->line, "unterminated section '%s' opened at %s:%d",
				    section, ps->file, open_line);
		}
		if (c == '}') {
			if (!section)
				return fail(ps, ps->line, "unexpected '}'");
			advance(ps);
			return 0;
		}
		if (parse_statement(ps, parent, depth) < 0)
			return -1;
	}
}

static int parse_text_into(struct ctree *parent, const char *text, const char *file,
			   const char *dir, int include_depth, int flags, size_t *elements,
			   char *err, size_t errlen)
{
	struct pstate ps = {
		.text = text, .line = 1, .file = file, .dir = dir,
		.include_depth = include_depth, .flags = flags, .elements = elements,
		.err = err, .errlen = errlen,
	};
	if (parse_block(&ps, parent, NULL, 0, 0) < 0) {
		if (!ps.failed)
			fail(&ps, ps.line, "parse error");
		return -1;
	}
	return 0;
}

/* Reads a file that may hold PSKs: with read(2), not stdio (whose buffer would be
 * freed unwiped), growing by copy-and-wipe, and wiping on every error path. */
static char *read_whole_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n + 1 >= cap) {
			if (cap >= CONF_MAX_FILE_SIZE) {
				snprintf(err, errlen, "%s: larger than %u bytes", path,
					 CONF_MAX_FILE_SIZE);
				goto fail;
			}
			char *grown = malloc(cap * 2);
			if (!grown)
				goto oom;
			memcpy(grown, buf, n);
			wipe_free(buf, cap);
			buf = grown;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (!buf)
		goto oom;
	close(fd);
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		wipe_free(buf, cap);
		return NULL;
	}
	return buf;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
fail:
	if (buf)
		wipe_free(buf, cap);
	close(fd);
	return NULL;
}

static int parse_file_into(struct ctree *parent, const char *path, int include_depth,
			   int flags, size_t *elements, char *err, size_t errlen)
{
	char *text = read_whole_file(path, err, errlen);
	if (!text)
		return -1;
	char *pathcopy = strdup(path);
	if (!pathcopy) {
		wipe_free(text, strlen(text));
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	int rc = parse_text_into(parent, text, path, dirname(pathcopy), include_depth, flags,
				 elements, err, errlen);
	free(pathcopy);
	wipe_free(text, strlen(text));	/* may hold secrets */
	return rc;
}

struct ctree *conf_parse_file(const char *path, char *err, size_t errlen)
{
	struct ctree *root = ctree_new(NULL, path, 0);
	if (!root) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	size_t elements = 0;
	if (parse_file_into(root, path, 0, 0, &elements, err, errlen) < 0) {
		ctree_free(root);
		return NULL;
	}
	return root;
}

struct ctree *conf_parse_string_flags(const char *text, const char *name, int flags,
				      char *err, size_t errlen)
{
	if (!name)
		name = "(string)";
	struct ctree *root = ctree_new(NULL, name, 0);
	char *namecopy = strdup(name);
	if (!root || !namecopy) {
		ctree_free(root);
		free(namecopy);
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	const char *dir = strchr(name, '/') ? dirname(namecopy) : ".";
	size_t elements = 0;
	int rc = parse_text_into(root, text, name, dir, 0, flags, &elements, err, errlen);
	free(namecopy);
	if (rc < 0) {
		ctree_free(root);
		return NULL;
	}
	return root;
}

struct ctree *conf_parse_string(const char *text, const char *name, char *err, size_t errlen)
{
	return conf_parse_string_flags(text, name, 0, err, errlen);
}
