/*
 * cli/probe.c - fetch a TLS server's chain and verify it against explicit
 * trust anchors only: the check "would this endpoint still work with this
 * store" that "trustfix probe" and the checks after a change share.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../core/config.h"
#include "../core/name.h"
#include "../core/path.h"
#include "../truststore/truststore.h"
#include "probe.h"

#define CHAIN_FILE_MAX (1024 * 1024)

const char *
probe_verdict_name(enum probe_verdict v)
{
	switch (v) {
	case PROBE_OK:
		return "ok";
	case PROBE_INVALID:
		return "invalid";
	case PROBE_UNREACHABLE:
		break;
	}
	return "unreachable";
}

char *
probe_escape(const char *s)
{
	char *out = tf_malloc(4 * strlen(s) + 1), *p = out;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c >= 0x80) {
			snprintf(p, 5, "\\x%02x", c);
			p += 4;
		} else {
			*p++ = (char)c;
		}
	}
	*p = '\0';
	return out;
}

static bool
is_ip_address(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int
probe_target_parse(struct probe_target *t, struct tf_ctx *ctx, const char *hostport)
{
	const char *colon, *end;
	char *shown;
	long port;
	int rc;

	t->host = t->port = NULL;
	if (hostport[0] == '[') {
		end = strchr(hostport, ']');
		colon = end != NULL && end[1] == ':' ? end + 1 : NULL;
		if (colon != NULL)
			t->host = tf_strndup(hostport + 1, (size_t)(end - hostport - 1));
	} else {
		colon = strrchr(hostport, ':');
		if (colon != NULL && memchr(hostport, ':', (size_t)(colon - hostport)) == NULL)
			t->host = tf_strndup(hostport, (size_t)(colon - hostport));
	}
	if (t->host == NULL || t->host[0] == '\0' || strspn(colon + 1, "0123456789") == 0 ||
	    colon[1 + strspn(colon + 1, "0123456789")] != '\0' ||
	    tf_parse_int(colon + 1, 1, 65535, &port) != 0) {
		shown = probe_escape(hostport);
		rc = tf_error(ctx, TF_EUSAGE,
		    "'%s' is not HOST:PORT (a name or address and a port from 1 to 65535; "
		    "write an IPv6 address as [ADDRESS]:PORT)",
		    shown);
		free(shown);
		probe_target_release(t);
		return rc;
	}
	t->port = tf_strdup(colon + 1);
	return 0;
}

void
probe_target_release(struct probe_target *t)
{
	free(t->host);
	free(t->port);
	t->host = t->port = NULL;
}

void
probe_chain_free(struct probe_chain *c)
{
	if (c == NULL)
		return;
	sk_X509_pop_free(c->certs, X509_free);
	free(c->origin);
	free(c);
}

void
probe_result_release(struct probe_result *r)
{
	free(r->subject);
	free(r->message);
	r->subject = r->message = NULL;
}

static double
monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left before 'deadline', at least 0. */
static int
ms_left(double deadline)
{
	double left = deadline - monotonic();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* Wait until 'fd' is ready for 'events'; 1 ready, 0 time is up, -1 error. */
static int
wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r, ms;

	for (;;) {
		if ((ms = ms_left(deadline)) == 0)
			return 0;
		if ((r = poll(&p, 1, ms)) >= 0 || errno != EINTR)
			return r > 0 ? 1 : r;
	}
}

/* A connected non-blocking socket to one address, or -1 with *err an errno (0: time up). */
static int
connect_one(const struct addrinfo *ai, double deadline, int *err)
{
	socklen_t len = sizeof(*err);
	int fd, r;

	*err = 0;
	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	         ai->ai_protocol)) == -1) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		return -1;
	}
	if ((r = wait_fd(fd, POLLOUT, deadline)) <= 0) {
		*err = r < 0 ? errno : 0;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) != 0)
		*err = errno;
	if (*err != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Resolve and connect, trying each address in turn. Returns the socket or TF_ENET. */
static int
dial(struct tf_ctx *ctx, const struct probe_target *t, const char *shown, double deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL, *ai;
	int fd = -1, err = 0, gai;

	if ((gai = getaddrinfo(t->host, t->port, &hints, &res)) != 0)
		return tf_error(ctx, TF_ENET,
		    "cannot probe %s: cannot resolve the host name: %s (check the name and the "
		    "DNS configuration)",
		    shown, gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		int e;

		if ((fd = connect_one(ai, deadline, &e)) == -1 && (err == 0 || e != 0))
			err = e;
		if (ms_left(deadline) == 0)
			break;
	}
	freeaddrinfo(res);
	if (fd != -1)
		return fd;
	if (err == 0)
		return tf_error(ctx, TF_ENET,
		    "cannot probe %s: no connection within %d s (check the address, the port and "
		    "the firewall; --timeout waits longer)",
		    shown, t->timeout);
	return tf_error(ctx, TF_ENET,
	    "cannot connect to %s: %s (check that the service runs and listens on that port)",
	    shown, strerror(err));
}

/* Why SSL_connect() failed, as a message that names the endpoint. */
static int
handshake_error(struct tf_ctx *ctx, SSL *ssl, int r, const char *shown)
{
	int e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_SSL)
		return tf_error_ssl(ctx, TF_ENET,
		    "TLS handshake with %s failed (is it a TLS port? does the server require "
		    "something this client does not offer?)",
		    shown);
	if (e == SSL_ERROR_SYSCALL && errno != 0)
		return tf_error_sys(ctx, TF_ENET, "TLS handshake with %s failed", shown);
	ERR_clear_error();
	return tf_error(ctx, TF_ENET,
	    "TLS handshake with %s failed: the server closed the connection (is it a TLS "
	    "port?)",
	    shown);
}

int
probe_fetch(struct probe_chain **out, struct tf_ctx *ctx, const struct probe_target *t)
{
	const char *name = t->servername != NULL ? t->servername : t->host;
	int timeout = t->timeout > 0 ? t->timeout : PROBE_TIMEOUT_DEFAULT;
	double deadline = monotonic() + timeout;
	struct probe_target tt = *t;
	struct probe_chain *c = NULL;
	STACK_OF(X509) *peer;
	SSL_CTX *sctx = NULL;
	SSL *ssl = NULL;
	char *hp, *shown;
	int fd = -1, r, rc = TF_ENET, i;

	*out = NULL;
	hp = strchr(t->host, ':') != NULL ? tf_asprintf("[%s]:%s", t->host, t->port)
	                                  : tf_asprintf("%s:%s", t->host, t->port);
	shown = probe_escape(hp);
	free(hp);
	tt.timeout = timeout;
	if ((fd = dial(ctx, &tt, shown, deadline)) < 0) {
		rc = fd;
		goto out;
	}
	if ((sctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION) || (ssl = SSL_new(sctx)) == NULL ||
	    !SSL_set_fd(ssl, fd)) {
		rc = tf_error_ssl(ctx, TF_ERROR, "cannot set up TLS for %s", shown);
		goto out;
	}
	/* the chain is judged afterwards, against the anchors the caller chooses */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (!is_ip_address(name) && !SSL_set_tlsext_host_name(ssl, name)) {
		rc = tf_error_ssl(ctx, TF_EUSAGE, "cannot send the server name for %s", shown);
		goto out;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_connect(ssl)) == 1)
			break;
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_WANT_READ:
			r = wait_fd(fd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			r = wait_fd(fd, POLLOUT, deadline);
			break;
		default:
			rc = handshake_error(ctx, ssl, r, shown);
			goto out;
		}
		if (r == 0) {
			rc = tf_error(ctx, TF_ENET,
			    "no TLS handshake with %s within %d s (is it a TLS port? --timeout "
			    "waits longer)",
			    shown, timeout);
			goto out;
		}
		if (r < 0) {
			rc = tf_error_sys(ctx, TF_ENET, "TLS handshake with %s failed", shown);
			goto out;
		}
	}
	if ((peer = SSL_get_peer_cert_chain(ssl)) == NULL || sk_X509_num(peer) == 0) {
		rc = tf_error(ctx, TF_ENET, "%s presented no certificate", shown);
		goto out;
	}
	c = tf_calloc(1, sizeof(*c));
	c->certs = sk_X509_new_null();
	for (i = 0; i < sk_X509_num(peer); i++) {
		X509 *x = sk_X509_value(peer, i);

		X509_up_ref(x);
		sk_X509_push(c->certs, x);
	}
	c->origin = shown;
	shown = NULL;
	SSL_shutdown(ssl); /* one close_notify, without waiting for the answer */
	*out = c;
	rc = 0;
out:
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(sctx);
	if (fd >= 0)
		close(fd);
	free(shown);
	return rc;
}

int
probe_chain_load(struct probe_chain **out, struct tf_ctx *ctx, const char *file)
{
	struct probe_chain *c = NULL;
	const unsigned char *p;
	char *buf = NULL, *shown = probe_escape(file);
	size_t len;
	BIO *bio = NULL;
	X509 *x;
	int rc;

	*out = NULL;
	if ((rc = tf_read_input(ctx, file, CHAIN_FILE_MAX, &buf, &len)) != 0)
		goto out;
	c = tf_calloc(1, sizeof(*c));
	c->certs = sk_X509_new_null();
	if (len > 0 && (unsigned char)buf[0] == 0x30) {
		p = (const unsigned char *)buf;
		if ((x = d2i_X509(NULL, &p, (long)len)) != NULL)
			sk_X509_push(c->certs, x);
	} else if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
			sk_X509_push(c->certs, x);
	}
	ERR_clear_error();
	if (sk_X509_num(c->certs) == 0) {
		rc = tf_error(ctx, TF_EINVALID,
		    "'%s' holds no certificate (expected the server's chain as PEM, leaf first, as "
		    "'openssl s_client -showcerts' prints it)",
		    shown);
		goto out;
	}
	c->origin = shown;
	shown = NULL;
	*out = c;
	c = NULL;
	rc = 0;
out:
	BIO_free(bio);
	free(buf);
	free(shown);
	probe_chain_free(c);
	return rc;
}

/* The subject of 'x' on one line, control bytes escaped. */
static char *
subject_of(X509 *x)
{
	unsigned char *der = NULL;
	char *s = NULL;
	int len;

	if (x != NULL && (len = i2d_X509_NAME(X509_get_subject_name(x), &der)) > 0)
		s = tf_name_oneline(der, (size_t)len);
	OPENSSL_free(der);
	ERR_clear_error();
	return s != NULL ? s : tf_strdup("(unreadable subject)");
}

void
probe_verify(const struct probe_chain *chain, const char *name, X509 *const *anchors,
    size_t nanchors, time_t now, struct probe_result *out)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	STACK_OF(X509) *built;
	X509 *leaf = sk_X509_value(chain->certs, 0), *cur;
	char *shown_name = name != NULL ? probe_escape(name) : NULL;
	size_t i;
	int ok = 0, top;

	memset(out, 0, sizeof(*out));
	out->depth = -1;
	if (store == NULL || vc == NULL || leaf == NULL) {
		out->verdict = PROBE_INVALID;
		out->error = X509_V_ERR_UNSPECIFIED;
		out->message =
		    tf_strdup(leaf == NULL ? "no certificate to verify"
		                           : "cannot set up the verification (out of memory?)");
		goto out;
	}
	for (i = 0; i < nanchors; i++)
		X509_STORE_add_cert(store,
		    anchors[i]); /* a duplicate is no error worth reporting */
	ERR_clear_error();
	if (!X509_STORE_CTX_init(vc, store, leaf, chain->certs) ||
	    !X509_STORE_CTX_set_default(vc, "ssl_server")) {
		out->verdict = PROBE_INVALID;
		out->error = X509_V_ERR_UNSPECIFIED;
		out->message = tf_strdup("cannot set up the verification");
		goto out;
	}
	/* as libssl verifies a server: purpose sslserver, the name, the run's clock */
	param = X509_STORE_CTX_get0_param(vc);
	X509_VERIFY_PARAM_set_time(param, now);
	if (name != NULL) {
		if (is_ip_address(name))
			X509_VERIFY_PARAM_set1_ip_asc(param, name);
		else
			X509_VERIFY_PARAM_set1_host(param, name, 0);
	}
	ok = X509_verify_cert(vc);
	ERR_clear_error();
	if (ok == 1) {
		built = X509_STORE_CTX_get0_chain(vc);
		top = sk_X509_num(built) - 1;
		out->verdict = PROBE_OK;
		out->subject = subject_of(sk_X509_value(built, top));
		out->message = tf_asprintf("validates%s%s%s, anchored at '%s'",
		    name != NULL ? " for '" : " (no host name checked)",
		    name != NULL ? shown_name : "", name != NULL ? "'" : "", out->subject);
		goto out;
	}
	out->verdict = PROBE_INVALID;
	out->error = X509_STORE_CTX_get_error(vc);
	if (out->error == X509_V_OK)
		out->error = X509_V_ERR_UNSPECIFIED;
	out->depth = X509_STORE_CTX_get_error_depth(vc);
	if ((cur = X509_STORE_CTX_get_current_cert(vc)) == NULL && out->depth >= 0) {
		built = X509_STORE_CTX_get0_chain(vc);
		cur = built != NULL && out->depth < sk_X509_num(built)
		    ? sk_X509_value(built, out->depth)
		    : sk_X509_value(chain->certs, out->depth);
	}
	out->subject = subject_of(cur != NULL ? cur : leaf);
	if (out->error == X509_V_ERR_HOSTNAME_MISMATCH ||
	    out->error == X509_V_ERR_IP_ADDRESS_MISMATCH)
		out->message = tf_asprintf("%s: the certificate is not for '%s' (depth %d, '%s')",
		    X509_verify_cert_error_string(out->error), shown_name != NULL ? shown_name : "",
		    out->depth, out->subject);
	else
		out->message = tf_asprintf("%s (depth %d, '%s')",
		    X509_verify_cert_error_string(out->error), out->depth, out->subject);
out:
	X509_STORE_CTX_free(vc);
	X509_STORE_free(store);
	free(shown_name);
}

int
probe_endpoint(struct tf_ctx *ctx, const char *hostport, const char *servername, int timeout,
    X509 *const *anchors, size_t nanchors, struct probe_result *out)
{
	struct probe_target t = { .servername = (char *)servername, .timeout = timeout };
	struct probe_chain *chain = NULL;
	char saved[sizeof(ctx->errmsg)];
	int saved_err = ctx->err, rc;

	memset(out, 0, sizeof(*out));
	out->depth = -1;
	if ((rc = probe_target_parse(&t, ctx, hostport)) != 0)
		return rc;
	/* the reason goes into the verdict; a caller's own error stays as it was */
	memcpy(saved, ctx->errmsg, sizeof(saved));
	tf_error_clear(ctx);
	if (probe_fetch(&chain, ctx, &t) != 0) {
		out->verdict = PROBE_UNREACHABLE;
		out->message = tf_strdup(ctx->errmsg);
	} else {
		probe_verify(chain, servername != NULL ? servername : t.host, anchors, nanchors,
		    ctx->now, out);
	}
	ctx->err = saved_err;
	memcpy(ctx->errmsg, saved, sizeof(saved));
	probe_chain_free(chain);
	probe_target_release(&t);
	return 0;
}

void
probe_anchors_release(struct probe_anchors *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		X509_free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static void
anchors_push(struct probe_anchors *a, X509 *x)
{
	a->v = tf_realloc(a->v, (a->n + 1) * sizeof(*a->v));
	a->v[a->n++] = x;
}

/* While scanning: each certificate parsed, and its fingerprint beside it. */
struct collect {
	struct probe_anchors *a;
	unsigned char (*sha)[32];
};

static int
collect_cert(const struct tf_cert *cert, void *arg)
{
	struct collect *c = arg;
	const unsigned char *p = cert->der;
	X509 *x;

	if ((x = d2i_X509(NULL, &p, (long)cert->info.der_len)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	c->sha = tf_realloc(c->sha, (c->a->n + 1) * sizeof(*c->sha));
	memcpy(c->sha[c->a->n], cert->info.sha256, 32);
	anchors_push(c->a, x);
	return 0;
}

static bool
in_refs(const unsigned char *sha, const struct ts_cert_ref *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(v[i].sha256, sha, 32) == 0)
			return true;
	return false;
}

/* The edit's plan on 'ts' carried out on the anchors: removed ones out, added ones in. */
static int
apply_edit(struct probe_anchors *a, unsigned char (*sha)[32], struct truststore *ts,
    const struct ts_edit *edit)
{
	struct ts_plan *plan = NULL;
	unsigned char md[32];
	unsigned int mdlen;
	size_t i, k = 0;
	int rc;

	if ((rc = truststore_plan(&plan, ts, edit)) != 0)
		return rc;
	for (i = 0; i < a->n; i++) {
		if (in_refs(sha[i], plan->removed, plan->nremoved))
			X509_free(a->v[i]);
		else
			a->v[k++] = a->v[i];
	}
	a->n = k;
	for (i = 0; i < edit->nadd; i++) {
		const unsigned char *p = edit->add_der[i];
		X509 *x;

		if (!EVP_Digest(edit->add_der[i], edit->add_len[i], md, &mdlen, EVP_sha256(),
		        NULL) ||
		    !in_refs(md, plan->added, plan->nadded))
			continue;
		if ((x = d2i_X509(NULL, &p, (long)edit->add_len[i])) != NULL)
			anchors_push(a, x);
	}
	ERR_clear_error();
	ts_plan_free(plan);
	return 0;
}

int
probe_anchors_read(struct probe_anchors *out, struct tf_ctx *ctx, const char *path,
    const char *password, const struct ts_edit *edit)
{
	struct truststore_checks checks = { .now = ctx->now };
	struct tf_findings findings = { 0 };
	struct truststore *ts = NULL;
	struct collect c = { .a = out };
	int rc;

	out->v = NULL;
	out->n = 0;
	if ((rc = truststore_open(&ts, ctx, path, password)) != 0 ||
	    (rc = truststore_scan(ts, &checks, &findings, NULL, collect_cert, &c)) != 0)
		goto out;
	if (edit != NULL)
		rc = apply_edit(out, c.sha, ts, edit);
out:
	if (rc != 0)
		probe_anchors_release(out);
	free(c.sha);
	tf_findings_release(&findings);
	truststore_free(ts);
	return rc;
}
