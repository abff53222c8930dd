/* PF_KEYv2 (RFC 2367) messages: the only contract between ike/ and esp/.
 *
 * The wire format is Linux's <linux/pfkeyv2.h> and <linux/ipsec.h> (KAME lineage):
 * host byte order everywhere except the SPI, NAT-T ports and sockaddr ports, which are
 * in network order. There are no PF_KEY sockets here: messages travel in-process
 * through a struct pfkey_endpoint, so ike/ and esp/ never see each other's structs.
 *
 * Flow (ike/ -> esp/ unless noted):
 *   GETSPI (SPIRANGE, SA2 reqid)            -> reply GETSPI with a larval SA's SPI
 *   UPDATE / ADD (SA, SA2, keys, lifetimes, NAT-T, SA_REPLAY, selectors)
 *     (an UPDATE may move a live SA to a new destination, after a NAT rebinding:
 *     esp/ finds it by SPI, reqid and source, and keeps its sequence number)
 *   DELETE / GET (SA, addresses)
 *   X_SPDADD / X_SPDDELETE / X_SPDGET (X_POLICY with one ipsecrequest, selectors)
 *   FLUSH / DUMP / X_SPDFLUSH / X_SPDDUMP
 *   esp/ -> ike/: ACQUIRE (policy + triggering packet), EXPIRE (soft or hard),
 *     X_NAT_T_NEW_MAPPING (an authenticated ESP-in-UDP packet of an inbound SA came
 *     from another address or port than the SA's peer: its NAT mapping moved)
 *   errors: the request's header echoed with sadb_msg_errno set. */
#ifndef TSUNAGI_PFKEY_H
#define TSUNAGI_PFKEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/ipsec.h>
#include <linux/pfkeyv2.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/selector.h"

/* --- Constants Linux lacks ------------------------------------------------------ */

/* FreeBSD sys/net/pfkeyv2.h: SADB_X_EXT_SA_REPLAY carries a 32-bit replay window in
 * packets (sadb_sa_replay is a u8 counted in bytes of bitmap on Linux/KAME). 27 is
 * FreeBSD's number and is unused by Linux (SADB_EXT_MAX 26). */
#ifndef SADB_X_EXT_SA_REPLAY
#define SADB_X_EXT_SA_REPLAY 27
struct sadb_x_sa_replay {
	uint16_t sadb_x_sa_replay_len;
	uint16_t sadb_x_sa_replay_exttype;
	uint32_t sadb_x_sa_replay_replay;	/* window, in packets */
} __attribute__((packed));
#endif

/* FreeBSD sys/net/pfkeyv2.h: extended sequence numbers (RFC 4303) in sadb_sa_flags
 * (0x400, as FreeBSD's setkey shows it). Free in Linux, whose flags are 1 (PFS) and
 * the top three bits. */
#ifndef SADB_X_SAFLAGS_ESN
#define SADB_X_SAFLAGS_ESN 0x400
#endif

/* ChaCha20-Poly1305 (RFC 7634). Linux has no PF_KEY number, and FreeBSD's (15) and
 * OpenBSD's (14) collide with Linux's AES-CCM numbers; as Linux does for AES-GCM
 * (18..20), we use the IANA ESP transform ID, 28, which Linux leaves unused. */
#ifndef SADB_X_EALG_CHACHA20POLY1305
#define SADB_X_EALG_CHACHA20POLY1305 28
#endif

/* Private extensions (tsunagi): exact traffic selectors, because PF_KEY's address
 * extensions only express a prefix and one port, while IKEv2 TS are ranges.
 *   PFKEY_X_EXT_SELECTOR: an SA's or policy's inner selectors (src, dst); an SA's
 *                         may be followed by more of either side (a CHILD_SA with
 *                         several TS: any src with any dst), see below
 *   PFKEY_X_EXT_PACKET:   in ACQUIRE, the packet that triggered it (host selectors)
 * 30 and 31 are beyond both Linux's (26) and FreeBSD's (29) SADB_EXT_MAX. */
#define PFKEY_X_EXT_SELECTOR 30
#define PFKEY_X_EXT_PACKET 31
#define PFKEY_EXT_MAX 31

struct sadb_x_tsunagi_sel {
	uint16_t sadb_x_sel_len;
	uint16_t sadb_x_sel_exttype;
	uint8_t sadb_x_sel_family;	/* AF_INET / AF_INET6, both sides */
	uint8_t sadb_x_sel_src_proto;
	uint8_t sadb_x_sel_dst_proto;
	uint8_t sadb_x_sel_reserved;
	uint16_t sadb_x_sel_src_port_lo, sadb_x_sel_src_port_hi;	/* host order */
	uint16_t sadb_x_sel_dst_port_lo, sadb_x_sel_dst_port_hi;
	uint8_t sadb_x_sel_src_lo[16], sadb_x_sel_src_hi[16];	/* network order */
	uint8_t sadb_x_sel_dst_lo[16], sadb_x_sel_dst_hi[16];
} __attribute__((packed));
/* sizeof(struct sadb_x_tsunagi_sel) == 80 */

/* After the first pair, PFKEY_X_EXT_SELECTOR may carry further selectors, each for
 * one side with its own family: extension length = 80 + 40 * n, at most
 * PFKEY_MAX_SEL selectors per side in all. PFKEY_X_EXT_PACKET is always 80 bytes. */
#define PFKEY_MAX_SEL 16	/* as IKEV2_MAX_TS */
#define PFKEY_SEL_SRC 1
#define PFKEY_SEL_DST 2
struct sadb_x_tsunagi_sel_more {
	uint8_t sadb_x_sel_more_side;	/* PFKEY_SEL_SRC / PFKEY_SEL_DST */
	uint8_t sadb_x_sel_more_family;
	uint8_t sadb_x_sel_more_proto;
	uint8_t sadb_x_sel_more_reserved;
	uint16_t sadb_x_sel_more_port_lo, sadb_x_sel_more_port_hi;	/* host order */
	uint8_t sadb_x_sel_more_lo[16], sadb_x_sel_more_hi[16];	/* network order */
} __attribute__((packed));
/* sizeof(struct sadb_x_tsunagi_sel_more) == 40 */

/* UDP encapsulation of ESP (RFC 3948), the NAT-T type Linux uses. */
#ifndef UDP_ENCAP_ESPINUDP
#define UDP_ENCAP_ESPINUDP 2
#endif

#define PFKEY_KEY_MAX 64	/* bytes; AES-256 + 4-byte salt is 36, HMAC-SHA512 64 */

/* --- Decoded views ------------------------------------------------------------- */

struct pfkey_lifetime {
	uint64_t packets;	/* sadb_lifetime_allocations (u32 on the wire, saturated) */
	uint64_t bytes;
	uint64_t addtime;	/* current: absolute seconds; hard/soft: seconds after add */
	uint64_t usetime;	/* current: absolute seconds of first use; limits: after use */
};

/* The SA fields ike/ and esp/ exchange. */
struct pfkey_sa {
	uint32_t spi;		/* host order */
	uint8_t satype;		/* SADB_SATYPE_ESP */
	uint8_t mode;		/* IPSEC_MODE_TUNNEL / IPSEC_MODE_TRANSPORT */
	uint32_t reqid;
	struct addr src, dst;	/* outer addresses; ports unused (NAT-T below) */
	uint8_t ealg, aalg;	/* SADB_EALG_*, SADB_X_EALG_*, SADB_AALG_* */
	uint16_t ekey_len, akey_len;	/* bytes; AEAD and CTR keys include the 4-byte salt */
	uint8_t ekey[PFKEY_KEY_MAX], akey[PFKEY_KEY_MAX];
	uint32_t replay_window;	/* packets, 0 = off */
	bool esn;
	uint8_t state;		/* SADB_SASTATE_* */
	bool has_hard, has_soft, has_current;	/* which lifetime extensions exist */
	struct pfkey_lifetime hard, soft, current;	/* 0 = no limit */
	uint16_t natt_type;	/* 0 = none, UDP_ENCAP_ESPINUDP */
	uint16_t natt_sport, natt_dport;	/* host order */
	struct addr natt_oa;	/* NAT-T original address; family 0 = none. Its port, when
				 * set (transport mode across the peer's NAT), is the
				 * peer's own port for the inner traffic (L2TP's 1701),
				 * which the engine maps to and from the peer's NAT-T
				 * port so that peers behind one NAT stay apart */
	/* Inner selectors, optional: a packet from any sel_src to any sel_dst. The
	 * builder sends them only if some src/dst pair has one family. */
	struct selector sel_src[PFKEY_MAX_SEL], sel_dst[PFKEY_MAX_SEL];
	uint8_t n_sel_src, n_sel_dst;
	bool has_sel;
};

struct pfkey_policy {
	uint32_t id;		/* sadb_x_policy_id; 0 on SPDADD = let esp/ choose */
	uint8_t dir;		/* IPSEC_DIR_INBOUND / OUTBOUND / FWD */
	uint16_t type;		/* IPSEC_POLICY_IPSEC / DISCARD / NONE */
	struct selector src, dst;
	bool has_sel;		/* decoded: selectors were present (builders send them
				 * whenever src.family != 0) */
	uint8_t mode;		/* of the ipsecrequest (type IPSEC only) */
	uint32_t reqid;
	struct addr tunnel_src, tunnel_dst;	/* tunnel mode only; family 0 otherwise */
	uint32_t priority;
};

/* ACQUIRE: a packet matched an IPSEC policy with no SA. */
struct pfkey_acquire {
	uint32_t seq;
	struct pfkey_policy policy;
	struct addr src, dst;	/* the SA's outer addresses */
	struct selector pkt_src, pkt_dst;	/* the triggering packet, if has_pkt */
	bool has_pkt;
};

/* X_NAT_T_NEW_MAPPING, as Linux's km_new_mapping() sends it: the SA (SPI, SA2), the
 * old peer address in ADDRESS_SRC with its port in NAT_T_SPORT, the new one in
 * ADDRESS_DST with its port in NAT_T_DPORT. */
struct pfkey_mapping {
	uint32_t spi;		/* the inbound SA, host order */
	uint32_t reqid;
	struct addr old_peer, new_peer;	/* with their ports */
};

/* GETSPI request. */
struct pfkey_getspi {
	uint32_t seq;
	uint8_t satype;
	uint8_t mode;
	uint32_t reqid;
	struct addr src, dst;
	uint32_t min, max;	/* SPI range, host order */
};

/* A validated message: pointers into the caller's buffer, which must outlive it.
 * ext[t] is NULL when extension type t is absent. Fields are as on the wire (host
 * order except SPI/ports); the structs are packed, so access is alignment-safe. */
struct pfkey_msg {
	const struct sadb_msg *hdr;
	const struct sadb_ext *ext[PFKEY_EXT_MAX + 1];
};

/* --- Decoding -------------------------------------------------------------------- */

/* Validates everything before anything is read: header, total length, version, each
 * extension's length, type, uniqueness and inner structure (sockaddrs, key bits,
 * ipsecrequests). Returns 0, or -1 with a reason in err. */
int pfkey_decode(const uint8_t *buf, size_t len, struct pfkey_msg *m, char *err,
		 size_t errlen);
/* Length of the first message in buf (from its header), or 0 if buf has no complete
 * header; for splitting a buffer holding several messages (DUMP replies). */
size_t pfkey_first_len(const uint8_t *buf, size_t len);

/* Fill views from a decoded message; -1 with err if a required extension is missing
 * or a value does not fit (key longer than PFKEY_KEY_MAX, ...). A struct pfkey_sa
 * holds keys: wipe() it when done (on failure it is already wiped). Buffers that held
 * ADD/UPDATE/GET/DUMP messages hold keys too: buf_wipe_free() them. */
int pfkey_msg_sa(const struct pfkey_msg *m, struct pfkey_sa *sa, char *err, size_t errlen);
int pfkey_msg_policy(const struct pfkey_msg *m, struct pfkey_policy *p, char *err,
		     size_t errlen);
int pfkey_msg_acquire(const struct pfkey_msg *m, struct pfkey_acquire *a, char *err,
		      size_t errlen);
int pfkey_msg_getspi(const struct pfkey_msg *m, struct pfkey_getspi *g, char *err,
		     size_t errlen);
int pfkey_msg_new_mapping(const struct pfkey_msg *m, struct pfkey_mapping *mp, char *err,
			  size_t errlen);
/* For EXPIRE: true if the hard lifetime extension is present (else soft). */
bool pfkey_msg_expire_is_hard(const struct pfkey_msg *m);

/* --- Building: each appends one complete message to out (check out->oom) ------------- */

void pfkey_build_getspi(struct buf *out, uint32_t seq, const struct addr *src,
			const struct addr *dst, uint32_t min, uint32_t max, uint32_t reqid);
/* type: SADB_GETSPI (reply), ADD, UPDATE, DELETE, GET, DUMP (reply). Keys are
 * included for ADD/UPDATE/GET/DUMP when their length is non-zero, never for
 * DELETE/GETSPI. Lifetimes are included when has_hard/has_soft/has_current. */
void pfkey_build_sa(struct buf *out, uint8_t type, uint32_t seq, const struct pfkey_sa *sa);
/* EXPIRE: SA, addresses, current lifetime and the hard or soft one that expired. */
void pfkey_build_expire(struct buf *out, const struct pfkey_sa *sa, bool hard);
void pfkey_build_new_mapping(struct buf *out, const struct pfkey_mapping *mp);
/* ACQUIRE for policy p; src/dst are the SA's outer addresses; pkt_src/pkt_dst
 * (both or neither may be NULL) describe the triggering packet. */
void pfkey_build_acquire(struct buf *out, uint32_t seq, const struct pfkey_policy *p,
			 const struct addr *src, const struct addr *dst,
			 const struct selector *pkt_src, const struct selector *pkt_dst);
/* type: SADB_X_SPDADD, X_SPDUPDATE, X_SPDDELETE, X_SPDGET, X_SPDDUMP (reply). */
void pfkey_build_policy(struct buf *out, uint8_t type, uint32_t seq,
			const struct pfkey_policy *p);
/* type: SADB_FLUSH, DUMP, X_SPDFLUSH, X_SPDDUMP (requests with no extensions). */
void pfkey_build_simple(struct buf *out, uint8_t type, uint8_t satype, uint32_t seq);
/* The request's header alone, with sadb_msg_errno set (positive errno, 0 = ok). */
void pfkey_build_reply(struct buf *out, const struct sadb_msg *req, int errno_value);

/* --- Names and text ------------------------------------------------------------ */

const char *pfkey_type_name(uint8_t type);	/* "ADD", "X_SPDADD", ... */
const char *pfkey_ealg_name(uint8_t ealg);	/* setkey's: "aes-gcm-16", "aes-cbc" */
const char *pfkey_aalg_name(uint8_t aalg);	/* "hmac-sha256" */
/* setkey -D / -DP style text for `tsunagictl --sad/--spd`. Keys are never printed,
 * only their lengths. */
void pfkey_format_sa(const struct pfkey_sa *sa, struct buf *out);
void pfkey_format_policy(const struct pfkey_policy *p, struct buf *out);

/* --- IKEv2 transform IDs (ike/proposal.h) <-> PF_KEY numbers -------------------- */

/* keylen_bits: the Key Length attribute (0 where the cipher has none). Returns 0 or
 * -1 if the combination has no PF_KEY number. */
int pfkey_ealg_from_ikev2(uint16_t encr_id, uint16_t keylen_bits, uint8_t *ealg);
int pfkey_aalg_from_ikev2(uint16_t integ_id, uint8_t *aalg);
/* Key bytes esp/ expects for an algorithm (including salt for AEAD/CTR), given the
 * cipher key bits (ignored for fixed-size ones); 0 if unknown. */
size_t pfkey_ealg_keylen(uint8_t ealg, uint16_t keylen_bits);
size_t pfkey_aalg_keylen(uint8_t aalg);
bool pfkey_ealg_is_aead(uint8_t ealg);
/* ICV bytes: of an AEAD cipher, of an integrity algorithm. Unlike Linux's PF_KEY
 * (which truncates SHA-256 to 96 bits for old racoon), SADB_X_AALG_SHA2_*HMAC mean
 * RFC 4868: 128/192/256-bit ICVs, as FreeBSD and strongSwan use them. 0 = none/unknown. */
size_t pfkey_ealg_icvlen(uint8_t ealg);
size_t pfkey_aalg_icvlen(uint8_t aalg);

/* --- In-process channel ---------------------------------------------------------- */

/* One direction of the channel: whoever holds it can deliver messages to the other
 * side without knowing its type. deliver() must not keep msg after returning. */
struct pfkey_endpoint {
	void (*deliver)(void *arg, const uint8_t *msg, size_t len);
	void *arg;
};

/* Sends the buffer (one message) to the endpoint; a buffer that ran out of memory
 * is dropped, never delivered half-built. */
static inline void pfkey_send(const struct pfkey_endpoint *to, const struct buf *msg)
{
	if (to && to->deliver && !msg->oom && msg->len)
		to->deliver(to->arg, msg->data, msg->len);
}
#endif
