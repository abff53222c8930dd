/* tsunagictl: tsunagid's control tool. It speaks VICI like strongSwan's swanctl and
 * takes the same verbs, so either tool drives either daemon:
 *
 *   tsunagictl [--uri unix:///run/tsunagi/tsunagi.vici] VERB [options] [--raw|--pretty|--json]
 *
 * Verbs: --version, --stats, --list-sas [--ike NAME], --list-conns,
 * --initiate --child NAME [--ike NAME] [--timeout S], --terminate --ike NAME|--child NAME,
 * --rekey --ike NAME|--child NAME [--reauth], --load-all [--file F],
 * --counters [--name CONN] [--reset], --sad, --spd, --enable CONN, --disable CONN,
 * --monitor, --watch (ctl_watch.c), --list-nat [ADDR], --flush-nat,
 * --list-pools [--leases]; and the operator words of
 * ctl_ops.c: show ike sa|ipsec sa [detail], clear ike sa|ipsec sa|counters, refresh.
 * The default URI is VICI_DEFAULT_URI (unix:///run/tsunagi/tsunagi.vici); TSUNAGI_VICI_URI in
 * the environment overrides it. Exit status 0 on success, 1 on a failure the daemon
 * reported (errmsg), 2 on usage errors, 3 when the daemon cannot be reached. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl.h"
#include "vici/vici_server.h"	/* VICI_DEFAULT_URI */

enum verb {
	V_NONE, V_VERSION, V_STATS, V_LIST_SAS, V_LIST_CONNS, V_INITIATE, V_TERMINATE,
	V_REKEY, V_LOAD_ALL, V_COUNTERS, V_SAD, V_SPD, V_ENABLE, V_DISABLE,
	V_MONITOR, V_WATCH, V_LIST_NAT, V_FLUSH_NAT,
	V_LIST_POOLS,
};

struct opts {
	enum verb verb;
	const char *uri, *ike, *child, *file, *name, *timeout;
	const char *ike_id, *child_id;
	const char *conn;	/* --enable / --disable CONN */
	const char *count, *interval;	/* --monitor / --watch */
	const char *nat_addr;	/* --list-nat ADDR */
	bool reset, reauth;
	bool leases;		/* --list-pools --leases */
	enum ctl_format fmt;
	bool operator;		/* positional words: show, clear, refresh */
	struct ctl_op op;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tsunagictl [--uri URI] VERB [options] [--raw|--pretty|--json]\n"
		"       tsunagictl [--uri URI] show ike sa|ipsec sa [detail] [PEER|CONN]\n"
		"       tsunagictl [--uri URI] clear ike sa|ipsec sa [PEER|CONN] | clear counters [CONN]\n"
		"       tsunagictl [--uri URI] refresh CONN\n"
		"  --version                         daemon version\n"
		"  --stats                           daemon statistics\n"
		"  --list-sas [--ike NAME]           IKE and CHILD SAs\n"
		"  --list-conns                      loaded connections\n"
		"  --initiate --child NAME [--ike NAME] [--timeout SECONDS]\n"
		"  --terminate --ike NAME | --child NAME | --ike-id N | --child-id N\n"
		"  --rekey --ike NAME | --child NAME [--reauth]\n"
		"  --load-all [--file FILE]          load secrets, pools and connections\n"
		"  --counters [--name CONN] [--reset]\n"
		"  --sad, --spd                      tsunagid's SA and policy databases\n"
		"  --disable CONN                    take a connection out of service: its SAs are\n"
		"                                    deleted, it is neither initiated nor answered\n"
		"  --enable CONN                     put it back in service (starts and traps as configured)\n"
		"  --monitor [--count N] [--timeout S]   SA events (up, down, rekey) as they happen\n"
		"  --watch [--interval S] [--count N] [--timeout S]   CHILD SAs and their rates\n"
		"  --list-nat [ADDR]                 NAT translations (those involving ADDR)\n"
		"  --flush-nat                       end every NAT translation\n"
		"  --list-pools [--name POOL] [--leases]   virtual IP pools (and each lease)\n"
		"default URI: %s (or $TSUNAGI_VICI_URI)\n", VICI_DEFAULT_URI);
}

/* ---- shared helpers (ctl.h) ---- */

struct ctree *ctl_request(struct ctl *ctl, const char *cmd, const struct vici_msg *req)
{
	char err[512];
	struct ctree *res = vici_client_request(ctl->cl, cmd, req, err, sizeof(err));
	if (!res)
		fprintf(stderr, "%s request failed: %s\n", cmd, err);
	return res;
}

bool ctl_check_success(const struct ctree *res, const char *what)
{
	if (strcmp(vici_find_str(res, "success", "no"), "yes") == 0)
		return true;
	fprintf(stderr, "%s failed: %s\n", what, vici_find_str(res, "errmsg", "(no reason given)"));
	return false;
}

void ctl_print_reply(struct ctl *ctl, const char *cmd, const struct ctree *res)
{
	char label[300];
	snprintf(label, sizeof(label), "%s reply", cmd);
	if (ctl->fmt == CTL_JSON)
		vici_print_json(stdout, res, true);
	else
		vici_print_raw(stdout, label, res, ctl->fmt == CTL_PRETTY);
}

void ctl_json_begin(struct ctl *ctl)
{
	ctl->events_printed = 0;
	printf("[");
}

void ctl_json_end(struct ctl *ctl)
{
	printf("%s]\n", ctl->events_printed ? "\n" : "");
}

void ctl_json_event(struct ctl *ctl, const struct ctree *msg)
{
	printf("%s\n", ctl->events_printed++ ? "," : "");
	vici_print_json(stdout, msg, true);
}

/* ---- events ---- */

static void on_event(void *arg, const char *event, const struct ctree *msg)
{
	struct ctl *ctl = arg;
	char label[300];
	if (strcmp(event, "control-log") == 0) {
		if (ctl->fmt == CTL_TABLE || ctl->fmt == CTL_JSON)
			ctl_print_log_line(msg);	/* progress stays readable */
		else
			vici_print_raw(stdout, "control-log event", msg, ctl->fmt == CTL_PRETTY);
		return;
	}
	switch (ctl->fmt) {
	case CTL_JSON:
		ctl_json_event(ctl, msg);
		break;
	case CTL_RAW:
	case CTL_PRETTY:
		snprintf(label, sizeof(label), "%s event", event);
		vici_print_raw(stdout, label, msg, ctl->fmt == CTL_PRETTY);
		break;
	case CTL_TABLE:
		if (strcmp(event, "list-sa") == 0)
			ctl_print_sa_table(msg);
		else if (strcmp(event, "list-conn") == 0)
			ctl_print_conn_table(msg);
		else if (strcmp(event, "list-nat") == 0)
			ctl_print_nat_row(msg, ctl->events_printed++ == 0);
		break;
	}
}

static int with_events(struct ctl *ctl, const char *event, const char *cmd,
		       const struct vici_msg *req)
{
	char err[512];
	if (vici_client_register(ctl->cl, event, err, sizeof(err)) < 0) {
		fprintf(stderr, "registering for %s failed: %s\n", event, err);
		return 1;
	}
	if (ctl->fmt == CTL_JSON)
		ctl_json_begin(ctl);
	struct ctree *res = ctl_request(ctl, cmd, req);
	if (ctl->fmt == CTL_JSON)
		ctl_json_end(ctl);
	if (!res)
		return 1;
	if (ctl->fmt == CTL_RAW || ctl->fmt == CTL_PRETTY)
		ctl_print_reply(ctl, cmd, res);
	ctree_free(res);
	vici_client_unregister(ctl->cl, event, err, sizeof(err));
	return 0;
}

/* ---- verbs ---- */

static int do_simple(struct ctl *ctl, const char *cmd, void (*table)(const struct ctree *))
{
	struct ctree *res = ctl_request(ctl, cmd, NULL);
	if (!res)
		return 1;
	int rc = 0;
	if (ctl->fmt != CTL_TABLE)
		ctl_print_reply(ctl, cmd, res);
	else if (table)
		table(res);
	if (vici_find_str(res, "success", NULL) && !ctl_check_success(res, cmd))
		rc = 1;
	ctree_free(res);
	return rc;
}

static void print_version(const struct ctree *res)
{
	printf("%s %s (%s, %s, %s)\n", vici_find_str(res, "daemon", ""),
	       vici_find_str(res, "version", ""), vici_find_str(res, "sysname", ""),
	       vici_find_str(res, "release", ""), vici_find_str(res, "machine", ""));
}

static void print_text(const struct ctree *res)
{
	const char *text = vici_find_str(res, "text", "");
	fputs(text, stdout);
	if (*text && text[strlen(text) - 1] != '\n')
		putchar('\n');
}

/* initiate / terminate / rekey: control-log streamed, then success or errmsg. */
static int do_control(struct ctl *ctl, const char *cmd, const struct opts *o)
{
	char err[512];
	struct vici_msg m;
	vici_msg_init(&m);
	if (o->child)
		vici_add_kv(&m, "child", o->child);
	if (o->ike)
		vici_add_kv(&m, "ike", o->ike);
	if (o->child_id)
		vici_add_kv(&m, "child-id", o->child_id);
	if (o->ike_id)
		vici_add_kv(&m, "ike-id", o->ike_id);
	if (o->reauth)
		vici_add_kv(&m, "reauth", "yes");
	if (o->timeout)
		vici_add_kvf(&m, "timeout", "%ld", strtol(o->timeout, NULL, 10) * 1000);
	if (strcmp(cmd, "rekey") != 0) {
		vici_add_kv(&m, "init-limits", "no");
		vici_add_kv(&m, "loglevel", "1");
		if (vici_client_register(ctl->cl, "control-log", err, sizeof(err)) < 0) {
			fprintf(stderr, "registering for control-log failed: %s\n", err);
			vici_msg_free(&m);
			return 1;
		}
	}
	struct ctree *res = ctl_request(ctl, cmd, &m);
	vici_msg_free(&m);
	if (!res)
		return 1;
	int rc = 0;
	if (ctl->fmt != CTL_TABLE)
		ctl_print_reply(ctl, cmd, res);
	if (ctl_check_success(res, cmd)) {
		if (ctl->fmt == CTL_TABLE)
			printf("%s completed successfully\n", cmd);
	} else {
		rc = 1;
	}
	ctree_free(res);
	return rc;
}

static int do_counters(struct ctl *ctl, const struct opts *o)
{
	const char *cmd = o->reset ? "reset-counters" : "get-counters";
	struct vici_msg m;
	vici_msg_init(&m);
	if (o->name)
		vici_add_kv(&m, "name", o->name);
	else
		vici_add_kv(&m, "all", "yes");
	struct ctree *res = ctl_request(ctl, cmd, &m);
	vici_msg_free(&m);
	if (!res)
		return 1;
	int rc = 0;
	if (ctl->fmt != CTL_TABLE)
		ctl_print_reply(ctl, cmd, res);
	if (!ctl_check_success(res, cmd))
		rc = 1;
	else if (ctl->fmt == CTL_TABLE && o->reset)
		printf("reset-counters completed successfully\n");
	else if (ctl->fmt == CTL_TABLE)
		ctl_print_counters(res);
	ctree_free(res);
	return rc;
}

/* --list-pools [--name POOL] [--leases]: get-pools, as swanctl --list-pools. */
static int do_list_pools(struct ctl *ctl, const struct opts *o)
{
	struct vici_msg m;
	vici_msg_init(&m);
	if (o->leases)
		vici_add_kv(&m, "leases", "yes");
	if (o->name)
		vici_add_kv(&m, "name", o->name);
	struct ctree *res = ctl_request(ctl, "get-pools", &m);
	vici_msg_free(&m);
	if (!res)
		return 1;
	if (ctl->fmt != CTL_TABLE)
		ctl_print_reply(ctl, "get-pools", res);
	else
		ctl_print_pools(res);
	ctree_free(res);
	return 0;
}

/* --enable / --disable CONN */
static int do_enable(struct ctl *ctl, const struct opts *o)
{
	bool enable = o->verb == V_ENABLE;
	const char *cmd = enable ? "tsunagi-enable" : "tsunagi-disable";
	struct vici_msg m;
	vici_msg_init(&m);
	vici_add_kv(&m, "name", o->conn);
	struct ctree *res = ctl_request(ctl, cmd, &m);
	vici_msg_free(&m);
	if (!res)
		return 1;
	int rc = 0;
	if (ctl->fmt != CTL_TABLE)
		ctl_print_reply(ctl, cmd, res);
	if (!ctl_check_success(res, enable ? "enable" : "disable"))
		rc = 1;
	else if (ctl->fmt == CTL_TABLE)
		printf("connection '%s' %s\n", o->conn, enable ? "enabled" : "disabled");
	ctree_free(res);
	return rc;
}

/* --count, --interval, --timeout: checked by parse_args (1..86400); 0 when absent. */
static unsigned bound(const char *arg)
{
	return arg ? (unsigned)strtoul(arg, NULL, 10) : 0;
}

static bool bound_ok(const char *opt, const char *arg)
{
	char *end;
	unsigned long v = arg ? strtoul(arg, &end, 10) : 1;
	if (arg && (!*arg || *end || *arg == '-' || v < 1 || v > 86400)) {
		fprintf(stderr, "--%s needs a whole number from 1 to 86400, not '%s'\n", opt, arg);
		return false;
	}
	return true;
}

static int do_list_nat(struct ctl *ctl, const struct opts *o)
{
	struct vici_msg m;
	vici_msg_init(&m);
	if (o->nat_addr)
		vici_add_kv(&m, "addr", o->nat_addr);
	char err[512];
	if (vici_client_register(ctl->cl, "list-nat", err, sizeof(err)) < 0) {
		fprintf(stderr, "registering for list-nat failed: %s\n", err);
		vici_msg_free(&m);
		return 1;
	}
	ctl->events_printed = 0;
	if (ctl->fmt == CTL_JSON)
		ctl_json_begin(ctl);
	struct ctree *res = ctl_request(ctl, "tsunagi-list-nat", &m);
	if (ctl->fmt == CTL_JSON)
		ctl_json_end(ctl);
	vici_msg_free(&m);
	if (!res)
		return 1;
	int rc = 0;
	if (ctl->fmt == CTL_RAW || ctl->fmt == CTL_PRETTY)
		ctl_print_reply(ctl, "tsunagi-list-nat", res);
	if (!ctl_check_success(res, "list-nat"))
		rc = 1;
	else if (ctl->fmt == CTL_TABLE)
		printf("%s translation(s)%s%s\n", vici_find_str(res, "listed", "0"),
		       ctree_find(res, "truncated") ? ", list truncated: " : "",
		       vici_find_str(res, "truncated", ""));
	ctree_free(res);
	return rc;
}

static int do_flush_nat(struct ctl *ctl)
{
	struct ctree *res = ctl_request(ctl, "tsunagi-flush-nat", NULL);
	if (!res)
		return 1;
	int rc = 0;
	if (ctl->fmt != CTL_TABLE)
		ctl_print_reply(ctl, "tsunagi-flush-nat", res);
	if (!ctl_check_success(res, "flush-nat"))
		rc = 1;
	else if (ctl->fmt == CTL_TABLE)
		printf("flush-nat: %s translation(s) removed\n", vici_find_str(res, "flushed", "0"));
	ctree_free(res);
	return rc;
}

static int run(struct ctl *ctl, const struct opts *o)
{
	struct vici_msg m;
	int rc;
	switch (o->verb) {
	case V_VERSION:
		return do_simple(ctl, "version", print_version);
	case V_STATS:
		return do_simple(ctl, "stats", ctl_print_stats);
	case V_SAD:
		return do_simple(ctl, "tsunagi-sad", print_text);
	case V_SPD:
		return do_simple(ctl, "tsunagi-spd", print_text);
	case V_LIST_SAS:
		vici_msg_init(&m);
		if (o->ike)
			vici_add_kv(&m, "ike", o->ike);
		if (o->ike_id)
			vici_add_kv(&m, "ike-id", o->ike_id);
		rc = with_events(ctl, "list-sa", "list-sas", &m);
		vici_msg_free(&m);
		return rc;
	case V_LIST_CONNS:
		vici_msg_init(&m);
		if (o->ike)
			vici_add_kv(&m, "ike", o->ike);
		rc = with_events(ctl, "list-conn", "list-conns", &m);
		vici_msg_free(&m);
		return rc;
	case V_INITIATE:
		if (!o->child && !o->ike) {
			fprintf(stderr, "--initiate needs --child NAME (and optionally --ike NAME)\n");
			return 2;
		}
		return do_control(ctl, "initiate", o);
	case V_TERMINATE:
		if (!o->child && !o->ike && !o->ike_id && !o->child_id) {
			fprintf(stderr, "--terminate needs --ike NAME or --child NAME\n");
			return 2;
		}
		return do_control(ctl, "terminate", o);
	case V_REKEY:
		if (!o->child && !o->ike && !o->ike_id && !o->child_id) {
			fprintf(stderr, "--rekey needs --ike NAME or --child NAME\n");
			return 2;
		}
		return do_control(ctl, "rekey", o);
	case V_LOAD_ALL:
		return ctl_load_all(ctl, o->file ? o->file : SYSCONFDIR "/tsunagi/tsunagi.conf");
	case V_COUNTERS:
		return do_counters(ctl, o);
	case V_ENABLE:
	case V_DISABLE:
		return do_enable(ctl, o);
	case V_MONITOR:
		return ctl_monitor(ctl, bound(o->count), bound(o->timeout));
	case V_WATCH:
		return ctl_watch(ctl, o->interval ? bound(o->interval) : 2, bound(o->count),
				 bound(o->timeout));
	case V_LIST_NAT:
		return do_list_nat(ctl, o);
	case V_FLUSH_NAT:
		return do_flush_nat(ctl);
	case V_LIST_POOLS:
		return do_list_pools(ctl, o);
	case V_NONE:
		break;
	}
	usage(stderr);
	return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_COUNT = 200, O_INTERVAL, O_URI = 256, O_IKE, O_CHILD, O_FILE, O_NAME, O_TIMEOUT, O_IKE_ID, O_CHILD_ID,
	       O_RESET, O_REAUTH, O_RAW, O_PRETTY, O_JSON, O_HELP, O_LEASES };
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, V_VERSION },
		{ "stats", no_argument, NULL, V_STATS },
		{ "list-sas", no_argument, NULL, V_LIST_SAS },
		{ "list-conns", no_argument, NULL, V_LIST_CONNS },
		{ "initiate", no_argument, NULL, V_INITIATE },
		{ "terminate", no_argument, NULL, V_TERMINATE },
		{ "rekey", no_argument, NULL, V_REKEY },
		{ "load-all", no_argument, NULL, V_LOAD_ALL },
		{ "counters", no_argument, NULL, V_COUNTERS },
		{ "sad", no_argument, NULL, V_SAD },
		{ "spd", no_argument, NULL, V_SPD },
		{ "enable", required_argument, NULL, V_ENABLE },
		{ "disable", required_argument, NULL, V_DISABLE },
		{ "monitor", no_argument, NULL, V_MONITOR },
		{ "watch", no_argument, NULL, V_WATCH },
		{ "list-nat", no_argument, NULL, V_LIST_NAT },
		{ "flush-nat", no_argument, NULL, V_FLUSH_NAT },
		{ "list-pools", no_argument, NULL, V_LIST_POOLS },
		{ "leases", no_argument, NULL, O_LEASES },
		{ "count", required_argument, NULL, O_COUNT },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "uri", required_argument, NULL, O_URI },
		{ "ike", required_argument, NULL, O_IKE },
		{ "child", required_argument, NULL, O_CHILD },
		{ "file", required_argument, NULL, O_FILE },
		{ "name", required_argument, NULL, O_NAME },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "ike-id", required_argument, NULL, O_IKE_ID },
		{ "child-id", required_argument, NULL, O_CHILD_ID },
		{ "reset", no_argument, NULL, O_RESET },
		{ "reauth", no_argument, NULL, O_REAUTH },
		{ "raw", no_argument, NULL, O_RAW },
		{ "pretty", no_argument, NULL, O_PRETTY },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case V_VERSION: case V_STATS: case V_LIST_SAS: case V_LIST_CONNS:
		case V_INITIATE: case V_TERMINATE: case V_REKEY: case V_LOAD_ALL:
		case V_COUNTERS: case V_SAD: case V_SPD: case V_ENABLE: case V_DISABLE:
		case V_MONITOR: case V_WATCH: case V_LIST_NAT: case V_FLUSH_NAT:
		case V_LIST_POOLS:
			if (o->verb != V_NONE) {
				fprintf(stderr, "only one verb at a time\n");
				return -1;
			}
			o->verb = (enum verb)ch;
			if ((ch == V_ENABLE || ch == V_DISABLE) && !*(o->conn = optarg)) {
				fprintf(stderr, "--%s needs a connection name\n",
					ch == V_ENABLE ? "enable" : "disable");
				return -1;
			}
			break;
		case O_COUNT: o->count = optarg; break;
		case O_INTERVAL: o->interval = optarg; break;
		case O_URI: o->uri = optarg; break;
		case O_IKE: o->ike = optarg; break;
		case O_CHILD: o->child = optarg; break;
		case O_FILE: o->file = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_TIMEOUT: o->timeout = optarg; break;
		case O_IKE_ID: o->ike_id = optarg; break;
		case O_CHILD_ID: o->child_id = optarg; break;
		case O_RESET: o->reset = true; break;
		case O_REAUTH: o->reauth = true; break;
		case O_LEASES: o->leases = true; break;
		case O_RAW: o->fmt = CTL_RAW; break;
		case O_PRETTY: o->fmt = CTL_PRETTY; break;
		case O_JSON: o->fmt = CTL_JSON; break;
		case O_HELP: usage(stdout); exit(0);
		default: return -1;
		}
	}
	bool bounded = o->verb == V_MONITOR || o->verb == V_WATCH;
	if ((o->count || o->interval) && !bounded) {
		fprintf(stderr, "--count and --interval go with --monitor or --watch\n");
		return -1;
	}
	if (o->leases && o->verb != V_LIST_POOLS) {
		fprintf(stderr, "--leases goes with --list-pools\n");
		return -1;
	}
	if (o->interval && o->verb != V_WATCH) {
		fprintf(stderr, "--interval goes with --watch\n");
		return -1;
	}
	if (bounded && (!bound_ok("count", o->count) || !bound_ok("interval", o->interval) ||
			!bound_ok("timeout", o->timeout)))
		return -1;
	/* --list-nat takes an optional address as its one argument. */
	if (o->verb == V_LIST_NAT && optind + 1 == argc)
		o->nat_addr = argv[optind++];
	if (optind < argc && o->verb != V_NONE) {
		fprintf(stderr, "unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (optind < argc) {
		o->operator = true;
		return ctl_op_parse(argc - optind, argv + optind, &o->op);
	}
	return o->verb == V_NONE ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .fmt = CTL_TABLE };
	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	if (!o.uri)
		o.uri = getenv("TSUNAGI_VICI_URI");
	if (!o.uri)
		o.uri = VICI_DEFAULT_URI;
	char err[512];
	struct ctl ctl = { .fmt = o.fmt };
	ctl.cl = vici_client_connect(o.uri, err, sizeof(err));
	if (!ctl.cl) {
		bool denied = errno == EACCES;
		fprintf(stderr, "%s\n", err);
		if (denied)
			fprintf(stderr, "tsunagictl: permission denied: only root and members of the "
				"group '%s' may control tsunagid (ask for: usermod -aG %s $USER)\n",
				TSUNAGI_GROUP, TSUNAGI_GROUP);
		return 3;
	}
	vici_client_on_event(ctl.cl, on_event, &ctl);
	/* show with --raw/--pretty/--json: the list-sas events themselves. */
	bool show = o.operator && (o.op.kind == OP_SHOW_IKE || o.op.kind == OP_SHOW_IPSEC);
	if (show && o.fmt != CTL_TABLE) {
		o.operator = false;
		o.verb = V_LIST_SAS;
	}
	int rc = o.operator ? ctl_op_run(&ctl, &o.op) : run(&ctl, &o);
	vici_client_close(ctl.cl);
	return rc;
}
