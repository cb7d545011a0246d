/*
 * cli/drift.c - find what the stores hold that the audit log's head does
 * not record, through the stat cache: a stat per file, a read only where
 * a stat changed.
 */
#include <stdlib.h>
#include <string.h>

#include "../audit/audit.h"
#include "../audit/vault.h"
#include "drift.h"
#include "statcache.h"

/*
 * Whether the recorded path 'rel' (relative to the root) is one of the
 * files of the store 'store' (normalised, absolute): the store itself, or a
 * file directly in it, as statcache_scan() sees a store.
 */
static bool
in_store(const char *rel, const char *store)
{
	size_t n = strlen(store + 1);
	const char *rest;

	if (strcmp(store, "/") == 0)
		return strchr(rel, '/') == NULL;
	if (strncmp(rel, store + 1, n) != 0)
		return false;
	rest = rel + n;
	return *rest == '\0' || (*rest == '/' && strchr(rest + 1, '/') == NULL);
}

/* What the log's head records of the stores, from a walk of its tree. */
struct recorded {
	struct sc_file *v;
	size_t n;
	char **stores; /* normalised */
	size_t nstores;
};

static int
collect_recorded(const struct audit_blob *b, void *arg)
{
	struct recorded *r = arg;
	struct sc_file *f;
	size_t i;

	for (i = 0; i < r->nstores && !in_store(b->path, r->stores[i]); i++)
		;
	if (i == r->nstores)
		return 0;
	r->v = tf_realloc(r->v, (r->n + 1) * sizeof(*r->v));
	f = &r->v[r->n++];
	memset(f, 0, sizeof(*f));
	f->path = tf_asprintf("/%s", b->path);
	f->mode = b->mode;
	memcpy(f->id, b->id, 41);
	return 0;
}

static int
cmp_sc_file(const void *x, const void *y)
{
	return strcmp(((const struct sc_file *)x)->path, ((const struct sc_file *)y)->path);
}

static int
cmp_change_file(const void *x, const void *y)
{
	return strcmp(((const struct change_file *)x)->path, ((const struct change_file *)y)->path);
}

/* Append a file to the change, taking over 'data' (NUL-terminated, or NULL). */
static void
adopt_file(struct change *ch, enum ts_op_kind kind, const char *path, unsigned char *data,
    size_t len, mode_t mode)
{
	struct change_file *cf;

	ch->files = tf_realloc(ch->files, (ch->nfiles + 1) * sizeof(*ch->files));
	cf = &ch->files[ch->nfiles++];
	cf->path = tf_strdup(path);
	cf->kind = kind;
	cf->secret = false;
	cf->data = data;
	cf->len = len;
	cf->mode = mode;
}

/*
 * Append one file as it is now (or its removal, when 'gone') to 'drift',
 * taking over what the scan read of it (a first record reads every file:
 * one copy fewer of them all).
 */
static int
drift_add(struct cli *cli, struct change *drift, struct sc_file *f, bool gone)
{
	struct change_file cf;
	bool exists;
	int rc;

	if (gone) {
		adopt_file(drift, TS_OP_REMOVE, f->path, NULL, 0, 0);
		return 0;
	}
	if (f->data != NULL) {
		adopt_file(drift, f->mode == AUDIT_MODE_LINK ? TS_OP_SYMLINK : TS_OP_WRITE, f->path,
		    f->data, f->len, f->perm);
		f->data = NULL;
		/* a key file's bytes are wiped when the drift record is released */
		drift->files[drift->nfiles - 1].secret = vault_is_key_path(&cli->ctx, f->path);
		return 0;
	}
	/* known by its stat, but not what the log records: read it now */
	if ((rc = change_read_state(cli, f->path, &cf, &exists)) == 0 && exists) {
		adopt_file(drift, cf.kind, cf.path, cf.data, cf.len, cf.mode);
		drift->files[drift->nfiles - 1].secret = vault_is_key_path(&cli->ctx, cf.path);
		cf.data = NULL;
	}
	free(cf.path);
	free(cf.data);
	return rc;
}

/*
 * The drift of one store the cache did not know (or not at the log's head):
 * the files now against those recorded, both sorted by path.
 */
static int
compare_store(struct cli *cli, struct change *drift, struct sc_file *now, size_t nnow,
    struct recorded *rec, const char *store)
{
	size_t i = 0, k = 0;
	int rc = 0, c;

	while (rc == 0 && (i < nnow || k < rec->n)) {
		if (k < rec->n && !in_store(rec->v[k].path + 1, store)) {
			k++;
			continue;
		}
		c = i == nnow ? 1 : k == rec->n ? -1 : strcmp(now[i].path, rec->v[k].path);
		if (c < 0) {
			rc = drift_add(cli, drift, &now[i++], false);
		} else if (c > 0) {
			rc = drift_add(cli, drift, &rec->v[k++], true);
		} else {
			if (strcmp(now[i].id, rec->v[k].id) != 0 || now[i].mode != rec->v[k].mode)
				rc = drift_add(cli, drift, &now[i], false);
			i++;
			k++;
		}
	}
	return rc;
}

int
change_drift(struct cli *cli, struct audit *a, struct statcache *sc, char *const *scope,
    size_t nscope, const char *head, struct change *drift, size_t *nrecorded)
{
	struct recorded rec = { 0 };
	bool at_head = head != NULL && statcache_is_at(sc, head), walked = false;
	size_t i, k;
	int rc = 0;

	*nrecorded = 0;
	rec.stores = tf_calloc(nscope ? nscope : 1, sizeof(char *));
	for (i = 0; i < nscope; i++) {
		char *p = sc_path_norm(scope[i]);

		for (k = 0; k < rec.nstores && strcmp(rec.stores[k], p) != 0; k++)
			;
		if (k < rec.nstores) {
			free(p); /* named twice */
			continue;
		}
		rec.stores[rec.nstores++] = p;
	}
	/* what the cache knows of other stores may not be what the head records */
	if (!at_head)
		statcache_keep(sc, rec.stores, rec.nstores);
	for (i = 0; i < rec.nstores && rc == 0; i++) {
		struct sc_file *now = NULL;
		size_t nnow = 0;
		bool is_known;

		*nrecorded += at_head ? statcache_count(sc, rec.stores[i]) : 0;
		if ((rc = statcache_scan(sc, &cli->ctx, a, rec.stores[i], at_head, &now, &nnow,
		         &is_known)) != 0)
			break;
		if (at_head && is_known) {
			/* what the scan found different from the cache is the drift */
			for (k = 0; k < nnow && rc == 0; k++)
				rc = drift_add(cli, drift, &now[k], now[k].mode == 0);
		} else {
			if (!walked && head != NULL &&
			    (rc = audit_tree_walk(a, head, AUDIT_WALK_NODATA, collect_recorded,
			         &rec)) == 0 &&
			    rec.n > 1)
				qsort(rec.v, rec.n, sizeof(*rec.v), cmp_sc_file);
			walked = true;
			if (rc == 0)
				rc = compare_store(cli, drift, now, nnow, &rec, rec.stores[i]);
		}
		sc_files_free(now, nnow);
	}
	*nrecorded += rec.n;
	/* a file in two stores of the scope (a bundle in a hashed folder) is one change */
	if (rc == 0 && drift->nfiles > 1)
		qsort(drift->files, drift->nfiles, sizeof(*drift->files), cmp_change_file);
	for (i = 0, k = 0; rc == 0 && i < drift->nfiles; i++) {
		if (k > 0 && strcmp(drift->files[k - 1].path, drift->files[i].path) == 0) {
			free(drift->files[i].path);
			free(drift->files[i].data);
		} else {
			drift->files[k++] = drift->files[i];
		}
	}
	if (rc == 0)
		drift->nfiles = k;
	sc_files_free(rec.v, rec.n);
	change_free_list(rec.stores, rec.nstores);
	return rc;
}
