/* The other way round from gso.h: consecutive TCP segments of one stream, decrypted
 * from ESP, are written into the TUN device as one super-packet with a vnet header
 * (TCPV4/TCPV6, partial checksum), as the kernel's GRO would pass them up: one write
 * and one trip through the stack for up to 64 segments. Where the device takes USO
 * (Linux 6.2), consecutive UDP datagrams of one flow likewise (UDP_L4): small
 * packets are where one write each costs most. Pure functions: no I/O, no
 * allocation. */
#ifndef TSUNAGI_ESP_GRO_H
#define TSUNAGI_ESP_GRO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/gso.h"

#define GRO_MAX_SEGS	64

struct gro_run {
	unsigned count;		/* packets in the run, at least 1 */
	size_t hlen;		/* IP + TCP header of the first packet: the others add
				 * only their payload, from this offset */
	uint8_t vnet[GSO_VNET_HDR_LEN];	/* all zero for a single packet */
};

/* The longest run at the start of pkt[0..n) (each len[i] bytes, an IP packet) that
 * can be one super-packet: TCP segments of one stream, same addresses, ports, header
 * fields and options, in sequence, with valid checksums, only ACK (PSH on the last),
 * all of the first one's size but the last, at most 64 KiB in all; with udp, also
 * UDP datagrams of one flow (same addresses, ports and IP header fields, valid
 * non-zero checksums), all of the first one's size but the last. For a run of more
 * than one, pkt[0]'s IP lengths, IPv4 header checksum, PSH flag or UDP length, and
 * TCP/UDP checksum field (the pseudo-header sum, as a partial checksum) are
 * rewritten: written out it is the vnet header, pkt[0], then each later packet from
 * hlen on. */
void gro_run(uint8_t *const *pkt, const size_t *len, unsigned n, bool udp, struct gro_run *r);
#endif
