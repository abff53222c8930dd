#!/bin/bash
# IKEv1 negative cases against strongSwan 5.9.8, both `version = 1`, on one topology
# (site-a behind the NAT), each with tsunagid responding (strongSwan at site-a
# initiates) and initiating (to strongSwan at site-b). Every case must end with the
# right notify and the right log line on both sides, no CHILD_SA anywhere, no ping
# through, and tsunagid alive:
#   psk       another PSK: MM5 does not decrypt. Neither side sends a notify (strongSwan
#             drops what it cannot decrypt, so does tsunagid); tsunagid names a
#             "probable pre-shared key mismatch with" the peer either way.
#   proposal  no common IKE proposal: NO_PROPOSAL_CHOSEN in Main Mode.
#   esp       no common ESP proposal: NO_PROPOSAL_CHOSEN in Quick Mode (the ISAKMP SA
#             stays).
#   pfs       PFS groups differ (MODP 2048 and ECP 256): NO_PROPOSAL_CHOSEN in Quick Mode.
#   id        tsunagid expects another identity: as responder it answers MM5 with a
#             protected AUTHENTICATION_FAILED; as initiator (the responder is
#             established after MM6) it deletes the ISAKMP SA with a protected DELETE.
#   peer-id   strongSwan expects another identity: the mirror image.
#   selector  tsunagid's remote_ts differs: INVALID_ID_INFORMATION in Quick Mode.
#   no-answer nobody at site-b: tsunagid gives up in MM_WAIT_MSG2 with "peer not
#             responding or proposal rejected".
#   lost-sa   tsunagid (start_action = trap) restarts and so loses the ISAKMP SA
#             strongSwan still has: strongSwan's next Quick Mode is "IKE message from
#             PEER has no SA" at tsunagid (logged at a bounded rate); strongSwan gives up
#             on that SA, and when traffic resumes tsunagid's trap negotiates a new one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin ikev1-negative
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

topo_build nat
v1() { sed -i "s/^\(\t*\)version = 2\$/\1version = 1/" "$1"; }
BASE=(IKE_PROPOSALS=aes128-sha256-modp2048 ESP_PROPOSALS=aes128-sha256)
failed=() ncases=0

# logs_have tsu|swan NS RES: each of the regexes (grep -E), separated by " && ", is in
# that daemon's log.
logs_have() {
	local who=$1 ns=$2 res=$3 re
	while [ -n "$res" ]; do
		re=${res%% && *}
		[ "$re" = "$res" ] && res="" || res=${res#* && }
		"${who}_log_has" "$ns" "$re" || return 1
	done
}

# neg NAME ROLE "TSU KEY=VALUE..." "SWAN KEY=VALUE..." TSU_RES SWAN_RES: one case; the
# regexes must show up in tsunagid's and strongSwan's log within 15 s.
neg() {
	local name=$1 role=$2 tsu_re=$5 swan_re=$6 sw ts ss tt start=$SECONDS why="" bg=""
	local -a tsu_args swan_args
	read -r -a tsu_args <<<"$3"
	read -r -a swan_args <<<"$4"
	ncases=$((ncases + 1))
	if [ "$role" = responder ]; then sw=$NS_SA ts=$NS_SB ss=a tt=b; else sw=$NS_SB ts=$NS_SA ss=b tt=a; fi
	swan_prepare "$sw"
	swan_fast_retransmit "$sw"
	s2s_conf "$(swan_dir "$sw")/swanctl.conf" $ss "${BASE[@]}" "${swan_args[@]}"
	v1 "$(swan_dir "$sw")/swanctl.conf"
	tsu_conf "$ts" $tt "${BASE[@]}" "${tsu_args[@]}"
	v1 "$(tsu_dir "$ts")/tsunagi.conf"
	tsu_fast_conf "$ts"
	swan_start "$sw"; swan_load "$sw"
	tsu_start "$ts"
	if [ "$role" = responder ]; then
		swan_initiate "$sw" net
	else
		tsu_ctl "$ts" --initiate --child net --timeout 10 >>"$(tsu_dir "$ts")/initiate.out" 2>&1 &
		bg=$!
	fi
	if ! iop_wait 15 logs_have tsu "$ts" "$tsu_re"; then
		why="tsunagid's log lacks /$tsu_re/"
	elif ! iop_wait 15 logs_have swan "$sw" "$swan_re"; then
		why="strongSwan's log lacks /$swan_re/"
	elif swan_child_up "$sw"; then
		why="strongSwan installed a CHILD_SA"
	elif tsu_child_up "$ts"; then
		why="tsunagid installed a CHILD_SA"
	elif ip netns exec "$NS_HA" ping -c1 -W1 $HOST_B >/dev/null 2>&1; then
		why="host-a reaches host-b"
	fi
	tsu_alive "$ts" || why="${why:+$why; }tsunagid died"
	if [ -z "$why" ]; then
		echo "    $name ($role): ok ($((SECONDS - start)) s)" >&2
	else
		echo "    $name ($role): FAILED: $why" >&2
		failed+=("$name/$role")
	fi
	iop_stop_gateways "$NS_SA" "$NS_SB"
	[ -n "$bg" ] && wait "$bg" 2>/dev/null	# its tsunagictl, ended with the daemon
	return 0
}

WRONG_PSK="PSK=not-the-same-key-0123456789"
PSK_RE="probable pre-shared key mismatch with"

neg psk responder "" "$WRONG_PSK" \
	"$PSK_RE $SITE_A_SEEN" "giving up after [0-9]+ retransmits"
neg psk initiator "$WRONG_PSK" "" \
	"no answer to MM5: $PSK_RE $SITE_B_OUT" "decryption failed"

neg proposal responder "" "IKE_PROPOSALS=aes256-sha1-ecp256" \
	"no acceptable proposal .*sending NO_PROPOSAL_CHOSEN" "received NO_PROPOSAL_CHOSEN error notify"
neg proposal initiator "" "IKE_PROPOSALS=aes256-sha1-ecp256" \
	"received NO_PROPOSAL_CHOSEN \(14\) notify in MM_WAIT_MSG2" "no proposal found"

neg esp responder "" "ESP_PROPOSALS=aes256-sha1" \
	"CHILD_SA 'net' proposal mismatch && no acceptable Quick Mode proposal; sending NO_PROPOSAL_CHOSEN" \
	"received NO_PROPOSAL_CHOSEN error notify"
neg esp initiator "" "ESP_PROPOSALS=aes256-sha1" \
	"Quick Mode for 'net' failed: peer sent NO_PROPOSAL_CHOSEN" \
	"no matching proposal found, sending NO_PROPOSAL_CHOSEN"

neg pfs responder "ESP_PROPOSALS=aes128-sha256-modp2048" "ESP_PROPOSALS=aes128-sha256-ecp256" \
	"proposal mismatch: .*DH group ECP_256 not configured" "received NO_PROPOSAL_CHOSEN error notify"
neg pfs initiator "ESP_PROPOSALS=aes128-sha256-modp2048" "ESP_PROPOSALS=aes128-sha256-ecp256" \
	"Quick Mode for 'net' failed: peer sent NO_PROPOSAL_CHOSEN" \
	"no matching proposal found, sending NO_PROPOSAL_CHOSEN"

neg id responder "REMOTE_ID=someone-else.example.net" "" \
	"peer identity site-a.example.net does not match the configured 'someone-else.example.net'" \
	"received AUTHENTICATION_FAILED error notify"
neg id initiator "REMOTE_ID=someone-else.example.net" "" \
	"peer identity site-b.example.net does not match && sent DELETE for the ISAKMP SA" \
	"received DELETE for IKE_SA"
neg peer-id responder "" "REMOTE_ID=someone-else.example.net" \
	"received DELETE for the ISAKMP SA" "IDir 'site-b.example.net' does not match"
neg peer-id initiator "" "REMOTE_ID=someone-else.example.net" \
	"received AUTHENTICATION_FAILED \(24\) notify in MM_WAIT_MSG6" "no peer config found"

neg selector responder "REMOTE_TS=10.99.0.0/24" "" \
	"no acceptable Quick Mode proposal; sending INVALID_ID_INFORMATION" \
	"received INVALID_ID_INFORMATION error notify"
neg selector initiator "REMOTE_TS=10.99.0.0/24" "" \
	"Quick Mode for 'net' failed: peer sent INVALID_ID_INFORMATION" \
	"no matching CHILD_SA config found"

# no-answer: tsunagid alone, initiating to site-b where no IKE daemon runs.
ncases=$((ncases + 1))
start=$SECONDS
tsu_conf "$NS_SA" a "${BASE[@]}"
v1 "$(tsu_dir "$NS_SA")/tsunagi.conf"
tsu_fast_conf "$NS_SA"
tsu_start "$NS_SA"
tsu_ctl "$NS_SA" --initiate --child net --timeout 10 >/dev/null 2>&1
if ! iop_wait 15 tsu_log_has "$NS_SA" "peer not responding or proposal rejected in MM_WAIT_MSG2: giving up"; then
	echo "    no-answer (initiator): FAILED: tsunagid's log does not say 'peer not responding or proposal rejected'" >&2
	failed+=(no-answer/initiator)
elif ! tsu_alive "$NS_SA" || ! xt_tsu_no_sa "$NS_SA"; then
	echo "    no-answer (initiator): FAILED: tsunagid died or kept an SA" >&2
	failed+=(no-answer/initiator)
else
	echo "    no-answer (initiator): ok ($((SECONDS - start)) s)" >&2
fi
iop_stop_gateways "$NS_SA" "$NS_SB"

# lost-sa: tsunagid at site-a with start_action = trap, strongSwan answering at site-b.
lost_sa() {
	local t
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b "${BASE[@]}"
	v1 "$(swan_dir "$NS_SB")/swanctl.conf"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	tsu_conf "$NS_SA" a "${BASE[@]}" START_ACTION=trap
	v1 "$(tsu_dir "$NS_SA")/tsunagi.conf"
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || { why="no TUN device"; return 1; }
	iop_wait 10 eval 'ip netns exec "$NS_HA" ping -c1 -W1 $HOST_B' ||
		{ why="no ping through the trapped SA"; return 1; }
	iop_wait 10 sa_pair_ok "$NS_SB" "$NS_SA" || { why="not one matching SA from the trap"; return 1; }
	# tsunagid restarts: the ISAKMP SA is gone on its side only.
	iop_kill_pid "${IOP_TSU_PID[$NS_SA]}" || { why="could not kill tsunagid"; return 1; }
	t="$(tsu_dir "$NS_SA")/tsunagid.log"
	mv "$t" "$t.1"
	tsu_start "$NS_SA"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || { why="no TUN device after the restart"; return 1; }
	swan_ctl "$NS_SB" --rekey --child net >/dev/null 2>&1
	iop_wait 10 tsu_log_has "$NS_SA" "IKE message from $SITE_B_OUT\[[0-9]+\] has no SA \(IKEv1 QUICK_MODE\)" ||
		{ why="tsunagid did not log the Quick Mode for the lost SA as 'has no SA'"; return 1; }
	iop_wait 15 swan_log_has "$NS_SB" "giving up after [0-9]+ retransmits" ||
		{ why="strongSwan did not give up on the lost SA"; return 1; }
	[ "$(xt_tsu_log_count "$NS_SA" "has no SA")" -le 20 ] || { why="'has no SA' logged without bound"; return 1; }
	# Traffic resumes: the trap brings a new SA up.
	iop_wait 15 eval 'ip netns exec "$NS_HA" ping -c1 -W1 $HOST_B' ||
		{ why="traffic did not bring the tunnel back"; return 1; }
	iop_wait 10 sa_pair_ok "$NS_SB" "$NS_SA" || { why="not one matching SA after the recovery"; return 1; }
	return 0
}
start=$SECONDS why=""
ncases=$((ncases + 1))
lost_sa
tsu_alive "$NS_SA" || why="${why:+$why; }tsunagid died"
if [ -z "$why" ]; then
	echo "    lost-sa (initiator): ok ($((SECONDS - start)) s)" >&2
else
	echo "    lost-sa (initiator): FAILED: $why" >&2
	failed+=(lost-sa/initiator)
fi
iop_stop_gateways "$NS_SA" "$NS_SB"

[ ${#failed[@]} = 0 ] || iop_fail "${#failed[@]} of $ncases cases failed: ${failed[*]}"
iop_pass
