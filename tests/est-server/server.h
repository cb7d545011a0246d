/*
 * tests/est-server/server.h - the state shared by the parts of the test EST
 * server (one translation unit: tests/tools/est-server.c includes the rest).
 */
#ifndef EST_SERVER_H
#define EST_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#define AUTH_CERT 1
#define AUTH_BASIC 2

#define HDR_MAX (16 * 1024)
#define BODY_MAX (1024 * 1024)

/* Counters that must survive fork: mapped MAP_SHARED before the first accept. */
struct shared {
	int n202;       /* 202 answers given so far */
	int challenged; /* a 401 challenge was sent since the last success */
};

struct srv {
	/* options */
	const char *label;
	const char *user;
	char *password;
	const char *csrattrs;
	const char *retry_after;
	const char *fault_500_body; /* --fault-500-body: the text of the 500, as given */
	int auth;
	long nb_offset, na_offset;
	int fault_202;
	bool fault_500, fault_401_reenroll, fault_garbage, fault_b64_nonl, fault_b64_crlf;
	bool fault_no_cte, fault_wrong_ctype, fault_hang, fault_drip, fault_wrong_key;
	bool fault_other_ca, fault_oversize, fault_trailing_nul, fault_cert_only, fault_cacerts;
	bool require_pop, check_pop_if_present, require_challenge, reject_expired, strict_body;
	long oversize_bytes;

	EVP_PKEY *ca_key;
	X509 *ca_cert;
	EVP_PKEY *other_key; /* --fault-other-ca */
	X509 *other_cert;
	SSL_CTX *ssl_ctx;
	int log_fd;
	struct shared *sh;
};

/* A growing byte buffer. */
struct buf {
	unsigned char *p;
	size_t len, cap;
};

/* One accepted TLS connection; 'in' holds bytes read but not yet used. */
struct conn {
	struct srv *s;
	SSL *ssl;
	int fd;
	char peer[64];
	unsigned char in[HDR_MAX];
	size_t in_len;
	bool drip;
};

struct req {
	char method[16];
	char path[1024];
	char version[16];
	char ctype[256];
	char authz[1024];
	long clen;
	bool has_clen, close, chunked, expect_continue;
	struct buf body;
	char user[128]; /* from Basic, for the log; never the password */
	bool basic_ok, has_basic;
};

#endif
