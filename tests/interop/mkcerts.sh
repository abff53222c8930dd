#!/bin/bash
# mkcerts.sh DIR: test certificates made now with openssl (small keys, so IKE_AUTH fits
# one datagram without fragmentation). In DIR:
#   ca.pem ca.key            "C=CH, O=tsunagi test, CN=Test CA" (ECDSA P-256)
#   other-ca.pem             an unrelated CA (ECDSA P-256)
#   NAME-TYPE.pem NAME-TYPE.key  for NAME in site-a site-b, TYPE in rsa ecdsa ed25519 p384:
#       "C=CH, O=tsunagi test, CN=NAME.example.net", subjectAltName DNS:NAME.example.net,
#       issued by the CA (RSA 2048, ECDSA P-256 / P-384, Ed25519)
#   site-b-other.pem .key    site-b issued by other-ca (unknown CA)
#   site-b-revoked.pem .key  site-b issued by the CA, then revoked: ca.crl lists it
set -e
d=$1
[ -n "$d" ] || { echo "usage: mkcerts.sh DIR" >&2; exit 2; }
mkdir -p "$d"
cd "$d"
O="/C=CH/O=tsunagi test"

key() {
	case $2 in
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null ;;
	ecdsa) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
	p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1" ;;
	ed25519) openssl genpkey -algorithm ED25519 -out "$1" ;;
	esac
}

ca() {	# ca NAME CN
	key "$1.key" ecdsa
	openssl req -x509 -new -key "$1.key" -subj "$O/CN=$2" -days 3 -out "$1.pem" \
		-addext basicConstraints=critical,CA:true \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() {	# leaf OUT TYPE NAME CA
	key "$1.key" "$2"
	openssl req -new -key "$1.key" -subj "$O/CN=$3.example.net" -out "$1.csr"
	printf 'subjectAltName=DNS:%s.example.net\nbasicConstraints=CA:false\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial \
		-days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

ca ca "Test CA"
ca other-ca "Other CA"
for name in site-a site-b; do
	for type in rsa ecdsa ed25519 p384; do
		leaf "$name-$type" "$type" "$name" ca
	done
done
leaf site-b-other ecdsa site-b other-ca
leaf site-b-revoked ecdsa site-b ca

mkdir -p cadb
: >cadb/index.txt
echo 1000 >cadb/crlnumber
cat >cadb/ca.cnf <<EOF
[ ca ]
default_ca = test
[ test ]
database = $PWD/cadb/index.txt
crlnumber = $PWD/cadb/crlnumber
default_md = sha256
default_crl_days = 2
EOF
openssl ca -config cadb/ca.cnf -keyfile ca.key -cert ca.pem -revoke site-b-revoked.pem 2>/dev/null
openssl ca -config cadb/ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out ca.crl 2>/dev/null
