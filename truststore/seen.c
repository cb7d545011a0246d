/*
 * truststore/seen.c - the fingerprints a scan has seen, to report
 * duplicates with where the first copy is. Sized for stores of 100,000
 * certificates: one table of indexes, one dense array and one buffer of
 * "where" strings, not an allocation per certificate.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Append a "where" to the text; returns its offset. */
static size_t
add_where(struct seen *st, const char *file, long line, const char *link)
{
	size_t off = st->textlen, need = strlen(file) + 24;
	int n;

	if (link != NULL)
		need = strlen(link) + 1;
	if (st->textlen + need > st->textcap) {
		st->textcap = 2 * (st->textlen + need) + 4096;
		st->text = tf_realloc(st->text, st->textcap);
	}
	/* as the findings say where: the link, file:line, or the file */
	if (link != NULL)
		n = snprintf(st->text + off, need, "%s", link);
	else if (line > 0)
		n = snprintf(st->text + off, need, "%s:%ld", file, line);
	else
		n = snprintf(st->text + off, need, "%s", file);
	st->textlen += (size_t)n + 1;
	return off;
}

const char *
seen_add(struct seen *st, const unsigned char *sha256, const char *file, long line,
    const char *link)
{
	size_t i, j, mask;
	uint32_t k;

	if (2 * (st->n + 1) > st->cap) {
		/* keep the table at most half full */
		free(st->slots);
		st->cap = st->cap ? 2 * st->cap : 1024;
		st->slots = tf_calloc(st->cap, sizeof(*st->slots));
		mask = st->cap - 1;
		for (j = 0; j < st->n; j++) {
			memcpy(&i, st->recs[j].sha256, sizeof(i));
			for (i &= mask; st->slots[i] != 0; i = (i + 1) & mask)
				;
			st->slots[i] = (uint32_t)(j + 1);
		}
	}
	mask = st->cap - 1;
	memcpy(&i, sha256, sizeof(i));
	for (i &= mask; (k = st->slots[i]) != 0; i = (i + 1) & mask)
		if (memcmp(st->recs[k - 1].sha256, sha256, 32) == 0)
			return st->text + st->recs[k - 1].where;
	if (st->n == st->reccap) {
		st->reccap = st->reccap ? 2 * st->reccap : 1024;
		st->recs = tf_realloc(st->recs, st->reccap * sizeof(*st->recs));
	}
	memcpy(st->recs[st->n].sha256, sha256, 32);
	st->recs[st->n].where = add_where(st, file, line, link);
	st->slots[i] = (uint32_t)++st->n;
	return NULL;
}

void
seen_release(struct seen *st)
{
	free(st->slots);
	free(st->recs);
	free(st->text);
}
