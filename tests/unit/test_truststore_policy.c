/*
 * tests/unit/test_truststore_policy.c - policy documents: what a valid one
 * gives, and how a broken one is refused.
 */
#include "helpers.h"

#include "truststore/policy.h"

#define HEX_A "85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86"
#define HEX_B "5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae"

static int
parse(struct root *r, const char *json, struct tf_policy **out)
{
	tf_error_clear(&r->ctx);
	return tf_policy_parse(out, &r->ctx, json, strlen(json), "site.json");
}

/* 'json' is refused with TF_ECONFIG and a message holding 'what'. */
static void
assert_refused(struct root *r, const char *json, const char *what)
{
	struct tf_policy *p = (void *)1;

	assert_int_equal(parse(r, json, &p), TF_ECONFIG);
	assert_null(p);
	assert_int_equal(r->ctx.err, TF_ECONFIG);
	assert_non_null(strstr(r->ctx.errmsg, "policy 'site.json'"));
	if (strstr(r->ctx.errmsg, what) == NULL)
		fail_msg("error is '%s', expected '%s'", r->ctx.errmsg, what);
}

static void
test_valid(void **state)
{
	struct root *r = *state;
	struct tf_policy *p = NULL;
	unsigned char a[32], b[32], c[32];

	assert_int_equal(parse(r,
	                     "{\n"
	                     "  \"policy\": \"site\",\n"
	                     "  \"description\": \"ignored\",\n"
	                     "  \"decommissioned\": [\n"
	                     "    {\"sha256\": \"" HEX_A
	                     "\", \"name\": \"Old\", \"reason\": \"gone\"},\n"
	                     "    {\"sha256\": \"" HEX_B "\"}\n"
	                     "  ],\n"
	                     "  \"required\": []\n"
	                     "}\n",
	                     &p),
	    0);
	assert_non_null(p);
	assert_string_equal(p->name, "site");
	assert_string_equal(p->source, "site.json");
	assert_int_equal(p->ndecommissioned, 2);
	assert_int_equal(p->nrequired, 0);
	assert_int_equal(tf_unhex(a, 32, HEX_A), 0);
	assert_int_equal(tf_unhex(b, 32, HEX_B), 0);
	assert_memory_equal(p->decommissioned[0].sha256, a, 32);
	assert_string_equal(p->decommissioned[0].name, "Old");
	assert_string_equal(p->decommissioned[0].reason, "gone");
	/* without a name, the fingerprint names it */
	assert_memory_equal(p->decommissioned[1].sha256, b, 32);
	assert_string_equal(p->decommissioned[1].name, HEX_B);
	assert_null(p->decommissioned[1].reason);

	assert_ptr_equal(tf_policy_find(p->decommissioned, p->ndecommissioned, b),
	    &p->decommissioned[1]);
	memcpy(c, a, 32);
	c[31] ^= 1;
	assert_null(tf_policy_find(p->decommissioned, p->ndecommissioned, c));
	assert_null(tf_policy_find(p->required, p->nrequired, a));
	tf_policy_free(p);
	tf_policy_free(NULL); /* a no-op */
}

static void
test_minimal_and_uppercase(void **state)
{
	struct root *r = *state;
	struct tf_policy *p = NULL;
	char upper[65];
	unsigned char b[32];
	size_t i;
	char *json;

	for (i = 0; i < 64; i++)
		upper[i] = (char)(HEX_B[i] >= 'a' ? HEX_B[i] - 32 : HEX_B[i]);
	upper[64] = '\0';
	json = tf_asprintf("{\"required\": [{\"sha256\": \"%s\", \"name\": \"New\"}]}", upper);
	assert_int_equal(parse(r, json, &p), 0);
	assert_string_equal(p->name, "unnamed");
	assert_int_equal(p->ndecommissioned, 0);
	assert_int_equal(p->nrequired, 1);
	assert_int_equal(tf_unhex(b, 32, HEX_B), 0);
	assert_memory_equal(p->required[0].sha256, b, 32);
	tf_policy_free(p);
	free(json);

	assert_int_equal(parse(r, "{}", &p), 0);
	assert_int_equal(p->ndecommissioned + p->nrequired, 0);
	tf_policy_free(p);
}

static void
test_bad_json_names_line(void **state)
{
	struct root *r = *state;

	assert_refused(r, "{\n  \"policy\": \"x\",\n  \"required\": [\n    oops\n  ]\n}\n",
	    "line 4");
	assert_refused(r, "{\"policy\": \"x\"", "line 1");
	assert_refused(r, "", "line");
	assert_refused(r, "{\"policy\": \"x\"} trailing", "line 1");
}

static void
test_not_an_object(void **state)
{
	struct root *r = *state;

	assert_refused(r, "[1, 2]", "not a JSON object");
	assert_refused(r, "\"text\"", "line 1");
	assert_refused(r, "{\"decommissioned\": {\"sha256\": \"" HEX_A "\"}}",
	    "'decommissioned' must be a list");
	assert_refused(r, "{\"required\": \"" HEX_A "\"}", "'required' must be a list");
}

static void
test_bad_sha256(void **state)
{
	struct root *r = *state;

	/* 63 digits */
	assert_refused(r,
	    "{\"decommissioned\": [{\"sha256\": \"" HEX_A "\"}, {\"sha256\": \"" HEX_A
	    "\"}, {\"sha256\": \"85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5"
	    "e5c49e8\"}]}",
	    "decommissioned[2] needs \"sha256\": 64 hex digits");
	/* 65 digits */
	assert_refused(r, "{\"required\": [{\"sha256\": \"" HEX_A "0\"}]}",
	    "required[0] needs \"sha256\"");
	/* not hex */
	assert_refused(r,
	    "{\"required\": [{\"sha256\": "
	    "\"zza0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86\"}]}",
	    "required[0] needs");
	/* with colons, as openssl prints it */
	assert_refused(r, "{\"required\": [{\"sha256\": \"85:A0:DD\"}]}", "required[0] needs");
	/* missing, not a string, an entry that is not an object */
	assert_refused(r, "{\"required\": [{\"name\": \"x\"}]}", "required[0] needs");
	assert_refused(r, "{\"required\": [{\"sha256\": 12}]}", "required[0] needs");
	assert_refused(r, "{\"required\": [\"" HEX_A "\"]}", "required[0] needs");
}

static void
test_duplicate_keys_rejected(void **state)
{
	struct root *r = *state;

	assert_refused(r, "{\"policy\": \"a\",\n\"policy\": \"b\"}", "duplicate");
	assert_refused(r,
	    "{\"required\": [{\"sha256\": \"" HEX_A "\", \"sha256\": \"" HEX_B "\"}]}",
	    "duplicate");
}

static void
test_builtin_policy(void **state)
{
	struct root *r = *state;
	struct tf_policy *p = NULL;
	char hex[65];

	assert_int_equal(tf_policy_load(&p, &r->ctx, NULL), 0);
	assert_string_equal(p->source, "built-in");
	assert_int_equal(p->ndecommissioned, 1);
	assert_int_equal(p->nrequired, 1);
	tf_hex(hex, p->decommissioned[0].sha256, 32);
	assert_string_equal(hex, HEX_A);
	assert_string_equal(p->decommissioned[0].name, "QuoVadis Root CA 2");
	tf_hex(hex, p->required[0].sha256, 32);
	assert_string_equal(hex, HEX_B);
	assert_string_equal(p->required[0].name, "IdenTrust Commercial Root CA 1");
	tf_policy_free(p);
}

static void
test_load_file(void **state)
{
	struct root *r = *state;
	struct tf_policy *p = (void *)1;
	char *want;

	write_str(r->dir, "etc/trustfix/policy.json",
	    "{\"policy\": \"from file\", \"required\": [{\"sha256\": \"" HEX_B "\"}]}");
	assert_int_equal(tf_policy_load(&p, &r->ctx, "/etc/trustfix/policy.json"), 0);
	assert_string_equal(p->name, "from file");
	/* the source names the file as it is on this host */
	want = tf_asprintf("%s/etc/trustfix/policy.json", r->dir);
	assert_string_equal(p->source, want);
	assert_int_equal(p->nrequired, 1);
	tf_policy_free(p);

	/* a missing policy file is a configuration error naming it */
	assert_int_equal(tf_policy_load(&p, &r->ctx, "/etc/trustfix/none.json"), TF_ECONFIG);
	assert_null(p);
	assert_non_null(strstr(r->ctx.errmsg, "cannot open policy"));
	assert_non_null(strstr(r->ctx.errmsg, "none.json"));
	tf_error_clear(&r->ctx);

	/* so is a broken one, with its line */
	write_str(r->dir, "etc/trustfix/bad.json", "{\n\"policy\": 1,\n,\n}");
	assert_int_equal(tf_policy_load(&p, &r->ctx, "/etc/trustfix/bad.json"), TF_ECONFIG);
	assert_null(p);
	assert_non_null(strstr(r->ctx.errmsg, "bad.json' line 3"));
	free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_minimal_and_uppercase, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_bad_json_names_line, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_not_an_object, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_bad_sha256, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_keys_rejected, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_builtin_policy, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_load_file, root_setup, root_teardown),
	};

	return cmocka_run_group_tests_name("truststore/policy", tests, NULL, NULL);
}
