/* Transport mode across a NAT (RFC 3948 3.1.2): the peer computed its TCP/UDP checksum
 * over addresses the NAT changed (its private one, or the one it sent to), so after
 * decapsulation, with the IP header rebuilt from the outer addresses, the checksum
 * would fail and the kernel drop the datagram. ESP's integrity check already covers the
 * payload, so the checksum is replaced: UDP over IPv4 gets none (0, "not computed"),
 * TCP a new one. */
#ifndef TSUNAGI_ESP_NATT_CSUM_H
#define TSUNAGI_ESP_NATT_CSUM_H
#include <stdbool.h>
#include <stdint.h>

#include "esp/spd.h"

/* pkt is a whole IPv4 packet as parsed into t; IPv6 and later fragments are left as
 * they are, and so is TCP in a first fragment (the rest of the segment is elsewhere). */
void natt_transport_csum(uint8_t *pkt, const struct pkt_tuple *t);

/* Several L2TP/IPsec clients behind one NAT all send from UDP 1701 and all appear as
 * the NAT's address: after decapsulation their datagrams would be one flow. An SA
 * whose NAT-T original address carries a port (the peer's inner port, 1701) maps it
 * to the peer's NAT-T port, unique per client behind that NAT: inbound the source
 * port `from` becomes `to`, outbound the destination port `from` becomes `to` (the
 * policies name the NAT-T port). Then the checksum as above. IPv4 TCP/UDP only;
 * returns whether the packet was changed (t follows). */
bool natt_transport_port(uint8_t *pkt, struct pkt_tuple *t, bool inbound, uint16_t from,
			 uint16_t to);
#endif
