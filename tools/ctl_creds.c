/* tsunagictl --load-all: the credentials, as swanctl --load-creds sends them. Files in
 * x509/, x509ca/, x509crl/ beside the configuration go by load-cert, keys in private/
 * (rsa/, ecdsa/, pkcs8/) by load-key, decrypted here with the passphrase of the
 * secrets.private<suffix> { file, secret } that names them. A connection's certs and
 * cacerts go inside load-conn as the certificates themselves (PEM), since the daemon
 * may not see the same files. Keys are wiped after sending and never printed. */
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "ike/cert.h"
#include "lib/wipe.h"
#include "tools/ctl.h"

static void dir_of(const char *file, char *out, size_t len)
{
	char *copy = strdup(file);
	snprintf(out, len, "%s", copy ? dirname(copy) : ".");
	free(copy);
}

static bool send_ok(struct ctl *ctl, const char *cmd, struct vici_msg *m, const char *what)
{
	struct ctree *res = ctl_request(ctl, cmd, m);
	bool ok = res && ctl_check_success(res, what);
	ctree_free(res);
	return ok;
}

static int load_cert_file(struct ctl *ctl, const char *path, const char *type, const char *flag)
{
	char err[512];
	struct vici_msg m;
	int rc = -1;
	X509 *c = NULL;
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	int n;
	if (strcmp(type, "X509_CRL") == 0) {
		crl = crl_load_file(path, err, sizeof(err));
		n = crl ? i2d_X509_CRL(crl, &der) : -1;
	} else {
		c = cert_load_file(path, err, sizeof(err));
		n = c ? i2d_X509(c, &der) : -1;
	}
	if (n <= 0) {
		fprintf(stderr, "%s\n", c || crl ? "encoding failed" : err);
		goto out;
	}
	vici_msg_init(&m);
	vici_add_kv(&m, "type", type);
	vici_add_kv(&m, "flag", flag);
	vici_add_kv_bin(&m, "data", der, (size_t)n);
	char what[600];
	snprintf(what, sizeof(what), "loading '%s'", path);
	if (send_ok(ctl, "load-cert", &m, what)) {
		printf("loaded certificate from '%s'\n", path);
		rc = 1;
	}
	vici_msg_free(&m);
out:
	OPENSSL_free(der);
	X509_free(c);
	X509_CRL_free(crl);
	return rc;
}

bool ctl_is_key_secret(const char *name)
{
	static const char *const types[] = { "private", "rsa", "ecdsa", "pkcs8" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strncmp(name, types[i], strlen(types[i])) == 0)
			return true;
	return false;
}

/* The passphrase of secrets.private* { file = path or name in private/ }. */
static const char *passphrase(const struct ctree *secrets, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	for (const struct ctree *s = secrets ? secrets->child : NULL; s; s = s->next) {
		if (!ctree_is_section(s) || !ctl_is_key_secret(s->name))
			continue;
		const char *file = vici_find_str(s, "file", NULL);
		if (file && (strcmp(file, path) == 0 || strcmp(file, base) == 0))
			return vici_find_str(s, "secret", NULL);
	}
	return NULL;
}

static int load_key_file(struct ctl *ctl, const char *path, const struct ctree *secrets)
{
	char err[512];
	EVP_PKEY *k = key_load_file(path, passphrase(secrets, path), err, sizeof(err));
	if (!k) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	unsigned char *der = NULL;
	int n = i2d_PrivateKey(k, &der);
	const char *type = EVP_PKEY_get0_type_name(k);
	int rc = -1;
	if (n > 0) {
		struct vici_msg m;
		vici_msg_init(&m);
		vici_add_kv(&m, "type", "any");
		vici_add_kv_bin(&m, "data", der, (size_t)n);
		char what[600];
		snprintf(what, sizeof(what), "loading key '%s'", path);
		if (send_ok(ctl, "load-key", &m, what)) {
			printf("loaded %s key from '%s'\n", type ? type : "private", path);
			rc = 1;
		}
		vici_msg_wipe_free(&m);
		OPENSSL_clear_free(der, (size_t)n);
	}
	EVP_PKEY_free(k);
	return rc;
}

/* Each file of dir/sub through fn; returns how many failed. */
static int each(struct ctl *ctl, const char *dir, const char *sub, const struct ctree *secrets,
		int (*fn)(struct ctl *, const char *, const char *, const struct ctree *))
{
	char path[4096];
	int failed = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, e->d_name);
		failed += fn(ctl, path, sub, secrets) < 0;
	}
	if (d)
		closedir(d);
	return failed;
}

static int cert_fn(struct ctl *ctl, const char *path, const char *sub, const struct ctree *secrets)
{
	(void)secrets;
	if (strcmp(sub, "x509crl") == 0)
		return load_cert_file(ctl, path, "X509_CRL", "NONE");
	return load_cert_file(ctl, path, "X509", strcmp(sub, "x509ca") == 0 ? "CA" : "NONE");
}

static int key_fn(struct ctl *ctl, const char *path, const char *sub, const struct ctree *secrets)
{
	(void)sub;
	return load_key_file(ctl, path, secrets);
}

int ctl_load_creds(struct ctl *ctl, const char *conf_file, const struct ctree *secrets)
{
	char dir[4096];
	dir_of(conf_file, dir, sizeof(dir));
	int failed = 0;
	static const char *const cert_dirs[] = { "x509", "x509ca", "x509crl" };
	static const char *const key_dirs[] = { "private", "rsa", "ecdsa", "pkcs8" };
	for (size_t i = 0; i < sizeof(cert_dirs) / sizeof(cert_dirs[0]); i++)
		failed += each(ctl, dir, cert_dirs[i], secrets, cert_fn);
	for (size_t i = 0; i < sizeof(key_dirs) / sizeof(key_dirs[0]); i++)
		failed += each(ctl, dir, key_dirs[i], secrets, key_fn);
	return failed ? -1 : 0;
}

void ctl_add_cert_items(struct vici_msg *m, const struct ctree *node)
{
	char dir[2048], path[4096], err[512];
	char **items;
	size_t n = ctree_items(node, &items);
	dir_of(node->file ? node->file : ".", dir, sizeof(dir));
	vici_begin_list(m, node->name);
	for (size_t i = 0; i < n; i++) {
		if (items[i][0] == '/')
			snprintf(path, sizeof(path), "%s", items[i]);
		else
			snprintf(path, sizeof(path), "%s/%s/%s", dir,
				 strcmp(node->name, "cacerts") == 0 ? "x509ca" : "x509", items[i]);
		X509 *c = cert_load_file(path, err, sizeof(err));
		BIO *b = c ? BIO_new(BIO_s_mem()) : NULL;
		char *pem = NULL;
		long len = b && PEM_write_bio_X509(b, c) ? BIO_get_mem_data(b, &pem) : 0;
		if (len > 0) {
			char *item = strndup(pem, (size_t)len);
			if (item)
				vici_add_item(m, item);
			free(item);
		} else {
			fprintf(stderr, "%s: %s\n", node->name, err);
		}
		BIO_free(b);
		X509_free(c);
	}
	vici_end_list(m);
	ctree_free_items(items, n);
}
