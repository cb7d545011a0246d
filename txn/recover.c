/*
 * txn/recover.c - finish or undo the change a crashed run left in the
 * journal, and sweep the temporary files it may have left beside targets.
 * Every step is idempotent, so a crash during recovery is recovered the
 * same way, with the same answer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

#define JOURNAL_PATH TXN_STATE_DIR "/" JOURNAL_NAME

/* ".<name>.tf-<16 hex>" or the same with ".old": a temp or backup. */
static bool
is_temp_name(const char *name)
{
	size_t n = strlen(name), i;

	if (name[0] != '.')
		return false;
	if (n > 4 && strcmp(name + n - 4, ".old") == 0)
		n -= 4;
	if (n < 1 + 1 + 4 + 16 || memcmp(name + n - 20, ".tf-", 4) != 0)
		return false;
	for (i = n - 16; i < n; i++) {
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	}
	return true;
}

/*
 * Remove the temps and backups in the directory 'dfd'. They belong to no
 * change any more: the lock is held, and the journal has been acted on.
 * Best effort: a leftover dot file is untidy, not harmful.
 */
static void
sweep_dir(struct txn *t, int dfd)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	DIR *d;
	int fd;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_temp_name(de->d_name))
			continue;
		names = tf_realloc(names, (n + 1) * sizeof(*names));
		names[n++] = tf_strdup(de->d_name);
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		if (txn_step(t, "temp-remove") == 0)
			(void)unlinkat(dfd, names[i], 0);
		free(names[i]);
	}
	free(names);
}

static void
sweep(struct txn *t)
{
	size_t i;

	for (i = 0; i < t->ndirs; i++)
		sweep_dir(t, t->dirs[i].fd);
}

/* Take over the directories and ops of the journal 'j'. */
static int
load(struct txn *t, struct journal *j)
{
	struct txn_op *op;
	char *dir = NULL;
	size_t i, idx;
	int fd, rc;

	for (i = 0; i < j->ndirs; i++) {
		/* A directory gone since cannot hold temps any more. */
		if ((fd = tf_dir_open(t->ctx, j->dirs[i])) == -1)
			continue;
		close(fd);
		if ((rc = txn_dir_get(t, j->dirs[i], &idx)) != 0)
			return rc;
	}
	t->ops = j->ops;
	t->nops = j->nops;
	j->ops = NULL;
	j->nops = 0;
	for (i = 0; i < t->nops; i++) {
		op = &t->ops[i];
		op->has_backup = op->had_old;
		if (tf_path_split(op->path, &dir, &op->name) == -1)
			return tf_error(t->ctx, TF_EIO,
			    "recovery: the journal names a bad path '%s'", op->path);
		rc = txn_dir_get(t, dir, &op->dir);
		free(dir);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
describe(struct txn *t, const struct journal *j, const char *what)
{
	if (j->valid)
		t->recovered =
		    tf_asprintf("%s the change interrupted in the run with pid %ld (started %s)%s",
		        j->committed && j->state != JOURNAL_UNDOING ? "completed" : "undid", j->pid,
		        j->since, what);
	else
		t->recovered = tf_asprintf("removed the incomplete journal of an interrupted "
		                           "run%s",
		    what);
}

/* The journal was acted on completely and nothing needs recording. */
static int
finish_undone(struct txn *t)
{
	int rc;

	sweep(t);
	if ((rc = txn_sync_dirs(t, true)) != 0 || (rc = txn_journal_remove(t)) != 0)
		return rc;
	return 0;
}

int
txn_recover(struct txn *t)
{
	struct journal j;
	char *buf = NULL, *host = NULL, what[160];
	size_t len, i;
	int rc;

	memset(&j, 0, sizeof(j));
	t->jfd = openat(t->statefd, JOURNAL_NAME, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (t->jfd == -1) {
		if (errno == ENOENT)
			return 0;
		return txn_sys_error(t, "cannot open the journal", JOURNAL_PATH);
	}
	t->recovering = true;
	host = tf_hostpath(t->ctx, JOURNAL_PATH);
	if ((rc = tf_read_fd(t->ctx, t->jfd, host, JOURNAL_MAX, &buf, &len)) != 0)
		goto out;
	journal_parse(&j, buf, len);
	if (j.corrupt) {
		rc = tf_error(t->ctx, TF_EIO,
		    "recovery: cannot act on the journal '%s': it was not written by this "
		    "version of trustfix; check the files it names, then remove it",
		    host);
		goto out;
	}
	if ((rc = load(t, &j)) != 0)
		goto out;
	t->jslot = (off_t)j.slot;
	if (!j.committed) {
		/* Nothing visible changed before the commit record. */
		snprintf(what, sizeof(what), " before it was committed: no file was changed");
		if ((rc = finish_undone(t)) != 0)
			goto out;
	} else if (j.state == JOURNAL_UNDOING) {
		snprintf(what, sizeof(what), ": its %zu file%s are as they were before", t->nops,
		    t->nops == 1 ? "" : "s");
		if ((rc = txn_backward(t)) != 0 || (rc = finish_undone(t)) != 0)
			goto out;
	} else {
		snprintf(what, sizeof(what), ": %zu file%s changed", t->nops,
		    t->nops == 1 ? "" : "s");
		if (j.state == JOURNAL_PENDING &&
		    ((rc = txn_forward(t)) != 0 || (rc = txn_sync_dirs(t, true)) != 0 ||
		        (rc = txn_journal_mark(t, JOURNAL_APPLIED)) != 0))
			goto out;
		txn_drop_backups(t);
		sweep(t);
		(void)txn_sync_dirs(t, false);
		/* Kept until the caller has recorded it: txn_recovery_done(). */
		t->rpending = true;
		t->rops = t->ops;
		t->nrops = t->nops;
		t->ops = NULL;
		t->nops = 0;
		t->rpayload = j.payload;
		t->rpayload_len = j.payload_len;
		j.payload = NULL;
	}
	describe(t, &j, what);
	for (i = 0; i < t->nops; i++)
		txn_op_clear(&t->ops[i]);
	free(t->ops);
	t->ops = NULL;
	t->nops = 0;
	for (i = 0; i < t->ndirs; i++)
		t->dirs[i].journaled = false;
	t->jslot = -1;
	t->recovering = false;
	rc = 0;
out:
	journal_release(&j);
	free(buf);
	free(host);
	return rc;
}
