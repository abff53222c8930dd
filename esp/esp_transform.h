/* The ESP transform (RFC 4303) as pure functions of (SA state, packet) -> packet: no
 * I/O, no allocation, no locking. The engine serialises the use of one SA direction;
 * two SAs may be processed in parallel on two threads.
 *
 * Packet layout, from the ESP header on (outer IP and UDP headers are the caller's):
 *   SPI(4) | seq(4) | IV | ciphertext(payload | padding | padlen(1) | nexthdr(1)) | ICV
 * AEAD (GCM, ChaCha20-Poly1305): AAD = SPI|seq, or SPI|seq-hi|seq-lo with ESN.
 * CBC + HMAC: ICV over SPI..nexthdr, with ESN followed by seq-hi (not transmitted). */
#ifndef TSUNAGI_ESP_TRANSFORM_H
#define TSUNAGI_ESP_TRANSFORM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "esp/esp_crypto.h"
#include "esp/replay.h"

#define ESP_HDR_LEN	8	/* SPI + sequence number */
#define ESP_TRAILER_LEN	2	/* pad length + next header */

/* Next header values of interest. */
#define ESP_NH_IPV4	4
#define ESP_NH_IPV6	41
#define ESP_NH_DUMMY	59	/* RFC 4303 2.6: dummy packet (TFC), to be dropped */

struct esp_out_sa {
	uint32_t spi;		/* host byte order */
	uint64_t seq;		/* last sequence number sent; 0 before the first packet */
	bool esn;
	struct esp_crypto *c;	/* owned by the caller */
};

struct esp_in_sa {
	uint32_t spi;		/* host byte order */
	bool tunnel;		/* next header must be 4 or 41 and match the inner version */
	struct esp_crypto *c;	/* owned by the caller */
	struct replay_window rw; /* replay_init(&rw, size, esn) sets ESN too */
	uint64_t last_seq;	/* full sequence number of the last packet decap looked at
				 * (for logging replay drops with SPI and number) */
};

enum esp_result {
	ESP_OK = 0,
	ESP_DUMMY,		/* authentic dummy packet (next header 59): drop silently */
	ESP_ERR_SHORT,		/* too short, or ciphertext not a multiple of the block */
	ESP_ERR_REPLAY,		/* duplicate or left of the window */
	ESP_ERR_INTEGRITY,	/* ICV mismatch */
	ESP_ERR_PADDING,	/* authentic, but padding bytes or pad length wrong */
	ESP_ERR_PROTO,		/* SPI not this SA's, or authentic but next header wrong */
	ESP_ERR_INTERNAL,	/* crypto library failure */
};

const char *esp_result_name(enum esp_result r);

/* Exact ESP length (header..ICV) that esp_encap produces for a payload of len bytes. */
size_t esp_encap_len(const struct esp_crypto *c, size_t len);

/* true when the SA has sent its last sequence number (2^32-1, or 2^64-1 with ESN);
 * it must then be rekeyed, esp_encap fails. */
bool esp_out_sa_exhausted(const struct esp_out_sa *sa);

/* Encapsulates payload `in` (len bytes) into out (cap bytes) as an ESP packet starting
 * at the ESP header. Tunnel mode: in is the whole inner IP packet and next_header 4 or
 * 41; transport mode: in is the transport payload and next_header its protocol.
 * in and out may overlap (the payload is moved first); placing the payload at
 * out + ESP_HDR_LEN + iv_len avoids the copy. Increments sa->seq.
 * Returns the ESP length, or -1 (sequence numbers exhausted, cap too small, crypto
 * failure) with sa->seq unchanged. */
ssize_t esp_encap(struct esp_out_sa *sa, const uint8_t *in, size_t len, uint8_t next_header,
		  uint8_t *out, size_t cap);

/* Decapsulates the ESP packet pkt (len bytes, from the ESP header on) in place:
 * length, replay check, ICV, replay update, decryption, padding (the RFC 4303 default
 * pad bytes 1, 2, 3, ... are checked), next header. On ESP_OK, *inner and *inner_len are
 * the payload inside pkt, *next_header its protocol. The window moves as soon as the
 * ICV verified, so also on ESP_DUMMY, ESP_ERR_PADDING and a next header ESP_ERR_PROTO
 * (an SPI other than sa->spi gives ESP_ERR_PROTO before anything is checked).
 * sa->last_seq is set once the sequence number was read (for logging drops). */
enum esp_result esp_decap(struct esp_in_sa *sa, uint8_t *pkt, size_t len, uint8_t **inner,
			  size_t *inner_len, uint8_t *next_header);
#endif
