/*
 * cli/estcli.h - what "renew", "enroll" and "est cacerts" share: the EST
 * settings from the flags and the [client] section, the files of the
 * managed system they read, and the pending enrollment kept across runs.
 */
#ifndef TF_ESTCLI_H
#define TF_ESTCLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "../renew/renew.h"
#include "cli.h"

/*
 * The EST settings of one run: a flag wins over the configuration. Paths
 * of the managed system (cert, key, chain, bootstrap_*) are taken under
 * --root. The trust anchor and the password file are read as given when
 * named by a flag, and under --root when they come from the configuration
 * (like --signers and bundle_signers).
 */
struct est_cli {
	const char *server, *label, *username, *subject, *key_type;
	const char *ca_file, *password_file;
	bool ca_file_managed, password_file_managed; /* from the configuration */
	const char *cert, *key, *chain;
	const char *bootstrap_cert, *bootstrap_key;
	const char **sans; /* --san (replaces the configuration's) or 'san' */
	size_t nsans;
	bool sans_given;
	long max_wait;    /* -1 until set */
	bool skip_anchor; /* est cacerts --bootstrap: no trust anchor is opened */
	/* resolved by est_cli_resolve() */
	char *ca_path, *pw_path; /* what libcurl opens: as given, or /proc/self/fd/N */
	int ca_fd, pw_fd;
	enum est_key_type type;
};

/* Option ids of EST_LONG_OPTIONS. */
enum {
	EST_OPT_SERVER = 2001,
	EST_OPT_CA_FILE,
	EST_OPT_LABEL,
	EST_OPT_USERNAME,
	EST_OPT_PASSWORD_FILE,
	EST_OPT_CERT,
	EST_OPT_KEY,
	EST_OPT_CHAIN,
	EST_OPT_SUBJECT,
	EST_OPT_SAN,
	EST_OPT_KEY_TYPE,
	EST_OPT_BOOTSTRAP_CERT,
	EST_OPT_BOOTSTRAP_KEY,
	EST_OPT_MAX_WAIT,
};

/* The long options of est_cli_option(), to append to a command's table. */
#define EST_LONG_OPTIONS                                                                           \
	{ "server", required_argument, NULL, EST_OPT_SERVER },                                     \
	    { "ca-file", required_argument, NULL, EST_OPT_CA_FILE },                               \
	    { "label", required_argument, NULL, EST_OPT_LABEL },                                   \
	    { "username", required_argument, NULL, EST_OPT_USERNAME },                             \
	    { "password-file", required_argument, NULL, EST_OPT_PASSWORD_FILE },                   \
	    { "cert", required_argument, NULL, EST_OPT_CERT },                                     \
	    { "key", required_argument, NULL, EST_OPT_KEY },                                       \
	    { "chain", required_argument, NULL, EST_OPT_CHAIN },                                   \
	    { "subject", required_argument, NULL, EST_OPT_SUBJECT },                               \
	    { "san", required_argument, NULL, EST_OPT_SAN },                                       \
	    { "key-type", required_argument, NULL, EST_OPT_KEY_TYPE },                             \
	    { "bootstrap-cert", required_argument, NULL, EST_OPT_BOOTSTRAP_CERT },                 \
	    { "bootstrap-key", required_argument, NULL, EST_OPT_BOOTSTRAP_KEY },                   \
	{                                                                                          \
		"max-wait", required_argument, NULL, EST_OPT_MAX_WAIT                              \
	}

/* The help text of EST_LONG_OPTIONS. */
#define EST_USAGE                                                                                  \
	"  --server URL           the EST server, https://host[:port] (server =)\n"                \
	"  --ca-file FILE         its trust anchor, read as given (ca_file =)\n"                   \
	"  --label NAME           the CA label, /.well-known/est/NAME/ (label =)\n"                \
	"  --username NAME        HTTP Basic user for enrollment (username =)\n"                   \
	"  --password-file FILE   its password, first line, read as given (password_file =)\n"     \
	"  --cert PATH            the client certificate (cert =)\n"                               \
	"  --key PATH             its private key, written 0600 (key =)\n"                         \
	"  --chain PATH           where to write the CA chain (chain =)\n"                         \
	"  --subject DN           subject of a first enrollment, CN=x,O=y (subject =)\n"           \
	"  --san TYPE:VALUE       a subjectAltName: DNS:, IP:, email: or URI:\n"                   \
	"                         (repeatable; san =, comma separated)\n"                          \
	"  --key-type TYPE        ec-p256 (default), ec-p384, rsa2048, rsa3072, rsa4096\n"         \
	"  --bootstrap-cert PATH  a manufacturer certificate for first enrollment\n"               \
	"  --bootstrap-key PATH   and its key (bootstrap_cert =, bootstrap_key =)\n"               \
	"  --max-wait SECONDS     how long to wait on 202 Accepted (max_wait =, default 300)\n"

/* Set every field to "not given". */
void est_cli_init(struct est_cli *e);

/*
 * Parse an option of EST_LONG_OPTIONS: 1 when 'c' was one, 0 when not,
 * -1 on a bad value (usage printed).
 */
int est_cli_option(struct cli *cli, const char *cmd, struct est_cli *e, int c, const char *arg);

/*
 * Fill what the flags left unset from the configuration, check the key
 * type, and open the trust anchor and password file (when set). Paths that
 * hold ".." are refused. Returns 0 or TF_E* with the message set.
 */
int est_cli_resolve(struct cli *cli, struct est_cli *e);

/* Close and free what est_cli_resolve() opened. */
void est_cli_release(struct est_cli *e);

/* Whether Basic credentials or a bootstrap certificate are configured. */
bool est_cli_has_bootstrap(const struct est_cli *e);

/*
 * Read a file of the managed system ('what' names it in messages) into a
 * NUL-terminated buffer; *exists false (and 0) when it is missing.
 */
int est_cli_read(struct cli *cli, const char *path, const char *what, char **out, size_t *len,
    bool *exists);

/* The first certificate of PEM (or DER) text, or NULL. */
X509 *est_cli_parse_cert(const char *buf, size_t len);

/* SHA-256 of a certificate's public key (SPKI DER). */
void est_cli_spki_sha256(unsigned char out[32], X509 *x);

/* ---- the pending enrollment, in /var/lib/trustfix/pending/ ---- */

#define EST_PENDING_DIR "/var/lib/trustfix/pending"

struct est_pending {
	char *key_pem; /* wiped on release */
	size_t key_len;
	unsigned char *csr;
	size_t csr_len;
	bool reenroll;
	char *cert;   /* the certificate path it is for */
	char *server; /* the server it was sent to */
	long since;   /* when it was first accepted (Unix time) */
};

/*
 * Load the pending enrollment, if any: *found false and 0 when there is
 * none. Returns TF_EIO / TF_EINVALID for one that cannot be read.
 */
int est_pending_load(struct cli *cli, struct est_pending *p, bool *found);

/*
 * Keep the key and CSR of an enrollment the server accepted but did not
 * answer yet: the key file is created 0600 (O_EXCL | O_NOFOLLOW), the
 * folder 0700; the description goes last, so that a half-saved pending
 * enrollment is never taken for one.
 */
int est_pending_save(struct cli *cli, const struct est_pending *p);

/* Remove the pending enrollment (its key is overwritten first). */
int est_pending_remove(struct cli *cli);

void est_pending_release(struct est_pending *p);

#endif
