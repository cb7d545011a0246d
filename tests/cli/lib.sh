# tests/cli/lib.sh - TAP helpers sourced by every end-to-end test of the real
# binary: assertions, a per-test temporary directory $T, and 'tf' to run
# trustfix capturing its stdout ($T/out), stderr ($T/err) and status ($rc).

set -u

: "${TRUSTFIX:?set TRUSTFIX to the trustfix binary (make check-run does)}"
: "${TF_TOOLS:?set TF_TOOLS to the directory of the test tools}"
: "${TF_SRC:?set TF_SRC to the source tree}"
MKCERT=$TF_TOOLS/mkcert
if [ ! -x "$TRUSTFIX" ] || [ ! -x "$MKCERT" ]; then
	echo "Bail out! $TRUSTFIX or $MKCERT is missing: build them first (make check-run does)"
	exit 1
fi
DATA=$TF_SRC/tests/data
# Debian's python3 when there is one: a version manager's shim costs 0.1 s a call
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3

T=$(mktemp -d "${TMPDIR:-/tmp}/trustfix-test.XXXXXX") || exit 1
# a test may leave an unreadable file or directory behind
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
export LC_ALL=C
unset NO_COLOR # tests of colour set it themselves

_tap_n=0
_tap_failed=0
_tap_planned=

# plan N: announce N assertions (else done_testing prints the count at the end).
plan() {
	echo "1..$1"
	_tap_planned=1
}

# ok STATUS DESCRIPTION: pass when STATUS is 0 ('ok $? "..."'). While
# $TODO is set, assertions are TAP TODO items: a known bug, not a failure.
TODO=
ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2${TODO:+ # TODO $TODO}"
	else
		echo "not ok $_tap_n - $2${TODO:+ # TODO $TODO}"
		[ -n "$TODO" ] || _tap_failed=$((_tap_failed + 1))
	fi
	return "$1"
}

# diag TEXT...: a comment in the TAP stream.
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:  '$1'" "want: '$2'"
		return 1
	fi
}

# like FILE ERE DESCRIPTION / unlike FILE ERE DESCRIPTION: grep a file.
like() {
	if grep -Eq -e "$2" "$1"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "no line of $(basename "$1") matches /$2/:"
		head -c 2000 "$1" | sed 's/^/# /'
		return 1
	fi
}
unlike() {
	if grep -Eq -e "$2" "$1"; then
		ok 1 "$3"
		diag "$(basename "$1") has a line that matches /$2/:"
		grep -E -m 3 -e "$2" "$1" | cut -c1-200 | sed 's/^/# /'
		return 1
	fi
	ok 0 "$3"
}

# skip DESCRIPTION REASON
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # skip $2"
}

# tf ARGS...: run trustfix (killed after 20 s: a hang is a failure).
tf() {
	rc=0
	timeout -k 5 20 "$TRUSTFIX" "$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -ge 124 ]; then
		diag "trustfix $* exited with $rc (hang or crash); stderr:"
		head -c 2000 "$T/err" | sed 's/^/# /'
	fi
}

# jpy EXPR: evaluate a Python expression on the JSON document in $T/out,
# bound to 'd'; strings print raw, anything else as JSON. Status 1 if the
# output is not one JSON document.
jpy() {
	$PYTHON -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    print("invalid JSON: %s" % e)
    sys.exit(1)
r = eval(sys.argv[2])
print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))' "$T/out" "$1"
}

# kinds: the distinct finding kinds of the last --json run, sorted, one line.
kinds() { jpy '" ".join(sorted(set(f["kind"] for f in d["findings"])))'; }

# has_kind KIND DESCRIPTION: the last --json run found KIND.
has_kind() {
	case " $(kinds) " in
	*" $1 "*) ok 0 "$2" ;;
	*)
		ok 1 "$2"
		diag "finding kinds: $(kinds)"
		return 1
		;;
	esac
}

# findings: the findings of the last --json run as "KIND<TAB>WHERE<TAB>MESSAGE"
# lines in $T/findings, for like/unlike.
findings() {
	jpy '"\n".join("%s\t%s\t%s" % (f["kind"], f["where"], f["message"]) for f in d["findings"])' \
	    >"$T/findings"
}

# count_kind KIND: how many findings of KIND the last --json run had.
count_kind() { jpy "len([f for f in d['findings'] if f['kind'] == '$1'])"; }

# pem_sha256 FILE: SHA-256 fingerprint (64 lowercase hex) of a certificate.
pem_sha256() {
	openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1
}

# done_testing: print the plan if none was given, exit 1 on any failure.
done_testing() {
	[ -n "$_tap_planned" ] || echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ] || diag "$_tap_failed of $_tap_n assertions failed"
	exit $((_tap_failed > 0))
}

# tree_sum DIR: one checksum of every name, type, mode, owner, link target
# and content under DIR, to show that nothing changed.
tree_sum() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r f; do
		if [ -L "$f" ]; then
			printf 'L %s %s %s\n' "$f" "$(stat -c '%u:%g' "$f")" "$(readlink "$f")"
		elif [ -d "$f" ]; then
			printf 'D %s %s\n' "$f" "$(stat -c '%a %u:%g' "$f")"
		else
			printf 'F %s %s %s\n' "$f" "$(stat -c '%a %u:%g' "$f")" \
				"$(sha256sum <"$f" | cut -c1-64)"
		fi
	done) | sha256sum | cut -c1-64
}

# agit ROOT ARGS...: plain git on the audit log of ROOT.
agit() {
	_r=$1
	shift
	git --git-dir="$_r/var/lib/trustfix/audit.git" "$@"
}
