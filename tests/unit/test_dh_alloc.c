/* An X25519 exchange (the group most remote-access clients offer) makes no OpenSSL
 * allocations: it is libsodium's, with the private scalar in struct dh. With OpenSSL
 * each exchange made some 30 blocks (key objects, contexts, provider look-ups), which
 * a concentrator setting up a thousand SAs at a time holds for every one in flight
 * (issue 8, memory per IKE SA). The results are the RFC 7748 ones (test_ike_crypto's
 * known-answer test); here the allocations are counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ike/ike_crypto.h"
#include "ike/proposal.h"
#include "lib/buf.h"

static unsigned ossl_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	ossl_allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	ossl_allocs++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void test_x25519_no_openssl_allocations(void **state)
{
	(void)state;
	unsigned before = ossl_allocs;
	struct dh *a = dh_new(DH_CURVE25519), *b = dh_new(DH_CURVE25519);
	assert_non_null(a);
	assert_non_null(b);
	struct buf pa, pb, sa, sb;
	buf_init(&pa);
	buf_init(&pb);
	buf_init(&sa);
	buf_init(&sb);
	assert_int_equal(dh_public(a, &pa), 0);
	assert_int_equal(dh_public(b, &pb), 0);
	assert_int_equal(pa.len, 32);
	assert_int_equal(dh_shared(a, pb.data, pb.len, &sa), 0);
	assert_int_equal(dh_shared(b, pa.data, pa.len, &sb), 0);
	assert_int_equal(sa.len, 32);
	assert_memory_equal(sa.data, sb.data, 32);
	dh_free(a);
	dh_free(b);
	assert_int_equal(ossl_allocs, before);
	buf_free(&pa);
	buf_free(&pb);
	buf_wipe_free(&sa);
	buf_wipe_free(&sb);
}

/* The counter sees OpenSSL's allocations: a P-256 exchange makes some. */
static void test_counter_works(void **state)
{
	(void)state;
	unsigned before = ossl_allocs;
	struct dh *a = dh_new(DH_ECP256);
	assert_non_null(a);
	dh_free(a);
	assert_true(ossl_allocs > before);
}

int main(void)
{
	/* before OpenSSL allocates anything */
	if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x25519_no_openssl_allocations),
		cmocka_unit_test(test_counter_works),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
