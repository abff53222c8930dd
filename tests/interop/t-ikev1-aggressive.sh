#!/bin/bash
# IKEv1 Aggressive Mode (PSK) + Quick Mode between tsunagid (site-a) and strongSwan
# (site-b), both with `version = 1` and `aggressive = yes` (strongSwan also needs
# charon.i_dont_care_about_security_and_use_aggressive_mode_psk, set in
# conf/strongswan.conf). At first no NAT in the path, but strongSwan's kernel-libipsec
# fakes one with its NAT-D, so AM3 floats to 4500 and ESP goes in UDP. Checked each time:
# strongSwan lists an established IKEv1 SA (and logs it as Aggressive Mode),
# tsunagictl shows the SA in QM_IDLE, SPIs agree, pings pass both ways, tsunagid's
# terminate removes the SAs at strongSwan too.
#   initiator:  tsunagid initiates, strongSwan answers (it takes any peer, by identity).
#   responder:  strongSwan initiates, tsunagid answers with remote_addrs = %any: the
#               connection and the PSK are found by strongSwan's identity in AM1.
#   pfs:        tsunagid initiates with PFS (MODP 2048 in Quick Mode).
#   psk-mismatch-r: strongSwan initiates with another PSK: it rejects AM2 (HASH_R),
#               tsunagid waits for AM3 in vain and says so naming AG_INIT_EXCH.
#   psk-mismatch-i: tsunagid initiates with another PSK: it logs "HASH_R invalid:
#               probable pre-shared key mismatch with" strongSwan's address.
#   nat:        tsunagid behind a masquerading NAT initiates: it sees the NAT in AM2's
#               NAT-D, floats to 4500 for AM3; strongSwan sees it at the NAT's port 4500.
. "$(dirname "$0")/lib.sh"
iop_begin ikev1-aggressive
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build direct

aggr() { sed -i 's/^\(\t*\)version = 2$/\1version = 1\n\1aggressive = yes/' "$1"; }

# setup CASE ESP ROLE [PSK]: both gateways configured and started; strongSwan initiates
# when ROLE is responder (tsunagid's role).
setup() {
	local esp=$2 role=$3 psk=${4:-$PSK_DEFAULT} swan_args=() tsu_args=(START_ACTION=start)
	if [ "$role" = responder ]; then
		swan_args=(REMOTE_ADDRS=$SITE_A_OUT)
		tsu_args=(START_ACTION=none REMOTE_ADDRS=%any)
	fi
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b IKE_PROPOSALS=aes256-sha256-modp2048 \
		ESP_PROPOSALS="$esp" PSK="$psk" "${swan_args[@]}"
	aggr "$(swan_dir "$NS_SB")/swanctl.conf"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	tsu_conf "$NS_SA" a IKE_PROPOSALS=aes256-sha256-modp2048 ESP_PROPOSALS="$esp" \
		"${tsu_args[@]}"
	aggr "$(tsu_dir "$NS_SA")/tsunagi.conf"
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	[ "$role" = responder ] && swan_initiate "$NS_SB" net
	return 0
}

run() {
	local c=$1 s t
	setup "$@"
	swan_wait_sa "$NS_SB" 20 || iop_fail "$c: strongSwan (site-b) has no SA within 20 s"
	iop_wait 10 sa_pair_ok "$NS_SB" "$NS_SA" ||
		iop_fail "$c: no single matching ISAKMP+CHILD SA on both ends: $(tsu_child_spis "$NS_SA") / $(swan_child_spis "$NS_SB")"
	s=$(swan_list_sas "$NS_SB")
	grep -q "IKEv1" <<<"$s" || iop_fail "$c: strongSwan does not list an IKEv1 SA: $(head -2 <<<"$s")"
	grep -q "ESTABLISHED" <<<"$s" || iop_fail "$c: strongSwan's IKEv1 SA is not ESTABLISHED"
	grep -q "TUNNEL-in-UDP" <<<"$s" || iop_fail "$c: strongSwan's CHILD_SA is not in UDP"
	if [ "$c" = nat ]; then
		grep -q "$NAT_OUT\[4500\]" <<<"$s" ||
			iop_fail "$c: strongSwan does not see tsunagid at $NAT_OUT port 4500: $(head -3 <<<"$s")"
		tsu_log_has "$NS_SA" "NAT detected \(local" ||
			iop_fail "$c: tsunagid's log does not say it is behind a NAT"
	fi
	swan_log_has "$NS_SB" "(initiating|received) Aggressive Mode|AGGRESSIVE" ||
		iop_fail "$c: strongSwan's log shows no Aggressive Mode exchange"
	t=$(tsu_list_sas "$NS_SA")
	grep -q "IKEv1" <<<"$t" || iop_fail "$c: tsunagictl does not show an IKEv1 SA: $(head -2 <<<"$t")"
	grep -q "QM_IDLE" <<<"$t" || iop_fail "$c: tsunagictl does not show QM_IDLE: $(head -2 <<<"$t")"
	tsu_log_has "$NS_SA" "ISAKMP SA s2s\[[0-9]+\].* established .*IKEv1 Aggressive Mode" ||
		iop_fail "$c: tsunagid's log shows no ISAKMP SA established by Aggressive Mode"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "$c: tsunagid created no TUN device"
	iop_ping "$NS_HA" $HOST_B 5 || iop_fail "$c: host-a cannot ping host-b"
	iop_ping "$NS_HB" $HOST_A 3 || iop_fail "$c: host-b cannot ping host-a"
	tsu_alive "$NS_SA" || iop_fail "$c: tsunagid died"
	iop_note "$c: up with $(tsu_child_spis "$NS_SA")"
	tsu_ctl "$NS_SA" --terminate --ike s2s >/dev/null 2>&1
	iop_wait 10 sa_none "$NS_SB" "$NS_SA" ||
		iop_fail "$c: after tsunagid's terminate: $(swan_ike_count "$NS_SB") SAs at strongSwan, $(tsu_ike_count "$NS_SA") at tsunagid"
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

run initiator aes128-sha256 initiator
run responder aes128-sha256 responder
run pfs aes128-sha256-modp2048 initiator

# PSK mismatch, strongSwan initiating: it finds HASH_R wrong and sends no AM3;
# tsunagid gives up on AM3 naming its state and the likely cause.
setup psk-mismatch-r aes128-sha256 responder not-the-same-key-0123456789
iop_wait 20 tsu_log_has "$NS_SA" "no valid AM3 \(PSK or policy mismatch at the initiator\) in AG_INIT_EXCH" ||
	iop_fail "psk-mismatch-r: tsunagid's log does not say that AM3 never came in AG_INIT_EXCH"
swan_log_has "$NS_SB" "calculated HASH does not match HASH payload" ||
	iop_fail "psk-mismatch-r: strongSwan's log shows no HASH mismatch"
[ "$(tsu_child_count "$NS_SA")" = 0 ] || iop_fail "psk-mismatch-r: tsunagid has a CHILD_SA"
tsu_alive "$NS_SA" || iop_fail "psk-mismatch-r: tsunagid died"
iop_stop_gateways "$NS_SA" "$NS_SB"

# PSK mismatch, tsunagid initiating: HASH_R of AM2 is wrong, said with the peer.
setup psk-mismatch-i aes128-sha256 initiator not-the-same-key-0123456789
iop_wait 15 tsu_log_has "$NS_SA" "HASH_R invalid: probable pre-shared key mismatch with $SITE_B_OUT" ||
	iop_fail "psk-mismatch-i: tsunagid's log does not name a probable PSK mismatch with $SITE_B_OUT"
[ "$(tsu_child_count "$NS_SA")" = 0 ] || iop_fail "psk-mismatch-i: tsunagid has a CHILD_SA"
tsu_alive "$NS_SA" || iop_fail "psk-mismatch-i: tsunagid died"
iop_stop_gateways "$NS_SA" "$NS_SB"

# With a NAT in the path (site-a behind a masquerading NAT), tsunagid initiating: the
# NAT-D in AM2 shows it, AM3 floats to 4500, strongSwan sees tsunagid at the NAT.
topo_destroy
topo_build nat
run nat aes128-sha256 initiator
iop_pass
