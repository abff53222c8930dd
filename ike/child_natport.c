/* Transport mode across the peer's NAT with one port (L2TP/IPsec, UDP 1701): every
 * client behind one NAT uses the same port and shows the NAT's address, so their
 * SAs would have the same selectors and their traffic would be one flow. Each such
 * CHILD_SA of a server (the IKE SA's responder) gets a reqid of its own IKE SA (the engine picks the outbound SA by reqid
 * and peer address), its policies name the peer's NAT-T port in place of the inner
 * port, and its SAs carry the inner port in the NAT-T original address, so the engine
 * maps one to the other (esp/natt_csum.h). */
#include "ike/ike_private.h"

/* The server's side: the IKE SA's responder, its peer behind a NAT. A client never
 * maps (its one server is the only peer at that address). */
static bool nat_server(const struct ike_sa *sa, const struct child_sa *c)
{
	return c->mode == MODE_TRANSPORT && sa->natt && sa->nat_there && !sa->initiator;
}

bool child_nat_port(const struct ike_sa *sa, const struct child_sa *c, uint16_t *inner,
		    uint16_t *outer)
{
	if (!nat_server(sa, c) || c->n_remote_ts != 1)
		return false;
	const struct selector *r = &c->remote_ts[0];
	if (r->port_lo != r->port_hi || r->port_lo == 0 || r->port_lo == sa->remote.port ||
	    (r->proto != IPPROTO_UDP && r->proto != IPPROTO_TCP))
		return false;
	*inner = r->port_lo;
	*outer = sa->remote.port;
	return true;
}

void child_nat_reqid(struct ike_sa *sa, struct child_sa *c)
{
	if (!nat_server(sa, c))
		return;
	/* a renewal keeps its predecessor's reqid (and so its policies) */
	for (const struct child_sa *o = sa->children; o; o = o->next) {
		if (o != c && o->cfg == c->cfg && o->nat_reqid) {
			c->reqid = o->reqid;
			c->nat_reqid = true;
			return;
		}
	}
	c->reqid = sa->core->next_reqid++;
	c->nat_reqid = true;
}
