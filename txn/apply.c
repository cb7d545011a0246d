/*
 * txn/apply.c - commit a staged change: keep each old target under a backup
 * link, journal the change, rename, and undo it all if a step fails.
 */
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

#define JOURNAL_PATH TXN_STATE_DIR "/" JOURNAL_NAME

/*
 * The backup of a target on a file system without hard links: a copy (or
 * a copy of the link) under the backup name, with the same owner and mode.
 */
static int
copy_backup(int dfd, const struct txn_op *op, const struct stat *st)
{
	char buf[65536];
	ssize_t n;
	int in = -1, out = -1, rc = -1;

	if (S_ISLNK(st->st_mode)) {
		if ((n = readlinkat(dfd, op->name, buf, sizeof(buf) - 1)) < 0)
			return -1;
		buf[n] = '\0';
		return symlinkat(buf, dfd, op->backup);
	}
	if (!S_ISREG(st->st_mode)) {
		errno = EPERM;
		return -1;
	}
	if ((in = openat(dfd, op->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    (out = openat(dfd, op->backup, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	         0600)) == -1)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || tf_write_all(out, buf, (size_t)n) == -1)
			goto out;
	}
	if (txn_set_attr(out, st, 0) == -1 || tf_fsync(out) == -1)
		goto out;
	rc = 0;
out:
	if (in != -1)
		close(in);
	if (out != -1 && close(out) == -1)
		rc = -1;
	return rc;
}

/* Keep every existing target under its backup name, for undo. */
static int
make_backups(struct txn *t)
{
	struct txn_op *op;
	struct stat st;
	size_t i;
	int dfd, r;

	for (i = 0; i < t->nops; i++) {
		op = &t->ops[i];
		dfd = txn_dirfd(t, op);
		op->had_old = false;
		if ((r = txn_present(dfd, op->name, &st)) == -1)
			return txn_sys_error(t, "cannot read the attributes of", op->path);
		if (r == 0)
			continue;
		if (S_ISDIR(st.st_mode))
			return txn_bad_path(t, "cannot replace ", op->path);
		if (txn_step(t, "backup-link") == -1)
			return txn_sys_error(t, "cannot keep a backup of", op->path);
		if (linkat(dfd, op->name, dfd, op->backup, 0) == -1) {
			if ((errno != EPERM && errno != EOPNOTSUPP && errno != EMLINK) ||
			    copy_backup(dfd, op, &st) == -1)
				return txn_sys_error(t, "cannot keep a backup of", op->path);
		}
		op->had_old = op->has_backup = true;
	}
	return 0;
}

size_t
txn_drop_backups(struct txn *t)
{
	struct txn_op *op;
	size_t i, left = 0;

	for (i = 0; i < t->nops; i++) {
		op = &t->ops[i];
		if (!op->has_backup)
			continue;
		if (txn_step(t, "backup-remove") == 0 &&
		    (unlinkat(txn_dirfd(t, op), op->backup, 0) == 0 || errno == ENOENT))
			op->has_backup = false;
		else
			left++;
	}
	return left;
}

/*
 * Is the temp of 'op' still there to be renamed? A temp of the wrong type is
 * not one trustfix staged (recovery must not rename it over a target).
 */
static int
temp_present(struct txn *t, const struct txn_op *op, bool *out)
{
	struct stat st;
	int r;
	char *host;

	if ((r = txn_present(txn_dirfd(t, op), op->temp, &st)) == -1)
		return txn_sys_error(t, "cannot read the attributes of a temporary file beside",
		    op->path);
	*out = r == 1;
	if (r == 1 && (op->kind == TXN_WRITE ? !S_ISREG(st.st_mode) : !S_ISLNK(st.st_mode))) {
		host = tf_hostpath(t->ctx, op->path);
		tf_error(t->ctx, TF_EIO,
		    "%sthe temporary file '%s' beside '%s' is not the one trustfix staged; "
		    "check the directory, then remove the journal '%s'",
		    t->recovering ? "recovery: " : "", op->temp, host, JOURNAL_PATH);
		free(host);
		return TF_EIO;
	}
	return 0;
}

/*
 * Apply every op: rename the temps that are still there, remove the targets
 * to be removed. Idempotent: a temp already renamed is done.
 */
int
txn_forward(struct txn *t)
{
	struct txn_op *op;
	bool has = false;
	size_t i;
	int dfd, rc;

	for (i = 0; i < t->nops; i++) {
		op = &t->ops[i];
		dfd = txn_dirfd(t, op);
		if (op->kind == TXN_REMOVE) {
			if (op->had_old &&
			    (txn_step(t, "target-remove") == -1 ||
			        (unlinkat(dfd, op->name, 0) == -1 && errno != ENOENT)))
				return txn_sys_error(t, "cannot remove", op->path);
			continue;
		}
		if ((rc = temp_present(t, op, &has)) != 0)
			return rc;
		if (!has)
			continue;
		if (txn_step(t, "rename") == -1 || renameat(dfd, op->temp, dfd, op->name) == -1)
			return txn_sys_error(t, "cannot rename a temporary file over", op->path);
		op->has_temp = false;
	}
	return 0;
}

/*
 * Undo every op, last first: put each backup back over its target, remove
 * the targets that did not exist before, drop the temps. Idempotent: a
 * backup already put back is gone, a target already removed is absent.
 */
int
txn_backward(struct txn *t)
{
	struct txn_op *op;
	size_t i = t->nops;
	int dfd, r;

	while (i-- > 0) {
		op = &t->ops[i];
		dfd = txn_dirfd(t, op);
		if (op->had_old) {
			if ((r = txn_present(dfd, op->backup, NULL)) == -1)
				return txn_sys_error(t, "cannot read the backup of", op->path);
			if (r == 1 &&
			    (txn_step(t, "rename") == -1 ||
			        renameat(dfd, op->backup, dfd, op->name) == -1))
				return txn_sys_error(t, "cannot put back the old", op->path);
			/* Renaming a link over the same file leaves both names. */
			if (r == 1 && txn_present(dfd, op->backup, NULL) == 1 &&
			    (txn_step(t, "backup-remove") == -1 ||
			        unlinkat(dfd, op->backup, 0) == -1))
				return txn_sys_error(t, "cannot remove the backup of", op->path);
		}
		if (op->kind == TXN_REMOVE)
			continue;
		if ((r = txn_present(dfd, op->temp, NULL)) == -1)
			return txn_sys_error(t, "cannot read a temporary file beside", op->path);
		if (r == 0 && !op->had_old &&
		    (txn_step(t, "target-remove") == -1 ||
		        (unlinkat(dfd, op->name, 0) == -1 && errno != ENOENT)))
			return txn_sys_error(t, "cannot remove the new", op->path);
		if (r == 1 &&
		    (txn_step(t, "temp-remove") == -1 ||
		        (unlinkat(dfd, op->temp, 0) == -1 && errno != ENOENT)))
			return txn_sys_error(t, "cannot remove a temporary file beside", op->path);
		op->has_temp = false;
	}
	return 0;
}

/*
 * A commit failed after its journal record: undo it now. When even marking
 * or undoing fails, the journal is kept and the next run finishes the job.
 */
static void
undo(struct txn *t)
{
	t->phase = TXN_BROKEN;
	t->keep_journal = true;
	if (txn_journal_mark(t, JOURNAL_UNDOING) != 0 || txn_backward(t) != 0 ||
	    txn_sync_dirs(t, true) != 0 || txn_journal_remove(t) != 0)
		return;
	t->keep_journal = false;
}

/*
 * A commit failed before anything visible changed: take back its journal
 * record (if any) and the backups. If the record cannot be taken back it
 * may be complete, so the temps must stay for the next run to finish.
 */
static void
uncommit(struct txn *t, off_t before)
{
	size_t i;

	t->phase = TXN_BROKEN;
	if (t->jslot != -1 || t->jsize != before) {
		if (ftruncate(t->jfd, before) == -1 || tf_fsync(t->jfd) == -1) {
			t->keep_journal = true;
			return;
		}
		t->jsize = before;
		t->jslot = -1;
	}
	/* Leftover backups are swept by the next run, from the journal. */
	if (txn_drop_backups(t) > 0)
		t->keep_journal = true;
	for (i = 0; i < t->nops; i++)
		t->ops[i].had_old = false;
}

int
txn_commit(struct txn *t)
{
	char *section;
	size_t len, slot;
	off_t before;
	int rc;

	if ((rc = txn_check_open(t)) != 0)
		return rc;
	if (t->nops == 0) {
		t->phase = TXN_COMMITTED;
		return 0;
	}
	before = t->jsize;
	if ((rc = make_backups(t)) != 0 || (rc = txn_sync_dirs(t, true)) != 0) {
		uncommit(t, before);
		return rc;
	}
	section = journal_commit_section(t->ops, t->nops, t->payload, t->payload_len, &len, &slot);
	if (section == NULL) {
		uncommit(t, before);
		return tf_error(t->ctx, TF_ERROR, "cannot compute the checksum of the journal");
	}
	/* From here the record may be on disk, even when the write fails. */
	t->jslot = before + (off_t)slot;
	rc = txn_journal_append(t, section, len);
	free(section);
	if (rc != 0) {
		uncommit(t, before);
		return rc;
	}
	if ((rc = txn_forward(t)) != 0 || (rc = txn_sync_dirs(t, true)) != 0 ||
	    (rc = txn_journal_mark(t, JOURNAL_APPLIED)) != 0) {
		undo(t);
		return rc;
	}
	(void)txn_drop_backups(t); /* retried by txn_end() */
	(void)txn_sync_dirs(t, false);
	t->phase = TXN_COMMITTED;
	t->keep_journal = true; /* until the caller has recorded it: txn_end() */
	return 0;
}
