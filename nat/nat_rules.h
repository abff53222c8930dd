/*
 * nat_rules.h - the NAT rules of tsunagi { nat { ... } }, as plain data.
 *
 * conf/config_nat.c builds them from the configuration tree (with file:line in
 * every error); the NAT core only reads them.  Addresses are IPv4 in host byte
 * order.  A rule set is immutable once handed to a table, except for the
 * interface addresses, which the shell fills in (and refreshes) by name.
 */
#ifndef TSUNAGI_NAT_RULES_H
#define TSUNAGI_NAT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAT_MAX_IFACES 8
#define NAT_MAX_NETS 16		/* networks per rule side */
#define NAT_MAX_POOL 4096	/* addresses in one dynamic NAT pool */
#define NAT_IFNAMSIZ 16

/* Checked in this order, whatever their order in the file (exemption first). */
enum nat_rule_kind {
	NAT_RULE_EXEMPT,	/* private <-> remote untranslated (tunnel traffic) */
	NAT_RULE_FORWARD,	/* static PAT: public:port <-> private:port */
	NAT_RULE_STATIC,	/* 1:1, network to network of the same size */
	NAT_RULE_DYNAMIC,	/* 1:1 from a pool, one address per inside host */
	NAT_RULE_PAT,		/* many to one (or to a pool), ports translated */
};

struct nat_net {
	uint32_t addr;		/* network address (host bits zero) */
	uint8_t plen;		/* prefix length 0..32 */
};

struct nat_rule {
	char name[64];
	enum nat_rule_kind kind;
	struct nat_net priv[NAT_MAX_NETS];	/* inside addresses ("private") */
	size_t n_priv;
	struct nat_net remote[NAT_MAX_NETS];	/* other end ("remote"); none = any */
	size_t n_remote;
	/* Public side ("public"): an outside interface's address (pub_if >= 0, an
	 * index into outside[]), else the range pub_lo..pub_hi (static: the
	 * network pub_lo/plen of priv[0]'s size). */
	int pub_if;
	uint32_t pub_lo, pub_hi;
	uint8_t proto;			/* forward: 6 or 17 */
	uint16_t priv_port, pub_port;	/* forward only */
	char file[128];			/* where it was defined, for messages */
	int line;
};

/* Idle timeouts in seconds. PIX defaults (nat_rules_new sets them). */
struct nat_timeouts {
	uint32_t xlate;			/* dynamic NAT address held after its last flow: 3 h */
	uint32_t tcp;			/* established TCP ("conn"): 1 h */
	uint32_t tcp_half_closed;	/* one FIN seen: 10 min */
	uint32_t tcp_syn;		/* handshake not complete (embryonic): 30 s */
	uint32_t tcp_closed;		/* both FINs or a RST: 10 s, for stray ACKs */
	uint32_t udp;			/* 2 min */
	uint32_t icmp;			/* echo: 2 s */
	uint32_t sip;			/* for the SIP engine: 30 min */
	uint32_t sip_media;		/* 2 min */
	uint32_t h225;			/* 1 h */
	uint32_t mgcp;			/* 5 min */
};

/* One inspection engine's settings, tsunagi { nat { inspect { ftp { ... } } } };
 * indexed by engine id (nat/inspect.h). Defaults come from the engine. */
#define NAT_MAX_ENGINES 16
#define NAT_INSPECT_RANGES 8	/* ports or ranges per engine */
struct nat_port_range {
	uint16_t lo, hi;
};
struct nat_inspect_conf {
	bool enabled;		/* default yes */
	bool strict;		/* engine-defined: drop rather than pass what it distrusts */
	size_t n_ports;
	struct nat_port_range ports[NAT_INSPECT_RANGES];
};

#define NAT_MAX_QUEUES 8	/* nat { queues } */

/* nat { fastpath = yes | redirect | rewrite | no }: with the fast path on, whether
 * its program forwards established flows itself (skipping the kernel's forward
 * path) or leaves them to the kernel after the rewrite. */
enum {
	NAT_FWD_AUTO,		/* yes: itself while no other netfilter rule would see them */
	NAT_FWD_ALWAYS,		/* redirect: itself, whatever the firewall */
	NAT_FWD_NEVER,		/* rewrite: the kernel, every packet */
};

struct nat_rules {
	char inside[NAT_MAX_IFACES][NAT_IFNAMSIZ];
	size_t n_inside;
	char outside[NAT_MAX_IFACES][NAT_IFNAMSIZ];
	size_t n_outside;
	uint32_t inside_addr[NAT_MAX_IFACES];	/* 0 = not known yet */
	uint32_t outside_addr[NAT_MAX_IFACES];
	bool hairpin;			/* default yes */
	bool fastpath;			/* default yes: tsunagid's tc program (daemon/nat_fast.c) */
	uint8_t fastpath_forward;	/* NAT_FWD_*: who forwards the flows it rewrites */
	size_t max_flows;		/* default 65536 */
	uint16_t queue;			/* NFQUEUE number (tsunagid --nat-queue overrides) */
	uint16_t queues;		/* queues queue.. queue+queues-1, a thread each when > 1 */
	bool firewall_manual;		/* firewall = manual: the operator queues packets */
	struct nat_timeouts timeouts;
	struct nat_inspect_conf inspect[NAT_MAX_ENGINES];
	struct nat_rule *rule;		/* sorted by kind (stable): the order they are tried */
	size_t n_rules;
};

/* Defaults: no interfaces, no rules, hairpin on, PIX timeouts. NULL if out of memory. */
struct nat_rules *nat_rules_new(void);
void nat_rules_free(struct nat_rules *r);

/* Adds an interface by name; -1 when there are too many or it is on both sides. */
int nat_rules_add_iface(struct nat_rules *r, bool outside, const char *name);
/* Looks up an outside interface by name: its index, or -1. */
int nat_rules_outside_index(const struct nat_rules *r, const char *name);

/* Checks one rule (err says why, without file:line, for the caller to prefix) and
 * appends a copy, keeping the kinds in checking order. */
int nat_rules_add(struct nat_rules *r, const struct nat_rule *rule, char *err, size_t errlen);

/* The shell tells the rules the current address of an interface (0 = none).
 * Returns -1 for a name that is neither inside nor outside. */
int nat_rules_set_iface_addr(struct nat_rules *r, const char *ifname, uint32_t addr);

/* Is addr one of the gateway's own interface addresses? */
bool nat_rules_is_local(const struct nat_rules *r, uint32_t addr);
bool nat_net_contains(const struct nat_net *nets, size_t n, uint32_t addr);
/* "10.0.0.0/8" or "10.0.0.1" (a /32): 0, or -1 (host bits set is an error too). */
int nat_net_parse(const char *s, struct nat_net *out);
const char *nat_rule_kind_name(enum nat_rule_kind k);

#endif
