/*
 * txn/txn.c - stage, commit, end and abort a transaction: temporary files
 * beside their targets, the journal, renames backed by links to the old
 * targets so that a failure half-way can be undone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

#define JOURNAL_PATH TXN_STATE_DIR "/" JOURNAL_NAME
#define TEMP_TRIES 8
#define NAME_KEEP 200 /* bytes of the target name kept in a temp name */

int
txn_step(struct txn *t, const char *point)
{
	return fault_step(&t->fault, point);
}

/* Record errno as the failure of 'what' on 'path'; returns TF_EIO. */
int
txn_sys_error(struct txn *t, const char *what, const char *path)
{
	int saved = errno;
	char *host = tf_hostpath(t->ctx, path);

	errno = saved;
	tf_error_sys(t->ctx, TF_EIO, "%s%s '%s'", t->recovering ? "recovery: " : "", what, host);
	free(host);
	return TF_EIO;
}

int
txn_bad_path(struct txn *t, const char *what, const char *path)
{
	char *host = tf_hostpath(t->ctx, path);

	tf_error(t->ctx, TF_EINVALID, "%s'%s': it is a directory", what, host);
	free(host);
	return TF_EINVALID;
}

void
txn_op_clear(struct txn_op *op)
{
	free(op->path);
	free(op->temp);
	free(op->backup);
	free(op->link);
	free(op->name);
	memset(op, 0, sizeof(*op));
}

int
txn_dir_get(struct txn *t, const char *path, size_t *idx)
{
	struct stat st;
	size_t i;
	int fd;

	for (i = 0; i < t->ndirs; i++) {
		if (strcmp(t->dirs[i].path, path) == 0) {
			*idx = i;
			return 0;
		}
	}
	if ((fd = tf_dir_open(t->ctx, path)) == -1 || fstat(fd, &st) == -1) {
		if (fd != -1)
			close(fd);
		return txn_sys_error(t, "cannot open directory", path);
	}
	/* Another name of a directory already open: one directory, one fd. */
	for (i = 0; i < t->ndirs; i++) {
		if (t->dirs[i].dev == st.st_dev && t->dirs[i].ino == st.st_ino) {
			close(fd);
			*idx = i;
			return 0;
		}
	}
	t->dirs = tf_realloc(t->dirs, (t->ndirs + 1) * sizeof(*t->dirs));
	t->dirs[t->ndirs].path = tf_strdup(path);
	t->dirs[t->ndirs].fd = fd;
	t->dirs[t->ndirs].dev = st.st_dev;
	t->dirs[t->ndirs].ino = st.st_ino;
	t->dirs[t->ndirs].journaled = false;
	*idx = t->ndirs++;
	return 0;
}

/* 1 when 'name' exists in 'dfd' (not followed), 0 when not, -1 on error. */
int
txn_present(int dfd, const char *name, struct stat *st)
{
	struct stat tmp;

	if (fstatat(dfd, name, st ? st : &tmp, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

static int
sync_state_dir(struct txn *t)
{
	if (txn_step(t, "dir-fsync") == -1 || tf_fsync(t->statefd) == -1)
		return txn_sys_error(t, "cannot sync directory", TXN_STATE_DIR);
	return 0;
}

/* fsync every directory of the change; quietly when 'report' is false. */
int
txn_sync_dirs(struct txn *t, bool report)
{
	size_t i;

	for (i = 0; i < t->ndirs; i++) {
		if (txn_step(t, "dir-fsync") == -1 || tf_fsync(t->dirs[i].fd) == -1) {
			if (report)
				return txn_sys_error(t, "cannot sync directory", t->dirs[i].path);
		}
	}
	return 0;
}

int
txn_journal_append(struct txn *t, const void *data, size_t len)
{
	if (txn_step(t, "journal-write") == -1 || tf_pwrite_all(t->jfd, data, len, t->jsize) == -1)
		return txn_sys_error(t, "cannot write the journal", JOURNAL_PATH);
	t->jsize += (off_t)len;
	if (txn_step(t, "journal-fsync") == -1 || tf_fsync(t->jfd) == -1)
		return txn_sys_error(t, "cannot sync the journal", JOURNAL_PATH);
	return 0;
}

/* Create the journal at the first staging, before any temp file exists. */
static int
journal_open(struct txn *t)
{
	char since[32], *header;
	size_t len;
	int rc;

	if (t->jfd != -1)
		return 0;
	if (txn_step(t, "journal-create") == -1 ||
	    (t->jfd = openat(t->statefd, JOURNAL_NAME,
	         O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return txn_sys_error(t, "cannot create the journal", JOURNAL_PATH);
	t->jsize = 0;
	t->jslot = -1;
	txn_iso_time(since, t->ctx->now);
	header = journal_header(t->id, (long)getpid(), since, &len);
	rc = txn_journal_append(t, header, len);
	free(header);
	if (rc == 0)
		rc = sync_state_dir(t);
	return rc;
}

int
txn_journal_mark(struct txn *t, enum journal_state state)
{
	const char *word = journal_state_word(state);

	if (txn_step(t, state == JOURNAL_UNDOING ? "journal-undo" : "journal-applied") == -1 ||
	    tf_pwrite_all(t->jfd, word, strlen(word), t->jslot) == -1)
		return txn_sys_error(t, "cannot mark the journal", JOURNAL_PATH);
	if (txn_step(t, "journal-fsync") == -1 || tf_fsync(t->jfd) == -1)
		return txn_sys_error(t, "cannot sync the journal", JOURNAL_PATH);
	return 0;
}

int
txn_journal_remove(struct txn *t)
{
	if (t->jfd != -1) {
		close(t->jfd);
		t->jfd = -1;
	}
	if (txn_step(t, "journal-remove") == -1 ||
	    (unlinkat(t->statefd, JOURNAL_NAME, 0) == -1 && errno != ENOENT))
		return txn_sys_error(t, "cannot remove the journal", JOURNAL_PATH);
	return sync_state_dir(t);
}

/*
 * 16 hex digits that no other run is likely to pick. Unpredictability is not
 * what keeps a temp safe (O_EXCL is), so this never waits for the entropy
 * pool, as getrandom(2) would early at boot.
 */
static void
random_hex(char out[17])
{
	static const unsigned long long mul = 0x9e3779b97f4a7c15ULL;
	unsigned char rnd[8];
	unsigned long long x;
	struct timespec ts;
	int i;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		x = ((unsigned long long)ts.tv_sec * 1000000000ULL +
		        (unsigned long long)ts.tv_nsec) ^
		    ((unsigned long long)getpid() * mul);
		for (i = 0; i < 8; i++)
			rnd[i] = (unsigned char)(x >> (8 * i));
	}
	tf_hex(out, rnd, sizeof(rnd));
}

/* Fresh temp and backup names for 'op': ".<name>.tf-<16 hex>[.old]". */
static void
new_names(struct txn_op *op)
{
	char hex[17];
	int n = (int)strlen(op->name);

	random_hex(hex);
	free(op->temp);
	free(op->backup);
	op->temp = tf_asprintf(".%.*s.tf-%s", n > NAME_KEEP ? NAME_KEEP : n, op->name, hex);
	op->backup = tf_asprintf("%s.old", op->temp);
}

int
txn_check_open(struct txn *t)
{
	if (t->phase != TXN_OPEN)
		return tf_error(t->ctx, TF_ERROR,
		    "internal error: the transaction is no longer open (after an error, only "
		    "txn_abort)");
	if (t->rpending)
		return tf_error(t->ctx, TF_ERROR,
		    "internal error: the recovered change must be recorded (txn_recovery_done) "
		    "before a new one is staged");
	return 0;
}

/*
 * The op for 'path', new or replacing an earlier staging of the same path,
 * with its directory open and recorded in the journal.
 */
static int
stage_op(struct txn *t, const char *path, struct txn_op **out)
{
	struct txn_op *op = NULL;
	char *dir = NULL, *name = NULL, *rec;
	size_t i, idx, len;
	int rc;

	*out = NULL;
	if ((rc = txn_check_open(t)) != 0)
		return rc;
	if (tf_path_split(path, &dir, &name) == -1)
		return tf_error(t->ctx, TF_EINVALID,
		    "cannot change '%s': not an absolute path to a file", path);
	if ((rc = journal_open(t)) != 0 || (rc = txn_dir_get(t, dir, &idx)) != 0)
		goto out;
	if (!t->dirs[idx].journaled) {
		/* Before any temp exists there, so that recovery can find it. */
		rec = journal_dir_record(dir, &len);
		rc = txn_journal_append(t, rec, len);
		free(rec);
		if (rc != 0)
			goto out;
		t->dirs[idx].journaled = true;
	}
	/* The same file named twice is one op: the last staging wins. */
	for (i = 0; i < t->nops && op == NULL; i++) {
		if (t->ops[i].dir == idx && strcmp(t->ops[i].name, name) == 0)
			op = &t->ops[i];
	}
	if (op != NULL && op->has_temp) {
		if (txn_step(t, "temp-remove") == -1 ||
		    (unlinkat(txn_dirfd(t, op), op->temp, 0) == -1 && errno != ENOENT)) {
			rc = txn_sys_error(t, "cannot remove a temporary file beside", path);
			goto out;
		}
	}
	if (op != NULL) {
		txn_op_clear(op);
	} else {
		t->ops = tf_realloc(t->ops, (t->nops + 1) * sizeof(*t->ops));
		op = &t->ops[t->nops++];
		memset(op, 0, sizeof(*op));
	}
	op->kind = TXN_REMOVE;
	op->path = tf_strdup(path);
	op->name = name;
	name = NULL;
	op->dir = idx;
	new_names(op);
	*out = op;
out:
	free(dir);
	free(name);
	return rc;
}

/*
 * Create the temp of 'op': a file (returns its descriptor) or, with
 * 'linktext', a symbolic link (returns 0). O_EXCL and symlinkat never follow
 * a link planted at the name; a taken name is retried with another.
 */
static int
create_temp(struct txn *t, struct txn_op *op, const char *linktext)
{
	int dfd = txn_dirfd(t, op), fd, tries;

	for (tries = 0;; tries++) {
		if (txn_step(t, "temp-create") == -1) {
			fd = -1;
		} else if (linktext != NULL) {
			fd = symlinkat(linktext, dfd, op->temp);
		} else {
			fd = openat(dfd, op->temp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		}
		if (fd != -1) {
			op->has_temp = true;
			return fd;
		}
		if (errno != EEXIST || tries == TEMP_TRIES)
			return txn_sys_error(t, "cannot create a temporary file beside", op->path);
		new_names(op);
	}
}

/* Give the temp file the owner and mode of the old target, or 'mode'. */
int
txn_set_attr(int fd, const struct stat *old, mode_t mode)
{
	struct stat st;

	if (old == NULL)
		return fchmod(fd, mode & 07777);
	if (fstat(fd, &st) == -1)
		return -1;
	if ((st.st_uid != old->st_uid || st.st_gid != old->st_gid) &&
	    fchown(fd, old->st_uid, old->st_gid) == -1)
		return -1;
	/* After fchown, which clears set-id bits. */
	return fchmod(fd, old->st_mode & 07777);
}

static int
stage_write(struct txn *t, const char *path, const void *data, size_t len, mode_t mode, bool key)
{
	struct txn_op *op;
	struct stat st;
	bool keep = false;
	int fd = -1, rc, r;

	if ((rc = stage_op(t, path, &op)) != 0)
		return rc;
	if ((r = txn_present(txn_dirfd(t, op), op->name, &st)) == -1)
		return txn_sys_error(t, "cannot read the attributes of", path);
	if (r == 1 && S_ISDIR(st.st_mode))
		return txn_bad_path(t, "cannot write ", path);
	keep = r == 1 && S_ISREG(st.st_mode);
	if ((fd = create_temp(t, op, NULL)) < 0)
		return fd;
	op->kind = TXN_WRITE;
	rc = TF_EIO;
	if (txn_step(t, "temp-write") == -1 || tf_write_all(fd, data, len) == -1) {
		txn_sys_error(t, "cannot write a temporary file beside", path);
		goto out;
	}
	if (key && keep)
		st.st_mode = (st.st_mode & ~(mode_t)07777) | 0600;
	if (txn_step(t, "temp-attr") == -1 || txn_set_attr(fd, keep ? &st : NULL, mode) == -1) {
		txn_sys_error(t, "cannot set the owner and mode of a temporary file beside", path);
		goto out;
	}
	if (txn_step(t, "temp-fsync") == -1 || tf_fsync(fd) == -1) {
		txn_sys_error(t, "cannot sync a temporary file beside", path);
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r == -1) {
		txn_sys_error(t, "cannot write a temporary file beside", path);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	return rc;
}

static int
stage_symlink(struct txn *t, const char *path, const char *target)
{
	struct txn_op *op;
	int rc;

	if ((rc = stage_op(t, path, &op)) != 0)
		return rc;
	if ((rc = create_temp(t, op, target)) < 0)
		return rc;
	op->kind = TXN_SYMLINK;
	op->link = tf_strdup(target);
	return 0;
}

/* Every staging error leaves the transaction good only for txn_abort(). */
static int
staged(struct txn *t, int rc)
{
	if (rc != 0 && t->phase == TXN_OPEN)
		t->phase = TXN_BROKEN;
	return rc;
}

int
txn_write(struct txn *t, const char *path, const void *data, size_t len, mode_t mode)
{
	return staged(t, stage_write(t, path, data, len, mode, false));
}

int
txn_write_key(struct txn *t, const char *path, const void *data, size_t len)
{
	return staged(t, stage_write(t, path, data, len, 0600, true));
}

int
txn_symlink(struct txn *t, const char *path, const char *target)
{
	return staged(t, stage_symlink(t, path, target));
}

int
txn_remove(struct txn *t, const char *path)
{
	struct txn_op *op;

	return staged(t, stage_op(t, path, &op));
}

void
txn_set_payload(struct txn *t, const void *data, size_t len)
{
	free(t->payload);
	t->payload = tf_malloc(len);
	if (len > 0)
		memcpy(t->payload, data, len);
	t->payload_len = len;
}

size_t
txn_count(const struct txn *t)
{
	return t->nops;
}

static void free_ops(struct txn_op *ops, size_t n);

static int
end(struct txn *t, bool keep_lock)
{
	struct txn_op *op;
	bool left = false;
	size_t i;
	int rc = 0, rc2 = 0;

	if (t->phase != TXN_COMMITTED)
		return tf_error(t->ctx, TF_ERROR, "internal error: ending an uncommitted change");
	for (i = 0; i < t->nops && !left; i++)
		left = t->ops[i].has_backup;
	if (left && txn_drop_backups(t) > 0) {
		/* The change is done; a hidden backup left beside it is named. */
		for (i = 0; i < t->nops && rc == 0; i++) {
			op = &t->ops[i];
			if (op->has_backup)
				rc = txn_sys_error(t, "cannot remove the backup link beside",
				    op->path);
		}
	} else if (left) {
		(void)txn_sync_dirs(t, false);
	}
	if (t->nops == 0 || (rc2 = txn_journal_remove(t)) == 0)
		t->keep_journal = false;
	if (keep_lock && rc == 0 && rc2 == 0) {
		/* a fresh transaction under the same lock */
		free_ops(t->ops, t->nops);
		t->ops = NULL;
		t->nops = 0;
		free(t->payload);
		t->payload = NULL;
		t->payload_len = 0;
		t->jsize = 0;
		t->jslot = -1;
		random_hex(t->id);
		/* the next journal must name the directories again, for its recovery */
		for (i = 0; i < t->ndirs; i++)
			t->dirs[i].journaled = false;
		t->phase = TXN_OPEN;
		return 0;
	}
	txn_lock_release(t);
	t->phase = TXN_ENDED;
	return rc != 0 ? rc : rc2;
}

int
txn_end(struct txn *t)
{
	return end(t, false);
}

int
txn_next(struct txn *t)
{
	return end(t, true);
}

/* Quietly remove what staging left: temps first, then the journal. */
static void
discard(struct txn *t)
{
	struct txn_op *op;
	size_t i, left = 0;

	for (i = 0; i < t->nops; i++) {
		op = &t->ops[i];
		if (op->has_temp && txn_step(t, "temp-remove") == 0 &&
		    (unlinkat(txn_dirfd(t, op), op->temp, 0) == 0 || errno == ENOENT))
			op->has_temp = false;
		left += op->has_temp;
	}
	left += txn_drop_backups(t);
	(void)txn_sync_dirs(t, false);
	/* The journal lists the directories where the next run sweeps leftovers. */
	if (t->jfd == -1 || left > 0)
		return;
	close(t->jfd);
	t->jfd = -1;
	if (txn_step(t, "journal-remove") == 0 && unlinkat(t->statefd, JOURNAL_NAME, 0) == 0 &&
	    txn_step(t, "dir-fsync") == 0)
		(void)tf_fsync(t->statefd);
}

void
txn_abort(struct txn *t)
{
	if (t == NULL || t->phase == TXN_ENDED)
		return;
	if (t->phase != TXN_COMMITTED && !t->keep_journal && !t->rpending)
		discard(t);
	txn_lock_release(t);
	t->phase = TXN_ENDED;
}

static void
free_ops(struct txn_op *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		txn_op_clear(&ops[i]);
	free(ops);
}

void
txn_free(struct txn *t)
{
	size_t i;

	if (t == NULL)
		return;
	txn_abort(t);
	for (i = 0; i < t->ndirs; i++) {
		close(t->dirs[i].fd);
		free(t->dirs[i].path);
	}
	free(t->dirs);
	free_ops(t->ops, t->nops);
	free_ops(t->rops, t->nrops);
	free(t->payload);
	free(t->rpayload);
	free(t->recovered);
	if (t->jfd != -1)
		close(t->jfd);
	if (t->statefd != -1)
		close(t->statefd);
	free(t);
}

int
txn_begin(struct txn **out, struct tf_ctx *ctx, int wait_seconds)
{
	struct txn *t;
	int rc;

	*out = NULL;
	t = tf_calloc(1, sizeof(*t));
	t->ctx = ctx;
	t->statefd = t->lockfd = t->jfd = -1;
	t->jslot = -1;
	t->phase = TXN_OPEN;
	if ((rc = fault_init(&t->fault, ctx)) != 0 ||
	    (rc = tf_mkdirs(ctx, TXN_STATE_DIR, 0700)) != 0)
		goto out;
	if ((t->statefd = tf_dir_open(ctx, TXN_STATE_DIR)) == -1) {
		rc = txn_sys_error(t, "cannot open directory", TXN_STATE_DIR);
		goto out;
	}
	random_hex(t->id);
	if ((rc = txn_lock_take(t, wait_seconds)) != 0 || (rc = txn_recover(t)) != 0)
		goto out;
	*out = t;
	t = NULL;
out:
	if (t != NULL)
		t->keep_journal = true; /* a failed recovery keeps its journal */
	txn_free(t);
	return rc;
}

const char *
txn_recovered(const struct txn *t)
{
	return t->recovered;
}

size_t
txn_recovered_count(const struct txn *t)
{
	return t->rpending ? t->nrops : 0;
}

const char *
txn_recovered_path(const struct txn *t, size_t i, enum txn_kind *kind)
{
	if (!t->rpending || i >= t->nrops)
		return NULL;
	if (kind != NULL)
		*kind = t->rops[i].kind;
	return t->rops[i].path;
}

const void *
txn_recovered_payload(const struct txn *t, size_t *len)
{
	*len = t->rpending ? t->rpayload_len : 0;
	return t->rpending ? t->rpayload : NULL;
}

int
txn_recovery_done(struct txn *t)
{
	int rc;

	if (!t->rpending)
		return 0;
	if ((rc = txn_journal_remove(t)) != 0)
		return rc;
	t->rpending = false;
	t->keep_journal = false;
	return 0;
}
