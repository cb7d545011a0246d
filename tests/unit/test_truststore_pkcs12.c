/*
 * tests/unit/test_truststore_pkcs12.c - PKCS#12 trust stores: certificates
 * with and without a password, a key bag reported and never handed out.
 */
#include "helpers.h"

#include <openssl/pkcs12.h>

#define STORE "/store/trust.p12"

static struct {
	EVP_PKEY *key;
	X509 *a, *b;
	unsigned char sha_a[32], sha_b[32];
} g;

static int
group_setup(void **state)
{
	(void)state;
	g.key = make_key(KEY_P256);
	g.a = make_ca(g.key, "P12 Root A");
	g.b = make_ca(g.key, "P12 Root B");
	cert_sha256(g.a, g.sha_a);
	cert_sha256(g.b, g.sha_b);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_free(g.a);
	X509_free(g.b);
	EVP_PKEY_free(g.key);
	return 0;
}

/*
 * Write a PKCS#12 file of the two roots (and the key with root A, when
 * 'with_key'). 'cert_nid' -1 leaves the certificates unencrypted;
 * 'mac_iter' -1 writes no MAC.
 */
static void
write_p12(struct root *r, const char *pass, bool with_key, int cert_nid, int mac_iter)
{
	STACK_OF(X509) *ca = sk_X509_new_null();
	unsigned char *der = NULL;
	PKCS12 *p12;
	int len;

	assert_non_null(ca);
	assert_true(sk_X509_push(ca, g.b) > 0);
	if (!with_key)
		assert_true(sk_X509_insert(ca, g.a, 0) > 0);
	p12 = PKCS12_create(pass, "trust", with_key ? g.key : NULL, with_key ? g.a : NULL, ca, 0,
	    cert_nid, 0, mac_iter, 0);
	assert_non_null(p12);
	assert_true((len = i2d_PKCS12(p12, &der)) > 0);
	write_file(r->dir, STORE + 1, der, (size_t)len);
	OPENSSL_free(der);
	PKCS12_free(p12);
	sk_X509_free(ca);
}

/* Open and scan STORE with 'pass'; returns the code of open or scan. */
static int
scan_p12(struct root *r, const char *pass, struct scanned *s)
{
	struct truststore_checks ck = { .warn_days = 30, .now = TEST_NOW };
	struct truststore *ts = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	tf_error_clear(&r->ctx);
	if ((rc = truststore_open(&ts, &r->ctx, STORE, pass)) != 0)
		return rc;
	s->format = truststore_format(ts);
	s->rc = truststore_scan(ts, &ck, &s->findings, &s->stats, scanned_add, s);
	truststore_free(ts);
	return s->rc;
}

static void
assert_two_roots(const struct scanned *s)
{
	assert_int_equal(s->format, TS_PKCS12);
	assert_int_equal(s->n, 2);
	assert_memory_equal(s->certs[0].sha256, g.sha_a, 32);
	assert_memory_equal(s->certs[1].sha256, g.sha_b, 32);
	assert_string_equal(s->certs[0].file, STORE "#0");
	assert_string_equal(s->certs[1].file, STORE "#1");
	assert_int_equal(s->certs[0].line, 0);
}

static void
test_empty_password(void **state)
{
	struct root *r = *state;
	struct scanned s;

	write_p12(r, "", false, 0, 0);
	assert_int_equal(scan_p12(r, NULL, &s), 0);
	assert_two_roots(&s);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	assert_int_equal(scan_p12(r, "", &s), 0);
	assert_two_roots(&s);
	scanned_release(&s);
}

static void
test_password(void **state)
{
	struct root *r = *state;
	struct scanned s;

	write_p12(r, "changeit", false, 0, 0);
	assert_int_equal(scan_p12(r, "changeit", &s), 0);
	assert_two_roots(&s);
	assert_no_findings(&s.findings);
	scanned_release(&s);

	assert_int_equal(scan_p12(r, "wrong", &s), TF_EUSAGE);
	assert_non_null(strstr(r->ctx.errmsg, "wrong password"));
	assert_int_equal(s.n, 0);
	scanned_release(&s);
	assert_int_equal(scan_p12(r, NULL, &s), TF_EUSAGE);
	scanned_release(&s);
}

static void
test_unencrypted_without_mac(void **state)
{
	struct root *r = *state;
	struct scanned s;

	write_p12(r, NULL, false, -1, -1);
	assert_int_equal(scan_p12(r, NULL, &s), 0);
	assert_two_roots(&s);
	assert_no_findings(&s.findings);
	scanned_release(&s);
}

/* A store written with no password at all (not the empty one) opens without one. */
static void
test_null_password(void **state)
{
	struct root *r = *state;
	struct scanned s;

	write_p12(r, NULL, false, 0, 0);
	if (scan_p12(r, NULL, &s) != 0)
		fail_msg("%s", r->ctx.errmsg);
	assert_two_roots(&s);
	scanned_release(&s);
}

static void
test_key_bag_reported(void **state)
{
	struct root *r = *state;
	const struct tf_finding *f;
	struct scanned s;
	size_t i;

	write_p12(r, "", true, 0, 0);
	assert_int_equal(scan_p12(r, NULL, &s), 0);
	assert_int_equal(s.n, 2);
	assert_only_findings(&s.findings, TF_F_PRIVATE_KEY, 1);
	f = find_kind(&s.findings, TF_F_PRIVATE_KEY);
	assert_string_equal(f->store, STORE);
	assert_non_null(strstr(f->where, STORE "#"));
	assert_false(f->has_sha256);
	/* both certificates, and nothing of the key, are handed out */
	for (i = 0; i < s.n; i++)
		assert_true(memcmp(s.certs[i].sha256, g.sha_a, 32) == 0 ||
		    memcmp(s.certs[i].sha256, g.sha_b, 32) == 0);
	scanned_release(&s);
}

static void
test_corrupt_file(void **state)
{
	struct root *r = *state;
	struct truststore *ts = NULL;
	struct truststore_checks ck = { .warn_days = 30, .now = TEST_NOW };
	struct tf_findings f = { 0 };
	unsigned char *der = NULL;
	PKCS12 *p12;
	STACK_OF(X509) *ca = sk_X509_new_null();
	int len;

	assert_true(sk_X509_push(ca, g.a) > 0);
	assert_non_null(p12 = PKCS12_create("", NULL, NULL, NULL, ca, 0, 0, 0, 0, 0));
	assert_true((len = i2d_PKCS12(p12, &der)) > 0);
	/* cut in the middle */
	write_file(r->dir, STORE + 1, der, (size_t)len / 2);
	/* found when the store is opened, before any output */
	assert_int_equal(truststore_open(&ts, &r->ctx, STORE, NULL), TF_EIO);
	assert_null(ts);
	(void)ck;
	assert_non_null(strstr(r->ctx.errmsg, "not a valid PKCS#12 file"));
	assert_non_null(strstr(r->ctx.errmsg, STORE));
	tf_findings_release(&f);
	truststore_free(ts);
	OPENSSL_free(der);
	PKCS12_free(p12);
	sk_X509_free(ca);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_password, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_password, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_unencrypted_without_mac, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_null_password, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_key_bag_reported, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file, root_setup, root_teardown),
	};

	return cmocka_run_group_tests_name("truststore/pkcs12", tests, group_setup, group_teardown);
}
