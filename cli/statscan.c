/*
 * cli/statscan.c - look at the files of a store through the stat cache:
 * a directory is read again only when its own stat changed, a file only
 * when its stat changed, and a link (which cannot change in place) only
 * when its directory did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../audit/audit.h"
#include "../audit/vault.h"
#include "../core/path.h"
#include "statcache_int.h"

#define FILE_MAX (256 * 1024 * 1024)
#define LINK_MAX 4096
#define RELIST_SECONDS 600 /* see statcache_note_commit() */
#define NS 1000000000LL

int64_t
sc_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NS + ts->tv_nsec;
}

int64_t
sc_coarse_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return sc_ts_ns(&ts);
}

/*
 * The kernel stamps a change with the coarse clock (or a finer one, never
 * earlier): a change made after 'clock' was read gets stamps no older than
 * it. So stamps older than 'clock' cannot be shared by a later change, and
 * a later change shows as a new ctime (which nobody can set at will). This
 * is git's "racy clean" rule, taken from the clock rather than from the
 * index file's time; like git it trusts that the file system's clock is
 * this host's (a network file system whose server lags could defeat it).
 */
bool
sc_is_settled(const struct stat *st, int64_t clock)
{
	int64_t c = sc_ts_ns(&st->st_ctim), m = sc_ts_ns(&st->st_mtim);
	int64_t latest = c > m ? c : m;

	if (st->st_ctim.tv_nsec == 0 && st->st_mtim.tv_nsec == 0)
		return latest + 2 * NS <= clock; /* whole (or even) seconds */
	return latest < clock;
}

unsigned
sc_audit_mode(uint32_t st_mode)
{
	if (S_ISLNK(st_mode))
		return AUDIT_MODE_LINK;
	return (st_mode & 0111) ? AUDIT_MODE_EXEC : AUDIT_MODE_FILE;
}

static bool
same_stat(const struct sc_entry *e, const struct stat *st)
{
	return e->has_stat && e->st_mode == st->st_mode && e->ino == (uint64_t)st->st_ino &&
	    e->size == (uint64_t)st->st_size && e->mtime_ns == sc_ts_ns(&st->st_mtim) &&
	    e->ctime_ns == sc_ts_ns(&st->st_ctim);
}

/* What one scan produces, and what it needs to hand on. */
struct scan {
	struct tf_ctx *ctx;
	struct audit *a;
	struct statcache *sc;
	struct sc_section *s;
	const char *path; /* the store, normalised */
	int dfd;          /* the directory, or -1 for a file store */
	int64_t clock;
	bool changes_only;
	bool has_keys; /* a key file is the store or in it: see audit/vault.h */
	struct sc_file *v;
	size_t n;
};

/* Whether a key file of ctx is 'store' (normalised) or a file directly in it. */
static bool
holds_key_path(const struct tf_ctx *ctx, const char *store)
{
	size_t i, n = strlen(store);

	for (i = 0; i < ctx->nkey_paths; i++) {
		const char *k = ctx->key_paths[i];

		if (strcmp(k, store) == 0 ||
		    (strncmp(k, store, n) == 0 && (n == 1 || k[n] == '/') &&
		        strchr(k + n + (n > 1), '/') == NULL))
			return true;
	}
	return false;
}

static void
emit(struct scan *sc, const char *name, uint32_t st_mode, const unsigned char id[20],
    unsigned char *data, size_t len)
{
	struct sc_file *f;

	sc->v = tf_realloc(sc->v, (sc->n + 1) * sizeof(*sc->v));
	f = &sc->v[sc->n++];
	f->path = sc->s->is_dir ? tf_path_join(sc->path, name) : tf_strdup(sc->path);
	f->mode = st_mode != 0 ? sc_audit_mode(st_mode) : 0;
	f->perm = st_mode & 07777;
	if (id != NULL)
		tf_hex(f->id, id, 20);
	else
		f->id[0] = '\0';
	f->data = data;
	f->len = len;
}

/*
 * Read a file or link found with stat 'st'; 'st' becomes the stat of what
 * was read. Returns 0, 1 when it went away meanwhile, or TF_EIO.
 */
static int
read_one(struct scan *sc, const char *name, struct stat *st, unsigned char **data, size_t *len)
{
	char *rel = sc->s->is_dir ? tf_path_join(sc->path, name) : tf_strdup(sc->path), *buf;
	char *host = tf_hostpath(sc->ctx, rel);
	ssize_t n;
	int fd = -1, rc = 1;

	*data = NULL;
	*len = 0;
	if (S_ISLNK(st->st_mode)) {
		if (sc->s->is_dir) {
			buf = tf_malloc(LINK_MAX + 1);
			if ((n = readlinkat(sc->dfd, name, buf, LINK_MAX)) >= 0)
				buf[n] = '\0';
		} else {
			buf = tf_readlink(sc->ctx, sc->path);
			n = buf != NULL ? (ssize_t)strlen(buf) : -1;
		}
		if (n < 0) {
			free(buf);
			/* gone, or no longer a link, since the stat */
			if (errno != ENOENT && errno != EINVAL)
				rc = tf_error_sys(sc->ctx, TF_EIO, "cannot read link '%s'", host);
			goto out;
		}
		*data = (unsigned char *)buf;
		*len = (size_t)n;
		rc = 0;
		goto out;
	}
	fd = sc->s->is_dir ? openat(sc->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
	                   : tf_open(sc->ctx, sc->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd == -1) {
		/* gone, or replaced by a link, since the stat: the next scan sees it */
		if (errno != ENOENT && errno != ELOOP)
			rc = tf_error_sys(sc->ctx, TF_EIO, "cannot open '%s'", host);
		goto out;
	}
	if (fstat(fd, st) == -1) {
		rc = tf_error_sys(sc->ctx, TF_EIO, "cannot stat '%s'", host);
		goto out;
	}
	if (!S_ISREG(st->st_mode))
		goto out;
	if ((rc = tf_read_fd(sc->ctx, fd, host, FILE_MAX, &buf, len)) == 0)
		*data = (unsigned char *)buf;
out:
	if (fd != -1)
		close(fd);
	free(host);
	free(rel);
	return rc;
}

/*
 * One name of the store: keep what the cache knows when the stat says so,
 * read and hash it otherwise. 'old' is the cache's entry or NULL; 'st' the
 * stat when the caller has it (NULL: take it here).
 */
static int
scan_one(struct scan *sc, const char *name, const struct sc_entry *old, const struct stat *given)
{
	unsigned char *data = NULL, id[20];
	char hex[41];
	struct sc_entry *e;
	struct stat st;
	size_t len;
	int rc;

	if (given != NULL) {
		st = *given;
	} else if (fstatat(sc->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT) {
			char *rel = tf_path_join(sc->path, name), *host = tf_hostpath(sc->ctx, rel);

			rc = tf_error_sys(sc->ctx, TF_EIO, "cannot stat '%s'", host);
			free(host);
			free(rel);
			return rc;
		}
		st.st_mode = 0;
	}
	if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		goto gone; /* folders and others are not recorded */
	if (old != NULL && same_stat(old, &st)) {
		if (!sc->changes_only)
			emit(sc, name, old->st_mode, old->id, NULL, 0);
		return 0;
	}
	if ((rc = read_one(sc, name, &st, &data, &len)) == 1)
		goto gone;
	if (rc == 0 && sc->has_keys) {
		char *path = sc->s->is_dir ? tf_path_join(sc->path, name) : tf_strdup(sc->path);

		rc = vault_blob_id(hex, sc->a, sc->ctx, path, data, len);
		free(path);
	} else if (rc == 0) {
		rc = audit_blob_id(hex, sc->a, data, len);
	}
	if (rc != 0) {
		free(data);
		return rc;
	}
	tf_unhex(id, 20, hex);
	e = sc_entry_new(name);
	memcpy(e->id, id, 20);
	e->has_stat = sc_is_settled(&st, sc->clock);
	e->st_mode = st.st_mode;
	e->ino = st.st_ino;
	e->size = (uint64_t)st.st_size;
	e->mtime_ns = sc_ts_ns(&st.st_mtim);
	e->ctime_ns = sc_ts_ns(&st.st_ctim);
	if (!sc->changes_only || old == NULL || memcmp(old->id, id, 20) != 0 ||
	    sc_audit_mode(old->st_mode) != sc_audit_mode(st.st_mode))
		emit(sc, name, st.st_mode, id, data, len);
	else
		free(data);
	sc_entry_put(sc->sc, sc->s, e); /* frees 'old' when it replaces it */
	return 0;
gone:
	if (old != NULL) {
		if (sc->changes_only)
			emit(sc, name, 0, NULL, NULL, 0);
		sc_entry_remove(sc->sc, sc->s, name);
	}
	return 0;
}

static int
cmp_name(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The names of the directory but hidden ones, sorted. */
static int
list_dir(struct scan *sc, char ***out, size_t *nout)
{
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	int fd;

	*out = NULL;
	*nout = 0;
	if ((fd = dup(sc->dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		char *host = tf_hostpath(sc->ctx, sc->path);
		int rc = tf_error_sys(sc->ctx, TF_EIO, "cannot list '%s'", host);

		if (fd != -1)
			close(fd);
		free(host);
		return rc;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			v = tf_realloc(v, cap * sizeof(*v));
		}
		v[n++] = tf_strdup(de->d_name);
	}
	if (errno != 0) {
		char *host = tf_hostpath(sc->ctx, sc->path);
		int rc = tf_error_sys(sc->ctx, TF_EIO, "cannot list '%s'", host);

		free(host);
		closedir(d);
		while (n > 0)
			free(v[--n]);
		free(v);
		return rc;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_name);
	*out = v;
	*nout = n;
	return 0;
}

static int
scan_dir(struct scan *sc, struct sc_section *old)
{
	struct timespec now;
	struct stat st;
	char **names = NULL;
	size_t nnames = 0, i, k;
	bool is_listed;
	int rc = 0;

	if ((sc->dfd = tf_open(sc->ctx, sc->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0)) == -1 ||
	    fstat(sc->dfd, &st) == -1) {
		char *host = tf_hostpath(sc->ctx, sc->path);

		rc = tf_error_sys(sc->ctx, TF_EIO, "cannot open '%s'", host);
		free(host);
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	sc->s = old != NULL && old->is_dir ? old : sc_section_new(sc->sc, sc->path, true);
	/*
	 * Every change of a name in a directory (create, remove, rename, link)
	 * gives the directory new time stamps; a file written in place keeps
	 * them, which is why every file is still looked at. Listings follow our
	 * own changes without a read: see statcache_record().
	 */
	is_listed = sc->s == old && old->has_listing && old->dev == (uint64_t)st.st_dev &&
	    old->ino == (uint64_t)st.st_ino && old->mtime_ns == sc_ts_ns(&st.st_mtim) &&
	    old->ctime_ns == sc_ts_ns(&st.st_ctim) && now.tv_sec >= old->listed_at &&
	    now.tv_sec - old->listed_at < RELIST_SECONDS;
	if (is_listed) {
		/* a link cannot change in place: the listing vouches for it */
		for (i = 0; i < sc->s->n && rc == 0; i++) {
			const struct sc_entry *e = sc->s->v[i];
			size_t before = sc->s->n;

			if (S_ISLNK(e->st_mode)) {
				if (!sc->changes_only)
					emit(sc, e->name, e->st_mode, e->id, NULL, 0);
				continue;
			}
			rc = scan_one(sc, e->name, e, NULL);
			if (sc->s->n < before) {
				/* gone although the listing said not: read it next time */
				sc->s->has_listing = false;
				sc->s->is_dirty = true;
				i--;
			}
		}
	} else {
		if ((rc = list_dir(sc, &names, &nnames)) != 0)
			goto out;
		/* names the cache has but the directory does not: gone */
		for (i = 0, k = 0; i < sc->s->n;) {
			while (k < nnames && strcmp(names[k], sc->s->v[i]->name) < 0)
				k++;
			if (k < nnames && strcmp(names[k], sc->s->v[i]->name) == 0) {
				i++;
				continue;
			}
			if (sc->changes_only && sc->s == old)
				emit(sc, sc->s->v[i]->name, 0, NULL, NULL, 0);
			sc_entry_remove(sc->sc, sc->s, sc->s->v[i]->name);
		}
		for (i = 0; i < nnames && rc == 0; i++)
			rc = scan_one(sc, names[i], sc_entry_find(sc->s, names[i], NULL), NULL);
		sc->s->listed_at = now.tv_sec;
		sc->s->has_listing = sc_is_settled(&st, sc->clock);
		sc->s->dev = st.st_dev;
		sc->s->ino = st.st_ino;
		sc->s->mtime_ns = sc_ts_ns(&st.st_mtim);
		sc->s->ctime_ns = sc_ts_ns(&st.st_ctim);
		sc->s->is_dirty = true;
	}
	/* this run checked the listing: its own change may carry it on */
	sc->s->is_checked = rc == 0;
out:
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int
cmp_file(const void *x, const void *y)
{
	return strcmp(((const struct sc_file *)x)->path, ((const struct sc_file *)y)->path);
}

int
statcache_scan(struct statcache *cache, struct tf_ctx *ctx, struct audit *a, const char *store,
    bool changes_only, struct sc_file **out, size_t *nout, bool *is_known)
{
	struct scan sc = { .ctx = ctx, .a = a, .sc = cache, .dfd = -1 };
	char *path = sc_path_norm(store);
	struct sc_section *old = sc_section_find(cache, path);
	struct stat st;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	sc.path = path;
	sc.has_keys = holds_key_path(ctx, path);
	sc.clock = sc_coarse_now_ns();
	sc.changes_only = changes_only && old != NULL;
	if (tf_lstat(ctx, path, &st) == -1) {
		if (errno != ENOENT && errno != ENOTDIR) {
			char *host = tf_hostpath(ctx, path);

			rc = tf_error_sys(ctx, TF_EIO, "cannot stat '%s'", host);
			free(host);
			goto out;
		}
		st.st_mode = 0;
	}
	if (S_ISDIR(st.st_mode)) {
		*is_known = old != NULL && old->is_dir;
		sc.changes_only = sc.changes_only && *is_known;
		rc = scan_dir(&sc, *is_known ? old : NULL);
	} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		*is_known = old != NULL && !old->is_dir;
		sc.changes_only = sc.changes_only && *is_known;
		sc.s = *is_known ? old : sc_section_new(cache, path, false);
		rc = scan_one(&sc, "", sc_entry_find(sc.s, "", NULL), &st);
	} else if ((*is_known = old != NULL)) {
		/* gone, or neither a file nor a folder: nothing of it is recorded */
		sc.s = old;
		for (size_t i = 0; sc.changes_only && i < old->n; i++)
			emit(&sc, old->v[i]->name, 0, NULL, NULL, 0);
		sc_section_drop(cache, path);
	}
	if (rc == 0 && sc.n > 1)
		qsort(sc.v, sc.n, sizeof(*sc.v), cmp_file);
out:
	if (sc.dfd != -1)
		close(sc.dfd);
	if (rc != 0) {
		sc_files_free(sc.v, sc.n);
		sc_section_drop(cache, path); /* half seen: start afresh next time */
		free(path);
		return rc;
	}
	*out = sc.v;
	*nout = sc.n;
	free(path);
	return 0;
}
