/* IKEv1 SA payloads <-> tsunagi's proposal model (ike/proposal.h).
 * Phase 1 (RFC 2409 Appendix A): one ISAKMP proposal whose transforms (KEY_IKE) each
 * carry one combination of encryption (+ key length), hash, authentication method,
 * group and lifetime; the hash gives both the PRF (its HMAC) and the integrity
 * algorithm of tsunagi's model.
 * Phase 2 (RFC 2407 4.4.4, 4.5): ESP proposals whose transform ID is the cipher and
 * whose attributes give the authentication algorithm, key length, group (PFS),
 * encapsulation mode (RFC 3947 and draft values) and lifetimes. The IANA numbers of
 * ESP transform IDs and IKEv2 ENCR IDs are the same; group descriptions and IKEv2 DH
 * IDs too. */
#ifndef TSUNAGI_ISAKMP_SA_H
#define TSUNAGI_ISAKMP_SA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/proposal.h"
#include "ike/v1/isakmp_msg.h"

/* Phase 1 attribute types and values (RFC 2409 Appendix A). */
enum isakmp_p1_attr {
	P1_ENCR = 1, P1_HASH = 2, P1_AUTH = 3, P1_GROUP = 4, P1_LIFE_TYPE = 11,
	P1_LIFE_DURATION = 12, P1_KEY_LENGTH = 14,
};
enum { P1_ENCR_3DES = 5, P1_ENCR_AES_CBC = 7 };
enum { P1_HASH_MD5 = 1, P1_HASH_SHA1 = 2, P1_HASH_SHA2_256 = 4, P1_HASH_SHA2_384 = 5,
       P1_HASH_SHA2_512 = 6 };
#define ISAKMP_AUTH_PSK 1
#define ISAKMP_AUTH_RSA_SIG 3
#define ISAKMP_AUTH_ECDSA_256 9		/* RFC 4754: the numbers are IKEv2's methods */
#define ISAKMP_AUTH_ECDSA_384 10
#define ISAKMP_AUTH_ECDSA_521 11
#define ISAKMP_AUTH_XAUTH_INIT_PSK 65001	/* draft-beaulieu-ike-xauth-02 */
#define ISAKMP_AUTH_XAUTH_INIT_RSA 65005	/* not 65003: that is XAUTHInitDSS */
/* Signatures (RSA, ECDSA of RFC 4754) rather than a pre-shared key. */
#define ISAKMP_AUTH_IS_SIG(m) ((m) == ISAKMP_AUTH_RSA_SIG || (m) == ISAKMP_AUTH_XAUTH_INIT_RSA || \
			       ((m) >= ISAKMP_AUTH_ECDSA_256 && (m) <= ISAKMP_AUTH_ECDSA_521))
#define ISAKMP_AUTH_IS_XAUTH(m) ((m) == ISAKMP_AUTH_XAUTH_INIT_PSK || (m) == ISAKMP_AUTH_XAUTH_INIT_RSA)
#define ISAKMP_KEY_IKE 1	/* the transform ID of Phase 1 */

/* Phase 2 (IPsec DOI) attribute types and values (RFC 2407 4.5, RFC 3947, RFC 4304). */
enum isakmp_p2_attr {
	P2_LIFE_TYPE = 1, P2_LIFE_DURATION = 2, P2_GROUP = 3, P2_ENCAP = 4, P2_AUTH = 5,
	P2_KEY_LENGTH = 6, P2_ESN = 11,
};
enum isakmp_encap {
	ISAKMP_ENCAP_TUNNEL = 1, ISAKMP_ENCAP_TRANSPORT = 2,
	ISAKMP_ENCAP_UDP_TUNNEL = 3, ISAKMP_ENCAP_UDP_TRANSPORT = 4,
	ISAKMP_ENCAP_UDP_TUNNEL_DRAFT = 61443, ISAKMP_ENCAP_UDP_TRANSPORT_DRAFT = 61444,
};
enum { P2_AUTH_HMAC_MD5 = 1, P2_AUTH_HMAC_SHA1 = 2, P2_AUTH_HMAC_SHA2_256 = 5,
       P2_AUTH_HMAC_SHA2_384 = 6, P2_AUTH_HMAC_SHA2_512 = 7 };
#define ISAKMP_LIFE_SECONDS 1
#define ISAKMP_LIFE_KILOBYTES 2

/* What a transform carries besides algorithms. 0 = absent / not sent. */
struct isakmp_sa_params {
	uint16_t auth_method;		/* Phase 1 */
	uint16_t encap;			/* Phase 2: enum isakmp_encap */
	uint32_t life_seconds, life_kbytes;
};

bool isakmp_encap_is_udp(uint16_t encap);
bool isakmp_encap_is_tunnel(uint16_t encap);

/* Builds the initiator's SA payload. Phase 1: all combinations of each IKE proposal's
 * ciphers (AES-CBC, 3DES; AEADs have no IKEv1 Phase 1 form and are left out), hashes
 * (from the integrity algorithms) and groups, as transforms of one proposal.
 * Phase 2: one proposal per ESP proposal (its SPI must be set, 4 bytes), transforms for
 * each cipher x integrity x group x ESN. -1 if nothing is expressible or more than
 * 255 transforms would be needed. */
int isakmp_sa_build_p1(struct isakmp_builder *k, const struct proposal *props, size_t n,
		       const struct isakmp_sa_params *par);
int isakmp_sa_build_p2(struct isakmp_builder *k, const struct proposal *props, size_t n,
		       const struct isakmp_sa_params *par);

/* The responder's choice: the chosen transform in tsunagi's model (one transform per
 * type; the peer's proposal number and SPI), its parameters, and where it is in the
 * peer's SA so it can be echoed. */
struct isakmp_choice {
	struct proposal prop;
	struct isakmp_sa_params params;
	const struct isakmp_proposal *their_prop;
	struct isakmp_transform xf;
};

/* Selects, as responder, the first of the peer's transforms (in the peer's order) that
 * one of `mine` accepts. Proposals that bundle protocols (ESP+AH, IPCOMP: several
 * proposals with one number) are skipped. On failure why says, per transform, what did
 * not fit ("transform 1: DH group MODP_1024 not configured; ..."). */
bool isakmp_sa_select(const struct isakmp_payloads *pl, const struct proposal *mine,
		      size_t n_mine, struct isakmp_choice *c, char *why, size_t whylen);

/* The responder's SA payload: the peer's SA with only the chosen proposal (with our
 * SPI for Phase 2, spi_len 0 for Phase 1) and the chosen transform as received. */
void isakmp_sa_build_reply(struct isakmp_builder *k, const struct isakmp_payloads *pl,
			   const struct isakmp_choice *c, const uint8_t *our_spi,
			   uint8_t spi_len);
#endif
