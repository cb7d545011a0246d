#!/bin/sh
# tests/cli/t0600-hooks-cli.sh - trustfix hooks list and hooks test: which
# hooks run, which are skipped and why, and a dry run of one phase.
. "$TF_SRC/tests/cli/lib.sh"

R=$T/root
H=$R/etc/trustfix/hooks/post-change.d
mkdir -p "$H" "$R/etc/trustfix"
printf '#!/bin/sh\necho "phase=$TRUSTFIX_PHASE dry=$TRUSTFIX_DRY_RUN added=$TRUSTFIX_ADDED"\n' >"$H/10-log"
printf '#!/bin/sh\necho "failing on purpose" >&2\nexit 3\n' >"$H/20-fail"
printf '#!/bin/sh\nexit 0\n' >"$H/30-ok.dpkg-old"
printf '#!/bin/sh\nexit 0\n' >"$H/40-not-executable"
chmod +x "$H/10-log" "$H/20-fail" "$H/30-ok.dpkg-old"

tf --root "$R" hooks list
is "$rc" 0 "hooks list: exit 0"
like "$T/out" '^post-change ' "hooks list names each phase"
like "$T/out" '^  10-log$' "an executable with a plain name is listed"
like "$T/out" '^  20-fail$' "... in C-locale order"
like "$T/out" 'skipped: 30-ok.dpkg-old' "a *.dpkg-old file is skipped"
like "$T/out" 'skipped: 40-not-executable' "a file that is not executable is skipped"

tf --root "$R" --json hooks list post-change
is "$rc" 0 "hooks list PHASE --json: exit 0"
is "$(jpy '",".join(d[0]["hooks"])')" "10-log,20-fail" "the JSON lists the hooks of the phase in order"

tf --root "$R" hooks test post-change
is "$rc" 1 "hooks test: a failing hook gives exit 1"
like "$T/out" 'stdout: phase=post-change dry=1 added=5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae' \
	"a hook runs with TRUSTFIX_DRY_RUN=1 and the policy's remediation as the synthetic change"
like "$T/out" '20-fail .*exit status 3' "the failing hook's exit status is shown"
like "$T/out" 'stderr: failing on purpose' "its standard error is shown"

rm "$H/20-fail"
tf --root "$R" --json hooks test post-change
is "$rc" 0 "hooks test: every hook succeeds, exit 0"
is "$(jpy 'd["hooks"][0]["ok"]')" "true" "the JSON says the hook succeeded"

tf --root "$R" hooks test sideways
is "$rc" 2 "an unknown phase is a usage error"
like "$T/err" "unknown phase 'sideways'" "the message names the phase"

done_testing
