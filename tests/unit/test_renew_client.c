/*
 * tests/unit/test_renew_client.c - the device's client certificate: key
 * match, chain against the offered store certificates, expiry and renewal,
 * all judged at the context's pinned clock.
 */
#include "helpers.h"

#include "renew/renew.h"

#define CERT "/etc/device/client.pem"
#define KEY "/etc/device/client.key"
#define CHAIN "/etc/device/chain.pem"

static struct {
	EVP_PKEY *root, *inter, *leaf, *other;
	char *leaf_pem, *other_pem;
} k;

static int
group_setup(void **state)
{
	(void)state;
	k.root = make_key(KEY_P256);
	k.inter = make_key(KEY_P384);
	k.leaf = make_key(KEY_P256);
	k.other = make_key(KEY_P256);
	k.leaf_pem = key_pem(k.leaf);
	k.other_pem = key_pem(k.other);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(k.root);
	EVP_PKEY_free(k.inter);
	EVP_PKEY_free(k.leaf);
	EVP_PKEY_free(k.other);
	free(k.leaf_pem);
	free(k.other_pem);
	return 0;
}

/* A client certificate for 'key' issued by 'issuer', valid from nb to na. */
static X509 *
make_leaf(X509 *issuer, EVP_PKEY *issuer_key, time_t nb, time_t na)
{
	struct certspec s = { .cn = "device-0042",
		.key = k.leaf,
		.bc = BC_LEAF,
		.issuer = issuer,
		.issuer_key = issuer_key,
		.serial = "2A",
		.not_before = nb,
		.not_after = na };

	return make_cert(&s);
}

/* Write the PEM of the certificates (NULL-terminated) to 'name' under the root. */
static void
write_certs(struct root *r, const char *name, X509 *first, ...)
{
	char *all = tf_strdup(""), *pem, *next;
	va_list ap;
	X509 *x;

	va_start(ap, first);
	for (x = first; x != NULL; x = va_arg(ap, X509 *)) {
		pem = cert_pem(x);
		next = concat(all, pem, NULL);
		free(all);
		free(pem);
		all = next;
	}
	va_end(ap);
	write_str(r->dir, name + 1, all);
	free(all);
}

static void
offer(struct client_check *cc, X509 *x)
{
	const unsigned char *subj;
	unsigned char *der;
	size_t subjlen, len;

	assert_int_equal(X509_NAME_get0_der(X509_get_subject_name(x), &subj, &subjlen), 1);
	der = cert_der(x, &len);
	client_check_offer(cc, subj, subjlen, der, len);
	OPENSSL_free(der);
}

/* Open, offer the anchors (NULL-terminated), finish. */
static void
check(struct root *r, const char *key, const char *chain, int before_days, double fraction,
    struct tf_findings *f, struct client_report *rep, ...)
{
	struct client_check *cc = NULL;
	va_list ap;
	X509 *x;

	memset(f, 0, sizeof(*f));
	if (client_check_open(&cc, &r->ctx, CERT, key, chain) != 0)
		fail_msg("client_check_open: %s", r->ctx.errmsg);
	va_start(ap, rep);
	while ((x = va_arg(ap, X509 *)) != NULL)
		offer(cc, x);
	va_end(ap);
	assert_int_equal(client_check_finish(cc, before_days, fraction, f, rep), 0);
	client_check_free(cc);
}

/* Every client finding carries the certificate's fingerprint and path. */
static void
assert_client_finding(const struct tf_findings *f, enum tf_finding_kind kind, X509 *leaf,
    const char *what)
{
	const struct tf_finding *x = find_kind(f, kind);
	unsigned char sha[32];

	if (x == NULL) {
		dump_findings(f);
		fail_msg("no '%s' finding", tf_finding_kind_name(kind));
	}
	cert_sha256(leaf, sha);
	assert_true(x->has_sha256);
	assert_memory_equal(x->sha256, sha, 32);
	assert_string_equal(x->store, CERT);
	assert_string_equal(x->where, CERT);
	assert_string_equal(x->subject, "O=trustfix tests, CN=device-0042");
	assert_non_null(x->action);
	if (what != NULL && strstr(x->message, what) == NULL)
		fail_msg("finding says '%s', expected '%s'", x->message, what);
}

static void
test_sound_client(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 10 * DAY, TEST_NOW + 300 * DAY);
	struct client_report rep;
	struct tf_findings f;
	unsigned char sha[32];

	write_certs(r, CERT, leaf, NULL);
	write_str(r->dir, KEY + 1, k.leaf_pem);
	check(r, KEY, NULL, 30, 0, &f, &rep, root, NULL);
	assert_no_findings(&f);
	assert_true(rep.has_key);
	assert_true(rep.key_matches);
	assert_true(rep.chain_valid);
	assert_null(rep.chain_error);
	assert_false(rep.renewal_due);
	assert_int_equal(rep.renew_at, TEST_NOW + 270 * DAY);
	assert_int_equal(rep.not_before, TEST_NOW - 10 * DAY);
	assert_int_equal(rep.not_after, TEST_NOW + 300 * DAY);
	assert_string_equal(rep.subject, "O=trustfix tests, CN=device-0042");
	assert_string_equal(rep.issuer, "O=trustfix tests, CN=Device Root");
	assert_string_equal(rep.serial, "2A");
	cert_sha256(leaf, sha);
	assert_memory_equal(rep.sha256, sha, 32);
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(leaf);
}

static void
test_key_mismatch(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 10 * DAY, TEST_NOW + 300 * DAY);
	struct client_report rep;
	struct tf_findings f;

	write_certs(r, CERT, leaf, NULL);
	write_str(r->dir, KEY + 1, k.other_pem);
	check(r, KEY, NULL, 30, 0, &f, &rep, root, NULL);
	assert_true(rep.has_key);
	assert_false(rep.key_matches);
	assert_true(rep.chain_valid);
	assert_only_findings(&f, TF_F_CLIENT_KEY_MISMATCH, 1);
	assert_client_finding(&f, TF_F_CLIENT_KEY_MISMATCH, leaf, "does not match");
	client_report_release(&rep);
	tf_findings_release(&f);

	/* no key given: nothing to compare, nothing to report */
	check(r, NULL, NULL, 30, 0, &f, &rep, root, NULL);
	assert_false(rep.has_key);
	assert_no_findings(&f);
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(leaf);
}

static void
test_chain_invalid(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 10 * DAY, TEST_NOW + 300 * DAY);
	X509 *unrelated = make_ca(k.other, "Someone Else");
	X509 *impostor = make_ca(k.other, "Device Root"); /* same name, other key */
	struct client_report rep;
	struct tf_findings f;

	write_certs(r, CERT, leaf, NULL);
	write_str(r->dir, KEY + 1, k.leaf_pem);

	/* the store does not hold its root */
	check(r, KEY, NULL, 30, 0, &f, &rep, unrelated, NULL);
	assert_false(rep.chain_valid);
	assert_non_null(rep.chain_error);
	assert_string_equal(rep.chain_error, "unable to get local issuer certificate");
	assert_only_findings(&f, TF_F_CLIENT_CHAIN_INVALID, 1);
	assert_client_finding(&f, TF_F_CLIENT_CHAIN_INVALID, leaf, rep.chain_error);
	client_report_release(&rep);
	tf_findings_release(&f);

	/* a root of the same name with another key does not validate it */
	check(r, KEY, NULL, 30, 0, &f, &rep, impostor, NULL);
	assert_false(rep.chain_valid);
	assert_only_findings(&f, TF_F_CLIENT_CHAIN_INVALID, 1);
	client_report_release(&rep);
	tf_findings_release(&f);

	/* with the right one among others, it does */
	check(r, KEY, NULL, 30, 0, &f, &rep, unrelated, impostor, root, NULL);
	assert_true(rep.chain_valid);
	assert_no_findings(&f);
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(leaf);
	X509_free(unrelated);
	X509_free(impostor);
}

static void
test_intermediates(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	struct certspec is = { .cn = "Device Issuing CA",
		.key = k.inter,
		.issuer = root,
		.issuer_key = k.root };
	X509 *inter = make_cert(&is);
	X509 *leaf = make_leaf(inter, k.inter, TEST_NOW - 10 * DAY, TEST_NOW + 300 * DAY);
	struct client_report rep;
	struct tf_findings f;

	write_str(r->dir, KEY + 1, k.leaf_pem);

	/* the intermediate after the leaf in the same file */
	write_certs(r, CERT, leaf, inter, NULL);
	check(r, KEY, NULL, 30, 0, &f, &rep, root, NULL);
	assert_true(rep.chain_valid);
	assert_true(rep.key_matches); /* the key is the first certificate's */
	assert_string_equal(rep.issuer, "O=trustfix tests, CN=Device Issuing CA");
	assert_no_findings(&f);
	client_report_release(&rep);
	tf_findings_release(&f);

	/* the intermediate in a chain file */
	write_certs(r, CERT, leaf, NULL);
	write_certs(r, CHAIN, inter, NULL);
	check(r, KEY, CHAIN, 30, 0, &f, &rep, root, NULL);
	assert_true(rep.chain_valid);
	assert_no_findings(&f);
	client_report_release(&rep);
	tf_findings_release(&f);

	/* without it, the chain is broken */
	check(r, KEY, NULL, 30, 0, &f, &rep, root, NULL);
	assert_false(rep.chain_valid);
	assert_only_findings(&f, TF_F_CLIENT_CHAIN_INVALID, 1);
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(inter);
	X509_free(leaf);
}

static void
test_expired_leaf(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 365 * DAY, TEST_NOW - 5 * DAY);
	struct client_report rep;
	struct tf_findings f;

	write_certs(r, CERT, leaf, NULL);
	write_str(r->dir, KEY + 1, k.leaf_pem);
	check(r, KEY, NULL, 30, 0, &f, &rep, root, NULL);
	assert_true(rep.renewal_due);
	/* expired is reported once, as such; the chain itself is sound */
	assert_true(rep.chain_valid);
	assert_only_findings(&f, TF_F_CLIENT_EXPIRED, 1);
	assert_client_finding(&f, TF_F_CLIENT_EXPIRED, leaf, "(5 days ago)");
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(leaf);
}

static void
test_renewal_due_by_days(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 355 * DAY, TEST_NOW + 10 * DAY);
	struct client_report rep;
	struct tf_findings f;

	write_certs(r, CERT, leaf, NULL);
	check(r, NULL, NULL, 30, 0, &f, &rep, root, NULL);
	assert_true(rep.renewal_due);
	assert_int_equal(rep.renew_at, TEST_NOW - 20 * DAY);
	assert_only_findings(&f, TF_F_CLIENT_EXPIRING, 1);
	assert_client_finding(&f, TF_F_CLIENT_EXPIRING, leaf, "in 10 days");
	client_report_release(&rep);
	tf_findings_release(&f);

	/* renew 5 days before: not yet */
	check(r, NULL, NULL, 5, 0, &f, &rep, root, NULL);
	assert_false(rep.renewal_due);
	assert_int_equal(rep.renew_at, TEST_NOW + 5 * DAY);
	assert_no_findings(&f);
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(leaf);
}

static void
test_renewal_due_by_fraction(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	/* 100 days, 60 gone: half the lifetime has passed, 40 days are left */
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 60 * DAY, TEST_NOW + 40 * DAY);
	struct client_report rep;
	struct tf_findings f;

	write_certs(r, CERT, leaf, NULL);
	check(r, NULL, NULL, 30, 0.5, &f, &rep, root, NULL);
	assert_true(rep.renewal_due);
	assert_int_equal(rep.renew_at, TEST_NOW - 10 * DAY);
	assert_only_findings(&f, TF_F_CLIENT_EXPIRING, 1);
	client_report_release(&rep);
	tf_findings_release(&f);

	check(r, NULL, NULL, 30, 0, &f, &rep, root, NULL);
	assert_false(rep.renewal_due);
	assert_int_equal(rep.renew_at, TEST_NOW + 10 * DAY);
	assert_no_findings(&f);
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(leaf);
}

/* Everything is judged at ctx.now: here 2040, when these certificates are valid. */
static void
test_pinned_clock(void **state)
{
	struct root *r = *state;
	const time_t later = (time_t)2208988800; /* 2040-01-01 */
	struct certspec rs = { .cn = "Root of 2040",
		.key = k.root,
		.not_before = later - 100 * DAY,
		.not_after = later + 1000 * DAY };
	X509 *root = make_cert(&rs);
	X509 *leaf = make_leaf(root, k.root, later - DAY, later + 300 * DAY);
	struct client_report rep;
	struct tf_findings f;

	write_certs(r, CERT, leaf, NULL);
	r->ctx.now = later;
	check(r, NULL, NULL, 30, 0, &f, &rep, root, NULL);
	assert_true(rep.chain_valid);
	assert_false(rep.renewal_due);
	assert_no_findings(&f);
	client_report_release(&rep);
	tf_findings_release(&f);

	/* two days earlier the leaf is not valid yet */
	r->ctx.now = later - 2 * DAY;
	check(r, NULL, NULL, 30, 0, &f, &rep, root, NULL);
	assert_false(rep.chain_valid);
	assert_string_equal(rep.chain_error, "certificate is not yet valid");
	assert_only_findings(&f, TF_F_CLIENT_CHAIN_INVALID, 1);
	client_report_release(&rep);
	tf_findings_release(&f);

	X509_free(root);
	X509_free(leaf);
}

/*
 * An expired leaf is reported as client-expired, and its chain is judged
 * apart from that: a root that has expired too must still be reported, or
 * renewing the leaf would not be enough and nothing would say so.
 */
static void
test_expired_leaf_does_not_hide_expired_root(void **state)
{
	struct root *r = *state;
	struct certspec rs = { .cn = "Old Root",
		.key = k.root,
		.not_before = TEST_NOW - 1000 * DAY,
		.not_after = TEST_NOW - 20 * DAY };
	X509 *root = make_cert(&rs);
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 300 * DAY, TEST_NOW - 10 * DAY);
	struct client_report rep;
	struct tf_findings f;

	write_certs(r, CERT, leaf, NULL);
	check(r, NULL, NULL, 30, 0, &f, &rep, root, NULL);
	assert_int_equal(count_kind(&f, TF_F_CLIENT_EXPIRED), 1);
	assert_false(rep.chain_valid);
	assert_int_equal(count_kind(&f, TF_F_CLIENT_CHAIN_INVALID), 1);
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(leaf);
}

static void
test_expired_root_breaks_chain(void **state)
{
	struct root *r = *state;
	struct certspec rs = { .cn = "Old Root",
		.key = k.root,
		.not_before = TEST_NOW - 1000 * DAY,
		.not_after = TEST_NOW - DAY };
	X509 *root = make_cert(&rs);
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 10 * DAY, TEST_NOW + 300 * DAY);
	struct client_report rep;
	struct tf_findings f;

	write_certs(r, CERT, leaf, NULL);
	check(r, NULL, NULL, 30, 0, &f, &rep, root, NULL);
	assert_false(rep.chain_valid);
	assert_string_equal(rep.chain_error, "certificate has expired");
	assert_only_findings(&f, TF_F_CLIENT_CHAIN_INVALID, 1);
	client_report_release(&rep);
	tf_findings_release(&f);
	X509_free(root);
	X509_free(leaf);
}

static void
test_der_certificate(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 10 * DAY, TEST_NOW + 300 * DAY);
	struct client_report rep;
	struct tf_findings f;
	unsigned char *der;
	size_t len;

	der = cert_der(leaf, &len);
	write_file(r->dir, CERT + 1, der, len);
	write_str(r->dir, KEY + 1, k.leaf_pem);
	check(r, KEY, NULL, 30, 0, &f, &rep, root, NULL);
	assert_true(rep.key_matches);
	assert_true(rep.chain_valid);
	assert_no_findings(&f);
	client_report_release(&rep);
	tf_findings_release(&f);
	OPENSSL_free(der);
	X509_free(root);
	X509_free(leaf);
}

static void
assert_open_fails(struct root *r, const char *key, const char *chain, int code, const char *what)
{
	struct client_check *cc = (void *)1;

	tf_error_clear(&r->ctx);
	assert_int_equal(client_check_open(&cc, &r->ctx, CERT, key, chain), code);
	assert_null(cc);
	if (strstr(r->ctx.errmsg, what) == NULL)
		fail_msg("error is '%s', expected '%s'", r->ctx.errmsg, what);
}

static void
test_unreadable_inputs(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(k.root, "Device Root");
	X509 *leaf = make_leaf(root, k.root, TEST_NOW - 10 * DAY, TEST_NOW + 300 * DAY);

	assert_open_fails(r, NULL, NULL, TF_EIO, "cannot open client certificate");
	write_str(r->dir, CERT + 1, "not a certificate\n");
	assert_open_fails(r, NULL, NULL, TF_EINVALID, "no certificate in");
	write_certs(r, CERT, leaf, NULL);
	assert_open_fails(r, KEY, NULL, TF_EIO, "cannot open client key");
	write_str(r->dir, KEY + 1,
	    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	assert_open_fails(r, KEY, NULL, TF_EINVALID, "cannot read client key");
	/* the message names the key file, never its content */
	assert_null(strstr(r->ctx.errmsg, "AAAA"));
	write_str(r->dir, KEY + 1, k.leaf_pem);
	assert_open_fails(r, KEY, CHAIN, TF_EIO, "cannot open client certificate");
	X509_free(root);
	X509_free(leaf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sound_client, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_key_mismatch, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_chain_invalid, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_intermediates, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_expired_leaf, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_renewal_due_by_days, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_renewal_due_by_fraction, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_pinned_clock, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_expired_root_breaks_chain, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_expired_leaf_does_not_hide_expired_root,
		    root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_der_certificate, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_inputs, root_setup, root_teardown),
	};

	return cmocka_run_group_tests_name("renew/client", tests, group_setup, group_teardown);
}
