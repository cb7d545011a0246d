/*
 * core/config.c - parse trustfix.conf with inih. Every key is known here;
 * anything else is an error that names the file and the line.
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "path.h"

/* A "[section]" header as the reader saw it go by. */
struct section {
	char *name;
	int line;
};

struct parse_state {
	struct tf_config *cfg;
	FILE *fp;
	int lineno;               /* lines handed to inih so far */
	struct section *sections; /* every header, in file order */
	size_t nsections;
	int errline;   /* the line an error is about, when not inih's current one */
	char msg[512]; /* the first error, without its line */
};

struct tf_config *
tf_config_new(void)
{
	struct tf_config *cfg = tf_calloc(1, sizeof(*cfg));

	cfg->renew_before_days = 30;
	cfg->warn_days = 30;
	cfg->hook_timeout = 60;
	return cfg;
}

void
tf_config_free(struct tf_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nstores; i++) {
		free(cfg->stores[i].name);
		free(cfg->stores[i].path);
	}
	free(cfg->stores);
	free(cfg->file);
	free(cfg->policy);
	free(cfg->bundle_signers);
	free(cfg->client_cert);
	free(cfg->client_key);
	free(cfg->client_chain);
	free(cfg);
}

int
tf_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
tf_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
fail(struct parse_state *st, const char *fmt, const char *a, const char *b)
{
	if (st->msg[0] == '\0')
		snprintf(st->msg, sizeof(st->msg), fmt, a, b);
	return 0; /* tells inih this line is an error */
}

static int
set_path(struct parse_state *st, char **dst, const char *name, const char *value)
{
	if (*value == '\0')
		return fail(st, "empty value for '%s'%s", name, "");
	free(*dst);
	*dst = tf_strdup(value);
	return 1;
}

static int
global_key(struct parse_state *st, const char *name, const char *value)
{
	struct tf_config *cfg = st->cfg;
	long v;

	if (strcmp(name, "renew_before_days") == 0) {
		if (tf_parse_int(value, 0, 3650, &v) == -1)
			return fail(st, "bad value '%s' for '%s' (expected days, 0 to 3650)", value,
			    name);
		cfg->renew_before_days = (int)v;
		return 1;
	}
	if (strcmp(name, "renew_lifetime_fraction") == 0) {
		if (tf_parse_double(value, 0.0, 1.0, &cfg->renew_lifetime_fraction) == -1)
			return fail(st, "bad value '%s' for '%s' (expected a number from 0 to 1)",
			    value, name);
		return 1;
	}
	if (strcmp(name, "warn_days") == 0) {
		if (tf_parse_int(value, 0, 3650, &v) == -1)
			return fail(st, "bad value '%s' for '%s' (expected days, 0 to 3650)", value,
			    name);
		cfg->warn_days = (int)v;
		return 1;
	}
	if (strcmp(name, "policy") == 0)
		return set_path(st, &cfg->policy, name, value);
	if (strcmp(name, "hook_timeout") == 0) {
		if (tf_parse_int(value, 1, 86400, &v) == -1)
			return fail(st, "bad value '%s' for '%s' (expected seconds, 1 to 86400)",
			    value, name);
		cfg->hook_timeout = (int)v;
		return 1;
	}
	if (strcmp(name, "bundle_signers") == 0)
		return set_path(st, &cfg->bundle_signers, name, value);
	return fail(st, "unknown key '%s'%s", name, "");
}

static int
store_key(struct parse_state *st, const char *section, const char *name, const char *value)
{
	struct tf_config *cfg = st->cfg;
	struct tf_store_conf *sc = NULL;
	size_t i;

	for (i = 0; i < cfg->nstores; i++)
		if (strcmp(cfg->stores[i].name, section) == 0)
			sc = &cfg->stores[i];
	if (sc == NULL) {
		cfg->stores = tf_realloc(cfg->stores, (cfg->nstores + 1) * sizeof(*sc));
		sc = &cfg->stores[cfg->nstores++];
		sc->name = tf_strdup(section);
		sc->path = NULL;
	}
	if (strcmp(name, "path") == 0)
		return set_path(st, &sc->path, name, value);
	return fail(st, "unknown key '%s' in [store %s]", name, section);
}

static int
client_key(struct parse_state *st, const char *name, const char *value)
{
	struct tf_config *cfg = st->cfg;

	if (strcmp(name, "cert") == 0)
		return set_path(st, &cfg->client_cert, name, value);
	if (strcmp(name, "key") == 0)
		return set_path(st, &cfg->client_key, name, value);
	if (strcmp(name, "chain") == 0)
		return set_path(st, &cfg->client_chain, name, value);
	return fail(st, "unknown key '%s' in [client]%s", name, "");
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;

	if (*section == '\0')
		return global_key(st, name, value);
	if (strncmp(section, "store ", 6) == 0 && section[6] != '\0')
		return store_key(st, section + 6, name, value);
	if (strcmp(section, "client") == 0)
		return client_key(st, name, value);
	if (st->nsections > 0)
		st->errline = st->sections[st->nsections - 1].line;
	return fail(st, "unknown section [%s]%s", section, "");
}

/*
 * inih's line reader, which also notes each "[section]" header and its line:
 * inih calls the handler only for keys, so a section without any (an empty
 * "[store NAME]", a misspelt "[clinet]") would otherwise go unnoticed.
 */
static char *
reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	char *p, *end;

	if (fgets(str, num, st->fp) == NULL)
		return NULL;
	st->lineno++;
	p = str;
	if (st->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3; /* a UTF-8 BOM, which inih skips too */
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\f' || *p == '\v')
		p++;
	if (*p == '[' && (end = strchr(p + 1, ']')) != NULL) {
		st->sections =
		    tf_realloc(st->sections, (st->nsections + 1) * sizeof(*st->sections));
		st->sections[st->nsections].name = tf_strndup(p + 1, (size_t)(end - p - 1));
		st->sections[st->nsections].line = st->lineno;
		st->nsections++;
	}
	return str;
}

/* Every section header names a known section; every store has a path. */
static int
check_sections(struct parse_state *st)
{
	struct tf_config *cfg = st->cfg;
	size_t i, j;

	for (i = 0; i < st->nsections; i++) {
		const char *name = st->sections[i].name;

		st->errline = st->sections[i].line;
		if (strcmp(name, "client") == 0)
			continue;
		if (strncmp(name, "store ", 6) != 0 || name[6] == '\0')
			return fail(st, "unknown section [%s]%s", name, "");
		for (j = 0; j < cfg->nstores; j++)
			if (strcmp(cfg->stores[j].name, name + 6) == 0 &&
			    cfg->stores[j].path != NULL)
				break;
		if (j == cfg->nstores)
			return fail(st, "[store %s] has no 'path'%s", name + 6, "");
	}
	st->errline = 0;
	return 1;
}

int
tf_config_load(struct tf_config **out, struct tf_ctx *ctx, const char *path, bool required)
{
	struct parse_state st;
	char *host = tf_hostpath(ctx, path);
	size_t i;
	int fd, line, rc = TF_ECONFIG;

	memset(&st, 0, sizeof(st));
	st.cfg = tf_config_new();
	*out = NULL;
	if ((fd = tf_open(ctx, path, O_RDONLY, 0)) == -1) {
		if (errno == ENOENT && !required) {
			*out = st.cfg;
			st.cfg = NULL;
			rc = 0;
		} else {
			rc = tf_error_sys(ctx, TF_ECONFIG, "cannot open config '%s'", host);
		}
		goto out;
	}
	if ((st.fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		rc = tf_error_sys(ctx, TF_ECONFIG, "cannot read config '%s'", host);
		goto out;
	}
	ini_use_stack = false;
	ini_max_line = 8192;
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	line = ini_parse_stream(reader, &st, handler, &st);
	if (ferror(st.fp)) {
		/* fgets() failed: a directory, an I/O error */
		rc = tf_error_sys(ctx, TF_ECONFIG, "cannot read config '%s'", host);
		goto out;
	}
	if (line == 0 && !check_sections(&st))
		line = st.errline;
	if (line != 0) {
		if (line < 0)
			rc = tf_error(ctx, TF_ECONFIG, "cannot read config '%s'", host);
		else
			rc = tf_error(ctx, TF_ECONFIG, "%s:%d: %s", host,
			    st.errline > 0 ? st.errline : line,
			    st.msg[0] ? st.msg
			              : "syntax error (expected '[section]' or 'key = value')");
		goto out;
	}
	st.cfg->file = tf_strdup(path);
	*out = st.cfg;
	st.cfg = NULL;
	rc = 0;
out:
	if (st.fp != NULL)
		fclose(st.fp);
	for (i = 0; i < st.nsections; i++)
		free(st.sections[i].name);
	free(st.sections);
	tf_config_free(st.cfg);
	free(host);
	return rc;
}
