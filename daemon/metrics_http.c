/* The metrics endpoint: libevent's HTTP server on the one configured address,
 * answering GET (and HEAD) /metrics with metrics_text() and nothing else. A request
 * for another path or with another method is answered before any daemon state is
 * read. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/nat_queue.h"
#include "nat/nat.h"
#include "daemon/views.h"
#include "ike/ike_sa.h"
#include "lib/log.h"

/* Bounds against slow and huge clients: a connection silent for this long is closed,
 * and headers or a body larger than these are refused by libevent before the handler
 * runs. A scrape is one small request. */
#define METRICS_TIMEOUT_S 5
#define METRICS_MAX_HEADERS 4096
#define METRICS_MAX_BODY 1024

/* Every method libevent knows reaches the handler, so that the answer to a wrong
 * one is always 405 (libevent itself says 501 to a method it was not told about). */
#define METRICS_METHODS (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | \
	EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | \
	EVHTTP_REQ_PATCH)

/* The state as metrics_text() takes it: the counters and a view of every SA. */
static int collect(struct daemon *d, struct buf *out)
{
	struct metric_counter ctr[DAEMON_COUNTERS_MAX];
	struct ike_stats st;
	size_t n = 0, i = 0;
	for (const struct ike_sa *sa = ike_sa_first(d->ike); sa; sa = ike_sa_next(sa))
		n++;
	struct ike_view_storage *views = calloc(n ? n : 1, sizeof(*views));
	const struct vici_ike_view **ikes = calloc(n ? n : 1, sizeof(*ikes));
	if (!views || !ikes) {
		free(views);
		free(ikes);
		return -1;
	}
	for (const struct ike_sa *sa = ike_sa_first(d->ike); sa && i < n; sa = ike_sa_next(sa)) {
		views_ike(d, sa, &views[i]);
		ikes[i] = &views[i].ike;
		i++;
	}
	ike_get_stats(d->ike, &st);
	struct nat_counters nc;
	struct nat_queue_stats nq;
	nat_io_counters(d, &nc, &nq);
	struct metrics_state ms = {
		.nat_flows = nc.flows_active,
		.version = PACKAGE_VERSION,
		.ike_sas = st.ike_sas,
		.half_open = st.half_open,
		.child_sas = st.child_sas,
		.counters = ctr,
		.n_counters = daemon_counters(d, ctr),
		.ikes = ikes,
		.n_ikes = i,
	};
	metrics_text(&ms, out);
	free(views);
	free(ikes);
	return out->oom ? -1 : 0;
}

static void reply(struct evhttp_request *req, int code, const char *reason,
		  const char *type, const void *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	if (b)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);
	reply(req, code, reason, "text/plain; charset=utf-8", body, (size_t)n);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct daemon *d = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	if (!path || strcmp(path, "/metrics") != 0) {
		reply_text(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed");
		return;
	}
	struct buf text;
	buf_init(&text);
	if (collect(d, &text) < 0)
		reply_text(req, HTTP_INTERNAL, "Internal Server Error");
	else
		reply(req, HTTP_OK, "OK", METRICS_CONTENT_TYPE, text.data, text.len);
	buf_free(&text);
}

static const char *listen_fmt(const struct addr *a, char *out, size_t len)
{
	char ip[ADDR_STRLEN];
	addr_ntop(a, ip, sizeof(ip));
	snprintf(out, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
	return out;
}

void metrics_http_close(struct daemon *d)
{
	char where[ADDR_STRLEN + 8];
	if (!d->metrics)
		return;
	evhttp_free(d->metrics);
	d->metrics = NULL;
	log_info(LOG_DMN, "metrics: stopped listening on %s",
		 listen_fmt(&d->metrics_addr, where, sizeof(where)));
	memset(&d->metrics_addr, 0, sizeof(d->metrics_addr));
}

int metrics_http_apply(struct daemon *d, const struct addr *listen)
{
	char ip[ADDR_STRLEN], where[ADDR_STRLEN + 8];
	if (d->metrics && listen->family && addr_equal(listen, &d->metrics_addr))
		return 0;
	metrics_http_close(d);
	if (!listen->family)
		return 0;
	struct evhttp *h = evhttp_new(d->base);
	if (!h)
		return -1;
	evhttp_set_timeout(h, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(h, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(h, METRICS_MAX_BODY);
	evhttp_set_allowed_methods(h, METRICS_METHODS);
	evhttp_set_gencb(h, on_request, d);
	listen_fmt(listen, where, sizeof(where));
	if (!evhttp_bind_socket_with_handle(h, addr_ntop(listen, ip, sizeof(ip)), listen->port)) {
		log_err(LOG_DMN, "metrics: unable to listen on %s: %s", where,
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		evhttp_free(h);
		return -1;
	}
	d->metrics = h;
	d->metrics_addr = *listen;
	log_info(LOG_DMN, "metrics: listening on http://%s/metrics", where);
	return 0;
}
