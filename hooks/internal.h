/*
 * hooks/internal.h - what the files of the hooks module share: the listing
 * and the description of the change given to each hook.
 */
#ifndef TF_HOOKS_INTERNAL_H
#define TF_HOOKS_INTERNAL_H

#include "hooks.h"

struct hooks_list {
	char *dir;    /* the folder on this host, for exec and messages */
	char **names; /* sorted by strcmp */
	size_t n;
	char **skipped; /* "name: why", sorted */
	size_t nskipped;
};

/*
 * Write the JSON context of a phase to a new file in a new private folder
 * (0700, under $TMPDIR or /tmp); the file is 0600. Sets *dir and *file (the
 * caller removes both with hooks_context_remove() and frees them).
 * Returns 0 or TF_EIO with the message set.
 */
int hooks_context_write(struct tf_ctx *ctx, const char *phase, const struct hooks_env *env,
    char **dir, char **file);
void hooks_context_remove(char *dir, char *file);

/*
 * The environment of a hook, "NAME=value" strings up to a NULL. The caller
 * frees it with hooks_strv_free().
 */
char **hooks_envp_new(const struct tf_ctx *ctx, const char *phase, const struct hooks_env *env,
    const char *context_file);
void hooks_strv_free(char **v);

#endif
