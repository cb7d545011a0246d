/*
 * truststore/policy.c - read a policy document (JSON, through jansson).
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/path.h"
#include "policy.h"

extern const char tf_default_policy[];
extern const size_t tf_default_policy_len;

#define POLICY_MAX (1024 * 1024)

static int
parse_list(struct tf_ctx *ctx, const json_t *doc, const char *key, const char *origin,
    struct tf_policy_entry **out, size_t *nout)
{
	const json_t *arr = json_object_get(doc, key), *e;
	size_t i;

	*out = NULL;
	*nout = 0;
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return tf_error(ctx, TF_ECONFIG, "policy '%s': '%s' must be a list", origin, key);
	*out = tf_calloc(json_array_size(arr), sizeof(**out));
	json_array_foreach(arr, i, e)
	{
		struct tf_policy_entry *pe = &(*out)[i];
		const char *hex = json_string_value(json_object_get(e, "sha256"));
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *reason = json_string_value(json_object_get(e, "reason"));

		*nout = i + 1;
		if (hex == NULL || strlen(hex) != 64 || tf_unhex(pe->sha256, 32, hex) == -1)
			return tf_error(ctx, TF_ECONFIG,
			    "policy '%s': %s[%zu] needs \"sha256\": 64 hex digits", origin, key, i);
		pe->name = tf_strdup(name != NULL ? name : hex);
		pe->reason = reason != NULL ? tf_strdup(reason) : NULL;
	}
	return 0;
}

int
tf_policy_parse(struct tf_policy **out, struct tf_ctx *ctx, const char *json, size_t len,
    const char *origin)
{
	struct tf_policy *p = tf_calloc(1, sizeof(*p));
	json_error_t jerr;
	json_t *doc;
	const char *name;
	int rc;

	*out = NULL;
	if ((doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		rc = tf_error(ctx, TF_ECONFIG, "policy '%s' line %d: %s", origin, jerr.line,
		    jerr.text);
		goto out;
	}
	if (!json_is_object(doc)) {
		rc = tf_error(ctx, TF_ECONFIG, "policy '%s': not a JSON object", origin);
		goto out;
	}
	name = json_string_value(json_object_get(doc, "policy"));
	p->name = tf_strdup(name != NULL ? name : "unnamed");
	p->source = tf_strdup(origin);
	if ((rc = parse_list(ctx, doc, "decommissioned", origin, &p->decommissioned,
	         &p->ndecommissioned)) != 0)
		goto out;
	if ((rc = parse_list(ctx, doc, "required", origin, &p->required, &p->nrequired)) != 0)
		goto out;
	*out = p;
	p = NULL;
out:
	json_decref(doc);
	tf_policy_free(p);
	return rc;
}

int
tf_policy_load(struct tf_policy **out, struct tf_ctx *ctx, const char *path)
{
	char *host, *buf = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	if (path == NULL)
		return tf_policy_parse(out, ctx, tf_default_policy, tf_default_policy_len,
		    "built-in");
	host = tf_hostpath(ctx, path);
	if ((fd = tf_open(ctx, path, O_RDONLY, 0)) == -1) {
		rc = tf_error_sys(ctx, TF_ECONFIG, "cannot open policy '%s'", host);
		goto out;
	}
	rc = tf_read_fd(ctx, fd, host, POLICY_MAX, &buf, &len);
	close(fd);
	if (rc == 0)
		rc = tf_policy_parse(out, ctx, buf, len, host);
	else
		rc = TF_ECONFIG;
out:
	free(buf);
	free(host);
	return rc;
}

const struct tf_policy_entry *
tf_policy_find(const struct tf_policy_entry *list, size_t n, const unsigned char *sha256)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(list[i].sha256, sha256, 32) == 0)
			return &list[i];
	return NULL;
}

static void
free_list(struct tf_policy_entry *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(l[i].name);
		free(l[i].reason);
	}
	free(l);
}

void
tf_policy_free(struct tf_policy *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->source);
	free_list(p->decommissioned, p->ndecommissioned);
	free_list(p->required, p->nrequired);
	free(p);
}
