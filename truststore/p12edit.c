/*
 * truststore/p12edit.c - plan the new content of a PKCS#12 trust store:
 * its bags are kept as they are (with their attributes, such as Java's
 * trusted-certificate marker), certificate bags are removed or added, and
 * the file is packed again with the same password.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "../core/path.h"
#include "edit.h"
#include "internal.h"
#include "p12edit.h"

#define P12_MAX (64 * 1024 * 1024)
#define JAVA_TRUSTED "2.16.840.1.113894.746875.1.1"

/* The attribute that marks a trusted certificate for Java, if a bag has it. */
static const ASN1_OBJECT *
java_trust(const PKCS12_SAFEBAG *bag)
{
	const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);
	char oid[64];
	int i;

	for (i = 0; i < sk_X509_ATTRIBUTE_num(attrs); i++) {
		X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(attrs, i);
		ASN1_TYPE *v;

		OBJ_obj2txt(oid, sizeof(oid), X509_ATTRIBUTE_get0_object(a), 1);
		if (strcmp(oid, JAVA_TRUSTED) == 0 &&
		    (v = X509_ATTRIBUTE_get0_type(a, 0)) != NULL && v->type == V_ASN1_OBJECT)
			return v->value.object;
	}
	return NULL;
}

static bool
bag_sha256(const PKCS12_SAFEBAG *bag, unsigned char *sha256, char **subject)
{
	struct tf_certinfo ci;
	unsigned char *der = NULL;
	X509 *x;
	int len;
	bool ok = false;

	if (PKCS12_SAFEBAG_get_nid(bag) != NID_certBag ||
	    (x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL)
		return false;
	if ((len = i2d_X509(x, &der)) > 0 &&
	    tf_certinfo_parse(&ci, der, (size_t)len, 0, NULL) == 0) {
		memcpy(sha256, ci.sha256, 32);
		*subject = ci.subject;
		ci.subject = NULL;
		tf_certinfo_clear(&ci);
		ok = true;
	}
	OPENSSL_free(der);
	X509_free(x);
	return ok;
}

int
p12_rewrite(struct truststore *ts, struct ts_plan *p, const struct ts_edit *e, struct p12_add *adds,
    size_t nadd, unsigned char **out, size_t *outlen)
{
	struct tf_ctx *ctx = ts->ctx;
	STACK_OF(PKCS7) *safes = NULL, *newsafes = NULL;
	STACK_OF(PKCS12_SAFEBAG) *keep = sk_PKCS12_SAFEBAG_new_null();
	const ASN1_OBJECT *trust = NULL;
	const char *pass = ts->password != NULL ? ts->password : "";
	PKCS12 *p12 = NULL, *np12 = NULL;
	PKCS7 *p7 = NULL;
	unsigned char *der = NULL;
	const unsigned char *q;
	char *buf = NULL;
	size_t len, i;
	bool encrypted = false, changed = false;
	int fd, rc, j, dlen;

	*out = NULL;
	if ((fd = tf_open(ctx, ts->path, O_RDONLY, 0)) == -1)
		return tf_error_sys(ctx, TF_EIO, "cannot open store '%s'", ts->host);
	rc = tf_read_fd(ctx, fd, ts->host, P12_MAX, &buf, &len);
	close(fd);
	if (rc != 0)
		goto out;
	q = (const unsigned char *)buf;
	if ((p12 = d2i_PKCS12(NULL, &q, (long)len)) == NULL ||
	    (PKCS12_mac_present(p12) && !PKCS12_verify_mac(p12, pass, -1)) ||
	    (safes = PKCS12_unpack_authsafes(p12)) == NULL) {
		rc = tf_error_ssl(ctx, TF_EUSAGE,
		    "cannot open PKCS#12 store '%s' (wrong password? give it with --password-file)",
		    ts->host);
		goto out;
	}
	for (j = 0; j < sk_PKCS7_num(safes); j++) {
		PKCS7 *s = sk_PKCS7_value(safes, j);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;

		if (OBJ_obj2nid(s->type) == NID_pkcs7_encrypted) {
			encrypted = true;
			bags = PKCS12_unpack_p7encdata(s, pass, -1);
		} else {
			bags = PKCS12_unpack_p7data(s);
		}
		if (bags == NULL) {
			rc = tf_error_ssl(ctx, TF_EINVALID, "cannot unpack PKCS#12 store '%s'",
			    ts->host);
			goto out;
		}
		while (sk_PKCS12_SAFEBAG_num(bags) > 0) {
			PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_shift(bags);
			unsigned char sha[32];
			char *subject = NULL;

			if (PKCS12_SAFEBAG_get_nid(bag) == NID_keyBag ||
			    PKCS12_SAFEBAG_get_nid(bag) == NID_pkcs8ShroudedKeyBag) {
				/* never written anew, never recorded in the audit log */
				PKCS12_SAFEBAG_free(bag);
				sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
				rc = tf_error(ctx, TF_EREFUSED,
				    "PKCS#12 store '%s' holds a private key: trustfix changes "
				    "trust "
				    "stores only and never records a key; move the key out first",
				    ts->host);
				goto out;
			}
			if (bag_sha256(bag, sha, &subject)) {
				for (i = 0; i < nadd; i++)
					if (memcmp(adds[i].sha256, sha, 32) == 0)
						adds[i].present = true;
				if (trust == NULL && java_trust(bag) != NULL)
					trust = OBJ_dup(java_trust(bag));
				for (i = 0; i < e->nremove; i++)
					if (memcmp(e->remove[i], sha, 32) == 0)
						break;
				if (i < e->nremove) {
					p12_note_removed(p, sha, subject);
					free(subject);
					PKCS12_SAFEBAG_free(bag);
					changed = true;
					continue;
				}
			}
			free(subject);
			sk_PKCS12_SAFEBAG_push(keep, bag);
		}
		sk_PKCS12_SAFEBAG_free(bags);
	}
	for (i = 0; i < nadd; i++) {
		PKCS12_SAFEBAG *bag;
		X509 *x;

		if (adds[i].present)
			continue;
		q = adds[i].der;
		if ((x = d2i_X509(NULL, &q, (long)adds[i].len)) == NULL ||
		    (bag = PKCS12_SAFEBAG_create_cert(x)) == NULL) {
			X509_free(x);
			rc = tf_error_ssl(ctx, TF_EINVALID, "cannot add a certificate to '%s'",
			    ts->host);
			goto out;
		}
		X509_free(x);
		if (adds[i].name != NULL)
			PKCS12_add_friendlyname_utf8(bag, adds[i].name, -1);
		if (trust != NULL)
			PKCS12_add1_attr_by_txt(bag, JAVA_TRUSTED, V_ASN1_OBJECT,
			    (const unsigned char *)trust, -1);
		sk_PKCS12_SAFEBAG_push(keep, bag);
		adds[i].present = true;
		adds[i].added = true;
		changed = true;
	}
	if (!changed) {
		rc = 0;
		goto out;
	}
	/* packed again as it was: encrypted with AES-256 (PBES2) or plain */
	p7 = encrypted
	    ? PKCS12_pack_p7encdata(NID_aes_256_cbc, pass, -1, NULL, 0, PKCS12_DEFAULT_ITER, keep)
	    : PKCS12_pack_p7data(keep);
	newsafes = sk_PKCS7_new_null();
	if (p7 == NULL || newsafes == NULL || !sk_PKCS7_push(newsafes, p7)) {
		PKCS7_free(p7);
		rc = tf_error_ssl(ctx, TF_ERROR, "cannot pack PKCS#12 store '%s'", ts->host);
		goto out;
	}
	if ((np12 = PKCS12_add_safes(newsafes, 0)) == NULL ||
	    !PKCS12_set_mac(np12, pass, -1, NULL, 0, PKCS12_DEFAULT_ITER, EVP_sha256()) ||
	    (dlen = i2d_PKCS12(np12, &der)) <= 0) {
		rc = tf_error_ssl(ctx, TF_ERROR, "cannot pack PKCS#12 store '%s'", ts->host);
		goto out;
	}
	*out = tf_malloc((size_t)dlen);
	memcpy(*out, der, (size_t)dlen);
	*outlen = (size_t)dlen;
	rc = 0;
out:
	OPENSSL_free(der);
	PKCS12_free(np12);
	sk_PKCS7_pop_free(newsafes, PKCS7_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(keep, PKCS12_SAFEBAG_free);
	ASN1_OBJECT_free((ASN1_OBJECT *)trust);
	PKCS12_free(p12);
	free(buf);
	return rc;
}
