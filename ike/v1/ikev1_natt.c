/* IKEv1 NAT traversal (RFC 3947 and draft-ietf-ipsec-nat-t-ike-02/03): NAT-D in the key
 * exchange messages, NAT-OA in Quick Mode for transport mode, and the encapsulation
 * modes. The drafts differ from the RFC only in numbers: the payload types (130, 131
 * instead of 20, 21) and the UDP encapsulation modes (61443, 61444 instead of 3, 4).
 * Which ones an SA uses follows the vendor ID the two sides agreed on. */
#include <stdio.h>
#include <string.h>

#include "ike/v1/ikev1.h"

static bool draft(uint8_t natt)
{
	return natt != NATT_NONE && natt != NATT_RFC3947;
}

uint8_t ikev1_natd_type(uint8_t natt)
{
	return draft(natt) ? ISAKMP_PL_NAT_D_DRAFT : ISAKMP_PL_NAT_D;
}

uint16_t ikev1_natt_encap(uint8_t natt, bool transport)
{
	if (draft(natt))
		return transport ? ISAKMP_ENCAP_UDP_TRANSPORT_DRAFT : ISAKMP_ENCAP_UDP_TUNNEL_DRAFT;
	return transport ? ISAKMP_ENCAP_UDP_TRANSPORT : ISAKMP_ENCAP_UDP_TUNNEL;
}

/* NAT-D (RFC 3947 3.2): the peer's address as we send to it, then ours (encap = yes:
 * one that cannot match, so both sides see a NAT and float). */
void ikev1_add_natd(struct ike_sa *sa, struct isakmp_builder *k)
{
	uint8_t h[64];
	uint8_t type = ikev1_natd_type(sa->v1->natt_ver);
	uint16_t prf = proposal_get(sa->prop, XF_PRF)->id;
	size_t n = isakmp_natd_hash(prf, sa->spi_i, sa->spi_r, &sa->remote, h);
	isb_natd(k, type, h, n);
	n = isakmp_natd_hash(prf, sa->spi_i, sa->spi_r, &sa->local, h);
	if (sa->conn->cfg->encap)
		crypto_random(h, n);
	isb_natd(k, type, h, n);
}

/* The peer's NAT-D: the first hash is our address as it sent to it, the others its own
 * (one per address it may have sent from). */
void ikev1_check_natd(struct ike_sa *sa, const struct v1_msg *m)
{
	uint8_t h[64];
	char tag[128];
	uint16_t prf = proposal_get(sa->prop, XF_PRF)->id;
	const struct isakmp_payloads *pl = &m->pl;
	if (pl->n_natd < 2)
		return;
	size_t n = isakmp_natd_hash(prf, sa->spi_i, sa->spi_r, &m->local, h);
	sa->nat_here = !(pl->natd[0].len == n && memcmp(pl->natd[0].p, h, n) == 0);
	n = isakmp_natd_hash(prf, sa->spi_i, sa->spi_r, &m->remote, h);
	sa->nat_there = true;
	for (size_t i = 1; i < pl->n_natd; i++)
		if (pl->natd[i].len == n && memcmp(pl->natd[i].p, h, n) == 0)
			sa->nat_there = false;
	if (sa->nat_here || sa->nat_there)
		log_info(LOG_IKE, "%s: NAT detected (%s%s)", ike_sa_tag(sa, tag, sizeof(tag)),
			 sa->nat_here ? "local" : "",
			 sa->nat_there ? (sa->nat_here ? ", remote" : "remote") : "");
}

/* NAT-OA (RFC 3947 5.2): in transport mode over a NAT, each side says the original
 * addresses, initiator's first (a peer behind a NAT needs them to fix TCP/UDP
 * checksums). Tunnel mode needs none. */
void ikev1_add_natoa(struct ike_sa *sa, struct isakmp_builder *k)
{
	uint8_t type = draft(sa->v1->natt_ver) ? ISAKMP_PL_NAT_OA_DRAFT : ISAKMP_PL_NAT_OA;
	const struct addr *i = sa->initiator ? &sa->local : &sa->remote;
	const struct addr *r = sa->initiator ? &sa->remote : &sa->local;
	isb_natoa(k, type, i);
	isb_natoa(k, type, r);
}

void ikev1_log_natoa(struct ike_sa *sa, const struct v1_msg *m)
{
	char tag[128], oi[ADDR_STRLEN], or[ADDR_STRLEN];
	if (m->pl.n_natoa != 2)
		return;
	log_info(LOG_IKE, "%s: NAT-OA: initiator %s, responder %s",
		 ike_sa_tag(sa, tag, sizeof(tag)), addr_ntop(&m->pl.natoa[0].addr, oi, sizeof(oi)),
		 addr_ntop(&m->pl.natoa[1].addr, or, sizeof(or)));
}
