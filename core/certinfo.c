/*
 * core/certinfo.c - decode the fields of an X.509 certificate that an
 * inspection reports, with an ASN.1 template that keeps the public key as
 * algorithm and bit string and the names as raw DER. A full d2i_X509 builds
 * an EVP_PKEY for every certificate, which is most of its cost. The names
 * are left to core/name.c.
 */
#include <limits.h>
#include <pthread.h>
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
#include "name.h"
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

/*
 * SHA-256, fetched once: SHA256() fetches it on each call, a lock and a
 * lookup that cost as much as hashing the certificate. Read-only after
 * setup, so that the scan's decoding threads share it without locks.
 */
static struct {
	pthread_once_t once;
	EVP_MD *sha256; /* NULL: fall back to SHA256() */
} shared = { .once = PTHREAD_ONCE_INIT };

static void
shared_init(void)
{
	shared.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	ERR_clear_error();
}

/* Two decimal digits. */
static char *
put2(char *p, int v)
{
	*p++ = (char)('0' + v / 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

void
tf_time_iso(char *buf, size_t size, time_t t)
{
	long long z = (long long)t / 86400, s = (long long)t % 86400, era, doe, yoe, y, doy, mp;
	int m, d;
	struct tm tm;

	/*
	 * Years 1000 to 9999 by hand (H. Hinnant's civil_from_days), which is
	 * what strftime() would write: gmtime_r() and strftime() cost more than
	 * the rest of a certificate's JSON, twice per certificate. Other years,
	 * which strftime() does not pad to 4 digits, go the slow way.
	 */
	if (s < 0)
		s += 86400, z--;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (int)(doy - (153 * mp + 2) / 5 + 1);
	m = (int)(mp < 10 ? mp + 3 : mp - 9);
	y = yoe + era * 400 + (m <= 2);
	if (y >= 1000 && y <= 9999 && size >= 21) {
		char *p = buf;

		p = put2(p, (int)(y / 100));
		p = put2(p, (int)(y % 100));
		*p++ = '-';
		p = put2(p, m);
		*p++ = '-';
		p = put2(p, d);
		*p++ = 'T';
		p = put2(p, (int)(s / 3600));
		*p++ = ':';
		p = put2(p, (int)(s / 60 % 60));
		*p++ = ':';
		p = put2(p, (int)(s % 60));
		*p++ = 'Z';
		*p = '\0';
		return;
	}
	if (gmtime_r(&t, &tm) == NULL)
		snprintf(buf, size, "invalid");
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *
serial_hex(const ASN1_INTEGER *serial)
{
	const unsigned char *d = ASN1_STRING_get0_data(serial);
	int n = ASN1_STRING_length(serial), i;
	bool neg = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
	static const char hex[] = "0123456789ABCDEF";
	char *s = tf_malloc((size_t)n * 2 + 3), *p = s;

	if (neg)
		*p++ = '-';
	for (i = 0; i < n; i++) {
		*p++ = hex[d[i] >> 4];
		*p++ = hex[d[i] & 0xf];
	}
	if (n == 0)
		*p++ = '0';
	*p = '\0';
	return s;
}

/*
 * timegm() of a time that ASN1_TIME_to_tm() has checked and normalised,
 * without timegm()'s time-zone machinery: days from the civil date
 * (proleptic Gregorian, as in H. Hinnant's days_from_civil).
 */
static time_t
utc_seconds(const struct tm *tm)
{
	long long y = (long long)tm->tm_year + 1900, m = tm->tm_mon + 1, era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + tm->tm_mday - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (time_t)((era * 146097 + doe - 719468) * 86400 + tm->tm_hour * 3600LL +
	    tm->tm_min * 60LL + tm->tm_sec);
}

static int
asn1_time(time_t *out, const ASN1_TIME *t)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = utc_seconds(&tm);
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
		ci->key_bits = 256; /* as EVP_PKEY_get_bits() says, not the 253 of the curve */
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

/*
 * One extension of 'nid', decoded: NULL when absent (*state -1), when there
 * are several or it does not decode (*state -2), as X509_get_ext_d2i().
 */
static void *
ext_d2i(const STACK_OF(X509_EXTENSION) *exts, int nid, int *state)
{
	X509_EXTENSION *found = NULL;
	void *v;
	int i;

	*state = -1;
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);

		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != nid)
			continue;
		if (found != NULL) {
			*state = -2;
			return NULL;
		}
		found = ext;
	}
	if (found == NULL)
		return NULL;
	if ((v = X509V3_EXT_d2i(found)) == NULL)
		*state = -2;
	else
		*state = 0;
	return v;
}

/* Whether the subject key signs with the algorithm its own TBS names. */
static bool
sig_matches_key(const TF_TBS *tbs)
{
	const ASN1_OBJECT *sobj, *kobj;
	int snid, pknid, knid;

	X509_ALGOR_get0(&sobj, NULL, NULL, tbs->sig_alg);
	X509_ALGOR_get0(&kobj, NULL, NULL, tbs->spki->alg);
	if ((snid = OBJ_obj2nid(sobj)) == NID_undef || !OBJ_find_sigid_algs(snid, NULL, &pknid))
		return false;
	knid = OBJ_obj2nid(kobj);
	return knid == pknid || (knid == NID_rsaEncryption && pknid == NID_rsassaPss);
}

/*
 * A v1 root, as OpenSSL's EXFLAG_SS: self-issued, its authority key
 * identifier (if any) matches its own key identifier and serial, and it is
 * signed with an algorithm of its own key type. Returns -1 when one of the
 * two identifier extensions is malformed (OpenSSL then says "not a CA").
 */
static int
v1_root(const struct tf_certinfo *ci, const TF_TBS *tbs)
{
	AUTHORITY_KEYID *akid;
	ASN1_OCTET_STRING *skid;
	int astate, sstate, rc = 1, i;

	akid = ext_d2i(tbs->extensions, NID_authority_key_identifier, &astate);
	skid = ext_d2i(tbs->extensions, NID_subject_key_identifier, &sstate);
	if (astate == -2 || sstate == -2) {
		rc = -1;
		goto out;
	}
	if (!ci->is_self_signed || !sig_matches_key(tbs)) {
		rc = 0;
		goto out;
	}
	if (akid != NULL) {
		/* X509_check_akid() of the certificate against itself */
		if ((akid->keyid != NULL && skid != NULL &&
		        ASN1_OCTET_STRING_cmp(akid->keyid, skid) != 0) ||
		    (akid->serial != NULL && ASN1_INTEGER_cmp(tbs->serial, akid->serial) != 0))
			rc = 0;
		for (i = 0;
		     rc == 1 && akid->issuer != NULL && i < sk_GENERAL_NAME_num(akid->issuer);
		     i++) {
			GENERAL_NAME *gen = sk_GENERAL_NAME_value(akid->issuer, i);
			const unsigned char *p = ci->issuer_der;
			X509_NAME *issuer;

			if (gen->type != GEN_DIRNAME)
				continue;
			issuer = d2i_X509_NAME(NULL, &p, (long)ci->issuer_der_len);
			if (issuer == NULL || X509_NAME_cmp(gen->d.dirn, issuer) != 0)
				rc = 0;
			X509_NAME_free(issuer);
			break;
		}
	}
out:
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(skid);
	return rc;
}

/*
 * Whether it is a CA as X509_check_ca() says: a keyUsage, when present,
 * must allow keyCertSign; then basicConstraints decides; without it, a v1
 * root, a keyUsage or a Netscape CA cert type make a CA. A malformed or
 * repeated extension of those makes it none, as OpenSSL marks the whole
 * certificate invalid. (OpenSSL also does that for a malformed subjectAltName,
 * extendedKeyUsage, ... which this does not decode: the cost of decoding every
 * extension of every certificate, for certificates no issuer would sign.)
 */
static bool
check_ca(const struct tf_certinfo *ci, const TF_TBS *tbs)
{
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_BIT_STRING *ku = NULL, *ns = NULL;
	int bstate, kstate, nstate, v1;
	unsigned kusage = 0;
	bool ca = false;

	bc = ext_d2i(tbs->extensions, NID_basic_constraints, &bstate);
	ku = ext_d2i(tbs->extensions, NID_key_usage, &kstate);
	ns = ext_d2i(tbs->extensions, NID_netscape_cert_type, &nstate);
	if (bstate == -2 || kstate == -2 || nstate == -2)
		goto out;
	if (bc != NULL && bc->pathlen != NULL &&
	    ASN1_STRING_type(bc->pathlen) == V_ASN1_NEG_INTEGER)
		goto out;
	if (ku != NULL) {
		if (ASN1_STRING_length(ku) > 0)
			kusage = ASN1_STRING_get0_data(ku)[0];
		if (ASN1_STRING_length(ku) > 1)
			kusage |= (unsigned)ASN1_STRING_get0_data(ku)[1] << 8;
		if (kusage == 0 || !(kusage & KU_KEY_CERT_SIGN))
			goto out; /* an empty keyUsage is invalid; one without certSign rejects */
	}
	if (bc != NULL) {
		ca = bc->ca != 0;
	} else if (ci->version == 1 && (v1 = v1_root(ci, tbs)) != 0) {
		ca = v1 == 1;
	} else if (ku != NULL) {
		ca = true;
	} else if (ns != NULL && ASN1_STRING_length(ns) > 0) {
		ca = (ASN1_STRING_get0_data(ns)[0] & NS_ANY_CA) != 0;
	}
out:
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	ASN1_BIT_STRING_free(ns);
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
	TF_CERT *cert = NULL;
	struct tf_names names;
	const char *reason = NULL;
	long hdrlen;
	int tag, cls, r, rc = -1;

	memset(ci, 0, sizeof(*ci));
	pthread_once(&shared.once, shared_init);
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
	if (shared.sha256 == NULL ||
	    !EVP_Digest(der, ci->der_len, ci->sha256, NULL, shared.sha256, NULL))
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

	if ((reason = tf_names_decode(&names, ci->subject_der, ci->subject_der_len, ci->issuer_der,
	         ci->issuer_der_len, (flags & TF_CERTINFO_HASH) != 0)) != NULL)
		goto out;
	ci->subject = names.subject;
	ci->issuer = names.issuer;
	ci->is_self_signed = names.equal;
	ci->subject_hash = names.subject_hash;
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
	ci->is_ca = check_ca(ci, cert->tbs);
	rc = 0;
out:
	ERR_clear_error();
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
