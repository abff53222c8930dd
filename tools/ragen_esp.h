/* ragen's ESP: a sampled client keeps the two SAs its IKE core installed (from the
 * PF_KEY sink) and sends an ICMP echo from its virtual IP through them, with tsunagi's
 * own ESP transform (esp/esp_transform.c), in UDP to the gateway's NAT-T port; the
 * reply comes back the same way. */
#ifndef TSUNAGI_TOOLS_RAGEN_ESP_H
#define TSUNAGI_TOOLS_RAGEN_ESP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/esp_transform.h"
#include "lib/addr.h"
#include "pfkey/pfkey.h"

struct ragen_esp {
	struct esp_crypto *c_in, *c_out;
	struct esp_in_sa in;
	struct esp_out_sa out;
};

/* Keeps an SA the core installed: inbound when it leads to `local`. 0 or -1. */
int ragen_esp_keep(struct ragen_esp *e, const struct pfkey_sa *p, const struct addr *local);
bool ragen_esp_ready(const struct ragen_esp *e);
/* An ICMP echo request from src to dst (id, seq) as ESP, into out; its length or -1. */
ssize_t ragen_esp_echo(struct ragen_esp *e, const struct addr *src, const struct addr *dst,
		       uint16_t id, uint16_t seq, uint8_t *out, size_t cap);
/* Is pkt (ESP from the SPI on) our SA's, carrying the echo reply with this id? */
bool ragen_esp_is_reply(struct ragen_esp *e, uint8_t *pkt, size_t len, uint16_t id);
void ragen_esp_free(struct ragen_esp *e);
#endif
