/* TCP state for timeouts, and just enough window tracking to keep a blind RST
 * from ending a flow. The window a side advertises is scaled by its shift only
 * when both SYNs carried the option (RFC 7323), and never in a SYN itself:
 * reading unscaled windows would make a busy connection's RSTs look out of
 * window, and reading scaled ones where scaling is off would accept anything. */
#include "lib/buf.h"
#include "nat/nat_priv.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

const char *tcp_state_name(uint8_t state)
{
	static const char *const names[] = { "SYN_SENT", "SYN_RECV", "ESTABLISHED",
					     "FIN_WAIT", "CLOSED" };
	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* The window scale option of a SYN, or -1. Options end at the header's end. */
static int wscale_option(const uint8_t *tcp, size_t hlen)
{
	size_t i = 20;
	while (i < hlen) {
		uint8_t kind = tcp[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || tcp[i + 1] < 2 || i + tcp[i + 1] > hlen)
			break;
		if (kind == 3 && tcp[i + 1] == 3)
			return tcp[i + 2] > 14 ? 14 : tcp[i + 2];
		i += tcp[i + 1];
	}
	return -1;
}

static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static void note_syn(struct flow *f, int dir, const uint8_t *tcp, size_t hlen)
{
	int ws = wscale_option(tcp, hlen);
	if (ws >= 0) {
		f->tflags |= TF_WS(dir);
		f->wscale[dir] = (uint8_t)ws;
	}
}

/* Where the sender's data ends and how much the receiver may take. */
static void note_window(struct flow *f, int dir, const uint8_t *tcp, size_t seglen)
{
	uint8_t fl = tcp[13];
	uint32_t end = get_u32(tcp + 4) + (uint32_t)seglen + !!(fl & TH_SYN) + !!(fl & TH_FIN);
	if (!(f->tflags & TF_SEEN(dir)) || seq_after(end, f->u.tcp.td_end[dir]))
		f->u.tcp.td_end[dir] = end;
	f->tflags |= TF_SEEN(dir);
	uint32_t win = get_u16(tcp + 14);
	if (!(fl & TH_SYN) && (f->tflags & TF_WS(0)) && (f->tflags & TF_WS(1)))
		win <<= f->wscale[dir];
	if (win > f->u.tcp.td_maxwin[dir])
		f->u.tcp.td_maxwin[dir] = win;
}

/* A RST is believed when its sequence number lies within what the receiver
 * would accept, give or take its largest window. */
static bool rst_in_window(const struct flow *f, int dir, const uint8_t *tcp)
{
	if (!(f->tflags & TF_SEEN(dir)) || f->state == TS_SYN_SENT)
		return true;	/* nothing known yet (e.g. a refused SYN's RST) */
	uint32_t seq = get_u32(tcp + 4);
	int64_t diff = (int32_t)(seq - f->u.tcp.td_end[dir]);
	int64_t win = (int64_t)f->u.tcp.td_maxwin[!dir] + 1;
	return diff >= -win && diff <= win;
}

static void set_state(struct nat_table *t, struct flow *f, enum tcp_state s)
{
	static const uint8_t cls[] = { FC_TCP_SYN, FC_TCP_SYN, FC_TCP, FC_TCP_HALF,
				       FC_TCP_CLOSED };
	f->state = (uint8_t)s;
	flow_set_class(t, f, (enum flow_class)cls[s]);
}

void tcp_track_new(struct nat_table *t, struct flow *f, int dir, const uint8_t *tcp,
    size_t tcplen, size_t seglen)
{
	f->tflags &= TF_ADOPTED;
	f->u.tcp.td_maxwin[0] = f->u.tcp.td_maxwin[1] = 0;
	note_syn(f, dir, tcp, tcplen);
	note_window(f, dir, tcp, seglen);
	set_state(t, f, TS_SYN_SENT);
}

bool tcp_track(struct nat_table *t, struct flow *f, int dir, const uint8_t *tcp,
    size_t tcplen, size_t seglen)
{
	uint8_t fl = tcp[13];
	if (fl & TH_RST) {
		if (!rst_in_window(f, dir, tcp))
			return false;
		set_state(t, f, TS_CLOSED);
		return true;
	}
	if ((fl & (TH_SYN | TH_ACK)) == TH_SYN && f->state == TS_CLOSED) {
		tcp_track_new(t, f, dir, tcp, tcplen, seglen);	/* the tuple reused */
		return true;
	}
	if (fl & TH_SYN) {
		note_syn(f, dir, tcp, tcplen);
		if ((fl & TH_ACK) && f->state == TS_SYN_SENT)
			set_state(t, f, TS_SYN_RECV);
	} else if ((fl & TH_ACK) && f->state == TS_SYN_RECV) {
		set_state(t, f, TS_ESTABLISHED);
	}
	note_window(f, dir, tcp, seglen);
	if (fl & TH_FIN) {
		f->tflags |= TF_FIN(dir);
		bool both = (f->tflags & TF_FIN(0)) && (f->tflags & TF_FIN(1));
		set_state(t, f, both ? TS_CLOSED : TS_FIN);
	}
	return true;
}

/* The fast path carried segments of f from dir since it was handed over (none
 * with SYN, FIN or RST): an ACK after the SYN-ACK ends the handshake, as in
 * tcp_track, and seq_end is where that side's data got to. */
void tcp_track_fast(struct nat_table *t, struct flow *f, int dir, uint32_t seq_end,
    bool seq_known)
{
	if (f->state == TS_SYN_RECV)
		set_state(t, f, TS_ESTABLISHED);
	if (!seq_known)
		return;
	if (!(f->tflags & TF_SEEN(dir)) || seq_after(seq_end, f->u.tcp.td_end[dir]))
		f->u.tcp.td_end[dir] = seq_end;
	f->tflags |= TF_SEEN(dir);
}
