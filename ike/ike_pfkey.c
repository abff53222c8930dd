/* Messages from the ESP engine: ACQUIRE (a packet hit a trap policy: negotiate),
 * EXPIRE (soft: rekey the CHILD_SA; hard: it is gone, delete it with the peer) and
 * X_NAT_T_NEW_MAPPING (the peer's NAT moved: follow it). */
#include <stdio.h>
#include <string.h>

#include "ike/ike_private.h"

static void acquire(struct ike *core, const struct pfkey_msg *m)
{
	struct pfkey_acquire a;
	char err[256];
	if (pfkey_msg_acquire(m, &a, err, sizeof(err)) < 0) {
		log_err(LOG_KNL, "invalid ACQUIRE from the ESP engine: %s", err);
		return;
	}
	for (struct conn *c = core->conns; c; c = c->next) {
		if (c->retired)
			continue;
		for (struct child_cfg *cc = c->cfg->children; cc; cc = cc->next) {
			if (cc->reqid != a.policy.reqid)
				continue;
			/* One negotiation at a time per connection. */
			for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
				if (sa->conn != c || sa->state == IKE_DESTROYING)
					continue;
				for (struct child_sa *x = sa->children; x; x = x->next)
					if (x->reqid == cc->reqid)
						return;
				if (sa->state == IKE_CONNECTING || sa->req.kind == TASK_CHILD_CREATE)
					return;
			}
			log_info(LOG_KNL, "acquiring CHILD_SA '%s' (reqid %u) on traffic", cc->name,
				 cc->reqid);
			ike_initiate(core, c->cfg->name, cc->name, core->now, NULL, 0);
			return;
		}
	}
	log_info(LOG_KNL, "ACQUIRE for reqid %u matches no connection", a.policy.reqid);
}

static void expire(struct ike *core, const struct pfkey_msg *m)
{
	struct pfkey_sa psa;
	char err[256];
	if (pfkey_msg_sa(m, &psa, err, sizeof(err)) < 0) {
		log_err(LOG_KNL, "invalid EXPIRE from the ESP engine: %s", err);
		return;
	}
	bool hard = pfkey_msg_expire_is_hard(m);
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state != IKE_ESTABLISHED)
			continue;
		for (struct child_sa *c = sa->children; c; c = c->next) {
			if (c->spi_in != psa.spi && c->spi_out != psa.spi)
				continue;
			log_info(LOG_KNL, "%s expire for CHILD_SA %s{%u} (SPI %08x)",
				 hard ? "hard" : "soft", c->cfg->name, c->uniqueid, psa.spi);
			if (hard)
				ike_sa_queue(sa, TASK_CHILD_DELETE, NULL, c->uniqueid);
			else if (c->state == CHILD_INSTALLED)
				ike_sa_queue(sa, TASK_CHILD_REKEY, NULL, c->uniqueid);
			return;
		}
	}
}

/* Why an IKE SA must not follow an ESP packet to a new address or port, or NULL.
 * RFC 7296 2.23: a host that is not behind a NAT SHOULD follow an integrity-checked
 * packet's new address and port; one behind a NAT SHOULD NOT (an attacker could break
 * the connection with one packet). So, as strongSwan: the peer behind a NAT, we not;
 * the address may change as well as the port (a NAT that restarted with another
 * public address), as for an IKE message. */
static const char *mapping_refused(const struct ike_sa *sa, const struct pfkey_mapping *mp)
{
	if (sa->state != IKE_ESTABLISHED && sa->state != IKE_REKEYING)
		return "its IKE SA is not established";
	if (!sa->natt)
		return "no UDP encapsulation";
	if (sa->nat_here)
		return "we are behind a NAT (RFC 7296 2.23)";
	if (!sa->nat_there)
		return "the peer is not behind a NAT";
	if (mp->new_peer.family != sa->remote.family || !mp->new_peer.port)
		return "not an address of the peer's family with a port";
	return NULL;
}

static void mapping_ignored(struct ike *core, const struct pfkey_mapping *mp, const char *why)
{
	char a[ADDR_STRLEN];
	core->st.nat_mappings_ignored++;
	if (ike_log_allowed(core, DROP_MAPPING))
		log_info(LOG_KNL, "NEW_MAPPING of SA %08x to %s ignored: %s", mp->spi,
			 addr_fmt(&mp->new_peer, a, sizeof(a)), why);
}

/* The engine's ESP-in-UDP inbound SA (its ICV checked) got a packet from a new
 * address or port: the IKE SA owning that SA moves there with every child. */
static void new_mapping(struct ike *core, const struct pfkey_msg *m)
{
	struct pfkey_mapping mp;
	char err[256];
	if (pfkey_msg_new_mapping(m, &mp, err, sizeof(err)) < 0) {
		core->st.nat_mappings_ignored++;
		log_err(LOG_KNL, "invalid NEW_MAPPING from the ESP engine: %s", err);
		return;
	}
	for (struct ike_sa *sa = core->sas; sa; sa = sa->next) {
		if (sa->state == IKE_DESTROYING)
			continue;
		/* Only an inbound SA: its packets are the peer's, authenticated. */
		for (struct child_sa *c = sa->children; c; c = c->next) {
			if (c->spi_in != mp.spi || !c->keys_in)
				continue;
			const char *why = mapping_refused(sa, &mp);
			if (why) {
				mapping_ignored(core, &mp, why);
				return;
			}
			core->st.nat_mappings++;
			ike_follow_peer(sa, &sa->local, &mp.new_peer);
			ike_sa_touch(sa);	/* a child that could not follow rekeys now */
			return;
		}
	}
	mapping_ignored(core, &mp, "no CHILD_SA has that inbound SPI");
}

void ike_pfkey_input(struct ike *core, const uint8_t *msg, size_t len, ms_t now)
{
	struct pfkey_msg m;
	char err[256];
	core->now = now;
	if (pfkey_decode(msg, len, &m, err, sizeof(err)) < 0) {
		log_err(LOG_KNL, "invalid PF_KEY message from the ESP engine: %s", err);
		return;
	}
	switch (m.hdr->sadb_msg_type) {
	case SADB_ACQUIRE:
		acquire(core, &m);
		break;
	case SADB_EXPIRE:
		expire(core, &m);
		break;
	case SADB_X_NAT_T_NEW_MAPPING:
		new_mapping(core, &m);
		break;
	default:
		log_ctl(LOG_KNL, "ignoring PF_KEY %s from the ESP engine",
			pfkey_type_name(m.hdr->sadb_msg_type));
	}
}
