/*
 * cli/cmd_probe.c - "trustfix probe": do the TLS endpoints the device
 * depends on validate against its trust stores now, and (--staged) would
 * they once the staged bundle is applied? Exit 0 all validate, 1 some fail,
 * 5 an endpoint cannot be reached.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../bundles/bundle.h"
#include "../core/certinfo.h"
#include "change.h"
#include "cli.h"
#include "output.h"
#include "probe.h"

/* The verdicts of one endpoint against one store. */
struct store_verdict {
	struct probe_result now;
	struct probe_result after; /* with --staged */
};

/* One endpoint: where, what it presented, and the verdict per store. */
struct endpoint {
	struct probe_target t;
	char *label;      /* HOST:PORT or the chain file, escaped */
	char *name_shown; /* the name checked, escaped; NULL: none */
	struct probe_chain *chain;
	char *unreachable; /* the reason, when no chain */
	struct store_verdict *sv;
};

struct probe_run {
	struct cli *cli;
	char **stores; /* absolute paths of the managed system */
	char **stores_shown;
	size_t nstores;
	struct probe_anchors *now, *after; /* per store; 'after' with --staged */
	const struct bundle_manifest *bundle;
	struct endpoint *ep;
	size_t nep;
};

static bool
endpoint_fails(const struct probe_run *r, const struct endpoint *e)
{
	size_t i;

	for (i = 0; e->chain != NULL && i < r->nstores; i++)
		if (e->sv[i].now.verdict != PROBE_OK ||
		    (r->after != NULL && e->sv[i].after.verdict != PROBE_OK))
			return true;
	return false;
}

static json_t *
result_json(const struct probe_result *res)
{
	return json_pack("{s:s,s:b,s:o,s:o,s:o,s:o,s:o}", "verdict",
	    probe_verdict_name(res->verdict), "valid", res->verdict == PROBE_OK, "error",
	    res->verdict == PROBE_INVALID ? out_jstr(X509_verify_cert_error_string(res->error))
	                                  : json_null(),
	    "error_code", res->verdict == PROBE_INVALID ? json_integer(res->error) : json_null(),
	    "depth", res->depth >= 0 ? json_integer(res->depth) : json_null(), "subject",
	    out_jstr(res->subject), "message", out_jstr(res->message));
}

static json_t *
chain_json(const struct probe_chain *c)
{
	json_t *arr = json_array();
	unsigned char *der = NULL;
	struct tf_certinfo ci;
	char date[32];
	int i, len;

	for (i = 0; c != NULL && i < sk_X509_num(c->certs); i++) {
		der = NULL;
		if ((len = i2d_X509(sk_X509_value(c->certs, i), &der)) <= 0 ||
		    tf_certinfo_parse(&ci, der, (size_t)len, 0, NULL) != 0) {
			OPENSSL_free(der);
			continue;
		}
		tf_time_iso(date, sizeof(date), ci.not_after);
		json_array_append_new(arr,
		    json_pack("{s:i,s:o,s:o,s:o,s:s}", "depth", i, "subject", out_jstr(ci.subject),
		        "issuer", out_jstr(ci.issuer), "sha256", out_jhex(ci.sha256, 32),
		        "not_after", date));
		tf_certinfo_clear(&ci);
		OPENSSL_free(der);
	}
	return arr;
}

static void
print_json(const struct probe_run *r)
{
	json_t *doc, *eps = json_array(), *stores, *bundle = json_null();
	size_t i, j, nok = 0, nbad = 0, nunreach = 0;

	for (i = 0; i < r->nep; i++) {
		const struct endpoint *e = &r->ep[i];
		const char *verdict;

		stores = json_array();
		for (j = 0; e->chain != NULL && j < r->nstores; j++)
			json_array_append_new(stores,
			    json_pack("{s:o,s:o,s:o}", "store", out_jstr(r->stores_shown[j]), "now",
			        result_json(&e->sv[j].now), "after",
			        r->after != NULL ? result_json(&e->sv[j].after) : json_null()));
		if (e->chain == NULL) {
			verdict = "unreachable";
			nunreach++;
		} else if (endpoint_fails(r, e)) {
			verdict = "invalid";
			nbad++;
		} else {
			verdict = "ok";
			nok++;
		}
		json_array_append_new(eps,
		    json_pack("{s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:o}", "endpoint",
		        e->t.host != NULL ? out_jstr(e->label) : json_null(), "host",
		        e->t.host != NULL ? out_jstr(e->t.host) : json_null(), "port",
		        e->t.port != NULL ? out_jstr(e->t.port) : json_null(), "name_checked",
		        out_jstr(e->name_shown), "chain_file",
		        e->t.host == NULL ||
		                (e->chain != NULL && strcmp(e->chain->origin, e->label) != 0)
		            ? out_jstr(e->chain != NULL ? e->chain->origin : NULL)
		            : json_null(),
		        "verdict", verdict, "error", out_jstr(e->unreachable), "chain",
		        chain_json(e->chain), "stores", stores));
	}
	if (r->bundle != NULL)
		bundle = json_pack("{s:o,s:I}", "name", out_jstr(r->bundle->name), "version",
		    (json_int_t)r->bundle->version);
	doc = json_pack("{s:i,s:o,s:o,s:{s:i,s:i,s:i,s:i}}", "version", 1, "staged_bundle", bundle,
	    "endpoints", eps, "summary", "endpoints", (int)r->nep, "ok", (int)nok, "invalid",
	    (int)nbad, "unreachable", (int)nunreach);
	out_emit(stdout, doc);
	fputc('\n', stdout);
}

static const char *
cell(const struct probe_result *res)
{
	return res->verdict == PROBE_OK ? "ok" : "FAILS";
}

static void
print_table(const struct probe_run *r)
{
	struct cli *cli = r->cli;
	size_t i, j, we = strlen("ENDPOINT"), ws = strlen("STORE"), nok = 0, nbad = 0, nun = 0;

	for (i = 0; i < r->nep; i++)
		if (strlen(r->ep[i].label) > we)
			we = strlen(r->ep[i].label);
	for (j = 0; j < r->nstores; j++)
		if (strlen(r->stores_shown[j]) > ws)
			ws = strlen(r->stores_shown[j]);
	printf("%s%-*s  %-*s  %-5s%s%s\n", cli_color(cli, "bold"), (int)we, "ENDPOINT", (int)ws,
	    "STORE", "NOW", r->after != NULL ? "  AFTER" : "", cli_color(cli, "reset"));
	for (i = 0; i < r->nep; i++) {
		const struct endpoint *e = &r->ep[i];

		if (e->chain == NULL) {
			nun++;
			printf("%-*s  %-*s  %sunreachable%s\n", (int)we, e->label, (int)ws, "-",
			    cli_color(cli, "red"), cli_color(cli, "reset"));
			printf("%*s  %s\n", (int)we, "", e->unreachable);
			continue;
		}
		endpoint_fails(r, e) ? nbad++ : nok++;
		for (j = 0; j < r->nstores; j++) {
			const struct store_verdict *sv = &e->sv[j];
			bool now_ok = sv->now.verdict == PROBE_OK;

			printf("%-*s  %-*s  %s%-5s%s", (int)we, j == 0 ? e->label : "", (int)ws,
			    r->stores_shown[j], cli_color(cli, now_ok ? "green" : "red"),
			    cell(&sv->now), cli_color(cli, "reset"));
			if (r->after != NULL)
				printf("  %s%s%s",
				    cli_color(cli, sv->after.verdict == PROBE_OK ? "green" : "red"),
				    cell(&sv->after), cli_color(cli, "reset"));
			fputc('\n', stdout);
			if (!now_ok)
				printf("%*s  now: %s\n", (int)we, "", sv->now.message);
			if (r->after != NULL && sv->after.verdict != PROBE_OK)
				printf("%*s  after: %s\n", (int)we, "", sv->after.message);
			if (cli->ctx.verbosity > 0 && now_ok)
				printf("%*s  now: %s\n", (int)we, "", sv->now.message);
		}
		if (cli->ctx.verbosity > 0) {
			int k;

			for (k = 0; k < sk_X509_num(e->chain->certs); k++) {
				unsigned char *der = NULL;
				struct tf_certinfo ci;
				int len;

				if ((len = i2d_X509(sk_X509_value(e->chain->certs, k), &der)) > 0 &&
				    tf_certinfo_parse(&ci, der, (size_t)len, 0, NULL) == 0) {
					printf("%*s  presented %d: %s\n", (int)we, "", k,
					    ci.subject);
					tf_certinfo_clear(&ci);
				}
				OPENSSL_free(der);
			}
		}
		if (e->name_shown == NULL)
			printf("%*s  (no host name checked: give HOST:PORT with --chain)\n",
			    (int)we, "");
	}
	if (r->after != NULL)
		printf(
		    "\nAFTER: the stores as the staged bundle %s version %lld would leave them\n",
		    r->bundle->name, r->bundle->version);
	printf("%s%zu endpoint%s: %zu validate%s, %zu fail%s, %zu unreachable\n",
	    r->after != NULL ? "" : "\n", r->nep, r->nep == 1 ? "" : "s", nok, nok == 1 ? "s" : "",
	    nbad, nbad == 1 ? "s" : "", nun);
}

/* With -q: only the problems, one line each, on stderr. */
static void
print_problems(const struct probe_run *r)
{
	size_t i, j;

	for (i = 0; i < r->nep; i++) {
		const struct endpoint *e = &r->ep[i];

		if (e->chain == NULL)
			fprintf(stderr, "%s: %s\n", r->cli->prog, e->unreachable);
		for (j = 0; e->chain != NULL && j < r->nstores; j++) {
			if (e->sv[j].now.verdict != PROBE_OK)
				fprintf(stderr, "%s: %s: store %s: now: %s\n", r->cli->prog,
				    e->label, r->stores_shown[j], e->sv[j].now.message);
			if (r->after != NULL && e->sv[j].after.verdict != PROBE_OK)
				fprintf(stderr, "%s: %s: store %s: after: %s\n", r->cli->prog,
				    e->label, r->stores_shown[j], e->sv[j].after.message);
		}
	}
}

/* The staged bundle's additions and removals, as an edit of a store. */
static int
staged_edit(struct cli *cli, const char *name, const char *signers, struct bundle **b,
    struct ts_edit *edit, const unsigned char ***der, size_t **len, unsigned char (**rm)[32])
{
	struct bundle_verify_opts vo = { .signers = signers, .allow_downgrade = true };
	const struct bundle_manifest *m;
	size_t i;
	int rc;

	/* a bundle that apply would refuse is no basis for an impact analysis */
	if ((rc = bundle_cli_open(cli, "probe", name, b)) != 0 ||
	    (rc = bundle_verify(*b, &cli->ctx, &vo)) != 0)
		return rc;
	m = bundle_manifest(*b);
	*der = tf_calloc(m->nadd ? m->nadd : 1, sizeof(**der));
	*len = tf_calloc(m->nadd ? m->nadd : 1, sizeof(**len));
	*rm = tf_calloc(m->nremove ? m->nremove : 1, sizeof(**rm));
	for (i = 0; i < m->nadd; i++) {
		(*der)[i] = m->add[i].der;
		(*len)[i] = m->add[i].der_len;
	}
	for (i = 0; i < m->nremove; i++)
		memcpy((*rm)[i], m->remove[i].sha256, 32);
	edit->add_der = *der;
	edit->add_len = *len;
	edit->nadd = m->nadd;
	edit->remove = (const unsigned char(*)[32]) * rm;
	edit->nremove = m->nremove;
	return 0;
}

static void
run_endpoint(struct probe_run *r, struct endpoint *e, const char *chain_file)
{
	struct tf_ctx *ctx = &r->cli->ctx;
	const char *name = e->t.servername != NULL ? e->t.servername : e->t.host;
	size_t j;

	if (chain_file != NULL) {
		if (probe_chain_load(&e->chain, ctx, chain_file) != 0)
			return;
	} else if (probe_fetch(&e->chain, ctx, &e->t) != 0) {
		/* reported per endpoint: the next one is probed all the same */
		e->unreachable = tf_strdup(ctx->errmsg);
		tf_error_clear(ctx);
		return;
	}
	e->name_shown = name != NULL ? probe_escape(name) : NULL;
	e->sv = tf_calloc(r->nstores, sizeof(*e->sv));
	for (j = 0; j < r->nstores; j++) {
		probe_verify(e->chain, name, r->now[j].v, r->now[j].n, ctx->now, &e->sv[j].now);
		if (r->after != NULL)
			probe_verify(e->chain, name, r->after[j].v, r->after[j].n, ctx->now,
			    &e->sv[j].after);
	}
}

int
cmd_probe(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "staged", optional_argument, NULL, 'B' },
		{ "signers", required_argument, NULL, 'S' },
		{ "chain", required_argument, NULL, 'C' },
		{ "servername", required_argument, NULL, 'N' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "password-file", required_argument, NULL, 'P' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const struct tf_config *cfg = cli->ctx.cfg;
	struct probe_run r = { .cli = cli };
	struct ts_edit edit = { 0 };
	struct bundle *b = NULL;
	const unsigned char **der = NULL;
	unsigned char(*rm)[32] = NULL;
	const char *chain_file = NULL, *servername = NULL, *signers = NULL, *staged_name = NULL;
	const char *password_file = NULL;
	char **named = NULL, *password = NULL, **targets;
	size_t nnamed = 0, ntargets, i, *len = NULL;
	bool staged = false, any_bad = false, any_unreachable = false;
	long timeout = PROBE_TIMEOUT_DEFAULT;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, ":qvh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			named = tf_realloc(named, (nnamed + 1) * sizeof(*named));
			named[nnamed++] = optarg;
			break;
		case 'B':
			staged = true;
			staged_name = optarg;
			break;
		case 'S':
			signers = optarg;
			break;
		case 'C':
			chain_file = optarg;
			break;
		case 'N':
			servername = optarg;
			break;
		case 'T':
			if (tf_parse_int(optarg, 1, 3600, &timeout) != 0) {
				rc = cli_usage(cli, "probe",
				    "bad value '%s' for --timeout (expected seconds, 1 to 3600)",
				    optarg);
				goto out;
			}
			break;
		case 'P':
			password_file = optarg;
			break;
		case 'h':
			free(named);
			return cmd_help(cli, 2, (char *[]){ "help", "probe", NULL });
		case ':':
			rc = cli_usage(cli, "probe", "option '%s' needs a value", argv[optind - 1]);
			goto out;
		case '?':
			rc = cli_usage(cli, "probe", "unknown option '%s'", argv[optind - 1]);
			goto out;
		default:
			if (cli_common_option(cli, "probe", c, optarg) <= 0) {
				rc = TF_EXIT_USAGE;
				goto out;
			}
			break;
		}
	}
	if (cli->format == OUT_PROMETHEUS) {
		rc = cli_usage(cli, "probe",
		    "probe prints a table or JSON, not '--format prometheus'");
		goto out;
	}
	targets = argv + optind;
	ntargets = (size_t)(argc - optind);
	if (chain_file != NULL && ntargets > 1) {
		rc = cli_usage(cli, "probe",
		    "--chain takes at most one HOST:PORT, for the name check");
		goto out;
	}
	if (chain_file == NULL && ntargets == 0) {
		targets = cfg->probes;
		ntargets = cfg->nprobes;
		if (ntargets == 0) {
			rc = cli_usage(cli, "probe",
			    "no endpoint: name HOST:PORT, give --chain FILE, or add 'probe = "
			    "host:port' "
			    "to the configuration");
			goto out;
		}
	}
	if (nnamed == 0 && cfg->nstores == 0) {
		rc = cli_usage(cli, "probe",
		    "no store: name one with --store, or add a [store NAME] section to the "
		    "configuration");
		goto out;
	}
	/* every argument checked before the first connection */
	r.nep = chain_file != NULL && ntargets == 0 ? 1 : ntargets;
	r.ep = tf_calloc(r.nep, sizeof(*r.ep));
	for (i = 0; i < ntargets; i++) {
		struct endpoint *e = &r.ep[i];

		if ((rc = probe_target_parse(&e->t, &cli->ctx, targets[i])) != 0) {
			if (targets != cfg->probes) {
				tf_error_clear(&cli->ctx);
				rc = cli_usage(cli, "probe", "'%s' is not HOST:PORT", targets[i]);
			}
			goto out;
		}
		e->t.servername = (char *)servername;
		e->t.timeout = (int)timeout;
		e->label = probe_escape(targets[i]);
	}
	if (chain_file != NULL && ntargets == 0)
		r.ep[0].label = probe_escape(chain_file);

	if ((rc = change_stores(cli, "probe", named, nnamed, &r.stores, &r.nstores)) != 0)
		goto out;
	if (password_file != NULL && (rc = cli_read_password(cli, password_file, &password)) != 0)
		goto out;
	if (staged) {
		if ((rc = staged_edit(cli, staged_name, signers, &b, &edit, &der, &len, &rm)) != 0)
			goto out;
		r.bundle = bundle_manifest(b);
		r.after = tf_calloc(r.nstores, sizeof(*r.after));
	}
	r.now = tf_calloc(r.nstores, sizeof(*r.now));
	r.stores_shown = tf_calloc(r.nstores, sizeof(*r.stores_shown));
	for (i = 0; i < r.nstores; i++) {
		r.stores_shown[i] = probe_escape(r.stores[i]);
		if ((rc = probe_anchors_read(&r.now[i], &cli->ctx, r.stores[i], password, NULL)) !=
		        0 ||
		    (staged &&
		        (rc = probe_anchors_read(&r.after[i], &cli->ctx, r.stores[i], password,
		             &edit)) != 0))
			goto out;
	}

	for (i = 0; i < r.nep; i++) {
		run_endpoint(&r, &r.ep[i], chain_file);
		if (chain_file != NULL && r.ep[i].chain == NULL) {
			rc = cli->ctx.err != 0 ? cli->ctx.err : TF_EIO;
			goto out;
		}
		if (r.ep[i].chain == NULL)
			any_unreachable = true;
		else if (endpoint_fails(&r, &r.ep[i]))
			any_bad = true;
	}
	if (cli->format == OUT_JSON)
		print_json(&r);
	else if (cli->ctx.verbosity >= 0)
		print_table(&r);
	else
		print_problems(&r);
	/* a chain that fails is a finding; an endpoint out of reach only maybe one */
	rc = any_bad ? TF_EXIT_FINDINGS : any_unreachable ? TF_EXIT_NETWORK : TF_EXIT_OK;
out:
	for (i = 0; i < r.nep; i++) {
		size_t j;

		for (j = 0; r.ep[i].sv != NULL && j < r.nstores; j++) {
			probe_result_release(&r.ep[i].sv[j].now);
			probe_result_release(&r.ep[i].sv[j].after);
		}
		free(r.ep[i].sv);
		probe_target_release(&r.ep[i].t);
		probe_chain_free(r.ep[i].chain);
		free(r.ep[i].label);
		free(r.ep[i].name_shown);
		free(r.ep[i].unreachable);
	}
	free(r.ep);
	for (i = 0; i < r.nstores; i++) {
		if (r.now != NULL)
			probe_anchors_release(&r.now[i]);
		if (r.after != NULL)
			probe_anchors_release(&r.after[i]);
		if (r.stores_shown != NULL)
			free(r.stores_shown[i]);
	}
	free(r.now);
	free(r.after);
	free(r.stores_shown);
	change_free_list(r.stores, r.nstores);
	free(named);
	free(der);
	free(len);
	free(rm);
	bundle_free(b);
	cli_free_password(password);
	return rc;
}
