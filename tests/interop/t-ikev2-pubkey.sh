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
# The same two with tsunagid initiating: it refuses strongSwan's certificate.
# Then swanctl --load-creds and --load-conns into tsunagid over VICI, and tsunagictl
# --load-all. TYPES="rsa
# ecdsa" limits the key types of the first part.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ikev2-pubkey
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd openssl openssl

CERTS=$IOP_WORK/certs
bash "$(dirname "$0")/mkcerts.sh" "$CERTS" || iop_fail "mkcerts.sh could not make the test certificates"
topo_build direct

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
	iop_ping "$NS_HA" "$HOST_B" 5 || iop_fail "$type, tsunagid initiating: host-a cannot ping host-b"

	iop_note "$type: strongSwan initiates"
	tsu_ctl "$NS_SA" --terminate --ike s2s >/dev/null 2>&1
	iop_wait 10 eval '! swan_list_sas "$NS_SB" | grep -q ESTABLISHED' ||
		iop_fail "$type: strongSwan still has the SA after terminate"
	swan_conf "site-b-$type" REMOTE_ADDRS="$SITE_A_OUT"
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
	swan_conf "$cert" REMOTE_ADDRS="$SITE_A_OUT"
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

# vici_case: tsunagid starts without connections; strongSwan's swanctl loads the
# credentials (certificate, CA, CRL, and a key encrypted with a passphrase given in
# secrets { private-a { file, secret } }) and the connection into tsunagid over VICI,
# lists the certificates, and initiates to strongSwan.
vici_case() {
	local sdir=$IOP_WORK/swanctl-a uri out
	iop_note "vici: swanctl --load-creds into tsunagid"
	swan_prepare "$NS_SB"
	pk_files "$(swan_dir "$NS_SB")" site-b-ecdsa
	swan_conf site-b-ecdsa
	swan_start "$NS_SB"; swan_load "$NS_SB"
	mkdir -p "$(tsu_dir "$NS_SA")"
	printf 'tsunagi {\n\ttun = tsa%s\n}\n' $$ >"$(tsu_dir "$NS_SA")/tsunagi.conf"
	TSU_TUN_A=tsa$$
	tsu_start "$NS_SA"
	mkdir -p "$sdir"/{conf.d,x509,x509ca,x509aa,x509ac,x509crl,x509ocsp,private,rsa,ecdsa,bliss,pkcs8,pkcs12,pubkey}
	cp "$CERTS/site-a-ecdsa.pem" "$sdir/x509/"
	cp "$CERTS/ca.pem" "$sdir/x509ca/"
	cp "$CERTS/ca.crl" "$sdir/x509crl/"
	openssl pkey -in "$CERTS/site-a-ecdsa.key" -aes128 -passout pass:interop-pass \
		-out "$sdir/private/a-encrypted.pem" || iop_fail "openssl could not encrypt the key"
	s2s_conf "$sdir/swanctl.conf" a START_ACTION=none
	pk_conf "$sdir/swanctl.conf" site-a-ecdsa
	printf 'secrets {\n\tprivate-a {\n\t\tfile = a-encrypted.pem\n\t\tsecret = interop-pass\n\t}\n}\n' \
		>>"$sdir/swanctl.conf"
	uri=$(tsu_uri "$NS_SA")
	sctl() {
		local cmd=$1; shift
		SWANCTL_DIR=$sdir timeout 20 ip netns exec "$NS_SA" swanctl "$cmd" --uri "$uri" "$@"
	}
	out=$(sctl --load-creds --file "$sdir/swanctl.conf" 2>&1) ||
		iop_fail "vici: swanctl --load-creds failed: $out"
	grep -q "loaded certificate from '.*site-a-ecdsa.pem'" <<<"$out" &&
		grep -q "loaded certificate from '.*ca.pem'" <<<"$out" &&
		grep -q "loaded certificate from '.*x509crl/ca.crl'" <<<"$out" &&
		grep -qi "loaded ecdsa key from '.*a-encrypted.pem'" <<<"$out" ||
		iop_fail "vici: swanctl --load-creds did not load everything: $out"
	out=$(sctl --load-conns --file "$sdir/swanctl.conf" 2>&1) ||
		iop_fail "vici: swanctl --load-conns failed: $out"
	out=$(sctl --list-certs 2>&1) || iop_fail "vici: swanctl --list-certs failed: $out"
	grep -q "subject: *\"C=CH, O=tsunagi test, CN=site-a.example.net\"" <<<"$out" &&
		grep -q "has private key" <<<"$out" &&
		grep -q "subject: *\"C=CH, O=tsunagi test, CN=Test CA\"" <<<"$out" ||
		iop_fail "vici: swanctl --list-certs does not show the certificates and the key: $out"
	out=$(sctl --list-conns 2>&1) || iop_fail "vici: swanctl --list-conns failed: $out"
	grep -q "local public key authentication" <<<"$out" &&
		grep -q "remote public key authentication" <<<"$out" ||
		iop_fail "vici: swanctl --list-conns does not show public key authentication: $out"
	out=$(tsu_ctl "$NS_SA" --list-certs 2>&1) || iop_fail "vici: tsunagictl --list-certs failed: $out"
	grep -A1 "CN=site-a.example.net" <<<"$out" | grep -q "end entity, has private key" ||
		iop_fail "vici: tsunagictl --list-certs does not show the certificate with its key: $out"
	out=$(sctl --initiate --child net --ike s2s --timeout 15 2>&1) ||
		iop_fail "vici: swanctl --initiate failed: $out"
	swan_wait_sa "$NS_SB" 20 || iop_fail "vici: strongSwan has no SA within 20 s"
	# A second load-creds unloads nothing and loads the same again (get-keys ids).
	out=$(sctl --load-creds --file "$sdir/swanctl.conf" 2>&1) ||
		iop_fail "vici: the second swanctl --load-creds failed: $out"
	out=$(sctl --list-certs 2>&1) || iop_fail "vici: swanctl --list-certs failed: $out"
	grep -q "has private key" <<<"$out" ||
		iop_fail "vici: after a second --load-creds tsunagid has lost the key: $out"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

# ctl_case: the same with tsunagictl --load-all (credentials, then the connection).
ctl_case() {
	local sdir=$IOP_WORK/ctl-a out
	iop_note "ctl: tsunagictl --load-all with certificates"
	swan_prepare "$NS_SB"
	pk_files "$(swan_dir "$NS_SB")" site-b-ecdsa
	swan_conf site-b-ecdsa
	swan_start "$NS_SB"; swan_load "$NS_SB"
	mkdir -p "$(tsu_dir "$NS_SA")"
	printf 'tsunagi {\n\ttun = tsa%s\n}\n' $$ >"$(tsu_dir "$NS_SA")/tsunagi.conf"
	TSU_TUN_A=tsa$$
	tsu_start "$NS_SA"
	mkdir -p "$sdir"/{x509,x509ca,x509crl,private}
	cp "$CERTS/site-a-ecdsa.pem" "$sdir/x509/"
	cp "$CERTS/ca.pem" "$sdir/x509ca/"
	cp "$CERTS/ca.crl" "$sdir/x509crl/"
	openssl pkey -in "$CERTS/site-a-ecdsa.key" -aes128 -passout pass:interop-pass \
		-out "$sdir/private/a-encrypted.pem" || iop_fail "openssl could not encrypt the key"
	s2s_conf "$sdir/swanctl.conf" a START_ACTION=none
	pk_conf "$sdir/swanctl.conf" site-a-ecdsa
	printf 'secrets {\n\tprivate-a {\n\t\tfile = a-encrypted.pem\n\t\tsecret = interop-pass\n\t}\n}\n' \
		>>"$sdir/swanctl.conf"
	out=$(tsu_ctl "$NS_SA" --load-all --file "$sdir/swanctl.conf" 2>&1) ||
		iop_fail "ctl: tsunagictl --load-all failed: $out"
	grep -q "loaded certificate from '.*x509ca/ca.pem'" <<<"$out" &&
		grep -q "loaded EC key from '.*a-encrypted.pem'" <<<"$out" &&
		grep -q "loaded connection 's2s'" <<<"$out" ||
		iop_fail "ctl: tsunagictl --load-all did not load everything: $out"
	grep -q "interop-pass" <<<"$out" && iop_fail "ctl: tsunagictl printed the passphrase"
	out=$(tsu_ctl "$NS_SA" --list-certs 2>&1)
	grep -A1 "CN=site-a.example.net" <<<"$out" | grep -q "has private key" ||
		iop_fail "ctl: tsunagictl --list-certs does not show the key: $out"
	tsu_ctl "$NS_SA" --initiate --child net --ike s2s --timeout 15 >/dev/null 2>&1 ||
		iop_fail "ctl: tsunagictl --initiate failed"
	swan_wait_sa "$NS_SB" 20 || iop_fail "ctl: strongSwan has no SA within 20 s"
	tsu_log_has "$NS_SA" "interop-pass" && iop_fail "ctl: tsunagid logged the passphrase"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

# negative_init NAME CERT TSU_LOG_REGEX: tsunagid initiates to strongSwan, which
# answers with CERT; tsunagid refuses it and keeps no SA.
negative_init() {
	local name=$1 cert=$2 re=$3
	iop_note "negative, tsunagid initiating: $name"
	swan_prepare "$NS_SB"
	pk_files "$(swan_dir "$NS_SB")" "$cert"
	swan_conf "$cert"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	pk_files "$(tsu_dir "$NS_SA")" site-a-ecdsa
	cp "$CERTS/ca.crl" "$(tsu_dir "$NS_SA")/x509crl/"
	tsu_pk_conf site-a-ecdsa START_ACTION=start
	tsu_start "$NS_SA"
	iop_wait 15 tsu_log_has "$NS_SA" "$re" ||
		iop_fail "$name: tsunagid's log does not say why it refused strongSwan (/$re/)"
	iop_wait 5 xt_tsu_no_sa "$NS_SA" ||
		iop_fail "$name: tsunagid keeps an SA: $(tsu_ctl "$NS_SA" --list-sas | head -3)"
	tsu_child_up "$NS_SA" && iop_fail "$name: tsunagid installed a CHILD_SA"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

for type in ${TYPES:-rsa ecdsa ed25519}; do
	pair "$type"
done
pair rsa 'RSA PKCS#1 v1.5 SHA-1 \(auth method 1\)'
pair p384 'ECDSA-384 SHA-384 \(auth method 10\)'
vici_case
ctl_case
negative unknown-ca site-b-other 'certificate "[^"]*site-b.example.net" \(issuer "[^"]*Other CA"\) of .* is issued by an unknown CA'
negative revoked site-b-revoked 'certificate "[^"]*site-b.example.net" .* is revoked'
negative_init unknown-ca site-b-other 'certificate "[^"]*site-b.example.net" \(issuer "[^"]*Other CA"\) of .* is issued by an unknown CA'
negative_init revoked site-b-revoked 'certificate "[^"]*site-b.example.net" .* is revoked'
iop_pass
