#!/bin/sh
# t0200-add-remove.sh - "trustfix add" and "trustfix remove" on every
# writable store format, checked the way an operator would: untouched bytes of
# a PEM bundle kept (comments, order, CRLF), exactly one block cut, the dry
# run writes nothing, the second run has nothing to do, mode and owner kept,
# hash links as openssl rehash makes them, PKCS#12 read back by openssl,
# --subject, several stores in one audited change, a DER file refused.
. "$TF_SRC/tests/cli/lib.sh"

QV=$DATA/QuoVadis_Root_CA_2.pem
QV_SHA=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86
IT=$DATA/IdenTrust_Commercial_Root_CA_1.pem
IT_SHA=5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae
CR=$(printf '\r')

ca() { # ca FILE CN [mkcert options]: a self-signed CA
	f=$1 cn=$2
	shift 2
	"$MKCERT" --subject "/CN=$cn/O=trustfix tests" --ca --key-type ec:P-256 -o "$f" "$@"
}
fp() { # fp FILE: SHA-256 of the (first) certificate of PEM text on stdin or in FILE
	openssl x509 ${1:+-in "$1"} -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1
}
nblocks() { grep -c -- '-----BEGIN CERTIFICATE-----' "$1"; }
# the CN of every certificate of a PKCS#12 file, sorted, one line
p12_cns() {
	openssl pkcs12 -in "$1" -nokeys -passin file:"$2" 2>/dev/null |
	    sed -n 's/^subject=.*CN *= *\([^,]*\).*/\1/p' | sort | tr '\n' '|'
}

ca "$T/a.pem" "Bundle CA A"

# ======================================================================
# PEM bundle
R=$T/pem
B=/etc/ssl/certs/ca-certificates.crt
F=$R$B
mkdir -p "$R/etc/ssl/certs"
header() { printf '# trust bundle of the appliance\n# keep this comment\n\n# QuoVadis Root CA 2\n'; }
middle() { printf '\n# Bundle CA A (order matters)\n'; }
trailer() { printf '# a comment after the last block\n'; }
{ header; cat "$QV"; middle; cat "$T/a.pem"; trailer; } >"$F"
cp "$F" "$T/bundle.orig"
chmod 640 "$F"
if [ "$(id -u)" -eq 0 ]; then
	chown nobody:nogroup "$F"
	OWNER="640 nobody:nogroup"
else
	OWNER="640 $(id -un):$(id -gn)"
fi

# --- dry run: the plan, nothing written anywhere under the root
before=$(tree_sum "$R")
tf --root "$R" add "$IT" --store "$B" --dry-run
is "$rc" 0 "add --dry-run: exit 0 (something to do)"
like "$T/out" "IdenTrust Commercial Root CA 1" "the dry run names the certificate it would add"
like "$T/out" "ca-certificates\.crt" "the dry run names the file it would change"
is "$(tree_sum "$R")" "$before" "add --dry-run: nothing under the root changed (no state dir either)"
tf --root "$R" --json add "$IT" --store "$B" --dry-run
is "$rc.$(jpy 'd["dry_run"]').$(jpy '[a["sha256"] for a in d["added"]]')" \
    "0.true.[\"$IT_SHA\"]" "add --dry-run --json: dry_run true, the added fingerprint"
is "$(tree_sum "$R")" "$before" "add --dry-run --json: nothing changed"

# --- add: the old file is a byte-for-byte prefix, one new block after it
tf --root "$R" add "$IT" --store "$B"
is "$rc" 0 "add to a PEM bundle: exit 0"
osize=$(wc -c <"$T/bundle.orig")
head -c "$osize" "$F" | cmp -s - "$T/bundle.orig"
ok $? "every byte of the old bundle kept: comments, order, trailing comment"
tail -c +$((osize + 1)) "$F" >"$T/appended"
is "$(nblocks "$T/appended").$(head -n 1 "$T/appended")" "1.-----BEGIN CERTIFICATE-----" \
    "exactly one PEM block appended after the old content"
is "$(tail -n 1 "$T/appended")" "-----END CERTIFICATE-----" "the appended block ends the file"
is "$(fp "$T/appended")" "$IT_SHA" "the appended block is the IdenTrust root"
is "$(stat -c '%a %U:%G' "$F")" "$OWNER" "mode and owner of the bundle kept after add"
after_add=$(tree_sum "$R")

# --- the same command again: nothing to do
tf --root "$R" add "$IT" --store "$B"
is "$rc" 3 "second identical add: exit 3"
like "$T/out" "nothing to do" "second identical add: says nothing to do"
is "$(tree_sum "$R")" "$after_add" "second identical add: nothing changed"
tf --root "$R" add "$IT" --store "$B" --dry-run
is "$rc" 3 "add --dry-run when already there: exit 3"

# --- remove: exactly the QuoVadis block is cut, its comment line stays
tf --root "$R" remove "$QV_SHA" --store "$B" --dry-run
is "$rc" 0 "remove --dry-run: exit 0"
like "$T/out" "QuoVadis Root CA 2" "remove --dry-run names the certificate"
is "$(tree_sum "$R")" "$after_add" "remove --dry-run: nothing changed"
tf --root "$R" remove "$QV_SHA" --store "$B"
is "$rc" 0 "remove from a PEM bundle: exit 0"
{ header; middle; cat "$T/a.pem"; trailer; cat "$T/appended"; } >"$T/bundle.want"
cmp -s "$F" "$T/bundle.want"
ok $? "remove cut exactly the QuoVadis block: every other byte in place" ||
    diff "$T/bundle.want" "$F" | head -20 | sed 's/^/# /'
is "$(stat -c '%a %U:%G' "$F")" "$OWNER" "mode and owner of the bundle kept after remove"
after_rm=$(tree_sum "$R")
tf --root "$R" remove "$QV_SHA" --store "$B"
is "$rc" 3 "second identical remove: exit 3"
like "$T/out" "nothing to do" "second identical remove: says nothing to do"
is "$(tree_sum "$R")" "$after_rm" "second identical remove: nothing changed"

# --- a CRLF bundle stays CRLF
C=/etc/pki/crlf-bundle.pem
mkdir -p "$R/etc/pki"
{ printf '# windows-made bundle\n'; cat "$QV" "$T/a.pem"; } | sed "s/\$/$CR/" >"$R$C"
cp "$R$C" "$T/crlf.orig"
tf --root "$R" add "$IT" --store "$C"
is "$rc" 0 "add to a CRLF bundle: exit 0"
osize=$(wc -c <"$T/crlf.orig")
head -c "$osize" "$R$C" | cmp -s - "$T/crlf.orig"
ok $? "CRLF bundle: the old bytes are a prefix of the new file"
is "$(grep -c -v "$CR\$" "$R$C")" 0 "CRLF bundle: every line, the added ones too, ends in CRLF"
tail -c +$((osize + 1)) "$R$C" >"$T/crlf.appended"
is "$(fp "$T/crlf.appended")" "$IT_SHA" "CRLF bundle: the appended block is the IdenTrust root"
tf --root "$R" remove "$(fp "$T/a.pem")" --store "$C"
is "$rc" 0 "remove from a CRLF bundle: exit 0"
{ printf '# windows-made bundle\n'; cat "$QV"; } | sed "s/\$/$CR/" >"$T/crlf.want"
cat "$T/crlf.appended" >>"$T/crlf.want"
cmp -s "$R$C" "$T/crlf.want"
ok $? "CRLF bundle: remove cut exactly one CRLF block"

# ======================================================================
# OpenSSL hashed directory: links as openssl rehash makes them
R=$T/hashed
H=$R/etc/ssl/certs
mkdir -p "$H"
ca "$H/Collide-1.pem" "Collide"
ca "$H/Other_CA.pem" "Other CA"
cp "$QV" "$H/QuoVadis_Root_CA_2.pem"
openssl rehash "$H" 2>/dev/null
ca "$T/collide2.pem" "Collide"
ca "$T/collide3.pem" "Collide"
CHASH=$(openssl x509 -in "$T/collide2.pem" -noout -subject_hash)

links() { # links DIR: "<hash>.N -> target" for every hash link, sorted
	find "$1" -maxdepth 1 -name '[0-9a-f]*.[0-9]*' -printf '%f %y -> %l\n' |
	    grep -E '^[0-9a-f]{8}\.[0-9]+ ' | sort
}
# rehash_fresh DIR: the links openssl rehash makes on a copy of DIR's
# certificate files (regular files only, no links)
rehash_fresh() {
	rm -rf "$T/fresh"
	mkdir "$T/fresh"
	find "$1" -maxdepth 1 -type f -exec cp -p {} "$T/fresh/" \;
	openssl rehash "$T/fresh" 2>/dev/null
	links "$T/fresh"
}
# rehash_again DIR: the links after openssl rehash on a copy of DIR as it is
rehash_again() {
	rm -rf "$T/again"
	cp -a "$1" "$T/again"
	openssl rehash "$T/again" 2>/dev/null
	links "$T/again"
}
check_links() { # check_links WHAT
	is "$(links "$H")" "$(rehash_fresh "$H")" "$1: links equal openssl rehash of the same files"
	is "$(links "$H")" "$(rehash_again "$H")" "$1: openssl rehash would change no link"
}

tf --root "$R" add "$T/collide2.pem" --store /etc/ssl/certs
is "$rc" 0 "add a second certificate of the same subject to a hashed dir: exit 0"
check_links "collision added"
is "$(fp "$H/$(readlink "$H/$CHASH.1")").$(fp "$H/$(readlink "$H/$CHASH.0")")" \
    "$(fp "$T/collide2.pem").$(fp "$H/Collide-1.pem")" "the new certificate is $CHASH.1, the old one keeps .0"
tf --root "$R" add "$T/collide3.pem" --store /etc/ssl/certs
is "$rc" 0 "add a third certificate of the same subject: exit 0"
check_links "second collision added"
is "$(links "$H" | grep -c "^$CHASH\.")" 3 "three links for the colliding hash"
tf --root "$R" add "$T/collide3.pem" --store /etc/ssl/certs
is "$rc" 3 "the same add again on a hashed dir: exit 3"
# remove the one at .0: the others move down, no gap
tf --root "$R" remove "$(fp "$H/Collide-1.pem")" --store /etc/ssl/certs
is "$rc" 0 "remove the $CHASH.0 certificate: exit 0"
check_links "the .0 certificate removed"
is "$(links "$H" | grep "^$CHASH\." | cut -d' ' -f1 | tr '\n' ' ')" "$CHASH.0 $CHASH.1 " \
    "no gap: $CHASH.0 and .1 left, no .2"
[ ! -e "$H/Collide-1.pem" ] && [ ! -L "$H/Collide-1.pem" ]
ok $? "the removed certificate's file is gone"
tf --root "$R" remove "$QV_SHA" --store /etc/ssl/certs
is "$rc" 0 "remove QuoVadis from the hashed dir: exit 0"
check_links "QuoVadis removed"
[ -z "$(find -L "$H" -maxdepth 1 -type l)" ]
ok $? "no dangling link left in the hashed dir"

# ======================================================================
# PKCS#12 trust store with a password file
R=$T/p12
P=/etc/pki/trust.p12
mkdir -p "$R/etc/pki"
printf 'correct horse\n' >"$T/pw"
cat "$T/a.pem" "$QV" >"$T/p12in.pem"
openssl pkcs12 -export -nokeys -in "$T/p12in.pem" -passout file:"$T/pw" -out "$R$P"
chmod 644 "$R$P"
is "$(p12_cns "$R$P" "$T/pw")" "Bundle CA A|QuoVadis Root CA 2|" "PKCS#12 fixture: two certificates"
tf --root "$R" add "$IT" --store "$P"
is "$rc" 2 "add to a PKCS#12 store without --password-file: exit 2"
tf --root "$R" add "$IT" --store "$P" --password-file "$T/pw"
is "$rc" 0 "add to a PKCS#12 store: exit 0"
is "$(p12_cns "$R$P" "$T/pw")" "Bundle CA A|IdenTrust Commercial Root CA 1|QuoVadis Root CA 2|" \
    "openssl pkcs12 -nokeys lists the three certificates after add"
is "$(stat -c '%a' "$R$P")" 644 "mode of the PKCS#12 store kept"
tf --root "$R" add "$IT" --store "$P" --password-file "$T/pw"
is "$rc" 3 "the same add to the PKCS#12 store again: exit 3"
tf --root "$R" remove "$QV_SHA" --store "$P" --password-file "$T/pw"
is "$rc" 0 "remove from a PKCS#12 store: exit 0"
is "$(p12_cns "$R$P" "$T/pw")" "Bundle CA A|IdenTrust Commercial Root CA 1|" \
    "openssl pkcs12 -nokeys lists the two left after remove"

# ======================================================================
# remove --subject
R=$T/subject
S=/etc/ssl/subject.pem
mkdir -p "$R/etc/ssl"
ca "$T/one.pem" "Lonely Match CA"
ca "$T/twin1.pem" "Twin CA East"
ca "$T/twin2.pem" "Twin CA West"
cat "$T/one.pem" "$T/twin1.pem" "$T/twin2.pem" "$IT" >"$R$S"
tf --root "$R" remove --subject "Lonely Match" --store "$S"
is "$rc" 0 "remove --subject with one match: exit 0"
is "$(nblocks "$R$S")" 3 "remove --subject: one certificate fewer"
unlike "$R$S" "^$" "no empty line left where the block was" # the fixture has none
grep -q "$(sed -n 2p "$T/one.pem")" "$R$S"
is "$?" 1 "remove --subject: the matching certificate is gone"
sum=$(tree_sum "$R")
tf --root "$R" remove --subject "Twin CA" --store "$S"
is "$rc" 2 "remove --subject matching two certificates: exit 2"
like "$T/err" "Twin CA East" "the error lists the first match"
like "$T/err" "Twin CA West" "the error lists the second match"
like "$T/err" "$(fp "$T/twin1.pem")" "the error gives each match's SHA-256"
like "$T/err" "all-matching" "the error names --all-matching"
is "$(tree_sum "$R")" "$sum" "an ambiguous --subject changes nothing"
tf --root "$R" remove --subject "Twin CA" --all-matching --store "$S"
is "$rc" 0 "remove --subject --all-matching: exit 0"
is "$(nblocks "$R$S").$(fp "$R$S")" "1.$IT_SHA" "both twins removed, the IdenTrust root left"
tf --root "$R" remove --subject "No Such CA" --store "$S"
is "$rc" 3 "remove --subject matching nothing: exit 3"

# ======================================================================
# several stores in one change: one audit commit
R=$T/multi
mkdir -p "$R/etc/ssl/certs" "$R/etc/pki/tls"
cp "$T/a.pem" "$R/etc/ssl/certs/Bundle_CA_A.pem"
openssl rehash "$R/etc/ssl/certs" 2>/dev/null
cat "$QV" >"$R/etc/pki/tls/cert.pem"
tf --root "$R" add "$IT" --store /etc/pki/tls/cert.pem --store /etc/ssl/certs
is "$rc" 0 "add to two stores at once: exit 0"
is "$(agit "$R" rev-list --count HEAD)" 2 "two commits: the first record of the stores, then the change"
agit "$R" diff-tree --no-commit-id --name-only -r HEAD >"$T/files"
like "$T/files" "^etc/pki/tls/cert\.pem\$" "the one change commit holds the PEM bundle"
like "$T/files" "^etc/ssl/certs/[0-9a-f]{8}\.0\$" "... and the hash link of the directory"
is "$(agit "$R" log -1 --format=%B | grep -c '^Trustfix-Added:')" 2 \
    "the commit records the addition once per store"
tf --root "$R" remove "$IT_SHA" --store /etc/pki/tls/cert.pem --store /etc/ssl/certs
is "$rc.$(agit "$R" rev-list --count HEAD)" 0.3 "remove from both stores: exit 0, one more commit"

# ======================================================================
# a single DER file is not a writable store
R=$T/der
mkdir -p "$R/etc/der"
openssl x509 -in "$QV" -outform DER -out "$R/etc/der/root.der"
cp "$R/etc/der/root.der" "$T/der.orig"
tf --root "$R" add "$IT" --store /etc/der/root.der
is "$rc" 2 "add to a single DER file: exit 2"
like "$T/err" "single DER certificate.*replace the file" "the message says why and what to do"
like "$T/err" "/etc/der/root\.der" "the message names the store"
cmp -s "$R/etc/der/root.der" "$T/der.orig"
ok $? "the DER file is unchanged"

done_testing
