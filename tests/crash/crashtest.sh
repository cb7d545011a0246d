#!/bin/sh
# tests/crash/crashtest.sh - kill trustfix at every write step of add, remove
# and rollback, run the next command, and check that every store is
# byte-identical to its old or its new state, that the audit log's head
# records exactly what is in the stores, and that git fsck is clean. Then
# fail writes, fsyncs and renames with ENOSPC and EIO: a clear error,
# nothing changed, no success commit. Prints TAP, and one closing line.
#
# Environment: TRUSTFIX (the binary), TF_SRC (the source tree).
set -u

tf=${TRUSTFIX:?set TRUSTFIX}
src=${TF_SRC:?set TF_SRC}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tf-crash.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }

idt=$src/tests/data/IdenTrust_Commercial_Root_CA_1.pem
qv=$src/tests/data/QuoVadis_Root_CA_2.pem
qvsha=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86

points=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", "[a-z]*" },.*/\1/p' "$src/txn/fault.c")
[ -n "$points" ] || { echo "Bail out! no fault points in txn/fault.c"; exit 1; }

# A device with two stores: a PEM bundle and an OpenSSL hashed directory.
make_root() {
	r=$1
	mkdir -p "$r/etc/ssl/certs" "$r/etc/ssl/hashed" "$r/etc/trustfix"
	cat "$qv" > "$r/etc/ssl/certs/ca-certificates.crt"
	printf '# local roots follow\n' >> "$r/etc/ssl/certs/ca-certificates.crt"
	cp "$qv" "$r/etc/ssl/hashed/QuoVadis_Root_CA_2.pem"
	openssl rehash "$r/etc/ssl/hashed" 2>/dev/null
	cat > "$r/etc/trustfix/trustfix.conf" <<CONF
[store bundle]
path = /etc/ssl/certs/ca-certificates.crt
[store hashed]
path = /etc/ssl/hashed
CONF
}

# A digest of the stores: names, link targets and contents.
stores_sum() {
	(cd "$1/etc/ssl" && find certs hashed -mindepth 1 ! -name '.*' | LC_ALL=C sort |
		while read -r f; do
			if [ -L "$f" ]; then echo "L $f $(readlink "$f")"
			else echo "F $f $(sha256sum < "$f" | cut -c1-64)"; fi
		done) | sha256sum | cut -c1-64
}

# The same digest of what the audit log's head records for the stores.
audit_sum() {
	g=$1/var/lib/trustfix/audit.git
	(cd "$tmp" && git --git-dir="$g" ls-tree -r HEAD -- etc/ssl/certs etc/ssl/hashed |
		LC_ALL=C sort -k4 | while read -r mode type id path; do
			p=${path#etc/ssl/}
			if [ "$mode" = 120000 ]; then
				echo "L $p $(git --git-dir="$g" cat-file blob "$id")"
			else
				echo "F $p $(git --git-dir="$g" cat-file blob "$id" | sha256sum | cut -c1-64)"
			fi
		done) | sha256sum | cut -c1-64
}

head_id() { git --git-dir="$1/var/lib/trustfix/audit.git" rev-parse -q --verify HEAD 2>/dev/null; }

# Operations, each from a prepared root: the state before it.
op_cmd() {
	case $1 in
	add) echo "add $idt" ;;
	remove) echo "remove $qvsha" ;;
	rollback) echo "rollback" ;;
	esac
}

# A command that recovers and then has nothing to do in the old and the new
# state alike: what is left is the recovered state itself.
next_cmd() {
	case $1 in
	add) echo "add $qv" ;;
	*) echo "add $idt" ;;
	esac
}

prepare() {
	make_root "$2"
	case $1 in
	add) "$tf" --root "$2" remove -q --dry-run "$qvsha" >/dev/null 2>&1 || true ;;
	remove) "$tf" --root "$2" add -q "$idt" >/dev/null ;;
	rollback) "$tf" --root "$2" add -q "$idt" >/dev/null &&
		"$tf" --root "$2" remove -q "$qvsha" >/dev/null ;;
	esac
}

ops="add remove rollback"
crashes=0
for op in $ops; do
	# the states before and after, from a run without faults
	prepare "$op" "$tmp/$op.old"
	cp -a "$tmp/$op.old" "$tmp/$op.new"
	# shellcheck disable=SC2046
	"$tf" --root "$tmp/$op.new" -q $(op_cmd "$op") >/dev/null 2>&1
	old=$(stores_sum "$tmp/$op.old")
	new=$(stores_sum "$tmp/$op.new")
	if [ "$old" = "$new" ]; then
		notok "$op: the operation changes the stores"
		continue
	fi
	for p in $points; do
		i=1
		while [ $i -le 50 ]; do
			r=$tmp/run
			rm -rf "$r"
			cp -a "$tmp/$op.old" "$r"
			# shellcheck disable=SC2046
			TRUSTFIX_FAULT="crash@$p#$i" "$tf" --root "$r" -q $(op_cmd "$op") \
				>/dev/null 2>"$tmp/err"
			rc=$?
			[ $rc -eq 137 ] || break
			crashes=$((crashes + 1))
			echo "$p#$i" >> "$tmp/points"
			# the next command finishes or undoes the interrupted change
			# shellcheck disable=SC2046
			"$tf" --root "$r" -q $(next_cmd "$op") >/dev/null 2>"$tmp/err2"
			rc2=$?
			now=$(stores_sum "$r")
			rec=$(audit_sum "$r")
			if [ $rc2 -ne 0 ] && [ $rc2 -ne 3 ]; then
				notok "$op crash@$p#$i: next command exits $rc2: $(head -c 300 "$tmp/err2")"
			elif [ "$now" != "$old" ] && [ "$now" != "$new" ]; then
				notok "$op crash@$p#$i: stores neither old nor new"
			elif [ "$now" != "$rec" ]; then
				notok "$op crash@$p#$i: audit head does not match the stores"
			elif ! git --git-dir="$r/var/lib/trustfix/audit.git" fsck --full >/dev/null 2>&1; then
				notok "$op crash@$p#$i: git fsck --full fails"
			else
				ok "$op crash@$p#$i: consistent"
			fi
			i=$((i + 1))
		done
	done
done

# ENOSPC and EIO: a clear error, nothing changed, no new commit
for op in $ops; do
	for spec in enospc@write eio@write eio@fsync eio@rename enospc@create; do
		r=$tmp/run
		rm -rf "$r"
		cp -a "$tmp/$op.old" "$r"
		before=$(head_id "$r")
		# shellcheck disable=SC2046
		TRUSTFIX_FAULT="$spec" "$tf" --root "$r" $(op_cmd "$op") >/dev/null 2>"$tmp/err"
		rc=$?
		if [ $rc -eq 0 ] || [ $rc -eq 137 ]; then
			notok "$op $spec: exit $rc, expected an error"
		elif ! grep -q . "$tmp/err"; then
			notok "$op $spec: no error message"
		elif [ "$(stores_sum "$r")" != "$(stores_sum "$tmp/$op.old")" ]; then
			notok "$op $spec: stores changed"
		elif [ "$(head_id "$r")" != "$before" ] &&
			! git --git-dir="$r/var/lib/trustfix/audit.git" log -1 --format=%B |
				grep -q 'Trustfix-Baseline\|Trustfix-Drift'; then
			notok "$op $spec: a commit was recorded"
		else
			ok "$op $spec: error '$(head -n 1 "$tmp/err" | cut -c1-80)', nothing changed"
		fi
	done
done

echo "1..$n"
nops=$(echo $ops | wc -w)
# distinct crash points (a step and its occurrence), each tried in every
# operation that reaches it: $crashes runs in all
npoints=$(sort -u "$tmp/points" | wc -l)
if [ $fail -eq 0 ]; then
	echo "# $crashes crashes in all"
	echo "crashtest: $npoints crash points x $nops operations, all consistent"
else
	echo "crashtest: $fail of $n checks failed"
	exit 1
fi
