/*
 * cli/output.c - JSON (jansson) and Prometheus text helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/certinfo.h"
#include "../core/tf.h"
#include "output.h"

json_t *
out_jstr(const char *s)
{
	json_t *v;
	char *esc, *p;

	if (s == NULL)
		return json_null();
	if ((v = json_string(s)) != NULL)
		return v;
	/* not valid UTF-8: keep ASCII, escape the rest */
	esc = p = tf_malloc(4 * strlen(s) + 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x80)
			*p++ = (char)c;
		else
			p += sprintf(p, "\\x%02x", c);
	}
	*p = '\0';
	v = json_string(esc);
	free(esc);
	return v;
}

json_t *
out_jtime(time_t t)
{
	char buf[32];

	tf_time_iso(buf, sizeof(buf), t);
	return json_string(buf);
}

json_t *
out_jhex(const unsigned char *p, size_t len)
{
	char *hex = tf_malloc(2 * len + 1);
	json_t *v;

	tf_hex(hex, p, len);
	v = json_string(hex);
	free(hex);
	return v;
}

void
out_emit(FILE *fp, json_t *v)
{
	json_dumpf(v, fp, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
}

void
out_buf_add(struct out_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = 2 * (b->len + n + 1) + 256;
		b->p = tf_realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
out_buf_int(struct out_buf *b, long long v)
{
	char buf[24], *p = buf + sizeof(buf);
	/* as "%lld", without printf's machinery (several per certificate) */
	unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	out_buf_add(b, p, (size_t)(buf + sizeof(buf) - p));
}

void
out_buf_jstr(struct out_buf *b, const char *s)
{
	size_t i, n;
	char *text;
	json_t *v;

	if (s == NULL) {
		out_buf_add(b, "null", 4);
		return;
	}
	n = strlen(s);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			break;
	if (i < n) {
		/* control bytes or not ASCII: the library's escaping and UTF-8
		 * checks, so that the text is what out_emit() would write */
		v = out_jstr(s);
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(v);
		if (text == NULL)
			abort(); /* out of memory, which tf_malloc() does not survive either */
		out_buf_adds(b, text);
		free(text);
		return;
	}
	/* printable ASCII: only the quote and the backslash are escaped */
	if (b->len + 2 * n + 3 > b->cap) {
		b->cap = 2 * (b->len + 2 * n + 3) + 256;
		b->p = tf_realloc(b->p, b->cap);
	}
	b->p[b->len++] = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			b->p[b->len++] = '\\';
		b->p[b->len++] = s[i];
	}
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

void
out_prom_label(FILE *fp, const char *s)
{
	fputc('"', fp);
	out_prom_label_body(fp, s);
	fputc('"', fp);
}

void
out_prom_label_body(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
}

long long
out_days_left(time_t t, time_t now)
{
	long long d = (long long)(t - now);

	return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

void
out_trailer_cert(const char *key, const char *value, json_t *added, json_t *removed)
{
	const char *sp = value != NULL ? strrchr(value, ' ') : NULL;
	json_t *arr = key == NULL                  ? NULL
	    : strcmp(key, "Trustfix-Added") == 0   ? added
	    : strcmp(key, "Trustfix-Removed") == 0 ? removed
	                                           : NULL;
	char *store;

	if (arr == NULL || sp == NULL)
		return;
	store = tf_strndup(value, (size_t)(sp - value));
	json_array_append_new(arr,
	    json_pack("{s:o,s:s}", "store", out_jstr(store), "sha256", sp + 1));
	free(store);
}
