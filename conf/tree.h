/* One configuration model: swanctl.conf text and VICI load-conn/load-shared messages
 * are both parsed into this tree; conf/config_build.c turns a tree into connections
 * and secrets in one place. */
#ifndef TSUNAGI_CONF_TREE_H
#define TSUNAGI_CONF_TREE_H
#include <stdbool.h>
#include <stddef.h>

struct ctree {
	char *name;		/* key or section name; NULL for the root */
	char *value;		/* "key = value": the text, else NULL */
	char **list;		/* VICI list items (a swanctl value "a, b" stays in value) */
	size_t n_list;
	size_t list_cap;	/* allocated slots in list */
	bool is_list;		/* key came as a VICI list (possibly empty) */
	struct ctree *child;	/* first child of a section */
	struct ctree *next;	/* next sibling */
	struct ctree *last;	/* last child: appending stays O(1) on long lists */
	size_t n_child;
	char *file;		/* origin for error messages: "site-a.conf" or "vici" */
	int line;		/* 1-based line, 0 when not from a file */
};

struct ctree *ctree_new(const char *name, const char *file, int line);
void ctree_free(struct ctree *t);
/* Appends a child and returns it. */
struct ctree *ctree_add_section(struct ctree *parent, const char *name, const char *file, int line);
struct ctree *ctree_add_value(struct ctree *parent, const char *name, const char *value,
			      const char *file, int line);
struct ctree *ctree_add_list(struct ctree *parent, const char *name, const char *file, int line);
void ctree_list_append(struct ctree *list, const char *item);
/* First child with this name, or NULL. Sections and values alike. */
struct ctree *ctree_find(const struct ctree *t, const char *name);
/* Looks up "a.b.c" below t. */
struct ctree *ctree_lookup(const struct ctree *t, const char *path);
bool ctree_is_section(const struct ctree *t);
/* The items of a value: a VICI list's items, or a swanctl value split at commas and
 * white space ("aes128-sha256, aes256gcm16" -> two items). Caller frees with
 * ctree_free_items(). Returns the count; *out NULL when 0. */
size_t ctree_items(const struct ctree *t, char ***out);
void ctree_free_items(char **items, size_t n);
/* "site-a.conf:12" (or "vici") for messages. */
const char *ctree_where(const struct ctree *t, char *out, size_t outlen);
#endif
