/* TUN device and rtnetlink set-up (see tun.h). */
#include "esp/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

/* --- rtnetlink request helper ------------------------------------------------- */

struct nlreq {
	struct nlmsghdr *h;
	uint8_t buf[512];
};

static void *nlreq_init(struct nlreq *r, uint16_t type, uint16_t flags, size_t hdrlen)
{
	memset(r->buf, 0, sizeof(r->buf));
	r->h = (struct nlmsghdr *)r->buf;
	r->h->nlmsg_type = type;
	r->h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->h->nlmsg_len = NLMSG_LENGTH(hdrlen);
	return NLMSG_DATA(r->h);
}

static void nlreq_attr(struct nlreq *r, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->h->nlmsg_len);
	size_t alen = RTA_LENGTH(len);
	if (off + RTA_ALIGN(alen) > sizeof(r->buf))
		return;		/* requests here are small and fixed; cannot happen */
	struct rtattr *a = (struct rtattr *)(r->buf + off);
	a->rta_type = type;
	a->rta_len = (unsigned short)alen;
	memcpy(RTA_DATA(a), data, len);
	r->h->nlmsg_len = (uint32_t)(off + RTA_ALIGN(alen));
}

static void nlreq_u32(struct nlreq *r, uint16_t type, uint32_t v)
{
	nlreq_attr(r, type, &v, sizeof(v));
}

/* Sends the request and waits for its ack. Returns 0 or -errno. */
static int nlreq_send(struct nlreq *r)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static uint32_t seq;
	r->h->nlmsg_seq = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	int ret = -EIO;
	if (sendto(fd, r->buf, r->h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		uint8_t ans[1024];
		ssize_t n = recv(fd, ans, sizeof(ans), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		int len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)ans; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != r->h->nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
					goto out;
				const struct nlmsgerr *e = NLMSG_DATA(h);
				ret = e->error;
				goto out;
			}
		}
	}
out:
	close(fd);
	return ret;
}

/* --- device ------------------------------------------------------------------ */

static int tun_link_up(int ifindex, unsigned mtu)
{
	struct nlreq r;
	struct ifinfomsg *ifi = nlreq_init(&r, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu)
		nlreq_u32(&r, IFLA_MTU, mtu);
	return nlreq_send(&r);
}

static int tun_attach_queue(const char *name, short flags, char *actual)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		fd = open("/dev/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = flags;
	if (name && *name)
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	memcpy(actual, ifr.ifr_name, IFNAMSIZ);
	actual[IFNAMSIZ - 1] = '\0';
	return fd;
}

/* The offloads wanted, from the most to the least; the first the kernel takes. */
static void tun_offload(struct tun *t)
{
	static const unsigned want[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM,
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (ioctl(t->fd[0], TUNSETOFFLOAD, (unsigned long)want[i]) == 0) {
			t->offload = want[i];
			return;
		}
	}
	t->offload = 0;
}

int tun_open(struct tun *t, const char *name, unsigned mtu, int nqueues, bool offload)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < TUN_MAX_QUEUES; i++)
		t->fd[i] = -1;
	if (nqueues < 1)
		nqueues = 1;
	if (nqueues > TUN_MAX_QUEUES)
		nqueues = TUN_MAX_QUEUES;
	short flags = IFF_TUN | IFF_NO_PI;
	if (nqueues > 1)
		flags |= IFF_MULTI_QUEUE;
	if (offload)
		flags |= IFF_VNET_HDR;
	for (int i = 0; i < nqueues; i++) {
		/* Queues after the first attach to the name the kernel gave the first. */
		int fd = tun_attach_queue(i ? t->name : name, flags, t->name);
		if (fd == -EINVAL && !i && (flags & IFF_VNET_HDR)) {
			flags &= (short)~IFF_VNET_HDR;	/* a kernel without it: go on plain */
			fd = tun_attach_queue(name, flags, t->name);
		}
		if (fd < 0) {
			log_err(LOG_ESP, "cannot open TUN device %s: %s", name && *name ? name : "",
				strerror(-fd));
			tun_close(t);
			return fd;
		}
		t->fd[i] = fd;
		t->nqueues = i + 1;
	}
	t->vnet = flags & IFF_VNET_HDR;
	if (t->vnet)
		tun_offload(t);
	t->ifindex = (int)if_nametoindex(t->name);
	if (!t->ifindex) {
		int err = -errno;
		tun_close(t);
		return err;
	}
	int err = tun_link_up(t->ifindex, mtu);
	if (err < 0) {
		log_err(LOG_ESP, "cannot bring %s up with MTU %u: %s", t->name, mtu, strerror(-err));
		tun_close(t);
		return err;
	}
	log_ctl(LOG_ESP, "TUN device %s up (MTU %u, %d queue%s, offloads %s%s%s%s)", t->name, mtu,
		t->nqueues, t->nqueues == 1 ? "" : "s", t->vnet ? "vnet" : "none",
		t->offload & TUN_F_CSUM ? " csum" : "", t->offload & TUN_F_TSO4 ? " tso" : "",
		t->offload & TUN_F_USO4 ? " uso" : "");
	return 0;
}

void tun_close(struct tun *t)
{
	for (int i = 0; i < TUN_MAX_QUEUES; i++) {
		if (t->fd[i] >= 0)
			close(t->fd[i]);
		t->fd[i] = -1;
	}
	t->nqueues = 0;
}

/* --- routes and rules -------------------------------------------------------- */

static int tun_route(const struct tun *t, bool add, uint32_t table, const struct addr *dst,
		     int plen)
{
	size_t alen = addr_len(dst);
	if (!alen || plen < 0 || (size_t)plen > alen * 8)
		return -EINVAL;
	struct nlreq r;
	struct rtmsg *rt = nlreq_init(&r, add ? RTM_NEWROUTE : RTM_DELROUTE,
				      add ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(*rt));
	rt->rtm_family = dst->family;
	rt->rtm_dst_len = (unsigned char)plen;
	rt->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = RT_SCOPE_LINK;
	rt->rtm_type = RTN_UNICAST;
	nlreq_u32(&r, RTA_TABLE, table);
	nlreq_attr(&r, RTA_DST, dst->u.b, alen);
	nlreq_u32(&r, RTA_OIF, (uint32_t)t->ifindex);
	int err = nlreq_send(&r);
	if ((add && err == -EEXIST) || (!add && err == -ESRCH))
		err = 0;
	return err;
}

/* A host address on the device (a virtual IP): routes through the device then take it
 * as their source. IPv6 skips duplicate address detection, which would delay it. */
static int tun_addr(const struct tun *t, bool add, const struct addr *a)
{
	size_t alen = addr_len(a);
	if (!alen)
		return -EINVAL;
	struct nlreq r;
	struct ifaddrmsg *ifa = nlreq_init(&r, add ? RTM_NEWADDR : RTM_DELADDR,
					   add ? NLM_F_CREATE | NLM_F_REPLACE : 0, sizeof(*ifa));
	ifa->ifa_family = a->family;
	ifa->ifa_prefixlen = (unsigned char)(alen * 8);
	ifa->ifa_flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)t->ifindex;
	nlreq_attr(&r, IFA_LOCAL, a->u.b, alen);
	nlreq_attr(&r, IFA_ADDRESS, a->u.b, alen);
	int err = nlreq_send(&r);
	if (!add && (err == -EADDRNOTAVAIL || err == -ENODEV))
		err = 0;
	return err;
}

int tun_addr_add(const struct tun *t, const struct addr *a)
{
	return tun_addr(t, true, a);
}

int tun_addr_del(const struct tun *t, const struct addr *a)
{
	return tun_addr(t, false, a);
}

int tun_route_add(const struct tun *t, uint32_t table, const struct addr *dst, int plen)
{
	return tun_route(t, true, table, dst, plen);
}

int tun_route_del(const struct tun *t, uint32_t table, const struct addr *dst, int plen)
{
	return tun_route(t, false, table, dst, plen);
}

static int tun_rule(bool add, int family, uint32_t table, uint32_t fwmark, uint32_t priority)
{
	struct nlreq r;
	struct fib_rule_hdr *fr = nlreq_init(&r, add ? RTM_NEWRULE : RTM_DELRULE,
					     add ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(*fr));
	fr->family = (uint8_t)family;
	fr->action = FR_ACT_TO_TBL;
	fr->table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	if (fwmark)
		fr->flags = FIB_RULE_INVERT;
	nlreq_u32(&r, FRA_TABLE, table);
	nlreq_u32(&r, FRA_PRIORITY, priority);
	if (fwmark) {
		nlreq_u32(&r, FRA_FWMARK, fwmark);
		nlreq_u32(&r, FRA_FWMASK, fwmark);
	}
	int err = nlreq_send(&r);
	if ((add && err == -EEXIST) || (!add && (err == -ENOENT || err == -ESRCH)))
		err = 0;
	return err;
}

int tun_rule_add(int family, uint32_t table, uint32_t fwmark, uint32_t priority)
{
	return tun_rule(true, family, table, fwmark, priority);
}

int tun_rule_del(int family, uint32_t table, uint32_t fwmark, uint32_t priority)
{
	return tun_rule(false, family, table, fwmark, priority);
}
