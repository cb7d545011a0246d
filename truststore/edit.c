/*
 * truststore/edit.c - plan the files that change when certificates are
 * added to or removed from a store. PEM files keep every untouched byte;
 * hashed directories end with <hash>.N links numbered from 0 without a gap.
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
#include "edit.h"
#include "internal.h"
#include "p12edit.h"

#define FILE_MAX (256 * 1024 * 1024)
#define GAP_PROBE 4 /* numbers tried past the end of a hash chain */

struct addcert {
	const unsigned char *der;
	size_t len;
	struct tf_certinfo info;
	bool present; /* already in the store */
};

/* One certificate block of a PEM file, as byte offsets of whole lines. */
struct block {
	size_t start, end;
	unsigned char sha256[32];
	char *subject;
};

static void
add_op(struct ts_plan *p, enum ts_op_kind kind, const char *path, const void *data, size_t len,
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

static void
add_ref(struct ts_cert_ref **v, size_t *n, const unsigned char *sha256, const char *subject)
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

static bool
to_remove(const struct ts_edit *e, const unsigned char *sha256)
{
	size_t i;

	for (i = 0; i < e->nremove; i++)
		if (memcmp(e->remove[i], sha256, 32) == 0)
			return true;
	return false;
}

static struct addcert *
find_add(struct addcert *adds, size_t n, const unsigned char *sha256)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(adds[i].info.sha256, sha256, 32) == 0)
			return &adds[i];
	return NULL;
}

/* Read a whole file of the managed system; -1 with errno. */
static int
slurp(struct tf_ctx *ctx, const char *path, char **buf, size_t *len, struct stat *st)
{
	int fd, rc;

	if ((fd = tf_open(ctx, path, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return tf_error_sys(ctx, TF_EIO, "cannot open '%s'", path);
	if (st != NULL && fstat(fd, st) == -1) {
		close(fd);
		return tf_error_sys(ctx, TF_EIO, "cannot stat '%s'", path);
	}
	rc = tf_read_fd(ctx, fd, path, FILE_MAX, buf, len);
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
static size_t
pem_blocks(const char *text, size_t len, struct block **out)
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

static void
blocks_free(struct block *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].subject);
	free(v);
}

/* PEM text of a DER certificate, with the given line end. */
static char *
pem_text(const unsigned char *der, size_t len, bool crlf, size_t *outlen)
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
static int
rewrite_pem(struct tf_ctx *ctx, struct ts_plan *p, const char *path, const struct ts_edit *e,
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
	if ((rc = slurp(ctx, path, &text, &len, NULL)) != 0)
		return rc;
	nb = pem_blocks(text, len, &blocks);
	crlf = memchr(text, '\n', len) != NULL && ((char *)memchr(text, '\n', len)) > text &&
	    ((char *)memchr(text, '\n', len))[-1] == '\r';
	res = tf_malloc(len + 1);
	*left = 0;
	for (i = 0; i < nb; i++) {
		if ((a = find_add(adds, nadd, blocks[i].sha256)) != NULL)
			a->present = true;
		if (!to_remove(e, blocks[i].sha256)) {
			(*left)++;
			continue;
		}
		memcpy(res + n, text + pos, blocks[i].start - pos);
		n += blocks[i].start - pos;
		pos = blocks[i].end;
		add_ref(&p->removed, &p->nremoved, blocks[i].sha256, blocks[i].subject);
		*changed = true;
	}
	memcpy(res + n, text + pos, len - pos);
	n += len - pos;
	for (i = 0; append && i < nadd; i++) {
		char *pem;
		size_t plen;

		if (adds[i].present)
			continue;
		pem = pem_text(adds[i].der, adds[i].info.der_len, crlf, &plen);
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
		add_ref(&p->added, &p->nadded, adds[i].info.sha256, adds[i].info.subject);
		(*left)++;
		*changed = true;
	}
	blocks_free(blocks, nb);
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

	rc = rewrite_pem(ts->ctx, p, ts->path, e, adds, nadd, true, &data, &len, &changed, &left);
	if (rc == 0 && changed)
		add_op(p, TS_OP_WRITE, ts->path, data, len, 0644);
	free(data);
	return rc;
}

/* One entry of a certificate directory. */
struct dentry {
	char *name;
	bool is_hash, is_crl;
	unsigned long hash;
	long index;
	char *target; /* link target, or NULL for a regular file */
	struct block *certs;
	size_t ncerts;
	bool removed;
};

static int
cmp_dentry(const void *a, const void *b)
{
	const struct dentry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* The target of the link 'name' in the directory 'dfd', or NULL. */
static char *
read_link_at(int dfd, const char *name)
{
	char buf[4096];
	ssize_t n = readlinkat(dfd, name, buf, sizeof(buf) - 1);

	return n < 0 ? NULL : tf_strndup(buf, (size_t)n);
}

/* The certificates of one file: PEM blocks, or one DER certificate. */
static void
file_certs(struct tf_ctx *ctx, const char *path, struct dentry *d)
{
	struct tf_certinfo ci;
	char *text = NULL;
	size_t len;

	if (slurp(ctx, path, &text, &len, NULL) != 0) {
		tf_error_clear(ctx); /* unreadable: inspect reports it; no certificate here */
		return;
	}
	if (len > 0 && (unsigned char)text[0] == 0x30) {
		if (tf_certinfo_parse(&ci, (unsigned char *)text, len, 0, NULL) == 0) {
			d->certs = tf_calloc(1, sizeof(*d->certs));
			memcpy(d->certs[0].sha256, ci.sha256, 32);
			d->certs[0].subject = ci.subject;
			ci.subject = NULL;
			d->ncerts = 1;
			tf_certinfo_clear(&ci);
		}
	} else {
		d->ncerts = pem_blocks(text, len, &d->certs);
	}
	free(text);
}

/*
 * Every entry of the directory, sorted by name, with link targets, and the
 * certificates of those that count: in a hashed directory only what a hash
 * link leads to is in the store, so only the hash entries are read.
 */
static int
read_dir(struct truststore *ts, bool hashed, struct dentry **out, size_t *nout)
{
	struct dentry *v = NULL;
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0, i;
	DIR *dir;
	int fd, dfd = -1;

	if ((fd = tf_open(ts->ctx, ts->path, O_RDONLY | O_DIRECTORY, 0)) == -1 ||
	    (dfd = dup(fd)) == -1 || (dir = fdopendir(fd)) == NULL) {
		int saved = errno;

		if (fd != -1)
			close(fd);
		if (dfd != -1)
			close(dfd);
		errno = saved;
		return tf_error_sys(ts->ctx, TF_EIO, "cannot list store '%s'", ts->host);
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = tf_realloc(v, cap * sizeof(*v));
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].name = tf_strdup(de->d_name);
		v[n].is_hash = dir_is_hash_name(de->d_name, &v[n].hash, &v[n].index, &v[n].is_crl);
		n++;
	}
	closedir(dir);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_dentry);
	for (i = 0; i < n; i++) {
		char *path = tf_path_join(ts->path, v[i].name);

		if (fstatat(dfd, v[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			v[i].target = read_link_at(dfd, v[i].name);
		if (!v[i].is_crl && (v[i].is_hash || !hashed))
			file_certs(ts->ctx, path, &v[i]);
		free(path);
	}
	close(dfd);
	*out = v;
	*nout = n;
	return 0;
}

/*
 * The links of the subject hashes of the certificates to add, from .0 up
 * to the first missing number, found by name: what an addition to a hashed
 * directory needs, at a cost that does not grow with the store. A few
 * numbers past the first missing one are tried too: when one exists, the
 * chain has a gap, and *is_whole is set false so that the caller reads the
 * whole directory and renumbers the chain.
 */
static int
read_chains(struct truststore *ts, int dfd, const struct addcert *adds, size_t nadd,
    struct dentry **out, size_t *nout, bool *is_whole)
{
	struct dentry *v = NULL;
	unsigned long *done = NULL;
	struct stat st;
	char name[32];
	size_t n = 0, ndone = 0, i, k;
	long idx;
	int rc = 0;

	*is_whole = true;
	for (i = 0; i < nadd && rc == 0 && *is_whole; i++) {
		unsigned long h = adds[i].info.subject_hash;

		if (adds[i].present)
			continue;
		for (k = 0; k < ndone && done[k] != h; k++)
			;
		if (k < ndone)
			continue;
		done = tf_realloc(done, (ndone + 1) * sizeof(*done));
		done[ndone++] = h;
		for (idx = 0;; idx++) {
			char *path;

			snprintf(name, sizeof(name), "%08lx.%ld", h, idx);
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
				if (errno != ENOENT)
					rc = tf_error_sys(ts->ctx, TF_EIO, "cannot read '%s/%s'",
					    ts->host, name);
				break;
			}
			v = tf_realloc(v, (n + 1) * sizeof(*v));
			memset(&v[n], 0, sizeof(v[n]));
			v[n].name = tf_strdup(name);
			v[n].is_hash = true;
			v[n].hash = h;
			v[n].index = idx;
			if (S_ISLNK(st.st_mode))
				v[n].target = read_link_at(dfd, name);
			path = tf_path_join(ts->path, name);
			file_certs(ts->ctx, path, &v[n]);
			free(path);
			n++;
		}
		for (k = 1; rc == 0 && k <= GAP_PROBE && *is_whole; k++) {
			snprintf(name, sizeof(name), "%08lx.%ld", h, idx + (long)k);
			*is_whole = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1;
		}
	}
	free(done);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_dentry);
	*out = v;
	*nout = n;
	return rc;
}

static void
dentries_free(struct dentry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].target);
		blocks_free(v[i].certs, v[i].ncerts);
	}
	free(v);
}

static struct dentry *
dentry_find(struct dentry *v, size_t n, const char *name)
{
	struct dentry key = { .name = (char *)name };

	if (n == 0)
		return NULL;
	return bsearch(&key, v, n, sizeof(*v), cmp_dentry);
}

/*
 * Whether 'name' is taken: by a file of the plan, or in the directory (the
 * listing 'v', or a look at 'dfd' when the listing is only partial).
 */
static bool
name_taken(struct dentry *v, size_t n, int dfd, char **taken, size_t ntaken, const char *name)
{
	struct stat st;
	size_t i;

	for (i = 0; i < ntaken; i++)
		if (strcmp(taken[i], name) == 0)
			return true;
	if (dfd != -1)
		return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
	return dentry_find(v, n, name) != NULL;
}

/* A file name for a new certificate: its CN (or fingerprint), made safe. */
static char *
new_file_name(struct dentry *v, size_t n, int dfd, const struct addcert *a, char **taken,
    size_t ntaken)
{
	const char *cn = strstr(a->info.subject, "CN=");
	char base[80], hex[65], *name = NULL;
	size_t k = 0;
	int i;

	tf_hex(hex, a->info.sha256, 32);
	if (cn != NULL) {
		for (cn += 3; *cn != '\0' && k < sizeof(base) - 1; cn++) {
			if (*cn == ',' || *cn == '+')
				break;
			base[k++] = (*cn >= 'a' && *cn <= 'z') || (*cn >= 'A' && *cn <= 'Z') ||
			        (*cn >= '0' && *cn <= '9') || *cn == '-' || *cn == '.'
			    ? *cn
			    : '_';
		}
	}
	base[k] = '\0';
	if (k == 0 || base[0] == '.')
		snprintf(base, sizeof(base), "%.16s", hex);
	/* the name, then with more and more of the fingerprint: the first free one */
	for (i = 0; i < 4; i++) {
		free(name);
		name = i == 0 ? tf_asprintf("%s.pem", base)
		    : i < 3   ? tf_asprintf("%s_%.*s.pem", base, 8 << (i - 1), hex)
		              : tf_asprintf("%s.pem", hex);
		if (!name_taken(v, n, dfd, taken, ntaken, name))
			break;
	}
	return name;
}

struct slot {
	unsigned long hash;
	long index;                /* current index, or a large number for new ones */
	char *target;              /* what the link must point to */
	const struct dentry *copy; /* a regular file entry (no link): keep its content */
};

static int
cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Give the links of every touched hash the numbers 0..n-1 in their current
 * order (new ones last), and emit what differs from the directory as it is:
 * a number whose link must change is rewritten, a number past the new end
 * is removed.
 */
static void
renumber(struct ts_plan *p, struct truststore *ts, struct dentry *v, size_t n, struct slot *slots,
    size_t nslots, const unsigned long *hashes, size_t nhashes)
{
	size_t i, j, k;
	long next = 0;
	char name[32];

	if (nslots > 1)
		qsort(slots, nslots, sizeof(*slots), cmp_slot);
	for (i = 0; i < nslots; i++) {
		const struct dentry *cur;
		char *path;

		next = i > 0 && slots[i - 1].hash == slots[i].hash ? next + 1 : 0;
		snprintf(name, sizeof(name), "%08lx.%ld", slots[i].hash, next);
		cur = dentry_find(v, n, name);
		path = tf_path_join(ts->path, name);
		if (slots[i].copy != NULL) {
			if (cur != slots[i].copy) {
				/* a certificate file named by its hash moves to its new number */
				char *src = tf_path_join(ts->path, slots[i].copy->name), *data;
				size_t len;

				if (slurp(ts->ctx, src, &data, &len, NULL) == 0) {
					add_op(p, TS_OP_WRITE, path, data, len, 0644);
					free(data);
				}
				free(src);
			}
		} else if (cur == NULL || cur->removed || cur->target == NULL ||
		    strcmp(cur->target, slots[i].target) != 0) {
			add_op(p, TS_OP_SYMLINK, path, slots[i].target, strlen(slots[i].target),
			    0777);
		}
		free(path);
	}
	for (j = 0; j < n; j++) {
		size_t count = 0;
		bool touched = false;

		if (!v[j].is_hash || v[j].is_crl)
			continue;
		for (k = 0; k < nhashes; k++)
			touched |= hashes[k] == v[j].hash;
		for (k = 0; k < nslots; k++)
			count += slots[k].hash == v[j].hash;
		if (touched && (size_t)v[j].index >= count) {
			char *path = tf_path_join(ts->path, v[j].name);

			add_op(p, TS_OP_REMOVE, path, NULL, 0, 0);
			free(path);
		}
	}
}

static void
add_hash(unsigned long **v, size_t *n, unsigned long h)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*v)[i] == h)
			return;
	*v = tf_realloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = h;
}

static bool
linked_by_other(const struct dentry *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].is_hash && !v[i].removed && v[i].target != NULL &&
		    strcmp(v[i].target, name) == 0)
			return true;
	return false;
}

static int
plan_dir(struct ts_plan *p, struct truststore *ts, const struct ts_edit *e, struct addcert *adds,
    size_t nadd, bool hashed)
{
	struct dentry *v = NULL;
	struct slot *slots = NULL;
	unsigned long *hashes = NULL;
	char **names = NULL;
	size_t n = 0, nslots = 0, nhashes = 0, nnames = 0, i, j;
	bool use_chains = false;
	int rc, dfd = -1;

	if (hashed && e->nremove == 0 && nadd > 0) {
		/* only additions: the chains of their hashes are all that matters */
		if ((dfd = tf_open(ts->ctx, ts->path, O_RDONLY | O_DIRECTORY, 0)) == -1)
			return tf_error_sys(ts->ctx, TF_EIO, "cannot list store '%s'", ts->host);
		if ((rc = read_chains(ts, dfd, adds, nadd, &v, &n, &use_chains)) != 0)
			goto out;
		if (!use_chains) {
			dentries_free(v, n);
			v = NULL;
			n = 0;
			close(dfd);
			dfd = -1;
		}
	}
	if (!use_chains && (rc = read_dir(ts, hashed, &v, &n)) != 0)
		goto out;
	/* what is there already, and what goes */
	for (i = 0; i < n; i++) {
		struct dentry *d = &v[i];
		size_t gone = 0;

		if (hashed && !d->is_hash)
			continue; /* only what a link leads to is in a hashed store */
		for (j = 0; j < d->ncerts; j++) {
			struct addcert *a = find_add(adds, nadd, d->certs[j].sha256);

			if (a != NULL)
				a->present = true;
			if (to_remove(e, d->certs[j].sha256)) {
				add_ref(&p->removed, &p->nremoved, d->certs[j].sha256,
				    d->certs[j].subject);
				gone++;
			}
		}
		if (gone == 0)
			continue;
		if (hashed) {
			d->removed = true;
			add_hash(&hashes, &nhashes, d->hash);
		} else if (gone == d->ncerts) {
			char *path = tf_path_join(ts->path, d->name);

			add_op(p, TS_OP_REMOVE, path, NULL, 0, 0);
			free(path);
		} else {
			char *path = tf_path_join(ts->path, d->name), *data;
			size_t len, left;
			bool changed;

			rc = rewrite_pem(ts->ctx, p, path, e, NULL, 0, false, &data, &len, &changed,
			    &left);
			if (rc == 0 && changed)
				add_op(p, TS_OP_WRITE, path, data, len, 0644);
			if (rc == 0)
				free(data);
			free(path);
			if (rc != 0)
				goto out;
		}
	}
	if (hashed) {
		/* the files the removed links led to, unless another link still does */
		for (i = 0; i < n; i++) {
			struct dentry *f;

			if (!v[i].removed || v[i].target == NULL ||
			    strchr(v[i].target, '/') != NULL)
				continue;
			if ((f = dentry_find(v, n, v[i].target)) == NULL || f->is_hash ||
			    linked_by_other(v, n, f->name)) {
				continue;
			}
			char *path = tf_path_join(ts->path, f->name);

			add_op(p, TS_OP_REMOVE, path, NULL, 0, 0);
			free(path);
		}
	}
	/* new certificate files */
	for (i = 0; i < nadd; i++) {
		struct addcert *a = &adds[i];
		char *name, *path, *pem;
		size_t plen;

		if (a->present)
			continue;
		name = new_file_name(v, n, dfd, a, names, nnames);
		path = tf_path_join(ts->path, name);
		pem = pem_text(a->der, a->info.der_len, false, &plen);
		add_op(p, TS_OP_WRITE, path, pem, plen, 0644);
		add_ref(&p->added, &p->nadded, a->info.sha256, a->info.subject);
		a->present = true;
		free(pem);
		free(path);
		names = tf_realloc(names, (nnames + 1) * sizeof(*names));
		names[nnames++] = name;
		if (hashed) {
			slots = tf_realloc(slots, (nslots + 1) * sizeof(*slots));
			slots[nslots].hash = a->info.subject_hash;
			slots[nslots].index = 2000000000L + (long)i;
			slots[nslots].target = tf_strdup(name);
			slots[nslots].copy = NULL;
			nslots++;
			add_hash(&hashes, &nhashes, a->info.subject_hash);
		}
	}
	if (hashed && nhashes > 0) {
		/* the links that stay, for every hash that changes */
		for (i = 0; i < n; i++) {
			bool touched = false;

			if (!v[i].is_hash || v[i].is_crl || v[i].removed)
				continue;
			for (j = 0; j < nhashes; j++)
				touched |= hashes[j] == v[i].hash;
			if (!touched)
				continue;
			slots = tf_realloc(slots, (nslots + 1) * sizeof(*slots));
			slots[nslots].hash = v[i].hash;
			slots[nslots].index = v[i].index;
			slots[nslots].target = v[i].target != NULL ? tf_strdup(v[i].target) : NULL;
			slots[nslots].copy = v[i].target == NULL ? &v[i] : NULL;
			nslots++;
		}
		renumber(p, ts, v, n, slots, nslots, hashes, nhashes);
	}
out:
	for (i = 0; i < nslots; i++)
		free(slots[i].target);
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(slots);
	free(hashes);
	dentries_free(v, n);
	if (dfd != -1)
		close(dfd);
	return rc;
}

void
p12_note_removed(struct ts_plan *p, const unsigned char *sha256, const char *subject)
{
	add_ref(&p->removed, &p->nremoved, sha256, subject);
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
			add_ref(&p->added, &p->nadded, adds[i].info.sha256, adds[i].info.subject);
	if (rc == 0 && data != NULL)
		add_op(p, TS_OP_WRITE, ts->path, data, len, 0600);
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
		if (find_add(adds, i, adds[i].info.sha256) != NULL)
			adds[i].present = true;
	}
	switch (ts->format) {
	case TS_PEM_BUNDLE:
		rc = plan_pem_bundle(p, ts, e, adds, e->nadd);
		break;
	case TS_HASHED_DIR:
	case TS_CERT_DIR:
		rc = plan_dir(p, ts, e, adds, e->nadd, ts->format == TS_HASHED_DIR);
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
