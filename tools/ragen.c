/* ragen: a remote-access load generator built on tsunagi's own IKE core.
 *
 * It brings up N IKEv2 clients against one gateway, each from its own source address
 * and port (addresses that are already on an interface of this namespace, several
 * ports each), each with its own IKE SA and CHILD_SA, with at most --window of them
 * negotiating at once and at most --rate started per second. It reports how many came
 * up, how many failed and why, the setup rate and the time until all were up.
 *
 * Each client is an IKE core of its own with one connection, driven as the daemon
 * drives it (ike_input, ike_tick, ike_initiate) over libevent and two UDP sockets: its
 * IKE port P and its NAT-T port P + --natt-offset (strongSwan's kernel-libipsec fakes a
 * NAT to force UDP encapsulation, and the core then floats, as after a real NAT). A core
 * per client keeps their NAT-T ports apart. Nothing is installed in a kernel: PF_KEY
 * goes to a sink that hands out SPIs and accepts the SAs (env_pfkey below).
 * Everything is bounded: --timeout for the whole run, --client-timeout per client,
 * --hold after the last client is done. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conf/config.h"
#include "conf/parser.h"
#include "ike/ike.h"
#include "ike/ike_sa.h"
#include "lib/log.h"
#include "pfkey/pfkey.h"
#include "tools/ragen_esp.h"

#define RAGEN_MAX_CLIENTS 65536
#define RAGEN_REASONS 16

enum cl_state { CL_IDLE, CL_STARTED, CL_UP, CL_FAILED };

struct client {
	struct ike *core;
	int fd, fd_natt;
	struct addr local, local_natt;
	struct event *ev, *ev_natt;
	enum cl_state state;
	bool ike_up;
	struct addr vip;	/* assigned by the gateway (--vip); family 0 until then */
	bool sampled, ping_ok;	/* --ping: one of the sample, and its echo came back */
	struct ragen_esp esp;	/* a sampled client's SAs */
	ms_t started_at, up_at;
	char reason[120];	/* the last error line about it */
};

struct opts {
	struct addr server;
	struct addr first_src;
	unsigned n, n_src, port_base, natt_offset, server_natt, window, rate;
	unsigned timeout_s, client_timeout_s, hold_s;
	const char *psk, *proposals, *esp_proposals, *remote_ts;
	int verbose;
	bool vip;		/* request a virtual IP (configuration payload) */
	bool encap;		/* encap = yes: ESP in UDP even without a NAT */
	unsigned ping;		/* clients whose tunnel carries an ICMP echo (--vip) */
	struct addr ping_dst;
	bool ping_on_usr1;	/* the pings wait for SIGUSR1 after the report */
};

struct reason_count {
	char text[120];
	unsigned n;
};

static struct {
	struct opts o;
	struct event_base *base;
	struct event *tick_ev, *ping_ev, *sig_ev[3];
	unsigned ping_round, n_sampled, n_ping_ok;
	bool finished;
	struct client *cl;
	unsigned next_start, in_flight, n_up, n_failed;
	ms_t t0, all_done_at, end_at, last_up_at;
	bool done, reported;
	bool usr1;			/* --ping-on-usr1: SIGUSR1 came */
	struct client *current;		/* the client whose core is running (for its log) */
	uint32_t next_spi;
	struct reason_count reasons[RAGEN_REASONS];
} g;

static void usage(void)
{
	fprintf(stderr,
		"usage: ragen --server ADDR --src FIRST_ADDR [--src-count K] [--port-base P]\n"
		"             [--natt-offset O] [--server-natt-port 4500]\n"
		"             [-n N] [--window W] [--rate R] [--psk SECRET]\n"
		"             [--proposals P] [--esp-proposals P] [--remote-ts CIDR]\n"
		"             [--timeout S] [--client-timeout S] [--hold S] [--vip] [--encap]\n"
		"             [--ping K --ping-dst ADDR [--ping-on-usr1]] [-v]\n"
		"Client i uses source address FIRST_ADDR + (i %% K), port P + (i / K) and\n"
		"NAT-T port that + O; the K addresses must be on an interface.\n"
		"Defaults: -n 100, K 1, P 10000, O 10000,\n"
		"window 64, rate 0 (no limit), psk 'ragen-psk',\n"
		"proposals aes128gcm16-prfsha256-x25519, esp aes128gcm16, remote-ts 0.0.0.0/0,\n"
		"timeout 300, client-timeout 30, hold 0 (SIGTERM or SIGINT ends a hold).\n"
		"--vip: each client asks for a virtual IP (vips = 0.0.0.0) and is up only with\n"
		"one; the report counts the distinct addresses handed out.\n"
		"--encap: ESP in UDP (encap = yes). --ping K (with --vip --encap): once all are\n"
		"done, K clients spread over the N send an ICMP echo from their virtual IP to\n"
		"ADDR through their CHILD_SA (tsunagi's ESP transform) and count the replies.\n"
		"--ping-on-usr1: the pings start when SIGUSR1 comes after the report (so a\n"
		"benchmark can measure the gateway with all SAs up before any traffic).\n");
	exit(2);
}

/* --- results ---------------------------------------------------------------------- */

static unsigned client_index(const struct client *c)
{
	return (unsigned)(c - g.cl);
}

/* The reason without what differs per client: each '...' (an identity) becomes '*'. */
static void reason_key(const char *why, char *out, size_t len)
{
	size_t o = 0;
	bool quoted = false;
	for (const char *p = why; *p && o + 1 < len; p++) {
		if (*p == '\'') {
			quoted = !quoted;
			out[o++] = '\'';
			if (quoted && o + 1 < len)
				out[o++] = '*';
		} else if (!quoted) {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

static void note_reason(const char *why)
{
	for (int i = 0; i < RAGEN_REASONS; i++) {
		struct reason_count *r = &g.reasons[i];
		if (r->n && strcmp(r->text, why) == 0) {
			r->n++;
			return;
		}
		if (!r->n) {
			snprintf(r->text, sizeof(r->text), "%s", why);
			r->n = 1;
			return;
		}
	}
	g.reasons[RAGEN_REASONS - 1].n++;	/* the last slot takes the rest */
}

static void client_failed(struct client *c, const char *why)
{
	if (c->state != CL_STARTED)
		return;
	c->state = CL_FAILED;
	g.in_flight--;
	g.n_failed++;
	note_reason(c->reason[0] ? c->reason : why);
	if (g.o.verbose)
		fprintf(stderr, "ragen: client %u failed: %s\n", client_index(c),
			c->reason[0] ? c->reason : why);
}

static int cmp_ms(const void *a, const void *b)
{
	ms_t x = *(const ms_t *)a, y = *(const ms_t *)b;
	return x < y ? -1 : x > y;
}

/* Setup latency (start to CHILD_SA up) at percentile p of the clients that came up. */
static double latency_ms(const ms_t *sorted, unsigned n, double p)
{
	if (!n)
		return 0;
	unsigned i = (unsigned)(p * (n - 1) + 0.5);
	return (double)sorted[i];
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* How many different virtual IPs the clients that came up hold (each its own). */
static unsigned distinct_vips(void)
{
	uint32_t *v = calloc(g.o.n, sizeof(*v));
	unsigned k = 0, d = 0;
	if (!v)
		return 0;
	for (unsigned i = 0; i < g.o.n; i++)
		if (g.cl[i].state == CL_UP && g.cl[i].vip.family == AF_INET)
			v[k++] = ntohl(g.cl[i].vip.u.v4.s_addr);
	qsort(v, k, sizeof(*v), cmp_u32);
	for (unsigned i = 0; i < k; i++)
		d += i == 0 || v[i] != v[i - 1];
	free(v);
	return d;
}

static void report(void)
{
	/* Until the last client came up, or until the run ended when some failed. */
	ms_t end = g.all_done_at ? g.all_done_at : clock_now_ms();
	if (g.n_up == g.o.n)
		end = g.last_up_at;
	double secs = (double)(end - g.t0) / 1000.0;
	ms_t *lat = calloc(g.n_up ? g.n_up : 1, sizeof(*lat));
	unsigned k = 0;
	for (unsigned i = 0; i < g.o.n && lat; i++)
		if (g.cl[i].state == CL_UP)
			lat[k++] = g.cl[i].up_at - g.cl[i].started_at;
	if (lat)
		qsort(lat, k, sizeof(*lat), cmp_ms);
	printf("ragen: clients %u up %u failed %u not-started %u\n", g.o.n, g.n_up, g.n_failed,
	       g.o.n - g.next_start);
	printf("ragen: time until all done %.3f s, setup rate %.1f IKE SAs/s\n", secs,
	       secs > 0 ? g.n_up / secs : 0.0);
	printf("ragen: setup latency ms p50 %.0f p90 %.0f p99 %.0f max %.0f\n",
	       latency_ms(lat, k, 0.5), latency_ms(lat, k, 0.9), latency_ms(lat, k, 0.99),
	       latency_ms(lat, k, 1.0));
	for (int i = 0; i < RAGEN_REASONS && g.reasons[i].n; i++)
		printf("ragen: failed %u: %s\n", g.reasons[i].n, g.reasons[i].text);
	if (g.o.vip)
		printf("ragen: virtual IPs %u distinct for %u clients up\n", distinct_vips(), g.n_up);
	printf("ragen-result: clients=%u up=%u failed=%u seconds=%.3f rate=%.1f p50_ms=%.0f "
	       "p99_ms=%.0f vips=%u\n", g.o.n, g.n_up, g.n_failed, secs,
	       secs > 0 ? g.n_up / secs : 0.0, latency_ms(lat, k, 0.5), latency_ms(lat, k, 0.99),
	       g.o.vip ? distinct_vips() : 0);
	fflush(stdout);
	free(lat);
	g.reported = true;
}

/* --- the IKE core's environment ------------------------------------------------------ */

/* After the float, the core sends to its own NAT-T port on the peer, as it would with
 * 4500 on both ends; each client here has its own NAT-T port, so the shell maps the
 * gateway's NAT-T port to the client's on the way in and back on the way out. */
static void natt_peer(const struct client *c, struct addr *remote, bool outbound)
{
	if (outbound && remote->port == c->local_natt.port)
		remote->port = (uint16_t)g.o.server_natt;
	else if (!outbound && remote->port == g.o.server_natt)
		remote->port = c->local_natt.port;
}

/* On the NAT-T port, IKE carries the non-ESP marker (RFC 3948 2.2). */
static void env_send(void *arg, const struct addr *local, const struct addr *remote,
		     const uint8_t *msg, size_t len)
{
	struct client *c = arg;
	static const uint8_t marker[4];
	struct sockaddr_storage ss;
	struct msghdr mh = { 0 };
	struct iovec iov[2] = { { (void *)marker, 4 }, { (void *)msg, len } };
	bool natt = local->port == c->local_natt.port;
	struct addr to = *remote;
	if (natt)
		natt_peer(c, &to, true);
	mh.msg_name = &ss;
	mh.msg_namelen = addr_to_sockaddr(&to, &ss);
	mh.msg_iov = natt ? iov : iov + 1;
	mh.msg_iovlen = natt ? 2 : 1;
	if (sendmsg(natt ? c->fd_natt : c->fd, &mh, 0) < 0 && g.o.verbose)
		fprintf(stderr, "ragen: client %u: send: %s\n", client_index(c), strerror(errno));
}

static void env_keepalive(void *arg, const struct addr *local, const struct addr *remote)
{
	struct client *c = arg;
	struct sockaddr_storage ss;
	uint8_t ff = 0xff;
	struct addr to = *remote;
	natt_peer(c, &to, true);
	socklen_t sl = addr_to_sockaddr(&to, &ss);
	sendto(c->fd_natt, &ff, 1, 0, (struct sockaddr *)&ss, sl);
}

/* The PF_KEY sink: SPIs from a counter, SAs and policies accepted and forgotten (the
 * core keeps its own copy of what it installed). */
static int env_pfkey(void *arg, const uint8_t *req, size_t len, struct buf *reply)
{
	struct pfkey_msg m;
	char err[128];
	if (pfkey_decode(req, len, &m, err, sizeof(err)) < 0)
		return EINVAL;
	switch (m.hdr->sadb_msg_type) {
	case SADB_GETSPI: {
		struct pfkey_getspi gs;
		struct pfkey_sa r = { 0 };
		if (pfkey_msg_getspi(&m, &gs, err, sizeof(err)) < 0)
			return EINVAL;
		r.spi = g.next_spi++;
		r.satype = SADB_SATYPE_ESP;
		r.state = SADB_SASTATE_LARVAL;
		r.src = gs.src;
		r.dst = gs.dst;
		pfkey_build_sa(reply, SADB_GETSPI, m.hdr->sadb_msg_seq, &r);
		return 0;
	}
	case SADB_ADD:
	case SADB_UPDATE: {
		struct client *c = arg;
		struct pfkey_sa p;
		if (c->sampled && pfkey_msg_sa(&m, &p, err, sizeof(err)) == 0)
			ragen_esp_keep(&c->esp, &p, &c->local);
		explicit_bzero(&p, sizeof(p));
		return 0;
	}
	}
	return 0;
}

static int env_route(void *arg, const struct addr *remote, struct addr *local)
{
	return -1;	/* every connection names its local address */
}

static void env_updown(void *arg, const struct ike_sa *sa, const struct child_sa *child, bool up)
{
	struct client *c = arg;
	if (c->state != CL_STARTED)
		return;
	if (!up) {
		client_failed(c, child ? "CHILD_SA went down" : "IKE SA went down");
		return;
	}
	if (!child) {
		c->ike_up = true;
		return;
	}
	if (g.o.vip && c->vip.family != AF_INET) {
		client_failed(c, "CHILD_SA up without a virtual IP");
		return;
	}
	c->state = CL_UP;
	c->up_at = clock_now_ms();
	g.in_flight--;
	g.n_up++;
	if (c->up_at > g.last_up_at)
		g.last_up_at = c->up_at;
	if (g.o.verbose)
		fprintf(stderr, "ragen: client %u up at %llu ms (started at %llu)\n", client_index(c),
			(unsigned long long)(c->up_at - g.t0),
			(unsigned long long)(c->started_at - g.t0));
}

/* The gateway assigned this client a virtual IP (the daemon would put it on its TUN). */
static void env_vip(void *arg, const struct ike_sa *sa, const struct addr *vip, bool up)
{
	struct client *c = arg;
	if (up)
		c->vip = *vip;
}

/* An error line belongs to the client whose core is running. */
static void on_log(void *arg, enum log_subsys s, int level, const char *line)
{
	struct client *c = g.current;
	if (level > 0 || !c)
		return;
	/* Keep the words, not the tag: reasons are counted by their text. */
	const char *colon = strstr(line, ": ");
	const char *why = colon && colon - line < 60 ? colon + 2 : line;
	reason_key(why, c->reason, sizeof(c->reason));
}

/* --- the loop ----------------------------------------------------------------------- */

static void schedule_tick(ms_t next);

/* After the report (and the pings): hold the SAs, or end. */
static void end_run(void)
{
	if (g.o.hold_s && g.finished) {
		struct timeval tv = { g.o.hold_s, 0 };
		event_base_loopexit(g.base, &tv);
	} else {
		event_base_loopexit(g.base, NULL);
	}
}

/* One echo through each sampled tunnel that has not answered yet, every 0.5 s, six
 * times at most. */
static void on_ping(evutil_socket_t fd, short what, void *arg)
{
	uint8_t pkt[256];
	struct sockaddr_storage ss;
	struct addr to = g.o.server;
	to.port = (uint16_t)g.o.server_natt;
	socklen_t sl = addr_to_sockaddr(&to, &ss);
	unsigned waiting = 0;
	for (unsigned i = 0; i < g.o.n; i++) {
		struct client *c = &g.cl[i];
		if (!c->sampled || c->state != CL_UP || c->ping_ok)
			continue;
		waiting++;
		ssize_t n = ragen_esp_echo(&c->esp, &c->vip, &g.o.ping_dst, (uint16_t)i,
					   (uint16_t)g.ping_round, pkt, sizeof(pkt));
		if (n > 0)
			sendto(c->fd_natt, pkt, (size_t)n, 0, (struct sockaddr *)&ss, sl);
	}
	if (waiting && g.ping_round++ < 6) {
		struct timeval tv = { 0, 500000 };
		evtimer_add(g.ping_ev, &tv);
		return;
	}
	unsigned sampled_up = 0;
	for (unsigned i = 0; i < g.o.n; i++)
		sampled_up += g.cl[i].sampled && g.cl[i].state == CL_UP;
	printf("ragen: ping from the virtual IP to %s through %u sampled tunnels: %u answered\n",
	       addr_ntop(&g.o.ping_dst, (char[ADDR_STRLEN]){ 0 }, ADDR_STRLEN), sampled_up,
	       g.n_ping_ok);
	printf("ragen-ping: sampled=%u answered=%u\n", sampled_up, g.n_ping_ok);
	fflush(stdout);
	end_run();
}

/* --ping-on-usr1: the signal to start the pings after the report (once); one that
 * comes earlier is kept for then. */
static void on_usr1(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, 0 };
	if (g.usr1)
		return;
	g.usr1 = true;
	if (g.done && g.o.ping && g.n_up)
		evtimer_add(g.ping_ev, &tv);
}

static void check_done(ms_t now)
{
	if (g.done)
		return;
	bool finished = g.n_up + g.n_failed == g.o.n;
	if (!finished && now < g.end_at)
		return;
	g.done = true;
	g.finished = finished;
	g.all_done_at = now;
	report();
	if (g.o.ping && g.n_up) {
		struct timeval tv = { 0, 0 };
		if (!g.o.ping_on_usr1 || g.usr1)
			evtimer_add(g.ping_ev, &tv);	/* else on_usr1 starts them */
		return;
	}
	end_run();
}

/* Clients whose SA vanished without a CHILD_SA (the core gave up on them), and
 * clients past their own timeout. */
static void scan_clients(ms_t now)
{
	for (unsigned i = 0; i < g.next_start; i++) {
		struct client *c = &g.cl[i];
		if (c->state != CL_STARTED)
			continue;
		const struct ike_sa *sa = ike_sa_first(c->core);
		if (!sa && now - c->started_at > 500)
			client_failed(c, c->ike_up ? "IKE SA ended without a CHILD_SA"
						   : "IKE SA ended before it was up");
		else if (sa && c->ike_up && !sa->children && sa->req.kind == TASK_NONE &&
			 !sa->tasks)
			client_failed(c, "IKE SA up without a CHILD_SA");
		else if (now - c->started_at > (ms_t)g.o.client_timeout_s * 1000)
			client_failed(c, "no CHILD_SA within the client timeout");
	}
}

static void start_clients(ms_t now);

/* Runs the cores' timers: those negotiating every time, the others once a second
 * (they only answer the gateway, and send NAT-T keepalives). */
static ms_t tick_cores(ms_t now)
{
	static ms_t all_at;
	ms_t next = MS_NEVER;
	bool all = now >= all_at;
	if (all)
		all_at = now + 1000;
	for (unsigned i = 0; i < g.next_start; i++) {
		struct client *c = &g.cl[i];
		if (!all && c->state != CL_STARTED)
			continue;
		g.current = c;
		ms_t t = ike_tick(c->core, now);
		if (c->state == CL_STARTED && t < next)
			next = t;
	}
	g.current = NULL;
	return next;
}

/* The cores' timers, the scan and the pacing, at least every 100 ms. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	ms_t now = clock_now_ms();
	ms_t next = tick_cores(now);
	if (!g.done) {
		scan_clients(now);
		start_clients(now);
		check_done(now);
	}
	ms_t soon = now + 100;	/* the scan's own pace */
	schedule_tick(next < soon ? next : soon);
}

static void schedule_tick(ms_t next)
{
	ms_t now = clock_now_ms();
	ms_t d = next > now ? next - now : 0;
	struct timeval tv = { (time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000 };
	evtimer_add(g.tick_ev, &tv);
}

/* IKE on either port; on the NAT-T port only what carries the non-ESP marker (ESP and
 * keepalives are not for us). */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	bool natt = fd == c->fd_natt;
	uint8_t buf[65536];
	struct sockaddr_storage ss;
	for (int n = 0; n < 16; n++) {
		socklen_t sl = sizeof(ss);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		if (len <= 0)
			break;
		size_t skip = 0;
		if (natt) {
			if (len >= 8 && memcmp(buf, "\0\0\0\0", 4) != 0 && c->sampled &&
			    !c->ping_ok && ragen_esp_is_reply(&c->esp, buf, (size_t)len,
							      (uint16_t)client_index(c))) {
				c->ping_ok = true;
				g.n_ping_ok++;
			}
			if (len < 8 || memcmp(buf, "\0\0\0\0", 4) != 0)
				continue;	/* ESP or a keepalive */
			skip = 4;
		}
		struct addr remote;
		addr_from_sockaddr(&remote, (struct sockaddr *)&ss);
		if (natt)
			natt_peer(c, &remote, false);
		g.current = c;
		ike_input(c->core, natt ? &c->local_natt : &c->local, &remote, buf + skip,
			  (size_t)len - skip, clock_now_ms());
		g.current = NULL;
	}
	/* A client that just came up makes room in the window: fill it now. */
	if (!g.done) {
		start_clients(clock_now_ms());
		check_done(clock_now_ms());
	}
}

/* Starts clients while the window and the rate allow. */
static void start_clients(ms_t now)
{
	while (g.next_start < g.o.n && g.in_flight < g.o.window) {
		if (g.o.rate && (double)g.next_start >= (double)(now - g.t0) * g.o.rate / 1000.0 + 1)
			break;
		struct client *c = &g.cl[g.next_start];
		char err[256];
		g.next_start++;
		c->state = CL_STARTED;
		c->started_at = now;
		g.in_flight++;
		g.current = c;
		if (ike_initiate(c->core, "ra", NULL, now, err, sizeof(err)) < 0)
			snprintf(c->reason, sizeof(c->reason), "initiate: %.100s", err);
		g.current = NULL;
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	ms_t now = clock_now_ms();
	if (!g.done) {
		g.end_at = now;
		check_done(now);
	}
	event_base_loopexit(g.base, NULL);
}

/* --- set-up ------------------------------------------------------------------------- */

static int open_udp(const struct addr *a, struct client *c, struct event **ev)
{
	struct sockaddr_storage ss;
	int on = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	socklen_t sl = addr_to_sockaddr(a, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    !(*ev = event_new(g.base, fd, EV_READ | EV_PERSIST, on_readable, c)) ||
	    event_add(*ev, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The client's core: one connection "ra" with its own address, port and identity, and
 * the PSK. */
static int client_core(struct client *c, unsigned i)
{
	char text[2048], src[ADDR_STRLEN], dst[ADDR_STRLEN], err[512];
	struct ike_env env = { .arg = c, .send = env_send, .keepalive = env_keepalive,
			       .pfkey = env_pfkey, .route_src = env_route,
			       .updown = env_updown, .vip = env_vip };
	/* 1 s, then x1.8, 4 retransmits: a lost packet costs a second, not four. */
	struct ike_timing t = { .retransmit_timeout_ms = 1000, .retransmit_base = 1.8,
				.retransmit_tries = 4, .natt_keepalive_s = 20,
				.port = c->local.port, .port_natt = c->local_natt.port,
				.half_open_timeout_s = 30, .cookie_threshold = 1u << 30 };
	char extra[64];
	addr_ntop(&c->local, src, sizeof(src));
	addr_ntop(&g.o.server, dst, sizeof(dst));
	snprintf(extra, sizeof(extra), "%s%s", g.o.vip ? "  vips = 0.0.0.0\n" : "",
		 g.o.encap ? "  encap = yes\n" : "");
	snprintf(text, sizeof(text),
		 "connections {\n ra {\n  version = 2\n  local_addrs = %s\n%s"
		 "  remote_addrs = %s\n  remote_port = %u\n  proposals = %s\n"
		 "  local {\n   auth = psk\n   id = client%u@ragen\n  }\n"
		 "  remote {\n   auth = psk\n  }\n"
		 "  children {\n   ra {\n    remote_ts = %s\n    esp_proposals = %s\n   }\n  }\n"
		 " }\n}\nsecrets {\n ike-ragen {\n  secret = \"%s\"\n }\n}\n",
		 src, extra, dst, g.o.server.port, g.o.proposals, i, g.o.remote_ts, g.o.esp_proposals,
		 g.o.psk);
	struct ctree *tree = conf_parse_string(text, "ragen", err, sizeof(err));
	struct config *cfg = tree ? config_build(tree, err, sizeof(err)) : NULL;
	ctree_free(tree);
	explicit_bzero(text, sizeof(text));
	if (!cfg) {
		fprintf(stderr, "ragen: client %u config: %s\n", i, err);
		return -1;
	}
	c->core = ike_new(&env, &t);
	if (!c->core) {
		config_free(cfg);
		return -1;
	}
	ike_load_config(c->core, cfg, clock_now_ms());
	return 0;
}

static void parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", 1, 0, 's' }, { "src", 1, 0, 'a' }, { "src-count", 1, 0, 'k' },
		{ "port-base", 1, 0, 'p' }, { "natt-offset", 1, 0, 'o' },
		{ "server-natt-port", 1, 0, 'N' }, { "vip", 0, 0, 'V' }, { "encap", 0, 0, 'e' },
		{ "ping", 1, 0, 'g' }, { "ping-dst", 1, 0, 'G' }, { "ping-on-usr1", 0, 0, 'U' }, { "window", 1, 0, 'w' }, { "rate", 1, 0, 'r' },
		{ "psk", 1, 0, 'K' }, { "proposals", 1, 0, 'P' }, { "esp-proposals", 1, 0, 'E' },
		{ "remote-ts", 1, 0, 'T' }, { "timeout", 1, 0, 't' },
		{ "client-timeout", 1, 0, 'c' }, { "hold", 1, 0, 'H' }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 }
	};
	struct opts *o = &g.o;
	o->n = 100, o->n_src = 1, o->port_base = 10000, o->natt_offset = 10000, o->window = 64;
	o->server_natt = 4500;
	o->timeout_s = 300, o->client_timeout_s = 30;
	o->psk = "ragen-psk", o->proposals = "aes128gcm16-prfsha256-x25519";
	o->esp_proposals = "aes128gcm16", o->remote_ts = "0.0.0.0/0";
	int ch;
	while ((ch = getopt_long(argc, argv, "n:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 's': if (addr_parse(optarg, &o->server) < 0) usage(); break;
		case 'a': if (addr_parse(optarg, &o->first_src) < 0) usage(); break;
		case 'k': o->n_src = (unsigned)atoi(optarg); break;
		case 'p': o->port_base = (unsigned)atoi(optarg); break;
		case 'o': o->natt_offset = (unsigned)atoi(optarg); break;
		case 'N': o->server_natt = (unsigned)atoi(optarg); break;
		case 'V': o->vip = true; break;
		case 'e': o->encap = true; break;
		case 'g': o->ping = (unsigned)atoi(optarg); break;
		case 'G': if (addr_parse(optarg, &o->ping_dst) < 0) usage(); break;
		case 'U': o->ping_on_usr1 = true; break;
		case 'n': o->n = (unsigned)atoi(optarg); break;
		case 'w': o->window = (unsigned)atoi(optarg); break;
		case 'r': o->rate = (unsigned)atoi(optarg); break;
		case 'K': o->psk = optarg; break;
		case 'P': o->proposals = optarg; break;
		case 'E': o->esp_proposals = optarg; break;
		case 'T': o->remote_ts = optarg; break;
		case 't': o->timeout_s = (unsigned)atoi(optarg); break;
		case 'c': o->client_timeout_s = (unsigned)atoi(optarg); break;
		case 'H': o->hold_s = (unsigned)atoi(optarg); break;
		case 'v': o->verbose++; break;
		default: usage();
		}
	}
	if (o->server.family != AF_INET || o->first_src.family != AF_INET || !o->n ||
	    o->n > RAGEN_MAX_CLIENTS || !o->n_src || !o->window || !o->timeout_s ||
	    !o->natt_offset || o->port_base + o->natt_offset + (o->n + o->n_src - 1) / o->n_src > 65535)
		usage();
	if (o->ping && (!o->vip || !o->encap || o->ping_dst.family != AF_INET))
		usage();
	if (o->ping > o->n)
		o->ping = o->n;
	if (!o->server.port)
		o->server.port = 500;
}

/* Two descriptors per client, and then some. */
static void raise_fd_limit(unsigned n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= 2 * n + 64)
		return;
	rl.rlim_cur = 2 * n + 64;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		fprintf(stderr, "ragen: cannot raise the descriptor limit to %u: %s\n", n + 64,
			strerror(errno));
}

static int setup(void)
{
	g.base = event_base_new();
	g.cl = calloc(g.o.n, sizeof(*g.cl));
	if (!g.base || !g.cl)
		return -1;
	raise_fd_limit(g.o.n);
	uint32_t first = ntohl(g.o.first_src.u.v4.s_addr);
	for (unsigned i = 0; i < g.o.n; i++) {
		struct client *c = &g.cl[i];
		c->local.family = AF_INET;
		c->local.u.v4.s_addr = htonl(first + i % g.o.n_src);
		c->local.port = (uint16_t)(g.o.port_base + i / g.o.n_src);
		c->local_natt = c->local;
		c->local_natt.port = (uint16_t)(c->local.port + g.o.natt_offset);
		char a[ADDR_STRLEN];
		c->fd = open_udp(&c->local, c, &c->ev);
		c->fd_natt = c->fd < 0 ? -1 : open_udp(&c->local_natt, c, &c->ev_natt);
		if (c->fd_natt < 0) {
			fprintf(stderr, "ragen: client %u: cannot bind %s and its NAT-T port: %s\n",
				i, addr_fmt(&c->local, a, sizeof(a)), strerror(errno));
			return -1;
		}
		c->sampled = g.o.ping && i % (g.o.n / g.o.ping) == 0 && i / (g.o.n / g.o.ping) < g.o.ping;
		if (client_core(c, i) < 0)
			return -1;
	}
	g.tick_ev = evtimer_new(g.base, on_tick, NULL);
	g.ping_ev = evtimer_new(g.base, on_ping, NULL);
	g.sig_ev[0] = evsignal_new(g.base, SIGTERM, on_signal, NULL);
	g.sig_ev[1] = evsignal_new(g.base, SIGINT, on_signal, NULL);
	g.sig_ev[2] = evsignal_new(g.base, SIGUSR1, on_usr1, NULL);
	if (g.o.ping_on_usr1)
		evsignal_add(g.sig_ev[2], NULL);
	evsignal_add(g.sig_ev[0], NULL);
	evsignal_add(g.sig_ev[1], NULL);
	g.next_spi = 0xc0000001;
	return 0;
}

static void teardown(void)
{
	/* Tells the gateway (DELETE for every IKE SA, not waited for). */
	for (unsigned i = 0; i < g.o.n; i++) {
		struct client *c = &g.cl[i];
		g.current = c;
		if (c->core)
			ike_free(c->core, clock_now_ms());
		if (c->ev)
			event_free(c->ev);
		if (c->ev_natt)
			event_free(c->ev_natt);
		if (c->fd > 0)
			close(c->fd);
		if (c->fd_natt > 0)
			close(c->fd_natt);
		ragen_esp_free(&c->esp);
	}
	free(g.cl);
	event_free(g.tick_ev);
	event_free(g.ping_ev);
	event_free(g.sig_ev[0]);
	event_free(g.sig_ev[1]);
	event_free(g.sig_ev[2]);
	event_base_free(g.base);
}

int main(int argc, char **argv)
{
	parse_opts(argc, argv);
	log_use_stderr(g.o.verbose > 1);
	log_set_all_levels(g.o.verbose > 1 ? 1 : 0);
	if (log_add_sink(on_log, NULL) < 0 || setup() < 0)
		return 1;
	g.t0 = clock_now_ms();
	g.end_at = g.t0 + (ms_t)g.o.timeout_s * 1000;
	start_clients(g.t0);
	schedule_tick(g.t0);
	event_base_dispatch(g.base);
	if (!g.reported)
		report();
	teardown();
	return g.n_up == g.o.n ? 0 : 1;
}
