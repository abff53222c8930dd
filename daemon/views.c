/* Fills the VICI views (vici/vici_views.h) from the IKE core's SAs and the ESP
 * engine's counters: what swanctl --list-sas and tsunagictl show. */
#include <stdio.h>
#include <string.h>

#include "daemon/views.h"
#include "ike/ike_sa.h"
#include "lib/clock.h"

static int64_t secs_until(ms_t at, ms_t now)
{
	return at == MS_NEVER || at <= now ? 0 : (int64_t)((at - now) / 1000);
}

void views_child_counts(struct daemon *d, const struct ike_sa *sa, const struct child_sa *c,
			struct esp_sa_stats *in, struct esp_sa_stats *out)
{
	memset(in, 0, sizeof(*in));
	memset(out, 0, sizeof(*out));
	if (d && d->esp) {
		struct addr local = sa->local, remote = sa->remote;
		local.port = remote.port = 0;
		esp_engine_sa_stats(d->esp, c->spi_in, &local, in);
		esp_engine_sa_stats(d->esp, c->spi_out, &remote, out);
	}
}

static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* What the operator sees: the counts since the last "clear counters". */
static void subtract(struct esp_sa_stats *s, const struct esp_sa_stats *base)
{
	s->packets = since(s->packets, base->packets);
	s->bytes = since(s->bytes, base->bytes);
	s->replay = since(s->replay, base->replay);
	s->integrity = since(s->integrity, base->integrity);
	s->padding = since(s->padding, base->padding);
	s->selector = since(s->selector, base->selector);
	s->other = since(s->other, base->other);
}

/* Bytes until the hard byte lifetime (of the busier direction, each SA has it). */
static void life_left(const struct child_sa *c, const struct esp_sa_stats *in,
		      const struct esp_sa_stats *out, struct vici_child_view *v)
{
	uint64_t limit = c->cfg->life_bytes;
	if (!limit)
		return;
	uint64_t used = in->bytes > out->bytes ? in->bytes : out->bytes;
	v->life_bytes_limited = true;
	v->life_bytes_left = since(limit, used);
}

static void child_view(struct daemon *d, const struct ike_sa *sa, const struct child_sa *c,
		       struct vici_child_view *v, ms_t now)
{
	const struct xform *e = proposal_get(c->prop, XF_ENCR);
	const struct xform *i = proposal_get(c->prop, XF_INTEG);
	const struct xform *esn = proposal_get(c->prop, XF_ESN);
	struct esp_sa_stats in, out;
	memset(v, 0, sizeof(*v));
	v->name = c->cfg->name;
	v->uniqueid = c->uniqueid;
	v->reqid = c->reqid;
	v->state = child_state_name(c->state);
	v->mode = c->mode == MODE_TRANSPORT ? "TRANSPORT" : "TUNNEL";
	v->protocol = "ESP";
	v->encap = c->encap;
	v->spi_in = c->spi_in;
	v->spi_out = c->spi_out;
	v->encr_alg = e ? encr_name(e->id) : NULL;
	v->encr_keysize = e ? e->keylen : 0;
	v->integ_alg = i && i->id != INTEG_NONE ? integ_name(i->id) : NULL;
	v->dh_group = c->pfs_group ? dh_name(c->pfs_group) : NULL;
	v->esn = esn && esn->id == ESN_YES;
	views_child_counts(d, sa, c, &in, &out);
	life_left(c, &in, &out, v);
	const struct sa_baseline *base = d ? daemon_sa_baseline(d, c->uniqueid) : NULL;
	if (base) {
		subtract(&in, &base->in);
		subtract(&out, &base->out);
	}
	v->bytes_in = in.bytes;
	v->packets_in = in.packets;
	v->bytes_out = out.bytes;
	v->packets_out = out.packets;
	v->drops_integrity = in.integrity;
	v->drops_replay = in.replay;
	v->drops_padding = in.padding;
	v->drops_selector = in.selector;
	v->drops_other = in.other;
	v->use_in = v->use_out = -1;
	bool going = c->state == CHILD_DELETING || c->state == CHILD_REKEYED;
	v->rekey_time = going ? 0 : secs_until(c->rekey_at, now);
	v->life_time = going ? 0 : secs_until(c->expire_at, now);
	v->install_time = (int64_t)((now - c->installed_at) / 1000);
	v->local_ts = c->local_ts;
	v->n_local_ts = c->n_local_ts;
	v->remote_ts = c->remote_ts;
	v->n_remote_ts = c->n_remote_ts;
}

static uint64_t spi64(const uint8_t s[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | s[i];
	return v;
}

void views_ike(struct daemon *d, const struct ike_sa *sa, struct ike_view_storage *st)
{
	ms_t now = clock_now_ms();
	struct vici_ike_view *v = &st->ike;
	memset(st, 0, sizeof(*st));
	const struct xform *e = proposal_get(sa->prop, XF_ENCR);
	const struct xform *i = proposal_get(sa->prop, XF_INTEG);
	const struct xform *p = proposal_get(sa->prop, XF_PRF);
	const struct xform *g = proposal_get(sa->prop, XF_DH);
	v->name = ike_sa_name(sa);
	v->uniqueid = sa->uniqueid;
	v->version = sa->v1 ? 1 : 2;
	v->state = ike_state_name(sa->state);
	v->ikev1_state = ikev1_sa_state_name(sa);
	v->local = sa->local;
	v->remote = sa->remote;
	v->local_id = identity_fmt(sa->my_id, st->local_id, sizeof(st->local_id));
	v->remote_id = identity_fmt(sa->peer_id, st->remote_id, sizeof(st->remote_id));
	v->remote_xauth_id = ikev1_xauth_user(sa);
	v->initiator = sa->initiator;
	v->spi_i = spi64(sa->spi_i);
	v->spi_r = spi64(sa->spi_r);
	v->nat_local = sa->nat_here;
	v->nat_remote = sa->nat_there;
	v->nat_fake = sa->conn && sa->conn->cfg->encap;
	v->nat_any = sa->nat_here || sa->nat_there;
	if ((sa->have_keys || (sa->v1 && sa->state == IKE_ESTABLISHED)) && e) {
		v->encr_alg = encr_name(e->id);
		v->encr_keysize = e->keylen;
		v->integ_alg = i && i->id != INTEG_NONE ? integ_name(i->id) : NULL;
		v->prf_alg = p ? prf_name(p->id) : NULL;
		v->dh_group = g ? dh_name(g->id) : NULL;
	}
	v->established = (int64_t)((now - sa->established_at) / 1000);
	v->rekey_time = secs_until(sa->rekey_at, now);
	v->heard = sa->last_rx != 0 && sa->last_rx <= now;
	v->last_rx = v->heard ? (int64_t)((now - sa->last_rx) / 1000) : 0;
	v->dpd_sent = sa->dpd_at != MS_NEVER && sa->dpd_at <= now;
	v->dpd_last = v->dpd_sent ? (int64_t)((now - sa->dpd_at) / 1000) : 0;
	size_t n = 0;
	for (const struct child_sa *c = sa->children; c && n < VIEW_MAX_CHILDREN; c = c->next)
		child_view(d, sa, c, &st->children[n++], now);
	v->children = st->children;
	v->n_children = n;
}

void views_child(struct daemon *d, const struct ike_sa *sa, const struct child_sa *c,
		 struct vici_child_view *v)
{
	child_view(d, sa, c, v, clock_now_ms());
}

static const char *action_name(enum sa_action a)
{
	switch (a) {
	case ACTION_TRAP: return "trap";
	case ACTION_RESTART: return "restart";
	case ACTION_NONE: return "none";
	default: return "clear";
	}
}

static const char *start_name(enum start_action a)
{
	return a == START_TRAP ? "trap" : a == START_START ? "start" : "none";
}

/* swanctl --list-conns' words for an auth round. */
static const char *auth_class(const struct auth_cfg *a)
{
	return a->auth == AUTH_EAP ? "EAP" : a->auth == AUTH_PUBKEY ? "public key" :
	       "pre-shared key";
}

void views_conn(const struct conn_cfg *cfg, struct conn_view_storage *st)
{
	struct vici_conn_view *v = &st->conn;
	memset(st, 0, sizeof(*st));
	v->name = cfg->name;
	v->local_addrs = (const char *const *)cfg->local_addrs;
	v->n_local_addrs = cfg->n_local_addrs;
	v->remote_addrs = (const char *const *)cfg->remote_addrs;
	v->n_remote_addrs = cfg->n_remote_addrs;
	v->version = cfg->version;
	v->reauth_time = (uint32_t)cfg->reauth_time;
	v->rekey_time = (uint32_t)cfg->rekey_time;
	v->dpd_delay = cfg->dpd_delay;
	st->local.auth_class = auth_class(&cfg->local);
	st->local.id = cfg->local.id;
	st->local.eap_id = cfg->local.eap_id;
	st->remote.auth_class = auth_class(&cfg->remote);
	st->remote.id = cfg->remote.id;
	st->remote.eap_id = cfg->remote.eap_id;
	v->local = &st->local;
	v->n_local = 1;
	v->remote = &st->remote;
	v->n_remote = 1;
	size_t n = 0;
	for (const struct child_cfg *cc = cfg->children; cc && n < VIEW_MAX_CHILDREN; cc = cc->next, n++) {
		struct vici_child_cfg_view *c = &st->children[n];
		c->name = cc->name;
		c->mode = cc->mode == MODE_TRANSPORT ? "TRANSPORT" : "TUNNEL";
		c->rekey_time = cc->rekey_time;
		c->rekey_bytes = cc->rekey_bytes;
		c->rekey_packets = cc->rekey_packets;
		c->dpd_action = action_name(cc->dpd_action);
		c->close_action = action_name(cc->close_action);
		c->start_action = start_name(cc->start_action);
		for (size_t k = 0; k < cc->n_local_ts && k < CONF_MAX_TS; k++) {
			ts_cfg_fmt(&cc->local_ts[k], st->ts[n][0][k], SELECTOR_STRLEN);
			st->ts_ptr[n][0][k] = st->ts[n][0][k];
		}
		for (size_t k = 0; k < cc->n_remote_ts && k < CONF_MAX_TS; k++) {
			ts_cfg_fmt(&cc->remote_ts[k], st->ts[n][1][k], SELECTOR_STRLEN);
			st->ts_ptr[n][1][k] = st->ts[n][1][k];
		}
		c->local_ts = st->ts_ptr[n][0];
		c->n_local_ts = cc->n_local_ts;
		c->remote_ts = st->ts_ptr[n][1];
		c->n_remote_ts = cc->n_remote_ts;
	}
	v->children = st->children;
	v->n_children = n;
}
