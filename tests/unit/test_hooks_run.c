/*
 * tests/unit/test_hooks_run.c - the hook runner: which hooks run and in
 * which order, what they see (environment, argv, fds, stdin, context file),
 * output caps, time limits and what is reported.
 *
 * Some tests install this very program as a hook: started with argv[0] in a
 * hook folder, it prints what it was given instead of running the tests.
 */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include "helpers.h"
#include "hooks/hooks.h"

extern char **environ;

/* ---- this program as a hook ---- */

static void
put_record(const char *key, const char *value)
{
	fputs(key, stdout);
	fputc('=', stdout);
	fputs(value, stdout);
	fputc('\0', stdout);
}

/* Print argv, environ, open fds, the context file and stdin as "key=value\0". */
static int
self_hook(int argc, char **argv)
{
	char buf[4096], *ctx_text = NULL;
	struct dirent *de;
	struct stat st;
	const char *ctx_path = getenv("TRUSTFIX_CONTEXT");
	size_t len = 0, cap = 0;
	ssize_t n;
	DIR *d;
	int i;

	for (i = 0; i < argc; i++)
		put_record("arg", argv[i]);
	for (i = 0; environ[i] != NULL; i++)
		put_record("env", environ[i]);
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' || strtol(de->d_name, NULL, 10) == dirfd(d))
				continue;
			put_record("fd", de->d_name);
		}
		closedir(d);
	}
	if (getcwd(buf, sizeof(buf)) != NULL)
		put_record("cwd", buf);
	if (ctx_path != NULL && stat(ctx_path, &st) == 0) {
		snprintf(buf, sizeof(buf), "%o", (unsigned)(st.st_mode & 07777));
		put_record("ctxmode", buf);
		{
			char *dir = strdup(ctx_path), *slash = strrchr(dir, '/');

			*slash = '\0';
			if (stat(dir, &st) == 0) {
				snprintf(buf, sizeof(buf), "%o", (unsigned)(st.st_mode & 07777));
				put_record("dirmode", buf);
			}
			free(dir);
		}
		{
			FILE *f = fopen(ctx_path, "r");

			if (f != NULL) {
				while ((n = (ssize_t)fread(buf, 1, sizeof(buf), f)) > 0) {
					ctx_text = realloc(ctx_text, len + (size_t)n + 1);
					memcpy(ctx_text + len, buf, (size_t)n);
					len += (size_t)n;
					ctx_text[len] = '\0';
				}
				fclose(f);
			}
			put_record("ctx", ctx_text != NULL ? ctx_text : "");
			free(ctx_text);
		}
	}
	ctx_text = NULL;
	len = 0;
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		if (len + (size_t)n + 1 > cap) {
			cap = 2 * (len + (size_t)n + 1);
			ctx_text = realloc(ctx_text, cap);
		}
		memcpy(ctx_text + len, buf, (size_t)n);
		len += (size_t)n;
		ctx_text[len] = '\0';
	}
	put_record("stdin", ctx_text != NULL ? ctx_text : "");
	free(ctx_text);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- helpers ---- */

static char *
hook_path(struct root *r, const char *phase, const char *name)
{
	return tf_asprintf("%s/etc/trustfix/hooks/%s.d/%s", r->dir, phase, name);
}

/* Install a hook 'name' of 'phase' with 'body' and 'mode'. */
static void
add_hook(struct root *r, const char *phase, const char *name, const char *body, mode_t mode)
{
	char *rel = tf_asprintf("etc/trustfix/hooks/%s.d/%s", phase, name);
	char *path = tf_path_join(r->dir, rel);

	write_str(r->dir, rel, body);
	assert_int_equal(chmod(path, mode), 0);
	free(path);
	free(rel);
}

/* Install this test program as the hook 'name' of 'phase'. */
static void
add_self_hook(struct root *r, const char *phase, const char *name)
{
	struct tf_ctx ctx;
	char *exe = NULL, *rel = tf_asprintf("etc/trustfix/hooks/%s.d/%s", phase, name);
	char *path = tf_path_join(r->dir, rel);
	size_t len = 0;

	tf_ctx_init(&ctx);
	if (tf_read_input(&ctx, "/proc/self/exe", (size_t)1 << 30, &exe, &len) != 0)
		fail_msg("%s", ctx.errmsg);
	write_file(r->dir, rel, exe, len);
	assert_int_equal(chmod(path, 0700), 0);
	free(exe);
	free(path);
	free(rel);
}

static struct hooks_result *
run_phase(struct root *r, const char *phase, const struct hooks_env *env, int timeout, bool stop)
{
	struct hooks_result *res = NULL;
	int rc = hooks_run_phase(&res, &r->ctx, phase, env, timeout, stop);

	if (rc != 0)
		fail_msg("hooks_run_phase(%s): %d %s", phase, rc, r->ctx.errmsg);
	assert_non_null(res);
	return res;
}

/* The records "key=value" the self hook printed, with that key. */
struct records {
	char *v[64];
	size_t n;
};

static void
get_records(const char *out, size_t len, const char *key, struct records *rec)
{
	size_t off = 0, klen = strlen(key);

	rec->n = 0;
	while (off < len) {
		const char *s = out + off;
		size_t l = strnlen(s, len - off);

		if (l > klen && strncmp(s, key, klen) == 0 && s[klen] == '=') {
			assert_true(rec->n < 64);
			rec->v[rec->n++] = tf_strndup(s + klen + 1, l - klen - 1);
		}
		off += l + 1;
	}
}

static void
records_release(struct records *rec)
{
	size_t i;

	for (i = 0; i < rec->n; i++)
		free(rec->v[i]);
	rec->n = 0;
}

static bool
has_record(const struct records *rec, const char *value)
{
	size_t i;

	for (i = 0; i < rec->n; i++)
		if (strcmp(rec->v[i], value) == 0)
			return true;
	return false;
}

static char *
read_root_file(struct root *r, const char *name)
{
	char *path = tf_path_join(r->dir, name), *buf = NULL;
	size_t len;

	if (tf_read_input(&r->ctx, path, 1 << 20, &buf, &len) != 0)
		buf = NULL;
	tf_error_clear(&r->ctx);
	free(path);
	return buf;
}

static bool
exists_in_root(struct root *r, const char *name)
{
	char *path = tf_path_join(r->dir, name);
	struct stat st;
	bool is = lstat(path, &st) == 0;

	free(path);
	return is;
}

static const char *const order_hook = "#!/bin/sh\n"
                                      "echo \"${0##*/}\" >> \"$TRUSTFIX_ROOT/order\"\n";

/* ---- tests ---- */

static void
test_order_and_skipped_names(void **state)
{
	static const char *const runnable[] = { "b", "a", "10-x", "9", "A", "_z", "-y" };
	static const char *const expected[] = { "-y", "10-x", "9", "A", "_z", "a", "b" };
	static const char *const skipped[] = { "x.dpkg-old", "y~", ".hidden", "with.dot", "c.sh",
		"x.dpkg-dist" };
	struct root *r = *state;
	struct hooks_list *list = NULL;
	struct hooks_result *res;
	char *order, *dir;
	size_t i;

	for (i = 0; i < sizeof(runnable) / sizeof(runnable[0]); i++)
		add_hook(r, HOOKS_POST_CHANGE, runnable[i], order_hook, 0755);
	for (i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
		add_hook(r, HOOKS_POST_CHANGE, skipped[i], order_hook, 0755);
	/* not executable, a folder, a link (under a root: never followed) */
	add_hook(r, HOOKS_POST_CHANGE, "noexec", order_hook, 0644);
	dir = hook_path(r, HOOKS_POST_CHANGE, "folder");
	assert_int_equal(mkdir(dir, 0755), 0);
	free(dir);
	make_symlink(r->dir, "etc/trustfix/hooks/post-change.d/link", "a");
	/* another phase's hooks are not this phase's */
	add_hook(r, HOOKS_PRE_CHANGE, "other", order_hook, 0755);

	assert_int_equal(hooks_list(&list, &r->ctx, HOOKS_POST_CHANGE), 0);
	assert_int_equal(hooks_list_count(list), 7);
	for (i = 0; i < 7; i++)
		assert_string_equal(hooks_list_name(list, i), expected[i]);
	assert_null(hooks_list_name(list, 7));
	assert_non_null(strstr(hooks_list_dir(list), "/etc/trustfix/hooks/post-change.d"));
	{
		static const char *const why[] = {
			".hidden: name not made of A-Z a-z 0-9 _ -",
			"c.sh: name not made of A-Z a-z 0-9 _ -",
			"folder: not a regular file",
			"link: symbolic link under --root",
			"noexec: not executable",
			"with.dot: name not made of A-Z a-z 0-9 _ -",
			"x.dpkg-dist: name not made of A-Z a-z 0-9 _ -",
			"x.dpkg-old: name not made of A-Z a-z 0-9 _ -",
			"y~: name not made of A-Z a-z 0-9 _ -",
		};

		assert_int_equal(hooks_list_skipped_count(list), 9);
		for (i = 0; i < 9; i++)
			assert_string_equal(hooks_list_skipped(list, i), why[i]);
		assert_null(hooks_list_skipped(list, 9));
	}
	hooks_list_free(list);

	res = run_phase(r, HOOKS_POST_CHANGE, NULL, 5, false);
	assert_string_equal(hooks_result_phase(res), HOOKS_POST_CHANGE);
	assert_int_equal(hooks_result_count(res), 7);
	assert_int_equal(hooks_result_failed(res), 0);
	assert_int_equal(hooks_result_first_failure(res), -1);
	for (i = 0; i < 7; i++) {
		assert_string_equal(hooks_result_name(res, i), expected[i]);
		assert_true(hooks_result_ran(res, i));
		assert_int_equal(hooks_result_exit_status(res, i), 0);
		assert_string_equal(hooks_result_describe(res, i), "exit status 0");
	}
	hooks_result_free(res);
	order = read_root_file(r, "order");
	assert_non_null(order);
	assert_string_equal(order, "-y\n10-x\n9\nA\n_z\na\nb\n");
	free(order);
}

static void
test_no_hooks_and_bad_phase(void **state)
{
	struct root *r = *state;
	struct hooks_list *list = NULL;
	struct hooks_result *res = NULL;

	/* no folder at all */
	assert_int_equal(hooks_list(&list, &r->ctx, HOOKS_ON_FAILURE), 0);
	assert_int_equal(hooks_list_count(list), 0);
	hooks_list_free(list);
	res = run_phase(r, HOOKS_POST_ROLLBACK, NULL, 1, true);
	assert_int_equal(hooks_result_count(res), 0);
	assert_int_equal(hooks_result_failed(res), 0);
	hooks_result_free(res);
	res = NULL;

	assert_false(hooks_phase_is_valid("post-change.d"));
	assert_false(hooks_phase_is_valid("../x"));
	assert_true(hooks_phase_is_valid(HOOKS_PRE_CHANGE));
	assert_int_equal(hooks_run_phase(&res, &r->ctx, "../../tmp", NULL, 1, false), TF_EUSAGE);
	assert_null(res);
	assert_non_null(strstr(r->ctx.errmsg, "unknown hook phase"));
	hooks_result_free(NULL);
	hooks_list_free(NULL);
}

static const char *const stores[] = { "/etc/ssl/certs/ca-certificates.crt", "/a b;c" };
static const char *const added[] = { "ab12", "CD34" };
static const char *const removed[] = { "ef56" };
static const char *const added_files[] = { "/usr/share/ca-certificates/new.crt", "/x/$(id);y.crt" };
static const char *const removed_files[] = { "/etc/ssl/certs/old.pem" };
static const char *const args[] = { "unit;reboot", "$(id)", "a\nb", "`id`" };

static const struct hooks_env hostile_env = {
	.change_id = "c1; rm -rf / $(id)",
	.stores = stores,
	.nstores = 2,
	.client_cert = "/etc/$(id)\nnext",
	.added = added,
	.nadded = 2,
	.removed = removed,
	.nremoved = 1,
	.added_files = added_files,
	.nadded_files = 2,
	.removed_files = removed_files,
	.nremoved_files = 1,
	.args = args,
	.nargs = 4,
	.dry_run = true,
};

static void
test_environment_is_exactly_given(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;
	struct records rec;
	const char *out;
	char *want, *path;
	size_t len, i;

	/* a hostile environment in the caller: none of it may reach the hook */
	setenv("LD_PRELOAD", "x", 1);
	setenv("BASH_ENV", "y", 1);
	setenv("ENV", "z", 1);
	setenv("TRUSTFIX_CHANGE", "inherited", 1);
	add_self_hook(r, HOOKS_POST_CHANGE, "dump");
	res = run_phase(r, HOOKS_POST_CHANGE, &hostile_env, 10, false);
	unsetenv("LD_PRELOAD");
	unsetenv("BASH_ENV");
	unsetenv("ENV");
	unsetenv("TRUSTFIX_CHANGE");
	assert_int_equal(hooks_result_count(res), 1);
	out = hooks_result_stdout(res, 0, &len);
	if (hooks_result_is_failure(res, 0))
		fail_msg("self hook: %s; stderr: %s", hooks_result_describe(res, 0),
		    hooks_result_stderr(res, 0, NULL));

	get_records(out, len, "env", &rec);
	assert_int_equal(rec.n, 11);
	assert_true(has_record(&rec, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"));
	assert_true(has_record(&rec, "LANG=C"));
	assert_true(has_record(&rec, "TRUSTFIX_PHASE=post-change"));
	assert_true(has_record(&rec, "TRUSTFIX_CHANGE=c1; rm -rf / $(id)"));
	want = tf_asprintf("TRUSTFIX_ROOT=%s", r->dir);
	assert_true(has_record(&rec, want));
	free(want);
	assert_true(has_record(&rec, "TRUSTFIX_STORES=/etc/ssl/certs/ca-certificates.crt /a b;c"));
	assert_true(has_record(&rec, "TRUSTFIX_CLIENT_CERT=/etc/$(id)\nnext"));
	assert_true(has_record(&rec, "TRUSTFIX_ADDED=ab12 CD34"));
	assert_true(has_record(&rec, "TRUSTFIX_REMOVED=ef56"));
	assert_true(has_record(&rec, "TRUSTFIX_DRY_RUN=1"));
	path = NULL;
	for (i = 0; i < rec.n; i++)
		if (strncmp(rec.v[i], "TRUSTFIX_CONTEXT=/", 18) == 0)
			path = tf_strdup(rec.v[i] + 17);
	assert_non_null(path);
	records_release(&rec);

	/* argv: the path, then the fixed arguments as they are */
	get_records(out, len, "arg", &rec);
	assert_int_equal(rec.n, 5);
	want = hook_path(r, HOOKS_POST_CHANGE, "dump");
	assert_string_equal(rec.v[0], want);
	free(want);
	for (i = 0; i < 4; i++)
		assert_string_equal(rec.v[i + 1], args[i]);
	records_release(&rec);

	get_records(out, len, "cwd", &rec);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.v[0], "/");
	records_release(&rec);

	/* stdin: the files, as update-ca-certificates hooks read them */
	get_records(out, len, "stdin", &rec);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.v[0],
	    "+/usr/share/ca-certificates/new.crt\n"
	    "+/x/$(id);y.crt\n"
	    "-/etc/ssl/certs/old.pem\n");
	records_release(&rec);

	/* the context file: private, exact, and gone afterwards */
	get_records(out, len, "ctxmode", &rec);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.v[0], "600");
	records_release(&rec);
	get_records(out, len, "dirmode", &rec);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.v[0], "700");
	records_release(&rec);
	get_records(out, len, "ctx", &rec);
	assert_int_equal(rec.n, 1);
	{
		json_error_t jerr;
		json_t *o = json_loads(rec.v[0], 0, &jerr);

		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "phase")), "post-change");
		assert_string_equal(json_string_value(json_object_get(o, "change")),
		    "c1; rm -rf / $(id)");
		assert_string_equal(json_string_value(json_object_get(o, "root")), r->dir);
		assert_string_equal(json_string_value(json_object_get(o, "client_cert")),
		    "/etc/$(id)\nnext");
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(o, "stores"), 1)), "/a b;c");
		assert_int_equal(json_array_size(json_object_get(o, "added")), 2);
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(o, "added"), 1)), "CD34");
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(o, "removed"), 0)), "ef56");
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(o, "added_files"), 1)),
		    "/x/$(id);y.crt");
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(o, "removed_files"), 0)),
		    "/etc/ssl/certs/old.pem");
		assert_true(json_is_true(json_object_get(o, "dry_run")));
		json_decref(o);
	}
	records_release(&rec);
	{
		struct stat st;
		char *slash;

		assert_int_equal(stat(path, &st), -1);
		slash = strrchr(path, '/');
		*slash = '\0';
		assert_int_equal(stat(path, &st), -1);
	}
	free(path);
	hooks_result_free(res);
}

static void
test_only_fds_0_to_2(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;
	struct records rec;
	const char *out;
	size_t len;
	int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, on purpose */
	int leak2 = dup2(leak, 40);

	assert_true(leak >= 3);
	assert_int_equal(leak2, 40);
	add_self_hook(r, HOOKS_PRE_CHANGE, "fds");
	res = run_phase(r, HOOKS_PRE_CHANGE, NULL, 10, false);
	close(leak);
	close(leak2);
	out = hooks_result_stdout(res, 0, &len);
	assert_false(hooks_result_is_failure(res, 0));
	get_records(out, len, "fd", &rec);
	if (rec.n != 3) {
		size_t i;

		for (i = 0; i < rec.n; i++)
			print_message("# fd %s\n", rec.v[i]);
		fail_msg("the hook has %zu fds open, not 3", rec.n);
	}
	assert_true(has_record(&rec, "0"));
	assert_true(has_record(&rec, "1"));
	assert_true(has_record(&rec, "2"));
	records_release(&rec);
	/* no env given: empty values, dry run 0, no stdin */
	get_records(out, len, "env", &rec);
	assert_true(has_record(&rec, "TRUSTFIX_CHANGE="));
	assert_true(has_record(&rec, "TRUSTFIX_ADDED="));
	assert_true(has_record(&rec, "TRUSTFIX_DRY_RUN=0"));
	assert_true(has_record(&rec, "TRUSTFIX_PHASE=pre-change"));
	records_release(&rec);
	get_records(out, len, "stdin", &rec);
	assert_int_equal(rec.n, 1);
	assert_string_equal(rec.v[0], "");
	records_release(&rec);
	hooks_result_free(res);
}

static void
test_stdin_not_read(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;
	const char **files = calloc(4000, sizeof(*files));
	struct hooks_env env = { .added_files = files, .nadded_files = 4000 };
	char name[200];
	size_t i;

	/* ~400 KiB of stdin, more than a pipe holds, to a hook that never reads it */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	name[0] = '/';
	for (i = 0; i < 4000; i++)
		files[i] = name;
	add_hook(r, HOOKS_POST_CHANGE, "deaf", "#!/bin/sh\nexit 0\n", 0755);
	add_hook(r, HOOKS_POST_CHANGE, "lines", "#!/bin/sh\nwc -l\n", 0755);
	res = run_phase(r, HOOKS_POST_CHANGE, &env, 10, false);
	assert_int_equal(hooks_result_failed(res), 0);
	assert_string_equal(hooks_result_stdout(res, 1, NULL), "4000\n");
	assert_true(hooks_result_duration_ms(res, 0) < 5000);
	hooks_result_free(res);
	free(files);
}

static void
test_output_cap(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;
	const char *out;
	size_t len, i;

	add_hook(r, HOOKS_POST_CHANGE, "loud",
	    "#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\000' a\necho oops >&2\n", 0755);
	res = run_phase(r, HOOKS_POST_CHANGE, NULL, 10, false);
	assert_false(hooks_result_is_failure(res, 0));
	out = hooks_result_stdout(res, 0, &len);
	assert_int_equal(len, HOOKS_OUTPUT_MAX);
	for (i = 0; i < len; i++)
		if (out[i] != 'a')
			fail_msg("byte %zu is %d", i, out[i]);
	assert_int_equal(out[len], '\0');
	assert_true(hooks_result_stdout_truncated(res, 0));
	assert_string_equal(hooks_result_stderr(res, 0, &len), "oops\n");
	assert_int_equal(len, 5);
	assert_false(hooks_result_stderr_truncated(res, 0));
	hooks_result_free(res);

	/* a hook that writes without end is still stopped at its time limit */
	add_hook(r, HOOKS_ON_FAILURE, "endless", "#!/bin/sh\nexec yes\n", 0755);
	res = run_phase(r, HOOKS_ON_FAILURE, NULL, 1, false);
	assert_true(hooks_result_timed_out(res, 0));
	assert_true(hooks_result_stdout_truncated(res, 0));
	hooks_result_stdout(res, 0, &len);
	assert_int_equal(len, HOOKS_OUTPUT_MAX);
	assert_true(hooks_result_duration_ms(res, 0) < 1000 + HOOKS_KILL_GRACE_MS + 1000);
	hooks_result_free(res);
}

/* Whether the process is gone (or a zombie waiting for a reaper that is not us). */
static bool
is_gone(pid_t pid)
{
	char path[64], *stat = NULL, *paren;
	struct tf_ctx ctx;
	size_t len;
	bool is;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return true;
	tf_ctx_init(&ctx);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (tf_read_input(&ctx, path, 4096, &stat, &len) != 0)
		return true;
	paren = strrchr(stat, ')');
	is = paren != NULL && (paren[2] == 'Z' || paren[2] == 'X');
	free(stat);
	return is;
}

static void
test_timeout_kills_the_group(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char *pidtext;
	long ms;
	pid_t child;
	int i;

	/* the hook dies on SIGTERM, its child ignores it and keeps the pipes open */
	add_hook(r, HOOKS_POST_CHANGE, "stuck",
	    "#!/bin/sh\n"
	    "(trap '' TERM; exec sleep 30) &\n"
	    "echo $! > \"$TRUSTFIX_ROOT/child.pid\"\n"
	    "echo started\n"
	    "sleep 30\n",
	    0755);
	add_hook(r, HOOKS_POST_CHANGE, "then", "#!/bin/sh\necho ran\n", 0755);
	res = run_phase(r, HOOKS_POST_CHANGE, NULL, 1, false);
	assert_int_equal(hooks_result_count(res), 2);
	assert_true(hooks_result_timed_out(res, 0));
	assert_true(hooks_result_is_failure(res, 0));
	assert_string_equal(hooks_result_describe(res, 0), "timed out after 1 s");
	assert_int_equal(hooks_result_exit_status(res, 0), -1);
	assert_int_equal(hooks_result_signal(res, 0), SIGTERM);
	assert_string_equal(hooks_result_stdout(res, 0, NULL), "started\n");
	ms = hooks_result_duration_ms(res, 0);
	assert_true(ms >= 1000);
	assert_true(ms < 1000 + HOOKS_KILL_GRACE_MS + 2000);
	/* without stop_on_failure the next hook runs */
	assert_false(hooks_result_timed_out(res, 1));
	assert_string_equal(hooks_result_stdout(res, 1, NULL), "ran\n");
	assert_int_equal(hooks_result_failed(res), 1);
	assert_int_equal(hooks_result_first_failure(res), 0);
	hooks_result_free(res);

	pidtext = read_root_file(r, "child.pid");
	assert_non_null(pidtext);
	child = (pid_t)strtol(pidtext, NULL, 10);
	free(pidtext);
	assert_true(child > 1);
	for (i = 0; i < 40 && !is_gone(child); i++)
		nanosleep(&ts, NULL);
	if (!is_gone(child)) {
		kill(child, SIGKILL);
		fail_msg("the hook's child %d survived the time limit", (int)child);
	}
}

static void
test_timeout_hook_ignoring_term(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;

	add_hook(r, HOOKS_ON_FAILURE, "deaf", "#!/bin/sh\ntrap '' TERM\nsleep 30\n", 0755);
	res = run_phase(r, HOOKS_ON_FAILURE, NULL, 1, false);
	assert_true(hooks_result_timed_out(res, 0));
	assert_int_equal(hooks_result_signal(res, 0), SIGKILL);
	assert_true(hooks_result_duration_ms(res, 0) >= 1000 + HOOKS_KILL_GRACE_MS);
	hooks_result_free(res);

	/* a hook that stops on SIGTERM, alone in its group: no grace period wasted */
	add_hook(r, HOOKS_PRE_CHANGE, "slow", "#!/bin/sh\nexec sleep 30\n", 0755);
	res = run_phase(r, HOOKS_PRE_CHANGE, NULL, 1, false);
	assert_true(hooks_result_timed_out(res, 0));
	assert_int_equal(hooks_result_signal(res, 0), SIGTERM);
	assert_true(hooks_result_duration_ms(res, 0) >= 1000);
	assert_true(hooks_result_duration_ms(res, 0) < 1000 + HOOKS_KILL_GRACE_MS);
	hooks_result_free(res);
}

static void
test_left_behind_process_does_not_block(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;
	char *pidtext;
	pid_t bg;

	/* a "daemon" started by the hook keeps its stdout and stderr open */
	add_hook(r, HOOKS_POST_CHANGE, "starts-daemon",
	    "#!/bin/sh\nsleep 20 &\necho $! > \"$TRUSTFIX_ROOT/bg.pid\"\necho started\n", 0755);
	res = run_phase(r, HOOKS_POST_CHANGE, NULL, 10, false);
	assert_false(hooks_result_is_failure(res, 0));
	assert_string_equal(hooks_result_stdout(res, 0, NULL), "started\n");
	assert_true(hooks_result_duration_ms(res, 0) < 5000);
	hooks_result_free(res);
	pidtext = read_root_file(r, "bg.pid");
	assert_non_null(pidtext);
	bg = (pid_t)strtol(pidtext, NULL, 10);
	free(pidtext);
	/* not the runner's business to stop it: it was not timed out */
	assert_true(bg > 1);
	assert_false(is_gone(bg));
	kill(bg, SIGKILL);
}

static void
test_exit_status_signal_duration(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;

	add_hook(r, HOOKS_POST_ROLLBACK, "a-exit3", "#!/bin/sh\necho bad >&2\nexit 3\n", 0755);
	add_hook(r, HOOKS_POST_ROLLBACK, "b-signal", "#!/bin/sh\nkill -s USR1 $$\n", 0755);
	add_hook(r, HOOKS_POST_ROLLBACK, "c-slow", "#!/bin/sh\nsleep 0.3\n", 0755);
	add_hook(r, HOOKS_POST_ROLLBACK, "d-noexec", "#!/nonexistent/interpreter\n", 0755);
	res = run_phase(r, HOOKS_POST_ROLLBACK, NULL, 5, false);
	assert_int_equal(hooks_result_count(res), 4);

	assert_int_equal(hooks_result_exit_status(res, 0), 3);
	assert_int_equal(hooks_result_signal(res, 0), 0);
	assert_true(hooks_result_is_failure(res, 0));
	assert_string_equal(hooks_result_describe(res, 0), "exit status 3");
	assert_string_equal(hooks_result_stderr(res, 0, NULL), "bad\n");

	assert_int_equal(hooks_result_exit_status(res, 1), -1);
	assert_int_equal(hooks_result_signal(res, 1), SIGUSR1);
	assert_true(hooks_result_is_failure(res, 1));
	assert_false(hooks_result_timed_out(res, 1));
	{
		char *want = tf_asprintf("killed by signal %d", SIGUSR1);

		assert_string_equal(hooks_result_describe(res, 1), want);
		free(want);
	}

	assert_false(hooks_result_is_failure(res, 2));
	assert_true(hooks_result_duration_ms(res, 2) >= 300);
	assert_true(hooks_result_duration_ms(res, 2) < 3000);

	assert_true(hooks_result_is_failure(res, 3));
	assert_int_equal(hooks_result_exit_status(res, 3), 127);
	assert_non_null(strstr(hooks_result_describe(res, 3), "cannot execute"));

	assert_int_equal(hooks_result_failed(res), 3);
	assert_int_equal(hooks_result_first_failure(res), 0);
	/* out of range */
	assert_null(hooks_result_name(res, 4));
	assert_false(hooks_result_ran(res, 4));
	hooks_result_free(res);
}

static void
test_veto_stops_the_rest(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;

	add_hook(r, HOOKS_PRE_CHANGE, "10-check", "#!/bin/sh\necho 'not today' >&2\nexit 1\n",
	    0755);
	add_hook(r, HOOKS_PRE_CHANGE, "20-after", "#!/bin/sh\ntouch \"$TRUSTFIX_ROOT/after\"\n",
	    0755);
	res = run_phase(r, HOOKS_PRE_CHANGE, NULL, 5, true);
	assert_int_equal(hooks_result_count(res), 2);
	assert_int_equal(hooks_result_failed(res), 1);
	assert_int_equal(hooks_result_first_failure(res), 0);
	assert_string_equal(hooks_result_stderr(res, 0, NULL), "not today\n");
	assert_false(hooks_result_ran(res, 1));
	assert_false(hooks_result_is_failure(res, 1));
	assert_string_equal(hooks_result_describe(res, 1), "not run");
	assert_int_equal(hooks_result_exit_status(res, 1), -1);
	assert_false(exists_in_root(r, "after"));
	hooks_result_free(res);
}

static void
test_bad_env_refused(void **state)
{
	struct root *r = *state;
	struct hooks_result *res = NULL;
	static const char *const bad_fp[] = { "ab cd" };
	static const char *const bad_file[] = { "/x\n-/etc/passwd" };
	struct hooks_env env = { .added = bad_fp, .nadded = 1 };

	add_hook(r, HOOKS_POST_CHANGE, "x", "#!/bin/sh\ntouch \"$TRUSTFIX_ROOT/ran\"\n", 0755);
	assert_int_equal(hooks_run_phase(&res, &r->ctx, HOOKS_POST_CHANGE, &env, 1, false),
	    TF_EINVALID);
	assert_null(res);
	tf_error_clear(&r->ctx);
	memset(&env, 0, sizeof(env));
	env.removed_files = bad_file;
	env.nremoved_files = 1;
	assert_int_equal(hooks_run_phase(&res, &r->ctx, HOOKS_POST_CHANGE, &env, 1, false),
	    TF_EINVALID);
	assert_null(res);
	tf_error_clear(&r->ctx);
	memset(&env, 0, sizeof(env));
	env.change_id = "not \xff UTF-8";
	assert_int_equal(hooks_run_phase(&res, &r->ctx, HOOKS_POST_CHANGE, &env, 1, false),
	    TF_EINVALID);
	assert_null(res);
	assert_false(exists_in_root(r, "ran"));
}

/* The example hook, from the source tree ($TF_SRC or "."), as the text of a hook. */
static char *
example_text(const char *name)
{
	const char *src = getenv("TF_SRC") != NULL ? getenv("TF_SRC") : ".";
	char *path = tf_asprintf("%s/hooks/examples/%s", src, name), *buf = NULL;
	struct tf_ctx ctx;
	size_t len;

	tf_ctx_init(&ctx);
	if (tf_read_input(&ctx, path, 1 << 20, &buf, &len) != 0)
		fail_msg("%s (run from the source tree or set TF_SRC)", ctx.errmsg);
	free(path);
	return buf;
}

static void
test_examples(void **state)
{
	struct root *r = *state;
	struct hooks_result *res;
	char *text, *pidfile = tf_path_join(r->dir, "daemon.pid"), *pidtext;
	const char *argv1[] = { pidfile };
	struct hooks_env env = { .args = argv1, .nargs = 1, .dry_run = true };
	int status = 0;
	pid_t daemon;

	/* a "daemon" that dies of the SIGHUP it is sent */
	if ((daemon = fork()) == 0) {
		sleep(30); /* gone by itself if the test fails first */
		_exit(0);
	}
	assert_true(daemon > 0);
	pidtext = tf_asprintf("%d\n", (int)daemon);
	write_str(r->dir, "daemon.pid", pidtext);
	free(pidtext);
	text = example_text("sighup-pidfile");
	add_hook(r, HOOKS_POST_CHANGE, "sighup-pidfile", text, 0755);
	free(text);

	/* dry run: checked, said, not done */
	res = run_phase(r, HOOKS_POST_CHANGE, &env, 10, false);
	if (hooks_result_is_failure(res, 0))
		fail_msg("%s: %s", hooks_result_describe(res, 0),
		    hooks_result_stderr(res, 0, NULL));
	assert_non_null(strstr(hooks_result_stdout(res, 0, NULL), "would send SIGHUP"));
	hooks_result_free(res);
	assert_int_equal(waitpid(daemon, &status, WNOHANG), 0);

	env.dry_run = false;
	res = run_phase(r, HOOKS_POST_CHANGE, &env, 10, false);
	assert_false(hooks_result_is_failure(res, 0));
	assert_non_null(strstr(hooks_result_stdout(res, 0, NULL), "sent SIGHUP"));
	hooks_result_free(res);
	assert_int_equal(waitpid(daemon, &status, 0), daemon);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGHUP);

	/* the process is gone now: refused */
	res = run_phase(r, HOOKS_POST_CHANGE, &env, 10, false);
	assert_int_equal(hooks_result_exit_status(res, 0), 1);
	assert_non_null(strstr(hooks_result_stderr(res, 0, NULL), "is not running"));
	hooks_result_free(res);

	/* each example checks its arguments */
	text = example_text("restart-systemd-unit");
	add_hook(r, HOOKS_PRE_CHANGE, "a", text, 0755);
	free(text);
	text = example_text("restart-service");
	add_hook(r, HOOKS_PRE_CHANGE, "b", text, 0755);
	free(text);
	text = example_text("sighup-pidfile");
	add_hook(r, HOOKS_PRE_CHANGE, "c", text, 0755);
	free(text);
	res = run_phase(r, HOOKS_PRE_CHANGE, NULL, 10, false);
	assert_int_equal(hooks_result_failed(res), 3);
	assert_int_equal(hooks_result_exit_status(res, 0), 2);
	assert_non_null(strstr(hooks_result_stderr(res, 0, NULL), "usage: a UNIT"));
	assert_int_equal(hooks_result_exit_status(res, 1), 2);
	assert_non_null(strstr(hooks_result_stderr(res, 1, NULL), "usage: b NAME"));
	assert_int_equal(hooks_result_exit_status(res, 2), 2);
	assert_non_null(strstr(hooks_result_stderr(res, 2, NULL), "usage: c PIDFILE"));
	hooks_result_free(res);
	{
		const char *bad[] = { "x;reboot" };
		struct hooks_env benv = { .args = bad, .nargs = 1 };

		res = run_phase(r, HOOKS_PRE_CHANGE, &benv, 10, false);
		assert_int_equal(hooks_result_failed(res), 3);
		assert_non_null(strstr(hooks_result_stderr(res, 0, NULL),
		    "'x;reboot' is not a systemd unit name"));
		assert_non_null(
		    strstr(hooks_result_stderr(res, 1, NULL), "'x;reboot' is not a service name"));
		assert_non_null(strstr(hooks_result_stderr(res, 2, NULL), "not an absolute path"));
		hooks_result_free(res);
	}
	free(pidfile);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_skipped_names, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_no_hooks_and_bad_phase, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_environment_is_exactly_given, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_only_fds_0_to_2, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_stdin_not_read, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_output_cap, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_the_group, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_hook_ignoring_term, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_left_behind_process_does_not_block, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_exit_status_signal_duration, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_veto_stops_the_rest, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_bad_env_refused, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_examples, root_setup, root_teardown),
	};

	if (argc > 0 && strstr(argv[0], "/etc/trustfix/hooks/") != NULL)
		return self_hook(argc, argv);
	return cmocka_run_group_tests_name("hooks_run", tests, NULL, NULL);
}
