/*
 * txn/fault.h - fault injection at the named write steps of a transaction,
 * for the crash and error tests (internal to txn/; see fault.c).
 */
#ifndef TF_TXN_FAULT_H
#define TF_TXN_FAULT_H

#include <stdbool.h>

#include "../core/tf.h"

#define FAULT_MAX 8

struct fault_spec {
	int action;          /* FAULT_CRASH or an errno value */
	const char *pattern; /* a point name or a class name (static storage) */
	unsigned long nth;   /* fire at the nth match */
	unsigned long seen;  /* matches so far */
};

struct fault {
	struct fault_spec specs[FAULT_MAX];
	int n;
};

/*
 * Read TRUSTFIX_FAULT into 'f' (no specs when unset). Returns 0, or
 * TF_EUSAGE with the message set when it is malformed.
 */
int fault_init(struct fault *f, struct tf_ctx *ctx);

/*
 * Pass the write step 'point' (one of txn_fault_points()). Returns 0 to go
 * on, or -1 with errno set for an injected error, which the caller reports as
 * the failure of the system call it was about to make. An injected crash
 * never returns.
 */
int fault_step(struct fault *f, const char *point);

#endif
