#!/bin/sh
# t0700-probe.sh - "trustfix probe" against TLS servers on 127.0.0.1 (the
# test EST server, whose certificate its CA issues): a store with the CA
# validates, one without it fails naming the error, the staged bundle's
# impact (now ok, after fails), a saved chain offline, a refused connection,
# a server that never answers the handshake, a host name mismatch, a hostile
# subject printed escaped, the configured probes, and the JSON document.
. "$TF_SRC/tests/cli/lib.sh"

. "$TF_SRC/tests/cli/est-lib.sh"

# start NAME [est-server options] / stop NAME: a TLS server on 127.0.0.1
# with the CA in $T/ca (est-lib.sh); port NAME: its port
start() { est_start "$@"; }
stop() { est_stop "$1"; }
port() { cat "$T/$1.port"; }

start main
P=$(port main)
CA=$T/ca/ca.pem
CA_SHA=$(pem_sha256 "$CA")

# the appliance: a store with QuoVadis and the server's CA, another without the CA
R=$T/root
mkdir -p "$R/etc/ssl/certs" "$R/etc/trustfix" "$R/etc/app"
cat "$DATA/QuoVadis_Root_CA_2.pem" "$CA" >"$R/etc/ssl/certs/ca-certificates.crt"
cp "$DATA/IdenTrust_Commercial_Root_CA_1.pem" "$R/etc/app/roots.pem"
bundle_signer signer
cp "$T/signer.pem" "$R/etc/trustfix/signers.pem"
printf '%s\n' 'bundle_signers = /etc/trustfix/signers.pem' "probe = 127.0.0.1:$P" '' \
    '[store system]' 'path = /etc/ssl/certs/ca-certificates.crt' >"$R/etc/trustfix/trustfix.conf"
SYS=/etc/ssl/certs/ca-certificates.crt
APP=/etc/app/roots.pem

# --- validates against a store holding the CA
tf --root "$R" probe "127.0.0.1:$P" --store "$SYS"
is "$rc" 0 "a store with the server's CA: exit 0"
like "$T/out" "^127\.0\.0\.1:$P +$SYS +ok" "the table says ok for endpoint and store"
like "$T/out" "1 endpoint: 1 validates, 0 fail, 0 unreachable" "the summary"

tf --root "$R" probe "localhost:$P" --store "$SYS"
is "$rc" 0 "by name (localhost, the certificate's name): exit 0"

# --- a store without it
tf --root "$R" probe "127.0.0.1:$P" --store "$APP"
is "$rc" 1 "a store without the server's CA: exit 1"
like "$T/out" "^127\.0\.0\.1:$P +$APP +FAILS" "the table says FAILS"
like "$T/out" "now: (self-signed certificate in certificate chain|unable to get local issuer certificate) \(depth [01], 'CN=" \
    "the failure names the verify error, the depth and the subject"

# each store is judged on its own: one fails, one validates
tf --root "$R" probe "127.0.0.1:$P" --store "$SYS" --store "$APP"
is "$rc" 1 "two stores, one without the CA: exit 1"
like "$T/out" "$SYS +ok" "the store with the CA: ok"
like "$T/out" "$APP +FAILS" "the store without it: FAILS"

# the system's own trust is never used: an empty set of anchors fails even
# for a server whose CA a system store might hold
: >"$R/etc/app/empty.pem"
tf --root "$R" probe "127.0.0.1:$P" --store /etc/app/empty.pem
is "$rc" 1 "an empty store: exit 1 (no default trust)"

# --- host name mismatch
tf --root "$R" probe "127.0.0.1:$P" --store "$SYS" --servername other.example
is "$rc" 1 "a name the certificate is not for: exit 1"
like "$T/out" "hostname mismatch: the certificate is not for 'other\.example' \(depth 0, 'CN=localhost" \
    "the mismatch is named, with the name and the leaf"

# --- the configured probes and stores
tf --root "$R" probe
is "$rc" 0 "no argument: the 'probe =' endpoints of the configuration against its stores"
like "$T/out" "^127\.0\.0\.1:$P +$SYS +ok" "the configured endpoint and store"

# --- JSON
tf --root "$R" --json probe "127.0.0.1:$P" --store "$SYS" --store "$APP"
is "$rc" 1 "--json: exit 1 as in the table"
is "$(jpy '[d["summary"]["endpoints"], d["summary"]["invalid"], d["endpoints"][0]["verdict"]]')" \
    '[1, 1, "invalid"]' "--json: the summary and the endpoint's verdict"
is "$(jpy '[[s["store"], s["now"]["verdict"], s["after"]] for s in d["endpoints"][0]["stores"]]')" \
    "[[\"$SYS\", \"ok\", null], [\"$APP\", \"invalid\", null]]" "--json: a verdict per store"
is "$(jpy '[d["endpoints"][0]["host"], d["endpoints"][0]["port"], d["endpoints"][0]["name_checked"]]')" \
    "[\"127.0.0.1\", \"$P\", \"127.0.0.1\"]" "--json: host, port and the name checked"
is "$(jpy 'd["endpoints"][0]["chain"][-1]["sha256"]')" "$CA_SHA" "--json: the chain presented, with fingerprints"
jpy 'd["endpoints"][0]["stores"][1]["now"]' >"$T/bad.json"
like "$T/bad.json" '"depth": [01]' "--json: the depth of the failure"
like "$T/bad.json" '"error": "(self-signed certificate in certificate chain|unable to get local issuer certificate)"' \
    "--json: the verify error string"

# --- --staged: the impact of a bundle that removes the server's CA
"$TRUSTFIX" bundle create --name site-migration --version 1 \
    --signer-cert "$T/signer.pem" --signer-key "$T/signer.key" \
    --add "$DATA/IdenTrust_Commercial_Root_CA_1.pem" --remove "$CA_SHA=trustfix test EST CA" \
    -o "$T/migration.tar.gz" >/dev/null
tf --root "$R" bundle stage "$T/migration.tar.gz"
is "$rc" 0 "a bundle that removes the server's CA is staged"
before=$(fast_tree_sum "$R")
tf --root "$R" probe "127.0.0.1:$P" --staged
is "$rc" 1 "--staged: the endpoint would break: exit 1"
like "$T/out" "^127\.0\.0\.1:$P +$SYS +ok +FAILS" "--staged: now ok, after FAILS"
like "$T/out" "after: (unable to get local issuer certificate|self-signed certificate in certificate chain) \(depth [01]" \
    "--staged: why it would fail"
like "$T/out" "AFTER: the stores as the staged bundle site-migration version 1 would leave them" \
    "--staged: which bundle"
is "$(fast_tree_sum "$R")" "$before" "--staged changes nothing under the root"
tf --root "$R" --json probe "127.0.0.1:$P" --staged
is "$(jpy '[d["staged_bundle"]["name"], d["endpoints"][0]["stores"][0]["now"]["verdict"], d["endpoints"][0]["stores"][0]["after"]["verdict"]]')" \
    '["site-migration", "ok", "invalid"]' "--staged --json: now ok, after invalid"
tf --root "$R" probe "127.0.0.1:$P" --staged=site-migration --store "$APP"
is "$rc" 1 "--staged=NAME against a store that lacks the CA anyway: exit 1"
like "$T/out" "$APP +FAILS +FAILS" "fails now and after"

# a bundle that keeps the CA: now ok, after ok
"$TRUSTFIX" bundle create --name site-migration --version 2 \
    --signer-cert "$T/signer.pem" --signer-key "$T/signer.key" \
    --add "$DATA/IdenTrust_Commercial_Root_CA_1.pem" --remove "$B_QV_SHA=QuoVadis Root CA 2" \
    -o "$T/keep.tar.gz" >/dev/null
tf --root "$R" bundle stage "$T/keep.tar.gz"
tf --root "$R" probe "127.0.0.1:$P" --staged
is "$rc" 0 "--staged with a bundle that keeps the CA: exit 0"
like "$T/out" "$SYS +ok +ok" "now ok, after ok"

# the staged bundle is verified first: an unpinned signer is refused
bundle_signer intruder
tf --root "$R" probe "127.0.0.1:$P" --staged --signers "$T/intruder.pem"
is "$rc" 4 "--staged with a bundle its signers do not verify: exit 4"

# --- offline: a saved chain
"$MKCERT" --subject "/CN=localhost/O=saved chain" --issuer-cert "$CA" --issuer-key "$T/ca/ca.key" \
    --key-type ec:P-256 --key-out "$T/leaf.key" -o "$T/leaf.pem"
cat "$T/leaf.pem" "$CA" >"$T/chain.pem"
stop main
tf --root "$R" probe --chain "$T/chain.pem" --store "$SYS"
is "$rc" 0 "--chain FILE validates offline (the server is stopped)"
like "$T/out" "no host name checked" "--chain without HOST:PORT says no name was checked"
tf --root "$R" probe localhost:443 --chain "$T/chain.pem" --store "$SYS"
is "$rc" 0 "--chain with HOST:PORT: the name is checked and matches"
tf --root "$R" probe wrong.example:443 --chain "$T/chain.pem" --store "$SYS"
is "$rc" 1 "--chain with another name: exit 1"
like "$T/out" "hostname mismatch" "--chain: the mismatch is named"
tf --root "$R" probe --chain "$T/chain.pem" --store "$APP"
is "$rc" 1 "--chain against a store without the CA: exit 1"
tf --root "$R" --json probe --chain "$T/chain.pem" --store "$SYS"
is "$(jpy '[d["endpoints"][0]["endpoint"], d["endpoints"][0]["chain_file"].endswith("/chain.pem"), d["endpoints"][0]["name_checked"]]')" \
    '[null, true, null]' "--chain --json: the chain file, no endpoint, no name"
printf 'not a certificate\n' >"$T/junk.pem"
tf --root "$R" probe --chain "$T/junk.pem" --store "$SYS"
is "$rc" 4 "--chain with a file that holds no certificate: exit 4"
like "$T/err" "junk\.pem' holds no certificate" "the error names the file"
tf --root "$R" probe --chain "$T/missing.pem" --store "$SYS"
is "$rc" 2 "--chain with a missing file: exit 2"
like "$T/err" "missing\.pem" "the error names the file"

# --- the server is gone: connection refused
tf --root "$R" probe "127.0.0.1:$P" --store "$SYS"
is "$rc" 5 "connection refused: exit 5"
like "$T/out" "cannot connect to 127\.0\.0\.1:$P: Connection refused" "names HOST:PORT and the reason"
tf --root "$R" -q probe "127.0.0.1:$P" --store "$SYS"
is "$rc" 5 "-q: exit 5"
like "$T/err" "cannot connect to 127\.0\.0\.1:$P" "-q: the reason on stderr"
is "$(wc -c <"$T/out" | tr -d ' ')" 0 "-q: nothing on stdout"
tf --root "$R" probe no-such-host.invalid:443 --store "$SYS"
is "$rc" 5 "a name that does not resolve: exit 5"
like "$T/out" "cannot resolve the host name" "the reason"

# a listener that never speaks TLS: the time limit ends the handshake
$PYTHON -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(5)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)' "$T/mute.port" &
echo $! >"$T/mute.pid.start"
i=0
while [ ! -s "$T/mute.port" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
t0=$(date +%s)
tf --root "$R" probe "127.0.0.1:$(port mute)" --store "$SYS" --timeout 1
t1=$(date +%s)
is "$rc" 5 "a server that never answers the handshake: exit 5"
like "$T/out" "no TLS handshake with 127\.0\.0\.1:[0-9]+ within 1 s" "the time limit is named"
[ $((t1 - t0)) -le 4 ]
ok $? "--timeout 1 ends it within seconds"
stop mute

# --- a hostile subject: control bytes printed escaped
ESC=$(printf '\033')
"$MKCERT" --subject "/CN=evil${ESC}[31mred$(printf '\007\302\233')2J/O=hostile" \
    --issuer-cert "$CA" --issuer-key "$T/ca/ca.key" --key-type ec:P-256 \
    --key-out "$T/evil.key" -o "$T/evil.pem"
start evil --tls-cert "$T/evil.pem" --tls-key "$T/evil.key"
# (issued by the CA, but for no address: the failure is about the leaf)
tf --root "$R" probe "127.0.0.1:$(port evil)" --store "$SYS"
is "$rc" 1 "a hostile server certificate: exit 1"
like "$T/out" "IP address mismatch: the certificate is not for '127\.0\.0\.1' \(depth 0" \
    "an IP address is checked against the certificate"
like "$T/out" 'CN=evil\\x1b\[31mred\\x07\\xc2\\x9b2J' "the subject is printed with its control bytes escaped"
unlike "$T/out" "$ESC|$(printf '\007')|$(printf '\302\233')" "no raw control byte reaches the output"
tf --root "$R" -v probe "127.0.0.1:$(port evil)" --store "$APP"
like "$T/out" 'presented 0: CN=evil\\x1b\[31mred' "-v: the chain presented, escaped"
unlike "$T/out" "$ESC|$(printf '\007')|$(printf '\302\233')" "-v: no raw control byte"
tf --root "$R" --json probe "127.0.0.1:$(port evil)" --store "$APP"
is "$(jpy 'd["endpoints"][0]["chain"][0]["subject"]')" 'CN=evil\x1b[31mred\x07\xc2\x9b2J, O=hostile' \
    "--json: the subject escaped the same way"
unlike "$T/out" "$ESC" "--json: no raw escape byte"
stop evil

# --- usage and configuration errors
tf --root "$R" probe 127.0.0.1 --store "$SYS"
is "$rc" 2 "HOST without a port: exit 2"
like "$T/err" "'127\.0\.0\.1' is not HOST:PORT" "the usage error names the argument"
tf --root "$R" probe 127.0.0.1:70000 --store "$SYS"
is "$rc" 2 "a port out of range: exit 2"
tf --root "$R" probe 127.0.0.1:443 --timeout 0
is "$rc" 2 "--timeout 0: exit 2"
tf --root "$R" probe a:1 b:2 --chain "$T/chain.pem"
is "$rc" 2 "--chain with two endpoints: exit 2"
E=$T/empty
mkdir -p "$E/etc/trustfix"
printf '[store system]\npath = /etc/ssl/certs/ca-certificates.crt\n' >"$E/etc/trustfix/trustfix.conf"
tf --root "$E" probe
is "$rc" 2 "no endpoint named or configured: exit 2"
like "$T/err" "no endpoint: name HOST:PORT" "says how to name one"
printf 'probe = example.net\n' >"$E/etc/trustfix/trustfix.conf"
tf --root "$E" probe
is "$rc" 2 "a bad 'probe =' value: exit 2"
like "$T/err" "trustfix\.conf:1: bad value 'example\.net' for 'probe'" "names the file and the line"
# every 'probe =' line is probed (the server of $P is stopped: both unreachable)
mkdir -p "$E/etc/ssl/certs"
cp "$R$SYS" "$E$SYS"
printf '%s\n' "probe = 127.0.0.1:$P" "probe = [::1]:$P" '[store system]' "path = $SYS" \
    >"$E/etc/trustfix/trustfix.conf"
tf --root "$E" probe
is "$rc" 5 "'probe =' repeated, [ipv6]:port accepted: both probed, unreachable: exit 5"
like "$T/out" "^127\.0\.0\.1:$P " "the first configured endpoint"
like "$T/out" "^\[::1\]:$P " "the second configured endpoint"
like "$T/out" "2 endpoints: 0 validate, 0 fail, 2 unreachable" "the summary counts both"
tf help probe
like "$T/out" "^usage: trustfix \[global options\] probe \[HOST:PORT\.\.\.\]" "help probe"

done_testing
