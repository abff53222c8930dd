/* The NAT's VICI commands: tsunagi-list-nat streams one "list-nat" event per
 * translation (as Cisco's "show xlate detail"), filtered by an address;
 * tsunagi-flush-nat ends every translation. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "lib/clock.h"
#include "nat/nat.h"

#define LIST_NAT_MAX 100000	/* events per request: a full table is a million */

struct list_ctx {
	struct vici_conn *c;
	struct vici_msg ev;
	uint32_t addr;		/* host order; 0 = every flow */
	size_t sent;
	bool truncated;
};

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 47: return "GRE";
	case 50: return "ESP";
	default: snprintf(buf, len, "%u", p); return buf;
	}
}

static void add_ep(struct vici_msg *m, const char *key, uint32_t a, uint16_t port)
{
	struct in_addr in = { htonl(a) };
	char s[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &in, s, sizeof(s));
	vici_add_kvf(m, key, "%s:%u", s, port);
}

static int list_one(const struct nat_flow_view *v, void *arg)
{
	struct list_ctx *x = arg;
	if (x->addr && x->addr != v->in_src && x->addr != v->in_dst &&
	    x->addr != v->out_src && x->addr != v->out_dst)
		return 0;
	if (x->sent == LIST_NAT_MAX) {
		x->truncated = true;
		return 1;
	}
	char pb[8];
	struct vici_msg *m = &x->ev;
	vici_msg_reset(m);
	vici_add_kv(m, "proto", proto_name(v->proto, pb, sizeof(pb)));
	add_ep(m, "inside", v->in_src, v->in_sport);
	add_ep(m, "outside", v->out_dst, v->out_dport);
	add_ep(m, "remote", v->out_src, v->out_sport);
	/* Hairpin and static flows: where the inside host sent it, when not remote. */
	if (v->in_dst != v->out_src || v->in_dport != v->out_sport)
		add_ep(m, "inside-dst", v->in_dst, v->in_dport);
	vici_add_kv(m, "rule", v->rule ? v->rule : "");
	vici_add_kv(m, "engine", v->engine ? v->engine : "");
	vici_add_kv(m, "state", v->state ? v->state : "");
	vici_add_kvf(m, "idle-ms", "%llu", (unsigned long long)v->idle_ms);
	vici_add_kvf(m, "packets-out", "%llu", (unsigned long long)v->packets[0]);
	vici_add_kvf(m, "packets-in", "%llu", (unsigned long long)v->packets[1]);
	vici_add_kvf(m, "bytes-out", "%llu", (unsigned long long)v->bytes[0]);
	vici_add_kvf(m, "bytes-in", "%llu", (unsigned long long)v->bytes[1]);
	if (v->fast) {
		vici_add_kv(m, "fast", "yes");
		vici_add_kvf(m, "fast-packets-out", "%llu", (unsigned long long)v->fast_packets[0]);
		vici_add_kvf(m, "fast-packets-in", "%llu", (unsigned long long)v->fast_packets[1]);
	}
	vici_conn_event(x->c, "list-nat", m);
	x->sent++;
	return 0;
}

static enum vici_reply cmd_list_nat(void *arg, struct vici_conn *c, const struct ctree *req,
				    struct vici_msg *resp)
{
	struct daemon *d = arg;
	struct nat_table *t = nat_io_table(d);
	struct list_ctx x = { .c = c };
	const struct ctree *a = req ? ctree_find(req, "addr") : NULL;
	if (a && a->value) {
		struct in_addr in;
		if (inet_pton(AF_INET, a->value, &in) != 1) {
			vici_add_kv(resp, "success", "no");
			vici_add_kv(resp, "errmsg", "addr must be an IPv4 address");
			return VICI_REPLY_DONE;
		}
		x.addr = ntohl(in.s_addr);
	}
	if (!t) {
		vici_add_kv(resp, "success", "no");
		vici_add_kv(resp, "errmsg", "NAT is off (no tsunagi { nat { } } section)");
		return VICI_REPLY_DONE;
	}
	vici_msg_init(&x.ev);
	nat_io_lock(d);
	nat_table_walk(t, clock_now_ms(), list_one, &x);
	nat_io_unlock(d);
	vici_msg_free(&x.ev);
	vici_add_kv(resp, "success", "yes");
	vici_add_kvf(resp, "listed", "%zu", x.sent);
	if (x.truncated)
		vici_add_kvf(resp, "truncated", "more than %d", LIST_NAT_MAX);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_flush_nat(void *arg, struct vici_conn *c, const struct ctree *req,
				     struct vici_msg *resp)
{
	struct nat_table *t = nat_io_table(arg);
	if (!t) {
		vici_add_kv(resp, "success", "no");
		vici_add_kv(resp, "errmsg", "NAT is off (no tsunagi { nat { } } section)");
		return VICI_REPLY_DONE;
	}
	struct nat_counters before;
	nat_io_lock(arg);
	nat_table_counters(t, &before);
	nat_table_flush(t);
	nat_io_unlock(arg);
	vici_add_kv(resp, "success", "yes");
	vici_add_kvf(resp, "flushed", "%llu", (unsigned long long)before.flows_active);
	return VICI_REPLY_DONE;
}

int ctl_nat_register(struct daemon *d)
{
	vici_server_add_event(d->vici, "list-nat");
	if (vici_server_register(d->vici, "tsunagi-list-nat", cmd_list_nat, d) < 0 ||
	    vici_server_register(d->vici, "tsunagi-flush-nat", cmd_flush_nat, d) < 0)
		return -1;
	return 0;
}
