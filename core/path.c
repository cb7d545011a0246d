/*
 * core/path.c - paths of the managed system under --root. Resolution inside
 * the root is the kernel's (openat2 with RESOLVE_IN_ROOT), so that a link
 * planted in the image cannot point outside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "path.h"

static bool
has_root(const struct tf_ctx *ctx)
{
	return ctx->rootfd != -1 && strcmp(ctx->root, "/") != 0;
}

#define MAX_LINKS 40

/*
 * The same resolution as RESOLVE_IN_ROOT, in user space, for kernels (and
 * tools such as valgrind) without openat2: every component is looked up
 * under the root without following links, a link is replaced by its target
 * (an absolute one restarts at the root), ".." never leaves the root. A
 * link swapped in between the walk and the final open could still be
 * followed; openat2 closes that race where it exists.
 */
int
tf_open_walk(struct tf_ctx *ctx, const char *rel, int flags, mode_t mode)
{
	char *pending = tf_strdup(rel), *resolved = tf_strdup(""), *comp, *rest, *next;
	bool follow_last = !(flags & O_NOFOLLOW);
	int links = 0, fd = -1, saved;
	struct stat st;

	for (;;) {
		rest = pending;
		while (*rest == '/')
			rest++;
		if (*rest == '\0')
			break;
		comp = rest;
		rest = strchr(comp, '/');
		if (rest != NULL)
			*rest++ = '\0';
		else
			rest = comp + strlen(comp);
		if (strcmp(comp, ".") == 0) {
			next = tf_strdup(rest);
		} else if (strcmp(comp, "..") == 0) {
			char *slash = strrchr(resolved, '/');

			if (slash != NULL)
				*slash = '\0';
			else
				resolved[0] = '\0';
			next = tf_strdup(rest);
		} else {
			char *cand =
			    *resolved ? tf_asprintf("%s/%s", resolved, comp) : tf_strdup(comp);
			bool last = *rest == '\0' || strspn(rest, "/") == strlen(rest);

			if (fstatat(ctx->rootfd, cand, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode) && (!last || follow_last)) {
				char target[4096];
				ssize_t n =
				    readlinkat(ctx->rootfd, cand, target, sizeof(target) - 1);

				free(cand);
				if (n < 0 || ++links > MAX_LINKS) {
					errno = n < 0 ? errno : ELOOP;
					goto fail;
				}
				target[n] = '\0';
				if (target[0] == '/')
					resolved[0] = '\0';
				next = tf_asprintf("%s/%s", target, rest);
			} else {
				free(resolved);
				resolved = cand;
				next = tf_strdup(rest);
			}
		}
		free(pending);
		pending = next;
	}
	fd = openat(ctx->rootfd, *resolved ? resolved : ".", flags | O_CLOEXEC, mode);
fail:
	saved = errno;
	free(pending);
	free(resolved);
	errno = saved;
	return fd;
}

int
tf_open(struct tf_ctx *ctx, const char *path, int flags, mode_t mode)
{
	struct open_how how;
	const char *rel = path;
	long fd;

	if (!has_root(ctx))
		return open(path, flags | O_CLOEXEC, mode);
	while (*rel == '/')
		rel++;
	if (*rel == '\0')
		rel = ".";
	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, ctx->rootfd, rel, &how, sizeof(how));
	if (fd == -1 && errno == ENOSYS)
		return tf_open_walk(ctx, rel, flags, mode);
	return (int)fd;
}

int
tf_lstat(struct tf_ctx *ctx, const char *path, struct stat *st)
{
	int fd, rc;

	if (!has_root(ctx))
		return lstat(path, st);
	if ((fd = tf_open(ctx, path, O_PATH | O_NOFOLLOW, 0)) == -1)
		return -1;
	rc = fstat(fd, st);
	close(fd);
	return rc;
}

char *
tf_readlink(struct tf_ctx *ctx, const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd, saved;

	if (!has_root(ctx)) {
		n = readlink(path, buf, sizeof(buf) - 1);
	} else {
		if ((fd = tf_open(ctx, path, O_PATH | O_NOFOLLOW, 0)) == -1)
			return NULL;
		n = readlinkat(fd, "", buf, sizeof(buf) - 1);
		saved = errno;
		close(fd);
		errno = saved;
	}
	if (n < 0)
		return NULL;
	return tf_strndup(buf, (size_t)n);
}

char *
tf_hostpath(const struct tf_ctx *ctx, const char *path)
{
	size_t n;

	if (!has_root(ctx))
		return tf_strdup(path);
	n = strlen(ctx->root);
	while (n > 1 && ctx->root[n - 1] == '/')
		n--;
	while (*path == '/')
		path++;
	return tf_asprintf("%.*s/%s", (int)n, ctx->root, path);
}

char *
tf_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return tf_asprintf("%.*s/%s", (int)n, dir, name);
}

int
tf_read_fd(struct tf_ctx *ctx, int fd, const char *name, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;
	int rc = TF_EIO;

	*out = NULL;
	*len = 0;
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				rc = tf_error(ctx, TF_EINVALID, "'%s' is larger than %zu bytes",
				    name, max);
				goto out;
			}
			cap = cap ? 2 * cap : 4096;
			if (cap > max)
				cap = max;
			buf = tf_realloc(buf, cap + 1);
		}
		if ((r = read(fd, buf + n, cap - n)) < 0) {
			if (errno == EINTR)
				continue;
			rc = tf_error_sys(ctx, TF_EIO, "cannot read '%s'", name);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL)
		OPENSSL_cleanse(buf, cap); /* it may hold a password */
	free(buf);
	return rc;
}

int
tf_read_input(struct tf_ctx *ctx, const char *path, size_t max, char **out, size_t *len)
{
	int fd, rc;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return tf_error_sys(ctx, TF_EIO, "cannot open '%s'", path);
	rc = tf_read_fd(ctx, fd, path, max, out, len);
	close(fd);
	return rc;
}
