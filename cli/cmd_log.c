/*
 * cli/cmd_log.c - "trustfix log" and "trustfix show": read the audit log.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../audit/audit.h"
#include "../core/certinfo.h"
#include "cli.h"
#include "output.h"

static json_t *
entry_json(const struct audit_entry *e)
{
	json_t *o = json_object(), *tr = json_array();
	size_t i;

	json_object_set_new(o, "id", json_string(e->id));
	json_object_set_new(o, "parent", *e->parent ? json_string(e->parent) : json_null());
	json_object_set_new(o, "time", out_jtime(e->time));
	json_object_set_new(o, "subject", out_jstr(e->subject_line));
	json_object_set_new(o, "body", out_jstr(e->body));
	json_object_set_new(o, "reason", out_jstr(e->reason));
	json_object_set_new(o, "ticket", out_jstr(e->ticket));
	json_object_set_new(o, "operator", out_jstr(e->operator_name));
	json_object_set_new(o, "command", out_jstr(e->command));
	for (i = 0; i < e->ntrailers; i++)
		json_array_append_new(tr,
		    json_pack("{s:o,s:o}", "key", out_jstr(e->trailer_keys[i]), "value",
		        out_jstr(e->trailer_values[i])));
	json_object_set_new(o, "trailers", tr);
	return o;
}

struct log_state {
	struct cli *cli;
	size_t n;
	json_t *json; /* the entry of "show", kept for its files */
};

static int
print_entry(const struct audit_entry *e, void *arg)
{
	struct log_state *st = arg;
	struct cli *cli = st->cli;
	char date[32];

	if (cli->format == OUT_JSON) {
		fputs(st->n > 0 ? ",\n" : "\n", stdout);
		out_emit(stdout, entry_json(e));
	} else {
		tf_time_iso(date, sizeof(date), e->time);
		printf("%s%.12s%s  %s  %-12s  %s\n", cli_color(cli, "yellow"), e->id,
		    cli_color(cli, "reset"), date, e->operator_name ? e->operator_name : "-",
		    e->subject_line);
	}
	st->n++;
	return 0;
}

int
cmd_log(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct log_state st = { .cli = cli };
	struct audit *a = NULL;
	char head[41];
	bool empty = true;
	long max = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "n:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (tf_parse_int(optarg, 1, 1000000000, &max) == -1)
				return cli_usage(cli, "log", "bad -n '%s' (a positive number)",
				    optarg);
			break;
		case 'h':
			return cmd_help(cli, 2, (char *[]){ "help", "log", NULL });
		case '?':
			return cli_usage(cli, "log", "unknown option '%s'", argv[optind - 1]);
		default:
			if (cli_common_option(cli, "log", c, optarg) <= 0)
				return TF_EXIT_USAGE;
			break;
		}
	}
	if (optind < argc)
		return cli_usage(cli, "log", "unexpected argument '%s'", argv[optind]);
	if ((rc = audit_open(&a, &cli->ctx, AUDIT_OPEN_READONLY)) != 0)
		return rc;
	if (cli->format == OUT_JSON)
		fputs("[", stdout);
	if ((rc = audit_head(head, &empty, a)) == 0 && !empty)
		rc = audit_log(a, NULL, (size_t)max, print_entry, &st);
	if (cli->format == OUT_JSON)
		fputs("]\n", stdout);
	else if (rc == 0 && empty && cli->ctx.verbosity >= 0)
		printf("no change recorded yet\n");
	audit_free(a);
	return rc;
}

static int
keep_entry(const struct audit_entry *e, void *arg)
{
	struct log_state *st = arg;

	st->json = entry_json(e);
	return 0;
}

static const char *
delta_action(const struct audit_delta *d)
{
	return d->before == NULL ? "added" : d->after == NULL ? "removed" : "modified";
}

static int
add_delta(const struct audit_delta *d, void *arg)
{
	json_t *files = arg;
	const struct audit_blob *b = d->after != NULL ? d->after : d->before;

	json_array_append_new(files,
	    json_pack("{s:o,s:s,s:s}", "path", out_jstr(d->path), "action", delta_action(d), "mode",
	        b->mode == AUDIT_MODE_LINK       ? "link"
	            : b->mode == AUDIT_MODE_EXEC ? "executable"
	                                         : "file"));
	return 0;
}

static void
certs_json(json_t *doc)
{
	json_t *tr = json_object_get(doc, "trailers"), *t, *added = json_array(),
	       *removed = json_array(), *hooks = json_array();
	size_t i;

	json_array_foreach(tr, i, t)
	{
		out_trailer_cert(json_string_value(json_object_get(t, "key")),
		    json_string_value(json_object_get(t, "value")), added, removed);
	}
	json_object_set_new(doc, "added", added);
	json_object_set_new(doc, "removed", removed);
	/* "Trustfix-Hook: <phase> <name> ok|failed|warned|not-run <exit> <ms>" */
	json_array_foreach(tr, i, t)
	{
		const char *k = json_string_value(json_object_get(t, "key"));
		const char *v = json_string_value(json_object_get(t, "value"));
		char phase[32], name[256], status[16];
		int exit_status;
		long ms;

		if (k == NULL || v == NULL || strcmp(k, "Trustfix-Hook") != 0 ||
		    sscanf(v, "%31s %255s %15s %d %ld", phase, name, status, &exit_status, &ms) !=
		        5)
			continue;
		json_array_append_new(hooks,
		    json_pack("{s:s,s:s,s:s,s:i,s:I}", "phase", phase, "name", name, "status",
		        status, "exit_status", exit_status, "duration_ms", (json_int_t)ms));
	}
	json_object_set_new(doc, "hooks", hooks);
}

int
cmd_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct log_state st = { .cli = cli };
	struct audit *a = NULL;
	const char *rev = "HEAD";
	char id[41];
	json_t *files = json_array(), *f;
	size_t i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			json_decref(files);
			return cmd_help(cli, 2, (char *[]){ "help", "show", NULL });
		case '?':
			json_decref(files);
			return cli_usage(cli, "show", "unknown option '%s'", argv[optind - 1]);
		default:
			if (cli_common_option(cli, "show", c, optarg) <= 0) {
				json_decref(files);
				return TF_EXIT_USAGE;
			}
			break;
		}
	}
	if (argc - optind > 1) {
		json_decref(files);
		return cli_usage(cli, "show", "name one change");
	}
	if (optind < argc)
		rev = argv[optind];
	if ((rc = audit_open(&a, &cli->ctx, AUDIT_OPEN_READONLY)) != 0 ||
	    (rc = audit_resolve(id, a, rev)) != 0 ||
	    (rc = audit_log(a, id, 1, keep_entry, &st)) != 0 ||
	    (rc = audit_changed_files(a, id, add_delta, files)) != 0)
		goto out;
	json_object_set(st.json, "files", files);
	certs_json(st.json);
	if (cli->format == OUT_JSON) {
		out_emit(stdout, json_incref(st.json));
		fputc('\n', stdout);
		goto out;
	}
	printf("change %s%s%s\n", cli_color(cli, "yellow"),
	    json_string_value(json_object_get(st.json, "id")), cli_color(cli, "reset"));
	printf("date:     %s\n", json_string_value(json_object_get(st.json, "time")));
	printf("operator: %s\n", json_string_value(json_object_get(st.json, "operator")) ?: "-");
	if (json_string_value(json_object_get(st.json, "reason")))
		printf("reason:   %s\n", json_string_value(json_object_get(st.json, "reason")));
	if (json_string_value(json_object_get(st.json, "ticket")))
		printf("ticket:   %s\n", json_string_value(json_object_get(st.json, "ticket")));
	if (json_string_value(json_object_get(st.json, "command")))
		printf("command:  %s\n", json_string_value(json_object_get(st.json, "command")));
	printf("\n    %s\n", json_string_value(json_object_get(st.json, "subject")));
	if (json_string_value(json_object_get(st.json, "body")) &&
	    *json_string_value(json_object_get(st.json, "body"))) {
		const char *p = json_string_value(json_object_get(st.json, "body")), *nl;

		printf("\n");
		for (; *p != '\0'; p = *nl ? nl + 1 : nl) {
			nl = strchr(p, '\n');
			if (nl == NULL)
				nl = p + strlen(p);
			printf("    %.*s\n", (int)(nl - p), p);
		}
	}
	printf("\nfiles:\n");
	json_array_foreach(files, i, f)
	    printf("  %-9s /%s\n", json_string_value(json_object_get(f, "action")),
	        json_string_value(json_object_get(f, "path")));
out:
	json_decref(files);
	json_decref(st.json);
	audit_free(a);
	return rc;
}
