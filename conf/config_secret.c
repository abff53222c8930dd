/* secrets.ike<suffix> { id<suffix> = ..., secret = ... }: pre-shared keys, as in
 * strongSwan. The secret is "0x" hex, "0s" base64 or the string itself; its bytes are
 * wiped when freed. xauth<suffix> sections are XAuth users (ids are user names). Other
 * secret types strongSwan knows (eap, private, ...) are refused by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/build.h"
#include "lib/wipe.h"

static const char *const other_secret_types[] = {
	"ntlm", "ppk", "private", "rsa", "ecdsa", "pkcs8", "pkcs12", "token",
	NULL,
};

static int add_id(struct bctx *b, const struct ctree *k, struct secret_cfg *s)
{
	const char *v = bscalar(b, k);
	if (!v)
		return -1;
	char **grown = realloc(s->ids, (s->n_ids + 1) * sizeof(*grown));
	if (!grown)
		return berr(b, k, "out of memory");
	s->ids = grown;
	if (!(grown[s->n_ids] = strdup(v)))
		return berr(b, k, "out of memory");
	s->n_ids++;
	return 0;
}

static int set_secret(struct bctx *b, const struct ctree *k, struct secret_cfg *s)
{
	const char *v = bscalar(b, k);
	if (!v)
		return -1;
	wipe_free(s->secret, s->secret_len);
	s->secret = NULL;
	s->secret_len = 0;
	/* Never echo the value: it is key material. */
	if (conf_decode_secret(v, &s->secret, &s->secret_len) < 0)
		return berr(b, k, "invalid 'secret' (empty, or bad 0x hex / 0s base64)");
	return 0;
}

static int secret_key(struct bctx *b, const struct ctree *k, struct secret_cfg *s)
{
	if (ctree_is_section(k))
		return berr_unknown(b, k);
	if (key_has_prefix(k->name, "id"))
		return add_id(b, k, s);
	if (strcmp(k->name, "secret") == 0)
		return set_secret(b, k, s);
	return berr_unknown(b, k);
}

static bool is_other_type(const char *name)
{
	for (size_t i = 0; other_secret_types[i]; i++)
		if (key_has_prefix(name, other_secret_types[i]))
			return true;
	return false;
}

/* In a file, the section name says the type: ike<suffix> is a PSK, the others
 * strongSwan knows are refused by name. */
int check_secret_type(struct bctx *b, const struct ctree *sec)
{
	if (key_has_prefix(sec->name, "ike") || secret_type_of(sec->name) != SECRET_IKE)
		return 0;	/* PSKs, XAuth and EAP user passwords */
	if (is_other_type(sec->name))
		return berr(b, sec, "secret '%s': only ike (PSK), eap and xauth secrets are "
			    "supported by tsunagi",
			    sec->name);
	return berr(b, sec, "unknown secret type '%s'", sec->name);
}

/* The name is free here: a VICI load-shared message names its key as it likes. */
struct secret_cfg *config_build_secret(const struct ctree *sec, char *err, size_t errlen)
{
	struct bctx b = { .err = err, .errlen = errlen };
	snprintf(b.what, sizeof(b.what), "secret '%s'", sec->name);
	if (!ctree_is_section(sec)) {
		berr(&b, sec, "must be a section");
		return NULL;
	}
	struct secret_cfg *s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(sec->name))) {
		free(s);
		berr(&b, sec, "out of memory");
		return NULL;
	}
	s->type = secret_type_of(sec->name);	/* VICI's load-shared says it by its type */
	for (const struct ctree *k = sec->child; k; k = k->next) {
		if (secret_key(&b, k, s) < 0) {
			secret_cfg_free(s);
			return NULL;
		}
	}
	if (!s->secret) {
		berr(&b, sec, "'secret' missing");
		secret_cfg_free(s);
		return NULL;
	}
	return s;
}

void secret_cfg_free(struct secret_cfg *s)
{
	while (s) {
		struct secret_cfg *next = s->next;
		free(s->name);
		ctree_free_items(s->ids, s->n_ids);
		wipe_free(s->secret, s->secret_len);
		free(s);
		s = next;
	}
}
