/* IKE_SA_INIT (RFC 7296 1.2): proposals, Diffie-Hellman, nonces, NAT detection (2.23),
 * COOKIE (2.6) and INVALID_KE_PAYLOAD (1.2) retries, and the float to the NAT-T port. */
#include <stdio.h>
#include <string.h>

#include "ike/ike_private.h"
#include "ike/ikev2_frag.h"

#include <sodium.h>

#define MAX_CONN_PROPOSALS 16

size_t conn_proposals(const struct conn_cfg *cfg, struct proposal *out, size_t max)
{
	size_t n = 0;
	char err[256];
	for (size_t i = 0; i < cfg->n_proposals && n < max; i++) {
		int k = proposal_parse(cfg->proposals[i], PROTO_IKE, out + n, max - n, err, sizeof(err));
		if (k > 0)
			n += (size_t)k;
	}
	for (size_t i = 0; i < n; i++)
		out[i].num = (uint8_t)(i + 1);
	return n;
}

bool addr_cfg_matches(char **list, size_t n, const struct addr *a)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		struct addr want;
		struct selector sel;
		if (strcmp(list[i], "%any") == 0 || strcmp(list[i], "%any4") == 0 ||
		    strcmp(list[i], "%any6") == 0)
			return true;
		if (addr_parse(list[i], &want) == 0 && addr_equal_ip(&want, a))
			return true;
		if (strchr(list[i], '/') && selector_parse(list[i], &sel) == 0 &&
		    selector_match(&sel, a->family, a->u.b, 0, 0))
			return true;
	}
	return false;
}

void ikev2_add_natd(struct ike_sa *sa, struct ikev2_builder *k, const struct addr *src,
		    const struct addr *dst)
{
	uint8_t h[20];
	bool force = sa->conn && sa->conn->cfg->encap;
	if (force) {
		/* encap = yes: a source hash that cannot match makes both sides see a NAT,
		 * as strongSwan does. */
		crypto_random(h, sizeof(h));
	} else {
		natd_hash(sa->spi_i, sa->spi_r, src, h);
	}
	ikb_notify(k, 0, NULL, 0, N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	natd_hash(sa->spi_i, sa->spi_r, dst, h);
	ikb_notify(k, 0, NULL, 0, N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
}

/* Returns 0 when the peer sent NAT-D notifies, -1 when not (no NAT-T support). */
/* The hashes are over the SPIs as the message carries them: in the IKE_SA_INIT
 * request the responder's SPI is still zero (RFC 7296 2.23). */
int ikev2_natd_check(struct ike_sa *sa, const struct msg_in *m, bool *nat_here, bool *nat_there)
{
	uint8_t h[20];
	bool have_src = false, src_match = false, have_dst = false, dst_match = false;
	const uint8_t *spi_r = m->hdr.spi_r;
	natd_hash(m->hdr.spi_i, spi_r, &m->remote, h);
	for (size_t i = 0; i < m->pl.n_notify; i++) {
		const struct ikev2_notify *n = &m->pl.notify[i];
		if (n->type == N_NAT_DETECTION_SOURCE_IP) {
			have_src = true;
			src_match |= n->len == 20 && memcmp(n->data, h, 20) == 0;
		}
	}
	natd_hash(m->hdr.spi_i, spi_r, &m->local, h);
	for (size_t i = 0; i < m->pl.n_notify; i++) {
		const struct ikev2_notify *n = &m->pl.notify[i];
		if (n->type == N_NAT_DETECTION_DESTINATION_IP) {
			have_dst = true;
			dst_match |= n->len == 20 && memcmp(n->data, h, 20) == 0;
		}
	}
	if (!have_src || !have_dst)
		return -1;
	*nat_there = !src_match;
	*nat_here = !dst_match;
	return 0;
}

int resolve_endpoints(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	const struct conn_cfg *cfg = sa->conn->cfg;
	char tag[128];
	const char *remote = cfg->remote_addrs[sa->remote_index % cfg->n_remote_addrs];
	if (addr_parse(remote, &sa->remote) < 0) {
		log_err(LOG_IKE, "%s: remote address '%s' is not an IP address",
			ike_sa_tag(sa, tag, sizeof(tag)), remote);
		return -1;
	}
	sa->remote.port = cfg->remote_port ? cfg->remote_port : core->t.port;
	const char *local = cfg->n_local_addrs ? cfg->local_addrs[0] : "%any";
	if (strcmp(local, "%any") != 0 && addr_parse(local, &sa->local) == 0) {
		/* configured */
	} else if (!core->env.route_src ||
		   core->env.route_src(core->env.arg, &sa->remote, &sa->local) < 0) {
		char a[ADDR_STRLEN];
		log_err(LOG_IKE, "%s: no local address found to reach %s", ike_sa_name(sa),
			addr_ntop(&sa->remote, a, sizeof(a)));
		return -1;
	}
	sa->local.port = cfg->local_port ? cfg->local_port : core->t.port;
	/* IKE on the NAT-T port carries the non-ESP marker from the first message on
	 * (RFC 3948 2.2), as after a float. */
	sa->natt = sa->local.port == core->t.port_natt;
	return 0;
}

void ikev2_init_start(struct ike_sa *sa)
{
	struct request *r = &sa->req;
	struct ikev2_builder k;
	char tag[128];

	if (sa->local.family == 0 && resolve_endpoints(sa) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	r->kind = TASK_IKE_INIT;
	struct proposal *offer = ike_request_offer(r);
	r->n_offered = offer ? conn_proposals(sa->conn->cfg, offer, IKEV2_MAX_PROPOSALS) : 0;
	if (r->n_offered == 0) {
		log_err(LOG_IKE, "%s: no usable IKE proposal configured", ike_sa_name(sa));
		ike_sa_destroy(sa);
		return;
	}
	if (!sa->ke_group)
		sa->ke_group = proposal_first_dh(r->offered, r->n_offered);
	/* A retry after COOKIE repeats the same KE and nonce (RFC 7296 2.6). */
	r->dh = sa->dh && dh_group(sa->dh) == sa->ke_group ? sa->dh : dh_new(sa->ke_group);
	if (r->dh != sa->dh)
		dh_free(sa->dh);
	sa->dh = NULL;
	if (!r->dh) {
		log_err(LOG_IKE, "%s: DH group %s not supported", ike_sa_name(sa), dh_name(sa->ke_group));
		ike_sa_destroy(sa);
		return;
	}
	if (!sa->ni_len && ike_sa_set_nonce(sa, true, NULL, IKE_NONCE_LEN) < 0) {
		log_err(LOG_IKE, "%s: out of memory", ike_sa_name(sa));
		ike_sa_destroy(sa);
		return;
	}
	memcpy(r->nonce, sa->ni, IKE_NONCE_LEN);

	struct buf ke;
	buf_init(&ke);
	dh_public(r->dh, &ke);
	ikb_init(&k);
	if (sa->cookie.len)
		ikb_notify(&k, 0, NULL, 0, N_COOKIE, sa->cookie.data, sa->cookie.len);
	ikb_sa(&k, r->offered, r->n_offered);
	ikb_ke(&k, sa->ke_group, ke.data, ke.len);
	ikb_nonce(&k, r->nonce, IKE_NONCE_LEN);
	ikev2_add_natd(sa, &k, &sa->local, &sa->remote);
	ikev2_cert_init_out(sa, &k, false);
	ikev2_frag_notify(sa, &k);
	buf_free(&ke);

	sa->next_msgid = 0;
	ike_sa_set_state(sa, IKE_CONNECTING);
	log_info(LOG_IKE, "initiating IKE_SA %s", ike_sa_tag(sa, tag, sizeof(tag)));
	ike_send_request(sa, IKE_SA_INIT, &k);
	buf_reset(&sa->init_i);
	buf_put(&sa->init_i, sa->req.packet.data, sa->req.packet.len);
}

void ikev2_send_notify_plain(struct ike *core, const struct msg_in *m, uint16_t type,
			     const uint8_t *data, size_t len)
{
	struct ikev2_builder k;
	struct ikev2_hdr h = { 0 };
	struct buf out;
	ikb_init(&k);
	ikb_notify(&k, 0, NULL, 0, type, data, len);
	memcpy(h.spi_i, m->hdr.spi_i, 8);
	h.next_payload = k.first;
	h.exchange = m->hdr.exchange;
	h.flags = IKEV2_FLAG_RESPONSE;
	h.msgid = m->hdr.msgid;
	h.length = (uint32_t)(IKEV2_HDR_LEN + k.b.len);
	buf_init(&out);
	ikev2_put_header(&out, &h);
	buf_put(&out, k.b.data, k.b.len);
	core->st.tx_messages++;
	core->env.send(core->env.arg, &m->local, &m->remote, out.data, out.len);
	buf_free(&out);
	ikb_free(&k);
}

static int derive(struct ike_sa *sa, struct dh *dh, const uint8_t *ke, size_t ke_len)
{
	struct buf gir;
	buf_init(&gir);
	const struct xform *e = proposal_get(sa->prop, XF_ENCR);
	const struct xform *i = proposal_get(sa->prop, XF_INTEG);
	const struct xform *p = proposal_get(sa->prop, XF_PRF);
	int rc = -1;
	ike_keys_wipe(&sa->keys);	/* from an answer that was forgotten */
	if (e && p && dh_shared(dh, ke, ke_len, &gir) == 0)
		rc = ike_derive_keys(&sa->keys, e->id, e->keylen, i ? i->id : INTEG_NONE, p->id,
				     gir.data, gir.len, sa->ni, sa->ni_len, sa->nr, sa->nr_len,
				     sa->spi_i, sa->spi_r, NULL, 0);
	buf_wipe_free(&gir);
	sa->have_keys = rc == 0;
	return rc;
}

static void log_nat(struct ike_sa *sa)
{
	if (sa->nat_here)
		log_info(LOG_IKE, "local host is behind NAT, sending keep alives");
	if (sa->nat_there)
		log_info(LOG_IKE, "remote host is behind NAT");
}

/* Does this IKEv2 connection admit these local and remote addresses? */
static bool conn_admits_addrs(const struct conn *c, const struct addr *local,
			      const struct addr *remote)
{
	const struct conn_cfg *cfg = c->cfg;
	return !c->retired && cfg->version != 1 &&
	       addr_cfg_matches(cfg->local_addrs, cfg->n_local_addrs, local) &&
	       addr_cfg_matches(cfg->remote_addrs, cfg->n_remote_addrs, remote);
}

/* Does one of the connection's IKE proposals accept one of these? */
static bool conn_accepts(const struct conn *c, const struct proposal *props, size_t n,
			 struct proposal *chosen)
{
	struct proposal mine[MAX_CONN_PROPOSALS];
	size_t k = conn_proposals(c->cfg, mine, MAX_CONN_PROPOSALS);
	return proposal_select(mine, k, props, n, chosen);
}

const char *ikev2_conn_unfit(const struct conn *c, const struct ike_sa *sa)
{
	struct proposal chosen;
	if (!conn_admits_addrs(c, &sa->local, &sa->remote))
		return "its local_addrs/remote_addrs do not admit this IKE SA's addresses";
	if (!conn_accepts(c, sa->prop, 1, &chosen))
		return "its IKE proposals do not include this IKE SA's proposal";
	return NULL;
}

/* Responder: pick the first connection whose addresses and proposals fit. */
static struct conn *select_conn(struct ike *core, const struct msg_in *m, struct proposal *chosen,
				bool *addr_match)
{
	*addr_match = false;
	for (struct conn *c = core->conns; c; c = c->next) {
		if (!conn_admits_addrs(c, &m->local, &m->remote))
			continue;
		*addr_match = true;
		if (conn_accepts(c, m->pl.props, m->pl.n_props, chosen))
			return c;
	}
	return NULL;
}

static void log_no_proposal(struct ike *core, const struct msg_in *m)
{
	char theirs[1024], ours[2048] = "", a[ADDR_STRLEN];
	struct proposal mine[MAX_CONN_PROPOSALS];
	proposal_list_fmt(m->pl.props, m->pl.n_props, theirs, sizeof(theirs));
	for (struct conn *c = core->conns; c; c = c->next) {
		if (c->retired)
			continue;
		size_t n = conn_proposals(c->cfg, mine, MAX_CONN_PROPOSALS);
		size_t len = strlen(ours);
		char one[1024];
		proposal_list_fmt(mine, n, one, sizeof(one));
		snprintf(ours + len, sizeof(ours) - len, "%s%s: %s", len ? "; " : "", c->cfg->name, one);
	}
	log_err(LOG_IKE, "proposal mismatch: peer %s offered %s, local accepts %s; "
		"sending NO_PROPOSAL_CHOSEN", addr_ntop(&m->remote, a, sizeof(a)), theirs, ours);
}

/* COOKIE = SHA-256 over a secret, the peer's nonce, address and SPI: no state is kept
 * for a peer until it proves it receives our packets (RFC 7296 2.6). */
static void cookie_compute(struct ike *core, const struct msg_in *m, uint8_t out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, core->cookie_secret, sizeof(core->cookie_secret), 32);
	crypto_generichash_update(&st, m->pl.nonce, m->pl.nonce_len);
	crypto_generichash_update(&st, m->remote.u.b, addr_len(&m->remote));
	crypto_generichash_update(&st, m->hdr.spi_i, 8);
	crypto_generichash_final(&st, out, 32);
}

/* Refused IKE_SA_INITs of the last one to two half-open timeouts (two fixed windows
 * approximate a sliding one). They keep no state, yet count toward the COOKIE
 * threshold as half-open SAs do: a flood of requests that match nothing must switch
 * the responder to COOKIEs too. */
static uint64_t init_refused_recent(struct ike *core)
{
	ms_t win = (ms_t)(core->t.half_open_timeout_s ? core->t.half_open_timeout_s : 30) * 1000;
	if (core->now >= core->init_refused.start + win) {
		bool adjacent = core->now < core->init_refused.start + 2 * win;
		core->init_refused.prev = adjacent ? core->init_refused.cur : 0;
		core->init_refused.cur = 0;
		core->init_refused.start = core->now;
	}
	return core->init_refused.cur + core->init_refused.prev;
}

/* Answers NO_PROPOSAL_CHOSEN and counts the refusal. */
static void refuse_init(struct ike *core, const struct msg_in *m)
{
	init_refused_recent(core);
	core->init_refused.cur++;
	core->st.init_refused++;
	ikev2_send_notify_plain(core, m, N_NO_PROPOSAL_CHOSEN, NULL, 0);
}

/* Under half-open load, a request must carry the COOKIE we handed out. */
static bool cookie_ok(struct ike *core, const struct msg_in *m)
{
	uint8_t want[32];
	if (core->st.half_open + init_refused_recent(core) < core->t.cookie_threshold)
		return true;
	cookie_compute(core, m, want);
	const struct ikev2_notify *n = ikev2_find_notify(&m->pl, N_COOKIE);
	if (n && n->len == sizeof(want) && sodium_memcmp(n->data, want, sizeof(want)) == 0)
		return true;
	ikev2_send_notify_plain(core, m, N_COOKIE, want, sizeof(want));
	core->st.cookies_sent++;
	return false;
}

void ikev2_init_request_in(struct ike *core, struct msg_in *m)
{
	struct proposal chosen;
	bool addr_match;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	/* Nothing here is authenticated yet: every log line is rate limited. */
	if (!m->pl.has_sa || !m->pl.has_ke || !m->pl.nonce) {
		if (ike_log_allowed(core, DROP_MALFORMED))
			log_info(LOG_IKE, "IKE_SA_INIT request from %s lacks SA, KE or nonce, dropped",
				 addr_fmt(&m->remote, a, sizeof(a)));
		core->st.rx_invalid++;
		return;
	}
	if (!cookie_ok(core, m) || !ike_half_open_ok(core, &m->remote, "IKE_SA_INIT"))
		return;
	struct conn *conn = select_conn(core, m, &chosen, &addr_match);
	if (!conn) {
		bool log = ike_log_allowed(core, DROP_INIT_REFUSED);
		if (log && !addr_match)
			log_err(LOG_CFG, "no IKE config found for %s...%s, sending NO_PROPOSAL_CHOSEN",
				addr_ntop(&m->local, a, sizeof(a)), addr_ntop(&m->remote, b, sizeof(b)));
		else if (log)
			log_no_proposal(core, m);
		refuse_init(core, m);
		return;
	}
	const struct xform *dh = proposal_get(&chosen, XF_DH);
	uint16_t group = dh ? dh->id : DH_NONE;
	if (m->pl.ke_group != group) {
		uint8_t g[2];
		put_u16(g, group);
		if (ike_log_allowed(core, DROP_INIT_REFUSED))
			log_info(LOG_IKE, "peer %s sent a %s key exchange, requesting %s "
				 "(INVALID_KE_PAYLOAD)", addr_ntop(&m->remote, a, sizeof(a)),
				 dh_name(m->pl.ke_group), dh_name(group));
		ikev2_send_notify_plain(core, m, N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	struct ike_sa *sa = ike_sa_new(core, conn, false);
	if (!sa)
		return;
	memcpy(sa->spi_i, m->hdr.spi_i, 8);
	sa->local = m->local;
	sa->remote = m->remote;
	sa->ke_group = group;
	if (proposal_keep(&sa->prop, &chosen) < 0 ||
	    ike_sa_set_nonce(sa, true, m->pl.nonce, m->pl.nonce_len) < 0 ||
	    ike_sa_set_nonce(sa, false, NULL, IKE_NONCE_LEN) < 0) {
		ike_sa_destroy(sa);
		return;
	}
	sa->peer_msgid = 1;
	buf_put(&sa->init_i, m->raw, m->raw_len);

	struct dh *mydh = dh_new(group);
	if (!mydh || derive(sa, mydh, m->pl.ke, m->pl.ke_len) < 0) {
		log_err(LOG_IKE, "key exchange with %s failed (%s public value invalid?)",
			addr_ntop(&m->remote, a, sizeof(a)), dh_name(group));
		dh_free(mydh);
		ike_sa_destroy(sa);
		return;
	}
	if (ikev2_natd_check(sa, m, &sa->nat_here, &sa->nat_there) == 0)
		log_nat(sa);

	struct buf ke;
	struct ikev2_builder k;
	buf_init(&ke);
	dh_public(mydh, &ke);
	dh_free(mydh);
	ikb_init(&k);
	ikb_sa(&k, &chosen, 1);
	ikb_ke(&k, group, ke.data, ke.len);
	ikb_nonce(&k, sa->nr, sa->nr_len);
	ikev2_add_natd(sa, &k, &sa->local, &sa->remote);
	ikev2_cert_init_in(sa, &m->pl);
	ikev2_cert_init_out(sa, &k, true);
	ikev2_frag_peer(sa, &m->pl);
	ikev2_frag_notify(sa, &k);
	buf_free(&ke);
	char prop[256];
	log_info(LOG_IKE, "%s is initiating an IKE_SA; selected proposal: %s",
		 addr_ntop(&m->remote, a, sizeof(a)), proposal_fmt(&chosen, prop, sizeof(prop)));
	ike_sa_set_state(sa, IKE_CONNECTING);
	ike_send_response(sa, m, &k);
	buf_put(&sa->init_r, sa->last_response.data, sa->last_response.len);
}

static void restart_init(struct ike_sa *sa)
{
	sa->dh = sa->req.dh;	/* kept if the group stays, see ikev2_init_start() */
	sa->req.dh = NULL;
	buf_free(&sa->req.packet);
	sa->req.kind = TASK_NONE;
	memset(sa->spi_r, 0, 8);
	ikev2_init_start(sa);
}

#define INIT_MAX_COOKIES 3	/* COOKIE answers taken per IKE SA (RFC 7296 2.6) */

/* An IKE_SA_INIT response is not authenticated: anyone on the path can forge an
 * error notify or garbage. As RFC 7296 2.21 asks, it is noted and the initiator
 * keeps waiting for a valid answer: the request stays outstanding and is
 * retransmitted, and if no valid answer comes the retransmission timeout ends the
 * SA. Only the first such answer per SA is logged. */
static void init_keep_waiting(struct ike_sa *sa, const char *tag, const char *why)
{
	sa->next_msgid = sa->req.msgid;		/* the exchange is still open */
	if (sa->init_error)
		return;
	sa->init_error = strdup(why);	/* NULL when out of memory: logged again */
	log_err(LOG_IKE, "%s: %s; unauthenticated, so waiting for a valid IKE_SA_INIT answer "
		"until the retransmission timeout", tag, why);
}

/* A COOKIE (RFC 7296 2.6) is taken a bounded number of times, then noted. */
static void init_cookie(struct ike_sa *sa, const char *tag, const struct ikev2_notify *n)
{
	if (n->len < 1 || n->len > 64) {
		init_keep_waiting(sa, tag, "peer sent an invalid COOKIE");
		return;
	}
	if (sa->cookies >= INIT_MAX_COOKIES) {
		init_keep_waiting(sa, tag, "peer keeps sending COOKIEs");
		return;
	}
	sa->cookies++;
	buf_reset(&sa->cookie);
	buf_put(&sa->cookie, n->data, n->len);
	log_info(LOG_IKE, "%s: received COOKIE, retrying IKE_SA_INIT with it", tag);
	restart_init(sa);
}

void ikev2_init_response_in(struct ike_sa *sa, struct msg_in *m)
{
	struct request *r = &sa->req;
	char tag[128], ours[1024], why[1200];
	const struct ikev2_notify *n;

	ike_sa_tag(sa, tag, sizeof(tag));
	if ((n = ikev2_find_notify(&m->pl, N_COOKIE))) {
		init_cookie(sa, tag, n);
		return;
	}
	if ((n = ikev2_find_notify(&m->pl, N_INVALID_KE_PAYLOAD))) {
		uint16_t group = n->len == 2 ? get_u16(n->data) : 0;
		if (group && group != sa->ke_group && proposal_allows_dh(r->offered, r->n_offered, group)) {
			log_info(LOG_IKE, "%s: peer didn't accept DH group %s, it requested %s",
				 tag, dh_name(sa->ke_group), dh_name(group));
			sa->ke_group = group;
			restart_init(sa);
			return;
		}
		snprintf(why, sizeof(why), "peer requested DH group %s, which we do not offer",
			 dh_name(group));
		init_keep_waiting(sa, tag, why);
		return;
	}
	if ((n = ikev2_error_notify(&m->pl))) {
		const char *name = ikev2_notify_name(n->type);
		proposal_list_fmt(r->offered, r->n_offered, ours, sizeof(ours));
		if (n->type == N_NO_PROPOSAL_CHOSEN)
			snprintf(why, sizeof(why), "peer answered NO_PROPOSAL_CHOSEN: it accepts "
				 "none of our proposals %s", ours);
		else
			snprintf(why, sizeof(why), "IKE_SA_INIT failed: peer answered %s",
				 name ? name : "an error notify");
		init_keep_waiting(sa, tag, why);
		return;
	}
	struct proposal chosen;
	if (!m->pl.has_sa || m->pl.n_props != 1 || !m->pl.has_ke || !m->pl.nonce ||
	    !proposal_select(r->offered, r->n_offered, m->pl.props, 1, &chosen)) {
		init_keep_waiting(sa, tag, "invalid IKE_SA_INIT response (proposal not one of "
				  "ours, or payloads missing)");
		return;
	}
	const struct xform *dh = proposal_get(&chosen, XF_DH);
	if (!dh || dh->id != sa->ke_group || m->pl.ke_group != sa->ke_group) {
		init_keep_waiting(sa, tag, "peer's KE group does not match the chosen proposal");
		return;
	}
	memcpy(sa->spi_r, m->hdr.spi_r, 8);
	ikev2_cert_init_in(sa, &m->pl);
	buf_reset(&sa->init_r);
	buf_put(&sa->init_r, m->raw, m->raw_len);
	if (proposal_keep(&sa->prop, &chosen) < 0 ||
	    ike_sa_set_nonce(sa, false, m->pl.nonce, m->pl.nonce_len) < 0 ||
	    derive(sa, r->dh, m->pl.ke, m->pl.ke_len) < 0) {
		/* Forget this answer, so the real one still finds the SA. */
		memset(sa->spi_r, 0, 8);
		buf_reset(&sa->init_r);
		snprintf(why, sizeof(why), "key derivation failed (peer's %s value invalid?)",
			 dh_name(sa->ke_group));
		init_keep_waiting(sa, tag, why);
		return;
	}
	char prop[256];
	log_info(LOG_IKE, "%s: selected proposal: %s", tag, proposal_fmt(&chosen, prop, sizeof(prop)));
	ikev2_frag_peer(sa, &m->pl);
	bool have_natd = ikev2_natd_check(sa, m, &sa->nat_here, &sa->nat_there) == 0;
	if (have_natd)
		log_nat(sa);
	if (have_natd && (sa->nat_here || sa->nat_there || sa->conn->cfg->encap)) {
		/* RFC 7296 2.23: move to the NAT-T port once a NAT is seen. */
		sa->natt = true;
		sa->local.port = sa->core->t.port_natt;
		sa->remote.port = sa->core->t.port_natt;
	}
	ike_request_clear(sa);
	ikev2_auth_start(sa);
}
