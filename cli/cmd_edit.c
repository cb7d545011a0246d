/*
 * cli/cmd_edit.c - "trustfix add" and "trustfix remove": the operator's
 * manual edits of the trust stores, each one audited transaction.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../core/path.h"
#include "../core/subject.h"
#include "../truststore/edit.h"
#include "change.h"

struct edit_req {
	char **stores;
	size_t nstores;
	struct ts_edit edit;
	const char *password;
	const char *verb;          /* "add" or "remove" */
	const char *subject_match; /* remove --subject TEXT */
	bool all_matching;
};

/* Every store's plan, in one change. */
static int
plan_edit(struct cli *cli, struct audit *audit, struct change *ch, void *arg)
{
	struct edit_req *r = arg;
	const char *first = NULL;
	unsigned char(*seen)[32] = NULL;
	size_t i, j, k, count = 0;
	int rc = 0;

	(void)audit;
	for (i = 0; i < r->nstores && rc == 0; i++) {
		struct truststore *ts = NULL;
		struct ts_plan *p = NULL;

		if ((rc = truststore_open(&ts, &cli->ctx, r->stores[i], r->password)) == 0 &&
		    (rc = truststore_plan(&p, ts, &r->edit)) == 0) {
			change_add_plan(ch, p);
			/* distinct certificates, not certificate and store pairs */
			for (j = 0; j < p->nadded + p->nremoved; j++) {
				const unsigned char *sha = j < p->nadded
				    ? p->added[j].sha256
				    : p->removed[j - p->nadded].sha256;

				for (k = 0; k < count; k++)
					if (memcmp(seen[k], sha, 32) == 0)
						break;
				if (k == count) {
					seen = tf_realloc(seen, (count + 1) * sizeof(*seen));
					memcpy(seen[count++], sha, 32);
				}
			}
			if (first == NULL && p->nadded + p->nremoved > 0) {
				free(ch->subject_line);
				ch->subject_line = tf_strdup(tf_subject_short(
				    p->nadded ? p->added[0].subject : p->removed[0].subject));
				first = ch->subject_line;
			}
		}
		ts_plan_free(p);
		truststore_free(ts);
	}
	if (rc == 0 && first != NULL) {
		char *s = count > 1 ? tf_asprintf("%s %s and %zu more", r->verb, first, count - 1)
		                    : tf_asprintf("%s %s", r->verb, first);

		free(ch->subject_line);
		ch->subject_line = s;
	}
	free(seen);
	return rc;
}

struct subject_scan {
	const char *text;
	unsigned char (*found)[32];
	char **subjects;
	size_t n;
};

static int
match_subject(const struct tf_cert *c, void *arg)
{
	struct subject_scan *s = arg;
	size_t i;

	if (strstr(c->info.subject, s->text) == NULL)
		return 0;
	for (i = 0; i < s->n; i++)
		if (memcmp(s->found[i], c->info.sha256, 32) == 0)
			return 0;
	s->found = tf_realloc(s->found, (s->n + 1) * sizeof(*s->found));
	s->subjects = tf_realloc(s->subjects, (s->n + 1) * sizeof(*s->subjects));
	memcpy(s->found[s->n], c->info.sha256, 32);
	s->subjects[s->n] = tf_strdup(c->info.subject);
	s->n++;
	return 0;
}

/* The fingerprints whose subject contains the text, in the stores. */
static int
resolve_subject(struct cli *cli, struct edit_req *r, struct subject_scan *s)
{
	struct truststore_checks checks = { .now = cli->ctx.now };
	struct tf_findings f = { 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < r->nstores && rc == 0; i++) {
		struct truststore *ts = NULL;

		if ((rc = truststore_open(&ts, &cli->ctx, r->stores[i], r->password)) == 0)
			rc = truststore_scan(ts, &checks, &f, NULL, match_subject, s);
		truststore_free(ts);
	}
	tf_findings_release(&f);
	if (rc != 0)
		return rc;
	if (s->n > 1 && !r->all_matching) {
		char hex[65];

		fprintf(stderr, "trustfix: '%s' matches %zu certificates:\n", s->text, s->n);
		for (i = 0; i < s->n; i++) {
			tf_hex(hex, s->found[i], 32);
			fprintf(stderr, "  %s  %s\n", hex, s->subjects[i]);
		}
		return tf_error(&cli->ctx, TF_EUSAGE,
		    "name one by its SHA-256, or give --all-matching to remove them all");
	}
	return 0;
}

static int
run_edit(struct cli *cli, const char *cmd, int argc, char **argv, bool add)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "subject", required_argument, NULL, 'S' },
		{ "all-matching", no_argument, NULL, 'A' },
		{ "password-file", required_argument, NULL, 'P' },
		CLI_COMMON_OPTIONS,
		CHANGE_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct change_opts o = { 0 };
	struct change ch = { 0 };
	struct edit_req r = { .verb = cmd };
	struct subject_scan ss = { 0 };
	unsigned char **der = NULL, (*rm)[32] = NULL;
	size_t *len = NULL, nder = 0, nrm = 0, i;
	char **named = NULL, *password = NULL, id[41] = "";
	const char *password_file = NULL;
	size_t nnamed = 0;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, ":nqvh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			named = tf_realloc(named, (nnamed + 1) * sizeof(*named));
			named[nnamed++] = optarg;
			break;
		case 'S':
			if (add) {
				free(named);
				return cli_usage(cli, cmd, "--subject is an option of remove");
			}
			r.subject_match = optarg;
			break;
		case 'A':
			if (add) {
				free(named);
				return cli_usage(cli, cmd, "--all-matching is an option of remove");
			}
			r.all_matching = true;
			break;
		case 'P':
			password_file = optarg;
			break;
		case 'h':
			free(named);
			return cmd_help(cli, 2, (char *[]){ "help", (char *)cmd, NULL });
		case ':':
			free(named);
			return cli_usage(cli, cmd, "option '%s' needs a value", argv[optind - 1]);
		case '?':
			goto usage;
		default:
			if ((rc = change_option(cli, cmd, &o, c, optarg)) < 0 ||
			    (rc == 0 && cli_common_option(cli, cmd, c, optarg) <= 0)) {
				free(named);
				return TF_EXIT_USAGE;
			}
			rc = 0;
			break;
		}
	}
	if (add && optind >= argc) {
		free(named);
		return cli_usage(cli, cmd, "name the certificate files to add");
	}
	if (!add && optind >= argc && r.subject_match == NULL) {
		free(named);
		return cli_usage(cli, cmd, "name the certificates by SHA-256, or give --subject");
	}
	if ((rc = change_stores(cli, cmd, named, nnamed, &r.stores, &r.nstores)) != 0)
		goto out;
	if (password_file != NULL && (rc = cli_read_password(cli, password_file, &password)) != 0)
		goto out;
	r.password = password;
	for (i = (size_t)optind; add && i < (size_t)argc; i++)
		if ((rc = change_read_certs(cli, argv[i], &der, &len, &nder)) != 0)
			goto out;
	for (i = (size_t)optind; !add && i < (size_t)argc; i++) {
		char hex[65];
		size_t k = 0;

		/* "85:A0:DD..." as openssl prints it is accepted too */
		for (const char *p = argv[i]; *p != '\0' && k < 64; p++)
			if (*p != ':')
				hex[k++] = *p;
		hex[k] = '\0';
		rm = tf_realloc(rm, (nrm + 1) * sizeof(*rm));
		if (k != 64 || tf_unhex(rm[nrm], 32, hex) == -1) {
			rc = cli_usage(cli, cmd,
			    "'%s' is not a SHA-256 fingerprint (64 hex digits)", argv[i]);
			goto out;
		}
		nrm++;
	}
	if (r.subject_match != NULL) {
		ss.text = r.subject_match;
		if ((rc = resolve_subject(cli, &r, &ss)) != 0)
			goto out;
		if (ss.n == 0 && nrm == 0) {
			char *why =
			    tf_asprintf("no certificate in the stores has '%s' in its subject",
			        r.subject_match);

			change_print_nothing(cli, &o, why);
			free(why);
			rc = TF_EXIT_NOTHING;
			goto out;
		}
		for (i = 0; i < ss.n; i++) {
			rm = tf_realloc(rm, (nrm + 1) * sizeof(*rm));
			memcpy(rm[nrm++], ss.found[i], 32);
		}
	}
	r.edit.add_der = (const unsigned char *const *)der;
	r.edit.add_len = len;
	r.edit.nadd = nder;
	r.edit.remove = (const unsigned char(*)[32])rm;
	r.edit.nremove = nrm;
	o.command = cli->cmdline;
	{
		struct change_scope scope = { r.stores, r.nstores };

		rc = change_run(cli, &o, &scope, plan_edit, &r, &ch, id);
	}
	if (rc == 0 || CHANGE_FAILED(rc))
		change_print(cli, &ch, o.dry_run, id);
	else if (rc == TF_EXIT_NOTHING)
		change_print_nothing(cli, &o,
		    add ? "the certificates are in every store already"
		        : "no store holds these certificates");
	goto out;
usage:
	free(named);
	return cli_usage(cli, cmd, "unknown option '%s'", argv[optind - 1]);
out:
	change_release(&ch);
	change_free_list(r.stores, r.nstores);
	for (i = 0; i < nder; i++)
		free(der[i]);
	for (i = 0; i < ss.n; i++)
		free(ss.subjects[i]);
	free(ss.subjects);
	free(ss.found);
	free(der);
	free(len);
	free(rm);
	free(named);
	cli_free_password(password);
	return rc;
}

int
cmd_add(struct cli *cli, int argc, char **argv)
{
	return run_edit(cli, "add", argc, argv, true);
}

int
cmd_remove(struct cli *cli, int argc, char **argv)
{
	return run_edit(cli, "remove", argc, argv, false);
}
