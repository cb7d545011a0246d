/*
 * renew/renew.h - the device's client certificate: when its renewal is due,
 * and whether it is sound (key, chain, expiry).
 */
#ifndef TF_RENEW_H
#define TF_RENEW_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../core/findings.h"
#include "../core/tf.h"

/*
 * The time at which a certificate valid from 'not_before' to 'not_after'
 * is due for renewal: 'before_days' before it expires, or once 'fraction'
 * of its lifetime has passed (when fraction > 0), whichever comes first.
 */
time_t renew_due_at(time_t not_before, time_t not_after, int before_days, double fraction);

struct client_check;

/* What the inspection of the client certificate found. */
struct client_report {
	char *subject;
	char *issuer;
	char *serial;
	unsigned char sha256[32];
	time_t not_before;
	time_t not_after;
	time_t renew_at;
	bool renewal_due;
	bool has_key; /* a key file was given */
	bool key_matches;
	bool chain_valid;
	char *chain_error; /* why the chain does not validate, or NULL */
};

/*
 * Load the client certificate 'cert' (with any intermediates after it in the
 * same file), its key 'key' and extra chain file 'chain' (both may be NULL);
 * all are paths of the managed system. Returns 0, or TF_EIO / TF_EINVALID
 * with the message set. Free with client_check_free().
 */
int client_check_open(struct client_check **out, struct tf_ctx *ctx, const char *cert,
    const char *key, const char *chain);

/*
 * Offer a certificate of an inspected store as a possible trust anchor.
 * Only those whose subject is an issuer in the client's chain are kept, so
 * a store of any size can be streamed through.
 */
void client_check_offer(struct client_check *cc, const unsigned char *subject_der,
    size_t subject_len, const unsigned char *der, size_t der_len);

/*
 * Check expiry, renewal, key and chain (at ctx->now, against the anchors
 * offered), append the client findings to 'findings' and fill 'report'
 * (release it with client_report_release()). Returns 0 or TF_E*.
 */
int client_check_finish(struct client_check *cc, int before_days, double fraction,
    struct tf_findings *findings, struct client_report *report);

void client_report_release(struct client_report *r);
void client_check_free(struct client_check *cc);

#endif
