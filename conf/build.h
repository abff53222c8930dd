/* Internal to conf/: what the builder files share. Every message starts with the
 * node's "file:line: " and the object it belongs to ("connection 'site', child 'net'"). */
#ifndef TSUNAGI_CONF_BUILD_H
#define TSUNAGI_CONF_BUILD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "conf/tree.h"

struct bctx {
	char *err;
	size_t errlen;
	char what[160];		/* "connection 'site'" */
	const char *dir;	/* of the configuration file, for x509/ etc.; NULL: VICI */
};

/* Writes "file:line: <what>: <message>" once; returns -1. */
int berr(struct bctx *b, const struct ctree *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int berr_unsupported(struct bctx *b, const struct ctree *at);
int berr_unknown(struct bctx *b, const struct ctree *at);
int berr_value(struct bctx *b, const struct ctree *at, const char *value);

/* The single value of a key (a one-item VICI list counts); NULL with an error for a
 * section or a list of several. */
const char *bscalar(struct bctx *b, const struct ctree *node);
/* Items of a key through ctree_items(); -1 with an error for a section. */
int bitems(struct bctx *b, const struct ctree *node, char ***out, size_t *n);

int bget_bool(struct bctx *b, const struct ctree *node, bool *out);
int bget_time(struct bctx *b, const struct ctree *node, uint64_t *out);
int bget_time32(struct bctx *b, const struct ctree *node, uint32_t *out);
int bget_bytes(struct bctx *b, const struct ctree *node, uint64_t *out);
int bget_u64(struct bctx *b, const struct ctree *node, uint64_t *out);
int bget_u32(struct bctx *b, const struct ctree *node, uint32_t *out);
int bget_port(struct bctx *b, const struct ctree *node, uint16_t *out);

/* strongSwan's value syntax, in conf/values.c: 0 or -1. */
int conf_parse_bool(const char *s, bool *out);
int conf_parse_u64(const char *s, uint64_t *out);
int conf_parse_time(const char *s, uint64_t *out);	/* "90", "30s", "5m", "1h", "1d" */
int conf_parse_bytes(const char *s, uint64_t *out);	/* "1000", "512k", "1M", "2G" */
/* PSK text: "0x..." hex, "0s..." base64, else the string's bytes. Malloc'd. */
int conf_decode_secret(const char *s, uint8_t **out, size_t *len);

/* "name" or "name-suffix"/"nameN": strongSwan's numbered keys (id-1, local-2, ike-x). */
bool key_has_prefix(const char *key, const char *prefix);
/* Is name in the NULL-terminated list? */
bool name_in(const char *name, const char *const *list);

struct child_cfg *build_child(struct bctx *b, const struct ctree *sec, const char *conn_name);
void child_cfg_free(struct child_cfg *c);
int build_proposals(struct bctx *b, const struct ctree *node, int proto, char ***out,
		    size_t *n);
int check_secret_type(struct bctx *b, const struct ctree *sec);
/* conf/config_eap.c: auth = eap-*, eap_id */
bool conf_is_eap_auth(const char *s);
int conf_eap_auth(struct bctx *b, const struct ctree *k, struct auth_cfg *a);
int conf_eap_id(struct bctx *b, const struct ctree *k, struct auth_cfg *a);
/* EAP is IKEv2's: refused with version = 1. */
int conf_eap_check_version(struct bctx *b, const struct ctree *sec, const struct conn_cfg *c);
/* conf/config_cred.c: certificates and keys. Each returns 0, -1 (error set), or 1 when
 * the key is not one of its own. */
int build_auth_cred(struct bctx *b, const struct ctree *k, struct auth_cfg *a);
int build_conn_cred(struct bctx *b, const struct ctree *k, struct conn_cfg *c);
int build_key_secret(struct bctx *b, const struct ctree *sec, struct config *cfg);
bool is_key_secret(const char *name);
char *cred_dir_of(const char *file);
/* conf/config_xauth.c: IKEv1 XAuth rounds and xauth-* secrets. */
bool xauth_auth_value(const char *s);
int take_xauth_round(struct bctx *b, const struct ctree *sec, struct auth_cfg *r,
		     struct auth_cfg *slot);
int check_xauth_conn(struct bctx *b, const struct ctree *sec, const struct conn_cfg *c);
enum secret_type secret_type_of(const char *section_name);
void auth_cfg_clear(struct auth_cfg *a);
int build_daemon(struct bctx *b, const struct ctree *sec, struct daemon_cfg *d);
int build_nat(struct bctx *b, const struct ctree *sec, struct daemon_cfg *d);
int build_pools(struct bctx *b, const struct ctree *sec, struct config *cfg);
int config_check_pools(struct bctx *b, const struct config *cfg);
#endif
