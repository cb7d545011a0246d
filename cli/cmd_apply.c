/*
 * cli/cmd_apply.c - "trustfix apply": put a verified bundle into every
 * store as one audited transaction (through change_run(), like "add" and
 * "remove"), and record the bundle as installed in the same change.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../bundles/bundle.h"
#include "../core/certinfo.h"
#include "../core/path.h"
#include "../truststore/edit.h"
#include "change.h"

static void
add_line(char **body, const char *line)
{
	char *s = tf_asprintf("%s%s\n", *body != NULL ? *body : "", line);

	free(*body);
	*body = s;
}

/* The bundle's meaning, the stores' plans and the record, in one change. */
int
apply_plan(struct cli *cli, struct audit *audit, struct change *ch, void *arg)
{
	struct apply_req *r = arg;
	const struct bundle_manifest *m = bundle_manifest(r->b);
	const unsigned char **der = NULL;
	unsigned char(*rm)[32] = NULL;
	const char *ssha, *signer = bundle_signer(r->b, &ssha);
	struct ts_edit edit = { 0 };
	size_t *len = NULL, i;
	long long installed;
	enum bundle_status st;
	char *line, *path = NULL, *data = NULL, date[32];
	size_t dlen;
	int rc;

	(void)audit;
	/* again, under the lock: another run may have installed a bundle meanwhile */
	if ((rc = bundle_check_installed(r->b, &cli->ctx, r->allow_downgrade)) != 0)
		return rc;
	st = bundle_status(r->b, &installed);
	der = tf_calloc(m->nadd ? m->nadd : 1, sizeof(*der));
	len = tf_calloc(m->nadd ? m->nadd : 1, sizeof(*len));
	rm = tf_calloc(m->nremove ? m->nremove : 1, sizeof(*rm));
	for (i = 0; i < m->nadd; i++) {
		der[i] = m->add[i].der;
		len[i] = m->add[i].der_len;
	}
	for (i = 0; i < m->nremove; i++)
		memcpy(rm[i], m->remove[i].sha256, 32);
	edit.add_der = der;
	edit.add_len = len;
	edit.nadd = m->nadd;
	edit.remove = (const unsigned char(*)[32])rm;
	edit.nremove = m->nremove;

	line = tf_asprintf("bundle %s version %lld, signed by %s (%.16s)", m->name, m->version,
	    signer, ssha);
	add_line(&ch->body, line);
	free(line);
	if (st == BUNDLE_DOWNGRADE) {
		line = tf_asprintf("DOWNGRADE from version %lld (--allow-downgrade)", installed);
		add_line(&ch->body, line);
		free(line);
	}
	for (i = 0; i < r->nstores && rc == 0; i++) {
		struct truststore *ts = NULL;
		struct ts_plan *p = NULL;

		if ((rc = truststore_open(&ts, &cli->ctx, r->stores[i], r->password)) == 0 &&
		    (rc = truststore_plan(&p, ts, &edit)) == 0)
			change_add_plan(ch, p);
		ts_plan_free(p);
		truststore_free(ts);
	}
	if (rc != 0)
		goto out;
	if (st != BUNDLE_INSTALLED) {
		bundle_installed_record(r->b, &cli->ctx, &path, &data, &dlen);
		change_add_file(ch, TS_OP_WRITE, path, data, dlen, 0644);
	}
	free(ch->subject_line);
	if (st == BUNDLE_DOWNGRADE)
		ch->subject_line =
		    tf_asprintf("downgrade to bundle %s version %lld", m->name, m->version);
	else if (st == BUNDLE_INSTALLED)
		ch->subject_line = tf_asprintf("re-apply bundle %s version %lld to the stores",
		    m->name, m->version);
	else
		ch->subject_line = tf_asprintf("apply bundle %s version %lld", m->name, m->version);
	change_add_trailer(ch, "Trustfix-Bundle", m->name);
	line = tf_asprintf("%lld", m->version);
	change_add_trailer(ch, "Trustfix-Bundle-Version", line);
	free(line);
	line = tf_asprintf("%s (sha256 %s)", signer, ssha);
	change_add_trailer(ch, "Trustfix-Bundle-Signer", line);
	free(line);
	change_add_trailer(ch, "Trustfix-Bundle-Manifest", bundle_manifest_sha256(r->b));
	tf_time_iso(date, sizeof(date), m->created);
	change_add_trailer(ch, "Trustfix-Bundle-Created", date);
	if (st == BUNDLE_DOWNGRADE) {
		line = tf_asprintf("from version %lld", installed);
		change_add_trailer(ch, "Trustfix-Bundle-Downgrade", line);
		free(line);
	}
out:
	free(path);
	free(data);
	free(der);
	free(len);
	free(rm);
	return rc;
}

int
cmd_apply(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "signers", required_argument, NULL, 'S' },
		{ "allow-downgrade", no_argument, NULL, 'D' },
		{ "password-file", required_argument, NULL, 'P' },
		CLI_COMMON_OPTIONS,
		CHANGE_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct bundle_verify_opts vo = { 0 };
	struct change_opts o = { 0 };
	struct change ch = { 0 };
	struct apply_req r = { 0 };
	const struct bundle_manifest *m;
	struct change_scope scope = { 0 };
	char **named = NULL, *password = NULL, *why, id[41] = "";
	const char *password_file = NULL;
	size_t nnamed = 0, i;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, ":nqvh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			named = tf_realloc(named, (nnamed + 1) * sizeof(*named));
			named[nnamed++] = optarg;
			break;
		case 'S':
			vo.signers = optarg;
			break;
		case 'D':
			vo.allow_downgrade = true;
			break;
		case 'P':
			password_file = optarg;
			break;
		case 'h':
			free(named);
			return cmd_help(cli, 2, (char *[]){ "help", "apply", NULL });
		case ':':
			free(named);
			return cli_usage(cli, "apply", "option '%s' needs a value",
			    argv[optind - 1]);
		case '?':
			free(named);
			return cli_usage(cli, "apply", "unknown option '%s'", argv[optind - 1]);
		default:
			if ((rc = change_option(cli, "apply", &o, c, optarg)) < 0 ||
			    (rc == 0 && cli_common_option(cli, "apply", c, optarg) <= 0)) {
				free(named);
				return TF_EXIT_USAGE;
			}
			rc = 0;
			break;
		}
	}
	if (argc - optind > 1) {
		free(named);
		return cli_usage(cli, "apply", "apply takes one bundle: a file or a staged name");
	}
	r.allow_downgrade = vo.allow_downgrade;
	/* verified before anything is locked or written: a refused bundle changes nothing */
	if ((rc = bundle_cli_open(cli, "apply", optind < argc ? argv[optind] : NULL, &r.b)) != 0 ||
	    (rc = bundle_verify(r.b, &cli->ctx, &vo)) != 0)
		goto out;
	m = bundle_manifest(r.b);
	if ((rc = change_stores(cli, "apply", named, nnamed, &r.stores, &r.nstores)) != 0)
		goto out;
	if (password_file != NULL) {
		if ((rc = cli_read_password(cli, password_file, &password)) != 0)
			goto out;
		r.password = password;
	}
	for (i = 0; i < r.nstores; i++)
		change_scope_add(&scope, r.stores[i]);
	/* the transaction writes the record into a folder that must exist */
	if (!o.dry_run && (rc = bundle_state_prepare(&cli->ctx)) != 0)
		goto out;
	o.command = cli->cmdline;
	rc = change_run(cli, &o, &scope, apply_plan, &r, &ch, id);
	if (rc == 0) {
		change_print(cli, &ch, o.dry_run, id);
		if (!o.dry_run && bundle_note_applied(r.b, &cli->ctx) != 0) {
			fprintf(stderr, "%s: warning: %s\n", cli->prog, cli->ctx.errmsg);
			tf_error_clear(&cli->ctx);
		}
	} else if (CHANGE_FAILED(rc)) {
		change_print(cli, &ch, o.dry_run, id);
	} else if (rc == TF_EXIT_NOTHING) {
		why =
		    tf_asprintf("bundle %s version %lld is installed and every store is up to date",
		        m->name, m->version);
		change_print_nothing(cli, &o, why);
		free(why);
	}
out:
	change_release(&ch);
	change_free_list(r.stores, r.nstores);
	change_free_list(scope.v, scope.n);
	free(named);
	bundle_free(r.b);
	cli_free_password(password);
	return rc;
}
