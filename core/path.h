/*
 * core/path.h - open the files of the managed system under --root, resolving
 * every symbolic link inside the root as a chroot would.
 */
#ifndef TF_PATH_H
#define TF_PATH_H

#include <sys/stat.h>
#include <sys/types.h>

#include "tf.h"

/*
 * Open 'path', a path of the managed system, with open(2) 'flags'. With a
 * root other than "/", absolute and relative paths alike are taken inside
 * the root and symbolic links cannot lead out of it. Returns the descriptor,
 * or -1 with errno set (ELOOP for a link loop, ENOENT for a dangling link).
 */
int tf_open(struct tf_ctx *ctx, const char *path, int flags, mode_t mode);

/*
 * What tf_open() falls back to where openat2 does not exist (old kernels,
 * valgrind): the same resolution inside the root, walked in user space.
 * 'rel' is relative to the root. Exposed for its tests.
 */
int tf_open_walk(struct tf_ctx *ctx, const char *rel, int flags, mode_t mode);

/* lstat(2) of 'path' under the root. Returns 0 or -1 with errno set. */
int tf_lstat(struct tf_ctx *ctx, const char *path, struct stat *st);

/* readlink(2) of 'path' under the root into a new string, or NULL with errno. */
char *tf_readlink(struct tf_ctx *ctx, const char *path);

/*
 * The path as it is on this host, for messages: "root/path", or 'path'
 * itself without a root. The caller frees it.
 */
char *tf_hostpath(const struct tf_ctx *ctx, const char *path);

/* Join a directory and a name with one slash. The caller frees it. */
char *tf_path_join(const char *dir, const char *name);

/*
 * Read all of 'fd' (at most 'max' bytes; 'name' for messages) into a new
 * NUL-terminated buffer. Returns 0 or TF_EIO/TF_EINVALID with the message set.
 */
int tf_read_fd(struct tf_ctx *ctx, int fd, const char *name, size_t max, char **out, size_t *len);

/*
 * Read a whole file (at most 'max' bytes) named as given, not under the
 * root: input files such as a password file. Returns 0 or TF_EIO/TF_EINVALID
 * with the message set. The caller frees *out.
 */
int tf_read_input(struct tf_ctx *ctx, const char *path, size_t max, char **out, size_t *len);

#endif
