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
#include <strings.h>
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
	cfg->est_max_wait = -1;
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
	for (i = 0; i < cfg->nhooks; i++)
		free(cfg->hooks[i].name);
	free(cfg->hooks);
	free(cfg->file);
	free(cfg->policy);
	free(cfg->bundle_signers);
	for (i = 0; i < cfg->nprobes; i++)
		free(cfg->probes[i]);
	free(cfg->probes);
	free(cfg->client_cert);
	free(cfg->client_key);
	free(cfg->client_chain);
	free(cfg->est_server);
	free(cfg->est_ca_file);
	free(cfg->est_label);
	free(cfg->est_username);
	free(cfg->est_password_file);
	free(cfg->est_subject);
	for (i = 0; i < cfg->est_nsans; i++)
		free(cfg->est_sans[i]);
	free(cfg->est_sans);
	free(cfg->est_key_type);
	free(cfg->bootstrap_cert);
	free(cfg->bootstrap_key);
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

/* "probe = host:port", repeatable: a host (or [ipv6]) and a port from 1 to 65535. */
static int
add_probe(struct parse_state *st, const char *value)
{
	struct tf_config *cfg = st->cfg;
	const char *colon = strrchr(value, ':');
	long port;

	if (colon == NULL || colon == value || colon[1] < '0' || colon[1] > '9' ||
	    tf_parse_int(colon + 1, 1, 65535, &port) == -1 ||
	    (value[0] == '[' ? colon[-1] != ']' || colon == value + 2
	                     : memchr(value, ':', (size_t)(colon - value)) != NULL))
		return fail(st, "bad value '%s' for '%s' (expected host:port or [ipv6]:port)",
		    value, "probe");
	cfg->probes = tf_realloc(cfg->probes, (cfg->nprobes + 1) * sizeof(*cfg->probes));
	cfg->probes[cfg->nprobes++] = tf_strdup(value);
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
	if (strcmp(name, "probe") == 0)
		return add_probe(st, value);
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
hook_key(struct parse_state *st, const char *section, const char *name, const char *value)
{
	struct tf_config *cfg = st->cfg;
	struct tf_hook_conf *hc = NULL;
	size_t i;

	if (strspn(section, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
	    strlen(section))
		return fail(st, "[hook %s]: a hook name is made of A-Z a-z 0-9 _ -%s", section, "");
	for (i = 0; i < cfg->nhooks; i++)
		if (strcmp(cfg->hooks[i].name, section) == 0)
			hc = &cfg->hooks[i];
	if (hc == NULL) {
		cfg->hooks = tf_realloc(cfg->hooks, (cfg->nhooks + 1) * sizeof(*hc));
		hc = &cfg->hooks[cfg->nhooks++];
		hc->name = tf_strdup(section);
		hc->warn = false;
	}
	if (strcmp(name, "on_failure") != 0)
		return fail(st, "unknown key '%s' in [hook %s]", name, section);
	if (strcmp(value, "rollback") == 0)
		hc->warn = false;
	else if (strcmp(value, "warn") == 0)
		hc->warn = true;
	else
		return fail(st, "on_failure must be 'rollback' or 'warn', not '%s'%s", value, "");
	return 1;
}

/* The key types renew/keygen.c makes (est_key_type_parse()). */
static bool
is_key_type(const char *v)
{
	static const char *const names[] = { "ec-p256", "ec-p384", "p256", "p384", "rsa2048",
		"rsa3072", "rsa4096" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(v, names[i]) == 0)
			return true;
	return false;
}

/* "san = DNS:a, IP:10.0.0.1": each name is TYPE:VALUE, appended in order. */
static int
add_sans(struct parse_state *st, const char *value)
{
	struct tf_config *cfg = st->cfg;
	const char *p = value;

	if (*value == '\0')
		return fail(st, "empty value for '%s'%s", "san", "");
	while (*p != '\0') {
		size_t n = strcspn(p, ","), b = 0, e = n;
		char *one;

		while (b < e && (p[b] == ' ' || p[b] == '\t'))
			b++;
		while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		one = tf_strndup(p + b, e - b);
		if (strncmp(one, "DNS:", 4) != 0 && strncmp(one, "IP:", 3) != 0 &&
		    strncmp(one, "email:", 6) != 0 && strncmp(one, "URI:", 4) != 0) {
			fail(st,
			    "bad value '%s' for 'san' (expected DNS:name, IP:address, "
			    "email:address or "
			    "URI:uri, comma separated)%s",
			    one, "");
			free(one);
			return 0;
		}
		cfg->est_sans = tf_realloc(cfg->est_sans, (cfg->est_nsans + 1) * sizeof(char *));
		cfg->est_sans[cfg->est_nsans++] = one;
		p += n;
		if (*p == ',')
			p++;
	}
	return 1;
}

static int
client_key(struct parse_state *st, const char *name, const char *value)
{
	struct tf_config *cfg = st->cfg;
	long v;

	if (strcmp(name, "server") == 0) {
		if (strncasecmp(value, "https://", 8) != 0 || value[8] == '\0')
			return fail(st, "bad value '%s' for '%s' (expected an https:// URL)", value,
			    name);
		return set_path(st, &cfg->est_server, name, value);
	}
	if (strcmp(name, "ca_file") == 0)
		return set_path(st, &cfg->est_ca_file, name, value);
	if (strcmp(name, "label") == 0)
		return set_path(st, &cfg->est_label, name, value);
	if (strcmp(name, "username") == 0)
		return set_path(st, &cfg->est_username, name, value);
	if (strcmp(name, "password_file") == 0)
		return set_path(st, &cfg->est_password_file, name, value);
	if (strcmp(name, "subject") == 0)
		return set_path(st, &cfg->est_subject, name, value);
	if (strcmp(name, "san") == 0)
		return add_sans(st, value);
	if (strcmp(name, "key_type") == 0) {
		if (!is_key_type(value))
			return fail(st,
			    "bad value '%s' for '%s' (expected ec-p256, ec-p384, rsa2048, rsa3072 "
			    "or "
			    "rsa4096)",
			    value, name);
		return set_path(st, &cfg->est_key_type, name, value);
	}
	if (strcmp(name, "max_wait") == 0) {
		if (tf_parse_int(value, 0, 86400, &v) == -1)
			return fail(st, "bad value '%s' for '%s' (expected seconds, 0 to 86400)",
			    value, name);
		cfg->est_max_wait = (int)v;
		return 1;
	}
	if (strcmp(name, "bootstrap_cert") == 0)
		return set_path(st, &cfg->bootstrap_cert, name, value);
	if (strcmp(name, "bootstrap_key") == 0)
		return set_path(st, &cfg->bootstrap_key, name, value);
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
	if (strncmp(section, "hook ", 5) == 0 && section[5] != '\0')
		return hook_key(st, section + 5, name, value);
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
		if (strcmp(name, "client") == 0 ||
		    (strncmp(name, "hook ", 5) == 0 && name[5] != '\0'))
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
