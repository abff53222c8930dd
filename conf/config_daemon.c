/* tsunagi's own settings, a section of the same file (strongSwan keeps these in
 * strongswan.conf; the names follow charon's where there is one):
 *
 *   tsunagi {
 *       log {                   # levels -1..4 as charon's filelog: default, dmn, ike,
 *           default = 1         #   cfg, net, enc, esp, knl, nat, vici; "default" is
 *           ike = 2             #   every subsystem not named
 *       }
 *       esp {
 *           threads = 2         # data-plane workers; 0 = one per core (default)
 *           mtu = 1500          # path MTU: largest ESP packet sent, outer IP header
 *                               #   included (default 1500); larger tunnel packets get
 *                               #   ICMP frag needed (DF, IPv6) or are fragmented
 *           offload = yes       # UDP GSO/GRO on the NAT-T socket and TCP/UDP
 *                               #   segmentation offload on the TUN device, where the
 *                               #   kernel accepts them (default yes); no = off
 *           mss = auto          # TCP MSS clamp on tunnel traffic: auto (the SA's inner
 *                               #   MTU - 40, IPv6 - 60; default), off, or 536..9000
 *       }
 *       metrics {
 *           listen = 127.0.0.1:9903   # Prometheus endpoint (GET /metrics); off by
 *       }                             #   default; IPv6 as [::1]:9903
 *       tun = tsunagi0          # TUN device name (default tsunagi0)
 *       port = 500              # charon.port
 *       port_nat_t = 4500       # charon.port_nat_t
 *       keep_alive = 20s        # charon.keep_alive: NAT-T keepalive interval
 *       retransmit_timeout = 4.0  # charon.retransmit_timeout, seconds
 *       retransmit_base = 1.8     # charon.retransmit_base
 *       retransmit_tries = 5      # charon.retransmit_tries
 *       fragment_size = 1280      # charon.fragment_size: largest IKEv2 fragment (whole
 *                                 #   IP datagram); 0 = 576 for IPv4, 1280 for IPv6
 *       nat { ... }             # NAT/PAT rules: see conf/config_nat.c
 *   }
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/build.h"
#include "lib/log.h"
#include "nat/nat_rules.h"

void daemon_cfg_defaults(struct daemon_cfg *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < sizeof(d->log_level) / sizeof(d->log_level[0]); i++)
		d->log_level[i] = -2;
	d->esp_threads = 0;
	d->tun_name = strdup("tsunagi0");	/* freed by daemon_cfg_clear() */
	d->ike_port = 500;
	d->ike_port_natt = 4500;
	d->natt_keepalive = 20;
	d->retransmit_timeout_ms = 4000;
	d->retransmit_base = 1.8;
	d->retransmit_tries = 5;
	d->fragment_size = 1280;
}

static int get_level(struct bctx *b, const struct ctree *k, int *out)
{
	const char *s = bscalar(b, k);
	char *end;
	if (!s)
		return -1;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < -1 || v > 4)
		return berr(b, k, "invalid log level '%s' (-1..4)", s);
	*out = (int)v;
	return 0;
}

static int build_log(struct bctx *b, const struct ctree *sec, struct daemon_cfg *d)
{
	int def = -2;
	if (!ctree_is_section(sec))
		return berr(b, sec, "'log' must be a section");
	for (const struct ctree *k = sec->child; k; k = k->next) {
		int level, sub;
		if (ctree_is_section(k))
			return berr_unknown(b, k);
		if (strcmp(k->name, "default") == 0) {
			if (get_level(b, k, &def) < 0)
				return -1;
			continue;
		}
		if ((sub = log_subsys_parse(k->name)) < 0)
			return berr(b, k, "unknown log subsystem '%s'", k->name);
		if (get_level(b, k, &level) < 0)
			return -1;
		d->log_level[sub] = level;
	}
	for (int i = 0; i < LOG_SUBSYS_COUNT; i++)
		if (d->log_level[i] == -2)
			d->log_level[i] = def;
	return 0;
}

static int build_esp(struct bctx *b, const struct ctree *sec, struct daemon_cfg *d)
{
	if (!ctree_is_section(sec))
		return berr(b, sec, "'esp' must be a section");
	for (const struct ctree *k = sec->child; k; k = k->next) {
		uint32_t v;
		if (ctree_is_section(k))
			return berr_unknown(b, k);
		if (strcmp(k->name, "mss") == 0) {
			const char *s = bscalar(b, k);
			if (s && strcmp(s, "auto") == 0) {
				d->esp_mss = 0;
				continue;
			}
			if (s && strcmp(s, "off") == 0) {
				d->esp_mss = -1;
				continue;
			}
			if (bget_u32(b, k, &v) < 0)
				return -1;
			if (v < 536 || v > 9000)
				return berr_value(b, k, bscalar(b, k));
			d->esp_mss = (int)v;
			continue;
		}
		if (strcmp(k->name, "offload") == 0) {
			bool on;
			if (bget_bool(b, k, &on) < 0)
				return -1;
			d->esp_no_offload = !on;
			continue;
		}
		if (strcmp(k->name, "threads") != 0 && strcmp(k->name, "mtu") != 0)
			return berr_unknown(b, k);
		if (bget_u32(b, k, &v) < 0)
			return -1;
		if (strcmp(k->name, "mtu") == 0) {
			if (v < 576 || v > 9000)
				return berr_value(b, k, bscalar(b, k));
			d->esp_mtu = v;
		} else if (v > 256) {
			return berr_value(b, k, bscalar(b, k));
		} else {
			d->esp_threads = v;
		}
	}
	return 0;
}

/* "192.0.2.1:9903" or "[2001:db8::1]:9903": an address and a port, both required
 * (an IPv6 address needs its brackets, or its last group would read as the port). */
static int parse_listen(const char *s, struct addr *out)
{
	char host[64];
	const char *colon;
	uint64_t port;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		colon = close + 1;
		if ((size_t)(close - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
	} else {
		colon = strchr(s, ':');
		if (!colon || strchr(colon + 1, ':') || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	if (addr_parse(host, out) < 0 || (*s == '[') != (out->family == AF_INET6))
		return -1;
	if (conf_parse_u64(colon + 1, &port) < 0 || port == 0 || port > 65535)
		return -1;
	out->port = (uint16_t)port;
	return 0;
}

static int build_metrics(struct bctx *b, const struct ctree *sec, struct daemon_cfg *d)
{
	if (!ctree_is_section(sec))
		return berr(b, sec, "'metrics' must be a section");
	for (const struct ctree *k = sec->child; k; k = k->next) {
		if (ctree_is_section(k) || strcmp(k->name, "listen") != 0)
			return berr_unknown(b, k);
		const char *s = bscalar(b, k);
		if (!s)
			return -1;
		if (parse_listen(s, &d->metrics_listen) < 0)
			return berr(b, k, "invalid metrics listen address '%s' (want ADDRESS:PORT, "
				    "e.g. 127.0.0.1:9903 or [::1]:9903)", s);
	}
	return 0;
}

static int get_double(struct bctx *b, const struct ctree *k, double min, double *out)
{
	const char *s = bscalar(b, k);
	char *end;
	if (!s)
		return -1;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v) || v < min || v > 1e6)
		return berr_value(b, k, s);
	*out = v;
	return 0;
}

static int get_tun(struct bctx *b, const struct ctree *k, struct daemon_cfg *d)
{
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	if (!*s || strlen(s) >= 16 || strpbrk(s, "/ \t"))	/* IFNAMSIZ */
		return berr_value(b, k, s);
	free(d->tun_name);
	d->tun_name = strdup(s);
	return d->tun_name ? 0 : berr(b, k, "out of memory");
}

/* 0 (the family's minimum) or a size that leaves room for data in every fragment. */
static int get_fragment_size(struct bctx *b, const struct ctree *k, uint32_t *out)
{
	uint32_t v;
	if (bget_u32(b, k, &v) < 0)
		return -1;
	if (v != 0 && (v < 256 || v > 65535))
		return berr(b, k, "'fragment_size' must be 0 or 256..65535");
	*out = v;
	return 0;
}

static int daemon_key(struct bctx *b, const struct ctree *k, struct daemon_cfg *d)
{
	double secs;
	if (strcmp(k->name, "log") == 0)
		return build_log(b, k, d);
	if (strcmp(k->name, "esp") == 0)
		return build_esp(b, k, d);
	if (strcmp(k->name, "metrics") == 0)
		return build_metrics(b, k, d);
	if (strcmp(k->name, "nat") == 0)
		return build_nat(b, k, d);
	if (ctree_is_section(k))
		return berr_unknown(b, k);
	if (strcmp(k->name, "tun") == 0)
		return get_tun(b, k, d);
	if (strcmp(k->name, "port") == 0)
		return bget_port(b, k, &d->ike_port);
	if (strcmp(k->name, "port_nat_t") == 0)
		return bget_port(b, k, &d->ike_port_natt);
	if (strcmp(k->name, "keep_alive") == 0)
		return bget_time32(b, k, &d->natt_keepalive);
	if (strcmp(k->name, "retransmit_timeout") == 0) {
		if (get_double(b, k, 0.001, &secs) < 0)
			return -1;
		d->retransmit_timeout_ms = (uint32_t)(secs * 1000 + 0.5);
		return 0;
	}
	if (strcmp(k->name, "retransmit_base") == 0)
		return get_double(b, k, 1.0, &d->retransmit_base);
	if (strcmp(k->name, "retransmit_tries") == 0)
		return bget_u32(b, k, &d->retransmit_tries);
	if (strcmp(k->name, "fragment_size") == 0)
		return get_fragment_size(b, k, &d->fragment_size);
	return berr_unknown(b, k);
}

void daemon_cfg_clear(struct daemon_cfg *d)
{
	free(d->tun_name);
	d->tun_name = NULL;
	nat_rules_free(d->nat);
	d->nat = NULL;
}

int build_daemon(struct bctx *b, const struct ctree *sec, struct daemon_cfg *d)
{
	if (!ctree_is_section(sec))
		return berr(b, sec, "'tsunagi' must be a section");
	snprintf(b->what, sizeof(b->what), "tsunagi");
	for (const struct ctree *k = sec->child; k; k = k->next)
		if (daemon_key(b, k, d) < 0)
			return -1;
	b->what[0] = '\0';
	return 0;
}
