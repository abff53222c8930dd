/* NFQUEUE shell of the NAT core (see nat_queue.h). Talks nfnetlink_queue through
 * libmnl and libnetfilter_queue's message builders; the socket is read with
 * recvmmsg and every verdict of a batch leaves in one sendmsg whose iovecs point at
 * the rewritten packets where they lie (no copy). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "daemon/nat_queue.h"
#include "esp/gso.h"
#include "lib/log.h"

#define SLOT_SIZE (65536 + 16384)	/* one queued packet's message, with room to grow */
#define HDR_SIZE 128			/* one verdict message without its packet */
#define TX_LIMIT (96 << 10)		/* bytes of verdicts per sendmsg (below the send buffer) */

struct nat_queue {
	struct mnl_socket *nl;
	uint16_t num;
	nat_queue_fn fn;
	void *arg;
	char outside[NAT_QUEUE_MAX_IFS][IF_NAMESIZE];
	unsigned outside_idx[NAT_QUEUE_MAX_IFS];
	int n_outside;
	bool unresolved;	/* an outside name had no interface yet */
	struct nat_queue_stats st;
	uint8_t *slots;		/* NAT_QUEUE_BATCH receive slots */
	uint8_t hdr[NAT_QUEUE_BATCH + 1][HDR_SIZE];
	struct mmsghdr msgs[NAT_QUEUE_BATCH];
	struct iovec rx_iov[NAT_QUEUE_BATCH];
	struct iovec tx_iov[3 * NAT_QUEUE_BATCH + 1];
};

static const uint8_t zero_pad[4];

static void resolve(struct nat_queue *q)
{
	q->unresolved = false;
	for (int i = 0; i < q->n_outside; i++) {
		q->outside_idx[i] = if_nametoindex(q->outside[i]);
		if (!q->outside_idx[i])
			q->unresolved = true;
	}
}

int nat_queue_set_outside(struct nat_queue *q, const char *const *outside)
{
	int n = 0;
	for (; outside && outside[n]; n++) {
		if (n == NAT_QUEUE_MAX_IFS || strlen(outside[n]) >= IF_NAMESIZE)
			return -1;
	}
	for (int i = 0; i < n; i++)
		strcpy(q->outside[i], outside[i]);
	q->n_outside = n;
	resolve(q);
	return 0;
}

/* No in-interface: queued from OUTPUT, where only the gateway's own ICMP errors to
 * a public address are sent here; they are answers from the outside's view. */
static enum nat_side side_of(const struct nat_queue *q, unsigned ifindex)
{
	if (!ifindex)
		return NAT_FROM_OUTSIDE;
	for (int i = 0; i < q->n_outside; i++) {
		if (q->outside_idx[i] == ifindex)
			return NAT_FROM_OUTSIDE;
	}
	return NAT_FROM_INSIDE;
}

/* Sends one configuration message and waits for its acknowledgement. */
static int config(struct nat_queue *q, struct nlmsghdr *nlh)
{
	char buf[8192];
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ssize_t n = mnl_socket_recvfrom(q->nl, buf, sizeof(buf));
	if (n < 0)
		return -1;
	return mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(q->nl), NULL, NULL) < 0
	    ? -1 : 0;
}

static int bind_queue(struct nat_queue *q)
{
	char buf[8192];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (config(q, nlh) < 0)
		return -1;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	/* F_GSO: super-packets come whole (the kernel segments after the verdict).
	 * No F_FAIL_OPEN: when the queue is full a packet is dropped, not forwarded
	 * untranslated (TCP retransmits; an inside address never leaks). */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 8192);
	return config(q, nlh);
}

struct nat_queue *nat_queue_open(uint16_t num, const char *const *outside,
				 nat_queue_fn fn, void *arg)
{
	struct nat_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->num = num;
	q->fn = fn;
	q->arg = arg;
	q->slots = malloc((size_t)NAT_QUEUE_BATCH * SLOT_SIZE);
	if (!q->slots || nat_queue_set_outside(q, outside) < 0) {
		errno = q->slots ? EINVAL : ENOMEM;
		goto fail;
	}
	q->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!q->nl || mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	int fd = mnl_socket_get_fd(q->nl), one = 1, rcv = 16 << 20, snd = 4 * TX_LIMIT;
	/* A lost message is a dropped packet, not an error for the whole socket. */
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* A netlink message larger than the send buffer is refused whole. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (bind_queue(q) < 0)
		goto fail;
	for (int i = 0; i < NAT_QUEUE_BATCH; i++) {
		q->rx_iov[i].iov_base = q->slots + (size_t)i * SLOT_SIZE;
		q->rx_iov[i].iov_len = SLOT_SIZE;
		q->msgs[i].msg_hdr.msg_iov = &q->rx_iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return q;
fail:;
	int err = errno;
	nat_queue_close(q);
	errno = err;
	return NULL;
}

void nat_queue_close(struct nat_queue *q)
{
	if (!q)
		return;
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->slots);
	free(q);
}

int nat_queue_fd(const struct nat_queue *q) { return mnl_socket_get_fd(q->nl); }
const struct nat_queue_stats *nat_queue_stats(const struct nat_queue *q) { return &q->st; }

/* A packet whose TCP/UDP checksum the kernel left partial (NFQA_SKB_CSUMNOTREADY:
 * the field holds the pseudo-header sum) gets its full checksum, so that the core's
 * incremental updates stay right once the rewritten packet loses its partial state
 * (a mangled skb is CHECKSUM_NONE). Super-packets are left alone: the kernel
 * segments them after the verdict and computes each segment's checksum itself,
 * for TCP from scratch, for UDP from the field, which must then stay the
 * pseudo-header sum (see udp_gso_pseudo). */
static void complete_csum(struct nat_queue *q, uint8_t *pkt, size_t len, bool gso)
{
	if (len < 20 || (pkt[0] >> 4) != 4)
		return;
	size_t ihl = (size_t)(pkt[0] & 15) * 4;
	unsigned off = pkt[9] == 6 ? 16 : pkt[9] == 17 ? 6 : 0;
	if (!off || gso || ihl < 20 || len < ihl + off + 2)
		return;
	uint16_t c = gso_csum(pkt + ihl, len - ihl, 0);
	if (pkt[9] == 17 && c == 0)
		c = 0xffff;
	pkt[ihl + off] = (uint8_t)(c >> 8);
	pkt[ihl + off + 1] = (uint8_t)c;
	q->st.csum_fixed++;
}

/* A rewritten UDP super-packet (UDP_SEGMENT): the kernel derives each segment's
 * checksum from the field, taken as the pseudo-header sum of the whole packet, and
 * sums the segment's header and data itself. The core's incremental update added
 * the port changes to it too, so the field is set again from the new addresses. */
static void udp_gso_pseudo(uint8_t *pkt, size_t len)
{
	size_t ihl = (size_t)(pkt[0] & 15) * 4;
	if (len < 20 || pkt[9] != 17 || ihl < 20 || len < ihl + 8 ||
	    (((pkt[6] << 8) | pkt[7]) & 0x3fff))	/* a fragment has no UDP header */
		return;
	uint8_t *uh = pkt + ihl;
	uint32_t sum = gso_pseudo_sum(pkt, false, 17, (size_t)((uh[4] << 8) | uh[5]));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uh[6] = (uint8_t)(sum >> 8);
	uh[7] = (uint8_t)sum;
}

struct queued {
	uint32_t id;
	uint8_t *data;
	size_t len, cap;
	unsigned indev;
	uint32_t skbinfo;
	bool ok;
};

static bool parse(struct nlmsghdr *nlh, size_t avail, struct queued *m)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	memset(m, 0, sizeof(*m));
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET) ||
	    nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return false;
	struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	m->id = ntohl(ph->packet_id);
	if (attr[NFQA_IFINDEX_INDEV])
		m->indev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
	if (attr[NFQA_SKB_INFO])
		m->skbinfo = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
	/* Known id from here on: the packet gets a verdict even when it is bad. */
	m->ok = attr[NFQA_PAYLOAD] && !attr[NFQA_CAP_LEN];
	if (m->ok) {
		m->data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		m->len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
		/* The payload is the message's last attribute: the rest of the slot is
		 * room for an inspection engine to grow the packet. */
		size_t room = avail - (size_t)(m->data - (uint8_t *)nlh);
		m->cap = room < 0xffff ? room : 0xffff;
	}
	return true;
}

/* Appends the verdict for m to the batch being built; n_iov grows by 1 to 3. */
static void add_verdict(struct nat_queue *q, int k, int *n_iov, const struct queued *m,
			int verdict, bool with_pkt)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put((char *)q->hdr[k], NFQNL_MSG_VERDICT, q->num);
	nfq_nlmsg_verdict_put(nlh, (int)m->id, verdict);
	size_t base = nlh->nlmsg_len;
	q->tx_iov[(*n_iov)++] = (struct iovec){ q->hdr[k], base };
	if (!with_pkt)
		return;
	/* NFQA_PAYLOAD's header in this slot, the packet from where it lies. */
	struct nlattr *a = (struct nlattr *)(q->hdr[k] + base);
	a->nla_type = NFQA_PAYLOAD;
	a->nla_len = (uint16_t)(MNL_ATTR_HDRLEN + m->len);
	nlh->nlmsg_len = (uint32_t)(base + MNL_ATTR_HDRLEN + MNL_ALIGN(m->len));
	q->tx_iov[*n_iov - 1].iov_len = base + MNL_ATTR_HDRLEN;
	q->tx_iov[(*n_iov)++] = (struct iovec){ m->data, m->len };
	if (MNL_ALIGN(m->len) != m->len)
		q->tx_iov[(*n_iov)++] = (struct iovec){ (void *)zero_pad, MNL_ALIGN(m->len) - m->len };
}

/* Translates one packet; returns the netfilter verdict and whether to send it back. */
static int handle(struct nat_queue *q, struct queued *m, bool *changed)
{
	*changed = false;
	q->st.packets++;
	if (!m->ok || m->len < 20) {
		q->st.bad++;
		return NF_DROP;
	}
	if (m->skbinfo & NFQA_SKB_CSUMNOTREADY)
		complete_csum(q, m->data, m->len, m->skbinfo & NFQA_SKB_GSO);
	struct nat_packet p = { m->data, m->len, m->cap, false };
	enum nat_verdict v = q->fn(q->arg, &p, side_of(q, m->indev));
	if (v == NAT_DROP) {
		q->st.dropped++;
		return NF_DROP;
	}
	if (v == NAT_LOCAL) {
		q->st.local++;
		return NF_ACCEPT;
	}
	if (p.len > m->cap || p.len < 20) {
		q->st.bad++;
		return NF_DROP;
	}
	m->len = p.len;
	*changed = p.changed;
	if (*changed)
		q->st.rewritten++;
	if (*changed && (m->skbinfo & NFQA_SKB_GSO) && (m->skbinfo & NFQA_SKB_CSUMNOTREADY))
		udp_gso_pseudo(m->data, m->len);
	return NF_ACCEPT;
}

/* Sends the batch: single verdicts first, then one batch ACCEPT for the packets
 * that went through unchanged (the kernel reads the messages in order). */
static void send_iov(struct nat_queue *q, int n_iov)
{
	if (!n_iov)
		return;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa),
			     .msg_iov = q->tx_iov, .msg_iovlen = (size_t)n_iov };
	if (sendmsg(nat_queue_fd(q), &mh, 0) < 0)
		q->st.send_errors++;
}

static void send_verdicts(struct nat_queue *q, int n_iov, int k, bool plain, uint32_t max_plain)
{
	if (plain) {
		struct nlmsghdr *nlh = nfq_nlmsg_put((char *)q->hdr[k], NFQNL_MSG_VERDICT_BATCH, q->num);
		nfq_nlmsg_verdict_put(nlh, (int)max_plain, NF_ACCEPT);
		q->tx_iov[n_iov++] = (struct iovec){ q->hdr[k], nlh->nlmsg_len };
	}
	send_iov(q, n_iov);
}

static int run_batch(struct nat_queue *q)
{
	int n = recvmmsg(nat_queue_fd(q), q->msgs, NAT_QUEUE_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			q->st.recv_errors++;
			return -1;
		}
		return 0;
	}
	if (q->unresolved)
		resolve(q);
	int n_iov = 0, k = 0;
	size_t tx_bytes = 0;
	bool plain = false;
	uint32_t max_plain = 0;
	for (int i = 0; i < n; i++) {
		size_t got = q->msgs[i].msg_len;
		struct nlmsghdr *nlh = q->rx_iov[i].iov_base;
		struct queued m;
		if (!mnl_nlmsg_ok(nlh, (int)got) || !parse(nlh, SLOT_SIZE, &m))
			continue;
		bool changed;
		int verdict = handle(q, &m, &changed);
		if (verdict == NF_ACCEPT && !changed) {
			plain = true;
			max_plain = m.id > max_plain ? m.id : max_plain;
			continue;
		}
		if (changed && tx_bytes + m.len > TX_LIMIT) {
			send_iov(q, n_iov);	/* verdicts of earlier ids go first */
			n_iov = 0;
			tx_bytes = 0;
		}
		tx_bytes += HDR_SIZE + (changed ? m.len : 0);
		add_verdict(q, k++, &n_iov, &m, verdict, changed);
	}
	send_verdicts(q, n_iov, k, plain, max_plain);
	return n;
}

int nat_queue_run(struct nat_queue *q, int rounds)
{
	int total = 0;
	for (int r = 0; r < rounds; r++) {
		int n = run_batch(q);
		if (n < 0)
			return total ? total : -1;
		total += n;
		if (n < NAT_QUEUE_BATCH)
			break;
	}
	return total;
}
