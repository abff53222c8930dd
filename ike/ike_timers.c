/* Time: retransmissions and giving up on a silent peer (backup peers, keyingtries,
 * dpd_action), half-open timeouts, IKE and CHILD SA rekey and expiry, DPD liveness
 * checks and NAT keepalives. ike_tick() returns when it wants to run next. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ike/ike_private.h"
#include "ike/ikev2_frag.h"
#include "lib/wipe.h"

/* A fresh attempt for a connection whose IKE SA failed to come up. */
static void reinitiate(struct ike *core, struct conn *conn, struct child_cfg *cc,
		       uint16_t remote_index, uint32_t keyingtry)
{
	struct ike_sa *n = ike_sa_new(core, conn, true);
	if (!n)
		return;
	n->remote_index = remote_index;
	n->keyingtry = keyingtry;
	ike_sa_queue(n, TASK_IKE_INIT, cc, 0);
}

void ike_peer_dead(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	struct conn *conn = sa->conn;
	char tag[128];
	if (sa->v1)
		ikev1_gave_up(sa);
	else if (sa->init && sa->init->init_error)
		/* The peer did answer, but only with an unauthenticated error: say that. */
		log_err(LOG_IKE, "%s: IKE_SA_INIT failed after %u retransmits: %s (no valid answer came)",
			ike_sa_tag(sa, tag, sizeof(tag)), sa->req.tries, sa->init->init_error);
	else
		log_err(LOG_IKE, "%s: peer not responding: giving up after %u retransmits of %s",
			ike_sa_tag(sa, tag, sizeof(tag)), sa->req.tries,
			sa->req.kind == TASK_DPD ? "a liveness check" : "a request");
	bool up = sa->state == IKE_ESTABLISHED;
	enum sa_action act = up && conn && conn->cfg->children ? conn->cfg->children->dpd_action :
								  ACTION_NONE;
	bool connecting = (sa->state == IKE_CREATED || sa->state == IKE_CONNECTING) && conn &&
			  sa->initiator && !conn->retired && !sa->superseded;
	const struct conn_cfg *cfg = conn ? conn->cfg : NULL;
	uint16_t idx = sa->remote_index;
	uint32_t tries = sa->keyingtry;
	struct child_cfg *cc = sa->initial_child;
	if (conn)
		conn->refs++;	/* outlives the SA for the retry below */
	ike_sa_destroy(sa);
	/* A reload retired the SA's conn: the restart follows the one loaded now. */
	struct conn *now_loaded = act == ACTION_RESTART ? conn_find(core, cfg->name) : NULL;
	if (act == ACTION_RESTART && now_loaded) {
		log_info(LOG_IKE, "dpd_action=restart: re-initiating '%s'", cfg->name);
		for (struct child_cfg *c = now_loaded->cfg->children; c; c = c->next)
			ike_initiate(core, cfg->name, c->name, core->now, NULL, 0);
	} else if (act == ACTION_TRAP && (now_loaded = conn_find(core, cfg->name))) {
		/* Policies without SAs: the next packet negotiates anew. */
		for (struct child_cfg *c = now_loaded->cfg->children; c; c = c->next)
			if (c->dpd_action == ACTION_TRAP)
				trap_install_child(core, now_loaded, c, true);
	} else if (connecting && idx + 1u < cfg->n_remote_addrs) {
		/* Backup peers are tried in the configured order. */
		log_info(LOG_IKE, "'%s': trying backup peer %s", cfg->name, cfg->remote_addrs[idx + 1]);
		reinitiate(core, conn, cc, (uint16_t)(idx + 1), tries);
	} else if (connecting && (cfg->keyingtries == 0 || tries + 1 < cfg->keyingtries)) {
		log_info(LOG_IKE, "keying try %u of %u for '%s'", tries + 2, cfg->keyingtries,
			 cfg->name);
		reinitiate(core, conn, cc, 0, tries + 1);
	}
	if (conn)
		conn_put(core, conn);
}

static void retransmit_due(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	if (sa->req.tries >= core->t.retransmit_tries) {
		ike_peer_dead(sa);
		return;
	}
	sa->req.tries++;
	core->st.retransmits++;
	sa->req.retransmit_at = core->now + ike_retransmit_delay(core, sa->req.tries);
	log_info(LOG_IKE, "retransmit %u of request with message ID %u", sa->req.tries,
		 sa->req.msgid);
	ike_transmit_msg(sa, &sa->req.packet, sa->req.frags);
}

#define OUT_PENDING_MAX_MS 5000

static ms_t min_ms(ms_t a, ms_t b)
{
	return a < b ? a : b;
}

static ms_t tick_sa(struct ike_sa *sa, ms_t now)
{
	struct ike *core = sa->core;
	ms_t next = MS_NEVER;

	if (sa->req.kind != TASK_NONE && now >= sa->req.retransmit_at)
		retransmit_due(sa);
	if (sa->state == IKE_DESTROYING)
		return MS_NEVER;
	if (sa->req.kind != TASK_NONE)
		next = min_ms(next, sa->req.retransmit_at);
	next = min_ms(next, ikev2_frag_tick(sa, now));

	if ((sa->state == IKE_CREATED || sa->state == IKE_CONNECTING) && !sa->initiator) {
		ms_t limit = sa->open_until;
		if (now >= limit) {
			if (sa->v1)	/* names the state it stalled in and the likely cause */
				ikev1_gave_up(sa);
			else if (sa->eap)	/* ike_sa_login_begins() */
				log_info(LOG_IKE, "%s: login not finished within %u s, deleting",
					 ike_sa_name(sa), IKE_LOGIN_TIMEOUT_MS / 1000);
			else
				log_info(LOG_IKE, "half-open IKE SA from %s timed out", ike_sa_name(sa));
			ike_sa_destroy(sa);
			return MS_NEVER;
		}
		next = min_ms(next, limit);
	}
	if (sa->superseded && sa->state == IKE_REKEYED) {
		/* Waiting for the peer to delete it after a rekey: not for ever. */
		if (now >= sa->gone_at) {
			log_info(LOG_IKE, "rekeyed IKE_SA %s[%u] was not deleted by the peer, dropping it",
				 ike_sa_name(sa), sa->uniqueid);
			ike_sa_destroy(sa);
			return MS_NEVER;
		}
		return min_ms(next, sa->gone_at);
	}
	if (sa->v1) {
		next = min_ms(next, ikev1_tick(sa, now));
		if (sa->state == IKE_DESTROYING)
			return MS_NEVER;
	}
	if (sa->state != IKE_ESTABLISHED)
		return next;
	/* Tasks that could not start when queued (the SA was busy or not up yet). */
	if (sa->req.kind == TASK_NONE && sa->tasks)
		ike_sa_run_tasks(sa);

	if (now >= sa->expire_at) {
		log_info(LOG_IKE, "%s: IKE SA lifetime expired, deleting", ike_sa_name(sa));
		ike_sa_queue(sa, TASK_IKE_DELETE, NULL, 0);
		sa->expire_at = MS_NEVER;
	}
	if (now >= sa->rekey_at) {
		sa->rekey_at = MS_NEVER;
		ike_sa_queue(sa, TASK_IKE_REKEY, NULL, 0);
	}
	for (struct child_sa *c = sa->children, *cn; c; c = cn) {
		cn = c->next;
		/* If the old SA's DELETE never comes, use the new one anyway. */
		if (c->out_pending) {
			if (now >= c->installed_at + OUT_PENDING_MAX_MS)
				child_install_pending_out(sa, c);
			else
				next = min_ms(next, c->installed_at + OUT_PENDING_MAX_MS);
		}
		if (c->state != CHILD_INSTALLED && c->state != CHILD_REKEYED)
			continue;
		if (now >= c->expire_at) {
			c->expire_at = MS_NEVER;
			log_info(LOG_IKE, "%s: CHILD_SA %s{%u} hard lifetime reached, deleting",
				 ike_sa_name(sa), c->cfg->name, c->uniqueid);
			ike_sa_queue(sa, TASK_CHILD_DELETE, NULL, c->uniqueid);
		} else if (now >= c->rekey_at && c->state == CHILD_INSTALLED) {
			c->rekey_at = MS_NEVER;
			ike_sa_queue(sa, TASK_CHILD_REKEY, NULL, c->uniqueid);
		}
		next = min_ms(next, min_ms(c->rekey_at, c->expire_at));
	}
	uint32_t dpd = sa->conn ? sa->conn->cfg->dpd_delay : 0;
	if (dpd && sa->req.kind == TASK_NONE) {
		ms_t due = (sa->last_rx > sa->dpd_at || sa->dpd_at == MS_NEVER ? sa->last_rx : sa->dpd_at) +
			   (ms_t)dpd * 1000;
		if (now >= due) {
			sa->dpd_at = now;
			ike_sa_queue(sa, TASK_DPD, NULL, 0);
			/* IKEv1's R-U-THERE is no request that is retransmitted: wake up
			 * for the next one and for its own timeout. */
			next = min_ms(next, now + (ms_t)dpd * 1000);
			if (sa->v1 && sa->state == IKE_ESTABLISHED)
				next = min_ms(next, ikev1_tick(sa, now));
		} else {
			next = min_ms(next, due);
		}
	}
	/* Behind a NAT, or forcing encapsulation (encap = yes, usually because some
	 * NAT-like box is in the path): keep the mapping alive. */
	bool forced = sa->conn && sa->conn->cfg->encap;
	if ((sa->nat_here || forced) && sa->natt && core->t.natt_keepalive_s) {
		if (sa->keepalive_at == MS_NEVER)
			sa->keepalive_at = now + (ms_t)core->t.natt_keepalive_s * 1000;
		if (now >= sa->keepalive_at) {
			if (core->env.keepalive)
				core->env.keepalive(core->env.arg, &sa->local, &sa->remote);
			sa->keepalive_at = now + (ms_t)core->t.natt_keepalive_s * 1000;
		}
		next = min_ms(next, sa->keepalive_at);
	}
	next = min_ms(next, min_ms(sa->rekey_at, sa->expire_at));
	if (sa->req.kind != TASK_NONE)
		next = min_ms(next, sa->req.retransmit_at);
	return next;
}

void ike_sa_login_begins(struct ike_sa *sa)
{
	if (!sa->initiator) {
		sa->open_until = sa->core->now + IKE_LOGIN_TIMEOUT_MS;
		ike_sa_touch(sa);	/* its deadline moved */
	}
}

void ike_sa_touch(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	if (sa->touched || core->touched_all)
		return;
	if (core->n_touched == sizeof(core->touched) / sizeof(core->touched[0])) {
		core->touched_all = true;
		return;
	}
	sa->touched = true;
	core->touched[core->n_touched++] = sa;
}

void ike_sa_untouch(struct ike_sa *sa)
{
	struct ike *core = sa->core;
	if (!sa->touched)
		return;
	for (unsigned i = 0; i < core->n_touched; i++)
		if (core->touched[i] == sa) {
			core->touched[i] = core->touched[--core->n_touched];
			break;
		}
	sa->touched = false;
}

/* Ticks the touched SAs (and those their ticks touch, a few rounds deep); returns
 * false when they overflowed the list, so that every SA must be visited. */
static bool tick_touched(struct ike *core, ms_t now, ms_t *next)
{
	for (int round = 0; core->n_touched && round < 8; round++) {
		struct ike_sa *batch[sizeof(core->touched) / sizeof(core->touched[0])];
		unsigned n = core->n_touched;
		memcpy(batch, core->touched, n * sizeof(batch[0]));
		/* Still marked while ticked: touching itself adds nothing. */
		for (unsigned i = 0; i < n; i++)
			if (batch[i]->state != IKE_DESTROYING)
				*next = min_ms(*next, tick_sa(batch[i], now));
		for (unsigned i = 0; i < n; i++)
			ike_sa_untouch(batch[i]);
		if (core->touched_all)
			return false;
	}
	return core->n_touched == 0;
}

static void untouch_all(struct ike *core)
{
	while (core->n_touched)
		ike_sa_untouch(core->touched[core->n_touched - 1]);
	core->touched_all = false;
}

ms_t ike_tick(struct ike *core, ms_t now)
{
	ms_t next = MS_NEVER;
	core->now = now;
	untouch_all(core);	/* this pass visits them all */
	/* A pass can make new SAs (dpd_action=restart, keying tries, backup peers). They go
	 * to the head of the list, before what this pass saw: take them in too, or their
	 * retransmissions would never be scheduled. Destroyed SAs stay listed until the
	 * reap, so `seen` stays valid. */
	struct ike_sa *seen = NULL;
	for (int round = 0; core->sas != seen && round < 8; round++) {
		struct ike_sa *head = core->sas;
		for (struct ike_sa *sa = head; sa && sa != seen; sa = sa->next)
			if (sa->state != IKE_DESTROYING)
				next = min_ms(next, tick_sa(sa, now));
		seen = head;
	}
	/* SAs the pass touched after it had visited them. */
	if (!tick_touched(core, now, &next))
		next = now;	/* too many: another full pass right away */
	core->due = next;
	ike_sa_reap(core);
	return next;
}

ms_t ike_tick_input(struct ike *core, ms_t now)
{
	if (core->touched_all || now >= core->due)
		return ike_tick(core, now);
	core->now = now;
	ms_t next = core->due;
	if (!tick_touched(core, now, &next))
		return ike_tick(core, now);
	core->due = next;
	ike_sa_reap(core);
	return next;
}

void ike_life_times(ms_t now, const struct life_spec *l, ms_t *rekey_at, ms_t *expire_at)
{
	uint64_t rekey = l->rekey_s * 1000, life = l->life_s * 1000;
	if (l->agreed_s && (!life || l->agreed_s * 1000 < life)) {
		/* The peer's shorter lifetime: renew as long before its end as we would
		 * before ours (a tenth of it if that leaves nothing). */
		uint64_t agreed = l->agreed_s * 1000;
		uint64_t margin = life > rekey && rekey ? life - rekey : agreed / 10;
		if (margin >= agreed)
			margin = agreed / 10;
		if (!rekey || rekey > agreed - margin)
			rekey = agreed - margin;
		life = agreed;
	}
	*expire_at = life ? now + life : MS_NEVER;
	if (!rekey) {
		*rekey_at = MS_NEVER;
		return;
	}
	uint32_t r = 0;
	crypto_random(&r, sizeof(r));
	uint64_t spread = l->rand_s * 1000;
	if (spread > rekey / 2)		/* jitter never makes a rekey come twice as early */
		spread = rekey / 2;
	*rekey_at = now + rekey - (spread ? r % spread : 0);
}

void ike_sa_schedule_rekey(struct ike_sa *sa)
{
	const struct conn_cfg *cfg = sa->conn ? sa->conn->cfg : NULL;
	if (!cfg || !cfg->rekey_time) {
		sa->rekey_at = sa->expire_at = MS_NEVER;
		return;
	}
	uint64_t over = cfg->over_time ? cfg->over_time : cfg->rekey_time / 10;
	struct life_spec l = { .rekey_s = cfg->rekey_time, .life_s = cfg->rekey_time + over,
			       .rand_s = cfg->rand_time };
	ike_life_times(sa->core->now, &l, &sa->rekey_at, &sa->expire_at);
}
