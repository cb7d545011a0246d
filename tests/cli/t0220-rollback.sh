#!/bin/sh
# t0220-rollback.sh - "trustfix rollback": the last change undone as a new
# commit (history only grows), the store byte for byte as before, the next
# rollback undoes the next older change, --to restores a whole state, a hand
# edit is recorded as drift and protects the file from an older rollback
# unless --force, and a hashed directory gets its links back exactly.
. "$TF_SRC/tests/cli/lib.sh"

QV=$DATA/QuoVadis_Root_CA_2.pem
QV_SHA=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86
IT=$DATA/IdenTrust_Commercial_Root_CA_1.pem

ca() { # ca FILE CN: a self-signed CA
	"$MKCERT" --subject "/CN=$2/O=trustfix tests" --ca --key-type ec:P-256 -o "$1"
}
fp() { openssl x509 -in "$1" -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1; }
same() { # same FILE WANT DESCRIPTION: byte for byte
	if cmp -s "$1" "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diff "$2" "$1" | head -10 | sed 's/^/# /'
	fi
}
config() { # config ROOT STORE...: a configuration naming the stores
	mkdir -p "$1/etc/trustfix"
	r=$1
	shift
	i=0
	for s in "$@"; do
		i=$((i + 1))
		printf '[store s%d]\npath = %s\n\n' "$i" "$s"
	done >"$r/etc/trustfix/trustfix.conf"
}
has_commit() { agit "$R" cat-file -e "$1^{commit}" 2>/dev/null; }

ca "$T/a.pem" "Rollback CA A"

# ======================================================================
# rollback, rollback again, nothing left, --to
R=$T/root
B=/etc/pki/tls/cert.pem
F=$R$B
mkdir -p "$R/etc/pki/tls"
config "$R" "$B"
{ printf '# appliance bundle\n'; cat "$QV" "$T/a.pem"; } >"$F"
chmod 640 "$F"
if [ "$(id -u)" -eq 0 ]; then
	chown nobody:nogroup "$F"
	OWNER="640 nobody:nogroup"
else
	OWNER="640 $(id -un):$(id -gn)"
fi
cp "$F" "$T/s0"
tf --root "$R" add "$IT" --store "$B"
is "$rc" 0 "change 1 (add IdenTrust): exit 0"
C1=$(agit "$R" rev-parse HEAD)
cp "$F" "$T/s1"
tf --root "$R" remove "$QV_SHA" --store "$B"
is "$rc" 0 "change 2 (remove QuoVadis): exit 0"
C2=$(agit "$R" rev-parse HEAD)
cp "$F" "$T/s2"
n=$(agit "$R" rev-list --count HEAD)

sum=$(tree_sum "$R")
tf --root "$R" rollback --dry-run
is "$rc" 0 "rollback --dry-run: exit 0"
like "$T/out" "$(printf '%.12s' "$C2")" "rollback --dry-run names the change it would undo"
is "$(tree_sum "$R")" "$sum" "rollback --dry-run changes nothing"

tf --root "$R" rollback
is "$rc" 0 "rollback: exit 0"
same "$F" "$T/s1" "rollback: the bundle is byte for byte as before change 2"
is "$(stat -c '%a %U:%G' "$F")" "$OWNER" "rollback: mode and owner of the bundle kept"
is "$(agit "$R" rev-list --count HEAD)" $((n + 1)) "rollback is one new commit: history grows"
is "$(agit "$R" rev-parse HEAD~1)" "$C2" "the rolled-back change is still in history, right below"
has_commit "$C1" && has_commit "$C2"
ok $? "old change ids still there: nothing rewritten"
agit "$R" merge-base --is-ancestor "$C1" HEAD
ok $? "change 1 is an ancestor of the new HEAD"
like "$T/out" "rollback of $(printf '%.12s' "$C2")" "rollback says which change it undid"
is "$(agit "$R" log -1 --format=%s)" "rollback of $(printf '%.12s' "$C2"): remove QuoVadis Root CA 2" \
    "the rollback commit's subject names the change undone"
agit "$R" log -1 --format=%B >"$T/msg"
like "$T/msg" "^Trustfix-Added: $B $QV_SHA\$" "the rollback records QuoVadis as added back"
RB1=$(agit "$R" rev-parse HEAD)

tf --root "$R" rollback
is "$rc" 0 "rollback again: exit 0"
same "$F" "$T/s0" "rollback again undid change 1 (the next older), not the rollback"
like "$T/out" "rollback of $(printf '%.12s' "$C1")" "the second rollback names change 1"
has_commit "$RB1"
ok $? "the first rollback commit is still there"
if [ "$(cmp -s "$F" "$T/s0" && echo same)" != same ]; then
	diag "the second rollback did not undo change 1; going on with --force"
	tf --root "$R" rollback --force
fi

tf --root "$R" rollback
is "$rc" 3 "rollback with nothing left to undo: exit 3"
like "$T/out" "nothing to do" "rollback with nothing left says nothing to do"
same "$F" "$T/s0" "the bundle is left as it was"

n=$(agit "$R" rev-list --count HEAD)
tf --root "$R" rollback --to "$(printf '%.10s' "$C2")"
is "$rc" 0 "rollback --to change 2: exit 0"
same "$F" "$T/s2" "rollback --to: the bundle is as it was after change 2"
is "$(agit "$R" rev-list --count HEAD)" $((n + 1)) "rollback --to is one new commit"
tf --root "$R" rollback --to "$C2"
is "$rc" 3 "rollback --to the state the files are in: exit 3"
tf --root "$R" rollback --to HEAD~40
is "$rc" 2 "rollback --to an unknown change: exit 2"
like "$T/err" "HEAD~40" "the error names the unknown change"
agit "$R" fsck --full >/dev/null 2>&1
ok $? "git fsck --full after rollbacks: clean"

# --to over two stores: every managed file as it was
R=$T/two
H=/etc/ssl/certs
mkdir -p "$R/etc/pki/tls" "$R$H"
config "$R" "$B" "$H"
cat "$QV" >"$R$B"
cp "$T/a.pem" "$R$H/Rollback_CA_A.pem"
openssl rehash "$R$H" 2>/dev/null
ca "$T/x.pem" "Rollback CA X"
tf --root "$R" add "$IT"
is "$rc" 0 "two configured stores: add to both: exit 0"
W1=$(agit "$R" rev-parse HEAD)
w1=$(tree_sum "$R/etc")
tf --root "$R" remove "$QV_SHA"
is "$rc" 0 "two stores: remove QuoVadis: exit 0"
tf --root "$R" add "$T/x.pem" --store "$H"
is "$rc" 0 "two stores: add another CA to the directory: exit 0"
tf --root "$R" rollback --to "$W1"
is "$rc" 0 "two stores: rollback --to the first change: exit 0"
is "$(tree_sum "$R/etc")" "$w1" "two stores: both stores, links included, exactly as after the first change"

# ======================================================================
# drift: a hand edit is recorded, and protects the file from an older rollback
R=$T/drift
F=$R$B
mkdir -p "$R/etc/pki/tls"
config "$R" "$B"
cat "$QV" "$T/a.pem" >"$F"
cp "$F" "$T/d0"
tf --root "$R" add "$IT" --store "$B"
is "$rc" 0 "drift: change 1 (add IdenTrust): exit 0"
D1=$(agit "$R" rev-parse HEAD)
printf '# edited by hand during the outage\n' >>"$F"
cp "$F" "$T/hand"
tf --root "$R" remove "$QV_SHA" --store "$B"
is "$rc" 0 "drift: change 2 (remove QuoVadis) after a hand edit: exit 0"
like "$T/err" "external change detected" "the run says it found an external change"
D2=$(agit "$R" rev-parse HEAD)
is "$(agit "$R" log -1 --format=%s HEAD~1)" "external change detected in $B" \
    "the hand edit is its own commit, \"external change detected\", before change 2"
agit "$R" show "HEAD~1:${B#/}" >"$T/drift.rec"
same "$T/drift.rec" "$T/hand" "the drift commit holds the file as edited by hand"
is "$(agit "$R" rev-parse HEAD~2)" "$D1" "the drift commit sits between change 1 and change 2"
grep -q '^# edited by hand during the outage$' "$F"
ok $? "change 2 kept the hand-edited line"
cp "$F" "$T/d2"

tf --root "$R" rollback "$D1"
is "$rc" 4 "rollback of change 1, whose file changed later: refused, exit 4"
like "$T/err" "$(printf '%.12s' "$D2")" "the refusal names the later change"
like "$T/err" "$B" "the refusal names the file"
like "$T/err" "--force" "the refusal says how to go ahead"
same "$F" "$T/d2" "the refused rollback changed nothing"
tf --root "$R" rollback "$D1" --force
is "$rc" 0 "rollback of change 1 with --force: exit 0"
grep -q "$(sed -n 2p "$IT")" "$F"
is "$?" 1 "--force: the IdenTrust root added by change 1 is gone"
same "$F" "$T/d0" "--force: the file is as it was before change 1"

# a hand edit right after a change: rolling that change back would lose it
R=$T/drift2
F=$R$B
mkdir -p "$R/etc/pki/tls"
config "$R" "$B"
cat "$QV" >"$F"
tf --root "$R" add "$IT" --store "$B"
E1=$(agit "$R" rev-parse HEAD)
printf '# hand edit\n' >>"$F"
cp "$F" "$T/e1"
tf --root "$R" rollback
is "$rc" 4 "rollback of the last change after a hand edit of its file: refused, exit 4"
is "$(agit "$R" log -1 --format=%s)" "external change detected in $B" \
    "the hand edit was recorded before the refusal"
same "$F" "$T/e1" "the hand edit is still there"
like "$T/err" "$(printf '%.12s' "$E1")" "the refusal names the change it would not undo"

# the same without a configuration: the store is known from the change itself
R=$T/drift3
F=$R$B
mkdir -p "$R/etc/pki/tls"
cat "$QV" >"$F"
tf --root "$R" add "$IT" --store "$B"
is "$rc" 0 "no configuration: add with --store: exit 0"
printf '# hand edit\n' >>"$F"
cp "$F" "$T/e3"
tf --root "$R" rollback
is "$rc" 4 "no configuration: rollback of a change whose file was edited by hand since: refused, exit 4"
same "$F" "$T/e3" "no configuration: the hand edit is not silently overwritten"
agit "$R" log --format=%s >"$T/subjects"
like "$T/subjects" "^external change detected" "no configuration: the hand edit is recorded as an external change"

# ======================================================================
# hashed directory: links restored exactly
R=$T/hashed
H=/etc/ssl/certs
mkdir -p "$R$H"
config "$R" "$H"
ca "$R$H/Collide-1.pem" "Collide"
ca "$R$H/Other_CA.pem" "Other CA"
openssl rehash "$R$H" 2>/dev/null
ca "$T/collide2.pem" "Collide"
CHASH=$(openssl x509 -in "$T/collide2.pem" -noout -subject_hash)
links() {
	find "$1" -maxdepth 1 -printf '%f %y %m -> %l\n' | sort
}
h0=$(tree_sum "$R/etc")
links "$R$H" >"$T/h0"
tf --root "$R" add "$T/collide2.pem" --store "$H"
is "$rc" 0 "hashed dir: change 1 (a second Collide certificate, $CHASH.1): exit 0"
h1=$(tree_sum "$R/etc")
links "$R$H" >"$T/h1"
tf --root "$R" remove "$(fp "$R$H/Collide-1.pem")" --store "$H"
is "$rc" 0 "hashed dir: change 2 (remove $CHASH.0, the others renumbered): exit 0"
links "$R$H" >"$T/h2"
HC2=$(agit "$R" rev-parse HEAD)
tf --root "$R" rollback
is "$rc" 0 "hashed dir: rollback of change 2: exit 0"
links "$R$H" >"$T/h1b"
same "$T/h1b" "$T/h1" "hashed dir: every name, type and link target as after change 1"
is "$(tree_sum "$R/etc")" "$h1" "hashed dir: every byte as after change 1"
tf --root "$R" rollback
is "$rc" 0 "hashed dir: rollback of change 1: exit 0" ||
    { diag "going on with --force"; tf --root "$R" rollback --force; }
links "$R$H" >"$T/h0b"
same "$T/h0b" "$T/h0" "hashed dir: links exactly as openssl rehash left them at the start"
is "$(tree_sum "$R/etc")" "$h0" "hashed dir: every byte as at the start"
tf --root "$R" rollback --to "$HC2"
is "$rc" 0 "hashed dir: rollback --to the state after change 2: exit 0"
links "$R$H" >"$T/h2b"
same "$T/h2b" "$T/h2" "hashed dir: --to restores the renumbered links"
agit "$R" fsck --full >/dev/null 2>&1
ok $? "hashed dir: git fsck --full clean"

done_testing
