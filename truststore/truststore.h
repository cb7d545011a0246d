/*
 * truststore/truststore.h - read the trust stores of an appliance: a PEM
 * bundle, an OpenSSL hashed directory, a directory of PEM/DER files, a DER
 * file or a PKCS#12 trust store, detected by content.
 */
#ifndef TF_TRUSTSTORE_H
#define TF_TRUSTSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/certinfo.h"
#include "../core/findings.h"
#include "../core/tf.h"
#include "policy.h"

enum truststore_format {
	TS_PEM_BUNDLE,
	TS_HASHED_DIR,
	TS_CERT_DIR,
	TS_DER,
	TS_PKCS12,
};

struct truststore;

/* One certificate of a store, as handed to a truststore_cert_fn. */
struct tf_cert {
	struct tf_certinfo info;
	const char *file;         /* the file it is in (a path of the managed system) */
	long line;                /* line of its BEGIN in a PEM file, else 0 */
	const char *link;         /* the hash link that leads to it, or NULL */
	const unsigned char *der; /* info.der_len bytes, valid during the call */
};

/* Called once per certificate, in store order. Non-zero stops the scan. */
typedef int (*truststore_cert_fn)(const struct tf_cert *cert, void *arg);

/*
 * A scan's callbacks for a caller that wants its own per-certificate work
 * done on the decoding threads too (formatting the output of 100,000
 * certificates costs as much as decoding them).
 *
 * 'prepare' (may be NULL) is called on a decoding thread as soon as a
 * certificate is decoded, for several certificates at once and in no
 * particular order: it may read 'cert' and what 'arg' points to, but must
 * change nothing that another call could touch. It returns heap memory or
 * NULL. 'emit' is then called on the scanning thread, in store order, after
 * the certificate's checks, with what 'prepare' returned; the scan frees
 * that with free() after 'emit' returns (or unused, when the scan stops
 * early). Non-zero from 'emit' stops the scan.
 */
struct truststore_visitor {
	void *(*prepare)(const struct tf_cert *cert, void *arg);
	int (*emit)(const struct tf_cert *cert, void *prepared, void *arg);
	void *arg;
};

/* What a scan checks each certificate against. */
struct truststore_checks {
	const struct tf_policy *policy; /* may be NULL */
	int warn_days;                  /* "expiring" within this many days */
	time_t now;
};

/* What a scan counted, beside the certificates it handed out. */
struct truststore_stats {
	size_t certificates;
	size_t skipped; /* blocks or files that hold no certificate (CRLs, ...) */
};

/*
 * Open the store at 'path' (a path of the managed system) and detect its
 * format. 'password' unlocks a PKCS#12 store (NULL: the empty password).
 * Returns 0, or TF_EIO (cannot read it) / TF_EINVALID with the message set.
 * Free with truststore_free().
 */
int truststore_open(struct truststore **out, struct tf_ctx *ctx, const char *path,
    const char *password);

enum truststore_format truststore_format(const struct truststore *ts);
const char *truststore_format_name(enum truststore_format fmt);
const char *truststore_path(const struct truststore *ts);

/*
 * Read every certificate of the store, check it, and hand it to 'fn' in
 * store order. Problems with the store's content (an unparsable entry, a key
 * block, a broken hash link, a decommissioned root, a missing required one,
 * ...) are appended to 'findings', they are not errors. Certificates are
 * decoded in batches on every core while the store is read, and freed after
 * the call, so memory does not grow with the size of the store. 'fn' is
 * called on the calling thread. Returns 0, the non-zero value of 'fn', or a
 * TF_E* code when the store cannot be read at all.
 */
int truststore_scan(struct truststore *ts, const struct truststore_checks *checks,
    struct tf_findings *findings, struct truststore_stats *stats, truststore_cert_fn fn, void *arg);

/* truststore_scan() with a prepare/emit pair: see struct truststore_visitor. */
int truststore_scan_visit(struct truststore *ts, const struct truststore_checks *checks,
    struct tf_findings *findings, struct truststore_stats *stats,
    const struct truststore_visitor *visitor);

void truststore_free(struct truststore *ts);

#endif
