/* The engine under concurrency: data-plane threads run the per-packet functions
 * exactly as esp_io.c's threads do (the database read lock around a batch), while
 * this thread, the control thread, changes SAs and policies through PF_KEY. Every
 * loop is bounded in count and in time. Meant to run under ThreadSanitizer too
 * (./configure --enable-tsan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "esp/engine_priv.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "pfkey/pfkey.h"

#define GW_A "192.0.2.1"
#define GW_B "198.51.100.1"
#define GW_C "203.0.113.1"
#define SPI 0xa0001
#define RUN_MS 2000		/* each stress loop stops after this long at the latest */

static struct addr A(const char *s)
{
	struct addr a;
	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct selector S(const char *s)
{
	struct selector sel;
	assert_int_equal(selector_parse(s, &sel), 0);
	return sel;
}

/* --- what the engine sends ------------------------------------------------------ */

/* Sequence numbers seen on the wire for SPI, one bit each: a bit set twice is a
 * sequence number used twice (with AES-GCM: a nonce used twice). */
#define SEQ_MAX (1u << 22)
#define DEL_SPI 0xd0000
#define DEL_SAS 24
#define DEL_SEQ_MAX (1u << 18)

struct wire {
	uint8_t first[256];	/* the first ESP packet (under ring_lock) */
	size_t first_len;
	atomic_uint_fast64_t seen[SEQ_MAX / 64];
	atomic_uint reused, past_max, sent, delivered;
	/* test_delete_under_traffic: SAs DEL_SPI + k, each with its own bitmap, and
	 * which of them were deleted (bit k, set when DELETE has returned). */
	atomic_uint_fast64_t del_seen[DEL_SAS][DEL_SEQ_MAX / 64];
	atomic_uint_fast32_t deleted;
	atomic_uint after_delete, del_sent;
	/* The last few ESP packets sent, for a thread to feed back in. */
	pthread_mutex_t ring_lock;
	unsigned ring_n;
	struct { uint8_t pkt[256]; size_t len; bool udp; } ring[8];
};

/* A packet of SA DEL_SPI + k: its sequence number not seen before, and the SA not
 * deleted (the hook runs under the database read lock, as the encryption does). */
static void seen_del(struct wire *w, uint32_t k, uint32_t seq)
{
	atomic_fetch_add(&w->del_sent, 1);
	if (atomic_load(&w->deleted) & (UINT32_C(1) << k))
		atomic_fetch_add(&w->after_delete, 1);
	if (seq >= DEL_SEQ_MAX) {
		atomic_fetch_add(&w->past_max, 1);
		return;
	}
	uint64_t bit = UINT64_C(1) << (seq % 64);
	if (atomic_fetch_or(&w->del_seen[k][seq / 64], bit) & bit)
		atomic_fetch_add(&w->reused, 1);
}

static void hook_net(void *arg, const struct addr *src, const struct addr *dst, bool udp,
		     const uint8_t *pkt, size_t len)
{
	struct wire *w = arg;
	atomic_fetch_add(&w->sent, 1);
	if (len <= sizeof(w->ring[0].pkt)) {
		pthread_mutex_lock(&w->ring_lock);
		if (!w->first_len) {
			memcpy(w->first, pkt, len);
			w->first_len = len;
		}
		unsigned i = w->ring_n++ % 8;
		memcpy(w->ring[i].pkt, pkt, len);
		w->ring[i].len = len;
		w->ring[i].udp = udp;
		pthread_mutex_unlock(&w->ring_lock);
	}
	if (len >= 8 && get_u32(pkt) - DEL_SPI < DEL_SAS)
		seen_del(w, get_u32(pkt) - DEL_SPI, get_u32(pkt + 4));
	if (len < 8 || get_u32(pkt) != SPI)
		return;
	uint32_t seq = get_u32(pkt + 4);
	if (seq >= SEQ_MAX) {
		atomic_fetch_add(&w->past_max, 1);
		return;
	}
	uint64_t bit = UINT64_C(1) << (seq % 64);
	if (atomic_fetch_or(&w->seen[seq / 64], bit) & bit)
		atomic_fetch_add(&w->reused, 1);
}

static void hook_tun(void *arg, const uint8_t *pkt, size_t len)
{
	struct wire *w = arg;
	atomic_fetch_add(&w->delivered, 1);
}

/* --- the control side ------------------------------------------------------------ */

struct fixture {
	struct esp_engine *e;
	struct wire *wire;
	struct pfkey_endpoint ep;
	int last_errno;
	uint32_t last_spi;	/* of the last GETSPI reply */
	unsigned expires, acquires;
};

static void deliver(void *arg, const uint8_t *msg, size_t len)
{
	struct fixture *f = arg;
	struct pfkey_msg m;
	struct pfkey_sa sa;
	char err[128];
	if (pfkey_decode(msg, len, &m, err, sizeof(err)) < 0)
		fail_msg("the engine sent a malformed message: %s", err);
	switch (m.hdr->sadb_msg_type) {
	case SADB_EXPIRE:
		f->expires++;
		return;
	case SADB_ACQUIRE:
		f->acquires++;
		return;
	case SADB_GETSPI:
		if (!m.hdr->sadb_msg_errno && pfkey_msg_sa(&m, &sa, err, sizeof(err)) == 0)
			f->last_spi = sa.spi;
		break;
	}
	f->last_errno = m.hdr->sadb_msg_errno;
}

static struct fixture *fixture_new(unsigned larval_ms)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->wire = calloc(1, sizeof(*f->wire));
	assert_non_null(f->wire);
	pthread_mutex_init(&f->wire->ring_lock, NULL);
	struct esp_engine_cfg cfg = {
		.no_io = true, .net_send = hook_net, .tun_write = hook_tun, .hook_arg = f->wire,
		.larval_ms = larval_ms,
	};
	f->e = esp_engine_new(&cfg);
	assert_non_null(f->e);
	f->ep.deliver = deliver;
	f->ep.arg = f;
	esp_engine_tick(f->e, clock_now_ms());
	return f;
}

static void fixture_free(struct fixture *f)
{
	esp_engine_free(f->e);
	pthread_mutex_destroy(&f->wire->ring_lock);
	free(f->wire);
	free(f);
}

static int request(struct fixture *f, struct buf *b)
{
	assert_false(b->oom);
	f->last_errno = -1;
	esp_engine_pfkey_input(f->e, b->data, b->len, &f->ep);
	buf_wipe_free(b);
	return f->last_errno;
}

static struct pfkey_sa gcm_sa(uint32_t spi, uint32_t reqid)
{
	struct pfkey_sa p;
	memset(&p, 0, sizeof(p));
	p.spi = spi;
	p.satype = SADB_SATYPE_ESP;
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = reqid;
	p.src = A(GW_A);
	p.dst = A(GW_B);
	p.ealg = SADB_X_EALG_AES_GCM_ICV16;
	p.ekey_len = 20;
	for (int i = 0; i < 20; i++)
		p.ekey[i] = (uint8_t)(spi + i);
	p.replay_window = 64;
	return p;
}

static int sa_msg(struct fixture *f, uint8_t type, const struct pfkey_sa *p)
{
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, type, 1, p);
	return request(f, &b);
}

static struct pfkey_policy policy_via(uint8_t dir, uint32_t reqid, const char *remote,
				      const char *gw)
{
	struct pfkey_policy p;
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.type = IPSEC_POLICY_IPSEC;
	p.src = S(dir == IPSEC_DIR_OUTBOUND ? "10.1.0.0/16" : remote);
	p.dst = S(dir == IPSEC_DIR_OUTBOUND ? remote : "10.1.0.0/16");
	p.has_sel = true;
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = reqid;
	p.tunnel_src = A(GW_A);
	p.tunnel_dst = A(gw);
	return p;
}

static struct pfkey_policy policy(uint8_t dir, uint32_t reqid, const char *remote)
{
	return policy_via(dir, reqid, remote, GW_B);
}

static int policy_msg(struct fixture *f, uint8_t type, const struct pfkey_policy *p)
{
	struct buf b;
	buf_init(&b);
	pfkey_build_policy(&b, type, 1, p);
	return request(f, &b);
}

/* --- data-plane threads ------------------------------------------------------------ */

/* An IPv4 UDP packet 10.1.0.5 -> 10.<net>.0.9. */
static size_t udp_packet_to(uint8_t *p, size_t payload, uint8_t net)
{
	size_t len = 28 + payload;
	memset(p, 0, len);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "10.1.0.5", p + 12);
	inet_pton(AF_INET, "10.2.0.9", p + 16);
	p[17] = net;
	put_u16(p + 20, 33333);
	put_u16(p + 22, 7);
	put_u16(p + 24, (uint16_t)(8 + payload));
	return len;
}

static size_t udp_packet(uint8_t *p, size_t payload)
{
	return udp_packet_to(p, payload, 2);
}

#define BATCH 8

struct worker {
	struct esp_engine *e;
	atomic_bool *stop;
	pthread_t thread;
	/* net -> TUN: this ESP packet, again and again (a replay after the first). */
	const uint8_t *esp;
	size_t esp_len;
	struct wire *feed;	/* net -> TUN: what was sent lately instead */
	uint8_t nets;		/* TUN -> net: to 10.2.0.9, 10.3.0.9, ... (how many) */
	atomic_uint batches;
	bool failed;
};

static uint8_t *slot(struct esp_ctx *c, unsigned i)
{
	return c->bufs + (size_t)i * c->slot + ESP_HEADROOM;
}

/* As esp_io.c's tun_to_net: a batch of clear packets under one read lock. */
static void *tun_to_net(void *arg)
{
	struct worker *w = arg;
	struct esp_ctx c;
	if (ctx_init(&c, w->e, false) < 0) {
		w->failed = true;
		return NULL;
	}
	while (!atomic_load(w->stop)) {
		size_t lens[BATCH];
		for (unsigned i = 0; i < BATCH; i++)
			lens[i] = udp_packet_to(slot(&c, i), 16 + i, 2 + i % (w->nets ? w->nets : 1));
		pthread_rwlock_rdlock(&w->e->db_lock);
		for (unsigned i = 0; i < BATCH; i++)
			path_output(&c, slot(&c, i), lens[i]);
		pthread_rwlock_unlock(&w->e->db_lock);
		path_flush(&c);
		atomic_fetch_add(&w->batches, 1);
	}
	ctx_free(&c);
	return NULL;
}

/* The next inbound packet: w->esp, or one of the packets sent lately. */
static void feed_one(struct worker *w, uint8_t *to, size_t *len, bool *udp, unsigned i)
{
	*udp = false;
	if (!w->feed) {
		memcpy(to, w->esp, w->esp_len);
		*len = w->esp_len;
		return;
	}
	pthread_mutex_lock(&w->feed->ring_lock);
	unsigned k = (w->feed->ring_n + i) % 8;
	memcpy(to, w->feed->ring[k].pkt, w->feed->ring[k].len);
	*len = w->feed->ring[k].len;
	*udp = w->feed->ring[k].udp;
	pthread_mutex_unlock(&w->feed->ring_lock);
	if (*len < ESP_HDR_LEN) {	/* nothing sent yet: an unknown SPI */
		memset(to, 0, 64);
		to[3] = 1;
		*len = 64;
	}
}

/* As esp_io.c's net_to_tun: a batch of ESP packets from GW_A to GW_B. */
static void *net_to_tun(void *arg)
{
	struct worker *w = arg;
	struct esp_ctx c;
	struct addr src, dst;
	addr_parse(GW_A, &src);
	addr_parse(GW_B, &dst);
	if (ctx_init(&c, w->e, false) < 0) {
		w->failed = true;
		return NULL;
	}
	while (!atomic_load(w->stop)) {
		size_t lens[BATCH];
		bool udp[BATCH];
		for (unsigned i = 0; i < BATCH; i++)
			feed_one(w, slot(&c, i), &lens[i], &udp[i], i);
		pthread_rwlock_rdlock(&w->e->db_lock);
		for (unsigned i = 0; i < BATCH; i++)
			path_input(&c, &src, &dst, udp[i], slot(&c, i), lens[i]);
		pthread_rwlock_unlock(&w->e->db_lock);
		atomic_fetch_add(&w->batches, 1);
	}
	ctx_free(&c);
	return NULL;
}

static void start(struct worker *w, struct fixture *f, atomic_bool *stop,
		  void *(*fn)(void *))
{
	w->e = f->e;
	w->stop = stop;
	assert_int_equal(pthread_create(&w->thread, NULL, fn, w), 0);
}

/* Waits until every worker has done a few batches (bounded), so the loops below do
 * run alongside them. */
static void wait_running(struct worker *w, unsigned n)
{
	ms_t until = clock_now_ms() + RUN_MS;
	for (unsigned i = 0; i < n; i++)
		while (atomic_load(&w[i].batches) < 2 &&
		       clock_now_ms() < until)
			sched_yield();
}

/* --- tests ---------------------------------------------------------------------------- */

/* One SA used in both directions (it is its own peer: GW_A -> GW_B, and packets to
 * GW_B are looked up by its SPI). Policies: out for the clear side. */
static void setup_sa(struct fixture *f)
{
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, 1, "10.2.0.0/16");
	assert_int_equal(policy_msg(f, SADB_X_SPDADD, &out), 0);
	struct pfkey_sa sa = gcm_sa(SPI, 1);
	assert_int_equal(sa_msg(f, SADB_ADD, &sa), 0);
}

/* UPDATEs of a live SA (same keys, as after a NAT change) while threads encrypt with
 * it and replay an old packet to it: no sequence number may be used twice (AES-GCM
 * nonce reuse) and the replayed packet must never get through. */
static void test_update_under_traffic(void **state)
{
	struct fixture *f = fixture_new(0);
	setup_sa(f);
	/* The packet to replay: sent once, received once. */
	uint8_t clear[64];
	size_t clen = udp_packet(clear, 16);
	assert_int_equal(esp_engine_output_packet(f->e, clear, clen), ESP_V_SENT);
	uint8_t esp[256];
	size_t esp_len = f->wire->first_len;
	assert_true(esp_len > 0);
	memcpy(esp, f->wire->first, esp_len);
	struct addr src = A(GW_A), dst = A(GW_B);
	assert_int_equal(esp_engine_input_packet(f->e, &src, &dst, false, esp, esp_len),
			 ESP_V_DELIVERED);
	assert_int_equal(atomic_load(&f->wire->delivered), 1);

	atomic_bool stop = false;
	struct worker w[3] = { { .esp = esp, .esp_len = esp_len } };
	start(&w[0], f, &stop, net_to_tun);
	start(&w[1], f, &stop, tun_to_net);
	start(&w[2], f, &stop, tun_to_net);
	wait_running(w, 3);
	struct pfkey_sa sa = gcm_sa(SPI, 1);
	ms_t until = clock_now_ms() + RUN_MS;
	unsigned updates = 0;
	for (; updates < 20000 && clock_now_ms() < until; updates++) {
		sa.natt_type = updates % 2 ? UDP_ENCAP_ESPINUDP : 0;
		sa.natt_sport = sa.natt_dport = updates % 2 ? 4500 : 0;
		assert_int_equal(sa_msg(f, SADB_UPDATE, &sa), 0);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].thread, NULL);
		assert_false(w[i].failed);
	}
	print_message("%u updates, %u packets sent (%u sequence numbers reused), "
		      "%u replays tried (%u delivered)\n", updates, atomic_load(&f->wire->sent),
		      atomic_load(&f->wire->reused), atomic_load(&w[0].batches) * BATCH,
		      atomic_load(&f->wire->delivered) - 1);
	assert_true(updates > 0);
	assert_int_equal(atomic_load(&f->wire->reused), 0);
	assert_int_equal(atomic_load(&f->wire->delivered), 1);
	fixture_free(f);
}

/* The SA two threads are encrypting with is deleted under them (as IKE does when
 * a CHILD_SA is closed or rekeyed), again and again, a new one added after each:
 * no sequence number of any SA may be used twice, no packet may be sent with an SA
 * after its DELETE has returned (it is freed then: a use after free otherwise,
 * which the sanitizers see), and traffic must go on with the next SA. */
static void test_delete_under_traffic(void **state)
{
	struct fixture *f = fixture_new(0);
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, 1, "10.2.0.0/16");
	assert_int_equal(policy_msg(f, SADB_X_SPDADD, &out), 0);
	struct pfkey_sa sa = gcm_sa(DEL_SPI, 1);
	assert_int_equal(sa_msg(f, SADB_ADD, &sa), 0);
	atomic_bool stop = false;
	struct worker w[3] = { { .feed = f->wire } };
	start(&w[0], f, &stop, net_to_tun);
	start(&w[1], f, &stop, tun_to_net);
	start(&w[2], f, &stop, tun_to_net);
	wait_running(w, 3);
	ms_t until = clock_now_ms() + RUN_MS;
	unsigned k = 0;
	for (; k + 1 < DEL_SAS && clock_now_ms() < until; k++) {
		/* Until SA k has carried some packets (bounded in time). */
		unsigned sent = atomic_load(&f->wire->del_sent);
		while (atomic_load(&f->wire->del_sent) < sent + 200 && clock_now_ms() < until)
			sched_yield();
		sa = gcm_sa(DEL_SPI + k, 1);
		assert_int_equal(sa_msg(f, SADB_DELETE, &sa), 0);
		atomic_fetch_or(&f->wire->deleted, UINT32_C(1) << k);
		sa = gcm_sa(DEL_SPI + k + 1, 1);
		assert_int_equal(sa_msg(f, SADB_ADD, &sa), 0);
		esp_engine_drain(f->e, &f->ep);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].thread, NULL);
		assert_false(w[i].failed);
	}
	print_message("%u SAs deleted under traffic, %u packets sent with them (%u sequence "
		      "numbers reused, %u after DELETE)\n", k, atomic_load(&f->wire->del_sent),
		      atomic_load(&f->wire->reused), atomic_load(&f->wire->after_delete));
	assert_true(k >= 1);
	assert_int_equal(atomic_load(&f->wire->reused), 0);
	assert_int_equal(atomic_load(&f->wire->after_delete), 0);
	assert_int_equal(atomic_load(&f->wire->past_max), 0);
	/* The last SA carries traffic. */
	uint8_t clear[64];
	size_t clen = udp_packet(clear, 16);
	assert_int_equal(esp_engine_output_packet(f->e, clear, clen), ESP_V_SENT);
	fixture_free(f);
}

/* --- churn ------------------------------------------------------------------------- */

static int getspi(struct fixture *f, uint32_t reqid, uint32_t *spi)
{
	struct buf b;
	buf_init(&b);
	struct addr s = A(GW_A), d = A(GW_B);
	pfkey_build_getspi(&b, 1, &s, &d, 0xb0000, 0xbffff, reqid);
	f->last_spi = 0;
	int ret = request(f, &b);
	*spi = f->last_spi;
	return ret;
}

static int simple(struct fixture *f, uint8_t type)
{
	struct buf b;
	buf_init(&b);
	pfkey_build_simple(&b, type, SADB_SATYPE_ESP, 1);
	return request(f, &b);
}

/* One round of what IKE does to the engine: trap policies, GETSPI, UPDATE (which
 * releases held packets), rekeys with ADD, NAT changes with UPDATE, DELETE (larval
 * and live), GET and DUMP, the timer (lifetimes, held packets, unused SPIs) and the
 * notifications; now and then a FLUSH of both databases. */
static void churn_round(struct fixture *f, unsigned i, ms_t *now)
{
	struct pfkey_policy out2 = policy(IPSEC_DIR_OUTBOUND, 2, "10.3.0.0/16");
	struct pfkey_policy in2 = policy(IPSEC_DIR_INBOUND, 2, "10.3.0.0/16");
	struct pfkey_policy in1 = policy(IPSEC_DIR_INBOUND, 1, "10.2.0.0/16");
	struct pfkey_policy out1 = policy(IPSEC_DIR_OUTBOUND, 1, "10.2.0.0/16");
	/* The same reqid towards a gateway that never gets an SA: always holding. */
	struct pfkey_policy out3 = policy_via(IPSEC_DIR_OUTBOUND, 2, "10.4.0.0/16", GW_C);
	uint32_t spi = 0;
	switch (i % 8) {
	case 0:
		policy_msg(f, SADB_X_SPDADD, &out2);
		policy_msg(f, SADB_X_SPDADD, &out3);
		policy_msg(f, SADB_X_SPDADD, &in2);
		policy_msg(f, SADB_X_SPDUPDATE, &out1);
		break;
	case 1:
		/* Packets to 10.3/16 are held now; an SA for them arrives, or not. */
		assert_int_equal(getspi(f, 2, &spi), 0);
		if (i % 16 == 1) {
			struct pfkey_sa sa = gcm_sa(spi, 2);
			sa.has_soft = sa.has_hard = true;
			sa.soft.packets = 50;
			sa.hard.packets = 100;
			assert_int_equal(sa_msg(f, SADB_UPDATE, &sa), 0);
		} else if (i % 16 == 9) {
			struct pfkey_sa sa = gcm_sa(spi, 2);
			sa_msg(f, SADB_DELETE, &sa);
		}
		break;
	case 2: {
		/* Rekey of reqid 1: a new SA, then the old one goes. */
		struct pfkey_sa sa = gcm_sa(0xc0000 + i % 64, 1);
		sa.has_soft = true;
		sa.soft.addtime = 1;
		sa_msg(f, SADB_ADD, &sa);
		break;
	}
	case 3: {
		struct pfkey_sa sa = gcm_sa(0xc0000 + (i - 1) % 64, 1);
		sa.natt_type = UDP_ENCAP_ESPINUDP;
		sa.natt_sport = sa.natt_dport = 4500;
		sa_msg(f, SADB_UPDATE, &sa);
		sa_msg(f, SADB_GET, &sa);
		break;
	}
	case 4:
		simple(f, SADB_DUMP);
		simple(f, SADB_X_SPDDUMP);
		policy_msg(f, SADB_X_SPDUPDATE, &in1);
		break;
	case 5: {
		struct pfkey_sa sa = gcm_sa(0xc0000 + (i - 3 + 64 - 8) % 64, 1);
		sa_msg(f, SADB_DELETE, &sa);
		policy_msg(f, SADB_X_SPDDELETE, &in1);
		break;
	}
	case 6:
		*now += 700;
		esp_engine_tick(f->e, *now);
		esp_engine_drain(f->e, &f->ep);
		break;
	case 7:
		policy_msg(f, SADB_X_SPDDELETE, &out2);
		policy_msg(f, SADB_X_SPDDELETE, &in2);
		if (i % 64 == 63) {
			simple(f, SADB_FLUSH);
			simple(f, SADB_X_SPDFLUSH);
			setup_sa(f);
		}
		esp_engine_drain(f->e, &f->ep);
		break;
	}
}

/* SAs and policies come and go through PF_KEY while two threads encrypt towards
 * both policies and one feeds what was sent back in (valid packets, replays, SAs
 * that are gone). Under ThreadSanitizer any unsynchronised access fails the test;
 * without it, this checks that nothing crashes and the engine stays consistent. */
static void test_churn_under_traffic(void **state)
{
	struct fixture *f = fixture_new(5000);
	setup_sa(f);
	atomic_bool stop = false;
	struct worker w[3] = { { .feed = f->wire }, { .nets = 3 }, { .nets = 3 } };
	start(&w[0], f, &stop, net_to_tun);
	start(&w[1], f, &stop, tun_to_net);
	start(&w[2], f, &stop, tun_to_net);
	wait_running(w, 3);
	ms_t now = clock_now_ms(), until = now + RUN_MS;
	unsigned rounds = 0;
	for (; rounds < 200000 && clock_now_ms() < until; rounds++)
		churn_round(f, rounds, &now);
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].thread, NULL);
		assert_false(w[i].failed);
	}
	esp_engine_drain(f->e, &f->ep);
	struct esp_engine_stats st;
	esp_engine_stats(f->e, &st);
	print_message("%u rounds, %u packets sent, %u delivered, %llu held, %u ACQUIREs, "
		      "%u EXPIREs\n", rounds, atomic_load(&f->wire->sent),
		      atomic_load(&f->wire->delivered), (unsigned long long)st.held,
		      f->acquires, f->expires);
	assert_true(rounds >= 8);
	/* Afterwards the engine still works: FLUSH, set up again, one packet through. */
	assert_int_equal(simple(f, SADB_FLUSH), 0);
	assert_int_equal(simple(f, SADB_X_SPDFLUSH), 0);
	setup_sa(f);
	uint8_t clear[64];
	size_t clen = udp_packet(clear, 16);
	assert_int_equal(esp_engine_output_packet(f->e, clear, clen), ESP_V_SENT);
	fixture_free(f);
}

int main(void)
{
	log_set_all_levels(-1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_under_traffic),
		cmocka_unit_test(test_delete_under_traffic),
		cmocka_unit_test(test_churn_under_traffic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
