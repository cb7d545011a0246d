#!/bin/sh
# t0160-cli-config.sh - the command line and the configuration file: help,
# --version, usage errors (exit 2), and config errors that name file and line.
. "$TF_SRC/tests/cli/lib.sh"

R=$T/root
CONF=$R/etc/trustfix/trustfix.conf
mkdir -p "$R/etc/trustfix" "$R/etc/ssl"
cp "$DATA/IdenTrust_Commercial_Root_CA_1.pem" "$R/etc/ssl/store.pem"

# --- help
tf help
is "$rc" 0 "trustfix help: exit 0"
like "$T/out" "^usage: trustfix " "help shows the usage"
like "$T/out" "^  inspect +[a-z]" "help lists inspect with a summary"
like "$T/out" "--root DIR" "help lists the global options"
tf help inspect
is "$rc" 0 "trustfix help inspect: exit 0"
like "$T/out" "--client-cert PATH" "help inspect documents --client-cert"
like "$T/out" "--password-file FILE" "help inspect documents --password-file"
like "$T/out" "Exit status: 0 compliant, 1 findings, 2" "help inspect documents the exit status"
cp "$T/out" "$T/help-inspect"
tf inspect --help
is "$rc.$(cmp -s "$T/out" "$T/help-inspect" && echo same)" 0.same "inspect --help is help inspect"
tf --help
is "$rc" 0 "trustfix --help: exit 0"
tf help frobnicate
is "$rc" 2 "help for an unknown command: exit 2"
like "$T/err" "frobnicate" "the error names the command"

# --- version, with the linked libraries
tf --version
is "$rc" 0 "--version: exit 0"
like "$T/out" "^trustfix [0-9]+\.[0-9]+\.[0-9]+$" "--version: trustfix's version"
like "$T/out" "OpenSSL $(openssl version | cut -d' ' -f2)" "--version: the OpenSSL version"
like "$T/out" "libcurl [0-9]+\.[0-9]+" "--version: the libcurl version"
like "$T/out" "libarchive [0-9]+\.[0-9]+" "--version: the libarchive version"
like "$T/out" "libgit2 [0-9]+\.[0-9]+" "--version: the libgit2 version"
cp "$T/out" "$T/version"
tf version
is "$rc.$(cmp -s "$T/out" "$T/version" && echo same)" 0.same "trustfix version says the same"

# --- usage errors: exit 2, with a message naming what is wrong
tf frobnicate
is "$rc" 2 "unknown command: exit 2"
like "$T/err" "unknown command 'frobnicate'" "the error names the command"
tf --frobnicate inspect
is "$rc" 2 "unknown global option: exit 2"
like "$T/err" "--frobnicate" "the error names the option"
tf --root "$R" inspect --frobnicate /etc/ssl/store.pem
is "$rc" 2 "unknown inspect option: exit 2"
like "$T/err" "--frobnicate" "the error names the option"
tf
is "$rc" 2 "no command: exit 2"
like "$T/err" "usage: trustfix" "no command: the usage"
tf --root "$R" inspect --warn-days soon /etc/ssl/store.pem
is "$rc" 2 "--warn-days soon: exit 2"
like "$T/err" "soon" "the error names the bad value"
tf --root "$T/nonexistent" inspect /etc/ssl/store.pem
is "$rc" 2 "--root that does not exist: exit 2"
like "$T/err" "$T/nonexistent" "the error names the root"
tf --root "$R" inspect
is "$rc" 2 "no store given and none configured: exit 2"
like "$T/err" "no store" "the error says there is no store"

# --- the configuration: absent is fine, read from under --root
tf --root "$R" inspect /etc/ssl/store.pem
is "$rc" 0 "no configuration file: the defaults, exit 0"
printf '# a comment\nwarn_days = 30\n\n[store system]\npath = /etc/ssl/store.pem\n' >"$CONF"
tf --root "$R" --json inspect
is "$rc.$(jpy 'd["stores"][0]["path"]')" 0./etc/ssl/store.pem "stores come from the default config under --root"

# config_error DESC LINE TEXT: the config has an error on LINE
config_error() {
	tf --root "$R" inspect /etc/ssl/store.pem
	is "$rc" 2 "$1: exit 2"
	like "$T/err" "$CONF:$2: .*$3" "$1: the message names file and line $2"
}
printf 'warn_days = 30\nfrobnicate = yes\n' >"$CONF"
config_error "unknown key" 2 "frobnicate"
printf 'renew_before_days = soon\n' >"$CONF"
config_error "bad value" 1 "soon"
printf 'renew_lifetime_fraction = 1.5\n' >"$CONF"
config_error "fraction out of range" 1 "1\.5"
printf 'warn_days = -1\n' >"$CONF"
config_error "negative days" 1 "-1"
printf '\n\n[stroe system]\npath = /etc/ssl/store.pem\n' >"$CONF"
config_error "unknown section" 3 "stroe system"
printf '[client]\ncert = /etc/trustfix/client.pem\ncertificate = /x\n' >"$CONF"
config_error "unknown key in [client]" 3 "certificate"
printf '[store system]\npath = /etc/ssl/store.pem\nformat = pem\n' >"$CONF"
config_error "unknown key in [store]" 3 "format"
printf 'warn_days = 30\nthis is not ini\n' >"$CONF"
config_error "a line that is not key = value" 2 ""
printf '[store system]\npath =\n' >"$CONF"
config_error "empty path" 2 "path"
printf '[store empty]\n' >"$CONF"
tf --root "$R" inspect /etc/ssl/store.pem
is "$rc" 2 "a [store] section without path: exit 2"
like "$T/err" "$CONF.*store empty.*path" "the message names the file and the section"

# --config: a path of the managed system; a missing one is an error
rm "$CONF"
printf '[store other]\npath = /etc/ssl/store.pem\n' >"$R/etc/trustfix/other.conf"
tf --root "$R" --config /etc/trustfix/other.conf --json inspect
is "$rc.$(jpy 'd["stores"][0]["path"]')" 0./etc/ssl/store.pem "--config FILE is read under --root"
tf --root "$R" --config /etc/trustfix/missing.conf inspect /etc/ssl/store.pem
is "$rc" 2 "--config FILE that does not exist: exit 2"
like "$T/err" "$R/etc/trustfix/missing\.conf" "the error names the missing config"
printf 'frobnicate = 1\n' >"$R/etc/trustfix/other.conf"
tf --root "$R" --config /etc/trustfix/other.conf inspect /etc/ssl/store.pem
is "$rc" 2 "--config FILE with an error: exit 2"
like "$T/err" "$R/etc/trustfix/other\.conf:1:" "the error names that file and line"
tf --root "$R" --config /etc/trustfix/other.conf help
is "$rc" 0 "help works whatever the config"

done_testing
