/* IKEv1 exchanges (RFC 2409): the state an ISAKMP SA keeps besides the shared struct
 * ike_sa (which holds the cookies as spi_i/spi_r, endpoints, identities, nonces of
 * Phase 1, children, the outstanding request for retransmission and the cached
 * response), and the entry points the core calls. Main Mode is ikev1_main.c,
 * Aggressive Mode ikev1_aggr.c, Quick Mode ikev1_quick.c, input, sending and
 * Informational ikev1_sa.c. */
#ifndef TSUNAGI_IKEV1_H
#define TSUNAGI_IKEV1_H
#include "ike/ike_private.h"
#include "ike/v1/isakmp_crypto.h"
#include "ike/v1/isakmp_msg.h"
#include "ike/v1/isakmp_sa.h"

/* Cisco's names, which operators know: in Main Mode the initiator waits for MSG2, 4,
 * 6, the responder for MSG3, 5; in Aggressive Mode the initiator waits in
 * AG_WAIT_MSG2, the responder (first exchange done, not yet authenticated) in
 * AG_INIT_EXCH; then the ISAKMP SA is QM_IDLE. */
enum ikev1_state {
	MM_START, MM_WAIT_MSG2, MM_WAIT_MSG3, MM_WAIT_MSG4, MM_WAIT_MSG5, MM_WAIT_MSG6,
	QM_IDLE, AG_WAIT_MSG2, AG_INIT_EXCH,
	/* After Phase 1, before the SA is up (ikev1_xauth.c, ikev1_modecfg.c): the XAuth
	 * server waits for the user's REPLY, then the ACK of its STATUS; the client for
	 * the server's REQUEST, then its SET of STATUS; Mode Config after it. */
	XAUTH_WAIT_REPLY, XAUTH_WAIT_ACK, XAUTH_WAIT_REQUEST, XAUTH_WAIT_STATUS,
	MODECFG_WAIT_REQUEST, MODECFG_WAIT_REPLY, MODECFG_WAIT_SET, MODECFG_WAIT_ACK,
};
const char *ikev1_state_name(enum ikev1_state s);
/* ikev1_sa_state_name() (ike_sa.h), what operators see for an ISAKMP SA: its state,
 * except that an established one without any CHILD_SA is MM_ACTIVE (AM_ACTIVE after
 * Aggressive Mode), as a Cisco ASA says; with one it is QM_IDLE, as IOS says. So
 * "Phase 1 up, Phase 2 not" shows. */

/* NAT-T versions by their vendor IDs, worst to best. */
enum ikev1_natt { NATT_NONE, NATT_DRAFT_02, NATT_DRAFT_02N, NATT_DRAFT_03, NATT_RFC3947 };

struct ikev1_vids {
	uint8_t natt;		/* enum ikev1_natt: the best one the peer sent */
	bool dpd, frag, xauth;
};

#define V1_MAX_OFFERED 16
#define V1_NONCE_LEN 32

/* One Quick Mode exchange under way (one at a time per ISAKMP SA). */
struct ikev1_qm {
	bool active;
	bool initiator;
	uint32_t msgid;
	struct isakmp_iv iv;
	struct child_sa *child;		/* not yet attached */
	struct dh *dh;			/* PFS */
	struct buf gxy;			/* PFS shared secret, kept until QM3 (wiped) */
	uint8_t ni[ISAKMP_MAX_NONCE], nr[ISAKMP_MAX_NONCE];
	size_t ni_len, nr_len;
	struct proposal offered[V1_MAX_OFFERED];
	size_t n_offered;
};

/* One Transaction exchange of ours (XAuth or Mode Config, ikev1_txn.c): its own
 * message ID and IV chain, and the Identifier the answer must echo. */
struct ikev1_txn {
	bool active;
	uint32_t msgid;
	uint16_t id;
	struct isakmp_iv iv;
};

struct ikev1_sa {
	enum ikev1_state state;
	struct isakmp_keys keys;
	bool have_keys;
	struct isakmp_iv iv;		/* Main Mode: the CBC chain; then its last block */
	struct buf sai_b;		/* the initiator's SA payload body (for HASH_I/R) */
	struct buf gxi, gxr;		/* public DH values of Phase 1 */
	struct buf peer_idb;		/* Aggressive Mode: IDii_b as received, for HASH_I */
	struct proposal offered[V1_MAX_OFFERED];
	size_t n_offered;
	struct isakmp_sa_params params;	/* of the chosen Phase 1 transform */
	uint8_t last_rx_hash[16];	/* of the last message processed */
	bool psk_warned;		/* "probable pre-shared key mismatch" said */
	bool aggressive;		/* Phase 1 by Aggressive Mode */
	bool natt_peer;			/* both sent a NAT-T vendor ID */
	uint8_t natt_ver;		/* enum ikev1_natt: the one agreed on */
	struct ikev1_vids vids;		/* what the peer's vendor IDs announced */
	struct ikev1_qm qm;		/* ours (initiator) */
	/* The peer's, answered meanwhile: both sides may start one at once (both
	 * renewing a CHILD_SA, say), and strongSwan runs them side by side. */
	struct ikev1_qm qm_r;
	/* Message IDs of Quick Modes begun by the peer: a replayed QM1 (its HASH(1) still
	 * valid) must not start another exchange (RFC 2408 3.1: IDs are unique). */
	uint32_t seen_msgid[16];
	unsigned n_seen;
	/* Lifetimes and renewal (ikev1_life.c): the agreed Phase 1 lifetime, whether we
	 * still owe the peer a RESPONDER-LIFETIME, the SA this one renews and the one
	 * renewing it (uniqueids), and an ISAKMP SA that ended holding IPsec SAs. */
	uint32_t life_s, life_kb;
	bool tell_life;
	ms_t tell_at;		/* when to send it (not right after MM6) */
	uint32_t renews, successor;
	bool orphan;
	/* DPD (ikev1_dpd.c): the peer sent the vendor ID; our last R-U-THERE number and
	 * since when one is unanswered (MS_NEVER: none); the peer's last number. */
	bool dpd_dead;
	uint32_t dpd_seq, dpd_peer_seq;
	bool dpd_peer_seq_known;
	ms_t dpd_wait_since;
	/* XAuth and Mode Config (ikev1_xauth.c, ikev1_modecfg.c). */
	struct ikev1_txn txn;		/* ours */
	bool xauth_ok;			/* the STATUS we sent (server) */
	char xauth_user[64];		/* the user who authenticated, for the lease */
	ms_t xauth_deadline;		/* client: until when it waits for the server */
	bool initial_contact;		/* server: the peer's, applied after XAuth */
	struct addr dns[4];		/* Mode Config client: the DNS servers assigned */
	size_t n_dns;
};

/* A received message, decrypted once its SA and IV are known. */
struct v1_msg {
	struct isakmp_hdr hdr;
	struct isakmp_payloads pl;
	struct buf plain;
	struct isakmp_iv next_iv;	/* the IV after this message, kept once authentic */
	const uint8_t *raw;
	size_t raw_len;
	struct addr local, remote;
};

/* ikev1_sa.c (ikev1_input, ikev1_sa_free, ikev1_run_task: ike_private.h) */
struct ikev1_sa *ikev1_sa_new(struct ike_sa *sa);
void ikev1_qm_clear(struct ikev1_qm *q);
/* Encodes header + payloads into out, encrypted with *iv (advanced) when iv is set. */
int ikev1_encode(struct ike_sa *sa, uint8_t exchange, uint32_t msgid,
		 struct isakmp_builder *k, struct isakmp_iv *iv, struct buf *out);
/* Keeps pkt (sent already) for retransmission until the answer comes. */
void ikev1_arm_retransmit(struct ike_sa *sa, enum task_kind kind, uint32_t msgid,
			  const struct buf *pkt);
/* Sends pkt and keeps it for retransmission until the answer comes. */
void ikev1_send_request(struct ike_sa *sa, enum task_kind kind, uint32_t msgid,
			const struct buf *pkt);
/* Sends pkt and caches it as the answer to m (a retransmitted m gets it again). */
void ikev1_send_response(struct ike_sa *sa, const struct v1_msg *m, const struct buf *pkt);
/* Decrypts m with iv and parses its payloads; -1 (logged, counted) if that fails. */
int ikev1_decrypt(struct ike_sa *sa, struct v1_msg *m, const struct isakmp_iv *iv);
/* An unencrypted Informational notify (errors before keys exist). */
void ikev1_notify_plain(struct ike *core, const struct v1_msg *m, const uint8_t cky_r[8],
			uint16_t type);
/* An encrypted Informational notify with HASH(1) (after Phase 1). */
void ikev1_notify_protected(struct ike_sa *sa, uint16_t type, uint8_t proto,
			    const uint8_t *spi, uint8_t spi_len);
void ikev1_established(struct ike_sa *sa);
/* m proved authentic and fresh: if it came from a new address or port (the peer's NAT
 * moved), the ISAKMP SA and its CHILD_SAs follow it (ike_follow_peer). */
void ikev1_follow(struct ike_sa *sa, const struct v1_msg *m);
const char *ikev1_notify_name(uint16_t type);

/* An encrypted Informational notify with data (RESPONDER-LIFETIME, DPD). */
void ikev1_info_notify(struct ike_sa *sa, uint16_t type, uint8_t proto, const uint8_t *spi,
		       uint8_t spi_len, const uint8_t *data, size_t len);
/* DELETE for the ISAKMP SA itself (its IPsec SAs are left alone). */
void ikev1_info_delete_isakmp(struct ike_sa *sa);

/* ikev1_life.c (ikev1_tick: ike_private.h) */
void ikev1_life_p1_offer(const struct conn_cfg *cfg, struct isakmp_sa_params *par);
void ikev1_life_p2_offer(const struct child_cfg *cc, struct isakmp_sa_params *par);
void ikev1_life_p1_agree(struct ike_sa *sa, const struct isakmp_sa_params *theirs);
void ikev1_life_p1_schedule(struct ike_sa *sa);
bool ikev1_life_notify_in(struct ike_sa *sa, const struct isakmp_notify *n);
bool ikev1_life_p2_agree(struct child_sa *c, const struct isakmp_sa_params *theirs);
void ikev1_life_p2_notify(struct isakmp_builder *k, const struct child_sa *c);
void ikev1_life_p2_take(struct child_sa *c, const struct isakmp_sa_params *echo,
			const struct isakmp_payloads *pl);
void ikev1_renew(struct ike_sa *old);
void ikev1_life_adopt(struct ike_sa *sa);
void ikev1_phase1_end(struct ike_sa *sa, bool send_delete);

/* ikev1_dpd.c */
void ikev1_dpd_send(struct ike_sa *sa);
bool ikev1_dpd_notify_in(struct ike_sa *sa, const struct v1_msg *m, const struct isakmp_notify *n);
ms_t ikev1_dpd_tick(struct ike_sa *sa, ms_t now);

/* ikev1_main.c */
void ikev1_main_start(struct ike_sa *sa);
void ikev1_main_request_in(struct ike *core, struct v1_msg *m);	/* MM1, no SA yet */
void ikev1_main_in(struct ike_sa *sa, struct v1_msg *m);

/* ikev1_main.c: Phase 1 pieces Aggressive Mode shares */
void ikev1_p1_params(const struct conn *c, struct isakmp_sa_params *par);
/* MM1/AM1's start: the SA payload of v1->offered (kept as SAi_b) and our vendor IDs;
 * -1 (logged) when no proposal can be said in IKEv1. */
int ikev1_offer_p1(struct ike_sa *sa, struct isakmp_builder *k);
bool ikev1_conn_admits(const struct conn *c, const struct v1_msg *m);
/* KE and nonce (and NAT-D once the peer's NAT-T vendor ID and both cookies are known)
 * for the group of sa->prop; our public value goes to mine. */
int ikev1_add_ke_nonce(struct ike_sa *sa, struct isakmp_builder *k, struct buf *mine);
void ikev1_my_identity(struct ike_sa *sa);
bool ikev1_ke_nonce_ok(struct ike_sa *sa, const struct v1_msg *m);
int ikev1_take_ke_nonce(struct ike_sa *sa, const struct v1_msg *m,
			const struct secret_cfg *psk);
/* g^xy from the peer's KE, SKEYID_d/a/e and the Phase 1 IV; -1 (logged) if the KE
 * is not a valid public value. */
int ikev1_finish_keys(struct ike_sa *sa);
size_t ikev1_id_body(const struct identity *id, uint8_t *out);
int ikev1_hash_auth(struct ike_sa *sa, bool of_initiator, const uint8_t *idb, size_t idlen,
		    uint8_t *out);
/* The peer's HASH_I/HASH_R over its ID body idb; false (logged, counted) if wrong. */
bool ikev1_check_hash(struct ike_sa *sa, const uint8_t *idb, size_t idlen,
		      const struct isakmp_blob *hash);
/* The peer's single ID and its HASH; the ID must fit the connection's remote id. */
bool ikev1_check_id_hash(struct ike_sa *sa, const struct v1_msg *m);
/* The peer's vendor IDs from MM1/MM2 (AM1/AM2): NAT-T version, DPD, ... */
void ikev1_take_vids(struct ike_sa *sa, const struct v1_msg *m);

/* ikev1_aggr.c */
void ikev1_aggr_start(struct ike_sa *sa);
void ikev1_aggr_request_in(struct ike *core, struct v1_msg *m);	/* AM1, no SA yet */
void ikev1_aggr_in(struct ike_sa *sa, struct v1_msg *m);

/* ikev1_vendor.c: reads a message's vendor IDs (unknown ones logged as hex, at a
 * bounded rate); appends our NAT-T vendor IDs: all we speak, best first (NATT_NONE,
 * as initiator), or the one chosen (as responder). */
void ikev1_vids_read(struct ike *core, const struct isakmp_payloads *pl, const char *tag,
		     struct ikev1_vids *out);
void ikev1_vid_natt(struct isakmp_builder *k, uint8_t natt);
void ikev1_vid_dpd(struct isakmp_builder *k);	/* RFC 3706's, which we always send */
/* ikev1_life.c: INITIAL-CONTACT sent in MM5/AM3 when the peer is new to us, and
 * acted on when received. */
void ikev1_add_initial_contact(struct ike_sa *sa, struct isakmp_builder *k);
void ikev1_initial_contact_in(struct ike_sa *sa, const struct v1_msg *m);
/* Destroys our other ISAKMP SAs with the peer (same connection, identity and XAuth
 * user): after MM5, or for an XAuth server once the user is known. */
void ikev1_initial_contact_apply(struct ike_sa *sa);
const char *ikev1_natt_name(uint8_t natt);

/* ikev1_natt.c: NAT-D, NAT-OA and encapsulation modes of the version agreed on. */
uint8_t ikev1_natd_type(uint8_t natt);
uint16_t ikev1_natt_encap(uint8_t natt, bool transport);
void ikev1_add_natd(struct ike_sa *sa, struct isakmp_builder *k);
void ikev1_check_natd(struct ike_sa *sa, const struct v1_msg *m);
void ikev1_add_natoa(struct ike_sa *sa, struct isakmp_builder *k);
void ikev1_log_natoa(struct ike_sa *sa, const struct v1_msg *m);

/* ikev1_txn.c: the Transaction exchange (6). A message is HASH | Attribute payload,
 * HASH = prf(SKEYID_a, M-ID | Attribute payload) (as Informational HASH(1)) both ways.
 * ikev1_txn_begin() starts a message in k and returns where its HASH goes; add the
 * Attribute payload (isb_cfg_begin ... isb_end), then ikev1_txn_send(): a new exchange
 * of ours when m is NULL (new message ID and IV, retransmitted until answered), else
 * the answer to the peer's m. */
size_t ikev1_txn_begin(struct ike_sa *sa, struct isakmp_builder *k);
int ikev1_txn_send(struct ike_sa *sa, struct isakmp_builder *k, size_t hoff,
		   const struct v1_msg *m);
void ikev1_txn_in(struct ike_sa *sa, struct v1_msg *m);
struct isakmp_cfg;
/* Is c (in the message ID of our exchange t) its REPLY or ACK? */
bool ikev1_txn_answers(const struct ikev1_txn *t, const struct isakmp_cfg *c);

/* ikev1_xauth.c. After Phase 1 authenticated the peer: XAuth and Mode Config if the
 * connection asks for them, then ikev1_established() (ikev1_ready() once they are
 * done). */
void ikev1_phase1_authenticated(struct ike_sa *sa);
void ikev1_ready(struct ike_sa *sa);
/* The Phase 1 authentication method a connection offers or accepts: PSK, or
 * XAUTHInitPreShared when the initiator is an XAuth client. */
uint16_t ikev1_p1_auth_method(const struct conn *c);

/* ikev1_sig.c: Main Mode with RSA signatures. */
bool ikev1_sa_sig(const struct ike_sa *sa);	/* the agreed method signs */
void ikev1_add_certreq(struct ike_sa *sa, struct isakmp_builder *k);
/* CERT payloads (per send_cert) and SIG over hash (HASH_I or HASH_R). 0 or -1 (logged). */
int ikev1_add_cert_sig(struct ike_sa *sa, struct isakmp_builder *k, const uint8_t *hash,
		       size_t hlen);
/* The peer's chain (to our CAs, naming sa->peer_id) and its SIG over hash. */
bool ikev1_check_cert_sig(struct ike_sa *sa, const struct v1_msg *m, const uint8_t *hash,
			  size_t hlen);
/* Responder: is the method of the peer's chosen transform the connection's? */
bool ikev1_auth_method_fits(const struct conn *c, const struct isakmp_choice *ch,
			    char *why, size_t n);
/* An answer to our exchange (true if it was for XAuth), or the peer's REQUEST/SET. */
bool ikev1_xauth_answer(struct ike_sa *sa, const struct isakmp_cfg *c);
bool ikev1_xauth_request(struct ike_sa *sa, const struct v1_msg *m, const struct isakmp_cfg *c);
ms_t ikev1_xauth_tick(struct ike_sa *sa, ms_t now);
/* A renewal we start keeps the user the SA it renews authenticated (a server that
 * renews has no XAuth round to run; the client's renewal runs it again). */
void ikev1_xauth_inherit(struct ike_sa *n, const struct ike_sa *old);

/* ikev1_modecfg.c: after XAuth (or Phase 1 without it), Mode Config if the connection
 * has pools (server) or vips (client), then ikev1_ready(). */
void ikev1_modecfg_start(struct ike_sa *sa);
bool ikev1_modecfg_answer(struct ike_sa *sa, const struct isakmp_cfg *c);
bool ikev1_modecfg_request(struct ike_sa *sa, const struct v1_msg *m, const struct isakmp_cfg *c);

/* ikev1_quick.c */
void ikev1_quick_start(struct ike_sa *sa, struct child_cfg *cc);
void ikev1_quick_in(struct ike_sa *sa, struct v1_msg *m);
#endif
