/* A gateway without IKE, for namespace tests of the ESP engine's real I/O: starts an
 * engine (TUN device, raw ESP and NAT-T sockets, threads) and installs one pair of
 * SAs and policies through PF_KEY, as ike/ would. Keys are derived from the SPIs, so
 * two nodes started with mirrored arguments talk to each other. Test use only.
 *
 *   esp_node --local 192.0.2.1 --remote 192.0.2.2 --lnet 10.1.0.0/16 \
 *            --rnet 10.2.0.0/16 --spi-out 0x1001 --spi-in 0x2002 [--udp] [--tun NAME]
 *
 * Runs until SIGTERM/SIGINT, then prints the SA counters and exits. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/esp_engine.h"
#include "lib/log.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_reply(void *arg, const uint8_t *msg, size_t len)
{
	int *err = arg;
	if (len >= sizeof(struct sadb_msg) && ((const struct sadb_msg *)msg)->sadb_msg_errno)
		*err = ((const struct sadb_msg *)msg)->sadb_msg_errno;
}

static int send_msg(struct esp_engine *e, struct buf *b)
{
	int err = 0;
	struct pfkey_endpoint ep = { .deliver = on_reply, .arg = &err };
	esp_engine_pfkey_input(e, b->data, b->len, &ep);
	buf_wipe_free(b);
	return err;
}

static int add_sa(struct esp_engine *e, uint32_t spi, const struct addr *src,
		  const struct addr *dst, bool udp)
{
	struct pfkey_sa p;
	memset(&p, 0, sizeof(p));
	p.spi = spi;
	p.satype = SADB_SATYPE_ESP;
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = 1;
	p.src = *src;
	p.dst = *dst;
	p.ealg = SADB_X_EALG_AES_GCM_ICV16;
	p.ekey_len = 36;
	for (int i = 0; i < 36; i++)
		p.ekey[i] = (uint8_t)(spi * 31 + (uint32_t)i);	/* test keys, not secret */
	p.replay_window = 1024;
	if (udp) {
		p.natt_type = UDP_ENCAP_ESPINUDP;
		p.natt_sport = p.natt_dport = 4500;
	}
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, SADB_ADD, 1, &p);
	return send_msg(e, &b);
}

static int add_policy(struct esp_engine *e, uint8_t dir, const struct selector *src,
		      const struct selector *dst, const struct addr *tsrc, const struct addr *tdst)
{
	struct pfkey_policy p;
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.type = IPSEC_POLICY_IPSEC;
	p.src = *src;
	p.dst = *dst;
	p.has_sel = true;
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = 1;
	p.tunnel_src = *tsrc;
	p.tunnel_dst = *tdst;
	struct buf b;
	buf_init(&b);
	pfkey_build_policy(&b, SADB_X_SPDADD, 2, &p);
	return send_msg(e, &b);
}

static void usage(void)
{
	fprintf(stderr, "usage: esp_node --local IP --remote IP --lnet NET --rnet NET "
		"--spi-out N --spi-in N [--udp] [--tun NAME] [--threads N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "local", 1, NULL, 'l' }, { "remote", 1, NULL, 'r' }, { "lnet", 1, NULL, 'L' },
		{ "rnet", 1, NULL, 'R' }, { "spi-out", 1, NULL, 'o' }, { "spi-in", 1, NULL, 'i' },
		{ "udp", 0, NULL, 'u' }, { "tun", 1, NULL, 't' }, { "threads", 1, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct addr local = { 0 }, remote = { 0 };
	struct selector lnet, rnet;
	bool have_l = false, have_r = false, udp = false;
	uint32_t spi_out = 0, spi_in = 0;
	struct esp_engine_cfg cfg = { 0 };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': if (addr_parse(optarg, &local) < 0) usage(); break;
		case 'r': if (addr_parse(optarg, &remote) < 0) usage(); break;
		case 'L': if (selector_parse(optarg, &lnet) < 0) usage(); have_l = true; break;
		case 'R': if (selector_parse(optarg, &rnet) < 0) usage(); have_r = true; break;
		case 'o': spi_out = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'i': spi_in = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'u': udp = true; break;
		case 't': cfg.tun_name = optarg; break;
		case 'n': cfg.threads = (unsigned)atoi(optarg); break;
		default: usage();
		}
	}
	if (!local.family || !remote.family || !have_l || !have_r || !spi_out || !spi_in)
		usage();
	log_use_stderr(true);
	log_set_all_levels(1);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	struct esp_engine *e = esp_engine_new(&cfg);
	if (!e)
		return 1;
	int err = add_policy(e, IPSEC_DIR_OUTBOUND, &lnet, &rnet, &local, &remote);
	err = err ? err : add_policy(e, IPSEC_DIR_INBOUND, &rnet, &lnet, &remote, &local);
	err = err ? err : add_sa(e, spi_out, &local, &remote, udp);
	err = err ? err : add_sa(e, spi_in, &remote, &local, udp);
	if (err) {
		fprintf(stderr, "esp_node: PF_KEY set-up failed: %s\n", strerror(err));
		esp_engine_free(e);
		return 1;
	}
	printf("ready %s\n", esp_engine_tun_name(e));
	fflush(stdout);
	while (!stop) {
		struct pollfd pf = { .fd = esp_engine_notify_fd(e), .events = POLLIN };
		poll(&pf, 1, 1000);
		esp_engine_tick(e, clock_now_ms());
		esp_engine_drain(e, NULL);
	}
	struct esp_sa_stats so, si;
	esp_engine_sa_stats(e, spi_out, &remote, &so);
	esp_engine_sa_stats(e, spi_in, &local, &si);
	printf("out packets %llu in packets %llu replay %llu integrity %llu selector %llu\n",
	       (unsigned long long)so.packets, (unsigned long long)si.packets,
	       (unsigned long long)si.replay, (unsigned long long)si.integrity,
	       (unsigned long long)si.selector);
	esp_engine_free(e);
	return 0;
}
