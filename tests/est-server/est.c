/*
 * tests/est-server/est.c - the EST operations (RFC 7030, RFC 8951): cacerts,
 * csrattrs, simpleenroll, simplereenroll, serverkeygen; authentication,
 * proof of possession and the fault modes.
 */

#define PKCS7_CTYPE "application/pkcs7-mime; smime-type=certs-only"
#define BOUNDARY "estServerKeyGenBoundary"

/* Headers of a base64 body of 'ctype', honouring --fault-no-cte and --fault-wrong-ctype. */
static void
b64_headers(struct srv *s, char *h, size_t size, const char *ctype, bool faults)
{
	if (faults && s->fault_wrong_ctype)
		ctype = "text/html; charset=utf-8";
	snprintf(h, size, "Content-Type: %s\r\n%s", ctype,
	    faults && s->fault_no_cte ? "" : "Content-Transfer-Encoding: base64\r\n");
}

/* Base64 for a response, with the line-ending and trailing NUL faults when 'faults'. */
static int
b64_body(struct srv *s, struct buf *out, const struct buf *der, bool faults)
{
	const char *eol = "\n";

	if (faults && s->fault_b64_nonl)
		eol = "";
	else if (faults && s->fault_b64_crlf)
		eol = "\r\n";
	if (b64_encode(out, der->p, der->len, eol) != 0)
		return -1;
	if (faults && s->fault_trailing_nul)
		return buf_add(out, "", 1);
	return 0;
}

static int
op_cacerts(struct conn *c, struct req *r)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct buf der = { 0 }, b64 = { 0 };
	char h[256];
	int status = 500;

	if (certs == NULL || !sk_X509_push(certs, c->s->ca_cert) ||
	    p7_certs_only(&der, certs) != 0 ||
	    b64_body(c->s, &b64, &der, c->s->fault_cacerts) != 0) {
		http_error(c, r, 500, NULL, "cannot encode the CA certificates");
		goto out;
	}
	b64_headers(c->s, h, sizeof(h), "application/pkcs7-mime", c->s->fault_cacerts);
	c->drip = c->s->fault_cacerts && c->s->fault_drip;
	http_send(c, r, 200, h, b64.p, b64.len);
	c->drip = false;
	status = 200;
out:
	sk_X509_free(certs);
	buf_free(&der);
	buf_free(&b64);
	return status;
}

/* Append the DER of tag 'tag' around 'content'. */
static int
der_wrap(struct buf *out, unsigned char tag, const struct buf *content)
{
	unsigned char h[6];
	size_t n = 0, len = content->len;

	h[n++] = tag;
	if (len < 0x80) {
		h[n++] = (unsigned char)len;
	} else if (len < 0x100) {
		h[n++] = 0x81;
		h[n++] = (unsigned char)len;
	} else {
		h[n++] = 0x82;
		h[n++] = (unsigned char)(len >> 8);
		h[n++] = (unsigned char)len;
	}
	if (buf_add(out, h, n) != 0)
		return -1;
	return content->len ? buf_add(out, content->p, content->len) : 0;
}

static int
der_oid(struct buf *out, const char *txt)
{
	ASN1_OBJECT *o = OBJ_txt2obj(txt, 0);
	unsigned char *d = NULL;
	int n, rc = -1;

	if (o != NULL && (n = i2d_ASN1_OBJECT(o, &d)) > 0)
		rc = buf_add(out, d, (size_t)n);
	OPENSSL_free(d);
	ASN1_OBJECT_free(o);
	return rc;
}

/* An Attribute: SEQUENCE { type, SET { value } } where the value is DER already. */
static int
der_attr(struct buf *out, const char *type, const struct buf *value)
{
	struct buf seq = { 0 }, set = { 0 };
	int rc = -1;

	if (der_oid(&seq, type) == 0 && der_wrap(&set, 0x31, value) == 0 &&
	    buf_add(&seq, set.p, set.len) == 0)
		rc = der_wrap(out, 0x30, &seq);
	buf_free(&seq);
	buf_free(&set);
	return rc;
}

/*
 * --csrattrs LIST into the CsrAttrs DER (RFC 7030 §4.5.2, RFC 8951 §3.4):
 * "challengePassword" and any OID name or dotted number stand alone; "ec:CURVE"
 * asks for an EC key on that curve; "rsa:BITS" for an RSA key of that size.
 */
static int
csrattrs_der(struct buf *out, const char *list)
{
	char *copy = strdup(list), *item, *next;
	struct buf seq = { 0 };
	int rc = -1;

	if (copy == NULL)
		return -1;
	for (item = copy; item != NULL; item = next) {
		struct buf v = { 0 };
		int bad;

		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if (*item == '\0')
			continue;

		if (strncmp(item, "ec:", 3) == 0) {
			int nid = EC_curve_nist2nid(item + 3);

			if (nid == NID_undef)
				nid = OBJ_txt2nid(item + 3);
			bad = nid == NID_undef || der_oid(&v, OBJ_nid2ln(nid)) != 0 ||
			    der_attr(&seq, "id-ecPublicKey", &v) != 0;
		} else if (strncmp(item, "rsa:", 4) == 0) {
			ASN1_INTEGER *bits = ASN1_INTEGER_new();
			unsigned char *d = NULL;
			char *end;
			long nbits = strtol(item + 4, &end, 10);
			int n;

			bad = bits == NULL || *end != '\0' || nbits <= 0 ||
			    !ASN1_INTEGER_set(bits, nbits) ||
			    (n = i2d_ASN1_INTEGER(bits, &d)) <= 0 ||
			    buf_add(&v, d, (size_t)n) != 0 ||
			    der_attr(&seq, "rsaEncryption", &v) != 0;
			OPENSSL_free(d);
			ASN1_INTEGER_free(bits);
		} else {
			bad = der_oid(&seq, item);
		}
		buf_free(&v);
		if (bad) {
			fprintf(stderr, "est-server: bad --csrattrs item '%s'\n", item);
			goto out;
		}
	}
	rc = der_wrap(out, 0x30, &seq);
out:
	buf_free(&seq);
	free(copy);
	return rc;
}

static int
op_csrattrs(struct conn *c, struct req *r)
{
	struct buf der = { 0 }, b64 = { 0 };
	char h[256];
	int status = 500;

	/* RFC 7030 §4.5.2: no attributes is 204 (or 404) */
	if (c->s->csrattrs == NULL) {
		http_send(c, r, 204, NULL, NULL, 0);
		return 204;
	}
	if (csrattrs_der(&der, c->s->csrattrs) != 0 ||
	    b64_body(c->s, &b64, &der, c->s->fault_cacerts) != 0) {
		http_error(c, r, 500, NULL, "cannot encode the CSR attributes");
		goto out;
	}
	b64_headers(c->s, h, sizeof(h), "application/csrattrs", c->s->fault_cacerts);
	c->drip = c->s->fault_cacerts && c->s->fault_drip;
	http_send(c, r, 200, h, b64.p, b64.len);
	c->drip = false;
	status = 200;
out:
	buf_free(&der);
	buf_free(&b64);
	return status;
}

/*
 * The channel binding the CSR's challengePassword must carry, base64: TLS 1.2
 * tls-unique (the first Finished message: the client's on a full handshake,
 * the server's on a resumption; RFC 7030 §3.5, RFC 5929); TLS 1.3 has no
 * tls-unique, so RFC 9266 tls-exporter (label "EXPORTER-Channel-Binding", no
 * context, 32 bytes).
 */
static int
pop_expected(SSL *ssl, char *out, size_t size)
{
	unsigned char v[EVP_MAX_MD_SIZE];
	size_t n;

	if (SSL_version(ssl) >= TLS1_3_VERSION) {
		n = 32;
		if (SSL_export_keying_material(ssl, v, n, "EXPORTER-Channel-Binding", 24, NULL, 0,
		        0) != 1)
			return -1;
	} else {
		n = SSL_session_reused(ssl) ? SSL_get_finished(ssl, v, sizeof(v))
		                            : SSL_get_peer_finished(ssl, v, sizeof(v));
		if (n == 0)
			return -1;
	}
	if (4 * ((n + 2) / 3) + 1 > size)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, v, (int)n);
	return 0;
}

/* The CSR's challengePassword into 'out'; 0 found, 1 absent, -1 malformed. */
static int
csr_challenge(X509_REQ *csr, char *out, size_t size)
{
	int i = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1);
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;

	if (i < 0)
		return 1;
	if ((a = X509_REQ_get_attr(csr, i)) == NULL || (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL)
		return -1;
	if (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING &&
	    t->type != V_ASN1_IA5STRING && t->type != V_ASN1_T61STRING)
		return -1;
	snprintf(out, size, "%.*s", ASN1_STRING_length(t->value.asn1_string),
	    (const char *)ASN1_STRING_get0_data(t->value.asn1_string));
	return 0;
}

/* The CSR from the request body: base64 DER (liberal unless --strict-body), or PEM. */
static int
csr_parse(struct conn *c, struct req *r, X509_REQ **out, const char **why)
{
	struct buf der = { 0 };
	const unsigned char *p;
	size_t i;

	*out = NULL;
	if (c->s->strict_body) {
		size_t n = strcspn(r->ctype, "; ");

		if (n != strlen("application/pkcs10") ||
		    strncasecmp(r->ctype, "application/pkcs10", n) != 0) {
			*why = "Content-Type must be application/pkcs10";
			return 415;
		}
		for (i = 0; i < r->body.len; i++) {
			unsigned char ch = r->body.p[i];

			if (!isalnum(ch) && ch != '+' && ch != '/' && ch != '=' && ch != '\r' &&
			    ch != '\n') {
				*why = "the body is not base64";
				return 400;
			}
		}
		if (r->body.len == 0 || r->body.p[r->body.len - 1] != '\n') {
			*why = "the base64 body must end with a newline";
			return 400;
		}
	}
	if (r->body.len > 10 && memcmp(r->body.p, "-----BEGIN", 10) == 0) {
		BIO *bio = BIO_new_mem_buf(r->body.p, (int)r->body.len);

		*out = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	} else if (b64_decode(&der, r->body.p, r->body.len) == 0) {
		p = der.p;
		*out = d2i_X509_REQ(NULL, &p, (long)der.len);
	}
	buf_free(&der);
	if (*out == NULL) {
		*why = "the body is not a base64 PKCS#10 request";
		return 400;
	}
	if (X509_REQ_verify(*out, X509_REQ_get0_pubkey(*out)) != 1) {
		X509_REQ_free(*out);
		*out = NULL;
		*why = "the request's signature does not verify";
		return 400;
	}
	return 0;
}

static X509_EXTENSION *
csr_san(X509_REQ *csr)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	X509_EXTENSION *san = NULL;
	int i = exts ? X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1) : -1;

	if (i >= 0)
		san = X509_EXTENSION_dup(X509v3_get_ext(exts, i));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return san;
}

enum op { OP_ENROLL, OP_REENROLL, OP_KEYGEN };

/*
 * Who may enroll: --auth none|cert|basic|both; re-enrollment always needs a
 * valid client certificate. Returns 0, or the status of the refusal sent.
 */
static int
authorize(struct conn *c, struct req *r, enum op op, X509 *peer)
{
	struct srv *s = c->s;
	long vr = SSL_get_verify_result(c->ssl);
	bool need_cert = (s->auth & AUTH_CERT) || op == OP_REENROLL;
	bool need_basic =
	    (s->auth & AUTH_BASIC) && (op != OP_REENROLL || s->auth == (AUTH_CERT | AUTH_BASIC));
	const char *challenge = "WWW-Authenticate: Basic realm=\"estrealm\"\r\n";
	char why[256];

	if (op == OP_REENROLL && s->fault_401_reenroll)
		return http_error(c, r, 401, NULL, "re-enrollment refused (fault)");
	if (need_cert && peer == NULL)
		return http_error(c, r, 401, need_basic ? challenge : NULL,
		    "a client certificate is required");
	if (need_cert && vr != X509_V_OK) {
		snprintf(why, sizeof(why), "client certificate refused: %s",
		    X509_verify_cert_error_string(vr));
		return http_error(c, r, 401, need_basic ? challenge : NULL, why);
	}
	if (!need_basic)
		return 0;
	/* --require-challenge-401: credentials sent before any challenge are refused once */
	if (s->require_challenge && !s->sh->challenged) {
		s->sh->challenged = 1;
		return http_error(c, r, 401, challenge, "authentication required");
	}
	if (!r->basic_ok)
		return http_error(c, r, 401, challenge,
		    r->has_basic ? "wrong user name or password" : "authentication required");
	s->sh->challenged = 0;
	return 0;
}

/* A PKCS#7 certs-only of the issued certificate (and its CA unless --fault-cert-only), base64. */
static int
issued_b64(struct srv *s, struct buf *b64, X509 *cert, X509 *ca)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	struct buf der = { 0 };
	int rc = -1;

	if (certs == NULL || !sk_X509_push(certs, cert) ||
	    (!s->fault_cert_only && !sk_X509_push(certs, ca)))
		goto out;
	if (p7_certs_only(&der, certs) != 0 || b64_body(s, b64, &der, true) != 0)
		goto out;
	rc = 0;
out:
	sk_X509_free(certs);
	buf_free(&der);
	return rc;
}

/* --fault-oversize: a 200 whose base64-looking body never ends in reasonable time. */
static int
send_oversize(struct conn *c, struct req *r)
{
	char h[512], chunk[65536];
	long left = c->s->oversize_bytes;
	size_t i;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (i % 65 == 64) ? '\n' : 'A';
	b64_headers(c->s, h, sizeof(h), PKCS7_CTYPE, true);
	if (http_send(c, r, 200, h, NULL, (size_t)left) != 0)
		return 200;
	while (left > 0) {
		size_t k = left < (long)sizeof(chunk) ? (size_t)left : sizeof(chunk);

		if (conn_write(c, chunk, k) != 0)
			break;
		left -= (long)k;
	}
	return 200;
}

/* multipart/mixed of the PKCS#8 key and the certificate (RFC 7030 §4.4.2). */
static int
send_keygen(struct conn *c, struct req *r, EVP_PKEY *key, const struct buf *cert_b64)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *d = NULL;
	struct buf der = { 0 }, body = { 0 };
	char h[256], ph[256];
	int n, status = 500;

	if (p8 == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &d)) <= 0 ||
	    buf_add(&der, d, (size_t)n) != 0) {
		http_error(c, r, 500, NULL, "cannot encode the key");
		goto out;
	}
	b64_headers(c->s, ph, sizeof(ph), "application/pkcs8", true);
	if (buf_str(&body, "--" BOUNDARY "\r\n") != 0 || buf_str(&body, ph) != 0 ||
	    buf_str(&body, "\r\n") != 0 || b64_body(c->s, &body, &der, true) != 0 ||
	    buf_str(&body, "\r\n--" BOUNDARY "\r\n") != 0)
		goto out;
	b64_headers(c->s, ph, sizeof(ph), PKCS7_CTYPE, true);
	if (buf_str(&body, ph) != 0 || buf_str(&body, "\r\n") != 0 ||
	    buf_add(&body, cert_b64->p, cert_b64->len) != 0 ||
	    buf_str(&body, "\r\n--" BOUNDARY "--\r\n") != 0)
		goto out;
	snprintf(h, sizeof(h), "Content-Type: multipart/mixed; boundary=%s\r\n", BOUNDARY);
	http_send(c, r, 200, h, body.p, body.len);
	status = 200;
out:
	if (d != NULL)
		OPENSSL_clear_free(d, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	buf_free(&der);
	buf_free(&body);
	return status;
}

static int
op_enroll(struct conn *c, struct req *r, enum op op, const char **note)
{
	struct srv *s = c->s;
	X509 *peer = SSL_get1_peer_certificate(c->ssl), *cert = NULL, *ca;
	X509_REQ *csr = NULL;
	X509_NAME *subject;
	X509_EXTENSION *san = NULL;
	EVP_PKEY *key = NULL, *ca_key, *pub;
	struct buf b64 = { 0 };
	const char *why = NULL;
	char expected[128], got[256], h[512];
	int status, cp;

	if ((status = authorize(c, r, op, peer)) != 0)
		goto out;
	if ((status = csr_parse(c, r, &csr, &why)) != 0) {
		http_error(c, r, status, NULL, why);
		goto out;
	}
	cp = csr_challenge(csr, got, sizeof(got));
	if (s->require_pop || (s->check_pop_if_present && cp == 0)) {
		if (cp != 0 || pop_expected(c->ssl, expected, sizeof(expected)) != 0 ||
		    strcmp(got, expected) != 0) {
			*note = "pop-failed";
			status = http_error(c, r, 400, NULL,
			    "proof of possession failed: the challengePassword is not the channel "
			    "binding");
			goto out;
		}
		*note = "pop-ok";
	}
	subject = X509_REQ_get_subject_name(csr);
	if (op == OP_REENROLL) {
		int i;

		/* RFC 7030 §4.2.2: the subject and SANs are the current certificate's */
		if (X509_NAME_cmp(subject, X509_get_subject_name(peer)) != 0) {
			status = http_error(c, r, 400, NULL,
			    "the request's subject is not the current certificate's");
			goto out;
		}
		subject = X509_get_subject_name(peer);
		if ((i = X509_get_ext_by_NID(peer, NID_subject_alt_name, -1)) >= 0)
			san = X509_EXTENSION_dup(X509_get_ext(peer, i));
	} else {
		san = csr_san(csr);
	}
	if (s->sh->n202 < s->fault_202) {
		char ra[256] = "";

		s->sh->n202++;
		if (strncmp(s->retry_after, "date:", 5) == 0) {
			/* "date:+N": an HTTP date N seconds from now (RFC 9110 §5.6.7) */
			time_t t = time(NULL) + strtol(s->retry_after + 5, NULL, 10);
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(ra, sizeof(ra), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		} else if (strcmp(s->retry_after, "none") != 0) {
			snprintf(ra, sizeof(ra), "Retry-After: %s\r\n", s->retry_after);
		}
		http_send(c, r, 202, ra, NULL, 0);
		status = 202;
		goto out;
	}
	if (s->fault_500) {
		status = http_error(c, r, 500, NULL,
		    s->fault_500_body != NULL ? s->fault_500_body : "internal error (fault)");
		goto out;
	}
	if (s->fault_hang) {
		/* the connection stays open and silent until the client gives up */
		for (;;)
			pause();
	}
	if (s->fault_garbage) {
		static const char garbage[] =
		    "<html>\x01\x02 this is not base64 %%%% \xff\xfe</html>\n";

		b64_headers(s, h, sizeof(h), PKCS7_CTYPE, true);
		http_send(c, r, 200, h, garbage, sizeof(garbage) - 1);
		status = 200;
		goto out;
	}
	if (s->fault_oversize) {
		status = send_oversize(c, r);
		goto out;
	}
	pub = X509_REQ_get0_pubkey(csr);
	if (op == OP_KEYGEN || s->fault_wrong_key) {
		if ((key = key_generate_like(pub)) == NULL) {
			status = http_error(c, r, 500, NULL, "cannot generate a key");
			goto out;
		}
		pub = key;
	}
	ca = s->fault_other_ca ? s->other_cert : s->ca_cert;
	ca_key = s->fault_other_ca ? s->other_key : s->ca_key;
	if ((cert = cert_issue(subject, pub, san, ca, ca_key, CERT_CLIENT, s->nb_offset,
	         s->na_offset)) == NULL ||
	    issued_b64(s, &b64, cert, ca) != 0) {
		status = http_error(c, r, 500, NULL, "cannot issue the certificate");
		goto out;
	}
	c->drip = s->fault_drip;
	if (op == OP_KEYGEN) {
		status = send_keygen(c, r, key, &b64);
	} else {
		b64_headers(s, h, sizeof(h), PKCS7_CTYPE, true);
		http_send(c, r, 200, h, b64.p, b64.len);
		status = 200;
	}
	c->drip = false;
out:
	X509_free(peer);
	X509_free(cert);
	X509_REQ_free(csr);
	X509_EXTENSION_free(san);
	EVP_PKEY_free(key);
	buf_free(&b64);
	return status;
}

/*
 * Route one request: /.well-known/est/OP or /.well-known/est/LABEL/OP.
 * Returns the status sent.
 */
static int
est_dispatch(struct conn *c, struct req *r, const char **note)
{
	static const char prefix[] = "/.well-known/est/";
	char path[1024], *op, *slash;
	bool post;

	copy_str(path, sizeof(path), r->path);
	path[strcspn(path, "?")] = '\0';
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return http_error(c, r, 404, NULL, "not an EST path");
	op = path + sizeof(prefix) - 1;
	if ((slash = strchr(op, '/')) != NULL) {
		*slash = '\0';
		if (c->s->label == NULL || strcmp(op, c->s->label) != 0)
			return http_error(c, r, 404, NULL, "unknown CA label");
		op = slash + 1;
	}
	post = strcmp(r->method, "POST") == 0;
	if (strcmp(op, "cacerts") == 0 || strcmp(op, "csrattrs") == 0) {
		if (strcmp(r->method, "GET") != 0)
			return http_error(c, r, 405, "Allow: GET\r\n", "use GET");
		return op[1] == 'a' ? op_cacerts(c, r) : op_csrattrs(c, r);
	}
	if (strcmp(op, "simpleenroll") == 0 || strcmp(op, "simplereenroll") == 0 ||
	    strcmp(op, "serverkeygen") == 0) {
		if (!post)
			return http_error(c, r, 405, "Allow: POST\r\n", "use POST");
		return op_enroll(c, r,
		    op[1] == 'e' ? OP_KEYGEN : (op[6] == 'r' ? OP_REENROLL : OP_ENROLL), note);
	}
	if (strcmp(op, "fullcmc") == 0)
		return http_error(c, r, 501, NULL, "fullcmc is not implemented");
	return http_error(c, r, 404, NULL, "unknown EST operation");
}
