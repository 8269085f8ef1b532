#!/bin/sh
# Regenerates the certificate fixtures of tests/vectors/manifest-certs with
# the openssl CLI (3.0).  Test material only: the private keys committed
# here (ca.key, int.key, int2.key, leaf.key) protect nothing.
# Run from this folder: sh gen.sh
set -eu
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# a throw-away "openssl ca" setup: fixed validity dates need `openssl ca`
# (openssl x509/req in 3.0 can only start "now")
cat > "$W/ca.cnf" <<'CNF'
[ca]
default_ca = c
[c]
database = $ENV::W/index.txt
new_certs_dir = $ENV::W
serial = $ENV::W/serial
default_md = sha256
policy = p
unique_subject = no
email_in_dn = no
[p]
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = x
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
[leaf_eku]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = codeSigning
[leaf_kuenc_eku]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyEncipherment
extendedKeyUsage = codeSigning
[leaf_none]
basicConstraints = critical,CA:FALSE
[leaf_kuenc]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyEncipherment
[leaf_anyeku]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = anyExtendedKeyUsage
CNF
export W
: > "$W/index.txt"
echo 1000 > "$W/serial"
START=20200101000000Z
END=21200101000000Z

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# csr <key> <cn> <out>
csr() { openssl req -new -config "$W/ca.cnf" -key "$1" -subj "/CN=$2" -out "$3"; }
# sign <csr> <issuer cert> <issuer key> <extensions> <out> [start end]
sign() {
    openssl ca -batch -config "$W/ca.cnf" -notext -in "$1" -cert "$2" -keyfile "$3" \
        -extensions "$4" -startdate "${6:-$START}" -enddate "${7:-$END}" -out "$5"
}

ec ca.key; ec int.key; ec int2.key; ec leaf.key; ec "$W/other.key"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/rsa.key"

csr ca.key "aios test root" "$W/ca.csr"
openssl ca -batch -config "$W/ca.cnf" -notext -selfsign -in "$W/ca.csr" -keyfile ca.key \
    -extensions root -startdate $START -enddate $END -out ca.pem
csr int.key "aios test intermediate" "$W/int.csr"
sign "$W/int.csr" ca.pem ca.key inter int.pem
csr int2.key "aios test intermediate 2" "$W/int2.csr"
sign "$W/int2.csr" int.pem int.key inter int2.pem

csr leaf.key "aios test signer" "$W/leaf.csr"
sign "$W/leaf.csr" int.pem int.key leaf leaf.pem
sign "$W/leaf.csr" int2.pem int2.key leaf leaf-deep.pem
sign "$W/leaf.csr" int.pem int.key leaf_eku leaf-eku.pem
sign "$W/leaf.csr" int.pem int.key leaf_kuenc_eku leaf-kuenc-eku.pem
sign "$W/leaf.csr" int.pem int.key leaf_none leaf-nousage.pem
sign "$W/leaf.csr" int.pem int.key leaf_kuenc leaf-kuenc.pem
sign "$W/leaf.csr" int.pem int.key leaf_anyeku leaf-anyeku.pem
sign "$W/leaf.csr" int.pem int.key leaf leaf-expired.pem 20200101000000Z 20210101000000Z
csr "$W/rsa.key" "aios test rsa signer" "$W/rsa.csr"
sign "$W/rsa.csr" int.pem int.key leaf leaf-rsa.pem

# an unrelated root named like the golden one (CN=root-ca), another key
csr "$W/other.key" "root-ca" "$W/other.csr"
openssl ca -batch -config "$W/ca.cnf" -notext -selfsign -in "$W/other.csr" \
    -keyfile "$W/other.key" -extensions root -startdate $START -enddate $END -out other-root.pem
