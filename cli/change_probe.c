/*
 * cli/change_probe.c - the endpoints the device depends on, checked around
 * a change: each "probe = host:port" of the configuration against each
 * store of the change, and the EST server against its trust anchor. A
 * change fails its check when it breaks one that validated before it: an
 * endpoint already broken is reported, not blamed on the change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../audit/vault.h"
#include "../core/path.h"
#include "change.h"
#include "probe.h"

/* Tries more of an endpoint unreachable after a change, a second apart. */
#define PROBE_RETRIES 4

struct change_probe_state {
	char **what; /* "host:port against /store" */
	bool *ok;
	size_t n;
};

/* "host:port" of an https URL, or NULL. */
static char *
url_hostport(const char *url)
{
	const char *h, *end;

	if (url == NULL || strncmp(url, "https://", 8) != 0)
		return NULL;
	h = url + 8;
	end = h + strcspn(h, "/?#");
	if (memchr(h, '@', (size_t)(end - h)) != NULL)
		return NULL;
	if (*h == '[' ? memchr(h, ']', (size_t)(end - h)) != NULL &&
	            ((const char *)memchr(h, ']', (size_t)(end - h)))[1] == ':'
	              : memchr(h, ':', (size_t)(end - h)) != NULL)
		return tf_strndup(h, (size_t)(end - h));
	return tf_asprintf("%.*s:443", (int)(end - h), h);
}

static void
state_release(struct change_probe_state *st)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		free(st->what[i]);
	free(st->what);
	free(st->ok);
	st->what = NULL;
	st->ok = NULL;
	st->n = 0;
}

static void
add_line(struct change *ch, const char *line)
{
	ch->probes = tf_realloc(ch->probes, (ch->nprobes + 1) * sizeof(char *));
	ch->probes[ch->nprobes++] = tf_strdup(line);
}

/*
 * Probe, and while the endpoint cannot be reached try again up to
 * 'retries' times a second apart: a service restarted by a post-change hook
 * may take a moment to listen again. Returns what probe_endpoint() does.
 */
static int
probe_until_reached(struct cli *cli, const char *hostport, const struct probe_anchors *an,
    int retries, struct probe_result *r)
{
	int rc;

	while ((rc = probe_endpoint(&cli->ctx, hostport, NULL, 0, an->v, an->n, r)) == 0 &&
	    r->verdict == PROBE_UNREACHABLE && retries-- > 0) {
		probe_result_release(r);
		memset(r, 0, sizeof(*r));
		sleep(1);
	}
	return rc;
}

/* One endpoint against one store (or anchor file): a verdict and a line. */
static bool
probe_one(struct cli *cli, const char *hostport, const char *store, int retries, char **line)
{
	struct probe_anchors an = { 0 };
	struct probe_result r = { 0 };
	const char *host = store; /* as the device names it */
	bool ok = false;

	if (probe_anchors_read(&an, &cli->ctx, store, NULL, NULL) != 0) {
		*line = tf_asprintf("%s against %s: cannot read the store: %s", hostport, host,
		    cli->ctx.errmsg);
		tf_error_clear(&cli->ctx);
	} else if (probe_until_reached(cli, hostport, &an, retries, &r) != 0) {
		*line = tf_asprintf("%s: %s", hostport, cli->ctx.errmsg);
		tf_error_clear(&cli->ctx);
	} else {
		ok = r.verdict == PROBE_OK;
		*line = tf_asprintf("%s against %s: %s%s%s", hostport, host,
		    probe_verdict_name(r.verdict), r.message ? ": " : "",
		    r.message ? r.message : "");
	}
	probe_result_release(&r);
	probe_anchors_release(&an);
	return ok;
}

/* Whether 'path' is the client's certificate, key or chain, or trustfix's own file. */
static bool
is_not_a_store(struct cli *cli, const char *path)
{
	const struct tf_config *cfg = cli->ctx.cfg;
	const char *own[] = { cfg->client_cert, cfg->client_chain, cfg->est_ca_file };
	size_t i;

	if (vault_is_key_path(&cli->ctx, path) || strncmp(path, "/var/lib/trustfix/", 18) == 0 ||
	    strncmp(path, "/etc/trustfix/", 14) == 0)
		return true;
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		char *p;
		bool same;

		if (own[i] == NULL)
			continue;
		p = change_abspath(cli, own[i]);
		same = strcmp(p, path) == 0;
		free(p);
		if (same)
			return true;
	}
	return false;
}

/*
 * The trust stores a device's TLS clients use: the stores of the
 * configuration and those of the change (named with --store), never the
 * client's own files or trustfix's.
 */
static void
stores_of(struct cli *cli, const struct change_scope *scope, struct change_scope *out)
{
	const struct tf_config *cfg = cli->ctx.cfg;
	size_t i;

	for (i = 0; i < cfg->nstores; i++) {
		char *p = change_abspath(cli, cfg->stores[i].path);

		change_scope_add(out, p);
		free(p);
	}
	for (i = 0; i < scope->n; i++)
		if (!is_not_a_store(cli, scope->v[i]))
			change_scope_add(out, scope->v[i]);
}

/* Every probe of the configuration against every store. */
static void
probe_all(struct cli *cli, const struct change_scope *scope, struct change_probe_state *st,
    struct change *ch, int retries)
{
	const struct tf_config *cfg = cli->ctx.cfg;
	struct change_scope stores = { 0 };
	char *est = url_hostport(cfg->est_server), *line;
	size_t i, k;

	stores_of(cli, scope, &stores);
	for (i = 0; i < cfg->nprobes; i++) {
		for (k = 0; k < stores.n; k++) {
			bool ok = probe_one(cli, cfg->probes[i], stores.v[k], retries, &line);

			st->what = tf_realloc(st->what, (st->n + 1) * sizeof(char *));
			st->ok = tf_realloc(st->ok, (st->n + 1) * sizeof(bool));
			st->what[st->n] = tf_asprintf("%s %s", cfg->probes[i], stores.v[k]);
			st->ok[st->n++] = ok;
			if (ch != NULL)
				add_line(ch, line);
			free(line);
		}
	}
	if (est != NULL && cfg->est_ca_file != NULL) {
		bool ok = probe_one(cli, est, cfg->est_ca_file, retries, &line);

		st->what = tf_realloc(st->what, (st->n + 1) * sizeof(char *));
		st->ok = tf_realloc(st->ok, (st->n + 1) * sizeof(bool));
		st->what[st->n] = tf_asprintf("%s %s", est, cfg->est_ca_file);
		st->ok[st->n++] = ok;
		if (ch != NULL)
			add_line(ch, line);
		free(line);
	}
	free(est);
	change_free_list(stores.v, stores.n);
}

bool
change_has_probes(const struct cli *cli)
{
	const struct tf_config *cfg = cli->ctx.cfg;

	return cfg->nprobes > 0 || (cfg->est_server != NULL && cfg->est_ca_file != NULL);
}

struct change_probe_state *
change_probe_before(struct cli *cli, const struct change_scope *scope)
{
	struct change_probe_state *st = tf_calloc(1, sizeof(*st));

	if (change_has_probes(cli))
		probe_all(cli, scope, st, NULL, 0);
	return st;
}

bool
change_probe_after(struct cli *cli, const struct change_scope *scope,
    const struct change_probe_state *before, struct change *ch)
{
	struct change_probe_state now = { 0 };
	bool failed = false;
	size_t i, first = ch->nprobes;

	if (!change_has_probes(cli))
		return false;
	probe_all(cli, scope, &now, ch, PROBE_RETRIES);
	for (i = 0; i < now.n; i++) {
		/* the same probes in the same order as before */
		bool was_ok = before != NULL && i < before->n && before->ok[i];

		if (was_ok && !now.ok[i]) {
			char *l = tf_asprintf("%s (it validated before the change)",
			    ch->probes[first + i]);

			free(ch->probes[first + i]);
			ch->probes[first + i] = l;
			if (!failed && ch->failure == NULL)
				ch->failure = tf_asprintf("probe %s", l);
			failed = true;
		}
	}
	state_release(&now);
	return failed;
}

void
change_probe_list(struct cli *cli, const struct change_scope *scope, struct change *ch)
{
	const struct tf_config *cfg = cli->ctx.cfg;
	struct change_scope stores = { 0 };
	char *est = url_hostport(cfg->est_server), *line;
	size_t i, k;

	stores_of(cli, scope, &stores);
	for (i = 0; i < cfg->nprobes; i++)
		for (k = 0; k < stores.n; k++) {
			line = tf_asprintf("%s against %s: would be checked", cfg->probes[i],
			    stores.v[k]);
			add_line(ch, line);
			free(line);
		}
	change_free_list(stores.v, stores.n);
	if (est != NULL && cfg->est_ca_file != NULL) {
		line = tf_asprintf("%s against %s: would be checked", est, cfg->est_ca_file);
		add_line(ch, line);
		free(line);
	}
	free(est);
}

void
change_probe_state_free(struct change_probe_state *st)
{
	if (st == NULL)
		return;
	state_release(st);
	free(st);
}
