/* What an established IKE SA keeps (issue 8, a thousand clients: memory per IKE SA).
 * After IKE_AUTH neither end holds the IKE_SA_INIT messages or a proposal array; the
 * proposals a request offers exist only while it is outstanding, and rekeys (which
 * offer again) still work and leave nothing behind. A CHILD_SA keeps its keys, not
 * copies of the PF_KEY SAs it installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ike/ike_private.h"
#include "tests/unit/ike_harness.h"

static char conf_a[2048], conf_b[2048];

static void make_conf(char *out, size_t len, const char *local, const char *remote,
		      const char *lnet, const char *rnet)
{
	snprintf(out, len,
		 "connections {\n  site {\n    local_addrs = %s\n    remote_addrs = %s\n"
		 "    proposals = aes128gcm16-prfsha256-x25519, aes256-sha256-modp2048\n"
		 "    local {\n      auth = psk\n      id = %s\n    }\n"
		 "    remote {\n      auth = psk\n      id = %s\n    }\n"
		 "    children {\n      net {\n        local_ts = %s\n        remote_ts = %s\n"
		 "        esp_proposals = aes128gcm16, aes256-sha256\n      }\n    }\n  }\n}\n"
		 "secrets {\n  ike-site {\n    id-a = 192.0.2.1\n    id-b = 198.51.100.2\n"
		 "    secret = s3cret-key\n  }\n}\n",
		 local, remote, local, remote, lnet, rnet);
}

/* Nothing of the handshake is left in an established SA. */
static void assert_trimmed(const struct ike_sa *sa)
{
	assert_non_null(sa);
	assert_int_equal(sa->state, IKE_ESTABLISHED);
	assert_int_equal(sa->req.kind, TASK_NONE);
	assert_null(sa->req.offered);
	assert_int_equal(sa->init_i.len, 0);
	assert_null(sa->init_i.data);
	assert_int_equal(sa->init_r.len, 0);
	assert_null(sa->init_r.data);
	assert_null(sa->dh);
}

static void up(struct harness *h)
{
	char err[256];
	make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", "10.1.0.0/24", "10.2.0.0/24");
	make_conf(conf_b, sizeof(conf_b), "198.51.100.2", "192.0.2.1", "10.2.0.0/24", "10.1.0.0/24");
	assert_int_equal(h_init(h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
	assert_int_equal(h_count_children(&h->a), 1);
	assert_int_equal(h_count_children(&h->b), 1);
}

static void test_established_keeps_no_handshake(void **state)
{
	struct harness h;
	up(&h);
	assert_trimmed(h_first_sa(&h.a));
	assert_trimmed(h_first_sa(&h.b));
	h_free(&h);
}

/* A child rekey and an IKE rekey offer proposals again: both work, and the arrays go
 * with their requests. */
static void test_rekeys_offer_and_free(void **state)
{
	struct harness h;
	char err[128];
	up(&h);
	uint32_t old_in = h_first_sa(&h.a)->children->spi_in;
	assert_int_equal(ike_rekey(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	assert_non_null(h_first_sa(&h.a)->req.offered);	/* outstanding: offered */
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_not_equal(h_first_sa(&h.a)->children->spi_in, old_in);
	assert_trimmed(h_first_sa(&h.a));
	assert_trimmed(h_first_sa(&h.b));

	uint32_t old_ike = h_first_sa(&h.a)->uniqueid;
	assert_int_equal(ike_rekey(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	h_advance(&h, 2000);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_not_equal(h_first_sa(&h.a)->uniqueid, old_ike);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_trimmed(h_first_sa(&h.a));
	assert_trimmed(h_first_sa(&h.b));
	h_free(&h);
}

/* The IKE_SA_INIT request replayed after IKE_AUTH is dropped and counted, as before
 * the messages were freed: no second SA, no answer. */
static void test_init_replay_after_auth_dropped(void **state)
{
	struct harness h;
	char err[256];
	make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", "10.1.0.0/24", "10.2.0.0/24");
	make_conf(conf_b, sizeof(conf_b), "198.51.100.2", "192.0.2.1", "10.2.0.0/24", "10.1.0.0/24");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	assert_true(h.n_wire >= 1);
	struct h_wire_msg init = h.wire[0];
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 1);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	uint64_t invalid = st.rx_invalid, sent = (uint64_t)h.b.sent;
	ike_input(h.b.core, &init.local, &init.remote, init.data, init.len, h.now);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.rx_invalid, invalid + 1);
	assert_int_equal((uint64_t)h.b.sent, sent);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 0);
	h_free(&h);
}

/* A CHILD_SA keeps its keys and where its SAs went, not two whole PF_KEY SAs: what
 * it kept is what the engine got. */
static void test_child_keeps_keys_only(void **state)
{
	struct harness h;
	up(&h);
	const struct child_sa *c = h_first_sa(&h.a)->children;
	const struct pfkey_sa *in = h_find_sa(&h.a, c->spi_in), *out = h_find_sa(&h.a, c->spi_out);
	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(c->keys_in);
	assert_non_null(c->keys_out);
	assert_int_equal(c->keys_in->ekey_len, in->ekey_len);
	assert_memory_equal(c->keys_in->key, in->ekey, in->ekey_len);
	assert_memory_equal(c->keys_out->key, out->ekey, out->ekey_len);
	assert_true(addr_equal(&c->keys_in->dst, &in->dst));
	assert_true(addr_equal(&c->keys_out->dst, &out->dst));
	h_free(&h);
}

/* The proposal array is no longer inside every SA, nor two PF_KEY SAs in every child;
 * nonces, identities, chosen proposals, the IKE SA's keys and a child's keys are
 * allocated to their length. */
static void test_sa_size(void **state)
{
	assert_true(sizeof(struct ike_sa) < 1024);
	assert_true(sizeof(struct child_sa) < 300);
	assert_true(sizeof(struct child_keys) < 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_established_keeps_no_handshake),
		cmocka_unit_test(test_rekeys_offer_and_free),
		cmocka_unit_test(test_init_replay_after_auth_dropped),
		cmocka_unit_test(test_child_keeps_keys_only),
		cmocka_unit_test(test_sa_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
