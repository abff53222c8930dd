/* Path MTU for outbound tunnel traffic (requirements section 2): a packet that would
 * not fit the tunnel's path MTU after ESP encapsulation is, with IPv4 DF set or for
 * IPv6, answered with ICMP "fragmentation needed" / ICMPv6 Packet Too Big carrying the
 * tunnel's inner MTU; an IPv4 packet without DF is fragmented before encryption
 * (RFC 4459 section 5, "pre-fragmentation") and each fragment sent in its own ESP
 * packet. Pure functions: no I/O, no allocation. */
#ifndef TSUNAGI_ESP_PMTU_H
#define TSUNAGI_ESP_PMTU_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/esp_transform.h"
#include "esp/spd.h"

#define PMTU_IPV6_MIN_MTU	1280	/* RFC 8200 section 5 */
#define PMTU_IPV4_MIN_MTU	68	/* RFC 791 */
/* The most any SA adds to an inner packet: outer IPv6 + UDP + ESP header + IV +
 * padding and trailer + ICV. Packets this much below the path MTU always fit. */
#define PMTU_MAX_OVERHEAD	(40 + 8 + ESP_HDR_LEN + ESP_MAX_IV_LEN + ESP_MAX_BLOCK_LEN - 1 + \
				 ESP_TRAILER_LEN + ESP_MAX_ICV_LEN)
/* ICMP answers are at most this long (ICMPv6: RFC 4443 2.4 (c)). */
#define PMTU_ICMP_MAX		PMTU_IPV6_MIN_MTU

/* The largest inner packet whose ESP packet fits path_mtu: outer_hdr is the outer IP
 * header plus UDP (NAT-T) if any; iv, icv and block (the ciphertext alignment) are
 * the SA's transform's. 0 when not even an empty packet fits. */
size_t pmtu_inner_mtu(size_t path_mtu, size_t outer_hdr, size_t iv, size_t icv, size_t block);

/* Builds into out the ICMP "fragmentation needed" (type 3 code 4, next-hop MTU = mtu;
 * IPv4) or ICMPv6 Packet Too Big (IPv6) answering pkt (parsed as t, t->total bytes).
 * The answer claims to come from pkt's destination: written into the TUN device it
 * then arrives from where the packet was going, so reverse-path filters accept it and
 * the kernel does not drop it as a martian (as it would the gateway's own address).
 * It quotes the original IP header and the first 8 payload bytes (IPv4, RFC 792), or
 * as much of the packet as fits in 1280 bytes (IPv6). Returns its length, or 0 when
 * no ICMP error may be sent for pkt (RFC 1122 3.2.2, RFC 4443 2.4 (e)): an ICMP
 * error itself, an IPv4 fragment other than the first, an unspecified, multicast or
 * broadcast source, an IPv4 multicast or broadcast destination; or cap too small. */
size_t pmtu_icmp_build(const uint8_t *pkt, const struct pkt_tuple *t, uint32_t mtu,
		       uint8_t *out, size_t cap);

/* Fragments of one IPv4 packet, built one at a time (RFC 791 section 3.2): the first
 * carries the whole header, later ones only the options with the copy flag set;
 * offsets continue the packet's own (an already fragmented packet is fragmented
 * further, its last piece keeps the packet's MF). Every fragment but the last carries
 * a multiple of 8 payload bytes and is at most mtu bytes long. */
struct pmtu_frag {
	const uint8_t *pkt;
	size_t hl, len;		/* header length, payload length */
	size_t pos;		/* payload bytes already handed out */
	size_t mtu;
	uint16_t off8;		/* the packet's own fragment offset, 8-byte units */
	bool mf;		/* the packet's own MF flag */
	size_t hl2;		/* header length of later fragments */
	uint8_t hdr2[60];	/* header of later fragments (without lengths/offsets) */
};

/* Prepares fragmenting pkt (parsed as t; IPv4) to mtu. -1 if it cannot be done: not
 * IPv4, DF set, malformed options, mtu too small for a header and 8 bytes, offsets
 * past 65535. */
int pmtu_frag_init(struct pmtu_frag *f, const uint8_t *pkt, const struct pkt_tuple *t,
		   size_t mtu);
/* How many fragments there will be in all. */
size_t pmtu_frag_count(const struct pmtu_frag *f);
/* Writes the next fragment into out; returns its length, 0 when all were written or
 * cap is too small. */
size_t pmtu_frag_next(struct pmtu_frag *f, uint8_t *out, size_t cap);

/* The Internet checksum (RFC 1071) of data, added to the partial sum `sum`: folded
 * and complemented. */
uint16_t pmtu_csum(const uint8_t *data, size_t len, uint32_t sum);
#endif
