/*
 * renew/renew.h - the device's client certificate: when its renewal is due,
 * whether it is sound (key, chain, expiry), and the EST client (RFC 7030,
 * RFC 8951) that renews it.
 */
#ifndef TF_RENEW_H
#define TF_RENEW_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "../core/findings.h"
#include "../core/tf.h"

/*
 * The time at which a certificate valid from 'not_before' to 'not_after'
 * is due for renewal: 'before_days' before it expires, or once 'fraction'
 * of its lifetime has passed (when fraction > 0), whichever comes first.
 */
time_t renew_due_at(time_t not_before, time_t not_after, int before_days, double fraction);

struct client_check;

/* What the inspection of the client certificate found. */
struct client_report {
	char *subject;
	char *issuer;
	char *serial;
	unsigned char sha256[32];
	time_t not_before;
	time_t not_after;
	time_t renew_at;
	bool renewal_due;
	bool has_key; /* a key file was given */
	bool key_matches;
	bool chain_valid;
	char *chain_error; /* why the chain does not validate, or NULL */
};

/*
 * Load the client certificate 'cert' (with any intermediates after it in the
 * same file), its key 'key' and extra chain file 'chain' (both may be NULL);
 * all are paths of the managed system. Returns 0, or TF_EIO / TF_EINVALID
 * with the message set. Free with client_check_free().
 */
int client_check_open(struct client_check **out, struct tf_ctx *ctx, const char *cert,
    const char *key, const char *chain);

/*
 * Offer a certificate of an inspected store as a possible trust anchor.
 * Only those whose subject is an issuer in the client's chain (or of an
 * anchor kept so far) are decoded and kept; the others are kept as bytes,
 * up to 8 MiB, in case a store intermediate offered later names them as
 * its issuer. So a store of any size can be streamed through, and one of
 * ordinary size in any order.
 */
void client_check_offer(struct client_check *cc, const unsigned char *subject_der,
    size_t subject_len, const unsigned char *der, size_t der_len);

/*
 * Check expiry, renewal, key and chain (at ctx->now, against the anchors
 * offered), append the client findings to 'findings' and fill 'report'
 * (release it with client_report_release()). Returns 0 or TF_E*.
 */
int client_check_finish(struct client_check *cc, int before_days, double fraction,
    struct tf_findings *findings, struct client_report *report);

void client_report_release(struct client_report *r);
void client_check_free(struct client_check *cc);

/* ---- EST client (renew/est.c and its helpers) ---- */

enum est_key_type {
	EST_KEY_P256 = 0, /* the default */
	EST_KEY_P384,
	EST_KEY_RSA2048,
	EST_KEY_RSA3072,
	EST_KEY_RSA4096,
};

/*
 * Parse a key type name ("ec-p256", "p256", "ec-p384", "p384", "rsa2048",
 * "rsa3072", "rsa4096"). Returns 0 or TF_ECONFIG with the message set.
 */
int est_key_type_parse(enum est_key_type *out, struct tf_ctx *ctx, const char *name);

/*
 * How to reach the EST server. Paths are as this host sees them (the caller
 * resolves --root). Nothing here is copied: it must outlive the call.
 */
struct est_config {
	const char *server;  /* "https://host[:port]", required */
	const char *label;   /* CA label (/.well-known/est/<label>/...), or NULL */
	const char *ca_file; /* trust anchor(s) of the server, required */
	/* TLS client authentication: a certificate and key file, or PEM in
	 * memory (the key is handed to libcurl as a blob, never written). */
	const char *client_cert;
	const char *client_key;
	const char *client_cert_pem; /* instead of the files; NUL-terminated */
	const char *client_key_pem;
	/* HTTP Basic: only sent when both are set; the password is read from
	 * the file (first line) and wiped after use. */
	const char *username;
	const char *password_file;
	long connect_timeout; /* seconds; 0: 30 */
	long stall_timeout;   /* seconds without data before giving up; 0: 60 */
	long total_timeout;   /* seconds for one whole request (a slow drip); 0: 300 */
	size_t max_response;  /* bytes; 0: 1 MiB; larger answers are refused */
};

/*
 * GET /cacerts: the EST CA certificates. Returns 0 and a new stack (free
 * with sk_X509_pop_free(*out, X509_free)), or TF_ENET (transport, 4xx/5xx
 * with the server's message sanitised), TF_EINVALID (undecodable answer)
 * or TF_ECONFIG, with the message set.
 */
int est_cacerts(STACK_OF(X509) **out, struct tf_ctx *ctx, const struct est_config *cfg);

/*
 * GET /cacerts once without a trust anchor, to bootstrap it (RFC 7030
 * §4.1.1): no client certificate or password is sent on that connection,
 * the server is not verified while connecting; the answer is accepted only
 * if one of its certificates has the SHA-256 fingerprint 'sha256' (of the
 * DER, as the operator confirmed it), and the server's TLS certificate then
 * verifies against that certificate for the host of cfg->server.
 * cfg->ca_file is ignored. Returns 0 and the certificates received (the
 * caller saves them as the trust anchor), or TF_EREFUSED when the
 * fingerprint or the server does not match, TF_ENET, TF_EINVALID.
 */
int est_cacerts_bootstrap(STACK_OF(X509) **out, struct tf_ctx *ctx, const struct est_config *cfg,
    const unsigned char sha256[32]);

/*
 * What a request to enroll asks for.
 *
 * Proof of possession (RFC 7030 §3.5) is sent only when /csrattrs lists
 * challengePassword or 'pop' is set: servers that check any
 * challengePassword against the channel refuse one that is not a binding.
 * The binding is read from the connection libcurl opened (CURLINFO_TLS_SSL_PTR
 * in a CURLOPT_PREREQFUNCTION callback, before the request is sent): on TLS
 * 1.2 tls-unique, the first Finished message (the client's, as libcurl's
 * session cache is off and every handshake is a full one); on TLS 1.3,
 * where tls-unique does not exist, RFC 9266 tls-exporter (32 bytes of
 * SSL_export_keying_material, label "EXPORTER-Channel-Binding", no
 * context). Either goes base64 (no line breaks) into challengePassword. The
 * binding is taken from the /csrattrs request and checked again on the POST:
 * if the server closed the connection in between, the enrollment fails
 * with TF_ENET rather than sending a binding of another connection.
 */
struct est_request {
	bool reenroll;     /* /simplereenroll instead of /simpleenroll */
	bool serverkeygen; /* /serverkeygen: the server makes the key */
	bool pop;          /* add tls-unique / tls-exporter proof of possession
			    * even when /csrattrs does not ask for it */
	enum est_key_type key_type;
	/* The current certificate: its subject, SANs and clientAuth are kept.
	 * NULL for a first enrollment, which uses 'subject' and 'sans'. */
	X509 *old_cert;
	const char *subject;     /* "/CN=device/O=x" or "CN=device,O=x" */
	const char *const *sans; /* "DNS:name", "IP:addr", "email:x", "URI:x" */
	size_t nsans;
	/* Resending after 202 (possibly after a restart): the key and CSR of
	 * the pending attempt, from a previous est_result. Both or neither. */
	const char *pending_key_pem;
	size_t pending_key_len;
	const unsigned char *pending_csr;
	size_t pending_csr_len;
	/* The EST CA certificates if already fetched; NULL: est_enroll() gets
	 * /cacerts itself. The issued certificate must chain to these. */
	STACK_OF(X509) *ca_certs;
	/* If not NULL: set to the HTTP status of the enrollment POST (0 when
	 * none was answered), so a caller can fall back from a refused
	 * re-enrollment (401, 403) to a password enrollment. */
	long *http_status;
};

/* The outcome of est_enroll(). */
struct est_result {
	bool pending;     /* 202: call again with the same key and CSR after ... */
	long retry_after; /* ... this many seconds (clamped to [1, 3600]) */
	char *key_pem;    /* the new private key, PKCS#8 PEM (wiped on free) */
	size_t key_pem_len;
	unsigned char *csr_der; /* the CSR sent, to resend when pending */
	size_t csr_der_len;
	char *cert_pem;               /* the issued certificate, verified (NULL when pending) */
	char *chain_pem;              /* the EST CA certificates and any intermediates */
	X509 *cert;                   /* the issued certificate, decoded */
	unsigned char key_sha256[32]; /* SHA-256 of the new key's SPKI (for audit) */
	bool used_pop;                /* a channel binding was put in the CSR */
};

/*
 * Enroll (or re-enroll) over EST: get /cacerts (unless req->ca_certs) and
 * /csrattrs, make a new key (or reuse the pending one), build the CSR, POST
 * it, decode and verify the answer. Nothing is written to disk: the caller
 * installs key_pem, cert_pem and chain_pem (through txn/).
 * Returns 0 with *out set (check (*out)->pending), or TF_ENET (network,
 * server error: retrying later may help), TF_EREFUSED (the issued
 * certificate failed verification), TF_EINVALID (undecodable answer),
 * TF_ECONFIG, with the message set. Free with est_result_free().
 */
int est_enroll(struct est_result **out, struct tf_ctx *ctx, const struct est_config *cfg,
    const struct est_request *req);

/* Wipe the key and free everything; NULL is a no-op. */
void est_result_free(struct est_result *r);

/*
 * Create the file 'name' in the directory 'dirfd' (O_CREAT | O_EXCL |
 * O_NOFOLLOW, mode 0600 under umask 077) holding the key 'pem', fsynced.
 * For txn/ staging; an existing file or link is an error, not replaced.
 * Returns 0 or TF_EIO with the message set (the partial file is removed).
 */
int est_key_write(struct tf_ctx *ctx, int dirfd, const char *name, const char *pem, size_t len);

/*
 * GET the https:// URL 'url' into memory (*out, *len; the caller frees
 * *out): the server verified against 'ca_file' (NULL: the system's CAs),
 * redirects followed to https:// only, at most 'max' bytes ('what' names
 * the content in the message when it is larger). Returns 0, or TF_EUSAGE
 * (not https://), TF_EREFUSED (the server does not verify, too large),
 * TF_ENET, with the message set.
 */
int http_fetch(struct tf_ctx *ctx, const char *url, const char *ca_file, size_t max,
    const char *what, unsigned char **out, size_t *len);

/* The version of libcurl in use, for "trustfix version". */
const char *http_library_version(void);

/* Wipe (OPENSSL_cleanse) and free a secret buffer of 'len' bytes; NULL is a no-op. */
void est_secret_free(void *p, size_t len);

#endif
