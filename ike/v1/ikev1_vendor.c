/* IKEv1 vendor IDs (RFC 2408 3.16): the ones that announce a capability we act on
 * (NAT-T in its RFC and draft versions, DPD) or that operators want to see (fragmentation,
 * XAuth). The others are logged as hex, at a bounded rate, and otherwise ignored. */
#include <stdio.h>
#include <string.h>

#include "ike/v1/ikev1.h"

enum vid_kind { VID_NATT, VID_DPD, VID_FRAG, VID_XAUTH };

struct vid {
	const char *name;
	enum vid_kind kind;
	uint8_t natt;		/* VID_NATT: enum ikev1_natt */
	bool prefix;		/* matches any vendor ID that starts with id (flags follow) */
	size_t len;
	const uint8_t *id;
};

/* MD5 of "RFC 3947", of "draft-ietf-ipsec-nat-t-ike-02" (also with a trailing newline,
 * as some implementations hashed it) and "-03"; RFC 3706's DPD ID; the fragmentation ID
 * (MD5 of "FRAGMENTATION", followed by 4 bytes of flags from Cisco); XAuth's 8 bytes. */
static const uint8_t id_rfc3947[] = { 0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45,
				      0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f };
static const uint8_t id_draft03[] = { 0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f,
				      0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d, 0x56 };
static const uint8_t id_draft02n[] = { 0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e,
				       0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f };
static const uint8_t id_draft02[] = { 0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8,
				      0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4, 0x48 };
static const uint8_t id_dpd[] = { 0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9,
				  0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00 };
static const uint8_t id_frag[] = { 0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85,
				   0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3 };
static const uint8_t id_xauth[] = { 0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12 };

#define VID(n, k, v, p, a) { n, k, v, p, sizeof(a), a }
/* NAT-T versions best first: what an initiator offers, in this order. */
static const struct vid vids[] = {
	VID("RFC 3947", VID_NATT, NATT_RFC3947, false, id_rfc3947),
	VID("draft-ietf-ipsec-nat-t-ike-03", VID_NATT, NATT_DRAFT_03, false, id_draft03),
	VID("draft-ietf-ipsec-nat-t-ike-02\\n", VID_NATT, NATT_DRAFT_02N, false, id_draft02n),
	VID("draft-ietf-ipsec-nat-t-ike-02", VID_NATT, NATT_DRAFT_02, false, id_draft02),
	VID("DPD", VID_DPD, 0, false, id_dpd),
	VID("FRAGMENTATION", VID_FRAG, 0, true, id_frag),
	VID("XAuth", VID_XAUTH, 0, false, id_xauth),
};
#define N_VIDS (sizeof(vids) / sizeof(vids[0]))

static const struct vid *lookup(const struct isakmp_blob *b)
{
	for (size_t i = 0; i < N_VIDS; i++)
		if ((b->len == vids[i].len || (vids[i].prefix && b->len > vids[i].len)) &&
		    memcmp(b->p, vids[i].id, vids[i].len) == 0)
			return &vids[i];
	return NULL;
}

const char *ikev1_natt_name(uint8_t natt)
{
	for (size_t i = 0; i < N_VIDS; i++)
		if (vids[i].kind == VID_NATT && vids[i].natt == natt)
			return vids[i].name;
	return "none";
}

static void log_unknown(struct ike *core, const char *tag, const struct isakmp_blob *b)
{
	char hex[2 * 32 + 4];
	size_t n = b->len < 32 ? b->len : 32;
	if (!ike_log_allowed(core, DROP_VENDOR))
		return;
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", b->p[i]);
	if (b->len > n)
		snprintf(hex + 2 * n, 4, "...");
	log_info(LOG_IKE, "%s: received unknown vendor ID %s (%zu bytes), ignored", tag, hex,
		 b->len);
}

void ikev1_vids_read(struct ike *core, const struct isakmp_payloads *pl, const char *tag,
		     struct ikev1_vids *out)
{
	char names[256] = "";
	size_t used = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < pl->n_vendor; i++) {
		const struct vid *v = lookup(&pl->vendor[i]);
		if (!v) {
			log_unknown(core, tag, &pl->vendor[i]);
			continue;
		}
		switch (v->kind) {
		case VID_NATT:
			if (v->natt > out->natt)
				out->natt = v->natt;
			break;
		case VID_DPD: out->dpd = true; break;
		case VID_FRAG: out->frag = true; break;
		case VID_XAUTH: out->xauth = true; break;
		}
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
						 used ? ", " : "", v->name);
	}
	/* MM1 comes from anyone: logged at the rate new requests are */
	if (names[0] && ike_log_allowed(core, DROP_INIT_IN))
		log_info(LOG_IKE, "%s: received vendor IDs: %s", tag, names);
}

void ikev1_vid_dpd(struct isakmp_builder *k)
{
	isb_vendor(k, id_dpd, sizeof(id_dpd));
}

void ikev1_vid_natt(struct isakmp_builder *k, uint8_t natt)
{
	for (size_t i = 0; i < N_VIDS; i++)
		if (vids[i].kind == VID_NATT && (natt == NATT_NONE || vids[i].natt == natt))
			isb_vendor(k, vids[i].id, vids[i].len);
}
