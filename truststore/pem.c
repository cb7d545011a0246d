/*
 * truststore/pem.c - read the certificates of a PEM file (bundle or single
 * certificate, with text between blocks, CRLF line ends and TRUSTED
 * CERTIFICATE blocks) or of a DER file, streaming: memory stays bounded
 * whatever the size of the file. The content of a key block is never copied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../core/path.h"
#include "internal.h"

#define READ_BUF (256 * 1024)   /* a longer line is reported as overlong */
#define READ_MIN 8192           /* the buffer at first: grown as needed */
#define BLOCK_MAX (1024 * 1024) /* base64 bytes in one block */
#define DER_MAX (1024 * 1024)

/*
 * The line reader. Its buffer starts small, on the caller's stack, and
 * grows up to READ_BUF on the heap: a hashed directory is 100,000 files of
 * 2 kB, for which allocating and wiping 256 kB each cost more than
 * decoding them. What the buffer held is
 * wiped when it grows or is freed, as it may have held a key block.
 */
struct lines {
	int fd;
	char *buf;
	size_t cap; /* bytes of buf, at most READ_BUF */
	size_t pos, end;
	size_t used;    /* the most of buf ever filled, to wipe */
	bool heap;      /* buf is allocated, not the caller's READ_MIN bytes */
	bool short_eof; /* a short read is the end: a regular file */
	bool eof;
	bool skipping; /* inside an overlong line */
	long lineno;
};

/* Read more of the file after what the buffer holds. Returns 0 or -1. */
static int
fill(struct lines *l)
{
	ssize_t r;

	if (l->pos > 0) {
		memmove(l->buf, l->buf + l->pos, l->end - l->pos);
		l->end -= l->pos;
		l->pos = 0;
	}
	if (l->end == l->cap && l->cap < READ_BUF) {
		size_t cap = 2 * l->cap < READ_BUF ? 2 * l->cap : READ_BUF;
		char *buf = tf_malloc(cap);

		memcpy(buf, l->buf, l->end);
		OPENSSL_cleanse(l->buf, l->used);
		if (l->heap)
			free(l->buf);
		l->heap = true;
		l->buf = buf;
		l->cap = cap;
		l->used = l->end;
	}
	if (l->end == l->cap) {
		/* no line end in the whole buffer: drop it, remember the line */
		l->skipping = true;
		l->end = 0;
	}
	while ((r = read(l->fd, l->buf + l->end, l->cap - l->end)) < 0)
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	if (r == 0 || (l->short_eof && (size_t)r < l->cap - l->end))
		l->eof = true;
	l->end += (size_t)r;
	if (l->end > l->used)
		l->used = l->end;
	return 0;
}

/*
 * The next line, without its line end. Returns 1 and sets *line and *len
 * (*overlong for a line longer than READ_BUF, whose text is not kept),
 * 0 at end of file, -1 on a read error.
 */
static int
next_line(struct lines *l, char **line, size_t *len, bool *overlong)
{
	char *nl;

	*overlong = false;
	for (;;) {
		nl = memchr(l->buf + l->pos, '\n', l->end - l->pos);
		if (nl != NULL || (l->eof && l->pos < l->end)) {
			size_t n = nl != NULL ? (size_t)(nl - (l->buf + l->pos)) : l->end - l->pos;

			*line = l->buf + l->pos;
			l->pos += n + (nl != NULL);
			l->lineno++;
			if (n > 0 && (*line)[n - 1] == '\r')
				n--;
			*len = n;
			if (l->skipping) {
				l->skipping = false;
				*overlong = true;
				*len = 0;
			}
			return 1;
		}
		if (l->eof)
			return 0;
		if (fill(l) == -1)
			return -1;
	}
}

static bool
has_prefix(const char *s, size_t n, const char *prefix, size_t *plen)
{
	*plen = strlen(prefix);
	return n >= *plen && memcmp(s, prefix, *plen) == 0;
}

/* "-----BEGIN TYPE-----" or "-----END TYPE-----": the TYPE, or NULL. */
static bool
armor(const char *s, size_t n, const char *what, const char **type, size_t *tlen)
{
	size_t p;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!has_prefix(s, n, what, &p) || n < p + 5 || memcmp(s + n - 5, "-----", 5) != 0)
		return false;
	*type = s + p;
	*tlen = n - p - 5;
	return true;
}

static bool
type_is(const char *t, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(t, name, n) == 0;
}

static bool
is_cert_type(const char *t, size_t n)
{
	return type_is(t, n, "CERTIFICATE") || type_is(t, n, "X509 CERTIFICATE") ||
	    type_is(t, n, "TRUSTED CERTIFICATE");
}

static bool
is_key_type(const char *t, size_t n)
{
	static const char key[] = "PRIVATE KEY";
	size_t k = sizeof(key) - 1, i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(t + i, key, k) == 0)
			return true;
	return false;
}

static int
decode_block(struct scan *sc, const char *file, long line, const char *link, long long want_hash,
    const char *b64, size_t n)
{
	unsigned char *der;
	int len, pad = 0;
	char *where;

	if (n == 0 || n % 4 != 0) {
		where = tf_asprintf("%s:%ld", file, line);
		scan_finding(sc, TF_F_UNPARSABLE, where, "remove or replace the entry",
		    "certificate block has bad base64 (length %zu is not a multiple of 4)", n);
		free(where);
		return 0;
	}
	der = tf_malloc(n / 4 * 3);
	if ((len = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n)) < 0) {
		free(der);
		where = tf_asprintf("%s:%ld", file, line);
		scan_finding(sc, TF_F_UNPARSABLE, where, "remove or replace the entry",
		    "certificate block has bad base64");
		free(where);
		return 0;
	}
	if (b64[n - 1] == '=')
		pad++;
	if (b64[n - 2] == '=')
		pad++;
	return scan_push(sc, der, (size_t)(len - pad), file, line, link, want_hash);
}

/* A DER file, whose first bytes the line reader already holds. */
static int
read_der(struct scan *sc, struct lines *l, const char *file, const char *link, long long want_hash)
{
	size_t n = l->end, cap = 2 * l->end < DER_MAX ? 2 * l->end : DER_MAX;
	unsigned char *der = tf_malloc(cap);
	ssize_t r = 1;

	memcpy(der, l->buf, n);
	while (n < DER_MAX && !l->eof) {
		if (n == cap) {
			cap = 2 * cap < DER_MAX ? 2 * cap : DER_MAX;
			der = tf_realloc(der, cap);
		}
		if ((r = read(l->fd, der + n, cap - n)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			free(der);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == DER_MAX) {
		free(der);
		scan_finding(sc, TF_F_UNPARSABLE, file, "remove or replace the file",
		    "DER file is larger than %d bytes", DER_MAX);
		return 0;
	}
	return scan_push(sc, der, n, file, 0, link, want_hash);
}

enum state { OUTSIDE, IN_CERT, IN_OTHER };

static void
block_finding(struct scan *sc, const char *file, long line, const char *fmt)
{
	char *where = tf_asprintf("%s:%ld", file, line);

	scan_finding(sc, TF_F_UNPARSABLE, where, "remove or replace the entry", "%s", fmt);
	free(where);
}

static int
pem_read(struct scan *sc, int fd, const char *file, const char *link, long long want_hash,
    bool regular)
{
	struct tf_ctx *ctx = scan_store(sc)->ctx;
	struct lines l = { .fd = fd, .short_eof = regular };
	char first[READ_MIN]; /* most files fit: a hashed directory is 100,000 */
	enum state st = OUTSIDE;
	char b64first[4096], *line, *b64 = b64first, *endtype = NULL;
	size_t len, tlen, n = 0, cap = sizeof(b64first);
	const char *type;
	long start = 0;
	bool overlong, bad = false, any = false;
	int rc = 0, got = 0;

	l.cap = READ_MIN;
	l.buf = first;
	if (fill(&l) == -1)
		goto read_error;
	/* DER when the first byte opens a SEQUENCE, PEM text otherwise */
	if (l.end > 0 && (unsigned char)l.buf[0] == 0x30) {
		if ((rc = read_der(sc, &l, file, link, want_hash)) < 0)
			goto read_error;
		goto out;
	}
	while (rc == 0 && (got = next_line(&l, &line, &len, &overlong)) == 1) {
		if (armor(line, len, "-----BEGIN ", &type, &tlen)) {
			if (st == IN_CERT)
				block_finding(sc, file, start, "certificate block has no END line");
			any = true;
			start = l.lineno;
			free(endtype);
			endtype = tf_strndup(type, tlen);
			n = 0;
			bad = false;
			if (is_cert_type(type, tlen)) {
				st = IN_CERT;
			} else {
				st = IN_OTHER;
				if (is_key_type(type, tlen)) {
					char *where = tf_asprintf("%s:%ld", file, start);

					scan_finding(sc, TF_F_PRIVATE_KEY, where,
					    "move the key out of the trust store and treat it as "
					    "exposed",
					    "a %s block is in the trust store", endtype);
					free(where);
				} else {
					scan_skipped(sc);
				}
			}
			continue;
		}
		if (st == OUTSIDE)
			continue;
		if (armor(line, len, "-----END ", &type, &tlen)) {
			if (st == IN_CERT) {
				if (!type_is(type, tlen, endtype))
					block_finding(sc, file, start,
					    "certificate block ends with a different END line");
				else if (bad)
					block_finding(sc, file, start,
					    "certificate block is larger than 1 MiB or has an "
					    "overlong line");
				else
					rc = decode_block(sc, file, start, link, want_hash, b64, n);
			}
			st = OUTSIDE;
			continue;
		}
		if (st != IN_CERT || bad)
			continue; /* the content of other blocks, keys above all, is not kept */
		if (overlong || n + len > BLOCK_MAX) {
			bad = true;
			continue;
		}
		if (n + len > cap) {
			cap = 2 * (n + len) + 4096;
			if (b64 == b64first) {
				b64 = tf_malloc(cap);
				memcpy(b64, b64first, n);
			} else {
				b64 = tf_realloc(b64, cap);
			}
		}
		for (size_t i = 0; i < len; i++)
			if (line[i] != ' ' && line[i] != '\t')
				b64[n++] = line[i];
	}
	if (rc == 0 && got < 0)
		goto read_error;
	if (rc == 0 && st == IN_CERT)
		block_finding(sc, file, start, "certificate block is truncated: no END line");
	if (rc == 0 && !any && l.lineno > 0) {
		scan_finding(sc, TF_F_UNPARSABLE, file, "remove or replace the file",
		    "not a PEM or DER certificate file");
	}
	goto out;
read_error : {
	char *host = tf_hostpath(ctx, file);

	scan_finding(sc, TF_F_UNPARSABLE, file, "check the file's permissions and the disk",
	    "cannot read '%s': %s", host, strerror(errno));
	free(host);
}
out:
	OPENSSL_cleanse(l.buf, l.used); /* may have held a key block */
	if (l.heap)
		free(l.buf);
	if (b64 != b64first)
		free(b64);
	free(endtype);
	return rc;
}

int
pem_read_fd(struct scan *sc, int fd, const char *file, const char *link, long long want_hash)
{
	return pem_read(sc, fd, file, link, want_hash, false);
}

int
pem_read_regular(struct scan *sc, int fd, const char *file, const char *link, long long want_hash)
{
	return pem_read(sc, fd, file, link, want_hash, true);
}
