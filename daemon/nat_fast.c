/* The NAT fast path's shell (see nat_fast.h). The program is found beside
 * tsunagid (daemon/nat_fast.bpf.o in the build tree) or in TSUNAGI_BPF_DIR. It
 * is attached with a handle and priority of its own, so that a restart replaces
 * what a daemon killed outright left, and a clean exit removes only it. The map
 * is the program's own: it goes when the program is detached and closed. */
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

#if HAVE_FASTPATH
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon/nat_fast_map.h"

#define TC_HANDLE 0x7453	/* "tS" */
#define TC_PRIO 1
#define MAX_IFS 32

struct nat_fast {
	struct bpf_object *obj;
	int prog[2];		/* [side]: 0 inside, 1 outside */
	int map;
	struct ring_buffer *ring;	/* the program's FINs and RSTs */
	nat_fast_tcp_fn fn;
	void *fn_arg;
	int n_if;
	int ifindex[MAX_IFS];
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

static void detach_all(struct nat_fast *nf)
{
	for (int i = 0; i < nf->n_if; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = nf->ifindex[i],
				    .attach_point = BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
		bpf_tc_detach(&hook, &opts);
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
	nf->ifindex[nf->n_if++] = idx;
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct nat_fast *nf = ctx;
	const struct nat_fast_ev *e = data;
	if (size < sizeof(*e) || !nf->fn)
		return 0;
	struct nat_key k = { ntohl(e->key.src), ntohl(e->key.dst), ntohs(e->key.sport),
			     ntohs(e->key.dport) };
	nf->fn(nf->fn_arg, e->key.side ? NAT_FROM_OUTSIDE : NAT_FROM_INSIDE, &k, e->seq,
	       e->len, e->flags);
	return 0;
}

int nat_fast_event_fd(const struct nat_fast *nf) { return ring_buffer__epoll_fd(nf->ring); }

void nat_fast_read_events(struct nat_fast *nf, nat_fast_tcp_fn fn, void *arg)
{
	nf->fn = fn;
	nf->fn_arg = arg;
	ring_buffer__consume(nf->ring);
	nf->fn = NULL;
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
	log_info(LOG_NAT, "fast path on: %s at ingress of %d interfaces, up to %d flows",
		 path, nf->n_if, NAT_FAST_MAX / 2);
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
void nat_fast_read_events(struct nat_fast *nf, nat_fast_tcp_fn fn, void *arg) { }
void nat_fast_close(struct nat_fast *nf) { }
const struct nat_fast_ops nat_fast_ops;
#endif
