/*
 * truststore/scan.c - open a store, detect its format, and run the scan:
 * readers queue DER certificates, which are decoded in batches on every
 * core, checked, and handed to the caller in store order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/objects.h>

#include "../core/path.h"
#include "internal.h"

#define BATCH 2048      /* certificates decoded together */
#define PARALLEL_MIN 64 /* below this, one thread is faster */
#define MAX_THREADS 8
#define DAY 86400

struct entry {
	unsigned char *der;
	size_t len;
	char *file;
	long line;
	char *link;
	long long want_hash;
	const char *why; /* why it did not decode, NULL if it did */
	struct tf_certinfo info;
};

struct seen {
	unsigned char sha256[32];
	char *where; /* NULL: empty slot */
};

struct scan {
	struct truststore *ts;
	const struct truststore_checks *checks;
	struct tf_findings *findings;
	struct truststore_stats *stats;
	truststore_cert_fn fn;
	void *arg;
	struct entry *batch;
	size_t n;
	struct seen *seen; /* open addressing, by fingerprint */
	size_t seen_cap, seen_n;
	bool *required_seen;
	int flags;
	int nthreads;
	int stop; /* first non-zero value of fn */
};

const char *
truststore_format_name(enum truststore_format fmt)
{
	switch (fmt) {
	case TS_PEM_BUNDLE:
		return "pem-bundle";
	case TS_HASHED_DIR:
		return "hashed-dir";
	case TS_CERT_DIR:
		return "cert-dir";
	case TS_DER:
		return "der";
	case TS_PKCS12:
		return "pkcs12";
	}
	return "unknown";
}

enum truststore_format
truststore_format(const struct truststore *ts)
{
	return ts->format;
}

const char *
truststore_path(const struct truststore *ts)
{
	return ts->path;
}

struct truststore *
scan_store(struct scan *sc)
{
	return sc->ts;
}

/* DER SEQUENCE whose first element is an INTEGER: PKCS#12, not a certificate. */
static bool
looks_pkcs12(const unsigned char *p, size_t n)
{
	size_t i = 2;

	if (n < 4 || p[0] != 0x30)
		return false;
	if (p[1] & 0x80)
		i += p[1] & 0x7f;
	return i < n && p[i] == 0x02;
}

static int
detect(struct truststore *ts, int fd)
{
	unsigned char head[16];
	struct dirent *de;
	struct stat st;
	ssize_t n;
	DIR *d;
	int dfd;

	if (fstat(fd, &st) == -1)
		return tf_error_sys(ts->ctx, TF_EIO, "cannot stat store '%s'", ts->host);
	if (S_ISDIR(st.st_mode)) {
		ts->format = TS_CERT_DIR;
		if ((dfd = dup(fd)) == -1 || (d = fdopendir(dfd)) == NULL) {
			if (dfd != -1)
				close(dfd);
			return tf_error_sys(ts->ctx, TF_EIO, "cannot list store '%s'", ts->host);
		}
		while ((de = readdir(d)) != NULL) {
			unsigned long h;
			long idx;
			bool crl;

			if (dir_is_hash_name(de->d_name, &h, &idx, &crl)) {
				ts->format = TS_HASHED_DIR;
				break;
			}
		}
		closedir(d);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return tf_error(ts->ctx, TF_EINVALID,
		    "store '%s' is neither a regular file nor a directory", ts->host);
	n = pread(fd, head, sizeof(head), 0);
	if (n < 0)
		return tf_error_sys(ts->ctx, TF_EIO, "cannot read store '%s'", ts->host);
	if (n > 0 && head[0] == 0x30)
		ts->format = looks_pkcs12(head, (size_t)n) ? TS_PKCS12 : TS_DER;
	else
		ts->format = TS_PEM_BUNDLE;
	return 0;
}

int
truststore_open(struct truststore **out, struct tf_ctx *ctx, const char *path, const char *password)
{
	struct truststore *ts = tf_calloc(1, sizeof(*ts));
	int fd = -1, rc;

	*out = NULL;
	ts->ctx = ctx;
	ts->path = tf_strdup(path);
	ts->host = tf_hostpath(ctx, path);
	ts->password = password != NULL ? tf_strdup(password) : NULL;
	/* O_NONBLOCK: opening a FIFO must not hang; reads are on regular files */
	if ((fd = tf_open(ctx, path, O_RDONLY | O_NONBLOCK, 0)) == -1) {
		rc = tf_error_sys(ctx, TF_EIO, "cannot open store '%s'", ts->host);
		goto out;
	}
	if ((rc = detect(ts, fd)) != 0)
		goto out;
	*out = ts;
	ts = NULL;
out:
	if (fd != -1)
		close(fd);
	truststore_free(ts);
	return rc;
}

void
truststore_free(struct truststore *ts)
{
	if (ts == NULL)
		return;
	if (ts->password != NULL) {
		OPENSSL_cleanse(ts->password, strlen(ts->password));
		free(ts->password);
	}
	free(ts->path);
	free(ts->host);
	free(ts);
}

static char *
entry_where(const struct entry *e)
{
	if (e->link != NULL)
		return tf_strdup(e->link);
	if (e->line > 0)
		return tf_asprintf("%s:%ld", e->file, e->line);
	return tf_strdup(e->file);
}

void
scan_finding(struct scan *sc, enum tf_finding_kind kind, const char *where, const char *action,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	tf_findings_add(sc->findings, kind, NULL, sc->ts->path, where, action, "%s",
	    msg != NULL ? msg : "(out of memory)");
	free(msg);
}

void
scan_skipped(struct scan *sc)
{
	sc->stats->skipped++;
}

static struct tf_finding *cert_finding(struct scan *sc, const struct entry *e,
    enum tf_finding_kind kind, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct tf_finding *
cert_finding(struct scan *sc, const struct entry *e, enum tf_finding_kind kind, const char *action,
    const char *fmt, ...)
{
	struct tf_finding *f;
	char *where = entry_where(e), *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	f = tf_findings_add(sc->findings, kind, e->info.sha256, sc->ts->path, where, action, "%s",
	    msg != NULL ? msg : "(out of memory)");
	f->subject = tf_strdup(e->info.subject);
	free(msg);
	free(where);
	return f;
}

/* Remember a fingerprint; returns where it was first seen, or NULL if new. */
static const char *
seen_add(struct scan *sc, const struct entry *e)
{
	struct seen *s;
	size_t i, mask;

	if (2 * (sc->seen_n + 1) > sc->seen_cap) {
		struct seen *old = sc->seen;
		size_t oldcap = sc->seen_cap, j;

		sc->seen_cap = oldcap ? 2 * oldcap : 256;
		sc->seen = tf_calloc(sc->seen_cap, sizeof(*sc->seen));
		mask = sc->seen_cap - 1;
		for (j = 0; j < oldcap; j++) {
			if (old[j].where == NULL)
				continue;
			memcpy(&i, old[j].sha256, sizeof(i));
			for (i &= mask; sc->seen[i].where != NULL; i = (i + 1) & mask)
				;
			sc->seen[i] = old[j];
		}
		free(old);
	}
	mask = sc->seen_cap - 1;
	memcpy(&i, e->info.sha256, sizeof(i));
	for (i &= mask;; i = (i + 1) & mask) {
		s = &sc->seen[i];
		if (s->where == NULL)
			break;
		if (memcmp(s->sha256, e->info.sha256, 32) == 0)
			return s->where;
	}
	memcpy(s->sha256, e->info.sha256, 32);
	s->where = entry_where(e);
	sc->seen_n++;
	return NULL;
}

static bool
weak_md(int nid)
{
	return nid == NID_md2 || nid == NID_md4 || nid == NID_md5 || nid == NID_sha1 ||
	    nid == NID_mdc2;
}

static void
check_cert(struct scan *sc, const struct entry *e)
{
	const struct truststore_checks *ck = sc->checks;
	const struct tf_certinfo *ci = &e->info;
	const struct tf_policy_entry *pe;
	const char *first;
	char date[32];
	long long days;

	if (e->want_hash >= 0 && (long long)ci->subject_hash != e->want_hash)
		cert_finding(sc, e, TF_F_HASH_LINK, "run 'openssl rehash' on the directory",
		    "link name says hash %08llx but the certificate's subject hashes to %08lx, so "
		    "OpenSSL's lookup cannot find it",
		    e->want_hash, ci->subject_hash);
	if ((first = seen_add(sc, e)) != NULL)
		cert_finding(sc, e, TF_F_DUPLICATE, "remove the extra copy",
		    "the same certificate is also at %s", first);
	if (ck->policy != NULL) {
		pe = tf_policy_find(ck->policy->decommissioned, ck->policy->ndecommissioned,
		    ci->sha256);
		if (pe != NULL)
			cert_finding(sc, e, TF_F_DECOMMISSIONED,
			    "remove it, and make sure its successor is in the store",
			    "%s is decommissioned%s%s", pe->name, pe->reason ? ": " : "",
			    pe->reason ? pe->reason : "");
		pe = tf_policy_find(ck->policy->required, ck->policy->nrequired, ci->sha256);
		if (pe != NULL)
			sc->required_seen[pe - ck->policy->required] = true;
	}
	tf_time_iso(date, sizeof(date), ci->not_after);
	if (ck->now > ci->not_after) {
		days = (long long)(ck->now - ci->not_after) / DAY;
		cert_finding(sc, e, TF_F_EXPIRED,
		    "remove it, or replace it with its current version",
		    "expired on %s (%lld day%s ago)", date, days, days == 1 ? "" : "s");
	} else if (ci->not_after - ck->now < (time_t)ck->warn_days * DAY) {
		days = (long long)(ci->not_after - ck->now) / DAY;
		cert_finding(sc, e, TF_F_EXPIRING, "plan its replacement before it expires",
		    "expires on %s, in %lld day%s", date, days, days == 1 ? "" : "s");
	}
	if (ck->now < ci->not_before) {
		tf_time_iso(date, sizeof(date), ci->not_before);
		cert_finding(sc, e, TF_F_NOT_YET_VALID,
		    "check the system clock and the certificate", "not valid before %s", date);
	}
	if (((strcmp(ci->key_type, "RSA") == 0 || strcmp(ci->key_type, "DSA") == 0) &&
	        ci->key_bits < 2048) ||
	    (strcmp(ci->key_type, "EC") == 0 && ci->key_bits < 224))
		cert_finding(sc, e, TF_F_WEAK_KEY,
		    "replace it with a certificate with a 2048-bit RSA, P-256 or stronger key",
		    "%s key of %d bits", ci->key_type, ci->key_bits);
	/* a trust anchor's own signature is never checked: only issued ones matter */
	if (!ci->is_self_signed && weak_md(ci->sig_md_nid))
		cert_finding(sc, e, TF_F_WEAK_SIGNATURE,
		    "replace it with a certificate signed with SHA-256 or better", "signed with %s",
		    ci->sig_alg);
	if (!ci->is_ca)
		cert_finding(sc, e, TF_F_NOT_CA, "remove it: a trust store holds CA certificates",
		    "not a CA certificate (no basicConstraints CA:TRUE)");
}

struct slice {
	struct entry *v;
	size_t n;
	int flags;
};

static void *
decode_slice(void *arg)
{
	struct slice *s = arg;
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct entry *e = &s->v[i];

		if (tf_certinfo_parse(&e->info, e->der, e->len, s->flags, &e->why) != 0 &&
		    e->why == NULL)
			e->why = "not a certificate";
	}
	return NULL;
}

static void
decode_batch(struct scan *sc)
{
	struct slice sl[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	bool started[MAX_THREADS] = { false };
	int t, nt = sc->n >= PARALLEL_MIN ? sc->nthreads : 1;
	size_t per = (sc->n + (size_t)nt - 1) / (size_t)nt, off = 0;

	for (t = 0; t < nt; t++) {
		sl[t].v = sc->batch + off;
		sl[t].n = off + per <= sc->n ? per : sc->n - off;
		sl[t].flags = sc->flags;
		off += sl[t].n;
	}
	/* slices 1..nt-1 on new threads, slice 0 here; a thread that cannot start
	 * leaves its slice to this one */
	for (t = 1; t < nt; t++)
		started[t] = pthread_create(&tid[t], NULL, decode_slice, &sl[t]) == 0;
	decode_slice(&sl[0]);
	for (t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			decode_slice(&sl[t]);
	}
}

static void
entry_release(struct entry *e)
{
	free(e->der);
	free(e->file);
	free(e->link);
	tf_certinfo_clear(&e->info);
}

static void
flush(struct scan *sc)
{
	size_t i;

	if (sc->n == 0)
		return;
	decode_batch(sc);
	for (i = 0; i < sc->n; i++) {
		struct entry *e = &sc->batch[i];
		struct tf_cert c;

		if (sc->stop != 0)
			break;
		if (e->why != NULL) {
			char *where = entry_where(e);

			scan_finding(sc, TF_F_UNPARSABLE, where, "remove or replace the entry",
			    "entry cannot be decoded: %s", e->why);
			free(where);
			continue;
		}
		sc->stats->certificates++;
		check_cert(sc, e);
		c.info = e->info;
		c.file = e->file;
		c.line = e->line;
		c.link = e->link;
		c.der = e->der;
		if (sc->fn != NULL)
			sc->stop = sc->fn(&c, sc->arg);
	}
	for (i = 0; i < sc->n; i++)
		entry_release(&sc->batch[i]);
	sc->n = 0;
}

int
scan_push(struct scan *sc, unsigned char *der, size_t len, const char *file, long line,
    const char *link, long long want_hash)
{
	struct entry *e;

	if (sc->stop != 0) {
		free(der);
		return sc->stop;
	}
	e = &sc->batch[sc->n++];
	memset(e, 0, sizeof(*e));
	e->der = der;
	e->len = len;
	e->file = tf_strdup(file);
	e->line = line;
	e->link = link != NULL ? tf_strdup(link) : NULL;
	e->want_hash = want_hash;
	if (want_hash >= 0)
		sc->flags |= TF_CERTINFO_HASH;
	if (sc->n == BATCH)
		flush(sc);
	return sc->stop;
}

static int
read_file_store(struct scan *sc)
{
	struct truststore *ts = sc->ts;
	int fd, rc;

	if ((fd = tf_open(ts->ctx, ts->path, O_RDONLY | O_NONBLOCK, 0)) == -1)
		return tf_error_sys(ts->ctx, TF_EIO, "cannot open store '%s'", ts->host);
	if (ts->format == TS_PKCS12)
		rc = pkcs12_scan(sc, fd);
	else
		rc = pem_read_fd(sc, fd, ts->path, NULL, -1);
	close(fd);
	return rc;
}

int
truststore_scan(struct truststore *ts, const struct truststore_checks *checks,
    struct tf_findings *findings, struct truststore_stats *stats, truststore_cert_fn fn, void *arg)
{
	const struct tf_policy *pol = checks->policy;
	struct truststore_stats dummy;
	struct scan sc;
	long ncpu;
	size_t i;
	int rc;

	memset(&sc, 0, sizeof(sc));
	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	sc.ts = ts;
	sc.checks = checks;
	sc.findings = findings;
	sc.stats = stats;
	sc.fn = fn;
	sc.arg = arg;
	sc.batch = tf_calloc(BATCH, sizeof(*sc.batch));
	sc.required_seen = tf_calloc(pol != NULL ? pol->nrequired : 1, sizeof(bool));
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	sc.nthreads = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (int)ncpu;

	switch (ts->format) {
	case TS_HASHED_DIR:
	case TS_CERT_DIR:
		rc = dir_scan(&sc, ts->format == TS_HASHED_DIR);
		break;
	default:
		rc = read_file_store(&sc);
		break;
	}
	flush(&sc);
	if (rc == 0 && sc.stop == 0) {
		if (stats->certificates == 0)
			scan_finding(&sc, TF_F_EMPTY_STORE, NULL,
			    "check the path, or restore the store from a backup or a bundle",
			    "no certificate found in '%s'", ts->host);
		for (i = 0; pol != NULL && i < pol->nrequired; i++) {
			const struct tf_policy_entry *pe = &pol->required[i];
			char hex[65];

			if (sc.required_seen[i])
				continue;
			tf_hex(hex, pe->sha256, 32);
			tf_findings_add(findings, TF_F_MISSING_REQUIRED, pe->sha256, ts->path, NULL,
			    "add it to the store",
			    "%s (%.12s...) is required by policy '%s' but is not in the store%s%s",
			    pe->name, hex, pol->name, pe->reason ? ": " : "",
			    pe->reason ? pe->reason : "")
			    ->subject = tf_strdup(pe->name);
		}
	}
	for (i = 0; i < sc.seen_cap; i++)
		free(sc.seen[i].where);
	free(sc.seen);
	free(sc.batch);
	free(sc.required_seen);
	return rc != 0 ? rc : sc.stop;
}
