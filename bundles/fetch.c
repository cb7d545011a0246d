/*
 * bundles/fetch.c - every use of libcurl in bundles/: fetch a bundle over
 * HTTPS into memory, TLS always verified, redirects to HTTPS only, and a
 * cap on the size.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"

struct sink {
	unsigned char *p;
	size_t len, cap, max;
	bool too_large;
};

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->len + n > s->max) {
		s->too_large = true;
		return 0; /* stops the transfer */
	}
	if (s->len + n > s->cap) {
		s->cap = s->cap ? s->cap : 65536;
		while (s->len + n > s->cap)
			s->cap *= 2;
		if (s->cap > s->max)
			s->cap = s->max;
		s->p = tf_realloc(s->p, s->cap);
	}
	memcpy(s->p + s->len, data, n);
	s->len += n;
	return n;
}

int
bundle_fetch(struct tf_ctx *ctx, const char *url, const char *ca_file, size_t max,
    unsigned char **out, size_t *len)
{
	struct sink s = { .max = max };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = NULL;
	CURLcode cc;
	long status = 0;
	int rc = TF_ENET;

	*out = NULL;
	*len = 0;
	if (strncmp(url, "https://", 8) != 0)
		return tf_error(ctx, TF_EUSAGE,
		    "'%s': only https:// URLs are fetched (carry the file and give its path "
		    "instead)",
		    url);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (c = curl_easy_init()) == NULL) {
		rc = tf_error(ctx, TF_ERROR, "cannot start libcurl");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* stalled for a minute: give up */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "trustfix/" TF_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (s.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = tf_error(ctx, TF_EREFUSED, "'%s' is larger than %zu bytes: not a bundle", url,
		    max);
		goto out;
	}
	if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
	    cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
		rc = tf_error(ctx, TF_EREFUSED,
		    "'%s': the server's certificate does not verify%s: %s", url,
		    ca_file != NULL ? " against --ca-file" : " (pin its CA with --ca-file)",
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = tf_error(ctx, TF_ENET, "cannot fetch '%s': %s", url,
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	if (status != 200) {
		rc = tf_error(ctx, TF_ENET, "cannot fetch '%s': the server answered HTTP %ld", url,
		    status);
		goto out;
	}
	*out = s.p;
	*len = s.len;
	s.p = NULL;
	rc = 0;
out:
	free(s.p);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return rc;
}
