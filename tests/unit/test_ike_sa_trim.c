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
	assert_null(sa->init);		/* IKE_SA_INIT's messages, cookie, error */
	assert_null(sa->resp_frags);	/* nothing was fragmented */
	assert_null(sa->req.frags);
	/* SK_pi and SK_pr signed the AUTH payloads: gone, the rest kept */
	assert_null(sa->keys.sk_pi);
	assert_null(sa->keys.sk_pr);
	assert_non_null(sa->keys.sk_d);
	assert_int_equal(sa->keys.km_len, sa->keys.prf_len + 2 * sa->keys.ak_len +
					  2 * sa->keys.ek_len);
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

/* Issue 8, memory per IKE SA: the fields of an SA are grouped by size (no holes). */
static void test_ike_sa_packed(void **state)
{
	(void)state;
	assert_true(sizeof(struct ike_sa) <= 680);
	assert_true(sizeof(struct ike_keys) <= 80);
	assert_true(sizeof(struct child_sa) <= 200);
}

/* The chosen IKE proposal has no SPI and is shared by every SA that chose the same
 * (here both ends of one SA, two cores in one process); so is a CHILD_SA's, kept
 * without the peer's SPI (the child has it in spi_out). Shared ones go with their
 * last user (ASan: no leak, no use after free). */
static void test_ike_proposal_shared(void **state)
{
	(void)state;
	struct harness h;
	up(&h);
	const struct ike_sa *a = h_first_sa(&h.a), *b = h_first_sa(&h.b);
	assert_ptr_equal(a->prop, b->prop);
	assert_ptr_equal(a->children->prop, b->children->prop);
	assert_int_equal(a->children->prop->spi_len, 0);
	assert_int_equal(a->children->spi_out, b->children->spi_in);
	assert_int_equal(b->children->spi_out, a->children->spi_in);

	struct proposal p;
	memset(&p, 0xa5, sizeof(p));	/* padding differs from the kept ones' */
	p.num = a->prop->num;
	p.protocol = a->prop->protocol;
	p.spi_len = 0;
	p.n_xf = a->prop->n_xf;
	for (size_t i = 0; i < p.n_xf; i++)
		p.xf[i] = a->prop->xf[i];
	const struct proposal *k1 = &proposal_none, *k2 = &proposal_none;
	assert_int_equal(proposal_keep(&k1, &p), 0);
	assert_ptr_equal(k1, a->prop);
	p.num++;
	assert_int_equal(proposal_keep(&k2, &p), 0);
	assert_ptr_not_equal(k2, a->prop);
	assert_int_equal(k2->num, p.num);
	h_free(&h);			/* both SAs let go; k1 still holds it */
	assert_int_equal(k1->n_xf, p.n_xf);
	proposal_release(&k1);
	proposal_release(&k2);
	assert_ptr_equal(k1, &proposal_none);
}

/* The response the responder keeps for a retransmitted request has no spare room
 * after it (the encoder grows its buffer by doubling; answering from it is
 * test_lost_response_answered_from_cache in test_ikev2_exchange). */
static void test_last_response_fitted(void **state)
{
	(void)state;
	struct harness h;
	up(&h);
	const struct ike_sa *b = h_first_sa(&h.b);
	assert_true(b->have_last_response);
	assert_true(b->last_response.len > 0);
	assert_int_equal(b->last_response.cap, b->last_response.len);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_established_keeps_no_handshake),
		cmocka_unit_test(test_rekeys_offer_and_free),
		cmocka_unit_test(test_init_replay_after_auth_dropped),
		cmocka_unit_test(test_child_keeps_keys_only),
		cmocka_unit_test(test_sa_size),
		cmocka_unit_test(test_ike_sa_packed),
		cmocka_unit_test(test_ike_proposal_shared),
		cmocka_unit_test(test_last_response_fitted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
