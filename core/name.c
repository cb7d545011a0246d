/*
 * core/name.c - X.509 Names as trustfix shows and compares them: the
 * one-line form ("C=US, O=Example, CN=Root"), and equality and the
 * subject hash as OpenSSL computes them. Names of printable ASCII, which
 * are nearly all, are handled straight from their DER; the others go
 * through d2i_X509_NAME(), which costs more than the rest of a
 * certificate's decoding.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "name.h"
#include "tf.h"

/*
 * What every call shares, set up once: SHA-1, fetched once because
 * X509_NAME_hash_ex() fetches it on each call (a lock and a lookup that
 * cost more than the hashing), and the attribute types whose names the
 * ASCII fast path knows. Read-only after setup, so that the scan's decoding
 * threads share them without locks.
 */
struct attr_type {
	unsigned char oid[16]; /* content octets of the OBJECT IDENTIFIER */
	size_t len;
	const char *sn; /* OBJ_nid2sn(), as name_oneline() prints it */
};

static const int attr_nids[] = {
	NID_commonName,
	NID_countryName,
	NID_localityName,
	NID_stateOrProvinceName,
	NID_streetAddress,
	NID_organizationName,
	NID_organizationalUnitName,
	NID_title,
	NID_serialNumber,
	NID_surname,
	NID_givenName,
	NID_initials,
	NID_pkcs9_emailAddress,
	NID_domainComponent,
	NID_userId,
	NID_organizationIdentifier,
	NID_name,
	NID_dnQualifier,
	NID_pseudonym,
	NID_generationQualifier,
	NID_postalCode,
	NID_description,
	NID_businessCategory,
	NID_jurisdictionCountryName,
	NID_jurisdictionStateOrProvinceName,
	NID_jurisdictionLocalityName,
	NID_postOfficeBox,
};

static struct {
	pthread_once_t once;
	EVP_MD *sha1; /* NULL: hash subjects through X509_NAME_hash_ex() */
	struct attr_type attrs[sizeof(attr_nids) / sizeof(attr_nids[0])];
	size_t nattrs;
} shared = { .once = PTHREAD_ONCE_INIT };

static void
shared_init(void)
{
	size_t i;

	shared.sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	for (i = 0; i < sizeof(attr_nids) / sizeof(attr_nids[0]); i++) {
		const ASN1_OBJECT *obj = OBJ_nid2obj(attr_nids[i]);
		struct attr_type *a = &shared.attrs[shared.nattrs];
		size_t len;

		if (obj == NULL || (len = OBJ_length(obj)) == 0 || len > sizeof(a->oid) ||
		    (a->sn = OBJ_nid2sn(attr_nids[i])) == NULL)
			continue;
		memcpy(a->oid, OBJ_get0_data(obj), len);
		a->len = len;
		shared.nattrs++;
	}
	ERR_clear_error();
}

static const char *
attr_sn(const unsigned char *oid, size_t len)
{
	size_t i;

	for (i = 0; i < shared.nattrs; i++)
		if (shared.attrs[i].len == len && memcmp(shared.attrs[i].oid, oid, len) == 0)
			return shared.attrs[i].sn;
	return NULL;
}

/*
 * One DER TLV with tag 'tag' at *p (before 'end'): its content in *c, *n
 * bytes, and *p moved past it. Only definite lengths in their shortest form
 * up to 65535 are taken: anything else is left to OpenSSL's decoder.
 */
static bool
der_take(const unsigned char **p, const unsigned char *end, unsigned tag, const unsigned char **c,
    size_t *n)
{
	const unsigned char *q = *p;

	if (end - q < 2 || q[0] != tag)
		return false;
	if (q[1] < 0x80) {
		*n = q[1];
		q += 2;
	} else if (q[1] == 0x81 && end - q >= 3 && q[2] >= 0x80) {
		*n = q[2];
		q += 3;
	} else if (q[1] == 0x82 && end - q >= 4 && q[2] != 0) {
		*n = (size_t)q[2] << 8 | q[3];
		q += 4;
	} else {
		return false;
	}
	if (*n > (size_t)(end - q))
		return false;
	*c = q;
	*p = q + *n;
	return true;
}

/* Append a DER length. */
static unsigned char *
put_len(unsigned char *p, size_t n)
{
	if (n < 0x80) {
		*p++ = (unsigned char)n;
	} else if (n < 0x100) {
		*p++ = 0x81;
		*p++ = (unsigned char)n;
	} else {
		*p++ = 0x82;
		*p++ = (unsigned char)(n >> 8);
		*p++ = (unsigned char)n;
	}
	return p;
}

static size_t
len_len(size_t n)
{
	return n < 0x80 ? 1 : n < 0x100 ? 2 : 3;
}

/*
 * A value as OpenSSL's canonical encoding holds it (asn1_string_canon() on
 * ASCII): leading and trailing spaces dropped, runs of spaces as one,
 * lowercased. Writes it to 'out' unless NULL; returns its length.
 */
static size_t
canon_value(const unsigned char *val, size_t n, unsigned char *out)
{
	size_t i, k = 0;
	bool text = false;

	for (i = 0; i < n; i++) {
		unsigned char ch = val[i];

		if (ch != ' ') {
			if (out != NULL)
				out[k] = ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
			k++;
			text = true;
		} else if (text && i + 1 < n && val[i + 1] != ' ') {
			/* the last space of a run that more text follows */
			if (out != NULL)
				out[k] = ' ';
			k++;
		}
	}
	return k;
}

/*
 * The fast path for a Name: every RDN holds one attribute of a type in
 * shared.attrs whose value is a UTF8String, PrintableString or IA5String
 * of printable ASCII. Such a name needs no character conversion and no
 * escaping, so its one-line form and OpenSSL's canonical encoding (what
 * X509_NAME_cmp() compares and X509_NAME_hash_ex() hashes: each RDN as a
 * SET of one SEQUENCE { type, UTF8String canonical value }) come straight
 * from the DER. Returns false, having allocated nothing, for any other
 * name. 'canon' may be NULL when the canonical encoding is not needed.
 */
static bool
fast_name(const unsigned char *der, size_t len, char **oneline, unsigned char **canon,
    size_t *canon_len)
{
	const unsigned char *rdns, *set, *atv, *oid, *val, *p, *q;
	size_t nrdns, nset, natv, noid, nval, total = 0, clen = 0, i, v, seq;
	unsigned char *c = NULL, *cp = NULL;
	const char *sn;
	char *s = NULL, *sp = NULL;
	int pass;

	p = der;
	if (!der_take(&p, der + len, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, &rdns, &nrdns) ||
	    p != der + len || nrdns == 0)
		return false;
	/* pass 0 checks and measures, pass 1 (which cannot fail) writes */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			s = sp = tf_malloc(total + 1);
			if (canon != NULL)
				c = cp = tf_malloc(clen);
		}
		for (p = rdns; p < rdns + nrdns;) {
			if (!der_take(&p, rdns + nrdns, V_ASN1_SET | V_ASN1_CONSTRUCTED, &set,
			        &nset))
				return false;
			q = set;
			/* several attributes in one RDN: slow path */
			if (!der_take(&q, set + nset, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, &atv,
			        &natv) ||
			    q != set + nset)
				return false;
			q = atv;
			if (!der_take(&q, atv + natv, V_ASN1_OBJECT, &oid, &noid) ||
			    (sn = attr_sn(oid, noid)) == NULL || q == atv + natv ||
			    (*q != V_ASN1_UTF8STRING && *q != V_ASN1_PRINTABLESTRING &&
			        *q != V_ASN1_IA5STRING) ||
			    !der_take(&q, atv + natv, *q, &val, &nval) || q != atv + natv)
				return false;
			v = canon_value(val, nval, NULL);
			seq = 2 + noid + 1 + len_len(v) + v;
			if (pass == 0) {
				for (i = 0; i < nval; i++)
					if (val[i] < 0x20 || val[i] > 0x7e)
						return false;
				total += (total > 0 ? 2 : 0) + strlen(sn) + 1 + nval;
				seq = 1 + len_len(seq) + seq;
				clen += 1 + len_len(seq) + seq;
				continue;
			}
			if (sp > s)
				*sp++ = ',', *sp++ = ' ';
			memcpy(sp, sn, strlen(sn));
			sp += strlen(sn);
			*sp++ = '=';
			memcpy(sp, val, nval);
			sp += nval;
			if (c == NULL)
				continue;
			*cp++ = V_ASN1_SET | V_ASN1_CONSTRUCTED;
			cp = put_len(cp, 1 + len_len(seq) + seq);
			*cp++ = V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED;
			cp = put_len(cp, seq);
			*cp++ = V_ASN1_OBJECT;
			*cp++ = (unsigned char)noid; /* the known types are short */
			memcpy(cp, oid, noid);
			cp += noid;
			*cp++ = V_ASN1_UTF8STRING;
			cp = put_len(cp, v);
			cp += canon_value(val, nval, cp);
		}
	}
	*sp = '\0';
	*oneline = s;
	if (canon != NULL) {
		*canon = c;
		*canon_len = clen;
	}
	return true;
}

/* Append the bytes of a name value, escaping what a terminal would act on. */
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

/*
 * Subject and issuer through the fast path; false (nothing set) when either
 * name is not one it takes.
 */
static bool
names_fast(struct tf_names *nm, const unsigned char *sder, size_t slen_der,
    const unsigned char *ider, size_t ilen_der, bool hash)
{
	unsigned char *scanon = NULL, *icanon = NULL, md[SHA_DIGEST_LENGTH];
	size_t slen = 0, ilen = 0;
	bool same = ilen_der == slen_der && memcmp(ider, sder, slen_der) == 0, ok = false;

	if (hash && shared.sha1 == NULL)
		return false;
	if (!fast_name(sder, slen_der, &nm->subject, hash || !same ? &scanon : NULL, &slen))
		return false;
	if (same) {
		nm->issuer = tf_strdup(nm->subject);
		nm->equal = true;
	} else if (fast_name(ider, ilen_der, &nm->issuer, &icanon, &ilen)) {
		/* as X509_NAME_cmp(): equal canonical encodings */
		nm->equal = slen == ilen && memcmp(scanon, icanon, slen) == 0;
	} else {
		goto out;
	}
	if (hash) {
		/* as X509_NAME_hash_ex(): the first 4 bytes of SHA-1, little-endian */
		if (!EVP_Digest(scanon, slen, md, NULL, shared.sha1, NULL))
			goto out;
		nm->subject_hash = ((unsigned long)md[0] | (unsigned long)md[1] << 8 |
		                       (unsigned long)md[2] << 16 | (unsigned long)md[3] << 24) &
		    0xffffffffUL;
	}
	ok = true;
out:
	if (!ok) {
		free(nm->subject);
		free(nm->issuer);
		nm->subject = nm->issuer = NULL;
		ERR_clear_error();
	}
	free(scanon);
	free(icanon);
	return ok;
}

/*
 * Subject and issuer through d2i_X509_NAME(), for any name. Returns NULL,
 * or the reason the certificate is not taken.
 */
static const char *
names_slow(struct tf_names *nm, const unsigned char *sder, size_t slen, const unsigned char *ider,
    size_t ilen, bool hash)
{
	X509_NAME *subject = NULL, *issuer = NULL;
	const unsigned char *p;
	const char *reason = NULL;

	p = sder;
	if ((subject = d2i_X509_NAME(NULL, &p, (long)slen)) == NULL) {
		reason = "malformed subject name";
		goto out;
	}
	if (ilen == slen && memcmp(ider, sder, slen) == 0) {
		/* byte-equal names: decode once */
		nm->equal = true;
	} else {
		p = ider;
		if ((issuer = d2i_X509_NAME(NULL, &p, (long)ilen)) == NULL) {
			reason = "malformed issuer name";
			goto out;
		}
		nm->equal = X509_NAME_cmp(subject, issuer) == 0;
	}
	nm->subject = name_oneline(subject);
	nm->issuer = issuer != NULL ? name_oneline(issuer) : tf_strdup(nm->subject);
	if (hash) {
		int ok = 0;

		nm->subject_hash = X509_NAME_hash_ex(subject, NULL, NULL, &ok);
		if (!ok)
			reason = "cannot hash subject name";
	}
out:
	X509_NAME_free(subject);
	X509_NAME_free(issuer);
	return reason;
}

const char *
tf_names_decode(struct tf_names *out, const unsigned char *subject, size_t subject_len,
    const unsigned char *issuer, size_t issuer_len, bool want_hash)
{
	const char *reason;

	memset(out, 0, sizeof(*out));
	pthread_once(&shared.once, shared_init);
	if (names_fast(out, subject, subject_len, issuer, issuer_len, want_hash))
		return NULL;
	if ((reason = names_slow(out, subject, subject_len, issuer, issuer_len, want_hash)) !=
	    NULL) {
		free(out->subject);
		free(out->issuer);
		memset(out, 0, sizeof(*out));
	}
	ERR_clear_error();
	return reason;
}
