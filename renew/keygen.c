/*
 * renew/keygen.c - the new private key of a renewal: generated in memory,
 * handed out as PEM to be installed through txn/, and wiped after use.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../core/fsutil.h"
#include "est_parse.h"

static const struct {
	const char *name;
	enum est_key_type type;
} key_names[] = {
	{ "ec-p256", EST_KEY_P256 },
	{ "ec-p384", EST_KEY_P384 },
	{ "p256", EST_KEY_P256 },
	{ "p384", EST_KEY_P384 },
	{ "rsa2048", EST_KEY_RSA2048 },
	{ "rsa3072", EST_KEY_RSA3072 },
	{ "rsa4096", EST_KEY_RSA4096 },
};

int
est_key_type_parse(enum est_key_type *out, struct tf_ctx *ctx, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++) {
		if (strcmp(name, key_names[i].name) == 0) {
			*out = key_names[i].type;
			return 0;
		}
	}
	return tf_error(ctx, TF_ECONFIG,
	    "unknown key type '%s' (ec-p256, ec-p384, rsa2048, rsa3072, rsa4096)", name);
}

int
est_key_new(EVP_PKEY **out, struct tf_ctx *ctx, enum est_key_type type)
{
	EVP_PKEY *pk = NULL;

	switch (type) {
	case EST_KEY_P256:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case EST_KEY_P384:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case EST_KEY_RSA2048:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case EST_KEY_RSA3072:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case EST_KEY_RSA4096:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	default:
		return tf_error(ctx, TF_EINVALID, "unknown key type %d", (int)type);
	}
	*out = pk;
	if (pk == NULL)
		return tf_error_ssl(ctx, TF_ERROR, "cannot generate a private key");
	return 0;
}

int
est_key_pem(char **out, size_t *len, struct tf_ctx *ctx, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long n;
	int rc = TF_ERROR;

	*out = NULL;
	*len = 0;
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0) {
		rc = tf_error_ssl(ctx, TF_ERROR, "cannot encode the private key");
		goto out;
	}
	*out = tf_malloc((size_t)n + 1);
	memcpy(*out, data, (size_t)n);
	(*out)[n] = '\0';
	*len = (size_t)n;
	rc = 0;
out:
	BIO_free(bio); /* a secure-memory BIO wipes what it held */
	return rc;
}

int
est_key_from_pem(EVP_PKEY **out, struct tf_ctx *ctx, const char *pem, size_t len)
{
	BIO *bio;

	*out = NULL;
	if (len > 0x7fffffff || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return tf_error(ctx, TF_ERROR, "cannot read the private key");
	*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (*out == NULL)
		return tf_error_ssl(ctx, TF_EINVALID, "cannot decode the pending private key");
	return 0;
}

int
est_key_write(struct tf_ctx *ctx, int dirfd, const char *name, const char *pem, size_t len)
{
	mode_t old = umask(077);
	int fd, rc = 0;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	umask(old);
	if (fd == -1)
		return tf_error_sys(ctx, TF_EIO, "cannot create key file '%s'", name);
	if (fchmod(fd, 0600) != 0 || tf_write_all(fd, pem, len) != 0 || tf_fsync(fd) != 0) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot write key file '%s'", name);
		close(fd);
		unlinkat(dirfd, name, 0);
		return rc;
	}
	if (close(fd) != 0) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot write key file '%s'", name);
		unlinkat(dirfd, name, 0);
	}
	return rc;
}
