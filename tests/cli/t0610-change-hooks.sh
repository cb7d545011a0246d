#!/bin/sh
# tests/cli/t0610-change-hooks.sh - the hooks around a real change: a
# pre-change veto (exit 6, nothing written), post-change hooks told of the
# change and recorded with it, a failing post-change hook or a timed-out
# one undoing the change (exit 6, the store byte for byte as before), an
# undo that itself fails (exit 7, the state of each file said),
# on_failure = warn, a hostile environment, names with shell characters,
# no leaked descriptors, bounded output, and --dry-run listing the hooks.
. "$TF_SRC/tests/cli/lib.sh"

QV=$DATA/QuoVadis_Root_CA_2.pem
IT=$DATA/IdenTrust_Commercial_Root_CA_1.pem
IT_SHA=5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae

# new_root NAME: a root with a PEM bundle holding QuoVadis, and hook folders
new_root() {
	R=$T/$1
	mkdir -p "$R/etc/ssl" "$R/etc/trustfix/hooks/pre-change.d" \
		"$R/etc/trustfix/hooks/post-change.d" "$R/etc/trustfix/hooks/post-rollback.d" \
		"$R/etc/trustfix/hooks/on-failure.d"
	cp "$QV" "$R/etc/ssl/bundle.pem"
	H=$R/etc/trustfix/hooks
}
# hook PHASE NAME: an executable hook from stdin
hook() {
	cat >"$H/$1.d/$2"
	chmod +x "$H/$1.d/$2"
}
add_it() { tf --root "$R" add "$IT" --store /etc/ssl/bundle.pem "$@"; }

# --- a pre-change veto: exit 6, nothing written
new_root veto
add_it
is "$rc" 0 "a first change, before any hook, so that the audit log exists"
hook pre-change 10-check <<'EOF'
#!/bin/sh
echo "maintenance window closed" >&2
exit 1
EOF
hook on-failure 10-page <<EOF
#!/bin/sh
echo "\$TRUSTFIX_PHASE" >"$T/veto-onfailure"
EOF
sum=$(tree_sum "$R")
tf --root "$R" remove --subject QuoVadis --store /etc/ssl/bundle.pem
is "$rc" 6 "a failing pre-change hook vetoes the change: exit 6"
like "$T/err" "pre-change hook 10-check vetoed" "the message names the hook"
like "$T/err" "nothing was changed" "... and says that nothing was changed"
is "$(tree_sum "$R")" "$sum" "nothing written: store, state directory and audit log as before"
is "$(cat "$T/veto-onfailure" 2>/dev/null)" "on-failure" "the on-failure hooks ran after the veto"

# --- --dry-run lists the hooks it would run and runs none
rm "$H/pre-change.d/10-check"
hook post-change 20-restart <<EOF
#!/bin/sh
echo ran >>"$T/dry-ran"
EOF
sum=$(tree_sum "$R")
tf --root "$R" remove --subject QuoVadis --store /etc/ssl/bundle.pem --dry-run
is "$rc" 0 "--dry-run with hooks: exit 0"
like "$T/out" "post-change/20-restart: would run" "--dry-run lists the post-change hook"
[ ! -e "$T/dry-ran" ]
ok $? "--dry-run ran no hook"
is "$(tree_sum "$R")" "$sum" "--dry-run wrote nothing"

# --- post-change hooks: told of the change, recorded with it
new_root post
hook post-change 10-env <<EOF
#!/bin/sh
env | LC_ALL=C sort >"$T/post-env"
cat >"$T/post-stdin"
ls /proc/self/fd >"$T/post-fds"
printf '%s\n' "\$@" >"$T/post-args"
echo "restarted the TLS proxy"
EOF
hook post-change 20-second <<EOF
#!/bin/sh
echo 20 >>"$T/post-order"
EOF
hook post-change 05-first <<EOF
#!/bin/sh
echo 05 >>"$T/post-order"
EOF
# a hostile environment of the caller, and a descriptor left open to a hook
LD_PRELOAD=/nonexistent/evil.so BASH_ENV=/tmp/evil IFS=x TRUSTFIX_ADDED=forged \
	add_it 7<"$QV"
is "$rc" 0 "a change with post-change hooks: exit 0"
is "$(tr '\n' ' ' <"$T/post-order")" "05 20 " "the hooks ran in C-locale order"
like "$T/post-env" "^TRUSTFIX_PHASE=post-change$" "TRUSTFIX_PHASE"
like "$T/post-env" "^TRUSTFIX_ADDED=$IT_SHA$" "TRUSTFIX_ADDED is the added certificate's SHA-256"
like "$T/post-env" "^TRUSTFIX_STORES=/etc/ssl/bundle.pem$" "TRUSTFIX_STORES names the store"
like "$T/post-env" "^TRUSTFIX_DRY_RUN=0$" "TRUSTFIX_DRY_RUN=0"
like "$T/post-env" "^TRUSTFIX_CHANGE=[0-9a-f]{32}$" "TRUSTFIX_CHANGE is the change's token"
unlike "$T/post-env" "LD_PRELOAD|BASH_ENV|^IFS=|forged" "nothing of the caller's environment reached the hook"
like "$T/post-env" "^PATH=/usr/sbin:/usr/bin:/sbin:/bin$" "a fixed PATH"
is "$(cat "$T/post-stdin")" "+/etc/ssl/bundle.pem" "stdin: +path of the file written"
is "$(grep -cv '^[0-2]$' "$T/post-fds")" 1 "only fds 0-2 open in the hook (and ls's own)"
token=$(sed -n 's/^TRUSTFIX_CHANGE=//p' "$T/post-env")
agit "$R" log -1 --format=%B >"$T/msg"
like "$T/msg" "Trustfix-Change: $token" "the token the hook saw is the change's Trustfix-Change trailer"
like "$T/msg" "post-change/10-env: exit status 0" "the audit commit records each hook and its exit status"
like "$T/msg" "restarted the TLS proxy" "... and what it printed"
like "$T/msg" "Trustfix-Hook: post-change 05-first ok 0 [0-9]+" "a machine-readable Trustfix-Hook trailer per hook"
tf --root "$R" show HEAD
like "$T/out" "post-change/20-second: exit status 0 \([0-9]+ ms\)" "show lists each hook with its exit status and duration"
tf --root "$R" show HEAD --json
is "$(jpy '" ".join(h["name"] + ":" + h["status"] for h in d["hooks"])')" \
	"05-first:ok 10-env:ok 20-second:ok" "show --json lists the hooks in the order they ran"

# --- a failing post-change hook undoes the change: exit 6, the store as before
new_root undo
tf --root "$R" add "$IT" --store /etc/ssl/bundle.pem
is "$rc" 0 "a first change without hooks"
before=$(sha256sum <"$R/etc/ssl/bundle.pem")
hook post-change 10-restart <<'EOF'
#!/bin/sh
echo "the proxy did not come back" >&2
exit 3
EOF
hook post-rollback 10-log <<EOF
#!/bin/sh
echo "\$TRUSTFIX_PHASE removed=\$TRUSTFIX_REMOVED added=\$TRUSTFIX_ADDED" >"$T/rollback-log"
EOF
tf --root "$R" remove --subject QuoVadis --store /etc/ssl/bundle.pem
is "$rc" 6 "a failing post-change hook: exit 6"
like "$T/err" "post-change hook 10-restart failed \(exit status 3\)" "the message names the hook and its status"
is "$(sha256sum <"$R/etc/ssl/bundle.pem")" "$before" "the store is byte for byte as before the change"
like "$T/rollback-log" "^post-rollback " "the post-rollback hooks ran"
like "$T/rollback-log" "added=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86" \
	"... told that the undo puts QuoVadis back"
agit "$R" log -2 --format=%s >"$T/subjects"
like "$T/subjects" "^undo [0-9a-f]{12}: post-change hook 10-restart failed" "the undo is its own audited change"
like "$T/subjects" "^remove QuoVadis Root CA 2$" "... after the change it undoes"
agit "$R" log -1 --format=%B >"$T/msg"
like "$T/msg" "Trustfix-Rollback-Of: [0-9a-f]{40}" "the undo names the change it undoes"
like "$T/msg" "post-rollback/10-log: exit status 0" "the undo records its post-rollback hooks"
agit "$R" fsck --full >/dev/null 2>&1
ok $? "git fsck --full is clean"
tf --root "$R" remove --subject QuoVadis --store /etc/ssl/bundle.pem --json
is "$rc" 6 "again, with --json: exit 6"
is "$(jpy 'd["failure"] is not None and d["undone_by"] is not None')" "true" \
	"--json: the failure and the undoing change"

# --- on_failure = warn: the change stays
printf '[hook 10-restart]\non_failure = warn\n' >"$R/etc/trustfix/trustfix.conf"
tf --root "$R" remove --subject QuoVadis --store /etc/ssl/bundle.pem
is "$rc" 0 "a failing hook with on_failure = warn: exit 0"
like "$T/err" "on_failure = warn" "... and a warning"
unlike "$R/etc/ssl/bundle.pem" "QuoVadis|CQ1xE" "the change stayed"
tf --root "$R" rollback
is "$rc" 0 "rollback of that change (the hook warns again)"
printf '[hook 10-restart]\non_failure = ignore\n' >"$R/etc/trustfix/trustfix.conf"
tf --root "$R" log
is "$rc" 2 "a bad on_failure value is a configuration error"
like "$T/err" "trustfix.conf:2" "... naming the file and line"
rm "$R/etc/trustfix/trustfix.conf"

# --- a hook that times out, with a child that ignores SIGTERM
new_root timeout
printf 'hook_timeout = 1\n' >"$R/etc/trustfix/trustfix.conf"
hook post-change 10-hang <<EOF
#!/bin/sh
sh -c 'trap "" TERM; echo \$\$ >"$T/hang-child"; sleep 60' &
trap "" TERM
sleep 60
EOF
sum=$(sha256sum <"$R/etc/ssl/bundle.pem")
add_it
is "$rc" 6 "a post-change hook that times out: exit 6"
like "$T/err" "timed out" "the message says it timed out"
is "$(sha256sum <"$R/etc/ssl/bundle.pem")" "$sum" "the store is as before"
# gone, or a zombie waiting for init to reap it: killed either way
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
child=$(cat "$T/hang-child" 2>/dev/null)
n=0
while [ -n "$child" ] && ! gone "$child" && [ $n -lt 30 ]; do
	sleep 0.1
	n=$((n + 1))
done
[ -n "$child" ] && gone "$child"
ok $? "the hook's child that ignored SIGTERM was killed too"

# --- names with shell characters pass literally
new_root shell
S='/etc/ssl/a;b $(touch pwned) `id`.pem'
cp "$QV" "$R$S"
hook post-change 10-stores <<EOF
#!/bin/sh
printf '%s' "\$TRUSTFIX_STORES" >"$T/stores"
cat >"$T/stdin"
EOF
tf --root "$R" add "$IT" --store "$S"
is "$rc" 0 "a store whose name holds ; \$() and backquotes"
is "$(cat "$T/stores")" "$S" "TRUSTFIX_STORES holds the name literally"
is "$(cat "$T/stdin")" "+$S" "stdin holds it literally"
[ ! -e pwned ] && [ ! -e "$R/pwned" ] && [ ! -e /pwned ]
ok $? "nothing was run by a shell"

# --- output is bounded in the record
new_root big
hook post-change 10-chatty <<'EOF'
#!/bin/sh
head -c 300000 /dev/zero | tr '\0' 'x'
EOF
add_it
is "$rc" 0 "a hook that prints 300 kB"
size=$(agit "$R" log -1 --format=%B | wc -c)
[ "$size" -lt 20000 ]
ok $? "the audit commit keeps a bounded part of it ($size bytes)"

# --- the undo itself fails: exit 7 and the state of each file
new_root undofail
hook post-change 10-fail <<'EOF'
#!/bin/sh
exit 1
EOF
TRUSTFIX_FAULT="eio@rename#2" add_it
is "$rc" 7 "the undo fails too: exit 7"
like "$T/err" "undoing the change failed" "the message says the undo failed"
like "$T/err" "/etc/ssl/bundle.pem: as the change left it \(new\)" "... and what state the file is in"
like "$R/etc/ssl/bundle.pem" "IdenTrust|MIIFYDCCA0igAwIBAgIQCgFCgAAAAUUjyES1AAAAAjANBgkqhkiG9w0BAQsFADBK" \
	"the file is indeed the new one"

# ... and the next run that changes anything finishes the undo first
rm "$H/post-change.d/10-fail"
tf --root "$R" add "$IT" --store /etc/ssl/bundle.pem
is "$rc" 0 "the next change: exit 0"
like "$T/err" "failed its post-change checks .* undone now" "it says it finished the undo first"
agit "$R" log -3 --format=%s >"$T/subjects"
like "$T/subjects" "^undo [0-9a-f]{12}: post-change hook 10-fail failed .*\(finished by a later run\)$" \
	"the finished undo is recorded"
like "$T/subjects" "^add IdenTrust Commercial Root CA 1$" "then its own change"
agit "$R" fsck --full >/dev/null 2>&1
ok $? "git fsck --full is clean"

# --- a crash while the post-change hooks run: the next run undoes the change
new_root crash
cp "$R/etc/ssl/bundle.pem" "$T/crash-before"
hook post-change 10-die <<'EOF'
#!/bin/sh
kill -9 $PPID
sleep 5
EOF
add_it
is "$rc" 137 "trustfix killed while a post-change hook runs"
rm "$H/post-change.d/10-die"
tf --root "$R" add "$QV" --store /etc/ssl/bundle.pem
is "$rc" 3 "the next change (QuoVadis is in the store already): exit 3"
like "$T/err" "interrupted before the post-change hooks and probes had finished" \
	"the next run says the change never passed its checks"
cmp -s "$R/etc/ssl/bundle.pem" "$T/crash-before"
ok $? "... and undid it: the store is as before"
agit "$R" log --format=%s >"$T/subjects"
like "$T/subjects" "\(completed after an interruption\)" "the interrupted change is recorded"
like "$T/subjects" "^undo [0-9a-f]{12}: the run was interrupted" "... and its undo"

# --- a crash during the undo: the next run finishes it
new_root undocrash
cp "$R/etc/ssl/bundle.pem" "$T/undocrash-before"
hook post-change 10-fail <<'EOF'
#!/bin/sh
exit 1
EOF
TRUSTFIX_FAULT="crash@temp-write#2" add_it
is "$rc" 137 "trustfix killed while it undoes a failed change"
rm "$H/post-change.d/10-fail"
tf --root "$R" add "$QV" --store /etc/ssl/bundle.pem
like "$T/err" "undone now" "the next run finishes the undo"
cmp -s "$R/etc/ssl/bundle.pem" "$T/undocrash-before"
ok $? "the store is as before the failed change"
[ -z "$(find "$R/etc/ssl" -name '.*.tf-*')" ]
ok $? "no temporary file is left beside the store"

# --- a hook that prints a key block: the change is still recorded, and undone
new_root keyout
cp "$R/etc/ssl/bundle.pem" "$T/keyout-before"
hook post-change 10-leaky <<'EOF'
#!/bin/sh
echo "-----BEGIN PRIVATE KEY-----"
exit 1
EOF
add_it
is "$rc" 6 "a failing hook that prints a key block: exit 6"
cmp -s "$R/etc/ssl/bundle.pem" "$T/keyout-before"
ok $? "the change was undone"
agit "$R" log -2 --format=%B >"$T/msg"
like "$T/msg" "a line naming a private key block: not recorded" "the line is left out of the record"
unlike "$T/msg" "BEGIN PRIVATE KEY" "no key block in the log"

done_testing
