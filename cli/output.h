/*
 * cli/output.h - JSON and Prometheus helpers for the commands' output.
 */
#ifndef TF_OUTPUT_H
#define TF_OUTPUT_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A JSON string of 's'; bytes that are not UTF-8 are escaped as \xHH. */
json_t *out_jstr(const char *s);

/* A JSON string of a time, "2025-03-30T22:32:39Z". */
json_t *out_jtime(time_t t);

/* A JSON string of 'len' bytes in lowercase hex. */
json_t *out_jhex(const unsigned char *p, size_t len);

/* Write 'v' compactly to 'fp' and drop the reference. */
void out_emit(FILE *fp, json_t *v);

/*
 * Append the certificate of a Trustfix-Added or Trustfix-Removed trailer
 * ("<store> <sha256>") to 'added' or 'removed' as {"store", "sha256"};
 * other keys and malformed values are left out.
 */
void out_trailer_cert(const char *key, const char *value, json_t *added, json_t *removed);

/*
 * A growing text buffer, for output built off the main thread (the JSON of
 * each certificate is made on the scan's decoding threads). 'p' is always
 * NUL-terminated once anything was added; the owner frees it.
 */
struct out_buf {
	char *p;
	size_t len, cap;
};

void out_buf_add(struct out_buf *b, const char *s, size_t n);
void out_buf_int(struct out_buf *b, long long v);

/* Inline, so that the length of a literal is known at compile time. */
static inline void
out_buf_adds(struct out_buf *b, const char *s)
{
	out_buf_add(b, s, strlen(s));
}

/*
 * 's' as a JSON value, byte for byte what out_emit(out_jstr(s)) writes
 * ("null" for NULL). Plain ASCII is escaped here; anything else goes
 * through the JSON library. Safe to call from several threads at once.
 */
void out_buf_jstr(struct out_buf *b, const char *s);

/* Write 's' as a Prometheus label value (quotes added). */
void out_prom_label(FILE *fp, const char *s);

/* The same, without the quotes: to build a value of several parts. */
void out_prom_label_body(FILE *fp, const char *s);

/* Whole days from 'now' to 't', rounded towards minus infinity. */
long long out_days_left(time_t t, time_t now);

#endif
