/*
 * core/tf.h - the run context, error codes and exit statuses shared by every
 * module of trustfix.
 */
#ifndef TF_H
#define TF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define TF_VERSION "0.1.0"

/*
 * Error codes: 0 for success, a negative TF_E* otherwise. The module that
 * meets the failure sets the message in the context; callers pass the code up.
 */
enum {
	TF_OK = 0,
	TF_ERROR = -1,    /* internal error */
	TF_EUSAGE = -2,   /* bad command line */
	TF_ECONFIG = -3,  /* bad configuration file or policy */
	TF_EIO = -4,      /* a file or directory could not be read or written */
	TF_ENOMEM = -5,   /* out of memory */
	TF_EINVALID = -6, /* malformed or hostile input */
	TF_EREFUSED = -7, /* verification failed */
	TF_ENET = -8,     /* network or server error */
	TF_ELOCKED = -9,  /* another run holds the lock */
};

/* Exit statuses, as documented in trustfix(1). */
enum tf_exit {
	TF_EXIT_OK = 0,
	TF_EXIT_FINDINGS = 1,
	TF_EXIT_USAGE = 2,
	TF_EXIT_NOTHING = 3,
	TF_EXIT_REFUSED = 4,
	TF_EXIT_NETWORK = 5,
	TF_EXIT_ROLLEDBACK = 6,
	TF_EXIT_ROLLBACK_FAILED = 7,
	TF_EXIT_LOCKED = 8,
};

struct tf_config;

/* The one run context, passed to every step. */
struct tf_ctx {
	const char *root;      /* --root, "/" by default */
	int rootfd;            /* open O_PATH descriptor of root */
	struct tf_config *cfg; /* parsed configuration, never NULL after load */
	time_t now;            /* the clock; tests pin it */
	int verbosity;         /* -1 quiet, 0 normal, 1.. verbose */
	int err;               /* code of the first error */
	char errmsg[1024];     /* message of the first error */
	char **key_paths;      /* files of the managed system that hold private keys */
	size_t nkey_paths;     /* (the client key): kept in the key vault, audit/vault.h */
};

void tf_ctx_init(struct tf_ctx *ctx);

/* Milliseconds of the monotonic clock, for durations and deadlines. */
long tf_monotonic_ms(void);
int tf_ctx_set_root(struct tf_ctx *ctx, const char *root);
void tf_ctx_release(struct tf_ctx *ctx);

/*
 * Record an error and return 'code'. Only the first error of a run is kept:
 * the message is set where the failure happens and never overwritten.
 * tf_error_sys() appends strerror(errno); tf_error_ssl() the reason at the
 * top of OpenSSL's error queue (and clears the queue).
 */
int tf_error(struct tf_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tf_error_sys(struct tf_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tf_error_ssl(struct tf_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tf_error_clear(struct tf_ctx *ctx);

/* Map an error code to the exit status documented for it. */
enum tf_exit tf_exit_status(int code);

/* Allocation that aborts on failure: out of memory is not a state to recover. */
void *tf_malloc(size_t n);
void *tf_calloc(size_t n, size_t size);
void *tf_realloc(void *p, size_t n);
char *tf_strdup(const char *s);
char *tf_strndup(const char *s, size_t n);
char *tf_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Hex of 'len' bytes into 'out' (2 * len + 1 bytes), lowercase. */
void tf_hex(char *out, const unsigned char *in, size_t len);
/* Parse exactly 2 * len hex digits; returns 0 or -1. */
int tf_unhex(unsigned char *out, size_t len, const char *hex);

#endif
