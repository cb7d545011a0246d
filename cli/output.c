/*
 * cli/output.c - JSON (jansson) and Prometheus text helpers.
 */
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
out_prom_label(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
	fputc('"', fp);
}

long long
out_days_left(time_t t, time_t now)
{
	long long d = (long long)(t - now);

	return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}
