/* Super-packets from a TUN device with IFF_VNET_HDR and TUNSETOFFLOAD: each read
 * gives a virtio_net_hdr and an IP packet of up to 64 KiB that the kernel did not
 * segment (TSO, USO) or whose TCP/UDP checksum it left partial. gso_init checks the
 * header against the packet; gso_next then hands out the packets the kernel would
 * have sent, one at a time: equal-size segments with their own IP lengths, IPv4 ids,
 * TCP sequence numbers and flags, and complete checksums. Pure functions: no I/O, no
 * allocation. */
#ifndef TSUNAGI_ESP_GSO_H
#define TSUNAGI_ESP_GSO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct virtio_net_hdr (no MRG_RXBUF), in the host's byte order. */
#define GSO_VNET_HDR_LEN	10
#define GSO_F_NEEDS_CSUM	1	/* VIRTIO_NET_HDR_F_NEEDS_CSUM */
#define GSO_TYPE_NONE		0
#define GSO_TYPE_TCPV4		1
#define GSO_TYPE_UDP		3	/* UFO: never asked for, refused */
#define GSO_TYPE_TCPV6		4
#define GSO_TYPE_UDP_L4		5	/* USO */
#define GSO_TYPE_ECN		0x80

struct gso_pkt {
	const uint8_t *pkt;	/* the IP packet after the vnet header */
	size_t len;		/* its length (the IP header's) */
	uint8_t type;		/* GSO_TYPE_NONE, _TCPV4, _TCPV6 or _UDP_L4 (no ECN bit) */
	bool v6;
	bool needs_csum;	/* GSO_TYPE_NONE: complete the checksum at csum_start */
	size_t csum_start, csum_offset;
	size_t hlen;		/* IP + TCP/UDP header: copied into every segment */
	size_t mss;		/* payload bytes per segment */
	size_t pos;		/* payload bytes handed out */
	unsigned i;		/* segments handed out */
};

/* Checks buf (a vnet header, then an IP packet; len bytes in all). -1 when the header
 * lies about the packet (sizes, offsets or types that do not match it) or asks for
 * what is not supported (UFO, IPv6 extension headers in a GSO packet): drop it. */
int gso_init(struct gso_pkt *g, const uint8_t *buf, size_t len);
/* Writes the next packet into out (cap bytes; the packet's length always suffices).
 * Returns its length, or 0 when all were written (or cap is too small). */
size_t gso_next(struct gso_pkt *g, uint8_t *out, size_t cap);

/* Internet checksum of data with the partial sum `sum` added, folded and
 * complemented; faster than a byte loop for long data. */
uint16_t gso_csum(const uint8_t *data, size_t len, uint32_t sum);
/* The pseudo-header sum (RFC 9293 3.1, RFC 8200 section 8.1) of the IP packet at p
 * (addresses from its header), for the given protocol and TCP/UDP length. */
uint32_t gso_pseudo_sum(const uint8_t *p, bool v6, uint8_t proto, size_t l4len);
#endif
