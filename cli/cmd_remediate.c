/*
 * cli/cmd_remediate.c - "trustfix remediate": the maintenance-window job in
 * one command. Inspect the stores and the client certificate, stage the
 * bundle, plan, obtain a new client certificate over EST when one is due,
 * then one change through change_run(): pre-change hooks, the stores, key
 * and certificate written as one transaction, post-change hooks, probes;
 * a failure of a post-change hook or probe undoes all of it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../bundles/bundle.h"
#include "../core/path.h"
#include "../truststore/policy.h"
#include "../truststore/truststore.h"
#include "change.h"
#include "estcli.h"
#include "output.h"
#include "renewcli.h"

/* One step of the run, for the report. */
struct step {
	const char *name;
	const char *outcome; /* "ok", "done", "skipped", "planned", "failed", "nothing to do" */
	char *detail;
	long ms;
};

struct remediate {
	struct cli *cli;
	struct change_opts o;
	const char *bundle_arg; /* --bundle FILE|URL, or NULL: the staged one */
	const char *bundle_ca;  /* --bundle-ca-file, for an https URL */
	struct bundle_verify_opts vo;
	bool no_renew, force_renew;
	bool renewing; /* a renewal is part of the change (or, dry run, would be) */
	bool stopped;  /* the renewal failed: the change was not attempted */
	struct est_cli e;
	/* what the run found and planned */
	struct bundle *b;
	char **stores;
	size_t nstores;
	struct renew_run *renew; /* NULL: no renewal in this change */
	struct step steps[16];
	size_t nsteps;
	long t0;
};

/* Record a step and, on the table output, say it as it happens. */
static void
step(struct remediate *r, const char *name, const char *outcome, char *detail)
{
	struct cli *cli = r->cli;
	struct step *s;
	long t = tf_monotonic_ms();

	if (r->nsteps == sizeof(r->steps) / sizeof(r->steps[0])) {
		free(detail);
		return;
	}
	s = &r->steps[r->nsteps++];
	s->name = name;
	s->outcome = outcome;
	s->detail = detail;
	s->ms = t - r->t0;
	r->t0 = t;
	if (cli->format == OUT_JSON || cli->ctx.verbosity < 0)
		return;
	printf("%s==>%s %-12s %s%s%s%s%s\n", cli_color(cli, "bold"), cli_color(cli, "reset"), name,
	    cli_color(cli,
	        strcmp(outcome, "failed") == 0 ? "red"
	            : strcmp(outcome, "skipped") == 0 || strcmp(outcome, "nothing to do") == 0
	            ? "yellow"
	            : "green"),
	    outcome, cli_color(cli, "reset"), detail != NULL && *detail ? ": " : "",
	    detail != NULL ? detail : "");
	fflush(stdout);
}

/*
 * A store's certificates and what the policy says of them: the scan and
 * checks "trustfix inspect" runs, its decommissioned and missing-required
 * findings counted.
 */
static char *
inspect_store(struct remediate *r, const char *store, const struct tf_policy *pol)
{
	struct truststore_checks checks = { pol, r->cli->ctx.cfg->warn_days, r->cli->ctx.now };
	struct truststore_stats stats = { 0 };
	struct tf_findings fs = { 0 };
	struct truststore *ts = NULL;
	char *out, *next;
	size_t i, ndecom = 0, nmissing = 0;

	if (truststore_open(&ts, &r->cli->ctx, store, NULL) != 0 ||
	    truststore_scan(ts, &checks, &fs, &stats, NULL, NULL) != 0) {
		out = tf_asprintf("%s: cannot be read: %s", store, r->cli->ctx.errmsg);
		tf_error_clear(&r->cli->ctx);
		goto out;
	}
	for (i = 0; i < fs.n; i++) {
		ndecom += fs.v[i].kind == TF_F_DECOMMISSIONED;
		nmissing += fs.v[i].kind == TF_F_MISSING_REQUIRED;
	}
	out = tf_asprintf("%s: %zu certificates", store, stats.certificates);
	if (ndecom > 0) {
		next = tf_asprintf("%s, %zu decommissioned", out, ndecom);
		free(out);
		out = next;
	}
	if (nmissing > 0) {
		next = tf_asprintf("%s, %zu required missing", out, nmissing);
		free(out);
		out = next;
	}
out:
	tf_findings_release(&fs);
	truststore_free(ts);
	return out;
}

static int
do_inspect(struct remediate *r)
{
	struct cli *cli = r->cli;
	struct tf_policy *pol = NULL;
	char *detail = NULL, *line, *next;
	size_t i;
	int rc;

	/* the policy inspect uses: the installed bundle's, else the configured one */
	if ((rc = bundle_policy_load(&pol, &cli->ctx, cli->ctx.cfg->policy)) != 0) {
		step(r, "inspect", "failed", tf_strdup(cli->ctx.errmsg));
		return rc;
	}
	for (i = 0; i < r->nstores; i++) {
		line = inspect_store(r, r->stores[i], pol);
		next = tf_asprintf("%s%s%s", detail ? detail : "", detail ? "; " : "", line);
		free(detail);
		free(line);
		detail = next;
	}
	if (r->renew != NULL) {
		line = renew_describe(r->renew);
		next = tf_asprintf("%s%s%s", detail ? detail : "", detail ? "; " : "", line);
		free(detail);
		free(line);
		detail = next;
	}
	step(r, "inspect", "ok", detail);
	tf_policy_free(pol);
	return 0;
}

/* Open, verify and (unless a dry run) stage the bundle; none is not an error. */
static int
do_stage(struct remediate *r)
{
	struct cli *cli = r->cli;
	const struct bundle_manifest *m;
	unsigned char *data = NULL;
	size_t len;
	bool same;
	int rc;

	if (r->bundle_arg == NULL) {
		struct bundle_listing *v = NULL;
		size_t n = 0, i, staged = 0;

		if ((rc = bundle_list(&v, &n, &cli->ctx)) != 0)
			goto failed;
		for (i = 0; i < n; i++)
			staged += !v[i].installed;
		bundle_listing_free(v, n);
		if (staged == 0) {
			step(r, "stage", "skipped",
			    tf_strdup("no bundle given (--bundle) or staged"));
			return 0;
		}
		if ((rc = bundle_cli_open(cli, "remediate", NULL, &r->b)) != 0)
			goto failed;
	} else if (strncmp(r->bundle_arg, "https://", 8) == 0 ||
	    strncmp(r->bundle_arg, "http://", 7) == 0) {
		rc = bundle_fetch(&cli->ctx, r->bundle_arg, r->bundle_ca, BUNDLE_ARCHIVE_MAX, &data,
		    &len);
		if (rc == 0)
			rc = bundle_open_mem(&r->b, &cli->ctx, data, len, r->bundle_arg);
		free(data);
		if (rc != 0)
			goto failed;
	} else if ((rc = bundle_cli_open(cli, "remediate", r->bundle_arg, &r->b)) != 0) {
		goto failed;
	}
	if ((rc = bundle_verify(r->b, &cli->ctx, &r->vo)) != 0)
		goto failed;
	m = bundle_manifest(r->b);
	if (bundle_status(r->b, NULL) == BUNDLE_INSTALLED) {
		step(r, "stage", "ok",
		    tf_asprintf("bundle %s version %lld is installed", m->name, m->version));
		return 0;
	}
	if (r->o.dry_run) {
		step(r, "stage", "planned",
		    tf_asprintf("bundle %s version %lld verified (dry run: not staged)", m->name,
		        m->version));
		return 0;
	}
	if ((rc = bundle_stage(r->b, &cli->ctx, &same)) != 0)
		goto failed;
	step(r, "stage", "done",
	    tf_asprintf("bundle %s version %lld verified and staged", m->name, m->version));
	return 0;
failed:
	step(r, "stage", "failed", tf_strdup(cli->ctx.errmsg));
	return rc;
}

/* change_opts.prepare: the new client certificate, obtained under the lock. */
static int
prepare(struct cli *cli, void *arg)
{
	struct remediate *r = arg;
	int rc;

	if ((rc = renew_obtain(r->renew)) != 0) {
		step(r, "renew", "failed", tf_strdup(cli->ctx.errmsg));
		r->stopped = true;
		return rc;
	}
	step(r, "renew", "done", renew_describe(r->renew));
	return 0;
}

/* The whole change: the bundle in every store, and the new client certificate. */
static int
plan_remediate(struct cli *cli, struct audit *audit, struct change *ch, void *arg)
{
	struct remediate *r = arg;
	char *subject = NULL;
	int rc;

	if (r->b != NULL) {
		struct apply_req ar = { r->b, r->stores, r->nstores, NULL, r->vo.allow_downgrade };
		struct change part = { 0 };

		if ((rc = apply_plan(cli, audit, &part, &ar)) != 0) {
			change_release(&part);
			return rc;
		}
		/* a bundle installed and every store up to date: nothing of it */
		if (part.nfiles > 0) {
			change_merge(ch, &part);
			subject = tf_strdup(part.subject_line);
		}
		change_release(&part);
	}
	if (r->renew != NULL) {
		struct change part = { 0 };

		if ((rc = renew_plan(cli, audit, &part, r->renew)) != 0) {
			change_release(&part);
			free(subject);
			return rc;
		}
		change_merge(ch, &part);
		if (subject != NULL) {
			char *s = tf_asprintf("remediate: %s; %s", subject, part.subject_line);

			free(subject);
			subject = s;
		} else {
			subject = tf_asprintf("remediate: %s", part.subject_line);
		}
		change_release(&part);
	} else if (subject != NULL) {
		char *s = tf_asprintf("remediate: %s", subject);

		free(subject);
		subject = s;
	}
	free(ch->subject_line);
	ch->subject_line = subject != NULL ? subject : tf_strdup("remediate");
	return 0;
}

static void
print_json(struct remediate *r, const struct change *ch, const char *id, int rc)
{
	json_t *doc = json_object(), *steps = json_array();
	size_t i;

	for (i = 0; i < r->nsteps; i++)
		json_array_append_new(steps,
		    json_pack("{s:s,s:s,s:o,s:I}", "step", r->steps[i].name, "outcome",
		        r->steps[i].outcome, "detail", out_jstr(r->steps[i].detail), "duration_ms",
		        (json_int_t)r->steps[i].ms));
	json_object_set_new(doc, "dry_run", json_boolean(r->o.dry_run));
	json_object_set_new(doc, "steps", steps);
	json_object_set_new(doc, "change", *id ? json_string(id) : json_null());
	json_object_set_new(doc, "undone_by",
	    ch->undo_id[0] ? json_string(ch->undo_id) : json_null());
	json_object_set_new(doc, "failure", out_jstr(ch->failure));
	json_object_set_new(doc, "exit_status",
	    json_integer(rc >= 0    ? rc
	            : rc == TF_ENET ? TF_EXIT_NETWORK
	                            : -1));
	out_emit(stdout, doc);
	fputc('\n', stdout);
}

/* The steps the change went through, from what change_run() kept. */
static void
change_steps(struct remediate *r, const struct change *ch, const char *id, int rc)
{
	size_t i, n;
	char *list;
	const char *phases[] = { "pre-change", "post-change" };
	size_t p;

	if (r->stopped)
		return; /* nothing of the change was attempted */
	for (p = 0; p < 2; p++) {
		const char *phase = phases[p];
		bool failed = false;

		list = NULL;
		for (i = 0, n = 0; i < ch->nhooks; i++) {
			char *next;

			if (strcmp(ch->hooks[i].phase, phase) != 0)
				continue;
			n++;
			failed = failed || (ch->hooks[i].failed && !ch->hooks[i].warn_only);
			next = tf_asprintf("%s%s%s: %s", list ? list : "", list ? ", " : "",
			    ch->hooks[i].name, ch->hooks[i].result);
			free(list);
			list = next;
		}
		if (p == 1) {
			step(r, "apply",
			    r->o.dry_run                ? "planned"
			        : *id                   ? "done"
			        : rc == TF_EXIT_NOTHING ? "nothing to do"
			                                : "failed",
			    r->o.dry_run
			        ? tf_asprintf("%zu files%s", ch->nfiles,
			              r->renewing ? ", and the client's key, certificate and chain "
			                            "once the new certificate is obtained"
			                          : "")
			        : *id
			        ? tf_asprintf("%zu files, recorded as change %.12s", ch->nfiles, id)
			        : tf_strdup(rc < 0 ? r->cli->ctx.errmsg : ""));
		}
		step(r, p == 0 ? "pre-hooks" : "post-hooks",
		    n == 0                      ? "skipped"
		        : r->o.dry_run          ? "planned"
		        : failed                ? "failed"
		        : rc == TF_EXIT_NOTHING ? "skipped"
		                                : "ok",
		    n == 0 ? tf_strdup("no hooks") : list);
		if (n == 0)
			free(list);
	}
	list = NULL;
	for (i = 0; i < ch->nprobes; i++) {
		char *next =
		    tf_asprintf("%s%s%s", list ? list : "", list ? "; " : "", ch->probes[i]);

		free(list);
		list = next;
	}
	step(r, "probes",
	    ch->nprobes == 0                                                   ? "skipped"
	        : r->o.dry_run                                                 ? "planned"
	        : ch->failure != NULL && strncmp(ch->failure, "probe", 5) == 0 ? "failed"
	                                                                       : "ok",
	    list != NULL                     ? list
	        : !change_has_probes(r->cli) ? tf_strdup("no probes configured")
	                                     : tf_strdup("no change: nothing to check"));
	if (ch->failure != NULL && *id)
		step(r, "rollback", ch->undo_id[0] ? "done" : "failed",
		    ch->undo_id[0] ? tf_asprintf("everything undone as change %.12s: %s",
		                         ch->undo_id, ch->failure)
		                   : tf_asprintf("%s; undoing failed", ch->failure));
}

int
cmd_remediate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "bundle-ca-file", required_argument, NULL, 'B' },
		{ "store", required_argument, NULL, 's' },
		{ "signers", required_argument, NULL, 'S' },
		{ "no-renew", no_argument, NULL, 'N' },
		{ "force-renew", no_argument, NULL, 'F' },
		EST_LONG_OPTIONS,
		CLI_COMMON_OPTIONS,
		CHANGE_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct remediate r;
	struct change ch = { 0 };
	struct change_scope scope = { 0 };
	char **named = NULL, id[41] = "";
	size_t nnamed = 0, i;
	bool due = false, parsed = false, reported = false;
	int c, rc;

	memset(&r, 0, sizeof(r));
	r.cli = cli;
	r.t0 = tf_monotonic_ms();
	est_cli_init(&r.e);
	while ((c = getopt_long(argc, argv, ":nqvh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			r.bundle_arg = optarg;
			break;
		case 'B':
			r.bundle_ca = optarg;
			break;
		case 's':
			named = tf_realloc(named, (nnamed + 1) * sizeof(*named));
			named[nnamed++] = optarg;
			break;
		case 'S':
			r.vo.signers = optarg;
			break;
		case 'N':
			r.no_renew = true;
			break;
		case 'F':
			r.force_renew = true;
			break;
		case 'h':
			rc = cmd_help(cli, 2, (char *[]){ "help", "remediate", NULL });
			goto out;
		case ':':
			rc = cli_usage(cli, "remediate", "option '%s' needs a value",
			    argv[optind - 1]);
			goto out;
		case '?':
			rc = cli_usage(cli, "remediate", "unknown option '%s'", argv[optind - 1]);
			goto out;
		default:
			if ((rc = est_cli_option(cli, "remediate", &r.e, c, optarg)) == 0 &&
			    (rc = change_option(cli, "remediate", &r.o, c, optarg)) == 0)
				rc = cli_common_option(cli, "remediate", c, optarg);
			if (rc <= 0) {
				rc = TF_EXIT_USAGE;
				goto out;
			}
			break;
		}
	}
	if (optind < argc) {
		rc = cli_usage(cli, "remediate", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (r.no_renew && r.force_renew) {
		rc = cli_usage(cli, "remediate", "--no-renew and --force-renew exclude each other");
		goto out;
	}
	parsed = true;
	if ((rc = change_stores(cli, "remediate", named, nnamed, &r.stores, &r.nstores)) != 0)
		goto out;
	/* the client certificate, when there is one to look after */
	if (!r.no_renew && (rc = renew_setup(&r.renew, cli, "remediate", &r.e, r.force_renew)) != 0)
		goto out;
	if ((rc = do_inspect(&r)) != 0 || (rc = do_stage(&r)) != 0)
		goto out;
	due = r.renew != NULL && renew_is_due(r.renew);
	if (r.renew != NULL && !due) {
		step(&r, "renew", "skipped", renew_describe(r.renew));
		renew_run_free(r.renew);
		r.renew = NULL;
	} else if (r.renew == NULL) {
		step(&r, "renew", "skipped",
		    tf_strdup(r.no_renew ? "--no-renew"
		                         : "no client certificate with an EST server "
		                           "in the configuration"));
	} else if (r.o.dry_run) {
		r.renewing = true;
		step(&r, "renew", "planned", renew_describe(r.renew));
	} else {
		/* asked for under the lock, by prepare() */
		r.renewing = true;
		r.o.prepare = prepare;
	}
	for (i = 0; i < r.nstores; i++)
		change_scope_add(&scope, r.stores[i]);
	if (r.renew != NULL)
		renew_scope(r.renew, &scope);
	if (r.b != NULL && !r.o.dry_run && (rc = bundle_state_prepare(&cli->ctx)) != 0)
		goto out;
	r.o.command = cli->cmdline;
	if (r.o.dry_run && r.renew != NULL) {
		/* the plan without the certificate, which a dry run does not ask for */
		renew_run_free(r.renew);
		r.renew = NULL;
	}
	rc = change_run(cli, &r.o, &scope, plan_remediate, &r, &ch, id);
	if (rc == 0 && r.renew != NULL && !r.o.dry_run)
		renew_installed(r.renew);
	change_steps(&r, &ch, id, rc);
	if (rc == 0 && !r.o.dry_run && r.b != NULL && bundle_note_applied(r.b, &cli->ctx) != 0) {
		fprintf(stderr, "%s: warning: %s\n", cli->prog, cli->ctx.errmsg);
		tf_error_clear(&cli->ctx);
	}
	if (cli->format == OUT_JSON) {
		print_json(&r, &ch, id, rc);
		reported = true;
	} else if (cli->ctx.verbosity >= 0) {
		if (rc == TF_EXIT_NOTHING)
			printf("nothing to do: the stores and the client certificate are as they "
			       "should be\n");
		else if (rc == 0 && r.o.dry_run)
			change_print(cli, &ch, true, "");
		else if (rc == 0)
			printf("remediated: change %.12s (undo it with 'trustfix rollback')\n", id);
	}
out:
	/* a script reading --json gets a report of the steps that ran, also on failure */
	if (parsed && !reported && cli->format == OUT_JSON)
		print_json(&r, &ch, id, rc);
	for (i = 0; i < r.nsteps; i++)
		free(r.steps[i].detail);
	change_release(&ch);
	change_free_list(scope.v, scope.n);
	change_free_list(r.stores, r.nstores);
	free(named);
	bundle_free(r.b);
	renew_run_free(r.renew);
	est_cli_release(&r.e);
	return rc;
}
