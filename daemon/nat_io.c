/* The NAT core's shell in tsunagid: with a tsunagi { nat { } } section, the daemon
 * owns an NFQUEUE (daemon/nat_queue.c), feeds each queued packet to nat_translate
 * with the clock, ends idle flows from a timer, keeps the interfaces' addresses in
 * the rules up to date and applies reloaded rules (new flows only).
 *
 * The iptables rules that queue the packets are tsunagid's own by default: an
 * operator who writes a nat section expects translation to work, and rules left
 * behind by a daemon that is gone would black-hole nothing (--queue-bypass) but
 * confuse. They live in two chains of the raw table (TSUNAGI-NAT from PREROUTING,
 * TSUNAGI-NAT-ICMP from OUTPUT), installed at start, replaced on a reload that
 * changes the interfaces, removed at exit. --nat-firewall=manual leaves them to the
 * operator (nat_io_rules prints what to install). They are installed with
 * iptables-restore: on this kernel only iptables' NFQUEUE target exists (nft has no
 * queue expression), and iptables-nft speaks its own netlink dialect for it. */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/nat_fast.h"
#include "daemon/nat_fast_map.h"
#include "daemon/nat_fw_check.h"
#include "daemon/nat_log.h"
#include "daemon/nat_queue.h"
#include "daemon/nat_shared.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "nat/fast_plan.h"
#include "nat/inspect.h"
#include "nat/nat.h"
#include "nat/nat_rules.h"

extern char **environ;

/* With nat { queues > 1 }, each queue has its own thread; its statistics are
 * published under the table lock after each round, for the views to sum. */
struct nat_worker {
	struct nat_io *n;
	struct nat_queue *q;
	pthread_t th;
	bool running;
	struct nat_queue_stats pub;
};

struct nat_io {
	struct nat_rules *rules;	/* owned; the table borrows them */
	struct nat_table *table;
	struct nat_shared sh;		/* the table's lock (uncontended with one queue) */
	bool sh_ok;
	int nq;				/* queues: 1 = read from the event loop */
	struct nat_queue *q[NAT_MAX_QUEUES];
	struct nat_worker w[NAT_MAX_QUEUES];
	atomic_bool stop;
	struct event *ev_q, *ev_timer;
	char *fw;			/* the iptables rules installed, NULL = none */
	struct nat_counters base;	/* as the last "reset counters" found them */
	struct nat_queue_stats qbase;
	struct nat_log_limit lim[2];	/* [0] denies, [1] built/teardown */
	struct nat_insp_counters ibase[NAT_MAX_ENGINES];
	struct nat_fast *fast;		/* the tc fast path, NULL when off */
	struct event *ev_fast;		/* its events to read: the ring fills up */
	struct event *ev_fast_poll;	/* ... or NAT_FAST_POLL_MS passed */
	uint64_t fbase[NAT_FAST_STATS];	/* its SYN counters at the last reset */
	uint64_t sweep_ms;		/* when its map was last swept */
	uint32_t fwd;			/* NAT_FAST_FWD_*: what its program forwards */
	char fwd_why[128];		/* ... and the netfilter rule that says so */
};

/* The rules that send packets to our queue. Locally made ICMP errors to one of our
 * addresses are queued too: a packet from inside is translated before the kernel
 * routes it, so the kernel's "time exceeded" (traceroute's first hop) and
 * "fragmentation needed" go to the public address, and the core sends them on to
 * the inside host. tsunagid's own NAT-T port on a local address skips the queue (its
 * ESP in UDP is bulk traffic, and pass-through NAT-T never gets that port); its IKE
 * port does not: inside clients' IKE through PAT keeps port 500 and the core tells
 * theirs from tsunagid's by SPI (nat/ipsec_pt.c), NAT_LOCAL for tsunagid's. */
char *nat_io_rules(const struct nat_rules *r, uint16_t qnum, uint16_t ike, uint16_t natt)
{
	(void)ike;
	char target[48];
	if (r->queues > 1)
		snprintf(target, sizeof(target), "--queue-balance %u:%u", qnum,
			 (unsigned)qnum + r->queues - 1);
	else
		snprintf(target, sizeof(target), "--queue-num %u", qnum);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f, "*raw\n:TSUNAGI-NAT - [0:0]\n:TSUNAGI-NAT-ICMP - [0:0]\n"
		"-I PREROUTING 1 -j TSUNAGI-NAT\n-I OUTPUT 1 -j TSUNAGI-NAT-ICMP\n");
	/* Packets the fast path rewrote (only its program, at ingress of the NAT
	 * interfaces, sets the bit) are untracked too and not queued: first, so
	 * that each crosses two rules. */
	if (r->fastpath)
		fprintf(f, "-A TSUNAGI-NAT -m mark --mark 0x%x/0x%x -j CT --notrack\n"
			"-A TSUNAGI-NAT -m mark --mark 0x%x/0x%x -j RETURN\n", NAT_FAST_MARK,
			NAT_FAST_MARK, NAT_FAST_MARK, NAT_FAST_MARK);
	for (size_t i = 0; i < r->n_outside; i++)
		fprintf(f, "-A TSUNAGI-NAT -i %s -p udp --dport %u "
			"-m addrtype --dst-type LOCAL -j RETURN\n", r->outside[i], natt);
	for (int pass = 0; pass < 2; pass++) {
		for (int side = 0; side < 2; side++) {
			size_t n = side ? r->n_outside : r->n_inside;
			for (size_t i = 0; i < n; i++) {
				const char *ifn = side ? r->outside[i] : r->inside[i];
				if (pass == 0)
					fprintf(f, "-A TSUNAGI-NAT -i %s -j CT --notrack\n", ifn);
				else
					fprintf(f, "-A TSUNAGI-NAT -i %s -j NFQUEUE %s --queue-bypass\n",
						ifn, target);
			}
		}
	}
	const char *types[] = { "time-exceeded", "destination-unreachable" };
	for (size_t i = 0; i < 2; i++)
		fprintf(f, "-A TSUNAGI-NAT-ICMP -p icmp --icmp-type %s -m addrtype --dst-type LOCAL "
			"-j NFQUEUE %s --queue-bypass\n", types[i], target);
	fprintf(f, "COMMIT\n");
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Feeds text to iptables-restore --noflush. 0, or -1 (quiet: cleanup of what may
 * not be there is allowed to fail). */
static int iptables_restore(const char *text, bool quiet)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_addclose(&fa, p[1]);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
	}
	char *argv[] = { "iptables-restore", "-w", "--noflush", NULL };
	pid_t pid;
	int err = posix_spawnp(&pid, "iptables-restore", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (err) {
		close(p[1]);
		if (!quiet)
			log_err(LOG_NAT, "cannot run iptables-restore: %s (package iptables)",
				strerror(err));
		return -1;
	}
	size_t n = strlen(text);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(p[1], text + off, n - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(p[1]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void fw_remove(struct nat_io *n)
{
	/* Also what a daemon killed outright left behind (each step on its own). */
	static const char *const steps[] = {
		"*raw\n-D PREROUTING -j TSUNAGI-NAT\nCOMMIT\n",
		"*raw\n-D OUTPUT -j TSUNAGI-NAT-ICMP\nCOMMIT\n",
		"*raw\n-F TSUNAGI-NAT\n-X TSUNAGI-NAT\nCOMMIT\n",
		"*raw\n-F TSUNAGI-NAT-ICMP\n-X TSUNAGI-NAT-ICMP\nCOMMIT\n",
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		iptables_restore(steps[i], true);
	free(n->fw);
	n->fw = NULL;
}

static int fw_install(struct daemon *d, struct nat_io *n)
{
	char *text = nat_io_rules(n->rules, d->nat_queue_num, d->settings.ike_port,
				  d->settings.ike_port_natt);
	if (!text)
		return -1;
	if (n->fw && strcmp(text, n->fw) == 0) {
		free(text);
		return 0;
	}
	fw_remove(n);
	if (iptables_restore(text, false) < 0) {
		log_err(LOG_NAT, "installing the NFQUEUE rules failed; nothing is translated:\n%s",
			text);
		free(text);
		return -1;
	}
	log_info(LOG_NAT, "raw table: packets of the nat interfaces go to queue %u",
		 d->nat_queue_num);
	n->fw = text;
	return 0;
}

static void set_conf(const char *ifname, const char *key, const char *val)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", ifname, key);
	FILE *f = fopen(path, "w");
	if (!f || fputs(val, f) < 0 || fclose(f) != 0) {
		if (f)
			fclose(f);
		log_err(LOG_NAT, "cannot set %s to %s: %s", path, val, strerror(errno));
	}
}

/* A packet from inside leaves the queue with a public (our own) source address and
 * only then is routed: the kernel drops such a packet as a martian unless the inside
 * interface accepts local sources; a hairpinned one leaves by the interface it came
 * in on, which must not send the LAN host a redirect. */
static int get_conf(const char *ifname, const char *key)
{
	char path[128];
	int v = -1;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", ifname, key);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void inside_sysctls(const struct nat_rules *r)
{
	int all = get_conf("all", "rp_filter");
	for (size_t i = 0; i < r->n_inside; i++) {
		set_conf(r->inside[i], "accept_local", "1");
		set_conf(r->inside[i], "send_redirects", "0");
		/* The kernel uses the larger of "all" and the interface's value; strict
		 * (1) finds our public source address on lo, not on this interface. */
		int rpf = get_conf(r->inside[i], "rp_filter");
		if ((rpf > all ? rpf : all) == 1)
			log_err(LOG_NAT, "%s: strict reverse-path filtering (rp_filter = 1) drops "
				"every translated packet from inside; set net.ipv4.conf.all.rp_filter "
				"and net.ipv4.conf.%s.rp_filter to 2 (loose) or 0", r->inside[i],
				r->inside[i]);
	}
}

/* The interfaces' current IPv4 addresses (the first of each), into the rules. */
static void refresh_addrs(struct nat_rules *r)
{
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs) < 0)
		return;
	for (int side = 0; side < 2; side++) {
		size_t cnt = side ? r->n_outside : r->n_inside;
		for (size_t i = 0; i < cnt; i++) {
			const char *name = side ? r->outside[i] : r->inside[i];
			uint32_t a = 0;
			for (struct ifaddrs *ifa = ifs; ifa && !a; ifa = ifa->ifa_next)
				if (ifa->ifa_addr && ifa->ifa_addr->sa_family == AF_INET &&
				    strcmp(ifa->ifa_name, name) == 0)
					a = ntohl(((struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr);
			nat_rules_set_iface_addr(r, name, a);
		}
	}
	freeifaddrs(ifs);
}

/* The core's events as operators' log lines, under "nat", rate-limited per level so
 * that a flood of denies cannot hide the connections (nor the reverse). Nothing is
 * formatted for a level that is off. */
static void on_event(const struct nat_event_info *e, void *arg)
{
	struct nat_io *n = arg;
	int level = nat_log_level(e);
	uint64_t held;
	char line[256];
	if (!log_enabled(LOG_NAT, level))
		return;
	if (!nat_log_allow(&n->lim[level > 1], clock_now_ms(), &held))
		return;
	if (held)
		log_msg(LOG_NAT, level, "%llu NAT log lines held back (more than %u a second)",
			(unsigned long long)held, NAT_LOG_PER_SEC);
	if (nat_log_format(e, line, sizeof(line)))
		log_msg(LOG_NAT, level, "%s", line);
}

static enum nat_verdict translate(void *arg, struct nat_packet *p, enum nat_side side)
{
	struct nat_io *n = arg;
	return nat_shared_translate(&n->sh, p, side, clock_now_ms());
}

/* A SYN, FIN or RST the fast path forwarded: tracked by the core as if queued. */
static void fast_tcp(void *arg, enum nat_side side, const struct nat_key *k, const uint8_t *th,
    size_t thlen, size_t seglen)
{
	struct nat_io *n = arg;
	nat_fast_tcp_hdr(n->table, side, k, th, thlen, seglen, clock_now_ms());
}

/* A flow the fast path made from its SYN: the core's from now on. */
static int fast_adopt(void *arg, const struct nat_fast_new *nw)
{
	struct nat_io *n = arg;
	return nat_flow_adopt(n->table, nw, clock_now_ms());
}

static void on_fast_events(evutil_socket_t fd, short what, void *arg)
{
	struct nat_io *n = arg;
	struct nat_fast_handlers h = { fast_tcp, fast_adopt, n };
	nat_shared_lock(&n->sh);
	nat_fast_read_events(n->fast, &h);
	nat_shared_unlock(&n->sh);
}

/* What the fast path's program forwards itself (NAT_FAST_FWD_*, see
 * nat_fast.bpf.c forward()): every packet it rewrites while no netfilter rule
 * but tsunagid's own would see a forwarded packet, which is asked of the kernel
 * each time (a netlink dump: without the table lock); else none, or with
 * fastpath = redirect established flows'. A change is logged. */
static uint32_t fast_forwards(struct nat_io *n)
{
	uint8_t mode = n->rules->fastpath_forward;
	if (!n->fast)
		return NAT_FAST_FWD_NONE;
	struct nat_fw_verdict v = { .why = "fastpath = rewrite" };
	if (mode != NAT_FWD_NEVER)
		nat_fw_check(&v);
	uint32_t fwd = v.quiet ? NAT_FAST_FWD_ALL :
		       mode == NAT_FWD_ALWAYS ? NAT_FAST_FWD_EST : NAT_FAST_FWD_NONE;
	if (fwd != n->fwd || strcmp(v.why, n->fwd_why) != 0) {
		static const char *what[] = {
			[NAT_FAST_FWD_NONE] = "the kernel forwards every packet",
			[NAT_FAST_FWD_ALL] = "the fast path forwards the flows it rewrites itself",
			[NAT_FAST_FWD_EST] = "the fast path forwards established flows itself, "
					     "their first packets and SYN/FIN/RST the kernel",
		};
		log_info(LOG_NAT, "NAT forwarding: %s (%s)", what[fwd],
			 v.quiet ? "no other netfilter rule would see them" : v.why);
		n->fwd = fwd;
		snprintf(n->fwd_why, sizeof(n->fwd_why), "%s", v.why);
	}
	return fwd;
}

/* The rules as the fast path may apply them alone (again when an interface
 * address changed; written only when the plan did); fwd: fast_forwards(). Under
 * the table lock. */
static void fast_plan(struct nat_io *n, uint32_t fwd)
{
	static struct nat_fast_plan p;	/* 16 KB: the event loop's thread only */
	if (!n->fast)
		return;
	if (nat_fast_plan(n->rules, &p) < 0)
		log_err(LOG_NAT, "fast path: more than %d source networks in the rules; "
			"every new flow goes to the queue", NAT_PLAN_NETS);
	if (nat_fast_set_plan(n->fast, &p, n->rules, fwd) < 0)
		log_err(LOG_NAT, "fast path: cannot write its plan: %s", strerror(errno));
}

/* The table's lock is taken per entry asked about: the walk of the map itself
 * (a system call per entry) must not stall the queues' threads. */
static bool fast_known(void *arg, const struct nat_fast_entry *e)
{
	struct nat_io *n = arg;
	nat_shared_lock(&n->sh);
	bool known = nat_fast_known(n->table, e);
	nat_shared_unlock(&n->sh);
	return known;
}

/* Once a minute (or once a TCP timeout, when shorter): entries the program made
 * that the core does not know (there should be none) go when idle for the TCP
 * timeout. Without the lock. */
static void fast_sweep(struct nat_io *n, uint64_t now)
{
	uint64_t idle = (uint64_t)n->rules->timeouts.tcp * 1000;
	if (!n->fast || now < n->sweep_ms + (idle < 60000 ? idle : 60000))
		return;
	n->sweep_ms = now;
	size_t gone = nat_fast_sweep(n->fast, fast_known, n, now, idle);
	if (gone)
		log_err(LOG_NAT, "fast path: %zu entries of flows the core did not know removed", gone);
}

static void on_queue(evutil_socket_t fd, short what, void *arg)
{
	struct nat_io *n = arg;
	nat_queue_run(n->q[0], 16);
}

/* A queue's thread: reads until told to stop (looked at every 100 ms). */
static void *worker(void *arg)
{
	struct nat_worker *w = arg;
	struct pollfd pfd = { .fd = nat_queue_fd(w->q), .events = POLLIN };
	while (!atomic_load(&w->n->stop)) {
		if (poll(&pfd, 1, 100) > 0)
			nat_queue_run(w->q, 16);
		nat_shared_lock(&w->n->sh);
		w->pub = *nat_queue_stats(w->q);
		nat_shared_unlock(&w->n->sh);
	}
	return NULL;
}

static void threads_stop(struct nat_io *n)
{
	atomic_store(&n->stop, true);
	for (int i = 0; i < n->nq; i++) {
		if (n->w[i].running)
			pthread_join(n->w[i].th, NULL);
		n->w[i].running = false;
	}
}

static int threads_start(struct nat_io *n)
{
	if (n->nq < 2)
		return 0;
	atomic_store(&n->stop, false);
	for (int i = 0; i < n->nq; i++) {
		n->w[i].n = n;
		n->w[i].q = n->q[i];
		if (pthread_create(&n->w[i].th, NULL, worker, &n->w[i]) != 0) {
			log_err(LOG_NAT, "cannot start the thread of NAT queue %d", i);
			threads_stop(n);
			return -1;
		}
		n->w[i].running = true;
	}
	return 0;
}

/* The queues' statistics summed (all are uint64_t). */
static void queue_stats(struct nat_io *n, struct nat_queue_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (n->nq < 2) {
		if (n->q[0])
			*s = *nat_queue_stats(n->q[0]);
		return;
	}
	uint64_t *sv = (uint64_t *)s;
	for (int i = 0; i < n->nq; i++) {
		const uint64_t *wv = (const uint64_t *)&n->w[i].pub;
		for (size_t k = 0; k < sizeof(*s) / sizeof(uint64_t); k++)
			sv[k] += wv[k];
	}
}

/* Once a second: idle flows end, interface addresses are looked at again. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct nat_io *n = arg;
	uint32_t fwd = fast_forwards(n);
	nat_shared_lock(&n->sh);
	refresh_addrs(n->rules);
	fast_plan(n, fwd);
	nat_expire(n->table, clock_now_ms());
	struct nat_queue_stats st;
	struct nat_counters c;
	queue_stats(n, &st);
	nat_table_counters(n->table, &c);
	nat_shared_unlock(&n->sh);
	fast_sweep(n, clock_now_ms());
	if (log_enabled(LOG_NAT, 3)) {
		const struct nat_queue_stats *s = &st;
		log_raw(LOG_NAT, "queue: %llu packets, %llu rewritten, %llu dropped, %llu bad; "
			"flows %llu, no rule %llu, no flow %llu, malformed %llu",
			(unsigned long long)s->packets, (unsigned long long)s->rewritten,
			(unsigned long long)s->dropped, (unsigned long long)s->bad,
			(unsigned long long)c.flows_active, (unsigned long long)c.drop_no_rule,
			(unsigned long long)c.drop_no_flow, (unsigned long long)c.drop_malformed);
	}
}

static const char *const *outside_names(const struct nat_rules *r, const char *out[])
{
	size_t i = 0;
	for (; i < r->n_outside && i < NAT_QUEUE_MAX_IFS; i++)
		out[i] = r->outside[i];
	out[i] = NULL;
	return out;
}

void nat_io_close(struct daemon *d)
{
	struct nat_io *n = d->nat;
	if (!n)
		return;
	if (n->fw)
		fw_remove(n);
	threads_stop(n);
	if (n->ev_fast)
		event_free(n->ev_fast);
	if (n->ev_fast_poll)
		event_free(n->ev_fast_poll);
	if (n->table)
		nat_table_set_fast(n->table, NULL, NULL);
	nat_fast_close(n->fast);
	if (n->ev_q)
		event_free(n->ev_q);
	if (n->ev_timer)
		event_free(n->ev_timer);
	for (int i = 0; i < NAT_MAX_QUEUES; i++)
		nat_queue_close(n->q[i]);
	if (n->sh_ok)
		nat_shared_destroy(&n->sh);
	if (n->table)
		nat_table_free(n->table);
	nat_rules_free(n->rules);
	free(n);
	d->nat = NULL;
	log_info(LOG_NAT, "NAT stopped");
}

static int nat_io_open(struct daemon *d, struct nat_rules *rules)
{
	struct nat_io *n = calloc(1, sizeof(*n));
	if (!n) {
		nat_rules_free(rules);
		return -1;
	}
	d->nat = n;
	n->rules = rules;
	/* nat { queue firewall } unless tsunagid's flags said otherwise. */
	if (!d->nat_queue_flag)
		d->nat_queue_num = rules->queue;
	if (!d->nat_fw_flag)
		d->nat_manual_fw = rules->firewall_manual;
	refresh_addrs(rules);
	inside_sysctls(rules);
	n->table = nat_table_new(rules, rules->max_flows);
	n->lim[0].limit = n->lim[1].limit = NAT_LOG_PER_SEC;
	if (n->table)
		nat_table_set_events(n->table, on_event, n);
	n->sh_ok = n->table && nat_shared_init(&n->sh, n->table) == 0;
	if (!n->sh_ok || (unsigned)d->nat_queue_num + rules->queues - 1 > 65535) {
		log_err(LOG_NAT, "cannot set up the NAT table (queues %u from %u)", rules->queues,
			d->nat_queue_num);
		nat_io_close(d);
		return -1;
	}
	if (rules->fastpath && (n->fast = nat_fast_open(rules)) != NULL) {
		nat_table_set_fast(n->table, &nat_fast_ops, n->fast);
		nat_table_set_fast_ports(n->table, NAT_FAST_PORT_LO, 65535);
		fast_plan(n, fast_forwards(n));
		n->ev_fast = event_new(d->base, nat_fast_event_fd(n->fast), EV_READ | EV_PERSIST,
				       on_fast_events, n);
		n->ev_fast_poll = event_new(d->base, -1, EV_PERSIST, on_fast_events, n);
		struct timeval poll = { 0, NAT_FAST_POLL_MS * 1000 };
		if (!n->ev_fast || event_add(n->ev_fast, NULL) < 0 || !n->ev_fast_poll ||
		    event_add(n->ev_fast_poll, &poll) < 0) {
			nat_io_close(d);
			return -1;
		}
	}
	n->nq = rules->queues;
	const char *names[NAT_QUEUE_MAX_IFS + 1];
	for (int i = 0; i < n->nq; i++) {
		uint16_t num = (uint16_t)(d->nat_queue_num + i);
		n->q[i] = nat_queue_open(num, outside_names(rules, names), translate, n);
		if (!n->q[i]) {
			log_err(LOG_NAT, "cannot bind NFQUEUE %u: %s", num, strerror(errno));
			nat_io_close(d);
			return -1;
		}
	}
	if (n->nq == 1) {
		n->ev_q = event_new(d->base, nat_queue_fd(n->q[0]), EV_READ | EV_PERSIST, on_queue, n);
		if (!n->ev_q || event_add(n->ev_q, NULL) < 0) {
			nat_io_close(d);
			return -1;
		}
	}
	n->ev_timer = event_new(d->base, -1, EV_PERSIST, on_timer, n);
	struct timeval sec = { 1, 0 };
	if (!n->ev_timer || event_add(n->ev_timer, &sec) < 0 || threads_start(n) < 0 ||
	    (!d->nat_manual_fw && fw_install(d, n) < 0)) {
		nat_io_close(d);
		return -1;
	}
	log_info(LOG_NAT, "NAT on queue %u (%d queues): %zu rules, %zu inside and %zu outside "
		 "interfaces, up to %zu flows", d->nat_queue_num, n->nq, rules->n_rules, rules->n_inside,
		 rules->n_outside, rules->max_flows);
	return 0;
}

/* Reload: new rules for new flows; the flows and their table stay. */
static int nat_io_reload(struct daemon *d, struct nat_rules *rules)
{
	struct nat_io *n = d->nat;
	if (rules->max_flows != n->rules->max_flows)
		log_err(LOG_NAT, "max_flows changes at the next start (the table keeps %zu)",
			n->rules->max_flows);
	if (rules->queues != n->nq)
		log_err(LOG_NAT, "queues changes at the next start (%d now)", n->nq);
	rules->queues = (uint16_t)n->nq;	/* and the queue rules keep matching */
	if (rules->fastpath != n->rules->fastpath)
		log_err(LOG_NAT, "fastpath changes at the next start (%s now)",
			n->rules->fastpath ? "yes" : "no");
	rules->fastpath = n->rules->fastpath;
	refresh_addrs(rules);
	inside_sysctls(rules);
	/* The queues' threads read the outside interfaces: they pause meanwhile. */
	threads_stop(n);
	nat_shared_lock(&n->sh);
	nat_table_set_rules(n->table, rules);
	nat_rules_free(n->rules);
	n->rules = rules;
	fast_plan(n, fast_forwards(n));
	nat_shared_unlock(&n->sh);
	/* nat_table_set_rules restarts the per-rule counters, not the global ones. */
	const char *names[NAT_QUEUE_MAX_IFS + 1];
	for (int i = 0; i < n->nq; i++)
		nat_queue_set_outside(n->q[i], outside_names(rules, names));
	if (n->fast)
		nat_fast_attach(n->fast, rules);
	threads_start(n);
	if (!d->nat_manual_fw)
		fw_install(d, n);
	log_info(LOG_NAT, "NAT rules reloaded: %zu rules (existing flows keep theirs)",
		 rules->n_rules);
	return 0;
}

int nat_io_apply(struct daemon *d, struct nat_rules **rules)
{
	struct nat_rules *r = *rules;
	*rules = NULL;
	if (!r) {
		nat_io_close(d);
		return 0;
	}
	return d->nat ? nat_io_reload(d, r) : nat_io_open(d, r);
}

struct nat_table *nat_io_table(const struct daemon *d) { return d->nat ? d->nat->table : NULL; }

/* Around the views' own uses of nat_io_table (walk, flush). */
void nat_io_lock(const struct daemon *d)
{
	if (d->nat)
		nat_shared_lock(&d->nat->sh);
}

void nat_io_unlock(const struct daemon *d)
{
	if (d->nat)
		nat_shared_unlock(&d->nat->sh);
}

/* Counters since the last reset: the core's own never go back (they are its
 * state), so the shell keeps a baseline, field by field (all are uint64_t). */
void nat_io_counters(const struct daemon *d, struct nat_counters *c, struct nat_queue_stats *q)
{
	memset(c, 0, sizeof(*c));
	memset(q, 0, sizeof(*q));
	if (!d->nat)
		return;
	nat_shared_lock(&d->nat->sh);
	nat_table_counters(d->nat->table, c);
	queue_stats(d->nat, q);
	nat_shared_unlock(&d->nat->sh);
	uint64_t *cv = (uint64_t *)c, *qv = (uint64_t *)q;
	const uint64_t *cb = (const uint64_t *)&d->nat->base, *qb = (const uint64_t *)&d->nat->qbase;
	uint64_t active = c->flows_active;
	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		cv[i] -= cb[i];
	c->flows_active = active;	/* gauges */
	c->pinholes_active += cb[offsetof(struct nat_counters, pinholes_active) / sizeof(uint64_t)];
	for (size_t i = 0; i < sizeof(*q) / sizeof(uint64_t); i++)
		qv[i] -= qb[i];
}

/* One inspection engine's counters since the last reset; -1 past the last engine. */
int nat_io_insp_counters(const struct daemon *d, size_t id, struct nat_insp_counters *c)
{
	memset(c, 0, sizeof(*c));
	if (id >= nat_engine_count())
		return -1;
	if (!d->nat)
		return 0;
	nat_shared_lock(&d->nat->sh);
	nat_table_insp_counters(d->nat->table, id, c);
	nat_shared_unlock(&d->nat->sh);
	uint64_t *cv = (uint64_t *)c;
	const uint64_t *cb = (const uint64_t *)&d->nat->ibase[id];
	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		cv[i] -= cb[i];
	return 0;
}

/* What the fast path did with SYNs from inside, since the last reset. */
void nat_io_fast_stats(const struct daemon *d, uint64_t out[])
{
	memset(out, 0, NAT_FAST_STATS * sizeof(out[0]));
	if (!d->nat || !d->nat->fast)
		return;
	nat_fast_stats(d->nat->fast, out);
	for (int i = 0; i < NAT_FAST_STATS; i++)
		out[i] -= d->nat->fbase[i];
}

void nat_io_reset_counters(struct daemon *d)
{
	if (!d->nat)
		return;
	if (d->nat->fast)
		nat_fast_stats(d->nat->fast, d->nat->fbase);
	nat_shared_lock(&d->nat->sh);
	for (size_t i = 0; i < nat_engine_count(); i++)
		nat_table_insp_counters(d->nat->table, i, &d->nat->ibase[i]);
	nat_table_counters(d->nat->table, &d->nat->base);
	queue_stats(d->nat, &d->nat->qbase);
	nat_shared_unlock(&d->nat->sh);
}
