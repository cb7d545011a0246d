/*
 * truststore/p12edit.h - the PKCS#12 part of planning a store change.
 * Internal to truststore/.
 */
#ifndef TF_P12EDIT_H
#define TF_P12EDIT_H

#include "edit.h"

struct p12_add {
	const unsigned char *der;
	size_t len;
	unsigned char sha256[32];
	const char *name; /* friendlyName of the new bag */
	bool present;     /* already in the store */
	bool added;       /* added by the rewrite */
};

/*
 * The new DER of the PKCS#12 store 'ts' with the edit applied, in *out
 * (NULL when nothing changes). Removed certificates are noted in 'p'.
 */
int p12_rewrite(struct truststore *ts, struct ts_plan *p, const struct ts_edit *e,
    struct p12_add *adds, size_t nadd, unsigned char **out, size_t *outlen);

/* Note a removed certificate in the plan (edit.c). */
void p12_note_removed(struct ts_plan *p, const unsigned char *sha256, const char *subject);

#endif
