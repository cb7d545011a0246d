# tests/cli/est-lib.sh - sourced by the EST tests of the real binary
# (t05[1-9]0-*.sh) after lib.sh: start and stop build/tools/est-server on
# 127.0.0.1, and run renew/enroll against a temporary --root.

ESTD=$TF_TOOLS/est-server
if [ ! -x "$ESTD" ]; then
	echo "Bail out! $ESTD is missing: build it first (make check-run does)"
	exit 1
fi
printf 'open sesame\n' >"$T/pw"
R=$T/root
mkdir -p "$R"
CERT=/etc/trustfix/client.pem
KEY=/etc/trustfix/client.key
CHAIN=/etc/trustfix/chain.pem

# est_start NAME [OPTIONS]: an EST server on a free port with the CA in
# $T/ca (made by the first server, shared by the others); sets $URL (the
# server's https:// URL); pid in $T/NAME.pid, log in $T/NAME.log
est_start() {
	_n=$1
	shift
	rm -f "$T/$_n.port"
	"$ESTD" --init-ca "$T/ca" --port 0 --port-file "$T/$_n.port" --pid-file "$T/$_n.pid" \
	    --log "$T/$_n.log" --auth basic --user alice --password-file "$T/pw" "$@" \
	    >/dev/null 2>"$T/$_n.err" &
	echo $! >"$T/$_n.pid.start" # stopped even if it dies before writing its pid file
	_i=0
	while [ ! -s "$T/$_n.port" ] && [ $_i -lt 200 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	[ -s "$T/$_n.port" ] || diag "server $_n did not start: $(cat "$T/$_n.err")"
	URL=https://127.0.0.1:$(cat "$T/$_n.port" 2>/dev/null)
}
# est_stop NAME: SIGTERM by pid, and wait until the server has gone
est_stop() {
	for _f in "$T/$1.pid" "$T/$1.pid.start"; do
		[ -s "$_f" ] || continue
		_p=$(cat "$_f")
		kill "$_p" 2>/dev/null
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ $_i -lt 100 ]; do
			sleep 0.02
			_i=$((_i + 1))
		done
		rm -f "$_f"
	done
}
est_stop_all() {
	for _f in "$T"/*.pid.start; do
		[ -e "$_f" ] && est_stop "$(basename "$_f" .pid.start)"
	done
}
trap 'est_stop_all; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT

# tfe COMMAND [ARGS]: trustfix COMMAND on $R against $URL, with the files,
# trust anchor and Basic credentials given as flags (no configuration)
tfe() {
	_c=$1
	shift
	tf --root "$R" "$_c" --server "$URL" --ca-file "$T/ca/ca.pem" --username alice \
	    --password-file "$T/pw" --cert "$CERT" --key "$KEY" --chain "$CHAIN" "$@"
}

# serial FILE / spki FILE: of a certificate; keyspki FILE: of a private key
serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null | cut -d= -f2; }
spki() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64; }
keyspki() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-64; }
# mode FILE: its permission bits, octal
mode() { stat -c '%a' "$1"; }
# audit_objects ROOT: every object of the audit log, raw
audit_objects() { agit "$1" cat-file --batch-all-objects --batch 2>/dev/null; }
