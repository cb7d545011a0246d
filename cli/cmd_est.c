/*
 * cli/cmd_est.c - "trustfix est cacerts": fetch the EST CA certificates,
 * show them, and save them as the trust anchor of the EST server (once
 * without one, when the operator confirms a fingerprint) as an audited
 * change.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../core/certinfo.h"
#include "../core/fsutil.h"
#include "../core/subject.h"
#include "change.h"
#include "estcli.h"
#include "output.h"

struct cacerts_run {
	const char *server;
	const char *out_abs;
	bool bootstrap;
	char fingerprint[65];
	STACK_OF(X509) *certs;
	struct tf_certinfo *info;
	char *pem;
};

/* The anchor file: written only when it differs from what is there. */
static int
plan_anchor(struct cli *cli, struct audit *audit, struct change *ch, void *arg)
{
	struct cacerts_run *r = arg;
	struct change_file cur;
	bool exists;
	char hex[65], *line;
	int i, rc;

	(void)audit;
	if ((rc = change_read_state(cli, r->out_abs, &cur, &exists)) != 0)
		return rc;
	if (exists && cur.kind == TS_OP_WRITE && cur.len == strlen(r->pem) &&
	    memcmp(cur.data, r->pem, cur.len) == 0) {
		free(cur.path);
		free(cur.data);
		return 0; /* nothing to do */
	}
	free(cur.path);
	free(cur.data);
	ch->subject_line =
	    tf_asprintf("save the EST CA certificates of %s as trust anchor", r->server);
	line = tf_asprintf("%s:", r->out_abs);
	change_add_body(ch, line);
	free(line);
	for (i = 0; i < sk_X509_num(r->certs); i++) {
		tf_hex(hex, r->info[i].sha256, 32);
		line = tf_asprintf("+ %s (%.16s)", tf_subject_short(r->info[i].subject), hex);
		change_add_body(ch, line);
		free(line);
		change_add_trailer(ch, "Trustfix-EST-CA", hex);
	}
	change_add_trailer(ch, "Trustfix-EST-Server", r->server);
	if (r->bootstrap)
		change_add_trailer(ch, "Trustfix-Bootstrap-Fingerprint", r->fingerprint);
	change_add_file(ch, TS_OP_WRITE, r->out_abs, r->pem, strlen(r->pem), 0644);
	return 0;
}

static void
print_certs(struct cli *cli, const struct cacerts_run *r)
{
	char hex[65], na[32];
	int i;

	if (cli->ctx.verbosity < 0)
		return;
	printf("EST CA certificates of %s%s:\n", r->server,
	    r->bootstrap ? " (the fingerprint given matches)" : "");
	for (i = 0; i < sk_X509_num(r->certs); i++) {
		tf_hex(hex, r->info[i].sha256, 32);
		tf_time_iso(na, sizeof(na), r->info[i].not_after);
		printf("  %s\n    sha256 %s, not after %s\n", r->info[i].subject, hex, na);
	}
}

static json_t *
certs_json(const struct cacerts_run *r)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < sk_X509_num(r->certs); i++)
		json_array_append_new(a,
		    json_pack("{s:o,s:o,s:o,s:o}", "subject", out_jstr(r->info[i].subject),
		        "sha256", out_jhex(r->info[i].sha256, 32), "not_before",
		        out_jtime(r->info[i].not_before), "not_after",
		        out_jtime(r->info[i].not_after)));
	return a;
}

static int
decode_info(struct cli *cli, struct cacerts_run *r)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int i;

	r->info = tf_calloc((size_t)sk_X509_num(r->certs) + 1, sizeof(*r->info));
	for (i = 0; i < sk_X509_num(r->certs); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(r->certs, i), &der);

		if (len <= 0 || tf_certinfo_parse(&r->info[i], der, (size_t)len, 0, NULL) != 0) {
			OPENSSL_free(der);
			BIO_free(bio);
			return tf_error(&cli->ctx, TF_EINVALID,
			    "EST server '%s' sent a certificate that cannot be decoded", r->server);
		}
		OPENSSL_free(der);
		if (bio != NULL)
			PEM_write_bio_X509(bio, sk_X509_value(r->certs, i));
	}
	n = bio != NULL ? BIO_get_mem_data(bio, &data) : 0;
	r->pem = tf_strndup(n > 0 ? data : "", n > 0 ? (size_t)n : 0);
	BIO_free(bio);
	ERR_clear_error();
	return 0;
}

static int
est_cacerts_cmd(struct cli *cli, int argc, char **argv)
{
	static const char cmd[] = "est";
	static const struct option opts[] = {
		{ "bootstrap", no_argument, NULL, 'B' },
		{ "fingerprint", required_argument, NULL, 'F' },
		{ "out", required_argument, NULL, 'o' },
		{ "server", required_argument, NULL, EST_OPT_SERVER },
		{ "ca-file", required_argument, NULL, EST_OPT_CA_FILE },
		{ "label", required_argument, NULL, EST_OPT_LABEL },
		CLI_COMMON_OPTIONS,
		CHANGE_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct cacerts_run r;
	struct est_cli e;
	struct est_config cfg = { 0 };
	struct change_opts o = { 0 };
	struct change ch = { 0 };
	struct change_scope scope = { 0 };
	unsigned char pin[32];
	const char *fingerprint = NULL, *out = NULL;
	char *out_abs = NULL, id[41] = "";
	int c, i, rc;

	memset(&r, 0, sizeof(r));
	est_cli_init(&e);
	while ((c = getopt_long(argc, argv, ":nqvho:", opts, NULL)) != -1) {
		switch (c) {
		case 'B':
			r.bootstrap = true;
			break;
		case 'F':
			fingerprint = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			rc = cmd_help(cli, 2, (char *[]){ "help", "est", NULL });
			goto out;
		case ':':
			rc = cli_usage(cli, cmd, "option '%s' needs a value", argv[optind - 1]);
			goto out;
		case '?':
			rc = cli_usage(cli, cmd, "unknown option '%s'", argv[optind - 1]);
			goto out;
		default:
			if ((rc = est_cli_option(cli, cmd, &e, c, optarg)) == 0 &&
			    (rc = change_option(cli, cmd, &o, c, optarg)) == 0)
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
	if (fingerprint != NULL && !r.bootstrap) {
		rc = cli_usage(cli, cmd, "--fingerprint goes with --bootstrap");
		goto out;
	}
	if (r.bootstrap) {
		char hex[65];
		size_t k = 0;

		if (fingerprint == NULL) {
			rc = cli_usage(cli, cmd,
			    "--bootstrap needs --fingerprint SHA256: the SHA-256 of the EST CA "
			    "certificate, confirmed out of band");
			goto out;
		}
		for (const char *p = fingerprint; *p != '\0' && k < 65; p++)
			if (*p != ':')
				hex[k++] = *p;
		if (k != 64) {
			rc = cli_usage(cli, cmd,
			    "'%s' is not a SHA-256 fingerprint (64 hex digits)", fingerprint);
			goto out;
		}
		hex[64] = '\0';
		if (tf_unhex(pin, 32, hex) == -1) {
			rc = cli_usage(cli, cmd,
			    "'%s' is not a SHA-256 fingerprint (64 hex digits)", fingerprint);
			goto out;
		}
		tf_hex(r.fingerprint, pin, 32);
		if (e.ca_file != NULL) {
			rc = cli_usage(cli, cmd,
			    "--bootstrap uses no trust anchor: name the file to save one in with "
			    "--out");
			goto out;
		}
	}
	e.skip_anchor = r.bootstrap;
	if ((rc = est_cli_resolve(cli, &e)) != 0)
		goto out;
	if (e.server == NULL) {
		rc = cli_usage(cli, cmd,
		    "no EST server: give --server URL, or set 'server' in "
		    "[client]");
		goto out;
	}
	r.server = e.server;
	if (out == NULL && r.bootstrap)
		out = cli->ctx.cfg->est_ca_file;
	if (out == NULL && r.bootstrap) {
		rc = cli_usage(cli, cmd,
		    "where should the trust anchor go? give --out FILE, or set 'ca_file' in "
		    "[client]");
		goto out;
	}
	if (out != NULL && strstr(out, "..") != NULL) {
		rc = tf_error(&cli->ctx, TF_EUSAGE, "--out '%s' must not contain '..'", out);
		goto out;
	}
	if (!r.bootstrap && e.ca_path == NULL) {
		rc = cli_usage(cli, cmd,
		    "no trust anchor for the EST server: give --ca-file or set 'ca_file' in "
		    "[client]; without one, use --bootstrap --fingerprint SHA256");
		goto out;
	}
	cfg.server = e.server;
	cfg.label = e.label;
	cfg.ca_file = e.ca_path;
	if (r.bootstrap)
		rc = est_cacerts_bootstrap(&r.certs, &cli->ctx, &cfg, pin);
	else
		rc = est_cacerts(&r.certs, &cli->ctx, &cfg);
	if (rc != 0 || (rc = decode_info(cli, &r)) != 0)
		goto out;
	if (out == NULL) {
		/* only show them */
		if (cli->format == OUT_JSON) {
			out_emit(stdout,
			    json_pack("{s:o,s:o}", "server", out_jstr(r.server), "certificates",
			        certs_json(&r)));
			fputc('\n', stdout);
		} else {
			print_certs(cli, &r);
		}
		rc = 0;
		goto out;
	}
	out_abs = change_abspath(cli, out);
	r.out_abs = out_abs;
	if (!o.dry_run) {
		char *dir, *name;

		if (tf_path_split(out_abs, &dir, &name) != 0) {
			rc = tf_error(&cli->ctx, TF_EUSAGE, "bad --out '%s'", out);
			goto out;
		}
		rc = tf_mkdirs(&cli->ctx, dir, 0755);
		free(dir);
		free(name);
		if (rc != 0)
			goto out;
	}
	o.command = cli->cmdline;
	change_scope_add(&scope, out_abs);
	rc = change_run(cli, &o, &scope, plan_anchor, &r, &ch, id);
	if (rc == 0) {
		if (cli->format != OUT_JSON)
			print_certs(cli, &r);
		change_print(cli, &ch, o.dry_run, id);
	} else if (CHANGE_FAILED(rc)) {
		change_print(cli, &ch, o.dry_run, id);
	} else if (rc == TF_EXIT_NOTHING) {
		change_print_nothing(cli, &o, "the trust anchor holds these certificates already");
	}
out:
	if (r.info != NULL)
		for (i = 0; i < sk_X509_num(r.certs); i++)
			tf_certinfo_clear(&r.info[i]);
	free(r.info);
	free(r.pem);
	sk_X509_pop_free(r.certs, X509_free);
	free(out_abs);
	change_release(&ch);
	change_free_list(scope.v, scope.n);
	est_cli_release(&e);
	return rc;
}

int
cmd_est(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
			return cmd_help(cli, 2, (char *[]){ "help", "est", NULL });
		return cli_usage(cli, "est", "name the operation: cacerts");
	}
	if (strcmp(argv[1], "cacerts") == 0)
		return est_cacerts_cmd(cli, argc - 1, argv + 1);
	return cli_usage(cli, "est", "unknown operation '%s' (cacerts)", argv[1]);
}
