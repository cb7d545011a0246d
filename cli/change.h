/*
 * cli/change.h - the path every change of the managed system takes: lock,
 * recovery, drift record, plan, dry run, apply, audit commit.
 */
#ifndef TF_CHANGE_H
#define TF_CHANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "../truststore/edit.h"
#include "cli.h"

/* The options every mutating command takes. */
struct change_opts {
	bool dry_run;
	const char *reason;
	const char *ticket;
	const char *operator_name; /* --operator, else SUDO_USER, else the user */
	int wait_seconds;
	const char *command; /* the command line, for the record */
	/*
	 * Called by change_run() under the lock, after recovery and before the
	 * plan (not in a dry run), with the plan's 'arg': to get what the plan
	 * needs from elsewhere (a certificate over EST) while no other run can
	 * change the system. NULL: nothing. Returns 0 or TF_E*.
	 */
	int (*prepare)(struct cli *cli, void *arg);
};

/* One file of the managed system to put in a given state. */
struct change_file {
	char *path; /* absolute path of the managed system */
	enum ts_op_kind kind;
	unsigned char *data; /* content or link target */
	size_t len;
	mode_t mode;
	/*
	 * A private key file (the client key): allowed to hold a key, written
	 * 0600, and recorded in the audit log as a reference to the key vault
	 * (txn/vault.h), never as bytes.
	 */
	bool secret;
};

/* A hook that ran around a change (or, in a dry run, would run). */
struct change_hook {
	char *phase;
	char *name;
	char *result;     /* "exit status 0", "timed out after 60 s", "would run" */
	int exit_status;  /* -1 when killed, not run or not executable */
	long duration_ms; /* 0 when not run */
	bool ran;
	bool failed;
	bool warn_only; /* on_failure = warn: a failure does not undo the change */
	char *output;   /* what it printed (bounded), "" when nothing */
};

/* A change: files, and what it means in certificate terms. */
struct change {
	char *subject_line;
	char *body; /* "+ name (sha...)" lines, store headers */
	struct change_file *files;
	size_t nfiles;
	char **trailer_keys; /* machine-readable: Trustfix-Added: <store> <sha256> */
	char **trailer_values;
	size_t ntrailers;
	struct change_hook *hooks; /* in the order they ran */
	size_t nhooks;
	char **probes; /* "host:port: ok" lines of the post-change checks */
	size_t nprobes;
	char *failure;     /* why it was undone (post-change hook or probe), or NULL */
	char *client_cert; /* the client certificate it installs, for the hooks, or NULL */
	char undo_id[41];  /* the change that undid it, "" when none */
};

/* Append a line to the body (copied). */
void change_add_body(struct change *ch, const char *line);

/* Say why there is nothing to do: a line, or a JSON document with --json. */
void change_print_nothing(struct cli *cli, const struct change_opts *o, const char *why);

/* Append a trailer (both strings are copied). */
void change_add_trailer(struct change *ch, const char *key, const char *value);

/*
 * Parse the shared options; returns 1 when 'c' was one, 0 when not, -1 on
 * a bad value (usage printed).
 */
int change_option(struct cli *cli, const char *cmd, struct change_opts *o, int c, const char *arg);

/* The long options of change_option(), to append to a command's table. */
#define CHANGE_LONG_OPTIONS                                                                        \
	{ "dry-run", no_argument, NULL, 'n' }, { "reason", required_argument, NULL, 1001 },        \
	    { "ticket", required_argument, NULL, 1002 },                                           \
	    { "operator", required_argument, NULL, 1003 },                                         \
	{                                                                                          \
		"wait", required_argument, NULL, 1004                                              \
	}

/* The help text of the options of CHANGE_LONG_OPTIONS. */
#define CHANGE_USAGE                                                                               \
	"  --dry-run, -n          print the plan, change nothing\n"                                \
	"  --reason TEXT          why, for the audit log\n"                                        \
	"  --ticket ID            the change ticket, for the audit log\n"                          \
	"  --operator NAME        who (default: SUDO_USER, else the user)\n"                       \
	"  --wait SECONDS         wait this long for another run to finish (default 0)\n"          \
	"  --json                 one JSON document\n"

/* The absolute path of the managed system that 'path' names. The caller frees it. */
char *change_abspath(struct cli *cli, const char *path);

/* Append a file operation to the change (the data is copied). */
void change_add_file(struct change *ch, enum ts_op_kind kind, const char *path, const void *data,
    size_t len, mode_t mode);

/*
 * Append a private key file to write (mode 0600, secret): the audit log
 * records its SPKI SHA-256 and the key itself goes to the key vault.
 */
void change_add_secret(struct change *ch, const char *path, const void *data, size_t len);

/* Append the operations of a store plan, and its meaning to the body. */
void change_add_plan(struct change *ch, const struct ts_plan *plan);

void change_release(struct change *ch);

/* Append the files, trailers and (after its subject line) the body of 'part' to 'ch'. */
void change_merge(struct change *ch, const struct change *part);

/*
 * Whether change_run()'s status means a change was attempted and ended in
 * failure (TF_EXIT_ROLLEDBACK: vetoed or undone; TF_EXIT_ROLLBACK_FAILED):
 * then the caller prints the change, with its hooks and failure, as for 0.
 */
#define CHANGE_FAILED(rc) ((rc) == TF_EXIT_ROLLEDBACK || (rc) == TF_EXIT_ROLLBACK_FAILED)

struct change_scope;

/*
 * cli/change_hooks.c. Run the hooks of 'phase' for 'ch' (its id: "" before
 * it is recorded) and append them to ch->hooks; *failed is set when one
 * failed whose on_failure is not "warn". Returns 0 or TF_E* (the hooks
 * could not be listed or started).
 */
int change_run_hooks(struct cli *cli, struct change *ch, const char *phase, const char *id,
    const struct change_scope *scope, bool dry_run, bool *failed);

/* Append the hooks of 'phase' that would run, for a dry run. Returns 0 or TF_E*. */
int change_list_hooks(struct cli *cli, struct change *ch, const char *phase);

/* The first hook of 'phase' that failed (not warn-only), or NULL. */
const struct change_hook *change_first_failed_hook(const struct change *ch, const char *phase);

/* The body of the audit commit: the change's, then its hooks with their output, probes, undo. */
char *change_record_body(const struct change *ch);

/* Add a Trustfix-Hook trailer per hook: "<phase> <name> ok|failed|warned|not-run <exit> <ms>". */
void change_add_hook_trailers(struct change *ch);

void change_hooks_release(struct change *ch);

/*
 * cli/change_undo.c: the change that puts back the files 'ch' replaces (as
 * they are now, before it is applied), its certificate lines inverted.
 * Returns 0 or TF_E*; release 'undo' with change_release().
 */
int change_undo_plan(struct cli *cli, const struct change *ch, struct change *undo);

/*
 * cli/change_probe.c: the endpoints checked around a change, each "probe =
 * host:port" of the configuration against each store of the scope, and the
 * EST server against its ca_file. change_probe_before() notes which
 * validate now; change_probe_after() checks them again, appends a line per
 * probe to ch->probes and returns true (setting ch->failure) when one that
 * validated before no longer does.
 */
struct change_probe_state;
bool change_has_probes(const struct cli *cli);
struct change_probe_state *change_probe_before(struct cli *cli, const struct change_scope *scope);
bool change_probe_after(struct cli *cli, const struct change_scope *scope,
    const struct change_probe_state *before, struct change *ch);
/* For a dry run: the probes that would be checked, as lines in ch->probes. */
void change_probe_list(struct cli *cli, const struct change_scope *scope, struct change *ch);
void change_probe_state_free(struct change_probe_state *st);

struct audit;

/*
 * The stores (or single files) whose state is recorded before a change:
 * read after the first plan, so that a planner may add the files it
 * restores.
 */
struct change_scope {
	char **v;
	size_t n;
};

/* Add a path of the managed system to the scope (copied; no duplicates). */
void change_scope_add(struct change_scope *s, const char *path);

/*
 * Fill 'ch' with the change to make, from the state of the system as it is
 * now (called under the lock, after drift was recorded). 'audit' is the log
 * (read-only access; NULL in a dry run when no log exists yet).
 */
typedef int (*change_plan_fn)(struct cli *cli, struct audit *audit, struct change *ch, void *arg);

/*
 * Carry out a change: without --dry-run, take the lock (waiting --wait
 * seconds), finish a change a crashed run left, record the state of the
 * stores in 'scope' when it is not recorded yet (first use) or differs from
 * the log (drift), then plan with 'plan', apply the files as one
 * transaction and record it in the audit log. With --dry-run, only plan and
 * print. *id_out gets the new change id ("" when none). Returns 0 (changed;
 * a dry run with something to do), TF_EXIT_NOTHING, or TF_E*.
 */
int change_run(struct cli *cli, const struct change_opts *o, struct change_scope *scope,
    change_plan_fn plan, void *arg, struct change *ch, char id_out[41]);

/*
 * The stores a command works on: those named with --store (as absolute
 * paths of the managed system), else every store of the configuration.
 * Returns 0 or TF_EUSAGE when there is none. Free with change_free_list().
 */
int change_stores(struct cli *cli, const char *cmd, char **named, size_t nnamed, char ***out,
    size_t *nout);
void change_free_list(char **v, size_t n);

/*
 * Print a change (planned or made) in certificate terms and files: a table,
 * or with --json one document. 'id' is the change id, "" for none.
 */
void change_print(struct cli *cli, const struct change *ch, bool dry_run, const char *id);

/*
 * The file 'path' of the managed system as it is now, in *f (free f->path
 * and f->data); *exists false when it is missing (or a folder).
 */
int change_read_state(struct cli *cli, const char *path, struct change_file *f, bool *exists);

/* Read certificates (PEM, any number, or one DER) from an input file. */
int change_read_certs(struct cli *cli, const char *file, unsigned char ***der, size_t **len,
    size_t *n);

/*
 * Take the lock and bring the audit log up to date with the files of the
 * stores in 'scope' (recovery, first record, drift) without a change of its
 * own. Returns 0 or TF_E*.
 */
int change_sync(struct cli *cli, const struct change_opts *o, char *const *scope, size_t nscope);

/*
 * cli/cmd_apply.c: a verified bundle in 'stores' and its installed record,
 * as a change_plan_fn ('arg' is a struct apply_req), for "apply" and
 * "remediate".
 */
struct bundle;
struct apply_req {
	struct bundle *b;
	char **stores;
	size_t nstores;
	const char *password; /* of PKCS#12 stores, or NULL */
	bool allow_downgrade;
};
int apply_plan(struct cli *cli, struct audit *audit, struct change *ch, void *arg);

#endif
