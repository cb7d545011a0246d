#!/bin/sh
# t0500-est-server.sh - the test EST server (build/tools/est-server) on its
# own, driven by curl and the openssl command line: every operation, the
# authentication modes and the fault modes that the EST client tests rely on.
. "$TF_SRC/tests/cli/lib.sh"

. "$TF_SRC/tests/cli/est-lib.sh"

# start NAME [OPTIONS]: est_start, with $URL the EST path, checked to answer
start() {
	n=$1
	est_start "$@"
	URL=$URL/.well-known/est
	# answers: the port file is written once the socket listens
	curl -sS --max-time 5 --cacert "$T/ca/ca.pem" -o /dev/null "$URL/cacerts" ||
		diag "server $n does not answer: $(cat "$T/$n.err")"
}
stop() { est_stop "$1"; }

# csr NAME SUBJECT [openssl req options]: key $T/NAME.key, base64 CSR $T/NAME.b64
csr() {
	n=$1 subj=$2
	shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$n.key" \
	    -subj "$subj" -outform DER "$@" 2>/dev/null | openssl base64 >"$T/$n.b64"
}
# est OP [curl options]: request OP; status in $code, headers $T/h, body $T/body
est() {
	op=$1
	shift
	code=$(curl -sS --max-time 5 --cacert "$T/ca/ca.pem" -D "$T/h" -o "$T/body" \
	    -w '%{http_code}' "$@" "$URL/$op" 2>"$T/curl.err") || code=curl$?
}
# post OP FILE [curl options]: POST FILE as application/pkcs10
post() {
	op=$1 f=$2
	shift 2
	est "$op" --data-binary "@$f" -H 'Content-Type: application/pkcs10' "$@"
}
# certs [FILE]: the certificates of a base64 certs-only body as PEM, on stdout
certs() {
	tr -d '\r\n\000' <"${1:-$T/body}" | openssl base64 -d -A |
	    openssl pkcs7 -inform DER -print_certs 2>/dev/null | grep -v -e '^subject' -e '^issuer' -e '^$'
}
pubkey() { openssl pkey -in "$1" -pubout 2>/dev/null; }
cert_pubkey() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }
ncerts() { grep -c 'BEGIN CERTIFICATE' "$1"; }
hdr() { tr -d '\r' <"$T/h" | grep -i "^$1:" | cut -d: -f2- | sed 's/^ //'; }

start main
csr dev "/CN=device-1/O=trustfix tests" -addext "subjectAltName=DNS:device-1.example,IP:10.0.0.7"

# /cacerts
est cacerts
is "$code" 200 "cacerts: 200"
is "$(hdr Content-Type)" "application/pkcs7-mime" "cacerts: application/pkcs7-mime"
certs >"$T/cacerts.pem"
is "$(pem_sha256 "$T/cacerts.pem")" "$(pem_sha256 "$T/ca/ca.pem")" "cacerts: the CA certificate"

# /csrattrs: none configured
est csrattrs
is "$code" 204 "csrattrs without attributes: 204"

# /simpleenroll with Basic
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 200 "simpleenroll with the right password: 200"
like "$T/h" '^Content-Type: application/pkcs7-mime; smime-type=certs-only' "simpleenroll: certs-only"
like "$T/h" '^Content-Transfer-Encoding: base64' "simpleenroll: Content-Transfer-Encoding"
certs >"$T/chain.pem"
is "$(ncerts "$T/chain.pem")" 2 "simpleenroll: the certificate and the CA"
openssl x509 -in "$T/chain.pem" -out "$T/dev.pem"
is "$(openssl x509 -in "$T/dev.pem" -noout -subject)" "subject=CN = device-1, O = trustfix tests" \
    "simpleenroll: the CSR's subject"
openssl x509 -in "$T/dev.pem" -noout -ext subjectAltName,extendedKeyUsage >"$T/ext"
like "$T/ext" 'DNS:device-1.example, IP Address:10.0.0.7' "simpleenroll: the CSR's SANs"
like "$T/ext" 'TLS Web Client Authentication' "simpleenroll: clientAuth"
is "$(cert_pubkey "$T/dev.pem")" "$(pubkey "$T/dev.key")" "simpleenroll: the CSR's key"
openssl verify -CAfile "$T/ca/ca.pem" "$T/dev.pem" >/dev/null 2>&1
ok $? "simpleenroll: chains to the CA"

post simpleenroll "$T/dev.b64" -u 'alice:wrong'
is "$code" 401 "simpleenroll with a wrong password: 401"
like "$T/h" '^WWW-Authenticate: Basic realm=' "401 carries a Basic challenge"
post simpleenroll "$T/dev.b64"
is "$code" 401 "simpleenroll without credentials: 401"
est simpleenroll -u 'alice:open sesame'
is "$code.$(hdr Allow)" 405.POST "simpleenroll by GET: 405, Allow: POST"
printf 'not a csr\n' >"$T/junk.b64"
post simpleenroll "$T/junk.b64" -u 'alice:open sesame'
is "$code" 400 "simpleenroll of garbage: 400"

# /simplereenroll with the client certificate: same subject and SANs, new key
csr dev2 "/CN=device-1/O=trustfix tests"
post simplereenroll "$T/dev2.b64" --cert "$T/dev.pem" --key "$T/dev.key"
is "$code" 200 "simplereenroll with the current certificate: 200"
certs | openssl x509 -out "$T/dev2.pem"
is "$(cert_pubkey "$T/dev2.pem")" "$(pubkey "$T/dev2.key")" "simplereenroll: the new key"
openssl x509 -in "$T/dev2.pem" -noout -ext subjectAltName >"$T/ext"
like "$T/ext" 'DNS:device-1.example, IP Address:10.0.0.7' "simplereenroll: keeps the SANs"
post simplereenroll "$T/dev2.b64" -u 'alice:open sesame'
is "$code" 401 "simplereenroll without a certificate: 401"
csr other "/CN=someone-else"
post simplereenroll "$T/other.b64" --cert "$T/dev.pem" --key "$T/dev.key"
is "$code" 400 "simplereenroll with another subject: 400"

# /serverkeygen: multipart/mixed, PKCS#8 key and certificate
post serverkeygen "$T/dev.b64" -u 'alice:open sesame'
is "$code" 200 "serverkeygen: 200"
like "$T/h" '^Content-Type: multipart/mixed; boundary=' "serverkeygen: multipart/mixed"
tr -d '\r' <"$T/body" | awk '/^--/{p++; next} /^Content-|^$/{next} p==1' >"$T/kg.key.b64"
tr -d '\r' <"$T/body" | awk '/^--/{p++; next} /^Content-|^$/{next} p==2' >"$T/kg.p7.b64"
openssl base64 -d -in "$T/kg.key.b64" | openssl pkey -inform DER -out "$T/kg.key" 2>/dev/null
certs "$T/kg.p7.b64" | openssl x509 -out "$T/kg.pem"
is "$(cert_pubkey "$T/kg.pem")" "$(pubkey "$T/kg.key")" "serverkeygen: the certificate is for the returned key"

# the log has the user, never the password
like "$T/main.log" 'POST /.well-known/est/simpleenroll 200 user=alice' "log: one line per request"
unlike "$T/main.log" 'open sesame|b3BlbiBzZXNhbWU|PRIVATE' "log: no password, no key"

# a label is served only when configured
est lbl/cacerts
is "$code" 404 "an unknown label: 404"
stop main
is "$(test -e "$T/main.pid" && echo left)" "" "SIGTERM: the server exits and removes its pid file"

start lbl --label lbl --csrattrs challengePassword,ec:P-384,ecdsa-with-SHA384 --tls12-only
est lbl/cacerts
is "$code" 200 "--label: /.well-known/est/LABEL/cacerts"
est csrattrs
tr -d '\n' <"$T/body" | openssl base64 -d -A | openssl asn1parse -inform DER >"$T/attrs" 2>&1
like "$T/attrs" 'challengePassword' "csrattrs: challengePassword"
like "$T/attrs" 'secp384r1' "csrattrs: an EC P-384 key"
like "$T/attrs" 'ecdsa-with-SHA384' "csrattrs: a bare OID"
curl -sS --max-time 5 --tlsv1.3 --cacert "$T/ca/ca.pem" -o /dev/null "$URL/cacerts" 2>/dev/null
ok $((! $?)) "--tls12-only: TLS 1.3 refused"
like "$T/lbl.log" 'TLSv1.2 GET' "--tls12-only: TLS 1.2 spoken"
stop lbl

# an expired client certificate: 401 on reenroll, or refused in the handshake
start expired --not-before-offset -7200 --not-after-offset -3600
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
certs | openssl x509 -out "$T/old.pem"
stop expired
openssl x509 -in "$T/old.pem" -noout -checkend 0 >/dev/null
ok $((! $?)) "--not-after-offset -3600: the certificate has expired"
start main2
post simplereenroll "$T/dev2.b64" --cert "$T/old.pem" --key "$T/dev.key"
is "$code" 401 "simplereenroll with an expired certificate: 401"
like "$T/body" 'expired' "the 401 says why"
stop main2
start reject --reject-expired-tls
est cacerts --cert "$T/old.pem" --key "$T/dev.key"
case $code in curl*) r=0 ;; *) r=1 ;; esac
ok $r "--reject-expired-tls: the handshake fails with an expired certificate"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 200 "--reject-expired-tls: a password enroll without the certificate works"
stop reject

# fault modes
start f202 --fault-202 2 --retry-after garbage
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code.$(hdr Retry-After)" 202.garbage "--fault-202: 202 with the literal Retry-After"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 202 "--fault-202 2: a second 202"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 200 "--fault-202 2: then the certificate"
stop f202

start f500 --fault-500 --fault-401-reenroll
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 500 "--fault-500: 500"
post simplereenroll "$T/dev2.b64" --cert "$T/dev.pem" --key "$T/dev.key"
is "$code" 401 "--fault-401-reenroll: 401 with a valid certificate"
stop f500

start fb64 --fault-b64-nonl --fault-no-cte --fault-trailing-nul --fault-cert-only
est cacerts
like "$T/h" '^Content-Transfer-Encoding: base64' "without --fault-cacerts, cacerts is well formed"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$(wc -l <"$T/body" | tr -d ' ')" 0 "--fault-b64-nonl: one line, no newline"
is "$(hdr Content-Transfer-Encoding)" "" "--fault-no-cte: no Content-Transfer-Encoding"
is "$(tail -c 1 "$T/body" | od -An -tx1 | tr -d ' ')" 00 "--fault-trailing-nul: a NUL at the end"
certs >"$T/f.pem"
is "$(ncerts "$T/f.pem")" 1 "--fault-cert-only: the certificate without its chain"
stop fb64

start fcrlf --fault-b64-crlf --fault-wrong-ctype --fault-cacerts
est cacerts
is "$(grep -c "$(printf '\r')\$" "$T/body")" "$(wc -l <"$T/body" | tr -d ' ')" \
    "--fault-cacerts: the faults apply to cacerts too"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$(grep -c "$(printf '\r')\$" "$T/body")" "$(wc -l <"$T/body" | tr -d ' ')" \
    "--fault-b64-crlf: every line ends in CRLF"
like "$T/h" '^Content-Type: text/html' "--fault-wrong-ctype: text/html"
certs >"$T/f.pem"
is "$(ncerts "$T/f.pem")" 2 "--fault-b64-crlf: still the certificates"
stop fcrlf

start fkey --fault-wrong-key
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
certs | openssl x509 -out "$T/f.pem"
[ "$(cert_pubkey "$T/f.pem")" != "$(pubkey "$T/dev.key")" ]
ok $? "--fault-wrong-key: a certificate for another key"
stop fkey

start fca --fault-other-ca
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
certs | openssl x509 -out "$T/f.pem"
openssl verify -CAfile "$T/ca/ca.pem" "$T/f.pem" >/dev/null 2>&1
ok $((! $?)) "--fault-other-ca: does not chain to the EST CA"
stop fca

start fgarb --fault-garbage
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
certs >"$T/f.pem"
is "$code.$(ncerts "$T/f.pem")" 200.0 "--fault-garbage: 200 with a body that is no PKCS#7"
stop fgarb

start fhang --fault-hang
t0=$(date +%s)
post simpleenroll "$T/dev.b64" -u 'alice:open sesame' --max-time 1
is "$code" curl28 "--fault-hang: no answer (client timeout)"
stop fhang

start fdrip --fault-drip
post simpleenroll "$T/dev.b64" -u 'alice:open sesame' --max-time 1
is "$code" curl28 "--fault-drip: the answer is too slow to finish in 1 s"
stop fdrip

start fbig --fault-oversize
post simpleenroll "$T/dev.b64" -u 'alice:open sesame' --max-filesize 100000
is "$code.$(hdr Content-Length)" curl63.67108864 "--fault-oversize: a 64 MiB body announced"
stop fbig

# servers that others wrote: a challenge first, a strict body
start chal --require-challenge-401
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 401 "--require-challenge-401: credentials before a challenge are refused"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 200 "--require-challenge-401: accepted after the challenge"
stop chal

start strict --strict-body
tr -d '\n' <"$T/dev.b64" >"$T/nonl.b64"
post simpleenroll "$T/nonl.b64" -u 'alice:open sesame'
is "$code" 400 "--strict-body: no final newline is refused"
est simpleenroll --data-binary "@$T/dev.b64" -H 'Content-Type: application/octet-stream' \
    -u 'alice:open sesame'
is "$code" 415 "--strict-body: another Content-Type is refused"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 200 "--strict-body: base64 with a final newline as application/pkcs10"
stop strict

# authentication by certificate
start cert --auth cert
post simpleenroll "$T/dev.b64"
is "$code" 401 "--auth cert: no certificate, 401"
post simpleenroll "$T/dev.b64" --cert "$T/dev.pem" --key "$T/dev.key"
is "$code" 200 "--auth cert: with a certificate of the CA, 200"
stop cert

# proof of possession: a CSR without the channel binding is refused
start pop --require-pop
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 400 "--require-pop: a CSR without challengePassword is refused"
like "$T/body" 'proof of possession' "--require-pop: the 400 says why"
# pop_enroll.py puts the channel binding of its own connection in the CSR
pop() {
	timeout 10 "$PYTHON" "$TF_SRC/tests/est-server/pop_enroll.py" "$(cat "$T/$1.port")" \
	    "$T/ca/ca.pem" "$T/dev.key" "$2" "$3" 'alice:open sesame' 2>/dev/null
}
is "$(pop pop 1.2 good)" 200 "--require-pop: TLS 1.2 tls-unique in challengePassword, 200"
is "$(pop pop 1.2 bad)" 400 "--require-pop: TLS 1.2 with a wrong binding, 400"
is "$(pop pop 1.3 good)" 200 "--require-pop: TLS 1.3 tls-exporter (RFC 9266), 200"
is "$(pop pop 1.3 bad)" 400 "--require-pop: TLS 1.3 with a wrong binding, 400"
like "$T/pop.log" 'TLSv1.3 POST /.well-known/est/simpleenroll 200 user=alice pop-ok' \
    "log: the proof of possession is noted"
stop pop
start popcheck --check-pop-if-present
is "$(pop popcheck 1.2 bad)" 400 "--check-pop-if-present: any challengePassword is checked"
stop popcheck
start nopop
is "$(pop nopop 1.2 bad)" 200 "without --require-pop a challengePassword is not checked"
stop nopop

# HTTP details: an HTTP-date Retry-After, chunked bodies, Expect: 100-continue
start http --fault-202 1 --retry-after date:+30 --days 2
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
like "$T/h" '^Retry-After: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT' \
    "--retry-after date:+30: an HTTP date"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame' -H 'Transfer-Encoding: chunked'
is "$code" 200 "a chunked request body"
certs | openssl x509 -out "$T/d.pem"
openssl x509 -in "$T/d.pem" -noout -checkend 172000 >/dev/null &&
	! openssl x509 -in "$T/d.pem" -noout -checkend 173000 >/dev/null
ok $? "--days 2: valid for two days"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame' -H 'Expect: 100-continue'
is "$code" 200 "Expect: 100-continue"
stop http

# first enrollment with a manufacturer certificate (--client-ca) and a password
"$MKCERT" --subject "/CN=Manufacturer CA" --ca --key-type ec:P-256 --key-out "$T/mfg.key" \
    -o "$T/mfg.pem"
"$MKCERT" --subject "/CN=device-1 idevid" --issuer-cert "$T/mfg.pem" --issuer-key "$T/mfg.key" \
    --eku clientAuth --key-type ec:P-256 --key-out "$T/idev.key" -o "$T/idev.pem"
start boot --auth both --client-ca "$T/mfg.pem"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame' --cert "$T/idev.pem" --key "$T/idev.key"
is "$code" 200 "--auth both: manufacturer certificate and password, 200"
post simpleenroll "$T/dev.b64" -u 'alice:open sesame'
is "$code" 401 "--auth both: the password alone, 401"
post simpleenroll "$T/dev.b64" --cert "$T/idev.pem" --key "$T/idev.key"
is "$code" 401 "--auth both: the certificate alone, 401"
post simplereenroll "$T/dev2.b64" -u 'alice:open sesame' --cert "$T/dev.pem" --key "$T/dev.key"
is "$code" 200 "--client-ca: certificates of the EST CA still re-enroll"
stop boot

done_testing
