/*
 * truststore/dir.c - directories of certificates: a plain directory of PEM
 * or DER files, and OpenSSL's hashed directory, where OpenSSL finds a CA
 * only through links named <subject hash>.<n>, tried from .0 upwards until
 * the first missing number.
 *
 * The reader only lists the directory and tells what each entry leads to
 * (readlinkat() of a link to a file beside it, d_type and d_ino of a regular
 * file, stat() of anything else); the decoding threads open and read the
 * files (dir_read_file()), and what they find is handed out in order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "../core/path.h"
#include "internal.h"

#define MAX_INDEX 1000000
#define OVERLAP 64 /* longer than any BEGIN line counted */

struct dent {
	/*
	 * Kept small, as a store can have 200,000 entries: the names are back
	 * to back in one buffer (an offset into it while it is filled).
	 */
	const char *name;
	uint32_t hash;
	int32_t index;
	bool is_hash;
	bool is_crl;
	bool usable;        /* a hash link whose target opens */
	unsigned char type; /* d_type */
	dev_t dev;
	ino_t ino; /* of its target; the entry's own d_ino until then */
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
list_dir(struct scan *sc, int *dfd, struct dent **out, size_t *nout, char **names)
{
	struct truststore *ts = scan_store(sc);
	struct dent *v = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0, len = 0, room = 0, k, i;
	char *buf = NULL;
	unsigned long hash;
	long index;
	DIR *d;
	int fd;

	if ((fd = tf_open(ts->ctx, ts->path, O_RDONLY | O_DIRECTORY, 0)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return tf_error_sys(ts->ctx, TF_EIO, "cannot list store '%s'", ts->host);
	}
	/* the directory stays open, for the passes; fdopendir() owns fd */
	if ((*dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		closedir(d);
		return tf_error_sys(ts->ctx, TF_EIO, "cannot list store '%s'", ts->host);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = tf_realloc(v, cap * sizeof(*v));
		}
		k = strlen(de->d_name) + 1;
		if (len + k > room) {
			room = room ? 2 * room : 4096;
			while (len + k > room)
				room *= 2;
			buf = tf_realloc(buf, room);
		}
		memcpy(buf + len, de->d_name, k);
		memset(&v[n], 0, sizeof(v[n]));
		v[n].name = (const char *)(uintptr_t)len;
		len += k;
		v[n].type = de->d_type;
		v[n].ino = de->d_ino;
		v[n].is_hash = dir_is_hash_name(de->d_name, &hash, &index, &v[n].is_crl);
		v[n].hash = (uint32_t)hash;  /* 8 hex digits */
		v[n].index = (int32_t)index; /* at most MAX_INDEX */
		n++;
	}
	closedir(d);
	for (i = 0; i < n; i++)
		v[i].name = buf + (uintptr_t)v[i].name;
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_dent);
	*out = v;
	*nout = n;
	*names = buf;
	return 0;
}

/* tf_path_join(), without printf: it is called for every entry. */
static char *
entry_path(const char *dir, const char *name)
{
	size_t n = strlen(dir), k = strlen(name);
	char *p;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	p = tf_malloc(n + k + 2);
	memcpy(p, dir, n);
	p[n] = '/';
	memcpy(p + n + 1, name, k + 1);
	return p;
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

static bool
has_root(const struct tf_ctx *ctx)
{
	return ctx->rootfd != -1 && strcmp(ctx->root, "/") != 0;
}

/*
 * stat() a directory entry, following links inside the root: what it leads
 * to is told without opening it, which the decoding threads do. Returns 0,
 * or -1 with errno.
 */
static int
stat_entry(struct scan *sc, int dfd, const char *name, const char *path, struct stat *st)
{
	struct tf_ctx *ctx = scan_store(sc)->ctx;
	int fd, rc;

	if (!has_root(ctx))
		return fstatat(dfd, name, st, 0);
	if ((fd = tf_open(ctx, path, O_PATH, 0)) == -1)
		return -1;
	rc = fstat(fd, st);
	close(fd);
	return rc;
}

/*
 * Whether a regular file a hash link leads to could be opened under its
 * own name too, as the reader reports one that cannot; -1 with errno if
 * not. Root reads everything; under --root, the file is opened.
 */
static int
check_readable(struct scan *sc, bool as_root, int dfd, const char *name, const char *path)
{
	struct tf_ctx *ctx = scan_store(sc)->ctx;
	struct stat st;
	int fd;

	if (as_root)
		return 0;
	if (!has_root(ctx))
		return faccessat(dfd, name, R_OK, AT_EACCESS);
	if ((fd = open_entry(sc, path, &st)) == -1)
		return -1;
	close(fd);
	return 0;
}

/* What the passes over a directory share. */
struct dirscan {
	int dfd;
	bool rel;     /* files are opened relative to dfd: no root */
	bool dirent;  /* d_type and d_ino tell regular files (dirent_ids) */
	dev_t dev;    /* of the directory */
	bool as_root; /* reads every file */
	/* with 'dirent', the entries other than hash links by name: an
	 * open-addressing table of 1 + their index in v, 0 for none */
	const struct dent *v;
	uint32_t *byname;
	size_t mask;
};

static size_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void
index_names(struct dirscan *ds, const struct dent *v, size_t n)
{
	size_t cap = 16, i, k;

	while (cap < 2 * n)
		cap *= 2;
	ds->v = v;
	ds->byname = tf_calloc(cap, sizeof(*ds->byname));
	ds->mask = cap - 1;
	for (i = 0; i < n; i++) {
		if (v[i].is_hash)
			continue;
		for (k = name_hash(v[i].name) & ds->mask; ds->byname[k] != 0;
		     k = (k + 1) & ds->mask)
			;
		ds->byname[k] = (uint32_t)(i + 1);
	}
}

/*
 * The regular file of the directory that hash link 'e' names as a plain
 * file name, or NULL: most links are, and then neither the link nor its
 * target needs a stat() to be told.
 */
static const struct dent *
link_target(const struct dirscan *ds, const struct dent *e)
{
	char buf[256];
	size_t k;
	ssize_t r;

	if (ds->byname == NULL || e->type != DT_LNK)
		return NULL;
	if ((r = readlinkat(ds->dfd, e->name, buf, sizeof(buf) - 1)) <= 0 ||
	    (size_t)r >= sizeof(buf) - 1)
		return NULL;
	buf[r] = '\0';
	if (memchr(buf, '/', (size_t)r) != NULL)
		return NULL;
	for (k = name_hash(buf) & ds->mask; ds->byname[k] != 0; k = (k + 1) & ds->mask) {
		const struct dent *t = &ds->v[ds->byname[k] - 1];

		if (strcmp(t->name, buf) == 0)
			return t->type == DT_REG ? t : NULL;
	}
	return NULL;
}

/* Hash links: dangling ones, loops, gaps; queue what they lead to. */
static int
scan_links(struct scan *sc, const struct dirscan *ds, struct dent *v, size_t n)
{
	struct truststore *ts = scan_store(sc);
	const struct dent *t;
	const char *rel;
	struct stat st, lst;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		struct dent *e = &v[i];
		char *path, *target;
		int fd;

		if (!e->is_hash)
			continue;
		path = entry_path(ts->path, e->name);
		/* a gap: OpenSSL stops at the first missing number */
		if (e->index > 0 &&
		    (i == 0 || !v[i - 1].is_hash || v[i - 1].hash != e->hash ||
		        v[i - 1].is_crl != e->is_crl || v[i - 1].index != e->index - 1))
			scan_finding(sc, TF_F_HASH_LINK, path,
			    "run 'openssl rehash' on the directory",
			    "'%s' is hidden from OpenSSL's lookup: '%08lx.%s%ld' is missing",
			    e->name, (unsigned long)e->hash, e->is_crl ? "r" : "",
			    (long)e->index - 1);
		if ((t = link_target(ds, e)) != NULL ||
		    (stat_entry(sc, ds->dfd, e->name, path, &st) == 0 && S_ISREG(st.st_mode))) {
			/* the usual case: a decoding thread reads it */
			e->usable = true;
			e->dev = t != NULL ? ds->dev : st.st_dev;
			e->ino = t != NULL ? t->ino : st.st_ino;
			/* CRL links hold CRLs: only their presence matters here */
			if (e->is_crl) {
				free(path);
				continue;
			}
			rel = !ds->rel ? NULL : t != NULL ? t->name : e->name;
			rc =
			    scan_push_file(sc, path, ds->dfd, rel, path, (long long)e->hash, false);
			continue;
		}
		/* anything else as it always was: open it, for the same error */
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
		bool last = r < (ssize_t)sizeof(buf) - 1;
		/*
		 * Reads overlap by OVERLAP bytes, so that a marker cut by one
		 * read is whole in the next; one that starts in the overlap is
		 * left to the next read, or it would be counted twice.
		 */
		char *end = last ? buf + r : buf + r - OVERLAP, *p = buf;

		buf[r] = '\0';
		while (
		    (p = memmem(p, (size_t)(buf + r - p), "-----BEGIN", 10)) != NULL && p < end) {
			if (strncmp(p + 10, " CERTIFICATE-----", 17) == 0 ||
			    strncmp(p + 10, " TRUSTED CERTIFICATE-----", 25) == 0 ||
			    strncmp(p + 10, " X509 CERTIFICATE-----", 22) == 0)
				n++;
			p += 10;
		}
		if (last)
			break;
		off += r - OVERLAP;
	}
	return n;
}

/*
 * Whether readdir()'s d_ino of a regular file is its st_ino and the
 * directory's st_dev its st_dev, so that telling the files a hash link
 * leads to needs no stat() each: true of the file systems trust stores are
 * on, not of overlayfs (whose d_ino may differ) or network ones.
 */
static bool
dirent_ids(int dfd, dev_t *dev)
{
	struct statfs sfs;
	struct stat st;

	if (fstat(dfd, &st) == -1 || fstatfs(dfd, &sfs) == -1)
		return false;
	*dev = st.st_dev;
	switch (sfs.f_type) {
	case TMPFS_MAGIC:
	case EXT4_SUPER_MAGIC: /* and ext2, ext3 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
		return true;
	}
	return false;
}

int
dir_scan(struct scan *sc, bool hashed)
{
	struct truststore *ts = scan_store(sc);
	struct dent *v = NULL;
	struct fileid *ids = NULL, key;
	struct stat st;
	size_t n = 0, nids = 0, i;
	struct dirscan ds;
	char *names = NULL;
	int rc;

	memset(&ds, 0, sizeof(ds));
	if ((rc = list_dir(sc, &ds.dfd, &v, &n, &names)) != 0)
		return rc;
	ds.rel = !has_root(ts->ctx);
	ds.as_root = geteuid() == 0;
	ds.dirent = dirent_ids(ds.dfd, &ds.dev);
	if (hashed && ds.dirent && ds.rel && n < UINT32_MAX)
		index_names(&ds, v, n);
	if (hashed) {
		rc = scan_links(sc, &ds, v, n);
		ids = link_targets(v, n, &nids);
	}
	for (i = 0; i < n && rc == 0; i++) {
		char *path;
		int fd;

		if (v[i].is_hash)
			continue;
		path = entry_path(ts->path, v[i].name);
		if (ds.dirent && v[i].type == DT_REG) {
			/* a regular file: its entry says what it is, no stat() needed */
			st.st_mode = S_IFREG;
			st.st_dev = ds.dev;
			st.st_ino = v[i].ino;
		} else if (stat_entry(sc, ds.dfd, v[i].name, path, &st) == -1) {
			st.st_mode = 0;
		}
		if (S_ISREG(st.st_mode)) {
			key.dev = st.st_dev;
			key.ino = st.st_ino;
			if (!(hashed &&
			        bsearch(&key, ids, nids, sizeof(key), cmp_fileid) != NULL)) {
				/* a decoding thread reads it; unlinked, it is a finding */
				rc = scan_push_file(sc, path, ds.dfd, ds.rel ? v[i].name : NULL,
				    NULL, -1, hashed);
				continue;
			}
			if (check_readable(sc, ds.as_root, ds.dfd, v[i].name, path) == 0) {
				free(path);
				continue;
			}
		}
		/* anything else as it always was: open it, for the same error */
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
	/* the decoding threads open files by the names in v, relative to dfd */
	scan_drain(sc);
	free(names);
	free(v);
	free(ids);
	free(ds.byname);
	close(ds.dfd);
	return rc;
}

void
dir_read_file(struct scan *sc, const char *path, int dfd, const char *rel, const char *link,
    long long want_hash, bool unlinked)
{
	struct truststore *ts = scan_store(sc);
	const char *name = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	struct stat lst;
	char *target;
	int fd, err;

	fd = rel != NULL ? openat(dfd, rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
	                 : tf_open(ts->ctx, path, O_RDONLY | O_NONBLOCK, 0);
	if (fd == -1) {
		/* as scan_links() says it, should the file have gone since */
		err = errno;
		target = link != NULL && (err == ENOENT || err == ELOOP) &&
		        tf_lstat(ts->ctx, path, &lst) == 0 && S_ISLNK(lst.st_mode)
		    ? tf_readlink(ts->ctx, path)
		    : NULL;
		if (link != NULL && err == ELOOP)
			link_finding(sc, path, "link loop at '%s'", name);
		else if (link != NULL && err == ENOENT)
			link_finding(sc, path, "dangling link: '%s' does not exist",
			    target != NULL ? target : name);
		else
			scan_finding(sc, TF_F_UNPARSABLE, path, "check the file's permissions",
			    "cannot open '%s': %s", name, strerror(err));
		free(target);
		return;
	}
	/* the reader saw a regular file (a race is as reading it while written) */
	if (!unlinked) {
		pem_read_regular(sc, fd, path, link, want_hash);
	} else if (count_certs(fd) == 1) {
		/* a lone certificate no hash link leads to */
		scan_finding(sc, TF_F_HASH_LINK, path, "run 'openssl rehash' on the directory",
		    "'%s' has no hash link: OpenSSL's lookup cannot find it", name);
		pem_read_regular(sc, fd, path, NULL, -1);
	} else {
		scan_skipped(sc); /* a bundle file or another file kept alongside */
	}
	close(fd);
}
