/* The configuration payload in IKE_AUTH (RFC 7296 2.19, 3.15): as responder, a
 * CFG_REQUEST is answered with addresses from the connection's pools and the pool's
 * DNS, NBNS, netmask and (when asked) subnets; as initiator, `vips` are requested and
 * what the CFG_REPLY assigns becomes the SA's virtual IP. strongSwan's rule when no
 * address can be given: FAILED_CP_REQUIRED, no CHILD_SA, and the IKE SA goes. */
#include <stdio.h>
#include <string.h>

#include "ike/ike_private.h"
#include "ike/ikev2_cp.h"

/* Parses the message's CP payload; false when there is none that reads. Bad
 * attributes are logged (one line) and counted. */
static bool cp_of(struct ike_sa *sa, const struct msg_in *m, struct ikev2_cp *cp)
{
	char tag[160];
	const char *err = NULL;
	if (!m->pl.has_cp)
		return false;
	ike_sa_tag(sa, tag, sizeof(tag));
	if (m->pl.n_cp > 1) {
		sa->core->st.cp_bad_attrs++;
		log_err(LOG_IKE, "%s: %u configuration payloads in one message; reading the first",
			tag, m->pl.n_cp);
	}
	if (ikev2_cp_parse(m->pl.cp, m->pl.cp_len, cp, &err) < 0) {
		sa->core->st.cp_bad_attrs++;
		log_err(LOG_IKE, "%s: configuration payload ignored: %s", tag, err);
		return false;
	}
	unsigned bad = cp->n_unknown + cp->n_repeated + cp->n_malformed;
	if (bad) {
		sa->core->st.cp_bad_attrs += bad;
		log_err(LOG_IKE, "%s: configuration payload: %u attribute(s) ignored (%u unknown, "
			"%u repeated, %u malformed; the first: %s type %u, %s)", tag, bad,
			cp->n_unknown, cp->n_repeated, cp->n_malformed,
			ikev2_cfg_attr_name(cp->bad_type), cp->bad_type, cp->bad_why);
	}
	return true;
}

/* The attributes of the pool that gave `a`. */
static void add_pool_attrs(struct ike_sa *sa, const struct ikev2_cp *req, const char *pool,
			   struct ikev2_cp *out)
{
	struct pool *p = pools_find(sa->core->pools, pool);
	const struct pool_cfg *cfg = p ? pools_cfg(sa->core->pools, p) : NULL;
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_dns && out->n_dns < CP_MAX_SERVERS * 2; i++)
		out->dns[out->n_dns++] = cfg->dns[i];
	for (size_t i = 0; i < cfg->n_nbns && out->n_nbns < CP_MAX_SERVERS; i++)
		if (cfg->nbns[i].family == AF_INET)
			out->nbns[out->n_nbns++] = cfg->nbns[i];
	for (size_t i = 0; i < cfg->n_netmask && !out->netmask.family; i++)
		if (cfg->netmask[i].family == AF_INET)
			out->netmask = cfg->netmask[i];
	for (size_t i = 0; i < cfg->n_subnets && out->n_subnets < CP_MAX_SUBNETS; i++) {
		bool v4 = cfg->subnets[i].family == AF_INET;
		if (v4 ? req->want_subnet4 : req->want_subnet6)
			out->subnets[out->n_subnets++] = cfg->subnets[i];
	}
}

/* One family's address; true when the SA has one. */
static bool assign(struct ike_sa *sa, uint8_t family, const struct addr *hint,
		   struct ikev2_cp *out)
{
	struct addr want = { .family = family }, got;
	if (hint->family == family)
		want = *hint;
	if (ike_vip_acquire(sa, &want, &got) != POOL_OK)
		return false;
	if (family == AF_INET) {
		out->ip4 = got;
	} else {
		out->ip6 = got;
		out->ip6_prefix = 128;
	}
	return true;
}

bool ikev2_cp_respond(struct ike_sa *sa, const struct msg_in *m, struct ikev2_builder *k)
{
	struct ikev2_cp req, out = { .type = CFG_REPLY };
	char tag[160], id[IKE_MAX_ID * 2];
	if (!cp_of(sa, m, &req))
		return true;
	if (req.type != CFG_REQUEST) {
		log_info(LOG_IKE, "%s: configuration payload of type %u ignored (not a request)",
			 ike_sa_tag(sa, tag, sizeof(tag)), req.type);
		return true;
	}
	bool asked = req.want_ip4 || req.want_ip6, got = false;
	if (req.want_ip4)
		got |= assign(sa, AF_INET, &req.ip4, &out);
	if (req.want_ip6)
		got |= assign(sa, AF_INET6, &req.ip6, &out);
	if (asked && !got) {
		sa->core->st.vip_failures++;
		log_err(LOG_IKE, "%s: no virtual IP for '%s'; sending FAILED_CP_REQUIRED, no "
			"CHILD_SA, and deleting the IKE_SA", ike_sa_tag(sa, tag, sizeof(tag)),
			identity_fmt(sa->peer_id, id, sizeof(id)));
		ikb_notify(k, 0, NULL, 0, N_FAILED_CP_REQUIRED, NULL, 0);
		return false;
	}
	for (size_t i = 0; i < sa->n_vips; i++)
		if (sa->vips[i].pool)
			add_pool_attrs(sa, &req, sa->vips[i].pool, &out);
	if (!asked && sa->conn->cfg->n_pools) {
		/* Attributes only (no address asked for): the first pool's. */
		add_pool_attrs(sa, &req, sa->conn->cfg->pools[0], &out);
	}
	ikb_cp(k, &out);
	return true;
}

void ikev2_cp_request(struct ike_sa *sa, struct ikev2_builder *k)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	struct ikev2_cp req = { .type = CFG_REQUEST };
	if (cfg->n_vips == 0)
		return;
	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct addr *v = &cfg->vips[i];
		if (v->family == AF_INET) {
			req.want_ip4 = req.want_dns4 = true;
			if (!addr_is_any(v))
				req.ip4 = *v;
		} else {
			req.want_ip6 = req.want_dns6 = true;
			if (!addr_is_any(v)) {
				req.ip6 = *v;
				req.ip6_prefix = 128;
			}
		}
	}
	ikb_cp(k, &req);
}

int ikev2_cp_reply_in(struct ike_sa *sa, const struct msg_in *m)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	struct ikev2_cp rep;
	char tag[160], a[ADDR_STRLEN];
	if (cfg->n_vips == 0)
		return 0;
	ike_sa_tag(sa, tag, sizeof(tag));
	if (ikev2_find_notify(&m->pl, N_FAILED_CP_REQUIRED) || !cp_of(sa, m, &rep) ||
	    rep.type != CFG_REPLY || (!rep.ip4.family && !rep.ip6.family)) {
		log_err(LOG_IKE, "%s: virtual IP request failed: the peer %s", tag,
			ikev2_find_notify(&m->pl, N_FAILED_CP_REQUIRED) ?
			"answered FAILED_CP_REQUIRED (no address left for us?)" :
			"assigned no address");
		return -1;
	}
	for (size_t i = 0; i < rep.n_dns; i++)
		log_info(LOG_IKE, "%s: peer's DNS server %s (not installed: tsunagid leaves "
			 "resolv.conf alone)", tag, addr_ntop(&rep.dns[i], a, sizeof(a)));
	if (rep.ip4.family)
		ike_vip_assigned(sa, &rep.ip4);
	if (rep.ip6.family)
		ike_vip_assigned(sa, &rep.ip6);
	return 0;
}
