/*
 * audit/audit.h - the audit log: a bare git repository under the state
 * directory, one commit per change, whose tree mirrors the managed files.
 */
#ifndef TF_AUDIT_H
#define TF_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../core/tf.h"

/* Where the repository lives, under --root. */
#define AUDIT_REPO_PATH "/var/lib/trustfix/audit.git"

/* File modes of the tree, the same numbers as git's (and libgit2's). */
enum {
	AUDIT_MODE_FILE = 0100644,
	AUDIT_MODE_EXEC = 0100755,
	AUDIT_MODE_LINK = 0120000, /* data is the link target */
};

/* The author email when a change does not name one. */
#define AUDIT_DEFAULT_EMAIL "operator@trustfix"

struct audit;

/* One path of a change, as audit_record() takes it. */
struct audit_file {
	const char *path; /* relative to the root: "etc/ssl/certs/ca-certificates.crt" */
	const void *data; /* the new content, or the link target */
	size_t len;
	unsigned mode; /* AUDIT_MODE_*; ignored when 'remove' */
	bool remove;   /* the path is gone after the change */
};

/* What a change says about itself. Every string may be NULL but the subject. */
struct audit_change {
	const char *subject_line;        /* one line: "add IdenTrust Commercial Root CA 1" */
	const char *body;                /* "+ IdenTrust Commercial Root CA 1 (5d56...)\n- ..." */
	const char *reason;              /* --reason */
	const char *ticket;              /* --ticket */
	const char *operator_name;       /* author name; "unknown" when NULL */
	const char *email;               /* author email; AUDIT_DEFAULT_EMAIL when NULL */
	const char *command;             /* the command line, secrets already blanked */
	const char *const *trailer_keys; /* more trailers: [A-Za-z0-9-]+ keys */
	const char *const *trailer_values;
	size_t ntrailers;
};

/* A recorded change, as audit_log() hands it out. */
struct audit_entry {
	char id[41];     /* commit id, hex */
	char parent[41]; /* "" for the first change */
	time_t time;     /* the committer time: ctx->now of the run */
	const char *subject_line;
	const char *body;   /* "" when none */
	const char *reason; /* NULL when absent, as the next three */
	const char *ticket;
	const char *operator_name;
	const char *command;
	const char *email;
	const char *const *trailer_keys; /* the other trailers, in order */
	const char *const *trailer_values;
	size_t ntrailers;
};

/* One file as recorded in a commit. */
struct audit_blob {
	const char *path;
	const void *data; /* NULL with AUDIT_WALK_NODATA */
	size_t len;       /* 0 with AUDIT_WALK_NODATA */
	unsigned mode;    /* AUDIT_MODE_* */
	char id[41];      /* git blob id, hex: compare with audit_blob_id() */
};

/* One path a commit changed: 'before' or 'after' is NULL when absent. */
struct audit_delta {
	const char *path;
	const struct audit_blob *before;
	const struct audit_blob *after;
};

/*
 * Callbacks: the structures and their strings are valid during the call
 * only. Return 0 to go on; any other value stops the walk and is returned.
 */
typedef int (*audit_log_fn)(const struct audit_entry *e, void *arg);
typedef int (*audit_blob_fn)(const struct audit_blob *b, void *arg);
typedef int (*audit_delta_fn)(const struct audit_delta *d, void *arg);

enum {
	AUDIT_OPEN_READONLY = 1, /* do not create: a missing log reads as empty */
};

enum {
	AUDIT_WALK_NODATA = 1, /* ids and modes only, no blob is read */
};

/*
 * Open the audit log at AUDIT_REPO_PATH under ctx->root, creating it (and
 * the state directory, 0700) when missing, unless AUDIT_OPEN_READONLY.
 * A new repository is made beside it and renamed into place, so that a
 * crash never leaves half of one. Writes are fsynced. Returns 0, or TF_EIO
 * with the message set. The caller frees *out with audit_free().
 */
int audit_open(struct audit **out, struct tf_ctx *ctx, unsigned flags);

/* Close the log. audit_free(NULL) does nothing. */
void audit_free(struct audit *a);

/*
 * Remove what a run that crashed while writing the log may have left: lock
 * files (HEAD, the branch, config, packed-refs), which would refuse every
 * later change, and half-written objects and packs. Call it only while
 * holding trustfix's state lock. Returns 0, or TF_EIO with the message set.
 */
int audit_recover(struct audit *a);

/* The host path of the repository, for messages; "" when there is none. */
const char *audit_path(const struct audit *a);

/*
 * Record one change as a commit on HEAD (refs/heads/main): its tree is the
 * previous one with only 'files' updated (a cost in the depth of the paths,
 * not in the number of files). Removing a path that is not recorded does
 * nothing; a file that replaces a folder (or the reverse) replaces all of
 * it. Every blob is checked before anything is written: content holding
 * "PRIVATE KEY" (or a DER private key) is TF_EREFUSED naming the path.
 * Message strings are sanitised (control bytes escaped, one-line fields
 * trimmed). Nothing reaches the disk before the whole commit is built; then
 * its objects are written and fsynced, and only then the branch moves.
 * 'files' may be NULL when 'n' is 0 (a change of no file). On success the
 * new commit id is in id_out (which may be NULL). Returns 0; TF_EINVALID for
 * a bad path, mode, subject or trailer key; TF_EREFUSED; TF_ELOCKED when
 * another writer moved HEAD or holds a lock file; TF_ERROR on a read-only
 * handle; TF_EIO otherwise; each with the message set.
 */
int audit_record(char id_out[41], struct audit *a, const struct audit_file *files, size_t n,
    const struct audit_change *ch);

/*
 * Resolve 'rev' to a commit id of the log: "HEAD", "HEAD~N", "HEAD^", a
 * full id or a prefix of at least 4 hex digits of a change in the history.
 * Returns 0, or TF_EUSAGE naming 'rev' when it is malformed, unknown or
 * ambiguous.
 */
int audit_resolve(char id_out[41], struct audit *a, const char *rev);

/*
 * The id of HEAD into id_out, or "" with *is_empty set when nothing was
 * recorded yet. Returns 0 or TF_EIO.
 */
int audit_head(char id_out[41], bool *is_empty, struct audit *a);

/*
 * Call fn for at most 'max' changes (0: all), newest first, starting at
 * 'rev' (NULL: HEAD) and following first parents. audit_log(a, id, 1, ...)
 * shows one change. Returns 0, what fn returned to stop, TF_EUSAGE for a
 * bad 'rev', or TF_EIO.
 */
int audit_log(struct audit *a, const char *rev, size_t max, audit_log_fn fn, void *arg);

/*
 * Call fn for every path that change 'rev' changed against its first
 * parent (everything, for the first change), in git's path order, with the
 * content before and after. Folders whose tree did not change are not
 * looked into. Returns 0, what fn returned, TF_EUSAGE or TF_EIO.
 */
int audit_changed_files(struct audit *a, const char *rev, audit_delta_fn fn, void *arg);

/*
 * The content of 'path' as of change 'rev' into *data (a new NUL-terminated
 * buffer the caller frees; *len excludes the NUL), with its AUDIT_MODE_* in
 * *mode. A path that was not recorded there sets *exists false, *data NULL
 * and returns 0. Returns TF_EINVALID when 'path' is a folder, TF_EUSAGE
 * for a bad 'rev', TF_EIO.
 */
int audit_read_file(void **data, size_t *len, unsigned *mode, bool *exists, struct audit *a,
    const char *rev, const char *path);

/*
 * Call fn for every file of the state recorded at change 'rev', in git's
 * path order; with AUDIT_WALK_NODATA no content is read (compare ids with
 * audit_blob_id() to find drift). Returns 0, what fn returned, TF_EUSAGE or
 * TF_EIO.
 */
int audit_tree_walk(struct audit *a, const char *rev, unsigned flags, audit_blob_fn fn, void *arg);

/*
 * Whether 'data' holds a private key: a PEM "PRIVATE KEY" block of any kind
 * (PKCS#8, RSA, EC, ENCRYPTED, OPENSSH) or a whole DER private key. Such
 * content is never recorded (audit_record() refuses it).
 */
bool audit_has_private_key(const void *data, size_t len);

/* The git blob id 'data' would have, into id_out. Returns 0 or TF_ERROR. */
int audit_blob_id(char id_out[41], struct audit *a, const void *data, size_t len);

#endif
