/* The credential commands of VICI, as charon answers them, so that swanctl
 * --load-creds (and --load-all) works against tsunagid: load-cert (X509 with flag CA
 * or NONE, X509_CRL), load-key, unload-key, get-keys, list-certs (streamed
 * "list-cert" events), clear-creds, flush-certs. Key data is wiped after use and
 * never logged. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

#include "daemon/daemon.h"
#include "ike/cert.h"
#include "lib/log.h"
#include "lib/wipe.h"

static enum vici_reply result(struct vici_msg *resp, int rc, const char *err)
{
	vici_add_kv(resp, "success", rc == 0 ? "yes" : "no");
	if (rc != 0 && err)
		vici_add_kv(resp, "errmsg", err);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_load_cert(void *arg, struct vici_conn *c, const struct ctree *req,
				     struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *type = vici_find_str(req, "type", ""), *flag = vici_find_str(req, "flag", "NONE");
	const char *data = vici_find_str(req, "data", NULL);
	char name[256];
	size_t len;
	uint8_t *bytes = data ? vici_value_bytes(data, &len) : NULL;
	if (!bytes)
		return result(resp, -1, "load-cert without data");
	int rc = -1;
	const char *err = NULL;
	if (strcasecmp(type, "X509") == 0) {
		X509 *x = cert_from_blob(bytes, len);
		bool ca = strcasecmp(flag, "CA") == 0;
		if (!x)
			err = "parsing X509 certificate failed";
		else if (!ca && strcasecmp(flag, "NONE") != 0) {
			X509_free(x);
			err = "only the flags CA and NONE are supported by tsunagi";
		} else {
			log_info(LOG_CFG, "loaded %scertificate \"%s\" (VICI)", ca ? "CA " : "",
				 cert_name_fmt(x, false, name, sizeof(name)));
			rc = ca ? cred_store_add_ca(ike_creds(d->ike), x, true)
				: cred_store_add_cert(ike_creds(d->ike), x, true);
		}
	} else if (strcasecmp(type, "X509_CRL") == 0) {
		X509_CRL *crl = crl_from_blob(bytes, len);
		if (!crl)
			err = "parsing X509_CRL failed";
		else {
			log_info(LOG_CFG, "loaded CRL (VICI)");
			rc = cred_store_add_crl(ike_creds(d->ike), crl, true);
		}
	} else
		err = "only X509 and X509_CRL certificates are supported by tsunagi";
	free(bytes);
	return result(resp, rc, err);
}

static enum vici_reply cmd_load_key(void *arg, struct vici_conn *c, const struct ctree *req,
				    struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *data = vici_find_str(req, "data", NULL);
	size_t len = 0;
	uint8_t *bytes = data ? vici_value_bytes(data, &len) : NULL;
	EVP_PKEY *k = bytes ? key_from_blob(bytes, len) : NULL;
	wipe_free(bytes, len);
	char id[41];
	if (!k || key_id_hex(k, id) < 0) {
		EVP_PKEY_free(k);
		return result(resp, -1, "parsing private key failed");
	}
	log_info(LOG_CFG, "loaded %s private key (VICI)", EVP_PKEY_get0_type_name(k));
	if (cred_store_add_key(ike_creds(d->ike), k, true) < 0) {
		EVP_PKEY_free(k);
		return result(resp, -1, "out of memory");
	}
	result(resp, 0, NULL);
	vici_add_kv(resp, "id", id);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_unload_key(void *arg, struct vici_conn *c, const struct ctree *req,
				      struct vici_msg *resp)
{
	struct daemon *d = arg;
	const char *id = vici_find_str(req, "id", NULL);
	return result(resp, id ? cred_store_unload_key(ike_creds(d->ike), id) : -1,
		      "no such private key");
}

static void add_key_id(void *arg, EVP_PKEY *k)
{
	char id[41];
	if (key_id_hex(k, id) == 0)
		vici_add_item(arg, id);
}

static enum vici_reply cmd_get_keys(void *arg, struct vici_conn *c, const struct ctree *req,
				    struct vici_msg *resp)
{
	struct daemon *d = arg;
	vici_begin_list(resp, "keys");
	cred_store_each_key(ike_creds(d->ike), add_key_id, resp);
	vici_end_list(resp);
	return VICI_REPLY_DONE;
}

struct list_ctx {
	struct daemon *d;
	struct vici_conn *c;
	const char *flag;	/* "CA", "NONE" or NULL (all) */
};

static void time_kv(struct vici_msg *m, const char *key, const ASN1_TIME *t)
{
	struct tm tm;
	char s[32];
	if (ASN1_TIME_to_tm(t, &tm) == 1 && strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm))
		vici_add_kv(m, key, s);
}

static void list_one(void *arg, X509 *x, bool ca)
{
	struct list_ctx *l = arg;
	if (l->flag && strcasecmp(l->flag, ca ? "CA" : "NONE") != 0)
		return;
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	if (n <= 0)
		return;
	char name[256];
	struct vici_msg ev;
	vici_msg_init(&ev);
	vici_add_kv(&ev, "type", "X509");
	vici_add_kv(&ev, "flag", ca ? "CA" : "NONE");
	vici_add_kv(&ev, "has_privkey",
		    cred_store_key_for(ike_creds(l->d->ike), x) ? "yes" : "no");
	vici_add_kv_bin(&ev, "data", der, (size_t)n);
	vici_add_kv(&ev, "subject", cert_name_fmt(x, false, name, sizeof(name)));
	time_kv(&ev, "not-before", X509_get0_notBefore(x));
	time_kv(&ev, "not-after", X509_get0_notAfter(x));
	vici_conn_event(l->c, "list-cert", &ev);
	vici_msg_free(&ev);
	OPENSSL_free(der);
}

static enum vici_reply cmd_list_certs(void *arg, struct vici_conn *c, const struct ctree *req,
				      struct vici_msg *resp)
{
	struct list_ctx l = { .d = arg, .c = c, .flag = vici_find_str(req, "flag", NULL) };
	const char *type = vici_find_str(req, "type", NULL);
	if (l.flag && strcasecmp(l.flag, "ANY") == 0)
		l.flag = NULL;
	if (!type || strcasecmp(type, "ANY") == 0 || strcasecmp(type, "X509") == 0)
		cred_store_each_cert(ike_creds(l.d->ike), list_one, &l);
	return VICI_REPLY_DONE;
}

static enum vici_reply cmd_clear_creds(void *arg, struct vici_conn *c, const struct ctree *req,
				       struct vici_msg *resp)
{
	struct daemon *d = arg;
	cred_store_clear_vici(ike_creds(d->ike));
	return result(resp, 0, NULL);
}

static enum vici_reply cmd_flush_certs(void *arg, struct vici_conn *c, const struct ctree *req,
				       struct vici_msg *resp)
{
	return result(resp, 0, NULL);	/* tsunagi caches no fetched certificates */
}

int ctl_creds_register(struct daemon *d)
{
	struct { const char *name; vici_cmd_fn fn; } cmds[] = {
		{ "load-cert", cmd_load_cert }, { "load-key", cmd_load_key },
		{ "unload-key", cmd_unload_key }, { "get-keys", cmd_get_keys },
		{ "list-certs", cmd_list_certs }, { "clear-creds", cmd_clear_creds },
		{ "flush-certs", cmd_flush_certs },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (vici_server_register(d->vici, cmds[i].name, cmds[i].fn, d) < 0)
			return -1;
	return 0;
}
