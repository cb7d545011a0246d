#!/bin/sh
# t0530-est-cacerts.sh - "trustfix est cacerts": fetch the EST CA
# certificates with a trust anchor, and bootstrap one with a fingerprint
# (match saves it as an audited change, mismatch saves nothing).
. "$TF_SRC/tests/cli/lib.sh"
. "$TF_SRC/tests/cli/est-lib.sh"

est_start main
FP=$(pem_sha256 "$T/ca/ca.pem")
ANCHOR=/etc/trustfix/est-ca.pem

tf est cacerts --server "$URL" --ca-file "$T/ca/ca.pem"
is "$rc" 0 "cacerts with a trust anchor: exit 0"
like "$T/out" 'CN=trustfix test EST CA' "cacerts: the CA's subject"
like "$T/out" "sha256 $FP" "cacerts: its fingerprint"
tf --json est cacerts --server "$URL" --ca-file "$T/ca/ca.pem"
is "$(jpy 'd["certificates"][0]["sha256"]')" "$FP" "cacerts --json: the fingerprint"
tf est cacerts --server "$URL"
is "$rc" 2 "cacerts without a trust anchor: exit 2"
like "$T/err" 'use --bootstrap --fingerprint' "no anchor: says how to bootstrap"

# a trust anchor that does not verify the server
"$MKCERT" --subject "/CN=Someone Else" --ca --key-type ec:P-256 -o "$T/other.pem"
tf est cacerts --server "$URL" --ca-file "$T/other.pem"
is "$rc" 4 "a wrong trust anchor: exit 4 (TLS verification fails)"
like "$T/err" 'SSL certificate problem' "a wrong trust anchor: says why"

# bootstrap: a fingerprint that does not match saves nothing
sum=$(fast_tree_sum "$R")
tf --root "$R" est cacerts --server "$URL" --bootstrap \
    --fingerprint 0000000000000000000000000000000000000000000000000000000000000000 --out "$ANCHOR"
is "$rc" 4 "bootstrap, another fingerprint: exit 4"
like "$T/err" 'no certificate from EST server .* has the fingerprint given' "mismatch: says so"
is "$(fast_tree_sum "$R")" "$sum" "mismatch: nothing written"
unlike "$T/main.log" 'user=alice' "bootstrap: no credentials sent"

tf --root "$R" est cacerts --server "$URL" --bootstrap --out "$ANCHOR"
is "$rc" 2 "--bootstrap without --fingerprint: exit 2"
tf --root "$R" est cacerts --server "$URL" --bootstrap --fingerprint abcd --out "$ANCHOR"
is "$rc" 2 "a malformed fingerprint: exit 2"
tf --root "$R" est cacerts --server "$URL" --bootstrap --fingerprint "$FP"
is "$rc" 2 "--bootstrap with nowhere to save: exit 2"
tf --root "$R" est cacerts --server "$URL" --bootstrap --fingerprint "$FP" --out "$ANCHOR" --dry-run
is "$rc" 0 "bootstrap --dry-run: exit 0"
is "$(fast_tree_sum "$R")" "$sum" "bootstrap --dry-run: nothing written"

# the fingerprint as openssl prints it (colons, upper case) matches
FPC=$(openssl x509 -in "$T/ca/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)
tf --root "$R" est cacerts --server "$URL" --bootstrap --fingerprint "$FPC" --out "$ANCHOR"
is "$rc" 0 "bootstrap, the fingerprint matches: exit 0"
is "$(pem_sha256 "$R$ANCHOR")" "$FP" "bootstrap: the CA saved as the trust anchor"
agit "$R" log -1 --format='%B' >"$T/msg"
like "$T/msg" "^save the EST CA certificates of $URL as trust anchor" "bootstrap: an audited change"
like "$T/msg" "^Trustfix-Bootstrap-Fingerprint: $FP\$" "bootstrap: the fingerprint recorded"
tf --root "$R" est cacerts --server "$URL" --bootstrap --fingerprint "$FP" --out "$ANCHOR"
is "$rc" 3 "bootstrap again: nothing to do"

# the saved anchor, named by ca_file of the configuration, serves renew
cat >"$R/etc/trustfix/trustfix.conf" <<CONF
[client]
server = $URL
ca_file = $ANCHOR
CONF
tf --root "$R" est cacerts
is "$rc" 0 "cacerts with ca_file of the configuration (under --root)"
rm "$R$ANCHOR"
tf --root "$R" est cacerts --bootstrap --fingerprint "$FP"
is "$rc" 0 "bootstrap saves to ca_file of the configuration"
is "$(pem_sha256 "$R$ANCHOR")" "$FP" "bootstrap: ca_file written"
tfe enroll --subject CN=device-3 --ca-file "$T/ca/ca.pem"
is "$rc" 0 "enroll after the bootstrap"

tf est
is "$rc" 2 "est without an operation: exit 2"
tf est simpleenroll
is "$rc" 2 "est with an unknown operation: exit 2"
tf help est
like "$T/out" '--fingerprint SHA256' "help est lists the options"
est_stop main

done_testing
