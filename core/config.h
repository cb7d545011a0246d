/*
 * core/config.h - the configuration file (INI): global keys, then one
 * section per thing managed.
 */
#ifndef TF_CONFIG_H
#define TF_CONFIG_H

#include <stdbool.h>

#include "tf.h"

#define TF_DEFAULT_CONFIG "/etc/trustfix/trustfix.conf"

struct tf_store_conf {
	char *name; /* from "[store NAME]" */
	char *path; /* a path of the managed system */
};

/* "[hook NAME]": how a failure of the hook NAME (its file name) is taken. */
struct tf_hook_conf {
	char *name;
	bool warn; /* on_failure = warn: reported, the change stays; else rollback */
};

struct tf_config {
	char *file;                     /* where it was read from, NULL if none */
	int renew_before_days;          /* renew when fewer days remain */
	double renew_lifetime_fraction; /* or when this much has passed; 0: unset */
	int warn_days;                  /* "expiring" within this many days */
	int hook_timeout;               /* seconds a hook may run */
	char *policy;                   /* policy file of the managed system, or NULL */
	char *bundle_signers;           /* pinned bundle signers: PEM file or folder, or NULL */
	char **probes;                  /* "probe = host:port": endpoints that must validate */
	size_t nprobes;
	struct tf_store_conf *stores;
	size_t nstores;
	struct tf_hook_conf *hooks;
	size_t nhooks;
	char *client_cert;
	char *client_key;
	char *client_chain;
	/* [client]: the EST server that renews it (cli/cmd_renew.c) */
	char *est_server;        /* "https://host[:port]" */
	char *est_ca_file;       /* trust anchor of the server, a path of the managed system */
	char *est_label;         /* CA label, or NULL */
	char *est_username;      /* HTTP Basic user for (re-)enrollment */
	char *est_password_file; /* its password (first line), a path of the managed system */
	char *est_subject;       /* subject of a first enrollment */
	char **est_sans;         /* "DNS:name", "IP:addr", ...: every 'san' line, split at commas */
	size_t est_nsans;
	char *est_key_type;   /* "ec-p256" (default), "ec-p384", "rsa2048", ... */
	int est_max_wait;     /* seconds to wait on 202 Accepted; -1: unset */
	char *bootstrap_cert; /* a manufacturer certificate for a first enrollment */
	char *bootstrap_key;  /* and its key, paths of the managed system */
};

/* A configuration holding the defaults. Never fails; free with tf_config_free(). */
struct tf_config *tf_config_new(void);

/*
 * Read the configuration file 'path' (a path of the managed system) into
 * *out. A missing file is an error only when 'required'. An unknown section
 * or key, or a bad value, is TF_ECONFIG with a message naming file and line.
 */
int tf_config_load(struct tf_config **out, struct tf_ctx *ctx, const char *path, bool required);

void tf_config_free(struct tf_config *cfg);

/* Strict number parsing shared by the config and the command line: 0 or -1. */
int tf_parse_int(const char *s, long min, long max, long *out);
int tf_parse_double(const char *s, double min, double max, double *out);

#endif
