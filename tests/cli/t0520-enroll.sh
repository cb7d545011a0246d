#!/bin/sh
# t0520-enroll.sh - "trustfix enroll" against the test EST server: a first
# enrollment with subject and SANs, 202 Accepted waited on, --max-wait
# running out (the pending request kept, then resumed with the same key),
# a manufacturer certificate, and the canary: no password or key byte in
# any output, log, journal, audit object or other file.
. "$TF_SRC/tests/cli/lib.sh"
. "$TF_SRC/tests/cli/est-lib.sh"

SUBJ="CN=device-2,O=trustfix tests"
est_start main
tfe enroll
is "$rc" 2 "no subject for a first enrollment: exit 2"
like "$T/err" 'no subject for a first enrollment' "no subject: says so"
sum=$(fast_tree_sum "$R")
tfe enroll --dry-run --subject "$SUBJ"
is "$rc" 0 "--dry-run: exit 0"
is "$(fast_tree_sum "$R")" "$sum" "--dry-run writes nothing"
unlike "$T/main.log" 'simpleenroll' "--dry-run does not contact the server"

tfe enroll --subject "$SUBJ" --san DNS:device-2.example --san IP:10.0.0.8
is "$rc" 0 "enroll: exit 0"
like "$T/out" '^enroll client certificate CN=device-2' "enroll: the change"
is "$(openssl x509 -in "$R$CERT" -noout -subject)" "subject=CN = device-2, O = trustfix tests" \
    "enroll: the subject asked for"
openssl x509 -in "$R$CERT" -noout -ext subjectAltName >"$T/ext"
like "$T/ext" 'DNS:device-2.example, IP Address:10.0.0.8' "enroll: the SANs asked for"
is "$(spki "$R$CERT")" "$(keyspki "$R$KEY")" "enroll: the key is the certificate's"
is "$(mode "$R$KEY")" 600 "enroll: the key file is 0600"
openssl verify -CAfile "$R$CHAIN" "$R$CERT" >/dev/null 2>&1
ok $? "enroll: the chain file verifies the certificate"
tfe enroll --subject "$SUBJ"
is "$rc" 3 "enroll again: nothing to do"
tfe enroll --force --subject "$SUBJ" --key-type rsa2048
is "$rc" 0 "enroll --force: exit 0"
openssl x509 -in "$R$CERT" -noout -text | grep -q 'Public-Key: (2048 bit)'
ok $? "--key-type rsa2048: an RSA key"
est_stop main

# 202 Accepted twice, then the certificate
est_start slow --fault-202 2 --retry-after 1
tfe enroll --force --subject "$SUBJ"
is "$rc" 0 "202 twice: then enrolled"
is "$(grep -c 'accepted the request (202): retrying in 1 s' "$T/err")" 2 "202: a progress line per wait"
is "$(grep -c 'simpleenroll 202' "$T/slow.log")" 2 "202: the server answered 202 twice"
is "$(ls -A "$R/var/lib/trustfix/pending" 2>/dev/null)" "" "202: no pending state left"
est_stop slow

# --max-wait runs out: the request is kept, and the next run resumes it
est_start pend --fault-202 1 --retry-after 30
sum_cert=$(sha256sum <"$R$CERT")
tfe enroll --force --subject "$SUBJ" --max-wait 5
is "$rc" 5 "--max-wait exceeded: exit 5"
like "$T/err" "run 'trustfix enroll' again to resume" "--max-wait exceeded: says to run again"
is "$(mode "$R/var/lib/trustfix/pending/client.key")" 600 "pending key: 0600"
is "$(mode "$R/var/lib/trustfix/pending")" 700 "pending folder: 0700"
is "$(sha256sum <"$R$CERT")" "$sum_cert" "--max-wait exceeded: the certificate is unchanged"
pend_spki=$(keyspki "$R/var/lib/trustfix/pending/client.key")
tfe enroll --subject "$SUBJ"
is "$rc" 0 "rerun: the pending request completes (not 'nothing to do')"
is "$(spki "$R$CERT")" "$pend_spki" "rerun: the certificate is for the pending key"
is "$(keyspki "$R$KEY")" "$pend_spki" "rerun: the pending key is installed"
is "$(ls -A "$R/var/lib/trustfix/pending" 2>/dev/null)" "" "rerun: the pending state is removed"
est_stop pend

# renew: a pending re-enrollment survives the run too
est_start pend2 --fault-202 1 --retry-after 30
tfe renew --force --max-wait 0
is "$rc" 5 "renew --max-wait 0: exit 5"
pend_spki=$(keyspki "$R/var/lib/trustfix/pending/client.key")
tf --root "$R" renew --check --cert "$CERT" --key "$KEY"
is "$rc" 1 "--check: a pending request is due"
tfe renew
is "$rc" 0 "renew resumes without --force"
is "$(spki "$R$CERT")" "$pend_spki" "renew: the pending key"
is "$(grep -c 'simplereenroll' "$T/pend2.log")" 2 "renew: re-enrollment both times"
est_stop pend2

# a pending request is resent only to the server that accepted it
est_start pend3 --fault-202 1 --retry-after 30
PEND3=$URL
tfe renew --force --max-wait 0
is "$rc" 5 "a request left pending: exit 5"
est_start other
tfe renew
is "$rc" 2 "the pending request belongs to another server: exit 2"
like "$T/err" "finish it with --server $PEND3" "... and the message names that server"
is "$(grep -c 'enroll' "$T/other.log")" 0 "the other server was not sent the request"
est_stop other
URL=$PEND3
tfe renew
is "$rc" 0 "finished with the server that accepted it"
est_stop pend3

# a manufacturer certificate and a password (--auth both)
"$MKCERT" --subject "/CN=Manufacturer CA" --ca --key-type ec:P-256 --key-out "$T/mfg.key" \
    -o "$T/mfg.pem"
mkdir -p "$R/etc/idevid"
"$MKCERT" --subject "/CN=device-2 idevid" --issuer-cert "$T/mfg.pem" --issuer-key "$T/mfg.key" \
    --eku clientAuth --key-type ec:P-256 --key-out "$R/etc/idevid/idev.key" -o "$R/etc/idevid/idev.pem"
est_start boot --auth both --client-ca "$T/mfg.pem"
tfe enroll --force --subject "$SUBJ"
is "$rc" 5 "--auth both, the password alone: exit 5"
tfe enroll --force --subject "$SUBJ" --bootstrap-cert /etc/idevid/idev.pem \
    --bootstrap-key /etc/idevid/idev.key
is "$rc" 0 "--bootstrap-cert and a password: enrolled"
tfe enroll --force --subject "$SUBJ" --bootstrap-cert /etc/idevid/idev.pem
is "$rc" 2 "--bootstrap-cert without its key: exit 2"
est_stop boot

# the canary: a password and the new key appear nowhere but in the key files
CANARY=canary-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$CANARY" >"$T/canary.pw"
est_start canary --auth basic --user alice --password-file "$T/canary.pw"
# a hook that keeps everything it is told: environment, context file, stdin
mkdir -p "$R/etc/trustfix/hooks/post-change.d"
cat >"$R/etc/trustfix/hooks/post-change.d/10-dump" <<EOF
#!/bin/sh
{ env; cat "\$TRUSTFIX_CONTEXT"; cat; } >>"$T/hookdump"
EOF
chmod +x "$R/etc/trustfix/hooks/post-change.d/10-dump"
: >"$T/all.out"
for cmd in "enroll --force --subject CN=device-2,O=canary" "renew --force" "renew --force --json"; do
	# shellcheck disable=SC2086
	tf -v -v --root "$R" $cmd --server "$URL" --ca-file "$T/ca/ca.pem" --username alice \
	    --password-file "$T/canary.pw" --cert "$CERT" --key "$KEY" --chain "$CHAIN"
	is "$rc" 0 "canary: $cmd -v -v"
	cat "$T/out" "$T/err" >>"$T/all.out"
	# the base64 body of the new key: its second line
	sed -n 2p "$R$KEY" >>"$T/keylines"
done
printf '%s\n' "$CANARY" >"$T/needles"
grep -v '^$' "$T/keylines" >>"$T/needles"
is "$(grep -c . "$T/needles")" 4 "canary: the password and three keys to look for"
grep -F -f "$T/needles" "$T/all.out" >/dev/null
ok $((! $?)) "canary: not in stdout or stderr"
[ -s "$T/hookdump" ]
ok $? "canary: the hook ran and kept what it was told"
grep -F -f "$T/needles" "$T/hookdump" >/dev/null
ok $((! $?)) "canary: not in the hook's environment, context file or stdin"
audit_objects "$R" | grep -F -f "$T/needles" >/dev/null
ok $((! $?)) "canary: not in any audit object"
[ ! -e "$R/var/lib/trustfix/journal" ] || ! grep -F -f "$T/needles" "$R/var/lib/trustfix/journal" >/dev/null
ok $? "canary: not in the journal"
grep -rlF -f "$T/needles" "$R" | sed "s|^$R||" |
    grep -v -e "^$KEY\$" -e '^/var/lib/trustfix/keys/' >"$T/leaks"
is "$(cat "$T/leaks")" "" "canary: in no file but the key file and the vault"
grep -F -f "$T/needles" "$T/canary.log" >/dev/null
ok $((! $?)) "canary: not in the server's log"
est_stop canary

# --server-keygen: the server makes the key; it is written 0600 and kept
# out of the log like any key
est_start keygen
cp "$R$KEY" "$T/before-keygen.key"
tfe renew --force --server-keygen
is "$rc" 0 "renew --server-keygen: exit 0"
like "$T/keygen.log" 'POST /.well-known/est/serverkeygen 200' "--server-keygen: /serverkeygen"
is "$(mode "$R$KEY")" 600 "--server-keygen: the key file is 0600"
is "$(spki "$R$CERT")" "$(keyspki "$R$KEY")" "--server-keygen: the key is the certificate's"
audit_objects "$R" >"$T/objects"
unlike "$T/objects" 'PRIVATE KEY' "--server-keygen: no private key in any audit object"
agit "$R" log -1 --format=%B >"$T/msg"
like "$T/msg" '^Trustfix-EST-Operation: serverkeygen$' "--server-keygen: the operation is recorded"
tf --root "$R" rollback
is "$rc" 0 "rollback of the server-made key"
cmp -s "$R$KEY" "$T/before-keygen.key"
ok $? "rollback: the previous key is back byte for byte"
est_stop keygen

done_testing
