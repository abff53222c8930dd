/* The VICI commands tsunagid answers, with strongSwan's names and message layouts,
 * so that swanctl and tsunagictl both drive it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>
#include <pthread.h>

#include "daemon/views.h"
#include "ike/ike_sa.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/log_json.h"
#include "pfkey/pfkey.h"
#include <sodium.h>

static time_t started;
static pthread_t main_thread;

/* An initiate command waiting for its CHILD_SA (or failure), as charon's
 * "initiate" waits unless told not to block. */
struct pending {
	struct vici_conn *conn;
	char *ike, *child;
	ms_t deadline;
	ms_t started;
	struct pending *next;
};
static struct pending *pendings;

static const char *str(const struct ctree *req, const char *key)
{
	return vici_find_str(req, key, NULL);
}

static uint32_t num(const struct ctree *req, const char *key)
{
	const char *s = str(req, key);
	return s ? (uint32_t)strtoul(s, NULL, 10) : 0;
}

static enum vici_reply cmd_version(void *arg, struct vici_conn *c, const struct ctree *req,
				   struct vici_msg *resp)
{
	struct utsname u;
	uname(&u);
	vici_add_kv(resp, "daemon", "tsunagid");
	vici_add_kv(resp, "version", PACKAGE_VERSION);
	vici_add_kv(resp, "sysname", u.sysname);
	vici_add_kv(resp, "release", u.release);
	vici_add_kv(resp, "machine", u.machine);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_stats(void *arg, struct vici_conn *c, const struct ctree *req,
				 struct vici_msg *resp)
{
	struct daemon *d = arg;
	struct ike_stats st;
	char since[64];
	struct tm tm;
	ike_get_stats(d->ike, &st);
	localtime_r(&started, &tm);
	strftime(since, sizeof(since), "%b %d %H:%M:%S %Y", &tm);
	vici_begin_section(resp, "uptime");
	vici_add_kvf(resp, "running", "%ld seconds", (long)(time(NULL) - started));
	vici_add_kv(resp, "since", since);
	vici_end_section(resp);
	vici_begin_section(resp, "workers");
	vici_add_kv(resp, "total", "1");
	vici_add_kv(resp, "idle", "1");
	vici_begin_section(resp, "active");
	vici_add_kv(resp, "critical", "0");
	vici_add_kv(resp, "high", "0");
	vici_add_kv(resp, "medium", "0");
	vici_add_kv(resp, "low", "0");
	vici_end_section(resp);
	vici_end_section(resp);
	vici_begin_section(resp, "queues");
	vici_add_kv(resp, "critical", "0");
	vici_add_kv(resp, "high", "0");
	vici_add_kv(resp, "medium", "0");
	vici_add_kv(resp, "low", "0");
	vici_end_section(resp);
	vici_add_kv(resp, "scheduled", "0");
	vici_begin_section(resp, "ikesas");
	vici_add_kvf(resp, "total", "%llu", (unsigned long long)(st.ike_sas + st.half_open));
	vici_add_kvf(resp, "half-open", "%llu", (unsigned long long)st.half_open);
	vici_end_section(resp);
	vici_begin_list(resp, "plugins");
	vici_add_item(resp, "ikev2");
	vici_add_item(resp, "esp-userspace");
	vici_add_item(resp, "vici");
	vici_end_list(resp);
	return VICI_REPLY_DONE;
}

static bool ike_selected(const struct ike_sa *sa, const struct ctree *req)
{
	const char *name = str(req, "ike");
	uint32_t id = num(req, "ike-id");
	if (name && strcmp(name, ike_sa_name(sa)) != 0)
		return false;
	return !id || id == sa->uniqueid;
}

static enum vici_reply cmd_list_sas(void *arg, struct vici_conn *c, const struct ctree *req,
				    struct vici_msg *resp)
{
	struct daemon *d = arg;
	struct ike_view_storage *st = malloc(sizeof(*st));
	struct vici_msg ev;
	if (!st)
		return VICI_REPLY_DONE;
	vici_msg_init(&ev);
	for (const struct ike_sa *sa = ike_sa_first(d->ike); sa; sa = ike_sa_next(sa)) {
		if (!ike_selected(sa, req))
			continue;
		views_ike(d, sa, st);
		vici_msg_reset(&ev);
		vici_build_list_sa(&ev, &st->ike);
		vici_conn_event(c, "list-sa", &ev);
	}
	vici_msg_free(&ev);
	free(st);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_list_conns(void *arg, struct vici_conn *c, const struct ctree *req,
				      struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *only = str(req, "ike");
	struct conn_view_storage *st = malloc(sizeof(*st));
	struct vici_msg ev;
	if (!st)
		return VICI_REPLY_DONE;
	vici_msg_init(&ev);
	for (const struct conn_cfg *cfg = ike_conn_first(d->ike); cfg; cfg = ike_conn_next(d->ike, cfg)) {
		if (only && strcmp(only, cfg->name) != 0)
			continue;
		views_conn(cfg, st);
		vici_msg_reset(&ev);
		vici_build_list_conn(&ev, &st->conn);
		vici_conn_event(c, "list-conn", &ev);
	}
	for (const struct conn_cfg *cfg = conn_disabled_first(d); cfg; cfg = conn_disabled_next(d, cfg)) {
		if (only && strcmp(only, cfg->name) != 0)
			continue;
		views_conn(cfg, st);
		st->conn.disabled = true;
		vici_msg_reset(&ev);
		vici_build_list_conn(&ev, &st->conn);
		vici_conn_event(c, "list-conn", &ev);
	}
	vici_msg_free(&ev);
	free(st);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_get_conns(void *arg, struct vici_conn *c, const struct ctree *req,
				     struct vici_msg *resp)
{
	struct daemon *d = arg;
	vici_begin_list(resp, "conns");
	for (const struct conn_cfg *cfg = ike_conn_first(d->ike); cfg; cfg = ike_conn_next(d->ike, cfg))
		vici_add_item(resp, cfg->name);
	vici_end_list(resp);
	return VICI_REPLY_DONE;
}

static enum vici_reply result(struct vici_msg *resp, int rc, const char *err)
{
	vici_build_result(resp, rc == 0, rc == 0 ? NULL : err);
	return VICI_REPLY_DONE;
}

/* list-policies: the trap policies, as charon lists them ("<conn>/<child>"). */
static void ts_list(struct vici_msg *m, const char *name, const struct ts_cfg *ts, size_t n)
{
	char s[SELECTOR_STRLEN];
	vici_begin_list(m, name);
	for (size_t i = 0; i < n; i++)
		vici_add_item(m, ts_cfg_fmt(&ts[i], s, sizeof(s)));
	vici_end_list(m);
}

static enum vici_reply cmd_list_policies(void *arg, struct vici_conn *c, const struct ctree *req,
					 struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *only = str(req, "child");
	struct vici_msg ev;
	vici_msg_init(&ev);
	for (const struct conn_cfg *cfg = ike_conn_first(d->ike); cfg; cfg = ike_conn_next(d->ike, cfg)) {
		for (const struct child_cfg *cc = cfg->children; cc; cc = cc->next) {
			if (cc->start_action != START_TRAP || (only && strcmp(only, cc->name) != 0))
				continue;
			char key[256];
			snprintf(key, sizeof(key), "%s/%s", cfg->name, cc->name);
			vici_msg_reset(&ev);
			vici_begin_section(&ev, key);
			vici_add_kv(&ev, "child", cc->name);
			vici_add_kv(&ev, "ike", cfg->name);
			vici_add_kv(&ev, "mode", cc->mode == MODE_TRANSPORT ? "TRANSPORT" : "TUNNEL");
			ts_list(&ev, "local-ts", cc->local_ts, cc->n_local_ts);
			ts_list(&ev, "remote-ts", cc->remote_ts, cc->n_remote_ts);
			vici_end_section(&ev);
			vici_conn_event(c, "list-policy", &ev);
		}
	}
	vici_msg_free(&ev);
	return VICI_REPLY_DONE;
}

/* ---- initiate: wait for the outcome ---- */

static bool child_up(struct daemon *d, const char *ike, const char *child, ms_t since)
{
	for (const struct ike_sa *sa = ike_sa_first(d->ike); sa; sa = ike_sa_next(sa)) {
		if (ike && strcmp(ike, ike_sa_name(sa)) != 0)
			continue;
		if (sa->state != IKE_ESTABLISHED)
			continue;
		if (!child)
			return true;
		for (const struct child_sa *c = sa->children; c; c = c->next)
			if (strcmp(c->cfg->name, child) == 0 && c->state == CHILD_INSTALLED &&
			    c->installed_at >= since)
				return true;
	}
	return false;
}

static bool still_trying(struct daemon *d, const char *ike, const char *child)
{
	for (const struct ike_sa *sa = ike_sa_first(d->ike); sa; sa = ike_sa_next(sa)) {
		if (ike && strcmp(ike, ike_sa_name(sa)) != 0)
			continue;
		if (sa->state == IKE_CONNECTING || sa->state == IKE_CREATED || sa->req.kind != TASK_NONE ||
		    sa->tasks)
			return true;
	}
	return false;
}

static void pending_free(struct pending *p)
{
	free(p->ike);
	free(p->child);
	free(p);
}

/* Called after every event: completes initiate commands whose outcome is known. */
void ctl_check_pending(struct daemon *d)
{
	ms_t now = clock_now_ms();
	for (struct pending **pp = &pendings; *pp;) {
		struct pending *p = *pp;
		bool up = child_up(d, p->ike, p->child, p->started);
		bool trying = !up && still_trying(d, p->ike, p->child) && now < p->deadline;
		if (trying) {
			pp = &p->next;
			continue;
		}
		struct vici_msg m;
		vici_msg_init(&m);
		if (up)
			vici_build_result(&m, true, NULL);
		else
			vici_build_result(&m, false, now >= p->deadline ? "initiation timed out" :
				"establishing CHILD_SA failed (see the daemon log)");
		vici_conn_respond(p->conn, &m);
		vici_msg_free(&m);
		*pp = p->next;
		pending_free(p);
	}
}

static enum vici_reply cmd_initiate(void *arg, struct vici_conn *c, const struct ctree *req,
				    struct vici_msg *resp)
{
	struct daemon *d = arg;
	char err[256];
	const char *ike = str(req, "ike"), *child = str(req, "child");
	uint32_t timeout = num(req, "timeout");
	ms_t now = clock_now_ms();
	if (!ike && !child)
		return result(resp, -1, "missing configuration name");
	if (ike && conn_is_disabled(d, ike)) {
		snprintf(err, sizeof(err), "connection '%s' is disabled (tsunagictl --enable %s)",
			 ike, ike);
		return result(resp, -1, err);
	}
	if (ike_initiate(d->ike, ike, child, now, err, sizeof(err)) < 0)
		return result(resp, -1, err);
	daemon_schedule(d, ike_tick(d->ike, now));
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return result(resp, 0, NULL);
	p->conn = c;
	p->ike = ike ? strdup(ike) : NULL;
	p->child = child ? strdup(child) : NULL;
	p->started = now;
	p->deadline = now + (timeout ? timeout : 60000);
	p->next = pendings;
	pendings = p;
	return VICI_REPLY_PENDING;
}

static enum vici_reply cmd_terminate(void *arg, struct vici_conn *c, const struct ctree *req,
				     struct vici_msg *resp)
{
	struct daemon *d = arg;
	char err[256];
	int rc = ike_terminate(d->ike, str(req, "ike"), num(req, "ike-id"), str(req, "child"),
			       num(req, "child-id"), clock_now_ms(), err, sizeof(err));
	daemon_schedule(d, ike_tick(d->ike, clock_now_ms()));
	return result(resp, rc, err);
}

static enum vici_reply cmd_rekey(void *arg, struct vici_conn *c, const struct ctree *req,
				 struct vici_msg *resp)
{
	struct daemon *d = arg;
	char err[256];
	int rc = ike_rekey(d->ike, str(req, "ike"), num(req, "ike-id"), str(req, "child"),
			   num(req, "child-id"), clock_now_ms(), err, sizeof(err));
	daemon_schedule(d, ike_tick(d->ike, clock_now_ms()));
	if (rc == 0)
		vici_add_kv(resp, "matches", "1");
	return result(resp, rc, err);
}

static enum vici_reply cmd_load_conn(void *arg, struct vici_conn *c, const struct ctree *req,
				     struct vici_msg *resp)
{
	struct daemon *d = arg;
	char err[512] = "empty request";
	int rc = -1;
	for (const struct ctree *t = req->child; t; t = t->next) {
		if (!ctree_is_section(t))
			continue;
		struct conn_cfg *cfg = config_build_conn(t, err, sizeof(err));
		if (!cfg || ctl_pools_check_conn(d, cfg, err, sizeof(err)) < 0) {
			log_err(LOG_CFG, "load-conn '%s' rejected: %s", t->name, err);
			conn_cfg_free(cfg);
			return result(resp, -1, err);
		}
		rc = conn_disabled_update(d, cfg) ? 0 : ike_load_conn(d->ike, cfg, clock_now_ms());
	}
	daemon_schedule(d, ike_tick(d->ike, clock_now_ms()));
	return result(resp, rc, err);
}

static enum vici_reply cmd_unload_conn(void *arg, struct vici_conn *c, const struct ctree *req,
				       struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *name = str(req, "name");
	char err[256];
	snprintf(err, sizeof(err), "unloading connection '%s' failed", name ? name : "");
	if (name && conn_is_disabled(d, name)) {
		conn_disabled_forget(d, name);
		return result(resp, 0, NULL);
	}
	return result(resp, name ? ike_unload_conn(d->ike, name, clock_now_ms()) : -1, err);
}

static enum vici_reply cmd_load_shared(void *arg, struct vici_conn *c, const struct ctree *req,
				       struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *type = str(req, "type");
	char err[512];
	bool eap = type && strcasecmp(type, "EAP") == 0;
	bool xauth = type && strcasecmp(type, "XAUTH") == 0;
	if (type && strcasecmp(type, "IKE") != 0 && !eap && !xauth)
		return result(resp, -1, "tsunagi supports only IKE, EAP and XAUTH shared keys");
	/* The shared builder reads a swanctl-style "ike" section: owners -> id-N. */
	struct ctree *sec = ctree_new(str(req, "id") ? str(req, "id") : "vici-shared", "vici", 0);
	const struct ctree *data = ctree_find(req, "data");
	const struct ctree *owners = ctree_find(req, "owners");
	if (!sec || !data || !data->value) {
		ctree_free(sec);
		return result(resp, -1, "load-shared without data");
	}
	ctree_add_value(sec, "secret", data->value, "vici", 0);
	if (owners) {
		char **items = NULL;
		size_t n = ctree_items(owners, &items);
		for (size_t i = 0; i < n; i++) {
			char key[32];
			snprintf(key, sizeof(key), "id-%zu", i);
			ctree_add_value(sec, key, items[i], "vici", 0);
		}
		ctree_free_items(items, n);
	}
	struct secret_cfg *s = config_build_secret(sec, err, sizeof(err));
	ctree_free(sec);
	if (!s)
		return result(resp, -1, err);
	s->type = eap ? SECRET_EAP : xauth ? SECRET_XAUTH : SECRET_IKE;
	ike_load_secret(d->ike, s);
	return result(resp, 0, NULL);
}

static enum vici_reply cmd_unload_shared(void *arg, struct vici_conn *c, const struct ctree *req,
					 struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *id = str(req, "id");
	return result(resp, id ? ike_unload_secret(d->ike, id) : -1, "no such shared key");
}

static enum vici_reply cmd_get_shared(void *arg, struct vici_conn *c, const struct ctree *req,
				      struct vici_msg *resp)
{
	struct daemon *d = arg;
	vici_begin_list(resp, "keys");
	for (const struct secret_cfg *s = ike_secret_first(d->ike); s; s = s->next)
		vici_add_item(resp, s->name);
	vici_end_list(resp);
	return VICI_REPLY_DONE;
}

/* Commands swanctl --load-all sends for things tsunagi has none of (authorities):
 * answered as charon answers with nothing loaded. Credentials: ctl_creds.c; pools:
 * ctl_pools.c. */
static enum vici_reply cmd_empty_list(void *arg, struct vici_conn *c, const struct ctree *req,
				      struct vici_msg *resp)
{
	const char *list = arg;
	if (list) {
		vici_begin_list(resp, list);
		vici_end_list(resp);
	}
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_success(void *arg, struct vici_conn *c, const struct ctree *req,
				   struct vici_msg *resp)
{
	return result(resp, 0, NULL);
}

static enum vici_reply cmd_unsupported(void *arg, struct vici_conn *c, const struct ctree *req,
				       struct vici_msg *resp)
{
	char err[128];
	snprintf(err, sizeof(err), "%s is not supported by tsunagi", (const char *)arg);
	return result(resp, -1, err);
}

static enum vici_reply cmd_counters(void *arg, struct vici_conn *c, const struct ctree *req,
				    struct vici_msg *resp)
{
	struct metric_counter ctr[DAEMON_COUNTERS_MAX];
	size_t n = daemon_counters(arg, ctr);
	vici_begin_section(resp, "counters");
	vici_begin_section(resp, "");
	for (size_t i = 0; i < n; i++)
		vici_add_kvf(resp, ctr[i].name, "%llu", (unsigned long long)ctr[i].value);
	vici_end_section(resp);
	vici_end_section(resp);
	vici_add_kv(resp, "success", "yes");
	return VICI_REPLY_DONE;
}

static bool conn_loaded(struct daemon *d, const char *name)
{
	for (const struct conn_cfg *cfg = ike_conn_first(d->ike); cfg; cfg = ike_conn_next(d->ike, cfg))
		if (strcmp(cfg->name, name) == 0)
			return true;
	return false;
}

/* Without a name (or with all = yes) every counter; with one, that connection's SAs'. */
static enum vici_reply cmd_reset_counters(void *arg, struct vici_conn *c, const struct ctree *req,
					  struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *name = str(req, "name");
	if (name && !conn_loaded(d, name))
		return result(resp, -1, "no such connection");
	return result(resp, daemon_reset_counters(d, name), "out of memory");
}

/* tsunagi-disable / tsunagi-enable { name = CONN }: daemon/disabled.c. */
static enum vici_reply cmd_enable(void *arg, struct vici_conn *c, const struct ctree *req,
				  struct vici_msg *resp, bool enable)
{
	struct daemon *d = arg;
	const char *name = str(req, "name");
	char err[256];
	if (!name)
		return result(resp, -1, "missing connection name");
	int rc = enable ? conn_enable(d, name, err, sizeof(err)) : conn_disable(d, name, err, sizeof(err));
	return result(resp, rc, err);
}

static enum vici_reply cmd_tsunagi_enable(void *arg, struct vici_conn *c, const struct ctree *req,
					  struct vici_msg *resp)
{
	return cmd_enable(arg, c, req, resp, true);
}

static enum vici_reply cmd_tsunagi_disable(void *arg, struct vici_conn *c, const struct ctree *req,
					   struct vici_msg *resp)
{
	return cmd_enable(arg, c, req, resp, false);
}

static void collect(void *arg, const uint8_t *msg, size_t len)
{
	buf_put(arg, msg, len);
}

/* tsunagi-sad / tsunagi-spd: the engine's databases as setkey -D / -DP prints them. */
static enum vici_reply dump(struct daemon *d, struct vici_msg *resp, bool spd)
{
	struct buf req, replies, text;
	buf_init(&req);
	buf_init(&replies);
	buf_init(&text);
	pfkey_build_simple(&req, spd ? SADB_X_SPDDUMP : SADB_DUMP, SADB_SATYPE_ESP, 1);
	struct pfkey_endpoint to = { collect, &replies };
	esp_engine_pfkey_input(d->esp, req.data, req.len, &to);
	for (size_t off = 0; off < replies.len;) {
		size_t n = pfkey_first_len(replies.data + off, replies.len - off);
		struct pfkey_msg m;
		char err[128];
		if (n == 0)
			break;
		if (pfkey_decode(replies.data + off, n, &m, err, sizeof(err)) == 0 &&
		    m.hdr->sadb_msg_errno == 0) {
			if (spd) {
				struct pfkey_policy p;
				if (pfkey_msg_policy(&m, &p, err, sizeof(err)) == 0)
					pfkey_format_policy(&p, &text);
			} else {
				struct pfkey_sa sa;
				if (pfkey_msg_sa(&m, &sa, err, sizeof(err)) == 0)
					pfkey_format_sa(&sa, &text);
				sodium_memzero(&sa, sizeof(sa));
			}
		}
		off += n;
	}
	buf_put_u8(&text, 0);
	vici_add_kv(resp, "text", text.len > 1 ? (const char *)text.data : "");
	buf_free(&req);
	buf_wipe_free(&replies);
	buf_free(&text);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_sad(void *arg, struct vici_conn *c, const struct ctree *req,
			       struct vici_msg *resp)
{
	return dump(arg, resp, false);
}

static enum vici_reply cmd_spd(void *arg, struct vici_conn *c, const struct ctree *req,
			       struct vici_msg *resp)
{
	return dump(arg, resp, true);
}

void ctl_updown(struct daemon *d, const struct ike_sa *sa, const struct child_sa *c, bool up)
{
	if (!d->vici)
		return;
	const char *ev = c ? "child-updown" : "ike-updown";
	if (!vici_server_has_listeners(d->vici, ev))
		return;
	struct ike_view_storage *st = malloc(sizeof(*st));
	struct vici_msg m;
	if (!st)
		return;
	views_ike(d, sa, st);
	vici_msg_init(&m);
	if (c) {
		struct vici_child_view cv;
		views_child(d, sa, c, &cv);
		vici_build_child_updown(&m, &st->ike, &cv, up);
	} else {
		vici_build_ike_updown(&m, &st->ike, up);
	}
	vici_server_emit(d->vici, ev, &m);
	vici_msg_free(&m);
	free(st);
}

/* Log lines as VICI events: "log" for every listener (swanctl --log), "control-log"
 * for clients waiting on an initiate. Only from the event loop's thread: the
 * data-plane threads log too, and the VICI server is not thread-safe. */
static void log_to_vici(void *arg, enum log_subsys s, int level, const char *line)
{
	static bool busy;
	struct daemon *d = arg;
	if (busy || !d->vici || !pthread_equal(pthread_self(), main_thread))
		return;
	bool any = vici_server_has_listeners(d->vici, "log");
	if (!any && !pendings)
		return;
	busy = true;
	struct vici_msg m;
	vici_msg_init(&m);
	vici_build_log(&m, log_subsys_name(s), level, NULL, 0, line);
	if (any)
		vici_server_emit(d->vici, "log", &m);
	for (struct pending *p = pendings; p; p = p->next)
		if (level <= 1)
			vici_conn_event(p->conn, "control-log", &m);
	vici_msg_free(&m);
	busy = false;
}

/* The "state" and "child_state" of JSON log lines: the named SA's state as the views
 * show it. Only on the event loop's thread (the IKE core is not thread-safe) and only
 * for SAs still listed. */
static const char *sa_state_for_log(void *arg, bool child, const char *name, unsigned long id)
{
	struct daemon *d = arg;
	if (!d->ike || !pthread_equal(pthread_self(), main_thread))
		return NULL;
	for (const struct ike_sa *sa = ike_sa_first(d->ike); sa; sa = ike_sa_next(sa)) {
		if (!child) {
			if (sa->uniqueid == id && strcmp(ike_sa_name(sa), name) == 0)
				return ike_state_name(sa->state);
			continue;
		}
		for (const struct child_sa *c = sa->children; c; c = c->next)
			if (c->uniqueid == id && strcmp(c->cfg->name, name) == 0)
				return child_state_name(c->state);
	}
	return NULL;
}

void ctl_unregister(struct daemon *d)
{
	log_json_set_state_fn(NULL, NULL);
	log_remove_sink(log_to_vici, d);
	while (pendings) {
		struct pending *p = pendings;
		pendings = p->next;
		pending_free(p);
	}
}

/* ike-rekey / child-rekey, as charon sends them (swanctl --monitor-sa). */
void ctl_rekeyed(struct daemon *d, const struct ike_sa *old_ike, const struct ike_sa *new_ike,
		 const struct child_sa *old_child, const struct child_sa *new_child)
{
	const char *ev = old_child ? "child-rekey" : "ike-rekey";
	if (!d->vici || !vici_server_has_listeners(d->vici, ev))
		return;
	struct ike_view_storage *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct vici_msg m;
	vici_msg_init(&m);
	if (a && b) {
		views_ike(d, old_ike, a);
		if (old_child) {
			struct vici_child_view oc, nc;
			views_child(d, old_ike, old_child, &oc);
			views_child(d, old_ike, new_child, &nc);
			vici_build_child_rekey(&m, &a->ike, &oc, &nc);
		} else {
			views_ike(d, new_ike, b);
			vici_build_ike_rekey(&m, &a->ike, &b->ike);
		}
		vici_server_emit(d->vici, ev, &m);
	}
	vici_msg_free(&m);
	free(a);
	free(b);
}

int ctl_register(struct daemon *d)
{
	static const char *const events[] = {
		"ike-updown", "child-updown", "ike-rekey", "child-rekey", "list-sa", "list-conn",
		"list-policy", "list-cert", "list-authority", "log", "control-log",
	};
	struct { const char *name; vici_cmd_fn fn; void *arg; } cmds[] = {
		{ "version", cmd_version, d },
		{ "stats", cmd_stats, d },
		{ "list-sas", cmd_list_sas, d },
		{ "list-conns", cmd_list_conns, d },
		{ "get-conns", cmd_get_conns, d },
		{ "initiate", cmd_initiate, d },
		{ "terminate", cmd_terminate, d },
		{ "rekey", cmd_rekey, d },
		{ "load-conn", cmd_load_conn, d },
		{ "unload-conn", cmd_unload_conn, d },
		{ "load-shared", cmd_load_shared, d },
		{ "unload-shared", cmd_unload_shared, d },
		{ "get-shared", cmd_get_shared, d },
		{ "get-authorities", cmd_empty_list, "authorities" },
		{ "list-policies", cmd_list_policies, d },
		{ "list-authorities", cmd_empty_list, NULL },
		{ "load-token", cmd_unsupported, "load-token" },
		{ "load-authority", cmd_unsupported, "load-authority" },
		{ "unload-authority", cmd_unsupported, "unload-authority" },
		{ "reload-settings", cmd_success, NULL },
		{ "get-counters", cmd_counters, d },
		{ "reset-counters", cmd_reset_counters, d },
		{ "tsunagi-sad", cmd_sad, d },
		{ "tsunagi-spd", cmd_spd, d },
		{ "tsunagi-enable", cmd_tsunagi_enable, d },
		{ "tsunagi-disable", cmd_tsunagi_disable, d },
	};
	started = time(NULL);
	main_thread = pthread_self();
	log_add_sink(log_to_vici, d);
	log_json_set_state_fn(sa_state_for_log, d);
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		vici_server_add_event(d->vici, events[i]);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (vici_server_register(d->vici, cmds[i].name, cmds[i].fn, cmds[i].arg) < 0)
			return -1;
	if (ctl_creds_register(d) < 0 || ctl_nat_register(d) < 0)
		return -1;
	return ctl_pools_register(d);
}
