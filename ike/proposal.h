/* Proposals: strongSwan's keyword syntax ("aes256gcm16-prfsha256-x25519",
 * "aes128-sha256-modp2048", "chacha20poly1305", "default"), the IKEv2 transform IDs
 * (IANA), and selection of one transform per type from two sides' lists. */
#ifndef TSUNAGI_IKE_PROPOSAL_H
#define TSUNAGI_IKE_PROPOSAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum proto_id { PROTO_IKE = 1, PROTO_AH = 2, PROTO_ESP = 3 };
enum xform_type { XF_ENCR = 1, XF_PRF = 2, XF_INTEG = 3, XF_DH = 4, XF_ESN = 5 };

/* IANA "IKEv2 Parameters" values. */
enum encr_id {
	ENCR_3DES = 3, ENCR_NULL = 11, ENCR_AES_CBC = 12, ENCR_AES_CTR = 13,
	ENCR_AES_GCM_8 = 18, ENCR_AES_GCM_12 = 19, ENCR_AES_GCM_16 = 20,
	ENCR_CHACHA20_POLY1305 = 28,
};
enum prf_id {
	PRF_HMAC_MD5 = 1, PRF_HMAC_SHA1 = 2, PRF_HMAC_SHA2_256 = 5, PRF_HMAC_SHA2_384 = 6,
	PRF_HMAC_SHA2_512 = 7,
};
enum integ_id {
	INTEG_NONE = 0, INTEG_HMAC_MD5_96 = 1, INTEG_HMAC_SHA1_96 = 2,
	INTEG_HMAC_SHA2_256_128 = 12, INTEG_HMAC_SHA2_384_192 = 13,
	INTEG_HMAC_SHA2_512_256 = 14,
};
enum dh_id {
	DH_NONE = 0, DH_MODP1024 = 2, DH_MODP1536 = 5, DH_MODP2048 = 14, DH_MODP3072 = 15,
	DH_MODP4096 = 16, DH_MODP6144 = 17, DH_MODP8192 = 18, DH_ECP256 = 19,
	DH_ECP384 = 20, DH_ECP521 = 21, DH_CURVE25519 = 31,
};
enum esn_id { ESN_NO = 0, ESN_YES = 1 };

struct xform {
	uint8_t type;		/* enum xform_type */
	uint16_t id;
	uint16_t keylen;	/* bits, for ENCR with a Key Length attribute; else 0 */
};

#define PROPOSAL_MAX_XFORMS 48

/* One proposal: possibly several transforms of each type (any one may be chosen). */
struct proposal {
	uint8_t num;		/* proposal number on the wire, 1-based */
	uint8_t protocol;	/* enum proto_id */
	uint8_t spi_len;
	uint8_t spi[8];
	size_t n_xf;
	struct xform xf[PROPOSAL_MAX_XFORMS];
};

/* Parses one keyword string into one proposal (or, for "default", the built-in
 * list, which for IKE is two proposals: non-AEAD and AEAD, as strongSwan has).
 * For ESP, a DH keyword means PFS; "esn"/"noesn" select ESN (default: noesn).
 * Returns the number of proposals written (<= max), or -1 with a message in err
 * naming the bad keyword ("unknown algorithm 'aes257' in proposal 'aes257-sha256'").
 * A proposal without integrity (non-AEAD cipher and no integ) is refused
 * ("transform without integrity: 'aes128-modp2048'"), as are mixed AEAD/non-AEAD
 * ciphers, and IKE proposals without a DH group or PRF (the PRF is derived from the
 * integrity algorithms when not given, as strongSwan does; AEAD needs prfXXX).
 * "default" for IKE: [classic, AEAD]; for ESP: [AES-GCM-16, classic], both noesn.
 * A comma-separated list is also accepted. Proposals are numbered 1.. in `out`;
 * spi_len is 0 for IKE and 4 for ESP (the caller fills in the SPI). */
int proposal_parse(const char *text, enum proto_id proto, struct proposal *out, size_t max,
		   char *err, size_t errlen);

/* Selects: the first of `mine` (our preference order) for which every transform type
 * present has a common transform in one of `theirs`. The result has exactly one
 * transform per type and carries theirs' num and spi. Returns true on success.
 * strict_dh: for ESP, our proposals with DH (PFS) do not accept theirs without, and
 * vice versa. */
bool proposal_select(const struct proposal *mine, size_t n_mine,
		     const struct proposal *theirs, size_t n_theirs,
		     struct proposal *chosen);

/* A chosen proposal as an SA keeps it: a copy with room for its n_xf transforms only
 * (a struct proposal has room for PROPOSAL_MAX_XFORMS, 300 bytes), replacing *dst
 * unless that is &proposal_none. -1: out of memory (*dst kept). The copy must not be
 * copied whole: read it through the pointer. */
extern const struct proposal proposal_none;	/* no transforms: nothing chosen yet */
int proposal_keep(const struct proposal **dst, const struct proposal *src);
void proposal_release(const struct proposal **p);	/* back to &proposal_none */
/* A whole struct proposal from a kept one (to change and send it). */
void proposal_copy(struct proposal *dst, const struct proposal *kept);
/* Accessors for a chosen proposal: the transform of a type, or NULL. */
const struct xform *proposal_get(const struct proposal *p, enum xform_type type);
bool proposal_has_dh(const struct proposal *p);
/* The first DH group a proposal list offers (what to send in KE), or DH_NONE. */
uint16_t proposal_first_dh(const struct proposal *p, size_t n);
/* Does any proposal of the list allow this DH group? */
bool proposal_allows_dh(const struct proposal *p, size_t n, uint16_t group);
/* Moves `group` to the front of the DH transforms of every proposal that has it
 * (after INVALID_KE_PAYLOAD, so the next KE and selection use it first). */
void proposal_promote_dh(struct proposal *p, size_t n, uint16_t group);
/* Removes all DH transforms (and NONE) from one proposal: the child SA created with
 * IKE_AUTH is selected without them, as strongSwan's PROPOSAL_SKIP_KE. */
void proposal_remove_dh(struct proposal *p);

/* "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519" as strongSwan logs it. */
const char *proposal_fmt(const struct proposal *p, char *out, size_t outlen);
/* Several, separated by ", ". */
const char *proposal_list_fmt(const struct proposal *p, size_t n, char *out, size_t outlen);
/* Names as strongSwan's VICI list-sas uses: "AES_GCM_16", "HMAC_SHA2_256_128",
 * "PRF_HMAC_SHA2_256", "CURVE_25519", "MODP_2048". */
const char *encr_name(uint16_t id);
const char *integ_name(uint16_t id);
const char *prf_name(uint16_t id);
const char *dh_name(uint16_t id);

bool encr_is_aead(uint16_t id);
#endif
