/*
 * cli/cmd_version.c - "trustfix version": the version and the libraries
 * trustfix runs with.
 */
#include <archive.h>
#include <git2.h>
#include <jansson.h>
#include <stdio.h>

#include <openssl/crypto.h>

#include "../renew/renew.h"
#include "cli.h"

#ifndef TF_INIH_VERSION
#define TF_INIH_VERSION "unknown"
#endif

int
cmd_version(struct cli *cli, int argc, char **argv)
{
	int major, minor, rev;

	(void)argv;
	if (argc > 1)
		return cli_usage(cli, "version", "too many arguments");
	git_libgit2_version(&major, &minor, &rev);
	printf("trustfix %s\n", TF_VERSION);
	printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("  libcurl %s\n", http_library_version());
	printf("  %s\n", archive_version_string());
	printf("  libgit2 %d.%d.%d\n", major, minor, rev);
	printf("  jansson %s\n", jansson_version_str());
	printf("  inih r%s\n", TF_INIH_VERSION);
	return 0;
}
