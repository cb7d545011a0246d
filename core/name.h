/*
 * core/name.h - X.509 Names as trustfix shows and compares them: one-line
 * form, equality and subject hash as OpenSSL has them, fast for ASCII names.
 */
#ifndef TF_NAME_H
#define TF_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* The names of a certificate, as tf_names_decode() gives them. */
struct tf_names {
	char *subject; /* one line, control bytes escaped */
	char *issuer;
	bool equal;                 /* as X509_NAME_cmp() == 0 */
	unsigned long subject_hash; /* X509_NAME_hash_ex(), when asked for */
};

/*
 * Decode a certificate's subject and issuer Names from their DER (the
 * whole SEQUENCE of each). Returns NULL, or a static reason why they are
 * not usable ("malformed subject name", ...), with nothing to free. The
 * caller frees out->subject and out->issuer. Safe to call from several
 * threads at once.
 */
const char *tf_names_decode(struct tf_names *out, const unsigned char *subject, size_t subject_len,
    const unsigned char *issuer, size_t issuer_len, bool want_hash);

/* Format a DER Name as one line ("C=US, O=Example, CN=Root"); NULL if bad. */
char *tf_name_oneline(const unsigned char *der, size_t len);

#endif
