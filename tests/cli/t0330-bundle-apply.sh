#!/bin/sh
# t0330-bundle-apply.sh - the whole life of a bundle on one appliance:
# create, verify, stage, list, apply (dry run first), inspect compliant
# against the installed bundle's policy, apply again (nothing to do),
# rollback (the stores and the record back), an upgrade over two stores of
# different formats in one change, a store that drifted repaired, and the
# audit record naming bundle, version and signer.
. "$TF_SRC/tests/cli/lib.sh"

bundle_signer signer
R=$T/root
bundle_root "$R"
STORE=$R/etc/ssl/certs/ca-certificates.crt
cp "$STORE" "$T/store.orig"

bundle_make "$T/v1.tar.gz" 1

# the stores, the bundle state and the audit log (not the caches beside them)
state_sum() {
	for _d in etc var/lib/trustfix/staging var/lib/trustfix/bundles var/lib/trustfix/audit.git; do
		[ -d "$R/$_d" ] && fast_tree_sum "$R/$_d"
	done | sha256sum | cut -c1-64
}

tf --root "$R" inspect
is "$rc" 1 "before: inspect finds problems (QuoVadis trusted, IdenTrust missing)"

# --- verify and stage change nothing but the staging area
before=$(fast_tree_sum "$R")
tf --root "$R" bundle verify "$T/v1.tar.gz"
is "$rc" 0 "verify against the pinned signer of the configuration: exit 0"
is "$(fast_tree_sum "$R")" "$before" "verify changed nothing under the root"
tf --root "$R" bundle list
like "$T/out" "no bundle is staged or installed" "list: nothing yet"

tf --root "$R" bundle stage "$T/v1.tar.gz"
is "$rc" 0 "stage: exit 0"
like "$T/out" "staged bundle $B_NAME version 1 in .*/var/lib/trustfix/staging/$B_NAME" \
    "stage says where"
S=$R/var/lib/trustfix/staging/$B_NAME
is "$(cd "$S" && find . | LC_ALL=C sort | tr '\n' ' ')" \
    ". ./certs ./certs/identrust-commercial-root-ca-1.pem ./manifest.json ./manifest.json.sig " \
    "the staging folder holds the verified files only"
is "$(stat -c %a "$R/var/lib/trustfix" "$R/var/lib/trustfix/staging" | tr '\n' ' ')" "700 700 " \
    "the state directory and the staging area are 0700"
is "$(find "$S" -type f -perm /7022 | wc -l)" "0" "staged files are not writable by others, no set-id bit"
cmp -s "$S/manifest.json" "$T/b1.manifest" 2>/dev/null || bundle_unpack "$T/v1.tar.gz" "$T/v1"
cmp -s "$S/manifest.json" "$T/v1/manifest.json"
ok $? "the staged manifest is the bundle's, byte for byte"
is "$(cmp "$STORE" "$T/store.orig" && echo same)" "same" "staging did not touch the store"
tf --root "$R" bundle stage "$T/v1.tar.gz"
is "$rc" 3 "staging the same bundle again: nothing to do (exit 3)"
tf --root "$R" --json bundle list
is "$(jpy '[[b["name"], b["version"]] for b in d["staged"]] + [[b["name"]] for b in d["installed"]]')" \
    "[[\"$B_NAME\", 1]]" "list --json: v1 staged, nothing installed"

# --- apply: a dry run first, then for real
before=$(fast_tree_sum "$R")
tf --root "$R" apply --dry-run
is "$rc" 0 "apply --dry-run (the one staged bundle): exit 0"
like "$T/out" "apply bundle $B_NAME version 1 \(dry run: nothing written\)" "the dry run says what it would do"
like "$T/out" "write +/var/lib/trustfix/bundles/$B_NAME\.json" "the dry run lists the record among the files"
is "$(fast_tree_sum "$R")" "$before" "the dry run wrote nothing"

tf --root "$R" apply "$B_NAME" --reason "field notice" --ticket CHG-42
is "$rc" 0 "apply NAME: exit 0"
like "$T/out" "^apply bundle $B_NAME version 1$" "the change's subject names bundle and version"
like "$T/out" "\+ IdenTrust Commercial Root CA 1" "IdenTrust added"
like "$T/out" "- QuoVadis Root CA 2" "QuoVadis removed"
is "$(grep -c 'BEGIN CERTIFICATE' "$STORE")" "2" "the store: two certificates"
grep -q "$(sed -n 2p "$DATA/IdenTrust_Commercial_Root_CA_1.pem")" "$STORE"
ok $? "the store holds IdenTrust"
! grep -q "$(sed -n 2p "$DATA/QuoVadis_Root_CA_2.pem")" "$STORE"
ok $? "the store no longer holds QuoVadis"
REC=$R/var/lib/trustfix/bundles/$B_NAME.json
$PYTHON -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["name"] == sys.argv[2] and r["version"] == 1 and r["downgrade"] is False, r
assert r["signer"]["subject"] == "CN=signer, O=trustfix tests", r
assert [e["sha256"] for e in r["policy"]["decommissioned"]] == [sys.argv[3]], r
print("ok")' "$REC" "$B_NAME" "$B_QV_SHA" >/dev/null
ok $? "the installed record: name, version, signer, policy"

agit "$R" log -1 --format=%B >"$T/msg"
like "$T/msg" "^apply bundle $B_NAME version 1$" "audit: the subject"
like "$T/msg" "signed by CN=signer, O=trustfix tests" "audit: the body names the signer"
like "$T/msg" "^Trustfix-Bundle: $B_NAME$" "audit: Trustfix-Bundle trailer"
like "$T/msg" "^Trustfix-Bundle-Version: 1$" "audit: Trustfix-Bundle-Version trailer"
like "$T/msg" "^Trustfix-Bundle-Signer: CN=signer, O=trustfix tests \(sha256 $(pem_sha256 "$T/signer.pem")\)$" \
    "audit: Trustfix-Bundle-Signer trailer"
like "$T/msg" "^Trustfix-Reason: field notice$" "audit: the reason"
agit "$R" show --name-only --format= HEAD >"$T/stat"
like "$T/stat" "var/lib/trustfix/bundles/$B_NAME.json" "audit: the record is part of the change"

# --- inspect uses the installed bundle's policy
tf --root "$R" --json inspect
is "$rc" 0 "after: inspect is compliant (exit 0)"
is "$(jpy 'd["policy"]["name"]')" "$B_NAME" "inspect applies the installed bundle's policy"

# --- again: nothing to do
after=$(state_sum)
tf --root "$R" apply "$B_NAME"
is "$rc" 3 "apply the same bundle again: exit 3"
like "$T/out" "nothing to do: bundle $B_NAME version 1 is installed and every store is up to date" \
    "and says why"
tf --root "$R" apply "$T/v1.tar.gz"
is "$rc" 3 "apply the same bundle from its file: exit 3"
tf --root "$R" bundle verify "$T/v1.tar.gz"
is "$rc" 3 "verify an installed bundle: exit 3"
tf --root "$R" bundle stage "$T/v1.tar.gz"
is "$rc" 3 "stage an installed bundle: exit 3"
is "$(state_sum)" "$after" "none of them changed a store, the bundle state or the log"
tf --root "$R" bundle list --json
is "$(jpy '[[b["version"], b["signer"]] for b in d["installed"]]')" \
    "[[1, \"CN=signer, O=trustfix tests\"]]" "list: v1 installed, with its signer"

# --- rollback: the store and the record back
tf --root "$R" rollback
is "$rc" 0 "rollback: exit 0"
cmp -s "$STORE" "$T/store.orig"
ok $? "the store is back, byte for byte"
[ ! -e "$REC" ]
ok $? "the installed record is gone"
tf --root "$R" inspect
is "$rc" 1 "inspect: problems again (the built-in policy)"
tf --root "$R" apply
is "$rc" 0 "the staged bundle applies again after the rollback"

# --- drift: QuoVadis put back by hand; the same bundle repairs the store
cat "$DATA/QuoVadis_Root_CA_2.pem" >>"$STORE"
tf --root "$R" inspect
is "$rc" 1 "inspect reports the decommissioned root put back"
tf --root "$R" apply "$B_NAME"
is "$rc" 0 "apply of the installed bundle repairs the drifted store"
like "$T/out" "re-apply bundle $B_NAME version 1 to the stores" "and says it re-applies"
tf --root "$R" inspect
is "$rc" 0 "compliant again"

# --- an upgrade over two stores (PEM bundle and hashed folder) in one change
HD=$R/etc/ssl/hashed
mkdir -p "$HD"
cp "$DATA/QuoVadis_Root_CA_2.pem" "$HD/quovadis.pem"
openssl rehash "$HD" 2>/dev/null || ln -s quovadis.pem "$HD/$(openssl x509 -in "$HD/quovadis.pem" -noout -hash).0"
printf '%s\n' '' '[store hashed]' 'path = /etc/ssl/hashed' >>"$R/etc/trustfix/trustfix.conf"
"$MKCERT" --subject "/CN=Vendor Cloud Root/O=trustfix tests" --ca --key-type ec:P-256 -o "$T/vendor.pem"
bundle_make "$T/v2.tar.gz" 2 --add "$T/vendor.pem"
tf --root "$R" bundle stage "$T/v2.tar.gz"
is "$rc" 0 "v2 staged in place of v1"
tf --root "$R" --json bundle list
is "$(jpy '[[b["version"], "installed" if b in d["installed"] else "staged"] for b in d["installed"] + d["staged"]]')" \
    '[[1, "installed"], [2, "staged"]]' "list: v1 installed, v2 staged"
tf --root "$R" --json bundle verify "$B_NAME"
is "$(jpy '[d["status"], d["installed_version"]]')" '["upgrade", 1]' "verify NAME: an upgrade from v1"
tf --root "$R" apply "$B_NAME"
is "$rc" 0 "apply v2 to both stores: exit 0"
like "$T/out" "/etc/ssl/hashed:" "the hashed folder is part of the change"
is "$(agit "$R" log -1 --format=%s)" "apply bundle $B_NAME version 2" "one change for both stores"
tf --root "$R" inspect
is "$rc" 0 "both stores compliant"
[ ! -e "$HD/quovadis.pem" ] || ! grep -q "$(sed -n 2p "$DATA/QuoVadis_Root_CA_2.pem")" "$HD"/*.pem
ok $? "QuoVadis is gone from the hashed folder"
tf --root "$R" --json bundle list
is "$(jpy '[b["version"] for b in d["installed"]]')" "[2]" "list: v2 installed"

# --- apply with an argument that is neither a file nor a staged bundle
tf --root "$R" apply no-such-bundle
is "$rc" 2 "apply of an unknown name: exit 2"
like "$T/err" "no file 'no-such-bundle', and no bundle of that name is staged" "the message says both"

done_testing
