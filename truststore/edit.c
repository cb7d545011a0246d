/*
 * truststore/edit.c - plan the files that change when certificates are
 * added to or removed from a store. PEM files keep every untouched byte;
 * certificate directories are truststore/edit_dir.c's, PKCS#12 stores
 * truststore/p12edit.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../core/path.h"
#include "edit_int.h"
#include "p12edit.h"

void
edit_add_op(struct ts_plan *p, enum ts_op_kind kind, const char *path, const void *data, size_t len,
    mode_t mode)
{
	struct ts_op *op;

	p->ops = tf_realloc(p->ops, (p->nops + 1) * sizeof(*p->ops));
	op = &p->ops[p->nops++];
	op->kind = kind;
	op->path = tf_strdup(path);
	op->data = NULL;
	op->len = len;
	op->mode = mode;
	if (data != NULL) {
		op->data = tf_malloc(len + 1);
		memcpy(op->data, data, len);
		op->data[len] = '\0';
	}
}

void
edit_add_ref(struct ts_cert_ref **v, size_t *n, const unsigned char *sha256, const char *subject)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (memcmp((*v)[i].sha256, sha256, 32) == 0)
			return;
	*v = tf_realloc(*v, (*n + 1) * sizeof(**v));
	memcpy((*v)[*n].sha256, sha256, 32);
	(*v)[*n].subject = tf_strdup(subject != NULL ? subject : "");
	(*n)++;
}

bool
edit_to_remove(const struct ts_edit *e, const unsigned char *sha256)
{
	size_t i;

	for (i = 0; i < e->nremove; i++)
		if (memcmp(e->remove[i], sha256, 32) == 0)
			return true;
	return false;
}

struct addcert *
edit_find_add(struct addcert *adds, size_t n, const unsigned char *sha256)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(adds[i].info.sha256, sha256, 32) == 0)
			return &adds[i];
	return NULL;
}

/* Read a whole file of the managed system; -1 with errno. */
int
edit_slurp(struct tf_ctx *ctx, const char *path, char **buf, size_t *len, struct stat *st)
{
	int fd, rc;

	if ((fd = tf_open(ctx, path, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return tf_error_sys(ctx, TF_EIO, "cannot open '%s'", path);
	if (st != NULL && fstat(fd, st) == -1) {
		close(fd);
		return tf_error_sys(ctx, TF_EIO, "cannot stat '%s'", path);
	}
	rc = tf_read_fd(ctx, fd, path, EDIT_FILE_MAX, buf, len);
	close(fd);
	return rc;
}

static bool
line_is(const char *s, size_t n, const char *prefix, const char *suffix)
{
	size_t p = strlen(prefix), q = strlen(suffix);

	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n >= p + q && memcmp(s, prefix, p) == 0 && memcmp(s + n - q, suffix, q) == 0;
}

static bool
cert_begin(const char *s, size_t n)
{
	return line_is(s, n, "-----BEGIN CERTIFICATE", "-----") ||
	    line_is(s, n, "-----BEGIN TRUSTED CERTIFICATE", "-----") ||
	    line_is(s, n, "-----BEGIN X509 CERTIFICATE", "-----");
}

/* Decode the base64 between two offsets into the block's fingerprint. */
static bool
block_decode(struct block *b, const char *text, size_t from, size_t to)
{
	char *b64 = tf_malloc(to - from + 1);
	unsigned char *der;
	struct tf_certinfo ci;
	size_t n = 0, i;
	int len, pad = 0;
	bool ok = false;

	for (i = from; i < to; i++)
		if (text[i] != '\r' && text[i] != '\n' && text[i] != ' ' && text[i] != '\t')
			b64[n++] = text[i];
	if (n == 0 || n % 4 != 0) {
		free(b64);
		return false;
	}
	der = tf_malloc(n / 4 * 3);
	if ((len = EVP_DecodeBlock(der, (unsigned char *)b64, (int)n)) >= 0) {
		pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
		if (tf_certinfo_parse(&ci, der, (size_t)(len - pad), 0, NULL) == 0) {
			memcpy(b->sha256, ci.sha256, 32);
			b->subject = ci.subject;
			ci.subject = NULL;
			tf_certinfo_clear(&ci);
			ok = true;
		}
	}
	free(der);
	free(b64);
	return ok;
}

/* The certificate blocks of PEM text, with their line-aligned offsets. */
size_t
edit_pem_blocks(const char *text, size_t len, struct block **out)
{
	struct block *v = NULL;
	size_t n = 0, pos = 0, start = 0, body = 0;
	bool in = false;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t eol = nl != NULL ? (size_t)(nl - text) + 1 : len;
		size_t ll = eol - pos - (nl != NULL);

		if (cert_begin(text + pos, ll)) {
			in = true;
			start = pos;
			body = eol;
		} else if (in && line_is(text + pos, ll, "-----END ", "-----")) {
			struct block b = { .start = start, .end = eol };

			if (block_decode(&b, text, body, pos)) {
				v = tf_realloc(v, (n + 1) * sizeof(*v));
				v[n++] = b;
			}
			in = false;
		}
		pos = eol;
	}
	*out = v;
	return n;
}

void
edit_blocks_free(struct block *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].subject);
	free(v);
}

/* PEM text of a DER certificate, with the given line end. */
char *
edit_pem_text(const unsigned char *der, size_t len, bool crlf, size_t *outlen)
{
	const char *eol = crlf ? "\r\n" : "\n";
	size_t cap = (len + 2) / 3 * 4 + (len / 48 + 2) * 2 + 64, n = 0, i;
	char *s = tf_malloc(cap);

	n += (size_t)sprintf(s + n, "-----BEGIN CERTIFICATE-----%s", eol);
	for (i = 0; i < len; i += 48) {
		size_t chunk = len - i < 48 ? len - i : 48;

		n += (size_t)EVP_EncodeBlock((unsigned char *)s + n, der + i, (int)chunk);
		n += (size_t)sprintf(s + n, "%s", eol);
	}
	n += (size_t)sprintf(s + n, "-----END CERTIFICATE-----%s", eol);
	*outlen = n;
	return s;
}

/*
 * The new content of one PEM file: blocks to remove cut out, certificates
 * to add appended. Sets *changed; marks the additions already present.
 */
int
edit_rewrite_pem(struct tf_ctx *ctx, struct ts_plan *p, const char *path, const struct ts_edit *e,
    struct addcert *adds, size_t nadd, bool append, char **out, size_t *outlen, bool *changed,
    size_t *left)
{
	struct block *blocks = NULL;
	struct addcert *a;
	char *text = NULL, *res;
	size_t len, nb, i, n = 0, pos = 0;
	bool crlf;
	int rc;

	*changed = false;
	if ((rc = edit_slurp(ctx, path, &text, &len, NULL)) != 0)
		return rc;
	nb = edit_pem_blocks(text, len, &blocks);
	crlf = memchr(text, '\n', len) != NULL && ((char *)memchr(text, '\n', len)) > text &&
	    ((char *)memchr(text, '\n', len))[-1] == '\r';
	res = tf_malloc(len + 1);
	*left = 0;
	for (i = 0; i < nb; i++) {
		if ((a = edit_find_add(adds, nadd, blocks[i].sha256)) != NULL)
			a->present = true;
		if (!edit_to_remove(e, blocks[i].sha256)) {
			(*left)++;
			continue;
		}
		memcpy(res + n, text + pos, blocks[i].start - pos);
		n += blocks[i].start - pos;
		pos = blocks[i].end;
		edit_add_ref(&p->removed, &p->nremoved, blocks[i].sha256, blocks[i].subject);
		*changed = true;
	}
	memcpy(res + n, text + pos, len - pos);
	n += len - pos;
	for (i = 0; append && i < nadd; i++) {
		char *pem;
		size_t plen;

		if (adds[i].present)
			continue;
		pem = edit_pem_text(adds[i].der, adds[i].info.der_len, crlf, &plen);
		res = tf_realloc(res, n + plen + 3);
		if (n > 0 && res[n - 1] != '\n') {
			if (crlf)
				res[n++] = '\r';
			res[n++] = '\n';
		}
		memcpy(res + n, pem, plen);
		n += plen;
		free(pem);
		adds[i].present = true;
		edit_add_ref(&p->added, &p->nadded, adds[i].info.sha256, adds[i].info.subject);
		(*left)++;
		*changed = true;
	}
	edit_blocks_free(blocks, nb);
	free(text);
	*out = res;
	*outlen = n;
	return 0;
}

static int
plan_pem_bundle(struct ts_plan *p, struct truststore *ts, const struct ts_edit *e,
    struct addcert *adds, size_t nadd)
{
	char *data = NULL;
	size_t len, left;
	bool changed;
	int rc;

	rc = edit_rewrite_pem(ts->ctx, p, ts->path, e, adds, nadd, true, &data, &len, &changed,
	    &left);
	if (rc == 0 && changed)
		edit_add_op(p, TS_OP_WRITE, ts->path, data, len, 0644);
	free(data);
	return rc;
}

void
p12_note_removed(struct ts_plan *p, const unsigned char *sha256, const char *subject)
{
	edit_add_ref(&p->removed, &p->nremoved, sha256, subject);
}

static int
plan_pkcs12(struct ts_plan *p, struct truststore *ts, const struct ts_edit *e, struct addcert *adds,
    size_t nadd)
{
	struct p12_add *pa = tf_calloc(nadd ? nadd : 1, sizeof(*pa));
	unsigned char *data = NULL;
	size_t len = 0, i;
	int rc;

	for (i = 0; i < nadd; i++) {
		pa[i].der = adds[i].der;
		pa[i].len = adds[i].info.der_len;
		memcpy(pa[i].sha256, adds[i].info.sha256, 32);
		pa[i].name = adds[i].info.subject;
		pa[i].present = adds[i].present;
	}
	rc = p12_rewrite(ts, p, e, pa, nadd, &data, &len);
	for (i = 0; rc == 0 && i < nadd; i++)
		if (pa[i].added)
			edit_add_ref(&p->added, &p->nadded, adds[i].info.sha256,
			    adds[i].info.subject);
	if (rc == 0 && data != NULL)
		edit_add_op(p, TS_OP_WRITE, ts->path, data, len, 0600);
	free(data);
	free(pa);
	return rc;
}

int
truststore_plan(struct ts_plan **out, struct truststore *ts, const struct ts_edit *e)
{
	struct ts_plan *p = tf_calloc(1, sizeof(*p));
	struct addcert *adds = tf_calloc(e->nadd ? e->nadd : 1, sizeof(*adds));
	size_t i;
	int rc = 0;

	*out = NULL;
	p->store = tf_strdup(ts->path);
	for (i = 0; i < e->nadd; i++) {
		const char *why = NULL;

		adds[i].der = e->add_der[i];
		adds[i].len = e->add_len[i];
		if (tf_certinfo_parse(&adds[i].info, adds[i].der, adds[i].len, TF_CERTINFO_HASH,
		        &why) != 0) {
			rc = tf_error(ts->ctx, TF_EINVALID,
			    "certificate %zu to add cannot be decoded: %s", i + 1,
			    why != NULL ? why : "not a certificate");
			goto out;
		}
		/* the same certificate twice in the request is added once */
		if (edit_find_add(adds, i, adds[i].info.sha256) != NULL)
			adds[i].present = true;
	}
	switch (ts->format) {
	case TS_PEM_BUNDLE:
		rc = plan_pem_bundle(p, ts, e, adds, e->nadd);
		break;
	case TS_HASHED_DIR:
	case TS_CERT_DIR:
		rc = edit_plan_dir(p, ts, e, adds, e->nadd, ts->format == TS_HASHED_DIR);
		break;
	case TS_PKCS12:
		rc = plan_pkcs12(p, ts, e, adds, e->nadd);
		break;
	default:
		rc = tf_error(ts->ctx, TF_EUSAGE,
		    "store '%s' is a single DER certificate: replace the file instead", ts->host);
		break;
	}
	if (rc == 0) {
		*out = p;
		p = NULL;
	}
out:
	for (i = 0; i < e->nadd; i++)
		tf_certinfo_clear(&adds[i].info);
	free(adds);
	ts_plan_free(p);
	return rc;
}

void
ts_plan_free(struct ts_plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nops; i++) {
		free(p->ops[i].path);
		free(p->ops[i].data);
	}
	for (i = 0; i < p->nadded; i++)
		free(p->added[i].subject);
	for (i = 0; i < p->nremoved; i++)
		free(p->removed[i].subject);
	free(p->ops);
	free(p->added);
	free(p->removed);
	free(p->store);
	free(p);
}
