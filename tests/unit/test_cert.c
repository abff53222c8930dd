/* Certificates: chain validation with test CAs made now (good, expired, not yet
 * valid, wrong CA, revoked by CRL, intermediates), identity matching (subjectAltName
 * and DN), AUTH signatures for every key type and method, malformed input; and
 * IKEv2 exchanges with auth = pubkey between two in-process cores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/x509.h>

#include "ike/cert.h"
#include "ike/ike_private.h"
#include "ike/v1/ikev1.h"
#include "tests/unit/cert_fx.h"
#include "tests/unit/ike_harness.h"

#define DAY 86400L

struct pki {
	EVP_PKEY *ca_key, *other_key, *leaf_key;
	X509 *ca, *other;
	STACK_OF(X509) *anchors;
};

static void pki_init(struct pki *p)
{
	p->ca_key = fx_key(FX_P256);
	p->other_key = fx_key(FX_P256);
	p->leaf_key = fx_key(FX_P256);
	p->ca = fx_cert("Test CA", NULL, p->ca_key, NULL, NULL, true, -DAY, 10 * DAY, 1);
	p->other = fx_cert("Other CA", NULL, p->other_key, NULL, NULL, true, -DAY, 10 * DAY, 1);
	assert_non_null(p->ca);
	assert_non_null(p->other);
	p->anchors = sk_X509_new_null();
	sk_X509_push(p->anchors, p->ca);
}

static void pki_free(struct pki *p)
{
	sk_X509_free(p->anchors);
	X509_free(p->ca);
	X509_free(p->other);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->other_key);
	EVP_PKEY_free(p->leaf_key);
}

static X509 *leaf(struct pki *p, X509 *ca, EVP_PKEY *ca_key, long from, long to, long serial)
{
	X509 *c = fx_cert("a.example.net", "DNS:a.example.net,email:a@example.net,IP:192.0.2.1",
			  p->leaf_key, ca, ca_key, false, from, to, serial);
	assert_non_null(c);
	return c;
}

static enum cert_verdict verify(X509 *c, STACK_OF(X509) *inter, STACK_OF(X509) *cas,
				STACK_OF(X509_CRL) *crls)
{
	char detail[128];
	return cert_verify_chain(c, inter, cas, crls, time(NULL), detail, sizeof(detail));
}

static void test_chain_good_expired_not_yet_valid(void **state)
{
	struct pki p;
	pki_init(&p);
	X509 *good = leaf(&p, p.ca, p.ca_key, -DAY, DAY, 10);
	X509 *expired = leaf(&p, p.ca, p.ca_key, -3 * DAY, -DAY, 11);
	X509 *future = leaf(&p, p.ca, p.ca_key, DAY, 3 * DAY, 12);
	assert_int_equal(verify(good, NULL, p.anchors, NULL), CERT_OK);
	assert_int_equal(verify(expired, NULL, p.anchors, NULL), CERT_EXPIRED);
	assert_int_equal(verify(future, NULL, p.anchors, NULL), CERT_NOT_YET_VALID);
	assert_string_equal(cert_verdict_name(CERT_EXPIRED), "expired");
	X509_free(good);
	X509_free(expired);
	X509_free(future);
	pki_free(&p);
}

static void test_chain_wrong_ca(void **state)
{
	struct pki p;
	pki_init(&p);
	X509 *c = leaf(&p, p.other, p.other_key, -DAY, DAY, 10);
	assert_int_equal(verify(c, NULL, p.anchors, NULL), CERT_UNKNOWN_CA);
	/* A self-signed end entity is no CA of ours either. */
	X509 *self = fx_cert("a.example.net", "DNS:a.example.net", p.leaf_key, NULL, NULL, false,
			     -DAY, DAY, 5);
	assert_int_equal(verify(self, NULL, p.anchors, NULL), CERT_UNKNOWN_CA);
	/* Nothing to trust at all. */
	STACK_OF(X509) *none = sk_X509_new_null();
	assert_int_equal(verify(c, NULL, none, NULL), CERT_UNKNOWN_CA);
	sk_X509_free(none);
	X509_free(self);
	X509_free(c);
	pki_free(&p);
}

static void test_chain_revoked_by_crl(void **state)
{
	struct pki p;
	pki_init(&p);
	X509 *good = leaf(&p, p.ca, p.ca_key, -DAY, DAY, 10);
	X509 *bad = leaf(&p, p.ca, p.ca_key, -DAY, DAY, 11);
	X509_CRL *crl = fx_crl(p.ca, p.ca_key, &bad, 1);
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	sk_X509_CRL_push(crls, crl);
	assert_int_equal(verify(bad, NULL, p.anchors, crls), CERT_REVOKED);
	assert_int_equal(verify(good, NULL, p.anchors, crls), CERT_OK);
	/* No CRL from its issuer: not revoked (strongSwan's relaxed default). */
	assert_int_equal(verify(bad, NULL, p.anchors, NULL), CERT_OK);
	/* A CRL of another CA that lists the same serial does not revoke it. */
	X509_CRL *other_crl = fx_crl(p.other, p.other_key, &bad, 1);
	STACK_OF(X509_CRL) *others = sk_X509_CRL_new_null();
	sk_X509_CRL_push(others, other_crl);
	assert_int_equal(verify(bad, NULL, p.anchors, others), CERT_OK);
	sk_X509_CRL_pop_free(others, X509_CRL_free);
	/* A CRL past its next update still revokes, and does not fail the others. */
	X509_CRL *stale = fx_crl_at(p.ca, p.ca_key, &bad, 1, -3 * DAY, -DAY);
	STACK_OF(X509_CRL) *stales = sk_X509_CRL_new_null();
	sk_X509_CRL_push(stales, stale);
	assert_int_equal(verify(bad, NULL, p.anchors, stales), CERT_REVOKED);
	assert_int_equal(verify(good, NULL, p.anchors, stales), CERT_OK);
	sk_X509_CRL_pop_free(stales, X509_CRL_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	X509_free(good);
	X509_free(bad);
	pki_free(&p);
}

static void test_chain_intermediate(void **state)
{
	struct pki p;
	pki_init(&p);
	EVP_PKEY *ik = fx_key(FX_P256);
	X509 *inter = fx_cert("Intermediate CA", NULL, ik, p.ca, p.ca_key, true, -DAY, 5 * DAY, 2);
	X509 *c = leaf(&p, inter, ik, -DAY, DAY, 10);
	STACK_OF(X509) *chain = sk_X509_new_null();
	sk_X509_push(chain, inter);
	assert_int_equal(verify(c, chain, p.anchors, NULL), CERT_OK);
	assert_int_equal(verify(c, NULL, p.anchors, NULL), CERT_UNKNOWN_CA);
	/* The intermediate CA configured as the only cacerts is a trust anchor. */
	assert_int_equal(verify(c, NULL, chain, NULL), CERT_OK);
	/* A leaf cannot act as a CA for another. */
	EVP_PKEY *k2 = fx_key(FX_P256);
	X509 *c2 = fx_cert("b.example.net", "DNS:b.example.net", k2, c, p.leaf_key, false, -DAY,
			   DAY, 11);
	STACK_OF(X509) *via_leaf = sk_X509_new_null();
	sk_X509_push(via_leaf, c);
	sk_X509_push(via_leaf, inter);
	assert_int_not_equal(verify(c2, via_leaf, p.anchors, NULL), CERT_OK);
	sk_X509_free(via_leaf);
	X509_free(c2);
	EVP_PKEY_free(k2);
	sk_X509_free(chain);
	X509_free(c);
	X509_free(inter);
	EVP_PKEY_free(ik);
	pki_free(&p);
}

static void test_identity_san_and_dn(void **state)
{
	struct pki p;
	pki_init(&p);
	X509 *c = leaf(&p, p.ca, p.ca_key, -DAY, DAY, 10);
	uint8_t ip[4] = { 192, 0, 2, 1 }, ip2[4] = { 192, 0, 2, 2 };
	assert_true(cert_matches_id(c, ID_FQDN, (const uint8_t *)"a.example.net", 13));
	assert_true(cert_matches_id(c, ID_FQDN, (const uint8_t *)"A.Example.NET", 13));
	assert_false(cert_matches_id(c, ID_FQDN, (const uint8_t *)"b.example.net", 13));
	assert_false(cert_matches_id(c, ID_FQDN, (const uint8_t *)"a.example.ne", 12));
	assert_true(cert_matches_id(c, ID_RFC822_ADDR, (const uint8_t *)"a@example.net", 13));
	assert_false(cert_matches_id(c, ID_RFC822_ADDR, (const uint8_t *)"b@example.net", 13));
	/* An FQDN identity is not matched against an email SAN, and so on. */
	assert_false(cert_matches_id(c, ID_RFC822_ADDR, (const uint8_t *)"a.example.net", 13));
	assert_true(cert_matches_id(c, ID_IPV4_ADDR, ip, 4));
	assert_false(cert_matches_id(c, ID_IPV4_ADDR, ip2, 4));
	uint8_t dn[256];
	size_t n;
	assert_int_equal(dn_from_string("C=CH, O=tsunagi test, CN=a.example.net", dn, sizeof(dn), &n), 0);
	assert_true(cert_matches_id(c, ID_DER_ASN1_DN, dn, n));
	assert_int_equal(dn_from_string("C=CH, O=tsunagi test, CN=b.example.net", dn, sizeof(dn), &n), 0);
	assert_false(cert_matches_id(c, ID_DER_ASN1_DN, dn, n));
	/* The subject as the DN identity, and its text. */
	assert_int_equal(cert_subject_der(c, dn, sizeof(dn), &n), 0);
	assert_true(cert_matches_id(c, ID_DER_ASN1_DN, dn, n));
	char s[256];
	assert_string_equal(dn_fmt(dn, n, s, sizeof(s)), "C=CH, O=tsunagi test, CN=a.example.net");
	/* Garbage is no DN and matches nothing. */
	assert_false(cert_matches_id(c, ID_DER_ASN1_DN, (const uint8_t *)"\x30\x03\x01", 3));
	assert_int_equal(dn_from_string("no equals sign", dn, sizeof(dn), &n), -1);
	assert_int_equal(dn_from_string("XYZ=1", dn, sizeof(dn), &n), -1);
	X509_free(c);
	pki_free(&p);
}

static void test_identity_from_string_dn(void **state)
{
	struct identity a, b;
	assert_int_equal(identity_from_string("C=CH, O=tsunagi test, CN=moon", &a), 0);
	assert_int_equal(a.type, ID_DER_ASN1_DN);
	/* Spacing and case of the attribute names do not matter. */
	assert_int_equal(identity_from_string("c=CH,o=tsunagi test,cn=moon", &b), 0);
	assert_true(identity_equal(&a, &b));
	assert_int_equal(identity_from_string("C=CH, O=tsunagi test, CN=sun", &b), 0);
	assert_false(identity_equal(&a, &b));
	assert_true(identity_matches_cfg("C=CH, O=tsunagi test, CN=moon", &a));
	char s[128];
	assert_string_equal(identity_fmt(&a, s, sizeof(s)), "C=CH, O=tsunagi test, CN=moon");
}

static void test_identity_wildcards(void **state)
{
	struct identity id;
	identity_from_string("a.example.net", &id);
	assert_true(identity_matches_cfg("*.example.net", &id));
	assert_true(identity_matches_cfg("*.EXAMPLE.net", &id));
	assert_false(identity_matches_cfg("*.example.org", &id));
	assert_false(identity_matches_cfg("*@example.net", &id));	/* another type */
	identity_from_string("example.net", &id);
	assert_false(identity_matches_cfg("*.example.net", &id));
	identity_from_string("alice@example.net", &id);
	assert_true(identity_matches_cfg("*@example.net", &id));
	assert_false(identity_matches_cfg("*@example.org", &id));
	identity_from_string("C=CH, O=tsunagi test, CN=a.example.net", &id);
	assert_true(identity_matches_cfg("C=CH, O=tsunagi test, CN=*", &id));
	assert_true(identity_matches_cfg("C=CH, O=*, CN=*", &id));
	assert_false(identity_matches_cfg("C=DE, O=tsunagi test, CN=*", &id));
	assert_false(identity_matches_cfg("C=CH, CN=*", &id));		/* fewer RDNs */
	assert_false(identity_matches_cfg("C=CH, OU=tsunagi test, CN=*", &id));	/* another attribute */
	assert_true(identity_has_wildcard("C=CH, CN=*"));
	assert_false(identity_has_wildcard("a.example.net"));
	assert_false(identity_has_wildcard(NULL));
}

static void sign_verify(enum fx_key type, unsigned hashes, uint8_t want_method)
{
	EVP_PKEY *k = fx_key(type), *other = fx_key(type);
	const uint8_t msg[] = "signed octets", bad[] = "signed octetz";
	struct buf sig;
	uint8_t method = 0;
	const char *why = NULL;
	buf_init(&sig);
	assert_int_equal(sig_sign(k, hashes, msg, sizeof(msg), &method, &sig), 0);
	assert_int_equal(method, want_method);
	assert_int_equal(sig_verify(k, method, sig.data, sig.len, msg, sizeof(msg), &why), 0);
	assert_int_equal(sig_verify(k, method, sig.data, sig.len, bad, sizeof(bad), &why), -1);
	assert_string_equal(why, "signature does not verify");
	assert_int_equal(sig_verify(other, method, sig.data, sig.len, msg, sizeof(msg), &why), -1);
	/* Cut short: rejected, never read past the end. */
	assert_int_equal(sig_verify(k, method, sig.data, sig.len / 2, msg, sizeof(msg), &why), -1);
	buf_free(&sig);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

#define RFC7427 ((1u << SIGH_SHA256) | (1u << SIGH_SHA384) | (1u << SIGH_SHA512) | \
		 (1u << SIGH_IDENTITY))

static void test_signatures(void **state)
{
	sign_verify(FX_RSA, 0, 1);		/* PKCS#1 v1.5 SHA-1 */
	sign_verify(FX_RSA, RFC7427, 14);	/* RSASSA-PSS SHA-256 */
	sign_verify(FX_P256, 0, 9);
	sign_verify(FX_P256, RFC7427, 14);
	sign_verify(FX_P384, 0, 10);
	sign_verify(FX_P384, RFC7427, 14);
	sign_verify(FX_ED25519, RFC7427, 14);
	/* Ed25519 exists only under RFC 7427. */
	EVP_PKEY *k = fx_key(FX_ED25519);
	struct buf sig;
	uint8_t method;
	buf_init(&sig);
	assert_int_equal(sig_sign(k, 1u << SIGH_SHA256, (const uint8_t *)"x", 1, &method, &sig), -1);
	buf_free(&sig);
	EVP_PKEY_free(k);
}

/* RFC 7427 AUTH data that names a scheme the key cannot do, or is malformed. */
static void test_signature_bad_input(void **state)
{
	EVP_PKEY *ec = fx_key(FX_P256), *rsa = fx_key(FX_RSA);
	const uint8_t msg[] = "m";
	struct buf sig;
	uint8_t method;
	const char *why;
	buf_init(&sig);
	assert_int_equal(sig_sign(ec, RFC7427, msg, sizeof(msg), &method, &sig), 0);
	assert_int_equal(sig_verify(rsa, method, sig.data, sig.len, msg, sizeof(msg), &why), -1);
	assert_string_equal(why, "signature algorithm does not fit the certificate's key");
	sig.data[0] = 200;	/* AlgorithmIdentifier length past the end */
	assert_int_equal(sig_verify(ec, method, sig.data, sig.len, msg, sizeof(msg), &why), -1);
	assert_string_equal(why, "malformed RFC 7427 AUTH data");
	assert_int_equal(sig_verify(ec, 14, NULL, 0, msg, sizeof(msg), &why), -1);
	assert_int_equal(sig_verify(ec, 3, sig.data, sig.len, msg, sizeof(msg), &why), -1);
	assert_string_equal(why, "unsupported AUTH method");
	/* ECDSA-256 data for a P-256 key of the wrong length. */
	assert_int_equal(sig_verify(ec, 9, sig.data, 63, msg, sizeof(msg), &why), -1);
	/* An unknown algorithm OID (1.2.3.4). */
	const uint8_t unknown[] = { 7, 0x30, 0x05, 0x06, 0x03, 0x2a, 0x03, 0x04, 0xaa };
	assert_int_equal(sig_verify(ec, 14, unknown, sizeof(unknown), msg, sizeof(msg), &why), -1);
	assert_string_equal(why, "unsupported signature algorithm in RFC 7427 AUTH");
	buf_free(&sig);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

static void test_malformed_certificates(void **state)
{
	struct pki p;
	pki_init(&p);
	unsigned char *der = NULL;
	int n = i2d_X509(p.ca, &der);
	assert_true(n > 0);
	X509 *c = cert_from_der(der, (size_t)n);
	assert_non_null(c);
	X509_free(c);
	assert_null(cert_from_der(der, (size_t)n - 1));	/* truncated */
	uint8_t *longer = malloc((size_t)n + 1);
	memcpy(longer, der, (size_t)n);
	longer[n] = 0;
	assert_null(cert_from_der(longer, (size_t)n + 1));	/* trailing byte */
	assert_null(cert_from_der((const uint8_t *)"\x30\x82\xff\xff", 4));
	assert_null(cert_from_der(NULL, 0));
	assert_null(cert_from_blob((const uint8_t *)"-----BEGIN CERTIFICATE-----\nAAAA\n", 34));
	free(longer);
	OPENSSL_free(der);
	pki_free(&p);
}

/* ---- exchanges ---- */

static char dir[64];
static struct pki xp;
static EVP_PKEY *key_a, *key_b;
static X509 *cert_a, *cert_b, *cert_a_other, *cert_a_revoked;
static EVP_PKEY *key_a_rsa, *key_b_ec;	/* IKEv1: both ends' keys of one type */
static X509 *cert_a_rsa, *cert_a_rsa_other, *cert_b_ec;

static void path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static int setup_files(void **state)
{
	char p[128];
	snprintf(dir, sizeof(dir), "/tmp/tsunagi-cert-XXXXXX");
	assert_non_null(mkdtemp(dir));
	pki_init(&xp);
	key_a = fx_key(FX_P256);
	key_b = fx_key(FX_RSA);
	cert_a = fx_cert("a.example.net", "DNS:a.example.net", key_a, xp.ca, xp.ca_key, false,
			 -DAY, DAY, 20);
	cert_a_other = fx_cert("a.example.net", "DNS:a.example.net", key_a, xp.other,
			       xp.other_key, false, -DAY, DAY, 21);
	cert_a_revoked = fx_cert("a.example.net", "DNS:a.example.net", key_a, xp.ca, xp.ca_key,
				 false, -DAY, DAY, 22);
	cert_b = fx_cert("b.example.net", "DNS:b.example.net,IP:198.51.100.2", key_b, xp.ca,
			 xp.ca_key, false, -DAY, DAY, 23);
	key_a_rsa = fx_key(FX_RSA);
	cert_a_rsa = fx_cert("a.example.net", "DNS:a.example.net", key_a_rsa, xp.ca, xp.ca_key,
			     false, -DAY, DAY, 24);
	cert_a_rsa_other = fx_cert("a.example.net", "DNS:a.example.net", key_a_rsa, xp.other,
				   xp.other_key, false, -DAY, DAY, 25);
	path(p, sizeof(p), "a-rsa.pem"); assert_int_equal(fx_write_cert(p, cert_a_rsa), 0);
	path(p, sizeof(p), "a-rsa-other.pem");
	assert_int_equal(fx_write_cert(p, cert_a_rsa_other), 0);
	path(p, sizeof(p), "a-rsa.key");
	assert_int_equal(fx_write_key(p, key_a_rsa, "pass phrase"), 0);
	key_b_ec = fx_key(FX_P256);
	cert_b_ec = fx_cert("b.example.net", "DNS:b.example.net", key_b_ec, xp.ca, xp.ca_key,
			    false, -DAY, DAY, 26);
	path(p, sizeof(p), "b-ec.pem"); assert_int_equal(fx_write_cert(p, cert_b_ec), 0);
	path(p, sizeof(p), "b-ec.key"); assert_int_equal(fx_write_key(p, key_b_ec, NULL), 0);
	X509_CRL *crl = fx_crl(xp.ca, xp.ca_key, &cert_a_revoked, 1);
	path(p, sizeof(p), "ca.pem"); assert_int_equal(fx_write_cert(p, xp.ca), 0);
	path(p, sizeof(p), "a.pem"); assert_int_equal(fx_write_cert(p, cert_a), 0);
	path(p, sizeof(p), "a-other.pem"); assert_int_equal(fx_write_cert(p, cert_a_other), 0);
	path(p, sizeof(p), "a-revoked.pem"); assert_int_equal(fx_write_cert(p, cert_a_revoked), 0);
	path(p, sizeof(p), "b.pem"); assert_int_equal(fx_write_cert(p, cert_b), 0);
	path(p, sizeof(p), "a.key"); assert_int_equal(fx_write_key(p, key_a, "pass phrase"), 0);
	path(p, sizeof(p), "b.key"); assert_int_equal(fx_write_key(p, key_b, NULL), 0);
	path(p, sizeof(p), "x509crl"); assert_int_equal(mkdir(p, 0700), 0);
	path(p, sizeof(p), "x509crl/ca.crl"); assert_int_equal(fx_write_crl(p, crl), 0);
	X509_CRL_free(crl);
	return 0;
}

static int teardown_files(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	X509_free(cert_a);
	X509_free(cert_a_other);
	X509_free(cert_a_revoked);
	X509_free(cert_b);
	X509_free(cert_a_rsa);
	X509_free(cert_a_rsa_other);
	X509_free(cert_b_ec);
	EVP_PKEY_free(key_a_rsa);
	EVP_PKEY_free(key_b_ec);
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	pki_free(&xp);
	return 0;
}

static char conf_a[4096], conf_b[4096];

/* A pubkey connection between a (192.0.2.1) and b (198.51.100.2). a_cert is the file
 * a uses; a_id/b_remote_id may be NULL (none configured); extra goes into the
 * connection. */
static void pk_confs(const char *a_cert, const char *a_id, const char *b_remote_id,
		     const char *extra_a, const char *extra_b)
{
	char a_id_line[160] = "", b_rid_line[160] = "";
	if (a_id)
		snprintf(a_id_line, sizeof(a_id_line), "      id = \"%s\"\n", a_id);
	if (b_remote_id)
		snprintf(b_rid_line, sizeof(b_rid_line), "      id = \"%s\"\n", b_remote_id);
	snprintf(conf_a, sizeof(conf_a),
		 "connections {\n  site {\n    local_addrs = 192.0.2.1\n    remote_addrs = 198.51.100.2\n"
		 "    proposals = aes256gcm16-prfsha256-x25519\n%s"
		 "    local {\n      auth = pubkey\n      certs = %s/%s\n%s    }\n"
		 "    remote {\n      auth = pubkey\n      id = b.example.net\n      cacerts = %s/ca.pem\n    }\n"
		 "    children {\n      net {\n        local_ts = 10.1.0.0/24\n        remote_ts = 10.2.0.0/24\n"
		 "        esp_proposals = aes256gcm16\n      }\n    }\n  }\n}\n"
		 "secrets {\n  private-a {\n    file = %s/a.key\n    secret = \"pass phrase\"\n  }\n}\n",
		 extra_a, dir, a_cert, a_id_line, dir, dir);
	snprintf(conf_b, sizeof(conf_b),
		 "connections {\n  site {\n    local_addrs = 198.51.100.2\n    remote_addrs = 192.0.2.1\n"
		 "    proposals = aes256gcm16-prfsha256-x25519\n%s"
		 "    local {\n      auth = pubkey\n      certs = %s/b.pem\n      id = b.example.net\n    }\n"
		 "    remote {\n      auth = pubkey\n%s      cacerts = %s/ca.pem\n    }\n"
		 "    children {\n      net {\n        local_ts = 10.2.0.0/24\n        remote_ts = 10.1.0.0/24\n"
		 "        esp_proposals = aes256gcm16\n      }\n    }\n  }\n}\n"
		 "secrets {\n  private-b {\n    file = %s/b.key\n  }\n}\n",
		 extra_b, dir, b_rid_line, dir, dir);
}

static void establish(struct harness *h)
{
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
	h_pump(h);
}

static void test_exchange_pubkey(void **state)
{
	struct harness h;
	pk_confs("a.pem", "a.example.net", "a.example.net", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	/* Both announced RFC 7427 hashes, and each asked for the other's certificate. */
	assert_true(h_first_sa(&h.a)->peer_sig_hashes & (1u << SIGH_SHA256));
	assert_true(h_first_sa(&h.b)->peer_certreq);
	assert_true(h_first_sa(&h.a)->peer_certreq);
	h_free(&h);
}

/* No id configured: a identifies by its certificate's subject, which b expects. */
static void test_exchange_dn_identity(void **state)
{
	struct harness h;
	pk_confs("a.pem", NULL, "C=CH, O=tsunagi test, CN=a.example.net", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_first_sa(&h.b)->peer_id->type, ID_DER_ASN1_DN);
	h_free(&h);
}

/* strongSwan's DN wildcard as the remote id of a responder, and an FQDN wildcard as
 * the initiator's remote id (which it then does not send as IDr). */
static void test_exchange_wildcard_ids(void **state)
{
	struct harness h;
	pk_confs("a.pem", NULL, "C=CH, O=tsunagi test, CN=*", "", "");
	char *rid = strstr(conf_a, "id = b.example.net");
	assert_non_null(rid);
	memcpy(rid, "id = *.example.net", 18);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	h_free(&h);
}

/* A failing case: b refuses with `want` in its log; neither side keeps an SA. */
static void expect_refused(const char *a_cert, const char *a_id, const char *extra_a,
			   const char *want)
{
	struct harness h;
	struct h_log_count lc;
	pk_confs(a_cert, a_id, NULL, extra_a, "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, want);
	establish(&h);
	h_log_capture_stop(&lc);
	if (lc.matches != 1)
		fail_msg("expected one log line with \"%s\", got %d (first: %s)", want, lc.matches,
			 lc.first);
	assert_non_null(strstr(lc.first, "sending AUTHENTICATION_FAILED"));
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.auth_failures, 1);
	h_free(&h);
}

static void test_exchange_unknown_ca(void **state)
{
	expect_refused("a-other.pem", "a.example.net", "", "is issued by an unknown CA");
}

static void test_exchange_revoked(void **state)
{
	/* The CRL is in x509crl/ beside the configuration: the harness's files are
	 * "a.conf" and "b.conf" in the working directory. */
	char cwd[512];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	expect_refused("a-revoked.pem", "a.example.net", "", "is revoked");
	assert_int_equal(chdir(cwd), 0);
}

static void test_exchange_identity_mismatch(void **state)
{
	expect_refused("a.pem", "c.example.net", "", "identity mismatch: peer identifies as "
		       "'c.example.net', but its certificate");
	expect_refused("a.pem", "C=CH, O=tsunagi test, CN=c.example.net", "",
		       "identity mismatch: peer identifies as 'C=CH, O=tsunagi test, CN="
		       "c.example.net', but its certificate");
}

static void test_exchange_send_cert_never(void **state)
{
	expect_refused("a.pem", "a.example.net", "    send_cert = never\n",
		       "sent no certificate");
}

/* The responder asks for certificates (CERTREQ in IKE_SA_INIT) also when the
 * initiator announced no RFC 7427 hashes: a peer with send_cert = ifasked sends none
 * otherwise (found against strongSwan with signature_authentication = no). */
static void test_certreq_without_rfc7427(void **state)
{
	struct harness h;
	pk_confs("a.pem", "a.example.net", NULL, "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	struct ike_sa sa = { .core = h.b.core, .conn = h.b.core->conns, .my_id = &ike_no_id,
			     .peer_id = &ike_no_id, .prop = &proposal_none };
	struct ikev2_builder k;
	struct ikev2_payloads pl = { 0 };
	uint8_t unsupported;
	const char *err;
	ikb_init(&k);
	ikev2_cert_init_out(&sa, &k, true);
	assert_int_equal(ikev2_parse_payloads(k.first, k.b.data, k.b.len, 0, &pl, &unsupported, &err), 0);
	assert_true(pl.has_certreq);
	assert_int_equal(pl.certreq[0].encoding, CERT_X509_SIGNATURE);
	assert_int_equal(pl.certreq[0].len, 20);	/* SHA-1 of the CA's public key */
	uint8_t id[20];
	assert_int_equal(cert_keyid(xp.ca, id), 0);
	assert_memory_equal(pl.certreq[0].data, id, 20);
	assert_null(ikev2_find_notify(&pl, N_SIGNATURE_HASH_ALGORITHMS));
	ikb_free(&k);
	h_free(&h);
}

/* EAP (ike/ikev2_eap.c) with the server authenticated by its certificate, as
 * remote-access clients expect: a logs in with EAP-MSCHAPv2, b signs. */
static void test_exchange_eap_client_pubkey_server(void **state)
{
	struct harness h;
	snprintf(conf_a, sizeof(conf_a),
		 "connections {\n  rw {\n    local_addrs = 192.0.2.1\n    remote_addrs = 198.51.100.2\n"
		 "    local {\n      auth = eap-mschapv2\n      eap_id = alice\n    }\n"
		 "    remote {\n      auth = pubkey\n      id = b.example.net\n      cacerts = %s/ca.pem\n    }\n"
		 "    children {\n      net {\n        local_ts = 10.1.0.0/24\n        remote_ts = 10.2.0.0/24\n"
		 "      }\n    }\n  }\n}\n"
		 "secrets {\n  eap-alice {\n    id = alice\n    secret = alice-pw\n  }\n}\n", dir);
	snprintf(conf_b, sizeof(conf_b),
		 "connections {\n  rw {\n    local_addrs = 198.51.100.2\n"
		 "    local {\n      auth = pubkey\n      certs = %s/b.pem\n      id = b.example.net\n    }\n"
		 "    remote {\n      auth = eap-mschapv2\n      eap_id = %%any\n    }\n"
		 "    children {\n      net {\n        local_ts = 10.2.0.0/24\n        remote_ts = 10.1.0.0/24\n"
		 "      }\n    }\n  }\n}\n"
		 "secrets {\n  private-b {\n    file = %s/b.key\n  }\n"
		 "  eap-alice {\n    id = alice\n    secret = alice-pw\n  }\n}\n", dir, dir);
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	char err[256];
	assert_int_equal(ike_initiate(h.a.core, "rw", "net", h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_string_equal(h_first_sa(&h.b)->eap_peer, "alice");
	h_free(&h);
}

/* The parser keeps at most IKEV2_MAX_CERTS CERT and IKEV2_MAX_CERTREQ CERTREQ payloads
 * of a message (pointers into it, nothing copied) and counts the rest. */
static void test_parse_cert_limits(void **state)
{
	struct ikev2_builder k;
	struct ikev2_payloads pl = { 0 };
	uint8_t unsupported;
	const char *err;
	ikb_init(&k);
	for (int i = 0; i < 9; i++)
		ikb_cert(&k, PL_CERT, CERT_X509_SIGNATURE, (const uint8_t *)"\x30\x00", 2);
	for (int i = 0; i < 6; i++)
		ikb_cert(&k, PL_CERTREQ, CERT_X509_SIGNATURE, (const uint8_t *)"12345678901234567890", 20);
	assert_int_equal(ikev2_parse_payloads(k.first, k.b.data, k.b.len, 0, &pl, &unsupported, &err), 0);
	assert_int_equal(pl.n_certs, IKEV2_MAX_CERTS);
	assert_int_equal(pl.n_certs_over, 5);
	assert_int_equal(pl.n_certreq, IKEV2_MAX_CERTREQ);
	assert_true(pl.has_certreq);
	/* A CERT payload without its encoding byte is truncated. */
	const uint8_t bad[] = { 0, 0, 0, 4 };
	struct ikev2_payloads pl2 = { 0 };
	assert_int_equal(ikev2_parse_payloads(PL_CERT, bad, sizeof(bad), 0, &pl2, &unsupported, &err), -1);
	assert_string_equal(err, "truncated certificate payload");
	ikb_free(&k);
}

/* A peer's bad CERT payloads: each refused with its own log line, counted. */
static void verify_bad(struct harness *h, const struct ikev2_cert *certs, size_t n, size_t over,
		       const char *want, uint64_t rejected, uint64_t truncated)
{
	struct ike_sa sa = { .core = h->b.core, .conn = h->b.core->conns, .my_id = &ike_no_id,
			     .peer_id = &ike_no_id, .prop = &proposal_none };
	struct msg_in m;
	struct h_log_count lc;
	struct identity peer;
	memset(&m, 0, sizeof(m));
	identity_from_string("a.example.net", &peer);
	assert_int_equal(ike_sa_set_id(&sa, false, &peer), 0);
	for (size_t i = 0; i < n; i++)
		m.pl.certs[i] = certs[i];
	m.pl.n_certs = n;
	m.pl.n_certs_over = over;
	m.pl.has_auth = true;
	m.pl.auth_method = 9;
	struct cred_stats *st = cred_store_stats(ike_creds(h->b.core));
	*st = (struct cred_stats){ 0 };
	h_log_capture_start(&lc, want);
	assert_int_equal(ikev2_pubkey_verify(&sa, &m, true, "; sending AUTHENTICATION_FAILED"), -1);
	h_log_capture_stop(&lc);
	if (lc.matches != 1)
		fail_msg("expected one log line with \"%s\", got %d (first: %s)", want, lc.matches,
			 lc.first);
	assert_int_equal(st->certs_rejected, rejected);
	assert_int_equal(st->chains_truncated, truncated);
	assert_int_equal(st->cert_auth_failures, 1);
	ike_sa_free_ids(&sa);
}

static void test_bad_cert_payloads(void **state)
{
	struct harness h;
	pk_confs("a.pem", "a.example.net", NULL, "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	static uint8_t big[CERT_MAX_BYTES + 1];
	const struct ikev2_cert unsupported = { 1, (const uint8_t *)"\x30\x00", 2 };
	const struct ikev2_cert garbage = { CERT_X509_SIGNATURE, (const uint8_t *)"\x30\x82\x10", 3 };
	const struct ikev2_cert huge = { CERT_X509_SIGNATURE, big, sizeof(big) };
	verify_bad(&h, &unsupported, 1, 0, "has unsupported encoding 1", 1, 0);
	verify_bad(&h, &garbage, 1, 0, "is malformed (3 bytes of invalid DER)", 1, 0);
	verify_bad(&h, &huge, 1, 0, "over the limit", 1, 0);
	verify_bad(&h, NULL, 0, 0, "sent no certificate", 0, 0);
	const struct ikev2_cert four[4] = { garbage, garbage, garbage, garbage };
	verify_bad(&h, four, 4, 20, "peer sent 24 CERT payloads, only the first 4 are used", 1, 1);
	/* The bad one is the second: the first (a's good certificate) does not save it. */
	unsigned char *der = NULL;
	int n = i2d_X509(cert_a, &der);
	const struct ikev2_cert two[2] = { { CERT_X509_SIGNATURE, der, (size_t)n }, garbage };
	verify_bad(&h, two, 2, 0, "peer's certificate 1 is malformed", 1, 0);
	OPENSSL_free(der);
	h_free(&h);
}

/* ---- IKEv1 Main Mode with RSA signatures ---- */

static void subst(char *conf, size_t len, const char *from, const char *to)
{
	char *at = strstr(conf, from);
	assert_non_null(at);
	size_t fl = strlen(from), tl = strlen(to), rest = strlen(at + fl);
	assert_true(strlen(conf) - fl + tl < len);
	memmove(at + tl, at + fl, rest + 1);
	memcpy(at, to, tl);
}

/* pk_confs as IKEv1 (version = 1, IKEv1 proposals), a with its RSA key and a_cert. */
static void v1_confs(const char *a_cert, const char *extra_a, const char *extra_b)
{
	char ea[512], eb[512];
	snprintf(ea, sizeof(ea), "    version = 1\n%s", extra_a);
	snprintf(eb, sizeof(eb), "    version = 1\n%s", extra_b);
	pk_confs(a_cert, "a.example.net", "a.example.net", ea, eb);
	for (int i = 0; i < 2; i++) {
		char *c = i ? conf_b : conf_a;
		subst(c, sizeof(conf_a), "aes256gcm16-prfsha256-x25519", "aes128-sha256-modp2048");
		subst(c, sizeof(conf_a), "esp_proposals = aes256gcm16", "esp_proposals = aes128-sha1");
	}
	subst(conf_a, sizeof(conf_a), "/a.key", "/a-rsa.key");
}

static void test_v1_main_mode_rsa(void **state)
{
	struct harness h;
	v1_confs("a-rsa.pem", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	const struct ike_sa *sa = h_first_sa(&h.a), *sb = h_first_sa(&h.b);
	assert_int_equal(sa->v1->params.auth_method, ISAKMP_AUTH_RSA_SIG);
	/* Each asked for the other's certificate (CERTREQ in MM3/MM4). */
	assert_true(sa->peer_certreq);
	assert_true(sb->peer_certreq);
	assert_int_equal(sb->peer_id->type, ID_FQDN);
	assert_int_equal(sa->peer_id->type, ID_FQDN);
	h_free(&h);
}

/* ECDSA P-256 both ways (RFC 4754, method 9); a P-256 key against an RSA one agrees
 * on no method. */
static void test_v1_main_mode_ecdsa(void **state)
{
	struct harness h;
	v1_confs("a.pem", "", "");
	subst(conf_a, sizeof(conf_a), "/a-rsa.key", "/a.key");
	subst(conf_b, sizeof(conf_b), "/b.pem", "/b-ec.pem");
	subst(conf_b, sizeof(conf_b), "/b.key", "/b-ec.key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.b), 1);
	assert_int_equal(h_first_sa(&h.b)->v1->params.auth_method, ISAKMP_AUTH_ECDSA_256);
	h_free(&h);

	struct h_log_count lc;
	const char *want = "the peer proposes authentication method 9, connection 'site' wants 3";
	v1_confs("a.pem", "", "");
	subst(conf_a, sizeof(conf_a), "/a-rsa.key", "/a.key");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, want);
	establish(&h);
	h_log_capture_stop(&lc);
	if (lc.matches != 1)
		fail_msg("expected one log line with \"%s\", got %d (first: %s)", want, lc.matches,
			 lc.first);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	h_free(&h);
}

/* a's certificate is from a CA b does not trust: b says so, neither side is up. */
static void test_v1_unknown_ca(void **state)
{
	struct harness h;
	struct h_log_count lc;
	const char *want = "is issued by an unknown CA";
	v1_confs("a-rsa-other.pem", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	h_log_capture_start(&lc, want);
	establish(&h);
	h_log_capture_stop(&lc);
	if (lc.matches != 1)
		fail_msg("expected one log line with \"%s\", got %d (first: %s)", want, lc.matches,
			 lc.first);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	struct ike_stats st;
	ike_get_stats(h.b.core, &st);
	assert_int_equal(st.auth_failures, 1);
	assert_int_equal(cred_store_stats(h.b.core->creds)->cert_auth_failures, 1);
	h_free(&h);
}

/* Certificates in Phase 1 and an XAuth round (XAUTHInitRSA, 65005). */
static void test_v1_pubkey_xauth(void **state)
{
	struct harness h;
	v1_confs("a-rsa.pem", "    local-2 {\n      auth = xauth\n      xauth_id = alice\n    }\n",
		 "    remote-2 {\n      auth = xauth\n    }\n");
	for (int i = 0; i < 2; i++)
		subst(i ? conf_b : conf_a, sizeof(conf_a), "secrets {\n",
		      "secrets {\n  xauth-alice {\n    id = alice\n    secret = alice-pw\n  }\n");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h.a), 1);
	assert_int_equal(h_first_sa(&h.b)->v1->params.auth_method, ISAKMP_AUTH_XAUTH_INIT_RSA);
	assert_string_equal(h_first_sa(&h.b)->v1->xauth_user, "alice");
	h_free(&h);
}

/* Bad CERT and SIG payloads in MM5/MM6: a missing SIG, a certificate that is not DER,
 * a valid chain with a signature that does not verify: each refused with its own log
 * line and counted. (Payloads shorter than their encoding byte fail parsing:
 * test_isakmp_msg.c.) */
static void expect_sig_refused(struct ike_sa *sa, struct v1_msg *m, const char *want)
{
	struct h_log_count lc;
	uint8_t hash[32] = { 1 };
	uint64_t before = cred_store_stats(sa->core->creds)->cert_auth_failures;
	h_log_capture_start(&lc, want);
	assert_false(ikev1_check_cert_sig(sa, m, hash, sizeof(hash)));
	h_log_capture_stop(&lc);
	if (lc.matches != 1)
		fail_msg("expected one log line with \"%s\", got %d (first: %s)", want, lc.matches,
			 lc.first);
	assert_int_equal(cred_store_stats(sa->core->creds)->cert_auth_failures, before + 1);
}

static void test_v1_bad_cert_sig(void **state)
{
	struct harness h;
	v1_confs("a-rsa.pem", "", "");
	assert_int_equal(h_init(&h, conf_a, conf_b), 0);
	establish(&h);
	struct ike_sa *sb = (struct ike_sa *)h_first_sa(&h.b);
	assert_non_null(sb);
	static struct v1_msg m;
	memset(&m, 0, sizeof(m));
	unsigned char *der = NULL;
	int n = i2d_X509(cert_a_rsa, &der);
	assert_true(n > 0);
	m.pl.n_cert = 1;
	m.pl.certs[0] = (struct isakmp_cert){ 4, der, (size_t)n };
	expect_sig_refused(sb, &m, "sent no SIG payload");
	m.pl.sig = (struct isakmp_blob){ (const uint8_t *)"forged", 6 };
	expect_sig_refused(sb, &m, "SIG payload of 'a.example.net' does not verify");
	uint64_t rejected = cred_store_stats(h.b.core->creds)->certs_rejected;
	m.pl.certs[0] = (struct isakmp_cert){ 4, (const uint8_t *)"\x30\x03garbage", 9 };
	expect_sig_refused(sb, &m, "is malformed");
	m.pl.certs[0] = (struct isakmp_cert){ 1, der, (size_t)n };
	expect_sig_refused(sb, &m, "unsupported encoding 1");
	assert_int_equal(cred_store_stats(h.b.core->creds)->certs_rejected, rejected + 2);
	m.pl.n_cert = 0;
	expect_sig_refused(sb, &m, "sent no certificate");
	/* The established SA is untouched. */
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	OPENSSL_free(der);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_good_expired_not_yet_valid),
		cmocka_unit_test(test_chain_wrong_ca),
		cmocka_unit_test(test_chain_revoked_by_crl),
		cmocka_unit_test(test_chain_intermediate),
		cmocka_unit_test(test_identity_san_and_dn),
		cmocka_unit_test(test_identity_from_string_dn),
		cmocka_unit_test(test_identity_wildcards),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_signature_bad_input),
		cmocka_unit_test(test_malformed_certificates),
		cmocka_unit_test(test_exchange_pubkey),
		cmocka_unit_test(test_exchange_dn_identity),
		cmocka_unit_test(test_exchange_wildcard_ids),
		cmocka_unit_test(test_exchange_unknown_ca),
		cmocka_unit_test(test_exchange_revoked),
		cmocka_unit_test(test_exchange_identity_mismatch),
		cmocka_unit_test(test_exchange_send_cert_never),
		cmocka_unit_test(test_certreq_without_rfc7427),
		cmocka_unit_test(test_exchange_eap_client_pubkey_server),
		cmocka_unit_test(test_parse_cert_limits),
		cmocka_unit_test(test_bad_cert_payloads),
		cmocka_unit_test(test_v1_main_mode_rsa),
		cmocka_unit_test(test_v1_main_mode_ecdsa),
		cmocka_unit_test(test_v1_unknown_ca),
		cmocka_unit_test(test_v1_pubkey_xauth),
		cmocka_unit_test(test_v1_bad_cert_sig),
	};
	return cmocka_run_group_tests(tests, setup_files, teardown_files);
}
