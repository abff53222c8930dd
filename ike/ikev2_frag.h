/* IKEv2 fragmentation (RFC 7383): a message too large for the path is sent as
 * Encrypted Fragment (SKF) payloads, each encrypted and integrity-protected on its own,
 * and reassembled by the receiver. Negotiated with IKEV2_FRAGMENTATION_SUPPORTED in
 * IKE_SA_INIT; only messages protected by the IKE SA's keys (IKE_AUTH onwards) are
 * fragmented. The connection's `fragmentation` (yes, accept, force, no; strongSwan's
 * meaning) and the daemon's `fragment_size` (charon.fragment_size) decide. */
#ifndef TSUNAGI_IKEV2_FRAG_H
#define TSUNAGI_IKEV2_FRAG_H
#include <stdbool.h>
#include <stdint.h>

#include "ike/ike_private.h"

/* Reassembly limits: fragments of one message, its reassembled size, and the bytes
 * held for all SAs together (a fragment over it evicts the oldest reassemblies;
 * core->frag_held_max, when not 0, lowers it for tests). Each SA reassembles at
 * most one request and one response at a time, each for at most
 * FRAG_RX_TIMEOUT_MS from its first fragment: IP's reassembly timeout (Linux's
 * ipfrag_time), which spans the peer's first four transmissions at the usual
 * retransmission timing (0, 4, 11.2, 24.2 s), so that fragments lost in
 * different rounds still combine. (strongSwan keeps a partial message until
 * another message ID or the SA's end replaces it.) */
#define FRAG_MAX_FRAGMENTS 128
#define FRAG_MAX_MESSAGE IKEV2_MAX_MSG
#define FRAG_MAX_HELD (8u << 20)
#define FRAG_RX_TIMEOUT_MS 30000

struct frag_part {
	uint8_t *data;		/* decrypted content (wiped when freed) */
	size_t len;
};

/* A message being reassembled. */
struct frag_rx {
	struct frag_rx *older, *newer;	/* every SA's, by start (core->frag_oldest) */
	struct ike_sa *sa;
	ms_t started;
	uint32_t msgid;
	uint8_t exchange;
	uint8_t response;	/* its index in sa->frag_rx */
	uint8_t first;		/* type of the first inner payload (from fragment 1) */
	uint16_t total, have;
	size_t bytes;
	struct frag_part part[];	/* total entries */
};

/* IKE_SA_INIT: adds IKEV2_FRAGMENTATION_SUPPORTED to what we send (initiator: unless
 * fragmentation = no; responder: when the peer sent it and fragmentation != no). */
void ikev2_frag_notify(struct ike_sa *sa, struct ikev2_builder *k);
/* IKE_SA_INIT: notes whether the peer announced support. */
void ikev2_frag_peer(struct ike_sa *sa, const struct ikev2_payloads *pl);
/* Splits an encoded message (whole, built from inner) into fragments in *frags (as
 * [u16 length | datagram]...) when it is too large and fragmentation applies; else
 * *frags is NULL: only a message sent in fragments has the buffer. */
void ikev2_frag_build(struct ike_sa *sa, uint8_t exchange, uint32_t msgid, bool response,
		      const struct ikev2_builder *inner, const struct buf *whole,
		      struct buf **frags);
void ikev2_frags_free(struct buf **frags);
/* Sends a message: its fragments when it has any (frags not NULL), else the whole. */
void ike_transmit_msg(struct ike_sa *sa, const struct buf *whole, const struct buf *frags);
/* A message carrying an SKF payload for an existing SA. */
void ikev2_frag_input(struct ike_sa *sa, struct msg_in *m);
/* Frees the SA's reassembly state. */
void ikev2_frag_free(struct ike_sa *sa);
/* Gives up the SA's reassemblies past FRAG_RX_TIMEOUT_MS; the next such deadline. */
ms_t ikev2_frag_tick(struct ike_sa *sa, ms_t now);
#endif
