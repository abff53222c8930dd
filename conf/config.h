/* The configuration model: connections (IKE settings + children) and shared secrets,
 * with strongSwan's swanctl.conf key names and defaults. Built from a ctree by
 * config_build(); a strongSwan key that tsunagi does not implement is an error that
 * names the key and file:line. */
#ifndef TSUNAGI_CONF_CONFIG_H
#define TSUNAGI_CONF_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/tree.h"
#include "lib/selector.h"

struct nat_rules;

#define CONF_MAX_TS 16
#define CONF_MAX_VIPS 2		/* one per family */
/* The ESP engine's largest anti-replay window (esp/replay.h REPLAY_WINDOW_MAX). */
#define CONF_MAX_REPLAY_WINDOW 8192

enum child_mode { MODE_TUNNEL, MODE_TRANSPORT };
enum start_action { START_NONE, START_TRAP, START_START };
enum sa_action { ACTION_NONE, ACTION_CLEAR, ACTION_TRAP, ACTION_RESTART };	/* dpd/close */
enum unique_policy { UNIQUE_NO, UNIQUE_NEVER, UNIQUE_REPLACE, UNIQUE_KEEP };
/* IKE fragmentation (RFC 7383); yes is 0, strongSwan's default. */
enum frag_policy { FRAG_YES, FRAG_ACCEPT, FRAG_FORCE, FRAG_NO };
enum auth_method {
	AUTH_PSK = 1,
	AUTH_PUBKEY = 2,
	AUTH_XAUTH = 3,		/* IKEv1 XAuth, a second round (ike/v1/ikev1_xauth.c) */
	AUTH_EAP = 10,		/* ike/eap.h: eap_method says which */
};
/* send_cert (strongSwan's names); default ifasked. */
enum send_cert { SEND_CERT_IFASKED, SEND_CERT_ALWAYS, SEND_CERT_NEVER };

struct ts_cfg {
	bool dynamic;		/* "dynamic": the SA's own address */
	struct selector sel;	/* when dynamic, only its protocol and ports count */
};
/* Does a dynamic selector name a protocol or ports (a zeroed sel does not)? */
static inline bool ts_cfg_has_ports(const struct ts_cfg *ts)
{
	return ts->sel.proto || ts->sel.port_lo || ts->sel.port_hi;
}
/* "10.1.0.0/24", "dynamic", "dynamic[udp/1701]" */
const char *ts_cfg_fmt(const struct ts_cfg *ts, char *out, size_t outlen);

struct child_cfg {
	char *name;
	struct ts_cfg local_ts[CONF_MAX_TS], remote_ts[CONF_MAX_TS];
	size_t n_local_ts, n_remote_ts;		/* default: one "dynamic" each */
	char **esp_proposals;			/* as written; default {"default"} */
	size_t n_esp_proposals;
	enum child_mode mode;			/* default tunnel */
	enum start_action start_action;		/* default none */
	enum sa_action dpd_action;		/* default clear */
	enum sa_action close_action;		/* default none */
	uint64_t rekey_time, life_time, rand_time;	/* seconds; defaults 3600, 1.1x, diff */
	uint64_t rekey_bytes, life_bytes, rand_bytes;	/* 0 = off */
	uint64_t rekey_packets, life_packets, rand_packets;
	uint32_t replay_window;			/* default 32 */
	uint32_t reqid;				/* 0 = allocate */
	struct child_cfg *next;
};

struct auth_cfg {
	enum auth_method auth;	/* psk or pubkey */
	char *id;		/* NULL: the IKE address is the identity */
	int round;		/* the "local-N"/"remote-N" suffix */
	char **certs, **cacerts;	/* file paths (x509/, x509ca/ resolved), conf/config_cred.c */
	size_t n_certs, n_cacerts;
	uint8_t eap_method;	/* AUTH_EAP: EAP type (26 MSCHAPv2, 4 MD5), 0 any */
	char *eap_id;		/* AUTH_EAP: EAP identity; NULL the IKE identity */
	char *xauth_id;		/* xauth round: the user name (ours; or the one expected) */
};

struct conn_cfg {
	char *name;
	int version;				/* 0 any, 1, 2; default 0 (tsunagi: 2) */
	char **local_addrs, **remote_addrs;	/* default {"%any"} each */
	size_t n_local_addrs, n_remote_addrs;
	uint16_t local_port, remote_port;	/* default 500 */
	char **proposals;			/* default {"default"} */
	size_t n_proposals;
	bool encap;				/* default no */
	bool mobike;				/* default yes (accepted, not implemented) */
	uint32_t dpd_delay, dpd_timeout;	/* seconds; default 0 (off) */
	uint64_t rekey_time, reauth_time, over_time, rand_time;	/* defaults 14400,0,10%,=over */
	uint32_t keyingtries;			/* default 1; 0 = forever */
	enum unique_policy unique;		/* default no */
	bool aggressive;			/* IKEv1 only; default no */
	enum send_cert send_cert;		/* default ifasked */
	bool send_certreq;			/* default yes */
	enum frag_policy fragmentation;		/* default yes (IKEv2 only) */
	struct auth_cfg local, remote;
	/* IKEv1 XAuth, a second round (conf/config_xauth.c): remote-N { auth = xauth }
	 * makes us the server, local-N { auth = xauth } the client; auth 0: none. */
	struct auth_cfg local_xauth, remote_xauth;
	bool pull;				/* Mode Config by REQUEST; default yes */
	struct child_cfg *children;
	char **pools;				/* pools = a, b: names, in order */
	size_t n_pools;
	struct addr vips[CONF_MAX_VIPS];	/* vips = 0.0.0.0: virtual IPs to request */
	size_t n_vips;
	char *file;				/* where it was defined, for messages */
	int line;
	struct conn_cfg *next;
};

enum secret_type {
	SECRET_IKE = 0,		/* a pre-shared key */
	SECRET_XAUTH = 1,	/* an XAuth user's password: ids are user names */
	SECRET_EAP = 2,		/* an EAP user's password (ike/eap.h) */
};

struct secret_cfg {
	char *name;		/* "ike-site" */
	enum secret_type type;	/* from the section name (eap-*, xauth-*) or VICI's type */
	char **ids;		/* id, id-foo...; empty = any peer */
	size_t n_ids;
	uint8_t *secret;	/* wiped when freed */
	size_t secret_len;
	struct secret_cfg *next;
};

/* A virtual IP pool: "pools { NAME { addrs = ..., dns = ... } }" (ike/pool.h hands
 * out its addresses). */
struct pool_cfg {
	char *name;
	char *addrs;				/* as written: "10.3.0.0/24", "a-b" */
	struct addr first, last;		/* served: a CIDR's network and broadcast
						 * addresses are left out */
	struct addr *dns, *nbns, *netmask;	/* INTERNAL_IP4/6_DNS, _NBNS, _NETMASK */
	size_t n_dns, n_nbns, n_netmask;
	struct selector *subnets;		/* subnet and split_include: _SUBNET */
	size_t n_subnets;
	struct pool_attr {			/* numbered ones, strongSwan's custom */
		uint16_t type;			/* attributes: "28674 = example.org" is */
		char *value;			/* Cisco Unity's default domain (IKEv1) */
	} *custom;
	size_t n_custom;
	char *file;
	int line;
	struct pool_cfg *next;
};

/* tsunagi's own settings: section "tsunagi { ... }" in the same file. */
struct daemon_cfg {
	int log_level[16];		/* per subsystem (lib/log.h), -2 = unset */
	unsigned esp_threads;		/* data-plane workers; 0 = one per core */
	unsigned esp_mtu;		/* path MTU; 0 = engine default (1500) */
	int esp_mss;			/* TCP MSS clamp: 0 auto (from the MTU), -1 off */
	bool esp_no_offload;		/* esp { offload = no } */
	char *tun_name;			/* default "tsunagi0" */
	uint16_t ike_port, ike_port_natt;	/* default 500, 4500 */
	uint32_t natt_keepalive;	/* seconds; default 20 */
	uint32_t retransmit_timeout_ms;	/* default 4000 */
	double retransmit_base;		/* default 1.8 */
	uint32_t retransmit_tries;	/* default 5 */
	uint32_t fragment_size;		/* IKEv2 fragments: IP datagram bytes; default 1280 */
	struct addr metrics_listen;	/* Prometheus endpoint; family 0 = off (default) */
	struct nat_rules *nat;		/* tsunagi { nat { } }; NULL = no NAT (default).
					 * daemon_cfg_clear() frees it: take it and set NULL */
};

/* secrets.private<suffix> { file = ..., secret = passphrase }, and every file in the
 * private/ directory beside the configuration (no passphrase). */
struct key_cfg {
	char *name;
	char *file;		/* resolved path */
	char *secret;		/* passphrase or NULL; wiped when freed */
	struct key_cfg *next;
};

struct config {
	struct conn_cfg *conns;
	struct pool_cfg *pools;
	struct secret_cfg *secrets;
	struct key_cfg *keys;
	char *cred_dir;		/* directory of the configuration file (x509/, private/ ...) */
	struct daemon_cfg daemon;
};

/* Builds from a tree whose root holds "connections", "secrets" and "tsunagi" sections.
 * On error returns NULL and writes "file:line: message" to err. Nothing else is
 * changed, so the caller keeps its running configuration. */
struct config *config_build(const struct ctree *root, char *err, size_t errlen);
/* One connection from a VICI load-conn message: root is the connection's section. */
struct conn_cfg *config_build_conn(const struct ctree *conn, char *err, size_t errlen);
struct secret_cfg *config_build_secret(const struct ctree *sec, char *err, size_t errlen);
/* Reads a swanctl.conf file (with include) into a tree, then builds it. */
struct config *config_load_file(const char *path, char *err, size_t errlen);
void config_free(struct config *c);
void conn_cfg_free(struct conn_cfg *c);
/* A deep copy of one connection (next NULL), or NULL when out of memory. */
struct conn_cfg *conn_cfg_dup(const struct conn_cfg *c);
void secret_cfg_free(struct secret_cfg *s);
void key_cfg_free(struct key_cfg *k);
void auth_cfg_creds_free(struct auth_cfg *a);
struct conn_cfg *config_find_conn(const struct config *c, const char *name);
/* Sets every default (tun_name is strdup'd "tsunagi0"); daemon_cfg_clear() frees. */
void daemon_cfg_defaults(struct daemon_cfg *d);
/* Logs a warning (with both file:line) for each pair of children of different
 * connections whose selectors overlap; returns how many. */
unsigned config_warn_overlaps(const struct conn_cfg *conns);
/* Logs a warning (file:line) for each connection that may answer IKEv1 Main Mode from a
 * dynamic peer (remote_addrs %any, a subnet or a range) without a remote id while
 * several PSKs could apply: Main Mode must pick the PSK by the peer's address before
 * the identity is known. Returns how many. */
unsigned config_warn_mm_psk(const struct config *c);
void daemon_cfg_clear(struct daemon_cfg *d);

/* conf/config_pool.c. One pool from a VICI load-pool message (sec: the pool's section). */
struct pool_cfg *config_build_pool(const struct ctree *sec, char *err, size_t errlen);
void pool_cfg_free(struct pool_cfg *p);	/* the whole list */
/* "10.3.0.0/24" (network and broadcast address left out, as strongSwan does; from the
 * given address on if host bits are set), or "10.3.0.10-10.3.0.99" (as written).
 * 0 or -1. */
int config_pool_range(const char *s, struct addr *first, struct addr *last);
/* A pool overlapping a protected local network (a non-dynamic local_ts other than a
 * default route /0) of any connection's child, or another pool: -1 with
 * "file:line: ..." in err. */
int config_check_pool(const struct pool_cfg *p, const struct pool_cfg *others,
		      const struct conn_cfg *conns, char *err, size_t errlen);
#endif
