/*
 * audit/record.c - record one change as a commit whose tree is the previous
 * tree with only the changed paths rebuilt. Everything is checked first.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <git2/sys/commit.h>

#include "internal.h"

#define PATH_MAX_LEN 4096

_Static_assert((int)AUDIT_MODE_FILE == (int)GIT_FILEMODE_BLOB, "modes are git's");
_Static_assert((int)AUDIT_MODE_EXEC == (int)GIT_FILEMODE_BLOB_EXECUTABLE, "modes are git's");
_Static_assert((int)AUDIT_MODE_LINK == (int)GIT_FILEMODE_LINK, "modes are git's");

static const char *const reserved_trailers[] = { AUDIT_TRAILER_REASON, AUDIT_TRAILER_TICKET,
	AUDIT_TRAILER_OPERATOR, AUDIT_TRAILER_COMMAND };

struct item {
	const struct audit_file *f;
	bool is_dropped; /* nothing to do: under a folder removed too, or become a file */
};

/* ---- checks ---- */

/*
 * A path relative to the root, in git's sense: no empty, "." or ".."
 * component, no ".git" folder, no control bytes.
 */
static bool
is_valid_path(const char *path)
{
	const char *p = path, *end;
	size_t n, i;

	if (*p == '\0' || strlen(path) > PATH_MAX_LEN)
		return false;
	for (;;) {
		end = strchr(p, '/');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (n == 4 && strncasecmp(p, ".git", 4) == 0)
			return false;
		for (i = 0; i < n; i++) {
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return false;
		}
		if (end == NULL)
			return true;
		p = end + 1;
	}
}

/* A whole DER private key: PKCS#8, encrypted PKCS#8, or a traditional one. */
static bool
is_der_private_key(const unsigned char *der, size_t len)
{
	PKCS8_PRIV_KEY_INFO *p8;
	const unsigned char *q;
	EVP_PKEY *pk;
	X509_SIG *sig;
	bool found = false;

	if (len < 8 || len > LONG_MAX || der[0] != 0x30)
		return false;
	ERR_set_mark(); /* the failed attempts must not reach a later message */
	q = der;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)len)) != NULL) {
		found = q == der + len;
		PKCS8_PRIV_KEY_INFO_free(p8);
	}
	q = der;
	if (!found && (sig = d2i_X509_SIG(NULL, &q, (long)len)) != NULL) {
		found = q == der + len;
		X509_SIG_free(sig);
	}
	q = der;
	if (!found && (pk = d2i_AutoPrivateKey(NULL, &q, (long)len)) != NULL) {
		found = true;
		EVP_PKEY_free(pk);
	}
	ERR_pop_to_mark();
	return found;
}

/*
 * Content that must never enter the repository: a PEM "PRIVATE KEY" block
 * of any kind (PKCS#8, RSA, EC, ENCRYPTED, OPENSSH) or a DER private key.
 */
bool
audit_has_private_key(const void *data, size_t len)
{
	static const char marker[] = "PRIVATE KEY";

	if (len >= sizeof(marker) - 1 && memmem(data, len, marker, sizeof(marker) - 1) != NULL)
		return true;
	return is_der_private_key(data, len);
}

static bool
is_valid_trailer_key(const char *key)
{
	size_t i;

	if (key == NULL ||
	    !((key[0] >= 'A' && key[0] <= 'Z') || (key[0] >= 'a' && key[0] <= 'z') ||
	        (key[0] >= '0' && key[0] <= '9')))
		return false;
	for (i = 1; key[i] != '\0'; i++) {
		if (!((key[i] >= 'A' && key[i] <= 'Z') || (key[i] >= 'a' && key[i] <= 'z') ||
		        (key[i] >= '0' && key[i] <= '9') || key[i] == '-'))
			return false;
	}
	return i <= 64;
}

static bool
has_key_block(const char *s)
{
	return s != NULL && strstr(s, "PRIVATE KEY-----") != NULL;
}

static int
check_change(struct audit *a, const struct audit_change *ch)
{
	const char *fields[] = { ch->subject_line, ch->body, ch->reason, ch->ticket,
		ch->operator_name, ch->email, ch->command };
	size_t i, j;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (has_key_block(fields[i]))
			return tf_error(a->ctx, TF_EREFUSED,
			    "refusing to record a change whose description holds a private key");
	}
	if (ch->ntrailers > 0 && (ch->trailer_keys == NULL || ch->trailer_values == NULL))
		return tf_error(a->ctx, TF_EINVALID,
		    "cannot record a change: trailers without values");
	for (i = 0; i < ch->ntrailers; i++) {
		if (!is_valid_trailer_key(ch->trailer_keys[i]))
			return tf_error(a->ctx, TF_EINVALID,
			    "cannot record a change: bad trailer key '%s' (letters, digits and "
			    "'-')",
			    ch->trailer_keys[i] != NULL ? ch->trailer_keys[i] : "(null)");
		for (j = 0; j < sizeof(reserved_trailers) / sizeof(reserved_trailers[0]); j++) {
			if (strcasecmp(ch->trailer_keys[i], reserved_trailers[j]) == 0)
				return tf_error(a->ctx, TF_EINVALID,
				    "cannot record a change: trailer '%s' is trustfix's own",
				    ch->trailer_keys[i]);
		}
		if (has_key_block(ch->trailer_values[i]))
			return tf_error(a->ctx, TF_EREFUSED,
			    "refusing to record a change whose description holds a private key");
	}
	return 0;
}

static void put_escaped(struct audit_buf *b, const char *s, size_t len, bool is_multiline,
    const char *also);

/* The message for a bad path, which may hold control bytes: escaped. */
static int
bad_path(struct audit *a, const char *path)
{
	struct audit_buf b = { 0 };
	int rc;

	if (path == NULL)
		audit_buf_adds(&b, "(null)");
	else
		put_escaped(&b, path, strnlen(path, PATH_MAX_LEN + 1), false, NULL);
	rc = tf_error(a->ctx, TF_EINVALID, "cannot record '%s': not a path relative to the root",
	    b.p != NULL ? b.p : "");
	audit_buf_release(&b);
	return rc;
}

static int
cmp_item(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	return strcmp(a->f->path, b->f->path);
}

static const struct item *
find_item(const struct item *items, size_t n, const char *path)
{
	struct audit_file key = { .path = path };
	struct item k = { .f = &key };

	return bsearch(&k, items, n, sizeof(*items), cmp_item);
}

/*
 * Check every path before anything is written: a valid path, a known mode,
 * no private key, no path twice, no path both a file and a folder. Sorts
 * 'items' by path (the order git_tree_create_updated() works in).
 */
static int
check_files(struct audit *a, struct item *items, size_t n)
{
	const struct audit_file *f;
	const struct item *up;
	char *prefix;
	size_t i, k;

	for (i = 0; i < n; i++) {
		f = items[i].f;
		if (f->path == NULL || !is_valid_path(f->path))
			return bad_path(a, f->path);
		if (f->remove)
			continue;
		if (f->data == NULL && f->len > 0)
			return tf_error(a->ctx, TF_EINVALID, "cannot record '%s': no content",
			    f->path);
		if (f->mode != AUDIT_MODE_FILE && f->mode != AUDIT_MODE_EXEC &&
		    f->mode != AUDIT_MODE_LINK)
			return tf_error(a->ctx, TF_EINVALID, "cannot record '%s': unknown mode %o",
			    f->path, f->mode);
		if (f->mode == AUDIT_MODE_LINK && (f->len == 0 || memchr(f->data, 0, f->len)))
			return tf_error(a->ctx, TF_EINVALID,
			    "cannot record '%s': not a valid link target", f->path);
		if (f->len > 0 && audit_has_private_key(f->data, f->len))
			return tf_error(a->ctx, TF_EREFUSED,
			    "refusing to record '%s' in the audit log: it holds a private key",
			    f->path);
	}
	if (n > 1)
		qsort(items, n, sizeof(*items), cmp_item);
	for (i = 1; i < n; i++) {
		if (strcmp(items[i - 1].f->path, items[i].f->path) == 0)
			return tf_error(a->ctx, TF_EINVALID,
			    "cannot record '%s' twice in one change", items[i].f->path);
	}
	/* every folder above each path: is it a file of this change too? */
	for (i = 0; i < n; i++) {
		f = items[i].f;
		prefix = tf_strdup(f->path);
		for (k = 0; prefix[k] != '\0'; k++) {
			if (prefix[k] != '/')
				continue;
			prefix[k] = '\0';
			up = find_item(items, n, prefix);
			prefix[k] = '/';
			if (up == NULL)
				continue;
			if (!up->f->remove && !f->remove) {
				free(prefix);
				return tf_error(a->ctx, TF_EINVALID,
				    "cannot record '%s' both as a file and as a folder",
				    up->f->path);
			}
			/*
			 * Removing 'a/b' is implied when 'a' goes or becomes a file;
			 * adding 'a/b' after 'a' is removed starts a new folder.
			 */
			if (f->remove)
				items[i].is_dropped = true;
		}
		free(prefix);
	}
	return 0;
}

/* ---- the message ---- */

/*
 * Append s[0..len) with control bytes (and the bytes in 'also') escaped as
 * \xNN; a newline and a tab are kept when 'is_multiline'.
 */
static void
put_escaped(struct audit_buf *b, const char *s, size_t len, bool is_multiline, const char *also)
{
	unsigned char c;
	char esc[8];
	size_t i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (is_multiline && c == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;
		if ((c < 0x20 && !(is_multiline && (c == '\n' || c == '\t'))) || c == 0x7f ||
		    (also != NULL && c != '\0' && strchr(also, c) != NULL)) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			audit_buf_adds(b, esc);
		} else {
			audit_buf_addc(b, (char)c);
		}
	}
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* One line: surrounding white space trimmed, the rest escaped. */
static void
put_line(struct audit_buf *b, const char *s, const char *also)
{
	size_t n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		n--;
	put_escaped(b, s, n, false, also);
}

/*
 * The body: leading blank lines and trailing white space dropped, control
 * bytes escaped. A line "---" would end the message for git's trailer parser
 * (it starts a patch), so it gets a leading space.
 */
static void
put_body(struct audit_buf *b, const char *body)
{
	const char *p = body, *line, *end, *nl;
	size_t n;

	for (line = p; *line != '\0';) {
		for (p = line; *p == ' ' || *p == '\t' || *p == '\r'; p++)
			;
		if (*p != '\n')
			break;
		line = p + 1;
	}
	n = strlen(line);
	while (n > 0 && is_space(line[n - 1]))
		n--;
	end = line + n;
	for (p = line; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl - p >= 3 && strncmp(p, "---", 3) == 0 && (nl - p == 3 || is_space(p[3])))
			audit_buf_addc(b, ' ');
		put_escaped(b, p, (size_t)(nl - p) + (nl < end), true, NULL);
	}
}

static void
put_trailer(struct audit_buf *b, const char *key, const char *value)
{
	if (value == NULL)
		return;
	while (is_space(*value))
		value++;
	if (*value == '\0')
		return;
	audit_buf_adds(b, key);
	audit_buf_adds(b, ": ");
	put_line(b, value, NULL);
	audit_buf_addc(b, '\n');
}

/*
 * "subject\n\nbody\n\ntrailers\n": the trailers, always present since the
 * operator always is, form the last paragraph, as git interpret-trailers
 * and git_message_trailers() expect.
 */
static int
build_message(struct audit *a, const struct audit_change *ch, const char *operator_name,
    struct audit_buf *msg)
{
	size_t i, mark;

	if (ch->subject_line != NULL)
		put_line(msg, ch->subject_line, NULL);
	if (msg->len == 0)
		return tf_error(a->ctx, TF_EINVALID,
		    "cannot record a change without a subject line");
	audit_buf_adds(msg, "\n\n");
	if (ch->body != NULL) {
		mark = msg->len;
		put_body(msg, ch->body);
		if (msg->len > mark)
			audit_buf_adds(msg, "\n\n");
	}
	put_trailer(msg, AUDIT_TRAILER_REASON, ch->reason);
	put_trailer(msg, AUDIT_TRAILER_TICKET, ch->ticket);
	put_trailer(msg, AUDIT_TRAILER_OPERATOR, operator_name);
	put_trailer(msg, AUDIT_TRAILER_COMMAND, ch->command);
	for (i = 0; i < ch->ntrailers; i++)
		put_trailer(msg, ch->trailer_keys[i], ch->trailer_values[i]);
	return 0;
}

/* ---- the tree ---- */

/*
 * The tree of the change: 'base' with only the paths of 'items' rebuilt
 * (audit/tree.c splices the raw trees on those paths). A file that takes
 * the place of a folder (or the reverse) replaces all of it.
 */
static int
build_tree(struct audit *a, git_oid *out, const git_oid *base, struct item *items, size_t n)
{
	struct audit_tree_edit *edits = tf_calloc(n ? n : 1, sizeof(*edits));
	const struct audit_file *f;
	size_t i, k = 0;
	int gerr, rc = 0;

	/* the blobs: all checked already, so nothing refused is ever written */
	for (i = 0; i < n && rc == 0; i++) {
		f = items[i].f;
		if (items[i].is_dropped)
			continue;
		edits[k].path = f->path;
		edits[k].is_remove = f->remove;
		edits[k].mode = f->mode;
		if (!f->remove &&
		    (gerr = git_blob_create_from_buffer(&edits[k].id, a->repo,
		         f->data != NULL ? f->data : "", f->len)) < 0)
			rc = audit_git_error(a, gerr, TF_EIO, "cannot write '%s' to the audit log",
			    f->path);
		k++;
	}
	if (rc == 0)
		rc = audit_tree_edit(out, a, base, edits, k);
	free(edits);
	return rc;
}

/* ---- the commit ---- */

static int
make_signature(struct audit *a, const struct audit_change *ch, const char *operator_name,
    git_signature **sig)
{
	struct audit_buf email = { 0 };
	int gerr;

	if (ch->email != NULL)
		put_line(&email, ch->email, "<> ");
	if (email.len == 0)
		audit_buf_adds(&email, AUDIT_DEFAULT_EMAIL);
	gerr = git_signature_new(sig, operator_name, email.p, (git_time_t)a->ctx->now, 0);
	audit_buf_release(&email);
	if (gerr < 0)
		return audit_git_error(a, gerr, TF_EINVALID, "cannot sign the change as '%s'",
		    operator_name);
	return 0;
}

/*
 * Point the branch HEAD names at 'id', if it still points at 'old' (NULL:
 * if it does not exist yet): a writer that got there first is TF_ELOCKED.
 */
static int
move_branch(struct audit *a, const git_oid *id, const git_oid *old)
{
	git_reference *head = NULL, *ref = NULL;
	const char *branch;
	int gerr, rc = 0;

	if ((gerr = git_reference_lookup(&head, a->repo, "HEAD")) < 0) {
		rc = audit_git_error(a, gerr, TF_EIO, "cannot read HEAD of '%s'", a->path);
		goto out;
	}
	if (git_reference_type(head) != GIT_REFERENCE_SYMBOLIC) {
		rc =
		    tf_error(a->ctx, TF_EIO, "HEAD of the audit log '%s' is not a branch", a->path);
		goto out;
	}
	branch = git_reference_symbolic_target(head);
	if (old != NULL)
		gerr = git_reference_create_matching(&ref, a->repo, branch, id, 1, old,
		    "trustfix: record a change");
	else
		gerr = git_reference_create(&ref, a->repo, branch, id, 0,
		    "trustfix: record the first change");
	if (gerr < 0)
		rc = audit_git_error(a, gerr, gerr == GIT_EEXISTS ? TF_ELOCKED : TF_EIO,
		    "cannot move '%s' of the audit log '%s'", branch, a->path);
out:
	git_reference_free(ref);
	git_reference_free(head);
	return rc;
}

int
audit_record(char id_out[41], struct audit *a, const struct audit_file *files, size_t n,
    const struct audit_change *ch)
{
	struct audit_buf msg = { 0 }, op = { 0 };
	struct item *items = NULL;
	git_signature *sig = NULL;
	git_commit *parent = NULL;
	const git_oid *parents[1];
	git_oid tree_id, commit_id;
	size_t i;
	int gerr, rc;

	if (id_out != NULL)
		id_out[0] = '\0';
	if (a->repo == NULL || a->is_readonly)
		return tf_error(a->ctx, TF_ERROR, "the audit log was opened read-only");
	if ((rc = check_change(a, ch)) != 0)
		return rc;
	items = tf_calloc(n, sizeof(*items));
	for (i = 0; i < n; i++)
		items[i].f = &files[i];
	if ((rc = check_files(a, items, n)) != 0)
		goto out;
	/* the name of the author: no '<' or '>', which end it in a commit */
	if (ch->operator_name != NULL)
		put_line(&op, ch->operator_name, "<>");
	if (op.len == 0)
		audit_buf_adds(&op, "unknown");
	if ((rc = build_message(a, ch, op.p, &msg)) != 0 ||
	    (rc = make_signature(a, ch, op.p, &sig)) != 0 ||
	    (rc = audit_head_commit(&parent, a)) != 0)
		goto out;
	/*
	 * Trees by id only: a tree object parsed is every entry of the folder
	 * (100,000 in a big hashed directory), and neither the old tree nor the
	 * new one needs its entries here.
	 */
	if ((rc = build_tree(a, &tree_id, parent != NULL ? git_commit_tree_id(parent) : NULL, items,
	         n)) != 0)
		goto out;
	parents[0] = parent != NULL ? git_commit_id(parent) : NULL;
	if ((gerr = git_commit_create_from_ids(&commit_id, a->repo, NULL, sig, sig, NULL, msg.p,
	         &tree_id, parent != NULL ? 1 : 0, parents)) < 0) {
		rc = audit_git_error(a, gerr, TF_EIO, "cannot record the change in '%s'", a->path);
		goto out;
	}
	/* every object on disk first, then the branch: a crash leaves the old head */
	if ((rc = audit_objects_flush(a)) != 0 ||
	    (rc = move_branch(a, &commit_id, parent != NULL ? git_commit_id(parent) : NULL)) != 0)
		goto out;
	if (id_out != NULL)
		git_oid_tostr(id_out, 41, &commit_id);
	rc = 0;
out:
	audit_objects_discard(a);
	git_commit_free(parent);
	git_signature_free(sig);
	audit_buf_release(&msg);
	audit_buf_release(&op);
	free(items);
	return rc;
}
