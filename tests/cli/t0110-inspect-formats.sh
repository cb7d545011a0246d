#!/bin/sh
# t0110-inspect-formats.sh - every store format, detected by content: hashed
# directory, directory of PEM/DER files, DER file, PKCS#12 with a password;
# the hash-link problems that hide a CA from OpenSSL's lookup; links under --root.
. "$TF_SRC/tests/cli/lib.sh"

R=$T/root
IDENTRUST=$DATA/IdenTrust_Commercial_Root_CA_1.pem
mkdir -p "$R/etc/ssl/certs" "$R/etc/pki" "$R/etc/der"

ca() { # ca FILE CN [mkcert options]: a self-signed CA
	f=$1 cn=$2
	shift 2
	"$MKCERT" --subject "/CN=$cn/O=trustfix tests" --ca --key-type ec:P-256 -o "$f" "$@"
}
hash_of() { openssl x509 -in "$1" -noout -subject_hash; }
# formats: the detected format of each store of the last --json run
formats() { jpy '" ".join(s["format"] for s in d["stores"])'; }

# --- a hashed directory, as openssl rehash makes it (symbolic links)
H=$R/etc/ssl/certs
ca "$H/a.pem" "Format CA A"
ca "$H/b.pem" "Format CA B"
cp "$IDENTRUST" "$H/identrust.pem"
openssl rehash "$H" 2>/dev/null
tf --root "$R" --json inspect /etc/ssl/certs
is "$rc" 0 "hashed directory made by openssl rehash: exit 0"
is "$(formats)" hashed-dir "format: hashed-dir"
is "$(jpy 'd["stores"][0]["count"]')" 3 "each certificate counted once (file and link are one)"
is "$(jpy 'sorted(c["source"].get("link", "") for c in d["stores"][0]["certificates"])')" \
    "$(printf '%s\n' "$(hash_of "$H/a.pem")" "$(hash_of "$H/b.pem")" "$(hash_of "$IDENTRUST")" |
        sort | $PYTHON -c 'import json,sys; print(json.dumps(["/etc/ssl/certs/%s.0" % l.strip() for l in sys.stdin]))')" \
    "each certificate's source names its hash link"

# --- a directory of PEM and DER files without hash links
D=$R/etc/certdir
mkdir -p "$D"
ca "$D/pem-ca.crt" "PEM CA"
ca "$D/der-ca.pem" "DER CA" --der
cp "$IDENTRUST" "$D/identrust.crt"
tf --root "$R" --json inspect /etc/certdir
is "$rc" 0 "directory of PEM and DER files: exit 0"
is "$(formats)" cert-dir "format: cert-dir"
is "$(jpy 'sorted(c["subject"] for c in d["stores"][0]["certificates"])')" \
    '["C=US, O=IdenTrust, CN=IdenTrust Commercial Root CA 1", "CN=DER CA, O=trustfix tests", "CN=PEM CA, O=trustfix tests"]' \
    "PEM and DER files both read"

# --- a single DER file
openssl x509 -in "$IDENTRUST" -outform DER -out "$R/etc/der/identrust.der"
tf --root "$R" --json inspect /etc/der/identrust.der
is "$rc" 0 "single DER file: exit 0"
is "$(formats)" der "format: der"
is "$(jpy 'd["stores"][0]["certificates"][0]["sha256"]')" \
    5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae "the DER certificate is read"

# --- PKCS#12 trust store, password from a file (not part of the device: as given)
cat "$H/a.pem" "$IDENTRUST" >"$T/p12in.pem"
printf 'correct horse\n' >"$T/pw"
printf 'wrong horse\n' >"$T/badpw"
openssl pkcs12 -export -nokeys -in "$T/p12in.pem" -passout file:"$T/pw" -out "$R/etc/pki/trust.p12"
tf --root "$R" --json inspect --password-file "$T/pw" /etc/pki/trust.p12
is "$rc" 0 "PKCS#12 store with the right password: exit 0"
is "$(formats)" pkcs12 "format: pkcs12"
is "$(jpy 'd["stores"][0]["count"]')" 2 "both certificates of the PKCS#12 store read"
rc=0
printf 'correct horse\n' | timeout 20 "$TRUSTFIX" --root "$R" --json inspect --password-file /dev/stdin \
    /etc/pki/trust.p12 >"$T/out" 2>"$T/err" || rc=$?
is "$rc.$(jpy 'd["stores"][0]["count"]')" 0.2 "--password-file /dev/stdin: the password from a pipe"
tf --root "$R" inspect --password-file "$T/nopw" /etc/pki/trust.p12
is "$rc" 2 "missing password file: exit 2"
like "$T/err" "$T/nopw" "the error names the password file"
tf --root "$R" inspect --password-file "$T/badpw" /etc/pki/trust.p12
is "$rc" 2 "wrong password: exit 2"
like "$T/err" "password.*$R/etc/pki/trust\.p12" "the error names the PKCS#12 file"
tf --root "$R" --json inspect --password-file "$T/badpw" /etc/pki/trust.p12
[ ! -s "$T/out" ] || jpy 1 >/dev/null
ok $? "wrong password with --json: no partial JSON document on stdout"
tf --root "$R" inspect /etc/pki/trust.p12
is "$rc" 2 "no password for a protected store: exit 2"
# RC2-encrypted, as Java's keytool wrote them for years
openssl pkcs12 -export -nokeys -legacy -in "$T/p12in.pem" -passout file:"$T/pw" \
    -out "$R/etc/pki/legacy.p12" 2>/dev/null
tf --root "$R" --json inspect --password-file "$T/pw" /etc/pki/legacy.p12
is "$rc.$(jpy 'd["stores"][0]["count"]')" 0.2 "legacy (RC2) PKCS#12 store: read, exit 0"
# a key bag in a trust store is a finding
"$MKCERT" --subject "/CN=device" --key-type ec:P-256 --key-out "$T/dev.key" -o "$T/dev.pem"
openssl pkcs12 -export -in "$T/dev.pem" -inkey "$T/dev.key" -certfile "$IDENTRUST" \
    -passout file:"$T/pw" -out "$R/etc/pki/withkey.p12"
tf --root "$R" --json inspect --password-file "$T/pw" /etc/pki/withkey.p12
is "$rc" 1 "PKCS#12 store holding a private key: exit 1"
has_kind private-key-in-store "the key bag is reported as private-key-in-store"

# hostile: 2^31 iterations of the password hash or of the MAC (found by fuzzing)
for f in pbkdf2 mac; do
	cp "$DATA/fuzz-regress/store-pkcs12-$f-iterations.p12" "$R/etc/pki/$f.p12"
	tf --root "$R" inspect "/etc/pki/$f.p12"
	is "$rc" 4 "PKCS#12 store asking for 2^31 $f iterations: refused at once, exit 4"
	like "$T/err" "$R/etc/pki/$f\.p12.*iterations" "the error names the file and the reason"
done

# several stores of different formats in one run, in order
tf --root "$R" --json inspect --password-file "$T/pw" /etc/der/identrust.der /etc/ssl/certs \
    /etc/pki/trust.p12 /etc/certdir
is "$rc.$(formats)" "0.der hashed-dir pkcs12 cert-dir" "four stores in one run, each format detected"

# --- hash-link problems, each in a directory of its own
hashdir() { # hashdir NAME: a fresh rehashed directory with two CAs and IdenTrust
	rm -rf "${R:?}/etc/$1"
	mkdir -p "$R/etc/$1"
	ca "$R/etc/$1/one.pem" "Link CA One"
	ca "$R/etc/$1/two.pem" "Link CA Two"
	cp "$IDENTRUST" "$R/etc/$1/identrust.pem"
	openssl rehash "$R/etc/$1" 2>/dev/null
}
# only_hash_link DESC: exactly one finding, of kind hash-link
only_hash_link() {
	is "$rc.$(kinds).$(count_kind hash-link)" "1.hash-link.1" "$1"
}

hashdir dangling
ln -s gone.pem "$R/etc/dangling/0badf00d.0"
tf --root "$R" --json inspect /etc/dangling
only_hash_link "dangling link: exit 1, one hash-link finding"
findings
like "$T/findings" '^hash-link	/etc/dangling/0badf00d\.0	.*dangling' "the dangling link is named"

hashdir loop
ln -s 1234abcd.0 "$R/etc/loop/1234abcd.0"
tf --root "$R" --json inspect /etc/loop
only_hash_link "link loop: exit 1, one hash-link finding"
findings
like "$T/findings" '^hash-link	/etc/loop/1234abcd\.0	.*loop' "the looping link is named"

hashdir wronghash
h=$(hash_of "$R/etc/wronghash/one.pem")
mv "$R/etc/wronghash/$h.0" "$R/etc/wronghash/deadbeef.0"
tf --root "$R" --json inspect /etc/wronghash
only_hash_link "link renamed to a wrong hash: exit 1, one hash-link finding"
is "$(jpy '[f["where"] for f in d["findings"]][0]')" /etc/wronghash/deadbeef.0 "the wrong link is named"
like "$T/out" "deadbeef.*$h" "the message gives both hashes"

hashdir gap
ca "$R/etc/gap/same1.pem" "Same Subject"
ca "$R/etc/gap/same2.pem" "Same Subject"
openssl rehash "$R/etc/gap" 2>/dev/null
h=$(hash_of "$R/etc/gap/same1.pem")
if [ -L "$R/etc/gap/$h.0" ] && [ -L "$R/etc/gap/$h.1" ]; then ok 0 "two certificates with one subject: $h.0 and $h.1"; else ok 1 "two certificates with one subject: $h.0 and $h.1"; fi
tf --root "$R" --json inspect /etc/gap
is "$rc.$(jpy 'len(d["findings"])')" 0.0 "a collision pair is fine"
first=$(readlink "$R/etc/gap/$h.0")
rm "$R/etc/gap/$h.0"
tf --root "$R" --json inspect /etc/gap
is "$rc" 1 "gap in the .N sequence: exit 1"
findings
like "$T/findings" "^hash-link	/etc/gap/$h\\.1	.*hidden" "$h.1 is reported hidden by the gap"
like "$T/findings" "^hash-link	/etc/gap/$first	.*no hash link" "the certificate that lost its .0 link has no hash link"

hashdir nolink
ca "$R/etc/nolink/late.pem" "Added Without Rehash"
tf --root "$R" --json inspect /etc/nolink
only_hash_link "certificate file without a hash link: exit 1, one hash-link finding"
is "$(jpy '[f["where"] for f in d["findings"]][0]')" /etc/nolink/late.pem "the unlinked file is named"

# --- under --root, absolute links resolve inside the root (Debian's layout:
# hash -> name.pem -> /usr/share/ca-certificates/...), never on the host
S=$R/usr/share/ca-certificates/trustfix-test
mkdir -p "$S" "$R/etc/abs"
ca "$S/abs-ca.crt" "Absolute Link CA"
cp "$IDENTRUST" "$S/identrust.crt"
for f in abs-ca identrust; do
	ln -s "/usr/share/ca-certificates/trustfix-test/$f.crt" "$R/etc/abs/$f.pem"
	ln -s "$f.pem" "$R/etc/abs/$(hash_of "$S/$f.crt").0"
done
tf --root "$R" --json inspect /etc/abs
is "$rc" 0 "absolute links under --root: exit 0"
is "$(jpy 'd["stores"][0]["count"]')" 2 "both certificates found through absolute links"
# a link climbing out of the root stays in it: the host's bundle is not read
ln -s ../../../../../../../../etc/ssl/certs/ca-certificates.crt "$R/etc/abs/0000000a.0"
tf --root "$R" --json inspect /etc/abs
is "$(jpy 'd["stores"][0]["count"]').$(count_kind hash-link)" 2.1 \
    "a link climbing out of the root is dangling inside it"

done_testing
