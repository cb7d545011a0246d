/*
 * tests/est-server/ca.c - the test server's CA: keys, the CA and TLS
 * certificates, issuing certificates for CSRs, PKCS#7 certs-only and base64.
 */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "est-server: <message>" and OpenSSL's reasons, if any; returns -1. */
static int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("est-server: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (ERR_peek_last_error() != 0) {
		fputs(": ", stderr);
		ERR_print_errors_fp(stderr);
	} else {
		fputc('\n', stderr);
	}
	return -1;
}

static int
buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0'; /* so that text can be used as a string */
	return 0;
}

static int
buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* Free the buffer, wiping it first: it may hold a private key. */
static void
buf_free(struct buf *b)
{
	if (b->p != NULL)
		OPENSSL_cleanse(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/*
 * Base64 of 'n' bytes into 'out': lines of 64 characters ended by 'eol' (LF,
 * CRLF, or "" for one long line), the last line ended too unless eol is "".
 */
static int
b64_encode(struct buf *out, const unsigned char *d, size_t n, const char *eol)
{
	size_t len = 4 * ((n + 2) / 3), i;
	unsigned char *tmp = malloc(len + 1);
	int rc = -1;

	if (tmp == NULL)
		return -1;
	EVP_EncodeBlock(tmp, d, (int)n);
	for (i = 0; i < len; i += 64) {
		size_t k = len - i < 64 ? len - i : 64;

		if (buf_add(out, tmp + i, k) != 0 || buf_str(out, eol) != 0)
			goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

/* Liberal base64 decoding: whitespace and anything else outside the alphabet is skipped. */
static int
b64_decode(struct buf *out, const unsigned char *d, size_t n)
{
	unsigned char *clean = malloc(n + 4), *bin = NULL;
	size_t k = 0, pad = 0, i;
	int len, rc = -1;

	if (clean == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = d[i];

		if (isalnum(c) || c == '+' || c == '/' || c == '=')
			clean[k++] = c;
	}
	if (k == 0 || k % 4 != 0)
		goto out;
	pad = (clean[k - 1] == '=') + (clean[k - 2] == '=');
	if ((bin = malloc(k)) == NULL)
		goto out;
	if ((len = EVP_DecodeBlock(bin, clean, (int)k)) < 0 || (size_t)len < pad)
		goto out;
	rc = buf_add(out, bin, (size_t)len - pad);
out:
	free(clean);
	free(bin);
	return rc;
}

/* A key of 'type': ec, ec:P-256, ec:P-384, ec:P-521, rsa, rsa:2048/3072/4096. */
static EVP_PKEY *
key_generate(const char *type)
{
	if (strcmp(type, "ec") == 0 || strcmp(type, "ec:P-256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (strcmp(type, "ec:P-384") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	if (strcmp(type, "ec:P-521") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	if (strcmp(type, "rsa") == 0 || strcmp(type, "rsa:2048") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (strcmp(type, "rsa:3072") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	if (strcmp(type, "rsa:4096") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	fail("unknown key type '%s'", type);
	return NULL;
}

/* A new key of the same algorithm and size as 'like' (serverkeygen, --fault-wrong-key). */
static EVP_PKEY *
key_generate_like(EVP_PKEY *like)
{
	char group[64];
	size_t n;

	if (EVP_PKEY_is_a(like, "RSA"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)EVP_PKEY_get_bits(like));
	if (EVP_PKEY_is_a(like, "EC") &&
	    EVP_PKEY_get_group_name(like, group, sizeof(group), &n) == 1)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	if (EVP_PKEY_is_a(like, "ED25519"))
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int ok;

	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

enum cert_kind { CERT_CA, CERT_SERVER, CERT_CLIENT };

/*
 * Issue a certificate for 'pub' named 'subject', valid from now + nb to now +
 * na seconds, signed by issuer/issuer_key (self-signed when issuer is NULL).
 * 'san' (may be NULL) is copied as is. The caller frees the result.
 */
static X509 *
cert_issue(X509_NAME *subject, EVP_PKEY *pub, X509_EXTENSION *san, X509 *issuer,
    EVP_PKEY *issuer_key, enum cert_kind kind, long nb, long na)
{
	X509 *x = X509_new(), *ret = NULL;
	BIGNUM *bn = BN_new();
	X509V3_CTX v3;
	const EVP_MD *md = EVP_PKEY_is_a(issuer_key, "ED25519") ? NULL : EVP_sha256();
	bool is_rsa = EVP_PKEY_is_a(pub, "RSA");

	if (x == NULL || bn == NULL || !X509_set_version(x, 2))
		goto out;
	/* random positive serial, 120 bits: unique without a database */
	if (!BN_rand(bn, 120, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (!X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), nb) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), na) == NULL || !X509_set_pubkey(x, pub))
		goto out;
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if (add_ext(x, &v3, NID_basic_constraints,
	        kind == CERT_CA ? "critical,CA:TRUE" : "critical,CA:FALSE") != 0 ||
	    add_ext(x, &v3, NID_key_usage,
	        kind == CERT_CA ? "critical,keyCertSign,cRLSign"
	            : is_rsa    ? "critical,digitalSignature,keyEncipherment"
	                        : "critical,digitalSignature") != 0 ||
	    add_ext(x, &v3, NID_subject_key_identifier, "hash") != 0)
		goto out;
	if (issuer != NULL && add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") != 0)
		goto out;
	if (kind == CERT_SERVER &&
	    (add_ext(x, &v3, NID_ext_key_usage, "serverAuth") != 0 ||
	        add_ext(x, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") != 0))
		goto out;
	if (kind == CERT_CLIENT && add_ext(x, &v3, NID_ext_key_usage, "clientAuth") != 0)
		goto out;
	if (san != NULL && !X509_add_ext(x, san, -1))
		goto out;
	if (!X509_sign(x, issuer_key, md))
		goto out;
	ret = x;
	x = NULL;
out:
	X509_free(x);
	BN_free(bn);
	return ret;
}

static X509_NAME *
name_cn(const char *cn, const char *o)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	        0) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)o, -1, -1,
	        0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

/* A self-signed CA named 'cn' with a new key of 'type', valid ten years. */
static int
ca_create(X509 **cert, EVP_PKEY **key, const char *cn, const char *type)
{
	X509_NAME *name = name_cn(cn, "trustfix test EST server");
	int rc = -1;

	*cert = NULL;
	if (name == NULL || (*key = key_generate(type)) == NULL)
		goto out;
	if ((*cert = cert_issue(name, *key, NULL, NULL, *key, CERT_CA, -3600, 3650L * 86400)) ==
	    NULL)
		goto out;
	rc = 0;
out:
	X509_NAME_free(name);
	if (rc != 0)
		fail("cannot create the CA '%s'", cn);
	return rc;
}

static X509 *
pem_read_cert(const char *path)
{
	X509 *x = NULL;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "est-server: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	if ((x = PEM_read_X509(fp, NULL, NULL, NULL)) == NULL)
		fail("cannot read a certificate from '%s'", path);
	fclose(fp);
	return x;
}

static EVP_PKEY *
pem_read_key(const char *path)
{
	EVP_PKEY *k = NULL;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "est-server: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	if ((k = PEM_read_PrivateKey(fp, NULL, NULL, NULL)) == NULL)
		fail("cannot read a private key from '%s'", path);
	fclose(fp);
	return k;
}

/* Write a PEM certificate or (when key is set) a 0600 key to a new file. */
static int
pem_write(const char *path, X509 *cert, EVP_PKEY *key)
{
	/* the key is never readable by others, not even for a moment */
	mode_t old = umask(key ? 077 : 022);
	int fd =
	    open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, key ? 0600 : 0644);
	FILE *fp;
	int ok;

	umask(old);
	if (fd == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		fprintf(stderr, "est-server: cannot create '%s': %s\n", path, strerror(errno));
		return -1;
	}
	ok = key ? PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL)
	         : PEM_write_X509(fp, cert);
	if (fclose(fp) != 0 || !ok)
		return fail("cannot write '%s'", path);
	return 0;
}

/*
 * --init-ca DIR: load DIR/ca.pem and DIR/ca.key when both exist, else create
 * them (so that a test can start the server twice with the same CA).
 */
static int
ca_init_dir(struct srv *s, const char *dir, const char *type)
{
	char cert_path[4096], key_path[4096];

	snprintf(cert_path, sizeof(cert_path), "%s/ca.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/ca.key", dir);
	if (access(cert_path, F_OK) == 0 && access(key_path, F_OK) == 0) {
		if ((s->ca_cert = pem_read_cert(cert_path)) == NULL ||
		    (s->ca_key = pem_read_key(key_path)) == NULL)
			return -1;
		return 0;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "est-server: cannot create '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	if (ca_create(&s->ca_cert, &s->ca_key, "trustfix test EST CA", type) != 0)
		return -1;
	if (pem_write(key_path, NULL, s->ca_key) != 0 ||
	    pem_write(cert_path, s->ca_cert, NULL) != 0)
		return -1;
	return 0;
}

/* PKCS#7 SignedData with no signers and no content: the EST "certs-only" answer. */
static int
p7_certs_only(struct buf *der, STACK_OF(X509) *certs)
{
	PKCS7 *p7 = PKCS7_new();
	unsigned char *d = NULL;
	int i, n, rc = -1;

	if (p7 == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) || !PKCS7_set_detached(p7, 1))
		goto out;
	for (i = 0; i < sk_X509_num(certs); i++)
		if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i)))
			goto out;
	if ((n = i2d_PKCS7(p7, &d)) <= 0)
		goto out;
	rc = buf_add(der, d, (size_t)n);
out:
	OPENSSL_free(d);
	PKCS7_free(p7);
	return rc;
}
