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
#include <openssl/x509.h>

#include "../core/path.h"
#include "internal.h"

#define P12_MAX (64 * 1024 * 1024)

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

int
pkcs12_scan(struct scan *sc, int fd)
{
	struct truststore *ts = scan_store(sc);
	struct tf_ctx *ctx = ts->ctx;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12 *p12 = NULL;
	const char *pass = ts->password != NULL ? ts->password : "";
	const unsigned char *p;
	char *buf = NULL;
	size_t len;
	int i, j, index = 0, rc;

	if ((rc = tf_read_fd(ctx, fd, ts->host, P12_MAX, &buf, &len)) != 0)
		return rc;
	p = (const unsigned char *)buf;
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
		rc = tf_error_ssl(ctx, TF_EINVALID, "store '%s' is not a valid PKCS#12 file",
		    ts->host);
		goto out;
	}
	if (PKCS12_mac_present(p12) && !PKCS12_verify_mac(p12, pass, -1)) {
		rc = tf_error(ctx, TF_EUSAGE,
		    "wrong password for PKCS#12 store '%s' (give it with --password-file)",
		    ts->host);
		goto out;
	}
	if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
		rc = tf_error_ssl(ctx, TF_EINVALID, "cannot unpack PKCS#12 store '%s'", ts->host);
		goto out;
	}
	for (i = 0; i < sk_PKCS7_num(safes) && rc == 0; i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int nid = OBJ_obj2nid(p7->type);

		if (nid == NID_pkcs7_data)
			bags = PKCS12_unpack_p7data(p7);
		else if (nid == NID_pkcs7_encrypted)
			bags = PKCS12_unpack_p7encdata(p7, pass, -1);
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
	free(buf);
	return rc;
}
