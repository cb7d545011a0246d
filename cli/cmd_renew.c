/*
 * cli/cmd_renew.c - "trustfix renew" and "trustfix enroll": decide whether
 * the client certificate is due, get a new one over EST (waiting out 202
 * Accepted, falling back from re-enrollment to a bootstrap enrollment), and
 * install key, certificate and chain as one audited change.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "../audit/vault.h"
#include "../core/certinfo.h"
#include "../core/fsutil.h"
#include "../core/path.h"
#include "../core/subject.h"
#include "../hooks/hooks.h"
#include "change.h"
#include "estcli.h"
#include "output.h"
#include "renewcli.h"

/* What a certificate is, for the record. */
struct cert_facts {
	bool present;
	char *subject, *issuer, *serial;
	time_t not_before, not_after;
	unsigned char key_sha256[32];
};

struct renew_run {
	struct cli *cli;
	const char *cmd; /* "renew" or "enroll" */
	bool enroll;     /* the enroll command */
	bool force, check;
	bool serverkeygen; /* --server-keygen: the server makes the key */
	struct est_cli e;
	struct change_opts o;
	char *cert_abs, *key_abs, *chain_abs;
	X509 *old;
	char *old_pem, *old_key_pem; /* the current certificate and key files */
	size_t old_len, old_key_len;
	bool old_key_exists;
	struct cert_facts was, now;
	struct est_pending pend;
	bool has_pending;
	bool reenroll;  /* the operation that got the certificate */
	bool fell_back; /* re-enrollment was refused, or the certificate had expired */
	struct est_result *res;
	bool due, expired; /* by setup() */
	time_t due_at;
};

static void
facts_release(struct cert_facts *f)
{
	free(f->subject);
	free(f->issuer);
	free(f->serial);
	memset(f, 0, sizeof(*f));
}

static void
facts_of(struct cert_facts *f, X509 *x)
{
	struct tf_certinfo ci;
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	memset(f, 0, sizeof(*f));
	if (n > 0 && tf_certinfo_parse(&ci, der, (size_t)n, 0, NULL) == 0) {
		f->present = true;
		f->subject = tf_strdup(ci.subject);
		f->issuer = tf_strdup(ci.issuer);
		f->serial = tf_strdup(ci.serial);
		f->not_before = ci.not_before;
		f->not_after = ci.not_after;
		tf_certinfo_clear(&ci);
	}
	OPENSSL_free(der);
	est_cli_spki_sha256(f->key_sha256, x);
}

/* "CN=device-1" for a subject that has a CN, else the whole subject. */
static char *
short_name(const char *subject)
{
	if (subject == NULL)
		return tf_strdup("(unknown)");
	if (strstr(subject, "CN=") != NULL)
		return tf_asprintf("CN=%s", tf_subject_short(subject));
	return tf_strdup(subject);
}

static void
iso(char buf[32], time_t t)
{
	tf_time_iso(buf, 32, t);
}

/* The body line and trailers of one side of the change. */
static void
record_side(struct change *ch, const char *side, const struct cert_facts *f)
{
	char na[32], hex[65], *line, *key;

	iso(na, f->not_after);
	tf_hex(hex, f->key_sha256, 32);
	line = tf_asprintf("%c serial %s, issuer %s, not after %s, key SPKI SHA-256 %s",
	    strcmp(side, "Old") == 0 ? '-' : '+', f->serial, f->issuer, na, hex);
	change_add_body(ch, line);
	free(line);
	key = tf_asprintf("Trustfix-%s-Serial", side);
	change_add_trailer(ch, key, f->serial);
	free(key);
	key = tf_asprintf("Trustfix-%s-Not-After", side);
	change_add_trailer(ch, key, na);
	free(key);
	key = tf_asprintf("Trustfix-%s-Issuer", side);
	change_add_trailer(ch, key, f->issuer);
	free(key);
	key = tf_asprintf("Trustfix-%s-Key-SHA256", side);
	change_add_trailer(ch, key, hex);
	free(key);
}

static const char *
op_name(const struct renew_run *r)
{
	if (r->serverkeygen)
		return "serverkeygen";
	return r->reenroll ? "simplereenroll" : "simpleenroll";
}

/* The change: key, certificate and chain, as one. */
static int
plan_install(struct cli *cli, struct audit *audit, struct change *ch, void *arg)
{
	struct renew_run *r = arg;
	char *name = short_name(r->now.subject), *line;

	(void)cli;
	(void)audit;
	ch->subject_line = tf_asprintf("%s client certificate %s%s", r->enroll ? "enroll" : "renew",
	    name, r->fell_back && !r->enroll ? " (enrolled afresh)" : "");
	free(name);
	line = tf_asprintf("%s: /%s at %s", r->cert_abs, op_name(r), r->e.server);
	change_add_body(ch, line);
	free(line);
	if (r->was.present)
		record_side(ch, "Old", &r->was);
	record_side(ch, "New", &r->now);
	change_add_trailer(ch, "Trustfix-EST-Server", r->e.server);
	change_add_trailer(ch, "Trustfix-EST-Operation", op_name(r));
	change_add_file(ch, TS_OP_WRITE, r->cert_abs, r->res->cert_pem, strlen(r->res->cert_pem),
	    0644);
	change_add_secret(ch, r->key_abs, r->res->key_pem, r->res->key_pem_len);
	free(ch->client_cert);
	ch->client_cert = tf_strdup(r->cert_abs);
	if (r->chain_abs != NULL)
		change_add_file(ch, TS_OP_WRITE, r->chain_abs, r->res->chain_pem,
		    strlen(r->res->chain_pem), 0644);
	return 0;
}

/* One EST request (re-enrollment or enrollment), resent on 202 until done. */
static int
enroll_wait(struct renew_run *r, bool reenroll, long *status)
{
	struct tf_ctx *ctx = &r->cli->ctx;
	struct est_config cfg = { 0 };
	struct est_request req = { 0 };
	char *boot_cert = NULL, *boot_key = NULL;
	size_t blen = 0, bklen = 0;
	struct timespec t0, t1;
	bool exists;
	int rc;

	cfg.server = r->e.server;
	cfg.label = r->e.label;
	cfg.ca_file = r->e.ca_path;
	cfg.username = r->e.username;
	cfg.password_file = r->e.pw_path;
	if (reenroll) {
		/* the current certificate authenticates its own renewal */
		cfg.client_cert_pem = r->old_pem;
		cfg.client_key_pem = r->old_key_pem;
	} else if (r->e.bootstrap_cert != NULL) {
		if ((rc = est_cli_read(r->cli, r->e.bootstrap_cert, "bootstrap certificate",
		         &boot_cert, &blen, &exists)) != 0 ||
		    (!exists &&
		        (rc = tf_error(ctx, TF_EIO, "no bootstrap certificate '%s'",
		             r->e.bootstrap_cert)) != 0) ||
		    (rc = est_cli_read(r->cli, r->e.bootstrap_key, "bootstrap key", &boot_key,
		         &bklen, &exists)) != 0 ||
		    (!exists &&
		        (rc = tf_error(ctx, TF_EIO, "no bootstrap key '%s'", r->e.bootstrap_key)) !=
		            0))
			goto out;
		cfg.client_cert_pem = boot_cert;
		cfg.client_key_pem = boot_key;
	}
	req.reenroll = reenroll;
	req.serverkeygen = r->serverkeygen;
	req.key_type = r->e.type;
	req.old_cert = r->old;
	req.subject = r->e.subject;
	req.sans = r->e.sans;
	req.nsans = r->e.nsans;
	req.http_status = status;
	if (r->has_pending) {
		req.pending_key_pem = r->pend.key_pem;
		req.pending_key_len = r->pend.key_len;
		req.pending_csr = r->pend.csr;
		req.pending_csr_len = r->pend.csr_len;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long waited, wait;

		est_result_free(r->res);
		r->res = NULL;
		if ((rc = est_enroll(&r->res, ctx, &cfg, &req)) != 0)
			goto out;
		if (!r->res->pending)
			break;
		/* accepted, not answered: keep key and request, so that a restart resumes */
		if (!r->has_pending || r->pend.csr_len != r->res->csr_der_len ||
		    memcmp(r->pend.csr, r->res->csr_der, r->res->csr_der_len) != 0) {
			struct est_pending np = { 0 };

			np.key_pem = tf_malloc(r->res->key_pem_len + 1);
			memcpy(np.key_pem, r->res->key_pem, r->res->key_pem_len);
			np.key_pem[r->res->key_pem_len] = '\0';
			np.key_len = r->res->key_pem_len;
			np.csr = tf_malloc(r->res->csr_der_len);
			memcpy(np.csr, r->res->csr_der, r->res->csr_der_len);
			np.csr_len = r->res->csr_der_len;
			np.reenroll = reenroll;
			np.cert = tf_strdup(r->cert_abs);
			np.server = tf_strdup(r->e.server);
			np.since = r->has_pending ? r->pend.since : (long)time(NULL);
			est_pending_release(&r->pend);
			r->pend = np;
			r->has_pending = true;
			if ((rc = est_pending_save(r->cli, &r->pend)) != 0)
				goto out;
			req.pending_key_pem = r->pend.key_pem;
			req.pending_key_len = r->pend.key_len;
			req.pending_csr = r->pend.csr;
			req.pending_csr_len = r->pend.csr_len;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited = (long)(t1.tv_sec - t0.tv_sec);
		wait = r->res->retry_after;
		if (waited + wait > r->e.max_wait) {
			char *host = tf_hostpath(ctx, EST_PENDING_DIR);

			rc = tf_error(ctx, TF_ENET,
			    "EST server '%s' accepted the request but has not issued the "
			    "certificate within --max-wait %ld s (it asks to retry in %ld s): the "
			    "key and request are kept in '%s'; run 'trustfix %s' again to resume",
			    r->e.server, r->e.max_wait, wait, host, r->cmd);
			free(host);
			goto out;
		}
		if (ctx->verbosity >= 0)
			fprintf(stderr,
			    "trustfix: EST server '%s' accepted the request (202): retrying in %ld "
			    "s (waited %ld of %ld s)\n",
			    r->e.server, wait, waited, r->e.max_wait);
		sleep((unsigned)wait);
	}
	rc = 0;
out:
	if (boot_key != NULL)
		est_secret_free(boot_key, bklen);
	free(boot_cert);
	return rc;
}

/* Get the new certificate: re-enroll, or enroll, falling back as needed. */
static int
obtain(struct renew_run *r)
{
	struct tf_ctx *ctx = &r->cli->ctx;
	long status = 0;
	bool expired = r->old != NULL && r->was.not_after <= ctx->now;
	int rc;

	r->reenroll = !r->enroll && r->old != NULL && !expired && r->old_key_exists;
	if (r->has_pending && !r->enroll)
		r->reenroll = r->pend.reenroll && !expired && r->old_key_exists;
	if (!r->enroll && !r->reenroll) {
		char na[32];

		iso(na, r->was.not_after);
		if (!est_cli_has_bootstrap(&r->e))
			return tf_error(ctx, TF_ECONFIG,
			    expired
			        ? "the client certificate '%s' expired on %s and cannot "
			          "re-enroll itself: configure bootstrap credentials (--username "
			          "and --password-file, or --bootstrap-cert and --bootstrap-key)"
			        : "the key of the client certificate '%s' (not after %s) is "
			          "missing: configure bootstrap credentials (--username and "
			          "--password-file, or --bootstrap-cert and --bootstrap-key)",
			    r->e.cert, na);
		r->fell_back = true;
		if (ctx->verbosity >= 0)
			fprintf(stderr,
			    "trustfix: the client certificate %s on %s: enrolling afresh "
			    "(/simpleenroll) with the bootstrap credentials\n",
			    expired ? "expired" : "has no key; it expires", na);
	}
	rc = enroll_wait(r, r->reenroll, &status);
	if (rc != 0 && r->reenroll && (status == 401 || status == 403)) {
		char said[sizeof(ctx->errmsg)];

		memcpy(said, ctx->errmsg, sizeof(said));
		if (!est_cli_has_bootstrap(&r->e))
			return rc;
		if (ctx->verbosity >= 0)
			fprintf(stderr,
			    "trustfix: re-enrollment refused (%s): enrolling afresh "
			    "(/simpleenroll) with the bootstrap credentials\n",
			    said);
		tf_error_clear(ctx);
		r->reenroll = false;
		r->fell_back = true;
		rc = enroll_wait(r, false, &status);
	}
	/*
	 * A pending request the server refused is over: dropped, so that the
	 * next run asks afresh. One it answered is kept until the certificate
	 * is installed (renew_installed()): a run that cannot install it
	 * resends the same request.
	 */
	if (rc != 0 && r->has_pending && status >= 400 && status < 500) {
		char *host = tf_hostpath(ctx, EST_PENDING_DIR);

		est_pending_remove(r->cli);
		est_pending_release(&r->pend);
		r->has_pending = false;
		fprintf(stderr,
		    "trustfix: the EST server refused the pending request (HTTP %ld): it is "
		    "dropped from '%s'; the next run asks afresh\n",
		    status, host);
		free(host);
	}
	return rc;
}

/* The certificate is installed: a pending request it answered is done. */
static void
pending_done(struct renew_run *r)
{
	if (!r->has_pending)
		return;
	est_pending_remove(r->cli);
	est_pending_release(&r->pend);
	r->has_pending = false;
}

static json_t *
facts_json(const struct cert_facts *f)
{
	if (!f->present)
		return json_null();
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "subject", out_jstr(f->subject), "issuer",
	    out_jstr(f->issuer), "serial", out_jstr(f->serial), "not_before",
	    out_jtime(f->not_before), "not_after", out_jtime(f->not_after), "key_sha256",
	    out_jhex(f->key_sha256, 32));
}

/* renew --check: say whether it is due; exit 1 due, 0 not due. */
static int
print_check(struct renew_run *r, time_t due_at, bool due)
{
	struct cli *cli = r->cli;
	char na[32], da[32];

	iso(na, r->was.not_after);
	iso(da, due_at);
	if (cli->format == OUT_JSON) {
		json_t *doc =
		    json_pack("{s:b,s:o,s:o,s:b,s:b,s:o}", "due", due, "cert", out_jstr(r->e.cert),
		        "renew_at", out_jtime(due_at), "expired", r->was.not_after <= cli->ctx.now,
		        "pending", r->has_pending, "certificate", facts_json(&r->was));

		out_emit(stdout, doc);
		fputc('\n', stdout);
	} else if (cli->ctx.verbosity >= 0) {
		char *name = short_name(r->was.subject);

		if (due)
			printf("due: the client certificate %s (%s) expires on %s; renewal was due "
			       "on %s%s\n",
			    name, r->e.cert, na, da,
			    r->has_pending ? " (a pending enrollment waits)" : "");
		else
			printf("not due: the client certificate %s (%s) expires on %s; renewal is "
			       "due on %s\n",
			    name, r->e.cert, na, da);
		free(name);
	}
	return due ? TF_EXIT_FINDINGS : TF_EXIT_OK;
}

/* The files of the change: certificate, key, chain. */
static void
add_scope(struct renew_run *r, struct change_scope *scope)
{
	change_scope_add(scope, r->cert_abs);
	change_scope_add(scope, r->key_abs);
	if (r->chain_abs != NULL)
		change_scope_add(scope, r->chain_abs);
}

/* --dry-run: what would be done; the EST server is not contacted. */
static int
print_plan(struct renew_run *r, bool expired)
{
	struct cli *cli = r->cli;
	const char *op =
	    r->enroll || expired || !r->old_key_exists ? "simpleenroll" : "simplereenroll";
	char *name = short_name(r->was.present ? r->was.subject : r->e.subject);
	char *subject =
	    tf_asprintf("%s client certificate %s", r->enroll ? "enroll" : "renew", name);
	json_t *files = json_array(), *hooks = json_array(), *probes = json_array();
	struct change checks = { 0 };
	struct change_scope scope = { 0 };
	size_t k;
	int rc;

	/* the hooks and probes the change would run */
	add_scope(r, &scope);
	if ((rc = change_list_hooks(cli, &checks, HOOKS_PRE_CHANGE)) != 0 ||
	    (rc = change_list_hooks(cli, &checks, HOOKS_POST_CHANGE)) != 0) {
		change_free_list(scope.v, scope.n);
		change_release(&checks);
		json_decref(files);
		json_decref(hooks);
		json_decref(probes);
		free(name);
		free(subject);
		return rc;
	}
	change_probe_list(cli, &scope, &checks);
	change_free_list(scope.v, scope.n);
	for (k = 0; k < checks.nhooks; k++)
		json_array_append_new(hooks,
		    json_pack("{s:s,s:s}", "phase", checks.hooks[k].phase, "name",
		        checks.hooks[k].name));
	for (k = 0; k < checks.nprobes; k++)
		json_array_append_new(probes, json_string(checks.probes[k]));

	json_array_append_new(files,
	    json_pack("{s:o,s:s}", "path", out_jstr(r->cert_abs), "action", "write"));
	json_array_append_new(files,
	    json_pack("{s:o,s:s}", "path", out_jstr(r->key_abs), "action", "write"));
	if (r->chain_abs != NULL)
		json_array_append_new(files,
		    json_pack("{s:o,s:s}", "path", out_jstr(r->chain_abs), "action", "write"));
	if (cli->format == OUT_JSON) {
		json_t *doc = json_pack("{s:b,s:n,s:o,s:s,s:o,s:b,s:o,s:o,s:o,s:o}", "dry_run", 1,
		    "change", "subject", out_jstr(subject), "operation", op, "server",
		    out_jstr(r->e.server), "pending", r->has_pending, "old", facts_json(&r->was),
		    "files", files, "hooks", hooks, "probes", probes);

		out_emit(stdout, doc);
		fputc('\n', stdout);
	} else {
		size_t i;

		if (cli->ctx.verbosity >= 0) {
			printf(
			    "plan: %s (dry run: nothing written, the EST server not contacted)\n",
			    subject);
			printf("  /%s at %s%s, a new %s key\n", op, r->e.server,
			    r->has_pending ? " (resuming the pending request)" : "",
			    r->e.key_type != NULL ? r->e.key_type : "ec-p256");
			printf("  files:\n");
			for (i = 0; i < json_array_size(files); i++)
				printf("    write  %s\n",
				    json_string_value(
				        json_object_get(json_array_get(files, i), "path")));
			if (checks.nhooks > 0)
				printf("  hooks:\n");
			for (k = 0; k < checks.nhooks; k++)
				printf("    %s/%s: would run\n", checks.hooks[k].phase,
				    checks.hooks[k].name);
			if (checks.nprobes > 0)
				printf("  probes:\n");
			for (k = 0; k < checks.nprobes; k++)
				printf("    %s\n", checks.probes[k]);
		}
		json_decref(files);
		json_decref(hooks);
		json_decref(probes);
	}
	change_release(&checks);
	free(name);
	free(subject);
	return 0;
}

static void
print_done(struct renew_run *r, const struct change *ch, const char *id)
{
	struct cli *cli = r->cli;
	json_t *files, *doc;
	size_t i;

	if (cli->format != OUT_JSON) {
		change_print(cli, ch, false, id);
		return;
	}
	files = json_array();
	for (i = 0; i < ch->nfiles; i++)
		json_array_append_new(files,
		    json_pack("{s:o,s:s}", "path", out_jstr(ch->files[i].path), "action", "write"));
	doc = json_pack("{s:b,s:o,s:o,s:s,s:b,s:o,s:o,s:o,s:o}", "dry_run", 0, "change",
	    *id ? json_string(id) : json_null(), "subject", out_jstr(ch->subject_line), "operation",
	    op_name(r), "fallback", r->fell_back, "server", out_jstr(r->e.server), "old",
	    facts_json(&r->was), "new", facts_json(&r->now), "files", files);
	out_emit(stdout, doc);
	fputc('\n', stdout);
}

static void
run_release(struct renew_run *r)
{
	free(r->cert_abs);
	free(r->key_abs);
	free(r->chain_abs);
	X509_free(r->old);
	free(r->old_pem);
	if (r->old_key_pem != NULL)
		est_secret_free(r->old_key_pem, r->old_key_len);
	facts_release(&r->was);
	facts_release(&r->now);
	est_pending_release(&r->pend);
	est_result_free(r->res);
	est_cli_release(&r->e);
}

/* Read the current certificate and key, and any pending enrollment. */
static int
load_state(struct renew_run *r)
{
	struct cli *cli = r->cli;
	bool exists;
	int rc;

	if ((rc = est_cli_read(cli, r->e.cert, "client certificate", &r->old_pem, &r->old_len,
	         &exists)) != 0)
		return rc;
	if (exists) {
		char *host = tf_hostpath(&cli->ctx, r->e.cert);

		r->old = est_cli_parse_cert(r->old_pem, r->old_len);
		if (r->old == NULL && !r->enroll) {
			rc = tf_error(&cli->ctx, TF_EINVALID,
			    "'%s' holds no certificate: fix or remove it, then 'trustfix enroll'",
			    host);
			free(host);
			return rc;
		}
		free(host);
		if (r->old != NULL)
			facts_of(&r->was, r->old);
	} else if (!r->enroll) {
		char *host = tf_hostpath(&cli->ctx, r->e.cert);

		rc = tf_error(&cli->ctx, TF_EIO,
		    "no client certificate '%s': enroll first ('trustfix enroll')", host);
		free(host);
		return rc;
	}
	if (!r->check &&
	    (rc = est_cli_read(cli, r->e.key, "client key", &r->old_key_pem, &r->old_key_len,
	         &r->old_key_exists)) != 0)
		return rc;
	if ((rc = est_pending_load(cli, &r->pend, &r->has_pending)) != 0)
		return rc;
	if (r->has_pending && strcmp(r->pend.cert, r->cert_abs) != 0) {
		char *host = tf_hostpath(&cli->ctx, EST_PENDING_DIR);

		rc = tf_error(&cli->ctx, TF_EUSAGE,
		    "a pending enrollment for '%s' is kept in '%s': finish it with --cert %s, or "
		    "remove that folder",
		    r->pend.cert, host, r->pend.cert);
		free(host);
	} else if (r->has_pending && r->e.server != NULL && r->pend.server != NULL &&
	    strcmp(r->pend.server, r->e.server) != 0) {
		char *host = tf_hostpath(&cli->ctx, EST_PENDING_DIR);

		/* a request is resent only to the server that accepted it */
		rc = tf_error(&cli->ctx, TF_EUSAGE,
		    "a pending enrollment with '%s' is kept in '%s': finish it with --server %s, "
		    "or remove that folder",
		    r->pend.server, host, r->pend.server);
		free(host);
	}
	return rc;
}

/* The folders of the files to write, for a first enrollment (0755, like mkdir -p). */
static int
make_dirs(struct renew_run *r)
{
	const char *paths[] = { r->cert_abs, r->key_abs, r->chain_abs };
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]) && rc == 0; i++) {
		char *dir, *name;

		if (paths[i] == NULL)
			continue;
		if (tf_path_split(paths[i], &dir, &name) != 0)
			return tf_error(&r->cli->ctx, TF_EUSAGE, "bad path '%s'", paths[i]);
		rc = tf_mkdirs(&r->cli->ctx, dir, 0755);
		free(dir);
		free(name);
	}
	return rc;
}

/*
 * Check the settings, read the current state and decide whether renewal is
 * due (r->due, r->due_at, r->expired). Returns 0 or TF_E*.
 */
static int
setup(struct renew_run *r)
{
	struct cli *cli = r->cli;
	const struct tf_config *cfg = cli->ctx.cfg;
	const char *cmd = r->cmd;
	int rc;

	if ((rc = est_cli_resolve(cli, &r->e)) != 0)
		return rc;
	if (r->e.cert == NULL || r->e.key == NULL)
		return cli_usage(cli, cmd,
		           "no client certificate: give --cert and --key, or set 'cert' and 'key' "
		           "in [client] of the configuration"),
		       TF_EXIT_USAGE;
	if (!r->check && r->e.server == NULL)
		return cli_usage(cli, cmd,
		           "no EST server: give --server URL, or set 'server' in [client]"),
		       TF_EXIT_USAGE;
	if (!r->check && r->e.ca_file == NULL)
		return cli_usage(cli, cmd,
		           "no trust anchor for the EST server: give --ca-file, or set 'ca_file' "
		           "in [client] (see 'trustfix est cacerts --bootstrap')"),
		       TF_EXIT_USAGE;
	r->cert_abs = change_abspath(cli, r->e.cert);
	r->key_abs = change_abspath(cli, r->e.key);
	r->chain_abs = r->e.chain != NULL ? change_abspath(cli, r->e.chain) : NULL;
	if (strcmp(r->cert_abs, r->key_abs) == 0 ||
	    (r->chain_abs != NULL &&
	        (strcmp(r->chain_abs, r->key_abs) == 0 || strcmp(r->chain_abs, r->cert_abs) == 0)))
		return cli_usage(cli, cmd,
		           "the certificate, key and chain need three different files"),
		       TF_EXIT_USAGE;
	if ((rc = load_state(r)) != 0)
		return rc;
	r->due = true;
	if (r->old != NULL) {
		r->due_at = renew_due_at(r->was.not_before, r->was.not_after,
		    cfg->renew_before_days, cfg->renew_lifetime_fraction);
		r->due = cli->ctx.now >= r->due_at || r->has_pending;
		r->expired = r->was.not_after <= cli->ctx.now;
	}
	return 0;
}

/* Get the new certificate, ready for plan_install(). */
static int
get_certificate(struct renew_run *r)
{
	int rc;

	if ((rc = make_dirs(r)) != 0 || (rc = obtain(r)) != 0)
		return rc;
	facts_of(&r->now, r->res->cert);
	/* the key file, however named, is recorded by reference and kept in the vault */
	vault_add_key_path(&r->cli->ctx, r->key_abs);
	return 0;
}

/* change_opts.prepare: the new certificate, obtained under the lock. */
static int
prepare_install(struct cli *cli, void *arg)
{
	(void)cli;
	return get_certificate(arg);
}

static int
run_renew(struct cli *cli, const char *cmd, int argc, char **argv, bool enroll)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'C' },
		{ "server-keygen", no_argument, NULL, 'K' },
		EST_LONG_OPTIONS,
		CLI_COMMON_OPTIONS,
		CHANGE_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct renew_run r;
	struct change ch = { 0 };
	struct change_scope scope = { 0 };
	char id[41] = "";
	size_t i;
	int c, rc;

	memset(&r, 0, sizeof(r));
	r.cli = cli;
	r.cmd = cmd;
	r.enroll = enroll;
	est_cli_init(&r.e);
	while ((c = getopt_long(argc, argv, ":nqvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			r.force = true;
			break;
		case 'K':
			r.serverkeygen = true;
			break;
		case 'C':
			if (enroll) {
				rc = cli_usage(cli, cmd, "--check is an option of renew");
				goto out;
			}
			r.check = true;
			break;
		case 'h':
			rc = cmd_help(cli, 2, (char *[]){ "help", (char *)cmd, NULL });
			goto out;
		case ':':
			rc = cli_usage(cli, cmd, "option '%s' needs a value", argv[optind - 1]);
			goto out;
		case '?':
			rc = cli_usage(cli, cmd, "unknown option '%s'", argv[optind - 1]);
			goto out;
		default:
			if ((rc = est_cli_option(cli, cmd, &r.e, c, optarg)) == 0 &&
			    (rc = change_option(cli, cmd, &r.o, c, optarg)) == 0)
				rc = cli_common_option(cli, cmd, c, optarg);
			if (rc <= 0) {
				rc = TF_EXIT_USAGE;
				goto out;
			}
			break;
		}
	}
	if (optind < argc) {
		rc = cli_usage(cli, cmd, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if ((rc = setup(&r)) != 0)
		goto out;
	if (r.check) {
		rc = print_check(&r, r.due_at, r.due);
		goto out;
	}
	if (enroll && r.old != NULL && !r.expired && !r.force && !r.has_pending) {
		change_print_nothing(cli, &r.o,
		    "a client certificate is installed already: renew it with 'trustfix renew', or "
		    "enroll afresh with --force");
		rc = TF_EXIT_NOTHING;
		goto out;
	}
	if (enroll && r.e.subject == NULL && r.old == NULL) {
		rc = cli_usage(cli, cmd,
		    "no subject for a first enrollment: give --subject, or set 'subject' in "
		    "[client]");
		goto out;
	}
	if (!enroll && !r.due && !r.force) {
		char da[32], *why;

		iso(da, r.due_at);
		why = tf_asprintf("the client certificate is not due for renewal until %s (--force "
		                  "renews it now)",
		    da);
		change_print_nothing(cli, &r.o, why);
		free(why);
		rc = TF_EXIT_NOTHING;
		goto out;
	}
	if (r.o.dry_run) {
		rc = print_plan(&r, r.expired);
		goto out;
	}
	if (enroll && !est_cli_has_bootstrap(&r.e) && r.e.server != NULL && cli->ctx.verbosity > 0)
		fprintf(stderr, "trustfix: enrolling without credentials\n");
	/* the EST exchange runs under the lock, once the state is recovered */
	r.o.prepare = prepare_install;
	r.o.command = cli->cmdline;
	add_scope(&r, &scope);
	rc = change_run(cli, &r.o, &scope, plan_install, &r, &ch, id);
	if (rc == 0)
		pending_done(&r);
	if (rc == 0)
		print_done(&r, &ch, id);
	else if (CHANGE_FAILED(rc))
		change_print(cli, &ch, false, id);
out:
	for (i = 0; i < ch.nfiles; i++)
		if (ch.files[i].data != NULL &&
		    (ch.files[i].secret || (r.key_abs && strcmp(ch.files[i].path, r.key_abs) == 0)))
			OPENSSL_cleanse(ch.files[i].data, ch.files[i].len);
	change_release(&ch);
	change_free_list(scope.v, scope.n);
	run_release(&r);
	return rc;
}

/* ---- for "trustfix remediate" (cli/renewcli.h) ---- */

int
renew_setup(struct renew_run **out, struct cli *cli, const char *cmd, struct est_cli *e, bool force)
{
	const struct tf_config *cfg = cli->ctx.cfg;
	struct renew_run *r;
	int rc;

	*out = NULL;
	/* nothing to look after without a certificate and an EST server */
	if ((e->cert == NULL && cfg->client_cert == NULL) ||
	    (e->server == NULL && cfg->est_server == NULL))
		return 0;
	r = tf_calloc(1, sizeof(*r));
	r->cli = cli;
	r->cmd = cmd;
	r->force = force;
	r->e = *e; /* taken over */
	est_cli_init(e);
	if ((rc = setup(r)) != 0) {
		renew_run_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

bool
renew_is_due(const struct renew_run *r)
{
	return r->due || r->force;
}

char *
renew_describe(const struct renew_run *r)
{
	char na[32], da[32], *name;
	char *s;
	long days;

	if (r->old == NULL)
		return tf_asprintf("no client certificate at %s: enroll first ('trustfix enroll')",
		    r->cert_abs);
	name = short_name(r->now.present ? r->now.subject : r->was.subject);
	if (r->now.present) {
		iso(na, r->now.not_after);
		s = tf_asprintf("new client certificate %s from %s, not after %s", name,
		    r->e.server, na);
		free(name);
		return s;
	}
	iso(na, r->was.not_after);
	iso(da, r->due_at);
	days = (long)((r->was.not_after - r->cli->ctx.now) / 86400);
	s = tf_asprintf("client certificate %s %s %s (%ld days)%s", name,
	    r->expired ? "expired on" : "expires on", na, days,
	    r->due         ? ": renewal due"
	        : r->force ? ": renewal forced"
	                   : "");
	if (!r->due && !r->force) {
		char *t = tf_asprintf("%s; due on %s", s, da);

		free(s);
		s = t;
	}
	free(name);
	return s;
}

int
renew_obtain(struct renew_run *r)
{
	return get_certificate(r);
}

void
renew_installed(struct renew_run *r)
{
	pending_done(r);
}

int
renew_plan(struct cli *cli, struct audit *audit, struct change *ch, void *arg)
{
	return plan_install(cli, audit, ch, arg);
}

void
renew_scope(struct renew_run *r, struct change_scope *scope)
{
	add_scope(r, scope);
}

void
renew_run_free(struct renew_run *r)
{
	if (r == NULL)
		return;
	run_release(r);
	free(r);
}

int
cmd_renew(struct cli *cli, int argc, char **argv)
{
	return run_renew(cli, "renew", argc, argv, false);
}

int
cmd_enroll(struct cli *cli, int argc, char **argv)
{
	return run_renew(cli, "enroll", argc, argv, true);
}
