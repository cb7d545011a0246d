/*
 * bundles/bundle.h - versioned, signed root bundles: read an archive safely,
 * verify it offline against pinned signers, stage it, record it as
 * installed, and create one. The format is docs/bundle-format.md.
 */
#ifndef TF_BUNDLE_H
#define TF_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../core/tf.h"
#include "../truststore/policy.h"

/* Where the state lives: paths of the managed system (under --root). */
#define BUNDLE_STAGING_DIR "/var/lib/trustfix/staging"
#define BUNDLE_INSTALLED_DIR "/var/lib/trustfix/bundles"
#define BUNDLE_CLOCK_FILE "/var/lib/trustfix/bundle-clock"

/* The manifest format this trustfix reads and writes. */
#define BUNDLE_FORMAT 1

/* Limits of a bundle archive (docs/bundle-format.md, "Limits"). */
#define BUNDLE_ARCHIVE_MAX (16 * 1024 * 1024) /* the archive file itself */
#define BUNDLE_ENTRIES_MAX 1000               /* entries, folders included */
#define BUNDLE_ENTRY_MAX (1024 * 1024)        /* bytes of one entry */
#define BUNDLE_TOTAL_MAX (16 * 1024 * 1024)   /* bytes of all entries */
#define BUNDLE_STREAM_MAX (32 * 1024 * 1024)  /* decompressed archive stream */
#define BUNDLE_NAME_MAX 255                   /* bytes of an entry's name */

/* A certificate the bundle adds. */
struct bundle_cert {
	unsigned char sha256[32];
	char *name;         /* as the manifest names it; its subject's CN when absent */
	char *file;         /* "certs/NAME.pem" */
	unsigned char *der; /* the certificate, once verified (else NULL) */
	size_t der_len;
};

/* A fingerprint the bundle removes (decommissions) or requires. */
struct bundle_ref {
	unsigned char sha256[32];
	char *name;   /* the fingerprint in hex when the manifest names none */
	char *reason; /* or NULL */
};

/* A file of the archive as the manifest lists it. */
struct bundle_file {
	char *path;
	unsigned char sha256[32];
	size_t size;
};

/* What a manifest says (docs/bundle-format.md, "The manifest"). */
struct bundle_manifest {
	int format;
	char *name;
	long long version;
	time_t created;
	time_t expires;
	char *description; /* or NULL */
	char *policy_name; /* the policy's name; the bundle name when absent */
	struct bundle_cert *add;
	size_t nadd;
	struct bundle_ref *remove; /* "decommissioned" */
	size_t nremove;
	struct bundle_ref *require; /* "required" */
	size_t nrequire;
	struct bundle_file *files;
	size_t nfiles;
};

/* How a verified bundle relates to what is installed. */
enum bundle_status {
	BUNDLE_NEW,       /* no bundle of this name is installed */
	BUNDLE_UPGRADE,   /* a lower version is installed */
	BUNDLE_DOWNGRADE, /* a higher version is installed: --allow-downgrade given */
	BUNDLE_INSTALLED, /* this very bundle is installed: nothing to do */
};

struct bundle;

/*
 * Read the bundle archive 'path' (an input file, read as given, at most
 * BUNDLE_ARCHIVE_MAX bytes) into memory, checking every entry against the
 * rules of safe extraction; nothing is written anywhere. Returns 0, TF_EIO
 * when the file cannot be read, or TF_EINVALID naming the entry and the
 * rule it broke. Free *out with bundle_free().
 */
int bundle_open_file(struct bundle **out, struct tf_ctx *ctx, const char *path);

/* The same on 'len' bytes in memory; 'origin' names them in messages. */
int bundle_open_mem(struct bundle **out, struct tf_ctx *ctx, const void *data, size_t len,
    const char *origin);

/*
 * Read the bundle 'name' staged by bundle_stage(), with the same checks.
 * Returns 0, TF_EUSAGE when no bundle of that name is staged (or the name
 * is not a bundle name), TF_EINVALID, or TF_EIO.
 */
int bundle_open_staged(struct bundle **out, struct tf_ctx *ctx, const char *name);

/* Where the bundle was read from, for messages. */
const char *bundle_origin(const struct bundle *b);

struct bundle_verify_opts {
	const char *signers;  /* --signers: a PEM file or folder read as given; NULL:
	                         bundle_signers of the configuration, under the root */
	bool allow_downgrade; /* accept a version lower than the installed one */
};

/*
 * Verify a bundle completely and offline: the detached CMS signature over
 * manifest.json chains to a pinned signer (SHA-256 or better, RSA >= 2048
 * or EC >= P-256), the manifest is valid, every file is listed with its
 * size and SHA-256 and none is missing or extra, each certificate is the
 * one its fingerprint names, the bundle has not expired, the clock is not
 * earlier than the creation of the last bundle applied, and its version
 * relates to the installed one as bundle_check_installed() requires.
 * Returns 0 (see bundle_status()), TF_EREFUSED / TF_EINVALID naming the
 * rule, TF_ECONFIG when no signer is pinned, or TF_EIO.
 */
int bundle_verify(struct bundle *b, struct tf_ctx *ctx, const struct bundle_verify_opts *o);

/*
 * The checks against the state directory alone, on a verified bundle (run
 * again under the lock before applying): the clock, and the version against
 * the installed bundle of the same name: higher, or lower with
 * 'allow_downgrade'; the same version must have the same manifest. Sets the
 * status. Returns 0, TF_EREFUSED, or TF_EIO / TF_ECONFIG for unreadable
 * state.
 */
int bundle_check_installed(struct bundle *b, struct tf_ctx *ctx, bool allow_downgrade);

/* What the manifest of a verified bundle says; NULL before bundle_verify(). */
const struct bundle_manifest *bundle_manifest(const struct bundle *b);

/*
 * The status found by the last verification, and the installed version of
 * the same name (0 when none) in *installed.
 */
enum bundle_status bundle_status(const struct bundle *b, long long *installed);

/*
 * The signer of a verified bundle: its subject on one line, and the SHA-256
 * of its certificate (hex). Owned by 'b'.
 */
const char *bundle_signer(const struct bundle *b, const char **sha256_hex);

/* The SHA-256 of manifest.json in hex; owned by 'b'. */
const char *bundle_manifest_sha256(const struct bundle *b);

/*
 * Keep a verified bundle in the staging area, BUNDLE_STAGING_DIR/NAME/, in
 * place of any bundle of the same name staged before: the verified files
 * are written to a new folder, fsynced, and exchanged with the old one.
 * *same is set (and nothing written) when this very bundle is staged
 * already. Returns 0 or TF_EIO.
 */
int bundle_stage(struct bundle *b, struct tf_ctx *ctx, bool *same);

/*
 * The record that makes a verified bundle installed: the content of
 * *path (BUNDLE_INSTALLED_DIR/NAME.json), for the caller to write in the
 * transaction that applies the bundle. The caller frees both strings.
 */
void bundle_installed_record(const struct bundle *b, struct tf_ctx *ctx, char **path, char **data,
    size_t *len);

/*
 * Make the folder of the installed records (0700, with the state directory),
 * before a transaction writes a record into it. Returns 0 or TF_EIO.
 */
int bundle_state_prepare(struct tf_ctx *ctx);

/*
 * After a bundle was applied: raise the recorded clock to its creation
 * time, so that a clock set back cannot replay an older bundle. Returns 0
 * or TF_EIO.
 */
int bundle_note_applied(const struct bundle *b, struct tf_ctx *ctx);

/* One line of "trustfix bundle list". */
struct bundle_listing {
	char *name;
	long long version;
	bool installed; /* else staged */
	time_t created;
	time_t expires;
	time_t applied; /* installed only */
	bool downgrade; /* installed by --allow-downgrade */
	char *signer;   /* installed only: subject of the signer */
	char *manifest_sha256;
};

/*
 * The staged and installed bundles, sorted by name, installed first.
 * Entries that cannot be read are skipped. Returns 0 or TF_EIO. Free with
 * bundle_listing_free().
 */
int bundle_list(struct bundle_listing **out, size_t *n, struct tf_ctx *ctx);
void bundle_listing_free(struct bundle_listing *v, size_t n);

/*
 * The policy of the installed bundles (their decommissioned and required
 * roots, merged), or *out NULL when none is installed. Returns 0 or
 * TF_ECONFIG for a record that cannot be read. Free with tf_policy_free().
 */
int bundle_installed_policy(struct tf_policy **out, struct tf_ctx *ctx);

/*
 * The policy "inspect" applies: that of the installed bundles when there
 * is one, else tf_policy_load(path).
 */
int bundle_policy_load(struct tf_policy **out, struct tf_ctx *ctx, const char *path);

/* What "trustfix bundle create" makes. */
struct bundle_create_opts {
	const char *name;
	long long version;
	const char *signer_cert;       /* PEM: the signer, then any intermediates */
	const char *signer_key;        /* PEM private key */
	const char *key_password_file; /* or NULL: the key is not encrypted */
	const char *const *add;        /* certificate files (PEM or DER), each one or more */
	size_t nadd;
	const struct bundle_ref *remove;
	size_t nremove;
	const struct bundle_ref *require;
	size_t nrequire;
	const char *description; /* or NULL */
	time_t created;
	time_t expires;
	const char *output; /* the .tar.gz to write, as given */
};

/*
 * Make a bundle: the manifest, its detached CMS signature (SHA-256) and the
 * certificates, as a .tar.gz written atomically to o->output. The signer's
 * key must be RSA >= 2048 or EC >= P-256. Returns 0, TF_EUSAGE for bad
 * options, TF_EINVALID for unreadable certificates or keys, or TF_EIO.
 */
int bundle_create(struct tf_ctx *ctx, const struct bundle_create_opts *o);

/*
 * Fetch 'url' (https:// only; TLS verified against the system's CAs or
 * 'ca_file') into memory, at most 'max' bytes. Returns 0, TF_EUSAGE for a
 * URL that is not https, TF_EREFUSED when the server's certificate does not
 * verify or the body is too large, or TF_ENET. The caller frees *out.
 */
int bundle_fetch(struct tf_ctx *ctx, const char *url, const char *ca_file, size_t max,
    unsigned char **out, size_t *len);

/*
 * Parse a timestamp as the manifest and the command line write it:
 * "2025-06-01T12:00:00Z", or "2025-06-01" (midnight UTC) when 'date_ok'.
 * Returns 0 or -1.
 */
int bundle_time_parse(const char *s, bool date_ok, time_t *out);

/* Is 'name' a valid bundle name ([a-z0-9][a-z0-9._-]*, at most 64 bytes)? */
bool bundle_name_is_valid(const char *name);

void bundle_free(struct bundle *b);

#endif
