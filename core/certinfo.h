/*
 * core/certinfo.h - what trustfix reports of a certificate, decoded without
 * building its public key: the fast path for inspecting large stores.
 */
#ifndef TF_CERTINFO_H
#define TF_CERTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "name.h" /* tf_name_oneline() */

struct tf_certinfo {
	unsigned char sha256[32]; /* of the certificate's DER */
	char *subject;            /* one line, control bytes escaped */
	char *issuer;
	char *serial; /* uppercase hex, as openssl x509 -serial */
	time_t not_before;
	time_t not_after;
	char key_type[16]; /* "RSA", "EC", "Ed25519", ... */
	int key_bits;      /* as EVP_PKEY_get_bits() would say */
	char sig_alg[64];  /* long name, e.g. sha256WithRSAEncryption */
	int sig_md_nid;    /* digest of the signature, NID_undef if none */
	int version;       /* 1, 2 or 3 */
	bool is_ca;
	bool is_self_signed;        /* subject and issuer names equal */
	unsigned long subject_hash; /* X509_NAME_hash_ex, when asked for */
	unsigned char *subject_der; /* raw subject Name, for chain matching */
	size_t subject_der_len;
	unsigned char *issuer_der;
	size_t issuer_der_len;
	size_t der_len; /* bytes of the certificate itself */
};

enum {
	TF_CERTINFO_HASH = 1, /* compute subject_hash (OpenSSL's c_rehash hash) */
};

/*
 * Decode the certificate at the start of 'der' ('len' bytes; trailing bytes,
 * such as the trust settings of a TRUSTED CERTIFICATE, are ignored).
 * Returns 0, or -1 when it is not a certificate, with 'why' (if not NULL)
 * pointing at a static reason. Free with tf_certinfo_clear().
 */
int tf_certinfo_parse(struct tf_certinfo *ci, const unsigned char *der, size_t len, int flags,
    const char **why);

void tf_certinfo_clear(struct tf_certinfo *ci);

/* Format a time as "2024-01-30T22:32:39Z" into 'buf' (at least 21 bytes). */
void tf_time_iso(char *buf, size_t size, time_t t);

#endif
