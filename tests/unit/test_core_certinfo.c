/*
 * tests/unit/test_core_certinfo.c - the fast certificate decoder must say
 * what OpenSSL's full parse says, field by field, and refuse what is not a
 * certificate.
 */
#include "helpers.h"

#include "core/certinfo.h"

static struct {
	EVP_PKEY *rsa1024, *rsa2048, *p256, *p384, *ed25519;
} keys;

static int
group_setup(void **state)
{
	(void)state;
	keys.rsa1024 = make_key(KEY_RSA1024);
	keys.rsa2048 = make_key(KEY_RSA2048);
	keys.p256 = make_key(KEY_P256);
	keys.p384 = make_key(KEY_P384);
	keys.ed25519 = make_key(KEY_ED25519);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(keys.rsa1024);
	EVP_PKEY_free(keys.rsa2048);
	EVP_PKEY_free(keys.p256);
	EVP_PKEY_free(keys.p384);
	EVP_PKEY_free(keys.ed25519);
	return 0;
}

/* A name as one line the way OpenSSL prints it (no escaping asked for). */
static char *
openssl_oneline(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_non_null(bio);
	assert_true(X509_NAME_print_ex(bio, name, 0,
	                XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | ASN1_STRFLGS_UTF8_CONVERT) >= 0);
	return bio_string(bio);
}

static char *
openssl_serial(const X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_non_null(bio);
	assert_true(i2a_ASN1_INTEGER(bio, X509_get0_serialNumber(x)) > 0);
	return bio_string(bio);
}

static time_t
openssl_time(const ASN1_TIME *t)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return timegm(&tm);
}

static const char *
openssl_key_type(EVP_PKEY *pk)
{
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		return "RSA";
	case EVP_PKEY_EC:
		return "EC";
	case EVP_PKEY_ED25519:
		return "Ed25519";
	case EVP_PKEY_ED448:
		return "Ed448";
	case EVP_PKEY_DSA:
		return "DSA";
	}
	return NULL;
}

/*
 * Decode 'der' with tf_certinfo_parse() into 'ci' and assert that every
 * field is what OpenSSL's full parse of the same bytes says. Names are
 * compared as text only when 'names' (they hold nothing to escape).
 */
static void
parse_and_compare(const unsigned char *der, size_t len, bool names, struct tf_certinfo *ci)
{
	const unsigned char *p = der, *enc;
	unsigned char md[32];
	const char *why = NULL;
	X509 *x;
	EVP_PKEY *pk;
	size_t enclen;
	char *s;
	int mdnid = NID_undef, pknid, secbits, ok = 0;
	uint32_t sigflags;
	unsigned long hash;

	if (tf_certinfo_parse(ci, der, len, TF_CERTINFO_HASH, &why) != 0)
		fail_msg("tf_certinfo_parse failed: %s", why ? why : "(no reason)");
	assert_non_null(x = d2i_X509(NULL, &p, (long)len));
	assert_int_equal(ci->der_len, (size_t)(p - der));

	cert_sha256(x, md);
	assert_memory_equal(ci->sha256, md, 32);

	assert_int_equal(X509_NAME_get0_der(X509_get_subject_name(x), &enc, &enclen), 1);
	assert_int_equal(ci->subject_der_len, enclen);
	assert_memory_equal(ci->subject_der, enc, enclen);
	assert_int_equal(X509_NAME_get0_der(X509_get_issuer_name(x), &enc, &enclen), 1);
	assert_int_equal(ci->issuer_der_len, enclen);
	assert_memory_equal(ci->issuer_der, enc, enclen);

	assert_non_null(ci->subject);
	assert_non_null(ci->issuer);
	if (names) {
		s = openssl_oneline(X509_get_subject_name(x));
		assert_string_equal(ci->subject, s);
		free(s);
		s = openssl_oneline(X509_get_issuer_name(x));
		assert_string_equal(ci->issuer, s);
		free(s);
	}

	s = openssl_serial(x);
	assert_string_equal(ci->serial, s);
	free(s);

	assert_int_equal(ci->not_before, openssl_time(X509_get0_notBefore(x)));
	assert_int_equal(ci->not_after, openssl_time(X509_get0_notAfter(x)));

	assert_non_null(pk = X509_get0_pubkey(x));
	if (openssl_key_type(pk) != NULL)
		assert_string_equal(ci->key_type, openssl_key_type(pk));
	assert_int_equal(ci->key_bits, EVP_PKEY_get_bits(pk));

	assert_string_equal(ci->sig_alg, OBJ_nid2ln(X509_get_signature_nid(x)));
	assert_int_equal(X509_get_signature_info(x, &mdnid, &pknid, &secbits, &sigflags), 1);
	assert_int_equal(ci->sig_md_nid, mdnid);

	assert_int_equal(ci->version, X509_get_version(x) + 1);
	assert_int_equal(ci->is_ca, X509_check_ca(x) != 0);
	assert_int_equal(ci->is_self_signed,
	    X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0);

	hash = X509_NAME_hash_ex(X509_get_subject_name(x), NULL, NULL, &ok);
	assert_int_equal(ok, 1);
	assert_int_equal(ci->subject_hash, hash);
	X509_free(x);
}

/* Make the certificate of 's', decode it and compare; the caller clears ci. */
static void
check_spec(const struct certspec *s, struct tf_certinfo *ci)
{
	X509 *x = make_cert(s);
	unsigned char *der;
	size_t len;

	der = cert_der(x, &len);
	parse_and_compare(der, len, true, ci);
	assert_int_equal(ci->der_len, len);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_rsa1024_sha1(void **state)
{
	struct certspec s = { .cn = "RSA 1024", .key = keys.rsa1024, .md = EVP_sha1() };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_string_equal(ci.key_type, "RSA");
	assert_int_equal(ci.key_bits, 1024);
	assert_string_equal(ci.sig_alg, "sha1WithRSAEncryption");
	assert_int_equal(ci.sig_md_nid, NID_sha1);
	assert_string_equal(ci.subject, "O=trustfix tests, CN=RSA 1024");
	assert_string_equal(ci.issuer, ci.subject);
	assert_true(ci.is_ca);
	assert_true(ci.is_self_signed);
	assert_int_equal(ci.version, 3);
	tf_certinfo_clear(&ci);
}

static void
test_rsa2048_sha256(void **state)
{
	struct certspec s = { .cn = "RSA 2048", .key = keys.rsa2048 };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_string_equal(ci.key_type, "RSA");
	assert_int_equal(ci.key_bits, 2048);
	assert_string_equal(ci.sig_alg, "sha256WithRSAEncryption");
	assert_int_equal(ci.sig_md_nid, NID_sha256);
	assert_int_equal(ci.not_before, TEST_NOW - DAY);
	assert_int_equal(ci.not_after, TEST_NOW + 365 * DAY);
	assert_string_equal(ci.serial, "1000");
	tf_certinfo_clear(&ci);
}

static void
test_ec_p256(void **state)
{
	struct certspec s = { .cn = "P-256", .key = keys.p256 };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_string_equal(ci.key_type, "EC");
	assert_int_equal(ci.key_bits, 256);
	assert_string_equal(ci.sig_alg, "ecdsa-with-SHA256");
	assert_int_equal(ci.sig_md_nid, NID_sha256);
	tf_certinfo_clear(&ci);
}

static void
test_ec_p384_sha384(void **state)
{
	struct certspec s = { .cn = "P-384", .key = keys.p384, .md = EVP_sha384() };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_string_equal(ci.key_type, "EC");
	assert_int_equal(ci.key_bits, 384);
	assert_string_equal(ci.sig_alg, "ecdsa-with-SHA384");
	assert_int_equal(ci.sig_md_nid, NID_sha384);
	tf_certinfo_clear(&ci);
}

static void
test_ed25519(void **state)
{
	struct certspec s = { .cn = "Ed25519", .key = keys.ed25519 };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_string_equal(ci.key_type, "Ed25519");
	assert_int_equal(ci.key_bits, 256); /* EVP_PKEY_get_bits() of an Ed25519 key */
	assert_string_equal(ci.sig_alg, "ED25519");
	assert_int_equal(ci.sig_md_nid, NID_undef);
	tf_certinfo_clear(&ci);
}

static void
test_v1_self_signed_is_ca(void **state)
{
	struct certspec s = { .cn = "v1 root", .key = keys.p256, .version = 1 };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_int_equal(ci.version, 1);
	assert_true(ci.is_self_signed);
	assert_true(ci.is_ca); /* as OpenSSL treats a v1 root */
	tf_certinfo_clear(&ci);
}

static void
test_v1_issued_is_not_ca(void **state)
{
	X509 *ca = make_ca(keys.p384, "v1 issuer");
	struct certspec s = { .cn = "v1 leaf",
		.key = keys.p256,
		.version = 1,
		.issuer = ca,
		.issuer_key = keys.p384 };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_int_equal(ci.version, 1);
	assert_false(ci.is_self_signed);
	assert_false(ci.is_ca);
	assert_string_equal(ci.issuer, "O=trustfix tests, CN=v1 issuer");
	tf_certinfo_clear(&ci);
	X509_free(ca);
}

static void
test_v3_ca_false(void **state)
{
	X509 *ca = make_ca(keys.rsa2048, "Issuing CA");
	struct certspec s = { .cn = "leaf",
		.key = keys.p256,
		.bc = BC_LEAF,
		.issuer = ca,
		.issuer_key = keys.rsa2048 };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_false(ci.is_ca);
	assert_false(ci.is_self_signed);
	assert_string_equal(ci.subject, "O=trustfix tests, CN=leaf");
	assert_string_equal(ci.issuer, "O=trustfix tests, CN=Issuing CA");
	/* signed by the RSA issuer, whatever the leaf's own key */
	assert_string_equal(ci.sig_alg, "sha256WithRSAEncryption");
	assert_string_equal(ci.key_type, "EC");
	tf_certinfo_clear(&ci);
	X509_free(ca);
}

static void
test_v3_self_signed_ca_false(void **state)
{
	struct certspec s = { .cn = "self leaf", .key = keys.p256, .bc = BC_LEAF };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_true(ci.is_self_signed);
	assert_false(ci.is_ca);
	tf_certinfo_clear(&ci);
}

static void
test_v3_without_basic_constraints(void **state)
{
	struct certspec s = { .cn = "no bc", .key = keys.p256, .bc = BC_NONE };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_int_equal(ci.version, 3);
	assert_true(ci.is_self_signed);
	assert_false(ci.is_ca);
	tf_certinfo_clear(&ci);
}

/* Without basicConstraints, keyUsage keyCertSign makes OpenSSL call it a CA. */
static void
test_v3_key_cert_sign_without_basic_constraints(void **state)
{
	struct certspec s = { .cn = "ku only",
		.key = keys.p256,
		.bc = BC_NONE,
		.key_usage = "critical,keyCertSign,cRLSign" };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci); /* X509_check_ca() says 4: a CA by its key usage */
	tf_certinfo_clear(&ci);
}

/* CA:TRUE, but a keyUsage without keyCertSign: OpenSSL says it cannot issue. */
static void
test_v3_ca_without_key_cert_sign(void **state)
{
	struct certspec s = { .cn = "ku no sign",
		.key = keys.p256,
		.key_usage = "critical,digitalSignature,keyAgreement" };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci); /* X509_check_ca() says 0 */
	assert_false(ci.is_ca);
	tf_certinfo_clear(&ci);
}

/* And with keyCertSign, a CA as before. */
static void
test_v3_ca_with_key_cert_sign(void **state)
{
	struct certspec s = { .cn = "ku sign",
		.key = keys.p256,
		.key_usage = "critical,keyCertSign,cRLSign" };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_true(ci.is_ca);
	tf_certinfo_clear(&ci);
}

static void
test_negative_serial(void **state)
{
	struct certspec s = { .cn = "negative", .key = keys.p256, .serial = "-05" };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_string_equal(ci.serial, "-05");
	tf_certinfo_clear(&ci);
}

static void
test_serial_zero_and_long(void **state)
{
	struct certspec s = { .cn = "zero", .key = keys.p256, .serial = "0" };
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_string_equal(ci.serial, "00");
	tf_certinfo_clear(&ci);

	/* 20 bytes with the top bit set: DER pads it with a zero byte */
	s.serial = "8F0102030405060708090A0B0C0D0E0F10111213";
	check_spec(&s, &ci);
	assert_string_equal(ci.serial, "8F0102030405060708090A0B0C0D0E0F10111213");
	tf_certinfo_clear(&ci);
}

static void
test_generalized_time(void **state)
{
	/* 2060 is past UTCTime's range: GeneralizedTime is used */
	struct certspec s = { .cn = "far future",
		.key = keys.p256,
		.not_before = 946684800,   /* 2000-01-01 */
		.not_after = 2840140800 }; /* 2060-01-01 */
	struct tf_certinfo ci;

	(void)state;
	check_spec(&s, &ci);
	assert_int_equal(ci.not_before, 946684800);
	assert_int_equal(ci.not_after, 2840140800);
	tf_certinfo_clear(&ci);
}

static void
test_control_characters_escaped(void **state)
{
	static const char cn[] = "Evil\x1b[2J\x07\nroot\x7f\xc2\x85 caf\xc3\xa9";
	X509_NAME *name = X509_NAME_new();
	struct certspec s = { .key = keys.p256 };
	struct tf_certinfo ci;
	X509 *x;
	unsigned char *der;
	size_t len, i;

	(void)state;
	assert_non_null(name);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                     (const unsigned char *)cn, -1, -1, 0),
	    1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                     (const unsigned char *)"tab\there", -1, -1, 0),
	    1);
	s.name = name;
	x = make_cert(&s);
	der = cert_der(x, &len);
	parse_and_compare(der, len, false, &ci);
	assert_string_equal(ci.subject,
	    "CN=Evil\\x1b[2J\\x07\\x0aroot\\x7f\\xc2\\x85 caf\xc3\xa9, O=tab\\x09here");
	assert_string_equal(ci.issuer, ci.subject);
	for (i = 0; ci.subject[i] != '\0'; i++)
		assert_true((unsigned char)ci.subject[i] >= 0x20 && ci.subject[i] != 0x7f);
	tf_certinfo_clear(&ci);
	OPENSSL_free(der);
	X509_free(x);
	X509_NAME_free(name);
}

static void
test_multivalued_rdn(void **state)
{
	X509_NAME *name = X509_NAME_new();
	struct certspec s = { .key = keys.p256 };
	struct tf_certinfo ci;

	(void)state;
	assert_non_null(name);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
	                     (const unsigned char *)"DE", -1, -1, 0),
	    1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                     (const unsigned char *)"Two", -1, -1, 0),
	    1);
	/* set -1: into the same RDN as the entry before */
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "UID", MBSTRING_ASC,
	                     (const unsigned char *)"values", -1, -1, -1),
	    1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "1.2.3.4.5", MBSTRING_ASC,
	                     (const unsigned char *)"oid", -1, -1, 0),
	    1);
	s.name = name;
	check_spec(&s, &ci);
	assert_string_equal(ci.subject, "C=DE, CN=Two + UID=values, 1.2.3.4.5=oid");
	tf_certinfo_clear(&ci);
	X509_NAME_free(name);
}

/* Names that differ in bytes but are equal as OpenSSL compares them. */
static void
test_self_signed_by_canonical_name(void **state)
{
	X509_NAME *subj = X509_NAME_new(), *iss = X509_NAME_new();
	struct certspec s = { .key = keys.p256 };
	struct tf_certinfo ci;
	unsigned char *der;
	size_t len;
	X509 *x;

	(void)state;
	assert_non_null(subj);
	assert_non_null(iss);
	assert_int_equal(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
	                     (const unsigned char *)"Example  Root", -1, -1, 0),
	    1);
	assert_int_equal(X509_NAME_add_entry_by_txt(iss, "CN", V_ASN1_PRINTABLESTRING,
	                     (const unsigned char *)"example root", -1, -1, 0),
	    1);
	s.name = subj;
	x = make_cert(&s);
	assert_int_equal(X509_set_issuer_name(x, iss), 1);
	assert_true(X509_sign(x, keys.p256, EVP_sha256()) > 0);
	der = cert_der(x, &len);
	parse_and_compare(der, len, true, &ci);
	assert_true(ci.is_self_signed);
	assert_string_equal(ci.subject, "CN=Example  Root");
	assert_string_equal(ci.issuer, "CN=example root");
	tf_certinfo_clear(&ci);
	OPENSSL_free(der);
	X509_free(x);
	X509_NAME_free(subj);
	X509_NAME_free(iss);
}

static void
test_hash_only_when_asked(void **state)
{
	X509 *x = make_ca(keys.p256, "hash");
	struct tf_certinfo ci;
	unsigned char *der;
	size_t len;
	int ok = 0;

	(void)state;
	der = cert_der(x, &len);
	assert_int_equal(tf_certinfo_parse(&ci, der, len, 0, NULL), 0);
	assert_int_equal(ci.subject_hash, 0);
	tf_certinfo_clear(&ci);
	assert_int_equal(tf_certinfo_parse(&ci, der, len, TF_CERTINFO_HASH, NULL), 0);
	assert_int_equal(ci.subject_hash,
	    X509_NAME_hash_ex(X509_get_subject_name(x), NULL, NULL, &ok));
	assert_int_equal(ok, 1);
	tf_certinfo_clear(&ci);
	OPENSSL_free(der);
	X509_free(x);
}

static void
assert_rejected(const unsigned char *der, size_t len)
{
	struct tf_certinfo ci;
	const char *why = NULL;

	memset(&ci, 0xa5, sizeof(ci));
	if (tf_certinfo_parse(&ci, der, len, TF_CERTINFO_HASH, &why) == 0)
		fail_msg("%zu bytes accepted as a certificate", len);
	assert_non_null(why);
	/* nothing left to free after a failure */
	assert_null(ci.subject);
	assert_null(ci.issuer);
	assert_null(ci.serial);
	assert_null(ci.subject_der);
	assert_null(ci.issuer_der);
	tf_certinfo_clear(&ci);
}

static void
test_truncated_der(void **state)
{
	X509 *x = make_ca(keys.rsa2048, "truncated");
	unsigned char *der, *copy;
	size_t len, n;

	(void)state;
	der = cert_der(x, &len);
	/* every prefix, each in a buffer of its own size so ASan sees overreads */
	for (n = 0; n < len; n++) {
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, der, n);
		assert_rejected(copy, n);
		free(copy);
	}
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_trailing_bytes_ignored(void **state)
{
	static const char junk[] = "trailing garbage \x30\x03\x02\x01\x05";
	X509 *x = make_ca(keys.p256, "trailing");
	unsigned char *der, *buf, md[32];
	struct tf_certinfo ci;
	size_t len;

	(void)state;
	der = cert_der(x, &len);
	buf = malloc(len + sizeof(junk));
	assert_non_null(buf);
	memcpy(buf, der, len);
	memcpy(buf + len, junk, sizeof(junk));
	assert_int_equal(tf_certinfo_parse(&ci, buf, len + sizeof(junk), 0, NULL), 0);
	assert_int_equal(ci.der_len, len);
	cert_sha256(x, md); /* the fingerprint is of the certificate alone */
	assert_memory_equal(ci.sha256, md, 32);
	assert_string_equal(ci.subject, "O=trustfix tests, CN=trailing");
	tf_certinfo_clear(&ci);
	free(buf);
	OPENSSL_free(der);
	X509_free(x);
}

static void
test_not_a_sequence(void **state)
{
	static const unsigned char octets[] = { 0x04, 0x03, 'a', 'b', 'c' };
	static const unsigned char integer[] = { 0x02, 0x01, 0x05 };
	static const unsigned char text[] = "-----BEGIN CERTIFICATE-----\n";
	static const unsigned char set[] = { 0x31, 0x03, 0x02, 0x01, 0x05 };
	static const unsigned char prim[] = { 0x10, 0x00 };
	struct tf_certinfo ci;
	const char *why = NULL;

	(void)state;
	assert_rejected(octets, sizeof(octets));
	assert_rejected(integer, sizeof(integer));
	assert_rejected(text, sizeof(text) - 1);
	assert_rejected(set, sizeof(set));
	assert_rejected(prim, sizeof(prim));
	assert_int_equal(tf_certinfo_parse(&ci, octets, sizeof(octets), 0, &why), -1);
	assert_string_equal(why, "not a DER SEQUENCE");
}

static void
test_sequence_not_a_certificate(void **state)
{
	static const unsigned char seq[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	static const unsigned char empty[] = { 0x30, 0x00 };
	/* indefinite length: DER never has it */
	static const unsigned char indef[] = { 0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00 };
	/* a length longer than the input */
	static const unsigned char longer[] = { 0x30, 0x82, 0xff, 0xff, 0x30, 0x00 };
	/* a length of more bytes than a long holds */
	static const unsigned char huge[] = { 0x30, 0x89, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0x00 };

	(void)state;
	assert_rejected(seq, sizeof(seq));
	assert_rejected(empty, sizeof(empty));
	assert_rejected(indef, sizeof(indef));
	assert_rejected(longer, sizeof(longer));
	assert_rejected(huge, sizeof(huge));
}

/* A certificate whose outer SEQUENCE holds more than the certificate. */
static void
test_extra_element_in_certificate(void **state)
{
	X509 *x = make_ca(keys.p256, "extra");
	unsigned char *der, *buf;
	size_t len, hdr, body;

	(void)state;
	der = cert_der(x, &len);
	/* the DER starts 30 82 HH LL: re-wrap the body plus a NULL in a longer SEQUENCE */
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 0x82);
	hdr = 4;
	body = len - hdr;
	buf = malloc(len + 2);
	assert_non_null(buf);
	buf[0] = 0x30;
	buf[1] = 0x82;
	buf[2] = (unsigned char)((body + 2) >> 8);
	buf[3] = (unsigned char)(body + 2);
	memcpy(buf + hdr, der + hdr, body);
	buf[len] = 0x05;
	buf[len + 1] = 0x00;
	assert_rejected(buf, len + 2);
	free(buf);
	OPENSSL_free(der);
	X509_free(x);
}

/* Every root of the system's Mozilla bundle decodes as OpenSSL decodes it. */
static void
test_mozilla_roots_match_full_parse(void **state)
{
	static const char dir[] = "/usr/share/ca-certificates/mozilla";
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)state;
	if ((d = opendir(dir)) == NULL)
		skip();
	while ((de = readdir(d)) != NULL) {
		struct tf_certinfo ci;
		unsigned char *der;
		size_t len;
		char *path;
		FILE *fp;
		X509 *x;

		if (strstr(de->d_name, ".crt") == NULL)
			continue;
		path = tf_path_join(dir, de->d_name);
		assert_non_null(fp = fopen(path, "r"));
		x = PEM_read_X509(fp, NULL, NULL, NULL);
		fclose(fp);
		if (x == NULL)
			fail_msg("cannot read %s", path);
		der = cert_der(x, &len);
		parse_and_compare(der, len, true, &ci);
		tf_certinfo_clear(&ci);
		OPENSSL_free(der);
		X509_free(x);
		free(path);
		n++;
	}
	closedir(d);
	assert_true(n > 50);
}

static void
regress_one(const char *name, const unsigned char *data, size_t len, void *arg)
{
	struct tf_certinfo ci;
	const unsigned char *p = data;
	X509 *x;

	(void)name;
	(void)arg;
	if (tf_certinfo_parse(&ci, data, len, TF_CERTINFO_HASH, NULL) != 0)
		return;
	/* what both decoders accept, they must describe alike */
	x = d2i_X509(NULL, &p, (long)ci.der_len);
	tf_certinfo_clear(&ci);
	if (x == NULL) {
		ERR_clear_error();
		return;
	}
	X509_free(x);
	parse_and_compare(data, len, false, &ci);
	tf_certinfo_clear(&ci);
}

/* The inputs fuzz/fuzz_certinfo found. */
static void
test_fuzz_regressions(void **state)
{
	(void)state;
	assert_true(for_each_regress("certinfo-", regress_one, NULL) > 0);
}

static void
test_name_oneline(void **state)
{
	static const unsigned char bad[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	X509 *x = make_ca(keys.p256, "One Line");
	const unsigned char *enc;
	size_t enclen;
	char *s;

	(void)state;
	assert_int_equal(X509_NAME_get0_der(X509_get_subject_name(x), &enc, &enclen), 1);
	s = tf_name_oneline(enc, enclen);
	assert_non_null(s);
	assert_string_equal(s, "O=trustfix tests, CN=One Line");
	free(s);
	assert_null(tf_name_oneline(bad, sizeof(bad)));
	assert_null(tf_name_oneline(enc, enclen - 1));
	X509_free(x);
}

static void
test_time_iso(void **state)
{
	char buf[32];

	(void)state;
	tf_time_iso(buf, sizeof(buf), TEST_NOW);
	assert_string_equal(buf, "2026-01-01T00:00:00Z");
	tf_time_iso(buf, sizeof(buf), 2840140800 + 3661);
	assert_string_equal(buf, "2060-01-01T01:01:01Z");
	tf_time_iso(buf, sizeof(buf), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa1024_sha1),
		cmocka_unit_test(test_rsa2048_sha256),
		cmocka_unit_test(test_ec_p256),
		cmocka_unit_test(test_ec_p384_sha384),
		cmocka_unit_test(test_ed25519),
		cmocka_unit_test(test_v1_self_signed_is_ca),
		cmocka_unit_test(test_v1_issued_is_not_ca),
		cmocka_unit_test(test_v3_ca_false),
		cmocka_unit_test(test_v3_self_signed_ca_false),
		cmocka_unit_test(test_v3_without_basic_constraints),
		cmocka_unit_test(test_v3_key_cert_sign_without_basic_constraints),
		cmocka_unit_test(test_v3_ca_without_key_cert_sign),
		cmocka_unit_test(test_v3_ca_with_key_cert_sign),
		cmocka_unit_test(test_negative_serial),
		cmocka_unit_test(test_serial_zero_and_long),
		cmocka_unit_test(test_generalized_time),
		cmocka_unit_test(test_control_characters_escaped),
		cmocka_unit_test(test_multivalued_rdn),
		cmocka_unit_test(test_self_signed_by_canonical_name),
		cmocka_unit_test(test_hash_only_when_asked),
		cmocka_unit_test(test_truncated_der),
		cmocka_unit_test(test_trailing_bytes_ignored),
		cmocka_unit_test(test_not_a_sequence),
		cmocka_unit_test(test_sequence_not_a_certificate),
		cmocka_unit_test(test_extra_element_in_certificate),
		cmocka_unit_test(test_mozilla_roots_match_full_parse),
		cmocka_unit_test(test_fuzz_regressions),
		cmocka_unit_test(test_name_oneline),
		cmocka_unit_test(test_time_iso),
	};

	return cmocka_run_group_tests_name("core/certinfo", tests, group_setup, group_teardown);
}
