/*
 * sip_parse.h - the SIP engine's text handling, pure: find where a SIP message
 * (RFC 3261) and its SDP body (RFC 4566) carry addresses and ports, and build
 * the message again with some of them replaced and Content-Length fixed.
 *
 * Everything is an offset into the caller's bytes, every length is checked
 * before it is read, and nothing is allocated: nat/alg_sip.c decides what to
 * replace, the fuzzer (tests/fuzz/fuzz_nat_sip.c) throws anything at both.
 *
 * Understood: requests and responses, header folding (a line that starts with
 * a blank continues the header), CRLF or bare LF line ends, compact header
 * names (v: m: l: i: c:), several Via and Contact headers and several values
 * in one (comma lists; quoted display names), Content-Length over UDP (body =
 * rest of the datagram when missing) and TCP (required; the message ends
 * there, the next one may follow in the same segment).
 */
#ifndef TSUNAGI_NAT_SIP_PARSE_H
#define TSUNAGI_NAT_SIP_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIP_MAX_SITES 48	/* addresses and ports in one message */
#define SIP_MAX_CLEN 65535	/* a Content-Length above this is malformed */

enum sip_err {
	SIP_NOT_SIP = -1,	/* no SIP start line (keepalive, STUN, the middle of a stream) */
	SIP_MALFORMED = -2,	/* starts like SIP, then breaks a rule */
	SIP_PARTIAL = -3,	/* stream: the message goes on past these bytes */
	SIP_BAD_LENGTH = -4,	/* datagram: Content-Length promises more than is there */
	SIP_TOO_MANY = -5,	/* more than SIP_MAX_SITES places to rewrite */
	SIP_NO_ROOM = -6,	/* (translate) the result does not fit */
	SIP_NO_MEDIA = -7,	/* (translate) no public port for a media stream */
};

enum sip_method {
	SIP_OTHER, SIP_INVITE, SIP_ACK, SIP_BYE, SIP_CANCEL, SIP_REGISTER, SIP_OPTIONS,
};

enum sip_site_kind {
	SITE_URI,	/* the Request-URI's host[:port] */
	SITE_VIA,	/* a Via's sent-by */
	SITE_CONTACT,	/* a Contact URI's host[:port] */
	SITE_SDP_O,	/* o= unicast address (IN IP4) */
	SITE_SDP_C,	/* c= connection address (IN IP4) */
	SITE_SDP_M,	/* m= port */
};

/* One place in the message: [off, off + len) is host[:port] (m=: the port);
 * the host alone is [off, off + host_len). */
struct sip_site {
	uint8_t kind;
	bool has_port;
	uint16_t port;		/* the port given (m=: the media port) */
	uint32_t addr;		/* IPv4, host order; 0 for a name or IPv6. m=: its c= address */
	uint32_t off, len, host_len;
	int media;		/* SDP: the m= section (0, 1, ...); -1 before the first m= */
};

struct sip_msg {
	bool request;
	enum sip_method method;		/* requests */
	uint16_t status;		/* responses: 100..699 */
	enum sip_method cseq_method;
	uint32_t call_id_off, call_id_len;	/* 0 length: none */
	size_t len;			/* the whole message, leading CRLFs included */
	size_t body_off, body_len;
	uint32_t clen_off, clen_len;	/* Content-Length's digits; 0 length: none */
	bool sdp;			/* Content-Type application/sdp */
	bool folded, compact;		/* seen: for the counters */
	struct sip_site site[SIP_MAX_SITES];
	unsigned n_site;
};

/* Parses the message at the start of p[0..len) (stream: TCP, where the
 * message ends at Content-Length and more may follow; else a datagram, whose
 * bytes past Content-Length are not part of it). Returns 0 or an sip_err. */
int sip_parse(const uint8_t *p, size_t len, bool stream, struct sip_msg *m);

/* What to replace: host from_addr (port from_port, 5060 when none is written)
 * becomes to_addr:to_port. In Via and Contact always, in the Request-URI when
 * uri, in the SDP (o=, c=) when sdp; there each m= port whose stream's address
 * is from_addr becomes the port media() gives (0: none, the message cannot be
 * translated). A site whose address matches but whose port does not gets its
 * address replaced only. */
struct sip_map {
	uint32_t from_addr, to_addr;
	uint16_t from_port, to_port;
	bool uri, sdp;
	uint16_t (*media)(void *arg, uint32_t addr, uint16_t port);
	void *arg;
};

/* Writes m (parsed from in) translated by x to out (cap bytes; not in itself).
 * Returns the new length, or an sip_err. The new Content-Length counts the new
 * body; a datagram's bytes past the old one are left out. */
long sip_translate(const uint8_t *in, const struct sip_msg *m, const struct sip_map *x,
    uint8_t *out, size_t cap);

/* "a.b.c.d" of exactly len bytes: 0 and *addr (host order), or -1. */
int sip_ipv4(const uint8_t *s, size_t len, uint32_t *addr);
#endif
