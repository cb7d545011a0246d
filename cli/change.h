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

/* A change: files, and what it means in certificate terms. */
struct change {
	char *subject_line;
	char *body; /* "+ name (sha...)" lines, store headers */
	struct change_file *files;
	size_t nfiles;
	char **trailer_keys; /* machine-readable: Trustfix-Added: <store> <sha256> */
	char **trailer_values;
	size_t ntrailers;
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

#endif
