/* EAP (RFC 3748) for IKEv2 (RFC 7296 2.16): the packet codec, and the two ends of a
 * conversation as pure state machines over byte buffers. The authenticator
 * (eap_server.c) asks for the identity when it does not know it, runs EAP-MD5 or
 * EAP-MSCHAPv2 and ends with EAP-Success or EAP-Failure; the peer (eap_peer.c) answers
 * it. The IKE side (ike/ikev2_eap.c) carries the packets in EAP payloads and signs the
 * final AUTH with the MSK. Secrets are wiped when freed and never logged. */
#ifndef TSUNAGI_EAP_H
#define TSUNAGI_EAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "lib/buf.h"

enum eap_code { EAP_REQUEST = 1, EAP_RESPONSE = 2, EAP_SUCCESS = 3, EAP_FAILURE = 4 };
enum eap_type {
	EAP_IDENTITY = 1, EAP_NOTIFICATION = 2, EAP_NAK = 3, EAP_MD5 = 4, EAP_MSCHAPV2 = 26,
};
enum mschapv2_op {
	MSCHAPV2_CHALLENGE = 1, MSCHAPV2_RESPONSE = 2, MSCHAPV2_SUCCESS = 3, MSCHAPV2_FAILURE = 4,
};

#define EAP_MAX_IDENTITY 255
#define EAP_MAX_MSK 64

/* One EAP packet; data/len is the type data after the type byte (requests and
 * responses only). */
struct eap_pkt {
	uint8_t code, id, type;
	const uint8_t *data;
	size_t len;
};

/* An EAP-MSCHAPv2 packet inside the type data. value is the challenge or response
 * (Challenge, Response); text is the name (Challenge, Response) or the message
 * (Success and Failure requests). A peer's Success/Failure response is the OpCode
 * alone. */
struct mschapv2_pkt {
	uint8_t op, ms_id;
	const uint8_t *value;
	size_t value_len;
	const uint8_t *text;
	size_t text_len;
};

/* The whole of p[0..len) must be one packet whose Length says len. 0, or -1 with err. */
int eap_parse(const uint8_t *p, size_t len, struct eap_pkt *e, const char **err);
int mschapv2_parse(const struct eap_pkt *e, struct mschapv2_pkt *m, const char **err);
/* Appends a packet (type 0 for Success/Failure, which carry no type). */
void eap_put(struct buf *b, uint8_t code, uint8_t id, uint8_t type, const void *data, size_t len);
const char *eap_type_name(uint8_t type);
/* "EAP/REQ/MSCHAPV2", "EAP/SUCC": strongSwan's payload names, for message logs. */
void eap_describe(const uint8_t *p, size_t len, char *out, size_t outlen);
/* An identity from the wire made printable for a log line (other bytes as '?'). */
const char *eap_printable(const uint8_t *p, size_t len, char *out, size_t outlen);
/* The EAP secret (secrets { eap-* }) of this identity: one whose id is the identity,
 * else one with no id; NULL when none. */
const struct secret_cfg *eap_find_secret(const struct secret_cfg *list, const uint8_t *id,
					 size_t id_len);

/* What an end made of a packet. CONTINUE: `out` holds the next packet to send.
 * SUCCEEDED/FAILED: the conversation is over (out holds the server's Success or Failure
 * packet, or nothing at the peer). DROPPED: the packet did not fit the conversation
 * (malformed, out of sequence): nothing changed; the server puts its last request
 * into `out` again, the peer sends nothing. `why` says what happened, for the log. */
enum eap_status { EAP_CONTINUE, EAP_SUCCEEDED, EAP_FAILED, EAP_DROPPED };

/* Authenticator. method: EAP_MSCHAPV2, EAP_MD5, or 0 for either (MSCHAPv2 first, the
 * peer may ask for MD5 with a Nak). identity NULL: ask with EAP-Identity. */
struct eap_server;
struct eap_server *eap_server_new(uint8_t method, const uint8_t *identity, size_t id_len);
void eap_server_start(struct eap_server *s, struct buf *out);
enum eap_status eap_server_process(struct eap_server *s, const uint8_t *msg, size_t len,
				   const struct secret_cfg *secrets, struct buf *out, char *why,
				   size_t whylen);
/* Why the method refused the peer's credentials ("wrong password"), once it did (an
 * MSCHAPv2 Failure request may still wait for the peer's answer); else NULL. */
const char *eap_server_refused(const struct eap_server *s);
/* The peer's EAP identity (NUL-ended, may hold any byte: print with eap_printable). */
const uint8_t *eap_server_identity(const struct eap_server *s, size_t *len);
uint8_t eap_server_method(const struct eap_server *s);
/* The MSK after success, NULL when the method makes none (EAP-MD5). */
const uint8_t *eap_server_msk(const struct eap_server *s, size_t *len);
void eap_server_free(struct eap_server *s);

/* Peer. method: the one it agrees to (EAP_MSCHAPV2, EAP_MD5), 0 for either. The
 * secret is copied (wiped at free). */
struct eap_peer;
struct eap_peer *eap_peer_new(uint8_t method, const uint8_t *identity, size_t id_len,
			      const uint8_t *secret, size_t secret_len);
enum eap_status eap_peer_process(struct eap_peer *p, const uint8_t *msg, size_t len,
				 struct buf *out, char *why, size_t whylen);
uint8_t eap_peer_method(const struct eap_peer *p);
const uint8_t *eap_peer_msk(const struct eap_peer *p, size_t *len);
void eap_peer_free(struct eap_peer *p);

/* Methods (eap_md5.c, eap_mschapv2.c): type data in, type data out. */
void eap_md5_challenge(uint8_t chal[16], struct buf *td);
/* 1: the response is right, 0: wrong, -1: malformed (why set). */
int eap_md5_check(const uint8_t chal[16], uint8_t id, const struct secret_cfg *sec,
		  const struct eap_pkt *resp, const char **why);
/* Peer: the Response type data for a Request. 0 or -1 (malformed, why set). */
int eap_md5_respond(const struct eap_pkt *req, const uint8_t *secret, size_t secret_len,
		    struct buf *td, const char **why);

struct mschapv2_server {
	uint8_t auth_chal[16];
	uint8_t ms_id;
	uint8_t msk[EAP_MAX_MSK];
	bool have_msk;
};
void mschapv2_server_challenge(struct mschapv2_server *m, uint8_t ms_id, struct buf *td);
/* The peer's Response: 1 right (td: the Success request), 0 wrong (td: the Failure
 * request), -1 malformed (why set, td untouched). */
int mschapv2_server_response(struct mschapv2_server *m, const struct mschapv2_pkt *r,
			     const struct secret_cfg *sec, struct buf *td, const char **why);

struct mschapv2_peer {
	uint8_t peer_chal[16], auth_chal[16], nt_resp[24], pw_hash[16];
	uint8_t msk[EAP_MAX_MSK];
	bool responded, verified;
};
/* Challenge in, Response type data out. 0 or -1 (why set). */
int mschapv2_peer_challenge(struct mschapv2_peer *m, const struct mschapv2_pkt *c,
			    const uint8_t *user, size_t user_len, const uint8_t *secret,
			    size_t secret_len, struct buf *td, const char **why);
/* Success request in: 1 the server knows the password (td: Success response), 0 it
 * does not (why set), -1 malformed. */
int mschapv2_peer_success(struct mschapv2_peer *m, const struct mschapv2_pkt *s,
			  const uint8_t *user, size_t user_len, struct buf *td, const char **why);
#endif
