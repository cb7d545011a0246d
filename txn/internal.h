/*
 * txn/internal.h - the transaction's internals shared by the files of txn/:
 * operations, directories, the journal format, the lock and recovery.
 */
#ifndef TF_TXN_INTERNAL_H
#define TF_TXN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../core/tf.h"
#include "fault.h"
#include "txn.h"

#define JOURNAL_NAME "journal"
#define LOCK_NAME "lock"
#define JOURNAL_MAX (64 * 1024 * 1024)

/* One file of the change. The first four names are what the journal keeps. */
struct txn_op {
	enum txn_kind kind;
	bool had_old; /* the target existed at commit: 'backup' links to it */
	char *path;   /* the target, a path of the managed system */
	char *temp;   /* name of the new content beside the target */
	char *backup; /* name of the link keeping the old target */
	char *link;   /* TXN_SYMLINK: the text of the link */
	/* in memory only */
	char *name;      /* last component of 'path' */
	size_t dir;      /* index into txn->dirs */
	bool has_temp;   /* 'temp' was created by this run and not yet renamed */
	bool has_backup; /* 'backup' may exist and is to be dropped */
};

/* A directory holding targets, open for the *at() calls. */
struct txn_dir {
	char *path; /* the name it was first opened by */
	int fd;
	dev_t dev;
	ino_t ino;
	bool journaled; /* its "dir" record is in the journal */
};

enum journal_state {
	JOURNAL_PENDING, /* committed, not known to be applied */
	JOURNAL_APPLIED, /* every rename and removal is durable */
	JOURNAL_UNDOING, /* the change is being undone */
};

/* The journal as read back by recovery. */
struct journal {
	bool valid;     /* the header parsed */
	bool committed; /* a complete commit section with a good checksum */
	bool corrupt;   /* not a journal this version can act on */
	char id[17];
	long pid;
	char since[32];
	char **dirs;
	size_t ndirs;
	struct txn_op *ops;
	size_t nops;
	unsigned char *payload;
	size_t payload_len;
	enum journal_state state;
	size_t slot; /* offset of the state word */
};

enum txn_phase {
	TXN_OPEN,      /* staging */
	TXN_BROKEN,    /* an error happened: only abort is left */
	TXN_COMMITTED, /* applied; txn_end() is next */
	TXN_ENDED,     /* journal removed, lock released */
};

struct txn {
	struct tf_ctx *ctx;
	struct fault fault;
	enum txn_phase phase;
	bool recovering;   /* messages say "recovery: " */
	bool keep_journal; /* the journal must outlive this run */
	char id[17];
	int statefd;
	int lockfd;
	int jfd;
	off_t jsize; /* bytes of the journal written */
	off_t jslot; /* offset of the state word, -1 before commit */
	struct txn_dir *dirs;
	size_t ndirs;
	struct txn_op *ops;
	size_t nops;
	unsigned char *payload;
	size_t payload_len;
	/* what recovery found */
	char *recovered;
	struct txn_op *rops;
	size_t nrops;
	unsigned char *rpayload;
	size_t rpayload_len;
	bool rpending; /* the recovered journal awaits txn_recovery_done() */
};

/* journal.c: the on-disk format. Each encoder returns a new buffer. */
char *journal_header(const char *id, long pid, const char *since, size_t *len);
char *journal_dir_record(const char *path, size_t *len);
char *journal_commit_section(const struct txn_op *ops, size_t nops, const void *payload,
    size_t payload_len, size_t *len, size_t *slot);
const char *journal_state_word(enum journal_state state);
void journal_parse(struct journal *j, const char *buf, size_t len);
void journal_release(struct journal *j);

/* lock.c */
int txn_lock_take(struct txn *t, int wait_seconds);
void txn_lock_release(struct txn *t);
void txn_iso_time(char out[32], time_t when);

static inline int
txn_dirfd(const struct txn *t, const struct txn_op *op)
{
	return t->dirs[op->dir].fd;
}

/* txn.c: helpers of the steps; each write step first passes txn_step(). */
int txn_step(struct txn *t, const char *point);
int txn_sys_error(struct txn *t, const char *what, const char *path);
int txn_bad_path(struct txn *t, const char *what, const char *path);
int txn_check_open(struct txn *t);
int txn_present(int dfd, const char *name, struct stat *st);
int txn_set_attr(int fd, const struct stat *old, mode_t mode);
int txn_journal_append(struct txn *t, const void *data, size_t len);
int txn_dir_get(struct txn *t, const char *path, size_t *idx);
void txn_op_clear(struct txn_op *op);
int txn_sync_dirs(struct txn *t, bool report);
int txn_journal_mark(struct txn *t, enum journal_state state);
int txn_journal_remove(struct txn *t);

/* apply.c: each is idempotent, as recovery needs. */
int txn_forward(struct txn *t);
int txn_backward(struct txn *t);
size_t txn_drop_backups(struct txn *t);

/* recover.c */
int txn_recover(struct txn *t);

#endif
