#!/bin/bash
# IKEv1 Main Mode with RSA signatures (auth = pubkey, version = 1) between tsunagid
# (site-a) and strongSwan (site-b), RSA-2048 certificates made now by mkcerts.sh:
# tsunagid initiating (ping through the tunnel), then strongSwan initiating; each side
# logs the other's successful authentication, strongSwan lists an IKEv1 SA.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ikev1-pubkey
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd openssl openssl

CERTS=$IOP_WORK/certs
bash "$(dirname "$0")/mkcerts.sh" "$CERTS" || iop_fail "mkcerts.sh could not make the test certificates"
topo_build direct

P1=aes256-sha256-modp2048
v1() { sed -i 's/^\tversion = 2$/\tversion = 1/; s/^\t\tversion = 2$/\t\tversion = 1/' "$1"; }

# run ROLE: tsunagid is the initiator or the responder.
run() {
	local role=$1 swan_args=() start=start f
	if [ "$role" = responder ]; then
		swan_args=(REMOTE_ADDRS=$SITE_A_OUT)
		start=none
	fi
	iop_note "tsunagid as $role"
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	pk_files "$(swan_dir "$NS_SB")" site-b-rsa
	f="$(swan_dir "$NS_SB")/swanctl.conf"
	s2s_conf "$f" b IKE_PROPOSALS=$P1 ESP_PROPOSALS=aes128-sha256 "${swan_args[@]}"
	pk_conf "$f" site-b-rsa
	v1 "$f"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	pk_files "$(tsu_dir "$NS_SA")" site-a-rsa
	f="$(tsu_dir "$NS_SA")/tsunagi.conf"
	tsu_conf "$NS_SA" a START_ACTION=$start IKE_PROPOSALS=$P1 ESP_PROPOSALS=aes128-sha256
	pk_conf "$f" site-a-rsa
	v1 "$f"
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	[ "$role" = responder ] && swan_initiate "$NS_SB" net
	swan_wait_sa "$NS_SB" 20 || iop_fail "$role: strongSwan has no SA within 20 s"
	swan_list_sas "$NS_SB" | grep -q IKEv1 || iop_fail "$role: strongSwan lists no IKEv1 SA"
	tsu_log_has "$NS_SA" "authentication of 'site-b.example.net' with RSA signature successful" ||
		iop_fail "$role: tsunagid did not authenticate strongSwan's certificate"
	swan_log_has "$NS_SB" "authentication of 'site-a.example.net' with RSA.* successful" ||
		iop_fail "$role: strongSwan did not authenticate tsunagid's certificate"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" "$NET_B" || iop_fail "tsunagid created no TUN device"
	iop_ping "$NS_HA" "$HOST_B" 5 || iop_fail "$role: host-a cannot ping host-b"
	xt_check_sanitizers
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

run initiator
run responder
iop_pass
