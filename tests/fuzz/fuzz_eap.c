/* Fuzzes EAP (ike/eap*.c): the packet and EAP-MSCHAPv2 codecs, and a conversation with
 * the authenticator or the peer fed the fuzzer's packets.
 *
 * Input: a mode byte, then chunks of [length][flags][bytes]. Mode bits 0-1: 0 an
 * authenticator of EAP-MSCHAPv2, 1 of EAP-MD5, 2 of either, 3 a peer; bit 2: the
 * authenticator knows the identity (no EAP-Identity). Each chunk is one EAP packet;
 * flag bit 0 copies the Identifier of the other end's last packet into it, bit 1 the
 * MS-CHAPv2-ID, so that the fuzzer reaches past the sequence checks. Every packet is
 * also parsed alone, and every pointer of the views must lie inside it. The
 * conversation must never crash, and a drop must leave the authenticator's request
 * to resend. Seeds: tests/fuzz/gen_eap_seeds.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/eap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_eap: %s:%d: check failed: %s\n", __FILE__,      \
				__LINE__, #cond);                                               \
			abort();                                                        \
		}                                                                       \
	} while (0)

static void check_inside(const uint8_t *base, size_t len, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	CHECK(p >= base && n <= (size_t)(base + len - p));
}

static void parse_alone(const uint8_t *p, size_t len)
{
	struct eap_pkt e;
	struct mschapv2_pkt m;
	const char *err = NULL;
	char d[64];
	eap_describe(p, len, d, sizeof(d));
	if (eap_parse(p, len, &e, &err) < 0) {
		CHECK(err != NULL);
		return;
	}
	check_inside(p, len, e.data, e.len);
	if (e.type == EAP_MSCHAPV2 && mschapv2_parse(&e, &m, &err) == 0) {
		check_inside(p, len, m.value, m.value_len);
		check_inside(p, len, m.text, m.text_len);
	}
}

static struct secret_cfg *secret(void)
{
	static char *ids[] = { "alice" };
	static uint8_t pw[] = "secret-pw";
	static struct secret_cfg s = { .name = "eap-alice", .type = SECRET_EAP, .ids = ids,
				       .n_ids = 1, .secret = pw, .secret_len = 9 };
	return &s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	bool peer_mode = (mode & 3) == 3;
	static const uint8_t methods[] = { EAP_MSCHAPV2, EAP_MD5, 0 };
	struct eap_server *s = NULL;
	struct eap_peer *p = NULL;
	struct buf last, out;
	char why[256];
	buf_init(&last);
	buf_init(&out);
	if (peer_mode) {
		p = eap_peer_new(0, (const uint8_t *)"alice", 5, (const uint8_t *)"secret-pw", 9);
	} else {
		s = eap_server_new(methods[mode & 3], mode & 4 ? (const uint8_t *)"alice" : NULL, 5);
		if (s)
			eap_server_start(s, &last);
	}
	if (!s && !p)
		return 0;
	size_t off = 1;
	bool over = false;
	while (off + 2 <= size && !over) {
		size_t len = data[off];
		uint8_t flags = data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		uint8_t pkt[256];
		memcpy(pkt, data + off, len);
		off += len;
		if ((flags & 1) && len > 1 && last.len > 1)
			pkt[1] = last.data[1];
		if ((flags & 2) && len > 6 && last.len > 6)
			pkt[6] = last.data[6];
		parse_alone(pkt, len);
		buf_reset(&out);
		enum eap_status st = peer_mode ?
			eap_peer_process(p, pkt, len, &out, why, sizeof(why)) :
			eap_server_process(s, pkt, len, secret(), &out, why, sizeof(why));
		CHECK(strlen(why) < sizeof(why));
		if (!peer_mode)
			CHECK(out.len > 0);	/* a next request, a resend, Success or Failure */
		if (out.len)
			parse_alone(out.data, out.len);
		if (st == EAP_SUCCEEDED || st == EAP_FAILED)
			over = true;
		if (st != EAP_DROPPED && out.len) {
			buf_reset(&last);
			buf_put(&last, out.data, out.len);
		}
	}
	size_t n;
	if (s) {
		eap_server_msk(s, &n);
		eap_server_identity(s, &n);
	}
	if (p)
		eap_peer_msk(p, &n);
	eap_server_free(s);
	eap_peer_free(p);
	buf_free(&last);
	buf_free(&out);
	return 0;
}
