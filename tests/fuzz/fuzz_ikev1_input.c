/* Fuzzes IKEv1 message handling through the IKE core's input: Main Mode, Quick Mode
 * and Informational, in the clear and after decryption with the SA's real keys.
 *
 * Two cores run in-process as in the unit tests (tests/unit/ike_harness.c, IKEv1
 * site-to-site configs of h_v1_confs): "a" initiates (192.0.2.1), "b" responds
 * (198.51.100.2). The first input byte sets the stage reached first (mod 4):
 *   0  nothing: b is a bare responder (MM1 and garbage without an SA);
 *   1  a has sent MM1 (lost): a waits in MM_WAIT_MSG2;
 *   2  MM1..MM4 delivered, MM5 lost: b waits in MM_WAIT_MSG5 with keys, a in MM6;
 *   3  both in QM_IDLE with one CHILD_SA (everything delivered);
 * and bit 3 runs both ends with NAT-T forced (encap = yes on a: NAT-D, float to 4500,
 * UDP encapsulation modes). Bit 4 makes them remote access: a an XAuth client asking
 * for a virtual IP, b the XAuth server with a pool (ike/v1/ikev1_xauth.c,
 * ikev1_modecfg.c); stage 2 then has Main Mode done and b's XAuth REQUEST lost (a
 * waits in XAUTH_WAIT_REQUEST, b in XAUTH_WAIT_REPLY), stage 3 XAuth and Mode Config
 * done too. The rest is a list of records, at most 64: op (1 byte),
 * length (2 bytes, big endian), data. The op's low 3 bits:
 *   0 / 1  data is a datagram to b / to a, as it is;
 *   2 / 3  the same with the receiver's first SA's cookies in the first 16 bytes (its
 *          responder cookie only if it has one);
 *   4 / 5  to b / to a, encrypted with the receiver's ISAKMP SA keys as its peer would:
 *          data[0] the exchange (0 Quick Mode, 1 Informational, 2 Main Mode, else
 *          itself), data[1] which message ID and IV (mod 4; 0: a new exchange, its ID
 *          from data[2..5]; 1: the Quick Mode under way; 2: Main Mode's, ID 0; 3: the
 *          receiver's Transaction under way, XAuth or Mode Config), data[6]
 *          the first payload type, then the clear payload chain. A HASH payload first
 *          whose size is the PRF's gets the right HASH(1) written into it, so that
 *          what follows is taken as authentic and processed;
 *   6      deliver what is on the wire;  7  drop it, or (data[0] & 1) advance the clock
 *          by (data[1] + 1) * 500 ms running both cores' timers, or (data[0] & 2) let a
 *          initiate another CHILD_SA.
 * Bit 3 of the op sends raw datagrams (ops 0-3) to the NAT-T port 4500 (as the core
 * sees them: the I/O shell strips the non-ESP marker). Seeds: tests/fuzz/gen_ikev1_input_seeds.py
 * and strongSwan's own messages (tests/interop/capture-seeds.sh with IKEV=1). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "ike/v1/ikev1.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 64
#define MAX_DGRAM 4096

static void quiet_logs(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	/* Format every line (catches format bugs) but print nothing; FUZZ_IKE_LOG=<level>
	 * prints them. */
	const char *level = getenv("FUZZ_IKE_LOG");
	log_set_all_levels(level ? atoi(level) : 2);
	log_use_stderr(level != NULL);
}

/* Remote access (bit 4): XAuth client a, server b with a pool (the parser merges the
 * repeated pools and secrets sections). */
static const char ra_a[] = "    local-2 {\n      auth = xauth\n      xauth_id = alice\n    }\n"
			   "    vips = 0.0.0.0\n";
static const char ra_b[] = "    remote-2 {\n      auth = xauth\n    }\n    pools = p1\n";
static const char ra_common[] =
	"pools {\n  p1 {\n    addrs = 10.3.0.0/28\n    dns = 10.2.0.53\n"
	"    split_include = 10.2.0.0/24\n  }\n}\n"
	"secrets {\n  xauth-alice {\n    id = alice\n    secret = alice-pw\n  }\n}\n";

static void setup(struct harness *h, unsigned stage, bool natt, bool ra)
{
	static char conf_a[4096], conf_b[4096];
	char err[256], extra_a[256];
	snprintf(extra_a, sizeof(extra_a), "%s%s", natt ? "    encap = yes\n" : "", ra ? ra_a : "");
	h_v1_confs(conf_a, conf_b, sizeof(conf_a), extra_a, ra ? ra_b : "", "tunnel");
	if (ra) {
		strcat(conf_a, ra_common);
		strcat(conf_b, ra_common);
	}
	if (h_init(h, conf_a, conf_b) < 0)
		abort();	/* the fixed configuration must load */
	if (stage == 0)
		return;
	if (ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)) < 0)
		abort();
	if (stage == 1) {
		h->n_wire = 0;
		return;
	}
	if (stage == 3) {
		h_pump(h);
		return;
	}
	for (int i = 0; i < (ra ? 6 : 4) && h->n_wire; i++)
		h_deliver_first(h, NULL);
	h->n_wire = 0;	/* MM5 lost (remote access: b's XAuth REQUEST) */
}

/* The receiver's first ISAKMP SA that has keys. */
static struct ike_sa *keyed_sa(struct h_peer *p)
{
	for (struct ike_sa *sa = p->core->sas; sa; sa = sa->next)
		if (sa->v1 && sa->v1->have_keys && sa->state != IKE_DESTROYING)
			return sa;
	return NULL;
}

static void raw_datagram(struct harness *h, struct h_peer *to, bool natt, bool cookies,
			 const uint8_t *data, size_t len)
{
	static const uint8_t zero[8];
	uint8_t msg[MAX_DGRAM];
	struct ike_sa *sa = to->core->sas;
	struct addr local = to->addr, remote = to->other->addr;

	if (len > sizeof(msg))
		return;
	memcpy(msg, data, len);
	if (cookies && sa && len >= 16) {
		memcpy(msg, sa->spi_i, 8);
		if (memcmp(sa->spi_r, zero, 8) != 0)
			memcpy(msg + 8, sa->spi_r, 8);
	}
	local.port = remote.port = natt ? 4500 : 500;
	if (cookies && sa) {
		local = sa->local;
		remote = sa->remote;
	}
	ike_input(to->core, &local, &remote, msg, len, h->now);
}

/* Encrypts a clear payload chain as the peer of `to`'s ISAKMP SA would and delivers
 * it (see the header for data's layout). */
static void send_encrypted(struct harness *h, struct h_peer *to, const uint8_t *data,
			   size_t len)
{
	static const uint8_t exchanges[3] = { ISAKMP_XCHG_QM, ISAKMP_XCHG_INFO, ISAKMP_XCHG_MM };
	struct ike_sa *sa = keyed_sa(to);
	struct isakmp_iv iv, next;
	struct buf msg;

	if (!sa || len < 7 || len - 7 > MAX_DGRAM)
		return;
	const struct isakmp_keys *k = &sa->v1->keys;
	uint8_t exchange = data[0] < 3 ? exchanges[data[0]] : data[0];
	uint32_t msgid = get_u32(data + 2);
	switch (data[1] % 4) {
	case 0:
		if (isakmp_iv_phase2(k, &sa->v1->iv, msgid, &iv) < 0)
			return;
		break;
	case 1:
		if (!sa->v1->qm.active)
			return;
		msgid = sa->v1->qm.msgid;
		iv = sa->v1->qm.iv;
		break;
	case 3:
		if (!sa->v1->txn.active)
			return;
		msgid = sa->v1->txn.msgid;
		iv = sa->v1->txn.iv;
		break;
	default:
		msgid = 0;
		iv = sa->v1->iv;
	}
	struct isakmp_hdr hd = { .next_payload = data[6], .exchange = exchange,
				 .flags = ISAKMP_FLAG_E, .msgid = msgid };
	memcpy(hd.cky_i, sa->spi_i, 8);
	memcpy(hd.cky_r, sa->spi_r, 8);
	buf_init(&msg);
	isakmp_put_header(&msg, &hd);
	buf_put(&msg, data + 7, len - 7);
	/* HASH first, of the PRF's size: make it right (HASH(1) over what follows). */
	size_t body = msg.len - ISAKMP_HDR_LEN;
	if (!msg.oom && data[6] == ISAKMP_PL_HASH && body >= 4 + k->prf_len &&
	    get_u16(msg.data + ISAKMP_HDR_LEN + 2) == 4 + k->prf_len) {
		uint8_t *hash = msg.data + ISAKMP_HDR_LEN + 4;
		size_t rest = 4 + k->prf_len;
		isakmp_hash_qm1(k, msgid, hash + k->prf_len, body - rest, hash);
	}
	if (!msg.oom && isakmp_encrypt(k, &iv, &msg, &next) == 0)
		ike_input(to->core, &sa->local, &sa->remote, msg.data, msg.len, h->now);
	buf_free(&msg);
}

static void advance(struct harness *h, unsigned steps)
{
	for (unsigned i = 0; i <= steps; i++) {
		h->now += 500;
		ike_tick(h->a.core, h->now);
		ike_tick(h->b.core, h->now);
	}
}

static void record(struct harness *h, uint8_t op, const uint8_t *data, size_t len)
{
	bool natt = op & 0x08;
	char err[128];

	switch (op & 0x07) {
	case 0: raw_datagram(h, &h->b, natt, false, data, len); break;
	case 1: raw_datagram(h, &h->a, natt, false, data, len); break;
	case 2: raw_datagram(h, &h->b, natt, true, data, len); break;
	case 3: raw_datagram(h, &h->a, natt, true, data, len); break;
	case 4: send_encrypted(h, &h->b, data, len); break;
	case 5: send_encrypted(h, &h->a, data, len); break;
	case 6: h_pump(h); break;
	default:
		if (len >= 2 && (data[0] & 1)) {
			advance(h, data[1]);
		} else if (len >= 1 && (data[0] & 2)) {
			ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err));
			ike_tick(h->a.core, h->now);
		} else {
			h->n_wire = 0;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h;

	if (size < 1)
		return 0;
	quiet_logs();
	h = calloc(1, sizeof(*h));
	if (!h)
		return 0;
	setup(h, data[0] & 3, data[0] & 8, data[0] & 0x10);
	size_t off = 1;
	for (int n = 0; n < MAX_RECORDS && off + 3 <= size; n++) {
		uint8_t op = data[off];
		size_t len = get_u16(data + off + 1);
		off += 3;
		if (len > size - off)
			len = size - off;
		record(h, op, data + off, len);
		off += len;
	}
	advance(h, 3);
	h_free(h);
	free(h);
	return 0;
}
