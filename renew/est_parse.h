/*
 * renew/est_parse.h - the EST client's internals shared by its files and its
 * tests: response parsers (base64, Content-Type, multipart, PKCS#7,
 * csrattrs), the HTTP layer, keys, CSRs and the check of an issued
 * certificate. Not for use outside renew/.
 */
#ifndef TF_RENEW_EST_PARSE_H
#define TF_RENEW_EST_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "renew.h"

/* ---- parsers (renew/est_parse.c): no context, no I/O, safe on any input ---- */

/*
 * Decode base64 liberally: line breaks (LF or CRLF), spaces and tabs
 * anywhere, padding optional, trailing NUL bytes ignored. Anything else is
 * refused. *out (a new buffer, freed by the caller) gets the bytes.
 * Returns 0, or -1 with *why set to a static reason.
 */
int est_base64_decode(unsigned char **out, size_t *outlen, const char *in, size_t len,
    const char **why);

/*
 * Encode conservatively: lines of 64 characters, each ended by LF, the last
 * one too. Returns a new NUL-terminated string of *outlen bytes.
 */
char *est_base64_encode(const unsigned char *in, size_t len, size_t *outlen);

/* A parsed Content-Type value: media type and the parameters EST uses. */
struct est_ctype {
	char type[80];     /* "application/pkcs7-mime", lowercased */
	char smime[32];    /* smime-type parameter, lowercased, or "" */
	char boundary[72]; /* boundary parameter as sent (at most 70), or "" */
};

/*
 * Parse a Content-Type header value: parameters in any order, quoted or not,
 * unknown ones skipped. Returns 0, or -1 with *why set.
 */
int est_ctype_parse(struct est_ctype *ct, const char *value, size_t len, const char **why);

/* One body part of a multipart response; pointers into the parsed body. */
struct est_part {
	struct est_ctype ctype; /* type "" when the part had none */
	bool has_cte;           /* a Content-Transfer-Encoding header was seen */
	char cte[24];           /* its value, lowercased */
	const unsigned char *body;
	size_t len;
};

#define EST_PARTS_MAX 8

/*
 * Split a multipart body at 'boundary' into at most EST_PARTS_MAX parts
 * (LF or CRLF line ends; preamble and epilogue ignored). Returns 0, or -1
 * with *why set.
 */
int est_multipart_parse(struct est_part *parts, size_t *nparts, const unsigned char *body,
    size_t len, const char *boundary, const char **why);

/*
 * The DER inside an EST body: base64 (RFC 8951: whatever the
 * Content-Transfer-Encoding says), or raw DER when the server sent binary
 * and said so or sent no encoding at all. *out is a new buffer.
 * Returns 0 or -1 with *why set.
 */
int est_body_der(unsigned char **out, size_t *outlen, const unsigned char *body, size_t len,
    const char **why);

/*
 * The certificates of a PKCS#7 (CMS SignedData) certs-only message in DER.
 * At least one certificate, no trailing bytes. Returns 0 and a new stack
 * (free with sk_X509_pop_free(*out, X509_free)), or -1 with *why set.
 */
int est_pkcs7_certs(STACK_OF(X509) **out, const unsigned char *der, size_t len, const char **why);

/* What a /csrattrs answer asks for, as far as trustfix honours it. */
struct est_csrattrs {
	bool wants_pop;  /* challengePassword listed: proof of possession */
	int md_nid;      /* a signature hash asked for (NID_sha384 ...), or NID_undef */
	int curve_nid;   /* an EC curve asked for, or NID_undef */
	int rsa_bits;    /* an RSA size asked for, or 0 */
	size_t nunknown; /* attributes not understood (ignored) */
};

/* Parse the DER CsrAttrs (SEQUENCE OF AttrOrOID). Returns 0 or -1, *why. */
int est_csrattrs_parse(struct est_csrattrs *out, const unsigned char *der, size_t len,
    const char **why);

/*
 * Copy server bytes for a message: printable ASCII kept, every other byte
 * written as \xNN, at most 'size' - 1 bytes and never more than 200
 * characters of input, "..." appended when cut. Always NUL-terminates.
 */
void est_sanitise(char *out, size_t size, const unsigned char *in, size_t len);

/* ---- HTTP (renew/http.c, the only file that includes libcurl) ---- */

struct http;

/* One response: status, the headers EST needs, and the body. */
struct http_response {
	long status;
	char ctype[256];       /* Content-Type, as sent ("" if none) */
	char cte[64];          /* Content-Transfer-Encoding ("" if none) */
	char retry_after[128]; /* Retry-After ("" if none) */
	unsigned char *body;   /* NUL-terminated, 'len' bytes before the NUL */
	size_t len;
};

/*
 * Open a connection context to cfg->server. Nothing is sent yet.
 * Returns 0, or TF_ECONFIG / TF_EIO with the message set. The password
 * (read from cfg->password_file) is kept only until http_free(), and wiped.
 */
int http_open(struct http **out, struct tf_ctx *ctx, const struct est_config *cfg);

/*
 * The same for bootstrapping trust (RFC 7030 §4.1.1): the server is not
 * verified, no client certificate or password is sent, and the server's
 * certificates are kept for http_peer_chain(). ca_file may be NULL.
 */
int http_open_bootstrap(struct http **out, struct tf_ctx *ctx, const struct est_config *cfg);

/* The certificates the server showed (bootstrap mode): a new stack, or TF_EREFUSED. */
int http_peer_chain(struct http *h, STACK_OF(X509) **out);

/*
 * GET or POST (body non-NULL) 'path' (absolute, starting with '/').
 * Responses of any status are returned (status in resp->status); only
 * transport failures are errors: TF_ENET with a sanitised message.
 * Release resp with http_response_release().
 */
int http_request(struct http *h, const char *path, const char *ctype, const char *body,
    size_t body_len, struct http_response *resp);

/*
 * The channel binding of the connection of the last request, if it is still
 * open: tls-unique (TLS 1.2, RFC 5929: the first Finished message) or
 * tls-exporter (TLS 1.3, RFC 9266). Returns 0 with *len bytes and
 * *is_exporter, or TF_ENET.
 */
int http_channel_binding(struct http *h, unsigned char *out, size_t size, size_t *len,
    bool *is_exporter);

/* Whether the last request reused the connection of the one before it. */
bool http_reused_connection(struct http *h);

void http_response_release(struct http_response *resp);
void http_free(struct http *h);

/*
 * Seconds to wait for a Retry-After value: delay-seconds or an HTTP date
 * (relative to 'now'); missing, zero, negative, garbage or huge values are
 * clamped to [EST_RETRY_MIN, EST_RETRY_MAX].
 */
#define EST_RETRY_MIN 1
#define EST_RETRY_MAX 3600
long est_retry_after(const char *value, time_t now);

/* ---- keys and CSRs (renew/keygen.c, renew/csr.c) ---- */

/* A new key of 'type'. Returns 0 or TF_ERROR / TF_EINVALID with the message. */
int est_key_new(EVP_PKEY **out, struct tf_ctx *ctx, enum est_key_type type);

/* The key as unencrypted PKCS#8 PEM in a new buffer; wipe and free with est_secret_free(). */
int est_key_pem(char **out, size_t *len, struct tf_ctx *ctx, EVP_PKEY *key);

/* Read a PEM private key from memory. */
int est_key_from_pem(EVP_PKEY **out, struct tf_ctx *ctx, const char *pem, size_t len);

/*
 * Build and sign a CSR for 'key' with 'subject' and the subjectAltName
 * 'sans' (either may be NULL), the signature hash 'md_nid' (NID_undef: the
 * key's default), and the challengePassword 'challenge' when not NULL.
 * Returns 0 and the DER in a new buffer, or TF_E* with the message.
 */
int est_csr_build(unsigned char **der, size_t *der_len, struct tf_ctx *ctx, EVP_PKEY *key,
    const X509_NAME *subject, const GENERAL_NAMES *sans, int md_nid, const char *challenge);

/* Subject from "/CN=a/O=b" or "CN=a,O=b". Returns 0 or TF_EINVALID. */
int est_subject_parse(X509_NAME **out, struct tf_ctx *ctx, const char *text);

/* SANs from "DNS:x", "IP:1.2.3.4", "email:a@b", "URI:u" strings. */
int est_sans_parse(GENERAL_NAMES **out, struct tf_ctx *ctx, const char *const *sans, size_t n);

/* ---- the check of an issued certificate (renew/issued.c) ---- */

struct est_expect {
	EVP_PKEY *key;             /* the CSR's key */
	const X509_NAME *subject;  /* as requested */
	const GENERAL_NAMES *sans; /* as requested, or NULL for none */
	bool client_auth;          /* the old certificate had clientAuth */
	STACK_OF(X509) *anchors;   /* the EST CA certificates */
};

/*
 * Check the certificates of an enrollment response: exactly one end-entity
 * certificate with the CSR's key, the subject and SANs asked for, valid at
 * ctx->now (a notBefore up to 5 minutes ahead is clock skew, accepted),
 * chaining to 'anchors' (intermediates from the response allowed), with
 * clientAuth when expected. Returns 0 and the end-entity certificate (a new
 * reference) in *leaf, or TF_EREFUSED with the message set.
 */
int est_issued_check(X509 **leaf, struct tf_ctx *ctx, STACK_OF(X509) *certs,
    const struct est_expect *want);

#endif
