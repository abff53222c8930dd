/* IKEv1 lifetimes (RFC 2407 4.5 and 4.6.3.1, RFC 2409 Appendix A): what we offer, the
 * shorter of the two sides' lifetimes as the agreed one, RESPONDER-LIFETIME when ours
 * is the shorter; Phase 1 renewal (a new Main Mode onto which the IPsec SAs move, what
 * strongSwan calls reauthentication for IKEv1) and the end of an ISAKMP SA, after which
 * its IPsec SAs run on to their own lifetimes.
 * strongSwan neither sends nor reads RESPONDER-LIFETIME: a shorter lifetime of ours is
 * also enforced by renewing from our side in time. */
#include <stdio.h>
#include <string.h>

#include "ike/v1/ikev1.h"
#include "lib/wipe.h"

/* RESPONDER-LIFETIME for Phase 1 goes in an Informational a second after MM6: Main Mode
 * has no place for it, and strongSwan, which hands each packet to a worker thread of
 * its own, may take one sent right after MM6 first (and cannot decrypt it then). */
#define TELL_LIFE_DELAY_MS 1000

static uint64_t shorter(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

static uint32_t clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Phase 1: renewal at reauth_time (rekey_time if none: IKEv1 has no other rekeying),
 * the end over_time later (strongSwan offers the same). */
static struct life_spec p1_spec(const struct conn_cfg *cfg)
{
	struct life_spec l = { 0 };
	l.rekey_s = cfg->reauth_time ? cfg->reauth_time : cfg->rekey_time;
	if (l.rekey_s)
		l.life_s = l.rekey_s + (cfg->over_time ? cfg->over_time : l.rekey_s / 10);
	l.rand_s = cfg->rand_time;
	return l;
}

void ikev1_life_p1_offer(const struct conn_cfg *cfg, struct isakmp_sa_params *par)
{
	par->life_seconds = clamp32(p1_spec(cfg).life_s);
	par->life_kbytes = 0;
}

void ikev1_life_p2_offer(const struct child_cfg *cc, struct isakmp_sa_params *par)
{
	par->life_seconds = clamp32(cc->life_time ? cc->life_time : cc->rekey_time);
	par->life_kbytes = clamp32(cc->life_bytes / 1024);
}

/* Phase 1, both roles: the peer's lifetime (its offer, or the responder's echo) against
 * ours. Phase 1 kilobytes are taken but not counted: an ISAKMP SA carries a few hundred
 * bytes per exchange, and its seconds end it long before. */
void ikev1_life_p1_agree(struct ike_sa *sa, const struct isakmp_sa_params *theirs)
{
	struct ikev1_sa *v = sa->v1;
	uint32_t ours = clamp32(p1_spec(sa->conn->cfg).life_s);
	v->life_s = (uint32_t)shorter(ours, theirs->life_seconds);
	v->life_kb = theirs->life_kbytes;
	v->tell_life = !sa->initiator && ours && (!theirs->life_seconds || ours < theirs->life_seconds);
	if (theirs->life_seconds && ours && theirs->life_seconds != ours)
		log_info(LOG_IKE, "%s: ISAKMP SA lifetime %us (ours %us, peer's %us)", ike_sa_name(sa),
			 v->life_s, ours, theirs->life_seconds);
}

void ikev1_life_p1_schedule(struct ike_sa *sa)
{
	struct life_spec l = p1_spec(sa->conn->cfg);
	l.agreed_s = sa->v1->life_s;
	if (sa->v1->tell_life && !sa->v1->tell_at)
		sa->v1->tell_at = sa->core->now + TELL_LIFE_DELAY_MS;
	/* From establishment on (a RESPONDER-LIFETIME comes a little later). */
	ike_life_times(sa->established_at, &l, &sa->rekey_at, &sa->expire_at);
}

/* The notify's data: lifetime type / duration attribute pairs (Phase 1 or 2 numbers). */
static void put_life_attrs(struct buf *b, bool phase1, uint32_t secs, uint32_t kb)
{
	uint16_t ty = phase1 ? P1_LIFE_TYPE : P2_LIFE_TYPE;
	uint16_t dur = phase1 ? P1_LIFE_DURATION : P2_LIFE_DURATION;
	if (secs) {
		isb_attr_basic(b, ty, ISAKMP_LIFE_SECONDS);
		isb_attr_u32(b, dur, secs);
	}
	if (kb) {
		isb_attr_basic(b, ty, ISAKMP_LIFE_KILOBYTES);
		isb_attr_u32(b, dur, kb);
	}
}

/* Reads the lifetimes of a RESPONDER-LIFETIME notify; -1 if malformed. */
static int read_life_attrs(const struct isakmp_notify *n, bool phase1, uint32_t *secs,
			   uint32_t *kb)
{
	uint16_t ty = phase1 ? P1_LIFE_TYPE : P2_LIFE_TYPE;
	uint16_t dur = phase1 ? P1_LIFE_DURATION : P2_LIFE_DURATION;
	uint16_t type = 0;
	struct isakmp_attr a;
	struct rd r;
	uint32_t val;
	*secs = *kb = 0;
	rd_init(&r, n->data, n->len);
	while (isakmp_next_attr(&r, &a)) {
		if (a.type == ty) {
			if (!a.basic || (a.value != ISAKMP_LIFE_SECONDS && a.value != ISAKMP_LIFE_KILOBYTES))
				return -1;
			type = a.value;
		} else if (a.type == dur) {
			if (!type || isakmp_attr_u32(&a, &val) < 0)
				return -1;
			*(type == ISAKMP_LIFE_SECONDS ? secs : kb) = val;
			type = 0;
		}
	}
	return r.err ? -1 : 0;
}

/* Responder whose Phase 1 lifetime is the shorter: says so (TELL_LIFE_DELAY_MS). */
static void ikev1_life_p1_tell(struct ike_sa *sa)
{
	struct ikev1_sa *v = sa->v1;
	uint8_t cookies[16];
	struct buf data;
	v->tell_life = false;
	v->tell_at = 0;
	buf_init(&data);
	put_life_attrs(&data, true, v->life_s, 0);
	memcpy(cookies, sa->spi_i, 8);
	memcpy(cookies + 8, sa->spi_r, 8);
	if (!data.oom) {
		ikev1_info_notify(sa, ISAKMP_N_RESPONDER_LIFETIME, ISAKMP_PROTO_ISAKMP, cookies, 16,
				  data.data, data.len);
		log_info(LOG_IKE, "%s: sent RESPONDER-LIFETIME %us for the ISAKMP SA", ike_sa_name(sa),
			 v->life_s);
	}
	buf_free(&data);
}

/* RESPONDER-LIFETIME in an Informational (Phase 1): true if n was one. */
bool ikev1_life_notify_in(struct ike_sa *sa, const struct isakmp_notify *n)
{
	uint32_t secs, kb;
	if (n->type != ISAKMP_N_RESPONDER_LIFETIME || n->proto != ISAKMP_PROTO_ISAKMP)
		return false;
	if (!sa->initiator || read_life_attrs(n, true, &secs, &kb) < 0) {
		sa->core->st.rx_invalid++;
		return true;
	}
	struct ikev1_sa *v = sa->v1;
	if (secs && (!v->life_s || secs < v->life_s)) {
		v->life_s = secs;
		log_info(LOG_IKE, "%s: peer's RESPONDER-LIFETIME shortens the ISAKMP SA to %us",
			 ike_sa_name(sa), secs);
		ikev1_life_p1_schedule(sa);
	}
	return true;
}

/* Phase 2, responder: the initiator's offer against our config; true if ours is the
 * shorter (then QM2 says so with RESPONDER-LIFETIME). */
bool ikev1_life_p2_agree(struct child_sa *c, const struct isakmp_sa_params *theirs)
{
	struct isakmp_sa_params ours;
	ikev1_life_p2_offer(c->cfg, &ours);
	c->agreed_life_s = shorter(ours.life_seconds, theirs->life_seconds);
	c->agreed_life_kb = shorter(ours.life_kbytes, theirs->life_kbytes);
	return (ours.life_seconds && c->agreed_life_s == ours.life_seconds &&
		ours.life_seconds != theirs->life_seconds) ||
	       (ours.life_kbytes && c->agreed_life_kb == ours.life_kbytes &&
		ours.life_kbytes != theirs->life_kbytes);
}

void ikev1_life_p2_notify(struct isakmp_builder *k, const struct child_sa *c)
{
	uint8_t spi[4];
	struct buf data;
	buf_init(&data);
	put_life_attrs(&data, false, clamp32(c->agreed_life_s), clamp32(c->agreed_life_kb));
	put_u32(spi, c->spi_in);
	if (!data.oom)
		isb_notify(k, ISAKMP_DOI_IPSEC, ISAKMP_PROTO_ESP, spi, 4, ISAKMP_N_RESPONDER_LIFETIME,
			   data.data, data.len);
	buf_free(&data);
}

/* Phase 2, initiator: the lifetimes in the responder's SA payload and its
 * RESPONDER-LIFETIME, if any, against ours. */
void ikev1_life_p2_take(struct child_sa *c, const struct isakmp_sa_params *echo,
			const struct isakmp_payloads *pl)
{
	struct isakmp_sa_params ours;
	uint32_t secs = 0, kb = 0;
	ikev1_life_p2_offer(c->cfg, &ours);
	c->agreed_life_s = shorter(ours.life_seconds, echo->life_seconds);
	c->agreed_life_kb = shorter(ours.life_kbytes, echo->life_kbytes);
	const struct isakmp_notify *n = isakmp_find_notify(pl, ISAKMP_N_RESPONDER_LIFETIME);
	if (n && n->proto == ISAKMP_PROTO_ESP && read_life_attrs(n, false, &secs, &kb) == 0) {
		c->agreed_life_s = shorter(c->agreed_life_s, secs);
		c->agreed_life_kb = shorter(c->agreed_life_kb, kb);
		log_info(LOG_IKE, "CHILD_SA '%s': peer's RESPONDER-LIFETIME %us %ukB", c->cfg->name,
			 secs, kb);
	}
}

/* ---- Phase 1 renewal and end ---- */

/* Before the ISAKMP SA ends: a new Main Mode with the same peer; when it is up, the IPsec
 * SAs move onto it (ikev1_life_adopt) and the old one is deleted. */
void ikev1_renew(struct ike_sa *old)
{
	struct ikev1_sa *ov = old->v1;
	if (old->superseded || (ov->successor && ike_sa_by_id(old->core, ov->successor)))
		return;
	struct ike_sa *n = ike_sa_new(old->core, old->conn, true);
	if (!n)
		return;
	struct ikev1_sa *v = ikev1_sa_new(n);
	if (!v) {
		ike_sa_destroy(n);
		return;
	}
	v->renews = old->uniqueid;
	ov->successor = n->uniqueid;
	ikev1_xauth_inherit(n, old);
	n->remote_index = old->remote_index;
	if (resolve_endpoints(n) < 0) {
		/* A peer known only by its address (remote_addrs = %any). */
		n->local = old->local;
		n->remote = old->remote;
		n->local.port = n->remote.port = old->core->t.port;
	}
	log_info(LOG_IKE, "%s: renewing the ISAKMP SA (lifetime ends in %llus)",
		 ike_sa_name(old), (unsigned long long)((old->expire_at - old->core->now) / 1000));
	ike_sa_queue(n, TASK_IKE_INIT, NULL, 0);
}

/* Another ISAKMP SA with the same peer whose IPsec SAs a new one takes over. */
static bool same_peer(const struct ike_sa *a, const struct ike_sa *b)
{
	/* Remote-access users behind one NAT share address and group identity: the
	 * XAuth user tells them apart (ikev1_renew() hands it on). */
	return a != b && a->v1 && a->state != IKE_DESTROYING && a->conn && b->conn &&
	       strcmp(a->conn->cfg->name, b->conn->cfg->name) == 0 &&
	       strcmp(a->v1->xauth_user, b->v1->xauth_user) == 0 &&
	       addr_equal_ip(&a->remote, &b->remote) && identity_equal(a->peer_id, b->peer_id) &&
	       identity_equal(a->my_id, b->my_id) &&
	       (a->state == IKE_ESTABLISHED || a->v1->orphan);
}

/* How long the ISAKMP SA we renewed lives on: strongSwan's responder moves its IPsec SAs
 * to the new ISAKMP SA in a job of its own after MM6, and a DELETE for the old one that
 * came first would take them with it. */
#define RENEWED_DELETE_DELAY_MS 3000

/* A new ISAKMP SA is up: the IPsec SAs of older ones with the same peer move onto it
 * (their ESP SAs stay as they are), as strongSwan's responder does after a
 * reauthentication. The one we renewed ourselves is deleted a little later. */
void ikev1_life_adopt(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	for (struct ike_sa *o = core->sas; o; o = o->next) {
		if (!same_peer(o, sa))
			continue;
		bool ours = sa->v1->renews == o->uniqueid;
		if (!o->children && !ours)
			continue;
		int n = 0;
		for (struct child_sa *c = o->children; c; c = c->next)
			n++;
		log_info(LOG_IKE, "%s: ISAKMP SA [%u] takes over %d CHILD_SA(s) of [%u]",
			 ike_sa_name(sa), sa->uniqueid, n, o->uniqueid);
		ike_sa_adopt_children(sa, o);
		ike_report_rekey(o, sa, NULL, NULL);
		/* Its end is no "down", and it is not renewed again (a peer that renewed
		 * it may delete it only at the end of its lifetime, as strongSwan does). */
		o->superseded = true;
		o->rekey_at = MS_NEVER;
		ike_sa_touch(o);	/* its end comes sooner */
		if (ours && !o->v1->orphan) {
			ms_t end = core->now + RENEWED_DELETE_DELAY_MS;
			if (end < o->expire_at)
				o->expire_at = end;	/* ikev1_tick() sends the DELETE */
		} else if (o->v1->orphan) {
			ike_sa_destroy(o);
		}
	}
}

/* The ISAKMP SA ends (lifetime, or the peer's DELETE): without its IPsec SAs, which
 * keep carrying traffic until their own lifetimes (Juniper does the same). The SA stays
 * as their holder, keys wiped, until the last one is gone or a new ISAKMP SA with the
 * peer takes them over. */
void ikev1_phase1_end(struct ike_sa *sa, bool send_delete)
{
	struct ikev1_sa *v = sa->v1;
	if (send_delete)
		ikev1_info_delete_isakmp(sa);
	if (!sa->children) {
		ike_sa_destroy(sa);
		return;
	}
	log_info(LOG_IKE, "%s: ISAKMP SA gone; its CHILD_SAs run on to their own lifetimes",
		 ike_sa_name(sa));
	v->orphan = true;
	isakmp_keys_wipe(&v->keys);
	v->have_keys = false;
	ikev1_qm_clear(&v->qm);
	ikev1_qm_clear(&v->qm_r);
	ike_request_clear(sa);
	sa->rekey_at = sa->expire_at = MS_NEVER;
	ike_sa_set_state(sa, IKE_DELETING);
}

/* An orphaned IPsec SA ends where it would have been deleted; there is nobody to tell. */
static ms_t orphan_tick(struct ike_sa *sa, ms_t now)
{
	ms_t next = MS_NEVER;
	while (sa->tasks) {	/* volume expiry (the engine's) asks for deletes */
		struct task *t = sa->tasks;
		sa->tasks = t->next;
		struct child_sa *c = t->kind == TASK_CHILD_DELETE ? child_sa_find_by_id(sa, t->child_id) :
								    NULL;
		if (c)
			c->expire_at = now;
		free(t);
	}
	for (struct child_sa *c = sa->children, *cn; c; c = cn) {
		cn = c->next;
		if (now >= c->expire_at || c->reap) {
			log_info(LOG_IKE, "%s: CHILD_SA %s{%u} lifetime reached without an ISAKMP SA, "
				 "removed", ike_sa_name(sa), c->cfg->name, c->uniqueid);
			child_detach_and_free(sa, c, false);
		} else if (c->expire_at < next) {
			next = c->expire_at;
		}
	}
	if (!sa->children)
		ike_sa_destroy(sa);
	return next;
}

ms_t ikev1_tick(struct ike_sa *sa, ms_t now)
{
	struct ikev1_sa *v = sa->v1;
	if (v->orphan)
		return orphan_tick(sa, now);
	if (sa->state != IKE_ESTABLISHED)
		return ikev1_xauth_tick(sa, now);
	if (now >= sa->expire_at) {
		log_info(LOG_IKE, "%s: ISAKMP SA %s, deleting it", ike_sa_name(sa),
			 sa->superseded ? "renewed" : "lifetime expired");
		ikev1_phase1_end(sa, true);
		return MS_NEVER;
	}
	if (v->tell_at && now >= v->tell_at)
		ikev1_life_p1_tell(sa);
	ms_t next = ikev1_dpd_tick(sa, now);
	if (sa->state != IKE_ESTABLISHED)
		return MS_NEVER;
	return v->tell_at && v->tell_at < next ? v->tell_at : next;
}

/* INITIAL-CONTACT (RFC 2407 4.6.3.3), in MM5 or AM3 as strongSwan sends it: the
 * first ISAKMP SA we have with this peer, so whatever the peer still holds of an
 * earlier run of ours is stale. Not while another SA with the peer lives (Phase 1
 * renewal), nor when the connection wants several SAs per peer (unique=never) or
 * keeps the first (unique=keep). */
void ikev1_add_initial_contact(struct ike_sa *sa, struct isakmp_builder *k)
{
	enum unique_policy u = sa->conn->cfg->unique;
	if (u == UNIQUE_NEVER || u == UNIQUE_KEEP)
		return;
	for (const struct ike_sa *o = sa->core->sas; o; o = o->next)
		if (o != sa && o->v1 && (o->state == IKE_ESTABLISHED || o->v1->orphan) &&
		    addr_equal_ip(&o->remote, &sa->remote))
			return;
	uint8_t cookies[16];
	memcpy(cookies, sa->spi_i, 8);
	memcpy(cookies + 8, sa->spi_r, 8);
	isb_notify(k, ISAKMP_DOI_IPSEC, ISAKMP_PROTO_ISAKMP, cookies, 16,
		   ISAKMP_N_INITIAL_CONTACT, NULL, 0);
}

/* The peer's INITIAL-CONTACT in its authenticated MM5/MM6/AM3: it restarted, so
 * our other ISAKMP SAs of this connection with its identity, and the CHILD_SAs they
 * hold (also those outliving their ISAKMP SA), are stale: the peer has no keys for
 * them any more and traffic into them would be lost. */
void ikev1_initial_contact_in(struct ike_sa *sa, const struct v1_msg *m)
{
	if (!isakmp_find_notify(&m->pl, ISAKMP_N_INITIAL_CONTACT) ||
	    sa->conn->cfg->unique == UNIQUE_NEVER)
		return;
	/* Remote-access users share the group's identity: which of their SAs are stale
	 * is known once XAuth says who this is (ikev1_xauth.c calls back). */
	if (sa->conn->cfg->remote_xauth.auth == AUTH_XAUTH) {
		sa->v1->initial_contact = true;
		return;
	}
	ikev1_initial_contact_apply(sa);
}

void ikev1_initial_contact_apply(struct ike_sa *sa)
{
	char id[IKE_MAX_ID * 2];
	for (struct ike_sa *o = sa->core->sas; o; o = o->next) {
		if (o == sa || !o->v1 || o->state == IKE_DESTROYING || !o->conn ||
		    strcmp(o->conn->cfg->name, sa->conn->cfg->name) != 0 ||
		    !identity_equal(o->peer_id, sa->peer_id) ||
		    strcmp(o->v1->xauth_user, sa->v1->xauth_user) != 0)
			continue;
		log_info(LOG_IKE, "%s: peer %s sent INITIAL_CONTACT: destroying stale ISAKMP SA "
			 "%s[%u] and its CHILD_SAs", ike_sa_name(sa),
			 identity_fmt(sa->peer_id, id, sizeof(id)), ike_sa_name(o), o->uniqueid);
		ike_sa_destroy(o);
	}
}
