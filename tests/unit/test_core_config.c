/*
 * tests/unit/test_core_config.c - trustfix.conf: defaults, every key, and
 * errors that name the file and the line.
 */
#include "helpers.h"

#include "core/config.h"

#define CONF "/etc/trustfix/trustfix.conf"

/* Load CONF after writing 'text' to it; returns the code, cfg in *out. */
static int
load(struct root *r, const char *text, struct tf_config **out)
{
	if (text != NULL)
		write_str(r->dir, CONF + 1, text);
	tf_error_clear(&r->ctx);
	return tf_config_load(out, &r->ctx, CONF, true);
}

/* Assert that 'text' is refused with "<root>/etc/trustfix/trustfix.conf:LINE: <what>". */
static void
assert_config_error(struct root *r, const char *text, int line, const char *what)
{
	struct tf_config *cfg = (void *)1;
	char *want;

	assert_int_equal(load(r, text, &cfg), TF_ECONFIG);
	assert_null(cfg);
	assert_int_equal(r->ctx.err, TF_ECONFIG);
	want = tf_asprintf("%s%s:%d: %s", r->dir, CONF, line, what);
	if (strstr(r->ctx.errmsg, want) != r->ctx.errmsg)
		fail_msg("error is '%s', expected it to start with '%s'", r->ctx.errmsg, want);
	free(want);
}

static void
assert_defaults(const struct tf_config *cfg)
{
	assert_int_equal(cfg->renew_before_days, 30);
	assert_true(cfg->renew_lifetime_fraction == 0.0);
	assert_int_equal(cfg->warn_days, 30);
	assert_null(cfg->policy);
	assert_null(cfg->bundle_signers);
	assert_int_equal(cfg->nstores, 0);
	assert_null(cfg->stores);
	assert_null(cfg->client_cert);
	assert_null(cfg->client_key);
	assert_null(cfg->client_chain);
}

static void
test_defaults(void **state)
{
	struct tf_config *cfg = tf_config_new();

	(void)state;
	assert_defaults(cfg);
	assert_null(cfg->file);
	tf_config_free(cfg);
	tf_config_free(NULL); /* a no-op */
}

static void
test_missing_file_optional(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = NULL;

	assert_int_equal(tf_config_load(&cfg, &r->ctx, CONF, false), 0);
	assert_non_null(cfg);
	assert_defaults(cfg);
	assert_null(cfg->file);
	assert_int_equal(r->ctx.err, 0);
	tf_config_free(cfg);
}

static void
test_missing_file_required(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = (void *)1;
	char *want;

	assert_int_equal(tf_config_load(&cfg, &r->ctx, CONF, true), TF_ECONFIG);
	assert_null(cfg);
	want = tf_asprintf("cannot open config '%s%s'", r->dir, CONF);
	assert_non_null(strstr(r->ctx.errmsg, want));
	assert_non_null(strstr(r->ctx.errmsg, "No such file or directory"));
	free(want);
}

static void
test_directory_is_not_a_config(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = (void *)1;
	char *path = tf_path_join(r->dir, "etc");

	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(tf_config_load(&cfg, &r->ctx, "/etc", true), TF_ECONFIG);
	assert_null(cfg);
	assert_non_null(strstr(r->ctx.errmsg, "cannot read config"));
	free(path);
}

static void
test_every_key(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = NULL;

	assert_int_equal(load(r,
	                     "# trustfix configuration\n"
	                     "; another comment\n"
	                     "renew_before_days = 14\n"
	                     "renew_lifetime_fraction = 0.66\n"
	                     "warn_days=45\n"
	                     "policy = /etc/trustfix/policy.json\n"
	                     "bundle_signers = /etc/trustfix/signers.pem\n"
	                     "\n"
	                     "[store system]\n"
	                     "path = /etc/ssl/certs/ca-certificates.crt\n"
	                     "[store java]\n"
	                     "  path = /opt/app/truststore.p12  \n"
	                     "[client]\n"
	                     "cert = /etc/device/client.pem\n"
	                     "key = /etc/device/client.key\n"
	                     "chain = /etc/device/chain.pem\n"
	                     "[store system]\n"
	                     "path = /etc/ssl/certs\n",
	                     &cfg),
	    0);
	assert_non_null(cfg);
	assert_string_equal(cfg->file, CONF);
	assert_int_equal(cfg->renew_before_days, 14);
	assert_true(cfg->renew_lifetime_fraction > 0.659 && cfg->renew_lifetime_fraction < 0.661);
	assert_int_equal(cfg->warn_days, 45);
	assert_string_equal(cfg->policy, "/etc/trustfix/policy.json");
	assert_string_equal(cfg->bundle_signers, "/etc/trustfix/signers.pem");
	assert_int_equal(cfg->nstores, 2);
	assert_string_equal(cfg->stores[0].name, "system");
	/* a section given twice: the later value wins */
	assert_string_equal(cfg->stores[0].path, "/etc/ssl/certs");
	assert_string_equal(cfg->stores[1].name, "java");
	assert_string_equal(cfg->stores[1].path, "/opt/app/truststore.p12");
	assert_string_equal(cfg->client_cert, "/etc/device/client.pem");
	assert_string_equal(cfg->client_key, "/etc/device/client.key");
	assert_string_equal(cfg->client_chain, "/etc/device/chain.pem");
	tf_config_free(cfg);
}

static void
test_empty_file(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = NULL;

	assert_int_equal(load(r, "", &cfg), 0);
	assert_defaults(cfg);
	assert_string_equal(cfg->file, CONF);
	tf_config_free(cfg);
}

static void
test_inline_comments(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = NULL;

	assert_int_equal(load(r,
	                     "warn_days = 10 ; ten days\n"
	                     "policy = /etc/a;b.json\n"
	                     "[store s] ; the system store\n"
	                     "path = /etc/ssl/x.pem ; comment\n",
	                     &cfg),
	    0);
	assert_int_equal(cfg->warn_days, 10);
	/* ';' starts a comment only after white space */
	assert_string_equal(cfg->policy, "/etc/a;b.json");
	assert_int_equal(cfg->nstores, 1);
	assert_string_equal(cfg->stores[0].path, "/etc/ssl/x.pem");
	tf_config_free(cfg);
}

static void
test_crlf_and_bom(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = NULL;

	assert_int_equal(
	    load(r, "\xEF\xBB\xBFwarn_days = 7\r\n[client]\r\ncert = /c.pem\r\n", &cfg), 0);
	assert_int_equal(cfg->warn_days, 7);
	assert_string_equal(cfg->client_cert, "/c.pem");
	tf_config_free(cfg);
}

static void
test_unknown_key(void **state)
{
	struct root *r = *state;

	assert_config_error(r, "warn_days = 5\n\ncolour = always\n", 3, "unknown key 'colour'");
	assert_config_error(r, "[store s]\npath = /x\nformat = pem\n", 3,
	    "unknown key 'format' in [store s]");
	assert_config_error(r, "[client]\ncert = /c\npassword = secret\n", 3,
	    "unknown key 'password' in [client]");
}

static void
test_unknown_section(void **state)
{
	struct root *r = *state;

	assert_config_error(r, "warn_days = 5\n[clinet]\ncert = /c.pem\n", 2,
	    "unknown section [clinet]");
	/* even without keys, a misspelt section is not ignored */
	assert_config_error(r, "warn_days = 5\n\n[stores]\n", 3, "unknown section [stores]");
	assert_config_error(r, "[store ]\npath = /x\n", 1, "unknown section [store ]");
	assert_config_error(r, "[]\n", 1, "unknown section []");
}

static void
test_store_without_path(void **state)
{
	struct root *r = *state;

	assert_config_error(r, "[store a]\npath = /a\n\n[store empty]\n# path = /b\n", 4,
	    "[store empty] has no 'path'");
	assert_config_error(r, "[store a]\npath =\n", 2, "empty value for 'path'");
}

static void
test_bad_values(void **state)
{
	static const struct {
		const char *text;
		const char *what;
	} bad[] = {
		{ "warn_days = abc\n", "bad value 'abc' for 'warn_days'" },
		{ "warn_days = -1\n", "bad value '-1' for 'warn_days'" },
		{ "warn_days = 3651\n", "bad value '3651' for 'warn_days'" },
		{ "warn_days = 10days\n", "bad value '10days' for 'warn_days'" },
		{ "warn_days = 0x10\n", "bad value '0x10' for 'warn_days'" },
		{ "warn_days =\n", "bad value '' for 'warn_days'" },
		{ "warn_days = 99999999999999999999\n", "bad value '99999999999999999999'" },
		{ "renew_before_days = 1.5\n", "bad value '1.5' for 'renew_before_days'" },
		{ "renew_lifetime_fraction = 1.5\n",
		    "bad value '1.5' for 'renew_lifetime_fraction'" },
		{ "renew_lifetime_fraction = -0.1\n", "bad value '-0.1'" },
		{ "renew_lifetime_fraction = nan\n", "bad value 'nan'" },
		{ "renew_lifetime_fraction = inf\n", "bad value 'inf'" },
		{ "renew_lifetime_fraction = 0,5\n", "bad value '0,5'" },
		{ "policy =\n", "empty value for 'policy'" },
		{ "[client]\ncert =\n", "empty value for 'cert'" },
	};
	struct root *r = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = tf_asprintf("# line 1\n%s", bad[i].text);
		/* the bad value is on the last line */
		int line = 1;

		for (const char *p = text; *p != '\0'; p++)
			line += *p == '\n' && p[1] != '\0';
		assert_config_error(r, text, line, bad[i].what);
		free(text);
	}
}

static void
test_boundary_values(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = NULL;

	assert_int_equal(load(r,
	                     "warn_days = 0\nrenew_before_days = 3650\n"
	                     "renew_lifetime_fraction = 1\n",
	                     &cfg),
	    0);
	assert_int_equal(cfg->warn_days, 0);
	assert_int_equal(cfg->renew_before_days, 3650);
	assert_true(cfg->renew_lifetime_fraction == 1.0);
	tf_config_free(cfg);
}

static void
test_syntax_error(void **state)
{
	struct root *r = *state;

	assert_config_error(r, "warn_days = 5\njust some words\n", 2, "syntax error");
	assert_config_error(r, "[client\ncert = /c\n", 1, "syntax error");
}

static void
test_first_error_is_kept(void **state)
{
	struct root *r = *state;
	struct tf_config *cfg = NULL;

	assert_config_error(r, "a = 1\nb = 2\n", 1, "unknown key 'a'");
	assert_null(strstr(r->ctx.errmsg, "'b'"));
	/* a later failure does not overwrite the message of the first */
	assert_int_equal(tf_config_load(&cfg, &r->ctx, "/nonexistent", true), TF_ECONFIG);
	assert_non_null(strstr(r->ctx.errmsg, "unknown key 'a'"));
}

static void
test_parse_numbers(void **state)
{
	long v = 0;
	double d = 0;

	(void)state;
	assert_int_equal(tf_parse_int("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(tf_parse_int("101", 0, 100, &v), -1);
	assert_int_equal(tf_parse_int("", 0, 100, &v), -1);
	assert_int_equal(tf_parse_int("4 2", 0, 100, &v), -1);
	assert_int_equal(v, 42); /* untouched on failure */
	assert_int_equal(tf_parse_double("0.25", 0, 1, &d), 0);
	assert_true(d == 0.25);
	assert_int_equal(tf_parse_double("1e400", 0, 1e300, &d), -1);
	assert_int_equal(tf_parse_double("", 0, 1, &d), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_missing_file_optional, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_required, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_directory_is_not_a_config, root_setup,
		    root_teardown),
		cmocka_unit_test_setup_teardown(test_every_key, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_inline_comments, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_crlf_and_bom, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_section, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_store_without_path, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_boundary_values, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_first_error_is_kept, root_setup,
		    root_teardown),
		cmocka_unit_test(test_parse_numbers),
	};

	return cmocka_run_group_tests_name("core/config", tests, NULL, NULL);
}
