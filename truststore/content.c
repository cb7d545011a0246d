/*
 * truststore/content.c - the certificates held by the content of one file,
 * to describe a change of files in certificate terms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "edit.h"

static void
push(struct ts_cert_ref **v, size_t *n, const unsigned char *der, size_t len)
{
	struct tf_certinfo ci;

	if (tf_certinfo_parse(&ci, der, len, 0, NULL) != 0)
		return;
	*v = tf_realloc(*v, (*n + 1) * sizeof(**v));
	memcpy((*v)[*n].sha256, ci.sha256, 32);
	(*v)[*n].subject = ci.subject;
	ci.subject = NULL;
	(*n)++;
	tf_certinfo_clear(&ci);
}

size_t
truststore_pem_certs(const void *data, size_t len, ts_der_fn fn, void *arg)
{
	BIO *bio;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long dlen;
	size_t n = 0;

	if (len == 0 || len > INT32_MAX || (bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return 0;
	while (PEM_read_bio(bio, &name, &header, &der, &dlen) == 1) {
		if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "TRUSTED CERTIFICATE") == 0 ||
		    strcmp(name, "X509 CERTIFICATE") == 0) {
			fn(der, (size_t)dlen, arg);
			n++;
		} else {
			OPENSSL_cleanse(der, (size_t)dlen); /* a key block, perhaps: never kept */
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

struct refs {
	struct ts_cert_ref **v;
	size_t *n;
};

static void
push_ref(const unsigned char *der, size_t len, void *arg)
{
	struct refs *r = arg;

	push(r->v, r->n, der, len);
}

void
truststore_content_certs(const void *data, size_t len, struct ts_cert_ref **out, size_t *nout)
{
	struct refs r = { out, nout };

	*out = NULL;
	*nout = 0;
	if (len == 0)
		return;
	if (*(const unsigned char *)data == 0x30) {
		push(out, nout, data, len);
		return;
	}
	(void)truststore_pem_certs(data, len, push_ref, &r);
}

void
ts_cert_refs_free(struct ts_cert_ref *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].subject);
	free(v);
}
