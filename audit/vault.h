/*
 * audit/vault.h - the key vault: private keys never enter the audit log.
 * Where a managed file holds a private key (the client key), the log
 * records a reference naming the key's SPKI SHA-256 and the file's SHA-256,
 * and the file itself is kept 0600 in VAULT_DIR (0700), so that a rollback
 * can put the previous key back.
 *
 * A reference is text:
 *
 *	trustfix key vault reference
 *	spki-sha256: <64 hex digits, or "unknown" for a key that cannot be read>
 *	content-sha256: <64 hex digits>
 *	kept in /var/lib/trustfix/keys/<spki>-<first 16 of content>.key
 */
#ifndef TF_VAULT_H
#define TF_VAULT_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/tf.h"

/* The vault, a path of the managed system. */
#define VAULT_DIR "/var/lib/trustfix/keys"

/*
 * What the log records of the file content 'data': when it holds a private
 * key (audit_has_private_key()), a new reference in *ref (free it) and 1;
 * else 0 and *ref NULL.
 */
int vault_ref(char **ref, size_t *reflen, const void *data, size_t len);

struct audit;

/*
 * Key files are known by their path: the client key of the configuration,
 * and the files a change writes as keys. Anywhere else (a trust store) a
 * private key is refused, as the log refuses it. Paths are absolute paths
 * of the managed system.
 */
void vault_add_key_path(struct tf_ctx *ctx, const char *path);
bool vault_is_key_path(const struct tf_ctx *ctx, const char *path);

/*
 * What the log records for the file 'path' holding 'data': its reference
 * (new, in *out, 1 returned) when 'path' is a key file and 'data' holds a
 * private key; else 0 and *out NULL: the content as it is.
 */
int vault_form(char **out, size_t *outlen, const struct tf_ctx *ctx, const char *path,
    const void *data, size_t len);

/*
 * The git blob id of what the log records for the file 'path' holding
 * 'data' (vault_form()), into id_out. Returns 0 or TF_ERROR.
 */
int vault_blob_id(char id_out[41], struct audit *a, const struct tf_ctx *ctx, const char *path,
    const void *data, size_t len);

/*
 * Whether 'data' is a reference; with 'spki' not NULL, its SPKI SHA-256
 * (hex, 65 bytes with the NUL) is copied there ("unknown" when unknown).
 */
bool vault_is_ref(const void *data, size_t len, char spki[65]);

/*
 * Keep the key file 'data' in the vault (created 0700 under the root) as
 * the file its reference names, 0600, written beside and renamed into
 * place, fsynced. A file already kept is left as it is. Returns 0 or TF_EIO
 * with the message set.
 */
int vault_keep(struct tf_ctx *ctx, const void *data, size_t len);

/*
 * The key file a reference names, read back from the vault and checked
 * against the content hash the reference records, in *data (NUL-terminated,
 * wipe and free with vault_data_free()). Returns 0, or TF_EINVALID (not a
 * reference) / TF_EIO (missing from the vault, or altered) with the message
 * set.
 */
int vault_resolve(struct tf_ctx *ctx, const void *ref, size_t reflen, unsigned char **data,
    size_t *len);

/* Wipe and free what vault_resolve() returned; NULL is a no-op. */
void vault_data_free(unsigned char *data, size_t len);

#endif
