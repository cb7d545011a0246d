/*
 * truststore/policy.h - which roots are decommissioned and which are
 * required. The policy is data: the built-in default is the QuoVadis Root
 * CA 2 -> IdenTrust Commercial Root CA 1 remediation; a file can replace it.
 */
#ifndef TF_POLICY_H
#define TF_POLICY_H

#include <stddef.h>

#include "../core/tf.h"

struct tf_policy_entry {
	unsigned char sha256[32];
	char *name;
	char *reason;
};

struct tf_policy {
	char *name;
	char *source; /* "built-in" or the file it was read from */
	struct tf_policy_entry *decommissioned;
	size_t ndecommissioned;
	struct tf_policy_entry *required;
	size_t nrequired;
};

/*
 * Load the policy file 'path' (a path of the managed system), or the
 * built-in default when 'path' is NULL. Returns 0 or TF_ECONFIG with the
 * message set. The caller frees *out with tf_policy_free().
 */
int tf_policy_load(struct tf_policy **out, struct tf_ctx *ctx, const char *path);

/* Parse a policy document of 'len' bytes; 'origin' names it in messages. */
int tf_policy_parse(struct tf_policy **out, struct tf_ctx *ctx, const char *json, size_t len,
    const char *origin);

/* The entry of the list with this fingerprint, or NULL. */
const struct tf_policy_entry *tf_policy_find(const struct tf_policy_entry *list, size_t n,
    const unsigned char *sha256);

void tf_policy_free(struct tf_policy *p);

#endif
