/*
 * tests/unit/test_truststore_pem.c - PEM bundles (and single DER files)
 * read through truststore_open() and truststore_scan(): what is counted,
 * where each certificate is said to be, and what is a finding.
 */
#include "helpers.h"

#include <signal.h>
#include <sys/wait.h>

#define STORE "/store/bundle.pem"

static struct {
	EVP_PKEY *key;
	X509 *ca[3];
	char *pem[3];
	unsigned char sha[3][32];
} g;

static int
group_setup(void **state)
{
	static const char *const names[] = { "Root A", "Root B", "Root C" };
	int i;

	(void)state;
	g.key = make_key(KEY_P256);
	for (i = 0; i < 3; i++) {
		g.ca[i] = make_ca(g.key, names[i]);
		g.pem[i] = cert_pem(g.ca[i]);
		cert_sha256(g.ca[i], g.sha[i]);
	}
	return 0;
}

static int
group_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		X509_free(g.ca[i]);
		free(g.pem[i]);
	}
	EVP_PKEY_free(g.key);
	return 0;
}

/* A bundle being written, which knows on which line each piece starts. */
struct text {
	char *s;
	size_t len;
	long lines; /* complete lines so far */
};

/* Append 's'; returns the line it starts on. */
static long
put(struct text *t, const char *s)
{
	size_t n = strlen(s), i;
	long at = t->lines + 1;

	t->s = tf_realloc(t->s, t->len + n + 1);
	memcpy(t->s + t->len, s, n + 1);
	t->len += n;
	for (i = 0; i < n; i++)
		t->lines += s[i] == '\n';
	return at;
}

static void
assert_cert(const struct scanned *s, size_t i, const unsigned char *sha, long line)
{
	assert_true(i < s->n);
	assert_memory_equal(s->certs[i].sha256, sha, 32);
	assert_int_equal(s->certs[i].line, line);
	assert_string_equal(s->certs[i].file, STORE);
	assert_null(s->certs[i].link);
}

/* The finding of 'kind' is at STORE:line and its message says 'what'. */
static void
assert_finding_at(const struct scanned *s, enum tf_finding_kind kind, long line, const char *what)
{
	const struct tf_finding *f = find_kind(&s->findings, kind);
	char *where = tf_asprintf("%s:%ld", STORE, line);

	if (f == NULL) {
		dump_findings(&s->findings);
		fail_msg("no '%s' finding", tf_finding_kind_name(kind));
	}
	assert_string_equal(f->where, where);
	assert_string_equal(f->store, STORE);
	if (strstr(f->message, what) == NULL)
		fail_msg("finding says '%s', expected '%s'", f->message, what);
	assert_non_null(f->action);
	free(where);
}

static void
test_bundle_counts_and_lines(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	long l0, l1, l2;

	put(&t, "# Mozilla roots, as shipped\n\n");
	l0 = put(&t, g.pem[0]);
	put(&t, "\n# Root B\nsubject=O = trustfix tests, CN = Root B\n");
	l1 = put(&t, g.pem[1]);
	l2 = put(&t, g.pem[2]);
	put(&t, "\n\n# end\n");
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.format, TS_PEM_BUNDLE);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.stats.certificates, 3);
	assert_int_equal(s.stats.skipped, 0);
	assert_int_equal(l0, 3);
	assert_cert(&s, 0, g.sha[0], l0);
	assert_cert(&s, 1, g.sha[1], l1);
	assert_cert(&s, 2, g.sha[2], l2);
	assert_string_equal(s.certs[1].subject, "O=trustfix tests, CN=Root B");
	assert_no_findings(&s.findings);
	scanned_release(&s);
	free(t.s);
}

static char *
to_crlf(const char *s)
{
	char *out = tf_malloc(2 * strlen(s) + 1), *p = out;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			*p++ = '\r';
		*p++ = *s;
	}
	*p = '\0';
	return out;
}

static void
test_crlf(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *crlf;
	long l0, l1;

	put(&t, "# comment\n");
	l0 = put(&t, g.pem[0]);
	put(&t, "\n");
	l1 = put(&t, g.pem[1]);
	crlf = to_crlf(t.s);
	write_str(r->dir, STORE + 1, crlf);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 2);
	assert_cert(&s, 0, g.sha[0], l0);
	assert_cert(&s, 1, g.sha[1], l1);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	free(crlf);
	free(t.s);
}

static void
test_text_and_whitespace_between_blocks(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *spaced;
	long l0, l1;

	/* what 'openssl x509 -text' puts before a block, and a line of dashes */
	put(&t, "Certificate:\n    Data:\n        Version: 3 (0x2)\n-----\n---- END ----\n");
	l0 = put(&t, g.pem[0]);
	put(&t, "\t\n  text -----BEGIN CERTIFICATE----- inside a line\n");
	/* armor with trailing blanks, base64 lines indented */
	spaced = tf_strdup(g.pem[1]);
	{
		struct text u = { 0 };
		char *line, *save = NULL;

		for (line = strtok_r(spaced, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			put(&u, line[0] == '-' ? "" : "  ");
			put(&u, line);
			put(&u, line[0] == '-' ? "  \t\n" : "\t\n");
		}
		l1 = put(&t, u.s);
		free(u.s);
	}
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 2);
	assert_cert(&s, 0, g.sha[0], l0);
	assert_cert(&s, 1, g.sha[1], l1);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	free(spaced);
	free(t.s);
}

/* The PEM 'pem' with its BEGIN and END lines saying 'label'. */
static char *
relabel(const char *pem, const char *label)
{
	const char *body = strchr(pem, '\n') + 1, *end = strstr(pem, "-----END");
	char *begin = tf_asprintf("-----BEGIN %s-----\n", label);
	char *endl = tf_asprintf("-----END %s-----\n", label);
	char *mid = tf_strndup(body, (size_t)(end - body));
	char *out = concat(begin, mid, endl, NULL);

	free(begin);
	free(endl);
	free(mid);
	return out;
}

static void
test_trusted_certificate(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	ASN1_OBJECT *purpose = OBJ_nid2obj(NID_server_auth);
	X509 *x = X509_dup(g.ca[2]);
	BIO *bio = BIO_new(BIO_s_mem());
	char *aux, *x509;
	long l0, l1, l2;

	assert_non_null(x);
	assert_non_null(bio);
	/* trust settings after the certificate: not part of its fingerprint */
	assert_int_equal(X509_add1_trust_object(x, purpose), 1);
	assert_int_equal(X509_alias_set1(x, (const unsigned char *)"root c", -1), 1);
	assert_int_equal(PEM_write_bio_X509_AUX(bio, x), 1);
	aux = bio_string(bio);
	assert_non_null(strstr(aux, "-----BEGIN TRUSTED CERTIFICATE-----"));
	/* the old "X509 CERTIFICATE" label */
	x509 = relabel(g.pem[1], "X509 CERTIFICATE");
	l0 = put(&t, aux);
	l1 = put(&t, x509);
	l2 = put(&t, g.pem[0]);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 3);
	assert_cert(&s, 0, g.sha[2], l0);
	assert_cert(&s, 1, g.sha[1], l1);
	assert_cert(&s, 2, g.sha[0], l2);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	X509_free(x);
	free(aux);
	free(x509);
	free(t.s);
}

/* The PEM of a certificate without its END line and last 'cut' base64 lines. */
static char *
cut_pem(const char *pem, int cut)
{
	char *s = tf_strdup(pem), *end = strstr(s, "-----END");
	int i;

	assert_non_null(end);
	*end = '\0';
	for (i = 0; i < cut; i++) {
		end[-1] = '\0';
		end = strrchr(s, '\n') + 1;
		*end = '\0';
	}
	return s;
}

static void
test_truncated_block(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *cut = cut_pem(g.pem[1], 2);
	long l0, l1;

	l0 = put(&t, g.pem[0]);
	l1 = put(&t, cut);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.n, 1);
	assert_cert(&s, 0, g.sha[0], l0);
	assert_only_findings(&s.findings, TF_F_UNPARSABLE, 1);
	assert_finding_at(&s, TF_F_UNPARSABLE, l1, "truncated");
	assert_int_equal(s.stats.certificates, 1);
	scanned_release(&s);
	free(cut);
	free(t.s);
}

static void
test_block_without_end_before_next(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *cut = cut_pem(g.pem[0], 3);
	long l0, l1;

	l0 = put(&t, cut);
	l1 = put(&t, g.pem[1]);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_cert(&s, 0, g.sha[1], l1);
	assert_only_findings(&s.findings, TF_F_UNPARSABLE, 1);
	assert_finding_at(&s, TF_F_UNPARSABLE, l0, "no END line");
	scanned_release(&s);
	free(cut);
	free(t.s);
}

static void
test_short_content_is_undecodable(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *cut = cut_pem(g.pem[0], 2);
	long l0, l1;

	/* base64 lines missing, but the END line is there */
	l0 = put(&t, cut);
	put(&t, "-----END CERTIFICATE-----\n");
	l1 = put(&t, g.pem[2]);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_cert(&s, 0, g.sha[2], l1);
	assert_only_findings(&s.findings, TF_F_UNPARSABLE, 1);
	assert_finding_at(&s, TF_F_UNPARSABLE, l0, "cannot be decoded");
	scanned_release(&s);
	free(cut);
	free(t.s);
}

/* The finding of 'kind' at STORE:line, or NULL. */
static const struct tf_finding *
finding_at(const struct scanned *s, enum tf_finding_kind kind, long line)
{
	char *where = tf_asprintf("%s:%ld", STORE, line);
	const struct tf_finding *found = NULL;
	size_t i;

	for (i = 0; i < s->findings.n && found == NULL; i++)
		if (s->findings.v[i].kind == kind && s->findings.v[i].where != NULL &&
		    strcmp(s->findings.v[i].where, where) == 0)
			found = &s->findings.v[i];
	free(where);
	return found;
}

static void
test_bad_base64(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *bad = tf_strdup(g.pem[0]), *odd = tf_strdup(g.pem[1]), *p;
	const struct tf_finding *f;
	long l0, l1, l2;

	/* a character that is not base64 in the middle of the block */
	p = strchr(bad, '\n') + 10;
	*p = '!';
	/* a block whose length is not a multiple of 4: drop one character */
	p = strstr(odd, "\n-----END");
	assert_non_null(p);
	memmove(p - 1, p, strlen(p) + 1);
	l0 = put(&t, bad);
	l1 = put(&t, odd);
	l2 = put(&t, g.pem[2]);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_cert(&s, 0, g.sha[2], l2);
	assert_only_findings(&s.findings, TF_F_UNPARSABLE, 2);
	assert_non_null(f = finding_at(&s, TF_F_UNPARSABLE, l0));
	assert_non_null(strstr(f->message, "bad base64"));
	assert_non_null(f = finding_at(&s, TF_F_UNPARSABLE, l1));
	assert_non_null(strstr(f->message, "bad base64"));
	scanned_release(&s);
	free(bad);
	free(odd);
	free(t.s);
}

static void
test_end_label_mismatch(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *cut = cut_pem(g.pem[0], 0);
	long l0;

	l0 = put(&t, cut);
	put(&t, "-----END TRUSTED CERTIFICATE-----\n");
	put(&t, g.pem[1]);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.certs[0].sha256, g.sha[1], 32);
	assert_only_findings(&s.findings, TF_F_UNPARSABLE, 1);
	assert_finding_at(&s, TF_F_UNPARSABLE, l0, "different END line");
	scanned_release(&s);
	free(cut);
	free(t.s);
}

/* Every line of the key's base64 content: none may appear in a finding. */
static void
assert_key_not_shown(const struct scanned *s, const char *keypem)
{
	char *copy = tf_strdup(keypem), *line, *save = NULL;
	size_t i;

	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '-' || strlen(line) < 16)
			continue;
		for (i = 0; i < s->findings.n; i++) {
			const struct tf_finding *f = &s->findings.v[i];

			assert_null(strstr(f->message, line));
			assert_true(f->where == NULL || strstr(f->where, line) == NULL);
			assert_true(f->subject == NULL || strstr(f->subject, line) == NULL);
		}
	}
	free(copy);
}

static void
test_private_key_block(void **state)
{
	static const char *const labels[] = { "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY",
		"ENCRYPTED PRIVATE KEY" };
	struct root *r = *state;
	char *pkcs8 = key_pem(g.key);
	size_t i;

	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		struct text t = { 0 };
		struct scanned s;
		char *key = relabel(pkcs8, labels[i]);
		const struct tf_finding *f;
		long l0, lk, l1;

		l0 = put(&t, g.pem[0]);
		lk = put(&t, key);
		l1 = put(&t, g.pem[1]);
		write_str(r->dir, STORE + 1, t.s);
		scan_path(r, STORE, NULL, &s);
		/* the key is a finding, never a certificate handed out */
		assert_int_equal(s.n, 2);
		assert_cert(&s, 0, g.sha[0], l0);
		assert_cert(&s, 1, g.sha[1], l1);
		assert_only_findings(&s.findings, TF_F_PRIVATE_KEY, 1);
		assert_finding_at(&s, TF_F_PRIVATE_KEY, lk, labels[i]);
		f = find_kind(&s.findings, TF_F_PRIVATE_KEY);
		assert_false(f->has_sha256);
		assert_key_not_shown(&s, key);
		scanned_release(&s);
		free(key);
		free(t.s);
	}
	free(pkcs8);
}

static void
test_key_only_store(void **state)
{
	struct root *r = *state;
	struct scanned s;
	char *pem = key_pem(g.key);

	write_str(r->dir, STORE + 1, pem);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.findings.n, 2);
	assert_int_equal(count_kind(&s.findings, TF_F_PRIVATE_KEY), 1);
	assert_int_equal(count_kind(&s.findings, TF_F_EMPTY_STORE), 1);
	assert_key_not_shown(&s, pem);
	scanned_release(&s);
	free(pem);
}

/* A line of 'n' bytes of 'c' and a line end. */
static char *
long_line(size_t n, char c)
{
	char *s = tf_malloc(n + 2);

	memset(s, c, n);
	s[n] = '\n';
	s[n + 1] = '\0';
	return s;
}

static void
test_overlong_line_outside_blocks(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *mb = long_line(1024 * 1024 + 17, 'x');
	long l0, l1;

	put(&t, mb);
	put(&t, "after the long line\n");
	l0 = put(&t, g.pem[0]);
	put(&t, mb);
	l1 = put(&t, g.pem[1]);
	assert_int_equal(l0, 3);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 2);
	/* the long lines still count as one line each */
	assert_cert(&s, 0, g.sha[0], l0);
	assert_cert(&s, 1, g.sha[1], l1);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	free(mb);
	free(t.s);
}

static void
test_overlong_line_inside_block(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *cut = cut_pem(g.pem[0], 0), *big = long_line(300 * 1024, 'A');
	long l0, l1;

	l0 = put(&t, cut);
	put(&t, big);
	put(&t, "-----END CERTIFICATE-----\n");
	l1 = put(&t, g.pem[1]);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_cert(&s, 0, g.sha[1], l1);
	assert_only_findings(&s.findings, TF_F_UNPARSABLE, 1);
	assert_finding_at(&s, TF_F_UNPARSABLE, l0, "overlong line");
	scanned_release(&s);
	free(big);
	free(cut);
	free(t.s);
}

static void
test_oversized_block(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	char *line = long_line(64, 'A');
	long l0, l1;
	int i;

	/* more than 1 MiB of base64 in short lines */
	l0 = put(&t, "-----BEGIN CERTIFICATE-----\n");
	for (i = 0; i < 17 * 1024; i++)
		put(&t, line);
	put(&t, "-----END CERTIFICATE-----\n");
	l1 = put(&t, g.pem[2]);
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_cert(&s, 0, g.sha[2], l1);
	assert_only_findings(&s.findings, TF_F_UNPARSABLE, 1);
	assert_finding_at(&s, TF_F_UNPARSABLE, l0, "larger than 1 MiB");
	scanned_release(&s);
	free(line);
	free(t.s);
}

static void
test_empty_file(void **state)
{
	struct root *r = *state;
	const struct tf_finding *f;
	struct scanned s;

	write_str(r->dir, STORE + 1, "");
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.format, TS_PEM_BUNDLE);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.stats.certificates, 0);
	assert_only_findings(&s.findings, TF_F_EMPTY_STORE, 1);
	f = find_kind(&s.findings, TF_F_EMPTY_STORE);
	assert_string_equal(f->store, STORE);
	assert_false(f->has_sha256);
	scanned_release(&s);
}

static void
test_text_only_file(void **state)
{
	struct root *r = *state;
	struct scanned s;

	write_str(r->dir, STORE + 1, "this is not a certificate\nnor is this\n");
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.findings.n, 2);
	assert_int_equal(count_kind(&s.findings, TF_F_UNPARSABLE), 1);
	assert_int_equal(count_kind(&s.findings, TF_F_EMPTY_STORE), 1);
	scanned_release(&s);
}

static void
test_binary_garbage(void **state)
{
	struct root *r = *state;
	unsigned char junk[4096];
	struct scanned s;
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 7919 + (i >> 3));
	junk[0] = 0x9d; /* not 0x30: read as text */
	write_file(r->dir, STORE + 1, junk, sizeof(junk));
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(count_kind(&s.findings, TF_F_EMPTY_STORE), 1);
	assert_int_equal(count_kind(&s.findings, TF_F_UNPARSABLE), 1);
	scanned_release(&s);

	junk[0] = 0x30; /* a SEQUENCE of a SEQUENCE: read as a DER certificate */
	junk[1] = 0x10;
	junk[2] = 0x30;
	write_file(r->dir, STORE + 1, junk, sizeof(junk));
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.format, TS_DER);
	assert_int_equal(s.n, 0);
	assert_int_equal(count_kind(&s.findings, TF_F_UNPARSABLE), 1);
	assert_int_equal(count_kind(&s.findings, TF_F_EMPTY_STORE), 1);
	scanned_release(&s);

	/* a SEQUENCE starting with an INTEGER is read as PKCS#12: garbage is an
	 * unreadable store, an error before any output */
	junk[2] = 0x02;
	write_file(r->dir, STORE + 1, junk, sizeof(junk));
	{
		struct truststore *ts = NULL;

		assert_int_equal(truststore_open(&ts, &r->ctx, STORE, NULL), TF_EIO);
		assert_null(ts);
		assert_non_null(strstr(r->ctx.errmsg, "not a valid PKCS#12 file"));
	}
}

static void
test_crl_block_skipped(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = ASN1_TIME_set(NULL, TEST_NOW);
	BIO *bio = BIO_new(BIO_s_mem());
	char *crlpem;
	long l0;

	assert_non_null(crl);
	assert_non_null(now);
	assert_non_null(bio);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(g.ca[0])), 1);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, now), 1);
	assert_true(X509_CRL_sign(crl, g.key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_CRL(bio, crl), 1);
	crlpem = bio_string(bio);
	assert_non_null(strstr(crlpem, "BEGIN X509 CRL"));
	l0 = put(&t, g.pem[0]);
	put(&t, crlpem);
	put(&t, "-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n");
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, 1);
	assert_cert(&s, 0, g.sha[0], l0);
	assert_int_equal(s.stats.certificates, 1);
	assert_int_equal(s.stats.skipped, 2);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	X509_CRL_free(crl);
	ASN1_TIME_free(now);
	free(crlpem);
	free(t.s);
}

static void
test_der_file(void **state)
{
	struct root *r = *state;
	struct scanned s;
	unsigned char *der;
	size_t len;

	der = cert_der(g.ca[1], &len);
	write_file(r->dir, "store/root.der", der, len);
	scan_path(r, "/store/root.der", NULL, &s);
	assert_int_equal(s.rc, 0);
	assert_int_equal(s.format, TS_DER);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.certs[0].sha256, g.sha[1], 32);
	assert_string_equal(s.certs[0].file, "/store/root.der");
	assert_int_equal(s.certs[0].line, 0);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	OPENSSL_free(der);
}

static int
stop_after_first(const struct tf_cert *c, void *arg)
{
	int *n = arg;

	(void)c;
	return ++*n == 1 ? 7 : 0;
}

static void
test_callback_stops_scan(void **state)
{
	struct root *r = *state;
	struct truststore_checks ck = { .warn_days = 30, .now = TEST_NOW };
	struct truststore *ts = NULL;
	struct tf_findings f = { 0 };
	struct text t = { 0 };
	int n = 0;

	put(&t, g.pem[0]);
	put(&t, g.pem[1]);
	put(&t, g.pem[2]);
	write_str(r->dir, STORE + 1, t.s);
	assert_int_equal(truststore_open(&ts, &r->ctx, STORE, NULL), 0);
	assert_int_equal(truststore_scan(ts, &ck, &f, NULL, stop_after_first, &n), 7);
	assert_int_equal(n, 1);
	/* a stopped scan does not claim the store is empty */
	assert_int_equal(count_kind(&f, TF_F_EMPTY_STORE), 0);
	tf_findings_release(&f);
	truststore_free(ts);
	free(t.s);
}

static void
test_missing_store(void **state)
{
	struct root *r = *state;
	struct truststore *ts = (void *)1;
	char *want;

	assert_int_equal(truststore_open(&ts, &r->ctx, "/store/none.pem", NULL), TF_EIO);
	assert_null(ts);
	want = tf_asprintf("cannot open store '%s/store/none.pem'", r->dir);
	assert_non_null(strstr(r->ctx.errmsg, want));
	free(want);
	truststore_free(NULL); /* a no-op */
}

/* Enough certificates for several threads and more than one batch. */
static void
test_many_certificates_in_order(void **state)
{
	struct root *r = *state;
	struct text t = { 0 };
	struct scanned s;
	enum { N = 2100 };
	unsigned char(*sha)[32] = tf_calloc(N, 32);
	long *line = tf_calloc(N, sizeof(long));
	size_t i;

	for (i = 0; i < N; i++) {
		char serial[32], cn[32];
		struct certspec sp = { .cn = cn, .key = g.key, .serial = serial };
		X509 *x;
		char *pem;

		snprintf(serial, sizeof(serial), "%zX", i + 1);
		snprintf(cn, sizeof(cn), "Root %zu", i);
		x = make_cert(&sp);
		pem = cert_pem(x);
		cert_sha256(x, sha[i]);
		line[i] = put(&t, pem);
		if (i % 100 == 0)
			put(&t, "# a comment\n");
		free(pem);
		X509_free(x);
	}
	write_str(r->dir, STORE + 1, t.s);
	scan_path(r, STORE, NULL, &s);
	assert_int_equal(s.n, N);
	assert_int_equal(s.stats.certificates, N);
	for (i = 0; i < N; i++)
		assert_cert(&s, i, sha[i], line[i]);
	assert_no_findings(&s.findings);
	scanned_release(&s);
	free(sha);
	free(line);
	free(t.s);
}

#define REGRESS_SECONDS 10

/* Open and scan STORE; returns the code of the open or of the scan. */
static int
regress_scan(struct root *r, struct scanned *s)
{
	struct truststore_checks ck = { .warn_days = 30, .now = TEST_NOW };
	struct truststore *ts = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	tf_error_clear(&r->ctx);
	if ((rc = truststore_open(&ts, &r->ctx, STORE, NULL)) != 0)
		return rc;
	s->rc = truststore_scan(ts, &ck, &s->findings, &s->stats, scanned_add, s);
	truststore_free(ts);
	return s->rc;
}

struct regress {
	struct root *r;
	char failed[2048]; /* what went wrong with which inputs */
};

static void
regress_store(const char *name, const unsigned char *data, size_t len, void *arg)
{
	struct regress *rg = arg;
	struct root *r = rg->r;
	size_t used = strlen(rg->failed);
	struct scanned s;
	int status, rc;
	pid_t pid;

	write_file(r->dir, STORE + 1, data, len);
	/* first in a child with a deadline: a hostile store must not hang the scan */
	if ((pid = fork()) == 0) {
		alarm(REGRESS_SECONDS);
		regress_scan(r, &s);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		snprintf(rg->failed + used, sizeof(rg->failed) - used,
		    "\n# %s: the scan takes more than %d seconds", name, REGRESS_SECONDS);
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(rg->failed + used, sizeof(rg->failed) - used,
		    "\n# %s: the scan crashed (wait status %#x)", name, status);
		return;
	}
	/* then here, where the sanitizers and the leak checker see it */
	rc = regress_scan(r, &s);
	/* a store that cannot be read is an error with a message, never a crash */
	assert_true(rc <= 0);
	if (rc < 0)
		assert_true(r->ctx.errmsg[0] != '\0');
	else
		assert_int_equal(s.stats.certificates, s.n);
	scanned_release(&s);
}

/* The inputs fuzz/fuzz_store found, read as a store. */
static void
test_fuzz_regressions(void **state)
{
	struct regress rg = { .r = *state };

	for_each_regress("store-", regress_store, &rg);
	if (rg.failed[0] != '\0')
		fail_msg("hostile stores:%s", rg.failed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bundle_counts_and_lines, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_crlf, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_text_and_whitespace_between_blocks, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_trusted_certificate, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_truncated_block, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_block_without_end_before_next, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_short_content_is_undecodable, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_bad_base64, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_end_label_mismatch, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_private_key_block, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_key_only_store, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line_outside_blocks, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line_inside_block, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_oversized_block, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_text_only_file, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_binary_garbage, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_crl_block_skipped, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_der_file, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_callback_stops_scan, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_missing_store, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_many_certificates_in_order, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_fuzz_regressions, root_setup, root_teardown),
	};

	return cmocka_run_group_tests_name("truststore/pem", tests, group_setup, group_teardown);
}
