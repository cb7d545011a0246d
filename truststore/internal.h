/*
 * truststore/internal.h - what the readers of each format share with the
 * scan engine. Not a public header.
 */
#ifndef TF_TRUSTSTORE_INTERNAL_H
#define TF_TRUSTSTORE_INTERNAL_H

#include "truststore.h"

struct truststore {
	struct tf_ctx *ctx;
	char *path; /* as named */
	char *host; /* as on this host, for messages */
	enum truststore_format format;
	char *password; /* PKCS#12, wiped on free */
};

struct scan;

/*
 * Queue one DER certificate (ownership of 'der' passes to the scan) found
 * in 'file' at 'line' (0 if none), through hash link 'link' (or NULL).
 * 'want_hash' is the subject hash the link's name promises, or -1.
 * Returns 0 or the first non-zero value of the callback.
 */
int scan_push(struct scan *sc, unsigned char *der, size_t len, const char *file, long line,
    const char *link, long long want_hash);

/* A finding about the store itself; 'where' may be NULL. */
void scan_finding(struct scan *sc, enum tf_finding_kind kind, const char *where, const char *action,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Count a block or file that holds no certificate. */
void scan_skipped(struct scan *sc);

/* The store and context of a scan. */
struct truststore *scan_store(struct scan *sc);

/*
 * Read certificates from a PEM or DER file already open as 'fd'. 'file' is
 * its path of the managed system. 'link'/'want_hash' are passed to
 * scan_push(). Returns 0, or TF_EIO when the file cannot be read.
 */
int pem_read_fd(struct scan *sc, int fd, const char *file, const char *link, long long want_hash);

/* The two directory formats and PKCS#12; return 0 or TF_E*. */
int dir_scan(struct scan *sc, bool hashed);
int pkcs12_scan(struct scan *sc, int fd);

/* Whether a directory entry name is an OpenSSL hash link: "89abcdef.0". */
bool dir_is_hash_name(const char *name, unsigned long *hash, long *index, bool *crl);

#endif
