/*
 * renew/client.c - inspect the device's client certificate: expiry, when
 * renewal is due, whether the key matches, and whether the chain validates
 * against the trust store being inspected.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "../core/certinfo.h"
#include "../core/path.h"
#include "renew.h"

#define CERT_MAX (1024 * 1024)
#define PENDING_MAX (8 * 1024 * 1024) /* bytes of offered certificates kept */
#define DAY 86400

/* A store certificate kept as bytes, in case it turns out to be an issuer. */
struct pending {
	unsigned char *subject; /* DER name, then the certificate; NULL once used */
	size_t subject_len;
	unsigned char *der;
	size_t der_len;
};

struct client_check {
	struct tf_ctx *ctx;
	char *path; /* the certificate, as named */
	X509 *leaf;
	STACK_OF(X509) *untrusted; /* intermediates from the cert and chain files */
	STACK_OF(X509) *anchors;   /* offered store certificates that may issue */
	struct pending *pending;   /* offered before anything named them issuer */
	size_t npending, pending_cap, pending_bytes;
	bool has_key;
	bool key_matches;
};

/* Read every certificate of a PEM file of the managed system. */
static int
read_certs(struct tf_ctx *ctx, const char *path, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	char *host = tf_hostpath(ctx, path), *buf = NULL;
	size_t len;
	BIO *bio = NULL;
	X509 *x;
	int fd, rc;

	*out = NULL;
	if ((fd = tf_open(ctx, path, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot open client certificate '%s'", host);
		goto out;
	}
	rc = tf_read_fd(ctx, fd, host, CERT_MAX, &buf, &len);
	close(fd);
	if (rc != 0)
		goto out;
	bio = BIO_new_mem_buf(buf, (int)len);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		/* a DER file holds one */
		const unsigned char *p = (const unsigned char *)buf;

		if ((x = d2i_X509(NULL, &p, (long)len)) != NULL)
			sk_X509_push(sk, x);
	}
	if (sk_X509_num(sk) == 0) {
		rc = tf_error_ssl(ctx, TF_EINVALID, "no certificate in '%s'", host);
		goto out;
	}
	*out = sk;
	sk = NULL;
out:
	BIO_free(bio);
	free(buf);
	free(host);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

static int
check_key(struct client_check *cc, const char *path)
{
	struct tf_ctx *ctx = cc->ctx;
	char *host = tf_hostpath(ctx, path);
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	int fd, rc = 0;

	if ((fd = tf_open(ctx, path, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot open client key '%s'", host);
		goto out;
	}
	if ((bio = BIO_new_fd(fd, BIO_CLOSE)) == NULL) {
		close(fd);
		rc = tf_error_ssl(ctx, TF_ENOMEM, "cannot read client key '%s'", host);
		goto out;
	}
	/* no passphrase callback: an encrypted key cannot be read here */
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	if (pkey == NULL) {
		rc = tf_error_ssl(ctx, TF_EINVALID,
		    "cannot read client key '%s' (an unencrypted PEM private key is expected)",
		    host);
		goto out;
	}
	cc->has_key = true;
	cc->key_matches = EVP_PKEY_eq(X509_get0_pubkey(cc->leaf), pkey) == 1;
out:
	ERR_clear_error();
	EVP_PKEY_free(pkey); /* frees and wipes the key material */
	BIO_free(bio);
	free(host);
	return rc;
}

int
client_check_open(struct client_check **out, struct tf_ctx *ctx, const char *cert, const char *key,
    const char *chain)
{
	struct client_check *cc = tf_calloc(1, sizeof(*cc));
	STACK_OF(X509) *extra = NULL;
	int rc;

	*out = NULL;
	cc->ctx = ctx;
	cc->path = tf_strdup(cert);
	cc->anchors = sk_X509_new_null();
	if ((rc = read_certs(ctx, cert, &cc->untrusted)) != 0)
		goto out;
	cc->leaf = sk_X509_shift(cc->untrusted);
	if (chain != NULL) {
		if ((rc = read_certs(ctx, chain, &extra)) != 0)
			goto out;
		while (sk_X509_num(extra) > 0)
			sk_X509_push(cc->untrusted, sk_X509_shift(extra));
	}
	if (key != NULL && (rc = check_key(cc, key)) != 0)
		goto out;
	*out = cc;
	cc = NULL;
out:
	sk_X509_pop_free(extra, X509_free);
	client_check_free(cc);
	return rc;
}

static bool
names_issuer(const X509 *x, const unsigned char *subject_der, size_t len)
{
	const unsigned char *enc;
	size_t elen;

	if (!X509_NAME_get0_der(X509_get_issuer_name(x), &enc, &elen))
		return false;
	return elen == len && memcmp(enc, subject_der, len) == 0;
}

/* Whether a certificate of this subject may issue one of the chain so far. */
static bool
is_wanted(const struct client_check *cc, const unsigned char *subject_der, size_t len)
{
	int i;

	if (names_issuer(cc->leaf, subject_der, len))
		return true;
	for (i = 0; i < sk_X509_num(cc->untrusted); i++)
		if (names_issuer(sk_X509_value(cc->untrusted, i), subject_der, len))
			return true;
	/* an anchor from the store may itself be an intermediate */
	for (i = 0; i < sk_X509_num(cc->anchors); i++)
		if (names_issuer(sk_X509_value(cc->anchors, i), subject_der, len))
			return true;
	return false;
}

static void
add_anchor(struct client_check *cc, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL)
		sk_X509_push(cc->anchors, x);
	ERR_clear_error();
}

void
client_check_offer(struct client_check *cc, const unsigned char *subject_der, size_t subject_len,
    const unsigned char *der, size_t der_len)
{
	struct pending *pd;

	if (is_wanted(cc, subject_der, subject_len)) {
		add_anchor(cc, der, der_len);
		return;
	}
	/*
	 * Not wanted yet, but a store intermediate offered later may name it
	 * as its issuer: keep the bytes (not a decoded certificate) for then.
	 */
	if (cc->pending_bytes + der_len + subject_len > PENDING_MAX)
		return;
	if (cc->npending == cc->pending_cap) {
		cc->pending_cap = cc->pending_cap ? 2 * cc->pending_cap : 64;
		cc->pending = tf_realloc(cc->pending, cc->pending_cap * sizeof(*cc->pending));
	}
	pd = &cc->pending[cc->npending++];
	pd->subject = tf_malloc(subject_len + der_len);
	pd->subject_len = subject_len;
	pd->der = pd->subject + subject_len;
	pd->der_len = der_len;
	memcpy(pd->subject, subject_der, subject_len);
	memcpy(pd->der, der, der_len);
	cc->pending_bytes += der_len + subject_len;
}

/* Add the kept certificates that issue an anchor offered after them. */
static void
resolve_pending(struct client_check *cc)
{
	bool added = true;
	size_t i;

	while (added) {
		added = false;
		for (i = 0; i < cc->npending; i++) {
			struct pending *pd = &cc->pending[i];

			if (pd->subject == NULL || !is_wanted(cc, pd->subject, pd->subject_len))
				continue;
			add_anchor(cc, pd->der, pd->der_len);
			free(pd->subject);
			pd->subject = NULL;
			added = true;
		}
	}
}

/*
 * An expired leaf is reported as client-expired; its chain is judged on its
 * own, with the times of its CAs still checked (an expired root must show,
 * or renewing the leaf would not be enough and nothing would say so).
 * X509_V_FLAG_NO_CHECK_TIME would skip both, and OpenSSL ignores it anyway
 * once a verification time is set.
 */
static int
leaf_expiry_ok(int ok, X509_STORE_CTX *vctx)
{
	if (!ok && X509_STORE_CTX_get_error(vctx) == X509_V_ERR_CERT_HAS_EXPIRED &&
	    X509_STORE_CTX_get_error_depth(vctx) == 0)
		return 1;
	return ok;
}

static const char *
verify_chain(struct client_check *cc)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	const char *err = NULL;
	int i;

	if (store == NULL || vctx == NULL) {
		err = "out of memory";
		goto out;
	}
	resolve_pending(cc);
	for (i = 0; i < sk_X509_num(cc->anchors); i++)
		X509_STORE_add_cert(store, sk_X509_value(cc->anchors, i));
	if (!X509_STORE_CTX_init(vctx, store, cc->leaf, cc->untrusted)) {
		err = "cannot set up verification";
		goto out;
	}
	X509_STORE_CTX_set_time(vctx, 0, cc->ctx->now);
	X509_STORE_CTX_set_verify_cb(vctx, leaf_expiry_ok);
	X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(vctx) != 1)
		err = X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return err;
}

int
client_check_finish(struct client_check *cc, int before_days, double fraction,
    struct tf_findings *findings, struct client_report *r)
{
	struct tf_certinfo ci;
	unsigned char *der = NULL;
	const char *why, *err;
	char date[32];
	time_t now = cc->ctx->now;
	int len;

	memset(r, 0, sizeof(*r));
	if ((len = i2d_X509(cc->leaf, &der)) <= 0 ||
	    tf_certinfo_parse(&ci, der, (size_t)len, 0, &why) != 0) {
		OPENSSL_free(der);
		return tf_error(cc->ctx, TF_EINVALID, "cannot decode client certificate '%s'",
		    cc->path);
	}
	OPENSSL_free(der);
	r->subject = ci.subject;
	r->issuer = ci.issuer;
	r->serial = ci.serial;
	ci.subject = ci.issuer = ci.serial = NULL;
	memcpy(r->sha256, ci.sha256, 32);
	r->not_before = ci.not_before;
	r->not_after = ci.not_after;
	r->renew_at = renew_due_at(ci.not_before, ci.not_after, before_days, fraction);
	r->renewal_due = now >= r->renew_at;
	r->has_key = cc->has_key;
	r->key_matches = cc->key_matches;
	tf_certinfo_clear(&ci);

	tf_time_iso(date, sizeof(date), r->not_after);
	if (now > r->not_after)
		tf_findings_add(findings, TF_F_CLIENT_EXPIRED, r->sha256, cc->path, cc->path,
		    "enroll the device again with its bootstrap credentials",
		    "the client certificate expired on %s (%lld days ago)", date,
		    (long long)(now - r->not_after) / DAY)
		    ->subject = tf_strdup(r->subject);
	else if (r->renewal_due)
		tf_findings_add(findings, TF_F_CLIENT_EXPIRING, r->sha256, cc->path, cc->path,
		    "renew the client certificate now",
		    "the client certificate expires on %s, in %lld days: renewal is due", date,
		    (long long)(r->not_after - now) / DAY)
		    ->subject = tf_strdup(r->subject);
	if (r->has_key && !r->key_matches)
		tf_findings_add(findings, TF_F_CLIENT_KEY_MISMATCH, r->sha256, cc->path, cc->path,
		    "restore the key that belongs to the certificate, or enroll again",
		    "the client key does not match the certificate's public key")
		    ->subject = tf_strdup(r->subject);
	if ((err = verify_chain(cc)) != NULL) {
		r->chain_error = tf_strdup(err);
		tf_findings_add(findings, TF_F_CLIENT_CHAIN_INVALID, r->sha256, cc->path, cc->path,
		    "add the issuing root to the store, or install the missing intermediates",
		    "the client certificate does not validate against the store: %s", err)
		    ->subject = tf_strdup(r->subject);
	} else {
		r->chain_valid = true;
	}
	return 0;
}

void
client_report_release(struct client_report *r)
{
	free(r->subject);
	free(r->issuer);
	free(r->serial);
	free(r->chain_error);
	memset(r, 0, sizeof(*r));
}

void
client_check_free(struct client_check *cc)
{
	size_t i;

	if (cc == NULL)
		return;
	X509_free(cc->leaf);
	sk_X509_pop_free(cc->untrusted, X509_free);
	sk_X509_pop_free(cc->anchors, X509_free);
	for (i = 0; i < cc->npending; i++)
		free(cc->pending[i].subject);
	free(cc->pending);
	free(cc->path);
	free(cc);
}
