/* Fuzzes what a peer's IKE_AUTH brings for certificate authentication: the CERT,
 * CERTREQ, ID and AUTH payloads as the parser reads them, then the checks of
 * ike/ikev2_pubkey.c (chain, limits, identity, signature) against a test CA made at
 * start, and the blob loaders VICI's load-cert/load-key use.
 * Input: data[0] flags, data[1] the first payload type, the rest a payload chain.
 *   flags & 1: a CERT payload with a valid end-entity certificate (CN and
 *              subjectAltName a.example.net, from the test CA) is put first, so the
 *              identity and signature checks are reached with fuzzed AUTH data;
 *   flags & 2: the peer is the initiator (else the responder);
 *   flags & 4: the peer's identity is the IDi payload's (else a.example.net).
 * The rest is also given to cert_from_blob, crl_from_blob, key_from_blob and
 * dn_fmt. Nothing may crash, leak or read out of bounds; a certificate that fails is
 * counted. FUZZ_CERT_LOG=1 keeps the log lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/parser.h"
#include "ike/cert.h"
#include "ike/ike_private.h"
#include "lib/log.h"
#include "tests/unit/cert_fx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_cert: %s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                                               \
			abort();                                                        \
		}                                                                       \
	} while (0)

static struct ike *core;
static struct conn conn;
static uint8_t *leaf_der;
static size_t leaf_len;

static void send_nothing(void *arg, const struct addr *l, const struct addr *r,
			 const uint8_t *msg, size_t len)
{
	(void)arg; (void)l; (void)r; (void)msg; (void)len;
}

static void setup(void)
{
	static const char conf[] =
		"connections {\n c {\n  local { auth = psk }\n"
		"  remote {\n   auth = pubkey\n   id = a.example.net\n  }\n }\n}\n";
	char err[256];
	if (!getenv("FUZZ_CERT_LOG"))	/* set it to see which check each input reaches */
		log_set_all_levels(-1);
	struct ike_env env = { .send = send_nothing };
	struct ike_timing t = { .retransmit_timeout_ms = 4000, .retransmit_base = 1.8,
				.retransmit_tries = 5, .port = 500, .port_natt = 4500 };
	core = ike_new(&env, &t);
	CHECK(core);
	struct ctree *root = conf_parse_string(conf, "fuzz", err, sizeof(err));
	CHECK(root);
	struct config *cfg = config_build(root, err, sizeof(err));
	CHECK(cfg);
	ctree_free(root);
	conn.cfg = cfg->conns;
	cfg->conns = NULL;
	config_free(cfg);
	conn.refs = 1;
	EVP_PKEY *ca_key = fx_key(FX_P256), *key = fx_key(FX_P256);
	X509 *ca = fx_cert("Test CA", NULL, ca_key, NULL, NULL, true, -86400, 864000, 1);
	X509 *leaf = fx_cert("a.example.net", "DNS:a.example.net", key, ca, ca_key, false,
			     -86400, 864000, 2);
	CHECK(ca && leaf);
	conn.creds = calloc(1, sizeof(*conn.creds));
	conn.creds->cacerts = sk_X509_new_null();
	sk_X509_push(conn.creds->cacerts, ca);
	unsigned char *der = NULL;
	int n = i2d_X509(leaf, &der);
	CHECK(n > 0);
	leaf_der = malloc((size_t)n);
	memcpy(leaf_der, der, (size_t)n);
	leaf_len = (size_t)n;
	OPENSSL_free(der);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
}

/* A fake IKE SA with keys and IKE_SA_INIT messages, enough for the signed octets. */
static void fake_sa(struct ike_sa *sa, const struct ikev2_payloads *pl, bool id_from_payload)
{
	memset(sa, 0, sizeof(*sa));
	sa->core = core;
	sa->conn = &conn;
	static const struct proposal prf = { .n_xf = 1, .xf = { { XF_PRF, PRF_HMAC_SHA2_256, 0 } } };
	sa->prop = &prf;	/* read only */
	sa->keys.prf_len = 32;
	static const uint8_t nonce[32];
	ike_sa_set_nonce(sa, true, nonce, sizeof(nonce));
	ike_sa_set_nonce(sa, false, nonce, sizeof(nonce));
	buf_init(&sa->init_i);
	buf_init(&sa->init_r);
	buf_put(&sa->init_i, "init_i", 6);
	buf_put(&sa->init_r, "init_r", 6);
	struct identity peer;
	if (id_from_payload && pl->has_idi)
		identity_from_payload(&pl->idi, &peer);
	else
		identity_from_string("a.example.net", &peer);
	sa->my_id = &ike_no_id;
	ike_sa_set_id(sa, false, &peer);
}

static void blobs(const uint8_t *p, size_t n)
{
	X509 *c = cert_from_blob(p, n);
	X509_free(c);
	X509_CRL *crl = crl_from_blob(p, n);
	X509_CRL_free(crl);
	EVP_PKEY *k = key_from_blob(p, n);
	EVP_PKEY_free(k);
	char s[256];
	dn_fmt(p, n, s, sizeof(s));
	CHECK(strlen(s) < sizeof(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!core)
		setup();
	if (size < 2 || size > 65535)
		return 0;
	uint8_t flags = data[0], first = data[1];
	const uint8_t *rest = data + 2;
	size_t rest_len = size - 2;
	blobs(rest, rest_len);

	struct buf chain;
	buf_init(&chain);
	if (flags & 1) {	/* our valid certificate first */
		buf_put_u8(&chain, first);
		buf_put_u8(&chain, 0);
		buf_put_u16(&chain, (uint16_t)(4 + 1 + leaf_len));
		buf_put_u8(&chain, CERT_X509_SIGNATURE);
		buf_put(&chain, leaf_der, leaf_len);
		first = PL_CERT;
	}
	buf_put(&chain, rest, rest_len);
	struct msg_in m;
	memset(&m, 0, sizeof(m));
	uint8_t unsupported = 0;
	const char *err = NULL;
	if (ikev2_parse_payloads(first, chain.data, chain.len, 0, &m.pl, &unsupported, &err) == 0) {
		CHECK(m.pl.n_certs <= IKEV2_MAX_CERTS);
		CHECK(m.pl.n_certreq <= IKEV2_MAX_CERTREQ);
		struct ike_sa sa;
		fake_sa(&sa, &m.pl, flags & 4);
		uint64_t before = cred_store_stats(core->creds)->cert_auth_failures;
		int rc = ikev2_pubkey_verify(&sa, &m, flags & 2, "");
		/* A signature nobody could make without the key: never accepted. */
		CHECK(rc == -1);
		CHECK(cred_store_stats(core->creds)->cert_auth_failures == before + 1);
		buf_free(&sa.init_i);
		buf_free(&sa.init_r);
		ike_sa_drop_nonces(&sa);
		ike_sa_free_ids(&sa);
	}
	buf_free(&chain);
	return 0;
}
