/*
 * tests/unit/test_audit_helpers.h - what the audit tests share: the git
 * command line run on the repository (tests only), recording shortcuts, and
 * copies of what the audit API hands to its callbacks.
 */
#ifndef TF_TEST_AUDIT_HELPERS_H
#define TF_TEST_AUDIT_HELPERS_H

#include <sys/wait.h>
#include <time.h>

#include "helpers.h"

#include "audit/audit.h"

/* ---- the git command line (tests only) ---- */

/* Run "git --git-dir=<repo> ARGS" and return its stdout; *status gets its exit status. */
static inline char *git_run(struct root *r, int *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline char *
git_run(struct root *r, int *status, const char *fmt, ...)
{
	char *args, *cmd, buf[4096];
	FILE *p;
	size_t n, len = 0;
	char *out = tf_strdup("");
	va_list ap;
	int rc;

	va_start(ap, fmt);
	assert_true(vasprintf(&args, fmt, ap) >= 0);
	va_end(ap);
	cmd = tf_asprintf("GIT_CONFIG_NOSYSTEM=1 git --git-dir='%s%s' %s", r->dir, AUDIT_REPO_PATH,
	    args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
		out = tf_realloc(out, len + n + 1);
		memcpy(out + len, buf, n);
		len += n;
		out[len] = '\0';
	}
	rc = pclose(p);
	*status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	free(cmd);
	free(args);
	return out;
}

/* The same, asserting that git succeeds. */
static inline char *git_ok(struct root *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline char *
git_ok(struct root *r, const char *fmt, ...)
{
	char *args, *out;
	va_list ap;
	int status;

	va_start(ap, fmt);
	assert_true(vasprintf(&args, fmt, ap) >= 0);
	va_end(ap);
	out = git_run(r, &status, "%s", args);
	if (status != 0)
		fail_msg("git %s: exit %d: %s", args, status, out);
	free(args);
	return out;
}

static inline void
assert_git_equal(struct root *r, const char *expect, const char *args)
{
	char *out = git_ok(r, "%s", args);

	if (strcmp(out, expect) != 0)
		fail_msg("git %s: expected\n%s\ngot\n%s", args, expect, out);
	free(out);
}

static inline void
assert_fsck_clean(struct root *r)
{
	int status;
	char *out = git_run(r, &status, "fsck --full --strict 2>&1");

	if (status != 0)
		fail_msg("git fsck --full: exit %d: %s", status, out);
	free(out);
}

/* Loose and packed objects of the repository. */
static inline long
count_objects(struct root *r)
{
	char *out = git_ok(r, "count-objects -v"), *p;
	long n = 0;

	assert_non_null(p = strstr(out, "count: "));
	n += strtol(p + 7, NULL, 10);
	assert_non_null(p = strstr(out, "in-pack: "));
	n += strtol(p + 9, NULL, 10);
	free(out);
	return n;
}

/* ---- recording ---- */

static inline struct audit *
open_log(struct root *r)
{
	struct audit *a = NULL;
	int rc = audit_open(&a, &r->ctx, 0);

	if (rc != 0)
		fail_msg("audit_open: %d %s", rc, r->ctx.errmsg);
	return a;
}

static inline struct audit_file
file(const char *path, const char *content)
{
	struct audit_file f = { .path = path,
		.data = content,
		.len = strlen(content),
		.mode = AUDIT_MODE_FILE };

	return f;
}

static inline struct audit_file
link_to(const char *path, const char *target)
{
	struct audit_file f = { .path = path,
		.data = target,
		.len = strlen(target),
		.mode = AUDIT_MODE_LINK };

	return f;
}

static inline struct audit_file
removal(const char *path)
{
	struct audit_file f = { .path = path, .remove = true };

	return f;
}

static inline void
record(struct root *r, struct audit *a, const struct audit_file *files, size_t n,
    const char *subject, char id[41])
{
	struct audit_change ch = { .subject_line = subject,
		.operator_name = "alice",
		.command = "trustfix test" };
	char dummy[41];
	int rc;

	rc = audit_record(id != NULL ? id : dummy, a, files, n, &ch);
	if (rc != 0)
		fail_msg("audit_record(%s): %d %s", subject, rc, r->ctx.errmsg);
	assert_int_equal(strlen(id != NULL ? id : dummy), 40);
}

/* Expect 'rc' with a message holding 'needle'; then forget the error. */
static inline void
expect_error(struct root *r, int rc, int code, const char *needle)
{
	if (rc != code)
		fail_msg("expected error %d, got %d (%s)", code, rc, r->ctx.errmsg);
	if (needle != NULL && strstr(r->ctx.errmsg, needle) == NULL)
		fail_msg("message '%s' does not mention '%s'", r->ctx.errmsg, needle);
	tf_error_clear(&r->ctx);
}

/* ---- collecting what the API hands out ---- */

struct entry_copy {
	char id[41], parent[41];
	time_t time;
	char *subject, *body, *reason, *ticket, *operator_name, *command, *email;
	char *keys[8], *values[8];
	size_t ntrailers;
};

struct entries {
	struct entry_copy v[16];
	size_t n;
	size_t stop_at; /* return 7 at this entry (1-based); 0: never */
};

static inline char *
dup_or_null(const char *s)
{
	return s != NULL ? tf_strdup(s) : NULL;
}

static inline int
collect_entry(const struct audit_entry *e, void *arg)
{
	struct entries *es = arg;
	struct entry_copy *c;
	size_t i;

	assert_true(es->n < 16);
	c = &es->v[es->n++];
	memcpy(c->id, e->id, sizeof(c->id));
	memcpy(c->parent, e->parent, sizeof(c->parent));
	c->time = e->time;
	c->subject = tf_strdup(e->subject_line);
	c->body = tf_strdup(e->body);
	c->reason = dup_or_null(e->reason);
	c->ticket = dup_or_null(e->ticket);
	c->operator_name = dup_or_null(e->operator_name);
	c->command = dup_or_null(e->command);
	c->email = dup_or_null(e->email);
	assert_true(e->ntrailers <= 8);
	for (i = 0; i < e->ntrailers; i++) {
		c->keys[i] = tf_strdup(e->trailer_keys[i]);
		c->values[i] = tf_strdup(e->trailer_values[i]);
	}
	c->ntrailers = e->ntrailers;
	return es->stop_at == es->n ? 7 : 0;
}

static inline void
entries_release(struct entries *es)
{
	size_t i, k;

	for (i = 0; i < es->n; i++) {
		struct entry_copy *c = &es->v[i];

		free(c->subject);
		free(c->body);
		free(c->reason);
		free(c->ticket);
		free(c->operator_name);
		free(c->command);
		free(c->email);
		for (k = 0; k < c->ntrailers; k++) {
			free(c->keys[k]);
			free(c->values[k]);
		}
	}
	memset(es, 0, sizeof(*es));
}

struct delta_copy {
	char *path;
	bool had, has;
	char *before, *after; /* content */
	unsigned mode_before, mode_after;
};

struct deltas {
	struct delta_copy v[32];
	size_t n;
};

static inline int
collect_delta(const struct audit_delta *d, void *arg)
{
	struct deltas *ds = arg;
	struct delta_copy *c;

	assert_true(ds->n < 32);
	c = &ds->v[ds->n++];
	memset(c, 0, sizeof(*c));
	c->path = tf_strdup(d->path);
	if (d->before != NULL) {
		assert_string_equal(d->before->path, d->path);
		c->had = true;
		c->before = tf_strndup(d->before->data, d->before->len);
		c->mode_before = d->before->mode;
	}
	if (d->after != NULL) {
		assert_string_equal(d->after->path, d->path);
		c->has = true;
		c->after = tf_strndup(d->after->data, d->after->len);
		c->mode_after = d->after->mode;
	}
	return 0;
}

static inline void
deltas_release(struct deltas *ds)
{
	size_t i;

	for (i = 0; i < ds->n; i++) {
		free(ds->v[i].path);
		free(ds->v[i].before);
		free(ds->v[i].after);
	}
	memset(ds, 0, sizeof(*ds));
}

static inline void
changed(struct root *r, struct audit *a, const char *rev, struct deltas *ds)
{
	int rc;

	memset(ds, 0, sizeof(*ds));
	if ((rc = audit_changed_files(a, rev, collect_delta, ds)) != 0)
		fail_msg("audit_changed_files(%s): %d %s", rev, rc, r->ctx.errmsg);
}

static inline int
count_entry(const struct audit_entry *e, void *arg)
{
	(void)e;
	(*(size_t *)arg)++;
	return 0;
}

#endif
