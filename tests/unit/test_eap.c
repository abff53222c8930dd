/* EAP: MD4 (RFC 1320 A.5), MS-CHAPv2 (RFC 2759 9.2) and MPPE (RFC 3079 3.5.3) vectors,
 * the packet codec, and the authenticator and peer run against each other: success
 * with both methods, wrong passwords, Nak, and packets out of sequence or malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/eap.h"
#include "ike/mschapv2.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void assert_hex(const uint8_t *got, const char *want_hex)
{
	size_t n = strlen(want_hex) / 2;
	uint8_t want[128];
	unhex(want_hex, want, n);
	assert_memory_equal(got, want, n);
}

static void test_md4_rfc1320(void **state)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "31d6cfe0d16ae931b73c59d7e0c089c0" },
		{ "a", "bde52cb31de33e46245e05fbdbd6fb24" },
		{ "abc", "a448017aaf21d8525fc10ae87aa6729d" },
		{ "message digest", "d9130a8164549fe818874806e1c7014b" },
		{ "abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "043f8582f241db351ce627e153e7f0e4" },
		{ "1234567890123456789012345678901234567890123456789012345678901234567890"
		  "1234567890", "e33b4ddc9c38f2199c3e7b164fcc0536" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t d[16];
		md4((const uint8_t *)v[i].in, strlen(v[i].in), d);
		assert_hex(d, v[i].out);
	}
}

/* RFC 2759 9.2 */
static const char *user = "User", *password = "clientPass";
static const char *auth_chal_hex = "5B5D7C7D7B3F2F3E3C2C602132262628";
static const char *peer_chal_hex = "21402324255E262A28295F2B3A337C7E";
static const char *nt_resp_hex = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";

static void test_mschapv2_rfc2759(void **state)
{
	uint8_t ac[16], pc[16], hash[16], hh[16], chal[8], nt[24];
	char ar[MSCHAPV2_AUTH_RESP_LEN + 1];
	(void)state;
	unhex(auth_chal_hex, ac, 16);
	unhex(peer_chal_hex, pc, 16);
	assert_int_equal(mschapv2_nt_hash((const uint8_t *)password, strlen(password), hash), 0);
	assert_hex(hash, "44EBBA8D5312B8D611474411F56989AE");
	md4(hash, 16, hh);
	assert_hex(hh, "41C00C584BD2D91C4017A2A12FA59F3F");
	mschapv2_challenge_hash(pc, ac, (const uint8_t *)user, 4, chal);
	assert_hex(chal, "D02E4386BCE91226");
	assert_int_equal(mschapv2_nt_response(ac, pc, (const uint8_t *)user, 4, hash, nt), 0);
	assert_hex(nt, nt_resp_hex);
	mschapv2_auth_response(hash, nt, pc, ac, (const uint8_t *)user, 4, ar);
	assert_string_equal(ar, "S=407A5589115FD0D6209F510FE9C04566932CDA56");
}

/* RFC 3079 3.5.3: the master key of the same login, and the 128-bit start key. */
static void test_mppe_rfc3079(void **state)
{
	uint8_t hash[16], hh[16], nt[24], mk[16], msk[MSCHAPV2_MSK_LEN];
	(void)state;
	mschapv2_nt_hash((const uint8_t *)password, strlen(password), hash);
	md4(hash, 16, hh);
	unhex(nt_resp_hex, nt, 24);
	mschapv2_master_key(hh, nt, mk);
	assert_hex(mk, "FDECE3717A8C838CB388E527AE3CDD31");
	mschapv2_msk(hash, nt, msk);
	/* The sample's SendStartKey128 is the server's send key (Magic3), the MSK's second
	 * quarter; the first is the server's receive key (Magic2), as strongSwan orders
	 * them. */
	assert_hex(msk + 16, "8B7CDC149B993A1BA118CB153F56DCCB");
	assert_hex(msk, "D5F0E9521E3EA9589645E86051C82226");
	static const uint8_t zero[32];
	assert_memory_equal(msk + 32, zero, 32);
}

static void test_utf8_password(void **state)
{
	uint8_t h1[16], h2[16];
	static const uint8_t utf16[] = { 0xe4, 0x00, 'b', 0x00 };	/* "äb" */
	(void)state;
	assert_int_equal(mschapv2_nt_hash((const uint8_t *)"\xc3\xa4" "b", 3, h1), 0);
	md4(utf16, sizeof(utf16), h2);
	assert_memory_equal(h1, h2, 16);
	assert_int_equal(mschapv2_nt_hash((const uint8_t *)"\xc3", 1, h1), -1);
	assert_int_equal(mschapv2_nt_hash((const uint8_t *)"\xff", 1, h1), -1);
	char big[300];
	memset(big, 'x', sizeof(big));
	assert_int_equal(mschapv2_nt_hash((const uint8_t *)big, 256, h1), 0);
	assert_int_equal(mschapv2_nt_hash((const uint8_t *)big, 257, h1), -1);
}

static void test_codec(void **state)
{
	struct eap_pkt e;
	const char *err;
	struct buf b;
	(void)state;
	buf_init(&b);
	eap_put(&b, EAP_REQUEST, 7, EAP_IDENTITY, NULL, 0);
	assert_int_equal(b.len, 5);
	assert_int_equal(eap_parse(b.data, b.len, &e, &err), 0);
	assert_int_equal(e.code, EAP_REQUEST);
	assert_int_equal(e.id, 7);
	assert_int_equal(e.type, EAP_IDENTITY);
	assert_int_equal(e.len, 0);
	/* every truncation and a length that disagrees */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(eap_parse(b.data, n, &e, &err), -1);
	uint8_t bad[] = { 1, 1, 0, 9, 1 };
	assert_int_equal(eap_parse(bad, sizeof(bad), &e, &err), -1);
	uint8_t succ_data[] = { 3, 1, 0, 5, 0 };
	assert_int_equal(eap_parse(succ_data, sizeof(succ_data), &e, &err), -1);
	uint8_t code9[] = { 9, 1, 0, 4 };
	assert_int_equal(eap_parse(code9, sizeof(code9), &e, &err), -1);
	uint8_t expanded[] = { 2, 1, 0, 5, 254 };
	assert_int_equal(eap_parse(expanded, sizeof(expanded), &e, &err), -1);
	buf_reset(&b);
	eap_put(&b, EAP_SUCCESS, 3, 0, NULL, 0);
	assert_int_equal(eap_parse(b.data, b.len, &e, &err), 0);
	assert_int_equal(e.code, EAP_SUCCESS);
	char d[64];
	eap_describe(b.data, b.len, d, sizeof(d));
	assert_string_equal(d, "EAP/SUCC");
	buf_reset(&b);
	eap_put(&b, EAP_RESPONSE, 3, EAP_IDENTITY, "alice", 5);
	eap_describe(b.data, b.len, d, sizeof(d));
	assert_string_equal(d, "EAP/RES/ID");

	/* MSCHAPv2: Value-Size beyond the packet, MS-Length disagreeing */
	struct mschapv2_pkt m;
	uint8_t ms1[] = { MSCHAPV2_CHALLENGE, 1, 0, 8, 16, 1, 2, 3 };
	e = (struct eap_pkt){ .code = EAP_REQUEST, .type = EAP_MSCHAPV2, .data = ms1, .len = 8 };
	assert_int_equal(mschapv2_parse(&e, &m, &err), -1);
	uint8_t ms2[] = { MSCHAPV2_CHALLENGE, 1, 0, 9, 3, 1, 2, 3 };
	e.data = ms2;
	assert_int_equal(mschapv2_parse(&e, &m, &err), -1);
	ms2[3] = 8;
	assert_int_equal(mschapv2_parse(&e, &m, &err), 0);
	assert_int_equal(m.value_len, 3);
	assert_int_equal(m.text_len, 0);
	uint8_t ack[] = { MSCHAPV2_SUCCESS };
	e = (struct eap_pkt){ .code = EAP_RESPONSE, .type = EAP_MSCHAPV2, .data = ack, .len = 1 };
	assert_int_equal(mschapv2_parse(&e, &m, &err), 0);
	e.code = EAP_REQUEST;
	assert_int_equal(mschapv2_parse(&e, &m, &err), -1);
	buf_free(&b);
}

/* ---- conversations ---- */

static struct secret_cfg *eap_secret(const char *id, const char *pw)
{
	struct secret_cfg *s = calloc(1, sizeof(*s));
	s->type = SECRET_EAP;
	s->name = strdup("eap-test");
	s->ids = calloc(1, sizeof(char *));
	s->ids[0] = strdup(id);
	s->n_ids = 1;
	s->secret = (uint8_t *)strdup(pw);
	s->secret_len = strlen(pw);
	return s;
}

/* Runs server and peer to the end; returns the server's final status. */
static enum eap_status converse(struct eap_server *s, struct eap_peer *p,
				const struct secret_cfg *sec, enum eap_status *peer_end)
{
	struct buf req, resp;
	char why[256];
	enum eap_status st = EAP_CONTINUE, ps = EAP_CONTINUE;
	buf_init(&req);
	buf_init(&resp);
	eap_server_start(s, &req);
	for (int i = 0; i < 10 && st == EAP_CONTINUE; i++) {
		buf_reset(&resp);
		ps = eap_peer_process(p, req.data, req.len, &resp, why, sizeof(why));
		if (ps != EAP_CONTINUE)
			break;
		buf_reset(&req);
		st = eap_server_process(s, resp.data, resp.len, sec, &req, why, sizeof(why));
	}
	if (st != EAP_CONTINUE)	/* the peer reads the Success or Failure */
		ps = eap_peer_process(p, req.data, req.len, &resp, why, sizeof(why));
	*peer_end = ps;
	buf_free(&req);
	buf_free(&resp);
	return st;
}

static void run(uint8_t smethod, bool ask_identity, uint8_t pmethod, const char *pw,
		enum eap_status want, uint8_t want_method)
{
	struct secret_cfg *sec = eap_secret("alice", "secret-pw");
	struct eap_server *s = eap_server_new(smethod, ask_identity ? NULL : (const uint8_t *)"alice", 5);
	struct eap_peer *p = eap_peer_new(pmethod, (const uint8_t *)"alice", 5,
					  (const uint8_t *)pw, strlen(pw));
	enum eap_status pend;
	assert_int_equal(converse(s, p, sec, &pend), want);
	assert_int_equal(pend, want);
	assert_int_equal(eap_server_method(s), want_method);
	size_t id_len, sl, pl;
	assert_memory_equal(eap_server_identity(s, &id_len), "alice", 5);
	const uint8_t *smsk = eap_server_msk(s, &sl), *pmsk = eap_peer_msk(p, &pl);
	if (want == EAP_SUCCEEDED && want_method == EAP_MSCHAPV2) {
		assert_int_equal(sl, 64);
		assert_int_equal(pl, 64);
		assert_memory_equal(smsk, pmsk, 64);
	} else if (want == EAP_SUCCEEDED) {
		assert_null(smsk);
		assert_null(pmsk);
	}
	eap_server_free(s);
	eap_peer_free(p);
	secret_cfg_free(sec);
}

static void test_mschapv2_ok(void **state)
{
	(void)state;
	run(EAP_MSCHAPV2, true, EAP_MSCHAPV2, "secret-pw", EAP_SUCCEEDED, EAP_MSCHAPV2);
	run(EAP_MSCHAPV2, false, 0, "secret-pw", EAP_SUCCEEDED, EAP_MSCHAPV2);
}

static void test_mschapv2_wrong_password(void **state)
{
	(void)state;
	run(EAP_MSCHAPV2, true, EAP_MSCHAPV2, "guess", EAP_FAILED, EAP_MSCHAPV2);
}

static void test_md5(void **state)
{
	(void)state;
	run(EAP_MD5, true, EAP_MD5, "secret-pw", EAP_SUCCEEDED, EAP_MD5);
	run(EAP_MD5, true, EAP_MD5, "guess", EAP_FAILED, EAP_MD5);
	/* either method on the server, the peer wants MD5: a Nak switches */
	run(0, true, EAP_MD5, "secret-pw", EAP_SUCCEEDED, EAP_MD5);
	/* the server insists on MSCHAPv2, the peer only does MD5 */
	run(EAP_MSCHAPV2, true, EAP_MD5, "secret-pw", EAP_FAILED, EAP_MSCHAPV2);
}

static void test_unknown_user(void **state)
{
	struct secret_cfg *sec = eap_secret("bob", "secret-pw");
	struct eap_server *s = eap_server_new(EAP_MSCHAPV2, NULL, 0);
	struct eap_peer *p = eap_peer_new(EAP_MSCHAPV2, (const uint8_t *)"alice", 5,
					  (const uint8_t *)"secret-pw", 9);
	enum eap_status pend;
	(void)state;
	assert_int_equal(converse(s, p, sec, &pend), EAP_FAILED);
	assert_int_equal(pend, EAP_FAILED);
	eap_server_free(s);
	eap_peer_free(p);
	secret_cfg_free(sec);
}

/* A response with a stale Identifier, or garbage, is dropped: the server resends its
 * request unchanged and the conversation still completes. */
static void test_out_of_sequence(void **state)
{
	struct secret_cfg *sec = eap_secret("alice", "secret-pw");
	struct eap_server *s = eap_server_new(EAP_MSCHAPV2, NULL, 0);
	struct eap_peer *p = eap_peer_new(EAP_MSCHAPV2, (const uint8_t *)"alice", 5,
					  (const uint8_t *)"secret-pw", 9);
	struct buf req, again, resp;
	char why[256];
	(void)state;
	buf_init(&req);
	buf_init(&again);
	buf_init(&resp);
	eap_server_start(s, &req);
	assert_int_equal(eap_peer_process(p, req.data, req.len, &resp, why, sizeof(why)),
			 EAP_CONTINUE);
	resp.data[1] ^= 0x55;	/* wrong Identifier */
	assert_int_equal(eap_server_process(s, resp.data, resp.len, sec, &again, why, sizeof(why)),
			 EAP_DROPPED);
	assert_non_null(strstr(why, "out of sequence"));
	assert_int_equal(again.len, req.len);
	assert_memory_equal(again.data, req.data, req.len);
	resp.data[1] ^= 0x55;
	uint8_t junk[] = { 2, resp.data[1], 0, 3 };
	buf_reset(&again);
	assert_int_equal(eap_server_process(s, junk, sizeof(junk), sec, &again, why, sizeof(why)),
			 EAP_DROPPED);
	/* an EAP-Success from the peer, a Request from the peer */
	uint8_t succ[] = { 3, resp.data[1], 0, 4 };
	buf_reset(&again);
	assert_int_equal(eap_server_process(s, succ, sizeof(succ), sec, &again, why, sizeof(why)),
			 EAP_DROPPED);
	buf_reset(&req);
	assert_int_equal(eap_server_process(s, resp.data, resp.len, sec, &req, why, sizeof(why)),
			 EAP_CONTINUE);
	/* the challenge: the peer answers; replaying the identity response is dropped */
	struct buf ident;
	buf_init(&ident);
	buf_put(&ident, resp.data, resp.len);
	buf_reset(&resp);
	assert_int_equal(eap_peer_process(p, req.data, req.len, &resp, why, sizeof(why)),
			 EAP_CONTINUE);
	buf_reset(&again);
	assert_int_equal(eap_server_process(s, ident.data, ident.len, sec, &again, why, sizeof(why)),
			 EAP_DROPPED);
	buf_reset(&req);
	assert_int_equal(eap_server_process(s, resp.data, resp.len, sec, &req, why, sizeof(why)),
			 EAP_CONTINUE);
	buf_reset(&resp);
	assert_int_equal(eap_peer_process(p, req.data, req.len, &resp, why, sizeof(why)),
			 EAP_CONTINUE);
	buf_reset(&req);
	assert_int_equal(eap_server_process(s, resp.data, resp.len, sec, &req, why, sizeof(why)),
			 EAP_SUCCEEDED);
	/* after the end, everything is dropped */
	buf_reset(&again);
	assert_int_equal(eap_server_process(s, resp.data, resp.len, sec, &again, why, sizeof(why)),
			 EAP_DROPPED);
	buf_free(&ident);
	buf_free(&req);
	buf_free(&again);
	buf_free(&resp);
	eap_server_free(s);
	eap_peer_free(p);
	secret_cfg_free(sec);
}

/* The peer takes no EAP-Success before the method finished, and no MSCHAPv2 Success
 * whose authenticator response is wrong (a server that does not know the password). */
static void test_peer_rejects_rogue_server(void **state)
{
	struct eap_peer *p = eap_peer_new(EAP_MSCHAPV2, (const uint8_t *)"alice", 5,
					  (const uint8_t *)"secret-pw", 9);
	struct buf out;
	char why[256];
	(void)state;
	buf_init(&out);
	uint8_t succ[] = { 3, 1, 0, 4 };
	assert_int_equal(eap_peer_process(p, succ, sizeof(succ), &out, why, sizeof(why)),
			 EAP_FAILED);
	eap_peer_free(p);

	/* a server with another password for alice */
	struct secret_cfg *sec = eap_secret("alice", "other-pw");
	struct eap_server *s = eap_server_new(EAP_MSCHAPV2, (const uint8_t *)"alice", 5);
	p = eap_peer_new(EAP_MSCHAPV2, (const uint8_t *)"alice", 5, (const uint8_t *)"secret-pw", 9);
	struct buf req;
	buf_init(&req);
	eap_server_start(s, &req);
	buf_reset(&out);
	assert_int_equal(eap_peer_process(p, req.data, req.len, &out, why, sizeof(why)),
			 EAP_CONTINUE);
	/* forge the Success the server would send if it accepted any answer */
	struct eap_pkt e;
	const char *err;
	assert_int_equal(eap_parse(req.data, req.len, &e, &err), 0);
	uint8_t forged[4 + 1 + 4 + 42] = { EAP_REQUEST, (uint8_t)(e.id + 1), 0, sizeof(forged),
					   EAP_MSCHAPV2, MSCHAPV2_SUCCESS, e.data[1], 0, 46 };
	memcpy(forged + 9, "S=0000000000000000000000000000000000000000", 42);
	buf_reset(&out);
	assert_int_equal(eap_peer_process(p, forged, sizeof(forged), &out, why, sizeof(why)),
			 EAP_FAILED);
	assert_non_null(strstr(why, "authenticator response"));
	size_t n;
	assert_null(eap_peer_msk(p, &n));
	buf_free(&req);
	buf_free(&out);
	eap_server_free(s);
	eap_peer_free(p);
	secret_cfg_free(sec);
}

static void test_find_secret(void **state)
{
	struct secret_cfg *a = eap_secret("alice", "x"), *b = eap_secret("bob", "y");
	struct secret_cfg ike = { .type = SECRET_IKE };
	(void)state;
	a->next = b;
	assert_ptr_equal(eap_find_secret(a, (const uint8_t *)"bob", 3), b);
	assert_null(eap_find_secret(a, (const uint8_t *)"bo", 2));
	assert_null(eap_find_secret(a, (const uint8_t *)"bobby", 5));
	assert_null(eap_find_secret(&ike, (const uint8_t *)"bob", 3));
	secret_cfg_free(a);
}

/* The peer's state (password hash, MSK, identity) is wiped before its memory is
 * freed; --wrap=free lets the test look at the block as it is freed. */
void __real_free(void *p);
void __wrap_free(void *p);
static const void *watched;
static int watched_state;	/* 0 not seen, 1 freed wiped, 2 freed with data */

void __wrap_free(void *p)
{
	if (p && p == watched) {
		const uint8_t *b = p;
		watched_state = 1;
		for (size_t i = 0; i < 64; i++)
			if (b[i])
				watched_state = 2;
	}
	__real_free(p);
}

static void test_peer_state_wiped(void **state)
{
	struct secret_cfg *sec = eap_secret("alice", "secret-pw");
	struct eap_server *s = eap_server_new(EAP_MSCHAPV2, NULL, 0);
	struct eap_peer *p = eap_peer_new(EAP_MSCHAPV2, (const uint8_t *)"alice", 5,
					  (const uint8_t *)"secret-pw", 9);
	enum eap_status pend;
	(void)state;
	assert_int_equal(converse(s, p, sec, &pend), EAP_SUCCEEDED);
	watched = p;
	watched_state = 0;
	eap_peer_free(p);
	assert_int_equal(watched_state, 1);
	watched = s;
	watched_state = 0;
	eap_server_free(s);
	assert_int_equal(watched_state, 1);
	watched = NULL;
	secret_cfg_free(sec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md4_rfc1320),
		cmocka_unit_test(test_mschapv2_rfc2759),
		cmocka_unit_test(test_mppe_rfc3079),
		cmocka_unit_test(test_utf8_password),
		cmocka_unit_test(test_codec),
		cmocka_unit_test(test_mschapv2_ok),
		cmocka_unit_test(test_mschapv2_wrong_password),
		cmocka_unit_test(test_md5),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_out_of_sequence),
		cmocka_unit_test(test_peer_rejects_rogue_server),
		cmocka_unit_test(test_find_secret),
		cmocka_unit_test(test_peer_state_wiped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
