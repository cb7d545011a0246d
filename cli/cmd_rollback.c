/*
 * cli/cmd_rollback.c - "trustfix rollback": undo a recorded change, or
 * restore the whole managed state of one, as a new audited change. History
 * is append-only: nothing recorded is ever rewritten.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../audit/audit.h"
#include "change.h"

struct rollback_req {
	const char *rev; /* NULL: the last change not rolled back yet */
	bool to;    /* --to: the whole state as of rev */
	bool force; /* undo even when a later change touched the same files */
	char id[41];
	char *subject; /* of the change undone */
	char **paths;  /* the paths it restores (relative to the root) */
	size_t npaths;
};

struct target {
	struct cli *cli;
	struct change *ch;
	struct rollback_req *r;
	int rc;
};

/* Put 'path' back to 'b' (or remove it when b is NULL), if it differs now. */
static int
restore(struct target *t, const char *relpath, const struct audit_blob *b)
{
	struct change_file cur;
	char *path = tf_asprintf("/%s", relpath);
	bool exists, same;
	int rc;

	if ((rc = change_read_state(t->cli, path, &cur, &exists)) != 0) {
		free(path);
		return rc;
	}
	if (b == NULL) {
		same = !exists;
	} else {
		bool link = b->mode == AUDIT_MODE_LINK;

		same = exists && (cur.kind == TS_OP_SYMLINK) == link && cur.len == b->len &&
		    memcmp(cur.data, b->data, b->len) == 0 &&
		    (link || ((cur.mode & 0111) != 0) == (b->mode == AUDIT_MODE_EXEC));
	}
	t->r->paths = tf_realloc(t->r->paths, (t->r->npaths + 1) * sizeof(char *));
	t->r->paths[t->r->npaths++] = tf_strdup(relpath);
	if (!same) {
		if (b == NULL)
			change_add_file(t->ch, TS_OP_REMOVE, path, NULL, 0, 0);
		else if (b->mode == AUDIT_MODE_LINK)
			change_add_file(t->ch, TS_OP_SYMLINK, path, b->data, b->len, 0777);
		else
			change_add_file(t->ch, TS_OP_WRITE, path, b->data, b->len,
			    b->mode == AUDIT_MODE_EXEC ? 0755 : 0644);
	}
	free(cur.path);
	free(cur.data);
	free(path);
	return 0;
}

static int
undo_delta(const struct audit_delta *d, void *arg)
{
	return restore(arg, d->path, d->before);
}

static int
restore_blob(const struct audit_blob *b, void *arg)
{
	return restore(arg, b->path, b);
}

struct later {
	struct audit *a;
	struct rollback_req *r;
	char by[41];
	char *path;
};

static int
touched_path(const struct audit_delta *d, void *arg)
{
	struct later *l = arg;
	size_t i;

	for (i = 0; i < l->r->npaths; i++) {
		if (strcmp(l->r->paths[i], d->path) == 0) {
			l->path = tf_strdup(d->path);
			return 1;
		}
	}
	return 0;
}

static int
check_later(const struct audit_entry *e, void *arg)
{
	struct later *l = arg;
	int rc;

	if (strcmp(e->id, l->r->id) == 0)
		return 2; /* reached the change itself: stop */
	if ((rc = audit_changed_files(l->a, e->id, touched_path, l)) == 1)
		memcpy(l->by, e->id, 41);
	return rc;
}

static int
paths_absent(const struct audit_blob *b, void *arg)
{
	struct target *t = arg;
	size_t i;

	for (i = 0; i < t->r->npaths; i++)
		if (strcmp(t->r->paths[i], b->path) == 0)
			return 0;
	/* recorded now, not in the state restored: it goes */
	return restore(t, b->path, NULL);
}

static int
keep_subject(const struct audit_entry *e, void *arg)
{
	struct rollback_req *r = arg;

	r->subject = tf_strdup(e->subject_line);
	return 0;
}

/* Invert the meaning of the undone change: what it added is removed. */
static int
invert(const struct audit_entry *e, void *arg)
{
	struct change *ch = arg;
	size_t i;

	for (i = 0; i < e->ntrailers; i++) {
		if (strcmp(e->trailer_keys[i], "Trustfix-Added") == 0)
			change_add_trailer(ch, "Trustfix-Removed", e->trailer_values[i]);
		else if (strcmp(e->trailer_keys[i], "Trustfix-Removed") == 0)
			change_add_trailer(ch, "Trustfix-Added", e->trailer_values[i]);
	}
	if (e->body != NULL && *e->body != '\0') {
		char *b = tf_strdup(e->body), *p;

		for (p = b; *p != '\0'; p++)
			if ((p == b || p[-1] == '\n') && (*p == '+' || *p == '-'))
				*p = *p == '+' ? '-' : '+';
		free(ch->body);
		ch->body = b;
	}
	return 0;
}

struct pick {
	char **undone; /* ids named by later rollbacks */
	size_t nundone;
	char id[41];
};

static bool
has_trailer(const struct audit_entry *e, const char *key, const char **value)
{
	size_t i;

	for (i = 0; i < e->ntrailers; i++) {
		if (strcmp(e->trailer_keys[i], key) == 0) {
			if (value != NULL)
				*value = e->trailer_values[i];
			return true;
		}
	}
	return false;
}

/* The newest change of the operator's that no rollback has undone yet. */
static int
pick_last(const struct audit_entry *e, void *arg)
{
	struct pick *p = arg;
	const char *of;
	size_t i;

	if (has_trailer(e, "Trustfix-Rollback-Of", &of)) {
		p->undone = tf_realloc(p->undone, (p->nundone + 1) * sizeof(char *));
		p->undone[p->nundone++] = tf_strdup(of);
		return 0;
	}
	if (has_trailer(e, "Trustfix-Drift", NULL) || has_trailer(e, "Trustfix-Baseline", NULL) ||
	    has_trailer(e, "Trustfix-Restore-To", NULL))
		return 0;
	for (i = 0; i < p->nundone; i++)
		if (strcmp(p->undone[i], e->id) == 0)
			return 0;
	memcpy(p->id, e->id, 41);
	return 1;
}

static int
plan_rollback(struct cli *cli, struct audit *a, struct change *ch, void *arg)
{
	struct rollback_req *r = arg;
	struct target t = { .cli = cli, .ch = ch, .r = r };
	struct later l = { .a = a, .r = r };
	char head[41];
	bool empty;
	int rc;

	if (a == NULL || (rc = audit_head(head, &empty, a)) != 0 || empty)
		return tf_error(&cli->ctx, TF_EUSAGE, "no change recorded yet: nothing to roll back");
	if (r->rev == NULL) {
		struct pick p = { 0 };
		size_t i;

		rc = audit_log(a, head, 0, pick_last, &p);
		for (i = 0; i < p.nundone; i++)
			free(p.undone[i]);
		free(p.undone);
		if (rc == 0)
			return 0; /* every change is rolled back already: nothing to do */
		if (rc != 1)
			return rc;
		memcpy(r->id, p.id, 41);
	} else if ((rc = audit_resolve(r->id, a, r->rev)) != 0) {
		return rc;
	}
	if ((rc = audit_log(a, r->id, 1, keep_subject, r)) != 0)
		return rc;
	if (r->to) {
		if ((rc = audit_tree_walk(a, r->id, 0, restore_blob, &t)) != 0 ||
		    (rc = audit_tree_walk(a, head, AUDIT_WALK_NODATA, paths_absent, &t)) != 0)
			return rc;
		ch->subject_line = tf_asprintf("restore the state of %.12s: %s", r->id, r->subject);
		change_add_trailer(ch, "Trustfix-Restore-To", r->id);
		return 0;
	}
	if ((rc = audit_changed_files(a, r->id, undo_delta, &t)) != 0)
		return rc;
	if (ch->nfiles == 0)
		return 0; /* already as it was before: nothing to do */
	if (!r->force) {
		rc = audit_log(a, head, 0, check_later, &l);
		if (rc == 1) {
			rc = tf_error(&cli->ctx, TF_EREFUSED,
			    "change %.12s changed '/%s' after %.12s: rolling back %.12s would undo it "
			    "too; roll back %.12s first, use --to, or give --force",
			    l.by, l.path, r->id, r->id, l.by);
			free(l.path);
			return rc;
		}
		if (rc != 2 && rc != 0)
			return rc;
	}
	ch->subject_line = tf_asprintf("rollback of %.12s: %s", r->id, r->subject);
	change_add_trailer(ch, "Trustfix-Rollback-Of", r->id);
	return audit_log(a, r->id, 1, invert, ch);
}

int
cmd_rollback(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		CHANGE_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct rollback_req r = { .rev = NULL };
	struct change_opts o = { 0 };
	struct change ch = { 0 };
	char **scope = NULL, id[41] = "";
	size_t nscope = 0, i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "nqvh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			r.rev = optarg;
			r.to = true;
			break;
		case 'f':
			r.force = true;
			break;
		case 'h':
			return cmd_help(cli, 2, (char *[]){ "help", "rollback", NULL });
		case '?':
			return cli_usage(cli, "rollback", "unknown option '%s'", argv[optind - 1]);
		default:
			if ((rc = change_option(cli, "rollback", &o, c, optarg)) < 0 ||
			    (rc == 0 && cli_common_option(cli, "rollback", c, optarg) <= 0))
				return TF_EXIT_USAGE;
			break;
		}
	}
	if (argc - optind > 1 || (r.to && optind < argc))
		return cli_usage(cli, "rollback", "name one change, or use --to CHANGE");
	if (optind < argc)
		r.rev = argv[optind];
	/* drift is recorded for the configured stores: a rollback returns exactly
	 * to what was there, hand edits included */
	if (cli->ctx.cfg->nstores > 0 &&
	    (rc = change_stores(cli, "rollback", NULL, 0, &scope, &nscope)) != 0)
		return rc;
	o.command = r.to ? "trustfix rollback --to" : "trustfix rollback";
	rc = change_run(cli, &o, scope, nscope, plan_rollback, &r, &ch, id);
	if (rc == 0)
		change_print(cli, &ch, o.dry_run, id);
	else if (rc == TF_EXIT_NOTHING && cli->ctx.verbosity >= 0)
		printf(cli->format == OUT_JSON ? "{\"change\":null,\"nothing_to_do\":true}\n"
					       : "nothing to do: the files are as they were\n");
	change_release(&ch);
	change_free_list(scope, nscope);
	for (i = 0; i < r.npaths; i++)
		free(r.paths[i]);
	free(r.paths);
	free(r.subject);
	return rc;
}
