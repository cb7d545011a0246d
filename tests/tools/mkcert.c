/*
 * tests/tools/mkcert.c - make test certificates at test time, so that no
 * committed certificate expires: self-signed or issued, any key type, weak
 * keys and digests, v1, with or without basicConstraints, and fast bundles.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/config.h"

#define DAY 86400L
#define COUNT_MAX 10000000L
#define CHUNK 1024 /* certificates per thread and round */
#define MAX_THREADS 8

struct opts {
	const char *subject;
	const char *issuer_cert;
	const char *issuer_key;
	const char *key_type;
	const char *key_in;
	const char *key_out;
	const char *md;
	const char *eku;
	const char *serial;
	const char *out;
	const char *prefix;
	long not_before;
	long not_after;
	long count;
	bool ca, no_bc, v1, der;
};

static void
usage(void)
{
	fputs("usage: mkcert [--subject /CN=x/O=y] [--issuer-cert FILE --issuer-key FILE]\n"
	      "              [--key-type rsa:2048|rsa:1024|ec:P-256|ec:P-384|ed25519]\n"
	      "              [--key-in FILE] [--key-out FILE] [--md sha256|sha1|md5]\n"
	      "              [--not-before DAYS] [--not-after DAYS] [--ca | --no-bc | --v1]\n"
	      "              [--eku clientAuth,...] [--serial N] [--der] [-o FILE]\n"
	      "       mkcert --count N [--prefix P] [--key-type T] [--key-out FILE] [-o FILE]\n",
	    stderr);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "mkcert: <message>" and OpenSSL's reasons, if any; returns -1. */
static int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("mkcert: ", stderr);
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

/* "/CN=x/O=y" into a name; a backslash escapes the next character. */
static X509_NAME *
parse_name(const char *s)
{
	X509_NAME *name = X509_NAME_new();
	char *buf = malloc(strlen(s) + 1), *field, *eq;
	const char *p = s;

	if (name == NULL || buf == NULL || *p != '/')
		goto bad;
	p++;
	while (*p != '\0') {
		size_t n = 0;

		while (*p != '\0' && *p != '/') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			buf[n++] = *p++;
		}
		buf[n] = '\0';
		if (*p == '/')
			p++;
		field = buf;
		if ((eq = strchr(field, '=')) == NULL || eq == field)
			goto bad;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
		        (const unsigned char *)(eq + 1), -1, -1, 0))
			goto bad;
	}
	free(buf);
	return name;
bad:
	free(buf);
	X509_NAME_free(name);
	return NULL;
}

static EVP_PKEY *
read_key(const char *path)
{
	EVP_PKEY *pkey = NULL;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "mkcert: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	if ((pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL)) == NULL)
		fail("cannot read a private key from '%s'", path);
	fclose(fp);
	return pkey;
}

static X509 *
read_cert(const char *path)
{
	X509 *x = NULL;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "mkcert: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	if ((x = PEM_read_X509(fp, NULL, NULL, NULL)) == NULL)
		fail("cannot read a certificate from '%s'", path);
	fclose(fp);
	return x;
}

static EVP_PKEY *
new_key(const char *type)
{
	EVP_PKEY *pkey = NULL;

	if (strcmp(type, "rsa:2048") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "rsa:1024") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	else if (strcmp(type, "ec:P-256") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(type, "ec:P-384") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(type, "ed25519") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else {
		fprintf(stderr, "mkcert: unknown key type '%s'\n", type);
		return NULL;
	}
	if (pkey == NULL)
		fail("cannot generate a %s key", type);
	return pkey;
}

/* Write the key 0600 to a file that must not exist yet. */
static int
write_key(const char *path, EVP_PKEY *pkey)
{
	FILE *fp;
	mode_t old = umask(077);
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	umask(old);
	if (fd == -1) {
		fprintf(stderr, "mkcert: cannot create '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		fprintf(stderr, "mkcert: cannot write '%s': %s\n", path, strerror(errno));
		return -1;
	}
	ok = PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL);
	if (fclose(fp) != 0 || !ok)
		return fail("cannot write key '%s'", path);
	return 0;
}

static const EVP_MD *
pick_md(const char *md, const EVP_PKEY *pkey)
{
	/* Ed25519 signs the message itself: no separate digest */
	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return NULL;
	if (md == NULL || strcmp(md, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(md, "sha1") == 0)
		return EVP_sha1();
	if (strcmp(md, "md5") == 0)
		return EVP_md5();
	if (strcmp(md, "sha384") == 0)
		return EVP_sha384();
	return NULL;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value)) == NULL)
		return fail("cannot make extension '%s'", value);
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : fail("cannot add extension '%s'", value);
}

static int
set_serial(X509 *x, const char *dec)
{
	BIGNUM *bn = NULL;
	int ok;

	if (dec != NULL) {
		int n = BN_dec2bn(&bn, dec);

		if (n == 0 || (size_t)n != strlen(dec)) {
			BN_free(bn);
			fprintf(stderr, "mkcert: bad serial '%s'\n", dec);
			return -1;
		}
	} else {
		/* 63 random bits: positive and unique enough for tests */
		if ((bn = BN_new()) == NULL ||
		    !BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) {
			BN_free(bn);
			return fail("cannot make a serial");
		}
	}
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : fail("cannot set serial");
}

/* Build and sign one certificate of 'subject' for 'pkey'. */
static X509 *
make_cert(const struct opts *o, X509_NAME *subject, EVP_PKEY *pkey, X509 *issuer,
    EVP_PKEY *issuer_key)
{
	X509 *x = X509_new(), *iss = issuer != NULL ? issuer : x;

	if (x == NULL)
		goto bad;
	if (!X509_set_version(x, o->v1 ? X509_VERSION_1 : X509_VERSION_3) ||
	    set_serial(x, o->serial) != 0 || !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), o->not_before * DAY) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), o->not_after * DAY) == NULL ||
	    !X509_set_pubkey(x, pkey))
		goto bad;
	if (!o->v1) {
		if (o->ca) {
			if (add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
			    add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign") != 0)
				goto bad;
		} else if (!o->no_bc) {
			if (add_ext(x, iss, NID_basic_constraints, "CA:FALSE") != 0 ||
			    add_ext(x, iss, NID_key_usage,
			        "critical,digitalSignature,keyEncipherment") != 0)
				goto bad;
		}
		if (o->eku != NULL && add_ext(x, issuer, NID_ext_key_usage, o->eku) != 0)
			goto bad;
		if (add_ext(x, iss, NID_subject_key_identifier, "hash") != 0)
			goto bad;
		if (issuer != NULL &&
		    add_ext(x, issuer, NID_authority_key_identifier, "keyid") != 0)
			goto bad;
	}
	if (X509_sign(x, issuer_key, pick_md(o->md, issuer_key)) == 0) {
		fail("cannot sign with %s", o->md ? o->md : "sha256");
		goto bad_quiet;
	}
	return x;
bad:
	fail("cannot build the certificate");
bad_quiet:
	X509_free(x);
	return NULL;
}

static FILE *
open_out(const char *path)
{
	FILE *fp;

	if (path == NULL)
		return stdout;
	if ((fp = fopen(path, "w")) == NULL)
		fprintf(stderr, "mkcert: cannot create '%s': %s\n", path, strerror(errno));
	return fp;
}

static int
close_out(FILE *fp, const char *path)
{
	if (fp == stdout)
		return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
	if (fclose(fp) != 0) {
		fprintf(stderr, "mkcert: cannot write '%s': %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A name of one CN. */
static X509_NAME *
cn_name(const char *cn)
{
	X509_NAME *name = X509_NAME_new();

	if (name != NULL &&
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	        -1, 0)) {
		X509_NAME_free(name);
		name = NULL;
	}
	return name;
}

/* One thread's share of a bundle: certificates [from, to) as PEM in 'mem'. */
struct chunk {
	const struct opts *o;
	EVP_PKEY *pkey;
	long from, to;
	BIO *mem;
	int rc;
};

/*
 * Build one certificate once, then change only its names and serial before
 * each signature: the signature is most of the cost.
 */
static void *
make_chunk(void *arg)
{
	struct chunk *ch = arg;
	struct opts one = *ch->o;
	X509_NAME *name = NULL;
	X509 *x = NULL;
	char cn[256];
	long i;

	ch->rc = -1;
	one.ca = true;
	one.serial = "1";
	if ((name = cn_name(ch->o->prefix)) == NULL ||
	    (x = make_cert(&one, name, ch->pkey, NULL, ch->pkey)) == NULL)
		goto out;
	for (i = ch->from; i < ch->to; i++) {
		X509_NAME_free(name);
		snprintf(cn, sizeof(cn), "%s%ld", ch->o->prefix, i);
		if ((name = cn_name(cn)) == NULL || !X509_set_subject_name(x, name) ||
		    !X509_set_issuer_name(x, name) ||
		    !ASN1_INTEGER_set_int64(X509_get_serialNumber(x), (int64_t)i + 1) ||
		    X509_sign(x, ch->pkey, pick_md(ch->o->md, ch->pkey)) == 0 ||
		    !PEM_write_bio_X509(ch->mem, x)) {
			fail("cannot make certificate '%s'", cn);
			goto out;
		}
	}
	ch->rc = 0;
out:
	X509_NAME_free(name);
	X509_free(x);
	return NULL;
}

/*
 * N self-signed CAs CN=<prefix><i> with one shared key, signed on every
 * core in rounds of CHUNK certificates per thread, written in order.
 */
static int
make_bundle(const struct opts *o, EVP_PKEY *pkey)
{
	struct chunk ch[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), next = 0;
	int nt = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (int)ncpu, t, rc = -1;
	FILE *fp;

	memset(ch, 0, sizeof(ch));
	if ((fp = open_out(o->out)) == NULL)
		return -1;
	for (t = 0; t < nt; t++) {
		ch[t].o = o;
		ch[t].pkey = pkey;
		if ((ch[t].mem = BIO_new(BIO_s_mem())) == NULL) {
			fail("out of memory");
			goto out;
		}
	}
	while (next < o->count) {
		for (t = 0; t < nt; t++) {
			ch[t].from = next;
			ch[t].to = next + CHUNK < o->count ? next + CHUNK : o->count;
			next = ch[t].to;
			started[t] =
			    t > 0 && pthread_create(&tid[t], NULL, make_chunk, &ch[t]) == 0;
		}
		for (t = 0; t < nt; t++) {
			if (started[t])
				pthread_join(tid[t], NULL);
			else
				make_chunk(&ch[t]);
		}
		for (t = 0; t < nt; t++) {
			const char *p;
			long n = BIO_get_mem_data(ch[t].mem, &p);

			if (ch[t].rc != 0)
				goto out;
			if (n > 0 && fwrite(p, 1, (size_t)n, fp) != (size_t)n) {
				fprintf(stderr, "mkcert: cannot write: %s\n", strerror(errno));
				goto out;
			}
			(void)BIO_reset(ch[t].mem);
		}
	}
	rc = 0;
out:
	if (close_out(fp, o->out) != 0)
		rc = -1;
	for (t = 0; t < nt; t++)
		BIO_free(ch[t].mem);
	return rc;
}

static int
make_one(const struct opts *o, EVP_PKEY *pkey)
{
	X509 *issuer = NULL, *x = NULL;
	EVP_PKEY *issuer_key = NULL;
	X509_NAME *name = NULL;
	FILE *fp = NULL;
	int rc = -1, ok;

	if ((name = parse_name(o->subject)) == NULL) {
		fprintf(stderr, "mkcert: bad subject '%s' (expected /CN=x/O=y)\n", o->subject);
		goto out;
	}
	if (o->issuer_cert != NULL) {
		if ((issuer = read_cert(o->issuer_cert)) == NULL ||
		    (issuer_key = read_key(o->issuer_key)) == NULL)
			goto out;
	}
	if ((x = make_cert(o, name, pkey, issuer, issuer ? issuer_key : pkey)) == NULL)
		goto out;
	if ((fp = open_out(o->out)) == NULL)
		goto out;
	ok = o->der ? i2d_X509_fp(fp, x) : PEM_write_X509(fp, x);
	if (close_out(fp, o->out) != 0 || !ok) {
		fail("cannot write the certificate");
		goto out;
	}
	rc = 0;
out:
	X509_NAME_free(name);
	X509_free(x);
	X509_free(issuer);
	EVP_PKEY_free(issuer_key);
	return rc;
}

static int
parse_days(const char *opt, const char *arg, long *out)
{
	if (tf_parse_int(arg, -36500, 36500, out) == -1) {
		fprintf(stderr, "mkcert: bad %s '%s' (days from now)\n", opt, arg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ca", no_argument, NULL, 'A' },
		{ "count", required_argument, NULL, 'n' },
		{ "der", no_argument, NULL, 'D' },
		{ "eku", required_argument, NULL, 'E' },
		{ "issuer-cert", required_argument, NULL, 'I' },
		{ "issuer-key", required_argument, NULL, 'J' },
		{ "key-in", required_argument, NULL, 'k' },
		{ "key-out", required_argument, NULL, 'K' },
		{ "key-type", required_argument, NULL, 't' },
		{ "md", required_argument, NULL, 'm' },
		{ "no-bc", no_argument, NULL, 'B' },
		{ "not-after", required_argument, NULL, 'a' },
		{ "not-before", required_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "serial", required_argument, NULL, 's' },
		{ "subject", required_argument, NULL, 'S' },
		{ "v1", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .subject = "/CN=trustfix test", .not_after = 365, .prefix = "cert" };
	EVP_PKEY *pkey = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'A':
			o.ca = true;
			break;
		case 'n':
			if (tf_parse_int(optarg, 1, COUNT_MAX, &o.count) == -1) {
				fprintf(stderr, "mkcert: bad --count '%s'\n", optarg);
				return 2;
			}
			break;
		case 'D':
			o.der = true;
			break;
		case 'E':
			o.eku = optarg;
			break;
		case 'I':
			o.issuer_cert = optarg;
			break;
		case 'J':
			o.issuer_key = optarg;
			break;
		case 'k':
			o.key_in = optarg;
			break;
		case 'K':
			o.key_out = optarg;
			break;
		case 't':
			o.key_type = optarg;
			break;
		case 'm':
			o.md = optarg;
			break;
		case 'B':
			o.no_bc = true;
			break;
		case 'a':
			if (parse_days("--not-after", optarg, &o.not_after) != 0)
				return 2;
			break;
		case 'b':
			if (parse_days("--not-before", optarg, &o.not_before) != 0)
				return 2;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'p':
			o.prefix = optarg;
			break;
		case 's':
			o.serial = optarg;
			break;
		case 'S':
			o.subject = optarg;
			break;
		case '1':
			o.v1 = true;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc || (o.issuer_cert == NULL) != (o.issuer_key == NULL) ||
	    (o.ca + o.no_bc + o.v1) > 1 || (o.count > 0 && (o.issuer_cert || o.der)) ||
	    (o.key_in != NULL && o.key_type != NULL)) {
		usage();
		return 2;
	}
	if (o.md != NULL && strcmp(o.md, "sha256") != 0 && strcmp(o.md, "sha1") != 0 &&
	    strcmp(o.md, "md5") != 0 && strcmp(o.md, "sha384") != 0) {
		fprintf(stderr, "mkcert: unknown digest '%s' (sha256, sha1, md5, sha384)\n", o.md);
		return 2;
	}
	if (o.key_in != NULL)
		pkey = read_key(o.key_in);
	else
		pkey = new_key(o.key_type ? o.key_type : o.count > 0 ? "ec:P-256" : "rsa:2048");
	if (pkey == NULL)
		goto out;
	if (o.key_out != NULL && write_key(o.key_out, pkey) != 0)
		goto out;
	if ((o.count > 0 ? make_bundle(&o, pkey) : make_one(&o, pkey)) == 0)
		rc = 0;
out:
	EVP_PKEY_free(pkey);
	return rc;
}
