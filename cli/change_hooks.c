/*
 * cli/change_hooks.c - the operator's hooks around a change: what they are
 * told of it, how their outcome is kept with the change, and what the audit
 * commit says of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hooks/hooks.h"
#include "change.h"

/* Bytes of each hook's output kept in the audit commit. */
#define RECORD_OUTPUT_MAX 4096

/* on_failure = warn for the hook 'name' in the configuration. */
static bool
is_warn_only(const struct tf_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nhooks; i++)
		if (strcmp(cfg->hooks[i].name, name) == 0)
			return cfg->hooks[i].warn;
	return false;
}

static struct change_hook *
new_hook(struct change *ch, const char *phase, const char *name)
{
	struct change_hook *h;

	ch->hooks = tf_realloc(ch->hooks, (ch->nhooks + 1) * sizeof(*ch->hooks));
	h = &ch->hooks[ch->nhooks++];
	memset(h, 0, sizeof(*h));
	h->phase = tf_strdup(phase);
	h->name = tf_strdup(name);
	h->exit_status = -1;
	return h;
}

/* The hook's stdout then stderr, as one text, each part bounded. */
static char *
hook_output(const struct hooks_result *r, size_t i)
{
	const char *o, *e;
	size_t olen, elen;

	o = hooks_result_stdout(r, i, &olen);
	e = hooks_result_stderr(r, i, &elen);
	if (olen > RECORD_OUTPUT_MAX)
		olen = RECORD_OUTPUT_MAX;
	if (elen > RECORD_OUTPUT_MAX)
		elen = RECORD_OUTPUT_MAX;
	return tf_asprintf("%s%.*s%s%s%.*s%s", olen ? "stdout:\n" : "", (int)olen, o ? o : "",
	    olen && o[olen - 1] != '\n' ? "\n" : "", elen ? "stderr:\n" : "", (int)elen, e ? e : "",
	    elen && e[elen - 1] != '\n' ? "\n" : "");
}

/* The SHA-256s of the trailers 'key' ("<store> <sha256>"), without duplicates. */
static const char **
trailer_shas(const struct change *ch, const char *key, size_t *n)
{
	const char **v = tf_calloc(ch->ntrailers ? ch->ntrailers : 1, sizeof(*v));
	size_t i, k;

	*n = 0;
	for (i = 0; i < ch->ntrailers; i++) {
		const char *sp;

		if (strcmp(ch->trailer_keys[i], key) != 0 ||
		    (sp = strrchr(ch->trailer_values[i], ' ')) == NULL)
			continue;
		for (k = 0; k < *n && strcmp(v[k], sp + 1) != 0; k++)
			;
		if (k == *n)
			v[(*n)++] = sp + 1;
	}
	return v;
}

int
change_run_hooks(struct cli *cli, struct change *ch, const char *phase, const char *id,
    const struct change_scope *scope, bool dry_run, bool *failed)
{
	const struct tf_config *cfg = cli->ctx.cfg;
	struct hooks_env env = { 0 };
	struct hooks_result *r = NULL;
	const char **added, **removed, **afiles, **rfiles;
	size_t i, na = 0, nr = 0;
	int rc;

	*failed = false;
	added = trailer_shas(ch, "Trustfix-Added", &env.nadded);
	removed = trailer_shas(ch, "Trustfix-Removed", &env.nremoved);
	afiles = tf_calloc(ch->nfiles ? ch->nfiles : 1, sizeof(*afiles));
	rfiles = tf_calloc(ch->nfiles ? ch->nfiles : 1, sizeof(*rfiles));
	for (i = 0; i < ch->nfiles; i++) {
		/* names with a line break cannot be told on stdin's lines */
		if (strchr(ch->files[i].path, '\n') != NULL)
			continue;
		if (ch->files[i].kind == TS_OP_REMOVE)
			rfiles[nr++] = ch->files[i].path;
		else
			afiles[na++] = ch->files[i].path;
	}
	env.change_id = id;
	env.stores = (const char *const *)scope->v;
	env.nstores = scope->n;
	env.client_cert = ch->client_cert != NULL ? ch->client_cert : cfg->client_cert;
	env.added = added;
	env.removed = removed;
	env.added_files = afiles;
	env.nadded_files = na;
	env.removed_files = rfiles;
	env.nremoved_files = nr;
	env.dry_run = dry_run;
	rc = hooks_run_phase(&r, &cli->ctx, phase, &env, cfg->hook_timeout, false);
	for (i = 0; rc == 0 && i < hooks_result_count(r); i++) {
		struct change_hook *h = new_hook(ch, phase, hooks_result_name(r, i));

		h->ran = hooks_result_ran(r, i);
		h->failed = hooks_result_is_failure(r, i);
		h->warn_only = is_warn_only(cfg, h->name);
		h->exit_status = hooks_result_exit_status(r, i);
		h->duration_ms = hooks_result_duration_ms(r, i);
		h->result = tf_strdup(hooks_result_describe(r, i));
		h->output = hook_output(r, i);
		if (h->failed && !h->warn_only)
			*failed = true;
		if (h->failed && cli->ctx.verbosity >= 0)
			fprintf(stderr, "trustfix: %s hook %s: %s%s\n", phase, h->name, h->result,
			    h->warn_only ? " (on_failure = warn: the change stays)" : "");
	}
	hooks_result_free(r);
	free(added);
	free(removed);
	free(afiles);
	free(rfiles);
	return rc;
}

int
change_list_hooks(struct cli *cli, struct change *ch, const char *phase)
{
	struct hooks_list *l = NULL;
	size_t i;
	int rc;

	if ((rc = hooks_list(&l, &cli->ctx, phase)) != 0)
		return rc;
	for (i = 0; i < hooks_list_count(l); i++) {
		struct change_hook *h = new_hook(ch, phase, hooks_list_name(l, i));

		h->result = tf_strdup("would run");
		h->output = tf_strdup("");
		h->warn_only = is_warn_only(cli->ctx.cfg, h->name);
	}
	hooks_list_free(l);
	return 0;
}

const struct change_hook *
change_first_failed_hook(const struct change *ch, const char *phase)
{
	size_t i;

	for (i = 0; i < ch->nhooks; i++)
		if (strcmp(ch->hooks[i].phase, phase) == 0 && ch->hooks[i].failed &&
		    !ch->hooks[i].warn_only)
			return &ch->hooks[i];
	return NULL;
}

char *
change_record_body(const struct change *ch)
{
	char *body = tf_strdup(ch->body != NULL ? ch->body : ""), *next;
	size_t i;

	if (ch->nhooks > 0) {
		next = tf_asprintf("%s%shooks:\n", body, *body ? "\n" : "");
		free(body);
		body = next;
	}
	for (i = 0; i < ch->nhooks; i++) {
		const struct change_hook *h = &ch->hooks[i];
		const char *p;

		next = tf_asprintf("%s  %s/%s: %s (%ld ms)%s\n", body, h->phase, h->name, h->result,
		    h->duration_ms, h->failed && h->warn_only ? ", on_failure = warn" : "");
		free(body);
		body = next;
		for (p = h->output; p != NULL && *p != '\0';) {
			const char *nl = strchr(p, '\n');
			size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

			/* the log refuses anything that looks like a key: so does this */
			if (memmem(p, n, "PRIVATE KEY", 11) != NULL)
				next =
				    tf_asprintf("%s    | (a line naming a private key block: not "
				                "recorded)\n",
				        body);
			else
				next = tf_asprintf("%s    | %.*s\n", body, (int)n, p);
			free(body);
			body = next;
			p += n + (nl != NULL);
		}
	}
	if (ch->nprobes > 0) {
		next = tf_asprintf("%s%sprobes:\n", body, *body ? "\n" : "");
		free(body);
		body = next;
	}
	for (i = 0; i < ch->nprobes; i++) {
		next = tf_asprintf("%s  %s\n", body, ch->probes[i]);
		free(body);
		body = next;
	}
	if (ch->failure != NULL) {
		next = tf_asprintf("%s%sfailed: %s; undone by the change that follows it\n", body,
		    *body ? "\n" : "", ch->failure);
		free(body);
		body = next;
	}
	return body;
}

void
change_add_hook_trailers(struct change *ch)
{
	size_t i;

	for (i = 0; i < ch->nhooks; i++) {
		const struct change_hook *h = &ch->hooks[i];
		char *v = tf_asprintf("%s %s %s %d %ld", h->phase, h->name,
		    !h->ran            ? "not-run"
		        : !h->failed   ? "ok"
		        : h->warn_only ? "warned"
		                       : "failed",
		    h->exit_status, h->duration_ms);

		change_add_trailer(ch, "Trustfix-Hook", v);
		free(v);
	}
}

void
change_hooks_release(struct change *ch)
{
	size_t i;

	for (i = 0; i < ch->nhooks; i++) {
		free(ch->hooks[i].phase);
		free(ch->hooks[i].name);
		free(ch->hooks[i].result);
		free(ch->hooks[i].output);
	}
	free(ch->hooks);
	ch->hooks = NULL;
	ch->nhooks = 0;
	for (i = 0; i < ch->nprobes; i++)
		free(ch->probes[i]);
	free(ch->probes);
	ch->probes = NULL;
	ch->nprobes = 0;
	free(ch->failure);
	ch->failure = NULL;
	free(ch->client_cert);
	ch->client_cert = NULL;
}
