/*
 * tests/unit/test_renew_est.c - the EST client's parsers and checks: base64
 * variants, Content-Type, multipart, PKCS#7 certs-only, CsrAttrs,
 * Retry-After, keys, CSRs and the verification of an issued certificate,
 * with certificates made in-process.
 */
#include "helpers.h"

#include <openssl/pkcs7.h>

#include "renew/est_parse.h"
#include "renew/renew.h"

/* ---- helpers ---- */

/* A PKCS#7 certs-only message of the given certificates, DER. */
static unsigned char *
p7_der(size_t *len, X509 *a, X509 *b)
{
	PKCS7 *p7 = PKCS7_new();
	unsigned char *der = NULL;
	int n;

	assert_non_null(p7);
	assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
	assert_int_equal(PKCS7_content_new(p7, NID_pkcs7_data), 1);
	if (a != NULL)
		assert_int_equal(PKCS7_add_certificate(p7, a), 1);
	if (b != NULL)
		assert_int_equal(PKCS7_add_certificate(p7, b), 1);
	n = i2d_PKCS7(p7, &der);
	assert_true(n > 0);
	PKCS7_free(p7);
	*len = (size_t)n;
	return der;
}

/* What issue() puts in a certificate. */
struct issue {
	EVP_PKEY *key;
	X509 *ca;
	EVP_PKEY *ca_key;
	const char *cn;
	const char *san; /* "DNS:a,IP:1.2.3.4" or NULL */
	const char *eku; /* "clientAuth" or NULL */
	bool is_ca;
	time_t nb, na; /* 0: TEST_NOW - 1 day .. + 90 days */
};

static X509 *
issue(const struct issue *s)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	ASN1_TIME_set(X509_getm_notBefore(x), s->nb ? s->nb : TEST_NOW - DAY);
	ASN1_TIME_set(X509_getm_notAfter(x), s->na ? s->na : TEST_NOW + 90 * DAY);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)s->cn, -1, -1,
	    0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, X509_get_subject_name(s->ca));
	X509_set_pubkey(x, s->key);
	X509V3_set_ctx(&v3, s->ca, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    s->is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (s->is_ca) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (s->san != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, s->san);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (s->eku != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, s->eku);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, s->ca_key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

static STACK_OF(X509) *
stack_of(X509 *a, X509 *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	if (a != NULL) {
		X509_up_ref(a);
		sk_X509_push(sk, a);
	}
	if (b != NULL) {
		X509_up_ref(b);
		sk_X509_push(sk, b);
	}
	return sk;
}

/* ---- base64 ---- */

static void
check_b64(const char *text, size_t len, const char *want)
{
	unsigned char *out = NULL;
	size_t n = 0;
	const char *why = NULL;

	assert_int_equal(est_base64_decode(&out, &n, text, len, &why), 0);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	free(out);
}

static void
check_b64_bad(const char *text, size_t len)
{
	unsigned char *out = NULL;
	size_t n = 0;
	const char *why = NULL;

	assert_int_equal(est_base64_decode(&out, &n, text, len, &why), -1);
	assert_null(out);
	assert_non_null(why);
}

static void
test_base64_variants(void **state)
{
	static const char nul[] = "aGVsbG8gd29ybGQ=\0\0";

	(void)state;
	check_b64("aGVsbG8gd29ybGQ=", 16, "hello world");
	check_b64("aGVsbG8g\nd29ybGQ=\n", 18, "hello world");
	check_b64("aGVsbG8g\r\nd29ybGQ=\r\n", 20, "hello world");
	check_b64("aGVsbG8gd29ybGQ", 15, "hello world"); /* padding left out */
	check_b64(" aGVs bG8g\td29ybGQ= ", 20, "hello world");
	check_b64(nul, sizeof(nul) - 1, "hello world"); /* trailing NULs */
	check_b64_bad("aGVsbG8*d29ybGQ=", 16);
	check_b64_bad("aGVs\0bG8gd29ybGQ=", 17);   /* a NUL inside */
	check_b64_bad("aGVsbG8gd29ybGQ=QQ==", 20); /* data after padding */
	check_b64_bad("a", 1);
	check_b64_bad("", 0);
	check_b64_bad("\r\n", 2);
	check_b64_bad("-----BEGIN PKCS7-----", 21);
}

static void
test_base64_encode_lines(void **state)
{
	unsigned char data[100], *back = NULL;
	size_t i, n = 0, blen = 0;
	const char *why = NULL;
	char *b64;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7);
	b64 = est_base64_encode(data, sizeof(data), &n);
	/* 100 bytes: 136 characters, lines of 64, a final newline */
	assert_int_equal(n, 136 + 3);
	assert_int_equal(b64[64], '\n');
	assert_int_equal(b64[129], '\n');
	assert_int_equal(b64[n - 1], '\n');
	assert_null(strchr(b64, '\r'));
	assert_int_equal(est_base64_decode(&back, &blen, b64, n, &why), 0);
	assert_int_equal(blen, sizeof(data));
	assert_memory_equal(back, data, blen);
	free(back);
	free(b64);
	/* exactly one line: still ends with a newline, and not two */
	b64 = est_base64_encode(data, 48, &n);
	assert_int_equal(n, 65);
	assert_int_equal(b64[64], '\n');
	free(b64);
}

/* ---- Content-Type ---- */

static void
test_ctype_parameters_any_order(void **state)
{
	static const char *const forms[] = {
		"application/pkcs7-mime; smime-type=certs-only",
		"Application/PKCS7-MIME;smime-type=\"certs-only\"",
		"application/pkcs7-mime; name=cert.p7c; smime-type=CERTS-ONLY",
		"application/pkcs7-mime;name=\"a;b\";smime-type=certs-only;",
		"  application/pkcs7-mime ; charset=us-ascii ; smime-type=certs-only  ",
	};
	struct est_ctype ct;
	const char *why = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		assert_int_equal(est_ctype_parse(&ct, forms[i], strlen(forms[i]), &why), 0);
		assert_string_equal(ct.type, "application/pkcs7-mime");
		assert_string_equal(ct.smime, "certs-only");
	}
	assert_int_equal(est_ctype_parse(&ct, "multipart/mixed; boundary=\"est b\"", 33, &why), 0);
	assert_string_equal(ct.type, "multipart/mixed");
	assert_string_equal(ct.boundary, "est b");
	assert_int_equal(est_ctype_parse(&ct, "application/pkcs10", 18, &why), 0);
	assert_string_equal(ct.smime, "");
	assert_int_equal(est_ctype_parse(&ct, "", 0, &why), -1);
	assert_int_equal(est_ctype_parse(&ct, "pkcs7", 5, &why), -1);
	assert_int_equal(est_ctype_parse(&ct, "a/b; x", 6, &why), -1);
	assert_int_equal(est_ctype_parse(&ct, "a/b; x=\"open", 12, &why), -1);
}

/* ---- multipart ---- */

static char *
crlf(const char *lf)
{
	size_t i, n = 0;
	char *out = malloc(strlen(lf) * 2 + 1);

	assert_non_null(out);
	for (i = 0; lf[i] != '\0'; i++) {
		if (lf[i] == '\n')
			out[n++] = '\r';
		out[n++] = lf[i];
	}
	out[n] = '\0';
	return out;
}

static void
test_multipart_lf_and_crlf(void **state)
{
	static const char body[] = "preamble\n"
	                           "--estb\n"
	                           "Content-Type: application/pkcs8\n"
	                           "Content-Transfer-Encoding: base64\n"
	                           "\n"
	                           "S0VZ\n"
	                           "--estb\n"
	                           "content-type: application/pkcs7-mime; smime-type=certs-only\n"
	                           "\n"
	                           "Q0VS\nVA==\n"
	                           "--estb--\n"
	                           "epilogue\n";
	struct est_part parts[EST_PARTS_MAX];
	const char *why = NULL;
	size_t n = 0;
	char *c = crlf(body);
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		const char *b = round == 0 ? body : c;

		assert_int_equal(est_multipart_parse(parts, &n, (const unsigned char *)b, strlen(b),
		                     "estb", &why),
		    0);
		assert_int_equal(n, 2);
		assert_string_equal(parts[0].ctype.type, "application/pkcs8");
		assert_true(parts[0].has_cte);
		assert_string_equal(parts[0].cte, "base64");
		assert_int_equal(parts[0].len, 4);
		assert_memory_equal(parts[0].body, "S0VZ", 4);
		assert_string_equal(parts[1].ctype.type, "application/pkcs7-mime");
		assert_string_equal(parts[1].ctype.smime, "certs-only");
		assert_false(parts[1].has_cte);
		assert_int_equal(parts[1].len, round == 0 ? 9 : 10);
	}
	/* not closed, no parts, a part without a body, a bad boundary */
	assert_int_equal(
	    est_multipart_parse(parts, &n, (const unsigned char *)body, 60, "estb", &why), -1);
	assert_int_equal(
	    est_multipart_parse(parts, &n, (const unsigned char *)"--estb--\n", 9, "estb", &why),
	    -1);
	assert_int_equal(est_multipart_parse(parts, &n,
	                     (const unsigned char *)"--estb\nContent-Type: a/b\n", 25, "estb",
	                     &why),
	    -1);
	assert_int_equal(
	    est_multipart_parse(parts, &n, (const unsigned char *)body, strlen(body), "", &why),
	    -1);
	free(c);
}

/* ---- PKCS#7 ---- */

static void
test_pkcs7_certs_only(void **state)
{
	EVP_PKEY *k1 = make_key(KEY_P256), *k2 = make_key(KEY_P256);
	X509 *a = make_ca(k1, "A"), *b = make_ca(k2, "B");
	STACK_OF(X509) *sk = NULL;
	unsigned char *der, *longer, *decoded = NULL;
	const char *why = NULL;
	size_t len, dlen = 0, b64len;
	char *b64, *c;

	(void)state;
	der = p7_der(&len, a, b);
	assert_int_equal(est_pkcs7_certs(&sk, der, len, &why), 0);
	assert_int_equal(sk_X509_num(sk), 2);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), a), 0);
	sk_X509_pop_free(sk, X509_free);

	/* through base64: with lines, CRLF, without lines, trailing NUL */
	b64 = est_base64_encode(der, len, &b64len);
	c = crlf(b64);
	assert_int_equal(est_body_der(&decoded, &dlen, (unsigned char *)c, strlen(c), &why), 0);
	assert_int_equal(dlen, len);
	assert_memory_equal(decoded, der, len);
	free(decoded);
	{
		char *flat = malloc(b64len + 2);
		size_t i, n = 0;

		for (i = 0; i < b64len; i++)
			if (b64[i] != '\n')
				flat[n++] = b64[i];
		flat[n++] = '\0';
		assert_int_equal(est_body_der(&decoded, &dlen, (unsigned char *)flat, n, &why), 0);
		assert_int_equal(dlen, len);
		free(decoded);
		free(flat);
	}
	/* raw DER from a server that ignores RFC 8951 */
	assert_int_equal(est_body_der(&decoded, &dlen, der, len, &why), 0);
	assert_int_equal(dlen, len);
	free(decoded);

	/* trailing bytes, truncation, garbage, no certificate */
	longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(est_pkcs7_certs(&sk, longer, len + 1, &why), -1);
	assert_int_equal(est_pkcs7_certs(&sk, der, len - 1, &why), -1);
	assert_int_equal(
	    est_pkcs7_certs(&sk, (const unsigned char *)"\x30\x03\x02\x01\x01", 5, &why), -1);
	assert_null(sk);
	free(longer);
	OPENSSL_free(der);
	der = p7_der(&len, NULL, NULL);
	assert_int_equal(est_pkcs7_certs(&sk, der, len, &why), -1);
	assert_string_equal(why, "PKCS#7 message holds no certificate");
	OPENSSL_free(der);
	free(b64);
	free(c);
	X509_free(a);
	X509_free(b);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

/* ---- CsrAttrs ---- */

static void
test_csrattrs(void **state)
{
	/* challengePassword, ecdsa-with-SHA384, { id-ecPublicKey: secp384r1 } */
	static const unsigned char der[] = { 0x30, 0x29, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
		0x0d, 0x01, 0x09, 0x07, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
		0x30, 0x12, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x31, 0x07, 0x06,
		0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const unsigned char empty[] = { 0x30, 0x00 };
	struct est_csrattrs ca;
	const char *why = NULL;

	(void)state;
	assert_int_equal(est_csrattrs_parse(&ca, der, sizeof(der), &why), 0);
	assert_true(ca.wants_pop);
	assert_int_equal(ca.md_nid, NID_sha384);
	assert_int_equal(ca.curve_nid, NID_secp384r1);
	assert_int_equal(est_csrattrs_parse(&ca, empty, sizeof(empty), &why), 0);
	assert_false(ca.wants_pop);
	assert_int_equal(ca.md_nid, NID_undef);
	assert_int_equal(est_csrattrs_parse(&ca, der, sizeof(der) - 1, &why), -1);
	assert_int_equal(est_csrattrs_parse(&ca, der + 2, sizeof(der) - 2, &why), -1);
}

/* ---- Retry-After ---- */

static void
test_retry_after(void **state)
{
	(void)state;
	assert_int_equal(est_retry_after("120", TEST_NOW), 120);
	assert_int_equal(est_retry_after(" 5 ", TEST_NOW), 5);
	assert_int_equal(est_retry_after("0", TEST_NOW), EST_RETRY_MIN);
	assert_int_equal(est_retry_after("-30", TEST_NOW), EST_RETRY_MIN);
	assert_int_equal(est_retry_after("99999999999999999999999", TEST_NOW), EST_RETRY_MAX);
	assert_int_equal(est_retry_after("86400", TEST_NOW), EST_RETRY_MAX);
	/* 2026-01-01T00:02:00Z, two minutes after the pinned clock */
	assert_int_equal(est_retry_after("Thu, 01 Jan 2026 00:02:00 GMT", TEST_NOW), 120);
	assert_int_equal(est_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", TEST_NOW), EST_RETRY_MIN);
	assert_int_equal(est_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", TEST_NOW), EST_RETRY_MAX);
	/* missing and garbage: the default, inside the bounds */
	assert_int_equal(est_retry_after(NULL, TEST_NOW), 60);
	assert_int_equal(est_retry_after("", TEST_NOW), 60);
	assert_int_equal(est_retry_after("soon", TEST_NOW), 60);
	assert_int_equal(est_retry_after("12abc", TEST_NOW), 60);
	assert_int_equal(est_retry_after("-", TEST_NOW), 60);
}

/* ---- sanitising server bytes ---- */

static void
test_sanitise(void **state)
{
	char out[64], big[400];
	unsigned char many[300];

	(void)state;
	est_sanitise(out, sizeof(out), (const unsigned char *)"bad\x1b[31mred\n\\", 13);
	assert_string_equal(out, "bad\\x1b[31mred\\x0a\\x5c");
	memset(many, 'a', sizeof(many));
	est_sanitise(out, sizeof(out), many, sizeof(many));
	assert_true(strlen(out) < sizeof(out));
	assert_non_null(strstr(out, "..."));
	est_sanitise(big, sizeof(big), many, sizeof(many));
	assert_int_equal(strlen(big), 203); /* 200 kept, then "..." */
	est_sanitise(out, sizeof(out), (const unsigned char *)"\xff\xfe", 2);
	assert_string_equal(out, "\\xff\\xfe");
}

/* ---- keys and CSRs ---- */

static void
test_key_types(void **state)
{
	struct tf_ctx ctx;
	enum est_key_type t;
	EVP_PKEY *k = NULL, *back = NULL;
	char *pem = NULL;
	size_t len = 0;

	(void)state;
	tf_ctx_init(&ctx);
	assert_int_equal(est_key_type_parse(&t, &ctx, "rsa3072"), 0);
	assert_int_equal(t, EST_KEY_RSA3072);
	assert_int_equal(est_key_type_parse(&t, &ctx, "ec-p384"), 0);
	assert_int_equal(t, EST_KEY_P384);
	assert_int_equal(est_key_type_parse(&t, &ctx, "dsa"), TF_ECONFIG);
	assert_non_null(strstr(ctx.errmsg, "'dsa'"));

	assert_int_equal(est_key_new(&k, &ctx, EST_KEY_P384), 0);
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(k), 384);
	assert_int_equal(est_key_pem(&pem, &len, &ctx, k), 0);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(est_key_from_pem(&back, &ctx, pem, len), 0);
	assert_int_equal(EVP_PKEY_eq(k, back), 1);
	est_secret_free(pem, len);
	EVP_PKEY_free(k);
	EVP_PKEY_free(back);
	assert_int_equal(est_key_new(&k, &ctx, EST_KEY_P256), 0);
	assert_int_equal(EVP_PKEY_get_bits(k), 256);
	EVP_PKEY_free(k);
}

static void
test_key_write_exclusive(void **state)
{
	struct root *r = *state;
	int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	char *path = tf_path_join(r->dir, "new.key");

	assert_true(dfd >= 0);
	assert_int_equal(est_key_write(&r->ctx, dfd, "new.key", "KEY\n", 4), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 4);
	/* never replaces a file, never follows a link */
	assert_int_equal(est_key_write(&r->ctx, dfd, "new.key", "KEY2\n", 5), TF_EIO);
	make_symlink(r->dir, "link.key", "/tmp/trustfix-never-written");
	tf_error_clear(&r->ctx);
	assert_int_equal(est_key_write(&r->ctx, dfd, "link.key", "KEY\n", 4), TF_EIO);
	assert_int_equal(access("/tmp/trustfix-never-written", F_OK), -1);
	close(dfd);
	free(path);
}

static void
test_csr_contents(void **state)
{
	static const char *const sans_in[] = { "DNS:device.example.net", "IP:192.0.2.7" };
	struct tf_ctx ctx;
	EVP_PKEY *k = make_key(KEY_P256);
	X509_NAME *subject = NULL;
	GENERAL_NAMES *sans = NULL, *got = NULL;
	STACK_OF(X509_EXTENSION) *exts;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509_REQ *req;
	int i;

	(void)state;
	tf_ctx_init(&ctx);
	assert_int_equal(est_subject_parse(&subject, &ctx, "/CN=device-1234/O=Example"), 0);
	assert_int_equal(X509_NAME_entry_count(subject), 2);
	assert_int_equal(est_sans_parse(&sans, &ctx, sans_in, 2), 0);
	assert_int_equal(est_csr_build(&der, &len, &ctx, k, subject, sans, NID_undef, NULL), 0);
	p = der;
	assert_non_null(req = d2i_X509_REQ(NULL, &p, (long)len));
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), k), 1);
	assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(req), subject), 0);
	exts = X509_REQ_get_extensions(req);
	got = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	assert_non_null(got);
	assert_int_equal(sk_GENERAL_NAME_num(got), 2);
	for (i = 0; i < 2; i++)
		assert_int_equal(
		    GENERAL_NAME_cmp(sk_GENERAL_NAME_value(got, i), sk_GENERAL_NAME_value(sans, i)),
		    0);
	/* no challengePassword unless proof of possession is asked for */
	assert_int_equal(X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1), -1);
	assert_int_equal(X509_REQ_get_signature_nid(req), NID_ecdsa_with_SHA256);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(got);
	X509_REQ_free(req);
	free(der);

	/* with one, and the hash /csrattrs asked for */
	assert_int_equal(est_csr_build(&der, &len, &ctx, k, subject, NULL, NID_sha384, "YmluZA=="),
	    0);
	p = der;
	assert_non_null(req = d2i_X509_REQ(NULL, &p, (long)len));
	assert_true(X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1) >= 0);
	assert_int_equal(X509_REQ_get_signature_nid(req), NID_ecdsa_with_SHA384);
	X509_REQ_free(req);
	free(der);

	/* "CN=a, O=b" form; malformed input */
	X509_NAME_free(subject);
	assert_int_equal(est_subject_parse(&subject, &ctx, "CN=a, O=b"), 0);
	assert_int_equal(X509_NAME_entry_count(subject), 2);
	X509_NAME_free(subject);
	assert_int_equal(est_subject_parse(&subject, &ctx, "/CN"), TF_EINVALID);
	{
		static const char *const bad[] = { "mail:x" };
		GENERAL_NAMES *g = NULL;

		assert_int_equal(est_sans_parse(&g, &ctx, bad, 1), TF_EINVALID);
		assert_null(g);
	}
	GENERAL_NAMES_free(sans);
	EVP_PKEY_free(k);
}

/* ---- the issued certificate ---- */

struct pki {
	EVP_PKEY *ca_key, *other_key, *key, *wrong_key;
	X509 *ca, *other;
	STACK_OF(X509) *anchors;
	X509_NAME *subject;
	GENERAL_NAMES *sans;
};

static int
pki_setup(void **state)
{
	static const char *const sans[] = { "DNS:device.example.net" };
	struct pki *k = calloc(1, sizeof(*k));
	struct tf_ctx ctx;

	tf_ctx_init(&ctx);
	k->ca_key = make_key(KEY_P256);
	k->other_key = make_key(KEY_P256);
	k->key = make_key(KEY_P256);
	k->wrong_key = make_key(KEY_P256);
	k->ca = make_ca(k->ca_key, "EST CA");
	k->other = make_ca(k->other_key, "EST CA"); /* same name, another key */
	k->anchors = stack_of(k->ca, NULL);
	est_subject_parse(&k->subject, &ctx, "/CN=device");
	est_sans_parse(&k->sans, &ctx, sans, 1);
	*state = k;
	return 0;
}

static int
pki_teardown(void **state)
{
	struct pki *k = *state;

	EVP_PKEY_free(k->ca_key);
	EVP_PKEY_free(k->other_key);
	EVP_PKEY_free(k->key);
	EVP_PKEY_free(k->wrong_key);
	X509_free(k->ca);
	X509_free(k->other);
	sk_X509_pop_free(k->anchors, X509_free);
	X509_NAME_free(k->subject);
	GENERAL_NAMES_free(k->sans);
	free(k);
	return 0;
}

/*
 * Check 'x' (with 'extra' in the answer) as issued; returns the code and
 * message. Takes both references.
 */
static int
check_issued(struct pki *k, X509 *x, X509 *extra, bool client_auth, char *msg, size_t size)
{
	struct tf_ctx ctx;
	STACK_OF(X509) *certs = stack_of(x, extra);
	struct est_expect want = { .key = k->key,
		.subject = k->subject,
		.sans = k->sans,
		.client_auth = client_auth,
		.anchors = k->anchors };
	X509 *leaf = NULL;
	int rc;

	tf_ctx_init(&ctx);
	ctx.now = TEST_NOW;
	rc = est_issued_check(&leaf, &ctx, certs, &want);
	if (rc == 0)
		assert_ptr_equal(leaf, x);
	else
		assert_null(leaf);
	snprintf(msg, size, "%s", ctx.errmsg);
	X509_free(leaf);
	sk_X509_pop_free(certs, X509_free);
	X509_free(x);
	X509_free(extra);
	return rc;
}

static void
test_issued_good(void **state)
{
	struct pki *k = *state;
	struct issue s = { .key = k->key,
		.ca = k->ca,
		.ca_key = k->ca_key,
		.cn = "device",
		.san = "DNS:device.example.net",
		.eku = "clientAuth" };
	char msg[1024];

	assert_int_equal(check_issued(k, issue(&s), NULL, true, msg, sizeof(msg)), 0);
	/* the CA certificate sent along is fine: one end entity */
	X509_up_ref(k->ca);
	assert_int_equal(check_issued(k, issue(&s), k->ca, true, msg, sizeof(msg)), 0);
	/* no clientAuth asked for: no EKU is fine */
	s.eku = NULL;
	assert_int_equal(check_issued(k, issue(&s), NULL, false, msg, sizeof(msg)), 0);
}

static void
test_issued_refused(void **state)
{
	struct pki *k = *state;
	struct issue s = { .key = k->key,
		.ca = k->ca,
		.ca_key = k->ca_key,
		.cn = "device",
		.san = "DNS:device.example.net",
		.eku = "clientAuth" };
	struct issue t;
	char msg[1024];

	t = s;
	t.key = k->wrong_key;
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	assert_non_null(strstr(msg, "another key"));

	t = s;
	t.ca = k->other;
	t.ca_key = k->other_key;
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	assert_non_null(strstr(msg, "does not chain"));

	t = s;
	t.nb = TEST_NOW - 100 * DAY;
	t.na = TEST_NOW - DAY;
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	assert_non_null(strstr(msg, "expired"));

	t = s;
	t.nb = TEST_NOW + DAY;
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	assert_non_null(strstr(msg, "not valid yet"));

	t = s;
	t.eku = "serverAuth";
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	assert_non_null(strstr(msg, "clientAuth"));
	t.eku = NULL;
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	assert_non_null(strstr(msg, "clientAuth"));

	t = s;
	t.cn = "someone else";
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	assert_non_null(strstr(msg, "subject"));

	t = s;
	t.san = "DNS:other.example.net";
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	assert_non_null(strstr(msg, "alternative names"));
	t.san = NULL;
	assert_int_equal(check_issued(k, issue(&t), NULL, true, msg, sizeof(msg)), TF_EREFUSED);

	/* two end-entity certificates */
	assert_int_equal(check_issued(k, issue(&s), issue(&s), true, msg, sizeof(msg)),
	    TF_EREFUSED);
	assert_non_null(strstr(msg, "more than one"));
}

static void
test_issued_through_intermediate(void **state)
{
	struct pki *k = *state;
	EVP_PKEY *ik = make_key(KEY_P256);
	struct issue is = { .key = ik,
		.ca = k->ca,
		.ca_key = k->ca_key,
		.cn = "EST sub CA",
		.is_ca = true,
		.na = TEST_NOW + 300 * DAY };
	X509 *inter = issue(&is);
	struct issue s = { .key = k->key,
		.ca = inter,
		.ca_key = ik,
		.cn = "device",
		.san = "DNS:device.example.net",
		.eku = "clientAuth" };
	char msg[1024];

	X509_up_ref(inter);
	assert_int_equal(check_issued(k, issue(&s), inter, true, msg, sizeof(msg)), 0);
	/* without the intermediate it cannot chain */
	assert_int_equal(check_issued(k, issue(&s), NULL, true, msg, sizeof(msg)), TF_EREFUSED);
	X509_free(inter);
	EVP_PKEY_free(ik);
}

/* ---- configuration and transport errors, without a server ---- */

static void
test_config_errors(void **state)
{
	struct tf_ctx ctx;
	struct est_config cfg = { .server = "http://127.0.0.1:1", .ca_file = "/nonexistent" };
	STACK_OF(X509) *sk = NULL;

	(void)state;
	tf_ctx_init(&ctx);
	assert_int_equal(est_cacerts(&sk, &ctx, &cfg), TF_ECONFIG);
	assert_non_null(strstr(ctx.errmsg, "https://"));
	tf_error_clear(&ctx);
	cfg.server = "https://127.0.0.1:1";
	cfg.ca_file = NULL;
	assert_int_equal(est_cacerts(&sk, &ctx, &cfg), TF_ECONFIG);
	assert_non_null(strstr(ctx.errmsg, "trust anchor"));
	tf_error_clear(&ctx);
	cfg.ca_file = "/nonexistent";
	cfg.label = "../x";
	assert_int_equal(est_cacerts(&sk, &ctx, &cfg), TF_ECONFIG);
	tf_error_clear(&ctx);
	cfg.label = NULL;
	cfg.connect_timeout = 2;
	/* nothing listens on port 1: a network error, exit 5 */
	assert_int_equal(est_cacerts(&sk, &ctx, &cfg), TF_ENET);
	assert_non_null(strstr(ctx.errmsg, "https://127.0.0.1:1/.well-known/est/cacerts"));
	assert_null(sk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_variants),
		cmocka_unit_test(test_base64_encode_lines),
		cmocka_unit_test(test_ctype_parameters_any_order),
		cmocka_unit_test(test_multipart_lf_and_crlf),
		cmocka_unit_test(test_pkcs7_certs_only),
		cmocka_unit_test(test_csrattrs),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_sanitise),
		cmocka_unit_test(test_key_types),
		cmocka_unit_test_setup_teardown(test_key_write_exclusive, root_setup,
		    root_teardown),
		cmocka_unit_test(test_csr_contents),
		cmocka_unit_test_setup_teardown(test_issued_good, pki_setup, pki_teardown),
		cmocka_unit_test_setup_teardown(test_issued_refused, pki_setup, pki_teardown),
		cmocka_unit_test_setup_teardown(test_issued_through_intermediate, pki_setup,
		    pki_teardown),
		cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
