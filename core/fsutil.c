/*
 * core/fsutil.c - write-all, fsync and directories of the managed system
 * under --root: the primitives of "nothing is half-written".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "path.h"

int
tf_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tf_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = pwrite(fd, p, len, off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tf_fsync(int fd)
{
	while (fsync(fd) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int
tf_dir_open(struct tf_ctx *ctx, const char *path)
{
	return tf_open(ctx, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
}

int
tf_path_split(const char *path, char **dir, char **name)
{
	const char *slash, *base;
	size_t n;

	*dir = NULL;
	*name = NULL;
	if (path == NULL || path[0] != '/')
		return -1;
	slash = strrchr(path, '/');
	base = slash + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -1;
	n = (size_t)(slash - path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	*dir = n == 0 ? tf_strdup("/") : tf_strndup(path, n);
	*name = tf_strdup(base);
	return 0;
}

/* Make sure the directory 'prefix' exists, creating it with 'mode'. */
static int
mkdir_one(struct tf_ctx *ctx, const char *prefix, mode_t mode)
{
	char *dir = NULL, *name = NULL, *host = NULL;
	int fd, pfd = -1, rc = TF_EIO;

	if ((fd = tf_dir_open(ctx, prefix)) != -1) {
		close(fd);
		return 0;
	}
	host = tf_hostpath(ctx, prefix);
	if (errno != ENOENT) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot open directory '%s'", host);
		goto out;
	}
	if (tf_path_split(prefix, &dir, &name) == -1) {
		rc = tf_error(ctx, TF_EIO, "cannot create directory '%s'", host);
		goto out;
	}
	if ((pfd = tf_dir_open(ctx, dir)) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot open directory of '%s'", host);
		goto out;
	}
	if (mkdirat(pfd, name, mode) == -1 && errno != EEXIST) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot create directory '%s'", host);
		goto out;
	}
	if (tf_fsync(pfd) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot sync the directory of '%s'", host);
		goto out;
	}
	/* EEXIST may have been a dangling link or a file: check it opens. */
	if ((fd = tf_dir_open(ctx, prefix)) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot open directory '%s'", host);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	if (pfd != -1)
		close(pfd);
	free(dir);
	free(name);
	free(host);
	return rc;
}

int
tf_mkdirs(struct tf_ctx *ctx, const char *path, mode_t mode)
{
	char *copy, *p;
	char saved;
	int rc = 0;

	if (path[0] != '/')
		return tf_error(ctx, TF_EIO, "cannot create directory '%s': not an absolute path",
		    path);
	copy = tf_strdup(path);
	for (p = copy + strlen(copy); p > copy + 1 && p[-1] == '/'; p--)
		p[-1] = '\0'; /* so that 'mode' goes to the last component */
	for (p = copy + 1; rc == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		saved = *p;
		if (p[-1] != '/') {
			*p = '\0';
			rc = mkdir_one(ctx, copy, saved == '\0' ? mode : 0755);
			*p = saved;
		}
		if (saved == '\0')
			break;
	}
	free(copy);
	return rc;
}
