/*
 * bundles/verify.c - what makes a bundle trustworthy, offline: the detached
 * CMS signature over manifest.json chains to a pinned signer with a strong
 * digest and key, and the files are exactly those the manifest lists.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "../core/config.h"
#include "../core/name.h"
#include "../core/path.h"
#include "../core/subject.h"
#include "internal.h"

#define SIGNERS_FILE_MAX (1024 * 1024)
#define SIGNERS_MAX 1000

void
bundle_sha256(unsigned char out[32], const void *data, size_t len)
{
	unsigned int n = 32;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1)
		abort();
}

/* The subject of 'x' on one line; the caller frees it. */
static char *
subject_line(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509_NAME(X509_get_subject_name(x), &der);
	char *s = n > 0 ? tf_name_oneline(der, (size_t)n) : NULL;

	OPENSSL_free(der);
	return s != NULL ? s : tf_strdup("(unreadable subject)");
}

/* Add every PEM certificate of 'buf' to 'sk'; returns how many. */
static size_t
add_pem(STACK_OF(X509) *sk, const char *buf, size_t len)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	X509 *x;
	size_t n = 0;

	while (bio != NULL && sk_X509_num(sk) < SIGNERS_MAX &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(sk, x) <= 0) {
			X509_free(x);
			break;
		}
		n++;
	}
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

/* The signers of --signers, read as given: a PEM file, or a folder of them. */
static int
load_given(struct tf_ctx *ctx, const char *path, STACK_OF(X509) *sk)
{
	struct dirent *de;
	struct stat st;
	char *buf = NULL, *file;
	size_t len;
	DIR *d;
	int rc = 0;

	if (stat(path, &st) == -1)
		return tf_error_sys(ctx, TF_ECONFIG, "cannot open signers '%s' (--signers)", path);
	if (!S_ISDIR(st.st_mode)) {
		if ((rc = tf_read_input(ctx, path, SIGNERS_FILE_MAX, &buf, &len)) == 0)
			add_pem(sk, buf, len);
		free(buf);
		return rc != 0 ? TF_ECONFIG : 0;
	}
	if ((d = opendir(path)) == NULL)
		return tf_error_sys(ctx, TF_ECONFIG, "cannot list signers '%s' (--signers)", path);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		file = tf_path_join(path, de->d_name);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
		    (rc = tf_read_input(ctx, file, SIGNERS_FILE_MAX, &buf, &len)) == 0)
			add_pem(sk, buf, len);
		free(buf);
		buf = NULL;
		free(file);
	}
	closedir(d);
	return rc != 0 ? TF_ECONFIG : 0;
}

/* One file of the managed system, under the root. */
static int
load_managed_file(struct tf_ctx *ctx, const char *path, STACK_OF(X509) *sk)
{
	char *host = tf_hostpath(ctx, path), *buf = NULL;
	size_t len;
	int fd, rc;

	if ((fd = tf_open(ctx, path, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		rc = tf_error_sys(ctx, TF_ECONFIG, "cannot open bundle_signers '%s'", host);
		goto out;
	}
	rc = tf_read_fd(ctx, fd, host, SIGNERS_FILE_MAX, &buf, &len);
	close(fd);
	if (rc != 0) {
		rc = TF_ECONFIG;
		goto out;
	}
	add_pem(sk, buf, len);
out:
	free(buf);
	free(host);
	return rc;
}

/* bundle_signers of the configuration: a path of the managed system. */
static int
load_configured(struct tf_ctx *ctx, const char *path, STACK_OF(X509) *sk)
{
	struct dirent *de;
	struct stat st;
	char *host, *file;
	DIR *d;
	int fd, rc = 0;

	if ((fd = tf_open(ctx, path, O_RDONLY | O_NONBLOCK, 0)) == -1 || fstat(fd, &st) == -1) {
		host = tf_hostpath(ctx, path);
		rc = tf_error_sys(ctx, TF_ECONFIG, "cannot open bundle_signers '%s'", host);
		free(host);
		if (fd != -1)
			close(fd);
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		return load_managed_file(ctx, path, sk);
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		host = tf_hostpath(ctx, path);
		rc = tf_error_sys(ctx, TF_ECONFIG, "cannot list bundle_signers '%s'", host);
		free(host);
		return rc;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		file = tf_path_join(path, de->d_name);
		if (tf_lstat(ctx, file, &st) == 0 && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
			rc = load_managed_file(ctx, file, sk);
		free(file);
	}
	closedir(d);
	return rc;
}

static int
load_signers(struct tf_ctx *ctx, const char *given, STACK_OF(X509) **out, char **where)
{
	const char *path = given != NULL ? given
	    : ctx->cfg != NULL           ? ctx->cfg->bundle_signers
	                                 : NULL;
	STACK_OF(X509) *sk;
	int rc;

	*out = NULL;
	*where = NULL;
	if (path == NULL)
		return tf_error(ctx, TF_ECONFIG,
		    "no bundle signer is pinned: set 'bundle_signers' in the configuration, or "
		    "give --signers FILE");
	if ((sk = sk_X509_new_null()) == NULL)
		return tf_error(ctx, TF_ERROR, "out of memory");
	*where = given != NULL ? tf_strdup(given) : tf_hostpath(ctx, path);
	rc = given != NULL ? load_given(ctx, given, sk) : load_configured(ctx, path, sk);
	if (rc == 0 && sk_X509_num(sk) == 0)
		rc = tf_error(ctx, TF_ECONFIG, "'%s' (%s) holds no PEM certificate", *where,
		    given != NULL ? "--signers" : "bundle_signers");
	if (rc != 0) {
		sk_X509_pop_free(sk, X509_free);
		return rc;
	}
	*out = sk;
	return 0;
}

static bool
strong_digest(int nid)
{
	switch (nid) {
	case NID_sha256:
	case NID_sha384:
	case NID_sha512:
	case NID_sha3_256:
	case NID_sha3_384:
	case NID_sha3_512:
		return true;
	}
	return false;
}

/* RSA of at least 2048 bits, EC of at least 256 (P-256), Ed25519, Ed448. */
const char *
verify_weak_key(EVP_PKEY *pk)
{
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return EVP_PKEY_get_bits(pk) >= 2048 ? NULL : "an RSA key shorter than 2048 bits";
	case EVP_PKEY_EC:
		return EVP_PKEY_get_bits(pk) >= 256 ? NULL : "an EC key smaller than P-256";
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		return NULL;
	}
	return "a key type other than RSA, EC, Ed25519 or Ed448";
}

/*
 * The certificate of the signer: among those the signature carries first
 * (a pinned CA may share the signer's issuer and serial), else among the
 * pinned ones, when the signature carries none; *pinned_only says which.
 */
static X509 *
find_signer(CMS_ContentInfo *cms, CMS_SignerInfo *si, STACK_OF(X509) *pinned, bool *pinned_only)
{
	STACK_OF(X509) *certs = CMS_get1_certs(cms);
	X509 *found = NULL;
	int i;

	*pinned_only = false;
	for (i = 0; certs != NULL && i < sk_X509_num(certs) && found == NULL; i++)
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0)
			found = sk_X509_value(certs, i);
	for (i = 0; i < sk_X509_num(pinned) && found == NULL; i++) {
		if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(pinned, i)) == 0) {
			found = sk_X509_value(pinned, i);
			*pinned_only = true;
		}
	}
	if (found != NULL)
		X509_up_ref(found);
	sk_X509_pop_free(certs, X509_free);
	return found;
}

int
verify_signature(struct bundle *b, struct tf_ctx *ctx, const char *signers)
{
	const struct bundle_entry *man = entries_find(&b->e, MANIFEST_NAME);
	const struct bundle_entry *sig = entries_find(&b->e, SIGNATURE_NAME);
	STACK_OF(X509) *pinned = NULL, *given = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	CMS_ContentInfo *cms = NULL;
	X509_ALGOR *dig = NULL, *sigalg = NULL;
	X509_STORE *store = NULL;
	X509 *signer = NULL;
	BIO *content = NULL;
	const unsigned char *p;
	const char *why;
	unsigned char md[32];
	unsigned int mdlen = 32;
	char *where = NULL, *subject = NULL;
	bool pinned_only;
	int i, nid, mdnid, pknid, rc;

	if ((rc = load_signers(ctx, signers, &pinned, &where)) != 0)
		goto out;
	rc = TF_EREFUSED;
	p = sig->data;
	if (sig->len > LONG_MAX || (cms = d2i_CMS_ContentInfo(NULL, &p, (long)sig->len)) == NULL ||
	    p != sig->data + sig->len) {
		ERR_clear_error();
		tf_error(ctx, rc, "'%s': manifest.json.sig is not a DER CMS signature", b->origin);
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed || CMS_is_detached(cms) != 1) {
		tf_error(ctx, rc, "'%s': manifest.json.sig is not a detached CMS signed-data",
		    b->origin);
		goto out;
	}
	if ((sis = CMS_get0_SignerInfos(cms)) == NULL || sk_CMS_SignerInfo_num(sis) != 1) {
		tf_error(ctx, rc, "'%s': manifest.json.sig must hold exactly one signature",
		    b->origin);
		goto out;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sigalg);
	nid = dig != NULL ? OBJ_obj2nid(dig->algorithm) : NID_undef;
	if (!strong_digest(nid)) {
		tf_error(ctx, rc,
		    "'%s': the signature uses the digest %s: SHA-256 or better is required",
		    b->origin, nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown)");
		goto out;
	}
	nid = sigalg != NULL ? OBJ_obj2nid(sigalg->algorithm) : NID_undef;
	if (OBJ_find_sigid_algs(nid, &mdnid, &pknid) && mdnid != NID_undef &&
	    !strong_digest(mdnid)) {
		tf_error(ctx, rc,
		    "'%s': the signature algorithm is %s: SHA-256 or better is required", b->origin,
		    OBJ_nid2sn(nid));
		goto out;
	}
	signer = find_signer(cms, si, pinned, &pinned_only);
	subject = signer != NULL ? subject_line(signer) : NULL;
	if ((store = X509_STORE_new()) == NULL || (given = sk_X509_new_null()) == NULL ||
	    (pinned_only && !sk_X509_push(given, signer))) {
		rc = tf_error(ctx, TF_ERROR, "out of memory");
		goto out;
	}
	for (i = 0; i < sk_X509_num(pinned); i++)
		X509_STORE_add_cert(store, sk_X509_value(pinned, i));
	/* a pinned certificate is a trust anchor even when it is not a root */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), ctx->now);
	content = BIO_new_mem_buf(man->data, (int)man->len);
	if (CMS_verify(cms, given, store, content, NULL, CMS_BINARY) != 1) {
		unsigned long e = ERR_peek_error();
		int reason = ERR_GET_REASON(e);

		if (reason == CMS_R_CERTIFICATE_VERIFY_ERROR ||
		    reason == CMS_R_SIGNER_CERTIFICATE_NOT_FOUND) {
			const char *data = NULL;
			int flags = 0;

			ERR_peek_error_data(&data, &flags);
			tf_error(ctx, rc,
			    "'%s': the signer %s%s%s is not pinned in '%s' (or does not chain to a "
			    "pinned signer%s%s)",
			    b->origin, subject != NULL ? "'" : "",
			    subject != NULL ? subject : "(not in the signature)",
			    subject != NULL ? "'" : "", where,
			    (flags & ERR_TXT_STRING) && data != NULL ? ": " : "",
			    (flags & ERR_TXT_STRING) && data != NULL ? data : "");
		} else {
			tf_error(ctx, rc,
			    "'%s': manifest.json.sig is not a valid signature of this "
			    "manifest.json "
			    "(changed after signing, or the signature of another bundle)",
			    b->origin);
		}
		ERR_clear_error();
		goto out;
	}
	if (signer == NULL) { /* CMS_verify() found it, so this cannot happen */
		tf_error(ctx, rc, "'%s': the signer's certificate is not in the signature",
		    b->origin);
		goto out;
	}
	if ((why = verify_weak_key(X509_get0_pubkey(signer))) != NULL) {
		tf_error(ctx, rc, "'%s': the signer '%s' has %s", b->origin, subject, why);
		goto out;
	}
	if (X509_digest(signer, EVP_sha256(), md, &mdlen) != 1) {
		rc = tf_error_ssl(ctx, TF_ERROR, "cannot hash the signer's certificate");
		goto out;
	}
	tf_hex(b->signer_sha256, md, 32);
	free(b->signer);
	b->signer = subject;
	subject = NULL;
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(content);
	X509_STORE_free(store);
	sk_X509_free(given); /* holds 'signer' without a reference of its own */
	X509_free(signer);
	CMS_ContentInfo_free(cms);
	sk_X509_pop_free(pinned, X509_free);
	free(subject);
	free(where);
	return rc;
}

/* How many PEM blocks 'data' holds. */
static size_t
count_blocks(const unsigned char *data, size_t len)
{
	const unsigned char *p = data, *end = data + len, *hit;
	size_t n = 0;

	while (p < end && (hit = memmem(p, (size_t)(end - p), "-----BEGIN ", 11)) != NULL) {
		n++;
		p = hit + 11;
	}
	return n;
}

/* The one PEM certificate of a file of the bundle, as DER. */
static int
read_cert(struct bundle *b, struct tf_ctx *ctx, const struct bundle_entry *e, struct bundle_cert *c)
{
	unsigned char md[32], *der = NULL;
	char want[65], got[65], *subject = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	int n, rc = TF_EREFUSED;

	if (count_blocks(e->data, e->len) != 1 ||
	    memmem(e->data, e->len, "-----BEGIN CERTIFICATE-----", 27) == NULL) {
		tf_error(ctx, rc, "'%s': '%s' must hold exactly one PEM certificate", b->origin,
		    e->name);
		goto out;
	}
	if ((bio = BIO_new_mem_buf(e->data, (int)e->len)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    (n = i2d_X509(x, &der)) <= 0) {
		ERR_clear_error();
		tf_error(ctx, rc, "'%s': '%s' does not hold a readable PEM certificate", b->origin,
		    e->name);
		goto out;
	}
	bundle_sha256(md, der, (size_t)n);
	if (memcmp(md, c->sha256, 32) != 0) {
		tf_hex(want, c->sha256, 32);
		tf_hex(got, md, 32);
		tf_error(ctx, rc,
		    "'%s': the certificate in '%s' has SHA-256 %s, but the manifest lists it as %s",
		    b->origin, e->name, got, want);
		goto out;
	}
	c->der = tf_malloc((size_t)n);
	memcpy(c->der, der, (size_t)n);
	c->der_len = (size_t)n;
	if (c->name == NULL) {
		subject = subject_line(x);
		c->name = tf_strdup(tf_subject_short(subject));
	}
	rc = 0;
out:
	free(subject);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return rc;
}

int
verify_contents(struct bundle *b, struct tf_ctx *ctx)
{
	const struct bundle_manifest *m = b->m;
	const struct bundle_entry *e;
	unsigned char md[32];
	char want[65], got[65];
	size_t i, k;
	int rc;

	for (i = 0; i < m->nfiles; i++) {
		const struct bundle_file *f = &m->files[i];

		if ((e = entries_find(&b->e, f->path)) == NULL || e->is_dir)
			return tf_error(ctx, TF_EREFUSED,
			    "'%s': '%s' is listed in the manifest but missing from the bundle",
			    b->origin, f->path);
		if (e->len != f->size)
			return tf_error(ctx, TF_EREFUSED,
			    "'%s': '%s' is %zu bytes, but the manifest says %zu", b->origin,
			    f->path, e->len, f->size);
		bundle_sha256(md, e->data, e->len);
		if (memcmp(md, f->sha256, 32) != 0) {
			tf_hex(want, f->sha256, 32);
			tf_hex(got, md, 32);
			return tf_error(ctx, TF_EREFUSED,
			    "'%s': the SHA-256 of '%s' is %s, but the manifest says %s", b->origin,
			    f->path, got, want);
		}
	}
	for (i = 0; i < b->e.n; i++) {
		e = &b->e.v[i];
		if (e->is_dir || strcmp(e->name, MANIFEST_NAME) == 0 ||
		    strcmp(e->name, SIGNATURE_NAME) == 0)
			continue;
		for (k = 0; k < m->nfiles; k++)
			if (strcmp(m->files[k].path, e->name) == 0)
				break;
		if (k == m->nfiles)
			return tf_error(ctx, TF_EREFUSED,
			    "'%s': '%s' is not listed in the manifest (an extra file)", b->origin,
			    e->name);
	}
	for (i = 0; i < m->nadd; i++)
		if ((rc = read_cert(b, ctx, entries_find(&b->e, m->add[i].file), &m->add[i])) != 0)
			return rc;
	return 0;
}
