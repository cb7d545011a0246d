/*
 * fuzz/fuzz_archive.c - libFuzzer target for the bundle archive reader
 * (tar, tar.gz, zip through libarchive, under the limits): it must never
 * crash, hang or leak; it refuses with TF_EINVALID and a message; and what
 * it accepts follows every rule of safe extraction.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundles/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct bundle_entries *es)
{
	size_t i, k, total = 0;
	char *norm;

	if (es->n > BUNDLE_ENTRIES_MAX)
		abort();
	for (i = 0; i < es->n; i++) {
		const struct bundle_entry *e = &es->v[i];

		/* the name is already normal: checking it again gives it back */
		if (entries_check_name(e->name, &norm) != NULL || norm == NULL ||
		    strcmp(norm, e->name) != 0) {
			fprintf(stderr, "fuzz_archive: kept a bad name '%s'\n", e->name);
			abort();
		}
		free(norm);
		if (e->len > BUNDLE_ENTRY_MAX || (e->is_dir && e->len != 0))
			abort();
		for (k = 0; k < i; k++)
			if (strcmp(es->v[k].name, e->name) == 0)
				abort();
		total += e->len;
	}
	if (total != es->total || total > BUNDLE_TOTAL_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_entries es;
	struct tf_ctx ctx;

	tf_ctx_init(&ctx);
	if (archive_read_bundle(&es, &ctx, data, size, "fuzz") != 0) {
		if (es.n != 0 || es.v != NULL || (ctx.err != TF_EINVALID && ctx.err != TF_ERROR) ||
		    ctx.errmsg[0] == '\0')
			abort();
		return 0;
	}
	check(&es);
	entries_release(&es);
	return 0;
}
