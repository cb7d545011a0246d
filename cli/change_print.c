/*
 * cli/change_print.c - a change, planned or made, as the operator reads it
 * (certificates, files, hooks, probes, what undid it) or as one JSON
 * document.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "change.h"
#include "output.h"

void
change_print_nothing(struct cli *cli, const struct change_opts *o, const char *why)
{
	if (cli->format == OUT_JSON)
		printf("{\"dry_run\":%s,\"change\":null,\"nothing_to_do\":true,\"why\":",
		    o->dry_run ? "true" : "false");
	else if (cli->ctx.verbosity >= 0)
		printf("nothing to do: %s\n", why);
	if (cli->format == OUT_JSON) {
		out_emit(stdout, out_jstr(why));
		printf("}\n");
	}
}

static const char *
op_name(enum ts_op_kind k)
{
	return k == TS_OP_REMOVE ? "remove" : k == TS_OP_SYMLINK ? "link" : "write";
}

static json_t *
hooks_json(const struct change *ch)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < ch->nhooks; i++) {
		const struct change_hook *h = &ch->hooks[i];

		json_array_append_new(arr,
		    json_pack("{s:o,s:o,s:o,s:b,s:b,s:b,s:i,s:I,s:o}", "phase", out_jstr(h->phase),
		        "name", out_jstr(h->name), "result", out_jstr(h->result), "ran", h->ran,
		        "failed", h->failed, "warn_only", h->warn_only, "exit_status",
		        h->exit_status, "duration_ms", (json_int_t)h->duration_ms, "output",
		        out_jstr(h->output)));
	}
	return arr;
}

void
change_print(struct cli *cli, const struct change *ch, bool dry_run, const char *id)
{
	size_t i;

	if (cli->format == OUT_JSON) {
		json_t *doc = json_object(), *files = json_array(), *added = json_array(),
		       *removed = json_array(), *probes = json_array();

		json_object_set_new(doc, "dry_run", json_boolean(dry_run));
		json_object_set_new(doc, "change", *id ? json_string(id) : json_null());
		json_object_set_new(doc, "subject", out_jstr(ch->subject_line));
		for (i = 0; i < ch->nfiles; i++)
			json_array_append_new(files,
			    json_pack("{s:o,s:s}", "path", out_jstr(ch->files[i].path), "action",
			        op_name(ch->files[i].kind)));
		for (i = 0; i < ch->ntrailers; i++)
			out_trailer_cert(ch->trailer_keys[i], ch->trailer_values[i], added,
			    removed);
		json_object_set_new(doc, "files", files);
		json_object_set_new(doc, "added", added);
		json_object_set_new(doc, "removed", removed);
		json_object_set_new(doc, "hooks", hooks_json(ch));
		json_object_set_new(doc, "probes", probes);
		for (i = 0; i < ch->nprobes; i++)
			json_array_append_new(probes, out_jstr(ch->probes[i]));
		json_object_set_new(doc, "failure", out_jstr(ch->failure));
		json_object_set_new(doc, "undone_by",
		    ch->undo_id[0] ? json_string(ch->undo_id) : json_null());
		out_emit(stdout, doc);
		fputc('\n', stdout);
		return;
	}
	if (cli->ctx.verbosity < 0)
		return;
	printf("%s%s%s\n", dry_run ? "plan: " : "", ch->subject_line,
	    dry_run ? " (dry run: nothing written)" : "");
	if (ch->body != NULL) {
		const char *p = ch->body, *nl;

		for (; *p != '\0'; p = nl + 1) {
			nl = strchr(p, '\n');
			if (nl == NULL)
				nl = p + strlen(p);
			printf("  %s%.*s%s\n",
			    cli_color(cli,
			        *p == '+'       ? "green"
			            : *p == '-' ? "red"
			                        : ""),
			    (int)(nl - p), p, cli_color(cli, "reset"));
			if (*nl == '\0')
				break;
		}
	}
	printf("  files:\n");
	for (i = 0; i < ch->nfiles; i++)
		printf("    %-6s %s\n", op_name(ch->files[i].kind), ch->files[i].path);
	if (ch->nhooks > 0)
		printf("  hooks:\n");
	for (i = 0; i < ch->nhooks; i++) {
		const struct change_hook *h = &ch->hooks[i];

		printf("    %s%s/%s: %s%s", cli_color(cli, h->failed ? "red" : ""), h->phase,
		    h->name, h->result, cli_color(cli, "reset"));
		if (h->ran)
			printf(" (%ld ms)", h->duration_ms);
		printf("%s\n", h->failed && h->warn_only ? " (on_failure = warn)" : "");
	}
	if (ch->nprobes > 0)
		printf("  probes:\n");
	for (i = 0; i < ch->nprobes; i++)
		printf("    %s\n", ch->probes[i]);
	if (*id)
		printf("recorded as change %.12s\n", id);
	if (ch->failure != NULL && ch->undo_id[0])
		printf("%sundone%s as change %.12s: %s\n", cli_color(cli, "red"),
		    cli_color(cli, "reset"), ch->undo_id, ch->failure);
	else if (ch->failure != NULL && *id == '\0')
		printf("%snot made%s: %s\n", cli_color(cli, "red"), cli_color(cli, "reset"),
		    ch->failure);
}
