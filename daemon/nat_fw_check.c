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
#define REQ_SIZE 512		/* one request */
#define RECV_SIZE 32768		/* the kernel's largest dump batch */
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- attributes -------------------------------------------------------------------- */

/* Which attributes of a set are read, and as what; the others are skipped. */
struct attr_set {
	const struct nlattr **tb;	/* MAX_ATTR entries */
	const enum mnl_attr_data_type *types;	/* MNL_TYPE_UNSPEC: not read */
	size_t n_types;
	size_t min_len[MAX_ATTR];	/* for MNL_TYPE_BINARY: at least this long */
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attr_set *s = data;
	uint16_t t = mnl_attr_get_type(a);
	if (t >= s->n_types || s->types[t] == MNL_TYPE_UNSPEC)
		return MNL_CB_OK;
	if (s->types[t] == MNL_TYPE_BINARY) {
		if (mnl_attr_get_payload_len(a) < s->min_len[t])
			return MNL_CB_ERROR;
	} else if (mnl_attr_validate(a, s->types[t]) < 0) {
		return MNL_CB_ERROR;
	}
	s->tb[t] = a;
	return MNL_CB_OK;
}

/* Parses the attributes of a message (after hdrlen bytes) or of a nest into tb,
 * checking each one read. 0, or -1 when one is malformed. */
static int parse_msg(const struct nlmsghdr *nlh, size_t hdrlen, const enum mnl_attr_data_type *types,
		     size_t n, const struct nlattr **tb)
{
	struct attr_set s = { tb, types, n, { 0 } };
	memset(tb, 0, MAX_ATTR * sizeof(*tb));
	return mnl_attr_parse(nlh, (unsigned)hdrlen, attr_cb, &s) == MNL_CB_OK ? 0 : -1;
}

static int parse_nest(const struct nlattr *nest, const enum mnl_attr_data_type *types, size_t n,
		      const struct nlattr **tb)
{
	struct attr_set s = { tb, types, n, { 0 } };
	memset(tb, 0, MAX_ATTR * sizeof(*tb));
	return mnl_attr_parse_nested(nest, attr_cb, &s) == MNL_CB_OK ? 0 : -1;
}

static void copy_name(char *dst, const struct nlattr *a)
{
	snprintf(dst, FW_NAME_LEN, "%s", a ? mnl_attr_get_str(a) : "");
}

/* --- one request and its answer ---------------------------------------------------- */

/* Sends the request in buf and runs cb over the answer, on a socket of its own.
 * 0, or -errno. */
static int ask(int bus, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
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
	char buf[RECV_SIZE];
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
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

static const enum mnl_attr_data_type chain_types[] = {
	[NFTA_CHAIN_TABLE] = MNL_TYPE_NUL_STRING,
	[NFTA_CHAIN_NAME] = MNL_TYPE_NUL_STRING,
	[NFTA_CHAIN_HOOK] = MNL_TYPE_NESTED,
	[NFTA_CHAIN_POLICY] = MNL_TYPE_U32,
};
static const enum mnl_attr_data_type hook_types[] = {
	[NFTA_HOOK_HOOKNUM] = MNL_TYPE_U32,
};

static int chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct chains *cs = arg;
	const struct nlattr *tb[MAX_ATTR], *hk[MAX_ATTR];
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg) ||
	    parse_msg(nlh, sizeof(struct nfgenmsg), chain_types, N(chain_types), tb) < 0)
		return MNL_CB_ERROR;
	if (!tb[NFTA_CHAIN_HOOK])
		return MNL_CB_OK;	/* a regular chain: only reached by a jump */
	if (parse_nest(tb[NFTA_CHAIN_HOOK], hook_types, N(hook_types), hk) < 0 || !hk[NFTA_HOOK_HOOKNUM] || !tb[NFTA_CHAIN_TABLE] ||
	    !tb[NFTA_CHAIN_NAME])
		return MNL_CB_ERROR;
	if (cs->n == cs->cap) {
		if (cs->cap >= MAX_CHAINS) {
			errno = E2BIG;
			return MNL_CB_ERROR;
		}
		size_t cap = cs->cap ? cs->cap * 2 : 16;
		struct fw_chain *c = realloc(cs->c, cap * sizeof(*c));
		if (!c)
			return MNL_CB_ERROR;
		cs->c = c;
		cs->cap = cap;
	}
	struct fw_chain *c = &cs->c[cs->n++];
	memset(c, 0, sizeof(*c));
	c->family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
	copy_name(c->table, tb[NFTA_CHAIN_TABLE]);
	copy_name(c->name, tb[NFTA_CHAIN_NAME]);
	c->hook = ntohl(mnl_attr_get_u32(hk[NFTA_HOOK_HOOKNUM]));
	c->drop = tb[NFTA_CHAIN_POLICY] && ntohl(mnl_attr_get_u32(tb[NFTA_CHAIN_POLICY])) == NF_DROP;
	return MNL_CB_OK;
}

/* --- rules ------------------------------------------------------------------------- */

static const enum mnl_attr_data_type rule_types[] = {
	[NFTA_RULE_EXPRESSIONS] = MNL_TYPE_NESTED,
};
static const enum mnl_attr_data_type expr_types[] = {
	[NFTA_EXPR_NAME] = MNL_TYPE_NUL_STRING,
	[NFTA_EXPR_DATA] = MNL_TYPE_NESTED,
};
static const enum mnl_attr_data_type imm_types[] = {
	[NFTA_IMMEDIATE_DREG] = MNL_TYPE_U32,
	[NFTA_IMMEDIATE_DATA] = MNL_TYPE_NESTED,
};
static const enum mnl_attr_data_type data_types[] = {
	[NFTA_DATA_VERDICT] = MNL_TYPE_NESTED,
};
static const enum mnl_attr_data_type verdict_types[] = {
	[NFTA_VERDICT_CODE] = MNL_TYPE_U32,
	[NFTA_VERDICT_CHAIN] = MNL_TYPE_NUL_STRING,
};
/* An immediate expression's data: a verdict (into r), or anything else. */
static int read_immediate(const struct nlattr *data, struct fw_rule *r)
{
	const struct nlattr *im[MAX_ATTR], *d[MAX_ATTR], *vd[MAX_ATTR];
	if (parse_nest(data, imm_types, N(imm_types), im) < 0)
		return -1;
	if (!im[NFTA_IMMEDIATE_DREG] || !im[NFTA_IMMEDIATE_DATA] ||
	    ntohl(mnl_attr_get_u32(im[NFTA_IMMEDIATE_DREG])) != NFT_REG_VERDICT)
		return 0;
	if (parse_nest(im[NFTA_IMMEDIATE_DATA], data_types, N(data_types), d) < 0)
		return -1;
	if (!d[NFTA_DATA_VERDICT])
		return 0;
	if (parse_nest(d[NFTA_DATA_VERDICT], verdict_types, N(verdict_types), vd) < 0 ||
	    !vd[NFTA_VERDICT_CODE])
		return -1;
	r->n_verdict++;
	r->code = (int32_t)ntohl(mnl_attr_get_u32(vd[NFTA_VERDICT_CODE]));
	copy_name(r->target, vd[NFTA_VERDICT_CHAIN]);
	return 0;
}

static int read_rule(const struct nlmsghdr *nlh, struct fw_rule *r)
{
	const struct nlattr *tb[MAX_ATTR], *ex[MAX_ATTR], *e;
	memset(r, 0, sizeof(*r));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg) ||
	    parse_msg(nlh, sizeof(struct nfgenmsg), rule_types, N(rule_types), tb) < 0)
		return -1;
	if (!tb[NFTA_RULE_EXPRESSIONS])
		return 0;
	mnl_attr_for_each_nested(e, tb[NFTA_RULE_EXPRESSIONS]) {
		if (mnl_attr_get_type(e) != NFTA_LIST_ELEM || mnl_attr_validate(e, MNL_TYPE_NESTED) < 0 ||
		    parse_nest(e, expr_types, N(expr_types), ex) < 0 || !ex[NFTA_EXPR_NAME])
			return -1;
		r->n_expr++;
		const char *name = mnl_attr_get_str(ex[NFTA_EXPR_NAME]);
		if (strcmp(name, "counter") == 0)
			r->n_counter++;
		else if (strcmp(name, "immediate") == 0 && ex[NFTA_EXPR_DATA] &&
			 read_immediate(ex[NFTA_EXPR_DATA], r) < 0)
			return -1;
	}
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct fw_chain *c = arg;
	struct fw_rule r;
	if (read_rule(nlh, &r) < 0)
		return MNL_CB_ERROR;
	c->n_rules++;
	if (!fw_rule_is_ours(&r))
		return MNL_CB_STOP;	/* one rule not ours settles the chain */
	c->n_ours++;
	return MNL_CB_OK;
}

/* The rules of c, counted into it (a dump filtered by table and chain). */
static int read_rules(struct fw_chain *c)
{
	char buf[REQ_SIZE];
	struct nlmsghdr *nlh = nft_request(buf, NFT_MSG_GETRULE, c->family);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, c->table);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, c->name);
	c->n_rules = c->n_ours = 0;
	return ask(NETLINK_NETFILTER, nlh, rule_cb, c);
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

static const enum mnl_attr_data_type spd_types[] = {
	[XFRMA_SPD_INFO] = MNL_TYPE_BINARY,
};

static int spd_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct fw_view *w = arg;
	const struct nlattr *tb[MAX_ATTR];
	struct attr_set s = { tb, spd_types, N(spd_types), { [XFRMA_SPD_INFO] = sizeof(struct xfrmu_spdinfo) } };
	memset(tb, 0, sizeof(tb));
	if (nlh->nlmsg_type != XFRM_MSG_NEWSPDINFO || mnl_nlmsg_get_payload_len(nlh) < sizeof(uint32_t) ||
	    mnl_attr_parse(nlh, sizeof(uint32_t), attr_cb, &s) != MNL_CB_OK)
		return MNL_CB_ERROR;
	if (tb[XFRMA_SPD_INFO]) {
		struct xfrmu_spdinfo si;
		memcpy(&si, mnl_attr_get_payload(tb[XFRMA_SPD_INFO]), sizeof(si));
		w->xfrm_in = si.incnt;
		w->xfrm_out = si.outcnt;
		w->xfrm_fwd = si.fwdcnt;
	}
	return MNL_CB_STOP;
}

/* The kernel's IPsec policy counts (socket policies left out: they only see their
 * socket's packets). Without NETLINK_XFRM (no xfrm_user) there are none to ask. */
static int read_xfrm(struct fw_view *w)
{
	char buf[REQ_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = XFRM_MSG_GETSPDINFO;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	uint32_t *flags = mnl_nlmsg_put_extra_header(nlh, sizeof(uint32_t));
	*flags = 0xffffffff;
	int rc = ask(NETLINK_XFRM, nlh, spd_cb, w);
	return rc == -EPROTONOSUPPORT ? 0 : rc;
}

/* --- the check ---------------------------------------------------------------------- */

static int gather(struct fw_view *w, struct chains *cs, char *legacy, size_t lsize)
{
	read_legacy(legacy, lsize);
	w->legacy = legacy;
	char buf[REQ_SIZE];
	int rc = ask(NETLINK_NETFILTER, nft_request(buf, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC),
		     chain_cb, cs);
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
