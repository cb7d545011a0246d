/*
 * truststore/internal.h - what the readers of each format share with the
 * scan engine. Not a public header.
 */
#ifndef TF_TRUSTSTORE_INTERNAL_H
#define TF_TRUSTSTORE_INTERNAL_H

#include <stdint.h>

#include "truststore.h"

struct truststore {
	struct tf_ctx *ctx;
	char *path; /* as named */
	char *host; /* as on this host, for messages */
	enum truststore_format format;
	char *password; /* PKCS#12, wiped on free */
};

struct scan;

/* A fingerprint seen in the store, and where ('where' into seen.text). */
struct seen_rec {
	unsigned char sha256[32];
	size_t where;
};

/*
 * The fingerprints seen so far, to find duplicates: an open-addressing
 * table of indexes into a dense array, with the "where" strings back to back
 * in one buffer. Zeroed, it is empty.
 */
struct seen {
	uint32_t *slots; /* 0 empty, else 1 + index into recs */
	size_t cap;      /* a power of two */
	struct seen_rec *recs;
	size_t n, reccap;
	char *text;
	size_t textlen, textcap;
};

/*
 * Remember a fingerprint found in 'file' at 'line' (0: none), through hash
 * link 'link' (or NULL). Returns where the same fingerprint was first seen
 * (valid until the next call), or NULL when it is new.
 */
const char *seen_add(struct seen *st, const unsigned char *sha256, const char *file, long line,
    const char *link);

void seen_release(struct seen *st);

/*
 * Queue one DER certificate (ownership of 'der' passes to the scan) found
 * in 'file' at 'line' (0 if none), through hash link 'link' (or NULL).
 * 'want_hash' is the subject hash the link's name promises, or -1.
 * Returns 0 or the first non-zero value of the callback.
 */
int scan_push(struct scan *sc, unsigned char *der, size_t len, const char *file, long line,
    const char *link, long long want_hash);

/*
 * Queue a file of a directory store to be read on a decoding thread, with
 * dir_read_file(); its certificates and findings are handed out in store
 * order, as if it had been read when queued. Takes 'path'; 'rel' (or NULL)
 * must stay valid until scan_drain(). Returns as scan_push().
 */
int scan_push_file(struct scan *sc, char *path, int dfd, const char *rel, const char *link,
    long long want_hash, bool unlinked);

/* Wait until everything queued is handed out. */
void scan_drain(struct scan *sc);

/*
 * Read a regular file queued by scan_push_file(), on any thread: 'sc'
 * captures what it holds. It is opened as 'rel' in directory 'dfd' when
 * 'rel' is not NULL, else as 'path' under the root. With 'unlinked', the
 * file of a hashed directory that no link leads to: read only when it
 * holds one certificate.
 */
void dir_read_file(struct scan *sc, const char *path, int dfd, const char *rel, const char *link,
    long long want_hash, bool unlinked);

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

/*
 * pem_read_fd() of a regular file, which a short read ends: one read()
 * fewer for each of the 100,000 small files of a hashed directory.
 */
int pem_read_regular(struct scan *sc, int fd, const char *file, const char *link,
    long long want_hash);

/* The two directory formats and PKCS#12; return 0 or TF_E*. */
int dir_scan(struct scan *sc, bool hashed);
int pkcs12_scan(struct scan *sc, int fd);

/*
 * Whether the PKCS#12 store 'fd' decodes and its password opens it, so that
 * a wrong password is an error before any output. Returns 0 or TF_E*.
 */
int pkcs12_check(struct truststore *ts, int fd);

/* Whether a directory entry name is an OpenSSL hash link: "89abcdef.0". */
bool dir_is_hash_name(const char *name, unsigned long *hash, long *index, bool *crl);

#endif
