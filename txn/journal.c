/*
 * txn/journal.c - the journal's on-disk format: encode its records, and read
 * back whatever part of it a crashed run managed to write.
 *
 *	trustfix-journal 1
 *	run <id> <pid> <since>
 *	dir <n>:<path>                      one per directory, while staging
 *	commit <n> <sha256 of the body>
 *	op <kind> <old|new> <n>:<path> <n>:<temp> <n>:<backup> <n>:<link>
 *	payload <n>:<bytes>                 (the body: ops and payload)
 *	state pending|applied|undoing
 *
 * Strings are length-prefixed so that any byte but NUL may appear in a path.
 * The commit section is written in one write and fsynced before anything
 * visible changes; a torn one fails its length or checksum, and the change is
 * then treated as never committed. The state word has a fixed length and is
 * overwritten in place, so that marking needs no new disk space.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

#define MAGIC "trustfix-journal 1\n"

struct buf {
	char *p;
	size_t n, cap;
};

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->n + len + 1 > b->cap) {
		b->cap = 2 * (b->n + len + 1) + 64;
		b->p = tf_realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	b->p[b->n] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* " <n>:<bytes>" */
static void
buf_field(struct buf *b, const void *data, size_t len)
{
	char num[32];

	snprintf(num, sizeof(num), " %zu:", len);
	buf_str(b, num);
	buf_add(b, data, len);
}

static bool
sha256_hex(char out[65], const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return false;
	tf_hex(out, md, 32);
	return true;
}

char *
journal_header(const char *id, long pid, const char *since, size_t *len)
{
	struct buf b = { 0 };
	char line[128];

	buf_str(&b, MAGIC);
	snprintf(line, sizeof(line), "run %s %ld %s\n", id, pid, since);
	buf_str(&b, line);
	*len = b.n;
	return b.p;
}

char *
journal_dir_record(const char *path, size_t *len)
{
	struct buf b = { 0 };

	buf_str(&b, "dir");
	buf_field(&b, path, strlen(path));
	buf_str(&b, "\n");
	*len = b.n;
	return b.p;
}

static const char *const kind_words[] = { "write", "symlink", "remove" };
static const char *const state_words[] = { "pending", "applied", "undoing" };

const char *
journal_state_word(enum journal_state state)
{
	return state_words[state];
}

char *
journal_commit_section(const struct txn_op *ops, size_t nops, const void *payload,
    size_t payload_len, size_t *len, size_t *slot)
{
	struct buf body = { 0 }, b = { 0 };
	char line[128], hex[65];
	const char *link;
	size_t i;

	for (i = 0; i < nops; i++) {
		buf_str(&body, "op ");
		buf_str(&body, kind_words[ops[i].kind]);
		buf_str(&body, ops[i].had_old ? " old" : " new");
		buf_field(&body, ops[i].path, strlen(ops[i].path));
		buf_field(&body, ops[i].temp, strlen(ops[i].temp));
		buf_field(&body, ops[i].backup, strlen(ops[i].backup));
		link = ops[i].link != NULL ? ops[i].link : "";
		buf_field(&body, link, strlen(link));
		buf_str(&body, "\n");
	}
	buf_str(&body, "payload");
	buf_field(&body, payload != NULL ? payload : "", payload_len);
	buf_str(&body, "\n");
	if (!sha256_hex(hex, body.p, body.n)) {
		free(body.p);
		return NULL;
	}
	snprintf(line, sizeof(line), "commit %zu %s\n", body.n, hex);
	buf_str(&b, line);
	buf_add(&b, body.p, body.n);
	buf_str(&b, "state ");
	*slot = b.n;
	buf_str(&b, state_words[JOURNAL_PENDING]);
	buf_str(&b, "\n");
	free(body.p);
	*len = b.n;
	return b.p;
}

/* Reading: a cursor over the bytes; every reader fails on a short input. */
struct cur {
	const char *p, *end;
};

static bool
eat(struct cur *c, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
		return false;
	c->p += n;
	return true;
}

static bool
number(struct cur *c, size_t *out)
{
	size_t v = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		if (v > (JOURNAL_MAX) / 10)
			return false;
		v = v * 10 + (size_t)(*c->p - '0');
		c->p++;
	}
	*out = v;
	return c->p > start && c->p - start <= 12;
}

/* A token of up to 'max' - 1 bytes up to a space or newline. */
static bool
token(struct cur *c, char *out, size_t max)
{
	size_t n = 0;

	while (c->p < c->end && *c->p != ' ' && *c->p != '\n') {
		if (n + 1 >= max)
			return false;
		out[n++] = *c->p++;
	}
	out[n] = '\0';
	return n > 0;
}

/* " <n>:<bytes>" into a new string; 'nul_ok' for the payload. */
static bool
field(struct cur *c, char **out, size_t *outlen, bool nul_ok)
{
	size_t n;

	*out = NULL;
	if (!eat(c, " ") || !number(c, &n) || !eat(c, ":") || (size_t)(c->end - c->p) < n)
		return false;
	if (!nul_ok && memchr(c->p, '\0', n) != NULL)
		return false;
	*out = tf_strndup(c->p, n);
	if (outlen != NULL)
		*outlen = n;
	c->p += n;
	return true;
}

static bool
word_index(const char *word, const char *const *words, size_t nwords, int *out)
{
	size_t i;

	for (i = 0; i < nwords; i++) {
		if (strcmp(word, words[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	return false;
}

/* A temp or backup name: one component, never "." or "..". */
static bool
good_name(const char *name)
{
	return name[0] != '\0' && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
	    strcmp(name, "..") != 0;
}

static bool
parse_op(struct cur *c, struct txn_op *op)
{
	char word[16];
	int kind;

	memset(op, 0, sizeof(*op));
	if (!eat(c, "op ") || !token(c, word, sizeof(word)) ||
	    !word_index(word, kind_words, 3, &kind))
		return false;
	op->kind = (enum txn_kind)kind;
	if (eat(c, " old"))
		op->had_old = true;
	else if (!eat(c, " new"))
		return false;
	if (!field(c, &op->path, NULL, false) || !field(c, &op->temp, NULL, false) ||
	    !field(c, &op->backup, NULL, false) || !field(c, &op->link, NULL, false) ||
	    !eat(c, "\n"))
		return false;
	if (op->path[0] != '/' || !good_name(op->temp) || !good_name(op->backup))
		return false;
	return true;
}

/* The body of a commit section whose checksum matched. */
static bool
parse_body(struct journal *j, struct cur *c)
{
	char *payload = NULL;

	while ((size_t)(c->end - c->p) >= 3 && memcmp(c->p, "op ", 3) == 0) {
		j->ops = tf_realloc(j->ops, (j->nops + 1) * sizeof(*j->ops));
		if (!parse_op(c, &j->ops[j->nops])) {
			txn_op_clear(&j->ops[j->nops]);
			return false;
		}
		j->nops++;
	}
	if (!eat(c, "payload") || !field(c, &payload, &j->payload_len, true) || !eat(c, "\n")) {
		free(payload);
		return false;
	}
	j->payload = (unsigned char *)payload;
	return c->p == c->end;
}

static void
parse_commit(struct journal *j, struct cur *c, const char *start)
{
	char hex[65], sum[65];
	struct cur body;
	size_t n;
	char state[16];
	int st;

	if (!number(c, &n) || !eat(c, " ") || !token(c, hex, sizeof(hex)) || !eat(c, "\n") ||
	    (size_t)(c->end - c->p) < n)
		return; /* torn */
	if (!sha256_hex(sum, c->p, n) || strcmp(sum, hex) != 0)
		return; /* torn */
	body.p = c->p;
	body.end = c->p + n;
	c->p += n;
	if (!parse_body(j, &body)) {
		j->corrupt = true; /* the checksum matched: not torn, not ours */
		return;
	}
	j->committed = true;
	j->state = JOURNAL_PENDING;
	if (!eat(c, "state "))
		return;
	j->slot = (size_t)(c->p - start);
	if (token(c, state, sizeof(state)) && eat(c, "\n") &&
	    word_index(state, state_words, 3, &st))
		j->state = (enum journal_state)st;
}

void
journal_parse(struct journal *j, const char *buf, size_t len)
{
	struct cur c = { buf, buf + len };
	char pid[24];
	char *dir;

	memset(j, 0, sizeof(*j));
	if (len >= strlen(MAGIC) && memcmp(buf, MAGIC, strlen(MAGIC)) != 0 &&
	    memcmp(buf, MAGIC, strlen(MAGIC) - 2) == 0) {
		j->corrupt = true; /* another version of the format */
		return;
	}
	if (!eat(&c, MAGIC) || !eat(&c, "run ") || !token(&c, j->id, sizeof(j->id)) ||
	    !eat(&c, " ") || !token(&c, pid, sizeof(pid)) || !eat(&c, " ") ||
	    !token(&c, j->since, sizeof(j->since)) || !eat(&c, "\n"))
		return;
	j->pid = strtol(pid, NULL, 10);
	j->valid = true;
	for (;;) {
		if (eat(&c, "dir")) {
			if (!field(&c, &dir, NULL, false) || !eat(&c, "\n") || dir[0] != '/') {
				free(dir);
				return; /* torn */
			}
			j->dirs = tf_realloc(j->dirs, (j->ndirs + 1) * sizeof(*j->dirs));
			j->dirs[j->ndirs++] = dir;
		} else if (eat(&c, "commit ")) {
			parse_commit(j, &c, buf);
			return;
		} else {
			return;
		}
	}
}

void
journal_release(struct journal *j)
{
	size_t i;

	for (i = 0; i < j->ndirs; i++)
		free(j->dirs[i]);
	free(j->dirs);
	for (i = 0; i < j->nops; i++)
		txn_op_clear(&j->ops[i]);
	free(j->ops);
	free(j->payload);
	memset(j, 0, sizeof(*j));
}
