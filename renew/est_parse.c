/*
 * renew/est_parse.c - parsers for what an EST server sends: base64 in all
 * its field variants, Content-Type, multipart bodies, PKCS#7 certs-only and
 * CsrAttrs. Liberal in what they accept, and safe on any input (fuzzed).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include "est_parse.h"

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
est_base64_decode(unsigned char **out, size_t *outlen, const char *in, size_t len, const char **why)
{
	const unsigned char *p = (const unsigned char *)in;
	unsigned char *buf;
	unsigned long acc = 0;
	size_t i, n = 0, bits = 0, pad = 0, digits = 0;
	int v;

	*out = NULL;
	*outlen = 0;
	/* trailing NULs, as some servers send after the base64 */
	while (len > 0 && p[len - 1] == '\0')
		len--;
	buf = tf_malloc(len / 4 * 3 + 3);
	for (i = 0; i < len; i++) {
		if (p[i] == '\r' || p[i] == '\n' || p[i] == ' ' || p[i] == '\t')
			continue;
		if (p[i] == '=') {
			pad++;
			continue;
		}
		if ((v = b64val(p[i])) < 0 || pad > 0) {
			*why = pad > 0 ? "data after base64 padding" : "not base64";
			goto bad;
		}
		digits++;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	if (digits % 4 == 1 || pad > 2 || (pad > 0 && (digits + pad) % 4 != 0)) {
		*why = "truncated base64";
		goto bad;
	}
	if (n == 0) {
		*why = "empty base64";
		goto bad;
	}
	*out = buf;
	*outlen = n;
	return 0;
bad:
	free(buf);
	return -1;
}

char *
est_base64_encode(const unsigned char *in, size_t len, size_t *outlen)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t chars = (len + 2) / 3 * 4;
	char *out = tf_malloc(chars + chars / 64 + 2), *o = out;
	size_t i, col = 0;
	unsigned long v;
	int k;

	for (i = 0; i < len; i += 3) {
		v = (unsigned long)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		for (k = 0; k < 4; k++) {
			if ((size_t)k <= len - i)
				*o++ = tab[(v >> (18 - 6 * k)) & 63];
			else
				*o++ = '=';
			if (++col == 64) {
				*o++ = '\n';
				col = 0;
			}
		}
	}
	if (col != 0)
		*o++ = '\n';
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

static bool
is_tspecial(int c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool
is_token(int c)
{
	return c > 0x20 && c < 0x7f && !is_tspecial(c);
}

static void
lower_copy(char *dst, size_t size, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < size; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

int
est_ctype_parse(struct est_ctype *ct, const char *value, size_t len, const char **why)
{
	const char *p = value, *end = value + len, *s;
	char name[32], val[80];
	size_t n;

	memset(ct, 0, sizeof(*ct));
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	for (s = p; p < end && (is_token(*p) || *p == '/'); p++)
		;
	if (p == s || memchr(s, '/', (size_t)(p - s)) == NULL ||
	    (size_t)(p - s) >= sizeof(ct->type)) {
		*why = "malformed media type";
		return -1;
	}
	lower_copy(ct->type, sizeof(ct->type), s, (size_t)(p - s));
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			return 0;
		if (*p++ != ';') {
			*why = "malformed Content-Type parameters";
			return -1;
		}
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			return 0; /* a trailing ';' */
		for (s = p; p < end && is_token(*p); p++)
			;
		if (p == s || p == end || *p != '=') {
			*why = "malformed Content-Type parameter";
			return -1;
		}
		lower_copy(name, sizeof(name), s, (size_t)(p - s));
		p++;
		n = 0;
		if (p < end && *p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (n + 1 < sizeof(val))
					val[n++] = *p;
			}
			if (p == end) {
				*why = "unterminated quoted string";
				return -1;
			}
			p++;
		} else {
			for (; p < end && is_token(*p); p++)
				if (n + 1 < sizeof(val))
					val[n++] = *p;
		}
		val[n] = '\0';
		if (strcmp(name, "smime-type") == 0) {
			lower_copy(ct->smime, sizeof(ct->smime), val, n);
		} else if (strcmp(name, "boundary") == 0) {
			if (n == 0 || n > 70) {
				*why = "bad multipart boundary";
				return -1;
			}
			memcpy(ct->boundary, val, n + 1);
		}
	}
}

/* The next line of [p, end): returns its length without the line end. */
static size_t
line_len(const unsigned char *p, const unsigned char *end, size_t *eol)
{
	const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n;

	if (nl == NULL) {
		*eol = 0;
		return (size_t)(end - p);
	}
	n = (size_t)(nl - p);
	*eol = 1;
	if (n > 0 && p[n - 1] == '\r') {
		n--;
		*eol = 2;
	}
	return n;
}

/* Whether the line at 'p' of 'n' bytes is "--boundary" (or its closing "--boundary--"). */
static int
delimiter(const unsigned char *p, size_t n, const char *b, size_t blen)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--; /* transport padding */
	if (n < blen + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, blen) != 0)
		return 0;
	if (n == blen + 2)
		return 1;
	if (n == blen + 4 && p[blen + 2] == '-' && p[blen + 3] == '-')
		return 2;
	return 0;
}

static int
part_headers(struct est_part *part, const unsigned char **pp, const unsigned char *end,
    const char **why)
{
	const unsigned char *p = *pp;
	size_t n, eol;

	for (;;) {
		if (p >= end) {
			*why = "multipart part without a body";
			return -1;
		}
		n = line_len(p, end, &eol);
		if (n == 0) {
			p += eol;
			break;
		}
		if (n > 14 && strncasecmp((const char *)p, "content-type:", 13) == 0) {
			if (est_ctype_parse(&part->ctype, (const char *)p + 13, n - 13, why) != 0)
				return -1;
		} else if (n > 26 &&
		    strncasecmp((const char *)p, "content-transfer-encoding:", 26) == 0) {
			const unsigned char *v = p + 26, *ve = p + n;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			part->has_cte = true;
			lower_copy(part->cte, sizeof(part->cte), (const char *)v, (size_t)(ve - v));
		}
		if (eol == 0) {
			*why = "multipart part without a body";
			return -1;
		}
		p += n + eol;
	}
	*pp = p;
	return 0;
}

int
est_multipart_parse(struct est_part *parts, size_t *nparts, const unsigned char *body, size_t len,
    const char *boundary, const char **why)
{
	const unsigned char *p = body, *end = body + len, *start = NULL, *e;
	size_t blen = strlen(boundary), n, eol, count = 0;
	int d;

	*nparts = 0;
	if (blen == 0 || blen > 70) {
		*why = "bad multipart boundary";
		return -1;
	}
	while (p < end) {
		n = line_len(p, end, &eol);
		if ((d = delimiter(p, n, boundary, blen)) == 0) {
			p += n + eol;
			continue;
		}
		if (start != NULL) {
			/* the line end before a delimiter belongs to the delimiter */
			e = p;
			if (e > start && e[-1] == '\n')
				e--;
			if (e > start && e[-1] == '\r')
				e--;
			parts[count - 1].body = start;
			parts[count - 1].len = (size_t)(e - start);
		}
		if (d == 2) {
			if (count == 0) {
				*why = "multipart body without parts";
				return -1;
			}
			*nparts = count;
			return 0;
		}
		if (count == EST_PARTS_MAX) {
			*why = "too many multipart parts";
			return -1;
		}
		memset(&parts[count], 0, sizeof(parts[count]));
		p += n + eol;
		if (part_headers(&parts[count], &p, end, why) != 0)
			return -1;
		start = p;
		count++;
	}
	*why = "multipart body not closed";
	return -1;
}

int
est_body_der(unsigned char **out, size_t *outlen, const unsigned char *body, size_t len,
    const char **why)
{
	if (est_base64_decode(out, outlen, (const char *)body, len, why) == 0)
		return 0;
	/* binary DER from a server that ignored RFC 8951: a SEQUENCE */
	if (len > 2 && body[0] == 0x30) {
		*out = tf_malloc(len);
		memcpy(*out, body, len);
		*outlen = len;
		return 0;
	}
	return -1;
}

int
est_pkcs7_certs(STACK_OF(X509) **out, const unsigned char *der, size_t len, const char **why)
{
	const unsigned char *p = der;
	STACK_OF(X509) *certs = NULL, *sk;
	PKCS7 *p7 = NULL;
	int i, rc = -1;

	*out = NULL;
	if (len > 0x7fffffff || (p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL) {
		*why = "not a PKCS#7 message";
		goto out;
	}
	if (p != der + len) {
		*why = "trailing bytes after the PKCS#7 message";
		goto out;
	}
	if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL) {
		*why = "PKCS#7 message is not SignedData";
		goto out;
	}
	sk = p7->d.sign->cert;
	if (sk == NULL || sk_X509_num(sk) == 0) {
		*why = "PKCS#7 message holds no certificate";
		goto out;
	}
	certs = sk_X509_new_null();
	for (i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);

		if (!X509_up_ref(x) || !sk_X509_push(certs, x)) {
			*why = "out of memory";
			goto out;
		}
	}
	*out = certs;
	certs = NULL;
	rc = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	PKCS7_free(p7);
	ERR_clear_error();
	return rc;
}

/* Note what one OID of /csrattrs asks for. */
static void
csrattr_oid(struct est_csrattrs *ca, const ASN1_OBJECT *obj)
{
	switch (OBJ_obj2nid(obj)) {
	case NID_pkcs9_challengePassword:
		ca->wants_pop = true;
		break;
	case NID_sha384:
	case NID_ecdsa_with_SHA384:
	case NID_sha384WithRSAEncryption:
		ca->md_nid = NID_sha384;
		break;
	case NID_sha512:
	case NID_ecdsa_with_SHA512:
	case NID_sha512WithRSAEncryption:
		ca->md_nid = NID_sha512;
		break;
	case NID_sha256:
	case NID_ecdsa_with_SHA256:
	case NID_sha256WithRSAEncryption:
		ca->md_nid = NID_sha256;
		break;
	case NID_secp384r1:
		ca->curve_nid = NID_secp384r1;
		break;
	case NID_X9_62_prime256v1:
		ca->curve_nid = NID_X9_62_prime256v1;
		break;
	default:
		ca->nunknown++;
		break;
	}
}

/* Read one DER TLV header; returns 0 with *tag, *hl, *vl or -1. */
static int
tlv(const unsigned char *p, size_t len, int *tag, size_t *hl, size_t *vl)
{
	size_t n, i, v = 0;

	if (len < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	*tag = p[0];
	if (p[1] < 0x80) {
		*hl = 2;
		*vl = p[1];
	} else {
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || len < 2 + n)
			return -1;
		for (i = 0; i < n; i++)
			v = (v << 8) | p[2 + i];
		*hl = 2 + n;
		*vl = v;
	}
	return *vl <= len - *hl ? 0 : -1;
}

int
est_csrattrs_parse(struct est_csrattrs *out, const unsigned char *der, size_t len, const char **why)
{
	const unsigned char *p, *end, *q;
	size_t hl, vl, hl2, vl2;
	ASN1_OBJECT *obj;
	int tag, tag2;

	memset(out, 0, sizeof(*out));
	out->md_nid = NID_undef;
	out->curve_nid = NID_undef;
	if (tlv(der, len, &tag, &hl, &vl) != 0 || tag != 0x30 || hl + vl != len) {
		*why = "CsrAttrs is not a DER SEQUENCE";
		return -1;
	}
	for (p = der + hl, end = p + vl; p < end; p += hl + vl) {
		if (tlv(p, (size_t)(end - p), &tag, &hl, &vl) != 0) {
			*why = "malformed CsrAttrs element";
			return -1;
		}
		q = p;
		if (tag == 0x30) {
			/* Attribute: the type, then a SET of values (OIDs understood) */
			q = p + hl;
			if (tlv(q, vl, &tag2, &hl2, &vl2) != 0 || tag2 != 0x06) {
				*why = "malformed CsrAttrs attribute";
				return -1;
			}
			if ((obj = d2i_ASN1_OBJECT(NULL, &q, (long)(hl2 + vl2))) != NULL) {
				int nid = OBJ_obj2nid(obj);

				ASN1_OBJECT_free(obj);
				if (nid == NID_ext_req || nid == NID_X9_62_id_ecPublicKey ||
				    nid == NID_rsaEncryption) {
					/* values: look for curve OIDs and RSA sizes */
					const unsigned char *v = q, *ve = p + hl + vl;
					size_t h3, v3;
					int t3;

					if (tlv(v, (size_t)(ve - v), &t3, &h3, &v3) == 0 &&
					    t3 == 0x31) {
						const unsigned char *e = v + h3, *ee = e + v3;

						for (; e < ee; e += h3 + v3) {
							if (tlv(e, (size_t)(ee - e), &t3, &h3,
							        &v3) != 0)
								break;
							if (t3 == 0x06) {
								const unsigned char *o = e;

								obj = d2i_ASN1_OBJECT(NULL, &o,
								    (long)(h3 + v3));
								if (obj != NULL) {
									csrattr_oid(out, obj);
									ASN1_OBJECT_free(obj);
								}
							} else if (t3 == 0x02 && v3 <= 3 &&
							    nid == NID_rsaEncryption) {
								size_t i;
								int bits = 0;

								for (i = 0; i < v3; i++)
									bits =
									    bits << 8 | e[h3 + i];
								out->rsa_bits = bits;
							}
						}
					}
				} else {
					out->nunknown++;
				}
			}
		} else if (tag == 0x06) {
			if ((obj = d2i_ASN1_OBJECT(NULL, &q, (long)(hl + vl))) == NULL) {
				*why = "malformed OID in CsrAttrs";
				ERR_clear_error();
				return -1;
			}
			csrattr_oid(out, obj);
			ASN1_OBJECT_free(obj);
		} else {
			out->nunknown++;
		}
	}
	ERR_clear_error();
	return 0;
}

void
est_sanitise(char *out, size_t size, const unsigned char *in, size_t len)
{
	size_t o = 0, i, need;
	bool cut = false;

	if (size < 8) {
		if (size > 0)
			out[0] = '\0';
		return;
	}
	if (len > 200) {
		len = 200;
		cut = true;
	}
	for (i = 0; i < len; i++) {
		bool plain = in[i] >= 0x20 && in[i] < 0x7f && in[i] != '\\';

		need = plain ? 1 : 4;
		if (o + need + 4 > size) {
			cut = true;
			break;
		}
		if (plain)
			out[o++] = (char)in[i];
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", in[i]);
	}
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}
