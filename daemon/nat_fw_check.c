/* nat_fw_check's shell (see nat_fw_check.h): asks the kernel, through libmnl and
 * raw netlink, for what fw_verdict decides on: the nftables base chains (one
 * dump), the rules of those whose rules decide (one dump each, usually only ip
 * raw PREROUTING), /proc/net/ip_tables_names and the xfrm policy counts. Each
 * dump has a socket of its own, so a dump left half read costs nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/xfrm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "daemon/nat_fw_check.h"

#define MAX_CHAINS 4096		/* base chains; more and we give up (not quiet) */
#define MAX_ATTR 16		/* above every attribute type read here */
#define REQ_SIZE 1024		/* one request: two names of up to 256 bytes */
#define RECV_SIZE 32768		/* the kernel's largest dump batch */
/* Rules are read in smaller batches: while we read one, the kernel makes the next,
 * as large as our read, and a chain's first rule not ours ends the reading (2000
 * rules in inet filter forward: 0.5 ms of CPU a check with 32 KB, 0.26 ms with 8 KB).
 * Not less: the kernel's first batch may be up to 8 KB (NLMSG_GOODSIZE). */
#define RULE_RECV_SIZE 8192
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- attributes -------------------------------------------------------------------- */

/* How an attribute is read: as what (MNL_TYPE_UNSPEC: not read, skipped) and, for
 * MNL_TYPE_BINARY, at least how long. */
struct attr_spec {
	enum mnl_attr_data_type type;
	size_t min;
};

struct attr_set {
	const struct nlattr **tb;	/* MAX_ATTR entries */
	const struct attr_spec *spec;
	size_t n;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attr_set *s = data;
	uint16_t t = mnl_attr_get_type(a);
	if (t >= s->n || s->spec[t].type == MNL_TYPE_UNSPEC)
		return MNL_CB_OK;
	if (s->spec[t].type == MNL_TYPE_BINARY) {
		if (mnl_attr_get_payload_len(a) < s->spec[t].min)
			return MNL_CB_ERROR;
	} else if (mnl_attr_validate(a, s->spec[t].type) < 0) {
		return MNL_CB_ERROR;
	}
	s->tb[t] = a;
	return MNL_CB_OK;
}

/* Runs cb over the attributes in len bytes at p. Unlike mnl_attr_parse, one that
 * does not fit (or bytes left over) makes the whole malformed: -1. */
static int walk(const void *p, size_t len, mnl_attr_cb_t cb, void *data)
{
	while (len > 0) {
		const struct nlattr *a = p;
		if (len < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > len)
			return -1;
		if (cb(a, data) != MNL_CB_OK)
			return -1;
		size_t step = MNL_ALIGN(a->nla_len);
		if (step >= len)
			break;
		p = (const char *)p + step;
		len -= step;
	}
	return 0;
}

static int parse(const void *p, size_t len, const struct attr_spec *spec, size_t n,
		 const struct nlattr **tb)
{
	struct attr_set s = { tb, spec, n };
	memset(tb, 0, MAX_ATTR * sizeof(*tb));
	return walk(p, len, attr_cb, &s);
}

/* A message's attributes, after its hdrlen bytes of family header. 0, or -1. */
static int parse_msg(const struct nlmsghdr *nlh, size_t hdrlen, const struct attr_spec *spec,
		     size_t n, const struct nlattr **tb)
{
	size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen);
	if (nlh->nlmsg_len < off)
		return -1;
	return parse((const char *)nlh + off, nlh->nlmsg_len - off, spec, n, tb);
}

static int parse_nest(const struct nlattr *nest, const struct attr_spec *spec, size_t n,
		      const struct nlattr **tb)
{
	return parse(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), spec, n, tb);
}

/* A name (NUL-terminated: checked) into dst; -1 when longer than the kernel allows:
 * cut, it would ask for the rules of another chain. */
static int copy_name(char *dst, const struct nlattr *a)
{
	size_t len = a ? strlen(mnl_attr_get_str(a)) : 0;
	if (len >= FW_NAME_LEN)
		return -1;
	memcpy(dst, a ? mnl_attr_get_str(a) : "", len + 1);
	return 0;
}

/* --- one request and its answer ---------------------------------------------------- */

/* Sends the request in buf and runs cb over the answer, on a socket of its own,
 * reading at most rcv (<= RECV_SIZE) bytes at a time. 0, or -errno. */
static int ask(int bus, struct nlmsghdr *nlh, size_t rcv, mnl_cb_t cb, void *arg)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	int rc = 0;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	unsigned portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	_Alignas(struct nlmsghdr) char buf[RECV_SIZE];
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, rcv);
		if (len < 0) {
			rc = -errno;
			break;
		}
		errno = 0;
		int r = mnl_cb_run(buf, (size_t)len, nlh->nlmsg_seq, portid, cb, arg);
		if (r < 0)
			rc = errno ? -errno : -EPROTO;
		if (r <= MNL_CB_STOP)
			break;
	}
out:
	mnl_socket_close(nl);
	return rc;
}

static struct nlmsghdr *nft_request(char *buf, uint16_t msg, uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return nlh;
}

/* --- chains ------------------------------------------------------------------------ */

struct chains {
	struct fw_chain *c;
	size_t n, cap;
};

static const struct attr_spec chain_spec[] = {
	[NFTA_CHAIN_TABLE] = { MNL_TYPE_NUL_STRING },
	[NFTA_CHAIN_NAME] = { MNL_TYPE_NUL_STRING },
	[NFTA_CHAIN_HOOK] = { MNL_TYPE_NESTED },
	[NFTA_CHAIN_POLICY] = { MNL_TYPE_U32 },
};
static const struct attr_spec hook_spec[] = {
	[NFTA_HOOK_HOOKNUM] = { MNL_TYPE_U32 },
};

int fw_parse_chain(const struct nlmsghdr *nlh, struct fw_chain *c)
{
	const struct nlattr *tb[MAX_ATTR], *hk[MAX_ATTR];
	if (parse_msg(nlh, sizeof(struct nfgenmsg), chain_spec, N(chain_spec), tb) < 0)
		return -1;
	if (!tb[NFTA_CHAIN_HOOK])
		return 0;	/* a regular chain: only reached by a jump */
	if (parse_nest(tb[NFTA_CHAIN_HOOK], hook_spec, N(hook_spec), hk) < 0 ||
	    !hk[NFTA_HOOK_HOOKNUM] || !tb[NFTA_CHAIN_TABLE] || !tb[NFTA_CHAIN_NAME])
		return -1;
	memset(c, 0, sizeof(*c));
	c->family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
	if (copy_name(c->table, tb[NFTA_CHAIN_TABLE]) < 0 || copy_name(c->name, tb[NFTA_CHAIN_NAME]) < 0)
		return -1;
	c->hook = ntohl(mnl_attr_get_u32(hk[NFTA_HOOK_HOOKNUM]));
	c->drop = tb[NFTA_CHAIN_POLICY] && ntohl(mnl_attr_get_u32(tb[NFTA_CHAIN_POLICY])) == NF_DROP;
	return 1;
}

static int chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct chains *cs = arg;
	struct fw_chain c;
	int r = fw_parse_chain(nlh, &c);
	if (r <= 0) {
		errno = r < 0 ? EBADMSG : 0;
		return r < 0 ? MNL_CB_ERROR : MNL_CB_OK;
	}
	if (cs->n == cs->cap) {
		if (cs->cap >= MAX_CHAINS) {
			errno = E2BIG;
			return MNL_CB_ERROR;
		}
		size_t cap = cs->cap ? cs->cap * 2 : 16;
		struct fw_chain *more = realloc(cs->c, cap * sizeof(*more));
		if (!more)
			return MNL_CB_ERROR;
		cs->c = more;
		cs->cap = cap;
	}
	cs->c[cs->n++] = c;
	return MNL_CB_OK;
}

/* --- rules ------------------------------------------------------------------------- */

static const struct attr_spec rule_spec[] = {
	[NFTA_RULE_EXPRESSIONS] = { MNL_TYPE_NESTED },
};
static const struct attr_spec expr_spec[] = {
	[NFTA_EXPR_NAME] = { MNL_TYPE_NUL_STRING },
	[NFTA_EXPR_DATA] = { MNL_TYPE_NESTED },
};
static const struct attr_spec imm_spec[] = {
	[NFTA_IMMEDIATE_DREG] = { MNL_TYPE_U32 },
	[NFTA_IMMEDIATE_DATA] = { MNL_TYPE_NESTED },
};
static const struct attr_spec data_spec[] = {
	[NFTA_DATA_VERDICT] = { MNL_TYPE_NESTED },
};
static const struct attr_spec verdict_spec[] = {
	[NFTA_VERDICT_CODE] = { MNL_TYPE_U32 },
	[NFTA_VERDICT_CHAIN] = { MNL_TYPE_NUL_STRING },
};
/* An immediate expression's data: a verdict (into r), or anything else. */
static int read_immediate(const struct nlattr *data, struct fw_rule *r)
{
	const struct nlattr *im[MAX_ATTR], *d[MAX_ATTR], *vd[MAX_ATTR];
	if (parse_nest(data, imm_spec, N(imm_spec), im) < 0)
		return -1;
	if (!im[NFTA_IMMEDIATE_DREG] || !im[NFTA_IMMEDIATE_DATA] ||
	    ntohl(mnl_attr_get_u32(im[NFTA_IMMEDIATE_DREG])) != NFT_REG_VERDICT)
		return 0;
	if (parse_nest(im[NFTA_IMMEDIATE_DATA], data_spec, N(data_spec), d) < 0)
		return -1;
	if (!d[NFTA_DATA_VERDICT])
		return 0;
	if (parse_nest(d[NFTA_DATA_VERDICT], verdict_spec, N(verdict_spec), vd) < 0 ||
	    !vd[NFTA_VERDICT_CODE])
		return -1;
	r->n_verdict++;
	r->code = (int32_t)ntohl(mnl_attr_get_u32(vd[NFTA_VERDICT_CODE]));
	return copy_name(r->target, vd[NFTA_VERDICT_CHAIN]);
}

/* One NFTA_LIST_ELEM of a rule's expressions. */
static int expr_cb(const struct nlattr *e, void *arg)
{
	struct fw_rule *r = arg;
	const struct nlattr *ex[MAX_ATTR];
	if (mnl_attr_get_type(e) != NFTA_LIST_ELEM || mnl_attr_validate(e, MNL_TYPE_NESTED) < 0 ||
	    parse_nest(e, expr_spec, N(expr_spec), ex) < 0 || !ex[NFTA_EXPR_NAME])
		return MNL_CB_ERROR;
	r->n_expr++;
	const char *name = mnl_attr_get_str(ex[NFTA_EXPR_NAME]);
	if (strcmp(name, "counter") == 0)
		r->n_counter++;
	else if (strcmp(name, "immediate") == 0 && ex[NFTA_EXPR_DATA] &&
		 read_immediate(ex[NFTA_EXPR_DATA], r) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

int fw_parse_rule(const struct nlmsghdr *nlh, struct fw_rule *r)
{
	const struct nlattr *tb[MAX_ATTR];
	memset(r, 0, sizeof(*r));
	if (parse_msg(nlh, sizeof(struct nfgenmsg), rule_spec, N(rule_spec), tb) < 0)
		return -1;
	if (!tb[NFTA_RULE_EXPRESSIONS])
		return 0;
	const struct nlattr *list = tb[NFTA_RULE_EXPRESSIONS];
	return walk(mnl_attr_get_payload(list), mnl_attr_get_payload_len(list), expr_cb, r);
}

static int rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct fw_chain *c = arg;
	struct fw_rule r;
	if (fw_parse_rule(nlh, &r) < 0) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	c->n_rules++;
	if (!fw_rule_is_ours(&r))
		return MNL_CB_STOP;	/* one rule not ours settles the chain */
	c->n_ours++;
	return MNL_CB_OK;
}

/* The rules of c, counted into it (a dump filtered by table and chain). */
static int read_rules(struct fw_chain *c)
{
	_Alignas(struct nlmsghdr) char buf[REQ_SIZE];
	struct nlmsghdr *nlh = nft_request(buf, NFT_MSG_GETRULE, c->family);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, c->table);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, c->name);
	c->n_rules = c->n_ours = 0;
	return ask(NETLINK_NETFILTER, nlh, RULE_RECV_SIZE, rule_cb, c);
}

/* --- legacy iptables and xfrm ------------------------------------------------------- */

/* /proc/net/ip_tables_names into buf ("" when the file is not there: ip_tables
 * never loaded). */
static void read_legacy(char *buf, size_t size)
{
	buf[0] = '\0';
	int fd = open("/proc/net/ip_tables_names", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

static const struct attr_spec spd_spec[] = {
	[XFRMA_SPD_INFO] = { MNL_TYPE_BINARY, sizeof(struct xfrmu_spdinfo) },
};

int fw_parse_spdinfo(const struct nlmsghdr *nlh, struct fw_view *w)
{
	const struct nlattr *tb[MAX_ATTR];
	if (nlh->nlmsg_type != XFRM_MSG_NEWSPDINFO ||
	    parse_msg(nlh, sizeof(uint32_t), spd_spec, N(spd_spec), tb) < 0)
		return -1;
	if (tb[XFRMA_SPD_INFO]) {
		struct xfrmu_spdinfo si;
		memcpy(&si, mnl_attr_get_payload(tb[XFRMA_SPD_INFO]), sizeof(si));
		w->xfrm_in = si.incnt;
		w->xfrm_out = si.outcnt;
		w->xfrm_fwd = si.fwdcnt;
	}
	return 0;
}

static int spd_cb(const struct nlmsghdr *nlh, void *arg)
{
	if (fw_parse_spdinfo(nlh, arg) < 0) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/* The kernel's IPsec policy counts (socket policies left out: they only see their
 * socket's packets). Without NETLINK_XFRM (no xfrm_user) there are none to ask. */
static int read_xfrm(struct fw_view *w)
{
	_Alignas(struct nlmsghdr) char buf[REQ_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = XFRM_MSG_GETSPDINFO;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	uint32_t *flags = mnl_nlmsg_put_extra_header(nlh, sizeof(uint32_t));
	*flags = 0xffffffff;
	int rc = ask(NETLINK_XFRM, nlh, RECV_SIZE, spd_cb, w);
	return rc == -EPROTONOSUPPORT ? 0 : rc;
}

/* --- the check ---------------------------------------------------------------------- */

static int gather(struct fw_view *w, struct chains *cs, char *legacy, size_t lsize)
{
	read_legacy(legacy, lsize);
	w->legacy = legacy;
	_Alignas(struct nlmsghdr) char buf[REQ_SIZE];
	int rc = ask(NETLINK_NETFILTER, nft_request(buf, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC),
		     RECV_SIZE, chain_cb, cs);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < cs->n; i++) {
		struct fw_chain *c = &cs->c[i];
		if (!fw_chain_needs_rules(c))
			continue;
		if ((rc = read_rules(c)) < 0)
			return rc;
		/* A rule not ours: fw_verdict stops at this chain at the latest, so
		 * the later chains' rules need not be read. */
		if (c->n_rules > c->n_ours) {
			cs->n = i + 1;
			break;
		}
	}
	w->chains = cs->c;
	w->n_chains = cs->n;
	return read_xfrm(w);
}

int nat_fw_check(struct nat_fw_verdict *v)
{
	int rc = 0;
	/* A dump that the ruleset changed under (NLM_F_DUMP_INTR: EINTR) is asked again. */
	for (int tries = 0; tries < 3; tries++) {
		struct chains cs = { 0 };
		struct fw_view w = { 0 };
		char legacy[256];
		rc = gather(&w, &cs, legacy, sizeof(legacy));
		if (rc == 0)
			fw_verdict(&w, v);
		free(cs.c);
		if (rc != -EINTR)
			break;
	}
	if (rc < 0) {
		v->quiet = false;
		snprintf(v->why, sizeof(v->why), "cannot ask the kernel: %s", strerror(-rc));
	}
	return rc;
}
