#!/bin/bash
# IKEv2 fragmentation (RFC 7383) with strongSwan, both roles, without NAT: both ends
# have a small fragment_size (strongSwan's charon.fragment_size, tsunagi's
# tsunagi { fragment_size }), and IKE_AUTH (several ESP proposals,
# three subnets a side) is larger, so both sides split it and reassemble the other's. The tunnel comes up
# and pings pass; both logs and tsunagid's counters show fragments each way.
. "$(dirname "$0")/lib.sh"
iop_begin ikev2-frag
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl

FRAG_SIZE=300
topo_build direct
# More subnets a side: they make the selectors longer (each gateway has an address
# in its own, where charon takes the source of the routes it installs).
TS_A="$NET_A,10.91.0.0/24,10.93.0.0/24"
TS_B="$NET_B,10.92.0.0/24,10.94.0.0/24"
addr "$NS_SA" in0 10.91.0.1/24; addr "$NS_SA" in0 10.93.0.1/24
addr "$NS_SB" in0 10.92.0.1/24; addr "$NS_SB" in0 10.94.0.1/24
ESP="aes256gcm16,aes128gcm16,aes256-sha256,aes128-sha256,aes128-sha1"

swan_prepare "$NS_SB"
swan_charon_add "$NS_SB" "fragment_size = $FRAG_SIZE"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b LOCAL_TS="$TS_B" REMOTE_TS="$TS_A" \
	ESP_PROPOSALS="$ESP"
conf_conn_add "$(swan_dir "$NS_SB")/swanctl.conf" "fragmentation = yes"
swan_start "$NS_SB"; swan_load "$NS_SB"

tsu_frag_conf() {
	tsu_conf "$NS_SA" a LOCAL_TS="$TS_A" REMOTE_TS="$TS_B" ESP_PROPOSALS="$ESP" "$@"
	conf_conn_add "$(tsu_dir "$NS_SA")/tsunagi.conf" "fragmentation = yes"
	tsu_daemon_add "$NS_SA" "fragment_size = $FRAG_SIZE" "log {" "	enc = 2" "}"
}

# mark: where both logs and the counters stand before a round.
mark() {
	SWAN_LINE=$(wc -l <"$(swan_dir "$NS_SB")/charon.log")
	TSU_LINE=$(wc -l <"$(tsu_dir "$NS_SA")/tsunagid.log")
	REASM=$(tsu_counter "$NS_SA" ike-fragments-reassembled)
	DROPPED=$(tsu_counter "$NS_SA" ike-fragments-dropped)
}
since_mark() {	# since_mark swan|tsu REGEX
	local f
	case $1 in
	swan) f=$(swan_dir "$NS_SB")/charon.log; tail -n +$((SWAN_LINE + 1)) "$f" ;;
	tsu) f=$(tsu_dir "$NS_SA")/tsunagid.log; tail -n +$((TSU_LINE + 1)) "$f" ;;
	esac | grep -Eaq "$2"
}

# fragments_both_ways WHAT: since the mark, each side split its IKE_AUTH message and
# put the other's back together.
fragments_both_ways() {
	local what=$1 n
	since_mark swan "splitting IKE message .* into [0-9]+ fragments" ||
		iop_fail "$what: strongSwan did not fragment"
	since_mark swan "reassembled fragmented IKE message" ||
		iop_fail "$what: strongSwan reassembled nothing from tsunagid"
	since_mark tsu "splitting IKE_AUTH (request|response) 1 .* into [0-9]+ fragments" ||
		iop_fail "$what: tsunagid did not fragment its IKE_AUTH"
	since_mark tsu "IKE_AUTH (request|response) 1 reassembled from [0-9]+ fragments" ||
		iop_fail "$what: tsunagid reassembled nothing from strongSwan"
	n=$(tsu_counter "$NS_SA" ike-fragments-reassembled)
	[ "$n" -gt "$REASM" ] || iop_fail "$what: ike-fragments-reassembled stayed at $n"
	n=$(tsu_counter "$NS_SA" ike-fragments-dropped)
	[ "$n" = "$DROPPED" ] || iop_fail "$what: tsunagid dropped $((n - DROPPED)) fragments"
}

# 1. tsunagid at site-a initiates.
tsu_frag_conf START_ACTION=start
SWAN_LINE=0 TSU_LINE=0 REASM=0 DROPPED=0
tsu_start "$NS_SA"
swan_wait_sa "$NS_SB" 20 || iop_fail "initiator: strongSwan (site-b) has no SA within 20 s"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "tsunagid created no TUN device"
iop_ping "$NS_HA" $HOST_B 5 || iop_fail "initiator: host-a cannot ping host-b"
fragments_both_ways initiator

# 2. strongSwan initiates to tsunagid.
tsu_ctl "$NS_SA" --terminate --ike s2s >/dev/null 2>&1
iop_wait 10 eval '! swan_list_sas "$NS_SB" | grep -q ESTABLISHED' ||
	iop_fail "terminate: strongSwan still has the SA"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b LOCAL_TS="$TS_B" REMOTE_TS="$TS_A" \
	ESP_PROPOSALS="$ESP" REMOTE_ADDRS=$SITE_A_OUT
conf_conn_add "$(swan_dir "$NS_SB")/swanctl.conf" "fragmentation = yes"
swan_load "$NS_SB"
tsu_frag_conf START_ACTION=none
tsu_reload "$NS_SA" || iop_fail "tsunagid did not reload"
mark
swan_initiate "$NS_SB" net
swan_wait_sa "$NS_SB" 20 || iop_fail "responder: strongSwan (site-b) has no SA within 20 s"
iop_ping "$NS_HB" $HOST_A 5 || iop_fail "responder: host-b cannot ping host-a"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "responder: host-a cannot ping host-b"
tsu_list_sas "$NS_SA" | grep -q "responder" ||
	iop_fail "responder: tsunagictl does not show tsunagid as responder"
fragments_both_ways responder
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass
