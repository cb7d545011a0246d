#!/bin/sh
# t0140-inspect-client.sh - the device's client certificate: expiry, renewal
# due (renew_before_days, renew_lifetime_fraction), key match and chain
# against the inspected store; from the command line and from [client].
. "$TF_SRC/tests/cli/lib.sh"

R=$T/root
C=$R/etc/trustfix
IDENTRUST=$DATA/IdenTrust_Commercial_Root_CA_1.pem
mkdir -p "$R/etc/ssl" "$C"

"$MKCERT" --subject "/CN=Device Issuing CA/O=trustfix tests" --ca --key-type ec:P-256 \
    --key-out "$T/ca.key" -o "$T/ca.pem"
"$MKCERT" --subject "/CN=Other CA" --ca --key-type ec:P-256 --key-out "$T/other.key" -o "$T/other.pem"
cat "$T/ca.pem" "$IDENTRUST" >"$R/etc/ssl/store.pem"

# client NAME DAYS [mkcert options]: $C/NAME.pem and $C/NAME.key, issued by
# the CA, expiring in DAYS days
client() {
	n=$1 days=$2
	shift 2
	"$MKCERT" --subject "/CN=device-1234/O=trustfix tests" --eku clientAuth --key-type ec:P-256 \
	    --issuer-cert "$T/ca.pem" --issuer-key "$T/ca.key" --not-before -60 --not-after "$days" \
	    --key-out "$C/$n.key" -o "$C/$n.pem" "$@"
}
# inspect NAME [OPTIONS]: inspect the store with client certificate NAME
inspect() {
	n=$1
	shift
	tf --root "$R" --json inspect --client-cert "/etc/trustfix/$n.pem" \
	    --client-key "/etc/trustfix/$n.key" "$@" /etc/ssl/store.pem
}
# client_kinds: the client-* finding kinds of the last run
client_kinds() { jpy '" ".join(sorted(f["kind"] for f in d["findings"] if f["kind"].startswith("client-")))'; }

# all good: a year left, key matches, chain validates
client good 365
inspect good
is "$rc.$(kinds)" 0. "good client certificate: exit 0, no finding"
# (364 once a second has passed since the certificate was made)
is "$(jpy '[d["client"][k] for k in ("key_matches", "chain_valid", "renewal_due")] + [d["client"]["days_left"] in (364, 365)]')" \
    "[true, true, false, true]" "JSON client: key matches, chain valid, not due, a year left"
is "$(jpy 'd["client"]["path"]')" /etc/trustfix/good.pem "JSON client: the path as named"
is "$(jpy 'd["client"]["sha256"]')" "$(pem_sha256 "$C/good.pem")" "JSON client: the certificate's fingerprint"

# expiring in 3 days: renewal is due (renew_before_days defaults to 30)
client soon 3
inspect soon
is "$rc.$(client_kinds)" 1.client-expiring "expires in 3 days: exit 1, client-expiring"
is "$(jpy '[f["sha256"] for f in d["findings"]]')" "[\"$(pem_sha256 "$C/soon.pem")\"]" \
    "client-expiring carries the client certificate's fingerprint"
is "$(jpy 'd["client"]["renewal_due"]')" true "JSON client.renewal_due is true"
tf --root "$R" inspect --client-cert /etc/trustfix/soon.pem /etc/ssl/store.pem
like "$T/out" "client-expiring" "the table shows client-expiring"
like "$T/out" "renewal: +due since" "the table says renewal is due"

# expired: client-expired, not client-expiring; the chain is judged on its own
client old -1
inspect old
is "$rc.$(client_kinds)" 1.client-expired "expired yesterday: exit 1, client-expired only"
is "$(jpy 'd["client"]["chain_valid"]')" true "an expired certificate's chain is still checked as valid"

# a key that is not the certificate's
client mismatch 365
rm "$C/mismatch.key"
cp "$T/other.key" "$C/mismatch.key"
inspect mismatch
is "$rc.$(client_kinds)" 1.client-key-mismatch "wrong key: exit 1, client-key-mismatch"
is "$(jpy 'd["client"]["key_matches"]')" false "JSON client.key_matches is false"

# issued by a CA that is not in the store
"$MKCERT" --subject "/CN=device-1234" --eku clientAuth --key-type ec:P-256 --issuer-cert "$T/other.pem" \
    --issuer-key "$T/other.key" --key-out "$C/stranger.key" -o "$C/stranger.pem"
inspect stranger
is "$rc.$(client_kinds)" 1.client-chain-invalid "issuer not in the store: exit 1, client-chain-invalid"
is "$(jpy 'd["client"]["chain_valid"]')" false "JSON client.chain_valid is false"
like "$T/out" '"chain_error":"[^"]*issuer' "the chain error says why"
# the same certificate validates once its CA is in an inspected store
cp "$T/other.pem" "$R/etc/ssl/other.pem"
tf --root "$R" --json inspect --client-cert /etc/trustfix/stranger.pem /etc/ssl/store.pem /etc/ssl/other.pem
is "$(jpy 'd["client"]["chain_valid"]')" true "issuer in a second inspected store: chain valid"

# intermediates: in the certificate file, or given with --client-chain
"$MKCERT" --subject "/CN=Device Sub CA" --ca --key-type ec:P-256 --issuer-cert "$T/ca.pem" \
    --issuer-key "$T/ca.key" --key-out "$T/sub.key" -o "$T/sub.pem"
"$MKCERT" --subject "/CN=device-1234" --eku clientAuth --key-type ec:P-256 --issuer-cert "$T/sub.pem" \
    --issuer-key "$T/sub.key" --key-out "$C/viasub.key" -o "$T/viasub-leaf.pem"
cp "$T/viasub-leaf.pem" "$C/viasub.pem"
inspect viasub
is "$rc.$(client_kinds)" 1.client-chain-invalid "intermediate missing: client-chain-invalid"
cp "$T/sub.pem" "$C/chain.pem"
inspect viasub --client-chain /etc/trustfix/chain.pem
is "$rc.$(client_kinds)" 0. "intermediate given with --client-chain: chain valid"
cat "$T/viasub-leaf.pem" "$T/sub.pem" >"$C/viasub.pem"
inspect viasub
is "$rc.$(client_kinds)" 0. "intermediate after the certificate in its file: chain valid"
# ... or in the store, before or after its root
cp "$T/viasub-leaf.pem" "$C/viasub.pem"
cat "$T/sub.pem" "$T/ca.pem" "$IDENTRUST" >"$R/etc/ssl/sub-first.pem"
cat "$T/ca.pem" "$T/sub.pem" "$IDENTRUST" >"$R/etc/ssl/root-first.pem"
for s in sub-first root-first; do
	tf --root "$R" --json inspect --client-cert /etc/trustfix/viasub.pem /etc/ssl/$s.pem
	is "$(jpy 'd["client"]["chain_valid"]')" true "intermediate in the store ($s): chain valid"
done

# the [client] section of the configuration
client cfg 3
cat >"$C/trustfix.conf" <<EOF
[store system]
path = /etc/ssl/store.pem

[client]
cert = /etc/trustfix/cfg.pem
key = /etc/trustfix/mismatch.key
EOF
tf --root "$R" --json inspect
is "$rc.$(client_kinds)" "1.client-expiring client-key-mismatch" \
    "[client] cert and key from the config: client-expiring and client-key-mismatch"
is "$(jpy 'd["client"]["path"] + " " + d["stores"][0]["path"]')" "/etc/trustfix/cfg.pem /etc/ssl/store.pem" \
    "the client certificate and the store come from the config"
tf --root "$R" --json inspect --client-cert /etc/trustfix/good.pem --client-key /etc/trustfix/good.key
is "$rc.$(client_kinds)" 0. "--client-cert and --client-key override [client]"

# renew_before_days / renew_lifetime_fraction decide when renewal is due
client twenty 20
cat >"$C/trustfix.conf" <<EOF
renew_before_days = 10
[client]
cert = /etc/trustfix/twenty.pem
EOF
tf --root "$R" --json inspect /etc/ssl/store.pem
is "$rc.$(jpy 'd["client"]["renewal_due"]')" 0.false "20 days left, renew_before_days = 10: not due"
now=$(date +%s)
due=$(jpy 'd["client"]["renew_at"]')
due=$(date -d "$due" +%s)
is "$(( (due - now + 43200) / 86400 ))" 10 "renew_at is 10 days from now"
sed -i 's/renew_before_days = 10/renew_before_days = 25/' "$C/trustfix.conf"
tf --root "$R" --json inspect /etc/ssl/store.pem
is "$rc.$(jpy 'd["client"]["renewal_due"]')" 1.true "20 days left, renew_before_days = 25: due"
rm "$C/trustfix.conf"
tf --root "$R" --json inspect --client-cert /etc/trustfix/twenty.pem /etc/ssl/store.pem
is "$(jpy 'd["client"]["renewal_due"]')" true "20 days left, default renew_before_days (30): due"
# 60 of 80 days of its life passed: due at half its lifetime
printf 'renew_before_days = 10\nrenew_lifetime_fraction = 0.5\n' >"$C/trustfix.conf"
tf --root "$R" --json inspect --client-cert /etc/trustfix/twenty.pem /etc/ssl/store.pem
is "$(jpy 'd["client"]["renewal_due"]')" true "renew_lifetime_fraction = 0.5, 3/4 of its life gone: due"
rm "$C/trustfix.conf"

# errors: a key without a certificate, a missing certificate
tf --root "$R" inspect --client-key /etc/trustfix/good.key /etc/ssl/store.pem
is "$rc" 2 "--client-key without --client-cert: exit 2"
tf --root "$R" inspect --client-cert /etc/trustfix/absent.pem /etc/ssl/store.pem
is "$rc" 2 "missing client certificate: exit 2"
like "$T/err" "$R/etc/trustfix/absent\.pem" "the error names the client certificate"

# the client key never appears in any output
sed '/^-----/d' "$C/good.key" | awk 'length >= 16' >"$T/keylines"
tf --root "$R" -v -v inspect --client-cert /etc/trustfix/good.pem --client-key /etc/trustfix/good.key /etc/ssl/store.pem
cat "$T/out" "$T/err" >"$T/all"
tf --root "$R" -v --json inspect --client-cert /etc/trustfix/good.pem --client-key /etc/trustfix/good.key /etc/ssl/store.pem
cat "$T/out" "$T/err" >>"$T/all"
[ -s "$T/keylines" ] && ! grep -F -q -f "$T/keylines" "$T/all"
ok $? "the client key appears in no output"

done_testing
