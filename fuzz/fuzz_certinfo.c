/*
 * fuzz/fuzz_certinfo.c - libFuzzer target for the fast certificate decoder:
 * it must never crash, and whatever it accepts that OpenSSL's full parse
 * also accepts, it must describe as OpenSSL does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/certinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
differs(const char *field, long long ours, long long openssl)
{
	fprintf(stderr, "fuzz_certinfo: %s is %lld, OpenSSL says %lld\n", field, ours, openssl);
	abort();
}

/* Subject and issuer are one line of text with every control byte escaped. */
static void
check_text(const char *field, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			fprintf(stderr, "fuzz_certinfo: %s holds control byte 0x%02x\n", field, *p);
			abort();
		}
	}
}

static time_t
tm_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return (time_t)-1;
	return timegm(&tm);
}

/* The serial as 'openssl x509 -serial' prints it. */
static void
compare_serial(const struct tf_certinfo *ci, const X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *text;
	long n;

	if (bio == NULL)
		abort();
	if (i2a_ASN1_INTEGER(bio, X509_get0_serialNumber(x)) > 0) {
		n = BIO_get_mem_data(bio, &text);
		if ((size_t)n != strlen(ci->serial) || memcmp(text, ci->serial, (size_t)n) != 0) {
			fprintf(stderr, "fuzz_certinfo: serial is %s, OpenSSL says %.*s\n",
			    ci->serial, (int)n, text);
			abort();
		}
	}
	BIO_free(bio);
}

/* Compare with what d2i_X509() makes of the same bytes, when it accepts them. */
static void
compare(const struct tf_certinfo *ci, const uint8_t *data)
{
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)ci->der_len);
	EVP_PKEY *pk;
	int ok = 0, nid;
	unsigned long hash;

	if (x == NULL) {
		ERR_clear_error();
		return;
	}
	if ((size_t)(p - data) != ci->der_len)
		differs("der_len", (long long)ci->der_len, (long long)(p - data));
	if (ci->version != X509_get_version(x) + 1)
		differs("version", ci->version, X509_get_version(x) + 1);
	if (ci->not_before != tm_time(X509_get0_notBefore(x)))
		differs("not_before", ci->not_before, tm_time(X509_get0_notBefore(x)));
	if (ci->not_after != tm_time(X509_get0_notAfter(x)))
		differs("not_after", ci->not_after, tm_time(X509_get0_notAfter(x)));
	if (ci->is_self_signed !=
	    (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0))
		differs("is_self_signed", ci->is_self_signed, !ci->is_self_signed);
	hash = X509_NAME_hash_ex(X509_get_subject_name(x), NULL, NULL, &ok);
	if (ok && ci->subject_hash != hash)
		differs("subject_hash", (long long)ci->subject_hash, (long long)hash);
	if ((pk = X509_get0_pubkey(x)) != NULL && ci->key_bits != EVP_PKEY_get_bits(pk))
		differs("key_bits", ci->key_bits, EVP_PKEY_get_bits(pk));
	compare_serial(ci, x);
	nid = X509_get_signature_nid(x);
	if (nid != NID_undef && strcmp(ci->sig_alg, OBJ_nid2ln(nid)) != 0) {
		fprintf(stderr, "fuzz_certinfo: sig_alg is %s, OpenSSL says %s\n", ci->sig_alg,
		    OBJ_nid2ln(nid));
		abort();
	}
	/* X509_check_ca() says 0 for any certificate with a bad extension */
	if (!(X509_get_extension_flags(x) & EXFLAG_INVALID) && ci->is_ca != (X509_check_ca(x) != 0))
		differs("is_ca", ci->is_ca, X509_check_ca(x) != 0);
	ERR_clear_error();
	X509_free(x);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tf_certinfo ci;
	const char *why = NULL;
	char *s;

	if (tf_certinfo_parse(&ci, data, size, TF_CERTINFO_HASH, &why) == 0) {
		if (ci.der_len == 0 || ci.der_len > size || ci.subject == NULL ||
		    ci.issuer == NULL || ci.serial == NULL || ci.subject_der == NULL ||
		    ci.issuer_der == NULL)
			abort();
		check_text("subject", ci.subject);
		check_text("issuer", ci.issuer);
		if (strlen(ci.serial) == 0 || strlen(ci.key_type) == 0 || strlen(ci.sig_alg) == 0)
			abort();
		compare(&ci, data);
		tf_certinfo_clear(&ci);
	} else if (why == NULL) {
		abort();
	}
	/* the name formatter alone, on the same bytes */
	if ((s = tf_name_oneline(data, size)) != NULL) {
		check_text("name", s);
		free(s);
	}
	return 0;
}
