/*
 * tests/unit/helpers.h - what the unit tests share: keys and certificates
 * made at test time, a temporary root with files in it, and a scan driver.
 */
#ifndef TF_TEST_HELPERS_H
#define TF_TEST_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/path.h"
#include "core/tf.h"
#include "truststore/truststore.h"

#define DAY 86400
/* The pinned clock of the tests: 2026-01-01T00:00:00Z. */
#define TEST_NOW ((time_t)1767225600)

/* ---- keys and certificates ---- */

enum key_kind { KEY_RSA1024, KEY_RSA2048, KEY_P256, KEY_P384, KEY_ED25519 };

static inline EVP_PKEY *
make_key(enum key_kind kind)
{
	EVP_PKEY *pk = NULL;

	switch (kind) {
	case KEY_RSA1024:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
		break;
	case KEY_RSA2048:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case KEY_P256:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case KEY_P384:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case KEY_ED25519:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	assert_non_null(pk);
	return pk;
}

enum bc { BC_CA, BC_LEAF, BC_NONE };

/* What make_cert() makes; zero values give a sound self-signed v3 CA. */
struct certspec {
	const char *cn;        /* subject CN; NULL: "trustfix test" */
	const X509_NAME *name; /* the whole subject instead of 'cn' */
	EVP_PKEY *key;         /* the certificate's key: required */
	X509 *issuer;          /* NULL: self-signed */
	EVP_PKEY *issuer_key;  /* the issuer's key, with 'issuer' */
	int version;           /* 1 (no extensions) or 3; 0: 3 */
	enum bc bc;            /* basicConstraints CA:TRUE, CA:FALSE or none */
	const char *key_usage; /* keyUsage as openssl.cnf writes it, or NULL */
	const EVP_MD *md;      /* NULL: SHA-256; ignored for Ed25519 */
	const char *serial;    /* hex, may start with '-'; NULL: "1000" */
	time_t not_before;     /* 0 for both: TEST_NOW - 1 day ... */
	time_t not_after;      /* ... TEST_NOW + 365 days */
};

static inline X509 *
make_cert(const struct certspec *s)
{
	EVP_PKEY *signer = s->issuer != NULL ? s->issuer_key : s->key;
	const EVP_MD *md = s->md != NULL ? s->md : EVP_sha256();
	X509_NAME *name = NULL;
	ASN1_INTEGER *serial;
	BIGNUM *bn = NULL;
	X509V3_CTX v3;
	X509 *x = X509_new();
	time_t nb = s->not_before, na = s->not_after;

	assert_non_null(x);
	assert_non_null(s->key);
	assert_non_null(signer);
	assert_int_equal(X509_set_version(x, s->version == 1 ? X509_VERSION_1 : X509_VERSION_3), 1);
	assert_true(BN_hex2bn(&bn, s->serial != NULL ? s->serial : "1000") > 0);
	assert_non_null(serial = BN_to_ASN1_INTEGER(bn, NULL));
	assert_int_equal(X509_set_serialNumber(x, serial), 1);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	if (nb == 0 && na == 0) {
		nb = TEST_NOW - DAY;
		na = TEST_NOW + 365 * DAY;
	}
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), na));
	if (s->name != NULL) {
		assert_int_equal(X509_set_subject_name(x, s->name), 1);
	} else {
		assert_non_null(name = X509_NAME_new());
		assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
		                     (const unsigned char *)"trustfix tests", -1, -1, 0),
		    1);
		assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		                     (const unsigned char *)(s->cn ? s->cn : "trustfix test"), -1,
		                     -1, 0),
		    1);
		assert_int_equal(X509_set_subject_name(x, name), 1);
		X509_NAME_free(name);
	}
	assert_int_equal(
	    X509_set_issuer_name(x,
	        s->issuer != NULL ? X509_get_subject_name(s->issuer) : X509_get_subject_name(x)),
	    1);
	assert_int_equal(X509_set_pubkey(x, s->key), 1);
	if (s->version != 1) {
		X509V3_set_ctx(&v3, s->issuer != NULL ? s->issuer : x, x, NULL, NULL, 0);
		if (s->bc != BC_NONE) {
			X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
			    s->bc == BC_CA ? "critical,CA:TRUE" : "critical,CA:FALSE");

			assert_non_null(ext);
			assert_int_equal(X509_add_ext(x, ext, -1), 1);
			X509_EXTENSION_free(ext);
		}
		/* key identifiers, as every CA writes them: they pick the issuer among
		 * certificates of the same name */
		{
			X509_EXTENSION *ext =
			    X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");

			assert_non_null(ext);
			assert_int_equal(X509_add_ext(x, ext, -1), 1);
			X509_EXTENSION_free(ext);
		}
		if (s->issuer != NULL) {
			X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3,
			    NID_authority_key_identifier, "keyid:always");

			assert_non_null(ext);
			assert_int_equal(X509_add_ext(x, ext, -1), 1);
			X509_EXTENSION_free(ext);
		}
		if (s->key_usage != NULL) {
			X509_EXTENSION *ext =
			    X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, s->key_usage);

			assert_non_null(ext);
			assert_int_equal(X509_add_ext(x, ext, -1), 1);
			X509_EXTENSION_free(ext);
		}
	}
	if (EVP_PKEY_get_base_id(signer) == EVP_PKEY_ED25519)
		md = NULL;
	assert_true(X509_sign(x, signer, md) > 0);
	return x;
}

/* A self-signed CA with defaults, named 'cn'. */
static inline X509 *
make_ca(EVP_PKEY *key, const char *cn)
{
	struct certspec s = { .cn = cn, .key = key };

	return make_cert(&s);
}

/* The DER of 'x'; free with OPENSSL_free(). */
static inline unsigned char *
cert_der(const X509 *x, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	*len = (size_t)n;
	return der;
}

static inline void
cert_sha256(const X509 *x, unsigned char out[32])
{
	unsigned int n = 0;

	assert_int_equal(X509_digest(x, EVP_sha256(), out, &n), 1);
	assert_int_equal(n, 32);
}

/* Read what a BIO holds into a new NUL-terminated string. */
static inline char *
bio_string(BIO *bio)
{
	char *data, *s;
	long n = BIO_get_mem_data(bio, &data);

	assert_true(n >= 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

/* PEM of a certificate ("CERTIFICATE"), a new string. */
static inline char *
cert_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	return bio_string(bio);
}

/* PEM of an unencrypted private key ("PRIVATE KEY"), a new string. */
static inline char *
key_pem(EVP_PKEY *pk)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
	return bio_string(bio);
}

/* Concatenate strings up to a NULL into a new string. */
static inline char *
concat(const char *first, ...)
{
	va_list ap;
	size_t n = 0;
	const char *s;
	char *out;

	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *))
		n += strlen(s);
	va_end(ap);
	out = malloc(n + 1);
	assert_non_null(out);
	n = 0;
	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *)) {
		memcpy(out + n, s, strlen(s));
		n += strlen(s);
	}
	va_end(ap);
	out[n] = '\0';
	return out;
}

/* ---- a temporary root ---- */

static inline char *
tmpdir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	dir = tf_asprintf("%s/trustfix-unit-XXXXXX", base);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static inline int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		chmod(path, 0700);
	remove(path); /* best effort: go on with the rest */
	return 0;
}

/* rm -rf 'dir'. */
static inline void
rm_rf(const char *dir)
{
	if (dir != NULL)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write 'len' bytes to 'name' under 'dir' (creating missing folders). */
static inline void
write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = tf_path_join(dir, name), *slash;
	int fd;

	for (slash = strchr(path + strlen(dir) + 1, '/'); slash != NULL;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
		*slash = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	free(path);
}

static inline void
write_str(const char *dir, const char *name, const char *s)
{
	write_file(dir, name, s, strlen(s));
}

static inline void
make_symlink(const char *dir, const char *name, const char *target)
{
	char *path = tf_path_join(dir, name);

	assert_int_equal(symlink(target, path), 0);
	free(path);
}

/* A test's own root: a temporary directory and a context pinned to TEST_NOW. */
struct root {
	char *dir;
	struct tf_ctx ctx;
};

static inline int
root_setup(void **state)
{
	struct root *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->dir = tmpdir_new();
	tf_ctx_init(&r->ctx);
	if (tf_ctx_set_root(&r->ctx, r->dir) != 0)
		return -1;
	r->ctx.now = TEST_NOW;
	*state = r;
	return 0;
}

static inline int
root_teardown(void **state)
{
	struct root *r = *state;

	if (r == NULL)
		return 0;
	tf_ctx_release(&r->ctx);
	rm_rf(r->dir);
	free(r->dir);
	free(r);
	return 0;
}

/* ---- inputs the fuzzers found, kept in tests/data/fuzz-regress ---- */

/*
 * Call 'fn' with the content of every file of tests/data/fuzz-regress whose
 * name starts with 'prefix' (the source tree is $TF_SRC, or the current
 * folder). Returns how many there were.
 */
static inline int
for_each_regress(const char *prefix,
    void (*fn)(const char *name, const unsigned char *data, size_t len, void *arg), void *arg)
{
	const char *src = getenv("TF_SRC") != NULL ? getenv("TF_SRC") : ".";
	char *dir = tf_asprintf("%s/tests/data/fuzz-regress", src);
	struct tf_ctx ctx;
	struct dirent *de;
	DIR *d;
	int n = 0;

	tf_ctx_init(&ctx);
	if ((d = opendir(dir)) == NULL)
		fail_msg("cannot list '%s' (run from the source tree or set TF_SRC)", dir);
	while ((de = readdir(d)) != NULL) {
		char *path, *buf = NULL;
		size_t len;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		path = tf_path_join(dir, de->d_name);
		if (tf_read_input(&ctx, path, 1 << 24, &buf, &len) != 0)
			fail_msg("%s", ctx.errmsg);
		print_message("# %s\n", de->d_name);
		fn(de->d_name, (const unsigned char *)buf, len, arg);
		free(buf);
		free(path);
		n++;
	}
	closedir(d);
	free(dir);
	return n;
}

/* ---- scanning a store ---- */

struct scanned_cert {
	unsigned char sha256[32];
	char *subject;
	char *file;
	long line;
	char *link;
	bool is_ca;
};

struct scanned {
	int rc;
	enum truststore_format format;
	struct truststore_stats stats;
	struct tf_findings findings;
	struct scanned_cert *certs;
	size_t n;
};

static inline int
scanned_add(const struct tf_cert *c, void *arg)
{
	struct scanned *s = arg;
	struct scanned_cert *sc;

	s->certs = tf_realloc(s->certs, (s->n + 1) * sizeof(*s->certs));
	sc = &s->certs[s->n++];
	memcpy(sc->sha256, c->info.sha256, 32);
	sc->subject = tf_strdup(c->info.subject);
	sc->file = tf_strdup(c->file);
	sc->line = c->line;
	sc->link = c->link != NULL ? tf_strdup(c->link) : NULL;
	sc->is_ca = c->info.is_ca;
	/* the DER handed out is the certificate, as its fingerprint says */
	{
		unsigned char md[32];

		SHA256(c->der, c->info.der_len, md);
		assert_memory_equal(md, c->info.sha256, 32);
	}
	return 0;
}

/*
 * Open and scan 'path' under r's root with 'checks' (NULL: no policy,
 * warn_days 30, TEST_NOW). Asserts that opening works; the scan's return
 * value is in s->rc.
 */
static inline void
scan_path(struct root *r, const char *path, const struct truststore_checks *checks,
    struct scanned *s)
{
	struct truststore_checks dflt = { .policy = NULL, .warn_days = 30, .now = TEST_NOW };
	struct truststore *ts = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = truststore_open(&ts, &r->ctx, path, NULL);
	if (rc != 0)
		fail_msg("truststore_open(%s): %d %s", path, rc, r->ctx.errmsg);
	s->format = truststore_format(ts);
	s->rc = truststore_scan(ts, checks != NULL ? checks : &dflt, &s->findings, &s->stats,
	    scanned_add, s);
	truststore_free(ts);
}

static inline void
scanned_release(struct scanned *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->certs[i].subject);
		free(s->certs[i].file);
		free(s->certs[i].link);
	}
	free(s->certs);
	tf_findings_release(&s->findings);
	memset(s, 0, sizeof(*s));
}

static inline size_t
count_kind(const struct tf_findings *f, enum tf_finding_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		n += f->v[i].kind == kind;
	return n;
}

/* The first finding of 'kind', or NULL. */
static inline const struct tf_finding *
find_kind(const struct tf_findings *f, enum tf_finding_kind kind)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->v[i].kind == kind)
			return &f->v[i];
	return NULL;
}

/* Print the findings, to see what a failing test saw. */
static inline void
dump_findings(const struct tf_findings *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		print_message("# finding %s at %s: %s\n", tf_finding_kind_name(f->v[i].kind),
		    f->v[i].where ? f->v[i].where : "-", f->v[i].message);
}

/* Assert that the findings are exactly 'n' of 'kind' and nothing else. */
static inline void
assert_only_findings(const struct tf_findings *f, enum tf_finding_kind kind, size_t n)
{
	if (count_kind(f, kind) != n || f->n != n) {
		dump_findings(f);
		fail_msg("expected %zu '%s' finding(s) and nothing else, got %zu finding(s)", n,
		    tf_finding_kind_name(kind), f->n);
	}
}

static inline void
assert_no_findings(const struct tf_findings *f)
{
	if (f->n != 0) {
		dump_findings(f);
		fail_msg("expected no finding, got %zu", f->n);
	}
}

#endif
