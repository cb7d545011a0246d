/*
 * fuzz/fuzz_manifest.c - libFuzzer target for the bundle manifest parser:
 * it must never crash or leak, refuse with TF_EINVALID and a message, and
 * whatever it accepts must survive manifest_dump() and parse to the same
 * text again (what a publisher signs is what a device reads).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundles/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct bundle_manifest *m)
{
	size_t i;

	if (m->format != BUNDLE_FORMAT || !bundle_name_is_valid(m->name) || m->version < 1 ||
	    m->expires <= m->created || m->policy_name == NULL ||
	    m->nadd + m->nremove + m->nrequire == 0 || m->nfiles != m->nadd)
		abort();
	for (i = 0; i < m->nadd; i++)
		if (m->add[i].file == NULL || strncmp(m->add[i].file, "certs/", 6) != 0)
			abort();
	for (i = 0; i < m->nremove; i++)
		if (m->remove[i].name == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_manifest *m = NULL, *back = NULL;
	struct tf_ctx ctx;
	char *text, *again;
	size_t len, len2;

	tf_ctx_init(&ctx);
	if (manifest_parse(&m, &ctx, (const char *)data, size, "fuzz") != 0) {
		if (m != NULL || ctx.err != TF_EINVALID || ctx.errmsg[0] == '\0')
			abort();
		return 0;
	}
	check(m);
	text = manifest_dump(m, &len);
	tf_error_clear(&ctx);
	if (manifest_parse(&back, &ctx, text, len, "dump") != 0) {
		fprintf(stderr, "fuzz_manifest: the dump does not parse: %s\n%s", ctx.errmsg, text);
		abort();
	}
	again = manifest_dump(back, &len2);
	if (len != len2 || memcmp(text, again, len) != 0) {
		fprintf(stderr, "fuzz_manifest: the dump is not stable:\n%s\n%s", text, again);
		abort();
	}
	free(text);
	free(again);
	manifest_free(m);
	manifest_free(back);
	return 0;
}
