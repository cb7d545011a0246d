#!/bin/sh
# tests/cli/t0800-remediate.sh - "trustfix remediate" end to end against the
# test EST server: the bundle and the renewal as one change with its hooks
# and probes; --dry-run writes nothing (checksum of the whole root); a
# second run is exit 3; a failing post-change hook after the renewal undoes
# everything, key and certificate included; a probe that fails only with
# the new store undoes everything too.
. "$TF_SRC/tests/cli/lib.sh"
. "$TF_SRC/tests/cli/est-lib.sh"

bundle_signer signer
STORE=/etc/ssl/certs/ca-certificates.crt

# a device CA (the EST CA) whose 3-day certificates need renewal, and a
# server that issues the renewed ones for a year
est_start short --not-after-offset 259200
est_start long
LONG=$URL
SHORT_PORT=$(cat "$T/short.port")
LONG_PORT=$(cat "$T/long.port")

# appliance NAME: a root with the store (QuoVadis, the site CA, the EST CA),
# a 3-day client certificate, hooks folders and a configuration that
# renews over EST and probes the EST server's TLS endpoint
appliance() {
	R=$T/$1
	bundle_root "$R"
	cat "$T/ca/ca.pem" >>"$R$STORE"
	mkdir -p "$R/etc/trustfix/hooks/post-change.d" "$R/etc/trustfix/hooks/post-rollback.d"
	cp "$T/pw" "$R/etc/trustfix/est.pw"
	tf --root "$R" enroll --server "https://127.0.0.1:$SHORT_PORT" --ca-file "$T/ca/ca.pem" \
	    --username alice --password-file "$T/pw" --cert /etc/trustfix/client.pem \
	    --key /etc/trustfix/client.key --subject "CN=appliance-1,O=trustfix tests"
	[ "$rc" -eq 0 ] || diag "enroll failed: $(cat "$T/err")"
	cp "$T/ca/ca.pem" "$R/etc/trustfix/est-ca.pem"
	cat >"$R/etc/trustfix/trustfix.conf" <<EOF
bundle_signers = /etc/trustfix/signers.pem
probe = 127.0.0.1:$LONG_PORT

[store system]
path = $STORE

[client]
cert = /etc/trustfix/client.pem
key = /etc/trustfix/client.key
server = $LONG
ca_file = /etc/trustfix/est-ca.pem
username = alice
password_file = /etc/trustfix/est.pw
EOF
	H=$R/etc/trustfix/hooks
}
hook() {
	cat >"$H/$1.d/$2"
	chmod +x "$H/$1.d/$2"
}

bundle_make "$T/it.tar.gz" 1

# --- --dry-run: the complete plan, nothing written, the EST server not asked
appliance dry
hook post-change 10-restart <<EOF
#!/bin/sh
echo "restart \$TRUSTFIX_PHASE" >>"$T/dry-hook"
EOF
sum=$(tree_sum "$R")
lines=$(wc -l <"$T/long.log")
tf --root "$R" remediate --bundle "$T/it.tar.gz" --dry-run
is "$rc" 0 "remediate --dry-run: exit 0"
like "$T/out" "==> inspect .*1 decommissioned, 1 required missing" "the inspect step"
like "$T/out" "==> renew +planned: client certificate CN=appliance-1 expires on" "the renew step, planned"
like "$T/out" "IdenTrust Commercial Root CA 1" "the plan names the root to add"
like "$T/out" "post-change/10-restart: would run" "the plan lists the hooks"
like "$T/out" "127.0.0.1:$LONG_PORT against /etc/ssl/certs/ca-certificates.crt: would be checked" \
	"the plan lists the probes"
is "$(tree_sum "$R")" "$sum" "--dry-run: the whole root is byte for byte as before"
is "$(wc -l <"$T/long.log")" "$lines" "--dry-run: the EST server was not asked"
[ ! -e "$T/dry-hook" ]
ok $? "--dry-run ran no hook"

# --- success: one change with the bundle and the renewal
appliance ok
hook post-change 10-restart <<EOF
#!/bin/sh
echo "restart added=\$TRUSTFIX_ADDED" >>"$T/ok-hook"
cat >>"$T/ok-hook"
EOF
S0=$(serial "$R/etc/trustfix/client.pem")
tf --root "$R" remediate --bundle "$T/it.tar.gz" --reason "field notice" --ticket CHG-1
is "$rc" 0 "remediate: exit 0"
like "$T/out" "==> stage +done: bundle $B_NAME version 1 verified and staged" "the stage step"
like "$T/out" "==> renew +done: new client certificate CN=appliance-1" "the renew step"
like "$T/out" "==> post-hooks +ok: 10-restart: exit status 0" "the post-change hooks"
like "$T/out" "==> probes +ok: 127.0.0.1:$LONG_PORT against .*: ok" "the probe"
like "$T/out" "^remediated: change [0-9a-f]{12}" "the last line names the change"
S1=$(serial "$R/etc/trustfix/client.pem")
[ -n "$S1" ] && [ "$S1" != "$S0" ]
ok $? "a new client certificate"
is "$(spki "$R/etc/trustfix/client.pem")" "$(keyspki "$R/etc/trustfix/client.key")" \
	"the new key is the new certificate's"
grep -q "MIIFYDCCA0igAwIBAgIQCgFCgAAAAUUjyES1AAAAAjANBgkqhkiG9w0BAQsFADBK" "$R$STORE"
ok $? "IdenTrust Commercial Root CA 1 is in the store"
! grep -q "$(sed -n 2p "$DATA/QuoVadis_Root_CA_2.pem")" "$R$STORE"
ok $? "QuoVadis Root CA 2 is gone"
like "$T/ok-hook" "^\+/etc/trustfix/client.key$" "the hook was told of the key file on stdin"
like "$T/ok-hook" "added=.*$B_IT_SHA" "... and of the added root"
agit "$R" log -1 --format=%B >"$T/msg"
like "$T/msg" "^remediate: apply bundle $B_NAME version 1; renew client certificate" \
	"one audited change for both"
like "$T/msg" "Trustfix-New-Serial: $S1" "with the new serial"
like "$T/msg" "Trustfix-Added: $STORE $B_IT_SHA" "and the added root"
like "$T/msg" "Trustfix-Hook: post-change 10-restart ok 0" "and the hook"
audit_objects "$R" >"$T/objects"
unlike "$T/objects" "PRIVATE KEY" "no private key in any audit object"

# a second run right after: nothing to do
tf --root "$R" remediate --bundle "$T/it.tar.gz"
is "$rc" 3 "a second run: exit 3"
like "$T/out" "nothing to do" "... nothing to do"
tf --root "$R" remediate
is "$rc" 3 "a second run without --bundle: exit 3"

# --json: a report of each step with its outcome and duration
tf --root "$R" remediate --json
is "$(jpy '" ".join(s["step"] + "=" + s["outcome"] for s in d["steps"])')" \
	"inspect=ok stage=ok renew=skipped pre-hooks=skipped apply=nothing to do post-hooks=skipped probes=skipped" \
	"--json: every step and its outcome"
is "$(jpy 'all(isinstance(s["duration_ms"], int) for s in d["steps"])')" true "--json: each step's duration"

# --- a failing post-change hook after the renewal: everything undone
appliance fail
hook post-change 10-restart <<'EOF'
#!/bin/sh
echo "the VPN daemon did not come back" >&2
exit 1
EOF
hook post-rollback 10-log <<EOF
#!/bin/sh
echo rolled back >"$T/fail-rollback"
EOF
cp "$R$STORE" "$T/fail-store"
cp "$R/etc/trustfix/client.pem" "$T/fail-cert"
cp "$R/etc/trustfix/client.key" "$T/fail-key"
tf --root "$R" remediate --bundle "$T/it.tar.gz"
is "$rc" 6 "a failing post-change hook: exit 6"
like "$T/out" "==> post-hooks +failed: 10-restart: exit status 1" "the step says which hook failed"
like "$T/out" "==> rollback +done: everything undone as change [0-9a-f]{12}" "the rollback step"
cmp -s "$R$STORE" "$T/fail-store"
ok $? "the store is byte for byte as before"
cmp -s "$R/etc/trustfix/client.pem" "$T/fail-cert"
ok $? "the certificate is byte for byte as before"
cmp -s "$R/etc/trustfix/client.key" "$T/fail-key"
ok $? "the key is byte for byte as before (from the key vault)"
is "$(mode "$R/etc/trustfix/client.key")" 600 "the key is 0600"
is "$(cat "$T/fail-rollback" 2>/dev/null)" "rolled back" "the post-rollback hook ran"
agit "$R" log -1 --format=%s >"$T/subj"
like "$T/subj" "^undo [0-9a-f]{12}: post-change hook 10-restart failed" "the undo is recorded"
agit "$R" fsck --full >/dev/null 2>&1
ok $? "git fsck --full is clean"

# --- a probe that fails only with the new store: everything undone
appliance probe
# a bundle that also removes the EST CA, which the probed server chains to
CA_SHA=$(openssl x509 -in "$T/ca/ca.pem" -outform DER | sha256sum | cut -c1-64)
"$TRUSTFIX" bundle create --name "$B_NAME" --version 1 \
    --signer-cert "$T/signer.pem" --signer-key "$T/signer.key" \
    --add "$DATA/IdenTrust_Commercial_Root_CA_1.pem" \
    --remove "$B_QV_SHA=QuoVadis Root CA 2" --remove "$CA_SHA=EST CA" \
    -o "$T/bad.tar.gz" >/dev/null
cp "$R$STORE" "$T/probe-store"
cp "$R/etc/trustfix/client.key" "$T/probe-key"
tf --root "$R" probe
is "$rc" 0 "the probe validates before the change"
tf --root "$R" remediate --bundle "$T/bad.tar.gz"
is "$rc" 6 "a probe broken by the new store: exit 6"
like "$T/out" "==> probes +failed: 127.0.0.1:$LONG_PORT against .*(it validated before the change)" \
	"the probe step says it validated before"
cmp -s "$R$STORE" "$T/probe-store"
ok $? "the store is byte for byte as before"
cmp -s "$R/etc/trustfix/client.key" "$T/probe-key"
ok $? "the key is as before"
tf --root "$R" probe
is "$rc" 0 "the probe validates again"

# --- the EST server is down: exit 5, nothing changed, and --json still reports
appliance down
est_stop long
cp "$R$STORE" "$T/down-store"
cp "$R/etc/trustfix/client.key" "$T/down-key"
tf --root "$R" remediate --bundle "$T/it.tar.gz" --json
is "$rc" 5 "the EST server is down: exit 5"
is "$(jpy '" ".join(s["step"] + "=" + s["outcome"] for s in d["steps"])')" \
	"inspect=ok stage=done renew=failed" "--json reports the steps up to the failure"
is "$(jpy 'd["exit_status"]')" 5 "--json: the exit status"
cmp -s "$R$STORE" "$T/down-store" && cmp -s "$R/etc/trustfix/client.key" "$T/down-key"
ok $? "the store and the key were not changed"

done_testing
