/* The credentials the core holds: private keys, CA certificates (trust anchors),
 * other certificates and CRLs, from the configuration's directories (as swanctl reads
 * /etc/swanctl: private/ rsa/ ecdsa/ pkcs8/, x509ca/, x509crl/) or from VICI. Keys are
 * OpenSSL objects, freed with EVP_PKEY_free, which clears their memory. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "ike/cert.h"
#include "lib/log.h"

struct cred_key {
	EVP_PKEY *pkey;
	bool from_vici;
	struct cred_key *next;
};

struct cred_store {
	struct cred_key *keys;
	/* Parallel "from VICI" marks would complicate the stacks: keep two of each. */
	STACK_OF(X509) *cas, *cas_vici;
	STACK_OF(X509) *certs, *certs_vici;
	STACK_OF(X509_CRL) *crls, *crls_vici;
	STACK_OF(X509) *all_cas;		/* cas + cas_vici, rebuilt on change */
	STACK_OF(X509_CRL) *all_crls;
	struct cred_stats st;
};

static void rebuild(struct cred_store *cs)
{
	sk_X509_free(cs->all_cas);
	sk_X509_CRL_free(cs->all_crls);
	cs->all_cas = sk_X509_new_null();
	cs->all_crls = sk_X509_CRL_new_null();
	for (int i = 0; cs->all_cas && i < sk_X509_num(cs->cas); i++)
		sk_X509_push(cs->all_cas, sk_X509_value(cs->cas, i));
	for (int i = 0; cs->all_cas && i < sk_X509_num(cs->cas_vici); i++)
		sk_X509_push(cs->all_cas, sk_X509_value(cs->cas_vici, i));
	for (int i = 0; cs->all_crls && i < sk_X509_CRL_num(cs->crls); i++)
		sk_X509_CRL_push(cs->all_crls, sk_X509_CRL_value(cs->crls, i));
	for (int i = 0; cs->all_crls && i < sk_X509_CRL_num(cs->crls_vici); i++)
		sk_X509_CRL_push(cs->all_crls, sk_X509_CRL_value(cs->crls_vici, i));
}

struct cred_store *cred_store_new(void)
{
	struct cred_store *cs = calloc(1, sizeof(*cs));
	if (!cs)
		return NULL;
	cs->cas = sk_X509_new_null();
	cs->cas_vici = sk_X509_new_null();
	cs->certs = sk_X509_new_null();
	cs->certs_vici = sk_X509_new_null();
	cs->crls = sk_X509_CRL_new_null();
	cs->crls_vici = sk_X509_CRL_new_null();
	rebuild(cs);
	return cs;
}

static void drop_keys(struct cred_store *cs, bool vici_too)
{
	for (struct cred_key **pp = &cs->keys; *pp;) {
		struct cred_key *k = *pp;
		if (k->from_vici && !vici_too) {
			pp = &k->next;
			continue;
		}
		*pp = k->next;
		EVP_PKEY_free(k->pkey);
		free(k);
	}
}

void cred_store_free(struct cred_store *cs)
{
	if (!cs)
		return;
	drop_keys(cs, true);
	sk_X509_pop_free(cs->cas, X509_free);
	sk_X509_pop_free(cs->cas_vici, X509_free);
	sk_X509_pop_free(cs->certs, X509_free);
	sk_X509_pop_free(cs->certs_vici, X509_free);
	sk_X509_CRL_pop_free(cs->crls, X509_CRL_free);
	sk_X509_CRL_pop_free(cs->crls_vici, X509_CRL_free);
	sk_X509_free(cs->all_cas);
	sk_X509_CRL_free(cs->all_crls);
	free(cs);
}

int cred_store_add_key(struct cred_store *cs, EVP_PKEY *key, bool from_vici)
{
	/* The same key again (a reload, or load-key twice) replaces the old one. */
	for (struct cred_key **pp = &cs->keys; *pp; pp = &(*pp)->next) {
		if (EVP_PKEY_eq((*pp)->pkey, key) == 1) {
			EVP_PKEY_free((*pp)->pkey);
			(*pp)->pkey = key;
			(*pp)->from_vici = from_vici;
			return 0;
		}
	}
	struct cred_key *k = calloc(1, sizeof(*k));
	if (!k)
		return -1;
	k->pkey = key;
	k->from_vici = from_vici;
	k->next = cs->keys;
	cs->keys = k;
	return 0;
}

/* Pushes c unless an equal certificate is there; takes ownership. */
static int push_cert(STACK_OF(X509) *sk, X509 *c)
{
	for (int i = 0; i < sk_X509_num(sk); i++) {
		if (X509_cmp(sk_X509_value(sk, i), c) == 0) {
			X509_free(c);
			return 0;
		}
	}
	if (sk_X509_push(sk, c) <= 0) {
		X509_free(c);
		return -1;
	}
	return 0;
}

int cred_store_add_ca(struct cred_store *cs, X509 *ca, bool from_vici)
{
	int rc = push_cert(from_vici ? cs->cas_vici : cs->cas, ca);
	rebuild(cs);
	return rc;
}

int cred_store_add_cert(struct cred_store *cs, X509 *c, bool from_vici)
{
	return push_cert(from_vici ? cs->certs_vici : cs->certs, c);
}

int cred_store_add_crl(struct cred_store *cs, X509_CRL *crl, bool from_vici)
{
	STACK_OF(X509_CRL) *sk = from_vici ? cs->crls_vici : cs->crls;
	/* A newer CRL of the same issuer replaces the older one. */
	for (int i = 0; i < sk_X509_CRL_num(sk); i++) {
		X509_CRL *o = sk_X509_CRL_value(sk, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(o), X509_CRL_get_issuer(crl)) == 0) {
			sk_X509_CRL_set(sk, i, crl);
			X509_CRL_free(o);
			rebuild(cs);
			return 0;
		}
	}
	int rc = sk_X509_CRL_push(sk, crl) > 0 ? 0 : -1;
	if (rc < 0)
		X509_CRL_free(crl);
	rebuild(cs);
	return rc;
}

EVP_PKEY *cred_store_key_for(const struct cred_store *cs, X509 *c)
{
	EVP_PKEY *pub = X509_get0_pubkey(c);
	for (const struct cred_key *k = cs->keys; pub && k; k = k->next)
		if (EVP_PKEY_eq(k->pkey, pub) == 1)
			return k->pkey;
	return NULL;
}

STACK_OF(X509) *cred_store_cas(const struct cred_store *cs) { return cs->all_cas; }
STACK_OF(X509_CRL) *cred_store_crls(const struct cred_store *cs) { return cs->all_crls; }
STACK_OF(X509) *cred_store_certs(const struct cred_store *cs) { return cs->certs; }
struct cred_stats *cred_store_stats(struct cred_store *cs) { return &cs->st; }

void cred_store_each_key(const struct cred_store *cs, void (*fn)(void *arg, EVP_PKEY *k),
			 void *arg)
{
	for (const struct cred_key *k = cs->keys; k; k = k->next)
		fn(arg, k->pkey);
}

void cred_store_each_cert(const struct cred_store *cs, void (*fn)(void *arg, X509 *c, bool ca),
			  void *arg)
{
	for (int i = 0; i < sk_X509_num(cs->certs); i++)
		fn(arg, sk_X509_value(cs->certs, i), false);
	for (int i = 0; i < sk_X509_num(cs->certs_vici); i++)
		fn(arg, sk_X509_value(cs->certs_vici, i), false);
	for (int i = 0; i < sk_X509_num(cs->all_cas); i++)
		fn(arg, sk_X509_value(cs->all_cas, i), true);
}

int cred_store_unload_key(struct cred_store *cs, const char *id_hex)
{
	for (struct cred_key **pp = &cs->keys; *pp; pp = &(*pp)->next) {
		char id[41];
		if (key_id_hex((*pp)->pkey, id) == 0 && strcasecmp(id, id_hex) == 0) {
			struct cred_key *k = *pp;
			*pp = k->next;
			EVP_PKEY_free(k->pkey);
			free(k);
			return 0;
		}
	}
	return -1;
}

void cred_store_clear_vici(struct cred_store *cs)
{
	for (struct cred_key **pp = &cs->keys; *pp;) {
		struct cred_key *k = *pp;
		if (!k->from_vici) {
			pp = &k->next;
			continue;
		}
		*pp = k->next;
		EVP_PKEY_free(k->pkey);
		free(k);
	}
	sk_X509_pop_free(cs->cas_vici, X509_free);
	sk_X509_pop_free(cs->certs_vici, X509_free);
	sk_X509_CRL_pop_free(cs->crls_vici, X509_CRL_free);
	cs->cas_vici = sk_X509_new_null();
	cs->certs_vici = sk_X509_new_null();
	cs->crls_vici = sk_X509_CRL_new_null();
	rebuild(cs);
}

size_t cred_store_n_keys(const struct cred_store *cs)
{
	size_t n = 0;
	for (const struct cred_key *k = cs->keys; k; k = k->next)
		n++;
	return n;
}

/* Calls fn for each regular file in dir/sub (a missing directory is no error). */
static void each_file(const char *dir, const char *sub, struct cred_store *cs,
		      void (*fn)(struct cred_store *, const char *))
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, e->d_name);
		fn(cs, path);
	}
	closedir(d);
}

static void load_key(struct cred_store *cs, const char *path)
{
	char err[512];
	EVP_PKEY *k = key_load_file(path, NULL, err, sizeof(err));
	if (!k) {
		log_err(LOG_CFG, "loading private key failed: %s", err);
		return;
	}
	cred_store_add_key(cs, k, false);
	log_info(LOG_CFG, "loaded %s private key from '%s'", EVP_PKEY_get0_type_name(k), path);
}

static void load_ca(struct cred_store *cs, const char *path)
{
	char err[512], name[256];
	X509 *c = cert_load_file(path, err, sizeof(err));
	if (!c) {
		log_err(LOG_CFG, "loading CA certificate failed: %s", err);
		return;
	}
	log_info(LOG_CFG, "loaded CA certificate \"%s\" from '%s'",
		 cert_name_fmt(c, false, name, sizeof(name)), path);
	cred_store_add_ca(cs, c, false);
}

static void load_cert(struct cred_store *cs, const char *path)
{
	char err[512], name[256];
	X509 *c = cert_load_file(path, err, sizeof(err));
	if (!c) {
		log_err(LOG_CFG, "loading certificate failed: %s", err);
		return;
	}
	log_info(LOG_CFG, "loaded certificate \"%s\" from '%s'",
		 cert_name_fmt(c, false, name, sizeof(name)), path);
	cred_store_add_cert(cs, c, false);
}

static void load_crl(struct cred_store *cs, const char *path)
{
	char err[512];
	X509_CRL *c = crl_load_file(path, err, sizeof(err));
	if (!c) {
		log_err(LOG_CFG, "loading CRL failed: %s", err);
		return;
	}
	log_info(LOG_CFG, "loaded CRL from '%s'", path);
	cred_store_add_crl(cs, c, false);
}

void cred_store_load_config(struct cred_store *cs, const struct config *cfg)
{
	drop_keys(cs, false);
	sk_X509_pop_free(cs->cas, X509_free);
	sk_X509_pop_free(cs->certs, X509_free);
	sk_X509_CRL_pop_free(cs->crls, X509_CRL_free);
	cs->cas = sk_X509_new_null();
	cs->certs = sk_X509_new_null();
	cs->crls = sk_X509_CRL_new_null();
	rebuild(cs);
	if (cfg->cred_dir) {
		static const char *const key_dirs[] = { "private", "rsa", "ecdsa", "pkcs8" };
		for (size_t i = 0; i < sizeof(key_dirs) / sizeof(key_dirs[0]); i++)
			each_file(cfg->cred_dir, key_dirs[i], cs, load_key);
		each_file(cfg->cred_dir, "x509", cs, load_cert);
		each_file(cfg->cred_dir, "x509ca", cs, load_ca);
		each_file(cfg->cred_dir, "x509crl", cs, load_crl);
	}
	for (const struct key_cfg *k = cfg->keys; k; k = k->next) {
		char err[512];
		EVP_PKEY *key = key_load_file(k->file, k->secret, err, sizeof(err));
		if (!key) {
			log_err(LOG_CFG, "secret '%s': loading private key failed: %s", k->name, err);
			continue;
		}
		cred_store_add_key(cs, key, false);
		log_info(LOG_CFG, "loaded %s private key from '%s'", EVP_PKEY_get0_type_name(key),
			 k->file);
	}
}

/* Loads each file of a list into a new stack; logs what fails. */
static STACK_OF(X509) *load_list(char *const *paths, size_t n, const char *conn, const char *what)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	for (size_t i = 0; sk && i < n; i++) {
		char err[512];
		X509 *c = cert_load_entry(paths[i], err, sizeof(err));
		if (!c) {
			log_err(LOG_CFG, "connection '%s': loading %s failed: %s", conn, what, err);
			continue;
		}
		if (sk_X509_push(sk, c) <= 0)
			X509_free(c);
	}
	return sk;
}

struct conn_creds *conn_creds_load(struct cred_store *cs, const struct conn_cfg *cfg)
{
	(void)cs;
	if (!cfg->local.n_certs && !cfg->remote.n_cacerts)
		return NULL;
	struct conn_creds *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return NULL;
	cc->certs = load_list(cfg->local.certs, cfg->local.n_certs, cfg->name, "certificate");
	cc->cacerts = load_list(cfg->remote.cacerts, cfg->remote.n_cacerts, cfg->name,
				"CA certificate");
	return cc;
}

void conn_creds_free(struct conn_creds *cc)
{
	if (!cc)
		return;
	sk_X509_pop_free(cc->certs, X509_free);
	sk_X509_pop_free(cc->cacerts, X509_free);
	free(cc);
}
