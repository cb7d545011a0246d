/*
 * tests/unit/test_txn_commit.c - the transaction: atomic change of a set of
 * files, kept attributes, symlinks not followed, the lock, and recovery after
 * a crash or an injected error at every fault point.
 */
#include "helpers.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "core/fsutil.h"
#include "txn/txn.h"

/* The change every crash test makes: two directories, every kind of op. */
#define A "/etc/ssl/a.pem"     /* rewritten */
#define B "/etc/ssl/b.pem"     /* created */
#define C "/etc/ssl/c.pem"     /* removed */
#define D "/etc/pki/d.0"       /* symlink replaced */
#define E "/etc/pki/e.pem"     /* created */
#define PAYLOAD "pay\0load {}" /* binary-safe */

static const char *const files[] = { A, B, C, D, E };
#define NFILES (sizeof(files) / sizeof(files[0]))

static char *
hostpath(struct root *r, const char *path)
{
	return tf_asprintf("%s%s", r->dir, path);
}

/* The old state of the files of the change. */
static void
make_old(struct root *r)
{
	char *p;

	p = hostpath(r, "/etc");
	rm_rf(p);
	free(p);
	write_str(r->dir, A + 1, "A old\n");
	write_str(r->dir, C + 1, "C old\n");
	write_str(r->dir, "etc/pki/old-target", "x");
	make_symlink(r->dir, D + 1, "old-target");
	p = hostpath(r, A);
	assert_int_equal(chmod(p, 0640), 0);
	free(p);
}

/* Stage the change; returns the first error. */
static int
stage(struct txn *t)
{
	int rc;

	if ((rc = txn_write(t, A, "A new\n", 6, 0600)) != 0 ||
	    (rc = txn_write(t, B, "B new\n", 6, 0644)) != 0 || (rc = txn_remove(t, C)) != 0 ||
	    (rc = txn_symlink(t, D, "new-target")) != 0 ||
	    (rc = txn_write(t, E, "E new\n", 6, 0600)) != 0)
		return rc;
	txn_set_payload(t, PAYLOAD, sizeof(PAYLOAD));
	return 0;
}

/* The whole change: begin, stage, commit, end; *committed if commit worked. */
static int
run_change(struct root *r, bool *committed)
{
	struct txn *t = NULL;
	int rc;

	*committed = false;
	if ((rc = txn_begin(&t, &r->ctx, 0)) == 0 && (rc = stage(t)) == 0 &&
	    (rc = txn_commit(t)) == 0) {
		*committed = true;
		rc = txn_end(t);
	}
	txn_free(t);
	return rc;
}

/* "path=kind:content:mode|..." of the files of the change. */
static char *
snapshot(struct root *r)
{
	char *out = tf_strdup(""), *p, *next, buf[256];
	struct stat st;
	size_t i;
	ssize_t n;
	int fd;

	for (i = 0; i < NFILES; i++) {
		p = hostpath(r, files[i]);
		if (lstat(p, &st) == -1) {
			next = tf_asprintf("%s%s=absent|", out, files[i]);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlink(p, buf, sizeof(buf) - 1);
			assert_true(n >= 0);
			buf[n] = '\0';
			next = tf_asprintf("%s%s=link:%s|", out, files[i], buf);
		} else {
			assert_true((fd = open(p, O_RDONLY)) >= 0);
			n = read(fd, buf, sizeof(buf) - 1);
			assert_true(n >= 0);
			buf[n] = '\0';
			close(fd);
			next = tf_asprintf("%s%s=file:%s:%o|", out, files[i], buf,
			    (unsigned)(st.st_mode & 07777));
		}
		free(out);
		free(p);
		out = next;
	}
	return out;
}

/* No temp, backup or other dot file left beside the targets. */
static void
assert_no_leftovers(struct root *r)
{
	static const char *const dirs[] = { "/etc/ssl", "/etc/pki" };
	struct dirent *de;
	size_t i;
	char *p;
	DIR *d;

	for (i = 0; i < 2; i++) {
		p = hostpath(r, dirs[i]);
		if ((d = opendir(p)) != NULL) {
			while ((de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
				    strcmp(de->d_name, "..") != 0)
					fail_msg("leftover '%s' in %s", de->d_name, dirs[i]);
			}
			closedir(d);
		}
		free(p);
	}
}

static bool
journal_exists(struct root *r)
{
	char *p = hostpath(r, TXN_STATE_DIR "/journal");
	struct stat st;
	bool yes = lstat(p, &st) == 0;

	free(p);
	return yes;
}

static void
test_commit_changes_all_files(void **state)
{
	struct root *r = *state;
	struct txn *t = NULL;
	char *before, *after, *p;
	struct stat st;

	make_old(r);
	before = snapshot(r);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_null(txn_recovered(t));
	assert_int_equal(stage(t), 0);
	assert_int_equal(txn_count(t), 5);
	/* staged: nothing visible has changed */
	after = snapshot(r);
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(txn_commit(t), 0);
	assert_true(journal_exists(r)); /* until the caller has recorded it */
	assert_int_equal(txn_end(t), 0);
	assert_false(journal_exists(r));
	txn_free(t);
	after = snapshot(r);
	assert_string_equal(after,
	    A "=file:A new\n:640|" B "=file:B new\n:644|" C "=absent|" D "=link:new-target|" E
	      "=file:E new\n:600|");
	assert_no_leftovers(r);
	p = hostpath(r, TXN_STATE_DIR);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	free(p);
	free(before);
	free(after);
}

static void
test_abort_changes_nothing(void **state)
{
	struct root *r = *state;
	struct txn *t = NULL;
	char *before, *after;

	make_old(r);
	before = snapshot(r);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(stage(t), 0);
	txn_abort(t);
	txn_free(t);
	after = snapshot(r);
	assert_string_equal(before, after);
	assert_no_leftovers(r);
	assert_false(journal_exists(r));
	free(before);
	free(after);
	/* nothing staged: no journal is even written */
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_commit(t), 0);
	assert_false(journal_exists(r));
	assert_int_equal(txn_end(t), 0);
	txn_free(t);
	txn_free(NULL);
}

static void
test_owner_and_mode_kept(void **state)
{
	struct root *r = *state;
	struct txn *t = NULL;
	char *p = hostpath(r, "/etc/x.conf"), *q = hostpath(r, "/etc/new.key");
	struct stat st;
	mode_t old = umask(077);
	bool is_root = geteuid() == 0;

	write_str(r->dir, "etc/x.conf", "old");
	if (is_root)
		assert_int_equal(chown(p, 1234, 5678), 0);
	assert_int_equal(chmod(p, 02754), 0); /* after chown, which clears set-id bits */
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, "/etc/x.conf", "new", 3, 0600), 0);
	assert_int_equal(txn_write(t, "/etc/new.key", "k", 1, 0644), 0);
	assert_int_equal(txn_commit(t), 0);
	assert_int_equal(txn_end(t), 0);
	txn_free(t);
	umask(old);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02754);
	if (is_root) {
		assert_int_equal(st.st_uid, 1234);
		assert_int_equal(st.st_gid, 5678);
	}
	/* a new file gets the mode asked for, whatever the umask */
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	free(p);
	free(q);
}

static void
test_staging_twice_replaces(void **state)
{
	struct root *r = *state;
	struct txn *t = NULL;
	char *p = hostpath(r, "/etc/ssl/a.pem"), buf[16] = "";
	int fd;

	make_old(r);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, A, "first", 5, 0644), 0);
	assert_int_equal(txn_remove(t, A), 0);
	assert_int_equal(txn_write(t, A, "second", 6, 0644), 0);
	assert_int_equal(txn_count(t), 1);
	assert_int_equal(txn_commit(t), 0);
	assert_int_equal(txn_end(t), 0);
	txn_free(t);
	assert_true((fd = open(p, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 6);
	close(fd);
	assert_string_equal(buf, "second");
	assert_no_leftovers(r);
	free(p);
}

static void
test_bad_paths_refused(void **state)
{
	struct root *r = *state;
	struct txn *t = NULL;

	write_str(r->dir, "etc/ssl/a.pem", "x");
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, "etc/ssl/a.pem", "x", 1, 0644), TF_EINVALID);
	assert_non_null(strstr(r->ctx.errmsg, "not an absolute path"));
	/* after an error only abort is left */
	assert_int_equal(txn_write(t, A, "x", 1, 0644), TF_ERROR);
	txn_free(t);
	tf_error_clear(&r->ctx);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, "/etc/ssl", "x", 1, 0644), TF_EINVALID);
	assert_non_null(strstr(r->ctx.errmsg, "is a directory"));
	txn_free(t);
	tf_error_clear(&r->ctx);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, "/etc/nodir/a.pem", "x", 1, 0644), TF_EIO);
	assert_non_null(strstr(r->ctx.errmsg, "cannot open directory"));
	txn_free(t);
	assert_no_leftovers(r);
	assert_false(journal_exists(r));
}

/* A directory outside the root with one file, to check it stays untouched. */
static char *
make_outside(void)
{
	char *dir = tmpdir_new();

	write_str(dir, "victim", "precious\n");
	return dir;
}

static void
assert_outside_untouched(const char *dir)
{
	char *p = tf_path_join(dir, "victim"), buf[32] = "";
	struct dirent *de;
	struct stat st;
	size_t n = 0;
	DIR *d;
	int fd;

	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_true((fd = open(p, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 9);
	close(fd);
	assert_string_equal(buf, "precious\n");
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	assert_int_equal(n, 3); /* ".", "..", "victim": nothing created */
	free(p);
}

static void
test_symlink_at_target_not_followed(void **state)
{
	struct root *r = *state;
	char *out = make_outside(), *victim = tf_path_join(out, "victim");
	char *p = hostpath(r, "/etc/ssl/cert.pem"), *q = hostpath(r, "/etc/ssl/gone.pem");
	struct txn *t = NULL;
	struct stat st;

	write_str(r->dir, "etc/ssl/keep", "");
	make_symlink(r->dir, "etc/ssl/cert.pem", victim);
	make_symlink(r->dir, "etc/ssl/gone.pem", victim);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, "/etc/ssl/cert.pem", "mine", 4, 0644), 0);
	assert_int_equal(txn_remove(t, "/etc/ssl/gone.pem"), 0);
	assert_int_equal(txn_commit(t), 0);
	assert_int_equal(txn_end(t), 0);
	txn_free(t);
	/* the link was replaced by a file, and removed, not followed */
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
	assert_int_equal(lstat(q, &st), -1);
	assert_outside_untouched(out);
	rm_rf(out);
	free(out);
	free(victim);
	free(p);
	free(q);
}

static void
test_symlink_in_parent_stays_in_root(void **state)
{
	struct root *r = *state;
	char *out = make_outside(), *p;
	struct txn *t = NULL;
	struct stat st;

	/* absolute and relative links that would lead out of the root */
	write_str(r->dir, "etc/keep", "");
	make_symlink(r->dir, "etc/abs", out);
	make_symlink(r->dir, "etc/rel", "../../../../../../../../..");
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, "/etc/abs/victim", "evil", 4, 0644), TF_EIO);
	txn_free(t);
	tf_error_clear(&r->ctx);
	p = tf_asprintf("/etc/rel%s/victim", out);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, p, "evil", 4, 0644), TF_EIO);
	txn_free(t);
	free(p);
	tf_error_clear(&r->ctx);
	assert_outside_untouched(out);
	/* a link that stays inside the root is followed, inside the root */
	write_str(r->dir, "etc/pki/tls/certs/x.pem", "old");
	make_symlink(r->dir, "etc/ssl", "/etc/pki/tls");
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_int_equal(txn_write(t, "/etc/pki/tls/certs/x.pem", "other", 5, 0644), 0);
	assert_int_equal(txn_write(t, "/etc/ssl/certs/x.pem", "new", 3, 0644), 0);
	assert_int_equal(txn_count(t), 1); /* one file, two names: the last wins */
	assert_int_equal(txn_commit(t), 0);
	assert_int_equal(txn_end(t), 0);
	txn_free(t);
	p = hostpath(r, "/etc/pki/tls/certs/x.pem");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 3);
	free(p);
	assert_outside_untouched(out);
	rm_rf(out);
	free(out);
}

/* A child that takes the lock, says so on 'ready', and holds it until 'go'. */
static pid_t
hold_lock(struct root *r, int ready[2], int go[2])
{
	struct txn *t = NULL;
	pid_t pid;
	char c = 'x';

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		if (txn_begin(&t, &r->ctx, 0) != 0)
			_exit(1);
		(void)!write(ready[1], &c, 1);
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	return pid;
}

static void
release_lock(pid_t pid, int ready[2], int go[2])
{
	int status;

	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_lock_names_holder(void **state)
{
	struct root *r = *state;
	struct txn *t = NULL;
	int ready[2], go[2];
	char want[64];
	pid_t pid;

	pid = hold_lock(r, ready, go);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), TF_ELOCKED);
	assert_null(t);
	snprintf(want, sizeof(want), "(pid %ld, since 2026-01-01T00:00:00Z)", (long)pid);
	if (strstr(r->ctx.errmsg, want) == NULL)
		fail_msg("'%s' does not name the holder '%s'", r->ctx.errmsg, want);
	assert_int_equal(tf_exit_status(TF_ELOCKED), TF_EXIT_LOCKED);
	release_lock(pid, ready, go);
	tf_error_clear(&r->ctx);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	txn_free(t);
}

static void
test_lock_wait_honoured(void **state)
{
	struct root *r = *state;
	struct txn *t = NULL;
	int ready[2], go[2], status;
	double start;
	pid_t pid, helper;

	pid = hold_lock(r, ready, go);
	start = now_s();
	assert_int_equal(txn_begin(&t, &r->ctx, 1), TF_ELOCKED);
	assert_true(now_s() - start >= 1.0);
	assert_true(now_s() - start < 2.0);
	assert_non_null(strstr(r->ctx.errmsg, "after waiting 1 s"));
	tf_error_clear(&r->ctx);
	/* released 0.2 s from now: a run waiting up to 5 s gets it */
	assert_true((helper = fork()) >= 0);
	if (helper == 0) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		(void)!write(go[1], "x", 1);
		_exit(0);
	}
	start = now_s();
	assert_int_equal(txn_begin(&t, &r->ctx, 5), 0);
	assert_true(now_s() - start < 2.0);
	txn_free(t);
	assert_int_equal(waitpid(helper, &status, 0), helper);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

/* Run the change in a child with TRUSTFIX_FAULT=spec; its exit status. */
static int
child_run(struct root *r, const char *spec, bool recover_only)
{
	struct txn *t = NULL;
	int status, rc;
	bool committed;
	pid_t pid;

	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		setenv("TRUSTFIX_FAULT", spec, 1);
		if (recover_only) {
			rc = txn_begin(&t, &r->ctx, 0);
			txn_free(t);
		} else {
			rc = run_change(r, &committed);
		}
		_exit(rc == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * Recover in this process, twice, and check that the files are all old or
 * all new, that the answer is the same both times, and that a completed
 * change hands back its files and payload.
 */
static void
recover_and_check(struct root *r, const char *old, const char *new, const char *what)
{
	struct txn *t = NULL;
	char *first = NULL, *snap;
	const void *payload;
	enum txn_kind kind;
	bool pending = false;
	size_t len;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		tf_error_clear(&r->ctx);
		if (txn_begin(&t, &r->ctx, 0) != 0)
			fail_msg("%s: recovery failed: %s", what, r->ctx.errmsg);
		snap = snapshot(r);
		if (strcmp(snap, old) != 0 && strcmp(snap, new) != 0)
			fail_msg("%s: neither old nor new: %s", what, snap);
		if (txn_recovered_count(t) > 0) {
			assert_string_equal(snap, new);
			assert_int_equal(txn_recovered_count(t), NFILES);
			assert_string_equal(txn_recovered_path(t, 2, &kind), C);
			assert_int_equal(kind, TXN_REMOVE);
			payload = txn_recovered_payload(t, &len);
			assert_int_equal(len, sizeof(PAYLOAD));
			assert_memory_equal(payload, PAYLOAD, len);
			assert_non_null(strstr(txn_recovered(t), "completed"));
			/* staging waits until the recovered change is recorded */
			assert_int_equal(txn_write(t, "/etc/z", "z", 1, 0644), TF_ERROR);
		}
		if (pass == 0) {
			first = txn_recovered(t) ? tf_strdup(txn_recovered(t)) : NULL;
			pending = txn_recovered_count(t) > 0;
		} else if (pending) {
			/* the journal of a completed change stays until recorded */
			assert_non_null(txn_recovered(t));
			assert_string_equal(first, txn_recovered(t));
			assert_int_equal(txn_recovery_done(t), 0);
		} else {
			/* an undone change is not reported twice */
			assert_null(txn_recovered(t));
		}
		txn_free(t);
		free(snap);
	}
	tf_error_clear(&r->ctx);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_null(txn_recovered(t));
	txn_free(t);
	assert_false(journal_exists(r));
	assert_no_leftovers(r);
	free(first);
}

/*
 * The loops below test what a crashed or failing process leaves, which
 * fsync does not change; unless TMPDIR says otherwise their root is on a
 * tmpfs, where they take a second rather than many on a busy disk.
 */
static int
loop_setup(void **state)
{
	bool shm = getenv("TMPDIR") == NULL && access("/dev/shm", W_OK) == 0;
	int rc;

	if (shm)
		setenv("TMPDIR", "/dev/shm", 1);
	rc = root_setup(state);
	if (shm)
		unsetenv("TMPDIR");
	return rc;
}

static void
reference_states(struct root *r, char **old, char **new)
{
	bool committed;

	make_old(r);
	*old = snapshot(r);
	assert_int_equal(run_change(r, &committed), 0);
	*new = snapshot(r);
	assert_string_not_equal(*old, *new);
}

static void
test_crash_at_every_point(void **state)
{
	struct root *r = *state;
	const char *const *points = txn_fault_points();
	char *old, *new, *spec, *rspec;
	size_t i, npoints, cases = 0;
	unsigned n;
	int st;

	reference_states(r, &old, &new);
	for (npoints = 0; points[npoints] != NULL; npoints++)
		;
	for (i = 0; i < npoints; i++) {
		for (n = 1;; n++) {
			make_old(r);
			spec = tf_asprintf("crash@%s#%u", points[i], n);
			st = child_run(r, spec, false);
			if (st == 0) {
				/* the point is not met n times: the change went through */
				char *snap = snapshot(r);

				assert_string_equal(snap, new);
				free(snap);
				free(spec);
				break;
			}
			if (st != 137)
				fail_msg("%s: the child failed (%d) instead of crashing", spec, st);
			/* crash again, during recovery, at some point */
			rspec = tf_asprintf("crash@%s#1", points[cases % npoints]);
			st = child_run(r, rspec, true);
			assert_true(st == 0 || st == 137);
			recover_and_check(r, old, new, spec);
			cases++;
			free(rspec);
			free(spec);
		}
	}
	print_message("# %zu crash cases over %zu fault points, all consistent\n", cases, npoints);
	assert_true(cases >= npoints);
	free(old);
	free(new);
}

/* An injected error: a clear error and nothing changed, or a full success. */
static void
test_injected_errors(void **state)
{
	static const char *const specs[] = { "enospc@write", "enospc@create", "eio@write",
		"eio@fsync", "eio@rename", "eio@create", "eio@link", "eio@unlink", "eio@attr" };
	struct root *r = *state;
	char *old, *new, *spec, *snap;
	size_t i, failures = 0;
	bool committed;
	unsigned n, clean;
	int rc;

	reference_states(r, &old, &new);
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		/* until the fault no longer fires: 6 clean runs in a row */
		for (n = 1, clean = 0; clean < 6; n++) {
			make_old(r);
			spec = tf_asprintf("%s#%u", specs[i], n);
			setenv("TRUSTFIX_FAULT", spec, 1);
			tf_error_clear(&r->ctx);
			rc = run_change(r, &committed);
			unsetenv("TRUSTFIX_FAULT");
			snap = snapshot(r);
			clean = rc == 0 ? clean + 1 : 0;
			if (committed) {
				/* done; at worst dropping the journal failed (txn_end) */
				assert_string_equal(snap, new);
				assert_true(rc == 0 || rc == TF_EIO);
			} else {
				if (strcmp(snap, old) != 0)
					fail_msg("%s: changed after '%s': %s", spec, r->ctx.errmsg,
					    snap);
				assert_int_equal(rc, TF_EIO);
				if (strstr(r->ctx.errmsg, "No space left") == NULL &&
				    strstr(r->ctx.errmsg, "Input/output error") == NULL)
					fail_msg("%s: unclear error '%s'", spec, r->ctx.errmsg);
				assert_false(journal_exists(r));
				assert_no_leftovers(r);
				failures++;
			}
			recover_and_check(r, old, new, spec);
			free(snap);
			free(spec);
		}
	}
	assert_true(failures > 20);
	free(old);
	free(new);
}

/*
 * Two faults: a commit fails after renaming, then its undo fails or crashes
 * at some point. The next run must still find every file old or new.
 */
static void
test_failure_during_undo(void **state)
{
	static const char *const first[] = { "eio@rename#2", "eio@journal-applied#1" };
	/* and where the next run must take the files */
	static const struct {
		const char *spec;
		bool is_new;
	} extra[] = {
		{ "eio@rename#2,eio@journal-undo#1", true }, /* undo not journaled: forward */
		{ "eio@rename#2,eio@rename#3", false },      /* undo half done: finished */
		{ "eio@rename#3,eio@unlink#1", false },
		{ "eio@journal-applied#1,eio@fsync#13", false },
	};
	const char *const *points = txn_fault_points();
	struct root *r = *state;
	char *old, *new, *spec;
	size_t i, j;
	int st;

	reference_states(r, &old, &new);
	for (i = 0; i < 2; i++) {
		for (j = 0; points[j] != NULL; j++) {
			make_old(r);
			spec = tf_asprintf("%s,crash@%s#1", first[i], points[j]);
			st = child_run(r, spec, false);
			assert_true(st == 1 || st == 137);
			recover_and_check(r, old, new, spec);
			free(spec);
		}
	}
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		make_old(r);
		assert_int_equal(child_run(r, extra[i].spec, false), 1);
		assert_true(journal_exists(r));
		recover_and_check(r, old, new, extra[i].spec);
		spec = snapshot(r);
		assert_string_equal(spec, extra[i].is_new ? new : old);
		free(spec);
	}
	free(old);
	free(new);
}

/* A journal that is not one: removed when torn, refused when foreign. */
static void
test_garbage_journal(void **state)
{
	struct root *r = *state;
	struct txn *t = NULL;
	char junk[512];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 131 + 7);
	write_file(r->dir, "var/lib/trustfix/journal", junk, sizeof(junk));
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_non_null(strstr(txn_recovered(t), "incomplete journal"));
	txn_free(t);
	assert_false(journal_exists(r));
	write_str(r->dir, "var/lib/trustfix/journal", "trustfix-journal 2\nrun x 1 y\n");
	assert_int_equal(txn_begin(&t, &r->ctx, 0), TF_EIO);
	assert_non_null(strstr(r->ctx.errmsg, "not written by this version"));
	assert_true(journal_exists(r));
}

/* Crash after the journal is complete, then tear or damage the journal. */
static void
test_torn_journal_undone(void **state)
{
	struct root *r = *state;
	char *old, *new, *jpath = hostpath(r, TXN_STATE_DIR "/journal"), *snap;
	struct txn *t = NULL;
	struct stat st;
	int pass, fd;
	char c;

	reference_states(r, &old, &new);
	for (pass = 0; pass < 2; pass++) {
		make_old(r);
		assert_int_equal(child_run(r, "crash@rename#1", false), 137);
		assert_int_equal(stat(jpath, &st), 0);
		if (pass == 0) {
			/* cut in the middle of the commit record */
			assert_int_equal(truncate(jpath, st.st_size - 40), 0);
		} else {
			/* one bit flipped in the body */
			assert_true((fd = open(jpath, O_RDWR)) >= 0);
			assert_int_equal(pread(fd, &c, 1, st.st_size - 40), 1);
			c ^= 1;
			assert_int_equal(pwrite(fd, &c, 1, st.st_size - 40), 1);
			close(fd);
		}
		assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
		assert_non_null(txn_recovered(t));
		assert_non_null(strstr(txn_recovered(t), "before it was committed"));
		assert_int_equal(txn_recovered_count(t), 0);
		txn_free(t);
		snap = snapshot(r);
		assert_string_equal(snap, old);
		free(snap);
		assert_no_leftovers(r);
		assert_false(journal_exists(r));
	}
	free(jpath);
	free(old);
	free(new);
}

static void
test_stale_temp_link_removed_not_followed(void **state)
{
	struct root *r = *state;
	char *out = make_outside(), *victim = tf_path_join(out, "victim"), *snap, *old;
	struct txn *t = NULL;

	make_old(r);
	old = snapshot(r);
	/* a crash while writing the first temp file */
	assert_int_equal(child_run(r, "crash@temp-write#1", false), 137);
	make_symlink(r->dir, "etc/ssl/.a.pem.tf-0123456789abcdef", victim);
	make_symlink(r->dir, "etc/ssl/.a.pem.tf-0123456789abcdef.old", out);
	assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
	assert_non_null(strstr(txn_recovered(t), "undid"));
	txn_free(t);
	snap = snapshot(r);
	assert_string_equal(snap, old);
	assert_no_leftovers(r);
	assert_outside_untouched(out);
	rm_rf(out);
	free(out);
	free(victim);
	free(snap);
	free(old);
}

static void
test_fault_spec_checked(void **state)
{
	static const char *const bad[] = { "boom", "crash@nowhere", "crash@rename#0",
		"crash@rename#", "explode@rename", "crash@rename#x", "eio@fsync,," };
	const char *const *points = txn_fault_points();
	struct root *r = *state;
	struct txn *t = NULL;
	size_t i;
	char *spec;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("TRUSTFIX_FAULT", bad[i], 1);
		tf_error_clear(&r->ctx);
		assert_int_equal(txn_begin(&t, &r->ctx, 0), TF_EUSAGE);
		assert_non_null(strstr(r->ctx.errmsg, "TRUSTFIX_FAULT"));
	}
	for (i = 0; points[i] != NULL; i++) {
		spec = tf_asprintf("eio@%s#99,crash@%s#1000", points[i], points[i]);
		setenv("TRUSTFIX_FAULT", spec, 1);
		assert_int_equal(txn_begin(&t, &r->ctx, 0), 0);
		txn_free(t);
		free(spec);
	}
	unsetenv("TRUSTFIX_FAULT");
	assert_true(i >= 10);
}

/* core/fsutil: the helpers the transaction stands on. */
static void
test_fsutil(void **state)
{
	static const struct {
		const char *path, *dir, *name;
	} splits[] = {
		{ "/etc/ssl/a.pem", "/etc/ssl", "a.pem" },
		{ "/a.pem", "/", "a.pem" },
		{ "/etc//ssl//a", "/etc//ssl", "a" },
		{ "etc/a", NULL, NULL },
		{ "/etc/", NULL, NULL },
		{ "/etc/..", NULL, NULL },
		{ "/etc/.", NULL, NULL },
		{ "", NULL, NULL },
	};
	struct root *r = *state;
	char *dir, *name, *p, buf[8] = "";
	struct stat st;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		assert_int_equal(tf_path_split(splits[i].path, &dir, &name),
		    splits[i].dir != NULL ? 0 : -1);
		if (splits[i].dir != NULL) {
			assert_string_equal(dir, splits[i].dir);
			assert_string_equal(name, splits[i].name);
		}
		free(dir);
		free(name);
	}
	/* mkdir -p inside the root: parents 0755, the last one 'mode' */
	assert_int_equal(tf_mkdirs(&r->ctx, "/var/lib/x/", 0700), 0);
	assert_int_equal(tf_mkdirs(&r->ctx, "/var/lib/x", 0700), 0); /* exists: fine */
	p = hostpath(r, "/var/lib");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);
	p = hostpath(r, "/var/lib/x");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	free(p);
	/* a link out of the root is resolved inside it */
	make_symlink(r->dir, "var/out", "/");
	assert_int_equal(tf_mkdirs(&r->ctx, "/var/out/tf-mkdirs-test", 0700), 0);
	p = hostpath(r, "/tf-mkdirs-test");
	assert_int_equal(stat(p, &st), 0);
	free(p);
	assert_int_equal(stat("/tf-mkdirs-test", &st), -1);
	write_str(r->dir, "var/file", "");
	assert_int_equal(tf_mkdirs(&r->ctx, "/var/file/x", 0700), TF_EIO);
	tf_error_clear(&r->ctx);
	/* write-all and fsync of a directory */
	assert_true((fd = tf_dir_open(&r->ctx, "/var/lib")) >= 0);
	assert_int_equal(tf_fsync(fd), 0);
	close(fd);
	assert_int_equal(tf_dir_open(&r->ctx, "/var/file"), -1);
	assert_int_equal(errno, ENOTDIR);
	p = hostpath(r, "/var/file");
	assert_true((fd = open(p, O_RDWR)) >= 0);
	assert_int_equal(tf_write_all(fd, "abc", 3), 0);
	assert_int_equal(tf_pwrite_all(fd, "X", 1, 1), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf) - 1, 0), 3);
	assert_string_equal(buf, "aXc");
	close(fd);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_changes_all_files, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_abort_changes_nothing, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_owner_and_mode_kept, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_staging_twice_replaces, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths_refused, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_symlink_at_target_not_followed, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_symlink_in_parent_stays_in_root, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_lock_names_holder, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_lock_wait_honoured, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_crash_at_every_point, loop_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_injected_errors, loop_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_failure_during_undo, loop_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_garbage_journal, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_torn_journal_undone, loop_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_stale_temp_link_removed_not_followed,
		    root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_fault_spec_checked, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_fsutil, root_setup, root_teardown),
	};

	umask(022);
	unsetenv("TRUSTFIX_FAULT"); /* each test sets its own */
	return cmocka_run_group_tests_name("txn_commit", tests, NULL, NULL);
}
