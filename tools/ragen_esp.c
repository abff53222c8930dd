/* ragen's ESP: see ragen_esp.h. */
#include "tools/ragen_esp.h"

#include <netinet/in.h>
#include <string.h>

#include "esp/pmtu.h"
#include "lib/buf.h"

#define ECHO_DATA 16

int ragen_esp_keep(struct ragen_esp *e, const struct pfkey_sa *p, const struct addr *local)
{
	enum esp_cipher c;
	enum esp_integ i;
	char err[128];
	if (!esp_cipher_from_sadb(p->ealg, &c) || !esp_integ_from_sadb(p->aalg, &i))
		return -1;
	struct esp_crypto *ec = esp_crypto_new(c, p->ekey, p->ekey_len, i,
					       p->akey_len ? p->akey : NULL, p->akey_len, err,
					       sizeof(err));
	if (!ec)
		return -1;
	if (addr_equal_ip(&p->dst, local)) {
		esp_crypto_free(e->c_in);
		e->c_in = ec;
		memset(&e->in, 0, sizeof(e->in));
		e->in.spi = p->spi;
		e->in.tunnel = true;
		e->in.c = ec;
		replay_init(&e->in.rw, 32, p->esn);
	} else {
		esp_crypto_free(e->c_out);
		e->c_out = ec;
		e->out = (struct esp_out_sa){ .spi = p->spi, .esn = p->esn, .c = ec };
	}
	return 0;
}

bool ragen_esp_ready(const struct ragen_esp *e)
{
	return e->c_in && e->c_out;
}

/* IPv4 header and ICMP echo request, checksums filled in. */
static size_t build_echo(uint8_t *p, const struct addr *src, const struct addr *dst,
			 uint16_t id, uint16_t seq)
{
	size_t len = 20 + 8 + ECHO_DATA;
	memset(p, 0, len);
	p[0] = 0x45;
	put_u16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = IPPROTO_ICMP;
	memcpy(p + 12, &src->u.v4, 4);
	memcpy(p + 16, &dst->u.v4, 4);
	put_u16(p + 10, pmtu_csum(p, 20, 0));
	uint8_t *icmp = p + 20;
	icmp[0] = 8;
	put_u16(icmp + 4, id);
	put_u16(icmp + 6, seq);
	memcpy(icmp + 8, "ragen-echo-data!", ECHO_DATA);
	put_u16(icmp + 2, pmtu_csum(icmp, 8 + ECHO_DATA, 0));
	return len;
}

ssize_t ragen_esp_echo(struct ragen_esp *e, const struct addr *src, const struct addr *dst,
		       uint16_t id, uint16_t seq, uint8_t *out, size_t cap)
{
	uint8_t inner[64];
	if (!e->c_out || src->family != AF_INET || dst->family != AF_INET)
		return -1;
	size_t len = build_echo(inner, src, dst, id, seq);
	return esp_encap(&e->out, inner, len, ESP_NH_IPV4, out, cap);
}

bool ragen_esp_is_reply(struct ragen_esp *e, uint8_t *pkt, size_t len, uint16_t id)
{
	uint8_t *inner, nh;
	size_t ilen;
	if (!e->c_in || len < 8 || get_u32(pkt) != e->in.spi)
		return false;
	if (esp_decap(&e->in, pkt, len, &inner, &ilen, &nh) != ESP_OK || nh != ESP_NH_IPV4)
		return false;
	size_t ihl = ilen ? (size_t)(inner[0] & 0x0f) * 4 : 0;
	if (ilen < 20 || ihl < 20 || ilen < ihl + 8 || inner[9] != IPPROTO_ICMP)
		return false;
	const uint8_t *icmp = inner + ihl;
	return icmp[0] == 0 && get_u16(icmp + 4) == id;
}

void ragen_esp_free(struct ragen_esp *e)
{
	esp_crypto_free(e->c_in);
	esp_crypto_free(e->c_out);
	memset(e, 0, sizeof(*e));
}
