/* Blocking VICI client over a unix socket. */
#include "vici/vici_client.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vici/vici_server.h"	/* vici_uri_path */

struct vici_client {
	int fd;
	int timeout_ms;
	vici_event_fn on_event;
	void *event_arg;
	struct buf in;		/* one packet payload */
};

struct vici_client *vici_client_connect(const char *uri, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (vici_uri_path(uri, sun.sun_path, sizeof(sun.sun_path)) < 0) {
		snprintf(err, errlen, "unsupported VICI URI '%s' (expected unix:///path)",
			 uri ? uri : "");
		return NULL;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		snprintf(err, errlen, "connecting to '%s' failed: %s", uri, strerror(e));
		close(fd);
		errno = e;	/* the caller may explain EACCES */
		return NULL;
	}
	struct vici_client *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	cl->fd = fd;
	cl->timeout_ms = -1;
	buf_init(&cl->in);
	return cl;
}

void vici_client_close(struct vici_client *cl)
{
	if (!cl)
		return;
	close(cl->fd);
	buf_wipe_free(&cl->in);
	free(cl);
}

void vici_client_set_timeout(struct vici_client *cl, int ms)
{
	cl->timeout_ms = ms;
}

void vici_client_on_event(struct vici_client *cl, vici_event_fn fn, void *arg)
{
	cl->on_event = fn;
	cl->event_arg = arg;
}

int vici_client_fd(const struct vici_client *cl)
{
	return cl->fd;
}

int vici_client_send_raw(struct vici_client *cl, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = send(cl->fd, b, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads exactly n bytes; 1 ok, 0 timeout, -1 error/EOF. */
static int read_full(struct vici_client *cl, void *p, size_t n, int timeout_ms,
		     char *err, size_t errlen)
{
	uint8_t *b = p;
	while (n > 0) {
		struct pollfd pfd = { .fd = cl->fd, .events = POLLIN };
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(err, errlen, "timeout waiting for the daemon");
			return 0;
		}
		ssize_t got = r < 0 ? -1 : recv(cl->fd, b, n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			snprintf(err, errlen, "connection to the daemon lost%s%s",
				 got < 0 ? ": " : "", got < 0 ? strerror(errno) : "");
			return -1;
		}
		b += got;
		n -= (size_t)got;
	}
	return 1;
}

/* Reads one packet into cl->in and decodes it. 1 ok, 0 timeout, -1 error. */
static int read_packet(struct vici_client *cl, struct vici_packet *pkt, int timeout_ms,
		       char *err, size_t errlen)
{
	uint8_t hdr[4];
	int r = read_full(cl, hdr, sizeof(hdr), timeout_ms, err, errlen);
	if (r <= 0)
		return r;
	uint32_t len = get_u32(hdr);
	if (len == 0 || len > VICI_MAX_PACKET) {
		snprintf(err, errlen, "daemon sent a packet of invalid length %u", len);
		return -1;
	}
	buf_reset(&cl->in);
	uint8_t *p = buf_append(&cl->in, len);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* A packet once started must arrive whole: a half-read one cannot be resumed,
	 * so a timeout here is an error, not a "nothing yet". */
	if (read_full(cl, p, len, timeout_ms, err, errlen) <= 0)
		return -1;
	return vici_packet_decode(p, len, pkt, err, errlen) < 0 ? -1 : 1;
}

static int deliver_event(struct vici_client *cl, const struct vici_packet *pkt,
			 char *err, size_t errlen)
{
	struct ctree *msg = vici_parse_message(pkt->msg, pkt->msg_len, err, errlen);
	if (!msg)
		return -1;
	if (cl->on_event)
		cl->on_event(cl->event_arg, pkt->name, msg);
	ctree_free(msg);
	return 0;
}

static int send_packet(struct vici_client *cl, uint8_t type, const char *name,
		       const struct vici_msg *msg, char *err, size_t errlen)
{
	struct buf out;
	buf_init(&out);
	int r = vici_packet_encode(&out, type, name, msg);
	if (r == 0 && vici_client_send_raw(cl, out.data, out.len) < 0) {
		snprintf(err, errlen, "sending to the daemon failed: %s", strerror(errno));
		r = -1;
	} else if (r < 0) {
		snprintf(err, errlen, "request too large or malformed");
	}
	buf_wipe_free(&out);	/* load-shared carries secrets */
	return r;
}

static int event_op(struct vici_client *cl, uint8_t type, const char *event,
		    char *err, size_t errlen)
{
	if (send_packet(cl, type, event, NULL, err, errlen) < 0)
		return -1;
	for (;;) {
		struct vici_packet pkt;
		if (read_packet(cl, &pkt, cl->timeout_ms, err, errlen) <= 0)
			return -1;
		switch (pkt.type) {
		case VICI_EVENT:
			if (deliver_event(cl, &pkt, err, errlen) < 0)
				return -1;
			continue;
		case VICI_EVENT_CONFIRM:
			return 0;
		case VICI_EVENT_UNKNOWN:
			snprintf(err, errlen, "the daemon has no event '%s'", event);
			return -1;
		default:
			snprintf(err, errlen, "unexpected %s from the daemon",
				 vici_type_name(pkt.type));
			return -1;
		}
	}
}

int vici_client_register(struct vici_client *cl, const char *event, char *err, size_t errlen)
{
	return event_op(cl, VICI_EVENT_REGISTER, event, err, errlen);
}

int vici_client_unregister(struct vici_client *cl, const char *event, char *err, size_t errlen)
{
	return event_op(cl, VICI_EVENT_UNREGISTER, event, err, errlen);
}

struct ctree *vici_client_request(struct vici_client *cl, const char *cmd,
				  const struct vici_msg *req, char *err, size_t errlen)
{
	struct vici_msg empty;
	vici_msg_init(&empty);
	int r = send_packet(cl, VICI_CMD_REQUEST, cmd, req ? req : &empty, err, errlen);
	vici_msg_free(&empty);
	if (r < 0)
		return NULL;
	for (;;) {
		struct vici_packet pkt;
		if (read_packet(cl, &pkt, cl->timeout_ms, err, errlen) <= 0)
			return NULL;
		switch (pkt.type) {
		case VICI_EVENT:
			if (deliver_event(cl, &pkt, err, errlen) < 0)
				return NULL;
			continue;
		case VICI_CMD_RESPONSE:
			return vici_parse_message(pkt.msg, pkt.msg_len, err, errlen);
		case VICI_CMD_UNKNOWN:
			snprintf(err, errlen, "the daemon does not know the command '%s'", cmd);
			return NULL;
		default:
			snprintf(err, errlen, "unexpected %s from the daemon",
				 vici_type_name(pkt.type));
			return NULL;
		}
	}
}

int vici_client_wait(struct vici_client *cl, int timeout_ms, char *err, size_t errlen)
{
	struct vici_packet pkt;
	int r = read_packet(cl, &pkt, timeout_ms, err, errlen);
	if (r <= 0)
		return r;
	if (pkt.type != VICI_EVENT) {
		snprintf(err, errlen, "unexpected %s from the daemon", vici_type_name(pkt.type));
		return -1;
	}
	return deliver_event(cl, &pkt, err, errlen) < 0 ? -1 : 1;
}
