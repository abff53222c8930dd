#!/bin/bash
# EAP in IKEv2 (RFC 7296 2.16) with strongSwan, without NAT: a strongSwan client logs in
# to tsunagid, authenticated by its certificate, with EAP-MSCHAPv2 (asked for its EAP
# identity), then with a wrong password (EAP-Failure, AUTHENTICATION_FAILED,
# tsunagid's log line and counter); then with EAP-MD5 to tsunagid authenticated by
# PSK, once with auth = eap-md5 and once with auth = eap (the client's Nak asks for
# MD5); last, tsunagid is the EAP-MSCHAPv2 client of a strongSwan server authenticated
# by its certificate (conf/ra-eap-server.conf, conf/ra-eap-client.conf; certificates
# from mkcerts.sh).
. "$(dirname "$0")/lib.sh"
iop_begin ikev2-eap
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd openssl openssl

CERTS=$IOP_WORK/certs
bash "$(dirname "$0")/mkcerts.sh" "$CERTS" || iop_fail "mkcerts.sh could not make the test certificates"
topo_build direct
PW="alice-eap-pw-1"
# creds DIR [NAME]: the test CA into DIR/x509ca, NAME's certificate and key into
# DIR/x509 and DIR/private (as swanctl keeps them beside swanctl.conf).
creds() {
	mkdir -p "$1"/{x509,x509ca,private}
	cp "$CERTS/ca.pem" "$1/x509ca/"
	[ -z "${2:-}" ] || { cp "$CERTS/$2.pem" "$1/x509/"; cp "$CERTS/$2.key" "$1/private/$2.pem"; }
}
# The server by certificate: site-a's (tsunagid) or site-b's (strongSwan).
PK_A=(SERVER_AUTH=pubkey "SERVER_CERT=certs = site-a-ecdsa.pem" "SERVER_CA=cacerts = ca.pem"
	SERVER_ID=site-a.example.net)
PK_B=(SERVER_AUTH=pubkey "SERVER_CERT=certs = site-b-ecdsa.pem" "SERVER_CA=cacerts = ca.pem"
	SERVER_ID=site-b.example.net)

# eap_conf OUT server|client METHOD PASSWORD [KEY=VALUE...]
eap_conf() {
	local out=$1 role=$2 method=$3 pw=$4
	shift 4
	iop_render "$IOP_CONF_DIR/ra-eap-$role.conf" "$out" \
		IKE_PROPOSALS=$IKE_PROPOSALS_DEFAULT ESP_PROPOSALS=$ESP_PROPOSALS_DEFAULT \
		PSK="$PSK_DEFAULT" SERVER_ID=server.example.net START_ACTION=none \
		SERVER_AUTH=psk SERVER_CERT= SERVER_CA= METHOD="$method" EAP_PASSWORD="$pw" "$@"
}
# tsunagid at site-a; strongSwan at site-b.
tsu_eap() {
	local f
	f="$(tsu_dir "$NS_SA")/tsunagi.conf"
	mkdir -p "$(tsu_dir "$NS_SA")"
	eap_conf "$f" "$@"
	printf 'tsunagi {\n\ttun = %s\n}\n' "tsa$$" >>"$f"
	TSU_TUN_A=tsa$$
}
swan_eap() { eap_conf "$(swan_dir "$NS_SB")/swanctl.conf" "$@"; }
SRV_A=("LOCAL_ADDRS=$SITE_A_OUT" "LOCAL_TS=$NET_A" "REMOTE_TS=$NET_B")
CLI_B=("LOCAL_ADDRS=$SITE_B_OUT" "REMOTE_ADDRS=$SITE_A_OUT" "LOCAL_TS=$NET_B" "REMOTE_TS=$NET_A")
count() { grep -Ec "$2" "$1" 2>/dev/null; }
tlog() { echo "$(tsu_dir "$NS_SA")/tsunagid.log"; }
slog() { echo "$(swan_dir "$NS_SB")/charon.log"; }
swan_down() {
	swan_ctl "$NS_SB" --terminate --ike rw --timeout 5 >/dev/null 2>&1
	iop_wait 10 eval '! swan_list_sas "$NS_SB" | grep -q ESTABLISHED'
	iop_wait 10 eval '[ "$(tsu_ike_count "$NS_SA")" = 0 ]'
}

# 1. strongSwan client, tsunagid server by certificate: EAP-MSCHAPv2 with EAP-Identity.
tsu_eap server eap-mschapv2 "$PW" "${SRV_A[@]}" "${PK_A[@]}"
creds "$(tsu_dir "$NS_SA")" site-a-ecdsa
tsu_start "$NS_SA"
swan_prepare "$NS_SB"
creds "$(swan_dir "$NS_SB")"
swan_eap client eap-mschapv2 "$PW" "${CLI_B[@]}" "${PK_A[@]}"
swan_start "$NS_SB"; swan_load "$NS_SB"
swan_initiate "$NS_SB" net
swan_wait_sa "$NS_SB" 20 || iop_fail "mschapv2: strongSwan (client) has no SA within 20 s"
swan_log_has "$NS_SB" "authentication of 'site-a.example.net' with (ECDSA|RSA|ED25519|.*signature).* successful" ||
	iop_fail "mschapv2: strongSwan did not authenticate tsunagid by its certificate"
tsu_log_has "$NS_SA" "EAP-MSCHAPv2 authentication of 'alice' successful" ||
	iop_fail "mschapv2: tsunagid did not log the EAP-MSCHAPv2 login of 'alice'"
swan_log_has "$NS_SB" "EAP method EAP_MSCHAPV2 succeeded, MSK established" ||
	iop_fail "mschapv2: strongSwan did not establish an MSK with EAP-MSCHAPv2"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "tsunagid created no TUN device"
iop_ping "$NS_HB" $HOST_A 5 || iop_fail "mschapv2: host-b cannot ping host-a"
tsu_list_sas "$NS_SA" | grep -q "responder" || iop_fail "mschapv2: tsunagictl shows no SA"
conns=$(timeout 20 ip netns exec "$NS_SA" swanctl --list-conns --uri "$(tsu_uri "$NS_SA")" 2>&1)
grep -q "remote EAP authentication" <<<"$conns" && grep -q "eap_id: %any" <<<"$conns" ||
	iop_fail "mschapv2: swanctl --list-conns against tsunagid does not show EAP: $conns"

# 2. The wrong password: refused on both sides, logged by tsunagid with the user.
swan_down || iop_fail "wrong password: the first SA did not go down"
swan_eap client eap-mschapv2 "not-the-password" "${CLI_B[@]}" "${PK_A[@]}"
swan_load "$NS_SB"
swan_initiate "$NS_SB" net
iop_wait 20 tsu_log_has "$NS_SA" "EAP-MSCHAPv2 authentication of 'alice' failed: wrong password" ||
	iop_fail "wrong password: tsunagid did not log the failed login of 'alice'"
iop_wait 10 eval 'grep -Eq "EAP-MS-CHAPv2 failed|EAP_FAILURE|AUTHENTICATION_FAILED" "$(slog)"' ||
	iop_fail "wrong password: strongSwan did not see the EAP failure"
sleep 1
swan_sa_up "$NS_SB" && iop_fail "wrong password: strongSwan has an SA"
[ "$(tsu_ike_count "$NS_SA")" = 0 ] || iop_fail "wrong password: tsunagid kept an IKE SA"
[ "$(tsu_counter "$NS_SA" ike-eap-failures)" = 1 ] ||
	iop_fail "wrong password: ike-eap-failures is $(tsu_counter "$NS_SA" ike-eap-failures), not 1"

# 3. EAP-MD5 (no MSK: the AUTH payloads use SK_p), the server by PSK.
tsu_eap server eap-md5 "$PW" "${SRV_A[@]}"
tsu_reload "$NS_SA" || iop_fail "md5: tsunagid did not reload"
swan_eap client eap-md5 "$PW" "${CLI_B[@]}"
swan_load "$NS_SB"
swan_initiate "$NS_SB" net
swan_wait_sa "$NS_SB" 20 || iop_fail "md5: strongSwan (client) has no SA within 20 s"
tsu_log_has "$NS_SA" "EAP-MD5 authentication of 'alice' successful" ||
	iop_fail "md5: tsunagid did not log the EAP-MD5 login"
swan_log_has "$NS_SB" "EAP method EAP_MD5 succeeded, no MSK established" ||
	iop_fail "md5: strongSwan did not log EAP-MD5 without MSK"
iop_ping "$NS_HB" $HOST_A 5 || iop_fail "md5: host-b cannot ping host-a"

# 3b. The server offers either method (auth = eap): MSCHAPv2 first, the client's Nak
# asks for MD5 and gets it.
swan_down || iop_fail "nak: the MD5 SA did not go down"
tsu_eap server eap "$PW" "${SRV_A[@]}"
tsu_reload "$NS_SA" || iop_fail "nak: tsunagid did not reload"
n=$(count "$(tlog)" "EAP-MD5 authentication of 'alice' successful")
swan_initiate "$NS_SB" net
swan_wait_sa "$NS_SB" 20 || iop_fail "nak: strongSwan (client) has no SA within 20 s"
[ "$(count "$(tlog)" "EAP-MD5 authentication of 'alice' successful")" -gt "$n" ] ||
	iop_fail "nak: tsunagid did not switch to EAP-MD5 after the client's Nak"
swan_log_has "$NS_SB" "EAP_NAK" || iop_fail "nak: strongSwan sent no EAP_NAK"

# 4. tsunagid as the EAP-MSCHAPv2 client of a strongSwan server by certificate.
swan_down || iop_fail "client: the MD5 (Nak) SA did not go down"
creds "$(swan_dir "$NS_SB")" site-b-ecdsa
swan_eap server eap-mschapv2 "$PW" LOCAL_ADDRS=$SITE_B_OUT LOCAL_TS=$NET_B REMOTE_TS=$NET_A \
	"${PK_B[@]}"
swan_load "$NS_SB"
tsu_eap client eap-mschapv2 "$PW" LOCAL_ADDRS=$SITE_A_OUT REMOTE_ADDRS=$SITE_B_OUT \
	LOCAL_TS=$NET_A REMOTE_TS=$NET_B "${PK_B[@]}"
tsu_reload "$NS_SA" || iop_fail "client: tsunagid did not reload"
n=$(count "$(slog)" "EAP method EAP_MSCHAPV2 succeeded, MSK established")
tsu_ctl "$NS_SA" --initiate --child net >/dev/null 2>&1 &
swan_wait_sa "$NS_SB" 20 || iop_fail "client: strongSwan (server) has no SA within 20 s"
[ "$(count "$(slog)" "EAP method EAP_MSCHAPV2 succeeded, MSK established")" -gt "$n" ] ||
	iop_fail "client: strongSwan (server) did not log the EAP-MSCHAPv2 success"
swan_log_has "$NS_SB" "authentication of 'client.example.net' with EAP successful" ||
	iop_fail "client: strongSwan did not verify tsunagid's AUTH with the MSK"
tsu_log_has "$NS_SA" "authentication of 'site-b.example.net' with [^p].* successful" ||
	iop_fail "client: tsunagid did not authenticate strongSwan by its certificate"
tsu_log_has "$NS_SA" "EAP-MSCHAPv2 authentication successful" ||
	iop_fail "client: tsunagid did not log its EAP-MSCHAPv2 success"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "client: no route to the tunnel"
iop_ping "$NS_HA" $HOST_B 5 || iop_fail "client: host-a cannot ping host-b"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
