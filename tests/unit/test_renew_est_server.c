/*
 * tests/unit/test_renew_est_server.c - the EST client against the real TLS
 * test server (build/tools/est-server, in $TF_TOOLS): every operation, the
 * authentication modes, proof of possession on TLS 1.2 and 1.3, and the
 * fault modes. Skipped when the server has not been built.
 */
#include "helpers.h"

#include <signal.h>
#include <sys/wait.h>

#include "renew/est_parse.h"
#include "renew/renew.h"

/* One server, its folder and the client configuration that reaches it. */
struct srv {
	pid_t pid;
	char url[64];
	char *ca; /* the CA certificate: the trust anchor */
	struct est_config cfg;
};

struct env {
	char *dir;   /* CA, password, logs */
	char *tools; /* where est-server is */
	char *pw;    /* password file: "open sesame" */
	char *badpw;
	struct tf_ctx ctx;
	pid_t pids[8]; /* servers running, stopped by the teardown if a test fails */
	size_t npids;
};

static int
env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	const char *tools = getenv("TF_TOOLS");

	e->dir = tmpdir_new();
	e->tools = tf_strdup(tools != NULL ? tools : "build/tools");
	write_str(e->dir, "pw", "open sesame\n");
	write_str(e->dir, "badpw", "open barley\n");
	e->pw = tf_path_join(e->dir, "pw");
	e->badpw = tf_path_join(e->dir, "badpw");
	tf_ctx_init(&e->ctx);
	*state = e;
	return 0;
}

static int
env_teardown(void **state)
{
	struct env *e = *state;

	rm_rf(e->dir);
	free(e->dir);
	free(e->tools);
	free(e->pw);
	free(e->badpw);
	free(e);
	return 0;
}

/* Start est-server with basic auth (alice) and 'extra' options up to NULL. */
static void
srv_start(struct env *e, struct srv *s, const char *name, ...)
{
	char *bin = tf_path_join(e->tools, "est-server"), *cadir = tf_path_join(e->dir, "ca");
	char *portf = tf_asprintf("%s/%s.port", e->dir, name);
	char *logf = tf_asprintf("%s/%s.log", e->dir, name);
	const char *argv[64] = { bin, "--init-ca", cadir, "--port", "0", "--port-file", portf,
		"--log", logf, "--auth", "basic", "--user", "alice", "--password-file", e->pw };
	int argc = 15, i;
	char port[16] = "";
	va_list ap;
	FILE *fp;

	if (access(bin, X_OK) != 0) {
		free(bin);
		free(cadir);
		free(portf);
		free(logf);
		skip();
	}
	va_start(ap, name);
	while ((argv[argc] = va_arg(ap, const char *)) != NULL && argc < 62)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		char *errf = tf_asprintf("%s/%s.err", e->dir, name);
		int efd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		/* nothing of the server may hold the test's output open */
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(efd >= 0 ? efd : fd, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	assert_true(e->npids < sizeof(e->pids) / sizeof(e->pids[0]));
	e->pids[e->npids++] = s->pid;
	for (i = 0; i < 200 && port[0] == '\0'; i++) {
		usleep(25000);
		if ((fp = fopen(portf, "r")) != NULL) {
			if (fgets(port, sizeof(port), fp) == NULL)
				port[0] = '\0';
			fclose(fp);
		}
	}
	assert_true(port[0] != '\0');
	port[strcspn(port, "\r\n")] = '\0';
	snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%s", port);
	s->ca = tf_path_join(cadir, "ca.pem");
	memset(&s->cfg, 0, sizeof(s->cfg));
	s->cfg.server = s->url;
	s->cfg.ca_file = s->ca;
	s->cfg.username = "alice";
	s->cfg.password_file = e->pw;
	s->cfg.connect_timeout = 5;
	s->cfg.stall_timeout = 5;
	tf_error_clear(&e->ctx);
	e->ctx.now = time(NULL);
	free(bin);
	free(cadir);
	free(portf);
	free(logf);
}

static void
pid_stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

static void
srv_stop(struct env *e, struct srv *s)
{
	size_t i;

	if (s->pid > 0) {
		pid_stop(s->pid);
		for (i = 0; i < e->npids; i++)
			if (e->pids[i] == s->pid)
				e->pids[i] = e->pids[--e->npids];
	}
	s->pid = 0;
	free(s->ca);
	s->ca = NULL;
}

/* After each test: stop the servers a failed assertion left running. */
static int
servers_teardown(void **state)
{
	struct env *e = *state;

	while (e->npids > 0)
		pid_stop(e->pids[--e->npids]);
	return 0;
}

static const char *const sans[] = { "DNS:device-1.example.net", "IP:192.0.2.10" };

static struct est_request
first_request(void)
{
	struct est_request req = { .subject = "/CN=device-1/O=trustfix tests",
		.sans = sans,
		.nsans = 2 };

	return req;
}

/* The result holds a key, a certificate for it, and a chain. */
static void
check_result(struct tf_ctx *ctx, const struct est_result *r)
{
	EVP_PKEY *k = NULL;

	assert_false(r->pending);
	assert_non_null(r->cert);
	assert_non_null(strstr(r->cert_pem, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(r->chain_pem, "BEGIN CERTIFICATE"));
	assert_int_equal(est_key_from_pem(&k, ctx, r->key_pem, r->key_pem_len), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(r->cert), k), 1);
	EVP_PKEY_free(k);
}

static int
enroll_with(struct env *e, struct srv *s, struct est_request *req, struct est_result **r)
{
	*r = NULL;
	return est_enroll(r, &e->ctx, &s->cfg, req);
}

static void
test_enroll_and_reenroll(void **state)
{
	struct env *e = *state;
	struct est_request req = first_request();
	struct est_result *r = NULL, *r2 = NULL;
	STACK_OF(X509) *ca = NULL;
	struct srv s;
	long status = 0;

	srv_start(e, &s, "basic", NULL);
	assert_int_equal(est_cacerts(&ca, &e->ctx, &s.cfg), 0);
	assert_true(sk_X509_num(ca) >= 1);
	sk_X509_pop_free(ca, X509_free);

	req.http_status = &status;
	assert_int_equal(enroll_with(e, &s, &req, &r), 0);
	assert_int_equal(status, 200);
	check_result(&e->ctx, r);
	assert_false(r->used_pop);
	srv_stop(e, &s);

	/* re-enroll with the certificate just issued, held in memory only */
	srv_start(e, &s, "cert", "--auth", "cert", NULL);
	s.cfg.username = NULL;
	s.cfg.client_cert_pem = r->cert_pem;
	s.cfg.client_key_pem = r->key_pem;
	memset(&req, 0, sizeof(req));
	req.reenroll = true;
	req.old_cert = r->cert;
	req.key_type = EST_KEY_P384;
	assert_int_equal(enroll_with(e, &s, &req, &r2), 0);
	check_result(&e->ctx, r2);
	assert_int_equal(
	    X509_NAME_cmp(X509_get_subject_name(r2->cert), X509_get_subject_name(r->cert)), 0);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(r2->cert)), 384);
	assert_memory_not_equal(r->key_sha256, r2->key_sha256, 32);
	est_result_free(r2);
	srv_stop(e, &s);

	/* a server that refuses re-enrollment: the status tells the caller to fall back */
	srv_start(e, &s, "no-reenroll", "--auth", "cert", "--fault-401-reenroll", NULL);
	s.cfg.username = NULL;
	s.cfg.client_cert_pem = r->cert_pem;
	s.cfg.client_key_pem = r->key_pem;
	req.http_status = &status;
	assert_int_equal(enroll_with(e, &s, &req, &r2), TF_ENET);
	assert_int_equal(status, 401);
	assert_null(r2);
	srv_stop(e, &s);
	est_result_free(r);
}

static void
test_proof_of_possession(void **state)
{
	struct env *e = *state;
	struct est_request req = first_request();
	struct est_result *r = NULL;
	struct srv s;

	/* TLS 1.2: tls-unique, asked for by /csrattrs */
	srv_start(e, &s, "pop12", "--tls-max", "1.2", "--require-pop", "--csrattrs",
	    "challengePassword", NULL);
	assert_int_equal(enroll_with(e, &s, &req, &r), 0);
	check_result(&e->ctx, r);
	assert_true(r->used_pop);
	est_result_free(r);
	srv_stop(e, &s);

	/* TLS 1.3: tls-exporter */
	srv_start(e, &s, "pop13", "--tls-min", "1.3", "--require-pop", "--csrattrs",
	    "challengePassword", NULL);
	assert_int_equal(enroll_with(e, &s, &req, &r), 0);
	check_result(&e->ctx, r);
	assert_true(r->used_pop);
	est_result_free(r);
	srv_stop(e, &s);

	/* a server that checks any challengePassword: none is sent unless asked */
	srv_start(e, &s, "pop-if", "--check-pop-if-present", NULL);
	assert_int_equal(enroll_with(e, &s, &req, &r), 0);
	assert_false(r->used_pop);
	est_result_free(r);
	srv_stop(e, &s);
}

static void
test_csrattrs_honoured(void **state)
{
	struct env *e = *state;
	struct est_request req = first_request();
	struct est_result *r = NULL;
	struct srv s;

	srv_start(e, &s, "attrs", "--csrattrs", "ec:P-384,ecdsa-with-SHA384", NULL);
	assert_int_equal(enroll_with(e, &s, &req, &r), 0);
	check_result(&e->ctx, r);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(r->cert)), 384);
	est_result_free(r);
	srv_stop(e, &s);
}

static void
test_pending_then_issued(void **state)
{
	struct env *e = *state;
	struct est_request req = first_request();
	struct est_result *r = NULL, *r2 = NULL;
	struct srv s;

	srv_start(e, &s, "pending", "--fault-202", "1", "--retry-after", "1", NULL);
	assert_int_equal(enroll_with(e, &s, &req, &r), 0);
	assert_true(r->pending);
	assert_int_equal(r->retry_after, 1);
	assert_non_null(r->key_pem);
	assert_non_null(r->csr_der);
	/* the same key and CSR again, as after a restart */
	req.pending_key_pem = r->key_pem;
	req.pending_key_len = r->key_pem_len;
	req.pending_csr = r->csr_der;
	req.pending_csr_len = r->csr_der_len;
	assert_int_equal(enroll_with(e, &s, &req, &r2), 0);
	check_result(&e->ctx, r2);
	assert_memory_equal(r->key_sha256, r2->key_sha256, 32);
	est_result_free(r);
	est_result_free(r2);
	srv_stop(e, &s);
}

static void
test_liberal_answers(void **state)
{
	static const char *const faults[] = { "--fault-b64-nonl", "--fault-b64-crlf",
		"--fault-no-cte", "--fault-trailing-nul", "--fault-cert-only", "--strict-body",
		"--require-challenge-401", "--tls12-only" };
	struct env *e = *state;
	struct est_request req = first_request();
	struct est_result *r = NULL;
	struct srv s;
	size_t i;

	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		srv_start(e, &s, faults[i] + 2, faults[i], NULL);
		if (enroll_with(e, &s, &req, &r) != 0)
			fail_msg("%s: %s", faults[i], e->ctx.errmsg);
		check_result(&e->ctx, r);
		est_result_free(r);
		srv_stop(e, &s);
	}
}

static void
test_serverkeygen_and_label(void **state)
{
	struct env *e = *state;
	struct est_request req = first_request();
	struct est_result *r = NULL;
	struct srv s;

	srv_start(e, &s, "keygen", "--label", "devices", NULL);
	s.cfg.label = "devices";
	req.serverkeygen = true;
	if (enroll_with(e, &s, &req, &r) != 0)
		fail_msg("%s", e->ctx.errmsg);
	check_result(&e->ctx, r);
	est_result_free(r);
	srv_stop(e, &s);
}

/* Run an enrollment against a faulty server; returns the code, message in ctx. */
static int
faulty(struct env *e, const char *name, const char *opt, const char *arg)
{
	struct est_request req = first_request();
	struct est_result *r = NULL;
	struct srv s;
	int rc;

	srv_start(e, &s, name, opt, arg, NULL);
	s.cfg.stall_timeout = 2;
	s.cfg.total_timeout = 4;
	rc = enroll_with(e, &s, &req, &r);
	assert_null(r);
	srv_stop(e, &s);
	return rc;
}

static void
test_faults_refused(void **state)
{
	struct env *e = *state;

	assert_int_equal(faulty(e, "f500", "--fault-500", NULL), TF_ENET);
	assert_non_null(strstr(e->ctx.errmsg, "answered 500"));
	assert_int_equal(faulty(e, "wrongkey", "--fault-wrong-key", NULL), TF_EREFUSED);
	assert_non_null(strstr(e->ctx.errmsg, "another key"));
	assert_int_equal(faulty(e, "otherca", "--fault-other-ca", NULL), TF_EREFUSED);
	assert_int_equal(faulty(e, "garbage", "--fault-garbage", NULL), TF_EINVALID);
	assert_int_equal(faulty(e, "ctype", "--fault-wrong-ctype", NULL), TF_EINVALID);
	assert_int_equal(faulty(e, "oversize", "--fault-oversize", NULL), TF_ENET);
	assert_non_null(strstr(e->ctx.errmsg, "larger than"));
	assert_int_equal(faulty(e, "hang", "--fault-hang", NULL), TF_ENET);
	assert_int_equal(faulty(e, "drip", "--fault-drip", NULL), TF_ENET);
	/* no unescaped server bytes in any message */
	{
		const unsigned char *p;

		for (p = (const unsigned char *)e->ctx.errmsg; *p != '\0'; p++)
			assert_true(*p >= 0x20 && *p < 0x7f);
	}
}

static void
test_auth_and_trust(void **state)
{
	struct env *e = *state;
	struct est_request req = first_request();
	struct est_result *r = NULL;
	STACK_OF(X509) *ca = NULL;
	unsigned char fp[32];
	unsigned int n = 0;
	struct srv s;
	char *other;

	srv_start(e, &s, "auth", NULL);
	/* a wrong password: refused with the server's words */
	s.cfg.password_file = e->badpw;
	assert_int_equal(enroll_with(e, &s, &req, &r), TF_ENET);
	assert_non_null(strstr(e->ctx.errmsg, "401"));
	assert_null(strstr(e->ctx.errmsg, "open")); /* nor the password sent */
	/* no credentials at all */
	tf_error_clear(&e->ctx);
	s.cfg.username = NULL;
	assert_int_equal(enroll_with(e, &s, &req, &r), TF_ENET);
	/* a trust anchor that is not the server's: refused before anything is sent */
	tf_error_clear(&e->ctx);
	{
		EVP_PKEY *k = make_key(KEY_P256);
		X509 *x = make_ca(k, "not the EST CA");
		char *pem = cert_pem(x);

		write_str(e->dir, "other.pem", pem);
		free(pem);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	other = tf_path_join(e->dir, "other.pem");
	s.cfg.ca_file = other;
	assert_int_equal(est_cacerts(&ca, &e->ctx, &s.cfg), TF_EREFUSED);

	/* bootstrap: the fingerprint of the CA certificate, then a wrong one */
	tf_error_clear(&e->ctx);
	{
		BIO *b = BIO_new_file(s.ca, "r");
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

		assert_non_null(x);
		assert_int_equal(X509_digest(x, EVP_sha256(), fp, &n), 1);
		X509_free(x);
		BIO_free(b);
	}
	s.cfg.ca_file = NULL;
	assert_int_equal(est_cacerts_bootstrap(&ca, &e->ctx, &s.cfg, fp), 0);
	assert_true(sk_X509_num(ca) >= 1);
	sk_X509_pop_free(ca, X509_free);
	fp[0] ^= 1;
	assert_int_equal(est_cacerts_bootstrap(&ca, &e->ctx, &s.cfg, fp), TF_EREFUSED);
	assert_null(ca);
	free(other);
	srv_stop(e, &s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_enroll_and_reenroll, servers_teardown),
		cmocka_unit_test_teardown(test_proof_of_possession, servers_teardown),
		cmocka_unit_test_teardown(test_csrattrs_honoured, servers_teardown),
		cmocka_unit_test_teardown(test_pending_then_issued, servers_teardown),
		cmocka_unit_test_teardown(test_liberal_answers, servers_teardown),
		cmocka_unit_test_teardown(test_serverkeygen_and_label, servers_teardown),
		cmocka_unit_test_teardown(test_faults_refused, servers_teardown),
		cmocka_unit_test_teardown(test_auth_and_trust, servers_teardown),
	};

	return cmocka_run_group_tests(tests, env_setup, env_teardown);
}
