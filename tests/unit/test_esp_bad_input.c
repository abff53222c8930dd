/* Hostile input at the engine's three doors (issue 9): a TUN super-packet whose
 * vnet header or lengths lie, a UDP GRO batch with a truncated segment, and ESP
 * packets with a valid ICV that decrypt to garbage lengths. Each must be dropped
 * and counted, and what follows it must still get through (no stalled queue). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "esp/engine_priv.h"
#include "esp/gso.h"
#include "esp/sad.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "pfkey/pfkey.h"

#define GW_A "192.0.2.1"
#define GW_B "198.51.100.1"
#define SPI 0xa0001

static struct addr A(const char *s)
{
	struct addr a;
	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

/* --- an engine with hooks instead of sockets ------------------------------------------ */

struct fixture {
	struct esp_engine *e;
	struct esp_ctx c;
	unsigned written, sent;
	size_t last_len;
	struct pfkey_endpoint ep;
	int last_errno;
};

static void hook_net(void *arg, const struct addr *src, const struct addr *dst, bool udp,
		     const uint8_t *pkt, size_t len)
{
	struct fixture *f = arg;
	f->sent++;
}

static void hook_tun(void *arg, const uint8_t *pkt, size_t len)
{
	struct fixture *f = arg;
	f->written++;
	f->last_len = len;
}

static void deliver(void *arg, const uint8_t *msg, size_t len)
{
	struct fixture *f = arg;
	if (len >= sizeof(struct sadb_msg))
		f->last_errno = ((const struct sadb_msg *)msg)->sadb_msg_errno;
}

static struct pfkey_sa gcm_sa(bool udp)
{
	struct pfkey_sa p;
	memset(&p, 0, sizeof(p));
	p.spi = SPI;
	p.satype = SADB_SATYPE_ESP;
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = 1;
	p.src = A(GW_A);
	p.dst = A(GW_B);
	p.ealg = SADB_X_EALG_AES_GCM_ICV16;
	p.ekey_len = 20;
	for (int i = 0; i < 20; i++)
		p.ekey[i] = (uint8_t)(0x40 + i);
	p.replay_window = 64;
	if (udp) {
		p.natt_type = UDP_ENCAP_ESPINUDP;
		p.natt_sport = p.natt_dport = 4500;
	}
	return p;
}

/* The engine holds the SA as the receiver (B); an SA of our own with the same keys
 * seals what we want it to decrypt. */
static struct fixture *fixture_new(bool udp)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct esp_engine_cfg cfg = {
		.no_io = true, .net_send = hook_net, .tun_write = hook_tun, .hook_arg = f,
	};
	f->e = esp_engine_new(&cfg);
	assert_non_null(f->e);
	esp_engine_tick(f->e, clock_now_ms());
	f->ep.deliver = deliver;
	f->ep.arg = f;
	struct pfkey_sa p = gcm_sa(udp);
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, SADB_ADD, 1, &p);
	f->last_errno = -1;
	esp_engine_pfkey_input(f->e, b.data, b.len, &f->ep);
	buf_wipe_free(&b);
	assert_int_equal(f->last_errno, 0);
	assert_int_equal(ctx_init(&f->c, f->e, false), 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	ctx_free(&f->c);
	esp_engine_free(f->e);
	free(f);
}

static struct sa *sealer(bool udp)
{
	struct pfkey_sa p = gcm_sa(udp);
	char err[128];
	struct sa *sa = sa_new(&p, false, clock_now_ms(), err, sizeof(err));
	assert_non_null(sa);
	return sa;
}

/* ESP of inner (whatever it holds) under nh, written to out. */
static size_t seal(struct sa *sa, const uint8_t *inner, size_t len, uint8_t nh, uint8_t *out,
		   size_t cap)
{
	ssize_t n = esp_encap(&sa->out, inner, len, nh, out, cap);
	assert_true(n > 0);
	return (size_t)n;
}

static struct esp_sa_stats sa_stats(struct fixture *f)
{
	struct esp_sa_stats st;
	struct addr d = A(GW_B);
	assert_int_equal(esp_engine_sa_stats(f->e, SPI, &d, &st), 0);
	return st;
}

static uint64_t sa_errors(struct fixture *f)
{
	struct esp_sa_stats st = sa_stats(f);
	return st.replay + st.integrity + st.padding + st.selector + st.other;
}

/* Every drop counted anywhere: the SA's errors, unknown SPIs, malformed packets. */
static uint64_t all_drops(struct fixture *f)
{
	struct esp_engine_stats st;
	esp_engine_stats(f->e, &st);
	return sa_errors(f) + st.no_sa + st.bad_packet;
}

/* An IPv4 UDP packet 10.1.0.5 -> 10.2.0.9 with payload bytes. */
static size_t udp4(uint8_t *p, size_t payload)
{
	size_t len = 28 + payload;
	memset(p, 0, len);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "10.1.0.5", p + 12);
	inet_pton(AF_INET, "10.2.0.9", p + 16);
	put_u16(p + 20, 33333);
	put_u16(p + 22, 7);
	put_u16(p + 24, (uint16_t)(8 + payload));
	return len;
}

/* --- ESP that decrypts to garbage lengths ------------------------------------------ */

static void test_garbage_inner_lengths(void **state)
{
	struct fixture *f = fixture_new(false);
	struct sa *s = sealer(false);
	struct addr src = A(GW_A), dst = A(GW_B);
	uint8_t inner[256], esp[512];
	struct {
		const char *what;
		uint8_t nh;
		size_t len;
	} bad[] = {
		{ "IPv4 total length past the payload", ESP_NH_IPV4, 48 },
		{ "IPv4 total length below its header", ESP_NH_IPV4, 48 },
		{ "IPv4 IHL past the payload", ESP_NH_IPV4, 40 },
		{ "IPv4 IHL below 5", ESP_NH_IPV4, 48 },
		{ "shorter than an IPv4 header", ESP_NH_IPV4, 12 },
		{ "IPv6 payload length past the payload", ESP_NH_IPV6, 60 },
		{ "shorter than an IPv6 header", ESP_NH_IPV6, 30 },
		{ "IPv6 behind next header IPv4", ESP_NH_IPV4, 60 },
		{ "nothing at all", ESP_NH_IPV4, 0 },
		{ "IPv6 extension header past the payload", ESP_NH_IPV6, 48 },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		size_t len = bad[k].len;
		memset(inner, 0, sizeof(inner));
		if (bad[k].nh == ESP_NH_IPV4 && k != 7) {
			udp4(inner, 20);
			switch (k) {
			case 0: put_u16(inner + 2, 1000); break;
			case 1: put_u16(inner + 2, 12); break;
			case 2: inner[0] = 0x4f; put_u16(inner + 2, 40); break;
			case 3: inner[0] = 0x42; break;
			}
		} else {
			inner[0] = 0x60;
			put_u16(inner + 4, k == 9 ? 8 : 1000);
			inner[6] = k == 9 ? 0 : IPPROTO_UDP;	/* hop-by-hop: 8 bytes say 64 */
			inner[40] = IPPROTO_UDP;
			inner[41] = 7;
		}
		size_t n = seal(s, inner, len, bad[k].nh, esp, sizeof(esp));
		uint64_t before = sa_errors(f);
		assert_int_equal(path_input(&f->c, &src, &dst, false, esp, n), ESP_V_DROPPED);
		if (sa_errors(f) != before + 1)
			fail_msg("%s: not counted", bad[k].what);
		assert_int_equal(f->written, 0);
	}
	/* What follows still gets through. */
	size_t len = udp4(inner, 20);
	size_t n = seal(s, inner, len, ESP_NH_IPV4, esp, sizeof(esp));
	assert_int_equal(path_input(&f->c, &src, &dst, false, esp, n), ESP_V_DELIVERED);
	assert_int_equal(f->written, 1);
	assert_int_equal(f->last_len, len);
	assert_int_equal(sa_stats(f).packets, 1);
	sa_free(s);
	fixture_free(f);
}

/* --- UDP GRO batches ---------------------------------------------------------------- */

struct gro_msg {
	struct msghdr m;
	struct sockaddr_in from;
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int))];
	} ctl;
};

/* A datagram as recvmmsg returns it from GW_A:4500, with UDP_GRO's segment size
 * (none if seg is 0) and the flags. */
static struct msghdr *gro_msg(struct gro_msg *g, int seg, int flags)
{
	memset(g, 0, sizeof(*g));
	g->from.sin_family = AF_INET;
	g->from.sin_port = htons(4500);
	inet_pton(AF_INET, GW_A, &g->from.sin_addr);
	g->m.msg_name = &g->from;
	g->m.msg_namelen = sizeof(g->from);
	g->m.msg_flags = flags;
	if (seg) {
		g->m.msg_control = g->ctl.buf;
		g->m.msg_controllen = sizeof(g->ctl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&g->m);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_GRO;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	}
	return &g->m;
}

/* count ESP packets of the same size one after the other in the context's first
 * slot (as recvmmsg leaves a GRO batch); returns their size. */
static size_t gro_batch(struct fixture *f, struct sa *s, unsigned count, size_t *total)
{
	uint8_t *at = f->c.bufs + ESP_HEADROOM, inner[128];
	size_t len = udp4(inner, 40), n = 0;
	*total = 0;
	for (unsigned i = 0; i < count; i++) {
		n = seal(s, inner, len, ESP_NH_IPV4, at + *total, 4096);
		*total += n;
	}
	return n;
}

static void test_udp_gro_truncated(void **state)
{
	struct fixture *f = fixture_new(true);
	struct sa *s = sealer(true);
	uint8_t *p = f->c.bufs + ESP_HEADROOM;
	struct gro_msg g;
	struct esp_engine_stats st;
	size_t total, seg;

	/* Four segments, the last cut short: three delivered, the fourth fails its ICV. */
	seg = gro_batch(f, s, 4, &total);
	io_input_udp(&f->c, gro_msg(&g, (int)seg, 0), p, total - seg / 2);
	assert_int_equal(f->written, 3);
	assert_int_equal(sa_errors(f), 1);

	/* A tail shorter than an ESP header. */
	seg = gro_batch(f, s, 2, &total);
	io_input_udp(&f->c, gro_msg(&g, (int)seg, 0), p, seg + 5);
	assert_int_equal(f->written, 4);
	esp_engine_stats(f->e, &st);
	assert_int_equal(st.bad_packet, 1);

	/* A truncated datagram (MSG_TRUNC): nothing of it is used. */
	seg = gro_batch(f, s, 2, &total);
	io_input_udp(&f->c, gro_msg(&g, (int)seg, MSG_TRUNC), p, total);
	assert_int_equal(f->written, 4);
	esp_engine_stats(f->e, &st);
	assert_int_equal(st.bad_packet, 2);

	/* Segment sizes that lie: 0, and past the datagram, mean one packet; a size that
	 * cuts every segment makes each fail. */
	gro_batch(f, s, 1, &total);
	io_input_udp(&f->c, gro_msg(&g, 0x7fffffff, 0), p, total);
	assert_int_equal(f->written, 5);
	gro_batch(f, s, 1, &total);
	io_input_udp(&f->c, gro_msg(&g, -5, 0), p, total);
	assert_int_equal(f->written, 6);
	uint64_t before = all_drops(f);
	seg = gro_batch(f, s, 2, &total);
	io_input_udp(&f->c, gro_msg(&g, (int)seg - 7, 0), p, total);
	assert_int_equal(f->written, 6);
	assert_int_equal(all_drops(f), before + 3);	/* three pieces, none whole */

	/* And the next batch is whole again. */
	seg = gro_batch(f, s, 3, &total);
	io_input_udp(&f->c, gro_msg(&g, (int)seg, 0), p, total);
	assert_int_equal(f->written, 9);
	sa_free(s);
	fixture_free(f);
}

/* --- TUN super-packets ----------------------------------------------------------------- */

static void vnet(uint8_t *b, uint8_t flags, uint8_t type, uint16_t hdr_len, uint16_t gso_size,
		 uint16_t csum_start, uint16_t csum_offset)
{
	b[0] = flags;
	b[1] = type;
	memcpy(b + 2, &hdr_len, 2);
	memcpy(b + 4, &gso_size, 2);
	memcpy(b + 6, &csum_start, 2);
	memcpy(b + 8, &csum_offset, 2);
}

/* A TCP/IPv4 super-packet of payload bytes in 1000-byte segments, vnet header first. */
static size_t super_tcp4(uint8_t *b, size_t payload)
{
	uint8_t *p = b + GSO_VNET_HDR_LEN;
	size_t len = 40 + payload;
	memset(p, 0, len);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	inet_pton(AF_INET, "10.1.0.5", p + 12);
	inet_pton(AF_INET, "10.2.0.9", p + 16);
	put_u16(p + 20, 40000);
	put_u16(p + 22, 80);
	p[32] = 0x50;
	p[33] = 0x10;
	vnet(b, GSO_F_NEEDS_CSUM, GSO_TYPE_TCPV4, 40, 1000, 20, 16);
	return GSO_VNET_HDR_LEN + len;
}

static void test_lying_super_packets(void **state)
{
	struct fixture *f = fixture_new(false);
	f->e->tun.vnet = true;
	int sv[2];
	/* SOCK_SEQPACKET keeps each write one read, as the TUN device does. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	f->c.tun_fd = sv[0];
	static uint8_t b[GSO_VNET_HDR_LEN + 4000];
	struct tx_batch t = { 0 };
	struct esp_engine_stats st;
	unsigned lies = 0;
	for (int k = 0; k < 6; k++) {
		size_t n = super_tcp4(b, 3000);
		switch (k) {
		case 0: vnet(b, GSO_F_NEEDS_CSUM, GSO_TYPE_TCPV4, 40, 0, 20, 16); break;
		case 1: vnet(b, GSO_F_NEEDS_CSUM, GSO_TYPE_TCPV4, 4000, 1000, 20, 16); break;
		case 2: vnet(b, GSO_F_NEEDS_CSUM, GSO_TYPE_UDP_L4, 28, 1000, 20, 6); break;
		case 3: put_u16(b + GSO_VNET_HDR_LEN + 2, 3900); break;	/* IP length */
		case 4: n = GSO_VNET_HDR_LEN + 30; break;		/* cut in the TCP header */
		case 5: n = 7; break;					/* not even a vnet header */
		}
		assert_int_equal(write(sv[1], b, n), (ssize_t)n);
		assert_true(io_tun_read(&f->c, &t));
		assert_int_equal(t.n, 0);
		esp_engine_stats(f->e, &st);
		if (st.bad_super != ++lies)
			fail_msg("lie %d not counted", k);
	}
	/* The next, honest, super-packet: three segments in the batch. */
	size_t n = super_tcp4(b, 3000);
	assert_int_equal(write(sv[1], b, n), (ssize_t)n);
	assert_true(io_tun_read(&f->c, &t));
	assert_int_equal(t.n, 3);
	assert_int_equal(t.len[0], 1040);
	assert_int_equal(t.len[2], 1040);
	close(sv[1]);
	close(sv[0]);
	fixture_free(f);
}

/* Where a batch's packets lie: inside the context's area, one after the other with
 * their head- and tailroom, none overwriting another. */
static void batch_in_bounds(const struct esp_ctx *c, const struct tx_batch *t)
{
	const uint8_t *end = c->bufs + ESP_BATCH * c->slot;
	for (unsigned i = 0; i < t->n; i++) {
		assert_true(t->pkt[i] - ESP_HEADROOM >= c->bufs);
		assert_true(t->pkt[i] + t->len[i] + ESP_TAILROOM <= end);
		if (i + 1 < t->n)
			assert_true(t->pkt[i] + t->len[i] + ESP_TAILROOM <=
				    t->pkt[i + 1] - ESP_HEADROOM);
	}
}

/* Super-packets of 60 segments each fill a batch of ESP_TX_PKTS packets, which runs
 * when full (here: no policy, each dropped and counted); what stays in the batch is
 * whole. Without vnet headers, reads of the largest packets run the batch when the
 * area is full rather than write past it. */
static void test_tx_batch_fills(void **state)
{
	struct fixture *f = fixture_new(false);
	f->e->tun.vnet = true;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	f->c.tun_fd = sv[0];
	static uint8_t b[GSO_VNET_HDR_LEN + 65535];
	struct tx_batch t = { 0 };
	struct esp_engine_stats st;
	unsigned segs = 0;
	for (int k = 0; k < 3; k++) {
		size_t n = super_tcp4(b, 60000);
		for (size_t i = 0; i < 60000; i++)
			b[GSO_VNET_HDR_LEN + 40 + i] = (uint8_t)(i / 1000 + k * 60);
		assert_int_equal(write(sv[1], b, n), (ssize_t)n);
		assert_true(io_tun_read(&f->c, &t));
		segs += 60;
		batch_in_bounds(&f->c, &t);
	}
	esp_engine_stats(f->e, &st);
	assert_int_equal(st.no_policy, ESP_TX_PKTS);
	assert_int_equal(t.n, segs - ESP_TX_PKTS);
	for (unsigned i = 0; i < t.n; i++) {
		unsigned seg = ESP_TX_PKTS + i;
		assert_int_equal(t.len[i], 1040);
		assert_int_equal(t.pkt[i][40], (uint8_t)seg);
		assert_int_equal(t.pkt[i][1039], (uint8_t)seg);
	}
	/* Whole packets of the largest size, without vnet headers. */
	f->e->tun.vnet = false;
	t.n = 0;
	t.used = 0;
	esp_engine_reset_stats(f->e);
	for (int k = 0; k < 40; k++) {
		size_t n = 65535;
		super_tcp4(b, n - 40 - GSO_VNET_HDR_LEN);
		assert_int_equal(write(sv[1], b + GSO_VNET_HDR_LEN, n - GSO_VNET_HDR_LEN),
				 (ssize_t)(n - GSO_VNET_HDR_LEN));
		assert_true(io_tun_read(&f->c, &t));
		assert_true(t.n <= ESP_BATCH);
		batch_in_bounds(&f->c, &t);
	}
	esp_engine_stats(f->e, &st);
	assert_int_equal(st.no_policy + t.n, 40);
	close(sv[1]);
	close(sv[0]);
	fixture_free(f);
}

int main(void)
{
	log_set_all_levels(-1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage_inner_lengths),
		cmocka_unit_test(test_udp_gro_truncated),
		cmocka_unit_test(test_lying_super_packets),
		cmocka_unit_test(test_tx_batch_fills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
