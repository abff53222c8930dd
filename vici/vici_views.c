/* strongSwan 5.9.8 list-sa / list-conn / updown / rekey messages from plain views. */
#include "vici/vici_views.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* SA details (SPIs, algorithms, counters) are sent while the SA exists in the data
 * plane, and in the "down" event of one being deleted, so monitors see what went. */
static bool child_installed(const char *state)
{
	return state && (strcmp(state, "INSTALLED") == 0 || strcmp(state, "REKEYING") == 0 ||
			 strcmp(state, "REKEYED") == 0 || strcmp(state, "DELETING") == 0);
}

static void add_addr_list(struct vici_msg *m, const char *name, const struct addr *a, size_t n)
{
	char tmp[ADDR_STRLEN];
	if (n == 0)
		return;	/* strongSwan omits empty vip lists */
	vici_begin_list(m, name);
	for (size_t i = 0; i < n; i++)
		vici_add_item(m, addr_ntop(&a[i], tmp, sizeof(tmp)));
	vici_end_list(m);
}

static void add_ts_list(struct vici_msg *m, const char *name, const struct selector *s, size_t n)
{
	char tmp[SELECTOR_STRLEN];
	vici_begin_list(m, name);
	for (size_t i = 0; i < n; i++)
		vici_add_item(m, selector_fmt(&s[i], tmp, sizeof(tmp)));
	vici_end_list(m);
}

static void add_str_list(struct vici_msg *m, const char *name, const char *const *s, size_t n)
{
	vici_begin_list(m, name);
	for (size_t i = 0; i < n; i++)
		vici_add_item(m, s[i]);
	vici_end_list(m);
}

static void add_alg(struct vici_msg *m, const char *key, const char *alg,
		    const char *size_key, unsigned size)
{
	if (!alg)
		return;
	vici_add_kv(m, key, alg);
	if (size && size_key)
		vici_add_kvf(m, size_key, "%u", size);
}

void vici_build_ike_fields(struct vici_msg *m, const struct vici_ike_view *ike)
{
	char tmp[ADDR_STRLEN];

	vici_add_kvf(m, "uniqueid", "%" PRIu32, ike->uniqueid);
	vici_add_kvf(m, "version", "%d", ike->version);
	vici_add_kv(m, "state", ike->state);
	if (ike->ikev1_state)	/* tsunagi's own: swanctl ignores it */
		vici_add_kv(m, "ikev1-state", ike->ikev1_state);
	vici_add_kv(m, "local-host", addr_ntop(&ike->local, tmp, sizeof(tmp)));
	vici_add_kvf(m, "local-port", "%u", ike->local.port);
	vici_add_kv(m, "local-id", ike->local_id ? ike->local_id : "%any");
	vici_add_kv(m, "remote-host", addr_ntop(&ike->remote, tmp, sizeof(tmp)));
	vici_add_kvf(m, "remote-port", "%u", ike->remote.port);
	vici_add_kv(m, "remote-id", ike->remote_id ? ike->remote_id : "%any");
	if (ike->version == 1 && ike->remote_xauth_id)
		vici_add_kv(m, "remote-xauth-id", ike->remote_xauth_id);
	if (ike->version != 1 && ike->remote_eap_id)
		vici_add_kv(m, "remote-eap-id", ike->remote_eap_id);
	if (ike->initiator)
		vici_add_kv(m, "initiator", "yes");
	vici_add_kvf(m, "initiator-spi", "%016" PRIx64, ike->spi_i);
	vici_add_kvf(m, "responder-spi", "%016" PRIx64, ike->spi_r);
	if (ike->nat_local)
		vici_add_kv(m, "nat-local", "yes");
	if (ike->nat_remote)
		vici_add_kv(m, "nat-remote", "yes");
	if (ike->nat_fake)
		vici_add_kv(m, "nat-fake", "yes");
	if (ike->nat_any)
		vici_add_kv(m, "nat-any", "yes");
	if (ike->encr_alg) {
		add_alg(m, "encr-alg", ike->encr_alg, "encr-keysize", ike->encr_keysize);
		add_alg(m, "integ-alg", ike->integ_alg, "integ-keysize", ike->integ_keysize);
		add_alg(m, "prf-alg", ike->prf_alg, NULL, 0);
		add_alg(m, "dh-group", ike->dh_group, NULL, 0);
	}
	if (ike->state && strcmp(ike->state, "ESTABLISHED") == 0) {
		vici_add_kvf(m, "established", "%" PRId64, ike->established);
		if (ike->rekey_time)
			vici_add_kvf(m, "rekey-time", "%" PRId64, ike->rekey_time);
		if (ike->reauth_time)
			vici_add_kvf(m, "reauth-time", "%" PRId64, ike->reauth_time);
		if (ike->heard)
			vici_add_kvf(m, "last-rx", "%" PRId64, ike->last_rx);
		if (ike->dpd_sent)
			vici_add_kvf(m, "dpd-last", "%" PRId64, ike->dpd_last);
	}
	add_addr_list(m, "local-vips", ike->local_vips, ike->n_local_vips);
	add_addr_list(m, "remote-vips", ike->remote_vips, ike->n_remote_vips);
}

void vici_build_child_fields(struct vici_msg *m, const struct vici_child_view *c)
{
	vici_add_kv(m, "name", c->name);
	vici_add_kvf(m, "uniqueid", "%" PRIu32, c->uniqueid);
	vici_add_kvf(m, "reqid", "%" PRIu32, c->reqid);
	vici_add_kv(m, "state", c->state);
	vici_add_kv(m, "mode", c->mode ? c->mode : "TUNNEL");
	if (child_installed(c->state)) {
		vici_add_kv(m, "protocol", c->protocol ? c->protocol : "ESP");
		if (c->encap)
			vici_add_kv(m, "encap", "yes");
		vici_add_kvf(m, "spi-in", "%08" PRIx32, c->spi_in);
		vici_add_kvf(m, "spi-out", "%08" PRIx32, c->spi_out);
		add_alg(m, "encr-alg", c->encr_alg, "encr-keysize", c->encr_keysize);
		add_alg(m, "integ-alg", c->integ_alg, "integ-keysize", c->integ_keysize);
		add_alg(m, "dh-group", c->dh_group, NULL, 0);
		if (c->esn)
			vici_add_kv(m, "esn", "1");
		vici_add_kvf(m, "bytes-in", "%" PRIu64, c->bytes_in);
		vici_add_kvf(m, "packets-in", "%" PRIu64, c->packets_in);
		if (c->use_in >= 0)
			vici_add_kvf(m, "use-in", "%" PRId64, c->use_in);
		vici_add_kvf(m, "bytes-out", "%" PRIu64, c->bytes_out);
		vici_add_kvf(m, "packets-out", "%" PRIu64, c->packets_out);
		if (c->use_out >= 0)
			vici_add_kvf(m, "use-out", "%" PRId64, c->use_out);
		vici_add_kvf(m, "drops-integrity", "%" PRIu64, c->drops_integrity);
		vici_add_kvf(m, "drops-replay", "%" PRIu64, c->drops_replay);
		vici_add_kvf(m, "drops-padding", "%" PRIu64, c->drops_padding);
		vici_add_kvf(m, "drops-selector", "%" PRIu64, c->drops_selector);
		vici_add_kvf(m, "drops-other", "%" PRIu64, c->drops_other);
		if (c->rekey_time)
			vici_add_kvf(m, "rekey-time", "%" PRId64, c->rekey_time);
		if (c->life_time)
			vici_add_kvf(m, "life-time", "%" PRId64, c->life_time);
		vici_add_kvf(m, "install-time", "%" PRId64, c->install_time);
		if (c->life_bytes_limited)
			vici_add_kvf(m, "life-bytes-left", "%" PRIu64, c->life_bytes_left);
	}
	add_ts_list(m, "local-ts", c->local_ts, c->n_local_ts);
	add_ts_list(m, "remote-ts", c->remote_ts, c->n_remote_ts);
}

const char *vici_child_key(const struct vici_child_view *c, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-%" PRIu32, c->name, c->uniqueid);
	return out;
}

static void add_child_section(struct vici_msg *m, const struct vici_child_view *c)
{
	char key[VICI_MAX_NAME + 1];
	vici_begin_section(m, vici_child_key(c, key, sizeof(key)));
	vici_build_child_fields(m, c);
	vici_end_section(m);
}

void vici_build_list_sa(struct vici_msg *m, const struct vici_ike_view *ike)
{
	vici_begin_section(m, ike->name);
	vici_build_ike_fields(m, ike);
	vici_begin_section(m, "child-sas");
	for (size_t i = 0; i < ike->n_children; i++)
		add_child_section(m, &ike->children[i]);
	vici_end_section(m);
	vici_end_section(m);
}

void vici_build_ike_updown(struct vici_msg *m, const struct vici_ike_view *ike, bool up)
{
	if (up)
		vici_add_kv(m, "up", "yes");
	vici_begin_section(m, ike->name);
	vici_build_ike_fields(m, ike);
	vici_end_section(m);
}

void vici_build_child_updown(struct vici_msg *m, const struct vici_ike_view *ike,
			     const struct vici_child_view *child, bool up)
{
	if (up)
		vici_add_kv(m, "up", "yes");
	vici_begin_section(m, ike->name);
	vici_build_ike_fields(m, ike);
	vici_begin_section(m, "child-sas");
	add_child_section(m, child);
	vici_end_section(m);
	vici_end_section(m);
}

void vici_build_ike_rekey(struct vici_msg *m, const struct vici_ike_view *old_sa,
			  const struct vici_ike_view *new_sa)
{
	vici_begin_section(m, old_sa->name);
	vici_begin_section(m, "old");
	vici_build_ike_fields(m, old_sa);
	vici_end_section(m);
	vici_begin_section(m, "new");
	vici_build_ike_fields(m, new_sa);
	vici_end_section(m);
	vici_end_section(m);
}

void vici_build_child_rekey(struct vici_msg *m, const struct vici_ike_view *ike,
			    const struct vici_child_view *old_sa,
			    const struct vici_child_view *new_sa)
{
	char key[VICI_MAX_NAME + 1];
	vici_begin_section(m, ike->name);
	vici_build_ike_fields(m, ike);
	vici_begin_section(m, "child-sas");
	vici_begin_section(m, vici_child_key(old_sa, key, sizeof(key)));
	vici_begin_section(m, "old");
	vici_build_child_fields(m, old_sa);
	vici_end_section(m);
	vici_begin_section(m, "new");
	vici_build_child_fields(m, new_sa);
	vici_end_section(m);
	vici_end_section(m);
	vici_end_section(m);
	vici_end_section(m);
}

static void add_auth_rounds(struct vici_msg *m, const char *side,
			    const struct vici_auth_view *a, size_t n)
{
	char key[32];
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s-%zu", side, i + 1);
		vici_begin_section(m, key);
		if (a[i].auth_class)
			vici_add_kv(m, "class", a[i].auth_class);
		if (a[i].id)
			vici_add_kv(m, "id", a[i].id);
		if (a[i].xauth_id)
			vici_add_kv(m, "xauth_id", a[i].xauth_id);
		if (a[i].eap_id)
			vici_add_kv(m, "eap_id", a[i].eap_id);
		vici_begin_list(m, "groups");
		vici_end_list(m);
		vici_begin_list(m, "certs");
		vici_end_list(m);
		vici_begin_list(m, "cacerts");
		vici_end_list(m);
		vici_end_section(m);
	}
}

static const char *version_name(int v)
{
	return v == 1 ? "IKEv1" : v == 2 ? "IKEv2" : "IKEv1/2";
}

void vici_build_list_conn(struct vici_msg *m, const struct vici_conn_view *conn)
{
	vici_begin_section(m, conn->name);
	add_str_list(m, "local_addrs", conn->local_addrs, conn->n_local_addrs);
	add_str_list(m, "remote_addrs", conn->remote_addrs, conn->n_remote_addrs);
	vici_add_kv(m, "version", version_name(conn->version));
	vici_add_kvf(m, "reauth_time", "%" PRIu32, conn->reauth_time);
	vici_add_kvf(m, "rekey_time", "%" PRIu32, conn->rekey_time);
	vici_add_kv(m, "unique", conn->unique ? conn->unique : "UNIQUE_NO");
	vici_add_kvf(m, "dpd_delay", "%" PRIu32, conn->dpd_delay);
	if (conn->disabled)
		vici_add_kv(m, "tsunagi-disabled", "yes");	/* swanctl ignores it */
	add_auth_rounds(m, "local", conn->local, conn->n_local);
	add_auth_rounds(m, "remote", conn->remote, conn->n_remote);
	vici_begin_section(m, "children");
	for (size_t i = 0; i < conn->n_children; i++) {
		const struct vici_child_cfg_view *c = &conn->children[i];
		vici_begin_section(m, c->name);
		vici_add_kv(m, "mode", c->mode ? c->mode : "TUNNEL");
		vici_add_kvf(m, "rekey_time", "%" PRIu64, c->rekey_time);
		vici_add_kvf(m, "rekey_bytes", "%" PRIu64, c->rekey_bytes);
		vici_add_kvf(m, "rekey_packets", "%" PRIu64, c->rekey_packets);
		vici_add_kv(m, "dpd_action", c->dpd_action ? c->dpd_action : "clear");
		if (c->close_action)
			vici_add_kv(m, "close_action", c->close_action);
		if (c->start_action)
			vici_add_kv(m, "start_action", c->start_action);
		add_str_list(m, "local-ts", c->local_ts, c->n_local_ts);
		add_str_list(m, "remote-ts", c->remote_ts, c->n_remote_ts);
		if (c->interface)
			vici_add_kv(m, "interface", c->interface);
		vici_end_section(m);
	}
	vici_end_section(m);
	vici_end_section(m);
}

void vici_build_log(struct vici_msg *m, const char *group, int level,
		    const char *ike_name, uint32_t ike_uniqueid, const char *text)
{
	vici_add_kv(m, "group", group);
	vici_add_kvf(m, "level", "%d", level);
	if (ike_name) {
		vici_add_kv(m, "ikesa-name", ike_name);
		vici_add_kvf(m, "ikesa-uniqueid", "%" PRIu32, ike_uniqueid);
	}
	vici_add_kv(m, "msg", text);
}

void vici_build_result(struct vici_msg *m, bool ok, const char *errmsg)
{
	vici_add_kv(m, "success", ok ? "yes" : "no");
	if (!ok && errmsg)
		vici_add_kv(m, "errmsg", errmsg);
}
