/*
 * cli/main.c - trustfix's entry point: global options, the command table,
 * and the one place where an error is printed and mapped to an exit status.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../audit/vault.h"
#include "../core/path.h"
#include "change.h"
#include "cli.h"
#include "estcli.h"
#include "statcache.h"

/* Sorted by name. */
static const struct command commands[] = {
	{ "add", cmd_add, "add certificates to trust stores, as one audited change",
	    "add CERT... [--store S]... [--password-file FILE] [CHANGE OPTIONS]\n"
	    "\n"
	    "  CERT                   a PEM file (any number of certificates) or a DER file\n"
	    "  --store S              the store to change (repeatable); default: every\n"
	    "                         [store NAME] of the configuration\n"
	    "  --password-file FILE   password of a PKCS#12 store\n" CHANGE_USAGE "\n"
	    "Exit status: 0 changed (or planned, with --dry-run), 3 nothing to do,\n"
	    "2 usage error, 4 refused, 8 locked." },
	{ "apply", cmd_apply, "apply a signed root bundle to the stores, as one audited change",
	    "apply [FILE|NAME] [--store S]... [--signers FILE] [--allow-downgrade]\n"
	    "      [CHANGE OPTIONS]\n"
	    "\n"
	    "  FILE                   a bundle archive (.tar.gz or .zip), read as given\n"
	    "  NAME                   a staged bundle (see 'trustfix bundle list'); default:\n"
	    "                         the one bundle staged\n"
	    "  --store S              the store to change (repeatable); default: every\n"
	    "                         [store NAME] of the configuration\n"
	    "  --signers FILE         the pinned signers (PEM file or folder) for this run,\n"
	    "                         instead of bundle_signers of the configuration\n"
	    "  --allow-downgrade      install a version lower than the installed one\n"
	    "                         (recorded as a downgrade)\n"
	    "  --password-file FILE   password of a PKCS#12 store\n" CHANGE_USAGE "\n"
	    "Exit status: 0 changed (or planned, with --dry-run), 3 nothing to do (installed\n"
	    "already), 2 usage error, 4 refused (verification failed), 8 locked." },
	{ "bundle", cmd_bundle, "create, verify, stage and list signed root bundles",
	    "bundle create|verify|stage|list [OPTIONS]\n"
	    "\n"
	    "  bundle create --name N --version V --signer-cert C --signer-key K -o FILE\n"
	    "        [--add CERT]... [--remove SHA256[=NAME]]... [--require SHA256[=NAME]]...\n"
	    "        [--expires DATE] [--created DATE] [--description TEXT]\n"
	    "        [--signer-key-password-file FILE]\n"
	    "      make a bundle signed with the key K of the signer certificate C (then any\n"
	    "      intermediates); DATE is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC);\n"
	    "      --expires defaults to a year after --created (now)\n"
	    "  bundle verify FILE|NAME [--signers FILE] [--allow-downgrade] [--json]\n"
	    "      every check, offline; prints what the bundle would do, changes nothing\n"
	    "  bundle stage FILE|URL [--ca-file FILE] [--signers FILE] [--allow-downgrade]\n"
	    "      verify, then keep it staged for 'trustfix apply NAME'; a URL is fetched\n"
	    "      over HTTPS only (--ca-file pins the server's CA)\n"
	    "  bundle list [--json]\n"
	    "      the staged and installed bundles\n"
	    "\n"
	    "Exit status: 0 done, 3 nothing to do (installed or staged already), 2 usage or\n"
	    "configuration error, 4 refused (verification failed), 5 network error." },
	{ "enroll", cmd_enroll, "enroll the client certificate over EST, as one audited change",
	    "enroll [--force] [EST OPTIONS] [CHANGE OPTIONS]\n"
	    "\n"
	    "  First enrollment (/simpleenroll) with the bootstrap credentials: HTTP Basic\n"
	    "  (--username, --password-file) and/or a manufacturer certificate\n"
	    "  (--bootstrap-cert, --bootstrap-key); subject and SANs from --subject and --san.\n"
	    "  A new key, certificate and chain are installed as one change.\n"
	    "  --force                enroll when a valid certificate is there\n"
	    "  --server-keygen        let the server make the key (/serverkeygen)\n" EST_USAGE
	        CHANGE_USAGE "\n"
	    "Exit status: 0 enrolled (or planned, with --dry-run), 3 a valid certificate is\n"
	    "installed already, 2 usage or configuration error, 4 the issued certificate was\n"
	    "refused, 5 network or server error (or still pending after --max-wait), 8 locked." },
	{ "est", cmd_est, "EST operations: fetch and bootstrap the EST CA certificates",
	    "est cacerts [--bootstrap --fingerprint SHA256] [--out FILE] [--server URL]\n"
	    "      [--ca-file FILE] [--label NAME] [CHANGE OPTIONS]\n"
	    "\n"
	    "  cacerts                fetch the EST CA certificates (/cacerts) and show them;\n"
	    "                         with --out, save them there as one audited change\n"
	    "  --bootstrap            without a trust anchor: connect unverified, send no\n"
	    "                         credentials, and accept the answer only if a certificate\n"
	    "                         has the --fingerprint and the server verifies against it;\n"
	    "                         then save it as the trust anchor (--out, else ca_file)\n"
	    "  --fingerprint SHA256   the SHA-256 of the EST CA certificate, confirmed out of\n"
	    "                         band (64 hex digits, colons accepted)\n"
	    "  --out FILE             where to save the certificates (a path of the managed\n"
	    "                         system)\n" CHANGE_USAGE "\n"
	    "Exit status: 0 done, 3 the file holds these certificates already, 2 usage or\n"
	    "configuration error, 4 refused (fingerprint or server mismatch), 5 network or\n"
	    "server error." },
	{ "help", cmd_help, "show help for trustfix or one of its commands", "help [COMMAND]" },
	{ "hooks", cmd_hooks, "list the hooks of each phase, or try one phase's hooks",
	    "hooks list [PHASE] [--json] | hooks test PHASE [--json]\n"
	    "\n"
	    "  PHASE                  pre-change, post-change, post-rollback or on-failure;\n"
	    "                         hooks are the executables in /etc/trustfix/hooks/PHASE.d/\n"
	    "                         (under --root) named [A-Za-z0-9_-]+, run in C-locale order\n"
	    "  list                   the hooks that would run, and the files skipped and why\n"
	    "  test                   run the phase's hooks with TRUSTFIX_DRY_RUN=1 and a\n"
	    "                         synthetic change (the policy's remediation), each within\n"
	    "                         hook_timeout seconds, and show their output\n"
	    "\n"
	    "Exit status: 0 every hook succeeded, 1 a hook failed, 2 usage error." },
	{ "inspect", cmd_inspect, "inspect trust stores and the client certificate",
	    "inspect [STORE...] [--client-cert PATH [--client-key PATH] [--client-chain PATH]]\n"
	    "        [--password-file FILE] [--warn-days N] [--json | --format FORMAT] [-q] [-v]\n"
	    "\n"
	    "  STORE                  a PEM bundle, OpenSSL hashed directory, directory of\n"
	    "                         PEM/DER files, DER file or PKCS#12 store; default: the\n"
	    "                         [store NAME] sections of the configuration\n"
	    "  --client-cert PATH     the device's client certificate (default: [client] cert)\n"
	    "  --client-key PATH      its private key, to check that it matches\n"
	    "  --client-chain PATH    intermediates that are not in the certificate file\n"
	    "  --password-file FILE   password of a PKCS#12 store (first line of FILE)\n"
	    "  --warn-days N          report certificates expiring within N days (30)\n"
	    "  --format FORMAT        table (default), json or prometheus\n"
	    "  --json                 the same as --format json\n"
	    "\n"
	    "Exit status: 0 compliant, 1 findings, 2 usage or configuration error." },
	{ "log", cmd_log, "list the changes recorded in the audit log",
	    "log [-n N] [--json]\n"
	    "\n"
	    "  -n N                   the last N changes only" },
	{ "probe", cmd_probe, "check that TLS endpoints validate against the trust stores",
	    "probe [HOST:PORT...] [--store S]... [--staged[=NAME]] [--chain FILE]\n"
	    "      [--servername NAME] [--timeout SECONDS] [--json]\n"
	    "\n"
	    "  HOST:PORT              the endpoint ([ADDRESS]:PORT for IPv6); default: every\n"
	    "                         'probe = host:port' of the configuration\n"
	    "  --store S              the store whose certificates are the only trust anchors\n"
	    "                         (repeatable); default: every [store NAME] of the\n"
	    "                         configuration; each store is judged on its own\n"
	    "  --staged[=NAME]        also validate against each store as the staged bundle\n"
	    "                         (the one staged, or NAME) would leave it\n"
	    "  --signers FILE         the pinned signers that verify the staged bundle\n"
	    "  --chain FILE           offline: validate a saved server chain (PEM, leaf first)\n"
	    "                         instead of connecting; HOST:PORT, if given, is only the\n"
	    "                         name to check\n"
	    "  --servername NAME      the name to send (SNI) and check (default: HOST)\n"
	    "  --timeout SECONDS      time limit of connection and handshake (default 10)\n"
	    "  --password-file FILE   password of a PKCS#12 store\n"
	    "  --json                 one JSON document\n"
	    "\n"
	    "Exit status: 0 every chain validates, 1 a validation fails (now or, with\n"
	    "--staged, after), 5 an endpoint cannot be reached and none fails, 2 usage or\n"
	    "configuration error, 4 the staged bundle does not verify." },
	{ "remediate", cmd_remediate,
	    "the maintenance-window job: bundle, renewal, hooks, probes, one change",
	    "remediate [--bundle FILE|URL] [--store S]... [--no-renew | --force-renew]\n"
	    "          [EST OPTIONS] [CHANGE OPTIONS]\n"
	    "\n"
	    "Inspect the stores and the client certificate, stage the bundle, plan, get a\n"
	    "new client certificate over EST when renewal is due, then make one change:\n"
	    "pre-change hooks, the stores and the key, certificate and chain files in one\n"
	    "transaction, post-change hooks, probes. A failing post-change hook or probe\n"
	    "undoes all of it (keys too).\n"
	    "\n"
	    "  --bundle FILE|URL      the bundle to apply (default: the one staged, if any)\n"
	    "  --bundle-ca-file FILE  trust anchor of an https:// bundle URL\n"
	    "  --signers FILE         the pinned bundle signers (default: bundle_signers)\n"
	    "  --store S              the store to change (repeatable); default: every\n"
	    "                         [store NAME] of the configuration\n"
	    "  --no-renew             leave the client certificate alone\n"
	    "  --force-renew          renew it even when not due\n" EST_USAGE CHANGE_USAGE "\n"
	    "Exit status: 0 remediated (or planned, with --dry-run), 3 nothing to do,\n"
	    "6 a hook or probe failed and everything was undone (or a pre-change hook\n"
	    "vetoed), 7 the undo failed too, 4 refused, 5 network, 8 locked, 2 usage." },
	{ "remove", cmd_remove, "remove certificates from trust stores, as one audited change",
	    "remove SHA256... | --subject TEXT [--all-matching] [--store S]... [CHANGE OPTIONS]\n"
	    "\n"
	    "  SHA256                 the certificate's SHA-256 fingerprint (64 hex digits;\n"
	    "                         colons as openssl prints them are accepted)\n"
	    "  --subject TEXT         the certificates whose subject contains TEXT; more\n"
	    "                         than one is an error unless --all-matching\n"
	    "  --store S              the store to change (repeatable); default: every\n"
	    "                         [store NAME] of the configuration\n"
	    "  --password-file FILE   password of a PKCS#12 store\n" CHANGE_USAGE "\n"
	    "Exit status: 0 changed (or planned, with --dry-run), 3 nothing to do,\n"
	    "2 usage error, 4 refused, 8 locked." },
	{ "renew", cmd_renew, "renew the client certificate over EST when due, audited",
	    "renew [--force] [--check] [EST OPTIONS] [CHANGE OPTIONS]\n"
	    "\n"
	    "  Due when fewer than renew_before_days remain, or renew_lifetime_fraction of\n"
	    "  its lifetime has passed. Re-enrolls (/simplereenroll) with the current\n"
	    "  certificate and key; once it has expired, or when the server refuses\n"
	    "  re-enrollment (401, 403), enrolls afresh (/simpleenroll) with the bootstrap\n"
	    "  credentials. A 202 is waited on up to --max-wait; then the request is kept in\n"
	    "  /var/lib/trustfix/pending/ and the next run resumes it. --dry-run contacts\n"
	    "  nothing.\n"
	    "  --check                only say whether renewal is due (exit 1) or not (0)\n"
	    "  --force                renew even when not due\n"
	    "  --server-keygen        let the server make the key (/serverkeygen); it is\n"
	    "                         written 0600 and kept out of the log like any key\n" EST_USAGE
	        CHANGE_USAGE "\n"
	    "Exit status: 0 renewed (or planned, with --dry-run), 1 due (--check), 3 not due,\n"
	    "2 usage or configuration error, 4 the issued certificate was refused, 5 network\n"
	    "or server error (or still pending after --max-wait), 8 locked." },
	{ "rollback", cmd_rollback, "undo a recorded change, as a new audited change",
	    "rollback [CHANGE] [--to CHANGE] [--force] [CHANGE OPTIONS]\n"
	    "\n"
	    "  CHANGE                 the change to undo: a commit id prefix, HEAD or\n"
	    "                         HEAD~N; default: the last change not rolled back yet\n"
	    "  --to CHANGE            restore every managed file as it was after CHANGE\n"
	    "  --force                undo even when a later change touched the same "
	    "files\n" CHANGE_USAGE "\n"
	    "Exit status: 0 rolled back, 3 nothing to do, 2 usage error, 4 refused\n"
	    "because a later change touched the same files, 8 locked." },
	{ "show", cmd_show, "show one recorded change",
	    "show [CHANGE] [--json]\n"
	    "\n"
	    "  CHANGE                 a commit id prefix, HEAD or HEAD~N (default HEAD)" },
	{ "version", cmd_version, "show the version and the linked libraries", "version" },
};

static const char global_usage[] =
    "usage: trustfix [--root DIR] [--config FILE] [--json] [-q] [-v] COMMAND [ARGS]\n";

const struct command *
cli_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
cli_usage(struct cli *cli, const char *cmd, const char *fmt, ...)
{
	const struct command *c = cmd != NULL ? cli_command(cmd) : NULL;
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "%s: ", cli->prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (c != NULL)
		fprintf(stderr, "usage: trustfix %.*s\n(see 'trustfix help %s')\n",
		    (int)strcspn(c->usage, "\n"), c->usage, c->name);
	else
		fputs(global_usage, stderr);
	return TF_EXIT_USAGE;
}

int
cli_common_option(struct cli *cli, const char *cmd, int c, const char *arg)
{
	switch (c) {
	case 'j':
		cli->format = OUT_JSON;
		return 1;
	case 'F':
		if (strcmp(arg, "table") == 0)
			cli->format = OUT_TABLE;
		else if (strcmp(arg, "json") == 0)
			cli->format = OUT_JSON;
		else if (strcmp(arg, "prometheus") == 0)
			cli->format = OUT_PROMETHEUS;
		else
			return cli_usage(cli, cmd,
			           "unknown format '%s' (use table, json or prometheus)", arg),
			       -1;
		return 1;
	case 'q':
		cli->ctx.verbosity = -1;
		return 1;
	case 'v':
		if (cli->ctx.verbosity < 0)
			cli->ctx.verbosity = 0;
		cli->ctx.verbosity++;
		return 1;
	}
	return 0;
}

const char *
cli_color(const struct cli *cli, const char *what)
{
	if (!cli->color || *what == '\0')
		return "";
	if (strcmp(what, "red") == 0)
		return "\033[31m";
	if (strcmp(what, "green") == 0)
		return "\033[32m";
	if (strcmp(what, "yellow") == 0)
		return "\033[33m";
	if (strcmp(what, "bold") == 0)
		return "\033[1m";
	return "\033[0m";
}

int
cli_read_password(struct cli *cli, const char *file, char **out)
{
	size_t len;
	char *buf;
	int rc;

	*out = NULL;
	if ((rc = tf_read_input(&cli->ctx, file, 4096, &buf, &len)) != 0)
		return rc;
	*out = tf_strndup(buf, strcspn(buf, "\r\n"));
	OPENSSL_cleanse(buf, len);
	free(buf);
	return 0;
}

void
cli_free_password(char *password)
{
	if (password != NULL) {
		OPENSSL_cleanse(password, strlen(password));
		free(password);
	}
}

int
cli_load_config(struct cli *cli)
{
	struct tf_config *cfg;
	int rc;

	if ((rc = tf_config_load(&cfg, &cli->ctx, cli->config_path, cli->config_given)) != 0)
		return rc;
	tf_config_free(cli->ctx.cfg);
	cli->ctx.cfg = cfg;
	/* the client key is a key file: the vault keeps it, the log its reference */
	if (cfg->client_key != NULL) {
		char *key = change_abspath(cli, cfg->client_key);

		vault_add_key_path(&cli->ctx, key);
		free(key);
	}
	return 0;
}

int
cmd_help(struct cli *cli, int argc, char **argv)
{
	const struct command *c;
	size_t i;

	if (argc > 2)
		return cli_usage(cli, "help", "too many arguments");
	if (argc == 2) {
		if ((c = cli_command(argv[1])) == NULL)
			return cli_usage(cli, NULL, "unknown command '%s'", argv[1]);
		printf("trustfix %s - %s\n\nusage: trustfix [global options] %s\n", c->name,
		    c->summary, c->usage);
		return 0;
	}
	printf("trustfix - inspect and repair the trust of network and security appliances\n\n"
	       "%s\n"
	       "Global options:\n"
	       "  --root DIR      every path of the managed system is taken inside DIR\n"
	       "  --config FILE   configuration file (default %s, under --root)\n"
	       "  --json          machine-readable output\n"
	       "  -q, --quiet     print only errors\n"
	       "  -v, --verbose   say more\n"
	       "  --version       show the version and the linked libraries\n\n"
	       "Commands:\n",
	    global_usage, TF_DEFAULT_CONFIG);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-10s  %s\n", commands[i].name, commands[i].summary);
	printf("\nSee 'trustfix help COMMAND' and trustfix(1).\n");
	return 0;
}

/* The command line, each word quoted for a shell when it needs to be. */
static char *
quote_command(int argc, char **argv)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "0123456789_./:=@%+,-";
	char *s = tf_strdup("trustfix"), *w, *t;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (*a != '\0' && strspn(a, plain) == strlen(a)) {
			w = tf_strdup(a);
		} else {
			size_t n = 2, k = 0;
			const char *p;

			for (p = a; *p; p++)
				n += *p == '\'' ? 4 : 1;
			w = tf_malloc(n + 1);
			w[k++] = '\'';
			for (p = a; *p; p++) {
				if (*p == '\'') {
					memcpy(w + k, "'\\''", 4);
					k += 4;
				} else {
					w[k++] = *p;
				}
			}
			w[k++] = '\'';
			w[k] = '\0';
		}
		t = tf_asprintf("%s %s", s, w);
		free(s);
		free(w);
		s = t;
	}
	return s;
}

static int
finish(struct cli *cli, int rc)
{
	/* a full disk or a closed pipe must not pass for success */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc >= 0 && rc != TF_EXIT_USAGE)
			tf_error_sys(&cli->ctx, TF_EIO, "cannot write to standard output");
		rc = TF_EIO;
	}
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", cli->prog,
		    cli->ctx.errmsg[0] ? cli->ctx.errmsg : "internal error");
		rc = (int)tf_exit_status(rc);
	}
	tf_config_free(cli->ctx.cfg);
	tf_ctx_release(&cli->ctx);
	free(cli->cmdline);
	statcache_free(cli->statcache);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		CLI_COMMON_OPTIONS,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd;
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
	struct cli cli;
	int c, rc;

	memset(&cli, 0, sizeof(cli));
	tf_ctx_init(&cli.ctx);
	cli.prog = "trustfix";
	cli.config_path = TF_DEFAULT_CONFIG;
	cli.color = isatty(STDOUT_FILENO) && (nc == NULL || *nc == '\0') &&
	    (term == NULL || strcmp(term, "dumb") != 0);
	cli.ctx.cfg = tf_config_new();
	cli.cmdline = quote_command(argc, argv);

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if ((rc = tf_ctx_set_root(&cli.ctx, optarg)) != 0)
				return finish(&cli, rc);
			break;
		case 'c':
			cli.config_path = optarg;
			cli.config_given = true;
			break;
		case 'h':
			return finish(&cli, cmd_help(&cli, 1, argv));
		case 'V':
			return finish(&cli, cmd_version(&cli, 1, argv));
		case '?':
			return finish(&cli,
			    cli_usage(&cli, NULL, "unknown option '%s'", argv[optind - 1]));
		default:
			if (cli_common_option(&cli, NULL, c, optarg) < 0)
				return finish(&cli, TF_EXIT_USAGE);
			break;
		}
	}
	if (optind >= argc)
		return finish(&cli, cli_usage(&cli, NULL, "no command given"));
	if ((cmd = cli_command(argv[optind])) == NULL)
		return finish(&cli, cli_usage(&cli, NULL, "unknown command '%s'", argv[optind]));
	if (strcmp(cmd->name, "help") != 0 && strcmp(cmd->name, "version") != 0 &&
	    (rc = cli_load_config(&cli)) != 0)
		return finish(&cli, rc);
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: restart option parsing for the command */
	return finish(&cli, cmd->run(&cli, argc, argv));
}
