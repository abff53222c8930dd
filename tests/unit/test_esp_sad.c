/* The engine's SA keeps only what the data path needs: no keys, no room for
 * PFKEY_MAX_SEL selectors per side, the selectors it was given in a block sized to
 * their count; and gives back what it was given (SADB_GET). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "esp/sad.h"
#include "lib/clock.h"
#include "pfkey/pfkey.h"

static struct pfkey_sa sa_with(unsigned ns, unsigned nd)
{
	struct pfkey_sa p;
	memset(&p, 0, sizeof(p));
	p.spi = 0x1234;
	p.satype = SADB_SATYPE_ESP;
	p.mode = IPSEC_MODE_TUNNEL;
	p.reqid = 7;
	assert_int_equal(addr_parse("192.0.2.1", &p.src), 0);
	assert_int_equal(addr_parse("192.0.2.2", &p.dst), 0);
	p.ealg = SADB_X_EALG_AES_GCM_ICV16;
	p.ekey_len = 20;
	memset(p.ekey, 0x42, p.ekey_len);
	p.replay_window = 32;
	p.has_hard = true;
	p.hard.addtime = 3600;
	p.has_sel = ns + nd > 0;
	char s[32];
	for (unsigned i = 0; i < ns; i++) {
		snprintf(s, sizeof(s), "10.1.%u.0/24", i);
		assert_int_equal(selector_parse(s, &p.sel_src[i]), 0);
	}
	for (unsigned i = 0; i < nd; i++) {
		snprintf(s, sizeof(s), "10.2.%u.0/24[tcp/%u]", i, 80 + i);
		assert_int_equal(selector_parse(s, &p.sel_dst[i]), 0);
	}
	p.n_sel_src = (uint8_t)ns;
	p.n_sel_dst = (uint8_t)nd;
	return p;
}

static void check_describe(const struct sa *sa, const struct pfkey_sa *want)
{
	struct pfkey_sa got;
	sa_describe(sa, clock_now_ms(), &got);
	assert_int_equal(got.spi, want->spi);
	assert_int_equal(got.reqid, want->reqid);
	assert_int_equal(got.ekey_len, 0);
	assert_int_equal(got.akey_len, 0);
	assert_int_equal(got.hard.addtime, want->hard.addtime);
	assert_int_equal(got.n_sel_src, want->n_sel_src);
	assert_int_equal(got.n_sel_dst, want->n_sel_dst);
	assert_memory_equal(got.sel_src, want->sel_src, want->n_sel_src * sizeof(got.sel_src[0]));
	assert_memory_equal(got.sel_dst, want->sel_dst, want->n_sel_dst * sizeof(got.sel_dst[0]));
}

/* Its struct is far smaller than a struct pfkey_sa (1.5 KB, most of it room for
 * selectors and keys), and its heap beyond the struct grows with the selectors
 * given, not with PFKEY_MAX_SEL. */
static void test_sa_is_sized_to_its_selectors(void **state)
{
	(void)state;
	assert_true(sizeof(struct sa) < 512);
	char err[128];
	struct pfkey_sa p = sa_with(2, 3);
	struct sa *sa = sa_new(&p, false, clock_now_ms(), err, sizeof(err));
	assert_non_null(sa);
	check_describe(sa, &p);

	/* reinstalled (UPDATE) with other selectors: the new ones, the old block freed
	 * (ASan's leak check sees it otherwise) */
	struct pfkey_sa q = sa_with(1, 0);
	q.spi = p.spi;
	assert_int_equal(sa_install(sa, &q, clock_now_ms(), err, sizeof(err)), 0);
	check_describe(sa, &q);

	/* a larval SA and one without selectors hold none */
	struct pfkey_sa none = sa_with(0, 0);
	struct sa *l = sa_new(&none, true, clock_now_ms(), err, sizeof(err));
	assert_non_null(l);
	check_describe(l, &none);
	sa_free(l);
	sa_free(sa);
}

/* An SA carries traffic one way: its cipher context for that way is made by the
 * first packet, the other never (an OpenSSL GCM context is about 1.1 KB). */
static void test_cipher_contexts_made_on_first_use(void **state)
{
	(void)state;
	char err[128];
	struct pfkey_sa p = sa_with(0, 0);
	struct sa *out = sa_new(&p, false, clock_now_ms(), err, sizeof(err));
	struct sa *in = sa_new(&p, false, clock_now_ms(), err, sizeof(err));
	assert_non_null(out);
	assert_non_null(in);
	assert_false(esp_crypto_has_ctx(out->crypto, true));
	assert_false(esp_crypto_has_ctx(out->crypto, false));
	uint8_t inner[40] = { 0x45, 0, 0, 40 }, pkt[256];
	ssize_t n = esp_encap(&out->out, inner, sizeof(inner), 4, pkt, sizeof(pkt));
	assert_true(n > 0);
	assert_true(esp_crypto_has_ctx(out->crypto, true));
	assert_false(esp_crypto_has_ctx(out->crypto, false));
	uint8_t *dec;
	size_t dlen;
	uint8_t nh;
	assert_int_equal(esp_decap(&in->in, pkt, (size_t)n, &dec, &dlen, &nh), ESP_OK);
	assert_int_equal(dlen, sizeof(inner));
	assert_memory_equal(dec, inner, sizeof(inner));
	assert_true(esp_crypto_has_ctx(in->crypto, false));
	assert_false(esp_crypto_has_ctx(in->crypto, true));
	sa_free(out);
	sa_free(in);
}

/* Issue 8 (memory per remote-access client): one selector a side, what a client's
 * SAs have, lives in the SA itself (no block of its own, 96 bytes with malloc's
 * header); more go to a block, and an UPDATE moves between the two. */
static void test_few_selectors_inline(void **state)
{
	(void)state;
	char err[128];
	struct pfkey_sa p = sa_with(1, 1);
	struct sa *sa = sa_new(&p, false, clock_now_ms(), err, sizeof(err));
	assert_non_null(sa);
	assert_ptr_equal(sa->cfg.sel_src, sa->cfg.sel_inline);
	assert_ptr_equal(sa->cfg.sel_dst, sa->cfg.sel_inline + 1);
	assert_true(sizeof(struct sa) <= 488);	/* no holes: 496 with malloc's header */
	check_describe(sa, &p);
	struct pfkey_sa q = sa_with(2, 3);
	assert_int_equal(sa_install(sa, &q, clock_now_ms(), err, sizeof(err)), 0);
	assert_ptr_not_equal(sa->cfg.sel_src, sa->cfg.sel_inline);
	check_describe(sa, &q);
	struct pfkey_sa r = sa_with(0, 2);
	assert_int_equal(sa_install(sa, &r, clock_now_ms(), err, sizeof(err)), 0);
	assert_ptr_equal(sa->cfg.sel_dst, sa->cfg.sel_inline);
	check_describe(sa, &r);
	sa_free(sa);		/* ASan: the block of q's freed at the UPDATE */
}

/* Lifetime limits kept in 32 bits where the wire has 32 (packets) or more than a
 * century is no limit in practice (seconds): SADB_GET gives them back, a value past
 * 32 bits as the largest, bytes in full; the limits still fire. */
static void test_lifetimes_kept_compact(void **state)
{
	(void)state;
	char err[128];
	struct pfkey_sa p = sa_with(0, 0);
	p.has_soft = true;
	p.hard.bytes = 1ull << 40;
	p.hard.packets = 1ull << 33;
	p.hard.addtime = 5000000000ull;
	p.hard.usetime = 60;
	p.soft.packets = 3;
	struct sa *sa = sa_new(&p, false, clock_now_ms(), err, sizeof(err));
	assert_non_null(sa);
	assert_true(sizeof(sa->cfg.hard) <= 24);
	struct pfkey_sa got;
	sa_describe(sa, clock_now_ms(), &got);
	assert_true(got.hard.bytes == 1ull << 40);
	assert_true(got.hard.packets == UINT32_MAX);
	assert_true(got.hard.addtime == UINT32_MAX);
	assert_int_equal(got.hard.usetime, 60);
	assert_int_equal(got.soft.packets, 3);
	assert_int_equal(sa_account(sa, 100, clock_now_ms()), 0);
	assert_int_equal(sa_account(sa, 100, clock_now_ms()), 0);
	assert_int_equal(sa_account(sa, 100, clock_now_ms()), 1);
	sa_free(sa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sa_is_sized_to_its_selectors),
		cmocka_unit_test(test_cipher_contexts_made_on_first_use),
		cmocka_unit_test(test_few_selectors_inline),
		cmocka_unit_test(test_lifetimes_kept_compact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
