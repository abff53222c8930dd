/* The daemon's global counters, in one list that both tsunagictl --counters (VICI
 * get-counters) and the metrics endpoint read, so neither can miss one. */
#include <stdlib.h>
#include <string.h>

#include "daemon/views.h"
#include "ike/ike_sa.h"

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
	C("ike-cookies-sent", "IKE_SA_INIT requests answered with a cookie.", st.cookies_sent);
	C("ike-half-open-refused", "IKE_SA_INIT requests refused: too many half-open SAs.",
	  st.half_open_refused);
	C("ike-init-refused", "IKE_SA_INIT requests matching no connection or proposal.",
	  st.init_refused);
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
		d->rx_malformed = 0;
	}
	return 0;
}
