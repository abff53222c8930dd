/* The engine's I/O shell: the TUN device, the raw ESP and NAT-T sockets, routes,
 * and the data-plane threads. One thread per TUN queue reads clear packets and
 * sends ESP (TUN -> net); one thread receives ESP and IKE-on-4500 and writes to the
 * TUN device (net -> TUN). Each reads a batch, takes the database read lock once,
 * processes the batch, and sends it with one sendmmsg per socket. */
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "esp/engine_priv.h"
#include "esp/gro.h"
#include "esp/gso.h"
#include "lib/log.h"

#define SLOT_PAYLOAD (65535)

/* --- sockets ------------------------------------------------------------------------ */

static void sock_tune(int fd, uint32_t mark)
{
	int v = IP_PMTUDISC_DONT;	/* let the kernel fragment outer packets */
	setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		log_err(LOG_ESP, "cannot set SO_MARK: %s", strerror(errno));
	int sz = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* UDP GSO (sending many equal-size ESP packets in one call) and GRO (receiving
 * them coalesced, split in io_input_udp) where the kernel has them. A segment size of 0
 * sets no default: it only asks whether UDP_SEGMENT is known. */
static void udp_offload(struct esp_engine *e)
{
	int zero = 0, one = 1;
	bool gso = false, gro = false;
	if (!e->cfg.no_offload) {
		gso = setsockopt(e->udp_fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0;
		gro = setsockopt(e->udp_fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	}
	atomic_store(&e->udp_gso, gso);
	log_ctl(LOG_ESP, "NAT-T socket: UDP GSO %s, GRO %s", gso ? "on" : "off",
		gro ? "on" : "off");
}

static int open_sockets(struct esp_engine *e)
{
	uint32_t mark = io_fwmark(e);
	struct addr bind_addr = e->cfg.bind_addr;
	if (!bind_addr.family)
		bind_addr.family = AF_INET;
	struct sockaddr_storage ss;
	socklen_t sl;

	e->raw_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
	if (e->raw_fd < 0) {
		log_err(LOG_ESP, "cannot open raw ESP socket: %s", strerror(errno));
		return -1;
	}
	sock_tune(e->raw_fd, mark);
	bind_addr.port = 0;
	sl = addr_to_sockaddr(&bind_addr, &ss);
	if (e->cfg.bind_addr.family && bind(e->raw_fd, (struct sockaddr *)&ss, sl) < 0) {
		log_err(LOG_ESP, "cannot bind raw ESP socket: %s", strerror(errno));
		return -1;
	}

	e->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (e->udp_fd < 0)
		return -1;
	int one = 1;
	setsockopt(e->udp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(e->udp_fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	sock_tune(e->udp_fd, mark);
	bind_addr.port = e->cfg.natt_port;
	sl = addr_to_sockaddr(&bind_addr, &ss);
	if (bind(e->udp_fd, (struct sockaddr *)&ss, sl) < 0) {
		log_err(LOG_ESP, "cannot bind UDP port %u: %s", e->cfg.natt_port, strerror(errno));
		return -1;
	}
	udp_offload(e);
	return 0;
}

/* With the vnet header, a zero one in front: a whole packet, checksums complete. */
void io_tun_write(struct esp_engine *e, int fd, const uint8_t *pkt, size_t len)
{
	static const uint8_t none[GSO_VNET_HDR_LEN];
	ssize_t r;
	if (e->tun.vnet) {
		struct iovec iov[2] = { { (void *)none, sizeof(none) }, { (void *)pkt, len } };
		r = writev(fd, iov, 2);
	} else {
		r = write(fd, pkt, len);
	}
	if (r < 0)
		STAT_INC(e, tun_errors);
}

/* Runs of TCP segments (and of UDP datagrams, where the device takes USO) go out as
 * one super-packet where the device takes vnet headers; anything else one by one. */
void io_tun_flush(struct esp_ctx *c)
{
	struct esp_engine *e = c->e;
	int fd = c->tun_fd >= 0 ? c->tun_fd : e->tun.fd[0];
	for (unsigned i = 0; i < c->tq_n;) {
		if (!e->tun.vnet) {
			io_tun_write(e, fd, c->tq_pkt[i], c->tq_len[i]);
			i++;
			continue;
		}
		struct gro_run r;
		gro_run(c->tq_pkt + i, c->tq_len + i, c->tq_n - i, e->tun.offload & TUN_F_USO4, &r);
		struct iovec iov[GRO_MAX_SEGS + 1];
		iov[0].iov_base = r.vnet;
		iov[0].iov_len = sizeof(r.vnet);
		iov[1].iov_base = c->tq_pkt[i];
		iov[1].iov_len = c->tq_len[i];
		for (unsigned k = 1; k < r.count; k++) {
			iov[1 + k].iov_base = c->tq_pkt[i + k] + r.hlen;
			iov[1 + k].iov_len = c->tq_len[i + k] - r.hlen;
		}
		if (writev(fd, iov, (int)r.count + 1) < 0)
			STAT_INC(e, tun_errors);
		i += r.count;
	}
	c->tq_n = 0;
}

/* --- threads -------------------------------------------------------------------------- */

static uint8_t *slot_at(struct esp_ctx *c, unsigned i)
{
	return c->bufs + (size_t)i * c->slot + ESP_HEADROOM;
}

/* Where the next packet goes in the batch area: packets lie one after the other,
 * each with ESP_HEADROOM before and ESP_TAILROOM after it (ESP_BATCH of the largest
 * fill it exactly). */
static size_t pkt_step(size_t len)
{
	return (ESP_HEADROOM + len + ESP_TAILROOM + 63) & ~(size_t)63;
}

static void tx_run(struct esp_ctx *c, struct tx_batch *t)
{
	struct esp_engine *e = c->e;
	if (t->n) {
		pthread_rwlock_rdlock(&e->db_lock);
		for (unsigned i = 0; i < t->n; i++)
			path_output(c, t->pkt[i], t->len[i]);
		pthread_rwlock_unlock(&e->db_lock);
		path_flush(c);
	}
	t->n = 0;
	t->used = 0;
}

static uint8_t *tx_next(struct esp_ctx *c, struct tx_batch *t)
{
	/* Room for the largest packet a read may return, and for its pointer. */
	if (t->n == ESP_TX_PKTS || t->used + pkt_step(SLOT_PAYLOAD) > ESP_BATCH * c->slot)
		tx_run(c, t);
	return c->bufs + t->used + ESP_HEADROOM;
}

static void tx_add(struct tx_batch *t, uint8_t *p, size_t len)
{
	t->pkt[t->n] = p;
	t->len[t->n++] = len;
	t->used += pkt_step(len);
}

/* One read from the TUN device into the batch: a packet, or with the vnet header a
 * super-packet split into its segments (the batch runs whenever it is full). Returns
 * false when nothing was left to read. */
bool io_tun_read(struct esp_ctx *c, struct tx_batch *t)
{
	struct esp_engine *e = c->e;
	if (!e->tun.vnet) {
		uint8_t *p = tx_next(c, t);
		ssize_t r = read(c->tun_fd, p, SLOT_PAYLOAD);
		if (r <= 0)
			return false;
		tx_add(t, p, (size_t)r);
		return true;
	}
	ssize_t r = read(c->tun_fd, c->super, GSO_VNET_HDR_LEN + SLOT_PAYLOAD);
	if (r <= 0)
		return false;
	struct gso_pkt g;
	if (gso_init(&g, c->super, (size_t)r) < 0) {
		STAT_INC(e, bad_super);
		return true;
	}
	for (;;) {
		uint8_t *p = tx_next(c, t);
		size_t len = gso_next(&g, p, SLOT_PAYLOAD);
		if (!len)
			return true;
		tx_add(t, p, len);
	}
}

static void *tun_to_net(void *arg)
{
	struct esp_ctx *c = arg;
	struct esp_engine *e = c->e;
	struct pollfd pf[2] = { { .fd = c->tun_fd, .events = POLLIN },
				{ .fd = e->stop_fd, .events = POLLIN } };
	struct tx_batch t = { 0 };
	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		for (unsigned reads = 0; reads < ESP_BATCH; reads++)
			if (!io_tun_read(c, &t))
				break;
		tx_run(c, &t);
	}
	return NULL;
}

static int rx(struct esp_ctx *c, int fd, struct mmsg_batch *b)
{
	for (unsigned i = 0; i < ESP_BATCH; i++) {
		b->iov[i].iov_base = slot_at(c, i);
		b->iov[i].iov_len = SLOT_PAYLOAD;
		struct msghdr *m = &b->msg[i].msg_hdr;
		memset(m, 0, sizeof(*m));
		m->msg_iov = &b->iov[i];
		m->msg_iovlen = 1;
		m->msg_name = &b->name[i];
		m->msg_namelen = sizeof(b->name[i]);
		m->msg_control = b->ctl[i].buf;
		m->msg_controllen = sizeof(b->ctl[i].buf);
	}
	return recvmmsg(fd, b->msg, ESP_BATCH, MSG_DONTWAIT, NULL);
}

/* Raw sockets hand over the IP header: take the addresses from it and skip it. */
static void input_raw(struct esp_ctx *c, uint8_t *p, size_t len)
{
	if (len < 20 || (p[0] >> 4) != 4) {
		STAT_INC(c->e, bad_packet);
		return;
	}
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > len) {
		STAT_INC(c->e, bad_packet);
		return;
	}
	struct addr src = { .family = AF_INET }, dst = { .family = AF_INET };
	memcpy(src.u.b, p + 12, 4);
	memcpy(dst.u.b, p + 16, 4);
	path_input(c, &src, &dst, false, p + ihl, len - ihl);
}

/* With UDP GRO, one buffer holds several datagrams of gso_size bytes each (the last
 * may be shorter); each is handled on its own. A transport-mode packet's rebuilt IPv4
 * header (20 bytes where the ESP header and IV were, at least 16) may overwrite at
 * most 4 bytes of the datagram before: its ICV, never its decrypted packet, which
 * may still wait to be written. */
void io_input_udp(struct esp_ctx *c, struct msghdr *m, uint8_t *p, size_t len)
{
	struct esp_engine *e = c->e;
	struct addr src, dst = e->cfg.bind_addr;
	if (m->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		STAT_INC(e, bad_packet);
		return;
	}
	addr_from_sockaddr(&src, (struct sockaddr *)m->msg_name);
	size_t seg = len;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			dst.family = AF_INET;
			dst.u.v4 = pi.ipi_addr;
		} else if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
			   cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int g;
			memcpy(&g, CMSG_DATA(cm), sizeof(g));
			if (g > 0 && (size_t)g < seg)
				seg = (size_t)g;
		}
	}
	dst.port = e->cfg.natt_port;
	for (size_t off = 0; off < len; off += seg)
		path_input(c, &src, &dst, true, p + off, len - off < seg ? len - off : seg);
}

static void *net_to_tun(void *arg)
{
	struct esp_ctx *c = arg;
	struct esp_engine *e = c->e;
	struct mmsg_batch *b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	c->tun_defer = true;
	struct pollfd pf[3] = { { .fd = e->raw_fd, .events = POLLIN },
				{ .fd = e->udp_fd, .events = POLLIN },
				{ .fd = e->stop_fd, .events = POLLIN } };
	for (;;) {
		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (pf[2].revents)
			break;
		for (int s = 0; s < 2; s++) {
			if (!pf[s].revents)
				continue;
			int n = rx(c, pf[s].fd, b);
			if (n <= 0)
				continue;
			pthread_rwlock_rdlock(&e->db_lock);
			for (int i = 0; i < n; i++) {
				uint8_t *p = slot_at(c, (unsigned)i);
				size_t len = b->msg[i].msg_len;
				if (s == 0)
					input_raw(c, p, len);
				else
					io_input_udp(c, &b->msg[i].msg_hdr, p, len);
			}
			pthread_rwlock_unlock(&e->db_lock);
			io_tun_flush(c);
		}
	}
	free(b);
	return NULL;
}

/* name: shown by top -H and perf, so profiles tell the directions apart. */
static int start_thread(struct esp_engine *e, void *(*fn)(void *), int tun_fd, const char *name)
{
	struct esp_ctx *c = malloc(sizeof(*c));
	if (!c || ctx_init(c, e, true) < 0) {
		free(c);
		return -1;
	}
	c->tun_fd = tun_fd;
	if (pthread_create(&e->threads[e->nthreads], NULL, fn, c) != 0) {
		ctx_free(c);
		free(c);
		return -1;
	}
	pthread_setname_np(e->threads[e->nthreads], name);
	e->wctx[e->nthreads++] = c;
	return 0;
}

int io_start(struct esp_engine *e)
{
	int queues = (int)e->cfg.threads - 1;
	if (tun_open(&e->tun, e->cfg.tun_name, ESP_ENGINE_TUN_MTU, queues, !e->cfg.no_offload) < 0)
		return -1;
	/* One a crashed predecessor left behind would cost every lookup until the
	 * first tunnel; it comes back with the first route (rule_get). */
	if (io_rules_used(e))
		tun_rule_del(AF_INET, e->cfg.route_table, e->cfg.fwmark, ESP_ENGINE_RULE_PRIO);
	if (open_sockets(e) < 0)
		return -1;
	e->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->stop_fd < 0)
		return -1;
	if (start_thread(e, net_to_tun, e->tun.fd[0], "esp-decrypt") < 0)
		return -1;
	for (int q = 0; q < e->tun.nqueues; q++) {
		char name[16];
		snprintf(name, sizeof(name), "esp-encrypt%d", q);
		if (start_thread(e, tun_to_net, e->tun.fd[q], name) < 0)
			return -1;
	}
	log_info(LOG_ESP, "ESP engine on %s: %u data-plane threads, NAT-T port %u", e->tun.name,
		 e->nthreads, e->cfg.natt_port);
	return 0;
}

void io_stop(struct esp_engine *e)
{
	if (e->stop_fd >= 0) {
		uint64_t one = 1;
		if (write(e->stop_fd, &one, sizeof(one)) < 0)
			log_err(LOG_ESP, "cannot stop the data-plane threads: %s", strerror(errno));
	}
	for (unsigned i = 0; i < e->nthreads; i++) {
		pthread_join(e->threads[i], NULL);
		ctx_free(e->wctx[i]);
		free(e->wctx[i]);
		e->wctx[i] = NULL;
	}
	e->nthreads = 0;
}

/* --- the policy-routing rule ------------------------------------------------------ */

/* "not fwmark MARK lookup TABLE" sends everything but our own packets through the
 * engine's table. Its mere presence makes the kernel walk the rule list for every
 * forwarded packet and route lookup (about 1.5% of a NAT-only gateway's CPU), so it
 * is in place only while the table holds a route. Whether the engine uses it at all
 * is fixed by the configuration, and so are the marks on the engine's and tsunagid's
 * sockets: a socket opened while no tunnel is up must bypass the table once one is. */
bool io_rules_used(const struct esp_engine *e)
{
	return !e->cfg.no_routes && e->cfg.route_table != 254;
}

uint32_t io_fwmark(const struct esp_engine *e)
{
	return io_rules_used(e) ? e->cfg.fwmark : 0;
}

/* The rule is IPv4's (tun_rule_add(AF_INET)): IPv6 routes in the table neither need
 * nor keep it. */
static bool has_table_route(const struct esp_engine *e)
{
	for (const struct route_ref *r = e->routes; r; r = r->next)
		if (!r->port_rule && r->rule.dst.family == AF_INET)
			return true;
	return false;
}

/* Before a route goes into the table, so that the route takes effect the moment it
 * exists: a route without the rule would leave its traffic to the main table, in the
 * clear, while its policy is up. A failure is logged once; the route is added all
 * the same (as the rule may be there already) and the next route add tries again. */
static void rule_get(struct esp_engine *e)
{
	if (e->rule_installed || !io_rules_used(e))
		return;
	int err = tun_rule_add(AF_INET, e->cfg.route_table, e->cfg.fwmark, ESP_ENGINE_RULE_PRIO);
	if (err < 0) {
		if (!e->rule_failed)
			log_err(LOG_ESP, "cannot add the routing rule for table %u: %s",
				e->cfg.route_table, strerror(-err));
		e->rule_failed = true;
		return;
	}
	e->rule_installed = true;
	e->rule_failed = false;
}

/* After the last route has left the table. Route first, then rule: with either one
 * gone, packets to the route's destination already take the main table, so the
 * order leaks nothing the other would not; this one keeps "a route in the table
 * implies the rule" true throughout. Traffic to that destination then leaves by the
 * main table in the clear, as before the tunnel came up: its policy is gone (the
 * route is removed only after the policy, policy_unlink), so nothing demands ESP. */
static void rule_put(struct esp_engine *e)
{
	if (!e->rule_installed)
		return;
	int err = tun_rule_del(AF_INET, e->cfg.route_table, e->cfg.fwmark, ESP_ENGINE_RULE_PRIO);
	if (err < 0)
		log_err(LOG_ESP, "cannot remove the routing rule for table %u: %s",
			e->cfg.route_table, strerror(-err));
	e->rule_installed = false;
}

/* The table of the port rules (io_port_rule_add): everything to the TUN device. */
static uint32_t port_table(const struct esp_engine *e)
{
	return e->cfg.route_table + 1;
}

void io_close(struct esp_engine *e)
{
	while (e->routes) {
		struct route_ref *r = e->routes;
		e->routes = r->next;
		if (r->port_rule)
			tun_port_rule(false, &r->rule, port_table(e), e->cfg.fwmark,
				      ESP_ENGINE_RULE_PRIO - 1);
		else
			tun_route_del(&e->tun, e->cfg.route_table, &r->rule.dst, r->rule.plen);
		free(r);
	}
	if (e->port_table) {
		static const struct addr any = { .family = AF_INET };
		tun_route_del(&e->tun, port_table(e), &any, 0);
		e->port_table = false;
	}
	rule_put(e);
	int *fds[] = { &e->raw_fd, &e->udp_fd, &e->stop_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	tun_close(&e->tun);
}

/* --- routes ----------------------------------------------------------------------------- */

/* The route for a selector: its prefix, or the smallest prefix covering a range. */
static void route_of(const struct selector *sel, struct addr *dst, int *plen)
{
	memset(dst, 0, sizeof(*dst));
	dst->family = sel->family;
	size_t n = sel->family == AF_INET ? 4 : 16;
	int bits = (int)selector_common_prefix(sel);
	for (size_t i = 0; i < n; i++) {
		int b = bits - (int)i * 8;
		uint8_t mask = b >= 8 ? 0xff : b <= 0 ? 0 : (uint8_t)(0xff << (8 - b));
		dst->u.b[i] = sel->lo[i] & mask;
	}
	*plen = bits;
}

static struct route_ref **route_find(struct esp_engine *e, const struct addr *dst, int plen)
{
	struct route_ref **pp = &e->routes;
	for (; *pp; pp = &(*pp)->next)
		if (!(*pp)->port_rule && (*pp)->rule.plen == plen &&
		    addr_equal_ip(&(*pp)->rule.dst, dst))
			break;
	return pp;
}

void io_route_add(struct esp_engine *e, const struct selector *sel)
{
	if (e->cfg.no_routes)
		return;
	struct addr dst;
	int plen;
	route_of(sel, &dst, &plen);
	struct route_ref **pp = route_find(e, &dst, plen);
	if (*pp) {
		(*pp)->refs++;
		if (dst.family == AF_INET)
			rule_get(e);	/* when it failed before: again */
		return;
	}
	struct route_ref *r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->rule.dst = dst;
	r->rule.plen = plen;
	r->refs = 1;
	*pp = r;
	if (dst.family == AF_INET)
		rule_get(e);
	char a[ADDR_STRLEN];
	int err = tun_route_add(&e->tun, e->cfg.route_table, &dst, plen);
	if (err < 0)
		log_err(LOG_ESP, "cannot route %s/%d through %s: %s", addr_ntop(&dst, a, sizeof(a)),
			plen, e->tun.name, strerror(-err));
	else
		log_ctl(LOG_ESP, "route %s/%d via %s (table %u)", addr_ntop(&dst, a, sizeof(a)),
			plen, e->tun.name, e->cfg.route_table);
}

static void port_rule_of(const struct pfkey_policy *p, struct tun_port_rule *pr)
{
	memset(pr, 0, sizeof(*pr));
	route_of(&p->dst, &pr->dst, &pr->plen);
	pr->proto = p->dst.proto;
	pr->sport_lo = p->src.port_lo;
	pr->sport_hi = p->src.port_hi;
	pr->dport_lo = p->dst.port_lo;
	pr->dport_hi = p->dst.port_hi;
}

static struct route_ref **port_rule_find(struct esp_engine *e, const struct tun_port_rule *pr)
{
	struct route_ref **pp = &e->routes;
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->port_rule && memcmp(&(*pp)->rule, pr, sizeof(*pr)) == 0)
			break;
	return pp;
}

int io_port_rule_add(struct esp_engine *e, const struct pfkey_policy *p)
{
	if (!io_rules_used(e) || p->mode != IPSEC_MODE_TRANSPORT ||
	    !p->dst.proto || p->dst.family != AF_INET)
		return -1;
	struct tun_port_rule pr;
	port_rule_of(p, &pr);
	struct route_ref **pp = port_rule_find(e, &pr);
	if (*pp) {
		(*pp)->refs++;
		return 0;
	}
	static const struct addr any = { .family = AF_INET };
	if (!e->port_table) {
		int err = tun_route_add(&e->tun, port_table(e), &any, 0);
		if (err < 0) {
			log_err(LOG_ESP, "cannot add the route of table %u: %s", port_table(e),
				strerror(-err));
			return -1;
		}
		e->port_table = true;
	}
	int err = tun_port_rule(true, &pr, port_table(e), e->cfg.fwmark, ESP_ENGINE_RULE_PRIO - 1);
	char a[ADDR_STRLEN];
	if (err < 0) {
		log_err(LOG_ESP, "cannot add the rule for %s/%d protocol %u: %s",
			addr_ntop(&pr.dst, a, sizeof(a)), pr.plen, pr.proto, strerror(-err));
		return -1;
	}
	struct route_ref *r = calloc(1, sizeof(*r));
	if (!r) {
		tun_port_rule(false, &pr, port_table(e), e->cfg.fwmark, ESP_ENGINE_RULE_PRIO - 1);
		return -1;
	}
	r->port_rule = true;
	r->rule = pr;
	r->refs = 1;
	*pp = r;
	log_ctl(LOG_ESP, "rule: %s/%d protocol %u ports %u-%u to %u-%u via %s (table %u)",
		addr_ntop(&pr.dst, a, sizeof(a)), pr.plen, pr.proto, pr.sport_lo, pr.sport_hi,
		pr.dport_lo, pr.dport_hi, e->tun.name, port_table(e));
	return 0;
}

void io_port_rule_del(struct esp_engine *e, const struct pfkey_policy *p)
{
	struct tun_port_rule pr;
	port_rule_of(p, &pr);
	struct route_ref **pp = port_rule_find(e, &pr);
	struct route_ref *r = *pp;
	if (!r || --r->refs)
		return;
	*pp = r->next;
	free(r);
	tun_port_rule(false, &pr, port_table(e), e->cfg.fwmark, ESP_ENGINE_RULE_PRIO - 1);
}

void io_route_del(struct esp_engine *e, const struct selector *sel)
{
	if (e->cfg.no_routes)
		return;
	struct addr dst;
	int plen;
	route_of(sel, &dst, &plen);
	struct route_ref **pp = route_find(e, &dst, plen);
	struct route_ref *r = *pp;
	if (!r || --r->refs)
		return;
	*pp = r->next;
	free(r);
	tun_route_del(&e->tun, e->cfg.route_table, &dst, plen);
	if (!has_table_route(e))
		rule_put(e);
}
