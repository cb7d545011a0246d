/*
 * bundles/stage.c - the staging area, BUNDLE_STAGING_DIR/NAME/: verified
 * files written by us (never extracted by an archive library), exchanged
 * atomically with the bundle staged before; and read back under the same
 * rules as an archive.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

/* Remove the folder 'name' in 'dfd' and what it holds (two levels at most). */
static int
remove_tree(int dfd, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : unlinkat(dfd, name, 0);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if ((errno != EISDIR && errno != EPERM) || depth <= 0 ||
		    remove_tree(dirfd(d), de->d_name, depth - 1) == -1)
			rc = -1;
	}
	closedir(d);
	if (rc == 0)
		rc = unlinkat(dfd, name, AT_REMOVEDIR);
	return rc;
}

static int
write_file(int dfd, const char *name, const unsigned char *data, size_t len)
{
	int fd, rc = -1;

	if ((fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) ==
	    -1)
		return -1;
	if (tf_write_all(fd, data, len) == 0 && tf_fsync(fd) == 0)
		rc = 0;
	close(fd);
	return rc;
}

/* The verified entries into the new folder 'tmp' of 'dfd'. */
static int
write_entries(const struct bundle *b, int dfd, const char *tmp)
{
	int fd = -1, cfd = -1, rc = -1;
	size_t i;

	if (mkdirat(dfd, tmp, 0755) == -1 ||
	    (fd = openat(dfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    mkdirat(fd, CERTS_DIR, 0755) == -1 ||
	    (cfd = openat(fd, CERTS_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto out;
	for (i = 0; i < b->e.n; i++) {
		const struct bundle_entry *e = &b->e.v[i];
		bool in_certs = strncmp(e->name, CERTS_DIR "/", sizeof(CERTS_DIR)) == 0;

		if (e->is_dir)
			continue; /* certs/, made above */
		if (write_file(in_certs ? cfd : fd,
		        in_certs ? e->name + sizeof(CERTS_DIR) : e->name, e->data, e->len) == -1)
			goto out;
	}
	if (tf_fsync(cfd) == -1 || tf_fsync(fd) == -1)
		goto out;
	rc = 0;
out:
	if (cfd != -1)
		close(cfd);
	if (fd != -1)
		close(fd);
	return rc;
}

/* Is the bundle staged under 'name' this very one (same manifest and signature)? */
static bool
staged_same(const struct bundle *b, struct tf_ctx *ctx, const char *name)
{
	struct bundle *old = NULL;
	const struct bundle_entry *a, *o;
	bool same = false;
	size_t i;

	if (bundle_open_staged(&old, ctx, name) != 0) {
		tf_error_clear(ctx);
		return false;
	}
	if (old->e.n == b->e.n) {
		same = true;
		for (i = 0; i < b->e.n && same; i++) {
			a = &b->e.v[i];
			o = entries_find(&old->e, a->name);
			same = o != NULL && o->is_dir == a->is_dir && o->len == a->len &&
			    memcmp(o->data, a->data, a->len) == 0;
		}
	}
	bundle_free(old);
	return same;
}

int
bundle_stage(struct bundle *b, struct tf_ctx *ctx, bool *same)
{
	const char *name = b->m->name;
	char *tmp = NULL, *host = NULL;
	int dfd = -1, rc;

	*same = false;
	if (!b->verified)
		return tf_error(ctx, TF_ERROR, "internal error: staging a bundle not verified");
	if (staged_same(b, ctx, name)) {
		*same = true;
		return 0;
	}
	if ((rc = tf_mkdirs(ctx, STATE_DIR, 0700)) != 0 ||
	    (rc = tf_mkdirs(ctx, BUNDLE_STAGING_DIR, 0700)) != 0)
		return rc;
	rc = TF_EIO;
	host = tf_hostpath(ctx, BUNDLE_STAGING_DIR);
	tmp = tf_asprintf(".new-%s-%ld", name, (long)getpid());
	if ((dfd = tf_dir_open(ctx, BUNDLE_STAGING_DIR)) == -1 || remove_tree(dfd, tmp, 1) == -1 ||
	    write_entries(b, dfd, tmp) == -1)
		goto fail;
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == -1) {
		/* a bundle of that name is staged: exchange, then remove the old one */
		if (errno != EEXIST || renameat2(dfd, tmp, dfd, name, RENAME_EXCHANGE) == -1)
			goto fail;
		if (tf_fsync(dfd) == -1 || remove_tree(dfd, tmp, 1) == -1)
			goto fail;
	}
	if (tf_fsync(dfd) == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	rc = tf_error_sys(ctx, TF_EIO, "cannot stage bundle %s in '%s'", name, host);
	if (dfd != -1)
		remove_tree(dfd, tmp, 1);
out:
	if (dfd != -1)
		close(dfd);
	free(tmp);
	free(host);
	return rc;
}

/* Read one entry of a staged folder, as entries_add() judges an archive's. */
static int
read_staged_entry(struct bundle *b, struct tf_ctx *ctx, int dfd, const char *name, const char *raw)
{
	struct stat st;
	char *buf = NULL, *where;
	const char *what = "of an unknown type";
	size_t len = 0;
	int fd, rc;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		where = tf_asprintf("%s/%s", b->origin, raw);
		rc = tf_error_sys(ctx, TF_EIO, "cannot stat '%s'", where);
		free(where);
		return rc;
	}
	if (S_ISLNK(st.st_mode))
		what = "a symbolic link";
	else if (S_ISFIFO(st.st_mode))
		what = "a FIFO";
	else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
		what = "a device";
	if (!S_ISREG(st.st_mode))
		return entries_add(&b->e, ctx, b->origin, raw, S_ISDIR(st.st_mode) ? 'd' : '?',
		    what, (unsigned)st.st_mode & 07777, NULL, 0);
	where = tf_asprintf("%s/%s", b->origin, raw);
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot open '%s'", where);
		goto out;
	}
	rc = tf_read_fd(ctx, fd, where, BUNDLE_ENTRY_MAX, &buf, &len);
	close(fd);
	if (rc == 0)
		rc = entries_add(&b->e, ctx, b->origin, raw, 'f', "", (unsigned)st.st_mode & 07777,
		    buf, len);
out:
	free(buf);
	free(where);
	return rc;
}

/* Every entry of the folder 'dfd' ('prefix' "" or "certs/"), one level below at most. */
static int
read_staged_dir(struct bundle *b, struct tf_ctx *ctx, int dfd, const char *prefix)
{
	struct dirent *de;
	char *raw;
	DIR *d;
	int fd, sub, rc = 0;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return tf_error_sys(ctx, TF_EIO, "cannot list '%s'", b->origin);
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		raw = tf_asprintf("%s%s", prefix, de->d_name);
		rc = read_staged_entry(b, ctx, dfd, de->d_name, raw);
		if (rc == 0 && *prefix == '\0' && strcmp(de->d_name, CERTS_DIR) == 0) {
			if ((sub = openat(dfd, CERTS_DIR,
			         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
				rc = tf_error_sys(ctx, TF_EIO, "cannot open '%s/%s'", b->origin,
				    raw);
			} else {
				rc = read_staged_dir(b, ctx, sub, CERTS_DIR "/");
				close(sub);
			}
		}
		free(raw);
	}
	closedir(d);
	return rc;
}

int
bundle_open_staged(struct bundle **out, struct tf_ctx *ctx, const char *name)
{
	struct bundle *b = NULL;
	char *path = NULL;
	int dfd = -1, rc;

	*out = NULL;
	if (!bundle_name_is_valid(name))
		return tf_error(ctx, TF_EUSAGE, "'%s' is neither a file nor a bundle name", name);
	path = tf_asprintf("%s/%s", BUNDLE_STAGING_DIR, name);
	b = tf_calloc(1, sizeof(*b));
	b->origin = tf_hostpath(ctx, path);
	if ((dfd = tf_dir_open(ctx, path)) == -1) {
		if (errno == ENOENT)
			rc = tf_error(ctx, TF_EUSAGE,
			    "no file '%s', and no bundle of that name is staged (see 'trustfix "
			    "bundle list')",
			    name);
		else
			rc = tf_error_sys(ctx, TF_EIO, "cannot open '%s'", b->origin);
		goto out;
	}
	if ((rc = read_staged_dir(b, ctx, dfd, "")) != 0)
		goto out;
	*out = b;
	b = NULL;
out:
	if (dfd != -1)
		close(dfd);
	bundle_free(b);
	free(path);
	return rc;
}
