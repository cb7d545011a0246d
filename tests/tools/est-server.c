/*
 * tests/tools/est-server.c - an EST server (RFC 7030, RFC 8951) for the tests
 * and the demo: HTTP/1.1 over TLS on 127.0.0.1, a real CA, and fault modes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* one program, several files: each part is a concern of its own */
#include "tests/est-server/server.h"
#include "tests/est-server/ca.c"
#include "tests/est-server/http.c"
#include "tests/est-server/est.c"

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
usage(void)
{
	fputs("usage: est-server [--port N] [--port-file F] [--pid-file F] [--log F]\n"
	      "  CA:     --ca-cert F --ca-key F | --init-ca DIR [--ca-type "
	      "ec|rsa|ec:P-384|rsa:3072]\n"
	      "  TLS:    [--tls-cert F --tls-key F] [--tls-min 1.2|1.3] [--tls-max 1.2|1.3]\n"
	      "          [--tls12-only] [--client-ca F] [--reject-expired-tls]\n"
	      "  issued: [--days N | --validity SECONDS] [--not-before-offset S]\n"
	      "          [--not-after-offset S]\n"
	      "  EST:    [--label NAME] [--auth none|cert|basic|both] [--user NAME]\n"
	      "          [--password-file F] [--csrattrs LIST] [--require-pop]\n"
	      "          [--check-pop-if-present] [--require-challenge-401] [--strict-body]\n"
	      "  faults: [--fault-202 N [--retry-after VALUE|none]] [--fault-500 [--fault-500-body "
	      "TEXT]]\n"
	      "          [--fault-401-reenroll] [--fault-garbage] [--fault-b64-nonl]\n"
	      "          [--fault-b64-crlf] [--fault-no-cte] [--fault-wrong-ctype] [--fault-hang]\n"
	      "          [--fault-drip] [--fault-wrong-key] [--fault-other-ca]\n"
	      "          [--fault-oversize [--oversize-bytes N]] [--fault-trailing-nul]\n"
	      "          [--fault-cert-only] [--fault-cacerts]\n",
	    stderr);
}

static int
parse_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		fprintf(stderr, "est-server: not a number: '%s'\n", s);
		return -1;
	}
	return 0;
}

static int
parse_tls_version(const char *s, int *out)
{
	if (strcmp(s, "1.2") == 0)
		*out = TLS1_2_VERSION;
	else if (strcmp(s, "1.3") == 0)
		*out = TLS1_3_VERSION;
	else {
		fprintf(stderr, "est-server: unknown TLS version '%s'\n", s);
		return -1;
	}
	return 0;
}

/* The first line of 'path', without its newline; the caller wipes and frees it. */
static char *
read_secret(const char *path)
{
	char line[1024], *ret = NULL;
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		fprintf(stderr, "est-server: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		ret = strdup(line);
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(fp);
	if (ret == NULL)
		fprintf(stderr, "est-server: '%s' is empty\n", path);
	return ret;
}

/*
 * Accept every client certificate in the handshake and judge it per request
 * (SSL_get_verify_result), so that an expired certificate can still reach
 * /simpleenroll; --reject-expired-tls fails the handshake instead.
 */
static int
verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct srv *s = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	int err = X509_STORE_CTX_get_error(x);

	if (!ok && s != NULL && s->reject_expired &&
	    (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID))
		return 0;
	return 1;
}

static int
write_file(const char *path, const char *text)
{
	char tmp[4096];
	FILE *fp;

	/* written whole then renamed: a test polling for the file never reads half of it */
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	if ((fp = fopen(tmp, "w")) == NULL || fputs(text, fp) == EOF || fclose(fp) != 0 ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "est-server: cannot write '%s': %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static SSL_CTX *
tls_setup(struct srv *s, const char *cert_path, const char *key_path, const char *client_ca,
    int min, int max)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	X509_NAME *name = NULL;
	X509_STORE *store;
	STACK_OF(X509_NAME) *names = NULL;
	bool ok = false;

	if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, min) ||
	    !SSL_CTX_set_max_proto_version(ctx, max))
		goto out;
	if (cert_path != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1)
			goto out;
	} else {
		/* a server certificate for 127.0.0.1 and localhost, issued by the CA */
		if ((name = name_cn("localhost", "trustfix test EST server")) == NULL ||
		    (key = key_generate("ec:P-256")) == NULL ||
		    (cert = cert_issue(name, key, NULL, s->ca_cert, s->ca_key, CERT_SERVER, -3600,
		         30L * 86400)) == NULL ||
		    SSL_CTX_use_certificate(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, key) != 1)
			goto out;
	}
	/*
	 * Client certificates: the EST CA's (re-enrollment) and --client-ca's
	 * (bootstrap or manufacturer certificates for a first enrollment).
	 */
	store = SSL_CTX_get_cert_store(ctx);
	if (client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1 ||
		    (names = SSL_load_client_CA_file(client_ca)) == NULL)
			goto out;
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	if (!X509_STORE_add_cert(store, s->ca_cert) || !SSL_CTX_add_client_CA(ctx, s->ca_cert))
		goto out;
	SSL_CTX_set_app_data(ctx, s);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	ok = true;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_NAME_free(name);
	if (!ok) {
		fail("cannot set up TLS");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* One connection in a child process: requests until close, error or timeout. */
static void
serve(struct srv *s, int fd, const struct sockaddr_in *peer)
{
	struct conn c = { .s = s, .fd = fd };
	struct req r;
	int status;

	inet_ntop(AF_INET, &peer->sin_addr, c.peer, sizeof(c.peer));
	if ((c.ssl = SSL_new(s->ssl_ctx)) == NULL || !SSL_set_fd(c.ssl, fd))
		goto out;
	if (SSL_accept(c.ssl) != 1) {
		if (s->log_fd >= 0) {
			char line[512];
			unsigned long e = ERR_peek_last_error();
			int n = snprintf(line, sizeof(line), "- %s handshake-failed %s\n", c.peer,
			    e ? ERR_reason_error_string(e) : "-");

			(void)!write(s->log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : 0);
		}
		goto out;
	}
	for (;;) {
		const char *note = NULL;

		status = http_read(&c, &r);
		if (status == 1)
			break;
		if (r.authz[0] != '\0')
			check_basic(s, &r);
		if (status == 0) {
			status = est_dispatch(&c, &r, &note);
		} else {
			/* the stream is out of step: say so, then close */
			r.close = true;
			http_error(&c, &r, status, NULL, "bad request");
		}
		log_request(&c, &r, status, note);
		buf_free(&r.body);
		/*
		 * A 401 or 202 keeps the connection: a client may answer the
		 * challenge, or retry, on it (and proof of possession is bound to it).
		 */
		if (r.close)
			break;
	}
	SSL_shutdown(c.ssl);
out:
	SSL_free(c.ssl);
	close(fd);
}

enum {
	O_PORT = 256,
	O_PORT_FILE,
	O_PID_FILE,
	O_CA_CERT,
	O_CA_KEY,
	O_INIT_CA,
	O_CA_TYPE,
	O_TLS_CERT,
	O_TLS_KEY,
	O_VALIDITY,
	O_DAYS,
	O_NB,
	O_NA,
	O_LABEL,
	O_AUTH,
	O_USER,
	O_PASSWORD_FILE,
	O_CLIENT_CA,
	O_TLS_MIN,
	O_TLS_MAX,
	O_LOG,
	O_CSRATTRS,
	O_REQUIRE_POP,
	O_CHECK_POP,
	O_F202,
	O_RETRY_AFTER,
	O_F500,
	O_F500_BODY,
	O_F401,
	O_GARBAGE,
	O_NONL,
	O_CRLF,
	O_NOCTE,
	O_CTYPE,
	O_HANG,
	O_DRIP,
	O_WRONG_KEY,
	O_OTHER_CA,
	O_OVERSIZE,
	O_OVERSIZE_BYTES,
	O_NUL,
	O_CERT_ONLY,
	O_FCACERTS,
	O_CHALLENGE,
	O_REJECT_EXPIRED,
	O_STRICT,
	O_TLS12
};

static const struct option longopts[] = {
	{ "auth", required_argument, NULL, O_AUTH },
	{ "ca-cert", required_argument, NULL, O_CA_CERT },
	{ "ca-key", required_argument, NULL, O_CA_KEY },
	{ "ca-type", required_argument, NULL, O_CA_TYPE },
	{ "check-pop-if-present", no_argument, NULL, O_CHECK_POP },
	{ "client-ca", required_argument, NULL, O_CLIENT_CA },
	{ "csrattrs", required_argument, NULL, O_CSRATTRS },
	{ "days", required_argument, NULL, O_DAYS },
	{ "fault-202", required_argument, NULL, O_F202 },
	{ "fault-401-reenroll", no_argument, NULL, O_F401 },
	{ "fault-500", no_argument, NULL, O_F500 },
	{ "fault-500-body", required_argument, NULL, O_F500_BODY },
	{ "fault-b64-crlf", no_argument, NULL, O_CRLF },
	{ "fault-b64-nonl", no_argument, NULL, O_NONL },
	{ "fault-cacerts", no_argument, NULL, O_FCACERTS },
	{ "fault-cert-only", no_argument, NULL, O_CERT_ONLY },
	{ "fault-drip", no_argument, NULL, O_DRIP },
	{ "fault-garbage", no_argument, NULL, O_GARBAGE },
	{ "fault-hang", no_argument, NULL, O_HANG },
	{ "fault-no-cte", no_argument, NULL, O_NOCTE },
	{ "fault-other-ca", no_argument, NULL, O_OTHER_CA },
	{ "fault-oversize", no_argument, NULL, O_OVERSIZE },
	{ "fault-trailing-nul", no_argument, NULL, O_NUL },
	{ "fault-wrong-ctype", no_argument, NULL, O_CTYPE },
	{ "fault-wrong-key", no_argument, NULL, O_WRONG_KEY },
	{ "init-ca", required_argument, NULL, O_INIT_CA },
	{ "label", required_argument, NULL, O_LABEL },
	{ "log", required_argument, NULL, O_LOG },
	{ "not-after-offset", required_argument, NULL, O_NA },
	{ "not-before-offset", required_argument, NULL, O_NB },
	{ "oversize-bytes", required_argument, NULL, O_OVERSIZE_BYTES },
	{ "password-file", required_argument, NULL, O_PASSWORD_FILE },
	{ "pid-file", required_argument, NULL, O_PID_FILE },
	{ "port", required_argument, NULL, O_PORT },
	{ "port-file", required_argument, NULL, O_PORT_FILE },
	{ "reject-expired-tls", no_argument, NULL, O_REJECT_EXPIRED },
	{ "require-challenge-401", no_argument, NULL, O_CHALLENGE },
	{ "require-pop", no_argument, NULL, O_REQUIRE_POP },
	{ "retry-after", required_argument, NULL, O_RETRY_AFTER },
	{ "strict-body", no_argument, NULL, O_STRICT },
	{ "tls-cert", required_argument, NULL, O_TLS_CERT },
	{ "tls-key", required_argument, NULL, O_TLS_KEY },
	{ "tls-max", required_argument, NULL, O_TLS_MAX },
	{ "tls-min", required_argument, NULL, O_TLS_MIN },
	{ "tls12-only", no_argument, NULL, O_TLS12 },
	{ "user", required_argument, NULL, O_USER },
	{ "validity", required_argument, NULL, O_VALIDITY },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct srv s = { .retry_after = "1",
		.nb_offset = -60,
		.na_offset = 365L * 86400,
		.log_fd = -1,
		.oversize_bytes = 64L * 1024 * 1024 };
	const char *port_file = NULL, *pid_file = NULL, *ca_cert = NULL, *ca_key = NULL;
	const char *init_ca = NULL, *ca_type = "ec:P-256", *tls_cert = NULL, *tls_key = NULL;
	const char *client_ca = NULL, *log_path = NULL;
	int tls_min = TLS1_2_VERSION, tls_max = TLS1_3_VERSION, lfd = -1, one = 1, opt, rc = 1;
	long port = 0, v;
	bool na_set = false;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct sigaction act = { .sa_handler = on_term };
	char text[64];

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_PORT:
			if (parse_long(optarg, &port) != 0 || port < 0 || port > 65535)
				goto out;
			break;
		case O_PORT_FILE:
			port_file = optarg;
			break;
		case O_PID_FILE:
			pid_file = optarg;
			break;
		case O_CA_CERT:
			ca_cert = optarg;
			break;
		case O_CA_KEY:
			ca_key = optarg;
			break;
		case O_INIT_CA:
			init_ca = optarg;
			break;
		case O_CA_TYPE:
			ca_type = optarg;
			break;
		case O_TLS_CERT:
			tls_cert = optarg;
			break;
		case O_TLS_KEY:
			tls_key = optarg;
			break;
		case O_VALIDITY:
		case O_DAYS:
		case O_NA:
			if (parse_long(optarg, &v) != 0)
				goto out;
			/* --not-after-offset wins over --days and --validity, whatever the order */
			if (opt == O_NA || !na_set)
				s.na_offset = opt == O_DAYS ? v * 86400 : v;
			if (opt == O_NA)
				na_set = true;
			break;
		case O_NB:
			if (parse_long(optarg, &s.nb_offset) != 0)
				goto out;
			break;
		case O_LABEL:
			s.label = optarg;
			break;
		case O_AUTH:
			if (strcmp(optarg, "none") == 0)
				s.auth = 0;
			else if (strcmp(optarg, "cert") == 0)
				s.auth = AUTH_CERT;
			else if (strcmp(optarg, "basic") == 0)
				s.auth = AUTH_BASIC;
			else if (strcmp(optarg, "both") == 0)
				s.auth = AUTH_CERT | AUTH_BASIC;
			else {
				fprintf(stderr, "est-server: unknown --auth '%s'\n", optarg);
				goto out;
			}
			break;
		case O_USER:
			s.user = optarg;
			break;
		case O_PASSWORD_FILE:
			if ((s.password = read_secret(optarg)) == NULL)
				goto out;
			break;
		case O_CLIENT_CA:
			client_ca = optarg;
			break;
		case O_TLS_MIN:
			if (parse_tls_version(optarg, &tls_min) != 0)
				goto out;
			break;
		case O_TLS_MAX:
			if (parse_tls_version(optarg, &tls_max) != 0)
				goto out;
			break;
		case O_TLS12:
			tls_min = tls_max = TLS1_2_VERSION;
			break;
		case O_LOG:
			log_path = optarg;
			break;
		case O_CSRATTRS:
			s.csrattrs = optarg;
			break;
		case O_REQUIRE_POP:
			s.require_pop = true;
			break;
		case O_CHECK_POP:
			s.check_pop_if_present = true;
			break;
		case O_F202:
			if (parse_long(optarg, &v) != 0 || v < 0 || v > 1000000)
				goto out;
			s.fault_202 = (int)v;
			break;
		case O_RETRY_AFTER:
			/* literal, unchecked: the point is to send what clients must survive */
			if (strpbrk(optarg, "\r\n") != NULL)
				goto out;
			s.retry_after = optarg;
			break;
		case O_F500:
			s.fault_500 = true;
			break;
		case O_F500_BODY:
			s.fault_500 = true;
			s.fault_500_body = optarg;
			break;
		case O_F401:
			s.fault_401_reenroll = true;
			break;
		case O_GARBAGE:
			s.fault_garbage = true;
			break;
		case O_NONL:
			s.fault_b64_nonl = true;
			break;
		case O_CRLF:
			s.fault_b64_crlf = true;
			break;
		case O_NOCTE:
			s.fault_no_cte = true;
			break;
		case O_CTYPE:
			s.fault_wrong_ctype = true;
			break;
		case O_HANG:
			s.fault_hang = true;
			break;
		case O_DRIP:
			s.fault_drip = true;
			break;
		case O_WRONG_KEY:
			s.fault_wrong_key = true;
			break;
		case O_OTHER_CA:
			s.fault_other_ca = true;
			break;
		case O_OVERSIZE:
			s.fault_oversize = true;
			break;
		case O_OVERSIZE_BYTES:
			if (parse_long(optarg, &s.oversize_bytes) != 0 || s.oversize_bytes < 0)
				goto out;
			break;
		case O_NUL:
			s.fault_trailing_nul = true;
			break;
		case O_CERT_ONLY:
			s.fault_cert_only = true;
			break;
		case O_FCACERTS:
			s.fault_cacerts = true;
			break;
		case O_CHALLENGE:
			s.require_challenge = true;
			break;
		case O_REJECT_EXPIRED:
			s.reject_expired = true;
			break;
		case O_STRICT:
			s.strict_body = true;
			break;
		default:
			usage();
			goto out;
		}
	}
	if (optind != argc) {
		usage();
		goto out;
	}
	if ((s.auth & AUTH_BASIC) && (s.user == NULL || s.password == NULL)) {
		fputs("est-server: --auth basic|both needs --user and --password-file\n", stderr);
		goto out;
	}
	if ((tls_cert == NULL) != (tls_key == NULL)) {
		fputs("est-server: --tls-cert and --tls-key go together\n", stderr);
		goto out;
	}
	if (init_ca != NULL) {
		if (ca_init_dir(&s, init_ca, ca_type) != 0)
			goto out;
	} else if (ca_cert != NULL && ca_key != NULL) {
		if ((s.ca_cert = pem_read_cert(ca_cert)) == NULL ||
		    (s.ca_key = pem_read_key(ca_key)) == NULL)
			goto out;
	} else {
		fputs("est-server: give --ca-cert and --ca-key, or --init-ca DIR\n", stderr);
		goto out;
	}
	if (s.fault_other_ca &&
	    ca_create(&s.other_cert, &s.other_key, "some other CA", "ec:P-256") != 0)
		goto out;
	if ((s.ssl_ctx = tls_setup(&s, tls_cert, tls_key, client_ca, tls_min, tls_max)) == NULL)
		goto out;
	if (log_path != NULL &&
	    (s.log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "est-server: cannot open '%s': %s\n", log_path, strerror(errno));
		goto out;
	}
	s.sh = mmap(NULL, sizeof(*s.sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s.sh == MAP_FAILED) {
		s.sh = NULL;
		fprintf(stderr, "est-server: mmap: %s\n", strerror(errno));
		goto out;
	}

	/* loopback only, whatever the options: this server is for tests */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 64) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
		fprintf(stderr, "est-server: cannot listen on 127.0.0.1:%ld: %s\n", port,
		    strerror(errno));
		goto out;
	}
	sigaction(SIGTERM, &act, NULL); /* no SA_RESTART: accept() returns EINTR */
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* children are reaped by the kernel: no zombie while accept() waits */
	sigaction(SIGCHLD, &(struct sigaction){ .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT },
	    NULL);
	snprintf(text, sizeof(text), "%d\n", ntohs(sa.sin_port));
	if (pid_file != NULL) {
		char pid[32];

		snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (write_file(pid_file, pid) != 0)
			goto out;
	}
	/* the port file last: once it exists, the server answers */
	if (port_file != NULL && write_file(port_file, text) != 0)
		goto out;
	printf("%s", text);
	fflush(stdout);

	while (!stopping) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		struct timeval tv = { .tv_sec = 30 };
		pid_t pid, server;
		int fd;

		if ((fd = accept(lfd, (struct sockaddr *)&peer, &plen)) < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "est-server: accept: %s\n", strerror(errno));
			continue;
		}
		/* Nagle would hold each small response back ~40 ms for an ACK */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* a client that stops talking frees its process */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		server = getpid();
		if ((pid = fork()) < 0) {
			close(fd);
			continue;
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			/* a hanging or dripping child dies with the server */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != server)
				_exit(0);
			close(lfd);
			serve(&s, fd, &peer);
			_exit(0);
		}
		close(fd);
	}
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	if (pid_file != NULL && rc == 0)
		unlink(pid_file);
	if (s.password != NULL) {
		OPENSSL_cleanse(s.password, strlen(s.password));
		free(s.password);
	}
	if (s.sh != NULL)
		munmap(s.sh, sizeof(*s.sh));
	if (s.log_fd >= 0)
		close(s.log_fd);
	SSL_CTX_free(s.ssl_ctx);
	X509_free(s.ca_cert);
	EVP_PKEY_free(s.ca_key);
	X509_free(s.other_cert);
	EVP_PKEY_free(s.other_key);
	return rc;
}
