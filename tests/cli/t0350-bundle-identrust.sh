#!/bin/sh
# t0350-bundle-identrust.sh - the real remediation bundle, built from
# bundles/identrust-commercial-root-ca-1/ as "make bundles" builds it (into
# the test's folder): a development signer generated, never in the source
# tree; the bundle adds exactly IdenTrust Commercial Root CA 1, retires
# QuoVadis Root CA 2 and requires IdenTrust; it repairs an appliance image
# offline, and an operator's own signer can sign it instead.
. "$TF_SRC/tests/cli/lib.sh"

SRC=$TF_SRC/bundles/identrust-commercial-root-ca-1
OUT=$T/build
"$SRC/build.sh" "$TRUSTFIX" "$OUT" >"$T/build.out" 2>&1
ok $? "build.sh (what make bundles runs) builds the bundle" || cat "$T/build.out"
[ -s "$OUT/$B_NAME.tar.gz" ] && [ -s "$OUT/dev-signers.pem" ]
ok $? "the bundle and the signers file are written"
is "$(stat -c %a "$OUT/dev-signer/signer.key")" "600" "the development key is 0600"
[ -z "$(find "$SRC" -name '*.key')" ] && ! grep -rq "PRIVATE KEY" "$SRC"
ok $? "no private key in the source folder"
cmp -s "$SRC/IdenTrust_Commercial_Root_CA_1.pem" "$DATA/IdenTrust_Commercial_Root_CA_1.pem"
ok $? "the source holds the same IdenTrust certificate as the test data"

tf --json bundle verify --signers "$OUT/dev-signers.pem" "$OUT/$B_NAME.tar.gz"
is "$rc" 0 "it verifies against the development signer"
is "$(jpy '[d["name"], [a["sha256"] for a in d["add"]], [r["sha256"] for r in d["remove"]], [r["sha256"] for r in d["require"]]]')" \
    "[\"$B_NAME\", [\"$B_IT_SHA\"], [\"$B_QV_SHA\"], [\"$B_IT_SHA\"]]" \
    "it adds IdenTrust, retires QuoVadis, requires IdenTrust"
is "$(jpy '[r["name"] for r in d["remove"]]')" '["QuoVadis Root CA 2"]' "the removal is named"
exp_days=$(( ($(date -d "$(jpy 'd["expires"]')" +%s) - $(date +%s)) / 86400 ))
[ "$exp_days" -ge 700 ] && [ "$exp_days" -le 731 ]
ok $? "it expires in about two years ($exp_days days)"

# a second build keeps the signer: devices that pinned it keep verifying
first=$(pem_sha256 "$OUT/dev-signers.pem")
"$SRC/build.sh" "$TRUSTFIX" "$OUT" >/dev/null 2>&1
is "$(pem_sha256 "$OUT/dev-signers.pem")" "$first" "a rebuild keeps the development signer"

# offline on an appliance image: verify, apply, inspect, rollback
R=$T/root
bundle_signer signer
bundle_root "$R"
cp "$OUT/dev-signers.pem" "$R/etc/trustfix/signers.pem"
cp "$R/etc/ssl/certs/ca-certificates.crt" "$T/store.orig"
tf --root "$R" bundle verify "$OUT/$B_NAME.tar.gz"
is "$rc" 0 "on the device: verify against the pinned signer"
tf --root "$R" apply "$OUT/$B_NAME.tar.gz"
is "$rc" 0 "on the device: apply FILE"
tf --root "$R" inspect
is "$rc" 0 "the device is compliant"
tf --root "$R" rollback
is "$rc" 0 "rollback if needed"
cmp -s "$R/etc/ssl/certs/ca-certificates.crt" "$T/store.orig"
ok $? "the store is as before"

# the operator's own key: build.sh TRUSTFIX OUT CERT KEY
bundle_signer operator --key-type rsa:2048
"$SRC/build.sh" "$TRUSTFIX" "$T/op" "$T/operator.pem" "$T/operator.key" >/dev/null 2>&1
ok $? "build.sh signs with the operator's own key"
[ ! -e "$T/op/dev-signer" ]
ok $? "no development signer then"
tf bundle verify --signers "$T/operator.pem" "$T/op/$B_NAME.tar.gz"
is "$rc" 0 "it verifies against the operator's certificate"
tf bundle verify --signers "$OUT/dev-signers.pem" "$T/op/$B_NAME.tar.gz"
is "$rc" 4 "and not against the development signer"

done_testing
