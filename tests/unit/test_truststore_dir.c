/*
 * tests/unit/test_truststore_dir.c - directories of certificates: OpenSSL's
 * hashed directory, with every way its links can hide a certificate, and a
 * plain directory of PEM and DER files.
 */
#include "helpers.h"

#define DIRPATH "/certs"

static struct {
	EVP_PKEY *key, *key2;
	X509 *a, *a2, *b, *c; /* a and a2 share a subject, so a hash */
	char *pem_a, *pem_a2, *pem_b, *pem_c;
	char hash_a[9], hash_b[9], hash_c[9];
} g;

static void
hash_of(X509 *x, char out[9])
{
	int ok = 0;
	unsigned long h = X509_NAME_hash_ex(X509_get_subject_name(x), NULL, NULL, &ok);

	assert_int_equal(ok, 1);
	snprintf(out, 9, "%08lx", h);
}

static int
group_setup(void **state)
{
	(void)state;
	g.key = make_key(KEY_P256);
	g.key2 = make_key(KEY_P256);
	g.a = make_ca(g.key, "Dir A");
	g.a2 = make_ca(g.key2, "Dir A");
	g.b = make_ca(g.key, "Dir B");
	g.c = make_ca(g.key2, "Dir C");
	g.pem_a = cert_pem(g.a);
	g.pem_a2 = cert_pem(g.a2);
	g.pem_b = cert_pem(g.b);
	g.pem_c = cert_pem(g.c);
	hash_of(g.a, g.hash_a);
	hash_of(g.b, g.hash_b);
	hash_of(g.c, g.hash_c);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	X509_free(g.a);
	X509_free(g.a2);
	X509_free(g.b);
	X509_free(g.c);
	free(g.pem_a);
	free(g.pem_a2);
	free(g.pem_b);
	free(g.pem_c);
	EVP_PKEY_free(g.key);
	EVP_PKEY_free(g.key2);
	return 0;
}

/* Make "certs/<hash>.<n>" a link to 'target'. */
static void
hash_link(struct root *r, const char *hash, int n, const char *target)
{
	char *name = tf_asprintf("certs/%s.%d", hash, n);

	make_symlink(r->dir, name, target);
	free(name);
}

/* The scanned certificate with this fingerprint, or fail. */
static const struct scanned_cert *
cert_of(const struct scanned *s, X509 *x)
{
	unsigned char sha[32];
	size_t i;

	cert_sha256(x, sha);
	for (i = 0; i < s->n; i++)
		if (memcmp(s->certs[i].sha256, sha, 32) == 0)
			return &s->certs[i];
	fail_msg("certificate not handed out by the scan");
	return NULL;
}

/* The one finding of 'kind' is at DIRPATH/'name' and says 'what'. */
static const struct tf_finding *
assert_finding(const struct scanned *s, enum tf_finding_kind kind, const char *name,
    const char *what)
{
	char *where = tf_asprintf("%s/%s", DIRPATH, name);
	const struct tf_finding *f = NULL;
	size_t i;

	for (i = 0; i < s->findings.n && f == NULL; i++)
		if (s->findings.v[i].kind == kind && s->findings.v[i].where != NULL &&
		    strcmp(s->findings.v[i].where, where) == 0)
			f = &s->findings.v[i];
	if (f == NULL) {
		dump_findings(&s->findings);
		fail_msg("no '%s' finding at %s", tf_finding_kind_name(kind), where);
	}
	if (strstr(f->message, what) == NULL)
		fail_msg("finding says '%s', expected '%s'", f->message, what);
	assert_string_equal(f->store, DIRPATH);
	free(where);
	return f;
}

/* a.pem, a2.pem, b.pem linked as 'openssl rehash' links them. */
static void
write_good_dir(struct root *r)
{
	write_str(r->dir, "certs/a.pem", g.pem_a);
	write_str(r->dir, "certs/a2.pem", g.pem_a2);
	write_str(r->dir, "certs/b.pem", g.pem_b);
	hash_link(r, g.hash_a, 0, "a.pem");
	hash_link(r, g.hash_a, 1, "a2.pem");
	hash_link(r, g.hash_b, 0, "b.pem");
}

static void
test_correct_links(void **state)
{
	struct root *r = *state;
	const struct scanned_cert *c;
	struct scanned s;
	char *link;

	write_good_dir(r);
	/* a bundle kept beside the links is not a certificate OpenSSL must find */
	{
		char *bundle = concat(g.pem_a, g.pem_b, NULL);

		write_str(r->dir, "certs/ca-certificates.crt", bundle);
		free(bundle);
	}
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.format, TS_HASHED_DIR);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.stats.certificates, 3);
	assert_int_equal(s.stats.skipped, 1);
	assert_no_findings(&s.findings);
	c = cert_of(&s, g.a2);
	link = tf_asprintf("%s/%s.1", DIRPATH, g.hash_a);
	assert_non_null(c->link);
	assert_string_equal(c->link, link);
	free(link);
	c = cert_of(&s, g.b);
	link = tf_asprintf("%s/%s.0", DIRPATH, g.hash_b);
	assert_string_equal(c->link, link);
	free(link);
	scanned_release(&s);
}

static void
test_absolute_link_stays_in_root(void **state)
{
	struct root *r = *state;
	struct scanned s;

	/* an absolute link target is a path of the managed system */
	write_str(r->dir, "usr/share/ca/c.pem", g.pem_c);
	write_str(r->dir, "certs/a.pem", g.pem_a);
	hash_link(r, g.hash_a, 0, "a.pem");
	hash_link(r, g.hash_c, 0, "/usr/share/ca/c.pem");
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.n, 2);
	assert_no_findings(&s.findings);
	cert_of(&s, g.c);
	scanned_release(&s);
}

static void
test_wrong_hash(void **state)
{
	struct root *r = *state;
	const struct tf_finding *f;
	unsigned char sha[32];
	struct scanned s;
	const char *wrong = strcmp(g.hash_a, "0badc0de") == 0 ? "0badc0df" : "0badc0de";
	char *name = tf_asprintf("%s.0", wrong);

	write_str(r->dir, "certs/a.pem", g.pem_a);
	write_str(r->dir, "certs/b.pem", g.pem_b);
	hash_link(r, g.hash_b, 0, "b.pem");
	hash_link(r, wrong, 0, "a.pem");
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.format, TS_HASHED_DIR);
	assert_int_equal(s.n, 2);
	assert_only_findings(&s.findings, TF_F_HASH_LINK, 1);
	f = assert_finding(&s, TF_F_HASH_LINK, name, wrong);
	assert_non_null(strstr(f->message, g.hash_a));
	cert_sha256(g.a, sha);
	assert_true(f->has_sha256);
	assert_memory_equal(f->sha256, sha, 32);
	scanned_release(&s);
	free(name);
}

static void
test_gap_hides_certificate(void **state)
{
	struct root *r = *state;
	struct scanned s;
	char *name = tf_asprintf("%s.2", g.hash_a);

	write_str(r->dir, "certs/a.pem", g.pem_a);
	write_str(r->dir, "certs/a2.pem", g.pem_a2);
	hash_link(r, g.hash_a, 0, "a.pem");
	hash_link(r, g.hash_a, 2, "a2.pem"); /* .1 is missing */
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.n, 2);
	assert_only_findings(&s.findings, TF_F_HASH_LINK, 1);
	assert_finding(&s, TF_F_HASH_LINK, name, "hidden from OpenSSL's lookup");
	scanned_release(&s);
	free(name);

	/* a chain without its .0 */
	rm_rf(r->dir);
	assert_int_equal(mkdir(r->dir, 0700), 0);
	assert_int_equal(tf_ctx_set_root(&r->ctx, r->dir), 0);
	write_str(r->dir, "certs/b.pem", g.pem_b);
	hash_link(r, g.hash_b, 1, "b.pem");
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.n, 1);
	name = tf_asprintf("%s.1", g.hash_b);
	assert_only_findings(&s.findings, TF_F_HASH_LINK, 1);
	assert_finding(&s, TF_F_HASH_LINK, name, "is missing");
	scanned_release(&s);
	free(name);
}

static void
test_dangling_link(void **state)
{
	struct root *r = *state;
	struct scanned s;
	char *name = tf_asprintf("%s.0", g.hash_b);

	write_str(r->dir, "certs/a.pem", g.pem_a);
	hash_link(r, g.hash_a, 0, "a.pem");
	hash_link(r, g.hash_b, 0, "removed.pem");
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.n, 1);
	assert_only_findings(&s.findings, TF_F_HASH_LINK, 1);
	assert_finding(&s, TF_F_HASH_LINK, name, "dangling link: 'removed.pem' does not exist");
	scanned_release(&s);
	free(name);
}

static void
test_link_loop(void **state)
{
	struct root *r = *state;
	struct scanned s;

	write_str(r->dir, "certs/a.pem", g.pem_a);
	hash_link(r, g.hash_a, 0, "a.pem");
	make_symlink(r->dir, "certs/0badf00d.0", "0badf00d.0");
	make_symlink(r->dir, "certs/1badf00d.0", "2badf00d.0");
	make_symlink(r->dir, "certs/2badf00d.0", "1badf00d.0");
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.n, 1);
	assert_only_findings(&s.findings, TF_F_HASH_LINK, 3);
	assert_finding(&s, TF_F_HASH_LINK, "0badf00d.0", "link loop");
	assert_finding(&s, TF_F_HASH_LINK, "1badf00d.0", "link loop");
	assert_finding(&s, TF_F_HASH_LINK, "2badf00d.0", "link loop");
	scanned_release(&s);
}

static void
test_unlinked_certificate_file(void **state)
{
	struct root *r = *state;
	const struct tf_finding *f;
	unsigned char sha[32];
	struct scanned s;

	write_str(r->dir, "certs/a.pem", g.pem_a);
	write_str(r->dir, "certs/c.pem", g.pem_c);
	hash_link(r, g.hash_a, 0, "a.pem");
	scan_path(r, DIRPATH, NULL, &s);
	/* still read, so that its own findings are known */
	assert_int_equal(s.n, 2);
	assert_only_findings(&s.findings, TF_F_HASH_LINK, 1);
	cert_sha256(g.c, sha);
	f = assert_finding(&s, TF_F_HASH_LINK, "c.pem", "has no hash link");
	assert_false(f->has_sha256 && memcmp(f->sha256, sha, 32) != 0);
	assert_memory_equal(cert_of(&s, g.c)->sha256, sha, 32);
	assert_null(cert_of(&s, g.c)->link);
	scanned_release(&s);
}

/*
 * The same, with the certificate after 8 KiB of text, its BEGIN line where
 * two reads of the file overlap: it is still one certificate, not a bundle.
 */
static void
test_unlinked_certificate_after_long_text(void **state)
{
	struct root *r = *state;
	struct scanned s;
	size_t at;

	for (at = 8100; at <= 8200; at += 20) {
		char *text = tf_malloc(at + 1), *file;
		size_t i;

		for (i = 0; i < at; i++)
			text[i] = (i + 1) % 64 == 0 ? '\n' : 'x';
		text[at - 1] = '\n';
		text[at] = '\0';
		file = concat(text, g.pem_c, NULL);
		rm_rf(r->dir);
		assert_int_equal(mkdir(r->dir, 0700), 0);
		assert_int_equal(tf_ctx_set_root(&r->ctx, r->dir), 0);
		write_str(r->dir, "certs/a.pem", g.pem_a);
		write_str(r->dir, "certs/c.pem", file);
		hash_link(r, g.hash_a, 0, "a.pem");
		scan_path(r, DIRPATH, NULL, &s);
		if (s.n != 2 || count_kind(&s.findings, TF_F_HASH_LINK) != 1) {
			dump_findings(&s.findings);
			fail_msg("BEGIN at offset %zu: %zu certificates, %zu hash-link findings",
			    at, s.n, count_kind(&s.findings, TF_F_HASH_LINK));
		}
		assert_finding(&s, TF_F_HASH_LINK, "c.pem", "has no hash link");
		scanned_release(&s);
		free(file);
		free(text);
	}
}

static void
test_plain_certificate_dir(void **state)
{
	struct root *r = *state;
	const struct scanned_cert *c;
	unsigned char *der;
	struct scanned s;
	size_t len;

	der = cert_der(g.b, &len);
	write_str(r->dir, "certs/a.pem", g.pem_a);
	write_file(r->dir, "certs/b.der", der, len);
	write_str(r->dir, "certs/c.crt", g.pem_c);
	write_str(r->dir, "certs/.hidden.pem", g.pem_a2);
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.format, TS_CERT_DIR);
	assert_int_equal(s.n, 3);
	assert_no_findings(&s.findings);
	/* in name order, with the file each is in */
	assert_string_equal(s.certs[0].file, DIRPATH "/a.pem");
	assert_int_equal(s.certs[0].line, 1);
	assert_string_equal(s.certs[1].file, DIRPATH "/b.der");
	assert_int_equal(s.certs[1].line, 0);
	assert_string_equal(s.certs[2].file, DIRPATH "/c.crt");
	c = cert_of(&s, g.b);
	assert_null(c->link);
	scanned_release(&s);
	OPENSSL_free(der);
}

static void
test_plain_dir_broken_entries(void **state)
{
	struct root *r = *state;
	struct scanned s;

	write_str(r->dir, "certs/a.pem", g.pem_a);
	write_str(r->dir, "certs/README", "certificates of the appliance\n");
	make_symlink(r->dir, "certs/gone.pem", "nowhere.pem");
	make_symlink(r->dir, "certs/self.pem", "self.pem");
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.format, TS_CERT_DIR);
	assert_int_equal(s.n, 1);
	assert_only_findings(&s.findings, TF_F_UNPARSABLE, 3);
	assert_finding(&s, TF_F_UNPARSABLE, "gone.pem", "dangling link");
	assert_finding(&s, TF_F_UNPARSABLE, "self.pem", "link loop");
	assert_finding(&s, TF_F_UNPARSABLE, "README", "not a PEM or DER");
	scanned_release(&s);
}

static void
test_empty_dir(void **state)
{
	struct root *r = *state;
	struct scanned s;
	char *path = tf_path_join(r->dir, "certs");

	assert_int_equal(mkdir(path, 0700), 0);
	scan_path(r, DIRPATH, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.format, TS_CERT_DIR);
	assert_only_findings(&s.findings, TF_F_EMPTY_STORE, 1);
	scanned_release(&s);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_correct_links, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_absolute_link_stays_in_root, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_hash, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_gap_hides_certificate, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_dangling_link, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_link_loop, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_certificate_file, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_certificate_after_long_text,
		    root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_plain_certificate_dir, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_plain_dir_broken_entries, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_empty_dir, root_setup, root_teardown),
	};

	return cmocka_run_group_tests_name("truststore/dir", tests, group_setup, group_teardown);
}
