/* Fuzzes the IKE core through its input: ike_input, ike_pfkey_input and ike_tick.
 *
 * Two cores run in-process as in the unit tests (tests/unit/ike_harness.c): "a"
 * initiates (192.0.2.1), "b" responds (198.51.100.2), with a mock wire, clock and
 * PF_KEY. The first input byte sets the scene:
 *   bits 0-2 (mod 5), the stage reached before the fuzzed input is fed:
 *     0  nothing: b is a bare responder;
 *     1  a has sent IKE_SA_INIT (not delivered): a waits for a response;
 *     2  IKE_SA_INIT done, a's IKE_AUTH request captured (not delivered): b waits
 *        for IKE_AUTH, a for its response;
 *     3  as 2, and b answered IKE_AUTH (b is established, the answer not delivered);
 *     4  both established (everything delivered);
 *   bits 3-4, the IKE and ESP proposals a uses (b accepts all four): AES-GCM/X25519,
 *     AES-CBC-HMAC-SHA256/ECP-256, ChaCha20-Poly1305/X25519, AES-GCM-128/ECP-256
 *     (with PFS for the CHILD SAs).
 * The rest is a list of records, at most 64: op (1 byte), length (2 bytes, big
 * endian), data. The op's low 4 bits:
 *   0 / 1  data is a datagram to b / to a, as it is;
 *   2 / 3  the same with the IKE SPIs (first 16 bytes) of the receiver's first SA;
 *   4 / 5  to b / to a, encrypted with the receiver's IKE SA keys as its peer would:
 *          data = exchange selector, message ID selector, response flag, first inner
 *          payload type, then the inner payload chain (see build_encrypted);
 *   6 / 7  to b / to a: the real IKE_AUTH request / response (stage 2 / 3) up to and
 *          including its AUTH payload, whose next-payload byte becomes data[0], then
 *          data[1..]: AUTH stays valid, so SA, TS and notifies after it get processed;
 *   8      deliver what is on the wire;  9  drop what is on the wire;
 *   10     advance the clock by (data[0] + 1) * 500 ms, running both cores' timers;
 *   11     a control action on a (data[1] & 1: on b): data[0] % 6 picks initiate,
 *          rekey CHILD, rekey IKE, terminate CHILD, terminate IKE, nothing;
 *   12     data is a PF_KEY message from the ESP engine (ACQUIRE, EXPIRE) to b,
 *          through ike_pfkey_input;
 *   13 / 14  to b / to a, one IKEv2 fragment (RFC 7383 SKF) encrypted as in 4 / 5:
 *          data = exchange selector, message ID selector, response flag, next
 *          payload, fragment number (2 bytes), total fragments (2 bytes), content;
 *   15     the real IKE_AUTH request to b (data[0] even; stage 2) or response to a
 *          (odd; stage 3) cut into 1 + data[1] % 8 fragments, sent in the order
 *          data[2..] gives (each byte modulo the count), so reassembly completes.
 * Bit 4 of the op sends raw datagrams (ops 0-3) to the NAT-T port 4500.
 * Everything is freed at the end; ASan's leak check sees what a core forgot. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "ike/ike_sa.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 64
#define MAX_DGRAM 4096
#define NSTAGES 5

static const char *const ike_suites[4] = {
	"aes256gcm16-prfsha256-x25519",
	"aes128-sha256-ecp256",
	"chacha20poly1305-prfsha256-x25519",
	"aes128gcm16-prfsha384-ecp256",
};
static const char *const esp_suites[4] = {
	"aes256gcm16", "aes128-sha256", "chacha20poly1305", "aes128gcm16-ecp256",
};

static void make_conf(char *out, size_t len, const char *local, const char *remote,
		      const char *lnet, const char *rnet, const char *ike, const char *esp)
{
	snprintf(out, len,
		 "connections {\n"
		 "  site {\n"
		 "    local_addrs = %s\n"
		 "    remote_addrs = %s\n"
		 "    proposals = %s\n"
		 "    local {\n      auth = psk\n      id = %s\n    }\n"
		 "    remote {\n      auth = psk\n      id = %s\n    }\n"
		 "    children {\n"
		 "      net {\n"
		 "        local_ts = %s\n"
		 "        remote_ts = %s\n"
		 "        esp_proposals = %s\n"
		 "      }\n"
		 "    }\n"
		 "  }\n"
		 "}\n"
		 "secrets {\n"
		 "  ike-site {\n    id-a = 192.0.2.1\n    id-b = 198.51.100.2\n"
		 "    secret = fuzz-psk-0123456789\n  }\n"
		 "}\n",
		 local, remote, ike, local, remote, lnet, rnet, esp);
}

/* The state of one run: the harness and what was captured while setting up. */
struct run {
	struct harness h;
	uint8_t auth_req[MAX_DGRAM], auth_resp[MAX_DGRAM];	/* decrypted inner chains */
	size_t auth_req_len, auth_resp_len;
	uint8_t auth_req_first, auth_resp_first;
};

static void quiet_logs(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	/* Format every line up to "control" (catches format bugs) but print nothing;
	 * FUZZ_IKE_LOG=<level> prints them (to see what an input does). */
	const char *level = getenv("FUZZ_IKE_LOG");
	log_set_all_levels(level ? atoi(level) : 2);
	log_use_stderr(level != NULL);
}

static struct ike_sa *first_keyed_sa(struct h_peer *p)
{
	for (struct ike_sa *sa = p->core->sas; sa; sa = sa->next)
		if (sa->have_keys && sa->state != IKE_DESTROYING)
			return sa;
	return NULL;
}

/* Decrypts a captured message with the receiver's keys: its inner chain. */
static void capture_inner(struct h_peer *to, const struct h_wire_msg *w, uint8_t *out,
			  size_t *len, uint8_t *first)
{
	struct ike_sa *sa = first_keyed_sa(to);
	struct ikev2_hdr h;
	struct ikev2_payloads *pl = calloc(1, sizeof(*pl));
	struct buf plain;
	const char *err;
	uint8_t unsupported;

	*len = 0;
	buf_init(&plain);
	if (sa && pl && ikev2_parse_header(w->data, w->len, &h, &err) == 0 &&
	    ikev2_parse_payloads(h.next_payload, w->data + IKEV2_HDR_LEN,
				 w->len - IKEV2_HDR_LEN, IKEV2_HDR_LEN, pl, &unsupported,
				 &err) == 0 &&
	    pl->has_sk &&
	    sk_decrypt(&sa->keys, !sa->initiator, w->data, w->len, pl->sk_off, &plain) == 0 &&
	    plain.len <= MAX_DGRAM) {
		memcpy(out, plain.data, plain.len);
		*len = plain.len;
		*first = pl->sk_first;
	}
	buf_wipe_free(&plain);
	free(pl);
}

/* Delivers the first queued message (as h_pump does for all). */
static void deliver_one(struct harness *h)
{
	if (!h->n_wire)
		return;
	struct h_wire_msg w = h->wire[0];
	memmove(h->wire, h->wire + 1, (h->n_wire - 1) * sizeof(h->wire[0]));
	h->n_wire--;
	ike_input(w.to->core, &w.local, &w.remote, w.data, w.len, h->now);
}

static int setup(struct run *r, unsigned stage, unsigned suite)
{
	static char conf_a[2048], conf_b[2048];
	char err[256], b_ike[256], b_esp[256];
	struct harness *h = &r->h;

	snprintf(b_ike, sizeof(b_ike), "%s, %s, %s, %s", ike_suites[0], ike_suites[1],
		 ike_suites[2], ike_suites[3]);
	/* b's ESP list mixes PFS and no PFS only where a's needs it: the responder takes
	 * the first DH group of its list as required for every rekey */
	if (suite == 3)
		snprintf(b_esp, sizeof(b_esp), "%s", esp_suites[3]);
	else
		snprintf(b_esp, sizeof(b_esp), "%s, %s, %s", esp_suites[0], esp_suites[1],
			 esp_suites[2]);
	make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", "10.1.0.0/24",
		  "10.2.0.0/24", ike_suites[suite], esp_suites[suite]);
	make_conf(conf_b, sizeof(conf_b), "198.51.100.2", "192.0.2.1", "10.2.0.0/24",
		  "10.1.0.0/24", b_ike, b_esp);
	if (h_init(h, conf_a, conf_b) < 0)
		abort();	/* the fixed configuration must load */
	if (stage == 0)
		return 0;
	if (ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)) < 0)
		abort();
	if (stage == 1) {
		h->n_wire = 0;	/* a's IKE_SA_INIT request is lost: a waits */
		return 0;
	}
	if (stage == 4) {
		h_pump(h);
		return 0;
	}
	deliver_one(h);		/* IKE_SA_INIT request to b */
	deliver_one(h);		/* its response to a, which sends IKE_AUTH */
	if (h->n_wire != 1)
		return 0;	/* something refused: carry on with what there is */
	capture_inner(&h->b, &h->wire[0], r->auth_req, &r->auth_req_len, &r->auth_req_first);
	if (stage == 3) {
		deliver_one(h);	/* IKE_AUTH request to b; its response stays queued */
		if (h->n_wire == 1)
			capture_inner(&h->a, &h->wire[0], r->auth_resp, &r->auth_resp_len,
				      &r->auth_resp_first);
	}
	h->n_wire = 0;
	return 0;
}

/* --- record handlers ------------------------------------------------------------- */

static void default_ends(struct run *r, struct h_peer *to, bool natt, struct addr *local,
			 struct addr *remote)
{
	*local = to->addr;
	*remote = to->other->addr;
	local->port = remote->port = natt ? 4500 : 500;
}

static void raw_datagram(struct run *r, struct h_peer *to, bool natt, bool patch_spis,
			 const uint8_t *data, size_t len)
{
	uint8_t msg[MAX_DGRAM];
	struct addr local, remote;
	struct ike_sa *sa = to->core->sas;

	if (len > sizeof(msg))
		return;
	memcpy(msg, data, len);
	if (patch_spis && sa && len >= 16) {
		memcpy(msg, sa->spi_i, 8);
		memcpy(msg + 8, sa->spi_r, 8);
	}
	default_ends(r, to, natt, &local, &remote);
	if (patch_spis && sa) {
		local = sa->local;
		remote = sa->remote;
	}
	ike_input(to->core, &local, &remote, msg, len, r->h.now);
}

/* Encrypts the inner chain as the peer of `to`'s first keyed IKE SA would, and
 * delivers it. xsel: 0-3 IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, IKE_SA_INIT by
 * (xsel & 3) when xsel < 128, else xsel itself; msel 0: the ID the receiver expects,
 * 1: the one before (a retransmit), else msel - 2; response: the R flag. */
static void send_sk(struct run *r, struct h_peer *to, uint8_t xsel, uint8_t msel,
		    bool response, uint8_t first, const uint16_t *frag, const uint8_t *inner,
		    size_t inner_len)
{
	static const uint8_t exchanges[4] = { IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL,
					      IKE_SA_INIT };
	struct ike_sa *sa = first_keyed_sa(to);
	struct buf msg;

	if (!sa || inner_len > MAX_DGRAM)
		return;
	bool sender_initiator = !sa->initiator;
	uint32_t expected = response ? (sa->req.kind != TASK_NONE ? sa->req.msgid : sa->next_msgid)
				     : sa->peer_msgid;
	uint32_t msgid = msel == 0 ? expected : msel == 1 ? expected - 1 : (uint32_t)(msel - 2);
	const struct ike_keys *keys = &sa->keys;
	size_t hdr_len = frag ? 8 : 4;
	size_t sk_len = hdr_len + inner_len + sk_overhead(keys, inner_len);
	struct ikev2_hdr hdr = {
		.next_payload = frag ? PL_SKF : PL_SK,
		.exchange = xsel < 128 ? exchanges[xsel & 3] : xsel,
		.flags = (sender_initiator ? IKEV2_FLAG_INITIATOR : 0) |
			 (response ? IKEV2_FLAG_RESPONSE : 0),
		.msgid = msgid,
		.length = (uint32_t)(IKEV2_HDR_LEN + sk_len),
	};
	memcpy(hdr.spi_i, sa->spi_i, 8);
	memcpy(hdr.spi_r, sa->spi_r, 8);
	struct addr local = sa->local, remote = sa->remote;

	buf_init(&msg);
	ikev2_put_header(&msg, &hdr);
	buf_put_u8(&msg, first);
	buf_put_u8(&msg, 0);
	buf_put_u16(&msg, (uint16_t)sk_len);
	if (frag) {
		buf_put_u16(&msg, frag[0]);
		buf_put_u16(&msg, frag[1]);
	}
	/* sa may go with the input: encrypt first, deliver after */
	int enc = sk_encrypt_hdr(keys, sender_initiator, &msg, hdr_len, inner, inner_len);
	if (enc == 0)
		ike_input(to->core, &local, &remote, msg.data, msg.len, r->h.now);
	buf_free(&msg);
}

static void send_encrypted(struct run *r, struct h_peer *to, uint8_t xsel, uint8_t msel,
			   bool response, uint8_t first, const uint8_t *inner, size_t inner_len)
{
	send_sk(r, to, xsel, msel, response, first, NULL, inner, inner_len);
}

/* The captured IKE_AUTH request or response in fragments, in the order data gives. */
static void auth_fragments(struct run *r, const uint8_t *data, size_t len)
{
	if (len < 2)
		return;
	bool to_b = !(data[0] & 1);
	const uint8_t *real = to_b ? r->auth_req : r->auth_resp;
	size_t real_len = to_b ? r->auth_req_len : r->auth_resp_len;
	uint8_t first = to_b ? r->auth_req_first : r->auth_resp_first;
	uint16_t n = (uint16_t)(1 + data[1] % 8);
	size_t piece = (real_len + n - 1) / n;
	if (real_len == 0 || piece == 0)
		return;
	for (size_t i = 2; i < len && i < 2 + 32; i++) {
		uint16_t k = data[i] % n, frag[2] = { (uint16_t)(k + 1), n };
		size_t off = k * piece;
		if (off >= real_len)
			continue;
		size_t plen = real_len - off < piece ? real_len - off : piece;
		send_sk(r, to_b ? &r->h.b : &r->h.a, 0, 0, !to_b, k == 0 ? first : 0, frag,
			real + off, plen);
	}
}

/* The captured IKE_AUTH chain up to its AUTH payload, then the fuzzer's payloads. */
static void auth_prefix(struct run *r, struct h_peer *to, const uint8_t *data, size_t len)
{
	bool to_b = to == &r->h.b;
	const uint8_t *real = to_b ? r->auth_req : r->auth_resp;
	size_t real_len = to_b ? r->auth_req_len : r->auth_resp_len;
	uint8_t type = to_b ? r->auth_req_first : r->auth_resp_first;
	uint8_t inner[2 * MAX_DGRAM];
	size_t off = 0;

	if (real_len == 0 || len < 1)
		return;
	/* walk our own (well-formed) chain to the end of AUTH */
	while (type != PL_AUTH && type != PL_NONE && off + 4 <= real_len) {
		type = real[off];
		off += get_u16(real + off + 2);
	}
	if (type != PL_AUTH || off + 4 > real_len)
		return;
	size_t end = off + get_u16(real + off + 2);
	if (end > real_len || len - 1 > MAX_DGRAM)
		return;
	memcpy(inner, real, end);
	inner[off] = data[0];
	memcpy(inner + end, data + 1, len - 1);
	send_encrypted(r, to, 0, 0, !to_b, to_b ? r->auth_req_first : r->auth_resp_first,
		       inner, end + len - 1);
}

static void control(struct run *r, const uint8_t *data, size_t len)
{
	char err[128];
	if (len < 1)
		return;
	struct h_peer *p = len >= 2 && (data[1] & 1) ? &r->h.b : &r->h.a;
	ms_t now = r->h.now;
	switch (data[0] % 6) {
	case 0: ike_initiate(p->core, "site", "net", now, err, sizeof(err)); break;
	case 1: ike_rekey(p->core, NULL, 0, "net", 0, now, err, sizeof(err)); break;
	case 2: ike_rekey(p->core, "site", 0, NULL, 0, now, err, sizeof(err)); break;
	case 3: ike_terminate(p->core, NULL, 0, "net", 0, now, err, sizeof(err)); break;
	case 4: ike_terminate(p->core, "site", 0, NULL, 0, now, err, sizeof(err)); break;
	default: break;
	}
	/* run what was queued (the request goes on the wire) */
	ike_tick(p->core, now);
}

static void advance(struct run *r, uint8_t steps)
{
	struct harness *h = &r->h;
	for (unsigned i = 0; i <= steps; i++) {
		h->now += 500;
		ike_tick(h->a.core, h->now);
		ike_tick(h->b.core, h->now);
	}
}

static void record(struct run *r, uint8_t op, const uint8_t *data, size_t len)
{
	struct harness *h = &r->h;
	bool natt = op & 0x10;

	switch (op & 0x0f) {
	case 0: raw_datagram(r, &h->b, natt, false, data, len); break;
	case 1: raw_datagram(r, &h->a, natt, false, data, len); break;
	case 2: raw_datagram(r, &h->b, natt, true, data, len); break;
	case 3: raw_datagram(r, &h->a, natt, true, data, len); break;
	case 4:
	case 5:
		if (len >= 4)
			send_encrypted(r, (op & 0x0f) == 4 ? &h->b : &h->a, data[0], data[1],
				       data[2] & 1, data[3], data + 4, len - 4);
		break;
	case 6: auth_prefix(r, &h->b, data, len); break;
	case 7: auth_prefix(r, &h->a, data, len); break;
	case 8: h_pump(h); break;
	case 9: h->n_wire = 0; break;
	case 10: advance(r, len ? data[0] : 0); break;
	case 11: control(r, data, len); break;
	case 12: ike_pfkey_input(h->b.core, data, len, h->now); break;
	case 13:
	case 14:
		if (len >= 8) {
			uint16_t frag[2] = { get_u16(data + 4), get_u16(data + 6) };
			send_sk(r, (op & 0x0f) == 13 ? &h->b : &h->a, data[0], data[1], data[2] & 1,
				data[3], frag, data + 8, len - 8);
		}
		break;
	case 15: auth_fragments(r, data, len); break;
	default: break;
	}
	/* what the cores sent stays queued (for op 8) up to the wire's capacity */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run *r;

	if (size < 1)
		return 0;
	quiet_logs();
	r = calloc(1, sizeof(*r));
	if (!r)
		return 0;
	setup(r, (data[0] & 7) % NSTAGES, (data[0] >> 3) & 3);
	size_t off = 1;
	for (int n = 0; n < MAX_RECORDS && off + 3 <= size; n++) {
		uint8_t op = data[off];
		size_t len = get_u16(data + off + 1);
		off += 3;
		if (len > size - off)
			len = size - off;
		record(r, op, data + off, len);
		off += len;
	}
	advance(r, 3);
	h_free(&r->h);
	free(r);
	return 0;
}
