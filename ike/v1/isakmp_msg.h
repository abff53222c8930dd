/* ISAKMP messages (RFC 2408 section 3, with the IPsec DOI of RFC 2407 and NAT-T of RFC
 * 3947): the header, the payload chain, and the payloads IKEv1 reads and writes.
 * Parsing fills a flat view whose pointers point into the caller's buffer; every length
 * is checked against its container before it is read (header, declared length, minimum
 * size, then copy). IKEv1 has no critical bit: an unknown payload type fails the whole
 * message (RFC 2408 5.1, INVALID-PAYLOAD-TYPE). Building appends payloads to a struct
 * buf and back-patches the next-payload fields, as ike/ikev2_msg.c does. */
#ifndef TSUNAGI_ISAKMP_MSG_H
#define TSUNAGI_ISAKMP_MSG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/selector.h"

enum isakmp_exchange {
	ISAKMP_XCHG_MM = 2,	/* Identity Protection: Main Mode */
	ISAKMP_XCHG_AM = 4,	/* Aggressive Mode */
	ISAKMP_XCHG_INFO = 5,
	ISAKMP_XCHG_TRANSACTION = 6,	/* XAuth and Mode Config (isakmp_attr.h) */
	ISAKMP_XCHG_QM = 32,	/* Quick Mode (RFC 2409) */
};

enum isakmp_payload {
	ISAKMP_PL_NONE = 0, ISAKMP_PL_SA = 1, ISAKMP_PL_P = 2, ISAKMP_PL_T = 3,
	ISAKMP_PL_KE = 4, ISAKMP_PL_ID = 5, ISAKMP_PL_CERT = 6, ISAKMP_PL_CR = 7,
	ISAKMP_PL_HASH = 8, ISAKMP_PL_SIG = 9, ISAKMP_PL_NONCE = 10, ISAKMP_PL_N = 11,
	ISAKMP_PL_D = 12, ISAKMP_PL_VID = 13, ISAKMP_PL_ATTR = 14,
	ISAKMP_PL_NAT_D = 20, ISAKMP_PL_NAT_OA = 21,			/* RFC 3947 */
	ISAKMP_PL_NAT_D_DRAFT = 130, ISAKMP_PL_NAT_OA_DRAFT = 131,	/* drafts 02/03 */
};

#define ISAKMP_FLAG_E 0x01	/* the body after the header is encrypted */
#define ISAKMP_FLAG_C 0x02	/* commit */
#define ISAKMP_FLAG_A 0x04	/* authentication only */
#define ISAKMP_HDR_LEN 28
#define ISAKMP_VERSION 0x10	/* major 1, minor 0 */
#define ISAKMP_MAX_MSG 65535
#define ISAKMP_DOI_IPSEC 1
#define ISAKMP_SIT_IDENTITY_ONLY 1

/* Protocol IDs of the IPsec DOI (RFC 2407 4.4.1). */
enum isakmp_proto { ISAKMP_PROTO_ISAKMP = 1, ISAKMP_PROTO_AH = 2, ISAKMP_PROTO_ESP = 3,
		    ISAKMP_PROTO_IPCOMP = 4 };

/* Identification types (RFC 2407 4.6.2.1). */
enum isakmp_id_type {
	ISAKMP_ID_IPV4_ADDR = 1, ISAKMP_ID_FQDN = 2, ISAKMP_ID_USER_FQDN = 3,
	ISAKMP_ID_IPV4_ADDR_SUBNET = 4, ISAKMP_ID_IPV6_ADDR = 5,
	ISAKMP_ID_IPV6_ADDR_SUBNET = 6, ISAKMP_ID_IPV4_ADDR_RANGE = 7,
	ISAKMP_ID_IPV6_ADDR_RANGE = 8, ISAKMP_ID_DER_ASN1_DN = 9, ISAKMP_ID_DER_ASN1_GN = 10,
	ISAKMP_ID_KEY_ID = 11,
};

/* Notify message types (RFC 2408 3.14.1, RFC 2407 4.6.3, RFC 3706). */
enum isakmp_notify_type {
	ISAKMP_N_INVALID_PAYLOAD_TYPE = 1, ISAKMP_N_DOI_NOT_SUPPORTED = 2,
	ISAKMP_N_SITUATION_NOT_SUPPORTED = 3, ISAKMP_N_INVALID_COOKIE = 4,
	ISAKMP_N_INVALID_MAJOR_VERSION = 5, ISAKMP_N_INVALID_EXCHANGE_TYPE = 7,
	ISAKMP_N_INVALID_FLAGS = 8, ISAKMP_N_INVALID_MESSAGE_ID = 9,
	ISAKMP_N_INVALID_PROTOCOL_ID = 10, ISAKMP_N_INVALID_SPI = 11,
	ISAKMP_N_INVALID_TRANSFORM_ID = 12, ISAKMP_N_ATTRIBUTES_NOT_SUPPORTED = 13,
	ISAKMP_N_NO_PROPOSAL_CHOSEN = 14, ISAKMP_N_BAD_PROPOSAL_SYNTAX = 15,
	ISAKMP_N_PAYLOAD_MALFORMED = 16, ISAKMP_N_INVALID_KEY_INFORMATION = 17,
	ISAKMP_N_INVALID_ID_INFORMATION = 18, ISAKMP_N_INVALID_HASH_INFORMATION = 23,
	ISAKMP_N_AUTHENTICATION_FAILED = 24, ISAKMP_N_INVALID_SIGNATURE = 25,
	ISAKMP_N_RESPONDER_LIFETIME = 24576, ISAKMP_N_REPLAY_STATUS = 24577,
	ISAKMP_N_INITIAL_CONTACT = 24578,
	ISAKMP_N_R_U_THERE = 36136, ISAKMP_N_R_U_THERE_ACK = 36137,
};

struct isakmp_hdr {
	uint8_t cky_i[8], cky_r[8];
	uint8_t next_payload;
	uint8_t version;
	uint8_t exchange;
	uint8_t flags;
	uint32_t msgid;		/* the 4 bytes as a big-endian number */
	uint32_t length;
};

/* A data attribute (RFC 2408 3.3): basic (TV, AF bit set, 16-bit value) or variable
 * (TLV). For a basic one, data points at the 2 value bytes and len is 2. */
struct isakmp_attr {
	uint16_t type;		/* without the AF bit */
	bool basic;
	uint16_t value;		/* basic attributes only */
	const uint8_t *data;
	size_t len;
};

/* A transform payload's body: its number, its ID and its raw attributes (validated). */
struct isakmp_transform {
	uint8_t num;
	uint8_t id;
	const uint8_t *attrs;
	size_t attrs_len;
};

#define ISAKMP_MAX_SPI 16	/* an ISAKMP SA's SPI is the cookie pair */

/* A proposal payload: the transforms stay raw (a strongSwan Phase 1 proposal may carry
 * a hundred of them); walk them with isakmp_next_transform(). */
struct isakmp_proposal {
	uint8_t num;
	uint8_t protocol;	/* enum isakmp_proto */
	uint8_t spi_len;
	uint8_t spi[ISAKMP_MAX_SPI];
	uint8_t n_xf;
	const uint8_t *xforms;	/* n_xf transform payloads, generic headers included */
	size_t xforms_len;
};

struct isakmp_id {
	uint8_t type;		/* enum isakmp_id_type */
	uint8_t proto;
	uint16_t port;
	const uint8_t *data;	/* identification data */
	size_t len;
	const uint8_t *body;	/* type | proto | port | data: what HASH_I/R and QM hash */
	size_t body_len;
};

struct isakmp_notify {
	uint32_t doi;
	uint8_t proto;
	uint8_t spi_len;
	uint8_t spi[ISAKMP_MAX_SPI];
	uint16_t type;
	const uint8_t *data;
	size_t len;
};

struct isakmp_delete {
	uint32_t doi;
	uint8_t proto;
	uint8_t spi_len;
	uint16_t n_spi;
	const uint8_t *spis;	/* n_spi * spi_len bytes */
};

struct isakmp_blob {
	const uint8_t *p;
	size_t len;
};

/* A CERT payload (RFC 2408 3.9): its encoding and the certificate. */
struct isakmp_cert {
	uint8_t encoding;	/* 4: X.509 signature, as in IKEv2 */
	const uint8_t *data;
	size_t len;
};
#define ISAKMP_MAX_CERTS 4	/* CERT payloads kept per message; more are counted */

struct isakmp_natoa {
	uint8_t type;		/* ISAKMP_ID_IPV4_ADDR or ISAKMP_ID_IPV6_ADDR */
	struct addr addr;	/* port 0 */
};

#define ISAKMP_MAX_PAYLOADS 48
#define ISAKMP_MAX_PROPOSALS 16
#define ISAKMP_MAX_ATTRS 32	/* per transform */
#define ISAKMP_MAX_NOTIFY 16
#define ISAKMP_MAX_DELETE 8
#define ISAKMP_MAX_VENDOR 24
#define ISAKMP_MAX_NATD 8
#define ISAKMP_MIN_NONCE 8	/* RFC 2409 5: 8..256 bytes */
#define ISAKMP_MAX_NONCE 256

/* The payloads of one message (or of one decrypted body). */
struct isakmp_payloads {
	size_t n_payloads;
	bool has_sa;
	uint32_t sa_doi, sa_situation;
	struct isakmp_blob sa_body;	/* SAi_b: the SA payload without its generic header */
	struct isakmp_proposal props[ISAKMP_MAX_PROPOSALS];
	size_t n_props;
	struct isakmp_blob ke;
	struct isakmp_blob nonce;
	struct isakmp_id id[2];	/* Main/Aggressive: IDii or IDir; Quick Mode: IDci, IDcr */
	size_t n_id;
	bool has_hash;
	struct isakmp_blob hash;
	size_t hash_index;	/* position of HASH in the chain (0 = first) */
	size_t hash_end;	/* offset just after the HASH payload in the parsed data */
	size_t chain_end;	/* offset just after the last payload (before any padding) */
	struct isakmp_blob sig;
	struct isakmp_notify notify[ISAKMP_MAX_NOTIFY];
	size_t n_notify;
	struct isakmp_delete del[ISAKMP_MAX_DELETE];
	size_t n_del;
	struct isakmp_blob vendor[ISAKMP_MAX_VENDOR];
	size_t n_vendor;
	uint8_t natd_type;	/* ISAKMP_PL_NAT_D or _DRAFT, as the peer sent them */
	struct isakmp_blob natd[ISAKMP_MAX_NATD];
	size_t n_natd;
	struct isakmp_natoa natoa[2];	/* NAT-OAi, NAT-OAr */
	size_t n_natoa;
	struct isakmp_cert certs[ISAKMP_MAX_CERTS];
	size_t n_cert, n_cert_over;	/* kept, and beyond ISAKMP_MAX_CERTS */
	size_t n_cr;
	struct isakmp_blob attr;	/* Attribute payload body: isakmp_cfg_parse() */
};

/* Parses the fixed header; checks the major version and the length against len
 * (the datagram). 0 or -1 (err set). */
int isakmp_parse_header(const uint8_t *msg, size_t len, struct isakmp_hdr *h,
			const char **err);
/* Parses a payload chain starting with type `first` in data[0..len): the body after
 * the header, in the clear or decrypted. Up to max_pad bytes after the last payload
 * are accepted as padding (pass 0 for a clear message and the cipher's block size for
 * a decrypted body: RFC 2409 pads with 1..block bytes, strongSwan with 0..block-1);
 * more is trailing garbage. Unknown payload types fail. pl is cleared first.
 * 0 or -1 (err set). */
int isakmp_parse_payloads(uint8_t first, const uint8_t *data, size_t len, size_t max_pad,
			  struct isakmp_payloads *pl, const char **err);

/* Walks a validated proposal's transforms: r starts as rd_init(r, p->xforms,
 * p->xforms_len). false at the end. */
bool isakmp_next_transform(struct rd *r, struct isakmp_transform *t);
/* Walks a validated transform's attributes: r starts as rd_init(r, t->attrs,
 * t->attrs_len). false at the end (or on a malformed attribute: r->err). */
bool isakmp_next_attr(struct rd *r, struct isakmp_attr *a);
/* A numeric attribute's value: basic, or variable of 1..8 bytes; values past 32 bits
 * saturate at UINT32_MAX (a lifetime that long is "forever"). -1 if not numeric. */
int isakmp_attr_u32(const struct isakmp_attr *a, uint32_t *v);

/* An ID payload's address forms as a selector (Quick Mode IDci/IDcr): single address,
 * subnet (the mask must be contiguous) or range, with the protocol and port. -1 for
 * other types or a malformed value. */
int isakmp_id_to_selector(const struct isakmp_id *id, struct selector *sel);

const struct isakmp_notify *isakmp_find_notify(const struct isakmp_payloads *pl,
					       uint16_t type);

/* --- building ---------------------------------------------------------------------- */
struct isakmp_builder {
	struct buf b;
	size_t np_off;		/* where the previous payload's next-payload byte is */
	uint8_t first;		/* the type of the first payload */
};

void isb_init(struct isakmp_builder *k);
void isb_free(struct isakmp_builder *k);
/* Starts a payload of `type`; returns its offset (pass it to isb_end). */
size_t isb_begin(struct isakmp_builder *k, uint8_t type);
void isb_end(struct isakmp_builder *k, size_t off);

/* SA payload: isb_sa_begin, then for each proposal isb_proposal_begin, its transforms
 * (isb_transform_begin, attributes, isb_sub_end), isb_sub_end; then isb_end(k, off).
 * `last` marks the last proposal / transform (next payload 0 instead of P / T). */
size_t isb_sa_begin(struct isakmp_builder *k, uint32_t doi, uint32_t situation);
size_t isb_proposal_begin(struct buf *b, bool last, uint8_t num, uint8_t proto,
			  const uint8_t *spi, uint8_t spi_len, uint8_t n_xf);
size_t isb_transform_begin(struct buf *b, bool last, uint8_t num, uint8_t id);
void isb_sub_end(struct buf *b, size_t off);
void isb_attr_basic(struct buf *b, uint16_t type, uint16_t value);
void isb_attr_var(struct buf *b, uint16_t type, const uint8_t *data, uint16_t len);
/* Basic if it fits in 16 bits, else variable with 4 bytes. */
void isb_attr_u32(struct buf *b, uint16_t type, uint32_t value);
/* Copies a parsed proposal (its transforms as they are). */
void isb_proposal_copy(struct buf *b, bool last, const struct isakmp_proposal *p);

void isb_ke(struct isakmp_builder *k, const uint8_t *data, size_t len);
void isb_nonce(struct isakmp_builder *k, const uint8_t *n, size_t len);
void isb_id(struct isakmp_builder *k, uint8_t type, uint8_t proto, uint16_t port,
	    const uint8_t *data, size_t len);
/* HASH (or SIG) payload; returns the offset of its data in k->b so a hash over the
 * payloads that follow can be written there afterwards (data may be NULL: zeros). */
size_t isb_hash(struct isakmp_builder *k, const uint8_t *data, size_t len);
void isb_sig(struct isakmp_builder *k, const uint8_t *data, size_t len);
/* CERT or CERTREQ (pl_type ISAKMP_PL_CERT / ISAKMP_PL_CR) with its encoding byte. */
void isb_cert(struct isakmp_builder *k, uint8_t pl_type, uint8_t encoding, const uint8_t *data,
	      size_t len);
void isb_notify(struct isakmp_builder *k, uint32_t doi, uint8_t proto, const uint8_t *spi,
		uint8_t spi_len, uint16_t type, const uint8_t *data, size_t len);
void isb_delete(struct isakmp_builder *k, uint32_t doi, uint8_t proto, const uint8_t *spis,
		uint8_t spi_len, uint16_t n);
void isb_vendor(struct isakmp_builder *k, const uint8_t *vid, size_t len);
/* pl_type: ISAKMP_PL_NAT_D or ISAKMP_PL_NAT_D_DRAFT. */
void isb_natd(struct isakmp_builder *k, uint8_t pl_type, const uint8_t *hash, size_t len);
/* pl_type: ISAKMP_PL_NAT_OA or ISAKMP_PL_NAT_OA_DRAFT. */
void isb_natoa(struct isakmp_builder *k, uint8_t pl_type, const struct addr *a);

/* Writes the 28-byte header (appending); the version is always 1.0. */
void isakmp_put_header(struct buf *out, const struct isakmp_hdr *h);
/* Sets the header's length field to the buffer's length (a message starts at 0). */
void isakmp_set_length(struct buf *msg);

const char *isakmp_exchange_name(uint8_t x);
const char *isakmp_payload_name(uint8_t type);
#endif
