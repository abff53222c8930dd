/* Message input: parsing, finding the SA, message-ID and retransmission rules
 * (RFC 7296 2.1-2.2), decryption, following a NAT that moved the peer, and handing
 * the message to its exchange. Whatever is dropped is counted and logged (rate
 * limited). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ike/ike_private.h"
#include "ike/ikev2_frag.h"
#include "lib/wipe.h"

static void log_message(const char *dir, const struct ike_sa *sa, const struct ikev2_hdr *h,
			const struct ikev2_payloads *pl, const struct addr *from,
			const struct addr *to, size_t len)
{
	char desc[512], a[ADDR_STRLEN], b[ADDR_STRLEN];
	if (!log_enabled(LOG_ENC, 1))
		return;
	ikev2_describe(h, pl, desc, sizeof(desc));
	log_info(LOG_ENC, "%s %s (%zu bytes) from %s to %s", dir, desc, len,
		 addr_fmt(from, a, sizeof(a)), addr_fmt(to, b, sizeof(b)));
	(void)sa;
}

#define DROP_LOG_BURST 20
#define DROP_LOG_WINDOW_MS 10000

/* At most DROP_LOG_BURST lines of each kind per window: garbage is cheap to send and
 * must not flood the log, nor hide the integrity failures on an established SA
 * behind it. */
bool ike_log_allowed(struct ike *core, enum drop_kind kind)
{
	struct drop_limit *l = &core->drop_limits[kind];
	if (core->now >= l->window + DROP_LOG_WINDOW_MS) {
		if (l->suppressed)
			log_info(LOG_NET, "%llu more dropped IKE messages of this kind were not logged",
				 (unsigned long long)l->suppressed);
		l->window = core->now;
		l->logged = 0;
		l->suppressed = 0;
	}
	if (l->logged >= DROP_LOG_BURST) {
		l->suppressed++;
		return false;
	}
	l->logged++;
	return true;
}

#define drop ike_drop

void ike_drop(struct ike *core, enum drop_kind kind, uint64_t *counter, int level,
	      const char *fmt, ...)
{
	(*counter)++;
	if (!ike_log_allowed(core, kind))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_NET, level, fmt, ap);
	va_end(ap);
}


static int decrypt_in(struct ike_sa *sa, struct msg_in *m)
{
	/* Only IKE_SA_INIT travels in the clear; everything after it must be protected
	 * (RFC 7296 1.2): an unprotected message must not move message IDs, peers or SAs. */
	if (!m->pl.has_sk)
		return m->hdr.exchange == IKE_SA_INIT ? 0 : -1;
	if (!sa->have_keys || m->hdr.exchange == IKE_SA_INIT)
		return -1;
	bool from_initiator = m->hdr.flags & IKEV2_FLAG_INITIATOR;
	if (sk_decrypt(&sa->keys, from_initiator, m->raw, m->raw_len, m->pl.sk_off, &m->plain) < 0)
		return -1;
	uint8_t unsupported;
	const char *err = NULL;
	if (ikev2_parse_payloads(m->pl.sk_first, m->plain.data, m->plain.len, 0, &m->pl,
				 &unsupported, &err) < 0) {
		log_err(LOG_ENC, "invalid encrypted payloads from %s: %s", ike_sa_name(sa), err);
		return -1;
	}
	return 0;
}

/* Follows a NAT that changed the peer's port or address. Only on authenticated input:
 * an IKE message that decrypted and verified (IKEv1's too), or the ESP engine's
 * NEW_MAPPING (ike_pfkey.c). True when the SA moved. */
bool ike_follow_peer(struct ike_sa *sa, const struct addr *local, const struct addr *remote)
{
	if (sa->state == IKE_CREATED || addr_equal(&sa->remote, remote))
		return false;
	if (!sa->natt && local->port == sa->core->t.port_natt) {
		/* The peer floated to the NAT-T port (RFC 7296 2.23). */
		sa->natt = true;
		sa->local = *local;
		sa->remote = *remote;
		return false;
	}
	if (!sa->natt)
		return false;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	log_info(LOG_IKE, "%s: peer moved from %s to %s, following it", ike_sa_name(sa),
		 addr_fmt(&sa->remote, a, sizeof(a)), addr_fmt(remote, b, sizeof(b)));
	struct addr old = sa->remote;
	sa->remote = *remote;
	child_rebind_all(sa, &old);
	return true;
}

static void follow_peer(struct ike_sa *sa, const struct msg_in *m)
{
	ike_follow_peer(sa, &m->local, &m->remote);
}

static void request_hash(const struct msg_in *m, uint8_t out[16])
{
	crypto_generichash(out, 16, m->raw, m->raw_len, NULL, 0);
}

/* The I flag says who sent the message; our own messages reflected back to us would
 * otherwise decrypt with our own keys. */
static bool from_peer(const struct ike_sa *sa, const struct msg_in *m)
{
	return !(m->hdr.flags & IKEV2_FLAG_INITIATOR) == sa->initiator;
}

/* A request we cannot act on still gets an answer, so message IDs stay in step. */
static void answer_invalid(struct ike_sa *sa, const struct msg_in *m)
{
	struct ikev2_builder k;
	ikb_init(&k);
	ikb_notify(&k, 0, NULL, 0, N_INVALID_SYNTAX, NULL, 0);
	ike_send_response(sa, m, &k);
}

static void handle_request(struct ike_sa *sa, struct msg_in *m)
{
	uint8_t hash[16];
	if (!from_peer(sa, m)) {
		drop(sa->core, DROP_INTEGRITY, &sa->core->st.rx_invalid, 1,
		     "%s: request %u carries our own role (reflected?), dropped", ike_sa_name(sa),
		     m->hdr.msgid);
		return;
	}
	if (m->hdr.exchange == IKE_SA_INIT) {
		/* A new IKE_SA_INIT carries a zero SPIr; one with ours is not for us. */
		drop(sa->core, DROP_WINDOW, &sa->core->st.rx_invalid, 1,
		     "%s: IKE_SA_INIT request with our SPIs, dropped", ike_sa_name(sa));
		return;
	}
	request_hash(m, hash);
	/* Only a byte-identical retransmit gets the cached answer: a forged message with
	 * the old message ID must not make us send anything. */
	if (m->hdr.msgid + 1 == sa->peer_msgid && sa->have_last_response &&
	    sodium_memcmp(hash, sa->last_request_hash, 16) == 0) {
		log_ctl(LOG_IKE, "received retransmit of request %u, retransmitting response",
			m->hdr.msgid);
		sa->core->st.retransmits++;
		ike_transmit_msg(sa, &sa->last_response, sa->resp_frags);
		return;
	}
	if (m->hdr.msgid != sa->peer_msgid) {
		drop(sa->core, DROP_WINDOW, &sa->core->st.rx_invalid, 2,
		     "%s: request %u out of window (expected %u), dropped", ike_sa_name(sa),
		     m->hdr.msgid, sa->peer_msgid);
		return;
	}
	if (decrypt_in(sa, m) < 0) {
		drop(sa->core, DROP_INTEGRITY, &sa->core->st.rx_invalid, 0,
		     "%s: %s request %u failed the integrity check or is unprotected, dropped",
		     ike_sa_name(sa), ikev2_exchange_name(m->hdr.exchange), m->hdr.msgid);
		return;
	}
	ike_dispatch_request(sa, m, hash);
}

void ike_dispatch_request(struct ike_sa *sa, struct msg_in *m, const uint8_t hash[16])
{
	sa->peer_msgid++;
	memcpy(sa->last_request_hash, hash, 16);
	sa->last_rx = sa->core->now;
	log_message("parsed", sa, &m->hdr, &m->pl, &m->remote, &m->local, m->raw_len);
	switch (m->hdr.exchange) {
	case IKE_AUTH:
		if (sa->state != IKE_CONNECTING || sa->initiator) {
			answer_invalid(sa, m);
			break;
		}
		follow_peer(sa, m);
		ikev2_auth_request_in(sa, m);
		break;
	case CREATE_CHILD_SA:
		follow_peer(sa, m);
		ikev2_create_request_in(sa, m);
		break;
	case INFORMATIONAL:
		follow_peer(sa, m);
		ikev2_info_request_in(sa, m);
		break;
	default:
		log_info(LOG_IKE, "%s: unknown exchange %u, answering INVALID_SYNTAX", ike_sa_name(sa),
			 m->hdr.exchange);
		answer_invalid(sa, m);
	}
}

static void handle_response(struct ike_sa *sa, struct msg_in *m)
{
	if (sa->req.kind == TASK_NONE || m->hdr.msgid != sa->req.msgid ||
	    m->hdr.exchange != sa->req.exchange || !from_peer(sa, m)) {
		drop(sa->core, DROP_WINDOW, &sa->core->st.rx_invalid, 2,
		     "%s: %s response %u does not match an outstanding request, dropped",
		     ike_sa_name(sa), ikev2_exchange_name(m->hdr.exchange), m->hdr.msgid);
		return;
	}
	if (decrypt_in(sa, m) < 0) {
		drop(sa->core, DROP_INTEGRITY, &sa->core->st.rx_invalid, 0,
		     "%s: %s response %u failed the integrity check or is unprotected, dropped",
		     ike_sa_name(sa), ikev2_exchange_name(m->hdr.exchange), m->hdr.msgid);
		return;
	}
	ike_dispatch_response(sa, m);
}

void ike_dispatch_response(struct ike_sa *sa, struct msg_in *m)
{
	sa->next_msgid++;
	sa->last_rx = sa->core->now;
	log_message("parsed", sa, &m->hdr, &m->pl, &m->remote, &m->local, m->raw_len);
	if (m->hdr.exchange != IKE_SA_INIT)
		follow_peer(sa, m);
	switch (m->hdr.exchange) {
	case IKE_SA_INIT:
		ikev2_init_response_in(sa, m);
		break;
	case IKE_AUTH:
		ikev2_auth_response_in(sa, m);
		break;
	case CREATE_CHILD_SA:
		ikev2_create_response_in(sa, m);
		break;
	case INFORMATIONAL:
		ikev2_info_response_in(sa, m);
		break;
	}
}

/* A byte-identical IKE_SA_INIT request gets our IKE_SA_INIT response again, but only
 * while nothing else happened on the SA (no IKE_AUTH yet): afterwards the cached
 * response is another exchange's, and a replay must not make us send anything for
 * the SA's whole life. */
static void init_retransmit(struct ike_sa *sa, const struct msg_in *m)
{
	const struct buf *req = ike_sa_init_msg(sa, true), *resp = ike_sa_init_msg(sa, false);
	bool same = m->hdr.msgid == 0 && req->len == m->raw_len &&
		    memcmp(req->data, m->raw, m->raw_len) == 0;
	if (same && sa->state == IKE_CONNECTING && sa->peer_msgid == 1 && resp->len) {
		sa->core->st.retransmits++;
		ike_transmit(sa, resp);
		return;
	}
	drop(sa->core, DROP_WINDOW, &sa->core->st.rx_invalid, 1,
	     "%s: IKE_SA_INIT request %s, dropped", ike_sa_name(sa),
	     same ? "replayed after IKE_SA_INIT" :
	     req->len ? "differing from the first with its SPI" : "for an established SA");
}

void ike_input(struct ike *core, const struct addr *local, const struct addr *remote,
	       const uint8_t *msg, size_t len, ms_t now)
{
	struct msg_in m;
	const char *err = NULL;
	uint8_t unsupported;
	char from[ADDR_STRLEN];

	core->now = now;
	core->st.rx_messages++;
	memset(&m, 0, sizeof(m));
	buf_init(&m.plain);
	m.raw = msg;
	m.raw_len = len;
	m.local = *local;
	m.remote = *remote;
	if (len > 17 && msg[17] >> 4 == 1) {
		/* ISAKMP: major version 1 (RFC 2408 3.1). */
		ikev1_input(core, local, remote, msg, len);
		goto out;
	}
	if (ikev2_parse_header(msg, len, &m.hdr, &err) < 0 ||
	    ikev2_parse_payloads(m.hdr.next_payload, msg + IKEV2_HDR_LEN, len - IKEV2_HDR_LEN,
				 IKEV2_HDR_LEN, &m.pl, &unsupported, &err) < 0) {
		drop(core, DROP_MALFORMED, &core->st.rx_invalid, 1, "invalid IKE message from %s dropped: %s",
		     addr_fmt(remote, from, sizeof(from)), err ? err : "?");
		goto out;
	}
	bool response = m.hdr.flags & IKEV2_FLAG_RESPONSE;
	static const uint8_t zero[8];
	if (m.pl.has_skf && m.hdr.exchange == IKE_SA_INIT) {
		/* Fragments only after the IKE SA has keys (RFC 7383 2.5). */
		core->st.rx_invalid++;
		drop(core, DROP_FRAG, &core->st.frag_dropped, 1, "IKE_SA_INIT fragment from %s dropped",
		     addr_fmt(remote, from, sizeof(from)));
		goto out;
	}
	if (m.hdr.exchange == IKE_SA_INIT && !response && memcmp(m.hdr.spi_r, zero, 8) == 0) {
		/* A retransmitted IKE_SA_INIT must not create a second SA. */
		struct ike_sa *sa = ike_sa_find(core, m.hdr.spi_i, zero, true);
		if (sa && !sa->initiator && addr_equal(&sa->remote, remote)) {
			init_retransmit(sa, &m);
			goto out;
		}
		/* Unauthenticated and cheap to spoof: logged within a budget. */
		if (ike_log_allowed(core, DROP_INIT_IN))
			log_message("parsed", NULL, &m.hdr, &m.pl, remote, local, len);
		ikev2_init_request_in(core, &m);
		goto out;
	}
	struct ike_sa *sa = ike_sa_find(core, m.hdr.spi_i, m.hdr.spi_r, false);
	if (!sa) {
		drop(core, DROP_NO_SA, &core->st.rx_no_sa, 1, "IKE message from %s has no SA (%s %s %u), "
		     "dropped", addr_fmt(remote, from, sizeof(from)),
		     ikev2_exchange_name(m.hdr.exchange), response ? "response" : "request",
		     m.hdr.msgid);
		goto out;
	}
	if (m.pl.has_skf)
		ikev2_frag_input(sa, &m);
	else if (response)
		handle_response(sa, &m);
	else
		handle_request(sa, &m);
out:
	buf_wipe_free(&m.plain);
	ike_sa_reap(core);
}
