/*
 * tests/unit/test_audit_vault.c - the key vault: what the audit log records
 * in place of a private key, keeping the key 0600 beside the log, and
 * reading it back (refusing a vault file that was altered).
 */
#include "audit/vault.h"
#include "helpers.h"

/* The SPKI SHA-256 of a key, as hex. */
static void
spki_hex(EVP_PKEY *pk, char out[65])
{
	unsigned char *der = NULL, md[32];
	int n = i2d_PUBKEY(pk, &der);

	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL), 1);
	tf_hex(out, md, 32);
	OPENSSL_free(der);
}

static void
test_ref_names_spki_not_key(void **state)
{
	EVP_PKEY *pk = make_key(KEY_P256);
	char *pem = key_pem(pk), *ref, spki[65], want[65], body[80];
	size_t rlen;

	(void)state;
	spki_hex(pk, want);
	assert_int_equal(vault_ref(&ref, &rlen, pem, strlen(pem)), 1);
	assert_null(memmem(ref, rlen, "PRIVATE KEY", 11));
	/* no line of the key's base64 is in the reference */
	memcpy(body, strchr(pem, '\n') + 1, 64);
	body[64] = '\0';
	assert_null(strstr(ref, body));
	assert_true(vault_is_ref(ref, rlen, spki));
	assert_string_equal(spki, want);
	assert_false(vault_is_ref(pem, strlen(pem), NULL));
	free(ref);

	/* a certificate is not a key: recorded as it is */
	assert_int_equal(vault_ref(&ref, &rlen, "-----BEGIN CERTIFICATE-----\n", 28), 0);
	assert_null(ref);
	free(pem);
	EVP_PKEY_free(pk);
}

static void
test_keep_and_resolve(void **state)
{
	struct root *r = *state;
	EVP_PKEY *pk = make_key(KEY_P384);
	char *pem = key_pem(pk), *ref, *dir, spki[65];
	unsigned char *back;
	size_t rlen, blen;
	struct stat st;

	assert_int_equal(vault_ref(&ref, &rlen, pem, strlen(pem)), 1);
	/* nothing kept yet: a clear error */
	assert_int_equal(vault_resolve(&r->ctx, ref, rlen, &back, &blen), TF_EIO);
	assert_non_null(strstr(r->ctx.errmsg, "not in the key vault"));
	tf_error_clear(&r->ctx);
	assert_int_equal(vault_keep(&r->ctx, pem, strlen(pem)), 0);
	assert_int_equal(vault_keep(&r->ctx, pem, strlen(pem)), 0); /* idempotent */
	assert_int_equal(vault_resolve(&r->ctx, ref, rlen, &back, &blen), 0);
	assert_int_equal(blen, strlen(pem));
	assert_memory_equal(back, pem, blen);
	vault_data_free(back, blen);

	/* the folder is 0700, the key 0600 */
	dir = tf_asprintf("%s%s", r->dir, VAULT_DIR);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	{
		char *path;

		assert_true(vault_is_ref(ref, rlen, spki));
		path = tf_asprintf("%s/%s-", dir, spki);
		{
			DIR *d = opendir(dir);
			struct dirent *e;
			int n = 0;

			assert_non_null(d);
			while ((e = readdir(d)) != NULL) {
				char *full;

				if (e->d_name[0] == '.')
					continue;
				full = tf_asprintf("%s/%s", dir, e->d_name);
				assert_int_equal(strncmp(full, path, strlen(path)), 0);
				assert_int_equal(stat(full, &st), 0);
				assert_int_equal(st.st_mode & 0777, 0600);
				/* altered behind trustfix's back: refused */
				write_str(dir, e->d_name, "-----BEGIN PRIVATE KEY-----\nAAAA\n");
				free(full);
				n++;
			}
			closedir(d);
			assert_int_equal(n, 1);
		}
		free(path);
	}
	assert_int_equal(vault_resolve(&r->ctx, ref, rlen, &back, &blen), TF_EIO);
	assert_non_null(strstr(r->ctx.errmsg, "altered"));
	free(dir);
	free(ref);
	free(pem);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_names_spki_not_key),
		cmocka_unit_test_setup_teardown(test_keep_and_resolve, root_setup, root_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
