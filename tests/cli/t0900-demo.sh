#!/bin/sh
# tests/cli/t0900-demo.sh - scripts/demo, the README's first command, runs
# end to end: exit 0, the steps it promises in its output, and nothing left
# behind (no EST server it started, no temporary folder), also when it is
# interrupted halfway or a step does not do what it should.
. "$TF_SRC/tests/cli/lib.sh"

if [ ! -x "$TF_TOOLS/est-server" ]; then
	echo "Bail out! $TF_TOOLS/est-server is missing: build it first (make check-run does)"
	exit 1
fi

# procs PATTERN: the command lines of live processes that contain PATTERN
# (from /proc: pgrep is not on every machine)
procs() {
	for _c in /proc/[0-9]*/cmdline; do
		{ tr '\0' ' ' <"$_c"; } 2>/dev/null | grep -F -e "$1" && echo
	done
	return 0
}

mkdir "$T/tmp"
rc=0
TMPDIR=$T/tmp timeout -k 5 60 "$TF_SRC/scripts/demo" "$TRUSTFIX" >"$T/out" 2>"$T/err" || rc=$?
is "$rc" 0 "scripts/demo: exit 0"
[ "$rc" -eq 0 ] || { diag "stderr:"; tail -n 20 "$T/err" | sed 's/^/# /'; }
like "$T/out" "^==> building a demo appliance under $T/tmp/trustfix-demo\." "the appliance, under TMPDIR"
like "$T/out" "client certificate CN=appliance-01 enrolled over EST: .*\(in 3 days\)" \
	"a client certificate that expires in 3 days"
like "$T/out" "^  missing-required +5d56499be4d2e08b +IdenTrust Commercial Root CA 1" \
	"inspect: IdenTrust Commercial Root CA 1 missing"
like "$T/out" "^  decommissioned +85a0dd7dd720adb7 " "inspect: QuoVadis Root CA 2 trusted"
like "$T/out" "^==> trustfix remediate --dry-run" "the dry run"
like "$T/out" "^==> renew +done: new client certificate CN=appliance-01" "remediate renewed the certificate"
like "$T/out" "^==> post-hooks +ok: 50-restart-vpn: exit status 0" "remediate ran the restart hook"
like "$T/out" "^==> probes +ok: " "remediate checked the probe"
like "$T/out" "^remediated: change [0-9a-f]{12}" "remediated"
like "$T/out" "^ +added roots: +5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae" \
	"the hook's log: the added root"
like "$T/out" "post-change/50-restart-vpn: exit status 0" "trustfix show lists the hook"
like "$T/out" "^nothing to do" "a second remediate: nothing to do"
like "$T/out" "^rollback of [0-9a-f]{12}: remediate: " "rollback"
like "$T/out" "QuoVadis Root CA 2 trusted again: +yes" "the original state: QuoVadis trusted again"
like "$T/out" "IdenTrust Commercial Root CA 1 missing again: +yes" "... IdenTrust missing again"
like "$T/out" "old client certificate back: +yes \(serial [0-9A-F]+, SHA-256 [0-9a-f]{64}\)" \
	"... the old client certificate"
like "$T/out" "^==> done: " "the last line"
is "$(procs "$T/tmp")" "" "no process of the demo is left"
is "$(ls -A "$T/tmp")" "" "the demo's temporary folder is removed"

# interrupted while its EST server runs: the trap stops it all the same
mkdir "$T/tmp2"
TMPDIR=$T/tmp2 "$TF_SRC/scripts/demo" "$TRUSTFIX" >"$T/out2" 2>&1 &
demo=$!
i=0
until grep -q '^==> building the signed' "$T/out2" || [ $i -ge 400 ]; do
	sleep 0.05
	i=$((i + 1))
done
[ -n "$(procs "$T/tmp2")" ]
ok $? "the demo's EST server runs"
kill -TERM "$demo"
rc=0
wait "$demo" || rc=$?
is "$rc" 143 "SIGTERM: exit 143"
is "$(procs "$T/tmp2")" "" "SIGTERM: no process of the demo is left"
is "$(ls -A "$T/tmp2")" "" "SIGTERM: the temporary folder is removed"

# a trustfix whose rollback does nothing: the demo notices, and says so
mkdir "$T/tmp4"
cat >"$T/fake-trustfix" <<EOF
#!/bin/sh
for a in "\$@"; do
	[ "\$a" = rollback ] && { echo "rollback: pretending"; exit 0; }
done
exec "$TRUSTFIX" "\$@"
EOF
chmod +x "$T/fake-trustfix"
rc=0
TMPDIR=$T/tmp4 timeout -k 5 60 "$TF_SRC/scripts/demo" "$T/fake-trustfix" >"$T/out" 2>"$T/err" ||
    rc=$?
is "$rc" 1 "a rollback that does nothing: exit 1"
like "$T/err" "^demo: the rollback did not restore QuoVadis Root CA 2" "... and says what is wrong"
is "$(procs "$T/tmp4")" "" "... no process left"
is "$(ls -A "$T/tmp4")" "" "... nothing left"

# the EST server missing: a clear message, nothing left
mkdir "$T/tmp3" "$T/notools"
rc=0
TMPDIR=$T/tmp3 TF_TOOLS=$T/notools "$TF_SRC/scripts/demo" "$TRUSTFIX" >"$T/out" 2>"$T/err" || rc=$?
is "$rc" 1 "no est-server: exit 1"
like "$T/err" "est-server is missing" "... and says what is missing"
is "$(ls -A "$T/tmp3")" "" "... nothing left"

done_testing
