/* ragen: a remote-access load generator built on tsunagi's own IKE core.
 *
 * It brings up N IKEv2 clients against one gateway, each from its own source address
 * and port (addresses that are already on an interface of this namespace, several
 * ports each), each with its own IKE SA and CHILD_SA, with at most --window of them
 * negotiating at once and at most --rate started per second. It reports how many came
 * up, how many failed and why, the setup rate and the time until all were up.
 *
 * One IKE core holds every client as a connection of its own ("c0", "c1", ...); the
 * core is driven as the daemon drives it (ike_input, ike_tick, ike_initiate) over one
 * UDP socket per client and libevent. Nothing is installed in a kernel: PF_KEY goes to
 * a sink that hands out SPIs and keeps the SAs it is given (pfkey_sink below).
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

#define RAGEN_MAX_CLIENTS 65536
#define RAGEN_REASONS 16

enum cl_state { CL_IDLE, CL_STARTED, CL_UP, CL_FAILED };

struct client {
	int fd;
	struct addr local;
	struct event *ev;
	enum cl_state state;
	bool ike_up;
	bool seen;		/* has an SA in the core (scan_gone) */
	ms_t started_at, up_at;
	char reason[120];	/* the last error line about it */
};

struct opts {
	struct addr server;
	struct addr first_src;
	unsigned n, n_src, port_base, window, rate;
	unsigned timeout_s, client_timeout_s, hold_s;
	const char *psk, *proposals, *esp_proposals, *remote_ts;
	int verbose;
};

struct reason_count {
	char text[120];
	unsigned n;
};

static struct {
	struct opts o;
	struct ike *core;
	struct event_base *base;
	struct event *tick_ev, *start_ev, *sig_ev[2];
	struct client *cl;
	unsigned next_start, in_flight, n_up, n_failed;
	ms_t t0, all_done_at, end_at, last_up_at;
	bool done, reported;
	struct client *current;		/* the client whose input is being processed */
	uint32_t next_spi;
	struct reason_count reasons[RAGEN_REASONS];
	uint64_t n_sa_installed;
} g;

static void usage(void)
{
	fprintf(stderr,
		"usage: ragen --server ADDR --src FIRST_ADDR [--src-count K] [--port-base P]\n"
		"             [-n N] [--window W] [--rate R] [--psk SECRET]\n"
		"             [--proposals P] [--esp-proposals P] [--remote-ts CIDR]\n"
		"             [--timeout S] [--client-timeout S] [--hold S] [-v]\n"
		"Client i uses source address FIRST_ADDR + (i %% K) and port P + (i / K);\n"
		"the K addresses must be on an interface. Defaults: -n 100, K 1, P 10000,\n"
		"window 64, rate 0 (no limit), psk 'ragen-psk',\n"
		"proposals aes128gcm16-prfsha256-x25519, esp aes128gcm16, remote-ts 0.0.0.0/0,\n"
		"timeout 300, client-timeout 30, hold 0 (SIGTERM or SIGINT ends a hold).\n");
	exit(2);
}

/* --- results ---------------------------------------------------------------------- */

static unsigned client_index(const struct client *c)
{
	return (unsigned)(c - g.cl);
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
	printf("ragen-result: clients=%u up=%u failed=%u seconds=%.3f rate=%.1f p50_ms=%.0f "
	       "p99_ms=%.0f\n", g.o.n, g.n_up, g.n_failed, secs, secs > 0 ? g.n_up / secs : 0.0,
	       latency_ms(lat, k, 0.5), latency_ms(lat, k, 0.99));
	fflush(stdout);
	free(lat);
	g.reported = true;
}

/* --- the IKE core's environment ------------------------------------------------------ */

static struct client *client_by_local(const struct addr *local)
{
	if (local->family != AF_INET)
		return NULL;
	uint32_t a = ntohl(local->u.v4.s_addr), first = ntohl(g.o.first_src.u.v4.s_addr);
	if (a < first || a - first >= g.o.n_src || local->port < g.o.port_base)
		return NULL;
	unsigned i = (local->port - g.o.port_base) * g.o.n_src + (a - first);
	return i < g.o.n ? &g.cl[i] : NULL;
}

static void env_send(void *arg, const struct addr *local, const struct addr *remote,
		     const uint8_t *msg, size_t len)
{
	struct client *c = client_by_local(local);
	struct sockaddr_storage ss;
	if (!c || c->fd < 0)
		return;
	socklen_t sl = addr_to_sockaddr(remote, &ss);
	if (sendto(c->fd, msg, len, 0, (struct sockaddr *)&ss, sl) < 0 && g.o.verbose)
		fprintf(stderr, "ragen: client %u: send: %s\n", client_index(c), strerror(errno));
}

static void env_keepalive(void *arg, const struct addr *local, const struct addr *remote)
{
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
	case SADB_UPDATE:
		g.n_sa_installed++;
		return 0;
	}
	return 0;
}

static int env_route(void *arg, const struct addr *remote, struct addr *local)
{
	return -1;	/* every connection names its local address */
}

static struct client *client_of_sa(const struct ike_sa *sa)
{
	const char *name = sa->conn->cfg->name;
	unsigned i;
	if (sscanf(name, "c%u", &i) != 1 || i >= g.o.n)
		return NULL;
	return &g.cl[i];
}

static void env_updown(void *arg, const struct ike_sa *sa, const struct child_sa *child, bool up)
{
	struct client *c = client_of_sa(sa);
	if (!c || c->state != CL_STARTED)
		return;
	if (!up) {
		client_failed(c, child ? "CHILD_SA went down" : "IKE SA went down");
		return;
	}
	if (!child) {
		c->ike_up = true;
		return;
	}
	c->state = CL_UP;
	c->up_at = clock_now_ms();
	g.in_flight--;
	g.n_up++;
	if (c->up_at > g.last_up_at)
		g.last_up_at = c->up_at;
}

/* Error lines name the SA as "cN[id] peer: ..."; lines without a tag (the core logs a
 * few) belong to the client whose message is being processed. */
static void on_log(void *arg, enum log_subsys s, int level, const char *line)
{
	struct client *c = g.current;
	unsigned i;
	const char *p = line;
	if (level > 0)
		return;
	while (*p && (p = strchr(p, 'c'))) {
		if ((p == line || p[-1] == ' ' || p[-1] == '\'') && sscanf(p, "c%u[", &i) == 1 &&
		    i < g.o.n && strchr(p, '[')) {
			c = &g.cl[i];
			break;
		}
		p++;
	}
	if (!c)
		return;
	/* Keep the words, not the tag: reasons are counted by their text. */
	const char *colon = strstr(line, ": ");
	const char *why = colon && colon - line < 60 ? colon + 2 : line;
	snprintf(c->reason, sizeof(c->reason), "%s", why);
}

/* --- the loop ----------------------------------------------------------------------- */

static void schedule_tick(ms_t next);

static void check_done(ms_t now)
{
	if (g.done)
		return;
	bool finished = g.n_up + g.n_failed == g.o.n;
	if (!finished && now < g.end_at)
		return;
	g.done = true;
	g.all_done_at = now;
	report();
	if (g.o.hold_s && finished) {
		struct timeval tv = { g.o.hold_s, 0 };
		event_base_loopexit(g.base, &tv);
	} else {
		event_base_loopexit(g.base, NULL);
	}
}

/* Clients whose SA vanished without a CHILD_SA (the core gave up on them), and
 * clients past their own timeout. */
static void scan_clients(ms_t now)
{
	for (unsigned i = 0; i < g.next_start; i++)
		g.cl[i].seen = false;
	for (const struct ike_sa *sa = ike_sa_first(g.core); sa; sa = ike_sa_next(sa)) {
		struct client *c = client_of_sa(sa);
		if (c && sa->state != IKE_DESTROYING)
			c->seen = true;
	}
	for (unsigned i = 0; i < g.next_start; i++) {
		struct client *c = &g.cl[i];
		if (c->state != CL_STARTED)
			continue;
		if (!c->seen && now - c->started_at > 500)
			client_failed(c, c->ike_up ? "IKE SA ended without a CHILD_SA"
						   : "IKE SA ended before it was up");
		else if (now - c->started_at > (ms_t)g.o.client_timeout_s * 1000)
			client_failed(c, "no CHILD_SA within the client timeout");
	}
}

static void start_clients(ms_t now);

/* The core's timers, the scan and the pacing, at least every 100 ms. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	ms_t now = clock_now_ms();
	g.current = NULL;
	ms_t next = ike_tick(g.core, now);
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

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	uint8_t buf[65536];
	struct sockaddr_storage ss;
	for (int n = 0; n < 16; n++) {
		socklen_t sl = sizeof(ss);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		if (len <= 0)
			return;
		struct addr remote;
		addr_from_sockaddr(&remote, (struct sockaddr *)&ss);
		g.current = c;
		ike_input(g.core, &c->local, &remote, buf, (size_t)len, clock_now_ms());
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
		char name[16], err[256];
		snprintf(name, sizeof(name), "c%u", g.next_start);
		g.next_start++;
		c->state = CL_STARTED;
		c->started_at = now;
		g.in_flight++;
		g.current = c;
		if (ike_initiate(g.core, name, NULL, now, err, sizeof(err)) < 0)
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

static int open_client(struct client *c)
{
	struct sockaddr_storage ss;
	int on = 1;
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	socklen_t sl = addr_to_sockaddr(&c->local, &ss);
	if (bind(c->fd, (struct sockaddr *)&ss, sl) < 0)
		return -1;
	c->ev = event_new(g.base, c->fd, EV_READ | EV_PERSIST, on_readable, c);
	return c->ev ? event_add(c->ev, NULL) : -1;
}

/* One connection per client: its own source address and port and identity. */
static int load_client_conn(unsigned i)
{
	char text[1024], name[16], src[ADDR_STRLEN], dst[ADDR_STRLEN], err[512];
	snprintf(name, sizeof(name), "c%u", i);
	addr_ntop(&g.cl[i].local, src, sizeof(src));
	addr_ntop(&g.o.server, dst, sizeof(dst));
	snprintf(text, sizeof(text),
		 "connections {\n %s {\n  version = 2\n  local_addrs = %s\n  local_port = %u\n"
		 "  remote_addrs = %s\n  remote_port = %u\n  proposals = %s\n"
		 "  local {\n   auth = psk\n   id = client%u@ragen\n  }\n"
		 "  remote {\n   auth = psk\n  }\n"
		 "  children {\n   ra {\n    remote_ts = %s\n    esp_proposals = %s\n   }\n  }\n"
		 " }\n}\n",
		 name, src, g.cl[i].local.port, dst, g.o.server.port, g.o.proposals, i,
		 g.o.remote_ts, g.o.esp_proposals);
	struct ctree *tree = conf_parse_string(text, "ragen", err, sizeof(err));
	struct config *cfg = tree ? config_build(tree, err, sizeof(err)) : NULL;
	ctree_free(tree);
	if (!cfg) {
		fprintf(stderr, "ragen: client %u config: %s\n", i, err);
		return -1;
	}
	struct conn_cfg *conn = cfg->conns;
	cfg->conns = NULL;
	config_free(cfg);
	return ike_load_conn(g.core, conn, clock_now_ms());
}

static int load_secret(void)
{
	char text[512], err[512];
	snprintf(text, sizeof(text), "secrets {\n ike-ragen {\n  secret = \"%s\"\n }\n}\n",
		 g.o.psk);
	struct ctree *tree = conf_parse_string(text, "ragen", err, sizeof(err));
	struct config *cfg = tree ? config_build(tree, err, sizeof(err)) : NULL;
	ctree_free(tree);
	if (!cfg) {
		fprintf(stderr, "ragen: secret: %s\n", err);
		return -1;
	}
	ike_load_config(g.core, cfg, clock_now_ms());
	return 0;
}

static void parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", 1, 0, 's' }, { "src", 1, 0, 'a' }, { "src-count", 1, 0, 'k' },
		{ "port-base", 1, 0, 'p' }, { "window", 1, 0, 'w' }, { "rate", 1, 0, 'r' },
		{ "psk", 1, 0, 'K' }, { "proposals", 1, 0, 'P' }, { "esp-proposals", 1, 0, 'E' },
		{ "remote-ts", 1, 0, 'T' }, { "timeout", 1, 0, 't' },
		{ "client-timeout", 1, 0, 'c' }, { "hold", 1, 0, 'H' }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 }
	};
	struct opts *o = &g.o;
	o->n = 100, o->n_src = 1, o->port_base = 10000, o->window = 64;
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
	    o->port_base + (o->n + o->n_src - 1) / o->n_src > 65535)
		usage();
	if (!o->server.port)
		o->server.port = 500;
}

/* One descriptor per client, and then some. */
static void raise_fd_limit(unsigned n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= n + 64)
		return;
	rl.rlim_cur = n + 64;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		fprintf(stderr, "ragen: cannot raise the descriptor limit to %u: %s\n", n + 64,
			strerror(errno));
}

static int setup(void)
{
	struct ike_env env = { NULL, env_send, env_keepalive, env_pfkey, env_route, env_updown,
			       NULL };
	/* 1 s, then x1.8, 4 retransmits: a lost packet costs a second, not four. port_natt
	 * 0: the clients never float (no NAT between them and the gateway). */
	struct ike_timing t = { 1000, 1.8, 4, 0, (uint16_t)g.o.port_base, 0, 30, 1u << 30 };
	g.core = ike_new(&env, &t);
	g.base = event_base_new();
	g.cl = calloc(g.o.n, sizeof(*g.cl));
	if (!g.core || !g.base || !g.cl || load_secret() < 0)
		return -1;
	raise_fd_limit(g.o.n);
	uint32_t first = ntohl(g.o.first_src.u.v4.s_addr);
	for (unsigned i = 0; i < g.o.n; i++) {
		struct client *c = &g.cl[i];
		c->fd = -1;
		c->local.family = AF_INET;
		c->local.u.v4.s_addr = htonl(first + i % g.o.n_src);
		c->local.port = (uint16_t)(g.o.port_base + i / g.o.n_src);
		char a[ADDR_STRLEN];
		if (open_client(c) < 0) {
			fprintf(stderr, "ragen: client %u: cannot bind %s: %s\n", i,
				addr_fmt(&c->local, a, sizeof(a)), strerror(errno));
			return -1;
		}
		if (load_client_conn(i) < 0)
			return -1;
	}
	g.tick_ev = evtimer_new(g.base, on_tick, NULL);
	g.sig_ev[0] = evsignal_new(g.base, SIGTERM, on_signal, NULL);
	g.sig_ev[1] = evsignal_new(g.base, SIGINT, on_signal, NULL);
	evsignal_add(g.sig_ev[0], NULL);
	evsignal_add(g.sig_ev[1], NULL);
	g.next_spi = 0xc0000001;
	return 0;
}

static void teardown(void)
{
	/* Tells the gateway (DELETE for every IKE SA, not waited for). */
	ike_free(g.core, clock_now_ms());
	for (unsigned i = 0; i < g.o.n; i++) {
		if (g.cl[i].ev)
			event_free(g.cl[i].ev);
		if (g.cl[i].fd >= 0)
			close(g.cl[i].fd);
	}
	free(g.cl);
	event_free(g.tick_ev);
	event_free(g.sig_ev[0]);
	event_free(g.sig_ev[1]);
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
