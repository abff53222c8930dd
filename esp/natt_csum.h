/* Transport mode across a NAT (RFC 3948 3.1.2): the peer computed its TCP/UDP checksum
 * over addresses the NAT changed (its private one, or the one it sent to), so after
 * decapsulation, with the IP header rebuilt from the outer addresses, the checksum
 * would fail and the kernel drop the datagram. ESP's integrity check already covers the
 * payload, so the checksum is replaced: UDP over IPv4 gets none (0, "not computed"),
 * TCP a new one. */
#ifndef TSUNAGI_ESP_NATT_CSUM_H
#define TSUNAGI_ESP_NATT_CSUM_H
#include <stdint.h>

#include "esp/spd.h"

/* pkt is a whole IPv4 packet as parsed into t; IPv6 and later fragments are left as
 * they are, and so is TCP in a first fragment (the rest of the segment is elsewhere). */
void natt_transport_csum(uint8_t *pkt, const struct pkt_tuple *t);
#endif
