/* Names and setkey-like text (`setkey -D`, `setkey -DP`) for `tsunagictl --sad/--spd`.
 * Keys are never printed, only their sizes: this text ends up in logs and terminals. */
#include "pfkey/pfkey.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[SADB_MAX + 1] = {
	[SADB_RESERVED] = "RESERVED", [SADB_GETSPI] = "GETSPI", [SADB_UPDATE] = "UPDATE",
	[SADB_ADD] = "ADD", [SADB_DELETE] = "DELETE", [SADB_GET] = "GET",
	[SADB_ACQUIRE] = "ACQUIRE", [SADB_REGISTER] = "REGISTER", [SADB_EXPIRE] = "EXPIRE",
	[SADB_FLUSH] = "FLUSH", [SADB_DUMP] = "DUMP", [SADB_X_PROMISC] = "X_PROMISC",
	[SADB_X_PCHANGE] = "X_PCHANGE", [SADB_X_SPDUPDATE] = "X_SPDUPDATE",
	[SADB_X_SPDADD] = "X_SPDADD", [SADB_X_SPDDELETE] = "X_SPDDELETE",
	[SADB_X_SPDGET] = "X_SPDGET", [SADB_X_SPDACQUIRE] = "X_SPDACQUIRE",
	[SADB_X_SPDDUMP] = "X_SPDDUMP", [SADB_X_SPDFLUSH] = "X_SPDFLUSH",
	[SADB_X_SPDSETIDX] = "X_SPDSETIDX", [SADB_X_SPDEXPIRE] = "X_SPDEXPIRE",
	[SADB_X_SPDDELETE2] = "X_SPDDELETE2", [SADB_X_NAT_T_NEW_MAPPING] = "X_NAT_T_NEW_MAPPING",
	[SADB_X_MIGRATE] = "X_MIGRATE",
};

const char *pfkey_type_name(uint8_t type)
{
	return type <= SADB_MAX && type_names[type] ? type_names[type] : "UNKNOWN";
}

static void outf(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct buf *out, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_put(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static const char *mode_name(uint8_t mode)
{
	switch (mode) {
	case IPSEC_MODE_TRANSPORT: return "transport";
	case IPSEC_MODE_TUNNEL: return "tunnel";
	case IPSEC_MODE_BEET: return "beet";
	default: return "any";
	}
}

static const char *state_name(uint8_t state)
{
	static const char *const names[] = { "larval", "mature", "dying", "dead" };
	return state <= SADB_SASTATE_MAX ? names[state] : "unknown";
}

static const char *satype_name(uint8_t satype)
{
	switch (satype) {
	case SADB_SATYPE_AH: return "ah";
	case SADB_SATYPE_ESP: return "esp";
	case SADB_X_SATYPE_IPCOMP: return "ipcomp";
	default: return "unspec";
	}
}

static void format_endpoint(struct buf *out, const struct addr *a, uint16_t natt_port)
{
	char s[ADDR_STRLEN];
	addr_ntop(a, s, sizeof(s));
	if (natt_port)
		outf(out, "%s[%u]", s, natt_port);
	else
		outf(out, "%s", s);
}

static void format_lifetimes(struct buf *out, const struct pfkey_sa *sa)
{
	outf(out, "\tcurrent: %" PRIu64 "(bytes)\thard: %" PRIu64 "(bytes)\tsoft: %" PRIu64
	     "(bytes)\n", sa->current.bytes, sa->hard.bytes, sa->soft.bytes);
	outf(out, "\tallocated: %" PRIu64 "\thard: %" PRIu64 "\tsoft: %" PRIu64 "\n",
	     sa->current.packets, sa->hard.packets, sa->soft.packets);
	outf(out, "\tlifetime: hard: %" PRIu64 "(s)\tsoft: %" PRIu64 "(s)\n", sa->hard.addtime,
	     sa->soft.addtime);
}

void pfkey_format_sa(const struct pfkey_sa *sa, struct buf *out)
{
	char a[SELECTOR_STRLEN], b[SELECTOR_STRLEN];
	format_endpoint(out, &sa->src, sa->natt_type ? sa->natt_sport : 0);
	outf(out, " ");
	format_endpoint(out, &sa->dst, sa->natt_type ? sa->natt_dport : 0);
	outf(out, "\n\t%s%s mode=%s spi=%" PRIu32 "(0x%08" PRIx32 ") reqid=%" PRIu32
	     "(0x%08" PRIx32 ")\n", satype_name(sa->satype), sa->natt_type ? "-udp" : "",
	     mode_name(sa->mode), sa->spi, sa->spi, sa->reqid, sa->reqid);
	/* Dumps carry no keys at all (not even their lengths): then say nothing of them. */
	outf(out, "\tE: %s", pfkey_ealg_name(sa->ealg));
	if (sa->ekey_len)
		outf(out, "  (key %u bits)", sa->ekey_len * 8u);
	outf(out, "\n");
	if (sa->aalg != SADB_AALG_NONE || sa->akey_len) {
		outf(out, "\tA: %s", pfkey_aalg_name(sa->aalg));
		if (sa->akey_len)
			outf(out, "  (key %u bits)", sa->akey_len * 8u);
		outf(out, "\n");
	}
	outf(out, "\treplay=%" PRIu32 " flags=0x%08x state=%s%s\n", sa->replay_window,
	     sa->esn ? SADB_X_SAFLAGS_ESN : 0, state_name(sa->state), sa->esn ? " esn" : "");
	if (sa->natt_oa.family) {
		addr_ntop(&sa->natt_oa, a, sizeof(a));
		if (sa->natt_oa.port)
			outf(out, "\tnat-t oa: %s port %u\n", a, sa->natt_oa.port);
		else
			outf(out, "\tnat-t oa: %s\n", a);
	}
	if (sa->has_sel) {
		/* "src[,src...] dst[,dst...]" */
		outf(out, "\tselectors:");
		for (size_t i = 0; i < sa->n_sel_src && i < PFKEY_MAX_SEL; i++)
			outf(out, "%s%s", i ? "," : " ", selector_fmt(&sa->sel_src[i], a, sizeof(a)));
		for (size_t i = 0; i < sa->n_sel_dst && i < PFKEY_MAX_SEL; i++)
			outf(out, "%s%s", i ? "," : " ", selector_fmt(&sa->sel_dst[i], b, sizeof(b)));
		outf(out, "\n");
	}
	format_lifetimes(out, sa);
}

/* setkey's selector notation: "10.1.0.0/16[any]", "10.1.0.0/16[80]", ranges "a-b". */
static void format_selector(struct buf *out, const struct selector *s)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
	int af = s->family == AF_INET6 ? AF_INET6 : AF_INET;
	inet_ntop(af, s->lo, lo, sizeof(lo));
	int plen = selector_prefixlen(s);
	if (plen >= 0) {
		outf(out, "%s/%d", lo, plen);
	} else {
		inet_ntop(af, s->hi, hi, sizeof(hi));
		outf(out, "%s-%s", lo, hi);
	}
	if (s->port_lo == 0 && s->port_hi == 65535)
		outf(out, "[any]");
	else if (s->port_lo == s->port_hi)
		outf(out, "[%u]", s->port_lo);
	else
		outf(out, "[%u-%u]", s->port_lo, s->port_hi);
}

static const char *dir_name(uint8_t dir)
{
	switch (dir) {
	case IPSEC_DIR_INBOUND: return "in";
	case IPSEC_DIR_OUTBOUND: return "out";
	case IPSEC_DIR_FWD: return "fwd";
	default: return "any";
	}
}

static const char *policy_type_name(uint16_t type)
{
	switch (type) {
	case IPSEC_POLICY_DISCARD: return "discard";
	case IPSEC_POLICY_NONE: return "none";
	case IPSEC_POLICY_IPSEC: return "ipsec";
	case IPSEC_POLICY_ENTRUST: return "entrust";
	case IPSEC_POLICY_BYPASS: return "bypass";
	default: return "unknown";
	}
}

void pfkey_format_policy(const struct pfkey_policy *p, struct buf *out)
{
	char s[ADDR_STRLEN], d[ADDR_STRLEN];
	if (p->src.family) {
		format_selector(out, &p->src);
		outf(out, " ");
		format_selector(out, &p->dst);
		uint8_t proto = p->src.proto ? p->src.proto : p->dst.proto;
		if (proto)
			outf(out, " %u\n", proto);
		else
			outf(out, " any\n");
	} else {
		outf(out, "(no selectors)\n");
	}
	outf(out, "\t%s prio %" PRIu32 " %s\n", dir_name(p->dir), p->priority,
	     policy_type_name(p->type));
	if (p->type == IPSEC_POLICY_IPSEC) {
		if (p->tunnel_src.family)
			outf(out, "\tesp/%s/%s-%s/", mode_name(p->mode),
			     addr_ntop(&p->tunnel_src, s, sizeof(s)),
			     addr_ntop(&p->tunnel_dst, d, sizeof(d)));
		else
			outf(out, "\tesp/%s//", mode_name(p->mode));
		if (p->reqid)
			outf(out, "unique:%" PRIu32 "\n", p->reqid);
		else
			outf(out, "require\n");
	}
	outf(out, "\tspid=%" PRIu32 "\n", p->id);
}
