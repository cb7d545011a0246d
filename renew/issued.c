/*
 * renew/issued.c - the check of a certificate an EST server issued, before
 * anything is installed: one end-entity certificate, the CSR's key, the
 * names asked for, valid now, chaining to the EST CA, clientAuth kept.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "../core/certinfo.h"
#include "est_parse.h"

#define EST_CLOCK_SKEW 300 /* seconds a notBefore may lie ahead of our clock */

static bool
is_ca_cert(X509 *x)
{
	return X509_check_ca(x) != 0;
}

/* Whether every name of 'a' is in 'b' and the other way round. */
static bool
same_sans(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
	int i, j, na = a != NULL ? sk_GENERAL_NAME_num(a) : 0;
	int nb = b != NULL ? sk_GENERAL_NAME_num(b) : 0;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++) {
		bool found = false;

		for (j = 0; j < nb && !found; j++)
			found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i),
			            sk_GENERAL_NAME_value(b, j)) == 0;
		if (!found)
			return false;
	}
	return true;
}

int
est_issued_check(X509 **leaf, struct tf_ctx *ctx, STACK_OF(X509) *certs,
    const struct est_expect *want)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *vctx = NULL;
	GENERAL_NAMES *sans = NULL;
	X509 *ee = NULL;
	time_t skewed;
	int i, rc = TF_EREFUSED;

	*leaf = NULL;
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (is_ca_cert(x))
			continue;
		if (ee != NULL) {
			rc = tf_error(ctx, TF_EREFUSED,
			    "EST server returned more than one end-entity certificate");
			goto out;
		}
		ee = x;
	}
	if (ee == NULL) {
		rc = tf_error(ctx, TF_EREFUSED, "EST server returned no end-entity certificate");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(ee), want->key) != 1) {
		rc = tf_error(ctx, TF_EREFUSED,
		    "issued certificate is for another key than the one requested");
		goto out;
	}
	if (want->subject != NULL && X509_NAME_cmp(X509_get_subject_name(ee), want->subject) != 0) {
		const unsigned char *der = NULL;
		size_t dlen = 0;
		char *got;

		X509_NAME_get0_der(X509_get_subject_name(ee), &der, &dlen);
		got = tf_name_oneline(der, dlen);

		rc = tf_error(ctx, TF_EREFUSED,
		    "issued certificate has subject '%s', not the one requested", got);
		free(got);
		goto out;
	}
	sans = X509_get_ext_d2i(ee, NID_subject_alt_name, NULL, NULL);
	if (!same_sans(sans, want->sans)) {
		rc = tf_error(ctx, TF_EREFUSED,
		    "issued certificate has other subject alternative names than requested");
		goto out;
	}
	/* a few minutes of clock skew: a CA stamps notBefore with its own now */
	skewed = ctx->now + EST_CLOCK_SKEW;
	if (X509_cmp_time(X509_get0_notBefore(ee), &skewed) > 0) {
		rc = tf_error(ctx, TF_EREFUSED, "issued certificate is not valid yet");
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(ee), &ctx->now) <= 0) {
		rc = tf_error(ctx, TF_EREFUSED, "issued certificate has already expired");
		goto out;
	}
	if (want->client_auth && (X509_get_extension_flags(ee) & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(ee) & XKU_SSL_CLIENT) == 0) {
		rc = tf_error(ctx, TF_EREFUSED,
		    "issued certificate lacks the clientAuth extended key usage of the old one");
		goto out;
	}
	if (want->client_auth && (X509_get_extension_flags(ee) & EXFLAG_XKUSAGE) == 0) {
		/* no EKU at all would allow any use, but the old one was limited */
		rc = tf_error(ctx, TF_EREFUSED,
		    "issued certificate has no clientAuth extended key usage, the old one had");
		goto out;
	}
	if (want->anchors == NULL || sk_X509_num(want->anchors) == 0) {
		rc = tf_error(ctx, TF_EREFUSED, "no EST CA certificates to verify the issued one");
		goto out;
	}
	if ((store = X509_STORE_new()) == NULL || (vctx = X509_STORE_CTX_new()) == NULL) {
		rc = tf_error(ctx, TF_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < sk_X509_num(want->anchors); i++)
		X509_STORE_add_cert(store, sk_X509_value(want->anchors, i));
	if (X509_STORE_CTX_init(vctx, store, ee, certs) != 1) {
		rc = tf_error_ssl(ctx, TF_ERROR, "cannot verify the issued certificate");
		goto out;
	}
	/* at our now, or within the skew allowed above when the CA's clock is ahead */
	X509_STORE_CTX_set_time(vctx, 0,
	    X509_cmp_time(X509_get0_notBefore(ee), &ctx->now) > 0 ? skewed : ctx->now);
	/* an EST CA may be an intermediate: trust it without its root */
	X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_PARTIAL_CHAIN);
	if (want->client_auth)
		X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(vctx) != 1) {
		rc = tf_error(ctx, TF_EREFUSED,
		    "issued certificate does not chain to the EST CA certificates: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		goto out;
	}
	if (!X509_up_ref(ee)) {
		rc = tf_error(ctx, TF_ENOMEM, "out of memory");
		goto out;
	}
	*leaf = ee;
	rc = 0;
out:
	ERR_clear_error();
	GENERAL_NAMES_free(sans);
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return rc;
}
