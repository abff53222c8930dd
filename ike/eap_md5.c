/* EAP-MD5 (RFC 3748 5.4, the CHAP computation of RFC 1994): the response is
 * MD5(Identifier | secret | challenge). It makes no MSK: IKEv2 then signs the final
 * AUTH with SK_p (RFC 7296 2.16). For tests and closed networks only: a passive
 * listener can guess the password offline. */
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "ike/eap.h"
#include "ike/ike_crypto.h"
#include "lib/wipe.h"

static int md5_value(uint8_t id, const uint8_t *secret, size_t secret_len, const uint8_t *chal,
		     size_t chal_len, uint8_t out[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, &id, 1) == 1 &&
		 EVP_DigestUpdate(ctx, secret, secret_len) == 1 &&
		 EVP_DigestUpdate(ctx, chal, chal_len) == 1 &&
		 EVP_DigestFinal_ex(ctx, out, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Value-Size | Value | Name: the value, or NULL when the lengths do not fit. */
static const uint8_t *md5_value_of(const struct eap_pkt *e, size_t *len)
{
	if (e->len < 1 || e->data[0] == 0 || e->data[0] > e->len - 1)
		return NULL;
	*len = e->data[0];
	return e->data + 1;
}

void eap_md5_challenge(uint8_t chal[16], struct buf *td)
{
	crypto_random(chal, 16);
	buf_put_u8(td, 16);
	buf_put(td, chal, 16);
}

int eap_md5_check(const uint8_t chal[16], uint8_t id, const struct secret_cfg *sec,
		  const struct eap_pkt *resp, const char **why)
{
	size_t vlen;
	const uint8_t *v = md5_value_of(resp, &vlen);
	uint8_t expect[16];
	if (!v || vlen != 16) {
		*why = "EAP-MD5 response value is not 16 bytes";
		return -1;
	}
	if (!sec || md5_value(id, sec->secret, sec->secret_len, chal, 16, expect) < 0)
		return 0;
	int ok = sodium_memcmp(expect, v, 16) == 0;
	wipe(expect, sizeof(expect));
	return ok;
}

int eap_md5_respond(const struct eap_pkt *req, const uint8_t *secret, size_t secret_len,
		    struct buf *td, const char **why)
{
	size_t clen;
	const uint8_t *c = md5_value_of(req, &clen);
	uint8_t v[16];
	if (!c) {
		*why = "EAP-MD5 challenge is malformed";
		return -1;
	}
	if (md5_value(req->id, secret, secret_len, c, clen, v) < 0) {
		*why = "MD5 failed";
		return -1;
	}
	buf_put_u8(td, 16);
	buf_put(td, v, 16);
	wipe(v, sizeof(v));
	return 0;
}
