/*
 * tests/unit/test_bundles_archive.c - reading bundle archives into memory:
 * tar archives built here byte by byte (ustar headers, pax records), each
 * rule of safe extraction, the limits, the end of the archive, and the
 * round trip through archive_write_bundle().
 */
#include "helpers.h"

#include "bundles/internal.h"

struct tarb {
	unsigned char *p;
	size_t len;
};

/* 'v' in octal, zero-padded to width - 1 digits, then a NUL. */
static void
octal(unsigned char *field, size_t width, unsigned long long v)
{
	size_t i = width - 1;

	field[i] = '\0';
	while (i-- > 0) {
		field[i] = (unsigned char)('0' + (v & 7));
		v >>= 3;
	}
}

static void
block(struct tarb *t, const void *data, size_t len)
{
	size_t n = (len + 511) / 512 * 512;

	t->p = tf_realloc(t->p, t->len + n);
	memset(t->p + t->len, 0, n);
	if (data != NULL && len > 0)
		memcpy(t->p + t->len, data, len);
	t->len += n;
}

/* One ustar header; 'size' is what the header says, 'data' what follows. */
static void
header(struct tarb *t, const char *name, char type, unsigned mode, unsigned long long size,
    const char *link)
{
	unsigned char h[512];
	unsigned sum = 0;
	size_t i;

	memset(h, 0, sizeof(h));
	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	octal(h + 100, 8, mode);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, 1700000000);
	h[156] = (unsigned char)type;
	if (link != NULL)
		memcpy(h + 157, link, strlen(link));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	octal(h + 148, 7, sum);
	block(t, h, 512);
}

static void
add(struct tarb *t, const char *name, char type, unsigned mode, const char *data)
{
	size_t len = data != NULL ? strlen(data) : 0;

	header(t, name, type, mode, len, NULL);
	if (len > 0)
		block(t, data, len);
}

/* A file whose name is longer than ustar holds: a pax 'path' record first. */
static void
add_pax(struct tarb *t, const char *name, const char *data)
{
	size_t n = strlen(name) + strlen(" path=\n"), digits = 1, k;
	char *rec;

	for (k = n + 1; k >= 10; k /= 10)
		digits++;
	rec = tf_asprintf("%zu path=%s\n", n + digits, name);
	header(t, "PaxHeader", 'x', 0644, strlen(rec), NULL);
	block(t, rec, strlen(rec));
	free(rec);
	add(t, "placeholder.pem", '0', 0644, data);
}

static void
finish(struct tarb *t)
{
	block(t, NULL, 1024);
}

static void
good(struct tarb *t)
{
	add(t, "manifest.json", '0', 0644, "{}");
	add(t, "manifest.json.sig", '0', 0644, "sig");
	add(t, "certs/", '5', 0755, NULL);
	add(t, "certs/a.pem", '0', 0644, "pem");
}

static int
read_tar(struct root *r, struct tarb *t, struct bundle_entries *es)
{
	int rc;

	tf_error_clear(&r->ctx);
	rc = archive_read_bundle(es, &r->ctx, t->p, t->len, "b.tar");
	free(t->p);
	t->p = NULL;
	t->len = 0;
	return rc;
}

/* The archive in 't' is refused with a message holding 'what'. */
static void
refused(struct root *r, struct tarb *t, const char *what)
{
	struct bundle_entries es;

	assert_int_equal(read_tar(r, t, &es), TF_EINVALID);
	assert_int_equal(es.n, 0);
	assert_non_null(strstr(r->ctx.errmsg, "b.tar"));
	if (strstr(r->ctx.errmsg, what) == NULL)
		fail_msg("error is '%s', expected '%s'", r->ctx.errmsg, what);
}

static void
test_good(void **state)
{
	struct root *r = *state;
	struct bundle_entries es;
	struct tarb t = { 0 };
	const struct bundle_entry *e;

	add(&t, "./", '5', 0755, NULL); /* tar -C dir . */
	add(&t, "./manifest.json", '0', 0600, "{}");
	add(&t, "manifest.json.sig", '0', 0777, "sig"); /* modes are ignored */
	add(&t, "certs/a.pem", '0', 0644, "pem");
	finish(&t);
	assert_int_equal(read_tar(r, &t, &es), 0);
	assert_int_equal(es.n, 3);
	assert_non_null(e = entries_find(&es, "manifest.json"));
	assert_int_equal(e->len, 2);
	assert_memory_equal(e->data, "{}", 2);
	assert_non_null(e = entries_find(&es, "certs/a.pem"));
	assert_false(e->is_dir);
	assert_int_equal(es.total, 8);
	entries_release(&es);
}

static void
test_names(void **state)
{
	struct root *r = *state;
	struct tarb t = { 0 };
	char *longname = tf_malloc(5000);

	good(&t), add(&t, "../x", '0', 0644, "x"), finish(&t);
	refused(r, &t, "entry '../x': the name holds '..'");
	good(&t), add(&t, "certs/../../x", '0', 0644, "x"), finish(&t);
	refused(r, &t, "the name holds '..'");
	good(&t), add(&t, "/etc/passwd", '0', 0644, "x"), finish(&t);
	refused(r, &t, "entry '/etc/passwd': the name is an absolute path");
	good(&t), add(&t, "certs\\x.pem", '0', 0644, "x"), finish(&t);
	refused(r, &t, "entry 'certs\\x5cx.pem': the name holds a backslash");
	good(&t), add(&t, "certs/\x1b[1mx.pem", '0', 0644, "x"), finish(&t);
	refused(r, &t, "entry 'certs/\\x1b[1mx.pem': the name holds a control character");
	good(&t), add(&t, "certs//x.pem", '0', 0644, "x"), finish(&t);
	refused(r, &t, "the name holds an empty path component");
	good(&t), add(&t, "certs/./x.pem", '0', 0644, "x"), finish(&t);
	refused(r, &t, "the name holds '.'");
	good(&t), add(&t, "certs/a b.pem", '0', 0644, "x"), finish(&t);
	refused(r, &t, "the name holds a character other than letters, digits and ._+-");
	memset(longname, 'a', 4999);
	memcpy(longname, "certs/", 6);
	longname[4999] = '\0';
	good(&t), add_pax(&t, longname, "x"), finish(&t);
	refused(r, &t, "the name is longer than 255 bytes");
	free(longname);
}

static void
test_types(void **state)
{
	struct root *r = *state;
	struct tarb t = { 0 };

	header(&t, "certs", '2', 0777, 0, "/etc"), add(&t, "certs/x.pem", '0', 0644, "x");
	finish(&t);
	refused(r, &t, "entry 'certs': is a symbolic link: only regular files and folders");
	good(&t), header(&t, "certs/b.pem", '1', 0644, 0, "/etc/shadow"), finish(&t);
	refused(r, &t, "entry 'certs/b.pem': is a hard link");
	good(&t), header(&t, "certs/b.pem", '3', 0644, 0, NULL), finish(&t);
	refused(r, &t, "is a character device");
	good(&t), header(&t, "certs/b.pem", '4', 0644, 0, NULL), finish(&t);
	refused(r, &t, "is a block device");
	good(&t), header(&t, "certs/b.pem", '6', 0644, 0, NULL), finish(&t);
	refused(r, &t, "is a FIFO");
	good(&t), add(&t, "certs/b.pem", '0', 04755, "x"), finish(&t);
	refused(r, &t, "entry 'certs/b.pem': has the set-user-ID, set-group-ID or sticky bit");
	good(&t), add(&t, "certs/", '5', 01777, NULL), finish(&t);
	refused(r, &t, "appears twice"); /* the duplicate is seen first */
	add(&t, "certs/", '5', 01777, NULL), finish(&t);
	refused(r, &t, "has the set-user-ID, set-group-ID or sticky bit");
}

static void
test_duplicates_and_layout(void **state)
{
	struct root *r = *state;
	struct tarb t = { 0 };

	good(&t), add(&t, "manifest.json", '0', 0644, "{}"), finish(&t);
	refused(r, &t, "entry 'manifest.json': appears twice (duplicate entries)");
	good(&t), add(&t, "./certs/a.pem", '0', 0644, "x"), finish(&t);
	refused(r, &t, "entry './certs/a.pem': appears twice");
	add(&t, "certs", '5', 0755, NULL), header(&t, "certs", '2', 0777, 0, "/"), finish(&t);
	refused(r, &t, "entry 'certs': appears twice");
	good(&t), add(&t, "README", '0', 0644, "x"), finish(&t);
	refused(r, &t, "entry 'README' is not part of a bundle");
	good(&t), add(&t, "certs/a.crt", '0', 0644, "x"), finish(&t);
	refused(r, &t, "entry 'certs/a.crt' is not a certificate file");
	add(&t, "manifest.json", '5', 0755, NULL), finish(&t);
	refused(r, &t, "entry 'manifest.json' must be a regular file");
	add(&t, "certs", '0', 0644, "x"), finish(&t);
	refused(r, &t, "entry 'certs' must be a folder");
}

static void
test_limits(void **state)
{
	struct root *r = *state;
	struct tarb t = { 0 };
	char name[32], *mib = tf_malloc(BUNDLE_ENTRY_MAX + 1);
	int i;

	for (i = 0; i <= BUNDLE_ENTRIES_MAX; i++) {
		snprintf(name, sizeof(name), "certs/%04d.pem", i);
		add(&t, name, '0', 0644, NULL);
	}
	finish(&t);
	refused(r, &t, "more than 1000 entries");

	/* the header's size alone is enough: no data follows */
	good(&t), header(&t, "certs/big.pem", '0', 0644, 1ULL << 30, NULL);
	refused(r, &t, "entry 'certs/big.pem': 1073741824 bytes, larger than the limit of 1 MiB");

	memset(mib, 'A', BUNDLE_ENTRY_MAX);
	mib[BUNDLE_ENTRY_MAX] = '\0';
	for (i = 0; i < 17; i++) {
		snprintf(name, sizeof(name), "certs/%02d.pem", i);
		add(&t, name, '0', 0644, mib);
	}
	finish(&t);
	refused(r, &t, "entry 'certs/16.pem': the entries hold more than the limit of 16 MiB");
	free(mib);
}

static void
test_end(void **state)
{
	struct root *r = *state;
	struct tarb t = { 0 };

	good(&t); /* no end-of-archive blocks */
	refused(r, &t, "is truncated: the archive has no end");
	good(&t), finish(&t), block(&t, "garbage", 7);
	refused(r, &t, "followed by trailing data after the end of the archive");
	good(&t), header(&t, "certs/b.pem", '0', 0644, 4096, NULL), block(&t, "x", 1);
	refused(r, &t, "is truncated or corrupt");
	block(&t, "not a tar archive", 17);
	refused(r, &t, "is not a bundle archive (a .tar.gz, .tar or .zip)");
}

static void
test_write_read(void **state)
{
	struct root *r = *state;
	struct bundle_entry v[] = {
		{ "manifest.json", (unsigned char *)"{\"x\": 1}\n", 9, false },
		{ "manifest.json.sig", (unsigned char *)"\x30\x80", 2, false },
		{ "certs", NULL, 0, true },
		{ "certs/a.pem", (unsigned char *)"-----BEGIN", 10, false },
	};
	struct bundle_entries es;
	unsigned char *out, *more;
	size_t len, i;

	assert_int_equal(archive_write_bundle(&r->ctx, v, 4, TEST_NOW, &out, &len), 0);
	assert_true(out[0] == 0x1f && out[1] == 0x8b);
	assert_true(len < 1024); /* not padded to a 10240-byte block */
	assert_int_equal(archive_read_bundle(&es, &r->ctx, out, len, "w.tar.gz"), 0);
	assert_int_equal(es.n, 4);
	for (i = 0; i < 4; i++) {
		const struct bundle_entry *e = entries_find(&es, v[i].name);

		assert_non_null(e);
		assert_int_equal(e->is_dir, v[i].is_dir);
		assert_int_equal(e->len, v[i].len);
		if (v[i].len > 0)
			assert_memory_equal(e->data, v[i].data, v[i].len);
	}
	entries_release(&es);

	/* zeros after the gzip stream pad it, as libarchive's writer pads; data does not */
	more = tf_calloc(1, len + 512);
	memcpy(more, out, len);
	assert_int_equal(archive_read_bundle(&es, &r->ctx, more, len + 512, "padded.tar.gz"), 0);
	entries_release(&es);
	more[len + 100] = 'X';
	tf_error_clear(&r->ctx);
	assert_int_equal(archive_read_bundle(&es, &r->ctx, more, len + 512, "g.tar.gz"),
	    TF_EINVALID);
	assert_non_null(strstr(r->ctx.errmsg, "trailing data after the end of the gzip stream"));
	tf_error_clear(&r->ctx);
	assert_int_equal(archive_read_bundle(&es, &r->ctx, out, len / 2, "t.tar.gz"), TF_EINVALID);
	assert_non_null(strstr(r->ctx.errmsg, "'t.tar.gz' is truncated or corrupt"));
	free(more);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_names, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_types, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_layout, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_limits, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_end, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_write_read, root_setup, root_teardown),
	};

	return cmocka_run_group_tests_name("bundles/archive", tests, NULL, NULL);
}
