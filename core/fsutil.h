/*
 * core/fsutil.h - small file-system helpers shared by the modules that write
 * the managed system: write-all, fsync of a directory, directories under root.
 */
#ifndef TF_FSUTIL_H
#define TF_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "tf.h"

/*
 * Write all 'len' bytes of 'buf' to 'fd', continuing after short writes and
 * EINTR. Returns 0, or -1 with errno set (a write of 0 bytes is ENOSPC).
 */
int tf_write_all(int fd, const void *buf, size_t len);

/* The same at offset 'off' with pwrite(2); the file offset is not moved. */
int tf_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/*
 * fsync(2) retried on EINTR. Works on a directory descriptor opened
 * O_RDONLY, which is how a rename or unlink in it is made durable.
 * Returns 0 or -1 with errno set.
 */
int tf_fsync(int fd);

/*
 * Open the directory 'path' of the managed system (O_DIRECTORY, O_RDONLY,
 * close-on-exec) for use with the *at() calls. Symbolic links on the way are
 * resolved inside the root, as a chroot would (an absolute link planted in the
 * image cannot lead out of it); names later used with the returned descriptor
 * are the caller's to open with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW.
 * Returns the descriptor, or -1 with errno set (ENOTDIR when it is not a
 * directory). Sets no message: the caller knows what the directory is for.
 */
int tf_dir_open(struct tf_ctx *ctx, const char *path);

/*
 * Create the directory 'path' of the managed system and its missing parents
 * inside the root, like mkdir -p: the last component gets 'mode', parents
 * 0755 (both before the umask). Each new directory is made durable (its
 * parent is fsynced). An existing directory is left as it is.
 * Returns 0, or TF_EIO with the message set.
 */
int tf_mkdirs(struct tf_ctx *ctx, const char *path, mode_t mode);

/*
 * Split 'path' at its last slash: *dir gets the directory ("/" for "/x"),
 * *name the last component. Refuses (-1) a path that is not absolute, or
 * whose last component is empty, "." or "..". The caller frees both.
 */
int tf_path_split(const char *path, char **dir, char **name);

#endif
