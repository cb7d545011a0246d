/*
 * bench/hashdir.c - split a PEM bundle into one file per certificate and
 * make the <subject hash>.<n> links that 'openssl rehash' would make, fast
 * enough for 100,000 certificates (rehash fully parses every file).
 *
 * usage: hashdir BUNDLE DIR
 *
 * It uses only OpenSSL (d2i_X509_NAME + X509_NAME_hash_ex on the subject),
 * not trustfix's decoder, so that the store it makes checks trustfix.
 */
#define _POSIX_C_SOURCE 200809L /* symlink() under -std=c11 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define BEGIN "-----BEGIN CERTIFICATE-----"
#define END "-----END CERTIFICATE-----"

struct link {
	unsigned long hash;
	long index; /* of the certificate in the bundle */
};

static int
fail(const char *what, const char *arg)
{
	fprintf(stderr, "hashdir: %s '%s'%s%s\n", what, arg, errno ? ": " : "",
	    errno ? strerror(errno) : "");
	return 1;
}

/* The whole file, NUL-terminated. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0)
		goto out;
	if ((buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	if (fp != NULL)
		fclose(fp);
	return buf;
}

/*
 * The subject Name of a DER certificate: step into Certificate and
 * TBSCertificate, skip version, serial, signature, issuer and validity.
 */
static X509_NAME *
subject_of(const unsigned char *der, long len)
{
	const unsigned char *p = der, *start;
	long n, left = len;
	int tag, cls, i, r;

	for (i = 0; i < 2; i++) { /* into the two SEQUENCEs */
		r = ASN1_get_object(&p, &n, &tag, &cls, left);
		if ((r & 0x80) || tag != V_ASN1_SEQUENCE)
			return NULL;
		left = n;
	}
	for (i = 0; i < 5; i++) {
		start = p;
		r = ASN1_get_object(&p, &n, &tag, &cls, left);
		if (r & 0x80)
			return NULL;
		p += n;
		left -= p - start;
		if (i == 0 && cls != V_ASN1_CONTEXT_SPECIFIC)
			i++; /* no version: that was the serial */
	}
	return d2i_X509_NAME(NULL, &p, left);
}

static int
cmp_link(const void *a, const void *b)
{
	const struct link *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

int
main(int argc, char **argv)
{
	struct link *links = NULL;
	unsigned char *der = NULL;
	char *buf = NULL, *p, *end, *b64 = NULL, name[64], target[64];
	size_t len, cap = 0, n = 0, i, k;
	long index = 0;
	int rc = 1;

	if (argc != 3) {
		fputs("usage: hashdir BUNDLE DIR\n", stderr);
		return 2;
	}
	if ((buf = slurp(argv[1], &len)) == NULL) {
		rc = fail("cannot read", argv[1]);
		goto out;
	}
	if (chdir(argv[2]) != 0) {
		rc = fail("cannot enter", argv[2]);
		goto out;
	}
	for (p = buf; (p = strstr(p, BEGIN)) != NULL; p = end, index++) {
		X509_NAME *subject;
		FILE *fp;
		size_t blen = 0;
		char *q;
		int dlen, ok = 0;

		if ((end = strstr(p, END)) == NULL) {
			rc = fail("truncated block in", argv[1]);
			goto out;
		}
		end += strlen(END);
		if (*end == '\n')
			end++;
		snprintf(target, sizeof(target), "c%07ld.pem", index);
		if ((fp = fopen(target, "w")) == NULL ||
		    fwrite(p, 1, (size_t)(end - p), fp) != (size_t)(end - p) || fclose(fp) != 0) {
			rc = fail("cannot write", target);
			goto out;
		}
		if ((size_t)(end - p) > cap) {
			cap = 2 * (size_t)(end - p);
			free(b64);
			free(der);
			b64 = malloc(cap);
			der = malloc(cap);
			if (b64 == NULL || der == NULL)
				goto out;
		}
		for (q = p + strlen(BEGIN); q < end - strlen(END) - 1; q++)
			if (*q != '\n' && *q != '\r')
				b64[blen++] = *q;
		dlen = EVP_DecodeBlock(der, (unsigned char *)b64, (int)blen);
		if (dlen < 0 || (subject = subject_of(der, dlen)) == NULL) {
			errno = 0;
			rc = fail("cannot decode", target);
			goto out;
		}
		if (n % 4096 == 0 && (links = realloc(links, (n + 4096) * sizeof(*links))) == NULL)
			goto out;
		links[n].hash = X509_NAME_hash_ex(subject, NULL, NULL, &ok);
		links[n].index = index;
		X509_NAME_free(subject);
		if (!ok) {
			errno = 0;
			rc = fail("cannot hash the subject of", target);
			goto out;
		}
		n++;
	}
	/* as rehash: equal hashes get .0, .1, ... in bundle order */
	qsort(links, n, sizeof(*links), cmp_link);
	for (i = 0, k = 0; i < n; i++) {
		k = i > 0 && links[i - 1].hash == links[i].hash ? k + 1 : 0;
		snprintf(name, sizeof(name), "%08lx.%zu", links[i].hash, k);
		snprintf(target, sizeof(target), "c%07ld.pem", links[i].index);
		if (symlink(target, name) != 0) {
			rc = fail("cannot link", name);
			goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	free(b64);
	free(der);
	free(links);
	return rc;
}
