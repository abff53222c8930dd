#!/bin/bash
# scenario-timeout: 240
# IKEv1 renewal under continuous ping (host-a -> host-b every 50 ms, at most one lost),
# tsunagid at site-a and strongSwan at site-b, both `version = 1`, no NAT (both float to
# 4500 as in t-ikev1-main). Short lifetimes on one side make that side renew:
#   p2-by-tsunagid   tsunagid's CHILD_SA: rekey_time 8s, life_time 12s: a new Quick Mode
#                    at 8 s, the old SA deleted at 12 s;
#   p2-by-strongswan strongSwan initiates with rekey_time 8s, life_time 12s (tsunagid
#                    takes the shorter lifetime and would renew only at 10.8 s);
#   p2-responder-shorter  strongSwan initiates with its long default lifetimes,
#                    tsunagid answers with rekey_time 8s, life_time 12s (and a Phase 1
#                    lifetime of 66 s): strongSwan takes RESPONDER-LIFETIME without
#                    acting on it, so tsunagid renews from its side;
#   p1-by-tsunagid   tsunagid's ISAKMP SA: rekey_time 8s, over_time 6s: a new Main Mode,
#                    the CHILD_SA moves onto it (same SPIs), the old ISAKMP SA deleted;
#   p1-by-strongswan strongSwan initiates with reauth_time 8s, over_time 3s (its IKEv1
#                    reauthentication: the same from its side; it deletes the old
#                    ISAKMP SA only at its end, 11 s, and tsunagid must not renew that
#                    one meanwhile).
# After each: exactly one ISAKMP SA and one CHILD_SA on both ends, agreeing on SPIs (new
# ones for Phase 2, new cookies and the same CHILD_SA SPIs for Phase 1).
. "$(dirname "$0")/lib.sh"
iop_begin ikev1-rekey
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build direct

v1() { sed -i 's/^\tversion = 2$/\tversion = 1/; s/^\t\tversion = 2$/\t\tversion = 1/' "$1"; }

# up INITIATOR TSU_CONN TSU_CHILD SWAN_CONN SWAN_CHILD: the pair with these extra lines
# (';'-separated) in each side's connection and child; INITIATOR is tsu or swan.
up() {
	local who=$1 sargs=() tstart=start sf tf IFS_OLD=$IFS
	if [ "$who" = swan ]; then sargs=(REMOTE_ADDRS=$SITE_A_OUT); tstart=none; fi
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	sf="$(swan_dir "$NS_SB")/swanctl.conf"
	s2s_conf "$sf" b IKE_PROPOSALS=aes256-sha256-modp2048 ESP_PROPOSALS=aes128-sha256 "${sargs[@]}"
	v1 "$sf"
	IFS=';'
	[ -n "$4" ] && conf_conn_add "$sf" $4
	[ -n "$5" ] && conf_child_add "$sf" $5
	IFS=$IFS_OLD
	swan_start "$NS_SB"; swan_load "$NS_SB"
	tsu_conf "$NS_SA" a START_ACTION=$tstart IKE_PROPOSALS=aes256-sha256-modp2048 \
		ESP_PROPOSALS=aes128-sha256
	tf="$(tsu_dir "$NS_SA")/tsunagi.conf"
	v1 "$tf"
	IFS=';'
	[ -n "$2" ] && conf_conn_add "$tf" $2
	[ -n "$3" ] && conf_child_add "$tf" $3
	IFS=$IFS_OLD
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	[ "$who" = swan ] && swan_initiate "$NS_SB" net
	iop_wait 15 sa_pair_ok "$NS_SB" "$NS_SA" ||
		iop_fail "$CASE: no single matching ISAKMP+CHILD SA on both ends: $(tsu_child_spis "$NS_SA") / $(swan_child_spis "$NS_SB")"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "$CASE: no TUN device"
	PING_WAIT=5 iop_ping "$NS_HA" $HOST_B 1 || iop_fail "$CASE: no ping through the tunnel"
}

# pings COUNT: COUNT pings 50 ms apart (in the background: PING_PID, $IOP_WORK/ping-CASE.out).
pings() { ping_start "$NS_HA" $HOST_B "$1" 0.05 "$IOP_WORK/ping-$CASE.out"; }

# lost_ok: the pings ended with at most one lost.
lost_ok() {
	wait "$PING_PID"
	local lost
	lost=$(ping_lost "$IOP_WORK/ping-$CASE.out")
	echo "    $CASE: $lost pings lost" >&2
	[ "$lost" -le 1 ] || iop_fail "$CASE: $lost pings lost during the renewal (at most 1): $(grep transmitted "$IOP_WORK/ping-$CASE.out")"
	tsu_alive "$NS_SA" || iop_fail "$CASE: tsunagid died"
}

# p2 WHO: Phase 2 renewal by WHO; the old CHILD_SA's SPIs must be gone on both ends.
p2() {
	local old t0
	old=$(tsu_child_spis "$NS_SA")
	pings 300			# 15 s: the renewal at 8 s and the old SA's end at 12 s
	sleep 12.5
	iop_wait 4 child_rekeyed "$NS_SB" "$NS_SA" "$old" ||
		iop_fail "$CASE: not one CHILD_SA with new SPIs on both ends (old $old): tsunagid $(tsu_child_spis "$NS_SA" | tr '\n' ' ')/ strongSwan $(swan_child_spis "$NS_SB" | tr '\n' ' ')"
	lost_ok
}

# p1: Phase 1 renewal: new cookies on both ends, the CHILD_SA's SPIs as they were.
p1() {
	local old_ike old_child
	old_ike=$(swan_ike_spis "$NS_SB")
	old_child=$(tsu_child_spis "$NS_SA")
	pings 260			# 13 s: the renewal at 8 s, the old SA gone by 11 s
	sleep 9
	iop_wait 6 ike_rekeyed "$NS_SB" "$NS_SA" "$old_ike" ||
		iop_fail "$CASE: not one ISAKMP SA with new cookies on both ends (old $old_ike): tsunagid $(tsu_ike_spis "$NS_SA" | tr '\n' ' ')/ strongSwan $(swan_ike_spis "$NS_SB" | tr '\n' ' '); CHILD_SAs $(tsu_child_count "$NS_SA")/$(swan_child_count "$NS_SB")"
	[ "$(tsu_child_spis "$NS_SA")" = "$old_child" ] ||
		iop_fail "$CASE: the CHILD_SA did not move onto the new ISAKMP SA: $old_child before, $(tsu_child_spis "$NS_SA" | tr '\n' ' ') now"
	lost_ok
}

# CASES=REGEX runs only the cases whose name matches.
want() { CASE=$1; [ -z "${CASES:-}" ] || [[ $1 =~ $CASES ]]; }

if want p2-by-tsunagid; then
up tsu "" "rekey_time = 8s;life_time = 12s;rand_time = 0" "" ""
p2
[ "$(grep -c 'initiating Quick Mode' "$(tsu_dir "$NS_SA")/tsunagid.log")" -ge 2 ] ||
	iop_fail "$CASE: tsunagid did not start the renewal"
iop_stop_gateways "$NS_SA" "$NS_SB"
fi

if want p2-by-strongswan; then
up swan "" "rekey_time = 11s;life_time = 60s;rand_time = 0" "" \
	"rekey_time = 8s;life_time = 12s;rand_time = 0s"
p2
tsu_log_has "$NS_SA" "initiating Quick Mode" && iop_fail "$CASE: tsunagid renewed, not strongSwan"
iop_stop_gateways "$NS_SA" "$NS_SB"
fi

if want p2-responder-shorter; then
up swan "rekey_time = 60s" "rekey_time = 8s;life_time = 12s;rand_time = 0" "" ""
iop_wait 3 tsu_log_has "$NS_SA" "sent RESPONDER-LIFETIME 66s" ||
	iop_fail "$CASE: tsunagid sent no RESPONDER-LIFETIME for its shorter ISAKMP SA"
p2
tsu_log_has "$NS_SA" "initiating Quick Mode" || iop_fail "$CASE: tsunagid did not renew its shorter CHILD_SA"
# strongSwan 5.9.8 names it by number: N((24576)).
swan_log_has "$NS_SB" "parsed INFORMATIONAL_V1 request [0-9]+ \[ HASH N\(\(24576\)\) \]" ||
	iop_fail "$CASE: strongSwan could not parse the Informational with RESPONDER-LIFETIME"
swan_log_has "$NS_SB" "parsed QUICK_MODE response [0-9]+ \[ HASH SA No ID ID N\(\(24576\)\) \]" ||
	iop_fail "$CASE: strongSwan got no RESPONDER-LIFETIME in QM2"
iop_stop_gateways "$NS_SA" "$NS_SB"
fi

if want p1-by-tsunagid; then
up tsu "rekey_time = 8s;over_time = 6s;rand_time = 0" "" "" ""
p1
tsu_log_has "$NS_SA" "renewing the ISAKMP SA" || iop_fail "$CASE: tsunagid did not renew"
iop_stop_gateways "$NS_SA" "$NS_SB"
fi

if want p1-by-strongswan; then
up swan "rand_time = 0" "" "reauth_time = 8s;over_time = 3s;rand_time = 0s" ""
p1
tsu_log_has "$NS_SA" "renewing the ISAKMP SA" && iop_fail "$CASE: tsunagid renewed, not strongSwan"
tsu_log_has "$NS_SA" "takes over 1 CHILD_SA" || iop_fail "$CASE: tsunagid did not move the CHILD_SA"
iop_stop_gateways "$NS_SA" "$NS_SB"
fi
iop_pass
