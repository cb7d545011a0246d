/*
 * truststore/dir.c - directories of certificates: a plain directory of PEM
 * or DER files, and OpenSSL's hashed directory, where OpenSSL finds a CA
 * only through links named <subject hash>.<n>, tried from .0 upwards until
 * the first missing number.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/path.h"
#include "internal.h"

#define MAX_INDEX 1000000

struct dent {
	char *name;
	unsigned long hash;
	long index;
	bool is_hash;
	bool is_crl;
	bool usable; /* a hash link whose target opens */
	dev_t dev;
	ino_t ino;
};

bool
dir_is_hash_name(const char *name, unsigned long *hash, long *index, bool *crl)
{
	const char *p = name;
	char *end;
	int i;

	for (i = 0; i < 8; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	if (p[8] != '.')
		return false;
	p += 9;
	*crl = *p == 'r';
	if (*crl)
		p++;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	*index = strtol(p, &end, 10);
	if (*end != '\0' || errno != 0 || *index > MAX_INDEX)
		return false;
	*hash = strtoul(name, NULL, 16);
	return true;
}

static int
cmp_dent(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;

	if (x->is_hash && y->is_hash) {
		if (x->hash != y->hash)
			return x->hash < y->hash ? -1 : 1;
		if (x->is_crl != y->is_crl)
			return x->is_crl ? 1 : -1;
		if (x->index != y->index)
			return x->index < y->index ? -1 : 1;
	}
	return strcmp(x->name, y->name);
}

static int
list_dir(struct scan *sc, struct dent **out, size_t *nout)
{
	struct truststore *ts = scan_store(sc);
	struct dent *v = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0;
	DIR *d;
	int fd;

	if ((fd = tf_open(ts->ctx, ts->path, O_RDONLY | O_DIRECTORY, 0)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return tf_error_sys(ts->ctx, TF_EIO, "cannot list store '%s'", ts->host);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
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
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_dent);
	*out = v;
	*nout = n;
	return 0;
}

/* Open a directory entry, following links inside the root; -1 with errno. */
static int
open_entry(struct scan *sc, const char *path, struct stat *st)
{
	struct truststore *ts = scan_store(sc);
	int fd;

	if ((fd = tf_open(ts->ctx, path, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return -1;
	if (fstat(fd, st) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
link_finding(struct scan *sc, const char *path, const char *what, const char *name)
{
	scan_finding(sc, TF_F_HASH_LINK, path, "run 'openssl rehash' on the directory", what, name);
}

/* Read one file of the directory; unreadable is a finding, not an error. */
static int
read_entry(struct scan *sc, int fd, const char *path, const char *link, long long want_hash)
{
	return pem_read_fd(sc, fd, path, link, want_hash);
}

/* Hash links: dangling ones, loops, gaps; queue what they lead to. */
static int
scan_links(struct scan *sc, struct dent *v, size_t n)
{
	struct truststore *ts = scan_store(sc);
	struct stat st, lst;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		struct dent *e = &v[i];
		char *path, *target;
		int fd;

		if (!e->is_hash)
			continue;
		path = tf_path_join(ts->path, e->name);
		/* a gap: OpenSSL stops at the first missing number */
		if (e->index > 0 &&
		    (i == 0 || !v[i - 1].is_hash || v[i - 1].hash != e->hash ||
		        v[i - 1].is_crl != e->is_crl || v[i - 1].index != e->index - 1))
			scan_finding(sc, TF_F_HASH_LINK, path,
			    "run 'openssl rehash' on the directory",
			    "'%s' is hidden from OpenSSL's lookup: '%08lx.%s%ld' is missing",
			    e->name, e->hash, e->is_crl ? "r" : "", e->index - 1);
		if ((fd = open_entry(sc, path, &st)) == -1) {
			int err = errno;

			target = tf_lstat(ts->ctx, path, &lst) == 0 && S_ISLNK(lst.st_mode)
			    ? tf_readlink(ts->ctx, path)
			    : NULL;
			if (err == ELOOP)
				link_finding(sc, path, "link loop at '%s'", e->name);
			else if (err == ENOENT)
				link_finding(sc, path, "dangling link: '%s' does not exist",
				    target != NULL ? target : e->name);
			else
				scan_finding(sc, TF_F_UNPARSABLE, path,
				    "check the file's permissions", "cannot open '%s': %s", e->name,
				    strerror(err));
			free(target);
			free(path);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			link_finding(sc, path, "'%s' does not lead to a regular file", e->name);
		} else {
			e->usable = true;
			e->dev = st.st_dev;
			e->ino = st.st_ino;
			/* CRL links hold CRLs: only their presence matters here */
			if (!e->is_crl)
				rc = read_entry(sc, fd, path, path, (long long)e->hash);
		}
		close(fd);
		free(path);
	}
	return rc;
}

struct fileid {
	dev_t dev;
	ino_t ino;
};

static int
cmp_fileid(const void *a, const void *b)
{
	const struct fileid *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

/* The files that hash links lead to, sorted for lookup. */
static struct fileid *
link_targets(const struct dent *v, size_t n, size_t *nout)
{
	struct fileid *ids = tf_calloc(n, sizeof(*ids));
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (v[i].is_hash && v[i].usable) {
			ids[k].dev = v[i].dev;
			ids[k].ino = v[i].ino;
			k++;
		}
	}
	qsort(ids, k, sizeof(*ids), cmp_fileid);
	*nout = k;
	return ids;
}

/*
 * Count the certificate blocks of a small file, to tell a lone certificate
 * (which a hashed directory must link) from a bundle file kept beside them.
 */
static int
count_certs(int fd)
{
	char buf[8192];
	ssize_t r;
	off_t off = 0;
	int n = 0;
	unsigned char first;

	if (pread(fd, &first, 1, 0) == 1 && first == 0x30)
		return 1;
	while ((r = pread(fd, buf, sizeof(buf) - 1, off)) > 0) {
		char *p = buf;

		buf[r] = '\0';
		while ((p = memmem(p, (size_t)(buf + r - p), "-----BEGIN", 10)) != NULL) {
			if (strncmp(p + 10, " CERTIFICATE-----", 17) == 0 ||
			    strncmp(p + 10, " TRUSTED CERTIFICATE-----", 25) == 0 ||
			    strncmp(p + 10, " X509 CERTIFICATE-----", 22) == 0)
				n++;
			p += 10;
		}
		/* keep a marker that straddles two reads */
		off += r > 64 ? r - 64 : r;
		if (r < (ssize_t)sizeof(buf) - 1)
			break;
	}
	return n;
}

int
dir_scan(struct scan *sc, bool hashed)
{
	struct truststore *ts = scan_store(sc);
	struct dent *v = NULL;
	struct fileid *ids = NULL, key;
	struct stat st;
	size_t n = 0, nids = 0, i;
	int rc;

	if ((rc = list_dir(sc, &v, &n)) != 0)
		return rc;
	if (hashed) {
		rc = scan_links(sc, v, n);
		ids = link_targets(v, n, &nids);
	}
	for (i = 0; i < n && rc == 0; i++) {
		char *path;
		int fd;

		if (v[i].is_hash)
			continue;
		path = tf_path_join(ts->path, v[i].name);
		if ((fd = open_entry(sc, path, &st)) == -1) {
			if (errno == ELOOP || errno == ENOENT)
				scan_finding(sc, TF_F_UNPARSABLE, path, "remove the broken link",
				    "'%s' is a %s", v[i].name,
				    errno == ELOOP ? "link loop" : "dangling link");
			else
				scan_finding(sc, TF_F_UNPARSABLE, path,
				    "check the file's permissions", "cannot open '%s': %s",
				    v[i].name, strerror(errno));
			free(path);
			continue;
		}
		key.dev = st.st_dev;
		key.ino = st.st_ino;
		if (S_ISREG(st.st_mode) &&
		    !(hashed && bsearch(&key, ids, nids, sizeof(key), cmp_fileid) != NULL)) {
			if (!hashed) {
				rc = read_entry(sc, fd, path, NULL, -1);
			} else if (count_certs(fd) == 1) {
				/* a lone certificate no hash link leads to */
				scan_finding(sc, TF_F_HASH_LINK, path,
				    "run 'openssl rehash' on the directory",
				    "'%s' has no hash link: OpenSSL's lookup cannot find it",
				    v[i].name);
				rc = read_entry(sc, fd, path, NULL, -1);
			} else {
				scan_skipped(sc); /* a bundle file or another file kept alongside */
			}
		}
		close(fd);
		free(path);
	}
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	free(ids);
	return rc;
}
