/*
 * cli/cli.h - what the commands share: the parsed global options, the
 * output format and the helpers that print.
 */
#ifndef TF_CLI_H
#define TF_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "../core/config.h"
#include "../core/tf.h"

enum output_format { OUT_TABLE, OUT_JSON, OUT_PROMETHEUS };

struct cli {
	struct tf_ctx ctx;
	const char *config_path; /* --config, or the default */
	bool config_given;
	enum output_format format;
	bool color; /* stdout is a terminal and NO_COLOR is unset */
	const char *prog;
	char *cmdline;               /* the command line as typed, quoted, for the audit log */
	struct statcache *statcache; /* what this run's drift scan saw (cli/statcache.h) */
};

struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary;
	const char *usage; /* option lines for "trustfix help NAME" */
};

/*
 * Every command returns an exit status (0..8) or, after setting the error
 * message in cli->ctx, a negative TF_E* code that main() prints and maps.
 */
int cmd_add(struct cli *cli, int argc, char **argv);
int cmd_apply(struct cli *cli, int argc, char **argv);
int cmd_bundle(struct cli *cli, int argc, char **argv);
int cmd_enroll(struct cli *cli, int argc, char **argv);
int cmd_est(struct cli *cli, int argc, char **argv);
int cmd_help(struct cli *cli, int argc, char **argv);
int cmd_hooks(struct cli *cli, int argc, char **argv);
int cmd_inspect(struct cli *cli, int argc, char **argv);
int cmd_log(struct cli *cli, int argc, char **argv);
int cmd_probe(struct cli *cli, int argc, char **argv);
int cmd_remediate(struct cli *cli, int argc, char **argv);
int cmd_remove(struct cli *cli, int argc, char **argv);
int cmd_renew(struct cli *cli, int argc, char **argv);
int cmd_rollback(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_version(struct cli *cli, int argc, char **argv);

const struct command *cli_command(const char *name);

/*
 * cmd_bundle.c, for cmd_apply.c too: open the bundle an argument names (a
 * file, else a staged bundle; NULL: the one staged), and print a verified
 * bundle. bundle_cli_open() returns 0, TF_EXIT_USAGE (usage printed) or TF_E*.
 */
struct bundle;
int bundle_cli_open(struct cli *cli, const char *cmd, const char *arg, struct bundle **out);
void bundle_cli_print(struct cli *cli, const struct bundle *b);

/* Print "usage: ..." for a command to stderr and return TF_EXIT_USAGE. */
int cli_usage(struct cli *cli, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The long options every command takes, handled by cli_common_option(); to
 * put in a command's option table (which includes <getopt.h>).
 */
#define CLI_COMMON_OPTIONS                                                                         \
	{ "json", no_argument, NULL, 'j' }, { "quiet", no_argument, NULL, 'q' },                   \
	    { "verbose", no_argument, NULL, 'v' },                                                 \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/*
 * Handle the options every command takes (--json, --format, -q, -v).
 * Returns 1 if 'c' was one of them, 0 if not, -1 on a bad value.
 */
int cli_common_option(struct cli *cli, const char *cmd, int c, const char *arg);

/* Colour escape for 'what' ("red", "green", "yellow", "bold", "reset"), or "". */
const char *cli_color(const struct cli *cli, const char *what);

/*
 * The password in the first line of 'file' (an input file, read as given),
 * without its line end, in *out; the whole file's bytes are wiped once
 * read. Free it with cli_free_password(). Returns 0 or TF_E*.
 */
int cli_read_password(struct cli *cli, const char *file, char **out);

/* Wipe and free a password; NULL is a no-op. */
void cli_free_password(char *password);

/* Load the configuration file named by --config (or the default). */
int cli_load_config(struct cli *cli);

#endif
