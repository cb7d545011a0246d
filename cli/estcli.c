/*
 * cli/estcli.c - the EST settings of renew, enroll and est cacerts (flags
 * over the [client] section), and the pending enrollment that a 202
 * Accepted leaves for the next run.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "estcli.h"

#define FILE_MAX (1024 * 1024)
#define PENDING_META "client.json"
#define PENDING_KEY "client.key"
#define PENDING_CSR "client.csr"

void
est_cli_init(struct est_cli *e)
{
	memset(e, 0, sizeof(*e));
	e->max_wait = -1;
	e->ca_fd = -1;
	e->pw_fd = -1;
}

int
est_cli_option(struct cli *cli, const char *cmd, struct est_cli *e, int c, const char *arg)
{
	long v;

	switch (c) {
	case EST_OPT_SERVER:
		e->server = arg;
		return 1;
	case EST_OPT_CA_FILE:
		e->ca_file = arg;
		return 1;
	case EST_OPT_LABEL:
		e->label = arg;
		return 1;
	case EST_OPT_USERNAME:
		e->username = arg;
		return 1;
	case EST_OPT_PASSWORD_FILE:
		e->password_file = arg;
		return 1;
	case EST_OPT_CERT:
		e->cert = arg;
		return 1;
	case EST_OPT_KEY:
		e->key = arg;
		return 1;
	case EST_OPT_CHAIN:
		e->chain = arg;
		return 1;
	case EST_OPT_SUBJECT:
		e->subject = arg;
		return 1;
	case EST_OPT_SAN:
		if (strncmp(arg, "DNS:", 4) != 0 && strncmp(arg, "IP:", 3) != 0 &&
		    strncmp(arg, "email:", 6) != 0 && strncmp(arg, "URI:", 4) != 0)
			return cli_usage(cli, cmd,
			           "bad --san '%s' (DNS:name, IP:address, email:address or "
			           "URI:uri)",
			           arg),
			       -1;
		e->sans = tf_realloc(e->sans, (e->nsans + 1) * sizeof(*e->sans));
		e->sans[e->nsans++] = arg;
		e->sans_given = true;
		return 1;
	case EST_OPT_KEY_TYPE:
		e->key_type = arg;
		return 1;
	case EST_OPT_BOOTSTRAP_CERT:
		e->bootstrap_cert = arg;
		return 1;
	case EST_OPT_BOOTSTRAP_KEY:
		e->bootstrap_key = arg;
		return 1;
	case EST_OPT_MAX_WAIT:
		if (tf_parse_int(arg, 0, 86400, &v) == -1)
			return cli_usage(cli, cmd, "bad --max-wait '%s' (seconds, 0 to 86400)",
			           arg),
			       -1;
		e->max_wait = v;
		return 1;
	}
	return 0;
}

/*
 * A file of the managed system for libcurl or the password reader, which
 * open paths as given: opened here inside the root, and handed on as
 * /proc/self/fd/N so that they read the very file (a link planted in an
 * image cannot lead out of it).
 */
static int
open_managed(struct cli *cli, const char *path, const char *what, int *fd, char **out)
{
	char *host;
	int rc;

	if (strcmp(cli->ctx.root, "/") == 0) {
		*out = tf_strdup(path);
		return 0;
	}
	if ((*fd = tf_open(&cli->ctx, path, O_RDONLY | O_CLOEXEC, 0)) == -1) {
		host = tf_hostpath(&cli->ctx, path);
		rc = tf_error_sys(&cli->ctx, TF_ECONFIG, "cannot open %s '%s'", what, host);
		free(host);
		return rc;
	}
	*out = tf_asprintf("/proc/self/fd/%d", *fd);
	return 0;
}

static int
no_dotdot(struct cli *cli, const char *path, const char *what)
{
	if (path != NULL && strstr(path, "..") != NULL)
		return tf_error(&cli->ctx, TF_EUSAGE, "%s '%s' must not contain '..'", what, path);
	return 0;
}

int
est_cli_resolve(struct cli *cli, struct est_cli *e)
{
	const struct tf_config *cfg = cli->ctx.cfg;
	int rc;

	if (e->server == NULL)
		e->server = cfg->est_server;
	if (e->label == NULL)
		e->label = cfg->est_label;
	if (e->username == NULL)
		e->username = cfg->est_username;
	if (e->subject == NULL)
		e->subject = cfg->est_subject;
	if (e->key_type == NULL)
		e->key_type = cfg->est_key_type;
	if (e->cert == NULL)
		e->cert = cfg->client_cert;
	if (e->key == NULL)
		e->key = cfg->client_key;
	if (e->chain == NULL)
		e->chain = cfg->client_chain;
	if (e->bootstrap_cert == NULL)
		e->bootstrap_cert = cfg->bootstrap_cert;
	if (e->bootstrap_key == NULL)
		e->bootstrap_key = cfg->bootstrap_key;
	if (e->max_wait < 0)
		e->max_wait = cfg->est_max_wait >= 0 ? cfg->est_max_wait : 300;
	if (!e->sans_given) {
		e->sans = tf_realloc(e->sans, (cfg->est_nsans + 1) * sizeof(*e->sans));
		for (e->nsans = 0; e->nsans < cfg->est_nsans; e->nsans++)
			e->sans[e->nsans] = cfg->est_sans[e->nsans];
	}
	if (e->ca_file == NULL && cfg->est_ca_file != NULL) {
		e->ca_file = cfg->est_ca_file;
		e->ca_file_managed = true;
	}
	if (e->password_file == NULL && cfg->est_password_file != NULL) {
		e->password_file = cfg->est_password_file;
		e->password_file_managed = true;
	}
	if ((rc = no_dotdot(cli, e->cert, "certificate path")) != 0 ||
	    (rc = no_dotdot(cli, e->key, "key path")) != 0 ||
	    (rc = no_dotdot(cli, e->chain, "chain path")) != 0 ||
	    (rc = no_dotdot(cli, e->bootstrap_cert, "bootstrap certificate path")) != 0 ||
	    (rc = no_dotdot(cli, e->bootstrap_key, "bootstrap key path")) != 0)
		return rc;
	e->type = EST_KEY_P256;
	if (e->key_type != NULL && (rc = est_key_type_parse(&e->type, &cli->ctx, e->key_type)) != 0)
		return rc;
	if ((e->bootstrap_cert == NULL) != (e->bootstrap_key == NULL))
		return tf_error(&cli->ctx, TF_EUSAGE,
		    "a bootstrap certificate needs its key: give both --bootstrap-cert and "
		    "--bootstrap-key (bootstrap_cert and bootstrap_key)");
	if (e->username != NULL && e->password_file == NULL)
		return tf_error(&cli->ctx, TF_EUSAGE,
		    "EST user '%s' has no password: give --password-file (password_file)",
		    e->username);
	if (e->ca_file != NULL && !e->skip_anchor) {
		if (e->ca_file_managed)
			rc = open_managed(cli, e->ca_file, "ca_file", &e->ca_fd, &e->ca_path);
		else
			e->ca_path = tf_strdup(e->ca_file);
		if (rc != 0)
			return rc;
	}
	if (e->password_file != NULL) {
		if (e->password_file_managed)
			rc = open_managed(cli, e->password_file, "password_file", &e->pw_fd,
			    &e->pw_path);
		else
			e->pw_path = tf_strdup(e->password_file);
	}
	return rc;
}

void
est_cli_release(struct est_cli *e)
{
	if (e->ca_fd != -1)
		close(e->ca_fd);
	if (e->pw_fd != -1)
		close(e->pw_fd);
	free(e->ca_path);
	free(e->pw_path);
	free(e->sans);
	est_cli_init(e);
}

bool
est_cli_has_bootstrap(const struct est_cli *e)
{
	return (e->username != NULL && e->password_file != NULL) ||
	    (e->bootstrap_cert != NULL && e->bootstrap_key != NULL);
}

int
est_cli_read(struct cli *cli, const char *path, const char *what, char **out, size_t *len,
    bool *exists)
{
	char *host = tf_hostpath(&cli->ctx, path);
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	*exists = false;
	if ((fd = tf_open(&cli->ctx, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0)) == -1) {
		if (errno != ENOENT)
			rc = tf_error_sys(&cli->ctx, TF_EIO, "cannot open %s '%s'", what, host);
		free(host);
		return rc;
	}
	rc = tf_read_fd(&cli->ctx, fd, host, FILE_MAX, out, len);
	close(fd);
	free(host);
	*exists = rc == 0;
	return rc;
}

X509 *
est_cli_parse_cert(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	BIO *bio;
	X509 *x = NULL;

	if (len > 0x7fffffff)
		return NULL;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL)
		x = d2i_X509(NULL, &p, (long)len);
	ERR_clear_error();
	return x;
}

void
est_cli_spki_sha256(unsigned char out[32], X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(X509_get0_pubkey(x), &der);

	memset(out, 0, 32);
	if (n > 0)
		SHA256(der, (size_t)n, out);
	OPENSSL_free(der);
	ERR_clear_error();
}

/* ---- the pending enrollment ---- */

void
est_pending_release(struct est_pending *p)
{
	if (p->key_pem != NULL)
		est_secret_free(p->key_pem, p->key_len);
	free(p->csr);
	free(p->cert);
	free(p->server);
	memset(p, 0, sizeof(*p));
}

/* Read the file 'name' of the pending folder; *exists false when missing. */
static int
pending_read(struct cli *cli, int dirfd, const char *name, char **out, size_t *len, bool *exists)
{
	char *host = tf_hostpath(&cli->ctx, EST_PENDING_DIR), *what;
	int fd, rc = 0;

	*exists = false;
	what = tf_asprintf("%s/%s", host, name);
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			rc = tf_error_sys(&cli->ctx, TF_EIO, "cannot open '%s'", what);
	} else {
		rc = tf_read_fd(&cli->ctx, fd, what, FILE_MAX, out, len);
		close(fd);
		*exists = rc == 0;
	}
	free(what);
	free(host);
	return rc;
}

int
est_pending_load(struct cli *cli, struct est_pending *p, bool *found)
{
	json_t *doc = NULL;
	json_error_t jerr;
	char *meta = NULL, *csr = NULL, *host;
	size_t mlen = 0, clen = 0;
	bool exists;
	int dirfd, rc;

	memset(p, 0, sizeof(*p));
	*found = false;
	if ((dirfd = tf_dir_open(&cli->ctx, EST_PENDING_DIR)) == -1)
		return 0; /* no folder, nothing pending */
	if ((rc = pending_read(cli, dirfd, PENDING_META, &meta, &mlen, &exists)) != 0 || !exists)
		goto out;
	host = tf_hostpath(&cli->ctx, EST_PENDING_DIR);
	doc = json_loadb(meta, mlen, 0, &jerr);
	if (doc == NULL || !json_is_string(json_object_get(doc, "operation")) ||
	    !json_is_string(json_object_get(doc, "cert")) ||
	    !json_is_string(json_object_get(doc, "server"))) {
		rc = tf_error(&cli->ctx, TF_EINVALID,
		    "the pending enrollment in '%s' is damaged: remove the folder to start afresh",
		    host);
		free(host);
		goto out;
	}
	if ((rc = pending_read(cli, dirfd, PENDING_KEY, &p->key_pem, &p->key_len, &exists)) == 0 &&
	    (!exists ||
	        ((rc = pending_read(cli, dirfd, PENDING_CSR, &csr, &clen, &exists)) == 0 &&
	            !exists)))
		rc = tf_error(&cli->ctx, TF_EINVALID,
		    "the pending enrollment in '%s' lacks its key or request: remove the folder to "
		    "start afresh",
		    host);
	free(host);
	if (rc != 0)
		goto out;
	p->csr = (unsigned char *)csr;
	p->csr_len = clen;
	csr = NULL;
	p->reenroll =
	    strcmp(json_string_value(json_object_get(doc, "operation")), "simplereenroll") == 0;
	p->cert = tf_strdup(json_string_value(json_object_get(doc, "cert")));
	p->server = tf_strdup(json_string_value(json_object_get(doc, "server")));
	p->since = (long)json_integer_value(json_object_get(doc, "since"));
	*found = true;
out:
	if (rc != 0)
		est_pending_release(p);
	json_decref(doc);
	free(meta);
	free(csr);
	close(dirfd);
	return rc;
}

/* Create 'name' afresh in 'dirfd' with 'data' (never through a link). */
static int
write_new(struct cli *cli, int dirfd, const char *name, const void *data, size_t len)
{
	int fd;

	unlinkat(dirfd, name, 0);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return tf_error_sys(&cli->ctx, TF_EIO, "cannot create '%s' in '%s'", name,
		    EST_PENDING_DIR);
	if (tf_write_all(fd, data, len) != 0 || tf_fsync(fd) != 0) {
		int rc = tf_error_sys(&cli->ctx, TF_EIO, "cannot write '%s' in '%s'", name,
		    EST_PENDING_DIR);

		close(fd);
		unlinkat(dirfd, name, 0);
		return rc;
	}
	close(fd);
	return 0;
}

/* Overwrite the pending key before it is unlinked: it never lingers on disk. */
static void
shred_key(int dirfd)
{
	struct stat st;
	char zero[4096];
	int fd;

	if ((fd = openat(dirfd, PENDING_KEY, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	memset(zero, 0, sizeof(zero));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t done = 0;

		while (done < st.st_size) {
			size_t n = (size_t)(st.st_size - done) < sizeof(zero)
			    ? (size_t)(st.st_size - done)
			    : sizeof(zero);

			if (tf_write_all(fd, zero, n) != 0)
				break;
			done += (off_t)n;
		}
		(void)tf_fsync(fd);
	}
	close(fd);
}

int
est_pending_save(struct cli *cli, const struct est_pending *p)
{
	json_t *doc;
	char *meta = NULL;
	int dirfd, rc;

	if ((rc = tf_mkdirs(&cli->ctx, EST_PENDING_DIR, 0700)) != 0)
		return rc;
	if ((dirfd = tf_dir_open(&cli->ctx, EST_PENDING_DIR)) == -1) {
		char *host = tf_hostpath(&cli->ctx, EST_PENDING_DIR);

		rc = tf_error_sys(&cli->ctx, TF_EIO, "cannot open '%s'", host);
		free(host);
		return rc;
	}
	/* the description first goes: a crash in between leaves nothing pending */
	unlinkat(dirfd, PENDING_META, 0);
	shred_key(dirfd);
	unlinkat(dirfd, PENDING_KEY, 0);
	if ((rc = est_key_write(&cli->ctx, dirfd, PENDING_KEY, p->key_pem, p->key_len)) != 0 ||
	    (rc = write_new(cli, dirfd, PENDING_CSR, p->csr, p->csr_len)) != 0)
		goto out;
	doc = json_pack("{s:s,s:s,s:s,s:I}", "operation",
	    p->reenroll ? "simplereenroll" : "simpleenroll", "cert", p->cert, "server", p->server,
	    "since", (json_int_t)p->since);
	meta = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (meta == NULL) {
		rc = tf_error(&cli->ctx, TF_ERROR, "cannot describe the pending enrollment");
		goto out;
	}
	if ((rc = write_new(cli, dirfd, PENDING_META, meta, strlen(meta))) == 0 &&
	    tf_fsync(dirfd) != 0)
		rc = tf_error_sys(&cli->ctx, TF_EIO, "cannot sync '%s'", EST_PENDING_DIR);
out:
	free(meta);
	close(dirfd);
	return rc;
}

int
est_pending_remove(struct cli *cli)
{
	int dirfd;

	if ((dirfd = tf_dir_open(&cli->ctx, EST_PENDING_DIR)) == -1)
		return 0;
	unlinkat(dirfd, PENDING_META, 0);
	shred_key(dirfd);
	unlinkat(dirfd, PENDING_KEY, 0);
	unlinkat(dirfd, PENDING_CSR, 0);
	(void)tf_fsync(dirfd);
	close(dirfd);
	return 0;
}
