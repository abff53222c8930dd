/* The IKE side of the network: UDP 500 (ours) and UDP 4500 (the ESP engine's socket,
 * shared because ESP-in-UDP and IKE arrive on the same port), glued to the IKE core. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/log.h"

#define IKE_BUF 65536

static void on_ike_readable(evutil_socket_t fd, short what, void *arg);
static void on_natt_readable(evutil_socket_t fd, short what, void *arg);

static int open_udp(uint16_t port, uint32_t mark)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int on = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	/* Our own IKE packets must never enter a tunnel (the peer may sit inside the
	 * remote network): the mark makes them skip the tunnel routing table. */
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		log_err(LOG_NET, "SO_MARK on the IKE socket failed: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		log_err(LOG_NET, "unable to bind UDP port %u: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends with the source address we want, so replies leave from where the peer
 * sent its request. */
static void send_from(int fd, const struct addr *local, const struct addr *remote,
		      const struct iovec *iov, int iovcnt)
{
	struct sockaddr_storage ss;
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct msghdr mh = { 0 };
	mh.msg_name = &ss;
	mh.msg_namelen = addr_to_sockaddr(remote, &ss);
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = (size_t)iovcnt;
	if (local->family == AF_INET && !addr_is_any(local)) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
		struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(cm);
		pi->ipi_spec_dst = local->u.v4;
	}
	if (sendmsg(fd, &mh, 0) < 0) {
		char a[ADDR_STRLEN];
		log_info(LOG_NET, "sending to %s failed: %s", addr_fmt(remote, a, sizeof(a)),
			 strerror(errno));
	}
}

static void io_send(void *arg, const struct addr *local, const struct addr *remote,
		    const uint8_t *msg, size_t len)
{
	struct daemon *d = arg;
	static const uint8_t marker[4];
	if (local->port == d->settings.ike_port_natt) {
		int fd = esp_engine_natt_fd(d->esp);
		struct iovec iov[2] = { { (void *)marker, 4 }, { (void *)msg, len } };
		if (fd >= 0)
			send_from(fd, local, remote, iov, 2);
		return;
	}
	struct iovec iov = { (void *)msg, len };
	send_from(d->ike_fd, local, remote, &iov, 1);
}

static void io_keepalive(void *arg, const struct addr *local, const struct addr *remote)
{
	struct daemon *d = arg;
	uint8_t ff = 0xff;
	struct iovec iov = { &ff, 1 };
	int fd = esp_engine_natt_fd(d->esp);
	if (fd >= 0)
		send_from(fd, local, remote, &iov, 1);
}

static int io_pfkey(void *arg, const uint8_t *req, size_t len, struct buf *reply)
{
	struct daemon *d = arg;
	return esp_engine_pfkey_call(d->esp, req, len, reply);
}

/* The source address the kernel would pick towards remote (strongSwan does the same
 * with a routing lookup); a connected UDP socket sends nothing. */
static int io_route_src(void *arg, const struct addr *remote, struct addr *local)
{
	struct sockaddr_storage ss, me;
	socklen_t len = sizeof(me);
	struct daemon *d = arg;
	int fd = socket(remote->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint32_t mark = esp_engine_fwmark(d->esp);
	if (fd < 0)
		return -1;
	if (mark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	struct addr r = *remote;
	if (!r.port)
		r.port = 500;
	socklen_t sl = addr_to_sockaddr(&r, &ss);
	int rc = -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0 &&
	    getsockname(fd, (struct sockaddr *)&me, &len) == 0) {
		addr_from_sockaddr(local, (struct sockaddr *)&me);
		local->port = 0;
		rc = 0;
	}
	close(fd);
	return rc;
}

static void io_updown(void *arg, const struct ike_sa *sa, const struct child_sa *c, bool up)
{
	ctl_updown(arg, sa, c, up);
}

static void io_rekeyed(void *arg, const struct ike_sa *old_ike, const struct ike_sa *new_ike,
		       const struct child_sa *old_child, const struct child_sa *new_child)
{
	ctl_rekeyed(arg, old_ike, new_ike, old_child, new_child);
}

/* A virtual IP the peer assigned: on the TUN device while its IKE SA lasts. */
static void io_vip(void *arg, const struct ike_sa *sa, const struct addr *vip, bool up)
{
	struct daemon *d = arg;
	(void)sa;
	if (d->esp)
		esp_engine_vip(d->esp, vip, up);
}

void ike_io_env(struct daemon *d, struct ike_env *env)
{
	memset(env, 0, sizeof(*env));
	env->arg = d;
	env->send = io_send;
	env->keepalive = io_keepalive;
	env->pfkey = io_pfkey;
	env->route_src = io_route_src;
	env->updown = io_updown;
	env->rekeyed = io_rekeyed;
	env->vip = io_vip;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	daemon_schedule(d, ike_tick(d->ike, clock_now_ms()));
}

void daemon_schedule(struct daemon *d, ms_t next)
{
	ms_t now = clock_now_ms();
	ctl_check_pending(d);
	if (next == MS_NEVER) {
		evtimer_del(d->ev_timer);
		return;
	}
	ms_t delay = next > now ? next - now : 0;
	struct timeval tv = { (time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000 };
	evtimer_add(d->ev_timer, &tv);
}

static void deliver_to_ike(struct daemon *d, const struct addr *local, const struct addr *remote,
			   const uint8_t *pkt, size_t len)
{
	if (len < 28) {
		d->rx_malformed++;
		return;
	}
	ms_t now = clock_now_ms();
	conn_disabled_note_input(d, local, remote, pkt, len);
	ike_input(d->ike, local, remote, pkt, len, now);
	daemon_schedule(d, ike_tick_input(d->ike, now));
}

static void on_ike_readable(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	static uint8_t pkt[IKE_BUF];
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage from;
		char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct iovec iov = { pkt, sizeof(pkt) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(fd, &mh, 0);
		if (n < 0)
			return;
		struct addr local = { 0 }, remote;
		addr_from_sockaddr(&remote, (struct sockaddr *)&from);
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(cm);
				local.family = AF_INET;
				local.u.v4 = pi->ipi_addr;
			}
		}
		local.port = d->settings.ike_port;
		deliver_to_ike(d, &local, &remote, pkt, (size_t)n);
	}
}

static void on_natt_readable(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	static uint8_t pkt[IKE_BUF];
	struct addr local, remote;
	ssize_t n;
	for (int i = 0; i < 256 && (n = esp_engine_ike_recv(d->esp, pkt, sizeof(pkt), &local, &remote)) != 0; i++)
		if (n > 0)
			deliver_to_ike(d, &local, &remote, pkt, (size_t)n);
}

static void to_ike(void *arg, const uint8_t *msg, size_t len)
{
	struct daemon *d = arg;
	ike_pfkey_input(d->ike, msg, len, clock_now_ms());
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct pfkey_endpoint to = { to_ike, d };
	esp_engine_drain(d->esp, &to);
	daemon_schedule(d, ike_tick(d->ike, clock_now_ms()));
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	esp_engine_tick(d->esp, clock_now_ms());
	ctl_check_pending(d);
}

int ike_io_open(struct daemon *d)
{
	d->ike_fd = open_udp(d->settings.ike_port, esp_engine_fwmark(d->esp));
	if (d->ike_fd < 0)
		return -1;
	d->ev_ike = event_new(d->base, d->ike_fd, EV_READ | EV_PERSIST, on_ike_readable, d);
	d->ev_natt = event_new(d->base, esp_engine_ike_fd(d->esp), EV_READ | EV_PERSIST,
			       on_natt_readable, d);
	d->ev_notify = event_new(d->base, esp_engine_notify_fd(d->esp), EV_READ | EV_PERSIST,
				 on_notify, d);
	d->ev_timer = evtimer_new(d->base, on_timer, d);
	d->ev_tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	struct timeval sec = { 1, 0 };
	event_add(d->ev_ike, NULL);
	event_add(d->ev_natt, NULL);
	event_add(d->ev_notify, NULL);
	event_add(d->ev_tick, &sec);
	return 0;
}

void ike_io_close(struct daemon *d)
{
	struct event *evs[] = { d->ev_ike, d->ev_natt, d->ev_notify, d->ev_timer, d->ev_tick };
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (d->ike_fd >= 0)
		close(d->ike_fd);
	d->ike_fd = -1;
}
