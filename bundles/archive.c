/*
 * bundles/archive.c - every use of libarchive: read a bundle archive into
 * memory under limits, and write one. Nothing is extracted to disk here.
 *
 * Reading never hands libarchive a path to write: entries are judged one by
 * one (entries.c) before their data is read, data is read in blocks and
 * counted against the limits, and the whole decompressed stream is counted
 * too, so that a compression bomb stops at the limit, not after filling
 * memory. A second pass over the decompressed stream checks that nothing
 * follows the end of the archive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BLOCK 65536
#define TAR_END 1024 /* the two zero blocks that end a tar archive */

enum kind { K_NONE, K_GZIP, K_TAR, K_ZIP };

static enum kind
detect(const unsigned char *p, size_t len)
{
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return K_GZIP;
	if (len >= 4 && memcmp(p, "PK\003\004", 4) == 0)
		return K_ZIP;
	if (len >= 512 && memcmp(p + 257, "ustar", 5) == 0)
		return K_TAR;
	return K_NONE;
}

static unsigned
le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* The zip's end-of-central-directory record (and its comment) ends the file. */
static bool
zip_ends_cleanly(const unsigned char *p, size_t len)
{
	size_t pos, lo;

	if (len < 22)
		return false;
	lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
	for (pos = len - 22 + 1; pos-- > lo;)
		if (memcmp(p + pos, "PK\005\006", 4) == 0)
			return pos + 22 + le16(p + pos + 20) == len;
	return false;
}

static int
corrupt(struct tf_ctx *ctx, struct archive *a, const char *origin)
{
	const char *why = archive_error_string(a);

	return tf_error(ctx, TF_EINVALID, "'%s' is truncated or corrupt: %s", origin,
	    why != NULL ? why : "unreadable archive");
}

static int
stream_check(struct tf_ctx *ctx, struct archive *a, const char *origin)
{
	if (archive_filter_bytes(a, 0) > BUNDLE_STREAM_MAX)
		return tf_error(ctx, TF_EINVALID,
		    "'%s' expands to more than %d MiB (a compression bomb?)", origin,
		    BUNDLE_STREAM_MAX / (1024 * 1024));
	return 0;
}

/* The type of an entry as entries_check() takes it. */
static char
entry_type(struct archive_entry *ae, const char **what)
{
	*what = "of an unknown type";
	if (archive_entry_hardlink(ae) != NULL) {
		*what = "a hard link";
		return 'h';
	}
	if (archive_entry_symlink(ae) != NULL) {
		*what = "a symbolic link";
		return 'l';
	}
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		return 'f';
	case AE_IFDIR:
		return 'd';
	case AE_IFLNK:
		*what = "a symbolic link";
		return 'l';
	case AE_IFCHR:
		*what = "a character device";
		return 'c';
	case AE_IFBLK:
		*what = "a block device";
		return 'b';
	case AE_IFIFO:
		*what = "a FIFO";
		return 'p';
	case AE_IFSOCK:
		*what = "a socket";
		return 's';
	}
	return '?';
}

/* Read the data of a regular file entry, at most BUNDLE_ENTRY_MAX bytes. */
static int
read_data(struct tf_ctx *ctx, struct archive *a, const struct bundle_entries *es,
    const char *origin, const char *name, unsigned char **out, size_t *outlen)
{
	unsigned char *buf = tf_malloc(BLOCK);
	size_t n = 0, cap = BLOCK;
	la_ssize_t r;
	char *shown;
	int rc;

	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = tf_realloc(buf, cap);
		}
		if ((r = archive_read_data(a, buf + n, cap - n)) < 0) {
			rc = corrupt(ctx, a, origin);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if ((rc = stream_check(ctx, a, origin)) != 0)
			goto out;
		if (n > BUNDLE_ENTRY_MAX || es->total + n > BUNDLE_TOTAL_MAX) {
			shown = entries_show(name);
			rc = tf_error(ctx, TF_EINVALID, "'%s': entry '%s': %s", origin, shown,
			    n > BUNDLE_ENTRY_MAX
			        ? "larger than the limit of 1 MiB per entry"
			        : "the entries hold more than the limit of 16 MiB");
			free(shown);
			goto out;
		}
	}
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* One header and its data: judged, read under the limits, kept. */
static int
read_entry(struct tf_ctx *ctx, struct archive *a, struct archive_entry *ae,
    struct bundle_entries *es, const char *origin)
{
	const char *raw = archive_entry_pathname(ae), *what;
	unsigned char *data = NULL;
	size_t len = 0;
	char type, *norm = NULL, *shown;
	int rc;

	if (raw == NULL)
		return tf_error(ctx, TF_EINVALID, "'%s': an entry has no name", origin);
	type = entry_type(ae, &what);
	if ((rc = entries_check(es, ctx, origin, raw, type, what, (unsigned)archive_entry_perm(ae),
	         &norm)) != 0)
		return rc;
	if (type == 'f' && archive_entry_size_is_set(ae) &&
	    archive_entry_size(ae) > BUNDLE_ENTRY_MAX) {
		shown = entries_show(raw);
		rc = tf_error(ctx, TF_EINVALID,
		    "'%s': entry '%s': %lld bytes, larger than the limit of 1 MiB per entry",
		    origin, shown, (long long)archive_entry_size(ae));
		free(shown);
		free(norm);
		return rc;
	}
	if (type == 'f' && (rc = read_data(ctx, a, es, origin, raw, &data, &len)) != 0) {
		free(norm);
		return rc;
	}
	if (norm != NULL)
		rc = entries_append(es, ctx, origin, norm, type, data, len);
	free(data);
	return rc;
}

/*
 * After the tar reader's end: the end-of-archive blocks are there, and only
 * zeros (the record padding) follow them, up to the end of the gzip stream,
 * which is the end of the file. 'end' is where the tar reader stopped in
 * the decompressed stream.
 */
static int
check_tail(struct tf_ctx *ctx, const unsigned char *data, size_t len, enum kind kind, int64_t end,
    const char *origin)
{
	struct archive *a = NULL;
	struct archive_entry *ae;
	unsigned char *buf = NULL;
	int64_t pos = 0;
	la_ssize_t r, i;
	int rc = TF_EINVALID;

	if (end < TAR_END) {
		tf_error(ctx, rc, "'%s' is truncated: the archive has no end", origin);
		goto out;
	}
	if (kind == K_TAR) {
		for (i = end - TAR_END; i < (la_ssize_t)len; i++) {
			if (data[i] != 0) {
				tf_error(ctx, rc, "'%s' is %s", origin,
				    i < end
				        ? "truncated: the archive has no end"
				        : "followed by trailing data after the end of the archive");
				goto out;
			}
		}
		rc = 0;
		goto out;
	}
	/* the decompressed stream once more, as raw bytes */
	buf = tf_malloc(BLOCK);
	if ((a = archive_read_new()) == NULL || archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_format_raw(a) != ARCHIVE_OK ||
	    archive_read_open_memory(a, data, len) != ARCHIVE_OK ||
	    archive_read_next_header(a, &ae) != ARCHIVE_OK) {
		rc = a != NULL ? corrupt(ctx, a, origin) : tf_error(ctx, TF_ERROR, "out of memory");
		goto out;
	}
	while ((r = archive_read_data(a, buf, BLOCK)) > 0) {
		for (i = 0; i < r; i++) {
			if (pos + i >= end - TAR_END && buf[i] != 0) {
				tf_error(ctx, rc, "'%s' is %s", origin,
				    pos + i < end
				        ? "truncated: the archive has no end"
				        : "followed by trailing data after the end of the archive");
				goto out;
			}
		}
		pos += r;
		if ((rc = stream_check(ctx, a, origin)) != 0)
			goto out;
		rc = TF_EINVALID;
	}
	if (r < 0) {
		rc = corrupt(ctx, a, origin);
		goto out;
	}
	/* zeros may pad the file to a block, as libarchive's own writer does by default */
	for (pos = archive_filter_bytes(a, -1); pos >= 0 && pos < (int64_t)len; pos++) {
		if (data[pos] != 0) {
			tf_error(ctx, rc,
			    "'%s' is followed by trailing data after the end of the gzip stream",
			    origin);
			goto out;
		}
	}
	rc = 0;
out:
	archive_read_free(a);
	free(buf);
	return rc;
}

int
archive_read_bundle(struct bundle_entries *out, struct tf_ctx *ctx, const void *data, size_t len,
    const char *origin)
{
	struct archive *a = NULL;
	struct archive_entry *ae;
	enum kind kind = detect(data, len);
	size_t nheaders = 0;
	int r, rc = TF_EINVALID;

	memset(out, 0, sizeof(*out));
	if (kind == K_NONE) {
		tf_error(ctx, rc, "'%s' is not a bundle archive (a .tar.gz, .tar or .zip)", origin);
		goto out;
	}
	if (kind == K_ZIP && !zip_ends_cleanly(data, len)) {
		tf_error(ctx, rc,
		    "'%s' is truncated, or followed by trailing data after the end of the zip "
		    "archive",
		    origin);
		goto out;
	}
	if ((a = archive_read_new()) == NULL) {
		rc = tf_error(ctx, TF_ERROR, "out of memory");
		goto out;
	}
	/* only what a bundle can be: no other format, filter or external program */
	if (kind == K_GZIP)
		r = archive_read_support_filter_gzip(a) == ARCHIVE_OK
		    ? archive_read_support_format_tar(a)
		    : ARCHIVE_FATAL;
	else if (kind == K_TAR)
		r = archive_read_support_format_tar(a);
	else
		r = archive_read_support_format_zip_seekable(a);
	if (r != ARCHIVE_OK || archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		rc = corrupt(ctx, a, origin);
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) { /* a warning too: a name that cannot be converted, ... */
			rc = corrupt(ctx, a, origin);
			goto out;
		}
		if (++nheaders > BUNDLE_ENTRIES_MAX) {
			tf_error(ctx, rc, "'%s': more than %d entries", origin, BUNDLE_ENTRIES_MAX);
			goto out;
		}
		if ((rc = stream_check(ctx, a, origin)) != 0 ||
		    (rc = read_entry(ctx, a, ae, out, origin)) != 0)
			goto out;
		rc = TF_EINVALID;
	}
	if (kind != K_ZIP &&
	    (rc = check_tail(ctx, data, len, kind, archive_filter_bytes(a, 0), origin)) != 0)
		goto out;
	rc = 0;
out:
	archive_read_free(a);
	if (rc != 0)
		entries_release(out);
	return rc;
}

/* ---- writing ---- */

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static la_ssize_t
mem_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct membuf *m = arg;

	if (m->len + n > BUNDLE_ARCHIVE_MAX) {
		archive_set_error(a, EFBIG, "the archive would be larger than %d bytes",
		    BUNDLE_ARCHIVE_MAX);
		return -1;
	}
	if (m->len + n > m->cap) {
		m->cap = m->cap ? m->cap : BLOCK;
		while (m->len + n > m->cap)
			m->cap *= 2;
		m->p = tf_realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return (la_ssize_t)n;
}

int
archive_write_bundle(struct tf_ctx *ctx, const struct bundle_entry *v, size_t n, time_t mtime,
    unsigned char **out, size_t *len)
{
	struct archive *a = NULL;
	struct archive_entry *ae = NULL;
	struct membuf m = { 0 };
	size_t i;
	int rc = TF_ERROR;

	*out = NULL;
	*len = 0;
	if ((a = archive_write_new()) == NULL || (ae = archive_entry_new()) == NULL) {
		tf_error(ctx, rc, "out of memory");
		goto out;
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_set_options(a, "gzip:!timestamp") < ARCHIVE_WARN ||
	    archive_write_open(a, &m, NULL, mem_write, NULL) != ARCHIVE_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		archive_entry_clear(ae);
		archive_entry_set_pathname(ae, v[i].name);
		archive_entry_set_filetype(ae, v[i].is_dir ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(ae, v[i].is_dir ? 0755 : 0644);
		archive_entry_set_size(ae, v[i].is_dir ? 0 : (la_int64_t)v[i].len);
		archive_entry_set_uid(ae, 0);
		archive_entry_set_gid(ae, 0);
		archive_entry_set_uname(ae, "root");
		archive_entry_set_gname(ae, "root");
		archive_entry_set_mtime(ae, mtime, 0);
		if (archive_write_header(a, ae) != ARCHIVE_OK)
			goto fail;
		if (!v[i].is_dir && v[i].len > 0 &&
		    archive_write_data(a, v[i].data, v[i].len) != (la_ssize_t)v[i].len)
			goto fail;
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		goto fail;
	*out = m.p;
	*len = m.len;
	m.p = NULL;
	rc = 0;
	goto out;
fail:
	tf_error(ctx, TF_ERROR, "cannot write the bundle archive: %s",
	    archive_error_string(a) != NULL ? archive_error_string(a) : "unknown error");
out:
	archive_entry_free(ae);
	archive_write_free(a);
	free(m.p);
	return rc;
}
