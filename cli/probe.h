/*
 * cli/probe.h - does a TLS server's certificate chain validate against a
 * given set of trust anchors? Fetch the chain (a TLS handshake, or a saved
 * PEM file), verify it for the host name with only the anchors given, and
 * read the anchors of a store as it is, or as an edit would leave it.
 */
#ifndef TF_PROBE_H
#define TF_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "../core/tf.h"
#include "../truststore/edit.h"

/* The default time limit of a probe's connection and handshake, in seconds. */
#define PROBE_TIMEOUT_DEFAULT 10

enum probe_verdict {
	PROBE_OK,          /* the chain validates */
	PROBE_INVALID,     /* it does not: see error, depth and subject */
	PROBE_UNREACHABLE, /* no chain: cannot resolve, connect, or complete the handshake */
};

/* The verdict of one probe against one set of anchors. */
struct probe_result {
	enum probe_verdict verdict;
	int error;     /* X509_V_ERR_* when PROBE_INVALID, else 0 */
	int depth;     /* depth of the certificate the error is about, else -1 */
	char *subject; /* its subject, control bytes escaped; or NULL */
	char *message; /* one line for a person, control bytes escaped */
};

/* The chain a server presented, leaf first. */
struct probe_chain {
	STACK_OF(X509) *certs;
	char *origin; /* "HOST:PORT" or the file it was read from */
};

/* How to reach a server. */
struct probe_target {
	char *host;       /* a name or an address, without brackets */
	char *port;       /* digits */
	char *servername; /* the name sent as SNI and checked; NULL: 'host' */
	int timeout;      /* seconds for connection and handshake together */
};

/*
 * Parse "HOST:PORT" or "[IPV6]:PORT" into t->host and t->port (the caller
 * frees them with probe_target_release()). Returns 0, or TF_EUSAGE with
 * the message set in ctx.
 */
int probe_target_parse(struct probe_target *t, struct tf_ctx *ctx, const char *hostport);

void probe_target_release(struct probe_target *t);

/*
 * Connect to the target with TLS (TLS 1.2 or later, SNI unless the name is
 * an address) and keep the chain the server presents, without judging it:
 * that is probe_verify()'s job. Returns 0, or TF_ENET with a message that
 * names HOST:PORT and the reason (name resolution, connection, time limit,
 * handshake). Free *out with probe_chain_free().
 */
int probe_fetch(struct probe_chain **out, struct tf_ctx *ctx, const struct probe_target *t);

/*
 * Read a saved server chain (PEM, leaf first; an input file read as given).
 * Returns 0, TF_EIO or TF_EINVALID (no certificate in it) with the message
 * set. Free *out with probe_chain_free().
 */
int probe_chain_load(struct probe_chain **out, struct tf_ctx *ctx, const char *file);

void probe_chain_free(struct probe_chain *c);

/*
 * Verify 'chain' as a TLS client would, purpose sslserver, at ctx->now,
 * trusting only the 'nanchors' certificates of 'anchors' (never the
 * system's default trust) and the chain's first certificate as the leaf.
 * 'name' (a DNS name or an IP address) is checked against the leaf; NULL
 * checks no name. The verdict is PROBE_OK or PROBE_INVALID; release *out
 * with probe_result_release().
 */
void probe_verify(const struct probe_chain *chain, const char *name, X509 *const *anchors,
    size_t nanchors, time_t now, struct probe_result *out);

/*
 * The whole probe, for a caller that checks endpoints after a change: parse
 * 'hostport', connect ('servername' and 'timeout' as in struct probe_target;
 * NULL and 0 for the defaults), verify against 'anchors'. Every outcome,
 * unreachable included, is a verdict in *out with its message; ctx's error
 * is left as it was. Returns 0, or TF_EUSAGE (message set in ctx) when
 * 'hostport' is not HOST:PORT.
 */
int probe_endpoint(struct tf_ctx *ctx, const char *hostport, const char *servername, int timeout,
    X509 *const *anchors, size_t nanchors, struct probe_result *out);

void probe_result_release(struct probe_result *r);

/* 's' with the bytes a terminal would act on written as \xHH. The caller frees it. */
char *probe_escape(const char *s);

/* "ok", "invalid" or "unreachable". */
const char *probe_verdict_name(enum probe_verdict v);

/* The anchors a store gives: its certificates, parsed. */
struct probe_anchors {
	X509 **v;
	size_t n;
};

/*
 * The certificates of the store 'path' (a path of the managed system, any
 * format truststore_open() reads; 'password' for PKCS#12, else NULL) as
 * anchors, and with 'edit' not NULL as the store would hold them once the
 * edit is applied (what truststore_plan() adds and removes). Entries that do
 * not parse are left out, as a TLS client would. Returns 0 or TF_E* with
 * the message set. Release *out with probe_anchors_release().
 */
int probe_anchors_read(struct probe_anchors *out, struct tf_ctx *ctx, const char *path,
    const char *password, const struct ts_edit *edit);

void probe_anchors_release(struct probe_anchors *a);

#endif
