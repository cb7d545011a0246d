/*
 * tests/unit/test_truststore_checks.c - the findings a scan makes about each
 * certificate: one test per kind, each also showing the case that must not
 * be reported.
 */
#include "helpers.h"

#include "truststore/policy.h"

#define STORE "/store/bundle.pem"

static struct {
	EVP_PKEY *p256, *p256b, *rsa1024, *rsa2048;
} keys;

static int
group_setup(void **state)
{
	(void)state;
	keys.p256 = make_key(KEY_P256);
	keys.p256b = make_key(KEY_P256);
	keys.rsa1024 = make_key(KEY_RSA1024);
	keys.rsa2048 = make_key(KEY_RSA2048);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(keys.p256);
	EVP_PKEY_free(keys.p256b);
	EVP_PKEY_free(keys.rsa1024);
	EVP_PKEY_free(keys.rsa2048);
	return 0;
}

/* Write the certificates (NULL-terminated) as a bundle, one per line group. */
static void
write_bundle(struct root *r, X509 *first, ...)
{
	va_list ap;
	char *all = tf_strdup(""), *pem, *next;
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
	write_str(r->dir, STORE + 1, all);
	free(all);
}

/* The finding of 'kind' is about 'x', at 'where' (if not NULL). */
static const struct tf_finding *
assert_about(const struct scanned *s, enum tf_finding_kind kind, X509 *x, const char *where)
{
	const struct tf_finding *f = find_kind(&s->findings, kind);
	unsigned char sha[32];

	if (f == NULL) {
		dump_findings(&s->findings);
		fail_msg("no '%s' finding", tf_finding_kind_name(kind));
	}
	cert_sha256(x, sha);
	assert_true(f->has_sha256);
	assert_memory_equal(f->sha256, sha, 32);
	assert_non_null(f->subject);
	assert_string_equal(f->store, STORE);
	assert_non_null(f->action);
	if (where != NULL)
		assert_string_equal(f->where, where);
	return f;
}

static void
assert_says(const struct tf_finding *f, const char *what)
{
	if (strstr(f->message, what) == NULL)
		fail_msg("finding says '%s', expected '%s'", f->message, what);
}

/* Lines of the PEM of 'x'. */
static long
pem_lines(X509 *x)
{
	char *pem = cert_pem(x), *p;
	long n = 0;

	for (p = pem; *p != '\0'; p++)
		n += *p == '\n';
	free(pem);
	return n;
}

static char *
where_line(long line)
{
	return tf_asprintf("%s:%ld", STORE, line);
}

static struct tf_policy *
policy(struct root *r, const char *json)
{
	struct tf_policy *p = NULL;

	if (tf_policy_parse(&p, &r->ctx, json, strlen(json), "test policy") != 0)
		fail_msg("policy: %s", r->ctx.errmsg);
	return p;
}

static char *
hex_of(X509 *x)
{
	unsigned char sha[32];
	char *hex = tf_malloc(65);

	cert_sha256(x, sha);
	tf_hex(hex, sha, 32);
	return hex;
}

static void
test_sound_store_has_no_findings(void **state)
{
	struct root *r = *state;
	X509 *a = make_ca(keys.p256, "EC root"), *b = make_ca(keys.rsa2048, "RSA root");
	struct scanned s;

	write_bundle(r, a, b, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 2);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	X509_free(a);
	X509_free(b);
}

static void
test_decommissioned(void **state)
{
	struct root *r = *state;
	X509 *old = make_ca(keys.p256, "Old Root"), *other = make_ca(keys.p256b, "Other Root");
	char *hex = hex_of(old);
	char *json = tf_asprintf("{\"policy\": \"p\", \"decommissioned\": [{\"sha256\": \"%s\", "
	                         "\"name\": \"Old Root\", \"reason\": \"retired in 2021\"}]}",
	    hex);
	struct tf_policy *pol = policy(r, json);
	struct truststore_checks ck = { .policy = pol, .warn_days = 30, .now = TEST_NOW };
	const struct tf_finding *f;
	char *where = where_line(1 + pem_lines(other));
	struct scanned s;

	write_bundle(r, other, old, NULL);
	scan_path(r, STORE, &ck, &s);
	assert_int_equal(s.n, 2);
	assert_only_findings(&s.findings, TF_F_DECOMMISSIONED, 1);
	f = assert_about(&s, TF_F_DECOMMISSIONED, old, where);
	free(where);
	assert_says(f, "Old Root is decommissioned: retired in 2021");
	assert_string_equal(f->subject, "O=trustfix tests, CN=Old Root");
	scanned_release(&s);

	/* without it, nothing to report */
	write_bundle(r, other, NULL);
	scan_path(r, STORE, &ck, &s);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	tf_policy_free(pol);
	free(json);
	free(hex);
	X509_free(old);
	X509_free(other);
}

static void
test_missing_required(void **state)
{
	struct root *r = *state;
	X509 *need = make_ca(keys.p256, "New Root"), *other = make_ca(keys.p256b, "Other Root");
	char *hex = hex_of(need);
	char *json = tf_asprintf("{\"policy\": \"successor\", \"required\": [{\"sha256\": \"%s\", "
	                         "\"name\": \"New Root\"}]}",
	    hex);
	struct tf_policy *pol = policy(r, json);
	struct truststore_checks ck = { .policy = pol, .warn_days = 30, .now = TEST_NOW };
	const struct tf_finding *f;
	unsigned char sha[32];
	struct scanned s;

	write_bundle(r, other, NULL);
	scan_path(r, STORE, &ck, &s);
	assert_only_findings(&s.findings, TF_F_MISSING_REQUIRED, 1);
	f = find_kind(&s.findings, TF_F_MISSING_REQUIRED);
	cert_sha256(need, sha);
	assert_true(f->has_sha256);
	assert_memory_equal(f->sha256, sha, 32);
	assert_string_equal(f->subject, "New Root");
	assert_string_equal(f->store, STORE);
	assert_says(f, "required by policy 'successor'");
	scanned_release(&s);

	write_bundle(r, other, need, NULL);
	scan_path(r, STORE, &ck, &s);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	tf_policy_free(pol);
	free(json);
	free(hex);
	X509_free(need);
	X509_free(other);
}

/* The built-in policy against the two real roots of the field notice. */
static void
test_builtin_policy_with_real_roots(void **state)
{
	struct root *r = *state;
	const char *src = getenv("TF_SRC") != NULL ? getenv("TF_SRC") : ".";
	static const char *const files[] = { "QuoVadis_Root_CA_2.pem",
		"IdenTrust_Commercial_Root_CA_1.pem" };
	struct tf_policy *pol = NULL;
	struct truststore_checks ck = { .warn_days = 30, .now = TEST_NOW };
	const struct tf_finding *f;
	char *pem[2], *all, hex[65];
	struct scanned s;
	size_t i, len;

	for (i = 0; i < 2; i++) {
		char *path = tf_asprintf("%s/tests/data/%s", src, files[i]);

		if (tf_read_input(&r->ctx, path, 1 << 20, &pem[i], &len) != 0)
			fail_msg("%s (run from the source tree or set TF_SRC)", r->ctx.errmsg);
		free(path);
	}
	all = concat(pem[0], pem[1], NULL);
	assert_int_equal(tf_policy_load(&pol, &r->ctx, NULL), 0);
	ck.policy = pol;

	write_str(r->dir, STORE + 1, all);
	scan_path(r, STORE, &ck, &s);
	assert_int_equal(s.n, 2);
	assert_only_findings(&s.findings, TF_F_DECOMMISSIONED, 1);
	f = find_kind(&s.findings, TF_F_DECOMMISSIONED);
	tf_hex(hex, f->sha256, 32);
	assert_string_equal(hex,
	    "85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86");
	assert_non_null(strstr(f->subject, "QuoVadis Root CA 2"));
	scanned_release(&s);

	/* QuoVadis removed, IdenTrust kept: compliant */
	write_str(r->dir, STORE + 1, pem[1]);
	scan_path(r, STORE, &ck, &s);
	assert_int_equal(s.n, 1);
	assert_no_findings(&s.findings);
	scanned_release(&s);

	/* QuoVadis alone: decommissioned, and IdenTrust missing */
	write_str(r->dir, STORE + 1, pem[0]);
	scan_path(r, STORE, &ck, &s);
	assert_int_equal(s.findings.n, 2);
	assert_int_equal(count_kind(&s.findings, TF_F_DECOMMISSIONED), 1);
	assert_int_equal(count_kind(&s.findings, TF_F_MISSING_REQUIRED), 1);
	f = find_kind(&s.findings, TF_F_MISSING_REQUIRED);
	tf_hex(hex, f->sha256, 32);
	assert_string_equal(hex,
	    "5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae");
	assert_string_equal(f->subject, "IdenTrust Commercial Root CA 1");
	scanned_release(&s);
	tf_policy_free(pol);
	free(all);
	free(pem[0]);
	free(pem[1]);
}

static void
test_expired(void **state)
{
	struct root *r = *state;
	struct certspec sp = { .cn = "Expired",
		.key = keys.p256,
		.not_before = TEST_NOW - 400 * DAY,
		.not_after = TEST_NOW - 10 * DAY };
	X509 *x = make_cert(&sp);
	const struct tf_finding *f;
	struct scanned s;

	write_bundle(r, x, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_only_findings(&s.findings, TF_F_EXPIRED, 1);
	f = assert_about(&s, TF_F_EXPIRED, x, STORE ":1");
	assert_says(f, "expired on 2025-12-22T00:00:00Z (10 days ago)");
	scanned_release(&s);
	X509_free(x);
}

static void
test_expiring(void **state)
{
	struct root *r = *state;
	struct certspec sp = { .cn = "Expiring",
		.key = keys.p256,
		.not_before = TEST_NOW - 400 * DAY,
		.not_after = TEST_NOW + 10 * DAY };
	X509 *x = make_cert(&sp);
	struct truststore_checks ck = { .warn_days = 30, .now = TEST_NOW };
	const struct tf_finding *f;
	struct scanned s;

	write_bundle(r, x, NULL);
	scan_path(r, STORE, &ck, &s);
	assert_only_findings(&s.findings, TF_F_EXPIRING, 1);
	f = assert_about(&s, TF_F_EXPIRING, x, STORE ":1");
	assert_says(f, "in 10 days");
	scanned_release(&s);

	/* outside the warning window */
	ck.warn_days = 10;
	scan_path(r, STORE, &ck, &s);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	ck.warn_days = 11;
	scan_path(r, STORE, &ck, &s);
	assert_only_findings(&s.findings, TF_F_EXPIRING, 1);
	scanned_release(&s);
	X509_free(x);
}

static void
test_not_yet_valid(void **state)
{
	struct root *r = *state;
	struct certspec sp = { .cn = "Future",
		.key = keys.p256,
		.not_before = TEST_NOW + 2 * DAY,
		.not_after = TEST_NOW + 400 * DAY };
	X509 *x = make_cert(&sp);
	const struct tf_finding *f;
	struct scanned s;

	write_bundle(r, x, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_only_findings(&s.findings, TF_F_NOT_YET_VALID, 1);
	f = assert_about(&s, TF_F_NOT_YET_VALID, x, STORE ":1");
	assert_says(f, "not valid before 2026-01-03T00:00:00Z");
	scanned_release(&s);
	X509_free(x);
}

/* The scan judges time by checks->now alone, never by the system clock. */
static void
test_pinned_clock(void **state)
{
	struct root *r = *state;
	const time_t later = (time_t)2208988800; /* 2040-01-01 */
	struct certspec sp = { .cn = "In 2040",
		.key = keys.p256,
		.not_before = later - 30 * DAY,
		.not_after = later + 300 * DAY };
	X509 *x = make_cert(&sp);
	struct truststore_checks ck = { .warn_days = 30, .now = later };
	struct scanned s;

	write_bundle(r, x, NULL);
	scan_path(r, STORE, &ck, &s);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	ck.now = later + 301 * DAY;
	scan_path(r, STORE, &ck, &s);
	assert_only_findings(&s.findings, TF_F_EXPIRED, 1);
	scanned_release(&s);
	X509_free(x);
}

static void
test_duplicate(void **state)
{
	struct root *r = *state;
	X509 *a = make_ca(keys.p256, "Twice"), *b = make_ca(keys.p256b, "Once");
	const struct tf_finding *f;
	char *where = where_line(1 + pem_lines(a) + pem_lines(b));
	struct scanned s;

	write_bundle(r, a, b, a, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 3);
	assert_only_findings(&s.findings, TF_F_DUPLICATE, 1);
	f = assert_about(&s, TF_F_DUPLICATE, a, where);
	free(where);
	assert_says(f, "also at " STORE ":1");
	scanned_release(&s);
	X509_free(a);
	X509_free(b);
}

static void
test_weak_key(void **state)
{
	struct root *r = *state;
	X509 *weak = make_ca(keys.rsa1024, "RSA 1024"), *strong = make_ca(keys.rsa2048, "RSA 2048");
	const struct tf_finding *f;
	struct scanned s;

	write_bundle(r, strong, weak, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 2);
	assert_only_findings(&s.findings, TF_F_WEAK_KEY, 1);
	f = assert_about(&s, TF_F_WEAK_KEY, weak, NULL);
	assert_says(f, "RSA key of 1024 bits");
	scanned_release(&s);
	X509_free(weak);
	X509_free(strong);
}

static void
test_weak_signature_only_when_issued(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(keys.p256, "SHA-256 root");
	struct certspec sub = { .cn = "SHA-1 intermediate",
		.key = keys.p256b,
		.issuer = root,
		.issuer_key = keys.p256,
		.md = EVP_sha1() };
	struct certspec self = { .cn = "SHA-1 root", .key = keys.rsa2048, .md = EVP_sha1() };
	X509 *inter = make_cert(&sub), *oldroot = make_cert(&self);
	const struct tf_finding *f;
	struct scanned s;

	/* a root's own SHA-1 signature is never checked: not a finding */
	write_bundle(r, root, oldroot, inter, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 3);
	assert_only_findings(&s.findings, TF_F_WEAK_SIGNATURE, 1);
	f = assert_about(&s, TF_F_WEAK_SIGNATURE, inter, NULL);
	assert_says(f, "ecdsa-with-SHA1");
	scanned_release(&s);
	X509_free(root);
	X509_free(inter);
	X509_free(oldroot);
}

static void
test_not_ca(void **state)
{
	struct root *r = *state;
	X509 *root = make_ca(keys.p256, "Root");
	struct certspec leafspec = { .cn = "server.example",
		.key = keys.p256b,
		.bc = BC_LEAF,
		.issuer = root,
		.issuer_key = keys.p256 };
	struct certspec nobc = { .cn = "No constraints", .key = keys.p256b, .bc = BC_NONE };
	struct certspec v1 = { .cn = "v1 root", .key = keys.p256b, .version = 1 };
	X509 *leaf = make_cert(&leafspec), *plain = make_cert(&nobc), *old = make_cert(&v1);
	struct scanned s;

	write_bundle(r, root, leaf, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_only_findings(&s.findings, TF_F_NOT_CA, 1);
	assert_about(&s, TF_F_NOT_CA, leaf, NULL);
	scanned_release(&s);

	write_bundle(r, plain, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_only_findings(&s.findings, TF_F_NOT_CA, 1);
	assert_about(&s, TF_F_NOT_CA, plain, STORE ":1");
	scanned_release(&s);

	/* a v1 root is a CA, as OpenSSL sees it */
	write_bundle(r, old, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	X509_free(root);
	X509_free(leaf);
	X509_free(plain);
	X509_free(old);
}

static void
test_several_findings_on_one_certificate(void **state)
{
	struct root *r = *state;
	struct certspec sp = { .cn = "Everything wrong",
		.key = keys.rsa1024,
		.bc = BC_LEAF,
		.not_before = TEST_NOW - 800 * DAY,
		.not_after = TEST_NOW - 1 * DAY };
	X509 *x = make_cert(&sp);
	const struct tf_finding *f;
	struct scanned s;

	write_bundle(r, x, NULL);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.findings.n, 3);
	f = assert_about(&s, TF_F_EXPIRED, x, STORE ":1");
	assert_says(f, "(1 day ago)");
	assert_about(&s, TF_F_WEAK_KEY, x, STORE ":1");
	assert_about(&s, TF_F_NOT_CA, x, STORE ":1");
	scanned_release(&s);
	X509_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sound_store_has_no_findings, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_decommissioned, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_missing_required, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_builtin_policy_with_real_roots, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_expired, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_expiring, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_not_yet_valid, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_pinned_clock, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_weak_key, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_weak_signature_only_when_issued, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_not_ca, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_several_findings_on_one_certificate,
		    root_setup, root_teardown),
	};

	return cmocka_run_group_tests_name("truststore/checks", tests, group_setup, group_teardown);
}
