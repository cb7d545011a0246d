/*
 * txn/fault.c - TRUSTFIX_FAULT, the test facility that crashes the process or
 * fails a system call at a named write step of a transaction.
 *
 * Every step that writes the managed system or the state directory calls
 * fault_step() with its point name just before its system call. When the
 * environment variable TRUSTFIX_FAULT is unset (production) that is a few
 * string compares and nothing else. When it is set, it is a comma-separated
 * list of specs
 *
 *	ACTION@WHERE[#N]
 *
 * ACTION  crash   _exit(137) before the step's call: no cleanup, no atexit,
 *                 no buffered output, as after SIGKILL (what was written
 *                 stays; a power cut, which also loses what was not
 *                 fsynced, is not simulated)
 *         enospc  the step fails with ENOSPC instead of making its call
 *         eio     the step fails with EIO instead of making its call
 * WHERE   a point name (below) or a class: write, fsync, rename, create,
 *         link, unlink, attr; a class matches every point of that class
 * N       fire at the Nth step that matches WHERE (default 1), counting from
 *         txn_begin(), recovery included; each spec counts on its own and
 *         fires once; each transaction counts anew
 *
 * e.g. TRUSTFIX_FAULT="crash@rename#2" or "enospc@temp-write,eio@fsync#3".
 * A test finds every crash point of an operation by running it with
 * crash@P#1, crash@P#2, ... for each point P until it exits normally
 * (tests/unit/test_txn_commit.c does so). A malformed value makes
 * txn_begin() fail with TF_EUSAGE rather than run without the fault.
 *
 * Why a run-time variable rather than a separate test build or an LD_PRELOAD
 * shim: the crash test must exercise the very binary that ships, a shim
 * cannot tell a journal fsync from a directory fsync, and the points are
 * named by what they do rather than by the system call. Anyone who can set
 * the environment of trustfix can already make it fail, so this opens no new
 * door.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "txn.h"

#define FAULT_CRASH (-1)

struct point {
	const char *name;
	const char *class;
};

/*
 * The points, in the order a commit meets them; recovery reuses them.
 * tests/crash/crashtest.sh reads the names from the lines of this table.
 */
static const struct point points[] = {
	{ "journal-create", "create" }, /* create the journal (O_EXCL) */
	{ "journal-write", "write" },   /* append a record to the journal */
	{ "journal-fsync", "fsync" },   /* fsync the journal */
	{ "temp-create", "create" },    /* create a temp file or temp symlink */
	{ "temp-write", "write" },      /* write the new content */
	{ "temp-attr", "attr" },        /* owner and mode of the temp file */
	{ "temp-fsync", "fsync" },      /* fsync the temp file */
	{ "backup-link", "link" },      /* hard link keeping the old target */
	{ "dir-fsync", "fsync" },       /* fsync a directory */
	{ "rename", "rename" },         /* temp over target, or backup back */
	{ "target-remove", "unlink" },  /* remove a target */
	{ "journal-applied", "write" }, /* mark the journal applied */
	{ "journal-undo", "write" },    /* mark the journal as being undone */
	{ "backup-remove", "unlink" },  /* drop a backup link */
	{ "temp-remove", "unlink" },    /* drop a temp or stale file */
	{ "journal-remove", "unlink" }, /* drop the journal */
};
#define NPOINTS (sizeof(points) / sizeof(points[0]))

/* The same names, for txn_fault_points(); the unit test checks they parse. */
static const char *const point_names[] = {
	"journal-create",
	"journal-write",
	"journal-fsync",
	"temp-create",
	"temp-write",
	"temp-attr",
	"temp-fsync",
	"backup-link",
	"dir-fsync",
	"rename",
	"target-remove",
	"journal-applied",
	"journal-undo",
	"backup-remove",
	"temp-remove",
	"journal-remove",
	NULL,
};
_Static_assert(sizeof(point_names) / sizeof(point_names[0]) == NPOINTS + 1,
    "every fault point is in point_names");

const char *const *
txn_fault_points(void)
{
	return point_names;
}

static const struct point *
find_point(const char *name)
{
	size_t i;

	for (i = 0; i < NPOINTS; i++) {
		if (strcmp(points[i].name, name) == 0)
			return &points[i];
	}
	return NULL;
}

/* The static string naming 'where' as a point or a class, or NULL. */
static const char *
find_pattern(const char *where, size_t len)
{
	size_t i;

	for (i = 0; i < NPOINTS; i++) {
		if (strlen(points[i].name) == len && strncmp(points[i].name, where, len) == 0)
			return points[i].name;
		if (strlen(points[i].class) == len && strncmp(points[i].class, where, len) == 0)
			return points[i].class;
	}
	return NULL;
}

static int
parse_spec(struct fault_spec *s, const char *spec, size_t len)
{
	const char *at, *hash, *end = spec + len;
	char num[24];
	char *numend;
	size_t alen;

	if ((at = memchr(spec, '@', len)) == NULL)
		return -1;
	alen = (size_t)(at - spec);
	if (alen == 5 && strncmp(spec, "crash", 5) == 0)
		s->action = FAULT_CRASH;
	else if (alen == 6 && strncmp(spec, "enospc", 6) == 0)
		s->action = ENOSPC;
	else if (alen == 3 && strncmp(spec, "eio", 3) == 0)
		s->action = EIO;
	else
		return -1;
	hash = memchr(at + 1, '#', (size_t)(end - at - 1));
	if ((s->pattern = find_pattern(at + 1, (size_t)((hash ? hash : end) - at - 1))) == NULL)
		return -1;
	s->nth = 1;
	if (hash != NULL) {
		if ((size_t)(end - hash - 1) == 0 || (size_t)(end - hash - 1) >= sizeof(num))
			return -1;
		memcpy(num, hash + 1, (size_t)(end - hash - 1));
		num[end - hash - 1] = '\0';
		errno = 0;
		s->nth = strtoul(num, &numend, 10);
		if (errno != 0 || *numend != '\0' || num[0] < '1' || num[0] > '9')
			return -1;
	}
	s->seen = 0;
	return 0;
}

int
fault_init(struct fault *f, struct tf_ctx *ctx)
{
	const char *env = getenv("TRUSTFIX_FAULT"), *p, *comma;
	size_t len;

	memset(f, 0, sizeof(*f));
	if (env == NULL || *env == '\0')
		return 0;
	for (p = env;; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (f->n == FAULT_MAX || parse_spec(&f->specs[f->n], p, len) == -1)
			return tf_error(ctx, TF_EUSAGE,
			    "bad TRUSTFIX_FAULT '%s': expected ACTION@POINT[#N],... with ACTION "
			    "crash, enospc or eio",
			    env);
		f->n++;
		if (comma == NULL)
			break;
	}
	return 0;
}

int
fault_step(struct fault *f, const char *point)
{
	const struct point *p;
	struct fault_spec *s;
	int i;

	if (f->n == 0 || (p = find_point(point)) == NULL)
		return 0;
	for (i = 0; i < f->n; i++) {
		s = &f->specs[i];
		if (strcmp(s->pattern, p->name) != 0 && strcmp(s->pattern, p->class) != 0)
			continue;
		if (++s->seen != s->nth)
			continue;
		if (s->action == FAULT_CRASH)
			_exit(137);
		errno = s->action;
		return -1;
	}
	return 0;
}
