/*
 * cli/statcache.h - what the files of the stores were when last looked at,
 * so that finding drift costs a stat per file, not a read and a hash (like
 * git's index): for each store, its files with the blob ids the audit log
 * records for them and the stat they had when they held that content, and
 * the listing of a directory store with the directory's own stat.
 */
#ifndef TF_STATCACHE_H
#define TF_STATCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../core/tf.h"

struct audit;
struct statcache;

/* Where the cache lives, under --root: beside the journal and the log. */
#define STATCACHE_PATH "/var/lib/trustfix/statcache"

/* One file of a store as it is now (a regular file or a symbolic link). */
struct sc_file {
	char *path;          /* absolute path of the managed system */
	unsigned mode;       /* AUDIT_MODE_* */
	mode_t perm;         /* st_mode & 07777 */
	char id[41];         /* git blob id of its content (or link target) */
	unsigned char *data; /* the content when it had to be read, else NULL */
	size_t len;
};

/* A file of a commit, as statcache_apply() and statcache_record() take it. */
struct sc_change {
	const char *path; /* absolute path of the managed system */
	unsigned mode;    /* AUDIT_MODE_* */
	const char *id;   /* its blob id; NULL when the path was removed */
};

/*
 * Read the cache of the state directory. Never fails: a missing, torn or
 * foreign cache is an empty one, which only makes the next scan read every
 * file. Free with statcache_free().
 */
struct statcache *statcache_load(struct tf_ctx *ctx);

void statcache_free(struct statcache *sc);

/*
 * Whether the cache describes the state recorded by commit 'head' (hex),
 * so that statcache_recorded() may stand for a walk of its tree.
 */
bool statcache_is_at(const struct statcache *sc, const char *head);

/*
 * The files of 'store' as recorded at the commit the cache is at, into
 * *out (sorted by path, no data; free with sc_files_free()). Returns false
 * when the cache does not know the store: walk the recorded tree instead.
 */
bool statcache_recorded(const struct statcache *sc, const char *store, struct sc_file **out,
    size_t *nout);

/*
 * The files of the store at 'store' (a directory: its regular files and
 * links but hidden ones; a file or a link: itself) as they are now, sorted
 * by path, into *out. A file whose stat is the one the cache holds is not
 * read; others are read (data set) and hashed with 'a'. The cache learns
 * what was seen. *is_known tells whether the cache knew the store before.
 * With 'changes_only' and a store the cache knew, *out holds only the files
 * whose mode or content differ from what the cache held, and those gone
 * (mode 0, id ""): the drift, when the cache is at the log's head.
 * Returns 0, or TF_EIO with the message set.
 */
int statcache_scan(struct statcache *sc, struct tf_ctx *ctx, struct audit *a, const char *store,
    bool changes_only, struct sc_file **out, size_t *nout, bool *is_known);

/* The number of files the cache knows in 'store' (0 when it does not know it). */
size_t statcache_count(const struct statcache *sc, const char *store);

/*
 * Forget every store but 'stores': what the cache knows of the others may
 * not match the log's head any more.
 */
void statcache_keep(struct statcache *sc, char *const *stores, size_t n);

/*
 * After a commit of the log: every section of the cache that holds one of
 * 'files' takes its new id (or loses it), the cache moves to 'head'. Used
 * for a commit that recorded files as they were already (drift).
 */
void statcache_apply(struct statcache *sc, const struct sc_change *files, size_t n,
    const char *head);

/*
 * Write the cache (atomically: a temporary file renamed over it), whole or
 * as a delta appended to it; unless 'is_forced', only when its head is not
 * the one of the file (a run with nothing to do writes nothing). Best
 * effort: the cache is only a shortcut, and one that is lost or stale
 * costs a full scan, never a missed change. Call it holding the state lock.
 */
void statcache_save(struct statcache *sc, struct tf_ctx *ctx, bool is_forced);

/*
 * After trustfix itself changed 'files' and recorded them as commit 'head',
 * with the cache of this run's scan in memory: the cache takes the change
 * (the files without a stat: the next scan reads them once), listings that
 * this run checked go on without a new read (see the comment there), and
 * the cache is saved.
 */
void statcache_record(struct statcache *sc, struct tf_ctx *ctx, const struct sc_change *files,
    size_t n, const char *head);

/*
 * The same without the cache in memory (a change completed after a crash,
 * recorded before any scan): the change is appended to the cache file, its
 * directories to be read again. Best effort, as statcache_save().
 */
void statcache_note_commit(struct tf_ctx *ctx, const char *parent, const char *head,
    const struct sc_change *files, size_t n);

void sc_files_free(struct sc_file *v, size_t n);

/*
 * 'path' without repeated or trailing slashes and "." components, as the
 * cache names stores. The caller frees it.
 */
char *sc_path_norm(const char *path);

#endif
