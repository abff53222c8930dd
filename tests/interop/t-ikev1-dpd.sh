#!/bin/bash
# IKEv1 dead peer detection (RFC 3706) between tsunagid (site-a, initiating) and
# strongSwan (site-b), both `version = 1`, no NAT:
#   clear    tsunagid with dpd_delay 2s, dpd_timeout 4s: a live strongSwan answers its
#            R-U-THEREs and the SAs stay; strongSwan killed (SIGKILL, no DELETE):
#            within dpd_delay + dpd_timeout (+ 1 s slack) tsunagid logs that the peer
#            does not answer, lists no SA and its SAD holds no ESP SA;
#   restart  the same with dpd_action = restart: tsunagid initiates again at once and
#            keeps trying (keyingtries = 0); a new strongSwan comes up (IKE kept from
#            it by nft in its namespace until its connection is loaded) and the
#            tunnel is back;
#   answer   strongSwan with dpd_delay 2s, dpd_timeout 4s: tsunagid answers its
#            R-U-THEREs (R-U-THERE-ACK in charon's log) and strongSwan keeps the SAs.
. "$(dirname "$0")/lib.sh"
iop_begin ikev1-dpd
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
topo_build direct
DELAY=2 TIMEOUT=4 SLACK=1

v1() { sed -i 's/^\tversion = 2$/\tversion = 1/; s/^\t\tversion = 2$/\t\tversion = 1/' "$1"; }
ms_now() { date +%s%3N; }

# up TSU_CONN TSU_CHILD SWAN_CONN: the pair, tsunagid initiating, with these extra lines
# (';'-separated) in tsunagid's connection and child and strongSwan's connection.
up() {
	local sf tf IFS_OLD=$IFS
	swan_prepare "$NS_SB"
	swan_fast_retransmit "$NS_SB"
	sf="$(swan_dir "$NS_SB")/swanctl.conf"
	s2s_conf "$sf" b IKE_PROPOSALS=aes256-sha256-modp2048 ESP_PROPOSALS=aes128-sha256
	v1 "$sf"
	IFS=';'
	[ -n "$3" ] && conf_conn_add "$sf" $3
	IFS=$IFS_OLD
	swan_start "$NS_SB"; swan_load "$NS_SB"
	tsu_conf "$NS_SA" a START_ACTION=start IKE_PROPOSALS=aes256-sha256-modp2048 \
		ESP_PROPOSALS=aes128-sha256
	tf="$(tsu_dir "$NS_SA")/tsunagi.conf"
	v1 "$tf"
	IFS=';'
	[ -n "$1" ] && conf_conn_add "$tf" $1
	[ -n "$2" ] && conf_child_add "$tf" $2
	IFS=$IFS_OLD
	tsu_fast_conf "$NS_SA"
	tsu_start "$NS_SA"
	iop_wait 15 sa_pair_ok "$NS_SB" "$NS_SA" ||
		iop_fail "$CASE: no single matching ISAKMP+CHILD SA on both ends"
	tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "$CASE: no TUN device"
	PING_WAIT=5 iop_ping "$NS_HA" $HOST_B 1 || iop_fail "$CASE: no ping through the tunnel"
}

tsu_gone() { [ "$(tsu_ike_count "$NS_SA")" = 0 ] && [ "$(tsu_child_count "$NS_SA")" = 0 ]; }

# kill_swan_and_wait: strongSwan dies; tsunagid must notice within the bound.
kill_swan_and_wait() {
	local limit=$((DELAY + TIMEOUT + SLACK)) t0 took
	# A DPD round with the live peer first: answered, the SAs stay.
	sleep $((DELAY + 1))
	sa_pair_ok "$NS_SB" "$NS_SA" || iop_fail "$CASE: the SAs did not survive DPD with a live peer"
	tsu_log_has "$NS_SA" "sending DPD R-U-THERE" || iop_fail "$CASE: tsunagid sent no R-U-THERE"
	swan_log_has "$NS_SB" "N\(DPD_ACK\)" || iop_fail "$CASE: strongSwan sent no R-U-THERE-ACK"
	iop_kill_pid "${IOP_SWAN_PID[$NS_SB]}" || iop_fail "$CASE: could not kill charon"
	t0=$(ms_now)
	iop_wait $((limit + 2)) tsu_log_has "$NS_SA" "no DPD R-U-THERE-ACK" ||
		iop_fail "$CASE: tsunagid did not declare the peer dead within $((limit + 2)) s"
	took=$(( $(ms_now) - t0 ))
	echo "    $CASE: tsunagid declared the dead peer after $took ms" >&2
	[ $took -le $((limit * 1000)) ] ||
		iop_fail "$CASE: tsunagid took $took ms (limit ${limit}s: dpd_delay ${DELAY}s + dpd_timeout ${TIMEOUT}s + ${SLACK}s)"
}

# CASES=REGEX runs only the cases whose name matches.
want() { CASE=$1; [ -z "${CASES:-}" ] || [[ $1 =~ $CASES ]]; }

if want clear; then
	up "dpd_delay = ${DELAY}s;dpd_timeout = ${TIMEOUT}s" "dpd_action = clear" ""
	kill_swan_and_wait
	iop_wait 2 tsu_gone || iop_fail "$CASE: tsunagid still lists an SA: $(tsu_list_sas "$NS_SA" | head -3 | tr '\n' ' ')"
	grep -q "mode=tunnel" <<<"$(tsu_ctl "$NS_SA" --sad 2>&1)" &&
		iop_fail "$CASE: tsunagid's SAD still holds ESP SAs"
	tsu_log_has "$NS_SA" "re-initiating" && iop_fail "$CASE: dpd_action = clear re-initiated"
	tsu_alive "$NS_SA" || iop_fail "$CASE: tsunagid died"
	iop_stop_gateways "$NS_SA" "$NS_SB"
fi

if want restart; then
	up "dpd_delay = ${DELAY}s;dpd_timeout = ${TIMEOUT}s;keyingtries = 0" "dpd_action = restart" ""
	kill_swan_and_wait
	iop_wait 2 tsu_log_has "$NS_SA" "dpd_action=restart: re-initiating" ||
		iop_fail "$CASE: tsunagid did not re-initiate"
	# Until its connection is loaded, a new charon answers NO_PROPOSAL_CHOSEN: IKE is
	# kept from it (in its own namespace) until then.
	ip netns exec "$NS_SB" nft "add table inet iop_hold; add chain inet iop_hold hold { type filter hook input priority 0; }; add rule inet iop_hold hold udp dport { 500, 4500 } drop" ||
		iop_fail "$CASE: nft failed"
	swan_start "$NS_SB"; swan_load "$NS_SB"
	ip netns exec "$NS_SB" nft delete table inet iop_hold
	iop_wait 20 sa_pair_ok "$NS_SB" "$NS_SA" ||
		iop_fail "$CASE: no single matching ISAKMP+CHILD SA with the new strongSwan: tsunagid $(tsu_child_spis "$NS_SA" | tr '\n' ' ')/ strongSwan $(swan_child_spis "$NS_SB" | tr '\n' ' ')"
	PING_WAIT=5 iop_ping "$NS_HA" $HOST_B 3 || iop_fail "$CASE: no ping after the restart"
	tsu_alive "$NS_SA" || iop_fail "$CASE: tsunagid died"
	iop_stop_gateways "$NS_SA" "$NS_SB"
fi

if want answer; then
	up "" "" "dpd_delay = ${DELAY}s;dpd_timeout = ${TIMEOUT}s"
	sleep $((DELAY + TIMEOUT + 2))
	swan_log_has "$NS_SB" "generating INFORMATIONAL_V1 request [0-9]+ \[ HASH N\(DPD\) \]" ||
		iop_fail "$CASE: strongSwan sent no R-U-THERE"
	swan_log_has "$NS_SB" "parsed INFORMATIONAL_V1 request [0-9]+ \[ HASH N\(DPD_ACK\) \]" ||
		iop_fail "$CASE: tsunagid did not answer strongSwan's R-U-THERE"
	sa_pair_ok "$NS_SB" "$NS_SA" ||
		iop_fail "$CASE: the SAs did not survive strongSwan's DPD (strongSwan $(swan_ike_count "$NS_SB"), tsunagid $(tsu_ike_count "$NS_SA"))"
	tsu_alive "$NS_SA" || iop_fail "$CASE: tsunagid died"
	iop_stop_gateways "$NS_SA" "$NS_SB"
fi
iop_pass
