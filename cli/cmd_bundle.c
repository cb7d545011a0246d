/*
 * cli/cmd_bundle.c - "trustfix bundle create|verify|stage|list": publish a
 * signed root bundle, check one offline, keep one staged for "apply", and
 * list what is staged and installed.
 */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../bundles/bundle.h"
#include "../core/certinfo.h"
#include "../core/path.h"
#include "cli.h"
#include "output.h"

#define DAY 86400

static const char *const status_names[] = { "new", "upgrade", "downgrade", "installed" };

/* Parse "SHA256[=NAME]" (colons in the fingerprint accepted) into 'r'. */
static int
parse_ref(struct cli *cli, const char *cmd, const char *arg, struct bundle_ref *r)
{
	const char *eq = strchr(arg, '='), *p, *end = eq != NULL ? eq : arg + strlen(arg);
	char hex[65];
	size_t k = 0;

	for (p = arg; p < end && k < 64; p++)
		if (*p != ':')
			hex[k++] = *p;
	hex[k] = '\0';
	if (p != end || k != 64 || tf_unhex(r->sha256, 32, hex) == -1)
		return cli_usage(cli, cmd, "'%s' is not a SHA-256 fingerprint (64 hex digits)",
		           arg),
		       -1;
	r->name = eq != NULL && eq[1] != '\0' ? (char *)eq + 1 : NULL;
	r->reason = NULL;
	return 0;
}

/*
 * Open the bundle an argument names: a file (read as given) when it names
 * one or holds a slash, else a staged bundle of that name; with no argument,
 * the one bundle staged.
 */
int
bundle_cli_open(struct cli *cli, const char *cmd, const char *arg, struct bundle **out)
{
	struct bundle_listing *v = NULL;
	struct stat st;
	size_t n = 0, i, staged = 0;
	const char *only = NULL;
	int rc;

	*out = NULL;
	if (arg != NULL && (strchr(arg, '/') != NULL || stat(arg, &st) == 0))
		return bundle_open_file(out, &cli->ctx, arg);
	if (arg != NULL)
		return bundle_open_staged(out, &cli->ctx, arg);
	if ((rc = bundle_list(&v, &n, &cli->ctx)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (!v[i].installed) {
			staged++;
			only = v[i].name;
		}
	}
	if (staged == 1)
		rc = bundle_open_staged(out, &cli->ctx, only);
	else
		rc = cli_usage(cli, cmd,
		    staged == 0
		        ? "no bundle is staged: name a bundle file"
		        : "several bundles are staged: name one (see 'trustfix bundle list')");
	bundle_listing_free(v, n);
	return rc;
}

static json_t *
refs_json(const struct bundle_ref *v, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr,
		    json_pack("{s:o,s:o}", "sha256", out_jhex(v[i].sha256, 32), "name",
		        out_jstr(v[i].name)));
	return arr;
}

static void
print_refs(const char *title, const char *mark, const struct bundle_ref *v, size_t n)
{
	char hex[65];
	size_t i;

	if (n > 0)
		printf("  %s:\n", title);
	for (i = 0; i < n; i++) {
		tf_hex(hex, v[i].sha256, 32);
		printf("    %s%s (%.16s)\n", mark, v[i].name, hex);
	}
}

/* What a verified bundle is and would do: a table, or with --json one document. */
void
bundle_cli_print(struct cli *cli, const struct bundle *b)
{
	const struct bundle_manifest *m = bundle_manifest(b);
	const char *ssha, *signer = bundle_signer(b, &ssha);
	long long installed;
	enum bundle_status st = bundle_status(b, &installed);
	char created[32], expires[32], hex[65];
	size_t i;

	if (cli->format == OUT_JSON) {
		json_t *doc = json_object(), *add = json_array();

		for (i = 0; i < m->nadd; i++)
			json_array_append_new(add,
			    json_pack("{s:o,s:o,s:o}", "sha256", out_jhex(m->add[i].sha256, 32),
			        "name", out_jstr(m->add[i].name), "file",
			        out_jstr(m->add[i].file)));
		json_object_set_new(doc, "file", out_jstr(bundle_origin(b)));
		json_object_set_new(doc, "name", out_jstr(m->name));
		json_object_set_new(doc, "version", json_integer(m->version));
		json_object_set_new(doc, "status", json_string(status_names[st]));
		json_object_set_new(doc, "installed_version",
		    installed > 0 ? json_integer(installed) : json_null());
		json_object_set_new(doc, "signer",
		    json_pack("{s:o,s:s}", "subject", out_jstr(signer), "sha256", ssha));
		json_object_set_new(doc, "manifest_sha256", json_string(bundle_manifest_sha256(b)));
		json_object_set_new(doc, "created", out_jtime(m->created));
		json_object_set_new(doc, "expires", out_jtime(m->expires));
		json_object_set_new(doc, "description", out_jstr(m->description));
		json_object_set_new(doc, "add", add);
		json_object_set_new(doc, "remove", refs_json(m->remove, m->nremove));
		json_object_set_new(doc, "require", refs_json(m->require, m->nrequire));
		out_emit(stdout, doc);
		fputc('\n', stdout);
		return;
	}
	if (cli->ctx.verbosity < 0)
		return;
	tf_time_iso(created, sizeof(created), m->created);
	tf_time_iso(expires, sizeof(expires), m->expires);
	printf("bundle %s version %lld: %sverified%s\n", m->name, m->version,
	    cli_color(cli, "green"), cli_color(cli, "reset"));
	printf("  file:      %s\n", bundle_origin(b));
	printf("  signer:    %s (%.16s)\n", signer, ssha);
	printf("  created:   %s\n  expires:   %s\n", created, expires);
	if (m->description != NULL)
		printf("  about:     %s\n", m->description);
	switch (st) {
	case BUNDLE_NEW:
		printf("  installed: none (a new bundle)\n");
		break;
	case BUNDLE_UPGRADE:
		printf("  installed: version %lld (this is an upgrade)\n", installed);
		break;
	case BUNDLE_DOWNGRADE:
		printf("  installed: version %lld (this is a DOWNGRADE, allowed by "
		       "--allow-downgrade)\n",
		    installed);
		break;
	case BUNDLE_INSTALLED:
		printf("  installed: this version\n");
		break;
	}
	if (m->nadd > 0)
		printf("  adds:\n");
	for (i = 0; i < m->nadd; i++) {
		tf_hex(hex, m->add[i].sha256, 32);
		printf("    %s+ %s%s (%.16s)\n", cli_color(cli, "green"), m->add[i].name,
		    cli_color(cli, "reset"), hex);
	}
	print_refs("removes (decommissioned)", "- ", m->remove, m->nremove);
	print_refs("requires", "", m->require, m->nrequire);
}

static int
sub_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "version", required_argument, NULL, 'V' },
		{ "signer-cert", required_argument, NULL, 'C' },
		{ "signer-key", required_argument, NULL, 'K' },
		{ "signer-key-password-file", required_argument, NULL, 'P' },
		{ "add", required_argument, NULL, 'a' },
		{ "remove", required_argument, NULL, 'r' },
		{ "require", required_argument, NULL, 'R' },
		{ "description", required_argument, NULL, 'D' },
		{ "created", required_argument, NULL, 'c' },
		{ "expires", required_argument, NULL, 'e' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct bundle_create_opts o = { 0 };
	struct bundle_ref *rm = NULL, *rq = NULL;
	const char **add = NULL;
	const char *expires = NULL, *created = NULL;
	long v;
	int c, rc = TF_EXIT_USAGE;

	o.created = cli->ctx.now;
	while ((c = getopt_long(argc, argv, "o:qv", opts, NULL)) != -1) {
		switch (c) {
		case 'N':
			o.name = optarg;
			break;
		case 'V':
			if (tf_parse_int(optarg, 1, LONG_MAX, &v) == -1) {
				cli_usage(cli, "bundle",
				    "bad --version '%s' (a whole number from 1)", optarg);
				goto out;
			}
			o.version = v;
			break;
		case 'C':
			o.signer_cert = optarg;
			break;
		case 'K':
			o.signer_key = optarg;
			break;
		case 'P':
			o.key_password_file = optarg;
			break;
		case 'a':
			add = tf_realloc(add, (o.nadd + 1) * sizeof(*add));
			add[o.nadd++] = optarg;
			break;
		case 'r':
			rm = tf_realloc(rm, (o.nremove + 1) * sizeof(*rm));
			if (parse_ref(cli, "bundle", optarg, &rm[o.nremove++]) == -1)
				goto out;
			break;
		case 'R':
			rq = tf_realloc(rq, (o.nrequire + 1) * sizeof(*rq));
			if (parse_ref(cli, "bundle", optarg, &rq[o.nrequire++]) == -1)
				goto out;
			break;
		case 'D':
			o.description = optarg;
			break;
		case 'c':
			created = optarg;
			break;
		case 'e':
			expires = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case '?':
			cli_usage(cli, "bundle", "unknown option '%s' for 'bundle create'",
			    argv[optind - 1]);
			goto out;
		default:
			if (cli_common_option(cli, "bundle", c, optarg) <= 0)
				goto out;
			break;
		}
	}
	if (optind < argc) {
		cli_usage(cli, "bundle", "unexpected argument '%s' (certificates go with --add)",
		    argv[optind]);
		goto out;
	}
	if (o.name == NULL || o.version == 0 || o.signer_cert == NULL || o.signer_key == NULL ||
	    o.output == NULL) {
		cli_usage(cli, "bundle",
		    "bundle create needs --name, --version, --signer-cert, --signer-key and -o");
		goto out;
	}
	if (created != NULL && bundle_time_parse(created, true, &o.created) == -1) {
		cli_usage(cli, "bundle", "bad --created '%s' (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
		    created);
		goto out;
	}
	o.expires = o.created + 365 * DAY;
	if (expires != NULL && bundle_time_parse(expires, true, &o.expires) == -1) {
		cli_usage(cli, "bundle", "bad --expires '%s' (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
		    expires);
		goto out;
	}
	o.add = add;
	o.remove = rm;
	o.require = rq;
	if ((rc = bundle_create(&cli->ctx, &o)) != 0)
		goto out;
	if (cli->format == OUT_JSON) {
		out_emit(stdout,
		    json_pack("{s:o,s:o,s:I}", "file", out_jstr(o.output), "name", out_jstr(o.name),
		        "version", (json_int_t)o.version));
		fputc('\n', stdout);
	} else if (cli->ctx.verbosity >= 0) {
		printf(
		    "wrote %s: bundle %s version %lld (%zu to add, %zu to remove, %zu required)\n",
		    o.output, o.name, o.version, o.nadd, o.nremove, o.nrequire);
	}
	rc = 0;
out:
	free(add);
	free(rm);
	free(rq);
	return rc;
}

/* verify and stage share their options. */
struct check_opts {
	struct bundle_verify_opts v;
	const char *ca_file;
	const char *arg;
};

static int
parse_check(struct cli *cli, const char *sub, int argc, char **argv, struct check_opts *o)
{
	static const struct option opts[] = {
		{ "signers", required_argument, NULL, 'S' },
		{ "allow-downgrade", no_argument, NULL, 'D' },
		{ "ca-file", required_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "qv", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			o->v.signers = optarg;
			break;
		case 'D':
			o->v.allow_downgrade = true;
			break;
		case 'A':
			if (strcmp(sub, "stage") != 0)
				goto unknown;
			o->ca_file = optarg;
			break;
		case '?':
			goto unknown;
		default:
			if (cli_common_option(cli, "bundle", c, optarg) <= 0)
				return -1;
			break;
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "bundle", "bundle %s takes one bundle: %s", sub,
		           strcmp(sub, "stage") == 0 ? "a file or an https:// URL"
		                                     : "a file or a staged bundle's name"),
		       -1;
	o->arg = argv[optind];
	return 0;
unknown:
	return cli_usage(cli, "bundle", "unknown option '%s' for 'bundle %s'", argv[optind - 1],
	           sub),
	       -1;
}

static int
sub_verify(struct cli *cli, int argc, char **argv)
{
	struct check_opts o;
	struct bundle *b = NULL;
	int rc;

	if (parse_check(cli, "verify", argc, argv, &o) == -1)
		return TF_EXIT_USAGE;
	if ((rc = bundle_cli_open(cli, "bundle", o.arg, &b)) != 0 ||
	    (rc = bundle_verify(b, &cli->ctx, &o.v)) != 0)
		goto out;
	bundle_cli_print(cli, b);
	if (bundle_status(b, NULL) == BUNDLE_INSTALLED) {
		if (cli->format != OUT_JSON && cli->ctx.verbosity >= 0)
			printf("nothing to do: this bundle is installed already\n");
		rc = TF_EXIT_NOTHING;
	}
out:
	bundle_free(b);
	return rc;
}

static int
sub_stage(struct cli *cli, int argc, char **argv)
{
	const struct bundle_manifest *m;
	struct check_opts o;
	struct bundle *b = NULL;
	unsigned char *data = NULL;
	size_t len;
	char *where = NULL;
	bool same;
	int rc;

	if (parse_check(cli, "stage", argc, argv, &o) == -1)
		return TF_EXIT_USAGE;
	if (strncmp(o.arg, "https://", 8) == 0 || strncmp(o.arg, "http://", 7) == 0) {
		if ((rc = bundle_fetch(&cli->ctx, o.arg, o.ca_file, BUNDLE_ARCHIVE_MAX, &data,
		         &len)) != 0 ||
		    (rc = bundle_open_mem(&b, &cli->ctx, data, len, o.arg)) != 0)
			goto out;
	} else if ((rc = bundle_open_file(&b, &cli->ctx, o.arg)) != 0) {
		goto out;
	}
	if ((rc = bundle_verify(b, &cli->ctx, &o.v)) != 0)
		goto out;
	m = bundle_manifest(b);
	if (bundle_status(b, NULL) == BUNDLE_INSTALLED) {
		if (cli->format == OUT_JSON) {
			out_emit(stdout,
			    json_pack("{s:o,s:I,s:b}", "name", out_jstr(m->name), "version",
			        (json_int_t)m->version, "installed", 1));
			fputc('\n', stdout);
		} else if (cli->ctx.verbosity >= 0) {
			printf("nothing to do: bundle %s version %lld is installed already\n",
			    m->name, m->version);
		}
		rc = TF_EXIT_NOTHING;
		goto out;
	}
	if ((rc = bundle_stage(b, &cli->ctx, &same)) != 0)
		goto out;
	where = tf_hostpath(&cli->ctx, BUNDLE_STAGING_DIR);
	if (cli->format == OUT_JSON) {
		out_emit(stdout,
		    json_pack("{s:o,s:I,s:b,s:b,s:o}", "name", out_jstr(m->name), "version",
		        (json_int_t)m->version, "installed", 0, "already_staged", same, "staging",
		        out_jstr(where)));
		fputc('\n', stdout);
	} else if (cli->ctx.verbosity >= 0) {
		if (same)
			printf("nothing to do: bundle %s version %lld is staged already\n", m->name,
			    m->version);
		else
			printf(
			    "staged bundle %s version %lld in %s/%s\napply it with: trustfix apply "
			    "%s\n",
			    m->name, m->version, where, m->name, m->name);
	}
	rc = same ? TF_EXIT_NOTHING : 0;
out:
	free(where);
	free(data);
	bundle_free(b);
	return rc;
}

static int
sub_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct bundle_listing *v = NULL;
	char created[32], expires[32], applied[32];
	size_t n = 0, i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "qv", opts, NULL)) != -1) {
		if (c == '?')
			return cli_usage(cli, "bundle", "unknown option '%s' for 'bundle list'",
			    argv[optind - 1]);
		if (cli_common_option(cli, "bundle", c, optarg) <= 0)
			return TF_EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage(cli, "bundle", "unexpected argument '%s'", argv[optind]);
	if ((rc = bundle_list(&v, &n, &cli->ctx)) != 0)
		return rc;
	if (cli->format == OUT_JSON) {
		json_t *staged = json_array(), *installed = json_array(), *e;

		for (i = 0; i < n; i++) {
			e = json_pack("{s:o,s:I,s:o,s:o,s:s}", "name", out_jstr(v[i].name),
			    "version", (json_int_t)v[i].version, "created", out_jtime(v[i].created),
			    "expires", out_jtime(v[i].expires), "manifest_sha256",
			    v[i].manifest_sha256);
			if (v[i].installed) {
				json_object_set_new(e, "applied", out_jtime(v[i].applied));
				json_object_set_new(e, "signer", out_jstr(v[i].signer));
				json_object_set_new(e, "downgrade", json_boolean(v[i].downgrade));
			}
			json_array_append_new(v[i].installed ? installed : staged, e);
		}
		out_emit(stdout, json_pack("{s:o,s:o}", "installed", installed, "staged", staged));
		fputc('\n', stdout);
	} else if (cli->ctx.verbosity >= 0) {
		if (n == 0)
			printf("no bundle is staged or installed\n");
		else
			printf("%-32s %8s  %-10s %-10s  %-10s  %s\n", "NAME", "VERSION", "STATE",
			    "CREATED", "EXPIRES", "APPLIED");
		for (i = 0; i < n; i++) {
			tf_time_iso(created, sizeof(created), v[i].created);
			tf_time_iso(expires, sizeof(expires), v[i].expires);
			tf_time_iso(applied, sizeof(applied), v[i].applied);
			created[10] = expires[10] = '\0';
			printf("%-32s %8lld  %-10s %-10s  %-10s  %s%s\n", v[i].name, v[i].version,
			    v[i].installed ? "installed" : "staged", created, expires,
			    v[i].installed ? applied : "-", v[i].downgrade ? " (downgrade)" : "");
		}
	}
	bundle_listing_free(v, n);
	return 0;
}

int
cmd_bundle(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
	} subs[] = {
		{ "create", sub_create },
		{ "list", sub_list },
		{ "stage", sub_stage },
		{ "verify", sub_verify },
	};
	size_t i;

	if (argc < 2)
		return cli_usage(cli, "bundle", "name a subcommand: create, verify, stage or list");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return cmd_help(cli, 2, (char *[]){ "help", "bundle", NULL });
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(cli, argc - 1, argv + 1);
	return cli_usage(cli, "bundle", "unknown subcommand '%s' (create, verify, stage or list)",
	    argv[1]);
}
