/* In-process IKEv1 exchanges: Main Mode (PSK) and Quick Mode between two tsunagi IKE
 * cores through the mock wire of tests/unit/ike_harness.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "ike/v1/ikev1.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

static char conf_a[2048], conf_b[2048];

static void make_conf(char *out, size_t len, const char *local, const char *remote,
		      const char *lnet, const char *rnet, const char *ike, const char *esp,
		      const char *psk)
{
	snprintf(out, len,
		 "connections {\n"
		 "  site {\n"
		 "    version = 1\n"
		 "    local_addrs = %s\n"
		 "    remote_addrs = %s\n"
		 "    proposals = %s\n"
		 "    local {\n      auth = psk\n      id = %s\n    }\n"
		 "    remote {\n      auth = psk\n      id = %s\n    }\n"
		 "    children {\n"
		 "      net {\n"
		 "        local_ts = %s\n"
		 "        remote_ts = %s\n"
		 "        esp_proposals = %s\n"
		 "      }\n"
		 "    }\n"
		 "  }\n"
		 "}\n"
		 "secrets {\n"
		 "  ike-site {\n    id-a = 192.0.2.1\n    id-b = 198.51.100.2\n    secret = %s\n  }\n"
		 "}\n",
		 local, remote, ike, local, remote, lnet, rnet, esp, psk);
}

static void confs(const char *ike_a, const char *ike_b, const char *esp_a, const char *esp_b,
		  const char *psk_b)
{
	make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", "10.1.0.0/24",
		  "10.2.0.0/24", ike_a, esp_a, "s3cret-key");
	make_conf(conf_b, sizeof(conf_b), "198.51.100.2", "192.0.2.1", "10.2.0.0/24",
		  "10.1.0.0/24", ike_b, esp_b, psk_b);
}

static void establish(struct harness *h)
{
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
}

/* The two ends installed mirrored SAs with the same keys. */
static void assert_child_pair(struct harness *h)
{
	const struct ike_sa *sa = h_first_sa(&h->a), *sb = h_first_sa(&h->b);
	assert_non_null(sa);
	assert_non_null(sb);
	const struct child_sa *ca = sa->children, *cb = sb->children;
	assert_non_null(ca);
	assert_non_null(cb);
	assert_int_equal(ca->state, CHILD_INSTALLED);
	assert_int_equal(cb->state, CHILD_INSTALLED);
	assert_int_equal(ca->spi_out, cb->spi_in);
	assert_int_equal(ca->spi_in, cb->spi_out);
	for (int dir = 0; dir < 2; dir++) {
		const struct pfkey_sa *x = h_find_sa(&h->a, dir ? ca->spi_out : ca->spi_in);
		const struct pfkey_sa *y = h_find_sa(&h->b, dir ? cb->spi_in : cb->spi_out);
		assert_non_null(x);
		assert_non_null(y);
		assert_int_equal(x->ekey_len, y->ekey_len);
		assert_true(x->ekey_len > 0);
		assert_memory_equal(x->ekey, y->ekey, x->ekey_len);
		assert_int_equal(x->akey_len, y->akey_len);
		assert_memory_equal(x->akey, y->akey, x->akey_len);
		assert_int_equal(x->ealg, y->ealg);
	}
	const struct pfkey_sa *a_in = h_find_sa(&h->a, ca->spi_in);
	const struct pfkey_sa *a_out = h_find_sa(&h->a, ca->spi_out);
	/* Each direction has its own keys (KEYMAT over each SA's SPI). */
	assert_memory_not_equal(a_in->ekey, a_out->ekey, a_out->ekey_len);
	char s[SELECTOR_STRLEN];
	assert_string_equal(selector_fmt(&cb->local_ts[0], s, sizeof(s)), "10.2.0.0/24");
	assert_string_equal(selector_fmt(&cb->remote_ts[0], s, sizeof(s)), "10.1.0.0/24");
	assert_string_equal(selector_fmt(&ca->local_ts[0], s, sizeof(s)), "10.1.0.0/24");
	assert_int_equal(h->a.n_policies, 2);
	assert_int_equal(h->b.n_policies, 2);
}

static void assert_up(struct harness *h)
{
	assert_int_equal(h_count_sas(&h->a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h->b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_first_sa(&h->a)->v1->state, QM_IDLE);
	assert_int_equal(h_first_sa(&h->b)->v1->state, QM_IDLE);
	assert_int_equal(h_count_children(&h->a), 1);
	assert_int_equal(h_count_children(&h->b), 1);
	assert_child_pair(h);
}

static void test_main_quick(void **state)
{
	struct harness h;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	/* 6 + 3 messages: MM1 MM3 MM5 QM1 QM3 from a, MM2 MM4 MM6 QM2 from b. */
	assert_int_equal(h.a.sent, 5);
	assert_int_equal(h.b.sent, 4);
	const struct child_sa *c = h_first_sa(&h.a)->children;
	assert_int_equal(c->pfs_group, DH_NONE);
	assert_int_equal(proposal_get(c->prop, XF_ENCR)->id, ENCR_AES_CBC);
	assert_int_equal(proposal_get(c->prop, XF_INTEG)->id, INTEG_HMAC_SHA1_96);
	/* SKEYID is made: the ISAKMP SAs keep no nonces (Quick Modes have their own). */
	assert_null(h_first_sa(&h.a)->ni);
	assert_null(h_first_sa(&h.b)->nr);
	/* Nothing is retransmitted later. */
	h_advance(&h, 60000);
	assert_int_equal(h.a.sent, 5);
	assert_int_equal(h.b.sent, 4);
	assert_up(&h);
	h_free(&h);
}

static void test_quick_pfs(void **state)
{
	struct harness h;
	confs("aes256-sha1-modp2048", "aes256-sha1-modp2048", "aes256-sha256-modp2048",
	      "aes256-sha256-modp2048", "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	assert_int_equal(h_first_sa(&h.a)->children->pfs_group, DH_MODP2048);
	assert_int_equal(h_first_sa(&h.b)->children->pfs_group, DH_MODP2048);
	h_free(&h);
}

/* Replaces every `from` in conf by `to`. */
static void subst(char *conf, size_t len, const char *from, const char *to)
{
	char tmp[2048], *p;
	size_t at = 0;
	while ((p = strstr(conf + at, from))) {
		at = (size_t)(p - conf) + strlen(to);
		snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(p - conf), conf, to, p + strlen(from));
		snprintf(conf, len, "%s", tmp);
	}
}

/* FQDN identities, the PSK found by them (as in the interop configurations). */
static void test_fqdn_identities(void **state)
{
	struct harness h;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	for (int i = 0; i < 2; i++) {
		char *c = i ? conf_b : conf_a;
		subst(c, sizeof(conf_a), "id = 192.0.2.1", "id = site-a.example.net");
		subst(c, sizeof(conf_a), "id = 198.51.100.2", "id = site-b.example.net");
		subst(c, sizeof(conf_a), "id-a = 192.0.2.1", "id-a = site-a.example.net");
		subst(c, sizeof(conf_a), "id-b = 198.51.100.2", "id-b = site-b.example.net");
	}
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	char id[256];
	assert_string_equal(identity_fmt(h_first_sa(&h.b)->peer_id, id, sizeof(id)),
			    "site-a.example.net");
	assert_string_equal(identity_fmt(h_first_sa(&h.a)->peer_id, id, sizeof(id)),
			    "site-b.example.net");
	h_free(&h);
}

/* Main Mode, b takes any peer but names it (remote id): the PSK is the one of that
 * identity, not the catch-all key, though the peer's ID comes only in MM5. */
static void test_main_dynamic_peer_psk_by_remote_id(void **state)
{
	struct harness h;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	subst(conf_a, sizeof(conf_a), "id = 192.0.2.1", "id = site-a.example.net");
	subst(conf_b, sizeof(conf_b), "remote_addrs = 192.0.2.1", "remote_addrs = %any");
	subst(conf_b, sizeof(conf_b), "id = 192.0.2.1", "id = site-a.example.net");
	*strstr(conf_b, "secrets {") = '\0';
	strncat(conf_b, "secrets {\n"
		"  ike-any {\n    secret = catch-all-key\n  }\n"
		"  ike-a {\n    id-1 = site-a.example.net\n    secret = s3cret-key\n  }\n"
		"}\n", sizeof(conf_b) - strlen(conf_b) - 1);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	h_free(&h);
}

/* ---- Aggressive Mode ---- */

static void deliver_first(struct harness *h, const uint8_t *data, size_t len);

/* `aggressive = yes` on both sides (the responder refuses Aggressive Mode otherwise). */
static void aggr_confs(const char *ike, const char *esp, const char *psk_b)
{
	confs(ike, ike, esp, esp, psk_b);
	subst(conf_a, sizeof(conf_a), "version = 1\n", "version = 1\n    aggressive = yes\n");
	subst(conf_b, sizeof(conf_b), "version = 1\n", "version = 1\n    aggressive = yes\n");
}

/* Each identity type IKEv1 peers use, in Main Mode (ID in MM5/MM6) and Aggressive
 * Mode (ID in AM1/AM2, the PSK found by it): the peer's ID arrives with its type and
 * matches the configured one; the PSK is found by it on both sides. */
static void test_identity_types(void **state)
{
	static const struct {
		const char *a, *b;	/* as configured (quoted: '#' starts a comment) */
		uint8_t type;		/* of a's ID payload */
		const char *shown;
	} ids[] = {
		{ "192.0.2.1", "198.51.100.2", ISAKMP_ID_IPV4_ADDR, "192.0.2.1" },
		{ "2001:db8::a", "2001:db8::b", ISAKMP_ID_IPV6_ADDR, "2001:db8::a" },
		{ "site-a.example.net", "site-b.example.net", ISAKMP_ID_FQDN, "site-a.example.net" },
		{ "alice@example.net", "gw@example.net", ISAKMP_ID_USER_FQDN, "alice@example.net" },
		{ "\"@#0a0b0c0d\"", "\"@#a0b0c0d0\"", ISAKMP_ID_KEY_ID, "@#0a0b0c0d" },
	};
	for (int aggr = 0; aggr < 2; aggr++) {
		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
			struct harness h;
			char to[128], id[256];
			if (aggr)
				aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
			else
				confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1",
				      "aes128-sha1", "s3cret-key");
			for (int side = 0; side < 2; side++) {
				char *c = side ? conf_b : conf_a;
				snprintf(to, sizeof(to), "id = %s", ids[i].a);
				subst(c, sizeof(conf_a), "id = 192.0.2.1", to);
				snprintf(to, sizeof(to), "id = %s", ids[i].b);
				subst(c, sizeof(conf_a), "id = 198.51.100.2", to);
				snprintf(to, sizeof(to), "id-a = %s", ids[i].a);
				subst(c, sizeof(conf_a), "id-a = 192.0.2.1", to);
				snprintf(to, sizeof(to), "id-b = %s", ids[i].b);
				subst(c, sizeof(conf_a), "id-b = 198.51.100.2", to);
			}
			assert_int_equal(h_init(&h, conf_a, conf_b), 0);
			establish(&h);
			assert_up(&h);
			const struct ike_sa *sb = h_first_sa(&h.b);
			assert_int_equal(sb->peer_id->type, ids[i].type);
			assert_string_equal(identity_fmt(sb->peer_id, id, sizeof(id)), ids[i].shown);
			h_free(&h);
		}
	}
}

/* Three messages, then Quick Mode, with either side initiating. */
static void test_aggr_quick(void **state)
{
	for (int who = 0; who < 2; who++) {
		struct harness h;
		char err[256];
		aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		struct h_peer *i = who ? &h.b : &h.a, *r = who ? &h.a : &h.b;
		assert_int_equal(ike_initiate(i->core, "site", "net", h.now, err, sizeof(err)), 0);
		h_pump(&h);
		assert_up(&h);
		/* AM1 AM3 QM1 QM3 from the initiator, AM2 QM2 from the responder. */
		assert_int_equal(i->sent, 4);
		assert_int_equal(r->sent, 2);
		assert_true(h_first_sa(i)->initiator);
		assert_true(h_first_sa(i)->v1->aggressive);
		assert_true(h_first_sa(r)->v1->aggressive);
		assert_null(h_first_sa(i)->ni);
		assert_null(h_first_sa(r)->nr);
		/* Each side learned from AM1/AM2 that the other does DPD. */
		assert_true(h_first_sa(i)->v1->vids.dpd);
		assert_true(h_first_sa(r)->v1->vids.dpd);
		assert_int_equal(h_first_sa(&h.a)->children->pfs_group, DH_NONE);
		char id[256];
		assert_string_equal(identity_fmt(h_first_sa(&h.b)->peer_id, id, sizeof(id)),
				    "192.0.2.1");
		assert_string_equal(identity_fmt(h_first_sa(&h.a)->peer_id, id, sizeof(id)),
				    "198.51.100.2");
		/* Nothing is retransmitted later (the responder's AM2 was answered). */
		h_advance(&h, 60000);
		assert_int_equal(i->sent, 4);
		assert_int_equal(r->sent, 2);
		assert_up(&h);
		h_free(&h);
	}
}

static void test_aggr_pfs(void **state)
{
	struct harness h;
	aggr_confs("aes256-sha1-x25519", "aes256-sha256-modp2048", "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	assert_int_equal(proposal_get(h_first_sa(&h.a)->prop, XF_DH)->id, DH_CURVE25519);
	assert_int_equal(h_first_sa(&h.a)->children->pfs_group, DH_MODP2048);
	assert_int_equal(h_first_sa(&h.b)->children->pfs_group, DH_MODP2048);
	h_free(&h);
}

/* AM1 carries the KE: only one group may be offered. a lists two; b knows only the
 * second, so nothing fits and b says NO_PROPOSAL_CHOSEN. */
static void test_aggr_one_group(void **state)
{
	struct harness h;
	struct h_log_count lc;
	confs("aes128-sha256-x25519-modp2048", "aes128-sha256-modp2048", "aes128-sha1",
	      "aes128-sha1", "s3cret-key");
	subst(conf_a, sizeof(conf_a), "version = 1\n", "version = 1\n    aggressive = yes\n");
	subst(conf_b, sizeof(conf_b), "version = 1\n", "version = 1\n    aggressive = yes\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "refused");
	establish(&h);
	h_log_capture_stop(&lc);
	assert_non_null(strstr(lc.first, "sending NO_PROPOSAL_CHOSEN"));
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	h_free(&h);
}

/* A responder without `aggressive = yes` refuses Aggressive Mode (its PSK would be
 * open to offline guessing from AM2), and says why. */
static void test_aggr_refused_without_option(void **state)
{
	struct harness h;
	struct h_log_count lc;
	aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
	subst(conf_b, sizeof(conf_b), "    aggressive = yes\n", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "refused");
	establish(&h);
	h_log_capture_stop(&lc);
	assert_non_null(strstr(lc.first, "connection 'site' does not allow it (aggressive = no)"));
	assert_null(h_first_sa(&h.b));
	assert_int_equal(h.b.sent, 1);	/* the notify */
	h_free(&h);
}

/* b takes any peer (remote_addrs = %any, no remote id) and has one PSK per identity:
 * the identity in AM1 picks it. A peer with another identity's key fails. */
static void test_aggr_psk_by_identity(void **state)
{
	static const char *const secrets =
		"secrets {\n"
		"  ike-a {\n    id-1 = site-a.example.net\n    secret = key-of-a\n  }\n"
		"  ike-c {\n    id-1 = site-c.example.net\n    secret = key-of-c\n  }\n"
		"}\n";
	for (int round = 0; round < 3; round++) {
		struct harness h;
		struct h_log_count lc;
		/* round 2: c's identity with a's key */
		const char *a_id = round ? "site-c.example.net" : "site-a.example.net";
		const char *a_key = round == 1 ? "key-of-c" : "key-of-a";
		char line[128];
		aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
		make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", "10.1.0.0/24",
			  "10.2.0.0/24", "aes128-sha256-modp2048", "aes128-sha1", a_key);
		subst(conf_a, sizeof(conf_a), "version = 1\n", "version = 1\n    aggressive = yes\n");
		snprintf(line, sizeof(line), "id = %s", a_id);
		subst(conf_a, sizeof(conf_a), "id = 192.0.2.1", line);
		subst(conf_b, sizeof(conf_b), "remote_addrs = 192.0.2.1", "remote_addrs = %any");
		subst(conf_b, sizeof(conf_b), "id = 192.0.2.1", "id = %any");
		*strstr(conf_b, "secrets {") = '\0';
		strncat(conf_b, secrets, sizeof(conf_b) - strlen(conf_b) - 1);
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		h_log_capture_start(&lc, "probable pre-shared key mismatch");
		establish(&h);
		h_log_capture_stop(&lc);
		char id[256];
		if (round < 2) {
			assert_up(&h);
			assert_string_equal(identity_fmt(h_first_sa(&h.b)->peer_id, id, sizeof(id)),
					    a_id);
			assert_string_equal(lc.first, "");
		} else {
			assert_non_null(strstr(lc.first, "HASH_R invalid: probable pre-shared key "
						"mismatch with 198.51.100.2"));
			assert_null(h_first_sa(&h.a));
			assert_int_equal(h_count_children(&h.b), 0);
		}
		h_free(&h);
	}
}

/* Another PSK: a finds HASH_R wrong, says so with b's address and ends its SA; b gets
 * no AM3, retransmits AM2 (into the void: a has no SA for it) and gives up naming
 * its state. Nothing is installed. */
static void test_aggr_psk_mismatch(void **state)
{
	struct harness h;
	struct h_log_count lc;
	aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "other-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "probable pre-shared key mismatch");
	establish(&h);
	h_log_capture_stop(&lc);
	assert_non_null(strstr(lc.first, "HASH_R invalid: probable pre-shared key mismatch "
				"with 198.51.100.2"));
	assert_null(h_first_sa(&h.a));
	assert_int_equal(h_first_sa(&h.b)->v1->state, AG_INIT_EXCH);
	struct ike_stats st;
	ike_get_stats(h.a.core, &st);
	assert_int_equal(st.auth_failures, 1);
	h_log_capture_start(&lc, "giving up");
	h_advance(&h, 120000);
	h_log_capture_stop(&lc);
	assert_non_null(strstr(lc.first, "no valid AM3 (PSK or policy mismatch at the "
				"initiator) in AG_INIT_EXCH"));
	assert_null(h_first_sa(&h.b));
	assert_int_equal(h.a.n_sas, 0);
	assert_int_equal(h.b.n_sas, 0);
	ike_get_stats(h.a.core, &st);
	assert_true(st.rx_no_sa >= 1);
	h_free(&h);
}

/* Each message lost once: AM1 and AM2 by a's retransmission of AM1 (b answers it
 * from its cache, with no second SA), AM3 by b's retransmission of AM2 (a answers
 * with its cached AM3); the Quick Mode messages as after Main Mode. */
static void test_aggr_retransmit_each_message(void **state)
{
	for (int who = 0; who < 2; who++) {
		int n = who ? 2 : 4;
		for (int i = 1; i <= n; i++) {
			struct harness h;
			aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
			assert_int_equal(h_init(&h, conf_a, conf_b), 0);
			(who ? &h.b : &h.a)->drop_at = i;
			establish(&h);
			h_advance(&h, 30000);
			struct ike_stats sa, sb;
			ike_get_stats(h.a.core, &sa);
			ike_get_stats(h.b.core, &sb);
			if (sa.retransmits + sb.retransmits == 0)
				fail_msg("%s's message %d lost: nothing retransmitted", who ? "b" : "a", i);
			assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 0);
			assert_up(&h);
			h_free(&h);
		}
	}
}

/* No answer to AM1: the log names the state and the likely causes. */
static void test_aggr_no_answer_logged(void **state)
{
	struct harness h;
	struct h_log_count lc;
	aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.b.drop_out = true;
	h_log_capture_start(&lc, "in AG_WAIT_MSG2");
	establish(&h);
	assert_string_equal(ikev1_sa_state_name(h_first_sa(&h.a)), "AG_WAIT_MSG2");
	h_advance(&h, 120000);
	h_log_capture_stop(&lc);
	assert_null(h_first_sa(&h.a));
	assert_non_null(strstr(lc.first, "peer not responding, policy mismatch or UDP 500 "
				"blocked in AG_WAIT_MSG2: giving up after"));
	h_free(&h);
}

/* A retransmitted AM1 is answered with the very same AM2 from the cache (no second
 * SA, no new DH); a retransmitted AM2 with the very same AM3. */
static void test_aggr_answers_from_cache(void **state)
{
	struct harness h;
	char err[256];
	uint8_t am1[4096], am2[4096], first[4096];
	aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	for (int step = 0; step < 2; step++) {
		struct h_peer *to = step ? &h.a : &h.b;
		uint8_t *copy = step ? am2 : am1;
		size_t len = h.wire[0].len;
		struct addr at = h.wire[0].local, from = h.wire[0].remote;
		memcpy(copy, h.wire[0].data, len);
		deliver_first(&h, NULL, 0);		/* AM1 -> b, AM2 -> a */
		assert_true(h.n_wire >= 1);
		size_t alen = h.wire[0].len;
		memcpy(first, h.wire[0].data, alen);	/* AM2, AM3 */
		int sent = to->sent;
		ike_input(to->core, &at, &from, copy, len, h.now);
		assert_int_equal(to->sent, sent + 1);
		const struct h_wire_msg *again = &h.wire[h.n_wire - 1];
		assert_int_equal(again->len, alen);
		assert_memory_equal(again->data, first, alen);
		h.n_wire--;
		if (step == 0) {
			struct ike_stats st;
			ike_get_stats(h.b.core, &st);
			assert_int_equal(st.retransmits, 1);
			assert_int_equal(h_count_sas(&h.b, IKE_CONNECTING), 1);
			assert_int_equal(h_first_sa(&h.b)->v1->state, AG_INIT_EXCH);
		}
	}
	h_pump(&h);
	assert_up(&h);
	h_free(&h);
}

/* AM2 needs SKEYID alone: the responder answers an AM1 whose KE is in range but not in
 * the group's prime-order subgroup (ike-scan sends random bytes; 11 is such a value
 * for MODP 2048) and computes g^xy only when AM3 comes. Here a's HASH_R check fails
 * (b hashed the forged KE), b waits for AM3 in vain and gives up; nothing installed. */
static void test_aggr_answer_before_dh(void **state)
{
	struct harness h;
	char err[256];
	struct isakmp_payloads pl;
	const char *perr = NULL;
	aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	assert_int_equal(h.n_wire, 1);
	struct h_wire_msg *w = &h.wire[0];
	assert_int_equal(isakmp_parse_payloads(w->data[16], w->data + ISAKMP_HDR_LEN,
					       w->len - ISAKMP_HDR_LEN, 0, &pl, &perr), 0);
	assert_int_equal(pl.ke.len, 256);
	uint8_t *ke = w->data + (pl.ke.p - w->data);
	memset(ke, 0, 256);
	ke[255] = 11;
	deliver_first(&h, NULL, 0);
	assert_int_equal(h.b.sent, 1);
	assert_int_equal(h.n_wire, 1);
	assert_int_equal(h_first_sa(&h.b)->v1->state, AG_INIT_EXCH);
	h_advance(&h, 60000);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	assert_int_equal(h.b.n_sas, 0);
	h_free(&h);
}

/* The names operators see, message by message, in Main and Aggressive Mode: the
 * state each side waits in, MM_ACTIVE / AM_ACTIVE once Phase 1 is up without a
 * CHILD_SA, QM_IDLE with one. */
static void test_state_names(void **state)
{
	static const char *const mm[][2] = {
		{ "MM_WAIT_MSG2", NULL }, { "MM_WAIT_MSG2", "MM_WAIT_MSG3" },
		{ "MM_WAIT_MSG4", "MM_WAIT_MSG3" }, { "MM_WAIT_MSG4", "MM_WAIT_MSG5" },
		{ "MM_WAIT_MSG6", "MM_WAIT_MSG5" }, { "MM_WAIT_MSG6", "MM_ACTIVE" },
		{ "MM_ACTIVE", "MM_ACTIVE" }, { "MM_ACTIVE", "MM_ACTIVE" },
		{ "QM_IDLE", "MM_ACTIVE" }, { "QM_IDLE", "QM_IDLE" },
	};
	static const char *const am[][2] = {
		{ "AG_WAIT_MSG2", NULL }, { "AG_WAIT_MSG2", "AG_INIT_EXCH" },
		{ "AM_ACTIVE", "AG_INIT_EXCH" }, { "AM_ACTIVE", "AM_ACTIVE" },
		{ "AM_ACTIVE", "AM_ACTIVE" }, { "QM_IDLE", "AM_ACTIVE" }, { "QM_IDLE", "QM_IDLE" },
	};
	for (int aggr = 0; aggr < 2; aggr++) {
		struct harness h;
		char err[256];
		size_t n = aggr ? sizeof(am) / sizeof(am[0]) : sizeof(mm) / sizeof(mm[0]);
		if (aggr)
			aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
		else
			confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1",
			      "aes128-sha1", "s3cret-key");
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
		for (size_t i = 0; i < n; i++) {
			const char *const *want = aggr ? am[i] : mm[i];
			const struct ike_sa *sb = h_first_sa(&h.b);
			assert_string_equal(ikev1_sa_state_name(h_first_sa(&h.a)), want[0]);
			if (want[1])
				assert_string_equal(ikev1_sa_state_name(sb), want[1]);
			else
				assert_null(sb);
			if (h.n_wire)
				deliver_first(&h, NULL, 0);
		}
		assert_int_equal(h.n_wire, 0);
		assert_up(&h);
		h_free(&h);
	}
}

/* NAT-D in AM2 and AM3: encap = yes on a fakes a NAT, a floats to 4500 for AM3, b
 * follows, and the ESP SAs are UDP-encapsulated. */
static void test_aggr_natt(void **state)
{
	struct harness h;
	aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
	subst(conf_a, sizeof(conf_a), "version = 1\n", "version = 1\n    encap = yes\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	const struct ike_sa *sa = h_first_sa(&h.a), *sb = h_first_sa(&h.b);
	assert_true(sa->natt);
	assert_true(sb->natt);
	assert_int_equal(sa->remote.port, 4500);
	assert_int_equal(sb->remote.port, 4500);
	assert_true(sb->nat_there);
	assert_true(sa->children->encap);
	assert_true(sb->children->encap);
	const struct pfkey_sa *p = h_find_sa(&h.b, sb->children->spi_in);
	assert_non_null(p);
	assert_int_equal(p->natt_type, UDP_ENCAP_ESPINUDP);
	h_free(&h);
}

/* NAT-T (RFC 3947): both send its vendor ID; encap = yes on a fakes its NAT-D, both
 * see a NAT, a floats to 4500 at MM5, b follows, and the ESP SAs are UDP-encapsulated
 * (Quick Mode proposes UDP-Encapsulated-Tunnel). */
static void test_natt_encap_forced(void **state)
{
	struct harness h;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	subst(conf_a, sizeof(conf_a), "version = 1\n", "version = 1\n    encap = yes\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	const struct ike_sa *sa = h_first_sa(&h.a), *sb = h_first_sa(&h.b);
	assert_true(sa->natt);
	assert_true(sb->natt);
	assert_int_equal(sa->remote.port, 4500);
	assert_int_equal(sb->remote.port, 4500);
	assert_true(sb->nat_there);
	assert_true(sa->children->encap);
	assert_true(sb->children->encap);
	const struct pfkey_sa *p = h_find_sa(&h.b, sb->children->spi_in);
	assert_non_null(p);
	assert_int_equal(p->natt_type, UDP_ENCAP_ESPINUDP);
	assert_int_equal(p->natt_sport, 4500);
	h_free(&h);
}

static void test_3des_gcm_esp(void **state)
{
	struct harness h;
	/* Legacy Phase 1 (3DES, SHA1, MODP 1024) and an AEAD ESP SA (keys with salt). */
	confs("3des-sha1-modp1024", "3des-sha1-modp1024", "aes256gcm16", "aes256gcm16",
	      "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	h_free(&h);
}


static void test_psk_mismatch(void **state)
{
	struct harness h;
	struct h_log_count lc;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "other-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "probable pre-shared key mismatch");
	establish(&h);
	h_log_capture_stop(&lc);
	assert_non_null(strstr(lc.first, "HASH_I unverifiable: probable pre-shared key mismatch "
				"with 192.0.2.1"));
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(h.a.n_sas, 0);
	assert_int_equal(h.b.n_sas, 0);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.auth_failures, 1);
	/* a gives up after its retransmissions. */
	h_advance(&h, 120000);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	h_free(&h);
}

static void test_ike_proposal_mismatch(void **state)
{
	struct harness h;
	struct h_log_count lc;
	confs("aes128-sha256-modp2048", "aes256-sha1-modp1024", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "NO_PROPOSAL_CHOSEN");
	establish(&h);
	h_log_capture_stop(&lc);
	assert_non_null(strstr(lc.first, "no acceptable proposal"));
	/* a got the notify in MM_WAIT_MSG2 and gave up at once; b kept nothing. */
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	assert_int_equal(h.b.sent, 1);
	h_free(&h);
}

static void test_esp_proposal_mismatch(void **state)
{
	struct harness h;
	struct h_log_count lc;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1",
	      "aes256-sha256-modp2048", "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, "Quick Mode for 'net' failed");
	establish(&h);
	h_log_capture_stop(&lc);
	assert_non_null(strstr(lc.first, "peer sent NO_PROPOSAL_CHOSEN"));
	/* The ISAKMP SA stands, no child, nothing installed. */
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(h_count_children(&h.b), 0);
	assert_int_equal(h.a.n_policies, 0);
	h_free(&h);
}

/* Each message of both exchanges lost once: the sender's retransmission, or the
 * cached answer to the peer's retransmission, completes them. */
static void test_retransmit_each_message(void **state)
{
	for (int who = 0; who < 2; who++) {
		int n = who ? 4 : 5;
		for (int i = 1; i <= n; i++) {
			struct harness h;
			confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1",
			      "aes128-sha1", "s3cret-key");
			assert_int_equal(h_init(&h, conf_a, conf_b), 0);
			(who ? &h.b : &h.a)->drop_at = i;
			establish(&h);
			h_advance(&h, 30000);
			struct ike_stats sa, sb;
			ike_get_stats(h.a.core, &sa);
			ike_get_stats(h.b.core, &sb);
			if (sa.retransmits + sb.retransmits == 0)
				fail_msg("%s's message %d lost: nothing retransmitted", who ? "b" : "a", i);
			assert_up(&h);
			h_free(&h);
		}
	}
}

/* Phase 2 renewal: at rekey_time a new Quick Mode makes a second CHILD_SA (equal keys,
 * new SPIs); at life_time the old one is deleted on both sides. */
static void test_child_rekey(void **state)
{
	struct harness h;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	subst(conf_a, sizeof(conf_a), "esp_proposals = aes128-sha1\n",
	      "esp_proposals = aes128-sha1\n        rekey_time = 60s\n        life_time = 90s\n"
	      "        rand_time = 0\n");
	/* b takes a's shorter lifetime (90s) and would renew 10s before its end, but a's
	 * renewal at 60s comes first and replaces the CHILD_SA on b too. */
	subst(conf_b, sizeof(conf_b), "esp_proposals = aes128-sha1\n",
	      "esp_proposals = aes128-sha1\n        rekey_time = 600s\n        life_time = 610s\n"
	      "        rand_time = 0\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	assert_int_equal(h_first_sa(&h.b)->children->agreed_life_s, 90);
	uint32_t old_in = h_first_sa(&h.a)->children->spi_in;
	h_advance(&h, 65000);
	assert_int_equal(h_count_children(&h.a), 2);
	assert_int_equal(h_count_children(&h.b), 2);
	assert_int_not_equal(h_first_sa(&h.a)->children->spi_in, old_in);
	h_advance(&h, 30000);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_null(h_find_sa(&h.a, old_in));
	assert_null(h_find_sa(&h.b, old_in));
	assert_child_pair(&h);
	h_free(&h);
}

/* Adds lines to a config after the connection's proposals (conn) or the child's
 * esp_proposals (child). */
static void conn_add(char *conf, size_t len, const char *lines)
{
	char from[128], to[512];
	const char *p = strstr(conf, "    proposals = ");
	assert_non_null(p);
	size_t n = (size_t)(strchr(p, '\n') - p) + 1;
	snprintf(from, sizeof(from), "%.*s", (int)n, p);
	snprintf(to, sizeof(to), "%s%s", from, lines);
	subst(conf, len, from, to);
}

static void child_add(char *conf, size_t len, const char *lines)
{
	char from[128], to[512];
	const char *p = strstr(conf, "esp_proposals = ");
	assert_non_null(p);
	size_t n = (size_t)(strchr(p, '\n') - p) + 1;
	snprintf(from, sizeof(from), "%.*s", (int)n, p);
	snprintf(to, sizeof(to), "%s%s", from, lines);
	subst(conf, len, from, to);
}

static void base_confs(void)
{
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
}

/* The initiator's lifetimes are the shorter: the responder takes them (Phase 1 from
 * MM1, Phase 2 seconds and kilobytes from QM1) and says nothing. */
static void test_lifetime_initiator_shorter(void **state)
{
	struct harness h;
	base_confs();
	conn_add(conf_a, sizeof(conf_a), "    rekey_time = 100s\n    over_time = 20s\n");
	child_add(conf_a, sizeof(conf_a), "        rekey_time = 60s\n        life_time = 90s\n"
		  "        rekey_bytes = 9000000\n        life_bytes = 10240000\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	const struct ike_sa *sa = h_first_sa(&h.a), *sb = h_first_sa(&h.b);
	assert_int_equal(sa->v1->life_s, 120);
	assert_int_equal(sb->v1->life_s, 120);
	assert_int_equal(sb->expire_at - sb->established_at, 120000);
	/* b renews before the 120s end: a tenth of it early (its own 24 min margin
	 * does not fit), less up to half of that time as jitter. */
	assert_true(sb->rekey_at <= sb->established_at + 108000);
	assert_true(sb->rekey_at >= sb->established_at + 54000);
	assert_int_equal(sb->children->agreed_life_s, 90);
	assert_int_equal(sb->children->agreed_life_kb, 10000);
	assert_int_equal(sb->children->expire_at - sb->established_at, 90000);
	const struct pfkey_sa *x = h_find_sa(&h.b, sb->children->spi_in);
	assert_true(x->has_hard);
	assert_int_equal(x->hard.bytes, 10240000);
	/* Two Main Mode, two Quick Mode messages each way, and nothing else. */
	assert_int_equal(h.b.sent, 4);
	h_free(&h);
}

/* The responder's lifetimes are the shorter: RESPONDER-LIFETIME (an Informational
 * after MM6 for Phase 1, a notify in QM2 for Phase 2) shortens the initiator's. */
static void test_lifetime_responder_shorter(void **state)
{
	struct harness h;
	base_confs();
	conn_add(conf_b, sizeof(conf_b), "    rekey_time = 100s\n    over_time = 20s\n");
	child_add(conf_b, sizeof(conf_b), "        rekey_time = 60s\n        life_time = 90s\n"
		  "        life_bytes = 10240000\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	const struct ike_sa *sa = h_first_sa(&h.a), *sb = h_first_sa(&h.b);
	assert_int_equal(sb->v1->life_s, 120);
	/* RESPONDER-LIFETIME comes a second after MM6 (they could cross). */
	assert_int_equal(sa->v1->life_s, 15840);
	h_advance(&h, 1000);
	assert_int_equal(sa->v1->life_s, 120);
	assert_int_equal(sa->expire_at - sa->established_at, 120000);
	/* a renews 10% of its own lifetime margin before: 4h + 24min configured, so
	 * 24 min before the end would be before the start: a tenth of 120s then. */
	assert_true(sa->rekey_at >= sa->established_at + 54000);
	assert_true(sa->rekey_at <= sa->established_at + 108000);
	assert_int_equal(sa->children->agreed_life_s, 90);
	assert_int_equal(sa->children->agreed_life_kb, 10000);
	assert_int_equal(sb->children->agreed_life_s, 90);
	const struct pfkey_sa *x = h_find_sa(&h.a, sa->children->spi_out);
	assert_true(x->has_hard);
	assert_int_equal(x->hard.bytes, 10240000);
	assert_true(x->has_soft);
	assert_true(x->soft.bytes < x->hard.bytes);
	/* MM2 MM4 MM6 RESPONDER-LIFETIME QM2. */
	assert_int_equal(h.b.sent, 5);
	h_free(&h);
}

/* strongSwan ignores RESPONDER-LIFETIME: a responder whose Phase 2 lifetime is the
 * shorter renews the CHILD_SA itself before it ends, with a Quick Mode of its own. */
static void test_lifetime_responder_rekeys(void **state)
{
	struct harness h;
	base_confs();
	child_add(conf_b, sizeof(conf_b), "        rekey_time = 60s\n        life_time = 90s\n"
		  "        rand_time = 0\n");
	/* a would renew 9s before the 90s it learns from RESPONDER-LIFETIME: later. */
	child_add(conf_a, sizeof(conf_a), "        rand_time = 0\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	uint32_t old_in = h_first_sa(&h.b)->children->spi_in;
	h_advance(&h, 61000);
	assert_int_equal(h_count_children(&h.a), 2);
	assert_int_equal(h_count_children(&h.b), 2);
	/* The new one, at the head of the list, is b's. */
	assert_true(h_first_sa(&h.b)->children->initiator);
	assert_false(h_first_sa(&h.a)->children->initiator);
	h_advance(&h, 30000);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_null(h_find_sa(&h.b, old_in));
	assert_child_pair(&h);
	h_free(&h);
}

/* Phase 1 renewal before the ISAKMP SA ends: a new Main Mode, the CHILD_SA moves onto
 * the new ISAKMP SA on both sides with its ESP SAs untouched, the old ISAKMP SA is
 * deleted with DELETE; nobody sees the tunnel go down. */
static void test_phase1_renewal(void **state)
{
	for (int who = 0; who < 2; who++) {
		struct harness h;
		base_confs();
		/* Renewed by the initiator (a), then by the responder (b). */
		conn_add(who ? conf_b : conf_a, sizeof(conf_a),
			 "    rekey_time = 100s\n    over_time = 20s\n    rand_time = 0\n");
		/* The other side takes the 120s lifetime and would renew 5s before its end. */
		conn_add(who ? conf_a : conf_b, sizeof(conf_a), "    over_time = 5s\n");
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		establish(&h);
		assert_up(&h);
		uint32_t id_a = h_first_sa(&h.a)->uniqueid, id_b = h_first_sa(&h.b)->uniqueid;
		uint32_t in = h_first_sa(&h.a)->children->spi_in;
		uint32_t out = h_first_sa(&h.a)->children->spi_out;
		uint32_t cid = h_first_sa(&h.a)->children->uniqueid;
		/* Renewed at 100s; the old ISAKMP SA deleted 3s later. */
		h_advance(&h, 101000);
		assert_int_equal(h_count_sas(who ? &h.b : &h.a, IKE_ESTABLISHED), 2);
		assert_int_equal(h_count_children(&h.a), 1);
		h_advance(&h, 3000);
		assert_up(&h);
		assert_int_not_equal(h_first_sa(&h.a)->uniqueid, id_a);
		assert_int_not_equal(h_first_sa(&h.b)->uniqueid, id_b);
		assert_memory_equal(h_first_sa(&h.a)->spi_i, h_first_sa(&h.b)->spi_i, 8);
		assert_memory_equal(h_first_sa(&h.a)->spi_r, h_first_sa(&h.b)->spi_r, 8);
		const struct child_sa *c = h_first_sa(&h.a)->children;
		assert_int_equal(c->uniqueid, cid);
		assert_int_equal(c->spi_in, in);
		assert_int_equal(c->spi_out, out);
		assert_non_null(h_find_sa(&h.a, in));
		assert_non_null(h_find_sa(&h.b, out));
		assert_int_equal(h.a.updown_down, 0);
		assert_int_equal(h.b.updown_down, 0);
		/* The moved CHILD_SA still renews under its new ISAKMP SA. */
		assert_int_equal(ike_rekey(h.a.core, NULL, 0, NULL, cid, h.now, NULL, 0), 0);
		h_pump(&h);
		assert_int_equal(h_count_children(&h.a), 2);
		assert_int_equal(h_count_children(&h.b), 2);
		h_free(&h);
	}
}

/* The renewal's first message (MM1) is lost: retransmitted, the renewal completes and
 * the CHILD_SA moves as usual. */
static void test_phase1_renewal_retransmit(void **state)
{
	struct harness h;
	base_confs();
	conn_add(conf_a, sizeof(conf_a), "    rekey_time = 100s\n    over_time = 20s\n    rand_time = 0\n");
	conn_add(conf_b, sizeof(conf_b), "    over_time = 5s\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	assert_int_equal(h.a.sent, 5);		/* MM1 MM3 MM5 QM1 QM3 */
	h.a.drop_at = 6;			/* the renewal's MM1 */
	uint32_t id_a = h_first_sa(&h.a)->uniqueid, in = h_first_sa(&h.a)->children->spi_in;
	struct ike_stats st0, st;
	ike_get_stats(h.a.core, &st0);
	h_advance(&h, 112000);
	ike_get_stats(h.a.core, &st);
	assert_true(st.retransmits > st0.retransmits);
	assert_up(&h);
	assert_int_not_equal(h_first_sa(&h.a)->uniqueid, id_a);
	assert_int_equal(h_first_sa(&h.a)->children->spi_in, in);
	h_free(&h);
}

/* No renewal (the peer went silent, or deleted only the ISAKMP SA): the IPsec SAs
 * keep working until their own lifetime, then go. */
static void test_phase2_outlives_phase1(void **state)
{
	struct harness h;
	base_confs();
	conn_add(conf_a, sizeof(conf_a), "    rekey_time = 100s\n    over_time = 20s\n");
	child_add(conf_a, sizeof(conf_a), "        rekey_time = 250s\n        life_time = 300s\n"
		  "        rand_time = 0\n");
	child_add(conf_b, sizeof(conf_b), "        rekey_time = 250s\n        life_time = 300s\n"
		  "        rand_time = 0\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	uint32_t in = h_first_sa(&h.a)->children->spi_in;
	uint32_t out = h_first_sa(&h.a)->children->spi_out;
	h.a.drop_out = h.b.drop_out = true;
	h_advance(&h, 125000);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_non_null(h_find_sa(&h.a, in));
	assert_non_null(h_find_sa(&h.a, out));
	assert_non_null(h_find_sa(&h.b, in));
	assert_non_null(h_find_sa(&h.b, out));
	assert_int_equal(h.a.updown_down, 0);
	h_advance(&h, 180000);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(h_count_children(&h.b), 0);
	assert_null(h_find_sa(&h.a, in));
	assert_null(h_find_sa(&h.b, out));
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	h_free(&h);
}

/* strongSwan keeps the ISAKMP SA it renewed until that one's lifetime ends: the old SA,
 * its CHILD_SA taken over, must not be renewed again by us meanwhile. */
static void test_superseded_sa_not_renewed(void **state)
{
	struct harness h;
	base_confs();
	conn_add(conf_b, sizeof(conf_b), "    rekey_time = 100s\n    over_time = 20s\n    rand_time = 0\n");
	conn_add(conf_a, sizeof(conf_a), "    over_time = 5s\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	/* b: MM2 MM4 MM6 QM2, RESPONDER-LIFETIME a second later, then MM1 MM3 MM5 of the
	 * renewal and the DELETE of the old ISAKMP SA: that one is lost. */
	assert_int_equal(h.b.sent, 4);
	h.b.drop_at = 9;
	h_advance(&h, 101000);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 2);
	uint32_t newest = h_first_sa(&h.a)->uniqueid;
	/* a's old SA would have been renewed 5s before its end (120s). */
	h_advance(&h, 25000);
	assert_int_equal(h_first_sa(&h.a)->uniqueid, newest);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h.a.updown_down, 0);
	h_free(&h);
}

/* The peer deletes only the ISAKMP SA: the CHILD_SA stays; a new ISAKMP SA with the
 * same peer takes it over again. */
static void test_isakmp_delete_keeps_children(void **state)
{
	struct harness h;
	char err[256];
	base_confs();
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	uint32_t in = h_first_sa(&h.a)->children->spi_in;
	ikev1_phase1_end((struct ike_sa *)h_first_sa(&h.b), true);
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_non_null(h_find_sa(&h.a, in));
	assert_int_equal(h.a.updown_down, 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	/* The old CHILD_SA and the new one, both on the new ISAKMP SA. */
	assert_int_equal(h_count_children(&h.a), 2);
	assert_int_equal(h_count_children(&h.b), 2);
	assert_non_null(child_sa_find_by_spi((struct ike_sa *)h_first_sa(&h.a), in, true));
	h_free(&h);
}

/* DPD on a (dpd_delay 10s, dpd_timeout 30s, the child's dpd_action as given). */
static void dpd_confs(const char *action)
{
	char line[128];
	base_confs();
	conn_add(conf_a, sizeof(conf_a), "    dpd_delay = 10s\n    dpd_timeout = 30s\n");
	snprintf(line, sizeof(line), "        dpd_action = %s\n", action);
	child_add(conf_a, sizeof(conf_a), line);
}

/* Both announce DPD by vendor ID; a live peer answers every R-U-THERE and the SAs stay. */
static void test_dpd_alive(void **state)
{
	struct harness h;
	dpd_confs("clear");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	assert_true(h_first_sa(&h.a)->v1->vids.dpd);
	assert_true(h_first_sa(&h.b)->v1->vids.dpd);
	int a0 = h.a.sent, b0 = h.b.sent;
	h_advance(&h, 120000);
	assert_up(&h);
	/* An R-U-THERE every 10s of silence, each answered. */
	assert_true(h.a.sent - a0 >= 10);
	assert_int_equal(h.b.sent - b0, h.a.sent - a0);
	struct ike_stats st;
	ike_get_stats(h.a.core, &st);
	assert_int_equal(st.rx_invalid, 0);
	h_free(&h);
}

/* The peer dies (nothing it sends arrives): within dpd_delay + dpd_timeout a drops the
 * SA and does what dpd_action says. */
static void test_dpd_actions(void **state)
{
	static const char *const actions[] = { "clear", "trap", "restart" };
	for (int i = 0; i < 3; i++) {
		struct harness h;
		struct h_log_count lc;
		dpd_confs(actions[i]);
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		establish(&h);
		assert_up(&h);
		uint32_t in = h_first_sa(&h.a)->children->spi_in;
		h.b.drop_out = true;
		h_advance(&h, 39000);
		assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
		h_log_capture_start(&lc, "no DPD R-U-THERE-ACK");
		h_advance(&h, 2000);
		h_log_capture_stop(&lc);
		assert_non_null(strstr(lc.first, "peer not responding"));
		assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
		assert_int_equal(h_count_children(&h.a), 0);
		assert_null(h_find_sa(&h.a, in));
		if (i == 0) {			/* clear: nothing left */
			assert_null(h_first_sa(&h.a));
			assert_int_equal(h.a.n_policies, 0);
		} else if (i == 1) {		/* trap: policies wait for traffic */
			assert_null(h_first_sa(&h.a));
			assert_int_equal(h.a.n_policies, 2);
		} else {			/* restart: a new Main Mode at once */
			assert_non_null(h_first_sa(&h.a));
			assert_int_equal(h_first_sa(&h.a)->v1->state, MM_WAIT_MSG2);
			h.b.drop_out = false;
			h_advance(&h, 5000);
			assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
			assert_int_equal(h_count_children(&h.a), 1);
		}
		h_free(&h);
	}
}

/* The daemon runs the timers only when ike_tick() asked for it: DPD must ask for its
 * next R-U-THERE and for its timeout (there is no request being retransmitted to wake
 * it up). Driven here by the returned times alone, the dead peer is found in time. */
static void test_dpd_timer_driven(void **state)
{
	struct harness h;
	dpd_confs("clear");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	ms_t start = h.now;
	h.b.drop_out = true;
	for (int i = 0; i < 100 && h_first_sa(&h.a); i++) {
		ms_t next = ike_tick(h.a.core, h.now);
		h_pump(&h);
		if (next == MS_NEVER || next > start + 3600000)
			break;
		if (next > h.now)
			h.now = next;
	}
	assert_null(h_first_sa(&h.a));
	assert_true(h.now <= start + 40000);	/* dpd_delay 10s + dpd_timeout 30s */
	h_free(&h);
}

/* R-U-THERE-ACKs with the wrong sequence number are ignored (and counted): the peer
 * is still declared dead. With the right number it is alive. */
static void test_dpd_sequence_checked(void **state)
{
	for (int right = 0; right < 2; right++) {
		struct harness h;
		dpd_confs("clear");
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		establish(&h);
		assert_up(&h);
		struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h.a);
		struct ike_sa *sb = (struct ike_sa *)h_first_sa(&h.b);
		uint8_t cookies[16], seq[4];
		memcpy(cookies, sb->spi_i, 8);
		memcpy(cookies + 8, sb->spi_r, 8);
		uint32_t acked = 0;
		h.a.drop_out = true;	/* b never sees the R-U-THEREs */
		for (int t = 0; t < 10; t++) {
			h_advance(&h, 5000);
			if (h_first_sa(&h.a) != sa || h_count_sas(&h.a, IKE_ESTABLISHED) == 0)
				break;	/* declared dead (and freed) */
			if (sa->v1->dpd_seq == 0 || sa->v1->dpd_seq == acked)
				continue;	/* one answer per R-U-THERE */
			acked = sa->v1->dpd_seq;
			put_u32(seq, sa->v1->dpd_seq + (right ? 0 : 1));
			ikev1_info_notify(sb, ISAKMP_N_R_U_THERE_ACK, ISAKMP_PROTO_ISAKMP, cookies, 16,
					  seq, 4);
			h_pump(&h);
		}
		struct ike_stats st;
		ike_get_stats(h.a.core, &st);
		if (right) {
			assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
			assert_int_equal(st.rx_invalid, 0);
		} else {
			assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
			assert_true(st.rx_invalid >= 3);
		}
		h_free(&h);
	}
}

/* A replayed or old R-U-THERE number gets no answer. */
static void test_dpd_old_sequence_dropped(void **state)
{
	struct harness h;
	dpd_confs("clear");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h.a);
	uint8_t cookies[16], seq[4];
	memcpy(cookies, sa->spi_i, 8);
	memcpy(cookies + 8, sa->spi_r, 8);
	int b0 = h.b.sent;
	put_u32(seq, 1000);
	ikev1_info_notify(sa, ISAKMP_N_R_U_THERE, ISAKMP_PROTO_ISAKMP, cookies, 16, seq, 4);
	h_pump(&h);
	assert_int_equal(h.b.sent, b0 + 1);	/* the ACK */
	put_u32(seq, 999);
	ikev1_info_notify(sa, ISAKMP_N_R_U_THERE, ISAKMP_PROTO_ISAKMP, cookies, 16, seq, 4);
	h_pump(&h);
	assert_int_equal(h.b.sent, b0 + 1);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.rx_invalid, 1);
	h_free(&h);
}

/* Both sides renew the CHILD_SA at the same moment (no jitter): two Quick Modes cross.
 * The ISAKMP SA's responder gives way; one new CHILD_SA, no retransmission, and once
 * the old one ends one pair is left. (Before, each side dropped its own exchange for
 * the peer's, both kept retransmitting, and the ISAKMP SA was given up.) */
static void test_child_rekey_collision(void **state)
{
	struct harness h;
	base_confs();
	child_add(conf_a, sizeof(conf_a), "        rekey_time = 60s\n        life_time = 90s\n"
		  "        rand_time = 0\n");
	child_add(conf_b, sizeof(conf_b), "        rekey_time = 60s\n        life_time = 90s\n"
		  "        rand_time = 0\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	uint32_t id_a = h_first_sa(&h.a)->uniqueid;
	h_advance(&h, 61000);
	/* The old CHILD_SA and one new one on each side; nothing retransmitted. */
	assert_int_equal(h_count_children(&h.a), 2);
	assert_int_equal(h_count_children(&h.b), 2);
	struct ike_stats st;
	ike_get_stats(h.a.core, &st);
	assert_int_equal(st.retransmits, 0);
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.retransmits, 0);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_first_sa(&h.a)->uniqueid, id_a);
	h_advance(&h, 30000);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_first_sa(&h.a)->uniqueid, id_a);
	assert_up(&h);		/* one CHILD_SA left, the same on both sides */
	h_free(&h);
}

/* Delivers the first message on the wire, as it is or replaced by data[0..len). */
static void deliver_first(struct harness *h, const uint8_t *data, size_t len)
{
	struct h_wire_msg w = h->wire[0];
	memmove(h->wire, h->wire + 1, (h->n_wire - 1) * sizeof(h->wire[0]));
	h->n_wire--;
	ike_input(w.to->core, &w.local, &w.remote, data ? data : w.data, data ? len : w.len,
		  h->now);
}

/* A captured QM1 replayed later (its HASH(1) is valid) starts nothing: no new child,
 * nothing sent, the ISAKMP SA stays. */
static void test_quick_replay_dropped(void **state)
{
	struct harness h;
	char err[256];
	uint8_t qm1[4096];
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	for (int i = 0; i < 6; i++)
		deliver_first(&h, NULL, 0);	/* MM1..MM6 */
	assert_int_equal(h.n_wire, 1);		/* QM1 */
	size_t len = h.wire[0].len;
	struct addr at_b = h.wire[0].local, from_a = h.wire[0].remote;
	memcpy(qm1, h.wire[0].data, len);
	h_pump(&h);
	assert_up(&h);
	/* A second Quick Mode, so that b's cached answer is not for the captured QM1. */
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.b), 2);
	int sent = h.b.sent;
	ike_input(h.b.core, &at_b, &from_a, qm1, len, h.now);
	h_pump(&h);
	assert_int_equal(h.b.sent, sent);
	h_advance(&h, 120000);
	assert_int_equal(h.b.sent, sent);
	assert_int_equal(h_count_children(&h.b), 2);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	h_free(&h);
}

/* No answer to MM1: the log names both likely causes and the state. */
static void test_no_answer_logged(void **state)
{
	struct harness h;
	struct h_log_count lc;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.b.drop_out = true;
	h_log_capture_start(&lc, "giving up");
	establish(&h);
	h_advance(&h, 120000);
	h_log_capture_stop(&lc);
	assert_null(h_first_sa(&h.a));
	assert_non_null(strstr(lc.first, "peer not responding or proposal rejected in "
				"MM_WAIT_MSG2: giving up after"));
	h_free(&h);
}

/* A `version = 0` connection (any) answers IKEv1. */
static void test_version_any_responds(void **state)
{
	struct harness h;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	subst(conf_b, sizeof(conf_b), "version = 1\n", "version = 0\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	h_free(&h);
}

/* Terminating the CHILD_SA, then the ISAKMP SA, sends DELETE: the peer removes them
 * too, and no ESP SA is left installed on either side. */
static void test_delete(void **state)
{
	struct harness h;
	char err[256];
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_up(&h);
	uint32_t in = h_first_sa(&h.a)->children->spi_in, out = h_first_sa(&h.a)->children->spi_out;
	assert_int_equal(ike_terminate(h.a.core, NULL, 0, "net", 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_children(&h.a), 0);
	assert_int_equal(h_count_children(&h.b), 0);
	assert_null(h_find_sa(&h.a, in));
	assert_null(h_find_sa(&h.a, out));
	assert_null(h_find_sa(&h.b, in));
	assert_null(h_find_sa(&h.b, out));
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	/* A new Quick Mode on the same ISAKMP SA, then the whole SA goes. */
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_child_pair(&h);
	assert_int_equal(ike_terminate(h.a.core, "site", 0, NULL, 0, h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_null(h_first_sa(&h.a));
	assert_null(h_first_sa(&h.b));
	assert_int_equal(h.a.updown_down, 3);	/* two CHILD_SAs and the ISAKMP SA */
	assert_int_equal(h.b.updown_down, 3);
	h_free(&h);
}

/* A Quick Mode message before Phase 1 completes, and garbage, are dropped. */
static void test_quick_before_phase1_dropped(void **state)
{
	struct harness h;
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h.a.drop_at = 3;	/* MM5 lost: b waits in MM_WAIT_MSG5 */
	establish(&h);
	const struct ike_sa *sb = h_first_sa(&h.b);
	assert_non_null(sb);
	assert_int_equal(sb->v1->state, MM_WAIT_MSG5);
	uint8_t msg[28 + 40];
	memset(msg, 0, sizeof(msg));
	memcpy(msg, sb->spi_i, 8);
	memcpy(msg + 8, sb->spi_r, 8);
	msg[16] = ISAKMP_PL_HASH;
	msg[17] = ISAKMP_VERSION;
	msg[18] = ISAKMP_XCHG_QM;
	msg[19] = ISAKMP_FLAG_E;
	msg[23] = 1;
	msg[27] = sizeof(msg);
	struct ike_stats before, after;
	ike_get_stats(h.b.core, &before);
	ike_input(h.b.core, &h.b.addr, &h.a.addr, msg, sizeof(msg), h.now);
	ike_input(h.b.core, &h.b.addr, &h.a.addr, msg, 27, h.now);	/* truncated */
	ike_get_stats(h.b.core, &after);
	assert_int_equal(after.rx_invalid, before.rx_invalid + 2);
	assert_int_equal(h_first_sa(&h.b)->v1->state, MM_WAIT_MSG5);
	h_advance(&h, 30000);
	assert_up(&h);
	h_free(&h);
}


/* Each of the nine messages replaced once by a truncated or corrupted copy (the real
 * one lost): nothing crashes or leaks (run it under ASan), retransmissions recover or
 * the exchange fails, and whatever CHILD_SAs come up have equal keys on both sides. */
static void test_mutated_messages(void **state)
{
	enum { STEPS = 9, MUTS = 24 };
	uint8_t buf[4096];
	int completed = 0;
	for (int step = 0; step < STEPS; step++) {
		for (int mut = 0; mut < MUTS; mut++) {
			struct harness h;
			char err[256];
			confs("aes128-sha256-x25519", "aes128-sha256-x25519", "aes128-sha1",
			      "aes128-sha1-x25519", "s3cret-key");
			/* PFS on b only would fail: give a the same. */
			subst(conf_a, sizeof(conf_a), "esp_proposals = aes128-sha1\n",
			      "esp_proposals = aes128-sha1-x25519\n");
			assert_int_equal(h_init(&h, conf_a, conf_b), 0);
			assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err,
						      sizeof(err)), 0);
			for (int i = 0; i < step && h.n_wire; i++)
				deliver_first(&h, NULL, 0);
			assert_int_equal(h.n_wire, 1);
			size_t len = h.wire[0].len;
			memcpy(buf, h.wire[0].data, len);
			if (mut % 2 == 0) {
				len = len * (size_t)mut / MUTS;
			} else {
				size_t at = ((size_t)mut * 7919u + (size_t)step * 31u) % len;
				buf[at] ^= 0x5a;
			}
			deliver_first(&h, buf, len);
			h_pump(&h);
			h_advance(&h, 60000);
			if (h_count_children(&h.a) && h_count_children(&h.b)) {
				assert_child_pair(&h);
				completed++;
			}
			h_free(&h);
		}
	}
	print_message("%d of %d exchanges completed after a mutated message\n", completed,
		      STEPS * MUTS);
	/* Most mutations are dropped and the retransmission completes the exchange. */
	assert_true(completed > STEPS * MUTS / 2);
}

/* Unauthenticated messages with the SA's cookies that parse but do not fit the state
 * (here: a copy of MM1) are dropped: the SA waits for the real MM3, and after such a
 * message a retransmitted MM3 still gets the cached MM4. */
static void test_forged_plain_messages(void **state)
{
	struct harness h;
	char err[256];
	uint8_t mm1[4096];
	confs("aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha1", "aes128-sha1",
	      "s3cret-key");
	for (int round = 0; round < 2; round++) {
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
		size_t len = h.wire[0].len;
		struct addr at_b = h.wire[0].local, from_a = h.wire[0].remote;
		memcpy(mm1, h.wire[0].data, len);
		deliver_first(&h, NULL, 0);		/* MM1 -> b */
		memcpy(mm1 + 8, h_first_sa(&h.b)->spi_r, 8);
		if (round == 0) {
			/* b waits for MM3: an "MM3" without KE and nonce. */
			ike_input(h.b.core, &at_b, &from_a, mm1, len, h.now);
			assert_non_null(h_first_sa(&h.b));
		} else {
			deliver_first(&h, NULL, 0);	/* MM2 -> a */
			deliver_first(&h, NULL, 0);	/* MM3 -> b */
			h.n_wire = 0;			/* MM4 lost */
			ike_input(h.b.core, &at_b, &from_a, mm1, len, h.now);
			/* a's first retransmission of MM3 gets the cached MM4 at once. */
			struct ike_stats st;
			h_advance(&h, 5000);
			ike_get_stats(h.b.core, &st);
			assert_int_equal(st.retransmits, 1);
		}
		h_pump(&h);
		h_advance(&h, 30000);
		assert_up(&h);
		h_free(&h);
	}
}

/* A flood of AM1 from one address, each with new cookies: Aggressive Mode shares
 * Main Mode's and IKE_SA_INIT's half-open limit (10 per peer address), so a flood
 * cannot make the responder compute and keep an AM2 for each. */
static void test_aggr_flood_half_open_limit(void **state)
{
	struct harness h;
	char err[256];
	uint8_t am1[4096];
	aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	assert_int_equal(ike_initiate(h.a.core, "site", "net", h.now, err, sizeof(err)), 0);
	size_t len = h.wire[0].len;
	assert_true(len <= sizeof(am1));
	struct addr at_b = h.wire[0].local, from_a = h.wire[0].remote;
	memcpy(am1, h.wire[0].data, len);
	h.n_wire = 0;
	int sent = h.b.sent;
	for (int i = 0; i < 50; i++) {
		am1[0] = (uint8_t)i;
		am1[1] = (uint8_t)(i >> 8) ^ 0x5a;
		ike_input(h.b.core, &at_b, &from_a, am1, len, h.now);
		h.n_wire = 0;
	}
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(h.b.sent, sent + 10);
	assert_int_equal(st.half_open, 10);
	assert_int_equal(st.half_open_refused, 40);
	h_free(&h);
}

/* The initiator restarts without a word (its SAs gone, the responder's kept) and
 * connects again: the new MM5/AM3 carries INITIAL-CONTACT, and the responder drops
 * the stale ISAKMP SA and its CHILD_SA instead of keeping two of each. */
static void test_initial_contact_after_restart(void **state)
{
	for (int aggr = 0; aggr < 2; aggr++) {
		struct harness h;
		if (aggr)
			aggr_confs("aes128-sha256-modp2048", "aes128-sha1", "s3cret-key");
		else
			base_confs();
		assert_int_equal(h_init(&h, conf_a, conf_b), 0);
		establish(&h);
		assert_up(&h);
		uint32_t old_b = h_first_sa(&h.b)->uniqueid;
		ike_sa_destroy((struct ike_sa *)h_first_sa(&h.a));	/* the "restart" */
		h.n_wire = 0;
		h_advance(&h, 1000);
		assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
		assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
		establish(&h);
		assert_up(&h);
		assert_int_not_equal(h_first_sa(&h.b)->uniqueid, old_b);
		h_free(&h);
	}
}

int main(void)
{
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_main_quick),
		cmocka_unit_test(test_quick_pfs),
		cmocka_unit_test(test_3des_gcm_esp),
		cmocka_unit_test(test_fqdn_identities),
		cmocka_unit_test(test_natt_encap_forced),
		cmocka_unit_test(test_psk_mismatch),
		cmocka_unit_test(test_ike_proposal_mismatch),
		cmocka_unit_test(test_esp_proposal_mismatch),
		cmocka_unit_test(test_retransmit_each_message),
		cmocka_unit_test(test_quick_before_phase1_dropped),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_no_answer_logged),
		cmocka_unit_test(test_quick_replay_dropped),
		cmocka_unit_test(test_version_any_responds),
		cmocka_unit_test(test_main_dynamic_peer_psk_by_remote_id),
		cmocka_unit_test(test_identity_types),
		cmocka_unit_test(test_aggr_quick),
		cmocka_unit_test(test_initial_contact_after_restart),
		cmocka_unit_test(test_aggr_flood_half_open_limit),
		cmocka_unit_test(test_aggr_pfs),
		cmocka_unit_test(test_aggr_one_group),
		cmocka_unit_test(test_aggr_refused_without_option),
		cmocka_unit_test(test_aggr_psk_by_identity),
		cmocka_unit_test(test_aggr_psk_mismatch),
		cmocka_unit_test(test_aggr_retransmit_each_message),
		cmocka_unit_test(test_aggr_answers_from_cache),
		cmocka_unit_test(test_aggr_no_answer_logged),
		cmocka_unit_test(test_aggr_answer_before_dh),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_aggr_natt),
		cmocka_unit_test(test_child_rekey),
		cmocka_unit_test(test_lifetime_initiator_shorter),
		cmocka_unit_test(test_lifetime_responder_shorter),
		cmocka_unit_test(test_lifetime_responder_rekeys),
		cmocka_unit_test(test_child_rekey_collision),
		cmocka_unit_test(test_phase1_renewal),
		cmocka_unit_test(test_phase1_renewal_retransmit),
		cmocka_unit_test(test_phase2_outlives_phase1),
		cmocka_unit_test(test_superseded_sa_not_renewed),
		cmocka_unit_test(test_isakmp_delete_keeps_children),
		cmocka_unit_test(test_dpd_alive),
		cmocka_unit_test(test_dpd_actions),
		cmocka_unit_test(test_dpd_timer_driven),
		cmocka_unit_test(test_dpd_sequence_checked),
		cmocka_unit_test(test_dpd_old_sequence_dropped),
		cmocka_unit_test(test_mutated_messages),
		cmocka_unit_test(test_forged_plain_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
