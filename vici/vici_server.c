/* VICI server over a unix socket, on libevent bufferevents. */
#include "vici/vici_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/wipe.h"

#define MAX_EVENTS 64	/* event names a server declares (a bit each per client) */

struct vici_cmd {
	char *name;
	vici_cmd_fn fn;
	void *arg;
};

struct vici_conn {
	struct vici_server *srv;
	struct bufferevent *bev;	/* NULL once the client is gone (kept while pending) */
	struct event *resume;		/* re-runs input processing after a deferred reply */
	unsigned id;
	uint64_t events;		/* bit i: registered for srv->events[i] */
	bool busy;			/* a command is being handled */
	bool in_dispatch;		/* inside a handler: closing must wait */
	bool want_close;
	struct vici_conn *prev, *next;
};

struct vici_server {
	struct event_base *base;
	struct event *listen_ev;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct vici_server_limits lim;
	struct vici_cmd *cmds;
	size_t n_cmds;
	char *events[MAX_EVENTS];
	size_t n_events;
	struct vici_conn *conns;
	unsigned next_id;
	struct vici_server_stats st;
	struct buf scratch;		/* encoding buffer reused for every packet */
	struct buf packet;		/* the request being handled, wiped after */
};

int vici_uri_path(const char *uri, char *path, size_t pathlen)
{
	static const char prefix[] = "unix://";
	if (!uri || strncmp(uri, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	const char *p = uri + sizeof(prefix) - 1;
	size_t n = strlen(p);
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	if (n == 0 || n >= pathlen || n >= max)
		return -1;
	memcpy(path, p, n + 1);
	return 0;
}

/* ---- connections ---- */

static void conn_unlink_free(struct vici_conn *c)
{
	struct vici_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/* Drops the client. A connection with a pending command stays as a "zombie" until
 * the daemon responds, so the daemon's pointer stays valid. */
static void conn_close(struct vici_conn *c, const char *why)
{
	if (c->in_dispatch) {
		c->want_close = true;
		return;
	}
	if (c->bev) {
		log_ctl(LOG_VICI, "vici client %u disconnected%s%s", c->id, why ? ": " : "",
			why ? why : "");
		bufferevent_free(c->bev);
		c->bev = NULL;
		event_free(c->resume);
		c->resume = NULL;
		c->srv->st.clients--;
	}
	if (!c->busy)
		conn_unlink_free(c);
}

static void conn_drop(struct vici_conn *c, uint64_t *counter, const char *why)
{
	(*counter)++;
	log_info(LOG_VICI, "vici client %u dropped: %s", c->id, why);
	conn_close(c, NULL);
}

static int find_event(const struct vici_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->n_events; i++)
		if (strcmp(srv->events[i], name) == 0)
			return (int)i;
	return -1;
}

static const struct vici_cmd *find_cmd(const struct vici_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->n_cmds; i++)
		if (strcmp(srv->cmds[i].name, name) == 0)
			return &srv->cmds[i];
	return NULL;
}

/* Queues one packet; a client whose unread output exceeds the bound is dropped
 * rather than letting the daemon's memory grow without limit. */
static bool conn_send(struct vici_conn *c, uint8_t type, const char *name,
		      const struct vici_msg *msg)
{
	struct vici_server *srv = c->srv;
	if (!c->bev || c->want_close)
		return false;
	buf_reset(&srv->scratch);
	if (vici_packet_encode(&srv->scratch, type, name, msg) < 0) {
		log_err(LOG_VICI, "vici: cannot encode %s %s (too large or malformed)",
			vici_type_name(type), name ? name : "");
		return false;
	}
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) + srv->scratch.len > srv->lim.max_out) {
		conn_drop(c, &srv->st.overflow, "output not read (queue limit)");
		return false;
	}
	if (bufferevent_write(c->bev, srv->scratch.data, srv->scratch.len) < 0) {
		conn_close(c, "write failed");
		return false;
	}
	return true;
}

static void conn_finish_reply(struct vici_conn *c, const struct vici_msg *msg)
{
	struct vici_msg empty;
	vici_msg_init(&empty);
	c->busy = false;
	if (msg && !vici_msg_ok(msg)) {
		log_err(LOG_VICI, "vici: a command built a malformed response");
		vici_add_kv(&empty, "success", "no");
		vici_add_kv(&empty, "errmsg", "internal error: malformed response");
		msg = NULL;
	}
	conn_send(c, VICI_CMD_RESPONSE, NULL, msg ? msg : &empty);
	vici_msg_free(&empty);
}

/* A well-formed but oversized request is refused with a reason; the client stays. */
static void refuse_request(struct vici_conn *c, const char *name, const char *why)
{
	struct vici_msg resp;
	c->srv->st.too_many_elements++;
	log_info(LOG_VICI, "vici client %u: %s refused: %s", c->id, name, why);
	vici_msg_init(&resp);
	vici_add_kv(&resp, "success", "no");
	vici_add_kv(&resp, "errmsg", why);
	conn_send(c, VICI_CMD_RESPONSE, NULL, &resp);
	vici_msg_free(&resp);
}

static void dispatch_request(struct vici_conn *c, const struct vici_packet *pkt)
{
	struct vici_server *srv = c->srv;
	char err[128];
	bool over_limit;
	struct ctree *req = vici_parse_message_max(pkt->msg, pkt->msg_len, VICI_MAX_ELEMENTS,
						   &over_limit, err, sizeof(err));
	if (!req && over_limit) {
		refuse_request(c, pkt->name, err);
		return;
	}
	if (!req) {
		conn_drop(c, &srv->st.malformed, err);
		return;
	}
	const struct vici_cmd *cmd = find_cmd(srv, pkt->name);
	if (!cmd) {
		srv->st.unknown_cmds++;
		log_ctl(LOG_VICI, "vici client %u: unknown command '%s'", c->id, pkt->name);
		conn_send(c, VICI_CMD_UNKNOWN, NULL, NULL);
		ctree_free(req);
		return;
	}
	srv->st.requests++;
	log_ctl(LOG_VICI, "vici client %u: %s", c->id, pkt->name);
	struct vici_msg resp;
	vici_msg_init(&resp);
	c->busy = true;
	enum vici_reply r = cmd->fn(cmd->arg, c, req, &resp);
	if (r == VICI_REPLY_DONE) {
		if (c->busy)
			conn_finish_reply(c, &resp);
		else
			log_err(LOG_VICI, "vici: command '%s' responded twice", pkt->name);
	}
	vici_msg_wipe_free(&resp);	/* may have held secrets (get-shared etc.) */
	ctree_free(req);
}

static void dispatch_register(struct vici_conn *c, const struct vici_packet *pkt)
{
	int idx = find_event(c->srv, pkt->name);
	if (idx < 0) {
		conn_send(c, VICI_EVENT_UNKNOWN, NULL, NULL);
		return;
	}
	if (pkt->type == VICI_EVENT_REGISTER)
		c->events |= UINT64_C(1) << idx;
	else
		c->events &= ~(UINT64_C(1) << idx);
	conn_send(c, VICI_EVENT_CONFIRM, NULL, NULL);
}

static void handle_packet(struct vici_conn *c, const uint8_t *p, size_t len)
{
	struct vici_packet pkt;
	char err[128];
	if (vici_packet_decode(p, len, &pkt, err, sizeof(err)) < 0) {
		conn_drop(c, &c->srv->st.malformed, err);
		return;
	}
	switch (pkt.type) {
	case VICI_CMD_REQUEST:
		dispatch_request(c, &pkt);
		break;
	case VICI_EVENT_REGISTER:
	case VICI_EVENT_UNREGISTER:
		dispatch_register(c, &pkt);
		break;
	default:
		conn_drop(c, &c->srv->st.malformed, "packet type a client must not send");
		break;
	}
}

/* Requests may carry secrets (load-shared): libevent frees drained input unwiped, so
 * the packet's bytes are wiped in place first. */
static void wipe_input(struct evbuffer *in, size_t len)
{
	struct evbuffer_iovec v[8];
	struct evbuffer_ptr at;
	evbuffer_ptr_set(in, &at, 0, EVBUFFER_PTR_SET);
	while (len > 0) {
		int n = evbuffer_peek(in, (ev_ssize_t)len, &at, v, 8);
		if (n <= 0)
			return;
		for (int i = 0; i < n && i < 8 && len > 0; i++) {
			size_t k = v[i].iov_len < len ? v[i].iov_len : len;
			wipe(v[i].iov_base, k);
			len -= k;
			evbuffer_ptr_set(in, &at, k, EVBUFFER_PTR_ADD);
		}
	}
}

/* Handles every complete packet in the input buffer, unless a command is pending:
 * then input waits (bounded by the read high-watermark) until the reply is sent. */
static void process_input(struct vici_conn *c)
{
	while (c->bev && !c->busy) {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		size_t avail = evbuffer_get_length(in);
		uint8_t hdr[4];
		if (avail < sizeof(hdr))
			return;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		uint32_t len = get_u32(hdr);
		if (len > VICI_MAX_PACKET) {
			conn_drop(c, &c->srv->st.oversize, "packet over 512 KiB");
			return;
		}
		if (len == 0) {
			conn_drop(c, &c->srv->st.malformed, "empty packet");
			return;
		}
		if (avail < sizeof(hdr) + len)
			return;
		evbuffer_drain(in, sizeof(hdr));
		struct buf *pkt = &c->srv->packet;
		buf_reset(pkt);
		uint8_t *p = buf_append(pkt, len);
		if (!p) {
			conn_close(c, "out of memory");
			return;
		}
		evbuffer_copyout(in, p, len);
		wipe_input(in, len);
		evbuffer_drain(in, len);
		c->in_dispatch = true;
		handle_packet(c, p, len);
		c->in_dispatch = false;
		wipe(p, len);
		if (c->want_close) {
			c->want_close = false;
			conn_close(c, NULL);
			return;
		}
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	process_input(arg);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	process_input(arg);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct vici_conn *c = arg;
	if (what & BEV_EVENT_EOF)
		conn_close(c, NULL);
	else if (what & BEV_EVENT_ERROR)
		conn_close(c, strerror(EVUTIL_SOCKET_ERROR()));
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct vici_server *srv = arg;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (srv->st.clients >= srv->lim.max_clients) {
		srv->st.refused++;
		log_info(LOG_VICI, "vici: refusing client, %u already connected",
			 srv->st.clients);
		close(fd);
		return;
	}
	struct vici_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->id = ++srv->next_id;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->resume = event_new(srv->base, -1, 0, resume_cb, c);
	if (!c->bev || !c->resume) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->resume)
			event_free(c->resume);
		free(c);
		return;
	}
	/* Reading pauses once one maximal packet is buffered (a pending command). */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 4 + VICI_MAX_PACKET);
	bufferevent_setcb(c->bev, read_cb, NULL, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->st.clients++;
	srv->st.accepted++;
	log_ctl(LOG_VICI, "vici client %u connected", c->id);
}

/* ---- socket ---- */

/* A socket file nobody accepts on is left over from a crash: remove it. One that
 * answers belongs to a running daemon: refuse to steal it. */
static int remove_stale(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	if (lstat(path, &sb) < 0)
		return 0;
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "%s is in use by a running daemon", path);
		return -1;
	}
	unlink(path);
	return 0;
}

static int open_listener(struct vici_server *srv, char *err, size_t errlen)
{
	if (remove_stale(srv->path, err, errlen) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	memcpy(sun.sun_path, srv->path, strlen(srv->path) + 1);
	/* Only root (and the socket's group) may control the daemon. */
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", srv->path, strerror(errno));
		close(fd);
		return -1;
	}
	srv->fd = fd;
	return 0;
}

struct vici_server *vici_server_new(struct event_base *base, const char *uri,
				    const struct vici_server_limits *limits,
				    char *err, size_t errlen)
{
	struct vici_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->base = base;
	srv->fd = -1;
	buf_init(&srv->scratch);
	buf_init(&srv->packet);
	srv->lim = (struct vici_server_limits){ 64, 8u << 20 };
	if (limits) {
		if (limits->max_clients)
			srv->lim.max_clients = limits->max_clients;
		if (limits->max_out)
			srv->lim.max_out = limits->max_out;
	}
	if (vici_uri_path(uri, srv->path, sizeof(srv->path)) < 0) {
		snprintf(err, errlen, "unsupported VICI URI '%s' (expected unix:///path)",
			 uri ? uri : "");
		free(srv);
		return NULL;
	}
	if (open_listener(srv, err, errlen) < 0) {
		free(srv);
		return NULL;
	}
	srv->listen_ev = event_new(base, srv->fd, EV_READ | EV_PERSIST, accept_cb, srv);
	if (!srv->listen_ev || event_add(srv->listen_ev, NULL) < 0) {
		snprintf(err, errlen, "cannot watch the VICI socket");
		srv->path[0] = '\0';
		vici_server_free(srv);
		return NULL;
	}
	log_info(LOG_VICI, "vici: listening on %s", uri);
	return srv;
}

void vici_server_free(struct vici_server *srv)
{
	if (!srv)
		return;
	while (srv->conns) {
		struct vici_conn *c = srv->conns;
		srv->conns = c->next;
		if (c->bev)
			bufferevent_free(c->bev);
		if (c->resume)
			event_free(c->resume);
		free(c);
	}
	if (srv->listen_ev)
		event_free(srv->listen_ev);
	if (srv->fd >= 0) {
		close(srv->fd);
		if (srv->path[0])
			unlink(srv->path);
	}
	for (size_t i = 0; i < srv->n_cmds; i++)
		free(srv->cmds[i].name);
	free(srv->cmds);
	for (size_t i = 0; i < srv->n_events; i++)
		free(srv->events[i]);
	buf_free(&srv->scratch);
	buf_wipe_free(&srv->packet);
	free(srv);
}

int vici_server_register(struct vici_server *srv, const char *cmd, vici_cmd_fn fn, void *arg)
{
	if (!cmd || !*cmd || strlen(cmd) > VICI_MAX_NAME || !fn)
		return -1;
	for (size_t i = 0; i < srv->n_cmds; i++) {
		if (strcmp(srv->cmds[i].name, cmd) == 0) {
			srv->cmds[i].fn = fn;
			srv->cmds[i].arg = arg;
			return 0;
		}
	}
	struct vici_cmd *n = realloc(srv->cmds, (srv->n_cmds + 1) * sizeof(*n));
	if (!n)
		return -1;
	srv->cmds = n;
	char *name = strdup(cmd);
	if (!name)
		return -1;
	srv->cmds[srv->n_cmds++] = (struct vici_cmd){ name, fn, arg };
	return 0;
}

int vici_server_add_event(struct vici_server *srv, const char *event)
{
	if (!event || !*event || strlen(event) > VICI_MAX_NAME)
		return -1;
	if (find_event(srv, event) >= 0)
		return 0;
	if (srv->n_events >= MAX_EVENTS)
		return -1;
	char *name = strdup(event);
	if (!name)
		return -1;
	srv->events[srv->n_events++] = name;
	return 0;
}

bool vici_server_has_listeners(const struct vici_server *srv, const char *event)
{
	int idx = find_event(srv, event);
	if (idx < 0)
		return false;
	for (const struct vici_conn *c = srv->conns; c; c = c->next)
		if (c->bev && (c->events & (UINT64_C(1) << idx)))
			return true;
	return false;
}

unsigned vici_server_emit(struct vici_server *srv, const char *event, const struct vici_msg *msg)
{
	unsigned n = 0;
	int idx = find_event(srv, event);
	if (idx < 0)
		return 0;
	struct vici_conn *next;
	for (struct vici_conn *c = srv->conns; c; c = next) {
		next = c->next;	/* c may be dropped by conn_send */
		if (c->bev && (c->events & (UINT64_C(1) << idx)) &&
		    conn_send(c, VICI_EVENT, event, msg))
			n++;
	}
	srv->st.events_sent += n;
	return n;
}

void vici_server_get_stats(const struct vici_server *srv, struct vici_server_stats *st)
{
	*st = srv->st;
}

const char *vici_server_path(const struct vici_server *srv)
{
	return srv->path;
}

bool vici_conn_registered(const struct vici_conn *c, const char *event)
{
	int idx = find_event(c->srv, event);
	return idx >= 0 && (c->events & (UINT64_C(1) << idx));
}

bool vici_conn_event(struct vici_conn *c, const char *event, const struct vici_msg *msg)
{
	if (!c->bev || !vici_conn_registered(c, event))
		return false;
	if (!conn_send(c, VICI_EVENT, event, msg))
		return false;
	c->srv->st.events_sent++;
	return true;
}

void vici_conn_respond(struct vici_conn *c, const struct vici_msg *msg)
{
	if (!c->busy) {
		log_err(LOG_VICI, "vici client %u: response without a pending command", c->id);
		return;
	}
	if (!c->bev) {		/* the client left while we worked */
		c->busy = false;
		conn_unlink_free(c);
		return;
	}
	if (c->in_dispatch) {	/* answered from inside its own handler */
		conn_finish_reply(c, msg);
		return;
	}
	c->in_dispatch = true;	/* a send error must not free c under us */
	conn_finish_reply(c, msg);
	c->in_dispatch = false;
	if (c->want_close) {
		c->want_close = false;
		conn_close(c, NULL);
		return;
	}
	/* Input that arrived meanwhile is handled from the event loop, not from inside
	 * whatever daemon code called us. */
	event_active(c->resume, 0, 0);
}

bool vici_conn_alive(const struct vici_conn *c)
{
	return c->bev != NULL && !c->want_close;
}

unsigned vici_conn_id(const struct vici_conn *c)
{
	return c->id;
}
