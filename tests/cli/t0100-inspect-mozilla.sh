#!/bin/sh
# t0100-inspect-mozilla.sh - the field notice's case on Debian's real Mozilla
# bundle: QuoVadis Root CA 2 still trusted -> decommissioned, exit 1; the
# remediated bundle (QuoVadis out, IdenTrust in) -> compliant, exit 0.
. "$TF_SRC/tests/cli/lib.sh"

QV=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86
IT=5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae
DEBIAN=/etc/ssl/certs/ca-certificates.crt
STORE=/etc/ssl/certs/ca-certificates.crt
mkdir -p "$T/root/etc/ssl/certs" "$T/split"
B=$T/root$STORE

if [ ! -r "$DEBIAN" ]; then
	echo "1..0 # skip no $DEBIAN (install ca-certificates)"
	exit 0
fi

# split BUNDLE: one file per certificate in $T/split, named by fingerprint;
# prints "FINGERPRINT NOT_AFTER" (Unix time, as OpenSSL reads it) for each
split_bundle() {
	$PYTHON - "$1" "$T/split" <<-'EOF'
	import base64, calendar, hashlib, re, subprocess, sys, time
	text = open(sys.argv[1]).read()
	fps = []
	for m in re.finditer(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S):
	    fp = hashlib.sha256(base64.b64decode(m.group(1))).hexdigest()
	    open("%s/%s.pem" % (sys.argv[2], fp), "w").write(m.group(0) + "\n")
	    fps.append(fp)
	# one openssl for the whole bundle: a process per certificate is too slow
	dump = subprocess.run(["openssl", "storeutl", "-noout", "-text", "-certs", sys.argv[1]],
	    check=True, capture_output=True, text=True).stdout
	chunks = re.split(r"^\d+: Certificate$", dump, flags=re.M)[1:]
	assert len(chunks) == len(fps), "openssl storeutl and the split disagree"
	for fp, c in zip(fps, chunks):
	    na = re.search(r"Not After *: *(.*? GMT)", c).group(1)
	    print(fp, calendar.timegm(time.strptime(na, "%b %d %H:%M:%S %Y %Z")))
	EOF
}

# 1. Debian's bundle, with QuoVadis Root CA 2 (appended on releases that dropped it)
cp "$DEBIAN" "$B"
split_bundle "$B" >"$T/fps" || exit 1
now=$(date +%s)
if ! grep -q "^$QV " "$T/fps"; then
	cat "$DATA/QuoVadis_Root_CA_2.pem" >>"$B"
	diag "QuoVadis Root CA 2 not in $DEBIAN: appended the repository copy"
fi
is "$(pem_sha256 "$DATA/QuoVadis_Root_CA_2.pem")" "$QV" "the repository's QuoVadis Root CA 2 has the notice's fingerprint"
is "$(pem_sha256 "$DATA/IdenTrust_Commercial_Root_CA_1.pem")" "$IT" "the repository's IdenTrust root has the notice's fingerprint"

tf --root "$T/root" --json inspect "$STORE"
is "$rc" 1 "bundle with QuoVadis Root CA 2: exit 1"
is "$(jpy '[f["sha256"] for f in d["findings"] if f["kind"] == "decommissioned"]')" "[\"$QV\"]" \
    "one decommissioned finding, for QuoVadis Root CA 2's fingerprint"
is "$(jpy '[f["where"] for f in d["findings"] if f["kind"] == "decommissioned"][0].split(":")[0]')" \
    "$STORE" "the finding says in which file it is"
is "$(jpy 'd["compliant"]')" false "compliant is false"
is "$(jpy 'd["stores"][0]["count"]')" "$(grep -c -- '-----BEGIN CERTIFICATE-----' "$B")" \
    "every certificate of the bundle is listed"
is "$(jpy 'd["stores"][0]["format"]')" pem-bundle "format detected as pem-bundle"

# Debian roots that have expired by now must be reported as expired
awk -v now="$now" '$2 < now { print $1 }' "$T/fps" >"$T/expired"
if [ -s "$T/expired" ]; then
	jpy '"\n".join(sorted(f["sha256"] for f in d["findings"] if f["kind"] == "expired"))' >"$T/got"
	sort "$T/expired" >"$T/want"
	cmp -s "$T/got" "$T/want"
	ok $? "each Debian root expired at test time ($(wc -l <"$T/want")) is reported as expired"
else
	skip "expired Debian roots are reported as expired" "none expired at test time"
fi

# the table names the problem and the file
tf --root "$T/root" inspect "$STORE"
is "$rc" 1 "table output: exit 1"
like "$T/out" "decommissioned +85a0dd7dd720adb7.*QuoVadis Root CA 2" "table lists the decommissioned root"
like "$T/out" "at: +$STORE:[0-9]+" "table says where it is"

# 2. the remediated bundle: QuoVadis out, IdenTrust kept, and no root that is
# expired or expires within the warn window (30 days) at test time
awk -v soon=$((now + 31 * 86400)) -v qv="$QV" '$2 >= soon && $1 != qv { print $1 }' "$T/fps" |
    while read -r fp; do cat "$T/split/$fp.pem"; done >"$B"
grep -q "^$IT " "$T/fps" || cat "$DATA/IdenTrust_Commercial_Root_CA_1.pem" >>"$B"
tf --root "$T/root" --json inspect "$STORE"
is "$rc" 0 "remediated bundle: exit 0"
is "$(jpy 'd["compliant"]')" true "compliant is true"
is "$(jpy 'len(d["findings"])')" 0 "no findings"
is "$(jpy '[c["sha256"] for c in d["stores"][0]["certificates"] if c["sha256"] == "'$IT'"]')" \
    "[\"$IT\"]" "IdenTrust Commercial Root CA 1 is listed"

tf --root "$T/root" inspect "$STORE"
is "$rc" 0 "table output of the remediated bundle: exit 0"
like "$T/out" "compliant" "table says compliant"

# 3. an expired root: one of our own, so that it does not depend on the date
"$MKCERT" --subject "/CN=Expired Test Root/O=trustfix" --ca --key-type ec:P-256 \
    --not-before -400 --not-after -2 -o "$T/expired.pem"
cat "$T/expired.pem" >>"$B"
tf --root "$T/root" --json inspect "$STORE"
is "$rc" 1 "remediated bundle plus an expired root: exit 1"
is "$(jpy '[(f["kind"], f["sha256"]) for f in d["findings"]]')" \
    "[[\"expired\", \"$(pem_sha256 "$T/expired.pem")\"]]" "exactly one finding: expired, for that root"

# 4. IdenTrust missing: the policy asks for it
$PYTHON - "$B" "$T/noit.pem" <<-'EOF'
import base64, hashlib, re, sys
out = open(sys.argv[2], "w")
for m in re.finditer(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----\n", open(sys.argv[1]).read(), re.S):
    if hashlib.sha256(base64.b64decode(m.group(1))).hexdigest() != "5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae":
        out.write(m.group(0))
EOF
cp "$T/noit.pem" "$B"
tf --root "$T/root" --json inspect "$STORE"
is "$rc" 1 "without IdenTrust Commercial Root CA 1: exit 1"
is "$(jpy '[f["sha256"] for f in d["findings"] if f["kind"] == "missing-required"]')" "[\"$IT\"]" \
    "missing-required names IdenTrust's fingerprint"

done_testing
