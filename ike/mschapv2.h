/* MS-CHAPv2 (RFC 2759) computations and the MPPE master key (RFC 3079), as EAP-MSCHAPv2
 * uses them. Pure functions over bytes: the EAP method (ike/eap_mschapv2.c) drives
 * them. The caller wipes what it passes in; these functions wipe their own temporaries. */
#ifndef TSUNAGI_MSCHAPV2_H
#define TSUNAGI_MSCHAPV2_H
#include <stddef.h>
#include <stdint.h>

#define MSCHAPV2_CHAL_LEN 16
#define MSCHAPV2_NT_RESP_LEN 24
#define MSCHAPV2_AUTH_RESP_LEN 42	/* "S=" and 40 hex digits */
#define MSCHAPV2_MSK_LEN 64
#define MSCHAPV2_MAX_PASSWORD 256	/* Unicode characters (RFC 2759 8.2) */

/* MD4 (RFC 1320): only for the NT password hash. */
void md4(const uint8_t *p, size_t len, uint8_t out[16]);
/* One DES block with a 56-bit key (7 bytes, RFC 2759 8.6). 0 or -1. */
int des_encrypt_block(const uint8_t key7[7], const uint8_t in[8], uint8_t out[8]);

/* NtPasswordHash: MD4 of the UTF-16LE password; the password is UTF-8. -1 when it is
 * not valid UTF-8 or longer than 256 characters. */
int mschapv2_nt_hash(const uint8_t *pw, size_t pw_len, uint8_t out[16]);
/* ChallengeHash (8.2); user is the name without a "DOMAIN\" prefix. */
void mschapv2_challenge_hash(const uint8_t peer_chal[16], const uint8_t auth_chal[16],
			     const uint8_t *user, size_t user_len, uint8_t out[8]);
/* GenerateNTResponse (8.1) from the password hash. 0 or -1. */
int mschapv2_nt_response(const uint8_t auth_chal[16], const uint8_t peer_chal[16],
			 const uint8_t *user, size_t user_len, const uint8_t pw_hash[16],
			 uint8_t out[24]);
/* GenerateAuthenticatorResponse (8.7): "S=" and 40 upper-case hex digits, NUL-ended. */
void mschapv2_auth_response(const uint8_t pw_hash[16], const uint8_t nt_resp[24],
			    const uint8_t peer_chal[16], const uint8_t auth_chal[16],
			    const uint8_t *user, size_t user_len, char out[MSCHAPV2_AUTH_RESP_LEN + 1]);
/* The MSK as strongSwan's eap-mschapv2 builds it: MasterReceiveKey | MasterSendKey
 * (RFC 3079 3.3, 3.4, 128-bit keys, both sides use the server's labels) | 32 zeros. */
void mschapv2_msk(const uint8_t pw_hash[16], const uint8_t nt_resp[24],
		  uint8_t out[MSCHAPV2_MSK_LEN]);
/* RFC 3079 GetMasterKey (3.4), exposed for the test vectors. */
void mschapv2_master_key(const uint8_t pw_hash_hash[16], const uint8_t nt_resp[24],
			 uint8_t out[16]);
/* "DOMAIN\user" -> "user" (RFC 2759 8.2 hashes the name without the domain). */
void mschapv2_strip_domain(const uint8_t **user, size_t *user_len);
#endif
