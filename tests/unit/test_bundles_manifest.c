/*
 * tests/unit/test_bundles_manifest.c - the bundle manifest: what a valid one
 * gives, what is refused and with which message, the round trip through
 * manifest_dump(), timestamps and bundle names.
 */
#include "helpers.h"

#include "bundles/internal.h"

#define IT "5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae"
#define QV "85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86"
#define FH "1d03b965511ce50d0a0bae1b549ed7048c783cfcba9aa40ea11d355b1889657c"

/* A valid manifest with 'policy' and 'files' (or these defaults). */
static char *
manifest(const char *top, const char *policy, const char *files)
{
	return tf_asprintf("{\"format\": 1, \"name\": \"identrust\", \"version\": 3,"
	                   " \"created\": \"2025-06-01T00:00:00Z\","
	                   " \"expires\": \"2027-06-01T00:00:00Z\"%s,"
	                   " \"policy\": %s, \"files\": %s}",
	    top != NULL ? top : "",
	    policy != NULL ? policy
	                   : "{\"add\": [{\"sha256\": \"" IT "\", \"name\": \"IdenTrust\","
	                     " \"file\": \"certs/identrust.pem\"}],"
	                     " \"decommissioned\": [{\"sha256\": \"" QV
	                     "\", \"name\": \"QuoVadis\","
	                     " \"reason\": \"gone\"}],"
	                     " \"required\": [{\"sha256\": \"" IT "\"}]}",
	    files != NULL ? files
	                  : "[{\"path\": \"certs/identrust.pem\", \"sha256\": \"" FH "\","
	                    " \"size\": 1923}]");
}

static int
parse(struct root *r, const char *json, struct bundle_manifest **out)
{
	tf_error_clear(&r->ctx);
	return manifest_parse(out, &r->ctx, json, strlen(json), "b.tar.gz: manifest.json");
}

/* 'json' is refused with TF_EINVALID and a message holding 'what'. */
static void
refused(struct root *r, char *json, const char *what)
{
	struct bundle_manifest *m = (void *)1;

	if (parse(r, json, &m) != TF_EINVALID)
		fail_msg("accepted: %s", json);
	assert_null(m);
	assert_non_null(strstr(r->ctx.errmsg, "'b.tar.gz: manifest.json': "));
	if (strstr(r->ctx.errmsg, what) == NULL)
		fail_msg("error is '%s', expected '%s'", r->ctx.errmsg, what);
	free(json);
}

static void
test_valid(void **state)
{
	struct root *r = *state;
	struct bundle_manifest *m = NULL;
	unsigned char it[32], qv[32];
	char *json = manifest(", \"description\": \"the fix\"", NULL, NULL);

	assert_int_equal(parse(r, json, &m), 0);
	assert_int_equal(tf_unhex(it, 32, IT), 0);
	assert_int_equal(tf_unhex(qv, 32, QV), 0);
	assert_int_equal(m->format, 1);
	assert_string_equal(m->name, "identrust");
	assert_int_equal(m->version, 3);
	assert_int_equal(m->created, 1748736000);
	assert_int_equal(m->expires, 1748736000 + 730 * DAY);
	assert_string_equal(m->description, "the fix");
	assert_string_equal(m->policy_name, "identrust"); /* the bundle's name by default */
	assert_int_equal(m->nadd, 1);
	assert_memory_equal(m->add[0].sha256, it, 32);
	assert_string_equal(m->add[0].name, "IdenTrust");
	assert_string_equal(m->add[0].file, "certs/identrust.pem");
	assert_null(m->add[0].der);
	assert_int_equal(m->nremove, 1);
	assert_memory_equal(m->remove[0].sha256, qv, 32);
	assert_string_equal(m->remove[0].reason, "gone");
	assert_int_equal(m->nrequire, 1);
	assert_string_equal(m->require[0].name, IT); /* the fingerprint when unnamed */
	assert_null(m->require[0].reason);
	assert_int_equal(m->nfiles, 1);
	assert_int_equal(m->files[0].size, 1923);
	manifest_free(m);
	free(json);
}

static void
test_round_trip(void **state)
{
	struct root *r = *state;
	struct bundle_manifest *m = NULL, *back = NULL;
	char *json = manifest(NULL, NULL, NULL), *text, *again;
	size_t len, len2;

	assert_int_equal(parse(r, json, &m), 0);
	text = manifest_dump(m, &len);
	assert_int_equal(text[len - 1], '\n');
	assert_int_equal(manifest_parse(&back, &r->ctx, text, len, "dump"), 0);
	again = manifest_dump(back, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(text, again, len); /* stable: what is signed is what is read */
	assert_int_equal(back->version, 3);
	assert_int_equal(back->nremove, 1);
	manifest_free(m);
	manifest_free(back);
	free(json);
	free(text);
	free(again);
}

static void
test_refused_document(void **state)
{
	struct root *r = *state;

	refused(r, tf_strdup("[1, 2]"), "not a JSON object");
	refused(r, tf_strdup("{\"format\": 1,"), "not valid JSON: line 1");
	refused(r, tf_strdup("{\"format\": 1, \"format\": 1}"), "not valid JSON");
	refused(r, manifest(", \"hook\": \"rm -rf /\"", NULL, NULL), "unknown key 'hook'");
	refused(r, tf_strdup("{\"name\": \"x\"}"), "'format' must be the number 1");
	refused(r,
	    tf_asprintf("{\"format\": 2, \"name\": \"x\", \"version\": 1, \"created\": "
	                "\"2025-06-01T00:00:00Z\", \"expires\": \"2026-06-01T00:00:00Z\"}"),
	    "bundle format 2 is not supported (this trustfix reads format 1)");
}

static void
test_refused_fields(void **state)
{
	struct root *r = *state;
	char *big = tf_malloc(1100);

	refused(r, tf_strdup("{\"format\": 1, \"version\": 1}"), "'name' is missing");
	refused(r, tf_strdup("{\"format\": 1, \"name\": \"../etc\", \"version\": 1}"),
	    "'name' must be 1 to 64 of a-z 0-9");
	refused(r, tf_strdup("{\"format\": 1, \"name\": \"Upper\", \"version\": 1}"),
	    "'name' must be");
	refused(r, tf_strdup("{\"format\": 1, \"name\": \"x\", \"version\": 0}"),
	    "'version' must be a whole number from 1");
	refused(r, tf_strdup("{\"format\": 1, \"name\": \"x\", \"version\": 1.5}"),
	    "'version' must be a whole number");
	refused(r, tf_strdup("{\"format\": 1, \"name\": \"x\", \"version\": \"2\"}"),
	    "'version' must be a whole number");
	refused(r,
	    tf_strdup(
	        "{\"format\": 1, \"name\": \"x\", \"version\": 1, \"created\": \"2025-06-01\","
	        " \"expires\": \"2026-06-01T00:00:00Z\"}"),
	    "'created' must be a UTC time");
	refused(r,
	    tf_strdup("{\"format\": 1, \"name\": \"x\", \"version\": 1, \"created\": "
	              "\"2025-06-01T00:00:00Z\"}"),
	    "'expires' is missing");
	refused(r,
	    tf_strdup("{\"format\": 1, \"name\": \"x\", \"version\": 1, \"created\": "
	              "\"2025-06-01T00:00:00Z\", \"expires\": \"2025-06-01T00:00:00Z\"}"),
	    "'expires' must be later than 'created'");
	refused(r, manifest(", \"description\": \"a\\u001b[2Jb\"", NULL, NULL),
	    "'description' holds a control character");
	memset(big, 'a', 1099);
	big[1099] = '\0';
	{
		char *top = tf_asprintf(", \"description\": \"%s\"", big);

		refused(r, manifest(top, NULL, NULL), "'description' must hold 1 to 1024 bytes");
		free(top);
	}
	free(big);
	refused(r, manifest(NULL, NULL, "{}"), "'files' must be a list");
	refused(r, manifest(NULL, "[]", NULL), "'policy' must be an object");
}

static void
test_refused_policy(void **state)
{
	struct root *r = *state;

	refused(r, manifest(NULL, "{}", "[]"),
	    "the policy adds, decommissions and requires nothing");
	refused(r, manifest(NULL, "{\"remove\": []}", "[]"), "unknown key 'remove' in policy");
	refused(r, manifest(NULL, "{\"required\": [{\"sha256\": \"12\"}]}", "[]"),
	    "policy.required[0] needs \"sha256\": 64 hex digits");
	refused(r,
	    manifest(NULL, "{\"required\": [{\"sha256\": \"" IT "\"}, {\"sha256\": \"" IT "\"}]}",
	        "[]"),
	    IT " is listed twice in policy.required");
	refused(r, manifest(NULL, "{\"required\": [\"" IT "\"]}", "[]"),
	    "the entry in policy.required[0] must be an object");
	refused(r,
	    manifest(NULL, "{\"required\": [{\"sha256\": \"" IT "\", \"url\": \"x\"}]}", "[]"),
	    "unknown key 'url' in policy.required[0]");
	refused(r,
	    manifest(NULL,
	        "{\"decommissioned\": [{\"sha256\": \"" IT "\"}], \"required\": [{\"sha256\": \"" IT
	        "\"}]}",
	        "[]"),
	    IT " is decommissioned and also added or required");
	refused(r, manifest(NULL, "{\"add\": [{\"sha256\": \"" IT "\"}]}", "[]"),
	    "'file' is missing in policy.add[0]");
	refused(r,
	    manifest(NULL, "{\"add\": [{\"sha256\": \"" IT "\", \"file\": \"identrust.pem\"}]}",
	        "[]"),
	    "'identrust.pem' in policy.add[0] must name a file certs/NAME.pem");
	refused(r,
	    manifest(NULL, "{\"add\": [{\"sha256\": \"" IT "\", \"file\": \"certs/../x.pem\"}]}",
	        "[]"),
	    "'certs/../x.pem': the name holds '..'");
	refused(r,
	    manifest(NULL, "{\"add\": [{\"sha256\": \"" IT "\", \"file\": \"/certs/x.pem\"}]}",
	        "[]"),
	    "the name is an absolute path");
	refused(r,
	    manifest(NULL, "{\"add\": [{\"sha256\": \"" IT "\", \"file\": \"certs/a.pem\"}]}",
	        "[]"),
	    "'certs/a.pem' of policy.add is not listed in files");
}

static void
test_refused_files(void **state)
{
	struct root *r = *state;

	refused(r,
	    manifest(NULL, NULL,
	        "[{\"path\": \"certs/identrust.pem\", \"sha256\": \"" FH "\", \"size\": 1923},"
	        " {\"path\": \"certs/extra.pem\", \"sha256\": \"" FH "\", \"size\": 1}]"),
	    "'certs/extra.pem' of files is no certificate of policy.add");
	refused(r,
	    manifest(NULL, NULL,
	        "[{\"path\": \"certs/identrust.pem\", \"sha256\": \"" FH "\", \"size\": 1923},"
	        " {\"path\": \"certs/identrust.pem\", \"sha256\": \"" FH "\", \"size\": 1923}]"),
	    "'certs/identrust.pem' is listed twice in files");
	refused(r,
	    manifest(NULL, NULL,
	        "[{\"path\": \"certs/identrust.pem\", \"sha256\": \"" FH "\", \"size\": -1}]"),
	    "'size' in files[0] must be a number of bytes");
	refused(r,
	    manifest(NULL, NULL,
	        "[{\"path\": \"certs/identrust.pem\", \"sha256\": \"" FH "\", \"size\": 2000000}]"),
	    "at most 1 MiB");
	refused(r, manifest(NULL, NULL, "[{\"path\": \"manifest.json\", \"sha256\": \"" FH "\"}]"),
	    "'manifest.json' in files[0] must name a file certs/NAME.pem");
	refused(r, manifest(NULL, NULL, "[{\"path\": \"certs/identrust.pem\", \"size\": 1}]"),
	    "files[0] needs \"sha256\"");
}

static void
test_time_parse(void **state)
{
	time_t t;

	(void)state;
	assert_int_equal(bundle_time_parse("2025-06-01T12:34:56Z", false, &t), 0);
	assert_int_equal(t, 1748781296);
	assert_int_equal(bundle_time_parse("1970-01-01T00:00:00Z", false, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(bundle_time_parse("2024-02-29", true, &t), 0);
	assert_int_equal(t, 1709164800);
	assert_int_equal(bundle_time_parse("2024-02-29", false, &t), -1);
	assert_int_equal(bundle_time_parse("2025-02-29", true, &t), -1);
	assert_int_equal(bundle_time_parse("2025-13-01", true, &t), -1);
	assert_int_equal(bundle_time_parse("2025-06-01T24:00:00Z", false, &t), -1);
	assert_int_equal(bundle_time_parse("2025-06-01T12:00:00+01:00", false, &t), -1);
	assert_int_equal(bundle_time_parse("2025-06-01 12:00:00Z", false, &t), -1);
	assert_int_equal(bundle_time_parse("1969-12-31T23:59:59Z", false, &t), -1);
	assert_int_equal(bundle_time_parse("", true, &t), -1);
	assert_int_equal(bundle_time_parse("2025-0a-01", true, &t), -1);
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(bundle_name_is_valid("identrust-commercial-root-ca-1"));
	assert_true(bundle_name_is_valid("a"));
	assert_true(bundle_name_is_valid("v1.2_b"));
	assert_false(bundle_name_is_valid(""));
	assert_false(bundle_name_is_valid(".hidden"));
	assert_false(bundle_name_is_valid("-x"));
	assert_false(bundle_name_is_valid("a..b"));
	assert_false(bundle_name_is_valid("a/b"));
	assert_false(bundle_name_is_valid("A"));
	assert_false(bundle_name_is_valid(
	    "a234567890123456789012345678901234567890123456789012345678901234x"));
}

/* Inputs the fuzzer kept: parsed without a crash, accepted or refused. */
static void
regress_one(const char *name, const unsigned char *data, size_t len, void *arg)
{
	struct root *r = arg;
	struct bundle_manifest *m = NULL;

	(void)name;
	tf_error_clear(&r->ctx);
	if (manifest_parse(&m, &r->ctx, (const char *)data, len, "regress") == 0)
		manifest_free(m);
	else
		assert_int_equal(r->ctx.err, TF_EINVALID);
}

static void
test_fuzz_regressions(void **state)
{
	for_each_regress("manifest-", regress_one, *state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_refused_document, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_refused_fields, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_refused_policy, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_refused_files, root_setup, root_teardown),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_fuzz_regressions, root_setup, root_teardown),
	};

	return cmocka_run_group_tests_name("bundles/manifest", tests, NULL, NULL);
}
