/*
 * bundles/create.c - make a bundle, for the people who publish them: the
 * manifest, its detached CMS signature and the certificates, written as a
 * .tar.gz next to the output and renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../core/fsutil.h"
#include "../core/name.h"
#include "../core/path.h"
#include "../core/subject.h"
#include "internal.h"

#define INPUT_MAX (1024 * 1024)

/* The signer's key and certificates, read from the publisher's files. */
struct signer {
	X509 *cert;
	STACK_OF(X509) *chain; /* the certificates after the first */
	EVP_PKEY *key;
};

static void
signer_release(struct signer *s)
{
	X509_free(s->cert);
	sk_X509_pop_free(s->chain, X509_free);
	EVP_PKEY_free(s->key);
	memset(s, 0, sizeof(*s));
}

static int
load_signer(struct tf_ctx *ctx, const struct bundle_create_opts *o, struct signer *s)
{
	char *buf = NULL, *pass = NULL;
	size_t len = 0, plen = 0;
	const char *why;
	BIO *bio = NULL;
	X509 *x;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = tf_read_input(ctx, o->signer_cert, INPUT_MAX, &buf, &len)) != 0)
		goto out;
	rc = TF_EINVALID;
	if ((s->chain = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		rc = tf_error(ctx, TF_ERROR, "out of memory");
		goto out;
	}
	if ((s->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		tf_error_ssl(ctx, rc, "'%s' holds no PEM certificate (--signer-cert)",
		    o->signer_cert);
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(s->chain, x) <= 0)
			X509_free(x);
	ERR_clear_error();
	BIO_free(bio);
	bio = NULL;
	free(buf);
	buf = NULL;
	if (o->key_password_file != NULL) {
		if ((rc = tf_read_input(ctx, o->key_password_file, 4096, &pass, &plen)) != 0)
			goto out;
		pass[strcspn(pass, "\r\n")] = '\0';
		rc = TF_EINVALID;
	}
	if ((rc = tf_read_input(ctx, o->signer_key, INPUT_MAX, &buf, &len)) != 0)
		goto out;
	rc = TF_EINVALID;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (s->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, pass != NULL ? pass : "")) == NULL) {
		tf_error_ssl(ctx, rc, "cannot read the private key '%s' (--signer-key)",
		    o->signer_key);
		goto out;
	}
	if (X509_check_private_key(s->cert, s->key) != 1) {
		tf_error(ctx, rc, "the key '%s' is not the key of the certificate '%s'",
		    o->signer_key, o->signer_cert);
		goto out;
	}
	if ((why = verify_weak_key(s->key)) != NULL) {
		tf_error(ctx, rc,
		    "the signer '%s' has %s: bundles are signed with RSA >= 2048 or "
		    "EC >= P-256",
		    o->signer_cert, why);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	if (pass != NULL)
		OPENSSL_cleanse(pass, plen);
	free(pass);
	if (rc != 0)
		signer_release(s);
	return rc;
}

/* A file name for a certificate from its subject: "identrust-commercial-root-ca-1". */
static char *
slug(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509_NAME(X509_get_subject_name(x), &der);
	char *subject = n > 0 ? tf_name_oneline(der, (size_t)n) : NULL, *s;
	const char *cn = subject != NULL ? tf_subject_short(subject) : "";
	size_t i, k = 0;

	OPENSSL_free(der);
	s = tf_malloc(strlen(cn) + 8);
	for (i = 0; cn[i] != '\0' && k < 48; i++) {
		char c = cn[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			s[k++] = c;
		else if (k > 0 && s[k - 1] != '-')
			s[k++] = '-';
	}
	while (k > 0 && s[k - 1] == '-')
		k--;
	s[k] = '\0';
	if (k == 0) {
		free(s);
		s = tf_strdup("cert");
	}
	free(subject);
	return s;
}

/* Every certificate of the --add files (PEM, any number, or one DER). */
static int
load_certs(struct tf_ctx *ctx, const struct bundle_create_opts *o, STACK_OF(X509) *out)
{
	char *buf = NULL;
	size_t len, i;
	BIO *bio;
	X509 *x;
	int n, rc = 0;

	for (i = 0; i < o->nadd && rc == 0; i++) {
		if ((rc = tf_read_input(ctx, o->add[i], INPUT_MAX, &buf, &len)) != 0)
			break;
		n = 0;
		if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
			while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
				if (sk_X509_push(out, x) <= 0)
					X509_free(x);
				n++;
			}
			BIO_free(bio);
		}
		if (n == 0 && memmem(buf, len, "-----BEGIN", 10) == NULL) {
			const unsigned char *p = (const unsigned char *)buf;

			if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
				if (sk_X509_push(out, x) <= 0)
					X509_free(x);
				n++;
			}
		}
		ERR_clear_error();
		if (n == 0)
			rc = tf_error(ctx, TF_EINVALID,
			    "'%s' holds no certificate (PEM or DER expected)", o->add[i]);
		free(buf);
		buf = NULL;
	}
	return rc;
}

static void
copy_refs(struct bundle_ref **dst, size_t *ndst, const struct bundle_ref *src, size_t n,
    const struct bundle_manifest *m)
{
	char hex[65];
	size_t i, k;

	*dst = tf_calloc(n, sizeof(**dst));
	for (i = 0; i < n; i++) {
		const char *name = src[i].name;

		memcpy((*dst)[i].sha256, src[i].sha256, 32);
		for (k = 0; name == NULL && k < m->nadd; k++)
			if (memcmp(m->add[k].sha256, src[i].sha256, 32) == 0)
				name = m->add[k].name;
		tf_hex(hex, src[i].sha256, 32);
		(*dst)[i].name = tf_strdup(name != NULL ? name : hex);
		(*dst)[i].reason = src[i].reason != NULL ? tf_strdup(src[i].reason) : NULL;
	}
	*ndst = n;
}

/* The manifest and the certificate files it lists, as entries. */
static void
build(struct tf_ctx *ctx, const struct bundle_create_opts *o, STACK_OF(X509) *certs,
    struct bundle_manifest *m, struct bundle_entries *es)
{
	size_t i, k;

	m->format = BUNDLE_FORMAT;
	m->name = tf_strdup(o->name);
	m->version = o->version;
	m->created = o->created;
	m->expires = o->expires;
	m->description = o->description != NULL ? tf_strdup(o->description) : NULL;
	m->policy_name = tf_strdup(o->name);
	m->add = tf_calloc((size_t)sk_X509_num(certs), sizeof(*m->add));
	m->files = tf_calloc((size_t)sk_X509_num(certs), sizeof(*m->files));
	for (i = 0; i < (size_t)sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, (int)i);
		unsigned char *der = NULL, md[32];
		unsigned char *subj = NULL;
		char *pem, *base, *subject, *file, hex[65];
		BIO *bio = BIO_new(BIO_s_mem());
		long plen;
		int n = i2d_X509(x, &der), sn = i2d_X509_NAME(X509_get_subject_name(x), &subj);

		bundle_sha256(md, der, (size_t)n);
		OPENSSL_free(der);
		for (k = 0; k < m->nadd; k++)
			if (memcmp(m->add[k].sha256, md, 32) == 0)
				break;
		if (k < m->nadd) { /* the same certificate twice */
			BIO_free(bio);
			OPENSSL_free(subj);
			continue;
		}
		tf_hex(hex, md, 32);
		base = slug(x);
		file = tf_asprintf(CERTS_DIR "/%s.pem", base);
		if (entries_find(es, file) != NULL) { /* two certificates of the same name */
			free(file);
			file = tf_asprintf(CERTS_DIR "/%s-%.8s.pem", base, hex);
		}
		subject = sn > 0 ? tf_name_oneline(subj, (size_t)sn) : NULL;
		OPENSSL_free(subj);
		memcpy(m->add[m->nadd].sha256, md, 32);
		m->add[m->nadd].name = tf_strdup(subject != NULL ? tf_subject_short(subject) : hex);
		m->add[m->nadd].file = file;
		free(subject);
		free(base);
		PEM_write_bio_X509(bio, x);
		plen = BIO_get_mem_data(bio, &pem);
		entries_add(es, ctx, "", m->add[m->nadd].file, 'f', "", 0644, pem, (size_t)plen);
		m->files[m->nfiles].path = tf_strdup(m->add[m->nadd].file);
		bundle_sha256(m->files[m->nfiles].sha256, pem, (size_t)plen);
		m->files[m->nfiles].size = (size_t)plen;
		m->nfiles++;
		m->nadd++;
		BIO_free(bio);
	}
	copy_refs(&m->remove, &m->nremove, o->remove, o->nremove, m);
	copy_refs(&m->require, &m->nrequire, o->require, o->nrequire, m);
}

static int
sign(struct tf_ctx *ctx, const struct signer *s, const char *data, size_t len, unsigned char **out,
    size_t *outlen)
{
	const EVP_MD *md = EVP_PKEY_get_base_id(s->key) == EVP_PKEY_ED25519 ||
	        EVP_PKEY_get_base_id(s->key) == EVP_PKEY_ED448
	    ? EVP_sha512()
	    : EVP_sha256();
	unsigned flags = CMS_BINARY | CMS_DETACHED | CMS_PARTIAL;
	CMS_ContentInfo *cms = NULL;
	unsigned char *der = NULL;
	BIO *in = BIO_new_mem_buf(data, (int)len);
	int n, rc = 0;

	if (in == NULL || (cms = CMS_sign(NULL, NULL, s->chain, NULL, flags)) == NULL ||
	    CMS_add1_signer(cms, s->cert, s->key, md, flags) == NULL ||
	    CMS_final(cms, in, NULL, flags) != 1 || (n = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		rc = tf_error_ssl(ctx, TF_EINVALID, "cannot sign the manifest");
		goto out;
	}
	*out = tf_malloc((size_t)n);
	memcpy(*out, der, (size_t)n);
	*outlen = (size_t)n;
out:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return rc;
}

/* Write 'data' to 'path' (as given) through a temporary file and a rename. */
static int
write_output(struct tf_ctx *ctx, const char *path, const unsigned char *data, size_t len)
{
	char *tmp = tf_asprintf("%s.tmp-%ld", path, (long)getpid()), *dir, *slash;
	int fd, dfd, rc = 0;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot create '%s'", tmp);
		goto out;
	}
	if (tf_write_all(fd, data, len) == -1 || tf_fsync(fd) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot write '%s'", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot rename '%s' to '%s'", tmp, path);
		unlink(tmp);
		goto out;
	}
	dir = tf_strdup(path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		dir[0] = '.', dir[1] = '\0';
	else
		slash[slash == dir] = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		tf_fsync(dfd);
		close(dfd);
	}
	free(dir);
out:
	free(tmp);
	return rc;
}

int
bundle_create(struct tf_ctx *ctx, const struct bundle_create_opts *o)
{
	struct bundle_manifest *m = tf_calloc(1, sizeof(*m)), *check = NULL;
	struct bundle_entries es = { 0 }, all = { 0 }, back = { 0 };
	struct signer s = { 0 };
	STACK_OF(X509) *certs = sk_X509_new_null();
	unsigned char *sig = NULL, *tgz = NULL;
	char *text = NULL;
	size_t len = 0, siglen = 0, tgzlen = 0, i;
	int rc;

	if (!bundle_name_is_valid(o->name)) {
		rc = tf_error(ctx, TF_EUSAGE,
		    "bad bundle name '%s': 1 to 64 of a-z 0-9 . _ - (starting with a letter or "
		    "digit)",
		    o->name);
		goto out;
	}
	if (o->expires <= o->created || o->nadd + o->nremove + o->nrequire == 0) {
		rc = tf_error(ctx, TF_EUSAGE,
		    o->expires <= o->created
		        ? "the bundle would expire before it is created (--expires)"
		        : "the bundle would change nothing: give --add, --remove or --require");
		goto out;
	}
	if ((rc = load_signer(ctx, o, &s)) != 0 || (rc = load_certs(ctx, o, certs)) != 0)
		goto out;
	build(ctx, o, certs, m, &es);
	text = manifest_dump(m, &len);
	/* what we write must be what we read: the same parser checks it */
	if ((rc = manifest_parse(&check, ctx, text, len, "the new manifest")) != 0 ||
	    (rc = sign(ctx, &s, text, len, &sig, &siglen)) != 0)
		goto out;
	entries_add(&all, ctx, "", MANIFEST_NAME, 'f', "", 0644, text, len);
	entries_add(&all, ctx, "", SIGNATURE_NAME, 'f', "", 0644, sig, siglen);
	entries_add(&all, ctx, "", CERTS_DIR, 'd', "", 0755, NULL, 0);
	for (i = 0; i < es.n; i++)
		entries_add(&all, ctx, "", es.v[i].name, 'f', "", 0644, es.v[i].data, es.v[i].len);
	if ((rc = archive_write_bundle(ctx, all.v, all.n, o->created, &tgz, &tgzlen)) != 0 ||
	    (rc = archive_read_bundle(&back, ctx, tgz, tgzlen, o->output)) != 0 ||
	    (rc = write_output(ctx, o->output, tgz, tgzlen)) != 0)
		goto out;
	rc = 0;
out:
	manifest_free(m);
	manifest_free(check);
	entries_release(&es);
	entries_release(&all);
	entries_release(&back);
	signer_release(&s);
	sk_X509_pop_free(certs, X509_free);
	free(sig);
	free(tgz);
	free(text);
	return rc;
}
