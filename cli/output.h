/*
 * cli/output.h - JSON and Prometheus helpers for the commands' output.
 */
#ifndef TF_OUTPUT_H
#define TF_OUTPUT_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

/* A JSON string of 's'; bytes that are not UTF-8 are escaped as \xHH. */
json_t *out_jstr(const char *s);

/* A JSON string of a time, "2025-03-30T22:32:39Z". */
json_t *out_jtime(time_t t);

/* A JSON string of 'len' bytes in lowercase hex. */
json_t *out_jhex(const unsigned char *p, size_t len);

/* Write 'v' compactly to 'fp' and drop the reference. */
void out_emit(FILE *fp, json_t *v);

/* Write 's' as a Prometheus label value (quotes added). */
void out_prom_label(FILE *fp, const char *s);

/* Whole days from 'now' to 't', rounded towards minus infinity. */
long long out_days_left(time_t t, time_t now);

#endif
