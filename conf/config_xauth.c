/* IKEv1 XAuth in swanctl.conf terms: a second authentication round with auth = xauth
 * (strongSwan also says xauth-generic, xauth-<backend>), remote-N for the server side,
 * local-N for the client side, with the user name in xauth_id; and the users in
 * secrets { xauth-NAME { id = user, secret = password } }. XAuth is IKEv1 only. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/build.h"

bool xauth_auth_value(const char *s)
{
	return strcasecmp(s, "xauth") == 0 || strcasecmp(s, "xauth-generic") == 0;
}

void auth_cfg_clear(struct auth_cfg *a)
{
	free(a->id);
	free(a->xauth_id);
	free(a->eap_id);
	auth_cfg_creds_free(a);
	memset(a, 0, sizeof(*a));
}

/* r, built from one round section, goes to the connection's XAuth slot. */
int take_xauth_round(struct bctx *b, const struct ctree *sec, struct auth_cfg *r,
		     struct auth_cfg *slot)
{
	if (r->auth != AUTH_XAUTH) {
		auth_cfg_clear(r);
		return berr(b, sec, "'xauth_id' belongs in an auth = xauth round");
	}
	if (r->n_certs || r->n_cacerts || r->eap_id) {
		auth_cfg_clear(r);
		return berr(b, sec, "certs, cacerts and eap_id do not belong in an auth = xauth "
			    "round ('%s')", sec->name);
	}
	if (slot->auth) {
		auth_cfg_clear(r);
		return berr(b, sec, "a second auth = xauth round ('%s') on the same side",
			    sec->name);
	}
	*slot = *r;
	return 0;
}

int check_xauth_conn(struct bctx *b, const struct ctree *sec, const struct conn_cfg *c)
{
	if (!c->local_xauth.auth && !c->remote_xauth.auth)
		return 0;
	if (c->version == 2)
		return berr(b, sec, "auth = xauth is IKEv1 only (this connection has version = 2)");
	if (c->local_xauth.auth && c->remote_xauth.auth)
		return berr(b, sec, "auth = xauth on both sides: tsunagi is either the XAuth "
			    "server (remote-N) or the client (local-N)");
	return 0;
}

enum secret_type secret_type_of(const char *section_name)
{
	if (key_has_prefix(section_name, "xauth"))
		return SECRET_XAUTH;
	return key_has_prefix(section_name, "eap") ? SECRET_EAP : SECRET_IKE;
}
