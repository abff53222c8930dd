/* pfkey/: round trips of every message kind, wire details other implementations rely
 * on, and malformed messages rejected with a reason.
 *
 * With PFKEY_WRITE_CORPUS=<dir> in the environment, the test also writes the messages
 * it builds to <dir> (that is how tests/fuzz/corpus/fuzz_pfkey/ was seeded). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/proposal.h"
#include "lib/buf.h"
#include "pfkey/pfkey.h"

static void write_corpus(const char *name, const struct buf *b)
{
	const char *dir = getenv("PFKEY_WRITE_CORPUS");
	if (!dir)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	fclose(f);
}

static struct addr mkaddr(const char *s)
{
	struct addr a;
	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct selector mksel(const char *s)
{
	struct selector sel;
	assert_int_equal(selector_parse(s, &sel), 0);
	return sel;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* An ESP tunnel SA with AES-GCM-16/256, NAT-T, a 4096 window, ESN, lifetimes. */
static struct pfkey_sa sample_sa(void)
{
	struct pfkey_sa sa;
	memset(&sa, 0, sizeof(sa));
	sa.spi = 0xc0a80001;
	sa.satype = SADB_SATYPE_ESP;
	sa.mode = IPSEC_MODE_TUNNEL;
	sa.reqid = 7;
	sa.src = mkaddr("192.0.2.1");
	sa.dst = mkaddr("198.51.100.2");
	sa.ealg = SADB_X_EALG_AES_GCM_ICV16;
	sa.ekey_len = 36;
	fill(sa.ekey, sa.ekey_len, 0x11);
	sa.replay_window = 4096;
	sa.esn = true;
	sa.state = SADB_SASTATE_MATURE;
	sa.has_hard = sa.has_soft = sa.has_current = true;
	sa.hard = (struct pfkey_lifetime){ .packets = 1000000, .bytes = 1ull << 40,
					   .addtime = 3600, .usetime = 0 };
	sa.soft = (struct pfkey_lifetime){ .packets = 900000, .bytes = 1ull << 39,
					   .addtime = 3240 };
	sa.current = (struct pfkey_lifetime){ .packets = 5, .bytes = 640,
					      .addtime = 1700000000, .usetime = 1700000001 };
	sa.natt_type = UDP_ENCAP_ESPINUDP;
	sa.natt_sport = 4500;
	sa.natt_dport = 31337;
	sa.natt_oa = mkaddr("10.9.9.9");
	sa.natt_oa.port = 1701;		/* the peer's inner port (L2TP behind a NAT) */
	sa.sel_src[0] = mksel("10.1.0.0/16");
	sa.sel_dst[0] = mksel("10.2.0.1-10.2.0.9[udp/500-510]");
	sa.n_sel_src = sa.n_sel_dst = 1;
	sa.has_sel = true;
	return sa;
}

static struct pfkey_policy sample_policy(void)
{
	struct pfkey_policy p;
	memset(&p, 0, sizeof(p));
	p.id = 42;
	p.dir = IPSEC_DIR_OUTBOUND;
	p.type = IPSEC_POLICY_IPSEC;
	p.src = mksel("10.1.0.0/16");
	p.dst = mksel("10.2.0.0/24[tcp/443]");
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = 7;
	p.tunnel_src = mkaddr("192.0.2.1");
	p.tunnel_dst = mkaddr("198.51.100.2");
	p.priority = 0x80000000u;
	return p;
}

static void decode_ok(const struct buf *b, struct pfkey_msg *m)
{
	char err[128] = "";
	assert_false(b->oom);
	int rc = pfkey_decode(b->data, b->len, m, err, sizeof(err));
	if (rc < 0)
		fail_msg("decode failed: %s", err);
}

static void assert_sa_equal(const struct pfkey_sa *a, const struct pfkey_sa *b, bool keys)
{
	assert_int_equal(a->spi, b->spi);
	assert_int_equal(a->satype, b->satype);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->reqid, b->reqid);
	assert_true(addr_equal(&a->src, &b->src));
	assert_true(addr_equal(&a->dst, &b->dst));
	assert_int_equal(a->ealg, b->ealg);
	assert_int_equal(a->aalg, b->aalg);
	if (keys) {
		assert_int_equal(a->ekey_len, b->ekey_len);
		assert_int_equal(a->akey_len, b->akey_len);
		assert_memory_equal(a->ekey, b->ekey, a->ekey_len);
		assert_memory_equal(a->akey, b->akey, a->akey_len);
	}
	assert_int_equal(a->replay_window, b->replay_window);
	assert_int_equal(a->esn, b->esn);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->natt_type, b->natt_type);
	assert_int_equal(a->natt_sport, b->natt_sport);
	assert_int_equal(a->natt_dport, b->natt_dport);
	assert_true(addr_equal(&a->natt_oa, &b->natt_oa));
	assert_int_equal(a->has_sel, b->has_sel);
	if (a->has_sel) {
		assert_int_equal(a->n_sel_src, b->n_sel_src);
		assert_int_equal(a->n_sel_dst, b->n_sel_dst);
		for (size_t i = 0; i < a->n_sel_src; i++)
			assert_true(selector_equal(&a->sel_src[i], &b->sel_src[i]));
		for (size_t i = 0; i < a->n_sel_dst; i++)
			assert_true(selector_equal(&a->sel_dst[i], &b->sel_dst[i]));
	}
}

static void assert_lifetime_equal(const struct pfkey_lifetime *a,
				  const struct pfkey_lifetime *b)
{
	assert_int_equal(a->packets, b->packets);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->addtime, b->addtime);
	assert_int_equal(a->usetime, b->usetime);
}

/* --- Round trips -------------------------------------------------------------------- */

static void test_sa_add_round_trip(void **state)
{
	struct pfkey_sa sa = sample_sa(), out;
	struct pfkey_msg m;
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_sa(&b, SADB_ADD, 99, &sa);
	write_corpus("add_gcm_natt_v4", &b);
	decode_ok(&b, &m);
	assert_int_equal(m.hdr->sadb_msg_type, SADB_ADD);
	assert_int_equal(m.hdr->sadb_msg_seq, 99);
	assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
	assert_sa_equal(&sa, &out, true);
	assert_true(out.has_hard && out.has_soft && out.has_current);
	assert_lifetime_equal(&sa.hard, &out.hard);
	assert_lifetime_equal(&sa.soft, &out.soft);
	assert_lifetime_equal(&sa.current, &out.current);
	assert_int_equal(out.akey_len, 0);
	assert_null(m.ext[SADB_EXT_KEY_AUTH]);
	buf_wipe_free(&b);
}

/* Wire details other PF_KEY code relies on: SPI and NAT-T ports in network order,
 * the u8 replay field saturated while SA_REPLAY carries the 32-bit window, ESN flag. */
static void test_sa_wire_layout(void **state)
{
	struct pfkey_sa sa = sample_sa();
	struct pfkey_msg m;
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, SADB_UPDATE, 1, &sa);
	decode_ok(&b, &m);
	const struct sadb_sa *w = (const struct sadb_sa *)m.ext[SADB_EXT_SA];
	assert_int_equal(w->sadb_sa_spi, htonl(0xc0a80001));
	assert_int_equal(w->sadb_sa_replay, 255);
	assert_int_equal(w->sadb_sa_flags, 0x400);
	assert_int_equal(w->sadb_sa_encrypt, 20);
	const struct sadb_x_sa_replay *r =
		(const struct sadb_x_sa_replay *)m.ext[SADB_X_EXT_SA_REPLAY];
	assert_non_null(r);
	assert_int_equal(r->sadb_x_sa_replay_replay, 4096);
	const struct sadb_x_nat_t_port *dp =
		(const struct sadb_x_nat_t_port *)m.ext[SADB_X_EXT_NAT_T_DPORT];
	assert_int_equal(dp->sadb_x_nat_t_port_port, htons(31337));
	const struct sadb_key *k = (const struct sadb_key *)m.ext[SADB_EXT_KEY_ENCRYPT];
	assert_int_equal(k->sadb_key_bits, 288);
	assert_int_equal(k->sadb_key_len, 6);	/* 8 + 36 -> 48 bytes */
	const struct sadb_address *a = (const struct sadb_address *)m.ext[SADB_EXT_ADDRESS_DST];
	assert_int_equal(a->sadb_address_len, 3);	/* 8 + sockaddr_in 16 */
	assert_int_equal(a->sadb_address_prefixlen, 32);
	assert_int_equal(b.len % 8, 0);
	buf_wipe_free(&b);
}

/* A small window needs no SA_REPLAY extension; the u8 field carries it. */
static void test_sa_small_replay_cbc_v6(void **state)
{
	struct pfkey_sa sa, out;
	struct pfkey_msg m;
	struct buf b;
	char err[128];
	memset(&sa, 0, sizeof(sa));
	sa.spi = 0x1234;
	sa.satype = SADB_SATYPE_ESP;
	sa.mode = IPSEC_MODE_TRANSPORT;
	sa.src = mkaddr("2001:db8::1");
	sa.dst = mkaddr("2001:db8::2");
	sa.ealg = SADB_X_EALG_AESCBC;
	sa.aalg = SADB_X_AALG_SHA2_512HMAC;
	sa.ekey_len = 32;
	sa.akey_len = 64;
	fill(sa.ekey, 32, 1);
	fill(sa.akey, 64, 2);
	sa.replay_window = 32;
	sa.state = SADB_SASTATE_MATURE;
	buf_init(&b);
	pfkey_build_sa(&b, SADB_ADD, 2, &sa);
	write_corpus("add_cbc_sha512_v6", &b);
	decode_ok(&b, &m);
	assert_null(m.ext[SADB_X_EXT_SA_REPLAY]);
	assert_null(m.ext[SADB_X_EXT_NAT_T_TYPE]);
	assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
	assert_sa_equal(&sa, &out, true);
	assert_false(out.has_hard);
	buf_wipe_free(&b);
}

static void test_sa_delete_carries_no_keys(void **state)
{
	struct pfkey_sa sa = sample_sa(), out;
	struct pfkey_msg m;
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_sa(&b, SADB_DELETE, 3, &sa);
	write_corpus("delete", &b);
	decode_ok(&b, &m);
	assert_null(m.ext[SADB_EXT_KEY_ENCRYPT]);
	assert_null(m.ext[SADB_EXT_LIFETIME_HARD]);
	assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
	assert_int_equal(out.spi, sa.spi);
	assert_int_equal(out.ekey_len, 0);
	buf_free(&b);
}

static void test_getspi_round_trip(void **state)
{
	struct addr s = mkaddr("203.0.113.5"), d = mkaddr("192.0.2.1");
	struct pfkey_msg m;
	struct pfkey_getspi g;
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_getspi(&b, 17, &s, &d, 0xc0000000, 0xcfffffff, 3);
	write_corpus("getspi", &b);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_getspi(&m, &g, err, sizeof(err)), 0);
	assert_int_equal(g.seq, 17);
	assert_int_equal(g.satype, SADB_SATYPE_ESP);
	assert_int_equal(g.min, 0xc0000000);
	assert_int_equal(g.max, 0xcfffffff);
	assert_int_equal(g.reqid, 3);
	assert_true(addr_equal(&g.src, &s));
	assert_true(addr_equal(&g.dst, &d));
	/* The reply: a larval SA with the chosen SPI. */
	struct pfkey_sa sa, out;
	memset(&sa, 0, sizeof(sa));
	sa.satype = SADB_SATYPE_ESP;
	sa.spi = 0xc0001234;
	sa.src = s;
	sa.dst = d;
	sa.reqid = 3;
	sa.state = SADB_SASTATE_LARVAL;
	buf_reset(&b);
	pfkey_build_sa(&b, SADB_GETSPI, 17, &sa);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
	assert_int_equal(out.spi, 0xc0001234);
	assert_int_equal(out.state, SADB_SASTATE_LARVAL);
	/* A GETSPI view refuses another message kind. */
	buf_reset(&b);
	pfkey_build_sa(&b, SADB_ADD, 1, &sa);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_getspi(&m, &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not GETSPI"));
	buf_free(&b);
}

static void test_policy_round_trip(void **state)
{
	struct pfkey_policy p = sample_policy(), out;
	struct pfkey_msg m;
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_policy(&b, SADB_X_SPDADD, 5, &p);
	write_corpus("spdadd_tunnel_v4", &b);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_policy(&m, &out, err, sizeof(err)), 0);
	assert_int_equal(out.id, 42);
	assert_int_equal(out.dir, IPSEC_DIR_OUTBOUND);
	assert_int_equal(out.type, IPSEC_POLICY_IPSEC);
	assert_int_equal(out.mode, IPSEC_MODE_TUNNEL);
	assert_int_equal(out.reqid, 7);
	assert_int_equal(out.priority, 0x80000000u);
	assert_true(out.has_sel);
	assert_true(selector_equal(&out.src, &p.src));
	assert_true(selector_equal(&out.dst, &p.dst));
	assert_true(addr_equal(&out.tunnel_src, &p.tunnel_src));
	assert_true(addr_equal(&out.tunnel_dst, &p.tunnel_dst));
	/* Linux-style address extensions say the same: /24, tcp, port 443. */
	const struct sadb_address *a = (const struct sadb_address *)m.ext[SADB_EXT_ADDRESS_DST];
	assert_int_equal(a->sadb_address_prefixlen, 24);
	assert_int_equal(a->sadb_address_proto, 6);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)(a + 1);
	assert_int_equal(sin->sin_port, htons(443));
	const struct sadb_x_ipsecrequest *rq =
		(const struct sadb_x_ipsecrequest *)((const uint8_t *)m.ext[SADB_X_EXT_POLICY] +
						     sizeof(struct sadb_x_policy));
	assert_int_equal(rq->sadb_x_ipsecrequest_level, IPSEC_LEVEL_UNIQUE);
	assert_int_equal(rq->sadb_x_ipsecrequest_proto, IPPROTO_ESP);
	buf_free(&b);
}

/* A Linux/KAME sender has no private selector extension: the address extensions
 * (prefix, protocol, port) are used. */
static void test_policy_from_address_extensions(void **state)
{
	struct pfkey_policy p = sample_policy(), out;
	struct pfkey_msg m;
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_policy(&b, SADB_X_SPDADD, 5, &p);
	decode_ok(&b, &m);
	/* Drop the private extension (it comes last) and fix the header length. */
	size_t sel_len = sizeof(struct sadb_x_tsunagi_sel);
	assert_non_null(m.ext[PFKEY_X_EXT_SELECTOR]);
	assert_ptr_equal((const uint8_t *)m.ext[PFKEY_X_EXT_SELECTOR], b.data + b.len - sel_len);
	b.len -= sel_len;
	struct sadb_msg h;
	memcpy(&h, b.data, sizeof(h));
	h.sadb_msg_len = (uint16_t)(b.len / 8);
	memcpy(b.data, &h, sizeof(h));
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_policy(&m, &out, err, sizeof(err)), 0);
	assert_true(out.has_sel);
	assert_true(selector_equal(&out.src, &p.src));
	assert_true(selector_equal(&out.dst, &p.dst));
	buf_free(&b);
}

static void test_policy_v6_transport_and_discard(void **state)
{
	struct pfkey_policy p, out;
	struct pfkey_msg m;
	struct buf b;
	char err[128];
	memset(&p, 0, sizeof(p));
	p.id = 9;
	p.dir = IPSEC_DIR_INBOUND;
	p.type = IPSEC_POLICY_IPSEC;
	p.src = mksel("2001:db8:1::/48");
	p.dst = mksel("2001:db8:2::5");
	p.mode = IPSEC_MODE_TRANSPORT;
	buf_init(&b);
	pfkey_build_policy(&b, SADB_X_SPDADD, 1, &p);
	write_corpus("spdadd_transport_v6", &b);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_policy(&m, &out, err, sizeof(err)), 0);
	assert_int_equal(out.mode, IPSEC_MODE_TRANSPORT);
	assert_int_equal(out.reqid, 0);
	assert_int_equal(out.tunnel_src.family, 0);
	assert_true(selector_equal(&out.src, &p.src));
	assert_true(selector_equal(&out.dst, &p.dst));

	p.type = IPSEC_POLICY_DISCARD;
	p.dir = IPSEC_DIR_FWD;
	buf_reset(&b);
	pfkey_build_policy(&b, SADB_X_SPDDELETE, 2, &p);
	write_corpus("spddelete_discard_v6", &b);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_policy(&m, &out, err, sizeof(err)), 0);
	assert_int_equal(out.type, IPSEC_POLICY_DISCARD);
	assert_int_equal(out.dir, IPSEC_DIR_FWD);
	assert_int_equal(m.ext[SADB_X_EXT_POLICY]->sadb_ext_len, 2);	/* no request */
	buf_free(&b);
}

static void test_acquire_round_trip(void **state)
{
	struct pfkey_policy p = sample_policy();
	struct selector ps = mksel("10.1.2.3[tcp/40000]"), pd = mksel("10.2.0.7[tcp/443]");
	struct pfkey_msg m;
	struct pfkey_acquire a;
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_acquire(&b, 77, &p, &p.tunnel_src, &p.tunnel_dst, &ps, &pd);
	write_corpus("acquire", &b);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_acquire(&m, &a, err, sizeof(err)), 0);
	assert_int_equal(a.seq, 77);
	assert_int_equal(a.policy.id, 42);
	assert_int_equal(a.policy.reqid, 7);
	assert_true(selector_equal(&a.policy.src, &p.src));
	assert_true(selector_equal(&a.policy.dst, &p.dst));
	assert_true(addr_equal(&a.src, &p.tunnel_src));
	assert_true(addr_equal(&a.dst, &p.tunnel_dst));
	assert_true(a.has_pkt);
	assert_true(selector_equal(&a.pkt_src, &ps));
	assert_true(selector_equal(&a.pkt_dst, &pd));
	/* Without a packet. */
	buf_reset(&b);
	pfkey_build_acquire(&b, 78, &p, &p.tunnel_src, &p.tunnel_dst, NULL, NULL);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_acquire(&m, &a, err, sizeof(err)), 0);
	assert_false(a.has_pkt);
	buf_free(&b);
}

static void test_expire_hard_and_soft(void **state)
{
	struct pfkey_sa sa = sample_sa(), out;
	struct pfkey_msg m;
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_expire(&b, &sa, true);
	write_corpus("expire_hard", &b);
	decode_ok(&b, &m);
	assert_int_equal(m.hdr->sadb_msg_type, SADB_EXPIRE);
	assert_true(pfkey_msg_expire_is_hard(&m));
	assert_null(m.ext[SADB_EXT_KEY_ENCRYPT]);
	assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
	assert_true(out.has_hard && out.has_current && !out.has_soft);
	assert_lifetime_equal(&out.hard, &sa.hard);
	assert_lifetime_equal(&out.current, &sa.current);
	assert_int_equal(out.spi, sa.spi);
	assert_int_equal(out.reqid, sa.reqid);

	buf_reset(&b);
	pfkey_build_expire(&b, &sa, false);
	write_corpus("expire_soft", &b);
	decode_ok(&b, &m);
	assert_false(pfkey_msg_expire_is_hard(&m));
	assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
	assert_true(out.has_soft && !out.has_hard);
	assert_lifetime_equal(&out.soft, &sa.soft);
	buf_free(&b);
}

/* NEW_MAPPING as Linux's km_new_mapping() lays it out: the old peer and its port as
 * the source, the new one as the destination. */
static void test_new_mapping_round_trip(void **state)
{
	struct pfkey_mapping mp = { .spi = 0xc0001234, .reqid = 7 }, out;
	struct pfkey_msg m;
	struct buf b;
	char err[128], s[ADDR_STRLEN];
	assert_int_equal(addr_parse("203.0.113.7", &mp.old_peer), 0);
	assert_int_equal(addr_parse("203.0.113.8", &mp.new_peer), 0);
	mp.old_peer.port = 4500;
	mp.new_peer.port = 31000;
	buf_init(&b);
	pfkey_build_new_mapping(&b, &mp);
	write_corpus("new_mapping", &b);
	decode_ok(&b, &m);
	assert_int_equal(m.hdr->sadb_msg_type, SADB_X_NAT_T_NEW_MAPPING);
	assert_int_equal(m.hdr->sadb_msg_satype, SADB_SATYPE_ESP);
	assert_int_equal(pfkey_msg_new_mapping(&m, &out, err, sizeof(err)), 0);
	assert_int_equal(out.spi, mp.spi);
	assert_int_equal(out.reqid, 7);
	assert_true(addr_equal(&out.old_peer, &mp.old_peer));
	assert_true(addr_equal(&out.new_peer, &mp.new_peer));
	assert_string_equal(addr_ntop(&out.new_peer, s, sizeof(s)), "203.0.113.8");
	/* Another message is not one; one without its ports is refused. */
	buf_reset(&b);
	pfkey_build_simple(&b, SADB_FLUSH, SADB_SATYPE_ESP, 1);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_new_mapping(&m, &out, err, sizeof(err)), -1);
	buf_reset(&b);
	pfkey_build_new_mapping(&b, &mp);
	decode_ok(&b, &m);
	m.ext[SADB_X_EXT_NAT_T_DPORT] = NULL;
	assert_int_equal(pfkey_msg_new_mapping(&m, &out, err, sizeof(err)), -1);
	buf_free(&b);
}

static void test_simple_and_reply(void **state)
{
	struct pfkey_msg m;
	struct buf b, r;
	char err[128];
	buf_init(&b);
	buf_init(&r);
	pfkey_build_simple(&b, SADB_X_SPDFLUSH, SADB_SATYPE_UNSPEC, 4);
	write_corpus("spdflush", &b);
	decode_ok(&b, &m);
	assert_int_equal(b.len, 16);
	assert_int_equal(m.hdr->sadb_msg_type, SADB_X_SPDFLUSH);
	assert_int_equal(pfkey_msg_sa(&m, &(struct pfkey_sa){ 0 }, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "without SA extension"));

	struct pfkey_sa sa = sample_sa();
	buf_reset(&b);
	pfkey_build_sa(&b, SADB_ADD, 1234, &sa);
	decode_ok(&b, &m);
	pfkey_build_reply(&r, m.hdr, EEXIST);
	write_corpus("reply_eexist", &r);
	decode_ok(&r, &m);
	assert_int_equal(m.hdr->sadb_msg_errno, EEXIST);
	assert_int_equal(m.hdr->sadb_msg_seq, 1234);
	assert_int_equal(m.hdr->sadb_msg_type, SADB_ADD);
	assert_int_equal(m.hdr->sadb_msg_satype, SADB_SATYPE_ESP);
	buf_wipe_free(&b);
	buf_free(&r);
}

/* Several messages in one buffer (DUMP replies) split by pfkey_first_len. */
static void test_dump_split(void **state)
{
	struct pfkey_sa sa = sample_sa();
	struct pfkey_policy p = sample_policy();
	struct pfkey_msg m;
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, SADB_DUMP, 1, &sa);
	pfkey_build_policy(&b, SADB_X_SPDDUMP, 0, &p);
	size_t n1 = pfkey_first_len(b.data, b.len);
	assert_true(n1 > 0 && n1 < b.len);
	char err[128];
	assert_int_equal(pfkey_decode(b.data, n1, &m, err, sizeof(err)), 0);
	assert_int_equal(m.hdr->sadb_msg_type, SADB_DUMP);
	size_t n2 = pfkey_first_len(b.data + n1, b.len - n1);
	assert_int_equal(n1 + n2, b.len);
	assert_int_equal(pfkey_decode(b.data + n1, n2, &m, err, sizeof(err)), 0);
	assert_int_equal(m.hdr->sadb_msg_type, SADB_X_SPDDUMP);
	assert_int_equal(pfkey_first_len(b.data, 15), 0);
	/* The whole buffer is not one message. */
	assert_int_equal(pfkey_decode(b.data, b.len, &m, err, sizeof(err)), -1);
	buf_wipe_free(&b);
}

struct capture {
	int calls;
	size_t len;
	uint8_t type;
};

static void capture_deliver(void *arg, const uint8_t *msg, size_t len)
{
	struct capture *c = arg;
	c->calls++;
	c->len = len;
	c->type = msg[1];
}

static void test_endpoint_send(void **state)
{
	struct capture c = { 0 };
	struct pfkey_endpoint ep = { capture_deliver, &c };
	struct buf b;
	buf_init(&b);
	pfkey_build_simple(&b, SADB_FLUSH, SADB_SATYPE_ESP, 1);
	pfkey_send(&ep, &b);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.len, 16);
	assert_int_equal(c.type, SADB_FLUSH);
	b.oom = true;	/* a half-built message is never delivered */
	pfkey_send(&ep, &b);
	assert_int_equal(c.calls, 1);
	buf_free(&b);
}

/* --- Malformed input ---------------------------------------------------------------- */

static struct buf built_sa(void)
{
	struct pfkey_sa sa = sample_sa();
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, SADB_ADD, 1, &sa);
	return b;
}

static void expect_reject(const uint8_t *p, size_t len, const char *needle)
{
	struct pfkey_msg m;
	char err[160] = "";
	assert_int_equal(pfkey_decode(p, len, &m, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	assert_null(m.hdr);
}

static void set_u16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void test_reject_truncated(void **state)
{
	struct buf b = built_sa();
	expect_reject(b.data, 0, "shorter than the 16-byte header");
	expect_reject(b.data, 15, "shorter than the 16-byte header");
	/* Every shorter length disagrees with the header. */
	for (size_t n = 16; n < b.len; n += 8)
		expect_reject(b.data, n, "differs from the");
	buf_wipe_free(&b);
}

static void test_reject_bad_header(void **state)
{
	struct buf b = built_sa();
	b.data[0] = 1;	/* version */
	expect_reject(b.data, b.len, "version 1");
	b.data[0] = PF_KEY_V2;
	b.data[1] = 0;	/* type */
	expect_reject(b.data, b.len, "unknown message type 0");
	b.data[1] = SADB_MAX + 1;
	expect_reject(b.data, b.len, "unknown message type");
	b.data[1] = SADB_ADD;
	b.data[3] = 200;	/* satype */
	expect_reject(b.data, b.len, "unknown SA type 200");
	buf_wipe_free(&b);
}

/* Offset of extension type t within b (which must decode). */
static size_t ext_off(const struct buf *b, int t)
{
	struct pfkey_msg m;
	char err[128];
	assert_int_equal(pfkey_decode(b->data, b->len, &m, err, sizeof(err)), 0);
	assert_non_null(m.ext[t]);
	return (size_t)((const uint8_t *)m.ext[t] - b->data);
}

static void test_reject_ext_lengths(void **state)
{
	struct buf b = built_sa();
	size_t off = ext_off(&b, SADB_EXT_KEY_ENCRYPT);
	set_u16(b.data + off, 1);	/* 8 bytes: header only, but the key says 288 bits */
	expect_reject(b.data, b.len, "");	/* then the next "extension" is garbage */
	set_u16(b.data + off, 0);
	expect_reject(b.data, b.len, "extension 9 length 0 shorter than 8");
	set_u16(b.data + off, 0xffff);	/* length overflow */
	expect_reject(b.data, b.len, "extension 9 length 524280 exceeds");
	set_u16(b.data + off, 6);

	off = ext_off(&b, SADB_EXT_SA);
	set_u16(b.data + off, 1);
	expect_reject(b.data, b.len, "extension 1 length 8 shorter than 16");
	set_u16(b.data + off, 2);
	buf_wipe_free(&b);
}

static void test_reject_key_bits(void **state)
{
	struct buf b = built_sa();
	size_t off = ext_off(&b, SADB_EXT_KEY_ENCRYPT);
	set_u16(b.data + off + 4, 289 + 64);	/* 45 bytes in a 40-byte body */
	expect_reject(b.data, b.len, "key of 353 bits does not fit in 40 bytes");
	/* Fits the extension but is not whole bytes: the SA view refuses it. */
	set_u16(b.data + off + 4, 287);
	struct pfkey_msg m;
	struct pfkey_sa sa;
	char err[128];
	assert_int_equal(pfkey_decode(b.data, b.len, &m, err, sizeof(err)), 0);
	assert_int_equal(pfkey_msg_sa(&m, &sa, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not whole bytes"));
	assert_int_equal(sa.ekey_len, 0);
	buf_wipe_free(&b);
}

static void test_reject_duplicate_and_unknown(void **state)
{
	struct buf b = built_sa();
	size_t off = ext_off(&b, SADB_X_EXT_NAT_T_DPORT);
	set_u16(b.data + off + 2, SADB_X_EXT_NAT_T_SPORT);
	expect_reject(b.data, b.len, "duplicate extension 21");
	set_u16(b.data + off + 2, 28);	/* FreeBSD's NEW_ADDRESS_SRC: not ours */
	expect_reject(b.data, b.len, "unknown extension type 28");
	set_u16(b.data + off + 2, 0);
	expect_reject(b.data, b.len, "unknown extension type 0");
	set_u16(b.data + off + 2, 200);
	expect_reject(b.data, b.len, "unknown extension type 200");
	buf_wipe_free(&b);
}

static void test_reject_bad_sockaddr(void **state)
{
	struct buf b = built_sa();
	size_t off = ext_off(&b, SADB_EXT_ADDRESS_SRC);
	uint16_t fam = AF_INET6;	/* sockaddr_in6 (28) does not fit in 16 bytes */
	memcpy(b.data + off + 8, &fam, sizeof(fam));
	expect_reject(b.data, b.len, "needs 28 bytes, 16 left");
	fam = 99;
	memcpy(b.data + off + 8, &fam, sizeof(fam));
	expect_reject(b.data, b.len, "unknown address family 99");
	fam = AF_INET;
	memcpy(b.data + off + 8, &fam, sizeof(fam));
	b.data[off + 5] = 33;	/* prefix length */
	expect_reject(b.data, b.len, "prefix length 33 exceeds 32");
	buf_wipe_free(&b);
}

static void test_reject_bad_ipsecrequest(void **state)
{
	struct pfkey_policy p = sample_policy();
	struct buf b;
	buf_init(&b);
	pfkey_build_policy(&b, SADB_X_SPDADD, 1, &p);
	size_t off = ext_off(&b, SADB_X_EXT_POLICY) + sizeof(struct sadb_x_policy);
	set_u16(b.data + off, 8);
	expect_reject(b.data, b.len, "ipsecrequest length 8 shorter than 16");
	set_u16(b.data + off, 200);
	expect_reject(b.data, b.len, "ipsecrequest length 200 exceeds");
	set_u16(b.data + off, 24);	/* room for only part of the tunnel src */
	expect_reject(b.data, b.len, "ipsecrequest src");
	set_u16(b.data + off, 16);	/* the tunnel sockaddrs now read as a second request whose length is AF_INET */
	expect_reject(b.data, b.len, "ipsecrequest length 2 shorter than 16");
	set_u16(b.data + off, 48);
	/* Tunnel mode without endpoints is refused by the policy view. */
	p.tunnel_src.family = p.tunnel_dst.family = 0;
	buf_reset(&b);
	pfkey_build_policy(&b, SADB_X_SPDADD, 1, &p);
	struct pfkey_msg m;
	struct pfkey_policy out;
	char err[128];
	assert_int_equal(pfkey_decode(b.data, b.len, &m, err, sizeof(err)), 0);
	assert_int_equal(pfkey_msg_policy(&m, &out, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "without tunnel addresses"));
	buf_free(&b);
}

static void test_reject_bad_selector_ext(void **state)
{
	struct buf b = built_sa();
	size_t off = ext_off(&b, PFKEY_X_EXT_SELECTOR);
	struct sadb_x_tsunagi_sel w;
	memcpy(&w, b.data + off, sizeof(w));
	w.sadb_x_sel_dst_port_lo = 600;	/* > hi 510 */
	memcpy(b.data + off, &w, sizeof(w));
	expect_reject(b.data, b.len, "port range is reversed");
	w.sadb_x_sel_dst_port_lo = 500;
	w.sadb_x_sel_family = 7;
	memcpy(b.data + off, &w, sizeof(w));
	expect_reject(b.data, b.len, "unknown selector family 7");
	buf_wipe_free(&b);
}

static void test_views_require_extensions(void **state)
{
	struct pfkey_msg m;
	struct pfkey_policy p;
	struct pfkey_acquire a;
	struct pfkey_sa sa = sample_sa();
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_sa(&b, SADB_ADD, 1, &sa);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_policy(&m, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "without policy extension"));
	assert_int_equal(pfkey_msg_acquire(&m, &a, err, sizeof(err)), -1);
	m.ext[SADB_EXT_ADDRESS_DST] = NULL;
	assert_int_equal(pfkey_msg_sa(&m, &sa, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "without destination address"));
	buf_wipe_free(&b);
}

/* --- Algorithms and text -------------------------------------------------------------- */

static void test_alg_mapping(void **state)
{
	uint8_t e, a;
	assert_int_equal(pfkey_ealg_from_ikev2(ENCR_AES_GCM_16, 256, &e), 0);
	assert_int_equal(e, SADB_X_EALG_AES_GCM_ICV16);
	assert_int_equal(pfkey_ealg_keylen(e, 256), 36);
	assert_int_equal(pfkey_ealg_icvlen(e), 16);
	assert_true(pfkey_ealg_is_aead(e));
	assert_int_equal(pfkey_ealg_from_ikev2(ENCR_AES_CBC, 128, &e), 0);
	assert_int_equal(e, SADB_X_EALG_AESCBC);
	assert_int_equal(pfkey_ealg_keylen(e, 128), 16);
	assert_false(pfkey_ealg_is_aead(e));
	assert_int_equal(pfkey_ealg_from_ikev2(ENCR_AES_CBC, 0, &e), -1);
	assert_int_equal(pfkey_ealg_from_ikev2(ENCR_AES_CBC, 100, &e), -1);
	assert_int_equal(pfkey_ealg_from_ikev2(ENCR_CHACHA20_POLY1305, 0, &e), 0);
	assert_int_equal(e, SADB_X_EALG_CHACHA20POLY1305);
	assert_int_equal(pfkey_ealg_keylen(e, 0), 36);
	assert_int_equal(pfkey_ealg_from_ikev2(ENCR_AES_CTR, 192, &e), 0);
	assert_int_equal(pfkey_ealg_keylen(e, 192), 28);
	assert_int_equal(pfkey_ealg_from_ikev2(ENCR_3DES, 0, &e), 0);
	assert_int_equal(e, SADB_EALG_3DESCBC);
	assert_int_equal(pfkey_ealg_from_ikev2(999, 0, &e), -1);
	assert_int_equal(pfkey_aalg_from_ikev2(INTEG_HMAC_SHA2_256_128, &a), 0);
	assert_int_equal(a, SADB_X_AALG_SHA2_256HMAC);
	assert_int_equal(pfkey_aalg_keylen(a), 32);
	assert_int_equal(pfkey_aalg_icvlen(a), 16);	/* RFC 4868, not Linux's 96 */
	assert_int_equal(pfkey_aalg_from_ikev2(INTEG_HMAC_SHA1_96, &a), 0);
	assert_int_equal(pfkey_aalg_icvlen(a), 12);
	assert_int_equal(pfkey_aalg_from_ikev2(INTEG_NONE, &a), 0);
	assert_int_equal(a, SADB_AALG_NONE);
	assert_int_equal(pfkey_aalg_from_ikev2(77, &a), -1);
}

static void test_format(void **state)
{
	struct pfkey_sa sa = sample_sa();
	struct pfkey_policy p = sample_policy();
	struct buf b;
	buf_init(&b);
	pfkey_format_sa(&sa, &b);
	buf_put_u8(&b, 0);
	const char *s = (const char *)b.data;
	assert_non_null(strstr(s, "192.0.2.1[4500] 198.51.100.2[31337]\n"));
	assert_non_null(strstr(s, "esp-udp mode=tunnel spi=3232235521(0xc0a80001) reqid=7"));
	assert_non_null(strstr(s, "E: aes-gcm-16  (key 288 bits)"));
	assert_non_null(strstr(s, "replay=4096 flags=0x00000400 state=mature esn"));
	/* No key byte is printed: the key starts 11 18 1f 26. */
	assert_null(strstr(s, "11181f26"));
	assert_null(strstr(s, "A: "));
	buf_reset(&b);
	pfkey_format_policy(&p, &b);
	buf_put_u8(&b, 0);
	s = (const char *)b.data;
	assert_non_null(strstr(s, "10.1.0.0/16[any] 10.2.0.0/24[443] 6\n"));
	assert_non_null(strstr(s, "\tout prio 2147483648 ipsec\n"));
	assert_non_null(strstr(s, "\tesp/tunnel/192.0.2.1-198.51.100.2/unique:7\n"));
	assert_string_equal(pfkey_type_name(SADB_X_SPDADD), "X_SPDADD");
	assert_string_equal(pfkey_type_name(200), "UNKNOWN");
	buf_free(&b);
}

/* ---- SA selector lists (a CHILD_SA with several TS) ---- */

static struct pfkey_sa list_sa(size_t ns, size_t nd)
{
	struct pfkey_sa sa = sample_sa();
	char s[64];
	sa.n_sel_src = (uint8_t)ns;
	sa.n_sel_dst = (uint8_t)nd;
	for (size_t i = 0; i < ns; i++) {
		snprintf(s, sizeof(s), i == 2 ? "fd00:%zx::/64" : "10.%zu.0.0/16[tcp]", i + 1);
		sa.sel_src[i] = mksel(s);
	}
	for (size_t i = 0; i < nd; i++) {
		snprintf(s, sizeof(s), i == 1 ? "fd01:%zx::/64[udp/500]" : "172.16.%zu.0/24", i);
		sa.sel_dst[i] = mksel(s);
	}
	return sa;
}

static void test_sa_selector_list_round_trip(void **state)
{
	static const size_t sizes[][2] = { { 2, 2 }, { 1, 3 }, { 4, 1 }, { 16, 16 } };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct pfkey_sa sa = list_sa(sizes[k][0], sizes[k][1]), out;
		struct pfkey_msg m;
		struct buf b;
		char err[128];
		buf_init(&b);
		pfkey_build_sa(&b, SADB_UPDATE, 5, &sa);
		if (k == 0)
			write_corpus("update_selector_list", &b);
		decode_ok(&b, &m);
		assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
		assert_sa_equal(&sa, &out, true);
		buf_wipe_free(&b);
	}
	/* No src/dst pair of one family: no selectors are sent (the engine then
	 * falls back to the policies). */
	struct pfkey_sa sa = list_sa(1, 2), out;
	sa.sel_dst[0] = sa.sel_dst[1];
	sa.n_sel_dst = 1;
	struct pfkey_msg m;
	struct buf b;
	char err[128];
	buf_init(&b);
	pfkey_build_sa(&b, SADB_ADD, 5, &sa);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
	assert_false(out.has_sel);
	/* The first same-family pair leads; the rest follow. */
	sa = list_sa(3, 2);
	sa.sel_src[0] = sa.sel_src[2];	/* v6 first: pairs with dst[1] */
	buf_reset(&b);
	pfkey_build_sa(&b, SADB_ADD, 5, &sa);
	decode_ok(&b, &m);
	assert_int_equal(pfkey_msg_sa(&m, &out, err, sizeof(err)), 0);
	assert_int_equal(out.n_sel_src, 3);
	assert_int_equal(out.n_sel_dst, 2);
	assert_true(selector_equal(&out.sel_src[0], &sa.sel_src[0]));
	assert_true(selector_equal(&out.sel_dst[0], &sa.sel_dst[1]));
	assert_true(selector_equal(&out.sel_dst[1], &sa.sel_dst[0]));
	buf_wipe_free(&b);
}

static void test_reject_bad_selector_list(void **state)
{
	struct pfkey_sa sa = list_sa(16, 2);
	struct buf b;
	buf_init(&b);
	pfkey_build_sa(&b, SADB_ADD, 1, &sa);
	size_t off = ext_off(&b, PFKEY_X_EXT_SELECTOR);
	size_t more = off + sizeof(struct sadb_x_tsunagi_sel);
	size_t last = more + 15 * sizeof(struct sadb_x_tsunagi_sel_more);	/* the dst one */
	struct sadb_ext e;
	memcpy(&e, b.data + off, sizeof(e));
	assert_int_equal(e.sadb_ext_len * 8, 80 + 16 * 40);
	assert_int_equal(b.data[last], PFKEY_SEL_DST);
	/* A 17th source. */
	b.data[last] = PFKEY_SEL_SRC;
	expect_reject(b.data, b.len, "more than 16 selectors");
	b.data[last] = 3;
	expect_reject(b.data, b.len, "unknown side 3");
	b.data[last] = PFKEY_SEL_DST;
	b.data[last + 1] = 99;
	expect_reject(b.data, b.len, "unknown family 99");
	b.data[last + 1] = AF_INET6;
	b.data[last + 8] = 0xff;	/* lo above hi */
	expect_reject(b.data, b.len, "reversed range");
	b.data[last + 8] = 0xfd;
	/* A length that leaves part of an entry. */
	set_u16(b.data + off, (uint16_t)(e.sadb_ext_len - 1));
	expect_reject(b.data, b.len, "not a multiple of 40");
	set_u16(b.data + off, e.sadb_ext_len);
	struct pfkey_msg m;
	decode_ok(&b, &m);
	buf_wipe_free(&b);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sa_add_round_trip),
		cmocka_unit_test(test_sa_wire_layout),
		cmocka_unit_test(test_sa_small_replay_cbc_v6),
		cmocka_unit_test(test_sa_delete_carries_no_keys),
		cmocka_unit_test(test_getspi_round_trip),
		cmocka_unit_test(test_policy_round_trip),
		cmocka_unit_test(test_policy_from_address_extensions),
		cmocka_unit_test(test_policy_v6_transport_and_discard),
		cmocka_unit_test(test_acquire_round_trip),
		cmocka_unit_test(test_expire_hard_and_soft),
		cmocka_unit_test(test_new_mapping_round_trip),
		cmocka_unit_test(test_simple_and_reply),
		cmocka_unit_test(test_dump_split),
		cmocka_unit_test(test_endpoint_send),
		cmocka_unit_test(test_reject_truncated),
		cmocka_unit_test(test_reject_bad_header),
		cmocka_unit_test(test_reject_ext_lengths),
		cmocka_unit_test(test_reject_key_bits),
		cmocka_unit_test(test_reject_duplicate_and_unknown),
		cmocka_unit_test(test_reject_bad_sockaddr),
		cmocka_unit_test(test_reject_bad_ipsecrequest),
		cmocka_unit_test(test_reject_bad_selector_ext),
		cmocka_unit_test(test_views_require_extensions),
		cmocka_unit_test(test_alg_mapping),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_sa_selector_list_round_trip),
		cmocka_unit_test(test_reject_bad_selector_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
