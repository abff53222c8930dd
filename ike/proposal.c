/* Proposals in strongSwan's keyword syntax, the defaults of strongSwan 5.9.8, and
 * selection of one transform per type. The checks and their order follow strongSwan's
 * proposal.c (check_proposal, select_algo), restricted to the algorithms we implement. */
#include "ike/proposal.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KEYWORD_MAX 64
#define PROPOSAL_TEXT_MAX 512

/* --- Keywords (a subset of strongSwan's proposal_keywords_static.txt) ------------- */

struct keyword {
	const char *name;
	uint8_t type;
	uint16_t id;
	uint16_t keylen;
};

static const struct keyword keywords[] = {
	{ "null", XF_ENCR, ENCR_NULL, 0 },
	{ "3des", XF_ENCR, ENCR_3DES, 0 },
	{ "aes", XF_ENCR, ENCR_AES_CBC, 128 },
	{ "aes128", XF_ENCR, ENCR_AES_CBC, 128 },
	{ "aes192", XF_ENCR, ENCR_AES_CBC, 192 },
	{ "aes256", XF_ENCR, ENCR_AES_CBC, 256 },
	{ "aes128gcm8", XF_ENCR, ENCR_AES_GCM_8, 128 },
	{ "aes128gcm64", XF_ENCR, ENCR_AES_GCM_8, 128 },
	{ "aes128gcm12", XF_ENCR, ENCR_AES_GCM_12, 128 },
	{ "aes128gcm96", XF_ENCR, ENCR_AES_GCM_12, 128 },
	{ "aes128gcm16", XF_ENCR, ENCR_AES_GCM_16, 128 },
	{ "aes128gcm128", XF_ENCR, ENCR_AES_GCM_16, 128 },
	{ "aes128gcm", XF_ENCR, ENCR_AES_GCM_16, 128 },
	{ "aes192gcm8", XF_ENCR, ENCR_AES_GCM_8, 192 },
	{ "aes192gcm64", XF_ENCR, ENCR_AES_GCM_8, 192 },
	{ "aes192gcm12", XF_ENCR, ENCR_AES_GCM_12, 192 },
	{ "aes192gcm96", XF_ENCR, ENCR_AES_GCM_12, 192 },
	{ "aes192gcm16", XF_ENCR, ENCR_AES_GCM_16, 192 },
	{ "aes192gcm128", XF_ENCR, ENCR_AES_GCM_16, 192 },
	{ "aes192gcm", XF_ENCR, ENCR_AES_GCM_16, 192 },
	{ "aes256gcm8", XF_ENCR, ENCR_AES_GCM_8, 256 },
	{ "aes256gcm64", XF_ENCR, ENCR_AES_GCM_8, 256 },
	{ "aes256gcm12", XF_ENCR, ENCR_AES_GCM_12, 256 },
	{ "aes256gcm96", XF_ENCR, ENCR_AES_GCM_12, 256 },
	{ "aes256gcm16", XF_ENCR, ENCR_AES_GCM_16, 256 },
	{ "aes256gcm128", XF_ENCR, ENCR_AES_GCM_16, 256 },
	{ "aes256gcm", XF_ENCR, ENCR_AES_GCM_16, 256 },
	{ "chacha20poly1305", XF_ENCR, ENCR_CHACHA20_POLY1305, 0 },
	{ "sha", XF_INTEG, INTEG_HMAC_SHA1_96, 0 },
	{ "sha1", XF_INTEG, INTEG_HMAC_SHA1_96, 0 },
	{ "sha256", XF_INTEG, INTEG_HMAC_SHA2_256_128, 0 },
	{ "sha2_256", XF_INTEG, INTEG_HMAC_SHA2_256_128, 0 },
	{ "sha384", XF_INTEG, INTEG_HMAC_SHA2_384_192, 0 },
	{ "sha2_384", XF_INTEG, INTEG_HMAC_SHA2_384_192, 0 },
	{ "sha512", XF_INTEG, INTEG_HMAC_SHA2_512_256, 0 },
	{ "sha2_512", XF_INTEG, INTEG_HMAC_SHA2_512_256, 0 },
	{ "md5", XF_INTEG, INTEG_HMAC_MD5_96, 0 },
	{ "prfsha1", XF_PRF, PRF_HMAC_SHA1, 0 },
	{ "prfsha256", XF_PRF, PRF_HMAC_SHA2_256, 0 },
	{ "prfsha384", XF_PRF, PRF_HMAC_SHA2_384, 0 },
	{ "prfsha512", XF_PRF, PRF_HMAC_SHA2_512, 0 },
	{ "prfmd5", XF_PRF, PRF_HMAC_MD5, 0 },
	{ "none", XF_DH, DH_NONE, 0 },
	{ "modpnone", XF_DH, DH_NONE, 0 },
	{ "modp1024", XF_DH, DH_MODP1024, 0 },
	{ "modp1536", XF_DH, DH_MODP1536, 0 },
	{ "modp2048", XF_DH, DH_MODP2048, 0 },
	{ "modp3072", XF_DH, DH_MODP3072, 0 },
	{ "modp4096", XF_DH, DH_MODP4096, 0 },
	{ "modp6144", XF_DH, DH_MODP6144, 0 },
	{ "modp8192", XF_DH, DH_MODP8192, 0 },
	{ "ecp256", XF_DH, DH_ECP256, 0 },
	{ "ecp384", XF_DH, DH_ECP384, 0 },
	{ "ecp521", XF_DH, DH_ECP521, 0 },
	{ "curve25519", XF_DH, DH_CURVE25519, 0 },
	{ "x25519", XF_DH, DH_CURVE25519, 0 },
	{ "noesn", XF_ESN, ESN_NO, 0 },
	{ "esn", XF_ESN, ESN_YES, 0 },
};

static const struct keyword *keyword_find(const char *name)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcasecmp(keywords[i].name, name) == 0)
			return &keywords[i];
	return NULL;
}

/* --- Names ---------------------------------------------------------------------- */

struct name { uint16_t id; const char *name; };

static const struct name encr_names[] = {
	{ ENCR_3DES, "3DES_CBC" }, { ENCR_NULL, "NULL" }, { ENCR_AES_CBC, "AES_CBC" },
	{ ENCR_AES_CTR, "AES_CTR" }, { ENCR_AES_GCM_8, "AES_GCM_8" },
	{ ENCR_AES_GCM_12, "AES_GCM_12" }, { ENCR_AES_GCM_16, "AES_GCM_16" },
	{ ENCR_CHACHA20_POLY1305, "CHACHA20_POLY1305" },
};
static const struct name integ_names[] = {
	{ INTEG_NONE, "NONE" }, { INTEG_HMAC_MD5_96, "HMAC_MD5_96" },
	{ INTEG_HMAC_SHA1_96, "HMAC_SHA1_96" },
	{ INTEG_HMAC_SHA2_256_128, "HMAC_SHA2_256_128" },
	{ INTEG_HMAC_SHA2_384_192, "HMAC_SHA2_384_192" },
	{ INTEG_HMAC_SHA2_512_256, "HMAC_SHA2_512_256" },
};
static const struct name prf_names[] = {
	{ PRF_HMAC_MD5, "PRF_HMAC_MD5" }, { PRF_HMAC_SHA1, "PRF_HMAC_SHA1" },
	{ PRF_HMAC_SHA2_256, "PRF_HMAC_SHA2_256" }, { PRF_HMAC_SHA2_384, "PRF_HMAC_SHA2_384" },
	{ PRF_HMAC_SHA2_512, "PRF_HMAC_SHA2_512" },
};
static const struct name dh_names[] = {
	{ DH_NONE, "MODP_NONE" }, { DH_MODP1024, "MODP_1024" }, { DH_MODP1536, "MODP_1536" },
	{ DH_MODP2048, "MODP_2048" }, { DH_MODP3072, "MODP_3072" },
	{ DH_MODP4096, "MODP_4096" }, { DH_MODP6144, "MODP_6144" },
	{ DH_MODP8192, "MODP_8192" }, { DH_ECP256, "ECP_256" }, { DH_ECP384, "ECP_384" },
	{ DH_ECP521, "ECP_521" }, { DH_CURVE25519, "CURVE_25519" },
};
static const struct name esn_names[] = {
	{ ESN_NO, "NO_EXT_SEQ" }, { ESN_YES, "EXT_SEQ" },
};

#define NAMES(t) (t), sizeof(t) / sizeof((t)[0])

static const char *name_lookup(const struct name *t, size_t n, uint16_t id)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].id == id)
			return t[i].name;
	return NULL;
}

static const char *name_or_unknown(const char *s)
{
	return s ? s : "UNKNOWN";
}

const char *encr_name(uint16_t id) { return name_or_unknown(name_lookup(NAMES(encr_names), id)); }
const char *integ_name(uint16_t id) { return name_or_unknown(name_lookup(NAMES(integ_names), id)); }
const char *prf_name(uint16_t id) { return name_or_unknown(name_lookup(NAMES(prf_names), id)); }
const char *dh_name(uint16_t id) { return name_or_unknown(name_lookup(NAMES(dh_names), id)); }

static const char *xform_name(uint8_t type, uint16_t id)
{
	switch (type) {
	case XF_ENCR: return name_lookup(NAMES(encr_names), id);
	case XF_PRF: return name_lookup(NAMES(prf_names), id);
	case XF_INTEG: return name_lookup(NAMES(integ_names), id);
	case XF_DH: return name_lookup(NAMES(dh_names), id);
	case XF_ESN: return name_lookup(NAMES(esn_names), id);
	}
	return NULL;
}

bool encr_is_aead(uint16_t id)
{
	return id == ENCR_AES_GCM_8 || id == ENCR_AES_GCM_12 || id == ENCR_AES_GCM_16 ||
	       id == ENCR_CHACHA20_POLY1305;
}

/* --- Building proposals ------------------------------------------------------------ */

/* strongSwan prints (and we send) the types in this order: ENCR, INTEG, PRF, DH, ESN. */
static int type_rank(uint8_t type)
{
	switch (type) {
	case XF_ENCR: return 0;
	case XF_INTEG: return 1;
	case XF_PRF: return 2;
	case XF_DH: return 3;
	case XF_ESN: return 4;
	}
	return 5;
}

static const uint8_t type_order[] = { XF_ENCR, XF_INTEG, XF_PRF, XF_DH, XF_ESN };

static void proposal_init(struct proposal *p, enum proto_id proto, uint8_t num)
{
	memset(p, 0, sizeof(*p));
	p->num = num;
	p->protocol = (uint8_t)proto;
	p->spi_len = proto == PROTO_IKE ? 0 : 4;
}

static bool has_xform(const struct proposal *p, uint8_t type, uint16_t id, uint16_t keylen)
{
	for (size_t i = 0; i < p->n_xf; i++)
		if (p->xf[i].type == type && p->xf[i].id == id && p->xf[i].keylen == keylen)
			return true;
	return false;
}

/* Appends unless already present (a repeated keyword adds nothing). */
static bool add_xform(struct proposal *p, uint8_t type, uint16_t id, uint16_t keylen)
{
	if (has_xform(p, type, id, keylen))
		return true;
	if (p->n_xf >= PROPOSAL_MAX_XFORMS)
		return false;
	p->xf[p->n_xf++] = (struct xform){ .type = type, .id = id, .keylen = keylen };
	return true;
}

static void remove_type(struct proposal *p, uint8_t type)
{
	size_t j = 0;
	for (size_t i = 0; i < p->n_xf; i++)
		if (p->xf[i].type != type)
			p->xf[j++] = p->xf[i];
	p->n_xf = j;
}

static size_t count_type(const struct proposal *p, uint8_t type)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_xf; i++)
		n += p->xf[i].type == type;
	return n;
}

/* Stable sort by type rank, keeping the preference order inside each type. */
static void sort_by_type(struct proposal *p)
{
	for (size_t i = 1; i < p->n_xf; i++) {
		struct xform x = p->xf[i];
		size_t j = i;
		while (j > 0 && type_rank(p->xf[j - 1].type) > type_rank(x.type)) {
			p->xf[j] = p->xf[j - 1];
			j--;
		}
		p->xf[j] = x;
	}
}

/* Integrity algorithm -> PRF on the same hash, for IKE proposals without an explicit
 * PRF (strongSwan's integ_prf_map). */
static uint16_t prf_for_integ(uint16_t integ)
{
	switch (integ) {
	case INTEG_HMAC_SHA1_96: return PRF_HMAC_SHA1;
	case INTEG_HMAC_SHA2_256_128: return PRF_HMAC_SHA2_256;
	case INTEG_HMAC_SHA2_384_192: return PRF_HMAC_SHA2_384;
	case INTEG_HMAC_SHA2_512_256: return PRF_HMAC_SHA2_512;
	case INTEG_HMAC_MD5_96: return PRF_HMAC_MD5;
	}
	return 0;
}

/* --- strongSwan 5.9.8 defaults (restricted to what we implement) -------------------
 * IKE: proposal_create_default() then proposal_create_default_aead(); each type in
 * two or three rounds (>=128-bit strength first). 3DES, which strongSwan adds in its
 * second round, is left out: legacy algorithms only when configured. DH groups are
 * sorted by number within a round. ESP: AEAD first, then the classic one, noesn. */

static const uint16_t default_prfs[] = {
	PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512, PRF_HMAC_SHA1,
};
static const uint16_t default_integs[] = {
	INTEG_HMAC_SHA2_256_128, INTEG_HMAC_SHA2_384_192, INTEG_HMAC_SHA2_512_256,
	INTEG_HMAC_SHA1_96,
};
static const uint16_t default_dhs[] = {
	DH_ECP256, DH_ECP384, DH_ECP521, DH_CURVE25519,
	DH_MODP3072, DH_MODP4096, DH_MODP6144, DH_MODP8192, DH_MODP2048,
};

#define ADD_ALL(p, type, arr) \
	for (size_t i_ = 0; i_ < sizeof(arr) / sizeof((arr)[0]); i_++) \
		add_xform((p), (type), (arr)[i_], 0)

static void add_aes_sizes(struct proposal *p, uint16_t encr)
{
	add_xform(p, XF_ENCR, encr, 128);
	add_xform(p, XF_ENCR, encr, 192);
	add_xform(p, XF_ENCR, encr, 256);
}

static void default_ike_classic(struct proposal *p)
{
	add_aes_sizes(p, ENCR_AES_CBC);
	ADD_ALL(p, XF_INTEG, default_integs);
	ADD_ALL(p, XF_PRF, default_prfs);
	ADD_ALL(p, XF_DH, default_dhs);
}

static void default_ike_aead(struct proposal *p)
{
	add_aes_sizes(p, ENCR_AES_GCM_16);
	add_xform(p, XF_ENCR, ENCR_CHACHA20_POLY1305, 0);
	add_aes_sizes(p, ENCR_AES_GCM_12);
	add_aes_sizes(p, ENCR_AES_GCM_8);
	ADD_ALL(p, XF_PRF, default_prfs);
	ADD_ALL(p, XF_DH, default_dhs);
}

static void default_esp_aead(struct proposal *p)
{
	add_aes_sizes(p, ENCR_AES_GCM_16);
	add_xform(p, XF_ESN, ESN_NO, 0);
}

static void default_esp_classic(struct proposal *p)
{
	add_aes_sizes(p, ENCR_AES_CBC);
	ADD_ALL(p, XF_INTEG, default_integs);
	add_xform(p, XF_ESN, ESN_NO, 0);
}

static int parse_default(enum proto_id proto, struct proposal *out, size_t max,
			 char *err, size_t errlen)
{
	if (max < 2) {
		snprintf(err, errlen, "no room for the default proposals");
		return -1;
	}
	proposal_init(&out[0], proto, 1);
	proposal_init(&out[1], proto, 2);
	if (proto == PROTO_IKE) {
		default_ike_classic(&out[0]);
		default_ike_aead(&out[1]);
	} else {
		default_esp_aead(&out[0]);
		default_esp_classic(&out[1]);
	}
	return 2;
}

/* --- Parsing one keyword string ------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The consistency checks of strongSwan's check_proposal(), except that a classic
 * cipher without integrity is refused for ESP too, and is reported before a missing
 * PRF (which would follow from it). */
static int check_proposal(struct proposal *p, const char *text, char *err, size_t errlen)
{
	size_t n_aead = 0, n_enc = count_type(p, XF_ENCR);

	for (size_t i = 0; i < p->n_xf; i++)
		if (p->xf[i].type == XF_ENCR && encr_is_aead(p->xf[i].id))
			n_aead++;
	if (n_enc == 0)
		return fail(err, errlen, "no encryption algorithm in proposal '%s'", text);
	if (n_aead && n_aead != n_enc)
		return fail(err, errlen, "AEAD and non-AEAD ciphers mixed in proposal '%s'",
			    text);
	if (!n_aead && !count_type(p, XF_INTEG))
		return fail(err, errlen, "transform without integrity: '%s'", text);

	if (p->protocol == PROTO_IKE) {
		if (!count_type(p, XF_PRF)) {
			for (size_t i = 0; i < p->n_xf; i++) {
				uint16_t prf = p->xf[i].type == XF_INTEG ?
					prf_for_integ(p->xf[i].id) : 0;
				if (prf)
					add_xform(p, XF_PRF, prf, 0);
			}
		}
		if (!count_type(p, XF_PRF))
			return fail(err, errlen, "no PRF in IKE proposal '%s' (add e.g. "
				    "prfsha256)", text);
		/* "none" means nothing for IKE; a DH group is mandatory */
		for (size_t i = 0; i < p->n_xf; i++)
			if (p->xf[i].type == XF_DH && p->xf[i].id == DH_NONE) {
				memmove(&p->xf[i], &p->xf[i + 1],
					(p->n_xf - i - 1) * sizeof(p->xf[0]));
				p->n_xf--;
				i--;
			}
		if (!count_type(p, XF_DH))
			return fail(err, errlen, "no DH group in IKE proposal '%s'", text);
		remove_type(p, XF_ESN);
	} else {
		remove_type(p, XF_PRF);
		if (!count_type(p, XF_ESN))
			add_xform(p, XF_ESN, ESN_NO, 0);
	}
	/* with AEAD ciphers only, integrity algorithms MUST NOT be proposed */
	if (n_aead)
		remove_type(p, XF_INTEG);
	sort_by_type(p);
	return 0;
}

static int parse_one(const char *text, enum proto_id proto, struct proposal *p, uint8_t num,
		     char *err, size_t errlen)
{
	proposal_init(p, proto, num);

	const char *start = text;
	for (;;) {
		const char *dash = strchr(start, '-');
		size_t len = dash ? (size_t)(dash - start) : strlen(start);
		char word[KEYWORD_MAX];
		if (len >= sizeof(word))
			return fail(err, errlen, "unknown algorithm '%.*s' in proposal '%s'",
				    (int)len, start, text);
		memcpy(word, start, len);
		word[len] = '\0';
		const struct keyword *k = keyword_find(word);
		if (!k)
			return fail(err, errlen, "unknown algorithm '%s' in proposal '%s'",
				    word, text);
		if (!add_xform(p, k->type, k->id, k->keylen))
			return fail(err, errlen, "too many algorithms in proposal '%s'", text);
		if (!dash)
			break;
		start = dash + 1;
	}
	return check_proposal(p, text, err, errlen);
}

/* Copies s without leading/trailing blanks into out. */
static void trim(const char *s, size_t len, char *out, size_t outlen)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
		len--;
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

/* Accepts one keyword string; a comma-separated list also works (each part becomes
 * one proposal, numbered from 1), as swanctl.conf's "proposals" value would be. */
int proposal_parse(const char *text, enum proto_id proto, struct proposal *out, size_t max,
		   char *err, size_t errlen)
{
	size_t n = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!text)
		return fail(err, errlen, "no proposal");
	if (proto != PROTO_IKE && proto != PROTO_ESP)
		return fail(err, errlen, "only IKE and ESP proposals are supported");

	const char *start = text;
	for (;;) {
		const char *comma = strchr(start, ',');
		size_t len = comma ? (size_t)(comma - start) : strlen(start);
		char part[PROPOSAL_TEXT_MAX];
		if (len >= sizeof(part))
			return fail(err, errlen, "proposal too long: '%.40s...'", start);
		trim(start, len, part, sizeof(part));
		if (part[0] == '\0')
			return fail(err, errlen, "empty proposal in '%s'", text);
		if (strcasecmp(part, "default") == 0) {
			int r = parse_default(proto, out + n, max - n, err, errlen);
			if (r < 0)
				return -1;
			out[n].num = (uint8_t)(n + 1);
			out[n + 1].num = (uint8_t)(n + 2);
			n += (size_t)r;
		} else {
			if (n >= max)
				return fail(err, errlen, "too many proposals in '%s'", text);
			if (parse_one(part, proto, &out[n], (uint8_t)(n + 1), err, errlen) < 0)
				return -1;
			n++;
		}
		if (!comma)
			break;
		start = comma + 1;
	}
	return (int)n;
}

/* --- Selection -------------------------------------------------------------------- */

/* Picks the first transform of `type` in `mine` that `theirs` also has (same key
 * length). DH is optional for ESP/AH as in strongSwan: if one side has no DH
 * transform, the other must offer NONE. Returns false if nothing fits; *found is
 * cleared when the type is absent from both (or NONE was agreed). */
static bool select_type(const struct proposal *mine, const struct proposal *theirs,
			uint8_t type, struct xform *pick, bool *found)
{
	bool optional = type == XF_DH && mine->protocol != PROTO_IKE;
	size_t n_mine = count_type(mine, type), n_theirs = count_type(theirs, type);

	*found = false;
	if (!n_mine && !n_theirs)
		return true;
	if (optional && (!n_mine || !n_theirs)) {
		const struct proposal *other = n_mine ? mine : theirs;
		return has_xform(other, XF_DH, DH_NONE, 0);
	}
	for (size_t i = 0; i < mine->n_xf; i++) {
		const struct xform *m = &mine->xf[i];
		if (m->type != type || !has_xform(theirs, type, m->id, m->keylen))
			continue;
		/* 0 means NONE for every type but ESN */
		if (m->id == 0 && type != XF_ESN)
			return true;
		*pick = *m;
		*found = true;
		return true;
	}
	return false;
}

static bool select_one(const struct proposal *mine, const struct proposal *theirs,
		       struct proposal *chosen)
{
	if (mine->protocol != theirs->protocol)
		return false;
	proposal_init(chosen, (enum proto_id)theirs->protocol, theirs->num);
	chosen->spi_len = theirs->spi_len;
	memcpy(chosen->spi, theirs->spi, sizeof(chosen->spi));

	bool aead = false;
	for (size_t t = 0; t < sizeof(type_order); t++) {
		uint8_t type = type_order[t];
		struct xform pick;
		bool found;

		if (type == XF_INTEG && aead)
			continue;
		if (type == XF_PRF && mine->protocol != PROTO_IKE)
			continue;
		if (!select_type(mine, theirs, type, &pick, &found))
			return false;
		if (!found)
			continue;
		chosen->xf[chosen->n_xf++] = pick;
		if (type == XF_ENCR && encr_is_aead(pick.id))
			aead = true;
	}
	/* a usable result has a cipher, and integrity unless it is an AEAD */
	const struct xform *enc = proposal_get(chosen, XF_ENCR);
	if (!enc || (!aead && !proposal_get(chosen, XF_INTEG)))
		return false;
	if (mine->protocol == PROTO_IKE && (!proposal_get(chosen, XF_PRF) ||
					    !proposal_get(chosen, XF_DH)))
		return false;
	return true;
}

bool proposal_select(const struct proposal *mine, size_t n_mine,
		     const struct proposal *theirs, size_t n_theirs,
		     struct proposal *chosen)
{
	for (size_t i = 0; i < n_mine; i++)
		for (size_t j = 0; j < n_theirs; j++)
			if (select_one(&mine[i], &theirs[j], chosen))
				return true;
	return false;
}

/* --- Accessors --------------------------------------------------------------------- */

const struct proposal proposal_none;

int proposal_keep(const struct proposal **dst, const struct proposal *src)
{
	size_t n = src->n_xf <= PROPOSAL_MAX_XFORMS ? src->n_xf : PROPOSAL_MAX_XFORMS;
	size_t len = offsetof(struct proposal, xf) + n * sizeof(struct xform);
	struct proposal *c = malloc(len);
	if (!c)
		return -1;
	memcpy(c, src, len);
	c->n_xf = n;
	proposal_release(dst);
	*dst = c;
	return 0;
}

void proposal_copy(struct proposal *dst, const struct proposal *kept)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, kept, offsetof(struct proposal, xf) + kept->n_xf * sizeof(struct xform));
}

void proposal_release(const struct proposal **p)
{
	if (*p && *p != &proposal_none)
		free((void *)*p);
	*p = &proposal_none;
}

const struct xform *proposal_get(const struct proposal *p, enum xform_type type)
{
	for (size_t i = 0; i < p->n_xf; i++)
		if (p->xf[i].type == type)
			return &p->xf[i];
	return NULL;
}

bool proposal_has_dh(const struct proposal *p)
{
	for (size_t i = 0; i < p->n_xf; i++)
		if (p->xf[i].type == XF_DH && p->xf[i].id != DH_NONE)
			return true;
	return false;
}

uint16_t proposal_first_dh(const struct proposal *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < p[i].n_xf; j++)
			if (p[i].xf[j].type == XF_DH && p[i].xf[j].id != DH_NONE)
				return p[i].xf[j].id;
	return DH_NONE;
}

bool proposal_allows_dh(const struct proposal *p, size_t n, uint16_t group)
{
	for (size_t i = 0; i < n; i++)
		if (has_xform(&p[i], XF_DH, group, 0))
			return true;
	return false;
}

void proposal_promote_dh(struct proposal *p, size_t n, uint16_t group)
{
	for (size_t i = 0; i < n; i++) {
		struct proposal *q = &p[i];
		size_t at = q->n_xf, first = q->n_xf;
		for (size_t j = 0; j < q->n_xf; j++) {
			if (q->xf[j].type != XF_DH)
				continue;
			if (first == q->n_xf)
				first = j;
			if (q->xf[j].id == group) {
				at = j;
				break;
			}
		}
		if (at == q->n_xf || at == first)
			continue;
		struct xform x = q->xf[at];
		memmove(&q->xf[first + 1], &q->xf[first], (at - first) * sizeof(x));
		q->xf[first] = x;
	}
}

void proposal_remove_dh(struct proposal *p)
{
	remove_type(p, XF_DH);
}

/* --- Formatting ------------------------------------------------------------------- */

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case PROTO_IKE: return "IKE";
	case PROTO_AH: return "AH";
	case PROTO_ESP: return "ESP";
	}
	return "PROTO_NONE";
}

/* snprintf that keeps a running offset and never overruns. */
static void append(char *out, size_t outlen, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *out, size_t outlen, size_t *off, const char *fmt, ...)
{
	if (*off >= outlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(out + *off, outlen - *off, fmt, ap);
	va_end(ap);
	if (r > 0)
		*off = *off + (size_t)r < outlen ? *off + (size_t)r : outlen - 1;
}

static void fmt_into(const struct proposal *p, char *out, size_t outlen, size_t *off)
{
	bool first = true;

	append(out, outlen, off, "%s:", proto_name(p->protocol));
	for (size_t t = 0; t < sizeof(type_order); t++) {
		for (size_t i = 0; i < p->n_xf; i++) {
			const struct xform *x = &p->xf[i];
			if (x->type != type_order[t])
				continue;
			const char *name = xform_name(x->type, x->id);
			append(out, outlen, off, "%s", first ? "" : "/");
			if (name)
				append(out, outlen, off, "%s", name);
			else
				append(out, outlen, off, "UNKNOWN_%u_%u", x->type, x->id);
			if (x->keylen)
				append(out, outlen, off, "_%u", x->keylen);
			first = false;
		}
	}
}

const char *proposal_fmt(const struct proposal *p, char *out, size_t outlen)
{
	size_t off = 0;

	if (!outlen)
		return out;
	out[0] = '\0';
	fmt_into(p, out, outlen, &off);
	return out;
}

const char *proposal_list_fmt(const struct proposal *p, size_t n, char *out, size_t outlen)
{
	size_t off = 0;

	if (!outlen)
		return out;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			append(out, outlen, &off, ", ");
		fmt_into(&p[i], out, outlen, &off);
	}
	return out;
}
