/*
 * bundles/entries.c - the rules every entry of a bundle must follow before
 * it is kept in memory: safe names, regular files and folders only, no
 * duplicate, no set-id bit, the bundle's layout, and the limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A name as messages show it: control and non-ASCII bytes escaped, cut short. */
char *
entries_show(const char *raw)
{
	size_t i, n = 0, max = 80;
	char *s = tf_malloc(4 * max + 4);

	for (i = 0; raw[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\')
			n += (size_t)snprintf(s + n, 5, "\\x%02x", c);
		else
			s[n++] = (char)c;
	}
	if (raw[i] != '\0') {
		memcpy(s + n, "...", 3);
		n += 3;
	}
	s[n] = '\0';
	return s;
}

static bool
name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '_' || c == '-' || c == '+' || c == '/';
}

const char *
entries_check_name(const char *raw, char **norm)
{
	const char *p = raw, *c, *end;
	size_t n = strlen(raw), i;

	*norm = NULL;
	if (n == 0)
		return "the name is empty";
	if (n > BUNDLE_NAME_MAX)
		return "the name is longer than 255 bytes";
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)raw[i];

		if (ch == '\\')
			return "the name holds a backslash";
		if (ch < 0x20 || ch == 0x7f)
			return "the name holds a control character";
	}
	if (raw[0] == '/')
		return "the name is an absolute path";
	if (strncmp(p, "./", 2) == 0)
		p += 2;
	else if (strcmp(p, ".") == 0)
		p++;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0)
		return NULL; /* the archive's own top folder: "./" */
	for (c = p; c < p + n; c = end + 1) {
		end = memchr(c, '/', (size_t)(p + n - c));
		if (end == NULL)
			end = p + n;
		if (end == c)
			return "the name holds an empty path component";
		if (end - c == 2 && c[0] == '.' && c[1] == '.')
			return "the name holds '..'";
		if (end - c == 1 && c[0] == '.')
			return "the name holds '.'";
	}
	for (i = 0; i < n; i++)
		if (!name_char((unsigned char)p[i]))
			return "the name holds a character other than letters, digits and ._+-";
	*norm = tf_strndup(p, n);
	return NULL;
}

const struct bundle_entry *
entries_find(const struct bundle_entries *es, const char *name)
{
	size_t i;

	for (i = 0; i < es->n; i++)
		if (strcmp(es->v[i].name, name) == 0)
			return &es->v[i];
	return NULL;
}

/* Where the entry may be in a bundle, or NULL when it fits the layout. */
static const char *
layout(const char *name, char type)
{
	const char *base;
	size_t n;

	if (strcmp(name, MANIFEST_NAME) == 0 || strcmp(name, SIGNATURE_NAME) == 0)
		return type == 'f' ? NULL : "must be a regular file";
	if (strcmp(name, CERTS_DIR) == 0)
		return type == 'd' ? NULL : "must be a folder";
	if (strncmp(name, CERTS_DIR "/", sizeof(CERTS_DIR)) == 0) {
		base = name + sizeof(CERTS_DIR);
		n = strlen(base);
		if (strchr(base, '/') != NULL || n <= 4 || strcmp(base + n - 4, ".pem") != 0 ||
		    type != 'f')
			return "is not a certificate file: certs/ holds NAME.pem files only";
		return NULL;
	}
	return "is not part of a bundle, which holds manifest.json, manifest.json.sig and "
	       "certs/*.pem only";
}

int
entries_check(struct bundle_entries *es, struct tf_ctx *ctx, const char *origin, const char *raw,
    char type, const char *what, unsigned mode, char **norm_out)
{
	const char *why;
	char *norm = NULL, *shown = entries_show(raw);
	int rc = TF_EINVALID;

	*norm_out = NULL;
	if ((why = entries_check_name(raw, &norm)) != NULL) {
		tf_error(ctx, rc, "'%s': entry '%s': %s", origin, shown, why);
		goto out;
	}
	if (norm != NULL && entries_find(es, norm) != NULL) {
		tf_error(ctx, rc, "'%s': entry '%s': appears twice (duplicate entries)", origin,
		    shown);
		goto out;
	}
	if (type != 'f' && type != 'd') {
		tf_error(ctx, rc,
		    "'%s': entry '%s': is %s: only regular files and folders are allowed", origin,
		    shown, what);
		goto out;
	}
	if (mode & 07000) {
		tf_error(ctx, rc,
		    "'%s': entry '%s': has the set-user-ID, set-group-ID or sticky bit", origin,
		    shown);
		goto out;
	}
	if (norm == NULL) {
		if (type != 'd')
			tf_error(ctx, rc, "'%s': entry '%s': must be a folder", origin, shown);
		else
			rc = 0; /* "./" itself: nothing to keep */
		goto out;
	}
	if ((why = layout(norm, type)) != NULL) {
		tf_error(ctx, rc, "'%s': entry '%s' %s", origin, shown, why);
		goto out;
	}
	if (es->n >= BUNDLE_ENTRIES_MAX) {
		tf_error(ctx, rc, "'%s': more than %d entries", origin, BUNDLE_ENTRIES_MAX);
		goto out;
	}
	*norm_out = norm;
	norm = NULL;
	rc = 0;
out:
	free(norm);
	free(shown);
	return rc;
}

int
entries_append(struct bundle_entries *es, struct tf_ctx *ctx, const char *origin, char *norm,
    char type, const void *data, size_t len)
{
	struct bundle_entry *e;

	if (len > BUNDLE_ENTRY_MAX || es->total + len > BUNDLE_TOTAL_MAX) {
		char *shown = entries_show(norm);

		tf_error(ctx, TF_EINVALID, "'%s': entry '%s': %s", origin, shown,
		    len > BUNDLE_ENTRY_MAX ? "larger than the limit of 1 MiB per entry"
		                           : "the entries hold more than the limit of 16 MiB");
		free(shown);
		free(norm);
		return TF_EINVALID;
	}
	es->v = tf_realloc(es->v, (es->n + 1) * sizeof(*es->v));
	e = &es->v[es->n++];
	e->name = norm;
	e->is_dir = type == 'd';
	e->len = len;
	e->data = tf_malloc(len + 1);
	if (len > 0)
		memcpy(e->data, data, len);
	e->data[len] = '\0';
	es->total += len;
	return 0;
}

int
entries_add(struct bundle_entries *es, struct tf_ctx *ctx, const char *origin, const char *raw,
    char type, const char *what, unsigned mode, const void *data, size_t len)
{
	char *norm;
	int rc;

	if ((rc = entries_check(es, ctx, origin, raw, type, what, mode, &norm)) != 0 ||
	    norm == NULL)
		return rc;
	return entries_append(es, ctx, origin, norm, type, data, len);
}

void
entries_release(struct bundle_entries *es)
{
	size_t i;

	for (i = 0; i < es->n; i++) {
		free(es->v[i].name);
		free(es->v[i].data);
	}
	free(es->v);
	memset(es, 0, sizeof(*es));
}
