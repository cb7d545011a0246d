/*
 * cli/statfile.c - the stat cache on disk: one file in the state directory,
 * a whole snapshot followed by small deltas appended after each change,
 * every batch checksummed so that a torn write reads as the end of the
 * cache, never as wrong content.
 *
 * Why no fsync: the cache only ever makes a scan skip reading a file whose
 * stat, taken when the file held content X, is unchanged. A cache lost or
 * rolled back by a crash still holds true statements (or fails its checksum,
 * or names a head the log has moved past, which makes the scan walk the
 * log's tree instead); so losing it costs time, never a missed change.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "../txn/txn.h"
#include "statcache_int.h"

#define MAGIC "trustfix-statcache 1\n"
#define CACHE_NAME "statcache"
#define TEMP_NAME "statcache.tmp"
#define CACHE_MAX ((size_t)1 << 30)
#define BATCHES_MAX 32 /* deltas before the next save writes a snapshot */
#define HDR_LEN (1 + 1 + 1 + 20 + 20 + 4)
#define SUM_LEN 32

/* ---- the file format ---- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
};

static void
put(struct wbuf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = b->cap ? b->cap : 4096;
		while (b->len + len > b->cap)
			b->cap *= 2;
		b->p = tf_realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void
put_u8(struct wbuf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

static void
put_u64(struct wbuf *b, uint64_t v)
{
	unsigned char x[8];
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	put(b, x, 8);
}

static void
put_str16(struct wbuf *b, const char *s)
{
	size_t n = strlen(s);

	put_u8(b, (unsigned)(n & 0xff));
	put_u8(b, (unsigned)(n >> 8));
	put(b, s, n);
}

static void
put_header(struct wbuf *b, const struct sc_section *s, char tag)
{
	put_u8(b, (unsigned char)tag);
	put_str16(b, s->path);
	put_u8(b, (s->is_dir ? 1u : 0u) | (s->has_listing ? 2u : 0u));
	put_u64(b, s->dev);
	put_u64(b, s->ino);
	put_u64(b, (uint64_t)s->mtime_ns);
	put_u64(b, (uint64_t)s->ctime_ns);
	put_u64(b, (uint64_t)s->listed_at);
}

static void
put_entry(struct wbuf *b, const struct sc_entry *e)
{
	put_u8(b, 'E');
	put_u8(b, (unsigned)strlen(e->name));
	put(b, e->name, strlen(e->name));
	put_u8(b, e->has_stat);
	put_u64(b, e->st_mode);
	put_u64(b, e->ino);
	put_u64(b, e->size);
	put_u64(b, (uint64_t)e->mtime_ns);
	put_u64(b, (uint64_t)e->ctime_ns);
	put(b, e->id, 20);
}

/* Start a batch: its header, with the payload length filled in by seal(). */
static void
begin_batch(struct wbuf *b, char kind, const unsigned char *parent, const unsigned char *head)
{
	static const unsigned char zero[20];

	put_u8(b, 'B');
	put_u8(b, (unsigned char)kind);
	put_u8(b, (parent != NULL ? 1u : 0u) | (head != NULL ? 2u : 0u));
	put(b, parent != NULL ? parent : zero, 20);
	put(b, head != NULL ? head : zero, 20);
	put(b, zero, 4);
}

static void
seal(struct wbuf *b, size_t start)
{
	unsigned char md[SUM_LEN];
	size_t len = b->len - start - HDR_LEN;
	unsigned i;

	for (i = 0; i < 4; i++)
		b->p[start + HDR_LEN - 4 + i] = (unsigned char)(len >> (8 * i));
	EVP_Digest(b->p + start, b->len - start, md, NULL, EVP_sha256(), NULL);
	put(b, md, SUM_LEN);
}

struct rbuf {
	const unsigned char *p, *end;
	bool bad;
};

static const unsigned char *
take(struct rbuf *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return p;
}

static unsigned
get_u8(struct rbuf *r)
{
	const unsigned char *p = take(r, 1);

	return p != NULL ? *p : 0;
}

static uint64_t
get_u64(struct rbuf *r)
{
	const unsigned char *p = take(r, 8);
	uint64_t v;

	if (p == NULL)
		return 0;
	memcpy(&v, p, 8); /* one load, not eight: a big store has a million of these */
	return le64toh(v);
}

/* A length-prefixed string into buf (NUL-terminated); false when malformed. */
static bool
get_str(struct rbuf *r, char *buf, size_t len)
{
	const unsigned char *p = take(r, len);

	if (p == NULL || memchr(p, '\0', len) != NULL)
		return (r->bad = true), false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return true;
}

/* Apply the records of one batch. */
static bool
apply_records(struct statcache *sc, struct rbuf *r)
{
	struct sc_section *cur = NULL;
	char path[PATH_MAX + 1];
	size_t n;

	while (!r->bad && r->p < r->end) {
		switch (get_u8(r)) {
		case 'S':
		case 'P': {
			char tag = (char)r->p[-1];
			unsigned flags;

			n = get_u8(r);
			n |= (size_t)get_u8(r) << 8;
			if (n > PATH_MAX || !get_str(r, path, n))
				return false;
			cur = sc_section_find(sc, path);
			if (tag == 'P')
				break;
			flags = get_u8(r);
			if (cur == NULL || cur->is_dir != ((flags & 1) != 0))
				cur = sc_section_new(sc, path, (flags & 1) != 0);
			cur->has_listing = (flags & 2) != 0;
			cur->dev = get_u64(r);
			cur->ino = get_u64(r);
			cur->mtime_ns = (int64_t)get_u64(r);
			cur->ctime_ns = (int64_t)get_u64(r);
			cur->listed_at = (int64_t)get_u64(r);
			break;
		}
		case 'E': {
			char name[256];
			struct sc_entry *e;

			n = get_u8(r);
			if (!get_str(r, name, n))
				return false;
			e = sc_entry_new_pooled(sc, name);
			e->has_stat = get_u8(r) != 0;
			e->st_mode = (uint32_t)get_u64(r);
			e->ino = get_u64(r);
			e->size = get_u64(r);
			e->mtime_ns = (int64_t)get_u64(r);
			e->ctime_ns = (int64_t)get_u64(r);
			if (take(r, 20) != NULL)
				memcpy(e->id, r->p - 20, 20);
			if (cur == NULL || r->bad) {
				sc_entry_free(e);
				break;
			}
			/* a listing gains a name only from a listing or a change of ours */
			sc_entry_put(sc, cur, e);
			break;
		}
		case 'R': {
			char name[256];

			n = get_u8(r);
			if (!get_str(r, name, n))
				return false;
			if (cur != NULL)
				sc_entry_remove(sc, cur, name);
			break;
		}
		case 'D': {
			/* a change of the directory that did not check its listing */
			bool has_listing = get_u8(r) != 0;
			uint64_t dev = get_u64(r), ino = get_u64(r);
			int64_t mt = (int64_t)get_u64(r), ct = (int64_t)get_u64(r);

			if (r->bad)
				return false;
			if (cur == NULL || !cur->is_dir)
				break;
			cur->has_listing = cur->has_listing && has_listing;
			cur->dev = dev;
			cur->ino = ino;
			cur->mtime_ns = mt;
			cur->ctime_ns = ct;
			break;
		}
		case 'X':
			if (cur != NULL)
				sc_section_drop(sc, cur->path);
			cur = NULL;
			break;
		default:
			return false;
		}
	}
	return !r->bad;
}

/* Replay the batches of the file; stop at the first that does not check out. */
static void
replay(struct statcache *sc, const unsigned char *data, size_t len)
{
	const unsigned char *p = data + strlen(MAGIC), *end = data + len;
	unsigned char md[SUM_LEN];

	if (len < strlen(MAGIC) || memcmp(data, MAGIC, strlen(MAGIC)) != 0)
		return;
	sc->is_replaying = true;
	for (;;) {
		struct rbuf r;
		size_t plen = 0, i;
		char kind;
		unsigned flags;

		if (p == end) {
			sc->is_whole = true;
			break;
		}
		if ((size_t)(end - p) < HDR_LEN + SUM_LEN || p[0] != 'B')
			break;
		for (i = 0; i < 4; i++)
			plen |= (size_t)p[HDR_LEN - 4 + i] << (8 * i);
		if (plen > (size_t)(end - p) - HDR_LEN - SUM_LEN)
			break;
		EVP_Digest(p, HDR_LEN + plen, md, NULL, EVP_sha256(), NULL);
		if (memcmp(md, p + HDR_LEN + plen, SUM_LEN) != 0)
			break;
		kind = (char)p[1];
		flags = p[2];
		if (kind == 'S') {
			sc_reset(sc);
		} else if (kind != 'D' || !sc->has_head || !(flags & 1) ||
		    memcmp(p + 3, sc->head, 20) != 0) {
			break; /* a delta that does not follow: the rest is stale */
		}
		r.p = p + HDR_LEN;
		r.end = r.p + plen;
		r.bad = false;
		if (!apply_records(sc, &r)) {
			sc_reset(sc);
			break;
		}
		sc->has_head = (flags & 2) != 0;
		memcpy(sc->head, p + 3 + 20, 20);
		sc->nbatches = kind == 'S' ? 1 : sc->nbatches + 1;
		p += HDR_LEN + plen + SUM_LEN;
	}
	sc->has_filehead = sc->has_head;
	memcpy(sc->filehead, sc->head, 20);
	sc->is_replaying = false;
	sc_mark_clean(sc);
}

struct statcache *
statcache_load(struct tf_ctx *ctx)
{
	struct statcache *sc = tf_calloc(1, sizeof(*sc));
	unsigned char *data = NULL;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = tf_open(ctx, STATCACHE_PATH, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0)) == -1)
		return sc;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= CACHE_MAX) {
		data = tf_malloc((size_t)st.st_size + 1);
		while (got < (size_t)st.st_size &&
		    ((n = read(fd, data + got, (size_t)st.st_size - got)) > 0 ||
		        (n < 0 && errno == EINTR)))
			got += n > 0 ? (size_t)n : 0;
		replay(sc, data, got);
	}
	close(fd);
	free(data);
	return sc;
}

/* ---- writing ---- */

/* Write 'b' to the regular file 'name' of the state directory (no link, no FIFO). */
static int
write_all_at(int dfd, const char *name, int flags, const struct wbuf *b)
{
	struct stat st;
	int fd, rc = -1;

	fd = openat(dfd, name, flags | O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && tf_write_all(fd, b->p, b->len) == 0)
		rc = 0;
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

static size_t
total_entries(const struct statcache *sc)
{
	size_t i, n = 0;

	for (i = 0; i < sc->nsections; i++)
		n += sc->sections[i]->n;
	return n;
}

static bool
is_dirty(const struct statcache *sc)
{
	size_t i;

	for (i = 0; i < sc->nsections; i++)
		if (sc->sections[i]->is_dirty)
			return true;
	return sc->ndirty > 0 || sc->ndropped > 0 || !sc->has_filehead ||
	    memcmp(sc->head, sc->filehead, 20) != 0;
}

/* What changed since the file was written, as one delta batch. */
static void
build_delta(const struct statcache *sc, struct wbuf *b)
{
	size_t start = b->len, i, k;

	begin_batch(b, 'D', sc->filehead, sc->head);
	for (i = 0; i < sc->ndropped; i++) {
		put_u8(b, 'P');
		put_str16(b, sc->dropped[i]);
		put_u8(b, 'X');
	}
	for (i = 0; i < sc->nsections; i++) {
		const struct sc_section *s = sc->sections[i];
		bool any = s->nremoved > 0 || s->nchanged > 0;

		if (s->is_dirty) {
			put_header(b, s, 'S');
		} else if (any) {
			put_u8(b, 'P');
			put_str16(b, s->path);
		}
		for (k = 0; k < s->nremoved; k++) {
			put_u8(b, 'R');
			put_u8(b, (unsigned)strlen(s->removed[k]));
			put(b, s->removed[k], strlen(s->removed[k]));
		}
		/* a name put then removed is found no more: its R says it all */
		for (k = 0; k < s->nchanged; k++) {
			const struct sc_entry *e = sc_entry_find(s, s->changed[k], NULL);

			if (e != NULL)
				put_entry(b, e);
		}
	}
	seal(b, start);
}

static void
build_snapshot(const struct statcache *sc, struct wbuf *b)
{
	size_t start, i, k;

	put(b, MAGIC, strlen(MAGIC));
	start = b->len;
	begin_batch(b, 'S', NULL, sc->has_head ? sc->head : NULL);
	for (i = 0; i < sc->nsections; i++) {
		put_header(b, sc->sections[i], 'S');
		for (k = 0; k < sc->sections[i]->n; k++)
			put_entry(b, sc->sections[i]->v[k]);
	}
	seal(b, start);
}

void
statcache_save(struct statcache *sc, struct tf_ctx *ctx, bool is_forced)
{
	struct wbuf b = { 0 };
	int dfd;
	bool is_delta;

	if (!sc->has_head || (sc->is_whole && !is_dirty(sc)))
		return;
	/* a run with nothing to do writes nothing: only a head the file lacks */
	if (!is_forced && sc->is_whole && sc->has_filehead &&
	    memcmp(sc->head, sc->filehead, 20) == 0)
		return;
	if ((dfd = tf_dir_open(ctx, TXN_STATE_DIR)) == -1)
		return;
	/* small news as a delta, until the deltas add up: then a new snapshot */
	is_delta = sc->is_whole && sc->has_filehead && sc->nbatches < BATCHES_MAX &&
	    sc->ndirty + sc->ndropped <= total_entries(sc) / 8 + 64;
	if (is_delta) {
		build_delta(sc, &b);
		if (write_all_at(dfd, CACHE_NAME, O_APPEND, &b) == 0) {
			sc->nbatches++;
			goto done;
		}
		b.len = 0;
	}
	build_snapshot(sc, &b);
	if (write_all_at(dfd, TEMP_NAME, O_CREAT | O_TRUNC, &b) != 0 ||
	    renameat(dfd, TEMP_NAME, dfd, CACHE_NAME) != 0) {
		unlinkat(dfd, TEMP_NAME, 0);
		goto out;
	}
	sc->nbatches = 1;
	sc->is_whole = true;
done:
	memcpy(sc->filehead, sc->head, 20);
	sc->has_filehead = true;
	sc_mark_clean(sc);
out:
	close(dfd);
	free(b.p);
}

/*
 * A change recorded without the cache in memory (one a crashed run made,
 * recorded by the next): its files, with no stat, and its directories
 * without a listing, for the next scan to read again.
 */
void
statcache_note_commit(struct tf_ctx *ctx, const char *parent, const char *head,
    const struct sc_change *files, size_t n)
{
	unsigned char pid[20], hid[20], id[20];
	struct wbuf b = { 0 };
	size_t i, k;
	int dfd;

	if (!sc_hex_to_id(pid, parent) || !sc_hex_to_id(hid, head))
		return;
	begin_batch(&b, 'D', pid, hid);
	for (i = 0; i < n; i++) {
		char *path = sc_path_norm(files[i].path), *dir;
		const char *name;
		struct sc_entry *e;

		sc_path_split(path, &dir, &name);
		for (k = 0; k < 2; k++) {
			put_u8(&b, 'P');
			put_str16(&b, k == 0 ? dir : path);
			if (k == 0) {
				put_u8(&b, 'D');
				put_u8(&b, 0);
				put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
				put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
			}
			if (files[i].id == NULL || !sc_hex_to_id(id, files[i].id)) {
				put_u8(&b, 'R');
				put_u8(&b, k == 0 ? (unsigned)strlen(name) : 0);
				put(&b, name, k == 0 ? strlen(name) : 0);
				continue;
			}
			e = sc_entry_new(k == 0 ? name : "");
			memcpy(e->id, id, 20);
			e->st_mode = sc_st_mode(files[i].mode);
			put_entry(&b, e);
			free(e);
		}
		free(dir);
		free(path);
	}
	seal(&b, 0);
	if ((dfd = tf_dir_open(ctx, TXN_STATE_DIR)) != -1) {
		(void)write_all_at(dfd, CACHE_NAME, O_APPEND, &b);
		close(dfd);
	}
	free(b.p);
}
