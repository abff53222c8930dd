/* EAP in an auth round, as swanctl.conf writes it: auth = eap-mschapv2 | eap-md5 |
 * eap | eap-dynamic (the last two: either method, MSCHAPv2 offered first), and eap_id
 * (the EAP identity; %any on the server: ask the peer with EAP-Identity). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/build.h"

static const struct { const char *name; uint8_t type; } eap_methods[] = {
	{ "eap-mschapv2", 26 }, { "eap-md5", 4 }, { "eap", 0 }, { "eap-dynamic", 0 },
};

bool conf_is_eap_auth(const char *s)
{
	for (size_t i = 0; s && i < sizeof(eap_methods) / sizeof(eap_methods[0]); i++)
		if (strcasecmp(s, eap_methods[i].name) == 0)
			return true;
	return false;
}

int conf_eap_auth(struct bctx *b, const struct ctree *k, struct auth_cfg *a)
{
	const char *s = bscalar(b, k);
	for (size_t i = 0; s && i < sizeof(eap_methods) / sizeof(eap_methods[0]); i++) {
		if (strcasecmp(s, eap_methods[i].name) == 0) {
			a->auth = AUTH_EAP;
			a->eap_method = eap_methods[i].type;
			return 0;
		}
	}
	return s ? berr_value(b, k, s) : -1;
}

int conf_eap_check_version(struct bctx *b, const struct ctree *sec, const struct conn_cfg *c)
{
	if (c->version == 1 && (c->local.auth == AUTH_EAP || c->remote.auth == AUTH_EAP))
		return berr(b, sec, "auth = eap-* is supported by tsunagi for IKEv2 only "
			    "(version = 2; IKEv1 has XAuth)");
	return 0;
}

int conf_eap_id(struct bctx *b, const struct ctree *k, struct auth_cfg *a)
{
	const char *s = bscalar(b, k);
	if (!s)
		return -1;
	if (!*s || strlen(s) > 255)
		return berr(b, k, "'eap_id' must hold 1 to 255 characters");
	free(a->eap_id);
	if (!(a->eap_id = strdup(s)))
		return berr(b, k, "out of memory");
	return 0;
}
