/* TCP MSS clamping on tunnel traffic: a SYN whose MSS option would let the hosts send
 * segments that no longer fit the path after ESP encapsulation gets a smaller MSS, so
 * TCP works even where ICMP "fragmentation needed" is filtered (PMTUD black holes). */
#ifndef TSUNAGI_ESP_MSS_CLAMP_H
#define TSUNAGI_ESP_MSS_CLAMP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/spd.h"

/* Lowers the MSS option of a TCP SYN in pkt (parsed as t) to mss if it is larger,
 * fixing the TCP checksum incrementally (RFC 1624). Fragments other than the first,
 * and first fragments that end inside the TCP options, are left alone. Returns true
 * if it changed. */
bool mss_clamp(uint8_t *pkt, const struct pkt_tuple *t, uint16_t mss);
#endif
