/* Incremental Internet checksum update (RFC 1624): for rewriting header fields
 * (NAT, MSS clamping) without summing the whole packet again. Values are host
 * order; the checksum is the field as read with get_u16(). */
#ifndef TSUNAGI_LIB_CSUM_H
#define TSUNAGI_LIB_CSUM_H
#include <stdint.h>

/* HC' = ~(~HC + ~m + m') for one 16-bit word (RFC 1624 eqn. 3). */
static inline uint16_t csum_update(uint16_t hc, uint16_t old, uint16_t new)
{
	uint32_t sum = (uint16_t)~hc + (uint16_t)~old + new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The same for a 32-bit field (an IPv4 address): both of its words. */
static inline uint16_t csum_update32(uint16_t hc, uint32_t old, uint32_t new)
{
	hc = csum_update(hc, (uint16_t)(old >> 16), (uint16_t)(new >> 16));
	return csum_update(hc, (uint16_t)old, (uint16_t)new);
}
#endif
