#!/bin/sh
# t0340-bundle-fetch.sh - "trustfix bundle stage URL": fetched over HTTPS
# from a test server on 127.0.0.1, the server's certificate verified against
# --ca-file (and refused without it), plain http refused, a body over the
# size cap refused, an HTTP error reported as a network error, and a hostile
# archive from the network refused like one from a file.
. "$TF_SRC/tests/cli/lib.sh"

unset https_proxy HTTPS_PROXY http_proxy HTTP_PROXY all_proxy ALL_PROXY
bundle_signer signer
R=$T/root
bundle_root "$R"
W=$T/www
mkdir -p "$W"
bundle_make "$W/v1.tar.gz" 1
head -c $((20 * 1024 * 1024)) /dev/zero >"$W/huge.tar.gz"
printf 'not an archive at all' >"$W/junk.tar.gz"

# the server's CA and certificate (for 127.0.0.1)
"$MKCERT" --subject "/CN=Test Web CA/O=trustfix tests" --ca --key-type ec:P-256 \
    --key-out "$T/webca.key" -o "$T/webca.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/web.key" \
    -subj "/CN=127.0.0.1" -out "$T/web.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$T/web.ext"
openssl x509 -req -in "$T/web.csr" -CA "$T/webca.pem" -CAkey "$T/webca.key" -CAcreateserial \
    -days 2 -extfile "$T/web.ext" -out "$T/web.pem" 2>/dev/null
ok $? "the test server's certificate is made"

cat >"$T/server.py" <<'PY'
import http.server, os, ssl, sys

root, cert, key, portfile = sys.argv[1:5]

class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=root, **kw)

    def do_GET(self):
        if self.path == "/redirect-to-http":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/v1.tar.gz")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *a):
        pass

httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(httpd.server_address[1]))
os.rename(portfile + ".tmp", portfile)
httpd.serve_forever()
PY
$PYTHON "$T/server.py" "$W" "$T/web.pem" "$T/web.key" "$T/port" 2>"$T/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ ! -s "$T/port" ]; then
	echo "Bail out! the test HTTPS server did not start: $(cat "$T/server.err")"
	exit 1
fi
URL=https://127.0.0.1:$(cat "$T/port")

before=$(fast_tree_sum "$R")
tf --root "$R" bundle stage "$URL/v1.tar.gz"
is "$rc" 4 "without --ca-file the test server's certificate does not verify: exit 4"
like "$T/err" "the server's certificate does not verify \(pin its CA with --ca-file\)" \
    "the message says what to do"
is "$(fast_tree_sum "$R")" "$before" "nothing staged"

tf --root "$R" bundle stage "http://127.0.0.1:$(cat "$T/port")/v1.tar.gz"
is "$rc" 2 "an http:// URL: exit 2"
like "$T/err" "only https:// URLs are fetched" "the message says why"

tf --root "$R" bundle stage --ca-file "$T/webca.pem" "$URL/redirect-to-http"
is "$rc" 5 "a redirect to http:// is not followed: exit 5"
is "$(fast_tree_sum "$R")" "$before" "nothing staged"

tf --root "$R" bundle stage --ca-file "$T/webca.pem" "$URL/missing.tar.gz"
is "$rc" 5 "HTTP 404: a network or server error (exit 5)"
like "$T/err" "the server answered HTTP 404" "the message gives the status"

tf --root "$R" bundle stage --ca-file "$T/webca.pem" "$URL/huge.tar.gz"
is "$rc" 4 "a 20 MiB body: refused at the size cap (exit 4)"
like "$T/err" "is larger than 16777216 bytes" "the message names the cap"

tf --root "$R" bundle stage --ca-file "$T/webca.pem" "$URL/junk.tar.gz"
is "$rc" 4 "a body that is not a bundle: exit 4"
like "$T/err" "https://127\.0\.0\.1:[0-9]+/junk\.tar\.gz' is not a bundle archive" "the message names the URL"
is "$(fast_tree_sum "$R")" "$before" "nothing staged by any of them"

tf --root "$R" bundle stage --ca-file "$T/webca.pem" "$URL/v1.tar.gz"
is "$rc" 0 "with --ca-file: fetched, verified, staged"
[ -s "$R/var/lib/trustfix/staging/$B_NAME/manifest.json" ]
ok $? "the staged bundle is there"
tf --root "$R" apply "$B_NAME"
is "$rc" 0 "and applies"

kill $SERVER 2>/dev/null
wait $SERVER 2>/dev/null
tf --root "$R" bundle stage --ca-file "$T/webca.pem" "$URL/v1.tar.gz"
is "$rc" 5 "the server gone: exit 5"

done_testing
