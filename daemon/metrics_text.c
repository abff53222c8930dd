/* Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/
 * exposition_formats): each family once with its HELP and TYPE, then its samples;
 * counters end in _total; label values escaped. Pure: state in, text out. */
#include "daemon/metrics_text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct label {
	const char *name;
	const char *value;	/* NULL: label left out */
};

/* Per-SA identity labels; the ids keep two SAs of one connection apart (several
 * peers on one responder connection, or old and new SA around a rekey). */
struct sa_labels {
	char ike_id[16], child_id[16];
	struct label l[4];
};

static void put_str(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), 0 if there is none. s is NUL-terminated, and
 * a NUL is never a continuation byte, so no read goes past it. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : lo;
		hi = s[0] == 0xed ? 0x9f : hi;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : lo;
		hi = s[0] == 0xf4 ? 0x8f : hi;
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Escapes for a label value (\ " newline) or, with quote false, for HELP text
 * (\ newline only). */
static void put_escaped(struct buf *b, const char *str, bool quote)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		size_t n = utf8_seq(s);
		if (n == 0) {
			put_str(b, "\xef\xbf\xbd");	/* U+FFFD */
			s++;
		} else if (*s == '\\') {
			put_str(b, "\\\\");
			s++;
		} else if (*s == '\n') {
			put_str(b, "\\n");
			s++;
		} else if (*s == '"' && quote) {
			put_str(b, "\\\"");
			s++;
		} else {
			buf_put(b, s, n);
			s += n;
		}
	}
}

void metrics_put_label_value(struct buf *out, const char *s)
{
	put_escaped(out, s, true);
}

const char *metrics_counter_name(const char *key, char *out, size_t outlen)
{
	size_t n = 0;
	int w = snprintf(out, outlen, "tsunagi_%s_total", key);
	if (w < 0 || (size_t)w >= outlen) {
		snprintf(out, outlen, "tsunagi_invalid_total");
		return out;
	}
	/* Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*; the keys use '-'. */
	for (n = 0; out[n]; n++) {
		char c = out[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == ':'))
			out[n] = '_';
	}
	return out;
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	putf(b, "# HELP %s ", name);
	put_escaped(b, help, false);
	putf(b, "\n# TYPE %s %s\n", name, type);
}

static void sample_name(struct buf *b, const char *name, const struct label *l, size_t n)
{
	bool first = true;
	put_str(b, name);
	for (size_t i = 0; i < n; i++) {
		if (!l[i].value)
			continue;
		put_str(b, first ? "{" : ",");
		put_str(b, l[i].name);
		put_str(b, "=\"");
		put_escaped(b, l[i].value, true);
		put_str(b, "\"");
		first = false;
	}
	if (!first)
		put_str(b, "}");
}

static void sample_u64(struct buf *b, const char *name, const struct label *l, size_t n,
		       uint64_t v)
{
	sample_name(b, name, l, n);
	putf(b, " %" PRIu64 "\n", v);
}

static void sample_i64(struct buf *b, const char *name, const struct label *l, size_t n,
		       int64_t v)
{
	sample_name(b, name, l, n);
	putf(b, " %" PRId64 "\n", v);
}

static void sa_labels(struct sa_labels *s, const struct vici_ike_view *ike,
		      const struct vici_child_view *c)
{
	snprintf(s->ike_id, sizeof(s->ike_id), "%" PRIu32, ike->uniqueid);
	s->l[0] = (struct label){ "conn", ike->name ? ike->name : "" };
	s->l[1] = (struct label){ "ike_id", s->ike_id };
	s->l[2] = (struct label){ "child", NULL };
	s->l[3] = (struct label){ "child_id", NULL };
	if (c) {
		snprintf(s->child_id, sizeof(s->child_id), "%" PRIu32, c->uniqueid);
		s->l[2].value = c->name ? c->name : "";
		s->l[3].value = s->child_id;
	}
}

static void globals(const struct metrics_state *st, struct buf *b)
{
	struct label v = { "version", st->version ? st->version : "" };
	char name[96];
	family(b, "tsunagi_build_info", "gauge", "tsunagid's version; always 1.");
	sample_u64(b, "tsunagi_build_info", &v, 1, 1);
	family(b, "tsunagi_ike_sas", "gauge", "IKE SAs, half-open ones excluded.");
	sample_u64(b, "tsunagi_ike_sas", NULL, 0, st->ike_sas);
	family(b, "tsunagi_ike_half_open_sas", "gauge", "IKE SAs whose IKE_SA_INIT is not complete.");
	sample_u64(b, "tsunagi_ike_half_open_sas", NULL, 0, st->half_open);
	family(b, "tsunagi_child_sas", "gauge", "CHILD SAs.");
	sample_u64(b, "tsunagi_child_sas", NULL, 0, st->child_sas);
	family(b, "tsunagi_nat_flows", "gauge", "NAT translations in the flow table.");
	sample_u64(b, "tsunagi_nat_flows", NULL, 0, st->nat_flows);
	for (size_t i = 0; i < st->n_counters; i++) {
		const struct metric_counter *c = &st->counters[i];
		metrics_counter_name(c->name, name, sizeof(name));
		family(b, name, "counter", c->help ? c->help : c->name);
		sample_u64(b, name, NULL, 0, c->value);
	}
}

static void ike_families(const struct metrics_state *st, struct buf *b)
{
	char local[ADDR_STRLEN], remote[ADDR_STRLEN], rport[8];
	struct sa_labels s;
	family(b, "tsunagi_ike_sa_info", "gauge", "One per IKE SA, its properties as labels.");
	for (size_t i = 0; i < st->n_ikes; i++) {
		const struct vici_ike_view *ike = st->ikes[i];
		sa_labels(&s, ike, NULL);
		snprintf(rport, sizeof(rport), "%u", ike->remote.port);
		struct label l[] = {
			s.l[0], s.l[1],
			{ "state", ike->state ? ike->state : "" },
			{ "role", ike->initiator ? "initiator" : "responder" },
			{ "local", addr_ntop(&ike->local, local, sizeof(local)) },
			{ "remote", addr_ntop(&ike->remote, remote, sizeof(remote)) },
			{ "remote_port", rport },
			{ "local_id", ike->local_id },
			{ "remote_id", ike->remote_id },
		};
		sample_u64(b, "tsunagi_ike_sa_info", l, sizeof(l) / sizeof(l[0]), 1);
	}
	family(b, "tsunagi_ike_sa_established_seconds", "gauge",
	       "Seconds since the IKE SA was established.");
	for (size_t i = 0; i < st->n_ikes; i++) {
		const struct vici_ike_view *ike = st->ikes[i];
		if (!ike->state || strcmp(ike->state, "ESTABLISHED") != 0)
			continue;
		sa_labels(&s, ike, NULL);
		sample_i64(b, "tsunagi_ike_sa_established_seconds", s.l, 2, ike->established);
	}
}

static void child_info(struct buf *b, const struct vici_ike_view *ike,
		       const struct vici_child_view *c, const struct sa_labels *s)
{
	char spi_in[12], spi_out[12];
	snprintf(spi_in, sizeof(spi_in), "%08" PRIx32, c->spi_in);
	snprintf(spi_out, sizeof(spi_out), "%08" PRIx32, c->spi_out);
	struct label l[] = {
		s->l[0], s->l[1], s->l[2], s->l[3],
		{ "state", c->state ? c->state : "" },
		{ "mode", c->mode ? c->mode : "" },
		{ "spi_in", spi_in },
		{ "spi_out", spi_out },
		{ "encap", c->encap ? "yes" : "no" },
		{ "encr", c->encr_alg },
		{ "integ", c->integ_alg },
	};
	sample_u64(b, "tsunagi_child_sa_info", l, sizeof(l) / sizeof(l[0]), 1);
}

static void child_traffic(struct buf *b, const char *name, const struct sa_labels *s,
			  uint64_t in, uint64_t out)
{
	struct label l[5] = { s->l[0], s->l[1], s->l[2], s->l[3], { "dir", "in" } };
	sample_u64(b, name, l, 5, in);
	l[4].value = "out";
	sample_u64(b, name, l, 5, out);
}

static void child_drops(struct buf *b, const struct vici_child_view *c, const struct sa_labels *s)
{
	const struct { const char *cause; uint64_t v; } d[] = {
		{ "integrity", c->drops_integrity }, { "replay", c->drops_replay },
		{ "padding", c->drops_padding }, { "selector", c->drops_selector },
		{ "other", c->drops_other },
	};
	struct label l[5] = { s->l[0], s->l[1], s->l[2], s->l[3], { "cause", NULL } };
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		l[4].value = d[i].cause;
		sample_u64(b, "tsunagi_child_sa_drops_total", l, 5, d[i].v);
	}
}

enum child_family { CF_INFO, CF_BYTES, CF_PACKETS, CF_DROPS, CF_COUNT };

static void child_families(const struct metrics_state *st, struct buf *b)
{
	static const struct { const char *name, *type, *help; } f[CF_COUNT] = {
		[CF_INFO] = { "tsunagi_child_sa_info", "gauge",
			      "One per CHILD SA, its properties as labels." },
		[CF_BYTES] = { "tsunagi_child_sa_bytes_total", "counter",
			       "Bytes through the CHILD SA, as its byte lifetime counts them." },
		[CF_PACKETS] = { "tsunagi_child_sa_packets_total", "counter",
				 "Packets through the CHILD SA." },
		[CF_DROPS] = { "tsunagi_child_sa_drops_total", "counter",
			       "Inbound packets of the CHILD SA dropped, by cause." },
	};
	struct sa_labels s;
	for (int k = 0; k < CF_COUNT; k++) {
		family(b, f[k].name, f[k].type, f[k].help);
		for (size_t i = 0; i < st->n_ikes; i++) {
			const struct vici_ike_view *ike = st->ikes[i];
			for (size_t j = 0; j < ike->n_children; j++) {
				const struct vici_child_view *c = &ike->children[j];
				sa_labels(&s, ike, c);
				if (k == CF_INFO)
					child_info(b, ike, c, &s);
				else if (k == CF_BYTES)
					child_traffic(b, f[k].name, &s, c->bytes_in, c->bytes_out);
				else if (k == CF_PACKETS)
					child_traffic(b, f[k].name, &s, c->packets_in, c->packets_out);
				else
					child_drops(b, c, &s);
			}
		}
	}
}

void metrics_text(const struct metrics_state *st, struct buf *out)
{
	globals(st, out);
	ike_families(st, out);
	child_families(st, out);
}
