/*
 * audit/objects.c - where the objects of a change wait until the change is
 * complete: an in-memory object database in front of the repository's,
 * flushed (fsynced) before the branch moves. A refused or failed change so
 * leaves nothing on disk, and a big one becomes one pack, not one fsync per
 * object.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2/sys/odb_backend.h>

#include "../core/fsutil.h"
#include "../core/path.h"
#include "internal.h"

/*
 * Up to this many objects a change is written as loose objects (each with
 * its own fsync, as a small change has a handful: a blob or two, the trees
 * on their paths, the commit); above it, as one pack, which costs a few
 * fsyncs whatever its size but adds a pack file.
 */
#define LOOSE_MAX 64

/*
 * Objects this big are written as zlib streams of stored blocks, that is
 * without compression (what git writes with core.looseCompression=0, and
 * reads like any other object; libgit2 cannot make one: at level 0 it
 * leaves out zlib altogether). Only trees get there: the tree of a folder
 * of 100,000 files is some 8 MiB, mostly object ids that do not compress,
 * rewritten on every change of the folder; deflating it, and inflating it
 * again on the next change, cost more than all the rest of the change.
 */
#define RAW_MIN ((size_t)256 << 10)
#define STORED_MAX 65535 /* bytes of one stored block */

struct memobj {
	git_oid oid;
	git_object_t type;
	size_t len;
	unsigned char data[];
};

struct memodb {
	git_odb_backend parent; /* first: libgit2 sees only this */
	git_odb_backend *loose; /* writes loose objects to disk, fsynced */
	struct memobj **v;
	size_t n, cap;
	size_t *slots; /* open addressing: index + 1 into v, 0 when free */
	size_t nslots; /* a power of two, at most half full */
};

static size_t
slot_of(const struct memodb *m, const git_oid *oid)
{
	uint64_t h;

	/* an object id is already a uniform hash */
	memcpy(&h, oid->id, sizeof(h));
	return (size_t)h & (m->nslots - 1);
}

static struct memobj *
find(const struct memodb *m, const git_oid *oid)
{
	size_t i;

	if (m->nslots == 0)
		return NULL;
	for (i = slot_of(m, oid); m->slots[i] != 0; i = (i + 1) & (m->nslots - 1)) {
		if (git_oid_equal(&m->v[m->slots[i] - 1]->oid, oid))
			return m->v[m->slots[i] - 1];
	}
	return NULL;
}

static void
rehash(struct memodb *m, size_t nslots)
{
	size_t i, s;

	free(m->slots);
	m->nslots = nslots;
	m->slots = tf_calloc(nslots, sizeof(*m->slots));
	for (i = 0; i < m->n; i++) {
		for (s = slot_of(m, &m->v[i]->oid); m->slots[s] != 0; s = (s + 1) & (nslots - 1))
			;
		m->slots[s] = i + 1;
	}
}

static int
mem_write(git_odb_backend *b, const git_oid *oid, const void *data, size_t len, git_object_t type)
{
	struct memodb *m = (struct memodb *)b;
	struct memobj *o;
	size_t s;

	if (find(m, oid) != NULL)
		return 0;
	o = tf_malloc(sizeof(*o) + len);
	git_oid_cpy(&o->oid, oid);
	o->type = type;
	o->len = len;
	if (len > 0)
		memcpy(o->data, data, len);
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->v = tf_realloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->n++] = o;
	if (2 * m->n > m->nslots) {
		rehash(m, m->nslots ? 2 * m->nslots : 128);
	} else {
		for (s = slot_of(m, oid); m->slots[s] != 0; s = (s + 1) & (m->nslots - 1))
			;
		m->slots[s] = m->n;
	}
	return 0;
}

static int
mem_read(void **data, size_t *len, git_object_t *type, git_odb_backend *b, const git_oid *oid)
{
	struct memobj *o = find((struct memodb *)b, oid);

	if (o == NULL)
		return GIT_ENOTFOUND;
	if ((*data = git_odb_backend_data_alloc(b, o->len)) == NULL)
		return -1;
	memcpy(*data, o->data, o->len);
	*len = o->len;
	*type = o->type;
	return 0;
}

static int
mem_read_header(size_t *len, git_object_t *type, git_odb_backend *b, const git_oid *oid)
{
	struct memobj *o = find((struct memodb *)b, oid);

	if (o == NULL)
		return GIT_ENOTFOUND;
	*len = o->len;
	*type = o->type;
	return 0;
}

static int
mem_exists(git_odb_backend *b, const git_oid *oid)
{
	return find((struct memodb *)b, oid) != NULL;
}

static void
mem_reset(struct memodb *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i]);
	m->n = 0;
	if (m->nslots > 0)
		memset(m->slots, 0, m->nslots * sizeof(*m->slots));
}

static void
mem_free(git_odb_backend *b)
{
	struct memodb *m = (struct memodb *)b;

	mem_reset(m);
	if (m->loose != NULL)
		m->loose->free(m->loose);
	free(m->v);
	free(m->slots);
	free(m);
}

int
audit_objects_attach(struct audit *a)
{
	struct memodb *m = tf_calloc(1, sizeof(*m));
	git_odb *odb = NULL;
	char *dir = NULL;
	int gerr;

	if ((gerr = git_odb_init_backend(&m->parent, GIT_ODB_BACKEND_VERSION)) < 0) {
		free(m);
		return audit_git_error(a, gerr, TF_ERROR, "cannot set up the object database");
	}
	m->parent.read = mem_read;
	m->parent.read_header = mem_read_header;
	m->parent.write = mem_write;
	m->parent.exists = mem_exists;
	m->parent.free = mem_free;
	if ((gerr = git_repository_odb(&odb, a->repo)) < 0 ||
	    (gerr = git_odb_add_backend(odb, &m->parent, 1000)) < 0) {
		git_odb_free(odb);
		mem_free(&m->parent);
		return audit_git_error(a, gerr, TF_EIO, "cannot open the objects of '%s'", a->path);
	}
	git_odb_free(odb); /* the repository holds it, and now owns the backend */
	a->mem = &m->parent;
	dir = tf_path_join(a->path, "objects");
	/* -1: libgit2's default level for loose objects, the fastest */
	if ((gerr = git_odb_open(&a->disk, dir)) >= 0)
		gerr = git_odb_backend_loose(&m->loose, dir, -1, 1, 0, 0);
	free(dir);
	if (gerr < 0)
		return audit_git_error(a, gerr, TF_EIO, "cannot open the objects of '%s'", a->path);
	return 0;
}

void
audit_objects_discard(struct audit *a)
{
	if (a->mem != NULL)
		mem_reset((struct memodb *)a->mem);
}

size_t
audit_objects_pending(const struct audit *a)
{
	return a->mem != NULL ? ((const struct memodb *)a->mem)->n : 0;
}

static uint32_t
adler32(uint32_t adler, const unsigned char *p, size_t n)
{
	uint32_t a = adler & 0xffff, b = adler >> 16;
	size_t k;

	while (n > 0) {
		/* 5552 bytes: the most before the sums can overflow 32 bits */
		k = n < 5552 ? n : 5552;
		n -= k;
		while (k-- > 0) {
			a += *p++;
			b += a;
		}
		a %= 65521;
		b %= 65521;
	}
	return b << 16 | a;
}

/* Append 'n' bytes as stored blocks, the last one final when 'is_last'. */
static void
put_stored(struct audit_buf *b, const unsigned char *p, size_t n, bool is_last)
{
	unsigned char h[5];
	size_t k;

	do {
		k = n < STORED_MAX ? n : STORED_MAX;
		h[0] = is_last && k == n ? 1 : 0; /* BFINAL, BTYPE 00: stored */
		h[1] = (unsigned char)(k & 0xff);
		h[2] = (unsigned char)(k >> 8);
		h[3] = (unsigned char)(~k & 0xff);
		h[4] = (unsigned char)((~k >> 8) & 0xff);
		audit_buf_add(b, h, sizeof(h));
		audit_buf_add(b, p, k);
		p += k;
		n -= k;
	} while (n > 0);
}

/*
 * Write one object as a loose object of stored blocks, as libgit2 writes
 * the others: a temporary file in objects/ (which audit_recover() sweeps),
 * fsynced, renamed to its name, its folder fsynced (and objects/ when the
 * folder is new). Returns 0 or TF_EIO with the message set.
 */
static int
write_stored(struct audit *a, const struct memobj *o)
{
	struct audit_buf b = { 0 };
	char hex[GIT_OID_HEXSZ + 1], hdr[64], *objects, *tmp = NULL, *dir = NULL, *path = NULL;
	unsigned char tail[4];
	uint32_t sum;
	bool is_new_dir = false;
	int fd = -1, dfd = -1, n, rc = TF_EIO;

	git_oid_tostr(hex, sizeof(hex), &o->oid);
	n = snprintf(hdr, sizeof(hdr), "%s %zu", git_object_type2string(o->type), o->len) + 1;
	sum = adler32(adler32(1, (const unsigned char *)hdr, (size_t)n), o->data, o->len);
	/* the whole stream's size, so that it is built without a copy more */
	b.cap = 2 + (size_t)n + o->len + 5 * (2 + o->len / STORED_MAX) + 4 + 1;
	b.p = tf_malloc(b.cap);
	audit_buf_add(&b, "\x78\x01", 2); /* zlib, 32 KiB window, no dictionary */
	put_stored(&b, (const unsigned char *)hdr, (size_t)n, false);
	put_stored(&b, o->data, o->len, true);
	tail[0] = (unsigned char)(sum >> 24);
	tail[1] = (unsigned char)(sum >> 16);
	tail[2] = (unsigned char)(sum >> 8);
	tail[3] = (unsigned char)sum;
	audit_buf_add(&b, tail, 4);
	objects = tf_path_join(a->path, "objects");
	tmp = tf_asprintf("%s/tmp_object_git2_XXXXXX", objects);
	dir = tf_asprintf("%s/%.2s", objects, hex);
	path = tf_asprintf("%s/%s", dir, hex + 2);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		free(tmp);
		tmp = NULL;
		tf_error_sys(a->ctx, TF_EIO, "cannot write an object to '%s'", objects);
		goto out;
	}
	if (fchmod(fd, 0444) == -1 || tf_write_all(fd, b.p, b.len) == -1 || tf_fsync(fd) == -1 ||
	    close(fd) == -1) {
		fd = -1;
		tf_error_sys(a->ctx, TF_EIO, "cannot write the object '%s'", path);
		goto out;
	}
	fd = -1;
	if (mkdir(dir, 0777) == 0)
		is_new_dir = true;
	else if (errno != EEXIST) {
		tf_error_sys(a->ctx, TF_EIO, "cannot create '%s'", dir);
		goto out;
	}
	if (rename(tmp, path) == -1) {
		tf_error_sys(a->ctx, TF_EIO, "cannot write the object '%s'", path);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 || tf_fsync(dfd) == -1) {
		tf_error_sys(a->ctx, TF_EIO, "cannot sync '%s'", dir);
		goto out;
	}
	close(dfd);
	dfd = -1;
	if (is_new_dir &&
	    ((dfd = open(objects, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	        tf_fsync(dfd) == -1)) {
		tf_error_sys(a->ctx, TF_EIO, "cannot sync '%s'", objects);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(dir);
	free(path);
	free(objects);
	audit_buf_release(&b);
	return rc;
}

int
audit_objects_flush(struct audit *a)
{
	struct memodb *m = (struct memodb *)a->mem;
	git_packbuilder *pb = NULL;
	git_odb *odb = NULL;
	char *dir = NULL;
	size_t i;
	int gerr = 0, rc = 0;

	if (m == NULL || m->n == 0)
		return 0;
	if (m->n <= LOOSE_MAX) {
		/*
		 * Straight to the loose backend, with the id the object already has:
		 * git_odb_write() would hash it again. What is on disk already (a
		 * blob a rollback restores) is not written again.
		 */
		for (i = 0; i < m->n && gerr >= 0 && rc == 0; i++) {
			const struct memobj *o = m->v[i];

			if (git_odb_exists(a->disk, &o->oid))
				continue;
			if (o->len >= RAW_MIN)
				rc = write_stored(a, o);
			else
				gerr = m->loose->write(m->loose, &o->oid, o->data, o->len, o->type);
		}
	} else {
		dir = tf_path_join(a->path, "objects/pack");
		if ((gerr = git_packbuilder_new(&pb, a->repo)) >= 0) {
			for (i = 0; i < m->n && gerr >= 0; i++)
				gerr = git_packbuilder_insert(pb, &m->v[i]->oid, NULL);
			if (gerr >= 0)
				gerr = git_packbuilder_write(pb, dir, 0, NULL, NULL);
		}
		/* so that the repository's own pack list has it */
		if (gerr >= 0 && (gerr = git_repository_odb(&odb, a->repo)) >= 0)
			gerr = git_odb_refresh(odb);
	}
	if (gerr < 0 && rc == 0)
		rc = audit_git_error(a, gerr, TF_EIO,
		    "cannot write the objects of the change to '%s'", a->path);
	git_odb_free(odb);
	git_packbuilder_free(pb);
	free(dir);
	mem_reset(m);
	return rc;
}
