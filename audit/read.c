/*
 * audit/read.c - read the audit log back: the changes newest first, what
 * one change did to which file, and the files as of any change.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* ---- the log ---- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The last "\n\n" of msg[0..len), or NULL. */
static const char *
last_blank_line(const char *msg, size_t len)
{
	size_t i;

	for (i = len; i >= 2; i--) {
		if (msg[i - 1] == '\n' && msg[i - 2] == '\n')
			return msg + i - 2;
	}
	return NULL;
}

/*
 * Split a message as audit_record() writes it: the subject (its first
 * paragraph, on one line), the body, and - when 'has_trailers' - the last
 * paragraph, which holds the trailers and is left out of the body.
 */
static void
split_message(const char *msg, bool has_trailers, char **subject, char **body)
{
	const char *end, *rest, *last;
	size_t len = strlen(msg), i;

	while (len > 0 && is_space(msg[len - 1]))
		len--;
	end = memmem(msg, len, "\n\n", 2);
	if (end == NULL)
		end = msg + len;
	*subject = tf_strndup(msg, (size_t)(end - msg));
	for (i = 0; (*subject)[i] != '\0'; i++) {
		if ((*subject)[i] == '\n')
			(*subject)[i] = ' ';
	}
	if (end == msg + len) {
		*body = tf_strdup("");
		return;
	}
	rest = end + 2;
	last = has_trailers ? last_blank_line(msg, len) : NULL;
	if (last == NULL || last < rest)
		last = has_trailers ? end : msg + len;
	*body = last <= rest ? tf_strdup("") : tf_strndup(rest, (size_t)(last - rest));
}

static int
emit_entry(struct audit *a, git_commit *c, audit_log_fn fn, void *arg)
{
	git_message_trailer_array tr = { 0 };
	const char *msg = git_commit_message(c);
	const git_signature *author = git_commit_author(c);
	const char **keys = NULL, **values = NULL, *k;
	struct audit_entry e;
	char *subject = NULL, *body = NULL;
	size_t i, n = 0;
	int gerr, rc;

	memset(&e, 0, sizeof(e));
	git_oid_tostr(e.id, sizeof(e.id), git_commit_id(c));
	if (git_commit_parentcount(c) > 0)
		git_oid_tostr(e.parent, sizeof(e.parent), git_commit_parent_id(c, 0));
	e.time = (time_t)git_commit_time(c);
	e.email = author != NULL ? author->email : NULL;
	if (msg == NULL)
		msg = "";
	if ((gerr = git_message_trailers(&tr, msg)) < 0)
		return audit_git_error(a, gerr, TF_EIO, "cannot read the message of change %s",
		    e.id);
	keys = tf_calloc(tr.count + 1, sizeof(*keys));
	values = tf_calloc(tr.count + 1, sizeof(*values));
	for (i = 0; i < tr.count; i++) {
		k = tr.trailers[i].key;
		if (strcasecmp(k, AUDIT_TRAILER_REASON) == 0 && e.reason == NULL)
			e.reason = tr.trailers[i].value;
		else if (strcasecmp(k, AUDIT_TRAILER_TICKET) == 0 && e.ticket == NULL)
			e.ticket = tr.trailers[i].value;
		else if (strcasecmp(k, AUDIT_TRAILER_OPERATOR) == 0 && e.operator_name == NULL)
			e.operator_name = tr.trailers[i].value;
		else if (strcasecmp(k, AUDIT_TRAILER_COMMAND) == 0 && e.command == NULL)
			e.command = tr.trailers[i].value;
		else {
			keys[n] = k;
			values[n++] = tr.trailers[i].value;
		}
	}
	split_message(msg, tr.count > 0, &subject, &body);
	e.subject_line = subject;
	e.body = body;
	e.trailer_keys = keys;
	e.trailer_values = values;
	e.ntrailers = n;
	rc = fn(&e, arg);
	free(subject);
	free(body);
	free(keys);
	free(values);
	git_message_trailer_array_free(&tr);
	return rc;
}

int
audit_log(struct audit *a, const char *rev, size_t max, audit_log_fn fn, void *arg)
{
	git_commit *c = NULL, *next;
	size_t count = 0;
	int gerr, rc;

	if (rev == NULL)
		rc = audit_head_commit(&c, a);
	else
		rc = audit_commit_lookup(&c, a, rev);
	/* first parents only: the log is linear, so this is newest first */
	while (rc == 0 && c != NULL && (max == 0 || count < max)) {
		if ((rc = emit_entry(a, c, fn, arg)) != 0)
			break;
		count++;
		next = NULL;
		if (git_commit_parentcount(c) > 0 && (gerr = git_commit_parent(&next, c, 0)) < 0)
			rc = audit_git_error(a, gerr, TF_EIO, "cannot read the change before %.12s",
			    git_oid_tostr_s(git_commit_id(c)));
		git_commit_free(c);
		c = next;
	}
	git_commit_free(c);
	return rc;
}

/* ---- files ---- */

/*
 * Fill 'b' for the tree entry 'e' at 'path', reading the blob into *owner
 * unless AUDIT_WALK_NODATA.
 */
static int
load_blob(struct audit *a, const git_tree_entry *e, const char *path, unsigned flags,
    struct audit_blob *b, git_blob **owner)
{
	int gerr;

	memset(b, 0, sizeof(*b));
	*owner = NULL;
	b->path = path;
	b->mode = (unsigned)git_tree_entry_filemode(e);
	git_oid_tostr(b->id, sizeof(b->id), git_tree_entry_id(e));
	if (flags & AUDIT_WALK_NODATA)
		return 0;
	if ((gerr = git_blob_lookup(owner, a->repo, git_tree_entry_id(e))) < 0)
		return audit_git_error(a, gerr, TF_EIO,
		    "cannot read '%s' (blob %s) of the audit log", path, b->id);
	b->data = git_blob_rawcontent(*owner);
	b->len = (size_t)git_blob_rawsize(*owner);
	return 0;
}

static bool
is_tree(const git_tree_entry *e)
{
	return e != NULL && git_tree_entry_type(e) == GIT_OBJECT_TREE;
}

static bool
is_blob(const git_tree_entry *e)
{
	return e != NULL && git_tree_entry_type(e) == GIT_OBJECT_BLOB;
}

static int
subtree(struct audit *a, const git_tree_entry *e, git_tree **out)
{
	int gerr;

	*out = NULL;
	if (!is_tree(e))
		return 0;
	if ((gerr = git_tree_lookup(out, a->repo, git_tree_entry_id(e))) < 0)
		return audit_git_error(a, gerr, TF_EIO, "cannot read tree %s of the audit log",
		    git_oid_tostr_s(git_tree_entry_id(e)));
	return 0;
}

static void
push_name(struct audit_buf *path, const char *name)
{
	if (path->len > 0)
		audit_buf_addc(path, '/');
	audit_buf_adds(path, name);
}

static int diff_trees(struct audit *a, git_tree *old, git_tree *new_tree, struct audit_buf *path,
    audit_delta_fn fn, void *arg);

/* One name on either side (same name and kind when both are there). */
static int
diff_entries(struct audit *a, const git_tree_entry *eo, const git_tree_entry *en,
    struct audit_buf *path, audit_delta_fn fn, void *arg)
{
	struct audit_blob before, after;
	struct audit_delta d = { 0 };
	git_blob *bo = NULL, *bn = NULL;
	git_tree *to = NULL, *tn = NULL;
	size_t mark = path->len;
	int rc;

	push_name(path, git_tree_entry_name(eo != NULL ? eo : en));
	if ((eo == NULL || is_tree(eo)) && (en == NULL || is_tree(en))) {
		if ((rc = subtree(a, eo, &to)) == 0 && (rc = subtree(a, en, &tn)) == 0)
			rc = diff_trees(a, to, tn, path, fn, arg);
	} else {
		d.path = path->p;
		if ((rc = is_blob(eo) ? load_blob(a, eo, path->p, 0, &before, &bo) : 0) == 0 &&
		    (rc = is_blob(en) ? load_blob(a, en, path->p, 0, &after, &bn) : 0) == 0) {
			d.before = is_blob(eo) ? &before : NULL;
			d.after = is_blob(en) ? &after : NULL;
			/* a submodule entry (never written by trustfix) is no file */
			if (d.before != NULL || d.after != NULL)
				rc = fn(&d, arg);
		}
	}
	git_blob_free(bo);
	git_blob_free(bn);
	git_tree_free(to);
	git_tree_free(tn);
	audit_buf_truncate(path, mark);
	return rc;
}

/*
 * Both trees side by side, in git's entry order (a folder sorts as its name
 * with a '/'): an entry whose id and mode did not change is skipped without
 * being read, so the cost follows the change, not the size of the tree.
 */
static int
diff_trees(struct audit *a, git_tree *old, git_tree *new_tree, struct audit_buf *path,
    audit_delta_fn fn, void *arg)
{
	size_t i = 0, j = 0, no = old != NULL ? git_tree_entrycount(old) : 0,
	       nn = new_tree != NULL ? git_tree_entrycount(new_tree) : 0;
	const git_tree_entry *eo, *en;
	int cmp, rc = 0;

	while (rc == 0 && (i < no || j < nn)) {
		eo = i < no ? git_tree_entry_byindex(old, i) : NULL;
		en = j < nn ? git_tree_entry_byindex(new_tree, j) : NULL;
		cmp = eo == NULL ? 1 : en == NULL ? -1 : git_tree_entry_cmp(eo, en);
		if (cmp == 0) {
			i++;
			j++;
			if (git_oid_equal(git_tree_entry_id(eo), git_tree_entry_id(en)) &&
			    git_tree_entry_filemode(eo) == git_tree_entry_filemode(en))
				continue;
			rc = diff_entries(a, eo, en, path, fn, arg);
		} else if (cmp < 0) {
			i++;
			rc = diff_entries(a, eo, NULL, path, fn, arg);
		} else {
			j++;
			rc = diff_entries(a, NULL, en, path, fn, arg);
		}
	}
	return rc;
}

/* The tree of change 'rev' and, if asked, of its first parent (NULL for none). */
static int
commit_trees(struct audit *a, const char *rev, git_tree **tree, git_tree **parent_tree)
{
	git_commit *c = NULL, *p = NULL;
	int gerr = 0, rc;

	*tree = NULL;
	if (parent_tree != NULL)
		*parent_tree = NULL;
	if ((rc = audit_commit_lookup(&c, a, rev)) != 0)
		return rc;
	if ((gerr = git_commit_tree(tree, c)) < 0)
		goto fail;
	if (parent_tree != NULL && git_commit_parentcount(c) > 0) {
		if ((gerr = git_commit_parent(&p, c, 0)) < 0 ||
		    (gerr = git_commit_tree(parent_tree, p)) < 0)
			goto fail;
	}
	git_commit_free(p);
	git_commit_free(c);
	return 0;
fail:
	rc = audit_git_error(a, gerr, TF_EIO, "cannot read the trees of change %s",
	    git_oid_tostr_s(git_commit_id(c)));
	git_tree_free(*tree);
	*tree = NULL;
	git_commit_free(p);
	git_commit_free(c);
	return rc;
}

int
audit_changed_files(struct audit *a, const char *rev, audit_delta_fn fn, void *arg)
{
	git_tree *tree = NULL, *parent_tree = NULL;
	struct audit_buf path = { 0 };
	int rc;

	if ((rc = commit_trees(a, rev, &tree, &parent_tree)) != 0)
		return rc;
	audit_buf_adds(&path, "");
	rc = diff_trees(a, parent_tree, tree, &path, fn, arg);
	audit_buf_release(&path);
	git_tree_free(parent_tree);
	git_tree_free(tree);
	return rc;
}

static int
walk_tree(struct audit *a, git_tree *t, struct audit_buf *path, unsigned flags, audit_blob_fn fn,
    void *arg)
{
	const git_tree_entry *e;
	struct audit_blob b;
	git_blob *blob = NULL;
	git_tree *sub = NULL;
	size_t i, n = git_tree_entrycount(t), mark;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		e = git_tree_entry_byindex(t, i);
		mark = path->len;
		push_name(path, git_tree_entry_name(e));
		if (is_tree(e)) {
			if ((rc = subtree(a, e, &sub)) == 0)
				rc = walk_tree(a, sub, path, flags, fn, arg);
			git_tree_free(sub);
			sub = NULL;
		} else if (is_blob(e)) {
			if ((rc = load_blob(a, e, path->p, flags, &b, &blob)) == 0)
				rc = fn(&b, arg);
			git_blob_free(blob);
			blob = NULL;
		}
		audit_buf_truncate(path, mark);
	}
	return rc;
}

int
audit_tree_walk(struct audit *a, const char *rev, unsigned flags, audit_blob_fn fn, void *arg)
{
	struct audit_buf path = { 0 };
	git_tree *tree = NULL;
	int rc;

	if ((rc = commit_trees(a, rev, &tree, NULL)) != 0)
		return rc;
	audit_buf_adds(&path, "");
	rc = walk_tree(a, tree, &path, flags, fn, arg);
	audit_buf_release(&path);
	git_tree_free(tree);
	return rc;
}

int
audit_read_file(void **data, size_t *len, unsigned *mode, bool *exists, struct audit *a,
    const char *rev, const char *path)
{
	git_tree_entry *e = NULL;
	git_tree *tree = NULL;
	git_blob *blob = NULL;
	size_t n;
	char *copy;
	int gerr, rc;

	*data = NULL;
	*len = 0;
	*mode = 0;
	*exists = false;
	while (path != NULL && *path == '/')
		path++;
	if (path == NULL || *path == '\0')
		return tf_error(a->ctx, TF_EINVALID, "cannot read a file without a path");
	if ((rc = commit_trees(a, rev, &tree, NULL)) != 0)
		return rc;
	gerr = git_tree_entry_bypath(&e, tree, path);
	if (gerr == GIT_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (gerr < 0) {
		rc = audit_git_error(a, gerr, TF_EIO, "cannot look up '%s' in change '%s'", path,
		    rev != NULL ? rev : "HEAD");
		goto out;
	}
	if (!is_blob(e)) {
		rc = tf_error(a->ctx, TF_EINVALID, "'%s' is not a file in change '%s'", path,
		    rev != NULL ? rev : "HEAD");
		goto out;
	}
	if ((gerr = git_blob_lookup(&blob, a->repo, git_tree_entry_id(e))) < 0) {
		rc = audit_git_error(a, gerr, TF_EIO, "cannot read '%s' of change '%s'", path,
		    rev != NULL ? rev : "HEAD");
		goto out;
	}
	n = (size_t)git_blob_rawsize(blob);
	copy = tf_malloc(n + 1);
	memcpy(copy, git_blob_rawcontent(blob), n);
	copy[n] = '\0';
	*data = copy;
	*len = n;
	*mode = (unsigned)git_tree_entry_filemode(e);
	*exists = true;
	rc = 0;
out:
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	return rc;
}
