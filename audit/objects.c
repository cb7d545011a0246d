/*
 * audit/objects.c - where the objects of a change wait until the change is
 * complete: an in-memory object database in front of the repository's,
 * flushed (fsynced) before the branch moves. A refused or failed change so
 * leaves nothing on disk, and a big one becomes one pack, not one fsync per
 * object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <git2/sys/odb_backend.h>

#include "../core/path.h"
#include "internal.h"

/*
 * Up to this many objects a change is written as loose objects (each with
 * its own fsync, as a small change has a handful: a blob or two, the trees
 * on their paths, the commit); above it, as one pack, which costs a few
 * fsyncs whatever its size but adds a pack file.
 */
#define LOOSE_MAX 64

struct memobj {
	git_oid oid;
	git_object_t type;
	size_t len;
	unsigned char data[];
};

struct memodb {
	git_odb_backend parent; /* first: libgit2 sees only this */
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
	gerr = git_odb_open(&a->disk, dir);
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

int
audit_objects_flush(struct audit *a)
{
	struct memodb *m = (struct memodb *)a->mem;
	git_packbuilder *pb = NULL;
	git_odb *odb = NULL;
	char *dir = NULL;
	git_oid oid;
	size_t i;
	int gerr = 0, rc = 0;

	if (m == NULL || m->n == 0)
		return 0;
	if (m->n <= LOOSE_MAX) {
		for (i = 0; i < m->n && gerr >= 0; i++)
			gerr = git_odb_write(&oid, a->disk, m->v[i]->data, m->v[i]->len,
			    m->v[i]->type);
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
	if (gerr < 0)
		rc = audit_git_error(a, gerr, TF_EIO,
		    "cannot write the objects of the change to '%s'", a->path);
	git_odb_free(odb);
	git_packbuilder_free(pb);
	free(dir);
	mem_reset(m);
	return rc;
}
