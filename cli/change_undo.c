/*
 * cli/change_undo.c - the change that puts back what a change replaced,
 * read before that change is applied: what trustfix applies when a
 * post-change hook or probe fails.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../audit/vault.h"
#include "change.h"

/* The body of 'ch' with its '+' and '-' lines the other way round. */
static char *
inverted_body(const char *body)
{
	char *out = tf_strdup(body != NULL ? body : ""), *p;

	for (p = out; *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		if (p[0] == '+' && p[1] == ' ')
			p[0] = '-';
		else if (p[0] == '-' && p[1] == ' ')
			p[0] = '+';
	}
	return out;
}

int
change_undo_plan(struct cli *cli, const struct change *ch, struct change *undo)
{
	size_t i;
	int rc = 0;

	memset(undo, 0, sizeof(*undo));
	for (i = 0; i < ch->nfiles && rc == 0; i++) {
		const struct change_file *f = &ch->files[i];
		struct change_file cur;
		bool exists;

		if ((rc = change_read_state(cli, f->path, &cur, &exists)) != 0)
			break;
		if (!exists)
			change_add_file(undo, TS_OP_REMOVE, f->path, NULL, 0, 0);
		else if (cur.kind == TS_OP_SYMLINK)
			change_add_file(undo, TS_OP_SYMLINK, f->path, cur.data, cur.len, 0777);
		else if (f->secret || vault_is_key_path(&cli->ctx, f->path))
			change_add_secret(undo, f->path, cur.data, cur.len);
		else
			change_add_file(undo, TS_OP_WRITE, f->path, cur.data, cur.len, cur.mode);
		if (cur.data != NULL && (f->secret || vault_is_key_path(&cli->ctx, f->path)))
			OPENSSL_cleanse(cur.data, cur.len);
		free(cur.path);
		free(cur.data);
	}
	if (rc != 0) {
		change_release(undo);
		return rc;
	}
	undo->body = inverted_body(ch->body);
	for (i = 0; i < ch->ntrailers; i++) {
		const char *k = ch->trailer_keys[i];

		if (strcmp(k, "Trustfix-Added") == 0)
			change_add_trailer(undo, "Trustfix-Removed", ch->trailer_values[i]);
		else if (strcmp(k, "Trustfix-Removed") == 0)
			change_add_trailer(undo, "Trustfix-Added", ch->trailer_values[i]);
		else if (strcmp(k, "Trustfix-Key") == 0)
			change_add_trailer(undo, k, ch->trailer_values[i]);
	}
	return 0;
}
