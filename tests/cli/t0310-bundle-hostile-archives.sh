#!/bin/sh
# t0310-bundle-hostile-archives.sh - a corpus of hostile bundle archives,
# tar and zip, generated here: path traversal, absolute names, links,
# devices, FIFOs, set-id bits, duplicates, over-long names, compression
# bombs, too many entries, truncation and trailing garbage. Each one, given
# to "bundle verify", "bundle stage" and "apply": exit 4, a message naming
# the entry and the rule, quickly, and nothing changed under the root or
# outside it.
. "$TF_SRC/tests/cli/lib.sh"

bundle_signer signer
R=$T/root
bundle_root "$R"
mkdir -p "$T/outside" "$T/corpus"
echo "victim" >"$T/outside/victim"

# a root with history: v1 staged and applied, v2 staged
bundle_make "$T/v1.tar.gz" 1
bundle_make "$T/v2.tar.gz" 2
tf --root "$R" apply "$T/v1.tar.gz"
is "$rc" 0 "setup: bundle v1 applied"
tf --root "$R" bundle stage "$T/v2.tar.gz"
is "$rc" 0 "setup: bundle v2 staged"
bundle_unpack "$T/v2.tar.gz" "$T/good"

# ---------------------------------------------------------------------------
# The corpus. Written with Python's tarfile and zipfile; the bombs are
# written as raw deflate streams, one compressed block repeated, so that a
# 1 GiB entry costs a second and a megabyte here.
cat >"$T/gen.py" <<'PY'
import io, os, struct, sys, tarfile, zipfile, zlib

out, good, outside = sys.argv[1], sys.argv[2], sys.argv[3]
MiB = 1 << 20

def good_files():
    files = []
    for name in ("manifest.json", "manifest.json.sig"):
        files.append((name, open(os.path.join(good, name), "rb").read()))
    for name in sorted(os.listdir(os.path.join(good, "certs"))):
        files.append(("certs/" + name, open(os.path.join(good, "certs", name), "rb").read()))
    return files

def info(name, type=tarfile.REGTYPE, size=0, mode=0o644, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.linkname = type, size, mode, linkname
    ti.uid = ti.gid = 0
    ti.mtime = 1700000000
    return ti

def tgz(name, members, fmt=tarfile.PAX_FORMAT):
    """members: (TarInfo, data or None), after the good files unless 'only'."""
    with tarfile.open(os.path.join(out, name), "w:gz", format=fmt) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)

def good_members():
    return [(info(n, size=len(d)), d) for n, d in good_files()]

def reg(name, data=b"x", mode=0o644):
    return (info(name, size=len(data), mode=mode), data)

def gz_stream(path, pieces, level=9):
    """pieces: (bytes, count); a count > 1 repeats one compressed block."""
    crc, size = 0, 0
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
        for data, count in pieces:
            if count == 1:
                f.write(c.compress(data))
            else:
                f.write(c.flush(zlib.Z_FULL_FLUSH))
                block = c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)
                again = c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)
                assert block == again
                f.write(block * count)
            for _ in range(count):
                crc = zlib.crc32(data, crc)
            size += len(data) * count
        f.write(c.flush())
        f.write(struct.pack("<II", crc & 0xffffffff, size & 0xffffffff))

def tar_bytes(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return b.getvalue()

# --- tar.gz
tgz("dotdot.tar.gz", good_members() + [reg("../x")])
tgz("dotdot-inner.tar.gz", good_members() + [reg("a/../../x")])
tgz("absolute.tar.gz", good_members() + [reg("/tmp/trustfix-evil.pem")])
tgz("symlink-then-file.tar.gz",
    [(info("certs", tarfile.SYMTYPE, linkname=outside), None), reg("certs/evil.pem", b"evil")])
tgz("symlink-relative.tar.gz",
    [(info("certs", tarfile.SYMTYPE, linkname="../../../../../../../../" + outside), None),
     reg("certs/evil.pem", b"evil")])
tgz("hardlink.tar.gz", good_members() +
    [(info("certs/victim.pem", tarfile.LNKTYPE, linkname=outside + "/victim"), None)])
dev = info("certs/null.pem", tarfile.CHRTYPE)
dev.devmajor, dev.devminor = 1, 3
tgz("device.tar.gz", good_members() + [(dev, None)])
blk = info("certs/sda.pem", tarfile.BLKTYPE)
blk.devmajor, blk.devminor = 8, 0
tgz("block-device.tar.gz", good_members() + [(blk, None)])
tgz("fifo.tar.gz", good_members() + [(info("certs/fifo.pem", tarfile.FIFOTYPE), None)])
tgz("setuid.tar.gz", [reg(n, d, 0o4755 if n.startswith("certs/") else 0o644)
                      for n, d in good_files()])
tgz("setgid.tar.gz", [reg(n, d, 0o2644 if n == "manifest.json" else 0o644)
                      for n, d in good_files()])
tgz("duplicate.tar.gz", good_members() + [reg("manifest.json", b"{}")])
tgz("duplicate-dot.tar.gz", good_members() + [reg("./manifest.json", b"{}")])
tgz("dir-then-symlink.tar.gz", [(info("certs", tarfile.DIRTYPE, mode=0o755), None),
                                (info("certs", tarfile.SYMTYPE, linkname="/etc"), None)]
    + good_members())
tgz("long-name.tar.gz", good_members() + [reg("certs/" + "a" * 5000 + ".pem")])
tgz("long-component.tar.gz", good_members() + [reg("certs/" + "b" * 300 + ".pem")])
tgz("backslash.tar.gz", good_members() + [reg("certs\\..\\..\\x.pem")])
tgz("control-char.tar.gz", good_members() + [reg("certs/a\x1b[2Jb.pem")])
tgz("unexpected-file.tar.gz", good_members() + [reg("install.sh", b"#!/bin/sh\nrm -rf /\n")])
tgz("nested-dir.tar.gz", good_members() + [reg("certs/sub/x.pem")])

# a 1 GiB entry of zeros: the size in the header is over the limit
hdr = info("certs/bomb.pem", size=1 << 30).tobuf(tarfile.GNU_FORMAT)
gz_stream(os.path.join(out, "bomb-entry.tar.gz"), [(hdr, 1), (bytes(MiB), 1024), (bytes(10240), 1)])
# twenty entries of 1 MiB of zeros: each within its limit, all over the total
gz_stream(os.path.join(out, "bomb-total.tar.gz"),
          [(tar_bytes([reg("certs/z%02d.pem" % i, bytes(MiB)) for i in range(20)]), 1)])
# a valid bundle followed, inside the gzip stream, by 256 MiB of zeros
gz_stream(os.path.join(out, "bomb-tail.tar.gz"),
          [(tar_bytes(good_members()), 1), (bytes(MiB), 256)])
# 100,000 empty entries, their headers patched from one (tarfile takes seconds)
tmpl = bytearray(info("certs/000000.pem").tobuf(tarfile.USTAR_FORMAT))
tmpl[148:156] = b" " * 8
fixed = sum(tmpl) - sum(tmpl[0:16])
hdrs = []
for i in range(100000):
    name = b"certs/%06d.pem" % i
    h = bytearray(tmpl)
    h[0:16] = name
    h[148:156] = b"%06o\0 " % (fixed + sum(name))
    hdrs.append(bytes(h))
gz_stream(os.path.join(out, "many-entries.tar.gz"), [(b"".join(hdrs) + bytes(10240), 1)], 1)

good_tgz = open(os.path.join(out, "..", "v2.tar.gz"), "rb").read()
open(os.path.join(out, "truncated.tar.gz"), "wb").write(good_tgz[: len(good_tgz) // 2])
open(os.path.join(out, "trailing-garbage.tar.gz"), "wb").write(
    good_tgz + b"GARBAGE" + os.urandom(64))
b = io.BytesIO()
t = tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT)
for ti, data in good_members():
    t.addfile(ti, io.BytesIO(data))
end = b.tell()  # where the two zero blocks that end the archive go
t.close()
raw = b.getvalue()
open(os.path.join(out, "garbage-after-end.tar"), "wb").write(
    raw[: end + 1024] + b"GARBAGE" + bytes(505))
open(os.path.join(out, "no-end.tar"), "wb").write(raw[:end])
open(os.path.join(out, "not-an-archive.tar.gz"), "wb").write(b"PK\x05\x06 not really" + os.urandom(100))

# --- zip
def zinfo(name, mode=0o100644):
    zi = zipfile.ZipInfo(name, (2023, 1, 1, 0, 0, 0))
    zi.create_system = 3
    zi.external_attr = mode << 16
    return zi

def zipf(name, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(os.path.join(out, name), "w", compression) as z:
        for zi, data in members:
            zi.compress_type = compression
            z.writestr(zi, data)

def zgood():
    return [(zinfo(n), d) for n, d in good_files()]

import warnings
warnings.simplefilter("ignore")  # zipfile warns about the duplicate, as it should
zipf("dotdot.zip", zgood() + [(zinfo("../x"), b"x")])
zipf("absolute.zip", zgood() + [(zinfo("/tmp/trustfix-evil.pem"), b"x")])
zipf("symlink.zip", [(zinfo("certs", 0o120777), outside)] + zgood())
zipf("setuid.zip", [(zinfo(n, 0o104755), d) for n, d in good_files()])
zipf("device.zip", zgood() + [(zinfo("certs/null.pem", 0o020644), b"")])
zipf("duplicate.zip", zgood() + [(zinfo("manifest.json"), b"{}")])
zipf("backslash.zip", zgood() + [(zinfo("certs\\..\\x.pem"), b"x")])
with zipfile.ZipFile(os.path.join(out, "bomb.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for n, d in good_files():
        z.writestr(zinfo(n), d)
    zi = zinfo("certs/bomb.pem")
    zi.compress_type = zipfile.ZIP_DEFLATED
    with z.open(zi, "w", force_zip64=True) as f:
        for _ in range(64):
            f.write(bytes(MiB))
zipf("good.zip", zgood())
good_zip = open(os.path.join(out, "good.zip"), "rb").read()
open(os.path.join(out, "trailing-garbage.zip"), "wb").write(good_zip + b"GARBAGE")
open(os.path.join(out, "truncated.zip"), "wb").write(good_zip[: len(good_zip) // 2])
PY
start=$(date +%s)
$PYTHON "$T/gen.py" "$T/corpus" "$T/good" "$T/outside"
ok $? "the hostile corpus is generated"
diag "corpus generated in $(($(date +%s) - start)) s, $(du -sk "$T/corpus" | cut -f1) KiB on disk"

# the good ones are good: the corpus is built from a valid bundle
for f in good.zip; do
	tf --root "$R" bundle verify "$T/corpus/$f"
	is "$rc" 0 "control: $f verifies (zip is read too)"
done

# ---------------------------------------------------------------------------
# NAME|RULE (an ERE the message must match): exit 4 for verify, stage, apply.
while IFS='|' read -r name rule; do
	[ -n "$name" ] || continue
	f=$T/corpus/$name
	before=$(fast_tree_sum "$R")
	outside=$(fast_tree_sum "$T/outside")
	for cmd in "bundle verify" "bundle stage" "apply"; do
		s=$(date +%s)
		# shellcheck disable=SC2086
		tf --root "$R" $cmd "$f"
		took=$(($(date +%s) - s))
		if [ "$rc" -ne 4 ] || ! grep -Eq -e "$rule" "$T/err"; then
			ok 1 "$name: $cmd refused with exit 4 and /$rule/"
			diag "exit $rc; stderr:" "$(head -c 600 "$T/err")" "stdout:" "$(head -c 300 "$T/out")"
			continue
		fi
		ok 0 "$name: $cmd refused with exit 4 and /$rule/"
		[ "$took" -le 10 ] || { ok 1 "$name: $cmd took $took s"; }
	done
	is "$(fast_tree_sum "$R")" "$before" "$name: nothing changed under the root (stores, staging, state)"
	is "$(fast_tree_sum "$T/outside")" "$outside" "$name: nothing changed outside the root"
	[ ! -e /tmp/trustfix-evil.pem ] || { ok 1 "$name: /tmp/trustfix-evil.pem was written"; rm -f /tmp/trustfix-evil.pem; }
done <<'EOF'
dotdot.tar.gz|entry '\.\./x': the name holds '\.\.'
dotdot-inner.tar.gz|entry 'a/\.\./\.\./x': the name holds '\.\.'
absolute.tar.gz|entry '/tmp/trustfix-evil\.pem': the name is an absolute path
symlink-then-file.tar.gz|entry 'certs': is a symbolic link: only regular files and folders
symlink-relative.tar.gz|entry 'certs': is a symbolic link
hardlink.tar.gz|entry 'certs/victim\.pem': is a hard link
device.tar.gz|entry 'certs/null\.pem': is a character device
block-device.tar.gz|entry 'certs/sda\.pem': is a block device
fifo.tar.gz|entry 'certs/fifo\.pem': is a FIFO
setuid.tar.gz|entry 'certs/[a-z0-9-]+\.pem': has the set-user-ID, set-group-ID or sticky bit
setgid.tar.gz|entry 'manifest\.json': has the set-user-ID, set-group-ID or sticky bit
duplicate.tar.gz|entry 'manifest\.json': appears twice
duplicate-dot.tar.gz|entry '\./manifest\.json': appears twice
dir-then-symlink.tar.gz|entry 'certs': appears twice
long-name.tar.gz|entry 'certs/a+\.\.\.': the name is longer than 255 bytes
long-component.tar.gz|entry 'certs/b+\.\.\.': the name is longer than 255 bytes
backslash.tar.gz|the name holds a backslash
control-char.tar.gz|entry 'certs/a\\x1b\[2Jb\.pem': the name holds a control character
unexpected-file.tar.gz|entry 'install\.sh' is not part of a bundle
nested-dir.tar.gz|entry 'certs/sub/x\.pem' is not a certificate file
bomb-entry.tar.gz|entry 'certs/bomb\.pem': 1073741824 bytes, larger than the limit of 1 MiB per entry
bomb-total.tar.gz|entry 'certs/z1[0-9]\.pem': the entries hold more than the limit of 16 MiB
bomb-tail.tar.gz|expands to more than 32 MiB
many-entries.tar.gz|more than 1000 entries
truncated.tar.gz|is truncated or corrupt
trailing-garbage.tar.gz|trailing data after the end of the gzip stream
garbage-after-end.tar|trailing data after the end of the archive
no-end.tar|is truncated: the archive has no end
not-an-archive.tar.gz|is not a bundle archive
dotdot.zip|entry '\.\./x': the name holds '\.\.'
absolute.zip|entry '/tmp/trustfix-evil\.pem': the name is an absolute path
symlink.zip|entry 'certs': is a symbolic link
setuid.zip|has the set-user-ID, set-group-ID or sticky bit
device.zip|entry 'certs/null\.pem': is a character device
duplicate.zip|entry 'manifest\.json': appears twice
backslash.zip|the name holds (a backslash|'\.\.')
bomb.zip|entry 'certs/bomb\.pem': 67108864 bytes, larger than the limit of 1 MiB per entry
trailing-garbage.zip|trailing data after the end of the zip archive
truncated.zip|truncated
EOF

# the state the corpus left: v1 installed, v2 staged, as before
tf --root "$R" bundle list --json
is "$(jpy '[(b["name"], b["version"]) for b in d["installed"] + d["staged"]]')" \
    "[[\"$B_NAME\", 1], [\"$B_NAME\", 2]]" "after the corpus: v1 installed and v2 staged, as before"
tf --root "$R" apply "$B_NAME"
is "$rc" 0 "and the staged v2 still applies"

done_testing
