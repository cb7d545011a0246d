/*
 * truststore/edit_dir.c - plan the files of a certificate directory that
 * change when certificates are added or removed: certificate files, and
 * in a hashed directory the <hash>.N links, numbered from 0 without a gap
 * as openssl rehash leaves them.
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

#define GAP_PROBE 4 /* numbers tried past the end of a hash chain */

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

	if (edit_slurp(ctx, path, &text, &len, NULL) != 0) {
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
		d->ncerts = edit_pem_blocks(text, len, &d->certs);
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
		edit_blocks_free(v[i].certs, v[i].ncerts);
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

				if (edit_slurp(ts->ctx, src, &data, &len, NULL) == 0) {
					edit_add_op(p, TS_OP_WRITE, path, data, len, 0644);
					free(data);
				}
				free(src);
			}
		} else if (cur == NULL || cur->removed || cur->target == NULL ||
		    strcmp(cur->target, slots[i].target) != 0) {
			edit_add_op(p, TS_OP_SYMLINK, path, slots[i].target,
			    strlen(slots[i].target), 0777);
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

			edit_add_op(p, TS_OP_REMOVE, path, NULL, 0, 0);
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

int
edit_plan_dir(struct ts_plan *p, struct truststore *ts, const struct ts_edit *e,
    struct addcert *adds, size_t nadd, bool hashed)
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
			struct addcert *a = edit_find_add(adds, nadd, d->certs[j].sha256);

			if (a != NULL)
				a->present = true;
			if (edit_to_remove(e, d->certs[j].sha256)) {
				edit_add_ref(&p->removed, &p->nremoved, d->certs[j].sha256,
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

			edit_add_op(p, TS_OP_REMOVE, path, NULL, 0, 0);
			free(path);
		} else {
			char *path = tf_path_join(ts->path, d->name), *data;
			size_t len, left;
			bool changed;

			rc = edit_rewrite_pem(ts->ctx, p, path, e, NULL, 0, false, &data, &len,
			    &changed, &left);
			if (rc == 0 && changed)
				edit_add_op(p, TS_OP_WRITE, path, data, len, 0644);
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

			edit_add_op(p, TS_OP_REMOVE, path, NULL, 0, 0);
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
		pem = edit_pem_text(a->der, a->info.der_len, false, &plen);
		edit_add_op(p, TS_OP_WRITE, path, pem, plen, 0644);
		edit_add_ref(&p->added, &p->nadded, a->info.sha256, a->info.subject);
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
