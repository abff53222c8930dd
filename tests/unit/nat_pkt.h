/* Hand-built IPv4 packets for the NAT tests, and checksums computed from
 * scratch (RFC 1071 over the whole header or segment), independent of the
 * incremental updates under test. */
#ifndef TSUNAGI_TESTS_NAT_PKT_H
#define TSUNAGI_TESTS_NAT_PKT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t A(const char *dotted);		/* host order */
/* TCP with options and payload bytes of 0x5a; seq, ack, window as given. */
size_t mk_tcp(uint8_t *p, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win, const uint8_t *opts,
    size_t optlen, size_t payload);
size_t mk_udp(uint8_t *p, const char *src, uint16_t sp, const char *dst, uint16_t dp,
    size_t payload);
size_t mk_icmp_echo(uint8_t *p, const char *src, const char *dst, uint8_t type, uint16_t id,
    uint16_t seq);
/* An ICMP error quoting the first qlen bytes of quoted. */
size_t mk_icmp_error(uint8_t *p, const char *src, const char *dst, uint8_t type, uint8_t code,
    const uint8_t *quoted, size_t qlen);
/* Any protocol, payload of 0x5a; frag = the flags/offset field. */
size_t mk_ip(uint8_t *p, const char *src, const char *dst, uint8_t proto, uint16_t id,
    uint16_t frag, size_t payload);
/* Recomputes the IP header checksum (and for mk_ip users, nothing else). */
void fix_ip_csum(uint8_t *p);

/* Recomputes the L4 checksum from scratch (after a test edits the payload). */
void fix_l4_csum(uint8_t *p);
uint16_t full_csum(const uint8_t *d, size_t n, uint32_t sum);
bool ip_csum_ok(const uint8_t *p);
/* The L4 checksum over the whole segment (pseudo header for TCP/UDP) verifies;
 * len: bytes of L4 available (the packet's own total when 0). */
bool l4_csum_ok(const uint8_t *p, size_t len);

uint32_t pkt_src(const uint8_t *p);
uint32_t pkt_dst(const uint8_t *p);
uint16_t pkt_sport(const uint8_t *p);	/* TCP/UDP port; ICMP: the identifier */
uint16_t pkt_dport(const uint8_t *p);
#endif
