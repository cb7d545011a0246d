/*
 * tests/unit/test_audit_repo.c - the audit repository: creating and opening it, recording
 * changes, what their messages say, refusing private keys, naming changes and
 * reading the log - checked through the API and through the git command line
 * an auditor would use.
 */
#include "test_audit_helpers.h"

static void
test_open_creates_bare_repo(void **state)
{
	struct root *r = *state;
	struct audit *a = NULL;
	char id[41], *path, *out;
	struct audit_file f = file("etc/x", "x");
	struct audit_change ch = { .subject_line = "s" };
	struct stat st;
	size_t count = 0;
	bool is_empty = false;
	DIR *d;
	struct dirent *de;

	/* read-only on a fresh root: an empty log, nothing created */
	assert_int_equal(audit_open(&a, &r->ctx, AUDIT_OPEN_READONLY), 0);
	assert_int_equal(audit_head(id, &is_empty, a), 0);
	assert_true(is_empty);
	assert_string_equal(id, "");
	assert_int_equal(audit_log(a, NULL, 0, count_entry, &count), 0);
	assert_int_equal(count, 0);
	expect_error(r, audit_resolve(id, a, "HEAD"), TF_EUSAGE, "'HEAD'");
	expect_error(r, audit_record(id, a, &f, 1, &ch), TF_ERROR, "read-only");
	audit_free(a);
	path = tf_path_join(r->dir, "var");
	assert_int_equal(stat(path, &st), -1);
	free(path);

	a = open_log(r);
	path = tf_asprintf("%s/var/lib/trustfix", r->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* no temporary left beside it */
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		assert_true(de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0);
	closedir(d);
	free(path);
	path = tf_asprintf("%s%s", r->dir, AUDIT_REPO_PATH);
	assert_string_equal(audit_path(a), path);
	free(path);
	assert_int_equal(audit_head(id, &is_empty, a), 0);
	assert_true(is_empty);
	audit_free(a);
	audit_free(NULL);

	assert_git_equal(r, "true\n", "rev-parse --is-bare-repository");
	assert_git_equal(r, "refs/heads/main\n", "symbolic-ref HEAD");
	out = git_ok(r, "config --bool receive.denyNonFastForwards");
	assert_string_equal(out, "true\n");
	free(out);

	/* opened again, not created again */
	a = open_log(r);
	record(r, a, &f, 1, "first", id);
	audit_free(a);
	a = open_log(r);
	assert_int_equal(audit_head(id, &is_empty, a), 0);
	assert_false(is_empty);
	audit_free(a);
}

static void
test_record_three_changes(void **state)
{
	struct root *r = *state;
	struct audit_file f1 = file("etc/ssl/certs/ca-certificates.crt", "one\n");
	struct audit_file f2 = file("etc/ssl/certs/ca-certificates.crt", "two\n");
	struct audit_file f3 = file("etc/ssl/certs/extra.pem", "three\n");
	char id[3][41], head[41], *out, *expect;
	struct audit *a = open_log(r);
	bool is_empty;

	record(r, a, &f1, 1, "first", id[0]);
	record(r, a, &f2, 1, "second", id[1]);
	record(r, a, &f3, 1, "third", id[2]);
	assert_int_equal(audit_head(head, &is_empty, a), 0);
	assert_string_equal(head, id[2]);
	audit_free(a);

	assert_git_equal(r, "third\nsecond\nfirst\n", "log --format=%s");
	expect = tf_asprintf("%s\n", id[2]);
	assert_git_equal(r, expect, "rev-parse HEAD");
	free(expect);
	assert_git_equal(r, "author alice <operator@trustfix> 1767225600 +0000\n",
	    "cat-file -p HEAD | grep '^author '");
	assert_git_equal(r, "two\n", "show HEAD:etc/ssl/certs/ca-certificates.crt");
	assert_git_equal(r, "etc/ssl/certs/ca-certificates.crt\netc/ssl/certs/extra.pem\n",
	    "ls-tree -r --name-only HEAD");
	out = git_ok(r, "log -1 --format=%%B HEAD~2");
	assert_string_equal(out,
	    "first\n\nTrustfix-Operator: alice\nTrustfix-Command: trustfix "
	    "test\n\n");
	free(out);
	assert_fsck_clean(r);
}

static void
test_trailers_round_trip(void **state)
{
	struct root *r = *state;
	static const char *const keys[] = { "Trustfix-Store", "Signed-off-by" };
	static const char *const values[] = { "/etc/ssl/certs/ca-certificates.crt",
		"Bob <bob@example.net>" };
	struct audit_change ch = {
		.subject_line = "apply bundle 2026.01",
		.body = "+ IdenTrust Commercial Root CA 1 (5d56a2b1)\n"
		        "- QuoVadis Root CA 2 (85a0dd7d)\n\nfrom the signed bundle",
		.reason = "QuoVadis Root CA 2 is decommissioned",
		.ticket = "CHG-42",
		.operator_name = "Alice Operator",
		.email = "alice@example.net",
		.command = "trustfix apply --bundle /media/usb/roots-2026.01.tar",
		.trailer_keys = keys,
		.trailer_values = values,
		.ntrailers = 2,
	};
	struct audit_change bare = { .subject_line = "no reason given" };
	struct audit_file f = file("etc/ssl/certs/ca-certificates.crt", "pem\n");
	struct audit *a = open_log(r);
	struct entries es = { 0 };
	struct entry_copy *e;
	char id[41], first[41];

	assert_int_equal(audit_record(first, a, &f, 1, &ch), 0);
	assert_int_equal(audit_record(id, a, NULL, 0, &bare), 0);
	assert_int_equal(audit_log(a, NULL, 0, collect_entry, &es), 0);
	assert_int_equal(es.n, 2);

	e = &es.v[1];
	assert_string_equal(e->id, first);
	assert_string_equal(e->parent, "");
	assert_string_equal(es.v[0].parent, first);
	assert_int_equal(e->time, TEST_NOW);
	assert_string_equal(e->subject, ch.subject_line);
	assert_string_equal(e->body, ch.body);
	assert_string_equal(e->reason, ch.reason);
	assert_string_equal(e->ticket, ch.ticket);
	assert_string_equal(e->operator_name, ch.operator_name);
	assert_string_equal(e->command, ch.command);
	assert_string_equal(e->email, "alice@example.net");
	assert_int_equal(e->ntrailers, 2);
	assert_string_equal(e->keys[0], keys[0]);
	assert_string_equal(e->values[0], values[0]);
	assert_string_equal(e->keys[1], keys[1]);
	assert_string_equal(e->values[1], values[1]);

	/* absent fields come back absent; the operator defaults to "unknown" */
	e = &es.v[0];
	assert_string_equal(e->id, id);
	assert_string_equal(e->subject, "no reason given");
	assert_string_equal(e->body, "");
	assert_null(e->reason);
	assert_null(e->ticket);
	assert_null(e->command);
	assert_string_equal(e->operator_name, "unknown");
	assert_string_equal(e->email, AUDIT_DEFAULT_EMAIL);
	assert_int_equal(e->ntrailers, 0);
	entries_release(&es);
	audit_free(a);

	/* git reads the same trailers */
	assert_git_equal(r, "CHG-42\n",
	    "log -1 --format='%(trailers:key=Trustfix-Ticket,valueonly)' HEAD~1 | sed '/^$/d'");
	assert_git_equal(r, "QuoVadis Root CA 2 is decommissioned\n",
	    "log -1 --format='%(trailers:key=Trustfix-Reason,valueonly)' HEAD~1 | sed '/^$/d'");
	assert_git_equal(r, "Alice Operator <alice@example.net>\n",
	    "log -1 --format='%an <%ae>' HEAD~1");
	assert_fsck_clean(r);
}

static void
test_message_is_sanitised(void **state)
{
	struct root *r = *state;
	struct audit_change ch = {
		.subject_line = "  evil\033[31m red\nsecond line  ",
		.body = "\n\nline one\r\n---\nline\033]0;title\007 three\n\n\n",
		.reason = "multi\nline\treason  ",
		.operator_name = "Eve <eve@evil>\n",
		.command = "trustfix add\n--store x",
	};
	struct audit_file f = file("etc/x.pem", "x");
	struct audit *a = open_log(r);
	struct entries es = { 0 };
	char id[41], *out;

	assert_int_equal(audit_record(id, a, &f, 1, &ch), 0);
	assert_int_equal(audit_log(a, NULL, 1, collect_entry, &es), 0);
	assert_int_equal(es.n, 1);
	assert_string_equal(es.v[0].subject, "evil\\x1b[31m red\\x0asecond line");
	assert_string_equal(es.v[0].body, "line one\n ---\nline\\x1b]0;title\\x07 three");
	assert_string_equal(es.v[0].reason, "multi\\x0aline\\x09reason");
	assert_string_equal(es.v[0].operator_name, "Eve \\x3ceve@evil\\x3e");
	assert_string_equal(es.v[0].command, "trustfix add\\x0a--store x");
	entries_release(&es);
	audit_free(a);

	out = git_ok(r, "log -1 --format=%%B");
	assert_null(strchr(out, '\033'));
	assert_null(strchr(out, '\007'));
	assert_null(strchr(out, '\r'));
	free(out);
	assert_git_equal(r, "Eve \\x3ceve@evil\\x3e\n", "log -1 --format=%an");
	assert_fsck_clean(r);
}

/* The DER of 'pk' as PKCS#8, as traditional, or as encrypted PKCS#8. */

static unsigned char *
key_der(EVP_PKEY *pk, int form, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *out = NULL;
	char *data;
	long n;

	assert_non_null(bio);
	if (form == 0) {
		assert_non_null(p8 = EVP_PKEY2PKCS8(pk));
		assert_int_equal(i2d_PKCS8_PRIV_KEY_INFO_bio(bio, p8), 1);
		PKCS8_PRIV_KEY_INFO_free(p8);
	} else if (form == 1) {
		assert_int_equal(i2d_PrivateKey_bio(bio, pk), 1);
	} else {
		assert_int_equal(
		    i2d_PKCS8PrivateKey_bio(bio, pk, EVP_aes_128_cbc(), "secret", 6, NULL, NULL),
		    1);
	}
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	out = malloc((size_t)n);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(bio);
	return out;
}

static void
test_private_key_refused(void **state)
{
	struct root *r = *state;
	static const char *const pems[] = {
		"-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n",
		"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n",
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkq\n-----END ENCRYPTED PRIVATE "
		"KEY-----\n",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH "
		"PRIVATE KEY-----\n",
	};
	EVP_PKEY *ec = make_key(KEY_P256), *rsa = make_key(KEY_RSA1024);
	X509 *ca = make_ca(ec, "Audit Test Root");
	char *cert = cert_pem(ca), *keypem = key_pem(ec), *bundle, head[41], now[41], id[41];
	unsigned char *der;
	size_t derlen, i;
	struct audit_file good = file("etc/ssl/certs/ok.pem", cert);
	struct audit_file files[2];
	struct audit_change ch = { .subject_line = "try a key", .operator_name = "mallory" };
	struct audit *a = open_log(r);
	bool is_empty;
	long before;
	int form;

	record(r, a, &good, 1, "a good change", head);
	before = count_objects(r);

	/* a PEM key alone, after a certificate, and of every kind */
	bundle = concat(cert, keypem, NULL);
	files[0] = file("etc/ssl/certs/new.pem", cert);
	files[1] = file("etc/trustfix/client.key", keypem);
	expect_error(r, audit_record(id, a, files, 2, &ch), TF_EREFUSED, "etc/trustfix/client.key");
	files[1] = file("etc/ssl/certs/bundle.pem", bundle);
	expect_error(r, audit_record(id, a, files, 2, &ch), TF_EREFUSED,
	    "etc/ssl/certs/bundle.pem");
	for (i = 0; i < sizeof(pems) / sizeof(pems[0]); i++) {
		files[1] = file("etc/keys/k.pem", pems[i]);
		expect_error(r, audit_record(id, a, files, 2, &ch), TF_EREFUSED, "etc/keys/k.pem");
	}
	/* a link cannot smuggle one either */
	files[1] = link_to("etc/keys/l", "PRIVATE KEY");
	expect_error(r, audit_record(id, a, files, 2, &ch), TF_EREFUSED, "etc/keys/l");
	/* DER keys: PKCS#8, traditional (EC and RSA), encrypted PKCS#8 */
	for (form = 0; form < 3; form++) {
		der = key_der(form == 1 ? rsa : ec, form, &derlen);
		files[1] = (struct audit_file){ .path = "etc/keys/k.der",
			.data = der,
			.len = derlen,
			.mode = AUDIT_MODE_FILE };
		expect_error(r, audit_record(id, a, files, 2, &ch), TF_EREFUSED, "etc/keys/k.der");
		free(der);
	}
	der = key_der(ec, 1, &derlen);
	files[1] = (struct audit_file){ .path = "etc/keys/ec.der",
		.data = der,
		.len = derlen,
		.mode = AUDIT_MODE_FILE };
	expect_error(r, audit_record(id, a, files, 2, &ch), TF_EREFUSED, "etc/keys/ec.der");
	free(der);
	/* nor the description */
	ch.reason = keypem;
	expect_error(r, audit_record(id, a, &good, 1, &ch), TF_EREFUSED, "private key");
	ch.reason = NULL;

	/* nothing was written, HEAD did not move */
	assert_int_equal(count_objects(r), before);
	assert_int_equal(audit_head(now, &is_empty, a), 0);
	assert_string_equal(now, head);

	/* a DER certificate is no key */
	der = cert_der(ca, &derlen);
	files[1] = (struct audit_file){ .path = "etc/ssl/certs/ca.der",
		.data = der,
		.len = derlen,
		.mode = AUDIT_MODE_FILE };
	assert_int_equal(audit_record(id, a, files, 2, &ch), 0);
	OPENSSL_free(der);

	audit_free(a);
	assert_fsck_clean(r);
	free(bundle);
	free(cert);
	free(keypem);
	X509_free(ca);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

static void
test_resolve(void **state)
{
	struct root *r = *state;
	struct audit_file f[3] = { file("a", "1"), file("a", "2"), file("a", "3") };
	struct audit *a = open_log(r);
	char c[3][41], id[41], prefix[16], unknown[41], *out;
	size_t i;

	for (i = 0; i < 3; i++)
		record(r, a, &f[i], 1, "change", c[i]);
	assert_int_equal(audit_resolve(id, a, "HEAD"), 0);
	assert_string_equal(id, c[2]);
	assert_int_equal(audit_resolve(id, a, "HEAD~1"), 0);
	assert_string_equal(id, c[1]);
	assert_int_equal(audit_resolve(id, a, "HEAD~2"), 0);
	assert_string_equal(id, c[0]);
	assert_int_equal(audit_resolve(id, a, "HEAD^"), 0);
	assert_string_equal(id, c[1]);
	assert_int_equal(audit_resolve(id, a, "HEAD^^"), 0);
	assert_string_equal(id, c[0]);
	assert_int_equal(audit_resolve(id, a, "HEAD~~"), 0);
	assert_string_equal(id, c[0]);
	assert_int_equal(audit_resolve(id, a, "HEAD~0"), 0);
	assert_string_equal(id, c[2]);
	expect_error(r, audit_resolve(id, a, "HEAD~3"), TF_EUSAGE, "'HEAD~3'");
	assert_string_equal(id, "");
	expect_error(r, audit_resolve(id, a, "HEAD~99999999999999"), TF_EUSAGE, NULL);

	/* ids: full, prefixes of 4 and 7 digits, upper case */
	assert_int_equal(audit_resolve(id, a, c[1]), 0);
	assert_string_equal(id, c[1]);
	for (i = 4; i <= 7; i += 3) {
		memcpy(prefix, c[1], i);
		prefix[i] = '\0';
		if (audit_resolve(id, a, prefix) != 0)
			fail_msg("resolve %s: %s", prefix, r->ctx.errmsg);
		assert_string_equal(id, c[1]);
	}
	for (i = 0; i < 7; i++)
		prefix[i] = (char)(c[1][i] >= 'a' ? c[1][i] - 'a' + 'A' : c[1][i]);
	assert_int_equal(audit_resolve(id, a, prefix), 0);
	assert_string_equal(id, c[1]);

	/* unknown: a prefix of no change, a full unknown id, bad syntax */
	memcpy(unknown, c[0], 41);
	for (unknown[0] = '0'; unknown[0] <= '9'; unknown[0]++) {
		if (unknown[0] != c[0][0] && unknown[0] != c[1][0] && unknown[0] != c[2][0])
			break;
	}
	memcpy(prefix, unknown, 8);
	prefix[8] = '\0';
	expect_error(r, audit_resolve(id, a, prefix), TF_EUSAGE, prefix);
	expect_error(r, audit_resolve(id, a, unknown), TF_EUSAGE, unknown);
	expect_error(r, audit_resolve(id, a, "abc"), TF_EUSAGE, "'abc'");
	expect_error(r, audit_resolve(id, a, "main"), TF_EUSAGE, "'main'");
	expect_error(r, audit_resolve(id, a, "HEAD~1x"), TF_EUSAGE, "'HEAD~1x'");
	expect_error(r, audit_resolve(id, a, ":/change"), TF_EUSAGE, NULL);
	expect_error(r, audit_resolve(id, a, ""), TF_EUSAGE, NULL);
	/* the id of a tree is no change */
	out = git_ok(r, "rev-parse HEAD^{tree}");
	out[40] = '\0';
	expect_error(r, audit_resolve(id, a, out), TF_EUSAGE, out);
	free(out);
	audit_free(a);
}

static void
test_resolve_ambiguous(void **state)
{
	struct root *r = *state;
	struct audit_file f = file("a", "1");
	struct audit *a = open_log(r);
	char id[41], *stream, *path, *out, prefix[5], *s = tf_strdup(""), *next;
	size_t i, count = 0;
	int status;

	record(r, a, &f, 1, "start", id);
	/* 1500 more commits, quickly, with the git CLI: two share 4 digits */
	for (i = 0; i < 1500; i++) {
		char *msg = tf_asprintf("change %zu\n", i), *cmd;

		cmd = tf_asprintf("commit refs/heads/main\ncommitter t <t@t> %lld +0000\ndata "
		                  "%zu\n%s%s\n",
		    (long long)TEST_NOW + (long long)i, strlen(msg), msg,
		    i == 0 ? "from refs/heads/main^0\n" : "");
		next = concat(s, cmd, NULL);
		free(s);
		s = next;
		free(cmd);
		free(msg);
	}
	path = tf_path_join(r->dir, "stream");
	write_str(r->dir, "stream", s);
	stream = git_run(r, &status, "fast-import --quiet < '%s' 2>&1", path);
	if (status != 0)
		fail_msg("git fast-import: %s", stream);
	free(stream);
	free(path);
	free(s);

	out = git_ok(r, "log --format=%%H | cut -c1-4 | sort | uniq -d | head -n 1");
	assert_int_equal(strlen(out), 5);
	memcpy(prefix, out, 4);
	prefix[4] = '\0';
	free(out);
	expect_error(r, audit_resolve(id, a, prefix), TF_EUSAGE, "ambiguous");

	/* every one of them still resolves by a longer prefix, and the log walks them all */
	out = git_ok(r, "log --format=%%H | grep '^%s' | head -n 1", prefix);
	out[12] = '\0';
	assert_int_equal(audit_resolve(id, a, out), 0);
	assert_memory_equal(id, out, 12);
	free(out);
	assert_int_equal(audit_log(a, NULL, 0, count_entry, &count), 0);
	assert_int_equal(count, 1501);
	count = 0;
	assert_int_equal(audit_log(a, NULL, 10, count_entry, &count), 0);
	assert_int_equal(count, 10);
	audit_free(a);
}

static void
test_log_from_and_stop(void **state)
{
	struct root *r = *state;
	struct audit_file f = file("a", "1");
	struct audit *a = open_log(r);
	struct entries es = { 0 };
	char c[5][41], name[8];
	size_t i;

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "c%zu", i);
		record(r, a, &f, 1, name, c[i]);
	}
	assert_int_equal(audit_log(a, NULL, 2, collect_entry, &es), 0);
	assert_int_equal(es.n, 2);
	assert_string_equal(es.v[0].subject, "c4");
	assert_string_equal(es.v[1].subject, "c3");
	assert_string_equal(es.v[0].parent, c[3]);
	entries_release(&es);

	assert_int_equal(audit_log(a, "HEAD~3", 0, collect_entry, &es), 0);
	assert_int_equal(es.n, 2);
	assert_string_equal(es.v[0].id, c[1]);
	assert_string_equal(es.v[1].id, c[0]);
	assert_string_equal(es.v[1].parent, "");
	entries_release(&es);

	/* one change, as 'show' wants it */
	assert_int_equal(audit_log(a, c[2], 1, collect_entry, &es), 0);
	assert_int_equal(es.n, 1);
	assert_string_equal(es.v[0].subject, "c2");
	entries_release(&es);

	/* the callback stops the walk, its value comes back */
	es.stop_at = 2;
	assert_int_equal(audit_log(a, NULL, 0, collect_entry, &es), 7);
	assert_int_equal(es.n, 2);
	entries_release(&es);
	expect_error(r, audit_log(a, "nope", 0, collect_entry, &es), TF_EUSAGE, "'nope'");
	audit_free(a);
}

static void
test_invalid_input(void **state)
{
	struct root *r = *state;
	static const char *const paths[] = { "/etc/x", "../x", "a//b", "a/./b", "a/../b",
		".git/config", "a/.GIT/x", "", "a/", ".", "tab\there" };
	static const char *const bad_keys[] = { "Bad Key" };
	static const char *const reserved[] = { "trustfix-reason" };
	static const char *const values[] = { "v" };
	struct audit_file ok = file("etc/x", "x"), f;
	struct audit_change ch = { .subject_line = "s" };
	struct audit *a = open_log(r);
	char id[41];
	size_t i;
	long before;

	record(r, a, &ok, 1, "first", NULL);
	before = count_objects(r);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		f = file(paths[i], "x");
		expect_error(r, audit_record(id, a, &f, 1, &ch), TF_EINVALID,
		    strchr(paths[i], '\t') != NULL ? "'tab\\x09here'" : paths[i]);
	}
	f = (struct audit_file){ .path = "etc/x", .data = NULL, .len = 3, .mode = AUDIT_MODE_FILE };
	expect_error(r, audit_record(id, a, &f, 1, &ch), TF_EINVALID, "etc/x");
	ch.trailer_keys = bad_keys;
	ch.trailer_values = values;
	ch.ntrailers = 1;
	expect_error(r, audit_record(id, a, &ok, 1, &ch), TF_EINVALID, "Bad Key");
	ch.trailer_keys = reserved;
	expect_error(r, audit_record(id, a, &ok, 1, &ch), TF_EINVALID, "trustfix-reason");
	ch.ntrailers = 0;
	ch.subject_line = " \n\t ";
	expect_error(r, audit_record(id, a, &ok, 1, &ch), TF_EINVALID, "subject");
	ch.subject_line = NULL;
	expect_error(r, audit_record(id, a, &ok, 1, &ch), TF_EINVALID, "subject");
	assert_int_equal(count_objects(r), before);
	audit_free(a);
}

static void
test_stale_lock(void **state)
{
	struct root *r = *state;
	struct audit_file f1 = file("a", "1"), f2 = file("a", "2");
	struct audit *a = open_log(r);
	char id[41], *lock, *tmp;
	struct stat st;

	record(r, a, &f1, 1, "first", NULL);
	/* what a run killed during the ref update leaves */
	lock = tf_asprintf("%s%s/refs/heads/main.lock", r->dir, AUDIT_REPO_PATH);
	tmp = tf_asprintf("%s%s/objects/tmp_object_git2_AbCdEf", r->dir, AUDIT_REPO_PATH);
	write_str("/", lock + 1, "");
	write_str("/", tmp + 1, "partial");
	{
		struct audit_change ch = { .subject_line = "second" };

		expect_error(r, audit_record(id, a, &f2, 1, &ch), TF_ELOCKED, "main.lock");
	}
	assert_int_equal(audit_recover(a), 0);
	assert_int_equal(stat(lock, &st), -1);
	assert_int_equal(stat(tmp, &st), -1);
	record(r, a, &f2, 1, "second", NULL);
	assert_git_equal(r, "second\nfirst\n", "log --format=%s");
	audit_free(a);
	assert_fsck_clean(r);
	free(lock);
	free(tmp);
}

static void
test_symlinked_state_dir_stays_in_root(void **state)
{
	struct root *r = *state;
	struct audit_file f = file("a", "1");
	char *outside = tmpdir_new(), *path;
	struct audit *a;
	struct stat st;

	/* an absolute link in the image: it means <root>/elsewhere, not the host's */
	path = tf_asprintf("%s/var/lib", r->dir);
	write_str(r->dir, "var/.keep", "");
	assert_int_equal(symlink(outside, path), 0);
	free(path);
	path = tf_asprintf("%s/.keep", outside + 1);
	write_str(r->dir, path, "");
	free(path);
	a = open_log(r);
	assert_memory_equal(audit_path(a), r->dir, strlen(r->dir));
	record(r, a, &f, 1, "inside", NULL);
	audit_free(a);
	path = tf_asprintf("%s/trustfix", outside);
	assert_int_equal(stat(path, &st), -1);
	free(path);
	path = tf_asprintf("%s%s%s", r->dir, outside, "/trustfix/audit.git/HEAD");
	assert_int_equal(stat(path, &st), 0);
	free(path);
	rm_rf(outside);
	free(outside);
}

static void
test_open_refuses_what_is_no_log(void **state)
{
	struct root *r = *state;
	struct audit *a = NULL;
	char *path;

	/* a folder that is not a repository is not taken over */
	write_str(r->dir, "var/lib/trustfix/audit.git/junk", "x");
	expect_error(r, audit_open(&a, &r->ctx, 0), TF_EIO, "not a git repository");
	assert_null(a);
	expect_error(r, audit_open(&a, &r->ctx, AUDIT_OPEN_READONLY), TF_EIO, "audit.git");
	rm_rf(r->dir);
	assert_int_equal(mkdir(r->dir, 0700), 0);
	assert_int_equal(tf_ctx_set_root(&r->ctx, r->dir), 0);

	/* nor a link in its place */
	write_str(r->dir, "var/lib/trustfix/elsewhere/.keep", "");
	path = tf_asprintf("%s%s", r->dir, AUDIT_REPO_PATH);
	assert_int_equal(symlink("elsewhere", path), 0);
	free(path);
	expect_error(r, audit_open(&a, &r->ctx, 0), TF_EIO, "not a directory");
	assert_null(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_bare_repo, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_record_three_changes, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_trailers_round_trip, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_message_is_sanitised, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_private_key_refused, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_resolve, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_resolve_ambiguous, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_log_from_and_stop, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_input, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_stale_lock, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_what_is_no_log, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_state_dir_stays_in_root, root_setup,
		    root_teardown),
	};

	return cmocka_run_group_tests_name("audit/repo", tests, NULL, NULL);
}
