/*
 * audit/internal.h - what the files of audit/ share: the handle, the
 * conversion of libgit2 errors, commit lookup and a growable string.
 * Only audit/ includes libgit2.
 */
#ifndef TF_AUDIT_INTERNAL_H
#define TF_AUDIT_INTERNAL_H

#include <git2.h>

#include "audit.h"

/* The trailers every change carries (others are the caller's). */
#define AUDIT_TRAILER_REASON "Trustfix-Reason"
#define AUDIT_TRAILER_TICKET "Trustfix-Ticket"
#define AUDIT_TRAILER_OPERATOR "Trustfix-Operator"
#define AUDIT_TRAILER_COMMAND "Trustfix-Command"

struct audit {
	struct tf_ctx *ctx;
	git_repository *repo; /* NULL: no log yet (opened read-only) */
	git_odb_backend *mem; /* where a change's objects wait (owned by repo's odb) */
	git_odb *disk;        /* the objects on disk, without 'mem' */
	char *path;           /* host path of audit.git, for messages */
	bool is_inited;       /* git_libgit2_init() to balance */
	bool is_readonly;
};

/*
 * Set the message "<fmt>: <libgit2's reason>" and return a code: TF_ELOCKED
 * for a lock file or a ref that moved ('gerr' GIT_ELOCKED, GIT_EMODIFIED),
 * 'code' otherwise.
 */
int audit_git_error(struct audit *a, int gerr, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* HEAD's commit, or NULL in *out when the log is empty. Returns 0 or TF_EIO. */
int audit_head_commit(git_commit **out, struct audit *a);

/* The commit 'rev' names (see audit_resolve()). Returns 0, TF_EUSAGE, TF_EIO. */
int audit_commit_lookup(git_commit **out, struct audit *a, const char *rev);

/*
 * Put an in-memory object database in front of a->repo's: every object
 * written goes there until audit_objects_flush() writes them all to disk
 * (fsynced: loose objects, or one pack for a big change) and forgets them;
 * audit_objects_discard() forgets them unwritten. Returns 0 or TF_EIO.
 */
int audit_objects_attach(struct audit *a);
int audit_objects_flush(struct audit *a);
void audit_objects_discard(struct audit *a);
size_t audit_objects_pending(const struct audit *a);

/* One path of a tree edit. */
struct audit_tree_edit {
	const char *path; /* relative to the root, valid (see audit_record()) */
	bool is_remove;
	unsigned mode; /* GIT_FILEMODE_* of what is written */
	git_oid id;
};

/*
 * Write the tree 'base' (NULL: empty) with 'edits' applied (sorted by path,
 * no path twice, none both written and written below): a write replaces
 * whatever is at its path, a folder included; a removal of what is not
 * there does nothing; a folder left empty goes, as git keeps none; a path
 * removed and written below in one change starts a new folder. Only the
 * trees on the edited paths are read and written (to the change's objects).
 * Returns 0, or TF_EIO with the message set.
 */
int audit_tree_edit(git_oid *out, struct audit *a, const git_oid *base,
    const struct audit_tree_edit *edits, size_t n);

/* A growable NUL-terminated string; tf_malloc() aborts when memory is out. */
struct audit_buf {
	char *p;
	size_t len, cap;
};

void audit_buf_add(struct audit_buf *b, const void *data, size_t len);
void audit_buf_adds(struct audit_buf *b, const char *s);
void audit_buf_addc(struct audit_buf *b, char c);
void audit_buf_truncate(struct audit_buf *b, size_t len);
void audit_buf_release(struct audit_buf *b);

#endif
