/* tsunagictl --monitor: the SA events (ike-updown, child-updown, ike-rekey,
 * child-rekey) as one timestamped line each, in key=value form:
 *
 *   2026-11-29T10:45:01.123Z child-up conn=s2s child=net ike-id=1 child-id=2
 *       peer=198.51.100.2[4500] spi-in=c1234567 spi-out=c7654321 state=INSTALLED
 *
 * tsunagictl --watch: a table of the CHILD SAs with their rates (bytes and packets per
 * second in and out) every --interval seconds; the screen is redrawn when stdout is a
 * terminal, tables follow each other otherwise. Both end after --count events or
 * tables, or after --timeout seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tools/ctl.h"

static const char *const sa_events[] = { "ike-updown", "child-updown", "ike-rekey", "child-rekey" };

static const char *s(const struct ctree *t, const char *key)
{
	return vici_find_str(t, key, "");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "2026-11-29T10:45:01.123Z" */
static const char *stamp(char *out, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char sec[20];	/* "2026-11-29T10:45:01" */
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03dZ", sec, (int)(tv.tv_usec / 1000 % 1000));
	return out;
}

/* The first section below t (an event's IKE SA, a child-sas entry). */
static const struct ctree *first_section(const struct ctree *t)
{
	for (const struct ctree *c = t ? t->child : NULL; c; c = c->next)
		if (ctree_is_section(c))
			return c;
	return NULL;
}

static void print_peer(const struct ctree *ike)
{
	printf(" peer=%s[%s]", s(ike, "remote-host"), s(ike, "remote-port"));
}

static void print_ike(const char *ev, const struct ctree *ike)
{
	printf(" %s conn=%s ike-id=%s", ev, ike->name, s(ike, "uniqueid"));
	print_peer(ike);
	printf(" spi-i=%s spi-r=%s state=%s", s(ike, "initiator-spi"), s(ike, "responder-spi"),
	       s(ike, "state"));
}

static void print_child(const char *ev, const struct ctree *ike, const struct ctree *c)
{
	printf(" %s conn=%s child=%s ike-id=%s child-id=%s", ev, ike->name, s(c, "name"),
	       s(ike, "uniqueid"), s(c, "uniqueid"));
	print_peer(ike);
	printf(" spi-in=%s spi-out=%s state=%s", s(c, "spi-in"), s(c, "spi-out"), s(c, "state"));
}

static void print_ike_rekey(const struct ctree *sec)
{
	const struct ctree *o = ctree_find(sec, "old"), *n = ctree_find(sec, "new");
	if (!o || !n)
		return;
	printf(" ike-rekey conn=%s ike-id=%s new-ike-id=%s", sec->name, s(o, "uniqueid"),
	       s(n, "uniqueid"));
	print_peer(n);
	printf(" spi-i=%s spi-r=%s new-spi-i=%s new-spi-r=%s", s(o, "initiator-spi"),
	       s(o, "responder-spi"), s(n, "initiator-spi"), s(n, "responder-spi"));
}

static void print_child_rekey(const struct ctree *ike, const struct ctree *c)
{
	const struct ctree *o = ctree_find(c, "old"), *n = ctree_find(c, "new");
	if (!o || !n)
		return;
	printf(" child-rekey conn=%s child=%s ike-id=%s child-id=%s new-child-id=%s", ike->name,
	       s(o, "name"), s(ike, "uniqueid"), s(o, "uniqueid"), s(n, "uniqueid"));
	print_peer(ike);
	printf(" spi-in=%s spi-out=%s new-spi-in=%s new-spi-out=%s", s(o, "spi-in"),
	       s(o, "spi-out"), s(n, "spi-in"), s(n, "spi-out"));
}

struct monitor {
	struct ctl *ctl;
	unsigned seen;
};

static void on_sa_event(void *arg, const char *event, const struct ctree *msg)
{
	struct monitor *mon = arg;
	char ts[40];
	const struct ctree *ike = first_section(msg);
	const struct ctree *child = first_section(ike ? ctree_find(ike, "child-sas") : NULL);
	bool up = strcmp(vici_find_str(msg, "up", "no"), "yes") == 0;
	if (!ike)
		return;
	mon->seen++;
	stamp(ts, sizeof(ts));
	if (mon->ctl->fmt == CTL_JSON || mon->ctl->fmt == CTL_RAW || mon->ctl->fmt == CTL_PRETTY) {
		/* One JSON object per line: time, event and the event as VICI sent it. */
		printf("{\"time\":\"%s\",\"event\":\"%s\",\"data\":", ts, event);
		vici_write_json(stdout, msg, false);
		printf("}\n");
	} else {
		fputs(ts, stdout);
		if (strcmp(event, "ike-updown") == 0)
			print_ike(up ? "ike-up" : "ike-down", ike);
		else if (strcmp(event, "child-updown") == 0 && child)
			print_child(up ? "child-up" : "child-down", ike, child);
		else if (strcmp(event, "ike-rekey") == 0)
			print_ike_rekey(ike);
		else if (strcmp(event, "child-rekey") == 0 && child)
			print_child_rekey(ike, child);
		else
			printf(" %s conn=%s", event, ike->name);
		putchar('\n');
	}
	fflush(stdout);
}

int ctl_monitor(struct ctl *ctl, unsigned count, unsigned timeout_s)
{
	char err[512];
	struct monitor mon = { ctl, 0 };
	for (size_t i = 0; i < sizeof(sa_events) / sizeof(sa_events[0]); i++) {
		if (vici_client_register(ctl->cl, sa_events[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "registering for %s failed: %s\n", sa_events[i], err);
			return 1;
		}
	}
	vici_client_on_event(ctl->cl, on_sa_event, &mon);
	double end = timeout_s ? now_s() + timeout_s : 0;
	while (!count || mon.seen < count) {
		int wait_ms = -1;
		if (end) {
			double left = end - now_s();
			if (left <= 0)
				break;
			wait_ms = (int)(left * 1000) + 1;
		}
		if (vici_client_wait(ctl->cl, wait_ms, err, sizeof(err)) < 0) {
			fprintf(stderr, "monitor: %s\n", err);
			return 1;
		}
	}
	if (count && mon.seen < count) {
		fprintf(stderr, "monitor: %u of %u events within %u s\n", mon.seen, count, timeout_s);
		return 1;
	}
	return 0;
}

/* ---- --watch ---- */

struct sample {
	unsigned long long id, bytes_in, bytes_out, pkts_in, pkts_out;
};

struct watch {
	struct sample *prev, *cur;
	size_t n_prev, n_cur, cap;
	double t_prev;
};

static unsigned long long num(const struct ctree *t, const char *key)
{
	return strtoull(vici_find_str(t, key, "0"), NULL, 10);
}

static const struct sample *find_prev(const struct watch *w, unsigned long long id)
{
	for (size_t i = 0; i < w->n_prev; i++)
		if (w->prev[i].id == id)
			return &w->prev[i];
	return NULL;
}

/* A rate column: "-" without an earlier sample of this SA (or after clear counters). */
static void rate(char *out, size_t len, unsigned long long now, unsigned long long before,
		 bool known, double dt)
{
	if (!known || now < before || dt <= 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.0f", (double)(now - before) / dt);
}

static bool record(struct watch *w, const struct sample *x)
{
	if (w->n_cur == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct sample *p = realloc(w->cur, cap * sizeof(*p)), *q;
		if (!p)
			return false;
		w->cur = p;
		if (!(q = realloc(w->prev, cap * sizeof(*q))))
			return false;
		w->prev = q;
		w->cap = cap;
	}
	w->cur[w->n_cur++] = *x;
	return true;
}

static void print_table(struct watch *w, const struct ctree *sas, double dt, unsigned interval)
{
	char ts[40];
	unsigned n_ike = 0, n_child = 0;
	for (const struct ctree *sa = sas->child; sa; sa = sa->next)
		if (ctree_is_section(sa))
			n_ike++;
	printf("tsunagictl --watch every %us, %s, %u IKE SA%s\n", interval, stamp(ts, sizeof(ts)),
	       n_ike, n_ike == 1 ? "" : "s");
	printf("%-20s %-22s %-10s %-8s %-8s %10s %10s %8s %8s\n", "Conn/Child", "Peer", "State",
	       "SPI-in", "SPI-out", "In-B/s", "Out-B/s", "In-p/s", "Out-p/s");
	w->n_cur = 0;
	for (const struct ctree *sa = sas->child; sa; sa = sa->next) {
		const struct ctree *cs = ctree_is_section(sa) ? ctree_find(sa, "child-sas") : NULL;
		for (const struct ctree *c = cs ? cs->child : NULL; c; c = c->next) {
			if (!ctree_is_section(c))
				continue;
			struct sample x = { num(c, "uniqueid"), num(c, "bytes-in"), num(c, "bytes-out"),
					    num(c, "packets-in"), num(c, "packets-out") };
			if (!record(w, &x))	/* before find_prev: it may move w->prev */
				return;
			const struct sample *p = find_prev(w, x.id);
			struct sample none = { 0 };
			char name[64], peer[64], bi[24], bo[24], pi[24], po[24];
			snprintf(name, sizeof(name), "%s/%s", sa->name, s(c, "name"));
			snprintf(peer, sizeof(peer), "%s[%s]", s(sa, "remote-host"), s(sa, "remote-port"));
			rate(bi, sizeof(bi), x.bytes_in, (p ? p : &none)->bytes_in, p, dt);
			rate(bo, sizeof(bo), x.bytes_out, (p ? p : &none)->bytes_out, p, dt);
			rate(pi, sizeof(pi), x.pkts_in, (p ? p : &none)->pkts_in, p, dt);
			rate(po, sizeof(po), x.pkts_out, (p ? p : &none)->pkts_out, p, dt);
			printf("%-20s %-22s %-10s %-8s %-8s %10s %10s %8s %8s\n", name, peer,
			       s(c, "state"), s(c, "spi-in"), s(c, "spi-out"), bi, bo, pi, po);
			n_child++;
		}
	}
	if (n_child == 0)
		printf("(no CHILD SAs)\n");
	struct sample *t = w->prev;	/* this sample is the next one's "before" */
	w->prev = w->cur;
	w->n_prev = w->n_cur;
	w->cur = t;
}

int ctl_watch(struct ctl *ctl, unsigned interval_s, unsigned count, unsigned timeout_s)
{
	struct watch w = { 0 };
	bool tty = isatty(STDOUT_FILENO);
	double start = now_s(), end = timeout_s ? start + timeout_s : 0;
	int rc = 0;
	for (unsigned n = 0; !count || n < count; n++) {
		struct ctree *sas = ctl_fetch(ctl, "list-sa", "list-sas");
		double t = now_s();
		if (!sas) {
			rc = 1;
			break;
		}
		if (tty)
			fputs("\033[H\033[2J", stdout);	/* redraw in place */
		else if (n)
			putchar('\n');
		print_table(&w, sas, n ? t - w.t_prev : 0, interval_s);
		fflush(stdout);
		ctree_free(sas);
		w.t_prev = t;
		if ((count && n + 1 >= count) || (end && t + interval_s > end))
			break;
		/* The next sample interval_s after this one, whatever the fetch took. */
		double next = t + interval_s - now_s();
		if (next > 0)
			usleep((useconds_t)(next * 1e6));
	}
	free(w.prev);
	free(w.cur);
	return rc;
}
