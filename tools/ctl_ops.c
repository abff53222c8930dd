/* tsunagictl's operator verbs, the words of Cisco and Juniper gateways:
 *
 *   show ike sa [detail] [PEER|CONN]     show ipsec sa [detail] [PEER|CONN|CHILD]
 *   clear ike sa [PEER|CONN]             clear ipsec sa [PEER|CONN|CHILD]
 *   clear counters [CONN]                refresh CONN|CHILD
 *
 * They read list-sas / list-conns and send terminate, initiate and reset-counters, so
 * the daemon needs nothing of its own for them. PEER is the peer's IP address as
 * list-sas shows it (remote-host). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl.h"

static bool word(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

int ctl_op_parse(int argc, char **argv, struct ctl_op *op)
{
	int i = 0;
	memset(op, 0, sizeof(*op));
	if (word(argv[0], "refresh")) {
		if (argc != 2) {
			fprintf(stderr, "refresh needs one connection or CHILD name\n");
			return -1;
		}
		op->kind = OP_REFRESH;
		op->target = argv[1];
		return 0;
	}
	bool show = word(argv[0], "show"), clear = word(argv[0], "clear");
	if (!show && !clear) {
		fprintf(stderr, "unknown verb '%s'\n", argv[0]);
		return -1;
	}
	i = 1;
	if (clear && word(argv[i], "counters")) {
		op->kind = OP_CLEAR_COUNTERS;
		i++;
	} else if ((word(argv[i], "ike") || word(argv[i], "ipsec")) && word(argv[i + 1], "sa")) {
		bool ike = word(argv[i], "ike");
		op->kind = show ? (ike ? OP_SHOW_IKE : OP_SHOW_IPSEC) : (ike ? OP_CLEAR_IKE : OP_CLEAR_IPSEC);
		i += 2;
		if (show && word(argv[i], "detail")) {
			op->detail = true;
			i++;
		}
	} else {
		fprintf(stderr, "%s what? (ike sa, ipsec sa%s)\n", argv[0], clear ? ", counters" : "");
		return -1;
	}
	if (i < argc)
		op->target = argv[i++];
	if (i < argc) {
		fprintf(stderr, "unexpected argument '%s'\n", argv[i]);
		return -1;
	}
	return 0;
}

/* ---- collecting list-sa / list-conn events ---- */

static bool copy_tree(struct ctree *to, const struct ctree *from)
{
	for (const struct ctree *c = from->child; c; c = c->next) {
		struct ctree *n;
		if (c->is_list) {
			n = ctree_add_list(to, c->name, "vici", 0);
			for (size_t i = 0; n && i < c->n_list; i++)
				ctree_list_append(n, c->list[i]);
		} else if (c->value) {
			n = ctree_add_value(to, c->name, c->value, "vici", 0);
		} else {
			n = ctree_add_section(to, c->name, "vici", 0);
			if (n && !copy_tree(n, c))
				return false;
		}
		if (!n)
			return false;
	}
	return true;
}

struct collect {
	struct ctree *root;
	bool failed;
};

/* Outside ctl_fetch(): only the progress of an initiate is printed. */
static void on_log(void *arg, const char *event, const struct ctree *msg)
{
	if (strcmp(event, "control-log") == 0)
		ctl_print_log_line(msg);
}

static void on_collect(void *arg, const char *event, const struct ctree *msg)
{
	struct collect *col = arg;
	if (strcmp(event, "control-log") == 0)
		ctl_print_log_line(msg);
	else if (!copy_tree(col->root, msg))
		col->failed = true;
}

/* The sections of every event a list command streams, under one root (NULL after
 * printing why). */
struct ctree *ctl_fetch(struct ctl *ctl, const char *event, const char *cmd)
{
	char err[512];
	struct collect col = { ctree_new(NULL, "vici", 0), false };
	if (!col.root)
		return NULL;
	if (vici_client_register(ctl->cl, event, err, sizeof(err)) < 0) {
		fprintf(stderr, "registering for %s failed: %s\n", event, err);
		ctree_free(col.root);
		return NULL;
	}
	vici_client_on_event(ctl->cl, on_collect, &col);
	struct ctree *res = ctl_request(ctl, cmd, NULL);
	vici_client_unregister(ctl->cl, event, err, sizeof(err));
	vici_client_on_event(ctl->cl, on_log, NULL);	/* col ends here */
	if (!res || col.failed) {
		if (col.failed)
			fprintf(stderr, "%s: out of memory\n", cmd);
		ctree_free(col.root);
		col.root = NULL;
	}
	ctree_free(res);
	return col.root;
}

static const char *s(const struct ctree *t, const char *key)
{
	return vici_find_str(t, key, "");
}

/* An IKE SA is the target's when the target names its connection or its peer. */
static bool ike_matches(const struct ctree *ike, const char *target)
{
	return !target || strcmp(target, ike->name) == 0 || strcmp(target, s(ike, "remote-host")) == 0;
}

static bool has_child(const struct ctree *ike, const char *name)
{
	const struct ctree *cs = ctree_find(ike, "child-sas");
	for (const struct ctree *c = cs ? cs->child : NULL; c; c = c->next)
		if (ctree_is_section(c) && strcmp(s(c, "name"), name) == 0)
			return true;
	return false;
}

static int show(struct ctl *ctl, const struct ctl_op *op)
{
	struct ctree *sas = ctl_fetch(ctl, "list-sa", "list-sas");
	if (!sas)
		return 1;
	bool ike = op->kind == OP_SHOW_IKE;
	int n = 0;
	if (!op->detail && ike)
		ctl_show_ike_header();
	else if (!op->detail)
		ctl_show_ipsec_header();
	for (const struct ctree *sa = sas->child; sa; sa = sa->next) {
		if (!ctree_is_section(sa))
			continue;
		if (ike && ike_matches(sa, op->target)) {
			ctl_show_ike(sa, op->detail);
			n++;
		} else if (!ike) {
			const char *child = ike_matches(sa, op->target) ? NULL : op->target;
			if (!child || has_child(sa, child))
				n += ctl_show_ipsec(sa, child, op->detail);
		}
	}
	ctree_free(sas);
	if (n == 0 && op->target) {
		fprintf(stderr, "no %s SA matches '%s'\n", ike ? "IKE" : "IPsec", op->target);
		return 1;
	}
	return 0;
}

/* terminate one SA by its unique id; prints what it closes. */
static bool terminate(struct ctl *ctl, const char *key, const char *id, const char *what)
{
	struct vici_msg m;
	vici_msg_init(&m);
	vici_add_kv(&m, key, id);
	struct ctree *res = ctl_request(ctl, "terminate", &m);
	vici_msg_free(&m);
	bool ok = res && ctl_check_success(res, "terminate");
	if (ok)
		printf("cleared %s\n", what);
	ctree_free(res);
	return ok;
}

static int clear_sas(struct ctl *ctl, const struct ctl_op *op)
{
	struct ctree *sas = ctl_fetch(ctl, "list-sa", "list-sas");
	if (!sas)
		return 1;
	int n = 0, failed = 0;
	char what[256];
	for (const struct ctree *sa = sas->child; sa; sa = sa->next) {
		if (!ctree_is_section(sa))
			continue;
		bool whole = ike_matches(sa, op->target);
		if (op->kind == OP_CLEAR_IKE) {
			if (!whole)
				continue;
			snprintf(what, sizeof(what), "IKE SA %s #%s, peer %s[%s]", sa->name,
				 s(sa, "uniqueid"), s(sa, "remote-host"), s(sa, "remote-port"));
			failed += !terminate(ctl, "ike-id", s(sa, "uniqueid"), what);
			n++;
			continue;
		}
		const struct ctree *cs = ctree_find(sa, "child-sas");
		for (const struct ctree *c = cs ? cs->child : NULL; c; c = c->next) {
			if (!ctree_is_section(c) || (!whole && strcmp(op->target, s(c, "name")) != 0))
				continue;
			snprintf(what, sizeof(what), "CHILD SA %s #%s of IKE SA %s #%s", s(c, "name"),
				 s(c, "uniqueid"), sa->name, s(sa, "uniqueid"));
			failed += !terminate(ctl, "child-id", s(c, "uniqueid"), what);
			n++;
		}
	}
	ctree_free(sas);
	if (n == 0) {
		const char *kind = op->kind == OP_CLEAR_IKE ? "IKE" : "IPsec";
		if (op->target) {
			fprintf(stderr, "no %s SA matches '%s'\n", kind, op->target);
			return 1;
		}
		printf("no %s SAs\n", kind);
	}
	return failed ? 1 : 0;
}

static int clear_counters(struct ctl *ctl, const struct ctl_op *op)
{
	struct vici_msg m;
	vici_msg_init(&m);
	if (op->target)
		vici_add_kv(&m, "name", op->target);
	else
		vici_add_kv(&m, "all", "yes");
	struct ctree *res = ctl_request(ctl, "reset-counters", &m);
	vici_msg_free(&m);
	bool ok = res && ctl_check_success(res, "clear counters");
	if (ok)
		printf("counters cleared\n");
	ctree_free(res);
	return ok ? 0 : 1;
}

/* Is a CHILD SA of this config up in an IKE SA of this connection? */
static bool child_up(const struct ctree *sas, const char *conn, const char *child)
{
	for (const struct ctree *sa = sas->child; sa; sa = sa->next) {
		if (!ctree_is_section(sa) || strcmp(sa->name, conn) != 0)
			continue;
		const struct ctree *cs = ctree_find(sa, "child-sas");
		for (const struct ctree *c = cs ? cs->child : NULL; c; c = c->next)
			if (ctree_is_section(c) && strcmp(s(c, "name"), child) == 0 &&
			    strcmp(s(c, "state"), "INSTALLED") == 0)
				return true;
	}
	return false;
}

static int initiate(struct ctl *ctl, const char *conn, const char *child)
{
	char err[512];
	struct vici_msg m;
	vici_msg_init(&m);
	vici_add_kv(&m, "child", child);
	vici_add_kv(&m, "ike", conn);
	vici_add_kv(&m, "timeout", "30000");
	vici_add_kv(&m, "init-limits", "no");
	vici_add_kv(&m, "loglevel", "1");
	if (vici_client_register(ctl->cl, "control-log", err, sizeof(err)) < 0)
		fprintf(stderr, "registering for control-log failed: %s\n", err);
	struct ctree *res = ctl_request(ctl, "initiate", &m);
	vici_msg_free(&m);
	bool ok = res && ctl_check_success(res, "refresh");
	if (ok)
		printf("%s/%s is up\n", conn, child);
	ctree_free(res);
	vici_client_unregister(ctl->cl, "control-log", err, sizeof(err));
	return ok ? 0 : 1;
}

/* refresh: brings up now every CHILD SA of the connection (or the one CHILD) that is
 * not up; those already up stay as they are. */
static int refresh(struct ctl *ctl, const struct ctl_op *op)
{
	struct ctree *conns = ctl_fetch(ctl, "list-conn", "list-conns");
	struct ctree *sas = conns ? ctl_fetch(ctl, "list-sa", "list-sas") : NULL;
	int rc = 0, matched = 0, started = 0;
	for (const struct ctree *conn = conns ? conns->child : NULL; sas && conn; conn = conn->next) {
		const struct ctree *cs = ctree_find(conn, "children");
		bool whole = strcmp(conn->name, op->target) == 0;
		bool disabled = strcmp(vici_find_str(conn, "tsunagi-disabled", "no"), "yes") == 0;
		for (const struct ctree *c = cs ? cs->child : NULL; c; c = c->next) {
			if (!ctree_is_section(c) || (!whole && strcmp(c->name, op->target) != 0))
				continue;
			matched++;
			if (disabled) {
				fprintf(stderr, "%s/%s: connection '%s' is disabled (tsunagictl --enable %s)\n",
					conn->name, c->name, conn->name, conn->name);
				rc = 1;
				started++;
				continue;
			}
			if (child_up(sas, conn->name, c->name))
				continue;
			started++;
			rc |= initiate(ctl, conn->name, c->name);
		}
	}
	if (conns && sas && matched == 0) {
		fprintf(stderr, "no connection or CHILD named '%s'\n", op->target);
		rc = 1;
	} else if (conns && sas && started == 0) {
		printf("%s: already up\n", op->target);
	}
	if (!conns || !sas)
		rc = 1;
	ctree_free(conns);
	ctree_free(sas);
	return rc;
}

int ctl_op_run(struct ctl *ctl, const struct ctl_op *op)
{
	switch (op->kind) {
	case OP_SHOW_IKE:
	case OP_SHOW_IPSEC:
		return show(ctl, op);
	case OP_CLEAR_IKE:
	case OP_CLEAR_IPSEC:
		return clear_sas(ctl, op);
	case OP_CLEAR_COUNTERS:
		return clear_counters(ctl, op);
	case OP_REFRESH:
		return refresh(ctl, op);
	}
	return 2;
}
