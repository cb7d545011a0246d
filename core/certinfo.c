/*
 * core/certinfo.c - decode the fields of an X.509 certificate that an
 * inspection reports, with an ASN.1 template that keeps the public key as
 * algorithm and bit string and the names as raw DER. A full d2i_X509 builds
 * an EVP_PKEY for every certificate, which is most of its cost.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "tf.h"

typedef struct {
	X509_ALGOR *alg;
	ASN1_BIT_STRING *key;
} TF_SPKI;

typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *sig_alg;
	ASN1_TYPE *issuer; /* the Name, kept as raw DER */
	X509_VAL *validity;
	ASN1_TYPE *subject;
	TF_SPKI *spki;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *extensions;
} TF_TBS;

typedef struct {
	TF_TBS *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
} TF_CERT;

ASN1_SEQUENCE(TF_SPKI) = {
	ASN1_SIMPLE(TF_SPKI, alg, X509_ALGOR),
	ASN1_SIMPLE(TF_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(TF_SPKI)

ASN1_SEQUENCE(TF_TBS) = {
	ASN1_EXP_OPT(TF_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(TF_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(TF_TBS, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(TF_TBS, issuer, ASN1_ANY),
	ASN1_SIMPLE(TF_TBS, validity, X509_VAL),
	ASN1_SIMPLE(TF_TBS, subject, ASN1_ANY),
	ASN1_SIMPLE(TF_TBS, spki, TF_SPKI),
	ASN1_IMP_OPT(TF_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(TF_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(TF_TBS, extensions, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END(TF_TBS)

ASN1_SEQUENCE(TF_CERT) = {
	ASN1_SIMPLE(TF_CERT, tbs, TF_TBS),
	ASN1_SIMPLE(TF_CERT, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(TF_CERT, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(TF_CERT)

void
tf_time_iso(char *buf, size_t size, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "invalid");
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Append one byte of a name value, escaping what a terminal would act on. */
static void
put_escaped(char **buf, size_t *len, size_t *cap, const unsigned char *s, size_t n)
{
	size_t i;

	if (*len + 4 * n + 8 > *cap) {
		*cap = 2 * (*len + 4 * n + 8);
		*buf = tf_realloc(*buf, *cap);
	}
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)) {
			/* C0 controls, DEL and C1 controls (U+0080..U+009F) */
			*len += (size_t)sprintf(*buf + *len, "\\x%02x", c);
			if (c == 0xc2)
				*len += (size_t)sprintf(*buf + *len, "\\x%02x", s[++i]);
		} else {
			(*buf)[(*len)++] = (char)c;
		}
	}
	(*buf)[*len] = '\0';
}

static char *
name_oneline(const X509_NAME *name)
{
	char *buf = NULL, oid[80];
	size_t len = 0, cap = 0;
	int i, n, prev_set = -1;

	put_escaped(&buf, &len, &cap, (const unsigned char *)"", 0);
	n = X509_NAME_entry_count(name);
	for (i = 0; i < n; i++) {
		const X509_NAME_ENTRY *ne = X509_NAME_get_entry(name, i);
		const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(ne);
		const ASN1_STRING *val = X509_NAME_ENTRY_get_data(ne);
		const char *sn = NULL;
		unsigned char *utf8 = NULL;
		int nid = OBJ_obj2nid(obj), set = X509_NAME_ENTRY_set(ne), ulen;

		if (i > 0)
			put_escaped(&buf, &len, &cap,
			    (const unsigned char *)(set == prev_set ? " + " : ", "),
			    set == prev_set ? 3 : 2);
		prev_set = set;
		if (nid != NID_undef)
			sn = OBJ_nid2sn(nid);
		if (sn == NULL) {
			OBJ_obj2txt(oid, sizeof(oid), obj, 1);
			sn = oid;
		}
		put_escaped(&buf, &len, &cap, (const unsigned char *)sn, strlen(sn));
		put_escaped(&buf, &len, &cap, (const unsigned char *)"=", 1);
		if ((ulen = ASN1_STRING_to_UTF8(&utf8, val)) >= 0) {
			put_escaped(&buf, &len, &cap, utf8, (size_t)ulen);
			OPENSSL_free(utf8);
		} else {
			/* not convertible: show the raw bytes, escaped */
			ERR_clear_error();
			put_escaped(&buf, &len, &cap, ASN1_STRING_get0_data(val),
			    (size_t)ASN1_STRING_length(val));
		}
	}
	return buf;
}

char *
tf_name_oneline(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_NAME *name;
	char *s;

	if ((name = d2i_X509_NAME(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	s = name_oneline(name);
	X509_NAME_free(name);
	return s;
}

static char *
serial_hex(const ASN1_INTEGER *serial)
{
	const unsigned char *d = ASN1_STRING_get0_data(serial);
	int n = ASN1_STRING_length(serial), i;
	bool neg = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
	char *s = tf_malloc((size_t)n * 2 + 3), *p = s;

	if (neg)
		*p++ = '-';
	for (i = 0; i < n; i++)
		p += sprintf(p, "%02X", d[i]);
	if (n == 0)
		*p++ = '0', *p = '\0';
	return s;
}

static int
asn1_time(time_t *out, const ASN1_TIME *t)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* Bits of the big-endian unsigned integer content 'p' of 'n' bytes. */
static int
int_bits(const unsigned char *p, long n)
{
	int b = 0;

	while (n > 0 && *p == 0)
		p++, n--;
	if (n == 0)
		return 0;
	for (unsigned c = *p; c != 0; c >>= 1)
		b++;
	return (int)((n - 1) * 8) + b;
}

/* RSA modulus bits from the RSAPublicKey inside the SPKI bit string. */
static int
rsa_bits(const ASN1_BIT_STRING *key)
{
	const unsigned char *p = ASN1_STRING_get0_data(key);
	long len = ASN1_STRING_length(key), n;
	int tag, cls, r;

	r = ASN1_get_object(&p, &n, &tag, &cls, len);
	if ((r & 0x80) || tag != V_ASN1_SEQUENCE)
		return -1;
	r = ASN1_get_object(&p, &n, &tag, &cls, n);
	if ((r & 0x80) || tag != V_ASN1_INTEGER)
		return -1;
	return int_bits(p, n);
}

static const struct {
	int nid;
	int bits;
} curves[] = {
	{ NID_X9_62_prime256v1, 256 },
	{ NID_secp384r1, 384 },
	{ NID_secp521r1, 521 },
	{ NID_secp224r1, 224 },
	{ NID_X9_62_prime192v1, 192 },
	{ NID_secp256k1, 256 },
	{ NID_brainpoolP256r1, 256 },
	{ NID_brainpoolP384r1, 384 },
	{ NID_brainpoolP512r1, 512 },
};

/* Key bits through a full key decode: for the unusual key types only. */
static int
slow_bits(const TF_SPKI *spki)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pkey;
	int len, bits = -1;

	if ((len = ASN1_item_i2d((const ASN1_VALUE *)spki, &der, ASN1_ITEM_rptr(TF_SPKI))) <= 0)
		return -1;
	p = der;
	if ((pkey = d2i_PUBKEY(NULL, &p, len)) != NULL) {
		bits = EVP_PKEY_get_bits(pkey);
		EVP_PKEY_free(pkey);
	}
	OPENSSL_free(der);
	ERR_clear_error();
	return bits;
}

static void
key_info(struct tf_certinfo *ci, const TF_SPKI *spki)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, nid, i;

	X509_ALGOR_get0(&obj, &ptype, &pval, spki->alg);
	nid = OBJ_obj2nid(obj);
	ci->key_bits = -1;
	switch (nid) {
	case NID_rsaEncryption:
	case NID_rsassaPss:
		snprintf(ci->key_type, sizeof(ci->key_type), "RSA");
		ci->key_bits = rsa_bits(spki->key);
		break;
	case NID_X9_62_id_ecPublicKey:
		snprintf(ci->key_type, sizeof(ci->key_type), "EC");
		if (ptype == V_ASN1_OBJECT) {
			int cnid = OBJ_obj2nid(pval);

			for (i = 0; i < (int)(sizeof(curves) / sizeof(curves[0])); i++)
				if (curves[i].nid == cnid)
					ci->key_bits = curves[i].bits;
		}
		break;
	case NID_ED25519:
		snprintf(ci->key_type, sizeof(ci->key_type), "Ed25519");
		ci->key_bits = 253;
		break;
	case NID_ED448:
		snprintf(ci->key_type, sizeof(ci->key_type), "Ed448");
		ci->key_bits = 456;
		break;
	case NID_dsa:
		snprintf(ci->key_type, sizeof(ci->key_type), "DSA");
		break;
	default:
		snprintf(ci->key_type, sizeof(ci->key_type), "%s",
		    nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
		break;
	}
	if (ci->key_bits < 0)
		ci->key_bits = slow_bits(spki);
}

static void
sig_info(struct tf_certinfo *ci, const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;
	int nid, pknid;

	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	nid = OBJ_obj2nid(obj);
	if (nid != NID_undef)
		snprintf(ci->sig_alg, sizeof(ci->sig_alg), "%s", OBJ_nid2ln(nid));
	else
		OBJ_obj2txt(ci->sig_alg, sizeof(ci->sig_alg), obj, 1);
	ci->sig_md_nid = NID_undef;
	if (nid != NID_undef && !OBJ_find_sigid_algs(nid, &ci->sig_md_nid, &pknid))
		ci->sig_md_nid = NID_undef;
}

static bool
basic_ca(const STACK_OF(X509_EXTENSION) *exts, bool *has_bc)
{
	BASIC_CONSTRAINTS *bc;
	const unsigned char *p;
	bool ca = false;
	int i;

	*has_bc = false;
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		const ASN1_OCTET_STRING *os;

		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_basic_constraints)
			continue;
		os = X509_EXTENSION_get_data(ext);
		p = ASN1_STRING_get0_data(os);
		if ((bc = d2i_BASIC_CONSTRAINTS(NULL, &p, ASN1_STRING_length(os))) != NULL) {
			*has_bc = true;
			ca = bc->ca != 0;
			BASIC_CONSTRAINTS_free(bc);
		}
		break;
	}
	return ca;
}

static unsigned char *
dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *d = tf_malloc(n);

	memcpy(d, p, n);
	return d;
}

int
tf_certinfo_parse(struct tf_certinfo *ci, const unsigned char *der, size_t len, int flags,
    const char **why)
{
	const unsigned char *p = der;
	const ASN1_STRING *sname, *iname;
	X509_NAME *subject = NULL, *issuer = NULL;
	TF_CERT *cert = NULL;
	const char *reason = NULL;
	long hdrlen;
	int tag, cls, r, rc = -1;
	bool has_bc;

	memset(ci, 0, sizeof(*ci));
	if (len > LONG_MAX) {
		reason = "too large";
		goto out;
	}
	/* the certificate is the first SEQUENCE; anything after it is not hashed */
	r = ASN1_get_object(&p, &hdrlen, &tag, &cls, (long)len);
	if ((r & 0x80) || tag != V_ASN1_SEQUENCE || !(r & V_ASN1_CONSTRUCTED) || r == 0x21) {
		reason = "not a DER SEQUENCE";
		goto out;
	}
	ci->der_len = (size_t)(p - der) + (size_t)hdrlen;
	p = der;
	cert = (TF_CERT *)ASN1_item_d2i(NULL, &p, (long)ci->der_len, ASN1_ITEM_rptr(TF_CERT));
	if (cert == NULL || (size_t)(p - der) != ci->der_len) {
		reason = "not an X.509 certificate";
		goto out;
	}
	SHA256(der, ci->der_len, ci->sha256);

	sname = cert->tbs->subject->value.sequence;
	iname = cert->tbs->issuer->value.sequence;
	if (cert->tbs->subject->type != V_ASN1_SEQUENCE ||
	    cert->tbs->issuer->type != V_ASN1_SEQUENCE) {
		reason = "malformed name";
		goto out;
	}
	ci->subject_der_len = (size_t)ASN1_STRING_length(sname);
	ci->subject_der = dup_bytes(ASN1_STRING_get0_data(sname), ci->subject_der_len);
	ci->issuer_der_len = (size_t)ASN1_STRING_length(iname);
	ci->issuer_der = dup_bytes(ASN1_STRING_get0_data(iname), ci->issuer_der_len);

	p = ci->subject_der;
	if ((subject = d2i_X509_NAME(NULL, &p, (long)ci->subject_der_len)) == NULL) {
		reason = "malformed subject name";
		goto out;
	}
	if (ci->issuer_der_len == ci->subject_der_len &&
	    memcmp(ci->issuer_der, ci->subject_der, ci->subject_der_len) == 0) {
		/* byte-equal names: decode once */
		ci->is_self_signed = true;
	} else {
		p = ci->issuer_der;
		if ((issuer = d2i_X509_NAME(NULL, &p, (long)ci->issuer_der_len)) == NULL) {
			reason = "malformed issuer name";
			goto out;
		}
		ci->is_self_signed = X509_NAME_cmp(subject, issuer) == 0;
	}
	ci->subject = name_oneline(subject);
	ci->issuer = issuer != NULL ? name_oneline(issuer) : tf_strdup(ci->subject);
	if (flags & TF_CERTINFO_HASH) {
		int ok = 0;

		ci->subject_hash = X509_NAME_hash_ex(subject, NULL, NULL, &ok);
		if (!ok) {
			reason = "cannot hash subject name";
			goto out;
		}
	}

	ci->serial = serial_hex(cert->tbs->serial);
	if (asn1_time(&ci->not_before, cert->tbs->validity->notBefore) == -1 ||
	    asn1_time(&ci->not_after, cert->tbs->validity->notAfter) == -1) {
		reason = "malformed validity";
		goto out;
	}
	ci->version =
	    cert->tbs->version != NULL ? (int)ASN1_INTEGER_get(cert->tbs->version) + 1 : 1;
	key_info(ci, cert->tbs->spki);
	sig_info(ci, cert->sig_alg);
	ci->is_ca = basic_ca(cert->tbs->extensions, &has_bc);
	if (!has_bc && ci->version == 1 && ci->is_self_signed)
		ci->is_ca = true; /* a v1 root, as X509_check_ca() sees it */
	rc = 0;
out:
	ERR_clear_error();
	X509_NAME_free(subject);
	X509_NAME_free(issuer);
	ASN1_item_free((ASN1_VALUE *)cert, ASN1_ITEM_rptr(TF_CERT));
	if (rc != 0) {
		tf_certinfo_clear(ci);
		if (why != NULL)
			*why = reason;
	}
	return rc;
}

void
tf_certinfo_clear(struct tf_certinfo *ci)
{
	free(ci->subject);
	free(ci->issuer);
	free(ci->serial);
	free(ci->subject_der);
	free(ci->issuer_der);
	memset(ci, 0, sizeof(*ci));
}
