/*
 * core/findings.c - the list of findings of one inspection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings.h"
#include "tf.h"

static const char *const kind_names[TF_F_NKINDS] = {
	[TF_F_DECOMMISSIONED] = "decommissioned",
	[TF_F_MISSING_REQUIRED] = "missing-required",
	[TF_F_EXPIRED] = "expired",
	[TF_F_EXPIRING] = "expiring",
	[TF_F_NOT_YET_VALID] = "not-yet-valid",
	[TF_F_DUPLICATE] = "duplicate",
	[TF_F_WEAK_KEY] = "weak-key",
	[TF_F_WEAK_SIGNATURE] = "weak-signature",
	[TF_F_NOT_CA] = "not-ca",
	[TF_F_UNPARSABLE] = "unparsable",
	[TF_F_PRIVATE_KEY] = "private-key-in-store",
	[TF_F_HASH_LINK] = "hash-link",
	[TF_F_EMPTY_STORE] = "empty-store",
	[TF_F_CLIENT_EXPIRED] = "client-expired",
	[TF_F_CLIENT_EXPIRING] = "client-expiring",
	[TF_F_CLIENT_KEY_MISMATCH] = "client-key-mismatch",
	[TF_F_CLIENT_CHAIN_INVALID] = "client-chain-invalid",
};

const char *
tf_finding_kind_name(enum tf_finding_kind kind)
{
	if ((unsigned)kind >= TF_F_NKINDS)
		return "unknown";
	return kind_names[kind];
}

struct tf_finding *
tf_findings_add(struct tf_findings *f, enum tf_finding_kind kind, const unsigned char *sha256,
    const char *store, const char *where, const char *action, const char *fmt, ...)
{
	struct tf_finding *x;
	va_list ap;
	int n;

	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 16;
		f->v = tf_realloc(f->v, f->cap * sizeof(*f->v));
	}
	x = &f->v[f->n++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	if (sha256 != NULL) {
		x->has_sha256 = true;
		memcpy(x->sha256, sha256, sizeof(x->sha256));
	}
	x->store = tf_strdup(store != NULL ? store : "");
	x->where = where != NULL ? tf_strdup(where) : NULL;
	x->action = action != NULL ? tf_strdup(action) : NULL;
	va_start(ap, fmt);
	n = vasprintf(&x->message, fmt, ap);
	va_end(ap);
	if (n < 0)
		x->message = tf_strdup("(out of memory)");
	return x;
}

void
tf_findings_release(struct tf_findings *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].subject);
		free(f->v[i].store);
		free(f->v[i].where);
		free(f->v[i].message);
		free(f->v[i].action);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}
