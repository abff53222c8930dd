/* IKEv2 messages (RFC 7296 section 3): the header, the payload chain, and the payloads
 * tsunagi reads and writes. Parsing fills a flat view whose pointers point into the
 * caller's buffer; every length is checked against its container before it is read.
 * Building appends payloads to a struct buf and back-patches next-payload fields. */
#ifndef TSUNAGI_IKEV2_MSG_H
#define TSUNAGI_IKEV2_MSG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/proposal.h"
#include "lib/buf.h"
#include "lib/selector.h"

enum ikev2_exchange {
	IKE_SA_INIT = 34, IKE_AUTH = 35, CREATE_CHILD_SA = 36, INFORMATIONAL = 37,
};

enum ikev2_payload {
	PL_NONE = 0, PL_SA = 33, PL_KE = 34, PL_IDI = 35, PL_IDR = 36, PL_CERT = 37,
	PL_CERTREQ = 38, PL_AUTH = 39, PL_NONCE = 40, PL_NOTIFY = 41, PL_DELETE = 42,
	PL_VENDOR = 43, PL_TSI = 44, PL_TSR = 45, PL_SK = 46, PL_CP = 47, PL_EAP = 48,
	PL_SKF = 53,
};

#define IKEV2_FLAG_INITIATOR 0x08
#define IKEV2_FLAG_VERSION 0x10
#define IKEV2_FLAG_RESPONSE 0x20
#define IKEV2_HDR_LEN 28
#define IKEV2_VERSION 0x20
#define IKEV2_MAX_MSG 65535

enum ikev2_notify_type {
	/* errors */
	N_UNSUPPORTED_CRITICAL_PAYLOAD = 1, N_INVALID_IKE_SPI = 4, N_INVALID_MAJOR_VERSION = 5,
	N_INVALID_SYNTAX = 7, N_INVALID_MESSAGE_ID = 9, N_INVALID_SPI = 11,
	N_NO_PROPOSAL_CHOSEN = 14, N_INVALID_KE_PAYLOAD = 17, N_AUTHENTICATION_FAILED = 24,
	N_SINGLE_PAIR_REQUIRED = 34, N_NO_ADDITIONAL_SAS = 35, N_INTERNAL_ADDRESS_FAILURE = 36,
	N_FAILED_CP_REQUIRED = 37, N_TS_UNACCEPTABLE = 38, N_INVALID_SELECTORS = 39,
	N_TEMPORARY_FAILURE = 43, N_CHILD_SA_NOT_FOUND = 44,
	/* status */
	N_INITIAL_CONTACT = 16384, N_SET_WINDOW_SIZE = 16385, N_ADDITIONAL_TS_POSSIBLE = 16386,
	N_IPCOMP_SUPPORTED = 16387, N_NAT_DETECTION_SOURCE_IP = 16388,
	N_NAT_DETECTION_DESTINATION_IP = 16389, N_COOKIE = 16390, N_USE_TRANSPORT_MODE = 16391,
	N_HTTP_CERT_LOOKUP_SUPPORTED = 16392, N_REKEY_SA = 16393,
	N_ESP_TFC_PADDING_NOT_SUPPORTED = 16394, N_NON_FIRST_FRAGMENTS_ALSO = 16395,
	N_MOBIKE_SUPPORTED = 16396, N_MULTIPLE_AUTH_SUPPORTED = 16404,
	N_IKEV2_FRAGMENTATION_SUPPORTED = 16430, N_SIGNATURE_HASH_ALGORITHMS = 16431,
};

enum ikev2_id_type {
	ID_IPV4_ADDR = 1, ID_FQDN = 2, ID_RFC822_ADDR = 3, ID_IPV6_ADDR = 5,
	ID_DER_ASN1_DN = 9, ID_KEY_ID = 11,
};

enum ikev2_auth_method { AUTH_METHOD_PSK = 2 };

#define TS_IPV4_ADDR_RANGE 7
#define TS_IPV6_ADDR_RANGE 8

struct ikev2_hdr {
	uint8_t spi_i[8], spi_r[8];
	uint8_t next_payload;
	uint8_t version;
	uint8_t exchange;
	uint8_t flags;
	uint32_t msgid;
	uint32_t length;
};

struct ikev2_notify {
	uint8_t proto;
	uint8_t spi_len;
	uint8_t spi[8];
	uint16_t type;
	const uint8_t *data;
	size_t len;
};

struct ikev2_delete {
	uint8_t proto;
	uint8_t spi_len;
	uint16_t n_spi;
	const uint8_t *spis;	/* n_spi * spi_len bytes */
};

struct ikev2_id {
	uint8_t type;
	const uint8_t *data;	/* identification data */
	size_t len;
	const uint8_t *body;	/* type | reserved | data: what AUTH signs */
	size_t body_len;
};

#define IKEV2_MAX_PROPOSALS 16
#define IKEV2_MAX_NOTIFY 24
#define IKEV2_MAX_DELETE 32
#define IKEV2_MAX_TS 16

/* The payloads of one message (the clear ones, then those inside SK, merged). */
struct ikev2_payloads {
	bool has_sa;
	struct proposal props[IKEV2_MAX_PROPOSALS];
	size_t n_props;
	bool has_ke;
	uint16_t ke_group;
	const uint8_t *ke;
	size_t ke_len;
	const uint8_t *nonce;
	size_t nonce_len;
	bool has_idi, has_idr;
	struct ikev2_id idi, idr;
	bool has_auth;
	uint8_t auth_method;
	const uint8_t *auth;
	size_t auth_len;
	struct ikev2_notify notify[IKEV2_MAX_NOTIFY];
	size_t n_notify;
	struct ikev2_delete del[IKEV2_MAX_DELETE];
	size_t n_del;
	bool has_tsi, has_tsr;
	struct selector tsi[IKEV2_MAX_TS], tsr[IKEV2_MAX_TS];
	size_t n_tsi, n_tsr;
	bool has_sk;
	size_t sk_off;		/* offset of the SK payload header in the message */
	uint8_t sk_first;	/* type of the first payload inside SK */
	bool has_cp, has_eap, has_certreq, has_skf;
	const uint8_t *cp;	/* the first CP payload's body (ike/ikev2_cp.h parses it) */
	size_t cp_len;
	uint8_t n_cp;		/* CP payloads in the message (only one is allowed) */
	size_t n_vendor;
};

/* Parses the fixed header; checks version, length against len. 0 or -1 (err set). */
int ikev2_parse_header(const uint8_t *msg, size_t len, struct ikev2_hdr *h, const char **err);
/* Parses a payload chain starting with type `first` in data[0..len). For the outer chain
 * of a message, pass data = msg + 28 and base_off = 28 so sk_off is a message offset.
 * Unknown non-critical payloads are skipped; an unknown critical one fails with
 * *unsupported set to its type. */
int ikev2_parse_payloads(uint8_t first, const uint8_t *data, size_t len, size_t base_off,
			 struct ikev2_payloads *pl, uint8_t *unsupported, const char **err);
const struct ikev2_notify *ikev2_find_notify(const struct ikev2_payloads *pl, uint16_t type);
/* The first error notify (type < 16384), or NULL. */
const struct ikev2_notify *ikev2_error_notify(const struct ikev2_payloads *pl);

/* Builder: a chain of payloads in a buffer. */
struct ikev2_builder {
	struct buf b;
	size_t np_off;		/* where the previous payload's next-payload byte is */
	uint8_t first;		/* the type of the first payload */
};

void ikb_init(struct ikev2_builder *k);
void ikb_free(struct ikev2_builder *k);
/* Starts a payload of `type`, returns its offset (pass it to ikb_end). */
size_t ikb_begin(struct ikev2_builder *k, uint8_t type, bool critical);
void ikb_end(struct ikev2_builder *k, size_t off);
void ikb_sa(struct ikev2_builder *k, const struct proposal *props, size_t n);
void ikb_ke(struct ikev2_builder *k, uint16_t group, const uint8_t *data, size_t len);
void ikb_nonce(struct ikev2_builder *k, const uint8_t *n, size_t len);
void ikb_id(struct ikev2_builder *k, uint8_t pl_type, uint8_t id_type, const uint8_t *data,
	    size_t len);
void ikb_auth(struct ikev2_builder *k, uint8_t method, const uint8_t *data, size_t len);
void ikb_notify(struct ikev2_builder *k, uint8_t proto, const uint8_t *spi, uint8_t spi_len,
		uint16_t type, const uint8_t *data, size_t len);
void ikb_delete(struct ikev2_builder *k, uint8_t proto, const uint8_t *spis, uint8_t spi_len,
		uint16_t n);
void ikb_ts(struct ikev2_builder *k, uint8_t pl_type, const struct selector *ts, size_t n);
void ikb_vendor(struct ikev2_builder *k, const uint8_t *vid, size_t len);

/* Writes the 28-byte header into out (appending). */
void ikev2_put_header(struct buf *out, const struct ikev2_hdr *h);

const char *ikev2_exchange_name(uint8_t x);
const char *ikev2_notify_name(uint16_t type);
const char *ikev2_payload_name(uint8_t type);
/* "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]" as strongSwan logs it. */
void ikev2_describe(const struct ikev2_hdr *h, const struct ikev2_payloads *pl, char *out,
		    size_t outlen);
#endif
