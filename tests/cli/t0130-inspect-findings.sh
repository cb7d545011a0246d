#!/bin/sh
# t0130-inspect-findings.sh - each kind of finding on a certificate, alone in
# an otherwise compliant store, and the policy replaced through the config.
. "$TF_SRC/tests/cli/lib.sh"

R=$T/root
IDENTRUST=$DATA/IdenTrust_Commercial_Root_CA_1.pem
QUOVADIS=$DATA/QuoVadis_Root_CA_2.pem
mkdir -p "$R/etc/ssl" "$R/etc/trustfix"

# store NAME FILE...: $R/etc/ssl/NAME.pem holding the files, then IdenTrust
store() {
	n=$1
	shift
	cat "$@" "$IDENTRUST" >"$R/etc/ssl/$n.pem"
}
# inspect NAME [OPTIONS]: inspect that store as JSON
inspect() {
	n=$1
	shift
	tf --root "$R" --json inspect "$@" "/etc/ssl/$n.pem"
}
# only KIND FILE DESC: exit 1 and exactly one finding, of KIND, for FILE's certificate
only() {
	is "$rc $(jpy '[(f["kind"], f["sha256"]) for f in d["findings"]]')" \
	    "1 [[\"$1\", \"$(pem_sha256 "$2")\"]]" "$3"
}

"$MKCERT" --subject "/CN=Findings Root/O=trustfix tests" --ca --key-out "$T/root.key" -o "$T/root.pem"
store clean "$T/root.pem"
inspect clean
is "$rc.$(jpy 'd["compliant"]')" 0.true "a store of good CAs: exit 0, compliant"

# weak-key: a 1024-bit RSA CA
"$MKCERT" --subject "/CN=Weak Key CA" --ca --key-type rsa:1024 -o "$T/weak.pem"
store weakkey "$T/root.pem" "$T/weak.pem"
inspect weakkey
only weak-key "$T/weak.pem" "RSA 1024 CA: weak-key"
findings
like "$T/findings" '^weak-key	/etc/ssl/weakkey.pem:[0-9]+	RSA key of 1024 bits$' "weak-key says where and the key size"

# weak-signature: a CA signed by its issuer with SHA-1 (or MD5); a trust
# anchor's own SHA-1 self-signature is never used, so it is no finding
for md in sha1 md5; do
	"$MKCERT" --subject "/CN=$md Signed Sub CA" --ca --issuer-cert "$T/root.pem" \
	    --issuer-key "$T/root.key" --md $md --key-type ec:P-256 -o "$T/$md-sub.pem"
	store weaksig-$md "$T/root.pem" "$T/$md-sub.pem"
	inspect weaksig-$md
	only weak-signature "$T/$md-sub.pem" "$md-signed sub-CA: weak-signature"
done
findings
like "$T/findings" '^weak-signature	.*	signed with md5WithRSAEncryption$' "weak-signature names the algorithm"
"$MKCERT" --subject "/CN=SHA1 Self-Signed Root" --ca --md sha1 --key-type ec:P-256 -o "$T/sha1-root.pem"
store sha1root "$T/sha1-root.pem"
inspect sha1root
is "$rc.$(kinds)" 0. "SHA-1 self-signed root: no weak-signature"

# not-ca: a leaf, and a v3 certificate without basicConstraints
"$MKCERT" --subject "/CN=server.example.net" --issuer-cert "$T/root.pem" --issuer-key "$T/root.key" \
    --key-type ec:P-256 -o "$T/leaf.pem"
store leaf "$T/root.pem" "$T/leaf.pem"
inspect leaf
only not-ca "$T/leaf.pem" "leaf certificate in the store: not-ca"
"$MKCERT" --subject "/CN=No Basic Constraints" --no-bc --key-type ec:P-256 -o "$T/nobc.pem"
store nobc "$T/nobc.pem"
inspect nobc
only not-ca "$T/nobc.pem" "v3 certificate without basicConstraints: not-ca"
"$MKCERT" --subject "/CN=Version 1 Root" --v1 --key-type ec:P-256 -o "$T/v1.pem"
store v1 "$T/v1.pem"
inspect v1
is "$rc.$(kinds)" 0. "self-signed v1 root (a CA to OpenSSL): no finding"

# duplicate: the same certificate twice
store dup "$T/root.pem" "$T/root.pem"
inspect dup
only duplicate "$T/root.pem" "the same certificate twice: duplicate"
findings
like "$T/findings" '^duplicate	/etc/ssl/dup.pem:[0-9]+	the same certificate is also at /etc/ssl/dup.pem:1$' \
    "duplicate says where both copies are"

# expiring: within --warn-days (default 30), and warn_days in the config
"$MKCERT" --subject "/CN=Expiring CA" --ca --not-before -300 --not-after 10 --key-type ec:P-256 -o "$T/expiring.pem"
store expiring "$T/expiring.pem"
inspect expiring
only expiring "$T/expiring.pem" "CA expiring in 10 days: expiring (default window 30 days)"
inspect expiring --warn-days 5
is "$rc.$(kinds)" 0. "--warn-days 5: not expiring yet"
inspect expiring --warn-days 11
only expiring "$T/expiring.pem" "--warn-days 11: expiring"
echo "warn_days = 5" >"$R/etc/trustfix/trustfix.conf"
inspect expiring
is "$rc.$(kinds)" 0. "warn_days = 5 in the config: not expiring yet"
inspect expiring --warn-days 30
only expiring "$T/expiring.pem" "--warn-days overrides the config"
rm "$R/etc/trustfix/trustfix.conf"

# expired
"$MKCERT" --subject "/CN=Expired CA" --ca --not-before -300 --not-after -1 --key-type ec:P-256 -o "$T/expired.pem"
store expired "$T/root.pem" "$T/expired.pem"
inspect expired
only expired "$T/expired.pem" "CA that expired yesterday: expired"

# missing-required: IdenTrust absent
cp "$T/root.pem" "$R/etc/ssl/noidentrust.pem"
inspect noidentrust
is "$rc $(jpy '[(f["kind"], f["sha256"]) for f in d["findings"]]')" \
    '1 [["missing-required", "5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae"]]' \
    "IdenTrust Commercial Root CA 1 absent: missing-required"

# decommissioned (built-in policy)
store quovadis "$QUOVADIS"
inspect quovadis
only decommissioned "$QUOVADIS" "QuoVadis Root CA 2 present: decommissioned"

# the policy replaced by the config: a file of the managed system, under --root
ROOT_SHA=$(pem_sha256 "$T/root.pem")
LEAF_SHA=$(pem_sha256 "$T/leaf.pem")
cat >"$R/etc/trustfix/policy.json" <<EOF
{
  "policy": "test-policy",
  "decommissioned": [ { "sha256": "$ROOT_SHA", "name": "Findings Root" } ],
  "required": [ { "sha256": "$(echo "$LEAF_SHA" | tr a-f A-F)", "name": "Required Test Cert" } ]
}
EOF
printf '# test\npolicy = /etc/trustfix/policy.json\n' >"$R/etc/trustfix/trustfix.conf"
cp "$T/root.pem" "$R/etc/ssl/bypolicy.pem"
cat "$QUOVADIS" >>"$R/etc/ssl/bypolicy.pem"
inspect bypolicy
is "$(jpy 'd["policy"]["name"] + " " + d["policy"]["source"]')" "test-policy $R/etc/trustfix/policy.json" \
    "the policy is the config's, read under --root"
is "$rc $(jpy 'sorted((f["kind"], f["sha256"]) for f in d["findings"])')" \
    "1 [[\"decommissioned\", \"$ROOT_SHA\"], [\"missing-required\", \"$LEAF_SHA\"]]" \
    "the file's lists apply and the built-in ones do not (QuoVadis passes, IdenTrust not asked for)"
rm "$R/etc/trustfix/policy.json"
inspect bypolicy
is "$rc" 2 "a policy file that is missing: exit 2"
like "$T/err" "$R/etc/trustfix/policy\.json" "the error names the policy file"
echo '{ "policy": "broken", "decommissioned": [ { "sha256": "abc" } ] }' >"$R/etc/trustfix/policy.json"
inspect bypolicy
is "$rc" 2 "a policy with a bad fingerprint: exit 2"
like "$T/err" "policy.json.*sha256" "the error names the file and the field"

done_testing
