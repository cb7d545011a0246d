/*
 * core/error.c - the run context, first-error recording and the mapping of
 * error codes to exit statuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tf.h"

void
tf_ctx_init(struct tf_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->root = "/";
	ctx->rootfd = -1;
	ctx->now = time(NULL);
}

/*
 * Make 'root' the root of every managed path. Returns 0, or TF_EUSAGE when
 * it is not a directory.
 */
int
tf_ctx_set_root(struct tf_ctx *ctx, const char *root)
{
	int fd;

	if ((fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return tf_error_sys(ctx, TF_EUSAGE, "cannot use '%s' as root (--root)", root);
	if (ctx->rootfd != -1)
		close(ctx->rootfd);
	ctx->rootfd = fd;
	ctx->root = root;
	return 0;
}

void
tf_ctx_release(struct tf_ctx *ctx)
{
	size_t i;

	if (ctx->rootfd != -1)
		close(ctx->rootfd);
	ctx->rootfd = -1;
	for (i = 0; i < ctx->nkey_paths; i++)
		free(ctx->key_paths[i]);
	free(ctx->key_paths);
	ctx->key_paths = NULL;
	ctx->nkey_paths = 0;
}

static int
verror(struct tf_ctx *ctx, int code, const char *suffix, const char *fmt, va_list ap)
{
	size_t n;

	if (ctx->err != 0)
		return code;
	ctx->err = code;
	vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
	if (suffix != NULL && *suffix != '\0') {
		n = strlen(ctx->errmsg);
		snprintf(ctx->errmsg + n, sizeof(ctx->errmsg) - n, ": %s", suffix);
	}
	return code;
}

int
tf_error(struct tf_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(ctx, code, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int
tf_error_sys(struct tf_ctx *ctx, int code, const char *fmt, ...)
{
	char reason[256];
	int saved = errno;
	va_list ap;

	snprintf(reason, sizeof(reason), "%s", strerror(saved));
	va_start(ap, fmt);
	verror(ctx, code, reason, fmt, ap);
	va_end(ap);
	errno = saved;
	return code;
}

int
tf_error_ssl(struct tf_ctx *ctx, int code, const char *fmt, ...)
{
	const char *reason = NULL;
	unsigned long e;
	va_list ap;

	if ((e = ERR_peek_last_error()) != 0)
		reason = ERR_reason_error_string(e);
	va_start(ap, fmt);
	verror(ctx, code, reason, fmt, ap);
	va_end(ap);
	ERR_clear_error();
	return code;
}

void
tf_error_clear(struct tf_ctx *ctx)
{
	ctx->err = 0;
	ctx->errmsg[0] = '\0';
}

enum tf_exit
tf_exit_status(int code)
{
	switch (code) {
	case TF_OK:
		return TF_EXIT_OK;
	case TF_EUSAGE:
	case TF_ECONFIG:
	case TF_EIO:
		return TF_EXIT_USAGE;
	case TF_EINVALID:
	case TF_EREFUSED:
		return TF_EXIT_REFUSED;
	case TF_ENET:
		return TF_EXIT_NETWORK;
	case TF_ELOCKED:
		return TF_EXIT_LOCKED;
	default:
		return TF_EXIT_USAGE;
	}
}

static void
oom(void)
{
	static const char msg[] = "trustfix: out of memory\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

void *
tf_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
tf_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
tf_realloc(void *p, size_t n)
{
	if ((p = realloc(p, n ? n : 1)) == NULL)
		oom();
	return p;
}

char *
tf_strdup(const char *s)
{
	return tf_strndup(s, strlen(s));
}

char *
tf_strndup(const char *s, size_t n)
{
	char *p = tf_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
tf_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return p;
}

void
tf_hex(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
tf_unhex(unsigned char *out, size_t len, const char *hex)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if ((hi = hexval(hex[2 * i])) < 0 || (lo = hexval(hex[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[2 * len] == '\0' ? 0 : -1;
}

long
tf_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
