/*
 * bundles/manifest.c - the JSON documents of a bundle, through jansson: the
 * signed manifest (parse strictly, validate, write) and the record kept
 * for an installed bundle.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/certinfo.h"
#include "internal.h"

#define MANIFEST_MAX (1024 * 1024)
#define VERSION_MAX 9007199254740991LL /* 2^53 - 1: exact in every JSON reader */
#define TEXT_MAX 1024                  /* bytes of a name, reason or description */

/* The state of one parse: the context and the manifest's name in messages. */
struct parser {
	struct tf_ctx *ctx;
	const char *origin;
};

static int
bad(struct parser *p, const char *fmt, const char *a, const char *b)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, a, b);
	return tf_error(p->ctx, TF_EINVALID, "'%s': %s", p->origin, msg);
}

int
bundle_time_parse(const char *s, bool date_ok, time_t *out)
{
	int v[6] = { 0 }, i, k;
	static const int pos[6] = { 0, 5, 8, 11, 14, 17 }, width[6] = { 4, 2, 2, 2, 2, 2 };
	size_t n = strlen(s);
	struct tm tm, back;
	time_t t;

	if (n == 20) {
		if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		    s[19] != 'Z')
			return -1;
	} else if (n == 10 && date_ok) {
		if (s[4] != '-' || s[7] != '-')
			return -1;
	} else {
		return -1;
	}
	for (i = 0; i < (n == 20 ? 6 : 3); i++) {
		for (k = 0; k < width[i]; k++) {
			char c = s[pos[i] + k];

			if (c < '0' || c > '9')
				return -1;
			v[i] = v[i] * 10 + (c - '0');
		}
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if ((t = timegm(&tm)) == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_mday != v[2] || back.tm_mon != v[1] - 1)
		return -1; /* 2025-02-30 */
	*out = t;
	return 0;
}

bool
bundle_name_is_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 64 || strstr(name, "..") != NULL)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        (i > 0 && (c == '.' || c == '_' || c == '-'))))
			return false;
	}
	return true;
}

/* Only the keys of 'allowed' (NULL-terminated) in the object. */
static int
only_keys(struct parser *p, const json_t *obj, const char *where, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, key, v)
	{
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return bad(p, "unknown key '%s'%s", key, where);
	}
	return 0;
}

/* An optional text: a string of printable characters, at most TEXT_MAX bytes. */
static int
text(struct parser *p, const json_t *obj, const char *key, const char *where, bool required,
    char **out)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;
	size_t i, n;

	*out = NULL;
	if (v == NULL) {
		if (required)
			return bad(p, "'%s' is missing%s", key, where);
		return 0;
	}
	if (!json_is_string(v))
		return bad(p, "'%s'%s must be a string", key, where);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > TEXT_MAX)
		return bad(p, "'%s'%s must hold 1 to 1024 bytes", key, where);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return bad(p, "'%s'%s holds a control character", key, where);
	*out = tf_strdup(s);
	return 0;
}

static int
sha256_of(struct parser *p, const json_t *obj, const char *where, unsigned char out[32])
{
	const char *hex = json_string_value(json_object_get(obj, "sha256"));

	if (hex == NULL || strlen(hex) != 64 || tf_unhex(out, 32, hex) == -1)
		return bad(p, "%s needs \"sha256\": 64 hex digits%s", where, "");
	return 0;
}

static int
timestamp(struct parser *p, const json_t *doc, const char *key, time_t *out)
{
	const char *s = json_string_value(json_object_get(doc, key));

	if (json_object_get(doc, key) == NULL)
		return bad(p, "'%s' is missing%s", key, "");
	if (s == NULL || bundle_time_parse(s, false, out) == -1)
		return bad(p, "'%s' must be a UTC time such as \"2025-06-01T12:00:00Z\"%s", key,
		    "");
	return 0;
}

/* "decommissioned" or "required": fingerprints with a name and a reason. */
static int
parse_refs(struct parser *p, const json_t *pol, const char *key, struct bundle_ref **out,
    size_t *nout)
{
	static const char *const keys[] = { "sha256", "name", "reason", NULL };
	const json_t *arr = json_object_get(pol, key), *e;
	char where[64], hex[65];
	size_t i, k;
	int rc;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return bad(p, "'policy.%s' must be a list%s", key, "");
	*out = tf_calloc(json_array_size(arr), sizeof(**out));
	json_array_foreach(arr, i, e)
	{
		struct bundle_ref *r = &(*out)[i];

		snprintf(where, sizeof(where), " in policy.%s[%zu]", key, i);
		*nout = i + 1;
		if (!json_is_object(e))
			return bad(p, "the entry%s must be an object%s", where, "");
		if ((rc = only_keys(p, e, where, keys)) != 0 ||
		    (rc = sha256_of(p, e, where + 4, r->sha256)) != 0 ||
		    (rc = text(p, e, "name", where, false, &r->name)) != 0 ||
		    (rc = text(p, e, "reason", where, false, &r->reason)) != 0)
			return rc;
		tf_hex(hex, r->sha256, 32);
		if (r->name == NULL)
			r->name = tf_strdup(hex);
		for (k = 0; k < i; k++)
			if (memcmp((*out)[k].sha256, r->sha256, 32) == 0)
				return bad(p, "%s is listed twice in policy.%s", hex, key);
	}
	return 0;
}

/* A file name of the manifest: a certificate file of the bundle. */
static int
cert_path(struct parser *p, const char *path, const char *where)
{
	char *norm = NULL;
	const char *why = entries_check_name(path, &norm);
	size_t n;
	bool ok;

	if (why != NULL)
		return bad(p, "'%s': %s", path, why);
	ok = norm != NULL && strcmp(norm, path) == 0 &&
	    strncmp(path, CERTS_DIR "/", sizeof(CERTS_DIR)) == 0 &&
	    strchr(path + sizeof(CERTS_DIR), '/') == NULL && (n = strlen(path)) > 10 &&
	    strcmp(path + n - 4, ".pem") == 0;
	free(norm);
	if (!ok)
		return bad(p, "'%s'%s must name a file certs/NAME.pem", path, where);
	return 0;
}

static int
parse_add(struct parser *p, const json_t *pol, struct bundle_manifest *m)
{
	static const char *const keys[] = { "sha256", "name", "file", NULL };
	const json_t *arr = json_object_get(pol, "add"), *e;
	char where[64], hex[65];
	size_t i, k;
	int rc;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return bad(p, "'policy.add' must be a list%s%s", "", "");
	m->add = tf_calloc(json_array_size(arr), sizeof(*m->add));
	json_array_foreach(arr, i, e)
	{
		struct bundle_cert *c = &m->add[i];

		snprintf(where, sizeof(where), " in policy.add[%zu]", i);
		m->nadd = i + 1;
		if (!json_is_object(e))
			return bad(p, "the entry%s must be an object%s", where, "");
		if ((rc = only_keys(p, e, where, keys)) != 0 ||
		    (rc = sha256_of(p, e, where + 4, c->sha256)) != 0 ||
		    (rc = text(p, e, "name", where, false, &c->name)) != 0 ||
		    (rc = text(p, e, "file", where, true, &c->file)) != 0 ||
		    (rc = cert_path(p, c->file, where)) != 0)
			return rc;
		tf_hex(hex, c->sha256, 32);
		for (k = 0; k < i; k++) {
			if (memcmp(m->add[k].sha256, c->sha256, 32) == 0)
				return bad(p, "%s is listed twice in policy.add%s", hex, "");
			if (strcmp(m->add[k].file, c->file) == 0)
				return bad(p, "'%s' is named twice in policy.add%s", c->file, "");
		}
	}
	return 0;
}

static int
parse_policy(struct parser *p, const json_t *doc, struct bundle_manifest *m)
{
	static const char *const keys[] = { "policy", "description", "add", "decommissioned",
		"required", NULL };
	const json_t *pol = json_object_get(doc, "policy");
	char *desc = NULL, hex[65];
	size_t i;
	int rc;

	if (pol == NULL)
		return bad(p, "'policy' is missing%s%s", "", "");
	if (!json_is_object(pol))
		return bad(p, "'policy' must be an object%s%s", "", "");
	if ((rc = only_keys(p, pol, " in policy", keys)) != 0 ||
	    (rc = text(p, pol, "policy", " in policy", false, &m->policy_name)) != 0 ||
	    (rc = text(p, pol, "description", " in policy", false, &desc)) != 0 ||
	    (rc = parse_add(p, pol, m)) != 0 ||
	    (rc = parse_refs(p, pol, "decommissioned", &m->remove, &m->nremove)) != 0 ||
	    (rc = parse_refs(p, pol, "required", &m->require, &m->nrequire)) != 0)
		goto out;
	if (m->policy_name == NULL)
		m->policy_name = tf_strdup(m->name);
	if (m->nadd + m->nremove + m->nrequire == 0) {
		rc = bad(p, "the policy adds, decommissions and requires nothing%s%s", "", "");
		goto out;
	}
	for (i = 0; i < m->nremove; i++) {
		const unsigned char *fp = m->remove[i].sha256;
		size_t k;

		tf_hex(hex, fp, 32);
		for (k = 0; k < m->nadd; k++)
			if (memcmp(m->add[k].sha256, fp, 32) == 0)
				goto conflict;
		for (k = 0; k < m->nrequire; k++)
			if (memcmp(m->require[k].sha256, fp, 32) == 0)
				goto conflict;
	}
	rc = 0;
	goto out;
conflict:
	rc = bad(p, "%s is decommissioned and also added or required%s", hex, "");
out:
	free(desc);
	return rc;
}

static int
parse_files(struct parser *p, const json_t *doc, struct bundle_manifest *m)
{
	static const char *const keys[] = { "path", "sha256", "size", NULL };
	const json_t *arr = json_object_get(doc, "files"), *e, *size;
	char where[64];
	size_t i, k;
	int rc;

	if (arr == NULL)
		return bad(p, "'files' is missing%s%s", "", "");
	if (!json_is_array(arr))
		return bad(p, "'files' must be a list%s%s", "", "");
	m->files = tf_calloc(json_array_size(arr), sizeof(*m->files));
	json_array_foreach(arr, i, e)
	{
		struct bundle_file *f = &m->files[i];

		snprintf(where, sizeof(where), " in files[%zu]", i);
		m->nfiles = i + 1;
		if (!json_is_object(e))
			return bad(p, "the entry%s must be an object%s", where, "");
		if ((rc = only_keys(p, e, where, keys)) != 0 ||
		    (rc = text(p, e, "path", where, true, &f->path)) != 0 ||
		    (rc = cert_path(p, f->path, where)) != 0 ||
		    (rc = sha256_of(p, e, where + 4, f->sha256)) != 0)
			return rc;
		size = json_object_get(e, "size");
		if (!json_is_integer(size) || json_integer_value(size) < 0 ||
		    json_integer_value(size) > BUNDLE_ENTRY_MAX)
			return bad(p, "'size'%s must be a number of bytes, at most 1 MiB", where,
			    "");
		f->size = (size_t)json_integer_value(size);
		for (k = 0; k < i; k++)
			if (strcmp(m->files[k].path, f->path) == 0)
				return bad(p, "'%s' is listed twice in files%s", f->path, "");
	}
	/* every certificate added is a file, and every file a certificate added */
	for (i = 0; i < m->nadd; i++) {
		for (k = 0; k < m->nfiles; k++)
			if (strcmp(m->files[k].path, m->add[i].file) == 0)
				break;
		if (k == m->nfiles)
			return bad(p, "'%s' of policy.add is not listed in files%s", m->add[i].file,
			    "");
	}
	for (k = 0; k < m->nfiles; k++) {
		for (i = 0; i < m->nadd; i++)
			if (strcmp(m->files[k].path, m->add[i].file) == 0)
				break;
		if (i == m->nadd)
			return bad(p, "'%s' of files is no certificate of policy.add%s",
			    m->files[k].path, "");
	}
	return 0;
}

int
manifest_parse(struct bundle_manifest **out, struct tf_ctx *ctx, const char *json, size_t len,
    const char *origin)
{
	static const char *const keys[] = { "format", "name", "version", "created", "expires",
		"description", "policy", "files", NULL };
	struct parser p = { ctx, origin };
	struct bundle_manifest *m = tf_calloc(1, sizeof(*m));
	json_error_t jerr;
	json_t *doc = NULL, *v;
	char line[32];
	int rc;

	*out = NULL;
	if (len > MANIFEST_MAX) {
		rc = bad(&p, "larger than 1 MiB%s%s", "", "");
		goto out;
	}
	if ((doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(line, sizeof(line), "%d", jerr.line);
		rc = bad(&p, "not valid JSON: line %s: %s", line, jerr.text);
		goto out;
	}
	if (!json_is_object(doc)) {
		rc = bad(&p, "not a JSON object%s%s", "", "");
		goto out;
	}
	if ((rc = only_keys(&p, doc, "", keys)) != 0)
		goto out;
	v = json_object_get(doc, "format");
	if (!json_is_integer(v)) {
		rc = bad(&p, "'format' must be the number %s%s", "1", "");
		goto out;
	}
	if (json_integer_value(v) != BUNDLE_FORMAT) {
		snprintf(line, sizeof(line), "%lld", (long long)json_integer_value(v));
		rc = bad(&p, "bundle format %s is not supported (this trustfix reads format %s)",
		    line, "1");
		goto out;
	}
	m->format = BUNDLE_FORMAT;
	if ((rc = text(&p, doc, "name", "", true, &m->name)) != 0)
		goto out;
	if (!bundle_name_is_valid(m->name)) {
		rc = bad(&p,
		    "'name' must be 1 to 64 of a-z 0-9 . _ - (starting with a letter or digit)%s%s",
		    "", "");
		goto out;
	}
	v = json_object_get(doc, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > VERSION_MAX) {
		rc = bad(&p, "'version' must be a whole number from 1%s%s", "", "");
		goto out;
	}
	m->version = json_integer_value(v);
	if ((rc = timestamp(&p, doc, "created", &m->created)) != 0 ||
	    (rc = timestamp(&p, doc, "expires", &m->expires)) != 0)
		goto out;
	if (m->expires <= m->created) {
		rc = bad(&p, "'expires' must be later than 'created'%s%s", "", "");
		goto out;
	}
	if ((rc = text(&p, doc, "description", "", false, &m->description)) != 0 ||
	    (rc = parse_policy(&p, doc, m)) != 0 || (rc = parse_files(&p, doc, m)) != 0)
		goto out;
	*out = m;
	m = NULL;
	rc = 0;
out:
	json_decref(doc);
	manifest_free(m);
	return rc;
}

static json_t *
jhex(const unsigned char *p)
{
	char hex[65];

	tf_hex(hex, p, 32);
	return json_string(hex);
}

static json_t *
jtime(time_t t)
{
	char buf[32];

	tf_time_iso(buf, sizeof(buf), t);
	return json_string(buf);
}

static json_t *
refs_json(const struct bundle_ref *v, size_t n)
{
	json_t *arr = json_array(), *o;
	size_t i;

	for (i = 0; i < n; i++) {
		o = json_object();
		json_object_set_new(o, "sha256", jhex(v[i].sha256));
		json_object_set_new(o, "name", json_string(v[i].name));
		if (v[i].reason != NULL)
			json_object_set_new(o, "reason", json_string(v[i].reason));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* The policy of a manifest; with 'add', as the manifest has it. */
static json_t *
policy_json(const struct bundle_manifest *m, bool add)
{
	json_t *pol = json_object(), *arr, *o;
	size_t i;

	json_object_set_new(pol, "policy", json_string(m->policy_name));
	if (add) {
		arr = json_array();
		for (i = 0; i < m->nadd; i++) {
			o = json_object();
			json_object_set_new(o, "sha256", jhex(m->add[i].sha256));
			json_object_set_new(o, "name", json_string(m->add[i].name));
			json_object_set_new(o, "file", json_string(m->add[i].file));
			json_array_append_new(arr, o);
		}
		json_object_set_new(pol, "add", arr);
	}
	json_object_set_new(pol, "decommissioned", refs_json(m->remove, m->nremove));
	json_object_set_new(pol, "required", refs_json(m->require, m->nrequire));
	return pol;
}

static char *
dump(json_t *doc, size_t *len)
{
	char *s = json_dumps(doc, JSON_INDENT(2)), *t;

	json_decref(doc);
	if (s == NULL)
		abort(); /* out of memory */
	t = tf_asprintf("%s\n", s);
	free(s);
	*len = strlen(t);
	return t;
}

char *
manifest_dump(const struct bundle_manifest *m, size_t *len)
{
	json_t *doc = json_object(), *files = json_array(), *o;
	size_t i;

	json_object_set_new(doc, "format", json_integer(m->format));
	json_object_set_new(doc, "name", json_string(m->name));
	json_object_set_new(doc, "version", json_integer(m->version));
	json_object_set_new(doc, "created", jtime(m->created));
	json_object_set_new(doc, "expires", jtime(m->expires));
	if (m->description != NULL)
		json_object_set_new(doc, "description", json_string(m->description));
	json_object_set_new(doc, "policy", policy_json(m, true));
	for (i = 0; i < m->nfiles; i++) {
		o = json_object();
		json_object_set_new(o, "path", json_string(m->files[i].path));
		json_object_set_new(o, "sha256", jhex(m->files[i].sha256));
		json_object_set_new(o, "size", json_integer((json_int_t)m->files[i].size));
		json_array_append_new(files, o);
	}
	json_object_set_new(doc, "files", files);
	return dump(doc, len);
}

static void
refs_free(struct bundle_ref *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].reason);
	}
	free(v);
}

void
manifest_free(struct bundle_manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nadd; i++) {
		free(m->add[i].name);
		free(m->add[i].file);
		free(m->add[i].der);
	}
	free(m->add);
	refs_free(m->remove, m->nremove);
	refs_free(m->require, m->nrequire);
	for (i = 0; i < m->nfiles; i++)
		free(m->files[i].path);
	free(m->files);
	free(m->name);
	free(m->description);
	free(m->policy_name);
	free(m);
}

/* ---- the record of an installed bundle ---- */

char *
record_dump(const struct bundle *b, time_t applied, bool downgrade, size_t *len)
{
	const struct bundle_manifest *m = b->m;
	json_t *doc = json_object(), *signer = json_object(), *pol = policy_json(m, false);
	char *source = tf_asprintf("bundle %s version %lld", m->name, m->version);

	json_object_set_new(doc, "name", json_string(m->name));
	json_object_set_new(doc, "version", json_integer(m->version));
	json_object_set_new(doc, "manifest_sha256", json_string(b->manifest_sha256));
	json_object_set_new(signer, "subject", json_string(b->signer));
	json_object_set_new(signer, "sha256", json_string(b->signer_sha256));
	json_object_set_new(doc, "signer", signer);
	json_object_set_new(doc, "created", jtime(m->created));
	json_object_set_new(doc, "expires", jtime(m->expires));
	json_object_set_new(doc, "applied", jtime(applied));
	json_object_set_new(doc, "downgrade", json_boolean(downgrade));
	json_object_set_new(pol, "description", json_string(source));
	json_object_set_new(doc, "policy", pol);
	free(source);
	return dump(doc, len);
}

int
record_parse(struct bundle_record *r, struct tf_ctx *ctx, const char *json, size_t len,
    const char *origin)
{
	json_error_t jerr;
	json_t *doc, *pol;
	const char *name, *msha, *subject, *ssha, *created, *expires, *applied;
	int rc = TF_ECONFIG;

	memset(r, 0, sizeof(*r));
	if ((doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return tf_error(ctx, rc, "bundle record '%s' line %d: %s", origin, jerr.line,
		    jerr.text);
	name = json_string_value(json_object_get(doc, "name"));
	msha = json_string_value(json_object_get(doc, "manifest_sha256"));
	subject = json_string_value(json_object_get(json_object_get(doc, "signer"), "subject"));
	ssha = json_string_value(json_object_get(json_object_get(doc, "signer"), "sha256"));
	created = json_string_value(json_object_get(doc, "created"));
	expires = json_string_value(json_object_get(doc, "expires"));
	applied = json_string_value(json_object_get(doc, "applied"));
	pol = json_object_get(doc, "policy");
	if (name == NULL || !bundle_name_is_valid(name) || msha == NULL || strlen(msha) != 64 ||
	    subject == NULL || ssha == NULL || !json_is_integer(json_object_get(doc, "version")) ||
	    created == NULL || bundle_time_parse(created, false, &r->created) == -1 ||
	    expires == NULL || bundle_time_parse(expires, false, &r->expires) == -1 ||
	    applied == NULL || bundle_time_parse(applied, false, &r->applied) == -1 ||
	    !json_is_object(pol)) {
		tf_error(ctx, rc, "bundle record '%s' is damaged: remove it, or roll back", origin);
		goto out;
	}
	r->name = tf_strdup(name);
	r->version = json_integer_value(json_object_get(doc, "version"));
	r->manifest_sha256 = tf_strdup(msha);
	r->signer = tf_strdup(subject);
	r->signer_sha256 = tf_strdup(ssha);
	r->downgrade = json_is_true(json_object_get(doc, "downgrade"));
	if ((r->policy_json = json_dumps(pol, JSON_COMPACT)) == NULL)
		abort();
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

void
record_release(struct bundle_record *r)
{
	free(r->name);
	free(r->manifest_sha256);
	free(r->signer);
	free(r->signer_sha256);
	free(r->policy_json);
	memset(r, 0, sizeof(*r));
}
