/*
 * cli/statcache.c - the stat cache in memory: for each store, its files
 * with the blob ids the audit log records for them and the stat they had
 * when their content had those ids, and the listing of a directory store
 * with the directory's own stat. statfile.c keeps it on disk, statscan.c
 * fills it from the file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../audit/audit.h"
#include "../core/path.h"
#include "statcache_int.h"

#define SETTLE_WAIT_MS 50            /* longest wait for a directory's time stamp to age */
#define POOL_BLOCK ((size_t)1 << 20) /* bytes of entries allocated at once */

/* ---- sections and entries ---- */

char *
sc_path_norm(const char *path)
{
	char *out = tf_malloc(strlen(path) + 2);
	const char *p = path, *end;
	size_t n = 0, len;

	while (*p != '\0') {
		while (*p == '/')
			p++;
		end = strchr(p, '/');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

struct sc_section *
sc_section_find(const struct statcache *sc, const char *path)
{
	size_t i;

	for (i = 0; i < sc->nsections; i++)
		if (strcmp(sc->sections[i]->path, path) == 0)
			return sc->sections[i];
	return NULL;
}

static void
section_free(struct sc_section *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		sc_entry_free(s->v[i]);
	for (i = 0; i < s->nremoved; i++)
		free(s->removed[i]);
	for (i = 0; i < s->nchanged; i++)
		free(s->changed[i]);
	free(s->removed);
	free(s->changed);
	free(s->v);
	free(s->path);
	free(s);
}

void
sc_section_drop(struct statcache *sc, const char *path)
{
	size_t i;

	for (i = 0; i < sc->nsections; i++) {
		if (strcmp(sc->sections[i]->path, path) != 0)
			continue;
		if (!sc->is_replaying) {
			sc->dropped = tf_realloc(sc->dropped, (sc->ndropped + 1) * sizeof(char *));
			sc->dropped[sc->ndropped++] = tf_strdup(path);
		}
		section_free(sc->sections[i]);
		sc->sections[i] = sc->sections[--sc->nsections];
		return;
	}
}

struct sc_section *
sc_section_new(struct statcache *sc, const char *path, bool is_dir)
{
	struct sc_section *s = tf_calloc(1, sizeof(*s));

	sc_section_drop(sc, path);
	s->path = tf_strdup(path);
	s->is_dir = is_dir;
	s->is_dirty = true;
	sc->sections = tf_realloc(sc->sections, (sc->nsections + 1) * sizeof(*sc->sections));
	sc->sections[sc->nsections++] = s;
	return s;
}

struct sc_entry *
sc_entry_new(const char *name)
{
	size_t n = strlen(name);
	struct sc_entry *e = tf_calloc(1, sizeof(*e) + n + 1);

	memcpy(e->name, name, n + 1);
	return e;
}

/*
 * The entries read from the file come from large blocks (a store of
 * 100,000 files has 200,000 of them), freed with the cache.
 */
struct sc_entry *
sc_entry_new_pooled(struct statcache *sc, const char *name)
{
	size_t n = strlen(name), size = (sizeof(struct sc_entry) + n + 1 + 7) & ~(size_t)7;
	struct sc_pool *p = sc->pool;
	struct sc_entry *e;

	if (p == NULL || p->cap - p->used < size) {
		size_t cap = size > POOL_BLOCK ? size : POOL_BLOCK;

		p = tf_malloc(sizeof(*p) + cap);
		p->next = sc->pool;
		p->used = 0;
		p->cap = cap;
		sc->pool = p;
	}
	e = (struct sc_entry *)(void *)(p->data + p->used);
	p->used += size;
	memset(e, 0, sizeof(*e));
	e->is_pooled = true;
	memcpy(e->name, name, n + 1);
	return e;
}

void
sc_entry_free(struct sc_entry *e)
{
	if (e != NULL && !e->is_pooled)
		free(e);
}

struct sc_entry *
sc_entry_find(const struct sc_section *s, const char *name, size_t *at)
{
	size_t lo = 0, hi = s->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(s->v[mid]->name, name);
		if (c == 0) {
			if (at != NULL)
				*at = mid;
			return s->v[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at != NULL)
		*at = lo;
	return NULL;
}

void
sc_entry_put(struct statcache *sc, struct sc_section *s, struct sc_entry *e)
{
	size_t at;

	if (!sc->is_replaying) {
		s->changed = tf_realloc(s->changed, (s->nchanged + 1) * sizeof(char *));
		s->changed[s->nchanged++] = tf_strdup(e->name);
		sc->ndirty++;
	}
	/* a snapshot, and a fresh listing, come in order: append */
	if (s->n == 0 || strcmp(s->v[s->n - 1]->name, e->name) < 0)
		at = s->n;
	else if (sc_entry_find(s, e->name, &at) != NULL) {
		sc_entry_free(s->v[at]);
		s->v[at] = e;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = tf_realloc(s->v, s->cap * sizeof(*s->v));
	}
	memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof(*s->v));
	s->v[at] = e;
	s->n++;
}

void
sc_entry_remove(struct statcache *sc, struct sc_section *s, const char *name)
{
	size_t at;

	if (sc_entry_find(s, name, &at) == NULL)
		return;
	if (!sc->is_replaying) {
		s->removed = tf_realloc(s->removed, (s->nremoved + 1) * sizeof(char *));
		s->removed[s->nremoved++] = tf_strdup(name);
		sc->ndirty++;
	}
	sc_entry_free(s->v[at]);
	memmove(s->v + at, s->v + at + 1, (s->n - at - 1) * sizeof(*s->v));
	s->n--;
}

/* Forget what changed: the file now says it all. */
void
sc_mark_clean(struct statcache *sc)
{
	size_t i, k;

	for (i = 0; i < sc->nsections; i++) {
		struct sc_section *s = sc->sections[i];

		s->is_dirty = false;
		for (k = 0; k < s->nremoved; k++)
			free(s->removed[k]);
		for (k = 0; k < s->nchanged; k++)
			free(s->changed[k]);
		free(s->removed);
		free(s->changed);
		s->removed = s->changed = NULL;
		s->nremoved = s->nchanged = 0;
	}
	for (i = 0; i < sc->ndropped; i++)
		free(sc->dropped[i]);
	free(sc->dropped);
	sc->dropped = NULL;
	sc->ndropped = 0;
	sc->ndirty = 0;
}

void
sc_reset(struct statcache *sc)
{
	size_t i;

	for (i = 0; i < sc->nsections; i++)
		section_free(sc->sections[i]);
	free(sc->sections);
	sc->sections = NULL;
	sc->nsections = 0;
	sc->has_head = false;
}

void
statcache_free(struct statcache *sc)
{
	size_t i;

	if (sc == NULL)
		return;
	sc_mark_clean(sc);
	for (i = 0; i < sc->nsections; i++)
		section_free(sc->sections[i]);
	free(sc->sections);
	while (sc->pool != NULL) {
		struct sc_pool *next = sc->pool->next;

		free(sc->pool);
		sc->pool = next;
	}
	free(sc);
}

/* ---- queries ---- */

bool
sc_hex_to_id(unsigned char id[20], const char *hex)
{
	return hex != NULL && strlen(hex) == 40 && tf_unhex(id, 20, hex) == 0;
}

bool
statcache_is_at(const struct statcache *sc, const char *head)
{
	unsigned char id[20];

	return sc->has_head && sc_hex_to_id(id, head) && memcmp(id, sc->head, 20) == 0;
}

void
sc_files_free(struct sc_file *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].data);
	}
	free(v);
}

/* ---- changes recorded ---- */

uint32_t
sc_st_mode(unsigned audit_mode)
{
	return audit_mode == AUDIT_MODE_LINK ? (S_IFLNK | 0777)
	    : audit_mode == AUDIT_MODE_EXEC  ? (S_IFREG | 0755)
	                                     : (S_IFREG | 0644);
}

/* Split a normalised path into its directory and its last name. */
void
sc_path_split(const char *path, char **dir, const char **name)
{
	const char *slash = strrchr(path, '/');

	*dir = slash == path ? tf_strdup("/") : tf_strndup(path, (size_t)(slash - path));
	*name = slash + 1;
}

void
statcache_apply(struct statcache *sc, const struct sc_change *files, size_t n, const char *head)
{
	unsigned char id[20];
	size_t i, k;

	for (i = 0; i < n; i++) {
		char *path = sc_path_norm(files[i].path), *dir;
		const char *name;
		struct sc_section *ss[2];

		sc_path_split(path, &dir, &name);
		ss[0] = sc_section_find(sc, dir);
		ss[1] = sc_section_find(sc, path);
		for (k = 0; k < 2; k++) {
			struct sc_section *s = ss[k];
			const char *key = k == 0 ? name : "";
			struct sc_entry *e;

			if (s == NULL || s->is_dir != (k == 0))
				continue;
			e = sc_entry_find(s, key, NULL);
			if (files[i].id == NULL) {
				sc_entry_remove(sc, s, key);
				continue;
			}
			if (!sc_hex_to_id(id, files[i].id))
				continue;
			if (e != NULL && memcmp(e->id, id, 20) == 0 &&
			    sc_audit_mode(e->st_mode) == files[i].mode)
				continue;
			/* news for a section that did not see it: its listing is old */
			if (e == NULL)
				s->has_listing = false;
			s->is_dirty = true;
			e = sc_entry_new(key);
			memcpy(e->id, id, 20);
			e->st_mode = sc_st_mode(files[i].mode);
			sc_entry_put(sc, s, e);
		}
		free(dir);
		free(path);
	}
	if (sc_hex_to_id(id, head)) {
		memcpy(sc->head, id, 20);
		sc->has_head = true;
	}
}

/*
 * The directory 'dir' after our change: its stat, taken once the clock has
 * moved past its time stamps, so that any later change gives it new ones.
 * False when it cannot be had (within a short wait).
 */
static bool
settled_dir_stat(struct tf_ctx *ctx, const char *dir, struct stat *st)
{
	struct timespec ms = { 0, 1000000 };
	int fd, waited;
	bool ok = false;

	if ((fd = tf_open(ctx, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0)) == -1)
		return false;
	for (waited = 0; waited <= SETTLE_WAIT_MS; waited++) {
		int64_t clock = sc_coarse_now_ns();

		if (fstat(fd, st) == -1)
			break;
		if (sc_is_settled(st, clock)) {
			ok = true;
			break;
		}
		nanosleep(&ms, NULL);
	}
	close(fd);
	return ok;
}

/*
 * Why a listing may follow our own change without reading the directory
 * again: this run's scan checked the listing (the directory's stat was the
 * one of the listing, or it was read again), and since then this run,
 * holding the lock, made exactly the changes in 'files'. So the names are
 * the checked ones with these changes, as of the stat taken now. What this
 * cannot see is another program creating or removing a file in the store
 * during the run, between the scan and this stat: a race the lock cannot
 * prevent, and one the plan is exposed to as well. To bound how long such
 * a race could stay hidden, a scan reads a directory again when its
 * listing was last read more than ten minutes ago. A file's content is
 * not carried on this way: the files written get no stat, and the next
 * scan reads them once.
 */
void
statcache_record(struct statcache *sc, struct tf_ctx *ctx, const struct sc_change *files, size_t n,
    const char *head)
{
	struct sc_section **dirs = tf_calloc(n ? n : 1, sizeof(*dirs));
	unsigned char id[20];
	struct stat st;
	size_t i, k, ndirs = 0;

	for (i = 0; i < n; i++) {
		char *path = sc_path_norm(files[i].path), *dir;
		const char *name;
		struct sc_section *ss[2];

		sc_path_split(path, &dir, &name);
		ss[0] = sc_section_find(sc, dir);
		ss[1] = sc_section_find(sc, path);
		for (k = 0; k < 2; k++) {
			struct sc_section *s = ss[k];
			const char *key = k == 0 ? name : "";
			struct sc_entry *e;

			if (s == NULL || s->is_dir != (k == 0))
				continue;
			if (k == 0 && !s->is_checked)
				s->has_listing = false;
			if (files[i].id == NULL || !sc_hex_to_id(id, files[i].id)) {
				sc_entry_remove(sc, s, key);
				continue;
			}
			e = sc_entry_new(key);
			memcpy(e->id, id, 20);
			e->st_mode = sc_st_mode(files[i].mode);
			sc_entry_put(sc, s, e);
		}
		for (k = 0; k < ndirs && dirs[k] != ss[0]; k++)
			;
		if (ss[0] != NULL && ss[0]->is_dir && k == ndirs)
			dirs[ndirs++] = ss[0];
		free(dir);
		free(path);
	}
	/* the stat of each directory changed, for its listing to go on with */
	for (k = 0; k < ndirs; k++) {
		struct sc_section *s = dirs[k];

		if (s->has_listing && settled_dir_stat(ctx, s->path, &st)) {
			s->dev = st.st_dev;
			s->ino = st.st_ino;
			s->mtime_ns = sc_ts_ns(&st.st_mtim);
			s->ctime_ns = sc_ts_ns(&st.st_ctim);
		} else {
			s->has_listing = false;
		}
		s->is_dirty = true;
	}
	free(dirs);
	if (sc_hex_to_id(id, head)) {
		memcpy(sc->head, id, 20);
		sc->has_head = true;
	}
	statcache_save(sc, ctx, true);
}

/* ---- scope ---- */

size_t
statcache_count(const struct statcache *sc, const char *store)
{
	char *path = sc_path_norm(store);
	const struct sc_section *s = sc_section_find(sc, path);

	free(path);
	return s != NULL ? s->n : 0;
}

void
statcache_keep(struct statcache *sc, char *const *stores, size_t n)
{
	size_t i, k;

	for (i = 0; i < sc->nsections;) {
		bool keep = false;

		for (k = 0; k < n && !keep; k++) {
			char *path = sc_path_norm(stores[k]);

			keep = strcmp(path, sc->sections[i]->path) == 0;
			free(path);
		}
		if (keep)
			i++;
		else
			sc_section_drop(sc, sc->sections[i]->path);
	}
}
