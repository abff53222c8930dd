/* INFORMATIONAL (RFC 7296 1.4): DELETE of IKE and CHILD SAs (with the simultaneous-
 * delete rule of 1.4.1) and empty liveness checks for DPD. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"

void ikev2_info_start(struct ike_sa *sa, enum task_kind kind, uint32_t child_id)
{
	struct ikev2_builder k;
	ikb_init(&k);
	sa->req.kind = kind;
	if (kind == TASK_IKE_DELETE) {
		ikb_delete(&k, PROTO_IKE, NULL, 0, 0);
		ike_sa_set_state(sa, IKE_DELETING);
		log_info(LOG_IKE, "deleting IKE_SA %s[%u]", ike_sa_name(sa), sa->uniqueid);
	} else if (kind == TASK_CHILD_DELETE) {
		struct child_sa *c = child_sa_find_by_id(sa, child_id);
		if (!c || c->state == CHILD_DELETING) {
			ikb_free(&k);
			ike_request_done(sa);
			return;
		}
		uint8_t spi[4];
		put_u32(spi, c->spi_in);
		ikb_delete(&k, PROTO_ESP, spi, 4, 1);
		c->state = CHILD_DELETING;
		sa->req.old_child_id = child_id;
		log_info(LOG_IKE, "closing CHILD_SA %s{%u} with SPIs %08x_i %08x_o", c->cfg->name,
			 c->uniqueid, c->spi_in, c->spi_out);
	} else {
		log_ctl(LOG_IKE, "%s: sending DPD liveness check", ike_sa_name(sa));
	}
	ike_send_request(sa, INFORMATIONAL, &k);
}

static void after_close(struct ike *core, struct conn *conn, bool by_peer)
{
	/* A reload retired the SA's conn: the restart follows the one loaded now. */
	conn = conn ? conn_find(core, conn->cfg->name) : NULL;
	if (!conn || !by_peer)
		return;
	for (struct child_cfg *cc = conn->cfg->children; cc; cc = cc->next) {
		if (cc->close_action != ACTION_RESTART)
			continue;
		log_info(LOG_IKE, "close_action=start: re-initiating '%s'", cc->name);
		ike_initiate(core, conn->cfg->name, cc->name, core->now, NULL, 0);
	}
}

void ikev2_info_request_in(struct ike_sa *sa, struct msg_in *m)
{
	struct ikev2_builder k;
	ikb_init(&k);
	if (sa->eap && ikev2_find_notify(&m->pl, N_AUTHENTICATION_FAILED)) {
		ike_send_response(sa, m, &k);
		ikev2_eap_peer_gave_up(sa);
		return;
	}
	for (size_t i = 0; i < m->pl.n_del; i++) {
		const struct ikev2_delete *d = &m->pl.del[i];
		if (d->proto == PROTO_IKE) {
			struct conn *conn = sa->conn;
			struct ike *core = sa->core;
			bool live = sa->state == IKE_ESTABLISHED && !sa->superseded;
			log_info(LOG_IKE, "received DELETE for IKE_SA %s[%u]", ike_sa_name(sa), sa->uniqueid);
			/* The peer won a rekey collision and deletes the old SA before our own
			 * answer told us: its new SA takes the CHILD_SAs. */
			struct ike_sa *theirs = sa->collision_ike ?
				ike_sa_by_id(sa->core, sa->collision_ike) : NULL;
			if (theirs)
				ike_sa_adopt_children(theirs, sa);
			ikb_free(&k);
			ikb_init(&k);
			ike_send_response(sa, m, &k);
			if (conn)
				conn->refs++;
			ike_sa_destroy(sa);
			after_close(core, conn, live);
			if (conn)
				conn_put(core, conn);
			return;
		}
		/* Our SPIs of the deleted CHILD_SAs go back in the answer: as many as the peer
		 * named (the payload was length-checked against n_spi). */
		uint8_t *ours = malloc((size_t)d->n_spi * 4 + 1);
		uint16_t n_ours = 0;
		if (!ours)
			break;
		for (uint16_t j = 0; j < d->n_spi; j++) {
			uint32_t spi = get_u32(d->spis + 4 * j);
			struct child_sa *c = child_sa_find_by_spi(sa, spi, false);
			if (!c) {
				log_ctl(LOG_IKE, "DELETE for unknown CHILD_SA with SPI %08x", spi);
				continue;
			}
			log_info(LOG_IKE, "received DELETE for CHILD_SA %s{%u} with SPIs %08x_i %08x_o",
				 c->cfg->name, c->uniqueid, c->spi_in, c->spi_out);
			/* Both deleting at once: our own DELETE already covers it (1.4.1). */
			if (c->state != CHILD_DELETING)
				put_u32(ours + 4 * n_ours++, c->spi_in);
			bool rekeyed = c->state == CHILD_REKEYED;
			child_detach_and_free(sa, c, rekeyed);
		}
		if (n_ours)
			ikb_delete(&k, PROTO_ESP, ours, 4, n_ours);
		free(ours);
	}
	ike_send_response(sa, m, &k);
}

void ikev2_info_response_in(struct ike_sa *sa, struct msg_in *m)
{
	enum task_kind kind = sa->req.kind;
	if (kind == TASK_IKE_DELETE) {
		log_info(LOG_IKE, "IKE_SA %s[%u] deleted", ike_sa_name(sa), sa->uniqueid);
		ike_request_clear(sa);
		ike_sa_destroy(sa);
		return;
	}
	if (kind == TASK_CHILD_DELETE) {
		struct child_sa *c = child_sa_find_by_id(sa, sa->req.old_child_id);
		if (c) {
			log_info(LOG_IKE, "CHILD_SA %s{%u} closed", c->cfg->name, c->uniqueid);
			child_detach_and_free(sa, c, c->state == CHILD_REKEYED);
		}
	}
	(void)m;
	ike_request_done(sa);
}
