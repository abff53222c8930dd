/* Internals shared by the IKE core's files (not for the I/O shell). */
#ifndef TSUNAGI_IKE_PRIVATE_H
#define TSUNAGI_IKE_PRIVATE_H
#include "ike/ike.h"
#include "ike/cert.h"
#include "ike/ike_sa.h"
#include "ike/pool.h"
#include "lib/log.h"

/* Kinds of dropped messages, each with its own log budget. */
enum drop_kind {
	DROP_MALFORMED, DROP_NO_SA, DROP_WINDOW, DROP_INTEGRITY,
	DROP_INIT_IN,		/* "parsed" lines of new IKE_SA_INIT requests */
	DROP_INIT_REFUSED,	/* IKE_SA_INIT answered with an error, no state kept */
	DROP_VENDOR,		/* unknown IKEv1 vendor IDs (logged, otherwise ignored) */
	DROP_FRAG,		/* IKEv2 fragments (RFC 7383) not taken */
	DROP_MAPPING,		/* NEW_MAPPINGs from the ESP engine not followed */
	DROP_KINDS
};

struct drop_limit {
	ms_t window;
	unsigned logged;
	uint64_t suppressed;
};

struct ike {
	struct ike_env env;
	struct ike_timing t;
	struct conn *conns;
	struct secret_cfg *secrets;
	struct cred_store *creds;	/* keys, CAs, CRLs (ike/cred_store.c) */
	struct pools *pools;		/* virtual IP pools (ike/pool.h) */
	struct ike_sa *sas;
	bool reap_pending;		/* an SA or child is marked: ike_sa_reap() has work */
	uint32_t next_ike_id, next_child_id, next_reqid;
	struct ike_stats st;
	ms_t now;			/* of the input being processed */
	uint8_t cookie_secret[32];	/* for stateless COOKIEs (RFC 7296 2.6) */
	struct drop_limit drop_limits[DROP_KINDS];	/* log rate limits, see drop() */
	struct {			/* refused IKE_SA_INITs, for the COOKIE threshold */
		ms_t start;
		uint64_t cur, prev;	/* in this window and the one before */
	} init_refused;
	size_t frag_held;		/* bytes of fragments held for reassembly, all SAs */
	size_t frag_held_max;		/* 0: FRAG_MAX_HELD (tests lower it) */
	struct frag_rx *frag_oldest, *frag_newest;	/* every reassembly, by start */
	/* ike_tick_input(): after an input only the SAs it touched are ticked. `due` is
	 * at or before every other SA's next deadline (an SA's deadline moves earlier
	 * only when something touches it); a full ike_tick() recomputes it. */
	ms_t due;
	struct ike_sa *touched[16];
	unsigned n_touched;
	bool touched_all;		/* more than fit: the next tick visits every SA */
};

/* A decoded, authenticated incoming message. */
struct msg_in {
	struct ikev2_hdr hdr;
	struct ikev2_payloads pl;
	struct buf plain;		/* decrypted SK contents (pl points into it) */
	const uint8_t *raw;		/* the whole datagram */
	size_t raw_len;
	struct addr local, remote;
};

/* ike_input.c: may a line about unauthenticated input be logged? At most a burst of
 * each kind per window, so spoofed packets cannot flood the log. */
bool ike_log_allowed(struct ike *core, enum drop_kind kind);
/* Counts a dropped message and logs why (rate limited by kind). */
void ike_drop(struct ike *core, enum drop_kind kind, uint64_t *counter, int level,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* An authenticated, decrypted request / response (m->pl holds its payloads) goes to
 * its exchange; hash is the request's, kept for retransmission detection. */
void ike_dispatch_request(struct ike_sa *sa, struct msg_in *m, const uint8_t hash[16]);
void ike_dispatch_response(struct ike_sa *sa, struct msg_in *m);
/* Authenticated input (an IKE message of either version, or the engine's NEW_MAPPING)
 * came from `remote`: with NAT-T in use the SA and its children follow it there. True
 * when the SA moved. */
bool ike_follow_peer(struct ike_sa *sa, const struct addr *local, const struct addr *remote);

/* ike_conns.c */
struct conn *conn_find(struct ike *core, const char *name);	/* not retired */

/* ike_core.c */
void ike_sa_reap(struct ike *core);	/* frees SAs marked for destruction */
/* Something happened to sa that may bring its next deadline forward (ike_timers.c). */
void ike_sa_touch(struct ike_sa *sa);
void ike_sa_untouch(struct ike_sa *sa);	/* before it is freed */
void ike_transmit(struct ike_sa *sa, const struct buf *pkt);
/* The IKE header of a message of this SA (length and next payload left 0). */
void ike_fill_header(const struct ike_sa *sa, uint8_t exchange, uint32_t msgid, bool response,
		     struct ikev2_hdr *h);
ms_t ike_retransmit_delay(const struct ike *core, unsigned tries);
struct ike_sa *ike_sa_new(struct ike *core, struct conn *conn, bool initiator);
/* A responder SA is half-open (half_open_timeout_s from IKE_SA_INIT) until the peer
 * has shown it holds the keys and, for IKEv1, authenticated Phase 1; a login that
 * then waits on a user (EAP, XAuth: a password typed) gets this long from its start.
 * No setting: strongSwan has none either (its half-open timeout covers the login). */
#define IKE_LOGIN_TIMEOUT_MS 120000
/* The login of responder SA sa begins now (once per SA): the login timeout replaces
 * the half-open one. */
void ike_sa_login_begins(struct ike_sa *sa);
/* May a new responder SA from remote be created (limits on half-open SAs)? */
bool ike_half_open_ok(struct ike *core, const struct addr *remote, const char *what);
void ike_sa_destroy(struct ike_sa *sa);
/* Keeps a copy of the SA's Ni (ni true) or Nr: data, or with data NULL len random
 * bytes. -1: out of memory (the old one kept). */
int ike_sa_set_nonce(struct ike_sa *sa, bool ni, const uint8_t *data, size_t len);
/* Once the SA is authenticated the nonces are needed no more (a rekey or a CHILD_SA
 * brings its own): freed, so an established SA does not carry them. */
void ike_sa_drop_nonces(struct ike_sa *sa);
void ike_sa_set_state(struct ike_sa *sa, enum ike_state st);
void ike_report_rekey(struct ike_sa *old_ike, struct ike_sa *new_ike, struct child_sa *old_child,
		      struct child_sa *new_child);
struct ike_sa *ike_sa_by_id(struct ike *core, uint32_t uniqueid);
/* Moves every CHILD_SA of `from` to `to` (rekeying hands them over). */
void ike_sa_adopt_children(struct ike_sa *to, struct ike_sa *from);
void ike_sa_queue(struct ike_sa *sa, enum task_kind kind, struct child_cfg *cc, uint32_t child_id);
void ike_sa_run_tasks(struct ike_sa *sa);
/* Sends a request built from inner payloads (encrypted unless IKE_SA_INIT) and arms the
 * retransmit timer. */
void ike_send_request(struct ike_sa *sa, uint8_t exchange, struct ikev2_builder *inner);
/* Sends (and caches) the response to the message being processed. */
void ike_send_response(struct ike_sa *sa, const struct msg_in *m, struct ikev2_builder *inner);
/* Encodes a message into out (encrypting when keys exist and exchange != IKE_SA_INIT). */
int ike_encode(struct ike_sa *sa, uint8_t exchange, uint32_t msgid, bool response,
	       struct ikev2_builder *inner, struct buf *out);
void ike_request_done(struct ike_sa *sa);
/* The request's proposal array (allocated on first use, freed with the request);
 * NULL when out of memory. */
struct proposal *ike_request_offer(struct request *r);
void ike_request_clear(struct ike_sa *sa);
void conn_put(struct ike *core, struct conn *c);
struct secret_cfg *ike_find_psk(struct ike *core, const struct identity *me,
				const struct identity *peer);
void ike_sa_schedule_rekey(struct ike_sa *sa);
/* ike_timers.c: the peer stopped answering (retransmissions, or IKEv1 DPD): the SA goes
 * and dpd_action, backup peers or keyingtries say what follows. */
void ike_peer_dead(struct ike_sa *sa);
/* ike_timers.c: when to renew and when to end an SA with these times in seconds (0:
 * none): renewal at rekey_s less up to rand_s of jitter, the end at life_s; a shorter
 * lifetime agreed with the peer (IKEv1) brings both forward. */
struct life_spec {
	uint64_t rekey_s, life_s, rand_s, agreed_s;
};
void ike_life_times(ms_t now, const struct life_spec *l, ms_t *rekey_at, ms_t *expire_at);
uint32_t ike_alloc_reqid(struct ike *core, const struct child_cfg *cc);
/* The IKE SA's peer, connection and state for log lines: "site[3] 198.51.100.2". */
const char *ike_sa_tag(const struct ike_sa *sa, char *out, size_t outlen);

/* ike/v1/ikev1_sa.c: the IKEv1 side the core calls */
struct ikev1_sa;
/* A datagram whose header says major version 1. */
void ikev1_input(struct ike *core, const struct addr *local, const struct addr *remote,
		 const uint8_t *msg, size_t len);
void ikev1_sa_free(struct ikev1_sa *v);
/* Logs why an IKEv1 SA's retransmissions went unanswered or why it stayed half-open
 * (its state says). */
void ikev1_gave_up(const struct ike_sa *sa);
/* Sends DELETE for every CHILD_SA and the ISAKMP SA, and destroys them. */
void ikev1_delete_all(struct ike_sa *sa);
/* Runs one queued task of an IKEv1 SA (the core's queue is shared). */
void ikev1_run_task(struct ike_sa *sa, const struct task *t);
/* ike/v1/ikev1_life.c: an ISAKMP SA's own timers (its end, DPD, IPsec SAs outliving
 * it); when it wants to run next. */
ms_t ikev1_tick(struct ike_sa *sa, ms_t now);
/* Does this SA speak IKEv1 (or will it, for a task about to start)? */
bool ike_sa_is_v1(const struct ike_sa *sa);

/* ike_vip.c: virtual IPs for IKEv1 Mode Config and the IKEv2 configuration payload.
 * Responder: an address for the peer from its connection's pools (in order), kept in
 * sa->vips; a pool_status (ike/pool.h) and a log line naming the peer on failure. */
int ike_vip_acquire(struct ike_sa *sa, const struct addr *requested, struct addr *out);
/* Releases the leases (offline for the peer's identity) and forgets assigned VIPs. */
void ike_vip_release_all(struct ike_sa *sa);
/* An IKE rekey: the new SA takes the old one's virtual IPs. */
void ike_vip_move(struct ike_sa *to, struct ike_sa *from);
/* What a "dynamic" traffic selector stands for on one side: remote, the leases we gave
 * the peer; local, the addresses the peer gave us, or, while a requested one has not
 * come yet, the whole address family (the responder narrows it to the address); else
 * the IKE endpoint of that side. Returns how many selectors it wrote (at most max). */
size_t ike_vip_dynamic(const struct ike_sa *sa, bool local, struct selector *out, size_t max);
/* The reqid of a new CHILD_SA of cc. Usually the child config's (allocated once). For
 * an SA whose peer holds leases, its own per child config: clients behind one NAT
 * share the outer address and the config, and the ESP engine finds the outbound SA by
 * reqid and outer destination, so one reqid would mix their traffic up. */
uint32_t ike_vip_reqid(struct ike_sa *sa, struct child_cfg *cc);
/* Initiator: an address the peer assigned us (CFG_REPLY, Mode Config): kept in
 * sa->vips and handed to the shell (env.vip). */
void ike_vip_assigned(struct ike_sa *sa, const struct addr *a);

/* ikev2_config.c: the configuration payload in IKE_AUTH. Responder: answers a
 * CFG_REQUEST into k; false when an address was asked for and none could be given
 * (FAILED_CP_REQUIRED is in k: build no CHILD_SA, delete the IKE SA). */
bool ikev2_cp_respond(struct ike_sa *sa, const struct msg_in *m, struct ikev2_builder *k);
/* Initiator: a CFG_REQUEST for the connection's vips (nothing without vips). */
void ikev2_cp_request(struct ike_sa *sa, struct ikev2_builder *k);
/* Initiator: takes the CFG_REPLY; -1 (logged) when vips were asked for and none came. */
int ikev2_cp_reply_in(struct ike_sa *sa, const struct msg_in *m);

/* identity.c */
int identity_from_string(const char *s, struct identity *id);
void identity_from_addr(const struct addr *a, struct identity *id);
void identity_from_payload(const struct ikev2_id *p, struct identity *id);
bool identity_equal(const struct identity *a, const struct identity *b);
/* Does a configured id string ("%any", NULL, or an identity) accept this one? */
bool identity_matches_cfg(const char *cfg_id, const struct identity *id);
/* Does a configured id hold a wildcard ("*.example.net", "CN=*")? It matches, but
 * is not sent as IDr. */
bool identity_has_wildcard(const char *cfg_id);

/* ikev2_init.c; the first three are shared with IKEv1 */
size_t conn_proposals(const struct conn_cfg *cfg, struct proposal *out, size_t max);
bool addr_cfg_matches(char **list, size_t n, const struct addr *a);
int resolve_endpoints(struct ike_sa *sa);
void ikev2_init_start(struct ike_sa *sa);
void ikev2_init_request_in(struct ike *core, struct msg_in *m);
void ikev2_init_response_in(struct ike_sa *sa, struct msg_in *m);
/* Why connection c cannot carry this IKE SA (its addresses, IKEv2, or the SA's chosen
 * proposal), or NULL when it can: a switch by identity in IKE_AUTH checks it. */
const char *ikev2_conn_unfit(const struct conn *c, const struct ike_sa *sa);
int ikev2_natd_check(struct ike_sa *sa, const struct msg_in *m, bool *nat_here, bool *nat_there);
void ikev2_add_natd(struct ike_sa *sa, struct ikev2_builder *k, const struct addr *src,
		    const struct addr *dst);

/* ikev2_auth.c */
void ikev2_auth_start(struct ike_sa *sa);
void ikev2_auth_request_in(struct ike_sa *sa, struct msg_in *m);
void ikev2_auth_response_in(struct ike_sa *sa, struct msg_in *m);

/* ikev2_pubkey.c: certificates in IKE_SA_INIT and IKE_AUTH */
bool ikev2_conn_pubkey(const struct conn_cfg *c);	/* either side auth = pubkey */
void ikev2_cert_init_out(struct ike_sa *sa, struct ikev2_builder *k, bool response);
void ikev2_cert_init_in(struct ike_sa *sa, const struct ikev2_payloads *pl);
/* Our identity from our certificate's subject (no id configured). 0 or -1. */
int ikev2_cert_identity(struct ike_sa *sa, struct identity *id);
/* Our AUTH by signature; out gets the data. 0 or -1 (logged). */
int ikev2_pubkey_sign(struct ike_sa *sa, bool initiator, uint8_t *method, struct buf *out);
void ikev2_add_certs(struct ike_sa *sa, struct ikev2_builder *k);
/* Hands put the DER of each certificate we send (send_cert, and the peer's CERTREQ
 * for send_cert = ifasked), for either version's CERT payloads. */
void ike_put_certs(struct ike_sa *sa, void (*put)(void *k, const uint8_t *der, size_t len),
		   void *k);
void ikev2_add_certreq(struct ike_sa *sa, struct ikev2_builder *k);
/* The peer's certificate chain, identity and AUTH signature. 0 or -1 (logged; the
 * message ends with `consequence`, e.g. "; sending AUTHENTICATION_FAILED"). */
int ikev2_pubkey_verify(struct ike_sa *sa, const struct msg_in *m, bool peer_is_initiator,
			const char *consequence);
/* For IKEv1 as well: our certificate (the connection's first local cert) or NULL; and
 * the peer's CERT payloads as a chain ([0] the end entity) validated against the
 * connection's CAs and matched against sa->peer_id, or NULL (logged, counted). */
X509 *ike_my_cert(struct ike_sa *sa);
STACK_OF(X509) *ike_peer_cert_check(struct ike_sa *sa, const struct ikev2_cert *certs, size_t n,
				    size_t n_over, const char *consequence);

/* ikev2_eap.c: EAP in IKE_AUTH (RFC 7296 2.16), the responder as authenticator and the
 * initiator as peer. */
struct ikev2_eap;
void ikev2_eap_free(struct ikev2_eap *e);
bool ikev2_conn_eap(const struct conn_cfg *c);	/* either side auth = eap-* */
/* Responder: the first IKE_AUTH request came without AUTH and the connection wants EAP. */
void ikev2_eap_server_begin(struct ike_sa *sa, struct msg_in *m);
/* Responder: a later IKE_AUTH request of the EAP conversation. */
void ikev2_eap_server_in(struct ike_sa *sa, struct msg_in *m);
/* Initiator: sets up the peer before the first IKE_AUTH request; -1 (logged) without a
 * secret. */
int ikev2_eap_client_begin(struct ike_sa *sa);
/* Initiator: an IKE_AUTH response. Returns false when the caller should verify the
 * responder's AUTH first (the first response), true when it was handled. */
bool ikev2_eap_client_in(struct ike_sa *sa, struct msg_in *m);
/* Responder: the client ended EAP with AUTHENTICATION_FAILED in an INFORMATIONAL. */
void ikev2_eap_peer_gave_up(struct ike_sa *sa);
/* Initiator: the responder's AUTH verified; runs the EAP request of that response. */
void ikev2_eap_client_authenticated(struct ike_sa *sa, struct msg_in *m);

/* ikev2_auth.c, for EAP: the responder's IDr and AUTH by its own method; its last
 * steps once the peer is authenticated (m: the request to answer, whose payloads are
 * those of the first IKE_AUTH request: CHILD_SA, CP, INITIAL_CONTACT; k: the response
 * so far); the initiator's last steps. */
int ikev2_auth_add_own(struct ike_sa *sa, struct ikev2_builder *k);
void ikev2_auth_responder_finish(struct ike_sa *sa, const struct msg_in *m,
				 struct ikev2_builder *k);
void ikev2_auth_initiator_finish(struct ike_sa *sa, const struct msg_in *m);

/* ikev2_create.c */
void ikev2_create_start(struct ike_sa *sa, enum task_kind kind, struct child_cfg *cc,
			uint32_t child_id);
void ikev2_create_request_in(struct ike_sa *sa, struct msg_in *m);
void ikev2_create_response_in(struct ike_sa *sa, struct msg_in *m);

/* ikev2_info.c */
void ikev2_info_start(struct ike_sa *sa, enum task_kind kind, uint32_t child_id);
void ikev2_info_request_in(struct ike_sa *sa, struct msg_in *m);
void ikev2_info_response_in(struct ike_sa *sa, struct msg_in *m);
/* An unprotected notify-only response/request (errors in IKE_SA_INIT). */
void ikev2_send_notify_plain(struct ike *core, const struct msg_in *m, uint16_t type,
			     const uint8_t *data, size_t len);

/* child.c: selectors, proposals, and installation through PF_KEY */
int child_offer(struct ike_sa *sa, struct child_sa *c, struct proposal *out, size_t max,
		bool with_dh);
/* Responder: picks proposal and narrows selectors. Returns 0, or the notify type to
 * answer with (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE). */
int child_select(struct ike_sa *sa, struct child_sa *c, const struct ikev2_payloads *pl,
		 bool tsi_is_remote);
/* Sets c's traffic selectors (l and r may be c's own); -1 when out of memory, c
 * unchanged. */
int child_set_ts(struct child_sa *c, const struct selector *l, size_t nl,
		 const struct selector *r, size_t nr);
void child_local_ts(struct ike_sa *sa, const struct child_cfg *cc, struct selector *out,
		    size_t *n);
void child_remote_ts(struct ike_sa *sa, const struct child_cfg *cc, struct selector *out,
		     size_t *n);
struct child_sa *child_choose(struct ike_sa *sa, const struct ikev2_payloads *pl,
			      struct child_cfg *only, bool with_dh, uint16_t *error);
struct child_sa *child_sa_new(struct ike_sa *sa, struct child_cfg *cc, bool initiator);
void child_sa_free(struct child_sa *c);
uint32_t child_alloc_spi(struct ike_sa *sa, struct child_sa *c);
int child_install(struct ike_sa *sa, struct child_sa *c, const uint8_t *gir, size_t gir_len,
		  const uint8_t *ni, size_t ni_len, const uint8_t *nr, size_t nr_len);
/* Installs the child's SAs with keys given per direction (IKEv1 derives them itself). */
int child_install_keys(struct ike_sa *sa, struct child_sa *c, const uint8_t *ek_out,
		       const uint8_t *ak_out, const uint8_t *ek_in, const uint8_t *ak_in,
		       size_t ek, size_t ak);
void child_uninstall(struct ike_sa *sa, struct child_sa *c, bool keep_policies);
void child_policies(struct ike_sa *sa, struct child_sa *c, bool add);
void child_attach(struct ike_sa *sa, struct child_sa *c);
void child_install_pending_out(struct ike_sa *sa, struct child_sa *c);
/* The peer's address or port changed (sa->remote is the new one, old_remote the one
 * before): every child's SAs and policies follow it. */
void child_rebind_all(struct ike_sa *sa, const struct addr *old_remote);
void child_detach_and_free(struct ike_sa *sa, struct child_sa *c, bool keep_policies);
void child_schedule(struct ike_sa *sa, struct child_sa *c);
void trap_install(struct ike *core, struct conn *conn, bool add);
/* One child's trap policies (start_action = trap, or dpd_action = trap after DPD). */
void trap_install_child(struct ike *core, struct conn *conn, struct child_cfg *cc, bool add);
/* child_natport.c: transport mode across the peer's NAT with one inner port (L2TP):
 * whether the child's inner port (its remote selector's) is mapped to the peer's
 * NAT-T port; and a reqid of the IKE SA's own for such a child. */
bool child_nat_port(const struct ike_sa *sa, const struct child_sa *c, uint16_t *inner,
		    uint16_t *outer);
void child_nat_reqid(struct ike_sa *sa, struct child_sa *c);
/* ikev2_auth.c, shared with CREATE_CHILD_SA */
void child_established(struct ike_sa *sa, struct child_sa *c);
int child_accept_response(struct ike_sa *sa, struct child_sa *c, const struct msg_in *m,
			  const struct proposal *offered, size_t n_offered);
#endif
