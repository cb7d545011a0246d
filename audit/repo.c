/*
 * audit/repo.c - open (or create) the audit repository, name its commits,
 * and turn libgit2's errors into trustfix's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

#define STATE_DIR "/var/lib/trustfix"
#define REPO_NAME "audit.git"

/*
 * Trees up to this size stay in libgit2's object cache (the default keeps
 * only trees under 4 KiB): a hashed directory of 100,000 certificates is a
 * tree of several MiB that every path of a change walks through.
 */
#define TREE_CACHE_LIMIT ((size_t)64 << 20)

/* ---- errors and strings ---- */

int
audit_git_error(struct audit *a, int gerr, int code, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (gerr == GIT_ELOCKED || gerr == GIT_EMODIFIED)
		code = TF_ELOCKED;
	if (e == NULL || e->message == NULL || *e->message == '\0')
		return tf_error(a->ctx, code, "%s (libgit2 error %d)", what, gerr);
	if (gerr == GIT_ELOCKED)
		return tf_error(a->ctx, code,
		    "%s: %s (if no other trustfix run is active, the lock file is stale)", what,
		    e->message);
	return tf_error(a->ctx, code, "%s: %s", what, e->message);
}

void
audit_buf_add(struct audit_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = b->cap ? b->cap : 64;
		while (b->len + len + 1 > b->cap)
			b->cap *= 2;
		b->p = tf_realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void
audit_buf_adds(struct audit_buf *b, const char *s)
{
	audit_buf_add(b, s, strlen(s));
}

void
audit_buf_addc(struct audit_buf *b, char c)
{
	audit_buf_add(b, &c, 1);
}

void
audit_buf_truncate(struct audit_buf *b, size_t len)
{
	if (b->p != NULL && len < b->len) {
		b->len = len;
		b->p[len] = '\0';
	}
}

void
audit_buf_release(struct audit_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- opening ---- */

/*
 * The host path of the directory open at 'fd', as the kernel resolved it
 * inside the root, so that libgit2 (which works with paths) does not follow
 * again a link that would lead out of the root. Falls back to the plain
 * path when /proc is not there.
 */
static char *
real_dir_path(struct tf_ctx *ctx, int fd, const char *path)
{
	char proc[64], buf[4096];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, sizeof(buf) - 1);
	if (n <= 0 || buf[0] != '/')
		return tf_hostpath(ctx, path);
	return tf_strndup(buf, (size_t)n);
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* fsync the folders that git_repository_init_ext() made in 'dir'. */
static int
sync_new_repo(const char *dir)
{
	static const char *const subdirs[] = { "objects", "refs/heads", "refs", "." };
	size_t i;
	int fd, dfd;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((fd = openat(dfd, subdirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			if (errno == ENOENT)
				continue;
			close(dfd);
			return -1;
		}
		if (tf_fsync(fd) == -1) {
			close(fd);
			close(dfd);
			return -1;
		}
		close(fd);
	}
	close(dfd);
	return 0;
}

/* Settings of a new repository, in its own config file. */
static int
configure(struct audit *a, git_repository *repo, const char *dir)
{
	git_config *all = NULL, *local = NULL;
	int gerr, rc = 0;

	if ((gerr = git_repository_config(&all, repo)) < 0 ||
	    (gerr = git_config_open_level(&local, all, GIT_CONFIG_LEVEL_LOCAL)) < 0 ||
	    /* history is append-only, also when someone pushes to this repository */
	    (gerr = git_config_set_bool(local, "receive.denyNonFastForwards", 1)) < 0 ||
	    (gerr = git_config_set_bool(local, "receive.denyDeletes", 1)) < 0 ||
	    /* what a plain 'git log' reads: a bare repository, its branch 'main' */
	    (gerr = git_config_set_bool(local, "core.bare", 1)) < 0 ||
	    (gerr = git_config_set_bool(local, "core.logAllRefUpdates", 0)) < 0)
		rc = audit_git_error(a, gerr, TF_EIO, "cannot configure the audit log '%s'", dir);
	git_config_free(local);
	git_config_free(all);
	return rc;
}

/*
 * Make a new repository beside audit.git and rename it into place, so that
 * a crash leaves either no repository or a whole one.
 */
static int
create_repo(struct audit *a, int dirfd, const char *statedir)
{
	git_repository_init_options opts;
	git_repository *repo = NULL;
	char *tmp = tf_asprintf("%s/.%s.XXXXXX", statedir, REPO_NAME);
	bool made = false;
	int gerr, rc = TF_EIO;

	if (mkdtemp(tmp) == NULL) {
		rc = tf_error_sys(a->ctx, TF_EIO, "cannot create the audit log in '%s'", statedir);
		goto out;
	}
	made = true;
	git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_NO_REINIT;
	opts.mode = GIT_REPOSITORY_INIT_SHARED_UMASK;
	opts.initial_head = "main";
	opts.description = "trustfix audit log: one commit per change of the managed trust stores";
	if ((gerr = git_repository_init_ext(&repo, tmp, &opts)) < 0) {
		rc = audit_git_error(a, gerr, TF_EIO, "cannot create the audit log '%s'", tmp);
		goto out;
	}
	if ((rc = configure(a, repo, tmp)) != 0)
		goto out;
	git_repository_free(repo);
	repo = NULL;
	if (sync_new_repo(tmp) == -1) {
		rc = tf_error_sys(a->ctx, TF_EIO, "cannot sync the new audit log '%s'", tmp);
		goto out;
	}
	if (renameat(dirfd, tmp + strlen(statedir) + 1, dirfd, REPO_NAME) == -1) {
		/* another run made it first: use theirs */
		if (errno != EEXIST && errno != ENOTEMPTY) {
			rc = tf_error_sys(a->ctx, TF_EIO, "cannot rename '%s' to '%s'", tmp,
			    a->path);
			goto out;
		}
	} else {
		made = false;
	}
	if (tf_fsync(dirfd) == -1) {
		rc = tf_error_sys(a->ctx, TF_EIO, "cannot sync the directory '%s'", statedir);
		goto out;
	}
	rc = 0;
out:
	git_repository_free(repo);
	if (made)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmp);
	return rc;
}

/* Open audit.git in the state directory open at 'dirfd', creating it if asked. */
static int
open_repo(struct audit *a, int dirfd, const char *statedir)
{
	struct stat st;
	int gerr, rc;

	if (fstatat(dirfd, REPO_NAME, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			return tf_error_sys(a->ctx, TF_EIO, "cannot open the audit log '%s'",
			    a->path);
		if (a->is_readonly)
			return 0;
		if ((rc = create_repo(a, dirfd, statedir)) != 0)
			return rc;
	} else if (!S_ISDIR(st.st_mode)) {
		/* a link here could lead the writes out of the root */
		return tf_error(a->ctx, TF_EIO, "cannot open the audit log '%s': not a directory",
		    a->path);
	}
	gerr = git_repository_open_ext(&a->repo, a->path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (gerr == GIT_ENOTFOUND)
		return tf_error(a->ctx, TF_EIO,
		    "cannot open the audit log '%s': not a git repository (move it away to "
		    "start a new log)",
		    a->path);
	if (gerr == GIT_EOWNER)
		return tf_error(a->ctx, TF_EIO,
		    "cannot open the audit log '%s': it belongs to another user (run trustfix as "
		    "its owner)",
		    a->path);
	if (gerr < 0)
		return audit_git_error(a, gerr, TF_EIO, "cannot open the audit log '%s'", a->path);
	if (!git_repository_is_bare(a->repo))
		return tf_error(a->ctx, TF_EIO,
		    "cannot open the audit log '%s': not a bare repository", a->path);
	return a->is_readonly ? 0 : audit_objects_attach(a);
}

int
audit_open(struct audit **out, struct tf_ctx *ctx, unsigned flags)
{
	struct audit *a = tf_calloc(1, sizeof(*a));
	char *statedir = NULL, *host = NULL;
	int fd = -1, rc;

	*out = NULL;
	a->ctx = ctx;
	a->is_readonly = (flags & AUDIT_OPEN_READONLY) != 0;
	if (git_libgit2_init() < 0) {
		rc = tf_error(ctx, TF_ERROR, "cannot initialise libgit2");
		goto out;
	}
	a->is_inited = true;
	/* fsync is off by default in libgit2; both settings are process-wide */
	if (git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1) < 0 ||
	    git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, (int)GIT_OBJECT_TREE,
	        TREE_CACHE_LIMIT) < 0) {
		rc = audit_git_error(a, -1, TF_ERROR, "cannot set up libgit2");
		goto out;
	}
	if (!a->is_readonly && (rc = tf_mkdirs(ctx, STATE_DIR, 0700)) != 0)
		goto out;
	if ((fd = tf_dir_open(ctx, STATE_DIR)) == -1) {
		if (a->is_readonly && errno == ENOENT) {
			a->path = tf_strdup("");
			rc = 0;
			goto out;
		}
		host = tf_hostpath(ctx, STATE_DIR);
		rc = tf_error_sys(ctx, TF_EIO, "cannot open the state directory '%s'", host);
		goto out;
	}
	statedir = real_dir_path(ctx, fd, STATE_DIR);
	a->path = tf_path_join(statedir, REPO_NAME);
	rc = open_repo(a, fd, statedir);
out:
	if (fd != -1)
		close(fd);
	free(statedir);
	free(host);
	if (rc != 0) {
		audit_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void
audit_free(struct audit *a)
{
	if (a == NULL)
		return;
	git_odb_free(a->disk);
	git_repository_free(a->repo);
	free(a->path);
	if (a->is_inited)
		git_libgit2_shutdown();
	free(a);
}

const char *
audit_path(const struct audit *a)
{
	return a != NULL && a->path != NULL ? a->path : "";
}

int
audit_recover(struct audit *a)
{
	static const char *const locks[] = { "HEAD.lock", "refs/heads/main.lock", "config.lock",
		"packed-refs.lock", "index.lock" };
	struct dirent *de;
	char *path;
	size_t i;
	DIR *d;
	int rc = 0;

	if (a->repo == NULL)
		return 0;
	for (i = 0; i < sizeof(locks) / sizeof(locks[0]) && rc == 0; i++) {
		path = tf_path_join(a->path, locks[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			rc =
			    tf_error_sys(a->ctx, TF_EIO, "cannot remove the stale lock '%s'", path);
		free(path);
	}
	/* objects and packs that a crash left half-written, under temporary names */
	for (i = 0; i < 2 && rc == 0; i++) {
		path = tf_path_join(a->path, i == 0 ? "objects" : "objects/pack");
		if ((d = opendir(path)) != NULL) {
			while ((de = readdir(d)) != NULL) {
				if (strncmp(de->d_name, "tmp_object", 10) == 0 ||
				    strncmp(de->d_name, "pack_git2_", 10) == 0 ||
				    (strncmp(de->d_name, "pack-", 5) == 0 &&
				        strstr(de->d_name, ".lock") != NULL))
					unlinkat(dirfd(d), de->d_name, 0);
			}
			closedir(d);
		}
		free(path);
	}
	return rc;
}

/* ---- naming commits ---- */

int
audit_head_commit(git_commit **out, struct audit *a)
{
	git_oid oid;
	int gerr;

	*out = NULL;
	if (a->repo == NULL)
		return 0;
	gerr = git_reference_name_to_id(&oid, a->repo, "HEAD");
	if (gerr == GIT_ENOTFOUND)
		return 0;
	if (gerr < 0 || (gerr = git_commit_lookup(out, a->repo, &oid)) < 0)
		return audit_git_error(a, gerr, TF_EIO, "cannot read HEAD of the audit log '%s'",
		    a->path);
	return 0;
}

int
audit_head(char id_out[41], bool *is_empty, struct audit *a)
{
	git_commit *head = NULL;
	int rc;

	id_out[0] = '\0';
	*is_empty = true;
	if ((rc = audit_head_commit(&head, a)) != 0)
		return rc;
	if (head != NULL) {
		git_oid_tostr(id_out, 41, git_commit_id(head));
		*is_empty = false;
	}
	git_commit_free(head);
	return 0;
}

/*
 * "HEAD" followed by any of "~", "~N" and "^" (first parents only: the
 * log is linear). Sets the number of generations back; -1 if malformed.
 */
static int
parse_head_rev(const char *rev, unsigned long *gen)
{
	const char *p = rev + 4;
	unsigned long n;

	*gen = 0;
	if (strncmp(rev, "HEAD", 4) != 0)
		return -1;
	while (*p != '\0') {
		if (*p == '^') {
			p++;
			if (*p == '1')
				p++;
			n = 1;
		} else if (*p == '~') {
			p++;
			if (*p < '0' || *p > '9') {
				n = 1;
			} else {
				for (n = 0; *p >= '0' && *p <= '9'; p++) {
					n = n * 10 + (unsigned long)(*p - '0');
					if (n > 1000000000UL)
						return -1;
				}
			}
		} else {
			return -1;
		}
		*gen += n;
		if (*gen > 1000000000UL)
			return -1;
	}
	return 0;
}

static bool
is_hex_prefix(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");

	return s[n] == '\0' && n >= 4 && n <= GIT_OID_HEXSZ;
}

/* The commit of the history whose id starts with 'prefix' (lowercase hex). */
static int
lookup_prefix(git_commit **out, struct audit *a, const char *rev, const char *prefix)
{
	char hex[GIT_OID_HEXSZ + 1], first[GIT_OID_HEXSZ + 1] = "";
	git_revwalk *walk = NULL;
	size_t n = strlen(prefix);
	git_oid oid, found;
	int gerr, rc = 0;

	if ((gerr = git_revwalk_new(&walk, a->repo)) < 0 ||
	    (gerr = git_revwalk_simplify_first_parent(walk)) < 0 ||
	    (gerr = git_revwalk_push_head(walk)) < 0) {
		rc = audit_git_error(a, gerr, TF_EIO, "cannot walk the audit log '%s'", a->path);
		goto out;
	}
	while ((gerr = git_revwalk_next(&oid, walk)) == 0) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		if (strncmp(hex, prefix, n) != 0)
			continue;
		if (first[0] != '\0') {
			rc = tf_error(a->ctx, TF_EUSAGE,
			    "change '%s' is ambiguous: %.12s and %.12s both match; give more "
			    "digits",
			    rev, first, hex);
			goto out;
		}
		memcpy(first, hex, sizeof(hex));
		git_oid_cpy(&found, &oid);
	}
	if (gerr != GIT_ITEROVER) {
		rc = audit_git_error(a, gerr, TF_EIO, "cannot walk the audit log '%s'", a->path);
		goto out;
	}
	if (first[0] == '\0') {
		rc = tf_error(a->ctx, TF_EUSAGE,
		    "unknown change '%s': no change of the audit log "
		    "has this id",
		    rev);
		goto out;
	}
	if ((gerr = git_commit_lookup(out, a->repo, &found)) < 0)
		rc = audit_git_error(a, gerr, TF_EIO, "cannot read change %s", first);
out:
	git_revwalk_free(walk);
	return rc;
}

int
audit_commit_lookup(git_commit **out, struct audit *a, const char *rev)
{
	char prefix[GIT_OID_HEXSZ + 1];
	git_commit *head = NULL;
	unsigned long gen;
	git_oid oid;
	size_t i;
	int gerr, rc = 0;

	*out = NULL;
	if (rev == NULL)
		rev = "HEAD";
	if (parse_head_rev(rev, &gen) == 0) {
		if ((rc = audit_head_commit(&head, a)) != 0)
			return rc;
		if (head == NULL)
			return tf_error(a->ctx, TF_EUSAGE,
			    "unknown change '%s': nothing was recorded in the audit log yet", rev);
		if (gen == 0) {
			*out = head;
			return 0;
		}
		gerr = git_commit_nth_gen_ancestor(out, head, (unsigned int)gen);
		git_commit_free(head);
		if (gerr == GIT_ENOTFOUND)
			return tf_error(a->ctx, TF_EUSAGE,
			    "unknown change '%s': the audit log does not go back that far", rev);
		if (gerr < 0)
			return audit_git_error(a, gerr, TF_EIO, "cannot resolve '%s'", rev);
		return 0;
	}
	if (!is_hex_prefix(rev))
		return tf_error(a->ctx, TF_EUSAGE,
		    "unknown change '%s': expected a change id (4 or more hex digits), HEAD or "
		    "HEAD~N",
		    rev);
	if (a->repo == NULL)
		return tf_error(a->ctx, TF_EUSAGE,
		    "unknown change '%s': nothing was recorded in the audit log yet", rev);
	for (i = 0; rev[i] != '\0'; i++)
		prefix[i] = (char)(rev[i] >= 'A' && rev[i] <= 'F' ? rev[i] - 'A' + 'a' : rev[i]);
	prefix[i] = '\0';
	if (i < GIT_OID_HEXSZ)
		return lookup_prefix(out, a, rev, prefix);
	if (git_oid_fromstr(&oid, prefix) < 0)
		return tf_error(a->ctx, TF_EUSAGE, "unknown change '%s'", rev);
	gerr = git_commit_lookup(out, a->repo, &oid);
	if (gerr == GIT_ENOTFOUND)
		return tf_error(a->ctx, TF_EUSAGE,
		    "unknown change '%s': the audit log has no such change", rev);
	if (gerr < 0)
		rc = audit_git_error(a, gerr, TF_EIO, "cannot read change '%s'", rev);
	return rc;
}

int
audit_resolve(char id_out[41], struct audit *a, const char *rev)
{
	git_commit *c = NULL;
	int rc;

	id_out[0] = '\0';
	if ((rc = audit_commit_lookup(&c, a, rev)) != 0)
		return rc;
	git_oid_tostr(id_out, 41, git_commit_id(c));
	git_commit_free(c);
	return 0;
}

int
audit_blob_id(char id_out[41], struct audit *a, const void *data, size_t len)
{
	git_oid oid;
	int gerr;

	id_out[0] = '\0';
	if ((gerr = git_odb_hash(&oid, data, len, GIT_OBJECT_BLOB)) < 0)
		return audit_git_error(a, gerr, TF_ERROR, "cannot hash a blob");
	git_oid_tostr(id_out, 41, &oid);
	return 0;
}
