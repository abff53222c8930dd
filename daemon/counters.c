/* The daemon's global counters, in one list that both tsunagictl --counters (VICI
 * get-counters) and the metrics endpoint read, so neither can miss one. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/nat_fast_map.h"
#include "daemon/nat_queue.h"
#include "daemon/views.h"
#include "ike/cert.h"
#include "ike/ike_sa.h"
#include "nat/nat.h"
#include "nat/nat_rules.h"

/* The NAT core's counters and its queue's (zero while NAT is off). */
static size_t nat_counters(struct daemon *d, struct metric_counter *out, size_t n)
{
	struct nat_counters c;
	struct nat_queue_stats q;
	nat_io_counters(d, &c, &q);
#define C(key, help, v) \
	do { \
		if (n < DAEMON_COUNTERS_MAX) \
			out[n++] = (struct metric_counter){ key, help, v }; \
	} while (0)
	C("nat-queued", "Packets the NAT queue received.", q.packets);
	C("nat-rewritten", "Packets the NAT changed.", q.rewritten);
	C("nat-queue-bad", "Queued packets dropped as unreadable (truncated, not IPv4).", q.bad);
	C("nat-queue-send-errors", "Verdict batches the kernel refused.", q.send_errors);
	C("nat-in2out", "Packets from inside translated.", c.in2out);
	C("nat-out2in", "Packets from outside translated.", c.out2in);
	C("nat-hairpin", "Packets from inside to inside translated.", c.hairpin);
	C("nat-exempt", "Packets forwarded untranslated by an exemption rule.", c.exempt);
	C("nat-local", "Packets for the gateway itself, left alone.", c.local);
	C("nat-flows-created", "Translations built.", c.flows_created);
	C("nat-flows-expired", "Translations ended by their idle timeout.", c.flows_expired);
	C("nat-flows-evicted", "Translations evicted because the table was full.", c.flows_evicted);
	C("nat-flows-flushed", "Translations ended by flush-nat.", c.flows_flushed);
	C("nat-icmp-errors", "ICMP errors translated (the quoted header too).", c.icmp_errors);
	C("nat-fragments", "Non-first fragments translated.", c.fragments);
	C("nat-tcp-rst-ignored", "TCP RSTs outside the window (forwarded, state kept).",
	  c.tcp_rst_ignored);
	C("nat-drop-malformed", "Packets dropped as malformed.", c.drop_malformed);
	C("nat-drop-no-rule", "Packets from inside that no rule translates.", c.drop_no_rule);
	C("nat-drop-no-flow", "Packets from outside for no translation (Deny inbound).",
	  c.drop_no_flow);
	C("nat-drop-tcp-no-syn", "New TCP flows that did not start with a SYN.", c.drop_tcp_no_syn);
	C("nat-drop-ports", "New flows for which PAT had no free port.", c.drop_ports);
	C("nat-drop-pool", "New flows for which the dynamic pool had no address.", c.drop_pool);
	C("nat-drop-no-address", "New flows whose public interface had no address.",
	  c.drop_no_address);
	C("nat-drop-proto", "Packets of a protocol their rule cannot translate.", c.drop_proto);
	C("nat-drop-fragment", "Non-first fragments of no known flow.", c.drop_fragment);
	C("nat-drop-icmp", "ICMP errors quoting no known flow, and other ICMP.", c.drop_icmp);
	C("nat-drop-collision", "New flows whose translation was already in use.",
	  c.drop_collision);
	C("nat-drop-hairpin", "Inside to a public address with hairpin off.", c.drop_hairpin);
	C("nat-drop-table-full", "New flows refused: no flow could be evicted.", c.drop_table_full);
	C("nat-drop-inspect", "Packets an inspection engine refused.", c.drop_inspect);
	C("nat-pinholes-active", "Inspection pinholes waiting for their connection.",
	  c.pinholes_active);
	C("nat-ike-passthrough", "Inside IKE flows kept on port 500, told apart by initiator SPI.",
	  c.ike_passthrough);
	C("nat-ike-spi-taken", "Inside IKE flows moved off port 500: their SPI was taken.",
	  c.ike_spi_taken);
	C("nat-esp-spi-learned", "Servers' ESP SPIs learned for an inside client.",
	  c.esp_spi_learned);
	C("nat-l2tp-passthrough", "Inside L2TP flows kept on port 1701, told apart by tunnel ID.",
	  c.l2tp_passthrough);
	C("nat-fast-added", "Flows handed to the eBPF fast path.", c.fast_added);
	C("nat-fast-removed", "Flows taken back from the fast path.", c.fast_removed);
	C("nat-fast-failed", "Flows the fast path refused (map full): they stay queued.",
	  c.fast_failed);
	C("nat-fast-kept", "Idle timeouts postponed because the fast path used the flow.",
	  c.fast_kept);
	C("nat-fast-created", "TCP flows the fast path made from their SYN (no packet queued).",
	  c.fast_created);
	C("nat-fast-refused", "Flows the fast path made that the core refused (removed).",
	  c.fast_refused);
	uint64_t fs[NAT_FAST_ST_COUNT];
	nat_io_fast_stats(d, fs);
	C("nat-fast-punt-off", "SYNs from inside queued: the fast path has no plan.",
	  fs[NAT_FAST_ST_OFF]);
	C("nat-fast-punt-port", "SYNs from inside queued: an engine's port or a source port below 1024.",
	  fs[NAT_FAST_ST_PORT]);
	C("nat-fast-punt-rule", "SYNs from inside queued: the source's rule is not plain PAT.",
	  fs[NAT_FAST_ST_RULE]);
	C("nat-fast-punt-dst", "SYNs from inside queued: exempt or published destination.",
	  fs[NAT_FAST_ST_DST]);
	C("nat-fast-punt-route", "SYNs from inside queued: not routed out of an outside interface.",
	  fs[NAT_FAST_ST_ROUTE]);
	C("nat-fast-punt-full", "SYNs from inside queued: no free public port in its range.",
	  fs[NAT_FAST_ST_FULL]);
	C("nat-fast-punt-ring", "SYNs from inside queued: tsunagid behind on its events.",
	  fs[NAT_FAST_ST_RING]);
	C("nat-fast-punt-map", "SYNs from inside queued: the map refused an entry (full, no memory).",
	  fs[NAT_FAST_ST_NOMEM]);
	C("nat-fast-redirected", "Packets the fast path forwarded itself (the kernel's forward path skipped).",
	  fs[NAT_FAST_ST_REDIRECTED]);
#undef C
	return n;
}

/* Each inspection engine's counters, named nat-<engine>-<field>. */
static const struct {
	const char *field, *help;
	size_t off;
} insp_fields[] = {
#define F(f, h) { #f, h, offsetof(struct nat_insp_counters, f) }
	F(flows, "Flows the engine inspected."),
	F(packets, "Payloads handed to the engine."),
	F(rewritten, "Payloads the engine rewrote."),
	F(resized, "Rewrites that changed the length (TCP seq/ack deltas follow)."),
	F(seq_adjusted, "Segments whose seq, ack or SACK blocks were shifted."),
	F(pinholes, "Pinholes opened for connections to come."),
	F(pinhole_hits, "Pinholes that became a connection."),
	F(pinhole_expired, "Pinholes that timed out unused."),
	F(pinhole_replaced, "Pinholes superseded or ended with their connection."),
	F(pinhole_full, "Pinholes refused: the table was full."),
	F(bad_passed, "Malformed or hostile payloads forwarded unchanged."),
	F(bad_dropped, "Malformed or hostile payloads dropped."),
	F(partial, "Messages cut across segments."),
	F(no_room, "Rewrites that did not fit the packet buffer."),
#undef F
};
#define N_INSP_FIELDS (sizeof(insp_fields) / sizeof(insp_fields[0]))

static size_t insp_counters(struct daemon *d, struct metric_counter *out, size_t n)
{
	/* The names outlive the call: the daemon has one thread. */
	static char names[NAT_MAX_ENGINES][N_INSP_FIELDS][48];
	struct nat_insp_counters c;
	for (size_t id = 0; nat_io_insp_counters(d, id, &c) == 0; id++) {
		const char *engine = nat_engine_name(id);
		if (!engine || id >= NAT_MAX_ENGINES)
			continue;
		for (size_t f = 0; f < N_INSP_FIELDS && n < DAEMON_COUNTERS_MAX; f++) {
			char *name = names[id][f];
			snprintf(name, sizeof(names[id][f]), "nat-%s-%s", engine, insp_fields[f].field);
			for (char *u = name; *u; u++)
				*u = *u == '_' ? '-' : *u;
			uint64_t v;
			memcpy(&v, (const uint8_t *)&c + insp_fields[f].off, sizeof(v));
			out[n++] = (struct metric_counter){ name, insp_fields[f].help, v };
		}
	}
	return n;
}

size_t daemon_counters(struct daemon *d, struct metric_counter out[DAEMON_COUNTERS_MAX])
{
	struct ike_stats st;
	struct esp_engine_stats es = { 0 };
	size_t n = 0;
	ike_get_stats(d->ike, &st);
	if (d->esp)
		esp_engine_stats(d->esp, &es);
#define C(key, help, v) \
	do { \
		if (n < DAEMON_COUNTERS_MAX) \
			out[n++] = (struct metric_counter){ key, help, v }; \
	} while (0)
	C("ike-rx-messages", "IKE messages received.", st.rx_messages);
	C("ike-tx-messages", "IKE messages sent, retransmissions included.", st.tx_messages);
	C("ike-rx-invalid", "IKE datagrams dropped as malformed or unauthenticated.",
	  st.rx_invalid + d->rx_malformed);
	C("ike-rx-no-sa", "IKE messages for no known IKE SA.", st.rx_no_sa);
	C("ike-retransmits", "IKE requests retransmitted.", st.retransmits);
	C("ike-established", "IKE SAs established.", st.established_total);
	C("ike-auth-failures", "IKE authentications that failed.", st.auth_failures);
	C("ike-eap-failures", "EAP authentications that failed (wrong password, unknown user).",
	  st.eap_failures);
	C("ike-eap-dropped", "EAP messages dropped: malformed or out of sequence.", st.eap_dropped);
	C("ike-cookies-sent", "IKE_SA_INIT requests answered with a cookie.", st.cookies_sent);
	C("ike-half-open-refused", "IKE_SA_INIT requests refused: too many half-open SAs.",
	  st.half_open_refused);
	C("ike-init-refused", "IKE_SA_INIT requests matching no connection or proposal.",
	  st.init_refused);
	C("ike-xauth-failures", "IKEv1 XAuth users refused (wrong or unknown user or password).",
	  st.xauth_failures);
	C("ike-vip-failures", "Virtual IP requests refused (pools exhausted or none).",
	  st.vip_failures);
	C("ike-cp-bad-attributes", "Configuration payload attributes ignored (unknown, "
	  "repeated, malformed).", st.cp_bad_attrs);
	C("ike-fragments-sent", "IKEv2 fragments sent, retransmissions included.", st.frag_tx);
	C("ike-fragments-received", "IKEv2 fragments received.", st.frag_rx);
	C("ike-fragments-reassembled", "IKEv2 messages reassembled from fragments.",
	  st.frag_reassembled);
	C("ike-fragments-dropped", "IKEv2 fragments dropped (invalid, unexpected, over a limit).",
	  st.frag_dropped);
	C("ike-fragments-expired", "IKEv2 partial reassemblies given up after 30 s.",
	  st.frag_expired);
	C("ike-fragments-evicted", "IKEv2 partial reassemblies given up, the oldest first, "
	  "to keep the bytes held in all under 8 MiB.", st.frag_evicted);
	C("ike-nat-mappings", "NAT mappings of peers followed on the ESP engine's word "
	  "(NEW_MAPPING: authenticated ESP from a new address or port).", st.nat_mappings);
	C("ike-nat-mappings-ignored", "NEW_MAPPINGs not followed (unknown SPI, no NAT-T, or "
	  "we are behind a NAT and the peer is not, RFC 7296 2.23).", st.nat_mappings_ignored);
	const struct cred_stats *cs = cred_store_stats(ike_creds(d->ike));
	C("ike-certs-rejected", "CERT payloads refused: malformed, too long or of an unsupported "
	  "encoding.", cs->certs_rejected);
	C("ike-cert-chains-truncated", "IKE_AUTH messages with more CERT payloads than are used.",
	  cs->chains_truncated);
	C("ike-cert-auth-failures", "Peers whose certificate, identity or signature failed.",
	  cs->cert_auth_failures);
	C("esp-no-policy", "Outbound packets matching no policy.", es.no_policy);
	C("esp-discarded", "Outbound packets matching a discard policy.", es.discarded);
	C("esp-held", "Outbound packets held for a CHILD SA being negotiated.", es.held);
	C("esp-hold-dropped", "Held packets dropped (queue full or no SA came).", es.hold_dropped);
	C("esp-acquires", "CHILD SAs requested by traffic (ACQUIRE).", es.acquires);
	C("esp-no-sa", "Inbound ESP packets for an unknown or unusable SA.", es.no_sa);
	C("esp-bad-packet", "Packets dropped as not IP or truncated.", es.bad_packet);
	C("esp-ike-in", "IKE messages received on the NAT-T port.", es.ike_in);
	C("esp-keepalives-in", "NAT-T keepalives received.", es.keepalives);
	C("esp-send-errors", "ESP packets the network refused to send.", es.send_errors);
	C("esp-tun-errors", "Packets the TUN device refused.", es.tun_errors);
	C("esp-mss-clamped", "TCP SYNs whose MSS was lowered.", es.mss_clamped);
	C("esp-pmtu-sent", "ICMP fragmentation-needed / packet-too-big sent for packets over the tunnel MTU.",
	  es.pmtu_sent);
	C("esp-pmtu-suppressed", "Such ICMP messages not sent (rate limit).", es.pmtu_suppressed);
	C("esp-prefrag-ok", "Packets without DF fragmented before encryption.", es.prefrag_ok);
	C("esp-prefrag-failed", "Packets without DF that could not be fragmented.", es.prefrag_failed);
	C("esp-fragments", "Fragments made by pre-fragmentation.", es.fragments);
	C("esp-gso-fallbacks", "UDP GSO sends the kernel refused (GSO then turned off).",
	  es.gso_fallbacks);
	C("esp-bad-super-packets", "TUN reads whose offload (vnet) header did not match the packet.",
	  es.bad_super);
	C("esp-nat-mappings", "Authenticated ESP in UDP from a new peer address or port, told "
	  "to IKE (NEW_MAPPING, at most one a second per SA).", es.new_mappings);
	n = nat_counters(d, out, n);
	n = insp_counters(d, out, n);
#undef C
	return n;
}

static int by_id(const void *a, const void *b)
{
	uint32_t x = ((const struct sa_baseline *)a)->child_id;
	uint32_t y = ((const struct sa_baseline *)b)->child_id;
	return x < y ? -1 : x > y;
}

/* Sorted by child_id: every view looks its SA up, thousands of them a scrape. */
const struct sa_baseline *daemon_sa_baseline(const struct daemon *d, uint32_t child_id)
{
	struct sa_baseline key = { .child_id = child_id };
	if (!d->n_baselines)
		return NULL;
	return bsearch(&key, d->baselines, d->n_baselines, sizeof(key), by_id);
}

/* Rebuilt from the SAs that exist, so the baselines of deleted SAs go with them. */
int daemon_reset_counters(struct daemon *d, const char *conn)
{
	size_t n = 0, cap = 0;
	for (const struct ike_sa *sa = ike_sa_first(d->ike); sa; sa = ike_sa_next(sa))
		for (const struct child_sa *c = sa->children; c; c = c->next)
			cap++;
	struct sa_baseline *b = cap ? calloc(cap, sizeof(*b)) : NULL;
	if (cap && !b)
		return -1;
	for (const struct ike_sa *sa = ike_sa_first(d->ike); sa; sa = ike_sa_next(sa)) {
		bool reset = !conn || strcmp(conn, ike_sa_name(sa)) == 0;
		for (const struct child_sa *c = sa->children; c; c = c->next) {
			const struct sa_baseline *old = daemon_sa_baseline(d, c->uniqueid);
			if (reset) {
				b[n].child_id = c->uniqueid;
				views_child_counts(d, sa, c, &b[n].in, &b[n].out);
				n++;
			} else if (old) {
				b[n++] = *old;
			}
		}
	}
	if (n)
		qsort(b, n, sizeof(*b), by_id);
	free(d->baselines);
	d->baselines = b;
	d->n_baselines = n;
	if (!conn) {
		ike_reset_stats(d->ike);
		if (d->esp)
			esp_engine_reset_stats(d->esp);
		nat_io_reset_counters(d);
		d->rx_malformed = 0;
	}
	return 0;
}
