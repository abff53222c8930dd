/* The engine's insides, shared by esp_engine.c (control: PF_KEY, timers, queues),
 * esp_path.c (one packet in each direction) and esp_io.c (threads and sockets). */
#ifndef TSUNAGI_ESP_ENGINE_PRIV_H
#define TSUNAGI_ESP_ENGINE_PRIV_H
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "esp/esp_engine.h"
#include "esp/sad.h"
#include "esp/spd.h"
#include "esp/tun.h"

#define ESP_BATCH	32	/* messages a sendmmsg/recvmmsg; receive buffer slots */
/* Clear packets encrypted as one batch, and packets (iovecs) a sendmmsg: more than
 * ESP_BATCH, so that a 64 KiB TUN super-packet's segments (about 45 of a 1500-byte
 * path) go out as one UDP GSO message of up to ESP_GSO_MAX_SEGS, not split at 32. */
#define ESP_TX_PKTS	128
#define ESP_TUNQ	256	/* packets waiting for the TUN device */
/* Room in front of a packet in a buffer slot: an ESP header and the longest IV
 * before an outbound payload (so esp_encap works in place), or a rebuilt IPv6
 * header in front of a transport-mode payload inbound. */
#define ESP_HEADROOM	64
/* Room after it: padding, trailer and the longest ICV. */
#define ESP_TAILROOM	(ESP_MAX_BLOCK_LEN + ESP_TRAILER_LEN + ESP_MAX_ICV_LEN + 16)

/* --- notification queue (data plane -> control thread) ----------------------------- */

enum esp_event_type { EV_ACQUIRE = 1, EV_EXPIRE_SOFT, EV_EXPIRE_HARD, EV_NEW_MAPPING };

struct esp_event {
	uint8_t type;
	uint32_t spi;		/* EXPIRE, NEW_MAPPING: the SA */
	struct addr dst;
	struct addr from;	/* NEW_MAPPING: the packet's source, with its port */
	uint64_t gen;
	uint32_t policy_id;	/* ACQUIRE: the policy and the packet */
	struct pkt_tuple pkt;
};

#define EVQ_SIZE 1024

struct evq {
	pthread_mutex_t lock;
	unsigned head, len;
	struct esp_event ev[EVQ_SIZE];
	int fd;			/* eventfd */
};

/* A packet for the IKE daemon (from the NAT-T socket). */
struct ike_pkt {
	struct ike_pkt *next;
	struct addr local, remote;
	size_t len;
	uint8_t data[];
};

#define IKEQ_MAX 256

struct ikeq {
	pthread_mutex_t lock;
	struct ike_pkt *head, **tail;
	unsigned len;
	int fd;
};

/* --- per-thread context ------------------------------------------------------------- */

/* A batch of datagrams for sendmmsg/recvmmsg on one socket (n: how many messages are
 * filled, niov: how many packets, for sending). With UDP GSO one message carries
 * several equal-size packets (its iovecs, consecutive in iov[]), the last one
 * possibly shorter; gso is then their size, else 0. */
struct mmsg_batch {
	unsigned n, niov;
	struct mmsghdr msg[ESP_BATCH];
	struct iovec iov[ESP_TX_PKTS];
	struct sockaddr_storage name[ESP_BATCH];
	uint16_t gso[ESP_BATCH];
	size_t bytes[ESP_BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int))];
	} ctl[ESP_BATCH];
};

/* UDP GSO/GRO: at most this many segments per send (the kernel's UDP_MAX_SEGMENTS)
 * and this many bytes of UDP payload. */
#define ESP_GSO_MAX_SEGS	64
#define ESP_GSO_MAX_BYTES	(65535 - 60 - 8)

struct esp_ctx {
	struct esp_engine *e;
	size_t slot;		/* bytes per buffer slot */
	uint8_t *bufs;		/* ESP_BATCH slots (receiving), or packets one after the
				 * other (sending, tx_batch) */
	uint8_t *super;		/* a super-packet read from the TUN device (vnet) */
	struct mmsg_batch raw, udp;	/* only in data-plane threads */
	bool batching;		/* false: send each packet at once */
	int tun_fd;
	/* Pre-fragmentation: fragments are built here, each with ESP_HEADROOM and
	 * ESP_TAILROOM, and stay until the batches that point into it are sent. */
	uint8_t *frag;
	size_t frag_used;
	/* The net -> TUN thread: decrypted packets wait here until the end of the batch,
	 * when consecutive TCP segments are written as one (gro.h). */
	bool tun_defer;
	unsigned tq_n;
	uint8_t *tq_pkt[ESP_TUNQ];
	size_t tq_len[ESP_TUNQ];
	/* ICMP "fragmentation needed" / Packet Too Big sent in the second that began at
	 * icmp_ms (this thread's own limit: nothing shared is written per packet). */
	ms_t icmp_ms;
	unsigned icmp_n;
};

#define ESP_FRAG_AREA	(128 * 1024)
#define ESP_ICMP_PER_SEC	100	/* per data-plane thread */

/* A route through the TUN device (rule.dst/rule.plen, the rest of rule zero) or a
 * port rule, with the policies that use it: one a remote-access client. */
struct route_ref {
	struct route_ref *next;
	unsigned refs;
	bool port_rule;		/* a tun_port_rule rather than a route */
	struct tun_port_rule rule;
};

struct esp_engine {
	struct esp_engine_cfg cfg;
	char tun_name_buf[16];

	/* SAD + SPD: written by the control thread only, under the write lock; the
	 * data plane reads under the read lock, once per batch. The control thread
	 * itself reads without taking it. */
	pthread_rwlock_t db_lock;
	struct sad sad;
	struct spd spd;
	pthread_mutex_t hold_lock;	/* trap state of policies */
	bool held_any;		/* a policy held a packet once (hold_lock): until then the
				 * walks over every policy for held packets are skipped */
	atomic_uint_fast64_t now_ms;

	struct evq evq;
	struct ikeq ikeq;
	struct esp_ctx ctl;		/* the control thread's buffers */
	uint32_t acquire_seq;

	struct {
		atomic_uint_fast64_t no_policy, discarded, held, hold_dropped, acquires, no_sa,
			bad_packet, ike_in, keepalives, send_errors, tun_errors,
			mss_clamped, pmtu_sent, pmtu_suppressed, prefrag_ok, prefrag_failed,
			fragments, gso_fallbacks, bad_super, new_mappings;
	} st;
	/* UDP GSO on the NAT-T socket: set when the kernel accepts it, cleared (for
	 * good) the first time a send with it fails with EIO or EINVAL. */
	atomic_bool udp_gso;

	/* I/O (esp_io.c) */
	struct tun tun;
	int raw_fd, udp_fd, stop_fd;
	unsigned nthreads;
	pthread_t threads[TUN_MAX_QUEUES + 1];
	struct esp_ctx *wctx[TUN_MAX_QUEUES + 1];
	bool rule_installed;	/* while the table holds a route (esp_io.c) */
	bool rule_failed;	/* adding it failed, said once */
	struct route_ref *routes;
	bool port_table;	/* route_table + 1 routes everything to the TUN device,
				 * for the port rules (io_port_rule_add) */
};

#define STAT_INC(e, field) atomic_fetch_add_explicit(&(e)->st.field, 1, memory_order_relaxed)

static inline ms_t engine_now(const struct esp_engine *e)
{
	return atomic_load_explicit(&e->now_ms, memory_order_relaxed);
}

/* esp_engine.c */
int evq_push(struct evq *q, const struct esp_event *ev);
void engine_report_expiry(struct esp_engine *e, struct sa *sa, int level);
/* An authenticated ESP-in-UDP packet of this inbound SA came from `from`, not from its
 * peer's address and NAT-T port: IKE hears of it (NEW_MAPPING), at most once per
 * ESP_ENGINE_MAPPING_INTERVAL_MS per SA. */
void engine_report_mapping(struct esp_engine *e, struct sa *sa, const struct addr *from);
static inline bool engine_mapping_moved(const struct sa *sa, const struct addr *from)
{
	return sa->cfg.natt_type && from->port &&
	       (from->port != sa->cfg.natt_sport || !addr_equal_ip(from, &sa->cfg.src));
}
int ikeq_push(struct ikeq *q, const struct addr *local, const struct addr *remote,
	      const uint8_t *data, size_t len);

/* esp_path.c: the caller holds the read lock (data plane) or is the control thread.
 * pkt lies in a ctx slot with ESP_HEADROOM before and ESP_TAILROOM after it. */
int ctx_init(struct esp_ctx *c, struct esp_engine *e, bool batching);
void ctx_free(struct esp_ctx *c);
enum esp_verdict path_output(struct esp_ctx *c, uint8_t *pkt, size_t len);
enum esp_verdict path_input(struct esp_ctx *c, const struct addr *src, const struct addr *dst,
			    bool udp_encap, uint8_t *pkt, size_t len);
/* Sends what the batches hold (sendmmsg) and empties them. */
void path_flush(struct esp_ctx *c);

/* esp_io.c */
/* Opens the TUN device and sockets, starts the threads. */
int io_start(struct esp_engine *e);
/* Stops and joins the threads. */
void io_stop(struct esp_engine *e);
/* Removes the remaining routes and the rule, closes sockets and the device. */
void io_close(struct esp_engine *e);
/* Whether the engine routes through its own table with the policy-routing rule (in
 * place only while the table holds a route), and so marks its sockets: the
 * configuration decides, never whether the rule is in place at the moment. */
bool io_rules_used(const struct esp_engine *e);
uint32_t io_fwmark(const struct esp_engine *e);
/* Refcounted routes to a selector's destination; the first adds the rule, the last
 * one's removal takes it away. */
void io_route_add(struct esp_engine *e, const struct selector *dst);
void io_route_del(struct esp_engine *e, const struct selector *dst);
/* A transport-mode policy with a protocol: a rule for just its traffic (tun.h), so the
 * rest to that address is not caught by the tunnel. -1 when it does not apply (the
 * caller routes the whole address as for any policy). */
int io_port_rule_add(struct esp_engine *e, const struct pfkey_policy *p);
void io_port_rule_del(struct esp_engine *e, const struct pfkey_policy *p);
void io_tun_write(struct esp_engine *e, int fd, const uint8_t *pkt, size_t len);
/* Writes what c->tq holds, coalesced where it can be, and empties it. */
void io_tun_flush(struct esp_ctx *c);

/* Clear packets read from the TUN device, waiting to be encrypted as one batch. */
struct tx_batch {
	unsigned n;
	size_t used;
	uint8_t *pkt[ESP_TX_PKTS];
	size_t len[ESP_TX_PKTS];
};
/* One read from c->tun_fd into t: a packet, or a super-packet split into its
 * segments (a lying one dropped and counted in bad_super). The batch is encrypted
 * and sent whenever it is full. False when nothing was left to read. */
bool io_tun_read(struct esp_ctx *c, struct tx_batch *t);
/* One datagram from the NAT-T socket (m as recvmmsg filled it), or with UDP GRO a
 * batch of them, each handed to path_input. */
void io_input_udp(struct esp_ctx *c, struct msghdr *m, uint8_t *p, size_t len);
#endif
