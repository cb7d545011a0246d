/*
 * cli/change_build.c - building a change: the shared options, the files
 * and what they mean in certificate terms, the scope, the stores a command
 * works on, and reading the files and certificates a change starts from.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../core/path.h"
#include "../core/subject.h"
#include "change.h"

#define STATE_FILE_MAX (256 * 1024 * 1024)

int
change_option(struct cli *cli, const char *cmd, struct change_opts *o, int c, const char *arg)
{
	long v;

	switch (c) {
	case 'n':
		o->dry_run = true;
		return 1;
	case 1001:
		o->reason = arg;
		return 1;
	case 1002:
		o->ticket = arg;
		return 1;
	case 1003:
		o->operator_name = arg;
		return 1;
	case 1004:
		if (tf_parse_int(arg, 0, 86400, &v) == -1)
			return cli_usage(cli, cmd, "bad --wait '%s' (seconds, 0 to 86400)", arg),
			       -1;
		o->wait_seconds = (int)v;
		return 1;
	}
	return 0;
}

char *
change_abspath(struct cli *cli, const char *path)
{
	char cwd[4096];

	if (path[0] == '/')
		return tf_strdup(path);
	if (strcmp(cli->ctx.root, "/") != 0 || getcwd(cwd, sizeof(cwd)) == NULL)
		return tf_asprintf("/%s", path);
	return tf_path_join(cwd, path);
}

void
change_add_file(struct change *ch, enum ts_op_kind kind, const char *path, const void *data,
    size_t len, mode_t mode)
{
	struct change_file *f;

	ch->files = tf_realloc(ch->files, (ch->nfiles + 1) * sizeof(*ch->files));
	f = &ch->files[ch->nfiles++];
	f->path = tf_strdup(path);
	f->kind = kind;
	f->len = len;
	f->mode = mode;
	f->secret = false;
	f->data = NULL;
	if (data != NULL) {
		f->data = tf_malloc(len + 1);
		memcpy(f->data, data, len);
		f->data[len] = '\0';
	}
}

void
change_add_secret(struct change *ch, const char *path, const void *data, size_t len)
{
	change_add_file(ch, TS_OP_WRITE, path, data, len, 0600);
	ch->files[ch->nfiles - 1].secret = true;
}

void
change_merge(struct change *ch, const struct change *part)
{
	size_t i;

	for (i = 0; i < part->nfiles; i++) {
		const struct change_file *f = &part->files[i];

		change_add_file(ch, f->kind, f->path, f->data, f->len, f->mode);
		ch->files[ch->nfiles - 1].secret = f->secret;
	}
	if (part->body != NULL) {
		if (ch->body != NULL)
			change_add_body(ch, "");
		if (part->subject_line != NULL)
			change_add_body(ch, part->subject_line);
		ch->body = tf_realloc(ch->body,
		    (ch->body ? strlen(ch->body) : 0) + strlen(part->body) + 1);
		strcat(ch->body, part->body);
	}
	for (i = 0; i < part->ntrailers; i++)
		change_add_trailer(ch, part->trailer_keys[i], part->trailer_values[i]);
	if (part->client_cert != NULL && ch->client_cert == NULL)
		ch->client_cert = tf_strdup(part->client_cert);
}

void
change_add_trailer(struct change *ch, const char *key, const char *value)
{
	ch->trailer_keys = tf_realloc(ch->trailer_keys, (ch->ntrailers + 1) * sizeof(char *));
	ch->trailer_values = tf_realloc(ch->trailer_values, (ch->ntrailers + 1) * sizeof(char *));
	ch->trailer_keys[ch->ntrailers] = tf_strdup(key);
	ch->trailer_values[ch->ntrailers] = tf_strdup(value);
	ch->ntrailers++;
}

void
change_add_body(struct change *ch, const char *line)
{
	size_t n = ch->body != NULL ? strlen(ch->body) : 0, m = strlen(line);

	ch->body = tf_realloc(ch->body, n + m + 2);
	memcpy(ch->body + n, line, m);
	ch->body[n + m] = '\n';
	ch->body[n + m + 1] = '\0';
}

void
change_add_plan(struct change *ch, const struct ts_plan *plan)
{
	char hex[65], *line;
	size_t i;

	if (plan->nops == 0)
		return;
	line = tf_asprintf("%s:", plan->store);
	change_add_body(ch, line);
	free(line);
	for (i = 0; i < plan->nadded; i++) {
		tf_hex(hex, plan->added[i].sha256, 32);
		line = tf_asprintf("+ %s (%.16s)", tf_subject_short(plan->added[i].subject), hex);
		change_add_body(ch, line);
		free(line);
		line = tf_asprintf("%s %s", plan->store, hex);
		change_add_trailer(ch, "Trustfix-Added", line);
		free(line);
	}
	for (i = 0; i < plan->nremoved; i++) {
		tf_hex(hex, plan->removed[i].sha256, 32);
		line = tf_asprintf("- %s (%.16s)", tf_subject_short(plan->removed[i].subject), hex);
		change_add_body(ch, line);
		free(line);
		line = tf_asprintf("%s %s", plan->store, hex);
		change_add_trailer(ch, "Trustfix-Removed", line);
		free(line);
	}
	for (i = 0; i < plan->nops; i++) {
		const struct ts_op *op = &plan->ops[i];

		change_add_file(ch, op->kind, op->path, op->data, op->len, op->mode);
	}
}

void
change_release(struct change *ch)
{
	size_t i;

	for (i = 0; i < ch->nfiles; i++) {
		free(ch->files[i].path);
		if (ch->files[i].secret && ch->files[i].data != NULL)
			OPENSSL_cleanse(ch->files[i].data, ch->files[i].len);
		free(ch->files[i].data);
	}
	for (i = 0; i < ch->ntrailers; i++) {
		free(ch->trailer_keys[i]);
		free(ch->trailer_values[i]);
	}
	free(ch->files);
	free(ch->trailer_keys);
	free(ch->trailer_values);
	free(ch->subject_line);
	free(ch->body);
	change_hooks_release(ch);
	memset(ch, 0, sizeof(*ch));
}

int
change_read_state(struct cli *cli, const char *path, struct change_file *f, bool *exists)
{
	struct tf_ctx *ctx = &cli->ctx;
	struct stat st;
	char *host, *buf = NULL;
	size_t len;
	int fd, rc;

	memset(f, 0, sizeof(*f));
	*exists = false;
	if (tf_lstat(ctx, path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		host = tf_hostpath(ctx, path);
		rc = tf_error_sys(ctx, TF_EIO, "cannot stat '%s'", host);
		free(host);
		return rc;
	}
	f->path = tf_strdup(path);
	f->mode = st.st_mode & 07777;
	if (S_ISLNK(st.st_mode)) {
		f->kind = TS_OP_SYMLINK;
		if ((buf = tf_readlink(ctx, path)) == NULL) {
			host = tf_hostpath(ctx, path);
			rc = tf_error_sys(ctx, TF_EIO, "cannot read link '%s'", host);
			free(host);
			return rc;
		}
		f->data = (unsigned char *)buf;
		f->len = strlen(buf);
		*exists = true;
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return 0; /* folders and others are not recorded */
	f->kind = TS_OP_WRITE;
	host = tf_hostpath(ctx, path);
	if ((fd = tf_open(ctx, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0)) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot open '%s'", host);
		free(host);
		return rc;
	}
	rc = tf_read_fd(ctx, fd, host, STATE_FILE_MAX, &buf, &len);
	close(fd);
	free(host);
	if (rc != 0)
		return rc;
	f->data = (unsigned char *)buf;
	f->len = len;
	*exists = true;
	return 0;
}

void
change_scope_add(struct change_scope *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], path) == 0)
			return;
	s->v = tf_realloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = tf_strdup(path);
}

void
change_free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
change_stores(struct cli *cli, const char *cmd, char **named, size_t nnamed, char ***out,
    size_t *nout)
{
	const struct tf_config *cfg = cli->ctx.cfg;
	char **v;
	size_t i, n = nnamed ? nnamed : cfg->nstores;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return cli_usage(cli, cmd,
		           "no store: name one with --store, or add a [store NAME] section to the "
		           "configuration"),
		       TF_EUSAGE;
	v = tf_calloc(n, sizeof(*v));
	for (i = 0; i < n; i++) {
		const char *p = nnamed ? named[i] : cfg->stores[i].path;

		if (strstr(p, "..") != NULL) {
			change_free_list(v, i);
			return tf_error(&cli->ctx, TF_EUSAGE,
			    "store path '%s' must not contain '..'", p);
		}
		v[i] = change_abspath(cli, p);
	}
	*out = v;
	*nout = n;
	return 0;
}

/* Certificate blocks in PEM text: what a reader must account for. */
static size_t
count_blocks(const char *buf, size_t len)
{
	static const char *const kinds[] = { "-----BEGIN CERTIFICATE-----",
		"-----BEGIN TRUSTED CERTIFICATE-----", "-----BEGIN X509 CERTIFICATE-----" };
	size_t n = 0, k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const char *p = buf, *end = buf + len;
		size_t kl = strlen(kinds[k]);

		while ((p = memmem(p, (size_t)(end - p), kinds[k], kl)) != NULL) {
			n++;
			p += kl;
		}
	}
	return n;
}

struct read_certs {
	unsigned char ***der;
	size_t **len;
	size_t *n;
	size_t got;
};

/* Keep one certificate block that decodes, as DER. */
static void
keep_cert(const unsigned char *d, size_t dlen, void *arg)
{
	struct read_certs *rc = arg;
	const unsigned char *p = d;
	unsigned char *c = NULL;
	X509 *x;
	int l;

	if ((x = d2i_X509(NULL, &p, (long)dlen)) == NULL)
		return;
	l = i2d_X509(x, &c);
	X509_free(x);
	if (l > 0) {
		*rc->der = tf_realloc(*rc->der, (*rc->n + 1) * sizeof(**rc->der));
		*rc->len = tf_realloc(*rc->len, (*rc->n + 1) * sizeof(**rc->len));
		(*rc->der)[*rc->n] = tf_malloc((size_t)l);
		memcpy((*rc->der)[*rc->n], c, (size_t)l);
		(*rc->len)[(*rc->n)++] = (size_t)l;
		rc->got++;
	}
	OPENSSL_free(c);
}

int
change_read_certs(struct cli *cli, const char *file, unsigned char ***der, size_t **len, size_t *n)
{
	struct read_certs r = { der, len, n, 0 };
	const unsigned char *p;
	char *buf = NULL;
	size_t blen, nblocks;
	X509 *x;
	int rc;

	if ((rc = tf_read_input(&cli->ctx, file, 16 * 1024 * 1024, &buf, &blen)) != 0)
		return rc;
	if (memmem(buf, blen, "-----BEGIN", 10) == NULL) {
		/* one DER certificate */
		p = (const unsigned char *)buf;
		if ((x = d2i_X509(NULL, &p, (long)blen)) == NULL ||
		    p != (unsigned char *)buf + blen) {
			X509_free(x);
			rc = tf_error(&cli->ctx, TF_EINVALID,
			    "'%s' holds no certificate (PEM or DER expected)", file);
			goto out;
		}
		X509_free(x);
		*der = tf_realloc(*der, (*n + 1) * sizeof(**der));
		*len = tf_realloc(*len, (*n + 1) * sizeof(**len));
		(*der)[*n] = tf_malloc(blen);
		memcpy((*der)[*n], buf, blen);
		(*len)[(*n)++] = blen;
		goto out;
	}
	nblocks = count_blocks(buf, blen);
	(void)truststore_pem_certs(buf, blen, keep_cert, &r);
	if (nblocks == 0)
		rc = tf_error(&cli->ctx, TF_EINVALID, "'%s' holds no certificate", file);
	else if (r.got != nblocks)
		rc = tf_error(&cli->ctx, TF_EINVALID,
		    "'%s' has %s certificate block that cannot be read (truncated, or bad "
		    "base64): nothing was changed",
		    file, nblocks - r.got > 1 ? "more than one" : "a");
out:
	ERR_clear_error();
	free(buf);
	return rc;
}
