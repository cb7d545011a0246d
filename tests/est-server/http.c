/*
 * tests/est-server/http.c - HTTP/1.1 over one TLS connection: read a request
 * (headers, Content-Length body), write a response (optionally dripped), log.
 */

/* Read more bytes into c->in; 0 on EOF or error (the connection is done). */
static size_t
conn_fill(struct conn *c)
{
	int n;

	if (c->in_len >= sizeof(c->in))
		return 0;
	n = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof(c->in) - c->in_len));
	if (n <= 0)
		return 0;
	c->in_len += (size_t)n;
	return (size_t)n;
}

/* Write everything; with c->drip one byte per 100 ms (a slow server). */
static int
conn_write(struct conn *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		int chunk = c->drip ? 1 : (len > 65536 ? 65536 : (int)len);
		int n = SSL_write(c->ssl, p, chunk);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		if (c->drip && len > 0)
			usleep(100000);
	}
	return 0;
}

static void
trim(char *s)
{
	size_t n = strlen(s);
	char *p = s;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	memmove(s, p, strlen(p) + 1);
}

static void
copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* Check Basic credentials against --user and --password-file, in constant time. */
static void
check_basic(struct srv *s, struct req *r)
{
	struct buf dec = { 0 };
	char *colon;

	if (strncasecmp(r->authz, "Basic ", 6) != 0)
		return;
	r->has_basic = true;
	if (b64_decode(&dec, (unsigned char *)r->authz + 6, strlen(r->authz + 6)) != 0 ||
	    dec.p == NULL || (colon = memchr(dec.p, ':', dec.len)) == NULL)
		goto out;
	*colon = '\0';
	copy_str(r->user, sizeof(r->user), (char *)dec.p);
	if (s->user != NULL && s->password != NULL && strcmp(r->user, s->user) == 0) {
		size_t plen = dec.len - (size_t)(colon + 1 - (char *)dec.p);

		r->basic_ok =
		    plen == strlen(s->password) && CRYPTO_memcmp(colon + 1, s->password, plen) == 0;
	}
out:
	buf_free(&dec);
	OPENSSL_cleanse(r->authz, sizeof(r->authz));
}

/* Move exactly 'n' bytes of the connection into 'out'; 0, or an HTTP status. */
static int
take(struct conn *c, struct buf *out, size_t n)
{
	while (n > 0) {
		size_t k;

		if (c->in_len == 0 && conn_fill(c) == 0)
			return 400;
		k = c->in_len < n ? c->in_len : n;
		if (buf_add(out, c->in, k) != 0)
			return 413;
		memmove(c->in, c->in + k, c->in_len - k);
		c->in_len -= k;
		n -= k;
	}
	return 0;
}

/* One CRLF-ended line into 'line' (without the CRLF); 0, or an HTTP status. */
static int
take_line(struct conn *c, char *line, size_t size)
{
	unsigned char *eol;
	size_t n;

	while ((eol = memmem(c->in, c->in_len, "\r\n", 2)) == NULL)
		if (c->in_len >= sizeof(c->in) || conn_fill(c) == 0)
			return 400;
	n = (size_t)(eol - c->in);
	if (n >= size)
		return 400;
	memcpy(line, c->in, n);
	line[n] = '\0';
	memmove(c->in, eol + 2, c->in_len - n - 2);
	c->in_len -= n + 2;
	return 0;
}

/* A chunked body (RFC 9112 §7.1): hex sizes, extensions and trailers ignored. */
static int
read_chunked(struct conn *c, struct req *r)
{
	char line[256], *end;
	unsigned long size;
	int rc;

	for (;;) {
		if ((rc = take_line(c, line, sizeof(line))) != 0)
			return rc;
		errno = 0;
		size = strtoul(line, &end, 16);
		if (errno != 0 || end == line)
			return 400;
		if (size == 0)
			break;
		if (size > BODY_MAX || r->body.len + size > BODY_MAX)
			return 413;
		if ((rc = take(c, &r->body, size)) != 0 ||
		    (rc = take_line(c, line, sizeof(line))) != 0)
			return rc;
		if (line[0] != '\0')
			return 400;
	}
	do {
		if ((rc = take_line(c, line, sizeof(line))) != 0)
			return rc;
	} while (line[0] != '\0');
	return 0;
}

/*
 * Read one request. Returns 0 with *r filled, 1 on a clean EOF, or an HTTP
 * status (400, 411, 413, 431) when the request cannot be taken.
 */
static int
http_read(struct conn *c, struct req *r)
{
	char *end = NULL, *line, *next;
	size_t hlen;

	memset(r, 0, sizeof(*r));
	for (;;) {
		if (c->in_len > 0 && (end = memmem(c->in, c->in_len, "\r\n\r\n", 4)) != NULL)
			break;
		if (c->in_len >= sizeof(c->in) - 1)
			return 431;
		if (conn_fill(c) == 0)
			return c->in_len == 0 ? 1 : 400;
	}
	*end = '\0';
	hlen = (size_t)(end - (char *)c->in) + 4;
	line = (char *)c->in;
	if ((next = strstr(line, "\r\n")) != NULL) {
		*next = '\0';
		next += 2;
	}
	if (sscanf(line, "%15s %1023s %15s", r->method, r->path, r->version) != 3)
		return 400;
	if (strcmp(r->version, "HTTP/1.0") == 0)
		r->close = true;
	while (next != NULL && *next != '\0') {
		char *colon;

		line = next;
		if ((next = strstr(line, "\r\n")) != NULL) {
			*next = '\0';
			next += 2;
		}
		if ((colon = strchr(line, ':')) == NULL)
			return 400;
		*colon = '\0';
		if (strcasecmp(line, "Content-Length") == 0) {
			char *e;

			errno = 0;
			r->clen = strtol(colon + 1, &e, 10);
			if (errno != 0 || r->clen < 0)
				return 400;
			r->has_clen = true;
		} else if (strcasecmp(line, "Content-Type") == 0) {
			copy_str(r->ctype, sizeof(r->ctype), colon + 1);
			trim(r->ctype);
		} else if (strcasecmp(line, "Authorization") == 0) {
			copy_str(r->authz, sizeof(r->authz), colon + 1);
			trim(r->authz);
		} else if (strcasecmp(line, "Connection") == 0) {
			if (strcasestr(colon + 1, "close") != NULL)
				r->close = true;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			r->chunked = strcasestr(colon + 1, "chunked") != NULL;
		} else if (strcasecmp(line, "Expect") == 0) {
			r->expect_continue = strcasestr(colon + 1, "100-continue") != NULL;
		}
	}
	/* the header block is used: keep what follows (the body, or a pipelined request) */
	memmove(c->in, c->in + hlen, c->in_len - hlen);
	c->in_len -= hlen;
	if ((r->chunked || r->has_clen) && r->expect_continue &&
	    conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
		return 400;
	if (r->chunked)
		return read_chunked(c, r);
	if (!r->has_clen)
		return strcmp(r->method, "POST") == 0 ? 411 : 0;
	if (r->clen > BODY_MAX)
		return 413;
	return take(c, &r->body, (size_t)r->clen);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	default:
		return "Unknown";
	}
}

/*
 * Send a response: the status line, 'headers' (complete lines ending in
 * CRLF, may be NULL), Content-Length and the body (when 'body' is not NULL).
 */
static int
http_send(struct conn *c, struct req *r, int status, const char *headers, const void *body,
    size_t len)
{
	char head[4096];
	char clen[64] = "";
	int n;

	/* RFC 9110 §8.6: a 204 carries no Content-Length */
	if (status != 204)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", len);
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nServer: trustfix-test-est\r\n%s%s%s\r\n", status, reason(status),
	    headers ? headers : "", clen, r == NULL || r->close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (conn_write(c, head, (size_t)n) != 0)
		return -1;
	/* no body: the caller streams 'len' bytes itself (--fault-oversize) */
	return len > 0 && body != NULL ? conn_write(c, body, len) : 0;
}

/* An error answer with a one-line text/plain body saying why. */
static int
http_error(struct conn *c, struct req *r, int status, const char *headers, const char *why)
{
	char h[1024], body[512];

	snprintf(h, sizeof(h), "Content-Type: text/plain\r\n%s", headers ? headers : "");
	snprintf(body, sizeof(body), "%s\n", why);
	http_send(c, r, status, h, body, strlen(body));
	return status;
}

/* One log line per request; the password and keys never reach it. */
static void
log_request(struct conn *c, struct req *r, int status, const char *note)
{
	char line[2048], when[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (c->s->log_fd < 0)
		return;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line, sizeof(line), "%s %s %s %s %s %d user=%s %s\n", when, c->peer,
	    SSL_get_version(c->ssl), r->method[0] ? r->method : "-", r->path[0] ? r->path : "-",
	    status, r->user[0] ? r->user : "-", note ? note : "");
	/* the user name and path come from the client: no control bytes in the log */
	for (char *p = line; n > 0 && p < line + n - 1 && *p != '\0'; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	if (n > 0)
		(void)!write(c->s->log_fd, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}
