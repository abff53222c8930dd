/* The EAP peer: answers EAP-Identity with its identity, runs the one method it agrees
 * to (a request for another gets a Nak naming it), and takes EAP-Success only after the
 * method succeeded: for MSCHAPv2, only once the server proved it knows the password
 * too, so that a rogue server cannot skip the authentication. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/eap.h"
#include "lib/wipe.h"

struct eap_peer {
	uint8_t allowed;		/* EAP_MSCHAPV2, EAP_MD5, 0 = either */
	uint8_t method;			/* the one the server started, 0 before */
	bool method_done;		/* MD5 answered, or MSCHAPv2 verified */
	uint8_t identity[EAP_MAX_IDENTITY];
	size_t id_len;
	uint8_t *secret;
	size_t secret_len;
	struct mschapv2_peer ms;
};

struct eap_peer *eap_peer_new(uint8_t method, const uint8_t *identity, size_t id_len,
			      const uint8_t *secret, size_t secret_len)
{
	struct eap_peer *p = calloc(1, sizeof(*p));
	if (!p || !(p->secret = malloc(secret_len ? secret_len : 1))) {
		free(p);
		return NULL;
	}
	p->allowed = method;
	p->id_len = id_len > EAP_MAX_IDENTITY ? EAP_MAX_IDENTITY : id_len;
	memcpy(p->identity, identity, p->id_len);
	memcpy(p->secret, secret, secret_len);
	p->secret_len = secret_len;
	return p;
}

void eap_peer_free(struct eap_peer *p)
{
	if (!p)
		return;
	wipe_free(p->secret, p->secret_len);
	wipe(p, sizeof(*p));
	free(p);
}

static enum eap_status fail(char *why, size_t whylen, const char *reason, enum eap_status st)
{
	snprintf(why, whylen, "%s", reason);
	return st;
}

static enum eap_status on_mschapv2(struct eap_peer *p, const struct eap_pkt *e, struct buf *td,
				   char *why, size_t whylen)
{
	struct mschapv2_pkt m;
	const char *err = NULL;
	char text[128];
	if (mschapv2_parse(e, &m, &err) < 0)
		return fail(why, whylen, err, EAP_DROPPED);
	switch (m.op) {
	case MSCHAPV2_CHALLENGE:
		if (p->ms.responded)
			return fail(why, whylen, "EAP-MSCHAPv2: a second Challenge", EAP_DROPPED);
		if (mschapv2_peer_challenge(&p->ms, &m, p->identity, p->id_len, p->secret,
					    p->secret_len, td, &err) < 0)
			return fail(why, whylen, err, EAP_DROPPED);
		return EAP_CONTINUE;
	case MSCHAPV2_SUCCESS: {
		int rc = mschapv2_peer_success(&p->ms, &m, p->identity, p->id_len, td, &err);
		if (rc < 0)
			return fail(why, whylen, err, EAP_DROPPED);
		if (rc == 0)
			return fail(why, whylen, err, EAP_FAILED);
		p->method_done = true;
		return EAP_CONTINUE;
	}
	case MSCHAPV2_FAILURE:
		/* Acknowledge; the server ends with EAP-Failure. */
		snprintf(why, whylen, "server sent EAP-MSCHAPv2 Failure '%s'",
			 eap_printable(m.text, m.text_len, text, sizeof(text)));
		buf_put_u8(td, MSCHAPV2_FAILURE);
		return EAP_CONTINUE;
	default:
		return fail(why, whylen, "EAP-MSCHAPv2: unexpected OpCode", EAP_DROPPED);
	}
}

static enum eap_status on_request(struct eap_peer *p, const struct eap_pkt *e, struct buf *out,
				  char *why, size_t whylen)
{
	struct buf td;
	const char *err = NULL;
	enum eap_status st = EAP_CONTINUE;
	uint8_t type = e->type;
	buf_init(&td);
	if (e->type == EAP_IDENTITY) {
		buf_put(&td, p->identity, p->id_len);
	} else if (e->type == EAP_NOTIFICATION) {
		/* RFC 3748 5.2: acknowledged with an empty Notification response. */
	} else if ((e->type != EAP_MD5 && e->type != EAP_MSCHAPV2) ||
		   (p->allowed && e->type != p->allowed) || (p->method && e->type != p->method)) {
		type = EAP_NAK;
		buf_put_u8(&td, p->method ? p->method : p->allowed ? p->allowed : EAP_MSCHAPV2);
		snprintf(why, whylen, "server asked for %s, we answer Nak", eap_type_name(e->type));
	} else if (e->type == EAP_MD5) {
		p->method = EAP_MD5;
		if (eap_md5_respond(e, p->secret, p->secret_len, &td, &err) < 0)
			st = fail(why, whylen, err, EAP_DROPPED);
		p->method_done = st == EAP_CONTINUE;
	} else {
		p->method = EAP_MSCHAPV2;
		st = on_mschapv2(p, e, &td, why, whylen);
	}
	if (st == EAP_CONTINUE)
		eap_put(out, EAP_RESPONSE, e->id, type, td.data, td.len);
	buf_wipe_free(&td);
	return st;
}

enum eap_status eap_peer_process(struct eap_peer *p, const uint8_t *msg, size_t len,
				 struct buf *out, char *why, size_t whylen)
{
	struct eap_pkt e;
	const char *err = NULL;
	why[0] = 0;
	if (eap_parse(msg, len, &e, &err) < 0)
		return fail(why, whylen, err, EAP_DROPPED);
	switch (e.code) {
	case EAP_REQUEST:
		return on_request(p, &e, out, why, whylen);
	case EAP_SUCCESS:
		if (!p->method_done)
			return fail(why, whylen, "EAP-Success before the method completed",
				    EAP_FAILED);
		return EAP_SUCCEEDED;
	case EAP_FAILURE:
		return fail(why, whylen, "server sent EAP-Failure", EAP_FAILED);
	default:
		return fail(why, whylen, "EAP Response from the server", EAP_DROPPED);
	}
}

uint8_t eap_peer_method(const struct eap_peer *p)
{
	return p->method;
}

const uint8_t *eap_peer_msk(const struct eap_peer *p, size_t *len)
{
	if (p->method != EAP_MSCHAPV2 || !p->ms.verified) {
		*len = 0;
		return NULL;
	}
	*len = EAP_MAX_MSK;
	return p->ms.msk;
}
