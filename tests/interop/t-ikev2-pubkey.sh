#!/bin/bash
# IKEv2 auth = pubkey between tsunagid (site-a) and strongSwan (site-b), certificates
# made now by mkcerts.sh (one test CA, ECDSA P-256): with RSA-2048, ECDSA P-256 and
# Ed25519 end-entity certificates on both sides, tsunagid initiating (ping through the
# tunnel) and then responding; each side logs the other's successful authentication.
# Then RSA and ECDSA P-384 with strongSwan's RFC 7427 support off
# (signature_authentication = no): both sides use the classic methods 1 and 10. Then
# the negatives, strongSwan initiating to tsunagid: a certificate from an unknown
# CA, and one revoked by the CA's CRL in tsunagid's x509crl/. tsunagid logs which
# (unknown CA / revoked) and answers AUTHENTICATION_FAILED; no CHILD_SA on either side.
# TYPES="rsa ecdsa" limits the key types.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ikev2-pubkey
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd openssl openssl

CERTS=$IOP_WORK/certs
bash "$(dirname "$0")/mkcerts.sh" "$CERTS" || iop_fail "mkcerts.sh could not make the test certificates"
topo_build direct

# pk_conf FILE CERT: the PSK s2s config becomes auth = pubkey with CERT (a name in
# x509/) and the test CA as the remote cacerts.
pk_conf() {
	sed -i -e 's/auth = psk/auth = pubkey/' \
		-e "/^\t\tlocal {/a\\\t\t\tcerts = $2.pem" \
		-e "/^\t\tremote {/a\\\t\t\tcacerts = ca.pem" "$1"
}

# pk_files DIR NAME: NAME's certificate and key, and the CA, into DIR's x509/, private/,
# x509ca/ (as swanctl has them beside swanctl.conf).
pk_files() {
	mkdir -p "$1"/{x509,x509ca,x509crl,private}
	cp "$CERTS/$2.pem" "$1/x509/"
	cp "$CERTS/$2.key" "$1/private/$2.pem"
	cp "$CERTS/ca.pem" "$1/x509ca/"
}

swan_conf() {	# swan_conf CERT KEY=VALUE...
	local cert=$1 f
	shift
	f="$(swan_dir "$NS_SB")/swanctl.conf"
	s2s_conf "$f" b "$@"
	pk_conf "$f" "$cert"
}

tsu_pk_conf() {	# tsu_pk_conf CERT KEY=VALUE...
	local cert=$1
	shift
	tsu_conf "$NS_SA" a "$@"
	pk_conf "$(tsu_dir "$NS_SA")/tsunagi.conf" "$cert"
}

AUTH_OK="authentication of '%s' with .* successful"

# pair TYPE [METHOD_RE]: METHOD_RE (classic methods): strongSwan announces no RFC 7427
# hashes, and tsunagid's log must name METHOD_RE for both authentications.
pair() {
	local type=$1 method=${2:-} re_a re_b
	# shellcheck disable=SC2059
	printf -v re_b "$AUTH_OK" site-b.example.net
	[ -z "$method" ] || re_b="authentication of 'site-b.example.net' with $method successful"
	# shellcheck disable=SC2059
	printf -v re_a "$AUTH_OK" site-a.example.net
	iop_note "$type: tsunagid initiates"
	swan_prepare "$NS_SB"
	[ -z "$method" ] || sed -i 's/^charon {/&\n\tsignature_authentication = no/' \
		"$(swan_dir "$NS_SB")/strongswan.conf"
	pk_files "$(swan_dir "$NS_SB")" "site-b-$type"
	swan_conf "site-b-$type"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	pk_files "$(tsu_dir "$NS_SA")" "site-a-$type"
	tsu_pk_conf "site-a-$type" START_ACTION=start
	tsu_start "$NS_SA"
	swan_wait_sa "$NS_SB" 20 || iop_fail "$type, tsunagid initiating: strongSwan has no SA within 20 s"
	tsu_log_has "$NS_SA" "$re_b" ||
		iop_fail "$type, tsunagid initiating: tsunagid did not authenticate strongSwan's certificate (/$re_b/)"
	[ -z "$method" ] || tsu_log_has "$NS_SA" "\(myself\) with $method" ||
		iop_fail "$type: tsunagid did not sign with $method"
	swan_log_has "$NS_SB" "$re_a" ||
		iop_fail "$type, tsunagid initiating: strongSwan did not authenticate tsunagid's certificate"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" "$NET_B" || iop_fail "tsunagid created no TUN device"
	iop_ping "$NS_HA" $HOST_B 5 || iop_fail "$type, tsunagid initiating: host-a cannot ping host-b"

	iop_note "$type: strongSwan initiates"
	tsu_ctl "$NS_SA" --terminate --ike s2s >/dev/null 2>&1
	iop_wait 10 eval '! swan_list_sas "$NS_SB" | grep -q ESTABLISHED' ||
		iop_fail "$type: strongSwan still has the SA after terminate"
	swan_conf "site-b-$type" REMOTE_ADDRS=$SITE_A_OUT
	swan_reload "$NS_SB"
	tsu_pk_conf "site-a-$type" START_ACTION=none
	tsu_reload "$NS_SA" || iop_fail "$type: tsunagid did not reload"
	local n
	n=$(xt_tsu_log_count "$NS_SA" "$re_b")
	swan_initiate "$NS_SB" net
	swan_wait_sa "$NS_SB" 20 || iop_fail "$type, strongSwan initiating: strongSwan has no SA within 20 s"
	[ "$(xt_tsu_log_count "$NS_SA" "$re_b")" -gt "$n" ] ||
		iop_fail "$type, strongSwan initiating: tsunagid did not authenticate strongSwan's certificate"
	tsu_list_sas "$NS_SA" | grep -q responder ||
		iop_fail "$type, strongSwan initiating: tsunagid is not the responder"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

# negative NAME CERT TSU_LOG_REGEX: strongSwan initiates with CERT; tsunagid refuses.
negative() {
	local name=$1 cert=$2 re=$3
	iop_note "negative: $name"
	swan_prepare "$NS_SB"
	pk_files "$(swan_dir "$NS_SB")" "$cert"
	swan_conf "$cert" REMOTE_ADDRS=$SITE_A_OUT
	swan_start "$NS_SB"; swan_load "$NS_SB"
	pk_files "$(tsu_dir "$NS_SA")" site-a-ecdsa
	cp "$CERTS/ca.crl" "$(tsu_dir "$NS_SA")/x509crl/"
	tsu_pk_conf site-a-ecdsa START_ACTION=none
	tsu_start "$NS_SA"
	swan_initiate "$NS_SB" net
	iop_wait 15 swan_log_has "$NS_SB" "received AUTHENTICATION_FAILED notify" ||
		iop_fail "$name: strongSwan never received AUTHENTICATION_FAILED from tsunagid"
	tsu_log_has "$NS_SA" "$re.*sending AUTHENTICATION_FAILED" ||
		iop_fail "$name: tsunagid's log does not say why (/$re.*sending AUTHENTICATION_FAILED/)"
	xt_no_child "$NS_SB" "$NS_SA" "$name"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

for type in ${TYPES:-rsa ecdsa ed25519}; do
	pair "$type"
done
pair rsa 'RSA PKCS#1 v1.5 SHA-1 \(auth method 1\)'
pair p384 'ECDSA-384 SHA-384 \(auth method 10\)'
negative unknown-ca site-b-other 'certificate "[^"]*site-b.example.net" \(issuer "[^"]*Other CA"\) of .* is issued by an unknown CA'
negative revoked site-b-revoked 'certificate "[^"]*site-b.example.net" .* is revoked'
iop_pass
