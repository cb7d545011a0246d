/*
 * renew/csr.c - the PKCS#10 request of an enrollment: subject and SANs
 * (kept from the current certificate, or given), the signature hash
 * /csrattrs asks for, and a challengePassword only for proof of possession.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "est_parse.h"

/* Add "key=value" (value up to 'vlen' bytes) to 'name'. */
static int
add_rdn(X509_NAME *name, struct tf_ctx *ctx, const char *text, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	char *key = NULL;
	int rc = 0;

	if (eq == NULL || eq == s || eq + 1 == s + n)
		return tf_error(ctx, TF_EINVALID, "malformed subject '%s': want KEY=value", text);
	key = tf_strndup(s, (size_t)(eq - s));
	if (X509_NAME_add_entry_by_txt(name, key, MBSTRING_UTF8, (const unsigned char *)eq + 1,
	        (int)(s + n - eq - 1), -1, 0) != 1)
		rc =
		    tf_error_ssl(ctx, TF_EINVALID, "bad attribute '%s' in subject '%s'", key, text);
	free(key);
	return rc;
}

int
est_subject_parse(X509_NAME **out, struct tf_ctx *ctx, const char *text)
{
	X509_NAME *name = X509_NAME_new();
	const char *p = text, *e;
	char sep = ',';
	int rc;

	*out = NULL;
	if (name == NULL)
		return tf_error(ctx, TF_ENOMEM, "out of memory");
	if (*p == '/') {
		sep = '/';
		p++;
	}
	while (*p != '\0') {
		while (sep == ',' && *p == ' ')
			p++;
		e = strchr(p, sep);
		if (e == NULL)
			e = p + strlen(p);
		if ((rc = add_rdn(name, ctx, text, p, (size_t)(e - p))) != 0) {
			X509_NAME_free(name);
			return rc;
		}
		p = *e == '\0' ? e : e + 1;
	}
	if (X509_NAME_entry_count(name) == 0) {
		X509_NAME_free(name);
		return tf_error(ctx, TF_EINVALID, "empty subject '%s'", text);
	}
	*out = name;
	return 0;
}

int
est_sans_parse(GENERAL_NAMES **out, struct tf_ctx *ctx, const char *const *sans, size_t n)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gen;
	size_t i;
	int rc = 0;

	*out = NULL;
	for (i = 0; i < n; i++) {
		const char *colon = strchr(sans[i], ':');
		char *kind = colon != NULL ? tf_strndup(sans[i], (size_t)(colon - sans[i])) : NULL;

		gen = NULL;
		if (kind != NULL && strcasecmp(kind, "ip") == 0)
			gen = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD, colon + 1, 0);
		else if (kind != NULL && strcasecmp(kind, "dns") == 0)
			gen = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_DNS, colon + 1, 0);
		else if (kind != NULL && strcasecmp(kind, "email") == 0)
			gen = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_EMAIL, colon + 1, 0);
		else if (kind != NULL && strcasecmp(kind, "uri") == 0)
			gen = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_URI, colon + 1, 0);
		free(kind);
		if (gen == NULL || colon[1] == '\0') {
			GENERAL_NAME_free(gen);
			rc = tf_error(ctx, TF_EINVALID,
			    "bad subject alternative name '%s': want DNS:, IP:, email: or URI:",
			    sans[i]);
			break;
		}
		sk_GENERAL_NAME_push(gens, gen);
	}
	ERR_clear_error();
	if (rc != 0) {
		GENERAL_NAMES_free(gens);
		return rc;
	}
	*out = gens;
	return 0;
}

int
est_csr_build(unsigned char **der, size_t *der_len, struct tf_ctx *ctx, EVP_PKEY *key,
    const X509_NAME *subject, const GENERAL_NAMES *sans, int md_nid, const char *challenge)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const EVP_MD *md = NULL;
	unsigned char *buf = NULL;
	int n, rc = TF_ERROR;

	*der = NULL;
	*der_len = 0;
	if (req == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1)
		goto ssl;
	if (subject != NULL && X509_REQ_set_subject_name(req, subject) != 1)
		goto ssl;
	if (sans != NULL && sk_GENERAL_NAME_num(sans) > 0) {
		exts = sk_X509_EXTENSION_new_null();
		if (exts == NULL ||
		    X509V3_add1_i2d(&exts, NID_subject_alt_name, (void *)sans, 0, 0) != 1 ||
		    X509_REQ_add_extensions(req, exts) != 1)
			goto ssl;
	}
	if (challenge != NULL &&
	    X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_ASC,
	        (const unsigned char *)challenge, -1) != 1)
		goto ssl;
	if (md_nid == NID_undef) {
		/* the usual pairing: SHA-384 with P-384, SHA-256 otherwise */
		md_nid = EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 384 ? NID_sha384
		                                                                   : NID_sha256;
	}
	if ((md = EVP_get_digestbynid(md_nid)) == NULL) {
		rc = tf_error(ctx, TF_EINVALID, "unsupported signature hash in /csrattrs");
		goto out;
	}
	if (X509_REQ_sign(req, key, md) <= 0)
		goto ssl;
	if ((n = i2d_X509_REQ(req, &buf)) <= 0)
		goto ssl;
	*der = tf_malloc((size_t)n);
	memcpy(*der, buf, (size_t)n);
	*der_len = (size_t)n;
	rc = 0;
	goto out;
ssl:
	rc = tf_error_ssl(ctx, TF_ERROR, "cannot build the certificate request");
out:
	OPENSSL_free(buf);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return rc;
}
