/* Micro-benchmark of the ESP transform: encapsulation plus decapsulation of 1400-byte
 * packets for each cipher, single thread, printed as MB/s of payload. Not a test.
 * Usage: esp_bench [seconds per cipher, default 1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "esp/esp_crypto.h"
#include "esp/esp_transform.h"

#define PAYLOAD 1400

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench(const char *name, enum esp_cipher c, size_t ekl, enum esp_integ i,
		  size_t akl, double seconds)
{
	uint8_t key[64], payload[PAYLOAD], pkt[PAYLOAD + 128], *inner, nh;
	struct esp_out_sa out = { .spi = 0x1000 };
	struct esp_in_sa in = { .spi = 0x1000, .tunnel = true };
	double t0, t;
	size_t inner_len;
	uint64_t n = 0;
	char err[128];

	memset(key, 0x42, sizeof(key));
	memset(payload, 0xab, sizeof(payload));
	payload[0] = 0x45;
	out.c = esp_crypto_new(c, key, ekl, i, key, akl, err, sizeof(err));
	in.c = esp_crypto_new(c, key, ekl, i, key, akl, err, sizeof(err));
	if (!out.c || !in.c) {
		printf("%-34s %s\n", name, err);
		return;
	}
	replay_init(&in.rw, 1024, false);
	t0 = now();
	do {
		for (int k = 0; k < 256; k++, n++) {
			ssize_t len = esp_encap(&out, payload, PAYLOAD, ESP_NH_IPV4, pkt, sizeof(pkt));
			if (len < 0 || esp_decap(&in, pkt, (size_t)len, &inner, &inner_len, &nh)
			    != ESP_OK) {
				printf("%-34s failed\n", name);
				return;
			}
		}
		t = now() - t0;
	} while (t < seconds);
	printf("%-34s %8.1f MB/s  (%.0f packets/s, encap+decap)\n", name,
	       (double)n * PAYLOAD / t / 1e6, (double)n / t);
	esp_crypto_free(out.c);
	esp_crypto_free(in.c);
}

int main(int argc, char **argv)
{
	double s = argc > 1 ? atof(argv[1]) : 1.0;

	bench("AES-128-GCM-16", ESP_ENCR_AES_GCM_16, 20, ESP_INTEG_NONE, 0, s);
	bench("AES-256-GCM-16", ESP_ENCR_AES_GCM_16, 36, ESP_INTEG_NONE, 0, s);
	bench("CHACHA20-POLY1305", ESP_ENCR_CHACHA20_POLY1305, 36, ESP_INTEG_NONE, 0, s);
	bench("AES-128-CBC + HMAC-SHA1-96", ESP_ENCR_AES_CBC, 16, ESP_INTEG_HMAC_SHA1_96, 20, s);
	bench("AES-128-CBC + HMAC-SHA2-256-128", ESP_ENCR_AES_CBC, 16,
	      ESP_INTEG_HMAC_SHA2_256_128, 32, s);
	bench("AES-256-CBC + HMAC-SHA2-512-256", ESP_ENCR_AES_CBC, 32,
	      ESP_INTEG_HMAC_SHA2_512_256, 64, s);
	bench("3DES-CBC + HMAC-SHA1-96", ESP_ENCR_3DES_CBC, 24, ESP_INTEG_HMAC_SHA1_96, 20, s);
	return 0;
}
