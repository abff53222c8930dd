/* IKEv2 fragmentation (RFC 7383) between two in-process cores: negotiation, the
 * sending side (sizes, every fragment retransmitted), and reassembly (out of order,
 * duplicates, missing fragments, a changed Total Fragments, oversized messages, a
 * flood), with fragments built here from the SA's keys where the peer would not send
 * them so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/ike_private.h"
#include "ike/ikev2_frag.h"
#include "lib/log.h"
#include "tests/unit/ike_harness.h"

#define FRAG_SIZE 256			/* IP datagram (the least the configuration takes) */
#define FRAG_MSG (FRAG_SIZE - 28)	/* largest IKE message in one fragment (IPv4, UDP) */

static char conf_a[4096], conf_b[4096];

/* Four subnets a side and several ESP proposals: IKE_AUTH is well over FRAG_MSG. */
static void make_conf(char *out, size_t len, const char *local, const char *remote,
		      const char *lnets, const char *rnets, const char *ike, const char *extra)
{
	snprintf(out, len,
		 "connections {\n"
		 "  site {\n"
		 "    local_addrs = %s\n"
		 "    remote_addrs = %s\n"
		 "    proposals = %s\n"
		 "%s"
		 "    local {\n      auth = psk\n      id = %s\n    }\n"
		 "    remote {\n      auth = psk\n      id = %s\n    }\n"
		 "    children {\n"
		 "      net {\n"
		 "        local_ts = %s\n"
		 "        remote_ts = %s\n"
		 "        esp_proposals = aes256gcm16,aes128gcm16,aes128-sha256,aes256-sha1\n"
		 "      }\n"
		 "    }\n"
		 "  }\n"
		 "}\n"
		 "secrets {\n"
		 "  ike-site {\n    id-a = 192.0.2.1\n    id-b = 198.51.100.2\n"
		 "    secret = s3cret-key\n  }\n"
		 "}\n",
		 local, remote, ike, extra, local, remote, lnets, rnets);
}

#define NETS_A "10.1.0.0/24,10.3.0.0/24,10.5.0.0/24,10.7.0.0/24"
#define NETS_B "10.2.0.0/24,10.4.0.0/24,10.6.0.0/24,10.8.0.0/24"

static void frag_init(struct harness *h, const char *ike, const char *extra_a,
		      const char *extra_b)
{
	make_conf(conf_a, sizeof(conf_a), "192.0.2.1", "198.51.100.2", NETS_A, NETS_B, ike,
		  extra_a);
	make_conf(conf_b, sizeof(conf_b), "198.51.100.2", "192.0.2.1", NETS_B, NETS_A, ike,
		  extra_b);
	h_fragment_size = FRAG_SIZE;
	assert_int_equal(h_init(h, conf_a, conf_b), 0);
	h_fragment_size = 0;
}

static void initiate(struct harness *h)
{
	char err[256];
	assert_int_equal(ike_initiate(h->a.core, "site", "net", h->now, err, sizeof(err)), 0);
}

static struct ike_stats stats(struct h_peer *p)
{
	struct ike_stats st;
	ike_get_stats(p->core, &st);
	return st;
}

/* Runs IKE_SA_INIT; on return a's IKE_AUTH request is on the wire (in fragments). */
static void up_to_auth(struct harness *h)
{
	initiate(h);
	h_deliver_first(h, NULL);	/* IKE_SA_INIT request to b */
	h_deliver_first(h, NULL);	/* its response to a, which sends IKE_AUTH */
}

static void assert_up(struct harness *h)
{
	assert_int_equal(h_count_sas(&h->a, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_sas(&h->b, IKE_ESTABLISHED), 1);
	assert_int_equal(h_count_children(&h->a), 1);
	assert_int_equal(h_count_children(&h->b), 1);
	const struct child_sa *ca = h_first_sa(&h->a)->children, *cb = h_first_sa(&h->b)->children;
	assert_int_equal(ca->spi_out, cb->spi_in);
	assert_int_equal(ca->n_local_ts, 4);
	assert_int_equal(cb->n_local_ts, 4);
}

static void assert_wire_fits(const struct harness *h)
{
	for (size_t i = 0; i < h->n_wire; i++)
		if (h->wire[i].len > FRAG_MSG)
			fail_msg("datagram %zu of %zu bytes, over %d", i, h->wire[i].len, FRAG_MSG);
}

/* IKE_AUTH both ways in fragments, each within fragment_size, with an AEAD and with
 * a classic cipher (each fragment has its own IV, padding and ICV). */
static void auth_in_fragments(const char *ike)
{
	struct harness h;
	frag_init(&h, ike, "", "");
	up_to_auth(&h);
	size_t n = h.n_wire;
	assert_true(n >= 3);
	assert_wire_fits(&h);
	assert_int_equal(h_first_sa(&h.a)->frag_peer, true);
	for (size_t i = 0; i < n; i++)
		h_deliver_first(&h, NULL);
	assert_true(h.n_wire >= 2);	/* b's IKE_AUTH response, fragmented too */
	assert_wire_fits(&h);
	h_pump(&h);
	assert_up(&h);
	assert_int_equal(stats(&h.a).frag_tx, n);
	assert_int_equal(stats(&h.b).frag_rx, n);
	assert_int_equal(stats(&h.b).frag_reassembled, 1);
	assert_int_equal(stats(&h.a).frag_reassembled, 1);
	assert_int_equal(stats(&h.a).frag_dropped + stats(&h.b).frag_dropped, 0);
	assert_int_equal(h.b.core->frag_held + h.a.core->frag_held, 0);
	h_free(&h);
}

static void test_frag_auth_aead(void **state)
{
	(void)state;
	auth_in_fragments("aes256gcm16-prfsha256-x25519");
}

static void test_frag_auth_cbc(void **state)
{
	(void)state;
	auth_in_fragments("aes128-sha256-modp2048");
}

/* Small messages (an INFORMATIONAL) are never fragmented. */
static void test_frag_small_not_fragmented(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "    dpd_delay = 10s\n", "");
	initiate(&h);
	h_pump(&h);
	assert_up(&h);
	uint64_t tx = stats(&h.a).frag_tx;
	h_advance(&h, 15000);		/* a DPD exchange */
	assert_int_equal(stats(&h.a).frag_tx, tx);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 1);
	h_free(&h);
}

static void reverse_wire(struct harness *h)
{
	for (size_t i = 0; i < h->n_wire / 2; i++) {
		struct h_wire_msg t = h->wire[i];
		h->wire[i] = h->wire[h->n_wire - 1 - i];
		h->wire[h->n_wire - 1 - i] = t;
	}
}

static void test_frag_out_of_order(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "", "");
	up_to_auth(&h);
	assert_true(h.n_wire >= 3);
	reverse_wire(&h);
	size_t n = h.n_wire;
	for (size_t i = 0; i < n; i++)
		h_deliver_first(&h, NULL);
	reverse_wire(&h);		/* b's response, last fragment first */
	h_pump(&h);
	assert_up(&h);
	assert_int_equal(stats(&h.b).frag_reassembled, 1);
	assert_int_equal(stats(&h.a).frag_reassembled, 1);
	h_free(&h);
}

static void test_frag_duplicates(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "", "");
	up_to_auth(&h);
	size_t n = h.n_wire;
	assert_true(n >= 3 && 2 * n <= H_MAX_WIRE);
	/* each fragment twice, the copy right after it; the last one's copy is held back */
	for (size_t i = n; i-- > 0;) {
		memmove(&h.wire[2 * i], &h.wire[i], sizeof(h.wire[0]));
		h.wire[2 * i + 1] = h.wire[2 * i];
	}
	h.n_wire = 2 * n - 1;
	h_pump(&h);
	assert_up(&h);
	/* the copies before completion are duplicates; none was taken twice */
	assert_int_equal(stats(&h.b).frag_dropped, n - 1);
	assert_int_equal(stats(&h.b).frag_reassembled, 1);
	assert_int_equal(h.b.core->frag_held, 0);
	h_free(&h);
}

/* A lost fragment: b waits, a retransmits every fragment, b completes. */
static void test_frag_missing_then_retransmit(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "", "");
	up_to_auth(&h);
	size_t n = h.n_wire;
	assert_true(n >= 3);
	memmove(&h.wire[1], &h.wire[2], (n - 2) * sizeof(h.wire[0]));	/* lose number 2 */
	h.n_wire = n - 1;
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	assert_true(h.b.core->frag_held > 0);
	assert_int_equal(stats(&h.a).frag_tx, n);
	h_advance(&h, 4500);		/* the first retransmission */
	assert_int_equal(stats(&h.a).frag_tx, 2 * n);
	assert_up(&h);
	/* the n - 1 fragments that came twice were dropped as duplicates */
	assert_int_equal(stats(&h.b).frag_dropped, n - 1);
	assert_int_equal(h.b.core->frag_held, 0);
	h_free(&h);
}

/* A retransmitted fragmented request gets the response once, on its first fragment
 * (RFC 7383 2.6.1), not once per fragment. */
static void test_frag_retransmitted_request(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "", "");
	up_to_auth(&h);
	size_t n = h.n_wire;
	struct h_wire_msg copy[H_MAX_WIRE];
	memcpy(copy, h.wire, n * sizeof(copy[0]));
	for (size_t i = 0; i < n; i++)
		h_deliver_first(&h, NULL);
	size_t resp = h.n_wire;		/* b's response fragments */
	assert_true(resp >= 2);
	h_pump(&h);
	assert_up(&h);
	int sent = h.b.sent;
	for (size_t i = 0; i < n; i++)
		ike_input(h.b.core, &copy[i].local, &copy[i].remote, copy[i].data, copy[i].len,
			  h.now);
	assert_int_equal(h.b.sent - sent, (int)resp);
	h_free(&h);
}

/* ---- fragments built here, as the peer could send them ---- */

/* A fragment of a request (or a response) from a's SA (a is the original
 * initiator) to b. */
static void send_frag_of(struct harness *h, bool response, uint8_t exchange, uint32_t msgid,
			 uint8_t next, uint16_t num, uint16_t total, const uint8_t *piece,
			 size_t len, bool corrupt)
{
	struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h->a);
	struct ikev2_hdr hd;
	struct buf out;
	size_t skf_len = 8 + sk_overhead(&sa->keys, len) + len;
	ike_fill_header(sa, exchange, msgid, response, &hd);
	hd.next_payload = PL_SKF;
	hd.length = (uint32_t)(IKEV2_HDR_LEN + skf_len);
	buf_init(&out);
	ikev2_put_header(&out, &hd);
	buf_put_u8(&out, next);
	buf_put_u8(&out, 0);
	buf_put_u16(&out, (uint16_t)skf_len);
	buf_put_u16(&out, num);
	buf_put_u16(&out, total);
	assert_int_equal(sk_encrypt_hdr(&sa->keys, true, &out, 8, piece, len), 0);
	if (corrupt)
		out.data[out.len - 1] ^= 1;
	ike_input(h->b.core, &h->b.addr, &h->a.addr, out.data, out.len, h->now);
	buf_free(&out);
}

static void send_frag(struct harness *h, uint8_t exchange, uint32_t msgid, uint8_t next,
		      uint16_t num, uint16_t total, const uint8_t *piece, size_t len,
		      bool corrupt)
{
	send_frag_of(h, false, exchange, msgid, next, num, total, piece, len, corrupt);
}

/* An INFORMATIONAL request's inner payloads: one status notify with 200 bytes. */
static size_t info_payloads(uint8_t *out, uint8_t *first)
{
	struct ikev2_builder k;
	uint8_t data[200];
	memset(data, 0x5a, sizeof(data));
	ikb_init(&k);
	ikb_notify(&k, 0, NULL, 0, 40000, data, sizeof(data));
	memcpy(out, k.b.data, k.b.len);
	*first = k.first;
	size_t n = k.b.len;
	ikb_free(&k);
	return n;
}

static void up_established(struct harness *h)
{
	frag_init(h, "aes256gcm16-prfsha256-x25519", "", "");
	initiate(h);
	h_pump(h);
	assert_up(h);
}

/* Total Fragments changes (RFC 7383 2.6): a larger total restarts the reassembly, a
 * smaller one is dropped; the message then completes with the larger total. */
static void test_frag_total_changes(void **state)
{
	(void)state;
	struct harness h;
	up_established(&h);
	uint8_t msg[512], first;
	size_t len = info_payloads(msg, &first);
	uint32_t id = h_first_sa(&h.b)->peer_msgid;
	size_t q3 = len / 3 + 1, q4 = len / 4 + 1;
	send_frag(&h, INFORMATIONAL, id, first, 1, 3, msg, q3, false);
	send_frag(&h, INFORMATIONAL, id, 0, 2, 3, msg + q3, q3, false);
	assert_int_equal(h_first_sa(&h.b)->frag_rx[0]->have, 2);
	/* now in four: the two held go */
	send_frag(&h, INFORMATIONAL, id, 0, 2, 4, msg + q4, q4, false);
	assert_int_equal(h_first_sa(&h.b)->frag_rx[0]->have, 1);
	assert_int_equal(h_first_sa(&h.b)->frag_rx[0]->total, 4);
	assert_int_equal(h.b.core->frag_held, q4);
	/* a late one of the three-piece version: fewer in all, dropped */
	uint64_t dropped = stats(&h.b).frag_dropped;
	send_frag(&h, INFORMATIONAL, id, 0, 3, 3, msg + 2 * q3, len - 2 * q3, false);
	assert_int_equal(stats(&h.b).frag_dropped, dropped + 1);
	assert_int_equal(h_first_sa(&h.b)->frag_rx[0]->have, 1);
	send_frag(&h, INFORMATIONAL, id, first, 1, 4, msg, q4, false);
	send_frag(&h, INFORMATIONAL, id, 0, 4, 4, msg + 3 * q4, len - 3 * q4, false);
	assert_int_equal(stats(&h.b).frag_reassembled, 1);	/* not yet: 3 of 4 */
	int sent = h.b.sent;
	send_frag(&h, INFORMATIONAL, id, 0, 3, 4, msg + 2 * q4, q4, false);
	assert_int_equal(stats(&h.b).frag_reassembled, 2);
	assert_int_equal(h.b.sent, sent + 1);			/* answered */
	assert_int_equal(h_first_sa(&h.b)->peer_msgid, id + 1);
	assert_null(h_first_sa(&h.b)->frag_rx[0]);
	assert_int_equal(h.b.core->frag_held, 0);
	h_free(&h);
}

/* Oversized: too many fragments announced, or more bytes than a message may have. */
static void test_frag_oversized(void **state)
{
	(void)state;
	struct harness h;
	up_established(&h);
	uint32_t id = h_first_sa(&h.b)->peer_msgid;
	uint8_t piece[1200];
	memset(piece, 0, sizeof(piece));
	uint64_t dropped = stats(&h.b).frag_dropped;
	send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, 1, FRAG_MAX_FRAGMENTS + 1, piece, 100, false);
	assert_int_equal(stats(&h.b).frag_dropped, dropped + 1);
	assert_null(h_first_sa(&h.b)->frag_rx[0]);
	send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, 0, 4, piece, 100, false);	/* number 0 */
	send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, 5, 4, piece, 100, false);	/* over total */
	assert_int_equal(stats(&h.b).frag_dropped, dropped + 3);
	assert_null(h_first_sa(&h.b)->frag_rx[0]);
	/* 1200 bytes each: the 55th goes over 65535 and the message is given up */
	for (uint16_t i = 1; i <= 54; i++)
		send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, i, FRAG_MAX_FRAGMENTS, piece,
			  sizeof(piece), false);
	assert_int_equal(h.b.core->frag_held, 54 * sizeof(piece));
	send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, 55, FRAG_MAX_FRAGMENTS, piece,
		  sizeof(piece), false);
	assert_int_equal(stats(&h.b).frag_dropped, dropped + 4);
	assert_null(h_first_sa(&h.b)->frag_rx[0]);
	assert_int_equal(h.b.core->frag_held, 0);
	assert_int_equal(h_first_sa(&h.b)->peer_msgid, id);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	h_free(&h);
}

/* A flood: forged fragments (bad ICV), fragments for other message IDs, and the
 * peer's own in every number and total. Memory stays bounded, every one is counted,
 * the log holds a bounded number of lines, and the SA still works. */
static void test_frag_flood(void **state)
{
	(void)state;
	struct harness h;
	struct h_log_count lc;
	up_established(&h);
	uint32_t id = h_first_sa(&h.b)->peer_msgid;
	uint8_t piece[600];
	memset(piece, 0x11, sizeof(piece));
	uint64_t rx = stats(&h.b).frag_rx, dropped = stats(&h.b).frag_dropped;
	size_t peak = 0;
	unsigned seed = 7;
	h_log_capture_start(&lc, "fragment");
	for (int i = 0; i < 3000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint16_t total = (uint16_t)(2 + (seed >> 8) % (FRAG_MAX_FRAGMENTS - 1));
		uint16_t num = (uint16_t)(1 + (seed >> 20) % total);
		switch (i % 3) {
		case 0:		/* forged */
			send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, num, total, piece, 100, true);
			break;
		case 1:		/* another message ID */
			send_frag(&h, INFORMATIONAL, id + 1 + (seed & 7), PL_NOTIFY, num, total,
				  piece, 100, false);
			break;
		default:	/* authentic, never complete */
			send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, num, total, piece,
				  sizeof(piece), false);
		}
		if (h.b.core->frag_held > peak)
			peak = h.b.core->frag_held;
	}
	h_log_capture_stop(&lc);
	assert_true(peak <= FRAG_MAX_MESSAGE);
	assert_int_equal(stats(&h.b).frag_rx, rx + 3000);
	/* everything not kept was counted: the forged and misdirected all */
	assert_true(stats(&h.b).frag_dropped >= dropped + 2000);
	if (lc.lines > 60)
		fail_msg("%d log lines for 3000 fragments", lc.lines);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 1);
	/* b's own exchange still works: a DPD to a */
	char err[128];
	h.a.sent = 0;
	assert_int_equal(ike_terminate(h.b.core, NULL, h_first_sa(&h.b)->uniqueid, NULL, 0,
				       h.now, err, sizeof(err)), 0);
	h_pump(&h);
	assert_int_equal(h_count_sas(&h.a, IKE_ESTABLISHED), 0);
	assert_int_equal(h.a.sent, 1);		/* a answered the DELETE */
	h_advance(&h, 1000);
	assert_int_equal(h.b.core->frag_held, 0);
	h_free(&h);
}

/* A partial reassembly is given up FRAG_RX_TIMEOUT_MS after its first fragment:
 * by the timer, or by the next fragment when the timer has not run; counted. A
 * message whose fragments then all come is still taken. */
static void test_frag_reassembly_times_out(void **state)
{
	(void)state;
	struct harness h;
	up_established(&h);
	const struct ike_sa *sa = h_first_sa(&h.b);
	uint8_t msg[512], first;
	size_t len = info_payloads(msg, &first);
	uint32_t id = sa->peer_msgid;
	size_t q = len / 3 + 1;
	send_frag(&h, INFORMATIONAL, id, first, 1, 3, msg, q, false);
	h_advance(&h, FRAG_RX_TIMEOUT_MS - 1000);
	assert_non_null(sa->frag_rx[0]);
	assert_int_equal(stats(&h.b).frag_expired, 0);
	h_advance(&h, 1000);				/* the timer */
	assert_null(sa->frag_rx[0]);
	assert_int_equal(h.b.core->frag_held, 0);
	assert_int_equal(stats(&h.b).frag_expired, 1);

	send_frag(&h, INFORMATIONAL, id, first, 1, 3, msg, q, false);
	h.now += FRAG_RX_TIMEOUT_MS;			/* no tick: the next fragment sees it */
	send_frag(&h, INFORMATIONAL, id, 0, 2, 3, msg + q, q, false);
	assert_int_equal(stats(&h.b).frag_expired, 2);
	assert_int_equal(sa->frag_rx[0]->have, 1);
	assert_int_equal(h.b.core->frag_held, q);

	send_frag(&h, INFORMATIONAL, id, first, 1, 3, msg, q, false);
	send_frag(&h, INFORMATIONAL, id, 0, 3, 3, msg + 2 * q, len - 2 * q, false);
	assert_int_equal(stats(&h.b).frag_reassembled, 2);	/* IKE_AUTH's and this */
	assert_int_equal(sa->peer_msgid, id + 1);
	assert_int_equal(h.b.core->frag_held, 0);
	h_free(&h);
}

/* At the bound on bytes held in all, the oldest reassembly (of any SA) makes room
 * for a new fragment instead of the new one being refused; counted. */
static void test_frag_bound_evicts_oldest(void **state)
{
	(void)state;
	struct harness h;
	up_established(&h);
	struct ike_sa *sa = (struct ike_sa *)h_first_sa(&h.b);
	h.b.core->frag_held_max = 1000;
	uint8_t piece[600];
	memset(piece, 0x33, sizeof(piece));
	uint32_t id = sa->peer_msgid;
	send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, 1, 3, piece, 400, false);
	/* b's own request (a DPD) outstanding, its response from a in fragments */
	ike_sa_queue(sa, TASK_DPD, NULL, 0);
	assert_int_not_equal(sa->req.kind, TASK_NONE);
	send_frag_of(&h, true, sa->req.exchange, sa->req.msgid, PL_NOTIFY, 1, 3, piece, 300,
		     false);
	assert_int_equal(h.b.core->frag_held, 700);
	uint64_t dropped = stats(&h.b).frag_dropped;
	send_frag_of(&h, true, sa->req.exchange, sa->req.msgid, PL_NOTIFY, 2, 3, piece, 400,
		     false);
	assert_null(sa->frag_rx[0]);			/* the oldest went */
	assert_int_equal(sa->frag_rx[1]->have, 2);
	assert_int_equal(h.b.core->frag_held, 700);
	assert_int_equal(stats(&h.b).frag_evicted, 1);
	assert_int_equal(stats(&h.b).frag_dropped, dropped);
	/* a new request's fragment: now the response's reassembly is the oldest */
	send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, 1, 2, piece, 600, false);
	assert_null(sa->frag_rx[1]);
	assert_int_equal(sa->frag_rx[0]->have, 1);
	assert_int_equal(h.b.core->frag_held, 600);
	assert_int_equal(stats(&h.b).frag_evicted, 2);
	/* one fragment over the bound on its own (its reassembly the only one): refused */
	send_frag(&h, INFORMATIONAL, id, PL_NOTIFY, 2, 2, piece, 500, false);
	assert_int_equal(stats(&h.b).frag_dropped, dropped + 1);
	assert_int_equal(sa->frag_rx[0]->have, 1);
	assert_int_equal(h.b.core->frag_held, 600);
	h_free(&h);
}

/* Fragments are not taken before the IKE SA has keys (RFC 7383 2.5). */
static void test_frag_before_keys(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "", "");
	initiate(&h);			/* a waits for the IKE_SA_INIT response */
	const struct ike_sa *sa = h_first_sa(&h.a);
	uint8_t m[28 + 8 + 40];
	memset(m, 0, sizeof(m));
	memcpy(m, sa->spi_i, 8);
	memset(m + 8, 0x42, 8);
	m[16] = PL_SKF;
	m[17] = IKEV2_VERSION;
	m[18] = IKE_AUTH;
	m[19] = IKEV2_FLAG_RESPONSE;
	put_u32(m + 20, 1);
	put_u32(m + 24, sizeof(m));
	m[28] = PL_IDR;
	put_u16(m + 30, 8 + 40);
	put_u16(m + 32, 1);
	put_u16(m + 34, 2);
	ike_input(h.a.core, &h.a.addr, &h.b.addr, m, sizeof(m), h.now);
	assert_int_equal(stats(&h.a).frag_dropped, 1);
	assert_int_equal(h.a.core->frag_held, 0);
	/* and never in IKE_SA_INIT */
	m[18] = IKE_SA_INIT;
	ike_input(h.a.core, &h.a.addr, &h.b.addr, m, sizeof(m), h.now);
	assert_int_equal(stats(&h.a).frag_dropped, 2);
	h_pump(&h);
	assert_up(&h);
	h_free(&h);
}

/* fragmentation = accept: announced and taken, never sent. */
static void test_frag_accept(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "    fragmentation = accept\n", "");
	initiate(&h);
	h_pump(&h);
	assert_up(&h);
	assert_int_equal(stats(&h.a).frag_tx, 0);
	assert_true(stats(&h.b).frag_tx >= 2);
	assert_int_equal(stats(&h.a).frag_reassembled, 1);
	h_free(&h);
}

/* fragmentation = no on b: nothing announced, so a (yes) sends whole messages. */
static void test_frag_no(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "", "    fragmentation = no\n");
	initiate(&h);
	h_pump(&h);
	assert_up(&h);
	assert_false(h_first_sa(&h.a)->frag_peer);
	assert_false(h_first_sa(&h.b)->frag_peer);
	assert_int_equal(stats(&h.a).frag_tx + stats(&h.b).frag_tx, 0);
	h_free(&h);
}

/* fragmentation = force sends fragments even to a peer that did not announce them;
 * one with fragmentation = no drops them. */
static void test_frag_force(void **state)
{
	(void)state;
	struct harness h;
	frag_init(&h, "aes256gcm16-prfsha256-x25519", "    fragmentation = force\n",
		  "    fragmentation = no\n");
	initiate(&h);
	h_pump(&h);
	assert_false(h_first_sa(&h.a)->frag_peer);
	assert_true(stats(&h.a).frag_tx >= 3);
	assert_true(stats(&h.b).frag_dropped >= 3);
	assert_int_equal(h_count_sas(&h.b, IKE_ESTABLISHED), 0);
	h_free(&h);
}

int main(void)
{
	log_set_all_levels(getenv("TLOG") ? atoi(getenv("TLOG")) : -1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frag_auth_aead),
		cmocka_unit_test(test_frag_auth_cbc),
		cmocka_unit_test(test_frag_small_not_fragmented),
		cmocka_unit_test(test_frag_out_of_order),
		cmocka_unit_test(test_frag_duplicates),
		cmocka_unit_test(test_frag_missing_then_retransmit),
		cmocka_unit_test(test_frag_retransmitted_request),
		cmocka_unit_test(test_frag_total_changes),
		cmocka_unit_test(test_frag_oversized),
		cmocka_unit_test(test_frag_flood),
		cmocka_unit_test(test_frag_reassembly_times_out),
		cmocka_unit_test(test_frag_bound_evicts_oldest),
		cmocka_unit_test(test_frag_before_keys),
		cmocka_unit_test(test_frag_accept),
		cmocka_unit_test(test_frag_no),
		cmocka_unit_test(test_frag_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
