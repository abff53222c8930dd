/* Messages from the ESP engine: ACQUIRE (a packet hit a trap policy: negotiate) and
 * EXPIRE (soft: rekey the CHILD_SA; hard: it is gone, delete it with the peer). */
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
	default:
		log_ctl(LOG_KNL, "ignoring PF_KEY %s from the ESP engine",
			pfkey_type_name(m.hdr->sadb_msg_type));
	}
}
