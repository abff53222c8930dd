/* The NAT core's events in PIX/ASA syslog words, so that operators' habits and
 * parsers work: the interfaces are named "inside" and "outside" as a nameif
 * would, the connection number is the flow's slot (unique while it lives, and the
 * same in Built and Teardown), and the order of the ends is Cisco's (the foreign
 * end first in 302013/302015, even for outbound connections). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon/nat_log.h"

struct a4 {
	char s[16];
};

static struct a4 a4(uint32_t a)
{
	struct a4 r;
	snprintf(r.s, sizeof(r.s), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
		 a & 255);
	return r;
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 47: return "GRE";
	default: return NULL;
	}
}

/* Cisco's teardown reasons for ours (" Conn-timeout"); an engine's own reason
 * (e.g. "PPTP Call-Clear-Request") as it is. */
static void teardown_reason(const struct nat_event_info *e, char *buf, size_t len)
{
	const char *r = e->reason ? e->reason : "", *st = e->flow->state;
	bool tcp = e->flow->proto == 6;
	if (strcmp(r, "flush") == 0)
		r = "Xlate Clear";	/* tsunagictl --flush-nat: "clear xlate" */
	else if (strcmp(r, "evicted") == 0)
		r = "Flow evicted (table full)";
	else if (strcmp(r, "idle") == 0 && tcp && st && strncmp(st, "SYN", 3) == 0)
		r = "SYN Timeout";
	else if (strcmp(r, "idle") == 0 && tcp && st && strcmp(st, "CLOSED") == 0)
		r = "TCP FINs";	/* (or a RST: the core does not tell them apart) */
	else if (strcmp(r, "idle") == 0)
		r = tcp ? "Conn-timeout" : "";
	snprintf(buf, len, "%s%s", r[0] ? " " : "", r);
}

/* 302013/302015 (TCP, UDP), 302020 (ICMP), 302017 (GRE). */
static int built(const struct nat_event_info *e, char *buf, size_t len)
{
	const struct nat_flow_view *v = e->flow;
	const char *dir = e->side == NAT_FROM_INSIDE ? "outbound" : "inbound";
	struct a4 ls = a4(v->in_src), ld = a4(v->in_dst), os = a4(v->out_src), od = a4(v->out_dst);
	switch (v->proto) {
	case 6: case 17:
		return snprintf(buf, len, "Built %s %s connection %u for outside:%s/%u (%s/%u) "
				"to inside:%s/%u (%s/%u)", dir, proto_name(v->proto), v->id, os.s,
				v->out_sport, ld.s, v->in_dport, ls.s, v->in_sport, od.s, v->out_dport);
	case 1:
		return snprintf(buf, len, "Built %s ICMP connection for faddr %s/0 gaddr %s/%u "
				"laddr %s/%u", dir, os.s, od.s, v->out_dport | v->out_sport, ls.s,
				v->in_sport | v->in_dport);
	case 47:
		/* The call IDs: the inside end's as chosen and as mapped, the remote's. */
		return snprintf(buf, len, "Built %s GRE connection %u from inside:%s/%u (%s/%u) "
				"to outside:%s/%u", dir, v->id, ls.s, v->in_sport, od.s, v->out_dport,
				os.s, v->out_sport);
	default:
		return snprintf(buf, len, "Built %s protocol %u connection %u for outside:%s (%s) "
				"to inside:%s (%s)", dir, v->proto, v->id, os.s, ld.s, ls.s, od.s);
	}
}

/* 302014/302016, 302021, 302018. */
static int teardown(const struct nat_event_info *e, char *buf, size_t len)
{
	const struct nat_flow_view *v = e->flow;
	char why[64];
	teardown_reason(e, why, sizeof(why));
	unsigned long long bytes = (unsigned long long)(v->bytes[0] + v->bytes[1]);
	struct a4 ls = a4(v->in_src), os = a4(v->out_src), od = a4(v->out_dst);
	switch (v->proto) {
	case 6: case 17:
		return snprintf(buf, len, "Teardown %s connection %u for outside:%s/%u to "
				"inside:%s/%u bytes %llu%s", proto_name(v->proto), v->id,
				os.s, v->out_sport, ls.s, v->in_sport, bytes, why);
	case 1:
		return snprintf(buf, len, "Teardown ICMP connection for faddr %s/0 gaddr %s/%u "
				"laddr %s/%u", os.s, od.s, v->out_dport | v->out_sport, ls.s,
				v->in_sport | v->in_dport);
	case 47:
		return snprintf(buf, len, "Teardown GRE connection %u from inside:%s/%u (%s/%u) "
				"to outside:%s/%u bytes %llu%s", v->id, ls.s, v->in_sport, od.s,
				v->out_dport, os.s, v->out_sport, bytes, why);
	default:
		return snprintf(buf, len, "Teardown protocol %u connection %u for outside:%s to "
				"inside:%s bytes %llu%s", v->proto, v->id, os.s, ls.s, bytes, why);
	}
}

/* "tcp src inside:10.0.0.2/1234 dst outside:8.8.8.8/53": ASA's 305005/305006 shape. */
static int ends(const struct nat_event_info *e, char *buf, size_t len)
{
	const char *from = e->side == NAT_FROM_INSIDE ? "inside" : "outside";
	const char *to = e->side == NAT_FROM_INSIDE ? "outside" : "inside";
	struct a4 s = a4(e->src), d = a4(e->dst);
	if (e->proto == 6 || e->proto == 17)
		return snprintf(buf, len, "%s src %s:%s/%u dst %s:%s/%u", e->proto == 6 ? "tcp" :
				"udp", from, s.s, e->sport, to, d.s, e->dport);
	if (e->proto == 1)
		return snprintf(buf, len, "icmp src %s:%s dst %s:%s", from, s.s, to, d.s);
	return snprintf(buf, len, "protocol %u src %s:%s dst %s:%s", e->proto, from, s.s, to, d.s);
}

static int deny(const struct nat_event_info *e, char *buf, size_t len)
{
	const char *why = e->reason ? e->reason : "";
	struct a4 s = a4(e->src), d = a4(e->dst);
	char what[128];
	ends(e, what, sizeof(what));
	if (e->side == NAT_FROM_OUTSIDE && strcmp(why, "no_flow") == 0) {
		/* no_flow: 106001, 106006, 106014, 106010 */
		if (e->proto == 6)
			return snprintf(buf, len, "Inbound TCP connection denied from %s/%u to %s/%u "
					"on interface outside", s.s, e->sport, d.s, e->dport);
		if (e->proto == 17)
			return snprintf(buf, len, "Deny inbound UDP from %s/%u to %s/%u on interface "
					"outside", s.s, e->sport, d.s, e->dport);
		return snprintf(buf, len, "Deny inbound %s", what);
	}
	if (e->proto == 6 && strcmp(why, "tcp_no_syn") == 0)	/* 106015 */
		return snprintf(buf, len, "Deny TCP (no connection) from %s/%u to %s/%u on "
				"interface %s", s.s, e->sport, d.s, e->dport,
				e->side == NAT_FROM_INSIDE ? "inside" : "outside");
	if (strcmp(why, "no_rule") == 0)	/* 305005 */
		return snprintf(buf, len, "No translation group found for %s", what);
	if (strcmp(why, "proto") == 0 || strcmp(why, "ports") == 0)	/* 305006 */
		return snprintf(buf, len, "portmap translation creation failed for %s", what);
	if (strcmp(why, "pool") == 0)
		return snprintf(buf, len, "regular translation creation failed for %s", what);
	return snprintf(buf, len, "Deny %s reason %s", what, why);
}

/* An engine's remark, with the connection it is about. */
static int note(const struct nat_event_info *e, char *buf, size_t len)
{
	const struct nat_flow_view *v = e->flow;
	const char *p = proto_name(v->proto);
	struct a4 ls = a4(v->in_src), os = a4(v->out_src);
	return snprintf(buf, len, "%s inspection: %s connection %u for outside:%s/%u to "
			"inside:%s/%u: %s", v->engine ? v->engine : "NAT", p ? p : "IP", v->id,
			os.s, v->out_sport, ls.s, v->in_sport, e->reason ? e->reason : "");
}

size_t nat_log_format(const struct nat_event_info *e, char *buf, size_t len)
{
	int n;
	if (!len)
		return 0;
	buf[0] = 0;
	switch (e->event) {
	case NAT_EV_BUILT: n = e->flow ? built(e, buf, len) : 0; break;
	case NAT_EV_TEARDOWN: n = e->flow ? teardown(e, buf, len) : 0; break;
	case NAT_EV_DENY: n = deny(e, buf, len); break;
	case NAT_EV_NOTE: n = e->flow ? note(e, buf, len) : 0; break;
	default: n = 0; break;
	}
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

int nat_log_level(const struct nat_event_info *e)
{
	return e->event == NAT_EV_DENY || e->event == NAT_EV_NOTE ? 1 : 2;
}

int nat_log_allow(struct nat_log_limit *l, uint64_t now_ms, uint64_t *held)
{
	uint64_t sec = now_ms / 1000;
	*held = 0;
	if (sec != l->sec) {
		l->sec = sec;
		l->n = 0;
	}
	if (l->n >= l->limit) {
		l->held++;
		return 0;
	}
	l->n++;
	*held = l->held;
	l->held = 0;
	return 1;
}
