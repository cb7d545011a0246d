/*
 * cli/statcache_int.h - what the parts of the stat cache share: the cache
 * in memory (statcache.c), on disk (statfile.c), filled from the file
 * system (statscan.c). Not a public header.
 */
#ifndef TF_STATCACHE_INT_H
#define TF_STATCACHE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "statcache.h"

/*
 * One file of a section. 'id' is the blob id of its content as recorded at
 * the cache's head (a scan that finds drift records it, so it is also the
 * content); the stat, when 'has_stat', is of the file holding that content,
 * taken when no later change could share its time stamps.
 */
struct sc_entry {
	unsigned char id[20];
	bool has_stat;
	bool is_pooled; /* allocated with sc_entry_new_pooled() */
	uint32_t st_mode;
	uint64_t ino, size;
	int64_t mtime_ns, ctime_ns;
	char name[]; /* "" for the file of a file store */
};

/*
 * A store: a directory (its files and links but hidden ones) or one file.
 * When 'has_listing', the names of 'v' are the directory's names as of the
 * directory stat kept here, which was taken when no later change could
 * share its time stamps.
 */
struct sc_section {
	char *path; /* normalised absolute path of the managed system */
	bool is_dir;
	bool has_listing;
	bool is_dirty;   /* header changed, or new: goes into the next delta */
	bool is_checked; /* this run's scan saw it (not kept in the file) */
	uint64_t dev, ino;
	int64_t mtime_ns, ctime_ns;
	int64_t listed_at;   /* seconds: when the directory was last read */
	struct sc_entry **v; /* sorted by name */
	size_t n, cap;
	char **changed; /* names put since the file was written: the next delta */
	size_t nchanged;
	char **removed; /* names gone since */
	size_t nremoved;
};

/* A block the entries read from the file come from. */
struct sc_pool {
	struct sc_pool *next;
	size_t used, cap;
	_Alignas(8) unsigned char data[];
};

struct statcache {
	unsigned char head[20]; /* the commit whose recorded files the ids are */
	bool has_head;
	bool is_whole;              /* read whole from a consistent file: a delta can follow */
	unsigned char filehead[20]; /* the head of the file's last batch */
	bool has_filehead;
	size_t nbatches;   /* batches in the file */
	size_t ndirty;     /* entries changed since */
	bool is_replaying; /* reading the file: nothing is news */
	struct sc_pool *pool;
	struct sc_section **sections;
	size_t nsections;
	char **dropped; /* sections gone since the file was written */
	size_t ndropped;
};

/* The section of 'path' (normalised), or NULL. */
struct sc_section *sc_section_find(const struct statcache *sc, const char *path);

/* A new empty section (replacing any of that path), or an emptied one. */
struct sc_section *sc_section_new(struct statcache *sc, const char *path, bool is_dir);

void sc_section_drop(struct statcache *sc, const char *path);

/* Forget every section (after a snapshot starts, or a damaged file). */
void sc_reset(struct statcache *sc);

/* Forget what changed since the file was written: the file now says it all. */
void sc_mark_clean(struct statcache *sc);

/* The entry 'name' of a section, or NULL; its index in *at (where it would go). */
struct sc_entry *sc_entry_find(const struct sc_section *s, const char *name, size_t *at);

/* Insert or replace the entry of that name (ownership passes to the section). */
void sc_entry_put(struct statcache *sc, struct sc_section *s, struct sc_entry *e);

void sc_entry_remove(struct statcache *sc, struct sc_section *s, const char *name);

struct sc_entry *sc_entry_new(const char *name);

/* The same, from the cache's blocks (for the many entries of the file). */
struct sc_entry *sc_entry_new_pooled(struct statcache *sc, const char *name);

/* Free an entry; sc_entry_free(NULL) does nothing. */
void sc_entry_free(struct sc_entry *e);

/* A time stamp in nanoseconds. */
int64_t sc_ts_ns(const struct timespec *ts);

/* The coarse real-time clock, which the kernel stamps files with, in ns. */
int64_t sc_coarse_now_ns(void);

/*
 * Whether any change of the file after 'clock' (sc_coarse_now_ns() read
 * before the stat) gives it time stamps other than those of 'st': its
 * stamps are older than the clock (by two seconds where the file system
 * keeps whole seconds only). A stat that is not settled is not trusted.
 */
bool sc_is_settled(const struct stat *st, int64_t clock);

/* AUDIT_MODE_* of a file of that st_mode, and an st_mode of that AUDIT_MODE_*. */
unsigned sc_audit_mode(uint32_t st_mode);
uint32_t sc_st_mode(unsigned audit_mode);

/* A blob id from 40 hex digits; false when it is not one. */
bool sc_hex_to_id(unsigned char id[20], const char *hex);

/* Split a normalised path into its directory (new) and its last name (in it). */
void sc_path_split(const char *path, char **dir, const char **name);

#endif
