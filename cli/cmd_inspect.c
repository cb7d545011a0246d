/*
 * cli/cmd_inspect.c - "trustfix inspect": read each store and the client
 * certificate, print what is there and what is wrong, as a table, one JSON
 * document or Prometheus metrics. Exit 0 compliant, 1 findings.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../bundles/bundle.h"
#include "../core/path.h"
#include "../renew/renew.h"
#include "../truststore/truststore.h"
#include "cli.h"
#include "output.h"

struct inspect {
	struct cli *cli;
	struct client_check *client;
	const char *store; /* the store being scanned */
	size_t nstore;     /* certificates printed for it */
};

/*
 * The JSON of one certificate, made on a decoding thread of the scan (see
 * struct truststore_visitor): it reads only the certificate and the
 * run's clock. The same document jansson would write for these keys.
 */
static void *
prepare_cert(const struct tf_cert *c, void *arg)
{
	const struct inspect *in = arg;
	const struct tf_certinfo *ci = &c->info;
	struct out_buf b = { 0 };
	char hex[65], date[32];

	if (in->cli->format != OUT_JSON)
		return NULL;
	b.cap = 1024; /* most certificates fit: one allocation */
	b.p = tf_malloc(b.cap);
	tf_hex(hex, ci->sha256, 32);
	out_buf_adds(&b, "{\"subject\":");
	out_buf_jstr(&b, ci->subject);
	out_buf_adds(&b, ",\"issuer\":");
	out_buf_jstr(&b, ci->issuer);
	out_buf_adds(&b, ",\"serial\":");
	out_buf_jstr(&b, ci->serial);
	out_buf_adds(&b, ",\"sha256\":\"");
	out_buf_adds(&b, hex);
	out_buf_adds(&b, "\",\"not_before\":");
	tf_time_iso(date, sizeof(date), ci->not_before);
	out_buf_jstr(&b, date);
	out_buf_adds(&b, ",\"not_after\":");
	tf_time_iso(date, sizeof(date), ci->not_after);
	out_buf_jstr(&b, date);
	out_buf_adds(&b, ",\"days_left\":");
	out_buf_int(&b, out_days_left(ci->not_after, in->cli->ctx.now));
	out_buf_adds(&b, ",\"key_type\":");
	out_buf_jstr(&b, ci->key_type);
	out_buf_adds(&b, ",\"key_bits\":");
	out_buf_int(&b, ci->key_bits);
	out_buf_adds(&b, ",\"signature_algorithm\":");
	out_buf_jstr(&b, ci->sig_alg);
	out_buf_adds(&b, ",\"version\":");
	out_buf_int(&b, ci->version);
	out_buf_adds(&b, ci->is_ca ? ",\"is_ca\":true" : ",\"is_ca\":false");
	out_buf_adds(&b, ci->is_self_signed ? ",\"self_signed\":true" : ",\"self_signed\":false");
	out_buf_adds(&b, ",\"source\":{\"file\":");
	out_buf_jstr(&b, c->file);
	if (c->line > 0) {
		out_buf_adds(&b, ",\"line\":");
		out_buf_int(&b, c->line);
	}
	if (c->link != NULL) {
		out_buf_adds(&b, ",\"link\":");
		out_buf_jstr(&b, c->link);
	}
	out_buf_adds(&b, "}}");
	return b.p;
}

/* One certificate, in store order, on the main thread. */
static int
emit_cert(const struct tf_cert *c, void *prepared, void *arg)
{
	struct inspect *in = arg;
	struct cli *cli = in->cli;
	const struct tf_certinfo *ci = &c->info;
	char hex[65], date[32];
	long long days = out_days_left(ci->not_after, cli->ctx.now);

	if (in->client != NULL)
		client_check_offer(in->client, ci->subject_der, ci->subject_der_len, c->der,
		    ci->der_len);
	switch (cli->format) {
	case OUT_JSON:
		fputs(in->nstore > 0 ? ",\n" : "\n", stdout);
		fputs(prepared, stdout);
		break;
	case OUT_PROMETHEUS:
		tf_hex(hex, ci->sha256, 32);
		fputs("trustfix_certificate_not_after_seconds{store=", stdout);
		out_prom_label(stdout, in->store);
		printf(",sha256=\"%s\",subject=", hex);
		out_prom_label(stdout, ci->subject);
		/* where it is: a certificate listed twice is two series, not one twice */
		fputs(",source=", stdout);
		if (c->link != NULL) {
			out_prom_label(stdout, c->link);
		} else {
			char line[32] = "";

			if (c->line > 0)
				snprintf(line, sizeof(line), ":%ld", c->line);
			fputc('"', stdout);
			out_prom_label_body(stdout, c->file);
			fputs(line, stdout);
			fputc('"', stdout);
		}
		printf("} %lld\n", (long long)ci->not_after);
		break;
	case OUT_TABLE:
		if (cli->ctx.verbosity < 0)
			break;
		tf_hex(hex, ci->sha256, 32);
		tf_time_iso(date, sizeof(date), ci->not_after);
		date[10] = '\0';
		printf("  %.16s  %s  %s%6lld%s  %-3s %-5d  %s\n", hex, date,
		    cli_color(cli,
		        days < 0                             ? "red"
		            : days < cli->ctx.cfg->warn_days ? "yellow"
		                                             : ""),
		    days, cli_color(cli, "reset"), ci->key_type, ci->key_bits, ci->subject);
		break;
	}
	in->nstore++;
	return 0;
}

static void
print_client_table(struct cli *cli, const char *path, const struct client_report *r)
{
	char date[32], due[32];
	long long days = out_days_left(r->not_after, cli->ctx.now);

	tf_time_iso(date, sizeof(date), r->not_after);
	tf_time_iso(due, sizeof(due), r->renew_at);
	printf("\n%sclient certificate%s %s\n", cli_color(cli, "bold"), cli_color(cli, "reset"),
	    path);
	printf("  subject:   %s\n  issuer:    %s\n  serial:    %s\n", r->subject, r->issuer,
	    r->serial);
	printf("  expires:   %s (%lld days %s)\n", date, days < 0 ? -days : days,
	    days < 0 ? "ago" : "left");
	printf("  renewal:   %s %s\n", r->renewal_due ? "due since" : "due at", due);
	printf("  key:       %s\n",
	    !r->has_key          ? "not checked (no key given)"
	        : r->key_matches ? "matches"
	                         : "DOES NOT MATCH");
	printf("  chain:     %s%s\n",
	    r->chain_valid ? "valid against the inspected stores" : "INVALID: ",
	    r->chain_valid ? "" : r->chain_error);
}

static json_t *
client_json(struct cli *cli, const char *path, const struct client_report *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "path", out_jstr(path));
	json_object_set_new(o, "subject", out_jstr(r->subject));
	json_object_set_new(o, "issuer", out_jstr(r->issuer));
	json_object_set_new(o, "serial", json_string(r->serial));
	json_object_set_new(o, "sha256", out_jhex(r->sha256, 32));
	json_object_set_new(o, "not_before", out_jtime(r->not_before));
	json_object_set_new(o, "not_after", out_jtime(r->not_after));
	json_object_set_new(o, "days_left",
	    json_integer(out_days_left(r->not_after, cli->ctx.now)));
	json_object_set_new(o, "renew_at", out_jtime(r->renew_at));
	json_object_set_new(o, "renewal_due", json_boolean(r->renewal_due));
	json_object_set_new(o, "key_matches",
	    r->has_key ? json_boolean(r->key_matches) : json_null());
	json_object_set_new(o, "chain_valid", json_boolean(r->chain_valid));
	json_object_set_new(o, "chain_error", out_jstr(r->chain_error));
	return o;
}

/*
 * The JSON of one finding into 'b' (emptied first): text, not a jansson
 * object, as a store of 100,000 certificates can have as many findings.
 */
static void
finding_json(struct out_buf *b, const struct tf_finding *f)
{
	char hex[65];

	b->len = 0;
	out_buf_adds(b, "{\"kind\":");
	out_buf_jstr(b, tf_finding_kind_name(f->kind));
	out_buf_adds(b, ",\"sha256\":");
	if (f->has_sha256) {
		tf_hex(hex, f->sha256, 32);
		out_buf_jstr(b, hex);
	} else {
		out_buf_jstr(b, NULL);
	}
	out_buf_adds(b, ",\"subject\":");
	out_buf_jstr(b, f->subject);
	out_buf_adds(b, ",\"store\":");
	out_buf_jstr(b, f->store);
	out_buf_adds(b, ",\"where\":");
	out_buf_jstr(b, f->where);
	out_buf_adds(b, ",\"message\":");
	out_buf_jstr(b, f->message);
	out_buf_adds(b, ",\"action\":");
	out_buf_jstr(b, f->action);
	out_buf_adds(b, "}");
}

static void
print_findings_table(struct cli *cli, const struct tf_findings *fs)
{
	size_t i;

	if (fs->n == 0) {
		printf("\n%scompliant%s: no findings\n", cli_color(cli, "green"),
		    cli_color(cli, "reset"));
		return;
	}
	printf("\n%sfindings%s\n", cli_color(cli, "bold"), cli_color(cli, "reset"));
	for (i = 0; i < fs->n; i++) {
		const struct tf_finding *f = &fs->v[i];
		char hex[65] = "";

		if (f->has_sha256)
			tf_hex(hex, f->sha256, 32);
		printf("  %s%-20s%s %.16s  %s\n", cli_color(cli, "red"),
		    tf_finding_kind_name(f->kind), cli_color(cli, "reset"),
		    f->has_sha256 ? hex : "-", f->subject ? f->subject : "");
		if (f->where != NULL)
			printf("      at:   %s\n", f->where);
		printf("      what: %s\n", f->message);
		if (f->action != NULL)
			printf("      do:   %s\n", f->action);
	}
	printf("\n%zu finding%s: remediation needed\n", fs->n, fs->n == 1 ? "" : "s");
}

static void
print_prom_summary(const struct tf_findings *fs)
{
	size_t counts[TF_F_NKINDS] = { 0 }, i;

	for (i = 0; i < fs->n; i++)
		counts[fs->v[i].kind]++;
	printf("# HELP trustfix_findings Findings of the last inspection, by kind.\n"
	       "# TYPE trustfix_findings gauge\n");
	for (i = 0; i < TF_F_NKINDS; i++)
		printf("trustfix_findings{kind=\"%s\"} %zu\n", tf_finding_kind_name((int)i),
		    counts[i]);
	printf("# HELP trustfix_compliant 1 when the inspection found nothing to remediate.\n"
	       "# TYPE trustfix_compliant gauge\ntrustfix_compliant %d\n",
	    fs->n == 0);
}

int
cmd_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client-cert", required_argument, NULL, 'C' },
		{ "client-key", required_argument, NULL, 'K' },
		{ "client-chain", required_argument, NULL, 'H' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "warn-days", required_argument, NULL, 'w' },
		{ "format", required_argument, NULL, 'F' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct tf_ctx *ctx = &cli->ctx;
	struct tf_config *cfg = ctx->cfg;
	const char *client_cert = cfg->client_cert, *client_key = cfg->client_key;
	const char *client_chain = cfg->client_chain, *password_file = NULL;
	struct truststore **stores = NULL;
	struct tf_policy *policy = NULL;
	struct tf_findings findings = { 0 };
	struct truststore_checks checks;
	struct truststore_stats stats;
	struct client_report report = { 0 };
	struct inspect in = { .cli = cli };
	struct truststore_visitor visitor = { prepare_cert, emit_cert, &in };
	struct out_buf text = { 0 };
	const char **paths = NULL;
	char *password = NULL;
	size_t npaths = 0, i;
	long v;
	int c, rc = 0, r;

	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			client_cert = optarg;
			break;
		case 'K':
			client_key = optarg;
			break;
		case 'H':
			client_chain = optarg;
			break;
		case 'P':
			password_file = optarg;
			break;
		case 'w':
			if (tf_parse_int(optarg, 0, 3650, &v) == -1)
				return cli_usage(cli, "inspect", "bad --warn-days '%s' (0 to 3650)",
				    optarg);
			cfg->warn_days = (int)v;
			break;
		case 'h':
			return cmd_help(cli, 2, (char *[]){ "help", "inspect", NULL });
		case '?':
			return cli_usage(cli, "inspect", "unknown option '%s'", argv[optind - 1]);
		default:
			if ((r = cli_common_option(cli, "inspect", c, optarg)) <= 0)
				return TF_EXIT_USAGE;
			break;
		}
	}
	if (client_key != NULL && client_cert == NULL)
		return cli_usage(cli, "inspect", "--client-key needs --client-cert");
	if (optind < argc) {
		npaths = (size_t)(argc - optind);
		paths = tf_calloc(npaths, sizeof(*paths));
		for (i = 0; i < npaths; i++)
			paths[i] = argv[optind + (int)i];
	} else {
		npaths = cfg->nstores;
		paths = tf_calloc(npaths, sizeof(*paths));
		for (i = 0; i < npaths; i++)
			paths[i] = cfg->stores[i].path;
	}
	if (npaths == 0 && client_cert == NULL) {
		free(paths);
		return cli_usage(cli, "inspect",
		    "no store to inspect: name one, or add a [store NAME] section to the "
		    "configuration");
	}

	if ((rc = bundle_policy_load(&policy, ctx, cfg->policy)) != 0)
		goto out;
	if (password_file != NULL && (rc = cli_read_password(cli, password_file, &password)) != 0)
		goto out;
	/* open everything first: an unreadable argument is an error before any output */
	stores = tf_calloc(npaths ? npaths : 1, sizeof(*stores));
	for (i = 0; i < npaths; i++)
		if ((rc = truststore_open(&stores[i], ctx, paths[i], password)) != 0)
			goto out;
	if (client_cert != NULL &&
	    (rc = client_check_open(&in.client, ctx, client_cert, client_key, client_chain)) != 0)
		goto out;

	checks.policy = policy;
	checks.warn_days = cfg->warn_days;
	checks.now = ctx->now;
	if (cli->format == OUT_JSON) {
		printf("{\"version\":1,\"time\":");
		out_emit(stdout, out_jtime(ctx->now));
		printf(",\"policy\":{\"name\":");
		out_emit(stdout, out_jstr(policy->name));
		printf(",\"source\":");
		out_emit(stdout, out_jstr(policy->source));
		printf("},\"stores\":[");
	} else if (cli->format == OUT_PROMETHEUS) {
		printf("# HELP trustfix_certificate_not_after_seconds Expiry of each certificate "
		       "of each trust store, as a Unix time.\n"
		       "# TYPE trustfix_certificate_not_after_seconds gauge\n");
	}
	for (i = 0; i < npaths; i++) {
		in.store = paths[i];
		in.nstore = 0;
		if (cli->format == OUT_JSON) {
			printf("%s{\"path\":", i > 0 ? "," : "");
			out_emit(stdout, out_jstr(paths[i]));
			printf(",\"format\":\"%s\",\"certificates\":[",
			    truststore_format_name(truststore_format(stores[i])));
		} else if (cli->format == OUT_TABLE && ctx->verbosity >= 0) {
			printf("%s%sstore%s %s (%s)\n  %-16s  %-10s  %6s  %-9s  %s\n",
			    i > 0 ? "\n" : "", cli_color(cli, "bold"), cli_color(cli, "reset"),
			    paths[i], truststore_format_name(truststore_format(stores[i])),
			    "SHA-256", "NOT AFTER", "DAYS", "KEY", "SUBJECT");
		}
		rc = truststore_scan_visit(stores[i], &checks, &findings, &stats, &visitor);
		if (rc != 0)
			goto out;
		if (cli->format == OUT_JSON)
			printf("],\"count\":%zu,\"skipped\":%zu}", stats.certificates,
			    stats.skipped);
		else if (cli->format == OUT_TABLE && ctx->verbosity >= 0)
			printf("  %zu certificate%s%s\n", stats.certificates,
			    stats.certificates == 1 ? "" : "s",
			    stats.skipped ? " (and entries without a certificate, skipped)" : "");
	}
	if (in.client != NULL &&
	    (rc = client_check_finish(in.client, cfg->renew_before_days,
	         cfg->renew_lifetime_fraction, &findings, &report)) != 0)
		goto out;

	switch (cli->format) {
	case OUT_JSON:
		printf("],\"client\":");
		out_emit(stdout,
		    in.client != NULL ? client_json(cli, client_cert, &report) : json_null());
		printf(",\"findings\":[");
		for (i = 0; i < findings.n; i++) {
			finding_json(&text, &findings.v[i]);
			fputs(i > 0 ? ",\n" : "\n", stdout);
			fputs(text.p, stdout);
		}
		printf("],\"compliant\":%s}\n", findings.n == 0 ? "true" : "false");
		break;
	case OUT_PROMETHEUS:
		if (in.client != NULL) {
			printf("# HELP trustfix_client_certificate_not_after_seconds Expiry of the "
			       "client certificate, as a Unix time.\n"
			       "# TYPE trustfix_client_certificate_not_after_seconds gauge\n"
			       "trustfix_client_certificate_not_after_seconds{path=");
			out_prom_label(stdout, client_cert);
			printf("} %lld\n", (long long)report.not_after);
		}
		print_prom_summary(&findings);
		break;
	case OUT_TABLE:
		if (ctx->verbosity < 0)
			break;
		if (in.client != NULL)
			print_client_table(cli, client_cert, &report);
		print_findings_table(cli, &findings);
		break;
	}
	rc = findings.n == 0 ? TF_EXIT_OK : TF_EXIT_FINDINGS;
out:
	for (i = 0; stores != NULL && i < npaths; i++)
		truststore_free(stores[i]);
	free(stores);
	free(paths);
	client_report_release(&report);
	client_check_free(in.client);
	tf_findings_release(&findings);
	free(text.p);
	tf_policy_free(policy);
	cli_free_password(password);
	return rc;
}
