/*
 * truststore/scan.c - open a store, detect its format, and run the scan:
 * readers queue DER certificates (or, for a directory, files to read) in
 * batches, which threads on every core read and decode while the reader
 * goes on, the reader too when it would wait; the decoded batches are
 * checked and handed to the caller in store order.
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

/*
 * A batch is the unit the reader hands over and gets back; the decoding
 * threads take CHUNK certificates of it at a time. At most NBATCH batches
 * are in flight, which bounds memory whatever the size of the store.
 */
#define BATCH 256
#define NBATCH 8
#define CHUNK 32
#define PARALLEL_MIN 64 /* a store this small is decoded without threads */
#define MAX_THREADS 8
#define DAY 86400

/* A finding a decoding thread made while reading a file, added in order later. */
struct capfind {
	enum tf_finding_kind kind;
	char *where;
	char *action;
	char *msg;
};

struct entry {
	unsigned char *der;
	size_t len;
	char *file;
	long line;
	char *link;
	long long want_hash;
	const char *why; /* why it did not decode, NULL if it did */
	struct tf_certinfo info;
	void *prepared; /* what the visitor's prepare returned */

	/*
	 * A file to read on a decoding thread instead of a certificate (path
	 * not NULL): what reading it found is kept here and handed out in
	 * store order, its findings where they would have been added had the
	 * reader read the file itself when it queued it.
	 */
	char *path;
	int dfd;            /* with rel: the file is rel in directory dfd */
	const char *rel;    /* the reader's, until it drains the scan */
	bool unlinked;      /* a file no hash link leads to (dir_read_file) */
	size_t fpos;        /* findings of the scan when it was queued */
	struct entry *subs; /* its certificates */
	size_t nsubs, subcap;
	struct capfind *finds;
	size_t nfinds, findcap;
	size_t skipped;
	bool borrowed; /* file and link are its file's: not to be freed */
};

struct batch {
	struct entry *v; /* BATCH entries, kept for reuse */
	size_t n;        /* entries queued */
	size_t next;     /* first entry no thread has taken */
	size_t done;     /* entries decoded */
	bool submitted;  /* handed to the decoding threads */
};

struct scan {
	struct truststore *ts;
	const struct truststore_checks *checks;
	struct tf_findings *findings;
	struct truststore_stats *stats;
	struct truststore_visitor visit;
	truststore_cert_fn fn; /* the plain callback, or NULL */
	void *arg;
	struct seen seen;
	bool *required_seen;
	int stop; /* first non-zero value of the callback */

	/* the decoding threads; 'mu' guards the batches' next, done and
	 * submitted, and head and count, while threads run */
	pthread_mutex_t mu;
	pthread_cond_t more; /* for the threads: entries to take, or quit */
	pthread_cond_t done; /* for the reader: a batch is decoded */
	pthread_t tid[MAX_THREADS];
	int nthreads; /* to start */
	int running;  /* started */
	bool started; /* tried to start them */
	bool quit;
	struct batch ring[NBATCH];
	size_t head;     /* oldest batch in use */
	size_t count;    /* batches in use: submitted, then the one being filled */
	size_t queued;   /* entries queued in the whole scan */
	size_t inserted; /* findings of read files added out of turn */

	/* a scan that only captures what one file holds, on a decoding thread */
	struct entry *capture;
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
		return tf_error(ts->ctx, TF_EIO,
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
	if (ts->format == TS_PKCS12 && (rc = pkcs12_check(ts, fd)) != 0)
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
	if (sc->capture != NULL) {
		struct entry *e = sc->capture;
		struct capfind *cf;

		if (e->nfinds == e->findcap) {
			e->findcap = e->findcap ? 2 * e->findcap : 4;
			e->finds = tf_realloc(e->finds, e->findcap * sizeof(*e->finds));
		}
		cf = &e->finds[e->nfinds++];
		cf->kind = kind;
		cf->where = where != NULL ? tf_strdup(where) : NULL;
		cf->action = action != NULL ? tf_strdup(action) : NULL;
		cf->msg = msg != NULL ? msg : tf_strdup("(out of memory)");
		return;
	}
	tf_findings_add(sc->findings, kind, NULL, sc->ts->path, where, action, "%s",
	    msg != NULL ? msg : "(out of memory)");
	free(msg);
}

void
scan_skipped(struct scan *sc)
{
	if (sc->capture != NULL)
		sc->capture->skipped++;
	else
		sc->stats->skipped++;
}

/* Add the findings of a read file where they belong in the list. */
static void
insert_findings(struct scan *sc, struct entry *e)
{
	struct tf_findings *fs = sc->findings;
	size_t i, pos = e->fpos + sc->inserted;

	for (i = 0; i < e->nfinds; i++, pos++) {
		struct capfind *cf = &e->finds[i];
		struct tf_finding last;

		tf_findings_add(fs, cf->kind, NULL, sc->ts->path, cf->where, cf->action, "%s",
		    cf->msg);
		if (pos < fs->n - 1) {
			last = fs->v[fs->n - 1];
			memmove(&fs->v[pos + 1], &fs->v[pos], (fs->n - 1 - pos) * sizeof(*fs->v));
			fs->v[pos] = last;
		}
	}
	sc->inserted += e->nfinds;
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
	if ((first = seen_add(&sc->seen, e->info.sha256, e->file, e->line, e->link)) != NULL)
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
	if (ck->now > ci->not_after) {
		tf_time_iso(date, sizeof(date), ci->not_after);
		days = (long long)(ck->now - ci->not_after) / DAY;
		cert_finding(sc, e, TF_F_EXPIRED,
		    "remove it, or replace it with its current version",
		    "expired on %s (%lld day%s ago)", date, days, days == 1 ? "" : "s");
	} else if (ci->not_after - ck->now < (time_t)ck->warn_days * DAY) {
		tf_time_iso(date, sizeof(date), ci->not_after);
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

/* Decode one certificate; on a decoding thread, or on the reader's without them. */
static void
decode_cert(struct scan *sc, struct entry *e)
{
	/* the subject hash costs a SHA-1: only for what a hash link leads to */
	int flags = e->want_hash >= 0 ? TF_CERTINFO_HASH : 0;
	struct tf_cert c;

	if (tf_certinfo_parse(&e->info, e->der, e->len, flags, &e->why) != 0) {
		if (e->why == NULL)
			e->why = "not a certificate";
		return;
	}
	if (sc->visit.prepare == NULL)
		return;
	c.info = e->info;
	c.file = e->file;
	c.line = e->line;
	c.link = e->link;
	c.der = e->der;
	e->prepared = sc->visit.prepare(&c, sc->visit.arg);
}

/* Decode an entry; a file to read is read first, what it holds kept in it. */
static void
decode_entry(struct scan *sc, struct entry *e)
{
	struct scan cap;
	size_t i;

	if (e->path == NULL) {
		decode_cert(sc, e);
		return;
	}
	memset(&cap, 0, sizeof(cap));
	cap.ts = sc->ts;
	cap.capture = e;
	dir_read_file(&cap, e->path, e->dfd, e->rel, e->link, e->want_hash, e->unlinked);
	for (i = 0; i < e->nsubs; i++)
		decode_cert(sc, &e->subs[i]);
}

/* The oldest submitted batch with entries no thread has taken, or NULL. */
static struct batch *
next_work(struct scan *sc)
{
	size_t i;

	for (i = 0; i < sc->count; i++) {
		struct batch *b = &sc->ring[(sc->head + i) % NBATCH];

		if (b->submitted && b->next < b->n)
			return b;
	}
	return NULL;
}

static void *
decode_thread(void *arg)
{
	struct scan *sc = arg;
	struct batch *b;
	size_t from, to, i;

	pthread_mutex_lock(&sc->mu);
	for (;;) {
		if ((b = next_work(sc)) == NULL) {
			if (sc->quit)
				break;
			pthread_cond_wait(&sc->more, &sc->mu);
			continue;
		}
		from = b->next;
		to = from + CHUNK < b->n ? from + CHUNK : b->n;
		b->next = to;
		pthread_mutex_unlock(&sc->mu);
		for (i = from; i < to; i++)
			decode_entry(sc, &b->v[i]);
		pthread_mutex_lock(&sc->mu);
		b->done += to - from;
		if (b->done == b->n)
			pthread_cond_signal(&sc->done);
	}
	pthread_mutex_unlock(&sc->mu);
	return NULL;
}

/*
 * Start the decoding threads, once. When none starts, the reader decodes
 * each batch itself as it submits it.
 */
static void
start_threads(struct scan *sc)
{
	int t;

	sc->started = true;
	for (t = 0; t < sc->nthreads; t++) {
		if (pthread_create(&sc->tid[sc->running], NULL, decode_thread, sc) != 0)
			break;
		sc->running++;
	}
}

static void
stop_threads(struct scan *sc)
{
	int t;

	if (sc->running == 0)
		return;
	pthread_mutex_lock(&sc->mu);
	sc->quit = true;
	pthread_cond_broadcast(&sc->more);
	pthread_mutex_unlock(&sc->mu);
	for (t = 0; t < sc->running; t++)
		pthread_join(sc->tid[t], NULL);
	sc->running = 0;
}

static void
entry_release(struct entry *e)
{
	size_t i;

	free(e->der);
	if (!e->borrowed) {
		free(e->file);
		free(e->link);
	}
	free(e->prepared);
	tf_certinfo_clear(&e->info);
	free(e->path);
	for (i = 0; i < e->nsubs; i++)
		entry_release(&e->subs[i]);
	free(e->subs);
	for (i = 0; i < e->nfinds; i++) {
		free(e->finds[i].where);
		free(e->finds[i].action);
		free(e->finds[i].msg);
	}
	free(e->finds);
}

/* Check a decoded certificate and hand it out. */
static void
emit_cert(struct scan *sc, struct entry *e)
{
	struct tf_cert c;

	if (e->why != NULL) {
		char *where = entry_where(e);

		scan_finding(sc, TF_F_UNPARSABLE, where, "remove or replace the entry",
		    "entry cannot be decoded: %s", e->why);
		free(where);
		return;
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
	else if (sc->visit.emit != NULL)
		sc->stop = sc->visit.emit(&c, e->prepared, sc->visit.arg);
}

/* Check the entries of a decoded batch and hand them out, in store order. */
static void
emit_batch(struct scan *sc, struct batch *b)
{
	size_t i, k;

	for (i = 0; i < b->n && sc->stop == 0; i++) {
		struct entry *e = &b->v[i];

		if (e->path == NULL) {
			emit_cert(sc, e);
			continue;
		}
		insert_findings(sc, e);
		sc->stats->skipped += e->skipped;
		for (k = 0; k < e->nsubs && sc->stop == 0; k++)
			emit_cert(sc, &e->subs[k]);
	}
	for (i = 0; i < b->n; i++)
		entry_release(&b->v[i]);
}

/* Whether the oldest batch is submitted and decoded. */
static bool
oldest_decoded(struct scan *sc)
{
	struct batch *b = &sc->ring[sc->head];
	bool done;

	if (sc->running > 0)
		pthread_mutex_lock(&sc->mu);
	done = b->submitted && b->done == b->n;
	if (sc->running > 0)
		pthread_mutex_unlock(&sc->mu);
	return done;
}

/* Wait until the oldest batch is decoded, hand it out and free its slot. */
static void
retire_oldest(struct scan *sc)
{
	struct batch *b = &sc->ring[sc->head];

	if (sc->running > 0) {
		pthread_mutex_lock(&sc->mu);
		while (b->done < b->n) {
			/* rather than wait, decode what no thread has taken yet */
			struct batch *w = next_work(sc);
			size_t from, to, i;

			if (w == NULL) {
				pthread_cond_wait(&sc->done, &sc->mu);
				continue;
			}
			from = w->next;
			to = from + CHUNK < w->n ? from + CHUNK : w->n;
			w->next = to;
			pthread_mutex_unlock(&sc->mu);
			for (i = from; i < to; i++)
				decode_entry(sc, &w->v[i]);
			pthread_mutex_lock(&sc->mu);
			w->done += to - from;
		}
		pthread_mutex_unlock(&sc->mu);
	}
	emit_batch(sc, b);
	if (sc->running > 0)
		pthread_mutex_lock(&sc->mu);
	b->n = b->next = b->done = 0;
	b->submitted = false;
	sc->head = (sc->head + 1) % NBATCH;
	sc->count--;
	if (sc->running > 0)
		pthread_mutex_unlock(&sc->mu);
}

/* Hand the batch being filled to the decoding threads. */
static void
submit(struct scan *sc, bool last)
{
	struct batch *b = &sc->ring[(sc->head + sc->count - 1) % NBATCH];
	size_t i;

	/* a small store is decoded faster than threads start */
	if (!sc->started && !(last && sc->queued < PARALLEL_MIN))
		start_threads(sc);
	if (sc->running == 0) {
		for (i = 0; i < b->n; i++)
			decode_entry(sc, &b->v[i]);
		b->next = b->done = b->n;
		b->submitted = true;
		return;
	}
	pthread_mutex_lock(&sc->mu);
	b->submitted = true;
	pthread_cond_broadcast(&sc->more);
	pthread_mutex_unlock(&sc->mu);
}

/* Submit what is being filled and hand out every batch still in flight. */
static void
drain(struct scan *sc)
{
	if (sc->count > 0 && !sc->ring[(sc->head + sc->count - 1) % NBATCH].submitted)
		submit(sc, true);
	while (sc->count > 0)
		retire_oldest(sc);
}

/* A fresh entry at the end of the batch being filled; NULL when stopped. */
static struct entry *
new_entry(struct scan *sc)
{
	struct batch *b = NULL;
	struct entry *e;

	if (sc->stop != 0)
		return NULL;
	if (sc->count > 0)
		b = &sc->ring[(sc->head + sc->count - 1) % NBATCH];
	if (b == NULL || b->submitted) {
		/* a new batch: the oldest goes out first when all are in flight */
		if (sc->count == NBATCH)
			retire_oldest(sc);
		if (sc->running > 0)
			pthread_mutex_lock(&sc->mu);
		b = &sc->ring[(sc->head + sc->count) % NBATCH];
		sc->count++;
		if (sc->running > 0)
			pthread_mutex_unlock(&sc->mu);
		if (b->v == NULL)
			b->v = tf_calloc(BATCH, sizeof(*b->v));
		if (sc->stop != 0)
			return NULL;
	}
	e = &b->v[b->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* Queue the entry new_entry() returned; submit its batch when it is full. */
static int
queue_entry(struct scan *sc)
{
	struct batch *b = &sc->ring[(sc->head + sc->count - 1) % NBATCH];

	sc->queued++;
	if (b->n == BATCH) {
		submit(sc, false);
		/* hand out what is already decoded, so that output flows */
		while (sc->count > 1 && oldest_decoded(sc))
			retire_oldest(sc);
	}
	return sc->stop;
}

void
scan_drain(struct scan *sc)
{
	drain(sc);
}

int
scan_push(struct scan *sc, unsigned char *der, size_t len, const char *file, long line,
    const char *link, long long want_hash)
{
	struct entry *e;

	if (sc->capture != NULL) {
		struct entry *f = sc->capture;

		if (f->nsubs == f->subcap) {
			f->subcap = f->subcap ? 2 * f->subcap : 1;
			f->subs = tf_realloc(f->subs, f->subcap * sizeof(*f->subs));
		}
		e = &f->subs[f->nsubs++];
		memset(e, 0, sizeof(*e));
		/* what a file holds shares its names, as most files hold one */
		if (file == f->path && link == f->link) {
			e->der = der;
			e->len = len;
			e->file = f->path;
			e->line = line;
			e->link = f->link;
			e->want_hash = want_hash;
			e->borrowed = true;
			return 0;
		}
	} else if ((e = new_entry(sc)) == NULL) {
		free(der);
		return sc->stop;
	}
	e->der = der;
	e->len = len;
	e->file = tf_strdup(file);
	e->line = line;
	e->link = link != NULL ? tf_strdup(link) : NULL;
	e->want_hash = want_hash;
	return sc->capture != NULL ? 0 : queue_entry(sc);
}

int
scan_push_file(struct scan *sc, char *path, int dfd, const char *rel, const char *link,
    long long want_hash, bool unlinked)
{
	struct entry *e;

	if ((e = new_entry(sc)) == NULL) {
		free(path);
		return sc->stop;
	}
	e->path = path;
	e->dfd = dfd;
	e->rel = rel;
	e->link = link != NULL ? tf_strdup(link) : NULL;
	e->want_hash = want_hash;
	e->unlinked = unlinked;
	e->fpos = sc->findings->n;
	return queue_entry(sc);
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

/* The scan behind truststore_scan() and truststore_scan_visit(). */
static int
run_scan(struct truststore *ts, const struct truststore_checks *checks,
    struct tf_findings *findings, struct truststore_stats *stats, struct scan *sc)
{
	const struct tf_policy *pol = checks->policy;
	struct truststore_stats dummy;
	long ncpu;
	size_t i;
	int rc;

	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	sc->ts = ts;
	sc->checks = checks;
	sc->findings = findings;
	sc->stats = stats;
	sc->required_seen = tf_calloc(pol != NULL ? pol->nrequired : 1, sizeof(bool));
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	sc->nthreads = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (int)ncpu;
	pthread_mutex_init(&sc->mu, NULL);
	pthread_cond_init(&sc->more, NULL);
	pthread_cond_init(&sc->done, NULL);

	switch (ts->format) {
	case TS_HASHED_DIR:
	case TS_CERT_DIR:
		rc = dir_scan(sc, ts->format == TS_HASHED_DIR);
		break;
	default:
		rc = read_file_store(sc);
		break;
	}
	drain(sc);
	stop_threads(sc);
	if (rc == 0 && sc->stop == 0) {
		if (stats->certificates == 0)
			scan_finding(sc, TF_F_EMPTY_STORE, NULL,
			    "check the path, or restore the store from a backup or a bundle",
			    "no certificate found in '%s'", ts->host);
		for (i = 0; pol != NULL && i < pol->nrequired; i++) {
			const struct tf_policy_entry *pe = &pol->required[i];
			char hex[65];

			if (sc->required_seen[i])
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
	seen_release(&sc->seen);
	for (i = 0; i < NBATCH; i++)
		free(sc->ring[i].v);
	free(sc->required_seen);
	pthread_mutex_destroy(&sc->mu);
	pthread_cond_destroy(&sc->more);
	pthread_cond_destroy(&sc->done);
	return rc != 0 ? rc : sc->stop;
}

int
truststore_scan(struct truststore *ts, const struct truststore_checks *checks,
    struct tf_findings *findings, struct truststore_stats *stats, truststore_cert_fn fn, void *arg)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.fn = fn;
	sc.arg = arg;
	return run_scan(ts, checks, findings, stats, &sc);
}

int
truststore_scan_visit(struct truststore *ts, const struct truststore_checks *checks,
    struct tf_findings *findings, struct truststore_stats *stats,
    const struct truststore_visitor *visitor)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.visit = *visitor;
	return run_scan(ts, checks, findings, stats, &sc);
}
