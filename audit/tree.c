/*
 * audit/tree.c - the tree of a change, written by splicing the raw bytes of
 * the trees on the changed paths: a folder of 100,000 files costs one copy
 * of its tree object, not a parse, a sort and a rebuild of 100,000 entries
 * (which is what git_tree_create_updated() does with a tree builder).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* One name of one tree: what becomes of it. */
struct op {
	const char *name;
	size_t len;
	bool is_direct; /* an edit of the name itself */
	bool is_remove; /* the name goes; else it becomes 'mode' and 'id' */
	bool is_noop;   /* nothing changes for it after all */
	unsigned mode;
	git_oid id;
	size_t from, to;    /* edits[from..to) below this name, when it is a folder */
	const git_oid *old; /* the old entry's id when it is a folder, else NULL */
};

/* One entry of a raw tree. */
struct entry {
	const char *name;
	size_t len;
	bool is_tree;
	const unsigned char *id;
	const unsigned char *start, *end; /* the whole entry */
};

/* Parse the entry at *p; false at the end or when malformed (*bad set). */
static bool
next_entry(const unsigned char **p, const unsigned char *end, struct entry *e, bool *bad)
{
	const unsigned char *q = *p, *sp, *nul;
	unsigned mode;

	if (q == end)
		return false;
	if ((sp = memchr(q, ' ', (size_t)(end - q))) == NULL || sp == q ||
	    (nul = memchr(sp + 1, '\0', (size_t)(end - sp - 1))) == NULL || nul == sp + 1 ||
	    (size_t)(end - nul - 1) < GIT_OID_RAWSZ) {
		*bad = true;
		return false;
	}
	e->start = q;
	/* 040000 is a folder (written "40000"); else a file, a link or a submodule */
	for (mode = 0; q < sp; q++) {
		if (*q < '0' || *q > '7') {
			*bad = true;
			return false;
		}
		mode = mode << 3 | (unsigned)(*q - '0');
	}
	e->is_tree = (mode & 0170000) == 0040000;
	e->name = (const char *)sp + 1;
	e->len = (size_t)(nul - sp - 1);
	e->id = nul + 1;
	e->end = nul + 1 + GIT_OID_RAWSZ;
	*p = e->end;
	return true;
}

/* git's order of tree entries: a folder sorts as if its name ended in '/'. */
static int
name_cmp(const char *a, size_t alen, bool atree, const char *b, size_t blen, bool btree)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	unsigned char x, y;

	if (c != 0)
		return c;
	x = alen > n ? (unsigned char)a[n] : atree ? '/' : '\0';
	y = blen > n ? (unsigned char)b[n] : btree ? '/' : '\0';
	return x < y ? -1 : x > y;
}

static int
cmp_op_name(const void *x, const void *y)
{
	const struct op *a = x, *b = y;

	return name_cmp(a->name, a->len, false, b->name, b->len, false);
}

static int
cmp_op_key(const void *x, const void *y)
{
	const struct op *a = *(struct op *const *)x, *b = *(struct op *const *)y;

	return name_cmp(a->name, a->len, a->mode == GIT_FILEMODE_TREE, b->name, b->len,
	    b->mode == GIT_FILEMODE_TREE);
}

static struct op *
find_op(struct op *ops, size_t n, const char *name, size_t len)
{
	struct op key = { .name = name, .len = len };

	return n == 0 ? NULL : bsearch(&key, ops, n, sizeof(*ops), cmp_op_name);
}

static void
put_entry(struct audit_buf *b, unsigned mode, const char *name, size_t len, const git_oid *id)
{
	char m[16];

	snprintf(m, sizeof(m), "%o ", mode);
	audit_buf_adds(b, m);
	audit_buf_add(b, name, len);
	audit_buf_add(b, "", 1);
	audit_buf_add(b, id->id, GIT_OID_RAWSZ);
}

static int edit_tree(git_oid *out, bool *is_empty, struct audit *a, git_odb *odb,
    const git_oid *base, const struct audit_tree_edit *edits, size_t nedits, size_t skip);

/*
 * The ops of one tree, sorted by name: one per name, from the edits (sorted
 * by path) whose path, past 'skip' bytes, is that name (a direct edit) or
 * starts with that name and '/' (edits below it, which are contiguous).
 * A name removed and written below in one change is a new folder.
 */
static struct op *
level_ops(const struct audit_tree_edit *edits, size_t nedits, size_t skip, size_t *nout)
{
	struct op *ops = tf_calloc(nedits ? nedits : 1, sizeof(*ops)), *o;
	size_t n = 0, i = 0, k;
	const char *rel, *slash;

	while (i < nedits) {
		o = &ops[n++];
		rel = edits[i].path + skip;
		slash = strchr(rel, '/');
		o->name = rel;
		o->len = slash != NULL ? (size_t)(slash - rel) : strlen(rel);
		if (slash == NULL) {
			o->is_direct = true;
			o->is_remove = edits[i].is_remove;
			o->mode = edits[i].mode;
			git_oid_cpy(&o->id, &edits[i].id);
			i++;
			continue;
		}
		o->from = i;
		while (i < nedits && strncmp(edits[i].path + skip, rel, o->len + 1) == 0)
			i++;
		o->to = i;
	}
	if (n > 1)
		qsort(ops, n, sizeof(*ops), cmp_op_name);
	/* a direct edit and edits below, of one name: one op */
	for (i = 0, k = 0; i < n; i++) {
		if (k > 0 && cmp_op_name(&ops[k - 1], &ops[i]) == 0) {
			struct op *d = ops[i].is_direct ? &ops[i] : &ops[k - 1];
			struct op *below = ops[i].is_direct ? &ops[k - 1] : &ops[i];

			d->from = below->from;
			d->to = below->to;
			ops[k - 1] = *d;
			continue;
		}
		ops[k++] = ops[i];
	}
	*nout = k;
	return ops;
}

/*
 * Write 'base' (NULL: an empty tree) with 'edits' applied, the paths taken
 * past their first 'skip' bytes. *is_empty when nothing is left, and then
 * nothing is written.
 */
static int
edit_tree(git_oid *out, bool *is_empty, struct audit *a, git_odb *odb, const git_oid *base,
    const struct audit_tree_edit *edits, size_t nedits, size_t skip)
{
	git_odb_object *obj = NULL;
	const unsigned char *p = NULL, *end = NULL, *q, *run;
	struct audit_buf b = { 0 };
	struct op *ops, *o, **keys = NULL;
	struct entry e;
	size_t nops, nkeys = 0, i, next = 0;
	bool bad = false, sub_empty;
	int gerr, rc = 0;

	*is_empty = false;
	ops = level_ops(edits, nedits, skip, &nops);
	if (base != NULL) {
		if ((gerr = git_odb_read(&obj, odb, base)) < 0) {
			rc =
			    audit_git_error(a, gerr, TF_EIO, "cannot read a tree of '%s'", a->path);
			goto out;
		}
		if (git_odb_object_type(obj) != GIT_OBJECT_TREE)
			goto damaged;
		p = git_odb_object_data(obj);
		end = p + git_odb_object_size(obj);
	}
	/* the old entries of the folders that change below */
	for (q = p; p != NULL && next_entry(&q, end, &e, &bad);) {
		if ((o = find_op(ops, nops, e.name, e.len)) != NULL && o->to > o->from && e.is_tree)
			o->old = (const git_oid *)e.id;
	}
	if (bad)
		goto damaged;
	for (i = 0; i < nops && rc == 0; i++) {
		o = &ops[i];
		if (o->to == o->from)
			continue;
		/* removed and written below: a new folder, not the old one changed */
		rc = edit_tree(&o->id, &sub_empty, a, odb, o->is_direct ? NULL : o->old,
		    edits + o->from, o->to - o->from, skip + o->len + 1);
		o->mode = GIT_FILEMODE_TREE;
		o->is_remove = sub_empty;
		/* removing below a file, or below nothing, leaves it as it is */
		o->is_noop = sub_empty && !o->is_direct && o->old == NULL;
	}
	if (rc != 0)
		goto out;
	/* the new entries in git's order, each before the first old entry after it */
	keys = tf_calloc(nops ? nops : 1, sizeof(*keys));
	for (i = 0; i < nops; i++)
		if (!ops[i].is_remove && !ops[i].is_noop)
			keys[nkeys++] = &ops[i];
	if (nkeys > 1)
		qsort(keys, nkeys, sizeof(*keys), cmp_op_key);
	for (q = run = p; p != NULL && next_entry(&q, end, &e, &bad);) {
		while (next < nkeys &&
		    name_cmp(keys[next]->name, keys[next]->len,
		        keys[next]->mode == GIT_FILEMODE_TREE, e.name, e.len, e.is_tree) < 0) {
			audit_buf_add(&b, run, (size_t)(e.start - run));
			run = e.start;
			put_entry(&b, keys[next]->mode, keys[next]->name, keys[next]->len,
			    &keys[next]->id);
			next++;
		}
		/* an old entry of a name that changes is left out (the new one is put) */
		if ((o = find_op(ops, nops, e.name, e.len)) != NULL && !o->is_noop) {
			audit_buf_add(&b, run, (size_t)(e.start - run));
			run = e.end;
		}
	}
	if (bad)
		goto damaged;
	if (p != NULL)
		audit_buf_add(&b, run, (size_t)(end - run));
	for (; next < nkeys; next++)
		put_entry(&b, keys[next]->mode, keys[next]->name, keys[next]->len, &keys[next]->id);
	if (b.len == 0 && skip > 0) {
		*is_empty = true; /* git keeps no empty folder */
		goto out;
	}
	if ((gerr = git_odb_write(out, odb, b.p != NULL ? b.p : "", b.len, GIT_OBJECT_TREE)) < 0)
		rc = audit_git_error(a, gerr, TF_EIO, "cannot write the tree of the change in '%s'",
		    a->path);
	goto out;
damaged:
	rc = tf_error(a->ctx, TF_EIO, "the audit log '%s' is damaged: a tree does not parse",
	    a->path);
out:
	git_odb_object_free(obj);
	audit_buf_release(&b);
	free(keys);
	free(ops);
	return rc;
}

int
audit_tree_edit(git_oid *out, struct audit *a, const git_oid *base,
    const struct audit_tree_edit *edits, size_t n)
{
	git_odb *odb = NULL;
	bool is_empty;
	int gerr, rc;

	if ((gerr = git_repository_odb(&odb, a->repo)) < 0)
		return audit_git_error(a, gerr, TF_EIO, "cannot open the objects of '%s'", a->path);
	rc = edit_tree(out, &is_empty, a, odb, base, edits, n, 0);
	git_odb_free(odb);
	return rc;
}
