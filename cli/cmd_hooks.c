/*
 * cli/cmd_hooks.c - "trustfix hooks list" and "trustfix hooks test": which
 * hooks would run for each phase, and a dry run of one phase with a
 * synthetic change.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../hooks/hooks.h"
#include "../truststore/policy.h"
#include "cli.h"
#include "output.h"

static const char *const phases[] = { HOOKS_PRE_CHANGE, HOOKS_POST_CHANGE, HOOKS_POST_ROLLBACK,
	HOOKS_ON_FAILURE };

static int
list_phase(struct cli *cli, const char *phase, json_t *doc)
{
	struct hooks_list *l = NULL;
	json_t *o, *names, *skipped;
	size_t i;
	int rc;

	if ((rc = hooks_list(&l, &cli->ctx, phase)) != 0)
		return rc;
	if (cli->format == OUT_JSON) {
		o = json_object();
		names = json_array();
		skipped = json_array();
		for (i = 0; i < hooks_list_count(l); i++)
			json_array_append_new(names, out_jstr(hooks_list_name(l, i)));
		for (i = 0; i < hooks_list_skipped_count(l); i++)
			json_array_append_new(skipped, out_jstr(hooks_list_skipped(l, i)));
		json_object_set_new(o, "phase", json_string(phase));
		json_object_set_new(o, "dir", out_jstr(hooks_list_dir(l)));
		json_object_set_new(o, "hooks", names);
		json_object_set_new(o, "skipped", skipped);
		json_array_append_new(doc, o);
	} else if (cli->ctx.verbosity >= 0) {
		printf("%s%s%s (%s)\n", cli_color(cli, "bold"), phase, cli_color(cli, "reset"),
		    hooks_list_dir(l));
		if (hooks_list_count(l) == 0)
			printf("  no hooks\n");
		for (i = 0; i < hooks_list_count(l); i++)
			printf("  %s\n", hooks_list_name(l, i));
		for (i = 0; i < hooks_list_skipped_count(l); i++)
			printf("  skipped: %s\n", hooks_list_skipped(l, i));
	}
	hooks_list_free(l);
	return 0;
}

/* Print what the hooks said, each line indented. */
static void
print_output(const char *label, const char *s, size_t len, bool truncated)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (s + i)) : len - i;

		printf("      %s: %.*s\n", label, (int)n, s + i);
		i += n + 1;
	}
	if (truncated)
		printf("      %s: (cut: more than %d bytes)\n", label, HOOKS_OUTPUT_MAX);
}

static int
test_phase(struct cli *cli, const char *phase)
{
	struct tf_config *cfg = cli->ctx.cfg;
	struct hooks_env env = { 0 };
	struct hooks_result *r = NULL;
	struct tf_policy *policy = NULL;
	const char **stores = NULL, *added[1], *removed[1];
	char addhex[65], rmhex[65];
	size_t i, len;
	json_t *doc = NULL;
	int rc;

	/* a synthetic change: the policy's remediation on the configured stores */
	if ((rc = tf_policy_load(&policy, &cli->ctx, cfg->policy)) != 0)
		return rc;
	stores = tf_calloc(cfg->nstores ? cfg->nstores : 1, sizeof(*stores));
	for (i = 0; i < cfg->nstores; i++)
		stores[i] = cfg->stores[i].path;
	env.change_id = "0000000000000000000000000000000000000000";
	env.stores = stores;
	env.nstores = cfg->nstores;
	env.client_cert = cfg->client_cert;
	if (policy->nrequired > 0) {
		tf_hex(addhex, policy->required[0].sha256, 32);
		added[0] = addhex;
		env.added = added;
		env.nadded = 1;
	}
	if (policy->ndecommissioned > 0) {
		tf_hex(rmhex, policy->decommissioned[0].sha256, 32);
		removed[0] = rmhex;
		env.removed = removed;
		env.nremoved = 1;
	}
	env.dry_run = true;
	if ((rc = hooks_run_phase(&r, &cli->ctx, phase, &env, cfg->hook_timeout, false)) != 0)
		goto out;
	if (cli->format == OUT_JSON) {
		doc = json_array();
		for (i = 0; i < hooks_result_count(r); i++) {
			const char *o = hooks_result_stdout(r, i, &len);
			json_t *h = json_object();

			json_object_set_new(h, "name", out_jstr(hooks_result_name(r, i)));
			json_object_set_new(h, "ok", json_boolean(!hooks_result_is_failure(r, i)));
			json_object_set_new(h, "result", out_jstr(hooks_result_describe(r, i)));
			json_object_set_new(h, "exit_status",
			    json_integer(hooks_result_exit_status(r, i)));
			json_object_set_new(h, "duration_ms",
			    json_integer(hooks_result_duration_ms(r, i)));
			json_object_set_new(h, "stdout",
			    json_stringn(o, len) ?: out_jstr("(not UTF-8)"));
			o = hooks_result_stderr(r, i, &len);
			json_object_set_new(h, "stderr",
			    json_stringn(o, len) ?: out_jstr("(not UTF-8)"));
			json_array_append_new(doc, h);
		}
		out_emit(stdout, json_pack("{s:s,s:o}", "phase", phase, "hooks", doc));
		fputc('\n', stdout);
	} else if (cli->ctx.verbosity >= 0) {
		printf("%s: %zu hook%s, dry run (TRUSTFIX_DRY_RUN=1)\n", phase,
		    hooks_result_count(r), hooks_result_count(r) == 1 ? "" : "s");
		for (i = 0; i < hooks_result_count(r); i++) {
			const char *o;

			printf("  %s%-24s%s %s (%ld ms)\n",
			    cli_color(cli, hooks_result_is_failure(r, i) ? "red" : "green"),
			    hooks_result_name(r, i), cli_color(cli, "reset"),
			    hooks_result_describe(r, i), hooks_result_duration_ms(r, i));
			o = hooks_result_stdout(r, i, &len);
			print_output("stdout", o, len, hooks_result_stdout_truncated(r, i));
			o = hooks_result_stderr(r, i, &len);
			print_output("stderr", o, len, hooks_result_stderr_truncated(r, i));
		}
	}
	rc = hooks_result_failed(r) > 0 ? TF_EXIT_FINDINGS : TF_EXIT_OK;
out:
	hooks_result_free(r);
	tf_policy_free(policy);
	free(stores);
	return rc;
}

int
cmd_hooks(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *sub;
	json_t *doc;
	size_t i;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return cmd_help(cli, 2, (char *[]){ "help", "hooks", NULL });
		case '?':
			return cli_usage(cli, "hooks", "unknown option '%s'", argv[optind - 1]);
		default:
			if (cli_common_option(cli, "hooks", c, optarg) <= 0)
				return TF_EXIT_USAGE;
			break;
		}
	}
	if (optind >= argc)
		return cli_usage(cli, "hooks", "name a subcommand: list or test");
	sub = argv[optind++];
	if (strcmp(sub, "list") == 0) {
		if (argc - optind > 1)
			return cli_usage(cli, "hooks", "list takes at most one phase");
		if (optind < argc && !hooks_phase_is_valid(argv[optind]))
			return cli_usage(cli, "hooks",
			    "unknown phase '%s' (pre-change, post-change, post-rollback, "
			    "on-failure)",
			    argv[optind]);
		doc = json_array();
		for (i = 0; i < sizeof(phases) / sizeof(phases[0]) && rc == 0; i++)
			if (optind >= argc || strcmp(argv[optind], phases[i]) == 0)
				rc = list_phase(cli, phases[i], doc);
		if (rc == 0 && cli->format == OUT_JSON) {
			out_emit(stdout, json_incref(doc));
			fputc('\n', stdout);
		}
		json_decref(doc);
		return rc;
	}
	if (strcmp(sub, "test") == 0) {
		if (argc - optind != 1)
			return cli_usage(cli, "hooks", "test takes one phase");
		if (!hooks_phase_is_valid(argv[optind]))
			return cli_usage(cli, "hooks",
			    "unknown phase '%s' (pre-change, post-change, post-rollback, "
			    "on-failure)",
			    argv[optind]);
		return test_phase(cli, argv[optind]);
	}
	return cli_usage(cli, "hooks", "unknown subcommand '%s' (list or test)", sub);
}
