/*
 * bundles/internal.h - what the files of bundles/ share and nothing else
 * includes (the fuzz targets aside): the in-memory entries of an archive,
 * the manifest and record documents, and the bundle itself.
 */
#ifndef TF_BUNDLES_INTERNAL_H
#define TF_BUNDLES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "bundle.h"

/* The state directory (txn/'s TXN_STATE_DIR), created 0700 like it. */
#define STATE_DIR "/var/lib/trustfix"

#define MANIFEST_NAME "manifest.json"
#define SIGNATURE_NAME "manifest.json.sig"
#define CERTS_DIR "certs"

/* One entry of an archive (or of a staged folder), read into memory. */
struct bundle_entry {
	char *name; /* normalised: no "./" prefix, no trailing slash */
	unsigned char *data;
	size_t len;
	bool is_dir;
};

struct bundle_entries {
	struct bundle_entry *v;
	size_t n;
	size_t total; /* bytes of data */
};

struct bundle {
	char *origin;
	struct bundle_entries e;
	struct bundle_manifest *m; /* after bundle_verify() */
	char manifest_sha256[65];  /* hex */
	char *signer;              /* subject, one line */
	char signer_sha256[65];    /* hex */
	enum bundle_status status;
	long long installed_version;
	bool verified;
};

/* ---- archive.c: libarchive, and nothing else includes it ---- */

/*
 * Read every entry of the .tar.gz, .tar or .zip in 'data' into 'out',
 * enforcing the limits and rules of safe extraction (entries_add()).
 * Returns 0, or TF_EINVALID naming the entry and the rule.
 */
int archive_read_bundle(struct bundle_entries *out, struct tf_ctx *ctx, const void *data,
    size_t len, const char *origin);

/*
 * Write the entries as a .tar.gz (pax, gzip) into a new buffer, every entry
 * owned by root with mode 0644 (folders 0755) and time 'mtime'. Returns 0
 * or TF_ERROR with the message set.
 */
int archive_write_bundle(struct tf_ctx *ctx, const struct bundle_entry *v, size_t n, time_t mtime,
    unsigned char **out, size_t *len);

/* ---- entries.c: the rules every entry must follow ---- */

/*
 * Check an entry's raw name (as the archive spells it) and append it.
 * 'type' is 'f' (regular file), 'd' (folder) or anything else (refused,
 * with 'what' naming it: "a symbolic link", ...). 'mode' is the entry's
 * permission bits (set-id and sticky bits are refused; the rest is
 * ignored: staged files are 0644). 'data' is copied. Returns 0, or
 * TF_EINVALID with "'origin': entry 'name': <rule>".
 */
int entries_add(struct bundle_entries *es, struct tf_ctx *ctx, const char *origin, const char *raw,
    char type, const char *what, unsigned mode, const void *data, size_t len);

/*
 * entries_add() in two steps, so that an archive entry is judged before
 * its data is read: the checks of the name, type and mode set *norm (NULL
 * for the top folder, which is not kept); entries_append() then checks the
 * size limits and takes 'norm' (freed on error too).
 */
int entries_check(struct bundle_entries *es, struct tf_ctx *ctx, const char *origin,
    const char *raw, char type, const char *what, unsigned mode, char **norm);
int entries_append(struct bundle_entries *es, struct tf_ctx *ctx, const char *origin, char *norm,
    char type, const void *data, size_t len);

/* A name as messages show it: escaped, cut short. The caller frees it. */
char *entries_show(const char *raw);

/*
 * Check a raw name alone; *norm gets the normalised name (NULL for the
 * archive's own top folder, "." or "./"). Returns NULL or the rule broken.
 */
const char *entries_check_name(const char *raw, char **norm);

/* The entry of that (normalised) name, or NULL. */
const struct bundle_entry *entries_find(const struct bundle_entries *es, const char *name);

void entries_release(struct bundle_entries *es);

/* ---- manifest.c: the JSON documents, and nothing else includes jansson ---- */

/*
 * Parse and validate a manifest ('origin' names it in messages). Returns
 * 0, or TF_EINVALID naming the key and what is wrong. Free with
 * manifest_free().
 */
int manifest_parse(struct bundle_manifest **out, struct tf_ctx *ctx, const char *json, size_t len,
    const char *origin);

/* The manifest as JSON text (two-space indent, newline at the end). */
char *manifest_dump(const struct bundle_manifest *m, size_t *len);

void manifest_free(struct bundle_manifest *m);

/* An installed record, as state.c reads it back. */
struct bundle_record {
	char *name;
	long long version;
	char *manifest_sha256;
	char *signer;
	char *signer_sha256;
	time_t created;
	time_t expires;
	time_t applied;
	bool downgrade;
	char *policy_json; /* the manifest's policy, as a policy document */
};

/* The record of a verified bundle applied at ctx->now. */
char *record_dump(const struct bundle *b, time_t applied, bool downgrade, size_t *len);

/* Parse a record. Returns 0 or TF_ECONFIG naming 'origin'. */
int record_parse(struct bundle_record *r, struct tf_ctx *ctx, const char *json, size_t len,
    const char *origin);

void record_release(struct bundle_record *r);

/* ---- verify.c ---- */

/* SHA-256 of 'len' bytes. */
void bundle_sha256(unsigned char out[32], const void *data, size_t len);

/*
 * The detached CMS signature of manifest.json: one signer, a SHA-256 or
 * better digest, chaining to a certificate of 'signers' (--signers, read
 * as given) or of bundle_signers, with a strong key. Sets b->signer and
 * b->signer_sha256. Returns 0, TF_EREFUSED, or TF_ECONFIG.
 */
int verify_signature(struct bundle *b, struct tf_ctx *ctx, const char *signers);

/*
 * The files against the parsed manifest: none missing or extra, each of its
 * size and SHA-256, and each certificate the one its fingerprint names (its
 * DER is kept in b->m->add[i]). Returns 0 or TF_EREFUSED.
 */
int verify_contents(struct bundle *b, struct tf_ctx *ctx);

/*
 * NULL when the key is strong enough to sign bundles (RSA >= 2048 bits, EC
 * >= 256 bits, Ed25519, Ed448), else why not. 'pk' is an EVP_PKEY.
 */
struct evp_pkey_st;
const char *verify_weak_key(struct evp_pkey_st *pk);

#endif
