/*
 * hooks/hooks.h - run the operator's hook programs of a phase of a change:
 * which hooks there are, their environment, time limits and captured output.
 */
#ifndef TF_HOOKS_H
#define TF_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/tf.h"

/* The phases, each a folder /etc/trustfix/hooks/<phase>.d under the root. */
#define HOOKS_PRE_CHANGE "pre-change"
#define HOOKS_POST_CHANGE "post-change"
#define HOOKS_POST_ROLLBACK "post-rollback"
#define HOOKS_ON_FAILURE "on-failure"

#define HOOKS_DIR "/etc/trustfix/hooks"
#define HOOKS_DEFAULT_TIMEOUT 60     /* seconds, the default of hook_timeout */
#define HOOKS_KILL_GRACE_MS 2000     /* from SIGTERM to SIGKILL of a timed-out hook */
#define HOOKS_OUTPUT_MAX (64 * 1024) /* bytes kept of each of stdout and stderr */

/*
 * What a hook is told about the change. Every string is passed to the hook
 * as it is (no shell is involved anywhere); NULL strings and empty lists are
 * passed as empty values. Nothing secret belongs here.
 *
 * Environment of the hook, built from scratch (nothing is inherited):
 *   PATH=/usr/sbin:/usr/bin:/sbin:/bin  LANG=C
 *   TRUSTFIX_PHASE          the phase
 *   TRUSTFIX_CHANGE         change_id, or empty
 *   TRUSTFIX_ROOT           the --root of the context
 *   TRUSTFIX_STORES         the store paths, separated by spaces
 *   TRUSTFIX_CLIENT_CERT    client_cert, or empty
 *   TRUSTFIX_ADDED          SHA-256 fingerprints (hex), separated by spaces
 *   TRUSTFIX_REMOVED        the same for removed certificates
 *   TRUSTFIX_DRY_RUN        1 or 0
 *   TRUSTFIX_CONTEXT        a JSON file (0600, private folder) with the same
 *                           data as exact lists, removed after the phase
 * stdin: one "+path" line per added_files entry, then one "-path" line per
 * removed_files entry, as update-ca-certificates hooks read them.
 * argv: the hook's path, then 'args'.
 */
struct hooks_env {
	const char *change_id;
	const char *const *stores;
	size_t nstores;
	const char *client_cert;
	const char *const *added; /* hex SHA-256 */
	size_t nadded;
	const char *const *removed; /* hex SHA-256 */
	size_t nremoved;
	const char *const *added_files;
	size_t nadded_files;
	const char *const *removed_files;
	size_t nremoved_files;
	const char *const *args; /* fixed arguments after the path */
	size_t nargs;
	bool dry_run;
};

struct hooks_list;
struct hooks_result;

/* Whether 'phase' is one of the four phases. */
bool hooks_phase_is_valid(const char *phase);

/*
 * List the hooks of 'phase' in the order they run: the names in
 * /etc/trustfix/hooks/<phase>.d under the root that match [A-Za-z0-9_-]+
 * and are executable regular files, sorted by strcmp (C locale). Other
 * names are skipped as run-parts skips them (*.dpkg-old, *~, dotfiles);
 * so are symbolic links under a root other than "/" (they would be
 * followed outside the root when executed). A missing folder is no hooks.
 * Returns 0, or TF_EUSAGE (unknown phase) / TF_EIO with the message set.
 * The caller frees *out with hooks_list_free().
 */
int hooks_list(struct hooks_list **out, struct tf_ctx *ctx, const char *phase);
size_t hooks_list_count(const struct hooks_list *list);
const char *hooks_list_name(const struct hooks_list *list, size_t i);
/*
 * What the folder holds that will not run, with why, as "name: reason"
 * (for example "restart.sh: name not made of A-Z a-z 0-9 _ -"), sorted:
 * the answer to "why did my hook not run".
 */
size_t hooks_list_skipped_count(const struct hooks_list *list);
const char *hooks_list_skipped(const struct hooks_list *list, size_t i);
/* The folder the hooks were listed from, as a path on this host. */
const char *hooks_list_dir(const struct hooks_list *list);
void hooks_list_free(struct hooks_list *list);

/*
 * Run the hooks of 'phase' one after the other, each with fork + execve,
 * the environment and stdin described above, only fds 0-2 open, in its own
 * process group, its working folder "/". A hook that runs longer than
 * 'timeout_seconds' (<= 0: HOOKS_DEFAULT_TIMEOUT) gets SIGTERM on its whole
 * process group, then SIGKILL after HOOKS_KILL_GRACE_MS. stdout and stderr
 * are captured up to HOOKS_OUTPUT_MAX bytes each (the rest is discarded and
 * the truncation noted); output written after the hook exits, by processes
 * it left behind, is not waited for. With 'stop_on_failure', the hooks after
 * the first one that fails are not run (they are still in the result).
 *
 * Processes that leave the hook's process group (setsid, daemons) are not
 * stopped at the time limit.
 *
 * A failing hook is not an error of this function: see hooks_result_failed();
 * what it means (a veto, a rollback) is the caller's policy.
 * Returns 0, or TF_EUSAGE (unknown phase), TF_EINVALID (a fingerprint that
 * is not hex, a file name with a newline, a value that is not UTF-8 for the
 * JSON context), TF_EIO (cannot list the hooks, write the context file,
 * create a pipe or fork) with the message set; then no hook has run, except
 * when a pipe or fork fails midway.
 * The caller frees *out with hooks_result_free().
 */
int hooks_run_phase(struct hooks_result **out, struct tf_ctx *ctx, const char *phase,
    const struct hooks_env *env, int timeout_seconds, bool stop_on_failure);

/* The phase and the number of hooks of the result (run or not). */
const char *hooks_result_phase(const struct hooks_result *r);
size_t hooks_result_count(const struct hooks_result *r);
/* How many hooks failed, and the index of the first that did (-1: none). */
size_t hooks_result_failed(const struct hooks_result *r);
long hooks_result_first_failure(const struct hooks_result *r);

/* About hook 'i' (0 <= i < count), in the order they ran. */
const char *hooks_result_name(const struct hooks_result *r, size_t i);
/* false for a hook not run because an earlier one failed */
bool hooks_result_ran(const struct hooks_result *r, size_t i);
/* did not run to success: exit status other than 0, a signal, a timeout,
 * or it could not be executed */
bool hooks_result_is_failure(const struct hooks_result *r, size_t i);
/* exit status, or -1 when killed by a signal or not run (127: cannot exec) */
int hooks_result_exit_status(const struct hooks_result *r, size_t i);
/* the signal that ended it, or 0 */
int hooks_result_signal(const struct hooks_result *r, size_t i);
bool hooks_result_timed_out(const struct hooks_result *r, size_t i);
long hooks_result_duration_ms(const struct hooks_result *r, size_t i);
/* captured output (NUL-terminated too; may hold NUL bytes) and whether
 * some was discarded */
const char *hooks_result_stdout(const struct hooks_result *r, size_t i, size_t *len);
const char *hooks_result_stderr(const struct hooks_result *r, size_t i, size_t *len);
bool hooks_result_stdout_truncated(const struct hooks_result *r, size_t i);
bool hooks_result_stderr_truncated(const struct hooks_result *r, size_t i);
/* the outcome in words: "exit status 0", "exit status 3", "killed by signal
 * 9", "timed out after 60 s", "cannot execute: ...", "not run" */
const char *hooks_result_describe(const struct hooks_result *r, size_t i);

void hooks_result_free(struct hooks_result *r);

#endif
