#!/bin/sh
# bundles/identrust-commercial-root-ca-1/build.sh - build the remediation
# bundle of the QuoVadis field notice: add IdenTrust Commercial Root CA 1,
# retire QuoVadis Root CA 2, require IdenTrust.
#
#   build.sh TRUSTFIX OUTDIR [SIGNER_CERT SIGNER_KEY]
#
# Without a signer, a development signer is generated into OUTDIR/dev-signer/
# (kept between builds, never committed) and its certificate is written as
# OUTDIR/dev-signers.pem: the file to give as --signers, or to name in
# bundle_signers, on a test device. A production bundle is signed with the
# publisher's own key (see README.md).
set -eu

NAME=identrust-commercial-root-ca-1
# Raise VERSION for every release: devices refuse a version that is not
# higher than the one they have (trustfix apply --allow-downgrade aside).
VERSION=1
VALID_DAYS=730
IDENTRUST_SHA256=5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae
QUOVADIS_SHA256=85a0dd7dd720adb7ff05f83d542b209dc7ff4528f7d677b18389fea5e5c49e86

if [ $# -ne 2 ] && [ $# -ne 4 ]; then
	echo "usage: $0 TRUSTFIX OUTDIR [SIGNER_CERT SIGNER_KEY]" >&2
	exit 2
fi
TRUSTFIX=$1
OUT=$2
SRC=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"

# the certificate shipped must be the one the notice names
got=$(openssl x509 -in "$SRC/IdenTrust_Commercial_Root_CA_1.pem" -outform DER | sha256sum | cut -d' ' -f1)
if [ "$got" != "$IDENTRUST_SHA256" ]; then
	echo "$0: IdenTrust_Commercial_Root_CA_1.pem has SHA-256 $got, expected $IDENTRUST_SHA256" >&2
	exit 1
fi

if [ $# -eq 4 ]; then
	CERT=$3
	KEY=$4
else
	CERT=$OUT/dev-signer/signer.pem
	KEY=$OUT/dev-signer/signer.key
	if [ ! -s "$KEY" ] || [ ! -s "$CERT" ]; then
		mkdir -p "$OUT/dev-signer"
		chmod 700 "$OUT/dev-signer"
		(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout "$KEY" -out "$CERT" -days 3650 \
		    -subj "/O=trustfix/CN=trustfix development bundle signer (not for production)" \
		    2>/dev/null)
		echo "generated a development signer in $OUT/dev-signer/ (never ship its key)"
	fi
	cp "$CERT" "$OUT/dev-signers.pem"
	chmod 644 "$OUT/dev-signers.pem"
fi

exp=$(date -u -d "+$VALID_DAYS days" +%Y-%m-%d)
"$TRUSTFIX" bundle create --name "$NAME" --version "$VERSION" \
    --signer-cert "$CERT" --signer-key "$KEY" \
    --add "$SRC/IdenTrust_Commercial_Root_CA_1.pem" \
    --remove "$QUOVADIS_SHA256=QuoVadis Root CA 2" \
    --require "$IDENTRUST_SHA256=IdenTrust Commercial Root CA 1" \
    --description "Trust IdenTrust Commercial Root CA 1, the successor of the decommissioned QuoVadis Root CA 2, and retire QuoVadis Root CA 2" \
    --expires "$exp" -o "$OUT/$NAME.tar.gz"
if [ $# -eq 2 ]; then
	"$TRUSTFIX" bundle verify --signers "$OUT/dev-signers.pem" "$OUT/$NAME.tar.gz" >/dev/null
	echo "verified $OUT/$NAME.tar.gz against $OUT/dev-signers.pem"
fi
