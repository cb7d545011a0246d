/*
 * core/findings.h - what an inspection found wrong: a kind, the certificate,
 * where it is, and what the operator can do about it.
 */
#ifndef TF_FINDINGS_H
#define TF_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>

enum tf_finding_kind {
	TF_F_DECOMMISSIONED,
	TF_F_MISSING_REQUIRED,
	TF_F_EXPIRED,
	TF_F_EXPIRING,
	TF_F_NOT_YET_VALID,
	TF_F_DUPLICATE,
	TF_F_WEAK_KEY,
	TF_F_WEAK_SIGNATURE,
	TF_F_NOT_CA,
	TF_F_UNPARSABLE,
	TF_F_PRIVATE_KEY,
	TF_F_HASH_LINK,
	TF_F_EMPTY_STORE,
	TF_F_CLIENT_EXPIRED,
	TF_F_CLIENT_EXPIRING,
	TF_F_CLIENT_KEY_MISMATCH,
	TF_F_CLIENT_CHAIN_INVALID,
	TF_F_NKINDS
};

struct tf_finding {
	enum tf_finding_kind kind;
	bool has_sha256;
	unsigned char sha256[32];
	char *subject; /* of the certificate, or NULL */
	char *store;   /* the store (or client certificate) as named */
	char *where;   /* "file:line", a link name, a file */
	char *message; /* what is wrong */
	char *action;  /* what to do */
};

struct tf_findings {
	struct tf_finding *v;
	size_t n, cap;
};

/* "decommissioned", "missing-required", ... */
const char *tf_finding_kind_name(enum tf_finding_kind kind);

/*
 * Append a finding and return it (valid until the next add), so that the
 * caller can set its subject. 'sha256', 'where' and 'action' may be NULL.
 * The strings are copied.
 */
struct tf_finding *tf_findings_add(struct tf_findings *f, enum tf_finding_kind kind,
    const unsigned char *sha256, const char *store, const char *where, const char *action,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

void tf_findings_release(struct tf_findings *f);

#endif
