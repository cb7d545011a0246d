/*
 * truststore/edit.h - plan a change of a trust store: which certificates
 * are added and removed, and the files that must be written, linked or
 * removed for it. Nothing is written here; txn/ carries the plan out.
 */
#ifndef TF_TRUSTSTORE_EDIT_H
#define TF_TRUSTSTORE_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../core/tf.h"
#include "truststore.h"

enum ts_op_kind {
	TS_OP_WRITE,   /* write 'data' to 'path' */
	TS_OP_SYMLINK, /* make 'path' a symbolic link to 'data' */
	TS_OP_REMOVE,  /* remove 'path' */
};

struct ts_op {
	enum ts_op_kind kind;
	char *path;          /* a path of the managed system */
	unsigned char *data; /* content, or the link target (NUL-terminated) */
	size_t len;
	mode_t mode; /* for a new file; an existing one keeps its own */
};

/* A certificate the plan adds or removes. */
struct ts_cert_ref {
	unsigned char sha256[32];
	char *subject;
};

struct ts_plan {
	char *store; /* the store, as named */
	struct ts_op *ops;
	size_t nops;
	struct ts_cert_ref *added;
	size_t nadded;
	struct ts_cert_ref *removed;
	size_t nremoved;
};

/* What to change: certificates to add (DER) and fingerprints to remove. */
struct ts_edit {
	const unsigned char *const *add_der;
	const size_t *add_len;
	size_t nadd;
	const unsigned char (*remove)[32];
	size_t nremove;
};

/*
 * Plan 'edit' on the store 'ts'. A certificate already present is not added
 * again and one absent is not removed, so an empty plan (nops == 0) means
 * nothing to do. PEM bundles keep every untouched byte, order and comments;
 * hashed directories get their <hash>.N links as openssl rehash leaves
 * them: numbered from 0 without a gap. Returns 0 or TF_E* with the message
 * set. Free with ts_plan_free().
 */
int truststore_plan(struct ts_plan **out, struct truststore *ts, const struct ts_edit *edit);

void ts_plan_free(struct ts_plan *plan);

/*
 * The certificates in the content of one file (PEM blocks, or one DER
 * certificate), in *out; what does not decode is left out. Free the list
 * with ts_cert_refs_free().
 */
void truststore_content_certs(const void *data, size_t len, struct ts_cert_ref **out, size_t *nout);

/*
 * Call fn with the DER of every certificate block (CERTIFICATE, TRUSTED
 * CERTIFICATE, X509 CERTIFICATE) of the PEM text 'data', in order; other
 * blocks (a key, perhaps) are wiped and skipped. Returns the number of
 * certificate blocks read (a block with bad base64 is not one).
 */
typedef void (*ts_der_fn)(const unsigned char *der, size_t len, void *arg);
size_t truststore_pem_certs(const void *data, size_t len, ts_der_fn fn, void *arg);
void ts_cert_refs_free(struct ts_cert_ref *v, size_t n);

#endif
