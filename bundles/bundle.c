/*
 * bundles/bundle.c - a bundle read into memory, and the order of its
 * verification: signature first, so that nothing a signer did not vouch
 * for is interpreted beyond the archive's own rules.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/certinfo.h"
#include "../core/path.h"
#include "internal.h"

int
bundle_open_mem(struct bundle **out, struct tf_ctx *ctx, const void *data, size_t len,
    const char *origin)
{
	struct bundle *b = tf_calloc(1, sizeof(*b));
	int rc;

	*out = NULL;
	b->origin = tf_strdup(origin);
	if (len > BUNDLE_ARCHIVE_MAX) {
		rc = tf_error(ctx, TF_EINVALID, "'%s' is larger than %d bytes", origin,
		    BUNDLE_ARCHIVE_MAX);
		goto out;
	}
	if ((rc = archive_read_bundle(&b->e, ctx, data, len, origin)) != 0)
		goto out;
	*out = b;
	b = NULL;
out:
	bundle_free(b);
	return rc;
}

int
bundle_open_file(struct bundle **out, struct tf_ctx *ctx, const char *path)
{
	char *buf = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = tf_read_input(ctx, path, BUNDLE_ARCHIVE_MAX, &buf, &len)) == 0)
		rc = bundle_open_mem(out, ctx, buf, len, path);
	free(buf);
	return rc;
}

const char *
bundle_origin(const struct bundle *b)
{
	return b->origin;
}

int
bundle_verify(struct bundle *b, struct tf_ctx *ctx, const struct bundle_verify_opts *o)
{
	const struct bundle_entry *man = entries_find(&b->e, MANIFEST_NAME);
	char *origin = NULL, date[32];
	unsigned char md[32];
	int rc;

	b->verified = false;
	manifest_free(b->m);
	b->m = NULL;
	if (man == NULL || entries_find(&b->e, SIGNATURE_NAME) == NULL)
		return tf_error(ctx, TF_EREFUSED, "'%s' has no %s: it is not a signed bundle",
		    b->origin, man == NULL ? MANIFEST_NAME : SIGNATURE_NAME);
	if ((rc = verify_signature(b, ctx, o->signers)) != 0)
		return rc;
	bundle_sha256(md, man->data, man->len);
	tf_hex(b->manifest_sha256, md, 32);
	origin = tf_asprintf("%s: manifest.json", b->origin);
	rc = manifest_parse(&b->m, ctx, (const char *)man->data, man->len, origin);
	free(origin);
	if (rc != 0 || (rc = verify_contents(b, ctx)) != 0)
		return rc;
	if (ctx->now >= b->m->expires) {
		tf_time_iso(date, sizeof(date), b->m->expires);
		return tf_error(ctx, TF_EREFUSED,
		    "'%s': bundle %s version %lld expired on %s: ask its publisher for a newer one",
		    b->origin, b->m->name, b->m->version, date);
	}
	if ((rc = bundle_check_installed(b, ctx, o->allow_downgrade)) != 0)
		return rc;
	b->verified = true;
	return 0;
}

const struct bundle_manifest *
bundle_manifest(const struct bundle *b)
{
	return b->verified ? b->m : NULL;
}

enum bundle_status
bundle_status(const struct bundle *b, long long *installed)
{
	if (installed != NULL)
		*installed = b->installed_version;
	return b->status;
}

const char *
bundle_signer(const struct bundle *b, const char **sha256_hex)
{
	if (sha256_hex != NULL)
		*sha256_hex = b->signer_sha256;
	return b->signer;
}

const char *
bundle_manifest_sha256(const struct bundle *b)
{
	return b->manifest_sha256;
}

void
bundle_free(struct bundle *b)
{
	if (b == NULL)
		return;
	entries_release(&b->e);
	manifest_free(b->m);
	free(b->signer);
	free(b->origin);
	free(b);
}
