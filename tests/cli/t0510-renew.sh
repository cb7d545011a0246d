#!/bin/sh
# t0510-renew.sh - "trustfix renew" against the test EST server: when it is
# due, --check, --force, --dry-run, re-enrollment, the fallback to a
# password enrollment (expired certificate, 401 on re-enroll), refused and
# failed answers that change nothing, the audit record, and rollback.
. "$TF_SRC/tests/cli/lib.sh"
. "$TF_SRC/tests/cli/est-lib.sh"

# a certificate that expires in 3 days
est_start short --not-after-offset 259200
tfe enroll --subject "CN=device-1,O=trustfix tests" --san DNS:device-1.example --san IP:10.0.0.7
is "$rc" 0 "enroll: a first certificate (3 days)"
cp "$R$CERT" "$T/c0.pem"
cp "$R$KEY" "$T/k0.pem"
S0=$(serial "$T/c0.pem")

tf --root "$R" renew --check --cert "$CERT" --key "$KEY"
is "$rc" 1 "--check: 3 days left of 30 is due: exit 1"
like "$T/out" '^due: the client certificate CN=device-1' "--check says it is due"
tf --root "$R" --json renew --check --cert "$CERT" --key "$KEY"
is "$(jpy 'd["due"]')" true "--check --json: due"

# --dry-run: nothing written, the server not contacted, the hooks listed
mkdir -p "$R/etc/trustfix/hooks/post-change.d"
printf '#!/bin/sh\necho "ran $TRUSTFIX_CLIENT_CERT" >>"%s"\n' "$T/renew-hook" >"$R/etc/trustfix/hooks/post-change.d/20-restart"
chmod +x "$R/etc/trustfix/hooks/post-change.d/20-restart"
sum=$(fast_tree_sum "$R")
lines=$(wc -l <"$T/short.log")
tfe renew --dry-run
is "$rc" 0 "--dry-run: exit 0, a change to make"
like "$T/out" '^plan: renew client certificate CN=device-1 \(dry run' "--dry-run prints the plan"
like "$T/out" 'simplereenroll' "--dry-run names the operation"
is "$(fast_tree_sum "$R")" "$sum" "--dry-run writes nothing"
is "$(wc -l <"$T/short.log")" "$lines" "--dry-run does not contact the server"
like "$T/out" '^    post-change/20-restart: would run$' "--dry-run lists the hooks it would run"
[ ! -e "$T/renew-hook" ]
ok $? "--dry-run runs no hook"

# renewal by re-enrollment
tfe renew
is "$rc" 0 "renew: exit 0"
is "$(cat "$T/renew-hook" 2>/dev/null)" "ran $CERT" \
    "renew: the post-change hook ran, told the certificate given with --cert"
S1=$(serial "$R$CERT")
[ -n "$S1" ] && [ "$S1" != "$S0" ]
ok $? "renew: a new certificate"
[ "$(spki "$R$CERT")" != "$(spki "$T/c0.pem")" ]
ok $? "renew: a new key"
is "$(spki "$R$CERT")" "$(keyspki "$R$KEY")" "renew: the key is the certificate's"
is "$(mode "$R$KEY")" 600 "renew: the key file is 0600"
like "$T/short.log" 'POST /.well-known/est/simplereenroll 200' "renew: /simplereenroll"
agit "$R" log -1 --format='%s%n%b' >"$T/msg"
like "$T/msg" '^renew client certificate CN=device-1$' "audit: the subject line"
like "$T/msg" "^Trustfix-Old-Serial: $S0\$" "audit: the old serial"
like "$T/msg" "^Trustfix-New-Serial: $S1\$" "audit: the new serial"
like "$T/msg" "^Trustfix-Old-Key-SHA256: $(spki "$T/c0.pem")\$" "audit: the old key's SPKI SHA-256"
like "$T/msg" "^Trustfix-New-Key-SHA256: $(keyspki "$R$KEY")\$" "audit: the new key's SPKI SHA-256"
like "$T/msg" '^Trustfix-New-Not-After: 20[0-9-]+T' "audit: the new not-after"
like "$T/msg" '^Trustfix-Old-Issuer: CN=trustfix test EST CA' "audit: the issuer"
audit_objects "$R" >"$T/objects"
unlike "$T/objects" 'PRIVATE KEY' "audit: no private key in any object"
cp "$R$CERT" "$T/c1.pem"
cp "$R$KEY" "$T/k1.pem"

# rollback restores key and certificate together
tf --root "$R" rollback
is "$rc" 0 "rollback after renew: exit 0"
cmp -s "$R$CERT" "$T/c0.pem" && cmp -s "$R$KEY" "$T/k0.pem"
ok $? "rollback: the old certificate and key, byte for byte"
is "$(mode "$R$KEY")" 600 "rollback: the key file is 0600"

# killed while a post-change hook runs: the next run undoes the renewal,
# the old key back from the vault
cat >"$R/etc/trustfix/hooks/post-change.d/30-die" <<'EOF'
#!/bin/sh
kill -9 $PPID
sleep 5
EOF
chmod +x "$R/etc/trustfix/hooks/post-change.d/30-die"
tfe renew --force
is "$rc" 137 "renew killed during its post-change hooks"
[ "$(serial "$R$CERT")" != "$(serial "$T/c0.pem")" ]
ok $? "the new certificate is in place after the crash"
rm "$R/etc/trustfix/hooks/post-change.d/30-die"
mkdir -p "$R/etc/ssl"
cp "$DATA/QuoVadis_Root_CA_2.pem" "$R/etc/ssl/other.pem"
tf --root "$R" add "$DATA/QuoVadis_Root_CA_2.pem" --store /etc/ssl/other.pem
is "$rc" 3 "the next change (of another store, with nothing to do): exit 3"
like "$T/err" "undone now" "... undoes the unchecked renewal first"
cmp -s "$R$CERT" "$T/c0.pem" && cmp -s "$R$KEY" "$T/k0.pem"
ok $? "the old certificate and key are back, byte for byte"
is "$(mode "$R$KEY")" 600 "the key file is 0600"
audit_objects "$R" >"$T/objects"
unlike "$T/objects" 'PRIVATE KEY' "no private key in any audit object"
est_stop short

# a year's certificate: not due
est_start long
tfe renew --force
is "$rc" 0 "--force renews a certificate that is due anyway"
tfe renew --force
is "$rc" 0 "--force renews one that is not due"
sum=$(fast_tree_sum "$R")
tfe renew
is "$rc" 3 "not due: exit 3"
like "$T/out" '^nothing to do: the client certificate is not due for renewal until' "not due: says until when"
is "$(fast_tree_sum "$R")" "$sum" "not due: nothing changed"
tfe renew --json
is "$(jpy 'd["nothing_to_do"]')" true "not due --json: nothing_to_do"
tf --root "$R" renew --check --cert "$CERT" --key "$KEY"
is "$rc" 0 "--check: not due: exit 0"
like "$T/out" '^not due:' "--check says it is not due"

# --json of a renewal
tfe renew --json --force --reason "field notice" --ticket CHG-1
is "$rc" 0 "renew --force --json: exit 0"
is "$(jpy 'd["operation"]')" simplereenroll "--json: the operation"
is "$(jpy 'd["new"]["serial"] == d["old"]["serial"]')" false "--json: old and new serials"
is "$(jpy 'len(d["files"])')" 3 "--json: certificate, key and chain"
is "$(jpy 'd["new"]["key_sha256"]')" "$(keyspki "$R$KEY")" "--json: the new key's fingerprint"
est_stop long

# an expired certificate (of the EST CA, made by hand): enrolled afresh with the password
rm -f "$R$KEY" "$R$CERT"
"$MKCERT" --subject "/CN=device-1/O=trustfix tests" --issuer-cert "$T/ca/ca.pem" \
    --issuer-key "$T/ca/ca.key" --eku clientAuth --key-type ec:P-256 --not-before -30 \
    --not-after -1 --key-out "$R$KEY" -o "$R$CERT"
openssl x509 -in "$R$CERT" -noout -checkend 0 >/dev/null
ok $((! $?)) "the certificate has expired"
est_start main
tf --root "$R" renew --server "$URL" --ca-file "$T/ca/ca.pem" --cert "$CERT" --key "$KEY"
is "$rc" 2 "expired, no bootstrap credentials: exit 2"
like "$T/err" 'expired on .* configure bootstrap credentials' "expired, no credentials: says what to do"
tfe renew
is "$rc" 0 "expired: renewed by enrollment"
like "$T/err" 'expired on .*enrolling afresh \(/simpleenroll\)' "expired: says it falls back"
like "$T/main.log" 'POST /.well-known/est/simpleenroll 200 user=alice' "expired: /simpleenroll with Basic"
unlike "$T/main.log" 'simplereenroll' "expired: no re-enrollment tried"
openssl x509 -in "$R$CERT" -noout -checkend 86400 >/dev/null
ok $? "expired: the new certificate is valid"
agit "$R" log -1 --format='%B' >"$T/msg"
like "$T/msg" '^Trustfix-EST-Operation: simpleenroll$' "audit: the operation"
est_stop main

# the server refuses re-enrollment: fall back to enrollment
est_start r401 --fault-401-reenroll
tfe renew --force
is "$rc" 0 "401 on re-enroll: renewed by enrollment"
like "$T/err" 're-enrollment refused .*401.*enrolling afresh' "401: says it falls back"
like "$T/r401.log" 'simplereenroll 401' "401: re-enrollment was tried first"
like "$T/r401.log" 'simpleenroll 200 user=alice' "401: then enrollment with Basic"
tf --root "$R" renew --force --server "$URL" --ca-file "$T/ca/ca.pem" --cert "$CERT" --key "$KEY"
is "$rc" 5 "401 without bootstrap credentials: exit 5"
est_stop r401

# another run holds the lock: exit 8, and the server is not asked for a certificate
est_start locked
mkdir -p "$R/var/lib/trustfix"
flock "$R/var/lib/trustfix/lock" sleep 3 &
holder=$!
sleep 0.3
tfe renew --force
is "$rc" 8 "the lock is held: exit 8"
unlike "$T/locked.log" 'enroll' "the EST server was not asked while another run held the lock"
wait "$holder"
est_stop locked

# failures change nothing
est_start f500 --fault-500
sum=$(fast_tree_sum "$R")
tfe renew --force
is "$rc" 5 "500: exit 5"
like "$T/err" "EST server '$URL' answered 500 to /simplereenroll: internal error \\(fault\\)" \
    "500: the server's message"
is "$(tr -d '\n' <"$T/err" | tr -d '[:print:]' | wc -c)" 0 "500: the message is printable text"
is "$(fast_tree_sum "$R")" "$sum" "500: nothing changed in the root"
est_stop f500

# a hostile message: escapes, a bell and a C1 byte never reach the terminal raw
est_start f500h --fault-500-body "$(printf 'disk \033[31mfull\007 \233 now')"
tfe renew --force
is "$rc" 5 "500 with control bytes: exit 5"
like "$T/err" 'disk \\x1b\[31mfull\\x07' "the message is there, escaped"
is "$(tr -d '\n' <"$T/err" | LC_ALL=C tr -d '\040-\176' | wc -c)" 0 \
    "500 with control bytes: only printable ASCII on stderr"
is "$(fast_tree_sum "$R")" "$sum" "500 with control bytes: nothing changed"
est_stop f500h

for f in other-ca wrong-key; do
	est_start "$f" "--fault-$f"
	sum=$(fast_tree_sum "$R")
	tfe renew --force
	is "$rc" 4 "--fault-$f: exit 4"
	is "$(fast_tree_sum "$R")" "$sum" "--fault-$f: nothing changed"
	est_stop "$f"
done

# the configuration alone
est_start conf
mkdir -p "$R/etc/trustfix"
cp "$T/ca/ca.pem" "$R/etc/trustfix/est-ca.pem"
cp "$T/pw" "$R/etc/trustfix/est.pw"
cat >"$R/etc/trustfix/trustfix.conf" <<CONF
renew_before_days = 30

[client]
cert = $CERT
key = $KEY
chain = $CHAIN
server = $URL
ca_file = /etc/trustfix/est-ca.pem
username = alice
password_file = /etc/trustfix/est.pw
key_type = ec-p384
max_wait = 10
CONF
tf --root "$R" renew --force
is "$rc" 0 "renew from the configuration (ca_file and password_file under --root)"
openssl x509 -in "$R$CERT" -noout -text | grep -q 'NIST CURVE: P-384'
ok $? "key_type = ec-p384: a P-384 key"
est_stop conf
printf '[client]\nkey_type = dsa\n' >"$R/etc/trustfix/trustfix.conf"
tf --root "$R" renew --check
is "$rc" 2 "a bad key_type: exit 2"
like "$T/err" "trustfix.conf:2: bad value 'dsa' for 'key_type'" "a bad key_type: file and line"
printf '[client]\nserver = http://x\n' >"$R/etc/trustfix/trustfix.conf"
tf --root "$R" renew --check
like "$T/err" "trustfix.conf:2: bad value 'http://x' for 'server'" "an http:// server: file and line"
printf '[client]\n\nsan = DNS:a, nonsense\n' >"$R/etc/trustfix/trustfix.conf"
tf --root "$R" renew --check
like "$T/err" "trustfix.conf:3: bad value 'nonsense' for 'san'" "a bad san: file and line"
printf '[client]\nmax_wait = -1\n' >"$R/etc/trustfix/trustfix.conf"
tf --root "$R" renew --check
like "$T/err" "trustfix.conf:2: bad value '-1' for 'max_wait'" "a bad max_wait: file and line"
rm "$R/etc/trustfix/trustfix.conf"

audit_objects "$R" >"$T/objects"
unlike "$T/objects" 'PRIVATE KEY' "audit: no private key in any object, after drift and fallbacks"
like "$T/objects" 'trustfix key vault reference' "audit: key files are recorded as vault references"

# usage
tf --root "$R" renew --cert "$CERT" --key "$KEY"
is "$rc" 2 "no server: exit 2"
like "$T/err" 'no EST server' "no server: says so"
tf --root "$R" renew --server https://127.0.0.1:1 --cert "$CERT" --key "$KEY" --ca-file "$T/ca/ca.pem" --san bogus
is "$rc" 2 "a bad --san: exit 2"
tf --root "$R" renew --server https://127.0.0.1:1 --cert /nonexistent.pem --key "$KEY" --ca-file "$T/ca/ca.pem"
is "$rc" 2 "no certificate: exit 2"
like "$T/err" "no client certificate '.*nonexistent.pem': enroll first" "no certificate: says to enroll"
tf help renew
like "$T/out" '--max-wait SECONDS' "help renew lists the options"

done_testing
