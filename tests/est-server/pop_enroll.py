#!/usr/bin/env python3
# tests/est-server/pop_enroll.py - enroll with proof of possession, to test
# the server's check: the CSR's challengePassword carries the channel binding
# of the very connection that posts it (TLS 1.2 tls-unique through Python's
# ssl, TLS 1.3 tls-exporter through openssl s_client -keymatexport).
#
# usage: pop_enroll.py PORT CAFILE KEY 1.2|1.3 good|bad USER:PASSWORD
# prints the HTTP status of the answer.
import base64, os, re, socket, ssl, subprocess, sys, tempfile

port, cafile, key, version, mode, cred = sys.argv[1:7]


def make_csr(challenge):
    with tempfile.NamedTemporaryFile("w", suffix=".cnf", delete=False) as f:
        f.write("[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n"
                "[dn]\nCN = pop-device\n[attrs]\nchallengePassword = %s\n" % challenge)
    try:
        der = subprocess.run(["openssl", "req", "-new", "-key", key, "-config", f.name,
                              "-outform", "DER"], check=True, capture_output=True).stdout
    finally:
        os.unlink(f.name)
    return base64.encodebytes(der)


def request(body):
    auth = base64.b64encode(cred.encode()).decode()
    head = ("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n"
            "Authorization: Basic %s\r\nContent-Type: application/pkcs10\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (port, auth, len(body)))
    return head.encode() + body


def status(data):
    m = re.search(rb"HTTP/1\.1 (\d+)", data)
    return m.group(1).decode() if m else "none"


if version == "1.2":
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                         server_hostname="127.0.0.1") as s:
        cb = s.get_channel_binding("tls-unique")
        if mode == "bad":
            cb = bytes(len(cb))
        s.sendall(request(make_csr(base64.b64encode(cb).decode())))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    print(status(data))
else:
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:" + port, "-CAfile",
                          cafile, "-tls1_3", "-nocommands", "-keymatexport",
                          "EXPORTER-Channel-Binding", "-keymatexportlen", "32"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    material = None
    for line in p.stdout:
        m = re.search(rb"Keying material: ([0-9A-Fa-f]+)", line)
        if m:
            material = bytes.fromhex(m.group(1).decode())
            break
    if material is None:
        print("none")
        sys.exit(1)
    if mode == "bad":
        material = bytes(32)
    p.stdin.write(request(make_csr(base64.b64encode(material).decode())))
    p.stdin.flush()
    out = p.stdout.read()
    p.wait()
    print(status(out))
