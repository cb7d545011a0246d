/*
 * fuzz/fuzz_est.c - libFuzzer target for the EST response parsers: the
 * first byte picks a parser (base64, Content-Type, multipart, PKCS#7 after
 * base64, CsrAttrs, Retry-After, sanitising); none may crash or leak, and
 * what they return must hold together.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "renew/est_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_est: %s\n", what);
	abort();
}

static void
fuzz_multipart(const uint8_t *data, size_t size)
{
	struct est_part parts[EST_PARTS_MAX];
	struct est_ctype ct;
	const char *why = NULL;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = 0, i, hl;

	/* first line: the Content-Type; the rest: the body */
	if (nl == NULL)
		return;
	hl = (size_t)(nl - data);
	if (est_ctype_parse(&ct, (const char *)data, hl, &why) != 0 || ct.boundary[0] == '\0')
		return;
	if (est_multipart_parse(parts, &n, nl + 1, size - hl - 1, ct.boundary, &why) != 0)
		return;
	if (n == 0 || n > EST_PARTS_MAX)
		fail("bad part count");
	for (i = 0; i < n; i++) {
		unsigned char *der = NULL;
		size_t dlen = 0;

		if (parts[i].body < nl + 1 || parts[i].body + parts[i].len > data + size)
			fail("part outside the body");
		if (est_body_der(&der, &dlen, parts[i].body, parts[i].len, &why) == 0) {
			STACK_OF(X509) *sk = NULL;

			if (est_pkcs7_certs(&sk, der, dlen, &why) == 0 && sk_X509_num(sk) < 1)
				fail("empty certificate stack accepted");
			sk_X509_pop_free(sk, X509_free);
			free(der);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	unsigned char *der = NULL;
	size_t dlen = 0;

	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0: {
		char *b64, *s;
		unsigned char *back = NULL;
		size_t blen = 0, n = 0;

		if (est_base64_decode(&der, &dlen, (const char *)data + 1, size - 1, &why) != 0)
			break;
		/* what decodes must encode and decode back to itself */
		b64 = est_base64_encode(der, dlen, &n);
		if (n == 0 || b64[n - 1] != '\n' || strlen(b64) != n)
			fail("encoding without a final newline");
		for (s = b64; (s = strchr(s, '\n')) != NULL; s++)
			if (s[1] != '\0' && (s - b64 + 1) % 65 != 0)
				fail("line not 64 characters");
		if (est_base64_decode(&back, &blen, b64, n, &why) != 0 || blen != dlen ||
		    memcmp(back, der, dlen) != 0)
			fail("base64 round trip differs");
		free(back);
		free(b64);
		free(der);
		break;
	}
	case 1: {
		struct est_ctype ct;

		if (est_ctype_parse(&ct, (const char *)data + 1, size - 1, &why) == 0 &&
		    (strlen(ct.type) >= sizeof(ct.type) || strchr(ct.type, '/') == NULL ||
		        strlen(ct.boundary) > 70))
			fail("bad Content-Type accepted");
		break;
	}
	case 2:
		fuzz_multipart(data + 1, size - 1);
		break;
	case 3: {
		STACK_OF(X509) *sk = NULL;

		if (est_body_der(&der, &dlen, data + 1, size - 1, &why) == 0) {
			if (est_pkcs7_certs(&sk, der, dlen, &why) == 0 && sk_X509_num(sk) < 1)
				fail("empty certificate stack accepted");
			sk_X509_pop_free(sk, X509_free);
			free(der);
		}
		break;
	}
	case 4: {
		struct est_csrattrs ca;

		est_csrattrs_parse(&ca, data + 1, size - 1, &why);
		break;
	}
	case 5: {
		char *s = malloc(size);
		char out[256];
		long v;
		size_t i;

		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		v = est_retry_after(s, 1767225600);
		if (v < EST_RETRY_MIN || v > EST_RETRY_MAX)
			fail("Retry-After out of bounds");
		est_sanitise(out, sizeof(out), data + 1, size - 1);
		for (i = 0; out[i] != '\0'; i++)
			if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
				fail("unprintable byte in sanitised text");
		if (i >= sizeof(out))
			fail("sanitised text too long");
		free(s);
		break;
	}
	}
	ERR_clear_error();
	return 0;
}
