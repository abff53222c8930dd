/* Algorithms: IKEv2 transform IDs (IANA, ike/proposal.h) to PF_KEY numbers, and what
 * esp/ needs to know about each PF_KEY number (key and ICV sizes, names). */
#include "pfkey/pfkey.h"

#include "ike/proposal.h"

/* IKEv2 ENCR IDs for AES-CCM (RFC 4309/5282), absent from ike/proposal.h. */
enum { IKEV2_ENCR_AES_CCM_8 = 14, IKEV2_ENCR_AES_CCM_12 = 15, IKEV2_ENCR_AES_CCM_16 = 16 };
/* IKEv2 INTEG ID for AES-XCBC-96 (RFC 3566). */
enum { IKEV2_INTEG_AES_XCBC_96 = 5 };

static bool aes_bits(uint16_t bits)
{
	return bits == 128 || bits == 192 || bits == 256;
}

int pfkey_ealg_from_ikev2(uint16_t encr_id, uint16_t keylen_bits, uint8_t *ealg)
{
	switch (encr_id) {
	case ENCR_3DES:
		*ealg = SADB_EALG_3DESCBC;
		return keylen_bits == 0 || keylen_bits == 192 ? 0 : -1;
	case ENCR_NULL:
		*ealg = SADB_EALG_NULL;
		return keylen_bits == 0 ? 0 : -1;
	case ENCR_CHACHA20_POLY1305:
		*ealg = SADB_X_EALG_CHACHA20POLY1305;
		return keylen_bits == 0 || keylen_bits == 256 ? 0 : -1;
	case ENCR_AES_CBC: *ealg = SADB_X_EALG_AESCBC; break;
	case ENCR_AES_CTR: *ealg = SADB_X_EALG_AESCTR; break;
	case ENCR_AES_GCM_8: *ealg = SADB_X_EALG_AES_GCM_ICV8; break;
	case ENCR_AES_GCM_12: *ealg = SADB_X_EALG_AES_GCM_ICV12; break;
	case ENCR_AES_GCM_16: *ealg = SADB_X_EALG_AES_GCM_ICV16; break;
	case IKEV2_ENCR_AES_CCM_8: *ealg = SADB_X_EALG_AES_CCM_ICV8; break;
	case IKEV2_ENCR_AES_CCM_12: *ealg = SADB_X_EALG_AES_CCM_ICV12; break;
	case IKEV2_ENCR_AES_CCM_16: *ealg = SADB_X_EALG_AES_CCM_ICV16; break;
	default:
		return -1;
	}
	/* AES ciphers: the Key Length attribute is mandatory (RFC 7296 3.3.5). */
	return aes_bits(keylen_bits) ? 0 : -1;
}

int pfkey_aalg_from_ikev2(uint16_t integ_id, uint8_t *aalg)
{
	switch (integ_id) {
	case INTEG_NONE: *aalg = SADB_AALG_NONE; return 0;
	case INTEG_HMAC_MD5_96: *aalg = SADB_AALG_MD5HMAC; return 0;
	case INTEG_HMAC_SHA1_96: *aalg = SADB_AALG_SHA1HMAC; return 0;
	case IKEV2_INTEG_AES_XCBC_96: *aalg = SADB_X_AALG_AES_XCBC_MAC; return 0;
	case INTEG_HMAC_SHA2_256_128: *aalg = SADB_X_AALG_SHA2_256HMAC; return 0;
	case INTEG_HMAC_SHA2_384_192: *aalg = SADB_X_AALG_SHA2_384HMAC; return 0;
	case INTEG_HMAC_SHA2_512_256: *aalg = SADB_X_AALG_SHA2_512HMAC; return 0;
	default: return -1;
	}
}

size_t pfkey_ealg_keylen(uint8_t ealg, uint16_t keylen_bits)
{
	switch (ealg) {
	case SADB_EALG_NULL: return 0;
	case SADB_EALG_3DESCBC: return 24;
	case SADB_X_EALG_CHACHA20POLY1305: return 32 + 4;	/* RFC 7634: 4-byte salt */
	case SADB_X_EALG_AESCBC: return aes_bits(keylen_bits) ? keylen_bits / 8 : 0;
	case SADB_X_EALG_AESCTR:	/* RFC 3686: 4-byte nonce */
	case SADB_X_EALG_AES_GCM_ICV8:	/* RFC 4106: 4-byte salt */
	case SADB_X_EALG_AES_GCM_ICV12:
	case SADB_X_EALG_AES_GCM_ICV16:
	case SADB_X_EALG_NULL_AES_GMAC:	/* RFC 4543 */
		return aes_bits(keylen_bits) ? keylen_bits / 8 + 4 : 0;
	case SADB_X_EALG_AES_CCM_ICV8:	/* RFC 4309: 3-byte salt */
	case SADB_X_EALG_AES_CCM_ICV12:
	case SADB_X_EALG_AES_CCM_ICV16:
		return aes_bits(keylen_bits) ? keylen_bits / 8 + 3 : 0;
	default: return 0;
	}
}

size_t pfkey_aalg_keylen(uint8_t aalg)
{
	switch (aalg) {
	case SADB_AALG_MD5HMAC: return 16;
	case SADB_AALG_SHA1HMAC: return 20;
	case SADB_X_AALG_AES_XCBC_MAC: return 16;
	case SADB_X_AALG_SHA2_256HMAC: return 32;
	case SADB_X_AALG_SHA2_384HMAC: return 48;
	case SADB_X_AALG_SHA2_512HMAC: return 64;
	default: return 0;
	}
}

size_t pfkey_ealg_icvlen(uint8_t ealg)
{
	switch (ealg) {
	case SADB_X_EALG_AES_GCM_ICV8:
	case SADB_X_EALG_AES_CCM_ICV8: return 8;
	case SADB_X_EALG_AES_GCM_ICV12:
	case SADB_X_EALG_AES_CCM_ICV12: return 12;
	case SADB_X_EALG_AES_GCM_ICV16:
	case SADB_X_EALG_AES_CCM_ICV16:
	case SADB_X_EALG_NULL_AES_GMAC:
	case SADB_X_EALG_CHACHA20POLY1305: return 16;
	default: return 0;
	}
}

size_t pfkey_aalg_icvlen(uint8_t aalg)
{
	switch (aalg) {
	case SADB_AALG_MD5HMAC:
	case SADB_AALG_SHA1HMAC:
	case SADB_X_AALG_AES_XCBC_MAC: return 12;
	case SADB_X_AALG_SHA2_256HMAC: return 16;
	case SADB_X_AALG_SHA2_384HMAC: return 24;
	case SADB_X_AALG_SHA2_512HMAC: return 32;
	default: return 0;
	}
}

bool pfkey_ealg_is_aead(uint8_t ealg)
{
	return pfkey_ealg_icvlen(ealg) != 0;
}

const char *pfkey_ealg_name(uint8_t ealg)
{
	switch (ealg) {
	case SADB_EALG_NONE: return "none";
	case SADB_EALG_DESCBC: return "des-cbc";
	case SADB_EALG_3DESCBC: return "3des-cbc";
	case SADB_EALG_NULL: return "null";
	case SADB_X_EALG_AESCBC: return "aes-cbc";
	case SADB_X_EALG_AESCTR: return "aes-ctr";
	case SADB_X_EALG_AES_CCM_ICV8: return "aes-ccm-8";
	case SADB_X_EALG_AES_CCM_ICV12: return "aes-ccm-12";
	case SADB_X_EALG_AES_CCM_ICV16: return "aes-ccm-16";
	case SADB_X_EALG_AES_GCM_ICV8: return "aes-gcm-8";
	case SADB_X_EALG_AES_GCM_ICV12: return "aes-gcm-12";
	case SADB_X_EALG_AES_GCM_ICV16: return "aes-gcm-16";
	case SADB_X_EALG_NULL_AES_GMAC: return "null-aes-gmac";
	case SADB_X_EALG_CAMELLIACBC: return "camellia-cbc";
	case SADB_X_EALG_CHACHA20POLY1305: return "chacha20-poly1305";
	default: return "unknown";
	}
}

const char *pfkey_aalg_name(uint8_t aalg)
{
	switch (aalg) {
	case SADB_AALG_NONE: return "none";
	case SADB_AALG_MD5HMAC: return "hmac-md5";
	case SADB_AALG_SHA1HMAC: return "hmac-sha1";
	case SADB_X_AALG_SHA2_256HMAC: return "hmac-sha256";
	case SADB_X_AALG_SHA2_384HMAC: return "hmac-sha384";
	case SADB_X_AALG_SHA2_512HMAC: return "hmac-sha512";
	case SADB_X_AALG_AES_XCBC_MAC: return "aes-xcbc-mac";
	case SADB_X_AALG_NULL: return "null";
	default: return "unknown";
	}
}
