/* CREATE_CHILD_SA (RFC 7296 1.3): additional CHILD_SAs, CHILD_SA rekeying
 * (make-before-break: the new outbound SA takes over at once, the old one is deleted
 * afterwards), and IKE_SA rekeying (2.18), with and without PFS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "lib/wipe.h"

/* A retry after a failed or collided rekey, with jitter so that two peers that
 * collided do not collide again. */
static ms_t retry_delay(void)
{
	uint32_t r;
	crypto_random(&r, sizeof(r));
	return 10000 + r % 20000;
}

static uint16_t child_pfs_group(const struct child_cfg *cc)
{
	struct proposal p[IKEV2_MAX_PROPOSALS];
	char err[128];
	for (size_t i = 0; i < cc->n_esp_proposals; i++) {
		int n = proposal_parse(cc->esp_proposals[i], PROTO_ESP, p, IKEV2_MAX_PROPOSALS, err,
				       sizeof(err));
		if (n > 0) {
			uint16_t g = proposal_first_dh(p, (size_t)n);
			if (g)
				return g;
		}
	}
	return DH_NONE;
}

/* Nonces compare as byte strings; a shorter one that is a prefix is lower. */
static int nonce_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	return c ? c : (alen > blen) - (alen < blen);
}

static void lowest_nonce(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
			 uint8_t *out, size_t *outlen)
{
	bool first = nonce_cmp(a, alen, b, blen) <= 0;
	*outlen = first ? alen : blen;
	memcpy(out, first ? a : b, *outlen);
}

/* Keeps the lowest nonce of a colliding exchange in *out, allocated only for a
 * collision (room for 256 bytes in every SA and child is not worth it); none when
 * out of memory, which compares lowest. */
static void keep_lowest_nonce(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
			      uint8_t **out, size_t *outlen)
{
	uint8_t low[256];
	size_t n;
	lowest_nonce(a, alen, b, blen, low, &n);
	free(*out);
	*out = malloc(n ? n : 1);
	*outlen = *out ? n : 0;
	if (*out)
		memcpy(*out, low, n);
}

static void add_ke(struct ike_sa *sa, struct ikev2_builder *k, uint16_t group)
{
	struct buf ke;
	buf_init(&ke);
	sa->req.dh = dh_new(group);
	if (sa->req.dh)
		dh_public(sa->req.dh, &ke);
	ikb_ke(k, group, ke.data, ke.len);
	buf_free(&ke);
}

static void start_child(struct ike_sa *sa, struct child_cfg *cc, struct child_sa *old)
{
	struct request *r = &sa->req;
	struct ikev2_builder k;
	struct child_sa *c = child_sa_new(sa, cc, true);
	if (!c) {
		ike_request_done(sa);
		return;
	}
	c->spi_in = child_alloc_spi(sa, c);
	uint16_t group = child_pfs_group(cc);
	struct proposal *offer = ike_request_offer(r);
	int n = offer ? child_offer(sa, c, offer, IKEV2_MAX_PROPOSALS, group != DH_NONE) : -1;
	r->n_offered = (size_t)(n > 0 ? n : 0);
	int set;
	if (old) {
		set = child_set_ts(c, old->local_ts, old->n_local_ts, old->remote_ts,
				   old->n_remote_ts);
	} else {
		struct selector l[IKEV2_MAX_TS], rt[IKEV2_MAX_TS];
		size_t nl, nr;
		child_local_ts(sa, cc, l, &nl);
		child_remote_ts(sa, cc, rt, &nr);
		set = child_set_ts(c, l, nl, rt, nr);
	}
	if (set < 0) {
		child_sa_free(c);
		ike_request_done(sa);
		return;
	}
	crypto_random(r->nonce, IKE_NONCE_LEN);
	ikb_init(&k);
	if (old) {
		uint8_t spi[4];
		put_u32(spi, old->spi_in);
		ikb_notify(&k, PROTO_ESP, spi, 4, N_REKEY_SA, NULL, 0);
	}
	if (cc->mode == MODE_TRANSPORT)
		ikb_notify(&k, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ikb_sa(&k, r->offered, r->n_offered);
	ikb_nonce(&k, r->nonce, IKE_NONCE_LEN);
	if (group)
		add_ke(sa, &k, group);
	ikb_ts(&k, PL_TSI, c->local_ts, c->n_local_ts);
	ikb_ts(&k, PL_TSR, c->remote_ts, c->n_remote_ts);
	r->child = c;
	ike_send_request(sa, CREATE_CHILD_SA, &k);
}

static void start_ike_rekey(struct ike_sa *sa)
{
	struct request *r = &sa->req;
	struct ikev2_builder k;
	char err[128];
	r->n_offered = 0;
	if (!ike_request_offer(r)) {
		ike_request_done(sa);
		return;
	}
	for (size_t i = 0; i < sa->conn->cfg->n_proposals && r->n_offered < IKEV2_MAX_PROPOSALS; i++) {
		int n = proposal_parse(sa->conn->cfg->proposals[i], PROTO_IKE, r->offered + r->n_offered,
				       IKEV2_MAX_PROPOSALS - r->n_offered, err, sizeof(err));
		if (n > 0)
			r->n_offered += (size_t)n;
	}
	crypto_random(r->new_spi, 8);
	for (size_t i = 0; i < r->n_offered; i++) {
		r->offered[i].num = (uint8_t)(i + 1);
		r->offered[i].spi_len = 8;
		memcpy(r->offered[i].spi, r->new_spi, 8);
	}
	const struct xform *dh = proposal_get(sa->prop, XF_DH);
	crypto_random(r->nonce, IKE_NONCE_LEN);
	ikb_init(&k);
	ikb_sa(&k, r->offered, r->n_offered);
	ikb_nonce(&k, r->nonce, IKE_NONCE_LEN);
	add_ke(sa, &k, dh ? dh->id : DH_CURVE25519);
	ike_sa_set_state(sa, IKE_REKEYING);
	log_info(LOG_IKE, "rekeying IKE_SA %s[%u]", ike_sa_name(sa), sa->uniqueid);
	ike_send_request(sa, CREATE_CHILD_SA, &k);
}

void ikev2_create_start(struct ike_sa *sa, enum task_kind kind, struct child_cfg *cc,
			uint32_t child_id)
{
	sa->req.kind = kind;
	if (kind == TASK_IKE_REKEY) {
		start_ike_rekey(sa);
		return;
	}
	if (kind == TASK_CHILD_REKEY) {
		struct child_sa *old = child_sa_find_by_id(sa, child_id);
		if (!old || old->state != CHILD_INSTALLED) {
			ike_request_done(sa);
			return;
		}
		old->state = CHILD_REKEYING;
		sa->req.old_child_id = child_id;
		log_info(LOG_IKE, "rekeying CHILD_SA %s{%u}", old->cfg->name, old->uniqueid);
		start_child(sa, old->cfg, old);
		return;
	}
	start_child(sa, cc, NULL);
}

/* g^ir from our DH and the peer's KE; -1 if invalid. */
static int shared_secret(struct dh *dh, const struct ikev2_payloads *pl, struct buf *gir)
{
	if (!dh || !pl->has_ke || pl->ke_group != dh_group(dh))
		return -1;
	return dh_shared(dh, pl->ke, pl->ke_len, gir);
}

/* A new IKE SA that takes over from `old` (rekeyed): same peer, conn and children. */
static struct ike_sa *ike_sa_successor(struct ike_sa *old, bool initiator,
				       const uint8_t spi_i[8], const uint8_t spi_r[8],
				       bool take_children)
{
	struct ike_sa *n = ike_sa_new(old->core, old->conn, initiator);
	if (!n)
		return NULL;
	memcpy(n->spi_i, spi_i, 8);
	memcpy(n->spi_r, spi_r, 8);
	n->local = old->local;
	n->remote = old->remote;
	n->natt = old->natt;
	n->nat_here = old->nat_here;
	n->nat_there = old->nat_there;
	n->eap_peer = old->eap_peer ? strdup(old->eap_peer) : NULL;	/* leases are by it */
	if (ike_sa_set_id(n, true, old->my_id) < 0 || ike_sa_set_id(n, false, old->peer_id) < 0 ||
	    (old->eap_peer && !n->eap_peer)) {
		ike_sa_destroy(n);
		return NULL;
	}
	if (take_children)
		ike_sa_adopt_children(n, old);
	return n;
}

static int rekey_keys(struct ike_sa *old, struct ike_sa *n, const struct proposal *chosen,
		      const uint8_t *gir, size_t gir_len, const uint8_t *ni, size_t ni_len,
		      const uint8_t *nr, size_t nr_len)
{
	const struct xform *e = proposal_get(chosen, XF_ENCR);
	const struct xform *i = proposal_get(chosen, XF_INTEG);
	const struct xform *p = proposal_get(chosen, XF_PRF);
	const struct xform *oldp = proposal_get(old->prop, XF_PRF);
	if (!e || !p || !oldp)
		return -1;
	if (proposal_keep(&n->prop, chosen) < 0)
		return -1;
	/* The new SA keeps no nonces: they only go into its keys here. */
	/* SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the old SA's PRF
	 * (RFC 7296 2.18); ike_derive_keys takes the new transforms for the rest. */
	if (ike_derive_rekey_keys(&n->keys, e->id, e->keylen, i ? i->id : INTEG_NONE, p->id,
				  oldp->id, gir, gir_len, ni, ni_len, nr, nr_len, n->spi_i, n->spi_r,
				  old->keys.sk_d, old->keys.prf_len) < 0)
		return -1;
	n->have_keys = true;
	return 0;
}

#define SUPERSEDED_GRACE_MS 30000

static void ike_rekey_done(struct ike_sa *old, struct ike_sa *n)
{
	/* The old SA only waits for its DELETE now; if that never comes, it goes anyway. */
	old->superseded = true;
	old->gone_at = old->core->now + SUPERSEDED_GRACE_MS;
	ike_sa_touch(old);
	ike_sa_set_state(n, IKE_ESTABLISHED);
	n->established_at = old->established_at;
	n->last_rx = n->core->now;
	ike_sa_schedule_rekey(n);
	log_info(LOG_IKE, "IKE_SA %s[%u] rekeyed as %s[%u]", ike_sa_name(old), old->uniqueid,
		 ike_sa_name(n), n->uniqueid);
	ike_report_rekey(old, n, NULL, NULL);
	ike_sa_run_tasks(n);	/* CHILD_SA tasks that came over from the old SA */
}

static void respond_error(struct ike_sa *sa, const struct msg_in *m, uint16_t type,
			  const uint8_t *data, size_t len)
{
	struct ikev2_builder k;
	ikb_init(&k);
	ikb_notify(&k, 0, NULL, 0, type, data, len);
	ike_send_response(sa, m, &k);
}

static void ike_rekey_request(struct ike_sa *sa, struct msg_in *m)
{
	struct proposal mine[IKEV2_MAX_PROPOSALS], chosen;
	size_t n = 0;
	char err[128];
	for (size_t i = 0; i < sa->conn->cfg->n_proposals && n < IKEV2_MAX_PROPOSALS; i++) {
		int k = proposal_parse(sa->conn->cfg->proposals[i], PROTO_IKE, mine + n,
				       IKEV2_MAX_PROPOSALS - n, err, sizeof(err));
		if (k > 0)
			n += (size_t)k;
	}
	/* The peer rekeys the IKE SA while we create, rekey or delete one of its
	 * CHILD_SAs: the children must not move under our exchange (RFC 7296 2.25.2). */
	enum task_kind busy = sa->req.kind;
	if (busy == TASK_CHILD_CREATE || busy == TASK_CHILD_REKEY || busy == TASK_CHILD_DELETE) {
		log_info(LOG_IKE, "IKE_SA %s[%u]: peer rekeys it during our CHILD_SA exchange, "
			 "answering TEMPORARY_FAILURE", ike_sa_name(sa), sa->uniqueid);
		respond_error(sa, m, N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	/* Both sides rekeying at once (RFC 7296 2.8.2): both exchanges complete; which
	 * new SA survives is decided when our own answer arrives. Until then the
	 * CHILD_SAs stay on the old SA. */
	bool collision = sa->req.kind == TASK_IKE_REKEY;
	if (!proposal_select(mine, n, m->pl.props, m->pl.n_props, &chosen) || chosen.spi_len != 8 ||
	    !m->pl.nonce || !m->pl.has_ke) {
		respond_error(sa, m, N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	const struct xform *dh = proposal_get(&chosen, XF_DH);
	if (!dh || dh->id != m->pl.ke_group) {
		uint8_t g[2];
		put_u16(g, dh ? dh->id : 0);
		respond_error(sa, m, N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	uint8_t my_spi[8], nonce[IKE_NONCE_LEN];
	crypto_random(my_spi, 8);
	crypto_random(nonce, sizeof(nonce));
	struct dh *mydh = dh_new(dh->id);
	struct buf gir, ke;
	buf_init(&gir);
	buf_init(&ke);
	struct ike_sa *nsa = NULL;
	if (mydh && dh_shared(mydh, m->pl.ke, m->pl.ke_len, &gir) == 0)
		nsa = ike_sa_successor(sa, false, chosen.spi, my_spi, !collision);
	if (!nsa || rekey_keys(sa, nsa, &chosen, gir.data, gir.len, m->pl.nonce, m->pl.nonce_len,
			       nonce, sizeof(nonce)) < 0) {
		if (nsa) {
			sa->children = nsa->children;
			nsa->children = NULL;
			ike_vip_move(sa, nsa);
			ike_sa_destroy(nsa);
		}
		respond_error(sa, m, N_NO_PROPOSAL_CHOSEN, NULL, 0);
		goto out;
	}
	struct proposal reply = chosen;
	memcpy(reply.spi, my_spi, 8);
	dh_public(mydh, &ke);
	struct ikev2_builder k;
	ikb_init(&k);
	ikb_sa(&k, &reply, 1);
	ikb_nonce(&k, nonce, sizeof(nonce));
	ikb_ke(&k, dh->id, ke.data, ke.len);
	ike_send_response(sa, m, &k);
	ike_rekey_done(sa, nsa);
	if (collision) {
		log_info(LOG_IKE, "rekey collision: IKE_SA %s[%u] is being rekeyed by both peers",
			 ike_sa_name(sa), sa->uniqueid);
		sa->collision_ike = nsa->uniqueid;
		keep_lowest_nonce(m->pl.nonce, m->pl.nonce_len, nonce, sizeof(nonce),
				  &sa->collision_nonce, &sa->collision_nonce_len);
	} else {
		ike_sa_set_state(sa, IKE_REKEYED);	/* its initiator deletes the old SA */
	}
out:
	dh_free(mydh);
	buf_wipe_free(&gir);
	buf_free(&ke);
}

static void child_request(struct ike_sa *sa, struct msg_in *m, const struct ikev2_notify *rekey)
{
	struct child_sa *old = NULL;
	struct child_cfg *cc = NULL;
	char tag[128];
	ike_sa_tag(sa, tag, sizeof(tag));
	if (rekey) {
		uint32_t spi = rekey->spi_len == 4 ? get_u32(rekey->spi) : 0;
		old = child_sa_find_by_spi(sa, spi, false);
		if (!old) {
			log_info(LOG_IKE, "%s: peer rekeys unknown CHILD_SA with SPI %08x", tag, spi);
			respond_error(sa, m, N_CHILD_SA_NOT_FOUND, NULL, 0);
			return;
		}
		cc = old->cfg;
		if (old->state == CHILD_DELETING || old->state == CHILD_REKEYED) {
			/* We already replaced or are deleting it: the peer learns soon. */
			respond_error(sa, m, N_TEMPORARY_FAILURE, NULL, 0);
			return;
		}
	}
	uint16_t error;
	/* DH transforms take part in the selection: PFS must be configured alike. */
	struct child_sa *c = child_choose(sa, &m->pl, cc, true, &error);
	if (!c) {
		respond_error(sa, m, error, NULL, 0);
		return;
	}
	if (c->pfs_group && !m->pl.has_ke) {
		log_err(LOG_IKE, "%s: CHILD_SA '%s': peer proposed %s but sent no KE payload", tag,
			c->cfg->name, dh_name(c->pfs_group));
		child_sa_free(c);
		respond_error(sa, m, N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	/* A KE for a proposal chosen without DH is ignored (no PFS then). */
	if (m->pl.has_ke && c->pfs_group && c->pfs_group != m->pl.ke_group) {
		uint8_t g[2];
		put_u16(g, c->pfs_group);
		log_info(LOG_IKE, "%s: peer's KE uses %s, requesting %s", tag, dh_name(m->pl.ke_group),
			 dh_name(c->pfs_group));
		child_sa_free(c);
		respond_error(sa, m, N_INVALID_KE_PAYLOAD, g, 2);
		return;
	}
	uint8_t nonce[IKE_NONCE_LEN];
	crypto_random(nonce, sizeof(nonce));
	struct buf gir, ke;
	buf_init(&gir);
	buf_init(&ke);
	struct dh *mydh = c->pfs_group ? dh_new(c->pfs_group) : NULL;
	c->spi_in = child_alloc_spi(sa, c);
	c->defer_out = old != NULL;
	if ((c->pfs_group && (!mydh || dh_shared(mydh, m->pl.ke, m->pl.ke_len, &gir) < 0)) ||
	    !c->spi_in ||
	    child_install(sa, c, gir.data, gir.len, m->pl.nonce, m->pl.nonce_len, nonce,
			  sizeof(nonce)) < 0) {
		child_sa_free(c);
		respond_error(sa, m, N_NO_PROPOSAL_CHOSEN, NULL, 0);
		goto out;
	}
	struct proposal reply;
	proposal_copy(&reply, c->prop);
	reply.spi_len = 4;
	put_u32(reply.spi, c->spi_in);
	struct ikev2_builder k;
	ikb_init(&k);
	if (c->mode == MODE_TRANSPORT)
		ikb_notify(&k, 0, NULL, 0, N_USE_TRANSPORT_MODE, NULL, 0);
	ikb_sa(&k, &reply, 1);
	ikb_nonce(&k, nonce, sizeof(nonce));
	if (mydh) {
		dh_public(mydh, &ke);
		ikb_ke(&k, c->pfs_group, ke.data, ke.len);
	}
	ikb_ts(&k, PL_TSI, c->remote_ts, c->n_remote_ts);
	ikb_ts(&k, PL_TSR, c->local_ts, c->n_local_ts);
	ike_send_response(sa, m, &k);
	child_established(sa, c);
	if (old && old->state == CHILD_REKEYING) {
		log_info(LOG_IKE, "rekey collision: CHILD_SA %s{%u} is being rekeyed by both peers",
			 old->cfg->name, old->uniqueid);
		old->collision_child = c->uniqueid;
		keep_lowest_nonce(m->pl.nonce, m->pl.nonce_len, nonce, sizeof(nonce),
				  &old->collision_nonce, &old->collision_nonce_len);
	} else if (old) {
		old->state = CHILD_REKEYED;	/* the rekey's initiator deletes it */
	}
	if (old)
		ike_report_rekey(sa, sa, old, c);
out:
	dh_free(mydh);
	buf_wipe_free(&gir);
	buf_free(&ke);
}

void ikev2_create_request_in(struct ike_sa *sa, struct msg_in *m)
{
	if (sa->state != IKE_ESTABLISHED && sa->state != IKE_REKEYING) {
		respond_error(sa, m, N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	if (m->pl.has_sa && m->pl.n_props && m->pl.props[0].protocol == PROTO_IKE) {
		ike_rekey_request(sa, m);
		return;
	}
	if (!m->pl.has_sa || !m->pl.nonce || !m->pl.has_tsi || !m->pl.has_tsr) {
		respond_error(sa, m, N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	child_request(sa, m, ikev2_find_notify(&m->pl, N_REKEY_SA));
}

static void ike_rekey_response(struct ike_sa *sa, struct msg_in *m)
{
	struct request *r = &sa->req;
	struct proposal chosen;
	const struct ikev2_notify *n = ikev2_error_notify(&m->pl);
	if (n || !m->pl.has_sa || m->pl.n_props != 1 || !m->pl.nonce ||
	    !proposal_select(r->offered, r->n_offered, m->pl.props, 1, &chosen) ||
	    chosen.spi_len != 8) {
		const char *name = n ? ikev2_notify_name(n->type) : "an invalid response";
		struct ike_sa *theirs = sa->collision_ike ? ike_sa_by_id(sa->core, sa->collision_ike) : NULL;
		if (theirs) {
			/* Ours failed but the peer's rekey of this SA went through: use it. */
			log_info(LOG_IKE, "IKE_SA %s[%u] rekey failed (%s); the peer's rekey as "
				 "%s[%u] takes over", ike_sa_name(sa), sa->uniqueid,
				 name ? name : "error", ike_sa_name(theirs), theirs->uniqueid);
			ike_sa_adopt_children(theirs, sa);
			ike_request_clear(sa);
			ike_sa_set_state(sa, IKE_REKEYED);	/* the peer deletes it */
			return;
		}
		log_info(LOG_IKE, "IKE_SA %s[%u] rekey failed: peer answered %s; retrying later",
			 ike_sa_name(sa), sa->uniqueid, name ? name : "an error");
		ike_sa_set_state(sa, IKE_ESTABLISHED);
		sa->rekey_at = sa->core->now + retry_delay();
		ike_request_done(sa);
		return;
	}
	struct buf gir;
	buf_init(&gir);
	struct ike_sa *nsa = NULL;
	if (shared_secret(r->dh, &m->pl, &gir) == 0)
		nsa = ike_sa_successor(sa, true, r->new_spi, chosen.spi, true);
	if (!nsa || rekey_keys(sa, nsa, &chosen, gir.data, gir.len, r->nonce, IKE_NONCE_LEN,
			       m->pl.nonce, m->pl.nonce_len) < 0) {
		log_err(LOG_IKE, "IKE_SA %s[%u] rekey: key exchange failed", ike_sa_name(sa),
			sa->uniqueid);
		if (nsa) {
			sa->children = nsa->children;
			nsa->children = NULL;
			ike_vip_move(sa, nsa);
			ike_sa_destroy(nsa);
		}
		ike_sa_set_state(sa, IKE_ESTABLISHED);
		buf_wipe_free(&gir);
		ike_request_done(sa);
		return;
	}
	buf_wipe_free(&gir);
	/* The lowest nonce of our exchange, before the request (and our nonce) is wiped. */
	uint8_t mine[256];
	size_t mine_len;
	lowest_nonce(r->nonce, IKE_NONCE_LEN, m->pl.nonce, m->pl.nonce_len, mine, &mine_len);
	ike_rekey_done(sa, nsa);
	ike_request_clear(sa);
	ike_sa_set_state(sa, IKE_REKEYED);
	struct ike_sa *theirs = sa->collision_ike ? ike_sa_by_id(sa->core, sa->collision_ike) : NULL;
	if (theirs) {
		/* The new SA from the exchange with the lowest of the four nonces is
		 * redundant; its initiator deletes it, the winner deletes the old one. */
		if (nonce_cmp(mine, mine_len, sa->collision_nonce, sa->collision_nonce_len) < 0) {
			log_info(LOG_IKE, "rekey collision: our IKE_SA %s[%u] is redundant, deleting it; "
				 "%s[%u] takes over", ike_sa_name(nsa), nsa->uniqueid,
				 ike_sa_name(theirs), theirs->uniqueid);
			ike_sa_adopt_children(theirs, nsa);
			ike_sa_queue(nsa, TASK_IKE_DELETE, NULL, 0);
			return;		/* the peer deletes the old SA */
		}
		log_info(LOG_IKE, "rekey collision: our IKE_SA %s[%u] wins", ike_sa_name(nsa),
			 nsa->uniqueid);
	}
	/* Delete the old SA; its children already belong to the new one. */
	ikev2_info_start(sa, TASK_IKE_DELETE, 0);
}

void ikev2_create_response_in(struct ike_sa *sa, struct msg_in *m)
{
	struct request *r = &sa->req;
	if (r->kind == TASK_IKE_REKEY) {
		ike_rekey_response(sa, m);
		return;
	}
	struct child_sa *c = r->child;
	r->child = NULL;
	struct child_sa *old = r->kind == TASK_CHILD_REKEY ? child_sa_find_by_id(sa, r->old_child_id) : NULL;
	struct buf gir;
	buf_init(&gir);
	bool ok = c && child_accept_response(sa, c, m, r->offered, r->n_offered) == 0 && m->pl.nonce;
	if (ok && c->pfs_group && shared_secret(r->dh, &m->pl, &gir) < 0) {
		log_err(LOG_IKE, "CHILD_SA '%s': PFS key exchange failed", c->cfg->name);
		ok = false;
	}
	if (ok && child_install(sa, c, gir.data, gir.len, r->nonce, IKE_NONCE_LEN, m->pl.nonce,
				m->pl.nonce_len) < 0)
		ok = false;
	buf_wipe_free(&gir);
	if (!ok) {
		child_sa_free(c);
		if (old && old->state == CHILD_REKEYING && !old->collision_child) {
			old->state = CHILD_INSTALLED;
			old->rekey_at = sa->core->now + retry_delay();	/* between soft and hard */
		} else if (old && old->state == CHILD_REKEYING) {
			old->state = CHILD_REKEYED;	/* the peer's rekey replaced it */
		}
		ike_request_done(sa);
		return;
	}
	child_established(sa, c);
	if (old)
		ike_report_rekey(sa, sa, old, c);
	if (old && old->collision_child) {
		/* Both rekeyed at once: the SA from the exchange with the lowest of the four
		 * nonces is redundant and its initiator deletes it (RFC 7296 2.8.1); the winner
		 * also deletes the old SA. Both sides reach the same verdict. */
		uint8_t mine[256];
		size_t mine_len;
		lowest_nonce(r->nonce, IKE_NONCE_LEN, m->pl.nonce, m->pl.nonce_len, mine, &mine_len);
		bool we_lose = nonce_cmp(mine, mine_len, old->collision_nonce,
					 old->collision_nonce_len) < 0;
		old->state = CHILD_REKEYED;
		if (we_lose) {
			log_info(LOG_IKE, "rekey collision: our CHILD_SA %s{%u} is redundant, deleting it",
				 c->cfg->name, c->uniqueid);
			c->state = CHILD_REKEYED;
			ike_sa_queue(sa, TASK_CHILD_DELETE, NULL, c->uniqueid);
		} else {
			log_info(LOG_IKE, "rekey collision: our CHILD_SA %s{%u} wins, deleting %s{%u}",
				 c->cfg->name, c->uniqueid, old->cfg->name, old->uniqueid);
			ike_sa_queue(sa, TASK_CHILD_DELETE, NULL, old->uniqueid);
		}
	} else if (old) {
		/* Make-before-break: the new SA carries traffic now; drop the old one. */
		old->state = CHILD_REKEYED;
		ike_sa_queue(sa, TASK_CHILD_DELETE, NULL, old->uniqueid);
	}
	ike_request_done(sa);
}
