/* tsunagid: the I/O shell around the pure cores. It owns the event loop, the IKE
 * socket on port 500, the clock, signals and configuration reloads; the ESP engine
 * owns the TUN device and the NAT-T and raw ESP sockets; the VICI server answers
 * control clients. */
#ifndef TSUNAGI_DAEMON_H
#define TSUNAGI_DAEMON_H
#include <event2/event.h>
#include <stdbool.h>

#include "conf/config.h"
#include "daemon/metrics_text.h"
#include "esp/esp_engine.h"
#include "ike/ike.h"
#include "vici/vici_server.h"

struct daemon {
	struct event_base *base;
	struct ike *ike;
	struct esp_engine *esp;
	struct vici_server *vici;
	const char *config_path;
	const char *vici_uri;
	struct daemon_cfg settings;
	int ike_fd;			/* UDP 500, IPv4 */
	struct event *ev_ike, *ev_natt, *ev_notify, *ev_timer, *ev_tick;
	struct event *ev_sigterm, *ev_sigint, *ev_sighup;
	uint64_t rx_malformed;		/* datagrams too short to be IKE */
	struct evhttp *metrics;		/* the metrics listener, NULL when off */
	struct addr metrics_addr;	/* where it listens */
	bool shutting_down;
	struct nat_io *nat;		/* the NAT shell, NULL without a nat section */
	uint16_t nat_queue_num;		/* --nat-queue (default 0) */
	bool nat_manual_fw;		/* --nat-firewall=manual: the operator queues */
	bool nat_queue_flag, nat_fw_flag;	/* given as flags: they override nat { } */
	/* Per-SA counters as the last "clear counters" found them: the views subtract
	 * these, while the engine's own counts (which byte lifetimes use) go on. */
	struct sa_baseline *baselines;
	size_t n_baselines;
	struct disabled *disabled;	/* connections disabled by the operator */
};

struct sa_baseline {
	uint32_t child_id;		/* CHILD SA uniqueid (never reused) */
	struct esp_sa_stats in, out;
};

/* daemon/ike_io.c */
int ike_io_open(struct daemon *d);
void ike_io_close(struct daemon *d);
void ike_io_env(struct daemon *d, struct ike_env *env);
/* Re-arms the IKE core's timer for its next deadline. */
void daemon_schedule(struct daemon *d, ms_t next);

/* daemon/ctl.c: the VICI commands and events. */
int ctl_register(struct daemon *d);
void ctl_unregister(struct daemon *d);
/* Completes initiate commands whose outcome is known (after every event). */
void ctl_check_pending(struct daemon *d);
/* daemon/ctl_nat.c: tsunagi-list-nat (list-nat events) and tsunagi-flush-nat. */
int ctl_nat_register(struct daemon *d);
/* load-pool, unload-pool, get-pools (daemon/ctl_pools.c). */
int ctl_pools_register(struct daemon *d);
/* A connection from load-conn whose protected networks overlap a loaded pool: -1 with
 * the reason in err. */
int ctl_pools_check_conn(struct daemon *d, const struct conn_cfg *c, char *err, size_t len);
/* ctl_creds.c: load-cert, load-key, unload-key, get-keys, list-certs, clear-creds. */
int ctl_creds_register(struct daemon *d);
void ctl_updown(struct daemon *d, const struct ike_sa *sa, const struct child_sa *c, bool up);
void ctl_rekeyed(struct daemon *d, const struct ike_sa *old_ike, const struct ike_sa *new_ike,
		 const struct child_sa *old_child, const struct child_sa *new_child);
/* daemon/counters.c: the global counters, as --counters and the metrics show them. */
#define DAEMON_COUNTERS_MAX 320	/* room for every inspection engine's counters */
size_t daemon_counters(struct daemon *d, struct metric_counter out[DAEMON_COUNTERS_MAX]);
/* Zeroes the global counters and every SA's, or (conn not NULL) only the counters of
 * that connection's SAs. 0, or -1 when out of memory (nothing changed). */
int daemon_reset_counters(struct daemon *d, const char *conn);
const struct sa_baseline *daemon_sa_baseline(const struct daemon *d, uint32_t child_id);

/* daemon/disabled.c: connections taken out of service (tsunagictl --disable). 0, or
 * -1 with err (no such connection, out of memory). Disabling deletes its SAs. */
int conn_disable(struct daemon *d, const char *name, char *err, size_t errlen);
int conn_enable(struct daemon *d, const char *name, char *err, size_t errlen);
bool conn_is_disabled(struct daemon *d, const char *name);
const struct conn_cfg *conn_disabled_first(const struct daemon *d);
const struct conn_cfg *conn_disabled_next(const struct daemon *d, const struct conn_cfg *cfg);
bool conn_disabled_update(struct daemon *d, struct conn_cfg *cfg);
void conn_disabled_forget(struct daemon *d, const char *name);
void conn_disabled_reload(struct daemon *d, struct config *cfg);
void conn_disabled_free(struct daemon *d);
void conn_disabled_note_input(struct daemon *d, const struct addr *local,
			      const struct addr *remote, const uint8_t *pkt, size_t len);

/* daemon/metrics_http.c: the optional Prometheus endpoint. Opens, moves or closes
 * the listener to match the configured address (family 0: off). 0, or -1 (logged;
 * the listener is then closed). */
int metrics_http_apply(struct daemon *d, const struct addr *listen);
void metrics_http_close(struct daemon *d);

/* daemon/nat_io.c: the NAT core behind NFQUEUE. Takes *rules (sets it NULL): opens
 * the queue and installs its iptables rules, applies new rules to a running NAT, or
 * (NULL) stops it. 0, or -1 (logged; no NAT then). */
struct nat_rules;
struct nat_table;
int nat_io_apply(struct daemon *d, struct nat_rules **rules);
void nat_io_close(struct daemon *d);
/* The iptables-restore text tsunagid installs (malloc'd). */
char *nat_io_rules(const struct nat_rules *r, uint16_t qnum, uint16_t ike, uint16_t natt);
struct nat_table *nat_io_table(const struct daemon *d);
void nat_io_lock(const struct daemon *d);
void nat_io_unlock(const struct daemon *d);
struct nat_counters;
struct nat_queue_stats;
/* Counters since the last reset (all zero while NAT is off). */
void nat_io_counters(const struct daemon *d, struct nat_counters *c, struct nat_queue_stats *q);
struct nat_insp_counters;
int nat_io_insp_counters(const struct daemon *d, size_t id, struct nat_insp_counters *c);
void nat_io_reset_counters(struct daemon *d);
/* What the fast path's program did with SYNs from inside (NAT_FAST_ST_*,
 * NAT_FAST_ST_COUNT of them: daemon/nat_fast_map.h). */
void nat_io_fast_stats(const struct daemon *d, uint64_t out[]);

/* Reads and applies the configuration file (SIGHUP, startup). 0 or -1 (logged; the
 * running configuration stays). */
int daemon_reload(struct daemon *d);
#endif
