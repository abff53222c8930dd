/* The IKE daemon core: a pure state machine over (state, input, time). It never opens a
 * socket or reads a clock: the I/O shell (daemon/) passes received messages, PF_KEY
 * messages from the ESP engine and the time in, and gets messages to send, PF_KEY
 * requests and up/down events out through struct ike_env. Tests run two cores against
 * each other with a mock env and a mock clock. */
#ifndef TSUNAGI_IKE_H
#define TSUNAGI_IKE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/clock.h"

struct ike;
struct ike_sa;
struct child_sa;

struct ike_env {
	void *arg;
	/* Sends one IKE message. The shell picks the socket by local->port and adds the
	 * non-ESP marker on the NAT-T port. */
	void (*send)(void *arg, const struct addr *local, const struct addr *remote,
		     const uint8_t *msg, size_t len);
	/* A NAT-T keepalive (one 0xFF byte) from local to remote. */
	void (*keepalive)(void *arg, const struct addr *local, const struct addr *remote);
	/* A synchronous PF_KEY request to the ESP engine; its answer (if any) is appended
	 * to reply. Returns the answer's errno (0 = success). */
	int (*pfkey)(void *arg, const uint8_t *req, size_t len, struct buf *reply);
	/* The source address the system would use towards remote (for %any). 0 or -1. */
	int (*route_src)(void *arg, const struct addr *remote, struct addr *local);
	/* An IKE or CHILD SA came up or went down (child NULL: the IKE SA). */
	void (*updown)(void *arg, const struct ike_sa *ike, const struct child_sa *child, bool up);
	/* An SA was rekeyed: IKE (old_child and new_child NULL) or CHILD (on one IKE SA). */
	void (*rekeyed)(void *arg, const struct ike_sa *old_ike, const struct ike_sa *new_ike,
			const struct child_sa *old_child, const struct child_sa *new_child);
	/* Optional: the peer assigned us a virtual IP (up), or the IKE SA holding it went
	 * (down). The shell puts the address on its TUN device and takes it off again. */
	void (*vip)(void *arg, const struct ike_sa *ike, const struct addr *vip, bool up);
};

/* Timing knobs (daemon_cfg has the configured values). */
struct ike_timing {
	uint32_t retransmit_timeout_ms;	/* 4000 */
	double retransmit_base;		/* 1.8 */
	uint32_t retransmit_tries;	/* 5 */
	uint32_t natt_keepalive_s;	/* 20 */
	uint16_t port, port_natt;	/* 500, 4500 */
	uint32_t half_open_timeout_s;	/* 30 */
	uint32_t cookie_threshold;	/* half-open SAs before COOKIEs are required; 30 */
	uint32_t fragment_size;		/* IKEv2 fragments (IP datagram); 0: 576 v4, 1280 v6 */
};

struct ike *ike_new(const struct ike_env *env, const struct ike_timing *t);
/* Sends DELETE for every IKE SA (no wait), removes every SA and policy, frees all. */
void ike_free(struct ike *ike, ms_t now);

/* Configuration. The core takes ownership of what it is given. Established SAs keep
 * the connection they were made with until they end. */
void ike_load_config(struct ike *ike, struct config *cfg, ms_t now);
int ike_load_conn(struct ike *ike, struct conn_cfg *conn, ms_t now);	/* replaces same name */
int ike_unload_conn(struct ike *ike, const char *name, ms_t now);
void ike_load_secret(struct ike *ike, struct secret_cfg *s);		/* replaces same name */
int ike_unload_secret(struct ike *ike, const char *name);
const struct conn_cfg *ike_conn_first(const struct ike *ike);
const struct conn_cfg *ike_conn_next(const struct ike *ike, const struct conn_cfg *c);
const struct secret_cfg *ike_secret_first(const struct ike *ike);
/* The virtual IP pools (ike/pool.h): loaded with the configuration, and by VICI. */
struct pools *ike_pools(struct ike *ike);

/* Input. */
void ike_input(struct ike *ike, const struct addr *local, const struct addr *remote,
	       const uint8_t *msg, size_t len, ms_t now);
/* ACQUIRE and EXPIRE from the ESP engine. */
void ike_pfkey_input(struct ike *ike, const uint8_t *msg, size_t len, ms_t now);
/* Runs what is due; returns when it wants to run next (MS_NEVER if idle). */
ms_t ike_tick(struct ike *ike, ms_t now);
/* The same after an input (ike_input, ike_pfkey_input), visiting only the SAs it
 * touched unless something else is due: per message, the work does not grow with the
 * number of SAs. */
ms_t ike_tick_input(struct ike *ike, ms_t now);

/* Control (VICI). 0 on success, -1 with a message in err. */
int ike_initiate(struct ike *ike, const char *conn, const char *child, ms_t now,
		 char *err, size_t errlen);
int ike_terminate(struct ike *ike, const char *ike_name, uint32_t ike_id, const char *child,
		  uint32_t child_id, ms_t now, char *err, size_t errlen);
int ike_rekey(struct ike *ike, const char *ike_name, uint32_t ike_id, const char *child,
	      uint32_t child_id, ms_t now, char *err, size_t errlen);

/* Walking the SAs (for list-sas). */
const struct ike_sa *ike_sa_first(const struct ike *ike);
const struct ike_sa *ike_sa_next(const struct ike_sa *sa);

struct ike_stats {
	uint64_t ike_sas, half_open, child_sas;
	uint64_t rx_messages, tx_messages, rx_invalid, rx_no_sa, retransmits;
	uint64_t established_total, auth_failures, cookies_sent, half_open_refused;
	uint64_t init_refused;	/* IKE_SA_INIT requests matching no connection/proposal */
	uint64_t eap_failures, eap_dropped;	/* EAP logins refused; EAP messages dropped */
	uint64_t xauth_failures;	/* IKEv1 XAuth users refused (also in auth_failures) */
	uint64_t vip_failures;	/* virtual IP requests refused (pools exhausted, none) */
	uint64_t cp_bad_attrs;	/* configuration payload attributes ignored as bad */
	uint64_t frag_tx, frag_rx;	/* IKEv2 fragments sent (retransmissions too), received */
	uint64_t frag_reassembled;	/* messages reassembled from fragments */
	uint64_t frag_dropped;		/* fragments not taken (RFC 7383 rules, limits) */
	uint64_t frag_expired;		/* partial reassemblies given up: timed out */
	uint64_t frag_evicted;		/* ... given up: the oldest, at the bound on bytes */
	/* NEW_MAPPINGs from the ESP engine (a peer's NAT moved): followed (the IKE SA and
	 * its CHILD_SAs moved), and ignored (unknown or outbound SPI, SA not established,
	 * no NAT-T, or RFC 7296 2.23 says not to follow: we are behind a NAT, the peer is
	 * not). */
	uint64_t nat_mappings, nat_mappings_ignored;
};
void ike_get_stats(const struct ike *ike, struct ike_stats *st);
/* The credential store (ike/cert.h): VICI load-cert, load-key, list-certs. */
struct cred_store *ike_creds(struct ike *ike);
/* Zeroes the event counters (not the gauges: SA counts stay). */
void ike_reset_stats(struct ike *ike);
#endif
