/*
 * truststore/edit_int.h - what the planners of truststore/edit.c (PEM
 * bundles, PKCS#12, the dispatch) and truststore/edit_dir.c (certificate
 * directories) share.
 */
#ifndef TF_EDIT_INT_H
#define TF_EDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "../core/certinfo.h"
#include "edit.h"
#include "internal.h"

#define EDIT_FILE_MAX (256 * 1024 * 1024)

/* A certificate to add, decoded. */
struct addcert {
	const unsigned char *der;
	size_t len;
	struct tf_certinfo info;
	bool present; /* already in the store */
};

/* One certificate block of a PEM file, as byte offsets of whole lines. */
struct block {
	size_t start, end;
	unsigned char sha256[32];
	char *subject;
};

/* Append a file operation to the plan (the data is copied). */
void edit_add_op(struct ts_plan *p, enum ts_op_kind kind, const char *path, const void *data,
    size_t len, mode_t mode);
/* Append a certificate to a list of the plan (added, removed). */
void edit_add_ref(struct ts_cert_ref **v, size_t *n, const unsigned char *sha256,
    const char *subject);
/* Whether the edit removes the certificate 'sha256'. */
bool edit_to_remove(const struct ts_edit *e, const unsigned char *sha256);
/* The certificate to add with this SHA-256, or NULL. */
struct addcert *edit_find_add(struct addcert *adds, size_t n, const unsigned char *sha256);
/* Read the file 'path' of the managed system (and its stat). Returns 0 or TF_E*. */
int edit_slurp(struct tf_ctx *ctx, const char *path, char **buf, size_t *len, struct stat *st);
/* The certificate blocks of a PEM text, decoded; free with edit_blocks_free(). */
size_t edit_pem_blocks(const char *text, size_t len, struct block **out);
void edit_blocks_free(struct block *v, size_t n);
/* A certificate as PEM text (LF, or CRLF line ends). */
char *edit_pem_text(const unsigned char *der, size_t len, bool crlf, size_t *outlen);
/*
 * The new text of the PEM file 'path': blocks removed by the edit cut out,
 * untouched bytes kept, the certificates to add appended when 'append'.
 */
int edit_rewrite_pem(struct tf_ctx *ctx, struct ts_plan *p, const char *path,
    const struct ts_edit *e, struct addcert *adds, size_t nadd, bool append, char **out,
    size_t *outlen, bool *changed, size_t *left);
/* The plan of a certificate directory, hashed (<hash>.N links) or not. */
int edit_plan_dir(struct ts_plan *p, struct truststore *ts, const struct ts_edit *e,
    struct addcert *adds, size_t nadd, bool hashed);

#endif
