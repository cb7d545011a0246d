/*
 * truststore/pkcs12.c - the certificates of a PKCS#12 trust store (as Java's
 * keytool and openssl pkcs12 -export -nokeys write them). A key bag in a
 * trust store is reported; its content is never decoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "../core/path.h"
#include "internal.h"

#define P12_MAX (64 * 1024 * 1024)
/*
 * Most password-hash iterations accepted. Real stores use 1 to 100,000
 * (OpenSSL 2,048, Java 10,000); a hostile file asking for 2^31 would keep
 * the scan busy for hours.
 */
#define ITER_MAX 1000000L

static int
push_bag(struct scan *sc, const PKCS12_SAFEBAG *bag, int index)
{
	struct truststore *ts = scan_store(sc);
	unsigned char *der = NULL, *copy;
	char *where;
	X509 *x;
	int len, rc = 0;

	where = tf_asprintf("%s#%d", ts->path, index);
	switch (PKCS12_SAFEBAG_get_nid(bag)) {
	case NID_certBag:
		if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate ||
		    (x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL) {
			ERR_clear_error();
			scan_finding(sc, TF_F_UNPARSABLE, where, "remove or replace the entry",
			    "certificate bag %d holds no X.509 certificate", index);
			break;
		}
		/* re-encode: the bag's certificate is handed to the decoder as DER */
		if ((len = i2d_X509(x, &der)) > 0) {
			copy = tf_malloc((size_t)len);
			memcpy(copy, der, (size_t)len);
			rc = scan_push(sc, copy, (size_t)len, where, 0, NULL, -1);
		}
		OPENSSL_free(der);
		X509_free(x);
		break;
	case NID_keyBag:
	case NID_pkcs8ShroudedKeyBag:
		scan_finding(sc, TF_F_PRIVATE_KEY, where,
		    "move the key out of the trust store and treat it as exposed",
		    "bag %d of the PKCS#12 trust store holds a private key", index);
		break;
	default:
		scan_skipped(sc);
		break;
	}
	free(where);
	return rc;
}

/* An iteration count (absent means 1); -1 if it is not a small number. */
static long
iterations(const ASN1_INTEGER *iter)
{
	return iter == NULL ? 1 : ASN1_INTEGER_get(iter);
}

/*
 * The iteration count of the password-based encryption 'alg': PKCS#12's own
 * PBE, or PBES2 with PBKDF2. 1 for a scheme without one, -1 if unreadable.
 */
static long
pbe_iterations(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	PBE2PARAM *pbe2 = NULL;
	PBKDF2PARAM *kdf = NULL;
	PBEPARAM *pbe = NULL;
	long n = -1;
	int ptype;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype != V_ASN1_SEQUENCE)
		return -1;
	if (OBJ_obj2nid(obj) == NID_pbes2) {
		pbe2 = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBE2PARAM));
		if (pbe2 == NULL || pbe2->keyfunc == NULL)
			goto out;
		if (OBJ_obj2nid(pbe2->keyfunc->algorithm) != NID_id_pbkdf2) {
			n = 1; /* scrypt: OpenSSL bounds its memory itself */
			goto out;
		}
		X509_ALGOR_get0(&obj, &ptype, &pval, pbe2->keyfunc);
		if (ptype == V_ASN1_SEQUENCE &&
		    (kdf = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBKDF2PARAM))) != NULL)
			n = iterations(kdf->iter);
	} else if ((pbe = ASN1_item_unpack(pval, ASN1_ITEM_rptr(PBEPARAM))) != NULL) {
		n = iterations(pbe->iter);
	}
out:
	PBE2PARAM_free(pbe2);
	PBKDF2PARAM_free(kdf);
	PBEPARAM_free(pbe);
	ERR_clear_error();
	return n;
}

static int
too_many(struct tf_ctx *ctx, const char *host, const char *what, long n)
{
	if (n >= 0 && n <= ITER_MAX)
		return 0;
	return tf_error(ctx, TF_EINVALID,
	    "PKCS#12 store '%s' asks for %s%s iterations of its %s (at most %ld are accepted): "
	    "refused as hostile",
	    host, n < 0 ? "an unreadable number of" : "", n < 0 ? "" : "too many", what, ITER_MAX);
}

/*
 * The bags of an encrypted part. Stores encrypted with RC2 (Java's keytool
 * before 11.0.12, openssl pkcs12 -legacy) need OpenSSL's legacy provider,
 * loaded only then and kept in *legacy until the scan ends.
 */
static STACK_OF(PKCS12_SAFEBAG) *
decrypt_bags(PKCS7 *p7, const char *pass, OSSL_PROVIDER **legacy)
{
	STACK_OF(PKCS12_SAFEBAG) *bags;
	int passlen = pass != NULL ? -1 : 0;

	if ((bags = PKCS12_unpack_p7encdata(p7, pass, passlen)) != NULL || *legacy != NULL)
		return bags;
	if ((*legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1)) == NULL)
		return NULL;
	ERR_clear_error();
	return PKCS12_unpack_p7encdata(p7, pass, passlen);
}

/*
 * Read and decode the PKCS#12 file 'fd', check its iteration counts and its
 * MAC with the store's password. *pass gets the password that opens it
 * (NULL for a store written without any). Returns 0 or TF_E* with the
 * message set; the caller frees *out.
 */
static int
load(struct truststore *ts, int fd, PKCS12 **out, const char **pass)
{
	struct tf_ctx *ctx = ts->ctx;
	PKCS12 *p12 = NULL;
	const unsigned char *p;
	char *buf = NULL;
	size_t len;
	int rc;

	*out = NULL;
	*pass = ts->password != NULL ? ts->password : "";
	if ((rc = tf_read_fd(ctx, fd, ts->host, P12_MAX, &buf, &len)) != 0)
		return rc;
	p = (const unsigned char *)buf;
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		rc = tf_error(ctx, TF_EIO, "store '%s' is not a valid PKCS#12 file", ts->host);
		goto out;
	}
	if (PKCS12_mac_present(p12)) {
		const ASN1_INTEGER *iter;

		PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
		if ((rc = too_many(ctx, ts->host, "MAC", iterations(iter))) != 0)
			goto out;
	}
	if (PKCS12_mac_present(p12) && !PKCS12_verify_mac(p12, *pass, -1)) {
		/* without a password, after the empty one try none at all, which
		 * is what PKCS12_create(NULL, ...) writes */
		if (ts->password == NULL && PKCS12_verify_mac(p12, NULL, 0)) {
			*pass = NULL;
		} else {
			rc = tf_error(ctx, TF_EUSAGE,
			    "wrong password for PKCS#12 store '%s' (give it with --password-file)",
			    ts->host);
			goto out;
		}
	}
	*out = p12;
	p12 = NULL;
out:
	ERR_clear_error();
	PKCS12_free(p12);
	free(buf);
	return rc;
}

int
pkcs12_check(struct truststore *ts, int fd)
{
	const char *pass;
	PKCS12 *p12 = NULL;
	int rc = load(ts, fd, &p12, &pass);

	PKCS12_free(p12);
	return rc;
}

int
pkcs12_scan(struct scan *sc, int fd)
{
	struct truststore *ts = scan_store(sc);
	struct tf_ctx *ctx = ts->ctx;
	STACK_OF(PKCS7) *safes = NULL;
	OSSL_PROVIDER *legacy = NULL;
	PKCS12 *p12 = NULL;
	const char *pass;
	int i, j, index = 0, rc;

	if ((rc = load(ts, fd, &p12, &pass)) != 0)
		goto out;
	if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
		rc = tf_error_ssl(ctx, TF_EINVALID, "cannot unpack PKCS#12 store '%s'", ts->host);
		goto out;
	}
	for (i = 0; i < sk_PKCS7_num(safes) && rc == 0; i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int nid = OBJ_obj2nid(p7->type);

		if (nid == NID_pkcs7_data) {
			bags = PKCS12_unpack_p7data(p7);
		} else if (nid == NID_pkcs7_encrypted) {
			rc = too_many(ctx, ts->host, "password hash",
			    pbe_iterations(p7->d.encrypted->enc_data->algorithm));
			if (rc != 0)
				break;
			bags = decrypt_bags(p7, pass, &legacy);
		}
		if (bags == NULL) {
			rc = tf_error_ssl(ctx, TF_EINVALID,
			    "cannot decrypt part %d of PKCS#12 store '%s' (wrong password, or a "
			    "legacy cipher)",
			    i, ts->host);
			break;
		}
		for (j = 0; j < sk_PKCS12_SAFEBAG_num(bags) && rc == 0; j++)
			rc = push_bag(sc, sk_PKCS12_SAFEBAG_value(bags, j), index++);
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
out:
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	OSSL_PROVIDER_unload(legacy);
	return rc;
}
