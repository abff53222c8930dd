/* The configuration tree: sections and "key = value" nodes, each remembering where it
 * came from. Values may hold secrets (a PSK under "secrets"), so every string is wiped
 * before it is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/tree.h"
#include "lib/wipe.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void free_str(char *s)
{
	if (s)
		wipe_free(s, strlen(s));
}

struct ctree *ctree_new(const char *name, const char *file, int line)
{
	struct ctree *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->name = dup_or_null(name);
	t->file = dup_or_null(file);
	t->line = line;
	if ((name && !t->name) || (file && !t->file)) {
		ctree_free(t);
		return NULL;
	}
	return t;
}

/* Frees t, its children and its following siblings (iteratively along siblings so a
 * long flat list cannot exhaust the stack). */
void ctree_free(struct ctree *t)
{
	while (t) {
		struct ctree *next = t->next;
		ctree_free(t->child);
		free_str(t->name);
		free_str(t->value);
		ctree_free_items(t->list, t->n_list);
		free(t->file);
		free(t);
		t = next;
	}
}

/* O(1) through the tail pointer: walking the siblings made a VICI message of many
 * small elements quadratic (131k empty key/values held the event loop for 104 s). */
static struct ctree *append_child(struct ctree *parent, struct ctree *c)
{
	if (parent->last)
		parent->last->next = c;
	else
		parent->child = c;
	parent->last = c;
	parent->n_child++;
	return c;
}

struct ctree *ctree_add_section(struct ctree *parent, const char *name, const char *file, int line)
{
	struct ctree *c = ctree_new(name, file, line);
	return c ? append_child(parent, c) : NULL;
}

struct ctree *ctree_add_value(struct ctree *parent, const char *name, const char *value,
			      const char *file, int line)
{
	struct ctree *c = ctree_new(name, file, line);
	if (!c)
		return NULL;
	c->value = strdup(value ? value : "");
	if (!c->value) {
		ctree_free(c);
		return NULL;
	}
	return append_child(parent, c);
}

struct ctree *ctree_add_list(struct ctree *parent, const char *name, const char *file, int line)
{
	struct ctree *c = ctree_new(name, file, line);
	if (!c)
		return NULL;
	c->is_list = true;
	return append_child(parent, c);
}

/* Grows by doubling, so a long list costs linear time too. */
void ctree_list_append(struct ctree *list, const char *item)
{
	if (list->n_list == list->list_cap) {
		size_t cap = list->list_cap ? 2 * list->list_cap : 4;
		char **grown = realloc(list->list, cap * sizeof(*grown));
		if (!grown)
			return;
		list->list = grown;
		list->list_cap = cap;
	}
	char **n = list->list;
	n[list->n_list] = strdup(item);
	if (n[list->n_list])
		list->n_list++;
}

struct ctree *ctree_find(const struct ctree *t, const char *name)
{
	if (!t)
		return NULL;
	for (struct ctree *c = t->child; c; c = c->next)
		if (c->name && strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

struct ctree *ctree_lookup(const struct ctree *t, const char *path)
{
	char part[256];
	const struct ctree *cur = t;
	while (cur && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		if (len == 0 || len >= sizeof(part))
			return NULL;
		memcpy(part, path, len);
		part[len] = '\0';
		cur = ctree_find(cur, part);
		path += len + (dot ? 1 : 0);
	}
	return (struct ctree *)cur;
}

bool ctree_is_section(const struct ctree *t)
{
	return t && !t->value && !t->is_list;
}

void ctree_free_items(char **items, size_t n)
{
	if (!items)
		return;
	for (size_t i = 0; i < n; i++)
		free_str(items[i]);
	free(items);
}

static int push_item(char ***items, size_t *n, const char *s, size_t len)
{
	char **grown = realloc(*items, (*n + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	*items = grown;
	grown[*n] = strndup(s, len);
	if (!grown[*n])
		return -1;
	(*n)++;
	return 0;
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A swanctl value "a, b c" -> {"a", "b", "c"}; a VICI list -> its items as they are. */
size_t ctree_items(const struct ctree *t, char ***out)
{
	char **items = NULL;
	size_t n = 0;
	*out = NULL;
	if (!t)
		return 0;
	if (t->is_list) {
		for (size_t i = 0; i < t->n_list; i++)
			if (push_item(&items, &n, t->list[i], strlen(t->list[i])) < 0)
				goto fail;
	} else if (t->value) {
		const char *p = t->value;
		while (*p) {
			while (*p && is_sep(*p))
				p++;
			const char *start = p;
			while (*p && !is_sep(*p))
				p++;
			if (p > start && push_item(&items, &n, start, (size_t)(p - start)) < 0)
				goto fail;
		}
	}
	*out = items;
	return n;
fail:
	ctree_free_items(items, n);
	return 0;
}

const char *ctree_where(const struct ctree *t, char *out, size_t outlen)
{
	if (!t || !t->file)
		snprintf(out, outlen, "%s", "(unknown)");
	else if (t->line > 0)
		snprintf(out, outlen, "%s:%d", t->file, t->line);
	else
		snprintf(out, outlen, "%s", t->file);
	return out;
}
