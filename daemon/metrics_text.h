/* The daemon's state in the Prometheus text exposition format (version 0.0.4): a pure
 * function from plain values (the counters tsunagictl --counters shows, and the VICI
 * views of the SAs) to text, so that it is tested without sockets or SAs. */
#ifndef TSUNAGI_DAEMON_METRICS_TEXT_H
#define TSUNAGI_DAEMON_METRICS_TEXT_H
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "vici/vici_views.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One global event counter, named as tsunagictl --counters prints it. */
struct metric_counter {
	const char *name;	/* "esp-no-sa": the metric is tsunagi_esp_no_sa_total */
	const char *help;
	uint64_t value;
};

struct metrics_state {
	const char *version;			/* tsunagi_build_info{version=...} */
	uint64_t ike_sas, half_open, child_sas;	/* gauges */
	uint64_t nat_flows;			/* gauge: NAT translations in the table */
	const struct metric_counter *counters;
	size_t n_counters;
	const struct vici_ike_view *const *ikes;	/* each with its CHILD SAs */
	size_t n_ikes;
};

/* Appends the whole exposition to out (check out->oom). */
void metrics_text(const struct metrics_state *st, struct buf *out);
/* "esp-no-sa" -> "tsunagi_esp_no_sa_total": the metric name of a --counters key. */
const char *metrics_counter_name(const char *key, char *out, size_t outlen);
/* A label value as the format wants it: \ " and newline escaped, bytes that are not
 * UTF-8 replaced by U+FFFD (scrapers reject the whole page otherwise). */
void metrics_put_label_value(struct buf *out, const char *s);
#endif
