/* Virtual IPs of an IKE SA, for both IKE versions. As responder: leases from the
 * connection's pools, by the peer's identity, released (kept offline for it) when the
 * SA ends. As initiator: the addresses the peer assigned, which the shell installs
 * on its TUN device (env.vip) and removes when the SA ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"

/* The identity a lease is kept for: the XAuth user of an IKEv1 SA (its group PSK's IKE
 * identity is shared by all users), the EAP identity of a peer that logged in with EAP
 * (strongSwan's remote EAP identity: EAP clients often share one IKE identity), else the
 * peer's IKE identity. */
static const char *lease_id(const struct ike_sa *sa, char *buf, size_t len)
{
	const char *user = ikev1_xauth_user(sa);
	if (user)
		return user;
	if (sa->eap_peer)
		return sa->eap_peer;
	return identity_fmt(sa->peer_id, buf, len);
}

int ike_vip_acquire(struct ike_sa *sa, const struct addr *requested, struct addr *out)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	char idbuf[IKE_MAX_ID * 2], tag[160], a[ADDR_STRLEN];
	uint8_t family = requested && requested->family ? requested->family : AF_INET;
	const char *id = lease_id(sa, idbuf, sizeof(idbuf));
	ike_sa_tag(sa, tag, sizeof(tag));
	for (size_t i = 0; i < sa->n_vips; i++) {
		/* One address per family: a repeated request gets the same one. */
		if (sa->vips[i].pool && sa->vips[i].addr.family == family) {
			*out = sa->vips[i].addr;
			return POOL_OK;
		}
	}
	if (cfg->n_pools == 0) {
		log_info(LOG_IKE, "%s: '%s' asks for a virtual IP, but connection '%s' has no "
			 "pools", tag, id, cfg->name);
		return POOL_UNKNOWN;
	}
	if (sa->n_vips >= CONF_MAX_VIPS)
		return POOL_EXHAUSTED;
	struct addr want = { .family = family };
	if (requested && requested->family)
		want = *requested;
	struct pool *from;
	int rc = pools_acquire(sa->core->pools, cfg->pools, cfg->n_pools, id, &sa->remote,
			       &want, out, &from);
	char *name = rc == POOL_OK ? strdup(pool_name(from)) : NULL;
	if (rc == POOL_OK && !name) {
		pool_release(from, out, id);
		rc = POOL_NOMEM;
	}
	if (rc != POOL_OK) {
		log_err(LOG_IKE, "%s: no virtual IP for '%s' from pools of '%s': %s", tag, id,
			cfg->name, pool_status_str(rc));
		return rc;
	}
	sa->vips[sa->n_vips].addr = *out;
	sa->vips[sa->n_vips].pool = name;
	sa->n_vips++;
	log_info(LOG_IKE, "%s: assigned virtual IP %s to '%s' from pool '%s'", tag,
		 addr_ntop(out, a, sizeof(a)), id, name);
	return POOL_OK;
}

void ike_vip_release_all(struct ike_sa *sa)
{
	char idbuf[IKE_MAX_ID * 2];
	const char *id = lease_id(sa, idbuf, sizeof(idbuf));
	for (size_t i = 0; i < sa->n_vips; i++) {
		struct ike_vip *v = &sa->vips[i];
		if (v->pool)
			pools_release(sa->core->pools, v->pool, &v->addr, id);
		else if (sa->core->env.vip)
			sa->core->env.vip(sa->core->env.arg, sa, &v->addr, false);
		free(v->pool);
		v->pool = NULL;
	}
	sa->n_vips = 0;
}

void ike_vip_move(struct ike_sa *to, struct ike_sa *from)
{
	/* The reqids go with the children, also when the new SA holds the lease already
	 * (an IKEv1 renewal gets it again by Mode Config). */
	if (!to->n_vip_reqids && from->n_vip_reqids) {
		memcpy(to->vip_reqids, from->vip_reqids, sizeof(to->vip_reqids));
		to->n_vip_reqids = from->n_vip_reqids;
		from->n_vip_reqids = 0;
	}
	if (to->n_vips || !from->n_vips)
		return;
	memcpy(to->vips, from->vips, sizeof(to->vips));
	to->n_vips = from->n_vips;
	memset(from->vips, 0, sizeof(from->vips));
	from->n_vips = 0;
}

uint32_t ike_vip_reqid(struct ike_sa *sa, struct child_cfg *cc)
{
	bool leased = false;
	for (size_t i = 0; i < sa->n_vips; i++)
		leased |= sa->vips[i].pool != NULL;
	if (!leased) {
		if (!cc->reqid)
			cc->reqid = ike_alloc_reqid(sa->core, cc);
		return cc->reqid;
	}
	for (size_t i = 0; i < sa->n_vip_reqids; i++)
		if (sa->vip_reqids[i].cfg == cc)
			return sa->vip_reqids[i].reqid;
	uint32_t reqid = sa->core->next_reqid++;
	if (sa->n_vip_reqids < sizeof(sa->vip_reqids) / sizeof(sa->vip_reqids[0])) {
		sa->vip_reqids[sa->n_vip_reqids].cfg = cc;
		sa->vip_reqids[sa->n_vip_reqids++].reqid = reqid;
	}
	return reqid;
}

static void whole_family(uint8_t family, struct selector *s)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->port_hi = 65535;
	memset(s->hi, 0xff, family == AF_INET ? 4 : 16);
}

size_t ike_vip_dynamic(const struct ike_sa *sa, bool local, struct selector *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < sa->n_vips && n < max; i++)
		if ((sa->vips[i].pool == NULL) == local)
			selector_from_addr(&out[n++], &sa->vips[i].addr);
	if (n || max == 0)
		return n;
	/* Requested and not (yet) assigned: the initiator proposes all of the family. */
	const struct conn_cfg *cfg = sa->conn ? sa->conn->cfg : NULL;
	if (local && cfg && sa->initiator)
		for (size_t i = 0; i < cfg->n_vips && n < max; i++)
			whole_family(cfg->vips[i].family, &out[n++]);
	if (n == 0)
		selector_from_addr(&out[n++], local ? &sa->local : &sa->remote);
	return n;
}

void ike_vip_assigned(struct ike_sa *sa, const struct addr *a)
{
	char tag[160], s[ADDR_STRLEN];
	for (size_t i = 0; i < sa->n_vips; i++)
		if (!sa->vips[i].pool && addr_equal_ip(&sa->vips[i].addr, a))
			return;
	if (sa->n_vips >= CONF_MAX_VIPS)
		return;
	sa->vips[sa->n_vips].addr = *a;
	sa->vips[sa->n_vips].addr.port = 0;
	sa->vips[sa->n_vips].pool = NULL;
	sa->n_vips++;
	log_info(LOG_IKE, "%s: installing new virtual IP %s", ike_sa_tag(sa, tag, sizeof(tag)),
		 addr_ntop(a, s, sizeof(s)));
	if (sa->core->env.vip)
		sa->core->env.vip(sa->core->env.arg, sa, a, true);
}
