#!/bin/sh
# t0240-security.sh - what a hostile or careless device cannot make trustfix
# do: write through a symbolic link planted at a store, a lock, a journal or
# the state directory; touch any file outside --root; put a private key in
# the audit log (PEM, DER or inside a PKCS#12 store); use a store path
# with '..'.
. "$TF_SRC/tests/cli/lib.sh"

QV=$DATA/QuoVadis_Root_CA_2.pem
QV_SHA=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86
IT=$DATA/IdenTrust_Commercial_Root_CA_1.pem

ca() { # ca FILE CN [mkcert options]
	f=$1 cn=$2
	shift 2
	"$MKCERT" --subject "/CN=$cn/O=trustfix tests" --ca --key-type ec:P-256 -o "$f" "$@"
}
# every blob, tree and commit of the audit repository under ROOT, as text
objects() { agit "$1" cat-file --batch-all-objects --batch 2>/dev/null; }
# key_lines KEYFILE: the base64 lines of a PEM key
key_lines() { grep -v -- '-----' "$1"; }
# no_key_bytes ROOT KEYFILE WHAT: no object holds a PRIVATE KEY marker or a line of the key
no_key_bytes() {
	objects "$1" >"$T/objects"
	[ -s "$T/objects" ] || diag "no audit object read under $1"
	unlike "$T/objects" "PRIVATE KEY" "$3: no audit object holds \"PRIVATE KEY\""
	key_lines "$2" >"$T/keylines"
	! grep -F -q -f "$T/keylines" "$T/objects"
	ok $? "$3: no audit object holds a line of the key's base64"
}

# A sentinel directory outside every root: no command may change it.
SENT=$T/sentinel
mkdir -p "$SENT"
cp "$QV" "$SENT/bundle.pem"
ca "$SENT/victim.pem" "Victim CA"
echo "do not touch" >"$SENT/lockvictim"
echo "do not touch" >"$SENT/journalvictim"
mkdir "$SENT/state"
SENT_SUM=$(tree_sum "$SENT")
sentinel_ok() { is "$(tree_sum "$SENT")" "$SENT_SUM" "$1: nothing outside the root changed"; }

# ======================================================================
# a symbolic link planted at a store path, pointing outside the root
R=$T/link
B=/etc/ssl/certs/ca-certificates.crt
mkdir -p "$R/etc/ssl/certs" "$R$SENT"
ln -s "$SENT/bundle.pem" "$R$B"
# the same absolute path inside the root, so that the store can be read
cp "$QV" "$R$SENT/bundle.pem"
tf --root "$R" add "$IT" --store "$B"
is "$rc" 0 "add to a store that is an absolute link: exit 0 (read inside the root)"
sentinel_ok "add through a planted link"
[ -f "$R$B" ] && [ ! -L "$R$B" ]
ok $? "the planted link was replaced by a regular file, not followed"
is "$(openssl crl2pkcs7 -nocrl -certfile "$R$B" | openssl pkcs7 -print_certs -noout | grep -c '^subject')" 2 \
    "the new file holds the old and the added certificate"
cmp -s "$R$SENT/bundle.pem" "$QV"
ok $? "the link's target inside the root is not written either"
tf --root "$R" rollback
is "$rc" 0 "rollback of that change: exit 0"
is "$(readlink "$R$B")" "$SENT/bundle.pem" "rollback puts the link back as it was recorded"
sentinel_ok "rollback restoring the link"

# a link that escapes with '..' and one whose target exists only outside the root
R=$T/escape
mkdir -p "$R/etc/pki/tls" "$R/etc/ssl"
ln -s "../../../../sentinel/bundle.pem" "$R/etc/pki/tls/cert.pem"
ln -s "$SENT/bundle.pem" "$R/etc/ssl/outside.pem"
tf --root "$R" add "$IT" --store /etc/pki/tls/cert.pem
isnt_zero=$([ "$rc" -ne 0 ] && echo yes)
is "$isnt_zero.$rc" "yes.2" "add to a relative link escaping the root: the store is not found inside the root, exit 2"
sentinel_ok "add through a '../..' link"
tf --root "$R" add "$IT" --store /etc/ssl/outside.pem
is "$rc" 2 "add to an absolute link whose target exists only outside the root: exit 2"
sentinel_ok "add through an absolute link leading outside"

# ======================================================================
# links in a hashed directory leading outside: add, remove, rollback
R=$T/hashed
H=/etc/ssl/certs
mkdir -p "$R$H"
ca "$R$H/Inside.pem" "Inside CA"
ca "$R$H/Victim_twin.pem" "Victim CA"
openssl rehash "$R$H" 2>/dev/null
VHASH=$(openssl x509 -in "$SENT/victim.pem" -noout -subject_hash)
ln -s "$SENT/victim.pem" "$R$H/planted.pem"
ln -s "$SENT/victim.pem" "$R$H/$VHASH.1"
ln -s "../../../../../../../../../..$SENT/victim.pem" "$R$H/$VHASH.2"
ca "$T/new.pem" "Victim CA"
for cmd in "add $T/new.pem --store $H" \
    "add $IT --store $H" \
    "remove $(pem_sha256 "$R$H/Victim_twin.pem") --store $H" \
    "remove $(pem_sha256 "$SENT/victim.pem") --store $H" \
    "add $IT --store $H --dry-run" \
    "rollback" \
    "rollback --to HEAD~2" \
    "rollback --force"; do
	# shellcheck disable=SC2086
	tf --root "$R" $cmd
	[ "$rc" -lt 124 ]
	ok $? "trustfix $(echo "$cmd" | sed "s|$T/||g") with links leading outside: no crash (exit $rc)"
	sentinel_ok "$(echo "$cmd" | cut -d' ' -f1)"
done

# ======================================================================
# planted links in the state directory
R=$T/state
B=/etc/ssl/bundle.pem
mkdir -p "$R/etc/ssl" "$R/var/lib/trustfix"
cp "$QV" "$R$B"
ln -s "$SENT/lockvictim" "$R/var/lib/trustfix/lock"
tf --root "$R" add "$IT" --store "$B"
[ "$rc" -ne 0 ]
ok $? "the lock file is a planted link: refused (exit $rc)"
like "$T/err" "lock" "the message names the lock"
sentinel_ok "a planted lock link"
cmp -s "$R$B" "$QV"
ok $? "a planted lock link: the store is unchanged"
rm "$R/var/lib/trustfix/lock"
ln -s "$SENT/journalvictim" "$R/var/lib/trustfix/journal"
tf --root "$R" add "$IT" --store "$B"
[ "$rc" -ne 0 ]
ok $? "the journal is a planted link: refused (exit $rc)"
like "$T/err" "journal" "the message names the journal"
sentinel_ok "a planted journal link"
cmp -s "$R$B" "$QV"
ok $? "a planted journal link: the store is unchanged"
R=$T/state2
mkdir -p "$R/etc/ssl" "$R/var/lib"
cp "$QV" "$R$B"
ln -s "$SENT/state" "$R/var/lib/trustfix"
tf --root "$R" add "$IT" --store "$B"
sentinel_ok "the state directory is a planted link (exit $rc)"
[ -z "$(ls -A "$SENT/state")" ]
ok $? "no audit repository or lock made outside the root"

# ======================================================================
# private keys never reach the audit log
R=$T/key
B=/etc/ssl/bundle.pem
mkdir -p "$R/etc/ssl" "$R/etc/certdir"
ca "$T/server.pem" "Server With Key" --key-out "$T/server.key"
"$MKCERT" --subject "/CN=RSA Key Holder" --key-type rsa:2048 --key-out "$T/rsa.key" -o "$T/rsa.pem"
cp "$QV" "$R$B"
tf --root "$R" add "$T/server.pem" --store "$B"
is "$rc" 0 "a first change on a clean bundle: exit 0 (the audit log exists)"
cat "$T/server.key" >>"$R$B"
sum=$(tree_sum "$R")
tf --root "$R" add "$IT" --store "$B"
is "$rc" 4 "add to a bundle holding a PRIVATE KEY block: refused, exit 4"
like "$T/err" "private key" "the message says it is about a private key"
like "$T/err" "bundle\.pem" "the message names the file"
is "$(tree_sum "$R")" "$sum" "nothing written: the store, the state directory, the audit log"
tf --root "$R" remove "$QV_SHA" --store "$B"
is "$rc" 4 "remove from a bundle holding a key: refused, exit 4"
is "$(tree_sum "$R")" "$sum" "nothing written by the refused remove"
tf --root "$R" rollback
is "$rc" 4 "rollback while the bundle holds a key (not recorded): refused, exit 4"
grep -q 'PRIVATE KEY' "$R$B"
ok $? "the rollback did not overwrite the key the operator put there"
no_key_bytes "$R" "$T/server.key" "key in a PEM bundle"

# the key as a file of its own in a certificate directory, PEM and DER
cp "$QV" "$R/etc/certdir/quovadis.pem"
cp "$T/rsa.key" "$R/etc/certdir/server.key"
tf --root "$R" add "$IT" --store /etc/certdir
is "$rc" 4 "add to a directory holding a PEM key file: refused, exit 4"
like "$T/err" "server\.key" "the message names the key file"
rm "$R/etc/certdir/server.key"
openssl pkey -in "$T/rsa.key" -outform DER -out "$R/etc/certdir/server.der" 2>/dev/null
tf --root "$R" add "$IT" --store /etc/certdir
is "$rc" 4 "add to a directory holding a DER key file: refused, exit 4"
like "$T/err" "server\.der" "the message names the DER key file"
no_key_bytes "$R" "$T/rsa.key" "key files in a directory"
openssl pkey -in "$T/rsa.key" -outform DER 2>/dev/null | od -An -tx1 | tr -d ' \n' | cut -c1-400 >"$T/der.hex"
objects "$R" | od -An -tx1 | tr -d ' \n' >"$T/objects.hex"
! grep -q -F -f "$T/der.hex" "$T/objects.hex"
ok $? "key files in a directory: no audit object holds the DER key's bytes"

# a certificate file to add that also holds its key: only the certificate goes in
R=$T/keyin
mkdir -p "$R/etc/ssl"
cp "$QV" "$R$B"
cat "$T/server.pem" "$T/server.key" >"$T/combined.pem"
tf --root "$R" add "$T/combined.pem" --store "$B"
is "$rc" 0 "add of a certificate file that also holds its key: exit 0"
unlike "$R$B" "PRIVATE KEY" "the key did not reach the store"
! grep -F -q -f "$T/keylines" "$R$B"
ok $? "no line of the key in the store"
no_key_bytes "$R" "$T/server.key" "a certificate file with its key"

# a PKCS#12 store with a key bag: the key, even encrypted, stays out of the log
R=$T/p12
P=/etc/pki/keystore.p12
mkdir -p "$R/etc/pki"
printf 'store secret\n' >"$T/pw"
openssl pkcs12 -export -in "$T/server.pem" -inkey "$T/server.key" -passout file:"$T/pw" -out "$R$P"
tf --root "$R" add "$IT" --store "$P" --password-file "$T/pw"
is "$rc" 4 "add to a PKCS#12 store holding a private key: refused, exit 4"
found=0
if [ -d "$R/var/lib/trustfix/audit.git" ]; then
	for b in $(agit "$R" cat-file --batch-all-objects --batch-check | awk '$2 == "blob" { print $1 }'); do
		agit "$R" cat-file blob "$b" >"$T/blob"
		if openssl pkcs12 -in "$T/blob" -passin file:"$T/pw" -nodes 2>/dev/null | grep -q 'PRIVATE KEY'; then
			found=$((found + 1))
		fi
	done
fi
is "$found" 0 "no audit blob is a PKCS#12 file that opens to a private key"

# ======================================================================
# store paths with '..'
R=$T/dots
mkdir -p "$R/etc/ssl"
cp "$QV" "$R/etc/ssl/bundle.pem"
cp "$QV" "$T/outside.pem"
sum=$(tree_sum "$R")
tf --root "$R" add "$IT" --store /etc/ssl/../ssl/bundle.pem
is "$rc" 2 "--store with '..': exit 2"
like "$T/err" "\.\." "the message names the '..'"
tf --root "$R" add "$IT" --store ../../outside.pem
is "$rc" 2 "--store ../../outside.pem: exit 2"
tf --root "$R" add "$IT" --store "/..$T/outside.pem"
is "$rc" 2 "--store /../<outside>: exit 2"
mkdir -p "$R/etc/trustfix"
printf '[store escape]\npath = /etc/ssl/../../../outside.pem\n' >"$R/etc/trustfix/trustfix.conf"
tf --root "$R" add "$IT"
is "$rc" 2 "a configured store path with '..': exit 2"
rm "$R/etc/trustfix/trustfix.conf"
rmdir "$R/etc/trustfix"
is "$(tree_sum "$R")" "$sum" "the refused '..' paths changed nothing under the root"
cmp -s "$T/outside.pem" "$QV"
ok $? "the refused '..' paths changed nothing outside"
# a file forged to look like a key vault reference: a rollback never writes
# a key there (only where a change recorded a key file)
R=$T/forge
mkdir -p "$R/etc/certdir"
cp "$QV" "$R/etc/certdir/quovadis.pem"
tf --root "$R" add "$IT" --store /etc/certdir
is "$rc" 0 "forge: a first change"
z=0000000000000000000000000000000000000000000000000000000000000000
printf 'trustfix key vault reference\nspki-sha256: %s\ncontent-sha256: %s\nkept in /var/lib/trustfix/keys/x\n' \
    "$z" "$z" >"$R/etc/certdir/forged.pem"
tf --root "$R" remove "$QV_SHA" --store /etc/certdir
is "$rc" 0 "forge: a change that records the forged file as drift"
drift=$(agit "$R" log -1 --skip=1 --format=%H)
agit "$R" show --stat "$drift" | grep -q forged.pem
ok $? "forge: the forged file is in the record before the change"
rm "$R/etc/certdir/forged.pem"
tf --root "$R" rollback --to "$drift" --force
is "$rc" 4 "forge: rollback to a state holding a forged reference is refused: exit 4"
like "$T/err" "forged\.pem.* no change made it a key file" "forge: the message names the file"
[ ! -e "$R/etc/certdir/forged.pem" ]
ok $? "forge: nothing was written there"

sentinel_ok "every command above"

done_testing
