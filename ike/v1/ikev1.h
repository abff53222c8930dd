/* IKEv1 exchanges (RFC 2409): the state an ISAKMP SA keeps besides the shared struct
 * ike_sa (which holds the cookies as spi_i/spi_r, endpoints, identities, nonces of
 * Phase 1, children, the outstanding request for retransmission and the cached
 * response), and the entry points the core calls. Main Mode is ikev1_main.c, Quick
 * Mode ikev1_quick.c, input, sending and Informational ikev1_sa.c. */
#ifndef TSUNAGI_IKEV1_H
#define TSUNAGI_IKEV1_H
#include "ike/ike_private.h"
#include "ike/v1/isakmp_crypto.h"
#include "ike/v1/isakmp_msg.h"
#include "ike/v1/isakmp_sa.h"

/* Cisco's names, which operators know: the initiator waits for MSG2, 4, 6, the
 * responder for MSG3, 5; then the ISAKMP SA is QM_IDLE. */
enum ikev1_state {
	MM_START, MM_WAIT_MSG2, MM_WAIT_MSG3, MM_WAIT_MSG4, MM_WAIT_MSG5, MM_WAIT_MSG6,
	QM_IDLE,
};
const char *ikev1_state_name(enum ikev1_state s);

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

struct ikev1_sa {
	enum ikev1_state state;
	struct isakmp_keys keys;
	bool have_keys;
	struct isakmp_iv iv;		/* Main Mode: the CBC chain; then its last block */
	struct buf sai_b;		/* the initiator's SA payload body (for HASH_I/R) */
	struct buf gxi, gxr;		/* public DH values of Phase 1 */
	struct proposal offered[V1_MAX_OFFERED];
	size_t n_offered;
	struct isakmp_sa_params params;	/* of the chosen Phase 1 transform */
	uint8_t last_rx_hash[16];	/* of the last message processed */
	bool psk_warned;		/* "probable pre-shared key mismatch" said */
	bool natt_peer;			/* both sent a NAT-T vendor ID */
	uint8_t natt_ver;		/* enum ikev1_natt: the one agreed on */
	struct ikev1_vids vids;		/* what the peer's vendor IDs announced */
	struct ikev1_qm qm;
	/* Message IDs of Quick Modes begun by the peer: a replayed QM1 (its HASH(1) still
	 * valid) must not start another exchange (RFC 2408 3.1: IDs are unique). */
	uint32_t seen_msgid[16];
	unsigned n_seen;
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
const char *ikev1_notify_name(uint16_t type);

/* ikev1_main.c */
void ikev1_main_start(struct ike_sa *sa);
void ikev1_main_request_in(struct ike *core, struct v1_msg *m);	/* MM1, no SA yet */
void ikev1_main_in(struct ike_sa *sa, struct v1_msg *m);

/* ikev1_vendor.c: reads a message's vendor IDs (unknown ones logged as hex, at a
 * bounded rate); appends our NAT-T vendor IDs: all we speak, best first (NATT_NONE,
 * as initiator), or the one chosen (as responder). */
void ikev1_vids_read(struct ike *core, const struct isakmp_payloads *pl, const char *tag,
		     struct ikev1_vids *out);
void ikev1_vid_natt(struct isakmp_builder *k, uint8_t natt);
const char *ikev1_natt_name(uint8_t natt);

/* ikev1_natt.c: NAT-D, NAT-OA and encapsulation modes of the version agreed on. */
uint8_t ikev1_natd_type(uint8_t natt);
uint16_t ikev1_natt_encap(uint8_t natt, bool transport);
void ikev1_add_natd(struct ike_sa *sa, struct isakmp_builder *k);
void ikev1_check_natd(struct ike_sa *sa, const struct v1_msg *m);
void ikev1_add_natoa(struct ike_sa *sa, struct isakmp_builder *k);
void ikev1_log_natoa(struct ike_sa *sa, const struct v1_msg *m);

/* ikev1_quick.c */
void ikev1_quick_start(struct ike_sa *sa, struct child_cfg *cc);
void ikev1_quick_in(struct ike_sa *sa, struct v1_msg *m);
#endif
