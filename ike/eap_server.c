/* The EAP authenticator: EAP-Identity when the identity is not known, then the method,
 * then EAP-Success or EAP-Failure. A response that does not answer our last request
 * (wrong Identifier, wrong type, malformed) is dropped and the request stands, as RFC
 * 3748 4.1 says; the caller resends it and bounds how often. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/eap.h"
#include "ike/ike_crypto.h"
#include "lib/wipe.h"

enum server_state { S_IDENTITY, S_METHOD, S_MS_SUCCESS, S_MS_FAILURE, S_DONE };

struct eap_server {
	enum server_state state;
	uint8_t allowed;		/* EAP_MSCHAPV2, EAP_MD5, 0 = either */
	uint8_t method;			/* the one running */
	uint8_t id;			/* Identifier of our last request */
	struct buf last;		/* our last request, resent when a response is dropped */
	uint8_t identity[EAP_MAX_IDENTITY + 1];
	size_t id_len;
	uint8_t md5_chal[16];
	struct mschapv2_server ms;
	const char *fail_why;		/* after an MSCHAPv2 Failure request */
};

struct eap_server *eap_server_new(uint8_t method, const uint8_t *identity, size_t id_len)
{
	struct eap_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->allowed = method;
	s->method = method ? method : EAP_MSCHAPV2;
	if (identity) {
		s->id_len = id_len > EAP_MAX_IDENTITY ? EAP_MAX_IDENTITY : id_len;
		memcpy(s->identity, identity, s->id_len);
		s->state = S_METHOD;
	}
	crypto_random(&s->id, 1);
	buf_init(&s->last);
	return s;
}

void eap_server_free(struct eap_server *s)
{
	if (!s)
		return;
	buf_free(&s->last);
	wipe(s, sizeof(*s));
	free(s);
}

static void send_request(struct eap_server *s, uint8_t type, const struct buf *td, struct buf *out)
{
	s->id++;
	buf_reset(&s->last);
	eap_put(&s->last, EAP_REQUEST, s->id, type, td->data, td->len);
	buf_put(out, s->last.data, s->last.len);
}

static void start_method(struct eap_server *s, struct buf *out)
{
	struct buf td;
	buf_init(&td);
	s->state = S_METHOD;
	if (s->method == EAP_MD5)
		eap_md5_challenge(s->md5_chal, &td);
	else
		mschapv2_server_challenge(&s->ms, (uint8_t)(s->id + 1), &td);
	send_request(s, s->method, &td, out);
	buf_free(&td);
}

void eap_server_start(struct eap_server *s, struct buf *out)
{
	if (s->state == S_IDENTITY) {
		struct buf td;
		buf_init(&td);
		send_request(s, EAP_IDENTITY, &td, out);
		buf_free(&td);
		return;
	}
	start_method(s, out);
}

static enum eap_status finish(struct eap_server *s, bool ok, struct buf *out)
{
	s->state = S_DONE;
	eap_put(out, ok ? EAP_SUCCESS : EAP_FAILURE, s->id, 0, NULL, 0);
	return ok ? EAP_SUCCEEDED : EAP_FAILED;
}

static enum eap_status dropped(struct eap_server *s, struct buf *out, char *why, size_t whylen,
			       const char *reason)
{
	snprintf(why, whylen, "%s", reason);
	buf_put(out, s->last.data, s->last.len);
	return EAP_DROPPED;
}

static enum eap_status on_identity(struct eap_server *s, const struct eap_pkt *e,
				   struct buf *out, char *why, size_t whylen)
{
	if (e->len == 0 || e->len > EAP_MAX_IDENTITY)
		return dropped(s, out, why, whylen, "EAP-Identity response empty or too long");
	memcpy(s->identity, e->data, e->len);
	s->identity[e->len] = 0;
	s->id_len = e->len;
	start_method(s, out);
	return EAP_CONTINUE;
}

/* The peer asks for another method: MD5 is granted when either method is allowed. */
static enum eap_status on_nak(struct eap_server *s, const struct eap_pkt *e, struct buf *out,
			      char *why, size_t whylen)
{
	if (s->allowed == 0 && s->method == EAP_MSCHAPV2 && memchr(e->data, EAP_MD5, e->len)) {
		s->method = EAP_MD5;
		start_method(s, out);
		return EAP_CONTINUE;
	}
	snprintf(why, whylen, "peer refused %s (Nak)", eap_type_name(s->method));
	return finish(s, false, out);
}

static enum eap_status on_mschapv2(struct eap_server *s, const struct eap_pkt *e,
				   const struct secret_cfg *secrets, struct buf *out, char *why,
				   size_t whylen)
{
	struct mschapv2_pkt m;
	const char *err = NULL;
	if (mschapv2_parse(e, &m, &err) < 0)
		return dropped(s, out, why, whylen, err);
	if (s->state == S_MS_SUCCESS || s->state == S_MS_FAILURE) {
		/* The peer's acknowledgement: Success only after our Success. */
		bool ok = s->state == S_MS_SUCCESS && m.op == MSCHAPV2_SUCCESS;
		snprintf(why, whylen, "%s", ok ? "" : s->state == S_MS_SUCCESS ?
			 "peer rejected our EAP-MSCHAPv2 Success" : s->fail_why);
		return finish(s, ok, out);
	}
	struct buf td;
	buf_init(&td);
	const struct secret_cfg *sec = eap_find_secret(secrets, s->identity, s->id_len);
	int rc = mschapv2_server_response(&s->ms, &m, sec, &td, &err);
	if (rc < 0) {
		buf_free(&td);
		return dropped(s, out, why, whylen, err);
	}
	if (rc == 0)
		s->fail_why = sec ? "wrong password" : "no EAP secret for this identity";
	s->state = rc ? S_MS_SUCCESS : S_MS_FAILURE;
	send_request(s, EAP_MSCHAPV2, &td, out);
	buf_free(&td);
	return EAP_CONTINUE;
}

static enum eap_status on_md5(struct eap_server *s, const struct eap_pkt *e,
			      const struct secret_cfg *secrets, struct buf *out, char *why,
			      size_t whylen)
{
	const char *err = NULL;
	const struct secret_cfg *sec = eap_find_secret(secrets, s->identity, s->id_len);
	int rc = eap_md5_check(s->md5_chal, s->id, sec, e, &err);
	if (rc < 0)
		return dropped(s, out, why, whylen, err);
	if (rc == 0) {
		s->fail_why = sec ? "wrong password" : "no EAP secret for this identity";
		snprintf(why, whylen, "%s", s->fail_why);
	}
	return finish(s, rc == 1, out);
}

enum eap_status eap_server_process(struct eap_server *s, const uint8_t *msg, size_t len,
				   const struct secret_cfg *secrets, struct buf *out, char *why,
				   size_t whylen)
{
	struct eap_pkt e;
	const char *err = NULL;
	why[0] = 0;
	if (s->state == S_DONE)
		return dropped(s, out, why, whylen, "EAP message after the conversation ended");
	if (eap_parse(msg, len, &e, &err) < 0)
		return dropped(s, out, why, whylen, err);
	if (e.code != EAP_RESPONSE)
		return dropped(s, out, why, whylen, "EAP packet from the peer is not a Response");
	if (e.id != s->id)
		return dropped(s, out, why, whylen, "EAP Response with a wrong Identifier "
			       "(out of sequence)");
	if (s->state == S_IDENTITY) {
		if (e.type != EAP_IDENTITY)
			return dropped(s, out, why, whylen, "expected an EAP-Identity Response");
		return on_identity(s, &e, out, why, whylen);
	}
	if (e.type == EAP_NAK && s->state == S_METHOD)
		return on_nak(s, &e, out, why, whylen);
	if (e.type != s->method)
		return dropped(s, out, why, whylen, "EAP Response of another type than our request");
	if (s->method == EAP_MD5)
		return on_md5(s, &e, secrets, out, why, whylen);
	return on_mschapv2(s, &e, secrets, out, why, whylen);
}

const char *eap_server_refused(const struct eap_server *s)
{
	return s->fail_why;
}

const uint8_t *eap_server_identity(const struct eap_server *s, size_t *len)
{
	*len = s->id_len;
	return s->identity;
}

uint8_t eap_server_method(const struct eap_server *s)
{
	return s->method;
}

const uint8_t *eap_server_msk(const struct eap_server *s, size_t *len)
{
	if (s->method != EAP_MSCHAPV2 || !s->ms.have_msk) {
		*len = 0;
		return NULL;
	}
	*len = EAP_MAX_MSK;
	return s->ms.msk;
}
