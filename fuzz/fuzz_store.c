/*
 * fuzz/fuzz_store.c - libFuzzer target for the trust store readers: each
 * input is a store file (PEM bundle, DER or PKCS#12, detected by content as
 * 'trustfix inspect' detects it), opened and scanned with the built-in policy.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/tf.h"
#include "truststore/truststore.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW ((time_t)1767225600) /* 2026-01-01: the clock is pinned */

static int memfd = -1;
static char path[64];
static struct tf_policy *policy;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tf_ctx ctx;

	(void)argc;
	(void)argv;
	/* one in-memory file for every run, named through /proc */
	if ((memfd = memfd_create("fuzz_store", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	tf_ctx_init(&ctx);
	if (tf_policy_load(&policy, &ctx, NULL) != 0) {
		fprintf(stderr, "built-in policy: %s\n", ctx.errmsg);
		abort();
	}
	return 0;
}

/* Touch every field handed out, so that ASan sees a bad one. */
static int
on_cert(const struct tf_cert *c, void *arg)
{
	size_t *sum = arg;
	const struct tf_certinfo *ci = &c->info;

	*sum += strlen(ci->subject) + strlen(ci->issuer) + strlen(ci->serial) +
	    strlen(ci->key_type) + strlen(ci->sig_alg) + strlen(c->file);
	if (c->link != NULL)
		*sum += strlen(c->link);
	if (ci->der_len == 0 || ci->subject_der_len == 0 || ci->issuer_der_len == 0)
		abort();
	*sum += c->der[ci->der_len - 1] + ci->subject_der[ci->subject_der_len - 1] +
	    ci->issuer_der[ci->issuer_der_len - 1];
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct truststore_checks checks = { .policy = policy, .warn_days = 30, .now = FUZZ_NOW };
	struct truststore_stats stats;
	struct tf_findings findings = { 0 };
	struct truststore *ts = NULL;
	struct tf_ctx ctx;
	size_t off = 0, sum = 0, i;
	ssize_t n;

	if (ftruncate(memfd, 0) == -1)
		abort();
	while (off < size) {
		if ((n = pwrite(memfd, data + off, size - off, (off_t)off)) <= 0)
			abort();
		off += (size_t)n;
	}
	tf_ctx_init(&ctx);
	ctx.now = FUZZ_NOW;
	if (truststore_open(&ts, &ctx, path, NULL) == 0) {
		truststore_scan(ts, &checks, &findings, &stats, on_cert, &sum);
		if (stats.certificates > size)
			abort();
		for (i = 0; i < findings.n; i++)
			sum += strlen(findings.v[i].message) + strlen(findings.v[i].store);
		tf_findings_release(&findings);
		truststore_free(ts);
	}
	tf_ctx_release(&ctx);
	return sum == (size_t)-1;
}
