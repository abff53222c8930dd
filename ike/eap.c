/* The EAP packet codec (RFC 3748 4) and the EAP-MSCHAPv2 framing
 * (draft-kamath-pppext-eap-mschapv2-02 2). Every length is checked before it is read;
 * a packet must fill the IKE payload exactly. */
#include "ike/eap.h"

#include <stdio.h>
#include <string.h>

int eap_parse(const uint8_t *p, size_t len, struct eap_pkt *e, const char **err)
{
	memset(e, 0, sizeof(*e));
	if (len < 4) {
		*err = "EAP packet shorter than its header";
		return -1;
	}
	e->code = p[0];
	e->id = p[1];
	if (get_u16(p + 2) != len) {
		*err = "EAP length does not match the payload";
		return -1;
	}
	switch (e->code) {
	case EAP_SUCCESS:
	case EAP_FAILURE:
		if (len != 4) {
			*err = "EAP Success/Failure with data";
			return -1;
		}
		return 0;
	case EAP_REQUEST:
	case EAP_RESPONSE:
		if (len < 5) {
			*err = "EAP request/response without a type";
			return -1;
		}
		e->type = p[4];
		e->data = p + 5;
		e->len = len - 5;
		if (e->type == 254 || e->type == 255) {
			*err = "expanded/experimental EAP types are not supported";
			return -1;
		}
		return 0;
	default:
		*err = "unknown EAP code";
		return -1;
	}
}

int mschapv2_parse(const struct eap_pkt *e, struct mschapv2_pkt *m, const char **err)
{
	memset(m, 0, sizeof(*m));
	if (e->len < 1) {
		*err = "EAP-MSCHAPv2 without an OpCode";
		return -1;
	}
	m->op = e->data[0];
	if (e->len == 1) {
		/* The peer's acknowledgement of Success or Failure. */
		if (e->code != EAP_RESPONSE ||
		    (m->op != MSCHAPV2_SUCCESS && m->op != MSCHAPV2_FAILURE)) {
			*err = "EAP-MSCHAPv2 packet truncated after its OpCode";
			return -1;
		}
		return 0;
	}
	if (e->len < 4 || get_u16(e->data + 2) != e->len) {
		*err = "EAP-MSCHAPv2 MS-Length does not match the packet";
		return -1;
	}
	m->ms_id = e->data[1];
	const uint8_t *p = e->data + 4;
	size_t left = e->len - 4;
	if (m->op == MSCHAPV2_CHALLENGE || m->op == MSCHAPV2_RESPONSE) {
		if (left < 1 || p[0] > left - 1) {
			*err = "EAP-MSCHAPv2 Value-Size exceeds the packet";
			return -1;
		}
		m->value_len = p[0];
		m->value = p + 1;
		p += 1 + m->value_len;
		left -= 1 + m->value_len;
	} else if (m->op != MSCHAPV2_SUCCESS && m->op != MSCHAPV2_FAILURE) {
		*err = "unknown or unsupported EAP-MSCHAPv2 OpCode";
		return -1;
	}
	m->text = p;
	m->text_len = left;
	return 0;
}

void eap_put(struct buf *b, uint8_t code, uint8_t id, uint8_t type, const void *data, size_t len)
{
	bool typed = code == EAP_REQUEST || code == EAP_RESPONSE;
	buf_put_u8(b, code);
	buf_put_u8(b, id);
	buf_put_u16(b, (uint16_t)(4 + (typed ? 1 + len : 0)));
	if (typed) {
		buf_put_u8(b, type);
		buf_put(b, data, len);
	}
}

const char *eap_type_name(uint8_t type)
{
	switch (type) {
	case EAP_IDENTITY: return "EAP-Identity";
	case EAP_NOTIFICATION: return "EAP-Notification";
	case EAP_NAK: return "EAP-Nak";
	case EAP_MD5: return "EAP-MD5";
	case EAP_MSCHAPV2: return "EAP-MSCHAPv2";
	default: return "EAP-unknown";
	}
}

void eap_describe(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	static const char *const codes[] = { "?", "REQ", "RES", "SUCC", "FAIL" };
	static const struct { uint8_t t; const char *n; } types[] = {
		{ EAP_IDENTITY, "ID" }, { EAP_NOTIFICATION, "NTF" }, { EAP_NAK, "NAK" },
		{ EAP_MD5, "MD5" }, { EAP_MSCHAPV2, "MSCHAPV2" },
	};
	struct eap_pkt e;
	const char *err;
	if (eap_parse(p, len, &e, &err) < 0) {
		snprintf(out, outlen, "EAP");
		return;
	}
	if (e.code == EAP_SUCCESS || e.code == EAP_FAILURE) {
		snprintf(out, outlen, "EAP/%s", codes[e.code]);
		return;
	}
	const char *tn = NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].t == e.type)
			tn = types[i].n;
	if (tn)
		snprintf(out, outlen, "EAP/%s/%s", codes[e.code], tn);
	else
		snprintf(out, outlen, "EAP/%s/%u", codes[e.code], e.type);
}

const char *eap_printable(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < outlen; i++)
		out[n++] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' ? (char)p[i] : '?';
	if (outlen)
		out[n] = 0;
	return out;
}

const struct secret_cfg *eap_find_secret(const struct secret_cfg *list, const uint8_t *id,
					 size_t id_len)
{
	const struct secret_cfg *any = NULL;
	for (const struct secret_cfg *s = list; s; s = s->next) {
		if (s->type != SECRET_EAP)
			continue;
		if (s->n_ids == 0 && !any)
			any = s;
		for (size_t i = 0; i < s->n_ids; i++)
			if (strlen(s->ids[i]) == id_len && memcmp(s->ids[i], id, id_len) == 0)
				return s;
	}
	return any;
}
