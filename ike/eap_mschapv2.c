/* EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02 over RFC 2759): Challenge,
 * Response, then Success (with the authenticator response "S=", which proves to the
 * peer that the server knows the password too) or Failure. The MSK is strongSwan's
 * (ike/mschapv2.h). Both ends are here; eap_server.c and eap_peer.c sequence them. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "ike/eap.h"
#include "ike/ike_crypto.h"
#include "ike/mschapv2.h"
#include "lib/wipe.h"

#define RESPONSE_VALUE_LEN 49	/* Peer-Challenge 16, Reserved 8, NT-Response 24, Flags 1 */
#define SERVER_NAME "tsunagi"

/* OpCode | MS-CHAPv2-ID | MS-Length, the rest appended by the caller; fix_len() then
 * sets MS-Length (the length from OpCode to the end). */
static size_t ms_header(struct buf *td, uint8_t op, uint8_t ms_id)
{
	size_t off = td->len;
	buf_put_u8(td, op);
	buf_put_u8(td, ms_id);
	buf_put_u16(td, 0);
	return off;
}

static void fix_len(struct buf *td, size_t off)
{
	buf_set_u16(td, off + 2, (uint16_t)(td->len - off));
}

void mschapv2_server_challenge(struct mschapv2_server *m, uint8_t ms_id, struct buf *td)
{
	m->ms_id = ms_id;
	crypto_random(m->auth_chal, sizeof(m->auth_chal));
	size_t off = ms_header(td, MSCHAPV2_CHALLENGE, ms_id);
	buf_put_u8(td, MSCHAPV2_CHAL_LEN);
	buf_put(td, m->auth_chal, MSCHAPV2_CHAL_LEN);
	buf_put(td, SERVER_NAME, strlen(SERVER_NAME));
	fix_len(td, off);
}

static void failure_request(struct mschapv2_server *m, struct buf *td)
{
	/* E=691 (authentication failure), R=0 (no retry): one attempt per IKE SA. */
	char msg[128], hex[2 * MSCHAPV2_CHAL_LEN + 1];
	uint8_t chal[MSCHAPV2_CHAL_LEN];
	crypto_random(chal, sizeof(chal));
	for (int i = 0; i < MSCHAPV2_CHAL_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02X", chal[i]);
	int n = snprintf(msg, sizeof(msg), "E=691 R=0 C=%s V=3 M=Authentication failed", hex);
	size_t off = ms_header(td, MSCHAPV2_FAILURE, m->ms_id);
	buf_put(td, msg, (size_t)n);
	fix_len(td, off);
}

int mschapv2_server_response(struct mschapv2_server *m, const struct mschapv2_pkt *r,
			     const struct secret_cfg *sec, struct buf *td, const char **why)
{
	uint8_t pw_hash[16], expect[MSCHAPV2_NT_RESP_LEN];
	char auth_resp[MSCHAPV2_AUTH_RESP_LEN + 1];
	if (r->op != MSCHAPV2_RESPONSE || r->ms_id != m->ms_id) {
		*why = "EAP-MSCHAPv2: not the Response to our Challenge";
		return -1;
	}
	if (r->value_len != RESPONSE_VALUE_LEN) {
		*why = "EAP-MSCHAPv2: Response value is not 49 bytes";
		return -1;
	}
	const uint8_t *peer_chal = r->value, *nt_resp = r->value + 24;
	const uint8_t *user = r->text;
	size_t user_len = r->text_len;
	mschapv2_strip_domain(&user, &user_len);
	int ok = sec && mschapv2_nt_hash(sec->secret, sec->secret_len, pw_hash) == 0 &&
		 mschapv2_nt_response(m->auth_chal, peer_chal, user, user_len, pw_hash, expect) == 0 &&
		 sodium_memcmp(expect, nt_resp, sizeof(expect)) == 0;
	if (!ok) {
		failure_request(m, td);
	} else {
		mschapv2_auth_response(pw_hash, nt_resp, peer_chal, m->auth_chal, user, user_len,
				       auth_resp);
		mschapv2_msk(pw_hash, nt_resp, m->msk);
		m->have_msk = true;
		size_t off = ms_header(td, MSCHAPV2_SUCCESS, m->ms_id);
		buf_put(td, auth_resp, MSCHAPV2_AUTH_RESP_LEN);
		buf_put(td, " M=Welcome", 10);
		fix_len(td, off);
	}
	wipe(pw_hash, sizeof(pw_hash));
	wipe(expect, sizeof(expect));
	return ok;
}

int mschapv2_peer_challenge(struct mschapv2_peer *m, const struct mschapv2_pkt *c,
			    const uint8_t *user, size_t user_len, const uint8_t *secret,
			    size_t secret_len, struct buf *td, const char **why)
{
	if (c->op != MSCHAPV2_CHALLENGE || c->value_len != MSCHAPV2_CHAL_LEN) {
		*why = "EAP-MSCHAPv2: Challenge value is not 16 bytes";
		return -1;
	}
	const uint8_t *bare = user;
	size_t bare_len = user_len;
	mschapv2_strip_domain(&bare, &bare_len);
	memcpy(m->auth_chal, c->value, MSCHAPV2_CHAL_LEN);
	crypto_random(m->peer_chal, sizeof(m->peer_chal));
	if (mschapv2_nt_hash(secret, secret_len, m->pw_hash) < 0) {
		*why = "EAP-MSCHAPv2: the password is not UTF-8 or longer than 256 characters";
		return -1;
	}
	if (mschapv2_nt_response(m->auth_chal, m->peer_chal, bare, bare_len, m->pw_hash,
				 m->nt_resp) < 0) {
		*why = "EAP-MSCHAPv2: DES failed";
		return -1;
	}
	size_t off = ms_header(td, MSCHAPV2_RESPONSE, c->ms_id);
	buf_put_u8(td, RESPONSE_VALUE_LEN);
	buf_put(td, m->peer_chal, 16);
	buf_put_zero(td, 8);
	buf_put(td, m->nt_resp, 24);
	buf_put_u8(td, 0);
	buf_put(td, user, user_len);
	fix_len(td, off);
	m->responded = true;
	return 0;
}

int mschapv2_peer_success(struct mschapv2_peer *m, const struct mschapv2_pkt *s,
			  const uint8_t *user, size_t user_len, struct buf *td, const char **why)
{
	char expect[MSCHAPV2_AUTH_RESP_LEN + 1];
	if (!m->responded || s->op != MSCHAPV2_SUCCESS) {
		*why = "EAP-MSCHAPv2: Success before our Response";
		return -1;
	}
	mschapv2_strip_domain(&user, &user_len);
	mschapv2_auth_response(m->pw_hash, m->nt_resp, m->peer_chal, m->auth_chal, user, user_len,
			       expect);
	/* The message is "S=<40 hex> M=..."; hex digits in either case. */
	if (s->text_len < MSCHAPV2_AUTH_RESP_LEN ||
	    strncasecmp((const char *)s->text, expect, MSCHAPV2_AUTH_RESP_LEN) != 0) {
		*why = "EAP-MSCHAPv2: the server's authenticator response is wrong: it does not "
		       "know our password";
		return 0;
	}
	mschapv2_msk(m->pw_hash, m->nt_resp, m->msk);
	m->verified = true;
	buf_put_u8(td, MSCHAPV2_SUCCESS);
	return 1;
}
