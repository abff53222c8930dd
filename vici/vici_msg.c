/* VICI message building, parsing into struct ctree, and printing. */
#include "vici/vici_msg.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/wipe.h"

bool vici_type_is_named(uint8_t type)
{
	return type == VICI_CMD_REQUEST || type == VICI_EVENT_REGISTER ||
	       type == VICI_EVENT_UNREGISTER || type == VICI_EVENT;
}

bool vici_type_has_message(uint8_t type)
{
	return type == VICI_CMD_REQUEST || type == VICI_CMD_RESPONSE || type == VICI_EVENT;
}

const char *vici_type_name(uint8_t type)
{
	static const char *const names[] = {
		"CMD_REQUEST", "CMD_RESPONSE", "CMD_UNKNOWN", "EVENT_REGISTER",
		"EVENT_UNREGISTER", "EVENT_CONFIRM", "EVENT_UNKNOWN", "EVENT",
	};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "INVALID";
}

/* ---- building ---- */

void vici_msg_init(struct vici_msg *m)
{
	buf_init(&m->b);
	m->depth = 0;
	m->in_list = false;
	m->err = false;
}

void vici_msg_free(struct vici_msg *m)
{
	buf_free(&m->b);
	vici_msg_init(m);
}

void vici_msg_wipe_free(struct vici_msg *m)
{
	buf_wipe_free(&m->b);
	vici_msg_init(m);
}

void vici_msg_reset(struct vici_msg *m)
{
	buf_reset(&m->b);
	m->depth = 0;
	m->in_list = false;
	m->err = false;
}

bool vici_msg_ok(const struct vici_msg *m)
{
	return !m->err && !m->b.oom && m->depth == 0 && !m->in_list;
}

static void put_name(struct vici_msg *m, const char *name)
{
	/* Empty names are valid on the wire: strongSwan's counters use "" for the
	 * global set. */
	size_t n = name ? strlen(name) : 0;
	if (!name || n > VICI_MAX_NAME) {
		m->err = true;
		return;
	}
	buf_put_u8(&m->b, (uint8_t)n);
	buf_put(&m->b, name, n);
}

static void put_value(struct vici_msg *m, const void *v, size_t n)
{
	if (n > VICI_MAX_VALUE) {
		m->err = true;
		return;
	}
	buf_put_u16(&m->b, (uint16_t)n);
	buf_put(&m->b, v, n);
}

void vici_begin_section(struct vici_msg *m, const char *name)
{
	if (m->in_list)
		m->err = true;
	buf_put_u8(&m->b, VICI_SECTION_START);
	put_name(m, name);
	m->depth++;
}

void vici_end_section(struct vici_msg *m)
{
	if (m->in_list || m->depth == 0)
		m->err = true;
	buf_put_u8(&m->b, VICI_SECTION_END);
	m->depth--;
}

void vici_add_kv_bin(struct vici_msg *m, const char *key, const void *value, size_t len)
{
	if (m->in_list)
		m->err = true;
	buf_put_u8(&m->b, VICI_KEY_VALUE);
	put_name(m, key);
	put_value(m, value, len);
}

void vici_add_kv(struct vici_msg *m, const char *key, const char *value)
{
	vici_add_kv_bin(m, key, value, value ? strlen(value) : 0);
}

void vici_add_kvf(struct vici_msg *m, const char *key, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		m->err = true;
	vici_add_kv(m, key, tmp);
}

void vici_begin_list(struct vici_msg *m, const char *name)
{
	if (m->in_list)
		m->err = true;
	buf_put_u8(&m->b, VICI_LIST_START);
	put_name(m, name);
	m->in_list = true;
}

void vici_add_item(struct vici_msg *m, const char *value)
{
	if (!m->in_list)
		m->err = true;
	buf_put_u8(&m->b, VICI_LIST_ITEM);
	put_value(m, value, value ? strlen(value) : 0);
}

void vici_add_itemf(struct vici_msg *m, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		m->err = true;
	vici_add_item(m, tmp);
}

void vici_end_list(struct vici_msg *m)
{
	if (!m->in_list)
		m->err = true;
	buf_put_u8(&m->b, VICI_LIST_END);
	m->in_list = false;
}

static void add_tree_children(struct vici_msg *m, const struct ctree *t)
{
	for (const struct ctree *c = t->child; c; c = c->next) {
		if (c->is_list) {
			vici_begin_list(m, c->name);
			for (size_t i = 0; i < c->n_list; i++)
				vici_add_item(m, c->list[i]);
			vici_end_list(m);
		} else if (c->value) {
			vici_add_kv(m, c->name, c->value);
		} else {
			vici_begin_section(m, c->name);
			add_tree_children(m, c);
			vici_end_section(m);
		}
	}
}

void vici_add_tree(struct vici_msg *m, const struct ctree *t)
{
	if (t->name) {
		if (t->is_list || t->value) {
			m->err = true;	/* only a section can be sent as a section */
			return;
		}
		vici_begin_section(m, t->name);
		add_tree_children(m, t);
		vici_end_section(m);
	} else {
		add_tree_children(m, t);
	}
}

int vici_packet_encode(struct buf *out, uint8_t type, const char *name,
		       const struct vici_msg *msg)
{
	size_t name_len = vici_type_is_named(type) && name ? strlen(name) : 0;
	size_t msg_len = msg && vici_type_has_message(type) ? msg->b.len : 0;
	size_t len = 1 + (vici_type_is_named(type) ? 1 + name_len : 0) + msg_len;

	if (name_len > VICI_MAX_NAME || len > VICI_MAX_PACKET)
		return -1;
	if (msg && vici_type_has_message(type) && !vici_msg_ok(msg))
		return -1;
	buf_put_u32(out, (uint32_t)len);
	buf_put_u8(out, type);
	if (vici_type_is_named(type)) {
		buf_put_u8(out, (uint8_t)name_len);
		buf_put(out, name, name_len);
	}
	if (msg_len)
		buf_put(out, msg->b.data, msg_len);
	return out->oom ? -1 : 0;
}

/* ---- parsing ---- */

static void set_err(char *err, size_t errlen, const char *what, size_t off)
{
	if (err && errlen)
		snprintf(err, errlen, "malformed VICI message: %s at offset %zu", what, off);
}

/* Reads a u8-length name into out (NUL-terminated). Names with NUL bytes are refused:
 * they could not be looked up and only serve to confuse. */
static bool read_name(struct rd *r, char out[VICI_MAX_NAME + 1])
{
	uint8_t n = rd_u8(r);
	const uint8_t *p = rd_bytes(r, n);
	if (r->err || (n && memchr(p, 0, n)))
		return false;
	if (n)
		memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* Reads a u16-length value as a C string (binary values become "0x<hex>"). */
static char *read_value(struct rd *r)
{
	uint16_t n = rd_u16(r);
	const uint8_t *p = rd_bytes(r, n);
	if (!p)
		return NULL;
	char *s;
	if (memchr(p, 0, n)) {
		s = malloc(2 + 2 * (size_t)n + 1);
		if (s) {
			s[0] = '0';
			s[1] = 'x';
			hex_format(p, n, s + 2);
		}
	} else {
		s = malloc((size_t)n + 1);
		if (s) {
			memcpy(s, p, n);
			s[n] = '\0';
		}
	}
	return s;
}

static void wipe_str_free(char *s)
{
	if (s) {
		wipe(s, strlen(s));
		free(s);
	}
}

struct ctree *vici_parse_message(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	bool over_limit;
	return vici_parse_message_max(p, len, SIZE_MAX, &over_limit, err, errlen);
}

struct ctree *vici_parse_message_max(const uint8_t *p, size_t len, size_t max_elements,
				     bool *over_limit, char *err, size_t errlen)
{
	struct ctree *stack[VICI_MAX_DEPTH + 1];
	struct ctree *list = NULL;	/* open list, if any */
	char name[VICI_MAX_NAME + 1];
	int depth = 0;
	size_t elements = 0;
	struct rd r;

	*over_limit = false;

	struct ctree *root = ctree_new(NULL, "vici", 0);
	if (!root) {
		set_err(err, errlen, "out of memory", 0);
		return NULL;
	}
	stack[0] = root;
	rd_init(&r, p, len);
	while (rd_left(&r) > 0) {
		size_t off = r.off;
		if (++elements > max_elements) {
			*over_limit = true;
			if (err && errlen)
				snprintf(err, errlen, "message has more than %zu elements",
					 max_elements);
			goto fail;
		}
		uint8_t type = rd_u8(&r);
		if (list && type != VICI_LIST_ITEM && type != VICI_LIST_END) {
			set_err(err, errlen, "element inside a list", off);
			goto fail;
		}
		switch (type) {
		case VICI_SECTION_START:
			if (!read_name(&r, name)) {
				set_err(err, errlen, "bad section name", off);
				goto fail;
			}
			if (depth >= VICI_MAX_DEPTH) {
				set_err(err, errlen, "sections nested too deeply", off);
				goto fail;
			}
			stack[depth + 1] = ctree_add_section(stack[depth], name, "vici", 0);
			if (!stack[depth + 1])
				goto oom;
			depth++;
			break;
		case VICI_SECTION_END:
			if (depth == 0) {
				set_err(err, errlen, "section end without start", off);
				goto fail;
			}
			depth--;
			break;
		case VICI_KEY_VALUE: {
			if (!read_name(&r, name)) {
				set_err(err, errlen, "bad key name", off);
				goto fail;
			}
			char *v = read_value(&r);
			if (!v) {
				set_err(err, errlen, r.err ? "truncated value" : "out of memory", off);
				goto fail;
			}
			struct ctree *kv = ctree_add_value(stack[depth], name, v, "vici", 0);
			wipe_str_free(v);	/* may be a secret */
			if (!kv)
				goto oom;
			break;
		}
		case VICI_LIST_START:
			if (!read_name(&r, name)) {
				set_err(err, errlen, "bad list name", off);
				goto fail;
			}
			list = ctree_add_list(stack[depth], name, "vici", 0);
			if (!list)
				goto oom;
			break;
		case VICI_LIST_ITEM: {
			if (!list) {
				set_err(err, errlen, "list item outside a list", off);
				goto fail;
			}
			char *v = read_value(&r);
			if (!v) {
				set_err(err, errlen, r.err ? "truncated item" : "out of memory", off);
				goto fail;
			}
			size_t before = list->n_list;
			ctree_list_append(list, v);
			wipe_str_free(v);
			if (list->n_list != before + 1)
				goto oom;
			break;
		}
		case VICI_LIST_END:
			if (!list) {
				set_err(err, errlen, "list end without start", off);
				goto fail;
			}
			list = NULL;
			break;
		default:
			set_err(err, errlen, "unknown element type", off);
			goto fail;
		}
	}
	if (r.err) {
		set_err(err, errlen, "truncated element", r.len);
		goto fail;
	}
	if (depth != 0 || list) {
		set_err(err, errlen, depth ? "unterminated section" : "unterminated list", len);
		goto fail;
	}
	return root;
oom:
	set_err(err, errlen, "out of memory", r.off);
fail:
	ctree_free(root);
	return NULL;
}

int vici_packet_decode(const uint8_t *p, size_t len, struct vici_packet *pkt,
		       char *err, size_t errlen)
{
	struct rd r;
	rd_init(&r, p, len);
	memset(pkt, 0, sizeof(*pkt));
	pkt->type = rd_u8(&r);
	if (r.err) {
		set_err(err, errlen, "empty packet", 0);
		return -1;
	}
	if (pkt->type > VICI_EVENT) {
		set_err(err, errlen, "unknown packet type", 0);
		return -1;
	}
	if (vici_type_is_named(pkt->type) && !read_name(&r, pkt->name)) {
		set_err(err, errlen, "bad packet name", 1);
		return -1;
	}
	pkt->msg = p + r.off;
	pkt->msg_len = rd_left(&r);
	if (!vici_type_has_message(pkt->type) && pkt->msg_len) {
		set_err(err, errlen, "trailing data after packet", r.off);
		return -1;
	}
	return 0;
}

/* ---- printing ---- */

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

struct raw_style {
	int delta;
	const char *term, *sep, *assign;
};

/* As libvici's dump: elements are separated by sep except right after an opening
 * brace or bracket; in pretty mode each element is on its own indented line. */
static void print_raw_children(FILE *out, const struct ctree *t, const struct raw_style *st,
			       int indent)
{
	bool first = true;
	for (const struct ctree *c = t->child; c; c = c->next, first = false) {
		const char *sep = first ? "" : st->sep;
		if (c->is_list) {
			fprintf(out, "%*s%s%s%s[%s", indent, "", sep, c->name, st->assign, st->term);
			for (size_t i = 0; i < c->n_list; i++)
				fprintf(out, "%*s%s%s%s", indent + st->delta, "",
					i ? st->sep : "", c->list[i], st->term);
			fprintf(out, "%*s]%s", indent, "", st->term);
		} else if (c->value) {
			fprintf(out, "%*s%s%s%s%s%s", indent, "", sep, c->name, st->assign,
				printable(c->value) ? c->value : "<binary>", st->term);
		} else {
			fprintf(out, "%*s%s%s {%s", indent, "", sep, c->name, st->term);
			print_raw_children(out, c, st, indent + st->delta);
			fprintf(out, "%*s}%s", indent, "", st->term);
		}
	}
}

void vici_print_raw(FILE *out, const char *label, const struct ctree *t, bool pretty)
{
	struct raw_style st = pretty ? (struct raw_style){ 2, "\n", "", " = " }
				     : (struct raw_style){ 0, "", " ", "=" };
	fprintf(out, "%s {%s", label, st.term);
	if (t)
		print_raw_children(out, t, &st, st.delta);
	fprintf(out, "}\n");
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", out);
		else if (ch == '\t')
			fputs("\\t", out);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void json_object(FILE *out, const struct ctree *t, bool pretty, int indent)
{
	const char *nl = pretty ? "\n" : "";
	int step = pretty ? 2 : 0;
	fputc('{', out);
	fputs(t->child ? nl : "", out);
	for (const struct ctree *c = t->child; c; c = c->next) {
		fprintf(out, "%*s", indent + step, "");
		json_string(out, c->name);
		fputs(pretty ? ": " : ":", out);
		if (c->is_list) {
			fputc('[', out);
			for (size_t i = 0; i < c->n_list; i++) {
				if (i)
					fputs(pretty ? ", " : ",", out);
				json_string(out, c->list[i]);
			}
			fputc(']', out);
		} else if (c->value) {
			json_string(out, c->value);
		} else {
			json_object(out, c, pretty, indent + step);
		}
		fputs(c->next ? "," : "", out);
		fputs(nl, out);
	}
	fprintf(out, "%*s}", t->child ? indent : 0, "");
}

void vici_write_json(FILE *out, const struct ctree *t, bool pretty)
{
	json_object(out, t, pretty, 0);
}

void vici_print_json(FILE *out, const struct ctree *t, bool pretty)
{
	vici_write_json(out, t, pretty);
	fputc('\n', out);
}

const char *vici_find_str(const struct ctree *t, const char *path, const char *def)
{
	const char *p = path;
	while (t && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		const struct ctree *c;
		for (c = t->child; c; c = c->next)
			if (c->name && strlen(c->name) == n && memcmp(c->name, p, n) == 0)
				break;
		t = c;
		p = dot ? dot + 1 : p + n;
	}
	return t && t->value ? t->value : def;
}
