/* tsunagid: the IPsec gateway daemon. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <ifaddrs.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/daemon.h"
#include "lib/log.h"
#include "nat/nat_rules.h"
#include "lib/log_journal.h"
#include "lib/log_json.h"

#define DEFAULT_CONFIG SYSCONFDIR "/tsunagi/tsunagi.conf"
#define DEFAULT_PIDFILE TSUNAGI_RUN_DIR "/tsunagid.pid"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tsunagid [--foreground] [--config FILE] [--vici URI] [--pidfile PATH]\n"
		"                [--debug] [--log SUBSYS=LEVEL]... [--log-format text|json]\n"
		"                [--nat-queue N] [--nat-firewall auto|manual]\n"
		"  --config FILE   swanctl.conf syntax (default %s)\n"
		"  --vici URI      control socket (default %s)\n"
		"  --pidfile PATH  (default %s)\n"
		"  --foreground    do not detach; log to stderr\n"
		"  --debug         log level 2 for every subsystem\n"
		"  --log ike=2     level of one subsystem (dmn ike cfg net enc esp knl nat vici)\n"
		"  --log-format json  one JSON object per log line (time, level, subsystem,\n"
		"                  message, connection, ike_sa, peer, child, child_sa)\n"
		"  --nat-queue N   NFQUEUE number of the NAT (default: nat { queue }, else 0)\n"
		"  --nat-firewall manual  do not install the raw-table rules that queue the\n"
		"                  NAT interfaces' packets (auto: installed at start,\n"
		"                  removed at exit; --nat-rules prints them; default:\n"
		"                  nat { firewall }, else auto)\n"
		"  --nat-rules     print those rules for the configuration and exit\n",
		DEFAULT_CONFIG, VICI_DEFAULT_URI, DEFAULT_PIDFILE);
}

/* "local address 198.51.100.9 is not assigned to any interface": a connection that
 * can never send from its configured address, said at load time with file:line. */
static void warn_unassigned_local_addrs(const struct config *cfg)
{
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs) < 0)
		return;
	for (const struct conn_cfg *c = cfg->conns; c; c = c->next) {
		for (size_t i = 0; i < c->n_local_addrs; i++) {
			struct addr want, have;
			bool found = false;
			if (addr_parse(c->local_addrs[i], &want) < 0)
				continue;
			for (struct ifaddrs *ifa = ifs; ifa && !found; ifa = ifa->ifa_next) {
				if (!ifa->ifa_addr)
					continue;
				addr_from_sockaddr(&have, ifa->ifa_addr);
				found = addr_equal_ip(&want, &have);
			}
			if (!found)
				log_err(LOG_CFG, "%s:%d: connection '%s': local address %s is not "
					"assigned to any interface", c->file ? c->file : "?", c->line,
					c->name, c->local_addrs[i]);
		}
	}
	freeifaddrs(ifs);
}

/* The daemon listens on the IKE and NAT-T ports of its settings only. */
static void warn_unserved_ports(const struct config *cfg, const struct daemon_cfg *s)
{
	for (const struct conn_cfg *c = cfg->conns; c; c = c->next)
		if (c->local_port && c->local_port != s->ike_port && c->local_port != s->ike_port_natt)
			log_err(LOG_CFG, "%s:%d: connection '%s': local_port %u is not one tsunagid "
				"listens on (%u, %u; see tsunagi { port, port_nat_t })",
				c->file ? c->file : "?", c->line, c->name, c->local_port, s->ike_port,
				s->ike_port_natt);
}

static void load_warnings(const struct config *cfg, const struct daemon_cfg *s)
{
	warn_unserved_ports(cfg, s);
	warn_unassigned_local_addrs(cfg);
	config_warn_overlaps(cfg->conns);
	config_warn_mm_psk(cfg);
}

static void apply_log_levels(const struct daemon_cfg *s)
{
	for (int i = 0; i < LOG_SUBSYS_COUNT; i++)
		if (s->log_level[i] != -2)
			log_set_level((enum log_subsys)i, s->log_level[i]);
}

int daemon_reload(struct daemon *d)
{
	char err[512];
	struct config *cfg = config_load_file(d->config_path, err, sizeof(err));
	if (!cfg) {
		log_err(LOG_CFG, "%s; keeping the running configuration", err);
		return -1;
	}
	apply_log_levels(&cfg->daemon);
	load_warnings(cfg, &d->settings);
	metrics_http_apply(d, &cfg->daemon.metrics_listen);
	nat_io_apply(d, &cfg->daemon.nat);
	log_info(LOG_CFG, "loaded configuration %s", d->config_path);
	conn_disabled_reload(d, cfg);
	ike_load_config(d->ike, cfg, clock_now_ms());
	daemon_schedule(d, ike_tick(d->ike, clock_now_ms()));
	return 0;
}

/* --nat-rules: what an operator with --nat-firewall=manual installs. */
static int print_nat_rules(const struct daemon *d)
{
	char err[512];
	struct config *cfg = config_load_file(d->config_path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "tsunagid: %s\n", err);
		return 1;
	}
	char *text = cfg->daemon.nat ? nat_io_rules(cfg->daemon.nat,
		d->nat_queue_flag ? d->nat_queue_num : cfg->daemon.nat->queue,
		cfg->daemon.ike_port, cfg->daemon.ike_port_natt) : NULL;
	if (text)
		fputs(text, stdout);
	else
		fprintf(stderr, "tsunagid: no tsunagi { nat { } } section in %s\n", d->config_path);
	free(text);
	config_free(cfg);
	return text ? 0 : 1;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	if (sig == SIGHUP) {
		log_info(LOG_DMN, "SIGHUP: reloading %s", d->config_path);
		daemon_reload(d);
		return;
	}
	log_info(LOG_DMN, "signal %d: shutting down", (int)sig);
	d->shutting_down = true;
	event_base_loopbreak(d->base);
}

/* The default socket and pidfile live in TSUNAGI_RUN_DIR. Under systemd the unit's
 * RuntimeDirectory= makes it; started by hand, the daemon does. */
static void make_run_dir(const char *vici_uri, const char *pidfile)
{
	size_t n = strlen(TSUNAGI_RUN_DIR "/");
	if (strncmp(vici_uri, "unix://" TSUNAGI_RUN_DIR "/", strlen("unix://") + n) != 0 &&
	    strncmp(pidfile, TSUNAGI_RUN_DIR "/", n) != 0)
		return;
	if (mkdir(TSUNAGI_RUN_DIR, 0750) < 0 && errno != EEXIST)
		log_err(LOG_DMN, "unable to create %s: %s", TSUNAGI_RUN_DIR, strerror(errno));
}

static void give_to_group(const char *path, gid_t gid, mode_t mode)
{
	if (chown(path, (uid_t)-1, gid) < 0 || chmod(path, mode) < 0)
		log_err(LOG_DMN, "unable to give %s to group %s (mode %o): %s", path, TSUNAGI_GROUP,
			(unsigned)mode, strerror(errno));
}

/* When the group TSUNAGI_GROUP exists, its members may control the daemon without
 * being root: the VICI socket becomes root:tsunagi 0660 and the default runtime
 * directory root:tsunagi 0750 (under systemd, Group=tsunagi does the same). Without
 * the group, only root may. */
static void share_with_group(const char *vici_uri)
{
	char path[256];
	struct group *gr = getgrnam(TSUNAGI_GROUP);
	if (!gr || vici_uri_path(vici_uri, path, sizeof(path)) < 0)
		return;
	if (strncmp(path, TSUNAGI_RUN_DIR "/", strlen(TSUNAGI_RUN_DIR "/")) == 0)
		give_to_group(TSUNAGI_RUN_DIR, gr->gr_gid, 0750);
	give_to_group(path, gr->gr_gid, 0660);
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		log_err(LOG_DMN, "unable to write pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	return 0;
}

static int setup(struct daemon *d)
{
	char err[512];
	struct config *cfg = config_load_file(d->config_path, err, sizeof(err));
	if (!cfg) {
		log_err(LOG_CFG, "%s", err);
		return -1;
	}
	d->settings = cfg->daemon;
	d->settings.nat = NULL;	/* nat_io takes cfg->daemon.nat below */
	apply_log_levels(&d->settings);
	load_warnings(cfg, &d->settings);

	struct esp_engine_cfg ec = { 0 };
	ec.tun_name = d->settings.tun_name;
	ec.natt_port = d->settings.ike_port_natt;
	ec.threads = d->settings.esp_threads;
	ec.mtu = d->settings.esp_mtu;
	ec.mss = d->settings.esp_mss;
	ec.no_offload = d->settings.esp_no_offload;
	d->esp = esp_engine_new(&ec);
	/* The copied settings' strings belong to cfg, which is freed after loading. */
	d->settings.tun_name = NULL;
	if (!d->esp) {
		config_free(cfg);
		return -1;
	}
	if (ike_io_open(d) < 0) {
		config_free(cfg);
		return -1;
	}
	struct ike_env env;
	struct ike_timing t = {
		.retransmit_timeout_ms = d->settings.retransmit_timeout_ms,
		.retransmit_base = d->settings.retransmit_base,
		.retransmit_tries = d->settings.retransmit_tries,
		.natt_keepalive_s = d->settings.natt_keepalive,
		.port = d->settings.ike_port,
		.port_natt = d->settings.ike_port_natt,
		.half_open_timeout_s = 30,
		.cookie_threshold = 30,
		.fragment_size = d->settings.fragment_size,
	};
	ike_io_env(d, &env);
	d->ike = ike_new(&env, &t);
	d->vici = vici_server_new(d->base, d->vici_uri, NULL, err, sizeof(err));
	if (!d->ike || !d->vici) {
		log_err(LOG_DMN, "unable to start the VICI server on %s: %s", d->vici_uri, err);
		config_free(cfg);
		return -1;
	}
	ctl_register(d);
	/* A metrics listener that cannot open is logged; the gateway runs without it. */
	metrics_http_apply(d, &cfg->daemon.metrics_listen);
	/* NAT that cannot start is an error: the LAN would be cut off silently. */
	if (cfg->daemon.nat && nat_io_apply(d, &cfg->daemon.nat) < 0) {
		config_free(cfg);
		return -1;
	}
	ike_load_config(d->ike, cfg, clock_now_ms());
	daemon_schedule(d, ike_tick(d->ike, clock_now_ms()));
	return 0;
}

static void teardown(struct daemon *d)
{
	metrics_http_close(d);	/* before the state it reads goes */
	log_json_set_state_fn(NULL, NULL);	/* it reads the IKE core too */
	nat_io_close(d);	/* its iptables rules go with it */
	if (d->ike)
		ike_free(d->ike, clock_now_ms());
	if (d->vici) {
		ctl_unregister(d);
		vici_server_free(d->vici);
		d->vici = NULL;
	}
	ike_io_close(d);
	if (d->esp)
		esp_engine_free(d->esp);
	free(d->baselines);
	conn_disabled_free(d);
	struct event *evs[] = { d->ev_sigterm, d->ev_sigint, d->ev_sighup };
	for (size_t i = 0; i < 3; i++)
		if (evs[i])
			event_free(evs[i]);
	event_base_free(d->base);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "vici", required_argument, NULL, 'v' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "debug", no_argument, NULL, 'd' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "nat-queue", required_argument, NULL, 'Q' },
		{ "nat-firewall", required_argument, NULL, 'W' },
		{ "nat-rules", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { .ike_fd = -1 };
	const char *pidfile = DEFAULT_PIDFILE;
	bool foreground = false, print_rules = false;
	int c;

	d.config_path = DEFAULT_CONFIG;
	d.vici_uri = VICI_DEFAULT_URI;
	while ((c = getopt_long(argc, argv, "fc:v:p:dl:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 'c': d.config_path = optarg; break;
		case 'v': d.vici_uri = optarg; break;
		case 'p': pidfile = optarg; break;
		case 'd': log_set_all_levels(2); break;
		case 'l': {
			char name[16];
			int level;
			if (sscanf(optarg, "%15[a-z]=%d", name, &level) != 2 ||
			    log_subsys_parse(name) < 0) {
				fprintf(stderr, "tsunagid: bad --log '%s' (want e.g. ike=2)\n", optarg);
				return 2;
			}
			log_set_level((enum log_subsys)log_subsys_parse(name), level);
			break;
		}
		case 'F':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "tsunagid: bad --log-format '%s' (text or json)\n", optarg);
				return 2;
			}
			log_use_json(strcmp(optarg, "json") == 0);
			break;
		case 'Q': {
			char *end;
			unsigned long q = strtoul(optarg, &end, 10);
			if (*end || q > 65535) {
				fprintf(stderr, "tsunagid: bad --nat-queue '%s' (0..65535)\n", optarg);
				return 2;
			}
			d.nat_queue_num = (uint16_t)q;
			d.nat_queue_flag = true;
			break;
		}
		case 'W':
			if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "manual") != 0) {
				fprintf(stderr, "tsunagid: bad --nat-firewall '%s' (auto or manual)\n", optarg);
				return 2;
			}
			d.nat_manual_fw = strcmp(optarg, "manual") == 0;
			d.nat_fw_flag = true;
			break;
		case 'R': print_rules = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (print_rules)
		return print_nat_rules(&d);
	if (sodium_init() < 0) {
		fprintf(stderr, "tsunagid: libsodium failed to initialise\n");
		return 1;
	}
	/* Under systemd stderr is the journal's stream: talk to journald directly so
	 * that the subsystem is a field of each entry (JSON lines stay on stderr). */
	if (foreground && log_journal_stream_is_stderr())
		log_use_journal(LOG_JOURNAL_SOCKET);
	if (!foreground) {
		if (daemon(0, 0) < 0) {
			perror("daemon");
			return 1;
		}
		log_use_stderr(false);
		log_use_syslog(true, "tsunagid");
	}
	signal(SIGPIPE, SIG_IGN);
	/* Keys live in the heap of this process: keep all of it out of swap. Without
	 * CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK this fails, and we say so. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		log_err(LOG_DMN, "could not lock memory, keys may be swapped out: %s",
			strerror(errno));
	d.base = event_base_new();
	if (!d.base)
		return 1;
	d.ev_sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	d.ev_sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	d.ev_sighup = evsignal_new(d.base, SIGHUP, on_signal, &d);
	event_add(d.ev_sigterm, NULL);
	event_add(d.ev_sigint, NULL);
	event_add(d.ev_sighup, NULL);
	log_info(LOG_DMN, "tsunagid %s starting", PACKAGE_VERSION);
	make_run_dir(d.vici_uri, pidfile ? pidfile : "");
	if (setup(&d) < 0) {
		teardown(&d);
		return 1;
	}
	share_with_group(d.vici_uri);
	if (pidfile && *pidfile)
		write_pidfile(pidfile);
	event_base_dispatch(d.base);
	teardown(&d);
	if (pidfile && *pidfile)
		unlink(pidfile);
	log_info(LOG_DMN, "tsunagid stopped");
	return 0;
}
