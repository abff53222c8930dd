/* VICI (strongSwan's Versatile IKE Control Interface) packets and messages.
 *
 * Wire format (strongSwan src/libcharon/plugins/vici/README.md):
 *   transport: u32 big-endian length, then that many bytes (at most 512 KiB);
 *   packet:    u8 type, for named types u8 name length + name, then a message;
 *   message:   a sequence of elements, each u8 type, then for SECTION_START,
 *              KEY_VALUE and LIST_START a u8-length name, then for KEY_VALUE and
 *              LIST_ITEM a u16-length (big-endian) value.
 *
 * Messages are built with struct vici_msg (over lib/buf.h) and parsed into the same
 * struct ctree as swanctl.conf text, so a load-conn request goes straight to the
 * configuration builder. */
#ifndef TSUNAGI_VICI_MSG_H
#define TSUNAGI_VICI_MSG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/tree.h"
#include "lib/buf.h"

enum vici_packet_type {
	VICI_CMD_REQUEST = 0,
	VICI_CMD_RESPONSE = 1,
	VICI_CMD_UNKNOWN = 2,
	VICI_EVENT_REGISTER = 3,
	VICI_EVENT_UNREGISTER = 4,
	VICI_EVENT_CONFIRM = 5,
	VICI_EVENT_UNKNOWN = 6,
	VICI_EVENT = 7,
};

enum vici_element {
	VICI_SECTION_START = 1,
	VICI_SECTION_END = 2,
	VICI_KEY_VALUE = 3,
	VICI_LIST_START = 4,
	VICI_LIST_ITEM = 5,
	VICI_LIST_END = 6,
};

#define VICI_MAX_PACKET (512 * 1024)	/* payload bytes, as strongSwan limits it */
#define VICI_MAX_DEPTH 32		/* nested sections accepted by the parser */
#define VICI_MAX_NAME 255
#define VICI_MAX_VALUE 65535
/* Elements the server accepts in one request. The largest real load-conn (a
 * connection with dozens of children and long selector lists) has a few hundred; a
 * 512 KiB packet could otherwise carry 131k empty elements. */
#define VICI_MAX_ELEMENTS 10000

/* Does this packet type carry a name? (CMD_REQUEST, EVENT_(UN)REGISTER, EVENT) */
bool vici_type_is_named(uint8_t type);
/* Does this packet type carry a message? (CMD_REQUEST, CMD_RESPONSE, EVENT) */
bool vici_type_has_message(uint8_t type);
const char *vici_type_name(uint8_t type);

/* ---- building ---- */

/* A message under construction. Errors (a name over 255 bytes, a value over 64 KiB,
 * unbalanced sections/lists, an item outside a list, out of memory) are sticky:
 * vici_msg_ok() reports them once at the end, like struct rd. */
struct vici_msg {
	struct buf b;
	int depth;		/* open sections */
	bool in_list;
	bool err;
};

void vici_msg_init(struct vici_msg *m);
void vici_msg_free(struct vici_msg *m);
/* For messages that carried secrets (load-shared). */
void vici_msg_wipe_free(struct vici_msg *m);
void vici_msg_reset(struct vici_msg *m);
bool vici_msg_ok(const struct vici_msg *m);	/* no error and balanced */

void vici_begin_section(struct vici_msg *m, const char *name);
void vici_end_section(struct vici_msg *m);
void vici_add_kv(struct vici_msg *m, const char *key, const char *value);
void vici_add_kv_bin(struct vici_msg *m, const char *key, const void *value, size_t len);
void vici_add_kvf(struct vici_msg *m, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vici_begin_list(struct vici_msg *m, const char *name);
void vici_add_item(struct vici_msg *m, const char *value);
void vici_add_itemf(struct vici_msg *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vici_end_list(struct vici_msg *m);
/* Appends a parsed tree (sections, values, lists) as message elements: the way
 * tsunagictl sends a swanctl.conf section as load-conn. */
void vici_add_tree(struct vici_msg *m, const struct ctree *t);

/* Encodes a complete transport segment (length, type, name, message) into out.
 * msg may be NULL for types without a message. Returns 0, or -1 if the packet would
 * exceed VICI_MAX_PACKET, the name is too long, or msg is not ok. */
int vici_packet_encode(struct buf *out, uint8_t type, const char *name,
		       const struct vici_msg *msg);

/* ---- parsing ---- */

/* Parses a message (the elements only) into a tree: root has name NULL, file "vici",
 * line 0. Sections become sections, KEY_VALUE a value, lists a list (is_list).
 * A value holding a NUL byte (binary, e.g. a swanctl "0x..." secret) is stored as
 * "0x" + lowercase hex, which is how swanctl.conf writes binary secrets.
 * Returns NULL with a reason in err on malformed input (truncation, unknown element,
 * unbalanced or too deeply nested sections, items outside lists, key/values or
 * sections inside lists). */
struct ctree *vici_parse_message(const uint8_t *p, size_t len, char *err, size_t errlen);
/* The same, refusing a message of more than max_elements elements (every element
 * counts, ends included): then NULL, *over_limit true and the reason in err. */
struct ctree *vici_parse_message_max(const uint8_t *p, size_t len, size_t max_elements,
				     bool *over_limit, char *err, size_t errlen);

/* A packet payload (after the 4-byte length) split into its parts. */
struct vici_packet {
	uint8_t type;
	char name[VICI_MAX_NAME + 1];	/* "" for unnamed types */
	const uint8_t *msg;		/* points into the payload */
	size_t msg_len;
};

/* Splits a payload; checks the type and the name length. Returns 0 or -1 (err). */
int vici_packet_decode(const uint8_t *p, size_t len, struct vici_packet *pkt,
		       char *err, size_t errlen);

/* ---- printing ---- */

/* Prints a tree as swanctl --raw ("label {key=value sec {...} list [a b]}") or, with
 * pretty, as swanctl --pretty (indented, " = "). */
void vici_print_raw(FILE *out, const char *label, const struct ctree *t, bool pretty);
/* Prints a tree as JSON: sections as objects, values as strings, lists as arrays. */
void vici_print_json(FILE *out, const struct ctree *t, bool pretty);
/* The same without the newline (pretty = false: on one line). */
void vici_write_json(FILE *out, const struct ctree *t, bool pretty);

/* Convenience lookups on parsed messages: value of "a.b.c" or def. */
const char *vici_find_str(const struct ctree *t, const char *path, const char *def);
#endif
