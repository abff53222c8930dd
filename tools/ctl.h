/* tsunagictl internals: output formats and the command helpers shared by its files. */
#ifndef TSUNAGI_TOOLS_CTL_H
#define TSUNAGI_TOOLS_CTL_H
#include <stdbool.h>

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
void ctl_print_log_line(const struct ctree *event);

/* --load-all --file F (ctl_load.c). Returns the exit code. */
int ctl_load_all(struct ctl *ctl, const char *file);
#endif
