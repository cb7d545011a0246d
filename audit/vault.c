/*
 * audit/vault.c - private keys kept beside the audit log, never in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "audit.h"
#include "vault.h"

#define REF_MAGIC "trustfix key vault reference\n"
#define KEY_FILE_MAX (1024 * 1024)

/* Never ask for a passphrase: an encrypted key is kept by its content. */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* SHA-256 of the SPKI of the first private key in 'data', as hex; "unknown" when none reads. */
static void
key_spki(char out[65], const void *data, size_t len)
{
	unsigned char *spki = NULL, md[32];
	const unsigned char *q = data;
	EVP_PKEY *pk = NULL;
	BIO *bio;
	int n;

	strcpy(out, "unknown");
	if (len > KEY_FILE_MAX)
		return;
	ERR_set_mark();
	if ((bio = BIO_new_mem_buf(data, (int)len)) != NULL) {
		pk = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
		BIO_free(bio);
	}
	if (pk == NULL)
		pk = d2i_AutoPrivateKey(NULL, &q, (long)len);
	if (pk != NULL && (n = i2d_PUBKEY(pk, &spki)) > 0 &&
	    EVP_Digest(spki, (size_t)n, md, NULL, EVP_sha256(), NULL) == 1)
		tf_hex(out, md, sizeof(md));
	OPENSSL_free(spki);
	EVP_PKEY_free(pk);
	ERR_pop_to_mark();
}

static void
content_sha256(char out[65], const void *data, size_t len)
{
	unsigned char md[32];

	if (EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL) != 1)
		memset(md, 0, sizeof(md));
	tf_hex(out, md, sizeof(md));
}

/* The name of the vault file of a key with these digests. */
static char *
vault_name(const char *spki, const char *content)
{
	return tf_asprintf("%s-%.16s.key", spki, content);
}

int
vault_ref(char **ref, size_t *reflen, const void *data, size_t len)
{
	char spki[65], content[65], *name;

	*ref = NULL;
	*reflen = 0;
	if (len == 0 || !audit_has_private_key(data, len))
		return 0;
	key_spki(spki, data, len);
	content_sha256(content, data, len);
	name = vault_name(spki, content);
	*ref = tf_asprintf(REF_MAGIC "spki-sha256: %s\ncontent-sha256: %s\nkept in %s/%s\n", spki,
	    content, VAULT_DIR, name);
	*reflen = strlen(*ref);
	free(name);
	return 1;
}

/* "/a//b/" -> "/a/b" */
static char *
norm_path(const char *path)
{
	char *out = tf_malloc(strlen(path) + 2), *o = out;
	const char *p;

	*o++ = '/';
	for (p = path; *p != '\0'; p++)
		if (*p != '/' || (o[-1] != '/'))
			*o++ = *p;
	if (o > out + 1 && o[-1] == '/')
		o--;
	*o = '\0';
	return out;
}

void
vault_add_key_path(struct tf_ctx *ctx, const char *path)
{
	char *p = norm_path(path);

	if (vault_is_key_path(ctx, p)) {
		free(p);
		return;
	}
	ctx->key_paths = tf_realloc(ctx->key_paths, (ctx->nkey_paths + 1) * sizeof(char *));
	ctx->key_paths[ctx->nkey_paths++] = p;
}

bool
vault_is_key_path(const struct tf_ctx *ctx, const char *path)
{
	char *p = NULL;
	size_t i, n;
	bool found = false;

	if (ctx->nkey_paths == 0)
		return false;
	/* a path already in normal form (the common case: every scanned file) is compared as is */
	n = strlen(path);
	if (path[0] != '/' || strstr(path, "//") != NULL || (n > 1 && path[n - 1] == '/'))
		path = p = norm_path(path);
	for (i = 0; i < ctx->nkey_paths && !found; i++)
		found = strcmp(ctx->key_paths[i], path) == 0;
	free(p);
	return found;
}

int
vault_form(char **out, size_t *outlen, const struct tf_ctx *ctx, const char *path, const void *data,
    size_t len)
{
	*out = NULL;
	*outlen = 0;
	if (!vault_is_key_path(ctx, path))
		return 0;
	return vault_ref(out, outlen, data, len);
}

int
vault_blob_id(char id_out[41], struct audit *a, const struct tf_ctx *ctx, const char *path,
    const void *data, size_t len)
{
	char *ref;
	size_t rlen;
	int rc;

	if (vault_form(&ref, &rlen, ctx, path, data, len) == 0)
		return audit_blob_id(id_out, a, data, len);
	rc = audit_blob_id(id_out, a, ref, rlen);
	free(ref);
	return rc;
}

/* Parse a reference; false when 'data' is none. */
static bool
parse_ref(const void *data, size_t len, char spki[65], char content[65])
{
	const char *s = data;
	size_t ml = sizeof(REF_MAGIC) - 1;
	int n = 0;
	char buf[512];

	if (len < ml || len >= sizeof(buf) || memcmp(s, REF_MAGIC, ml) != 0)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf + ml, "spki-sha256: %64[0-9a-z]\ncontent-sha256: %64[0-9a-f]\n%n", spki,
	        content, &n) != 2 ||
	    n == 0 || strlen(content) != 64 || (strlen(spki) != 64 && strcmp(spki, "unknown") != 0))
		return false;
	return true;
}

bool
vault_is_ref(const void *data, size_t len, char spki[65])
{
	char s[65], c[65];

	if (!parse_ref(data, len, s, c))
		return false;
	if (spki != NULL)
		memcpy(spki, s, 65);
	return true;
}

/* Open the vault folder, creating it 0700. */
static int
vault_dir(struct tf_ctx *ctx)
{
	int dfd;

	if (tf_mkdirs(ctx, VAULT_DIR, 0700) != 0)
		return -1;
	if ((dfd = tf_dir_open(ctx, VAULT_DIR)) == -1) {
		char *host = tf_hostpath(ctx, VAULT_DIR);

		tf_error_sys(ctx, TF_EIO, "cannot open the key vault '%s'", host);
		free(host);
	}
	return dfd;
}

static void
vault_error(struct tf_ctx *ctx)
{
	char *host = tf_hostpath(ctx, VAULT_DIR);

	tf_error_sys(ctx, TF_EIO, "cannot write to the key vault '%s'", host);
	free(host);
}

int
vault_keep(struct tf_ctx *ctx, const void *data, size_t len)
{
	char spki[65], content[65], *name, tmp[64], rnd[17];
	unsigned char r[8];
	struct stat st;
	int dfd, fd = -1, rc = TF_EIO;

	key_spki(spki, data, len);
	content_sha256(content, data, len);
	name = vault_name(spki, content);
	if ((dfd = vault_dir(ctx)) == -1) {
		free(name);
		return TF_EIO;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		rc = 0; /* kept already: the name holds its digests */
		goto out;
	}
	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0x5a, sizeof(r));
	tf_hex(rnd, r, sizeof(r));
	snprintf(tmp, sizeof(tmp), ".new-%s", rnd);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || fchmod(fd, 0600) == -1 || tf_write_all(fd, data, len) == -1 ||
	    tf_fsync(fd) == -1) {
		vault_error(ctx);
		goto out;
	}
	close(fd);
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) == -1 || tf_fsync(dfd) == -1) {
		vault_error(ctx);
		goto out;
	}
	tmp[0] = '\0';
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc != 0 && tmp[0] != '\0')
		unlinkat(dfd, tmp, 0);
	close(dfd);
	free(name);
	return rc;
}

int
vault_resolve(struct tf_ctx *ctx, const void *ref, size_t reflen, unsigned char **data, size_t *len)
{
	char spki[65], content[65], got[65], *name, *path, *buf = NULL;
	size_t n = 0;
	int fd, rc;

	*data = NULL;
	*len = 0;
	if (!parse_ref(ref, reflen, spki, content))
		return tf_error(ctx, TF_EINVALID, "not a key vault reference");
	name = vault_name(spki, content);
	path = tf_asprintf("%s/%s", VAULT_DIR, name);
	if ((fd = tf_open(ctx, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0)) == -1) {
		char *host = tf_hostpath(ctx, path);

		rc = tf_error_sys(ctx, TF_EIO,
		    "the key with SPKI SHA-256 %.16s... is not in the key vault '%s'", spki, host);
		free(host);
		goto out;
	}
	rc = tf_read_fd(ctx, fd, path, KEY_FILE_MAX, &buf, &n);
	close(fd);
	if (rc != 0)
		goto out;
	content_sha256(got, buf, n);
	if (strcmp(got, content) != 0) {
		char *host = tf_hostpath(ctx, path);

		OPENSSL_cleanse(buf, n);
		free(buf);
		buf = NULL;
		rc = tf_error(ctx, TF_EIO,
		    "the key vault file '%s' was altered (its SHA-256 is not the one recorded)",
		    host);
		free(host);
		goto out;
	}
	*data = (unsigned char *)buf;
	*len = n;
out:
	free(name);
	free(path);
	return rc;
}

void
vault_data_free(unsigned char *data, size_t len)
{
	if (data == NULL)
		return;
	OPENSSL_cleanse(data, len);
	free(data);
}
