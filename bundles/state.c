/*
 * bundles/state.c - what the state directory says about bundles: the
 * record of each installed bundle (written by the transaction that applies
 * it), the clock's high-water mark, the list, and the installed policy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/certinfo.h"
#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

#define RECORD_MAX (1024 * 1024)

/*
 * Read the file 'path' of the managed system; *exists false (and 0) when
 * it is missing. Returns 0, TF_EIO or TF_EINVALID (too large).
 */
static int
read_state(struct tf_ctx *ctx, const char *path, size_t max, char **out, size_t *len, bool *exists)
{
	char *host;
	int fd, rc;

	*out = NULL;
	*len = 0;
	*exists = false;
	if ((fd = tf_open(ctx, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0)) == -1) {
		if (errno == ENOENT)
			return 0;
		host = tf_hostpath(ctx, path);
		rc = tf_error_sys(ctx, TF_EIO, "cannot open '%s'", host);
		free(host);
		return rc;
	}
	host = tf_hostpath(ctx, path);
	rc = tf_read_fd(ctx, fd, host, max, out, len);
	close(fd);
	free(host);
	*exists = rc == 0;
	return rc;
}

/* The names in a folder of the managed system ending in 'suffix', sorted. */
static int
list_dir(struct tf_ctx *ctx, const char *path, const char *suffix, char ***out, size_t *n)
{
	struct dirent *de;
	char *host;
	size_t k, sl = strlen(suffix);
	DIR *d;
	int fd, rc;

	*out = NULL;
	*n = 0;
	if ((fd = tf_dir_open(ctx, path)) == -1) {
		if (errno == ENOENT)
			return 0;
		goto fail;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		goto fail;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (de->d_name[0] == '.' || nl <= sl || strcmp(de->d_name + nl - sl, suffix) != 0)
			continue;
		*out = tf_realloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = tf_strndup(de->d_name, nl - sl);
	}
	closedir(d);
	/* a few names: insertion sort */
	for (k = 1; k < *n; k++) {
		char *v = (*out)[k];
		size_t j = k;

		for (; j > 0 && strcmp((*out)[j - 1], v) > 0; j--)
			(*out)[j] = (*out)[j - 1];
		(*out)[j] = v;
	}
	return 0;
fail:
	host = tf_hostpath(ctx, path);
	rc = tf_error_sys(ctx, TF_EIO, "cannot list '%s'", host);
	free(host);
	return rc;
}

static void
free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The record of the installed bundle 'name'; *exists false when none. */
static int
read_record(struct tf_ctx *ctx, const char *name, struct bundle_record *r, bool *exists)
{
	char *path = tf_asprintf("%s/%s.json", BUNDLE_INSTALLED_DIR, name), *buf = NULL, *host;
	size_t len;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = read_state(ctx, path, RECORD_MAX, &buf, &len, exists)) == 0 && *exists) {
		host = tf_hostpath(ctx, path);
		rc = record_parse(r, ctx, buf, len, host);
		free(host);
	}
	free(buf);
	free(path);
	return rc;
}

/* The recorded high-water mark of the clock, 0 when none. */
static int
read_clock(struct tf_ctx *ctx, time_t *out)
{
	char *buf = NULL, *host;
	size_t len;
	bool exists;
	int rc;

	*out = 0;
	if ((rc = read_state(ctx, BUNDLE_CLOCK_FILE, 64, &buf, &len, &exists)) != 0 || !exists)
		goto out;
	buf[strcspn(buf, "\n")] = '\0';
	if (bundle_time_parse(buf, false, out) == -1) {
		host = tf_hostpath(ctx, BUNDLE_CLOCK_FILE);
		rc = tf_error(ctx, TF_ECONFIG, "'%s' is damaged: it must hold one UTC time", host);
		free(host);
	}
out:
	free(buf);
	return rc;
}

/* The latest creation time of a bundle applied: the clock file and every record. */
static int
last_applied(struct tf_ctx *ctx, time_t *out)
{
	struct bundle_record r;
	char **names = NULL;
	size_t n = 0, i;
	bool exists;
	int rc;

	if ((rc = read_clock(ctx, out)) != 0 ||
	    (rc = list_dir(ctx, BUNDLE_INSTALLED_DIR, ".json", &names, &n)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = read_record(ctx, names[i], &r, &exists)) == 0 && exists &&
		    r.created > *out)
			*out = r.created;
		record_release(&r);
	}
	free_names(names, n);
	return rc;
}

int
bundle_check_installed(struct bundle *b, struct tf_ctx *ctx, bool allow_downgrade)
{
	const struct bundle_manifest *m = b->m;
	struct bundle_record r = { 0 };
	char now[32], last[32];
	time_t high;
	bool exists;
	int rc;

	/* applying a bundle from the future would raise the clock's floor past
	 * now and lock every later bundle out: a day of skew is allowed */
	if (m->created > ctx->now + 86400) {
		tf_time_iso(now, sizeof(now), ctx->now);
		tf_time_iso(last, sizeof(last), m->created);
		return tf_error(ctx, TF_EREFUSED,
		    "bundle '%s' was created at %s, later than the system clock (%s): set the "
		    "clock right, or ask its publisher why",
		    m->name, last, now);
	}
	if ((rc = last_applied(ctx, &high)) != 0)
		return rc;
	if (ctx->now < high) {
		tf_time_iso(now, sizeof(now), ctx->now);
		tf_time_iso(last, sizeof(last), high);
		return tf_error(ctx, TF_EREFUSED,
		    "the system clock (%s) is earlier than the creation of the last bundle applied "
		    "(%s): set the clock right, then try again",
		    now, last);
	}
	if ((rc = read_record(ctx, m->name, &r, &exists)) != 0)
		return rc;
	b->installed_version = exists ? r.version : 0;
	if (!exists) {
		b->status = BUNDLE_NEW;
	} else if (m->version > r.version) {
		b->status = BUNDLE_UPGRADE;
	} else if (m->version == r.version) {
		if (strcmp(r.manifest_sha256, b->manifest_sha256) != 0)
			rc = tf_error(ctx, TF_EREFUSED,
			    "'%s': bundle %s version %lld is installed with other content: a "
			    "bundle never changes without a new version",
			    b->origin, m->name, m->version);
		b->status = BUNDLE_INSTALLED;
	} else if (allow_downgrade) {
		b->status = BUNDLE_DOWNGRADE;
	} else {
		rc = tf_error(ctx, TF_EREFUSED,
		    "'%s': bundle %s version %lld is older than the installed version %lld (a "
		    "downgrade): give --allow-downgrade to install it anyway",
		    b->origin, m->name, m->version, r.version);
	}
	record_release(&r);
	return rc;
}

void
bundle_installed_record(const struct bundle *b, struct tf_ctx *ctx, char **path, char **data,
    size_t *len)
{
	*path = tf_asprintf("%s/%s.json", BUNDLE_INSTALLED_DIR, b->m->name);
	*data = record_dump(b, ctx->now, b->status == BUNDLE_DOWNGRADE, len);
}

int
bundle_state_prepare(struct tf_ctx *ctx)
{
	int rc;

	if ((rc = tf_mkdirs(ctx, STATE_DIR, 0700)) != 0)
		return rc;
	return tf_mkdirs(ctx, BUNDLE_INSTALLED_DIR, 0700);
}

int
bundle_note_applied(const struct bundle *b, struct tf_ctx *ctx)
{
	static const char tmp[] = ".bundle-clock.tmp";
	const char *base = strrchr(BUNDLE_CLOCK_FILE, '/') + 1;
	char line[40], date[32], *host = NULL;
	time_t high;
	int dfd = -1, fd = -1, rc;

	if ((rc = read_clock(ctx, &high)) != 0)
		return rc;
	if (b->m->created <= high)
		return 0;
	tf_time_iso(date, sizeof(date), b->m->created);
	snprintf(line, sizeof(line), "%s\n", date);
	rc = TF_EIO;
	if ((dfd = tf_dir_open(ctx, STATE_DIR)) == -1)
		goto fail;
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	        -1 ||
	    tf_write_all(fd, line, strlen(line)) == -1 || tf_fsync(fd) == -1 ||
	    renameat(dfd, tmp, dfd, base) == -1 || tf_fsync(dfd) == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	host = tf_hostpath(ctx, BUNDLE_CLOCK_FILE);
	rc = tf_error_sys(ctx, TF_EIO, "cannot write '%s'", host);
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	free(host);
	return rc;
}

/* ---- the list ---- */

static int
cmp_listing(const void *x, const void *y)
{
	const struct bundle_listing *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c != 0 ? c : (int)b->installed - (int)a->installed;
}

int
bundle_list(struct bundle_listing **out, size_t *n, struct tf_ctx *ctx)
{
	struct bundle_listing *v = NULL;
	struct bundle_record r;
	struct bundle_manifest *m;
	char **names = NULL, *path, *buf;
	size_t nn = 0, i, len, k = 0;
	bool exists;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = list_dir(ctx, BUNDLE_INSTALLED_DIR, ".json", &names, &nn)) != 0)
		return rc;
	for (i = 0; i < nn; i++) {
		if (read_record(ctx, names[i], &r, &exists) != 0 || !exists) {
			tf_error_clear(ctx);
			record_release(&r);
			continue;
		}
		v = tf_realloc(v, (k + 1) * sizeof(*v));
		v[k] = (struct bundle_listing){ .name = r.name,
			.version = r.version,
			.installed = true,
			.created = r.created,
			.expires = r.expires,
			.applied = r.applied,
			.downgrade = r.downgrade,
			.signer = r.signer,
			.manifest_sha256 = r.manifest_sha256 };
		r.name = r.signer = r.manifest_sha256 = NULL;
		record_release(&r);
		k++;
	}
	free_names(names, nn);
	if ((rc = list_dir(ctx, BUNDLE_STAGING_DIR, "", &names, &nn)) != 0) {
		bundle_listing_free(v, k);
		return rc;
	}
	for (i = 0; i < nn; i++) {
		unsigned char md[32];
		char hex[65];

		if (!bundle_name_is_valid(names[i]))
			continue;
		path = tf_asprintf("%s/%s/%s", BUNDLE_STAGING_DIR, names[i], MANIFEST_NAME);
		buf = NULL;
		m = NULL;
		if (read_state(ctx, path, BUNDLE_ENTRY_MAX, &buf, &len, &exists) == 0 && exists &&
		    manifest_parse(&m, ctx, buf, len, path) == 0) {
			bundle_sha256(md, buf, len);
			tf_hex(hex, md, 32);
			v = tf_realloc(v, (k + 1) * sizeof(*v));
			v[k++] = (struct bundle_listing){ .name = tf_strdup(m->name),
				.version = m->version,
				.created = m->created,
				.expires = m->expires,
				.manifest_sha256 = tf_strdup(hex) };
		}
		tf_error_clear(ctx);
		manifest_free(m);
		free(buf);
		free(path);
	}
	free_names(names, nn);
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_listing);
	*out = v;
	*n = k;
	return 0;
}

void
bundle_listing_free(struct bundle_listing *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].signer);
		free(v[i].manifest_sha256);
	}
	free(v);
}

/* ---- the installed policy ---- */

static void
append_entries(struct tf_policy_entry **dst, size_t *ndst, const struct tf_policy_entry *src,
    size_t nsrc)
{
	size_t i;

	for (i = 0; i < nsrc; i++) {
		if (tf_policy_find(*dst, *ndst, src[i].sha256) != NULL)
			continue;
		*dst = tf_realloc(*dst, (*ndst + 1) * sizeof(**dst));
		memcpy((*dst)[*ndst].sha256, src[i].sha256, 32);
		(*dst)[*ndst].name = tf_strdup(src[i].name);
		(*dst)[*ndst].reason = src[i].reason != NULL ? tf_strdup(src[i].reason) : NULL;
		(*ndst)++;
	}
}

int
bundle_installed_policy(struct tf_policy **out, struct tf_ctx *ctx)
{
	struct tf_policy *all = NULL, *p = NULL;
	struct bundle_record r;
	char **names = NULL, *origin, *s;
	size_t n = 0, i;
	bool exists;
	int rc;

	*out = NULL;
	if ((rc = list_dir(ctx, BUNDLE_INSTALLED_DIR, ".json", &names, &n)) != 0)
		return rc == TF_EIO ? TF_ECONFIG : rc;
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = read_record(ctx, names[i], &r, &exists)) != 0 || !exists) {
			record_release(&r);
			continue;
		}
		origin = tf_asprintf("bundle %s version %lld", r.name, r.version);
		rc = tf_policy_parse(&p, ctx, r.policy_json, strlen(r.policy_json), origin);
		free(origin);
		record_release(&r);
		if (rc != 0)
			break;
		if (all == NULL) {
			all = p;
		} else {
			append_entries(&all->decommissioned, &all->ndecommissioned,
			    p->decommissioned, p->ndecommissioned);
			append_entries(&all->required, &all->nrequired, p->required, p->nrequired);
			s = tf_asprintf("%s + %s", all->name, p->name);
			free(all->name);
			all->name = s;
			s = tf_asprintf("%s, %s", all->source, p->source);
			free(all->source);
			all->source = s;
			tf_policy_free(p);
		}
		p = NULL;
	}
	free_names(names, n);
	if (rc != 0) {
		tf_policy_free(all);
		return rc == TF_EIO ? TF_ECONFIG : rc;
	}
	*out = all;
	return 0;
}

int
bundle_policy_load(struct tf_policy **out, struct tf_ctx *ctx, const char *path)
{
	int rc;

	if ((rc = bundle_installed_policy(out, ctx)) != 0 || *out != NULL)
		return rc;
	return tf_policy_load(out, ctx, path);
}
