/* ESP encapsulation and decapsulation (RFC 4303), with AES-GCM (RFC 4106),
 * ChaCha20-Poly1305 (RFC 7634) and CBC ciphers with HMAC (RFC 3602, 4868).
 * Decapsulation order follows RFC 4303 section 3.4: replay check, ICV, window update,
 * decryption, then padding and next header, so nothing unauthenticated is decrypted
 * or interpreted. */
#include "esp/esp_transform.h"

#include <limits.h>
#include <string.h>

#include "lib/buf.h"

const char *esp_result_name(enum esp_result r)
{
	switch (r) {
	case ESP_OK: return "ok";
	case ESP_DUMMY: return "dummy packet";
	case ESP_ERR_SHORT: return "bad length";
	case ESP_ERR_REPLAY: return "replayed";
	case ESP_ERR_INTEGRITY: return "integrity check failed";
	case ESP_ERR_PADDING: return "bad padding";
	case ESP_ERR_PROTO: return "bad SPI or next header";
	case ESP_ERR_INTERNAL: return "crypto failure";
	}
	return "?";
}

/* Ciphertext length: payload + trailer rounded up to the cipher's alignment. */
static size_t padded_len(const struct esp_crypto *c, size_t len)
{
	size_t block = esp_crypto_block(c);

	return (len + ESP_TRAILER_LEN + block - 1) / block * block;
}

size_t esp_encap_len(const struct esp_crypto *c, size_t len)
{
	return ESP_HDR_LEN + esp_crypto_iv_len(c) + padded_len(c, len) + esp_crypto_icv_len(c);
}

bool esp_out_sa_exhausted(const struct esp_out_sa *sa)
{
	return sa->esn ? sa->seq == UINT64_MAX : sa->seq >= UINT32_MAX;
}

/* AEAD additional data: SPI|seq-lo, or SPI|seq-hi|seq-lo with ESN (RFC 4106 section 5,
 * RFC 7634 section 2.1). Returns its length. */
static size_t build_aad(uint8_t aad[12], uint32_t spi, uint64_t seq, bool esn)
{
	put_u32(aad, spi);
	if (!esn) {
		put_u32(aad + 4, (uint32_t)seq);
		return 8;
	}
	put_u32(aad + 4, (uint32_t)(seq >> 32));
	put_u32(aad + 8, (uint32_t)seq);
	return 12;
}

/* Protects header|IV|ciphertext in place and writes the ICV after it. */
static int protect(struct esp_crypto *c, uint8_t *pkt, size_t ct_len, uint32_t spi,
		   uint64_t seq, bool esn)
{
	size_t iv_len = esp_crypto_iv_len(c);
	uint8_t *iv = pkt + ESP_HDR_LEN, *ct = iv + iv_len, *icv = ct + ct_len;
	uint8_t aad[12], seq_hi[4];

	if (esp_crypto_is_aead(c))
		return esp_crypto_aead_seal(c, iv, aad, build_aad(aad, spi, seq, esn),
					    ct, ct_len, icv);
	/* RFC 4303 section 2.2.1: with ESN the high half is authenticated, not sent. */
	put_u32(seq_hi, (uint32_t)(seq >> 32));
	if (esp_crypto_cbc_encrypt(c, iv, ct, ct_len) != 0)
		return -1;
	return esp_crypto_mac(c, pkt, ESP_HDR_LEN + iv_len + ct_len, seq_hi, esn ? 4 : 0, icv);
}

ssize_t esp_encap(struct esp_out_sa *sa, const uint8_t *in, size_t len, uint8_t next_header,
		  uint8_t *out, size_t cap)
{
	struct esp_crypto *c = sa->c;
	size_t iv_len = esp_crypto_iv_len(c), ct_len, pad_len, total;
	uint8_t *ct;
	uint64_t seq;

	if (esp_out_sa_exhausted(sa) || len > SIZE_MAX / 2)
		return -1;
	ct_len = padded_len(c, len);
	total = esp_encap_len(c, len);
	if (total > cap || total > SSIZE_MAX)
		return -1;
	seq = sa->seq + 1;

	/* Move the payload first: in may overlap out. The data path encapsulates in
	 * place (in == ct), where the move would only cost a pass over the packet. */
	ct = out + ESP_HDR_LEN + iv_len;
	if (ct != in)
		memmove(ct, in, len);
	pad_len = ct_len - len - ESP_TRAILER_LEN;
	for (size_t i = 0; i < pad_len; i++)	/* RFC 4303 2.4: 1, 2, 3, ... */
		ct[len + i] = (uint8_t)(i + 1);
	ct[ct_len - 2] = (uint8_t)pad_len;
	ct[ct_len - 1] = next_header;

	put_u32(out, sa->spi);
	put_u32(out + 4, (uint32_t)seq);
	if (esp_crypto_make_iv(c, seq, out + ESP_HDR_LEN) != 0 ||
	    protect(c, out, ct_len, sa->spi, seq, sa->esn) != 0)
		return -1;
	sa->seq = seq;
	return (ssize_t)total;
}

/* Verifies the ICV of an ESP packet whose full sequence number is seq. */
static int verify(struct esp_crypto *c, uint8_t *pkt, size_t ct_len, uint32_t spi,
		  uint64_t seq, bool esn)
{
	size_t iv_len = esp_crypto_iv_len(c);
	uint8_t *iv = pkt + ESP_HDR_LEN, *ct = iv + iv_len, *icv = ct + ct_len;
	uint8_t aad[12], seq_hi[4];

	if (esp_crypto_is_aead(c))	/* decrypts too, after the tag matched */
		return esp_crypto_aead_open(c, iv, aad, build_aad(aad, spi, seq, esn),
					    ct, ct_len, icv);
	put_u32(seq_hi, (uint32_t)(seq >> 32));
	return esp_crypto_mac_verify(c, pkt, ESP_HDR_LEN + iv_len + ct_len, seq_hi,
				     esn ? 4 : 0, icv);
}

/* The default padding must be 1, 2, 3, ... (RFC 4303 section 2.4). */
static bool padding_ok(const uint8_t *ct, size_t ct_len, size_t *payload_len)
{
	size_t pad_len = ct[ct_len - 2];

	if (pad_len + ESP_TRAILER_LEN > ct_len)
		return false;
	*payload_len = ct_len - ESP_TRAILER_LEN - pad_len;
	for (size_t i = 0; i < pad_len; i++)
		if (ct[*payload_len + i] != (uint8_t)(i + 1))
			return false;
	return true;
}

/* Tunnel mode carries a whole IP packet whose version matches the next header. */
static bool tunnel_payload_ok(const uint8_t *p, size_t len, uint8_t nh)
{
	if (len == 0)
		return false;
	return (nh == ESP_NH_IPV4 && p[0] >> 4 == 4) || (nh == ESP_NH_IPV6 && p[0] >> 4 == 6);
}

enum esp_result esp_decap(struct esp_in_sa *sa, uint8_t *pkt, size_t len, uint8_t **inner,
			  size_t *inner_len, uint8_t *next_header)
{
	struct esp_crypto *c = sa->c;
	size_t iv_len = esp_crypto_iv_len(c), icv_len = esp_crypto_icv_len(c);
	size_t block = esp_crypto_block(c), overhead = ESP_HDR_LEN + iv_len + icv_len;
	size_t ct_len, payload_len;
	uint8_t *ct;
	uint64_t seq;
	uint8_t nh;

	*inner = NULL;
	*inner_len = 0;
	*next_header = 0;
	if (len < overhead + ESP_TRAILER_LEN)
		return ESP_ERR_SHORT;
	ct_len = len - overhead;
	/* CBC needs whole blocks; AEAD ciphertext need not be aligned to be decrypted. */
	if (!esp_crypto_is_aead(c) && ct_len % block != 0)
		return ESP_ERR_SHORT;
	if (get_u32(pkt) != sa->spi)
		return ESP_ERR_PROTO;

	if (replay_check(&sa->rw, get_u32(pkt + 4), &seq) != REPLAY_OK) {
		sa->last_seq = seq;
		return ESP_ERR_REPLAY;
	}
	sa->last_seq = seq;
	if (verify(c, pkt, ct_len, sa->spi, seq, sa->rw.esn) != 0)
		return ESP_ERR_INTEGRITY;
	replay_update(&sa->rw, seq);

	ct = pkt + ESP_HDR_LEN + iv_len;
	if (!esp_crypto_is_aead(c) && esp_crypto_cbc_decrypt(c, pkt + ESP_HDR_LEN, ct, ct_len))
		return ESP_ERR_INTERNAL;
	if (!padding_ok(ct, ct_len, &payload_len))
		return ESP_ERR_PADDING;
	nh = ct[ct_len - 1];
	if (nh == ESP_NH_DUMMY)
		return ESP_DUMMY;
	if (sa->tunnel && !tunnel_payload_ok(ct, payload_len, nh))
		return ESP_ERR_PROTO;
	*inner = ct;
	*inner_len = payload_len;
	*next_header = nh;
	return ESP_OK;
}
