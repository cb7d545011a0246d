#!/bin/sh
# t0320-bundle-manifest-attacks.sh - bundles that are well-formed archives
# but must not be trusted: changed after signing, signed by an unpinned or
# weak signer or with SHA-1, a signature taken from another bundle, expired,
# a downgrade, the same version with other content, a file missing, extra or
# changed, a certificate that is not the one its fingerprint names, a clock
# set back. Each: exit 4, a message naming the rule, nothing changed under
# the root. And --allow-downgrade, recorded as such.
. "$TF_SRC/tests/cli/lib.sh"

bundle_signer signer
bundle_signer stranger
bundle_signer weak --key-type rsa:1024
R=$T/root
bundle_root "$R"
EXTRA=$T/extra.pem
"$MKCERT" --subject "/CN=Extra CA/O=trustfix tests" --ca --key-type ec:P-256 -o "$EXTRA"

# installed: version 2
bundle_make "$T/v2.tar.gz" 2
tf --root "$R" apply "$T/v2.tar.gz"
is "$rc" 0 "setup: version 2 applied"
bundle_make "$T/v3.tar.gz" 3
tf --root "$R" bundle verify "$T/v3.tar.gz"
is "$rc" 0 "control: version 3, untouched, verifies"

# refused NAME FILE ERE [OPTIONS]: verify, stage and apply all exit 4 with a
# message matching ERE, and leave the root exactly as it was.
refused() {
	_name=$1 _file=$2 _rule=$3
	shift 3
	_before=$(fast_tree_sum "$R")
	for _cmd in "bundle verify" "bundle stage" "apply"; do
		# shellcheck disable=SC2086
		tf --root "$R" $_cmd "$_file" "$@"
		if [ "$rc" -eq 4 ] && grep -Eq -e "$_rule" "$T/err"; then
			ok 0 "$_name: $_cmd refused (exit 4, /$_rule/)"
		else
			ok 1 "$_name: $_cmd refused (exit 4, /$_rule/)"
			diag "exit $rc; stderr: $(head -c 600 "$T/err")"
		fi
	done
	is "$(fast_tree_sum "$R")" "$_before" "$_name: nothing changed under the root"
}

# a tampered copy of version 3 in $T/w (unpacked), packed as $T/NAME.tar.gz
tamper() {
	bundle_unpack "$T/v3.tar.gz" "$T/w"
	CERTFILE=$(ls "$T/w/certs/"*.pem)
}
# json_edit PYTHON: edit $T/w/manifest.json with 'm' bound to it
json_edit() {
	$PYTHON -c '
import json, sys
p = sys.argv[1]
m = json.load(open(p))
exec(sys.argv[2])
open(p, "w").write(json.dumps(m, indent=2) + "\n")' "$T/w/manifest.json" "$1"
}

# --- the signature
tamper
$PYTHON -c '
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b"\"version\": 3")
b[i + 11] = ord("9")
open(p, "wb").write(b)' "$T/w/manifest.json"
bundle_pack "$T/w" "$T/flipped.tar.gz"
refused "byte flipped after signing" "$T/flipped.tar.gz" \
    "manifest.json.sig is not a valid signature of this manifest.json"

"$TRUSTFIX" bundle create --name "$B_NAME" --version 3 --signer-cert "$T/stranger.pem" \
    --signer-key "$T/stranger.key" --add "$DATA/IdenTrust_Commercial_Root_CA_1.pem" \
    -o "$T/stranger.tar.gz" >/dev/null
refused "unpinned signer" "$T/stranger.tar.gz" \
    "the signer 'CN=stranger, O=trustfix tests' is not pinned in '.*/etc/trustfix/signers.pem'"

bundle_make "$T/other.tar.gz" 4 --description "another bundle"
bundle_unpack "$T/other.tar.gz" "$T/other"
tamper
cp "$T/other/manifest.json.sig" "$T/w/manifest.json.sig"
bundle_pack "$T/w" "$T/copied-sig.tar.gz"
refused "signature copied from another bundle" "$T/copied-sig.tar.gz" \
    "not a valid signature of this manifest.json .*signature of another bundle"

tamper
bundle_sign "$T/w" signer sha1 2>"$T/sha1.err"
ok $? "openssl makes a SHA-1 signature" || cat "$T/sha1.err"
bundle_pack "$T/w" "$T/sha1.tar.gz"
refused "SHA-1 signature" "$T/sha1.tar.gz" "the signature uses the digest SHA1: SHA-256 or better"

tamper
bundle_sign "$T/w" weak
bundle_pack "$T/w" "$T/weak.tar.gz"
cat "$T/signer.pem" "$T/weak.pem" >"$T/signers-with-weak.pem"
refused "signer with an RSA-1024 key (pinned)" "$T/weak.tar.gz" \
    "the signer 'CN=weak, O=trustfix tests' has an RSA key shorter than 2048 bits" \
    --signers "$T/signers-with-weak.pem"

tamper
rm "$T/w/manifest.json.sig"
bundle_pack "$T/w" "$T/unsigned.tar.gz"
refused "no signature" "$T/unsigned.tar.gz" "has no manifest.json.sig: it is not a signed bundle"

tamper
printf 'not a signature' >"$T/w/manifest.json.sig"
bundle_pack "$T/w" "$T/garbage-sig.tar.gz"
refused "a signature that is not CMS" "$T/garbage-sig.tar.gz" \
    "manifest.json.sig is not a DER CMS signature"

tamper
openssl cms -sign -binary -nodetach -md sha256 -outform DER -in "$T/w/manifest.json" \
    -signer "$T/signer.pem" -inkey "$T/signer.key" -out "$T/w/manifest.json.sig"
bundle_pack "$T/w" "$T/attached.tar.gz"
refused "an attached signature" "$T/attached.tar.gz" "not a detached CMS signed-data"

# control: a signature that does not carry the signer's certificate verifies
# when that very certificate is pinned
tamper
openssl cms -sign -binary -nocerts -md sha256 -outform DER -in "$T/w/manifest.json" \
    -signer "$T/signer.pem" -inkey "$T/signer.key" -out "$T/w/manifest.json.sig"
bundle_pack "$T/w" "$T/nocerts.tar.gz"
tf --root "$R" bundle verify "$T/nocerts.tar.gz"
is "$rc" 0 "control: a signature without certificates, by the pinned signer, verifies"
tf --root "$R" bundle verify --signers "$T/stranger.pem" "$T/nocerts.tar.gz"
is "$rc" 4 "and is refused when its signer is not pinned"
like "$T/err" "the signer \(not in the signature\) is not pinned" "the message says the signer is unknown"

# --- time and version
bundle_make "$T/expired.tar.gz" 3 --created 2020-01-01 --expires 2020-06-01
refused "expired bundle" "$T/expired.tar.gz" "bundle $B_NAME version 3 expired on 2020-06-01T00:00:00Z"

bundle_make "$T/v1.tar.gz" 1
refused "downgrade (v1 with v2 installed)" "$T/v1.tar.gz" \
    "version 1 is older than the installed version 2 \(a downgrade\): give --allow-downgrade"

bundle_make "$T/v2-other.tar.gz" 2 --add "$EXTRA"
refused "same version, other content" "$T/v2-other.tar.gz" \
    "bundle $B_NAME version 2 is installed with other content"

tf --root "$R" apply "$T/v2.tar.gz"
is "$rc" 3 "the same version with the same content: nothing to do (exit 3)"

# --- the files against the manifest
tamper
rm "$CERTFILE"
bundle_pack "$T/w" "$T/missing.tar.gz"
refused "file missing" "$T/missing.tar.gz" \
    "'certs/[a-z0-9-]+\.pem' is listed in the manifest but missing from the bundle"

tamper
cp "$EXTRA" "$T/w/certs/extra-ca.pem"
bundle_pack "$T/w" "$T/extra.tar.gz"
refused "extra file" "$T/extra.tar.gz" "'certs/extra-ca\.pem' is not listed in the manifest \(an extra file\)"

tamper
# one base64 character changed: same size, other bytes
$PYTHON -c '
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b"\n", 40) + 10
b[i] = ord("A") if b[i] != ord("A") else ord("B")
open(p, "wb").write(b)' "$CERTFILE"
bundle_pack "$T/w" "$T/hash.tar.gz"
refused "hash mismatch" "$T/hash.tar.gz" \
    "the SHA-256 of 'certs/[a-z0-9-]+\.pem' is [0-9a-f]{64}, but the manifest says [0-9a-f]{64}"

tamper
echo >>"$CERTFILE"
bundle_pack "$T/w" "$T/size.tar.gz"
refused "size mismatch" "$T/size.tar.gz" "'certs/[a-z0-9-]+\.pem' is [0-9]+ bytes, but the manifest says [0-9]+"

# the manifest lists the extra CA's fingerprint for the IdenTrust file, and
# is signed again: the file's hash matches, the certificate does not
EXTRA_SHA=$(pem_sha256 "$EXTRA")
tamper
json_edit "m['policy']['add'][0]['sha256'] = '$EXTRA_SHA'; m['policy']['required'] = []"
bundle_sign "$T/w"
bundle_pack "$T/w" "$T/wrong-cert.tar.gz"
refused "certificate not matching its listed fingerprint" "$T/wrong-cert.tar.gz" \
    "the certificate in 'certs/[a-z0-9-]+\.pem' has SHA-256 $B_IT_SHA, but the manifest lists it as $EXTRA_SHA"

tamper
json_edit "m['format'] = 2"
bundle_sign "$T/w"
bundle_pack "$T/w" "$T/format2.tar.gz"
refused "unknown format, signed" "$T/format2.tar.gz" "bundle format 2 is not supported"

tamper
json_edit "m['policy']['install_hook'] = 'rm -rf /'"
bundle_sign "$T/w"
bundle_pack "$T/w" "$T/unknown-key.tar.gz"
refused "unknown key, signed" "$T/unknown-key.tar.gz" "unknown key 'install_hook' in policy"

tamper
json_edit "m['files'][0]['path'] = '../../etc/passwd'"
bundle_sign "$T/w"
bundle_pack "$T/w" "$T/path-in-manifest.tar.gz"
refused "a path with '..' in the signed manifest" "$T/path-in-manifest.tar.gz" \
    "'\.\./\.\./etc/passwd': the name holds '\.\.'"

# --- no signer pinned: a configuration error (exit 2), nothing changed
R2=$T/root2
bundle_root "$R2"
sed -i '/bundle_signers/d' "$R2/etc/trustfix/trustfix.conf"
before=$(fast_tree_sum "$R2")
tf --root "$R2" apply "$T/v3.tar.gz"
is "$rc" 2 "no signer pinned: exit 2"
like "$T/err" "no bundle signer is pinned: set 'bundle_signers' in the configuration, or give --signers FILE" \
    "no signer pinned: the message says what to do"
is "$(fast_tree_sum "$R2")" "$before" "no signer pinned: nothing changed"
tf --root "$R2" bundle verify --signers "$T/signer.pem" "$T/v3.tar.gz"
is "$rc" 0 "--signers FILE pins a signer for one run"
mkdir "$T/signers.d"
cp "$T/stranger.pem" "$T/signer.pem" "$T/signers.d/"
tf --root "$R2" bundle verify --signers "$T/signers.d" "$T/v3.tar.gz"
is "$rc" 0 "--signers DIR: a folder of PEM files"

# --- a downgrade, when asked for, is applied and recorded as one
tf --root "$R" apply "$T/v1.tar.gz" --allow-downgrade
is "$rc" 0 "--allow-downgrade: version 1 applied over version 2"
like "$T/out" "downgrade to bundle $B_NAME version 1" "the change says it is a downgrade"
agit "$R" log -1 --format=%B >"$T/msg"
like "$T/msg" "^Trustfix-Bundle-Downgrade: from version 2$" "the audit log records the downgrade"
like "$T/msg" "^Trustfix-Bundle-Version: 1$" "and the version installed"
tf --root "$R" bundle list --json
is "$(jpy '[(b["version"], b["downgrade"]) for b in d["installed"]]')" "[[1, true]]" \
    "bundle list: version 1 installed, marked as a downgrade"

# --- a bundle created in the future is refused: applying it would raise the
# clock's floor past now and lock every later bundle out
future=$(date -u -d '+30 days' +%Y-%m-%d)
bundle_make "$T/future.tar.gz" 5 --created "$future" --expires "$(date -u -d '+400 days' +%Y-%m-%d)"
refused "a bundle created in 30 days" "$T/future.tar.gz" \
    "was created at ${future}T00:00:00Z, later than the system clock"

# --- a clock set back: with the clock now earlier than the creation of the
# last bundle applied (as recorded), nothing is accepted
printf '%sT00:00:00Z\n' "$future" >"$R/var/lib/trustfix/bundle-clock"
bundle_make "$T/v6.tar.gz" 6
refused "clock earlier than the last bundle applied" "$T/v6.tar.gz" \
    "the system clock \([0-9T:Z-]+\) is earlier than the creation of the last bundle applied \(${future}T00:00:00Z\)"
tf --root "$R" rollback
is "$rc" 0 "a rollback of the last bundle applied"
refused "clock check after the rollback (the mark is not lowered)" "$T/v6.tar.gz" \
    "is earlier than the creation of the last bundle applied"

done_testing
