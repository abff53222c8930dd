/* Dead peer detection for IKEv1 (RFC 3706): both sides announce it with a vendor ID;
 * then R-U-THERE and R-U-THERE-ACK, protected Informational notifies with the cookies
 * as SPI and a sequence number as data. We send R-U-THERE when the peer has been silent
 * for dpd_delay (the shared timer in ike_timers.c queues TASK_DPD), again every
 * dpd_delay with a new number, and declare the peer dead when no ACK of the latest came
 * within dpd_timeout of the first unanswered one (IKEv1 only, as in strongSwan; 150 s
 * when not set). dpd_action then applies as for IKEv2 (ike_peer_dead). */
#include <stdio.h>
#include <string.h>

#include "ike/v1/ikev1.h"

#define DPD_TIMEOUT_DEFAULT_S 150

static void cookies_of(const struct ike_sa *sa, uint8_t out[16])
{
	memcpy(out, sa->spi_i, 8);
	memcpy(out + 8, sa->spi_r, 8);
}

static void send_dpd(struct ike_sa *sa, uint16_t type, uint32_t seq)
{
	uint8_t cookies[16], data[4];
	cookies_of(sa, cookies);
	put_u32(data, seq);
	ikev1_info_notify(sa, type, ISAKMP_PROTO_ISAKMP, cookies, 16, data, 4);
}

/* TASK_DPD: one R-U-THERE (a peer without the vendor ID gets none: RFC 3706 5.2). */
void ikev1_dpd_send(struct ike_sa *sa)
{
	struct ikev1_sa *v = sa->v1;
	if (!v->vids.dpd || v->state != QM_IDLE)
		return;
	if (!v->dpd_seq)	/* a random start, as RFC 3706 7 asks */
		while (!v->dpd_seq || v->dpd_seq > 0x7fffffffu)
			crypto_random(&v->dpd_seq, sizeof(v->dpd_seq));
	else
		v->dpd_seq++;
	if (v->dpd_wait_since == MS_NEVER)
		v->dpd_wait_since = sa->core->now;
	log_info(LOG_IKE, "%s: sending DPD R-U-THERE %u", ike_sa_name(sa), v->dpd_seq);
	send_dpd(sa, ISAKMP_N_R_U_THERE, v->dpd_seq);
}

/* R-U-THERE / R-U-THERE-ACK in an authenticated Informational m: true if n was one. A
 * malformed one, or an ACK of anything but our latest R-U-THERE, is dropped and
 * counted (so it does not count as a sign of life either). A fresh one (a new number,
 * or the ACK of ours) from a new address or port moves the SA there (ikev1_follow). */
bool ikev1_dpd_notify_in(struct ike_sa *sa, const struct v1_msg *m, const struct isakmp_notify *n)
{
	struct ikev1_sa *v = sa->v1;
	uint8_t cookies[16];
	if (n->type != ISAKMP_N_R_U_THERE && n->type != ISAKMP_N_R_U_THERE_ACK)
		return false;
	cookies_of(sa, cookies);
	if (n->len != 4 || n->spi_len != 16 || memcmp(n->spi, cookies, 16) != 0) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_MALFORMED))
			log_info(LOG_IKE, "%s: malformed DPD notify dropped", ike_sa_name(sa));
		return true;
	}
	uint32_t seq = get_u32(n->data);
	if (n->type == ISAKMP_N_R_U_THERE) {
		/* Numbers only grow (RFC 3706 7): an old one is a replay. */
		if (v->dpd_peer_seq_known && (int32_t)(seq - v->dpd_peer_seq) <= 0) {
			sa->core->st.rx_invalid++;
			if (ike_log_allowed(sa->core, DROP_WINDOW))
				log_info(LOG_IKE, "%s: DPD R-U-THERE %u replayed (last %u), dropped",
					 ike_sa_name(sa), seq, v->dpd_peer_seq);
			return true;
		}
		v->dpd_peer_seq = seq;
		v->dpd_peer_seq_known = true;
		ikev1_follow(sa, m);	/* a new number: fresh; the ACK goes there */
		send_dpd(sa, ISAKMP_N_R_U_THERE_ACK, seq);
		return true;
	}
	if (v->dpd_wait_since == MS_NEVER || seq != v->dpd_seq) {
		sa->core->st.rx_invalid++;
		if (ike_log_allowed(sa->core, DROP_WINDOW))
			log_info(LOG_IKE, "%s: DPD R-U-THERE-ACK %u does not answer our R-U-THERE %u, "
				 "ignored", ike_sa_name(sa), seq, v->dpd_seq);
		return true;
	}
	v->dpd_wait_since = MS_NEVER;
	ikev1_follow(sa, m);
	return true;
}

/* Is the peer dead? When not yet, when to look again. */
ms_t ikev1_dpd_tick(struct ike_sa *sa, ms_t now)
{
	struct ikev1_sa *v = sa->v1;
	const struct conn_cfg *cfg = sa->conn ? sa->conn->cfg : NULL;
	if (!cfg || !cfg->dpd_delay || v->dpd_wait_since == MS_NEVER)
		return MS_NEVER;
	if (sa->last_rx > v->dpd_wait_since) {	/* it spoke since: alive */
		v->dpd_wait_since = MS_NEVER;
		return MS_NEVER;
	}
	uint32_t timeout = cfg->dpd_timeout ? cfg->dpd_timeout : DPD_TIMEOUT_DEFAULT_S;
	ms_t dead_at = v->dpd_wait_since + (ms_t)timeout * 1000;
	if (now < dead_at)
		return dead_at;
	log_err(LOG_IKE, "%s: peer not responding: no DPD R-U-THERE-ACK for %us (dpd_timeout)",
		ike_sa_name(sa), timeout);
	v->dpd_dead = true;
	ike_peer_dead(sa);
	return MS_NEVER;
}
