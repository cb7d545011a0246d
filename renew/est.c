/*
 * renew/est.c - the EST operations (RFC 7030 with RFC 8951): /cacerts,
 * /csrattrs, /simpleenroll, /simplereenroll and /serverkeygen, put together
 * as one enrollment whose result is checked before the caller installs it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "est_parse.h"

#define KEY_DER_MAX (64 * 1024)

/* "/.well-known/est[/label]/op", or NULL when the label is not a plain name. */
static char *
est_path(struct tf_ctx *ctx, const struct est_config *cfg, const char *op)
{
	const char *p;

	if (cfg->label == NULL || *cfg->label == '\0')
		return tf_asprintf("/.well-known/est/%s", op);
	for (p = cfg->label; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.') ||
		    p - cfg->label > 64) {
			tf_error(ctx, TF_ECONFIG,
			    "bad EST CA label '%s': letters, digits, '-', '_' and '.' only",
			    cfg->label);
			return NULL;
		}
	}
	return tf_asprintf("/.well-known/est/%s/%s", cfg->label, op);
}

/* An error status: TF_ENET with the server's words, sanitised. */
static int
status_error(struct tf_ctx *ctx, const struct est_config *cfg, const char *op,
    const struct http_response *resp)
{
	char said[256];

	size_t n = resp->len;

	/* the text of the answer without the line ends around it */
	while (n > 0 &&
	    (resp->body[n - 1] == '\n' || resp->body[n - 1] == '\r' || resp->body[n - 1] == ' ' ||
	        resp->body[n - 1] == '\0'))
		n--;
	est_sanitise(said, sizeof(said), resp->body, n);
	return tf_error(ctx, TF_ENET, "EST server '%s' answered %ld to /%s%s%s", cfg->server,
	    resp->status, op, said[0] != '\0' ? ": " : "", said);
}

/* The certificates of a PKCS#7 certs-only answer to 'op'. */
static int
decode_certs(STACK_OF(X509) **out, struct tf_ctx *ctx, const struct est_config *cfg, const char *op,
    const char *ctype_text, const unsigned char *body, size_t len)
{
	struct est_ctype ct;
	unsigned char *der = NULL;
	size_t dlen = 0;
	const char *why = NULL;
	int rc;

	*out = NULL;
	if (ctype_text != NULL && ctype_text[0] != '\0') {
		if (est_ctype_parse(&ct, ctype_text, strlen(ctype_text), &why) != 0)
			return tf_error(ctx, TF_EINVALID,
			    "EST server '%s' sent a bad Content-Type to /%s: %s", cfg->server, op,
			    why);
		/* application/pkcs7-mime as RFC 7030 says, and the names older
		 * servers use; anything else (an HTML error page) is refused */
		if (strcmp(ct.type, "application/pkcs7-mime") != 0 &&
		    strcmp(ct.type, "application/pkcs7") != 0 &&
		    strcmp(ct.type, "application/x-pkcs7-certificates") != 0 &&
		    strcmp(ct.type, "application/x-pkcs7-mime") != 0) {
			char t[128];

			est_sanitise(t, sizeof(t), (const unsigned char *)ct.type, strlen(ct.type));
			return tf_error(ctx, TF_EINVALID,
			    "EST server '%s' answered /%s with '%s', not application/pkcs7-mime",
			    cfg->server, op, t);
		}
	}
	if (est_body_der(&der, &dlen, body, len, &why) != 0)
		return tf_error(ctx, TF_EINVALID, "cannot decode the answer of '%s' to /%s: %s",
		    cfg->server, op, why);
	rc = est_pkcs7_certs(out, der, dlen, &why);
	free(der);
	if (rc != 0)
		return tf_error(ctx, TF_EINVALID, "cannot decode the answer of '%s' to /%s: %s",
		    cfg->server, op, why);
	return 0;
}

static int
get_cacerts(STACK_OF(X509) **out, struct tf_ctx *ctx, const struct est_config *cfg, struct http *h)
{
	struct http_response resp;
	char *path;
	int rc;

	*out = NULL;
	if ((path = est_path(ctx, cfg, "cacerts")) == NULL)
		return TF_ECONFIG;
	rc = http_request(h, path, NULL, NULL, 0, &resp);
	free(path);
	if (rc != 0)
		return rc;
	if (resp.status != 200)
		rc = status_error(ctx, cfg, "cacerts", &resp);
	else
		rc = decode_certs(out, ctx, cfg, "cacerts", resp.ctype, resp.body, resp.len);
	http_response_release(&resp);
	return rc;
}

int
est_cacerts(STACK_OF(X509) **out, struct tf_ctx *ctx, const struct est_config *cfg)
{
	struct http *h = NULL;
	int rc;

	*out = NULL;
	if ((rc = http_open(&h, ctx, cfg)) == 0)
		rc = get_cacerts(out, ctx, cfg, h);
	http_free(h);
	return rc;
}

/* The host of an https:// URL into 'host' (brackets of an IPv6 address removed). */
static int
url_host(char *host, size_t size, const char *url)
{
	const char *p = url + 8, *e;

	if (*p == '[') {
		p++;
		e = strchr(p, ']');
	} else {
		e = p + strcspn(p, ":/?#");
	}
	if (e == NULL || e == p || (size_t)(e - p) >= size)
		return -1;
	memcpy(host, p, (size_t)(e - p));
	host[e - p] = '\0';
	return 0;
}

int
est_cacerts_bootstrap(STACK_OF(X509) **out, struct tf_ctx *ctx, const struct est_config *cfg,
    const unsigned char sha256[32])
{
	STACK_OF(X509) *certs = NULL, *peer = NULL, *untrusted = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *vctx = NULL;
	X509_VERIFY_PARAM *param;
	struct http *h = NULL;
	X509 *pinned = NULL;
	unsigned char md[32];
	unsigned int mdlen;
	char host[256];
	int i, rc;

	*out = NULL;
	if ((rc = http_open_bootstrap(&h, ctx, cfg)) != 0)
		goto out;
	if (url_host(host, sizeof(host), cfg->server) != 0) {
		rc = tf_error(ctx, TF_ECONFIG, "no host in EST server URL '%s'", cfg->server);
		goto out;
	}
	if ((rc = get_cacerts(&certs, ctx, cfg, h)) != 0)
		goto out;
	for (i = 0; i < sk_X509_num(certs) && pinned == NULL; i++) {
		mdlen = 0;
		if (X509_digest(sk_X509_value(certs, i), EVP_sha256(), md, &mdlen) == 1 &&
		    mdlen == 32 && CRYPTO_memcmp(md, sha256, 32) == 0)
			pinned = sk_X509_value(certs, i);
	}
	if (pinned == NULL) {
		rc = tf_error(ctx, TF_EREFUSED,
		    "no certificate from EST server '%s' has the fingerprint given: nothing saved",
		    cfg->server);
		goto out;
	}
	/* the connection that brought them must belong to the pinned CA */
	if ((rc = http_peer_chain(h, &peer)) != 0)
		goto out;
	/* intermediates: what the server showed and what /cacerts held */
	untrusted = sk_X509_dup(certs);
	for (i = 1; untrusted != NULL && i < sk_X509_num(peer); i++)
		sk_X509_push(untrusted, sk_X509_value(peer, i));
	if (untrusted == NULL || (store = X509_STORE_new()) == NULL ||
	    (vctx = X509_STORE_CTX_new()) == NULL || X509_STORE_add_cert(store, pinned) != 1 ||
	    X509_STORE_CTX_init(vctx, store, sk_X509_value(peer, 0), untrusted) != 1) {
		rc = tf_error_ssl(ctx, TF_ERROR, "cannot verify EST server '%s'", cfg->server);
		goto out;
	}
	param = X509_STORE_CTX_get0_param(vctx);
	if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
		X509_VERIFY_PARAM_set1_host(param, host, 0);
	X509_STORE_CTX_set_time(vctx, 0, ctx->now);
	X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(vctx) != 1) {
		rc = tf_error(ctx, TF_EREFUSED,
		    "EST server '%s' does not verify against the certificate of the fingerprint "
		    "given: %s",
		    cfg->server, X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		goto out;
	}
	*out = certs;
	certs = NULL;
	rc = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted); /* borrowed references */
	sk_X509_pop_free(peer, X509_free);
	sk_X509_pop_free(certs, X509_free);
	http_free(h);
	return rc;
}

/* GET /csrattrs: what the server wants in the CSR; none when it has no opinion. */
static int
get_csrattrs(struct est_csrattrs *attrs, struct tf_ctx *ctx, const struct est_config *cfg,
    struct http *h)
{
	struct http_response resp;
	unsigned char *der = NULL;
	size_t dlen;
	const char *why;
	char *path;
	int rc;

	memset(attrs, 0, sizeof(*attrs));
	attrs->md_nid = NID_undef;
	attrs->curve_nid = NID_undef;
	if ((path = est_path(ctx, cfg, "csrattrs")) == NULL)
		return TF_ECONFIG;
	rc = http_request(h, path, NULL, NULL, 0, &resp);
	free(path);
	if (rc != 0)
		return rc;
	/* 204 and 404: no attributes; an undecodable list is ignored too, as
	 * /csrattrs is advice (RFC 7030 §4.5) */
	if (resp.status == 200 && resp.len > 0 &&
	    est_body_der(&der, &dlen, resp.body, resp.len, &why) == 0) {
		if (est_csrattrs_parse(attrs, der, dlen, &why) != 0) {
			memset(attrs, 0, sizeof(*attrs));
			attrs->md_nid = NID_undef;
			attrs->curve_nid = NID_undef;
		}
		free(der);
	} else if (resp.status >= 500 || resp.status == 401 || resp.status == 403) {
		rc = status_error(ctx, cfg, "csrattrs", &resp);
	}
	http_response_release(&resp);
	return rc;
}

/* The key type /csrattrs asks for, where it says so simply. */
static enum est_key_type
key_type_for(enum est_key_type want, const struct est_csrattrs *attrs)
{
	if (attrs->curve_nid == NID_secp384r1)
		return EST_KEY_P384;
	if (attrs->curve_nid == NID_X9_62_prime256v1)
		return EST_KEY_P256;
	if (attrs->rsa_bits == 2048)
		return EST_KEY_RSA2048;
	if (attrs->rsa_bits == 3072)
		return EST_KEY_RSA3072;
	if (attrs->rsa_bits == 4096)
		return EST_KEY_RSA4096;
	return want;
}

static char *
certs_pem(STACK_OF(X509) *sk, X509 *skip)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s;
	long n;
	int i;

	if (bio == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(sk); i++)
		if (sk_X509_value(sk, i) != skip)
			PEM_write_bio_X509(bio, sk_X509_value(sk, i));
	n = BIO_get_mem_data(bio, &data);
	s = tf_strndup(n > 0 ? data : "", n > 0 ? (size_t)n : 0);
	BIO_free(bio);
	return s;
}

/* The serverkeygen answer: the key (application/pkcs8) and certificate. */
static int
decode_keygen(EVP_PKEY **key, STACK_OF(X509) **certs, struct tf_ctx *ctx,
    const struct est_config *cfg, const struct http_response *resp)
{
	struct est_part parts[EST_PARTS_MAX];
	struct est_ctype ct;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t n = 0, i, dlen = 0;
	const char *why = NULL;
	int rc = 0;

	*key = NULL;
	*certs = NULL;
	if (est_ctype_parse(&ct, resp->ctype, strlen(resp->ctype), &why) != 0 ||
	    strncmp(ct.type, "multipart/", 10) != 0 || ct.boundary[0] == '\0')
		return tf_error(ctx, TF_EINVALID,
		    "EST server '%s' answered /serverkeygen without a multipart body", cfg->server);
	if (est_multipart_parse(parts, &n, resp->body, resp->len, ct.boundary, &why) != 0)
		return tf_error(ctx, TF_EINVALID,
		    "cannot decode the answer of '%s' to /serverkeygen: %s", cfg->server, why);
	for (i = 0; i < n && rc == 0; i++) {
		if (strcmp(parts[i].ctype.type, "application/pkcs8") == 0 && *key == NULL) {
			if (parts[i].len > KEY_DER_MAX ||
			    est_body_der(&der, &dlen, parts[i].body, parts[i].len, &why) != 0) {
				rc = tf_error(ctx, TF_EINVALID,
				    "cannot decode the key '%s' generated", cfg->server);
				break;
			}
			p = der;
			*key = d2i_AutoPrivateKey(NULL, &p, (long)dlen);
			est_secret_free(der, dlen);
			der = NULL;
			if (*key == NULL)
				rc = tf_error(ctx, TF_EINVALID,
				    "the key '%s' generated is not a PKCS#8 private key",
				    cfg->server);
		} else if (strcmp(parts[i].ctype.type, "application/pkcs7-mime") == 0 &&
		    *certs == NULL) {
			rc = decode_certs(certs, ctx, cfg, "serverkeygen", NULL, parts[i].body,
			    parts[i].len);
		}
	}
	if (rc == 0 && (*key == NULL || *certs == NULL))
		rc = tf_error(ctx, TF_EINVALID,
		    "answer of '%s' to /serverkeygen lacks the key or the certificate",
		    cfg->server);
	if (rc != 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
		sk_X509_pop_free(*certs, X509_free);
		*certs = NULL;
	}
	ERR_clear_error();
	return rc;
}

/* The names to ask for: those of the old certificate, or those given. */
static int
names_for(X509_NAME **subject, GENERAL_NAMES **sans, struct tf_ctx *ctx,
    const struct est_request *req)
{
	*subject = NULL;
	*sans = NULL;
	if (req->old_cert != NULL) {
		*subject = X509_NAME_dup(X509_get_subject_name(req->old_cert));
		*sans = X509_get_ext_d2i(req->old_cert, NID_subject_alt_name, NULL, NULL);
		return *subject != NULL ? 0 : tf_error(ctx, TF_ENOMEM, "out of memory");
	}
	if (req->subject == NULL)
		return tf_error(ctx, TF_ECONFIG, "no subject for a first enrollment (--subject)");
	if (est_subject_parse(subject, ctx, req->subject) != 0)
		return TF_EINVALID;
	if (req->nsans > 0 && est_sans_parse(sans, ctx, req->sans, req->nsans) != 0)
		return TF_EINVALID;
	return 0;
}

/* The challengePassword of proof of possession: the channel binding, base64. */
static int
pop_challenge(char **out, unsigned char *binding, size_t *blen, struct http *h)
{
	size_t n;
	bool exporter;
	int rc;

	*out = NULL;
	if ((rc = http_channel_binding(h, binding, 64, blen, &exporter)) != 0)
		return rc;
	*out = est_base64_encode(binding, *blen, &n);
	if (n > 0 && (*out)[n - 1] == '\n')
		(*out)[n - 1] = '\0';
	return 0;
}

static bool
csr_matches_key(const unsigned char *der, size_t len, EVP_PKEY *key)
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	bool ok = req != NULL && EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key) == 1;

	X509_REQ_free(req);
	ERR_clear_error();
	return ok;
}

static void
spki_sha256(unsigned char out[32], EVP_PKEY *key)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	memset(out, 0, 32);
	if (n > 0)
		SHA256(der, (size_t)n, out);
	OPENSSL_free(der);
}

int
est_enroll(struct est_result **out, struct tf_ctx *ctx, const struct est_config *cfg,
    const struct est_request *req)
{
	struct est_result *res = tf_calloc(1, sizeof(*res));
	struct est_csrattrs attrs;
	struct http_response resp = { 0 };
	struct http *h = NULL;
	STACK_OF(X509) *cacerts = NULL, *certs = NULL;
	X509_NAME *subject = NULL;
	GENERAL_NAMES *sans = NULL;
	EVP_PKEY *key = NULL, *server_key = NULL;
	struct est_expect want;
	unsigned char binding[64], binding2[64];
	size_t blen = 0, blen2 = 0, b64len = 0;
	char *challenge = NULL, *b64 = NULL, *path = NULL;
	const char *op = req->serverkeygen ? "serverkeygen"
	    : req->reenroll                ? "simplereenroll"
	                                   : "simpleenroll";
	bool exporter;
	int rc;

	*out = NULL;
	if (req->http_status != NULL)
		*req->http_status = 0;
	if ((rc = names_for(&subject, &sans, ctx, req)) != 0)
		goto out;
	if ((rc = http_open(&h, ctx, cfg)) != 0)
		goto out;
	if (req->ca_certs == NULL && (rc = get_cacerts(&cacerts, ctx, cfg, h)) != 0)
		goto out;
	if ((rc = get_csrattrs(&attrs, ctx, cfg, h)) != 0)
		goto out;

	/* the key: the pending attempt's, or a new one */
	if (req->pending_key_pem != NULL) {
		if ((rc = est_key_from_pem(&key, ctx, req->pending_key_pem,
		         req->pending_key_len)) != 0)
			goto out;
	} else if ((rc = est_key_new(&key, ctx, key_type_for(req->key_type, &attrs))) != 0) {
		goto out;
	}
	res->used_pop = req->pop || attrs.wants_pop;
	if (res->used_pop && (rc = pop_challenge(&challenge, binding, &blen, h)) != 0)
		goto out;
	if (req->pending_csr != NULL && !res->used_pop) {
		/* resend the very CSR of the pending attempt */
		if (!csr_matches_key(req->pending_csr, req->pending_csr_len, key)) {
			rc = tf_error(ctx, TF_EINVALID,
			    "the pending request does not match its key");
			goto out;
		}
		res->csr_der = tf_malloc(req->pending_csr_len);
		memcpy(res->csr_der, req->pending_csr, req->pending_csr_len);
		res->csr_der_len = req->pending_csr_len;
	} else if ((rc = est_csr_build(&res->csr_der, &res->csr_der_len, ctx, key, subject, sans,
	                attrs.md_nid, challenge)) != 0) {
		goto out;
	}
	if ((rc = est_key_pem(&res->key_pem, &res->key_pem_len, ctx, key)) != 0)
		goto out;
	spki_sha256(res->key_sha256, key);

	/* conservative: base64 in lines of 64 with a final newline */
	b64 = est_base64_encode(res->csr_der, res->csr_der_len, &b64len);
	if ((path = est_path(ctx, cfg, op)) == NULL) {
		rc = TF_ECONFIG;
		goto out;
	}
	if ((rc = http_request(h, path, "application/pkcs10", b64, b64len, &resp)) != 0)
		goto out;
	if (req->http_status != NULL)
		*req->http_status = resp.status;
	if (res->used_pop) {
		/* the binding in the CSR is only worth something on this connection */
		if (http_channel_binding(h, binding2, sizeof(binding2), &blen2, &exporter) != 0 ||
		    blen2 != blen || CRYPTO_memcmp(binding, binding2, blen) != 0) {
			rc = tf_error(ctx, TF_ENET,
			    "EST server '%s' closed the connection before the request: proof of "
			    "possession needs one connection",
			    cfg->server);
			goto out;
		}
	}
	if (resp.status == 202) {
		res->pending = true;
		res->retry_after = est_retry_after(resp.retry_after, ctx->now);
		goto done;
	}
	if (resp.status != 200) {
		rc = status_error(ctx, cfg, op, &resp);
		goto out;
	}
	if (req->serverkeygen) {
		if ((rc = decode_keygen(&server_key, &certs, ctx, cfg, &resp)) != 0)
			goto out;
		EVP_PKEY_free(key);
		key = server_key;
		server_key = NULL;
		est_secret_free(res->key_pem, res->key_pem_len);
		res->key_pem = NULL;
		if ((rc = est_key_pem(&res->key_pem, &res->key_pem_len, ctx, key)) != 0)
			goto out;
		spki_sha256(res->key_sha256, key);
	} else if ((rc = decode_certs(&certs, ctx, cfg, op, resp.ctype, resp.body, resp.len)) !=
	    0) {
		goto out;
	}

	memset(&want, 0, sizeof(want));
	want.key = key;
	want.subject = subject;
	want.sans = sans;
	want.client_auth = req->old_cert != NULL &&
	    (X509_get_extension_flags(req->old_cert) & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(req->old_cert) & XKU_SSL_CLIENT) != 0;
	want.anchors = req->ca_certs != NULL ? req->ca_certs : cacerts;
	if ((rc = est_issued_check(&res->cert, ctx, certs, &want)) != 0)
		goto out;
	{
		/* the certificate alone, then the chain: the CA certificates the
		 * answer carried, or else the EST CA certificates */
		STACK_OF(X509) *one = sk_X509_new_null();

		if (one != NULL && sk_X509_push(one, res->cert))
			res->cert_pem = certs_pem(one, NULL);
		sk_X509_free(one);
	}
	res->chain_pem =
	    sk_X509_num(certs) > 1 ? certs_pem(certs, res->cert) : certs_pem(want.anchors, NULL);
	if (res->cert_pem == NULL || res->chain_pem == NULL) {
		rc = tf_error(ctx, TF_ENOMEM, "out of memory");
		goto out;
	}
done:
	*out = res;
	res = NULL;
	rc = 0;
out:
	http_response_release(&resp);
	http_free(h);
	OPENSSL_cleanse(binding, sizeof(binding));
	free(challenge);
	free(b64);
	free(path);
	sk_X509_pop_free(cacerts, X509_free);
	sk_X509_pop_free(certs, X509_free);
	X509_NAME_free(subject);
	GENERAL_NAMES_free(sans);
	EVP_PKEY_free(key);
	EVP_PKEY_free(server_key);
	est_result_free(res);
	return rc;
}

void
est_result_free(struct est_result *r)
{
	if (r == NULL)
		return;
	est_secret_free(r->key_pem, r->key_pem_len);
	free(r->csr_der);
	free(r->cert_pem);
	free(r->chain_pem);
	X509_free(r->cert);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}
