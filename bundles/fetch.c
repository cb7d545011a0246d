/*
 * bundles/fetch.c - fetch a bundle over HTTPS into memory: TLS always
 * verified, redirects to HTTPS only, and a cap on the size. The transfer is
 * renew/http.c's, which holds every use of libcurl.
 */
#include "../renew/renew.h"
#include "bundle.h"

int
bundle_fetch(struct tf_ctx *ctx, const char *url, const char *ca_file, size_t max,
    unsigned char **out, size_t *len)
{
	return http_fetch(ctx, url, ca_file, max, "a bundle", out, len);
}
