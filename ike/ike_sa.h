/* IKE and CHILD SA state: what the exchanges read and write, and what list-sas shows. */
#ifndef TSUNAGI_IKE_SA_H
#define TSUNAGI_IKE_SA_H
#include <stdbool.h>
#include <stdint.h>

#include "conf/config.h"
#include "ike/ike.h"
#include "ike/ike_crypto.h"
#include "ike/ikev2_msg.h"
#include "ike/proposal.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "pfkey/pfkey.h"

/* strongSwan's state names, so swanctl and operators read the same words. */
enum ike_state {
	IKE_CREATED, IKE_CONNECTING, IKE_ESTABLISHED, IKE_PASSIVE, IKE_REKEYING,
	IKE_REKEYED, IKE_DELETING, IKE_DESTROYING,
};
enum child_state {
	CHILD_CREATED, CHILD_ROUTED, CHILD_INSTALLING, CHILD_INSTALLED, CHILD_UPDATING,
	CHILD_REKEYING, CHILD_REKEYED, CHILD_RETRYING, CHILD_DELETING, CHILD_DESTROYING,
};
const char *ike_state_name(enum ike_state s);
/* An IKEv1 SA's state by the names operators know from Cisco (MM_WAIT_MSG2..6,
 * AG_WAIT_MSG2, AG_INIT_EXCH, MM_ACTIVE, QM_IDLE: ike/v1/ikev1.h); NULL for IKEv2. */
const char *ikev1_sa_state_name(const struct ike_sa *sa);
/* The user IKEv1 XAuth authenticated on this SA (ike/v1/ikev1_xauth.c), or NULL. */
const char *ikev1_xauth_user(const struct ike_sa *sa);
const char *child_state_name(enum child_state s);

#define IKE_NONCE_LEN 32
#define IKE_MAX_ID 256

/* A connection as the core holds it: reference counted, so SAs outlive a reload. */
struct conn {
	struct conn_cfg *cfg;
	struct conn_creds *creds;	/* its certificates (ike/cert.h), NULL: none */
	int refs;
	bool retired;
	struct conn *next;
};

struct identity {
	uint8_t type;		/* ikev2_id_type */
	uint16_t len;
	uint8_t data[IKE_MAX_ID];
};

/* What a CHILD_SA keeps of one SA it installed: the keys (to install it again when the
 * peer moves or a deferred outbound SA goes in) and the addresses it was installed
 * with (to delete it there). The rest is rebuilt from the child (child.c fill_sa): a
 * whole struct pfkey_sa per direction, with room for every selector, is 1.5 KiB; the
 * keys are allocated to their length (child.c new_keys). */
struct child_keys {
	struct addr src, dst;
	uint16_t ekey_len, akey_len;
	uint8_t key[];		/* the encryption key, then the integrity key */
};

/* Grouped by size (pointers and 8-byte fields, then 4, 2 and 1): one a client. */
struct child_sa {
	struct child_cfg *cfg;
	const struct proposal *prop;	/* chosen ESP proposal (proposal_keep) */
	/* One block sized to the count, at least one zeroed entry a side, set by
	 * child_set_ts(): room for IKEV2_MAX_TS a side would be 1.2 KB a child. */
	struct selector *local_ts, *remote_ts;
	ms_t installed_at, rekey_at, expire_at;
	struct child_keys *keys_in, *keys_out;	/* once installed (wiped on free) */
	/* spi_in as GETSPI reserved it (spi_src, spi_dst): child_sa_free() releases it
	 * unless the child's uninstall deleted the SA (a negotiation that fails or is
	 * abandoned must not leave its larval SA in the engine). */
	struct ike *core;
	/* Rekey collision (2.8.1): the child we created answering the peer's rekey of
	 * this one while we rekeyed it too (collision_child), and the lowest nonce of
	 * that exchange. */
	uint8_t *collision_nonce;	/* allocated only then */
	size_t collision_nonce_len;
	/* IKEv1: lifetimes agreed with the peer (the shorter side's), 0 when none was
	 * agreed; child_schedule() and the engine's volume limits take them. */
	uint64_t agreed_life_s, agreed_life_kb;
	struct child_sa *next;
	struct addr spi_src, spi_dst;
	uint32_t uniqueid, reqid;
	uint32_t spi_in, spi_out;	/* host order */
	uint32_t collision_child;
	enum child_state state;
	enum child_mode mode;
	uint16_t pfs_group;
	uint8_t n_local_ts, n_remote_ts;	/* at most IKEV2_MAX_TS */
	bool encap;
	bool initiator;			/* we created it (for rekey collision rules) */
	bool spi_released;
	/* Rekey responder: the new outbound SA waits until the old CHILD_SA is deleted,
	 * because the initiator installs the new SAs only when our answer arrives. */
	bool defer_out, out_pending;
	bool reap;			/* deleted (IKEv1): freed by ike_sa_reap() */
	bool nat_reqid;			/* a reqid of its own (child_natport.c) */
};

/* The kinds of exchange we start; one is outstanding at a time (window size 1). */
enum task_kind {
	TASK_NONE, TASK_IKE_INIT, TASK_IKE_AUTH, TASK_CHILD_CREATE, TASK_CHILD_REKEY,
	TASK_IKE_REKEY, TASK_CHILD_DELETE, TASK_IKE_DELETE, TASK_DPD,
};

struct task {
	enum task_kind kind;
	struct child_cfg *child_cfg;	/* CHILD_CREATE */
	uint32_t child_id;		/* CHILD_REKEY, CHILD_DELETE: by uniqueid */
	struct task *next;
};

/* The request we sent and wait an answer for, with its working state. Fields by
 * size, so that an SA (which holds one) has no holes. */
struct request {
	enum task_kind kind;
	uint32_t msgid;
	unsigned tries;
	uint32_t old_child_id;		/* CHILD_REKEY */
	uint8_t exchange;		/* a response must be of the same type */
	uint8_t new_spi[8];		/* IKE_REKEY: our new SPI */
	uint8_t nonce[IKE_NONCE_LEN];
	struct buf packet;		/* for retransmission */
	struct buf *frags;		/* its fragments when sent so (ikev2_frag.h) */
	ms_t retransmit_at;
	struct dh *dh;
	struct child_sa *child;		/* being created (not yet in the list) */
	/* What the request offers: IKEV2_MAX_PROPOSALS of them, allocated only while a
	 * request that offers is outstanding (ike_request_offer), not in every SA. */
	struct proposal *offered;
	size_t n_offered;
};

struct frag_rx;

struct ike_vip_reqid {
	const struct child_cfg *cfg;
	uint32_t reqid;
};
#define IKE_VIP_MAX_REQIDS 4

/* What IKE_SA_INIT leaves for IKE_AUTH (ikev2_init.c): allocated by the exchange
 * (ike_sa_init), freed once the SA is established (ike_sa_init_free), so an
 * established SA, an IKEv1 SA or one made by a rekey has none. */
struct ike_init {
	struct buf init_i, init_r;	/* IKE_SA_INIT messages, for AUTH */
	struct buf cookie;
	char *init_error;		/* the first unauthenticated error answer, if any */
	uint8_t cookies;		/* COOKIE answers taken in IKE_SA_INIT */
};

/* Fields are grouped by size (pointers and 8-byte fields, then 4, 2 and 1 bytes):
 * a concentrator holds one per client, and holes between them were 60 bytes each
 * (issue 8, memory per IKE SA; test_ra_footprint). */
struct ike_sa {
	struct ike *core;
	struct conn *conn;
	const struct proposal *prop;	/* chosen IKE proposal (proposal_keep) */
	struct ike_keys keys;
	/* Ni and Nr, allocated to their length: IKE_AUTH (or Main/Aggressive Mode)
	 * needs them, nothing after it (ike_sa_drop_nonces). */
	uint8_t *ni, *nr;
	struct dh *dh;			/* until keys are derived */
	struct ike_init *init;		/* NULL but during IKEv2 IKE_SA_INIT..IKE_AUTH */
	/* Each allocated to its length by ike_sa_set_id() (room for IKE_MAX_ID bytes
	 * would be half a KiB an SA); &ike_no_id until known. */
	const struct identity *my_id, *peer_id;
	struct buf last_response;	/* our answer to peer_msgid - 1, for retransmits */
	struct buf *resp_frags;		/* last_response's fragments when sent so */
	struct frag_rx *frag_rx[2];	/* reassembly of a request [0], a response [1] */
	struct request req;		/* kind TASK_NONE when idle */
	struct task *tasks;		/* queued, FIFO */
	struct child_sa *children;
	struct child_cfg *initial_child;	/* what IKE_AUTH creates */
	/* times */
	ms_t established_at, rekey_at, expire_at, dpd_at, keepalive_at;
	ms_t open_until;		/* responder: deleted then unless established (the
					 * half-open timeout, then a login's: ike_timers.c) */
	ms_t last_rx;			/* last authenticated message from the peer */
	ms_t gone_at;			/* a superseded SA is dropped by then at the latest */
	/* IKE rekey collision (RFC 7296 2.8.2): the SA we created answering the peer's
	 * rekey while ours was under way (collision_ike), and the lowest nonce of that
	 * exchange. */
	uint8_t *collision_nonce;	/* allocated only then */
	size_t collision_nonce_len;
	/* An ISAKMP SA (IKEv1): its own exchange state and keys (ike/v1/ikev1.h); the
	 * table, endpoints, identities, children and timers above are shared. */
	struct ikev1_sa *v1;
	struct ikev2_eap *eap;		/* EAP in IKE_AUTH (ike/ikev2_eap.c), until established */
	char *eap_peer;			/* the peer's EAP identity after an EAP login, printable */
	/* Virtual IPs (ike/ike_vip.c): as responder the leases handed to the peer (pool
	 * set), released when the SA ends; as initiator what the peer assigned us (pool
	 * NULL). A rekey moves them to the new SA with the children. */
	struct ike_vip {
		char *pool;
		struct addr addr;
	} vips[CONF_MAX_VIPS];
	/* Responder with leases: each child config's reqid on this SA (ike_vip_reqid),
	 * n_vip_reqids of them (at most IKE_VIP_MAX_REQIDS), allocated to the count. */
	struct ike_vip_reqid *vip_reqids;
	struct ike_sa *next;
	struct addr local, remote;	/* current endpoints, with ports */
	uint32_t uniqueid;
	enum ike_state state;
	unsigned peer_sig_hashes;	/* RFC 7427 hashes the peer announced, 1 << id */
	/* message IDs */
	uint32_t next_msgid;		/* of our next request */
	uint32_t peer_msgid;		/* of the peer's next request */
	uint32_t keyingtry;
	uint32_t collision_ike;
	uint16_t ni_len, nr_len;
	uint16_t ke_group;		/* the group we send (after INVALID_KE, the asked one) */
	uint16_t remote_index;		/* which remote_addrs entry (backup peers) */
	uint8_t spi_i[8], spi_r[8];
	uint8_t last_request_hash[16];	/* of the request last_response answers */
	uint8_t n_vips, n_vip_reqids;
	bool touched;			/* in core->touched (ike_sa_touch) */
	bool initiator;			/* original initiator of this IKE SA */
	bool natt;			/* floated to the NAT-T port */
	bool nat_here, nat_there;	/* NAT in front of us / of the peer */
	bool have_keys;
	bool peer_certreq;		/* the peer sent CERTREQ (send_cert = ifasked) */
	bool have_last_response;
	bool frag_peer;			/* the peer announced IKEv2 fragmentation */
	bool superseded;		/* rekeyed: its end is no "down" event */
};

/* lookup helpers used across the exchange files */
struct ike_sa *ike_sa_find(struct ike *core, const uint8_t spi_i[8], const uint8_t spi_r[8],
			   bool by_initiator_spi_only);
struct child_sa *child_sa_find_by_spi(struct ike_sa *sa, uint32_t spi, bool inbound);
struct child_sa *child_sa_find_by_id(struct ike_sa *sa, uint32_t uniqueid);
const char *ike_sa_name(const struct ike_sa *sa);
const char *identity_fmt(const struct identity *id, char *out, size_t outlen);
/* An SA's identity before it is known: type 0, no data. */
extern const struct identity ike_no_id;
/* Sets the SA's own (mine) or the peer's identity to a copy of id sized to its
 * length: the copy has only id->len bytes of data. -1: out of memory (old kept). */
int ike_sa_set_id(struct ike_sa *sa, bool mine, const struct identity *id);
/* The SA's IKE_SA_INIT state, allocated on first use; NULL: out of memory. */
struct ike_init *ike_sa_init(struct ike_sa *sa);
void ike_sa_init_free(struct ike_sa *sa);
/* The IKE_SA_INIT request (initiator's) or response the AUTH payloads sign: empty
 * when there is none (so an AUTH over it fails). */
const struct buf *ike_sa_init_msg(const struct ike_sa *sa, bool request);
/* Frees both (ike_sa_free; a test's SA on the stack). */
void ike_sa_free_ids(struct ike_sa *sa);
#endif
