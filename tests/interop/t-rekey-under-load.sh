#!/bin/bash
# Rekeying while host-a pings host-b every 50 ms (tsunagid at site-a behind the NAT,
# strongSwan at site-b): (a) tsunagid rekeys the CHILD_SA, (b) strongSwan does, (c)
# tsunagid rekeys the IKE SA, (d) strongSwan does. Each rekey happens in the middle of
# 60 pings; at most one may be lost, and afterwards both ends show exactly one IKE SA
# and one CHILD_SA, agreeing on SPIs that are new (the old ones gone).
. "$(dirname "$0")/lib.sh"
iop_begin rekey-under-load
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build nat

pair_start_tsu_initiator
iop_wait 15 sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "no single matching IKE+CHILD SA on both ends"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "no TUN device"
iop_ping "$NS_HA" $HOST_B 2 || iop_fail "no ping through the tunnel"

# under_load CASE KIND(child|ike) CMD...: CMD runs 1 s into 60 pings, 50 ms apart.
under_load() {
	local c=$1 kind=$2 old lost out="$IOP_WORK/ping-$1.out"
	shift 2
	if [ "$kind" = child ]; then old=$(tsu_child_spis "$NS_SA"); else old=$(swan_ike_spis "$NS_SB"); fi
	local nosa0 swdrop0
	nosa0=$(tsu_counter "$NS_SA" esp-no-sa)
	swdrop0=$(grep -c "does not belong to an installed SA" "$(swan_dir "$NS_SB")/charon.log")
	ping_start "$NS_HA" $HOST_B 60 0.05 "$out"
	sleep 1
	"$@" >"$IOP_WORK/rekey-$c.out" 2>&1 || iop_fail "$c: $* failed: $(tail -2 "$IOP_WORK/rekey-$c.out")"
	wait "$PING_PID"
	lost=$(ping_lost "$out")
	if [ "$kind" = child ]; then
		iop_wait 8 child_rekeyed "$NS_SB" "$NS_SA" "$old" ||
			iop_fail "$c: not exactly one CHILD_SA with new SPIs on both ends (old $old): tsunagid $(tsu_child_spis "$NS_SA" | tr '\n' ' ')/ strongSwan $(swan_child_spis "$NS_SB" | tr '\n' ' ')"
	else
		iop_wait 8 ike_rekeyed "$NS_SB" "$NS_SA" "$old" ||
			iop_fail "$c: not exactly one IKE SA with new SPIs on both ends (old $old): tsunagid $(tsu_ike_spis "$NS_SA" | tr '\n' ' ')/ strongSwan $(swan_ike_spis "$NS_SB" | tr '\n' ' '); CHILD_SAs $(tsu_child_count "$NS_SA")/$(swan_child_count "$NS_SB")"
	fi
	# Where a lost packet went: ESP for an SPI the receiver no longer (or not yet) has.
	local drops
	drops="tsunagid esp-no-sa +$(($(tsu_counter "$NS_SA" esp-no-sa) - nosa0)), strongSwan 'not an installed SA' +$(($(grep -c "does not belong to an installed SA" "$(swan_dir "$NS_SB")/charon.log") - swdrop0))"
	echo "    $c: $lost of 60 pings lost ($drops)" >&2
	[ "$lost" -le 1 ] || iop_fail "$c: $lost of 60 pings lost during the rekey (at most 1 allowed; $drops): $(grep -E 'transmitted|icmp_seq.*(Unreachable|timeout)' "$out" | head -3 | tr '\n' ' ')"
	tsu_alive "$NS_SA" || iop_fail "$c: tsunagid died"
}

under_load child-by-tsunagid child tsu_ctl "$NS_SA" --rekey --child net
under_load child-by-strongswan child swan_ctl "$NS_SB" --rekey --child net
under_load ike-by-tsunagid ike tsu_ctl "$NS_SA" --rekey --ike s2s
under_load ike-by-strongswan ike swan_ctl "$NS_SB" --rekey --ike s2s
iop_ping "$NS_HA" $HOST_B 2 || iop_fail "no ping after the rekeys"
iop_pass
