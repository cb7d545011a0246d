#!/bin/sh
# t0150-output.sh - what scripts and people read: one JSON document, the
# Prometheus textfile format, a table without escape codes unless on a
# terminal (and then not with NO_COLOR), -q, and a failed write to stdout.
. "$TF_SRC/tests/cli/lib.sh"

R=$T/root
IDENTRUST=$DATA/IdenTrust_Commercial_Root_CA_1.pem
QUOVADIS=$DATA/QuoVadis_Root_CA_2.pem
mkdir -p "$R/etc/ssl/dir"

"$MKCERT" --subject '/CN=Odd "quoted" \\ name/O=Ünïcødé' --ca --key-type ec:P-256 -o "$T/odd.pem"
"$MKCERT" --subject "/CN=Expired Output CA" --ca --key-type ec:P-256 --not-before -30 --not-after -2 \
    -o "$T/expired.pem"
cat "$QUOVADIS" "$T/odd.pem" "$T/expired.pem" "$IDENTRUST" >"$R/etc/ssl/bundle.pem"
cp "$QUOVADIS" "$T/odd.pem" "$R/etc/ssl/dir/"
cp "$IDENTRUST" "$R/etc/ssl/identrust.pem"
openssl rehash "$R/etc/ssl/dir" 2>/dev/null

# --- JSON: one document, the documented shape
tf --root "$R" --json inspect /etc/ssl/bundle.pem /etc/ssl/dir
is "$rc" 1 "--json with findings: exit 1"
jpy 1 >/dev/null
ok $? "--json prints one valid JSON document"
$PYTHON - "$T/out" >"$T/check" <<-'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
hex64 = re.compile(r"^[0-9a-f]{64}$")
certs = [c for s in d["stores"] for c in s["certificates"]]
print("stores", len(d["stores"]), [s["count"] for s in d["stores"]] == [len(s["certificates"]) for s in d["stores"]])
print("sha256", len(certs), all(hex64.match(c["sha256"]) for c in certs))
print("compliant", type(d["compliant"]).__name__, d["compliant"])
print("findings", all("kind" in f and (f["sha256"] is None or hex64.match(f["sha256"])) for f in d["findings"]))
print("dates", all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", c["not_after"]) for c in certs))
EOF
like "$T/check" "^stores 2 True$" "two stores, each with certificates[] and a matching count"
like "$T/check" "^sha256 6 True$" "stores[].certificates[].sha256: 64 lowercase hex digits each"
like "$T/check" "^compliant bool False$" "compliant is a JSON boolean"
like "$T/check" "^findings True$" "findings[] each have a kind and a sha256 (hex or null)"
like "$T/check" "^dates True$" "dates are ISO 8601 UTC"
is "$(jpy '[c["sha256"] for c in d["stores"][0]["certificates"]][:2]')" \
    "[\"$(pem_sha256 "$QUOVADIS")\", \"$(pem_sha256 "$T/odd.pem")\"]" "certificates are listed in store order"
is "$(jpy 'd["stores"][0]["certificates"][1]["subject"]')" 'CN=Odd "quoted" \ name, O=Ünïcødé' \
    "quotes, backslashes and UTF-8 in a subject survive the JSON"
tf --root "$R" --json inspect /etc/ssl/identrust.pem
is "$rc.$(jpy 'd["compliant"]').$(jpy 'd["findings"]')" "0.true.[]" "compliant store: exit 0, compliant true, findings []"

# --- Prometheus textfile format
tf --root "$R" inspect --format prometheus /etc/ssl/bundle.pem
is "$rc" 1 "--format prometheus: exit 1 with findings"
grep -v '^#' "$T/out" | grep -Ev '^[a-z_]+(\{([a-z0-9_]+="([^"\\]|\\.)*",?)*\})? -?[0-9]+$' >"$T/bad"
is "$(cat "$T/bad")" "" "every line is a comment or a valid sample"
is "$(grep -c '^trustfix_certificate_not_after_seconds{store="/etc/ssl/bundle.pem",sha256="[0-9a-f]\{64\}",subject=".*",source="/etc/ssl/bundle.pem:[0-9]*"} [0-9]*$' "$T/out")" \
    4 "one trustfix_certificate_not_after_seconds sample per certificate"
is "$(grep "sha256=\"$(pem_sha256 "$QUOVADIS")\"" "$T/out" | awk '{ print $NF }')" \
    "$(date -d "$(openssl x509 -in "$QUOVADIS" -noout -enddate | cut -d= -f2)" +%s)" \
    "the sample's value is the certificate's notAfter as a Unix time"
like "$T/out" '^trustfix_findings\{kind="decommissioned"\} 1$' 'trustfix_findings{kind="decommissioned"} 1'
like "$T/out" '^trustfix_findings\{kind="expired"\} 1$' 'trustfix_findings{kind="expired"} 1'
like "$T/out" '^trustfix_findings\{kind="weak-key"\} 0$' 'kinds without findings are 0'
like "$T/out" '^trustfix_compliant 0$' "trustfix_compliant 0"
like "$T/out" 'subject="CN=Odd \\"quoted\\" \\\\ name, O=Ünïcødé"' "label values escape quotes and backslashes"
like "$T/out" '^# TYPE trustfix_certificate_not_after_seconds gauge$' "metrics are typed"

# --- the table: no escape codes unless on a terminal
tf --root "$R" inspect /etc/ssl/bundle.pem
is "$rc" 1 "table: exit 1"
like "$T/out" "decommissioned.*QuoVadis Root CA 2" "table lists the findings"
like "$T/out" "^  4 certificates$" "table counts the certificates"
unlike "$T/out" "$(printf '\033')" "no escape codes when stdout is not a terminal"
if command -v script >/dev/null; then
	on_tty() { # on_tty ENV...: the table on a pseudo-terminal, in $T/tty
		env "$@" script -qec "'$TRUSTFIX' --root '$R' inspect /etc/ssl/bundle.pem" /dev/null \
		    </dev/null >"$T/tty" 2>&1
	}
	on_tty TERM=xterm
	like "$T/tty" "$(printf '\033')\[" "on a terminal, the table has colour"
	on_tty TERM=xterm NO_COLOR=1
	unlike "$T/tty" "$(printf '\033')" "NO_COLOR=1: no colour on a terminal"
	like "$T/tty" "decommissioned" "NO_COLOR=1: the table is still there"
	on_tty TERM=dumb
	unlike "$T/tty" "$(printf '\033')" "TERM=dumb: no colour on a terminal"
else
	skip "on a terminal, the table has colour" "no script(1)"
	skip "NO_COLOR=1: no colour on a terminal" "no script(1)"
	skip "NO_COLOR=1: the table is still there" "no script(1)"
	skip "TERM=dumb: no colour on a terminal" "no script(1)"
fi

# --- -q: nothing on stdout, the exit status still tells
tf --root "$R" -q inspect /etc/ssl/bundle.pem
is "$rc.$(wc -c <"$T/out" | tr -d ' ')" 1.0 "-q: exit 1, nothing on stdout"
tf --root "$R" inspect -q /etc/ssl/identrust.pem
is "$rc.$(wc -c <"$T/out" | tr -d ' ')" 0.0 "inspect -q: exit 0, nothing on stdout"

# --- an unknown format; a failed write is not success
tf --root "$R" inspect --format xml /etc/ssl/bundle.pem
is "$rc" 2 "--format xml: exit 2"
like "$T/err" "xml" "the error names the format"
rc=0
timeout 20 "$TRUSTFIX" --root "$R" --json inspect /etc/ssl/bundle.pem >/dev/full 2>"$T/err" || rc=$?
is "$rc" 2 "stdout on a full disk: exit 2"
like "$T/err" "standard output" "the error says writing the output failed"

# a certificate listed twice is two series, told apart by where it is
cat "$DATA/QuoVadis_Root_CA_2.pem" "$DATA/QuoVadis_Root_CA_2.pem" >"$T/dup.pem"
tf inspect --format prometheus "$T/dup.pem"
is "$(grep '^trustfix_certificate_not_after_seconds{' "$T/out" | sort -u | wc -l)" 2 \
    "a duplicate certificate gives two distinct series (Prometheus refuses the same series twice)"
like "$T/out" 'source="[^"]*dup\.pem:34"' "the second one is told apart by its line"

done_testing
