/* esp/ engine through its control interface only: PF_KEY messages in, PF_KEY replies
 * and notifications out, packets through the socket-less entry points. Two engines
 * (A and B) with mirrored SAs show the whole path: encrypt on A, decrypt on B. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "esp/esp_engine.h"
#include "esp/spd.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "pfkey/pfkey.h"

/* --- capture of what the engine says ---------------------------------------------- */

#define CAP_MAX 32

struct capture {
	unsigned n;
	struct buf msg[CAP_MAX];
};

static void cap_deliver(void *arg, const uint8_t *msg, size_t len)
{
	struct capture *c = arg;
	assert_true(c->n < CAP_MAX);
	buf_init(&c->msg[c->n]);
	buf_put(&c->msg[c->n], msg, len);
	c->n++;
}

static void cap_clear(struct capture *c)
{
	for (unsigned i = 0; i < c->n; i++)
		buf_free(&c->msg[i]);
	c->n = 0;
}

static const struct sadb_msg *cap_hdr(const struct capture *c, unsigned i)
{
	assert_true(i < c->n);
	assert_true(c->msg[i].len >= sizeof(struct sadb_msg));
	return (const struct sadb_msg *)c->msg[i].data;
}

static void cap_decode(const struct capture *c, unsigned i, struct pfkey_msg *m)
{
	char err[128];
	assert_true(i < c->n);
	if (pfkey_decode(c->msg[i].data, c->msg[i].len, m, err, sizeof(err)) < 0)
		fail_msg("reply does not decode: %s", err);
}

/* Packets the engine sends to the network or writes to the TUN device. */
struct wire {
	unsigned sent, written;
	uint8_t last[4096];
	size_t last_len;
	struct addr last_src, last_dst;
	bool last_udp;
	uint8_t tun[4096];
	size_t tun_len;
	unsigned nq;		/* the first packets sent, in order */
	uint8_t q[4][2048];
	size_t qlen[4];
};

static void hook_net(void *arg, const struct addr *src, const struct addr *dst, bool udp,
		     const uint8_t *pkt, size_t len)
{
	struct wire *w = arg;
	assert_true(len <= sizeof(w->last));
	memcpy(w->last, pkt, len);
	w->last_len = len;
	w->last_src = *src;
	w->last_dst = *dst;
	w->last_udp = udp;
	w->sent++;
	if (w->nq < 4 && len <= sizeof(w->q[0])) {
		memcpy(w->q[w->nq], pkt, len);
		w->qlen[w->nq++] = len;
	}
}

static void hook_tun(void *arg, const uint8_t *pkt, size_t len)
{
	struct wire *w = arg;
	assert_true(len <= sizeof(w->tun));
	memcpy(w->tun, pkt, len);
	w->tun_len = len;
	w->written++;
}

struct fixture {
	struct esp_engine *e;
	struct capture cap;
	struct pfkey_endpoint ep;
	struct wire wire;
};

static ms_t T0 = 1000000;

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct esp_engine_cfg cfg = {
		.no_io = true, .net_send = hook_net, .tun_write = hook_tun, .hook_arg = &f->wire,
	};
	f->e = esp_engine_new(&cfg);
	assert_non_null(f->e);
	f->ep.deliver = cap_deliver;
	f->ep.arg = &f->cap;
	esp_engine_tick(f->e, T0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	esp_engine_free(f->e);
	cap_clear(&f->cap);
	free(f);
}

/* Sends one built request and returns the errno of the (single, first) reply. */
static int request(struct fixture *f, struct buf *b)
{
	cap_clear(&f->cap);
	assert_false(b->oom);
	esp_engine_pfkey_input(f->e, b->data, b->len, &f->ep);
	buf_wipe_free(b);
	assert_true(f->cap.n >= 1);
	return cap_hdr(&f->cap, 0)->sadb_msg_errno;
}

/* --- message builders ------------------------------------------------------------------ */

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

#define GW_A "192.0.2.1"
#define GW_B "198.51.100.1"

static struct pfkey_sa gcm_sa(uint32_t spi, uint32_t reqid, const char *src, const char *dst)
{
	struct pfkey_sa p;
	memset(&p, 0, sizeof(p));
	p.spi = spi;
	p.satype = SADB_SATYPE_ESP;
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = reqid;
	p.src = A(src);
	p.dst = A(dst);
	p.ealg = SADB_X_EALG_AES_GCM_ICV16;
	p.ekey_len = 20;
	for (int i = 0; i < 20; i++)
		p.ekey[i] = (uint8_t)(spi + i);
	p.replay_window = 64;
	return p;
}

static int add_sa(struct fixture *f, uint8_t type, const struct pfkey_sa *p)
{
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, type, 7, p);
	return request(f, &b);
}

static int sa_op(struct fixture *f, uint8_t type, uint32_t spi, const char *src, const char *dst)
{
	struct pfkey_sa p;
	memset(&p, 0, sizeof(p));
	p.spi = spi;
	p.satype = SADB_SATYPE_ESP;
	p.src = A(src);
	p.dst = A(dst);
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, type, 8, &p);
	return request(f, &b);
}

static struct pfkey_policy policy(uint8_t dir, const char *src, const char *dst, uint32_t reqid,
				  const char *tsrc, const char *tdst)
{
	struct pfkey_policy p;
	memset(&p, 0, sizeof(p));
	p.dir = dir;
	p.type = IPSEC_POLICY_IPSEC;
	p.src = S(src);
	p.dst = S(dst);
	p.has_sel = true;
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = reqid;
	p.tunnel_src = A(tsrc);
	p.tunnel_dst = A(tdst);
	return p;
}

static int spd_msg(struct fixture *f, uint8_t type, const struct pfkey_policy *p)
{
	struct buf b;
	buf_init(&b);
	pfkey_build_policy(&b, type, 9, p);
	return request(f, &b);
}

static int simple(struct fixture *f, uint8_t type)
{
	struct buf b;
	buf_init(&b);
	pfkey_build_simple(&b, type, SADB_SATYPE_ESP, 10);
	return request(f, &b);
}

/* An IPv4 UDP packet with a recognisable payload. */
static size_t udp_packet(uint8_t *p, const char *src, const char *dst, uint16_t dport,
			 size_t payload)
{
	struct addr s = A(src), d = A(dst);
	size_t len = 28 + payload;
	memset(p, 0, len);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	memcpy(p + 12, s.u.b, 4);
	memcpy(p + 16, d.u.b, 4);
	put_u16(p + 20, 33333);
	put_u16(p + 22, dport);
	put_u16(p + 24, (uint16_t)(8 + payload));
	for (size_t i = 0; i < payload; i++)
		p[28 + i] = (uint8_t)(i * 7);
	return len;
}

static struct esp_sa_stats stats(struct fixture *f, uint32_t spi, const char *dst)
{
	struct esp_sa_stats st;
	struct addr d = A(dst);
	assert_int_equal(esp_engine_sa_stats(f->e, spi, &d, &st), 0);
	return st;
}

/* --- SA messages --------------------------------------------------------------------------- */

static void test_getspi(void **state)
{
	struct fixture *f = fixture_new();
	struct buf b;
	uint32_t spis[2];
	for (int i = 0; i < 2; i++) {
		buf_init(&b);
		struct addr s = A(GW_B), d = A(GW_A);
		pfkey_build_getspi(&b, 42, &s, &d, 0xc0000000, 0xc00000ff, 3);
		assert_int_equal(request(f, &b), 0);
		struct pfkey_msg m;
		struct pfkey_sa sa;
		char err[128];
		cap_decode(&f->cap, 0, &m);
		assert_int_equal(m.hdr->sadb_msg_type, SADB_GETSPI);
		assert_int_equal(m.hdr->sadb_msg_seq, 42);
		assert_int_equal(pfkey_msg_sa(&m, &sa, err, sizeof(err)), 0);
		assert_true(sa.spi >= 0xc0000000 && sa.spi <= 0xc00000ff);
		assert_int_equal(sa.reqid, 3);
		assert_int_equal(sa.state, SADB_SASTATE_LARVAL);
		spis[i] = sa.spi;
	}
	assert_int_not_equal(spis[0], spis[1]);
	/* A one-SPI range that is taken cannot be served. */
	buf_init(&b);
	struct addr s = A(GW_B), d = A(GW_A);
	pfkey_build_getspi(&b, 43, &s, &d, spis[0], spis[0], 3);
	assert_int_equal(request(f, &b), EAGAIN);
	fixture_free(f);
}

static void test_add_get_delete(void **state)
{
	struct fixture *f = fixture_new();
	struct pfkey_sa p = gcm_sa(0x1001, 1, GW_A, GW_B);
	p.has_hard = true;
	p.hard.bytes = 1000000;
	assert_int_equal(add_sa(f, SADB_ADD, &p), 0);
	/* The reply echoes the SA but never the keys. */
	struct pfkey_msg m;
	cap_decode(&f->cap, 0, &m);
	assert_int_equal(m.hdr->sadb_msg_type, SADB_ADD);
	assert_null(m.ext[SADB_EXT_KEY_ENCRYPT]);
	assert_non_null(m.ext[SADB_EXT_SA]);

	assert_int_equal(add_sa(f, SADB_ADD, &p), EEXIST);
	struct pfkey_sa other = gcm_sa(0x2002, 1, GW_A, GW_B);
	assert_int_equal(add_sa(f, SADB_UPDATE, &other), ESRCH);

	assert_int_equal(sa_op(f, SADB_GET, 0x1001, GW_A, GW_B), 0);
	struct pfkey_sa got;
	char err[128];
	cap_decode(&f->cap, 0, &m);
	assert_int_equal(pfkey_msg_sa(&m, &got, err, sizeof(err)), 0);
	assert_int_equal(got.spi, 0x1001);
	assert_true(got.has_current);
	assert_int_equal(got.current.bytes, 0);
	assert_true(got.has_hard);
	assert_int_equal(got.hard.bytes, 1000000);
	assert_int_equal(got.ealg, SADB_X_EALG_AES_GCM_ICV16);
	assert_int_equal(got.ekey_len, 0);

	/* Same SPI towards another address is another SA. */
	assert_int_equal(sa_op(f, SADB_GET, 0x1001, GW_B, "203.0.113.9"), ESRCH);
	assert_int_equal(sa_op(f, SADB_DELETE, 0x1001, GW_A, GW_B), 0);
	assert_int_equal(cap_hdr(&f->cap, 0)->sadb_msg_type, SADB_DELETE);
	assert_int_equal(sa_op(f, SADB_GET, 0x1001, GW_A, GW_B), ESRCH);
	assert_int_equal(sa_op(f, SADB_DELETE, 0x1001, GW_A, GW_B), ESRCH);
	fixture_free(f);
}

static void test_update_larval(void **state)
{
	struct fixture *f = fixture_new();
	struct buf b;
	buf_init(&b);
	struct addr s = A(GW_B), d = A(GW_A);
	pfkey_build_getspi(&b, 1, &s, &d, 0x100, 0xffffffff, 4);
	assert_int_equal(request(f, &b), 0);
	struct pfkey_msg m;
	struct pfkey_sa larval;
	char err[128];
	cap_decode(&f->cap, 0, &m);
	assert_int_equal(pfkey_msg_sa(&m, &larval, err, sizeof(err)), 0);

	struct pfkey_sa p = gcm_sa(larval.spi, 4, GW_B, GW_A);
	assert_int_equal(add_sa(f, SADB_UPDATE, &p), 0);
	assert_int_equal(sa_op(f, SADB_GET, larval.spi, GW_B, GW_A), 0);
	struct pfkey_sa got;
	cap_decode(&f->cap, 0, &m);
	assert_int_equal(pfkey_msg_sa(&m, &got, err, sizeof(err)), 0);
	assert_int_equal(got.state, SADB_SASTATE_MATURE);
	/* Updating it a second time is allowed (endpoints change after NAT). */
	assert_int_equal(add_sa(f, SADB_UPDATE, &p), 0);
	fixture_free(f);
}

static void test_larval_timeout(void **state)
{
	struct fixture *f = fixture_new();
	struct buf b;
	buf_init(&b);
	struct addr s = A(GW_B), d = A(GW_A);
	pfkey_build_getspi(&b, 1, &s, &d, 0x5000, 0x5000, 4);
	assert_int_equal(request(f, &b), 0);
	esp_engine_tick(f->e, T0 + 179000);
	assert_int_equal(sa_op(f, SADB_GET, 0x5000, GW_B, GW_A), 0);
	esp_engine_tick(f->e, T0 + 180000);
	assert_int_equal(sa_op(f, SADB_GET, 0x5000, GW_B, GW_A), ESRCH);
	fixture_free(f);
}

/* GETSPI of exactly one SPI; returns the errno. */
static int getspi_one(struct fixture *f, uint32_t spi)
{
	struct buf b;
	buf_init(&b);
	struct addr s = A(GW_B), d = A(GW_A);
	pfkey_build_getspi(&b, 1, &s, &d, spi, spi, 4);
	return request(f, &b);
}

/* Many unused SPIs expiring in one tick, interleaved in the hash with live SAs: far
 * more larval SPIs than the SAD has buckets, so several share a bucket and stand in
 * front of live SAs (GETSPI inserts at the head of a chain). Once they are freed every
 * live SA must still be found (under ASan: no freed SA is left in a chain). */
static void test_larval_timeout_shared_buckets(void **state)
{
	struct fixture *f = fixture_new();
	enum { LIVE = 256, LARVAL = 4096 };
	for (uint32_t i = 0; i < LIVE; i++) {
		struct pfkey_sa p = gcm_sa(0x70000 + i, 1, GW_B, GW_A);
		assert_int_equal(add_sa(f, SADB_ADD, &p), 0);
	}
	for (uint32_t i = 0; i < LARVAL; i++)
		assert_int_equal(getspi_one(f, 0x10000 + i), 0);
	esp_engine_tick(f->e, T0 + 180000);
	for (uint32_t i = 0; i < LIVE; i++)
		assert_int_equal(sa_op(f, SADB_GET, 0x70000 + i, GW_B, GW_A), 0);
	for (uint32_t i = 0; i < LARVAL; i++)
		assert_int_equal(sa_op(f, SADB_GET, 0x10000 + i, GW_B, GW_A), ESRCH);
	/* Inbound packets for the freed SPIs walk the same chains. */
	uint8_t esp[64] = { 0 };
	struct addr s = A(GW_B), d = A(GW_A);
	for (uint32_t i = 0; i < LARVAL; i += 7) {
		put_u32(esp, 0x10000 + i);
		assert_int_equal(esp_engine_input_packet(f->e, &s, &d, false, esp, sizeof(esp)),
				 ESP_V_DROPPED);
	}
	/* The SPIs are free again. */
	assert_int_equal(getspi_one(f, 0x10000), 0);
	fixture_free(f);
}

/* IKE deletes an SPI it allocated but never installed (a failed negotiation). */
static void test_delete_larval(void **state)
{
	struct fixture *f = fixture_new();
	assert_int_equal(getspi_one(f, 0x6000), 0);
	assert_int_equal(getspi_one(f, 0x6001), 0);
	assert_int_equal(sa_op(f, SADB_DELETE, 0x6000, GW_B, GW_A), 0);
	assert_int_equal(cap_hdr(&f->cap, 0)->sadb_msg_type, SADB_DELETE);
	assert_int_equal(sa_op(f, SADB_GET, 0x6000, GW_B, GW_A), ESRCH);
	assert_int_equal(sa_op(f, SADB_DELETE, 0x6000, GW_B, GW_A), ESRCH);
	/* An UPDATE of it now fails; the other one is untouched. */
	struct pfkey_sa p = gcm_sa(0x6000, 4, GW_B, GW_A);
	assert_int_equal(add_sa(f, SADB_UPDATE, &p), ESRCH);
	assert_int_equal(sa_op(f, SADB_GET, 0x6001, GW_B, GW_A), 0);
	/* The SPI can be handed out again, and the timeout later frees only what is left. */
	assert_int_equal(getspi_one(f, 0x6000), 0);
	assert_int_equal(sa_op(f, SADB_DELETE, 0x6001, GW_B, GW_A), 0);
	esp_engine_tick(f->e, T0 + 180000);
	assert_int_equal(sa_op(f, SADB_GET, 0x6000, GW_B, GW_A), ESRCH);
	assert_int_equal(simple(f, SADB_DUMP), ENOENT);
	fixture_free(f);
}

static void test_dump_and_flush(void **state)
{
	struct fixture *f = fixture_new();
	assert_int_equal(simple(f, SADB_DUMP), ENOENT);
	for (uint32_t i = 0; i < 3; i++) {
		struct pfkey_sa p = gcm_sa(0x3000 + i, 1, GW_A, GW_B);
		assert_int_equal(add_sa(f, SADB_ADD, &p), 0);
	}
	assert_int_equal(simple(f, SADB_DUMP), 0);
	assert_int_equal(f->cap.n, 3);
	bool seen[3] = { false };
	for (unsigned i = 0; i < 3; i++) {
		struct pfkey_msg m;
		struct pfkey_sa sa;
		char err[128];
		cap_decode(&f->cap, i, &m);
		assert_int_equal(m.hdr->sadb_msg_type, SADB_DUMP);
		assert_int_equal(m.hdr->sadb_msg_seq, 2 - i);	/* counts down to 0 */
		assert_null(m.ext[SADB_EXT_KEY_ENCRYPT]);
		assert_int_equal(pfkey_msg_sa(&m, &sa, err, sizeof(err)), 0);
		assert_true(sa.spi >= 0x3000 && sa.spi < 0x3003);
		seen[sa.spi - 0x3000] = true;
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	assert_int_equal(simple(f, SADB_FLUSH), 0);
	assert_int_equal(simple(f, SADB_DUMP), ENOENT);
	fixture_free(f);
}

static void test_bad_messages(void **state)
{
	struct fixture *f = fixture_new();
	/* Too short for a header: nothing to answer. */
	uint8_t tiny[8] = { PF_KEY_V2, SADB_ADD };
	esp_engine_pfkey_input(f->e, tiny, sizeof(tiny), &f->ep);
	assert_int_equal(f->cap.n, 0);

	/* A header whose length disagrees with the buffer. */
	struct sadb_msg h = { .sadb_msg_version = PF_KEY_V2, .sadb_msg_type = SADB_ADD,
			      .sadb_msg_satype = SADB_SATYPE_ESP, .sadb_msg_len = 5,
			      .sadb_msg_seq = 77 };
	esp_engine_pfkey_input(f->e, (uint8_t *)&h, sizeof(h), &f->ep);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(cap_hdr(&f->cap, 0)->sadb_msg_errno, EINVAL);
	assert_int_equal(cap_hdr(&f->cap, 0)->sadb_msg_seq, 77);

	/* ADD without the SA extension. */
	struct buf b;
	buf_init(&b);
	pfkey_build_simple(&b, SADB_ADD, SADB_SATYPE_ESP, 1);
	assert_int_equal(request(f, &b), EINVAL);

	/* No integrity and no AEAD: refused. */
	struct pfkey_sa p = gcm_sa(0x4001, 1, GW_A, GW_B);
	p.ealg = SADB_X_EALG_AESCBC;
	p.ekey_len = 16;
	assert_int_equal(add_sa(f, SADB_ADD, &p), EINVAL);
	/* Wrong key length for the cipher. */
	p = gcm_sa(0x4002, 1, GW_A, GW_B);
	p.ekey_len = 7;
	assert_int_equal(add_sa(f, SADB_ADD, &p), EINVAL);
	/* AH is not offered. */
	p = gcm_sa(0x4003, 1, GW_A, GW_B);
	p.satype = SADB_SATYPE_AH;
	assert_int_equal(add_sa(f, SADB_ADD, &p), EPROTONOSUPPORT);
	/* A message type the engine does not handle. */
	buf_init(&b);
	pfkey_build_simple(&b, SADB_REGISTER, SADB_SATYPE_ESP, 1);
	assert_int_equal(request(f, &b), EOPNOTSUPP);
	assert_int_equal(simple(f, SADB_DUMP), ENOENT);
	fixture_free(f);
}

/* --- SPD messages -------------------------------------------------------------------------- */

static void test_spd(void **state)
{
	struct fixture *f = fixture_new();
	assert_int_equal(simple(f, SADB_X_SPDDUMP), ENOENT);
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.0.0/16", 1,
					 GW_A, GW_B);
	struct pfkey_policy in = policy(IPSEC_DIR_INBOUND, "10.2.0.0/16", "10.1.0.0/16", 1,
					GW_B, GW_A);
	assert_int_equal(spd_msg(f, SADB_X_SPDADD, &out), 0);
	struct pfkey_msg m;
	struct pfkey_policy got;
	char err[128];
	cap_decode(&f->cap, 0, &m);
	assert_int_equal(pfkey_msg_policy(&m, &got, err, sizeof(err)), 0);
	assert_int_not_equal(got.id, 0);	/* the engine chose one */
	assert_int_equal(got.dir, IPSEC_DIR_OUTBOUND);
	uint32_t out_id = got.id;
	assert_int_equal(spd_msg(f, SADB_X_SPDADD, &in), 0);
	assert_int_equal(spd_msg(f, SADB_X_SPDADD, &in), EEXIST);
	/* SPDUPDATE replaces. */
	in.reqid = 2;
	assert_int_equal(spd_msg(f, SADB_X_SPDUPDATE, &in), 0);

	assert_int_equal(simple(f, SADB_X_SPDDUMP), 0);
	assert_int_equal(f->cap.n, 2);
	unsigned reqid2 = 0;
	for (unsigned i = 0; i < 2; i++) {
		cap_decode(&f->cap, i, &m);
		assert_int_equal(m.hdr->sadb_msg_seq, 1 - i);
		assert_int_equal(pfkey_msg_policy(&m, &got, err, sizeof(err)), 0);
		reqid2 += got.dir == IPSEC_DIR_INBOUND && got.reqid == 2;
	}
	assert_int_equal(reqid2, 1);

	/* SPDGET and SPDDELETE2 by id; SPDDELETE by selectors. */
	struct pfkey_policy byid;
	memset(&byid, 0, sizeof(byid));
	byid.id = out_id;
	byid.dir = IPSEC_DIR_OUTBOUND;
	byid.type = IPSEC_POLICY_DISCARD;
	assert_int_equal(spd_msg(f, SADB_X_SPDGET, &byid), 0);
	cap_decode(&f->cap, 0, &m);
	assert_int_equal(pfkey_msg_policy(&m, &got, err, sizeof(err)), 0);
	assert_true(selector_equal(&got.dst, &out.dst));
	assert_int_equal(spd_msg(f, SADB_X_SPDDELETE2, &byid), 0);
	assert_int_equal(spd_msg(f, SADB_X_SPDGET, &byid), ENOENT);
	assert_int_equal(spd_msg(f, SADB_X_SPDDELETE, &in), 0);
	assert_int_equal(spd_msg(f, SADB_X_SPDDELETE, &in), ENOENT);
	assert_int_equal(simple(f, SADB_X_SPDDUMP), ENOENT);
	fixture_free(f);
}

static void test_spd_most_specific(void **state)
{
	struct pkt_tuple t;
	uint8_t pkt[64];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.3.4", 53, 4);
	assert_int_equal(pkt_parse(pkt, len, &t), 0);
	struct spd s;
	spd_init(&s);
	int err;
	struct pfkey_policy wide = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.0.0/16", 1,
					  GW_A, GW_B);
	struct pfkey_policy narrow = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.3.0/24", 2,
					    GW_A, GW_B);
	struct pfkey_policy port = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16",
					  "10.2.3.0/24[udp/53]", 3, GW_A, GW_B);
	assert_non_null(spd_add(&s, &wide, &err));
	assert_non_null(spd_add(&s, &narrow, &err));
	assert_int_equal(spd_lookup(&s, IPSEC_DIR_OUTBOUND, &t)->p.reqid, 2);
	assert_non_null(spd_add(&s, &port, &err));
	assert_int_equal(spd_lookup(&s, IPSEC_DIR_OUTBOUND, &t)->p.reqid, 3);
	len = udp_packet(pkt, "10.1.0.5", "10.2.9.4", 53, 4);
	assert_int_equal(pkt_parse(pkt, len, &t), 0);
	assert_int_equal(spd_lookup(&s, IPSEC_DIR_OUTBOUND, &t)->p.reqid, 1);
	len = udp_packet(pkt, "10.9.0.5", "10.2.9.4", 53, 4);
	assert_int_equal(pkt_parse(pkt, len, &t), 0);
	assert_null(spd_lookup(&s, IPSEC_DIR_OUTBOUND, &t));
	/* Truncated packets are not parsed. */
	assert_int_equal(pkt_parse(pkt, 19, &t), -1);
	put_u16(pkt + 2, 200);
	assert_int_equal(pkt_parse(pkt, len, &t), -1);
	spd_destroy(&s);
}

/* --- the data path ------------------------------------------------------------------------ */

/* A: 10.1/16 behind 192.0.2.1; B: 10.2/16 behind 198.51.100.1. */
static void setup_pair(struct fixture *a, struct fixture *b, bool udp)
{
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.0.0/16", 1,
					 GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	struct pfkey_policy in = policy(IPSEC_DIR_INBOUND, "10.1.0.0/16", "10.2.0.0/16", 1,
					GW_A, GW_B);
	assert_int_equal(spd_msg(b, SADB_X_SPDADD, &in), 0);
	struct pfkey_sa sa = gcm_sa(0xa0001, 1, GW_A, GW_B);
	if (udp) {
		sa.natt_type = UDP_ENCAP_ESPINUDP;
		sa.natt_sport = 4500;
		sa.natt_dport = 4500;
	}
	assert_int_equal(add_sa(a, SADB_ADD, &sa), 0);
	assert_int_equal(add_sa(b, SADB_ADD, &sa), 0);
}

static enum esp_verdict deliver_to(struct fixture *to, struct fixture *from)
{
	return esp_engine_input_packet(to->e, &from->wire.last_src, &from->wire.last_dst,
				       from->wire.last_udp, from->wire.last, from->wire.last_len);
}

static void test_roundtrip(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	setup_pair(a, b, false);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 100);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(a->wire.sent, 1);
	assert_false(a->wire.last_udp);
	char s[ADDR_STRLEN];
	assert_string_equal(addr_ntop(&a->wire.last_dst, s, sizeof(s)), GW_B);
	assert_int_equal(get_u32(a->wire.last), 0xa0001);
	assert_memory_not_equal(a->wire.last + 8 + 8, pkt, 28);	/* encrypted */

	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	assert_int_equal(b->wire.written, 1);
	assert_int_equal(b->wire.tun_len, len);
	assert_memory_equal(b->wire.tun, pkt, len);
	assert_int_equal(stats(a, 0xa0001, GW_B).packets, 1);
	assert_int_equal(stats(a, 0xa0001, GW_B).bytes, len);
	assert_int_equal(stats(b, 0xa0001, GW_B).packets, 1);

	/* The same packet again is a replay. */
	assert_int_equal(deliver_to(b, a), ESP_V_DROPPED);
	assert_int_equal(stats(b, 0xa0001, GW_B).replay, 1);
	assert_int_equal(b->wire.written, 1);

	/* A flipped bit is an integrity failure. */
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	a->wire.last[a->wire.last_len - 20] ^= 1;
	assert_int_equal(deliver_to(b, a), ESP_V_DROPPED);
	assert_int_equal(stats(b, 0xa0001, GW_B).integrity, 1);

	/* Unknown SPI. */
	struct esp_engine_stats est;
	put_u32(a->wire.last, 0xdead);
	assert_int_equal(deliver_to(b, a), ESP_V_DROPPED);
	esp_engine_stats(b->e, &est);
	assert_int_equal(est.no_sa, 1);

	/* No policy for this destination on A. */
	len = udp_packet(pkt, "10.1.0.5", "10.7.0.9", 7, 10);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_DROPPED);
	esp_engine_stats(a->e, &est);
	assert_int_equal(est.no_policy, 1);
	fixture_free(a);
	fixture_free(b);
}

static void test_selector_mismatch(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	setup_pair(a, b, false);
	/* A also sends 10.3/16 through the same reqid; B's policy does not allow it. */
	struct pfkey_policy extra = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.3.0.0/16", 1,
					   GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &extra), 0);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.3.0.9", 7, 20);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(deliver_to(b, a), ESP_V_DROPPED);
	assert_int_equal(stats(b, 0xa0001, GW_B).selector, 1);
	assert_int_equal(stats(b, 0xa0001, GW_B).packets, 0);
	assert_int_equal(b->wire.written, 0);

	/* With selectors on the SA itself, they are what counts. */
	struct pfkey_sa sa = gcm_sa(0xb0002, 2, GW_A, GW_B);
	sa.has_sel = true;
	sa.sel_src[0] = S("10.1.0.0/16");
	sa.sel_dst[0] = S("10.3.0.0/16");
	sa.n_sel_src = sa.n_sel_dst = 1;
	assert_int_equal(add_sa(b, SADB_ADD, &sa), 0);
	sa.reqid = 1;
	struct pfkey_sa sa_a = sa;
	sa_a.has_sel = false;
	assert_int_equal(sa_op(a, SADB_DELETE, 0xa0001, GW_A, GW_B), 0);
	assert_int_equal(add_sa(a, SADB_ADD, &sa_a), 0);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(get_u32(a->wire.last), 0xb0002);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	fixture_free(a);
	fixture_free(b);
}

static void test_udp_encap(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	setup_pair(a, b, true);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 60);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_true(a->wire.last_udp);
	assert_int_equal(a->wire.last_dst.port, 4500);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	assert_memory_equal(b->wire.tun, pkt, len);

	/* Keepalive and IKE on the same port. */
	struct addr peer = A(GW_A), me = A(GW_B);
	peer.port = 4500;
	me.port = 4500;
	uint8_t ka = 0xff;
	assert_int_equal(esp_engine_input_packet(b->e, &peer, &me, true, &ka, 1), ESP_V_KEEPALIVE);
	uint8_t ike[12] = { 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8 };
	assert_int_equal(esp_engine_input_packet(b->e, &peer, &me, true, ike, sizeof(ike)),
			 ESP_V_IKE);
	uint8_t got[64];
	struct addr local, remote;
	assert_int_equal(esp_engine_ike_recv(b->e, got, sizeof(got), &local, &remote), 8);
	assert_memory_equal(got, ike + 4, 8);
	assert_true(addr_equal(&remote, &peer));
	assert_true(addr_equal(&local, &me));
	assert_int_equal(esp_engine_ike_recv(b->e, got, sizeof(got), &local, &remote), 0);
	fixture_free(a);
	fixture_free(b);
}

static void test_transport_mode(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, GW_A "/32", GW_B "/32[udp/1701]", 9,
					 GW_A, GW_B);
	out.mode = IPSEC_MODE_TRANSPORT;
	memset(&out.tunnel_src, 0, sizeof(out.tunnel_src));
	memset(&out.tunnel_dst, 0, sizeof(out.tunnel_dst));
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	struct pfkey_sa sa = gcm_sa(0xc0003, 9, GW_A, GW_B);
	sa.mode = IPSEC_MODE_TRANSPORT;
	assert_int_equal(add_sa(a, SADB_ADD, &sa), 0);
	assert_int_equal(add_sa(b, SADB_ADD, &sa), 0);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, GW_A, GW_B, 1701, 30);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	/* ESP carries only the UDP datagram: 8 + 8 (IV) + 38 + pad + 2 + 16. */
	assert_true(a->wire.last_len < len + 8 + 8 + 2 + 16 + 4 - 20 + 4);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	assert_int_equal(b->wire.tun_len, len);
	assert_memory_equal(b->wire.tun + 12, pkt + 12, 8);	/* addresses */
	assert_memory_equal(b->wire.tun + 20, pkt + 20, len - 20);	/* the datagram */
	assert_int_equal(b->wire.tun[9], IPPROTO_UDP);
	fixture_free(a);
	fixture_free(b);
}

/* The one's-complement sum of a UDP/TCP packet with its pseudo-header: 0xffff when
 * its checksum is right. */
static uint16_t l4_sum(const uint8_t *ip, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 12; i < 20; i += 2)
		sum += get_u16(ip + i);
	sum += ip[9] + (uint32_t)(len - 20);
	for (size_t i = 20; i + 1 < len; i += 2)
		sum += get_u16(ip + i);
	if (len & 1)
		sum += (uint32_t)ip[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Transport mode in UDP across NATs (L2TP/IPsec, RFC 3948 3.1.2): the client computed
 * its checksums over its private address and the server's public one; the server
 * sees the NAT's address and its own private one. After decapsulation UDP carries no
 * checksum (0) and TCP a correct one, else the kernel drops them. */
static void test_transport_natt_checksums(void **state)
{
	static const char *const CLIENT = "192.168.1.10", *const NAT = "203.0.113.7",
			  *const SERVER_PUB = "198.51.100.2", *const SERVER = "10.0.0.2";
	for (int tcp = 0; tcp < 2; tcp++) {
		struct fixture *a = fixture_new(), *b = fixture_new();
		struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "192.168.1.10/32",
						 "198.51.100.2/32", 9, CLIENT, SERVER_PUB);
		out.mode = IPSEC_MODE_TRANSPORT;
		memset(&out.tunnel_src, 0, sizeof(out.tunnel_src));
		memset(&out.tunnel_dst, 0, sizeof(out.tunnel_dst));
		assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
		struct pfkey_sa sa = gcm_sa(0xc0004, 9, CLIENT, SERVER_PUB);
		sa.mode = IPSEC_MODE_TRANSPORT;
		sa.natt_type = UDP_ENCAP_ESPINUDP;
		sa.natt_sport = sa.natt_dport = 4500;
		assert_int_equal(add_sa(a, SADB_ADD, &sa), 0);
		struct pfkey_sa sb = gcm_sa(0xc0004, 9, NAT, SERVER);
		sb.mode = IPSEC_MODE_TRANSPORT;
		sb.natt_type = UDP_ENCAP_ESPINUDP;
		sb.natt_sport = 31000;
		sb.natt_dport = 4500;
		assert_int_equal(add_sa(b, SADB_ADD, &sb), 0);
		uint8_t pkt[256];
		size_t len = udp_packet(pkt, CLIENT, SERVER_PUB, 1701, 31);
		if (tcp) {
			pkt[9] = IPPROTO_TCP;
			pkt[32] = 0x50;		/* data offset: 20 bytes */
		}
		size_t ck = tcp ? 20 + 16 : 20 + 6;
		put_u16(pkt + ck, 0);
		put_u16(pkt + ck, (uint16_t)~l4_sum(pkt, len));
		assert_int_equal(l4_sum(pkt, len), 0xffff);
		assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
		struct addr from = A(NAT), to = A(SERVER);
		from.port = 31000;
		to.port = 4500;
		assert_int_equal(esp_engine_input_packet(b->e, &from, &to, true, a->wire.last,
							 a->wire.last_len), ESP_V_DELIVERED);
		assert_int_equal(b->wire.tun_len, len);
		struct addr s = A(NAT), d = A(SERVER);
		assert_memory_equal(b->wire.tun + 12, s.u.b, 4);
		assert_memory_equal(b->wire.tun + 16, d.u.b, 4);
		if (tcp)
			assert_int_equal(l4_sum(b->wire.tun, len), 0xffff);
		else
			assert_int_equal(get_u16(b->wire.tun + 26), 0);
		assert_memory_equal(b->wire.tun + 28, pkt + 28, 8);	/* payload as sent */
		fixture_free(a);
		fixture_free(b);
	}
}

/* Two L2TP/IPsec clients behind one NAT both use UDP 1701: the server's SA for each
 * maps the client's 1701 to its NAT-T port (NAT-T OA port 1701), so the L2TP server
 * sees NAT:31000 and NAT:31001, and its answer to NAT:31000 leaves through that
 * client's SA with 1701 again. */
static void test_transport_natt_port_map(void **state)
{
	static const char *const CLIENT = "192.168.1.10", *const NAT = "203.0.113.7",
			  *const SERVER_PUB = "198.51.100.2", *const SERVER = "10.0.0.2";
	struct fixture *a = fixture_new(), *b = fixture_new();
	/* the client: its own address and the server's public one, nothing mapped */
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "192.168.1.10/32[udp/1701]",
					 "198.51.100.2/32[udp/1701]", 9, CLIENT, SERVER_PUB);
	out.mode = IPSEC_MODE_TRANSPORT;
	memset(&out.tunnel_src, 0, sizeof(out.tunnel_src));
	memset(&out.tunnel_dst, 0, sizeof(out.tunnel_dst));
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	struct pfkey_sa c_out = gcm_sa(0xc0005, 9, CLIENT, SERVER_PUB);
	c_out.mode = IPSEC_MODE_TRANSPORT;
	c_out.natt_type = UDP_ENCAP_ESPINUDP;
	c_out.natt_sport = c_out.natt_dport = 4500;
	assert_int_equal(add_sa(a, SADB_ADD, &c_out), 0);
	struct pfkey_sa c_in = gcm_sa(0xd0005, 9, SERVER_PUB, CLIENT);
	c_in.mode = IPSEC_MODE_TRANSPORT;
	c_in.natt_type = UDP_ENCAP_ESPINUDP;
	c_in.natt_sport = c_in.natt_dport = 4500;
	assert_int_equal(add_sa(a, SADB_ADD, &c_in), 0);
	/* the server: the client's NAT-T port in its policy, 1701 in the SAs' OA */
	struct pfkey_policy sout = policy(IPSEC_DIR_OUTBOUND, "10.0.0.2/32[udp/1701]",
					  "203.0.113.7/32[udp/31000]", 7, SERVER, NAT);
	sout.mode = IPSEC_MODE_TRANSPORT;
	memset(&sout.tunnel_src, 0, sizeof(sout.tunnel_src));
	memset(&sout.tunnel_dst, 0, sizeof(sout.tunnel_dst));
	assert_int_equal(spd_msg(b, SADB_X_SPDADD, &sout), 0);
	struct pfkey_policy sin = sout;
	sin.dir = IPSEC_DIR_INBOUND;
	sin.src = sout.dst;
	sin.dst = sout.src;
	assert_int_equal(spd_msg(b, SADB_X_SPDADD, &sin), 0);
	struct pfkey_sa s_in = c_out, s_out = c_in;
	s_in.src = A(NAT);
	s_in.dst = A(SERVER);
	s_in.reqid = s_out.reqid = 7;
	s_in.natt_sport = 31000;
	s_in.natt_oa = A(NAT);
	s_in.natt_oa.port = 1701;
	s_out.src = A(SERVER);
	s_out.dst = A(NAT);
	s_out.natt_dport = 31000;
	s_out.natt_oa = s_in.natt_oa;
	assert_int_equal(add_sa(b, SADB_ADD, &s_in), 0);
	assert_int_equal(add_sa(b, SADB_ADD, &s_out), 0);

	uint8_t pkt[256];
	size_t len = udp_packet(pkt, CLIENT, SERVER_PUB, 1701, 20);
	put_u16(pkt + 20, 1701);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	struct addr from = A(NAT), to = A(SERVER);
	from.port = 31000;
	to.port = 4500;
	assert_int_equal(esp_engine_input_packet(b->e, &from, &to, true, a->wire.last,
						 a->wire.last_len), ESP_V_DELIVERED);
	assert_int_equal(get_u16(b->wire.tun + 20), 31000);	/* the client, told apart */
	assert_int_equal(get_u16(b->wire.tun + 22), 1701);
	assert_int_equal(get_u16(b->wire.tun + 26), 0);
	assert_int_equal(stats(b, 0xc0005, SERVER).selector, 0);

	/* the answer to NAT:31000 goes back with 1701 */
	len = udp_packet(pkt, SERVER, NAT, 31000, 20);
	put_u16(pkt + 20, 1701);
	assert_int_equal(esp_engine_output_packet(b->e, pkt, len), ESP_V_SENT);
	assert_int_equal(get_u32(b->wire.last), 0xd0005);
	struct addr sfrom = A(SERVER_PUB), sto = A(CLIENT);
	sfrom.port = sto.port = 4500;
	assert_int_equal(esp_engine_input_packet(a->e, &sfrom, &sto, true, b->wire.last,
						 b->wire.last_len), ESP_V_DELIVERED);
	assert_int_equal(get_u16(a->wire.tun + 20), 1701);
	assert_int_equal(get_u16(a->wire.tun + 22), 1701);
	fixture_free(a);
	fixture_free(b);
}

/* NEW_MAPPINGs drained from f (other messages are not expected). */
static unsigned drain_mappings(struct fixture *f, struct pfkey_mapping *last)
{
	char err[128];
	cap_clear(&f->cap);
	esp_engine_drain(f->e, &f->ep);
	for (unsigned i = 0; i < f->cap.n; i++) {
		struct pfkey_msg m;
		cap_decode(&f->cap, i, &m);
		assert_int_equal(pfkey_msg_new_mapping(&m, last, err, sizeof(err)), 0);
	}
	return f->cap.n;
}

/* The peer's NAT moved its port: the first authenticated ESP-in-UDP packet from the
 * new one is told to IKE (NEW_MAPPING, as XFRM's km_new_mapping), once a second per SA;
 * a packet that fails its ICV check, whatever its source, never is. */
static void test_new_mapping(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.0.0/16", 3,
					 GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	struct pfkey_sa sa = gcm_sa(0xf0001, 3, GW_A, GW_B);
	sa.natt_type = UDP_ENCAP_ESPINUDP;
	sa.natt_sport = sa.natt_dport = 4500;
	assert_int_equal(add_sa(a, SADB_ADD, &sa), 0);
	assert_int_equal(add_sa(b, SADB_ADD, &sa), 0);
	uint8_t pkt[256], esp[6][512];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 53, 20), elen[6];
	for (int i = 0; i < 6; i++) {
		assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
		assert_true(a->wire.last_len <= sizeof(esp[i]));
		memcpy(esp[i], a->wire.last, a->wire.last_len);
		elen[i] = a->wire.last_len;
	}
	struct addr from = A(GW_A), to = A(GW_B);
	struct pfkey_mapping mp;
	from.port = to.port = 4500;
	assert_int_equal(esp_engine_input_packet(b->e, &from, &to, true, esp[0], elen[0]),
			 ESP_V_DELIVERED);
	assert_int_equal(drain_mappings(b, &mp), 0);	/* from the peer it knows */

	from.port = 31000;
	uint8_t bad[512];
	memcpy(bad, esp[1], elen[1]);
	bad[elen[1] - 1] ^= 1;
	assert_int_equal(esp_engine_input_packet(b->e, &from, &to, true, bad, elen[1]),
			 ESP_V_DROPPED);
	assert_int_equal(drain_mappings(b, &mp), 0);	/* not authentic: nothing */

	assert_int_equal(esp_engine_input_packet(b->e, &from, &to, true, esp[1], elen[1]),
			 ESP_V_DELIVERED);
	assert_int_equal(esp_engine_input_packet(b->e, &from, &to, true, esp[2], elen[2]),
			 ESP_V_DELIVERED);
	assert_int_equal(drain_mappings(b, &mp), 1);	/* one for both */
	assert_int_equal(mp.spi, 0xf0001);
	assert_int_equal(mp.reqid, 3);
	assert_true(addr_equal_ip(&mp.old_peer, &from));
	assert_int_equal(mp.old_peer.port, 4500);
	assert_true(addr_equal(&mp.new_peer, &from));
	struct esp_engine_stats st;
	esp_engine_stats(b->e, &st);
	assert_int_equal(st.new_mappings, 1);

	/* A second later, still from there (IKE did not follow): once more. */
	esp_engine_tick(b->e, T0 + ESP_ENGINE_MAPPING_INTERVAL_MS);
	assert_int_equal(esp_engine_input_packet(b->e, &from, &to, true, esp[3], elen[3]),
			 ESP_V_DELIVERED);
	assert_int_equal(drain_mappings(b, &mp), 1);

	/* IKE followed (UPDATE with the new port): the new source is the peer's. */
	esp_engine_tick(b->e, T0 + 2 * ESP_ENGINE_MAPPING_INTERVAL_MS);
	sa.natt_sport = 31000;
	assert_int_equal(add_sa(b, SADB_UPDATE, &sa), 0);
	assert_int_equal(esp_engine_input_packet(b->e, &from, &to, true, esp[4], elen[4]),
			 ESP_V_DELIVERED);
	assert_int_equal(drain_mappings(b, &mp), 0);
	fixture_free(a);
	fixture_free(b);
}

static void test_acquire_and_release(void **state)
{
	struct fixture *a = fixture_new();
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.0.0/16", 5,
					 GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 53, 20);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_HELD);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_HELD);
	cap_clear(&a->cap);
	esp_engine_drain(a->e, &a->ep);
	assert_int_equal(a->cap.n, 1);	/* one ACQUIRE for both packets */
	struct pfkey_msg m;
	struct pfkey_acquire acq;
	char err[128];
	cap_decode(&a->cap, 0, &m);
	assert_int_equal(pfkey_msg_acquire(&m, &acq, err, sizeof(err)), 0);
	assert_int_equal(acq.policy.reqid, 5);
	assert_int_equal(acq.policy.dir, IPSEC_DIR_OUTBOUND);
	char s[ADDR_STRLEN];
	assert_string_equal(addr_ntop(&acq.dst, s, sizeof(s)), GW_B);
	assert_true(acq.has_pkt);
	assert_int_equal(acq.pkt_dst.proto, IPPROTO_UDP);
	assert_int_equal(acq.pkt_dst.port_lo, 53);
	assert_int_equal(a->wire.sent, 0);

	/* The SA arrives: both held packets leave at once. */
	struct pfkey_sa sa = gcm_sa(0xd0004, 5, GW_A, GW_B);
	assert_int_equal(add_sa(a, SADB_ADD, &sa), 0);
	assert_int_equal(a->wire.sent, 2);
	assert_int_equal(stats(a, 0xd0004, GW_B).packets, 2);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	fixture_free(a);
}

static void test_held_packets_expire(void **state)
{
	struct fixture *a = fixture_new();
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.0.0/16", 5,
					 GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 53, 20);
	for (int i = 0; i < 4; i++)
		assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_HELD);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_DROPPED);
	esp_engine_tick(a->e, T0 + 3000);	/* held longer than hold_ms */
	struct pfkey_sa sa = gcm_sa(0xd0005, 5, GW_A, GW_B);
	assert_int_equal(add_sa(a, SADB_ADD, &sa), 0);
	assert_int_equal(a->wire.sent, 0);
	struct esp_engine_stats st;
	esp_engine_stats(a->e, &st);
	assert_int_equal(st.held, 4);
	assert_int_equal(st.hold_dropped, 5);
	fixture_free(a);
}

static int drain_expires(struct fixture *f, bool *hard)
{
	cap_clear(&f->cap);
	esp_engine_drain(f->e, &f->ep);
	for (unsigned i = 0; i < f->cap.n; i++) {
		struct pfkey_msg m;
		cap_decode(&f->cap, i, &m);
		assert_int_equal(m.hdr->sadb_msg_type, SADB_EXPIRE);
		*hard = pfkey_msg_expire_is_hard(&m);
	}
	return (int)f->cap.n;
}

static void test_expire_time(void **state)
{
	struct fixture *f = fixture_new();
	struct pfkey_sa p = gcm_sa(0xe0001, 1, GW_A, GW_B);
	p.has_soft = p.has_hard = true;
	p.soft.addtime = 10;
	p.hard.addtime = 20;
	assert_int_equal(add_sa(f, SADB_ADD, &p), 0);
	bool hard = false;
	esp_engine_tick(f->e, T0 + 9999);
	assert_int_equal(drain_expires(f, &hard), 0);
	esp_engine_tick(f->e, T0 + 10000);
	assert_int_equal(drain_expires(f, &hard), 1);
	assert_false(hard);
	esp_engine_tick(f->e, T0 + 15000);	/* soft goes out once */
	assert_int_equal(drain_expires(f, &hard), 0);
	assert_int_equal(sa_op(f, SADB_GET, 0xe0001, GW_A, GW_B), 0);
	esp_engine_tick(f->e, T0 + 20000);
	assert_int_equal(drain_expires(f, &hard), 1);
	assert_true(hard);
	/* Hard expiry deleted the SA. */
	assert_int_equal(sa_op(f, SADB_GET, 0xe0001, GW_A, GW_B), ESRCH);
	fixture_free(f);
}

/* IKE in the same process answers an EXPIRE while it is being delivered: here by
 * deleting the SA at once. The engine must not touch the SA after sending (ASan
 * reports the use after free otherwise). */
struct answering {
	struct fixture *f;
	unsigned expires;
};

static void delete_on_expire(void *arg, const uint8_t *msg, size_t len)
{
	struct answering *a = arg;
	struct pfkey_msg m;
	char err[128];
	if (pfkey_decode(msg, len, &m, err, sizeof(err)) < 0 ||
	    m.hdr->sadb_msg_type != SADB_EXPIRE)
		return;
	a->expires++;
	struct pfkey_sa p;
	memset(&p, 0, sizeof(p));
	p.spi = 0xe0003;
	p.satype = SADB_SATYPE_ESP;
	p.src = A(GW_A);
	p.dst = A(GW_B);
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, SADB_DELETE, 9, &p);
	esp_engine_pfkey_input(a->f->e, b.data, b.len, &a->f->ep);
	buf_free(&b);
}

static void test_expire_answered_in_place(void **state)
{
	struct fixture *f = fixture_new();
	struct pfkey_sa p = gcm_sa(0xe0003, 1, GW_A, GW_B);
	p.has_soft = true;
	p.soft.addtime = 10;
	assert_int_equal(add_sa(f, SADB_ADD, &p), 0);
	esp_engine_tick(f->e, T0 + 10000);
	struct answering a = { .f = f };
	struct pfkey_endpoint ike = { .deliver = delete_on_expire, .arg = &a };
	cap_clear(&f->cap);
	esp_engine_drain(f->e, &ike);
	assert_int_equal(a.expires, 1);
	assert_int_equal(sa_op(f, SADB_GET, 0xe0003, GW_A, GW_B), ESRCH);
	fixture_free(f);
	(void)state;
}

static void test_expire_packets(void **state)
{
	struct fixture *a = fixture_new();
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.0.0/16", 1,
					 GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	struct pfkey_sa p = gcm_sa(0xe0002, 1, GW_A, GW_B);
	p.has_soft = p.has_hard = true;
	p.soft.packets = 2;
	p.hard.packets = 3;
	assert_int_equal(add_sa(a, SADB_ADD, &p), 0);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 53, 20);
	bool hard = false;
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(drain_expires(a, &hard), 0);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(drain_expires(a, &hard), 1);
	assert_false(hard);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	/* The SA is dead from here on: the next packet asks for a new one. */
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_HELD);
	cap_clear(&a->cap);
	esp_engine_drain(a->e, &a->ep);
	assert_int_equal(a->cap.n, 2);
	bool saw_hard = false, saw_acquire = false;
	for (unsigned i = 0; i < 2; i++) {
		struct pfkey_msg m;
		cap_decode(&a->cap, i, &m);
		saw_hard |= m.hdr->sadb_msg_type == SADB_EXPIRE && pfkey_msg_expire_is_hard(&m);
		saw_acquire |= m.hdr->sadb_msg_type == SADB_ACQUIRE;
	}
	assert_true(saw_hard && saw_acquire);
	assert_int_equal(sa_op(a, SADB_GET, 0xe0002, GW_A, GW_B), ESRCH);
	fixture_free(a);
}

static void test_make_before_break(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	setup_pair(a, b, false);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 40);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	uint8_t old_pkt[4096];
	size_t old_len = a->wire.last_len;
	memcpy(old_pkt, a->wire.last, old_len);

	/* Rekey: the new SA takes over outbound at once... */
	struct pfkey_sa sa2 = gcm_sa(0xa0002, 1, GW_A, GW_B);
	assert_int_equal(add_sa(a, SADB_ADD, &sa2), 0);
	assert_int_equal(add_sa(b, SADB_ADD, &sa2), 0);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(get_u32(a->wire.last), 0xa0002);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	/* ...while the old inbound SA still decrypts what was in flight. */
	struct addr s = A(GW_A), d = A(GW_B);
	assert_int_equal(esp_engine_input_packet(b->e, &s, &d, false, old_pkt, old_len),
			 ESP_V_DELIVERED);
	/* Deleting the new one falls back to the old one. */
	assert_int_equal(sa_op(a, SADB_DELETE, 0xa0002, GW_A, GW_B), 0);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(get_u32(a->wire.last), 0xa0001);
	fixture_free(a);
	fixture_free(b);
}

static void test_update_keeps_sequence(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	setup_pair(a, b, false);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 40);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(get_u32(a->wire.last + 4), 1);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	/* New endpoints (a NAT appeared): same keys, so the sequence must go on. */
	struct pfkey_sa sa = gcm_sa(0xa0001, 1, GW_A, GW_B);
	sa.natt_type = UDP_ENCAP_ESPINUDP;
	sa.natt_sport = sa.natt_dport = 4500;
	assert_int_equal(add_sa(a, SADB_UPDATE, &sa), 0);
	assert_int_equal(add_sa(b, SADB_UPDATE, &sa), 0);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_true(a->wire.last_udp);
	assert_int_equal(get_u32(a->wire.last + 4), 2);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	assert_int_equal(stats(b, 0xa0001, GW_B).packets, 2);
	assert_int_equal(stats(a, 0xa0001, GW_B).packets, 2);
	fixture_free(a);
	fixture_free(b);
}

/* An UPDATE of a live SA is the same SA: replay window, counters and expiry progress
 * go on (a second soft EXPIRE would start a second rekey), and it does not become
 * newer than an SA installed after it. */
static void test_update_keeps_state(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	setup_pair(a, b, false);
	struct pfkey_sa sa = gcm_sa(0xa0001, 1, GW_A, GW_B);
	sa.has_soft = true;
	sa.soft.packets = 1;
	assert_int_equal(add_sa(a, SADB_UPDATE, &sa), 0);
	uint8_t pkt[256], first[4096];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 40);
	bool hard = false;
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(drain_expires(a, &hard), 1);
	assert_false(hard);
	size_t first_len = a->wire.last_len;
	memcpy(first, a->wire.last, first_len);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);

	/* New endpoints, same keys, on both sides. */
	sa.natt_type = UDP_ENCAP_ESPINUDP;
	sa.natt_sport = sa.natt_dport = 4500;
	assert_int_equal(add_sa(a, SADB_UPDATE, &sa), 0);
	assert_int_equal(add_sa(b, SADB_UPDATE, &sa), 0);
	/* The soft expiry was reported already: not again, by packet or by timer. */
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(get_u32(a->wire.last + 4), 2);
	assert_int_equal(drain_expires(a, &hard), 0);
	esp_engine_tick(a->e, T0 + 1000);
	assert_int_equal(drain_expires(a, &hard), 0);
	assert_int_equal(stats(a, 0xa0001, GW_B).packets, 2);
	/* B's window still knows packet 1. */
	struct addr s = A(GW_A), d = A(GW_B);
	assert_int_equal(esp_engine_input_packet(b->e, &s, &d, false, first, first_len),
			 ESP_V_DROPPED);
	assert_int_equal(stats(b, 0xa0001, GW_B).replay, 1);
	assert_int_equal(stats(b, 0xa0001, GW_B).packets, 1);
	/* A larger window does not forget what was received either. */
	sa.replay_window = 128;
	assert_int_equal(add_sa(b, SADB_UPDATE, &sa), 0);
	assert_int_equal(esp_engine_input_packet(b->e, &s, &d, false, first, first_len),
			 ESP_V_DROPPED);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);

	/* After a rekey, an UPDATE of the old SA does not take traffic back from the new. */
	struct pfkey_sa sa2 = gcm_sa(0xa0002, 1, GW_A, GW_B);
	assert_int_equal(add_sa(a, SADB_ADD, &sa2), 0);
	sa.natt_type = 0;
	sa.natt_sport = sa.natt_dport = 0;
	assert_int_equal(add_sa(a, SADB_UPDATE, &sa), 0);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(get_u32(a->wire.last), 0xa0002);
	fixture_free(a);
	fixture_free(b);
}

static void test_cbc_sha256(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "10.1.0.0/16", "10.2.0.0/16", 1,
					 GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	struct pfkey_sa sa = gcm_sa(0xf0001, 1, GW_A, GW_B);
	sa.ealg = SADB_X_EALG_AESCBC;
	sa.ekey_len = 32;
	sa.aalg = SADB_X_AALG_SHA2_256HMAC;
	sa.akey_len = 32;
	memset(sa.akey, 0x5a, 32);
	assert_int_equal(add_sa(a, SADB_ADD, &sa), 0);
	assert_int_equal(add_sa(b, SADB_ADD, &sa), 0);
	uint8_t pkt[256];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 77);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	assert_memory_equal(b->wire.tun, pkt, len);
	fixture_free(a);
	fixture_free(b);
}

/* ---- SA selector lists ---- */

/* A CHILD_SA with two TS on each side: traffic of any (src, dst) pair is accepted,
 * traffic matching no pair is still a selector drop. */
static void test_sa_selector_lists(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	struct pfkey_policy out = policy(IPSEC_DIR_OUTBOUND, "10.0.0.0/8", "10.0.0.0/8", 1,
					 GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out), 0);
	struct pfkey_sa sa = gcm_sa(0xa0001, 1, GW_A, GW_B);
	assert_int_equal(add_sa(a, SADB_ADD, &sa), 0);
	sa.has_sel = true;
	sa.n_sel_src = sa.n_sel_dst = 2;
	sa.sel_src[0] = S("10.1.0.0/24");
	sa.sel_src[1] = S("10.3.0.0/24");
	sa.sel_dst[0] = S("10.2.0.0/24");
	sa.sel_dst[1] = S("10.4.0.0/24");
	assert_int_equal(add_sa(b, SADB_ADD, &sa), 0);
	static const struct {
		const char *src, *dst;
		enum esp_verdict v;
	} cases[] = {
		{ "10.1.0.5", "10.2.0.9", ESP_V_DELIVERED },
		{ "10.3.0.5", "10.4.0.9", ESP_V_DELIVERED },	/* the second pair */
		{ "10.3.0.5", "10.2.0.9", ESP_V_DELIVERED },
		{ "10.1.0.5", "10.4.0.9", ESP_V_DELIVERED },
		{ "10.5.0.5", "10.2.0.9", ESP_V_DROPPED },
		{ "10.3.0.5", "10.5.0.9", ESP_V_DROPPED },
		{ "10.2.0.5", "10.1.0.9", ESP_V_DROPPED },	/* reversed */
	};
	unsigned drops = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t pkt[256];
		size_t len = udp_packet(pkt, cases[i].src, cases[i].dst, 7, 20);
		assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
		assert_int_equal(deliver_to(b, a), cases[i].v);
		drops += cases[i].v == ESP_V_DROPPED;
		assert_int_equal(stats(b, 0xa0001, GW_B).selector, drops);
	}
	assert_int_equal(stats(b, 0xa0001, GW_B).packets, 4);
	fixture_free(a);
	fixture_free(b);
}

/* --- path MTU --------------------------------------------------------------------------- */

static struct esp_engine_stats engine_stats(struct fixture *f)
{
	struct esp_engine_stats st;
	esp_engine_stats(f->e, &st);
	return st;
}

/* The default path MTU is 1500; AES-GCM (IV 8, ICV 16) in UDP 4500 over IPv4 leaves
 * 1438 bytes for the inner packet. Over that, DF packets get ICMP frag needed with
 * 1438, through the TUN device, at most 100 a second; at the limit they go out as ESP
 * packets of exactly 1500 bytes. */
static void test_pmtu_frag_needed(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	setup_pair(a, b, true);
	uint8_t pkt[2048];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 1411);
	put_u16(pkt + 6, 0x4000);
	assert_int_equal(len, 1439);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_DROPPED);
	assert_int_equal(a->wire.sent, 0);
	assert_int_equal(a->wire.written, 1);
	const uint8_t *m = a->wire.tun;
	assert_int_equal(a->wire.tun_len, 20 + 8 + 28);
	assert_int_equal(m[9], IPPROTO_ICMP);
	assert_int_equal(m[20], 3);
	assert_int_equal(m[21], 4);
	assert_int_equal(get_u16(m + 26), 1438);
	assert_memory_equal(m + 16, pkt + 12, 4);	/* back to the sender */
	assert_memory_equal(m + 28, pkt, 28);
	assert_int_equal(engine_stats(a).pmtu_sent, 1);

	len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 1410);
	put_u16(pkt + 6, 0x4000);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(20 + 8 + a->wire.last_len, 1500);
	assert_int_equal(deliver_to(b, a), ESP_V_DELIVERED);
	assert_memory_equal(b->wire.tun, pkt, len);

	/* Rate limit: 100 answers a second (this second has had one). */
	len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 1411);
	put_u16(pkt + 6, 0x4000);
	for (int i = 0; i < 150; i++)
		assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_DROPPED);
	assert_int_equal(engine_stats(a).pmtu_sent, 100);
	assert_int_equal(engine_stats(a).pmtu_suppressed, 51);
	esp_engine_tick(a->e, T0 + 1000);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_DROPPED);
	assert_int_equal(engine_stats(a).pmtu_sent, 101);
	assert_int_equal(a->wire.sent, 1);

	/* IPv6 never fragments on the way: Packet Too Big with the same MTU. */
	struct pfkey_policy out6 = policy(IPSEC_DIR_OUTBOUND, "fd01::/16", "fd02::/16", 1,
					  GW_A, GW_B);
	assert_int_equal(spd_msg(a, SADB_X_SPDADD, &out6), 0);
	memset(pkt, 0, 1500);
	pkt[0] = 0x60;
	put_u16(pkt + 4, 1460);
	pkt[6] = IPPROTO_UDP;
	pkt[7] = 64;
	inet_pton(AF_INET6, "fd01::5", pkt + 8);
	inet_pton(AF_INET6, "fd02::9", pkt + 24);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, 1500), ESP_V_DROPPED);
	assert_int_equal(a->wire.tun_len, 1280);
	assert_int_equal(a->wire.tun[40], 2);
	assert_int_equal(get_u32(a->wire.tun + 44), 1438);
	assert_int_equal(engine_stats(a).pmtu_sent, 102);
	fixture_free(a);
	fixture_free(b);
}

/* Without DF the packet is fragmented before encryption (raw ESP: inner MTU 1446),
 * each fragment in its own ESP packet, and B delivers both fragments. */
static void test_pmtu_prefragment(void **state)
{
	struct fixture *a = fixture_new(), *b = fixture_new();
	setup_pair(a, b, false);
	uint8_t pkt[2048];
	size_t len = udp_packet(pkt, "10.1.0.5", "10.2.0.9", 7, 1972);
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len), ESP_V_SENT);
	assert_int_equal(a->wire.sent, 2);
	assert_int_equal(a->wire.written, 0);
	struct esp_engine_stats st = engine_stats(a);
	assert_int_equal(st.prefrag_ok, 1);
	assert_int_equal(st.fragments, 2);
	assert_int_equal(st.pmtu_sent, 0);
	size_t got = 0;
	for (unsigned i = 0; i < 2; i++) {
		assert_true(20 + a->wire.qlen[i] <= 1500);
		assert_int_equal(esp_engine_input_packet(b->e, &a->wire.last_src, &a->wire.last_dst,
							 false, a->wire.q[i], a->wire.qlen[i]),
				 ESP_V_DELIVERED);
		const uint8_t *fr = b->wire.tun;
		uint16_t fw = get_u16(fr + 6);
		assert_int_equal((fw & 0x1fff) * 8, got);
		assert_int_equal((fw & 0x2000) != 0, i == 0);
		assert_memory_equal(fr + 20, pkt + 20 + got, b->wire.tun_len - 20);
		got += b->wire.tun_len - 20;
	}
	assert_int_equal(got, len - 20);
	assert_int_equal(stats(a, 0xa0001, GW_B).packets, 2);

	/* Options that cannot be read: dropped and counted. */
	memmove(pkt + 24, pkt + 20, len - 20);
	pkt[0] = 0x46;
	put_u16(pkt + 2, (uint16_t)(len + 4));
	pkt[20] = 0x94;
	pkt[21] = 9;
	assert_int_equal(esp_engine_output_packet(a->e, pkt, len + 4), ESP_V_DROPPED);
	assert_int_equal(engine_stats(a).prefrag_failed, 1);
	assert_int_equal(a->wire.sent, 2);
	fixture_free(a);
	fixture_free(b);
}

int main(void)
{
	log_set_all_levels(-1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_getspi),
		cmocka_unit_test(test_add_get_delete),
		cmocka_unit_test(test_update_larval),
		cmocka_unit_test(test_larval_timeout),
		cmocka_unit_test(test_larval_timeout_shared_buckets),
		cmocka_unit_test(test_delete_larval),
		cmocka_unit_test(test_dump_and_flush),
		cmocka_unit_test(test_bad_messages),
		cmocka_unit_test(test_spd),
		cmocka_unit_test(test_spd_most_specific),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_selector_mismatch),
		cmocka_unit_test(test_udp_encap),
		cmocka_unit_test(test_transport_mode),
		cmocka_unit_test(test_transport_natt_checksums),
		cmocka_unit_test(test_transport_natt_port_map),
		cmocka_unit_test(test_new_mapping),
		cmocka_unit_test(test_acquire_and_release),
		cmocka_unit_test(test_held_packets_expire),
		cmocka_unit_test(test_expire_time),
		cmocka_unit_test(test_expire_packets),
		cmocka_unit_test(test_expire_answered_in_place),
		cmocka_unit_test(test_make_before_break),
		cmocka_unit_test(test_update_keeps_sequence),
		cmocka_unit_test(test_update_keeps_state),
		cmocka_unit_test(test_cbc_sha256),
		cmocka_unit_test(test_sa_selector_lists),
		cmocka_unit_test(test_pmtu_frag_needed),
		cmocka_unit_test(test_pmtu_prefragment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
