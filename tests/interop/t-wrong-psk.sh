#!/bin/bash
# A pre-shared key mismatch between tsunagid and strongSwan, both ways round:
#   responder: strongSwan (site-a) initiates to tsunagid (site-b), which must answer
#              AUTHENTICATION_FAILED and log that the PSK did not match;
#   initiator: tsunagid (site-a) initiates to strongSwan (site-b), which answers
#              AUTHENTICATION_FAILED; tsunagid must log a probable PSK mismatch.
# In both, no CHILD_SA exists on either side and host-a cannot reach host-b.
. "$(dirname "$0")/lib.sh"
iop_begin wrong-psk
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
PSK_MISMATCH_RE='(pre-?shared key|psk|shared key).*(mismatch|did not match|does not match|wrong|invalid)|(mismatch|wrong|invalid).*(pre-?shared key|psk)'

topo_build nat

# no_child_anywhere SWAN_NS TSU_NS CASE: the common checks once AUTH has failed.
no_child_anywhere() {
	swan_child_up "$1" && iop_fail "$3: strongSwan installed a CHILD_SA despite the wrong PSK"
	tsu_child_up "$2" && iop_fail "$3: tsunagid installed a CHILD_SA despite the wrong PSK"
	ip netns exec "$NS_HA" ping -c1 -W1 $HOST_B >/dev/null 2>&1 &&
		iop_fail "$3: host-a reaches host-b despite the wrong PSK"
	tsu_alive "$2" || iop_fail "$3: tsunagid died"
}

# Case 1: tsunagid responds and verifies strongSwan's AUTH.
tsu_conf "$NS_SB" b
tsu_start "$NS_SB"
swan_prepare "$NS_SA"
s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a PSK="not-the-right-key"
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" net
iop_wait 15 swan_log_has "$NS_SA" "received AUTHENTICATION_FAILED notify" ||
	iop_fail "responder: strongSwan never received AUTHENTICATION_FAILED from tsunagid"
no_child_anywhere "$NS_SA" "$NS_SB" responder
tsu_log_has "$NS_SB" "$PSK_MISMATCH_RE" ||
	iop_fail "responder: tsunagid's log does not say that the pre-shared key did not match"
iop_stop_gateways "$NS_SA" "$NS_SB"

# Case 2: tsunagid initiates; strongSwan rejects its AUTH.
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"; swan_load "$NS_SB"
tsu_conf "$NS_SA" a START_ACTION=start PSK="not-the-right-key"
tsu_start "$NS_SA"
iop_wait 15 swan_log_has "$NS_SB" "MAC mismatched" ||
	iop_fail "initiator: strongSwan never checked (and rejected) tsunagid's AUTH"
iop_wait 10 tsu_log_has "$NS_SA" AUTHENTICATION_FAILED ||
	iop_fail "initiator: tsunagid's log does not mention the AUTHENTICATION_FAILED notify"
no_child_anywhere "$NS_SB" "$NS_SA" initiator
tsu_log_has "$NS_SA" "$PSK_MISMATCH_RE" ||
	iop_fail "initiator: tsunagid's log does not say the pre-shared key probably did not match"
iop_pass
