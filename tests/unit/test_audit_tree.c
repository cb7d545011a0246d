/*
 * tests/unit/test_audit_tree.c - the trees of the audit log: a change
 * rebuilds only its paths, and reads back as the files it changed (before
 * and after) and as the whole state at any change; links, removals, files
 * that become folders, and many random changes that must end in the very
 * tree a fresh log of the final state has.
 */
#include "test_audit_helpers.h"

static void
test_changed_files_and_read_file(void **state)
{
	struct root *r = *state;
	struct audit_file c1[] = {
		file("etc/ssl/certs/a.pem", "A1\n"),
		file("etc/ssl/certs/b.pem", "B1\n"),
		{ .path = "etc/trustfix/hooks/post.sh",
		    .data = "#!/bin/sh\n",
		    .len = 10,
		    .mode = AUDIT_MODE_EXEC },
	};
	struct audit_file c2[] = {
		file("etc/ssl/certs/c.pem", "C\n"),
		removal("etc/ssl/certs/b.pem"),
		file("etc/ssl/certs/a.pem", "A2\n"),
	};
	struct audit *a = open_log(r);
	struct deltas ds;
	char id1[41], id2[41];
	void *data;
	size_t len;
	unsigned mode;
	bool exists;

	record(r, a, c1, 3, "first", id1);
	record(r, a, c2, 3, "second", id2);

	changed(r, a, id2, &ds);
	assert_int_equal(ds.n, 3);
	assert_string_equal(ds.v[0].path, "etc/ssl/certs/a.pem");
	assert_string_equal(ds.v[0].before, "A1\n");
	assert_string_equal(ds.v[0].after, "A2\n");
	assert_int_equal(ds.v[0].mode_after, AUDIT_MODE_FILE);
	assert_string_equal(ds.v[1].path, "etc/ssl/certs/b.pem");
	assert_true(ds.v[1].had);
	assert_string_equal(ds.v[1].before, "B1\n");
	assert_false(ds.v[1].has);
	assert_string_equal(ds.v[2].path, "etc/ssl/certs/c.pem");
	assert_false(ds.v[2].had);
	assert_string_equal(ds.v[2].after, "C\n");
	deltas_release(&ds);

	/* the first change: everything is new */
	changed(r, a, "HEAD~1", &ds);
	assert_int_equal(ds.n, 3);
	assert_string_equal(ds.v[2].path, "etc/trustfix/hooks/post.sh");
	assert_int_equal(ds.v[2].mode_after, AUDIT_MODE_EXEC);
	assert_false(ds.v[2].had);
	deltas_release(&ds);

	/* read back as of either change */
	assert_int_equal(
	    audit_read_file(&data, &len, &mode, &exists, a, id1, "etc/ssl/certs/b.pem"), 0);
	assert_true(exists);
	assert_int_equal(len, 3);
	assert_string_equal(data, "B1\n");
	assert_int_equal(mode, AUDIT_MODE_FILE);
	free(data);
	assert_int_equal(
	    audit_read_file(&data, &len, &mode, &exists, a, id2, "etc/ssl/certs/b.pem"), 0);
	assert_false(exists);
	assert_null(data);
	assert_int_equal(
	    audit_read_file(&data, &len, &mode, &exists, a, "HEAD", "/etc/ssl/certs/a.pem"), 0);
	assert_true(exists);
	assert_string_equal(data, "A2\n");
	free(data);
	assert_int_equal(audit_read_file(&data, &len, &mode, &exists, a, NULL, "etc/nothing/here"),
	    0);
	assert_false(exists);
	expect_error(r, audit_read_file(&data, &len, &mode, &exists, a, "HEAD", "etc/ssl"),
	    TF_EINVALID, "etc/ssl");
	expect_error(r, audit_read_file(&data, &len, &mode, &exists, a, "HEAD~5", "etc/ssl"),
	    TF_EUSAGE, "HEAD~5");
	expect_error(r, audit_changed_files(a, "HEAD~2", collect_delta, &ds), TF_EUSAGE, NULL);
	audit_free(a);
}

struct walked {
	char *paths[8];
	char ids[8][41];
	bool has_data[8];
	size_t n;
};

static int
collect_blob(const struct audit_blob *b, void *arg)
{
	struct walked *w = arg;

	assert_true(w->n < 8);
	w->paths[w->n] = tf_strdup(b->path);
	memcpy(w->ids[w->n], b->id, 41);
	w->has_data[w->n] = b->data != NULL;
	w->n++;
	return 0;
}

static void
walked_release(struct walked *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->paths[i]);
	memset(w, 0, sizeof(*w));
}

static void
test_tree_walk(void **state)
{
	struct root *r = *state;
	struct audit_file c1[] = { file("z.txt", "z"), file("etc/a.pem", "a"),
		file("etc/b/c.pem", "c"), link_to("etc/a.0", "a.pem") };
	struct audit_file c2[] = { removal("etc/b/c.pem") };
	struct audit *a = open_log(r);
	struct walked w = { 0 };
	char id[41], blob[41];

	record(r, a, c1, 4, "first", id);
	record(r, a, c2, 1, "second", NULL);
	assert_int_equal(audit_tree_walk(a, id, 0, collect_blob, &w), 0);
	assert_int_equal(w.n, 4);
	/* git's order: "etc/a.0" < "etc/a.pem" < "etc/b/c.pem" < "z.txt" */
	assert_string_equal(w.paths[0], "etc/a.0");
	assert_string_equal(w.paths[1], "etc/a.pem");
	assert_string_equal(w.paths[2], "etc/b/c.pem");
	assert_string_equal(w.paths[3], "z.txt");
	assert_true(w.has_data[3]);
	walked_release(&w);

	assert_int_equal(audit_tree_walk(a, "HEAD", AUDIT_WALK_NODATA, collect_blob, &w), 0);
	assert_int_equal(w.n, 3);
	assert_false(w.has_data[0]);
	assert_int_equal(audit_blob_id(blob, a, "a.pem", 5), 0);
	assert_string_equal(w.ids[0], blob);
	assert_int_equal(audit_blob_id(blob, a, "z", 1), 0);
	assert_string_equal(w.ids[2], blob);
	walked_release(&w);
	audit_free(a);
}

static void
test_symlink_mode(void **state)
{
	struct root *r = *state;
	struct audit_file c1[] = { file("etc/ssl/certs/ca.pem", "CA\n"),
		link_to("etc/ssl/certs/5d56a2b1.0", "ca.pem") };
	struct audit_file c2[] = { file("etc/ssl/certs/5d56a2b1.0", "now a file\n") };
	struct audit_file bad[] = { link_to("etc/l", ""),
		{ .path = "etc/l", .data = "a\0b", .len = 3, .mode = AUDIT_MODE_LINK },
		{ .path = "etc/l", .data = "x", .len = 1, .mode = 0100644 & ~0444 } };
	struct audit_change ch = { .subject_line = "bad" };
	struct audit *a = open_log(r);
	struct deltas ds;
	char id[41], *out;
	void *data;
	size_t len, i;
	unsigned mode;
	bool exists;

	record(r, a, c1, 2, "with a link", id);
	out = git_ok(r, "ls-tree -r HEAD | grep 5d56a2b1.0 | cut -c1-6");
	assert_string_equal(out, "120000\n");
	free(out);
	assert_git_equal(r, "ca.pem", "cat-file -p HEAD:etc/ssl/certs/5d56a2b1.0");
	assert_int_equal(
	    audit_read_file(&data, &len, &mode, &exists, a, id, "etc/ssl/certs/5d56a2b1.0"), 0);
	assert_true(exists);
	assert_int_equal(mode, AUDIT_MODE_LINK);
	assert_int_equal(len, 6);
	assert_string_equal(data, "ca.pem");
	free(data);

	/* a link that becomes a file is one change of the same path */
	record(r, a, c2, 1, "link to file", NULL);
	changed(r, a, "HEAD", &ds);
	assert_int_equal(ds.n, 1);
	assert_int_equal(ds.v[0].mode_before, AUDIT_MODE_LINK);
	assert_string_equal(ds.v[0].before, "ca.pem");
	assert_int_equal(ds.v[0].mode_after, AUDIT_MODE_FILE);
	deltas_release(&ds);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(r, audit_record(id, a, &bad[i], 1, &ch), TF_EINVALID, "etc/l");
	audit_free(a);
	assert_fsck_clean(r);
}

static void
test_removal(void **state)
{
	struct root *r = *state;
	struct audit_file c1[] = { file("a/b/c.txt", "c"), file("a/d.txt", "d"),
		file("x.txt", "x") };
	struct audit_file c2[] = { removal("a/b/c.txt"), removal("nope/none"),
		removal("a/d.txt/e") };
	struct audit_file c3[] = { removal("a") };
	struct audit_file c4[] = { removal("x.txt") };
	struct audit *a = open_log(r);
	struct deltas ds;
	char id[41];

	record(r, a, c1, 3, "three files", NULL);
	/* an emptied folder goes; removing what is not recorded does nothing */
	record(r, a, c2, 3, "remove one", NULL);
	assert_git_equal(r, "a/d.txt\nx.txt\n", "ls-tree -r --name-only HEAD");
	changed(r, a, "HEAD", &ds);
	assert_int_equal(ds.n, 1);
	assert_string_equal(ds.v[0].path, "a/b/c.txt");
	assert_false(ds.v[0].has);
	deltas_release(&ds);

	/* removing a folder removes what is in it */
	record(r, a, c3, 1, "remove a folder", NULL);
	assert_git_equal(r, "x.txt\n", "ls-tree -r --name-only HEAD");
	changed(r, a, "HEAD", &ds);
	assert_int_equal(ds.n, 1);
	assert_string_equal(ds.v[0].path, "a/d.txt");
	deltas_release(&ds);

	/* and the last file leaves the empty tree */
	record(r, a, c4, 1, "remove the last", id);
	assert_git_equal(r, "4b825dc642cb6eb9a060e54bf8d69288fbee4904\n", "rev-parse HEAD^{tree}");
	audit_free(a);
	assert_fsck_clean(r);
}

static void
test_file_and_folder_swap(void **state)
{
	struct root *r = *state;
	struct audit_file c1[] = { file("etc/ssl/certs", "a bundle\n"), file("r/old", "o"),
		file("r/keep/k", "k") };
	struct audit_file c2[] = { file("etc/ssl/certs/x.pem", "x\n") };
	struct audit_file c3[] = { link_to("etc/ssl/certs", "/etc/pki/tls/certs") };
	struct audit_file c4[] = { removal("r"), file("r/new", "n") };
	struct audit_file both[] = { file("p", "p"), file("p/q", "q") };
	struct audit_file twice[] = { file("p", "p"), removal("p") };
	struct audit_change ch = { .subject_line = "bad" };
	struct audit *a = open_log(r);
	struct deltas ds;
	char id[41], *out;

	record(r, a, c1, 3, "a file", NULL);
	/* the file becomes a folder: no need to say the file goes */
	record(r, a, c2, 1, "a folder", NULL);
	assert_git_equal(r, "etc/ssl/certs/x.pem\nr/keep/k\nr/old\n",
	    "ls-tree -r --name-only HEAD");
	changed(r, a, "HEAD", &ds);
	assert_int_equal(ds.n, 2);
	assert_string_equal(ds.v[0].path, "etc/ssl/certs");
	assert_false(ds.v[0].has);
	assert_string_equal(ds.v[1].path, "etc/ssl/certs/x.pem");
	assert_false(ds.v[1].had);
	deltas_release(&ds);

	/* the folder becomes a link */
	record(r, a, c3, 1, "a link", NULL);
	out = git_ok(r, "ls-tree HEAD:etc/ssl | cut -c1-6");
	assert_string_equal(out, "120000\n");
	free(out);

	/* a folder removed and started again in one change */
	record(r, a, c4, 2, "a new folder", NULL);
	assert_git_equal(r, "etc/ssl/certs\nr/new\n", "ls-tree -r --name-only HEAD");

	expect_error(r, audit_record(id, a, both, 2, &ch), TF_EINVALID, "'p'");
	expect_error(r, audit_record(id, a, twice, 2, &ch), TF_EINVALID, "twice");
	audit_free(a);
	assert_fsck_clean(r);
}

static int
count_blob(const struct audit_blob *b, void *arg)
{
	(void)b;
	(*(size_t *)arg)++;
	return 0;
}

static void
test_large_tree_one_change(void **state)
{
	struct root *r = *state;
	struct audit_file *files = tf_calloc(1000, sizeof(*files));
	char **paths = tf_calloc(1000, sizeof(*paths)),
	     **contents = tf_calloc(1000, sizeof(char *));
	struct audit_file one = file("etc/ssl/certs/new.pem", "new\n");
	struct audit *a = open_log(r);
	struct timespec t0, t1, t2;
	struct deltas ds;
	size_t i, count = 0;
	long before;
	char *out;

	for (i = 0; i < 1000; i++) {
		if (i < 500)
			paths[i] = tf_asprintf("etc/ssl/certs/cert%04zu.pem", i);
		else if (i < 750)
			paths[i] =
			    tf_asprintf("etc/ssl/certs/%08zx.0", i * 2654435761u % 0xffffffffu);
		else
			paths[i] = tf_asprintf("usr/share/ca-certificates/mozilla/%zu.crt", i);
		contents[i] = i >= 500 && i < 750 ? tf_asprintf("cert%04zu.pem", i - 500)
		                                  : tf_asprintf("certificate %zu\n", i);
		files[i] = i >= 500 && i < 750 ? link_to(paths[i], contents[i])
		                               : file(paths[i], contents[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	record(r, a, files, 1000, "1,000 files", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	before = count_objects(r);
	record(r, a, &one, 1, "one more", NULL);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	print_message("# 1,000 files: %.1f ms; then one file: %.1f ms\n",
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	    (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);

	/* one blob, the trees of etc, etc/ssl, etc/ssl/certs and the root, one commit */
	assert_int_equal(count_objects(r), before + 6);
	assert_git_equal(r, "A\tetc/ssl/certs/new.pem\n", "diff-tree -r --name-status HEAD~1 HEAD");
	out = git_ok(r, "rev-parse HEAD~1:usr HEAD:usr");
	assert_int_equal(strlen(out), 82);
	assert_memory_equal(out, out + 41, 40);
	free(out);
	changed(r, a, "HEAD", &ds);
	assert_int_equal(ds.n, 1);
	assert_string_equal(ds.v[0].path, "etc/ssl/certs/new.pem");
	deltas_release(&ds);
	assert_int_equal(audit_tree_walk(a, "HEAD", AUDIT_WALK_NODATA, count_blob, &count), 0);
	assert_int_equal(count, 1001);
	audit_free(a);
	assert_fsck_clean(r);

	for (i = 0; i < 1000; i++) {
		free(paths[i]);
		free(contents[i]);
	}
	free(paths);
	free(contents);
	free(files);
}

/* ---- random changes against a model ---- */

struct model_file {
	char path[16];
	char data[32];
	unsigned mode;
};

struct model {
	struct model_file v[32];
	size_t n;
};

static bool
is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* 'path' and everything under it go. */
static void
model_remove(struct model *m, const char *path)
{
	size_t i = 0;

	while (i < m->n) {
		if (strcmp(m->v[i].path, path) == 0 || is_under(m->v[i].path, path))
			m->v[i] = m->v[--m->n];
		else
			i++;
	}
}

/* A file at 'path' replaces what was there, under it, and files above it. */
static void
model_put(struct model *m, const struct audit_file *f)
{
	size_t i = 0;

	model_remove(m, f->path);
	while (i < m->n) {
		if (is_under(f->path, m->v[i].path))
			m->v[i] = m->v[--m->n];
		else
			i++;
	}
	assert_true(m->n < 32);
	snprintf(m->v[m->n].path, sizeof(m->v[m->n].path), "%s", f->path);
	snprintf(m->v[m->n].data, sizeof(m->v[m->n].data), "%.*s", (int)f->len,
	    (const char *)f->data);
	m->v[m->n++].mode = f->mode;
}

static uint32_t
next_random(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Two paths of one change that audit_record() refuses together. */
static bool
is_conflict(const struct audit_file *a, const struct audit_file *b)
{
	if (strcmp(a->path, b->path) == 0)
		return true;
	return !a->remove && !b->remove &&
	    (is_under(a->path, b->path) || is_under(b->path, a->path));
}

static int
collect_model(const struct audit_blob *b, void *arg)
{
	struct model *m = arg;

	assert_true(m->n < 32);
	snprintf(m->v[m->n].path, sizeof(m->v[m->n].path), "%s", b->path);
	snprintf(m->v[m->n].data, sizeof(m->v[m->n].data), "%.*s", (int)b->len,
	    (const char *)b->data);
	m->v[m->n++].mode = b->mode;
	return 0;
}

static int
cmp_model_file(const void *x, const void *y)
{
	return strcmp(((const struct model_file *)x)->path, ((const struct model_file *)y)->path);
}

static void
test_random_changes_match_a_fresh_log(void **state)
{
	static const char *const paths[] = { "a", "a/b", "a/b/c", "a/x", "a.b", "a-b/y", "d/e",
		"d/f/g", "d/f", "z" };
	static const unsigned modes[] = { AUDIT_MODE_FILE, AUDIT_MODE_EXEC, AUDIT_MODE_LINK };
	struct root *r = *state, *fresh = NULL;
	struct audit_file ops[4], all[32];
	char data[4][32], *x, *y;
	struct model m = { 0 }, walked = { 0 };
	struct audit *a = open_log(r), *b;
	uint32_t rnd = 20260101;
	size_t change, i, j, k, nops;
	void *fs = NULL;

	for (change = 0; change < 60; change++) {
		nops = 1 + next_random(&rnd) % 4;
		for (i = 0; i < nops; i++) {
			do {
				ops[i] =
				    (struct audit_file){ .path = paths[next_random(&rnd) % 10] };
				if (next_random(&rnd) % 3 == 0) {
					ops[i].remove = true;
				} else {
					snprintf(data[i], sizeof(data[i]), "v%zu.%zu", change, i);
					ops[i].data = data[i];
					ops[i].len = strlen(data[i]);
					ops[i].mode = modes[next_random(&rnd) % 3];
				}
				for (j = 0; j < i && !is_conflict(&ops[i], &ops[j]); j++)
					;
			} while (j < i);
		}
		record(r, a, ops, nops, "random change", NULL);
		for (i = 0; i < nops; i++) {
			if (ops[i].remove)
				model_remove(&m, ops[i].path);
		}
		for (i = 0; i < nops; i++) {
			if (!ops[i].remove)
				model_put(&m, &ops[i]);
		}
		/* the recorded state is the model's */
		memset(&walked, 0, sizeof(walked));
		assert_int_equal(audit_tree_walk(a, "HEAD", 0, collect_model, &walked), 0);
		qsort(m.v, m.n, sizeof(m.v[0]), cmp_model_file);
		qsort(walked.v, walked.n, sizeof(walked.v[0]), cmp_model_file);
		assert_int_equal(walked.n, m.n);
		for (k = 0; k < m.n; k++) {
			assert_string_equal(walked.v[k].path, m.v[k].path);
			assert_string_equal(walked.v[k].data, m.v[k].data);
			assert_int_equal(walked.v[k].mode, m.v[k].mode);
		}
	}
	audit_free(a);
	assert_fsck_clean(r);

	/* the same files recorded at once give the very same tree */
	assert_int_equal(root_setup((void **)&fs), 0);
	fresh = fs;
	for (k = 0; k < m.n; k++)
		all[k] = (struct audit_file){ .path = m.v[k].path,
			.data = m.v[k].data,
			.len = strlen(m.v[k].data),
			.mode = m.v[k].mode };
	b = open_log(fresh);
	record(fresh, b, all, m.n, "all at once", NULL);
	audit_free(b);
	x = git_ok(r, "rev-parse HEAD^{tree}");
	y = git_ok(fresh, "rev-parse HEAD^{tree}");
	assert_string_equal(x, y);
	free(x);
	free(y);
	root_teardown((void **)&fresh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changed_files_and_read_file, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_tree_walk, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_symlink_mode, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_removal, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_file_and_folder_swap, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_large_tree_one_change, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_random_changes_match_a_fresh_log, root_setup,
		    root_teardown),
	};

	return cmocka_run_group_tests_name("audit/tree", tests, NULL, NULL);
}
