/* The ESP engine: SA and policy databases, the data path between a TUN device and
 * the ESP sockets, and its control interface, which is PF_KEY messages only
 * (pfkey/pfkey.h): ike/ sends GETSPI, ADD/UPDATE, DELETE, GET, FLUSH, DUMP and the
 * SPD messages to esp_engine_pfkey_input(); the engine answers through the endpoint
 * given with the request and reports ACQUIRE, EXPIRE and X_NAT_T_NEW_MAPPING
 * asynchronously.
 *
 * Threads: pfkey_input, tick, drain, ike_recv and the two *_packet entry points are
 * called from one control thread (the daemon's event loop). The data-plane threads
 * started by esp_engine_new() never call back into the daemon: what they have to say
 * (ACQUIRE, EXPIRE, IKE packets that arrived on the NAT-T port) goes through queues
 * whose file descriptors the daemon watches. */
#ifndef TSUNAGI_ESP_ENGINE_H
#define TSUNAGI_ESP_ENGINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "pfkey/pfkey.h"

#define ESP_ENGINE_TUN_NAME	"tsunagi0"
#define ESP_ENGINE_MTU		1500	/* path MTU: Ethernet, as the kernel assumes */
/* The TUN device's MTU: IP's largest packet. The engine, which knows each SA's
 * overhead, decides what fits (pmtu.h); with a smaller device MTU the kernel would
 * answer "fragmentation needed" (or fragment) itself for forwarded traffic, with the
 * device's MTU instead of the tunnel's. */
#define ESP_ENGINE_TUN_MTU	65535
#define ESP_ENGINE_NATT_PORT	4500
#define ESP_ENGINE_ROUTE_TABLE	220	/* as strongSwan */
#define ESP_ENGINE_RULE_PRIO	220
#define ESP_ENGINE_FWMARK	0x2200	/* our sockets' SO_MARK: skips table 220 */
/* NEW_MAPPING (an SA's peer sent from a new NAT mapping): at most one per SA per this
 * many ms while IKE has not followed, so a peer IKE will not follow costs little. */
#define ESP_ENGINE_MAPPING_INTERVAL_MS	1000

struct esp_engine_cfg {
	const char *tun_name;	/* NULL = ESP_ENGINE_TUN_NAME */
	unsigned mtu;		/* path MTU: the largest ESP packet sent, outer IP
				 * header included; 0 = ESP_ENGINE_MTU. Tunnel packets
				 * that do not fit get ICMP or are fragmented (pmtu.h) */
	int mss;		/* TCP MSS clamp for tunnel traffic: 0 = from the SA's
				 * inner MTU (- 40 for IPv4, - 60 for IPv6), -1 = off */
	bool no_offload;	/* no UDP GSO/GRO, no TUN offloads (else used where the
				 * kernel accepts them) */
	uint16_t natt_port;	/* 0 = 4500 */
	struct addr bind_addr;	/* family 0 = any IPv4 address */
	unsigned threads;	/* data-plane threads, >= 2: one net->TUN, the rest
				 * TUN->net on a multi-queue TUN; 0 = 2 */
	uint32_t route_table;	/* 0 = ESP_ENGINE_ROUTE_TABLE; 254 = main, no rule */
	bool no_routes;		/* install no routes or rules at all */
	uint32_t fwmark;	/* 0 = ESP_ENGINE_FWMARK */
	unsigned hold_packets;	/* per trap policy while ACQUIRE runs; 0 = 4 */
	unsigned hold_ms;	/* how long they are held; 0 = 3000 */
	unsigned acquire_retry_ms;	/* a new ACQUIRE for the same policy; 0 = 10000 */
	unsigned larval_ms;	/* unused GETSPI SPIs are freed after; 0 = 180000 */

	/* Tests: with no_io nothing is opened and no thread runs; packets that would be
	 * sent leave through these hooks (either may be NULL). */
	bool no_io;
	void (*net_send)(void *arg, const struct addr *src, const struct addr *dst,
			 bool udp_encap, const uint8_t *pkt, size_t len);
	void (*tun_write)(void *arg, const uint8_t *pkt, size_t len);
	void *hook_arg;
};

struct esp_engine;

/* Opens the TUN device and the sockets, installs the routing rule and starts the
 * threads (unless no_io). NULL on failure (logged). */
struct esp_engine *esp_engine_new(const struct esp_engine_cfg *cfg);
/* Stops and joins the threads, removes routes and the rule, closes everything and
 * wipes all keys. */
void esp_engine_free(struct esp_engine *e);

/* One PF_KEY request from ike/. The reply (or replies, for DUMP) go to reply_to,
 * before this returns. A malformed message gets an error reply (EINVAL) if its
 * header could be read. */
void esp_engine_pfkey_input(struct esp_engine *e, const uint8_t *msg, size_t len,
			    const struct pfkey_endpoint *reply_to);

/* One request-reply round as ike/ makes it (its pfkey callback): the reply is put in
 * reply, and the engine's errno for the request is returned (0 when it succeeded). */
struct buf;
int esp_engine_pfkey_call(struct esp_engine *e, const uint8_t *req, size_t len,
			  struct buf *reply);

/* ACQUIRE/EXPIRE/NEW_MAPPING notifications: the fd becomes readable when there are some;
 * drain delivers them all to `to` (and resets the fd). Deleting hard-expired SAs
 * happens here too, after their EXPIRE went out. */
int esp_engine_notify_fd(const struct esp_engine *e);
void esp_engine_drain(struct esp_engine *e, const struct pfkey_endpoint *to);

/* Call every second or so: time lifetimes, held packets, unused larval SAs. `now`
 * is the monotonic time (clock_now_ms() in the daemon, anything in tests); the data
 * plane uses the last value given as its clock. */
void esp_engine_tick(struct esp_engine *e, ms_t now);

/* IKE packets that arrived on the NAT-T port (non-ESP marker removed). The fd is
 * readable while some are queued; ike_recv returns the length of the next one (0
 * when none is left, -1 if cap is too small: that packet is dropped). */
int esp_engine_ike_fd(const struct esp_engine *e);
ssize_t esp_engine_ike_recv(struct esp_engine *e, uint8_t *buf, size_t cap,
			    struct addr *local, struct addr *remote);
/* The NAT-T socket, for the daemon's own IKE packets on port 4500 (it prepends the
 * 4-byte non-ESP marker). -1 with no_io. */
int esp_engine_natt_fd(const struct esp_engine *e);
/* The mark the daemon's IKE socket must carry (SO_MARK) so that its packets skip the
 * tunnel routes; 0 when the configuration uses no rule (no_routes, table 254). The
 * same whether or not a tunnel, and so the rule, is up at the moment. */
uint32_t esp_engine_fwmark(const struct esp_engine *e);
/* Puts a virtual IP the peer assigned on the TUN device (add) or takes it off; 0 or
 * -errno (logged). Nothing with no_io. */
int esp_engine_vip(struct esp_engine *e, const struct addr *a, bool add);
/* The TUN device's name ("" with no_io). */
const char *esp_engine_tun_name(const struct esp_engine *e);

/* --- Statistics, for status views ---------------------------------------------------- */

struct esp_sa_stats {
	uint64_t packets, bytes, replay, integrity, padding, selector, other;
};
/* 0, or -1 if no SA has this SPI and destination. */
int esp_engine_sa_stats(struct esp_engine *e, uint32_t spi, const struct addr *dst,
			struct esp_sa_stats *out);

struct esp_engine_stats {
	uint64_t no_policy;	/* outbound packet matched no policy */
	uint64_t discarded;	/* matched a discard/none policy */
	uint64_t held, hold_dropped, acquires;
	uint64_t no_sa;		/* inbound SPI unknown, or SA not usable */
	uint64_t bad_packet;	/* not IP, truncated */
	uint64_t ike_in, keepalives;
	uint64_t send_errors, tun_errors;
	uint64_t mss_clamped;	/* TCP SYNs whose MSS was lowered */
	/* Tunnel packets over the SA's inner MTU (pmtu.h): */
	uint64_t pmtu_sent;	/* ICMP frag needed / Packet Too Big written to the TUN */
	uint64_t pmtu_suppressed;	/* dropped unanswered: rate limit, or an ICMP
					 * error may not be sent for it (RFC 1122) */
	uint64_t prefrag_ok;	/* IPv4 without DF, fragmented before encryption */
	uint64_t prefrag_failed;	/* could not be fragmented: dropped */
	uint64_t fragments;	/* fragments made by pre-fragmentation */
	uint64_t gso_fallbacks;	/* UDP GSO sends the kernel refused (GSO then off) */
	uint64_t bad_super;	/* TUN reads whose vnet header lied: dropped */
	uint64_t new_mappings;	/* NEW_MAPPINGs sent: authenticated ESP in UDP from a
				 * new peer address or port */
};
void esp_engine_stats(struct esp_engine *e, struct esp_engine_stats *out);
void esp_engine_reset_stats(struct esp_engine *e);

/* --- One packet without sockets (tests, and the control thread's own use) ------------ */

enum esp_verdict {
	ESP_V_SENT,		/* outbound: encapsulated and sent */
	ESP_V_HELD,		/* outbound: kept for a pending SA (ACQUIRE queued) */
	ESP_V_DELIVERED,	/* inbound: decapsulated and written to the TUN device */
	ESP_V_IKE,		/* inbound: an IKE packet, queued for the daemon */
	ESP_V_KEEPALIVE,	/* inbound: NAT keepalive */
	ESP_V_DROPPED,		/* counted somewhere */
};

/* An IP packet as it would come from the TUN device. */
enum esp_verdict esp_engine_output_packet(struct esp_engine *e, const uint8_t *pkt, size_t len);
/* A packet as it would come from the network: for udp_encap the UDP payload (ESP,
 * marker + IKE, or keepalive), else the ESP packet after the IP header. src/dst are
 * the outer addresses (ports for UDP). */
enum esp_verdict esp_engine_input_packet(struct esp_engine *e, const struct addr *src,
					 const struct addr *dst, bool udp_encap,
					 const uint8_t *pkt, size_t len);
#endif
