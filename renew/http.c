/*
 * renew/http.c - HTTPS for the EST client, and the download of a bundle
 * (http_fetch()): the only file that uses libcurl. EST is always verified
 * against an explicit trust anchor, TLS 1.2 or later, answers capped in
 * size, libcurl errors turned into TF_E* codes with messages that carry no
 * unescaped server bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "../core/path.h"
#include "est_parse.h"

#define RESPONSE_MAX (1024 * 1024)
#define PASSWORD_MAX 4096
#define BINDING_MAX 64
#define RETRY_DEFAULT 60

struct http {
	struct tf_ctx *ctx;
	const struct est_config *cfg;
	CURL *curl;
	struct curl_slist *headers;
	char *password; /* wiped on free */
	size_t password_len;
	size_t max;
	struct http_response *resp; /* the response being received */
	size_t cap;                 /* bytes allocated for resp->body */
	bool too_big;
	/* channel binding of the connection of the last request */
	unsigned char binding[BINDING_MAX];
	size_t binding_len;
	bool binding_exporter;
	bool reused;
	bool bootstrap;             /* unverified, no credentials: see http_open_bootstrap() */
	STACK_OF(X509) *peer_chain; /* the server's certificates, in bootstrap mode */
	char errbuf[CURL_ERROR_SIZE];
};

void
est_secret_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* Read the first line of the password file, as given (not under the root). */
static int
read_password(struct http *h, const char *path)
{
	char *buf = NULL;
	size_t len = 0, n;
	int rc;

	if ((rc = tf_read_input(h->ctx, path, PASSWORD_MAX, &buf, &len)) != 0)
		return rc;
	for (n = 0; n < len && buf[n] != '\n' && buf[n] != '\r'; n++)
		;
	h->password = tf_strndup(buf, n);
	h->password_len = n;
	est_secret_free(buf, len);
	return 0;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http *h = arg;
	struct http_response *r = h->resp;
	size_t n = size * nmemb;

	if (n > h->max || r->len > h->max - n) {
		h->too_big = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > h->cap) {
		/* grown by hand, not realloc(): the old buffer may hold a key
		 * (/serverkeygen) and is wiped before it is freed */
		size_t cap = h->cap < 4096 ? 4096 : h->cap;
		unsigned char *nb;

		while (cap < r->len + n + 1)
			cap *= 2;
		nb = tf_malloc(cap);
		if (r->body != NULL) {
			memcpy(nb, r->body, r->len);
			OPENSSL_cleanse(r->body, r->len);
			free(r->body);
		}
		r->body = nb;
		h->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* Keep a header value, trimmed; a too long one is cut (it is only parsed). */
static void
keep_header(char *dst, size_t size, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (
	    n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http *h = arg;
	struct http_response *r = h->resp;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (after a 401 challenge or a 100): forget the last */
		r->ctype[0] = r->cte[0] = r->retry_after[0] = '\0';
	} else if (n > 13 && strncasecmp(data, "content-type:", 13) == 0) {
		keep_header(r->ctype, sizeof(r->ctype), data + 13, n - 13);
	} else if (n > 26 && strncasecmp(data, "content-transfer-encoding:", 26) == 0) {
		keep_header(r->cte, sizeof(r->cte), data + 26, n - 26);
	} else if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
		keep_header(r->retry_after, sizeof(r->retry_after), data + 12, n - 12);
	}
	return n;
}

/*
 * Called by libcurl once the connection of a request is up, before the
 * request is sent: note the channel binding of that connection (RFC 7030
 * §3.5 tls-unique on TLS 1.2, RFC 9266 tls-exporter on TLS 1.3), so that a
 * CSR can carry it and the POST can be checked to travel on the same one.
 */
static int
on_prereq(void *arg, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
    int conn_local_port)
{
	struct http *h = arg;
	struct curl_tlssessioninfo *info = NULL;
	SSL *ssl;

	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	h->binding_len = 0;
	if (curl_easy_getinfo(h->curl, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
	    info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL)
		return CURL_PREREQFUNC_OK;
	ssl = info->internals;
	if (h->bootstrap) {
		STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
		int i;

		sk_X509_pop_free(h->peer_chain, X509_free);
		h->peer_chain = sk_X509_new_null();
		for (i = 0; sk != NULL && i < sk_X509_num(sk); i++)
			if (X509_up_ref(sk_X509_value(sk, i)))
				sk_X509_push(h->peer_chain, sk_X509_value(sk, i));
	}
	if (SSL_version(ssl) >= TLS1_3_VERSION) {
		if (SSL_export_keying_material(ssl, h->binding, 32, "EXPORTER-Channel-Binding", 24,
		        NULL, 0, 0) == 1) {
			h->binding_len = 32;
			h->binding_exporter = true;
		}
	} else {
		/* the first Finished message of the handshake: the client's in a
		 * full handshake, the server's in a resumed one */
		if (SSL_session_reused(ssl))
			h->binding_len = SSL_get_peer_finished(ssl, h->binding, sizeof(h->binding));
		else
			h->binding_len = SSL_get_finished(ssl, h->binding, sizeof(h->binding));
		if (h->binding_len > sizeof(h->binding))
			h->binding_len = 0;
		h->binding_exporter = false;
	}
	return CURL_PREREQFUNC_OK;
}

static int
open_common(struct http **out, struct tf_ctx *ctx, const struct est_config *cfg, bool bootstrap)
{
	struct http *h = tf_calloc(1, sizeof(*h));
	int rc = TF_ERROR;

	*out = NULL;
	h->bootstrap = bootstrap;
	h->ctx = ctx;
	h->cfg = cfg;
	h->max = cfg->max_response != 0 ? cfg->max_response : RESPONSE_MAX;
	if (cfg->server == NULL || strncasecmp(cfg->server, "https://", 8) != 0) {
		rc = tf_error(ctx, TF_ECONFIG, "EST server must be an https:// URL (--server)");
		goto out;
	}
	if (cfg->ca_file == NULL && !bootstrap) {
		rc = tf_error(ctx, TF_ECONFIG,
		    "no trust anchor for the EST server: set ca_file or --ca-file");
		goto out;
	}
	if (!bootstrap && cfg->username != NULL && cfg->password_file != NULL &&
	    (rc = read_password(h, cfg->password_file)) != 0)
		goto out;
	if ((h->curl = curl_easy_init()) == NULL) {
		rc = tf_error(ctx, TF_ERROR, "cannot initialise libcurl");
		goto out;
	}
	*out = h;
	h = NULL;
	rc = 0;
out:
	http_free(h);
	return rc;
}

int
http_open(struct http **out, struct tf_ctx *ctx, const struct est_config *cfg)
{
	return open_common(out, ctx, cfg, false);
}

int
http_open_bootstrap(struct http **out, struct tf_ctx *ctx, const struct est_config *cfg)
{
	return open_common(out, ctx, cfg, true);
}

int
http_peer_chain(struct http *h, STACK_OF(X509) **out)
{
	int i;

	*out = NULL;
	if (h->peer_chain == NULL || sk_X509_num(h->peer_chain) == 0)
		return tf_error(h->ctx, TF_EREFUSED, "EST server '%s' showed no certificate",
		    h->cfg->server);
	*out = sk_X509_new_null();
	for (i = 0; i < sk_X509_num(h->peer_chain); i++)
		if (X509_up_ref(sk_X509_value(h->peer_chain, i)))
			sk_X509_push(*out, sk_X509_value(h->peer_chain, i));
	return 0;
}

/* Map a libcurl failure to a code and a message without raw server bytes. */
static int
curl_fail(struct http *h, CURLcode cc, const char *url)
{
	char detail[300], where[300];
	int code = TF_ENET;

	est_sanitise(where, sizeof(where), (const unsigned char *)url, strlen(url));
	if (h->too_big || cc == CURLE_FILESIZE_EXCEEDED)
		return tf_error(h->ctx, TF_ENET, "answer of '%s' is larger than %zu bytes", where,
		    h->max);
	if (h->errbuf[0] != '\0')
		est_sanitise(detail, sizeof(detail), (const unsigned char *)h->errbuf,
		    strlen(h->errbuf));
	else
		snprintf(detail, sizeof(detail), "%s", curl_easy_strerror(cc));
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		code = TF_EREFUSED;
		break;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		code = TF_ECONFIG;
		break;
	case CURLE_OUT_OF_MEMORY:
		code = TF_ENOMEM;
		break;
	default:
		break;
	}
	return tf_error(h->ctx, code, "EST request to '%s' failed: %s", where, detail);
}

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if ((cc = curl_easy_setopt(c, opt, val)) != CURLE_OK)                              \
			goto fail;                                                                 \
	} while (0)

int
http_request(struct http *h, const char *path, const char *ctype, const char *body, size_t body_len,
    struct http_response *resp)
{
	const struct est_config *cfg = h->cfg;
	CURL *c = h->curl;
	struct curl_blob blob;
	char *url = tf_asprintf("%s%s", cfg->server, path), *hdr = NULL;
	long connects = 0;
	CURLcode cc = CURLE_OK;
	int rc = TF_ERROR;

	memset(resp, 0, sizeof(*resp));
	h->resp = resp;
	h->cap = 0;
	h->too_big = false;
	h->errbuf[0] = '\0';
	curl_slist_free_all(h->headers);
	h->headers = NULL;

	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, h->errbuf);
	if (h->bootstrap) {
		/* RFC 7030 §4.1.1: the caller checks what came against the
		 * fingerprint the operator gave, and the server against that */
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		/* only the trust anchor given: no system bundle, no CA directory */
		SET(CURLOPT_CAINFO, cfg->ca_file);
		SET(CURLOPT_CAPATH, NULL);
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
	}
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* no session resumption: every connection is a full handshake, which
	 * servers that ask for client certificates without a session id
	 * context require, and which keeps tls-unique the client's Finished */
	SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	SET(CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout > 0 ? cfg->connect_timeout : 30L);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, cfg->stall_timeout > 0 ? cfg->stall_timeout : 60L);
	SET(CURLOPT_TIMEOUT, cfg->total_timeout > 0 ? cfg->total_timeout : 300L);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, h);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, h);
	SET(CURLOPT_PREREQFUNCTION, on_prereq);
	SET(CURLOPT_PREREQDATA, h);
	SET(CURLOPT_USERAGENT, "trustfix/" TF_VERSION);
	if (h->bootstrap) {
		/* no credentials to a server not yet trusted */
	} else if (cfg->client_cert_pem != NULL) {
		blob.data = (void *)cfg->client_cert_pem;
		blob.len = strlen(cfg->client_cert_pem);
		blob.flags = CURL_BLOB_NOCOPY;
		SET(CURLOPT_SSLCERT_BLOB, &blob);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->client_cert != NULL) {
		SET(CURLOPT_SSLCERT, cfg->client_cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (h->bootstrap) {
		/* none */
	} else if (cfg->client_key_pem != NULL) {
		/* NOCOPY: libcurl keeps no copy of the key of its own */
		blob.data = (void *)cfg->client_key_pem;
		blob.len = strlen(cfg->client_key_pem);
		blob.flags = CURL_BLOB_NOCOPY;
		SET(CURLOPT_SSLKEY_BLOB, &blob);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->client_key != NULL) {
		SET(CURLOPT_SSLKEY, cfg->client_key);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (h->password != NULL) {
		/* Basic only, so libcurl sends the credentials at once and again
		 * after a 401 challenge from servers that want one first */
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, cfg->username);
		SET(CURLOPT_PASSWORD, h->password);
	}
	/* no "Expect: 100-continue": some servers never answer it */
	h->headers = curl_slist_append(h->headers, "Expect:");
	if (body != NULL) {
		hdr = tf_asprintf("Content-Type: %s", ctype);
		h->headers = curl_slist_append(h->headers, hdr);
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, body);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
	SET(CURLOPT_HTTPHEADER, h->headers);
	if ((cc = curl_easy_perform(c)) != CURLE_OK)
		goto fail;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->status == 401 && h->password != NULL) {
		/* some servers refuse credentials sent before their challenge: once
		 * challenged, send the same request with them again */
		http_response_release(resp);
		memset(resp, 0, sizeof(*resp));
		h->cap = 0;
		if ((cc = curl_easy_perform(c)) != CURLE_OK)
			goto fail;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	}
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	h->reused = connects == 0;
	if (resp->body == NULL) {
		resp->body = tf_calloc(1, 1);
		resp->len = 0;
	}
	rc = 0;
	goto out;
fail:
	rc = curl_fail(h, cc, url);
	http_response_release(resp);
out:
	h->resp = NULL;
	free(hdr);
	free(url);
	return rc;
}

int
http_channel_binding(struct http *h, unsigned char *out, size_t size, size_t *len,
    bool *is_exporter)
{
	if (h->binding_len == 0 || h->binding_len > size)
		return tf_error(h->ctx, TF_ENET,
		    "no TLS channel binding for proof of possession on '%s'", h->cfg->server);
	memcpy(out, h->binding, h->binding_len);
	*len = h->binding_len;
	*is_exporter = h->binding_exporter;
	return 0;
}

bool
http_reused_connection(struct http *h)
{
	return h->reused;
}

void
http_response_release(struct http_response *resp)
{
	if (resp == NULL)
		return;
	/* a /serverkeygen answer holds a private key */
	if (resp->body != NULL)
		OPENSSL_cleanse(resp->body, resp->len);
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL) {
		/* drop libcurl's own copy of the password too */
		curl_easy_setopt(h->curl, CURLOPT_PASSWORD, "");
		curl_easy_cleanup(h->curl);
	}
	curl_slist_free_all(h->headers);
	sk_X509_pop_free(h->peer_chain, X509_free);
	est_secret_free(h->password, h->password_len);
	OPENSSL_cleanse(h->binding, sizeof(h->binding));
	free(h);
}

long
est_retry_after(const char *value, time_t now)
{
	const char *p = value;
	long long v = 0;
	time_t t;
	bool neg = false;

	if (value == NULL)
		return RETRY_DEFAULT;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return RETRY_DEFAULT;
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++)
			if (v < EST_RETRY_MAX)
				v = v * 10 + (*p - '0');
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '\0')
			return RETRY_DEFAULT; /* "12abc" */
		if (neg || v < EST_RETRY_MIN)
			return EST_RETRY_MIN;
		return v > EST_RETRY_MAX ? EST_RETRY_MAX : (long)v;
	}
	if (neg)
		return RETRY_DEFAULT;
	if ((t = curl_getdate(value, NULL)) == -1)
		return RETRY_DEFAULT;
	if (t <= now)
		return EST_RETRY_MIN;
	if (t - now > EST_RETRY_MAX)
		return EST_RETRY_MAX;
	return (long)(t - now);
}

/* ---- a download (bundles/fetch.c), so that libcurl stays in this one file ---- */

struct fetch_sink {
	unsigned char *p;
	size_t len, cap, max;
	bool too_large;
};

static size_t
on_fetch_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch_sink *s = arg;
	size_t n = size * nmemb;

	if (s->len + n > s->max) {
		s->too_large = true;
		return 0; /* stops the transfer */
	}
	if (s->len + n > s->cap) {
		s->cap = s->cap ? s->cap : 65536;
		while (s->len + n > s->cap)
			s->cap *= 2;
		if (s->cap > s->max)
			s->cap = s->max;
		s->p = tf_realloc(s->p, s->cap);
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
	return n;
}

int
http_fetch(struct tf_ctx *ctx, const char *url, const char *ca_file, size_t max, const char *what,
    unsigned char **out, size_t *len)
{
	struct fetch_sink s = { .max = max };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = NULL;
	CURLcode cc;
	long status = 0;
	int rc = TF_ENET;

	*out = NULL;
	*len = 0;
	if (strncmp(url, "https://", 8) != 0)
		return tf_error(ctx, TF_EUSAGE,
		    "'%s': only https:// URLs are fetched (carry the file and give its path "
		    "instead)",
		    url);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (c = curl_easy_init()) == NULL) {
		rc = tf_error(ctx, TF_ERROR, "cannot start libcurl");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* stalled for a minute: give up */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "trustfix/" TF_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_fetch_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (s.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = tf_error(ctx, TF_EREFUSED, "'%s' is larger than %zu bytes: not %s", url, max,
		    what);
		goto out;
	}
	if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
	    cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
		rc = tf_error(ctx, TF_EREFUSED,
		    "'%s': the server's certificate does not verify%s: %s", url,
		    ca_file != NULL ? " against --ca-file" : " (pin its CA with --ca-file)",
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = tf_error(ctx, TF_ENET, "cannot fetch '%s': %s", url,
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	if (status != 200) {
		rc = tf_error(ctx, TF_ENET, "cannot fetch '%s': the server answered HTTP %ld", url,
		    status);
		goto out;
	}
	*out = s.p;
	*len = s.len;
	s.p = NULL;
	rc = 0;
out:
	free(s.p);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return rc;
}

const char *
http_library_version(void)
{
	return curl_version_info(CURLVERSION_NOW)->version;
}
