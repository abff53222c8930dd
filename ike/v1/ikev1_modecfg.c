/* IKEv1 Mode Config (draft-dukes-ike-mode-cfg-02) after Phase 1 and XAuth: the server
 * hands the client a virtual IP from the connection's pools (the same allocator as
 * IKEv2, ike/ike_vip.c), with the pool's netmask, DNS and NBNS servers, its subnets
 * as split-include networks (Cisco Unity's UNITY_SPLIT_INCLUDE, as strongSwan's unity
 * plugin reads them, and INTERNAL_IP4_SUBNET) and its numbered attributes (the default
 * domain: 28674 = example.org).
 *   pull (pull = yes, strongSwan's default): client REQUEST -> server REPLY
 *   push (pull = no):                        server SET     -> client ACK
 * Pull: the server is up once the user is authenticated and answers a REQUEST when it
 * comes; push: it is up when the client acknowledged the SET. The client (vips =
 * 0.0.0.0) waits for its address before its first Quick Mode, whose local selector
 * (local_ts = dynamic) is then the virtual IP, as the server's remote_ts = dynamic is.
 * The lease is kept for the XAuth user (or the peer's identity without XAuth) and
 * released when the ISAKMP SA goes. IPv4 only. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ike/v1/ikev1.h"
#include "ike/v1/isakmp_attr.h"

/* The ISAKMP SA this one replaces (a Phase 1 renewal, by either side): the one it
 * renews, else an established one of the same connection, peer address and XAuth user
 * that holds a virtual IP. Its address is asked for and handed out again, so that the
 * CHILD_SAs that move over keep their selectors. NULL when there is none. */
static struct ike_sa *predecessor(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	struct ike_sa *o = sa->v1->renews ? ike_sa_by_id(core, sa->v1->renews) : NULL;
	if (o && o->v1 && o->n_vips)
		return o;
	for (o = core->sas; o; o = o->next)
		if (o != sa && o->v1 && o->n_vips && o->state == IKE_ESTABLISHED &&
		    o->conn == sa->conn && addr_equal_ip(&o->remote, &sa->remote) &&
		    strcmp(o->v1->xauth_user, sa->v1->xauth_user) == 0)
			return o;
	return NULL;
}

/* Its virtual IP of one kind: leased to the peer (server) or assigned to us. */
static const struct addr *vip_of(const struct ike_sa *o, bool leased)
{
	for (size_t i = 0; o && i < o->n_vips; i++)
		if ((o->vips[i].pool != NULL) == leased)
			return &o->vips[i].addr;
	return NULL;
}

/* ---- server ---- */

/* The pool's IPv4 subnets: INTERNAL_IP4_SUBNET each (address, mask) and one
 * UNITY_SPLIT_INCLUDE (address, mask, 6 bytes of protocol and ports = 0 each). */
static void put_subnets(struct buf *b, const struct pool_cfg *pc)
{
	uint8_t unity[ISAKMP_CFG_MAX_ATTR_LEN];
	size_t n = 0;
	for (size_t i = 0; i < pc->n_subnets; i++) {
		const struct selector *s = &pc->subnets[i];
		int plen = selector_prefixlen(s);
		if (s->family != AF_INET || plen < 0 || n + 14 > sizeof(unity))
			continue;
		uint8_t net[8];
		memcpy(net, s->lo, 4);
		for (int j = 0; j < 4; j++) {
			int bits = plen - j * 8;
			net[4 + j] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		}
		isb_attr_var(b, CFG_INTERNAL_IP4_SUBNET, net, 8);
		memcpy(unity + n, net, 8);
		memset(unity + n + 8, 0, 6);
		n += 14;
	}
	if (n)
		isb_attr_var(b, UNITY_SPLIT_INCLUDE, unity, (uint16_t)n);
}

/* The peer's address and the pool's attributes; false when no address is left. */
static bool put_lease(struct ike_sa *sa, struct buf *b, const struct addr *requested)
{
	struct addr vip;
	const struct addr *prev = vip_of(predecessor(sa), true);
	if (prev && (!requested || addr_is_any(requested)))
		requested = prev;
	if (ike_vip_acquire(sa, requested, &vip) != POOL_OK)
		return false;
	isb_attr_var(b, CFG_INTERNAL_IP4_ADDRESS, vip.u.b, 4);
	const struct pool_cfg *pc = NULL;
	for (size_t i = 0; i < sa->n_vips; i++)
		if (sa->vips[i].pool && addr_equal_ip(&sa->vips[i].addr, &vip)) {
			struct pool *p = pools_find(sa->core->pools, sa->vips[i].pool);
			pc = p ? pools_cfg(sa->core->pools, p) : NULL;
		}
	if (!pc)
		return true;
	for (size_t i = 0; i < pc->n_netmask; i++)
		if (pc->netmask[i].family == AF_INET)
			isb_attr_var(b, CFG_INTERNAL_IP4_NETMASK, pc->netmask[i].u.b, 4);
	for (size_t i = 0; i < pc->n_dns; i++)
		if (pc->dns[i].family == AF_INET)
			isb_attr_var(b, CFG_INTERNAL_IP4_DNS, pc->dns[i].u.b, 4);
	for (size_t i = 0; i < pc->n_nbns; i++)
		if (pc->nbns[i].family == AF_INET)
			isb_attr_var(b, CFG_INTERNAL_IP4_NBNS, pc->nbns[i].u.b, 4);
	put_subnets(b, pc);
	for (size_t i = 0; i < pc->n_custom; i++)	/* UNITY_DEF_DOMAIN and the like */
		isb_attr_var(b, pc->custom[i].type, (const uint8_t *)pc->custom[i].value,
			     (uint16_t)strlen(pc->custom[i].value));
	return true;
}

/* Push: SET with the lease; the SA is up on the ACK. */
static void server_push(struct ike_sa *sa)
{
	struct ikev1_sa *v = sa->v1;
	struct isakmp_builder k;
	size_t h = ikev1_txn_begin(sa, &k);
	crypto_random(&v->txn.id, sizeof(v->txn.id));
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_SET, v->txn.id);
	if (!put_lease(sa, &k.b, NULL)) {
		isb_free(&k);
		sa->core->st.vip_failures++;
		log_err(LOG_IKE, "%s: Mode Config: no virtual IP to push, deleting the ISAKMP SA",
			ike_sa_name(sa));
		ikev1_delete_all(sa);
		return;
	}
	isb_end(&k, off);
	v->state = MODECFG_WAIT_ACK;
	ikev1_txn_send(sa, &k, h, NULL);
}

/* Pull: the client's REQUEST, answered with the lease (the address it asks for, if it
 * names one and the pool has it free). */
static void server_reply(struct ike_sa *sa, const struct v1_msg *m, const struct isakmp_cfg *c)
{
	const struct isakmp_attr *a = isakmp_cfg_find(c, CFG_INTERNAL_IP4_ADDRESS);
	struct addr want = { .family = AF_INET };
	if (a && !a->basic && a->len == 4)
		memcpy(want.u.b, a->data, 4);
	struct isakmp_builder k;
	size_t h = ikev1_txn_begin(sa, &k);
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_REPLY, c->id);
	if (a && !put_lease(sa, &k.b, &want)) {
		sa->core->st.vip_failures++;
		log_err(LOG_IKE, "%s: Mode Config: no virtual IP for the client, replying without "
			"one", ike_sa_name(sa));
	}
	isb_end(&k, off);
	ikev1_txn_send(sa, &k, h, m);
}

/* ---- client ---- */

/* An assigned address: the one the SA we renew has moves over (it stays on the TUN
 * device), another one is installed. */
static void take_vip(struct ike_sa *sa, const struct addr *vip)
{
	struct ike_sa *o = predecessor(sa);
	for (size_t i = 0; o && i < o->n_vips; i++) {
		if (o->vips[i].pool || !addr_equal_ip(&o->vips[i].addr, vip) ||
		    sa->n_vips >= CONF_MAX_VIPS)
			continue;
		sa->vips[sa->n_vips++] = o->vips[i];
		memmove(&o->vips[i], &o->vips[i + 1], (o->n_vips - i - 1) * sizeof(o->vips[0]));
		o->n_vips--;
		log_info(LOG_IKE, "%s: Mode Config: keeping virtual IP %s", ike_sa_name(sa),
			 addr_ntop(vip, (char[ADDR_STRLEN]){ 0 }, ADDR_STRLEN));
		return;
	}
	ike_vip_assigned(sa, vip);
}

/* The assigned address and what came with it: the address on our TUN (env.vip), DNS
 * and the rest logged. false without a usable address. */
static bool take_config(struct ike_sa *sa, const struct isakmp_cfg *c)
{
	struct ikev1_sa *v = sa->v1;
	char s[ADDR_STRLEN];
	const struct isakmp_attr *a = isakmp_cfg_find(c, CFG_INTERNAL_IP4_ADDRESS);
	if (!a || a->basic || a->len != 4) {
		log_err(LOG_IKE, "%s: Mode Config: the server assigned no virtual IP",
			ike_sa_name(sa));
		return false;
	}
	struct addr vip = { .family = AF_INET };
	memcpy(vip.u.b, a->data, 4);
	take_vip(sa, &vip);
	v->n_dns = 0;
	for (size_t i = 0; i < c->n_attrs; i++) {
		const struct isakmp_attr *x = &c->attrs[i];
		if (x->type == CFG_INTERNAL_IP4_DNS && !x->basic && x->len == 4 &&
		    v->n_dns < sizeof(v->dns) / sizeof(v->dns[0])) {
			struct addr d = { .family = AF_INET };
			memcpy(d.u.b, x->data, 4);
			v->dns[v->n_dns++] = d;
			log_info(LOG_IKE, "%s: Mode Config: DNS server %s", ike_sa_name(sa),
				 addr_ntop(&d, s, sizeof(s)));
		} else if (x->type == UNITY_DEF_DOMAIN && !x->basic) {
			log_info(LOG_IKE, "%s: Mode Config: default domain %.*s", ike_sa_name(sa),
				 (int)(x->len > 253 ? 253 : x->len), x->data);
		} else if (x->type == UNITY_SPLIT_INCLUDE && !x->basic) {
			for (size_t o = 0; o + 8 <= x->len; o += 14)
				log_info(LOG_IKE, "%s: Mode Config: split include %u.%u.%u.%u mask "
					 "%u.%u.%u.%u", ike_sa_name(sa), x->data[o], x->data[o + 1],
					 x->data[o + 2], x->data[o + 3], x->data[o + 4], x->data[o + 5],
					 x->data[o + 6], x->data[o + 7]);
		}
	}
	return true;
}

static void client_pull(struct ike_sa *sa)
{
	struct ikev1_sa *v = sa->v1;
	const struct conn_cfg *cfg = sa->conn->cfg;
	struct isakmp_builder k;
	size_t h = ikev1_txn_begin(sa, &k);
	crypto_random(&v->txn.id, sizeof(v->txn.id));
	size_t off = isb_cfg_begin(&k, ISAKMP_CFG_REQUEST, v->txn.id);
	const struct addr *want = vip_of(predecessor(sa), false);
	if (!want)
		want = &cfg->vips[0];
	if (want->family == AF_INET && !addr_is_any(want))
		isb_attr_var(&k.b, CFG_INTERNAL_IP4_ADDRESS, want->u.b, 4);
	else
		isb_attr_var(&k.b, CFG_INTERNAL_IP4_ADDRESS, NULL, 0);
	isb_attr_var(&k.b, CFG_INTERNAL_IP4_NETMASK, NULL, 0);
	isb_attr_var(&k.b, CFG_INTERNAL_IP4_DNS, NULL, 0);
	isb_attr_var(&k.b, UNITY_DEF_DOMAIN, NULL, 0);
	isb_attr_var(&k.b, UNITY_SPLIT_INCLUDE, NULL, 0);
	isb_end(&k, off);
	v->state = MODECFG_WAIT_REPLY;
	log_info(LOG_IKE, "%s: Mode Config: asking for a virtual IP", ike_sa_name(sa));
	ikev1_txn_send(sa, &k, h, NULL);
}

/* ---- the hooks ---- */

void ikev1_modecfg_start(struct ike_sa *sa)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	if (!sa->initiator && cfg->n_pools && !cfg->pull) {
		server_push(sa);
		return;
	}
	if (sa->initiator && cfg->n_vips) {
		if (cfg->pull) {
			client_pull(sa);
		} else {
			sa->v1->state = MODECFG_WAIT_SET;
			sa->v1->xauth_deadline = sa->core->now +
				(ms_t)(sa->core->t.half_open_timeout_s ?: 30) * 1000;
		}
		return;
	}
	ikev1_ready(sa);
}

/* The client's side of a REPLY or SET: ready with its address, or the SA goes. */
static void take_config_or_delete(struct ike_sa *sa, const struct isakmp_cfg *c)
{
	if (take_config(sa, c))
		ikev1_ready(sa);
	else
		ikev1_delete_all(sa);
}

bool ikev1_modecfg_answer(struct ike_sa *sa, const struct isakmp_cfg *c)
{
	if (sa->v1->state == MODECFG_WAIT_ACK && c->type == ISAKMP_CFG_ACK) {
		ikev1_ready(sa);
		return true;
	}
	if (sa->v1->state == MODECFG_WAIT_REPLY && c->type == ISAKMP_CFG_REPLY) {
		take_config_or_delete(sa, c);
		return true;
	}
	return false;
}

bool ikev1_modecfg_request(struct ike_sa *sa, const struct v1_msg *m, const struct isakmp_cfg *c)
{
	const struct conn_cfg *cfg = sa->conn->cfg;
	if (c->type == ISAKMP_CFG_REQUEST && !sa->initiator && cfg->n_pools &&
	    sa->v1->state == QM_IDLE) {
		server_reply(sa, m, c);
		return true;
	}
	/* A client that asked (pull) takes a SET all the same: a server configured to push
	 * does not answer a REQUEST. */
	if (c->type == ISAKMP_CFG_SET && sa->initiator &&
	    (sa->v1->state == MODECFG_WAIT_SET || sa->v1->state == MODECFG_WAIT_REPLY)) {
		if (sa->v1->txn.active) {
			sa->v1->txn.active = false;
			ike_request_clear(sa);
		}
		struct isakmp_builder k;
		size_t h = ikev1_txn_begin(sa, &k);
		isb_end(&k, isb_cfg_begin(&k, ISAKMP_CFG_ACK, c->id));
		ikev1_txn_send(sa, &k, h, m);
		take_config_or_delete(sa, c);
		return true;
	}
	return false;
}
