#!/bin/bash
# IKEv1 Main Mode (PSK) + Quick Mode: tsunagid at site-a initiates to strongSwan at
# site-b, both with `version = 1`, no NAT in the path. strongSwan's kernel-libipsec wants
# ESP in UDP, so both float to 4500 (NAT-T by RFC 3947 vendor IDs and NAT-D). Checked:
# strongSwan lists the ISAKMP SA (IKEv1) and the CHILD_SA in UDP, SPIs agree on both ends,
# pings pass both ways; then with PFS (MODP 2048 in the ESP proposals); then with the
# roles swapped (strongSwan initiates, tsunagid answers). Each ends with tsunagid's
# terminate: its DELETEs make strongSwan drop the ISAKMP SA and the CHILD_SA. Last, a
# PSK mismatch with strongSwan initiating: tsunagid logs "probable pre-shared key
# mismatch with" strongSwan's address.
. "$(dirname "$0")/lib.sh"
iop_begin ikev1-main
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build direct

v1() { sed -i 's/^\tversion = 2$/\tversion = 1/; s/^\t\tversion = 2$/\t\tversion = 1/' "$1"; }

# run CASE ESP [responder]: one Main Mode + Quick Mode, checked and pinged through;
# tsunagid initiates unless "responder" is given.
run() {
	local c=$1 esp=$2 role=${3:-initiator} s swan_args=() tsu_start_action=start
	if [ "$role" = responder ]; then
		swan_args=(REMOTE_ADDRS=$SITE_A_OUT)
		tsu_start_action=none
	fi
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b IKE_PROPOSALS=aes256-sha256-modp2048 \
		ESP_PROPOSALS="$esp" "${swan_args[@]}"
	v1 "$(swan_dir "$NS_SB")/swanctl.conf"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	tsu_conf "$NS_SA" a START_ACTION=$tsu_start_action IKE_PROPOSALS=aes256-sha256-modp2048 \
		ESP_PROPOSALS="$esp"
	v1 "$(tsu_dir "$NS_SA")/tsunagi.conf"
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	[ "$role" = responder ] && swan_initiate "$NS_SB" net
	swan_wait_sa "$NS_SB" 20 || iop_fail "$c: strongSwan (site-b) has no SA within 20 s"
	iop_wait 10 sa_pair_ok "$NS_SB" "$NS_SA" ||
		iop_fail "$c: no single matching ISAKMP+CHILD SA on both ends: $(tsu_child_spis "$NS_SA") / $(swan_child_spis "$NS_SB")"
	s=$(swan_list_sas "$NS_SB")
	grep -q "IKEv1" <<<"$s" || iop_fail "$c: strongSwan does not list an IKEv1 SA: $(head -2 <<<"$s")"
	grep -q "TUNNEL-in-UDP" <<<"$s" || iop_fail "$c: strongSwan's CHILD_SA is not in UDP"
	tsu_list_sas "$NS_SA" | grep -q "IKEv1" ||
		iop_fail "$c: tsunagictl does not show an IKEv1 SA: $(tsu_list_sas "$NS_SA" | head -2)"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "$c: tsunagid created no TUN device"
	iop_ping "$NS_HA" $HOST_B 5 || iop_fail "$c: host-a cannot ping host-b"
	iop_ping "$NS_HB" $HOST_A 3 || iop_fail "$c: host-b cannot ping host-a"
	swan_log_has "$NS_SB" "IKE_SA s2s\[[0-9]+\] established" ||
		iop_fail "$c: strongSwan's log shows no established IKE_SA"
	tsu_log_has "$NS_SA" "ISAKMP SA s2s\[[0-9]+\].* established" ||
		iop_fail "$c: tsunagid's log shows no established ISAKMP SA"
	tsu_alive "$NS_SA" || iop_fail "$c: tsunagid died"
	iop_note "$c: up with $(tsu_child_spis "$NS_SA")"
	# DELETE: tsunagid terminates, strongSwan drops both SAs.
	tsu_ctl "$NS_SA" --terminate --ike s2s >/dev/null 2>&1
	iop_wait 10 sa_none "$NS_SB" "$NS_SA" ||
		iop_fail "$c: after tsunagid's terminate: $(swan_ike_count "$NS_SB") SAs at strongSwan, $(tsu_ike_count "$NS_SA") at tsunagid"
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

run no-pfs aes128-sha256
run pfs aes128-sha256-modp2048
run responder aes128-sha256 responder

# PSK mismatch, strongSwan initiating: tsunagid cannot decrypt MM5 and names the cause.
swan_prepare "$NS_SB"
swan_fast_retransmit "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b IKE_PROPOSALS=aes256-sha256-modp2048 \
	REMOTE_ADDRS=$SITE_A_OUT PSK=not-the-same-key-0123456789
v1 "$(swan_dir "$NS_SB")/swanctl.conf"
swan_start "$NS_SB"; swan_load "$NS_SB"
tsu_conf "$NS_SA" a START_ACTION=none IKE_PROPOSALS=aes256-sha256-modp2048
v1 "$(tsu_dir "$NS_SA")/tsunagi.conf"
tsu_fast_conf "$NS_SA"
tsu_start "$NS_SA"
swan_initiate "$NS_SB" net
iop_wait 15 tsu_log_has "$NS_SA" "probable pre-shared key mismatch with $SITE_B_OUT" ||
	iop_fail "psk-mismatch: tsunagid's log does not name a probable PSK mismatch with $SITE_B_OUT"
[ "$(tsu_ike_count "$NS_SA")" = 0 ] || [ "$(tsu_child_count "$NS_SA")" = 0 ] ||
	iop_fail "psk-mismatch: tsunagid has a CHILD_SA"
tsu_alive "$NS_SA" || iop_fail "psk-mismatch: tsunagid died"
iop_stop_gateways "$NS_SA" "$NS_SB"
iop_pass
