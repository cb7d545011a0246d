/*
 * hooks/list.c - which hooks a phase has: the runnable files of its folder
 * under the root, in C-locale order, with run-parts' rules for names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

static const char *const phases[] = {
	HOOKS_PRE_CHANGE,
	HOOKS_POST_CHANGE,
	HOOKS_POST_ROLLBACK,
	HOOKS_ON_FAILURE,
};

bool
hooks_phase_is_valid(const char *phase)
{
	size_t i;

	if (phase == NULL)
		return false;
	for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (strcmp(phase, phases[i]) == 0)
			return true;
	return false;
}

/* run-parts' default (LANANAME-less) rule: [A-Za-z0-9_-]+, so no dots. */
static bool
is_hook_name(const char *name)
{
	const char *p;

	if (*name == '\0')
		return false;
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
			continue;
		return false;
	}
	return true;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
is_host_root(const struct tf_ctx *ctx)
{
	return ctx->root == NULL || strcmp(ctx->root, "/") == 0;
}

/*
 * Why 'name' in the folder 'dfd' will not run, or NULL when it is an
 * executable regular file. Under a root, a symbolic link is not: execve
 * would follow it on this host, outside the root.
 */
static const char *
why_not_runnable(const struct tf_ctx *ctx, int dfd, const char *name)
{
	struct stat st;
	int flags = is_host_root(ctx) ? 0 : AT_SYMLINK_NOFOLLOW;

	if (!is_hook_name(name))
		return "name not made of A-Z a-z 0-9 _ -";
	if (fstatat(dfd, name, &st, flags) != 0)
		return "cannot stat (dangling link?)";
	if (S_ISLNK(st.st_mode))
		return "symbolic link under --root";
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if ((st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0 ||
	    faccessat(dfd, name, X_OK, AT_EACCESS) != 0)
		return "not executable";
	return NULL;
}

static void
push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 8 : 2 * *cap;
		*v = tf_realloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = s;
}

/* The folder of the open descriptor as a path on this host. */
static char *
fd_path(int fd)
{
	char link[64], buf[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, buf, sizeof(buf) - 1)) <= 0)
		return NULL;
	buf[n] = '\0';
	return tf_strdup(buf);
}

int
hooks_list(struct hooks_list **out, struct tf_ctx *ctx, const char *phase)
{
	struct hooks_list *list = NULL;
	struct dirent *de;
	DIR *d = NULL;
	char *rel = NULL, *host = NULL;
	size_t cap = 0, skipcap = 0;
	int dfd = -1, rc = TF_ERROR;

	*out = NULL;
	if (!hooks_phase_is_valid(phase)) {
		rc = tf_error(ctx, TF_EUSAGE,
		    "unknown hook phase '%s' (pre-change, post-change, post-rollback, on-failure)",
		    phase != NULL ? phase : "");
		goto out;
	}
	rel = tf_asprintf("%s/%s.d", HOOKS_DIR, phase);
	host = tf_hostpath(ctx, rel);
	list = tf_calloc(1, sizeof(*list));
	if ((dfd = tf_dir_open(ctx, rel)) == -1) {
		if (errno == ENOENT) {
			/* no folder, no hooks */
			list->dir = host;
			host = NULL;
			goto done;
		}
		rc = tf_error_sys(ctx, TF_EIO, "cannot open the hook folder '%s'", host);
		goto out;
	}
	/* the folder as resolved inside the root: the path execve will use */
	if ((list->dir = fd_path(dfd)) == NULL) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot resolve the hook folder '%s'", host);
		goto out;
	}
	{
		int lfd = dup(dfd);

		if (lfd == -1 || (d = fdopendir(lfd)) == NULL) {
			if (lfd != -1)
				close(lfd);
			rc = tf_error_sys(ctx, TF_EIO, "cannot list the hook folder '%s'", host);
			goto out;
		}
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		const char *why;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
			errno = 0;
			continue;
		}
		if ((why = why_not_runnable(ctx, dfd, de->d_name)) != NULL)
			push(&list->skipped, &list->nskipped, &skipcap,
			    tf_asprintf("%s: %s", de->d_name, why));
		else
			push(&list->names, &list->n, &cap, tf_strdup(de->d_name));
		errno = 0;
	}
	if (errno != 0) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot list the hook folder '%s'", host);
		goto out;
	}
	if (list->n > 1)
		qsort(list->names, list->n, sizeof(*list->names), cmp_names);
	if (list->nskipped > 1)
		qsort(list->skipped, list->nskipped, sizeof(*list->skipped), cmp_names);
done:
	*out = list;
	list = NULL;
	rc = 0;
out:
	if (d != NULL)
		closedir(d);
	if (dfd != -1)
		close(dfd);
	free(rel);
	free(host);
	hooks_list_free(list);
	return rc;
}

size_t
hooks_list_count(const struct hooks_list *list)
{
	return list != NULL ? list->n : 0;
}

const char *
hooks_list_name(const struct hooks_list *list, size_t i)
{
	return list != NULL && i < list->n ? list->names[i] : NULL;
}

size_t
hooks_list_skipped_count(const struct hooks_list *list)
{
	return list != NULL ? list->nskipped : 0;
}

const char *
hooks_list_skipped(const struct hooks_list *list, size_t i)
{
	return list != NULL && i < list->nskipped ? list->skipped[i] : NULL;
}

const char *
hooks_list_dir(const struct hooks_list *list)
{
	return list != NULL ? list->dir : NULL;
}

void
hooks_list_free(struct hooks_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		free(list->names[i]);
	free(list->names);
	for (i = 0; i < list->nskipped; i++)
		free(list->skipped[i]);
	free(list->skipped);
	free(list->dir);
	free(list);
}
