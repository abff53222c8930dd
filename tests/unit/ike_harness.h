/* Two IKE cores talking to each other in one process, with a mock clock, a mock
 * ESP engine (a PF_KEY recorder) and a wire that can drop messages. */
#ifndef TSUNAGI_TEST_IKE_HARNESS_H
#define TSUNAGI_TEST_IKE_HARNESS_H
#include "esp/esp_engine.h"
#include "ike/ike.h"
#include "ike/ike_sa.h"
#include "pfkey/pfkey.h"

#define H_MAX_SAS 64
#define H_MAX_WIRE 32

struct h_peer;

struct h_wire_msg {
	struct h_peer *to;
	struct addr local, remote;	/* as the receiver sees them */
	uint8_t data[4096];
	size_t len;
};

struct h_peer {
	const char *name;
	struct ike *core;
	struct addr addr;
	struct h_peer *other;
	struct pfkey_sa sas[H_MAX_SAS];		/* installed, deleted ones have spi 0 */
	size_t n_sas;
	int n_policies;		/* distinct policies installed */
	struct pfkey_policy pols[H_MAX_SAS];
	uint32_t next_spi;
	int sent;
	int updown_up, updown_down;
	int keepalives;
	int ike_rekeys, child_rekeys;
	int vips_up, vips_down;			/* env.vip calls, and the last address */
	struct addr vip;
	struct esp_engine *engine;		/* h_use_engine(): a real one behind PF_KEY */
	bool drop_out;				/* drop everything this peer sends */
	int drop_next;				/* drop the next N messages it sends */
	int drop_at;				/* drop its message number N (1-based) */
	/* Behind a NAT (family set): the other peer sees its messages come from this
	 * address and reaches it there, the ports as they are (a masquerade, or a static
	 * NAT in front of a server). Set after h_init. */
	struct addr seen;
	/* Its NAT maps its NAT-T port (4500) to this public port (0: kept). Changing it
	 * under a running SA is a NAT rebinding: the old mapping is gone, so what the
	 * other peer still sends to seen:4500 is lost. */
	uint16_t seen_natt_port;
	int spd_adds, spd_deletes;		/* SPDADD / SPDDELETE requests */
};

struct harness {
	struct h_peer a, b;
	ms_t now;
	struct h_wire_msg wire[H_MAX_WIRE];
	size_t n_wire;
};

/* Sets up peer a (192.0.2.1) and b (198.51.100.2) with the two configs (swanctl.conf
 * text). Returns 0 or -1 (config error, printed). */
int h_init(struct harness *h, const char *conf_a, const char *conf_b);
/* Half-open SAs before a responder demands COOKIEs (default 30), for the next h_init. */
extern uint32_t h_cookie_threshold;
/* fragment_size (IKEv2 fragmentation) for the next h_init; 0: 576 for IPv4. */
extern uint32_t h_fragment_size;
void h_free(struct harness *h);
/* Delivers queued messages until the wire is empty (bounded). */
void h_pump(struct harness *h);
/* Advances time by ms in steps, running timers and pumping. */
void h_advance(struct harness *h, ms_t ms);
const struct ike_sa *h_first_sa(struct h_peer *p);
int h_count_sas(struct h_peer *p, enum ike_state st);
int h_count_children(struct h_peer *p);
/* The installed SA with this SPI, or NULL. */
const struct pfkey_sa *h_find_sa(struct h_peer *p, uint32_t spi);

/* A real ESP engine (no I/O; packets it sends go to hook) behind the peer's PF_KEY:
 * every request goes to it first, with the engine's rules (SAD keyed by SPI and
 * destination, larval SAs, UPDATE/ADD errors); what it accepts is also recorded as
 * above. Freed by h_free. Returns 0 or -1. */
/* Log lines captured at the daemon's default level (1), silently: how many, and the
 * first one that holds `want`. */
struct h_log_count {
	int lines;
	int matches;		/* lines that hold `want` */
	const char *want;
	char first[1024];
};
void h_log_capture_start(struct h_log_count *lc, const char *want);
void h_log_capture_stop(struct h_log_count *lc);

int h_use_engine(struct h_peer *p,
		 void (*hook)(void *arg, const struct addr *src, const struct addr *dst,
			      bool udp_encap, const uint8_t *pkt, size_t len),
		 void *hook_arg);
/* A hook for h_use_engine: counts what the engine sends and keeps the last packet. */
struct h_sent {
	unsigned n;
	struct addr dst;
	uint8_t pkt[2048];
	size_t len;
};
void h_record_sent(void *arg, const struct addr *src, const struct addr *dst, bool udp,
		   const uint8_t *pkt, size_t len);
/* A 48-byte IPv4 UDP packet src:1000 -> dst:2000 (checksum 0) in p; its length. */
size_t h_udp4(uint8_t *p, const char *src, const char *dst);

/* IKEv1 site-to-site configurations (PSK, AES-128/SHA-256/MODP-2048, ESP AES-128/SHA-1)
 * for a and b; extra_a/extra_b: lines added to each one's connection; mode: "tunnel"
 * (10.1.0.0/24 === 10.2.0.0/24) or "transport" (the two hosts). */
void h_v1_confs(char *a, char *b, size_t len, const char *extra_a, const char *extra_b,
		const char *mode);
/* Hands the engine's pending notifications (ACQUIRE, EXPIRE, NEW_MAPPING) to the
 * peer's IKE core, as the daemon does. */
void h_engine_drain(struct harness *h, struct h_peer *p);
/* Delivers the first message on the wire, rewritten by fix first when given. */
void h_deliver_first(struct harness *h, void (*fix)(struct h_wire_msg *w));
#endif
