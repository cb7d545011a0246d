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

# ---- signed root bundles (the t03* tests) ----

# fast_tree_sum DIR: what tree_sum says (names, types, modes, owners, link
# targets, contents), in a fixed number of processes: for tests that check a
# whole root after each of many runs.
fast_tree_sum() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %U:%G %l\n' | LC_ALL=C sort &&
	    find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum | cut -c1-64
}

B_QV_SHA=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86
B_IT_SHA=5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae
B_NAME=identrust-commercial-root-ca-1

# bundle_signer NAME [mkcert options]: a bundle signer, $T/NAME.pem and
# $T/NAME.key (P-256 unless the options say otherwise).
bundle_signer() {
	_bs=$1
	shift
	"$MKCERT" --subject "/CN=$_bs/O=trustfix tests" --key-type ec:P-256 \
	    --key-out "$T/$_bs.key" -o "$T/$_bs.pem" "$@"
}

# bundle_root DIR: an appliance image whose PEM store holds QuoVadis Root
# CA 2 and a site CA ($T/site.pem, made once), configured to pin
# $T/signer.pem as the bundle signer.
bundle_root() {
	[ -s "$T/site.pem" ] ||
	    "$MKCERT" --subject "/CN=Site CA/O=trustfix tests" --ca --key-type ec:P-256 -o "$T/site.pem"
	mkdir -p "$1/etc/ssl/certs" "$1/etc/trustfix"
	cat "$DATA/QuoVadis_Root_CA_2.pem" "$T/site.pem" >"$1/etc/ssl/certs/ca-certificates.crt"
	cp "$T/signer.pem" "$1/etc/trustfix/signers.pem"
	printf '%s\n' 'bundle_signers = /etc/trustfix/signers.pem' '' '[store system]' \
	    'path = /etc/ssl/certs/ca-certificates.crt' >"$1/etc/trustfix/trustfix.conf"
}

# bundle_make FILE VERSION [bundle create options]: the IdenTrust bundle
# (add IdenTrust, remove QuoVadis, require IdenTrust) signed by $T/signer.
bundle_make() {
	_bf=$1 _bv=$2
	shift 2
	"$TRUSTFIX" bundle create --name "$B_NAME" --version "$_bv" \
	    --signer-cert "$T/signer.pem" --signer-key "$T/signer.key" \
	    --add "$DATA/IdenTrust_Commercial_Root_CA_1.pem" \
	    --remove "$B_QV_SHA=QuoVadis Root CA 2" \
	    --require "$B_IT_SHA=IdenTrust Commercial Root CA 1" -o "$_bf" "$@" >/dev/null
}

# bundle_unpack FILE DIR / bundle_pack DIR FILE: a bundle's files, to tamper with.
bundle_unpack() {
	rm -rf "$2" && mkdir -p "$2" && tar -C "$2" -xzf "$1"
}
bundle_pack() {
	(cd "$1" && tar --owner=0 --group=0 -czf - $(ls -A)) >"$2"
}

# bundle_sign DIR [SIGNER [DIGEST]]: sign DIR/manifest.json again, as
# openssl cms does it (detached, DER), with $T/SIGNER.{pem,key}.
bundle_sign() {
	openssl cms -sign -binary -md "${3:-sha256}" -outform DER -in "$1/manifest.json" \
	    -signer "$T/${2:-signer}.pem" -inkey "$T/${2:-signer}.key" -out "$1/manifest.json.sig"
}
