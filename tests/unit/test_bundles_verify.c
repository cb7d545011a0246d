/*
 * tests/unit/test_bundles_verify.c - bundles made with bundle_create() from
 * keys and certificates made here, then verified: pinned signers (file,
 * folder, chain), weak keys and digests, expiry, the installed record and
 * versions, the clock, the installed policy, staging and the list.
 */
#include "helpers.h"

#include <openssl/cms.h>

#include "bundles/internal.h"
#include "core/config.h"

struct fx {
	struct root r; /* first: root_setup()'s state */
	char *signer_cert, *signer_key;
	char *ca1, *ca2; /* certificate files to add */
	unsigned char ca1_sha[32], ca2_sha[32];
	EVP_PKEY *key;
	X509 *cert;
};

static char *
in_dir(struct fx *f, const char *name)
{
	return tf_path_join(f->r.dir, name);
}

static void
save(struct fx *f, const char *name, const char *text)
{
	write_str(f->r.dir, name, text);
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct root *r;
	EVP_PKEY *k1, *k2;
	X509 *c1, *c2;
	char *pem;

	if (f == NULL || root_setup(state) != 0)
		return -1;
	r = *state;
	f->r = *r;
	free(r);
	*state = f;
	f->r.ctx.cfg = tf_config_new();
	f->r.ctx.cfg->bundle_signers = tf_strdup("/etc/trustfix/signers.pem");
	f->key = make_key(KEY_P256);
	f->cert = make_ca(f->key, "Bundle Signer");
	save(f, "in/signer.pem", pem = cert_pem(f->cert));
	save(f, "etc/trustfix/signers.pem", pem);
	free(pem);
	save(f, "in/signer.key", pem = key_pem(f->key));
	free(pem);
	f->signer_cert = in_dir(f, "in/signer.pem");
	f->signer_key = in_dir(f, "in/signer.key");
	k1 = make_key(KEY_P256);
	k2 = make_key(KEY_P256);
	c1 = make_ca(k1, "Root One");
	c2 = make_ca(k2, "Root Two");
	cert_sha256(c1, f->ca1_sha);
	cert_sha256(c2, f->ca2_sha);
	save(f, "in/one.pem", pem = cert_pem(c1));
	free(pem);
	save(f, "in/two.pem", pem = cert_pem(c2));
	free(pem);
	f->ca1 = in_dir(f, "in/one.pem");
	f->ca2 = in_dir(f, "in/two.pem");
	X509_free(c1);
	X509_free(c2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	struct root *r = tf_calloc(1, sizeof(*r));

	free(f->signer_cert);
	free(f->signer_key);
	free(f->ca1);
	free(f->ca2);
	EVP_PKEY_free(f->key);
	X509_free(f->cert);
	tf_config_free(f->r.ctx.cfg);
	*r = f->r;
	free(f);
	*state = r;
	return root_teardown(state);
}

/* Make bundle 'name' version 'v', created at 'created', into 'out' (in the test folder). */
static char *
make_at(struct fx *f, const char *out, long long v, const char *add, time_t created)
{
	const char *adds[] = { add != NULL ? add : f->ca1 };
	struct bundle_ref rm = { .name = "Old Root" };
	struct bundle_create_opts o = {
		.name = "site-roots",
		.version = v,
		.signer_cert = f->signer_cert,
		.signer_key = f->signer_key,
		.add = adds,
		.nadd = 1,
		.remove = &rm,
		.nremove = 1,
		.created = created,
		.expires = TEST_NOW + 30 * DAY,
	};
	char *path = in_dir(f, out);

	memset(rm.sha256, 0xab, 32);
	o.output = path;
	tf_error_clear(&f->r.ctx);
	if (bundle_create(&f->r.ctx, &o) != 0)
		fail_msg("bundle_create: %s", f->r.ctx.errmsg);
	return path;
}

static char *
make(struct fx *f, const char *out, long long v, const char *add)
{
	return make_at(f, out, v, add, TEST_NOW - DAY);
}

/* Open and verify; returns the code, the bundle in *out (freed when NULL). */
static int
verify(struct fx *f, const char *path, const char *signers, bool downgrade, struct bundle **out)
{
	struct bundle_verify_opts o = { .signers = signers, .allow_downgrade = downgrade };
	struct bundle *b = NULL;
	int rc;

	tf_error_clear(&f->r.ctx);
	if ((rc = bundle_open_file(&b, &f->r.ctx, path)) == 0)
		rc = bundle_verify(b, &f->r.ctx, &o);
	if (out != NULL)
		*out = b;
	else
		bundle_free(b);
	return rc;
}

static void
assert_error(struct fx *f, int rc, int want, const char *what)
{
	assert_int_equal(rc, want);
	if (strstr(f->r.ctx.errmsg, what) == NULL)
		fail_msg("error is '%s', expected '%s'", f->r.ctx.errmsg, what);
}

/* Record 'b' as installed, as the apply transaction would. */
static void
install(struct fx *f, struct bundle *b)
{
	char *path, *data;
	size_t len;

	bundle_installed_record(b, &f->r.ctx, &path, &data, &len);
	write_file(f->r.dir, path + 1, data, len);
	free(path);
	free(data);
}

static void
test_create_verify(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	const struct bundle_manifest *m;
	const char *sha;
	unsigned char md[32];
	char *path = make(f, "b1.tar.gz", 1, NULL), hex[65];

	assert_int_equal(verify(f, path, NULL, false, &b), 0);
	assert_non_null(m = bundle_manifest(b));
	assert_string_equal(m->name, "site-roots");
	assert_int_equal(m->version, 1);
	assert_int_equal(m->nadd, 1);
	assert_memory_equal(m->add[0].sha256, f->ca1_sha, 32);
	assert_string_equal(m->add[0].name, "Root One");
	assert_string_equal(m->add[0].file, "certs/root-one.pem");
	assert_non_null(m->add[0].der);
	bundle_sha256(md, m->add[0].der, m->add[0].der_len);
	assert_memory_equal(md, f->ca1_sha, 32);
	assert_int_equal(m->nremove, 1);
	assert_string_equal(m->remove[0].name, "Old Root");
	assert_int_equal(bundle_status(b, NULL), BUNDLE_NEW);
	assert_string_equal(bundle_signer(b, &sha), "O=trustfix tests, CN=Bundle Signer");
	cert_sha256(f->cert, md);
	tf_hex(hex, md, 32);
	assert_string_equal(sha, hex);
	assert_int_equal(strlen(bundle_manifest_sha256(b)), 64);
	bundle_free(b);
	free(path);
}

static void
test_signers(void **state)
{
	struct fx *f = *state;
	char *path = make(f, "b1.tar.gz", 1, NULL), *dir, *other;
	EVP_PKEY *k = make_key(KEY_P256);
	X509 *x = make_ca(k, "Stranger");
	char *pem = cert_pem(x);

	/* --signers: a file, and a folder, read as given */
	assert_int_equal(verify(f, path, f->signer_cert, false, NULL), 0);
	save(f, "signers.d/a.pem", pem);
	save(f, "signers.d/b.pem", "not a certificate\n");
	dir = in_dir(f, "signers.d");
	assert_error(f, verify(f, path, dir, false, NULL), TF_EREFUSED,
	    "the signer 'O=trustfix tests, CN=Bundle Signer' is not pinned in");
	{
		char *mine = cert_pem(f->cert);

		save(f, "signers.d/c.pem", mine);
		free(mine);
	}
	assert_int_equal(verify(f, path, dir, false, NULL), 0);

	/* bundle_signers as a folder of the managed system */
	save(f, "etc/trustfix/signers.d/x.pem", pem);
	free(f->r.ctx.cfg->bundle_signers);
	f->r.ctx.cfg->bundle_signers = tf_strdup("/etc/trustfix/signers.d");
	assert_error(f, verify(f, path, NULL, false, NULL), TF_EREFUSED, "is not pinned in '");
	other = in_dir(f, "etc/trustfix/signers.d/x.pem");
	assert_int_equal(unlink(other), 0);
	free(other);
	save(f, "etc/trustfix/signers.d/y.pem", "");
	assert_error(f, verify(f, path, NULL, false, NULL), TF_ECONFIG,
	    "signers.d' (bundle_signers) holds no PEM certificate");

	/* none configured */
	free(f->r.ctx.cfg->bundle_signers);
	f->r.ctx.cfg->bundle_signers = NULL;
	assert_error(f, verify(f, path, NULL, false, NULL), TF_ECONFIG,
	    "no bundle signer is pinned: set 'bundle_signers'");
	free(dir);
	free(pem);
	free(path);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_chain(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *cak = make_key(KEY_P384), *leafk = make_key(KEY_RSA2048);
	X509 *ca = make_ca(cak, "Publisher CA");
	struct certspec s = { .cn = "Publisher Signer",
		.key = leafk,
		.issuer = ca,
		.issuer_key = cak,
		.bc = BC_LEAF };
	X509 *leaf = make_cert(&s);
	char *pem, *capath, *path;

	save(f, "in/leaf.pem", pem = cert_pem(leaf));
	free(pem);
	save(f, "in/leaf.key", pem = key_pem(leafk));
	free(pem);
	save(f, "in/ca.pem", pem = cert_pem(ca));
	free(pem);
	free(f->signer_cert);
	free(f->signer_key);
	f->signer_cert = in_dir(f, "in/leaf.pem");
	f->signer_key = in_dir(f, "in/leaf.key");
	path = make(f, "chain.tar.gz", 1, NULL);
	capath = in_dir(f, "in/ca.pem");
	if (verify(f, path, capath, false, NULL) != 0) /* only the CA pinned */
		fail_msg("%s", f->r.ctx.errmsg);
	if (verify(f, path, f->signer_cert, false, NULL) != 0) /* or the leaf */
		fail_msg("%s", f->r.ctx.errmsg);
	/* the signer's validity is checked at the run's time */
	f->r.ctx.now = TEST_NOW + 400 * DAY;
	assert_error(f, verify(f, path, capath, false, NULL), TF_EREFUSED, "is not pinned");
	free(capath);
	free(path);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(leafk);
}

/* The bundle at 'path' with manifest.json.sig replaced by a CMS made here. */
static char *
resign(struct fx *f, const char *path, const char *out, X509 *cert, EVP_PKEY *key, const EVP_MD *md)
{
	struct bundle *b = NULL;
	const struct bundle_entry *man;
	struct bundle_entry *sig;
	CMS_ContentInfo *cms;
	BIO *in;
	unsigned char *der = NULL, *tgz;
	size_t len;
	int n;
	char *outpath = in_dir(f, out);

	assert_int_equal(bundle_open_file(&b, &f->r.ctx, path), 0);
	man = entries_find(&b->e, MANIFEST_NAME);
	sig = (struct bundle_entry *)entries_find(&b->e, SIGNATURE_NAME);
	assert_non_null(in = BIO_new_mem_buf(man->data, (int)man->len));
	assert_non_null(
	    cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_BINARY | CMS_DETACHED | CMS_PARTIAL));
	assert_non_null(CMS_add1_signer(cms, cert, key, md, CMS_BINARY));
	assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY | CMS_DETACHED), 1);
	assert_true((n = i2d_CMS_ContentInfo(cms, &der)) > 0);
	free(sig->data);
	sig->data = tf_malloc((size_t)n);
	memcpy(sig->data, der, (size_t)n);
	sig->len = (size_t)n;
	assert_int_equal(archive_write_bundle(&f->r.ctx, b->e.v, b->e.n, TEST_NOW, &tgz, &len), 0);
	write_file(f->r.dir, out, tgz, len);
	free(tgz);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	bundle_free(b);
	return outpath;
}

static void
test_weak(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *weak = make_key(KEY_RSA1024);
	X509 *wx = make_ca(weak, "Weak Signer");
	char *path = make(f, "b1.tar.gz", 1, NULL), *p, *pem, *pinned;

	p = resign(f, path, "sha1.tar.gz", f->cert, f->key, EVP_sha1());
	assert_error(f, verify(f, p, NULL, false, NULL), TF_EREFUSED,
	    "the signature uses the digest SHA1: SHA-256 or better is required");
	free(p);
	p = resign(f, path, "sha384.tar.gz", f->cert, f->key, EVP_sha384());
	assert_int_equal(verify(f, p, NULL, false, NULL), 0);
	free(p);
	p = resign(f, path, "weak.tar.gz", wx, weak, EVP_sha256());
	save(f, "in/weak-signers.pem", pem = cert_pem(wx));
	pinned = in_dir(f, "in/weak-signers.pem");
	assert_error(f, verify(f, p, pinned, false, NULL), TF_EREFUSED,
	    "has an RSA key shorter than 2048 bits");
	free(pinned);
	free(pem);
	free(p);
	/* and bundle_create() will not sign with it */
	save(f, "in/weak.pem", pem = cert_pem(wx));
	free(pem);
	save(f, "in/weak.key", pem = key_pem(weak));
	free(pem);
	free(f->signer_cert);
	free(f->signer_key);
	f->signer_cert = in_dir(f, "in/weak.pem");
	f->signer_key = in_dir(f, "in/weak.key");
	{
		const char *adds[] = { f->ca1 };
		struct bundle_create_opts o = { .name = "x",
			.version = 1,
			.signer_cert = f->signer_cert,
			.signer_key = f->signer_key,
			.add = adds,
			.nadd = 1,
			.created = TEST_NOW,
			.expires = TEST_NOW + DAY };
		char *out = in_dir(f, "never.tar.gz");

		o.output = out;
		tf_error_clear(&f->r.ctx);
		assert_error(f, bundle_create(&f->r.ctx, &o), TF_EINVALID,
		    "has an RSA key shorter than 2048 bits");
		assert_int_equal(access(out, F_OK), -1);
		free(out);
	}
	free(path);
	X509_free(wx);
	EVP_PKEY_free(weak);
}

static void
test_expired(void **state)
{
	struct fx *f = *state;
	char *path = make(f, "b1.tar.gz", 1, NULL);

	f->r.ctx.now = TEST_NOW + 30 * DAY;
	assert_error(f, verify(f, path, NULL, false, NULL), TF_EREFUSED,
	    "bundle site-roots version 1 expired on 2026-01-31T00:00:00Z");
	f->r.ctx.now = TEST_NOW + 30 * DAY - 1;
	assert_int_equal(verify(f, path, NULL, false, NULL), 0);
	free(path);
}

static void
test_versions(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	long long installed;
	char *v1 = make(f, "v1.tar.gz", 1, NULL), *v2 = make(f, "v2.tar.gz", 2, NULL);
	char *v2b = make(f, "v2b.tar.gz", 2, f->ca2);

	assert_int_equal(verify(f, v2, NULL, false, &b), 0);
	install(f, b);
	bundle_free(b);
	assert_int_equal(verify(f, v2, NULL, false, &b), 0);
	assert_int_equal(bundle_status(b, &installed), BUNDLE_INSTALLED);
	assert_int_equal(installed, 2);
	bundle_free(b);
	assert_error(f, verify(f, v2b, NULL, false, NULL), TF_EREFUSED,
	    "bundle site-roots version 2 is installed with other content");
	assert_error(f, verify(f, v1, NULL, false, NULL), TF_EREFUSED,
	    "version 1 is older than the installed version 2 (a downgrade)");
	assert_int_equal(verify(f, v1, NULL, true, &b), 0);
	assert_int_equal(bundle_status(b, &installed), BUNDLE_DOWNGRADE);
	assert_int_equal(installed, 2);
	install(f, b);
	bundle_free(b);
	assert_int_equal(verify(f, v2, NULL, false, &b), 0);
	assert_int_equal(bundle_status(b, &installed), BUNDLE_UPGRADE);
	assert_int_equal(installed, 1);
	bundle_free(b);
	free(v1);
	free(v2);
	free(v2b);
}

static void
test_clock(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL;
	char *path = make(f, "b1.tar.gz", 1, NULL), *clock = NULL;
	char *cpath = in_dir(f, "var/lib/trustfix/bundle-clock");
	size_t len;

	save(f, "var/lib/trustfix/bundle-clock", "2026-01-05T00:00:00Z\n");
	assert_error(f, verify(f, path, NULL, false, NULL), TF_EREFUSED,
	    "the system clock (2026-01-01T00:00:00Z) is earlier than the creation of the last "
	    "bundle applied (2026-01-05T00:00:00Z)");
	save(f, "var/lib/trustfix/bundle-clock", "garbage\n");
	assert_error(f, verify(f, path, NULL, false, NULL), TF_ECONFIG, "bundle-clock' is damaged");
	save(f, "var/lib/trustfix/bundle-clock", "2025-01-01T00:00:00Z\n");
	assert_int_equal(verify(f, path, NULL, false, &b), 0);
	/* raised to the bundle's creation after it is applied, never lowered */
	assert_int_equal(bundle_note_applied(b, &f->r.ctx), 0);
	assert_int_equal(tf_read_input(&f->r.ctx, cpath, 64, &clock, &len), 0);
	assert_string_equal(clock, "2025-12-31T00:00:00Z\n");
	free(clock);
	save(f, "var/lib/trustfix/bundle-clock", "2025-12-31T12:00:00Z\n");
	assert_int_equal(bundle_note_applied(b, &f->r.ctx), 0);
	assert_int_equal(tf_read_input(&f->r.ctx, cpath, 64, &clock, &len), 0);
	assert_string_equal(clock, "2025-12-31T12:00:00Z\n");
	free(clock);
	bundle_free(b);
	/* an installed record counts as well: one created tomorrow */
	save(f, "var/lib/trustfix/bundle-clock", "2020-01-01T00:00:00Z\n");
	free(path);
	path = make_at(f, "future.tar.gz", 2, NULL, TEST_NOW + DAY);
	f->r.ctx.now = TEST_NOW + DAY;
	assert_int_equal(verify(f, path, NULL, false, &b), 0);
	install(f, b);
	free(path);
	path = make(f, "b3.tar.gz", 3, NULL);
	f->r.ctx.now = TEST_NOW;
	assert_error(f, verify(f, path, NULL, false, NULL), TF_EREFUSED,
	    "is earlier than the creation of the last bundle applied (2026-01-02T00:00:00Z)");
	bundle_free(b);
	free(cpath);
	free(path);
}

static void
test_policy(void **state)
{
	struct fx *f = *state;
	struct tf_policy *p = NULL;
	struct bundle *b = NULL;
	struct bundle_create_opts o;
	char *path = make(f, "b1.tar.gz", 1, NULL), *other;

	assert_int_equal(bundle_installed_policy(&p, &f->r.ctx), 0);
	assert_null(p);
	assert_int_equal(bundle_policy_load(&p, &f->r.ctx, NULL), 0);
	assert_string_equal(p->source, "built-in");
	tf_policy_free(p);

	assert_int_equal(verify(f, path, NULL, false, &b), 0);
	install(f, b);
	bundle_free(b);
	assert_int_equal(bundle_policy_load(&p, &f->r.ctx, NULL), 0);
	assert_string_equal(p->name, "site-roots");
	assert_string_equal(p->source, "bundle site-roots version 1");
	assert_int_equal(p->ndecommissioned, 1);
	assert_string_equal(p->decommissioned[0].name, "Old Root");
	assert_int_equal(p->nrequired, 0);
	tf_policy_free(p);

	/* a second bundle: the policies merged */
	{
		const char *adds[] = { f->ca2 };
		struct bundle_ref req;

		memcpy(req.sha256, f->ca2_sha, 32);
		req.name = NULL;
		req.reason = NULL;
		memset(&o, 0, sizeof(o));
		o.name = "vendor";
		o.version = 4;
		o.signer_cert = f->signer_cert;
		o.signer_key = f->signer_key;
		o.add = adds;
		o.nadd = 1;
		o.require = &req;
		o.nrequire = 1;
		o.created = TEST_NOW - DAY;
		o.expires = TEST_NOW + DAY;
		o.output = other = in_dir(f, "vendor.tar.gz");
		assert_int_equal(bundle_create(&f->r.ctx, &o), 0);
	}
	assert_int_equal(verify(f, other, NULL, false, &b), 0);
	assert_string_equal(bundle_manifest(b)->require[0].name, "Root Two");
	install(f, b);
	bundle_free(b);
	assert_int_equal(bundle_installed_policy(&p, &f->r.ctx), 0);
	assert_string_equal(p->name, "site-roots + vendor");
	assert_int_equal(p->ndecommissioned, 1);
	assert_int_equal(p->nrequired, 1);
	assert_memory_equal(p->required[0].sha256, f->ca2_sha, 32);
	tf_policy_free(p);

	/* a damaged record is a configuration error, not a silent default */
	save(f, "var/lib/trustfix/bundles/vendor.json", "{");
	tf_error_clear(&f->r.ctx);
	assert_error(f, bundle_policy_load(&p, &f->r.ctx, NULL), TF_ECONFIG, "bundle record '");
	free(other);
	free(path);
}

static void
test_stage_list(void **state)
{
	struct fx *f = *state;
	struct bundle *b = NULL, *s = NULL;
	struct bundle_listing *v = NULL;
	struct bundle_verify_opts vo = { 0 };
	size_t n;
	bool same;
	char *v1 = make(f, "v1.tar.gz", 1, NULL), *v2 = make(f, "v2.tar.gz", 2, NULL), *link;

	assert_int_equal(verify(f, v1, NULL, false, &b), 0);
	assert_int_equal(bundle_stage(b, &f->r.ctx, &same), 0);
	assert_false(same);
	assert_int_equal(bundle_stage(b, &f->r.ctx, &same), 0);
	assert_true(same);
	assert_int_equal(bundle_open_staged(&s, &f->r.ctx, "site-roots"), 0);
	assert_int_equal(bundle_verify(s, &f->r.ctx, &vo), 0);
	assert_string_equal(bundle_manifest_sha256(s), bundle_manifest_sha256(b));
	bundle_free(s);
	install(f, b);
	bundle_free(b);

	assert_int_equal(verify(f, v2, NULL, false, &b), 0);
	assert_int_equal(bundle_stage(b, &f->r.ctx, &same), 0); /* replaces v1 */
	assert_false(same);
	bundle_free(b);
	assert_int_equal(bundle_list(&v, &n, &f->r.ctx), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "site-roots");
	assert_true(v[0].installed);
	assert_int_equal(v[0].version, 1);
	assert_string_equal(v[0].signer, "O=trustfix tests, CN=Bundle Signer");
	assert_false(v[1].installed);
	assert_int_equal(v[1].version, 2);
	bundle_listing_free(v, n);

	tf_error_clear(&f->r.ctx);
	assert_error(f, bundle_open_staged(&s, &f->r.ctx, "nothing"), TF_EUSAGE,
	    "no bundle of that name is staged");
	tf_error_clear(&f->r.ctx);
	assert_error(f, bundle_open_staged(&s, &f->r.ctx, "../etc"), TF_EUSAGE,
	    "is neither a file nor a bundle name");

	/* a link planted in the staging area is refused like one in an archive */
	link = in_dir(f, "var/lib/trustfix/staging/site-roots/certs/evil.pem");
	assert_int_equal(symlink("/etc/passwd", link), 0);
	tf_error_clear(&f->r.ctx);
	assert_error(f, bundle_open_staged(&s, &f->r.ctx, "site-roots"), TF_EINVALID,
	    "entry 'certs/evil.pem': is a symbolic link");
	free(link);
	free(v1);
	free(v2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_verify, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_signers, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_chain, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_weak, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_expired, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_versions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_clock, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_policy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stage_list, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("bundles/verify", tests, NULL, NULL);
}
