/* The NAT fast path's shell (see nat_fast.h). The program is found beside
 * tsunagid (daemon/nat_fast.bpf.o in the build tree) or in TSUNAGI_BPF_DIR. It
 * is attached through a tcx link (kernel 6.6 on), which goes with tsunagid's
 * last descriptor of it: a daemon killed outright leaves no program that
 * translates behind. Where tcx is refused, it is a tc filter with a handle and
 * priority of its own, so that a restart replaces what a daemon killed outright
 * left, and a clean exit removes only it. The maps are the program's own: they
 * go when the program is detached and closed, so a new tsunagid starts with
 * none of an old one's flows. */
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/nat_fast.h"
#include "lib/log.h"
#include "nat/fast_plan.h"

#if HAVE_FASTPATH
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon/nat_fast_map.h"

#define TC_HANDLE 0x7453	/* "tS" */
#define TC_PRIO 1
#define MAX_IFS 32
#define ATTACH_TCX_INGRESS 46	/* BPF_TCX_INGRESS (uapi headers older than 6.6 lack it) */

struct nat_fast {
	struct bpf_object *obj;
	int prog[2];		/* [side]: 0 inside, 1 outside */
	int map, cfg, src, dst, ports, stats;
	struct ring_buffer *ring;	/* the program's events */
	const struct nat_fast_handlers *h;
	int n_if;
	int ifindex[MAX_IFS];
	int link[MAX_IFS];	/* tcx link descriptor, or -1: a tc filter */
	struct nat_fast_plan *plan;	/* as in the maps, NULL = none yet */
	uint32_t ifs[2][NAT_FAST_OUT_IFS];
	uint32_t redirect;
	uint32_t gen;
};

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && log_enabled(LOG_NAT, 3)) {
		char line[512];
		vsnprintf(line, sizeof(line), fmt, ap);
		line[strcspn(line, "\n")] = 0;
		log_msg(LOG_NAT, 3, "libbpf: %s", line);
	}
	return 0;
}

/* Beside the executable (build tree), else where make install put it. */
static int find_object(char *path, size_t size)
{
	char exe[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, size, "%s/daemon/nat_fast.bpf.o", exe);
			if (access(path, R_OK) == 0)
				return 0;
		}
	}
	snprintf(path, size, "%s/nat_fast.bpf.o", TSUNAGI_BPF_DIR);
	return access(path, R_OK);
}

/* Our tc filter on ifindex, if there is one (ours, or a killed daemon's). */
static void tc_detach(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	bpf_tc_detach(&hook, &opts);
}

static void detach_all(struct nat_fast *nf)
{
	for (int i = 0; i < nf->n_if; i++) {
		if (nf->link[i] >= 0)
			close(nf->link[i]);
		else
			tc_detach(nf->ifindex[i]);
	}
	nf->n_if = 0;
}

/* The program reads an Ethernet header: other links (tun, wireguard) keep the queue. */
static bool ethernet(const char *name)
{
	char path[64];
	int type = -1;
	snprintf(path, sizeof(path), "/sys/class/net/%s/type", name);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &type) != 1)
			type = -1;
		fclose(f);
	}
	return type == 1;	/* ARPHRD_ETHER */
}

static int attach_one(struct nat_fast *nf, const char *name, int side)
{
	int idx = (int)if_nametoindex(name);
	if (!idx || nf->n_if == MAX_IFS) {
		log_err(LOG_NAT, "fast path: no interface %s: its packets are all queued", name);
		return -1;
	}
	if (!ethernet(name)) {
		log_err(LOG_NAT, "fast path: %s is no Ethernet link: its packets are all queued",
			name);
		return -1;
	}
	tc_detach(idx);	/* what a daemon killed outright left */
	int link = bpf_link_create(nf->prog[side], idx, ATTACH_TCX_INGRESS, NULL);
	if (link >= 0) {
		nf->link[nf->n_if] = link;
		nf->ifindex[nf->n_if++] = idx;
		return 0;
	}
	log_msg(LOG_NAT, 3, "fast path: no tcx on %s (%s): a tc filter instead", name,
		strerror(-link));
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = idx, .attach_point = BPF_TC_INGRESS);
	int err = bpf_tc_hook_create(&hook);	/* the clsact qdisc, unless there */
	if (err && err != -EEXIST) {
		log_err(LOG_NAT, "fast path: no clsact on %s: %s", name, strerror(-err));
		return -1;
	}
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO,
			    .prog_fd = nf->prog[side], .flags = BPF_TC_F_REPLACE);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		log_err(LOG_NAT, "fast path: cannot attach to %s: %s", name, strerror(-err));
		return -1;
	}
	nf->link[nf->n_if] = -1;
	nf->ifindex[nf->n_if++] = idx;
	return 0;
}

static struct nat_key host_key(const struct nat_fast_key *k)
{
	return (struct nat_key){ ntohl(k->src), ntohl(k->dst), ntohs(k->sport), ntohs(k->dport) };
}

/* Removes an entry the program made, unless it is something else by now. */
static void del_new(struct nat_fast *nf, const struct nat_fast_key *k,
		    const struct nat_fast_val *want)
{
	struct nat_fast_val v;
	if (bpf_map_lookup_elem(nf->map, k, &v) == 0 && (v.flags & NAT_FAST_NEW) &&
	    v.to_src == want->to_src && v.to_dst == want->to_dst &&
	    v.to_sport == want->to_sport && v.to_dport == want->to_dport)
		bpf_map_delete_elem(nf->map, k);
}

/* A flow the program made: to the core; refused, its entries go. */
static void on_new(struct nat_fast *nf, const struct nat_fast_ev *e)
{
	struct nat_fast_new n = {
		.k0 = host_key(&e->key), .pub = ntohl(e->pub), .pport = ntohs(e->pport),
		.rule = e->gen == nf->gen ? e->rule : UINT16_MAX,
		.tcp = e->th, .tcplen = e->hlen <= sizeof(e->th) ? e->hlen : 0,
	};
	if (nf->h->adopt(nf->h->arg, &n) == 0)
		return;
	const struct nat_fast_key *k = &e->key;
	struct nat_fast_key out = { .src = k->dst, .dst = e->pub, .sport = k->dport,
				    .dport = e->pport, .proto = k->proto, .side = 1 };
	struct nat_fast_val vi = { .to_src = e->pub, .to_dst = k->dst, .to_sport = e->pport,
				   .to_dport = k->dport };
	struct nat_fast_val vo = { .to_src = k->dst, .to_dst = k->src, .to_sport = k->dport,
				   .to_dport = k->sport };
	del_new(nf, k, &vi);
	del_new(nf, &out, &vo);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct nat_fast *nf = ctx;
	const struct nat_fast_ev *e = data;
	if (size < sizeof(*e) || !nf->h || e->hlen > sizeof(e->th))
		return 0;
	if (e->type == NAT_FAST_EV_NEW) {
		on_new(nf, e);
		return 0;
	}
	struct nat_key k = host_key(&e->key);
	nf->h->tcp(nf->h->arg, e->key.side ? NAT_FROM_OUTSIDE : NAT_FROM_INSIDE, &k, e->th,
		   e->hlen, e->len);
	return 0;
}

int nat_fast_event_fd(const struct nat_fast *nf) { return ring_buffer__epoll_fd(nf->ring); }

void nat_fast_read_events(struct nat_fast *nf, const struct nat_fast_handlers *h)
{
	nf->h = h;
	ring_buffer__consume(nf->ring);
	nf->h = NULL;
}

void nat_fast_stats(const struct nat_fast *nf, uint64_t out[NAT_FAST_STATS])
{
	int ncpu = libbpf_num_possible_cpus();
	memset(out, 0, NAT_FAST_STATS * sizeof(out[0]));
	if (ncpu <= 0 || ncpu > 4096)
		return;
	uint64_t *v = calloc((size_t)ncpu, sizeof(*v));
	for (uint32_t i = 0; v && i < NAT_FAST_STATS; i++) {
		if (bpf_map_lookup_elem(nf->stats, &i, v) < 0)
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += v[c];
	}
	free(v);
}

static void lpm_clear(int fd)
{
	struct nat_fast_lpm k;
	while (bpf_map_get_next_key(fd, NULL, &k) == 0)
		if (bpf_map_delete_elem(fd, &k) < 0)
			break;
}

static void lpm_put(int fd, const struct nat_net *net, const void *val)
{
	struct nat_fast_lpm k = { net->plen, htonl(net->addr) };
	if (bpf_map_update_elem(fd, &k, val, BPF_ANY) < 0)
		log_err(LOG_NAT, "fast path: plan entry refused: %s", strerror(errno));
}

/* The interfaces' indexes, [0] inside and [1] outside (0 = none or gone): the
 * maps are rewritten when they change. */
static void nat_ifs(const struct nat_rules *r, uint32_t ifs[2][NAT_FAST_OUT_IFS])
{
	memset(ifs, 0, 2 * NAT_FAST_OUT_IFS * sizeof(ifs[0][0]));
	for (size_t i = 0; i < r->n_inside && i < NAT_FAST_OUT_IFS; i++)
		ifs[0][i] = if_nametoindex(r->inside[i]);
	for (size_t i = 0; i < r->n_outside && i < NAT_FAST_OUT_IFS; i++)
		ifs[1][i] = if_nametoindex(r->outside[i]);
}

int nat_fast_set_plan(struct nat_fast *nf, const struct nat_fast_plan *p, const struct nat_rules *r,
		      uint32_t redirect)
{
	uint32_t ifs[2][NAT_FAST_OUT_IFS], zero = 0;
	nat_ifs(r, ifs);
	if (nf->plan && p && memcmp(nf->plan, p, sizeof(*p)) == 0 &&
	    memcmp(nf->ifs, ifs, sizeof(ifs)) == 0) {
		if (nf->redirect == redirect)
			return 0;
		/* Only what it forwards changed (a firewall rule came or went): that
		 * one word, the maps and the running flows' ports left as they are. */
		struct nat_fast_cfg cfg;
		if (bpf_map_lookup_elem(nf->cfg, &zero, &cfg) < 0)
			return -1;
		cfg.redirect = redirect;
		if (bpf_map_update_elem(nf->cfg, &zero, &cfg, BPF_ANY) < 0)
			return -1;
		nf->redirect = redirect;
		return 0;
	}
	/* Off while the maps change: a SYN meanwhile goes to the core. */
	struct nat_fast_cfg cfg = { .on = 0 };
	if (bpf_map_update_elem(nf->cfg, &zero, &cfg, BPF_ANY) < 0)
		return -1;
	free(nf->plan);
	nf->plan = NULL;
	if (!p)
		return 0;
	lpm_clear(nf->src);
	lpm_clear(nf->dst);
	for (size_t i = 0; i < p->n_src; i++) {
		struct nat_fast_src v = { p->src[i].punt ? 0 : htonl(p->src[i].pub), p->src[i].rule, 0 };
		lpm_put(nf->src, &p->src[i].net, &v);
	}
	for (size_t i = 0; i < p->n_dst; i++) {
		uint32_t one = 1;
		lpm_put(nf->dst, &p->dst[i], &one);
	}
	for (uint32_t i = 0; i < 1024; i++) {
		struct nat_fast_ports v = { p->punt_dport[i], p->resv_port[i] };
		bpf_map_update_elem(nf->ports, &i, &v, BPF_ANY);
	}
	nf->gen++;
	cfg = (struct nat_fast_cfg){ .on = p->n_src > 0, .gen = nf->gen, .lo = p->lo, .hi = p->hi,
				     .seed = (uint32_t)random(), .wake_bytes = NAT_FAST_RING / 4 };
	memcpy(cfg.in_if, ifs[0], sizeof(ifs[0]));
	memcpy(cfg.out_if, ifs[1], sizeof(ifs[1]));
	cfg.redirect = redirect;
	memcpy(nf->ifs, ifs, sizeof(ifs));
	nf->redirect = redirect;
	if (bpf_map_update_elem(nf->cfg, &zero, &cfg, BPF_ANY) < 0)
		return -1;
	nf->plan = malloc(sizeof(*p));
	if (nf->plan)
		memcpy(nf->plan, p, sizeof(*p));
	return 0;
}

size_t nat_fast_sweep(struct nat_fast *nf, bool (*known)(void *arg, const struct nat_fast_entry *e),
    void *arg, uint64_t now_ms, uint64_t idle_ms)
{
	struct nat_fast_key k, next, gone[256];
	struct nat_fast_val v;
	size_t n_gone = 0, seen = 0;
	void *prev = NULL;
	while (n_gone < 256 && seen++ < NAT_FAST_MAX && bpf_map_get_next_key(nf->map, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(nf->map, &k, &v) < 0 || !(v.flags & NAT_FAST_NEW) ||
		    v.last_ns / 1000000 + idle_ms > now_ms)
			continue;
		struct nat_fast_entry e = { .proto = k.proto,
					    .side = k.side ? NAT_FROM_OUTSIDE : NAT_FROM_INSIDE,
					    .key = host_key(&k) };
		if (!known(arg, &e))
			gone[n_gone++] = k;
	}
	for (size_t i = 0; i < n_gone; i++)
		bpf_map_delete_elem(nf->map, &gone[i]);
	return n_gone;
}

int nat_fast_attach(struct nat_fast *nf, const struct nat_rules *r)
{
	detach_all(nf);
	int rc = 0;
	for (size_t i = 0; i < r->n_inside; i++)
		rc |= attach_one(nf, r->inside[i], 0);
	for (size_t i = 0; i < r->n_outside; i++)
		rc |= attach_one(nf, r->outside[i], 1);
	return rc;
}

struct nat_fast *nat_fast_open(const struct nat_rules *r)
{
	char path[PATH_MAX];
	libbpf_set_print(quiet);
	if (find_object(path, sizeof(path)) < 0) {
		log_err(LOG_NAT, "fast path off: no %s (every packet is queued)", path);
		return NULL;
	}
	struct nat_fast *nf = calloc(1, sizeof(*nf));
	if (!nf)
		return NULL;
	nf->obj = bpf_object__open_file(path, NULL);
	int err = libbpf_get_error(nf->obj);
	if (err) {
		nf->obj = NULL;
		goto fail;
	}
	if ((err = bpf_object__load(nf->obj)) != 0)
		goto fail;
	struct bpf_program *pi = bpf_object__find_program_by_name(nf->obj, "nat_fast_inside");
	struct bpf_program *po = bpf_object__find_program_by_name(nf->obj, "nat_fast_outside");
	struct bpf_map *m = bpf_object__find_map_by_name(nf->obj, "nat_fast");
	if (!pi || !po || !m) {
		err = -ENOENT;
		goto fail;
	}
	struct bpf_map *mc = bpf_object__find_map_by_name(nf->obj, "nat_fast_cfg");
	struct bpf_map *ms = bpf_object__find_map_by_name(nf->obj, "nat_fast_src");
	struct bpf_map *md = bpf_object__find_map_by_name(nf->obj, "nat_fast_dst");
	struct bpf_map *mp = bpf_object__find_map_by_name(nf->obj, "nat_fast_ports");
	struct bpf_map *mt = bpf_object__find_map_by_name(nf->obj, "nat_fast_stats");
	if (!mc || !ms || !md || !mp || !mt) {
		err = -ENOENT;
		goto fail;
	}
	nf->cfg = bpf_map__fd(mc);
	nf->src = bpf_map__fd(ms);
	nf->dst = bpf_map__fd(md);
	nf->ports = bpf_map__fd(mp);
	nf->stats = bpf_map__fd(mt);
	struct bpf_map *rm = bpf_object__find_map_by_name(nf->obj, "nat_fast_ev");
	nf->ring = rm ? ring_buffer__new(bpf_map__fd(rm), on_event, nf, NULL) : NULL;
	if (!nf->ring) {
		err = -errno;
		goto fail;
	}
	nf->prog[0] = bpf_program__fd(pi);
	nf->prog[1] = bpf_program__fd(po);
	nf->map = bpf_map__fd(m);
	if (nat_fast_attach(nf, r) < 0) {
		nat_fast_close(nf);
		log_err(LOG_NAT, "fast path off: it could not be attached (every packet is queued)");
		return NULL;
	}
	int tcx = 0;
	for (int i = 0; i < nf->n_if; i++)
		tcx += nf->link[i] >= 0;
	log_info(LOG_NAT, "fast path on: %s at ingress of %d interfaces (%d by tcx link), "
		 "up to %d flows", path, nf->n_if, tcx, NAT_FAST_MAX / 2);
	return nf;
fail:
	log_err(LOG_NAT, "fast path off: cannot load %s: %s (every packet is queued)", path,
		strerror(err < 0 ? -err : err));
	nat_fast_close(nf);
	return NULL;
}

void nat_fast_close(struct nat_fast *nf)
{
	if (!nf)
		return;
	detach_all(nf);
	free(nf->plan);
	ring_buffer__free(nf->ring);
	bpf_object__close(nf->obj);
	free(nf);
}

static struct nat_fast_key wire_key(const struct nat_fast_entry *e)
{
	return (struct nat_fast_key){
		.src = htonl(e->key.src), .dst = htonl(e->key.dst),
		.sport = htons(e->key.sport), .dport = htons(e->key.dport),
		.proto = e->proto, .side = e->side == NAT_FROM_OUTSIDE,
	};
}

static int fast_add(void *arg, const struct nat_fast_entry e[2])
{
	struct nat_fast *nf = arg;
	for (int d = 0; d < 2; d++) {
		struct nat_fast_key k = wire_key(&e[d]);
		struct nat_fast_val v = {
			.to_src = htonl(e[d].to.src), .to_dst = htonl(e[d].to.dst),
			.to_sport = htons(e[d].to.sport), .to_dport = htons(e[d].to.dport),
		};
		if (bpf_map_update_elem(nf->map, &k, &v, BPF_ANY) < 0) {
			if (d) {
				k = wire_key(&e[0]);
				bpf_map_delete_elem(nf->map, &k);
			}
			return -1;
		}
	}
	return 0;
}

static void fast_del(void *arg, const struct nat_fast_entry e[2])
{
	struct nat_fast *nf = arg;
	for (int d = 0; d < 2; d++) {
		struct nat_fast_key k = wire_key(&e[d]);
		bpf_map_delete_elem(nf->map, &k);
	}
}

static void fast_seen(void *arg, const struct nat_fast_entry e[2], struct nat_fast_seen s[2])
{
	struct nat_fast *nf = arg;
	for (int d = 0; d < 2; d++) {
		struct nat_fast_key k = wire_key(&e[d]);
		struct nat_fast_val v;
		s[d] = (struct nat_fast_seen){ 0 };
		if (bpf_map_lookup_elem(nf->map, &k, &v) < 0 || !v.pkts)
			continue;
		/* bpf_ktime_get_ns() and clock_now_ms() are both CLOCK_MONOTONIC. */
		s[d].last_ms = v.last_ns / 1000000;
		s[d].packets = v.pkts;
		s[d].bytes = v.bytes;
		s[d].seq_end = v.seq_end;
		s[d].seq_known = v.flags & NAT_FAST_SEQ;
	}
}

const struct nat_fast_ops nat_fast_ops = { fast_add, fast_del, fast_seen };

#else /* no clang or libbpf at build time */

struct nat_fast *nat_fast_open(const struct nat_rules *r)
{
	log_err(LOG_NAT, "fast path off: built without clang and libbpf (every packet is queued)");
	return NULL;
}

int nat_fast_attach(struct nat_fast *nf, const struct nat_rules *r) { return -1; }
int nat_fast_event_fd(const struct nat_fast *nf) { return -1; }
void nat_fast_read_events(struct nat_fast *nf, const struct nat_fast_handlers *h) { }
int nat_fast_set_plan(struct nat_fast *nf, const struct nat_fast_plan *p, const struct nat_rules *r,
		      uint32_t redirect)
{
	return -1;
}
void nat_fast_stats(const struct nat_fast *nf, uint64_t out[NAT_FAST_STATS])
{
	memset(out, 0, NAT_FAST_STATS * sizeof(out[0]));
}
size_t nat_fast_sweep(struct nat_fast *nf, bool (*known)(void *arg, const struct nat_fast_entry *e),
    void *arg, uint64_t now_ms, uint64_t idle_ms)
{
	return 0;
}
void nat_fast_close(struct nat_fast *nf) { }
const struct nat_fast_ops nat_fast_ops;
#endif
