/*
 * cli/change.c - every change of the managed system goes through here:
 * lock, recovery of a crashed run, a record of drift (files edited by hand
 * since the last recorded state), the plan, the dry run, the hooks, the
 * transaction, the audit commit, and the undo of a change whose
 * post-change checks failed. Building a change is cli/change_build.c,
 * printing it cli/change_print.c.
 */
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "../audit/audit.h"
#include "../audit/vault.h"
#include "../core/path.h"
#include "../hooks/hooks.h"
#include "../txn/txn.h"
#include "change.h"
#include "drift.h"
#include "output.h"
#include "statcache.h"

/* Drift of up to this many files is looked up file by file: new, or changed. */
#define NEW_CHECK_MAX 4096

static const char *
operator_name(const struct change_opts *o)
{
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (o->operator_name != NULL)
		return o->operator_name;
	if (s != NULL && *s != '\0')
		return s;
	if ((pw = getpwuid(getuid())) != NULL)
		return pw->pw_name;
	return "unknown";
}

static unsigned
audit_mode(const struct change_file *f)
{
	if (f->kind == TS_OP_SYMLINK)
		return AUDIT_MODE_LINK;
	return (f->mode & 0111) ? AUDIT_MODE_EXEC : AUDIT_MODE_FILE;
}

/* Record one change in the log; files are converted to the log's form. */
static int
record_commit(struct cli *cli, struct audit *a, const struct change_opts *o,
    const struct change *ch, char id_out[41])
{
	struct audit_file *af = tf_calloc(ch->nfiles ? ch->nfiles : 1, sizeof(*af));
	char **refs = tf_calloc(ch->nfiles ? ch->nfiles : 1, sizeof(*refs)), *body = NULL;
	struct audit_change ac = { 0 };
	struct change keyed = { 0 };
	size_t i, rlen;
	int rc = 0;

	for (i = 0; i < ch->nfiles; i++) {
		const struct change_file *f = &ch->files[i];

		af[i].path = f->path + strspn(f->path, "/");
		af[i].data = f->data;
		af[i].len = f->len;
		af[i].mode = audit_mode(f);
		af[i].remove = f->kind == TS_OP_REMOVE;
		/* a private key: the log gets a reference, the vault the key */
		if (f->kind == TS_OP_WRITE &&
		    vault_form(&refs[i], &rlen, &cli->ctx, f->path, f->data, f->len) == 1) {
			if ((rc = vault_keep(&cli->ctx, f->data, f->len)) != 0)
				goto out;
			af[i].data = refs[i];
			af[i].len = rlen;
		}
	}
	ac.subject_line = ch->subject_line;
	ac.body = body = change_record_body(ch);
	ac.reason = o->reason;
	ac.ticket = o->ticket;
	ac.operator_name = operator_name(o);
	ac.command = o->command;
	/* the key files, so that a rollback knows where a vault reference belongs */
	for (i = 0; i < ch->nfiles; i++)
		if (refs[i] != NULL)
			change_add_trailer(&keyed, "Trustfix-Key-File", ch->files[i].path);
	for (i = 0; i < ch->ntrailers; i++)
		change_add_trailer(&keyed, ch->trailer_keys[i], ch->trailer_values[i]);
	ac.trailer_keys = (const char *const *)keyed.trailer_keys;
	ac.trailer_values = (const char *const *)keyed.trailer_values;
	ac.ntrailers = keyed.ntrailers;
	rc = audit_record(id_out, a, af, ch->nfiles, &ac);
out:
	for (i = 0; i < ch->nfiles; i++)
		free(refs[i]);
	free(refs);
	free(af);
	free(body);
	change_release(&keyed);
	return rc;
}

/* The files of a change, as the stat cache takes them (ids into 'ids'). */
static struct sc_change *
cache_changes(struct cli *cli, struct audit *a, const struct change *ch, char (*ids)[41])
{
	struct sc_change *v = tf_calloc(ch->nfiles ? ch->nfiles : 1, sizeof(*v));
	size_t i;

	for (i = 0; i < ch->nfiles; i++) {
		const struct change_file *f = &ch->files[i];

		v[i].path = f->path;
		v[i].mode = audit_mode(f);
		if (f->kind != TS_OP_REMOVE &&
		    vault_blob_id(ids[i], a, &cli->ctx, f->path, f->data, f->len) == 0)
			v[i].id = ids[i];
		else if (f->kind != TS_OP_REMOVE)
			v[i].id = ""; /* unknown: the cache forgets the file */
	}
	return v;
}

/*
 * Record a change trustfix made (or completed after a crash), and tell the
 * stat cache, so that the next scan does not take it for drift nor read
 * the store's directory again for it. A file written over an existing one
 * keeps that one's mode (txn_write()): the mode recorded is the one the
 * file has, or the log would differ from the store until the next run
 * took it for drift.
 */
static int
record(struct cli *cli, struct audit *a, const struct change_opts *o, const struct change *ch,
    char id_out[41])
{
	struct change done = *ch;
	char before[41], (*ids)[41];
	struct sc_change *files;
	struct stat st;
	bool empty;
	size_t i;
	int rc;

	done.files = tf_calloc(ch->nfiles ? ch->nfiles : 1, sizeof(*done.files));
	for (i = 0; i < ch->nfiles; i++) {
		done.files[i] = ch->files[i];
		if (ch->files[i].kind == TS_OP_WRITE &&
		    tf_lstat(&cli->ctx, ch->files[i].path, &st) == 0 && S_ISREG(st.st_mode))
			done.files[i].mode = st.st_mode & 07777;
	}
	if ((rc = audit_head(before, &empty, a)) != 0 ||
	    (rc = record_commit(cli, a, o, &done, id_out)) != 0)
		goto out;
	if (id_out == NULL)
		goto out;
	ids = tf_calloc(done.nfiles ? done.nfiles : 1, sizeof(*ids));
	files = cache_changes(cli, a, &done, ids);
	tf_error_clear(&cli->ctx);
	if (cli->statcache != NULL)
		statcache_record(cli->statcache, &cli->ctx, files, done.nfiles, id_out);
	else if (!empty)
		statcache_note_commit(&cli->ctx, before, id_out, files, done.nfiles);
	free(files);
	free(ids);
out:
	free(done.files);
	return rc;
}

/*
 * Bring the log up to date with the files in scope: a first record of
 * stores never recorded, and a record of what changed behind its back.
 * The stat cache (cli/statcache.h) makes this cost a stat per file
 * (cli/drift.c); what this run's scan saw stays in cli->statcache for the
 * record of the change that follows.
 */
static int
sync_scope(struct cli *cli, struct audit *a, const struct change_opts *o, char *const *scope,
    size_t nscope)
{
	struct statcache *sc = statcache_load(&cli->ctx);
	struct change drift = { 0 };
	struct sc_change *files = NULL;
	char head[41], id[41], *list = NULL, (*ids)[41] = NULL;
	bool empty;
	size_t i, nrecorded = 0, nnew = 0;
	int rc;

	if ((rc = audit_head(head, &empty, a)) != 0 ||
	    (rc = change_drift(cli, a, sc, scope, nscope, empty ? NULL : head, &drift,
	         &nrecorded)) != 0)
		goto out;
	if (drift.nfiles == 0) {
		if (!empty)
			statcache_apply(sc, NULL, 0, head);
		goto keep;
	}
	/* name only the stores (or files) of the scope that hold drift */
	for (i = 0; i < nscope; i++) {
		size_t k, n = strlen(scope[i]);
		char *l;

		for (k = 0; k < drift.nfiles; k++)
			if (strncmp(drift.files[k].path, scope[i], n) == 0 &&
			    (drift.files[k].path[n] == '\0' || drift.files[k].path[n] == '/'))
				break;
		if (k == drift.nfiles)
			continue;
		l = tf_asprintf("%s%s%s", list ? list : "", list ? ", " : "", scope[i]);
		free(list);
		list = l;
	}
	if (list == NULL)
		list = tf_strdup(drift.files[0].path);
	/* files seen for the first time (a store new to the log) are no drift */
	if (nrecorded > 0 && drift.nfiles <= NEW_CHECK_MAX && !empty) {
		for (i = 0; i < drift.nfiles && rc == 0; i++) {
			void *data = NULL;
			size_t len;
			unsigned mode;
			bool exists = true;

			if (drift.files[i].kind != TS_OP_REMOVE)
				rc = audit_read_file(&data, &len, &mode, &exists, a, head,
				    drift.files[i].path + strspn(drift.files[i].path, "/"));
			free(data);
			nnew += !exists;
		}
		if (rc == TF_EINVALID) {
			/* a file where the log has a folder: drift */
			tf_error_clear(&cli->ctx);
			rc = 0;
		}
		if (rc != 0)
			goto out;
	}
	if (nrecorded == 0 || nnew == drift.nfiles) {
		drift.subject_line = tf_asprintf("record the state of %s", list);
		drift.body = tf_strdup("the files as they were before trustfix changed them\n");
		change_add_trailer(&drift, "Trustfix-Baseline", "yes");
	} else {
		drift.subject_line = tf_asprintf("external change detected in %s", list);
		drift.body = tf_asprintf("%zu file%s changed outside trustfix since the last "
		                         "recorded change%s\n",
		    drift.nfiles - nnew, drift.nfiles - nnew == 1 ? "" : "s",
		    nnew > 0 ? "; the others are recorded for the first time" : "");
		change_add_trailer(&drift, "Trustfix-Drift", "yes");
	}
	{
		struct change_opts dopts = *o;

		dopts.reason = NULL;
		dopts.ticket = NULL;
		rc = record_commit(cli, a, &dopts, &drift, id);
	}
	if (rc != 0)
		goto out; /* the cache is dropped: it holds the drift as if recorded */
	ids = tf_calloc(drift.nfiles, sizeof(*ids));
	files = cache_changes(cli, a, &drift, ids);
	tf_error_clear(&cli->ctx);
	statcache_apply(sc, files, drift.nfiles, id);
	if (nrecorded > 0 && nnew < drift.nfiles && cli->ctx.verbosity >= 0)
		fprintf(stderr, "trustfix: external change detected in %s: recorded as %.12s\n",
		    list, id);
keep:
	/* written now only when the log moved: a run with nothing to do writes nothing */
	statcache_save(sc, &cli->ctx, false);
	statcache_free(cli->statcache);
	cli->statcache = sc;
	sc = NULL;
out:
	free(list);
	free(files);
	free(ids);
	statcache_free(sc);
	change_release(&drift);
	return rc;
}

static char *
payload_json(const struct change_opts *o, const struct change *ch, bool checks, size_t *len)
{
	json_t *doc = json_object(), *tr = json_array(), *keys = NULL;
	char *s;
	size_t i;

	json_object_set_new(doc, "subject", out_jstr(ch->subject_line));
	json_object_set_new(doc, "body", out_jstr(ch->body));
	json_object_set_new(doc, "reason", out_jstr(o->reason));
	json_object_set_new(doc, "ticket", out_jstr(o->ticket));
	json_object_set_new(doc, "operator", out_jstr(operator_name(o)));
	json_object_set_new(doc, "command", out_jstr(o->command));
	for (i = 0; i < ch->ntrailers; i++)
		json_array_append_new(tr,
		    json_pack("[ss]", ch->trailer_keys[i], ch->trailer_values[i]));
	json_object_set_new(doc, "trailers", tr);
	/* post-change hooks or probes to pass: a crash before they have is a failure */
	if (checks)
		json_object_set_new(doc, "checks", json_true());
	for (i = 0; i < ch->nfiles; i++) {
		if (!ch->files[i].secret)
			continue;
		if (keys == NULL)
			keys = json_array();
		json_array_append_new(keys, out_jstr(ch->files[i].path));
	}
	if (keys != NULL)
		json_object_set_new(doc, "keys", keys);
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	*len = s != NULL ? strlen(s) : 0;
	return s;
}

struct token_check {
	const char *token;
	bool found;
};

static int
find_token(const struct audit_entry *e, void *arg)
{
	struct token_check *tc = arg;
	size_t i;

	for (i = 0; i < e->ntrailers; i++)
		if (strcmp(e->trailer_keys[i], "Trustfix-Change") == 0 &&
		    strcmp(e->trailer_values[i], tc->token) == 0)
			tc->found = true;
	return 0;
}

/* Record the change a crashed run completed, from its journal payload. */
static int
record_recovered(struct cli *cli, struct audit *a, struct txn *t)
{
	struct change ch = { 0 };
	struct change_opts o = { 0 };
	const void *pl;
	json_t *doc = NULL, *tr, *pair;
	json_error_t jerr;
	char id[41];
	size_t len, i, n = txn_recovered_count(t);
	int rc = 0;

	if ((pl = txn_recovered_payload(t, &len)) != NULL)
		doc = json_loadb(pl, len, 0, &jerr);
	ch.subject_line = tf_asprintf("%s (completed after an interruption)",
	    doc != NULL && json_string_value(json_object_get(doc, "subject"))
	        ? json_string_value(json_object_get(doc, "subject"))
	        : "change");
	if (doc != NULL && json_string_value(json_object_get(doc, "body")) != NULL)
		ch.body = tf_strdup(json_string_value(json_object_get(doc, "body")));
	o.reason = doc != NULL ? json_string_value(json_object_get(doc, "reason")) : NULL;
	o.ticket = doc != NULL ? json_string_value(json_object_get(doc, "ticket")) : NULL;
	o.operator_name = doc != NULL ? json_string_value(json_object_get(doc, "operator")) : NULL;
	o.command = doc != NULL ? json_string_value(json_object_get(doc, "command")) : NULL;
	tr = doc != NULL ? json_object_get(doc, "trailers") : NULL;
	json_array_foreach(doc != NULL ? json_object_get(doc, "keys") : NULL, i, pair)
	{
		if (json_string_value(pair) != NULL)
			vault_add_key_path(&cli->ctx, json_string_value(pair));
	}
	/* the crash came after the change was recorded: only the journal is left */
	json_array_foreach(tr, i, pair)
	{
		struct token_check tc = { json_string_value(json_array_get(pair, 1)), false };

		if (tc.token == NULL ||
		    strcmp(json_string_value(json_array_get(pair, 0)) ?: "", "Trustfix-Change") !=
		        0)
			continue;
		if ((rc = audit_log(a, NULL, 1, find_token, &tc)) != 0)
			goto out;
		if (tc.found) {
			rc = txn_recovery_done(t);
			goto out;
		}
	}
	json_array_foreach(tr, i, pair)
	{
		const char *k = json_string_value(json_array_get(pair, 0));
		const char *v = json_string_value(json_array_get(pair, 1));

		if (k != NULL && v != NULL)
			change_add_trailer(&ch, k, v);
	}
	change_add_trailer(&ch, "Trustfix-Recovered", "yes");
	if (doc != NULL && json_is_true(json_object_get(doc, "checks"))) {
		/* its hooks and probes never said it was good: the next step undoes it */
		ch.failure = tf_strdup("the run was interrupted before the post-change hooks and "
		                       "probes had finished");
		change_add_trailer(&ch, "Trustfix-Failed", ch.failure);
	}
	for (i = 0; i < n && rc == 0; i++) {
		enum txn_kind kind;
		const char *path = txn_recovered_path(t, i, &kind);
		struct change_file f;
		bool exists;

		if ((rc = change_read_state(cli, path, &f, &exists)) == 0) {
			if (exists)
				change_add_file(&ch, f.kind, path, f.data, f.len, f.mode);
			else
				change_add_file(&ch, TS_OP_REMOVE, path, NULL, 0, 0);
			ch.files[ch.nfiles - 1].secret = vault_is_key_path(&cli->ctx, path);
		}
		if (f.data != NULL && vault_is_key_path(&cli->ctx, path))
			OPENSSL_cleanse(f.data, f.len);
		free(f.path);
		free(f.data);
	}
	if (rc == 0)
		rc = record(cli, a, &o, &ch, id);
	if (rc == 0)
		rc = txn_recovery_done(t);
out:
	json_decref(doc);
	change_release(&ch);
	return rc;
}

/* Lock, recover, open the log and record drift: the start of every change. */
static int
begin(struct cli *cli, const struct change_opts *o, char *const *scope, size_t nscope,
    struct txn **t, struct audit **a)
{
	int rc;

	if ((rc = txn_begin(t, &cli->ctx, o->wait_seconds)) != 0)
		return rc;
	if (txn_recovered(*t) != NULL && cli->ctx.verbosity >= 0)
		fprintf(stderr, "trustfix: %s\n", txn_recovered(*t));
	if ((rc = audit_open(a, &cli->ctx, 0)) != 0)
		return rc;
	if ((rc = audit_recover(*a)) != 0)
		return rc;
	if (txn_recovered_count(*t) > 0 && (rc = record_recovered(cli, *a, *t)) != 0)
		return rc;
	(void)scope;
	(void)nscope;
	return 0;
}

int
change_sync(struct cli *cli, const struct change_opts *o, char *const *scope, size_t nscope)
{
	struct txn *t = NULL;
	struct audit *a = NULL;
	int rc;

	if ((rc = begin(cli, o, scope, nscope, &t, &a)) == 0 &&
	    (rc = sync_scope(cli, a, o, scope, nscope)) == 0)
		rc = txn_end(t);
	audit_free(a);
	txn_free(t);
	return rc;
}

static int
stage(struct txn *t, const struct change *ch)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < ch->nfiles && rc == 0; i++) {
		const struct change_file *f = &ch->files[i];

		switch (f->kind) {
		case TS_OP_WRITE:
			if (f->secret)
				rc = txn_write_key(t, f->path, f->data, f->len);
			else
				rc = txn_write(t, f->path, f->data, f->len, f->mode);
			break;
		case TS_OP_SYMLINK:
			rc = txn_symlink(t, f->path, (const char *)f->data);
			break;
		case TS_OP_REMOVE:
			rc = txn_remove(t, f->path);
			break;
		}
	}
	return rc;
}

/*
 * Refuse, before anything is written, content the log would refuse; the
 * key files of the change are known as such from here on (audit/vault.h).
 */
static int
check_no_key(struct cli *cli, const struct change_opts *o, const struct change *ch)
{
	const char *opts[] = { o->reason, o->ticket, o->operator_name };
	size_t i;

	for (i = 0; i < ch->nfiles; i++)
		if (ch->files[i].secret)
			vault_add_key_path(&cli->ctx, ch->files[i].path);

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i] != NULL && strstr(opts[i], "PRIVATE KEY") != NULL)
			return tf_error(&cli->ctx, TF_EUSAGE,
			    "--reason, --ticket and --operator must not hold a private key");

	for (i = 0; i < ch->nfiles; i++) {
		const struct change_file *f = &ch->files[i];

		if (f->kind == TS_OP_WRITE && !f->secret &&
		    memmem(f->data, f->len, "PRIVATE KEY", 11) != NULL) {
			char *host = tf_hostpath(&cli->ctx, f->path);
			int rc = tf_error(&cli->ctx, TF_EREFUSED,
			    "'%s' would hold a private key block: private keys are never kept in a "
			    "trust store or the audit log; remove the key from it first",
			    host);

			free(host);
			return rc;
		}
	}
	return 0;
}

/* A token unique to this change, so that recovery never records it twice. */
static void
change_token(char out[33])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0, sizeof(b));
	tf_hex(out, b, sizeof(b));
}

static int
head_id(struct audit *a, char id[41])
{
	bool empty;
	int rc = audit_head(id, &empty, a);

	if (rc == 0 && empty)
		id[0] = '\0';
	return rc;
}

/* What each file of the change is now: its new content, its old one, or neither. */
static void
report_states(struct cli *cli, const struct change *ch, const struct change *undo)
{
	size_t i;

	fprintf(stderr, "trustfix: the state of each file of the change:\n");
	for (i = 0; i < ch->nfiles; i++) {
		const struct change_file *n = &ch->files[i], *o = &undo->files[i];
		struct change_file cur;
		bool exists, is_new, is_old;
		char *host = tf_hostpath(&cli->ctx, n->path);

		tf_error_clear(&cli->ctx);
		if (change_read_state(cli, n->path, &cur, &exists) != 0) {
			fprintf(stderr, "  %s: cannot be read: %s\n", host, cli->ctx.errmsg);
			free(host);
			continue;
		}
		is_new = n->kind == TS_OP_REMOVE
		    ? !exists
		    : exists && cur.len == n->len && memcmp(cur.data, n->data, n->len) == 0;
		is_old = o->kind == TS_OP_REMOVE
		    ? !exists
		    : exists && cur.len == o->len && memcmp(cur.data, o->data, o->len) == 0;
		fprintf(stderr, "  %s: %s\n", host,
		    is_new       ? "as the change left it (new)"
		        : is_old ? "as it was before the change (old)"
		                 : "neither the old nor the new content: check it by hand");
		if (cur.data != NULL)
			OPENSSL_cleanse(cur.data, cur.len);
		free(cur.path);
		free(cur.data);
		free(host);
	}
}

/*
 * A post-change hook or probe failed after 'ch' was applied and recorded as
 * 'id': apply 'undo' under the same lock, record it, run the post-rollback
 * and on-failure hooks. Returns TF_EXIT_ROLLEDBACK, or
 * TF_EXIT_ROLLBACK_FAILED with the state of each file on stderr.
 */
static int
undo_change(struct cli *cli, struct audit *a, const struct change_opts *o, struct txn *t,
    struct change *ch, struct change *undo, const char *id, const char *ch_token,
    const struct change_scope *scope)
{
	struct change_opts uo = *o;
	char *payload = NULL, token[33];
	size_t plen;
	bool failed;
	int rc;

	if (*id) {
		undo->subject_line = tf_asprintf("undo %.12s: %s", id, ch->failure);
		change_add_trailer(undo, "Trustfix-Rollback-Of", id);
	} else {
		/* the change itself could not be recorded: named by its token */
		undo->subject_line = tf_asprintf("undo an unrecorded change: %s", ch->failure);
		change_add_trailer(undo, "Trustfix-Undoes-Change", ch_token);
	}
	change_add_trailer(undo, "Trustfix-Automatic", "yes");
	change_token(token);
	change_add_trailer(undo, "Trustfix-Change", token);
	uo.reason = ch->failure;
	if ((rc = txn_next(t)) == 0 && (rc = stage(t, undo)) == 0) {
		payload = payload_json(&uo, undo, false, &plen);
		if (payload != NULL)
			txn_set_payload(t, payload, plen);
		rc = txn_commit(t);
	}
	free(payload);
	if (rc != 0) {
		fprintf(stderr, "trustfix: %s, and undoing the change failed: %s\n", ch->failure,
		    cli->ctx.errmsg);
		report_states(cli, ch, undo);
		fprintf(stderr,
		    "trustfix: the next run of trustfix that changes anything tries the undo "
		    "again first\n");
		(void)change_run_hooks(cli, ch, HOOKS_ON_FAILURE, ch_token, scope, false, &failed);
		return TF_EXIT_ROLLBACK_FAILED;
	}
	/* the undone state is in place; its hooks are recorded with the undo */
	(void)change_run_hooks(cli, undo, HOOKS_POST_ROLLBACK, token, scope, false, &failed);
	(void)change_run_hooks(cli, undo, HOOKS_ON_FAILURE, token, scope, false, &failed);
	tf_error_clear(&cli->ctx);
	change_add_hook_trailers(undo);
	if ((rc = record(cli, a, &uo, undo, ch->undo_id)) != 0) {
		fprintf(stderr,
		    "trustfix: the change was undone but the undo could not be recorded (%s); the "
		    "next run of trustfix records it\n",
		    cli->ctx.errmsg);
		ch->undo_id[0] = '\0';
	} else {
		(void)txn_end(t);
	}
	/* the hooks after the undo are shown with the change */
	while (undo->nhooks > 0) {
		ch->hooks = tf_realloc(ch->hooks, (ch->nhooks + 1) * sizeof(*ch->hooks));
		ch->hooks[ch->nhooks++] = undo->hooks[0];
		memmove(undo->hooks, undo->hooks + 1, --undo->nhooks * sizeof(*undo->hooks));
	}
	return TF_EXIT_ROLLEDBACK;
}

/* A pre-change hook said no: nothing was written. */
static int
vetoed(struct cli *cli, struct change *ch, const char *token, const struct change_scope *scope)
{
	const struct change_hook *h = change_first_failed_hook(ch, HOOKS_PRE_CHANGE);
	bool failed;

	ch->failure = tf_asprintf("pre-change hook %s vetoed the change (%s)", h->name, h->result);
	fprintf(stderr, "trustfix: %s: nothing was changed\n", ch->failure);
	(void)change_run_hooks(cli, ch, HOOKS_ON_FAILURE, token, scope, false, &failed);
	return TF_EXIT_ROLLEDBACK;
}

/* With --dry-run: the hooks and probes the change would run. */
static int
list_checks(struct cli *cli, struct change *ch, const struct change_scope *scope)
{
	int rc;

	if ((rc = change_list_hooks(cli, ch, HOOKS_PRE_CHANGE)) == 0 &&
	    (rc = change_list_hooks(cli, ch, HOOKS_POST_CHANGE)) == 0)
		change_probe_list(cli, scope, ch);
	return rc;
}

/* Whether a change has post-change hooks or probes to pass. */
static bool
has_checks(struct cli *cli)
{
	struct hooks_list *l = NULL;
	bool any = change_has_probes(cli);

	if (!any && hooks_list(&l, &cli->ctx, HOOKS_POST_CHANGE) == 0)
		any = hooks_list_count(l) > 0;
	tf_error_clear(&cli->ctx);
	hooks_list_free(l);
	return any;
}

/* What the log's last change is, when it failed its post-change checks. */
struct failed_head {
	char *failure;       /* its Trustfix-Failed, or NULL */
	struct change *undo; /* the trailers of the undo, swapped */
	struct cli *cli;     /* key files it names are noted as such */
};

static int
read_failed_head(const struct audit_entry *e, void *arg)
{
	struct failed_head *f = arg;
	size_t i;

	for (i = 0; i < e->ntrailers; i++) {
		const char *k = e->trailer_keys[i], *v = e->trailer_values[i];

		if (strcmp(k, "Trustfix-Failed") == 0 && f->failure == NULL)
			f->failure = tf_strdup(v);
		else if (strcmp(k, "Trustfix-Added") == 0)
			change_add_trailer(f->undo, "Trustfix-Removed", v);
		else if (strcmp(k, "Trustfix-Removed") == 0)
			change_add_trailer(f->undo, "Trustfix-Added", v);
		else if (strcmp(k, "Trustfix-Key-File") == 0)
			vault_add_key_path(&f->cli->ctx, v);
	}
	return 0;
}

/* Put back a path the failed change set, as its parent recorded it. */
static int
undo_delta(const struct audit_delta *d, void *arg)
{
	struct failed_head *f = arg;
	char *path = tf_asprintf("/%s", d->path);
	const struct audit_blob *b = d->before;

	if (b == NULL)
		change_add_file(f->undo, TS_OP_REMOVE, path, NULL, 0, 0);
	else if (b->mode == AUDIT_MODE_LINK)
		change_add_file(f->undo, TS_OP_SYMLINK, path, b->data, b->len, 0777);
	else
		change_add_file(f->undo, TS_OP_WRITE, path, b->data, b->len,
		    b->mode == AUDIT_MODE_EXEC ? 0755 : 0644);
	free(path);
	return 0;
}

/*
 * The log's last change failed its post-change checks and was not undone
 * (the run that made it crashed, or its undo failed): undo it now, as its
 * own recorded change, before anything else is done. The undo puts back
 * what the change's parent recorded, private keys from the key vault.
 */
static int
finish_undo(struct cli *cli, struct audit *a, struct txn *t, const struct change_opts *o)
{
	struct change undo = { 0 };
	struct failed_head f = { NULL, &undo, cli };
	struct change_opts uo = *o;
	char head[41], id[41], token[33], *payload = NULL;
	size_t i, plen;
	bool empty;
	int rc;

	if ((rc = audit_head(head, &empty, a)) != 0 || empty ||
	    (rc = audit_log(a, head, 1, read_failed_head, &f)) != 0 || f.failure == NULL)
		goto out;
	if ((rc = audit_changed_files(a, head, undo_delta, &f)) != 0)
		goto out;
	/* key files: the log holds their reference, the vault the key */
	for (i = 0; i < undo.nfiles && rc == 0; i++) {
		struct change_file *cf = &undo.files[i];
		unsigned char *key;
		size_t klen;

		if (cf->kind != TS_OP_WRITE || !vault_is_ref(cf->data, cf->len, NULL) ||
		    !vault_is_key_path(&cli->ctx, cf->path))
			continue; /* a reference where no key was is put back as text */
		if ((rc = vault_resolve(&cli->ctx, cf->data, cf->len, &key, &klen)) != 0)
			break;
		free(cf->data);
		cf->data = key;
		cf->len = klen;
		cf->mode = 0600;
		cf->secret = true;
	}
	if (rc != 0)
		goto fail;
	undo.subject_line =
	    tf_asprintf("undo %.12s: %s (finished by a later run)", head, f.failure);
	undo.body = tf_strdup("the change failed its post-change checks, and the run that made "
	                      "it did not undo it\n");
	change_add_trailer(&undo, "Trustfix-Rollback-Of", head);
	change_add_trailer(&undo, "Trustfix-Automatic", "yes");
	change_token(token);
	change_add_trailer(&undo, "Trustfix-Change", token);
	uo.reason = f.failure;
	uo.ticket = NULL;
	if ((rc = stage(t, &undo)) != 0)
		goto fail;
	payload = payload_json(&uo, &undo, false, &plen);
	if (payload != NULL)
		txn_set_payload(t, payload, plen);
	if ((rc = txn_commit(t)) != 0 || (rc = record(cli, a, &uo, &undo, id)) != 0)
		goto fail;
	if (cli->ctx.verbosity >= 0)
		fprintf(stderr,
		    "trustfix: change %.12s failed its post-change checks (%s) and was not undone: "
		    "undone now, recorded as %.12s\n",
		    head, f.failure, id);
	rc = txn_next(t);
	goto out;
fail:
	fprintf(stderr,
	    "trustfix: change %.12s failed its post-change checks (%s) and cannot be undone "
	    "yet\n",
	    head, f.failure);
out:
	free(payload);
	free(f.failure);
	change_release(&undo);
	return rc;
}

int
change_run(struct cli *cli, const struct change_opts *o, struct change_scope *scope,
    change_plan_fn plan, void *arg, struct change *ch, char id_out[41])
{
	struct change_probe_state *probes = NULL;
	struct change undo = { 0 };
	struct txn *t = NULL;
	struct audit *a = NULL;
	const struct change_hook *h;
	char *payload = NULL, before[41], after[41], token[33];
	size_t plen;
	bool failed;
	int rc;

	id_out[0] = '\0';
	if (o->dry_run) {
		/* no lock, no recovery, nothing written: the plan against what is there */
		if (audit_open(&a, &cli->ctx, AUDIT_OPEN_READONLY) != 0) {
			tf_error_clear(&cli->ctx);
			a = NULL;
		}
		if ((rc = plan(cli, a, ch, arg)) == 0 && (rc = check_no_key(cli, o, ch)) == 0 &&
		    ch->nfiles == 0)
			rc = TF_EXIT_NOTHING;
		if (rc == 0)
			rc = list_checks(cli, ch, scope);
		goto out;
	}
	if ((rc = begin(cli, o, scope->v, scope->n, &t, &a)) != 0 ||
	    (rc = finish_undo(cli, a, t, o)) != 0 ||
	    (o->prepare != NULL && (rc = o->prepare(cli, arg)) != 0))
		goto out;
	/* plan before recording anything: a change refused leaves no trace */
	if ((rc = plan(cli, a, ch, arg)) != 0 || (rc = check_no_key(cli, o, ch)) != 0)
		goto out;
	if ((rc = head_id(a, before)) != 0 ||
	    (rc = sync_scope(cli, a, o, scope->v, scope->n)) != 0 || (rc = head_id(a, after)) != 0)
		goto out;
	if (strcmp(before, after) != 0) {
		/* drift was recorded: plan again against the log as it is now */
		change_release(ch);
		if ((rc = plan(cli, a, ch, arg)) != 0 || (rc = check_no_key(cli, o, ch)) != 0)
			goto out;
	}
	if (ch->nfiles == 0) {
		rc = TF_EXIT_NOTHING; /* txn_free() releases the lock */
		goto out;
	}
	change_token(token);
	change_add_trailer(ch, "Trustfix-Change", token);
	if ((rc = change_run_hooks(cli, ch, HOOKS_PRE_CHANGE, token, scope, false, &failed)) != 0)
		goto out;
	if (failed) {
		rc = vetoed(cli, ch, token, scope);
		goto out;
	}
	if ((rc = change_undo_plan(cli, ch, &undo)) != 0)
		goto out;
	probes = change_probe_before(cli, scope);
	if ((rc = stage(t, ch)) != 0)
		goto out;
	payload = payload_json(o, ch, has_checks(cli), &plen);
	if (payload != NULL)
		txn_set_payload(t, payload, plen);
	if ((rc = txn_commit(t)) != 0)
		goto out;
	/* the new files are in place; the journal still holds the change */
	if ((rc = change_run_hooks(cli, ch, HOOKS_POST_CHANGE, token, scope, false, &failed)) !=
	    0) {
		ch->failure =
		    tf_asprintf("the post-change hooks could not run: %s", cli->ctx.errmsg);
		tf_error_clear(&cli->ctx);
		failed = true;
	} else if (failed && (h = change_first_failed_hook(ch, HOOKS_POST_CHANGE)) != NULL) {
		ch->failure = tf_asprintf("post-change hook %s failed (%s)", h->name, h->result);
	}
	if (change_probe_after(cli, scope, probes, ch))
		failed = true;
	change_add_hook_trailers(ch);
	if (failed)
		change_add_trailer(ch, "Trustfix-Failed", ch->failure);
	if ((rc = record(cli, a, o, ch, id_out)) != 0) {
		if (!failed) {
			/* the files are changed; the journal stays so that the next run records it */
			fprintf(stderr,
			    "trustfix: the change is made but could not be recorded; the next "
			    "run of trustfix records it\n");
			goto out;
		}
		/* a failed change is undone all the same */
		fprintf(stderr, "trustfix: the change could not be recorded: %s\n",
		    cli->ctx.errmsg);
		tf_error_clear(&cli->ctx);
		id_out[0] = '\0';
	}
	if (failed) {
		fprintf(stderr, "trustfix: %s: undoing the change%s%.12s\n", ch->failure,
		    *id_out ? " " : "", id_out);
		rc = undo_change(cli, a, o, t, ch, &undo, id_out, token, scope);
		goto out;
	}
	rc = txn_end(t);
out:
	change_probe_state_free(probes);
	change_release(&undo);
	free(payload);
	audit_free(a);
	txn_free(t);
	return rc;
}
