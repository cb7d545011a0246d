/*
 * hooks/context.c - how a change is described to a hook: the environment
 * built from scratch, and the JSON context file (the one user of jansson here).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

/* The list joined with single spaces, a new string. */
static char *
join(const char *const *v, size_t n)
{
	size_t i, len = 1, off = 0;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	s = tf_malloc(len);
	for (i = 0; i < n; i++) {
		size_t l = strlen(v[i]);

		if (i > 0)
			s[off++] = ' ';
		memcpy(s + off, v[i], l);
		off += l;
	}
	s[off] = '\0';
	return s;
}

char **
hooks_envp_new(const struct tf_ctx *ctx, const char *phase, const struct hooks_env *env,
    const char *context_file)
{
	char **v = tf_calloc(12, sizeof(*v));
	char *stores = join(env->stores, env->nstores);
	char *added = join(env->added, env->nadded);
	char *removed = join(env->removed, env->nremoved);
	size_t n = 0;

	v[n++] = tf_strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	v[n++] = tf_strdup("LANG=C");
	v[n++] = tf_asprintf("TRUSTFIX_PHASE=%s", phase);
	v[n++] = tf_asprintf("TRUSTFIX_CHANGE=%s", env->change_id ? env->change_id : "");
	v[n++] = tf_asprintf("TRUSTFIX_ROOT=%s", ctx->root ? ctx->root : "/");
	v[n++] = tf_asprintf("TRUSTFIX_STORES=%s", stores);
	v[n++] = tf_asprintf("TRUSTFIX_CLIENT_CERT=%s", env->client_cert ? env->client_cert : "");
	v[n++] = tf_asprintf("TRUSTFIX_ADDED=%s", added);
	v[n++] = tf_asprintf("TRUSTFIX_REMOVED=%s", removed);
	v[n++] = tf_asprintf("TRUSTFIX_DRY_RUN=%d", env->dry_run ? 1 : 0);
	v[n++] = tf_asprintf("TRUSTFIX_CONTEXT=%s", context_file);
	v[n] = NULL;
	free(stores);
	free(added);
	free(removed);
	return v;
}

void
hooks_strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
str_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

int
hooks_context_write(struct tf_ctx *ctx, const char *phase, const struct hooks_env *env, char **dirp,
    char **filep)
{
	const char *base = getenv("TMPDIR");
	json_t *o = NULL;
	char *dir = NULL, *file = NULL, *text = NULL;
	int fd = -1, rc = TF_ERROR;

	*dirp = NULL;
	*filep = NULL;
	if (base == NULL || base[0] != '/')
		base = "/tmp";
	o = json_object();
	if (o == NULL || json_object_set_new(o, "phase", json_string(phase)) != 0 ||
	    json_object_set_new(o, "change", str_or_null(env->change_id)) != 0 ||
	    json_object_set_new(o, "root", json_string(ctx->root ? ctx->root : "/")) != 0 ||
	    json_object_set_new(o, "stores", str_array(env->stores, env->nstores)) != 0 ||
	    json_object_set_new(o, "client_cert", str_or_null(env->client_cert)) != 0 ||
	    json_object_set_new(o, "added", str_array(env->added, env->nadded)) != 0 ||
	    json_object_set_new(o, "removed", str_array(env->removed, env->nremoved)) != 0 ||
	    json_object_set_new(o, "added_files", str_array(env->added_files, env->nadded_files)) !=
	        0 ||
	    json_object_set_new(o, "removed_files",
	        str_array(env->removed_files, env->nremoved_files)) != 0 ||
	    json_object_set_new(o, "dry_run", json_boolean(env->dry_run)) != 0 ||
	    (text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		/* json_string() refuses text that is not UTF-8 */
		rc = tf_error(ctx, TF_EINVALID,
		    "cannot describe the change to the %s hooks in JSON (a value is not UTF-8?)",
		    phase);
		goto out;
	}
	dir = tf_asprintf("%s/trustfix-hooks-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		rc = tf_error_sys(ctx, TF_EIO,
		    "cannot create a folder for the hook context in '%s'", base);
		free(dir);
		dir = NULL;
		goto out;
	}
	file = tf_path_join(dir, "context.json");
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || tf_write_all(fd, text, strlen(text)) != 0 ||
	    tf_write_all(fd, "\n", 1) != 0) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot write the hook context '%s'", file);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = tf_error_sys(ctx, TF_EIO, "cannot write the hook context '%s'", file);
		goto out;
	}
	fd = -1;
	*dirp = dir;
	*filep = file;
	dir = file = NULL;
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	hooks_context_remove(dir, file);
	free(text);
	json_decref(o);
	return rc;
}

void
hooks_context_remove(char *dir, char *file)
{
	if (file != NULL)
		unlink(file);
	if (dir != NULL)
		rmdir(dir);
	free(file);
	free(dir);
}
