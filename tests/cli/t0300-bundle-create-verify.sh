#!/bin/sh
# t0300-bundle-create-verify.sh - "trustfix bundle create" and "bundle
# verify": the archive and the manifest a publisher gets, what verify
# prints (table and JSON), the same bundle as .zip and .tar, and the
# publisher's mistakes refused before anything is written.
. "$TF_SRC/tests/cli/lib.sh"

bundle_signer signer
IT=$DATA/IdenTrust_Commercial_Root_CA_1.pem
QV=$DATA/QuoVadis_Root_CA_2.pem

# --- create
tf bundle create --name "$B_NAME" --version 7 --signer-cert "$T/signer.pem" \
    --signer-key "$T/signer.key" --add "$IT" --remove "$B_QV_SHA=QuoVadis Root CA 2" \
    --require "$(echo "$B_IT_SHA" | sed 's/../&:/g; s/:$//')" --description "the fix" \
    --created 2025-06-01 --expires 2035-06-01T12:00:00Z -o "$T/b.tar.gz"
is "$rc" 0 "bundle create: exit 0"
like "$T/out" "wrote .*/b\.tar\.gz: bundle $B_NAME version 7 \(1 to add, 1 to remove, 1 required\)" \
    "bundle create says what it wrote"
tar -tzvf "$T/b.tar.gz" >"$T/list"
ok $? "the bundle is a .tar.gz that tar reads"
is "$(awk '{print $6}' "$T/list" | tr '\n' ' ')" \
    "manifest.json manifest.json.sig certs/ certs/identrust-commercial-root-ca-1.pem " \
    "it holds the manifest, its signature and the certificate, by the subject's name"
is "$(awk '{print $1, $2}' "$T/list" | sort -u | tr '\n' ';')" \
    "-rw-r--r-- root/root;drwxr-xr-x root/root;" "entries owned by root, 0644 and 0755"
bundle_unpack "$T/b.tar.gz" "$T/b"
cp "$T/out" "$T/create.out"
(cd "$T/b" && $PYTHON -c '
import hashlib, json, os
m = json.load(open("manifest.json"))
assert m["format"] == 1 and m["name"] == "'"$B_NAME"'" and m["version"] == 7, m
assert m["created"] == "2025-06-01T00:00:00Z" and m["expires"] == "2035-06-01T12:00:00Z", m
assert m["description"] == "the fix"
p = m["policy"]
assert [a["sha256"] for a in p["add"]] == ["'"$B_IT_SHA"'"], p
assert p["add"][0]["name"] == "IdenTrust Commercial Root CA 1"
assert [(r["sha256"], r["name"]) for r in p["decommissioned"]] == [("'"$B_QV_SHA"'", "QuoVadis Root CA 2")]
assert [(r["sha256"], r["name"]) for r in p["required"]] == [("'"$B_IT_SHA"'", "IdenTrust Commercial Root CA 1")]
for f in m["files"]:
    data = open(f["path"], "rb").read()
    assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"], f
assert sorted(f["path"] for f in m["files"]) == sorted("certs/" + n for n in os.listdir("certs"))
')
ok $? "the manifest: format, name, version, times, policy; every file with its SHA-256 and size"
openssl cms -verify -binary -inform DER -in "$T/b/manifest.json.sig" -content "$T/b/manifest.json" \
    -CAfile "$T/signer.pem" -purpose any -out /dev/null 2>"$T/cms.err"
ok $? "openssl cms -verify accepts the detached signature" || cat "$T/cms.err"
openssl cms -cmsout -print -inform DER -in "$T/b/manifest.json.sig" >"$T/cms.txt"
like "$T/cms.txt" "algorithm: sha256" "the signature's digest is SHA-256"
is "$(openssl x509 -in "$T/b/certs/identrust-commercial-root-ca-1.pem" -outform DER | sha256sum | cut -c1-64)" \
    "$B_IT_SHA" "the certificate file is IdenTrust Commercial Root CA 1"

# --- verify
tf bundle verify --signers "$T/signer.pem" "$T/b.tar.gz"
is "$rc" 0 "bundle verify: exit 0"
like "$T/out" "^bundle $B_NAME version 7: verified$" "verify: the verdict"
like "$T/out" "signer: +CN=signer, O=trustfix tests \([0-9a-f]{16}\)" "verify names the signer"
like "$T/out" "installed: none \(a new bundle\)" "verify: nothing installed (no root)"
like "$T/out" "\+ IdenTrust Commercial Root CA 1 \(5d56499be4d2e08b\)" "verify: what it adds"
like "$T/out" "- QuoVadis Root CA 2 \(85a0dd7dd720adb7\)" "verify: what it removes"
like "$T/out" "about: +the fix" "verify: the description"
tf --json bundle verify --signers "$T/signer.pem" "$T/b.tar.gz"
is "$(jpy '[d["name"], d["version"], d["status"], d["installed_version"], [a["sha256"] for a in d["add"]], [r["sha256"] for r in d["remove"]], [r["sha256"] for r in d["require"]], d["created"], d["expires"]]')" \
    "[\"$B_NAME\", 7, \"new\", null, [\"$B_IT_SHA\"], [\"$B_QV_SHA\"], [\"$B_IT_SHA\"], \"2025-06-01T00:00:00Z\", \"2035-06-01T12:00:00Z\"]" \
    "verify --json: name, version, status, the lists, the times"
is "$(jpy 'd["manifest_sha256"]')" "$(sha256sum <"$T/b/manifest.json" | cut -c1-64)" \
    "verify --json: the manifest's SHA-256"
is "$(jpy 'd["signer"]["sha256"]')" "$(pem_sha256 "$T/signer.pem")" "verify --json: the signer's fingerprint"

# the same files as a .zip and as a plain .tar
(cd "$T/b" && zip -qr "$T/b.zip" manifest.json manifest.json.sig certs)
tf bundle verify --signers "$T/signer.pem" "$T/b.zip"
is "$rc" 0 "the same bundle as a .zip verifies"
(cd "$T/b" && tar -cf "$T/b.tar" ./manifest.json ./manifest.json.sig ./certs)
tf bundle verify --signers "$T/signer.pem" "$T/b.tar"
is "$rc" 0 "as an uncompressed tar with ./ names, too"
(cd "$T/b" && tar -czf "$T/b2.tar.gz" .)
tf bundle verify --signers "$T/signer.pem" "$T/b2.tar.gz"
is "$rc" 0 "made with tar -C dir . (a ./ entry first), too"

# a signer chain: a CA pinned, the signer issued by it, the CA not in the bundle
"$MKCERT" --subject "/CN=Publisher CA/O=trustfix tests" --ca --key-type ec:P-384 \
    --key-out "$T/pubca.key" -o "$T/pubca.pem"
"$MKCERT" --subject "/CN=Publisher signer/O=trustfix tests" --issuer-cert "$T/pubca.pem" \
    --issuer-key "$T/pubca.key" --key-type rsa:2048 --key-out "$T/leaf.key" -o "$T/leaf.pem"
tf bundle create --name chained --version 1 --signer-cert "$T/leaf.pem" --signer-key "$T/leaf.key" \
    --require "$B_IT_SHA" -o "$T/chained.tar.gz"
is "$rc" 0 "a bundle signed by a key issued by a CA (RSA-2048), with --require only"
tf bundle verify --signers "$T/pubca.pem" "$T/chained.tar.gz"
is "$rc" 0 "verifies when only the issuing CA is pinned"
tf bundle verify --signers "$T/signer.pem" "$T/chained.tar.gz"
is "$rc" 4 "refused when another signer is pinned"

# --- the publisher's mistakes: exit 2 (or 4 for a weak key), no file written
create() { tf bundle create --signer-cert "$T/signer.pem" --signer-key "$T/signer.key" "$@"; }
create --name x --version 1 --add "$IT"
is "$rc" 2 "no -o: exit 2"
create --name "Bad Name" --version 1 --add "$IT" -o "$T/bad.tar.gz"
is "$rc" 2 "a bad name: exit 2"
like "$T/err" "bad bundle name 'Bad Name'" "the message names the bad name"
create --name x --version 0 --add "$IT" -o "$T/bad.tar.gz"
is "$rc" 2 "version 0: exit 2"
create --name x --version 1 --remove 1234 -o "$T/bad.tar.gz"
is "$rc" 2 "a fingerprint that is not one: exit 2"
like "$T/err" "'1234' is not a SHA-256 fingerprint" "the message names it"
create --name x --version 1 --add "$IT" --expires 2020-13-01 -o "$T/bad.tar.gz"
is "$rc" 2 "a bad --expires date: exit 2"
create --name x --version 1 --add "$IT" --created 2025-01-01 --expires 2024-01-01 -o "$T/bad.tar.gz"
is "$rc" 2 "expires before created: exit 2"
create --name x --version 1 -o "$T/bad.tar.gz"
is "$rc" 2 "a bundle that does nothing: exit 2"
create --name x --version 1 --add "$IT" --remove "$B_IT_SHA" -o "$T/bad.tar.gz"
is "$rc" 4 "the same root added and removed: refused"
like "$T/err" "is decommissioned and also added or required" "the message says so"
create --name x --version 1 --add "$T/signer.key" -o "$T/bad.tar.gz"
is "$rc" 4 "--add of a file that holds no certificate: refused"
bundle_signer weak --key-type rsa:1024
tf bundle create --name x --version 1 --signer-cert "$T/weak.pem" --signer-key "$T/weak.key" \
    --add "$IT" -o "$T/bad.tar.gz"
is "$rc" 4 "a signer with an RSA-1024 key: refused"
like "$T/err" "has an RSA key shorter than 2048 bits" "the message names the weakness"
tf bundle create --name x --version 1 --signer-cert "$T/signer.pem" --signer-key "$T/weak.key" \
    --add "$IT" -o "$T/bad.tar.gz"
is "$rc" 4 "a key that is not the certificate's: refused"
like "$T/err" "is not the key of the certificate" "the message says so"
[ ! -e "$T/bad.tar.gz" ] && [ -z "$(ls "$T" | grep '\.tmp-')" ]
ok $? "no output and no temporary file left by any of them"

# an encrypted key, with its password from a file
openssl pkey -in "$T/signer.key" -aes256 -passout pass:s3cret -out "$T/enc.key"
echo s3cret >"$T/pass"
create --name x --version 1 --add "$QV" -o "$T/x.tar.gz"
tf bundle create --name x --version 1 --signer-cert "$T/signer.pem" --signer-key "$T/enc.key" \
    --signer-key-password-file "$T/pass" --add "$QV" -o "$T/enc.tar.gz"
is "$rc" 0 "an encrypted key with --signer-key-password-file"
tf bundle verify --signers "$T/signer.pem" "$T/enc.tar.gz"
is "$rc" 0 "and the bundle verifies"

# --- usage
tf bundle
is "$rc" 2 "bundle without a subcommand: exit 2"
tf bundle frobnicate
is "$rc" 2 "an unknown subcommand: exit 2"
tf bundle verify
is "$rc" 2 "bundle verify without a file: exit 2"
tf bundle verify --signers "$T/signer.pem" "$T/nonexistent.tar.gz"
is "$rc" 2 "bundle verify of a missing file: exit 2"
tf help bundle
like "$T/out" "bundle stage FILE\|URL" "help bundle shows the subcommands"
tf help apply
like "$T/out" "--allow-downgrade" "help apply shows the options"

done_testing
