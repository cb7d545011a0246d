#!/bin/sh
# t0210-log-show.sh - the audit log as an operator and an auditor read it:
# "trustfix log" newest first with who did what, "trustfix show" by HEAD,
# HEAD~N and id prefix, --json in certificate terms, reason and ticket as git
# trailers readable with plain git, a first record of the stores before the
# first change, and a history that git fsck --full finds clean.
. "$TF_SRC/tests/cli/lib.sh"

QV=$DATA/QuoVadis_Root_CA_2.pem
QV_SHA=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86
IT=$DATA/IdenTrust_Commercial_Root_CA_1.pem
IT_SHA=5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae

R=$T/root
B=/etc/pki/tls/cert.pem
H=/etc/ssl/certs
mkdir -p "$R/etc/pki/tls" "$R$H"
"$MKCERT" --subject "/CN=Log CA A/O=trustfix tests" --ca --key-type ec:P-256 -o "$T/a.pem"
A_SHA=$(pem_sha256 "$T/a.pem")
cat "$QV" "$T/a.pem" >"$R$B"
cp "$T/a.pem" "$R$H/Log_CA_A.pem"
openssl rehash "$R$H" 2>/dev/null
IT_HASH=$(openssl x509 -in "$IT" -noout -subject_hash)
unset SUDO_USER

# --- an empty log
tf --root "$R" log
is "$rc" 0 "log before any change: exit 0"
like "$T/out" "no change" "log before any change says so"

# --- change 1: add to both stores, with who, why and the ticket
tf --root "$R" add "$IT" --store "$B" --store "$H" --operator alice \
    --reason "field notice FN-2024-17: IdenTrust root required" --ticket CHG-1234
is "$rc" 0 "add with --operator --reason --ticket: exit 0"
is "$(agit "$R" rev-list --count HEAD)" 2 "the first change is preceded by one other commit"
is "$(agit "$R" log -1 --format=%s HEAD~1)" "record the state of $B, $H" \
    "that commit is the first record of the stores, named \"record the state of ...\""
agit "$R" ls-tree -r --name-only HEAD~1 >"$T/baseline"
like "$T/baseline" "^etc/pki/tls/cert\.pem\$" "the first record holds the bundle as it was"
like "$T/baseline" "^etc/ssl/certs/Log_CA_A\.pem\$" "... and the hashed directory's files"
agit "$R" show "HEAD~1:etc/pki/tls/cert.pem" >"$T/base.pem" 2>/dev/null
cat "$QV" "$T/a.pem" | cmp -s - "$T/base.pem"
ok $? "the first record holds the bundle byte for byte as it was before the change"
ADD=$(agit "$R" rev-parse HEAD)

# --- change 2: SUDO_USER names the operator
SUDO_USER=bob tf --root "$R" remove "$QV_SHA" --store "$B"
is "$rc" 0 "remove run under sudo: exit 0"
RM_QV=$(agit "$R" rev-parse HEAD)

# --- change 3: --operator wins over SUDO_USER
SUDO_USER=bob tf --root "$R" remove "$A_SHA" --store "$B" --store "$H" --operator carol
is "$rc" 0 "remove with --operator under sudo: exit 0"
RM_A=$(agit "$R" rev-parse HEAD)
BASE=$(agit "$R" rev-parse HEAD~3)

# --- log: newest first, who and what
tf --root "$R" log
is "$rc" 0 "log: exit 0"
is "$(wc -l <"$T/out")" 4 "log: one line per commit (first record + three changes)"
is "$(cut -c1-12 "$T/out" | tr '\n' ' ')" \
    "$(printf '%.12s ' "$RM_A" "$RM_QV" "$ADD" "$BASE")" "log: newest first, by short id"
sed -n 1p "$T/out" >"$T/l1"
sed -n 2p "$T/out" >"$T/l2"
sed -n 3p "$T/out" >"$T/l3"
sed -n 4p "$T/out" >"$T/l4"
like "$T/l1" " carol .*remove Log CA A" "log line 1: carol (--operator beats SUDO_USER) removed Log CA A"
like "$T/l2" " bob .*remove QuoVadis Root CA 2" "log line 2: bob (SUDO_USER) removed QuoVadis"
like "$T/l3" " alice .*add IdenTrust Commercial Root CA 1" "log line 3: alice (--operator) added IdenTrust"
like "$T/l4" "record the state of" "log line 4: the first record"
tf --root "$R" log -n 2
is "$(wc -l <"$T/out").$(cut -c1-12 "$T/out" | tr '\n' ' ')" \
    "2.$(printf '%.12s ' "$RM_A" "$RM_QV")" "log -n 2: the two newest"
tf --root "$R" --json log
is "$rc" 0 "log --json: exit 0"
is "$(jpy '" ".join(e["id"] for e in d)')" "$RM_A $RM_QV $ADD $BASE" "log --json: full ids, newest first"
is "$(jpy '" ".join(e["operator"] for e in d[:3])')" "carol bob alice" "log --json: the operators"
is "$(jpy 'd[2]["reason"] + "|" + d[2]["ticket"]')" \
    "field notice FN-2024-17: IdenTrust root required|CHG-1234" "log --json: reason and ticket of the add"
tf --root "$R" --json log -n 1
is "$(jpy 'len(d)')" 1 "log -n 1 --json: one entry"

# --- show: HEAD, HEAD~1, an id prefix, an unknown revision
tf --root "$R" show
is "$rc" 0 "show without argument: exit 0"
like "$T/out" "^change $RM_A" "show without argument is HEAD"
tf --root "$R" show HEAD
like "$T/out" "^change $RM_A" "show HEAD: the last change"
like "$T/out" "operator: carol" "show HEAD: the operator"
like "$T/out" "Log CA A" "show HEAD: what was removed, in certificate terms"
like "$T/out" "$A_SHA|$(printf '%.16s' "$A_SHA")" "show HEAD: the fingerprint of the certificate"
tf --root "$R" show HEAD~1
is "$rc" 0 "show HEAD~1: exit 0"
like "$T/out" "^change $RM_QV" "show HEAD~1: the change before"
like "$T/out" "QuoVadis Root CA 2" "show HEAD~1: the QuoVadis removal"
tf --root "$R" show "$(printf '%.7s' "$ADD")"
is "$rc" 0 "show by a 7-digit id prefix: exit 0"
like "$T/out" "^change $ADD" "show by id prefix: the full id of that change"
like "$T/out" "reason: +field notice FN-2024-17" "show: the reason"
like "$T/out" "ticket: +CHG-1234" "show: the ticket"
like "$T/out" "operator: alice" "show: the operator"
like "$T/out" "etc/pki/tls/cert\.pem" "show: the files touched"
tf --root "$R" show HEAD~3
like "$T/out" "record the state of" "show HEAD~3: the first record"
tf --root "$R" show deadbeef42
is "$rc" 2 "show of an unknown id: exit 2"
like "$T/err" "deadbeef42" "the error names the unknown revision"
tf --root "$R" show HEAD~9
is "$rc" 2 "show HEAD~9 past the first commit: exit 2"
like "$T/err" "HEAD~9" "the error names HEAD~9"

# --- show --json: certificates per store, files with actions
tf --root "$R" --json show "$ADD"
is "$rc" 0 "show --json: exit 0"
is "$(jpy 'd["id"]')" "$ADD" "show --json: the id"
is "$(jpy 'sorted((a["store"], a["sha256"]) for a in d["added"])')" \
    "[[\"$B\", \"$IT_SHA\"], [\"$H\", \"$IT_SHA\"]]" "show --json: added, per store, by SHA-256"
is "$(jpy 'd["removed"]')" "[]" "show --json: nothing removed by the add"
is "$(jpy '" ".join(sorted("%s=%s" % (f["path"], f["action"]) for f in d["files"]))')" \
    "etc/pki/tls/cert.pem=modified etc/ssl/certs/IdenTrust_Commercial_Root_CA_1.pem=added etc/ssl/certs/$IT_HASH.0=added" \
    "show --json: every file touched, with its action"
is "$(jpy '[f["mode"] for f in d["files"] if f["path"].endswith(".0")][0]')" link \
    "show --json: the hash link is recorded as a link"
is "$(jpy 'd["reason"] + "|" + d["ticket"] + "|" + d["operator"]')" \
    "field notice FN-2024-17: IdenTrust root required|CHG-1234|alice" "show --json: reason, ticket, operator"
tf --root "$R" --json show "$RM_A"
is "$(jpy 'sorted((a["store"], a["sha256"]) for a in d["removed"])')" \
    "[[\"$B\", \"$A_SHA\"], [\"$H\", \"$A_SHA\"]]" "show --json of a removal: removed, per store"
is "$(jpy '" ".join(sorted(f["action"] for f in d["files"]))')" "modified removed removed" \
    "show --json of a removal: bundle modified, certificate file and link removed"

# --- plain git: trailers, messages, fsck
agit "$R" log -1 --format=%B "$ADD" >"$T/msg"
like "$T/msg" "^Trustfix-Reason: field notice FN-2024-17: IdenTrust root required\$" \
    "git log --format=%B: the reason is a trailer"
like "$T/msg" "^Trustfix-Ticket: CHG-1234\$" "git log --format=%B: the ticket is a trailer"
like "$T/msg" "^Trustfix-Operator: alice\$" "git log --format=%B: the operator is a trailer"
like "$T/msg" "^Trustfix-Added: $B $IT_SHA\$" "git log --format=%B: the addition is a trailer"
like "$T/msg" "^\+ IdenTrust Commercial Root CA 1 \(5d56" "the message body says it in certificate terms"
is "$(agit "$R" log -1 --format='%(trailers:key=Trustfix-Ticket,valueonly)' "$ADD" | sed '/^$/d')" \
    CHG-1234 "git's own trailer parser finds the ticket"
is "$(agit "$R" log -1 --format='%(trailers:key=Trustfix-Operator,valueonly)' "$RM_QV" | sed '/^$/d')" \
    bob "git's trailer parser finds the SUDO_USER operator"
agit "$R" log --format=%s >"$T/subjects"
is "$(tr '\n' '|' <"$T/subjects" | sed 's/ and more (see the body)//g')" \
    "remove Log CA A|remove QuoVadis Root CA 2|add IdenTrust Commercial Root CA 1|record the state of $B, $H|" \
    "git log: the subjects, newest first"
# one certificate added to two stores is one certificate: no "and more"
is "$(sed -n 3p "$T/subjects")" "add IdenTrust Commercial Root CA 1" \
    "the subject of one certificate added to two stores does not say \"and more\""
agit "$R" fsck --full --strict >"$T/fsck" 2>&1
ok $? "git fsck --full --strict: clean" || sed 's/^/# /' "$T/fsck"
is "$(grep -cv '^Checking' "$T/fsck")" 0 "git fsck: no warning, no dangling object"

# --- a reason cannot forge a trailer or a line of the message
tf --root "$R" add "$T/a.pem" --store "$B" --reason "$(printf 'routine\nTrustfix-Added: /etc/evil 00')"
is "$rc" 0 "add with a two-line --reason: exit 0"
agit "$R" log -1 --format=%B >"$T/msg2"
unlike "$T/msg2" "^Trustfix-Added: /etc/evil" "a newline in --reason does not make a trailer"
agit "$R" fsck --full >/dev/null 2>&1
ok $? "git fsck --full after every change: clean"

done_testing
