/* Key sizes of the transforms we implement, NAT-D hashes and random bytes. The PRF
 * and key derivation live in crypto_prf.c, Diffie-Hellman in crypto_dh.c and the SK
 * payload in crypto_sk.c. */
#include "ike/ike_crypto.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "ike/proposal.h"

size_t encr_key_len(uint16_t encr_id, uint16_t keylen_bits)
{
	bool aes_size = keylen_bits == 128 || keylen_bits == 192 || keylen_bits == 256;

	switch (encr_id) {
	case ENCR_AES_CBC:
	case ENCR_AES_CTR:
		return aes_size ? keylen_bits / 8 : 0;
	case ENCR_3DES:
		return 24;
	case ENCR_AES_GCM_8:
	case ENCR_AES_GCM_12:
	case ENCR_AES_GCM_16:
		return aes_size ? keylen_bits / 8 + 4 : 0;	/* + salt (RFC 4106/5282) */
	case ENCR_CHACHA20_POLY1305:
		return keylen_bits == 0 || keylen_bits == 256 ? 32 + 4 : 0;	/* RFC 7634 */
	case ENCR_NULL:
		return 0;
	}
	return 0;
}

size_t integ_key_len(uint16_t integ_id)
{
	switch (integ_id) {
	case INTEG_HMAC_MD5_96: return 16;
	case INTEG_HMAC_SHA1_96: return 20;
	case INTEG_HMAC_SHA2_256_128: return 32;
	case INTEG_HMAC_SHA2_384_192: return 48;
	case INTEG_HMAC_SHA2_512_256: return 64;
	}
	return 0;
}

size_t integ_icv_len(uint16_t integ_id)
{
	switch (integ_id) {
	case INTEG_HMAC_MD5_96: return 12;
	case INTEG_HMAC_SHA1_96: return 12;
	case INTEG_HMAC_SHA2_256_128: return 16;
	case INTEG_HMAC_SHA2_384_192: return 24;
	case INTEG_HMAC_SHA2_512_256: return 32;
	}
	return 0;
}

void natd_hash(const uint8_t spi_i[8], const uint8_t spi_r[8], const struct addr *a,
	       uint8_t out[20])
{
	uint8_t in[8 + 8 + 16 + 2];
	size_t alen = addr_len(a);
	unsigned int len = 20;

	memcpy(in, spi_i, 8);
	memcpy(in + 8, spi_r, 8);
	memcpy(in + 16, a->u.b, alen);
	put_u16(in + 16 + alen, a->port);
	if (!EVP_Digest(in, 16 + alen + 2, out, &len, EVP_sha1(), NULL))
		memset(out, 0, 20);	/* cannot match a real hash: NAT is assumed */
}

void crypto_random(void *p, size_t n)
{
	/* idempotent and thread-safe; makes randombytes_buf usable from any caller */
	if (sodium_init() < 0)
		abort();
	randombytes_buf(p, n);
}
