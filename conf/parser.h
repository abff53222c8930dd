/* strongSwan's settings syntax, as swanctl.conf uses it, into a ctree:
 *
 *   name { ... }           a section; opening one again merges into it
 *   key = value            value to end of line (or '#'), trimmed; a later key overrides
 *   key = "quoted value"   with \" \\ \n \t \r escapes; may span lines
 *   # comment
 *   include <glob>         relative to the including file's directory, sorted, nested
 *
 * Every node records its file and line. Errors read "site-a.conf:12: expected '=' or
 * '{' after 'foo'" or "unterminated section 'connections' opened at site-a.conf:3". */
#ifndef TSUNAGI_CONF_PARSER_H
#define TSUNAGI_CONF_PARSER_H
#include <stddef.h>

#include "conf/tree.h"

#define CONF_MAX_INCLUDE_DEPTH 10	/* also what stops include loops */
#define CONF_MAX_SECTION_DEPTH 32
#define CONF_MAX_FILE_SIZE (4u << 20)
/* Entries (settings and subsections) in one section, and nodes in all: each new
 * entry is looked up among its section's first, so these bound the parse time
 * (10,000 entries in one section take well under a second). */
#define CONF_MAX_SECTION_ENTRIES 10000
#define CONF_MAX_ELEMENTS 100000

enum conf_parse_flags {
	CONF_NO_INCLUDE = 1,	/* "include" is an error (fuzzing, untrusted text) */
};

/* Returns the root (name NULL) or NULL with "file:line: message" in err. */
struct ctree *conf_parse_file(const char *path, char *err, size_t errlen);
/* name is used in messages and as the base for relative includes ("dir/x.conf"
 * includes from "dir"; a name without '/' includes from the current directory). */
struct ctree *conf_parse_string(const char *text, const char *name, char *err, size_t errlen);
struct ctree *conf_parse_string_flags(const char *text, const char *name, int flags,
				      char *err, size_t errlen);
#endif
