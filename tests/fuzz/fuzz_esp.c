/* Fuzzes esp_decap with fixed keys. The first input byte picks the SA (cipher, ESN,
 * mode) and what to do:
 *   bit 7 clear: the rest is an ESP packet from the SPI on, fed to esp_decap;
 *   bit 7 set:   the rest is a payload (its first byte the next header), which is
 *                encapsulated and decapsulated again; the round trip must be exact.
 * Decap must never read outside the packet, and a packet that passed must describe a
 * payload inside it. Bit 6 with SA 0 picks AES-256-GCM instead of AES-128-GCM: its
 * packets up to ESP_SODIUM_MAX_LEN go through libsodium, longer ones through OpenSSL. Built with -DFUZZ_ESP_GENERATE, this file instead writes the seed
 * corpus (valid packets under the same keys, plus junk) into the directory named. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp/esp_crypto.h"
#include "esp/esp_transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SPI 0x0badcafe
#define NSA 5

static const struct {
	enum esp_cipher cipher;
	size_t ekey_len;
	enum esp_integ integ;
	size_t akey_len;
} sa_defs[NSA] = {
	{ ESP_ENCR_AES_GCM_16, 20, ESP_INTEG_NONE, 0 },
	{ ESP_ENCR_CHACHA20_POLY1305, 36, ESP_INTEG_NONE, 0 },
	{ ESP_ENCR_AES_CBC, 16, ESP_INTEG_HMAC_SHA2_256_128, 32 },
	{ ESP_ENCR_3DES_CBC, 24, ESP_INTEG_HMAC_SHA1_96, 20 },
	{ ESP_ENCR_AES_GCM_16, 36, ESP_INTEG_NONE, 0 },
};

static struct esp_crypto *out_c[NSA], *in_c[NSA];

static void setup(void)
{
	uint8_t key[64];
	char err[128];

	if (out_c[0])
		return;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x40 + i);
	for (int i = 0; i < NSA; i++) {
		out_c[i] = esp_crypto_new(sa_defs[i].cipher, key, sa_defs[i].ekey_len,
					  sa_defs[i].integ, key, sa_defs[i].akey_len, err,
					  sizeof(err));
		in_c[i] = esp_crypto_new(sa_defs[i].cipher, key, sa_defs[i].ekey_len,
					 sa_defs[i].integ, key, sa_defs[i].akey_len, err,
					 sizeof(err));
		if (!out_c[i] || !in_c[i]) {
			fprintf(stderr, "fuzz_esp: %s\n", err);
			abort();
		}
	}
}

static void sa_init(uint8_t sel, struct esp_out_sa *out, struct esp_in_sa *in)
{
	int idx = (sel & 0x43) == 0x40 ? 4 : sel & 3;
	bool esn = sel & 4, tunnel = sel & 8;

	memset(out, 0, sizeof(*out));
	memset(in, 0, sizeof(*in));
	out->spi = in->spi = FUZZ_SPI;
	out->esn = esn;
	out->c = out_c[idx];
	in->c = in_c[idx];
	in->tunnel = tunnel;
	replay_init(&in->rw, (sel & 0x10) ? 0 : 64, esn);
	if (sel & 0x20) {	/* start near the 32-bit wrap */
		out->seq = UINT32_MAX - 2;
		replay_update(&in->rw, UINT32_MAX - 3);
	}
}

static void check_inner(const uint8_t *pkt, size_t len, const uint8_t *inner, size_t inner_len)
{
	if (inner < pkt || inner_len > len || inner > pkt + len - inner_len)
		abort();
}

static void fuzz_decap(uint8_t sel, const uint8_t *data, size_t size)
{
	struct esp_out_sa out;
	struct esp_in_sa in;
	uint8_t *pkt = malloc(size ? size : 1), *inner, nh;
	size_t inner_len;

	if (!pkt)
		return;
	memcpy(pkt, data, size);
	sa_init(sel, &out, &in);
	if (esp_decap(&in, pkt, size, &inner, &inner_len, &nh) == ESP_OK)
		check_inner(pkt, size, inner, inner_len);
	free(pkt);
	replay_free(&in.rw);
}

static void fuzz_round_trip(uint8_t sel, const uint8_t *data, size_t size)
{
	struct esp_out_sa out;
	struct esp_in_sa in;
	uint8_t nh, got_nh, *inner, *pkt;
	size_t cap, inner_len;
	ssize_t n;
	enum esp_result r;

	if (size < 1 || size > 4096)
		return;
	nh = data[0];
	data++;
	size--;
	sa_init(sel, &out, &in);
	cap = esp_encap_len(out.c, size);
	pkt = malloc(cap);
	if (!pkt) {
		replay_free(&in.rw);
		return;
	}
	n = esp_encap(&out, data, size, nh, pkt, cap);
	if (n != (ssize_t)cap)
		abort();
	r = esp_decap(&in, pkt, (size_t)n, &inner, &inner_len, &got_nh);
	if (nh == ESP_NH_DUMMY) {
		if (r != ESP_DUMMY)
			abort();
	} else if (in.tunnel && !((nh == 4 && size && data[0] >> 4 == 4) ||
				  (nh == 41 && size && data[0] >> 4 == 6))) {
		if (r != ESP_ERR_PROTO)
			abort();
	} else {
		if (r != ESP_OK || got_nh != nh || inner_len != size)
			abort();
		check_inner(pkt, (size_t)n, inner, inner_len);
		if (memcmp(inner, data, size) != 0)
			abort();
	}
	free(pkt);
	replay_free(&in.rw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	if (data[0] & 0x80)
		fuzz_round_trip(data[0], data + 1, size - 1);
	else
		fuzz_decap(data[0], data + 1, size - 1);
	return 0;
}

#ifdef FUZZ_ESP_GENERATE
static void write_seed(const char *dir, const char *name, uint8_t sel, const uint8_t *p,
		       size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputc(sel, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	static const uint8_t ipv4[] = { 0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1,
					10, 0, 0, 2, 0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0 };
	uint8_t pkt[1024];
	char name[64];

	if (argc != 2)
		return 2;
	setup();
	for (unsigned sel = 0; sel < 0x80; sel += 1) {
		struct esp_out_sa out;
		struct esp_in_sa in;
		ssize_t n;

		if ((sel & 0x10) || ((sel & 0x20) && !(sel & 4)) || ((sel & 0x40) && (sel & 3)))
			continue;	/* keep the corpus small */
		sa_init((uint8_t)sel, &out, &in);
		n = esp_encap(&out, ipv4, sizeof(ipv4), (sel & 8) ? 4 : 17, pkt, sizeof(pkt));
		if (n < 0)
			return 1;
		snprintf(name, sizeof(name), "valid-%02x", sel);
		write_seed(argv[1], name, (uint8_t)sel, pkt, (size_t)n);
		if (sel < 4 || sel == 0x40) {	/* the same packet truncated, a bit flipped */
			snprintf(name, sizeof(name), "short-%02x", sel);
			write_seed(argv[1], name, (uint8_t)sel, pkt, (size_t)n / 2);
			pkt[n - 1] ^= 1;
			snprintf(name, sizeof(name), "badicv-%02x", sel);
			write_seed(argv[1], name, (uint8_t)sel, pkt, (size_t)n);
		}
	}
	memcpy(pkt, ipv4, sizeof(ipv4));
	write_seed(argv[1], "junk-ipv4", 0, pkt, sizeof(ipv4));
	write_seed(argv[1], "empty", 0, pkt, 0);
	pkt[0] = 4;
	memcpy(pkt + 1, ipv4, sizeof(ipv4));
	write_seed(argv[1], "roundtrip-tunnel", 0x88, pkt, sizeof(ipv4) + 1);
	write_seed(argv[1], "roundtrip-esn-wrap-cbc", 0xa6, pkt, sizeof(ipv4) + 1);
	write_seed(argv[1], "roundtrip-tunnel-aes256", 0xc8, pkt, sizeof(ipv4) + 1);
	memset(pkt + 1 + sizeof(ipv4), 0x5a, 600);	/* past ESP_SODIUM_MAX_LEN: OpenSSL */
	write_seed(argv[1], "roundtrip-aes256-long", 0xc0, pkt, sizeof(ipv4) + 1 + 600);
	pkt[0] = ESP_NH_DUMMY;
	write_seed(argv[1], "roundtrip-dummy", 0x81, pkt, 1);
	pkt[0] = 41;
	write_seed(argv[1], "roundtrip-v6-mismatch", 0x8b, pkt, sizeof(ipv4) + 1);
	return 0;
}
#endif
