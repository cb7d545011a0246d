/*
 * txn/txn.h - the all-or-nothing change of a set of files of the managed
 * system: lock, journal, atomic apply, and recovery after a crash.
 *
 * A change is staged first (new contents written and fsynced to temporary
 * files beside their targets, nothing visible yet), then committed: the
 * journal records the whole change, the temporary files are renamed over the
 * targets, the directories are fsynced and the journal is marked applied. A
 * failure during commit undoes what was done; a crash at any instant leaves a
 * journal that the next txn_begin() finishes (when the change was completely
 * journaled) or undoes (when it was not). Every managed file is then either
 * all old or all new.
 *
 *	struct txn *t = NULL;
 *	if ((rc = txn_begin(&t, ctx, wait)) != 0)
 *		goto out;
 *	if (txn_recovered_count(t) > 0) {
 *		... record the recovered change (txn_recovered_path/payload) ...
 *		txn_recovery_done(t);
 *	}
 *	txn_write(t, "/etc/ssl/certs/ca-certificates.crt", pem, len, 0644);
 *	txn_remove(t, "/etc/ssl/certs/85a0dd.0");
 *	txn_set_payload(t, json, jsonlen);
 *	if ((rc = txn_commit(t)) != 0)
 *		goto out;
 *	... record the audit commit ...
 *	rc = txn_end(t);
 * out:
 *	txn_free(t);
 *
 * Paths are paths of the managed system: absolute, taken inside ctx->root.
 * Symbolic links in the directories leading to a target are resolved inside
 * the root; a symbolic link at a target or temporary path is never followed
 * (it is replaced or removed itself).
 */
#ifndef TF_TXN_H
#define TF_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../core/tf.h"

/* The state directory, a path of the managed system; created 0700. */
#define TXN_STATE_DIR "/var/lib/trustfix"

struct txn;

enum txn_kind {
	TXN_WRITE,   /* a regular file gets new content */
	TXN_SYMLINK, /* a symbolic link is created or replaced */
	TXN_REMOVE,  /* a file or link is removed */
};

/*
 * Take the lock of the state directory (created if needed), waiting up to
 * 'wait_seconds' for another run to release it, then recover the change a
 * crashed run left in the journal, if any (see txn_recovered()).
 * Returns 0 with *out set, TF_ELOCKED with a message naming the holder's pid
 * and since when, TF_EIO (also when recovery fails: the journal is kept and
 * the next run retries), or TF_EUSAGE for a malformed TRUSTFIX_FAULT.
 * The caller frees *out with txn_free().
 */
int txn_begin(struct txn **out, struct tf_ctx *ctx, int wait_seconds);

/*
 * What recovery did in txn_begin(), in one sentence for the operator
 * ("completed the change interrupted ..." or "undid ..."), or NULL when there
 * was nothing to recover. Owned by 't'.
 */
const char *txn_recovered(const struct txn *t);

/*
 * The number of files of a recovered change that was completed and still has
 * to be recorded by the caller (0 when nothing was recovered or the change
 * was undone). Until txn_recovery_done() the journal is kept, so that a run
 * that crashes before recording it reports the same change again, and no new
 * change can be staged. A crash after the record but before txn_end() or
 * txn_recovery_done() also reports the change again: the caller checks
 * whether its record already exists (e.g. by an id kept in the payload).
 */
size_t txn_recovered_count(const struct txn *t);

/* Path and kind of the i-th file of the recovered change. Owned by 't'. */
const char *txn_recovered_path(const struct txn *t, size_t i, enum txn_kind *kind);

/*
 * The payload the crashed run stored with its change (txn_set_payload()),
 * or NULL with *len 0. Owned by 't'.
 */
const void *txn_recovered_payload(const struct txn *t, size_t *len);

/*
 * The recovered change has been recorded: drop its journal. Returns 0 or
 * TF_EIO.
 */
int txn_recovery_done(struct txn *t);

/*
 * Stage new content for the regular file 'path': it is written to a
 * temporary file beside the target and fsynced. When the target exists as a
 * regular file its mode, owner and group are kept; otherwise the file gets
 * 'mode' exactly (the umask does not apply). A symbolic link at 'path' is
 * replaced by the file, not followed. Staging the same path again replaces
 * the earlier staging. Nothing visible changes until txn_commit().
 * Returns 0, TF_EINVALID for a bad path (not absolute, a directory), or
 * TF_EIO. After an error the transaction can only be aborted.
 */
int txn_write(struct txn *t, const char *path, const void *data, size_t len, mode_t mode);

/*
 * Stage a private key file: as txn_write(), but the file is 0600 whatever
 * the old one was (its owner and group are kept).
 */
int txn_write_key(struct txn *t, const char *path, const void *data, size_t len);

/* Stage a symbolic link at 'path' pointing to 'target'. As txn_write(). */
int txn_symlink(struct txn *t, const char *path, const char *target);

/*
 * Stage the removal of the file or link 'path'; a path that does not exist
 * at commit is left alone. As txn_write().
 */
int txn_remove(struct txn *t, const char *path);

/*
 * Opaque bytes stored in the journal with the change (e.g. the audit
 * message), handed back by txn_recovered_payload() after a crash. Copied.
 */
void txn_set_payload(struct txn *t, const void *data, size_t len);

/* The number of staged operations. */
size_t txn_count(const struct txn *t);

/*
 * Apply the staged change, all or nothing: journal it, rename and remove,
 * fsync the directories, mark the journal applied. On error every target is
 * back to its old state (or, when even undoing fails, the journal makes the
 * next run finish or undo the change) and TF_EIO is returned with the
 * message of the first failure. A transaction with nothing staged commits
 * trivially. After success, record the change, then call txn_end().
 */
int txn_commit(struct txn *t);

/*
 * After a successful txn_commit() and the caller's record of it: remove the
 * journal and release the lock. Returns 0, or TF_EIO when the journal or a
 * hidden backup link (".NAME.tf-*.old") beside a target could not be removed;
 * the change itself is done either way, and a journal left behind is
 * reported again by the next run.
 */
int txn_end(struct txn *t);

/*
 * As txn_end(), but keep the lock and make 't' a new, empty transaction to
 * stage and commit (undoing a change whose post-change checks failed,
 * without letting another run in between). On error the lock is released
 * as by txn_end().
 */
int txn_next(struct txn *t);

/*
 * Give up: remove the staged temporary files and the journal, release the
 * lock. After a txn_commit() that was not ended, the journal is kept so that
 * the next run reports the change for recording. Best effort; never fails.
 */
void txn_abort(struct txn *t);

/* txn_abort() if still needed, then free 't'. txn_free(NULL) is a no-op. */
void txn_free(struct txn *t);

/*
 * The names of the fault points of TRUSTFIX_FAULT, a test facility described
 * in txn/fault.c, NULL-terminated. Static storage.
 */
const char *const *txn_fault_points(void);

#endif
