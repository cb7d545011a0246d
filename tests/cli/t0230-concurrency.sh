#!/bin/sh
# t0230-concurrency.sh - two runs at once: the second one exits 8 naming the
# holder of the lock, or waits for it with --wait; a stale lock file left by
# a killed run does not block; two real "trustfix add" runs started together
# change the store exactly once and leave exactly one commit.
. "$TF_SRC/tests/cli/lib.sh"

IT=$DATA/IdenTrust_Commercial_Root_CA_1.pem
QV=$DATA/QuoVadis_Root_CA_2.pem

R=$T/root
B=/etc/pki/tls/cert.pem
F=$R$B
LOCK=$R/var/lib/trustfix/lock
mkdir -p "$R/etc/pki/tls"
cat "$QV" >"$F"
ca() { "$MKCERT" --subject "/CN=$2/O=trustfix tests" --ca --key-type ec:P-256 -o "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", b - a }'; }

holder=
stop_holder() { # the sleep under flock(1) first: flock then lets go of the lock
	[ -s "$T/holder.pid" ] && kill "$(cat "$T/holder.pid")" 2>/dev/null
	[ -n "$holder" ] && wait "$holder" 2>/dev/null
	holder=
	rm -f "$T/holder.pid"
}
trap 'stop_holder; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
# hold SECONDS [LINE]: hold the lock with flock(1) (-o: only flock itself
# holds it), writing LINE in the lock file as a trustfix run does; returns
# once the lock is held (and the line written)
hold() {
	rm -f "$T/holder.pid"
	# shellcheck disable=SC2016 # expanded by the inner shell
	flock -o "$LOCK" sh -c 'echo $$ >"$1"; [ -z "$2" ] || printf "%s\n" "$2" >"$3"; exec sleep "$4"' \
	    sh "$T/holder.pid" "${2:-}" "$LOCK" "$1" >/dev/null 2>&1 &
	holder=$!
	i=0
	while [ ! -s "$T/holder.pid" ] && [ $i -lt 200 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	while [ -n "${2:-}" ] && [ "$(cat "$LOCK")" != "$2" ] && [ $i -lt 200 ]; do
		sleep 0.02
		i=$((i + 1))
	done
}

# a first change makes the state directory and the lock file
ca "$T/a.pem" "Lock CA A"
tf --root "$R" add "$T/a.pem" --store "$B"
is "$rc" 0 "a first change: exit 0"
[ -f "$LOCK" ]
ok $? "the state directory has its lock file"

# --- the lock held by another process: exit 8, nothing changed
hold 3
sum=$(tree_sum "$R")
tf --root "$R" add "$IT" --store "$B"
is "$rc" 8 "add while another process holds the lock: exit 8"
like "$T/err" "another trustfix run" "the message says another run holds the lock"
like "$T/err" "$LOCK" "the message names the lock file"
like "$T/err" "try again" "the message says what to do"
is "$(tree_sum "$R")" "$sum" "the locked-out run changed nothing"
tf --root "$R" remove 85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86 --store "$B"
is "$rc" 8 "remove while locked: exit 8"
tf --root "$R" rollback
is "$rc" 8 "rollback while locked: exit 8"
tf --root "$R" add "$IT" --store "$B" --dry-run
is "$rc" 0 "add --dry-run while locked: not blocked, exit 0"
tf --root "$R" log
is "$rc" 0 "log while locked: not blocked, exit 0"
is "$(tree_sum "$R")" "$sum" "nothing changed while the lock was held"
stop_holder

# --- the holder named, from what a trustfix run writes in the lock file
hold 3 "pid 424242 since 2026-01-02T03:04:05Z"
tf --root "$R" add "$IT" --store "$B"
is "$rc" 8 "locked by a (simulated) trustfix run: exit 8"
like "$T/err" "pid 424242" "the message names the holder's pid"
like "$T/err" "since 2026-01-02T03:04:05Z" "the message says since when"
tf --root "$R" add "$IT" --store "$B" --wait 1
is "$rc" 8 "--wait 1 while the lock is held 3 s: exit 8"
like "$T/err" "after waiting 1 s" "the message says how long it waited"
stop_holder

# --- --wait: waits for the holder, then does the change
hold 2
t0=$(now)
tf --root "$R" add "$IT" --store "$B" --wait 10
t1=$(now)
is "$rc" 0 "--wait 10 while the lock is held 2 s: exit 0"
[ "$(secs "$t0" "$t1")" -ge 1 ] && [ "$(secs "$t0" "$t1")" -lt 8 ]
ok $? "it waited for the holder, not for the whole --wait ($(secs "$t0" "$t1") s)"
grep -c "$(sed -n 2p "$IT")" "$F" | grep -qx 1
ok $? "the change was made once the lock was free"
stop_holder

# --- a stale lock file (a run killed with its line still in it) does not block
printf 'pid 999999 since 2020-01-01T00:00:00Z\n' >"$LOCK"
tf --root "$R" remove 5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae --store "$B"
is "$rc" 0 "a lock file with a dead run's line in it but no lock: exit 0"

# --- two real runs started together on the same store
race() { # race N ARGS...: start two identical runs at once
	n=$1
	shift
	for k in 1 2; do
		(
			rc=0
			timeout -k 5 20 "$TRUSTFIX" "$@" >"$T/race$n.$k.out" 2>"$T/race$n.$k.err" || rc=$?
			echo "$rc" >"$T/race$n.$k.rc"
		) &
	done
	wait
	echo "$(cat "$T/race$n.1.rc") $(cat "$T/race$n.2.rc")" | tr ' ' '\n' | sort | tr '\n' ' '
}
for n in 1 2 3; do
	ca "$T/race$n.pem" "Race CA $n"
	line=$(sed -n 2p "$T/race$n.pem")
	before=$(agit "$R" rev-list --count HEAD)
	rcs=$(race $n --root "$R" add "$T/race$n.pem" --store "$B")
	case "$rcs" in
	"0 3 " | "0 8 ") ok 0 "race $n: one run changed the store, the other exited 3 or 8 ($rcs)" ;;
	*)
		ok 1 "race $n: one run changed the store, the other exited 3 or 8 ($rcs)"
		cat "$T/race$n.1.err" "$T/race$n.2.err" | sed 's/^/# /'
		;;
	esac
	is "$(grep -c -- "$line" "$F")" 1 "race $n: the certificate is in the bundle once"
	is "$(agit "$R" log --format=%s "HEAD~$(($(agit "$R" rev-list --count HEAD) - before))..HEAD" |
	    grep -c "^add Race CA $n")" 1 "race $n: exactly one add commit in the audit log"
done

# with --wait both get their turn: one changes, the other finds nothing to do
ca "$T/race4.pem" "Race CA 4"
rcs=$(race 4 --root "$R" add "$T/race4.pem" --store "$B" --wait 10)
is "$rcs" "0 3 " "two runs with --wait: one changes (0), the other has nothing to do (3)"
is "$(grep -c -- "$(sed -n 2p "$T/race4.pem")" "$F")" 1 "--wait race: the certificate is in the bundle once"
is "$(agit "$R" log --format=%s | grep -c '^add Race CA 4')" 1 "--wait race: exactly one add commit"

# two different additions at once with --wait: both made, in two commits
ca "$T/race5.pem" "Race CA 5"
ca "$T/race6.pem" "Race CA 6"
(timeout -k 5 20 "$TRUSTFIX" --root "$R" add "$T/race5.pem" --store "$B" --wait 10 >/dev/null 2>&1; echo $? >"$T/r5") &
(timeout -k 5 20 "$TRUSTFIX" --root "$R" add "$T/race6.pem" --store "$B" --wait 10 >/dev/null 2>&1; echo $? >"$T/r6") &
wait
is "$(cat "$T/r5") $(cat "$T/r6")" "0 0" "two different additions with --wait: both exit 0"
is "$(grep -c -- "$(sed -n 2p "$T/race5.pem")" "$F").$(grep -c -- "$(sed -n 2p "$T/race6.pem")" "$F")" \
    1.1 "both certificates are in the bundle, once each (no lost update)"
is "$(agit "$R" log --format=%s | grep -c '^add Race CA [56]')" 2 "two add commits"
is "$(agit "$R" log --format=%s | grep -c '^external change')" 0 \
    "no run mistook the other's change for an external change"
agit "$R" fsck --full >/dev/null 2>&1
ok $? "git fsck --full after the races: clean"

done_testing
