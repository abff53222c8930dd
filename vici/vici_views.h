/* Views: the daemon describes its IKE SAs, CHILD SAs and connections in these plain
 * structs, and the builders below turn them into exactly the messages strongSwan
 * 5.9.8's vici plugin sends (list-sa, list-conn, ike-updown, child-updown, ike-rekey,
 * child-rekey), so that swanctl --list-sas / --list-conns / --monitor-sa print them
 * as they do for charon. Key names, their order and nesting follow vici_query.c.
 *
 * All pointers are borrowed for the duration of the build call. Strings use
 * strongSwan's spelling (states "ESTABLISHED", "INSTALLED"; modes "TUNNEL";
 * algorithms "AES_GCM_16", "HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256", "CURVE_25519"). */
#ifndef TSUNAGI_VICI_VIEWS_H
#define TSUNAGI_VICI_VIEWS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/selector.h"
#include "vici/vici_msg.h"

struct vici_child_view {
	const char *name;		/* CHILD config name */
	uint32_t uniqueid;
	uint32_t reqid;
	const char *state;		/* INSTALLED, REKEYING, REKEYED, ... */
	const char *mode;		/* TUNNEL, TRANSPORT */
	/* The fields up to install_time are sent only in INSTALLED, REKEYING and
	 * REKEYED states, as strongSwan does. */
	const char *protocol;		/* ESP (NULL: "ESP") */
	bool encap;			/* UDP encapsulation */
	uint32_t spi_in, spi_out;	/* host order; printed as 8 hex digits */
	const char *encr_alg;		/* NULL: none */
	unsigned encr_keysize;		/* 0: not sent */
	const char *integ_alg;		/* NULL for AEAD */
	unsigned integ_keysize;
	const char *dh_group;		/* PFS group, NULL if none */
	bool esn;
	uint64_t bytes_in, packets_in, bytes_out, packets_out;
	/* Inbound packets dropped, by cause (tsunagi's own keys: swanctl ignores them). */
	uint64_t drops_integrity, drops_replay, drops_padding, drops_selector, drops_other;
	int64_t use_in, use_out;	/* seconds since the last packet, -1: never */
	int64_t rekey_time;		/* seconds until rekey, 0: not sent */
	int64_t life_time;		/* seconds until expiry, 0: not sent */
	int64_t install_time;		/* seconds since installation */
	bool life_bytes_limited;	/* a hard byte lifetime applies: */
	uint64_t life_bytes_left;	/* bytes until it, sent as life-bytes-left */
	const struct selector *local_ts;
	size_t n_local_ts;
	const struct selector *remote_ts;
	size_t n_remote_ts;
};

struct vici_ike_view {
	const char *name;		/* connection name */
	uint32_t uniqueid;
	int version;			/* 1 or 2 */
	const char *state;		/* ESTABLISHED, CONNECTING, ... */
	struct addr local, remote;	/* with ports */
	const char *local_id, *remote_id;
	const char *remote_xauth_id;	/* IKEv1 XAuth user if any, else NULL */
	const char *remote_eap_id;	/* IKEv2 EAP identity if any, else NULL */
	bool initiator;
	/* SPIs as the 8 wire bytes read big-endian; printed as 16 hex digits. */
	uint64_t spi_i, spi_r;
	bool nat_local, nat_remote, nat_fake, nat_any;
	const char *encr_alg;		/* NULL: no proposal yet (then no algorithms) */
	unsigned encr_keysize;
	const char *integ_alg;
	unsigned integ_keysize;
	const char *prf_alg;
	const char *dh_group;
	/* Sent only when state is ESTABLISHED: */
	int64_t established;		/* seconds since */
	int64_t rekey_time;		/* seconds until, 0: not sent */
	int64_t reauth_time;		/* seconds until, 0: not sent */
	/* tsunagi's own keys for the operator views (swanctl ignores them): */
	const char *ikev1_state;	/* IKEv1: Cisco's state name (ikev1-state) */
	bool heard;			/* a message came from the peer: */
	int64_t last_rx;		/* seconds since (last-rx) */
	bool dpd_sent;			/* a DPD probe went out: */
	int64_t dpd_last;		/* seconds since (dpd-last) */
	const struct addr *local_vips;	/* virtual IPs, may be NULL */
	size_t n_local_vips;
	const struct addr *remote_vips;
	size_t n_remote_vips;
	const struct vici_child_view *children;
	size_t n_children;
};

struct vici_auth_view {
	const char *auth_class;		/* "pre-shared key", "public key", "EAP", "XAuth" */
	const char *id;			/* NULL: not sent */
	const char *xauth_id;		/* NULL: not sent */
	const char *eap_id;		/* NULL: not sent */
};

struct vici_child_cfg_view {
	const char *name;
	const char *mode;		/* TUNNEL, TRANSPORT, PASS, DROP */
	uint64_t rekey_time, rekey_bytes, rekey_packets;
	const char *dpd_action;		/* clear, trap, restart (NULL: "clear") */
	const char *close_action;	/* NULL: not sent */
	const char *start_action;	/* none, trap, start (NULL: not sent) */
	const char *const *local_ts;	/* as configured: "10.1.0.0/16", "dynamic" */
	size_t n_local_ts;
	const char *const *remote_ts;
	size_t n_remote_ts;
	const char *interface;		/* NULL: not sent */
};

struct vici_conn_view {
	const char *name;
	const char *const *local_addrs;
	size_t n_local_addrs;
	const char *const *remote_addrs;
	size_t n_remote_addrs;
	int version;			/* 0 any, 1, 2 */
	uint32_t reauth_time, rekey_time;
	const char *unique;		/* UNIQUE_NO, UNIQUE_REPLACE, ... (NULL: UNIQUE_NO) */
	uint32_t dpd_delay;
	const struct vici_auth_view *local;	/* authentication rounds: local-1, local-2 */
	size_t n_local;
	const struct vici_auth_view *remote;
	size_t n_remote;
	const struct vici_child_cfg_view *children;
	size_t n_children;
	bool disabled;			/* tsunagi: taken out of service (tsunagictl --disable) */
};

/* Key/values of one IKE SA (no enclosing section, no child-sas). */
void vici_build_ike_fields(struct vici_msg *m, const struct vici_ike_view *ike);
/* Key/values of one CHILD SA (no enclosing section). */
void vici_build_child_fields(struct vici_msg *m, const struct vici_child_view *c);
/* The section name strongSwan uses for a CHILD SA: "<name>-<uniqueid>". */
const char *vici_child_key(const struct vici_child_view *c, char *out, size_t outlen);

/* list-sa event: { <ike name> { ...ike..., child-sas { <name-id> {...} } } } */
void vici_build_list_sa(struct vici_msg *m, const struct vici_ike_view *ike);
/* ike-updown: { up = yes (only when up), <ike name> { ...ike... } } */
void vici_build_ike_updown(struct vici_msg *m, const struct vici_ike_view *ike, bool up);
/* child-updown: as ike-updown, with child-sas holding only the affected CHILD SA. */
void vici_build_child_updown(struct vici_msg *m, const struct vici_ike_view *ike,
			     const struct vici_child_view *child, bool up);
/* ike-rekey: { <name> { old {...} new {...} } } */
void vici_build_ike_rekey(struct vici_msg *m, const struct vici_ike_view *old_sa,
			  const struct vici_ike_view *new_sa);
/* child-rekey: { <ike name> { ...ike..., child-sas { <name-id> { old {} new {} } } } } */
void vici_build_child_rekey(struct vici_msg *m, const struct vici_ike_view *ike,
			    const struct vici_child_view *old_sa,
			    const struct vici_child_view *new_sa);
/* list-conn event. */
void vici_build_list_conn(struct vici_msg *m, const struct vici_conn_view *conn);
/* control-log / log event body. */
void vici_build_log(struct vici_msg *m, const char *group, int level,
		    const char *ike_name, uint32_t ike_uniqueid, const char *text);
/* { success = yes } or { success = no, errmsg = ... } */
void vici_build_result(struct vici_msg *m, bool ok, const char *errmsg);
#endif
