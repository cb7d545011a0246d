/*
 * cli/renewcli.h - the renewal of the client certificate as "trustfix
 * renew" does it, in steps, for "trustfix remediate" to make it part of a
 * larger change (cli/cmd_renew.c).
 */
#ifndef TF_RENEWCLI_H
#define TF_RENEWCLI_H

#include <stdbool.h>

#include "change.h"
#include "estcli.h"

struct renew_run;

/*
 * Take over the settings 'e' (options parsed; it is left empty), resolve
 * them with the configuration, read the client certificate, key and any
 * pending enrollment, and decide whether renewal is due. *out is NULL (and
 * 0 returned) when there is no client certificate or no EST server to look
 * after. Returns 0 or TF_E* / TF_EXIT_USAGE with the message set.
 */
int renew_setup(struct renew_run **out, struct cli *cli, const char *cmd, struct est_cli *e,
    bool force);

/* Whether renewal is due (or forced). */
bool renew_is_due(const struct renew_run *r);

/* One line: the certificate and when it expires, or the new one once obtained. */
char *renew_describe(const struct renew_run *r);

/*
 * Get the new certificate over EST (waiting out 202, falling back to
 * enrollment); call it under the lock (change_opts.prepare).
 */
int renew_obtain(struct renew_run *r);

/* The change that installs it is made: a pending request it answered is done. */
void renew_installed(struct renew_run *r);

/* A change_plan_fn: key, certificate and chain of the obtained certificate ('arg': the run). */
int renew_plan(struct cli *cli, struct audit *audit, struct change *ch, void *arg);

/* Add the certificate, key and chain files to the scope of the change. */
void renew_scope(struct renew_run *r, struct change_scope *scope);

void renew_run_free(struct renew_run *r);

#endif
