/* tsunagictl internals: output formats and the command helpers shared by its files. */
#ifndef TSUNAGI_TOOLS_CTL_H
#define TSUNAGI_TOOLS_CTL_H
#include <stdbool.h>
#include <stddef.h>

#include "conf/tree.h"
#include "vici/vici_client.h"
#include "vici/vici_msg.h"

enum ctl_format { CTL_TABLE, CTL_RAW, CTL_PRETTY, CTL_JSON };

struct ctl {
	struct vici_client *cl;
	enum ctl_format fmt;
	int events_printed;	/* JSON: elements written to the current array */
};

/* Sends cmd and returns the response, or NULL after printing the error. */
struct ctree *ctl_request(struct ctl *ctl, const char *cmd, const struct vici_msg *req);
/* success = yes? Otherwise prints "<what> failed: <errmsg>" and returns false. */
bool ctl_check_success(const struct ctree *res, const char *what);
/* Prints a reply in raw/pretty/JSON form (label as swanctl: "<cmd> reply"). */
void ctl_print_reply(struct ctl *ctl, const char *cmd, const struct ctree *res);
/* JSON array brackets around streamed events. */
void ctl_json_begin(struct ctl *ctl);
void ctl_json_end(struct ctl *ctl);
void ctl_json_event(struct ctl *ctl, const struct ctree *msg);

/* Table printers (ctl_print.c). */
void ctl_print_sa_table(const struct ctree *event);
void ctl_print_conn_table(const struct ctree *event);
void ctl_print_stats(const struct ctree *res);
void ctl_print_counters(const struct ctree *res);
/* One list-nat event as a row of the translation table (header first if asked). */
void ctl_print_nat_row(const struct ctree *event, bool header);
void ctl_print_log_line(const struct ctree *event);
/* get-pools: one row per pool, its leases below it when the reply has them. */
void ctl_print_pools(const struct ctree *res);
/* An IKE SA's state as operators read it: Cisco's name for IKEv1 (ikev1-state),
 * strongSwan's for IKEv2. */
const char *ctl_ike_state(const struct ctree *ike);
/* "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048" ("-" if none). */
const char *ctl_algs(const struct ctree *t, char *out, size_t outlen);
/* A list's items joined by ", ". */
const char *ctl_join_list(const struct ctree *t, const char *key, char *out, size_t outlen);

/* Operator views (ctl_show.c), one IKE SA section of a list-sa event at a time. */
void ctl_show_ike_header(void);
void ctl_show_ike(const struct ctree *ike, bool detail);
void ctl_show_ipsec_header(void);
int ctl_show_ipsec(const struct ctree *ike, const char *child, bool detail);

/* Operator verbs (ctl_ops.c): show, clear, refresh, as positional words. */
enum ctl_op_kind { OP_SHOW_IKE, OP_SHOW_IPSEC, OP_CLEAR_IKE, OP_CLEAR_IPSEC, OP_CLEAR_COUNTERS,
		   OP_REFRESH };
struct ctl_op {
	enum ctl_op_kind kind;
	bool detail;
	const char *target;	/* peer address, connection or CHILD name; NULL: all */
};
/* 0, or -1 after printing what is wrong (then usage, exit 2). */
int ctl_op_parse(int argc, char **argv, struct ctl_op *op);
/* Returns the exit code. */
int ctl_op_run(struct ctl *ctl, const struct ctl_op *op);
/* The sections of every event a list command streams (list-sa for list-sas), under
 * one root; NULL after printing why. */
struct ctree *ctl_fetch(struct ctl *ctl, const char *event, const char *cmd);

/* --monitor and --watch (ctl_watch.c). count 0: no bound; timeout_s 0: none. Return
 * the exit code. */
int ctl_monitor(struct ctl *ctl, unsigned count, unsigned timeout_s);
int ctl_watch(struct ctl *ctl, unsigned interval_s, unsigned count, unsigned timeout_s);

/* --load-all --file F (ctl_load.c). Returns the exit code. */
int ctl_load_all(struct ctl *ctl, const char *file);
#endif
