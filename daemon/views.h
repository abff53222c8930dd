/* Views of the daemon's SAs and connections for VICI (storage for the strings they
 * point to lives in these structs, so a view is valid while its storage is). */
#ifndef TSUNAGI_DAEMON_VIEWS_H
#define TSUNAGI_DAEMON_VIEWS_H
#include "daemon/daemon.h"
#include "vici/vici_views.h"

#define VIEW_MAX_CHILDREN 32

struct ike_view_storage {
	struct vici_ike_view ike;
	struct vici_child_view children[VIEW_MAX_CHILDREN];
	char local_id[128], remote_id[128];
};

struct conn_view_storage {
	struct vici_conn_view conn;
	struct vici_auth_view local, remote;
	struct vici_child_cfg_view children[VIEW_MAX_CHILDREN];
	char ts[VIEW_MAX_CHILDREN][2][CONF_MAX_TS][SELECTOR_STRLEN];
	const char *ts_ptr[VIEW_MAX_CHILDREN][2][CONF_MAX_TS];
};

void views_ike(struct daemon *d, const struct ike_sa *sa, struct ike_view_storage *st);
void views_child(struct daemon *d, const struct ike_sa *sa, const struct child_sa *c,
		 struct vici_child_view *v);
/* The engine's counts of a CHILD SA's two ESP SAs, as they are (no baseline). */
void views_child_counts(struct daemon *d, const struct ike_sa *sa, const struct child_sa *c,
			struct esp_sa_stats *in, struct esp_sa_stats *out);
void views_conn(const struct conn_cfg *cfg, struct conn_view_storage *st);
#endif
