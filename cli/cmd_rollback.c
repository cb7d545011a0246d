/*
 * cli/cmd_rollback.c - "trustfix rollback": undo a recorded change, or
 * restore the whole managed state of one, as a new audited change. History
 * is append-only: nothing recorded is ever rewritten.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../audit/audit.h"
#include "../audit/vault.h"
#include "../core/path.h"
#include "../core/subject.h"
#include "change.h"

struct rollback_req {
	const char *rev; /* NULL: the last change not rolled back yet */
	bool to;         /* --to: the whole state as of rev */
	bool force;      /* undo even when a later change touched the same files */
	char id[41];
	char *subject; /* of the change undone */
	char **paths;  /* the paths it restores (relative to the root) */
	size_t npaths;
	const char *nothing;        /* why there is nothing to do, for the operator */
	struct change_scope *scope; /* gets the files restored, for their drift */
};

struct target {
	struct cli *cli;
	struct change *ch;
	struct rollback_req *r;
	struct audit *a;
};

/* Whether the log names 'path' (absolute) as a key file of some change. */
struct key_file {
	const char *path;
	bool found;
};

static int
find_key_file(const struct audit_entry *e, void *arg)
{
	struct key_file *k = arg;
	size_t i;

	for (i = 0; i < e->ntrailers && !k->found; i++)
		k->found = strcmp(e->trailer_keys[i], "Trustfix-Key-File") == 0 &&
		    strcmp(e->trailer_values[i], k->path) == 0;
	return k->found ? 1 : 0;
}

/*
 * A vault reference is resolved only where a key file was: a path known as
 * one (the [client] key), or named so by a change of the log. Anywhere else
 * it is refused: a private key is never written to a file that was not one.
 */
static int
check_key_file(struct target *t, const char *path)
{
	struct key_file k = { path, false };
	char *host;
	int rc;

	if (vault_is_key_path(&t->cli->ctx, path))
		return 0;
	if (t->a != NULL && (rc = audit_log(t->a, NULL, 0, find_key_file, &k)) < 0)
		return rc;
	if (k.found) {
		vault_add_key_path(&t->cli->ctx, path);
		return 0;
	}
	host = tf_hostpath(&t->cli->ctx, path);
	rc = tf_error(&t->cli->ctx, TF_EREFUSED,
	    "'%s' is recorded as a key vault reference, but no change made it a key file: "
	    "refusing to write a private key there",
	    host);
	free(host);
	return rc;
}

static bool
has_ref(const struct ts_cert_ref *v, size_t n, const unsigned char *sha256)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(v[i].sha256, sha256, 32) == 0)
			return true;
	return false;
}

/* Describe in certificate terms what restoring 'path' does to it. */
/* The meaning of restoring a key file: which key, by its SPKI SHA-256. */
static void
describe_key(struct change *ch, const char *path, const void *data, size_t len)
{
	char *ref, spki[65] = "unknown", *line;
	size_t rlen;

	if (vault_ref(&ref, &rlen, data, len) == 1) {
		vault_is_ref(ref, rlen, spki);
		free(ref);
	}
	line = tf_asprintf("%s:", path);
	change_add_body(ch, line);
	free(line);
	line = tf_asprintf("~ private key restored from the key vault (SPKI SHA-256 %.16s)", spki);
	change_add_body(ch, line);
	free(line);
	line = tf_asprintf("%s %s", path, spki);
	change_add_trailer(ch, "Trustfix-Key", line);
	free(line);
}

static void
describe(struct change *ch, const char *path, const void *now, size_t nowlen, const void *then,
    size_t thenlen)
{
	struct ts_cert_ref *a = NULL, *b = NULL;
	size_t na = 0, nb = 0, i;
	bool header = false;
	char hex[65], *line;

	truststore_content_certs(now, nowlen, &a, &na);
	truststore_content_certs(then, thenlen, &b, &nb);
	for (int pass = 0; pass < 2; pass++) {
		const struct ts_cert_ref *from = pass == 0 ? b : a, *other = pass == 0 ? a : b;
		size_t nfrom = pass == 0 ? nb : na, nother = pass == 0 ? na : nb;

		for (i = 0; i < nfrom; i++) {
			if (has_ref(other, nother, from[i].sha256))
				continue;
			if (!header) {
				line = tf_asprintf("%s:", path);
				change_add_body(ch, line);
				free(line);
				header = true;
			}
			tf_hex(hex, from[i].sha256, 32);
			line = tf_asprintf("%c %s (%.16s)", pass == 0 ? '+' : '-',
			    tf_subject_short(from[i].subject), hex);
			change_add_body(ch, line);
			free(line);
			line = tf_asprintf("%s %s", path, hex);
			change_add_trailer(ch, pass == 0 ? "Trustfix-Added" : "Trustfix-Removed",
			    line);
			free(line);
		}
	}
	ts_cert_refs_free(a, na);
	ts_cert_refs_free(b, nb);
}

/* Put 'path' back to 'b' (or remove it when b is NULL), if it differs now. */
static int
restore(struct target *t, const char *relpath, const struct audit_blob *b)
{
	struct audit_blob key;
	struct change_file cur;
	unsigned char *kdata = NULL;
	char *path = tf_asprintf("/%s", relpath);
	size_t klen = 0;
	bool exists, same, secret = false;
	int rc;

	if ((rc = change_read_state(t->cli, path, &cur, &exists)) != 0) {
		free(path);
		return rc;
	}
	if (b != NULL && b->mode != AUDIT_MODE_LINK && vault_is_ref(b->data, b->len, NULL)) {
		/* a private key: the log has its reference, the vault the key */
		if ((rc = check_key_file(t, path)) != 0 ||
		    (rc = vault_resolve(&t->cli->ctx, b->data, b->len, &kdata, &klen)) != 0)
			goto out;
		key = *b;
		key.data = kdata;
		key.len = klen;
		b = &key;
		secret = true;
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
		else if (secret)
			change_add_secret(t->ch, path, b->data, b->len);
		else
			change_add_file(t->ch, TS_OP_WRITE, path, b->data, b->len,
			    b->mode == AUDIT_MODE_EXEC ? 0755 : 0644);
		if (secret)
			describe_key(t->ch, path, b->data, b->len);
		else if (b == NULL || b->mode != AUDIT_MODE_LINK)
			describe(t->ch, path, exists && cur.kind == TS_OP_WRITE ? cur.data : NULL,
			    exists && cur.kind == TS_OP_WRITE ? cur.len : 0, b ? b->data : NULL,
			    b ? b->len : 0);
	}
out:
	if (exists && cur.data != NULL && (secret || b == NULL))
		OPENSSL_cleanse(cur.data, cur.len); /* a key, perhaps */
	free(cur.path);
	free(cur.data);
	free(path);
	vault_data_free(kdata, klen);
	return rc;
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

struct later {
	struct audit *a;
	struct rollback_req *r;
	char by[41];
	char *path;
	char **changed; /* paths whose recorded content differs now from after the change */
	size_t nchanged;
	char head[41];
	int rc;
};

/* A path the change set that the log now records otherwise. */
static int
compare_after(const struct audit_delta *d, void *arg)
{
	struct later *l = arg;
	void *data = NULL;
	size_t len = 0;
	unsigned mode = 0;
	bool exists = false, same;
	int rc;

	if ((rc = audit_read_file(&data, &len, &mode, &exists, l->a, l->head, d->path)) != 0)
		return rc;
	if (d->after == NULL)
		same = !exists;
	else
		same = exists && mode == d->after->mode && len == d->after->len &&
		    memcmp(data, d->after->data, len) == 0;
	free(data);
	if (!same) {
		l->changed = tf_realloc(l->changed, (l->nchanged + 1) * sizeof(char *));
		l->changed[l->nchanged++] = tf_strdup(d->path);
	}
	return 0;
}

/* Whether a later change touched one of the paths that differ now. */
static int
touched_path(const struct audit_delta *d, void *arg)
{
	struct later *l = arg;
	size_t i;

	for (i = 0; i < l->nchanged; i++) {
		if (strcmp(l->changed[i], d->path) == 0) {
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

struct pick {
	char **undone; /* ids named by later rollbacks that still stand */
	size_t nundone;
	char id[41];
};

static bool
pick_has(const struct pick *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->nundone; i++)
		if (strcmp(p->undone[i], id) == 0)
			return true;
	return false;
}

/*
 * The newest change that still stands: not a record of state, not a
 * rollback, and not undone by a rollback that itself still stands.
 */
static int
pick_last(const struct audit_entry *e, void *arg)
{
	struct pick *p = arg;
	const char *of;

	if (has_trailer(e, "Trustfix-Rollback-Of", &of)) {
		if (!pick_has(p, e->id)) {
			p->undone = tf_realloc(p->undone, (p->nundone + 1) * sizeof(char *));
			p->undone[p->nundone++] = tf_strdup(of);
		}
		return 0;
	}
	if (has_trailer(e, "Trustfix-Drift", NULL) || has_trailer(e, "Trustfix-Baseline", NULL) ||
	    has_trailer(e, "Trustfix-Restore-To", NULL) || pick_has(p, e->id))
		return 0;
	memcpy(p->id, e->id, 41);
	return 1;
}

struct info {
	struct rollback_req *r;
	bool baseline;
};

static int
keep_info(const struct audit_entry *e, void *arg)
{
	struct info *in = arg;

	in->r->subject = tf_strdup(e->subject_line);
	in->baseline = has_trailer(e, "Trustfix-Baseline", NULL);
	return 0;
}

static int
plan_rollback(struct cli *cli, struct audit *a, struct change *ch, void *arg)
{
	struct rollback_req *r = arg;
	struct target t = { .cli = cli, .ch = ch, .r = r, .a = a };
	struct change_scope *scope = r->scope;
	struct later l = { .a = a, .r = r };
	struct info in = { .r = r };
	char head[41];
	bool empty = true;
	size_t i;
	int rc;

	/* planning runs again after a drift record: start afresh */
	for (i = 0; i < r->npaths; i++)
		free(r->paths[i]);
	r->npaths = 0;
	free(r->subject);
	r->subject = NULL;
	if (a != NULL && (rc = audit_head(head, &empty, a)) != 0)
		return rc;
	if (empty) {
		r->nothing = "no change recorded yet";
		return 0;
	}
	if (r->rev == NULL) {
		struct pick p = { 0 };

		rc = audit_log(a, head, 0, pick_last, &p);
		for (i = 0; i < p.nundone; i++)
			free(p.undone[i]);
		free(p.undone);
		if (rc == 0) {
			r->nothing = "there is no change left to roll back";
			return 0;
		}
		if (rc != 1)
			return rc;
		memcpy(r->id, p.id, 41);
	} else if ((rc = audit_resolve(r->id, a, r->rev)) != 0) {
		return rc;
	}
	if ((rc = audit_log(a, r->id, 1, keep_info, &in)) != 0)
		return rc;
	if (r->to) {
		if ((rc = audit_tree_walk(a, r->id, 0, restore_blob, &t)) != 0 ||
		    (rc = audit_tree_walk(a, head, AUDIT_WALK_NODATA, paths_absent, &t)) != 0)
			return rc;
		ch->subject_line = tf_asprintf("restore the state of %.12s: %s", r->id, r->subject);
		change_add_trailer(ch, "Trustfix-Restore-To", r->id);
		for (i = 0; i < r->npaths; i++) {
			char *abs = tf_asprintf("/%s", r->paths[i]);

			change_scope_add(scope, abs);
			free(abs);
		}
		r->nothing = "the files are as they were then";
		return 0;
	}
	if (in.baseline)
		return tf_error(&cli->ctx, TF_EUSAGE,
		    "change %.12s is the first record of the files, not a change: there is nothing "
		    "to undo (to restore the files as they were then, use --to %.12s)",
		    r->id, r->id);
	if ((rc = audit_changed_files(a, r->id, undo_delta, &t)) != 0)
		return rc;
	if (ch->nfiles == 0) {
		r->nothing = "the files are as they were before that change";
		return 0;
	}
	if (!r->force) {
		/* refused only when a later change left a file otherwise than this
		 * change did: changes undone since do not count */
		memcpy(l.head, head, 41);
		if ((rc = audit_changed_files(a, r->id, compare_after, &l)) != 0)
			goto later_out;
		rc = l.nchanged > 0 ? audit_log(a, head, 0, check_later, &l) : 0;
		if (rc == 1) {
			rc = tf_error(&cli->ctx, TF_EREFUSED,
			    "change %.12s changed '/%s' after %.12s: rolling back %.12s would undo "
			    "it "
			    "too; roll back %.12s first, use --to, or give --force",
			    l.by, l.path, r->id, r->id, l.by);
			free(l.path);
			goto later_out;
		}
		if (rc == 2)
			rc = 0;
	later_out:
		for (i = 0; i < l.nchanged; i++)
			free(l.changed[i]);
		free(l.changed);
		if (rc != 0)
			return rc;
	}
	ch->subject_line = tf_asprintf("rollback of %.12s: %s", r->id, r->subject);
	change_add_trailer(ch, "Trustfix-Rollback-Of", r->id);
	for (i = 0; i < r->npaths; i++) {
		char *abs = tf_asprintf("/%s", r->paths[i]);

		change_scope_add(scope, abs);
		free(abs);
	}
	return 0;
}

int
cmd_rollback(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		CLI_COMMON_OPTIONS,
		CHANGE_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct rollback_req r = { .rev = NULL };
	struct change_scope scope = { 0 };
	struct change_opts o = { 0 };
	struct change ch = { 0 };
	char **stores = NULL, id[41] = "";
	size_t nstores = 0, i;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":nqvh", opts, NULL)) != -1) {
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
		case ':':
			return cli_usage(cli, "rollback", "option '%s' needs a value",
			    argv[optind - 1]);
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
	    (rc = change_stores(cli, "rollback", NULL, 0, &stores, &nstores)) != 0)
		return rc;
	for (i = 0; i < nstores; i++)
		change_scope_add(&scope, stores[i]);
	r.scope = &scope;
	o.command = cli->cmdline;
	rc = change_run(cli, &o, &scope, plan_rollback, &r, &ch, id);
	if (rc == 0 || CHANGE_FAILED(rc))
		change_print(cli, &ch, o.dry_run, id);
	else if (rc == TF_EXIT_NOTHING)
		change_print_nothing(cli, &o, r.nothing ? r.nothing : "the files are as they were");
	change_release(&ch);
	change_free_list(stores, nstores);
	change_free_list(scope.v, scope.n);
	for (i = 0; i < r.npaths; i++)
		free(r.paths[i]);
	free(r.paths);
	free(r.subject);
	return rc;
}
